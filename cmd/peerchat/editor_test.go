package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// replay feeds in to a fresh decoder and editor in chunks of the given
// size, as x/term's tests drive its Terminal: a key must mean the same
// whether it arrives whole or a byte at a time.
func replay(e *editor, in string, chunk int) (sent []string, results []editResult) {
	var d keyDecoder
	var keys []key
	for i := 0; i < len(in); i += chunk {
		keys = d.feed([]byte(in[i:min(i+chunk, len(in))]), keys[:0])
		for _, k := range keys {
			res, line := e.handle(k)
			switch res {
			case editSubmit:
				sent = append(sent, line)
			case editNone:
			default:
				results = append(results, res)
			}
		}
	}
	return sent, results
}

var editorTests = []struct {
	name    string
	in      string
	line    string       // the draft left on the input line
	cursor  int          // the cursor, in cells from the start of the draft
	sent    []string     // lines entered, in order
	results []editResult // what else the keys asked for
}{
	{name: "typing", in: "hello", line: "hello", cursor: 5},
	{name: "backspace", in: "hello\x7f\x7f", line: "hel", cursor: 3},
	{name: "ctrl-h is backspace", in: "hello\x08", line: "hell", cursor: 4},
	{name: "backspace at start", in: "\x7fab\x01\x7f", line: "ab", cursor: 0},
	{name: "left then insert", in: "ac\x1b[Db", line: "abc", cursor: 2},
	{name: "ss3 arrows", in: "ac\x1bODb\x1bOCd", line: "abcd", cursor: 4},
	{name: "right stops at end", in: "ab\x1b[C\x1b[Cc", line: "abc", cursor: 3},
	{name: "home end", in: "bc\x1b[Ha\x1b[Fd", line: "abcd", cursor: 4},
	{name: "home end tilde", in: "bc\x1b[1~a\x1b[4~d\x1b[7~\x1b[8~", line: "abcd", cursor: 4},
	{name: "ctrl-a ctrl-e", in: "bc\x01a\x05d", line: "abcd", cursor: 4},
	{name: "ctrl-b ctrl-f", in: "ac\x02b\x06d", line: "abcd", cursor: 4},
	{name: "delete key", in: "abc\x01\x1b[3~", line: "bc", cursor: 0},
	{name: "ctrl-u kills before cursor", in: "abc def\x1b[D\x1b[D\x15", line: "ef", cursor: 0},
	{name: "ctrl-u whole line", in: "abc def\x15", line: "", cursor: 0},
	{name: "ctrl-k kills after cursor", in: "abc def\x01\x1b[C\x0b", line: "a", cursor: 1},
	{name: "ctrl-w kills a word", in: "abc def\x17", line: "abc ", cursor: 4},
	{name: "ctrl-w over trailing spaces", in: "abc def  \x17", line: "abc ", cursor: 4},
	{name: "alt-backspace kills a word", in: "abc def\x1b\x7f", line: "abc ", cursor: 4},
	{name: "word moves", in: "one two three\x1b[1;5D\x1b[1;5DX\x1b[1;5CY", line: "one XtwoY three", cursor: 9},
	{name: "alt-b alt-f", in: "one two\x1bbX\x1bfY", line: "one XtwoY", cursor: 9},
	{name: "enter sends and clears", in: "hi\rthere", line: "there", cursor: 5, sent: []string{"hi"}},
	{name: "empty enter", in: "\r\r", line: "", sent: []string{"", ""}},
	{name: "paste of several lines", in: "one\ntwo\r\nthree\rfour", line: "four", cursor: 4, sent: []string{"one", "two", "three"}},
	{name: "crlf is one enter", in: "a\r\n\r\nb\r", sent: []string{"a", "", "b"}},
	{name: "history up", in: "one\rtwo\r\x1b[A", line: "two", cursor: 3, sent: []string{"one", "two"}},
	{name: "history up up", in: "one\rtwo\r\x1b[A\x1b[A", line: "one", cursor: 3, sent: []string{"one", "two"}},
	{name: "history stops at oldest", in: "one\rtwo\r\x1b[A\x1b[A\x1b[A", line: "one", cursor: 3, sent: []string{"one", "two"}},
	{name: "history down back to draft", in: "one\rtwo\rdra\x1b[A\x1b[A\x1b[B\x1b[B", line: "dra", cursor: 3, sent: []string{"one", "two"}},
	{name: "history ctrl-p ctrl-n", in: "one\r\x10\x0e\x10", line: "one", cursor: 3, sent: []string{"one"}},
	{name: "history resend", in: "one\r\x1b[A!\r", sent: []string{"one", "one!"}},
	{name: "history skips repeats", in: "a\ra\rb\r\x1b[A\x1b[A\x1b[A", line: "a", cursor: 1, sent: []string{"a", "a", "b"}},
	{name: "ctrl-d on empty line", in: "\x04", results: []editResult{editEOF}},
	{name: "ctrl-d deletes under cursor", in: "ab\x01\x04", line: "b", cursor: 0},
	{name: "ctrl-c", in: "draft\x03", line: "draft", cursor: 5, results: []editResult{editInterrupt}},
	{name: "ctrl-l", in: "x\x0c", line: "x", cursor: 1, results: []editResult{editRedraw}},
	{name: "unknown controls are dropped", in: "a\x07\x00\x1ab", line: "ab", cursor: 2},
	{name: "tab is a space", in: "a\tb", line: "a b", cursor: 3},
	{name: "bracketed paste markers", in: "a\x1b[200~b\nc\x1b[201~d", line: "cd", cursor: 2, sent: []string{"ab"}},
	{name: "unknown sequences skipped", in: "a\x1b[15~b\x1b[1;2Pc\x1bOPd\x1b[Ie", line: "abcde", cursor: 5},
	{name: "alt with a letter is dropped", in: "a\x1bxb\x1béc", line: "abc", cursor: 3},
	{name: "escape then control", in: "a\x1b\x01b", line: "ba", cursor: 1},
	{name: "double escape", in: "a\x1b\x1b[Db", line: "ba", cursor: 1},
	{name: "invalid utf-8", in: "a\xffb", line: "a\uFFFDb", cursor: 3},
	// Wide characters: two cells each, one glyph each.
	{name: "chinese", in: "你好世界", line: "你好世界", cursor: 8},
	{name: "backspace over chinese", in: "你好世界\x7f", line: "你好世", cursor: 6},
	{name: "edit inside chinese", in: "你好世界\x1b[D\x1b[D\x7f们", line: "你们世界", cursor: 4},
	{name: "emoji", in: "a🙂b\x1b[D\x7f", line: "ab", cursor: 1},
	{name: "ctrl-w over chinese", in: "hi 你好\x17", line: "hi ", cursor: 3},
	// Grapheme clusters: one edit removes what the reader sees as one.
	{name: "combining accent", in: "e\u0301\x7f", line: "", cursor: 0},
	{name: "combining typed after", in: "ae\u0301b\x1b[D\x7f", line: "ab", cursor: 1},
	{name: "accent joins letter before cursor", in: "ab\x1b[D\u0301", line: "a\u0301b", cursor: 1},
	{name: "flag", in: "🇫🇷x\x1b[D\x7f", line: "x", cursor: 0},
	{name: "family emoji", in: "👨\u200d👩\u200d👧!\x1b[D\x7f", line: "!", cursor: 0},
	// What cannot be shown as itself is shown escaped, and measured so.
	{name: "bidi override typed", in: "a\u202eb", line: "a\u202eb", cursor: 8},
}

func TestEditorKeysAtEveryChunkSize(t *testing.T) {
	for _, tt := range editorTests {
		t.Run(tt.name, func(t *testing.T) {
			for chunk := 1; chunk <= len(tt.in); chunk++ {
				e := &editor{}
				sent, results := replay(e, tt.in, chunk)
				if got := e.String(); got != tt.line {
					t.Errorf("chunk %d: line %q, want %q", chunk, got, tt.line)
				}
				if e.size != len(e.String()) {
					t.Errorf("chunk %d: size %d, but the line has %d bytes", chunk, e.size, len(e.String()))
				}
				if got := e.cursorCells(); got != tt.cursor {
					t.Errorf("chunk %d: cursor at cell %d, want %d", chunk, got, tt.cursor)
				}
				if !slices.Equal(sent, tt.sent) {
					t.Errorf("chunk %d: sent %q, want %q", chunk, sent, tt.sent)
				}
				if !slices.Equal(results, tt.results) {
					t.Errorf("chunk %d: results %v, want %v", chunk, results, tt.results)
				}
			}
		})
	}
}

func TestHistoryIsBounded(t *testing.T) {
	e := &editor{}
	var in strings.Builder
	for i := range maxHistory + 10 {
		fmt.Fprintf(&in, "line %d\r", i)
	}
	replay(e, in.String(), 4096)
	if len(e.hist) != maxHistory || e.hist[0] != "line 10" {
		t.Fatalf("history holds %d lines from %q", len(e.hist), e.hist[0])
	}
}

// drawInput renders the editor on a fresh emulated terminal row.
func drawInput(e *editor, prompt string, width int) *vt {
	v := newVT(3, width)
	v.Write(e.render(nil, prompt, len(prompt), width))
	return v
}

func TestRenderPutsTheCursorInCells(t *testing.T) {
	e := &editor{}
	replay(e, "ab你好🙂c\x1b[D\x1b[D", 1)
	v := drawInput(e, "> ", 40)
	if got, want := v.cursorRow(), "> ab你好🙂c"; got != want {
		t.Fatalf("input row %q, want %q", got, want)
	}
	// a b 你 好 = 6 cells after the 2-cell prompt; the cursor is on 🙂.
	if got := v.cursorCol(); got != 8 {
		t.Fatalf("cursor at column %d, want 8", got)
	}
	if len(v.odd) > 0 {
		t.Fatalf("unexpected sequences %q", v.odd)
	}
}

func TestRenderScrollsLongDraftsSideways(t *testing.T) {
	const width = 12 // "> " and 9 cells of draft; the last column stays free
	e := &editor{}
	replay(e, "一二三四五六七八九十", 1)
	v := drawInput(e, "> ", width)
	if got, want := v.cursorRow(), "> 七八九十"; got != want {
		t.Fatalf("end of a long draft: %q, want %q", got, want)
	}
	if got := v.cursorCol(); got != 10 {
		t.Fatalf("cursor at column %d, want 10", got)
	}
	// Home shows the start; the cursor stays in view all the way.
	replay(e, "\x01", 1)
	v = drawInput(e, "> ", width)
	if got, want := v.cursorRow(), "> 一二三四"; got != want || v.cursorCol() != 2 {
		t.Fatalf("after Home: %q cursor %d, want %q cursor 2", got, v.cursorCol(), want)
	}
	for i := range 10 {
		replay(e, "\x1b[C", 1)
		v = drawInput(e, "> ", width)
		if c := v.cursorCol(); c < 2 || c > width-1 {
			t.Fatalf("after %d rights the cursor is at column %d, out of the input line", i+1, c)
		}
		if !strings.Contains("一二三四五六七八九十", strings.TrimPrefix(v.cursorRow(), "> ")) {
			t.Fatalf("shown %q is not a part of the draft", v.cursorRow())
		}
		if v.wrapNext || v.r != 0 {
			t.Fatalf("the input line wrapped")
		}
	}
	// Deleting brings the start back into view.
	replay(e, "\x7f\x7f\x7f\x7f\x7f\x7f", 1)
	v = drawInput(e, "> ", width)
	if got, want := v.cursorRow(), "> 一二三四"; got != want {
		t.Fatalf("after deleting: %q, want %q", got, want)
	}
}

func TestRenderHiddenShowsNothingOfTheDraft(t *testing.T) {
	e := &editor{hidden: true}
	replay(e, "secret 你好", 1)
	out := string(e.render(nil, "> ", 2, 40))
	if strings.Contains(out, "secret") || strings.Contains(out, "你") {
		t.Fatalf("hidden draft rendered: %q", out)
	}
	// Editing still works on what cannot be seen.
	sent, _ := replay(e, "\x17\x7f!\r", 1)
	if !slices.Equal(sent, []string{"secret!"}) {
		t.Fatalf("sent %q", sent)
	}
}

func TestDraftIsBounded(t *testing.T) {
	e := &editor{}
	chunk := strings.Repeat("字", 1000) // 3000 bytes
	var full int
	for range maxDraft/len(chunk) + 2 {
		if res, _ := e.handle(key{code: keyText, text: chunk}); res == editFull {
			full++
		}
	}
	if full != 2 || e.size != len(e.String()) || e.size > maxDraft || e.size < maxDraft-3 {
		t.Fatalf("%d refusals, size %d (counted %d), limit %d", full, e.size, len(e.String()), maxDraft)
	}
	replay(e, "\x17\x7f\x7f\x01\x0b", 1)
	if e.size != 0 || e.String() != "" {
		t.Fatalf("size %d after deleting everything", e.size)
	}
	if res, _ := e.handle(key{code: keyText, text: "ok"}); res != editNone || e.String() != "ok" {
		t.Fatal("no room after emptying the line")
	}
}
