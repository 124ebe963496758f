package peertest

import (
	"bufio"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"peerchat/peer"
)

// A Hostile is a peer with a valid certificate that speaks the wire format
// itself, byte by byte, rather than through a peer.Session: it can do what
// no Session would, such as never read, flood offers, pings or
// acknowledgements, send any name, and hang up at any point. The frame
// layout is the one docs/PROTOCOL.md describes; it is written out here
// again on purpose, so that a change to the real encoder cannot quietly
// change what the attacker sends.
type Hostile struct {
	Conn *tls.Conn
	w    *bufio.Writer
	// Hello is the listener's hello payload, as it arrived.
	Hello []byte
}

// Frame types, as on the wire.
const (
	FrameHello   = 1
	FrameMessage = 2
	FrameAck     = 3
	FramePing    = 4
	FramePong    = 5
	FrameBye     = 6
	FrameError   = 7
	FrameOffer   = 8
	FrameAccept  = 9
	FrameReject  = 10
	FrameChunk   = 11
	FrameDone    = 12
	FrameVerify  = 13
	FrameCancel  = 14
)

// DialHostile connects to a listener at addr as id, completes the TLS
// handshake and the hello exchange (announcing that it takes files), and
// returns the connection to misbehave on.
func DialHostile(t testing.TB, addr string, id *peer.Identity) *Hostile {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(id.Files.Cert, id.Files.Key)
	if err != nil {
		t.Fatal(err)
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := tls.Client(raw, &tls.Config{
		Certificates:       []tls.Certificate{cert},
		InsecureSkipVerify: true, // the attacker does not care who it talks to
		NextProtos:         []string{peer.ALPN},
		MinVersion:         tls.VersionTLS13,
	})
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := c.Handshake(); err != nil {
		raw.Close()
		t.Fatal(err)
	}
	h := &Hostile{Conn: c, w: bufio.NewWriterSize(c, 64<<10)}
	typ, p, err := h.ReadFrame()
	if err != nil || typ != FrameHello {
		raw.Close()
		t.Fatalf("hostile peer: reading the listener's hello: type %d, %v", typ, err)
	}
	h.Hello = p
	// version, name, software, then the resumption block: a fresh
	// conversation id, nothing received, first message 1, files understood.
	hello := binary.BigEndian.AppendUint16(nil, peer.ProtocolVersion)
	hello = append(hello, byte(len(id.Name)))
	hello = append(hello, id.Name...)
	hello = append(hello, 7)
	hello = append(hello, "hostile"...)
	var conv [16]byte
	rand.Read(conv[:])
	hello = append(hello, conv[:]...)
	hello = binary.BigEndian.AppendUint64(hello, 0)
	hello = binary.BigEndian.AppendUint64(hello, 1)
	hello = append(hello, 1<<2) // flagFiles
	if err := h.Frame(FrameHello, hello); err != nil {
		t.Fatal(err)
	}
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Time{})
	return h
}

// Frame queues one frame; Flush sends what is queued. Frames are written
// as they fill the buffer, so a flood does not grow memory here either.
func (h *Hostile) Frame(typ byte, payload []byte) error {
	var hdr [5]byte
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(payload)))
	if _, err := h.w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := h.w.Write(payload)
	return err
}

// Flush sends the queued frames.
func (h *Hostile) Flush() error { return h.w.Flush() }

// Offer queues a file offer: id, size, name.
func (h *Hostile) Offer(id uint64, size uint64, name string) error {
	p := binary.BigEndian.AppendUint64(nil, id)
	p = binary.BigEndian.AppendUint64(p, size)
	return h.Frame(FrameOffer, append(p, name...))
}

// IDFrame queues a frame whose payload is id followed by rest.
func (h *Hostile) IDFrame(typ byte, id uint64, rest []byte) error {
	return h.Frame(typ, append(binary.BigEndian.AppendUint64(nil, id), rest...))
}

// Ping queues a ping with nonce n (0 asks for no answer).
func (h *Hostile) Ping(n uint64) error {
	return h.Frame(FramePing, binary.BigEndian.AppendUint64(nil, n))
}

// Ack queues an acknowledgement of every message up to id.
func (h *Hostile) Ack(id uint64) error {
	return h.Frame(FrameAck, binary.BigEndian.AppendUint64(nil, id))
}

// ReadFrame reads one frame from the listener.
func (h *Hostile) ReadFrame() (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(h.Conn, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > peer.MaxPayload {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	p := make([]byte, n)
	_, err := io.ReadFull(h.Conn, p)
	return hdr[0], p, err
}

// Close hangs up without a goodbye.
func (h *Hostile) Close() error { return h.Conn.NetConn().Close() }
