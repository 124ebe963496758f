package main

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// The listener reports every connection it refuses, one line each, which
// is what a person mistyping a flag on the other side needs to see. A
// flood of hostile connections would turn that into thousands of lines
// that bury the chat, so at most rejectBurst lines are shown per
// rejectWindow; the rest are counted, and one line at the end of the
// window (or when the listener stops) says how many were held back. The
// files a peer offers and this side refuses by itself (a name or size it
// does not take, too many at once) are limited the same way: a peer may
// offer thousands.
const (
	rejectBurst  = 10
	rejectWindow = 10 * time.Second
)

// burstLog shows at most burst lines per window and counts the rest; more
// words the line that sums them up.
type burstLog struct {
	say    func(string)
	late   func(string) // says the summary from the timer's goroutine; say when nil
	more   func(held int, span time.Duration) string
	burst  int
	window time.Duration
	timed  bool // sum up when the window ends; else with the next line after it, or at close

	mu      sync.Mutex
	start   time.Time // of the current window
	shown   int       // lines printed in it
	held    int       // lines not printed in it
	timer   *time.Timer
	stopped bool
}

// line shows text, or counts it when the window's burst is spent.
func (r *burstLog) line(text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	now := time.Now()
	if r.start.IsZero() || now.Sub(r.start) >= r.window {
		// A window that ended before its timer fired is summed up now.
		if r.timer != nil {
			r.timer.Stop()
			r.timer = nil
		}
		r.flushLocked()
		r.start, r.shown = now, 0
	}
	if r.shown < r.burst {
		r.shown++
		r.say(text)
		return
	}
	r.held++
	if r.timed && r.timer == nil {
		r.timer = time.AfterFunc(r.start.Add(r.window).Sub(now), r.summarize)
	}
}

// summarize prints how many lines were held back in the window that
// ended, and starts afresh.
// The line is said after the lock is let go of: late may wait for the
// goroutine that calls line (the chat screen's loop).
func (r *burstLog) summarize() {
	r.mu.Lock()
	r.timer = nil
	text := r.heldLine()
	r.start = time.Time{}
	say := r.say
	if r.late != nil {
		say = r.late
	}
	r.mu.Unlock()
	if text != "" {
		say(text)
	}
}

func (r *burstLog) flushLocked() {
	if text := r.heldLine(); text != "" {
		r.say(text)
	}
}

// heldLine is the summary of the lines held back, if any, which are then
// forgotten.
func (r *burstLog) heldLine() string {
	if r.held == 0 {
		return ""
	}
	text := r.more(r.held, time.Since(r.start).Round(100*time.Millisecond))
	r.held = 0
	return text
}

// close prints what is still held back and stops the log.
func (r *burstLog) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	r.flushLocked()
	r.stopped = true
}

// rejectLog is the listener's log of refused connections.
type rejectLog struct{ burstLog }

func newRejectLog(u *ui, burst int, window time.Duration) *rejectLog {
	return &rejectLog{burstLog{
		say: func(s string) { u.notice("%s", s) },
		more: func(held int, span time.Duration) string {
			return fmt.Sprintf("and %d more connection(s) refused in the last %s (at most %d are shown per %s)", held, span, burst, window)
		},
		burst: burst, window: window, timed: true,
	}}
}

// add reports one refused connection; it is the listener's OnReject.
func (r *rejectLog) add(addr net.Addr, err error) {
	r.line(fmt.Sprintf("refused %s: %s", addr, sanitize(err.Error())))
}

// newRefusalLog limits the notices of files this side refused from
// peerName by itself; say shows one, late the summary at the end of a
// window, from a timer's goroutine.
func newRefusalLog(say, late func(string), peerName string) *burstLog {
	return &burstLog{
		say: say, late: late,
		more: func(held int, span time.Duration) string {
			return fmt.Sprintf("and %d more file offer(s) from %s refused in the last %s (at most %d are shown per %s)", held, peerName, span, rejectBurst, rejectWindow)
		},
		burst: rejectBurst, window: rejectWindow, timed: true,
	}
}
