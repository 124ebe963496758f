//go:build unix

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"peerchat/peer"
)

// TestSendShowsProgressOnATerminal: with stderr on a terminal, peerchat
// send redraws one progress line in place (percentage, bytes, rate, time
// left), erases it, and ends with the summary line.
func TestSendShowsProgressOnATerminal(t *testing.T) {
	dir := certsDir(t)
	down := t.TempDir()
	// The receiver runs in the test, to be slow on purpose: it stops
	// reading for a moment once it has accepted the file, so that the
	// sender's next progress report comes later than its first by more
	// than a redraw interval, with a rate to show. Nothing waits on that
	// pause; it only lets time pass.
	id, err := peer.LoadIdentity(peer.FilesFor(dir, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := peer.Listen("127.0.0.1:0", peer.Config{Identity: id, DownloadDir: down})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	received := make(chan error, 1)
	go func() { // ends when the sender leaves, or the listener closes
		s, err := l.Accept(context.Background())
		if err != nil {
			received <- err
			return
		}
		defer s.Close()
		paused := false
		for {
			ev, err := s.Next()
			if err != nil {
				received <- err
				return
			}
			if _, ok := ev.(peer.FileOffered); ok && !paused {
				paused = true
				time.Sleep(2 * redrawEvery)
			}
		}
	}()

	p, b := writeRandom(t, t.TempDir(), "big.bin", 32<<20)
	bob := startTTY(t, 24, 200, []string{"NO_COLOR=1"}, "send", "--certs-dir", dir, "--name", "bob", l.Addr().String(), p)
	if code := bob.wait(); code != 0 {
		t.Fatalf("send exited %d", code)
	}
	<-received
	if got, err := os.ReadFile(filepath.Join(down, "big.bin")); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("big.bin differs on the receiver's side (err %v)", err)
	}

	raw := string(bob.rawOutput())
	first := strings.Index(raw, "\rpeerchat: sending big.bin: ")
	last := strings.Index(raw, "peerchat: sent big.bin to alice: 32.0 MiB in ")
	if first < 0 || last < first {
		t.Fatalf("no progress line before the final line: %q", raw)
	}
	progress := raw[first:last]
	if strings.Contains(progress, "\n") {
		t.Errorf("progress was written as new lines, not redrawn in place: %q", progress)
	}
	if !strings.HasSuffix(progress, "\r\x1b[K") {
		t.Errorf("the progress line was not erased before the final line: %q", progress[max(0, len(progress)-200):])
	}
	draws := regexp.MustCompile(`\rpeerchat: sending big\.bin: (\d+)% \(([0-9.]+ (bytes|[KMG]iB)) of 32\.0 MiB\)( at [0-9.]+ (bytes|[KMG]iB)/s, \d+:\d\d left)?\x1b\[K`).FindAllStringSubmatch(progress, -1)
	withRate := 0
	for _, d := range draws {
		if d[4] != "" {
			withRate++
		}
	}
	if len(draws) < 2 || withRate == 0 {
		t.Errorf("want several redraws, one at least with a rate and the time left; got %d (%d with a rate): %q", len(draws), withRate, progress)
	}
	bob.waitRow(`^peerchat: sent big\.bin to alice: 32\.0 MiB in \S+ at [0-9.]+ (bytes|[KMG]iB)/s, verified$`)
	bob.mu.Lock()
	defer bob.mu.Unlock()
	for _, row := range bob.vt.lines() {
		if strings.Contains(row, "sending big.bin") {
			t.Errorf("a progress line was left on the screen: %q", row)
		}
	}
}
