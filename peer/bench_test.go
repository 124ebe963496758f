package peer_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"os"
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
	b.Run("bare-tls", benchBareTLSRoundTrip)
	b.Run("peerchat", benchPeerchatRoundTrip)
}

// BenchmarkRoundTripRatio alternates one bare-TLS and one peerchat round
// trip per iteration, timing each, so that both see the same machine load,
// and reports peerchat's time as a multiple of bare TLS's.
func BenchmarkRoundTripRatio(b *testing.B) {
	srv, cli := bareTLSPair(b)
	go echoBare(srv)
	ls, ds := benchPair(b)
	go echoPeerchat(ls)
	msg, buf := []byte(benchText), make([]byte, len(benchText))
	var bare, pc time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := cli.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(cli, buf); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		peerchatRoundTrip(b, ds)
		t2 := time.Now()
		bare += t1.Sub(t0)
		pc += t2.Sub(t1)
	}
	b.StopTimer()
	b.ReportMetric(float64(bare.Nanoseconds())/float64(b.N), "bare-ns/rt")
	b.ReportMetric(float64(pc.Nanoseconds())/float64(b.N), "peerchat-ns/rt")
	b.ReportMetric(float64(pc)/float64(bare), "ratio")
	cli.Close()
	ds.Close()
}

func echoBare(srv *tls.Conn) {
	buf := make([]byte, len(benchText))
	for {
		if _, err := io.ReadFull(srv, buf); err != nil {
			return
		}
		if _, err := srv.Write(buf); err != nil {
			return
		}
	}
}

func echoPeerchat(s *peer.Session) {
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

// peerchatRoundTrip sends benchText and waits for the echo.
func peerchatRoundTrip(b *testing.B, s *peer.Session) {
	if _, err := s.Send(benchText); err != nil {
		b.Fatal(err)
	}
	for {
		ev, err := s.Next()
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := ev.(*peer.Message); ok {
			return
		}
	}
}

func benchPeerchatRoundTrip(b *testing.B) {
	ls, ds := benchPair(b)
	go echoPeerchat(ls)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		peerchatRoundTrip(b, ds)
	}
	b.StopTimer()
	ds.Close()
	ls.Close()
}

func benchBareTLSRoundTrip(b *testing.B) {
	srv, cli := bareTLSPair(b)
	go echoBare(srv)
	msg := []byte(benchText)
	buf := make([]byte, len(msg))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := cli.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(cli, buf); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cli.Close()
	srv.Close()
}

func benchPair(b *testing.B) (ls, ds *peer.Session) {
	_, alice, bob := alicePKI(b)
	l, err := peer.Listen("127.0.0.1:0", peer.Config{Identity: alice})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan *peer.Session, 1)
	go func() {
		s, _ := l.Accept(b.Context())
		accepted <- s
	}()
	ds, err = peer.Dial(b.Context(), l.Addr().String(), peer.Config{Identity: bob})
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
