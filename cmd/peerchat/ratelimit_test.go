package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// uiLines returns the lines written to b, the ui's stderr, under its lock.
func uiLines(u *ui, b *bytes.Buffer) []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}

func TestRejectLogShowsABurstThenSumsUp(t *testing.T) {
	var stderr bytes.Buffer
	u := &ui{stdout: &bytes.Buffer{}, stderr: &stderr}
	r := newRejectLog(u, 3, 200*time.Millisecond)
	addr := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 4000}
	for i := range 50 {
		r.add(addr, fmt.Errorf("attempt %d\x1b[2J", i))
	}
	got := uiLines(u, &stderr)
	if len(got) != 3 || got[0] != `peerchat: refused 192.0.2.1:4000: attempt 0\x1b[2J` {
		t.Fatalf("first lines: %q", got)
	}
	// At the end of the window, one line for the rest.
	deadline := time.Now().Add(5 * time.Second)
	for len(uiLines(u, &stderr)) < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got = uiLines(u, &stderr)
	if len(got) != 4 || !regexp.MustCompile(`^peerchat: and 47 more connection\(s\) refused in the last [23]\d\dms \(at most 3 are shown per 200ms\)$`).MatchString(got[3]) {
		t.Fatalf("after the window: %q", got)
	}
	// A new window shows lines again; close sums up what it held back.
	for i := range 5 {
		r.add(addr, fmt.Errorf("again %d", i))
	}
	r.close()
	r.add(addr, errors.New("after close"))
	got = uiLines(u, &stderr)
	if len(got) != 8 || got[4] != "peerchat: refused 192.0.2.1:4000: again 0" || !strings.HasPrefix(got[7], "peerchat: and 2 more connection(s) refused in the last ") {
		t.Fatalf("second window: %q", got)
	}
}

// TestListenerLogIsRateLimited floods the real listener with failed
// handshakes and checks that its stderr stays short and says how many it
// did not show.
func TestListenerLogIsRateLimited(t *testing.T) {
	dir := certsDir(t)
	l, addr := listen(t, "--certs-dir", dir, "--name", "alice")
	const conns = 200
	for range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
		c.SetReadDeadline(time.Now().Add(procTimeout))
		c.Read(make([]byte, 1)) // until the listener closes it
		c.Close()
	}
	l.cmd.Process.Signal(syscall.SIGTERM)
	if code := l.wait(); code != 0 {
		t.Errorf("listener exited %d", code)
	}
	lines := strings.Split(l.stderr(), "\n")
	refused, summed := 0, 0
	sum := regexp.MustCompile(`^peerchat: and (\d+) more connection\(s\) refused in the last [\d.]+m?s \(at most 10 are shown per 10s\)$`)
	for _, line := range lines {
		if strings.HasPrefix(line, "peerchat: refused 127.0.0.1:") {
			refused++
			if !strings.Contains(line, ": not a TLS client") {
				t.Errorf("unexpected refusal: %s", line)
			}
		}
		if m := sum.FindStringSubmatch(line); m != nil {
			var n int
			fmt.Sscan(m[1], &n)
			summed += n
		}
	}
	if refused != rejectBurst || refused+summed != conns {
		t.Errorf("%d refusals shown and %d summed up, want %d shown of %d:\n%s", refused, summed, rejectBurst, conns, l.stderr())
	}
}
