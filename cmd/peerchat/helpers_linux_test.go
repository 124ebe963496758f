package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// stop freezes the process with SIGSTOP and waits until the kernel reports
// it stopped, so that what the test does next meets a frozen peer.
func (p *proc) stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		p.t.Fatal(err)
	}
	stat := fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid)
	deadline := time.Now().Add(procTimeout)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(stat)
		if err != nil {
			p.t.Fatal(err)
		}
		// The state follows the parenthesised command name.
		if f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])); len(f) > 0 && f[0] == "T" {
			return
		}
		runtime.Gosched()
	}
	p.t.Fatal("the process did not stop")
}
