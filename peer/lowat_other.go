//go:build !linux && !darwin

package peer

import "net"

// limitUnsent does nothing where TCP_NOTSENT_LOWAT is unknown: a message
// may then wait behind a socket buffer of file data.
func limitUnsent(net.Conn) {}
