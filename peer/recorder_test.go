package peer_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"net"
	"sync"
	"testing"

	"peerchat/peer"
)

// The recorder behind TestTranscript: a TLS-terminating proxy that
// records every frame two peers exchange.

// A tlsRecorder stands between a dialer and a listener on loopback and
// records the frames they exchange. It terminates TLS on both sides with
// the peers' own certificates (the test holds their keys), so each peer
// sees the other's certificate, fingerprint and name exactly as without
// it, and it forwards the plaintext unchanged, recording each frame
// before it forwards it: a frame's consequences are recorded after it.
type tlsRecorder struct {
	ln  net.Listener
	wg  sync.WaitGroup
	mu  sync.Mutex
	cs  []net.Conn
	end bool
}

func newTLSRecorder(t *testing.T, ca *x509.Certificate, listener, dialer *peer.Identity, target string, rec *frameRecorder) *tlsRecorder {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	lcert, err := tls.LoadX509KeyPair(listener.Files.Cert, listener.Files.Key)
	if err != nil {
		t.Fatal(err)
	}
	dcert, err := tls.LoadX509KeyPair(dialer.Files.Cert, dialer.Files.Key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tlsRecorder{ln: ln}
	t.Cleanup(p.Close)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		raw, err := ln.Accept()
		if err != nil {
			return
		}
		front := tls.Server(raw, &tls.Config{
			MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{lcert},
			ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool,
			NextProtos: []string{peer.ALPN}, SessionTicketsDisabled: true,
		})
		if !p.track(front) {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := front.HandshakeContext(ctx); err != nil {
			t.Errorf("recorder: dialer's handshake: %v", err)
			front.Close()
			return
		}
		back, err := (&tls.Dialer{Config: &tls.Config{
			MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{dcert},
			RootCAs: pool, ServerName: "localhost", NextProtos: []string{peer.ALPN},
		}}).DialContext(ctx, "tcp", target)
		if err != nil {
			t.Errorf("recorder: listener's handshake: %v", err)
			front.Close()
			return
		}
		if !p.track(back) {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			rec.pump("L>D", back, front)
		}()
		rec.pump("D>L", front, back)
	}()
	return p
}

func (p *tlsRecorder) Addr() net.Addr { return p.ln.Addr() }

// track registers c to be closed by Close; it reports false, having
// closed c, if Close came first.
func (p *tlsRecorder) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.end {
		c.Close()
		return false
	}
	p.cs = append(p.cs, c)
	return true
}

func (p *tlsRecorder) Close() {
	p.mu.Lock()
	p.end = true
	for _, c := range p.cs {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}

type recordedFrame struct {
	dir   string // "D>L" from the dialer, "L>D" from the listener
	frame []byte // the whole frame: type, length, payload
}

// A frameRecorder collects the frames of both directions in the order
// it saw them.
type frameRecorder struct {
	mu     sync.Mutex
	frames []recordedFrame
}

// pump copies src to dst until either ends, recording each whole frame
// before the bytes that complete it are forwarded; then it closes both.
func (r *frameRecorder) pump(dir string, src, dst net.Conn) {
	defer src.Close()
	defer dst.Close()
	var pending []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		pending = append(pending, buf[:n]...)
		for len(pending) >= 5 {
			size := 5 + int(binary.BigEndian.Uint32(pending[1:]))
			if len(pending) < size {
				break
			}
			r.mu.Lock()
			r.frames = append(r.frames, recordedFrame{dir, bytes.Clone(pending[:size])})
			r.mu.Unlock()
			pending = pending[size:]
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
