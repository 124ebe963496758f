package peer

// This file holds the control frames owed to the peer (acknowledgements,
// pongs, file answers) and how they leave: with the next write, or on the
// control timer's goroutine. The reader only records them, so it never
// waits on a write; awaitOwed bounds what a peer that does not read can
// make this side owe.

import "time"

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
	b = append(b, s.ctlExtra...)
	s.ctlExtra = s.ctlExtra[:0]
	if cap(s.ctlExtra) > 4<<10 {
		s.ctlExtra = nil // a burst of replies is not kept for good
	}
	if s.ctlFrames > 0 {
		s.ctlFrames = 0
		select {
		case s.ctlDrained <- struct{}{}:
		default:
		}
	}
	return b
}

// flushControl sends owed control frames on their own, when no message
// went out to carry them. It runs on the timer's goroutine, never on the
// reader's, and never waits for a write under way: it tries again shortly
// instead, so a stalled peer neither stops our reads nor piles up waiting
// goroutines.
func (s *Session) flushControl() {
	if !s.wmu.TryLock() {
		s.ctlTimer.Reset(ackDelay) // ctlArmed stays set
		return
	}
	defer s.wmu.Unlock()
	s.ctlMu.Lock()
	s.ctlArmed = false
	s.ctlMu.Unlock()
	if s.ended() != nil || s.link == nil {
		return
	}
	if b := s.takeControl(s.wbuf[:0]); len(b) > 0 {
		s.write(s.link, b)
	}
}

// maxPongsOwed bounds the pongs remembered while no write can go out: a
// peer flooding pings at a stalled connection gets the latest answered.
const maxPongsOwed = 16

// owe records a control frame owed to the peer. Next has it sent before
// it next blocks on a read, unless a message leaves first and carries it.
func (s *Session) owe(ack uint64, pong uint64) {
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	if ack != 0 {
		s.ackUpTo, s.ackOwed = ack, true
	}
	if pong != 0 {
		if len(s.pongOwed) == maxPongsOwed {
			s.pongOwed = append(s.pongOwed[:0], s.pongOwed[1:]...)
		}
		s.pongOwed = append(s.pongOwed, pong)
	}
}

// sendOwed has owed control frames sent when Next is about to block: an
// acknowledgement thus leaves once the application has taken the message
// and come back for more, that is after the message was shown. In a
// conversation it usually rides with the answer instead, and nothing is
// owed by then, so the timer (and the thread wake-ups it costs) is used
// only when Next would otherwise sit on an unsent acknowledgement.
func (s *Session) sendOwed() {
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	if (s.ackOwed || len(s.pongOwed) > 0 || len(s.ctlExtra) > 0) && !s.ctlArmed {
		s.ctlArmed = true
		s.ctlTimer.Reset(0)
	}
}

// maxCtlOwed bounds the file replies owed to the peer (accepts, refusals,
// verdicts), in bytes and in frames: once they reach it, the reader reads
// nothing more until a write has taken them (awaitOwed). They pile up
// only while the peer sends requests faster than it reads the answers; a
// peer that goes on not reading for maxOwedWait has the conversation
// ended with a protocol error, rather than this side's memory grow.
const (
	maxCtlOwed       = 64 << 10
	maxCtlFramesOwed = 256
	maxOwedWait      = 5 * time.Second
)

// oweFrame queues a control frame for the peer and has it sent soon, by
// the timer's goroutine or with the next write: the reader never writes.
func (s *Session) oweFrame(b []byte) {
	s.ctlMu.Lock()
	s.ctlFrames++
	s.ctlExtra = append(s.ctlExtra, b...)
	arm := !s.ctlArmed
	s.ctlArmed = true
	s.ctlMu.Unlock()
	if arm {
		s.ctlTimer.Reset(0)
	}
}

// awaitOwed holds the reader of l while the file replies owed are at
// maxCtlOwed, until a write takes them, and ends the conversation if none
// can for maxOwedWait: the peer makes this side owe answers and does not
// read them.
func (s *Session) awaitOwed(l *link) error {
	var timeout <-chan time.Time
	for {
		s.ctlMu.Lock()
		n, frames := len(s.ctlExtra), s.ctlFrames
		if n < maxCtlOwed && frames < maxCtlFramesOwed {
			s.ctlMu.Unlock()
			return nil
		}
		if !s.ctlArmed {
			s.ctlArmed = true
			s.ctlTimer.Reset(0)
		}
		s.ctlMu.Unlock()
		if timeout == nil {
			t := time.NewTimer(maxOwedWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-s.ctlDrained:
		case <-l.done:
			return nil // the connection broke: Next's read says why
		case <-s.done:
			return s.endErr
		case <-timeout:
			// Ended here, before Next's abort: the write stuck on the
			// peer fails as abort cuts it short, and would otherwise
			// end the conversation as a mere lost connection. The peer,
			// which reads nothing, is not told.
			pe := protocolErrorf("too many replies owed: %s sent %d file frames that need an answer (%d bytes of answers) and read none of them for %s", s.Peer().Name, frames, n, maxOwedWait)
			return s.end(pe)
		}
	}
}
