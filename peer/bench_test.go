package peer_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"peerchat/peer"
)

// The round-trip benchmarks send a 64-byte message and wait for a 64-byte
// answer, once through peerchat sessions and once over bare crypto/tls
// with the same certificates, so that the ratio between the two says what
// peerchat's framing, acknowledgements and heartbeat cost.

const benchText = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func BenchmarkRoundTrip(b *testing.B) {
	b.Run("bare-tls", func(b *testing.B) { runRoundTrips(b, bareTLSRoundTripper(b)) })
	b.Run("peerchat", func(b *testing.B) { runRoundTrips(b, peerchatRoundTripper(b)) })
}

// BenchmarkRoundTripRatio measures both in one run, alternating one round
// trip of each so that both see the same machine, and reports peerchat's
// time per round trip as a multiple of bare TLS's. (It cannot call
// testing.Benchmark: from inside a benchmark that deadlocks.)
func BenchmarkRoundTripRatio(b *testing.B) {
	bare, pc := bareTLSRoundTripper(b), peerchatRoundTripper(b)
	defer bare.close()
	defer pc.close()
	var bareTime, pcTime time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		bare.once()
		t1 := time.Now()
		pc.once()
		pcTime += time.Since(t1)
		bareTime += t1.Sub(t0)
	}
	b.StopTimer()
	b.ReportMetric(float64(bareTime.Microseconds())/float64(b.N), "bare-µs/rt")
	b.ReportMetric(float64(pcTime.Microseconds())/float64(b.N), "peerchat-µs/rt")
	b.ReportMetric(float64(pcTime)/float64(bareTime), "ratio")
}

// A roundTripper sends one 64-byte message and waits for the echo.
type roundTripper struct {
	once  func()
	close func()
}

func runRoundTrips(b *testing.B, rt roundTripper) {
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rt.once()
	}
	b.StopTimer()
	rt.close()
}

func peerchatRoundTripper(b *testing.B) roundTripper {
	ls, ds := benchPair(b)
	go echo(ls)
	once := func() {
		if _, err := ds.Send(benchText); err != nil {
			b.Fatal(err)
		}
		for {
			ev, err := ds.Next()
			if err != nil {
				b.Fatal(err)
			}
			if _, ok := ev.(*peer.Message); ok {
				return
			}
		}
	}
	return roundTripper{once, func() {
		ds.Close()
		ls.Close()
	}}
}

func bareTLSRoundTripper(b *testing.B) roundTripper {
	srv, cli := bareTLSPair(b)
	go func() {
		buf := make([]byte, len(benchText))
		for {
			if _, err := io.ReadFull(srv, buf); err != nil {
				return
			}
			if _, err := srv.Write(buf); err != nil {
				return
			}
		}
	}()
	msg := []byte(benchText)
	buf := make([]byte, len(msg))
	once := func() {
		if _, err := cli.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(cli, buf); err != nil {
			b.Fatal(err)
		}
	}
	return roundTripper{once, func() {
		cli.Close()
		srv.Close()
	}}
}

// echo sends every message s receives back, until s ends.
func echo(s *peer.Session) {
	for {
		ev, err := s.Next()
		if err != nil {
			return
		}
		if m, ok := ev.(*peer.Message); ok {
			if _, err := s.Send(m.Text); err != nil {
				return
			}
		}
	}
}

func benchPair(b *testing.B) (ls, ds *peer.Session) {
	return benchPairWith(b, peer.Config{}, peer.Config{}, 0)
}

// benchPairWith is benchPair with configurations for alice (listening)
// and bob (dialing), their identities filled in, and bob's bytes
// through a link of rate bytes a second when rate is not 0.
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

func bareTLSPair(b *testing.B) (srv, cli *tls.Conn) {
	_, alice, bob := alicePKI(b)
	load := func(f peer.Files) (tls.Certificate, *x509.CertPool) {
		cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			b.Fatal(err)
		}
		caPEM, _ := os.ReadFile(f.CA)
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		return cert, pool
	}
	acert, pool := load(alice.Files)
	bcert, _ := load(bob.Files)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{acert},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan *tls.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		tc := c.(*tls.Conn)
		tc.Handshake() // the client's Dial waits for this
		accepted <- tc
	}()
	cli, err = tls.Dial("tcp", ln.Addr().String(), &tls.Config{
		MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{bcert}, RootCAs: pool, ServerName: "alice",
	})
	if err != nil {
		b.Fatal(err)
	}
	if srv = <-accepted; srv == nil {
		b.Fatal("bare TLS accept failed")
	}
	return srv, cli
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
