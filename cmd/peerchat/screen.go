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
//   - the input line never wraps (editor.render), so the cursor row is
//     always the input row.
//
// Delivery marks: an own message is shown with a pending mark, ⋅, when it
// is sent, and the mark becomes ✓ when the peer acknowledges it, rewritten
// in place if the line is still on the screen: the screen keeps the row
// count of the lines printed since that message (recent), which tells how
// far up it is, and forgets them on a resize, since the terminal may have
// reflowed them. A message acknowledged after it left that region is
// reported by a notice if that took longer than lateDelivery; a quick
// acknowledgement of a line out of view is not worth a line of its own.

import (
	"io"
	"strconv"
	"time"
	"unicode/utf8"

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
	pre  []byte // for an own message: its bytes up to the mark
}

func newScreen(self, peerName string, width, height int, color, hidden bool) *screen {
	sc := &screen{width: width, height: height, now: time.Now}
	if color {
		sc.st = colorStyles
	}
	sc.self, sc.peer, sc.rawPeer = sanitize(self), sanitize(peerName), peerName
	sc.selfW, sc.peerW = uniseg.StringWidth(sc.self), uniseg.StringWidth(sc.peer)
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

// message shows a message from the peer.
func (sc *screen) message(m *peer.Message) {
	sc.above()
	name, nameW := sc.peer, sc.peerW
	if m.From != sc.rawPeer {
		name = sanitize(m.From)
		nameW = uniseg.StringWidth(name)
	}
	text := sanitize(m.Text)
	b := sc.appendTime(sc.buf, m.Time)
	b = append(b, sc.st.peer...)
	b = append(b, name...)
	b = append(b, sc.st.reset...)
	b = append(b, ": "...)
	b = append(b, text...)
	sc.buf = append(b, "\r\n"...)
	if len(sc.recent) > 0 { // rows matter only below a line awaiting its mark
		sc.track(shownLine{rows: sc.rowsOf(len(transcriptTime)+1+nameW+2, text, 0)})
	}
}

// own shows a message we sent, with its delivery mark.
func (sc *screen) own(m peer.Message) {
	sc.above()
	text := sanitize(m.Text)
	start := len(sc.buf)
	b := sc.appendTime(sc.buf, m.Time)
	b = append(b, sc.st.self...)
	b = append(b, sc.self...)
	b = append(b, sc.st.reset...)
	b = append(b, ": "...)
	b = append(b, text...)
	b = append(b, ' ')
	pre := b[start:]
	delivered := m.ID <= sc.ackedUpTo
	b = sc.appendMark(b, delivered)
	sc.buf = append(b, "\r\n"...)
	if delivered {
		if len(sc.recent) > 0 {
			sc.track(shownLine{rows: sc.rowsOf(len(transcriptTime)+1+sc.selfW+2, text, 2)})
		}
		return
	}
	sc.unacked = append(sc.unacked, ownLine{id: m.ID, sent: sc.now(), text: text})
	sc.track(shownLine{id: m.ID, rows: sc.rowsOf(len(transcriptTime)+1+sc.selfW+2, text, 2), pre: append([]byte(nil), pre...)})
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
// this one. line is already sanitized.
func (sc *screen) past(line string) {
	sc.above()
	b := append(sc.buf, sc.st.time...)
	b = append(b, line...)
	b = append(b, sc.st.reset...)
	sc.buf = append(b, "\r\n"...)
	if len(sc.recent) > 0 {
		sc.track(shownLine{rows: sc.rowsOf(0, line, 0)})
	}
}

// notice shows a line about the chat; isErr marks it as an error.
func (sc *screen) notice(text string, isErr bool) {
	sc.above()
	text = sanitize(text)
	b := sc.appendTime(sc.buf, sc.now())
	mark := "-- "
	if isErr {
		b = append(b, sc.st.err...)
		mark = "!! "
	} else {
		b = append(b, sc.st.notice...)
	}
	b = append(b, mark...)
	b = append(b, text...)
	b = append(b, sc.st.reset...)
	sc.buf = append(b, "\r\n"...)
	if len(sc.recent) > 0 {
		sc.track(shownLine{rows: sc.rowsOf(len(transcriptTime)+1+len(mark), text, 0)})
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
		b := append(sc.buf, '\r')
		b = appendCSI(b, up, 'A')
		b = append(b, l.pre...)
		b = sc.appendMark(b, true)
		b = appendCSI(b, up-l.rows+1, 'B')
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

// rowsOf is how many rows a line takes: pre cells (ASCII and names),
// then text, then post cells of ASCII. A wide character that does not fit
// at the end of a row moves to the next one, as terminals do.
func (sc *screen) rowsOf(pre int, text string, post int) int {
	w := sc.width
	if w < 2 {
		return 1
	}
	if isASCII(text) {
		return max(1, (pre+len(text)+post+w-1)/w)
	}
	rows, col := 1, 0
	add := func(cw int) {
		if col+cw > w {
			rows++
			col = 0
		}
		col += cw
	}
	for range pre {
		add(1)
	}
	state := -1
	for len(text) > 0 {
		var cw int
		_, text, cw, state = uniseg.FirstGraphemeClusterInString(text, state)
		add(cw)
	}
	for range post {
		add(1)
	}
	return rows
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// abbreviate cuts s to about n cells, marking the cut.
func abbreviate(s string, n int) string {
	if uniseg.StringWidth(s) <= n {
		return s
	}
	w, out, state := 0, s, -1
	for rest := s; len(rest) > 0; {
		var c string
		var cw int
		c, rest, cw, state = uniseg.FirstGraphemeClusterInString(rest, state)
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
