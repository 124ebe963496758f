package main

import (
	"crypto/x509"
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

// bobsCopy copies bob's bundle, without the CA's revocation list, to a
// directory of its own: bob's machine, which has not been given crl.pem.
func bobsCopy(t *testing.T, dir string) string {
	t.Helper()
	bobDir := t.TempDir()
	for _, f := range []string{"ca.crt", "bob.crt", "bob.key"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bobDir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return bobDir
}

// withConfigHome is the environment of a peerchat with its own config
// directory, returned too.
func withConfigHome(t *testing.T) (env []string, config string) {
	home := t.TempDir()
	return []string{"XDG_CONFIG_HOME=" + home}, filepath.Join(home, "peerchat")
}

// TestListenKeepListeningRefusesPeerRevokedMeanwhile: `listen -k` with
// the crl.pem of scripts/gen-certs.sh; bob chats and leaves; the CA's
// owner revokes bob with the script; bob's next dial is refused, exit 3,
// without restarting the listener.
func TestListenKeepListeningRefusesPeerRevokedMeanwhile(t *testing.T) {
	needTool(t, "openssl")
	dir := filepath.Join(t.TempDir(), "certs")
	genCerts := func(args ...string) {
		t.Helper()
		cmd := exec.Command("sh", append([]string{"../../scripts/gen-certs.sh", "-d", dir}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gen-certs.sh %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	genCerts("alice", "bob")
	genCerts("crl") // an empty list, so that the listener has one to watch
	bobDir := bobsCopy(t, dir)
	env, _ := withConfigHome(t)

	l := startEnv(t, env, "listen", "--addr", "127.0.0.1:0", "--certs-dir", dir, "--name", "alice", "-k")
	addr := l.waitLine(`listening on (\S+) as`)[1]
	if _, stderr, code := runPeerchat(t, "hello\n", "dial", "--certs-dir", bobDir, addr); code != 0 {
		t.Fatalf("bob's first dial exited %d: %s", code, stderr)
	}
	l.waitOut("bob: hello")
	l.waitLine(`^peerchat: waiting for the next peer on `)

	genCerts("revoke", "bob")
	serial := peer.Serial(peertest.Cert(t, filepath.Join(dir, "bob.crt")).SerialNumber)
	_, stderr, code := runPeerchat(t, "hello again\n", "dial", "--certs-dir", bobDir, addr)
	want := "peerchat: alice (at " + addr + ") refused us: your certificate (bob, serial " + serial + ") is revoked by alice's revocation list since "
	if code != exitTrust || !strings.HasPrefix(lastLine(stderr), want) {
		t.Errorf("bob's second dial: exit %d, stderr:\n%s\nwant exit %d and %q…", code, stderr, exitTrust, want)
	}
	l.waitLine(`^peerchat: refused 127\.0\.0\.1:\d+: bob's certificate \(serial ` + serial + `\) is revoked by ` + regexp.QuoteMeta(dir) + `/crl\.pem since \d{4}-\d\d-\d\d; revoked means`)
	if strings.Contains(l.out(), "hello again") {
		t.Error("the revoked bob's message reached alice")
	}
}

// TestStaleCRLIsRefused: a revocation list past its next update is an
// error at start (certs check, listen, dial), and when a listener's list
// is replaced by one past it, the next connection is refused, saying so;
// the hint is the command that re-signs the list.
func TestStaleCRLIsRefused(t *testing.T) {
	pki := peertest.NewPKI(t)
	pki.Issue(t, peertest.Leaf{Name: "alice"})
	pki.Issue(t, peertest.Leaf{Name: "bob"})
	dir := pki.Dir
	crl := filepath.Join(dir, "crl.pem")
	next := time.Now().Add(-2 * 24 * time.Hour)
	stale := peertest.CRL{ThisUpdate: next.Add(-30 * 24 * time.Hour), NextUpdate: next}
	pki.WriteCRL(t, crl, stale)
	verdict := "peerchat: revocation list " + crl + " is past its next update (" + next.UTC().Format("2006-01-02 15:04 MST") +
		"): certificates revoked since may be missing from it, so no certificate can be checked against it; re-sign it with `scripts/gen-certs.sh -d " + dir + " crl`, then give it to your peers again"
	env, _ := withConfigHome(t)
	for _, cmd := range [][]string{
		{"certs", "check", "--certs-dir", dir, "--name", "alice"},
		{"listen", "--addr", "127.0.0.1:0", "--certs-dir", dir, "--name", "alice"},
		{"dial", "--certs-dir", dir, "--name", "bob", "127.0.0.1:1"},
	} {
		stdout, stderr, code := runPeerchatEnv(t, env, "", cmd...)
		if code != exitTrust || lastLine(stderr) != verdict {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant exit %d and\n%s", cmd[0], code, stderr, exitTrust, verdict)
		}
		if cmd[0] == "certs" && !strings.Contains(stdout, "\nFAIL  "+strings.TrimPrefix(verdict, "peerchat: ")+"\n") {
			t.Errorf("certs check does not report it:\n%s", stdout)
		}
	}

	// During listen -k.
	pki.WriteCRL(t, crl, peertest.CRL{})
	bobDir := bobsCopy(t, dir)
	l := startEnv(t, env, "listen", "--addr", "127.0.0.1:0", "--certs-dir", dir, "--name", "alice", "-k")
	addr := l.waitLine(`listening on (\S+) as`)[1]
	pki.WriteCRL(t, crl, stale)
	_, stderr, code := runPeerchat(t, "", "dial", "--certs-dir", bobDir, addr)
	want := "peerchat: alice (at " + addr + ") refused us: alice's revocation list is out of date or unreadable, so alice accepts no certificate until it is fixed; try again later"
	if code != exitTrust || lastLine(stderr) != want {
		t.Errorf("bob's dial: exit %d, stderr:\n%s\nwant exit %d and\n%s", code, stderr, exitTrust, want)
	}
	l.waitLine(`^peerchat: refused 127\.0\.0\.1:\d+: ` + regexp.QuoteMeta(strings.TrimPrefix(verdict, "peerchat: ")) + `$`)
}

// TestRolledBackCRLIsRefusedAtStart: the highest CRL number seen per CA
// is remembered in the config directory, privately; an older list of the
// same CA is then refused, naming both numbers and the file.
func TestRolledBackCRLIsRefusedAtStart(t *testing.T) {
	pki := peertest.NewPKI(t)
	pki.Issue(t, peertest.Leaf{Name: "alice"})
	bob := peertest.Cert(t, pki.Issue(t, peertest.Leaf{Name: "bob"}).Cert)
	crl := filepath.Join(pki.Dir, "crl.pem")
	env, config := withConfigHome(t)
	numbers := filepath.Join(config, "crl-numbers")

	pki.WriteCRL(t, crl, peertest.CRL{Number: 5, Revoked: []*x509.Certificate{bob}})
	if stdout, stderr, code := runPeerchatEnv(t, env, "", "certs", "check", "--certs-dir", pki.Dir, "--name", "alice"); code != 0 ||
		!strings.Contains(stdout, "ok    revocation list "+crl+": signed by the CA, 1 revoked, next update ") || !strings.Contains(stdout, ", number 5; alice is not on it\n") {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(numbers)
	if err != nil {
		t.Fatal(err)
	}
	if line := "\n" + peer.Fingerprint(pki.CA) + " 5 peertest CA\n"; !strings.HasSuffix(string(b), line) {
		t.Errorf("%s:\n%s\nwant a line %q", numbers, b, line[1:])
	}
	if fi, err := os.Stat(numbers); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, %v; want 0600", numbers, fi.Mode(), err)
	}

	pki.WriteCRL(t, crl, peertest.CRL{Number: 3}) // from before bob's revocation
	want := "peerchat: revocation list " + crl + " is number 3, but number 5 from the same CA (peertest CA) was seen before (remembered in " + numbers +
		"): an older list may leave out revocations, so it is refused; get the newest crl.pem from the CA's owner; if the CA's list was started over on purpose, delete the CA's line from " + numbers
	_, stderr, code := runPeerchatEnv(t, env, "", "listen", "--addr", "127.0.0.1:0", "--certs-dir", pki.Dir, "--name", "alice")
	if code != exitTrust || lastLine(stderr) != want {
		t.Errorf("listen: exit %d, stderr:\n%s\nwant exit %d and\n%s", code, stderr, exitTrust, want)
	}
}

// TestCRLRefreshHint words the command that re-signs a lapsed list for
// where the user is.
func TestCRLRefreshHint(t *testing.T) {
	checkout := t.TempDir()
	for _, f := range []string{"Makefile", "scripts/gen-certs.sh", "certs/ca.key", "certs/crl.pem"} {
		os.MkdirAll(filepath.Join(checkout, filepath.Dir(f)), 0o700)
		if err := os.WriteFile(filepath.Join(checkout, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	elsewhere := filepath.Join(t.TempDir(), "my certs")
	os.Mkdir(elsewhere, 0o700)
	os.WriteFile(filepath.Join(elsewhere, "ca.key"), nil, 0o600)
	t.Chdir(checkout)
	for _, tt := range []struct{ crl, want string }{
		{"certs/crl.pem", "run `make cert-crl` to re-sign it, then give it to your peers again"},
		{filepath.Join(elsewhere, "crl.pem"), "re-sign it with `scripts/gen-certs.sh -d '" + elsewhere + "' crl`, then give it to your peers again"},
		{filepath.Join(t.TempDir(), "crl.pem"), "ask the CA's owner for a fresh one (they run `scripts/gen-certs.sh crl`) and put it in place of "},
	} {
		if got := crlRefreshHint(tt.crl); !strings.HasPrefix(got, tt.want) {
			t.Errorf("crlRefreshHint(%s) = %q, want %q…", tt.crl, got, tt.want)
		}
	}
}

// TestCertsShowWithAStaleCRL: certs show does not say "not revoked" on the
// word of a list past its next update.
func TestCertsShowWithAStaleCRL(t *testing.T) {
	pki := peertest.NewPKI(t)
	bob := pki.Issue(t, peertest.Leaf{Name: "bob"})
	next := time.Now().Add(-24 * time.Hour)
	pki.WriteCRL(t, filepath.Join(pki.Dir, "crl.pem"), peertest.CRL{ThisUpdate: next.Add(-30 * 24 * time.Hour), NextUpdate: next})
	stdout, stderr, code := runPeerchat(t, "", "certs", "show", "--certs-dir", pki.Dir, bob.Cert)
	want := "  revoked      cannot tell: " + pki.Dir + "/crl.pem lists 0, but it is past its next update (" + next.UTC().Format("2006-01-02 15:04 MST") +
		"), so later revocations are missing; re-sign it with `scripts/gen-certs.sh -d " + pki.Dir + " crl`, then give it to your peers again\n"
	if code != 0 || !strings.Contains(stdout, want) {
		t.Errorf("exit %d, stderr %q, stdout:\n%s\nwant %q", code, stderr, stdout, want)
	}
}
