package main

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// sanitize makes peer-supplied text safe to write to a terminal: every
// character that a terminal would interpret rather than show is replaced
// by a visible escape. That covers C0 controls (ESC, CR, BEL, backspace,
// tab, newline…), DEL, C1 controls (U+0080–U+009F, which some terminals
// take as CSI and OSC), the bidirectional controls that can make text read
// in another order than it was written (U+202E "Trojan Source"), line and
// paragraph separators, and bytes that are not UTF-8. A peer therefore
// cannot move the cursor, clear the screen, set the window title, colour
// or hide text, or split one message into what looks like two.
func sanitize(s string) string {
	i := 0
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf { // ASCII, without decoding: the render path's hot loop
			if c < 0x20 || c == 0x7f {
				break
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if needsEscape(r, size) {
			break
		}
		i += size
	}
	if i == len(s) {
		return s // the common case: nothing to escape, no allocation
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case needsEscape(r, size):
			if r < 0x80 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(r rune, size int) bool {
	switch {
	case r == utf8.RuneError && size == 1:
		return true
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, // Arabic letter mark
		r == 0x200e, r == 0x200f, // left-to-right and right-to-left marks
		r >= 0x202a && r <= 0x202e, // embeddings and overrides
		r >= 0x2066 && r <= 0x2069, // isolates
		r == 0x2028, r == 0x2029:   // line and paragraph separators
		return true
	}
	return false
}
