package peer_test

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"peerchat/peer"
	"peerchat/peer/peertest"
)

// crlPKI makes a PKI with alice and bob and an empty crl.pem, and loads
// name's bundle with that list and a CRL numbers file of its own, as the
// CLI does.
func crlPKI(t *testing.T) (pki *peertest.PKI, files map[string]peer.Files, crl string) {
	t.Helper()
	pki = peertest.NewPKI(t)
	crl = pki.WriteCRL(t, filepath.Join(pki.Dir, "crl.pem"), peertest.CRL{})
	files = make(map[string]peer.Files)
	for _, name := range []string{"alice", "bob"} {
		f := pki.Issue(t, peertest.Leaf{Name: name})
		f.CRL, f.CRLNumbers = crl, filepath.Join(t.TempDir(), "crl-numbers")
		files[name] = f
	}
	return pki, files, crl
}

func load(t *testing.T, f peer.Files) *peer.Identity {
	t.Helper()
	id, err := peer.LoadIdentity(f)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// dialRefused dials l with cfg, which must be refused, and returns why.
func dialRefused(t *testing.T, l *peer.Listener, cfg peer.Config) error {
	t.Helper()
	s, err := peer.Dial(testContext(t), l.Addr().String(), cfg)
	if err == nil {
		s.Close()
		t.Fatal("dial succeeded, want a refusal")
	}
	return err
}

func nextRejection(t *testing.T, rejected <-chan rejection) error {
	t.Helper()
	select {
	case r := <-rejected:
		return r.err
	case <-time.After(testTimeout):
		t.Fatal("the listener reported no refusal")
		return nil
	}
}

// TestRevocationListIsReadAgainWhenItChanges: a certificate revoked while
// a listener (listen -k) or a dialer keeps running is refused at its next
// connection, by both roles, without a restart.
func TestRevocationListIsReadAgainWhenItChanges(t *testing.T) {
	t.Run("listener", func(t *testing.T) {
		pki, files, crl := crlPKI(t)
		alice, bob := load(t, files["alice"]), load(t, files["bob"])
		l, rejected := startListener(t, peer.Config{Identity: alice, ResumeWait: -1})
		if err := dialExpecting(t, l, peer.Config{Identity: bob}, false); err != nil {
			t.Fatal(err)
		}

		pki.Revoke(t, bob.Leaf)
		serial := peer.Serial(bob.Leaf.SerialNumber)
		err := dialRefused(t, l, peer.Config{Identity: bob})
		if te := wantErrorAs[*peer.TrustError](t, err); !strings.Contains(te.Error(), "refused us: your certificate (bob, serial "+serial+") is revoked by alice's revocation list since ") {
			t.Errorf("bob's dial: %v", err)
		}
		if err := nextRejection(t, rejected); err.Error() != fmt.Sprintf("bob's certificate (serial %s) is revoked by %s since %s; revoked means its key was reported lost or stolen: do not chat with it; bob needs a new certificate", serial, crl, time.Now().Format(time.DateOnly)) {
			t.Errorf("alice reported: %v", err)
		}
	})
	t.Run("dialer", func(t *testing.T) {
		pki, files, crl := crlPKI(t)
		alice, bob := load(t, files["alice"]), load(t, files["bob"])
		l, _ := startListener(t, peer.Config{Identity: alice, ResumeWait: -1})
		if err := dialExpecting(t, l, peer.Config{Identity: bob}, false); err != nil {
			t.Fatal(err)
		}
		pki.Revoke(t, alice.Leaf)
		err := dialRefused(t, l, peer.Config{Identity: bob})
		want := fmt.Sprintf("the listener at %s is alice, whose certificate (serial %s) is revoked by %s since ", l.Addr(), peer.Serial(alice.Leaf.SerialNumber), crl)
		if te := wantErrorAs[*peer.TrustError](t, err); !strings.HasPrefix(te.Error(), want) {
			t.Errorf("bob's dial: %v\nwant %s…", err, want)
		}
	})
}

// TestRevocationListThatBreaksRefusesEveryone: a list that no longer
// loads is not replaced by the one read before (which would let in the
// certificate the new list was meant to revoke): every peer is refused,
// told why, until the file is fixed.
func TestRevocationListThatBreaksRefusesEveryone(t *testing.T) {
	pki, files, crl := crlPKI(t)
	bobFiles := files["bob"]
	bobFiles.CRL = "" // only alice's list breaks
	alice, bob := load(t, files["alice"]), load(t, bobFiles)
	l, rejected := startListener(t, peer.Config{Identity: alice, ResumeWait: -1})

	if err := os.WriteFile(crl, []byte("-----BEGIN X509 CRL-----\nAAAA\n"), 0o644); err != nil { // a copy cut short
		t.Fatal(err)
	}
	err := dialRefused(t, l, peer.Config{Identity: bob})
	if !strings.Contains(err.Error(), "alice's revocation list is out of date or unreadable, so alice accepts no certificate until it is fixed; try again later") {
		t.Errorf("bob's dial: %v", err)
	}
	wantErrorAs[*peer.TrustError](t, err)
	if err := nextRejection(t, rejected); !strings.HasPrefix(err.Error(), crl+" is not a revocation list: ") {
		t.Errorf("alice reported: %v", err)
	}

	other := peertest.NewPKI(t).WriteCRL(t, filepath.Join(t.TempDir(), "crl.pem"), peertest.CRL{})
	if err := os.Rename(other, crl); err != nil {
		t.Fatal(err)
	}
	dialRefused(t, l, peer.Config{Identity: bob})
	if err := nextRejection(t, rejected); !strings.HasPrefix(err.Error(), "revocation list "+crl+" is not signed by our CA (peertest CA)") {
		t.Errorf("alice reported: %v", err)
	}

	pki.WriteCRL(t, crl, peertest.CRL{}) // fixed
	if err := dialExpecting(t, l, peer.Config{Identity: bob}, false); err != nil {
		t.Fatal(err)
	}
}

// TestRevocationListLapsingWhileListening: a list that passes its next
// update while the listener runs refuses the next connection, saying so.
func TestRevocationListLapsingWhileListening(t *testing.T) {
	pki, files, crl := crlPKI(t)
	next := time.Now().Add(time.Hour)
	pki.WriteCRL(t, crl, peertest.CRL{ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: next})
	alice, bob := load(t, files["alice"]), load(t, files["bob"])
	var now atomic.Pointer[time.Time]
	start := time.Now()
	now.Store(&start)
	peer.SetCRLClock(alice, func() time.Time { return *now.Load() })
	l, rejected := startListener(t, peer.Config{Identity: alice, ResumeWait: -1})
	if err := dialExpecting(t, l, peer.Config{Identity: bob}, false); err != nil {
		t.Fatal(err)
	}

	later := next.Add(time.Minute)
	now.Store(&later)
	err := dialRefused(t, l, peer.Config{Identity: bob})
	if !strings.Contains(err.Error(), "alice's revocation list is out of date or unreadable") {
		t.Errorf("bob's dial: %v", err)
	}
	err = nextRejection(t, rejected)
	want := fmt.Sprintf("revocation list %s is past its next update (%s): certificates revoked since may be missing from it, so no certificate can be checked against it; get a freshly signed one from the CA's owner",
		crl, next.UTC().Format("2006-01-02 15:04 MST"))
	if err.Error() != want {
		t.Errorf("alice reported\n  %v\nwant\n  %s", err, want)
	}
	if stale := wantErrorAs[*peer.StaleCRLError](t, err); !stale.NextUpdate.Equal(next.Truncate(time.Second)) || stale.Path != crl {
		t.Errorf("StaleCRLError %+v", stale)
	}
}

// TestRolledBackRevocationListIsRefused: an older list of the same CA,
// validly signed, put back over a newer one, is refused at start and on
// the next connection of a running listener, naming both numbers and the
// file that remembers the higher one; the file is private, readable, and
// survives the refusal.
func TestRolledBackRevocationListIsRefused(t *testing.T) {
	pki, files, crl := crlPKI(t)
	bobCert := peertest.Cert(t, files["bob"].Cert)
	pki.WriteCRL(t, crl, peertest.CRL{Number: 7, Revoked: []*x509.Certificate{bobCert}})
	numbers := files["alice"].CRLNumbers
	alice := load(t, files["alice"])

	b, err := os.ReadFile(numbers)
	if err != nil {
		t.Fatal(err)
	}
	line := peer.Fingerprint(pki.CA) + " 7 peertest CA\n"
	if !strings.HasPrefix(string(b), "# peerchat: the highest revocation list (CRL) number seen for each CA,\n") || !strings.HasSuffix(string(b), "\n"+line) {
		t.Errorf("%s holds:\n%s", numbers, b)
	}
	if fi, err := os.Stat(numbers); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, mode %v; want 0600", numbers, err, fi.Mode())
	}

	// The stolen laptop's owner puts back list number 6, from before
	// bob's revocation.
	l, rejected := startListener(t, peer.Config{Identity: alice, ResumeWait: -1})
	pki.WriteCRL(t, crl, peertest.CRL{Number: 6})
	bob, err := peer.LoadIdentityUnchecked(files["bob"])
	if err != nil {
		t.Fatal(err)
	}
	dialRefused(t, l, peer.Config{Identity: bob})
	want := fmt.Sprintf("revocation list %s is number 6, but number 7 from the same CA (peertest CA) was seen before (remembered in %s): an older list may leave out revocations, so it is refused; get the newest crl.pem from the CA's owner; if the CA's list was started over on purpose, delete the CA's line from %s", crl, numbers, numbers)
	err = nextRejection(t, rejected)
	if err.Error() != want {
		t.Errorf("alice reported\n  %v\nwant\n  %s", err, want)
	}
	if rb := wantErrorAs[*peer.CRLRollbackError](t, err); rb.Number.Int64() != 6 || rb.Highest.Int64() != 7 || rb.File != numbers {
		t.Errorf("CRLRollbackError %+v", rb)
	}
	if _, err := peer.LoadIdentity(files["alice"]); err == nil || err.Error() != want {
		t.Errorf("starting again: %v\nwant %s", err, want)
	}
	if b2, _ := os.ReadFile(numbers); string(b2) != string(b) {
		t.Errorf("the refusal changed %s:\n%s", numbers, b2)
	}

	// A newer list is taken, and remembered.
	pki.WriteCRL(t, crl, peertest.CRL{Number: 9, Revoked: []*x509.Certificate{bobCert}})
	if _, err := peer.LoadIdentity(files["alice"]); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(numbers); !strings.HasSuffix(string(b), "\n"+peer.Fingerprint(pki.CA)+" 9 peertest CA\n") {
		t.Errorf("%s holds:\n%s", numbers, b)
	}
}

// TestCRLNumbersFileLosesNoUpdate: peerchat processes starting at once,
// each with its own CA's list or a newer list of a shared CA, all update
// one numbers file; every CA ends with its highest number.
func TestCRLNumbersFileLosesNoUpdate(t *testing.T) {
	numbers := filepath.Join(t.TempDir(), "config", "peerchat", "crl-numbers")
	const cas, lists = 6, 5
	var bundles []peer.Files
	var pkis []*peertest.PKI
	for i := range cas {
		pki := peertest.NewPKIIn(t, t.TempDir(), fmt.Sprintf("CA %d", i))
		f := pki.Issue(t, peertest.Leaf{Name: "alice"})
		for n := 1; n <= lists; n++ {
			g := f
			g.CRL = pki.WriteCRL(t, filepath.Join(pki.Dir, fmt.Sprintf("crl%d.pem", n)), peertest.CRL{Number: int64(n)})
			g.CRLNumbers = numbers
			bundles = append(bundles, g)
		}
		pkis = append(pkis, pki)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(bundles))
	for _, f := range bundles {
		wg.Go(func() {
			_, err := peer.LoadIdentity(f)
			var rb *peer.CRLRollbackError
			if err != nil && !errors.As(err, &rb) { // a lower number after a higher one is refused, rightly
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	b, err := os.ReadFile(numbers)
	if err != nil {
		t.Fatal(err)
	}
	for i, pki := range pkis {
		if line := fmt.Sprintf("\n%s %d CA %d\n", peer.Fingerprint(pki.CA), lists, i); !strings.Contains(string(b), line) {
			t.Errorf("%s lacks %q:\n%s", numbers, line[1:], b)
		}
	}
	if n := strings.Count(string(b), "\n") - strings.Count(string(b), "\n#") - 1; n != cas {
		t.Errorf("%s has %d lines for CAs, want %d:\n%s", numbers, n, cas, b)
	}
}

// TestRevocationListRewrittenInPlaceWithinOneTick: a list copied over the
// old one in place (same inode), with the same size, within the file
// system's clock tick (same modification time) still counts as changed,
// because a file read within two seconds of its modification is read
// again at the next connection.
func TestRevocationListRewrittenInPlaceWithinOneTick(t *testing.T) {
	pki, files, crl := crlPKI(t)
	carol := peertest.Cert(t, pki.Issue(t, peertest.Leaf{Name: "carol"}).Cert)
	bobFiles := files["bob"]
	bobFiles.CRL = ""
	bobCert := peertest.Cert(t, bobFiles.Cert)

	// Lists revoking carol, then bob: the same size once their ECDSA
	// signatures (70 to 72 bytes) come out the same length.
	tmp := t.TempDir()
	var before, after []byte
	for i := 0; len(before) == 0 || len(before) != len(after); i++ {
		if i == 100 {
			t.Fatal("no two lists of one size in 100 tries")
		}
		before = readFile(t, pki.WriteCRL(t, filepath.Join(tmp, "before.pem"), peertest.CRL{Revoked: []*x509.Certificate{carol}}))
		after = readFile(t, pki.WriteCRL(t, filepath.Join(tmp, "after.pem"), peertest.CRL{Revoked: []*x509.Certificate{bobCert}}))
	}
	if err := os.WriteFile(crl, before, 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(crl)
	if err != nil {
		t.Fatal(err)
	}
	// Loaded at once, as a listener started just after the CA's owner
	// wrote the list. (Only this read must come within two seconds.)
	alice := load(t, files["alice"])
	l, _ := startListener(t, peer.Config{Identity: alice, ResumeWait: -1})

	if err := os.WriteFile(crl, after, 0o644); err != nil { // in place: O_TRUNC, same inode
		t.Fatal(err)
	}
	if err := os.Chtimes(crl, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if fi2, err := os.Stat(crl); err != nil || !os.SameFile(fi, fi2) || fi2.Size() != fi.Size() || !fi2.ModTime().Equal(fi.ModTime()) {
		t.Fatalf("the rewrite is not invisible to stat: %v %v", fi2, err)
	}
	err = dialRefused(t, l, peer.Config{Identity: load(t, bobFiles)})
	if !strings.Contains(err.Error(), "your certificate (bob, serial ") {
		t.Errorf("bob's dial: %v", err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
