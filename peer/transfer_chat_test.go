package peer_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"testing"
	"time"

	"peerchat/peer"
)

// chattyReader reads a file and has the receiver send a message every
// few chunks, while the sender is between two of them.
type chattyReader struct {
	r     io.ReaderAt
	every int
	reads int
	send  func()
}

func (c *chattyReader) ReadAt(p []byte, off int64) (int, error) {
	if c.reads++; c.reads%c.every == 0 {
		c.send()
	}
	return c.r.ReadAt(p, off)
}

// While a file streams one way, messages come the other way: the sender
// receives them in order and acknowledges them, its acknowledgements
// going out with its chunks or between two, and the file arrives intact.
func TestChatBackDuringTransfer(t *testing.T) {
	_, alice, bob := alicePKI(t)
	ls, ds := connect(t, peer.DiscardingFiles(peer.Config{Identity: alice}), peer.Config{Identity: bob})

	received := make(chan peer.FileReceived, 1)
	delivered := make(chan uint64, 64)
	go func() {
		for {
			ev, err := ls.Next()
			if err != nil {
				return
			}
			switch ev := ev.(type) {
			case peer.FileReceived:
				received <- ev
			case peer.Delivered:
				delivered <- ev.UpTo
			}
		}
	}()
	texts := make(chan string, 64)
	go func() {
		for {
			ev, err := ds.Next()
			if err != nil {
				return
			}
			if m, ok := ev.(*peer.Message); ok {
				texts <- m.Text
			}
		}
	}()

	const size = 8 << 20 // 256 chunks
	data := make([]byte, size)
	rand.Read(data)
	var sent uint64
	r := &chattyReader{r: bytes.NewReader(data), every: 16, send: func() {
		m, err := ls.Send(fmt.Sprintf("message %d", sent+1))
		if err != nil {
			t.Errorf("receiver's message during the transfer: %v", err)
			return
		}
		sent = m.ID
	}}
	if err := ds.SendReader(testContext(t), "data.bin", r, size, nil); err != nil {
		t.Fatalf("SendReader: %v", err)
	}
	if sent == 0 {
		t.Fatal("no message was sent during the transfer")
	}
	timeout := time.After(testTimeout)
	select {
	case got := <-received:
		if got.Size != size {
			t.Errorf("received %+v", got)
		}
	case <-timeout:
		t.Fatal("the receiver did not report the file")
	}
	for i := uint64(1); i <= sent; i++ {
		select {
		case text := <-texts:
			if want := fmt.Sprintf("message %d", i); text != want {
				t.Fatalf("sender received %q, want %q", text, want)
			}
		case <-timeout:
			t.Fatalf("sender received %d of %d messages", i-1, sent)
		}
	}
	for upTo := uint64(0); upTo < sent; {
		select {
		case upTo = <-delivered:
		case <-timeout:
			t.Fatalf("messages delivered up to %d of %d", upTo, sent)
		}
	}
}
