package main

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A size in the final lines: "300.0 KiB in 12ms at 24.4 MiB/s".
const summaryRE = `[0-9.]+ (bytes|[KMGTP]iB) in [0-9.]+(ns|µs|ms|s|m[0-9.]+s|h[0-9hms.]+) at [0-9.]+ (bytes|[KMGTP]iB)/s`

// writeRandom writes n random bytes to dir/name and returns the path and
// the bytes.
func writeRandom(t *testing.T, dir, name string, n int) (string, []byte) {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, b
}

// TestPipeReceiverReportsEachFile: a listener in pipe mode with
// --accept-files says when a file starts to arrive and, once verified,
// its size, the time it took, the rate and where it was saved; on stderr,
// so that stdout stays the transcript.
func TestPipeReceiverReportsEachFile(t *testing.T) {
	dir := certsDir(t)
	down := t.TempDir()
	l, addr := listen(t, "--certs-dir", dir, "--name", "alice", "--accept-files", "--download-dir", down)
	p, _ := writeRandom(t, t.TempDir(), "a.bin", 300<<10)
	_, stderr, code := runPeerchat(t, "", "send", "--certs-dir", dir, "--name", "bob", addr, p)
	if code != 0 {
		t.Fatalf("send exited %d:\n%s", code, stderr)
	}
	if !regexp.MustCompile(`(?m)^peerchat: sent a\.bin to alice: ` + summaryRE + `, verified$`).MatchString(stderr) {
		t.Errorf("send's final line lacks the summary:\n%s", stderr)
	}
	l.waitLine(`^peerchat: receiving a\.bin \(300\.0 KiB\) from bob$`)
	l.waitLine(`^peerchat: received a\.bin from bob: ` + summaryRE + `, verified, saved as ` + regexp.QuoteMeta(filepath.Join(down, "a.bin")) + `$`)
	if code := l.wait(); code != 0 {
		t.Fatalf("listener exited %d", code)
	}
	if out := l.out(); out != "" {
		t.Errorf("file notices reached stdout, the transcript: %q", out)
	}
}

// TestSendResumesFromPart: a receiver that holds the start of a file in
// NAME.part (an earlier attempt, cut off) gets only the rest; both sides
// say where it resumed, and the file arrives whole.
func TestSendResumesFromPart(t *testing.T) {
	dir := certsDir(t)
	down := t.TempDir()
	p, b := writeRandom(t, t.TempDir(), "r.bin", 1_000_000)
	if err := os.WriteFile(filepath.Join(down, "r.bin.part"), b[:630_000], 0o644); err != nil {
		t.Fatal(err)
	}
	l, addr := listen(t, "--certs-dir", dir, "--name", "alice", "--accept-files", "--download-dir", down)
	_, stderr, code := runPeerchat(t, "", "send", "--certs-dir", dir, "--name", "bob", addr, p)
	if code != 0 {
		t.Fatalf("send exited %d:\n%s", code, stderr)
	}
	for _, want := range []string{
		`(?m)^peerchat: resuming r\.bin at 63%$`,
		`(?m)^peerchat: sent r\.bin to alice: 976\.6 KiB in .*, 615\.2 KiB of it resumed, verified$`,
	} {
		if !regexp.MustCompile(want).MatchString(stderr) {
			t.Errorf("send's stderr lacks %s:\n%s", want, stderr)
		}
	}
	l.waitLine(`^peerchat: receiving r\.bin \(976\.6 KiB\) from bob, resuming at 63%$`)
	l.waitLine(`^peerchat: received r\.bin from bob: 976\.6 KiB in .*, 615\.2 KiB of it resumed, verified, saved as `)
	got, err := os.ReadFile(filepath.Join(down, "r.bin"))
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("r.bin differs on the receiver's side (err %v)", err)
	}
	if _, err := os.Stat(filepath.Join(down, "r.bin.part")); !os.IsNotExist(err) {
		t.Errorf("r.bin.part is still there: %v", err)
	}
	if n := strings.Count(l.stderr(), "resuming"); n != 1 {
		t.Errorf("the receiver announced the resumption %d times:\n%s", n, l.stderr())
	}
}
