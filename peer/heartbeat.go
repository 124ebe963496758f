package peer

// This file holds the heartbeat: the watchdog each link runs, which pings
// the peer and breaks the link when the peer falls silent or stops
// reading.

import (
	"fmt"
	"time"
)

// heartbeat sends a ping on l every interval and breaks l when nothing has
// arrived on it for HeartbeatMisses intervals in a row. It counts frames
// rather than reading the clock on every frame: the read path stays cheap.
func (s *Session) heartbeat(l *link) {
	defer s.wg.Done()
	interval := s.cfg.HeartbeatInterval
	t := time.NewTicker(interval)
	defer t.Stop()
	seen, quiet, since := l.frames.Load(), 0, time.Now()
	written, stuck := l.written.Load(), 0
	for {
		select {
		case <-l.done:
			return
		case <-s.done:
			return
		case now := <-t.C:
			if n := l.frames.Load(); n != seen {
				seen, quiet, since = n, 0, now
			} else if quiet++; quiet >= s.cfg.HeartbeatMisses {
				s.linkFailed(l, fmt.Errorf("%w: nothing from %s for %s", ErrHeartbeatLost, s.Peer().Name, now.Sub(since).Round(time.Millisecond)))
				return
			}
			// A peer that keeps sending but stopped reading fills our send
			// buffer; a write then blocks for good, holding wmu. Counting
			// writes (not reading the clock on every one) finds it.
			if w := l.written.Load(); w != written || l.writes.Load() == w {
				written, stuck = w, 0
			} else if stuck++; stuck >= s.cfg.HeartbeatMisses {
				s.linkFailed(l, fmt.Errorf("%w: %s stopped reading; nothing could be sent for %s", ErrHeartbeatLost, s.Peer().Name, time.Duration(stuck)*interval))
				return
			}
			// A write already under way says we are alive just as well;
			// never queue behind it, or a stalled peer would stall the
			// watchdog too.
			if s.wmu.TryLock() {
				if s.link == l && s.ended() == nil {
					s.write(l, appendU64Frame(s.takeControl(s.wbuf[:0]), framePing, 0))
				}
				s.wmu.Unlock()
			}
		}
	}
}
