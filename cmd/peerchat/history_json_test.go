package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"peerchat/cmd/peerchat/internal/history"
)

// TestHistoryJSONEscapesWhatATerminalWouldObey: `history --json` writes
// C1 and bidi controls and invisible characters as \u escapes, keeps
// emoji sequences, and decodes back to exactly what was received.
func TestHistoryJSONEscapesWhatATerminalWouldObey(t *testing.T) {
	st, path := openTestHistory(t)
	at := time.Now().Add(-time.Minute)
	texts := []string{
		"c1 csi \u009b31m and osc \u009d0;x\u009c",
		"invoice\u202etxt.exe \u2066isolated\u2069 \u200eLRM",
		"pay\u200bpal ad\u00admin \ufeffbom \u2060wj",
		"tags\U000e0068\U000e0069 private\ue000 \U000f0001 filler\u3164",
		"quote \" backslash \\ newline \n tab \t del \x7f",
		"kept: 👩\u200d💻 می\u200cخواهم 🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f <&>",
	}
	for i, text := range texts {
		if err := st.Add(history.Record{Conv: "c.0", Direction: "in", ID: uint64(i + 1), Peer: "mallory\u202e",
			Fingerprint: "FP", From: "mallory\u202e", Time: at, Received: at, Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	lines := runHistory(t, path, "--json")
	if len(lines) != len(texts) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(texts), strings.Join(lines, "\n"))
	}
	for i, line := range lines {
		if s := sanitize(line); s != line {
			t.Errorf("line %d has characters a terminal would obey or hide: %s", i, s)
		}
		var r jsonRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", i, err, line)
		}
		if string(r.Text) != texts[i] || r.From != "mallory\u202e" || r.Peer != "mallory\u202e" {
			t.Errorf("line %d decodes to %+q from %+q, want %+q", i, r.Text, r.From, texts[i])
		}
	}
	for _, want := range []string{`\u009b31m`, `\u202etxt`, `pay\u200bpal`, `tags\udb40\udc68\udb40\udc69`, `private\ue000`, `\u007f`, `"from":"mallory\u202e"`} {
		if !strings.Contains(strings.Join(lines, "\n"), want) {
			t.Errorf("no %s in the output:\n%s", want, strings.Join(lines, "\n"))
		}
	}
	if !strings.Contains(lines[5], "👩\u200d💻 می\u200cخواهم 🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f") {
		t.Errorf("emoji and joiners were not kept: %s", lines[5])
	}

	// Without --json, the same lines go through sanitize.
	for i, line := range runHistory(t, path) {
		if s := sanitize(line); s != line || !strings.Contains(line, `mallory\u202e: `) {
			t.Errorf("plain line %d: %+q", i, line)
		}
	}
}
