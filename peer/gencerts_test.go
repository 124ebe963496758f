package peer_test

// These tests run scripts/gen-certs.sh, the tool behind `make certs`, and
// check that its files are what the peer package expects to load: a P-256
// CA with pathlen 0 and leaves usable as both TLS client and TLS server.
// They need the openssl command line tool and skip without it.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"peerchat/peer"
)

const genCertsScript = "../scripts/gen-certs.sh"

// genCertsHosts is what the tests pass with -H: one IP and one DNS name.
const genCertsHosts = "192.0.2.7 chat.example"

// needOpenSSL skips the test if openssl is not installed, with the reason
// in the output. Under CI (CI set), where .ci/run installs it, a missing
// openssl fails instead: a skip there would pass untested.
func needOpenSSL(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("openssl not on PATH; .ci/run should have installed it")
		}
		t.Skip("openssl not on PATH; install it (apt-get install openssl) to run this test")
	}
}

// runGenCerts runs the script with args and extra environment variables and
// returns its combined output and exit code.
func runGenCerts(t *testing.T, env []string, args ...string) (out string, code int) {
	t.Helper()
	script, err := filepath.Abs(genCertsScript)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), script, args...)
	cmd.Env = append(os.Environ(), env...) // later entries win
	b, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(b), 0
	case errors.As(err, &exit):
		return string(b), exit.ExitCode()
	default:
		t.Fatalf("running %s: %v", genCertsScript, err)
		return "", -1
	}
}

// mustGenCerts runs the script and fails the test unless it exits 0.
func mustGenCerts(t *testing.T, args ...string) string {
	t.Helper()
	out, code := runGenCerts(t, nil, args...)
	if code != 0 {
		t.Fatalf("gen-certs.sh %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s: no PEM CERTIFICATE block", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

func opensslVerify(t *testing.T, dir, name string) {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "openssl", "verify",
		"-CAfile", filepath.Join(dir, "ca.crt"), filepath.Join(dir, name+".crt")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), ": OK") {
		t.Errorf("openssl verify %s.crt: %v\n%s", name, err, out)
	}
}

func wantP256(t *testing.T, c *x509.Certificate) {
	t.Helper()
	k, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		t.Errorf("%s: public key is %T, want ECDSA P-256", c.Subject.CommonName, c.PublicKey)
	}
	if c.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Errorf("%s: signature algorithm %v, want ECDSA with SHA-256", c.Subject.CommonName, c.SignatureAlgorithm)
	}
}

func wantValidFor(t *testing.T, c *x509.Certificate, days int) {
	t.Helper()
	want := time.Now().Add(time.Duration(days) * 24 * time.Hour)
	if d := c.NotAfter.Sub(want); d < -24*time.Hour || d > 24*time.Hour {
		t.Errorf("%s: NotAfter %v, want about %d days from now (%v)", c.Subject.CommonName, c.NotAfter, days, want)
	}
}

// thisHostname is the machine name the script adds as a SAN, or "" if it
// would not add one.
func thisHostname() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	h = strings.ToLower(h)
	label := `[a-z0-9]([a-z0-9-]*[a-z0-9])?`
	if !regexp.MustCompile(`^` + label + `(\.` + label + `)*$`).MatchString(h) {
		return ""
	}
	return h
}

func TestGenCertsIssue(t *testing.T) {
	needOpenSSL(t)
	dir := t.TempDir()
	out := mustGenCerts(t, "-d", dir, "-H", genCertsHosts, "alice", "bob")
	for _, want := range []string{
		"wrote " + filepath.Join(dir, "alice.crt"),
		"valid until",
		"next:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	ca := readCert(t, filepath.Join(dir, "ca.crt"))

	t.Run("files", func(t *testing.T) {
		for _, name := range []string{"ca", "alice", "bob"} {
			for _, ext := range []string{".crt", ".key"} {
				fi, err := os.Stat(filepath.Join(dir, name+ext))
				if err != nil {
					t.Error(err)
					continue
				}
				if ext == ".key" && fi.Mode().Perm() != 0o600 {
					t.Errorf("%s%s has mode %v, want 0600", name, ext, fi.Mode().Perm())
				}
			}
		}
		if _, err := os.Stat(filepath.Join(dir, ".gen-certs.tmp")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("temp directory left behind: %v", err)
		}
	})

	t.Run("openssl verify", func(t *testing.T) {
		opensslVerify(t, dir, "alice")
		opensslVerify(t, dir, "bob")
	})

	caChecks := []struct {
		name  string
		check func(t *testing.T, c *x509.Certificate)
	}{
		{"key and signature", wantP256},
		{"CA with pathlen 0", func(t *testing.T, c *x509.Certificate) {
			if !c.BasicConstraintsValid || !c.IsCA || c.MaxPathLen != 0 || !c.MaxPathLenZero {
				t.Errorf("IsCA=%v MaxPathLen=%d MaxPathLenZero=%v, want a CA with pathlen 0",
					c.IsCA, c.MaxPathLen, c.MaxPathLenZero)
			}
		}},
		{"key usage", func(t *testing.T, c *x509.Certificate) {
			if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign; c.KeyUsage != want {
				t.Errorf("KeyUsage %b, want %b", c.KeyUsage, want)
			}
		}},
		{"self-signed with key id", func(t *testing.T, c *x509.Certificate) {
			if len(c.SubjectKeyId) == 0 {
				t.Error("no subject key identifier")
			}
			if err := c.CheckSignatureFrom(c); err != nil {
				t.Error(err)
			}
		}},
		{"common name", func(t *testing.T, c *x509.Certificate) {
			if !strings.HasPrefix(c.Subject.CommonName, "peerchat local CA") {
				t.Errorf("CN %q, want peerchat local CA (...)", c.Subject.CommonName)
			}
		}},
		{"valid 10 years", func(t *testing.T, c *x509.Certificate) { wantValidFor(t, c, 3650) }},
	}
	for _, tc := range caChecks {
		t.Run("ca.crt/"+tc.name, func(t *testing.T) { tc.check(t, ca) })
	}

	wantDNS := []string{"localhost", "chat.example"}
	if h := thisHostname(); h != "" {
		wantDNS = append(wantDNS, h)
	}
	leafChecks := []struct {
		name  string
		check func(t *testing.T, name string, c *x509.Certificate)
	}{
		{"key and signature", func(t *testing.T, _ string, c *x509.Certificate) { wantP256(t, c) }},
		{"common name", func(t *testing.T, name string, c *x509.Certificate) {
			if c.Subject.CommonName != name {
				t.Errorf("CN %q, want %q", c.Subject.CommonName, name)
			}
		}},
		{"DNS names", func(t *testing.T, name string, c *x509.Certificate) {
			for _, want := range append([]string{name}, wantDNS...) {
				if !slices.Contains(c.DNSNames, want) {
					t.Errorf("DNSNames %q lack %q", c.DNSNames, want)
				}
			}
		}},
		{"IP addresses", func(t *testing.T, _ string, c *x509.Certificate) {
			for _, want := range []string{"127.0.0.1", "::1", "192.0.2.7"} {
				if !slices.ContainsFunc(c.IPAddresses, net.ParseIP(want).Equal) {
					t.Errorf("IPAddresses %v lack %s", c.IPAddresses, want)
				}
			}
		}},
		{"usages", func(t *testing.T, _ string, c *x509.Certificate) {
			if !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageServerAuth) ||
				!slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
				t.Errorf("ExtKeyUsage %v, want both ServerAuth and ClientAuth", c.ExtKeyUsage)
			}
			if c.KeyUsage != x509.KeyUsageDigitalSignature {
				t.Errorf("KeyUsage %b, want digitalSignature only", c.KeyUsage)
			}
			if !c.BasicConstraintsValid || c.IsCA {
				t.Errorf("BasicConstraintsValid=%v IsCA=%v, want a non-CA", c.BasicConstraintsValid, c.IsCA)
			}
		}},
		{"valid 365 days", func(t *testing.T, _ string, c *x509.Certificate) { wantValidFor(t, c, 365) }},
		{"128-bit serial", func(t *testing.T, _ string, c *x509.Certificate) {
			// Random, so fewer than 65 bits happens with probability 2^-64.
			if n := c.SerialNumber; n.Sign() <= 0 || n.BitLen() > 128 || n.BitLen() <= 64 {
				t.Errorf("serial %x, want a positive random 128-bit number", n)
			}
		}},
		{"issued by the CA", func(t *testing.T, _ string, c *x509.Certificate) {
			if err := c.CheckSignatureFrom(ca); err != nil {
				t.Error(err)
			}
			if !bytes.Equal(c.AuthorityKeyId, ca.SubjectKeyId) {
				t.Errorf("AuthorityKeyId %x, want the CA's key id %x", c.AuthorityKeyId, ca.SubjectKeyId)
			}
		}},
		{"verifies for both roles", func(t *testing.T, name string, c *x509.Certificate) {
			roots := x509.NewCertPool()
			roots.AddCert(ca)
			for _, host := range []string{name, "localhost", "chat.example", "127.0.0.1", "::1", "192.0.2.7"} {
				for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
					opts := x509.VerifyOptions{Roots: roots, DNSName: host, KeyUsages: []x509.ExtKeyUsage{usage}}
					if _, err := c.Verify(opts); err != nil {
						t.Errorf("Verify(%s, usage %v): %v", host, usage, err)
					}
				}
			}
		}},
		{"key matches", func(t *testing.T, name string, _ *x509.Certificate) {
			if _, err := tls.LoadX509KeyPair(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")); err != nil {
				t.Error(err)
			}
		}},
	}
	for _, name := range []string{"alice", "bob"} {
		c := readCert(t, filepath.Join(dir, name+".crt"))
		for _, tc := range leafChecks {
			t.Run(name+".crt/"+tc.name, func(t *testing.T) { tc.check(t, name, c) })
		}
	}
	if a, b := readCert(t, filepath.Join(dir, "alice.crt")), readCert(t, filepath.Join(dir, "bob.crt")); a.SerialNumber.Cmp(b.SerialNumber) == 0 {
		t.Errorf("alice and bob share serial %x", a.SerialNumber)
	}
}

// TestGenCertsRerun runs the script again over its own output: the CA is
// never replaced, peers only with -f.
func TestGenCertsRerun(t *testing.T) {
	needOpenSSL(t)
	dir := t.TempDir()
	mustGenCerts(t, "-d", dir, "-H", genCertsHosts, "alice", "bob")

	files := []string{"ca.crt", "ca.key", "alice.crt", "alice.key", "bob.crt", "bob.key"}
	snapshot := func(t *testing.T) map[string][]byte {
		t.Helper()
		m := make(map[string][]byte)
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			m[f] = b
		}
		return m
	}

	// The steps run in order on the same directory.
	steps := []struct {
		name    string
		args    []string
		changed []string // files that must differ afterwards; all others must not
		wantOut []string
	}{
		{
			name: "same arguments keep everything",
			args: []string{"-H", genCertsHosts, "alice", "bob"},
			wantOut: []string{
				"kept " + filepath.Join(dir, "alice.crt") + " (exists; -f to replace)",
				"kept " + filepath.Join(dir, "bob.crt") + " (exists; -f to replace)",
			},
		},
		{
			name:    "without -f a peer is kept",
			args:    []string{"alice"},
			wantOut: []string{"kept " + filepath.Join(dir, "alice.crt")},
		},
		{
			name:    "-f replaces the peer but not the CA",
			args:    []string{"-f", "-H", genCertsHosts, "alice"},
			changed: []string{"alice.crt", "alice.key"},
			wantOut: []string{"wrote " + filepath.Join(dir, "alice.crt")},
		},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			before := snapshot(t)
			out := mustGenCerts(t, append([]string{"-d", dir}, step.args...)...)
			for _, want := range step.wantOut {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			after := snapshot(t)
			for _, f := range files {
				if changed := !bytes.Equal(before[f], after[f]); changed != slices.Contains(step.changed, f) {
					t.Errorf("%s changed: %v, want %v", f, changed, !changed)
				}
			}
			opensslVerify(t, dir, "alice")
			opensslVerify(t, dir, "bob")
		})
	}
}

// TestGenCertsArguments covers usage, defaults and every refusal: a refused
// run must say why, exit non-zero and write nothing.
func TestGenCertsArguments(t *testing.T) {
	needOpenSSL(t)

	// fakeOpenSSL puts an openssl that reports version v first on PATH.
	fakeOpenSSL := func(v string) func(t *testing.T) []string {
		return func(t *testing.T) []string {
			bin := t.TempDir()
			script := "#!/bin/sh\necho '" + v + "'\n"
			if err := os.WriteFile(filepath.Join(bin, "openssl"), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			return []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")}
		}
	}
	writeFile := func(name string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, name), []byte("placeholder\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}

	tests := []struct {
		name      string
		args      []string // "DIR" stands for the test's directory
		setup     func(t *testing.T, dir string)
		env       func(t *testing.T) []string
		wantCode  int // 0 for success, -1 for any failure
		wantOut   string
		wantFiles []string // exactly the files in DIR afterwards
	}{
		{
			name:     "help",
			args:     []string{"-d", "DIR", "-h"},
			wantCode: 0,
			wantOut:  "usage:",
		},
		{
			name:      "default names are alice and bob",
			args:      []string{"-d", "DIR"},
			wantCode:  0,
			wantOut:   "next:",
			wantFiles: []string{"alice.crt", "alice.key", "bob.crt", "bob.key", "ca.crt", "ca.key"},
		},
		{
			name:      "explicit issue subcommand",
			args:      []string{"issue", "-d", "DIR", "carol"},
			wantCode:  0,
			wantOut:   "wrote ",
			wantFiles: []string{"ca.crt", "ca.key", "carol.crt", "carol.key"},
		},
		{
			name:     "path in name",
			args:     []string{"-d", "DIR", "../x"},
			wantCode: -1,
			wantOut:  "invalid name '../x'",
		},
		{
			name:     "option after names",
			args:     []string{"-d", "DIR", "alice", "-f"},
			wantCode: -1,
			wantOut:  "invalid name '-f'",
		},
		{
			name:     "name of the CA",
			args:     []string{"-d", "DIR", "ca"},
			wantCode: -1,
			wantOut:  "invalid name 'ca'",
		},
		{
			name:     "name too long",
			args:     []string{"-d", "DIR", strings.Repeat("a", 65)},
			wantCode: -1,
			wantOut:  "longer than 64 characters",
		},
		{
			name:     "host with port",
			args:     []string{"-d", "DIR", "-H", "chat.example:7000", "alice"},
			wantCode: -1,
			wantOut:  "invalid host 'chat.example:7000'",
		},
		{
			name:     "bad IPv4 address",
			args:     []string{"-d", "DIR", "-H", "192.0.2.300", "alice"},
			wantCode: -1,
			wantOut:  "invalid host '192.0.2.300'",
		},
		{
			name:     "unknown option",
			args:     []string{"-d", "DIR", "-x", "alice"},
			wantCode: 2,
			wantOut:  "unknown option -x",
		},
		{
			name:     "subcommand not there yet",
			args:     []string{"revoke", "-d", "DIR", "alice"},
			wantCode: 2,
			wantOut:  "'revoke' is not implemented yet",
		},
		{
			name:      "ca.crt without ca.key",
			args:      []string{"-d", "DIR", "alice"},
			setup:     writeFile("ca.crt"),
			wantCode:  -1,
			wantOut:   "ca.key is missing but",
			wantFiles: []string{"ca.crt"},
		},
		{
			name:      "ca.key without ca.crt",
			args:      []string{"-d", "DIR", "alice"},
			setup:     writeFile("ca.key"),
			wantCode:  -1,
			wantOut:   "ca.crt is missing but",
			wantFiles: []string{"ca.key"},
		},
		{
			name:     "openssl missing",
			args:     []string{"-d", "DIR", "alice"},
			env:      func(t *testing.T) []string { return []string{"PATH=" + t.TempDir()} },
			wantCode: -1,
			wantOut:  "gen-certs: openssl not found; install it",
		},
		{
			name:     "openssl too old",
			args:     []string{"-d", "DIR", "alice"},
			env:      fakeOpenSSL("OpenSSL 1.0.2k-fips  26 Jan 2017"),
			wantCode: -1,
			wantOut:  "openssl is too old (OpenSSL 1.0.2k-fips",
		},
		{
			name:     "libressl too old",
			args:     []string{"-d", "DIR", "alice"},
			env:      fakeOpenSSL("LibreSSL 2.8.3"),
			wantCode: -1,
			wantOut:  "openssl is too old (LibreSSL 2.8.3",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			var env []string
			if tc.env != nil {
				env = tc.env(t)
			}
			args := slices.Clone(tc.args)
			for i := range args {
				if args[i] == "DIR" {
					args[i] = dir
				}
			}
			out, code := runGenCerts(t, env, args...)
			switch {
			case tc.wantCode == -1 && code == 0:
				t.Errorf("exit 0, want failure\n%s", out)
			case tc.wantCode != -1 && code != tc.wantCode:
				t.Errorf("exit %d, want %d\n%s", code, tc.wantCode, out)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("output lacks %q:\n%s", tc.wantOut, out)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range entries {
				got = append(got, e.Name())
			}
			if !slices.Equal(got, tc.wantFiles) {
				t.Errorf("files in DIR: %q, want %q", got, tc.wantFiles)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "x.crt")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("x.crt written outside DIR (%v)", err)
			}
		})
	}
}

// TestGenCertsWorkInARealHandshake chats over the files the script wrote:
// both identities load, each verifies the other, a message goes through.
func TestGenCertsWorkInARealHandshake(t *testing.T) {
	needOpenSSL(t)
	dir := t.TempDir()
	mustGenCerts(t, "-d", dir, "alice", "bob")
	load := func(name string) *peer.Identity {
		id, err := peer.LoadIdentity(peer.FilesFor(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return id
	}
	ls, ds := connect(t, peer.Config{Identity: load("alice")}, peer.Config{Identity: load("bob"), Peer: "alice"})
	if _, err := ds.Send("made by make certs"); err != nil {
		t.Fatal(err)
	}
	if m := nextMessage(t, ls); m.Text != "made by make certs" || m.From != "bob" {
		t.Fatalf("alice got %+v", m)
	}
	if ls.Peer().Fingerprint != peer.Fingerprint(readCert(t, dir+"/bob.crt")) {
		t.Error("alice sees a fingerprint other than bob.crt's")
	}
}
