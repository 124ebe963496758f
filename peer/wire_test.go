package peer_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"peerchat/peer"
	"peerchat/peer/peertest"
)

// These tests speak the wire protocol by hand, as docs/PROTOCOL.md
// describes it, to check what a peer does with frames peerchat itself
// would never send.

func frame(typ byte, payload []byte) []byte {
	b := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	return append(b, payload...)
}

func helloFrame(name string) []byte {
	p := []byte{0, 1, byte(len(name))}
	p = append(p, name...)
	p = append(p, 4)
	p = append(p, "test"...)
	return frame(1, p)
}

func messageFrame(id uint64, text string) []byte {
	p := binary.BigEndian.AppendUint64(nil, id)
	p = binary.BigEndian.AppendUint64(p, uint64(time.Now().UnixMilli()))
	return frame(2, append(p, text...))
}

// rawClient connects to addr with crypto/tls alone, presenting the
// certificate in f unless tweak removes it.
func rawClient(t *testing.T, addr string, f peer.Files, tweak func(*tls.Config)) *tls.Conn {
	t.Helper()
	conn, err := rawDial(t, addr, f, tweak)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func rawDial(t *testing.T, addr string, f peer.Files, tweak func(*tls.Config)) (*tls.Conn, error) {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      roots,
		ServerName:   "localhost",
		NextProtos:   []string{peer.ALPN},
	}
	if tweak != nil {
		tweak(cfg)
	}
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(testTimeout))
	return conn, conn.Handshake()
}

// readFrame reads one frame's type and payload.
func readFrame(t *testing.T, r io.Reader) (byte, []byte) {
	t.Helper()
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		t.Fatalf("reading a frame header: %v", err)
	}
	p := make([]byte, binary.BigEndian.Uint32(hdr[1:]))
	if _, err := io.ReadFull(r, p); err != nil {
		t.Fatalf("reading a frame payload: %v", err)
	}
	return hdr[0], p
}

// readErrorFrame skips frames until an error frame and returns its reason.
func readErrorFrame(t *testing.T, r io.Reader) string {
	t.Helper()
	for {
		typ, p := readFrame(t, r)
		if typ == 7 {
			if len(p) < 1 || p[0] != 1 {
				t.Fatalf("error frame %q, want code 1 (protocol)", p)
			}
			return string(p[1:])
		}
	}
}

func TestMalformedFramesEndTheSessionWithAReason(t *testing.T) {
	tests := []struct {
		name   string
		send   []byte
		reason string
	}{
		{"oversized frame", frame(2, nil)[:1:1], "over the 65536-byte limit"},
		{"unknown type", frame(99, nil), "unknown frame type 99"},
		{"invalid UTF-8", messageFrame(1, "ok \xc3\x28 not"), "not valid UTF-8"},
		{"truncated message", frame(2, []byte{1, 2, 3}), "too short"},
		{"message out of order", messageFrame(5, "skipped ahead"), "out of order"},
		{"second hello", helloFrame("bob"), "unexpected hello frame"},
		{"acknowledgement of nothing", frame(3, binary.BigEndian.AppendUint64(nil, 7)), "never sent"},
		{"short ping", frame(4, []byte{1}), "want 8"},
	}
	// The oversized header announces 1 MiB and sends none of it: the
	// reader must refuse on the header alone, without allocating.
	tests[0].send = append([]byte{2}, binary.BigEndian.AppendUint32(nil, 1<<20)...)

	_, alice, bob := alicePKI(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := startListener(t, peer.Config{Identity: alice})
			conn := rawClient(t, l.Addr().String(), bob.Files, nil)
			readFrame(t, conn)
			conn.Write(helloFrame("bob"))
			s, err := l.Accept(testContext(t))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			conn.Write(tt.send)

			pe := wantErrorAs[*peer.ProtocolError](t, endOf(s))
			if pe.Remote || !strings.Contains(pe.Reason, tt.reason) {
				t.Errorf("listener: %v, want a local protocol error about %q", pe, tt.reason)
			}
			if got := readErrorFrame(t, conn); !strings.Contains(got, tt.reason) {
				t.Errorf("client was told %q, want %q", got, tt.reason)
			}
		})
	}
}

func TestMessageBeforeHelloIsRefused(t *testing.T) {
	_, alice, bob := alicePKI(t)
	l, rejected := startListener(t, peer.Config{Identity: alice})
	conn := rawClient(t, l.Addr().String(), bob.Files, nil)
	readFrame(t, conn)
	conn.Write(messageFrame(1, "too early"))
	if got := readErrorFrame(t, conn); !strings.Contains(got, "expected hello") {
		t.Errorf("client was told %q", got)
	}
	r := <-rejected
	if !strings.Contains(r.err.Error(), "expected hello, got a message frame") {
		t.Errorf("listener reported %v", r.err)
	}
}

func TestGarbageUnderTLSEndsTheSession(t *testing.T) {
	_, alice, bob := alicePKI(t)
	l, _ := startListener(t, peer.Config{Identity: alice})
	raw, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	cert, _ := tls.LoadX509KeyPair(bob.Files.Cert, bob.Files.Key)
	conn := tls.Client(raw, &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true, NextProtos: []string{peer.ALPN}})
	readFrame(t, conn)
	conn.Write(helloFrame("bob"))
	s, err := l.Accept(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	raw.Write([]byte("\x17\x03\x03\x00\x10 sixteen garbage!"))
	if err := endOf(s); !errors.Is(err, peer.ErrConnectionLost) {
		t.Fatalf("session ended with %v, want a lost connection", err)
	}
}

func TestDialerRefusesMalformedListener(t *testing.T) {
	pki, _, bob := alicePKI(t)
	alice := pki.Issue(t, peertest.Leaf{Name: "alice"})
	cert, err := tls.LoadX509KeyPair(alice.Cert, alice.Key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAnyClientCert,
		NextProtos:   []string{peer.ALPN},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write(append([]byte{1}, binary.BigEndian.AppendUint32(nil, 1<<30)...))
		io.Copy(io.Discard, c)
	}()
	_, err = peer.Dial(testContext(t), ln.Addr().String(), peer.Config{Identity: bob})
	pe := wantErrorAs[*peer.ProtocolError](t, err)
	if !strings.Contains(pe.Reason, "over the 65536-byte limit") {
		t.Fatalf("dial: %v", err)
	}
}

// resumeHelloFrame is a dialer's hello with a resumption block (see
// Resumption in doc.go), saying it will reconnect.
func resumeHelloFrame(name string, conv byte, recv, first uint64) []byte {
	p := []byte{0, 1, byte(len(name))}
	p = append(p, name...)
	p = append(p, 4)
	p = append(p, "test"...)
	p = append(p, conv)
	p = append(p, make([]byte, 15)...)
	p = binary.BigEndian.AppendUint64(p, recv)
	p = binary.BigEndian.AppendUint64(p, first)
	return frame(1, append(p, 1))
}

// readAck skips frames until an acknowledgement and returns it.
func readAck(t *testing.T, r io.Reader) uint64 {
	t.Helper()
	for {
		if typ, p := readFrame(t, r); typ == 3 {
			return binary.BigEndian.Uint64(p)
		}
	}
}

func TestTruncatedResumptionBlockIsRefused(t *testing.T) {
	_, alice, bob := alicePKI(t)
	l, rejected := startListener(t, peer.Config{Identity: alice})
	conn := rawClient(t, l.Addr().String(), bob.Files, nil)
	readFrame(t, conn)
	hello := helloFrame("bob")
	hello = append(hello, 1, 2, 3, 4, 5)
	binary.BigEndian.PutUint32(hello[1:], uint32(len(hello)-5))
	conn.Write(hello)
	if got := readErrorFrame(t, conn); !strings.Contains(got, "resumption block of 5 bytes, want 33") {
		t.Errorf("client was told %q", got)
	}
	if r := <-rejected; !strings.Contains(r.err.Error(), "resumption block") {
		t.Errorf("listener reported %v", r.err)
	}
}

// TestDuplicatesAreDroppedButAcknowledged: a message id already received
// is not shown again, and is acknowledged again so that the sender can
// let go of it.
func TestDuplicatesAreDroppedButAcknowledged(t *testing.T) {
	_, alice, bob := alicePKI(t)
	l, _ := startListener(t, peer.Config{Identity: alice})
	conn := rawClient(t, l.Addr().String(), bob.Files, nil)
	readFrame(t, conn)
	conn.Write(resumeHelloFrame("bob", 7, 0, 1))
	s, err := l.Accept(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sig := newSignal()
	w := watch(t, s, sig)
	conn.Write(messageFrame(1, "one"))
	if n := readAck(t, conn); n != 1 {
		t.Fatalf("ack %d, want 1", n)
	}
	conn.Write(messageFrame(1, "one again"))
	if n := readAck(t, conn); n != 1 {
		t.Fatalf("ack of the duplicate: %d, want 1", n)
	}
	conn.Write(messageFrame(2, "two"))
	if n := readAck(t, conn); n != 2 {
		t.Fatalf("ack %d, want 2", n)
	}
	if got := w.texts(); strings.Join(got, ",") != "one,two" {
		t.Errorf("listener showed %q", got)
	}
}

// TestResumingWithAGapIsAProtocolError: a dialer that comes back to its
// conversation announcing a first message beyond what the listener has
// received would lose messages; the listener refuses it and ends the
// conversation.
func TestResumingWithAGapIsAProtocolError(t *testing.T) {
	_, alice, bob := alicePKI(t)
	l, _ := startListener(t, peer.Config{Identity: alice})
	conn := rawClient(t, l.Addr().String(), bob.Files, nil)
	readFrame(t, conn)
	conn.Write(resumeHelloFrame("bob", 7, 0, 1))
	s, err := l.Accept(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	sig := newSignal()
	w := watch(t, s, sig)
	conn.Write(messageFrame(1, "one"))
	waitUntil(t, sig, "the first message", func() bool { return w.received() == 1 })
	conn.Close() // no goodbye: the listener waits for bob
	waitUntil(t, sig, "the listener to notice", func() bool { return w.disconnects() == 1 })

	conn = rawClient(t, l.Addr().String(), bob.Files, nil)
	typ, p := readFrame(t, conn)
	if typ != 1 || p[len(p)-33] != 7 || binary.BigEndian.Uint64(p[len(p)-17:]) != 1 {
		t.Fatalf("listener's hello %x does not resume conversation 7 at received 1", p)
	}
	conn.Write(resumeHelloFrame("bob", 7, 0, 5))
	if got := readErrorFrame(t, conn); !strings.Contains(got, "resuming at message 5 leaves a gap after 1") {
		t.Errorf("client was told %q", got)
	}
	pe := wantErrorAs[*peer.ProtocolError](t, w.waitEnd(t))
	if !strings.Contains(pe.Reason, "gap") {
		t.Errorf("listener ended with %v", pe)
	}
}
