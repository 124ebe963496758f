//go:build unix

package main

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A transfer survives either side's process dying in the middle of it
// (kill -9: no goodbye, nothing flushed by the program): the listener's
// NAME.part keeps what arrived, and the transfer continues from there
// instead of from the start (issue #9).

// restartFileSize is big enough that the rest of the file cannot hide in
// the socket buffers when a side is killed, so that the transfer really is
// cut in the middle.
const restartFileSize = 96 << 20

// transferTimeout bounds a whole transfer of restartFileSize bytes by two
// race-detector builds on a busy machine.
const transferTimeout = 3 * time.Minute

// bigRandomFile writes size random bytes to NAME in a new temporary
// directory and returns its path and SHA-256.
func bigRandomFile(t *testing.T, name string, size int64) (string, [sha256.Size]byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, [sha256.Size]byte(h.Sum(nil))
}

func fileSHA256(t *testing.T, path string) [sha256.Size]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return [sha256.Size]byte(h.Sum(nil))
}

// waitPartSize polls the size of part until it reaches at least n bytes,
// and fails if the transfer ended first (part renamed away) or the
// deadline passed.
func waitPartSize(t *testing.T, part string, n int64) int64 {
	t.Helper()
	deadline := time.Now().Add(transferTimeout)
	for {
		fi, err := os.Stat(part)
		if err == nil && fi.Size() >= n {
			return fi.Size()
		}
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not reach %d bytes within %s (stat: %v)", part, n, transferTimeout, err)
		}
		time.Sleep(2 * time.Millisecond) // a poll interval, not a synchronisation
	}
}

// partSize is the size of part, which must exist.
func partSize(t *testing.T, part string) int64 {
	t.Helper()
	fi, err := os.Stat(part)
	if err != nil {
		t.Fatalf("the .part is gone: %v", err)
	}
	return fi.Size()
}

// waitExit waits up to d for p to exit and returns its status: a transfer
// takes longer than procTimeout.
func (p *proc) waitExit(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.t.Fatalf("peerchat did not exit within %s; stderr:\n%s", d, p.stderr())
	}
	return p.code
}

// kill9 kills p as a crash would and waits for it to be gone.
func (p *proc) kill9() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatal(err)
	}
	p.wait()
}

// TestTransferSurvivesAListenerRestart: the listener is killed in the
// middle of a file and started again on the same address with the same
// download directory. The sender reconnects by itself, the new listener
// answers the repeated offer with the bytes its .part holds, the sender
// continues from there, and exits 0 once the file arrived intact.
func TestTransferSurvivesAListenerRestart(t *testing.T) {
	src, want := bigRandomFile(t, "big.bin", restartFileSize)
	down := t.TempDir()
	dir := certsDir(t)
	part := partialOf(t, dir, "bob", down, "big.bin", restartFileSize)
	listenArgs := []string{"--certs-dir", dir, "--name", "alice", "--accept-files", "--download-dir", down}
	l1, addr := listen(t, listenArgs...)
	s := start(t, "send", "--certs-dir", dir, "--name", "bob", addr, src)
	l1.waitLine(`^peerchat: receiving big\.bin \(96\.0 MiB\) from bob$`)

	// Freeze the sender once a good part has arrived, so that the file
	// cannot be finished before the listener dies, however fast this
	// machine is; then kill the listener.
	waitPartSize(t, part, restartFileSize/8)
	s.stop()
	l1.kill9()
	kept := partSize(t, part)
	if kept == 0 || kept >= restartFileSize {
		t.Fatalf("the killed listener left a %d-byte .part, want part of the %d bytes", kept, restartFileSize)
	}
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}

	l2 := start(t, append([]string{"listen", "--addr", addr}, listenArgs...)...)
	// The new listener resumes from what the .part held (in whole
	// percent), not from 0: the kept bytes are not sent again.
	l2.waitLine(`^peerchat: receiving big\.bin \(96\.0 MiB\) from bob, resuming at ` + fmt.Sprint(kept*100/restartFileSize) + `%$`)
	s.waitLine(`^peerchat: reconnected to alice at 127\.0\.0\.1:\d+ \(alice had restarted\)`)
	if code := s.waitExit(transferTimeout); code != 0 {
		t.Fatalf("send exited %d after the listener's restart", code)
	}
	s.waitLine(`^peerchat: resuming big\.bin at [1-9][0-9]?%$`)
	s.waitLine(`^peerchat: sent big\.bin to alice: 96\.0 MiB in .*, verified$`)
	l2.waitLine(`^peerchat: received big\.bin from bob: 96\.0 MiB in .*, [0-9.]+ MiB of it resumed, verified, saved as `)
	if got := fileSHA256(t, filepath.Join(down, "big.bin")); got != want {
		t.Fatal("big.bin differs from what was sent")
	}
}

// TestTransferSurvivesASenderRestart: peerchat send is killed in the
// middle of a file and run again with the same file. The listener, which
// waits for the sender to come back, answers the new offer with what its
// .part holds, and the second send finishes the file from there.
func TestTransferSurvivesASenderRestart(t *testing.T) {
	src, want := bigRandomFile(t, "big.bin", restartFileSize)
	down := t.TempDir()
	dir := certsDir(t)
	part := partialOf(t, dir, "bob", down, "big.bin", restartFileSize)
	l, addr := listen(t, "--certs-dir", dir, "--name", "alice", "--accept-files", "--download-dir", down)
	send := []string{"send", "--certs-dir", dir, "--name", "bob", addr, src}

	s1 := start(t, send...)
	waitPartSize(t, part, restartFileSize/8)
	s1.kill9()
	// The listener writes what reached it before it notices the loss.
	l.waitLine(`^peerchat: lost the connection to bob: `)
	kept := partSize(t, part)
	if kept == 0 || kept >= restartFileSize {
		t.Fatalf("the killed sender left a %d-byte .part, want part of the %d bytes", kept, restartFileSize)
	}

	s2 := start(t, send...)
	l.waitLine(`^peerchat: receiving big\.bin \(96\.0 MiB\) from bob, resuming at ` + fmt.Sprint(kept*100/restartFileSize) + `%$`)
	if code := s2.waitExit(transferTimeout); code != 0 {
		t.Fatalf("the second send exited %d", code)
	}
	s2.waitLine(`^peerchat: resuming big\.bin at [1-9][0-9]?%$`)
	s2.waitLine(`^peerchat: sent big\.bin to alice: 96\.0 MiB in .*, [0-9.]+ MiB of it resumed, verified$`)
	l.waitLine(`^peerchat: received big\.bin from bob: 96\.0 MiB in .*, [0-9.]+ MiB of it resumed, verified, saved as `)
	if got := fileSHA256(t, filepath.Join(down, "big.bin")); got != want {
		t.Fatal("big.bin differs from what was sent")
	}
}
