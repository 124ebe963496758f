//go:build linux || darwin

package peer

import (
	"net"
	"syscall"
)

// notSentLowat caps how many bytes wait unsent in the socket's buffer.
// 128 KiB cost about 5% of loopback file throughput (more wake-ups of the
// sender); 256 KiB cost nothing measurable and keeps a message's wait
// on a 20 MB/s path near 25 ms.
const notSentLowat = 256 << 10

// limitUnsent keeps the kernel from queueing megabytes of file chunks
// ahead of a chat message: with TCP_NOTSENT_LOWAT a write waits until
// what is unsent drops below notSentLowat, so a message written between
// two chunks waits behind that much at most instead of a whole send
// buffer (on a 20 MB/s path, a round trip of 23 ms at the median instead
// of 250–280 ms; see BenchmarkMessageDuringTransfer). Where the option is refused the
// connection works as before.
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
