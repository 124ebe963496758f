package peer_test

import (
	"os"
	"path/filepath"
	"testing"

	"peerchat/peer"
)

// openFDsOf counts this process's descriptors open on path.
func openFDsOf(t *testing.T, path string) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	n := 0
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && target == path {
			n++
		}
	}
	return n
}

// TestEndClosesThePartsBeingWritten: a conversation that ends in the
// middle of a file lets go of its .part (a listener with --keep-listening
// goes on to the next peer), and an offer answered after the end opens
// nothing.
func TestEndClosesThePartsBeingWritten(t *testing.T) {
	_, alice, bob := alicePKI(t)
	down := t.TempDir()
	ls, ds := connect(t, confirming(alice, down), peer.Config{Identity: bob})
	evs := fileEvents(ls)
	go endOf(ds)
	a, _ := writeRandom(t, t.TempDir(), "a.bin", 8<<20)
	b, _ := writeRandom(t, t.TempDir(), "b.bin", 1000)
	// The sender stops after its first chunks and stays there: the
	// conversation ends with a.bin half written.
	stuck := make(chan struct{})
	defer close(stuck)
	sendAsync(testContext(t), ds, a, func(p peer.FileProgress) {
		if p.Done >= 1<<20 {
			<-stuck
		}
	})
	offerA := nextEvent[peer.FileOffer](t, evs)
	if _, err := ls.AcceptFile(offerA.ID); err != nil {
		t.Fatal(err)
	}
	part := partialOf(down, bob, "a.bin", 8<<20)
	waitFor(t, "the first chunks in a.bin's partial file", func() bool {
		fi, err := os.Stat(part)
		return err == nil && fi.Size() > 0
	})
	sendAsync(testContext(t), ds, b, nil)
	offerB := nextEvent[peer.FileOffer](t, evs)

	ls.Close()
	if n := openFDsOf(t, part); n != 0 {
		t.Errorf("%d descriptors still open on a.bin's partial file after the conversation ended", n)
	}
	if _, err := ls.AcceptFile(offerB.ID); err == nil {
		t.Error("an offer was accepted after the conversation ended")
	}
	if n := openFDsOf(t, partialOf(down, bob, "b.bin", 1000)); n != 0 {
		t.Errorf("%d descriptors open on b.bin's partial file, accepted after the end", n)
	}
}
