package peer

import (
	"net"
	"syscall"
)

// tcpNotSentLowat is Linux's TCP_NOTSENT_LOWAT (include/uapi/linux/tcp.h),
// which package syscall does not name on every architecture.
const tcpNotSentLowat = 25

// notSentLowat caps how many bytes wait unsent in the socket's buffer.
const notSentLowat = 128 << 10

// limitUnsent keeps the kernel from queueing megabytes of file chunks
// ahead of a chat message: a write waits until what is unsent drops
// below notSentLowat, so a message written between two chunks leaves
// behind that much at most instead of a whole send buffer.
func limitUnsent(c net.Conn) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpNotSentLowat, notSentLowat)
	})
}
