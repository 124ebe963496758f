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
// including the real peer coming back after a network hiccup. So a new
// connection always gets a slot if one can be freed, in this order:
//
//   - the connection that has been silent the longest, if that is at
//     least minSilentAge: a real client sends its ClientHello the moment
//     it connects, so it is never silent for long (and one whose first
//     bytes have arrived is never evicted, even before its goroutine has
//     read them), while a flood of silent connections only evicts itself;
//   - else, when the new connection's address holds fewer slots than the
//     address holding the most, that address's oldest connection, in the
//     middle of its handshake if need be: a few hosts starting handshakes
//     as fast as they can do not keep a newcomer out, since every other
//     address is entitled to its share.
//
// Only when neither exists is the new connection refused: it would take
// about 64 addresses to keep a peer from a fresh one out. On top of that,
// no address may hold more than maxHandshakesPerIP connections that have
// spoken, so that one host stalling handshakes cannot take every slot
// while nobody else is knocking either.

// maxHandshakesPerIP bounds the handshakes under way (past their first
// byte) from one address.
const maxHandshakesPerIP = 16

// minSilentAge is how long a connection is given to send its first byte
// before it may be evicted for being silent: about one round trip on a
// slow link, and the time a busy machine may take to build a ClientHello.
const minSilentAge = 250 * time.Millisecond

// errEvicted is why a connection was closed to make room.
var errEvicted = errors.New("evicted")

// gate hands out the listener's handshake slots.
type gate struct {
	max, perIP int

	mu     sync.Mutex
	total  int                   // slots taken
	silent list.List             // *ticket, oldest first: connections that have sent nothing yet
	byIP   map[string]*list.List // *ticket, oldest first: every slot, by address
	spoken map[string]int        // slots of connections that have spoken, by address
}

// A ticket is one connection's slot.
type ticket struct {
	conn    net.Conn
	ip      string
	since   time.Time     // admitted
	elem    *list.Element // in gate.silent until the connection speaks
	ipElem  *list.Element // in gate.byIP[ip]
	spoke   bool
	gone    bool // its slot is free: it left, or was evicted
	evicted bool // told to go to make room
}

func newGate(max, perIP int) *gate {
	return &gate{max: max, perIP: perIP, byIP: make(map[string]*list.List), spoken: make(map[string]int)}
}

// admit gives c a slot, evicting another connection when every slot is
// taken (see above). It returns nil when no slot can be freed.
func (g *gate) admit(c net.Conn) *ticket {
	t := &ticket{conn: c, ip: hostOf(c.RemoteAddr()), since: time.Now()}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.total >= g.max && !g.evictLocked(t.ip) {
		return nil
	}
	t.elem = g.silent.PushBack(t)
	g.addLocked(t)
	return t
}

// addLocked gives t a slot.
func (g *gate) addLocked(t *ticket) {
	g.total++
	l := g.byIP[t.ip]
	if l == nil {
		l = list.New()
		g.byIP[t.ip] = l
	}
	t.ipElem = l.PushBack(t)
	t.gone = false
}

// evictLocked frees a slot for a newcomer from address ip, and reports
// whether it could. The evicted connection's deadline is set to now, so
// its goroutine wakes at once, sees that it was evicted and closes it;
// setting it under the lock orders it before any deadline that goroutine
// sets after its own check (awaitClientHello).
func (g *gate) evictLocked(ip string) bool {
	now := time.Now()
	for e := g.silent.Front(); e != nil; e = e.Next() {
		v := e.Value.(*ticket)
		if now.Sub(v.since) < minSilentAge {
			break // and so are all the younger ones after it
		}
		if !hasData(v.conn) {
			g.evictTicketLocked(v)
			return true
		}
	}
	heavy, most := "", 0
	for addr, l := range g.byIP {
		if l.Len() > most {
			heavy, most = addr, l.Len()
		}
	}
	if most <= g.count(ip)+1 {
		return false
	}
	g.evictTicketLocked(g.byIP[heavy].Front().Value.(*ticket))
	return true
}

func (g *gate) count(ip string) int {
	if l := g.byIP[ip]; l != nil {
		return l.Len()
	}
	return 0
}

// evictTicketLocked frees t's slot and tells its goroutine to close it.
func (g *gate) evictTicketLocked(t *ticket) {
	g.dropLocked(t)
	t.evicted = true
	t.conn.SetDeadline(time.Now())
}

// dropLocked frees t's slot.
func (g *gate) dropLocked(t *ticket) {
	if t.gone {
		return
	}
	if t.elem != nil {
		g.silent.Remove(t.elem)
		t.elem = nil
	}
	if l := g.byIP[t.ip]; l != nil {
		l.Remove(t.ipElem)
		if l.Len() == 0 {
			delete(g.byIP, t.ip)
		}
	}
	if t.spoke {
		if g.spoken[t.ip]--; g.spoken[t.ip] <= 0 {
			delete(g.spoken, t.ip)
		}
	}
	g.total--
	t.gone = true
}

// spoke moves t to the connections that have spoken, unless its address
// holds too many already. A connection evicted in the moment between
// reading its first byte and getting here has spoken all the same: it may
// take the slot of another.
func (g *gate) spoke(t *ticket) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.evicted {
		if g.total >= g.max && !g.evictLocked(t.ip) {
			return errEvicted
		}
		t.evicted = false // the caller sets the handshake's deadline again
		g.addLocked(t)
	} else {
		g.silent.Remove(t.elem)
		t.elem = nil
	}
	if g.spoken[t.ip] >= g.perIP {
		return fmt.Errorf("too many handshakes under way from %s (%d); connection closed", t.ip, g.perIP)
	}
	g.spoken[t.ip]++
	t.spoke = true
	return nil
}

// wasEvicted reports whether t's connection was told to go to make room.
func (g *gate) wasEvicted(t *ticket) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return t.evicted
}

// leave frees t's slot, if it still holds one. After leave, t can no
// longer be evicted: a connection that became a session holds no slot.
func (g *gate) leave(t *ticket) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.dropLocked(t)
}

// handshakeFailed explains, on the listener, a TLS handshake that failed,
// or says that the connection was evicted in the middle of it.
func (l *Listener) handshakeFailed(err error, t *ticket) error {
	if l.gate.wasEvicted(t) {
		return fmt.Errorf("closed during its handshake to make room: %s held the most of the %d pending connections", t.ip, l.gate.max)
	}
	return explainClientHandshake(err, l.cfg.HandshakeTimeout)
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
	evicted := fmt.Errorf("sent nothing; closed to make room (%d connections were waiting)", l.gate.max)
	if l.gate.wasEvicted(t) { // before the deadline above was set
		return nil, evicted
	}
	var b [1]byte
	if _, err := io.ReadFull(raw, b[:]); err != nil {
		switch {
		case l.gate.wasEvicted(t):
			return nil, evicted
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
	raw.SetDeadline(deadline)
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
