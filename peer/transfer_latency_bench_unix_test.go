//go:build unix

package peer_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"peerchat/peer"
)

// BenchmarkMessageDuringTransfer measures what a file transfer does to
// the chat: the round trip of a message (bob sends, alice echoes it back)
// on an idle conversation, then while bob sends alice a 1 GiB file over
// the same connection. A message waits behind one chunk at most in bob's
// write path, but also behind what the kernel's socket buffers already
// hold, which is what this measures.
func BenchmarkMessageDuringTransfer(b *testing.B) {
	b.Run("loopback", func(b *testing.B) { messageDuringTransfer(b, 1<<30, 0) })
	// A link of 20 MB/s (160 Mbit/s), as across the internet: the queue
	// builds in bob's socket buffer, not in alice's.
	b.Run("20MB/s", func(b *testing.B) { messageDuringTransfer(b, 64<<20, 20e6) })
}

func messageDuringTransfer(b *testing.B, size int64, rate float64) {
	gen := newGenReader()
	var idle, busy []time.Duration
	for range b.N {
		ls, ds := benchPairWith(b, peer.DiscardingFiles(peer.Config{}), peer.Config{}, rate)
		go echo(ls) // alice
		echoes := make(chan struct{}, 1)
		go func() {
			for {
				ev, err := ds.Next()
				if err != nil {
					return
				}
				if _, ok := ev.(*peer.Message); ok {
					echoes <- struct{}{}
				}
			}
		}()
		roundTrip := func() time.Duration {
			t0 := time.Now()
			if _, err := ds.Send(benchText); err != nil {
				b.Fatal(err)
			}
			<-echoes
			return time.Since(t0)
		}
		for range 200 {
			idle = append(idle, roundTrip())
		}
		sent := make(chan error, 1)
		go func() { sent <- ds.SendReader(context.Background(), "gen.bin", gen, size, nil) }()
		for done := false; !done; {
			busy = append(busy, roundTrip())
			select {
			case err := <-sent:
				if err != nil {
					b.Fatal(err)
				}
				done = true
			case <-time.After(5 * time.Millisecond): // a person types slower
			}
		}
		ds.Close()
		ls.Close()
	}
	slices.Sort(idle)
	slices.Sort(busy)
	q := func(d []time.Duration, p float64) float64 {
		return float64(d[int(float64(len(d)-1)*p)].Microseconds())
	}
	b.ReportMetric(q(idle, 0.5), "idle-p50-µs")
	b.ReportMetric(q(busy, 0.5), "transfer-p50-µs")
	b.ReportMetric(q(busy, 0.99), "transfer-p99-µs")
	b.ReportMetric(float64(len(busy))/float64(b.N), "samples")
}
