package peer_test

import (
	"strings"
	"testing"

	"peerchat/peer"
	"peerchat/peer/peertest"
)

// TestRevocationAndPinning runs real handshakes in which one side holds a
// revocation list or pinned fingerprints, and checks which side refuses,
// in what words, and what the other side is told. Rows whose dialErr is
// empty must connect.
func TestRevocationAndPinning(t *testing.T) {
	type world struct {
		pki              *peertest.PKI
		aliceF, bobF     peer.Files
		alice, bob       *peer.Identity
		fpAlice, fpCarol string
	}
	// withCRL loads a bundle again, with the CA's revocation list.
	withCRL := func(t *testing.T, f peer.Files, crl string) *peer.Identity {
		f.CRL = crl
		id, err := peer.LoadIdentity(f)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	tests := []struct {
		name      string
		prepare   func(t *testing.T, w world) (listener, dialer peer.Config)
		dialErr   string
		listenErr string
		// dialReason and listenReason, when set, are the Reason of each
		// side's *peer.TrustError.
		dialReason, listenReason peer.TrustReason
	}{
		{
			name: "listener refuses a revoked client",
			prepare: func(t *testing.T, w world) (peer.Config, peer.Config) {
				crl := w.pki.Revoke(t, w.bob.Leaf)
				return peer.Config{Identity: withCRL(t, w.aliceF, crl)}, peer.Config{Identity: w.bob}
			},
			dialErr:      "alice (at ADDR) refused us: your certificate (bob, serial SERIAL_BOB) is revoked by alice's revocation list since ",
			listenErr:    "bob's certificate (serial SERIAL_BOB) is revoked by DIR/crl.pem since ",
			dialReason:   peer.ReasonRefusedByPeer,
			listenReason: peer.ReasonRevoked,
		},
		{
			name: "dialer refuses a revoked listener",
			prepare: func(t *testing.T, w world) (peer.Config, peer.Config) {
				crl := w.pki.Revoke(t, w.alice.Leaf)
				return peer.Config{Identity: w.alice}, peer.Config{Identity: withCRL(t, w.bobF, crl)}
			},
			dialErr:      "the listener at ADDR is alice, whose certificate (serial SERIAL_ALICE) is revoked by DIR/crl.pem since ",
			listenErr:    "bob refused us: your certificate (alice, serial SERIAL_ALICE) is revoked by bob's revocation list since ",
			dialReason:   peer.ReasonRevoked,
			listenReason: peer.ReasonRefusedByPeer,
		},
		{
			name: "both sides hold a list that revokes someone else",
			prepare: func(t *testing.T, w world) (peer.Config, peer.Config) {
				crl := w.pki.Revoke(t, w.pki.Identity(t, "carol").Leaf)
				return peer.Config{Identity: withCRL(t, w.aliceF, crl)}, peer.Config{Identity: withCRL(t, w.bobF, crl)}
			},
		},
		{
			name: "dialer pins the listener's full fingerprint",
			prepare: func(t *testing.T, w world) (peer.Config, peer.Config) {
				return peer.Config{Identity: w.alice}, peer.Config{Identity: w.bob, PeerFingerprints: []string{w.fpAlice}}
			},
		},
		{
			name: "dialer pins the short form, lower case without colons",
			prepare: func(t *testing.T, w world) (peer.Config, peer.Config) {
				short := strings.ToLower(strings.ReplaceAll(peer.ShortFingerprint(w.alice.Leaf), ":", ""))
				return peer.Config{Identity: w.alice}, peer.Config{Identity: w.bob, PeerFingerprints: []string{short}}
			},
		},
		{
			name: "dialer pins someone else",
			prepare: func(t *testing.T, w world) (peer.Config, peer.Config) {
				return peer.Config{Identity: w.alice}, peer.Config{Identity: w.bob, PeerFingerprints: []string{w.fpCarol}}
			},
			dialErr:      "the listener at ADDR is alice with certificate fingerprint FP_ALICE, not FP_CAROL as --peer-fingerprint demands; if alice has a new certificate, compare its fingerprint",
			listenErr:    "bob refused us: only certificate fingerprint FP_CAROL is accepted, and yours (alice) is FP_ALICE; compare fingerprints with bob by voice",
			dialReason:   peer.ReasonPinMismatch,
			listenReason: peer.ReasonRefusedByPeer,
		},
		{
			name: "listener pins several, the client among them",
			prepare: func(t *testing.T, w world) (peer.Config, peer.Config) {
				return peer.Config{Identity: w.alice, PeerFingerprints: []string{w.fpCarol, peer.ShortFingerprint(w.bob.Leaf)}}, peer.Config{Identity: w.bob}
			},
		},
		{
			name: "dialer's contact pin for alice is another certificate",
			prepare: func(t *testing.T, w world) (peer.Config, peer.Config) {
				return peer.Config{Identity: w.alice}, peer.Config{Identity: w.bob, PinFor: pinFor(t, "alice", w.fpCarol)}
			},
			dialErr:      "the listener at ADDR is alice with certificate fingerprint FP_ALICE, not FP_CAROL as pinned for alice; if alice has a new certificate, compare its fingerprint with alice by voice before you pin it",
			dialReason:   peer.ReasonPinMismatch,
			listenErr:    "bob refused us: bob has pinned another certificate for alice (fingerprint FP_CAROL), and yours is FP_ALICE; if you have a new one, compare fingerprints with bob by voice",
			listenReason: peer.ReasonRefusedByPeer,
		},
		{
			name: "dialer's contact pin for alice is hers",
			prepare: func(t *testing.T, w world) (peer.Config, peer.Config) {
				return peer.Config{Identity: w.alice}, peer.Config{Identity: w.bob, PinFor: pinFor(t, "alice", strings.ToLower(w.fpAlice))}
			},
		},
		{
			name: "dialer pins only carol as a contact",
			prepare: func(t *testing.T, w world) (peer.Config, peer.Config) {
				return peer.Config{Identity: w.alice}, peer.Config{Identity: w.bob, PinFor: pinFor(t, "carol", w.fpCarol)}
			},
		},
		{
			// A contact pin is a whole fingerprint: its first 8 bytes
			// are not enough.
			name: "dialer's contact pin for alice is a prefix of hers",
			prepare: func(t *testing.T, w world) (peer.Config, peer.Config) {
				return peer.Config{Identity: w.alice}, peer.Config{Identity: w.bob, PinFor: pinFor(t, "alice", peer.ShortFingerprint(w.alice.Leaf))}
			},
			dialErr:      "the listener at ADDR is alice with certificate fingerprint FP_ALICE, not",
			dialReason:   peer.ReasonPinMismatch,
			listenErr:    "bob refused us: bob has pinned another certificate for alice",
			listenReason: peer.ReasonRefusedByPeer,
		},
		{
			name: "listener's contact pin for bob is another certificate",
			prepare: func(t *testing.T, w world) (peer.Config, peer.Config) {
				return peer.Config{Identity: w.alice, PinFor: pinFor(t, "bob", w.fpCarol)}, peer.Config{Identity: w.bob}
			},
			dialErr:      "alice (at ADDR) refused us: alice has pinned another certificate for bob (fingerprint FP_CAROL), and yours is FP_BOB; if you have a new one, compare fingerprints with alice by voice",
			dialReason:   peer.ReasonRefusedByPeer,
			listenErr:    "bob's certificate has fingerprint FP_BOB, not FP_CAROL as pinned for bob; if bob has a new certificate, compare its fingerprint with bob by voice before you pin it",
			listenReason: peer.ReasonPinMismatch,
		},
		{
			name: "listener's contact pin for bob is his",
			prepare: func(t *testing.T, w world) (peer.Config, peer.Config) {
				return peer.Config{Identity: w.alice, PinFor: pinFor(t, "bob", peer.Fingerprint(w.bob.Leaf))}, peer.Config{Identity: w.bob}
			},
		},
		{
			name: "listener pins someone else",
			prepare: func(t *testing.T, w world) (peer.Config, peer.Config) {
				return peer.Config{Identity: w.alice, PeerFingerprints: []string{w.fpCarol}}, peer.Config{Identity: w.bob}
			},
			dialErr:      "alice (at ADDR) refused us: only certificate fingerprint FP_CAROL is accepted, and yours (bob) is FP_BOB; compare fingerprints with alice by voice",
			listenErr:    "bob's certificate has fingerprint FP_BOB, not FP_CAROL as --peer-fingerprint demands",
			dialReason:   peer.ReasonRefusedByPeer,
			listenReason: peer.ReasonPinMismatch,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pki := peertest.NewPKI(t)
			w := world{pki: pki, aliceF: pki.Issue(t, peertest.Leaf{Name: "alice"}), bobF: pki.Issue(t, peertest.Leaf{Name: "bob"})}
			var err error
			if w.alice, err = peer.LoadIdentity(w.aliceF); err != nil {
				t.Fatal(err)
			}
			if w.bob, err = peer.LoadIdentity(w.bobF); err != nil {
				t.Fatal(err)
			}
			w.fpAlice = peer.Fingerprint(w.alice.Leaf)
			w.fpCarol = peer.Fingerprint(peertest.NewPKI(t).Identity(t, "carol").Leaf)
			lcfg, dcfg := tt.prepare(t, w)
			l, rejected := startListener(t, lcfg)
			addr := l.Addr().String()
			err = dialExpecting(t, l, dcfg, tt.dialErr != "")
			if tt.dialErr == "" {
				return
			}
			subst := strings.NewReplacer("ADDR", addr, "DIR", pki.Dir,
				"SERIAL_ALICE", peer.Serial(w.alice.Leaf.SerialNumber), "SERIAL_BOB", peer.Serial(w.bob.Leaf.SerialNumber),
				"FP_ALICE", w.fpAlice, "FP_BOB", peer.Fingerprint(w.bob.Leaf), "FP_CAROL", w.fpCarol)
			if want := subst.Replace(tt.dialErr); !strings.Contains(err.Error(), want) {
				t.Errorf("dialer error:\n  %v\nwant it to contain:\n  %s", err, want)
			}
			if te := wantErrorAs[*peer.TrustError](t, err); tt.dialReason != 0 && te.Reason != tt.dialReason {
				t.Errorf("dialer's Reason %d, want %d", te.Reason, tt.dialReason)
			}
			r := <-rejected
			t.Logf("dialer: %v\nlistener: %v", err, r.err)
			if want := subst.Replace(tt.listenErr); !strings.Contains(r.err.Error(), want) {
				t.Errorf("listener reported:\n  %v\nwant it to contain:\n  %s", r.err, want)
			}
			if te := wantErrorAs[*peer.TrustError](t, r.err); tt.listenReason != 0 && te.Reason != tt.listenReason {
				t.Errorf("listener's Reason %d, want %d", te.Reason, tt.listenReason)
			}
		})
	}
}

// pinFor is a Config.PinFor that pins name to pin, and checks that it is
// asked only about verified peer names.
func pinFor(t *testing.T, name, pin string) func(string) []string {
	return func(peerName string) []string {
		if peerName != "alice" && peerName != "bob" {
			t.Errorf("PinFor(%q): not a peer name of this test", peerName)
		}
		if peerName == name {
			return []string{pin}
		}
		return nil
	}
}

func TestParseFingerprint(t *testing.T) {
	const full = "57:42:AA:9D:66:23:02:76:7C:CA:9A:0E:4E:DF:6D:6C:BC:37:C2:40:5C:2F:55:B3:4A:6A:DB:D1:FA:99:8C:2A"
	tests := []struct {
		in, want, err string
	}{
		{in: full, want: full},
		{in: strings.ToLower(full), want: full},
		{in: strings.ReplaceAll(full, ":", ""), want: full},
		{in: "  sha256 Fingerprint=" + full + "\n", want: full},
		{in: "SHA256 Fingerprint=" + full, want: full},
		{in: "57:42:AA:9D:66:23:02:76", want: "57:42:AA:9D:66:23:02:76"},
		{in: "5742aa9d66230276", want: "57:42:AA:9D:66:23:02:76"},
		{in: "57:42:AA:9D:66:23:02", err: "is too short: give at least its first 8 bytes"},
		{in: "5742aa9d6623027", err: "odd number of hex digits"},
		{in: "57:42:AA:9D:66:23:02:7", err: "write it as hex pairs"},
		{in: "5742:AA9D:6623:0276", err: "write it as hex pairs"},
		{in: "zz42aa9d66230276", err: "is not hexadecimal"},
		{in: "xyz", err: "is not hexadecimal"},
		{in: full + ":00", err: "longer than a SHA-256 fingerprint"},
		{in: "", err: "too short"},
	}
	for _, tt := range tests {
		got, err := peer.ParseFingerprint(tt.in)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParseFingerprint(%q) = %q, %v; want error %q", tt.in, got, err, tt.err)
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("ParseFingerprint(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestBadPinIsRefusedAtStart(t *testing.T) {
	_, alice, _ := alicePKI(t)
	cfg := peer.Config{Identity: alice, PeerFingerprints: []string{"AB:CD"}}
	if _, err := peer.Listen("127.0.0.1:0", cfg); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Errorf("Listen: %v", err)
	}
	if _, err := peer.Dial(testContext(t), "127.0.0.1:1", cfg); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Errorf("Dial: %v", err)
	}
}
