package peer

import (
	"container/list"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Admission: what a listener does with connections before they have
// proved anything. A listener in a chat must shrug off hostile traffic:
// a flood of connections that never speak, failed handshakes, random
// bytes. Each pending connection costs a goroutine and TLS buffers, so
// their number is bounded (maxPendingHandshakes) and so is their time
// (Config.SilentTimeout until the first byte, Config.HandshakeTimeout for
// the TLS handshake and the hellos).
//
// A plain bound would let 64 silent connections lock everyone out,
// including the real peer coming back after a network hiccup. So slots
// are given in two stages:
//
//   - A new connection always gets a slot. When all are taken, the
//     connection that has been silent the longest is closed to make room:
//     a real client sends its ClientHello the moment it connects, so it is
//     never the oldest silent one for long (and one whose first bytes have
//     arrived is never evicted, even before its goroutine has read them),
//     while a flood of silent connections only evicts itself.
//   - Once a connection has sent its first byte it keeps its slot until
//     its handshake ends, and no address may hold more than
//     maxHandshakesPerIP of those, so that one host stalling handshakes
//     cannot take every slot either. Only when every slot holds a
//     connection that has spoken is a new one refused.

// maxHandshakesPerIP bounds the handshakes under way (past their first
// byte) from one address.
const maxHandshakesPerIP = 16

// errEvicted is why a silent connection was closed to make room.
var errEvicted = errors.New("evicted")

// gate hands out the listener's handshake slots.
type gate struct {
	max, perIP int

	mu     sync.Mutex
	total  int            // slots taken
	silent list.List      // *ticket, oldest first: slots of connections that have sent nothing yet
	byIP   map[string]int // slots of connections that have spoken, by address
}

// A ticket is one connection's slot.
type ticket struct {
	conn    net.Conn
	ip      string
	elem    *list.Element // in gate.silent until the connection speaks
	spoke   bool
	evicted bool // closed to make room; its slot is already free
}

func newGate(max, perIP int) *gate {
	return &gate{max: max, perIP: perIP, byIP: make(map[string]int)}
}

// admit gives c a slot, evicting the longest-silent connection when every
// slot is taken. It returns nil when no slot can be had: every one holds a
// connection that has spoken or is about to.
func (g *gate) admit(c net.Conn) *ticket {
	t := &ticket{conn: c, ip: hostOf(c.RemoteAddr())}
	g.mu.Lock()
	var victim *ticket
	if g.total >= g.max {
		// The longest silent connection with nothing waiting to be
		// read: one whose ClientHello has arrived is about to speak.
		var oldest *list.Element
		for e := g.silent.Front(); e != nil; e = e.Next() {
			if !hasData(e.Value.(*ticket).conn) {
				oldest = e
				break
			}
		}
		if oldest == nil {
			g.mu.Unlock()
			return nil
		}
		victim = g.silent.Remove(oldest).(*ticket)
		victim.elem, victim.evicted = nil, true
		g.total--
	}
	g.total++
	t.elem = g.silent.PushBack(t)
	g.mu.Unlock()
	if victim != nil {
		victim.conn.Close() // its goroutine sees the read fail and reports it
	}
	return t
}

// spoke moves t to the slots of connections that have spoken, unless it
// was evicted meanwhile or its address holds too many already.
func (g *gate) spoke(t *ticket) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.evicted {
		return errEvicted
	}
	g.silent.Remove(t.elem)
	t.elem = nil
	if g.byIP[t.ip] >= g.perIP {
		return fmt.Errorf("too many handshakes under way from %s (%d); connection closed", t.ip, g.perIP)
	}
	g.byIP[t.ip]++
	t.spoke = true
	return nil
}

// wasEvicted reports whether t's connection was closed to make room.
func (g *gate) wasEvicted(t *ticket) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return t.evicted
}

// leave frees t's slot.
func (g *gate) leave(t *ticket) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.evicted {
		return
	}
	if t.elem != nil {
		g.silent.Remove(t.elem)
		t.elem = nil
	}
	if t.spoke {
		if g.byIP[t.ip]--; g.byIP[t.ip] <= 0 {
			delete(g.byIP, t.ip)
		}
	}
	g.total--
	t.evicted = true // a second leave is harmless
}

func hostOf(a net.Addr) string {
	if tcp, ok := a.(*net.TCPAddr); ok {
		return tcp.IP.String()
	}
	if h, _, err := net.SplitHostPort(a.String()); err == nil {
		return h
	}
	return a.String()
}

// awaitClientHello waits at most SilentTimeout for the first byte of the
// client's ClientHello and returns a connection that reads that byte again,
// with its read deadline put back to the handshake's.
func (l *Listener) awaitClientHello(raw net.Conn, t *ticket, deadline time.Time) (net.Conn, error) {
	raw.SetReadDeadline(time.Now().Add(l.cfg.SilentTimeout))
	var b [1]byte
	if _, err := io.ReadFull(raw, b[:]); err != nil {
		switch {
		case l.gate.wasEvicted(t):
			return nil, fmt.Errorf("sent nothing; closed to make room (%d connections were waiting)", l.gate.max)
		case isTimeout(err):
			return nil, fmt.Errorf("sent nothing within %s; connection closed", l.cfg.SilentTimeout)
		case errors.Is(err, io.EOF):
			return nil, errors.New("client closed the connection without sending anything")
		}
		return nil, fmt.Errorf("reading from the client: %w", err)
	}
	if err := l.gate.spoke(t); err != nil {
		if errors.Is(err, errEvicted) {
			return nil, fmt.Errorf("closed to make room (%d connections were waiting)", l.gate.max)
		}
		return nil, err
	}
	raw.SetReadDeadline(deadline)
	return &replayConn{Conn: raw, first: b[0]}, nil
}

// replayConn gives back the byte awaitClientHello read before the rest of
// the stream. Its reads come from one goroutine at a time, as tls.Conn
// makes them.
type replayConn struct {
	net.Conn
	first    byte
	replayed bool
}

func (c *replayConn) Read(p []byte) (int, error) {
	if !c.replayed && len(p) > 0 {
		p[0], c.replayed = c.first, true
		return 1, nil
	}
	return c.Conn.Read(p)
}
