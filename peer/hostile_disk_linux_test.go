package peer_test

import (
	"strings"
	"syscall"
	"testing"

	"peerchat/peer"
	"peerchat/peer/peertest"
)

// TestOffersInFlightShareTheFreeSpace: the free-space check counts what
// the files already on their way still need. Two offers that each fit
// the download directory's disk but not together: the second is refused,
// on both sides, before any byte of either has moved. (Each offer alone
// fits, so a check that looks at each on its own accepts both and lets
// the peer fill the disk.)
func TestOffersInFlightShareTheFreeSpace(t *testing.T) {
	down := t.TempDir()
	var st syscall.Statfs_t
	if err := syscall.Statfs(down, &st); err != nil {
		t.Fatal(err)
	}
	free := uint64(st.Bavail) * uint64(st.Bsize)
	margin := min(uint64(st.Blocks)*uint64(st.Bsize)/100, 64<<20)
	if free < 2*margin+(64<<20) {
		t.Fatalf("the temporary directory's disk has only %d bytes free: too little to tell two offers apart", free)
	}
	size := (free - margin) * 6 / 10 // one fits, two do not
	h, _, evs, _ := hostileListener(t, peer.Config{DownloadDir: down})
	h.Offer(1, size, "first.bin")
	h.Offer(2, size, "second.bin")
	h.Flush()
	got := readReplies(t, h, 2)
	if len(got[peertest.FrameAccept]) != 1 || len(got[peertest.FrameReject]) != 1 {
		t.Fatalf("two offers of %d bytes each with %d bytes free: %d accepted, %d refused, want 1 and 1",
			size, free, len(got[peertest.FrameAccept]), len(got[peertest.FrameReject]))
	}
	if r := string(got[peertest.FrameReject][0][8:]); !strings.Contains(r, "second.bin") || !strings.Contains(r, "free some space there") {
		t.Errorf("the sender was told %q", r)
	}
	nextEvent[peer.FileOffered](t, evs)
	if f := nextEvent[peer.FileFailed](t, evs); f.Name != "second.bin" {
		t.Errorf("refused %s, want second.bin: %v", f.Name, f.Err)
	}
}
