package peer_test

import (
	"fmt"
	"strings"
	"testing"

	"peerchat/peer"
	"peerchat/peer/peertest"
)

// TestCancelledFilesLeaveBoundedPartials: partial files stay, to resume
// from, when the sender cancels; a peer that offers file after file,
// sends a byte of each and cancels it, must not fill the download
// directory with hidden files. Past MaxPartialFiles unfinished files a
// new file is refused, on both sides, with a reason that says what to do.
func TestCancelledFilesLeaveBoundedPartials(t *testing.T) {
	down := t.TempDir()
	h, _, _, _ := hostileListener(t, peer.Config{DownloadDir: down, MaxFileSize: 1 << 10})
	const offers = 300
	for i := range offers {
		id := uint64(i + 1)
		h.Offer(id, 100, fmt.Sprintf("f%d.bin", i))
		h.IDFrame(peertest.FrameChunk, id, []byte("x"))
		h.IDFrame(peertest.FrameCancel, id, []byte("changed my mind"))
	}
	h.Flush()
	got := readReplies(t, h, offers)
	if n := len(got[peertest.FrameAccept]); n != peer.MaxPartialFiles {
		t.Errorf("%d offers accepted, want %d", n, peer.MaxPartialFiles)
	}
	for _, p := range got[peertest.FrameReject] {
		if !strings.Contains(string(p[8:]), "unfinished files") {
			t.Fatalf("refused with %q", p[8:])
		}
	}
	// A ping's answer comes after every frame before it is handled.
	h.Ping(7)
	h.Flush()
	for {
		typ, _, err := h.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if typ == peertest.FramePong {
			break
		}
	}
	if n := len(partials(t, down)); n > peer.MaxPartialFiles {
		t.Errorf("%d partial files left by %d cancelled offers, want at most %d", n, offers, peer.MaxPartialFiles)
	}
}
