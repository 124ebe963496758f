package main

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"peerchat/peer/peertest"
)

// certsDir makes a CA with alice and bob, as `make certs` would.
func certsDir(t *testing.T) string {
	t.Helper()
	pki := peertest.NewPKI(t)
	pki.Issue(t, peertest.Leaf{Name: "alice"})
	pki.Issue(t, peertest.Leaf{Name: "bob"})
	return pki.Dir
}

var transcriptLine = regexp.MustCompile(`^\[\d\d:\d\d:\d\d\] (\w+): (.*)$`)

// transcript parses stdout into "name: text" lines, checking the format.
func transcript(t *testing.T, out string) []string {
	t.Helper()
	var got []string
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		m := transcriptLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("transcript line %q is not [HH:MM:SS] NAME: TEXT", line)
		}
		got = append(got, m[1]+": "+m[2])
	}
	return got
}

func TestPipeModeChatsBothWays(t *testing.T) {
	dir := certsDir(t)
	l, addr := listen(t, "--certs-dir", dir, "--name", "alice")
	d := start(t, "dial", "--certs-dir", dir, "--name", "bob", addr)

	safety := d.waitLine(`^peerchat: connected to alice \(fingerprint [0-9A-F:]{23}\) at 127\.0\.0\.1:\d+, safety code (\d{5} \d{5} \d{5} \d{5})$`)[1]
	if other := l.waitLine(`^peerchat: connected to bob \(fingerprint [0-9A-F:]{23}\) at 127\.0\.0\.1:\d+, safety code (\d{5} \d{5} \d{5} \d{5})$`)[1]; other != safety {
		t.Errorf("bob shows safety code %s, alice %s", safety, other)
	}

	d.send("hello alice", "你好，世界 🙂", "")
	l.send("hi bob — 日本語もOK")
	// Bob ends his input once alice's line has reached him: ended before,
	// his goodbye may cross her message, which she then rightly reports
	// as not delivered (exit 5).
	for deadline := time.Now().Add(procTimeout); !strings.Contains(d.out(), "alice: hi bob"); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("alice's line did not reach bob within %s", procTimeout)
		}
	}
	// Bob ends his input: peerchat delivers, says goodbye, exits 0; alice
	// learns that bob left and exits 0 too.
	d.stdin.Close()
	if code := d.wait(); code != 0 {
		t.Fatalf("dialer exited %d", code)
	}
	l.waitLine(`^peerchat: bob left the chat$`)
	if code := l.wait(); code != 0 {
		t.Fatalf("listener exited %d", code)
	}
	if got, want := transcript(t, l.out()), []string{"bob: hello alice", "bob: 你好，世界 🙂"}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("alice's transcript:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := transcript(t, d.out()); len(got) != 1 || got[0] != "alice: hi bob — 日本語もOK" {
		t.Errorf("bob's transcript: %q", got)
	}
}

func TestPipeModeShowsHostileTextAsEscapes(t *testing.T) {
	dir := certsDir(t)
	l, addr := listen(t, "--certs-dir", dir, "--name", "alice")
	hostile := "clear\x1b[2J title\x1b]0;pwned\x07 cr\rover rtl\u202eevil c1\u009b31m end"
	_, _, code := runPeerchat(t, hostile+"\n", "dial", "--certs-dir", dir, "--name", "bob", addr)
	if code != 0 {
		t.Fatalf("dialer exited %d", code)
	}
	l.wait()
	out := l.out()
	want := `bob: clear\x1b[2J title\x1b]0;pwned\x07 cr\x0dover rtl\u202eevil c1\u009b31m end`
	if got := transcript(t, out); len(got) != 1 || got[0] != want {
		t.Fatalf("transcript %q, want %q", got, want)
	}
	if strings.ContainsAny(out, "\x1b\x07\r\u202e\u009b") {
		t.Fatalf("raw control characters reached stdout: %q", out)
	}
}

func TestLongLinesAreSplitNotLost(t *testing.T) {
	dir := certsDir(t)
	l, addr := listen(t, "--certs-dir", dir, "--name", "alice")
	long := strings.Repeat("字", 30000) // 90,000 bytes: two messages
	_, stderr, code := runPeerchat(t, long+"\n", "dial", "--certs-dir", dir, "--name", "bob", addr)
	if code != 0 {
		t.Fatalf("dialer exited %d: %s", code, stderr)
	}
	l.wait()
	got := transcript(t, l.out())
	if len(got) != 2 || strings.TrimPrefix(got[0], "bob: ")+strings.TrimPrefix(got[1], "bob: ") != long {
		t.Fatalf("got %d lines, want the line split in two and rejoinable", len(got))
	}
}

// TestErrorsAreOneActionableLineWithDistinctExitCodes: the failures that
// take a peer. Those found before any connection (flags, arguments, which
// identity) are in testdata/script/usage.txtar and identity.txtar.
func TestErrorsAreOneActionableLineWithDistinctExitCodes(t *testing.T) {
	dir := certsDir(t)
	other := peertest.NewPKI(t)
	other.Issue(t, peertest.Leaf{Name: "mallory"})
	l, addr := listen(t, "--certs-dir", dir, "--name", "alice")
	_ = l

	// A port with nothing listening on it.
	probe, closedAddr := listen(t, "--certs-dir", dir, "--name", "alice")
	probe.cmd.Process.Kill()
	probe.wait()

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"certificate from another CA", []string{"dial", "--certs-dir", other.Dir, "--name", "mallory", addr}, exitTrust,
			`the listener at 127.0.0.1:\d+ \(alice\) has a certificate not signed by our CA`},
		{"wrong --peer", []string{"dial", "--certs-dir", dir, "--name", "bob", "--peer", "carol", addr}, exitTrust,
			`the listener at 127.0.0.1:\d+ is alice, not carol: the peer name in its certificate is alice; if alice is who you meant to reach, pass --peer alice$`},
		{"nobody listening", []string{"dial", "--certs-dir", dir, "--name", "bob", closedAddr}, exitNetwork,
			"cannot reach .*: connection refused; is `peerchat listen` running there"},
		{"address in use", []string{"listen", "--certs-dir", dir, "--name", "alice", "--addr", addr}, exitNetwork,
			"cannot listen on .*: the address is in use"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runPeerchat(t, "", tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stderr: %s", code, tt.code, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout is for the transcript only, got %q", stdout)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			last := lines[len(lines)-1]
			if !regexp.MustCompile("^peerchat: " + tt.want).MatchString(last) {
				t.Errorf("last stderr line:\n  %s\nwant:\n  peerchat: %s", last, tt.want)
			}
		})
	}
}

func TestListenerReportsForeignClients(t *testing.T) {
	needTool(t, "openssl")
	dir := certsDir(t)
	l, addr := listen(t, "--certs-dir", dir, "--name", "alice")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"openssl s_client without a certificate", []string{"-CAfile", dir + "/ca.crt"}, "client presented no certificate"},
		{"openssl s_client -tls1_2", []string{"-tls1_2", "-cert", dir + "/bob.crt", "-key", dir + "/bob.key"}, "client offered only TLS 1.2 or older; peerchat requires TLS 1.3"},
		{"openssl s_client without ALPN", []string{"-cert", dir + "/bob.crt", "-key", dir + "/bob.key", "-CAfile", dir + "/ca.crt"}, `not a peerchat client (it did not ask for ALPN "peerchat/1")`},
	}
	for _, tt := range tests {
		cmd := exec.Command("openssl", append([]string{"s_client", "-connect", addr, "-quiet"}, tt.args...)...)
		cmd.Stdin = strings.NewReader("")
		out, _ := cmd.CombinedOutput()
		l.waitLine(`^peerchat: refused 127\.0\.0\.1:\d+: ` + regexp.QuoteMeta(tt.want) + "$")
		if strings.Contains(string(out), "peerchat") {
			t.Errorf("%s: the listener greeted a foreign client: %s", tt.name, out)
		}
	}
	// None of it disturbed the listener: a real peer still gets in.
	d := start(t, "dial", "--certs-dir", dir, "--name", "bob", addr)
	d.waitLine("connected to alice")
}
