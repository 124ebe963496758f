package peer

import (
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// This file holds what lets a conversation outlive its connection:
// attaching a new link (link.go) to a session, the dialer's reconnection
// loop and the listener's wait. See Resumption in doc.go.

// An offer is a connection a listener accepted from the certificate of a
// conversation it holds, with the hellos exchanged on it, waiting for the
// session's Next to attach it.
type offer struct {
	link         *link
	info         PeerInfo
	theirs, ours hello
}

// errSuperseded breaks an offered connection that a newer one replaced
// before Next took it.
var errSuperseded = errors.New("superseded by a newer connection from the same peer")

func newConvID() convID {
	var c convID
	crand.Read(c[:])
	c[0] |= 1 // never the zero id, which means "none"
	return c
}

// resumable says whether a broken connection leaves the conversation
// waiting to resume rather than ending it.
func (s *Session) resumable() bool {
	if s.closing.Load() {
		return false
	}
	s.mu.Lock()
	ok := s.peerResumes
	s.mu.Unlock()
	switch {
	case !ok:
		return false
	case s.dial != nil:
		return s.cfg.Reconnect
	}
	return s.cfg.ResumeWait > 0 && s.lis.ctx.Err() == nil
}

// linkFailed breaks l for err. When the conversation can resume, Next
// reports the drop and resumes, and linkFailed returns nil; otherwise the
// conversation ends here (so that Done is closed even when nobody calls
// Next) and linkFailed returns why.
func (s *Session) linkFailed(l *link, err error) error {
	cause := l.fail(err)
	if s.closing.Load() {
		return s.end(ErrClosed)
	}
	if s.resumable() {
		return nil
	}
	return s.end(cause)
}

// drop is Next's answer to the connection it reads breaking for cause:
// the conversation either waits to resume, and Next reports Disconnected,
// or ends.
func (s *Session) drop(l *link, cause error) (Event, error) {
	s.rd = nil
	s.mu.Lock()
	if s.cur == l {
		s.cur = nil
	}
	clear(s.pingSent)
	s.mu.Unlock()
	s.wmu.Lock()
	if s.link == l {
		s.link = nil
	}
	s.wmu.Unlock()
	if err := s.ended(); err != nil {
		return nil, err
	}
	if s.closing.Load() {
		return nil, s.end(ErrClosed)
	}
	if !s.resumable() {
		return nil, s.end(cause)
	}
	s.dropped, s.dropErr = time.Now(), cause
	s.attempt, s.retryAt, s.lastErr = 0, time.Time{}, nil
	ev := Disconnected{Err: cause}
	if s.dial == nil {
		ev.Wait = s.cfg.ResumeWait
	}
	return ev, nil
}

// resume runs while Next has no connection to read: a dialer redials, a
// listener waits for its peer. It returns an event to report, an error
// that ends the conversation, or neither when a connection was attached
// (its events are queued) or an attempt is to be made again.
func (s *Session) resume() (Event, error) {
	if s.dial != nil {
		return s.redial()
	}
	return s.awaitPeer()
}

// RetryNow cuts short a dialer's wait before its next reconnection
// attempt (the one the last Reconnecting event announced): for a user who
// knows the network is back. It does nothing while connected.
func (s *Session) RetryNow() {
	select {
	case s.retrySig <- struct{}{}:
	default:
	}
}

// backoff is the wait before reconnection attempt n (from 1): the base
// doubled n-1 times, capped, and drawn at random from its upper half, so
// that the wait grows but two dialers never march in step.
// r, when not nil, replaces the global source, for tests.
func backoff(cfg Config, n int, r *rand.Rand) time.Duration {
	d := cfg.ReconnectBackoffMax
	if n < 32 {
		d = min(cfg.ReconnectBackoff<<(n-1), d)
	}
	if r != nil {
		return d/2 + time.Duration(r.Int64N(int64(d/2)+1))
	}
	return d/2 + rand.N(d/2+1)
}

func (s *Session) redial() (Event, error) {
	if s.retryAt.IsZero() {
		select {
		case <-s.retrySig: // from before this wait: stale
		default:
		}
		s.attempt++
		d := backoff(s.cfg, s.attempt, nil)
		s.retryAt = time.Now().Add(d)
		return Reconnecting{Attempt: s.attempt, In: d, Err: s.lastErr}, nil
	}
	if d := time.Until(s.retryAt); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-s.retrySig:
		case <-s.ctx.Done():
		}
		t.Stop()
	}
	s.retryAt = time.Time{}
	if s.ctx.Err() != nil {
		return nil, s.end(ErrClosed)
	}
	l, info, theirs, ours, err := s.dial.connect(s.ctx, s.dialerHello)
	if err != nil {
		if s.ctx.Err() != nil {
			return nil, s.end(ErrClosed)
		}
		var te *TrustError
		var pe *ProtocolError
		if errors.As(err, &te) || errors.As(err, &pe) {
			return nil, s.end(err) // retrying would fail the same way
		}
		s.lastErr = err
		return nil, nil
	}
	_, err = s.attach(l, info, theirs, ours)
	return nil, err
}

// awaitPeer is a listener's wait for its peer to come back: the listener's
// handshake offers each connection from the same certificate.
func (s *Session) awaitPeer() (Event, error) {
	name := s.Peer().Name
	deadline := time.NewTimer(time.Until(s.dropped.Add(s.cfg.ResumeWait)))
	defer deadline.Stop()
	for {
		s.mu.Lock()
		o := s.offered
		s.offered = nil
		s.mu.Unlock()
		if o != nil {
			if ok, err := s.attach(o.link, o.info, o.theirs, o.ours); ok || err != nil {
				return nil, err
			}
			continue
		}
		select {
		case <-s.offerSig:
		case <-deadline.C:
			return nil, s.end(fmt.Errorf("%w: %s was away for %s (%w)", ErrResumeTimeout, name, s.cfg.ResumeWait, s.dropErr))
		case <-s.ctx.Done():
			return nil, s.end(ErrClosed)
		case <-s.lis.ctx.Done():
			return nil, s.end(fmt.Errorf("the listener closed; the conversation with %s cannot resume (%w)", name, s.dropErr))
		}
	}
}

// offer hands a listener's new connection from this session's peer to
// Next, and breaks the current connection, if any, so that Next notices:
// a peer that comes back knows better than our watchdog that its old
// connection is gone. It reports false if the conversation is over.
func (s *Session) offer(o *offer) bool {
	s.mu.Lock()
	if s.ended() != nil {
		s.mu.Unlock()
		return false
	}
	old, cur := s.offered, s.cur
	s.offered = o
	s.mu.Unlock()
	if old != nil {
		old.link.fail(errSuperseded)
	}
	select {
	case s.offerSig <- struct{}{}:
	default:
	}
	if cur != nil {
		cur.fail(fmt.Errorf("%w: %s connected again, from %s", ErrConnectionLost, o.info.Name, o.info.Addr))
	}
	return true
}

func (s *Session) fingerprint() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fp
}

// resumeBlock is what a listener tells a client with this session's
// certificate about the conversation it holds.
func (s *Session) resumeBlock() *resumeInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &resumeInfo{Conv: s.conv, Recv: s.received, First: s.acked + 1, Flags: flagFiles}
	if s.cur != nil && !s.cur.broken() {
		r.Flags |= flagConnected
	}
	return r
}

// dialerHello answers the listener's hello: it decides whether the
// listener holds this conversation and says, in our hello, where each
// direction resumes. It also makes sure a reconnection reaches the same
// peer as the first connection.
func (s *Session) dialerHello(theirs hello, info PeerInfo) (hello, error) {
	ours := hello{Version: ProtocolVersion, Name: s.self, Software: s.cfg.Software}
	s.mu.Lock()
	defer s.mu.Unlock()
	hostport := s.dial.hostport
	if s.attached && info.Name != s.peer.Name {
		te := trustErrorf(nil, "if "+info.Name+" is who you want to talk to now, start a new chat",
			"the listener at %s is now %s, not %s; the conversation with %s cannot resume there", hostport, info.Name, s.peer.Name, s.peer.Name)
		te.Reason, te.PeerName, te.Fingerprint, te.Want = ReasonNameMismatch, info.Name, info.Fingerprint, []string{s.peer.Name}
		return ours, te
	}
	if s.attached && info.Fingerprint != s.fp {
		// The same name with another certificate: a re-issued
		// certificate, or someone else's. It never takes over a
		// conversation begun with the other one, whose fingerprint
		// may have been checked by voice.
		return ours, &trustRefusal{
			reason: fmt.Sprintf("%s's conversation began with another certificate of %s (fingerprint %s), and yours is %s: a conversation resumes only with the certificate it began with", s.self, info.Name, s.fp, info.Fingerprint),
			err: &TrustError{Reason: ReasonCertificateChanged, PeerName: info.Name, Fingerprint: info.Fingerprint, Want: []string{s.fp},
				Msg: fmt.Sprintf("the listener at %s is %s with another certificate (fingerprint %s) than the one this conversation began with (%s); the conversation cannot resume, and has ended",
					hostport, info.Name, info.Fingerprint, s.fp),
				Hint: "if " + info.Name + " re-issued its certificate, compare the new fingerprint with " + info.Name + " by voice, then dial again for a new conversation"},
		}
	}
	r := theirs.Resume
	if r == nil {
		if s.attached {
			return ours, protocolErrorf("the listener at %s (%s) cannot resume conversations; use the same peerchat version on both sides", hostport, info.Name)
		}
		// A listener from before resumption: chat as it knows how.
		ours.Resume = &resumeInfo{Conv: s.conv, First: 1}
		return ours, nil
	}
	matched := r.Conv == s.conv
	if !matched && r.Flags&flagConnected != 0 {
		return ours, &netError{fmt.Sprintf("%s (at %s) is busy: it is already in a chat with %s from another session", info.Name, hostport, s.self), ErrBusy}
	}
	resume := &resumeInfo{Conv: s.conv, First: s.acked + 1, Flags: flagFiles}
	if matched {
		if r.Recv > s.lastID {
			return ours, protocolErrorf("the listener says it received message %d, which was never sent", r.Recv)
		}
		resume.Recv = s.received
		resume.First = max(r.Recv, s.acked) + 1
	}
	if s.cfg.Reconnect {
		resume.Flags |= flagReconnects
	}
	ours.Resume = resume
	return ours, nil
}

// attach makes l, on which the hellos theirs and ours were exchanged, the
// conversation's connection: it settles from the hellos where each
// direction resumes, forgets what the peer has received, and queues the
// rest to be sent again. It is called for the first connection too. It
// reports false, with a nil error, when l was refused but the conversation
// goes on waiting.
func (s *Session) attach(l *link, info PeerInfo, theirs, ours hello) (bool, error) {
	again := s.attached
	r := theirs.Resume
	s.mu.Lock()
	if r == nil {
		// A peer from before resumption (dialerHello and the listener
		// refuse it on a reconnection): the conversation ends with
		// this connection.
		s.peerResumes, s.peerFiles = false, false
		s.mu.Unlock()
		return true, s.install(l, info)
	}
	restarted := r.Conv != s.conv
	peerRecv := r.Recv
	if restarted {
		if s.dial == nil {
			if s.acked+1 != ours.Resume.First {
				// Acknowledgements arrived during the handshake,
				// so the hello we sent is stale; the peer will
				// try again.
				s.mu.Unlock()
				l.fail(errors.New("the conversation moved on during the handshake"))
				return false, nil
			}
			s.conv = r.Conv // the dialer restarted: adopt its conversation
		}
		// The peer starts afresh: its stream goes on from the id it
		// announces, and it holds none of ours.
		s.received, peerRecv = r.First-1, 0
	} else if r.First > s.received+1 {
		s.mu.Unlock()
		return false, s.abort(l, protocolErrorf("resuming at message %d leaves a gap after %d", r.First, s.received))
	}
	if peerRecv > s.lastID {
		s.mu.Unlock()
		return false, s.abort(l, protocolErrorf("the peer says it received message %d, which was never sent", peerRecv))
	}
	var delivered uint64
	if peerRecv > s.acked {
		s.dropPending(peerRecv)
		delivered = peerRecv
	}
	resent := int(s.lastID - s.acked)
	s.peerResumes = s.dial != nil || r.Flags&flagReconnects != 0
	s.peerFiles = r.Flags&flagFiles != 0
	s.mu.Unlock()
	if err := s.install(l, info); err != nil {
		return false, err
	}
	if restarted {
		// Transfer ids are the peer's previous life's: a new one could
		// collide with a file already received.
		s.files.forgetIncoming()
	}
	if again {
		s.evq = append(s.evq, Reconnected{Peer: info, Resent: resent, PeerRestarted: restarted})
		if delivered > 0 {
			s.evq = append(s.evq, Delivered{UpTo: delivered})
		}
	}
	return true, nil
}

// install starts using l: writes go to it, from the first message the peer
// lacks, and its heartbeat and resend goroutines start. It is called by
// the goroutine that owns reads (or before any goroutine calls Next).
func (s *Session) install(l *link, info PeerInfo) error {
	s.mu.Lock()
	if err := s.ended(); err != nil {
		s.mu.Unlock()
		l.fail(err)
		return err
	}
	s.cur = l
	s.peer = info
	s.fp = info.Fingerprint
	sent := s.acked
	s.wg.Add(2)
	s.mu.Unlock()
	s.ctlMu.Lock()
	// The peer learned from our hello what we received; an
	// acknowledgement owed on the old connection could even name ids of
	// a peer's previous life.
	s.ackUpTo, s.ackOwed = 0, false
	s.pongOwed = s.pongOwed[:0]
	s.ctlExtra = s.ctlExtra[:0] // file answers are given again on the new connection
	s.ctlFrames = 0
	// Files given up on meanwhile are not offered again: the receiver
	// hears of them now, or would keep their offers open.
	s.ctlExtra = append(s.ctlExtra, s.cancelsOwed...)
	s.cancelsOwed = nil
	s.ctlMu.Unlock()
	s.wmu.Lock()
	s.link, s.sent = l, sent
	close(s.relinked) // wakes the file senders waiting for a connection
	s.relinked = make(chan struct{})
	s.wmu.Unlock()
	s.rd, s.attached = l, true
	go s.heartbeat(l)
	go s.resend(l)
	return nil
}

// resendBatch bounds the bytes written per turn while catching up, so
// that pings and acknowledgements get the write lock in between.
const resendBatch = 32 << 10

// resend writes to l, in batches, the pending messages the peer lacks. It
// runs on its own goroutine because both sides resend at once after a
// reconnection: were the reader to write a long queue, each side could
// wait for the other to read. Send writes only when nothing waits before
// its message (sent is its id - 1), so no message overtakes another.
func (s *Session) resend(l *link) {
	defer s.wg.Done()
	for {
		s.wmu.Lock()
		if s.link != l || l.broken() || s.ended() != nil {
			s.wmu.Unlock()
			return
		}
		s.mu.Lock()
		s.sent = max(s.sent, s.acked)
		if s.sent >= s.lastID {
			s.mu.Unlock()
			s.wmu.Unlock()
			return
		}
		b := s.takeControl(s.wbuf[:0])
		for i := s.head + int(s.sent-s.acked); i < len(s.pending) && len(b) < resendBatch; i++ {
			m := &s.pending[i]
			b = appendMessageFrame(b, m.ID, m.Time, m.Text)
			s.sent = m.ID
		}
		s.mu.Unlock()
		s.write(l, b)
		s.wmu.Unlock()
	}
}
