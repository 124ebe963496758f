package peer_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"peerchat/peer"
	"peerchat/peer/peertest"
)

// testTimeout bounds every wait in these tests: a broken build fails in
// seconds instead of hanging until go test's own timeout.
const testTimeout = 10 * time.Second

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// rejection is one connection a listener refused.
type rejection struct {
	addr net.Addr
	err  error
}

// startListener listens on a free loopback port and collects what the
// listener refuses.
func startListener(t *testing.T, cfg peer.Config) (*peer.Listener, <-chan rejection) {
	t.Helper()
	return startListenerWithRoom(t, cfg, 16)
}

// startListenerWithRoom is startListener keeping up to room refusals;
// more are dropped.
func startListenerWithRoom(t *testing.T, cfg peer.Config, room int) (*peer.Listener, <-chan rejection) {
	t.Helper()
	rejected := make(chan rejection, room)
	cfg.OnReject = func(addr net.Addr, err error) {
		select {
		case rejected <- rejection{addr, err}:
		default:
		}
	}
	return peertest.Listen(t, cfg), rejected
}

// connect starts a listener with lcfg, dials it with dcfg and returns both
// sessions.
func connect(t *testing.T, lcfg, dcfg peer.Config) (listener, dialer *peer.Session) {
	t.Helper()
	return peertest.Connect(t, lcfg, dcfg)
}

// alicePKI makes a PKI with alice and bob.
func alicePKI(t testing.TB) (pki *peertest.PKI, alice, bob *peer.Identity) {
	t.Helper()
	pki = peertest.NewPKI(t)
	return pki, pki.Identity(t, "alice"), pki.Identity(t, "bob")
}

// nextMessage returns the next message from s, skipping other events.
func nextMessage(t *testing.T, s *peer.Session) *peer.Message {
	t.Helper()
	return peertest.NextMessage(t, s)
}

// endOf reads s until it ends and returns why.
func endOf(s *peer.Session) error {
	for {
		if _, err := s.Next(); err != nil {
			return err
		}
	}
}

// pump reads s in the background until it ends, so that acknowledgements
// and pongs are processed; the returned channel yields the end error.
func pump(s *peer.Session) <-chan error {
	done := make(chan error, 1)
	go func() { done <- endOf(s) }()
	return done
}

func wantErrorAs[T error](t *testing.T, err error) T {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("error %v (%T) is not a %T", err, err, target)
	}
	return target
}

// dialExpecting dials l with cfg. When refused is false the dial must
// succeed and a message must reach the listener; it then returns nil.
// When refused is true the dial must fail, and its error is returned.
func dialExpecting(t *testing.T, l *peer.Listener, cfg peer.Config, refused bool) error {
	t.Helper()
	accepted := make(chan *peer.Session, 1)
	go func() {
		if s, err := l.Accept(testContext(t)); err == nil {
			accepted <- s
		}
	}()
	s, err := peer.Dial(testContext(t), l.Addr().String(), cfg)
	switch {
	case refused && err == nil:
		s.Close()
		t.Fatal("dial succeeded, want a refusal")
	case refused:
		return err
	case err != nil:
		t.Fatalf("dial: %v", err)
	}
	defer s.Close()
	ls := <-accepted
	defer ls.Close()
	s.Send("proof")
	if m := nextMessage(t, ls); m.Text != "proof" {
		t.Fatalf("listener got %q", m.Text)
	}
	return nil
}
