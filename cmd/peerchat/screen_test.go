package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"peerchat/peer"
)

// testScreen is a screen drawn on an emulated terminal, with a clock the
// test moves.
type testScreen struct {
	*screen
	vt  *vt
	raw bytes.Buffer // every byte the screen wrote
	now time.Time
}

func newTestScreen(t *testing.T, rows, cols int, color bool) *testScreen {
	ts := &testScreen{vt: newVT(rows, cols), now: time.Date(2025, 5, 6, 7, 8, 9, 0, time.Local)}
	ts.screen = newScreen("bob", "alice", cols, rows, color, false)
	ts.screen.now = func() time.Time { return ts.now }
	ts.draw(t)
	return ts
}

func (ts *testScreen) draw(t *testing.T) {
	t.Helper()
	if err := ts.flush(io.MultiWriter(ts.vt, &ts.raw)); err != nil {
		t.Fatal(err)
	}
	if len(ts.vt.odd) > 0 {
		t.Fatalf("the screen sent sequences it should not: %q", ts.vt.odd)
	}
}

func (ts *testScreen) typeKeys(s string) {
	var d keyDecoder
	for _, k := range d.feed([]byte(s), nil) {
		ts.ed.handle(k)
	}
	ts.dirty = true
}

func (ts *testScreen) msg(id uint64, text string) *incoming {
	return &incoming{Message: &peer.Message{ID: id, Time: ts.now, Text: text, From: "alice"}, At: ts.now}
}

func TestScreenPrintsMessagesAboveTheDraft(t *testing.T) {
	ts := newTestScreen(t, 10, 40, false)
	ts.typeKeys("half a 草稿\x1b[D")
	ts.draw(t)
	ts.message(ts.msg(1, "hello bob"))
	ts.message(ts.msg(2, "are you there?"))
	ts.draw(t)
	v := ts.vt
	if got := v.row(v.r - 2); got != "07:08:09 alice: hello bob" {
		t.Errorf("first message row %q", got)
	}
	if got := v.row(v.r - 1); got != "07:08:09 alice: are you there?" {
		t.Errorf("second message row %q", got)
	}
	if got := v.cursorRow(); got != "> half a 草稿" {
		t.Errorf("input row %q, want the draft intact", got)
	}
	// "> half a " is 9 cells, 草 2 more: the cursor is on 稿.
	if got := v.cursorCol(); got != 11 {
		t.Errorf("cursor at column %d, want 11", got)
	}
}

func TestScreenShowsHostileTextAsEscapes(t *testing.T) {
	for _, color := range []bool{false, true} {
		ts := newTestScreen(t, 10, 200, color)
		ts.screen = newScreen("bob", "ali\x1b[31mce\u202e", 200, 10, color, false)
		ts.screen.now = func() time.Time { return ts.now }
		hostile := "clear\x1b[2J title\x1b]0;pwned\x07 cr\rover rtl\u202eevil c1\u009b31m end"
		ts.message(&incoming{Message: &peer.Message{ID: 1, Time: ts.now, Text: hostile, From: "ali\x1b[31mce\u202e"}, At: ts.now})
		ts.notice("refused "+"\x1b]0;x\x07", true)
		ts.draw(t) // fails on any sequence the screen did not mean to send
		want := `07:08:09 ali\x1b[31mce\u202e: clear\x1b[2J title\x1b]0;pwned\x07 cr\x0dover rtl\u202eevil c1\u009b31m end`
		if got := ts.vt.row(ts.vt.r - 2); got != want {
			t.Errorf("color %v: shown %q\nwant %q", color, got, want)
		}
		for _, bad := range []string{"\x1b[2J", "\x1b]", "\x07", "\u202e", "\u009b", "\x1b[31m"} {
			if bytes.Contains(ts.raw.Bytes(), []byte(bad)) {
				t.Errorf("color %v: %q reached the terminal", color, bad)
			}
		}
	}
}

var sgr = regexp.MustCompile(`\x1b\[[0-9;]*m`)

func TestScreenColoursNamesOnlyWhenAsked(t *testing.T) {
	ts := newTestScreen(t, 10, 80, false)
	ts.message(ts.msg(1, "hi"))
	ts.own(peer.Message{ID: 1, Time: ts.now, Text: "hello", From: "bob"})
	ts.notice("a notice", false)
	ts.draw(t)
	if sgr.Match(ts.raw.Bytes()) {
		t.Fatalf("colour off, yet SGR sequences were sent: %q", ts.raw.String())
	}

	ts = newTestScreen(t, 10, 80, true)
	ts.message(ts.msg(1, "hi"))
	ts.own(peer.Message{ID: 1, Time: ts.now, Text: "hello", From: "bob"})
	ts.draw(t)
	out := ts.raw.String()
	if !strings.Contains(out, colorStyles.peer+"alice"+colorStyles.reset) || !strings.Contains(out, colorStyles.self+"bob"+colorStyles.reset) {
		t.Fatalf("names not coloured: %q", out)
	}
	if colorStyles.peer == colorStyles.self {
		t.Fatal("both names have the same colour")
	}
}

func TestScreenNoticesStandOutFromMessages(t *testing.T) {
	ts := newTestScreen(t, 10, 80, false)
	ts.notice("connected to alice", false)
	ts.notice("connection lost", true)
	ts.message(ts.msg(1, "-- not a notice"))
	ts.draw(t)
	lines := ts.vt.lines()
	want := []string{
		"07:08:09 -- connected to alice",
		"07:08:09 !! connection lost",
		"07:08:09 alice: -- not a notice",
		">",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("screen:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestScreenTurnsPendingMarkIntoDeliveredInPlace(t *testing.T) {
	ts := newTestScreen(t, 10, 30, false)
	ts.own(peer.Message{ID: 1, Time: ts.now, Text: "first", From: "bob"})
	ts.own(peer.Message{ID: 2, Time: ts.now, Text: "a longer line that wraps over two rows", From: "bob"})
	ts.message(ts.msg(1, "in between"))
	ts.own(peer.Message{ID: 3, Time: ts.now, Text: "third", From: "bob"})
	ts.typeKeys("draft")
	ts.draw(t)
	want := []string{
		"07:08:09 bob: first ⋅",
		"07:08:09 bob: a longer line th",
		"    at wraps over two rows ⋅", // 30 columns: the narrow indent
		"07:08:09 alice: in between",
		"07:08:09 bob: third ⋅",
		"> draft",
	}
	check := func(what string) {
		t.Helper()
		if got := ts.vt.lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("%s:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if ts.vt.cursorRow() != "> draft" || ts.vt.cursorCol() != 7 {
			t.Fatalf("%s: cursor at %d:%d, not after the draft", what, ts.vt.r, ts.vt.c)
		}
	}
	check("sent")
	ts.delivered(2)
	ts.draw(t)
	want[0] = "07:08:09 bob: first ✓"
	want[2] = "    at wraps over two rows ✓"
	check("two delivered")
	ts.delivered(3)
	ts.draw(t)
	want[4] = "07:08:09 bob: third ✓"
	check("all delivered")
	if len(ts.recent) != 0 || len(ts.unacked) != 0 {
		t.Fatalf("still tracking %d lines, %d messages", len(ts.recent), len(ts.unacked))
	}
}

func TestScreenReportsLateDeliveryOutOfView(t *testing.T) {
	ts := newTestScreen(t, 5, 60, false)
	ts.own(peer.Message{ID: 1, Time: ts.now, Text: "quick", From: "bob"})
	ts.own(peer.Message{ID: 2, Time: ts.now, Text: "slow", From: "bob"})
	for i := range 6 { // both scroll out of reach
		ts.message(ts.msg(uint64(i+1), "filler"))
	}
	ts.draw(t)
	ts.delivered(1) // quick and out of view: nothing to say
	ts.draw(t)
	if got := strings.Join(ts.vt.lines(), "\n"); strings.Contains(got, "delivered") {
		t.Fatalf("a quick delivery was reported:\n%s", got)
	}
	ts.now = ts.now.Add(2500 * time.Millisecond)
	ts.delivered(2)
	ts.draw(t)
	if got, want := ts.vt.row(ts.vt.r-1), "07:08:11 -- delivered to alice after 2.5s: slow"; got != want {
		t.Fatalf("late delivery notice %q, want %q", got, want)
	}
}

func TestScreenMarksAnAlreadyAcknowledgedMessageDelivered(t *testing.T) {
	ts := newTestScreen(t, 5, 40, false)
	ts.delivered(1) // the acknowledgement overtook the sender's result
	ts.own(peer.Message{ID: 1, Time: ts.now, Text: "fast", From: "bob"})
	ts.draw(t)
	if got := ts.vt.row(ts.vt.r - 1); got != "07:08:09 bob: fast ✓" {
		t.Fatalf("row %q", got)
	}
}

func TestScreenForgetsRowsOnResize(t *testing.T) {
	ts := newTestScreen(t, 10, 40, false)
	ts.own(peer.Message{ID: 1, Time: ts.now, Text: "hello", From: "bob"})
	ts.draw(t)
	ts.resize(30, 10)
	ts.vt.resize(10, 30)
	ts.delivered(1)
	ts.draw(t)
	if got := ts.vt.row(ts.vt.r - 1); got != "07:08:09 bob: hello ⋅" {
		t.Fatalf("after a resize the line was rewritten: %q", got)
	}
}

// The render path: a message from the peer in, the bytes for the terminal
// out (the line, and the input line drawn again below it), against writing
// those same bytes directly. BenchmarkRender/batch is a flood: 100
// messages drawn per write, as the loop does when they queue up.
func BenchmarkRender(b *testing.B) {
	m := benchMessage()
	sinks := map[string]func(b *testing.B) io.Writer{
		"discard": func(*testing.B) io.Writer { return io.Discard },
		"devnull": func(b *testing.B) io.Writer {
			f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { f.Close() })
			return f
		},
	}
	newSc := benchScreen
	// The bytes one message costs, to write directly.
	sc := newSc()
	sc.message(m)
	var one bytes.Buffer
	sc.flush(&one)
	for _, name := range []string{"discard", "devnull"} {
		b.Run("screen/"+name, func(b *testing.B) {
			w := sinks[name](b)
			sc := newSc()
			b.SetBytes(int64(one.Len()))
			for b.Loop() {
				sc.message(m)
				sc.flush(w)
			}
		})
		b.Run("direct/"+name, func(b *testing.B) {
			w := sinks[name](b)
			b.SetBytes(int64(one.Len()))
			for b.Loop() {
				w.Write(one.Bytes())
			}
		})
	}
	b.Run("screen/batch100/devnull", func(b *testing.B) {
		w := sinks["devnull"](b)
		sc := newSc()
		for b.Loop() {
			for range 100 {
				sc.message(m)
			}
			sc.flush(w)
		}
	})
}

func benchMessage() *incoming {
	now := time.Now()
	return &incoming{Message: &peer.Message{ID: 1, Time: now, Text: "the quick brown fox jumps over the lazy dog, 0123456789", From: "alice"}, At: now}
}

// benchScreen is a 120×40 screen in colour with a draft being typed.
func benchScreen() *screen {
	sc := newScreen("bob", "alice", 120, 40, true, false)
	var d keyDecoder
	for _, k := range d.feed([]byte("a draft in progress, 半分"), nil) {
		sc.ed.handle(k)
	}
	sc.flush(io.Discard)
	return sc
}

// TestScreenStatusRegionRedrawsInPlace: transfer lines sit between the
// conversation and the draft, are replaced where they are, and never
// scroll into the conversation.
func TestScreenStatusRegionRedrawsInPlace(t *testing.T) {
	ts := newTestScreen(t, 8, 60, false)
	ts.typeKeys("half a dra")
	ts.message(ts.msg(1, "before"))
	ts.draw(t)
	for i := range 100 {
		ts.setStatus([]string{fmt.Sprintf("↓ #1 big.bin: %d%%", i), "↑ #2 notes.txt: waiting for alice"})
		ts.draw(t)
		if i == 50 {
			ts.message(ts.msg(2, "during"))
			ts.notice("a notice", false)
			ts.draw(t)
		}
	}
	want := []string{
		"07:08:09 alice: before",
		"07:08:09 alice: during",
		"07:08:09 -- a notice",
		"↓ #1 big.bin: 99%",
		"↑ #2 notes.txt: waiting for alice",
		"> half a dra",
	}
	if got := ts.vt.lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("screen:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if ts.vt.cursorCol() != 12 {
		t.Fatalf("cursor at column %d, not after the draft", ts.vt.cursorCol())
	}

	// A transfer ends: its line goes, the final notice takes its place.
	ts.setStatus([]string{"↑ #2 notes.txt: waiting for alice"})
	ts.notice("received big.bin", false)
	ts.draw(t)
	want = append(want[:3], "07:08:09 -- received big.bin", "↑ #2 notes.txt: waiting for alice", "> half a dra")
	if got := ts.vt.lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("after one ended:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	ts.setStatus(nil)
	ts.draw(t)
	want = append(want[:4], "> half a dra")
	if got := ts.vt.lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("after both ended:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Once the screen is full, the conversation scrolls above the
	// region, and the region stays whole at the bottom.
	ts.setStatus([]string{"↓ #3 x: 1%"})
	for i := range 20 {
		ts.message(ts.msg(uint64(10+i), fmt.Sprintf("line %d", i)))
		ts.draw(t)
	}
	v := ts.vt
	if v.r != 7 || v.row(6) != "↓ #3 x: 1%" || v.row(5) != "07:08:09 alice: line 19" || v.cursorRow() != "> half a dra" {
		t.Fatalf("full screen:\n%s", v.screen())
	}
	if n := strings.Count(strings.Join(v.lines(), "\n"), "↓ #"); n != 1 {
		t.Fatalf("%d status lines reached the screen and its scrollback, want 1", n)
	}
	ts.close(io.MultiWriter(ts.vt, &ts.raw))
	if v.cursorRow() != "" || v.cursorCol() != 0 || v.row(6) != "" {
		t.Fatalf("close left the region or the input row:\n%s", v.screen())
	}
}

// TestScreenRewritesMarksAboveTheStatusRegion: a delivery mark is found
// above the region.
func TestScreenRewritesMarksAboveTheStatusRegion(t *testing.T) {
	ts := newTestScreen(t, 10, 40, false)
	ts.own(peer.Message{ID: 1, Time: ts.now, Text: "hello", From: "bob"})
	ts.setStatus([]string{"↑ #1 a: 5%", "↑ #2 b: 7%"})
	ts.draw(t)
	ts.delivered(1)
	ts.draw(t)
	want := "07:08:09 bob: hello ✓\n↑ #1 a: 5%\n↑ #2 b: 7%\n>"
	if got := strings.Join(ts.vt.lines(), "\n"); got != want {
		t.Fatalf("screen:\n%s\nwant:\n%s", got, want)
	}
}

// TestScreenStatusRegionIsCapped: a few lines, the rest summed up, and
// each cut to one row.
func TestScreenStatusRegionIsCapped(t *testing.T) {
	ts := newTestScreen(t, 10, 20, false)
	ts.setStatus([]string{"↓ #1 a", "↓ #2 b", "↓ #3 a very long name.bin: 37%", "↓ #4 d", "↑ #5 e\x1b[2J"})
	ts.draw(t)
	want := "↓ #1 a\n↓ #2 b\n+3 more\n>"
	if got := strings.Join(ts.vt.lines(), "\n"); got != want {
		t.Fatalf("screen:\n%s\nwant:\n%s", got, want)
	}
	ts.setStatus([]string{"↓ #3 a very long name.bin: 37%", "↑ #5 e\x1b[2J"})
	ts.draw(t)
	want = "↓ #3 a very long n…\n↑ #5 e\\x1b[2J\n>"
	if got := strings.Join(ts.vt.lines(), "\n"); got != want {
		t.Fatalf("screen:\n%s\nwant:\n%s", got, want)
	}
}

// TestScreenStatusRegionFollowsResizeAndRedraw: after a resize the lines
// are cut to the new width; Ctrl-L draws the region and the draft again.
func TestScreenStatusRegionFollowsResizeAndRedraw(t *testing.T) {
	ts := newTestScreen(t, 10, 60, false)
	ts.message(ts.msg(1, "hello"))
	ts.setStatus([]string{"↓ #1 report.pdf: 37% (380.0 MiB of 1.0 GiB) at 950.0 MiB/s, 0:01 left"})
	ts.typeKeys("draft")
	ts.draw(t)
	ts.vt.resize(10, 30) // as xterm: no reflow
	ts.resize(30, 10)
	ts.draw(t)
	want := "07:08:09 alice: hello\n↓ #1 report.pdf: 37% (380.0 …\n> draft"
	if got := strings.Join(ts.vt.lines(), "\n"); got != want {
		t.Fatalf("after a resize:\n%s\nwant:\n%s", got, want)
	}
	// Something scribbled over the bottom rows; Ctrl-L mends them.
	ts.vt.Write([]byte("\r\x1b[1Ajunk\r\n"))
	ts.typeKeys("\x0c")
	ts.redraw()
	ts.draw(t)
	if got := strings.Join(ts.vt.lines(), "\n"); got != want {
		t.Fatalf("after Ctrl-L:\n%s\nwant:\n%s", got, want)
	}
	if ts.vt.cursorCol() != 7 {
		t.Fatalf("cursor at column %d, not after the draft", ts.vt.cursorCol())
	}
}

// clockName is a row that begins as a conversation line does.
var clockName = regexp.MustCompile(`^\d\d:\d\d:\d\d [^ ]+: `)

// TestScreenWrapSpoofIsIndented: a peer pads its message with spaces to
// the end of the row and writes what looks like a line of ours after
// them. Every row after a line's first is indented, so the only rows that
// start with a time and a name are the screen's own.
func TestScreenWrapSpoofIsIndented(t *testing.T) {
	for _, cols := range []int{80, 40, 24} {
		ts := newTestScreen(t, 10, cols, false)
		pre := len("07:08:09 alice: ok")
		spoof := "ok" + strings.Repeat(" ", cols-pre) + "14:03:07 bob: yes, wire it ✓"
		ts.message(ts.msg(1, spoof))
		ts.draw(t)
		lines := ts.vt.lines()
		if len(lines) < 3 || !strings.HasPrefix(lines[0], "07:08:09 alice: ok") {
			t.Fatalf("%d columns: screen:\n%s", cols, strings.Join(lines, "\n"))
		}
		for _, l := range lines[1 : len(lines)-1] {
			if clockName.MatchString(l) || !strings.HasPrefix(l, " ") {
				t.Errorf("%d columns: row %q starts at the margin: the peer wrote a line of its own\n%s", cols, l, strings.Join(lines, "\n"))
			}
		}
		indent := strings.Repeat(" ", hangingIndent(cols, len("07:08:09 alice: ")))
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, indent+"14:03:07 bob: yes") }) {
			t.Errorf("%d columns: the spoof is not under the text, indented %d:\n%s", cols, len(indent), strings.Join(lines, "\n"))
		}
	}
}

func TestWrapByCells(t *testing.T) {
	tests := []struct {
		name          string
		width, indent int
		col           int // where the text starts
		text          string
		rows          []string
	}{
		{"fits", 10, 2, 0, "0123456789", []string{"0123456789"}},
		{"one more", 10, 2, 0, "0123456789a", []string{"0123456789", "  a"}},
		{"after a prefix", 10, 4, 4, "abcdefghij", []string{"abcdef", "    ghij"}},
		{"wide at the edge", 10, 2, 0, "012345678字", []string{"012345678", "  字"}},
		{"wide fits", 10, 2, 0, "01234567字", []string{"01234567字"}},
		{"wide only", 10, 2, 0, "字字字字字字", []string{"字字字字字", "  字"}},
		{"combining stays", 10, 2, 0, "012345678e\u0301x", []string{"012345678e\u0301", "  x"}},
		{"flag whole", 10, 2, 0, "012345678🇫🇷", []string{"012345678", "  🇫🇷"}},
		// A ZWJ sequence counts as its parts side by side (4 cells),
		// never less than the terminal may draw.
		{"zwj sequence", 10, 2, 0, "012345👩\u200d💻x", []string{"012345👩\u200d💻", "  x"}},
		{"zwj sequence moves whole", 10, 2, 0, "0123456👩\u200d💻", []string{"0123456", "  👩\u200d💻"}},
		// A skin tone is 2 cells of its own where the terminal draws
		// characters one by one.
		{"skin tone", 10, 2, 0, "0123456👍🏽", []string{"0123456", "  👍🏽"}},
		{"skin tone fits", 10, 2, 0, "012345👍🏽", []string{"012345👍🏽"}},
		{"skin tone in a zwj sequence", 10, 2, 0, "01234👩🏽\u200d💻", []string{"01234", "  👩🏽\u200d💻"}},
		{"scotland", 10, 2, 0, "012345678🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", []string{"012345678", "  🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"}},
		{"too narrow to indent", 1, 0, 0, "abc", []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		w := wrapped{width: tt.width, indent: tt.indent, col: tt.col, rows: 1}
		w.text(tt.text)
		got := strings.Split(string(w.b), "\r\n")
		if strings.Join(got, "|") != strings.Join(tt.rows, "|") || w.rows != len(tt.rows) {
			t.Errorf("%s: rows %q (%d), want %q", tt.name, got, w.rows, tt.rows)
			continue
		}
		// The emulator, which draws each character in its own cells,
		// never wraps a row on its own: the row count is exact.
		v := newVT(10, tt.width)
		v.Write(append([]byte(strings.Repeat("x", tt.col)), w.end()...))
		if v.r != len(tt.rows) {
			t.Errorf("%s: the emulator drew %d rows, the wrapper counted %d", tt.name, v.r, len(tt.rows))
		}
	}
}

func TestHangingIndent(t *testing.T) {
	for _, tt := range []struct{ width, pre, want int }{
		{80, 16, 16}, {36, 16, 16}, {35, 16, 4}, {30, 14, 4}, {6, 16, 3}, {1, 16, 0},
	} {
		if got := hangingIndent(tt.width, tt.pre); got != tt.want {
			t.Errorf("hangingIndent(%d, %d) = %d, want %d", tt.width, tt.pre, got, tt.want)
		}
	}
}

// TestScreenMarkLandsOnItsRowPastInvisibleText: own messages full of
// characters that draw in more or fewer cells than they seem (zero-width
// and format characters, emoji sequences and skin tones a terminal may
// draw as their parts) wrap over several rows, and their ✓ is written on the right one.
func TestScreenMarkLandsOnItsRowPastInvisibleText(t *testing.T) {
	ts := newTestScreen(t, 20, 30, false)
	tricky := strings.Repeat("👩\u200d💻", 5) + strings.Repeat("👍🏽", 7) + "\u200b\u200b\u00ad\U000e0041" + strings.Repeat("🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", 3) + " end"
	ts.own(peer.Message{ID: 1, Time: ts.now, Text: tricky, From: "bob"})
	ts.own(peer.Message{ID: 2, Time: ts.now, Text: "second", From: "bob"})
	ts.message(ts.msg(1, strings.Repeat("👨\u200d👩\u200d👧", 6)))
	ts.own(peer.Message{ID: 3, Time: ts.now, Text: "third", From: "bob"})
	ts.draw(t)
	before := ts.vt.lines()
	ts.delivered(3)
	ts.draw(t)
	after := ts.vt.lines()
	if len(before) != len(after) {
		t.Fatalf("the rewrite changed the number of rows:\n%s", strings.Join(after, "\n"))
	}
	for i := range before {
		want := strings.ReplaceAll(before[i], "⋅", "✓")
		if after[i] != want {
			t.Errorf("row %d is %q, want %q\nscreen:\n%s", i, after[i], want, strings.Join(after, "\n"))
		}
	}
	if n := strings.Count(strings.Join(after, "\n"), "✓"); n != 3 {
		t.Errorf("%d marks ✓, want 3:\n%s", n, strings.Join(after, "\n"))
	}
	if strings.Contains(strings.Join(after, "\n"), "\u200b") {
		t.Errorf("a zero-width space reached the screen")
	}
	// Counted narrower than the terminal draws it, a row would wrap on
	// its own and its rest start at the left margin.
	for i, row := range after {
		if !strings.HasPrefix(row, "07:08:09 ") && !strings.HasPrefix(row, "    ") && row != ">" {
			t.Errorf("row %d starts at the left margin: %q\nscreen:\n%s", i, row, strings.Join(after, "\n"))
		}
	}
}

// TestScreenWrapsAtTheNewWidthAfterAResize: rows already drawn stay as
// they are; what comes after wraps at the new width, and marks of lines
// drawn since are found.
func TestScreenWrapsAtTheNewWidthAfterAResize(t *testing.T) {
	ts := newTestScreen(t, 12, 60, false)
	ts.message(ts.msg(1, strings.Repeat("a", 50)))
	ts.draw(t)
	ts.vt.resize(12, 40)
	ts.resize(40, 12)
	ts.own(peer.Message{ID: 1, Time: ts.now, Text: strings.Repeat("b", 50), From: "bob"})
	ts.message(ts.msg(2, strings.Repeat("c", 30)))
	ts.draw(t)
	ts.delivered(1)
	ts.draw(t)
	want := []string{
		"07:08:09 alice: " + strings.Repeat("a", 24), // 44 at 60 columns, cut by the emulator as by xterm
		strings.Repeat(" ", 16) + strings.Repeat("a", 6),
		"07:08:09 bob: " + strings.Repeat("b", 26),
		strings.Repeat(" ", 14) + strings.Repeat("b", 24) + " ✓",
		"07:08:09 alice: " + strings.Repeat("c", 24),
		strings.Repeat(" ", 16) + strings.Repeat("c", 6),
		">",
	}
	if got := ts.vt.lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("screen:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestScreenStatusLineOfEmojiSequencesStaysOneRow: a file name of emoji
// sequences, which a terminal may draw as their parts, is cut to fit
// one row as the terminal draws it, or the region would take two.
func TestScreenStatusLineOfEmojiSequencesStaysOneRow(t *testing.T) {
	ts := newTestScreen(t, 10, 20, false)
	ts.setStatus([]string{"↓ #1 " + strings.Repeat("👩\u200d💻", 10)})
	ts.message(ts.msg(1, "hi"))
	ts.draw(t)
	want := "07:08:09 alice: hi\n↓ #1 👩\u200d💻👩\u200d💻👩\u200d💻…\n>"
	if got := strings.Join(ts.vt.lines(), "\n"); got != want {
		t.Fatalf("screen:\n%s\nwant:\n%s", got, want)
	}
}
