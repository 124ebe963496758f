//go:build unix

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
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
	if !strings.Contains(progress, "\rpeerchat: sending big.bin: all 32.0 MiB sent, alice is verifying it\x1b[K") {
		t.Errorf("the last redraw does not say that the receiver is verifying: %q", progress[max(0, len(progress)-200):])
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

// TestSendToAFullDisk: a receiver that cannot write (here, a file size
// limit in the place of a full disk) stops the transfer; both sides say
// so in one line, the sender exits with the not-delivered status, and
// once there is room the same send resumes from what arrived.
func TestSendToAFullDisk(t *testing.T) {
	dir := certsDir(t)
	down := t.TempDir()
	args := []string{"listen", "--addr", "127.0.0.1:0", "--certs-dir", dir, "--name", "alice", "--accept-files", "--download-dir", down}
	// ulimit -f counts 512-byte blocks: 256 KiB. Go ignores SIGXFSZ, so
	// the write fails (EFBIG) as it would with ENOSPC.
	limited := exec.Command("sh", append([]string{"-c", `ulimit -f 512 && exec "$0" "$@"`, peerchatBin}, args...)...)
	limited.Env = append(os.Environ(), "NO_COLOR=1")
	l := startCmd(t, limited, args)
	addr := l.waitLine(`listening on (\S+) as`)[1]

	p, b := writeRandom(t, t.TempDir(), "x.bin", 1<<20)
	_, stderr, code := runPeerchat(t, "", "send", "--certs-dir", dir, "--name", "bob", addr, p)
	if code != exitUndelivered {
		t.Fatalf("send exited %d, want %d:\n%s", code, exitUndelivered, stderr)
	}
	part := partialOf(t, dir, "bob", down, "x.bin", 1<<20)
	want := `(?m)^peerchat: x\.bin was not delivered: alice stopped it: cannot write x\.bin in the download directory \(file too large\); alice keeps what arrived, and sending it again resumes from there$`
	if !regexp.MustCompile(want).MatchString(stderr) {
		t.Errorf("send's stderr lacks %s:\n%s", want, stderr)
	}
	l.waitLine(`^peerchat: did not receive x\.bin from bob: cannot write x\.bin in the download directory \(file too large\); what arrived is kept as a partial file in the download directory, and the transfer resumes there if bob sends it again$`)
	if fi, err := os.Stat(part); err != nil || fi.Size() != 256<<10 {
		t.Fatalf("the .part should hold the 256 KiB that fitted: %v, %v", fi, err)
	}
	if code := l.wait(); code != 0 {
		t.Fatalf("listener exited %d", code)
	}

	// Room again: a new listener resumes at 25%.
	l2, addr := listen(t, "--certs-dir", dir, "--name", "alice", "--accept-files", "--download-dir", down)
	_, stderr, code = runPeerchat(t, "", "send", "--certs-dir", dir, "--name", "bob", addr, p)
	if code != 0 {
		t.Fatalf("the second send exited %d:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "peerchat: resuming x.bin at 25%\n") {
		t.Errorf("the second send did not resume:\n%s", stderr)
	}
	l2.waitLine(`^peerchat: receiving x\.bin \(1\.0 MiB\) from bob, resuming at 25%$`)
	l2.waitLine(`^peerchat: received x\.bin from bob: 1\.0 MiB in .*, 256\.0 KiB of it resumed, verified, saved as `)
	if got, err := os.ReadFile(filepath.Join(down, "x.bin")); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("x.bin differs on the receiver's side (err %v)", err)
	}
}
