package main

// The chat screen of the interactive mode, as bytes: the conversation
// scrolls in the terminal's normal flow, and the input line (prompt and
// draft) is always the last row. To print a conversation line the screen
// erases the input row, writes the line and a CRLF there, and draws the
// input row again below it, so a message never cuts into the draft and the
// draft never leaks into the conversation. Between the two, the status
// region holds one line per file in flight (screen_status.go), erased and
// drawn again with the input row. Nothing here touches a terminal:
// the runner (tui.go) hands the bytes to one, tests to an emulator.
//
// Rules of what is shown, in addition to ui.go's:
//   - a conversation line is "HH:MM:SS name: text", a notice
//     "HH:MM:SS -- text", an error "HH:MM:SS !! text": the marks tell them
//     apart without colour, colour (when on) only helps;
//   - everything that reaches the bytes passes through sanitize, own text
//     included, so nothing shown can move the cursor or change colours;
//   - a line longer than a row is wrapped by the screen, each row after
//     the first indented under the text (screen_wrap.go), so a peer's
//     text never starts a row;
//   - the time is when a message reached us, by our clock; the sender's
//     is shown beside it only when it is more than a minute off;
//   - the input line never wraps (editor.render), so the cursor row is
//     always the input row.
//
// Delivery marks: an own message is shown with a pending mark, ⋅, when it
// is sent, and the mark becomes ✓ when the peer acknowledges it, rewritten
// in place, on the line's last row, if the line is still on the screen:
// the screen keeps the row count of the lines printed since that message
// (recent), exact since it breaks the rows itself, which tells how far up
// it is, and forgets them on a resize, since the terminal may have
// reflowed them; lines printed after a resize wrap at the new width. A message acknowledged after it left that region is
// reported by a notice if that took longer than lateDelivery; a quick
// acknowledgement of a line out of view is not worth a line of its own.

import (
	"io"
	"strconv"
	"time"

	"github.com/rivo/uniseg"

	"peerchat/peer"
)

const (
	markPending   = "⋅" // U+22C5 and U+2713 are one cell wide everywhere,
	markDelivered = "✓" // even where East Asian ambiguous characters take two
	lateDelivery  = time.Second
)

// styles are the SGR sequences of each part of the screen; all empty when
// colour is off.
type styles struct {
	time, self, peer, notice, err, pending, delivered, prompt, reset string
}

var colorStyles = styles{
	time:      "\x1b[2m",
	self:      "\x1b[1;36m",
	peer:      "\x1b[1;33m",
	notice:    "\x1b[2;3m",
	err:       "\x1b[1;31m",
	pending:   "\x1b[2m",
	delivered: "\x1b[32m",
	prompt:    "\x1b[1m",
	reset:     "\x1b[0m",
}

type screen struct {
	ed            editor
	width, height int
	st            styles
	self, peer    string // sanitized names
	rawPeer       string
	selfW, peerW  int
	prompt        string
	promptW       int
	now           func() time.Time

	buf    []byte
	erased bool // the input row is blank and the cursor at its start
	dirty  bool // the input row must be drawn again

	// The input row as last rendered, for the editor's gen and the width:
	// when messages stream in, the same row is drawn after each batch.
	input      []byte
	inputGen   uint64
	inputWidth int

	// The time of the last line shown, and its text: lines arrive in
	// bursts within the same second.
	lastSec  int64
	lastTime []byte

	unacked   []ownLine // own messages shown and not yet delivered, by id
	ackedUpTo uint64
	recent    []shownLine // the lines right above the input row, oldest first
	rows      int         // rows the recent lines take

	// The status region between the conversation and the input row: one
	// line per file transfer (screen_status.go).
	status      []string // sanitized, one per transfer
	statusDirty bool     // status changed since it was drawn
	statusRows  int      // rows of it on the terminal right above the cursor row
}

type ownLine struct {
	id   uint64
	sent time.Time
	text string // sanitized
}

// shownLine is a line in the region above the input row that delivery
// marks can still be rewritten in.
type shownLine struct {
	id   uint64 // own message waiting for its ✓, or 0
	rows int
	pre  []byte // for an own message: the bytes of its last row up to the mark
}

func newScreen(self, peerName string, width, height int, color, hidden bool) *screen {
	sc := &screen{width: width, height: height, now: time.Now}
	if color {
		sc.st = colorStyles
	}
	sc.self, sc.peer, sc.rawPeer = sanitize(self), sanitize(peerName), peerName
	sc.selfW, sc.peerW = cells(sc.self), cells(sc.peer)
	p := "> "
	if hidden {
		p = "(input hidden) > "
	}
	sc.prompt, sc.promptW = sc.st.prompt+p+sc.st.reset, len(p)
	sc.ed.hidden = hidden
	sc.dirty = true
	return sc
}

// above readies the input row for a conversation line: it erases the
// input row and the status region above it, and leaves the cursor at the
// start of the region's first row, where the line goes. flush draws both
// again below what was printed.
func (sc *screen) above() {
	if !sc.erased {
		if sc.statusRows > 0 {
			sc.buf = append(sc.buf, '\r')
			sc.buf = appendCSI(sc.buf, sc.statusRows, 'A')
			sc.buf = append(sc.buf, "\x1b[J"...)
			sc.statusRows = 0
		} else {
			sc.buf = append(sc.buf, "\r\x1b[K"...)
		}
		sc.erased = true
	}
	sc.dirty = true
}

func (sc *screen) appendTime(b []byte, t time.Time) []byte {
	b = append(b, sc.st.time...)
	if sec := t.Unix(); sec != sc.lastSec || sc.lastTime == nil {
		sc.lastSec, sc.lastTime = sec, t.Local().AppendFormat(sc.lastTime[:0], transcriptTime)
	}
	b = append(b, sc.lastTime...)
	b = append(b, sc.st.reset...)
	return append(b, ' ')
}

// timeCells is the width of appendTime's "HH:MM:SS ".
const timeCells = len(transcriptTime) + 1

// message shows a message from the peer, at the time it reached us,
// with the sender's when its clock is off.
func (sc *screen) message(m *incoming) {
	sc.above()
	name, nameW := sc.peer, sc.peerW
	if m.From != sc.rawPeer {
		name = sanitize(m.From)
		nameW = cells(name)
	}
	skew := skewMark(m.Time, m.At)
	w := sc.startLine(sc.buf, timeCells+nameW+len(skew)+2)
	w.b, w.col = sc.appendTime(w.b, m.At), timeCells
	w.style(sc.st.peer)
	w.text(name)
	w.style(sc.st.reset)
	w.text(skew)
	w.text(": ")
	w.text(sanitize(m.Text))
	sc.buf = w.end()
	if len(sc.recent) > 0 { // rows matter only below a line awaiting its mark
		sc.track(shownLine{rows: w.rows})
	}
}

// own shows a message we sent, with its delivery mark.
func (sc *screen) own(m peer.Message) {
	sc.above()
	text := sanitize(m.Text)
	w := sc.startLine(sc.buf, timeCells+sc.selfW+2)
	w.b, w.col = sc.appendTime(w.b, m.Time), timeCells
	w.style(sc.st.self)
	w.text(sc.self)
	w.style(sc.st.reset)
	w.text(": ")
	w.text(text)
	w.room(2) // the mark stays beside its space
	w.text(" ")
	pre := w.b[w.last:] // the last row, up to the mark: rewrite draws it again
	delivered := m.ID <= sc.ackedUpTo
	w.b = sc.appendMark(w.b, delivered)
	sc.buf = w.end()
	if delivered {
		if len(sc.recent) > 0 {
			sc.track(shownLine{rows: w.rows})
		}
		return
	}
	sc.unacked = append(sc.unacked, ownLine{id: m.ID, sent: sc.now(), text: text})
	sc.track(shownLine{id: m.ID, rows: w.rows, pre: append([]byte(nil), pre...)})
}

func (sc *screen) appendMark(b []byte, delivered bool) []byte {
	if delivered {
		b = append(b, sc.st.delivered...)
		b = append(b, markDelivered...)
	} else {
		b = append(b, sc.st.pending...)
		b = append(b, markPending...)
	}
	return append(b, sc.st.reset...)
}

// past shows a line from the history, dimmed: the conversation before
// this one. prefix and text are already sanitized.
func (sc *screen) past(prefix, text string) {
	sc.above()
	pw := cells(prefix)
	w := sc.startLine(sc.buf, pw)
	w.style(sc.st.time)
	w.text(prefix)
	w.text(text)
	w.style(sc.st.reset)
	sc.buf = w.end()
	if len(sc.recent) > 0 {
		sc.track(shownLine{rows: w.rows})
	}
}

// notice shows a line about the chat; isErr marks it as an error.
func (sc *screen) notice(text string, isErr bool) {
	sc.above()
	text = sanitize(text)
	mark, style := "-- ", sc.st.notice
	if isErr {
		mark, style = "!! ", sc.st.err
	}
	w := sc.startLine(sc.buf, timeCells+len(mark))
	w.b, w.col = sc.appendTime(w.b, sc.now()), timeCells
	w.style(style)
	w.text(mark)
	w.text(text)
	w.style(sc.st.reset)
	sc.buf = w.end()
	if len(sc.recent) > 0 {
		sc.track(shownLine{rows: w.rows})
	}
}

// delivered turns the marks of own messages up to upTo into ✓.
func (sc *screen) delivered(upTo uint64) {
	if upTo <= sc.ackedUpTo {
		return
	}
	sc.ackedUpTo = upTo
	late, last := 0, ownLine{}
	var wait time.Duration
	for len(sc.unacked) > 0 && sc.unacked[0].id <= upTo {
		o := sc.unacked[0]
		sc.unacked = sc.unacked[1:]
		if sc.rewrite(o.id) {
			continue
		}
		if d := sc.now().Sub(o.sent); d > lateDelivery {
			late, last, wait = late+1, o, d
		}
	}
	if len(sc.unacked) == 0 {
		sc.unacked = nil // let a long backlog's array go
	}
	sc.trim()
	switch {
	case late == 1:
		sc.notice("delivered to "+sc.peer+" after "+roundDuration(wait).String()+": "+abbreviate(last.text, 40), false)
	case late > 1:
		sc.notice(strconv.Itoa(late)+" messages delivered to "+sc.peer+", the last after "+roundDuration(wait).String(), false)
	}
}

// rewrite redraws the own message id with its ✓ if it is still in the
// region above the input row, and reports whether it was.
func (sc *screen) rewrite(id uint64) bool {
	up := sc.statusRows // the cursor is on the input row, below the status
	for k := len(sc.recent) - 1; k >= 0; k-- {
		l := &sc.recent[k]
		up += l.rows
		if l.id != id {
			continue
		}
		// The mark is on the line's last row.
		last := up - l.rows + 1
		b := append(sc.buf, '\r')
		b = appendCSI(b, last, 'A')
		b = append(b, l.pre...)
		b = sc.appendMark(b, true)
		b = appendCSI(b, last, 'B')
		sc.buf = append(b, '\r')
		sc.dirty = true
		l.id, l.pre = 0, nil
		return true
	}
	return false
}

func appendCSI(b []byte, n int, final byte) []byte {
	b = append(b, "\x1b["...)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, final)
}

// track records a line just printed above the input row.
func (sc *screen) track(l shownLine) {
	sc.recent = append(sc.recent, l)
	sc.rows += l.rows
	sc.trim()
}

// trim forgets the lines that scrolled out of reach, and those before the
// oldest message still waiting for its mark.
func (sc *screen) trim() {
	n := 0
	for n < len(sc.recent) && (sc.recent[n].id == 0 || sc.rows > sc.height-1-sc.statusHeight()) {
		sc.rows -= sc.recent[n].rows
		n++
	}
	if n > 0 {
		sc.recent = append(sc.recent[:0], sc.recent[n:]...)
	}
}

// abbreviate cuts s to about n cells, marking the cut.
// Cells are counted as the wrapping counts them (cells).
func abbreviate(s string, n int) string {
	if cells(s) <= n {
		return s
	}
	w, out, state := 0, s, -1
	for rest := s; len(rest) > 0; {
		var c string
		var cw int
		c, rest, cw, state = uniseg.FirstGraphemeClusterInString(rest, state)
		cw = clusterCells(c, cw)
		if w+cw > n-1 {
			out = s[:len(s)-len(rest)-len(c)]
			break
		}
		w += cw
	}
	return out + "…"
}

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// resize follows a new terminal size. The lines above can no longer be
// counted on (the terminal may have reflowed them), so their marks stay
// as they are.
func (sc *screen) resize(width, height int) {
	if width == sc.width && height == sc.height {
		return
	}
	sc.width, sc.height = width, height
	sc.recent, sc.rows = nil, 0
	sc.dirty = true
	sc.statusDirty = len(sc.status) > 0 // cut to the new width
}

// redraw draws the input row and the status region again (Ctrl-L, or
// after a resize).
func (sc *screen) redraw() {
	sc.erased = false
	sc.dirty = true
	sc.statusDirty = true
}

// flush draws the status region and the input row if needed and writes
// what accumulated.
func (sc *screen) flush(w io.Writer) error {
	if sc.statusDirty {
		sc.above() // the region's size may change: draw it whole
		sc.statusDirty = false
	}
	if sc.dirty {
		if sc.erased {
			sc.drawStatus()
		}
		if sc.input == nil || sc.inputGen != sc.ed.gen || sc.inputWidth != sc.width {
			sc.input = sc.ed.render(sc.input[:0], sc.prompt, sc.promptW, sc.width)
			sc.inputGen, sc.inputWidth = sc.ed.gen, sc.width
		}
		sc.buf = append(sc.buf, sc.input...)
		sc.erased, sc.dirty = false, false
	}
	if len(sc.buf) == 0 {
		return nil
	}
	_, err := w.Write(sc.buf)
	sc.buf = sc.buf[:0]
	return err
}

// close leaves the terminal as the shell expects it: the input row erased,
// colours reset, the cursor at the start of an empty row.
func (sc *screen) close(w io.Writer) error {
	sc.erased = false
	sc.above() // the status region goes with the input row
	sc.statusDirty = false
	sc.buf = append(sc.buf, sc.st.reset...)
	sc.dirty = false
	return sc.flush(w)
}
