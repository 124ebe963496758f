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
	const size = 1 << 30
	gen := newGenReader()
	var idle, busy []time.Duration
	for range b.N {
		ls, ds := benchPairWith(b, peer.DiscardingFiles(peer.Config{}), peer.Config{})
		// alice echoes every message.
		go func() {
			for {
				ev, err := ls.Next()
				if err != nil {
					return
				}
				if m, ok := ev.(*peer.Message); ok {
					if _, err := ls.Send(m.Text); err != nil {
						return
					}
				}
			}
		}()
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

// benchPairWith is benchPair with configurations for alice (listening)
// and bob (dialing); their identities are filled in.
func benchPairWith(b *testing.B, lcfg, dcfg peer.Config) (ls, ds *peer.Session) {
	_, alice, bob := alicePKI(b)
	lcfg.Identity, dcfg.Identity = alice, bob
	l, err := peer.Listen("127.0.0.1:0", lcfg)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan *peer.Session, 1)
	go func() {
		s, _ := l.Accept(b.Context())
		accepted <- s
	}()
	ds, err = peer.Dial(b.Context(), l.Addr().String(), dcfg)
	if err != nil {
		b.Fatal(err)
	}
	return <-accepted, ds
}
