//go:build unix

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stop freezes the process with SIGSTOP and waits until the kernel reports
// it stopped, so that what the test does next meets a frozen peer.
func (p *proc) stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		p.t.Fatal(err)
	}
	deadline := time.Now().Add(procTimeout)
	for time.Now().Before(deadline) {
		if processState(p.t, p.cmd.Process.Pid) == "T" {
			return
		}
		runtime.Gosched()
	}
	p.t.Fatal("the process did not stop")
}

// processState is the kernel's one-letter state of process pid ("T" for
// stopped): from /proc where there is one, else from ps.
func processState(t *testing.T, pid int) string {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// The state follows the parenthesised command name.
		if f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])); len(f) > 0 {
			return f[0]
		}
		return ""
	}
	out, err := exec.Command("ps", "-o", "stat=", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		t.Fatalf("ps: %v", err)
	}
	state := strings.TrimSpace(string(out))
	if state == "" {
		return ""
	}
	return state[:1]
}
