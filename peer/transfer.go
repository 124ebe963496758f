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
//
// This file holds what both sides share: a session's transfer state and
// the dispatch of the file frames as they arrive. The sender is in
// transfer_send.go, the receiver in transfer_recv.go, its disk work in
// transfer_disk.go, the frames in wire.go.

import (
	"encoding/binary"
	"sync"
)

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

// fileReply is a receiver's answer, handed to the sender of its file.
type fileReply struct {
	t      frameType
	offset int64
	ok     bool
	reason string
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
