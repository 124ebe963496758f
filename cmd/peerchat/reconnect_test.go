package main

import (
	"strings"
	"testing"
)

// TestDialerSurvivesAListenerRestart kills the listener's process (no
// goodbye, as a crash or kill -9), starts a new one on the same address,
// and checks that the dialer reconnects by itself and delivers what was
// typed while nobody listened.
func TestDialerSurvivesAListenerRestart(t *testing.T) {
	dir := certsDir(t)
	l1, addr := listen(t, "--certs-dir", dir, "--name", "alice")
	d := start(t, "dial", "--certs-dir", dir, "--name", "bob", "--heartbeat", "100ms", addr)
	d.waitLine("connected to alice")
	l1.waitLine("connected to bob")

	d.send("before the crash")
	l1.waitOut(`bob: before the crash`)
	l1.cmd.Process.Kill()
	l1.wait()
	d.waitLine(`^peerchat: lost the connection to alice: .*what you send meanwhile is queued$`)
	d.send("typed while alice was down")

	l2 := start(t, "listen", "--certs-dir", dir, "--name", "alice", "--addr", addr)
	l2.waitLine("connected to bob")
	d.waitLine(`^peerchat: reconnected to alice at 127\.0\.0\.1:\d+ \(alice had restarted\)`)
	l2.waitOut(`bob: typed while alice was down`)
	l2.send("welcome back")
	d.waitOut(`alice: welcome back`)

	d.stdin.Close()
	if code := d.wait(); code != 0 {
		t.Fatalf("dialer exited %d", code)
	}
	l2.waitLine(`^peerchat: bob left the chat$`)
	if code := l2.wait(); code != 0 {
		t.Fatalf("restarted listener exited %d", code)
	}
	if n := strings.Count(l2.out(), "typed while alice was down"); n != 1 {
		t.Errorf("the queued message arrived %d times, want once:\n%s", n, l2.out())
	}
}

// TestNoReconnectEndsTheChatWhenTheLinkBreaks: with --no-reconnect a
// broken connection ends the dialer with the network exit code.
func TestNoReconnectEndsTheChatWhenTheLinkBreaks(t *testing.T) {
	dir := certsDir(t)
	l, addr := listen(t, "--certs-dir", dir, "--name", "alice")
	d := start(t, "dial", "--certs-dir", dir, "--name", "bob", "--no-reconnect", addr)
	d.waitLine("connected to alice")
	l.cmd.Process.Kill()
	l.wait()
	if code := d.wait(); code != exitNetwork {
		t.Fatalf("dialer exited %d, want %d", code, exitNetwork)
	}
	// A killed process's socket ends with a FIN, or with a RST when data
	// the dialer sent (a heartbeat) was still unread in it: both are a
	// lost connection, said in their own words.
	d.waitLine(`^peerchat: connection lost(: alice closed the connection without saying goodbye| with alice: .*connection reset by peer)$`)
}

// TestKeepListeningWaitsForTheNextPeer: with -k the listener outlives a
// chat that ended with a goodbye.
func TestKeepListeningWaitsForTheNextPeer(t *testing.T) {
	dir := certsDir(t)
	l, addr := listen(t, "--certs-dir", dir, "--name", "alice", "-k")
	for _, text := range []string{"first visit", "second visit"} {
		_, stderr, code := runPeerchat(t, text+"\n", "dial", "--certs-dir", dir, "--name", "bob", addr)
		if code != 0 {
			t.Fatalf("dialer exited %d: %s", code, stderr)
		}
		l.waitOut("bob: " + text)
		l.waitLine(`^peerchat: waiting for the next peer on 127\.0\.0\.1:\d+$`)
	}
}
