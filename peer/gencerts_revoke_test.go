package peer_test

import (
	"path/filepath"
	"strings"
	"testing"

	"peerchat/peer"
)

// TestGenCertsRevocationIsHonoured revokes carol with the script behind
// `make certs` and checks that the crl.pem it writes is what peerchat
// loads: carol's own bundle is refused at start, and both roles refuse
// her certificate in a handshake.
func TestGenCertsRevocationIsHonoured(t *testing.T) {
	needOpenSSL(t)
	dir := t.TempDir()
	mustGenCerts(t, "-d", dir, "alice", "bob", "carol")
	mustGenCerts(t, "-d", dir, "revoke", "carol")
	crl := filepath.Join(dir, "crl.pem")
	load := func(name string) (*peer.Identity, error) {
		f := peer.FilesFor(dir, name)
		f.CRL = crl
		return peer.LoadIdentity(f)
	}
	alice, err := load("alice")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := load("bob")
	if err != nil {
		t.Fatal(err)
	}
	if alice.CRL.Len() != 1 {
		t.Errorf("the list from gen-certs.sh revokes %d certificates, want 1", alice.CRL.Len())
	}
	if _, err := load("carol"); err == nil || !strings.Contains(err.Error(), "carol.crt (serial ") || !strings.Contains(err.Error(), "is revoked by "+crl) {
		t.Errorf("carol's own bundle: %v", err)
	}
	carol, err := peer.LoadIdentityUnchecked(peer.FilesFor(dir, "carol"))
	if err != nil {
		t.Fatal(err)
	}

	// alice listens and refuses carol.
	l, rejected := startListener(t, peer.Config{Identity: alice})
	_, err = peer.Dial(testContext(t), l.Addr().String(), peer.Config{Identity: carol})
	if err == nil || !strings.Contains(err.Error(), "refused us: your certificate (carol, serial ") {
		t.Errorf("carol dialing alice: %v", err)
	}
	if r := <-rejected; !strings.Contains(r.err.Error(), "carol's certificate (serial ") {
		t.Errorf("alice reported: %v", r.err)
	}

	// carol listens; bob refuses her.
	l2, _ := startListener(t, peer.Config{Identity: carol})
	_, err = peer.Dial(testContext(t), l2.Addr().String(), peer.Config{Identity: bob, Peer: "carol"})
	if err == nil || !strings.Contains(err.Error(), "is carol, whose certificate (serial ") {
		t.Errorf("bob dialing carol: %v", err)
	}
}
