package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"peerchat/peer"
	"peerchat/peer/peertest"
)

// A user is one person's side: a config directory of their own (where
// the contacts file lives) and the environment that points at it.
type user struct {
	env      []string
	contacts string
}

func newUser(t *testing.T) user {
	t.Helper()
	cfg := t.TempDir()
	return user{
		env:      []string{"XDG_CONFIG_HOME=" + cfg, "TZ=UTC", "NO_COLOR=1"},
		contacts: filepath.Join(cfg, "peerchat", "contacts"),
	}
}

// run runs peerchat as this user to completion.
func (u user) run(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runPeerchatEnv(t, u.env, stdin, args...)
}

// must runs peerchat as this user and fails the test unless it exits 0.
func (u user) must(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, code := u.run(t, "", args...)
	if code != 0 {
		t.Fatalf("peerchat %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
	}
	return stdout, stderr
}

func (u user) listen(t *testing.T, args ...string) (*proc, string) {
	t.Helper()
	p := startEnv(t, u.env, append([]string{"listen", "--addr", "127.0.0.1:0", "-k"}, args...)...)
	m := p.waitLine(`listening on (\S+) as`)
	return p, m[1]
}

func (u user) file(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(u.contacts)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// contactLine is the line of the contacts file for name.
func contactLine(t *testing.T, file, name string) []string {
	t.Helper()
	for _, l := range strings.Split(file, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name {
			return f
		}
	}
	t.Fatalf("no line for %s in the contacts file:\n%s", name, file)
	return nil
}

// reissue gives name a second key and certificate from the same CA, in a
// directory of its own beside the CA certificate, and returns that
// directory and the new certificate's fingerprint; pki.Dir keeps the first.
func reissue(t *testing.T, pki *peertest.PKI, name string) (dir, fp string) {
	t.Helper()
	saved, dir := t.TempDir(), t.TempDir()
	copyFile(t, filepath.Join(pki.Dir, "ca.crt"), filepath.Join(dir, "ca.crt"))
	for _, ext := range []string{".crt", ".key"} {
		copyFile(t, filepath.Join(pki.Dir, name+ext), filepath.Join(saved, name+ext))
	}
	pki.Issue(t, peertest.Leaf{Name: name})
	for _, ext := range []string{".crt", ".key"} {
		copyFile(t, filepath.Join(pki.Dir, name+ext), filepath.Join(dir, name+ext))
		copyFile(t, filepath.Join(saved, name+ext), filepath.Join(pki.Dir, name+ext))
	}
	return dir, peer.Fingerprint(peertest.Cert(t, filepath.Join(dir, name+".crt")))
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestContactTrustOnFirstUseThenChangedCertificateThenPin follows bob's
// contact alice through her life: the first dial pins her certificate and
// says so; when she turns up with another certificate (same name, same CA)
// bob is refused, exit 3, with both fingerprints and the command to run;
// after `contacts pin` the new one is accepted.
func TestContactTrustOnFirstUseThenChangedCertificateThenPin(t *testing.T) {
	pki := peertest.NewPKI(t)
	pki.Issue(t, peertest.Leaf{Name: "alice"})
	pki.Issue(t, peertest.Leaf{Name: "bob"})
	oldFP := peer.Fingerprint(peertest.Cert(t, filepath.Join(pki.Dir, "alice.crt")))
	newDir, newFP := reissue(t, pki, "alice")
	if oldFP == newFP {
		t.Fatal("reissued certificate has the same fingerprint")
	}
	alice, bob := newUser(t), newUser(t)

	l1, addr1 := alice.listen(t, "--certs-dir", pki.Dir, "--name", "alice")
	bob.must(t, "contacts", "add", "alice", addr1)
	if f := contactLine(t, bob.file(t), "alice"); f[2] != "-" {
		t.Fatalf("a contact added without a fingerprint is pinned: %q", f)
	}

	_, stderr, code := bob.run(t, "first\n", "dial", "--certs-dir", pki.Dir, "--name", "bob", "alice")
	if code != 0 {
		t.Fatalf("first dial of contact alice: exit %d\n%s", code, stderr)
	}
	want := "peerchat: first connection to contact alice: pinned its certificate fingerprint " + oldFP + " ("
	if n := strings.Count(stderr, "pinned"); n != 1 || !strings.Contains(stderr, want) {
		t.Errorf("the first dial does not say once that it pinned %s; stderr:\n%s", oldFP, stderr)
	}
	l1.waitOut(`bob: first$`)
	if f := contactLine(t, bob.file(t), "alice"); f[2] != oldFP || f[3] == "-" {
		t.Errorf("after the first dial alice's line is %q, want pin %s and a last-connected time", f, oldFP)
	}

	// alice comes back with another certificate; bob edits her address
	// by hand, as the file's header allows.
	l2, addr2 := alice.listen(t, "--certs-dir", newDir, "--name", "alice")
	edited := strings.Replace(bob.file(t), addr1, addr2, 1)
	if err := os.WriteFile(bob.contacts, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = bob.run(t, "second\n", "dial", "--certs-dir", pki.Dir, "--name", "bob", "alice")
	if code != exitTrust {
		t.Fatalf("dial of alice with a changed certificate: exit %d, want %d\n%s", code, exitTrust, stderr)
	}
	for _, w := range []string{oldFP, newFP, "`peerchat contacts pin alice " + newFP + "`"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("the refusal does not show %q:\n%s", w, stderr)
		}
	}
	if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 {
		t.Errorf("the refusal is not one line:\n%s", stderr)
	}
	if strings.Contains(l2.out(), "second") {
		t.Errorf("the message reached the changed certificate:\n%s", l2.out())
	}
	if f := contactLine(t, bob.file(t), "alice"); f[2] != oldFP {
		t.Errorf("a refused connection changed the pin: %q", f)
	}

	bob.must(t, "contacts", "pin", "alice", newFP)
	_, stderr, code = bob.run(t, "third\n", "dial", "--certs-dir", pki.Dir, "--name", "bob", "alice")
	if code != 0 {
		t.Fatalf("dial after contacts pin: exit %d\n%s", code, stderr)
	}
	if strings.Contains(stderr, "pinned") {
		t.Errorf("a pinned contact is pinned again:\n%s", stderr)
	}
	l2.waitOut(`bob: third$`)
}

// TestContactNameMustBeThePeerName: dialing a contact demands its name,
// whatever else the certificate is valid for; carol's certificate, here
// valid for the dialed host too, is refused as alice.
func TestContactNameMustBeThePeerName(t *testing.T) {
	pki := peertest.NewPKI(t)
	pki.Issue(t, peertest.Leaf{Name: "carol"})
	pki.Issue(t, peertest.Leaf{Name: "bob"})
	carol, bob := newUser(t), newUser(t)
	l, addr := carol.listen(t, "--certs-dir", pki.Dir, "--name", "carol")
	bob.must(t, "contacts", "add", "alice", addr)
	_, stderr, code := bob.run(t, "secret\n", "dial", "--certs-dir", pki.Dir, "--name", "bob", "alice")
	if code != exitTrust {
		t.Fatalf("dialing contact alice reached carol: exit %d, want %d\n%s", code, exitTrust, stderr)
	}
	if strings.Contains(l.out(), "secret") {
		t.Errorf("carol received the message meant for alice")
	}
	// The usual hint, "pass --peer carol", would only meet "alice is a
	// contact, so the peer must be alice": the hint says what works.
	want := "peerchat: the listener at " + addr + " is carol, not alice: the peer name in its certificate is carol; " +
		"contact alice is at " + addr + " (in " + bob.contacts + "), where carol listens now: if alice has moved, change that line; if carol is who you meant to reach, give --peer carol " + addr + " instead of alice"
	if last := lastLine(stderr); last != want {
		t.Errorf("the refusal:\n  %s\nwant:\n  %s", last, want)
	}
	if f := contactLine(t, bob.file(t), "alice"); f[2] != "-" {
		t.Errorf("carol's certificate was pinned as alice's: %q", f)
	}
}

// TestListenerHoldsAContactToItsPin: a listener whose contact bob is
// pinned refuses another certificate for bob (exit 3 for the dialer);
// an unpinned contact is pinned by the listener on first connection, and
// its last connection recorded. It needs Config.PinFor enforced by
// package peer.
func TestListenerHoldsAContactToItsPin(t *testing.T) {
	pki := peertest.NewPKI(t)
	pki.Issue(t, peertest.Leaf{Name: "alice"})
	pki.Issue(t, peertest.Leaf{Name: "bob"})
	bobFP := peer.Fingerprint(peertest.Cert(t, filepath.Join(pki.Dir, "bob.crt")))
	newDir, newFP := reissue(t, pki, "bob")
	alice, bob := newUser(t), newUser(t)

	alice.must(t, "contacts", "add", "bob", "192.0.2.9")
	l, addr := alice.listen(t, "--certs-dir", pki.Dir, "--name", "alice")
	if _, stderr, code := bob.run(t, "hi\n", "dial", "--certs-dir", pki.Dir, "--name", "bob", addr); code != 0 {
		t.Fatalf("bob's first dial: exit %d\n%s", code, stderr)
	}
	l.waitOut(`bob: hi$`)
	l.waitLine(`^peerchat: first connection to contact bob: pinned its certificate fingerprint ` + regexp.QuoteMeta(bobFP) + ` `)
	if f := contactLine(t, alice.file(t), "bob"); f[2] != bobFP || f[3] == "-" {
		t.Errorf("the listener did not pin and record bob: %q", f)
	}

	// The file is read at each connection: no restart needed.
	_, stderr, code := bob.run(t, "impostor\n", "dial", "--certs-dir", newDir, "--name", "bob", addr)
	if code != exitTrust {
		t.Fatalf("bob with another certificate (%s): exit %d, want %d\n%s", newFP, code, exitTrust, stderr)
	}
	if strings.Contains(l.out(), "impostor") {
		t.Errorf("the listener took a message from a certificate that is not bob's pin:\n%s", l.out())
	}
}

// TestContactsFileDamaged: a line peerchat cannot read is an error that
// names the file and the line, from every command that reads the file,
// and the file is left exactly as it was.
func TestContactsFileDamaged(t *testing.T) {
	u := newUser(t)
	u.must(t, "contacts", "add", "alice", "192.0.2.7")
	damaged := u.file(t) + "bob 192.0.2.8 not-a-fingerprint -\n"
	if err := os.WriteFile(u.contacts, []byte(damaged), 0o600); err != nil {
		t.Fatal(err)
	}
	line := strings.Count(damaged, "\n")
	want := fmt.Sprintf("contacts file %s, line %d: ", u.contacts, line)
	dir := certsDir(t)
	for _, args := range [][]string{
		{"contacts", "list"},
		{"contacts", "add", "carol", "192.0.2.9"},
		{"contacts", "pin", "alice", strings.Repeat("AB", 32)},
		{"contacts", "remove", "alice"},
		{"dial", "--certs-dir", dir, "--name", "bob", "alice"},
		{"listen", "--certs-dir", dir, "--name", "alice", "--addr", "127.0.0.1:0"},
	} {
		_, stderr, code := u.run(t, "", args...)
		if code == 0 || !strings.Contains(stderr, want) {
			t.Errorf("peerchat %s: exit %d, stderr %q; want an error with %q", strings.Join(args, " "), code, stderr, want)
		}
		if got := u.file(t); got != damaged {
			t.Fatalf("peerchat %s changed the damaged file:\n%s", strings.Join(args, " "), got)
		}
	}
}

// TestContactsConcurrentWriters runs twenty peerchat processes at once,
// ten adding contacts and ten pinning others: every change is kept.
func TestContactsConcurrentWriters(t *testing.T) {
	u := newUser(t)
	const n = 10
	fp := func(i int) string {
		return strings.TrimSuffix(strings.Repeat(fmt.Sprintf("%02X:", i+1), 32), ":")
	}
	for i := range n {
		u.must(t, "contacts", "add", fmt.Sprintf("pin%d", i), fmt.Sprintf("192.0.2.%d", i+1))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 2*n)
	for i := range n {
		for _, args := range [][]string{
			{"contacts", "add", fmt.Sprintf("add%d", i), fmt.Sprintf("198.51.100.%d:%d", i+1, 7000+i)},
			{"contacts", "pin", fmt.Sprintf("pin%d", i), fp(i)},
		} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, stderr, code := u.run(t, "", args...); code != 0 {
					errs <- fmt.Sprintf("peerchat %s: exit %d: %s", strings.Join(args, " "), code, stderr)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	file := u.file(t)
	for i := range n {
		if f := contactLine(t, file, fmt.Sprintf("add%d", i)); f[1] != fmt.Sprintf("198.51.100.%d:%d", i+1, 7000+i) {
			t.Errorf("add%d: %q", i, f)
		}
		if f := contactLine(t, file, fmt.Sprintf("pin%d", i)); f[2] != fp(i) {
			t.Errorf("pin%d lost its pin: %q", i, f)
		}
	}
	fi, err := os.Stat(u.contacts)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("contacts file mode %v, want 0600", fi.Mode().Perm())
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(u.contacts), ".contacts.tmp*")); len(left) > 0 {
		t.Errorf("temporary files left behind: %q", left)
	}
}

// TestContactsListAndFingerprintForms: every form peerchat and openssl
// print a fingerprint in is taken, stored in one form, and listed whole;
// a prefix is not enough for a contact.
func TestContactsListAndFingerprintForms(t *testing.T) {
	u := newUser(t)
	full := "57:42:" + strings.TrimSuffix(strings.Repeat("0A:", 30), ":")
	bare := strings.ToLower(strings.ReplaceAll(full, ":", ""))
	u.must(t, "contacts", "add", "alice", "192.0.2.7", "--fingerprint", "sha256 Fingerprint="+full)
	u.must(t, "contacts", "add", "--fingerprint", bare, "bob", "[2001:db8::1]:9000")
	u.must(t, "contacts", "add", "carol", "chat.example")
	u.must(t, "contacts", "add", "dave", "192.0.2.9")
	u.must(t, "contacts", "pin", "dave", "SHA256 Fingerprint="+bare)
	// A last connection, as a dial would have recorded it.
	file := strings.Replace(u.file(t), "chat.example:7443 - -", "chat.example:7443 - 2026-12-04T17:05:09Z", 1)
	if err := os.WriteFile(u.contacts, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}

	stdout, _ := u.must(t, "contacts", "list")
	want := "" +
		"NAME   ADDRESS             FINGERPRINT (SHA-256)                                                                            LAST CONNECTED\n" +
		"alice  192.0.2.7:7443      " + full + "  never\n" +
		"bob    [2001:db8::1]:9000  " + full + "  never\n" +
		"carol  chat.example:7443   not pinned yet                                                                                   2026-12-04 17:05\n" +
		"dave   192.0.2.9:7443      " + full + "  never\n"
	if stdout != want {
		t.Errorf("contacts list:\n%s\nwant:\n%s", stdout, want)
	}

	for _, bad := range []struct{ args []string }{
		{[]string{"contacts", "add", "eve", "192.0.2.10", "--fingerprint", full[:23]}},
		{[]string{"contacts", "pin", "alice", full[:23]}},
		{[]string{"contacts", "add", "alice", "192.0.2.11"}},
		{[]string{"contacts", "pin", "nobody", full}},
		{[]string{"contacts", "remove", "nobody"}},
	} {
		if _, stderr, code := u.run(t, "", bad.args...); code != exitUsage {
			t.Errorf("peerchat %s: exit %d, want %d\n%s", strings.Join(bad.args, " "), code, exitUsage, stderr)
		}
	}
	if got := u.file(t); got != file {
		t.Errorf("refused commands changed the file:\n%s", got)
	}
	u.must(t, "contacts", "remove", "carol")
	if strings.Contains(u.file(t), "carol") {
		t.Errorf("carol is still in the file after remove:\n%s", u.file(t))
	}
}

// TestSendToAContact: `send NAME FILE` dials the contact, pins it on
// first use like dial, and delivers the file.
func TestSendToAContact(t *testing.T) {
	pki := peertest.NewPKI(t)
	pki.Issue(t, peertest.Leaf{Name: "alice"})
	pki.Issue(t, peertest.Leaf{Name: "bob"})
	aliceFP := peer.Fingerprint(peertest.Cert(t, filepath.Join(pki.Dir, "alice.crt")))
	alice, bob := newUser(t), newUser(t)
	down := t.TempDir()
	_, addr := alice.listen(t, "--certs-dir", pki.Dir, "--name", "alice", "--accept-files", "--download-dir", down)
	bob.must(t, "contacts", "add", "alice", addr)
	file := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(file, []byte("for alice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr := bob.must(t, "send", "--certs-dir", pki.Dir, "--name", "bob", "alice", file)
	if !strings.Contains(stderr, "first connection to contact alice: pinned its certificate fingerprint "+aliceFP) {
		t.Errorf("send did not pin alice on first use:\n%s", stderr)
	}
	if b, err := os.ReadFile(filepath.Join(down, "notes.txt")); err != nil || string(b) != "for alice\n" {
		t.Errorf("alice received %q, %v", b, err)
	}
	if f := contactLine(t, bob.file(t), "alice"); f[2] != aliceFP {
		t.Errorf("alice's line after send: %q", f)
	}
}

// TestContactTrustOnFirstUseRace: two of bob's peerchats reach two
// certificates named alice at once (her real one, through the contact,
// and another, by address), while contact alice is not pinned yet.
// Whichever pins first wins: the other is refused, exit 3, and delivers
// nothing; the file pins the winner's fingerprint and nobody else's.
func TestContactTrustOnFirstUseRace(t *testing.T) {
	pki := peertest.NewPKI(t)
	pki.Issue(t, peertest.Leaf{Name: "alice"})
	pki.Issue(t, peertest.Leaf{Name: "bob"})
	realFP := peer.Fingerprint(peertest.Cert(t, filepath.Join(pki.Dir, "alice.crt")))
	otherDir, otherFP := reissue(t, pki, "alice")
	alice, other, bob := newUser(t), newUser(t), newUser(t)
	l1, addr1 := alice.listen(t, "--certs-dir", pki.Dir, "--name", "alice")
	l2, addr2 := other.listen(t, "--certs-dir", otherDir, "--name", "alice")
	bob.must(t, "contacts", "add", "alice", addr1)

	type result struct {
		code   int
		stderr string
	}
	var wg sync.WaitGroup
	results := make([]result, 2)
	for i, args := range [][]string{
		{"dial", "--certs-dir", pki.Dir, "--name", "bob", "alice"},
		{"dial", "--certs-dir", pki.Dir, "--name", "bob", "--peer", "alice", addr2},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, stderr, code := bob.run(t, fmt.Sprintf("message %d\n", i), args...)
			results[i] = result{code, stderr}
		}()
	}
	wg.Wait()
	pin := contactLine(t, bob.file(t), "alice")[2]
	var winner int
	switch {
	case results[0].code == 0 && results[1].code == exitTrust && pin == realFP:
		winner = 0
	case results[1].code == 0 && results[0].code == exitTrust && pin == otherFP:
		winner = 1
	default:
		t.Fatalf("exits %d and %d, pin %s (alice's %s, the other %s); want one 0 with its pin, the other %d\n%s\n%s",
			results[0].code, results[1].code, pin, realFP, otherFP, exitTrust, results[0].stderr, results[1].stderr)
	}
	if n := strings.Count(results[0].stderr+results[1].stderr, "pinned its certificate"); n != 1 {
		t.Errorf("%d pinning notices, want 1:\n%s\n%s", n, results[0].stderr, results[1].stderr)
	}
	loser := 1 - winner
	for _, w := range []string{realFP, otherFP, "peerchat contacts pin alice "} {
		if !strings.Contains(results[loser].stderr, w) {
			t.Errorf("the refused dial does not say %q:\n%s", w, results[loser].stderr)
		}
	}
	[]*proc{l1, l2}[winner].waitOut(fmt.Sprintf(`bob: message %d$`, winner))
	if out := []*proc{l1, l2}[loser].out(); strings.Contains(out, "message") {
		t.Errorf("the refused dial delivered:\n%s", out)
	}
}
