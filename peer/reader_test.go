package peer

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
)

// pieceReader returns what r holds in pieces of random size, as TLS
// records and short socket reads cut a stream.
type pieceReader struct {
	r   io.Reader
	rnd *rand.Rand
	max int
}

func (p *pieceReader) Read(b []byte) (int, error) {
	return p.r.Read(b[:min(len(b), 1+p.rnd.IntN(p.max))])
}

// The frame reader buffers for itself, grows to hold a large frame and
// moves a partial frame to the front; frames of every size, however the
// stream is cut, must come out whole and in order.
func TestFrameReaderLargeFrames(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var stream []byte
	var want [][]byte
	for range 100 {
		var n int
		switch rnd.IntN(4) {
		case 0:
			n = rnd.IntN(64)
		case 1:
			n = ChunkSize - headerLen
		case 2:
			n = MaxPayload
		default:
			n = rnd.IntN(MaxPayload + 1)
		}
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rnd.Uint32())
		}
		want = append(want, p)
		stream = appendFrame(stream, frameFileChunk, p)
	}
	for _, piece := range []int{100, 16 << 10, 40 << 10, 1 << 20} {
		fr := newFrameReader(&pieceReader{bytes.NewReader(stream), rand.New(rand.NewPCG(3, uint64(piece))), piece})
		for i, w := range want {
			typ, p, err := fr.next()
			if err != nil {
				t.Fatalf("pieces of up to %d bytes: frame %d: %v", piece, i, err)
			}
			if typ != frameFileChunk || !bytes.Equal(p, w) {
				t.Fatalf("pieces of up to %d bytes: frame %d is a %d-byte %s, want the %d bytes sent", piece, i, len(p), typ, len(w))
			}
			if c := cap(fr.buf); c > maxReadBuf {
				t.Fatalf("reader buffer grew to %d bytes, over %d", c, maxReadBuf)
			}
		}
		if _, _, err := fr.next(); err != io.EOF {
			t.Fatalf("pieces of up to %d bytes: after the last frame: %v, want io.EOF", piece, err)
		}
	}
}
