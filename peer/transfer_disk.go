package peer

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
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
