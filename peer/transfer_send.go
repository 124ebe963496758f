package peer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/zeebo/blake3"
)

// This file holds the sending side of a file transfer: SendFile and
// SendReader, one attempt (offer, chunks, digest, verdict) per
// connection, and the receiver's answers as the sender hears them.

// errRelinked says the connection a transfer was using is gone.
var errRelinked = errors.New("connection replaced")

// SendFile sends the file at path to the peer and returns once the peer
// has verified it, the receiver refused it (ErrFileRefused), ctx is done or
// the conversation ends. It survives reconnections: it offers the file
// again and continues from what the receiver holds. progress, if not nil,
// is called with the bytes the receiver holds or was sent so far; its
// values never decrease within one attempt. Some goroutine must be calling
// Next meanwhile. Messages may be sent during a transfer; they overtake
// file data.
func (s *Session) SendFile(ctx context.Context, path string, progress func(FileProgress)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	return s.SendReader(ctx, filepath.Base(path), f, fi.Size(), progress)
}

// SendReader is SendFile for size bytes read from r, offered as name. r is
// read again from the offset the receiver asks for, after a reconnection
// or a digest mismatch.
func (s *Session) SendReader(ctx context.Context, name string, r io.ReaderAt, size int64, progress func(FileProgress)) error {
	if len(name) > maxFileName || name == "" {
		return fmt.Errorf("file name %q is empty or over %d bytes", name, maxFileName)
	}
	fs := &s.files
	ch := make(chan fileReply, 8)
	fs.mu.Lock()
	fs.lastID++
	id := fs.lastID
	if fs.out == nil {
		fs.out = make(map[uint64]chan fileReply)
	}
	fs.out[id] = ch
	fs.mu.Unlock()
	defer func() {
		fs.mu.Lock()
		delete(fs.out, id)
		fs.mu.Unlock()
	}()
	x := &sending{s: s, f: r, id: id, name: name, size: size, ch: ch, progress: progress, buf: make([]byte, ChunkSize)}
	for attempt := 1; ; {
		ok, err := x.attempt(ctx)
		switch {
		case errors.Is(err, errRelinked):
			continue
		case err != nil:
			// Whatever stops the sender, the receiver is told, so that it
			// ends the transfer and frees its slot now rather than at the
			// end of the conversation; unless the receiver ended it, or
			// the conversation is over.
			if s.ended() == nil && !errors.Is(err, ErrFileRefused) {
				s.cancelFile(id, giveUpReason(ctx, err))
			}
			return err
		case ok:
			if progress != nil && x.saved != "" {
				progress(FileProgress{ID: id, Name: name, Done: size, Size: size, SavedAs: x.saved})
			}
			return nil
		}
		if attempt++; attempt > maxSendAttempts {
			if s.ended() == nil {
				s.cancelFile(id, fmt.Sprintf("it arrived damaged %d times, and the sender gave up", maxSendAttempts))
			}
			return fmt.Errorf("%s arrived damaged %d times; giving up", name, maxSendAttempts)
		}
	}
}

// A sourceError is the sender's failure to read its own file.
type sourceError struct{ error }

func (e *sourceError) Unwrap() error { return e.error }

// giveUpReason is what the receiver is told when the sender stops a file
// for a reason of its own: never the error itself, which may name the
// sender's paths.
func giveUpReason(ctx context.Context, err error) string {
	var src *sourceError
	switch {
	case ctx.Err() != nil:
		return "the sender cancelled"
	case errors.As(err, &src):
		return "the sender could not read it"
	}
	return "the sender gave up"
}

// cancelFile tells the receiver that file id is given up on: now, or on
// the next connection when this one is down or breaks on the way.
func (s *Session) cancelFile(id uint64, reason string) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	frame := appendIDFrame(nil, frameFileCancel, id, reasonBytes(reason))
	if l := s.link; l != nil && !l.broken() {
		s.write(l, append(s.takeControl(s.wbuf[:0]), frame...))
		if !l.broken() {
			return
		}
	}
	s.ctlMu.Lock()
	s.cancelsOwed = append(s.cancelsOwed, frame...)
	s.ctlMu.Unlock()
}

type sending struct {
	s        *Session
	f        io.ReaderAt
	id       uint64
	name     string
	size     int64
	ch       chan fileReply
	progress func(FileProgress)
	buf      []byte
	saved    string // the name the receiver saved the file under, if it said
}

// attempt offers the file on the current connection and streams it. It
// reports whether the receiver verified it; errRelinked means the
// connection changed and the file is offered again.
func (x *sending) attempt(ctx context.Context) (bool, error) {
	s := x.s
	if err := ctx.Err(); err != nil {
		return false, err
	}
	l, err := x.awaitLink(ctx)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	files, name := s.peerFiles, s.peer.Name
	s.mu.Unlock()
	if !files {
		return false, &refusal{who: name, verb: "cannot take", reason: "its peerchat is too old to receive files"}
	}
	for drained := false; !drained; { // answers from an earlier connection
		select {
		case <-x.ch:
		default:
			drained = true
		}
	}
	if err := x.write(l, frameFileOffer, be64(uint64(x.size)), []byte(x.name)); err != nil {
		return false, err
	}
	r, err := x.await(ctx, l)
	if err != nil {
		return false, err
	}
	switch r.t {
	case frameFileVerified:
		x.verified(r)
		return r.ok, nil // offered again after it was verified
	case frameFileAccept:
	default:
		return false, s.refused(r, false)
	}
	if r.offset < 0 || r.offset > x.size {
		return false, protocolErrorf("file accept at offset %d of a %d-byte file", r.offset, x.size)
	}
	h := blake3.New()
	if r.offset > 0 {
		if _, err := io.CopyBuffer(h, io.NewSectionReader(x.f, 0, r.offset), x.buf); err != nil {
			return false, err
		}
	}
	pos := r.offset
	if x.progress != nil {
		x.progress(FileProgress{ID: x.id, Name: x.name, Done: pos, Size: x.size, Start: true})
	}
	for pos < x.size {
		data := x.chunkData(x.size - pos)
		n, err := x.f.ReadAt(data, pos)
		if n == 0 && err != nil {
			return false, &sourceError{fmt.Errorf("reading %s: %w", x.name, err)}
		}
		h.Write(data[:n])
		if err := x.writeChunk(l, n); err != nil {
			return false, err
		}
		pos += int64(n)
		if x.progress != nil {
			x.progress(FileProgress{ID: x.id, Name: x.name, Done: pos, Size: x.size})
		}
		select {
		case r := <-x.ch:
			if r.t == frameFileReject {
				return false, s.refused(r, true)
			}
		default:
		}
	}
	var sum [digestLen]byte
	if err := x.write(l, frameFileDone, h.Sum(sum[:0])); err != nil {
		return false, err
	}
	for {
		r, err := x.await(ctx, l)
		if err != nil {
			return false, err
		}
		switch r.t {
		case frameFileVerified:
			x.verified(r)
			return r.ok, nil
		case frameFileReject:
			return false, s.refused(r, true)
		}
	}
}

// verified notes the name a receiver's verdict says it saved the file
// under: a base name, shown to the user after sanitising like any peer
// text, and ignored if it is not one.
func (x *sending) verified(r fileReply) {
	if r.ok && r.reason != "" && len(r.reason) <= maxFileName && !strings.ContainsAny(r.reason, `/\`) && utf8.ValidString(r.reason) {
		x.saved = r.reason
	}
}

// write writes one frame (with the control frames owed) on l, under the
// write lock, so that a message can go out between any two chunks.
func (x *sending) write(l *link, t frameType, rest ...[]byte) error {
	s := x.s
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := x.writable(l); err != nil {
		return err
	}
	b := appendIDFrame(s.takeControl(s.wbuf[:0]), t, x.id, rest...)
	if err := s.write(l, b); err != nil {
		return err
	}
	return x.written(l)
}

// chunkHead is the header of a chunk frame: type, length and file id.
const chunkHead = headerLen + 8

// chunkData returns where the next chunk's data, at most left bytes, is to
// be read: x.buf after room for the frame header, so that writeChunk sends
// the frame from where the data was read. sendChunk fills x.buf exactly.
func (x *sending) chunkData(left int64) []byte {
	return x.buf[chunkHead : chunkHead+int(min(int64(sendChunk), left))]
}

// writeChunk writes the chunk frame of the n bytes chunkData was given,
// as write would. File data is thus copied once, by ReadAt, before TLS
// seals it, and not again into the session's write buffer; that copy
// still happens when control frames are owed, so that they go first in
// the same write as ever, and during a transfer they rarely are.
func (x *sending) writeChunk(l *link, n int) error {
	s := x.s
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := x.writable(l); err != nil {
		return err
	}
	frame := x.buf[:chunkHead+n]
	frame[0] = byte(frameFileChunk)
	binary.BigEndian.PutUint32(frame[1:], uint32(8+n))
	binary.BigEndian.PutUint64(frame[headerLen:], x.id)
	var err error
	if b := s.takeControl(s.wbuf[:0]); len(b) > 0 {
		err = s.write(l, append(b, frame...))
	} else {
		err = s.writeFrom(l, frame)
	}
	if err != nil {
		return err
	}
	return x.written(l)
}

// writable reports why nothing can be written on l, if so; the caller
// holds wmu.
func (x *sending) writable(l *link) error {
	if err := x.s.ended(); err != nil {
		return err
	}
	if x.s.link != l {
		return errRelinked
	}
	return nil
}

// written reports whether l is still the connection after a write to it;
// the caller holds wmu.
func (x *sending) written(l *link) error {
	if x.s.link != l || l.broken() {
		return errRelinked
	}
	return nil
}

// awaitLink returns the session's connection once one is up. Without
// one, it waits for install to attach the next (relinked), not polling.
func (x *sending) awaitLink(ctx context.Context) (*link, error) {
	for {
		x.s.wmu.Lock()
		l, relinked := x.s.link, x.s.relinked
		x.s.wmu.Unlock()
		if l != nil && !l.broken() {
			return l, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-x.s.done:
			return nil, x.s.endErr
		case <-relinked:
		}
	}
}

// await waits for the receiver's answer on l. errRelinked means l broke,
// and with it the answer: the file is offered again on the next
// connection. l's done channel says so at once, and also covers a
// replaced connection, since a link is replaced only once it broke.
func (x *sending) await(ctx context.Context, l *link) (fileReply, error) {
	select {
	case r := <-x.ch:
		return r, nil
	case <-ctx.Done():
		return fileReply{}, ctx.Err()
	case <-x.s.done:
		return fileReply{}, x.s.endErr
	case <-l.done:
		return fileReply{}, errRelinked
	}
}

const maxSendAttempts = 3 // digest mismatches before the sender gives up

// ErrFileRefused is matched by SendFile's error when the receiver refused
// or cancelled the file.
var ErrFileRefused = errors.New("file refused")

// refusal is the receiver's answer that ends a file: "alice refused it:
// REASON", or "alice stopped it: REASON" once it was under way.
type refusal struct {
	who, verb, reason string
}

func (r *refusal) Error() string { return r.who + " " + r.verb + " it: " + r.reason }
func (r *refusal) Is(target error) bool {
	// A peerchat receiver that takes no files says ErrNoFiles's words,
	// so that its sender can say what to ask for.
	return target == ErrFileRefused || target == ErrNoFiles && r.verb == "refused" && r.reason == ErrNoFiles.Error()
}

// refused words the receiver's reply r that ended a file, accepted
// before if started.
func (s *Session) refused(r fileReply, started bool) error {
	verb := "refused"
	if started {
		verb = "stopped"
	}
	return &refusal{who: s.Peer().Name, verb: verb, reason: r.reason}
}

// reply hands a receiver's answer to the SendFile waiting for it.
func (s *Session) reply(id uint64, r fileReply) {
	s.files.mu.Lock()
	ch := s.files.out[id]
	s.files.mu.Unlock()
	if ch != nil {
		select {
		case ch <- r:
		default: // SendFile is not listening for more than it can use
		}
	}
}
