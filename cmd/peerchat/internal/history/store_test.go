package history

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// openStore opens a store at path that the test closes when it ends.
func openStore(t testing.TB, path string) *Store {
	t.Helper()
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// fromAndText is recs as "FROM: TEXT" lines.
func fromAndText(recs []Record) string {
	lines := make([]string, len(recs))
	for i, r := range recs {
		lines[i] = r.From + ": " + r.Text
	}
	return strings.Join(lines, "\n")
}

func TestStoreRecordsSearchesAndDedups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "history.db")
	st := openStore(t, path)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// The senders' clocks are a day and more behind ours: the order and
	// Since go by ours.
	const behind = 30 * time.Hour
	add := func(conv string, dir Direction, id uint64, peer, from, text string, at time.Time) {
		t.Helper()
		if err := st.Add(Record{Conv: conv, Direction: dir, ID: id, Peer: peer, Fingerprint: "FP:" + peer,
			From: from, Time: at.Add(-behind), Received: at, Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	add("c1", Out, 1, "bob", "alice", "hello bob", t0)
	add("c1.0", In, 1, "bob", "bob", "hi alice, 你好世界", t0.Add(time.Second))
	add("c1", Out, 2, "bob", "alice", "still pending", t0.Add(2*time.Second))
	// A reconnect resends what was not acknowledged: same key, stored once.
	add("c1.0", In, 1, "bob", "bob", "hi alice, 你好世界", t0.Add(time.Second))
	// The peer restarted: its ids start again, in a new key.
	add("c1.1", In, 1, "bob", "bob", "back again", t0.Add(3*time.Second))
	add("c2", Out, 1, "carol", "alice", "hello carol", t0.Add(48*time.Hour))
	if err := st.Write(nil, "c1", 1); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name string
		q    Query
		want string
	}{
		{"all", Query{}, "alice: hello bob\nbob: hi alice, 你好世界\nalice: still pending\nbob: back again\nalice: hello carol"},
		{"peer", Query{Peer: "carol"}, "alice: hello carol"},
		{"since", Query{Since: t0.Add(24 * time.Hour)}, "alice: hello carol"},
		{"grep", Query{Grep: "HELLO"}, "alice: hello bob\nalice: hello carol"},
		{"grep chinese", Query{Grep: "你好世"}, "bob: hi alice, 你好世界"},
		{"grep short chinese", Query{Grep: "世界"}, "bob: hi alice, 你好世界"},
		{"grep quote", Query{Grep: `a"b`}, ""},
		{"grep percent", Query{Grep: "%"}, ""},
		{"last", Query{Peer: "bob", Last: 2}, "alice: still pending\nbob: back again"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.Find(tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if fromAndText(got) != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", fromAndText(got), tt.want)
			}
		})
	}

	all, _ := st.Find(Query{Peer: "bob"})
	if !all[0].Delivered || all[2].Delivered {
		t.Errorf("delivery states: %+v", all)
	}
	if all[1].Fingerprint != "FP:bob" || all[1].Direction != In ||
		!all[1].Time.Equal(t0.Add(time.Second-behind)) || !all[1].Received.Equal(t0.Add(time.Second)) {
		t.Errorf("received record: %+v", all[1])
	}

	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}

	// Reopening finds the schema current and the messages there.
	st.Close()
	if got, _ := openStore(t, path).Find(Query{}); len(got) != 5 {
		t.Errorf("after reopening: %d messages, want 5", len(got))
	}
}

// TestOpenReportsALockedDatabase: another peerchat is in the middle of
// writing to the database, and keeps at it past the busy timeout.
func TestOpenReportsALockedDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.db")
	tx, err := openStore(t, path).db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	wantOpenError(t, path, "history database "+path+" is locked by another peerchat: ")
}

func TestOpenReportsACorruptDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("this is not sqlite\n", 500)), 0o600); err != nil {
		t.Fatal(err)
	}
	wantOpenError(t, path, "history database "+path+" is not a database (corrupt?): ")
}

// wantOpenError wants Open to refuse path, saying want.
func wantOpenError(t *testing.T, path, want string) {
	t.Helper()
	st, err := Open(path)
	if err == nil {
		st.Close()
		t.Fatalf("opened %s", path)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error: %v\nwant: %s…", err, want)
	}
}

// TestDefaultPath: the data directory the environment names, else the
// platform's convention under the home directory.
func TestDefaultPath(t *testing.T) {
	data, home := t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_DATA_HOME", data)
	if got, err := DefaultPath(); err != nil || got != filepath.Join(data, "peerchat", "history.db") {
		t.Errorf("with XDG_DATA_HOME: %q, %v", got, err)
	}
	if runtime.GOOS != "linux" {
		return // the fallback is the platform's own
	}
	t.Setenv("XDG_DATA_HOME", "")
	if got, err := DefaultPath(); err != nil || got != filepath.Join(home, ".local", "share", "peerchat", "history.db") {
		t.Errorf("without XDG_DATA_HOME: %q, %v", got, err)
	}
}

func BenchmarkAdd(b *testing.B) {
	st := openStore(b, filepath.Join(b.TempDir(), "history.db"))
	now := time.Now()
	for i := range b.N {
		if err := st.Add(Record{Conv: "c", Direction: In, ID: uint64(i + 1), Peer: "bob", Fingerprint: "FP",
			From: "bob", Time: now, Received: now, Text: "a message of ordinary length, with 你好 in it"}); err != nil {
			b.Fatal(err)
		}
	}
}
