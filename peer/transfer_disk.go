package peer

// This file holds the receiver's disk: where a file's partial file is,
// opening, creating and writing it, moving a verified file into place
// without replacing another, and the words for what fails there.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/zeebo/blake3"
)

// The receiver's disk errors travel to the sender as the reason of a
// refusal or a cancel, and are shown on both sides: they name the file
// by the name it is saved under, never the partial file's hidden name nor
// the receiver's directories (the sender has no use for, and no business
// with, them), say what failed once rather than as an error chain that
// repeats the path, and say what to do next.

// partCreateError says that the partial file of name could not be opened
// or prepared.
func partCreateError(name string, err error) error {
	return fmt.Errorf("cannot create the partial file of %s in the download directory (%w)", name, pathErrCause(err))
}

// partWriteError says that writing the partial file of name failed. That
// it keeps what arrived, and that sending again resumes, each side says
// in its own words.
func partWriteError(name string, err error) error {
	cause := pathErrCause(err)
	if errors.Is(cause, syscall.ENOSPC) {
		return fmt.Errorf("the download directory's disk is full (%w writing %s); free some space there", cause, name)
	}
	return fmt.Errorf("cannot write %s in the download directory (%w)", name, cause)
}

// pathErrCause is the system's error inside a *fs.PathError, whose text
// would repeat the receiver's full path.
func pathErrCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
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
