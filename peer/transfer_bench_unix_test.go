//go:build unix

package peer_test

import (
	"context"
	"crypto/rand"
	"io"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"peerchat/peer"
)

// genReader is a file generated on the fly: a random 1 MiB block over and
// over, so that neither disk nor memory limits the measurement.
type genReader struct{ block []byte }

func newGenReader() genReader {
	b := make([]byte, 1<<20)
	rand.Read(b)
	return genReader{b}
}

func (g genReader) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(p[n:], g.block[(off+int64(n))%int64(len(g.block)):])
	}
	return n, nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakHeap samples the heap in use until stop is called, and returns the
// highest sample.
func peakHeap() (stop func() uint64) {
	var mu sync.Mutex
	var peak uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond) // ReadMemStats stops the world: rarely
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			mu.Lock()
			peak = max(peak, ms.HeapInuse+ms.StackInuse)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// BenchmarkSendFileVsTLS sends 1 GiB, generated on the fly, through
// peerchat (SendReader, hashed and verified by a discarding receiver) and
// through bare crypto/tls (io.Copy to io.Discard), over loopback in the
// same run, and reports the throughput ratio (target ≥ 0.8), CPU seconds
// per GiB (both sides, as both run in this process) and the peak heap.
//
//	go test -run '^$' -bench SendFileVsTLS -benchtime 1x ./peer
func BenchmarkSendFileVsTLS(b *testing.B) {
	const size = 1 << 30
	gen := newGenReader()
	gib := float64(size) / (1 << 30)
	var bareT, pcT, bareCPU, pcCPU time.Duration
	var peak uint64
	for range b.N {
		// Bare TLS.
		srv, cli := bareTLSPair(b)
		runtime.GC()
		c0, t0 := cpuTime(), time.Now()
		got := make(chan int64, 1)
		go func() {
			n, _ := io.Copy(io.Discard, srv)
			got <- n
		}()
		if _, err := io.Copy(cli, io.NewSectionReader(gen, 0, size)); err != nil {
			b.Fatal(err)
		}
		cli.Close()
		if n := <-got; n != size {
			b.Fatalf("bare TLS moved %d bytes", n)
		}
		bareT += time.Since(t0)
		bareCPU += cpuTime() - c0
		srv.Close()

		// peerchat.
		_, alice, bob := alicePKI(b)
		lcfg := peer.DiscardingFiles(peer.Config{Identity: alice})
		l, err := peer.Listen("127.0.0.1:0", lcfg)
		if err != nil {
			b.Fatal(err)
		}
		accepted := make(chan *peer.Session, 1)
		go func() {
			s, _ := l.Accept(context.Background())
			accepted <- s
		}()
		ds, err := peer.Dial(context.Background(), l.Addr().String(), peer.Config{Identity: bob})
		if err != nil {
			b.Fatal(err)
		}
		ls := <-accepted
		l.Close()
		received := make(chan peer.Event, 1)
		go func() {
			for {
				ev, err := ls.Next()
				if err != nil {
					return
				}
				if _, ok := ev.(peer.FileReceived); ok {
					received <- ev
				}
			}
		}()
		go func() {
			for {
				if _, err := ds.Next(); err != nil {
					return
				}
			}
		}()
		runtime.GC()
		stop := peakHeap()
		c0, t0 = cpuTime(), time.Now()
		if err := ds.SendReader(context.Background(), "gen.bin", gen, size, nil); err != nil {
			b.Fatal(err)
		}
		<-received
		pcT += time.Since(t0)
		pcCPU += cpuTime() - c0
		peak = max(peak, stop())
		ds.Close()
		ls.Close()
	}
	n := float64(b.N)
	b.ReportMetric(gib*n/bareT.Seconds()*1024, "bare-MiB/s")
	b.ReportMetric(gib*n/pcT.Seconds()*1024, "peerchat-MiB/s")
	b.ReportMetric(bareT.Seconds()/pcT.Seconds(), "ratio")
	b.ReportMetric(bareCPU.Seconds()/(gib*n), "bare-cpu-s/GiB")
	b.ReportMetric(pcCPU.Seconds()/(gib*n), "peerchat-cpu-s/GiB")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}
