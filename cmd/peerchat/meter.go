package main

import (
	"fmt"
	"time"

	"peerchat/peer"
)

// meter follows one file transfer, on either side, and words its
// progress: "report.pdf: 37% (380.0 MiB of 1.0 GiB) at 950.0 MiB/s, 0:01
// left". The rate counts from where the current attempt started, so a
// resumed transfer does not claim the bytes of an earlier one.
type meter struct {
	name  string // sanitized
	size  int64
	done  int64
	began time.Time // when the receiver first took the file: the final line's time
	start time.Time // the current attempt
	from  int64     // where the current attempt started
	moved int64     // bytes moved by earlier attempts
	shown time.Time // the last redraw, for throttling
}

func newMeter(name string, size int64, now time.Time) *meter {
	return &meter{name: sanitize(name), size: size, start: now}
}

// redrawEvery is how often a progress line is redrawn at most: often
// enough to look alive, rarely enough to cost nothing.
const redrawEvery = 250 * time.Millisecond

// update takes a progress report. It returns a resumption notice
// ("resuming report.pdf at 63%") when an attempt starts from what an
// earlier one left, and whether the line is due for a redraw.
func (m *meter) update(p peer.FileProgress, now time.Time) (resumed string, redraw bool) {
	if p.Start {
		if m.began.IsZero() {
			// Not from the offer: a person may take a while to accept,
			// and that is no part of the transfer's rate.
			m.began = now
		}
		m.moved += max(m.done-m.from, 0)
		m.from, m.start = p.Done, now
		if p.Done > 0 {
			resumed = fmt.Sprintf("resuming %s at %d%%", m.name, percent(p.Done, p.Size))
		}
	}
	m.size, m.done = p.Size, p.Done
	if now.Sub(m.shown) < redrawEvery && p.Done != p.Size && !p.Start {
		return resumed, false
	}
	m.shown = now
	return resumed, true
}

// resumeAt is update for a receiver, which learns where an attempt starts
// from the accepted offer.
func (m *meter) resumeAt(offset int64, now time.Time) string {
	r, _ := m.update(peer.FileProgress{Name: m.name, Done: offset, Size: m.size, Start: true}, now)
	return r
}

func percent(n, of int64) int64 {
	if of <= 0 {
		return 100
	}
	return n * 100 / of
}

// line is the progress line: "report.pdf: 37% (380.0 MiB of 1.0 GiB) at
// 950.0 MiB/s, 0:01 left". Rate and time left appear once there is
// something to measure.
func (m *meter) line(now time.Time) string {
	text := fmt.Sprintf("%s: %d%% (%s of %s)", m.name, percent(m.done, m.size), fileSize(m.done), fileSize(m.size))
	took := now.Sub(m.start)
	moved := m.done - m.from
	if took < 100*time.Millisecond || moved <= 0 {
		return text
	}
	rate := float64(moved) / took.Seconds()
	left := time.Duration(float64(m.size-m.done) / rate * float64(time.Second))
	return text + fmt.Sprintf(" at %s/s, %s left", fileSize(int64(rate)), hms(left))
}

// sendingLine is line for the sending side, which once every byte is
// out waits for the receiver to hash and sync the file (a while, for a
// big one) and says so rather than "100%, 0:00 left".
func (m *meter) sendingLine(now time.Time, peerName string) string {
	if m.done == m.size && m.size > 0 {
		return fmt.Sprintf("%s: all %s sent, %s is verifying it", m.name, fileSize(m.size), peerName)
	}
	return m.line(now)
}

// summary is the final line's figures: "1.0 GiB in 1.2s at 850.0 MiB/s".
// The average covers the bytes this run moved over the time since the
// first offer, waiting for an answer and reconnections included.
func (m *meter) summary(now time.Time) string {
	began := m.began
	if began.IsZero() {
		began = m.start
	}
	took := now.Sub(began)
	moved := m.moved + max(m.done-m.from, 0)
	shown := took.Round(time.Millisecond)
	if took < time.Millisecond {
		shown = took.Round(time.Microsecond) // a small file: not "in 0s"
	}
	text := fmt.Sprintf("%s in %s", fileSize(m.size), shown)
	if took > 0 && moved > 0 {
		text += fmt.Sprintf(" at %s/s", fileSize(int64(float64(moved)/took.Seconds())))
	}
	if moved < m.size {
		text += fmt.Sprintf(", %s of it resumed", fileSize(m.size-moved))
	}
	return text
}

// hms writes a duration as m:ss, or h:mm:ss.
func hms(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
