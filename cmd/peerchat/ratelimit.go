package main

import (
	"net"
	"sync"
	"time"
)

// The listener reports every connection it refuses, one line each, which
// is what a person mistyping a flag on the other side needs to see. A
// flood of hostile connections would turn that into thousands of lines
// that bury the chat, so at most rejectBurst lines are shown per
// rejectWindow; the rest are counted, and one line at the end of the
// window (or when the listener stops) says how many were held back.
const (
	rejectBurst  = 10
	rejectWindow = 10 * time.Second
)

type rejectLog struct {
	u      *ui
	burst  int
	window time.Duration

	mu      sync.Mutex
	start   time.Time // of the current window
	shown   int       // lines printed in it
	held    int       // refusals not printed in it
	timer   *time.Timer
	stopped bool
}

func newRejectLog(u *ui, burst int, window time.Duration) *rejectLog {
	return &rejectLog{u: u, burst: burst, window: window}
}

// add reports one refused connection; it is the listener's OnReject.
func (r *rejectLog) add(addr net.Addr, err error) {
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
		r.u.notice("refused %s: %s", addr, sanitize(err.Error()))
		return
	}
	r.held++
	if r.timer == nil {
		r.timer = time.AfterFunc(r.start.Add(r.window).Sub(now), r.summarize)
	}
}

// summarize prints how many refusals were held back in the window that
// ended, and starts afresh.
func (r *rejectLog) summarize() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.timer = nil
	r.flushLocked()
	r.start = time.Time{}
}

func (r *rejectLog) flushLocked() {
	if r.held == 0 {
		return
	}
	span := time.Since(r.start).Round(100 * time.Millisecond)
	r.u.notice("and %d more connection(s) refused in the last %s (at most %d are shown per %s)", r.held, span, r.burst, r.window)
	r.held = 0
}

// close prints what is still held back and stops the log.
func (r *rejectLog) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	r.flushLocked()
	r.stopped = true
}
