package main

import (
	"syscall"
	"testing"
)

func TestPipeModeReportsUndeliveredAndExits5(t *testing.T) {
	dir := certsDir(t)
	l, addr := listen(t, "--certs-dir", dir, "--name", "alice")
	d := start(t, "dial", "--certs-dir", dir, "--name", "bob", "--linger", "300ms", addr)
	l.waitLine("connected to bob")
	d.waitLine("connected to alice")
	// Freeze alice: her kernel still accepts bytes, but nothing is read or
	// acknowledged.
	l.stop()
	defer l.cmd.Process.Signal(syscall.SIGCONT)
	d.send("are you there?")
	d.stdin.Close()
	if code := d.wait(); code != exitUndelivered {
		t.Fatalf("dialer exited %d, want %d", code, exitUndelivered)
	}
	d.waitLine(`^peerchat: not delivered to alice: \[\d\d:\d\d:\d\d\] are you there\?$`)
	d.waitLine(`^peerchat: 1 message\(s\) not delivered to alice$`)
}
