package scripts_test

// These tests run scripts/gen-certs.sh, the tool behind `make certs`, and
// check that its files are what the peer package expects to load: a P-256
// CA with pathlen 0 and leaves usable as both TLS client and TLS server,
// whether issued in one go or requested on one machine and signed on
// another, and a CRL that crypto/x509 parses and checks against the CA.
// They need the openssl command line tool and skip without it.

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
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
	"peerchat/peer/peertest"
)

const genCertsScript = "gen-certs.sh"

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

// readPEM returns the DER of the first PEM block in path, which must be
// of type typ.
func readPEM(t *testing.T, path, typ string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != typ {
		t.Fatalf("%s: no PEM %s block", path, typ)
	}
	return block.Bytes
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(readPEM(t, path, "CERTIFICATE"))
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
			// Exactly: the peer name, localhost and -H; never the
			// machine's host name, which was not given.
			if want := []string{name, "localhost", "chat.example"}; !slices.Equal(c.DNSNames, want) {
				t.Errorf("DNSNames %q, want %q", c.DNSNames, want)
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

	issue := func(name string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) { mustGenCerts(t, "-d", dir, name) }
	}

	tests := []struct {
		name      string
		args      []string // "DIR" stands for the test's directory, also as a prefix
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
			wantOut:  `-H "$(hostname)" for this machine's name`,
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
			name:     "subcommand word as a name",
			args:     []string{"-d", "DIR", "alice", "sign"},
			wantCode: -1,
			wantOut:  "invalid name 'sign': it is a gen-certs subcommand",
		},
		{
			name:      "options after the subcommand",
			args:      []string{"request", "-d", "DIR", "bob"},
			wantCode:  0,
			wantOut:   "send bob.csr to whoever holds the CA",
			wantFiles: []string{"bob.csr", "bob.key"},
		},
		{
			name:     "request takes no -H",
			args:     []string{"-d", "DIR", "-H", genCertsHosts, "request", "bob"},
			wantCode: 2,
			wantOut:  "-H does not apply to request",
		},
		{
			name:     "request takes no -F",
			args:     []string{"-d", "DIR", "-F", strings.Repeat("AB", 32), "request", "bob"},
			wantCode: 2,
			wantOut:  "-F does not apply to request",
		},
		{
			name:     "issue takes no -F",
			args:     []string{"-d", "DIR", "-F", strings.Repeat("AB", 32), "bob"},
			wantCode: 2,
			wantOut:  "-F does not apply to issue",
		},
		{
			name:     "request takes one name",
			args:     []string{"-d", "DIR", "request", "bob", "carol"},
			wantCode: 2,
			wantOut:  "request takes one NAME",
		},
		{
			name:     "request with a bad name",
			args:     []string{"-d", "DIR", "request", "../x"},
			wantCode: -1,
			wantOut:  "invalid name '../x'",
		},
		{
			name:      "request keeps an existing key",
			args:      []string{"-d", "DIR", "request", "bob"},
			setup:     writeFile("bob.key"),
			wantCode:  -1,
			wantOut:   "bob.key exists; refusing to replace it (-f makes a new key",
			wantFiles: []string{"bob.key"},
		},
		{
			name:     "sign without a request",
			args:     []string{"-d", "DIR", "sign"},
			wantCode: 2,
			wantOut:  "sign takes one request",
		},
		{
			name:     "sign a missing file",
			args:     []string{"-d", "DIR", "sign", "DIR/bob.csr"},
			wantCode: -1,
			wantOut:  "bob.csr: no such file",
		},
		{
			name:      "sign without a CA",
			args:      []string{"-d", "DIR", "sign", "DIR/bob.csr"},
			setup:     writeFile("bob.csr"),
			wantCode:  -1,
			wantOut:   "no CA in ",
			wantFiles: []string{"bob.csr"},
		},
		{
			name:     "revoke without a CA",
			args:     []string{"-d", "DIR", "revoke", "alice"},
			wantCode: -1,
			wantOut:  "no CA in ",
		},
		{
			name:      "revoke an unknown name",
			args:      []string{"-d", "DIR", "revoke", "dave"},
			setup:     issue("alice"),
			wantCode:  -1,
			wantOut:   "no certificate ",
			wantFiles: []string{"alice.crt", "alice.key", "ca.crt", "ca.key"},
		},
		{
			name: "revoke a certificate from another CA",
			args: []string{"-d", "DIR", "revoke", "eve"},
			setup: func(t *testing.T, dir string) {
				issue("alice")(t, dir)
				other := t.TempDir()
				issue("eve")(t, other)
				copyFile(t, filepath.Join(other, "eve.crt"), filepath.Join(dir, "eve.crt"))
			},
			wantCode:  -1,
			wantOut:   "eve.crt was not signed by the CA in ",
			wantFiles: []string{"alice.crt", "alice.key", "ca.crt", "ca.key", "eve.crt"},
		},
		{
			name: "revocation list of another CA",
			args: []string{"-d", "DIR", "crl"},
			setup: func(t *testing.T, dir string) {
				issue("alice")(t, dir)
				other := t.TempDir()
				issue("eve")(t, other)
				mustGenCerts(t, "-d", other, "crl")
				copyFile(t, filepath.Join(other, "crl.pem"), filepath.Join(dir, "crl.pem"))
			},
			wantCode:  -1,
			wantOut:   "belong to another CA; move them away",
			wantFiles: []string{"alice.crt", "alice.key", "ca.crt", "ca.key", "crl.pem"},
		},
		{
			name:     "revoke takes no -f",
			args:     []string{"-d", "DIR", "-f", "revoke", "alice"},
			wantCode: 2,
			wantOut:  "-f does not apply to revoke",
		},
		{
			name:     "crl without a CA",
			args:     []string{"-d", "DIR", "crl"},
			wantCode: -1,
			wantOut:  "no CA in ",
		},
		{
			name:     "crl takes no names",
			args:     []string{"-d", "DIR", "crl", "bob"},
			wantCode: 2,
			wantOut:  "crl takes no names",
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
				if rest, ok := strings.CutPrefix(args[i], "DIR"); ok {
					args[i] = dir + rest
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
	ls, ds := peertest.Connect(t, peer.Config{Identity: load("alice")}, peer.Config{Identity: load("bob"), Peer: "alice"})
	if _, err := ds.Send("made by make certs"); err != nil {
		t.Fatal(err)
	}
	if m := peertest.NextMessage(t, ls); m.Text != "made by make certs" || m.From != "bob" {
		t.Fatalf("alice got %+v", m)
	}
	if ls.Peer().Fingerprint != peer.Fingerprint(readCert(t, dir+"/bob.crt")) {
		t.Error("alice sees a fingerprint other than bob.crt's")
	}
}

// ---- request, sign, revoke ----------------------------------------------

// dirFiles lists the names in dir, sorted.
func dirFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// copyFile copies src to dst, as a peer would by mail or USB stick.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func newP256Key(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// makeCSR returns the DER of a certificate request made from tmpl with key.
func makeCSR(t *testing.T, key crypto.Signer, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readCRL(t *testing.T, path string) *x509.RevocationList {
	t.Helper()
	crl, err := x509.ParseRevocationList(readPEM(t, path, "X509 CRL"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return crl
}

// leafProfile is what must not depend on how a peer certificate was made
// (issue mode or request + sign): everything but names, key and serial.
func leafProfile(c *x509.Certificate) string {
	var exts []string
	for _, e := range c.Extensions {
		exts = append(exts, fmt.Sprintf("%v critical=%v", e.Id, e.Critical))
	}
	slices.Sort(exts)
	return fmt.Sprintf("sig=%v key=%v ku=%b eku=%v ca=%v/%v valid=%v issuer=%q exts=%q",
		c.SignatureAlgorithm, c.PublicKeyAlgorithm, c.KeyUsage, c.ExtKeyUsage,
		c.BasicConstraintsValid, c.IsCA, c.NotAfter.Sub(c.NotBefore), c.Issuer.String(), exts)
}

func ipStrings(ips []net.IP) []string {
	var s []string
	for _, ip := range ips {
		s = append(s, ip.String())
	}
	return s
}

// TestGenCertsRequestSign is the two-machine set-up: bob makes his key and
// request at home, the CA's holder signs the request on hers, and neither
// private key ever travels.
func TestGenCertsRequestSign(t *testing.T) {
	needOpenSSL(t)
	caDir, bobDir, mail := t.TempDir(), t.TempDir(), t.TempDir()
	mustGenCerts(t, "-d", caDir, "-H", genCertsHosts, "alice")

	// On bob's machine.
	out := mustGenCerts(t, "-d", bobDir, "request", "bob")
	for _, want := range []string{
		"wrote " + filepath.Join(bobDir, "bob.key"),
		filepath.Join(bobDir, "bob.csr"),
		"send bob.csr to whoever holds the CA (never send bob.key)",
		"read them this fingerprint by voice (phone, in person)",
		"scripts/gen-certs.sh sign -F FINGERPRINT bob.csr",
		"bob.crt and ca.crt: put both in " + bobDir,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("request output lacks %q:\n%s", want, out)
		}
	}
	if got, want := dirFiles(t, bobDir), []string{"bob.csr", "bob.key"}; !slices.Equal(got, want) {
		t.Fatalf("after request, bob has %q, want %q", got, want)
	}
	if fi, err := os.Stat(filepath.Join(bobDir, "bob.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("bob.key: %v, mode %v, want 0600", err, fi.Mode().Perm())
	}
	b, err := os.ReadFile(filepath.Join(bobDir, "bob.csr"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		t.Fatal("bob.csr: no PEM CERTIFICATE REQUEST block")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := csr.CheckSignature(); err != nil {
		t.Errorf("bob.csr: %v", err)
	}
	if k, ok := csr.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() || csr.Subject.String() != "CN=bob" {
		t.Errorf("bob.csr: subject %q, key %T, want CN=bob and ECDSA P-256", csr.Subject, csr.PublicKey)
	}

	fp := printedFingerprint(t, out)

	// bob.csr travels; on the CA's machine, with the fingerprint bob read
	// out on the phone.
	copyFile(t, filepath.Join(bobDir, "bob.csr"), filepath.Join(mail, "bob.csr"))
	out = mustGenCerts(t, "-d", caDir, "-H", genCertsHosts, "sign", "-F", fp, filepath.Join(mail, "bob.csr"))
	for _, want := range []string{
		"it matches the fingerprint given with -F",
		"signed " + filepath.Join(caDir, "bob.crt") + " for bob, valid until",
		"send back " + filepath.Join(caDir, "bob.crt") + " and " + filepath.Join(caDir, "ca.crt"),
		"never send " + filepath.Join(caDir, "ca.key"),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("sign output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ignored the extensions") {
		t.Errorf("sign says it ignored extensions of a request that has none:\n%s", out)
	}
	if got, want := dirFiles(t, caDir), []string{"alice.crt", "alice.key", "bob.crt", "ca.crt", "ca.key"}; !slices.Equal(got, want) {
		t.Errorf("after sign, the CA's folder has %q, want %q (and never bob.key)", got, want)
	}

	// bob.crt and ca.crt travel back.
	copyFile(t, filepath.Join(caDir, "bob.crt"), filepath.Join(bobDir, "bob.crt"))
	copyFile(t, filepath.Join(caDir, "ca.crt"), filepath.Join(bobDir, "ca.crt"))
	if got, want := dirFiles(t, bobDir), []string{"bob.crt", "bob.csr", "bob.key", "ca.crt"}; !slices.Equal(got, want) {
		t.Errorf("bob ends with %q, want %q (and never ca.key)", got, want)
	}

	ca := readCert(t, filepath.Join(caDir, "ca.crt"))
	alice := readCert(t, filepath.Join(caDir, "alice.crt"))
	bob := readCert(t, filepath.Join(bobDir, "bob.crt"))
	opensslVerify(t, bobDir, "bob")
	wantP256(t, bob)
	wantValidFor(t, bob, 365)
	if got, want := leafProfile(bob), leafProfile(alice); got != want {
		t.Errorf("signed certificate's profile differs from issue mode's:\n got %s\nwant %s", got, want)
	}
	// The CA machine's hostname is not bob's: only NAME, localhost and -H.
	if want := []string{"bob", "localhost", "chat.example"}; !slices.Equal(bob.DNSNames, want) {
		t.Errorf("DNSNames %q, want %q", bob.DNSNames, want)
	}
	if got, want := ipStrings(bob.IPAddresses), []string{"127.0.0.1", "::1", "192.0.2.7"}; !slices.Equal(got, want) {
		t.Errorf("IPAddresses %q, want %q", got, want)
	}
	if err := bob.CheckSignatureFrom(ca); err != nil {
		t.Error(err)
	}
	if !bytes.Equal(bob.AuthorityKeyId, ca.SubjectKeyId) {
		t.Errorf("AuthorityKeyId %x, want the CA's key id %x", bob.AuthorityKeyId, ca.SubjectKeyId)
	}
	if n := bob.SerialNumber; n.Sign() <= 0 || n.BitLen() > 128 || n.BitLen() <= 64 {
		t.Errorf("serial %x, want a positive random 128-bit number", n)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, host := range []string{"bob", "localhost", "chat.example", "127.0.0.1", "::1", "192.0.2.7"} {
		for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := bob.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
				t.Errorf("Verify(%s, usage %v): %v", host, usage, err)
			}
		}
	}

	// And they chat, each from their own folder.
	load := func(dir, name string) *peer.Identity {
		id, err := peer.LoadIdentity(peer.FilesFor(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return id
	}
	ls, ds := peertest.Connect(t, peer.Config{Identity: load(bobDir, "bob")}, peer.Config{Identity: load(caDir, "alice"), Peer: "bob"})
	if _, err := ds.Send("signed, not issued"); err != nil {
		t.Fatal(err)
	}
	if m := peertest.NextMessage(t, ls); m.Text != "signed, not issued" || m.From != "alice" {
		t.Fatalf("bob got %+v", m)
	}
}

// TestGenCertsSign feeds sign requests that are wrong in one way each: a
// refusal must say why and write nothing.
func TestGenCertsSign(t *testing.T) {
	needOpenSSL(t)
	caDir, mail := t.TempDir(), t.TempDir()
	mustGenCerts(t, "-d", caDir, "alice")

	p256 := func(subject pkix.Name) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			return makeCSR(t, newP256Key(t), &x509.CertificateRequest{Subject: subject})
		}
	}
	cn := func(name string) pkix.Name { return pkix.Name{CommonName: name} }
	basicConstraintsCA, err := asn1.Marshal(struct{ IsCA bool }{true})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		csr      func(t *testing.T) []byte // DER
		args     []string                  // before "sign"
		wantOK   bool
		wantOut  string
		wantCert string // name of the certificate written on success
		check    func(t *testing.T, c *x509.Certificate)
	}{
		{
			name: "RSA key",
			csr: func(t *testing.T) []byte {
				k, err := rsa.GenerateKey(rand.Reader, 2048)
				if err != nil {
					t.Fatal(err)
				}
				return makeCSR(t, k, &x509.CertificateRequest{Subject: cn("rsa")})
			},
			wantOut: "has an RSA key; peerchat certificates are for ECDSA P-256 keys only",
		},
		{
			name: "P-384 key",
			csr: func(t *testing.T) []byte {
				k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				return makeCSR(t, k, &x509.CertificateRequest{Subject: cn("p384")})
			},
			wantOut: "has an EC key on curve secp384r1",
		},
		{
			name: "broken signature",
			csr: func(t *testing.T) []byte {
				der := p256(cn("broken"))(t)
				der[len(der)-1] ^= 1 // inside the signature's s
				return der
			},
			wantOut: "does not verify, so it was changed after it was made",
		},
		{
			name: "subject changed after signing",
			csr: func(t *testing.T) []byte {
				der := p256(cn("mallet"))(t)
				i := bytes.Index(der, []byte("mallet"))
				if i < 0 {
					t.Fatal("CN not found in the request")
				}
				der[i] = 'w' // "wallet": a valid name, a wrong signature
				return der
			},
			wantOut: "does not verify, so it was changed after it was made",
		},
		{
			name:    "path in the CN",
			csr:     p256(cn("../x")),
			wantOut: "invalid name '../x' (the CN of ",
		},
		{
			name:    "CN of the CA",
			csr:     p256(cn("ca")),
			wantOut: "invalid name 'ca'",
		},
		{
			name:    "subcommand as CN",
			csr:     p256(cn("revoke")),
			wantOut: "invalid name 'revoke'",
		},
		{
			name:    "more than a CN",
			csr:     p256(pkix.Name{CommonName: "dave", Organization: []string{"evil"}}),
			wantOut: "it must be CN=NAME and nothing else",
		},
		{
			name:    "no subject",
			csr:     p256(pkix.Name{}),
			wantOut: "has no subject",
		},
		{
			name: "a certificate, not a request",
			csr: func(t *testing.T) []byte {
				return readCert(t, filepath.Join(caDir, "alice.crt")).Raw
			},
			wantOut: "is not a certificate request",
		},
		{
			name: "requested extensions are ignored",
			csr: func(t *testing.T) []byte {
				return makeCSR(t, newP256Key(t), &x509.CertificateRequest{
					Subject:     cn("erin"),
					DNSNames:    []string{"evil.example"},
					IPAddresses: []net.IP{net.ParseIP("203.0.113.9")},
					ExtraExtensions: []pkix.Extension{
						{Id: asn1.ObjectIdentifier{2, 5, 29, 19}, Critical: true, Value: basicConstraintsCA},
					},
				})
			},
			args:     []string{"-H", genCertsHosts},
			wantOK:   true,
			wantOut:  "ignored the extensions requested in ",
			wantCert: "erin",
			check: func(t *testing.T, c *x509.Certificate) {
				if c.IsCA || !c.BasicConstraintsValid {
					t.Errorf("IsCA=%v BasicConstraintsValid=%v, want a non-CA", c.IsCA, c.BasicConstraintsValid)
				}
				if want := []string{"erin", "localhost", "chat.example"}; !slices.Equal(c.DNSNames, want) {
					t.Errorf("DNSNames %q, want %q", c.DNSNames, want)
				}
				if got, want := ipStrings(c.IPAddresses), []string{"127.0.0.1", "::1", "192.0.2.7"}; !slices.Equal(got, want) {
					t.Errorf("IPAddresses %q, want %q", got, want)
				}
			},
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			csrPath := filepath.Join(mail, fmt.Sprintf("request%d.csr", i))
			typ := "CERTIFICATE REQUEST"
			writePEM(t, csrPath, typ, tc.csr(t))
			before := dirFiles(t, caDir)
			args := append([]string{"-d", caDir}, tc.args...)
			out, code := runGenCerts(t, nil, append(args, "sign", csrPath)...)
			if (code == 0) != tc.wantOK {
				t.Errorf("exit %d, want success %v\n%s", code, tc.wantOK, out)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("output lacks %q:\n%s", tc.wantOut, out)
			}
			want := before
			if tc.wantCert != "" {
				want = append(slices.Clone(before), tc.wantCert+".crt")
				slices.Sort(want)
			}
			if got := dirFiles(t, caDir); !slices.Equal(got, want) {
				t.Errorf("files in the CA's folder: %q, want %q", got, want)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(caDir), "x.crt")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("x.crt written outside the CA's folder (%v)", err)
			}
			if tc.check != nil && !t.Failed() {
				opensslVerify(t, caDir, tc.wantCert)
				tc.check(t, readCert(t, filepath.Join(caDir, tc.wantCert+".crt")))
			}
		})
	}
}

// TestGenCertsSignAgain covers what is already there: a valid certificate
// is replaced only with -f (or once revoked), a key only with -f.
func TestGenCertsSignAgain(t *testing.T) {
	needOpenSSL(t)
	caDir, bobDir := t.TempDir(), t.TempDir()
	mustGenCerts(t, "-d", caDir, "alice")
	mustGenCerts(t, "-d", bobDir, "request", "bob")
	csr := filepath.Join(bobDir, "bob.csr")
	mustGenCerts(t, "-d", caDir, "sign", csr)

	files := map[string]string{
		"bob.crt": filepath.Join(caDir, "bob.crt"),
		"bob.key": filepath.Join(bobDir, "bob.key"),
		"bob.csr": csr,
	}
	snapshot := func(t *testing.T) map[string][]byte {
		t.Helper()
		m := make(map[string][]byte)
		for f, path := range files {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			m[f] = b
		}
		return m
	}

	// The steps run in order.
	steps := []struct {
		name    string
		args    []string
		wantOK  bool
		wantOut string
		changed []string // files that must differ afterwards; all others must not
	}{
		{
			name:    "sign keeps a valid certificate",
			args:    []string{"-d", caDir, "sign", csr},
			wantOut: "bob.crt exists and is valid until",
		},
		{
			name:    "sign -f replaces it",
			args:    []string{"-d", caDir, "-f", "sign", csr},
			wantOK:  true,
			wantOut: "signed " + files["bob.crt"],
			changed: []string{"bob.crt"},
		},
		{
			name:    "request keeps the key",
			args:    []string{"-d", bobDir, "request", "bob"},
			wantOut: "bob.key exists; refusing to replace it",
		},
		{
			name:    "request -f makes a new key",
			args:    []string{"-d", bobDir, "-f", "request", "bob"},
			wantOK:  true,
			wantOut: "bob.crt belongs to the old key",
			changed: []string{"bob.key", "bob.csr"},
		},
		{
			name:    "revoke",
			args:    []string{"-d", caDir, "revoke", "bob"},
			wantOK:  true,
			wantOut: "revoked bob",
		},
		{
			name:    "sign replaces a revoked certificate without -f",
			args:    []string{"-d", caDir, "sign", csr},
			wantOK:  true,
			wantOut: "replacing " + files["bob.crt"] + ": it is revoked",
			changed: []string{"bob.crt"},
		},
	}
	// bob has what came back, as he would.
	copyFile(t, filepath.Join(caDir, "ca.crt"), filepath.Join(bobDir, "ca.crt"))
	copyFile(t, files["bob.crt"], filepath.Join(bobDir, "bob.crt"))
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			before := snapshot(t)
			out, code := runGenCerts(t, nil, step.args...)
			if (code == 0) != step.wantOK {
				t.Errorf("exit %d, want success %v\n%s", code, step.wantOK, out)
			}
			if !strings.Contains(out, step.wantOut) {
				t.Errorf("output lacks %q:\n%s", step.wantOut, out)
			}
			after := snapshot(t)
			for f := range files {
				if changed := !bytes.Equal(before[f], after[f]); changed != slices.Contains(step.changed, f) {
					t.Errorf("%s changed: %v, want %v", f, changed, !changed)
				}
			}
			if fi, err := os.Stat(files["bob.key"]); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("bob.key: %v, mode %v, want 0600", err, fi.Mode().Perm())
			}
		})
	}
	// The last certificate is for the last key.
	copyFile(t, files["bob.crt"], filepath.Join(bobDir, "bob.crt"))
	if _, err := tls.LoadX509KeyPair(filepath.Join(bobDir, "bob.crt"), files["bob.key"]); err != nil {
		t.Error(err)
	}
}

// TestGenCertsRevoke checks the CRL after each step: Go parses it, the CA
// signed it, and it lists exactly the revoked serials.
func TestGenCertsRevoke(t *testing.T) {
	needOpenSSL(t)
	dir := t.TempDir()
	mustGenCerts(t, "-d", dir, "alice", "bob", "carol")
	ca := readCert(t, filepath.Join(dir, "ca.crt"))
	crlPath := filepath.Join(dir, "crl.pem")
	serial := func(name string) string {
		return readCert(t, filepath.Join(dir, name+".crt")).SerialNumber.Text(16)
	}

	// expired writes old.crt, signed by the CA, expired yesterday.
	expired := func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(dir, "ca.key"))
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(b)
		caKey, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(0x0123456789),
			Subject:               pkix.Name{CommonName: "old"},
			NotBefore:             time.Now().Add(-48 * time.Hour),
			NotAfter:              time.Now().Add(-24 * time.Hour),
			KeyUsage:              x509.KeyUsageDigitalSignature,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			BasicConstraintsValid: true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, newP256Key(t).Public(), caKey)
		if err != nil {
			t.Fatal(err)
		}
		writePEM(t, filepath.Join(dir, "old.crt"), "CERTIFICATE", der)
	}

	// The steps run in order on the same directory.
	steps := []struct {
		name        string
		setup       func(t *testing.T)
		args        []string
		wantOut     []string
		wantRevoked []string // names whose serials the CRL must list, and no others
	}{
		{
			name: "revoke bob",
			args: []string{"revoke", "bob"},
			wantOut: []string{
				"revoked bob (serial ",
				"; give " + crlPath + " to your peers; peerchat refuses bob once they have it (--crl " + crlPath + ", default when present)",
				"gen-certs.sh -d " + dir + " crl before then",
			},
			wantRevoked: []string{"bob"},
		},
		{
			name:        "revoking twice is harmless",
			args:        []string{"revoke", "bob"},
			wantOut:     []string{"is already revoked"},
			wantRevoked: []string{"bob"},
		},
		{
			name:        "revoke carol too",
			args:        []string{"revoke", "carol"},
			wantOut:     []string{"revoked carol (serial "},
			wantRevoked: []string{"bob", "carol"},
		},
		{
			name:        "an expired certificate can still be revoked",
			setup:       expired,
			args:        []string{"revoke", "old"},
			wantOut:     []string{"has expired already; revoking it anyway", "revoked old (serial "},
			wantRevoked: []string{"bob", "carol", "old"},
		},
		{
			name:        "crl signs the list afresh",
			args:        []string{"crl"},
			wantOut:     []string{"wrote " + crlPath + ", signed by the CA, listing 3 revoked", "crl before then"},
			wantRevoked: []string{"bob", "carol", "old"},
		},
	}
	lastNumber := new(big.Int)
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			if step.setup != nil {
				step.setup(t)
			}
			out := mustGenCerts(t, append([]string{"-d", dir}, step.args...)...)
			for _, want := range step.wantOut {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}

			crl := readCRL(t, crlPath)
			if err := crl.CheckSignatureFrom(ca); err != nil {
				t.Errorf("CRL signature: %v", err)
			}
			if !bytes.Equal(crl.AuthorityKeyId, ca.SubjectKeyId) {
				t.Errorf("CRL AuthorityKeyId %x, want the CA's key id %x", crl.AuthorityKeyId, ca.SubjectKeyId)
			}
			if crl.Number == nil || crl.Number.Cmp(lastNumber) <= 0 {
				t.Errorf("CRL number %v, want more than %v", crl.Number, lastNumber)
			} else {
				lastNumber = crl.Number
			}
			if d := time.Since(crl.ThisUpdate); d < -time.Hour || d > time.Hour {
				t.Errorf("ThisUpdate %v, want about now", crl.ThisUpdate)
			}
			if d := crl.NextUpdate.Sub(crl.ThisUpdate); d != 30*24*time.Hour {
				t.Errorf("NextUpdate - ThisUpdate = %v, want 30 days", d)
			}
			var got, want []string
			for _, e := range crl.RevokedCertificateEntries {
				got = append(got, e.SerialNumber.Text(16))
			}
			for _, name := range step.wantRevoked {
				want = append(want, serial(name))
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("CRL lists serials %q, want %q (%v)", got, want, step.wantRevoked)
			}

			if got, want := dirFiles(t, filepath.Join(dir, "crl")), []string{"crlnumber", "index.txt", "index.txt.attr"}; !slices.Equal(got, want) {
				t.Errorf("crl/ holds %q, want %q", got, want)
			}
			if _, err := os.Stat(filepath.Join(dir, ".gen-certs.tmp")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("temp directory left behind: %v", err)
			}
		})
	}

	// openssl agrees: with the CRL, bob fails and alice passes.
	for name, wantOK := range map[string]bool{"alice": true, "bob": false} {
		out, err := exec.CommandContext(t.Context(), "openssl", "verify", "-crl_check",
			"-CRLfile", crlPath, "-CAfile", filepath.Join(dir, "ca.crt"),
			filepath.Join(dir, name+".crt")).CombinedOutput()
		if (err == nil) != wantOK || (!wantOK && !strings.Contains(string(out), "revoked")) {
			t.Errorf("openssl verify -crl_check %s.crt: %v, want ok %v\n%s", name, err, wantOK, out)
		}
	}
}

// ---- names: a certificate holds only the names it was given ---------------

// stubHostName puts a hostname and a uname first on PATH that say this
// machine is called name, as on a machine set up for alice, and returns the
// environment that runs the script with them. Everything else uname is
// asked is the real one's answer.
func stubHostName(t *testing.T, name string) []string {
	t.Helper()
	uname, err := exec.LookPath("uname")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	stubs := map[string]string{
		"hostname": "#!/bin/sh\necho " + name + "\n",
		"uname": "#!/bin/sh\nfor a; do case $a in -n | --nodename) echo " + name + "; exit 0 ;; esac; done\n" +
			"exec '" + uname + "' \"$@\"\n",
	}
	for file, text := range stubs {
		if err := os.WriteFile(filepath.Join(bin, file), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")}
}

// wantNoHostName checks what the script wrote in dir on a machine called
// host for each of names: only the peer name, localhost and the loopback
// addresses, so that no certificate but host's own passes for host. The
// CA's label shows that the script did see the host name (else the test
// would prove nothing).
func wantNoHostName(t *testing.T, dir, host string, names ...string) {
	t.Helper()
	ca := readCert(t, filepath.Join(dir, "ca.crt"))
	if want := "peerchat local CA (" + host + ")"; ca.Subject.CommonName != want {
		t.Errorf("CA's CN %q, want %q: the script did not see the host name %q, so this test checks nothing", ca.Subject.CommonName, want, host)
	}
	for _, name := range names {
		c := readCert(t, filepath.Join(dir, name+".crt"))
		if want := []string{name, "localhost"}; !slices.Equal(c.DNSNames, want) {
			t.Errorf("%s.crt: DNSNames %q, want %q: the machine's host name is added only with -H", name, c.DNSNames, want)
		}
		if got, want := ipStrings(c.IPAddresses), []string{"127.0.0.1", "::1"}; !slices.Equal(got, want) {
			t.Errorf("%s.crt: IPAddresses %q, want %q", name, got, want)
		}
		if name != host {
			if err := c.VerifyHostname(host); err == nil {
				t.Errorf("%s.crt is valid for the host name %q, so %s passes for %s wherever a host name is checked", name, host, name, host)
			}
		}
	}
}

// TestGenCertsAddsNoHostNameUnlessGiven issues on a machine called alice
// (hostname and uname say so): bob's and carol's certificates must not be
// valid for "alice", or carol could pass for alice. With -H alice, the name
// is there, because it was asked for.
func TestGenCertsAddsNoHostNameUnlessGiven(t *testing.T) {
	needOpenSSL(t)
	env := stubHostName(t, "alice")

	t.Run("without -H", func(t *testing.T) {
		dir := t.TempDir()
		if out, code := runGenCerts(t, env, "-d", dir, "alice", "bob", "carol"); code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		wantNoHostName(t, dir, "alice", "alice", "bob", "carol")
	})

	t.Run("-H alice", func(t *testing.T) {
		dir := t.TempDir()
		if out, code := runGenCerts(t, env, "-d", dir, "-H", "alice", "carol"); code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		c := readCert(t, filepath.Join(dir, "carol.crt"))
		if want := []string{"carol", "localhost", "alice"}; !slices.Equal(c.DNSNames, want) {
			t.Errorf("carol.crt: DNSNames %q, want %q", c.DNSNames, want)
		}
		if c.Subject.CommonName != "carol" {
			t.Errorf("carol.crt: CN %q, want carol: the peer name stays the CN whatever -H adds", c.Subject.CommonName)
		}
	})
}

// needRootToUnshare skips a test that needs a namespace of its own when not
// root or without unshare, saying so; under CI (CI set), where the tests run
// as root with util-linux, it fails instead, so that a skip can never pass
// for a test that ran.
func needRootToUnshare(t *testing.T) string {
	t.Helper()
	why := ""
	unshare, err := exec.LookPath("unshare")
	switch {
	case os.Geteuid() != 0:
		why = "this test sets the host name in a UTS namespace of its own: run it as root"
	case err != nil:
		why = "unshare is not installed (Debian: apt-get install util-linux)"
	}
	if why == "" {
		return unshare
	}
	if os.Getenv("CI") != "" {
		t.Fatal(why + "; CI must run this test")
	}
	t.Skip(why)
	return ""
}

// TestGenCertsAddsNoHostNameInAUTSNamespace is the same with a real host
// name: the script runs in a UTS namespace whose host name is alice, so
// whatever way it learns the name, it learns "alice".
func TestGenCertsAddsNoHostNameInAUTSNamespace(t *testing.T) {
	needOpenSSL(t)
	unshare := needRootToUnshare(t)
	script, err := filepath.Abs(genCertsScript)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out, err := exec.CommandContext(t.Context(), unshare, "--uts", "sh", "-c",
		`hostname alice && exec "$0" "$@"`, script, "-d", dir, "alice", "bob", "carol").CombinedOutput()
	if err != nil {
		t.Fatalf("unshare --uts ... gen-certs.sh: %v\n%s", err, out)
	}
	wantNoHostName(t, dir, "alice", "alice", "bob", "carol")
}

// ---- requests that cannot be swapped ---------------------------------------

// keyFingerprint is what request and sign print for the key in keyPath:
// the SHA-256 of its DER SubjectPublicKeyInfo, in peerchat's form.
func keyFingerprint(t *testing.T, keyPath string) string {
	t.Helper()
	k, err := x509.ParsePKCS8PrivateKey(readPEM(t, keyPath, "PRIVATE KEY"))
	if err != nil {
		t.Fatalf("%s: %v", keyPath, err)
	}
	return pubFingerprint(t, k.(crypto.Signer).Public())
}

func pubFingerprint(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return strings.ReplaceAll(fmt.Sprintf("% X", sum[:]), " ", ":")
}

var printedFingerprintRE = regexp.MustCompile(`(?m)^gen-certs:   ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})\r?$`)

// printedFingerprints returns the fingerprints the script printed, each on
// a line of its own.
func printedFingerprints(out string) []string {
	var fps []string
	for _, m := range printedFingerprintRE.FindAllStringSubmatch(out, -1) {
		fps = append(fps, m[1])
	}
	return fps
}

// printedFingerprint is the one fingerprint the script printed.
func printedFingerprint(t *testing.T, out string) string {
	t.Helper()
	fps := printedFingerprints(out)
	if len(fps) != 1 {
		t.Fatalf("printed %d fingerprints %q, want one on a line of its own:\n%s", len(fps), fps, out)
	}
	return fps[0]
}

// TestGenCertsRequestFingerprint: request prints the fingerprint of the
// key it made, sign prints the same, and sign -F signs only a request with
// that key: a request swapped on the way, even for the same name, gets no
// certificate.
func TestGenCertsRequestFingerprint(t *testing.T) {
	needOpenSSL(t)
	caDir, bobDir, mail := t.TempDir(), t.TempDir(), t.TempDir()
	mustGenCerts(t, "-d", caDir, "alice")
	out := mustGenCerts(t, "-d", bobDir, "request", "bob")
	fp := keyFingerprint(t, filepath.Join(bobDir, "bob.key"))
	if got := printedFingerprint(t, out); got != fp {
		t.Fatalf("request printed the fingerprint %s, want the key's %s", got, fp)
	}
	for _, want := range []string{"key fingerprint (SHA-256) of bob.csr:", "read them this fingerprint by voice (phone, in person)"} {
		if !strings.Contains(out, want) {
			t.Errorf("request output lacks %q:\n%s", want, out)
		}
	}
	csr := filepath.Join(mail, "bob.csr")
	copyFile(t, filepath.Join(bobDir, "bob.csr"), csr)
	// mallory's request for the name bob, with her own key: what she would
	// put in place of bob's on the way.
	mallory := newP256Key(t)
	swapped := filepath.Join(mail, "swapped", "bob.csr")
	if err := os.Mkdir(filepath.Dir(swapped), 0o755); err != nil {
		t.Fatal(err)
	}
	writePEM(t, swapped, "CERTIFICATE REQUEST", makeCSR(t, mallory, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "bob"}}))
	malloryFP := pubFingerprint(t, mallory.Public())

	crt := filepath.Join(caDir, "bob.crt")
	// sign signs in the CA's folder, from which it first removes bob.crt.
	sign := func(t *testing.T, args ...string) (string, int) {
		t.Helper()
		if err := os.Remove(crt); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		return runGenCerts(t, nil, append([]string{"-d", caDir, "sign"}, args...)...)
	}
	wantSigned := func(t *testing.T, out string, code int) {
		t.Helper()
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		if got := printedFingerprint(t, out); got != fp {
			t.Errorf("sign printed the fingerprint %s, want the key's %s", got, fp)
		}
		if got := pubFingerprint(t, readCert(t, crt).PublicKey); got != fp {
			t.Errorf("bob.crt holds the key %s, want bob's %s", got, fp)
		}
	}
	wantNothing := func(t *testing.T, out string, code, wantCode int) {
		t.Helper()
		if code != wantCode {
			t.Errorf("exit %d, want %d\n%s", code, wantCode, out)
		}
		if _, err := os.Stat(crt); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("bob.crt written (%v)", err)
		}
		if got, want := dirFiles(t, caDir), []string{"alice.crt", "alice.key", "ca.crt", "ca.key"}; !slices.Equal(got, want) {
			t.Errorf("the CA's folder holds %q, want %q", got, want)
		}
	}

	t.Run("without -F and no terminal, sign signs and prints it", func(t *testing.T) {
		out, code := sign(t, csr)
		wantSigned(t, out, code)
		if !strings.Contains(out, "note: not checked (no -F, and no terminal to ask on)") {
			t.Errorf("sign does not say the fingerprint is left to check:\n%s", out)
		}
	})

	t.Run("a swapped request is refused", func(t *testing.T) {
		out, code := sign(t, "-F", fp, swapped)
		wantNothing(t, out, code, 1)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		last := lines[len(lines)-1]
		if !strings.HasPrefix(last, "gen-certs: nothing written: ") || !strings.Contains(last, malloryFP) || !strings.Contains(last, fp) {
			t.Errorf("last line %q, want \"nothing written\" with both fingerprints (the request's %s, the one given %s)", last, malloryFP, fp)
		}
	})

	// Every form the fingerprint is copied in: as peerchat and request
	// print it, and as openssl does.
	hexDigits := strings.ToLower(strings.ReplaceAll(fp, ":", ""))
	opensslDgst, err := exec.CommandContext(t.Context(), "sh", "-c",
		`openssl pkey -in "$1" -pubout -outform DER | openssl dgst -sha256`, "sh", filepath.Join(bobDir, "bob.key")).Output()
	if err != nil {
		t.Fatal(err)
	}
	forms := []struct{ name, fp string }{
		{"as request prints it", fp},
		{"lower case", strings.ToLower(fp)},
		{"without colons", strings.ToUpper(hexDigits)},
		{"lower case without colons", hexDigits},
		{"openssl 3 x509 -fingerprint", "sha256 Fingerprint=" + fp},
		{"openssl 1.1 x509 -fingerprint", "SHA256 Fingerprint=" + fp},
		{"openssl 3 dgst", "SHA2-256(stdin)= " + hexDigits},
		{"openssl 1.1 dgst", "(stdin)= " + hexDigits},
		{"openssl dgst -c", "SHA2-256(stdin)= " + strings.ToLower(fp)},
		{"what this openssl prints", strings.TrimSpace(string(opensslDgst))},
	}
	for _, form := range forms {
		t.Run("-F "+form.name, func(t *testing.T) {
			out, code := sign(t, "-F", form.fp, csr)
			wantSigned(t, out, code)
			if !strings.Contains(out, "it matches the fingerprint given with -F") {
				t.Errorf("sign -F does not say it matched:\n%s", out)
			}
		})
	}

	for _, bad := range []struct{ name, fp, wantOut string }{
		{"the first 8 bytes only", fp[:23], "has 16 hex digits; a SHA-256 fingerprint has 64"},
		{"not hex", fp[:93] + "ZZ", "is not a fingerprint"},
		{"an unknown label", "SHA256 Hash=" + fp, "unknown label"},
	} {
		t.Run("-F "+bad.name, func(t *testing.T) {
			out, code := sign(t, "-F", bad.fp, csr)
			wantNothing(t, out, code, 2)
			if !strings.Contains(out, bad.wantOut) {
				t.Errorf("output lacks %q:\n%s", bad.wantOut, out)
			}
		})
	}
}
