package peer

// File transfer: files travel over the conversation's connection as their
// own stream, beside the messages and never through their queue. The
// sender offers (id, size, name); the receiver answers with the offset it
// already holds (its partial file) or a refusal; the sender streams chunks
// from there, one per turn of the write lock so that a message waits
// behind one chunk at most, then the BLAKE3 digest of the whole file. The
// receiver hashes as it writes (the partial file's prefix it kept first), verifies,
// syncs and renames. Reliability comes from that handshake, not from
// acknowledgements: after a reconnection the sender offers again and the
// receiver answers with what it has, so no file byte is ever held in memory
// beyond one chunk.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/zeebo/blake3"
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

// ChunkSize is the most file data in one chunk frame: a message never
// waits behind more than this.
const ChunkSize = 32 << 10

// sendChunk is the data this side puts in a chunk: the whole frame is then
// 32 KiB, two full TLS records, rather than two and a 13-byte third, which
// would cost a record and a system call per chunk for nothing.
const sendChunk = ChunkSize - headerLen - 8

const (
	digestLen       = 32
	maxFileName     = 255
	maxSendAttempts = 3 // digest mismatches before the sender gives up
)

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

// FileOffer reports, on a receiving side with [Config.ConfirmFiles], a
// file the peer offers: it waits for [Session.AcceptFile] or
// [Session.RejectFile]. Have is how much of it an earlier attempt left in
// a partial file: accepting resumes from there.
type FileOffer struct {
	ID   uint64
	Name string // the name it is saved under: the offered one, made safe by SafeFileName
	Size int64
	Have int64
}

// FileOffered reports, on the receiving side, a file the peer offered and
// this side accepted: it is written to its partial file from Offset on (above 0
// when an earlier attempt is resumed).
type FileOffered struct {
	ID     uint64
	Name   string // the name it is saved under (SafeFileName)
	Size   int64
	Offset int64 // bytes kept from an earlier attempt (resumption)
}

// FileProgress reports how far a transfer has come: Done of Size bytes
// are with the receiver. The sender's progress function gets one per
// chunk; the receiving side's Next returns one every [ProgressInterval]
// at most. Start marks the first report of an attempt, when the receiver
// has answered the offer: Done is then where the attempt starts, above 0
// when it resumes an earlier one.
type FileProgress struct {
	ID         uint64
	Name       string
	Done, Size int64
	Start      bool
	// SavedAs, on the sender's side, is the name the receiver saved the
	// file under, reported once after it verified the file, when the
	// receiver says it (peerchat from the hostile-peer fix on): the
	// receiver's rules (SafeFileName, and "NAME (2)" beside an existing
	// file) may have changed the name offered.
	SavedAs string
}

// ProgressInterval is how often a receiving side reports progress.
const ProgressInterval = 100 * time.Millisecond

// FileReceived reports a file received whole and verified, now at Path.
type FileReceived struct {
	ID   uint64
	Name string
	Path string
	Size int64
}

// FileFailed reports a file that was refused or could not be received. A
// digest mismatch keeps the partial file and the sender starts again (Retry).
type FileFailed struct {
	ID    uint64
	Name  string
	Err   error
	Retry bool
}

func (FileOffer) isEvent()    {}
func (FileOffered) isEvent()  {}
func (FileProgress) isEvent() {}
func (FileReceived) isEvent() {}
func (FileFailed) isEvent()   {}

// ErrFileRefused is matched by SendFile's error when the receiver refused
// or cancelled the file.
var ErrFileRefused = errors.New("file refused")

// refusal is the receiver's answer that ends a file: "alice refused it:
// REASON", or "alice stopped it: REASON" once it was under way.
type refusal struct {
	who, verb, reason string
}

func (r *refusal) Error() string        { return r.who + " " + r.verb + " it: " + r.reason }
func (r *refusal) Is(target error) bool { return target == ErrFileRefused }

// refused words the receiver's reply r that ended a file, accepted
// before if started.
func (s *Session) refused(r fileReply, started bool) error {
	verb := "refused"
	if started {
		verb = "stopped"
	}
	return &refusal{who: s.Peer().Name, verb: verb, reason: r.reason}
}

// files is a session's transfer state.
type files struct {
	mu     sync.Mutex
	lastID uint64
	out    map[uint64]chan fileReply // the sender's transfers, by id

	// The receiving side: the reader's goroutine, and AcceptFile,
	// RejectFile and CancelFile from the application's, under inMu.
	inMu    sync.Mutex
	in      map[uint64]*incoming
	asked   map[uint64]*incoming // offers waiting for AcceptFile or RejectFile
	done    map[uint64]string    // verified and renamed, with the name saved: a repeated offer is answered "verified"
	partsIn map[string]uint64    // the partial files being written, and by which transfer
	// refused are the files refused or stopped with RejectFile or
	// CancelFile, with the reason: offered again on the next connection
	// (the answer may have been lost with the last one), they are
	// refused again, not asked about or resumed.
	refused map[uint64]string
}

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

type fileReply struct {
	t      frameType
	offset int64
	ok     bool
	reason string
}

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

// maxCtlOwed bounds the file replies owed to the peer (accepts, refusals,
// verdicts), in bytes and in frames: once they reach it, the reader reads
// nothing more until a write has taken them (awaitOwed). They pile up
// only while the peer sends requests faster than it reads the answers; a
// peer that goes on not reading for maxOwedWait has the conversation
// ended with a protocol error, rather than this side's memory grow.
const (
	maxCtlOwed       = 64 << 10
	maxCtlFramesOwed = 256
	maxOwedWait      = 5 * time.Second
)

// oweFrame queues a control frame for the peer and has it sent soon, by
// the timer's goroutine or with the next write: the reader never writes.
func (s *Session) oweFrame(b []byte) {
	s.ctlMu.Lock()
	s.ctlFrames++
	s.ctlExtra = append(s.ctlExtra, b...)
	arm := !s.ctlArmed
	s.ctlArmed = true
	s.ctlMu.Unlock()
	if arm {
		s.ctlTimer.Reset(0)
	}
}

// handleFile handles the file frames; it runs on the reader's goroutine.
func (s *Session) handleFile(t frameType, p []byte) (Event, error) {
	if len(p) < 8 {
		return nil, protocolErrorf("%s frame of %d bytes is too short", t, len(p))
	}
	id, rest := binary.BigEndian.Uint64(p), p[8:]
	switch t {
	case frameFileOffer:
		if len(rest) < 8 {
			return nil, protocolErrorf("file offer of %d bytes is too short", len(p))
		}
		size := binary.BigEndian.Uint64(rest)
		return s.fileOffered(id, size, string(rest[8:])), nil
	case frameFileChunk:
		return s.chunk(id, rest)
	case frameFileDone:
		if len(rest) != digestLen {
			return nil, protocolErrorf("file done with a %d-byte digest, want %d", len(rest), digestLen)
		}
		return s.fileDone(id, rest)
	case frameFileAccept:
		if len(rest) != 8 {
			return nil, protocolErrorf("file accept of %d bytes, want 16", len(p))
		}
		s.reply(id, fileReply{t: t, offset: int64(binary.BigEndian.Uint64(rest))})
	case frameFileVerified:
		if len(rest) < 1 {
			return nil, protocolErrorf("file verified frame is too short")
		}
		s.reply(id, fileReply{t: t, ok: rest[0] == 1, reason: string(rest[1:])})
	case frameFileReject:
		s.reply(id, fileReply{t: t, reason: string(rest)})
	case frameFileCancel:
		// From the sender: it ends a file this side receives (see the
		// frame types), whatever this side sends under the same id.
		return s.peerCancelled(id, string(rest)), nil
	}
	return nil, nil
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

func (s *Session) refuse(id uint64, name string, err error) Event {
	s.oweFrame(appendIDFrame(nil, frameFileReject, id, reasonBytes(err.Error())))
	return FileFailed{ID: id, Name: name, Err: err}
}

// errNoFiles is the refusal of a side that takes no files.
var errNoFiles = errors.New("not taking files (it must run with --accept-files, or chat on a terminal to be asked)")

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
		return s.refuse(id, offered, errNoFiles)
	}
	name, err := SafeFileName(offered)
	if err != nil {
		return s.refuse(id, offered, err)
	}
	if max := s.cfg.MaxFileSize; max > 0 && size > uint64(max) {
		return s.refuse(id, name, fmt.Errorf("%s is %d bytes, over the %d-byte limit (--max-file-size)", name, size, max))
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

// partPath is where a file offered as name, of size bytes, by the peer
// whose certificate has fingerprint fp is written until verified: its
// PartialName, or the same with "-2" and so on while another transfer of
// this side writes that one (at most maxFilesInFlight are). The caller
// holds inMu.
func (fs *files) partPath(dir, fp, offered string, size int64) string {
	base := PartialName(fp, offered, size)
	part := filepath.Join(dir, base)
	for i := 2; ; i++ {
		if _, busy := fs.partsIn[part]; !busy {
			return part
		}
		part = filepath.Join(dir, strings.TrimSuffix(base, partialSuffix)+fmt.Sprintf("-%d", i)+partialSuffix)
	}
}

// have is how much of a file an earlier attempt left in its partial file.
func (fs *files) have(dir, fp, offered string, size int64) int64 {
	fi, err := os.Lstat(fs.partPath(dir, fp, offered, size))
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > size {
		return 0
	}
	return fi.Size()
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

// openPart prepares part for an accepted offer: it opens the partial
// file an earlier attempt left, keeping what it holds unless restart is
// set (the caller has that prefix hashed, hashPrefix), or, when there is
// none, leaves it to the first byte that arrives to create it, so that an
// offer that never sends one leaves nothing on disk and holds no
// descriptor. Only peerchat's own partial files, named by PartialName,
// are ever opened, and never through a symbolic link.
func (s *Session) openPart(part, name string, size int64, restart bool) (*incoming, error) {
	in := &incoming{name: name, part: part, size: size, w: io.Discard, h: blake3.New()}
	f, err := openPartial(part)
	if errors.Is(err, os.ErrNotExist) {
		if err := partialsFull(filepath.Dir(part)); err != nil {
			return nil, err
		}
		// Created and removed at once: a directory where it cannot be
		// (read-only, full of inodes, not a directory) refuses the offer
		// now, and the sender is not made to start for nothing.
		f, err := createPartial(part)
		if err != nil {
			return nil, partCreateError(name, err)
		}
		f.Close()
		os.Remove(part)
		return in, nil
	}
	if err != nil {
		return nil, partCreateError(name, err)
	}
	in.f, in.w = f, f
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	if err != nil {
		in.close()
		return nil, partCreateError(name, err)
	}
	n := fi.Size()
	if restart || n > size {
		n = 0
	}
	if err := f.Truncate(n); err != nil {
		in.close()
		return nil, partCreateError(name, err)
	}
	if _, err := f.Seek(n, io.SeekStart); err != nil {
		in.close()
		return nil, partCreateError(name, err)
	}
	in.n = n
	return in, nil
}

// write writes data to the partial file, creating it first if this is the
// first byte.
func (in *incoming) write(data []byte) error {
	if in.f == nil && in.part != "" {
		f, err := createPartial(in.part)
		if err != nil {
			return partCreateError(in.name, err)
		}
		in.f, in.w = f, f
	}
	if _, err := in.w.Write(data); err != nil {
		return partWriteError(in.name, err)
	}
	return nil
}

func (in *incoming) close() {
	in.w = nil
	if in.f != nil {
		in.f.Close()
		in.f = nil
	}
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

// placeFile renames part to want, or to "want (2)" and so on when that
// exists: a received file never replaces one already there. A hard link
// claims the name atomically; where links are not possible, a checked
// rename does.
func placeFile(part, want string) (string, error) {
	ext := filepath.Ext(want)
	stem := strings.TrimSuffix(want, ext)
	for i := 1; i < 1000; i++ {
		path := want
		if i > 1 {
			path = fmt.Sprintf("%s (%d)%s", stem, i, ext)
		}
		err := os.Link(part, path)
		if err == nil {
			os.Remove(part)
			return path, nil
		}
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if _, err := os.Lstat(path); err == nil {
			continue
		}
		if err := os.Rename(part, path); err != nil {
			return "", fmt.Errorf("cannot move %s into place in the download directory (%w)", filepath.Base(want), pathErrCause(err))
		}
		return path, nil
	}
	return "", fmt.Errorf("cannot find a free name for %s in the download directory", filepath.Base(want))
}

// hashPrefixHook, if set (by tests), runs before hashPrefix reads.
var hashPrefixHook atomic.Pointer[func()]

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
			if ctx.Err() != nil && s.ended() == nil {
				s.cancelFile(id, "the sender cancelled")
			}
			return err
		case ok:
			if progress != nil && x.saved != "" {
				progress(FileProgress{ID: id, Name: name, Done: size, Size: size, SavedAs: x.saved})
			}
			return nil
		}
		if attempt++; attempt > maxSendAttempts {
			return fmt.Errorf("%s arrived damaged %d times; giving up", name, maxSendAttempts)
		}
	}
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

// relinkPoll is how often a transfer waiting for an answer checks that
// its connection is still the session's.
const relinkPoll = 20 * time.Millisecond

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
			return false, fmt.Errorf("reading %s: %w", x.name, err)
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

func (x *sending) awaitLink(ctx context.Context) (*link, error) {
	t := time.NewTicker(relinkPoll)
	defer t.Stop()
	for {
		x.s.wmu.Lock()
		l := x.s.link
		x.s.wmu.Unlock()
		if l != nil && !l.broken() {
			return l, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-x.s.done:
			return nil, x.s.endErr
		case <-t.C:
		}
	}
}

func (x *sending) await(ctx context.Context, l *link) (fileReply, error) {
	t := time.NewTicker(relinkPoll)
	defer t.Stop()
	for {
		select {
		case r := <-x.ch:
			return r, nil
		case <-ctx.Done():
			return fileReply{}, ctx.Err()
		case <-x.s.done:
			return fileReply{}, x.s.endErr
		case <-t.C:
			x.s.wmu.Lock()
			cur := x.s.link
			x.s.wmu.Unlock()
			if cur != l || l.broken() {
				return fileReply{}, errRelinked
			}
		}
	}
}

// awaitOwed holds the reader of l while the file replies owed are at
// maxCtlOwed, until a write takes them, and ends the conversation if none
// can for maxOwedWait: the peer makes this side owe answers and does not
// read them.
func (s *Session) awaitOwed(l *link) error {
	var timeout <-chan time.Time
	for {
		s.ctlMu.Lock()
		n, frames := len(s.ctlExtra), s.ctlFrames
		if n < maxCtlOwed && frames < maxCtlFramesOwed {
			s.ctlMu.Unlock()
			return nil
		}
		if !s.ctlArmed {
			s.ctlArmed = true
			s.ctlTimer.Reset(0)
		}
		s.ctlMu.Unlock()
		if timeout == nil {
			t := time.NewTimer(maxOwedWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-s.ctlDrained:
		case <-l.done:
			return nil // the connection broke: Next's read says why
		case <-s.done:
			return s.endErr
		case <-timeout:
			// Ended here, before Next's abort: the write stuck on the
			// peer fails as abort cuts it short, and would otherwise
			// end the conversation as a mere lost connection. The peer,
			// which reads nothing, is not told.
			pe := protocolErrorf("too many replies owed: %s sent %d file frames that need an answer (%d bytes of answers) and read none of them for %s", s.Peer().Name, frames, n, maxOwedWait)
			return s.end(pe)
		}
	}
}
