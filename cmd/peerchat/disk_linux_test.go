package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// The receiver's disk failing under a transfer (issue #9): a full disk or
// a download directory that cannot be written is reported to both sides,
// the sender exits with the not-delivered status, and what was written
// stays in NAME.part so that sending again resumes. The disks are small
// tmpfs mounts, which needs root.

// needRoot skips a test that must mount file systems when not root, saying
// so; under CI (CI set), where the tests run as root, it fails instead, as
// needTool does, so that a skip can never pass for a test that ran.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("this test mounts a tmpfs and must run as root under CI")
	}
	t.Skip("this test mounts a tmpfs: run it as root")
}

// mountTmpfs mounts a tmpfs of size bytes (with the mount flags given) on
// a new directory in t.TempDir() and unmounts it when the test ends. The
// unmount is registered after TempDir's removal, so it runs before it; the
// processes started later are killed before it runs, for the same reason.
func mountTmpfs(t *testing.T, size string, flags uintptr) string {
	t.Helper()
	needRoot(t)
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", flags, "size="+size); err != nil {
		t.Fatalf("mounting a tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// fillDisk writes a filler file into dir until at most leave bytes are
// free, and returns its path.
func fillDisk(t *testing.T, dir string, leave int64) string {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * st.Bsize
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.CopyN(f, zeros{}, free-leave); err != nil {
		t.Fatalf("filling %s: %v", dir, err)
	}
	return path
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }

// TestFullDiskIsReportedAndTheTransferResumes: a file bigger than the
// free space on the receiver's disk is refused before any byte moves,
// with the reason on both sides and exit status 5, and nothing is left on
// the disk; once space is freed, sending again delivers it. (A disk that
// fills during a transfer, which the check cannot foresee, is
// TestSendToAFullDisk's file size limit.)
func TestFullDiskIsReportedAndTheTransferResumes(t *testing.T) {
	down := mountTmpfs(t, "4m", 0)
	// 1 MiB free for a 2 MiB file.
	filler := fillDisk(t, down, 1<<20)
	src, want := writeRandom(t, t.TempDir(), "big.bin", 2<<20)

	dir := certsDir(t)
	// -k: the listener outlives the refused attempt.
	l, addr := listen(t, "--certs-dir", dir, "--name", "alice", "-k", "--accept-files", "--download-dir", down)
	send := []string{"send", "--certs-dir", dir, "--name", "bob", addr, src}

	_, stderr, code := runPeerchat(t, "", send...)
	if code != exitUndelivered {
		t.Fatalf("send to a full disk exited %d, want %d:\n%s", code, exitUndelivered, stderr)
	}
	// Both sides say what happened and what to do, in one line each, and
	// the sender is not told where the receiver keeps its files.
	const why = `big\.bin is 2097152 bytes and the download directory's disk has \d+ bytes free \(\d+ bytes are kept free\); free some space there`
	if !regexp.MustCompile(`(?m)^peerchat: big\.bin was not delivered: alice refused it: ` + why + `$`).MatchString(stderr) {
		t.Errorf("the sender does not report the full disk:\n%s", stderr)
	}
	if strings.Contains(stderr, down) {
		t.Errorf("the sender was told the receiver's download directory:\n%s", stderr)
	}
	l.waitLine(`^peerchat: refused big\.bin from bob: ` + why + `$`)
	if entries, _ := os.ReadDir(down); len(entries) != 1 {
		t.Errorf("the refused offer left files: %v", entries)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = runPeerchat(t, "", send...)
	if code != 0 {
		t.Fatalf("send after freeing space exited %d:\n%s", code, stderr)
	}
	l.waitLine(`^peerchat: received big\.bin from bob: 2\.0 MiB in .*, verified, saved as `)
	got, err := os.ReadFile(filepath.Join(down, "big.bin"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("big.bin differs from what was sent (err %v)", err)
	}
	if entries, _ := os.ReadDir(down); len(entries) != 1 {
		t.Errorf("a partial file is still there once the file arrived: %v", entries)
	}
}

// TestReadOnlyDownloadDirIsReportedToBothSides: a download directory
// that is read-only from the start is refused when the listener starts; one
// that becomes read-only while it runs (a read-only mount stops root too,
// unlike permission bits) refuses the file on both sides with the
// system's reason, and the sender exits with the not-delivered status.
func TestReadOnlyDownloadDirIsReportedToBothSides(t *testing.T) {
	down := mountTmpfs(t, "1m", syscall.MS_RDONLY)
	dir := certsDir(t)
	_, stderr, code := runPeerchat(t, "", "listen", "--certs-dir", dir, "--name", "alice", "--addr", "127.0.0.1:0", "--accept-files", "--download-dir", down)
	if code != exitUsage || !strings.Contains(stderr, "is not writable (read-only file system); fix its permissions or choose another") {
		t.Fatalf("listen with a read-only --download-dir exited %d:\n%s", code, stderr)
	}

	down = mountTmpfs(t, "1m", 0)
	l, addr := listen(t, "--certs-dir", dir, "--name", "alice", "--accept-files", "--download-dir", down)
	if err := syscall.Mount("tmpfs", down, "tmpfs", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remounting %s read-only: %v", down, err)
	}
	src, _ := writeRandom(t, t.TempDir(), "x.bin", 64<<10)
	_, stderr, code = runPeerchat(t, "", "send", "--certs-dir", dir, "--name", "bob", addr, src)
	if code != exitUndelivered {
		t.Fatalf("send to a read-only directory exited %d, want %d:\n%s", code, exitUndelivered, stderr)
	}
	const why = `cannot create the partial file of x\.bin in the download directory \(read-only file system\)`
	if !regexp.MustCompile(`(?m)^peerchat: x\.bin was not delivered: alice refused it: ` + why + `$`).MatchString(stderr) {
		t.Errorf("the sender does not report the read-only directory:\n%s", stderr)
	}
	l.waitLine(`^peerchat: refused x\.bin from bob: ` + why + `$`)
	if entries, err := os.ReadDir(down); err != nil || len(entries) > 0 {
		t.Errorf("the read-only directory holds %v (err %v)", entries, err)
	}
}
