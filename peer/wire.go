package peer

// This file holds the wire format: every frame type, its layout and
// limits, the codec of each (hello, message, ack, ping, pong, goodbye,
// error and the file frames), and the frame reader. docs/PROTOCOL.md is
// the specification.

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"
	"unicode/utf8"
)

// ProtocolVersion is the version of the frame protocol spoken after the TLS
// handshake; it is sent in the hello and bumped on incompatible changes.
const ProtocolVersion = 1

// ALPN is the application protocol both sides require in the TLS handshake,
// so that a peerchat listener is never mistaken for a web server or the
// reverse.
const ALPN = "peerchat/1"

const (
	// MaxPayload is the largest frame payload either side accepts. A frame
	// announcing more is a protocol error: the reader never allocates on the
	// word of the peer beyond this bound.
	MaxPayload = 64 << 10

	// MaxText is the longest message text in bytes of UTF-8.
	MaxText = MaxPayload - msgHeaderLen

	headerLen    = 5  // type (1) + payload length (4)
	msgHeaderLen = 16 // id (8) + sender time (8)
	maxShortText = 255
)

// ChunkSize is the most file data in one chunk frame: a message never
// waits behind more than this.
const ChunkSize = 32 << 10

// sendChunk is the data this side puts in a chunk: the whole frame is then
// 32 KiB, two full TLS records, rather than two and a 13-byte third, which
// would cost a record and a system call per chunk for nothing.
const sendChunk = ChunkSize - headerLen - 8

const (
	digestLen   = 32  // a file done frame's BLAKE3-256 digest
	maxFileName = 255 // the longest name a file offer carries, in bytes
)

// frameType is the first byte of every frame.
type frameType byte

const (
	frameHello   frameType = 1 // version u16, name str8, software str8, [resume block], then extensions (ignored)
	frameMessage frameType = 2 // id u64, sender time (unix ms) i64, text
	frameAck     frameType = 3 // highest id delivered, u64 (cumulative)
	framePing    frameType = 4 // nonce u64
	framePong    frameType = 5 // nonce u64, echoed
	frameBye     frameType = 6 // optional reason text
	frameError   frameType = 7 // code u8, reason text
)

const (
	frameFileOffer    frameType = 8  // id u64, size u64, name (rest of payload, UTF-8)
	frameFileAccept   frameType = 9  // id u64, offset u64: the receiver holds bytes [0, offset)
	frameFileReject   frameType = 10 // id u64, reason text; the receiver refuses or ends the transfer
	frameFileChunk    frameType = 11 // id u64, data (at most ChunkSize bytes)
	frameFileDone     frameType = 12 // id u64, BLAKE3-256 digest of the whole file (32 bytes)
	frameFileVerified frameType = 13 // id u64, ok u8 (1 intact, 0 digest mismatch), reason text
	frameFileCancel   frameType = 14 // id u64, reason text; the sender ends the transfer
)

// Each side numbers the files it sends from 1, so an id names a transfer
// only together with its direction. The frame type gives it: offer, chunk,
// done and cancel travel from the sender, accept, reject and verified from
// the receiver. That is why the receiver ends a transfer under way with a
// reject rather than a cancel: a cancel from the peer ends the file it
// sends, never the one this side sends under the same id.

func (t frameType) String() string {
	switch t {
	case frameHello:
		return "hello"
	case frameMessage:
		return "message"
	case frameAck:
		return "ack"
	case framePing:
		return "ping"
	case framePong:
		return "pong"
	case frameBye:
		return "goodbye"
	case frameError:
		return "error"
	}
	if n := fileFrameName(t); n != "" {
		return n
	}
	return fmt.Sprintf("unknown frame type %d", byte(t))
}

func fileFrameName(t frameType) string {
	switch t {
	case frameFileOffer:
		return "file offer"
	case frameFileAccept:
		return "file accept"
	case frameFileReject:
		return "file reject"
	case frameFileChunk:
		return "file chunk"
	case frameFileDone:
		return "file done"
	case frameFileVerified:
		return "file verified"
	case frameFileCancel:
		return "file cancel"
	}
	return ""
}

// errorCode says why a peer ends a connection with an error frame.
type errorCode byte

const (
	codeProtocol errorCode = 1 // the other side broke the protocol
	codeBusy     errorCode = 2 // the listener is already in a chat
	codeRefused  errorCode = 3 // the identity is not the one this side accepts
)

// appendFrame appends a whole frame (header and payload) to b.
func appendFrame(b []byte, t frameType, payload []byte) []byte {
	b = append(b, byte(t))
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

// appendMessageFrame appends a message frame without building its payload
// separately: this is the hot path of every sent line.
func appendMessageFrame(b []byte, id uint64, at time.Time, text string) []byte {
	b = append(b, byte(frameMessage))
	b = binary.BigEndian.AppendUint32(b, uint32(msgHeaderLen+len(text)))
	b = binary.BigEndian.AppendUint64(b, id)
	b = binary.BigEndian.AppendUint64(b, uint64(at.UnixMilli()))
	return append(b, text...)
}

func appendU64Frame(b []byte, t frameType, v uint64) []byte {
	b = append(b, byte(t))
	b = binary.BigEndian.AppendUint32(b, 8)
	return binary.BigEndian.AppendUint64(b, v)
}

// appendIDFrame appends a frame whose payload is id u64 followed by rest.
func appendIDFrame(b []byte, t frameType, id uint64, rest ...[]byte) []byte {
	n := 8
	for _, r := range rest {
		n += len(r)
	}
	b = append(b, byte(t))
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	b = binary.BigEndian.AppendUint64(b, id)
	for _, r := range rest {
		b = append(b, r...)
	}
	return b
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func reasonBytes(s string) []byte {
	if len(s) > 1024 {
		s = s[:1024]
	}
	return []byte(s)
}

// frameReader reads frames from a connection into one buffer, and hands
// out each payload where it landed. It does its own buffering rather than
// read through a bufio.Reader and copy into a payload buffer: the payload
// of a file chunk then lands once, straight from TLS, and is hashed where
// it lies. The payload returned by next is valid until the following call.
type frameReader struct {
	r     io.Reader
	buf   []byte // buf[start:end] has arrived and not been read
	start int
	end   int
	err   error // from the last Read, returned (once, as bufio does) when buf runs dry
}

const (
	// readBufSize is the buffer a reader starts with: every frame but a
	// file chunk or a long message fits, with room to read ahead.
	readBufSize = 16 << 10
	// maxReadBuf is the most a reader ever holds: one whole frame. The
	// reader never allocates on the word of the peer beyond it.
	maxReadBuf = headerLen + MaxPayload
)

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{r: r, buf: make([]byte, readBufSize)}
}

// buffered reports how many bytes have arrived and not been read yet.
func (fr *frameReader) buffered() int { return fr.end - fr.start }

// next reads one frame. io.EOF means the stream ended cleanly between
// frames; a stream that ends inside a frame is io.ErrUnexpectedEOF.
func (fr *frameReader) next() (frameType, []byte, error) {
	if err := fr.fill(headerLen); err != nil {
		if err == io.EOF && fr.buffered() > 0 {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	h := fr.buf[fr.start:]
	t := frameType(h[0])
	n := binary.BigEndian.Uint32(h[1:])
	if n > MaxPayload {
		return t, nil, protocolErrorf("%s frame of %d bytes is over the %d-byte limit", t, n, MaxPayload)
	}
	size := headerLen + int(n)
	if err := fr.fill(size); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return t, nil, err
	}
	p := fr.buf[fr.start+headerLen : fr.start+size : fr.start+size]
	fr.start += size
	return t, p, nil
}

// fill reads until at least n bytes (n <= maxReadBuf) are buffered. Each
// Read gets all the room left, so one may bring the next frames too; a
// TLS connection returns a record at most. What is buffered moves to the
// front only when a frame would not fit behind it: frames that end where
// a read ended (file chunks end on a TLS record) are never copied.
func (fr *frameReader) fill(n int) error {
	if fr.start == fr.end {
		fr.start, fr.end = 0, 0
	}
	if fr.end-fr.start >= n {
		return nil
	}
	if fr.start+n > len(fr.buf) {
		b := fr.buf
		if n > len(b) {
			b = make([]byte, max(n, min(2*len(b), maxReadBuf)))
		}
		fr.end = copy(b, fr.buf[fr.start:fr.end])
		fr.start, fr.buf = 0, b
	}
	for empty := 0; fr.end-fr.start < n; {
		if err := fr.err; err != nil {
			fr.err = nil
			return err
		}
		m, err := fr.r.Read(fr.buf[fr.end:])
		fr.end += m
		fr.err = err
		if m == 0 && err == nil {
			if empty++; empty == 100 {
				fr.err = io.ErrNoProgress
			}
		}
	}
	return nil
}

// hello is the first frame each side sends.
type hello struct {
	Version  uint16
	Name     string // what the peer calls itself; shown only beside the certificate name
	Software string
	// Resume is the resumption block; nil in the hello of a peer that
	// predates resumption, which then cannot resume a conversation.
	Resume *resumeInfo
}

// A convID names a conversation. The dialer draws it at random when it
// first connects and keeps it across its reconnections; the zero value
// means "no conversation".
type convID [16]byte

// resumeInfo is the resumption block of a hello (see "Resumption" in the
// package documentation). Conv, Recv and First describe the sender's
// view: the conversation it holds with this peer, the highest message id
// it has received from this peer in that conversation, and the id of the
// first message it will send (or resend) on this connection.
type resumeInfo struct {
	Conv  convID
	Recv  uint64
	First uint64
	Flags byte
}

const (
	resumeLen = 16 + 8 + 8 + 1

	// flagReconnects, from a dialer: it will redial after an abnormal
	// drop, so the listener should keep the conversation for it.
	flagReconnects byte = 1 << 0
	// flagConnected, from a listener: it still believes a connection with
	// this certificate is up (in conversation Conv). A dialer with another
	// conversation id is then a second session of the same certificate,
	// and busy.
	flagConnected byte = 1 << 1
	// flagFiles, from either side: it understands the file frames (types
	// 8–14). A peer without it treats them as protocol errors, so no file
	// is offered to it.
	flagFiles byte = 1 << 2
)

func (h hello) append(b []byte) []byte {
	p := make([]byte, 0, 4+len(h.Name)+len(h.Software)+resumeLen)
	p = binary.BigEndian.AppendUint16(p, h.Version)
	p = appendStr8(p, h.Name)
	p = appendStr8(p, h.Software)
	if r := h.Resume; r != nil {
		p = append(p, r.Conv[:]...)
		p = binary.BigEndian.AppendUint64(p, r.Recv)
		p = binary.BigEndian.AppendUint64(p, r.First)
		p = append(p, r.Flags)
	}
	return appendFrame(b, frameHello, p)
}

func parseHello(p []byte) (hello, error) {
	var h hello
	if len(p) < 2 {
		return h, protocolErrorf("hello of %d bytes is too short", len(p))
	}
	h.Version = binary.BigEndian.Uint16(p)
	p = p[2:]
	var err error
	if h.Name, p, err = readStr8(p, "hello name"); err != nil {
		return h, err
	}
	if h.Software, p, err = readStr8(p, "hello software"); err != nil {
		return h, err
	}
	if len(p) == 0 {
		return h, nil // a peer from before resumption
	}
	if len(p) < resumeLen {
		return h, protocolErrorf("hello resumption block of %d bytes, want %d", len(p), resumeLen)
	}
	r := &resumeInfo{}
	copy(r.Conv[:], p)
	r.Recv = binary.BigEndian.Uint64(p[16:])
	r.First = binary.BigEndian.Uint64(p[24:])
	r.Flags = p[32]
	if r.First == 0 {
		return h, protocolErrorf("hello announces first message id 0, which is reserved")
	}
	h.Resume = r
	// Bytes after the known fields are extensions from a newer minor
	// revision; ignoring them keeps old and new peers talking.
	return h, nil
}

func appendStr8(b []byte, s string) []byte {
	if len(s) > maxShortText {
		s = s[:maxShortText]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	b = append(b, byte(len(s)))
	return append(b, s...)
}

func readStr8(p []byte, what string) (string, []byte, error) {
	if len(p) < 1 || len(p) < 1+int(p[0]) {
		return "", nil, protocolErrorf("%s is truncated", what)
	}
	s := p[1 : 1+int(p[0])]
	if !utf8.Valid(s) {
		return "", nil, protocolErrorf("%s is not valid UTF-8", what)
	}
	return string(s), p[1+int(p[0]):], nil
}

// parseMessage decodes a message payload.
func parseMessage(p []byte) (Message, error) {
	if len(p) < msgHeaderLen {
		return Message{}, protocolErrorf("message of %d bytes is too short", len(p))
	}
	text := p[msgHeaderLen:]
	if !utf8.Valid(text) {
		return Message{}, protocolErrorf("message text is not valid UTF-8")
	}
	id := binary.BigEndian.Uint64(p)
	if id == 0 {
		return Message{}, protocolErrorf("message id 0 is reserved")
	}
	return Message{
		ID:   id,
		Time: time.UnixMilli(int64(binary.BigEndian.Uint64(p[8:]))),
		Text: string(text),
	}, nil
}

func parseU64(t frameType, p []byte) (uint64, error) {
	if len(p) != 8 {
		return 0, protocolErrorf("%s frame of %d bytes, want 8", t, len(p))
	}
	return binary.BigEndian.Uint64(p), nil
}

func appendErrorFrame(b []byte, code errorCode, reason string) []byte {
	p := make([]byte, 0, 1+len(reason))
	p = append(p, byte(code))
	p = append(p, reason...)
	return appendFrame(b, frameError, p)
}

func parseError(p []byte) (*RemoteError, error) {
	if len(p) < 1 {
		return nil, protocolErrorf("empty error frame")
	}
	reason := p[1:]
	if len(reason) > 1024 {
		reason = reason[:1024]
	}
	return &RemoteError{code: errorCode(p[0]), Reason: string(reason)}, nil
}
