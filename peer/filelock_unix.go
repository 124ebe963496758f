//go:build unix

package peer

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on path, created 0600 if need be, and
// returns its release. flock(2) locks are dropped by the kernel when the
// process dies, so a crash never leaves a lock behind.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, &os.PathError{Op: "flock", Path: path, Err: err}
	}
	return func() { f.Close() }, nil // closing releases the lock
}
