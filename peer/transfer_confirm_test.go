package peer_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"peerchat/peer"
)

// The receiving side with Config.ConfirmFiles: every offer waits for a
// person's answer, and either side can end a transfer.

// fileEvents reads s in the background and passes on every event.
func fileEvents(s *peer.Session) <-chan peer.Event {
	ch := make(chan peer.Event, 1024)
	go func() {
		defer close(ch)
		for {
			ev, err := s.Next()
			if err != nil {
				return
			}
			if ev != nil {
				ch <- ev
			}
		}
	}()
	return ch
}

// nextEvent returns the next event of type E from evs, skipping others.
func nextEvent[E peer.Event](t *testing.T, evs <-chan peer.Event) E {
	t.Helper()
	timeout := time.After(testTimeout)
	for {
		select {
		case ev, ok := <-evs:
			if !ok {
				var zero E
				t.Fatalf("the session ended before a %T", zero)
			}
			if e, ok := ev.(E); ok {
				return e
			}
		case <-timeout:
			var zero E
			t.Fatalf("no %T", zero)
		}
	}
}

// sendAsync runs SendFile on its own goroutine; the error arrives later.
func sendAsync(ctx context.Context, s *peer.Session, path string, progress func(peer.FileProgress)) <-chan error {
	done := make(chan error, 1)
	go func() { done <- s.SendFile(ctx, path, progress) }()
	return done
}

func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(testTimeout):
		t.Fatal("SendFile did not return")
		return nil
	}
}

func confirming(id *peer.Identity, dir string) peer.Config {
	return peer.Config{Identity: id, DownloadDir: dir, ConfirmFiles: true}
}

func TestAcceptedOfferResumesWhatThePartHolds(t *testing.T) {
	_, alice, bob := alicePKI(t)
	down := t.TempDir()
	path, want := writeRandom(t, t.TempDir(), "report.pdf", 4<<20)
	have := int64(len(want) * 63 / 100)
	if err := os.WriteFile(partialOf(down, bob, "report.pdf", 4<<20), want[:have], 0o644); err != nil {
		t.Fatal(err)
	}
	ls, ds := connect(t, confirming(alice, down), peer.Config{Identity: bob})
	evs := fileEvents(ls)
	go endOf(ds)

	var starts []peer.FileProgress
	done := sendAsync(testContext(t), ds, path, func(p peer.FileProgress) {
		if p.Start {
			starts = append(starts, p)
		}
	})
	offer := nextEvent[peer.FileOffer](t, evs)
	if offer.Name != "report.pdf" || offer.Size != int64(len(want)) || offer.Have != have {
		t.Fatalf("offer %+v, want report.pdf, %d bytes, %d held", offer, len(want), have)
	}
	if _, err := os.Stat(filepath.Join(down, "report.pdf")); !os.IsNotExist(err) {
		t.Fatal("something was written before the offer was accepted")
	}
	got, err := ls.AcceptFile(offer.ID)
	if err != nil || got.Offset != have {
		t.Fatalf("AcceptFile = %+v, %v; want offset %d", got, err, have)
	}
	if err := wait(t, done); err != nil {
		t.Fatalf("SendFile: %v", err)
	}
	if len(starts) != 1 || starts[0].Done != have {
		t.Errorf("the sender's attempts started at %+v, want one at %d", starts, have)
	}
	rcv := nextEvent[peer.FileReceived](t, evs)
	if b, err := os.ReadFile(rcv.Path); err != nil || !bytes.Equal(b, want) {
		t.Fatalf("received file differs (%v)", err)
	}
	if _, err := ls.AcceptFile(offer.ID); err == nil {
		t.Error("an offer was accepted twice")
	}
}

func TestReceiverProgressIsMonotonic(t *testing.T) {
	_, alice, bob := alicePKI(t)
	ls, ds := connect(t, peer.Config{Identity: alice, DownloadDir: t.TempDir()}, peer.Config{Identity: bob})
	evs := fileEvents(ls)
	go endOf(ds)
	size := int64(16 << 20)
	path, _ := writeRandom(t, t.TempDir(), "big.bin", int(size))
	// Reports come by time: the sender pauses once, halfway, for longer
	// than the interval, so the next chunk must bring one.
	paused := false
	done := sendAsync(testContext(t), ds, path, func(p peer.FileProgress) {
		if !paused && p.Done >= size/2 {
			paused = true
			time.Sleep(2 * peer.ProgressInterval)
		}
	})
	var last int64
	var reports int
	for received := false; !received; {
		switch ev := (<-evs).(type) {
		case peer.FileProgress:
			if ev.Done < last || ev.Done > ev.Size || ev.Size != size || ev.Name != "big.bin" {
				t.Fatalf("progress %+v after %d", ev, last)
			}
			last = ev.Done
			reports++
		case peer.FileReceived:
			received = true
		case nil:
			t.Fatal("receiver ended")
		}
	}
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
	if last <= size/2 {
		t.Errorf("%d progress reports, the last at %d of %d; want one after the pause at half", reports, last, size)
	}
}

func TestRejectedOfferTellsTheSenderWhy(t *testing.T) {
	_, alice, bob := alicePKI(t)
	down := t.TempDir()
	ls, ds := connect(t, confirming(alice, down), peer.Config{Identity: bob})
	evs := fileEvents(ls)
	go endOf(ds)
	path, _ := writeRandom(t, t.TempDir(), "unwanted.bin", 1000)
	done := sendAsync(testContext(t), ds, path, nil)
	offer := nextEvent[peer.FileOffer](t, evs)
	if err := ls.RejectFile(offer.ID, "alice declined it"); err != nil {
		t.Fatal(err)
	}
	err := wait(t, done)
	if !errors.Is(err, peer.ErrFileRefused) || !strings.Contains(err.Error(), "alice declined it") {
		t.Errorf("sender: %v", err)
	}
	if entries, _ := os.ReadDir(down); len(entries) != 0 {
		t.Errorf("a rejected file left %v", entries)
	}
	if err := ls.RejectFile(offer.ID, "again"); err == nil {
		t.Error("an offer was rejected twice")
	}
}

func TestReceiverCancelsMidTransferKeepingThePart(t *testing.T) {
	_, alice, bob := alicePKI(t)
	down := t.TempDir()
	ls, ds := connect(t, confirming(alice, down), peer.Config{Identity: bob})
	evs := fileEvents(ls)
	go endOf(ds)
	path, _ := writeRandom(t, t.TempDir(), "long.bin", 16<<20)
	// The sender pauses after its first chunks until the receiver has
	// cancelled, so the cancellation surely lands mid-transfer.
	cancelled := make(chan struct{})
	done := sendAsync(testContext(t), ds, path, func(p peer.FileProgress) {
		if p.Done >= 1<<20 {
			<-cancelled
		}
	})
	offer := nextEvent[peer.FileOffer](t, evs)
	if _, err := ls.AcceptFile(offer.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first chunks in the partial file of long.bin", func() bool {
		fi, err := os.Stat(partialOf(down, bob, "long.bin", 16<<20))
		return err == nil && fi.Size() > 0
	})
	if err := ls.CancelFile(offer.ID, "alice cancelled it"); err != nil {
		t.Fatal(err)
	}
	close(cancelled)
	err := wait(t, done)
	if !errors.Is(err, peer.ErrFileRefused) || !strings.Contains(err.Error(), "alice cancelled it") {
		t.Errorf("sender: %v", err)
	}
	if fi, err := os.Stat(partialOf(down, bob, "long.bin", 16<<20)); err != nil || fi.Size() == 0 {
		t.Errorf("the partial file was not kept for a later resume: %v", err)
	}
	if err := ls.CancelFile(offer.ID, "again"); err == nil {
		t.Error("a file was cancelled twice")
	}
}

func TestSenderCancelsAnOpenOffer(t *testing.T) {
	_, alice, bob := alicePKI(t)
	ls, ds := connect(t, confirming(alice, t.TempDir()), peer.Config{Identity: bob})
	evs := fileEvents(ls)
	go endOf(ds)
	path, _ := writeRandom(t, t.TempDir(), "oops.bin", 1000)
	ctx, cancel := context.WithCancel(testContext(t))
	done := sendAsync(ctx, ds, path, nil)
	offer := nextEvent[peer.FileOffer](t, evs)
	cancel()
	if err := wait(t, done); !errors.Is(err, context.Canceled) {
		t.Errorf("sender: %v", err)
	}
	failed := nextEvent[peer.FileFailed](t, evs)
	if failed.ID != offer.ID || !strings.Contains(failed.Err.Error(), "bob cancelled oops.bin") {
		t.Errorf("receiver: %+v", failed)
	}
	if _, err := ls.AcceptFile(offer.ID); err == nil {
		t.Error("a cancelled offer was accepted")
	}
}

// TestSameNameTwiceAtOnce: two files offered under one name at the same
// time each write their own .part, and both arrive whole, side by side.
func TestSameNameTwiceAtOnce(t *testing.T) {
	_, alice, bob := alicePKI(t)
	down := t.TempDir()
	ls, ds := connect(t, peer.Config{Identity: alice, DownloadDir: down}, peer.Config{Identity: bob})
	evs := fileEvents(ls)
	go endOf(ds)
	a, wantA := writeRandom(t, t.TempDir(), "same.bin", 3<<20)
	b, wantB := writeRandom(t, t.TempDir(), "same.bin", 2<<20)
	doneA := sendAsync(testContext(t), ds, a, nil)
	doneB := sendAsync(testContext(t), ds, b, nil)
	var got [][]byte
	for len(got) < 2 {
		switch ev := (<-evs).(type) {
		case peer.FileReceived:
			data, err := os.ReadFile(ev.Path)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, data)
		case peer.FileFailed:
			t.Fatalf("a transfer failed (a shared .part?): %v", ev.Err)
		case nil:
			t.Fatal("receiver ended")
		}
	}
	if err := wait(t, doneA); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, doneB); err != nil {
		t.Fatal(err)
	}
	if !(bytes.Equal(got[0], wantA) && bytes.Equal(got[1], wantB)) && !(bytes.Equal(got[0], wantB) && bytes.Equal(got[1], wantA)) {
		t.Error("the two files arrived mixed up")
	}
	names, _ := filepath.Glob(filepath.Join(down, "*"))
	if len(names) != 2 {
		t.Errorf("download dir holds %v, want same.bin and same (2).bin", names)
	}
}

// TestCancelEndsOnlyItsOwnDirection: both sides send a file at once, so
// both transfers carry id 1, one in each direction. The receiver ending
// the file it receives must stop that one only: the file it sends, under
// the same id, goes on and arrives.
func TestCancelEndsOnlyItsOwnDirection(t *testing.T) {
	_, alice, bob := alicePKI(t)
	aliceDown, bobDown := t.TempDir(), t.TempDir()
	ls, ds := connect(t, confirming(alice, aliceDown), confirming(bob, bobDown))
	aliceEvs, bobEvs := fileEvents(ls), fileEvents(ds)
	toAlice, _ := writeRandom(t, t.TempDir(), "to-alice.bin", 8<<20)
	toBob, wantBob := writeRandom(t, t.TempDir(), "to-bob.bin", 8<<20)
	// Both senders pause after their first chunks until alice has
	// cancelled, so that both transfers are under way when she does.
	cancelled := make(chan struct{})
	pause := func(p peer.FileProgress) {
		if p.Done >= 1<<20 {
			<-cancelled
		}
	}
	doneToAlice := sendAsync(testContext(t), ds, toAlice, pause)
	doneToBob := sendAsync(testContext(t), ls, toBob, pause)
	offerToAlice := nextEvent[peer.FileOffer](t, aliceEvs)
	offerToBob := nextEvent[peer.FileOffer](t, bobEvs)
	if offerToAlice.ID != offerToBob.ID {
		t.Fatalf("ids %d and %d; the test wants the same id in both directions", offerToAlice.ID, offerToBob.ID)
	}
	if _, err := ls.AcceptFile(offerToAlice.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ds.AcceptFile(offerToBob.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first chunks in the partial file of to-alice.bin", func() bool {
		fi, err := os.Stat(partialOf(aliceDown, bob, "to-alice.bin", 8<<20))
		return err == nil && fi.Size() > 0
	})
	if err := ls.CancelFile(offerToAlice.ID, "alice cancelled it"); err != nil {
		t.Fatal(err)
	}
	close(cancelled)
	if err := wait(t, doneToAlice); !errors.Is(err, peer.ErrFileRefused) {
		t.Errorf("bob sending to alice: %v, want refused", err)
	}
	if err := wait(t, doneToBob); err != nil {
		t.Fatalf("alice sending to bob: %v (her cancel of the other file stopped it)", err)
	}
	rcv := nextEvent[peer.FileReceived](t, bobEvs)
	if b, err := os.ReadFile(rcv.Path); err != nil || !bytes.Equal(b, wantBob) {
		t.Fatalf("bob's copy differs (%v)", err)
	}
}

// TestSenderCancelWhileDisconnectedReachesTheReceiver: a sender that
// gives up on a file while its connection is down tells the receiver once
// it is back, so that the offer does not stay open there, to be accepted
// for nothing.
func TestSenderCancelWhileDisconnectedReachesTheReceiver(t *testing.T) {
	_, alice, bob := alicePKI(t)
	lcfg := resumeConfig(alice)
	lcfg.DownloadDir, lcfg.ConfirmFiles = t.TempDir(), true
	l, _ := startListener(t, lcfg)
	proxy := newFaultProxy(t, l.Addr().String())
	ls, ds := dialAccept(t, l, proxy.Addr(), reconnecting(resumeConfig(bob)))
	aliceEvs, bobEvs := fileEvents(ls), fileEvents(ds)
	path, _ := writeRandom(t, t.TempDir(), "later.bin", 1000)
	ctx, cancel := context.WithCancel(testContext(t))
	done := sendAsync(ctx, ds, path, nil)
	offer := nextEvent[peer.FileOffer](t, aliceEvs)

	proxy.Refuse(true)
	proxy.Cut()
	nextEvent[peer.Disconnected](t, bobEvs)
	cancel()
	if err := wait(t, done); !errors.Is(err, context.Canceled) {
		t.Fatalf("sender: %v", err)
	}
	proxy.Refuse(false)
	nextEvent[peer.Reconnected](t, aliceEvs)
	failed := nextEvent[peer.FileFailed](t, aliceEvs)
	if failed.ID != offer.ID || !strings.Contains(failed.Err.Error(), "bob cancelled later.bin") {
		t.Errorf("receiver: %+v", failed)
	}
	if _, err := ls.AcceptFile(offer.ID); err == nil {
		t.Error("an offer its sender gave up on was accepted")
	}
}

// TestRejectWhileDisconnectedHolds: a file the receiver refuses while the
// connection is down stays refused: the sender, offering it again on the
// next connection, is told so, and the receiver is not asked again.
func TestRejectWhileDisconnectedHolds(t *testing.T) {
	_, alice, bob := alicePKI(t)
	lcfg := resumeConfig(alice)
	lcfg.DownloadDir, lcfg.ConfirmFiles = t.TempDir(), true
	l, _ := startListener(t, lcfg)
	proxy := newFaultProxy(t, l.Addr().String())
	ls, ds := dialAccept(t, l, proxy.Addr(), reconnecting(resumeConfig(bob)))
	aliceEvs := fileEvents(ls)
	go endOf(ds)
	path, _ := writeRandom(t, t.TempDir(), "unwanted.bin", 1000)
	done := sendAsync(testContext(t), ds, path, nil)
	offer := nextEvent[peer.FileOffer](t, aliceEvs)

	proxy.Refuse(true)
	proxy.Cut()
	nextEvent[peer.Disconnected](t, aliceEvs)
	if err := ls.RejectFile(offer.ID, "alice declined it"); err != nil {
		t.Fatal(err)
	}
	proxy.Refuse(false)
	err := wait(t, done)
	if !errors.Is(err, peer.ErrFileRefused) || !strings.Contains(err.Error(), "alice declined it") {
		t.Errorf("sender: %v", err)
	}
	for {
		select {
		case ev := <-aliceEvs:
			if o, ok := ev.(peer.FileOffer); ok {
				t.Fatalf("asked again about a file already refused: %+v", o)
			}
			continue
		default:
		}
		break
	}
}

// TestChatFlowsWhileAResumedPrefixIsHashed: accepting a resumed file
// hashes what its .part holds before the sender may go on, which for a
// big file takes seconds; the chat must not wait for it. The hashing is
// held until a message has crossed, which it could not if the reader
// hashed.
func TestChatFlowsWhileAResumedPrefixIsHashed(t *testing.T) {
	_, alice, bob := alicePKI(t)
	down := t.TempDir()
	path, want := writeRandom(t, t.TempDir(), "resumed.bin", 2<<20)
	if err := os.WriteFile(partialOf(down, bob, "resumed.bin", 2<<20), want[:1<<20], 0o644); err != nil {
		t.Fatal(err)
	}
	release := peer.HoldPrefixHashing(t)
	ls, ds := connect(t, peer.Config{Identity: alice, DownloadDir: down}, peer.Config{Identity: bob})
	evs := fileEvents(ls)
	go endOf(ds)

	done := sendAsync(testContext(t), ds, path, nil)
	if got := nextEvent[peer.FileOffered](t, evs); got.Offset != 1<<20 {
		t.Fatalf("offer taken at %d, want %d", got.Offset, 1<<20)
	}
	if _, err := ds.Send("still here?"); err != nil {
		t.Fatal(err)
	}
	if m := nextEvent[*peer.Message](t, evs); m.Text != "still here?" {
		t.Fatalf("got %q", m.Text)
	}
	release()
	if err := wait(t, done); err != nil {
		t.Fatalf("SendFile: %v", err)
	}
	rcv := nextEvent[peer.FileReceived](t, evs)
	if b, err := os.ReadFile(rcv.Path); err != nil || !bytes.Equal(b, want) {
		t.Fatalf("received file differs (%v)", err)
	}
}

// failingReader reads like a file until at, then fails as a disk would.
type failingReader struct {
	data []byte
	at   int64
}

func (f failingReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.at {
		return 0, errors.New("read /home/bob/secret/plans.bin: input/output error")
	}
	return copy(p, f.data[off:]), nil
}

// TestSenderThatGivesUpTellsTheReceiver: a sender that stops for a reason
// of its own (here its disk fails mid-file) cancels the transfer, so the
// receiver ends it at once and frees the slot it held among the peer's
// files on their way, and the cancel says nothing of the sender's paths.
func TestSenderThatGivesUpTellsTheReceiver(t *testing.T) {
	_, alice, bob := alicePKI(t)
	ls, ds := connect(t, peer.Config{Identity: alice, DownloadDir: t.TempDir()}, peer.Config{Identity: bob})
	evs := receiverEvents(ls)
	go endOf(ds)
	data := make([]byte, 4*peer.ChunkSize)
	err := ds.SendReader(testContext(t), "plans.bin", failingReader{data, 2 * peer.ChunkSize}, int64(len(data)), nil)
	if err == nil || !strings.Contains(err.Error(), "input/output error") {
		t.Fatalf("sender: %v, want its read error", err)
	}
	failed := nextEvent[peer.FileFailed](t, evs)
	if !strings.Contains(failed.Err.Error(), "bob cancelled plans.bin") || strings.Contains(failed.Err.Error(), "/home/bob") {
		t.Errorf("receiver: %v, want a cancel that names no path of bob's", failed.Err)
	}
}
