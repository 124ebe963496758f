//go:build unix

package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Files on the chat screen, end to end: real binaries on both sides, the
// screen in a pseudo-terminal read back through the test's emulator.

// listenTTY starts alice listening on a terminal cols wide and returns
// her address.
func listenTTY(t *testing.T, cols int, dir string, args ...string) (*ttyProc, string) {
	t.Helper()
	alice := startTTY(t, 24, cols, []string{"NO_COLOR=1"}, append([]string{"listen", "--certs-dir", dir, "--name", "alice", "--addr", "127.0.0.1:0"}, args...)...)
	var addr string
	rx := regexp.MustCompile(`^peerchat: listening on (\S+) as alice`)
	alice.waitScreen("the address it listens on", func(v *vt) bool {
		for _, l := range v.lines() {
			if m := rx.FindStringSubmatch(l); m != nil {
				addr = m[1]
				return true
			}
		}
		return false
	})
	return alice, addr
}

// waitRowMatch waits until some row matches re and returns its
// submatches.
func (p *ttyProc) waitRowMatch(re string) []string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	var m []string
	p.waitScreen(fmt.Sprintf("a row matching %q", re), func(v *vt) bool {
		for _, l := range v.lines() {
			if m = rx.FindStringSubmatch(l); m != nil {
				return true
			}
		}
		return false
	})
	return m
}

func sameFile(t *testing.T, got, want string) {
	t.Helper()
	a, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatalf("%s (%d bytes) differs from what was sent (%d bytes)", got, len(a), len(b))
	}
}

// statusRow is a line of the status region.
var statusRow = regexp.MustCompile(`^[↑↓] #\d+ `)

func countStatusRows(v *vt) int {
	n := 0
	for _, l := range v.lines() {
		if statusRow.MatchString(l) {
			n++
		}
	}
	return n
}

// TestTTYAcceptsAnOfferedFile: a listener on a terminal without
// --accept-files is asked; /accept receives the file whole while the draft
// stays on the input line, the progress is one line redrawn in place, and
// the last word is "verified".
func TestTTYAcceptsAnOfferedFile(t *testing.T) {
	dir, down := certsDir(t), t.TempDir()
	alice, addr := listenTTY(t, 200, dir, "--download-dir", down)
	src, _ := writeRandom(t, t.TempDir(), "report.pdf", 8<<20)
	// bob sends from his screen: the chat goes on after the file, and
	// alice's input line with it.
	bob := startTTY(t, 24, 200, []string{"NO_COLOR=1"}, "dial", "--certs-dir", dir, "--name", "bob", addr)
	bob.waitRow(`^` + clock + ` -- connected to alice `)
	alice.typeKeys("/accept\r")
	alice.waitRow(`^` + clock + ` !! no file offer waits for an answer$`)
	bob.typeKeys("/send " + src + "\r")
	alice.waitRow(`^` + clock + ` -- bob offers report\.pdf \(8\.0 MiB\): /accept 1 or /reject 1$`)
	alice.typeKeys("/accept 9\r")
	alice.waitRow(`^` + clock + ` !! no file offer #9 waits for an answer$`)
	alice.typeKeys("/accept x\r")
	alice.waitRow(`^` + clock + ` !! /accept takes a file's number, as in /accept 2, or none when there is one file$`)

	// The draft is typed right after the answer, as the progress starts.
	alice.typeKeys("/accept\rhalf a dra")
	alice.waitRow(`^` + clock + ` -- receiving report\.pdf \(8\.0 MiB\) from bob; /cancel 1 stops it$`)
	most := 0
	alice.waitScreen("the final line, and the draft intact below it", func(v *vt) bool {
		most = max(most, countStatusRows(v))
		return slices.ContainsFunc(v.lines(), regexp.MustCompile(`^`+clock+` -- received report\.pdf from bob: 8\.0 MiB in \S+( at \S+ \S+/s)?, verified, saved as `+regexp.QuoteMeta(filepath.Join(down, "report.pdf"))+`$`).MatchString) &&
			v.cursorRow() == "> half a dra" && v.cursorCol() == 12
	})
	bob.waitRow(`^` + clock + ` -- sent report\.pdf to alice: 8\.0 MiB in .*, verified$`)
	sameFile(t, filepath.Join(down, "report.pdf"), src)

	alice.mu.Lock()
	defer alice.mu.Unlock()
	// The progress was drawn, on one row that never reached the
	// conversation, and is gone with the transfer.
	if !bytes.Contains(alice.raw.Bytes(), []byte("↓ #1 report.pdf: ")) {
		t.Errorf("no progress line was drawn")
	}
	if most > 1 {
		t.Errorf("%d progress rows at once on the screen, want one", most)
	}
	if n := countStatusRows(alice.vt); n != 0 {
		t.Errorf("%d progress rows left after the end:\n%s", n, alice.vt.screen())
	}
	if len(alice.vt.odd) > 0 {
		t.Errorf("sequences the chat screen never sends reached the terminal: %q", alice.vt.odd)
	}
}

// TestTTYRejectsAnOfferedFile: /reject reaches the sender, which exits
// "not delivered" with the reason.
func TestTTYRejectsAnOfferedFile(t *testing.T) {
	dir, down := certsDir(t), t.TempDir()
	alice, addr := listenTTY(t, 200, dir, "--download-dir", down)
	src, _ := writeRandom(t, t.TempDir(), "notes.txt", 3<<10)
	bob := start(t, "send", "--certs-dir", dir, "--name", "bob", addr, src)
	alice.waitRow(`^` + clock + ` -- bob offers notes\.txt \(3\.0 KiB\): /accept 1 or /reject 1$`)
	alice.typeKeys("/reject\r")
	alice.waitRow(`^` + clock + ` -- rejected notes\.txt from bob$`)
	if code := bob.wait(); code != exitUndelivered {
		t.Fatalf("peerchat send exited %d, want %d", code, exitUndelivered)
	}
	bob.waitLine(`notes\.txt was not delivered: alice refused it: declined on the chat screen$`)
	if ents, _ := os.ReadDir(down); len(ents) != 0 {
		t.Errorf("a rejected file left %s in the download directory", ents[0].Name())
	}
}

// TestTTYCancelsAnIncomingFileMidway: /cancel ID stops a file being
// received; the sender is told why, and what arrived stays in the .part.
func TestTTYCancelsAnIncomingFileMidway(t *testing.T) {
	dir, down := certsDir(t), t.TempDir()
	alice, addr := listenTTY(t, 200, dir, "--download-dir", down)
	// Big and sparse: costs no disk to send, and far more than the
	// socket buffers hold, so the sender cannot finish while stopped.
	src := filepath.Join(t.TempDir(), "big.bin")
	if err := os.Truncate(createEmpty(t, src), 256<<20); err != nil {
		t.Fatal(err)
	}
	bob := start(t, "send", "--certs-dir", dir, "--name", "bob", addr, src)
	defer bob.cmd.Process.Signal(syscall.SIGCONT)
	alice.waitRow(`^` + clock + ` -- bob offers big\.bin \(256\.0 MiB\): /accept 1 or /reject 1$`)
	alice.typeKeys("/accept 1\r")
	// Some of it is here: at least a KiB.
	alice.waitRow(`^↓ #1 big\.bin: \d+% \(\d+\.\d [KMG]iB of 256\.0 MiB\)`)
	bob.stop()
	alice.typeKeys("/cancel 1\r")
	alice.waitRow(`^` + clock + ` -- stopped receiving big\.bin \(#1\); bob was told, and what arrived is kept to resume from$`)
	alice.waitScreen("the progress line gone", func(v *vt) bool { return countStatusRows(v) == 0 })
	fi, err := os.Stat(partialOf(t, dir, "bob", down, "big.bin", 256<<20))
	if err != nil || fi.Size() == 0 || fi.Size() >= 256<<20 {
		t.Fatalf("the partial file after a cancel: %v, %v", fi, err)
	}
	if err := bob.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if code := bob.wait(); code != exitUndelivered {
		t.Fatalf("peerchat send exited %d, want %d", code, exitUndelivered)
	}
	bob.waitLine(`big\.bin was not delivered: alice stopped it: cancelled on the chat screen; alice keeps what arrived, and sending it again resumes from there$`)
	if _, err := os.Stat(filepath.Join(down, "big.bin")); err == nil {
		t.Errorf("a cancelled file was renamed into place")
	}
}

func createEmpty(t *testing.T, path string) string {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTTYSendsBetweenTwoScreens: the listener's screen sends, the
// dialer's screen receives; several files at once are told apart by
// their numbers, and a cancellation by the sender, a rejection by the
// receiver and the end of the chat show on both screens.
func TestTTYSendsBetweenTwoScreens(t *testing.T) {
	dir, down := certsDir(t), t.TempDir()
	alice, addr := listenTTY(t, 200, dir)
	bob := startTTY(t, 24, 200, []string{"NO_COLOR=1"}, "dial", "--certs-dir", dir, "--name", "bob", "--download-dir", down, addr)
	alice.waitRow(`^` + clock + ` -- connected to bob `)
	bob.waitRow(`^` + clock + ` -- connected to alice `)
	srcDir := t.TempDir()
	a, _ := writeRandom(t, srcDir, "a.txt", 100<<10)
	b, _ := writeRandom(t, srcDir, "b.txt", 3<<10)
	c, _ := writeRandom(t, srcDir, "c.txt", 1<<10)
	alice.typeKeys("/send " + a + "\r/send " + b + "\r/send " + c + "\r")
	alice.waitRow(`^` + clock + ` -- sending c\.txt \(1\.0 KiB\) to bob as #3; /cancel 3 stops it$`)
	alice.waitRow(`^↑ #3 c\.txt \(1\.0 KiB\): offered, waiting for bob$`)
	// The three go at once, and reach bob in any order: his screen
	// numbers them as they come.
	ids := map[string]string{}
	for _, name := range []string{"a.txt", "b.txt", "c.txt"} {
		ids[name] = bob.waitRowMatch(`^` + clock + ` -- alice offers ` + regexp.QuoteMeta(name) + ` \(\S+ KiB\): /accept (\d) or /reject \d$`)[1]
	}

	alice.typeKeys("/cancel\r")
	alice.waitRow(`^` + clock + ` !! 3 files: #1 a\.txt \(100\.0 KiB\) to bob, #2 b\.txt \(3\.0 KiB\) to bob, #3 c\.txt \(1\.0 KiB\) to bob; say which, as in /cancel 1$`)
	alice.typeKeys("/cancel 3\r")
	alice.waitRow(`^` + clock + ` -- stopped sending c\.txt \(#3\); bob was told$`)
	bob.waitRow(`^` + clock + ` !! c\.txt \(#` + ids["c.txt"] + `\) from alice was not received: alice cancelled c\.txt: `)

	bob.typeKeys("/accept\r")
	list := []string{`#` + ids["a.txt"] + ` a\.txt \(100\.0 KiB\) from alice`, `#` + ids["b.txt"] + ` b\.txt \(3\.0 KiB\) from alice`}
	if ids["b.txt"] < ids["a.txt"] {
		list[0], list[1] = list[1], list[0]
	}
	bob.waitRow(`^` + clock + ` !! 2 files: ` + strings.Join(list, ", ") + `; say which, as in /accept \d$`)
	bob.typeKeys("/accept " + ids["b.txt"] + "\r")
	bob.waitRow(`^` + clock + ` -- received b\.txt from alice: 3\.0 KiB in .*, verified, saved as ` + regexp.QuoteMeta(filepath.Join(down, "b.txt")) + `$`)
	alice.waitRow(`^` + clock + ` -- sent b\.txt to bob: 3\.0 KiB in .*, verified$`)
	bob.typeKeys("/accept\r") // the only offer left
	bob.waitRow(`^` + clock + ` -- received a\.txt from alice: 100\.0 KiB in .*, verified, saved as `)
	alice.waitRow(`^` + clock + ` -- sent a\.txt to bob: 100\.0 KiB in .*, verified$`)
	sameFile(t, filepath.Join(down, "a.txt"), a)
	sameFile(t, filepath.Join(down, "b.txt"), b)
	if _, err := os.Stat(filepath.Join(down, "c.txt")); err == nil {
		t.Errorf("the cancelled file arrived")
	}
	for _, p := range []*ttyProc{alice, bob} {
		p.waitScreen("no progress line left", func(v *vt) bool { return countStatusRows(v) == 0 })
	}

	bob.typeKeys("/help\r")
	help := []byte("/send PATH send a file; /accept [ID] or /reject [ID] answer a file offered; /cancel [ID] stop a file being sent or received;")
	bob.waitScreen("the file commands in /help", func(*vt) bool { return bytes.Contains(unwrap(bob.raw.Bytes()), help) })

	// A refusal reaches the sender's screen with the reason.
	d, _ := writeRandom(t, srcDir, "d.txt", 1<<10)
	alice.typeKeys("/send " + d + "\r")
	bob.waitRow(`^` + clock + ` -- alice offers d\.txt \(1\.0 KiB\): /accept 4 or /reject 4$`)
	bob.typeKeys("/reject 4\r")
	alice.waitRow(`^` + clock + ` !! d\.txt \(#4\) was not sent: bob refused it: declined on the chat screen$`)

	// The end of the chat ends the files still open, on both screens.
	e, _ := writeRandom(t, srcDir, "e.txt", 1<<10)
	alice.typeKeys("/send " + e + "\r")
	bob.waitRow(`^` + clock + ` -- alice offers e\.txt \(1\.0 KiB\): /accept 5 or /reject 5$`)
	bob.typeKeys("/quit\r")
	if code := bob.wait(); code != 0 {
		t.Fatalf("bob exited %d", code)
	}
	bob.waitRow(`^` + clock + ` -- the offer of e\.txt \(#5\) lapsed with the chat$`)
	alice.waitRow(`^` + clock + ` !! e\.txt \(#5\) was not sent: the chat ended$`)
	alice.waitRow(`^` + clock + ` -- bob left the chat$`)
}

// TestTTYResumesFromAnEarlierTry: an offer of a file whose .part is here
// says how much, accepting resumes from there, and both sides say so.
func TestTTYResumesFromAnEarlierTry(t *testing.T) {
	dir, down := certsDir(t), t.TempDir()
	alice, addr := listenTTY(t, 200, dir, "--download-dir", down)
	src, _ := writeRandom(t, t.TempDir(), "report.pdf", 100<<10)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	// 63% of it from an earlier try.
	if err := os.WriteFile(partialOf(t, dir, "bob", down, "report.pdf", 100<<10), data[:63<<10], 0o644); err != nil {
		t.Fatal(err)
	}
	bob := start(t, "send", "--certs-dir", dir, "--name", "bob", addr, src)
	alice.waitRow(`^` + clock + ` -- bob offers report\.pdf \(100\.0 KiB\): /accept 1 or /reject 1; 63% of it is here from an earlier try, accepting resumes$`)
	alice.typeKeys("/accept\r")
	alice.waitRow(`^` + clock + ` -- receiving report\.pdf \(100\.0 KiB\) from bob, resuming at 63%; /cancel 1 stops it$`)
	alice.waitRow(`^` + clock + ` -- received report\.pdf from bob: 100\.0 KiB in \S+ at \S+ \S+/s, 63\.0 KiB of it resumed, verified, saved as `)
	if code := bob.wait(); code != 0 {
		t.Fatalf("peerchat send exited %d", code)
	}
	bob.waitLine(`^peerchat: resuming report\.pdf at 63%$`)
	sameFile(t, filepath.Join(down, "report.pdf"), src)
}

// TestTTYAcceptsFilesWithoutAsking: with --accept-files the screen says
// what arrives, and nobody is asked.
func TestTTYAcceptsFilesWithoutAsking(t *testing.T) {
	dir, down := certsDir(t), t.TempDir()
	alice, addr := listenTTY(t, 200, dir, "--accept-files", "--download-dir", down)
	src, _ := writeRandom(t, t.TempDir(), "notes.txt", 3<<10)
	bob := start(t, "send", "--certs-dir", dir, "--name", "bob", addr, src)
	alice.waitRow(`^` + clock + ` -- receiving notes\.txt \(3\.0 KiB\) from bob; /cancel 1 stops it$`)
	alice.waitRow(`^` + clock + ` -- received notes\.txt from bob: 3\.0 KiB in .*, verified, saved as `)
	if code := bob.wait(); code != 0 {
		t.Fatalf("peerchat send exited %d", code)
	}
	sameFile(t, filepath.Join(down, "notes.txt"), src)
	if bytes.Contains(alice.rawOutput(), []byte("/accept")) {
		t.Errorf("alice was asked despite --accept-files")
	}
}

// cutProxy forwards connections to target until cut closes them all, as
// a network that drops every connection at once; it keeps accepting new
// ones.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup // the accept loop and the copiers
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by the cleanup
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			p.wg.Add(2)
			for _, pair := range [][2]net.Conn{{c, u}, {u, c}} {
				go func() {
					defer p.wg.Done()
					io.Copy(pair[0], pair[1])
					pair[0].Close() // either end going ends both
					pair[1].Close()
				}()
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

// cut closes every connection made so far.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestTTYResumesAfterTheConnectionDrops: a file interrupted by a dropped
// connection goes on from what the receiver holds once the dialer is
// back, and both screens say where it resumed.
func TestTTYResumesAfterTheConnectionDrops(t *testing.T) {
	dir, down := certsDir(t), t.TempDir()
	alice, addr := listenTTY(t, 200, dir, "--accept-files", "--download-dir", down)
	proxy := newCutProxy(t, addr)
	bob := startTTY(t, 24, 200, []string{"NO_COLOR=1"}, "dial", "--certs-dir", dir, "--name", "bob", proxy.addr())
	bob.waitRow(`^` + clock + ` -- connected to alice `)
	// Big and sparse: costs no disk to read, and takes long enough that
	// the cut comes while it streams.
	src := filepath.Join(t.TempDir(), "big.bin")
	if err := os.Truncate(createEmpty(t, src), 128<<20); err != nil {
		t.Fatal(err)
	}
	bob.typeKeys("/send " + src + "\r")
	alice.waitRow(`^↓ #1 big\.bin: \d+% \(\d+\.\d [KMG]iB of 128\.0 MiB\)`)
	proxy.cut()
	bob.waitRow(`^` + clock + ` -- reconnected to alice at `)
	bob.waitRow(`^` + clock + ` -- resuming big\.bin at \d+%$`)
	alice.waitRow(`^` + clock + ` -- resuming big\.bin at \d+%$`)
	alice.waitRow(`^` + clock + ` -- received big\.bin from bob: 128\.0 MiB in .*, verified, saved as `)
	bob.waitRow(`^` + clock + ` -- sent big\.bin to alice: 128\.0 MiB in .*, verified$`)
	sameFile(t, filepath.Join(down, "big.bin"), src)
}

// TestTTYChatsFromADirectoryItCannotWrite: without --accept-files or
// --download-dir, nobody asked for files; a working directory where none
// could be written (here /proc, which refuses root too) must not stop
// the chat. An offer is still asked about, and /accept says why it fails.
func TestTTYChatsFromADirectoryItCannotWrite(t *testing.T) {
	if _, err := os.Stat("/proc/self"); err != nil {
		t.Skip("no /proc")
	}
	dir := certsDir(t)
	alice, addr := listenTTY(t, 200, dir, "--download-dir", t.TempDir())
	bob := startTTYIn(t, "/proc", 24, 200, []string{"NO_COLOR=1"}, "dial", "--certs-dir", dir, "--name", "bob", addr)
	bob.waitRow(`^` + clock + ` -- connected to alice `)
	src, _ := writeRandom(t, t.TempDir(), "notes.txt", 1000)
	alice.typeKeys("/send " + src + "\r")
	bob.waitRow(`^` + clock + ` -- alice offers notes\.txt \(1000 bytes\): /accept 1 or /reject 1$`)
	bob.typeKeys("/accept\r")
	bob.waitRow(`^` + clock + ` !! cannot accept notes\.txt \(#1\): cannot create the partial file of notes\.txt in the download directory \(.*\)$`)
	alice.waitRow(`^` + clock + ` !! notes\.txt \(#1\) was not sent: bob refused it: cannot create the partial file of notes\.txt in the download directory \(.*\)$`)
}
