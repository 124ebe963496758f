package peer_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"peerchat/peer"
	"peerchat/peer/peertest"
)

// Hostile traffic, on loopback only, bounded in count and time. The
// attackers dial from their own loopback addresses (127.0.0.2 and up; all
// of 127/8 is local on Linux), so that the per-address bound applies to
// them and not to the real peers on 127.0.0.1.

// fromAddr dials the listener from a loopback source address.
func fromAddr(ip string, timeout time.Duration) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: timeout}
}

// holdUntilClosed reads from c until the listener closes it or the
// deadline passes, and says whether the listener closed it.
func holdUntilClosed(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// TestHostileTrafficDoesNotDisturbTheChat runs a chat, one message every
// few milliseconds each way, while 1,000 silent connections, 1,000 failed
// handshakes (no certificate, another CA, TLS 1.2) and 300 connections of
// random bytes hit the listener, and a third peer knocks now and then.
// Every message must arrive in order and be acknowledged, every knock must
// be answered (busy: the knock got through admission and the handshake),
// and goroutines and heap must come back down after.
// Set PEERCHAT_HOSTILE_REPORT=FILE to keep the figures.
func TestHostileTrafficDoesNotDisturbTheChat(t *testing.T) {
	const (
		silentConns  = 1000
		failedShakes = 1000 // a third each: no certificate, another CA, TLS 1.2
		randomConns  = 300
		silentLimit  = 400 * time.Millisecond
		handshakeCap = 2 * time.Second
		floodBudget  = 20 * time.Second // the whole flood must end within this
		knocks       = 8                // by a real peer, one every 200ms
	)
	pki, alice, bob := alicePKI(t)
	carol := pki.Identity(t, "carol")
	mallory := peertest.NewPKI(t).Identity(t, "mallory")

	var rejectMu sync.Mutex
	rejects := map[string]int{}
	lcfg := peer.Config{
		Identity:         alice,
		HandshakeTimeout: handshakeCap,
		SilentTimeout:    silentLimit,
		OnReject: func(_ net.Addr, err error) {
			rejectMu.Lock()
			rejects[rejectKind(err)]++
			rejectMu.Unlock()
		},
	}
	l, err := peer.Listen("127.0.0.1:0", lcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	addr := l.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), floodBudget+10*time.Second)
	defer cancel()

	accepted := make(chan *peer.Session, 1)
	go func() {
		s, _ := l.Accept(ctx)
		accepted <- s
	}()
	ds, err := peer.Dial(ctx, addr, peer.Config{Identity: bob})
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	ls := <-accepted
	if ls == nil {
		t.Fatal("no session accepted")
	}
	defer ls.Close()

	// The chat: a receiver per side, and a sender per side that keeps
	// talking until the flood is over.
	received := map[string]*[]string{"alice": new([]string), "bob": new([]string)}
	var recvWG sync.WaitGroup
	for _, s := range []*peer.Session{ls, ds} {
		recvWG.Add(1)
		go func() {
			defer recvWG.Done()
			for {
				ev, err := s.Next()
				if err != nil {
					return
				}
				if m, ok := ev.(*peer.Message); ok {
					*received[s.Name()] = append(*received[s.Name()], m.Text)
				}
			}
		}()
	}

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutinesBefore := runtime.NumGoroutine()

	stop := make(chan struct{})
	sent := map[string]*int{"alice": new(int), "bob": new(int)}
	var sendWG sync.WaitGroup
	var sendErr atomic.Value
	for _, s := range []*peer.Session{ls, ds} {
		sendWG.Add(1)
		go func() {
			defer sendWG.Done()
			tick := time.NewTicker(3 * time.Millisecond)
			defer tick.Stop()
			n := sent[s.Name()] // read after sendWG.Wait
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				if _, err := s.Send(fmt.Sprintf("%s %d", s.Name(), *n)); err != nil {
					sendErr.Store(err)
					return
				}
				*n++
			}
		}()
	}

	// The flood.
	start := time.Now()
	var attempts, closedByListener, heldToTheEnd atomic.Int64
	var peakGoroutines atomic.Int64
	var peakHeap atomic.Uint64
	var floodWG sync.WaitGroup
	floodDone := make(chan struct{})
	go func() { // sample the goroutine count during the flood
		for {
			select {
			case <-floodDone:
				return
			case <-time.After(50 * time.Millisecond):
				if n := int64(runtime.NumGoroutine()); n > peakGoroutines.Load() {
					peakGoroutines.Store(n)
				}
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peakHeap.Load() {
					peakHeap.Store(ms.HeapInuse)
				}
			}
		}
	}()

	// 1. Connections that never send a byte, all open at once (in
	// batches of dials), each held until the listener closes it.
	floodWG.Add(1)
	go func() {
		defer floodWG.Done()
		var wg sync.WaitGroup
		dials := make(chan struct{}, 100)
		for i := range silentConns {
			dials <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := fromAddr(fmt.Sprintf("127.0.0.%d", 2+i%4), time.Second).Dial("tcp", addr)
				<-dials
				attempts.Add(1)
				if err != nil {
					return
				}
				defer c.Close()
				if holdUntilClosed(c, floodBudget) {
					closedByListener.Add(1)
				} else {
					heldToTheEnd.Add(1)
				}
			}()
		}
		wg.Wait()
	}()

	// 2. Failed handshakes of three kinds, from a few workers.
	tweaks := []func(c *tls.Config){
		func(c *tls.Config) { c.Certificates = nil },                                    // no certificate
		func(c *tls.Config) { c.Certificates = []tls.Certificate{tlsCert(t, mallory)} }, // another CA
		func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 },                         // TLS 1.2
	}
	roots := x509.NewCertPool()
	roots.AddCert(alice.CA)
	failures := make(chan int)
	go func() {
		for i := range failedShakes {
			failures <- i
		}
		close(failures)
	}()
	var handshakesThatWorked atomic.Int64
	for w := range 12 {
		floodWG.Add(1)
		go func() {
			defer floodWG.Done()
			for i := range failures {
				cfg := &tls.Config{RootCAs: roots, ServerName: "alice", NextProtos: []string{peer.ALPN},
					Certificates: []tls.Certificate{tlsCert(t, bob)}}
				tweaks[i%3](cfg)
				attempts.Add(1)
				d := fromAddr(fmt.Sprintf("127.0.0.%d", 10+w%4), time.Second)
				c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
				if err != nil {
					continue
				}
				// TLS 1.3: the client's side completes; the refusal
				// arrives at the first read.
				c.SetReadDeadline(time.Now().Add(handshakeCap + time.Second))
				if _, err := c.Read(make([]byte, 1)); err == nil {
					handshakesThatWorked.Add(1)
				}
				c.Close()
			}
		}()
	}

	// 3. Random bytes.
	floodWG.Add(1)
	go func() {
		defer floodWG.Done()
		var wg sync.WaitGroup
		for i := range randomConns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				attempts.Add(1)
				c, err := fromAddr(fmt.Sprintf("127.0.0.%d", 20+i%4), time.Second).Dial("tcp", addr)
				if err != nil {
					return
				}
				defer c.Close()
				junk := make([]byte, 1+mathrand.IntN(4096))
				rand.Read(junk)
				c.Write(junk)
				holdUntilClosed(c, floodBudget)
			}()
		}
		wg.Wait()
	}()

	// 4. Meanwhile, a real peer knocking: it must get through admission
	// and the handshake and be told the listener is busy, never find the
	// door shut.
	var busyAnswers atomic.Int64
	knockErrs := make(chan error, 100)
	floodWG.Add(1)
	go func() {
		defer floodWG.Done()
		for range knocks {
			time.Sleep(200 * time.Millisecond)
			kctx, kcancel := context.WithTimeout(ctx, 5*time.Second)
			s, err := peer.Dial(kctx, addr, peer.Config{Identity: carol})
			kcancel()
			switch {
			case err == nil:
				s.Close()
				knockErrs <- errors.New("carol got a session while alice is in a chat")
			case errors.Is(err, peer.ErrBusy):
				busyAnswers.Add(1)
			default:
				knockErrs <- err
			}
		}
	}()

	floodEnded := make(chan struct{})
	go func() { floodWG.Wait(); close(floodEnded) }()
	select {
	case <-floodEnded:
	case <-time.After(floodBudget):
		t.Fatalf("the flood did not end within %s", floodBudget)
	}
	close(floodDone)
	floodTime := time.Since(start)
	close(stop)
	sendWG.Wait()
	if err := sendErr.Load(); err != nil {
		t.Fatalf("the chat broke during the flood: %v", err)
	}
	close(knockErrs)
	for err := range knockErrs {
		t.Errorf("carol's knock during the flood: %v", err)
	}

	// Every message of the chat is delivered and acknowledged.
	fctx, fcancel := context.WithTimeout(ctx, 5*time.Second)
	defer fcancel()
	for _, s := range []*peer.Session{ls, ds} {
		if err := s.Flush(fctx); err != nil {
			t.Fatalf("%s: %v", s.Name(), err)
		}
	}
	ls.Close()
	ds.Close()
	recvWG.Wait()
	for _, pair := range [][2]string{{"alice", "bob"}, {"bob", "alice"}} {
		from, to := pair[0], pair[1]
		got := *received[to]
		if len(got) != *sent[from] {
			t.Errorf("%s sent %d messages during the flood, %s received %d", from, *sent[from], to, len(got))
		}
		for i, text := range got {
			if want := fmt.Sprintf("%s %d", from, i); text != want {
				t.Fatalf("%s's message %d is %q, want %q", to, i, text, want)
			}
		}
	}

	// Memory and goroutines come back down once the handshakes under way
	// have ended: nothing grows with the number of connections.
	deadline := time.Now().Add(handshakeCap + 2*time.Second)
	for runtime.NumGoroutine() > goroutinesBefore+4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	goroutinesAfter := runtime.NumGoroutine()
	if goroutinesAfter > goroutinesBefore+4 {
		t.Errorf("goroutines: %d before the flood, %d after it", goroutinesBefore, goroutinesAfter)
	}
	const slack = 8 << 20
	if after.HeapInuse > before.HeapInuse+slack {
		t.Errorf("heap in use grew from %d to %d bytes", before.HeapInuse, after.HeapInuse)
	}
	if n := handshakesThatWorked.Load(); n != 0 {
		t.Errorf("%d foreign handshakes were let through", n)
	}
	if n := heldToTheEnd.Load(); n != 0 {
		t.Errorf("%d silent connections were never closed by the listener", n)
	}
	if n := busyAnswers.Load(); n != knocks {
		t.Errorf("carol got %d answers to %d knocks during the flood", n, knocks)
	}

	rejectMu.Lock()
	var kinds []string
	total := 0
	for k, n := range rejects {
		kinds = append(kinds, fmt.Sprintf("%6d  %s", n, k))
		total += n
	}
	rejectMu.Unlock()
	sort.Sort(sort.Reverse(sort.StringSlice(kinds)))
	report := fmt.Sprintf(`hostile traffic against a listener in a chat (loopback, GOMAXPROCS %d):
  connections tried:     %d (%d silent, %d failed handshakes, %d random-byte) in %s
  silent ones closed by the listener: %d; foreign handshakes let through: %d
  refusals reported:     %d
%s
  real peer knocking:    %d of %d knocks answered "busy"
  chat during the flood: alice sent %d, bob sent %d; all delivered in order and acknowledged
  goroutines:            %d before, peak %d during (attackers included), %d after
  heap in use:           %.1f MiB before, peak %.1f MiB during (attackers included), %.1f MiB after (sys %.1f MiB)`,
		runtime.GOMAXPROCS(0),
		attempts.Load(), silentConns, failedShakes, randomConns, floodTime.Round(time.Millisecond),
		closedByListener.Load(), handshakesThatWorked.Load(),
		total, strings.Join(kinds, "\n"),
		busyAnswers.Load(), knocks, *sent["alice"], *sent["bob"],
		goroutinesBefore, peakGoroutines.Load(), goroutinesAfter,
		mib(before.HeapInuse), mib(peakHeap.Load()), mib(after.HeapInuse), mib(after.Sys))
	t.Log(report)
	if path := os.Getenv("PEERCHAT_HOSTILE_REPORT"); path != "" {
		os.WriteFile(path, []byte(report+"\n"), 0o644)
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// rejectKind shortens a refusal to its kind, for the tally.
func rejectKind(err error) string {
	msg := err.Error()
	for _, k := range []string{
		"sent nothing; closed to make room",
		"sent nothing within",
		"client presented no certificate",
		"is not signed by our CA",
		"TLS 1.2 or older",
		"not a TLS client",
		"too many handshakes under way from",
		"too many handshakes under way",
		"busy",
		"client closed the connection",
	} {
		if strings.Contains(msg, k) {
			return k
		}
	}
	return msg
}

// tlsCert is id's certificate and key as crypto/tls wants them.
func tlsCert(t *testing.T, id *peer.Identity) tls.Certificate {
	t.Helper()
	c, err := tls.LoadX509KeyPair(id.Files.Cert, id.Files.Key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
