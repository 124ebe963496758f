//go:build unix

package peer_test

import (
	"context"
	"io"
	"net"
	"slices"
	"sync"
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

// benchPairWith is benchPair with configurations for alice (listening)
// and bob (dialing); their identities are filled in.
func benchPairWith(b *testing.B, lcfg, dcfg peer.Config, rate float64) (ls, ds *peer.Session) {
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
	addr := l.Addr().String()
	if rate > 0 {
		addr = slowLink(b, addr, rate)
	}
	ds, err = peer.Dial(b.Context(), addr, dcfg)
	if err != nil {
		b.Fatal(err)
	}
	return <-accepted, ds
}

// slowLink forwards one connection to target, the dialer's bytes at rate
// bytes a second at most, as a slower network would carry them.
func slowLink(b *testing.B, target string, rate float64) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	b.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		// A router's queue, not a host's: the link holds little, so what
		// waits, waits in bob's socket buffer as on a real path.
		c.(*net.TCPConn).SetReadBuffer(64 << 10)
		t, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			return
		}
		wg.Add(1)
		go func() { // the way back, at full speed
			defer wg.Done()
			io.Copy(c, t)
			c.Close()
		}()
		buf := make([]byte, 16<<10)
		start, moved := time.Now(), 0.0
		for {
			n, err := c.Read(buf)
			if n > 0 {
				moved += float64(n)
				if ahead := time.Duration(moved/rate*float64(time.Second)) - time.Since(start); ahead > 0 {
					time.Sleep(ahead) // the link's pace, not a synchronisation
				}
				if _, err := t.Write(buf[:n]); err != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		t.Close()
	}()
	return ln.Addr().String()
}
