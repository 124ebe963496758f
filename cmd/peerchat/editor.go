package main

// The line editor of the interactive mode, as a model that knows nothing
// of terminals: bytes from the keyboard go in (keyDecoder), edits happen on
// a line of grapheme clusters (editor), and the input line comes out as
// bytes for a given width (editor.render). The terminal driver in tui.go
// feeds it and writes what it renders.
//
// We do not use x/term's Terminal because it measures the line in runes:
// a Chinese character or an emoji takes two cells but counts as one, so the
// cursor lands in the wrong place as soon as one is typed. Here the unit of
// editing is the grapheme cluster (what a reader sees as one character: é
// written as e plus a combining accent, a flag, a family emoji) and the unit
// of layout is the terminal cell, both from github.com/rivo/uniseg, which
// implements Unicode's segmentation (UAX #29) and East Asian width (UAX #11)
// tables; keeping those tables right across Unicode versions is work we
// would rather not own.

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rivo/uniseg"

	"peerchat/peer"
)

// keyCode says what a key does; keyText carries typed or pasted text.
type keyCode int

const (
	keyText keyCode = iota
	keyEnter
	keyBackspace
	keyDelete
	keyLeft
	keyRight
	keyWordLeft
	keyWordRight
	keyHome
	keyEnd
	keyUp
	keyDown
	keyKillBefore // Ctrl-U: delete from the start of the line to the cursor
	keyKillAfter  // Ctrl-K: delete from the cursor to the end of the line
	keyKillWord   // Ctrl-W, Alt-Backspace: delete the word before the cursor
	keyInterrupt  // Ctrl-C
	keyEOF        // Ctrl-D
	keyRedraw     // Ctrl-L
)

type key struct {
	code keyCode
	text string // for keyText: printable characters, never a control
}

// keyDecoder turns what the terminal sends in raw mode into keys. A
// sequence or character cut between two reads is kept until the next one,
// so keys come out the same however the bytes are chunked.
type keyDecoder struct {
	pending []byte
	afterCR bool // the last byte was CR: a LF right after it is the same Enter
}

// feed decodes b, appending the keys it completes to keys.
func (d *keyDecoder) feed(b []byte, keys []key) []key {
	buf := b
	if len(d.pending) > 0 {
		buf = append(d.pending, b...)
		d.pending = nil
	}
	for i := 0; i < len(buf); {
		c := buf[i]
		afterCR := d.afterCR
		d.afterCR = false
		switch {
		case c == '\r':
			keys = append(keys, key{code: keyEnter})
			d.afterCR = true
			i++
		case c == '\n':
			// Enter is CR in raw mode; a pasted text may end its lines with
			// LF or CRLF. Either way, one line is one Enter.
			if !afterCR {
				keys = append(keys, key{code: keyEnter})
			}
			i++
		case c == 0x1b:
			n, k, ok := decodeEscape(buf[i:])
			if n == 0 { // incomplete: wait for the rest
				d.pending = append([]byte(nil), buf[i:]...)
				return keys
			}
			if ok {
				keys = append(keys, k)
			}
			i += n
		case c < 0x20 || c == 0x7f:
			if k, ok := controlKeys[c]; ok {
				keys = append(keys, k)
			}
			i++
		default:
			j := i
			for j < len(buf) && buf[j] >= 0x20 && buf[j] != 0x7f {
				j++
			}
			run := buf[i:j]
			if j == len(buf) {
				// The read may have cut a character in two.
				if k := incompleteTail(run); k > 0 {
					d.pending = append([]byte(nil), run[len(run)-k:]...)
					run = run[:len(run)-k]
				}
			}
			if len(run) > 0 {
				keys = appendText(keys, strings.ToValidUTF8(string(run), "\uFFFD"))
			}
			i = j
		}
	}
	return keys
}

// appendText adds text to keys, joining it to a text key just before.
func appendText(keys []key, text string) []key {
	if n := len(keys); n > 0 && keys[n-1].code == keyText {
		keys[n-1].text += text
		return keys
	}
	return append(keys, key{code: keyText, text: text})
}

var controlKeys = map[byte]key{
	0x01: {code: keyHome},      // Ctrl-A
	0x02: {code: keyLeft},      // Ctrl-B
	0x03: {code: keyInterrupt}, // Ctrl-C
	0x04: {code: keyEOF},       // Ctrl-D
	0x05: {code: keyEnd},       // Ctrl-E
	0x06: {code: keyRight},     // Ctrl-F
	0x08: {code: keyBackspace}, // Ctrl-H, what some terminals send for backspace
	0x09: {code: keyText, text: " "},
	0x0b: {code: keyKillAfter},  // Ctrl-K
	0x0c: {code: keyRedraw},     // Ctrl-L
	0x0e: {code: keyDown},       // Ctrl-N
	0x10: {code: keyUp},         // Ctrl-P
	0x15: {code: keyKillBefore}, // Ctrl-U
	0x17: {code: keyKillWord},   // Ctrl-W
	0x7f: {code: keyBackspace},
}

// incompleteTail is how many bytes at the end of b start a UTF-8 character
// that b does not finish.
func incompleteTail(b []byte) int {
	for k := 1; k <= 3 && k <= len(b); k++ {
		c := b[len(b)-k]
		if c < 0x80 {
			return 0
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-k:]) {
				return k
			}
			return 0
		}
	}
	return 0
}

// decodeEscape decodes the escape sequence at the start of b (b[0] is ESC).
// It returns the bytes it takes, 0 if b ends before the sequence does, and
// the key, if the sequence is one we know; unknown sequences (bracketed
// paste markers, function keys, focus reports) are skipped whole, so that
// none of their bytes is taken for typed text.
func decodeEscape(b []byte) (n int, k key, ok bool) {
	if len(b) < 2 {
		return 0, k, false
	}
	switch b[1] {
	case '[': // CSI: parameters, intermediates, one final byte
		j := 2
		for j < len(b) && b[j] >= 0x30 && b[j] <= 0x3f {
			j++
		}
		for j < len(b) && b[j] >= 0x20 && b[j] <= 0x2f {
			j++
		}
		if j == len(b) {
			return 0, k, false
		}
		if b[j] < 0x40 || b[j] > 0x7e { // malformed: drop ESC [ only
			return 2, k, false
		}
		k, ok = csiKey(string(b[2:j]), b[j])
		return j + 1, k, ok
	case 'O': // SS3: arrows and Home/End in application cursor mode
		if len(b) < 3 {
			return 0, k, false
		}
		k, ok = csiKey("", b[2])
		return 3, k, ok
	case 'b', 'B':
		return 2, key{code: keyWordLeft}, true // Alt-b
	case 'f', 'F':
		return 2, key{code: keyWordRight}, true // Alt-f
	case 0x7f, 0x08:
		return 2, key{code: keyKillWord}, true // Alt-Backspace
	case 0x1b:
		return 1, k, false // a lone Escape, then whatever the next one starts
	}
	if b[1] < 0x20 {
		return 1, k, false // Escape, then a control key of its own
	}
	// Alt with a character we give no meaning: take the Escape and the
	// whole character, so that Alt-é does not type half of é.
	if !utf8.FullRune(b[1:]) {
		return 0, k, false
	}
	_, size := utf8.DecodeRune(b[1:])
	return 1 + size, k, false
}

func csiKey(params string, final byte) (key, bool) {
	// A modifier (1;5 is Ctrl, 1;3 is Alt) turns arrows into word moves.
	mod := ""
	if p, m, found := strings.Cut(params, ";"); found {
		params, mod = p, m
	}
	word := mod == "3" || mod == "5"
	switch final {
	case 'A':
		return key{code: keyUp}, true
	case 'B':
		return key{code: keyDown}, true
	case 'C':
		if word {
			return key{code: keyWordRight}, true
		}
		return key{code: keyRight}, true
	case 'D':
		if word {
			return key{code: keyWordLeft}, true
		}
		return key{code: keyLeft}, true
	case 'H':
		return key{code: keyHome}, true
	case 'F':
		return key{code: keyEnd}, true
	case '~':
		switch params {
		case "1", "7":
			return key{code: keyHome}, true
		case "4", "8":
			return key{code: keyEnd}, true
		case "3":
			return key{code: keyDelete}, true
		}
	}
	return key{}, false
}

// A glyph is one grapheme cluster of the line: what it is, how it is shown
// (sanitized, like everything on screen), and how many cells that takes.
type glyph struct {
	s    string
	show string
	w    int
}

// editResult is what a key did beyond editing.
type editResult int

const (
	editNone      editResult = iota
	editSubmit               // Enter: the line is returned, the editor is empty again
	editEOF                  // Ctrl-D on an empty line
	editInterrupt            // Ctrl-C
	editRedraw               // Ctrl-L
	editFull                 // text was typed or pasted past maxDraft, and dropped
)

// maxHistory bounds the lines kept for up/down.
const maxHistory = 500

// maxDraft bounds the input line, in bytes: 16 messages' worth. (x/term
// stops at 4096 runes.) Lines longer than a message are sent as several.
const maxDraft = 16 * peer.MaxText

// editor is the input line: a draft of glyphs with a cursor, the history of
// lines entered, and the horizontal scroll that keeps the cursor in view.
type editor struct {
	line   []glyph
	size   int // bytes in line
	pos    int // cursor, in glyphs from the start of the line
	scroll int // first glyph shown

	hist  []string
	hpos  int    // index into hist while browsing; len(hist) when not
	draft string // the line being written, kept while browsing history

	hidden bool // --hide-input: render nothing of the draft

	gen uint64 // counts the keys handled, so a renderer can cache its output
}

// String is the draft as typed.
func (e *editor) String() string {
	var b strings.Builder
	for _, g := range e.line {
		b.WriteString(g.s)
	}
	return b.String()
}

// empty reports whether nothing is typed.
func (e *editor) empty() bool { return len(e.line) == 0 }

// handle applies one key.
func (e *editor) handle(k key) (editResult, string) {
	e.gen++
	switch k.code {
	case keyText:
		if room := maxDraft - e.size; len(k.text) > room {
			cut := max(room, 0)
			for cut > 0 && !utf8.RuneStart(k.text[cut]) {
				cut--
			}
			e.insert(k.text[:cut])
			return editFull, ""
		}
		e.insert(k.text)
	case keyEnter:
		line := e.String()
		e.set("")
		if line != "" && (len(e.hist) == 0 || e.hist[len(e.hist)-1] != line) {
			e.hist = append(e.hist, line)
			if len(e.hist) > maxHistory {
				e.hist = append(e.hist[:0], e.hist[len(e.hist)-maxHistory:]...)
			}
		}
		e.hpos, e.draft = len(e.hist), ""
		return editSubmit, line
	case keyBackspace:
		if e.pos > 0 {
			e.cut(e.pos-1, e.pos)
		}
	case keyDelete:
		if e.pos < len(e.line) {
			e.cut(e.pos, e.pos+1)
		}
	case keyLeft:
		if e.pos > 0 {
			e.pos--
		}
	case keyRight:
		if e.pos < len(e.line) {
			e.pos++
		}
	case keyWordLeft:
		e.pos = e.wordStart()
	case keyWordRight:
		i := e.pos
		for i < len(e.line) && isSpace(e.line[i]) {
			i++
		}
		for i < len(e.line) && !isSpace(e.line[i]) {
			i++
		}
		e.pos = i
	case keyHome:
		e.pos = 0
	case keyEnd:
		e.pos = len(e.line)
	case keyUp:
		if e.hpos > 0 {
			if e.hpos == len(e.hist) {
				e.draft = e.String()
			}
			e.hpos--
			e.set(e.hist[e.hpos])
		}
	case keyDown:
		if e.hpos < len(e.hist) {
			e.hpos++
			if e.hpos == len(e.hist) {
				e.set(e.draft)
			} else {
				e.set(e.hist[e.hpos])
			}
		}
	case keyKillBefore:
		e.cut(0, e.pos)
	case keyKillAfter:
		e.cut(e.pos, len(e.line))
	case keyKillWord:
		e.cut(e.wordStart(), e.pos)
	case keyEOF:
		if len(e.line) == 0 {
			return editEOF, ""
		}
		if e.pos < len(e.line) {
			e.cut(e.pos, e.pos+1)
		}
	case keyInterrupt:
		return editInterrupt, ""
	case keyRedraw:
		return editRedraw, ""
	}
	return editNone, ""
}

// wordStart is where the word before the cursor starts, spaces before the
// cursor included, as Ctrl-W in a shell.
func (e *editor) wordStart() int {
	i := e.pos
	for i > 0 && isSpace(e.line[i-1]) {
		i--
	}
	for i > 0 && !isSpace(e.line[i-1]) {
		i--
	}
	return i
}

func isSpace(g glyph) bool { return g.s == " " }

// set replaces the draft with s, cursor at the end.
func (e *editor) set(s string) {
	e.line = segment(e.line[:0], s)
	e.size = len(s)
	e.pos = len(e.line)
	e.scroll = 0
}

// cut deletes glyphs [i, j) and puts the cursor there.
func (e *editor) cut(i, j int) {
	for _, g := range e.line[i:j] {
		e.size -= len(g.s)
	}
	e.line = append(e.line[:i], e.line[j:]...)
	e.pos = i
}

// insert types text at the cursor. The glyph before the cursor and the
// rest of the line are segmented again with it, since the text may join
// them: a combining accent joins the letter before it, a second regional
// indicator the first into a flag.
func (e *editor) insert(text string) {
	start := max(e.pos-1, 0)
	var b strings.Builder
	for _, g := range e.line[start:e.pos] {
		b.WriteString(g.s)
	}
	b.WriteString(text)
	cursor := b.Len()
	for _, g := range e.line[e.pos:] {
		b.WriteString(g.s)
	}
	tail := segment(nil, b.String())
	// The cursor goes after the inserted text, or after the glyph that
	// the text became part of.
	n, off := 0, 0
	for n < len(tail) && off < cursor {
		off += len(tail[n].s)
		n++
	}
	e.line = append(e.line[:start], tail...)
	e.pos = start + n
	e.size += len(text)
}

// segment appends the glyphs of s to gs.
func segment(gs []glyph, s string) []glyph {
	state := -1
	for len(s) > 0 {
		var c string
		var w int
		c, s, w, state = uniseg.FirstGraphemeClusterInString(s, state)
		show := sanitize(c)
		if show != c {
			w = uniseg.StringWidth(show)
		}
		gs = append(gs, glyph{s: c, show: show, w: w})
	}
	return gs
}

// render appends to b what draws the input line on the terminal's current
// row: the prompt (promptW cells wide) and as much of the draft as fits in
// width cells around the cursor, then puts the cursor in place. The last
// column stays empty, so the line never wraps and the terminal never
// scrolls on its own; a draft too long for the row scrolls sideways
// instead.
func (e *editor) render(b []byte, prompt string, promptW, width int) []byte {
	b = append(b, '\r')
	b = append(b, prompt...)
	avail := width - promptW - 1
	if e.hidden || avail < 1 {
		return append(b, "\x1b[K"...)
	}
	// Scroll as little as needed to keep the cursor in view.
	if e.pos < e.scroll {
		e.scroll = e.pos
	}
	i, w := e.pos, 0
	for i > e.scroll && w+e.line[i-1].w <= avail {
		w += e.line[i-1].w
		i--
	}
	e.scroll = i
	cursorCol := w
	// When the end of the draft is in view, use the room left of it:
	// after deleting, the start of the line comes back into view.
	tail := 0
	for j := e.scroll; j < len(e.line) && tail <= avail; j++ {
		tail += e.line[j].w
	}
	for e.scroll > 0 && tail+e.line[e.scroll-1].w <= avail {
		e.scroll--
		tail += e.line[e.scroll].w
		cursorCol += e.line[e.scroll].w
	}
	shown := 0
	for j := e.scroll; j < len(e.line); j++ {
		g := e.line[j]
		if shown+g.w > avail {
			break
		}
		b = append(b, g.show...)
		shown += g.w
	}
	b = append(b, "\x1b[K"...)
	if back := shown - cursorCol; back > 0 {
		b = append(b, "\x1b["...)
		b = strconv.AppendInt(b, int64(back), 10)
		b = append(b, 'D')
	}
	return b
}

// cursorCells is the cursor's distance in cells from the start of the line.
func (e *editor) cursorCells() int {
	w := 0
	for _, g := range e.line[:e.pos] {
		w += g.w
	}
	return w
}
