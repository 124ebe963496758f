//go:build !unix

package peer

import (
	"errors"
	"os"
)

// openPartial opens an existing partial file, refusing a symbolic link
// at its name: without O_NOFOLLOW, the file opened is checked to be the
// regular file the name held before and after the open.
func openPartial(path string) (*os.File, error) {
	before, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !before.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	after, err := f.Stat()
	if err != nil || !os.SameFile(before, after) {
		f.Close()
		return nil, errors.New("the file changed while it was opened")
	}
	return f, nil
}

// createPartial creates a new partial file, failing if anything, a
// symbolic link included, appeared at its name meanwhile.
func createPartial(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
}
