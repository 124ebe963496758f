//go:build unix

package peer

import (
	"os"
	"syscall"
)

// openPartial opens an existing partial file, never through a symbolic
// link planted at its name.
func openPartial(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|syscall.O_NOFOLLOW, 0)
}

// createPartial creates a new partial file, failing if anything, a
// symbolic link included, appeared at its name meanwhile.
func createPartial(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
}
