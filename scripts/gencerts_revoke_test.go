package scripts_test

import (
	"net"
	"path/filepath"
	"strings"
	"testing"

	"peerchat/peer"
	"peerchat/peer/peertest"
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
	// carol, who does not load the list, still presents her certificate.
	carol, err := peer.LoadIdentity(peer.FilesFor(dir, "carol"))
	if err != nil {
		t.Fatal(err)
	}

	// alice listens and refuses carol.
	refused := make(chan error, 1)
	l := peertest.Listen(t, peer.Config{Identity: alice, OnReject: func(_ net.Addr, err error) { refused <- err }})
	_, err = peer.Dial(peertest.Context(t), l.Addr().String(), peer.Config{Identity: carol})
	if err == nil || !strings.Contains(err.Error(), "refused us: your certificate (carol, serial ") {
		t.Errorf("carol dialing alice: %v", err)
	}
	if err := <-refused; !strings.Contains(err.Error(), "carol's certificate (serial ") {
		t.Errorf("alice reported: %v", err)
	}

	// carol listens; bob refuses her.
	l2 := peertest.Listen(t, peer.Config{Identity: carol})
	_, err = peer.Dial(peertest.Context(t), l2.Addr().String(), peer.Config{Identity: bob, Peer: "carol"})
	if err == nil || !strings.Contains(err.Error(), "is carol, whose certificate (serial ") {
		t.Errorf("bob dialing carol: %v", err)
	}
}
