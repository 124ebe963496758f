package peer

// This file holds the link: one connection of a conversation, with its
// frame reader and the counters the heartbeat watches. A link breaks once,
// for one reason; resume.go attaches the next one.

import (
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// A link is one connection of a conversation. It breaks once, for one
// reason; the session then drops it and, if it can, attaches another.
type link struct {
	conn   *tls.Conn
	raw    net.Conn
	fr     *frameReader
	cork   *corkConn     // between conn and raw
	frames atomic.Uint64 // frames read so far, for the heartbeat watchdog

	// writes counts the writes begun on the link, written those that
	// returned: the watchdog's view of a write stuck on a peer that does
	// not read.
	writes, written atomic.Uint64

	once sync.Once
	done chan struct{} // closed when the link breaks
	err  error         // why; set before done is closed
}

func newLink(conn *tls.Conn, cork *corkConn, raw net.Conn, fr *frameReader) *link {
	return &link{conn: conn, cork: cork, raw: raw, fr: fr, done: make(chan struct{})}
}

// fail breaks the link for err, unless it broke already, and returns the
// first reason. It closes the TCP connection without a TLS close_notify:
// on a stalled connection that alert would wait for buffer space.
func (l *link) fail(err error) error {
	l.once.Do(func() {
		l.err = err
		close(l.done)
		l.raw.Close()
	})
	return l.err
}

// closeAfterGoodbye breaks the link after our goodbye was written. It
// half-closes, so that a FIN follows the goodbye, and closes only once the
// peer's system has acknowledged both (where the system tells; elsewhere
// once the peer closes too), or linger has passed. Closing at once would
// answer any unread bytes with an RST, which can overtake and destroy a
// goodbye still in flight: the peer would take the goodbye for a broken
// connection and try to resume.
func (l *link) closeAfterGoodbye(linger time.Duration) {
	l.once.Do(func() {
		l.err = ErrClosed
		close(l.done)
		defer l.raw.Close()
		hc, ok := l.raw.(interface{ CloseWrite() error })
		if !ok || hc.CloseWrite() != nil {
			return
		}
		// Reading drains what would otherwise cause the RST, sees the
		// peer's close, and paces the checks.
		buf := make([]byte, 512)
		for deadline := time.Now().Add(linger); time.Now().Before(deadline); {
			if n, ok := unacked(l.raw); ok && n == 0 {
				return
			}
			l.raw.SetReadDeadline(time.Now().Add(time.Millisecond))
			if _, err := l.raw.Read(buf); err != nil && !isTimeout(err) {
				return // the peer closed
			}
		}
	})
}

func (l *link) broken() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}
