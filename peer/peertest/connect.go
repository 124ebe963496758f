package peertest

import (
	"context"
	"net"
	"testing"
	"time"

	"peerchat/peer"
)

// Timeout bounds every wait these helpers make: a broken build fails in
// seconds instead of hanging until go test's own timeout.
const Timeout = 10 * time.Second

// Context returns a context that ends after Timeout or with the test.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), Timeout)
	t.Cleanup(cancel)
	return ctx
}

// Listen listens with cfg on a free loopback port until the test ends.
func Listen(t testing.TB, cfg peer.Config) *peer.Listener {
	t.Helper()
	l, err := peer.Listen("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// Connect starts a listener with lcfg, dials it with dcfg and returns both
// sessions, which close when the test ends. A failed dial fails the test
// with the listener's reason for refusing, when it gave one.
func Connect(t testing.TB, lcfg, dcfg peer.Config) (listener, dialer *peer.Session) {
	t.Helper()
	refused := make(chan error, 1)
	lcfg.OnReject = func(_ net.Addr, err error) {
		select {
		case refused <- err:
		default:
		}
	}
	l := Listen(t, lcfg)
	ctx := Context(t)
	type result struct {
		s   *peer.Session
		err error
	}
	accepted := make(chan result, 1)
	go func() {
		s, err := l.Accept(ctx)
		accepted <- result{s, err}
	}()
	d, err := peer.Dial(ctx, l.Addr().String(), dcfg)
	if err != nil {
		select {
		case r := <-refused:
			t.Fatalf("dial: %v (listener: %v)", err, r)
		default:
			t.Fatalf("dial: %v", err)
		}
	}
	t.Cleanup(func() { d.Close() })
	r := <-accepted
	if r.err != nil {
		t.Fatalf("accept: %v", r.err)
	}
	t.Cleanup(func() { r.s.Close() })
	return r.s, d
}

// NextMessage returns the next message from s, skipping other events.
func NextMessage(t testing.TB, s *peer.Session) *peer.Message {
	t.Helper()
	for {
		ev, err := s.Next()
		if err != nil {
			t.Fatalf("%s: waiting for a message: %v", s.Name(), err)
		}
		if m, ok := ev.(*peer.Message); ok {
			return m
		}
	}
}
