package peer_test

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"peerchat/peer"
)

// safetyCodeForm is how a safety code reads: groups of five digits.
var safetyCodeForm = regexp.MustCompile(fmt.Sprintf(`^\d{5}( \d{5}){%d}$`, peer.SafetyCodeGroups-1))

// These tests hold a conversation to the certificate it began with, and
// check that both sides of a pair show one safety code.

// TestListenerRefusesAnotherCertificateOfTheSameName: while alice keeps a
// conversation with bob's certificate, another certificate named bob (a
// re-issued one, or a thief's) is refused, both sides say why, and the
// conversation still waits for the real bob.
func TestListenerRefusesAnotherCertificateOfTheSameName(t *testing.T) {
	pki, alice, bob := alicePKI(t)
	l, rejected := startListener(t, resumeConfig(alice))
	ls, ds := dialAccept(t, l, l.Addr().String(), reconnecting(resumeConfig(bob)))
	sig := newSignal()
	aw := watch(t, ls, sig)
	peer.Kill(ds)
	waitUntil(t, sig, "alice to notice", func() bool { return aw.disconnects() == 1 })

	bob2 := pki.Identity(t, "bob") // same name, new key and certificate
	fp1, fp2 := peer.Fingerprint(bob.Leaf), peer.Fingerprint(bob2.Leaf)
	_, err := peer.Dial(testContext(t), l.Addr().String(), resumeConfig(bob2))
	te := wantErrorAs[*peer.TrustError](t, err)
	want := "alice (at " + l.Addr().String() + ") refused us: alice keeps a conversation that began with another certificate of bob (fingerprint " + fp1 + "), and yours is " + fp2 + ": a conversation resumes only with the certificate it began with"
	if !strings.Contains(te.Error(), want) || te.Reason != peer.ReasonRefusedByPeer {
		t.Errorf("the second bob's dial: %v (Reason %d)\nwant it to contain %s (ReasonRefusedByPeer)", err, te.Reason, want)
	}
	r := <-rejected
	lte := wantErrorAs[*peer.TrustError](t, r.err)
	want = "bob came back with another certificate (fingerprint " + fp2 + ") than the one this conversation began with (" + fp1 + "); it cannot resume the conversation"
	if !strings.Contains(lte.Error(), want) {
		t.Errorf("listener reported %v\nwant it to contain %s", r.err, want)
	}
	if lte.Reason != peer.ReasonCertificateChanged || lte.PeerName != "bob" || lte.Fingerprint != fp2 || len(lte.Want) != 1 || lte.Want[0] != fp1 {
		t.Errorf("listener's TrustError %+v, want ReasonCertificateChanged for bob, %s instead of %s", lte, fp2, fp1)
	}
	if ended, err := aw.end(); ended {
		t.Fatalf("alice's conversation ended: %v", err)
	}

	// The certificate the conversation began with still resumes it.
	ds2, err := peer.Dial(testContext(t), l.Addr().String(), reconnecting(resumeConfig(bob)))
	if err != nil {
		t.Fatalf("the first bob's certificate, back: %v", err)
	}
	defer ds2.Close()
	waitUntil(t, sig, "alice to report the reconnection", func() bool { return aw.reconnects() == 1 })
}

// TestDialerRefusesToResumeWithAnotherCertificate: the listener comes back
// under the same name with another certificate; the dialer does not
// resume the conversation with it, ends it, and both sides say why.
func TestDialerRefusesToResumeWithAnotherCertificate(t *testing.T) {
	pki, alice, bob := alicePKI(t)
	l, _ := startListener(t, peer.Config{Identity: alice})
	addr := l.Addr().String()
	ls, ds := dialAccept(t, l, addr, reconnecting(peer.Config{Identity: bob, ReconnectBackoff: time.Hour}))
	sig := newSignal()
	bw := watch(t, ds, sig)
	peer.Kill(ls)
	l.Close()
	waitUntil(t, sig, "bob to notice", func() bool { return bw.attempts() == 1 })

	alice2 := pki.Identity(t, "alice")
	fp1, fp2 := peer.Fingerprint(alice.Leaf), peer.Fingerprint(alice2.Leaf)
	_, rejected := startListenerAt(t, addr, peer.Config{Identity: alice2})
	ds.RetryNow()
	err := bw.waitEnd(t)
	te := wantErrorAs[*peer.TrustError](t, err)
	want := "the listener at " + addr + " is alice with another certificate (fingerprint " + fp2 + ") than the one this conversation began with (" + fp1 + "); the conversation cannot resume, and has ended"
	if !strings.Contains(te.Error(), want) {
		t.Errorf("bob's conversation ended with %v\nwant it to contain %s", err, want)
	}
	if te.Reason != peer.ReasonCertificateChanged || te.PeerName != "alice" || te.Fingerprint != fp2 || len(te.Want) != 1 || te.Want[0] != fp1 {
		t.Errorf("bob's TrustError %+v, want ReasonCertificateChanged for alice, %s instead of %s", te, fp2, fp1)
	}
	if n := bw.reconnects(); n != 0 {
		t.Errorf("bob reported %d reconnections", n)
	}
	r := <-rejected
	lte := wantErrorAs[*peer.TrustError](t, r.err)
	want = "bob refused us: bob's conversation began with another certificate of alice (fingerprint " + fp1 + "), and yours is " + fp2 + ": a conversation resumes only with the certificate it began with"
	if !strings.Contains(lte.Error(), want) || lte.Reason != peer.ReasonRefusedByPeer {
		t.Errorf("the new alice reported %v (Reason %d)\nwant it to contain %s", r.err, lte.Reason, want)
	}
}

// startListenerAt is startListener on a given address.
func startListenerAt(t *testing.T, addr string, cfg peer.Config) (*peer.Listener, <-chan rejection) {
	t.Helper()
	rejected := make(chan rejection, 16)
	cfg.OnReject = func(a net.Addr, err error) {
		select {
		case rejected <- rejection{a, err}:
		default:
		}
	}
	l, err := peer.Listen(addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, rejected
}

// TestSafetyCodeIsOnePerPair: both sides of a connection show the same
// code, whoever dialed, and another pair shows another.
func TestSafetyCodeIsOnePerPair(t *testing.T) {
	pki, alice, bob := alicePKI(t)
	carol := pki.Identity(t, "carol")
	fpA, fpB, fpC := peer.Fingerprint(alice.Leaf), peer.Fingerprint(bob.Leaf), peer.Fingerprint(carol.Leaf)

	ls, ds := connect(t, peer.Config{Identity: alice}, peer.Config{Identity: bob})
	codeAB := ls.Peer().SafetyCode
	if codeAB == "" || codeAB != ds.Peer().SafetyCode || codeAB != peer.SafetyCode(fpA, fpB) {
		t.Fatalf("alice shows %q, bob shows %q; want both %q", codeAB, ds.Peer().SafetyCode, peer.SafetyCode(fpA, fpB))
	}
	// The other way round: bob listens, alice dials.
	ls2, ds2 := connect(t, peer.Config{Identity: bob}, peer.Config{Identity: alice})
	if ls2.Peer().SafetyCode != codeAB || ds2.Peer().SafetyCode != codeAB {
		t.Errorf("with bob listening: %q and %q, want %q", ls2.Peer().SafetyCode, ds2.Peer().SafetyCode, codeAB)
	}
	// Another pair, with alice on both.
	ls3, ds3 := connect(t, peer.Config{Identity: alice}, peer.Config{Identity: carol})
	codeAC := ls3.Peer().SafetyCode
	if codeAC != ds3.Peer().SafetyCode || codeAC != peer.SafetyCode(fpA, fpC) {
		t.Errorf("alice and carol show %q and %q", codeAC, ds3.Peer().SafetyCode)
	}
	if codeAC == codeAB {
		t.Errorf("alice–carol and alice–bob share the code %q", codeAB)
	}
	// A re-issued certificate is another pair too.
	bob2 := pki.Identity(t, "bob")
	ls4, _ := connect(t, peer.Config{Identity: alice}, peer.Config{Identity: bob2})
	if code := ls4.Peer().SafetyCode; code == codeAB {
		t.Errorf("bob's new certificate shows the old code %q", code)
	}
	if !safetyCodeForm.MatchString(codeAB) {
		t.Errorf("safety code %q is not %d groups of five digits", codeAB, peer.SafetyCodeGroups)
	}
}
