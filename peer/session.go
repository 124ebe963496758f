package peer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// A Message is one line of the conversation.
type Message struct {
	ID   uint64    // unique and increasing within the session, from 1
	Time time.Time // when the sender sent it, by the sender's clock
	Text string    // valid UTF-8, at most MaxText bytes
	From string    // the certificate name of the sender
}

// An Event is what Session.Next returns: a *Message, a Delivered or a Pong.
type Event interface{ isEvent() }

// Delivered reports that the peer received every message with an id up to
// and including UpTo.
type Delivered struct{ UpTo uint64 }

// Pong answers a Session.Ping with the measured round-trip time.
type Pong struct{ RTT time.Duration }

func (*Message) isEvent()  {}
func (Delivered) isEvent() {}
func (Pong) isEvent()      {}

// A Session is one conversation with one peer over one connection.
// Send, Ping, Flush, Pending and Close may be called from any goroutine;
// Next must be called from one goroutine at a time, which then owns the
// connection's reads.
type Session struct {
	conn *tls.Conn
	cfg  Config
	peer PeerInfo
	self string
	fr   *frameReader

	// wmu serialises writes, so that each frame, and the ids of messages,
	// reach the wire in order.
	wmu    sync.Mutex
	wbuf   []byte
	nextID uint64 // guarded by wmu

	// ctl holds the control frames owed to the peer. They are taken by
	// whichever write goes out first; the reader only records them, so it
	// never waits on a write.
	ctlMu    sync.Mutex
	ackUpTo  uint64 // highest id received, to acknowledge
	ackOwed  bool
	pongOwed []uint64
	ctlTimer *time.Timer
	ctlArmed bool // ctlTimer is set to fire

	mu        sync.Mutex
	pending   []Message // sent and not yet acknowledged, in id order
	received  uint64    // highest id handed to the application
	acked     uint64    // highest id the peer acknowledged
	pingSent  map[uint64]time.Time
	pingNonce uint64
	ackSignal chan struct{} // poked on each acknowledgement, for Flush

	frames  atomic.Uint64 // frames read so far, for the heartbeat watchdog
	done    chan struct{}
	endOnce sync.Once
	endErr  error
	onEnd   func()
	hbDone  chan struct{}
}

func newSession(conn *tls.Conn, fr *frameReader, cfg Config, self string, peer PeerInfo, onEnd func()) *Session {
	s := &Session{
		conn:      conn,
		cfg:       cfg,
		peer:      peer,
		self:      self,
		fr:        fr,
		wbuf:      make([]byte, 0, 4<<10),
		pingSent:  make(map[uint64]time.Time),
		ackSignal: make(chan struct{}, 1),
		done:      make(chan struct{}),
		onEnd:     onEnd,
		hbDone:    make(chan struct{}),
	}
	s.ctlTimer = time.AfterFunc(time.Hour, s.flushControl)
	s.ctlTimer.Stop()
	go s.heartbeat()
	return s
}

// Peer describes the other side.
func (s *Session) Peer() PeerInfo { return s.peer }

// Name is this side's certificate name.
func (s *Session) Name() string { return s.self }

// Send sends one message and returns it with its id and time. The message
// is pending until a Delivered event covers its id. On error the message may
// or may not have left; it stays in Pending.
func (s *Session) Send(text string) (Message, error) {
	if !utf8.ValidString(text) {
		return Message{}, errors.New("message text is not valid UTF-8")
	}
	if len(text) > MaxText {
		return Message{}, fmt.Errorf("message of %d bytes is over the %d-byte limit", len(text), MaxText)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.ended(); err != nil {
		return Message{}, err
	}
	s.nextID++
	m := Message{ID: s.nextID, Time: time.Now(), Text: text, From: s.self}
	s.mu.Lock()
	s.pending = append(s.pending, m)
	s.mu.Unlock()
	b := s.takeControl(s.wbuf[:0])
	b = appendMessageFrame(b, m.ID, m.Time, m.Text)
	return m, s.write(b)
}

// Ping asks the peer for a pong; Next returns a Pong with the round trip.
func (s *Session) Ping() error {
	s.mu.Lock()
	s.pingNonce++
	nonce := s.pingNonce
	s.pingSent[nonce] = time.Now()
	s.mu.Unlock()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.ended(); err != nil {
		return err
	}
	return s.write(appendU64Frame(s.takeControl(s.wbuf[:0]), framePing, nonce))
}

// write sends b, which holds whole frames; the caller holds wmu.
func (s *Session) write(b []byte) error {
	s.wbuf = b[:0]
	if _, err := s.conn.Write(b); err != nil {
		return s.end(s.lost(err))
	}
	return nil
}

// takeControl appends the acknowledgement and pongs owed to the peer.
func (s *Session) takeControl(b []byte) []byte {
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	if s.ackOwed {
		b = appendU64Frame(b, frameAck, s.ackUpTo)
		s.ackOwed = false
	}
	for _, n := range s.pongOwed {
		b = appendU64Frame(b, framePong, n)
	}
	s.pongOwed = s.pongOwed[:0]
	return b
}

// flushControl sends owed control frames on their own, when no message
// went out to carry them.
func (s *Session) flushControl() {
	s.ctlMu.Lock()
	s.ctlArmed = false
	s.ctlMu.Unlock()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.ended() != nil {
		return
	}
	if b := s.takeControl(s.wbuf[:0]); len(b) > 0 {
		s.write(b)
	}
}

// owe records a control frame owed to the peer. Next sends it before it
// next blocks on a read, unless a message leaves first and carries it.
func (s *Session) owe(ack uint64, pong uint64) {
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	if ack != 0 {
		s.ackUpTo, s.ackOwed = ack, true
	}
	if pong != 0 {
		s.pongOwed = append(s.pongOwed, pong)
	}
}

// sendOwed sends owed control frames before Next blocks. An acknowledgement
// thus leaves once the application has taken the message and come back
// for more: after the message was shown, and in a conversation usually
// together with the answer. It never queues behind a write under way (a
// stalled peer must not stop our reads): then the timer sends it shortly.
func (s *Session) sendOwed() {
	s.ctlMu.Lock()
	owed := s.ackOwed || len(s.pongOwed) > 0
	s.ctlMu.Unlock()
	if !owed {
		return
	}
	if !s.wmu.TryLock() {
		s.ctlMu.Lock()
		if !s.ctlArmed {
			s.ctlArmed = true
			s.ctlTimer.Reset(ackDelay)
		}
		s.ctlMu.Unlock()
		return
	}
	defer s.wmu.Unlock()
	if s.ended() == nil {
		if b := s.takeControl(s.wbuf[:0]); len(b) > 0 {
			s.write(b)
		}
	}
}

// Next returns the next event from the peer: a *Message, a Delivered or a
// Pong. It returns io.EOF when the peer said goodbye, and otherwise the
// reason the session ended (a *ProtocolError, ErrHeartbeatLost, a lost
// connection, ErrClosed).
func (s *Session) Next() (Event, error) {
	for {
		if s.fr.buffered() == 0 {
			s.sendOwed()
		}
		t, p, err := s.fr.next()
		if err != nil {
			var pe *ProtocolError
			if errors.As(err, &pe) {
				return nil, s.abort(pe)
			}
			return nil, s.end(s.lost(err))
		}
		s.frames.Add(1)
		ev, err := s.handle(t, p)
		if err != nil {
			var pe *ProtocolError
			if errors.As(err, &pe) && !pe.Remote {
				return nil, s.abort(pe)
			}
			return nil, s.end(err)
		}
		if ev != nil {
			return ev, nil
		}
	}
}

func (s *Session) handle(t frameType, p []byte) (Event, error) {
	switch t {
	case frameMessage:
		m, err := parseMessage(p)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		want := s.received + 1
		if m.ID == want {
			s.received = m.ID
		}
		s.mu.Unlock()
		if m.ID != want {
			return nil, protocolErrorf("message %d out of order, expected %d", m.ID, want)
		}
		m.From = s.peer.Name
		s.owe(m.ID, 0)
		return &m, nil
	case frameAck:
		upTo, err := parseU64(t, p)
		if err != nil {
			return nil, err
		}
		return s.acknowledged(upTo)
	case framePing:
		nonce, err := parseU64(t, p)
		if err != nil {
			return nil, err
		}
		if nonce != 0 { // heartbeat pings (nonce 0) need no answer
			s.owe(0, nonce)
		}
		return nil, nil
	case framePong:
		nonce, err := parseU64(t, p)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		sent, ok := s.pingSent[nonce]
		delete(s.pingSent, nonce)
		s.mu.Unlock()
		if !ok {
			return nil, nil
		}
		return Pong{RTT: time.Since(sent)}, nil
	case frameBye:
		return nil, io.EOF
	case frameError:
		re, err := parseError(p)
		if err != nil {
			return nil, err
		}
		return nil, re.asError()
	}
	if t == frameHello {
		return nil, protocolErrorf("unexpected hello frame after the hello exchange")
	}
	return nil, protocolErrorf("unknown frame type %d", byte(t))
}

func (s *Session) acknowledged(upTo uint64) (Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if upTo <= s.acked {
		return nil, nil // a repeat of an earlier acknowledgement
	}
	if len(s.pending) == 0 || upTo > s.pending[len(s.pending)-1].ID {
		return nil, protocolErrorf("acknowledgement of message %d, which was never sent", upTo)
	}
	n := 0
	for n < len(s.pending) && s.pending[n].ID <= upTo {
		n++
	}
	s.pending = append(s.pending[:0], s.pending[n:]...)
	s.acked = upTo
	select {
	case s.ackSignal <- struct{}{}:
	default:
	}
	return Delivered{UpTo: upTo}, nil
}

// Pending returns the messages sent and not yet acknowledged.
func (s *Session) Pending() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.pending...)
}

// Flush waits until every message sent so far is acknowledged, the session
// ends, or ctx is done. Some goroutine must be calling Next meanwhile: that
// is where acknowledgements are read.
func (s *Session) Flush(ctx context.Context) error {
	for {
		s.mu.Lock()
		n := len(s.pending)
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-s.ackSignal:
		case <-s.done:
			if len(s.Pending()) == 0 {
				return nil
			}
			return fmt.Errorf("%d message(s) not delivered: %w", n, s.endErr)
		case <-ctx.Done():
			return fmt.Errorf("%d message(s) not delivered: %w", n, ctx.Err())
		}
	}
}

// Close says goodbye to the peer and closes the connection. Next then
// returns ErrClosed.
func (s *Session) Close() error {
	s.wmu.Lock()
	if s.ended() == nil {
		s.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
		b := s.takeControl(s.wbuf[:0])
		s.conn.Write(appendFrame(b, frameBye, nil))
	}
	s.wmu.Unlock()
	s.end(ErrClosed)
	<-s.hbDone
	return nil
}

// Done is closed when the session has ended; Err then says why.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err is the reason the session ended, or nil while it is on.
func (s *Session) Err() error {
	select {
	case <-s.done:
		return s.endErr
	default:
		return nil
	}
}

func (s *Session) ended() error {
	select {
	case <-s.done:
		return s.endErr
	default:
		return nil
	}
}

// end records the first reason the session ended, closes the connection,
// and returns that first reason, whatever later callers report.
func (s *Session) end(err error) error {
	s.endOnce.Do(func() {
		s.endErr = err
		close(s.done)
		s.ctlTimer.Stop()
		s.conn.Close()
		if s.onEnd != nil {
			s.onEnd()
		}
	})
	return s.endErr
}

// abort tells the peer which rule it broke, then ends the session.
func (s *Session) abort(pe *ProtocolError) error {
	if s.wmu.TryLock() {
		s.conn.SetWriteDeadline(time.Now().Add(time.Second))
		s.conn.Write(appendErrorFrame(nil, codeProtocol, pe.Reason))
		s.wmu.Unlock()
	}
	return s.end(pe)
}

// ErrConnectionLost is matched by the error a session ends with when the
// connection broke without a goodbye.
var ErrConnectionLost = errors.New("connection lost")

func (s *Session) lost(err error) error {
	if errors.Is(err, net.ErrClosed) {
		if e := s.ended(); e != nil {
			return e
		}
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %s closed the connection without saying goodbye", ErrConnectionLost, s.peer.Name)
	}
	return fmt.Errorf("%w with %s: %w", ErrConnectionLost, s.peer.Name, err)
}

// heartbeat sends a ping every interval and ends the session when nothing
// has arrived for HeartbeatMisses intervals in a row. It counts frames
// rather than reading the clock on every frame: the read path stays cheap.
func (s *Session) heartbeat() {
	defer close(s.hbDone)
	interval := s.cfg.HeartbeatInterval
	t := time.NewTicker(interval)
	defer t.Stop()
	seen, quiet, since := s.frames.Load(), 0, time.Now()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			if n := s.frames.Load(); n != seen {
				seen, quiet, since = n, 0, now
			} else if quiet++; quiet >= s.cfg.HeartbeatMisses {
				s.end(fmt.Errorf("%w: nothing from %s for %s", ErrHeartbeatLost, s.peer.Name, now.Sub(since).Round(time.Millisecond)))
				return
			}
			// A write already under way says we are alive just as well;
			// never queue behind it, or a stalled peer would stall the
			// watchdog too.
			if s.wmu.TryLock() {
				if s.ended() == nil {
					s.write(appendU64Frame(s.takeControl(s.wbuf[:0]), framePing, 0))
				}
				s.wmu.Unlock()
			}
		}
	}
}
