package peer_test

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"peerchat/peer"
)

// TestPeerThatStopsReadingIsDetected: bob keeps pinging (so he looks alive)
// but never reads. Alice's sends fill the connection and the next write
// blocks; the watchdog must notice the stuck write within the heartbeat
// window and break the connection, rather than leave the session (and
// Close) stuck behind it for good.
func TestPeerThatStopsReadingIsDetected(t *testing.T) {
	_, alice, bob := alicePKI(t)
	l, _ := startListener(t, peer.Config{Identity: alice, HeartbeatInterval: 50 * time.Millisecond, ResumeWait: -1})
	conn := rawClient(t, l.Addr().String(), bob.Files, nil)
	readFrame(t, conn)
	conn.Write(helloFrame("bob"))
	s, err := l.Accept(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	ended := pump(s)
	stop := make(chan struct{})
	defer close(stop)
	go func() { // bob's heartbeat, and nothing else
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				conn.Write(frame(4, binary.BigEndian.AppendUint64(nil, 0)))
			}
		}
	}()
	go func() { // alice talks until the connection breaks
		text := strings.Repeat("x", peer.MaxText)
		for {
			if _, err := s.Send(text); err != nil {
				return
			}
			select {
			case <-s.Done():
				return
			default:
			}
		}
	}()
	select {
	case err := <-ended:
		if !errors.Is(err, peer.ErrHeartbeatLost) || !strings.Contains(err.Error(), "bob stopped reading") {
			t.Fatalf("session ended with %v, want a stuck write reported", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("a stuck write went unnoticed")
	}
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(testTimeout):
		t.Fatal("Close blocked behind the stuck write")
	}
}
