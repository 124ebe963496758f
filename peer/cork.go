package peer

// This file holds corkConn, which gathers the TLS records of one large
// write into one system call.

import (
	"net"
	"sync"
)

// corkConn is the connection under TLS. Corked, it gathers what TLS
// writes, to send it with one system call when uncorked. crypto/tls hands
// the connection one record at a time, and a record holds 16 KiB at most:
// a 32 KiB file chunk cost two system calls, and on loopback each also
// wakes the reader once more.
type corkConn struct {
	net.Conn
	mu     sync.Mutex // serialises writes, so that uncork keeps the order TLS wrote in
	corked bool
	buf    []byte
}

// maxCork is the most a corked connection gathers before it writes.
const maxCork = 128 << 10

func (c *corkConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		return c.Conn.Write(b)
	}
	if len(c.buf)+len(b) > maxCork {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	c.buf = append(c.buf, b...)
	return len(b), nil
}

func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// uncork writes what was gathered, and reports the error Write would
// have.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	return c.flushLocked()
}

func (c *corkConn) flushLocked() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}

// maxRecord is the most data in one TLS record: a write of more is
// corked, to cost one system call.
const maxRecord = 16 << 10
