package peer

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/zeebo/blake3"
)

// A file is written to a partial file in the download directory until it
// is verified, and renamed into place then. Partial files are peerchat's
// own and nobody else's: their name is hidden, holds a digest of the
// sender's certificate fingerprint, the name it offered and the size, and
// ends in a suffix no other program uses. So an attempt resumes only what
// an earlier attempt of this same file from this same sender left, and a
// file another program left ("notes.part" of a browser) is never opened,
// truncated, or has its size told to the peer.

// partialSuffix ends every partial file's name.
const partialSuffix = ".peerchat-partial"

// PartialName is the base name of the partial file a file of size bytes,
// offered as offered by the peer whose certificate has the fingerprint
// fp, is written to until verified: ".peerchat-" and 32 hex digits of
// BLAKE3(fp, 0, offered, 0, size as 8 bytes big-endian), then
// ".peerchat-partial".
func PartialName(fp, offered string, size int64) string {
	h := blake3.New()
	h.Write([]byte(fp))
	h.Write([]byte{0})
	h.Write([]byte(offered))
	h.Write([]byte{0})
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(size)))
	var sum [32]byte
	return ".peerchat-" + hex.EncodeToString(h.Sum(sum[:0])[:16]) + partialSuffix
}

// maxFreeMargin is the most space kept free on the download directory's
// disk: an offer that would leave less than 1% of the disk, or than this,
// is refused before any byte is written.
const maxFreeMargin = 64 << 20

// roomFor refuses a file of size bytes that the download directory's
// disk has no room for, counting what its partial file already holds and
// what the peer's other files on their way (accepted or asked about, id
// aside) still need: each alone may fit where together they do not.
// Where the free space cannot be learnt, the write that fills the disk
// says so instead. The caller holds inMu.
func (s *Session) roomFor(id uint64, name, offered string, size int64) error {
	if s.cfg.discardFiles {
		return nil
	}
	free, total, ok := diskFree(s.cfg.DownloadDir)
	if !ok || total == 0 { // a file system that does not say (/proc, some network ones)
		return nil
	}
	margin := min(total/100, maxFreeMargin)
	need := size - s.files.have(s.cfg.DownloadDir, s.fingerprint(), offered, size)
	var onWay int64 // no overflow: each of these was let in only when all of them fitted the disk
	for other, in := range s.files.in {
		if other != id && in.part != "" {
			onWay += in.size - in.n
		}
	}
	for other, a := range s.files.asked {
		if other != id {
			onWay += a.size
		}
	}
	if need <= 0 || uint64(need)+uint64(onWay)+margin <= free {
		return nil
	}
	if onWay > 0 {
		return fmt.Errorf("%s is %d bytes and the download directory's disk has %d bytes free, %d of them for the files already on their way (%d bytes are kept free); free some space there, or send it once those have arrived", name, size, free, onWay, margin)
	}
	return fmt.Errorf("%s is %d bytes and the download directory's disk has %d bytes free (%d bytes are kept free); free some space there", name, size, free, margin)
}

// maxPartialFiles bounds the unfinished files the download directory
// holds: they stay when a transfer stops, to resume from, so a peer that
// starts file after file and cancels each would otherwise leave hidden
// files without end. Past it a new file is refused, on both sides, until
// some are finished or deleted.
const maxPartialFiles = 64

// errTooManyPartials refuses a new file past maxPartialFiles.
var errTooManyPartials = fmt.Errorf("the download directory holds %d unfinished files already (hidden .peerchat-*%s files); finish those transfers, or delete the files there", maxPartialFiles, partialSuffix)

// partialsFull refuses a new partial file in dir when dir holds
// maxPartialFiles of them. A directory that cannot be listed refuses
// nothing here: creating the file says what is wrong.
func partialsFull(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer d.Close()
	n := 0
	for {
		names, err := d.Readdirnames(256)
		for _, name := range names {
			if strings.HasPrefix(name, ".peerchat-") && strings.HasSuffix(name, partialSuffix) {
				n++
			}
		}
		if n >= maxPartialFiles {
			return errTooManyPartials
		}
		if err != nil {
			return nil
		}
	}
}
