//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package peer

import (
	"net"
	"syscall"
)

// hasData reports whether bytes wait to be read on c, without reading
// them and without blocking: a silent connection that has just spoken is
// not evicted before its goroutine gets to read what it sent. Control,
// unlike a raw Read, does not wait for that goroutine's pending Read.
func hasData(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	n := 0
	var b [1]byte
	rc.Control(func(fd uintptr) {
		n, _, _ = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	})
	return n > 0
}
