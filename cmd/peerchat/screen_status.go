package main

// The status region: one line per file transfer in progress, between the
// conversation and the input row, redrawn in place. Conversation lines
// keep scrolling above it: to print one, the screen erases the region and
// the input row (above), prints the line where the region began, and
// flush draws the region and the input row again below it. So a status
// line never scrolls into the conversation, and the cursor stays in the
// input row. Each status line is cut to fit one row, so the region's
// height is its number of lines, which rewrite and trim count on.

import "strconv"

// maxStatusLines is how many transfers the region shows; more are
// summed up in one "+N more" line, so that the conversation keeps most of
// the screen.
const maxStatusLines = 3

// setStatus replaces the status lines; they are sanitized here. The
// region is drawn again at the next flush if it changed.
func (sc *screen) setStatus(lines []string) {
	if len(lines) == len(sc.status) {
		same := true
		for i, l := range lines {
			if sanitize(l) != sc.status[i] {
				same = false
				break
			}
		}
		if same {
			return
		}
	}
	sc.status = sc.status[:0]
	for _, l := range lines {
		sc.status = append(sc.status, sanitize(l))
	}
	sc.statusDirty = true
	sc.trim() // a taller region leaves fewer rows for rewriting marks
}

// statusLines is what the region shows at the current size.
func (sc *screen) statusLines() []string {
	limit := maxStatusLines
	// A small terminal keeps at least two rows for the conversation.
	limit = max(1, min(limit, sc.height-3))
	if len(sc.status) <= limit {
		return sc.status
	}
	shown := append([]string(nil), sc.status[:limit-1]...)
	return append(shown, "+"+strconv.Itoa(len(sc.status)-limit+1)+" more")
}

// statusHeight is how many rows the region takes.
func (sc *screen) statusHeight() int { return len(sc.statusLines()) }

// drawStatus draws the region at the cursor, at the start of an erased
// row, and leaves the cursor at the start of the row below it.
func (sc *screen) drawStatus() {
	lines := sc.statusLines()
	for _, l := range lines {
		// Never the last column: a line that fills the row would leave a
		// pending wrap, which terminals treat differently.
		l = abbreviate(l, max(sc.width-1, 1))
		sc.buf = append(sc.buf, sc.st.notice...)
		sc.buf = append(sc.buf, l...)
		sc.buf = append(sc.buf, sc.st.reset...)
		sc.buf = append(sc.buf, "\x1b[K\r\n"...)
	}
	sc.statusRows = len(lines)
}
