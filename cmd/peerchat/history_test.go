package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"peerchat/cmd/peerchat/internal/history"
)

func openTestHistory(t *testing.T) (*history.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sub", "history.db")
	st, err := history.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, path
}

func texts(recs []history.Record) string {
	var s []string
	for _, r := range recs {
		s = append(s, r.From+": "+r.Text)
	}
	return strings.Join(s, "\n")
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.Local)
	for in, want := range map[string]time.Time{
		"90m":        now.Add(-90 * time.Minute),
		"7d":         now.Add(-7 * 24 * time.Hour),
		"1d12h":      now.Add(-36 * time.Hour),
		"2026-11-01": time.Date(2026, 11, 1, 0, 0, 0, 0, time.Local),
	} {
		got, err := parseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"yesterday", "-5m", "xd"} {
		if _, err := parseSince(in, now); err == nil {
			t.Errorf("parseSince(%q) succeeded", in)
		}
	}
}

// runHistory runs `peerchat history` on the database at path.
func runHistory(t *testing.T, path string, args ...string) []string {
	t.Helper()
	out, errOut, code := runPeerchatEnv(t, []string{"PEERCHAT_NO_HISTORY="}, "", append([]string{"history", "--history", path}, args...)...)
	if code != 0 {
		t.Fatalf("history exited %d: %s", code, errOut)
	}
	return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
}

func TestHistoryRecordsAChat(t *testing.T) {
	dir := certsDir(t)
	tmp := t.TempDir()
	aliceDB, bobDB := filepath.Join(tmp, "alice.db"), filepath.Join(tmp, "bob.db")
	l := startEnv(t, []string{"PEERCHAT_NO_HISTORY=", "PEERCHAT_HISTORY=" + aliceDB},
		"listen", "--addr", "127.0.0.1:0", "--certs-dir", dir, "--name", "alice")
	addr := l.waitLine(`listening on (\S+) as`)[1]
	d := startEnv(t, []string{"PEERCHAT_NO_HISTORY="}, "dial", "--certs-dir", dir, "--name", "bob", "--history", bobDB, addr)
	l.waitLine("connected to bob")
	d.send("hello alice", "你好，世界")
	l.waitOut("bob: 你好，世界")
	l.send("hi bob \x1b[2J")
	d.waitOut("alice: hi bob")
	d.stdin.Close()
	if code := d.wait(); code != 0 {
		t.Fatalf("dialer exited %d", code)
	}
	if code := l.wait(); code != 0 {
		t.Fatalf("listener exited %d", code)
	}

	got := runHistory(t, aliceDB, "--peer", "bob")
	want := []string{"bob: hello alice", "bob: 你好，世界", `alice: hi bob \x1b[2J`}
	if len(got) != len(want) {
		t.Fatalf("history --peer bob:\n%s", strings.Join(got, "\n"))
	}
	for i, line := range got {
		if !historyLineRE.MatchString(line) || !strings.HasSuffix(line, "] "+want[i]) {
			t.Errorf("line %d: %q, want [YYYY-MM-DD HH:MM:SS] %s", i, line, want[i])
		}
	}
	if got := runHistory(t, aliceDB, "--peer", "carol"); len(got) != 1 || got[0] != "" {
		t.Errorf("history --peer carol: %q", got)
	}
	if got := runHistory(t, aliceDB, "--grep", "世界", "--since", "1h"); len(got) != 1 || !strings.HasSuffix(got[0], "bob: 你好，世界") {
		t.Errorf("history --grep: %q", got)
	}

	// On bob's side, his own two lines were acknowledged.
	for i, line := range runHistory(t, bobDB, "--json") {
		var r jsonRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", i, err, line)
		}
		if r.Peer != "alice" || len(r.Fingerprint) < 23 {
			t.Errorf("line %d: %+v", i, r)
		}
		if r.Direction == "out" && !r.Delivered {
			t.Errorf("line %d: own message not marked delivered: %+v", i, r)
		}
	}
}

func TestHistoryOfNothingCreatesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none", "history.db")
	out, errOut, code := runPeerchat(t, "", "history", "--history", path)
	if code != 0 || out != "" || !strings.Contains(errOut, "no history yet at "+path) {
		t.Errorf("history of a missing file: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Dir(path)); !os.IsNotExist(err) {
		t.Errorf("reading the history created %s", filepath.Dir(path))
	}
}

func TestNoHistoryLeavesNoFile(t *testing.T) {
	dir := certsDir(t)
	data := t.TempDir()
	env := []string{"PEERCHAT_NO_HISTORY=", "XDG_DATA_HOME=" + data}
	l := startEnv(t, env, "listen", "--addr", "127.0.0.1:0", "--certs-dir", dir, "--name", "alice", "--no-history")
	addr := l.waitLine(`listening on (\S+) as`)[1]
	out, errOut, code := runPeerchatEnv(t, append(env, "PEERCHAT_NO_HISTORY=1"), "hello\n", "dial", "--certs-dir", dir, "--name", "bob", addr)
	if code != 0 {
		t.Fatalf("dialer exited %d: %s%s", code, out, errOut)
	}
	l.waitOut("bob: hello")
	l.wait()
	if _, err := os.Stat(filepath.Join(data, "peerchat")); !os.IsNotExist(err) {
		t.Errorf("--no-history left %s/peerchat: %v", data, err)
	}
}

func TestAnUnusableHistoryDoesNotStopTheChat(t *testing.T) {
	dir := certsDir(t)
	bad := filepath.Join(t.TempDir(), "history.db")
	if err := os.WriteFile(bad, []byte(strings.Repeat("garbage ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	l := startEnv(t, []string{"PEERCHAT_NO_HISTORY=", "PEERCHAT_HISTORY=" + bad},
		"listen", "--addr", "127.0.0.1:0", "--certs-dir", dir, "--name", "alice")
	addr := l.waitLine(`listening on (\S+) as`)[1]
	out, errOut, code := runPeerchat(t, "hello\n", "dial", "--certs-dir", dir, "--name", "bob", addr)
	if code != 0 {
		t.Fatalf("dialer exited %d: %s%s", code, out, errOut)
	}
	l.waitLine(`^peerchat: history off: history database .* is not a database .*; chat goes on without history; --no-history to silence this$`)
	l.waitOut("bob: hello")
	if code := l.wait(); code != 0 {
		t.Fatalf("listener exited %d", code)
	}
}

func TestALockedHistoryDoesNotStopTheChat(t *testing.T) {
	dir := certsDir(t)
	path := filepath.Join(t.TempDir(), "history.db")
	st, err := history.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	lockHistory(t, path)

	l := startEnv(t, []string{"PEERCHAT_NO_HISTORY=", "PEERCHAT_HISTORY=" + path},
		"listen", "--addr", "127.0.0.1:0", "--certs-dir", dir, "--name", "alice")
	addr := l.waitLine(`listening on (\S+) as`)[1]
	out, errOut, code := runPeerchat(t, "hello\n", "dial", "--certs-dir", dir, "--name", "bob", addr)
	if code != 0 {
		t.Fatalf("dialer exited %d: %s%s", code, out, errOut)
	}
	l.waitLine(`^peerchat: history off: history database .* is locked by another peerchat: .*; chat goes on without history; --no-history to silence this$`)
	l.waitOut("bob: hello")
	if code := l.wait(); code != 0 {
		t.Fatalf("listener exited %d", code)
	}
}

var historyLineRE = regexp.MustCompile(`^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] `)

// burst has bob send n numbered lines to alice, who records them in
// aliceDB (or nothing if ""), and returns how long alice took to print
// them all.
func burst(t *testing.T, n int, aliceDB string) time.Duration {
	t.Helper()
	dir := certsDir(t)
	env := []string{"PEERCHAT_NO_HISTORY=", "PEERCHAT_HISTORY=" + aliceDB}
	if aliceDB == "" {
		env = []string{"PEERCHAT_NO_HISTORY=1"}
	}
	l := startEnv(t, env, "listen", "--addr", "127.0.0.1:0", "--certs-dir", dir, "--name", "alice")
	addr := l.waitLine(`listening on (\S+) as`)[1]
	d := start(t, "dial", "--certs-dir", dir, "--name", "bob", addr)
	l.waitLine("connected to bob")
	var in strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&in, "m%d\n", i)
	}
	t0 := time.Now()
	go func() { io.WriteString(d.stdin, in.String()); d.stdin.Close() }()
	l.waitOut(fmt.Sprintf(`bob: m%d$`, n))
	took := time.Since(t0)
	if code := d.wait(); code != 0 {
		t.Fatalf("dialer exited %d", code)
	}
	l.wait()
	return took
}

// TestHistoryKeepsUpWithABurst checks that a 10,000-line burst is stored
// whole and logs what recording costs. The binary is built with -race,
// which makes SQLite (translated C) many times slower (3s with history,
// 0.35s without); without -race: 0.23s and 0.07s.
func TestHistoryKeepsUpWithABurst(t *testing.T) {
	const n = 10000
	db := filepath.Join(t.TempDir(), "alice.db")
	on := burst(t, n, db)
	off := burst(t, n, "")
	t.Logf("%d messages: %s with history, %s without", n, on, off)
	got := runHistory(t, db)
	if len(got) != n || !strings.HasSuffix(got[n-1], fmt.Sprintf("bob: m%d", n)) {
		t.Fatalf("history holds %d lines, want %d; last %q", len(got), n, got[len(got)-1])
	}
}

// TestHistoryLosesNothingShownOnKill9: alice is killed in the middle of
// a burst; every line she had printed is in her history.
func TestHistoryLosesNothingShownOnKill9(t *testing.T) {
	dir := certsDir(t)
	db := filepath.Join(t.TempDir(), "alice.db")
	l := startEnv(t, []string{"PEERCHAT_NO_HISTORY=", "PEERCHAT_HISTORY=" + db},
		"listen", "--addr", "127.0.0.1:0", "--certs-dir", dir, "--name", "alice")
	addr := l.waitLine(`listening on (\S+) as`)[1]
	d := start(t, "dial", "--certs-dir", dir, "--name", "bob", "--no-reconnect", addr)
	l.waitLine("connected to bob")
	var in strings.Builder
	for i := 1; i <= 20000; i++ {
		fmt.Fprintf(&in, "m%d\n", i)
	}
	go io.WriteString(d.stdin, in.String())
	l.waitOut(`bob: m1000$`)
	l.cmd.Process.Kill() // SIGKILL
	l.wait()
	shown := transcript(t, l.out())
	if len(shown) >= 20000 {
		t.Fatalf("alice printed the whole burst before the kill")
	}
	stored := runHistory(t, db)
	have := map[string]bool{}
	for _, line := range stored {
		_, text, _ := strings.Cut(line, "] ")
		have[text] = true
	}
	for _, line := range shown {
		if !have[line] {
			t.Fatalf("%q was shown but is not in the history (%d shown, %d stored)", line, len(shown), len(stored))
		}
	}
	t.Logf("killed after %d lines shown; %d stored", len(shown), len(stored))
}

// TestHistoryAcrossARestart: alice's process dies and a new one takes
// over; her ids start again from 1, and bob's history keeps both her
// first and her second "id 1"; what bob queued meanwhile is resent and
// stored once, delivered.
func TestHistoryAcrossARestart(t *testing.T) {
	dir := certsDir(t)
	db := filepath.Join(t.TempDir(), "bob.db")
	l1, addr := listen(t, "--certs-dir", dir, "--name", "alice")
	d := startEnv(t, []string{"PEERCHAT_NO_HISTORY=", "PEERCHAT_HISTORY=" + db},
		"dial", "--certs-dir", dir, "--name", "bob", "--heartbeat", "100ms", addr)
	d.waitLine("connected to alice")
	l1.waitLine("connected to bob")
	l1.send("before the crash")
	d.waitOut(`alice: before the crash$`)
	l1.cmd.Process.Kill()
	l1.wait()
	d.waitLine(`^peerchat: lost the connection to alice`)
	d.send("typed while alice was down")

	l2 := start(t, "listen", "--certs-dir", dir, "--name", "alice", "--addr", addr)
	l2.waitLine("connected to bob")
	d.waitLine(`\(alice had restarted\)`)
	l2.waitOut(`bob: typed while alice was down$`)
	l2.send("after the crash")
	d.waitOut(`alice: after the crash$`)
	d.stdin.Close()
	if code := d.wait(); code != 0 {
		t.Fatalf("dialer exited %d", code)
	}

	var got []string
	for _, line := range runHistory(t, db, "--json") {
		var r jsonRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %d %s %v", r.Direction, r.ID, r.Text, r.Delivered))
	}
	want := []string{"in 1 before the crash false", "out 1 typed while alice was down true", "in 1 after the crash false"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("bob's history:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// lockHistory holds an exclusive transaction on the database at path, as
// another peerchat writing to it would, until the test ends.
func lockHistory(t *testing.T, path string) {
	t.Helper()
	other, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := other.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(t.Context(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.ExecContext(context.Background(), "ROLLBACK")
		conn.Close()
		other.Close()
	})
}
