package main

// All of peerchat's output goes through this file, under these rules:
//
//   - stdout carries only the transcript, one line per message, so that
//     `peerchat dial … > log` records the conversation and nothing else;
//     for `peerchat certs check` and `certs show` the report is the
//     command's output and goes to stdout, its verdict to stderr;
//   - everything else (notices, refusals, errors) goes to stderr, prefixed
//     "peerchat: ", lower case, no trailing period;
//   - every error is one line that says what happened, to whom, and what
//     to do about it;
//   - nothing a peer sent (text, names, certificate fields) reaches either
//     stream without passing through sanitize.
//
// That is pipe mode. When stdin and stdout are a terminal, the chat is a
// screen instead (screen.go and tui.go, under the rules stated there):
// while it is up, notices join the conversation on it rather than stderr,
// and what ends the chat is shown there too.

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"peerchat/peer"
)

// transcriptTime is how a message's time is shown: when it reached us,
// by our clock, in the local time zone.
const transcriptTime = "15:04:05"

// incoming is a message from the peer with the time it reached us, by our
// clock: what is shown, ordered and filtered by (history --since). The
// sender's clock, Message.Time, is the peer's word: it could backdate a
// line or hide it from --since. It is kept in the history, and shown only
// beside ours when the two differ by more than clockSkew.
type incoming struct {
	*peer.Message
	At time.Time
}

// arrived stamps a message from s.Next with now; other events pass.
func arrived(ev peer.Event, now time.Time) peer.Event {
	if m, ok := ev.(*peer.Message); ok {
		return &incoming{Message: m, At: now}
	}
	return ev
}

// clockSkew is how far the sender's clock may be from ours before a line
// shows it: more than network delays and clocks kept by NTP differ by.
const clockSkew = time.Minute

// skewMark is " (sent 09:12:55)", the sender's time, when it is more
// than clockSkew from at (with the date when that differs too), or "".
func skewMark(sent, at time.Time) string {
	if d := sent.Sub(at); d <= clockSkew && d >= -clockSkew {
		return ""
	}
	layout := transcriptTime
	sy, sm, sd := sent.Local().Date()
	if ay, am, ad := at.Local().Date(); sy != ay || sm != am || sd != ad {
		layout = historyTime
	}
	return " (sent " + sent.Local().Format(layout) + ")"
}

type ui struct {
	mu     sync.Mutex
	stdout io.Writer
	stderr io.Writer
	// sink, while the chat screen is up, takes notices into the
	// conversation; it returns false once the screen no longer can.
	sink func(text string) bool
	// progressing: a progress line (see progress) is on stderr, to be
	// erased by the next line.
	progressing bool
}

// progress shows text on one stderr line that each call overwrites, when
// stderr is a terminal; elsewhere (a log, a script) it prints nothing, so
// that output stays one line per event. The text is cut to the width of
// the terminal: a line that wrapped could no longer be overwritten by
// going back to its start.
func (u *ui) progress(text string) {
	f, ok := u.stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return
	}
	const prefix = "peerchat: "
	width, _ := terminalSize(int(f.Fd()))
	// One cell spare: writing the last column makes some terminals wrap.
	text = abbreviate(prefix+text, max(width-1, len(prefix)+2))
	u.mu.Lock()
	defer u.mu.Unlock()
	io.WriteString(u.stderr, "\r"+text+"\x1b[K")
	u.progressing = true
}

// endProgress erases the progress line, if one is shown, so that what is
// written next starts on a clean line; the caller holds mu. A later call
// to progress draws it again.
func (u *ui) endProgress() {
	if u.progressing {
		io.WriteString(u.stderr, "\r\x1b[K")
		u.progressing = false
	}
}

// notice prints a line about the chat on stderr, or on the chat screen
// while there is one.
func (u *ui) notice(format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	u.mu.Lock()
	sink := u.sink
	u.mu.Unlock()
	if sink != nil && sink(text) {
		return
	}
	eol := "\n"
	if sink != nil {
		eol = "\r\n" // the screen is closing, the terminal may still be raw
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.endProgress()
	io.WriteString(u.stderr, "peerchat: "+text+eol)
}

// setSink routes notices to the chat screen, or back to stderr (nil).
func (u *ui) setSink(sink func(string) bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.sink = sink
}

// report prints one line of a command's report on stdout.
func (u *ui) report(format string, args ...any) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.endProgress()
	fmt.Fprintf(u.stdout, format+"\n", args...)
}

// message prints one line of the transcript on stdout.
func (u *ui) message(m *incoming) {
	line := fmt.Sprintf("[%s] %s%s: %s\n", m.At.Local().Format(transcriptTime), sanitize(m.From), skewMark(m.Time, m.At), sanitize(m.Text))
	u.mu.Lock()
	defer u.mu.Unlock()
	// stdout and stderr are often the same terminal: the line would
	// otherwise be written over the progress line's tail.
	u.endProgress()
	io.WriteString(u.stdout, line)
}

// errorLine prints err as the last word of a run.
func (u *ui) errorLine(err error) {
	msg := err.Error()
	// Errors can quote what a peer sent (its certificate's names, its
	// reason for refusing us).
	u.notice("%s", sanitize(strings.TrimSpace(msg)))
}

// connected announces the peer with what its certificate proves, and
// the safety code both sides show: the same code means the same pair of
// certificates on both ends.
func (u *ui) connected(s *peer.Session) {
	p := s.Peer()
	u.notice("connected to %s (fingerprint %s) at %s, safety code %s", sanitize(p.Name), shortFingerprint(p.Fingerprint), p.Addr, p.SafetyCode)
}

// shortFingerprint is the first 8 bytes of a fingerprint, as both sides
// print it on connect.
func shortFingerprint(fp string) string {
	if len(fp) > 23 {
		return fp[:23]
	}
	return fp
}

// undelivered reports messages the peer never acknowledged.
func (u *ui) undelivered(pending []peer.Message, to string) {
	for _, m := range pending {
		u.notice("not delivered to %s: [%s] %s", sanitize(to), m.Time.Local().Format(transcriptTime), sanitize(m.Text))
	}
}
