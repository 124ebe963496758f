package peer_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"peerchat/peer"
	"peerchat/peer/peertest"
)

// TestTrust runs one real handshake per row and checks which side refuses
// and in what words: the dialer's error, and what the listener reports
// about the connection it refused. Rows whose want fields are empty must
// connect.
func TestTrust(t *testing.T) {
	type setup struct {
		listener, dialer peer.Config
		dialAddr         func(l *peer.Listener) string
	}
	tests := []struct {
		name string
		// prepare builds both configurations on a fresh PKI with alice
		// and bob issued.
		prepare func(t *testing.T, pki *peertest.PKI, alice, bob *peer.Identity) setup
		// dialErr must appear in the dialer's error, which must be a
		// *peer.TrustError when trust is true.
		dialErr string
		trust   bool
		// listenErr must appear in what the listener reports refusing.
		listenErr string
		// dialReason and listenReason, when set, are the Reason of each
		// side's *peer.TrustError.
		dialReason, listenReason peer.TrustReason
	}{
		{
			name: "plain chat by address",
			prepare: func(t *testing.T, pki *peertest.PKI, alice, bob *peer.Identity) setup {
				return setup{listener: peer.Config{Identity: alice}, dialer: peer.Config{Identity: bob}}
			},
		},
		{
			name: "dialer --peer matches the listener",
			prepare: func(t *testing.T, pki *peertest.PKI, alice, bob *peer.Identity) setup {
				return setup{listener: peer.Config{Identity: alice}, dialer: peer.Config{Identity: bob, Peer: "alice"}}
			},
		},
		{
			name: "dialer --peer names someone else",
			prepare: func(t *testing.T, pki *peertest.PKI, alice, bob *peer.Identity) setup {
				return setup{listener: peer.Config{Identity: alice}, dialer: peer.Config{Identity: bob, Peer: "carol"}}
			},
			dialErr:      "the listener at ADDR is alice, not carol: the peer name in its certificate is alice; if alice is who you meant to reach, pass --peer alice",
			trust:        true,
			dialReason:   peer.ReasonNameMismatch,
			listenErr:    "bob refused us: bob dialed carol, and the peer name in your certificate is alice",
			listenReason: peer.ReasonRefusedByPeer,
		},
		{
			// The host-name attack: carol's certificate names the host
			// alice, as gen-certs.sh once added the CA machine's name to
			// every certificate. A host name is not a peer name.
			name: "dialer --peer alice reaches carol, whose certificate carries the host name alice",
			prepare: func(t *testing.T, pki *peertest.PKI, alice, bob *peer.Identity) setup {
				return setup{listener: peer.Config{Identity: issue(t, pki, peertest.Leaf{Name: "carol", DNSNames: []string{"carol", "alice", "localhost"}})},
					dialer: peer.Config{Identity: bob, Peer: "alice"}}
			},
			dialErr:      "the listener at ADDR is carol, not alice: the peer name in its certificate is carol (the host name alice in it does not count); if carol is who you meant to reach, pass --peer carol",
			trust:        true,
			dialReason:   peer.ReasonNameMismatch,
			listenErr:    "bob refused us: bob dialed alice, and the peer name in your certificate is carol (the host name alice in it does not count)",
			listenReason: peer.ReasonRefusedByPeer,
		},
		{
			// With --peer, the name is the identity: the dialed host
			// need not be in the certificate.
			name: "dialer --peer alice reaches alice at an address her certificate does not name",
			prepare: func(t *testing.T, pki *peertest.PKI, alice, bob *peer.Identity) setup {
				return setup{listener: peer.Config{Identity: issue(t, pki, peertest.Leaf{Name: "alice", DNSNames: []string{"alice"}, IPs: []net.IP{}})},
					dialer: peer.Config{Identity: bob, Peer: "alice"}}
			},
		},
		// With --peer the dialer verifies the chain itself (no host name
		// to check): an unknown CA, an expired certificate and one not
		// for server authentication are refused all the same.
		{
			name: "dialer --peer alice, listener alice from another CA",
			prepare: func(t *testing.T, pki *peertest.PKI, alice, bob *peer.Identity) setup {
				f := peertest.NewPKI(t).Issue(t, peertest.Leaf{Name: "alice"})
				f.CA = pki.Dir + "/ca.crt" // trusts bob's CA, but is not from it
				return setup{listener: peer.Config{Identity: unchecked(t, f)}, dialer: peer.Config{Identity: bob, Peer: "alice"}}
			},
			dialErr:   "the listener at ADDR (alice) has a certificate not signed by our CA",
			trust:     true,
			listenErr: "the client refused our certificate (bad certificate)",
		},
		{
			name: "dialer --peer alice, listener alice expired",
			prepare: func(t *testing.T, pki *peertest.PKI, alice, bob *peer.Identity) setup {
				f := pki.Issue(t, peertest.Leaf{Name: "alice", NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
				return setup{listener: peer.Config{Identity: unchecked(t, f)}, dialer: peer.Config{Identity: bob, Peer: "alice"}}
			},
			dialErr: "the certificate of alice (listener at ADDR) expired on",
			trust:   true,
		},
		{
			name: "dialer --peer alice, listener alice not for server authentication",
			prepare: func(t *testing.T, pki *peertest.PKI, alice, bob *peer.Identity) setup {
				f := pki.Issue(t, peertest.Leaf{Name: "alice", ExtUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
				return setup{listener: peer.Config{Identity: unchecked(t, f)}, dialer: peer.Config{Identity: bob, Peer: "alice"}}
			},
			dialErr: "the certificate of alice (listener at ADDR) is not valid for server authentication",
			trust:   true,
		},
		{
			name: "dialed address not in the listener's certificate",
			prepare: func(t *testing.T, pki *peertest.PKI, alice, bob *peer.Identity) setup {
				lonely, err := peer.LoadIdentity(pki.Issue(t, peertest.Leaf{Name: "alice", DNSNames: []string{"alice"}, IPs: []net.IP{}}))
				if err != nil {
					t.Fatal(err)
				}
				return setup{listener: peer.Config{Identity: lonely}, dialer: peer.Config{Identity: bob}}
			},
			dialErr: `is alice (valid for alice), not valid for "127.0.0.1"; pass --peer alice`,
			trust:   true,
		},
		{
			name: "listener --peer matches the dialer",
			prepare: func(t *testing.T, pki *peertest.PKI, alice, bob *peer.Identity) setup {
				return setup{listener: peer.Config{Identity: alice, Peer: "bob"}, dialer: peer.Config{Identity: bob}}
			},
		},
		{
			name: "listener --peer names someone else",
			prepare: func(t *testing.T, pki *peertest.PKI, alice, bob *peer.Identity) setup {
				return setup{listener: peer.Config{Identity: alice, Peer: "carol"}, dialer: peer.Config{Identity: bob}}
			},
			dialErr:      "alice (at ADDR) refused us: alice accepts only carol, and the peer name in your certificate is bob; ask alice to listen with --peer bob",
			trust:        true,
			dialReason:   peer.ReasonRefusedByPeer,
			listenErr:    "bob is not carol: the peer name in its certificate is bob; to chat with bob, listen with --peer bob",
			listenReason: peer.ReasonNameMismatch,
		},
		{
			name: "listener --peer alice refuses bob, whose certificate carries the host name alice",
			prepare: func(t *testing.T, pki *peertest.PKI, alice, bob *peer.Identity) setup {
				carol := pki.Identity(t, "carol")
				return setup{listener: peer.Config{Identity: carol, Peer: "alice"},
					dialer: peer.Config{Identity: issue(t, pki, peertest.Leaf{Name: "bob", DNSNames: []string{"bob", "alice", "localhost"}})}}
			},
			dialErr:      "carol (at ADDR) refused us: carol accepts only alice, and the peer name in your certificate is bob (the host name alice in it does not count); ask carol to listen with --peer bob",
			trust:        true,
			dialReason:   peer.ReasonRefusedByPeer,
			listenErr:    "bob is not alice: the peer name in its certificate is bob (the host name alice in it does not count); to chat with bob, listen with --peer bob",
			listenReason: peer.ReasonNameMismatch,
		},
		{
			name: "client certificate from another CA",
			prepare: func(t *testing.T, pki *peertest.PKI, alice, bob *peer.Identity) setup {
				other := peertest.NewPKI(t)
				f := other.Issue(t, peertest.Leaf{Name: "mallory"})
				f.CA = pki.Dir + "/ca.crt" // trusts alice's CA, but is not from it
				mallory, err := peer.LoadIdentityUnchecked(f)
				if err != nil {
					t.Fatal(err)
				}
				return setup{listener: peer.Config{Identity: alice}, dialer: peer.Config{Identity: mallory}}
			},
			dialErr:   "does not trust our certificate",
			trust:     true,
			listenErr: `client certificate "mallory" is not signed by our CA`,
		},
		{
			name: "dialer trusts another CA",
			prepare: func(t *testing.T, pki *peertest.PKI, alice, bob *peer.Identity) setup {
				other := peertest.NewPKI(t)
				return setup{listener: peer.Config{Identity: alice}, dialer: peer.Config{Identity: other.Identity(t, "mallory")}}
			},
			dialErr:   "(alice) has a certificate not signed by our CA",
			trust:     true,
			listenErr: "the client refused our certificate (bad certificate): it trusts another CA",
		},
		{
			name: "expired client certificate",
			prepare: func(t *testing.T, pki *peertest.PKI, alice, bob *peer.Identity) setup {
				old, err := peer.LoadIdentityUnchecked(pki.Issue(t, peertest.Leaf{Name: "bob",
					NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}))
				if err != nil {
					t.Fatal(err)
				}
				return setup{listener: peer.Config{Identity: alice}, dialer: peer.Config{Identity: old}}
			},
			dialErr:   "says our certificate " + "BUNDLE/bob.crt has expired",
			trust:     true,
			listenErr: `client certificate "bob" expired on`,
		},
		{
			name: "expired listener certificate",
			prepare: func(t *testing.T, pki *peertest.PKI, alice, bob *peer.Identity) setup {
				old, err := peer.LoadIdentityUnchecked(pki.Issue(t, peertest.Leaf{Name: "alice",
					NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}))
				if err != nil {
					t.Fatal(err)
				}
				return setup{listener: peer.Config{Identity: old}, dialer: peer.Config{Identity: bob}}
			},
			dialErr: "the certificate of alice (listener at ADDR) expired on",
			trust:   true,
		},
		{
			name: "client certificate without clientAuth",
			prepare: func(t *testing.T, pki *peertest.PKI, alice, bob *peer.Identity) setup {
				serverOnly, err := peer.LoadIdentityUnchecked(pki.Issue(t, peertest.Leaf{Name: "bob",
					ExtUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}))
				if err != nil {
					t.Fatal(err)
				}
				return setup{listener: peer.Config{Identity: alice}, dialer: peer.Config{Identity: serverOnly}}
			},
			dialErr:   "refused our certificate",
			trust:     true,
			listenErr: `client certificate "bob" is not valid for client authentication`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pki, alice, bob := alicePKI(t)
			st := tt.prepare(t, pki, alice, bob)
			l, rejected := startListener(t, st.listener)
			addr := l.Addr().String()
			err := dialExpecting(t, l, st.dialer, tt.dialErr != "")
			if tt.dialErr == "" {
				return
			}
			want := strings.NewReplacer("BUNDLE", pki.Dir, "ADDR", addr).Replace(tt.dialErr)
			if !strings.Contains(err.Error(), want) {
				t.Errorf("dialer error:\n  %v\nwant it to contain:\n  %s", err, want)
			}
			if tt.trust {
				te := wantErrorAs[*peer.TrustError](t, err)
				if tt.dialReason != 0 && te.Reason != tt.dialReason {
					t.Errorf("dialer's Reason %d, want %d", te.Reason, tt.dialReason)
				}
				if te.Reason == peer.ReasonNameMismatch && (te.PeerName == "" || te.Fingerprint == "" || len(te.Want) != 1 || te.Want[0] != st.dialer.Peer) {
					t.Errorf("dialer's TrustError %+v: want PeerName, Fingerprint and Want [%s]", te, st.dialer.Peer)
				}
			}
			if tt.listenErr != "" {
				r := <-rejected
				if !strings.Contains(r.err.Error(), tt.listenErr) {
					t.Errorf("listener reported:\n  %v\nwant it to contain:\n  %s", r.err, tt.listenErr)
				}
				if tt.listenReason != 0 {
					if te := wantErrorAs[*peer.TrustError](t, r.err); te.Reason != tt.listenReason {
						t.Errorf("listener's Reason %d, want %d", te.Reason, tt.listenReason)
					} else if te.Reason == peer.ReasonNameMismatch && (te.PeerName == "" || te.Fingerprint == "" || len(te.Want) != 1 || te.Want[0] != st.listener.Peer) {
						t.Errorf("listener's TrustError %+v: want PeerName, Fingerprint and Want [%s]", te, st.listener.Peer)
					}
				}
			}
		})
	}
}

// issue issues leaf from pki and loads it.
func issue(t *testing.T, pki *peertest.PKI, leaf peertest.Leaf) *peer.Identity {
	t.Helper()
	id, err := peer.LoadIdentity(pki.Issue(t, leaf))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// unchecked loads a bundle that LoadIdentity would refuse.
func unchecked(t *testing.T, f peer.Files) *peer.Identity {
	t.Helper()
	id, err := peer.LoadIdentityUnchecked(f)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestForeignClientsAreRefused connects with crypto/tls clients that are
// not peerchat dialers and checks what the listener says about each.
func TestForeignClientsAreRefused(t *testing.T) {
	tests := []struct {
		name      string
		tweak     func(*tls.Config)
		listenErr string
	}{
		{"no certificate", func(c *tls.Config) { c.Certificates = nil }, "client presented no certificate"},
		{"TLS 1.2", func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }, "TLS 1.2 or older; peerchat requires TLS 1.3"},
		{"another ALPN", func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }, "not a peerchat client"},
		{"no ALPN", func(c *tls.Config) { c.NextProtos = nil }, `not a peerchat client (it did not ask for ALPN "peerchat/1")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, alice, bob := alicePKI(t)
			l, rejected := startListener(t, peer.Config{Identity: alice})
			conn, err := rawDial(t, l.Addr().String(), bob.Files, tt.tweak)
			if err == nil {
				// TLS 1.3 clients learn of the refusal at their first read.
				_, err = conn.Read(make([]byte, 1))
			}
			if err == nil {
				t.Fatal("the foreign client was not refused")
			}
			r := <-rejected
			if !strings.Contains(r.err.Error(), tt.listenErr) {
				t.Errorf("listener reported %q, want %q", r.err, tt.listenErr)
			}
		})
	}
}

func TestBusyListenerRefusesSecondPeerAndKeepsTheChat(t *testing.T) {
	pki, alice, bob := alicePKI(t)
	carol := pki.Identity(t, "carol")
	l, rejected := startListener(t, peer.Config{Identity: alice})
	ctx := testContext(t)
	accepted := make(chan *peer.Session, 1)
	go func() {
		s, _ := l.Accept(ctx)
		accepted <- s
	}()
	bs, err := peer.Dial(ctx, l.Addr().String(), peer.Config{Identity: bob})
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	as := <-accepted
	defer as.Close()

	_, err = peer.Dial(ctx, l.Addr().String(), peer.Config{Identity: carol})
	if !errors.Is(err, peer.ErrBusy) || !strings.Contains(err.Error(), "alice (at "+l.Addr().String()+") is busy in another chat") {
		t.Fatalf("carol's dial: %v, want busy", err)
	}
	if r := <-rejected; !errors.Is(r.err, peer.ErrBusy) || !strings.Contains(r.err.Error(), "carol") {
		t.Errorf("listener reported %v", r.err)
	}
	bs.Send("still here")
	if m := nextMessage(t, as); m.Text != "still here" || m.From != "bob" {
		t.Fatalf("after the busy refusal alice got %+v", m)
	}
	// Once bob leaves, the listener is free again.
	bs.Close()
	if err := endOf(as); err == nil {
		t.Fatal("no end")
	}
	go func() {
		s, _ := l.Accept(ctx)
		accepted <- s
	}()
	cs, err := peer.Dial(ctx, l.Addr().String(), peer.Config{Identity: carol})
	if err != nil {
		t.Fatalf("after bob left, carol's dial: %v", err)
	}
	cs.Close()
	(<-accepted).Close()
}

func TestLoadIdentityExplainsEveryBrokenBundle(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(t *testing.T, pki *peertest.PKI, f *peer.Files)
		want   string
	}{
		{"missing certificate", func(t *testing.T, pki *peertest.PKI, f *peer.Files) { f.Cert = filepath.Join(pki.Dir, "carol.crt") },
			"certificate DIR/carol.crt does not exist; run `make certs`"},
		{"missing CA", func(t *testing.T, pki *peertest.PKI, f *peer.Files) { os.Remove(f.CA) },
			"CA certificate DIR/ca.crt does not exist; run `make certs`"},
		{"missing key", func(t *testing.T, pki *peertest.PKI, f *peer.Files) { os.Remove(f.Key) },
			"private key DIR/alice.key does not exist"},
		{"key of another certificate", func(t *testing.T, pki *peertest.PKI, f *peer.Files) {
			f.Key = pki.Issue(t, peertest.Leaf{Name: "bob"}).Key
		}, "DIR/bob.key does not match DIR/alice.crt"},
		{"certificate of another CA", func(t *testing.T, pki *peertest.PKI, f *peer.Files) {
			*f = peertest.NewPKI(t).Issue(t, peertest.Leaf{Name: "alice"})
			f.CA = filepath.Join(pki.Dir, "ca.crt")
		}, "is not signed by the CA in DIR/ca.crt"},
		{"expired", func(t *testing.T, pki *peertest.PKI, f *peer.Files) {
			*f = pki.Issue(t, peertest.Leaf{Name: "alice", NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
		}, "DIR/alice.crt expired on"},
		{"not yet valid", func(t *testing.T, pki *peertest.PKI, f *peer.Files) {
			*f = pki.Issue(t, peertest.Leaf{Name: "alice", NotBefore: time.Now().Add(48 * time.Hour)})
		}, "DIR/alice.crt is not valid until"},
		{"server-only usage", func(t *testing.T, pki *peertest.PKI, f *peer.Files) {
			*f = pki.Issue(t, peertest.Leaf{Name: "alice", ExtUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		}, "is not valid for both client and server authentication"},
		{"CA file is not PEM", func(t *testing.T, pki *peertest.PKI, f *peer.Files) { os.WriteFile(f.CA, []byte("hello"), 0o644) },
			"DIR/ca.crt: no PEM certificate in the file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pki := peertest.NewPKI(t)
			f := pki.Issue(t, peertest.Leaf{Name: "alice"})
			tt.break_(t, pki, &f)
			_, err := peer.LoadIdentity(f)
			te := wantErrorAs[*peer.TrustError](t, err)
			if want := strings.ReplaceAll(tt.want, "DIR", pki.Dir); !strings.Contains(te.Error(), want) {
				t.Errorf("got  %v\nwant %s", te, want)
			}
			if te.Hint == "" {
				t.Errorf("no hint in %v", te)
			}
		})
	}
}
