package main

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// sanitize makes peer-supplied text safe to write to a terminal: every
// character that a terminal would interpret rather than show, and every
// character that shows as nothing, is replaced by a visible escape. That
// covers C0 controls (ESC, CR, BEL, backspace, tab, newline…), DEL, C1
// controls (U+0080–U+009F, which some terminals take as CSI and OSC), the
// bidirectional controls that can make text read in another order than
// it was written (U+202E "Trojan Source"), line and paragraph separators,
// private-use characters, bytes that are not UTF-8, and the invisible
// characters (escapeRune) with which a peer could hide text, make two
// different strings look alike, or make a line take more or fewer cells
// than the screen counts. A peer therefore cannot move the cursor, clear
// the screen, set the window title, colour or hide text, or split one
// message into what looks like two.
//
// What real text needs stays: ZWJ and ZWNJ between two visible characters
// (emoji sequences such as 👩‍💻, Persian and Indic scripts), and the tag
// characters of an emoji flag tag sequence (🏴 and the tags of "gbsct", as
// in the flag of Scotland).
func sanitize(s string) string {
	i, prev := 0, rune(-1)
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf { // ASCII, without decoding: the render path's hot loop
			if c < 0x20 || c == 0x7f {
				break
			}
			i, prev = i+1, rune(c)
			continue
		}
		n, r, esc := scanRune(s, i, prev)
		if esc {
			break
		}
		i, prev = i+n, r
	}
	if i == len(s) {
		return s // the common case: nothing to escape, no allocation
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		n, r, esc := scanRune(s, i, prev)
		switch {
		case !esc:
			b.WriteString(s[i : i+n])
			prev = r
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
			prev = -1
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
			prev = -1
		case r > 0xffff:
			fmt.Fprintf(&b, `\U%08x`, r)
			prev = -1
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
			prev = -1
		}
		i += n
	}
	return b.String()
}

// scanRune looks at the character at s[i], after prev (the last character
// kept as it is, or -1 after an escape or at the start), and tells how
// many bytes to take and whether they are one character to escape. A
// whole emoji flag tag sequence is taken at once, kept. r is the
// character escaped, or the last one kept.
func scanRune(s string, i int, prev rune) (n int, r rune, esc bool) {
	if n := flagTagSequence(s[i:]); n > 0 {
		r, _ := utf8.DecodeLastRuneInString(s[i : i+n])
		return n, r, false
	}
	r, n = utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && n == 1 {
		return n, r, true
	}
	if r == zwj || r == zwnj {
		// Kept only as a joiner: between two visible characters.
		next, size := utf8.DecodeRuneInString(s[i+n:])
		if next == utf8.RuneError && size <= 1 { // the end, or not UTF-8
			return n, r, true
		}
		return n, r, !(visible(prev) && visible(next))
	}
	return n, r, escapeRune(r)
}

const (
	zwnj = '\u200c' // zero width non-joiner
	zwj  = '\u200d' // zero width joiner
)

// escapeRune tells whether r, whatever surrounds it, is escaped:
// controls (Cc), format characters (Cf: zero-width characters, bidi
// controls, the soft hyphen, the byte order mark, invisible operators,
// tag characters…), private use (Co), line and paragraph separators (Zl,
// Zp), and the Hangul fillers, letters that show as blanks.
func escapeRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r < 0xa0:
		return false
	case r == 0x115f, r == 0x1160, r == 0x3164, r == 0xffa0: // Hangul fillers
		return true
	case r >= 0xe0000 && r <= 0xe007f: // tags, and the unassigned U+E0000
		return true
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Zl, unicode.Zp)
}

// visible tells whether r, kept, shows something next to which a joiner
// means something: a letter, digit, mark, punctuation or symbol.
func visible(r rune) bool {
	return r >= 0 && r != zwj && r != zwnj && !escapeRune(r) && unicode.IsGraphic(r) && !unicode.IsSpace(r)
}

// flagTagSequence is the length of the emoji flag tag sequence s starts
// with (U+1F3F4 WAVING BLACK FLAG, the tags of a subdivision code, then
// U+E007F CANCEL TAG), or 0. A subdivision code is 2 to 7 lower-case
// letters and digits (Unicode's emoji_subdivision_flag, as "gbsct"): tag
// characters spell ASCII invisibly, and a "flag" holding any more is a
// hidden message, not a flag.
func flagTagSequence(s string) int {
	const flag = "\U0001F3F4"
	if !strings.HasPrefix(s, flag) {
		return 0
	}
	i, tags := len(flag), 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case (r >= 0xe0030 && r <= 0xe0039 || r >= 0xe0061 && r <= 0xe007a) && tags < 7:
			tags++
		case r == 0xe007f && tags >= 2:
			return i
		default:
			return 0
		}
	}
	return 0
}
