package main

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"peerchat/peer"
	"peerchat/peer/peertest"
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
	part := partialOf(t, dir, "bob", down, "r.bin", 1_000_000)
	if err := os.WriteFile(part, b[:630_000], 0o644); err != nil {
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
	if _, err := os.Stat(part); !os.IsNotExist(err) {
		t.Errorf("r.bin's partial file is still there: %v", err)
	}
	if n := strings.Count(l.stderr(), "resuming"); n != 1 {
		t.Errorf("the receiver announced the resumption %d times:\n%s", n, l.stderr())
	}
}

// TestReceivingWordsEachAttemptOnce follows the events of a transfer cut
// twice: the re-offer from where the last attempt stopped is silent, one
// from further on says so, and what was cut off for good is reported.
func TestReceivingWordsEachAttemptOnce(t *testing.T) {
	var stderr bytes.Buffer
	u := &ui{stdout: &bytes.Buffer{}, stderr: &stderr}
	r := newReceiving(u, "bob")
	t0 := time.Unix(1_800_000_000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	for _, step := range []struct {
		ev peer.Event
		at int
	}{
		{peer.FileOffered{ID: 1, Name: "r.pdf", Size: 1000, Offset: 0}, 0},
		{peer.FileProgress{ID: 1, Name: "r.pdf", Done: 500, Size: 1000}, 500},
		{peer.FileOffered{ID: 1, Name: "r.pdf", Size: 1000, Offset: 630}, 1000}, // reconnected
		{peer.FileOffered{ID: 1, Name: "r.pdf", Size: 1000, Offset: 630}, 1500}, // again, nothing moved
		{peer.FileReceived{ID: 1, Name: "r.pdf", Path: "/d/r.pdf", Size: 1000}, 2000},
		{peer.FileOffered{ID: 2, Name: "s.pdf", Size: 2000, Offset: 500}, 2000},
		{peer.FileFailed{ID: 3, Name: "big.iso", Err: &peer.FileTooLargeError{Name: "big.iso", Size: 9000, Limit: 5000}}, 2000},
		{peer.FileFailed{ID: 5, Name: "x.bin", Err: peer.ErrNoFiles}, 2000},
		{peer.FileOffered{ID: 4, Name: "t.pdf", Size: 100, Offset: 0}, 2000},
		{peer.FileFailed{ID: 4, Name: "t.pdf", Err: errors.New("cannot write /d/t.pdf.part: no space left on device")}, 2000},
	} {
		if !r.event(step.ev, at(step.at)) {
			t.Fatalf("%T not taken", step.ev)
		}
	}
	r.unfinished()
	want := []string{
		"peerchat: receiving r.pdf (1000 bytes) from bob",
		"peerchat: resuming r.pdf at 63%",
		"peerchat: received r.pdf from bob: 1000 bytes in 2s at 500 bytes/s, verified, saved as /d/r.pdf",
		"peerchat: receiving s.pdf (2.0 KiB) from bob, resuming at 25%",
		"peerchat: refused big.iso from bob: big.iso is 9000 bytes, over the 5000-byte limit (--max-file-size)",
		"peerchat: refused x.bin from bob: not set up to take files; --accept-files takes them, or chat on a terminal to be asked",
		"peerchat: receiving t.pdf (100 bytes) from bob",
		"peerchat: did not receive t.pdf from bob: cannot write /d/t.pdf.part: no space left on device; what arrived is kept as a partial file in the download directory, and the transfer resumes there if bob sends it again",
		"peerchat: did not receive s.pdf from bob: the conversation ended first; what arrived is kept as a partial file in the download directory, and the transfer resumes there if bob sends it again",
	}
	if got := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestReceivingForgetsARestartedSender: a sender that restarted numbers
// its files from 1 again; what it was sending is reported, and offered
// again it is announced as a new transfer that resumes.
func TestReceivingForgetsARestartedSender(t *testing.T) {
	var stderr bytes.Buffer
	r := newReceiving(&ui{stdout: &bytes.Buffer{}, stderr: &stderr}, "bob")
	now := time.Unix(1_800_000_000, 0)
	r.event(peer.FileOffered{ID: 1, Name: "a.bin", Size: 1000}, now)
	r.peerRestarted()
	r.event(peer.FileOffered{ID: 1, Name: "a.bin", Size: 1000, Offset: 400}, now)
	r.event(peer.FileReceived{ID: 1, Name: "a.bin", Path: "/d/a.bin", Size: 1000}, now.Add(time.Second))
	r.unfinished()
	want := "peerchat: receiving a.bin (1000 bytes) from bob\n" +
		"peerchat: bob restarted while sending a.bin; what arrived is kept as a partial file in the download directory, and the transfer resumes there if bob sends it again\n" +
		"peerchat: receiving a.bin (1000 bytes) from bob, resuming at 40%\n" +
		"peerchat: received a.bin from bob: 1000 bytes in 1s at 600 bytes/s, 400 bytes of it resumed, verified, saved as /d/a.bin\n"
	if got := stderr.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// partialOf is where down holds the partial file of a file of size bytes
// offered as name by from, whose certificate is in certs.
func partialOf(t *testing.T, certs, from, down, name string, size int64) string {
	t.Helper()
	c := peertest.Cert(t, filepath.Join(certs, from+".crt"))
	return filepath.Join(down, peer.PartialName(peer.Fingerprint(c), name, size))
}
