package peer

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"
)

// The receiver's disk errors travel to the sender as the reason of a
// refusal or a cancel, and are shown on both sides: they name the .part
// by its base name (the sender has no use for, and no business with, the
// receiver's directories), say what failed once rather than as an error
// chain that repeats the path, and say what to do next.

// partCreateError says that part could not be opened or prepared.
func partCreateError(part string, err error) error {
	return fmt.Errorf("cannot create %s in the download directory (%w)", filepath.Base(part), pathErrCause(err))
}

// partWriteError says that writing to part failed. That the .part keeps
// what arrived, and that sending again resumes, each side says in its own
// words.
func partWriteError(part string, err error) error {
	cause := pathErrCause(err)
	if errors.Is(cause, syscall.ENOSPC) {
		return fmt.Errorf("the download directory's disk is full (%w writing %s); free some space there", cause, filepath.Base(part))
	}
	return fmt.Errorf("cannot write %s in the download directory (%w)", filepath.Base(part), cause)
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
