package peer

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"math/big"
	"net"
	"testing"
	"testing/synctest"
	"time"
)

// TestSendFileResumesWhenTheLinkIsReplaced checks that a file sender
// waiting for a connection is woken by the session attaching one, not by
// a timer of its own. It runs in a synctest bubble over in-memory
// connections, where the clock moves only when every goroutine is blocked:
// a sender that polled would let the clock move before it offered the file
// again on the new link; one that is signalled offers it at once, with the
// clock where it was. The assertion is on the bubble's exact clock, never
// on the wall clock.
func TestSendFileResumesWhenTheLinkIsReplaced(t *testing.T) {
	cert := selfSignedForTest(t)
	synctest.Test(t, func(t *testing.T) {
		cfg := Config{HeartbeatInterval: time.Hour}.withDefaults()
		s := newSession(cfg, "alice", nil, nil)
		s.peerFiles = true // as the peer's hello would say
		defer s.end(ErrClosed)

		l1, peer1 := pipeLink(t, cert)
		if err := s.install(l1, PeerInfo{Name: "bob"}); err != nil {
			t.Fatal(err)
		}
		go readFiles(s, l1)
		data := bytes.Repeat([]byte("peerchat "), 100)
		sent := make(chan error, 1)
		go func() {
			sent <- s.SendReader(t.Context(), "notes.txt", bytes.NewReader(data), int64(len(data)), nil)
		}()

		// The first connection carries the offer, then breaks before
		// any answer: the sender must wait for the next one.
		if ft, p := peer1.next(t); ft != frameFileOffer || binary.BigEndian.Uint64(p) != 1 {
			t.Fatalf("first frame on the first link: %s %x, want the offer of file 1", ft, p)
		}
		l1.fail(errors.New("cut by the test"))
		peer1.conn.Close()
		synctest.Wait() // the sender is waiting for a new link

		l2, peer2 := pipeLink(t, cert)
		start := time.Now()
		if err := s.install(l2, PeerInfo{Name: "bob"}); err != nil {
			t.Fatal(err)
		}
		go readFiles(s, l2)
		ft, p := peer2.next(t)
		if ft != frameFileOffer || binary.BigEndian.Uint64(p) != 1 {
			t.Fatalf("first frame on the new link: %s %x, want the offer of file 1 again", ft, p)
		}
		if waited := time.Since(start); waited != 0 {
			t.Errorf("the file was offered again %s (bubble time) after the new link was attached; want at once, on the attach's signal", waited)
		}

		// The transfer then completes on the new link.
		peer2.write(t, appendIDFrame(nil, frameFileAccept, 1, be64(0)))
		var got []byte
		for done := false; !done; {
			ft, p := peer2.next(t)
			switch ft {
			case frameFileChunk:
				got = append(got, p[8:]...)
			case frameFileDone:
				done = true
			default:
				t.Fatalf("unexpected %s frame during the transfer", ft)
			}
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("the receiver got %d bytes, want the file's %d", len(got), len(data))
		}
		peer2.write(t, appendIDFrame(nil, frameFileVerified, 1, []byte{1}, []byte("notes.txt")))
		if err := <-sent; err != nil {
			t.Fatalf("SendReader: %v", err)
		}
		s.end(ErrClosed)
		peer2.conn.Close()
	})
}

// pipePeer is the far side of a link made by pipeLink: the test reads and
// writes its frames by hand.
type pipePeer struct {
	conn *tls.Conn
	fr   *frameReader
}

func (p *pipePeer) next(t *testing.T) (frameType, []byte) {
	t.Helper()
	ft, b, err := p.fr.next()
	if err != nil {
		t.Fatalf("reading the sender's next frame: %v", err)
	}
	return ft, b
}

func (p *pipePeer) write(t *testing.T, frame []byte) {
	t.Helper()
	if _, err := p.conn.Write(frame); err != nil {
		t.Fatalf("writing to the sender: %v", err)
	}
}

// pipeLink makes a link over an in-memory connection, with TLS on it as on
// a real one, and the peer's end of it. The certificate only makes the
// handshake possible: trust is not what this tests.
func pipeLink(t *testing.T, cert tls.Certificate) (*link, *pipePeer) {
	t.Helper()
	raw, far := net.Pipe()
	cc := &corkConn{Conn: raw}
	conn := tls.Client(cc, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	srv := tls.Server(far, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})
	errc := make(chan error, 1)
	go func() { errc <- srv.Handshake() }()
	if err := conn.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	return newLink(conn, cc, raw, newFrameReader(conn)), &pipePeer{conn: srv, fr: newFrameReader(srv)}
}

// readFiles stands in for Next on l: it hands the file frames that arrive
// to the session, until l breaks. Next itself would end this session when
// the first link breaks, as it has no way to resume.
func readFiles(s *Session, l *link) {
	for {
		ft, p, err := l.fr.next()
		if err != nil {
			return
		}
		s.handleFile(ft, p)
	}
}

func selfSignedForTest(t *testing.T) tls.Certificate {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Unix(0, 0), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
