package peer_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"peerchat/peer"
)

func TestChatBothDirections(t *testing.T) {
	_, alice, bob := alicePKI(t)
	ls, ds := connect(t, peer.Config{Identity: alice}, peer.Config{Identity: bob})

	sent, err := ds.Send("hello 你好 🙂")
	if err != nil {
		t.Fatal(err)
	}
	got := nextMessage(t, ls)
	if got.Text != "hello 你好 🙂" || got.From != "bob" || got.ID != sent.ID || !got.Time.Equal(sent.Time.Truncate(time.Millisecond)) {
		t.Errorf("alice got %+v, bob sent %+v", got, sent)
	}
	if _, err := ls.Send("hi bob"); err != nil {
		t.Fatal(err)
	}
	// Bob's next events: the acknowledgement of his message (it rides
	// with alice's reply) and the reply itself.
	var delivered, replied bool
	for !delivered || !replied {
		ev, err := ds.Next()
		if err != nil {
			t.Fatal(err)
		}
		switch ev := ev.(type) {
		case peer.Delivered:
			delivered = ev.UpTo == sent.ID
		case *peer.Message:
			replied = ev.Text == "hi bob" && ev.From == "alice"
			if !replied {
				t.Fatalf("bob got %+v", ev)
			}
		}
	}
	if p := ds.Pending(); len(p) != 0 {
		t.Errorf("bob still has %d pending messages after the acknowledgement", len(p))
	}
}

func TestPeerInfoComesFromCertificates(t *testing.T) {
	_, alice, bob := alicePKI(t)
	ls, ds := connect(t, peer.Config{Identity: alice, Software: "listener-sw"}, peer.Config{Identity: bob})

	lp, dp := ls.Peer(), ds.Peer()
	if lp.Name != "bob" || dp.Name != "alice" {
		t.Errorf("names: listener sees %q, dialer sees %q", lp.Name, dp.Name)
	}
	if lp.Fingerprint != peer.Fingerprint(bob.Leaf) || dp.Fingerprint != peer.Fingerprint(alice.Leaf) {
		t.Errorf("fingerprints do not match the certificates")
	}
	if len(dp.Fingerprint) != 95 || strings.Count(dp.Fingerprint, ":") != 31 {
		t.Errorf("fingerprint %q is not in openssl's AA:BB:… form", dp.Fingerprint)
	}
	if dp.TLS.Version != tls.VersionTLS13 || dp.TLS.NegotiatedProtocol != peer.ALPN {
		t.Errorf("dialer: TLS version %x, ALPN %q", dp.TLS.Version, dp.TLS.NegotiatedProtocol)
	}
	if dp.Software != "listener-sw" || lp.Software != "peerchat" {
		t.Errorf("software: dialer sees %q, listener sees %q", dp.Software, lp.Software)
	}
	if lp.Addr == nil || dp.Addr == nil {
		t.Errorf("addresses missing: %v %v", lp.Addr, dp.Addr)
	}
}

func TestGoodbyeEndsPeerWithEOF(t *testing.T) {
	_, alice, bob := alicePKI(t)
	ls, ds := connect(t, peer.Config{Identity: alice}, peer.Config{Identity: bob})
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	if err := endOf(ls); err != io.EOF {
		t.Fatalf("listener: session ended with %v, want io.EOF (peer left)", err)
	}
	if _, err := ds.Send("after close"); !errors.Is(err, peer.ErrClosed) {
		t.Errorf("Send after Close: %v, want ErrClosed", err)
	}
}

func TestFlushWaitsForEveryAcknowledgement(t *testing.T) {
	_, alice, bob := alicePKI(t)
	ls, ds := connect(t, peer.Config{Identity: alice}, peer.Config{Identity: bob})
	received := make(chan []string, 1)
	go func() {
		var texts []string
		for len(texts) < 500 {
			ev, err := ls.Next()
			if err != nil {
				break
			}
			if m, ok := ev.(*peer.Message); ok {
				texts = append(texts, m.Text)
			}
		}
		received <- texts
		endOf(ls)
	}()
	go endOf(ds) // read acknowledgements
	for i := range 500 {
		if _, err := ds.Send(strings.Repeat("x", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := ds.Flush(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if n := len(ds.Pending()); n != 0 {
		t.Fatalf("%d messages pending after Flush", n)
	}
	texts := <-received
	for i, text := range texts {
		if len(text) != i {
			t.Fatalf("message %d has %d bytes: order broken", i, len(text))
		}
	}
}

func TestFlushReportsUndelivered(t *testing.T) {
	_, alice, bob := alicePKI(t)
	_, ds := connect(t, peer.Config{Identity: alice}, peer.Config{Identity: bob})
	// Alice never reads, so nothing is acknowledged.
	for _, text := range []string{"one", "two"} {
		if _, err := ds.Send(text); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := ds.Flush(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "2 message(s) not delivered") {
		t.Fatalf("Flush: %v", err)
	}
	if p := ds.Pending(); len(p) != 2 || p[0].Text != "one" || p[1].Text != "two" {
		t.Fatalf("Pending: %+v", p)
	}
}

func TestPingMeasuresRoundTrip(t *testing.T) {
	_, alice, bob := alicePKI(t)
	ls, ds := connect(t, peer.Config{Identity: alice}, peer.Config{Identity: bob})
	pump(ls)
	if err := ds.Ping(); err != nil {
		t.Fatal(err)
	}
	for {
		ev, err := ds.Next()
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := ev.(peer.Pong); ok {
			if p.RTT <= 0 || p.RTT > testTimeout {
				t.Fatalf("RTT %v", p.RTT)
			}
			return
		}
	}
}

func TestSendLimits(t *testing.T) {
	_, alice, bob := alicePKI(t)
	ls, ds := connect(t, peer.Config{Identity: alice}, peer.Config{Identity: bob})
	if _, err := ds.Send(strings.Repeat("a", peer.MaxText+1)); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("oversized text: %v", err)
	}
	if _, err := ds.Send("bad \xff utf-8"); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Errorf("invalid UTF-8: %v", err)
	}
	long := strings.Repeat("長", peer.MaxText/3)
	if _, err := ds.Send(long); err != nil {
		t.Fatal(err)
	}
	if m := nextMessage(t, ls); m.Text != long || m.ID != 1 {
		t.Errorf("longest message arrived as %d bytes, id %d", len(m.Text), m.ID)
	}
}

func TestHeartbeatDetectsSilentPeer(t *testing.T) {
	_, alice, bob := alicePKI(t)
	l, _ := startListener(t, peer.Config{Identity: alice, HeartbeatInterval: 20 * time.Millisecond, HeartbeatMisses: 3})
	// A client that completes the hello exchange and then falls silent:
	// no pings, no FIN, as a machine that vanished.
	conn := rawClient(t, l.Addr().String(), bob.Files, nil)
	readFrame(t, conn) // the listener's hello
	// The watchdog starts once our hello is in, before Accept returns:
	// timed from Accept, a slow return looked like an early verdict.
	start := time.Now()
	conn.Write(helloFrame("bob"))
	s, err := l.Accept(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = endOf(s)
	if !errors.Is(err, peer.ErrHeartbeatLost) || !strings.Contains(err.Error(), "nothing from bob") {
		t.Fatalf("session ended with %v, want heartbeat lost", err)
	}
	if waited := time.Since(start); waited < 60*time.Millisecond {
		t.Errorf("declared gone after %v, before the 60ms window", waited)
	}
}

func TestHeartbeatKeepsQuietChatAlive(t *testing.T) {
	_, alice, bob := alicePKI(t)
	fast := func(id *peer.Identity) peer.Config {
		return peer.Config{Identity: id, HeartbeatInterval: 10 * time.Millisecond, HeartbeatMisses: 3}
	}
	ls, ds := connect(t, fast(alice), fast(bob))
	lend, dend := pump(ls), pump(ds)
	// Let many heartbeat windows pass with no message: the pings alone
	// must keep both sides up. The channel is the synchronisation; the
	// timer only sets how long quiet lasts.
	select {
	case err := <-lend:
		t.Fatalf("listener ended during a quiet chat: %v", err)
	case err := <-dend:
		t.Fatalf("dialer ended during a quiet chat: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
}
