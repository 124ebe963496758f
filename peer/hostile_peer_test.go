package peer_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"peerchat/peer"
	"peerchat/peer/peertest"
)

// A peer with a valid certificate that misbehaves on the wire
// (peertest.Hostile): the listener must keep its memory, descriptors,
// disk and files whatever it sends.

// hostileListener listens with cfg, has a Hostile with bob's certificate
// connect, and returns both ends; the listener's events arrive on evs,
// and its end on ended.
func hostileListener(t *testing.T, cfg peer.Config) (h *peertest.Hostile, ls *peer.Session, evs <-chan peer.Event, ended <-chan error) {
	t.Helper()
	pki := peertest.NewPKI(t)
	cfg.Identity = pki.Identity(t, "alice")
	bob := pki.Identity(t, "bob")
	l, _ := startListener(t, cfg)
	accepted := make(chan *peer.Session, 1)
	go func() {
		s, _ := l.Accept(testContext(t))
		accepted <- s
	}()
	h = peertest.DialHostile(t, l.Addr().String(), bob)
	t.Cleanup(func() { h.Close() })
	ls = <-accepted
	if ls == nil {
		t.Fatal("the listener accepted no session")
	}
	t.Cleanup(func() { ls.Close() })
	ch := make(chan peer.Event, 4096)
	end := make(chan error, 1)
	go func() {
		defer close(ch)
		for {
			ev, err := ls.Next()
			if err != nil {
				end <- err
				return
			}
			if ev != nil {
				select {
				case ch <- ev:
				default: // a flood: the test counts what it needs elsewhere
				}
			}
		}
	}()
	return h, ls, ch, end
}

// TestNeverReadingOfferFloodIsCutOff: a peer that offers files as fast
// as it can and reads none of the refusals makes the listener owe
// replies it cannot send. At the bound (in frames and bytes) the listener
// stops reading, and when the peer still reads nothing it ends the
// conversation with a protocol error that names the cause, having owed
// no more than the bound.
func TestNeverReadingOfferFloodIsCutOff(t *testing.T) {
	h, ls, _, ended := hostileListener(t, peer.Config{}) // takes no files: every offer is refused
	flooded := make(chan int, 1)
	go func() {
		n := 0
		for ; n < 300_000; n++ {
			if h.Offer(uint64(n+1), 1000, "flood.bin") != nil {
				break
			}
		}
		h.Flush()
		flooded <- n
	}()
	peak := 0
	var err error
	deadline := time.After(testTimeout)
wait:
	for {
		select {
		case err = <-ended:
			break wait
		case <-deadline:
			t.Fatal("the listener still owes replies to a peer that never reads, and has not ended the conversation")
		case <-time.After(time.Millisecond):
			if _, frames, _ := peer.Owed(ls); frames > peak {
				peak = frames
			}
		}
	}
	pe := wantErrorAs[*peer.ProtocolError](t, err)
	if !strings.Contains(pe.Reason, "too many replies owed") {
		t.Errorf("the conversation ended with %q, want the cause named", pe.Reason)
	}
	n, frames, capacity := peer.Owed(ls)
	// The reader stops at the bound: one reply over it at most.
	if frames > peer.MaxCtlFramesOwed+1 || n > peer.MaxCtlOwed+2<<10 || peak > peer.MaxCtlFramesOwed+1 {
		t.Errorf("owed %d bytes in %d frames (peak %d frames), over the bound of %d bytes, %d frames", n, frames, peak, peer.MaxCtlOwed, peer.MaxCtlFramesOwed)
	}
	if capacity > peer.MaxCtlOwed {
		t.Errorf("a %d-byte buffer is kept for the replies", capacity)
	}
	h.Close()
	t.Logf("cut off after the peer wrote %d offers: %s", <-flooded, pe.Reason)
}

// TestAReplyBurstIsNotKept: replies owed while the peer read nothing for
// a while are sent once it reads again, and the buffer that held them is
// let go of.
func TestAReplyBurstIsNotKept(t *testing.T) {
	h, ls, _, ended := hostileListener(t, peer.Config{})
	// 200 refusals of ~130 bytes: under the frame bound, well over 4 KiB.
	for i := range 200 {
		h.Offer(uint64(i+1), 10, "x.bin")
	}
	h.Flush()
	got := 0
	h.Conn.SetReadDeadline(time.Now().Add(testTimeout))
	for got < 200 {
		typ, _, err := h.ReadFrame()
		if err != nil {
			t.Fatalf("after %d refusals: %v", got, err)
		}
		if typ == peertest.FrameReject {
			got++
		}
	}
	waitFor(t, "the reply buffer let go of", func() bool {
		_, _, capacity := peer.Owed(ls)
		return capacity <= 4<<10
	})
	select {
	case err := <-ended:
		t.Fatalf("the conversation ended: %v", err)
	default:
	}
}

// readReplies reads frames from h until want replies to offers (accept,
// reject, verified) arrived, and returns them by type.
func readReplies(t *testing.T, h *peertest.Hostile, want int) map[byte][][]byte {
	t.Helper()
	got := map[byte][][]byte{}
	h.Conn.SetReadDeadline(time.Now().Add(testTimeout))
	for n := 0; n < want; {
		typ, p, err := h.ReadFrame()
		if err != nil {
			t.Fatalf("after %d replies: %v", n, err)
		}
		switch typ {
		case peertest.FrameAccept, peertest.FrameReject, peertest.FrameVerify:
			got[typ] = append(got[typ], p)
			n++
		}
	}
	return got
}

// partials lists the partial files in dir.
func partials(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, ".peerchat-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fdCount counts this process's open descriptors; 0 where the system
// does not list them (no /proc), which leaves only that count untested.
func fdCount(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(fds)
}

// TestFilesInFlightAreBounded: a peer may have at most 8 files on their
// way at once; further offers are refused as "too many files at once".
// Offers that never sent a byte hold no descriptor and leave nothing on
// disk, when refused, cancelled or when the peer leaves; 3,000 offers with distinct
// names, each sending a byte, hold at most 8 descriptors and leave at
// most 8 partial files.
func TestFilesInFlightAreBounded(t *testing.T) {
	for _, confirm := range []bool{false, true} {
		down := t.TempDir()
		h, _, evs, ended := hostileListener(t, peer.Config{DownloadDir: down, ConfirmFiles: confirm, MaxFileSize: 1 << 10})
		before := fdCount(t)
		const offers = 20
		for i := range offers {
			h.Offer(uint64(i+1), 100, "f"+string(rune('a'+i))+".bin")
		}
		h.Flush()
		want := offers - peer.MaxFilesInFlight
		if !confirm {
			want = offers // 8 accepts and 12 refusals
		}
		got := readReplies(t, h, want)
		if confirm {
			for range peer.MaxFilesInFlight {
				nextEvent[peer.FileOffer](t, evs)
			}
		} else if n := len(got[peertest.FrameAccept]); n != peer.MaxFilesInFlight {
			t.Errorf("confirm=%v: %d offers accepted, want %d", confirm, n, peer.MaxFilesInFlight)
		}
		for _, p := range got[peertest.FrameReject] {
			if !strings.Contains(string(p[8:]), "too many files at once") {
				t.Errorf("confirm=%v: refused with %q", confirm, p[8:])
			}
		}
		if n := len(got[peertest.FrameReject]); n != offers-peer.MaxFilesInFlight {
			t.Errorf("confirm=%v: %d offers refused, want %d", confirm, n, offers-peer.MaxFilesInFlight)
		}
		if n := fdCount(t); n > before {
			t.Errorf("confirm=%v: %d descriptors more for offers that sent no byte", confirm, n-before)
		}
		// One cancelled, the others left when the peer hangs up.
		h.IDFrame(peertest.FrameCancel, 1, []byte("changed my mind"))
		h.Flush()
		nextEvent[peer.FileFailed](t, evs)
		h.Close()
		<-ended
		if left, _ := os.ReadDir(down); len(left) != 0 {
			t.Errorf("confirm=%v: offers that sent no byte left %d files: %v", confirm, len(left), left)
		}
	}
}

// TestThousandsOfOffersHoldFewDescriptors: 3,000 offers of distinct
// names, and 3,000 of one name, each followed by a byte, to a listener
// with --accept-files and --max-file-size 1K.
func TestThousandsOfOffersHoldFewDescriptors(t *testing.T) {
	for _, same := range []bool{false, true} {
		thousandsOfOffers(t, same)
	}
}

func thousandsOfOffers(t *testing.T, sameName bool) {
	down := t.TempDir()
	h, _, _, ended := hostileListener(t, peer.Config{DownloadDir: down, MaxFileSize: 1 << 10})
	before := fdCount(t)
	const offers = 3000
	peakFDs := 0
	accepted := 0
	go func() {
		for i := range offers {
			id := uint64(i + 1)
			name := fmt.Sprintf("distinct-%d.bin", i)
			if sameName {
				name = "same.bin"
			}
			h.Offer(id, 100, name)
			h.IDFrame(peertest.FrameChunk, id, []byte{'x'})
		}
		h.Flush()
	}()
	h.Conn.SetReadDeadline(time.Now().Add(testTimeout))
	for n := 0; n < offers; {
		typ, p, err := h.ReadFrame()
		if err != nil {
			t.Fatalf("after %d replies: %v", n, err)
		}
		switch typ {
		case peertest.FrameAccept:
			accepted++
			n++
		case peertest.FrameReject:
			if !strings.Contains(string(p[8:]), "too many files at once") {
				t.Errorf("refused with %q", p[8:])
			}
			n++
		}
		if n%100 == 0 {
			peakFDs = max(peakFDs, fdCount(t)-before)
		}
	}
	peakFDs = max(peakFDs, fdCount(t)-before)
	if accepted > peer.MaxFilesInFlight {
		t.Errorf("%d offers accepted at once, want at most %d", accepted, peer.MaxFilesInFlight)
	}
	if peakFDs > peer.MaxFilesInFlight {
		t.Errorf("%d descriptors more under %d offers, want at most %d", peakFDs, offers, peer.MaxFilesInFlight)
	}
	if n := len(partials(t, down)); n > peer.MaxFilesInFlight {
		t.Errorf("%d partial files, want at most %d", n, peer.MaxFilesInFlight)
	}
	h.Close()
	<-ended
	t.Logf("3000 offers (one name: %v): %d accepted, %d descriptors at most, %d partial files", sameName, accepted, peakFDs, len(partials(t, down)))
}

// TestPingAndAckFloodsOweLittle: a peer that never reads and floods
// pings that ask for an answer, and acknowledgements, is owed 16 pongs at
// most and nothing for the acknowledgements, and is not taken for a
// protocol breaker: the heartbeat deals with a peer that stopped reading.
func TestPingAndAckFloodsOweLittle(t *testing.T) {
	h, ls, _, ended := hostileListener(t, peer.Config{})
	const flood = 200_000
	for i := range flood {
		h.Ping(uint64(i + 1))
		h.Ack(0)
	}
	h.Flush()
	// The last ping is the listener's to answer once it has read them all.
	h.Ping(1 << 62)
	h.Flush()
	waitFor(t, "the flood read", func() bool { return peer.PongsOwed(ls) > 0 })
	peak := 0
	for range 100 {
		peak = max(peak, peer.PongsOwed(ls))
		if _, frames, _ := peer.Owed(ls); frames != 0 {
			t.Fatalf("%d file replies owed for pings and acks", frames)
		}
		time.Sleep(time.Millisecond)
	}
	if peak > 16 {
		t.Errorf("%d pongs owed", peak)
	}
	select {
	case err := <-ended:
		t.Fatalf("the conversation ended: %v", err)
	default:
	}
}

// TestHostileNamesAreSavedSafely: names from a table, each sent whole by
// the hostile peer, are saved under the safe name, and the verdict tells
// the sender that name.
func TestHostileNamesAreSavedSafely(t *testing.T) {
	down := t.TempDir()
	h, _, _, _ := hostileListener(t, peer.Config{DownloadDir: down})
	data := []byte("payload")
	sum := blake3.Sum256(data)
	for i, c := range []struct{ offered, saved string }{
		{".bash_profile", "bash_profile"},
		{"invoice\u202efdp.exe", "invoice_fdp.exe"},
		{"../.ssh/authorized_keys", "authorized_keys"},
		{"COM\u00b9", "_COM\u00b9"},
		{"conout$.log", "_conout$.log"},
		{"zero\u200bwidth.txt", "zero_width.txt"},
		{"bash_profile", "bash_profile (2)"},
	} {
		id := uint64(i + 1)
		h.Offer(id, uint64(len(data)), c.offered)
		h.IDFrame(peertest.FrameChunk, id, data)
		h.IDFrame(peertest.FrameDone, id, sum[:])
		h.Flush()
		got := readReplies(t, h, 2)
		v := got[peertest.FrameVerify]
		if len(got[peertest.FrameAccept]) != 1 || len(v) != 1 || v[0][8] != 1 {
			t.Fatalf("%+q: replies %q", c.offered, got)
		}
		if saved := string(v[0][9:]); saved != c.saved {
			t.Errorf("%+q: the sender was told it was saved as %+q, want %+q", c.offered, saved, c.saved)
		}
		if b, err := os.ReadFile(filepath.Join(down, c.saved)); err != nil || string(b) != string(data) {
			t.Errorf("%+q: not saved as %+q: %v", c.offered, c.saved, err)
		}
	}
	entries, _ := os.ReadDir(down)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("a hidden file was saved: %q", e.Name())
		}
	}
}

// TestPartialIsNotFollowedThroughASymlink: a symbolic link planted at
// the partial file's name is never followed, whether it is there when
// the offer comes, appears between the accept and the first byte, or
// replaced a partial file that held part of the file (a swap): the
// link's target keeps its content, and its size is not told.
func TestPartialIsNotFollowedThroughASymlink(t *testing.T) {
	down := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	precious := []byte("precious, and 26 bytes long")
	if err := os.WriteFile(victim, precious, 0o644); err != nil {
		t.Fatal(err)
	}
	h, ls, _, _ := hostileListener(t, peer.Config{DownloadDir: down})
	fp := ls.Peer().Fingerprint
	data := []byte("0123456789abcdefghijklmnopqrstuvwxyz0123456789")
	sum := blake3.Sum256(data)
	part := filepath.Join(down, peer.PartialName(fp, "s.bin", int64(len(data))))
	id := uint64(0)
	offer := func() map[byte][][]byte {
		id++
		h.Offer(id, uint64(len(data)), "s.bin")
		h.Flush()
		return readReplies(t, h, 1)
	}

	// 1. There before the offer.
	if err := os.Symlink(victim, part); err != nil {
		t.Fatal(err)
	}
	if got := offer(); len(got[peertest.FrameReject]) != 1 {
		t.Errorf("a symlink at the partial's name: %q", got)
	}
	os.Remove(part)

	// 2. Planted between the accept and the first byte.
	if got := offer(); len(got[peertest.FrameAccept]) != 1 {
		t.Fatalf("offer: %q", got)
	}
	if err := os.Symlink(victim, part); err != nil {
		t.Fatalf("the partial file exists before its first byte: %v", err)
	}
	h.IDFrame(peertest.FrameChunk, id, data[:10])
	h.Flush()
	if got := readReplies(t, h, 1); len(got[peertest.FrameReject]) != 1 {
		t.Errorf("a symlink planted after the accept: %q", got)
	}
	os.Remove(part)

	// 3. Swapped for a partial file that held 10 bytes.
	if got := offer(); len(got[peertest.FrameAccept]) != 1 {
		t.Fatalf("offer: %q", got)
	}
	h.IDFrame(peertest.FrameChunk, id, data[:10])
	h.IDFrame(peertest.FrameCancel, id, []byte("later"))
	h.Flush()
	waitFor(t, "the 10 bytes in the partial file", func() bool {
		fi, err := os.Lstat(part)
		return err == nil && fi.Size() == 10
	})
	os.Remove(part)
	if err := os.Symlink(victim, part); err != nil {
		t.Fatal(err)
	}
	got := offer()
	for _, a := range got[peertest.FrameAccept] {
		if off := binary.BigEndian.Uint64(a[8:]); off != 0 {
			t.Errorf("after the swap, the accept told the sender an offset of %d", off)
		}
	}
	if len(got[peertest.FrameReject]) != 1 {
		t.Errorf("a symlink swapped for the partial: %q", got)
	}
	if b, _ := os.ReadFile(victim); string(b) != string(precious) {
		t.Errorf("the symlink's target was written: %q", b)
	}
	// And the file still arrives, once the link is gone.
	os.Remove(part)
	if got := offer(); len(got[peertest.FrameAccept]) != 1 {
		t.Fatalf("offer: %q", got)
	}
	h.IDFrame(peertest.FrameChunk, id, data)
	h.IDFrame(peertest.FrameDone, id, sum[:])
	h.Flush()
	if got := readReplies(t, h, 1); len(got[peertest.FrameVerify]) != 1 || got[peertest.FrameVerify][0][8] != 1 {
		t.Fatalf("replies %q", got)
	}
}

// TestForeignPartIsLeftAlone: a NAME.part that another program left (a
// browser's) is not resumed, truncated or disclosed by an offer of NAME.
func TestForeignPartIsLeftAlone(t *testing.T) {
	down := t.TempDir()
	foreign := filepath.Join(down, "notes.part")
	theirs := []byte(strings.Repeat("a browser's download, half done\n", 100))
	if err := os.WriteFile(foreign, theirs, 0o644); err != nil {
		t.Fatal(err)
	}
	h, ls, evs, _ := hostileListener(t, peer.Config{DownloadDir: down, ConfirmFiles: true})
	data := make([]byte, 2*len(theirs))
	sum := blake3.Sum256(data)
	h.Offer(1, uint64(len(data)), "notes")
	h.Flush()
	o := nextEvent[peer.FileOffer](t, evs)
	if o.Have != 0 {
		t.Errorf("the offer reports %d bytes held, the size of another program's file", o.Have)
	}
	if _, err := ls.AcceptFile(o.ID); err != nil {
		t.Fatal(err)
	}
	got := readReplies(t, h, 1)
	a := got[peertest.FrameAccept]
	if len(a) != 1 {
		t.Fatalf("replies %q", got)
	}
	if off := binary.BigEndian.Uint64(a[0][8:]); off != 0 {
		t.Errorf("the accept told the sender an offset of %d, the size of another program's file", off)
	}
	h.IDFrame(peertest.FrameChunk, 1, data)
	h.IDFrame(peertest.FrameDone, 1, sum[:])
	h.Flush()
	if got := readReplies(t, h, 1); len(got[peertest.FrameVerify]) != 1 || got[peertest.FrameVerify][0][8] != 1 {
		t.Fatalf("replies %q", got)
	}
	if b, err := os.ReadFile(foreign); err != nil || string(b) != string(theirs) {
		t.Errorf("the foreign notes.part was changed (%d bytes, %v)", len(b), err)
	}
	if b, err := os.ReadFile(filepath.Join(down, "notes")); err != nil || len(b) != len(data) {
		t.Errorf("notes was not received whole: %d bytes, %v", len(b), err)
	}
}

// TestOfferOverTheFreeSpaceIsRefused: a file larger than the download
// directory's disk can hold is refused before any byte, with a reason
// the sender is told too.
func TestOfferOverTheFreeSpaceIsRefused(t *testing.T) {
	down := t.TempDir()
	h, _, evs, _ := hostileListener(t, peer.Config{DownloadDir: down})
	h.Offer(1, 1<<61, "huge.bin")
	h.Flush()
	got := readReplies(t, h, 1)
	if r := got[peertest.FrameReject]; len(r) != 1 || !strings.Contains(string(r[0][8:]), "free some space there") {
		t.Fatalf("sender was told %q", got)
	}
	f := nextEvent[peer.FileFailed](t, evs)
	if !strings.Contains(f.Err.Error(), "free some space there") {
		t.Errorf("receiver: %v", f.Err)
	}
	if left, _ := os.ReadDir(down); len(left) != 0 {
		t.Errorf("left on disk: %v", left)
	}
}
