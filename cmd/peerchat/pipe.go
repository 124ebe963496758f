package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"peerchat/peer"
)

// lingerTimeout is the default bound (--linger) on how long a chat that is
// ending waits for the peer to acknowledge what was sent, before it says
// goodbye regardless and reports what was not delivered.
const lingerTimeout = 10 * time.Second

// chat runs a conversation in pipe mode: every line of in is a message,
// every message received is a line on stdout. It returns when in ends (after
// delivering what was sent), when the peer leaves, when the session fails,
// or when ctx is cancelled (a signal). With receiving set (listen
// --accept-files), the end of input does not end the chat: a receiver run
// from a script with no input stays until the sender leaves.
func chat(ctx context.Context, s *peer.Session, in io.Reader, u *ui, linger time.Duration, receiving bool, rec *recorder) error {
	u.connected(s)
	rec.start(func(text string) { u.notice("%s", text) })
	peerName := sanitize(s.Peer().Name)

	// The reader of the session owns its reads; it ends when the session
	// does, which every path below ensures by closing it. The printer
	// takes what has arrived meanwhile as one batch: recorded in the
	// history in one transaction, then printed.
	ended := make(chan error, 1)
	events := make(chan peer.Event, maxBatch)
	var readErr error
	go func() {
		defer close(events)
		for {
			ev, err := s.Next()
			if err != nil {
				readErr = err // read by the printer once events is closed
				return
			}
			events <- arrived(ev, time.Now())
		}
	}()
	go func() {
		recv := newReceiving(u, peerName)
		batch := make([]peer.Event, 0, maxBatch)
		for ev := range events {
			batch = append(batch[:0], ev)
		more:
			for len(batch) < maxBatch {
				select {
				case ev, ok := <-events:
					if !ok {
						break more
					}
					batch = append(batch, ev)
				default:
					break more
				}
			}
			for _, ev := range batch {
				if m, ok := ev.(*incoming); ok {
					rec.received(m)
				} else {
					rec.event(ev)
				}
			}
			// Recorded before printed: a kill -9 cannot lose a line
			// that was shown.
			rec.commit()
			for _, ev := range batch {
				if m, ok := ev.(*incoming); ok {
					u.message(m)
				} else if text, ok := connectionNotice(ev, peerName); ok {
					u.notice("%s", text)
					if rc, ok := ev.(peer.Reconnected); ok && rc.PeerRestarted {
						recv.peerRestarted()
					}
				} else if o, ok := ev.(peer.FileOffer); ok {
					// Offers wait for an answer only where a chat screen
					// asks (Config.ConfirmFiles): this is a terminal that
					// could not show one, and nobody can answer here.
					s.RejectFile(o.ID, cannotAsk)
					recv.refusals.line(fmt.Sprintf("refused %s from %s: this terminal cannot show the chat screen to ask; --accept-files takes files without asking", sanitize(o.Name), peerName))
				} else {
					recv.event(ev, time.Now())
				}
			}
		}
		recv.unfinished()
		ended <- readErr
	}()

	// The stdin reader ends at end of input; if the chat ends first it
	// stays blocked in Read until the process exits, which follows at
	// once: nothing waits for it.
	lines := make(chan string)
	inputDone := make(chan error, 1)
	go func() { inputDone <- readLines(in, lines) }()

	for {
		select {
		case line := <-lines:
			parts := splitMessage(line)
			for i, part := range parts {
				m, err := s.Send(part)
				if errors.Is(err, peer.ErrQueueFull) {
					// Disconnected for long with much typed: stop reading
					// input until the peer has taken what is queued, so
					// that a pipe slows down instead of losing lines.
					u.notice("%s; waiting for room before reading more input", sanitize(err.Error()))
					if err = s.Flush(ctx); err == nil {
						m, err = s.Send(part)
					}
					if ctx.Err() != nil { // a signal while waiting
						for _, p := range parts[i:] {
							u.notice("not delivered to %s: %s", peerName, sanitize(p))
						}
						leave(s, u, peerName, ended, 2*time.Second)
						return errUndelivered
					}
				}
				if err != nil {
					// The session ended under us: what could not even
					// be sent is reported like what was not delivered.
					for _, p := range parts[i:] {
						u.notice("not delivered to %s: %s", peerName, sanitize(p))
					}
					return finish(s, u, peerName, <-ended, len(parts)-i)
				}
				rec.sent(m)
				rec.commit()
			}
		case err := <-inputDone:
			if err != nil {
				u.notice("reading input: %v", err)
			}
			if receiving {
				inputDone = nil // stay to receive files until the peer leaves
				continue
			}
			return leave(s, u, peerName, ended, linger)
		case err := <-ended:
			return finish(s, u, peerName, err, 0)
		case <-ctx.Done():
			return leave(s, u, peerName, ended, 2*time.Second)
		}
	}
}

// leave ends the chat from our side: wait (bounded) for everything sent to
// be acknowledged, say goodbye, report what was not delivered.
func leave(s *peer.Session, u *ui, peerName string, ended <-chan error, linger time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), linger)
	defer cancel()
	s.Flush(ctx) // what it could not deliver is in s.Pending below
	s.Close()
	<-ended
	if pending := s.Pending(); len(pending) > 0 {
		u.undelivered(pending, peerName)
		u.notice("%d message(s) not delivered to %s", len(pending), peerName)
		return errUndelivered
	}
	return nil
}

// finish reports how a session that ended by itself ended; unsent counts
// lines already reported as never sent.
func finish(s *peer.Session, u *ui, peerName string, err error, unsent int) error {
	s.Close()
	pending := s.Pending()
	u.undelivered(pending, peerName)
	if !errors.Is(err, io.EOF) {
		return networkOrTrust(err)
	}
	u.notice("%s left the chat", peerName)
	if n := len(pending) + unsent; n > 0 {
		u.notice("%d message(s) not delivered to %s", n, peerName)
		return errUndelivered
	}
	return nil
}

// readLines sends each line of r, without its line ending, to lines. Empty
// lines are skipped: there is nothing to show for them. It returns nil at
// end of input.
func readLines(r io.Reader, lines chan<- string) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if line != "" {
			lines <- line
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// splitMessage makes a line sendable: invalid UTF-8 becomes U+FFFD, and a
// line longer than a message can hold becomes several messages, cut
// between characters, so that nothing typed is dropped.
func splitMessage(line string) []string {
	line = strings.ToValidUTF8(line, "\uFFFD")
	var parts []string
	for len(line) > peer.MaxText {
		cut := peer.MaxText
		for !utf8.RuneStart(line[cut]) {
			cut--
		}
		parts = append(parts, line[:cut])
		line = line[cut:]
	}
	return append(parts, line)
}
