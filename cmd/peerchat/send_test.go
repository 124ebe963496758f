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

// TestSendToAcceptingListener: peerchat send delivers each file, verified,
// into the listener's --download-dir, and exits 0.
func TestSendToAcceptingListener(t *testing.T) {
	dir := certsDir(t)
	down := t.TempDir()
	l, addr := listen(t, "--certs-dir", dir, "--name", "alice", "-k", "--accept-files", "--download-dir", down)
	src := t.TempDir()
	want := map[string][]byte{}
	var paths []string
	for _, name := range []string{"a.bin", "b.txt"} {
		b := make([]byte, 300<<10)
		rand.Read(b)
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		want[name], paths = b, append(paths, p)
	}
	_, stderr, code := runPeerchat(t, "", append([]string{"send", "--certs-dir", dir, "--name", "bob", addr}, paths...)...)
	if code != 0 {
		t.Fatalf("send exited %d:\n%s", code, stderr)
	}
	for name, b := range want {
		if !strings.Contains(stderr, "sent "+name) {
			t.Errorf("send did not report %s:\n%s", name, stderr)
		}
		got, err := os.ReadFile(filepath.Join(down, name))
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("%s differs on the listener's side (err %v)", name, err)
		}
	}
	l.waitLine(`^peerchat: received b\.txt from bob: 300\.0 KiB in .*, verified, saved as `)
}

// TestSendToRefusingListener: without --accept-files the listener refuses
// every file, and send exits with the not-delivered status. The reason bob
// reads names no flag of alice's; alice's own line says what turns files on.
func TestSendToRefusingListener(t *testing.T) {
	dir := certsDir(t)
	l, addr := listen(t, "--certs-dir", dir, "--name", "alice")
	p := filepath.Join(t.TempDir(), "x.bin")
	os.WriteFile(p, []byte("hello"), 0o644)
	_, stderr, code := runPeerchat(t, "", "send", "--certs-dir", dir, "--name", "bob", addr, p)
	if code != exitUndelivered {
		t.Fatalf("send exited %d, want %d:\n%s", code, exitUndelivered, stderr)
	}
	if !strings.Contains(stderr, "x.bin was not delivered: alice refused it: not set up to take files; ask alice to run with --accept-files, or to chat on a terminal to be asked\n") {
		t.Errorf("stderr:\n%s", stderr)
	}
	l.waitLine(`^peerchat: refused x\.bin from bob: not set up to take files; --accept-files takes them, or chat on a terminal to be asked$`)
}

// TestAcceptFilesWithoutInput: a receiver started from a script with no
// input (stdin at its end) stays until the sender leaves, then exits 0.
func TestAcceptFilesWithoutInput(t *testing.T) {
	dir := certsDir(t)
	down := t.TempDir()
	l, addr := listen(t, "--certs-dir", dir, "--name", "alice", "--accept-files", "--download-dir", down)
	l.stdin.Close()
	p := filepath.Join(t.TempDir(), "late.bin")
	os.WriteFile(p, []byte("arrives after the listener's input ended"), 0o644)
	if _, stderr, code := runPeerchat(t, "", "send", "--certs-dir", dir, "--name", "bob", addr, p); code != 0 {
		t.Fatalf("send exited %d:\n%s", code, stderr)
	}
	if code := l.wait(); code != 0 {
		t.Fatalf("listener exited %d", code)
	}
	if _, err := os.Stat(filepath.Join(down, "late.bin")); err != nil {
		t.Fatal(err)
	}
}

// TestSendDotFileIsSavedVisible: `peerchat send .bash_profile` into a
// download directory (often the home directory) is saved as
// bash_profile, not as a hidden file that would shadow the receiver's
// own; both sides are told the name it was saved under.
func TestSendDotFileIsSavedVisible(t *testing.T) {
	dir := certsDir(t)
	down := t.TempDir()
	l, addr := listen(t, "--certs-dir", dir, "--name", "alice", "--accept-files", "--download-dir", down)
	src := filepath.Join(t.TempDir(), ".bash_profile")
	if err := os.WriteFile(src, []byte("export EVIL=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runPeerchat(t, "", "send", "--certs-dir", dir, "--name", "bob", addr, src)
	if code != 0 {
		t.Fatalf("send exited %d:\n%s", code, stderr)
	}
	if !regexp.MustCompile(`(?m)^peerchat: sent \.bash_profile to alice: .*, verified; alice saved it as bash_profile$`).MatchString(stderr) {
		t.Errorf("the sender was not told the saved name:\n%s", stderr)
	}
	l.waitLine(`^peerchat: received bash_profile from bob: .*, verified, saved as .*/bash_profile$`)
	if _, err := os.Stat(filepath.Join(down, ".bash_profile")); !os.IsNotExist(err) {
		t.Errorf("a hidden .bash_profile was written: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(down, "bash_profile")); err != nil || string(b) != "export EVIL=1\n" {
		t.Errorf("bash_profile: %q, %v", b, err)
	}
}
