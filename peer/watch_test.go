package peer_test

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"peerchat/peer"
)

// A signal wakes every goroutine waiting for some state to change; tests
// wait on it, with a deadline only as an upper bound, instead of sleeping.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func newSignal() *signal { return &signal{ch: make(chan struct{})} }

func (s *signal) poke() {
	s.mu.Lock()
	close(s.ch)
	s.ch = make(chan struct{})
	s.mu.Unlock()
}

func (s *signal) changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

// waitUntil waits until cond holds, rechecking it each time sig is poked,
// and fails the test after testTimeout.
func waitUntil(t testing.TB, sig *signal, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(testTimeout)
	defer deadline.Stop()
	for {
		ch := sig.changed() // before cond: a poke after the check closes ch
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out after %s waiting for %s", testTimeout, what)
		}
	}
}

// A watcher calls Next on a session until the conversation ends and
// records what it returned, for the test goroutine to wait on and check.
type watcher struct {
	s   *peer.Session
	sig *signal

	mu     sync.Mutex
	msgs   []*peer.Message
	events []timedEvent
	err    error
	ended  bool
	done   chan struct{}
}

type timedEvent struct {
	at time.Time
	ev peer.Event
}

func watch(t testing.TB, s *peer.Session, sig *signal) *watcher {
	w := &watcher{s: s, sig: sig, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			ev, err := s.Next()
			w.mu.Lock()
			if err != nil {
				w.err, w.ended = err, true
				w.mu.Unlock()
				sig.poke()
				return
			}
			if m, ok := ev.(*peer.Message); ok {
				w.msgs = append(w.msgs, m)
			} else {
				w.events = append(w.events, timedEvent{time.Now(), ev})
			}
			w.mu.Unlock()
			sig.poke()
		}
	}()
	t.Cleanup(func() {
		s.Close()
		<-w.done
	})
	return w
}

func (w *watcher) received() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.msgs)
}

func (w *watcher) messages() []*peer.Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]*peer.Message(nil), w.msgs...)
}

func (w *watcher) texts() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	texts := make([]string, len(w.msgs))
	for i, m := range w.msgs {
		texts[i] = m.Text
	}
	return texts
}

// end returns whether the conversation ended, and why.
func (w *watcher) end() (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ended, w.err
}

// count counts the events for which match is true.
func (w *watcher) count(match func(peer.Event) bool) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, e := range w.events {
		if match(e.ev) {
			n++
		}
	}
	return n
}

// eventsOf returns the events of type T, with when they were returned.
func eventsOf[T peer.Event](w *watcher) (evs []T, at []time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.events {
		if ev, ok := e.ev.(T); ok {
			evs, at = append(evs, ev), append(at, e.at)
		}
	}
	return evs, at
}

func isA[T peer.Event](ev peer.Event) bool {
	_, ok := ev.(T)
	return ok
}

func (w *watcher) disconnects() int { return w.count(isA[peer.Disconnected]) }
func (w *watcher) reconnects() int  { return w.count(isA[peer.Reconnected]) }
func (w *watcher) attempts() int    { return w.count(isA[peer.Reconnecting]) }

// waitEnd waits for the conversation to end and returns why.
func (w *watcher) waitEnd(t testing.TB) error {
	t.Helper()
	waitUntil(t, w.sig, "the conversation to end", func() bool { ended, _ := w.end(); return ended })
	_, err := w.end()
	return err
}

// A sender sends the numbered messages "0", "1", … from its own goroutine,
// as many as the test has allowed so far.
type sender struct {
	s   *peer.Session
	sig *signal

	mu      sync.Mutex
	allowed int
	sent    int
	err     error
}

func newSender(t testing.TB, s *peer.Session, sig *signal, total int) *sender {
	sd := &sender{s: s, sig: sig}
	done := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		defer close(done)
		for i := range total {
			for {
				ch := sig.changed()
				sd.mu.Lock()
				ok := sd.allowed > i
				sd.mu.Unlock()
				if ok {
					break
				}
				select {
				case <-ch:
				case <-stop:
					return
				}
			}
			_, err := s.Send(strconv.Itoa(i))
			sd.mu.Lock()
			sd.sent, sd.err = i+1, err
			sd.mu.Unlock()
			sig.poke()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
	return sd
}

// allow lets the sender send up to n messages in all.
func (sd *sender) allow(n int) {
	sd.mu.Lock()
	sd.allowed = max(sd.allowed, n)
	sd.mu.Unlock()
	sd.sig.poke()
}

func (sd *sender) progress() (sent int, err error) {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	return sd.sent, sd.err
}

// checkSequence compares the texts a side received with "0"…"n-1" and
// counts what was lost, repeated or out of order.
func checkSequence(got []string, n int) (lost, dup, disorder int) {
	seen := make(map[int]int)
	last := -1
	for _, text := range got {
		i, err := strconv.Atoi(text)
		if err != nil || i < 0 || i >= n {
			disorder++
			continue
		}
		if seen[i]++; seen[i] > 1 {
			dup++
		}
		if i != last+1 {
			disorder++
		}
		last = i
	}
	return n - len(seen), dup, disorder
}
