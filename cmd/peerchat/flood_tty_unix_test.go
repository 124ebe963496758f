//go:build unix

package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"peerchat/peer"
	"peerchat/peer/peertest"
)

// TestChatScreenUnderAnOfferFlood: 3,000 offers from a peer with a valid
// certificate to a chat screen that asks about each. Eight are asked
// about (a peer's files on their way at once), ten refusals are shown,
// and one line sums up the rest when the ten seconds are over: the
// screen's table of offers and its notices stay bounded.
func TestChatScreenUnderAnOfferFlood(t *testing.T) {
	const offers = 3000
	dir := certsDir(t)
	alice, addr := listenTTY(t, 200, dir, "--download-dir", t.TempDir())
	bob, err := peer.LoadIdentity(peer.FilesFor(dir, "bob"))
	if err != nil {
		t.Fatal(err)
	}
	h := peertest.DialHostile(t, addr, bob)
	defer h.Close()
	alice.waitRow(`^` + clock + ` -- connected to bob `)
	go func() {
		for i := range offers {
			h.Offer(uint64(i+1), 100, fmt.Sprintf("flood-%04d.txt", i))
		}
		h.Flush()
	}()
	h.Conn.SetReadDeadline(time.Now().Add(procTimeout))
	for refused := 0; refused < offers-8; {
		typ, _, err := h.ReadFrame()
		if err != nil {
			t.Fatalf("after %d refusals: %v", refused, err)
		}
		if typ == peertest.FrameReject {
			refused++
		}
	}
	alice.waitRow(`^` + clock + ` -- and 2982 more file offer\(s\) from bob refused in the last 10(\.\d)?s \(at most 10 are shown per 10s\)$`)
	out := string(alice.rawOutput())
	if n := strings.Count(out, "bob offers flood-"); n != 8 {
		t.Errorf("%d offers asked about, want 8", n)
	}
	if n := strings.Count(out, "refused flood-"); n != 10 {
		t.Errorf("%d refusals shown, want 10", n)
	}
}
