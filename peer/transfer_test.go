package peer_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"peerchat/peer"
)

// writeRandom writes n random bytes to a new file in dir.
func writeRandom(t *testing.T, dir, name string, n int) (string, []byte) {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, b
}

// receiverEvents reads s in the background and passes on its file events
// and messages.
func receiverEvents(s *peer.Session) <-chan peer.Event {
	ch := make(chan peer.Event, 64)
	go func() {
		defer close(ch)
		for {
			ev, err := s.Next()
			if err != nil {
				return
			}
			switch ev.(type) {
			case *peer.Message, peer.FileReceived, peer.FileFailed:
				ch <- ev
			}
		}
	}()
	return ch
}

func waitReceived(t *testing.T, evs <-chan peer.Event) (peer.FileReceived, []*peer.Message) {
	t.Helper()
	var msgs []*peer.Message
	for {
		select {
		case ev, ok := <-evs:
			if !ok {
				t.Fatal("receiver ended before the file arrived")
			}
			switch ev := ev.(type) {
			case peer.FileReceived:
				return ev, msgs
			case *peer.Message:
				msgs = append(msgs, ev)
			case peer.FileFailed:
				if !ev.Retry {
					t.Fatalf("receiver: %v", ev.Err)
				}
			}
		case <-time.After(testTimeout):
			t.Fatal("no file received")
		}
	}
}

func TestSendFileEndToEnd(t *testing.T) {
	_, alice, bob := alicePKI(t)
	down := t.TempDir()
	lcfg := peer.Config{Identity: alice, DownloadDir: down}
	ls, ds := connect(t, lcfg, peer.Config{Identity: bob})
	evs := receiverEvents(ls)
	go endOf(ds)

	size := 64 << 20
	if testing.Short() {
		size = 8 << 20
	}
	path, want := writeRandom(t, t.TempDir(), "data.bin", size)
	var last int64 = -1
	chatted := false
	err := ds.SendFile(testContext(t), path, func(p peer.FileProgress) {
		sent, total := p.Done, p.Size
		if sent < last || total != int64(size) {
			t.Errorf("progress went from %d to %d of %d", last, sent, total)
		}
		last = sent
		if !chatted && sent > int64(size/2) {
			chatted = true
			if _, err := ds.Send("halfway"); err != nil {
				t.Errorf("send during transfer: %v", err)
			}
		}
	})
	if err != nil {
		t.Fatalf("SendFile: %v", err)
	}
	got, msgs := waitReceived(t, evs)
	if len(msgs) != 1 || msgs[0].Text != "halfway" {
		t.Errorf("messages during the transfer: %v", msgs)
	}
	if got.Path != filepath.Join(down, "data.bin") || got.Size != int64(size) {
		t.Errorf("received %+v", got)
	}
	b, err := os.ReadFile(got.Path)
	if err != nil || !bytes.Equal(b, want) {
		t.Fatalf("received file differs (err %v)", err)
	}
	if left, _ := filepath.Glob(filepath.Join(down, ".peerchat-*")); len(left) > 0 {
		t.Errorf("partial file left behind: %v", left)
	}

	// The same name again lands beside it, never over it.
	if err := ds.SendFile(testContext(t), path, nil); err != nil {
		t.Fatalf("second SendFile: %v", err)
	}
	got, _ = waitReceived(t, evs)
	if got.Path != filepath.Join(down, "data (2).bin") {
		t.Errorf("second copy at %s", got.Path)
	}
}

func TestSendFileSurvivesCuts(t *testing.T) {
	_, alice, bob := alicePKI(t)
	down := t.TempDir()
	lcfg := resumeConfig(alice)
	lcfg.DownloadDir = down
	l, _ := startListener(t, lcfg)
	proxy := newFaultProxy(t, l.Addr().String())
	ls, ds := dialAccept(t, l, proxy.Addr(), reconnecting(resumeConfig(bob)))
	evs := receiverEvents(ls)
	go endOf(ds)

	size := 16 << 20
	path, want := writeRandom(t, t.TempDir(), "cut.bin", size)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src := &chunkReads{r: f}
	rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 1))
	cuts := []int64{}
	for range 4 {
		cuts = append(cuts, rng.Int64N(int64(size)))
	}
	slices.Sort(cuts) // each cut on a connection of its own
	next := 0
	cutNow := make(chan struct{}, 8)
	go func() {
		for range cutNow {
			proxy.Cut()
		}
	}()
	// What a cut costs: the bytes sent before it that the receiver did
	// not keep, sent again from the offset it answers with.
	var high, resent int64
	var resumes []int64
	started := false
	err = ds.SendReader(testContext(t), "cut.bin", src, int64(size), func(p peer.FileProgress) {
		sent := p.Done
		if p.Start && started {
			resumes = append(resumes, sent)
			// What the sender may have sent: what it reported, and the
			// chunk it had read, and perhaps written, when the
			// connection broke (chunkReads).
			if sentMost := max(high, src.inFlight); sent > sentMost {
				t.Errorf("the receiver resumes at %d, beyond the %d bytes sent (%d reported, %d read)", sent, sentMost, high, src.inFlight)
			}
			resent += max(high, src.inFlight) - sent
			// Each resumption starts from what the receiver holds, never
			// from 0 again once much has arrived (a cut early on may
			// catch every byte in flight).
			if sent == 0 && high > 8<<20 {
				t.Errorf("a resumption started again from 0 after %d bytes were sent", high)
			}
		}
		if p.Start {
			// The receiver answered from what it holds: its partial
			// file is exactly the file's first Done bytes.
			part := partialFile(t, down)
			if int64(len(part)) != sent {
				t.Errorf("the receiver resumes at %d holding %d bytes", sent, len(part))
			} else if !bytes.Equal(part, want[:sent]) {
				t.Errorf("the receiver resumes at %d holding bytes that are not the file's", sent)
			}
		}
		started = true
		high = max(high, sent)
		src.reported(sent)
		for next < len(cuts) && sent >= cuts[next] {
			next++
			cutNow <- struct{}{}
		}
	})
	close(cutNow)
	if err != nil {
		t.Fatalf("SendFile: %v", err)
	}
	got, _ := waitReceived(t, evs)
	b, err := os.ReadFile(got.Path)
	if err != nil || !bytes.Equal(b, want) {
		t.Fatalf("received file differs (err %v)", err)
	}
	if proxy.Accepted() < 2 {
		t.Errorf("only %d connections: the cuts did not happen", proxy.Accepted())
	}
	t.Logf("%d cuts at %v: resumed at %v, %d KiB sent twice in all", len(cuts), cuts, resumes, resent>>10)
}

// A chunkReads is the file as a sender reads it, noting the chunk it
// reads at the position it last reported. The sender reads a chunk,
// writes it, then reports it to its progress function, unless it finds
// the connection broken after the write: a chunk written just before a
// cut is never reported, yet may have reached the receiver, which then
// rightly resumes after it. inFlight is where that chunk ends, so the
// bytes sent are at most the larger of it and the last report. A chunk
// whose write failed is counted too, though it cannot have arrived
// whole; the check of the receiver's partial file, which must be exactly
// the bytes it claims, catches a claim on it, as it does a claim when
// the first read at pos was the hashing of a kept prefix (an attempt
// from 0 that read no chunk). Reads and reports both happen on the
// sender's goroutine.
type chunkReads struct {
	r        io.ReaderAt
	pos      int64 // the position last reported: where the next chunk is read
	read     bool  // the chunk at pos was read (later reads hash a kept prefix)
	inFlight int64 // the end of the chunk read at pos
}

func (c *chunkReads) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	if !c.read && off == c.pos {
		c.read = true
		c.inFlight = off + int64(n)
	}
	return n, err
}

// reported notes a progress report: the next chunk is read at done.
func (c *chunkReads) reported(done int64) {
	c.pos, c.read = done, false
}

// partialFile returns the content of the one file in dir, the receiver's
// partial file while a transfer is under way; nil before it has one.
func partialFile(t *testing.T, dir string) []byte {
	t.Helper()
	var files []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, path)
		}
		return nil
	})
	switch len(files) {
	case 0:
		return nil // a partial file is made with the first byte
	case 1:
	default:
		t.Fatalf("the download directory holds %v, want one partial file at most", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReceiverRestartResumesPart(t *testing.T) {
	_, alice, bob := alicePKI(t)
	down := t.TempDir()
	path, want := writeRandom(t, t.TempDir(), "half.bin", 3<<20)
	// A previous run wrote the first half, then the process died.
	if err := os.WriteFile(partialOf(down, bob, "half.bin", 3<<20), want[:len(want)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	ls, ds := connect(t, peer.Config{Identity: alice, DownloadDir: down}, peer.Config{Identity: bob})
	evs := receiverEvents(ls)
	go endOf(ds)
	first := int64(-1)
	err := ds.SendFile(testContext(t), path, func(p peer.FileProgress) {
		if first < 0 {
			first = p.Done
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if first != int64(len(want)/2) {
		t.Errorf("resumed from %d, want %d", first, len(want)/2)
	}
	got, _ := waitReceived(t, evs)
	if b, _ := os.ReadFile(got.Path); !bytes.Equal(b, want) {
		t.Fatal("resumed file differs")
	}
}

func TestDamagedPartIsSentAgain(t *testing.T) {
	_, alice, bob := alicePKI(t)
	down := t.TempDir()
	path, want := writeRandom(t, t.TempDir(), "bad.bin", 1<<20)
	// A .part that is not a prefix of the file: the digest catches it.
	junk := make([]byte, len(want)/2)
	if err := os.WriteFile(partialOf(down, bob, "bad.bin", 1<<20), junk, 0o644); err != nil {
		t.Fatal(err)
	}
	ls, ds := connect(t, peer.Config{Identity: alice, DownloadDir: down}, peer.Config{Identity: bob})
	evs := receiverEvents(ls)
	go endOf(ds)
	if err := ds.SendFile(testContext(t), path, nil); err != nil {
		t.Fatal(err)
	}
	got, _ := waitReceived(t, evs)
	if b, _ := os.ReadFile(got.Path); !bytes.Equal(b, want) {
		t.Fatal("file differs after the retry")
	}
}

func TestFileRefusals(t *testing.T) {
	_, alice, bob := alicePKI(t)
	src := t.TempDir()
	path, _ := writeRandom(t, src, "big.bin", 4096)

	// No download directory: every file is refused.
	ls, ds := connect(t, peer.Config{Identity: alice}, peer.Config{Identity: bob})
	go endOf(ls)
	go endOf(ds)
	if err := ds.SendFile(testContext(t), path, nil); !errors.Is(err, peer.ErrFileRefused) {
		t.Errorf("without a download dir: %v", err)
	}

	// Over the size limit.
	down := t.TempDir()
	ls, ds = connect(t, peer.Config{Identity: alice, DownloadDir: down, MaxFileSize: 1000}, peer.Config{Identity: bob})
	go endOf(ls)
	go endOf(ds)
	if err := ds.SendFile(testContext(t), path, nil); !errors.Is(err, peer.ErrFileRefused) {
		t.Errorf("over the size limit: %v", err)
	}
	if entries, _ := os.ReadDir(down); len(entries) != 0 {
		t.Errorf("refused file left %v", entries)
	}

	// The sender cancels: the receiver keeps its .part.
	ctx, cancel := context.WithCancel(testContext(t))
	cancel()
	if err := ds.SendFile(ctx, path, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// partialOf is where down holds the partial file of a file of size bytes
// that from offered as name.
func partialOf(down string, from *peer.Identity, name string, size int64) string {
	return filepath.Join(down, peer.PartialName(peer.Fingerprint(from.Leaf), name, size))
}

// TestSafeFileName: the names a peer offers are saved the way browsers
// save downloads (see filename.go for the rules).
func TestSafeFileName(t *testing.T) {
	for _, c := range []struct{ offered, want string }{
		// The base name only.
		{"../../etc/passwd", "passwd"},
		{"/abs/path", "path"},
		{`C:\win\evil.exe`, "evil.exe"},
		{"report.pdf", "report.pdf"},
		// Leading dots and spaces, trailing dots and spaces.
		{".bash_profile", "bash_profile"},
		{"..hidden", "hidden"},
		{" . .profile", "profile"},
		{"trailing. . ", "trailing"},
		{"notes.txt...", "notes.txt"},
		{"my notes.txt", "my notes.txt"}, // ordinary spaces stay
		{"a\u00a0b.txt", "a\u00a0b.txt"}, // so does a no-break space
		// Invisible characters are replaced.
		{"invoice\u202efdp.exe", "invoice_fdp.exe"},    // RIGHT-TO-LEFT OVERRIDE
		{"a\u2066b\u2069.txt", "a_b_.txt"},             // bidi isolates
		{"pay\u200bpal.pdf", "pay_pal.pdf"},            // zero-width space
		{"x\u200dy\u200c.txt", "x_y_.txt"},             // ZWJ, ZWNJ
		{"\ufeffbom.txt", "_bom.txt"},                  // BOM
		{"soft\u00adhyphen", "soft_hyphen"},            // soft hyphen
		{"tag\U000e0041.txt", "tag_.txt"},              // a tag character
		{"word\u2060joiner", "word_joiner"},            // word joiner
		{"private\ue000.txt", "private_.txt"},          // private use (Co)
		{"line\u2028para\u2029.txt", "line_para_.txt"}, // Zl, Zp
		{"hangul\u3164filler", "hangul_filler"},        // Hangul filler
		{"\u200b.bashrc", "_.bashrc"},
		// Windows device names, with or without an extension, any case.
		{"NUL", "_NUL"},
		{"con.txt", "_con.txt"},
		{"Aux.tar.gz", "_Aux.tar.gz"},
		{"prn", "_prn"},
		{"COM0", "_COM0"},
		{"com9.log", "_com9.log"},
		{"LPT0", "_LPT0"},
		{"lpt1.txt", "_lpt1.txt"},
		{"COM\u00b9", "_COM\u00b9"}, // COM¹
		{"com\u00b2.txt", "_com\u00b2.txt"},
		{"LPT\u00b3", "_LPT\u00b3"},
		{"CONIN$", "_CONIN$"},
		{"conout$.txt", "_conout$.txt"},
		{"NUL .txt", "_NUL .txt"},
		{".con", "_con"},
		{"CLOCK$", "_CLOCK$"},
		// Names Windows Explorer reads as its own: a desktop.ini saved
		// into a folder changes how Explorer shows that folder.
		{"desktop.ini", "_desktop.ini"},
		{"Thumbs.db", "_Thumbs.db"},
		// What Windows forbids in a name is replaced, as browsers do:
		// such a file could not be copied to a Windows share or a USB
		// stick.
		{`a<b>c?d*e"f|g.txt`, "a_b_c_d_e_f_g.txt"},
		{"what?.txt", "what_.txt"},
		// Near misses stay as they are.
		{"CONSOLE.txt", "CONSOLE.txt"},
		{"COM10", "COM10"},
		{"nul-device", "nul-device"},
		{"LPT\u2074", "LPT\u2074"}, // LPT⁴ is no device
		// A name too long for a file system is cut from the end of its
		// stem, on a character boundary, keeping its extension.
		{strings.Repeat("a", 250) + ".pdf", strings.Repeat("a", 196) + ".pdf"},
		{strings.Repeat("é", 120) + ".txt", strings.Repeat("é", 98) + ".txt"},
		{strings.Repeat("b", 230), strings.Repeat("b", 200)},
		{strings.Repeat("x", 190) + "." + strings.Repeat("y", 30), strings.Repeat("x", 190) + "." + strings.Repeat("y", 9)}, // no extension that long
		{strings.Repeat("d", 195) + "  .    " + strings.Repeat("e", 20), strings.Repeat("d", 195)},                          // no dots or spaces left at the cut
	} {
		got, err := peer.SafeFileName(c.offered)
		if err != nil || got != c.want {
			t.Errorf("SafeFileName(%+q) = %+q, %v; want %+q", c.offered, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "..", ".", "a/..", "bell\a", "new\nline", "esc\x1b[2J", "x/", "\x85next", "a:b", " . ", "\xff.txt"} {
		if got, err := peer.SafeFileName(bad); err == nil {
			t.Errorf("SafeFileName(%+q) = %+q, want an error", bad, got)
		}
	}
	// The refusal names what is wrong.
	if _, err := peer.SafeFileName("file::$DATA"); err == nil || !strings.Contains(err.Error(), "colon") {
		t.Errorf("SafeFileName(file::$DATA): %v, want a refusal that names the colon", err)
	}
}

func TestUnwritableDownloadDirIsReportedToBothSides(t *testing.T) {
	_, alice, bob := alicePKI(t)
	// A download "directory" that is a file: no .part can be created in
	// it, for root too (a read-only directory would not stop root).
	down, _ := writeRandom(t, t.TempDir(), "not-a-dir", 1)
	ls, ds := connect(t, peer.Config{Identity: alice, DownloadDir: down}, peer.Config{Identity: bob})
	evs := receiverEvents(ls)
	go endOf(ds)
	path, _ := writeRandom(t, t.TempDir(), "f.bin", 1000)
	err := ds.SendFile(testContext(t), path, nil)
	if !errors.Is(err, peer.ErrFileRefused) || !strings.Contains(err.Error(), "cannot create the partial file of f.bin in the download directory (not a directory)") {
		t.Errorf("sender: %v", err)
	}
	if ev, ok := (<-evs).(peer.FileFailed); !ok || !strings.Contains(ev.Err.Error(), "not a directory") {
		t.Errorf("receiver: %+v", ev)
	}
}

// TestRestartedSenderStartsNewIDs: a sender that restarted numbers its
// transfers from 1 again; the receiver must not take its first file for
// the one it received under that id before the restart.
func TestRestartedSenderStartsNewIDs(t *testing.T) {
	_, alice, bob := alicePKI(t)
	down := t.TempDir()
	lcfg := resumeConfig(alice)
	lcfg.DownloadDir = down
	l, _ := startListener(t, lcfg)
	ls, ds := dialAccept(t, l, l.Addr().String(), reconnecting(resumeConfig(bob)))
	evs := receiverEvents(ls)
	go endOf(ds)
	src := t.TempDir()
	first, _ := writeRandom(t, src, "first.bin", 1000)
	second, want := writeRandom(t, src, "second.bin", 2000)
	if err := ds.SendFile(testContext(t), first, nil); err != nil {
		t.Fatal(err)
	}
	waitReceived(t, evs)
	peer.Kill(ds)

	ds2, err := peer.Dial(testContext(t), l.Addr().String(), reconnecting(resumeConfig(bob)))
	if err != nil {
		t.Fatalf("the restarted bob's dial: %v", err)
	}
	t.Cleanup(func() { ds2.Close() })
	go endOf(ds2)
	if err := ds2.SendFile(testContext(t), second, nil); err != nil {
		t.Fatal(err)
	}
	got, _ := waitReceived(t, evs)
	if b, err := os.ReadFile(filepath.Join(down, "second.bin")); err != nil || !bytes.Equal(b, want) || got.Name != "second.bin" {
		t.Fatalf("the restarted sender's file was not received (%+v, %v)", got, err)
	}
}

// TestRefusalDoesNotRevealTheDownloadDir: a .part that cannot be used
// (here a directory in its place) is refused by its base name; the
// receiver's directories are none of the sender's business.
func TestRefusalDoesNotRevealTheDownloadDir(t *testing.T) {
	_, alice, bob := alicePKI(t)
	down := t.TempDir()
	if err := os.Mkdir(partialOf(down, bob, "f.bin", 1000), 0o755); err != nil {
		t.Fatal(err)
	}
	ls, ds := connect(t, peer.Config{Identity: alice, DownloadDir: down}, peer.Config{Identity: bob})
	evs := receiverEvents(ls)
	go endOf(ds)
	path, _ := writeRandom(t, t.TempDir(), "f.bin", 1000)
	err := ds.SendFile(testContext(t), path, nil)
	if !errors.Is(err, peer.ErrFileRefused) || !strings.Contains(err.Error(), "partial file of f.bin") {
		t.Fatalf("sender: %v", err)
	}
	if strings.Contains(err.Error(), down) {
		t.Errorf("the sender learned the receiver's download directory: %v", err)
	}
	if _, ok := (<-evs).(peer.FileFailed); !ok {
		t.Error("the receiver reported no failure")
	}
}
