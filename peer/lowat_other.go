//go:build !linux

package peer

import "net"

func limitUnsent(net.Conn) {}
