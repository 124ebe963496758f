package peer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/zeebo/blake3"
)

// This file holds the receiving side of a file transfer: answering an
// offer (at once, or through AcceptFile and RejectFile with
// Config.ConfirmFiles), hashing a kept prefix, taking chunks, verifying
// the digest, and ending a transfer (CancelFile, the sender's cancel, a
// restarted peer). transfer_disk.go does the disk work.

// refuseAgain records that the user refused id; the caller holds inMu.
func (fs *files) refuseAgain(id uint64, reason string) {
	if fs.refused == nil {
		fs.refused = make(map[uint64]string)
	}
	forgetOne(fs.refused, maxRemembered)
	fs.refused[id] = reason
}

// maxRemembered bounds the refused and verified transfers remembered per
// peer, to answer a repeated offer the same way: past it one is forgotten
// (its repeated offer is then asked about or accepted anew).
const maxRemembered = 1024

// forgetOne drops an entry of m when it holds max.
func forgetOne[V any](m map[uint64]V, max int) {
	if len(m) < max {
		return
	}
	for id := range m {
		delete(m, id)
		return
	}
}

// maxFilesInFlight bounds the files one peer may have on their way to
// this side at once, offered and not yet refused, verified or ended: each
// holds a little memory, and a partial file being written a descriptor.
const maxFilesInFlight = 8

// errTooManyFiles refuses an offer past maxFilesInFlight.
var errTooManyFiles = fmt.Errorf("too many files at once (at most %d on their way per peer); send it once one has arrived", maxFilesInFlight)

type incoming struct {
	name, part string
	offered    string // the name as the peer offered it, for the partial's name
	size, n    int64
	f          *os.File  // the partial file; nil until the first byte, or for a discarding receiver (benchmarks)
	w          io.Writer // where data goes: f, or io.Discard (until f is created); nil once ended
	h          *blake3.Hasher
	bad        bool      // digest mismatch: the next offer starts again from 0
	hashing    bool      // hashPrefix owns h until it answers the offer
	reported   time.Time // the last FileProgress
}

// peerCancelled ends, on the receiving side, a transfer or an offer the
// sender cancelled; its partial file stays.
func (s *Session) peerCancelled(id uint64, reason string) Event {
	fs := &s.files
	fs.inMu.Lock()
	defer fs.inMu.Unlock()
	in := fs.in[id]
	if in == nil {
		in = fs.asked[id]
		delete(fs.asked, id)
	}
	if in == nil {
		return nil
	}
	fs.drop(id)
	return FileFailed{ID: id, Name: in.name, Err: fmt.Errorf("%s cancelled %s: %s", s.Peer().Name, in.name, reason)}
}

// drop ends the receiving state of transfer id, keeping its partial file. The
// caller holds inMu.
func (fs *files) drop(id uint64) {
	if in := fs.in[id]; in != nil {
		in.close()
		delete(fs.partsIn, in.part)
		delete(fs.in, id)
	}
}

// forgetIncoming drops the receiving state of a peer that restarted: its
// partial files stay, and are resumed when it offers them again.
func (fs *files) forgetIncoming() {
	fs.inMu.Lock()
	defer fs.inMu.Unlock()
	for _, in := range fs.in {
		in.close()
	}
	fs.in, fs.asked, fs.done, fs.partsIn, fs.refused = nil, nil, nil, nil, nil
}

// closeIncoming lets go of every partial file being written, when the
// conversation ends; they stay on disk, to resume from.
func (fs *files) closeIncoming() {
	fs.inMu.Lock()
	defer fs.inMu.Unlock()
	for _, in := range fs.in {
		in.close()
	}
	fs.in, fs.asked, fs.partsIn = nil, nil, nil
}

func (s *Session) refuse(id uint64, name string, err error) Event {
	s.oweFrame(appendIDFrame(nil, frameFileReject, id, reasonBytes(err.Error())))
	return FileFailed{ID: id, Name: name, Err: err}
}

// ErrNoFiles is the refusal of a side that takes no files (no
// Config.DownloadDir). Its text goes to the peer, so it names no flag; a
// caller that knows how files are turned on says so itself.
var ErrNoFiles = errors.New("not set up to take files")

// A FileTooLargeError refuses an offer over Config.MaxFileSize. Its text goes
// to the peer, so it names no flag.
type FileTooLargeError struct {
	Name  string // the saved name of the file
	Size  uint64 // its offered size, in bytes (any 64-bit value a peer sends)
	Limit int64  // Config.MaxFileSize
}

func (e *FileTooLargeError) Error() string {
	return fmt.Sprintf("%s is %d bytes, over the %d-byte limit", e.Name, e.Size, e.Limit)
}

func (s *Session) fileOffered(id, size uint64, offered string) Event {
	fs := &s.files
	fs.inMu.Lock()
	defer fs.inMu.Unlock()
	if saved, ok := fs.done[id]; ok {
		s.oweFrame(appendIDFrame(nil, frameFileVerified, id, []byte{1}, []byte(saved)))
		return nil
	}
	if reason, ok := fs.refused[id]; ok {
		s.oweFrame(appendIDFrame(nil, frameFileReject, id, reasonBytes(reason)))
		return nil
	}
	if s.cfg.DownloadDir == "" {
		return s.refuse(id, offered, ErrNoFiles)
	}
	name, err := SafeFileName(offered)
	if err != nil {
		return s.refuse(id, offered, err)
	}
	if max := s.cfg.MaxFileSize; max > 0 && size > uint64(max) {
		return s.refuse(id, name, &FileTooLargeError{Name: name, Size: size, Limit: max})
	}
	if size > 1<<62 {
		return s.refuse(id, name, fmt.Errorf("%s claims an impossible size", name))
	}
	in := fs.in[id]
	if in != nil && (in.name != name || in.size != int64(size)) {
		fs.drop(id) // the same id for another file: a sender that restarted
		in = nil
	}
	if in == nil && fs.asked[id] == nil && len(fs.in)+len(fs.asked) >= maxFilesInFlight {
		return s.refuse(id, name, errTooManyFiles)
	}
	if in == nil || in.bad {
		if err := s.roomFor(id, name, offered, int64(size)); err != nil {
			return s.refuse(id, name, err)
		}
	}
	if in != nil && !in.bad {
		if in.hashing {
			return nil // hashPrefix answers once the kept prefix is hashed
		}
		// Accepted before: the sender offers again after a
		// reconnection, and goes on from what arrived.
		s.oweFrame(appendIDFrame(nil, frameFileAccept, id, be64(uint64(in.n))))
		return FileOffered{ID: id, Name: name, Size: in.size, Offset: in.n}
	}
	if in == nil && s.cfg.ConfirmFiles {
		if a := fs.asked[id]; a != nil && a.name == name && a.size == int64(size) {
			return nil // offered again while the question is open
		}
		if fs.asked == nil {
			fs.asked = make(map[uint64]*incoming)
		}
		fs.asked[id] = &incoming{name: name, offered: offered, size: int64(size)}
		return FileOffer{ID: id, Name: name, Size: int64(size), Have: fs.have(s.cfg.DownloadDir, s.fingerprint(), offered, int64(size))}
	}
	return s.acceptIncoming(id, name, offered, int64(size), in != nil && in.bad)
}

// acceptIncoming opens the partial file of an offer and tells the sender where
// to start. The caller holds inMu.
func (s *Session) acceptIncoming(id uint64, name, offered string, size int64, restart bool) Event {
	fs := &s.files
	fs.drop(id)
	if err := s.ended(); err != nil {
		// end closed the partial files under inMu after it closed done: none
		// may be opened now, with nobody left to close it.
		return FileFailed{ID: id, Name: name, Err: err}
	}
	var in *incoming
	var err error
	if s.cfg.discardFiles {
		in = &incoming{name: name, size: size, w: io.Discard, h: blake3.New()}
	} else if in, err = s.openPart(fs.partPath(s.cfg.DownloadDir, s.fingerprint(), offered, size), name, size, restart); err != nil {
		return s.refuse(id, name, err)
	}
	in.offered = offered
	in.reported = time.Now()
	if fs.in == nil {
		fs.in = make(map[uint64]*incoming)
		fs.partsIn = make(map[string]uint64)
	}
	fs.in[id] = in
	if in.part != "" {
		fs.partsIn[in.part] = id
	}
	if in.n > 0 && in.f != nil {
		in.hashing = true
		go s.hashPrefix(id, in, in.f)
	} else {
		s.oweFrame(appendIDFrame(nil, frameFileAccept, id, be64(uint64(in.n))))
	}
	return FileOffered{ID: id, Name: name, Size: size, Offset: in.n}
}

// hashPrefix hashes what an earlier attempt left in the partial file (f), then
// answers the offer. It runs on a goroutine of its own: hashing a resumed
// file of many GiB takes seconds, which would otherwise hold up the
// reader (and every message behind the offer) or the chat screen's /accept.
// The accept goes out only once it is done, so no chunk can arrive
// before; the goroutine ends then, or when the partial file is closed under it.
func (s *Session) hashPrefix(id uint64, in *incoming, f *os.File) {
	if hook := hashPrefixHook.Load(); hook != nil {
		(*hook)()
	}
	buf := make([]byte, ChunkSize)
	_, err := io.CopyBuffer(in.h, io.NewSectionReader(f, 0, in.n), buf)
	fs := &s.files
	fs.inMu.Lock()
	defer fs.inMu.Unlock()
	if fs.in[id] != in || in.w == nil {
		return // ended meanwhile: cancelled, refused, or the conversation
	}
	in.hashing = false
	if err != nil {
		// Told to the sender only: this side learns it from the sender's
		// next offer, which finds the partial file as it is.
		fs.drop(id)
		s.oweFrame(appendIDFrame(nil, frameFileReject, id,
			reasonBytes(fmt.Sprintf("cannot read back the partial file of %s in the download directory (%v)", in.name, pathErrCause(err)))))
		return
	}
	s.oweFrame(appendIDFrame(nil, frameFileAccept, id, be64(uint64(in.n))))
}

// AcceptFile accepts the offer id that a [FileOffer] reported: the file
// is written to the download directory from what its partial file holds on. It
// fails if no such offer waits for an answer (the sender cancelled it, or
// restarted) or the partial file cannot be written; the sender is told then too.
func (s *Session) AcceptFile(id uint64) (FileOffered, error) {
	fs := &s.files
	fs.inMu.Lock()
	defer fs.inMu.Unlock()
	a := fs.asked[id]
	if a == nil {
		return FileOffered{}, fmt.Errorf("no file offer %d waits for an answer", id)
	}
	delete(fs.asked, id)
	switch ev := s.acceptIncoming(id, a.name, a.offered, a.size, false).(type) {
	case FileOffered:
		return ev, nil
	case FileFailed:
		return FileOffered{}, ev.Err
	}
	panic("unreachable")
}

// RejectFile refuses the offer id that a [FileOffer] reported; the
// sender gets reason.
func (s *Session) RejectFile(id uint64, reason string) error {
	fs := &s.files
	fs.inMu.Lock()
	defer fs.inMu.Unlock()
	if fs.asked[id] == nil {
		return fmt.Errorf("no file offer %d waits for an answer", id)
	}
	delete(fs.asked, id)
	fs.refuseAgain(id, reason)
	s.oweFrame(appendIDFrame(nil, frameFileReject, id, reasonBytes(reason)))
	return nil
}

// CancelFile stops receiving file id, or refuses it if it is still an
// open offer; the sender gets reason, in a reject either way (a cancel
// would name the file this side sends under the same id). What arrived stays in the partial file, and
// is resumed if the file is offered again.
func (s *Session) CancelFile(id uint64, reason string) error {
	fs := &s.files
	fs.inMu.Lock()
	defer fs.inMu.Unlock()
	switch {
	case fs.in[id] != nil:
		fs.drop(id)
	case fs.asked[id] != nil:
		delete(fs.asked, id)
	default:
		return fmt.Errorf("no file %d is being received", id)
	}
	fs.refuseAgain(id, reason)
	s.oweFrame(appendIDFrame(nil, frameFileReject, id, reasonBytes(reason)))
	return nil
}

// failIncoming ends an incoming transfer on this side, keeping its
// partial file, and tells the sender why. The caller holds inMu.
func (s *Session) failIncoming(id uint64, in *incoming, err error) Event {
	s.files.drop(id)
	s.oweFrame(appendIDFrame(nil, frameFileReject, id, reasonBytes(err.Error())))
	return FileFailed{ID: id, Name: in.name, Err: err}
}

func (s *Session) chunk(id uint64, data []byte) (Event, error) {
	s.files.inMu.Lock()
	defer s.files.inMu.Unlock()
	in := s.files.in[id]
	if in == nil || in.w == nil {
		// A transfer this side ended (cancelled, failed): chunks still
		// on their way are dropped.
		return nil, nil
	}
	if len(data) > ChunkSize {
		return nil, protocolErrorf("file chunk of %d bytes is over the %d-byte limit", len(data), ChunkSize)
	}
	if in.hashing {
		return nil, protocolErrorf("file chunk for file %d before this side accepted it", id)
	}
	if in.n+int64(len(data)) > in.size {
		return s.failIncoming(id, in, fmt.Errorf("%s sent more than the %d bytes it offered", s.Peer().Name, in.size)), nil
	}
	if err := in.write(data); err != nil {
		return s.failIncoming(id, in, err), nil
	}
	in.h.Write(data)
	in.n += int64(len(data))
	if now := time.Now(); now.Sub(in.reported) >= ProgressInterval {
		in.reported = now
		return FileProgress{ID: id, Name: in.name, Done: in.n, Size: in.size}, nil
	}
	return nil, nil
}

func (s *Session) fileDone(id uint64, digest []byte) (Event, error) {
	s.files.inMu.Lock()
	defer s.files.inMu.Unlock()
	in := s.files.in[id]
	if in == nil || in.w == nil {
		return nil, nil
	}
	if in.hashing {
		return nil, protocolErrorf("file done for file %d before this side accepted it", id)
	}
	var sum [digestLen]byte
	in.h.Sum(sum[:0])
	if in.n != in.size || !bytes.Equal(sum[:], digest) {
		err := fmt.Errorf("%s arrived damaged (%d of %d bytes, digest mismatch); it is sent again", in.name, in.n, in.size)
		in.bad = true
		s.oweFrame(appendIDFrame(nil, frameFileVerified, id, []byte{0}, reasonBytes(err.Error())))
		return FileFailed{ID: id, Name: in.name, Err: err, Retry: true}, nil
	}
	var path string
	if in.part != "" {
		if err := in.write(nil); err != nil { // an empty file: created now
			return s.failIncoming(id, in, err), nil
		}
		// Synced before the rename: a crash must not leave a complete
		// name on incomplete data.
		if err := in.f.Sync(); err != nil {
			return s.failIncoming(id, in, partWriteError(in.name, err)), nil
		}
		in.close()
		var err error
		if path, err = placeFile(in.part, filepath.Join(s.cfg.DownloadDir, in.name)); err != nil {
			return s.failIncoming(id, in, err), nil
		}
	}
	s.files.drop(id)
	if s.files.done == nil {
		s.files.done = make(map[uint64]string)
	}
	saved := filepath.Base(path)
	forgetOne(s.files.done, maxRemembered)
	s.files.done[id] = saved
	// The name saved under rides in the verdict's reason, which a sender
	// from before ignores when the file is intact.
	s.oweFrame(appendIDFrame(nil, frameFileVerified, id, []byte{1}, []byte(saved)))
	return FileReceived{ID: id, Name: in.name, Path: path, Size: in.size}, nil
}

// hashPrefixHook, if set (by tests), runs before hashPrefix reads.
var hashPrefixHook atomic.Pointer[func()]
