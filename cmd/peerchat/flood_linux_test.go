package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"peerchat/peer"
	"peerchat/peer/peertest"
)

// A peer with a valid certificate that floods a pipe-mode listener with
// file offers (peertest.Hostile), against the real binary. Memory is
// measured on a binary built without the race detector, which would
// multiply it: the process's peak resident size (VmHWM) is what a user
// would see.

var (
	plainBinOnce sync.Once
	plainBin     string
	plainBinErr  error
)

// plainPeerchat builds peerchat without -race, once.
func plainPeerchat(t *testing.T) string {
	t.Helper()
	plainBinOnce.Do(func() {
		plainBin = filepath.Join(filepath.Dir(peerchatBin), "peerchat-plain")
		out, err := exec.Command("go", "build", "-o", plainBin, ".").CombinedOutput()
		if err != nil {
			plainBinErr = fmt.Errorf("building peerchat without -race: %v\n%s", err, out)
		}
	})
	if plainBinErr != nil {
		t.Fatal(plainBinErr)
	}
	return plainBin
}

// procStatus reads a field in kB from /proc/PID/status.
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// procFDs counts the descriptors process pid has open.
func procFDs(t *testing.T, pid int) int {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// startPlainListener starts the plain binary as a pipe-mode listener.
func startPlainListener(t *testing.T, args ...string) (*proc, string) {
	t.Helper()
	args = append([]string{"listen", "--addr", "127.0.0.1:0"}, args...)
	cmd := exec.Command(plainPeerchat(t), args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	p := startCmd(t, cmd, args)
	return p, p.waitLine(`listening on (\S+) as`)[1]
}

// TestOfferFloodFromAPeerThatNeverReads: 300,000 offers from a peer that
// reads nothing. The listener stops reading once it owes too many
// refusals, ends the conversation with the cause named, prints a few
// lines and a summary rather than one per offer, and its peak resident
// size stays at most 32 MiB. The same flood from a peer that reads the
// refusals is answered whole, within the same bounds. Set
// PEERCHAT_FLOOD_REPORT=FILE to keep the figures.
func TestOfferFloodFromAPeerThatNeverReads(t *testing.T) {
	const offers = 300_000
	var report []string
	for _, reads := range []bool{false, true} {
		dir := certsDir(t)
		l, addr := startPlainListener(t, "--certs-dir", dir, "--name", "alice", "-k")
		pid := l.cmd.Process.Pid
		before := procStatus(t, pid, "VmRSS")
		bob, err := peer.LoadIdentity(peer.FilesFor(dir, "bob"))
		if err != nil {
			t.Fatal(err)
		}
		h := peertest.DialHostile(t, addr, bob)
		refused := make(chan int, 1)
		if reads {
			go func() {
				n := 0
				h.Conn.SetReadDeadline(time.Now().Add(2 * procTimeout))
				for n < offers {
					typ, _, err := h.ReadFrame()
					if err != nil {
						break
					}
					if typ == peertest.FrameReject {
						n++
					}
				}
				refused <- n
			}()
		}
		written := 0
		start := time.Now()
		for ; written < offers; written++ {
			if h.Offer(uint64(written+1), 1000, fmt.Sprintf("flood-%06d.bin", written)) != nil {
				break
			}
		}
		h.Flush()
		what := "never reads"
		if reads {
			what = "reads the refusals"
			if n := <-refused; n != offers {
				t.Errorf("the reading peer got %d refusals of %d offers", n, offers)
			}
			l.waitLine(`more file offer\(s\) from bob refused`)
		} else {
			l.waitLine(`too many replies owed`)
		}
		elapsed := time.Since(start)
		peak := procStatus(t, pid, "VmHWM")
		h.Close()
		lines := len(strings.Split(strings.TrimSpace(l.stderr()), "\n"))
		line := fmt.Sprintf("300,000-offer flood, peer %s, pipe-mode listener (no -race): %d offers written in %s; listener RSS %d KiB before, peak (VmHWM) %d KiB; %d stderr lines",
			what, written, elapsed.Round(time.Millisecond), before, peak, lines)
		t.Log(line)
		report = append(report, line)
		if peak > 32<<10 {
			t.Errorf("peer %s: the listener's peak resident size was %d KiB, over 32 MiB", what, peak)
		}
		if lines > 2*rejectBurst+10 {
			t.Errorf("peer %s: the listener printed %d lines for the flood:\n%s", what, lines, l.stderr())
		}
		if !strings.Contains(l.stderr(), "more file offer(s) from bob refused") {
			t.Errorf("peer %s: no summary of the refusals not shown:\n%s", what, l.stderr())
		}
	}
	if f := os.Getenv("PEERCHAT_FLOOD_REPORT"); f != "" {
		os.WriteFile(f, []byte(strings.Join(report, "\n")+"\n"), 0o644)
	}
}

// TestDistinctOffersHoldFewDescriptors: 3,000 offers of distinct names,
// each followed by a byte, to a listener with --accept-files and
// --max-file-size 1K: at most 8 are taken at once, so the listener's
// descriptors grow by 8 at most and at most 8 partial files are left.
func TestDistinctOffersHoldFewDescriptors(t *testing.T) {
	const offers = 3000
	dir, down := certsDir(t), t.TempDir()
	l, addr := startPlainListener(t, "--certs-dir", dir, "--name", "alice", "-k", "--accept-files", "--max-file-size", "1K", "--download-dir", down)
	pid := l.cmd.Process.Pid
	bob, err := peer.LoadIdentity(peer.FilesFor(dir, "bob"))
	if err != nil {
		t.Fatal(err)
	}
	h := peertest.DialHostile(t, addr, bob)
	defer h.Close()
	l.waitLine(`connected to bob`)
	base := procFDs(t, pid)
	go func() {
		for i := range offers {
			id := uint64(i + 1)
			h.Offer(id, 100, fmt.Sprintf("distinct-%04d.txt", i))
			h.IDFrame(peertest.FrameChunk, id, []byte{'x'})
		}
		h.Flush()
	}()
	h.Conn.SetReadDeadline(time.Now().Add(procTimeout))
	peak, accepted := 0, 0
	for n := 0; n < offers; {
		typ, _, err := h.ReadFrame()
		if err != nil {
			t.Fatalf("after %d answers: %v", n, err)
		}
		switch typ {
		case peertest.FrameAccept:
			accepted++
			n++
		case peertest.FrameReject:
			n++
		}
		if n%50 == 0 {
			peak = max(peak, procFDs(t, pid)-base)
		}
	}
	peak = max(peak, procFDs(t, pid)-base)
	left, _ := os.ReadDir(down)
	t.Logf("%d distinct offers with --accept-files (no -race): %d accepted, descriptors %d before, at most %d more; %d partial files left", offers, accepted, base, peak, len(left))
	if accepted > 8 || peak > 8 || len(left) > 8 {
		t.Errorf("%d accepted, %d more descriptors, %d files left; want at most 8 each", accepted, peak, len(left))
	}
}
