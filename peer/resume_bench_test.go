package peer_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"peerchat/peer"
)

// BenchmarkQueueMemory measures the heap a dialer's queue takes for 10,000
// messages of 100 bytes sent while disconnected: "with-text" counts the
// texts, which the queue keeps alive; "overhead" is the rest, what the
// queue adds per message beyond its text (a string of 100 bytes takes a
// 112-byte allocation).
func BenchmarkQueueMemory(b *testing.B) {
	const n, size, textAlloc = 10000, 100, 112
	var total uint64
	for range b.N {
		b.StopTimer()
		ds := disconnectedDialer(b, n)
		before := heapInUse()
		for i := range n {
			if _, err := ds.Send(fmt.Sprintf("%0*d", size, i)); err != nil {
				b.Fatal(err)
			}
		}
		total += heapInUse() - before
		if got := len(ds.Pending()); got != n {
			b.Fatalf("%d pending, want %d", got, n)
		}
		ds.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(total)/float64(b.N), "with-text-B/10k")
	b.ReportMetric(float64(total)/float64(b.N)-n*textAlloc, "overhead-B/10k")
	b.ReportMetric(0, "ns/op")
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// disconnectedDialer returns a dialer whose listener died: a session that
// queues what it is sent, for as long as the test runs.
func disconnectedDialer(b *testing.B, limit int) *peer.Session {
	b.Helper()
	_, alice, bob := alicePKI(b)
	l, err := peer.Listen("127.0.0.1:0", peer.Config{Identity: alice})
	if err != nil {
		b.Fatal(err)
	}
	accepted := make(chan *peer.Session, 1)
	go func() {
		s, _ := l.Accept(b.Context())
		accepted <- s
	}()
	ds, err := peer.Dial(b.Context(), l.Addr().String(), peer.Config{Identity: bob, Reconnect: true, ReconnectBackoff: time.Hour, QueueLimit: limit})
	if err != nil {
		b.Fatal(err)
	}
	peer.Kill(<-accepted)
	l.Close()
	sig := newSignal()
	w := watch(b, ds, sig)
	waitUntil(b, sig, "the dialer to notice", func() bool { return w.attempts() > 0 })
	return ds
}

// BenchmarkReconnectAfterOutage measures, with the default backoff, the
// time from the end of an outage (the listener's host refusing
// connections) to the dialer's Reconnected event. Run it with
// -benchtime=Nx: each iteration lasts the outage and more.
func BenchmarkReconnectAfterOutage(b *testing.B) {
	for _, outage := range []time.Duration{time.Second, 5 * time.Second, 20 * time.Second} {
		b.Run("outage="+outage.String(), func(b *testing.B) {
			_, alice, bob := alicePKI(b)
			l, err := peer.Listen("127.0.0.1:0", peer.Config{Identity: alice})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			proxy := newFaultProxy(b, l.Addr().String())
			accepted := make(chan *peer.Session, 1)
			go func() {
				s, _ := l.Accept(b.Context())
				accepted <- s
			}()
			ds, err := peer.Dial(b.Context(), proxy.Addr(), peer.Config{Identity: bob, Reconnect: true})
			if err != nil {
				b.Fatal(err)
			}
			ls := <-accepted
			sig := newSignal()
			aw, bw := watch(b, ls, sig), watch(b, ds, sig)
			var delays []time.Duration
			b.ResetTimer()
			for i := range b.N {
				proxy.Refuse(true)
				proxy.Cut()
				waitUntil(b, sig, "both sides to notice", func() bool { return aw.disconnects() > i && bw.disconnects() > i })
				outageEnds := time.NewTimer(outage)
				<-outageEnds.C // the outage itself, not a synchronisation
				proxy.Refuse(false)
				restored := time.Now()
				waitUntil(b, sig, "the dialer to reconnect", func() bool { return bw.reconnects() > i })
				_, at := eventsOf[peer.Reconnected](bw)
				delays = append(delays, at[i].Sub(restored))
				// The next cut must find the listener attached too.
				waitUntil(b, sig, "the listener to resume", func() bool { return aw.reconnects() > i })
			}
			b.StopTimer()
			slices.Sort(delays)
			var sum time.Duration
			for _, d := range delays {
				sum += d
			}
			b.ReportMetric(float64(sum.Milliseconds())/float64(len(delays)), "mean-ms-after-restore")
			b.ReportMetric(float64(delays[len(delays)-1].Milliseconds()), "max-ms-after-restore")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// TestReconnectDelayModel computes, from the default backoff, how long
// after an outage ends the dialer's next attempt comes, for outages too
// long to measure in a benchmark; each attempt costs a handshake more
// (milliseconds). It checks the cap and logs the figures.
func TestReconnectDelayModel(t *testing.T) {
	cfg := peer.Config{}.WithDefaultsForTest()
	rng := rand.New(rand.NewPCG(1, 2))
	var report []string
	for _, outage := range []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute} {
		const runs = 10000
		delays := make([]time.Duration, runs)
		for r := range delays {
			var at time.Duration
			for n := 1; at < outage; n++ {
				at += peer.Backoff(cfg, n, rng)
			}
			delays[r] = at - outage
			if delays[r] > cfg.ReconnectBackoffMax {
				t.Fatalf("outage %s: next attempt %s after restoration, beyond the %s cap", outage, delays[r], cfg.ReconnectBackoffMax)
			}
		}
		slices.Sort(delays)
		var sum time.Duration
		for _, d := range delays {
			sum += d
		}
		report = append(report, fmt.Sprintf("outage %5s: mean %5.1fs, median %5.1fs, p95 %5.1fs",
			outage, (sum/runs).Seconds(), delays[runs/2].Seconds(), delays[runs*95/100].Seconds()))
	}
	t.Logf("time from restoration to the next attempt, default backoff (%s doubling to %s, jitter):\n%s",
		cfg.ReconnectBackoff, cfg.ReconnectBackoffMax, strings.Join(report, "\n"))
}
