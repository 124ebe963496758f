package main

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// vt is a small terminal emulator for tests: just enough of an xterm to
// read back what the interactive mode draws. It knows the sequences the
// TUI emits (CR, LF, BS, ESC[K, ESC[2K, ESC[J, cursor moves, colours, which it
// drops) and records every other escape sequence in odd, so a test can
// assert that nothing else reached the terminal. Like xterm it wraps
// automatically with a pending wrap at the right margin, moves a wide
// character that does not fit to the next row, and keeps the rows that
// scroll off the top. It measures characters one at a time, as xterm does,
// with its own table (cellWidth), not the uniseg tables the screen uses.
type vt struct {
	rows, cols int
	grid       [][]string // each cell: a character, "" for the right half of a wide one, " " blank
	r, c       int
	wrapNext   bool
	scrolled   []string // rows that left the top, oldest first
	pending    []byte   // an escape sequence or character cut between writes
	odd        []string // escape sequences and controls the TUI should never send
}

func newVT(rows, cols int) *vt {
	v := &vt{rows: rows, cols: cols}
	for range rows {
		v.grid = append(v.grid, v.blankRow())
	}
	return v
}

func (v *vt) blankRow() []string {
	row := make([]string, v.cols)
	for i := range row {
		row[i] = " "
	}
	return row
}

// resize changes the size without reflow, as xterm does.
func (v *vt) resize(rows, cols int) {
	for len(v.grid) < rows {
		v.grid = append(v.grid, v.blankRow())
	}
	for len(v.grid) > rows {
		v.scrolled = append(v.scrolled, rowString(v.grid[0]))
		v.grid = v.grid[1:]
		v.r--
	}
	for i, row := range v.grid {
		for len(row) < cols {
			row = append(row, " ")
		}
		v.grid[i] = row[:cols]
	}
	v.rows, v.cols = rows, cols
	v.r, v.c = min(max(v.r, 0), rows-1), min(v.c, cols-1)
	v.wrapNext = false
}

func (v *vt) Write(b []byte) (int, error) {
	n := len(b)
	if len(v.pending) > 0 {
		b = append(v.pending, b...)
		v.pending = nil
	}
	for len(b) > 0 {
		c := b[0]
		switch {
		case c == 0x1b:
			k := v.escape(b)
			if k == 0 {
				v.pending = append([]byte(nil), b...)
				return n, nil
			}
			b = b[k:]
			continue
		case c == '\r':
			v.c, v.wrapNext = 0, false
		case c == '\n':
			v.lineFeed()
			v.wrapNext = false
		case c == '\b':
			if v.c > 0 {
				v.c--
			}
			v.wrapNext = false
		case c < 0x20 || c == 0x7f:
			v.odd = append(v.odd, strconv.QuoteRune(rune(c)))
		default:
			if !utf8.FullRune(b) {
				v.pending = append([]byte(nil), b...)
				return n, nil
			}
			r, size := utf8.DecodeRune(b)
			if r >= 0x80 && r <= 0x9f {
				v.odd = append(v.odd, strconv.QuoteRune(r))
			}
			v.put(string(r))
			b = b[size:]
			continue
		}
		b = b[1:]
	}
	return n, nil
}

func (v *vt) put(s string) {
	r, _ := utf8.DecodeRuneInString(s)
	w := cellWidth(r)
	if w == 0 { // combining: joins the character before
		r, c := v.r, v.c-1
		if v.wrapNext {
			c = v.c
		}
		for c > 0 && v.grid[r][c] == "" {
			c--
		}
		if c >= 0 {
			v.grid[r][c] += s
		}
		return
	}
	if v.wrapNext || v.c+w > v.cols {
		v.c = 0
		v.lineFeed()
	}
	v.wrapNext = false
	v.grid[v.r][v.c] = s
	if w == 2 {
		v.grid[v.r][v.c+1] = ""
	}
	v.c += w
	if v.c >= v.cols {
		v.c = v.cols - 1
		v.wrapNext = true
	}
}

func (v *vt) lineFeed() {
	if v.r < v.rows-1 {
		v.r++
		return
	}
	v.scrolled = append(v.scrolled, rowString(v.grid[0]))
	v.grid = append(v.grid[1:], v.blankRow())
}

// escape handles the sequence at the start of b and returns its length,
// or 0 if b ends before it does.
func (v *vt) escape(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	if b[1] != '[' {
		if b[1] == ']' { // OSC, up to BEL or ST
			for i := 2; i < len(b); i++ {
				if b[i] == 0x07 {
					v.odd = append(v.odd, strconv.Quote(string(b[:i+1])))
					return i + 1
				}
				if b[i] == 0x1b && i+1 < len(b) && b[i+1] == '\\' {
					v.odd = append(v.odd, strconv.Quote(string(b[:i+2])))
					return i + 2
				}
			}
			return 0
		}
		v.odd = append(v.odd, strconv.Quote(string(b[:2])))
		return 2
	}
	j := 2
	for j < len(b) && b[j] >= 0x20 && b[j] <= 0x3f {
		j++
	}
	if j == len(b) {
		return 0
	}
	params, final := string(b[2:j]), b[j]
	n := 1
	if p, err := strconv.Atoi(params); err == nil && p > 0 {
		n = p
	}
	switch final {
	case 'm':
		// colours and attributes: not modelled
	case 'K':
		from, to := v.c, v.cols
		switch params {
		case "1":
			from, to = 0, v.c+1
		case "2":
			from = 0
		case "", "0":
		default:
			v.odd = append(v.odd, strconv.Quote(string(b[:j+1])))
		}
		for i := from; i < to && i < v.cols; i++ {
			v.grid[v.r][i] = " "
		}
		v.wrapNext = false
	case 'J': // the chat screen erases its status region and input row with it
		if params != "" && params != "0" {
			v.odd = append(v.odd, strconv.Quote(string(b[:j+1])))
			break
		}
		for i := v.c; i < v.cols; i++ {
			v.grid[v.r][i] = " "
		}
		for r := v.r + 1; r < v.rows; r++ {
			v.grid[r] = v.blankRow()
		}
		v.wrapNext = false
	case 'A':
		v.r = max(v.r-n, 0)
		v.wrapNext = false
	case 'B':
		v.r = min(v.r+n, v.rows-1)
		v.wrapNext = false
	case 'C':
		v.c = min(v.c+n, v.cols-1)
		v.wrapNext = false
	case 'D':
		v.c = max(v.c-n, 0)
		v.wrapNext = false
	case 'G':
		v.c = min(n-1, v.cols-1)
		v.wrapNext = false
	default:
		v.odd = append(v.odd, strconv.Quote(string(b[:j+1])))
	}
	return j + 1
}

func rowString(row []string) string {
	return strings.TrimRight(strings.Join(row, ""), " ")
}

// row is the text of screen row i, without trailing blanks.
func (v *vt) row(i int) string { return rowString(v.grid[i]) }

// cursorRow is the text of the row the cursor is on.
func (v *vt) cursorRow() string { return v.row(v.r) }

// cursorCol is the cursor's column, in cells.
func (v *vt) cursorCol() int { return v.c }

// lines is everything shown so far: the rows that scrolled off, then the
// screen, without trailing blank rows.
func (v *vt) lines() []string {
	all := append([]string(nil), v.scrolled...)
	for i := range v.rows {
		all = append(all, v.row(i))
	}
	for len(all) > 0 && all[len(all)-1] == "" {
		all = all[:len(all)-1]
	}
	return all
}

// screen is the visible screen, for failure messages.
func (v *vt) screen() string {
	var b strings.Builder
	for i := range v.rows {
		b.WriteString("|" + v.row(i) + "\n")
	}
	return b.String()
}
