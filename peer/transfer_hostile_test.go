package peer_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"peerchat/peer"
)

func idPayload(id uint64, rest ...[]byte) []byte {
	b := binary.BigEndian.AppendUint64(nil, id)
	for _, r := range rest {
		b = append(b, r...)
	}
	return b
}

func u64b(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// TestHostileOffers plays a sender that lies, with raw frames, against a
// receiver, and checks that every lie is refused or detected and that
// nothing is written outside the download directory.
func TestHostileOffers(t *testing.T) {
	_, alice, bob := alicePKI(t)
	root := t.TempDir()
	down := filepath.Join(root, "down")
	os.Mkdir(down, 0o755)
	ls, ds := connect(t, peer.Config{Identity: alice, DownloadDir: down}, peer.Config{Identity: bob})
	evs := receiverEvents(ls)
	go endOf(ds)
	data := []byte("hello")
	good := blake3.Sum256(data)

	const (
		offer, chunk, done = 8, 11, 12
	)
	type step struct {
		t byte
		p []byte
	}
	for i, tc := range []struct {
		name   string
		steps  func(id uint64) []step
		want   string // path of the received file, or "" for a failure
		reason string
	}{
		{"traversal", func(id uint64) []step {
			return []step{{offer, idPayload(id, u64b(5), []byte("../../etc/passwd"))}, {chunk, idPayload(id, data)}, {done, idPayload(id, good[:])}}
		}, "passwd", ""},
		{"absolute", func(id uint64) []step {
			return []step{{offer, idPayload(id, u64b(5), []byte("/abs/path"))}, {chunk, idPayload(id, data)}, {done, idPayload(id, good[:])}}
		}, "path", ""},
		{"control characters", func(id uint64) []step {
			return []step{{offer, idPayload(id, u64b(5), []byte("evil\x1b[2J.txt"))}, {chunk, idPayload(id, data)}}
		}, "", "control characters"},
		{"device name", func(id uint64) []step {
			return []step{{offer, idPayload(id, u64b(5), []byte("NUL"))}, {chunk, idPayload(id, data)}, {done, idPayload(id, good[:])}}
		}, "_NUL", ""},
		{"more than offered", func(id uint64) []step {
			return []step{{offer, idPayload(id, u64b(4), []byte("long.bin"))}, {chunk, idPayload(id, data)}}
		}, "", "sent more than the 4 bytes"},
		{"less than offered", func(id uint64) []step {
			return []step{{offer, idPayload(id, u64b(10), []byte("short.bin"))}, {chunk, idPayload(id, data)}, {done, idPayload(id, good[:])}}
		}, "", "damaged"},
		{"wrong digest", func(id uint64) []step {
			return []step{{offer, idPayload(id, u64b(5), []byte("hash.bin"))}, {chunk, idPayload(id, data)}, {done, idPayload(id, make([]byte, 32))}}
		}, "", "digest mismatch"},
	} {
		id := uint64(100 + i)
		for _, s := range tc.steps(id) {
			if err := peer.WriteFrame(ds, s.t, s.p); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
		}
		select {
		case ev := <-evs:
			switch ev := ev.(type) {
			case peer.FileReceived:
				if tc.want == "" || ev.Path != filepath.Join(down, tc.want) {
					t.Errorf("%s: received as %s", tc.name, ev.Path)
				}
			case peer.FileFailed:
				if tc.want != "" || !strings.Contains(ev.Err.Error(), tc.reason) {
					t.Errorf("%s: failed with %v", tc.name, ev.Err)
				}
			default:
				t.Errorf("%s: %T", tc.name, ev)
			}
		case <-time.After(testTimeout):
			t.Fatalf("%s: no verdict", tc.name)
		}
	}
	// Nothing but the download directory in root; no final file for the
	// failures.
	if entries, _ := os.ReadDir(root); len(entries) != 1 {
		t.Errorf("written outside the download dir: %v", entries)
	}
	for _, name := range []string{"long.bin", "short.bin", "hash.bin", "NUL"} { // NUL was saved as _NUL
		if _, err := os.Stat(filepath.Join(down, name)); err == nil {
			t.Errorf("%s was accepted", name)
		}
	}
	// The chat is still on.
	if _, err := ds.Send("still here"); err != nil {
		t.Fatal(err)
	}
	for ev := range evs {
		if m, ok := ev.(*peer.Message); ok && m.Text == "still here" {
			break
		}
	}
}
