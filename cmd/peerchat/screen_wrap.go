package main

// Wrapping: the screen breaks every line into rows itself, rather than
// leaving it to the terminal, so that nothing a peer sends can start a
// row. Left to the terminal, "ok", spaces to the end of the row, then
// "14:03:07 alice: yes" shows as two lines, the second one a forgery.
// Here each row after the first begins with a hanging indent, under the
// text (past "HH:MM:SS name: "), or a fixed one where that would leave
// the text too little room: only the screen's own rows start at the
// left margin.
//
// Rows are counted in cells, by grapheme cluster, never splitting one.
// A cluster of several characters is given the larger of its width as one
// cluster and the sum of its characters' widths: a terminal that does not
// know an emoji sequence (👩‍💻) draws its parts side by side, and a
// cluster counted narrower than the terminal draws it would make the
// terminal wrap on its own, at the left margin, and make the row count
// that delivery marks rely on wrong. Counted wider, a row merely ends a
// little early.

import (
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

const (
	// minTextCells is the least room for the text beside the prefix
	// that still indents under the text; with less, continuation rows
	// take the fixed narrowIndent.
	minTextCells = 20
	narrowIndent = 4
)

// wrapped is a line being written into rows of width cells.
type wrapped struct {
	b      []byte
	width  int
	indent int
	col    int // the column the next cell goes in
	rows   int
	last   int // where in b the last row starts
}

// startLine begins a line at the start of a row, at len(b); its
// continuation rows are indented as a prefix of pre cells calls for.
func (sc *screen) startLine(b []byte, pre int) wrapped {
	return wrapped{b: b, width: sc.width, indent: hangingIndent(sc.width, pre), rows: 1, last: len(b)}
}

// hangingIndent is where the continuation rows of a line begin, in a
// screen width cells wide, when its text begins at column pre.
func hangingIndent(width, pre int) int {
	if width-pre >= minTextCells {
		return pre
	}
	return max(0, min(narrowIndent, width/2))
}

// style adds bytes that take no cells: SGR sequences.
func (w *wrapped) style(s string) { w.b = append(w.b, s...) }

// newRow ends the row and starts the next at the indent.
func (w *wrapped) newRow() {
	w.b = append(w.b, "\r\n"...)
	w.last = len(w.b)
	for range w.indent {
		w.b = append(w.b, ' ')
	}
	w.col = w.indent
	w.rows++
}

// room starts a new row unless n more cells fit on this one.
func (w *wrapped) room(n int) {
	if w.col+n > w.width && w.col > w.indent {
		w.newRow()
	}
}

// text adds s (sanitized), breaking rows where it reaches the width.
func (w *wrapped) text(s string) {
	if isASCII(s) { // one cell per byte: the common case, quickly
		for len(s) > 0 {
			n := w.width - w.col
			if n <= 0 {
				if w.col == w.indent { // a screen too narrow to indent into
					n = 1
				} else {
					w.newRow()
					continue
				}
			}
			n = min(n, len(s))
			w.b = append(w.b, s[:n]...)
			w.col += n
			s = s[n:]
		}
		return
	}
	state := -1
	for len(s) > 0 {
		var c string
		var cw int
		c, s, cw, state = uniseg.FirstGraphemeClusterInString(s, state)
		cw = clusterCells(c, cw)
		w.room(cw)
		w.b = append(w.b, c...)
		w.col += cw
	}
}

// clusterCells is how many cells to count for the grapheme cluster c,
// which uniseg measures as cw: see the top of this file.
func clusterCells(c string, cw int) int {
	if r, n := utf8.DecodeRuneInString(c); n == len(c) && !isSkinTone(r) {
		return cw
	}
	sum := 0
	for _, r := range c {
		if isSkinTone(r) {
			sum += 2
			continue
		}
		sum += uniseg.StringWidth(string(r))
	}
	return max(cw, sum)
}

// isSkinTone reports whether r is an emoji modifier (U+1F3FB–U+1F3FF).
// uniseg gives it no width, as it extends the emoji before it, but it is
// East Asian Wide: a terminal that measures character by character
// (xterm, with wcwidth) draws 👍🏽 as 👍 and a 2-cell swatch.
func isSkinTone(r rune) bool { return r >= 0x1F3FB && r <= 0x1F3FF }

// cells is how many cells s takes, counted as text counts them.
func cells(s string) int {
	if isASCII(s) {
		return len(s)
	}
	n, state := 0, -1
	for len(s) > 0 {
		var c string
		var cw int
		c, s, cw, state = uniseg.FirstGraphemeClusterInString(s, state)
		n += clusterCells(c, cw)
	}
	return n
}

// end ends the line's last row.
func (w *wrapped) end() []byte { return append(w.b, "\r\n"...) }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
