package peer

// tcpNotSentLowat is TCP_NOTSENT_LOWAT (include/uapi/linux/tcp.h), which
// package syscall does not name on every architecture.
const tcpNotSentLowat = 25
