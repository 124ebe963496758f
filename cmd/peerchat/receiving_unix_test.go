//go:build unix

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"peerchat/peer"
)

// pausingReader is a file that is slow once: reading from offset at on
// takes a moment, as a slow disk or network would.
type pausingReader struct {
	r     io.ReaderAt
	at    int64
	pause sync.Once
}

func (p *pausingReader) ReadAt(b []byte, off int64) (int, error) {
	if off >= p.at {
		p.pause.Do(func() { time.Sleep(3 * redrawEvery) })
	}
	return p.r.ReadAt(b, off)
}

// TestPipeReceiverShowsProgressOnATerminal: a receiver in pipe mode
// whose stderr is a terminal redraws a progress line in place, and erases
// it before the final line.
func TestPipeReceiverShowsProgressOnATerminal(t *testing.T) {
	dir := certsDir(t)
	down := t.TempDir()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 200})
	// stdin a pipe and stdout a file: pipe mode, with stderr on the terminal.
	cmd := exec.Command(peerchatBin, "listen", "--addr", "127.0.0.1:0", "--certs-dir", dir, "--name", "alice", "--accept-files", "--download-dir", down)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, tty
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close() // the child has its own
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	defer stdin.Close()

	var mu sync.Mutex
	var raw bytes.Buffer
	wake := make(chan struct{}, 1)
	readDone := make(chan struct{})
	go func() { // ends when the child has exited and the terminal is closed
		defer close(readDone)
		b := make([]byte, 4096)
		for {
			n, err := ptmx.Read(b)
			mu.Lock()
			raw.Write(b[:n])
			mu.Unlock()
			select {
			case wake <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	waitRaw := func(re string) []string {
		t.Helper()
		rx := regexp.MustCompile(re)
		deadline := time.After(procTimeout)
		for {
			mu.Lock()
			m := rx.FindStringSubmatch(raw.String())
			mu.Unlock()
			if m != nil {
				return m
			}
			select {
			case <-wake:
			case <-deadline:
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("no %q on the terminal within %s: %q", re, procTimeout, raw.String())
			}
		}
	}
	addr := waitRaw(`listening on (\S+) as`)[1]

	// bob sends from the test, with a file that is slow once past its
	// first quarter: the receiver's progress report after the pause has
	// a rate to show.
	id, err := peer.LoadIdentity(peer.FilesFor(dir, "bob"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := peer.Dial(context.Background(), addr, peer.Config{Identity: id})
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan struct{})
	go func() { // reads the answers to the offer; ends when s is closed
		defer close(events)
		for {
			if _, err := s.Next(); err != nil {
				return
			}
		}
	}()
	b := make([]byte, 4<<20)
	rand.Read(b)
	if err := s.SendReader(context.Background(), "slow.bin", &pausingReader{r: bytes.NewReader(b), at: 1 << 20}, int64(len(b)), nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	<-events
	waitRaw(`peerchat: bob left the chat`)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("listener: %v", err)
	}
	<-readDone

	out := raw.String()
	first := strings.Index(out, "\rpeerchat: receiving slow.bin: ")
	last := strings.Index(out, "peerchat: received slow.bin from bob: 4.0 MiB in ")
	if first < 0 || last < first {
		t.Fatalf("no progress line before the final line: %q", out)
	}
	progress := out[first:last]
	if strings.Contains(progress, "\n") || !strings.HasSuffix(progress, "\r\x1b[K") {
		t.Errorf("the progress line was not redrawn in place and erased: %q", progress)
	}
	if !regexp.MustCompile(`\rpeerchat: receiving slow\.bin: \d+% \([0-9.]+ (bytes|[KM]iB) of 4\.0 MiB\) at [0-9.]+ (bytes|[KMG]iB)/s, \d+:\d\d left\x1b\[K`).MatchString(progress) {
		t.Errorf("no progress line with a rate and the time left: %q", progress)
	}
	if got, err := os.ReadFile(filepath.Join(down, "slow.bin")); err != nil || !bytes.Equal(got, b) {
		t.Errorf("slow.bin differs on the receiver's side (err %v)", err)
	}
	if stdout.Len() != 0 {
		t.Errorf("file notices reached stdout: %q", stdout.String())
	}
}
