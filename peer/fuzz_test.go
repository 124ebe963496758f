package peer

// Fuzz targets for the wire protocol: the frame reader, the hello and
// message codecs, and the session's handling of each frame. Whatever a peer
// sends, the receiving side must not panic, must not allocate beyond
// MaxPayload on the peer's word, and must fail only with the package's own
// errors, so that Session.Next can tell a broken rule (answered with an
// error frame) from a lost connection.
//
// The seed corpus lives in testdata/fuzz/<target>/; without -fuzz, go test
// runs each target on it as an ordinary test.

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"
)

// readerFrame is one frame as frameReader.next returned it, payload copied.
type readerFrame struct {
	t frameType
	p []byte
}

// readAllFrames calls next until it fails, checking after every call that
// the reader kept its memory bound.
func readAllFrames(t *testing.T, fr *frameReader) ([]readerFrame, error) {
	t.Helper()
	var frames []readerFrame
	for {
		typ, p, err := fr.next()
		if c := cap(fr.buf); c > maxReadBuf {
			t.Fatalf("reader buffer grew to %d bytes, over the %d-byte frame limit", c, maxReadBuf)
		}
		if err != nil {
			if p != nil {
				t.Fatalf("next returned a %d-byte payload with error %v", len(p), err)
			}
			return frames, err
		}
		if len(p) > MaxPayload {
			t.Fatalf("%s frame of %d bytes passed the %d-byte limit", typ, len(p), MaxPayload)
		}
		frames = append(frames, readerFrame{typ, bytes.Clone(p)})
	}
}

// wantReaderError fails unless err is one the frame reader may return from
// a bytes.Reader: a clean end between frames, an end inside one, or a
// local protocol error.
func wantReaderError(t *testing.T, err error) {
	t.Helper()
	var pe *ProtocolError
	switch {
	case err == io.EOF, err == io.ErrUnexpectedEOF:
	case errors.As(err, &pe):
		if pe.Remote || pe.Reason == "" {
			t.Fatalf("reader returned %#v, want a local protocol error with a reason", pe)
		}
	default:
		t.Fatalf("reader returned %T %v, want io.EOF, io.ErrUnexpectedEOF or *ProtocolError", err, err)
	}
}

func FuzzFrameReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		frames, err := readAllFrames(t, newFrameReader(bytes.NewReader(data)))
		wantReaderError(t, err)

		// The reader consumes exactly the frames it returns: encoding them
		// again gives back the start of the input.
		var again []byte
		for _, fr := range frames {
			again = appendFrame(again, fr.t, fr.p)
		}
		if !bytes.HasPrefix(data, again) {
			t.Fatalf("frames re-encode to %x, which does not start the input %x", again, data)
		}
		if err == io.EOF && len(again) != len(data) {
			t.Fatalf("io.EOF after %d of %d bytes: a clean end must be between frames at the end", len(again), len(data))
		}

		// TLS delivers the stream in records of any size: reading it a byte
		// at a time must give the same frames and the same end.
		frames1, err1 := readAllFrames(t, newFrameReader(iotest.OneByteReader(bytes.NewReader(data))))
		if len(frames1) != len(frames) {
			t.Fatalf("%d frames read whole, %d read a byte at a time", len(frames), len(frames1))
		}
		for i := range frames {
			if frames[i].t != frames1[i].t || !bytes.Equal(frames[i].p, frames1[i].p) {
				t.Fatalf("frame %d differs when read a byte at a time: %v %x, then %v %x",
					i, frames[i].t, frames[i].p, frames1[i].t, frames1[i].p)
			}
		}
		if err.Error() != err1.Error() {
			t.Fatalf("reading whole ended with %v, a byte at a time with %v", err, err1)
		}
	})
}

func FuzzParseHello(f *testing.F) {
	f.Fuzz(func(t *testing.T, p []byte) {
		h, err := parseHello(p)
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Remote {
				t.Fatalf("parseHello returned %T %v, want a local *ProtocolError", err, err)
			}
			return
		}
		for what, s := range map[string]string{"name": h.Name, "software": h.Software} {
			if !utf8.ValidString(s) {
				t.Errorf("hello %s %q is not valid UTF-8", what, s)
			}
			if len(s) > maxShortText {
				t.Errorf("hello %s of %d bytes, over %d", what, len(s), maxShortText)
			}
		}

		// Encoding the hello gives back the known fields byte for byte;
		// whatever followed them (extensions) is dropped.
		b := h.append(nil)
		if frameType(b[0]) != frameHello {
			t.Fatalf("hello.append wrote a %s frame", frameType(b[0]))
		}
		payload := b[headerLen:]
		if !bytes.HasPrefix(p, payload) {
			t.Fatalf("hello %+v re-encodes to %x, not a prefix of %x", h, payload, p)
		}
		h2, err := parseHello(payload)
		if err != nil {
			t.Fatalf("re-encoded hello %x does not parse: %v", payload, err)
		}
		if !reflect.DeepEqual(h2, h) { // Resume is a pointer: compare what it holds
			t.Fatalf("hello %+v (resume %+v) came back as %+v (resume %+v)", h, h.Resume, h2, h2.Resume)
		}
	})
}

func FuzzParseMessage(f *testing.F) {
	f.Fuzz(func(t *testing.T, p []byte) {
		m, err := parseMessage(p)
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Remote {
				t.Fatalf("parseMessage returned %T %v, want a local *ProtocolError", err, err)
			}
			return
		}
		if m.ID == 0 {
			t.Errorf("message id 0 accepted")
		}
		if !utf8.ValidString(m.Text) {
			t.Errorf("message text %q is not valid UTF-8", m.Text)
		}
		if m.From != "" {
			t.Errorf("parseMessage set From to %q; only the session knows the sender", m.From)
		}

		// The sender's time travels in milliseconds, so a message
		// re-encodes to exactly the bytes it came from.
		b := appendMessageFrame(nil, m.ID, m.Time, m.Text)
		if want := appendFrame(nil, frameMessage, p); !bytes.Equal(b, want) {
			t.Fatalf("message %+v re-encodes to %x, want %x", m, b, want)
		}
		m2, err := parseMessage(b[headerLen:])
		if err != nil {
			t.Fatalf("re-encoded message %x does not parse: %v", b, err)
		}
		if m2.ID != m.ID || !m2.Time.Equal(m.Time) || m2.Text != m.Text {
			t.Fatalf("message %+v came back as %+v", m, m2)
		}
	})
}

// fuzzPings are the nonces of the pings a fuzzed session has sent and for
// which it awaits pongs.
const fuzzPings = 3

// fuzzMaxFileSize is the file size limit of a fuzzed session that accepts
// files and has one, small enough for an input to reach it.
const fuzzMaxFileSize = 1 << 20

// The first byte of a FuzzSessionHandle input: the messages the session
// has sent, and the flags below.
const (
	fuzzSentMask      = 0x3f
	fuzzAcceptFiles   = 0x80 // the session receives files (and discards them)
	fuzzFileSizeLimit = 0x40 // with fuzzAcceptFiles: of up to fuzzMaxFileSize bytes
)

// newFuzzSession builds a session with no connection: handle reads and
// updates the session's state and never touches the connection itself, so
// no TLS handshake is needed for each input. The session has sent messages
// 1 to sent and pings 1 to fuzzPings, all unanswered. Its control timer
// does nothing: the test takes the owed control frames itself. With
// fuzzAcceptFiles in flags it receives files, verifies and discards them
// (nothing touches the disk), up to fuzzMaxFileSize bytes with
// fuzzFileSizeLimit; it also waits for answers to an offer of its own,
// file 1, so that the peer's accepts, refusals and verdicts have somewhere
// to go.
func newFuzzSession(sent int, flags byte) *Session {
	cfg := Config{}
	acceptFiles := flags&fuzzAcceptFiles != 0
	if acceptFiles {
		cfg.DownloadDir, cfg.discardFiles = "/nonexistent", true
		if flags&fuzzFileSizeLimit != 0 {
			cfg.MaxFileSize = fuzzMaxFileSize
		}
	}
	s := newSession(cfg.withDefaults(), "alice", nil, nil)
	s.peer = PeerInfo{Name: "bob"}
	for id := uint64(1); id <= uint64(sent); id++ {
		s.pending = append(s.pending, Message{ID: id, Text: "sent", From: s.self})
	}
	s.nextID, s.lastID = uint64(sent), uint64(sent)
	for nonce := uint64(1); nonce <= fuzzPings; nonce++ {
		s.pingSent[nonce] = time.Now()
	}
	s.pingNonce = fuzzPings
	if acceptFiles {
		s.files.out = map[uint64]chan fileReply{1: make(chan fileReply, 8)}
	}
	return s
}

// FuzzSessionHandle feeds a frame stream to a session as Session.Next
// would. The first byte of the input is the number of messages the session
// has sent (and may see acknowledged), in its low 6 bits, and whether it
// accepts files, and up to what size, in its high bits (see
// newFuzzSession); the rest is what the peer sends.
func FuzzSessionHandle(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		sent := int(data[0] & fuzzSentMask)
		s := newFuzzSession(sent, data[0])
		defer s.ctlTimer.Stop()
		fr := newFrameReader(bytes.NewReader(data[1:]))
		var received, delivered uint64
		pongs := map[uint64]bool{}
		for {
			typ, p, err := fr.next()
			if err != nil {
				wantReaderError(t, err)
				return
			}
			// The peer's frame, kept before handle can see the buffer
			// again, to say what the session should owe in return.
			frame := readerFrame{typ, bytes.Clone(p)}
			ev, err := s.handle(typ, p)
			wantOwed(t, s, frame, ev, err, received)
			if err != nil {
				wantHandleError(t, frame, err)
				return // Next ends the session on any error
			}
			switch ev := ev.(type) {
			case nil:
			case *Message:
				if ev.ID != received+1 {
					t.Fatalf("message %d handed over after %d", ev.ID, received)
				}
				received = ev.ID
				if ev.From != "bob" || !utf8.ValidString(ev.Text) {
					t.Fatalf("message %+v: want From bob and UTF-8 text", ev)
				}
			case Delivered:
				if ev.UpTo <= delivered || ev.UpTo > uint64(sent) {
					t.Fatalf("delivered up to %d after %d, with %d sent", ev.UpTo, delivered, sent)
				}
				delivered = ev.UpTo
				pending := s.Pending()
				if len(pending) != sent-int(delivered) || (len(pending) > 0 && pending[0].ID != delivered+1) {
					t.Fatalf("after delivery up to %d of %d, pending is %v", delivered, sent, pending)
				}
			case Pong:
				nonce := u64(frame.p)
				if nonce == 0 || nonce > fuzzPings || pongs[nonce] {
					t.Fatalf("pong %d reported, for no ping awaiting it", nonce)
				}
				pongs[nonce] = true
				if ev.RTT < 0 {
					t.Fatalf("pong with round trip %v", ev.RTT)
				}
			// A file is offered by an offer only, progresses by chunks,
			// and is received whole by a done only; it fails on an offer (refused), a chunk (over
			// its size), a done (damaged) or the peer's cancel.
			case FileOffered:
				if frame.t != frameFileOffer || ev.Offset < 0 || ev.Offset > ev.Size {
					t.Fatalf("a %s frame gave %+v", frame.t, ev)
				}
			case FileOffer:
				if frame.t != frameFileOffer || ev.Have < 0 || ev.Have > ev.Size {
					t.Fatalf("a %s frame gave %+v", frame.t, ev)
				}
			case FileProgress:
				if frame.t != frameFileChunk || ev.Done < 0 || ev.Done > ev.Size {
					t.Fatalf("a %s frame gave %+v", frame.t, ev)
				}
			case FileReceived:
				if frame.t != frameFileDone {
					t.Fatalf("a %s frame gave %+v", frame.t, ev)
				}
			case FileFailed:
				if frame.t != frameFileOffer && frame.t != frameFileChunk && frame.t != frameFileDone && frame.t != frameFileCancel {
					t.Fatalf("a %s frame gave %+v", frame.t, ev)
				}
			default:
				t.Fatalf("handle returned event %T", ev)
			}
		}
	})
}

// wantOwed checks the control frames the session owes after handling
// frame: an acknowledgement of each message handed over, and again of all
// received so far for a message sent again after a reconnection (dropped
// as a duplicate), a pong for each ping but heartbeats (nonce 0), and
// nothing else.
func wantOwed(t *testing.T, s *Session, frame readerFrame, ev Event, err error, received uint64) {
	t.Helper()
	var want []byte
	if m, ok := ev.(*Message); ok {
		want = appendU64Frame(want, frameAck, m.ID)
	} else if frame.t == frameMessage && ev == nil && err == nil {
		want = appendU64Frame(want, frameAck, received)
	}
	if frame.t == framePing && err == nil {
		if nonce := u64(frame.p); nonce != 0 {
			want = appendU64Frame(want, framePong, nonce)
		}
	}
	got := s.takeControl(nil)
	if frame.t >= frameFileOffer && frame.t <= frameFileCancel {
		// A file frame may be answered (an acceptance, a refusal, a
		// verification) by the receiver's file frames, and by nothing
		// else: a cancel from this side would name the file it sends
		// under the same id.
		fr := newFrameReader(bytes.NewReader(got))
		for {
			typ, _, err := fr.next()
			if err != nil {
				break
			}
			if typ != frameFileAccept && typ != frameFileReject && typ != frameFileVerified {
				t.Fatalf("after a %s frame %x the session owes a %s frame", frame.t, frame.p, typ)
			}
		}
		return
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("after a %s frame %x the session owes %x, want %x", frame.t, frame.p, got, want)
	}
}

// wantHandleError checks that handle failed with the error Session.Next
// expects for that frame: goodbye is io.EOF, an error frame becomes the
// peer's reason, and any other failure is a local protocol error.
func wantHandleError(t *testing.T, frame readerFrame, err error) {
	t.Helper()
	var pe *ProtocolError
	switch {
	case frame.t == frameBye:
		if err != io.EOF {
			t.Fatalf("goodbye gave %v, want io.EOF", err)
		}
	case frame.t == frameError && len(frame.p) > 0:
		code := errorCode(frame.p[0])
		var re *RemoteError
		var te *TrustError
		switch {
		case code == codeProtocol:
			if !errors.As(err, &pe) || !pe.Remote {
				t.Fatalf("error frame code 1 gave %T %v, want a remote *ProtocolError", err, err)
			}
		case code == codeRefused:
			if !errors.As(err, &te) || !errors.As(err, &re) {
				t.Fatalf("error frame code 3 gave %T %v, want a *TrustError wrapping a *RemoteError", err, err)
			}
		case !errors.As(err, &re):
			t.Fatalf("error frame code %d gave %T %v, want a *RemoteError", code, err, err)
		case errors.Is(err, ErrBusy) != (code == codeBusy):
			t.Fatalf("error frame code %d gave %v, errors.Is(ErrBusy) = %t", code, err, errors.Is(err, ErrBusy))
		}
	default:
		if !errors.As(err, &pe) || pe.Remote || pe.Reason == "" {
			t.Fatalf("%s frame %x gave %T %v, want a local *ProtocolError with a reason", frame.t, frame.p, err, err)
		}
	}
}

// u64 reads the big-endian value of an 8-byte payload, or 0.
func u64(p []byte) uint64 {
	v, _ := parseU64(framePing, p)
	return v
}
