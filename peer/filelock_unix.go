//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package peer

import (
	"os"
	"syscall"
)

// LockFile takes an exclusive lock on path, created 0600 if need be,
// waiting for any other process holding it, and returns its release. It
// orders the writers of the small state files peerchat keeps in the user's
// config directory: the revocation list numbers here (crlnumbers.go) and
// the CLI's contacts beside them. flock(2) locks are dropped by the kernel when the
// process dies, so a crash never leaves a lock behind.
func LockFile(path string) (unlock func(), err error) {
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
