package main

import (
	"testing"
	"unicode"
)

// cellWidth is how many cells the test terminal gives the character r,
// decided without uniseg, so that a width mistake in the screen code
// cannot cancel itself out against the same mistake in the emulator.
//
// The rule is wcwidth as xterm and glibc apply it (Markus Kuhn's
// wcwidth.c, brought up to date in glibc's localedata/unicode-gen), one
// character at a time, knowing nothing of grapheme clusters:
//
//   - 0 for controls, for combining marks (Mn, Me: accents, variation
//     selectors), for format characters (Cf: ZWJ, ZWNJ, zero width
//     space, tag characters) other than the soft hyphen, and for the
//     Hangul medial vowels and final consonants U+1160–U+11FF, which
//     join the syllable before;
//   - 2 for East Asian Wide and Fullwidth characters (UAX #11), which
//     since Unicode 9 include every character with Emoji_Presentation,
//     and for the whole of planes 2 and 3;
//   - 1 for everything else, among them East Asian Ambiguous characters
//     (as in a terminal not set to a CJK locale), the regional
//     indicators that make a flag, and ❤ and other emoji that are text
//     by default.
//
// So, like xterm, it draws 👩‍💻 as two 2-cell emoji (4 cells), 👩🏽 as
// 👩 and a 2-cell skin tone swatch (4 cells), 🇫🇷 as two 1-cell letters and
// ❤️ as 1 cell. Terminals that shape emoji sequences (kitty, WezTerm,
// recent VTE) draw some of these narrower; the screen must never count a
// line narrower than either kind of terminal draws it.
//
// Limits: general categories come from Go's unicode package; the wide
// ranges were taken from EastAsianWidth.txt of Unicode 14 (via Python's
// unicodedata), assigned characters only, adjacent ranges merged across
// unassigned gaps; a few Unicode 15 emoji that fall outside those ranges
// count as 1. Nothing here models bidi, ambiguous-width locales or
// terminals that widen a character followed by U+FE0F.
func cellWidth(r rune) int {
	switch {
	case r == 0x00AD: // soft hyphen: Cf, but drawn
		return 1
	case r < 0x20 || r >= 0x7f && r < 0xa0:
		return 0
	case r < 0x300: // Latin, the common case
		return 1
	case r >= 0x1160 && r <= 0x11FF,
		unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		return 0
	}
	lo, hi := 0, len(wideRanges)
	for lo < hi {
		m := (lo + hi) / 2
		switch {
		case r < wideRanges[m][0]:
			hi = m
		case r > wideRanges[m][1]:
			lo = m + 1
		default:
			return 2
		}
	}
	return 1
}

// wideRanges are the East Asian Wide (W) and Fullwidth (F) characters,
// first and last, in order: see cellWidth.
var wideRanges = [][2]rune{
	{0x1100, 0x115F}, {0x231A, 0x231B}, {0x2329, 0x232A}, {0x23E9, 0x23EC},
	{0x23F0, 0x23F0}, {0x23F3, 0x23F3}, {0x25FD, 0x25FE}, {0x2614, 0x2615},
	{0x2648, 0x2653}, {0x267F, 0x267F}, {0x2693, 0x2693}, {0x26A1, 0x26A1},
	{0x26AA, 0x26AB}, {0x26BD, 0x26BE}, {0x26C4, 0x26C5}, {0x26CE, 0x26CE},
	{0x26D4, 0x26D4}, {0x26EA, 0x26EA}, {0x26F2, 0x26F3}, {0x26F5, 0x26F5},
	{0x26FA, 0x26FA}, {0x26FD, 0x26FD}, {0x2705, 0x2705}, {0x270A, 0x270B},
	{0x2728, 0x2728}, {0x274C, 0x274C}, {0x274E, 0x274E}, {0x2753, 0x2755},
	{0x2757, 0x2757}, {0x2795, 0x2797}, {0x27B0, 0x27B0}, {0x27BF, 0x27BF},
	{0x2B1B, 0x2B1C}, {0x2B50, 0x2B50}, {0x2B55, 0x2B55}, {0x2E80, 0x303E},
	{0x3041, 0x3247}, {0x3250, 0x4DBF}, {0x4E00, 0xA4C6}, {0xA960, 0xA97C},
	{0xAC00, 0xD7A3}, {0xF900, 0xFAD9}, {0xFE10, 0xFE19}, {0xFE30, 0xFE6B},
	{0xFF01, 0xFF60}, {0xFFE0, 0xFFE6}, {0x16FE0, 0x1B2FB},
	{0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF}, {0x1F18E, 0x1F18E},
	{0x1F191, 0x1F19A}, {0x1F200, 0x1F320}, {0x1F32D, 0x1F335},
	{0x1F337, 0x1F37C}, {0x1F37E, 0x1F393}, {0x1F3A0, 0x1F3CA},
	{0x1F3CF, 0x1F3D3}, {0x1F3E0, 0x1F3F0}, {0x1F3F4, 0x1F3F4},
	{0x1F3F8, 0x1F43E}, {0x1F440, 0x1F440}, {0x1F442, 0x1F4FC},
	{0x1F4FF, 0x1F53D}, {0x1F54B, 0x1F54E}, {0x1F550, 0x1F567},
	{0x1F57A, 0x1F57A}, {0x1F595, 0x1F596}, {0x1F5A4, 0x1F5A4},
	{0x1F5FB, 0x1F64F}, {0x1F680, 0x1F6C5}, {0x1F6CC, 0x1F6CC},
	{0x1F6D0, 0x1F6D2}, {0x1F6D5, 0x1F6DF}, {0x1F6EB, 0x1F6EC},
	{0x1F6F4, 0x1F6FC}, {0x1F7E0, 0x1F7F0}, {0x1F90C, 0x1F93A},
	{0x1F93C, 0x1F945}, {0x1F947, 0x1F9FF}, {0x1FA70, 0x1FAF6},
	{0x20000, 0x3FFFD},
}

// TestVTCellWidth pins the emulator's widths for the characters the
// screen tests use, as xterm draws them.
func TestVTCellWidth(t *testing.T) {
	for _, tt := range []struct {
		r    rune
		want int
	}{
		{'a', 1}, {'é', 1}, {'\u0301', 0}, {'\u00ad', 1}, {'\u200b', 0},
		{'\u200d', 0}, {'\ufe0f', 0}, {'\U000e0067', 0}, {'\u1160', 0},
		{'字', 2}, {'你', 2}, {'！', 2}, {'\u3000', 2}, {'가', 2},
		{'🙂', 2}, {'👩', 2}, {'💻', 2}, {'🏴', 2}, {'🏽', 2}, {'🔥', 2},
		{'🇫', 1}, {'❤', 1}, {'✓', 1}, {'⋅', 1}, {'↓', 1}, {'…', 1},
		{'\U0002A6D6', 2}, {'\u0080', 0},
	} {
		if got := cellWidth(tt.r); got != tt.want {
			t.Errorf("cellWidth(%U %q) = %d, want %d", tt.r, tt.r, got, tt.want)
		}
	}
}
