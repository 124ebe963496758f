package peer

// This file holds the Session, one conversation: sending messages and
// writing frames, Next and the handling of what arrives, acknowledgements,
// Flush and Close, and how the conversation ends.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// A Session is one conversation with one peer. The conversation outlives
// its connection when both sides allow it (see Resumption in the package
// documentation): a broken connection is then replaced underneath, and
// the Session, its message ids and its pending messages carry on.
//
// Send, Ping, Flush, Pending, Connected, RetryNow and Close may be called
// from any goroutine; Next must be called from one goroutine at a time,
// which then owns the connection's reads and, on a dialer, reconnection.
type Session struct {
	cfg  Config
	self string
	fp   string    // the peer's certificate fingerprint, for the listener's resumption check
	dial *redialer // how a dialer connects again; nil on a listener
	lis  *Listener // the listener that accepted the session; nil on a dialer

	// ctx is cancelled when the session ends or starts closing; it ends a
	// dial under way. closing is set by Close before the goodbye, so that
	// the peer's reaction to it is not taken for a broken connection.
	ctx     context.Context
	cancel  context.CancelFunc
	closing atomic.Bool

	// wmu serialises writes, so that each frame, and the ids of messages,
	// reach the wire in order.
	wmu    sync.Mutex
	wbuf   []byte
	link   *link  // where writes go; nil while disconnected
	nextID uint64 // the last id given to a message
	sent   uint64 // the highest id written to link
	// relinked is closed, and replaced, when install attaches a new
	// link: a file sender waiting for a connection wakes on it.
	relinked chan struct{}

	// ctl holds the control frames owed to the peer. They are taken by
	// whichever write goes out first; the reader only records them, so it
	// never waits on a write.
	ctlMu    sync.Mutex
	ackUpTo  uint64 // highest id received, to acknowledge
	ackOwed  bool
	pongOwed []uint64
	ctlExtra []byte // file control frames (transfer.go)
	// ctlFrames counts the frames in ctlExtra; ctlDrained is poked when
	// a write takes them, for a reader waiting below maxCtlOwed
	// (control.go).
	ctlFrames  int
	ctlDrained chan struct{}
	// cancelsOwed are the cancels of files given up on while no
	// connection could carry them: the next connection does.
	cancelsOwed []byte
	ctlTimer    *time.Timer
	ctlArmed    bool // ctlTimer is set to fire

	mu          sync.Mutex
	cur         *link // the current connection, until Next sees it broke
	peer        PeerInfo
	conv        convID
	peerResumes bool      // the peer can resume this conversation, and means to
	peerFiles   bool      // the peer's hello says it understands file frames
	pending     []Message // pending[head:]: sent and not yet acknowledged; ids acked+1…lastID
	head        int
	queued      int    // bytes of text in pending[head:]
	lastID      uint64 // mirrors nextID, for readers that do not hold wmu
	received    uint64 // highest id handed to the application
	acked       uint64 // highest id the peer acknowledged
	pingSent    map[uint64]time.Time
	pingNonce   uint64
	ackSignal   chan struct{} // poked on each acknowledgement, for Flush
	offered     *offer        // a listener's: a new connection from the peer, for Next to take
	offerSig    chan struct{} // poked when offered is set
	retrySig    chan struct{} // poked by RetryNow

	// Owned by the goroutine calling Next.
	rd       *link   // the connection being read; nil while disconnected
	evq      []Event // events to return before reading on
	attached bool    // a connection was attached before: the next is a resumption
	dropped  time.Time
	dropErr  error
	attempt  int
	retryAt  time.Time
	lastErr  error

	wg      sync.WaitGroup // each connection's heartbeat and resend goroutines
	done    chan struct{}
	endOnce sync.Once
	endErr  error
	onEnd   func()

	files files // file transfers (transfer.go)
}

func newSession(cfg Config, self string, d *redialer, lis *Listener) *Session {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Session{
		cfg:       cfg,
		self:      self,
		dial:      d,
		lis:       lis,
		ctx:       ctx,
		cancel:    cancel,
		wbuf:      make([]byte, 0, 4<<10),
		pingSent:  make(map[uint64]time.Time),
		ackSignal: make(chan struct{}, 1),
		offerSig:  make(chan struct{}, 1),
		retrySig:  make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
	s.ctlDrained = make(chan struct{}, 1)
	s.relinked = make(chan struct{})
	if lis != nil {
		s.onEnd = func() { lis.release(s) }
	}
	s.ctlTimer = time.AfterFunc(time.Hour, s.flushControl)
	s.ctlTimer.Stop()
	return s
}

// Peer describes the other side, over the current (or last) connection.
func (s *Session) Peer() PeerInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peer
}

// Name is this side's certificate name.
func (s *Session) Name() string { return s.self }

// Connected reports whether a connection to the peer is up, as far as this
// side knows.
func (s *Session) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur != nil && !s.cur.broken()
}

// Send sends one message and returns it with its id and time. The message
// is pending until a Delivered event covers its id. While the conversation
// is disconnected and waiting to resume, Send queues the message and
// returns no error: it leaves once the conversation resumes. Beyond
// Config.QueueLimit pending messages Send refuses with ErrQueueFull. On
// any other error the message may or may not have left; it stays in
// Pending.
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
	s.mu.Lock()
	if n := len(s.pending) - s.head; n >= s.cfg.QueueLimit || s.queued+len(text) > s.cfg.QueueBytes {
		name, size := s.peer.Name, s.queued
		s.mu.Unlock()
		return Message{}, fmt.Errorf("%w: %d messages (%s) to %s are not delivered yet, the most peerchat keeps; wait for them to be delivered, then send again",
			ErrQueueFull, n, byteSize(size), name)
	}
	s.nextID++
	m := Message{ID: s.nextID, Time: time.Now(), Text: text, From: s.self}
	s.pending = append(s.pending, m)
	s.queued += len(text)
	s.lastID = m.ID
	s.sent = max(s.sent, s.acked)
	s.mu.Unlock()
	l := s.link
	if l == nil || s.sent != m.ID-1 {
		// Disconnected, or a resend is under way: the message waits its
		// turn in pending, so that none overtakes another.
		return m, nil
	}
	b := s.takeControl(s.wbuf[:0])
	b = appendMessageFrame(b, m.ID, m.Time, m.Text)
	s.sent = m.ID
	return m, s.write(l, b)
}

// byteSize writes n bytes for people: 300 bytes, 12 KiB, 16 MiB.
func byteSize(n int) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<20:
		return fmt.Sprintf("%d KiB", (n+1<<9)>>10)
	}
	return fmt.Sprintf("%d MiB", (n+1<<19)>>20)
}

// Ping asks the peer for a pong; Next returns a Pong with the round trip.
func (s *Session) Ping() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.ended(); err != nil {
		return err
	}
	l := s.link
	if l == nil {
		return fmt.Errorf("%w: not connected to %s", ErrConnectionLost, s.Peer().Name)
	}
	s.mu.Lock()
	s.pingNonce++
	nonce := s.pingNonce
	s.pingSent[nonce] = time.Now()
	s.mu.Unlock()
	return s.write(l, appendU64Frame(s.takeControl(s.wbuf[:0]), framePing, nonce))
}

// write sends b, which holds whole frames, on l; the caller holds wmu. A
// failure breaks l, and is returned only if it ends the conversation. b's
// array becomes the write buffer, as b was built from it.
func (s *Session) write(l *link, b []byte) error {
	s.wbuf = b[:0]
	return s.writeFrom(l, b)
}

// writeFrom is write for frames built outside the write buffer (a file
// chunk in its sender's buffer): the write buffer stays as it was.
func (s *Session) writeFrom(l *link, b []byte) error {
	l.writes.Add(1)
	var err error
	if len(b) > maxRecord {
		// More than one TLS record: one system call for them all.
		l.cork.cork()
		_, err = l.conn.Write(b)
		if uerr := l.cork.uncork(); err == nil {
			err = uerr
		}
	} else {
		_, err = l.conn.Write(b)
	}
	l.written.Add(1)
	if err != nil {
		return s.linkFailed(l, s.lost(err))
	}
	return nil
}

// Next returns the next event: a *Message, a Delivered or a Pong, and the
// state of the connection when it breaks (Disconnected, Reconnecting,
// Reconnected). It returns an error only when the conversation is over:
// io.EOF when the peer said goodbye, and otherwise why (a *TrustError or a
// *ProtocolError, ErrResumeTimeout, ErrConnectionLost or ErrHeartbeatLost
// when the conversation cannot resume, ErrClosed).
//
// On a dialer with Config.Reconnect, reconnection happens in Next: some
// goroutine must keep calling it, as it must for acknowledgements.
func (s *Session) Next() (Event, error) {
	for {
		if len(s.evq) > 0 {
			ev := s.evq[0]
			s.evq[0] = nil
			s.evq = s.evq[1:]
			return ev, nil
		}
		l := s.rd
		if l == nil {
			ev, err := s.resume()
			if err != nil {
				return nil, err
			}
			if ev != nil {
				return ev, nil
			}
			continue
		}
		if l.fr.buffered() == 0 {
			s.sendOwed()
		}
		t, p, err := l.fr.next()
		if err != nil {
			var pe *ProtocolError
			if errors.As(err, &pe) {
				return nil, s.abort(l, pe)
			}
			if ev, err := s.drop(l, l.fail(s.lost(err))); err != nil || ev != nil {
				return ev, err
			}
			continue
		}
		l.frames.Add(1)
		ev, err := s.handle(t, p)
		if err == nil {
			err = s.awaitOwed(l)
		}
		if err != nil {
			var pe *ProtocolError
			if errors.As(err, &pe) && !pe.Remote {
				return nil, s.abort(l, pe)
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
		fresh := m.ID == want
		if fresh {
			s.received = m.ID
		}
		received, from := s.received, s.peer.Name
		s.mu.Unlock()
		switch {
		case fresh:
		case m.ID < want:
			// Sent again after a reconnection, and already shown:
			// acknowledged again, so that the sender can let go of it.
			s.owe(received, 0)
			return nil, nil
		default:
			return nil, protocolErrorf("message %d out of order, expected %d", m.ID, want)
		}
		m.From = from
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
	if t >= frameFileOffer && t <= frameFileCancel {
		return s.handleFile(t, p)
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
	if upTo > s.lastID {
		return nil, protocolErrorf("acknowledgement of message %d, which was never sent", upTo)
	}
	s.dropPending(upTo)
	return Delivered{UpTo: upTo}, nil
}

// dropPending forgets the pending messages up to upTo, which the peer has
// received, and wakes Flush; the caller holds mu. Pending ids are
// consecutive, so this costs nothing per message but clearing it; the
// slice is compacted once its dead front outweighs the rest.
func (s *Session) dropPending(upTo uint64) {
	end := s.head + int(upTo-s.acked)
	for i := s.head; i < end; i++ {
		s.queued -= len(s.pending[i].Text)
	}
	clear(s.pending[s.head:end])
	s.head = end
	switch {
	case s.head == len(s.pending):
		s.pending, s.head = s.pending[:0], 0
	case s.head >= 256 && 2*s.head >= len(s.pending):
		n := copy(s.pending, s.pending[s.head:])
		clear(s.pending[n:])
		s.pending, s.head = s.pending[:n], 0
	}
	s.acked = upTo
	select {
	case s.ackSignal <- struct{}{}:
	default:
	}
}

// Pending returns the messages sent and not yet acknowledged, those queued
// while disconnected included.
func (s *Session) Pending() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.pending[s.head:]...)
}

func (s *Session) pendingCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending) - s.head
}

// Flush waits until every message sent so far is acknowledged, the session
// ends, or ctx is done; it keeps waiting across a reconnection. Some
// goroutine must be calling Next meanwhile: that is where acknowledgements
// are read, and where a dialer reconnects.
func (s *Session) Flush(ctx context.Context) error {
	for {
		n := s.pendingCount()
		if n == 0 {
			return nil
		}
		select {
		case <-s.ackSignal:
		case <-s.done:
			if n = s.pendingCount(); n == 0 {
				return nil
			}
			return fmt.Errorf("%d message(s) not delivered: %w", n, s.endErr)
		case <-ctx.Done():
			return fmt.Errorf("%d message(s) not delivered: %w", n, ctx.Err())
		}
	}
}

// Close says goodbye to the peer and closes the connection; a dialer stops
// reconnecting. It waits, a second at most, for the goodbye to reach the
// peer's system. Next then returns ErrClosed. Messages not yet delivered
// stay in Pending; call Flush first to give them a chance.
func (s *Session) Close() error {
	s.closing.Store(true)
	s.cancel()
	s.mu.Lock()
	cur := s.cur
	s.mu.Unlock()
	if cur != nil {
		// A write stuck on a stalled connection holds wmu; the deadline
		// frees it, and bounds the goodbye.
		cur.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	}
	s.wmu.Lock()
	var said *link
	if l := s.link; s.ended() == nil && l != nil && !l.broken() {
		b := s.takeControl(s.wbuf[:0])
		if _, err := l.conn.Write(appendFrame(b, frameBye, nil)); err == nil {
			said = l
		}
	}
	s.wmu.Unlock()
	if said != nil {
		said.closeAfterGoodbye(goodbyeLinger)
	}
	s.end(ErrClosed)
	s.wg.Wait()
	return nil
}

// Done is closed when the conversation has ended; Err then says why. A
// connection that breaks while the conversation can resume does not end
// it.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err is the reason the conversation ended, or nil while it is on.
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

// end records the first reason the conversation ended, closes the
// connection, and returns that first reason, whatever later callers
// report. done is closed under mu, so that no connection is installed,
// and no goroutine started, after it.
func (s *Session) end(err error) error {
	s.endOnce.Do(func() {
		s.mu.Lock()
		s.endErr = err
		close(s.done)
		cur, o := s.cur, s.offered
		s.offered = nil
		s.mu.Unlock()
		s.cancel()
		s.ctlTimer.Stop()
		if cur != nil {
			cur.fail(err)
		}
		s.files.closeIncoming()
		if o != nil {
			o.link.fail(err)
		}
		if s.onEnd != nil {
			s.onEnd()
		}
	})
	return s.endErr
}

// abort tells the peer which rule it broke, then ends the conversation:
// a protocol error is a bug, and resuming would repeat it. It waits for
// the write lock, a second at most: the deadline, set first as Close
// does, cuts short a write stuck on a stalled connection, on l or on the
// connection l was to replace, and the conversation ends anyway. Giving
// up on a busy lock instead cost the peer the reason whenever another
// goroutine held it for a moment, such as the resend goroutine checking
// for work as a link is attached.
func (s *Session) abort(l *link, pe *ProtocolError) error {
	deadline := time.Now().Add(time.Second)
	l.conn.SetWriteDeadline(deadline)
	s.mu.Lock()
	cur := s.cur
	s.mu.Unlock()
	if cur != nil && cur != l {
		cur.conn.SetWriteDeadline(deadline)
	}
	s.wmu.Lock()
	l.conn.Write(appendErrorFrame(nil, codeProtocol, pe.Reason))
	s.wmu.Unlock()
	return s.end(pe)
}

// ErrConnectionLost is matched by the error a connection breaks with when
// it ended without a goodbye.
var ErrConnectionLost = errors.New("connection lost")

func (s *Session) lost(err error) error {
	if e := s.ended(); e != nil && errors.Is(err, net.ErrClosed) {
		return e
	}
	name := s.Peer().Name
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %s closed the connection without saying goodbye", ErrConnectionLost, name)
	}
	return fmt.Errorf("%w with %s: %w", ErrConnectionLost, name, err)
}
