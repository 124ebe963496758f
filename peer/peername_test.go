package peer_test

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"testing"

	"peerchat/peer"
	"peerchat/peer/peertest"
)

// The peer name is the certificate's one subject common name. These
// certificates, signed by the right CA, carry "alice" elsewhere: as a DNS
// name with no common name (which certName once fell back to), or as the
// last of two common names (Go reads the last, openssl shows both). None
// passes for alice, in either role, and none is accepted at all: a
// certificate that names no peer has no identity to show, pin or resume.
var nameless = []struct {
	name string
	leaf peertest.Leaf
}{
	{"no common name, DNS name alice", peertest.Leaf{Name: "x", Subject: &pkix.Name{}, DNSNames: []string{"alice", "localhost"}}},
	{"common names mallory and alice", peertest.Leaf{Name: "x", Subject: &pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{
		{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "mallory"}, {Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "alice"}}}}},
}

func TestCertificateWithoutOnePeerNameIsRefused(t *testing.T) {
	for _, tt := range nameless {
		t.Run(tt.name, func(t *testing.T) {
			pki, _, bob := alicePKI(t)
			f := pki.Issue(t, tt.leaf)
			if _, err := peer.LoadIdentity(f); err == nil || !strings.Contains(err.Error(), "names no peer") {
				t.Errorf("LoadIdentity of its own such certificate: %v, want a refusal that it names no peer", err)
			}
			x := unchecked(t, f)
			for _, want := range []string{"alice", ""} {
				l, _ := startListener(t, peer.Config{Identity: x})
				err := dialExpecting(t, l, peer.Config{Identity: bob, Peer: want}, true)
				if te := wantErrorAs[*peer.TrustError](t, err); !strings.Contains(te.Error(), "names no peer") {
					t.Errorf("dialer (--peer %q) refused it with %v, want it to say the certificate names no peer", want, err)
				}
				l, rejected := startListener(t, peer.Config{Identity: bob, Peer: want})
				if err := dialExpecting(t, l, peer.Config{Identity: x}, true); !strings.Contains(err.Error(), "names no peer") {
					t.Errorf("as a dialer, to a listener with --peer %q: %v, want a refusal saying it names no peer", want, err)
				}
				if r := <-rejected; !strings.Contains(r.err.Error(), "names no peer") {
					t.Errorf("listener (--peer %q) refused it with %v", want, r.err)
				}
			}
		})
	}
}
