package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"peerchat/peer"
	"peerchat/peer/peertest"
)

// lastLine is the last line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// opensslRevoke revokes the certificates with `openssl ca`, keeping its
// database in DIR/crl-db, and writes DIR/crl.pem: the openssl-made list
// that `scripts/gen-certs.sh revoke` also writes.
func opensslRevoke(t *testing.T, dir string, certs ...string) string {
	t.Helper()
	needTool(t, "openssl")
	db := filepath.Join(dir, "crl-db")
	if err := os.MkdirAll(db, 0o700); err != nil {
		t.Fatal(err)
	}
	cnf := filepath.Join(db, "ca.cnf")
	if _, err := os.Stat(cnf); err != nil {
		os.WriteFile(filepath.Join(db, "index.txt"), nil, 0o600)
		os.WriteFile(filepath.Join(db, "crlnumber"), []byte("01\n"), 0o600)
		conf := "[ca]\ndefault_ca = peerchat\n[peerchat]\n" +
			"database = " + filepath.Join(db, "index.txt") + "\n" +
			"crlnumber = " + filepath.Join(db, "crlnumber") + "\n" +
			"default_md = sha256\ndefault_crl_days = 30\n"
		if err := os.WriteFile(cnf, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ca := []string{"ca", "-config", cnf, "-keyfile", filepath.Join(dir, "ca.key"), "-cert", filepath.Join(dir, "ca.crt")}
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("openssl", append(ca, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, c := range certs {
		run("-revoke", c)
	}
	crl := filepath.Join(dir, "crl.pem")
	run("-gencrl", "-out", crl)
	return crl
}

func TestCertsCheckReportsAGoodBundle(t *testing.T) {
	dir := certsDir(t)
	stdout, stderr, code := runPeerchat(t, "", "certs", "check", "--certs-dir", dir, "--name", "alice")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	alice := peertest.Cert(t, dir+"/alice.crt")
	for _, want := range []string{
		"checking certificate " + dir + "/alice.crt, key " + dir + "/alice.key, CA " + dir + "/ca.crt\n",
		"ok    CA certificate " + dir + "/ca.crt: peertest CA, valid until ",
		"ok    key " + dir + "/alice.key matches the certificate (ECDSA P-256)\n",
		"ok    " + dir + "/alice.key is private to its owner (mode 0600)\n",
		"ok    " + dir + "/alice.crt is signed by the CA in " + dir + "/ca.crt\n",
		"ok    usable to listen and to dial (serverAuth, clientAuth; digitalSignature)\n",
		"info  valid for alice, localhost, 127.0.0.1, ::1\n",
		"info  fingerprint (SHA-256) " + peer.Fingerprint(alice) + "\n",
		"usable: alice can listen and dial\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !regexp.MustCompile(`(?m)\A(checking .*\n)((ok|info|warn|FAIL) +.*\n)+usable: .*\n\z`).MatchString(stdout) {
		t.Errorf("stdout is not one line per finding:\n%s", stdout)
	}
}

// TestCertsCheckAndTheChatRefuseWithTheSameWords breaks a bundle in ways
// CheckBundle's table does not reach from the command line (the default
// crl.pem, file flags), and checks that certs check, listen and dial all
// refuse it, exit 3, with the same line.
func TestCertsCheckAndTheChatRefuseWithTheSameWords(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, pki *peertest.PKI) []string // identity flags
		want  string
	}{
		{"expired certificate", func(t *testing.T, pki *peertest.PKI) []string {
			pki.Issue(t, peertest.Leaf{Name: "alice", NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
			return []string{"--name", "alice"}
		}, "DIR/alice.crt expired on "},
		{"key of another certificate", func(t *testing.T, pki *peertest.PKI) []string {
			pki.Issue(t, peertest.Leaf{Name: "alice"})
			bob := pki.Issue(t, peertest.Leaf{Name: "bob"})
			return []string{"--cert", pki.Dir + "/alice.crt", "--key", bob.Key}
		}, "DIR/bob.key does not match DIR/alice.crt"},
		{"own certificate in the certs dir's crl.pem", func(t *testing.T, pki *peertest.PKI) []string {
			f := pki.Issue(t, peertest.Leaf{Name: "alice"})
			pki.Revoke(t, peertest.Cert(t, f.Cert))
			return []string{"--name", "alice"}
		}, `DIR/alice.crt \(serial [0-9A-F]+\) is revoked by DIR/crl.pem since `},
		{"--crl signed by another CA", func(t *testing.T, pki *peertest.PKI) []string {
			pki.Issue(t, peertest.Leaf{Name: "alice"})
			other := peertest.NewPKI(t).WriteCRL(t, filepath.Join(t.TempDir(), "other.pem"), peertest.CRL{})
			return []string{"--name", "alice", "--crl", other}
		}, "revocation list .*/other.pem is not signed by our CA"},
		{"--ca is a peer certificate", func(t *testing.T, pki *peertest.PKI) []string {
			pki.Issue(t, peertest.Leaf{Name: "alice"})
			return []string{"--name", "alice", "--ca", pki.Dir + "/alice.crt"}
		}, `DIR/alice.crt \(alice\) is not a CA certificate`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pki := peertest.NewPKI(t)
			flags := append([]string{"--certs-dir", pki.Dir}, tt.setup(t, pki)...)
			want := "FAIL  " + strings.ReplaceAll(tt.want, "DIR", regexp.QuoteMeta(pki.Dir))
			stdout, stderr, code := runPeerchat(t, "", append([]string{"certs", "check"}, flags...)...)
			if code != exitTrust {
				t.Errorf("certs check exited %d, want %d", code, exitTrust)
			}
			m := regexp.MustCompile("(?m)^" + want + ".*$").FindString(stdout)
			if m == "" {
				t.Fatalf("certs check stdout lacks %q:\n%s", want, stdout)
			}
			verdict := "peerchat: " + strings.TrimPrefix(m, "FAIL  ")
			if got := lastLine(stderr); got != verdict {
				t.Errorf("certs check stderr:\n  %s\nwant:\n  %s", got, verdict)
			}
			for _, cmd := range [][]string{
				append([]string{"listen", "--addr", "127.0.0.1:0"}, flags...),
				append(append([]string{"dial"}, flags...), "127.0.0.1:1"),
			} {
				_, stderr, code := runPeerchat(t, "", cmd...)
				if code != exitTrust || lastLine(stderr) != verdict {
					t.Errorf("%s: exit %d, last line:\n  %s\nwant exit %d and:\n  %s", cmd[0], code, lastLine(stderr), exitTrust, verdict)
				}
			}
		})
	}
}

func TestCertsCheckWarnsAndTheChatGoesOn(t *testing.T) {
	pki := peertest.NewPKI(t)
	pki.Issue(t, peertest.Leaf{Name: "alice"})
	dir := pki.Dir
	next := time.Now().Add(3*24*time.Hour + time.Hour)
	pki.WriteCRL(t, dir+"/crl.pem", peertest.CRL{ThisUpdate: time.Now().Add(-27 * 24 * time.Hour), NextUpdate: next})
	stdout, _, code := runPeerchat(t, "", "certs", "check", "--certs-dir", dir, "--name", "alice")
	want := "warn  revocation list " + dir + "/crl.pem must be re-signed within 3 days (next update " + next.UTC().Format("2006-01-02 15:04 MST") +
		"); after that peerchat refuses it; re-sign it with `scripts/gen-certs.sh -d " + dir + " crl`, then give it to your peers again\n"
	if code != 0 || !strings.Contains(stdout, want) || !strings.Contains(stdout, "usable: alice can listen and dial, with 1 warning(s)") {
		t.Fatalf("exit %d, stdout:\n%s\nwant exit 0 and %q", code, stdout, want)
	}
	l, _ := listen(t, "--certs-dir", dir, "--name", "alice")
	l.waitLine("^peerchat: warning: " + regexp.QuoteMeta(strings.TrimPrefix(strings.TrimSuffix(want, "\n"), "warn  ")) + "$")
}

func TestCertsShow(t *testing.T) {
	pki := peertest.NewPKI(t)
	bob := pki.Issue(t, peertest.Leaf{Name: "bob"})
	carol := pki.Issue(t, peertest.Leaf{Name: "carol"})
	mallory := peertest.NewPKI(t).Issue(t, peertest.Leaf{Name: "mallory"})
	pki.Revoke(t, peertest.Cert(t, carol.Cert))
	bobCert := peertest.Cert(t, bob.Cert)
	der := filepath.Join(t.TempDir(), "bob.der")
	os.WriteFile(der, bobCert.Raw, 0o644)

	stdout, stderr, code := runPeerchat(t, "", "certs", "show", "--certs-dir", pki.Dir, bob.Cert)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	for _, want := range []string{
		bob.Cert + ":\n",
		"  subject      CN=bob\n",
		"  issuer       CN=peertest CA\n",
		"  names        bob, localhost, 127.0.0.1, ::1\n",
		"  serial       " + peer.Serial(bobCert.SerialNumber) + "\n",
		"  key          ECDSA P-256\n",
		"  usage        serverAuth, clientAuth; digitalSignature\n",
		"  CA           no\n",
		"  fingerprint  SHA-256 " + peer.Fingerprint(bobCert) + "\n",
		"  short        " + peer.ShortFingerprint(bobCert) + " (what peerchat prints on connect)\n",
		"  our CA       signed by our CA (" + pki.Dir + "/ca.crt, peertest CA)\n",
		"  revoked      no (" + pki.Dir + "/crl.pem lists 1)\n",
		"  to pin it    peerchat contacts add bob HOST --fingerprint " + peer.Fingerprint(bobCert) + "\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !regexp.MustCompile(`  valid        \d{4}-\d\d-\d\d \d\d:\d\d UTC to \d{4}-\d\d-\d\d \d\d:\d\d UTC: 36\d days left\n`).MatchString(stdout) {
		t.Errorf("no validity line:\n%s", stdout)
	}

	tests := []struct {
		name string
		args []string
		code int
		want string // in stdout, or in the last stderr line when code != 0
	}{
		{"DER", []string{der}, 0, "signed by our CA"},
		{"another CA", []string{mallory.Cert}, 0, "  our CA       NOT signed by our CA (" + pki.Dir + "/ca.crt): peerchat refuses it\n"},
		{"revoked", []string{carol.Cert}, 0, "  revoked      YES, since "},
		{"our CA itself", []string{pki.Dir + "/ca.crt"}, 0, "  CA           yes: it can sign certificates\n"},
		{"a private key", []string{bob.Key}, exitTrust, "peerchat: " + bob.Key + " holds a private key, not a certificate; never send a .key file to anyone"},
		{"not a certificate", []string{pki.Dir + "/crl.pem"}, exitTrust, "holds no certificate (neither PEM nor DER)"},
		{"missing", []string{pki.Dir + "/nobody.crt"}, exitTrust, "certificate " + pki.Dir + "/nobody.crt does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runPeerchat(t, "", append([]string{"certs", "show", "--certs-dir", pki.Dir}, tt.args...)...)
			got := stdout
			if tt.code != 0 {
				got = lastLine(stderr)
			}
			if code != tt.code || !strings.Contains(got, tt.want) {
				t.Errorf("exit %d, output:\n%s\nwant exit %d and %q", code, got, tt.code, tt.want)
			}
		})
	}
}

// TestCertificateFieldsAreSanitized gives alice a certificate whose names
// carry escape sequences and a bidi override, and checks that no output
// of peerchat lets them through raw.
func TestCertificateFieldsAreSanitized(t *testing.T) {
	const (
		evilCN  = "al\x1b[2Jice\u202e\x07"
		evilDNS = "al\x1b[2Jice\x07" // a DNS name is ASCII
		shown   = `al\x1b[2Jice`     // how both begin on screen
	)
	pki := peertest.NewPKI(t)
	f := pki.Issue(t, peertest.Leaf{Name: "alice", CommonName: evilCN, DNSNames: []string{"alice", evilDNS}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	pki.Issue(t, peertest.Leaf{Name: "bob"})

	raw := regexp.MustCompile("[\x1b\x07\u202e]")
	check := func(what, out string) {
		t.Helper()
		if raw.MatchString(out) {
			t.Errorf("%s let raw control characters through: %q", what, out)
		}
		if !strings.Contains(out, shown) {
			t.Errorf("%s does not show the name escaped (%s): %q", what, shown, out)
		}
	}
	out, errOut, _ := runPeerchat(t, "", "certs", "show", "--certs-dir", pki.Dir, f.Cert)
	check("certs show", out+errOut)
	out, errOut, _ = runPeerchat(t, "", "certs", "check", "--certs-dir", pki.Dir, "--name", "alice")
	check("certs check", out+errOut)

	l, addr := listen(t, "--certs-dir", pki.Dir, "--name", "alice")
	_, errOut, code := runPeerchat(t, "", "dial", "--certs-dir", pki.Dir, "--name", "bob", "--peer", "carol", addr)
	if code != exitTrust {
		t.Errorf("dial --peer carol exited %d", code)
	}
	check("dial's refusal", errOut)
	// The peer name is the CN, escapes and all: the host name alice does
	// not make it alice. Dialed by address, it connects.
	_, errOut, code = runPeerchat(t, "", "dial", "--certs-dir", pki.Dir, "--name", "bob", addr)
	if code != 0 {
		t.Errorf("dial exited %d: %s", code, errOut)
	}
	check("dial's connect notice", errOut)
	l.wait()
	check("listen", l.stderr())
}

func TestPeerFingerprintFlag(t *testing.T) {
	dir := certsDir(t)
	alice := peertest.Cert(t, dir+"/alice.crt")
	short := peer.ShortFingerprint(alice)
	tests := []struct {
		name string
		pin  []string
		code int
		want string
	}{
		{"the short form printed on connect", []string{short}, 0, "connected to alice"},
		{"full, lower case, no colons", []string{strings.ToLower(strings.ReplaceAll(peer.Fingerprint(alice), ":", ""))}, 0, "connected to alice"},
		{"someone else", []string{"00:11:22:33:44:55:66:77"}, exitTrust,
			`the listener at 127.0.0.1:\d+ is alice with certificate fingerprint ` + peer.Fingerprint(alice) + `, not 00:11:22:33:44:55:66:77 as --peer-fingerprint demands`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, addr := listen(t, "--certs-dir", dir, "--name", "alice")
			args := []string{"dial", "--certs-dir", dir, "--name", "bob"}
			for _, p := range tt.pin {
				args = append(args, "--peer-fingerprint", p)
			}
			_, stderr, code := runPeerchat(t, "", append(args, addr)...)
			if code != tt.code || !regexp.MustCompile(tt.want).MatchString(stderr) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr, tt.code, tt.want)
			}
			if tt.code == exitTrust {
				l.waitLine(`^peerchat: refused 127\.0\.0\.1:\d+: bob refused us: only certificate fingerprint 00:11:22:33:44:55:66:77 is accepted, and yours \(alice\) is ` + peer.Fingerprint(alice))
			}
		})
	}
}

func TestRevokedPeerIsRefusedByDefaultCRL(t *testing.T) {
	pki := peertest.NewPKI(t)
	pki.Issue(t, peertest.Leaf{Name: "alice"})
	bob := pki.Issue(t, peertest.Leaf{Name: "bob"})
	bobCert := peertest.Cert(t, bob.Cert)
	// alice's certs dir holds crl.pem; bob's copy of the bundle does not.
	pki.Revoke(t, bobCert)
	bobDir := t.TempDir()
	for _, f := range []string{"ca.crt", "bob.crt", "bob.key"} {
		b, _ := os.ReadFile(filepath.Join(pki.Dir, f))
		os.WriteFile(filepath.Join(bobDir, f), b, 0o600)
	}
	l, addr := listen(t, "--certs-dir", pki.Dir, "--name", "alice")
	_, stderr, code := runPeerchat(t, "", "dial", "--certs-dir", bobDir, addr)
	serial := peer.Serial(bobCert.SerialNumber)
	want := "peerchat: alice (at " + addr + ") refused us: your certificate (bob, serial " + serial + ") is revoked by alice's revocation list since "
	if code != exitTrust || !strings.HasPrefix(lastLine(stderr), want) {
		t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr, exitTrust, want)
	}
	l.waitLine(`^peerchat: refused 127\.0\.0\.1:\d+: bob's certificate \(serial ` + serial + `\) is revoked by ` + regexp.QuoteMeta(pki.Dir) + `/crl\.pem since \d{4}-\d\d-\d\d; revoked means`)
}
