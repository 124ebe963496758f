package main

import (
	"testing"
	"time"

	"peerchat/peer"
)

func TestMeterLine(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	m := newMeter("x.bin", 1<<30, t0)
	m.update(peer.FileProgress{Done: 0, Size: 1 << 30, Start: true}, t0)
	if got, want := m.line(t0), "x.bin: 0% (0 bytes of 1.0 GiB)"; got != want {
		t.Errorf("at the start: %q, want %q", got, want)
	}
	m.update(peer.FileProgress{Done: 256 << 20, Size: 1 << 30}, t0.Add(time.Second/2))
	if got, want := m.line(t0.Add(time.Second/2)), "x.bin: 25% (256.0 MiB of 1.0 GiB) at 512.0 MiB/s, 0:02 left"; got != want {
		t.Errorf("halfway: %q, want %q", got, want)
	}
	m.update(peer.FileProgress{Done: 1 << 30, Size: 1 << 30}, t0.Add(2*time.Second))
	if got, want := m.summary(t0.Add(2*time.Second)), "1.0 GiB in 2s at 512.0 MiB/s"; got != want {
		t.Errorf("summary: %q, want %q", got, want)
	}
}

func TestMeterCountsFromTheAcceptance(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	m := newMeter("x.bin", 1000, t0)
	// The offer waited a minute for a person to answer.
	m.update(peer.FileProgress{Done: 0, Size: 1000, Start: true}, t0.Add(time.Minute))
	m.update(peer.FileProgress{Done: 1000, Size: 1000}, t0.Add(time.Minute+time.Second))
	if got, want := m.summary(t0.Add(time.Minute+time.Second)), "1000 bytes in 1s at 1000 bytes/s"; got != want {
		t.Errorf("summary: %q, want %q", got, want)
	}
}

func TestMeterResumption(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	m := newMeter("r.pdf", 1000, t0)
	if r, _ := m.update(peer.FileProgress{Done: 0, Size: 1000, Start: true}, t0); r != "" {
		t.Errorf("a fresh start says %q", r)
	}
	m.update(peer.FileProgress{Done: 700, Size: 1000}, t0.Add(time.Second))
	// The connection broke; the receiver kept 630 bytes.
	r, redraw := m.update(peer.FileProgress{Done: 630, Size: 1000, Start: true}, t0.Add(2*time.Second))
	if r != "resuming r.pdf at 63%" || !redraw {
		t.Errorf("resumption: %q, redraw %v", r, redraw)
	}
	m.update(peer.FileProgress{Done: 1000, Size: 1000}, t0.Add(3*time.Second))
	// 700 bytes in the first attempt, 370 in the second, over 3 s.
	if got, want := m.summary(t0.Add(3*time.Second)), "1000 bytes in 3s at 356 bytes/s"; got != want {
		t.Errorf("summary: %q, want %q", got, want)
	}

	// A receiver restarted with a .part: part of the file never moved.
	m = newMeter("r.pdf", 1000, t0)
	if r := m.resumeAt(400, t0); r != "resuming r.pdf at 40%" {
		t.Errorf("receiver resumption: %q", r)
	}
	m.update(peer.FileProgress{Done: 1000, Size: 1000}, t0.Add(time.Second))
	if got, want := m.summary(t0.Add(time.Second)), "1000 bytes in 1s at 600 bytes/s, 400 bytes of it resumed"; got != want {
		t.Errorf("summary: %q, want %q", got, want)
	}
}

func TestMeterRedrawsAtMostFourTimesASecond(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	m := newMeter("x", 100, t0)
	redraws := 0
	for i := int64(0); i <= 100; i++ {
		if _, r := m.update(peer.FileProgress{Done: i, Size: 100, Start: i == 0}, t0.Add(time.Duration(i)*10*time.Millisecond)); r {
			redraws++
		}
	}
	// 1 s of reports every 10 ms: at 0, 250, 500, 750 ms and the end.
	if redraws != 5 {
		t.Errorf("%d redraws, want 5", redraws)
	}
}

func TestHMS(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0:00", 61 * time.Second: "1:01", 3*time.Hour + 5*time.Second: "3:00:05"} {
		if got := hms(d); got != want {
			t.Errorf("hms(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestMeterSummaryOfASmallFile(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	m := newMeter("n.txt", 100, t0)
	m.update(peer.FileProgress{Done: 0, Size: 100, Start: true}, t0)
	m.update(peer.FileProgress{Done: 100, Size: 100}, t0.Add(300*time.Microsecond))
	if got, want := m.summary(t0.Add(300*time.Microsecond)), "100 bytes in 300µs at 325.5 KiB/s"; got != want {
		t.Errorf("summary: %q, want %q", got, want)
	}
}
