package peer

// tcpNotSentLowat is TCP_NOTSENT_LOWAT (netinet/tcp.h).
const tcpNotSentLowat = 0x201
