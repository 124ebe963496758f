package peer_test

import (
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"peerchat/peer"
)

// These tests break connections under running conversations, through a
// faultProxy or by killing a side, and check that the conversation goes
// on: every message arrives once, in order.

// Short timings for tests: the heartbeat declares a link dead after 60 to
// 80 ms of silence, and a dialer redials within milliseconds.
const (
	testHeartbeat = 20 * time.Millisecond
	testMisses    = 3
)

func resumeConfig(id *peer.Identity) peer.Config {
	return peer.Config{
		Identity:            id,
		HeartbeatInterval:   testHeartbeat,
		HeartbeatMisses:     testMisses,
		ReconnectBackoff:    2 * time.Millisecond,
		ReconnectBackoffMax: 20 * time.Millisecond,
		HandshakeTimeout:    2 * time.Second,
		ResumeWait:          testTimeout,
	}
}

func reconnecting(cfg peer.Config) peer.Config {
	cfg.Reconnect = true
	return cfg
}

// dialAccept dials addr with dcfg and accepts the session on l.
func dialAccept(t *testing.T, l *peer.Listener, addr string, dcfg peer.Config) (ls, ds *peer.Session) {
	t.Helper()
	ctx := testContext(t)
	accepted := make(chan *peer.Session, 1)
	go func() {
		s, _ := l.Accept(ctx)
		accepted <- s
	}()
	ds, err := peer.Dial(ctx, addr, dcfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ds.Close() })
	if ls = <-accepted; ls == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { ls.Close() })
	return ls, ds
}

// TestFaultsNeverLoseOrRepeatMessages runs a randomized sequence of cuts
// and stalls through a faultProxy while both sides send a numbered stream,
// and checks that each side receives the other's stream exactly once, in
// order. PEERCHAT_FAULT_SEED replays a run.
func TestFaultsNeverLoseOrRepeatMessages(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("PEERCHAT_FAULT_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("PEERCHAT_FAULT_SEED=%q: %v", s, err)
		}
	}
	t.Logf("seed %d (replay with PEERCHAT_FAULT_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed>>32))
	const (
		perSide   = 2000
		minFaults = 60
		chunk     = perSide / minFaults
	)

	_, alice, bob := alicePKI(t)
	l, _ := startListener(t, resumeConfig(alice))
	proxy := newFaultProxy(t, l.Addr().String())
	ls, ds := dialAccept(t, l, proxy.Addr(), reconnecting(resumeConfig(bob)))
	sig := newSignal()
	aw, bw := watch(t, ls, sig), watch(t, ds, sig)
	as, bs := newSender(t, ls, sig, perSide), newSender(t, ds, sig, perSide)
	broken := func() bool {
		aEnded, _ := aw.end()
		bEnded, _ := bw.end()
		_, aErr := as.progress()
		_, bErr := bs.progress()
		return aEnded || bEnded || aErr != nil || bErr != nil
	}
	failIfBroken := func() {
		t.Helper()
		if broken() {
			_, aEnd := aw.end()
			_, bEnd := bw.end()
			_, aErr := as.progress()
			_, bErr := bs.progress()
			t.Fatalf("conversation broke: alice's Next %v, bob's Next %v, alice's Send %v, bob's Send %v", aEnd, bEnd, aErr, bErr)
		}
	}
	// progressed waits until each side has received at least n messages.
	progressed := func(n int) {
		t.Helper()
		waitUntil(t, sig, "messages to flow", func() bool {
			return broken() || (aw.received() >= n && bw.received() >= n)
		})
		failIfBroken()
	}

	var cuts, stalls, detected int
	allowed := 0
	start := time.Now()
	for cuts+stalls < minFaults {
		// Let a chunk through, and strike at a random point inside it,
		// while messages and acknowledgements are in flight. At least
		// one message of the chunk must arrive first: the conversation
		// has resumed from the previous fault.
		before := allowed
		allowed = min(perSide, allowed+chunk)
		as.allow(allowed)
		bs.allow(allowed)
		progressed(before + 1 + rng.IntN(allowed-before))
		// Count a cut only if it broke a link.
		cut := func() {
			if proxy.Cut() > 0 {
				cuts++
			}
		}
		switch r := rng.IntN(100); {
		case r < 40:
			cut()
		case r < 65:
			// A black hole until the dialer's heartbeat notices.
			d := bw.disconnects()
			proxy.Stall()
			stalls++
			waitUntil(t, sig, "the dialer to notice the stall", func() bool { return broken() || bw.disconnects() > d })
			failIfBroken()
			detected++
			proxy.Resume()
		case r < 85:
			// A stall the senders write into; the held bytes flow on
			// Resume, perhaps before any heartbeat noticed.
			proxy.Stall()
			stalls++
			waitUntil(t, sig, "the senders to write into the stall", func() bool {
				a, _ := as.progress()
				b, _ := bs.progress()
				return broken() || (a >= allowed && b >= allowed)
			})
			failIfBroken()
			proxy.Resume()
		default:
			// Cut, and cut the new link again as soon as the dialer
			// has resumed, while resent messages are in flight.
			n := bw.reconnects()
			cut()
			waitUntil(t, sig, "the dialer to resume", func() bool { return broken() || bw.reconnects() > n })
			failIfBroken()
			cut()
		}
	}
	as.allow(perSide)
	bs.allow(perSide)
	progressed(perSide)
	faultTime := time.Since(start)
	if err := ds.Flush(testContext(t)); err != nil {
		t.Fatalf("bob's flush: %v", err)
	}
	if err := ls.Flush(testContext(t)); err != nil {
		t.Fatalf("alice's flush: %v", err)
	}
	ds.Close()
	if err := aw.waitEnd(t); err != io.EOF {
		t.Errorf("alice's conversation ended with %v, want io.EOF after bob's goodbye", err)
	}

	aLost, aDup, aOrder := checkSequence(aw.texts(), perSide)
	bLost, bDup, bOrder := checkSequence(bw.texts(), perSide)
	t.Logf("%d faults (%d cuts, %d stalls, %d of them detected by heartbeat) in %s with %d messages each way",
		cuts+stalls, cuts, stalls, detected, faultTime.Round(time.Millisecond), perSide)
	t.Logf("alice received bob's stream: lost %d, duplicated %d, out of order %d; %d disconnects, %d resumptions",
		aLost, aDup, aOrder, aw.disconnects(), aw.reconnects())
	t.Logf("bob received alice's stream: lost %d, duplicated %d, out of order %d; %d disconnects, %d resumptions, %d attempts; %d connections through the proxy",
		bLost, bDup, bOrder, bw.disconnects(), bw.reconnects(), bw.attempts(), proxy.Accepted())
	if aLost+aDup+aOrder+bLost+bDup+bOrder != 0 {
		t.Errorf("the streams were not delivered exactly once in order (seed %d)", seed)
	}
	if bw.reconnects() < cuts/2 {
		t.Errorf("bob resumed %d times for %d cuts: the faults did not bite", bw.reconnects(), cuts)
	}
}

// TestStalledLinkIsReportedWithinHeartbeatWindow black-holes the link and
// checks that both sides report it within the heartbeat window, then
// resume when it comes back.
func TestStalledLinkIsReportedWithinHeartbeatWindow(t *testing.T) {
	_, alice, bob := alicePKI(t)
	cfg := func(id *peer.Identity) peer.Config {
		c := resumeConfig(id)
		c.HeartbeatInterval, c.HeartbeatMisses = 50*time.Millisecond, 3
		return c
	}
	l, _ := startListener(t, cfg(alice))
	proxy := newFaultProxy(t, l.Addr().String())
	ls, ds := dialAccept(t, l, proxy.Addr(), reconnecting(cfg(bob)))
	sig := newSignal()
	aw, bw := watch(t, ls, sig), watch(t, ds, sig)

	stalled := time.Now()
	proxy.Stall()
	waitUntil(t, sig, "both sides to report the stall", func() bool { return aw.disconnects() > 0 && bw.disconnects() > 0 })
	// The watchdog fires after HeartbeatMisses silent intervals, counted
	// from the last frame, which arrived at most one interval before the
	// stall: at most (misses+1) intervals after it. The slack is for a
	// loaded machine running the race detector.
	window := 4 * 50 * time.Millisecond
	const slack = 100 * time.Millisecond
	for _, w := range []*watcher{aw, bw} {
		evs, at := eventsOf[peer.Disconnected](w)
		took := at[0].Sub(stalled)
		t.Logf("%s reported %q after %s (window %s)", w.s.Name(), evs[0].Err, took.Round(time.Millisecond), window)
		if !errors.Is(evs[0].Err, peer.ErrHeartbeatLost) {
			t.Errorf("%s: disconnected with %v, want a lost heartbeat", w.s.Name(), evs[0].Err)
		}
		if took > window+slack {
			t.Errorf("%s took %s to notice, more than the %s window", w.s.Name(), took, window)
		}
	}
	if evs, _ := eventsOf[peer.Disconnected](aw); evs[0].Wait != testTimeout {
		t.Errorf("listener's Disconnected.Wait = %s, want ResumeWait %s", evs[0].Wait, testTimeout)
	}

	proxy.Resume()
	waitUntil(t, sig, "both sides to resume", func() bool { return aw.reconnects() > 0 && bw.reconnects() > 0 })
	if _, err := ds.Send("still there?"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, sig, "the message after the stall", func() bool { return aw.received() == 1 })
}

// TestStallEndsConversationWithoutReconnect: with Reconnect off, a stalled
// link ends the conversation with ErrHeartbeatLost, as before resumption.
func TestStallEndsConversationWithoutReconnect(t *testing.T) {
	_, alice, bob := alicePKI(t)
	l, _ := startListener(t, resumeConfig(alice))
	proxy := newFaultProxy(t, l.Addr().String())
	ls, ds := dialAccept(t, l, proxy.Addr(), resumeConfig(bob))
	sig := newSignal()
	aw, bw := watch(t, ls, sig), watch(t, ds, sig)
	proxy.Stall()
	if err := bw.waitEnd(t); !errors.Is(err, peer.ErrHeartbeatLost) {
		t.Errorf("dialer: %v, want heartbeat lost", err)
	}
	// The dialer said in its hello that it would not come back, so the
	// listener does not keep the conversation for it.
	if err := aw.waitEnd(t); !errors.Is(err, peer.ErrHeartbeatLost) {
		t.Errorf("listener: %v, want heartbeat lost", err)
	}
	if n := aw.disconnects() + bw.disconnects(); n != 0 {
		t.Errorf("%d Disconnected events without resumption", n)
	}
}

// TestHalfOpenConnectionIsReplaced: the dialer notices a dead link long
// before the listener does; when it comes back, the listener replaces the
// old connection at once instead of refusing the dialer as busy.
func TestHalfOpenConnectionIsReplaced(t *testing.T) {
	_, alice, bob := alicePKI(t)
	lcfg := resumeConfig(alice)
	lcfg.HeartbeatInterval = time.Hour // the listener would never notice
	l, _ := startListener(t, lcfg)
	proxy := newFaultProxy(t, l.Addr().String())
	ls, ds := dialAccept(t, l, proxy.Addr(), reconnecting(resumeConfig(bob)))
	sig := newSignal()
	aw, bw := watch(t, ls, sig), watch(t, ds, sig)
	if _, err := ls.Send("before"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, sig, "the first message", func() bool { return bw.received() == 1 })

	proxy.StallOpen()
	waitUntil(t, sig, "both sides to resume", func() bool { return aw.reconnects() > 0 && bw.reconnects() > 0 })
	evs, _ := eventsOf[peer.Disconnected](aw)
	if !errors.Is(evs[0].Err, peer.ErrConnectionLost) || !strings.Contains(evs[0].Err.Error(), "bob connected again") {
		t.Errorf("listener: disconnected with %v, want the replacement", evs[0].Err)
	}
	tries, _ := eventsOf[peer.Reconnecting](bw)
	for _, r := range tries {
		if errors.Is(r.Err, peer.ErrBusy) {
			t.Errorf("the dialer was refused as busy: %v", r.Err)
		}
	}
	if _, err := ls.Send("after"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, sig, "the message after the replacement", func() bool { return bw.received() == 2 })
	if got := bw.texts(); got[0] != "before" || got[1] != "after" {
		t.Errorf("bob got %q", got)
	}
}

// TestListenerResumesOnlyTheSameCertificate: while a conversation waits
// for its dialer, another certificate is refused as busy; the same one
// resumes the conversation (not a new one from Accept); once ResumeWait
// expires, the other certificate gets in.
func TestListenerResumesOnlyTheSameCertificate(t *testing.T) {
	pki, alice, bob := alicePKI(t)
	carol := pki.Identity(t, "carol")
	lcfg := resumeConfig(alice)
	lcfg.ResumeWait = time.Second
	l, rejected := startListener(t, lcfg)
	proxy := newFaultProxy(t, l.Addr().String())
	ls, ds := dialAccept(t, l, proxy.Addr(), reconnecting(resumeConfig(bob)))
	sig := newSignal()
	aw, bw := watch(t, ls, sig), watch(t, ds, sig)
	ctx := testContext(t)
	dialCarol := func() (*peer.Session, error) { return peer.Dial(ctx, l.Addr().String(), resumeConfig(carol)) }

	// Bob's link breaks and he cannot come back yet: carol is busy.
	proxy.Refuse(true)
	proxy.Cut()
	waitUntil(t, sig, "alice to notice", func() bool { return aw.disconnects() == 1 })
	if _, err := dialCarol(); !errors.Is(err, peer.ErrBusy) {
		t.Fatalf("carol's dial while alice waits for bob: %v, want busy", err)
	}
	if r := <-rejected; !errors.Is(r.err, peer.ErrBusy) || !strings.Contains(r.err.Error(), "carol") {
		t.Errorf("listener reported %v", r.err)
	}

	// Bob comes back into the same conversation.
	proxy.Refuse(false)
	waitUntil(t, sig, "bob to resume", func() bool { return aw.reconnects() == 1 && bw.reconnects() == 1 })
	if _, err := ds.Send("back"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, sig, "bob's message", func() bool { return aw.received() == 1 })

	// Bob's link breaks for good: after ResumeWait alice gives up, and
	// carol gets in.
	proxy.Refuse(true)
	proxy.Cut()
	err := aw.waitEnd(t)
	if !errors.Is(err, peer.ErrResumeTimeout) || !errors.Is(err, peer.ErrConnectionLost) || !strings.Contains(err.Error(), "bob was away for 1s") {
		t.Fatalf("alice's conversation ended with %v, want ErrResumeTimeout", err)
	}
	cs, err := dialCarol()
	if err != nil {
		t.Fatalf("carol's dial after alice gave up on bob: %v", err)
	}
	defer cs.Close()
	next, err := l.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	if name := next.Peer().Name; name != "carol" {
		t.Fatalf("Accept returned a conversation with %s, want carol", name)
	}
	// Bob, still trying, now finds alice busy with carol, and keeps
	// trying.
	proxy.Refuse(false)
	waitUntil(t, sig, "bob to be told alice is busy", func() bool {
		return bw.count(func(ev peer.Event) bool {
			r, ok := ev.(peer.Reconnecting)
			return ok && errors.Is(r.Err, peer.ErrBusy)
		}) > 0
	})
	if ended, err := bw.end(); ended {
		t.Fatalf("bob gave up: %v", err)
	}
}

// TestListenerRestartGetsUnacknowledgedMessages kills the listener's
// process, as far as the dialer can tell, and starts a new listener on the
// same address: the dialer reconnects and delivers everything the old
// listener had not acknowledged, and the new listener's own messages start
// again from 1.
func TestListenerRestartGetsUnacknowledgedMessages(t *testing.T) {
	_, alice, bob := alicePKI(t)
	lcfg := peer.Config{Identity: alice} // default heartbeat: alice will not read
	l, _ := startListener(t, lcfg)
	addr := l.Addr().String()
	dcfg := reconnecting(peer.Config{Identity: bob, ReconnectBackoff: time.Hour})
	ls, ds := dialAccept(t, l, addr, dcfg)
	sig := newSignal()
	bw := watch(t, ds, sig)

	// Alice never reads, so never acknowledges.
	for _, text := range []string{"one", "two"} {
		if _, err := ds.Send(text); err != nil {
			t.Fatal(err)
		}
	}
	peer.Kill(ls)
	l.Close()
	waitUntil(t, sig, "bob to notice alice is gone", func() bool { return bw.attempts() > 0 })
	if m, err := ds.Send("three"); err != nil || m.ID != 3 {
		t.Fatalf("Send while disconnected: %+v, %v; want it queued as message 3", m, err)
	}
	if n := len(ds.Pending()); n != 3 {
		t.Fatalf("%d pending, want 3", n)
	}

	l2, err := peer.Listen(addr, lcfg)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	defer l2.Close()
	ds.RetryNow() // rather than wait an hour of backoff
	ctx := testContext(t)
	ls2, err := l2.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ls2.Close()
	aw := watch(t, ls2, sig)
	waitUntil(t, sig, "the new alice to get bob's messages", func() bool { return aw.received() == 3 })
	if got := aw.texts(); strings.Join(got, ",") != "one,two,three" {
		t.Errorf("the new alice got %q", got)
	}
	waitUntil(t, sig, "bob to hear they were delivered", func() bool {
		return bw.count(func(ev peer.Event) bool { d, ok := ev.(peer.Delivered); return ok && d.UpTo == 3 }) > 0
	})
	evs, _ := eventsOf[peer.Reconnected](bw)
	if len(evs) != 1 || !evs[0].PeerRestarted || evs[0].Resent != 3 {
		t.Errorf("bob's Reconnected events: %+v, want one, peer restarted, 3 resent", evs)
	}
	if _, err := ls2.Send("welcome back"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, sig, "bob to get the new alice's message", func() bool { return bw.received() == 1 })
	if m := bw.messages()[0]; m.Text != "welcome back" || m.ID != 1 {
		t.Errorf("bob got %+v, want message 1 from the new alice", m)
	}
}

// TestDialerRestartResumesTheConversation: a dialer that comes back as a
// new process (same certificate, new conversation id) is let into the
// conversation the listener kept, and gets what the listener had not got
// acknowledged; a second process of the same certificate is refused while
// the first is connected.
func TestDialerRestartResumesTheConversation(t *testing.T) {
	_, alice, bob := alicePKI(t)
	l, _ := startListener(t, resumeConfig(alice))
	dcfg := reconnecting(peer.Config{Identity: bob}) // default heartbeat: bob will not read
	ls, ds := dialAccept(t, l, l.Addr().String(), dcfg)
	sig := newSignal()
	aw := watch(t, ls, sig)
	if _, err := ls.Send("are you there?"); err != nil {
		t.Fatal(err)
	}
	peer.Kill(ds)
	waitUntil(t, sig, "alice to notice", func() bool { return aw.disconnects() == 1 })

	ctx := testContext(t)
	ds2, err := peer.Dial(ctx, l.Addr().String(), reconnecting(resumeConfig(bob)))
	if err != nil {
		t.Fatalf("the restarted bob's dial: %v", err)
	}
	bw := watch(t, ds2, sig)
	waitUntil(t, sig, "the new bob to get alice's message", func() bool { return bw.received() == 1 })
	// Bob can receive before alice's watcher has taken its Reconnected
	// event from Next: wait for the event rather than race for it.
	waitUntil(t, sig, "alice to report the reconnection", func() bool { return aw.reconnects() > 0 })
	evs, _ := eventsOf[peer.Reconnected](aw)
	if len(evs) != 1 || !evs[0].PeerRestarted {
		t.Errorf("alice's Reconnected events: %+v, want one with the peer restarted", evs)
	}
	if _, err := ds2.Send("I'm back"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, sig, "alice to get the new bob's message", func() bool { return aw.received() == 1 })
	if err := ls.Flush(ctx); err != nil {
		t.Errorf("alice's flush: %v", err)
	}

	_, err = peer.Dial(ctx, l.Addr().String(), resumeConfig(bob))
	if !errors.Is(err, peer.ErrBusy) || !strings.Contains(err.Error(), "already in a chat with bob from another session") {
		t.Fatalf("a second bob's dial: %v, want busy", err)
	}
}

// TestQueueWhileDisconnected: messages sent while disconnected are queued
// up to QueueLimit, refused beyond it with ErrQueueFull, and delivered,
// with Flush waiting for them, once the conversation resumes.
func TestQueueWhileDisconnected(t *testing.T) {
	_, alice, bob := alicePKI(t)
	l, _ := startListener(t, resumeConfig(alice))
	proxy := newFaultProxy(t, l.Addr().String())
	dcfg := reconnecting(resumeConfig(bob))
	dcfg.QueueLimit = 3
	ls, ds := dialAccept(t, l, proxy.Addr(), dcfg)
	sig := newSignal()
	aw, bw := watch(t, ls, sig), watch(t, ds, sig)

	proxy.Refuse(true)
	proxy.Cut()
	waitUntil(t, sig, "bob to notice", func() bool { return bw.disconnects() == 1 })
	for i := range 3 {
		if _, err := ds.Send(strconv.Itoa(i)); err != nil {
			t.Fatalf("Send %d while disconnected: %v", i, err)
		}
	}
	_, err := ds.Send("one too many")
	if !errors.Is(err, peer.ErrQueueFull) || !strings.Contains(err.Error(), "3 messages (3 bytes) to alice are not delivered yet") {
		t.Fatalf("Send beyond the limit: %v, want ErrQueueFull", err)
	}
	if ds.Connected() {
		t.Error("Connected() while the link is down")
	}
	flushed := make(chan error, 1)
	go func() { flushed <- ds.Flush(testContext(t)) }()

	proxy.Refuse(false)
	if err := <-flushed; err != nil {
		t.Fatalf("Flush across the reconnection: %v", err)
	}
	if got := aw.texts(); strings.Join(got, ",") != "0,1,2" {
		t.Errorf("alice got %q", got)
	}
	if _, err := ds.Send("room again"); err != nil {
		t.Errorf("Send after delivery: %v", err)
	}
}

// TestQueueBytesLimit: long lines fill the queue by bytes before they fill
// it by count.
func TestQueueBytesLimit(t *testing.T) {
	_, alice, bob := alicePKI(t)
	l, _ := startListener(t, resumeConfig(alice))
	dcfg := resumeConfig(bob)
	dcfg.QueueBytes = 2 * peer.MaxText
	_, ds := dialAccept(t, l, l.Addr().String(), dcfg)
	long := strings.Repeat("x", peer.MaxText)
	// Alice does not read: nothing is acknowledged.
	for range 2 {
		if _, err := ds.Send(long); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ds.Send("x"); !errors.Is(err, peer.ErrQueueFull) || !strings.Contains(err.Error(), "2 messages (128 KiB)") {
		t.Fatalf("Send beyond QueueBytes: %v, want ErrQueueFull", err)
	}
}

// TestGoodbyeNeverReconnects: a goodbye ends the conversation on the other
// side with io.EOF, whichever side says it; the dialer does not redial,
// and the listener can accept the next conversation (--keep-listening).
func TestGoodbyeNeverReconnects(t *testing.T) {
	_, alice, bob := alicePKI(t)
	t.Run("listener leaves", func(t *testing.T) {
		l, _ := startListener(t, resumeConfig(alice))
		ls, ds := dialAccept(t, l, l.Addr().String(), reconnecting(resumeConfig(bob)))
		sig := newSignal()
		bw := watch(t, ds, sig)
		ls.Close()
		if err := bw.waitEnd(t); err != io.EOF {
			t.Fatalf("dialer: %v, want io.EOF", err)
		}
		if n := bw.disconnects() + bw.attempts(); n != 0 {
			t.Errorf("%d reconnection events after a goodbye", n)
		}
	})
	t.Run("dialer leaves", func(t *testing.T) {
		l, _ := startListener(t, resumeConfig(alice))
		ls, ds := dialAccept(t, l, l.Addr().String(), reconnecting(resumeConfig(bob)))
		sig := newSignal()
		aw := watch(t, ls, sig)
		ds.Close()
		if err := aw.waitEnd(t); err != io.EOF {
			t.Fatalf("listener: %v, want io.EOF", err)
		}
		if n := aw.disconnects(); n != 0 {
			t.Errorf("%d Disconnected events after a goodbye", n)
		}
		// The listener is free for the next conversation, even with
		// the same certificate.
		ls2, ds2 := dialAccept(t, l, l.Addr().String(), reconnecting(resumeConfig(bob)))
		if ls2 == ls {
			t.Fatal("the new dial resumed the ended conversation")
		}
		if _, err := ds2.Send("new chat"); err != nil {
			t.Fatal(err)
		}
		if m := nextMessage(t, ls2); m.Text != "new chat" || m.ID != 1 {
			t.Errorf("new conversation got %+v", m)
		}
	})
}

// TestTrustFailureOnReconnectEnds: a reconnection that fails on trust
// ends the conversation with a *TrustError instead of retrying forever.
func TestTrustFailureOnReconnectEnds(t *testing.T) {
	tests := []struct {
		name string
		// restart returns the configuration of the listener that takes
		// alice's place.
		restart func(t *testing.T, alice, mallory *peer.Identity) peer.Config
		want    string
		reason  peer.TrustReason
	}{
		{"someone else listens there now", func(t *testing.T, alice, mallory *peer.Identity) peer.Config {
			return peer.Config{Identity: mallory}
		}, "is now mallory, not alice; the conversation with alice cannot resume there", peer.ReasonNameMismatch},
		{"the listener now refuses us", func(t *testing.T, alice, mallory *peer.Identity) peer.Config {
			return peer.Config{Identity: alice, Peer: "carol"}
		}, "refused us: alice accepts only carol, and the peer name in your certificate is bob", peer.ReasonRefusedByPeer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pki, alice, bob := alicePKI(t)
			mallory := pki.Identity(t, "mallory")
			l, _ := startListener(t, peer.Config{Identity: alice})
			addr := l.Addr().String()
			ls, ds := dialAccept(t, l, addr, reconnecting(peer.Config{Identity: bob, ReconnectBackoff: time.Hour}))
			sig := newSignal()
			bw := watch(t, ds, sig)
			peer.Kill(ls)
			l.Close()
			waitUntil(t, sig, "bob to notice", func() bool { return bw.attempts() == 1 })
			l2, err := peer.Listen(addr, tt.restart(t, alice, mallory))
			if err != nil {
				t.Fatal(err)
			}
			defer l2.Close()
			ds.RetryNow()
			err = bw.waitEnd(t)
			te := wantErrorAs[*peer.TrustError](t, err)
			if !strings.Contains(te.Error(), tt.want) {
				t.Errorf("got %v\nwant it to contain %s", te, tt.want)
			}
			if te.Reason != tt.reason {
				t.Errorf("Reason %d, want %d", te.Reason, tt.reason)
			}
			if n := bw.attempts(); n != 1 {
				t.Errorf("%d attempts, want 1: a trust failure is final", n)
			}
		})
	}
}

// TestCloseStopsReconnecting: Close ends a dialer's reconnection loop at
// once, whether it waits for its backoff or dials a black hole.
func TestCloseStopsReconnecting(t *testing.T) {
	_, alice, bob := alicePKI(t)
	for _, stall := range []bool{false, true} {
		t.Run("stall="+strconv.FormatBool(stall), func(t *testing.T) {
			l, _ := startListener(t, resumeConfig(alice))
			proxy := newFaultProxy(t, l.Addr().String())
			dcfg := reconnecting(resumeConfig(bob))
			dcfg.HandshakeTimeout = time.Hour
			if !stall {
				dcfg.ReconnectBackoff = time.Hour
			}
			_, ds := dialAccept(t, l, proxy.Addr(), dcfg)
			sig := newSignal()
			bw := watch(t, ds, sig)
			if stall {
				proxy.Notify(sig)
				proxy.Stall()
				n := proxy.Accepted()
				waitUntil(t, sig, "bob to dial into the black hole", func() bool {
					return bw.attempts() > 0 && proxy.Accepted() > n
				})
			} else {
				proxy.Cut()
				waitUntil(t, sig, "bob to wait for his backoff", func() bool { return bw.attempts() == 1 })
			}
			start := time.Now()
			ds.Close()
			if err := bw.waitEnd(t); !errors.Is(err, peer.ErrClosed) {
				t.Errorf("Next after Close: %v", err)
			}
			t.Logf("Close ended the reconnection loop in %s", time.Since(start).Round(time.Microsecond))
		})
	}
}

// TestPingWhileDisconnected: Ping says there is no connection rather than
// queueing a ping that could only time out.
func TestPingWhileDisconnected(t *testing.T) {
	_, alice, bob := alicePKI(t)
	l, _ := startListener(t, resumeConfig(alice))
	proxy := newFaultProxy(t, l.Addr().String())
	_, ds := dialAccept(t, l, proxy.Addr(), reconnecting(peer.Config{Identity: bob, ReconnectBackoff: time.Hour}))
	sig := newSignal()
	bw := watch(t, ds, sig)
	proxy.Cut()
	waitUntil(t, sig, "bob to notice", func() bool { return bw.disconnects() == 1 })
	if err := ds.Ping(); !errors.Is(err, peer.ErrConnectionLost) {
		t.Errorf("Ping while disconnected: %v", err)
	}
}

// TestGoodbyeWithUnreadData: a side that closes with bytes it never read
// still gets its goodbye across, and promptly: the peer ends with io.EOF,
// not with a reset it would try to resume from.
func TestGoodbyeWithUnreadData(t *testing.T) {
	_, alice, bob := alicePKI(t)
	l, _ := startListener(t, resumeConfig(alice))
	ls, ds := dialAccept(t, l, l.Addr().String(), reconnecting(peer.Config{Identity: bob}))
	sig := newSignal()
	aw := watch(t, ls, sig)
	// Bob never reads: alice's messages wait in his receive buffer.
	for i := range 200 {
		if _, err := ls.Send(strings.Repeat("x", 1000) + strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	ds.Close()
	took := time.Since(start)
	if err := aw.waitEnd(t); err != io.EOF {
		t.Fatalf("alice: %v, want io.EOF", err)
	}
	if n := aw.disconnects(); n != 0 {
		t.Errorf("alice saw %d disconnects", n)
	}
	t.Logf("Close took %s", took)
	if runtime.GOOS == "linux" && took > 500*time.Millisecond {
		t.Errorf("Close took %s: it should wait for the goodbye's acknowledgement, not for alice to close", took)
	}
}
