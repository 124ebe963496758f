package peer_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"peerchat/peer"
)

// waitRejections reads refusals until one contains want, n times.
func waitRejections(t *testing.T, rejected <-chan rejection, want string, n int) {
	t.Helper()
	timeout := time.After(testTimeout)
	for seen := 0; seen < n; {
		select {
		case r := <-rejected:
			if strings.Contains(r.err.Error(), want) {
				seen++
			}
		case <-timeout:
			t.Fatalf("saw %d of %d refusals %q", seen, n, want)
		}
	}
}

// startCountingListener is startListener with room for many refusals.
func startCountingListener(t *testing.T, cfg peer.Config) (*peer.Listener, <-chan rejection) {
	t.Helper()
	return startListenerWithRoom(t, cfg, 4096)
}

func TestSilentConnectionsCannotLockOutThePeer(t *testing.T) {
	tests := []struct {
		name string
		from func(i int) string // the silent connections' addresses
	}{
		// The peer's address holds fewer slots than the flood's: it is
		// entitled to one at once.
		{"flood from other addresses", func(i int) string { return fmt.Sprintf("127.0.0.%d", 2+i%2) }},
		// The flood shares the peer's address: the silent connections
		// older than minSilentAge make room.
		{"flood from the peer's address", func(int) string { return "127.0.0.1" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, alice, bob := alicePKI(t)
			// Silent connections could stay for 10 seconds each: without
			// eviction, 64 of them would shut the door for that long.
			l, rejected := startCountingListener(t, peer.Config{Identity: alice, SilentTimeout: 10 * time.Second})
			const silent = 200
			for i := range silent {
				c, err := fromAddr(tt.from(i), time.Second).Dial("tcp", l.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
			}
			// All but 64 are closed: evicted or refused.
			waitRejections(t, rejected, "", silent-64)
			time.Sleep(300 * time.Millisecond) // let the silent ones age past minSilentAge

			ctx := testContext(t)
			accepted := make(chan *peer.Session, 1)
			go func() {
				s, _ := l.Accept(ctx)
				accepted <- s
			}()
			start := time.Now()
			ds, err := peer.Dial(ctx, l.Addr().String(), peer.Config{Identity: bob})
			if err != nil {
				t.Fatalf("bob could not get in past %d silent connections: %v", silent, err)
			}
			defer ds.Close()
			if s := <-accepted; s != nil {
				s.Close()
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("bob took %s to get in", d)
			}
			waitRejections(t, rejected, "sent nothing; closed to make room (64 connections were waiting)", 1)
		})
	}
}

func TestStalledHandshakesAreBoundedPerAddressAndInAll(t *testing.T) {
	_, alice, bob := alicePKI(t)
	l, rejected := startCountingListener(t, peer.Config{Identity: alice})
	addr := l.Addr().String()
	// stall opens a connection that sends the first byte of a TLS
	// handshake record, and nothing more.
	var stalled []net.Conn
	stall := func(ip string) {
		t.Helper()
		c, err := fromAddr(ip, time.Second).Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := c.Write([]byte{0x16}); err != nil {
			t.Fatal(err)
		}
		stalled = append(stalled, c)
	}
	release := func() {
		t.Helper()
		for _, c := range stalled {
			c.Close()
		}
		stalled = nil
		waitFor(t, "free slots", func() bool { silent, spoke := l.Pending(); return silent+spoke == 0 })
	}
	// refused dials from ip and checks that the listener closes the
	// connection at once.
	refused := func(ip string) {
		t.Helper()
		c, err := fromAddr(ip, time.Second).Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(testTimeout))
		if _, err := c.Read(make([]byte, 1)); err == nil || isTimeoutErr(err) {
			t.Fatalf("a connection from %s with all 64 slots in handshakes: %v, want closed at once", ip, err)
		}
		waitRejections(t, rejected, "too many handshakes under way (64); connection closed", 1)
	}

	// One address gets 16 handshakes; the 17th is closed.
	for range 17 {
		stall("127.0.0.2")
	}
	waitRejections(t, rejected, "too many handshakes under way from 127.0.0.2 (16); connection closed", 1)
	release()

	// Four addresses fill the 64 slots with stalled handshakes. One more
	// from theirs is refused; a newcomer from a fifth one takes the slot
	// of the oldest connection of one of them.
	for i := range 64 {
		stall(fmt.Sprintf("127.0.0.%d", 2+i%4))
	}
	waitFor(t, "64 handshakes under way", func() bool { _, spoke := l.Pending(); return spoke == 64 })
	refused("127.0.0.2")
	ctx := testContext(t)
	go func() {
		if s, err := l.Accept(ctx); err == nil {
			s.Close()
		}
	}()
	ds, err := peer.Dial(ctx, addr, peer.Config{Identity: bob})
	if err != nil {
		t.Fatalf("with 64 stalled handshakes from 4 addresses, bob: %v", err)
	}
	ds.Close()
	waitRejections(t, rejected, "closed during its handshake to make room: 127.0.0.", 1)
	release()

	// 64 addresses holding one stalled handshake each shut the door: that
	// is what it takes.
	for i := range 64 {
		stall(fmt.Sprintf("127.0.1.%d", 1+i))
	}
	waitFor(t, "64 handshakes under way", func() bool { _, spoke := l.Pending(); return spoke == 64 })
	refused("127.0.0.1")
	release()
}

// waitFor polls cond until it holds, for at most testTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(testTimeout); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, testTimeout)
		}
	}
}

func isTimeoutErr(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
