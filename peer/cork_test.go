package peer

import (
	"bytes"
	"errors"
	"net"
	"testing"
)

// writesConn records each Write it is given; it fails them with err.
type writesConn struct {
	net.Conn
	writes [][]byte
	err    error
}

func (c *writesConn) Write(b []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	c.writes = append(c.writes, bytes.Clone(b))
	return len(b), nil
}

func TestCorkConn(t *testing.T) {
	w := &writesConn{}
	c := &corkConn{Conn: w}
	c.Write([]byte("a"))
	if len(w.writes) != 1 {
		t.Fatalf("uncorked: %d writes, want 1", len(w.writes))
	}
	c.cork()
	c.Write([]byte("bc"))
	c.Write([]byte("d"))
	if len(w.writes) != 1 {
		t.Fatalf("corked: %d writes reached the connection", len(w.writes)-1)
	}
	if err := c.uncork(); err != nil {
		t.Fatal(err)
	}
	if len(w.writes) != 2 || string(w.writes[1]) != "bcd" {
		t.Fatalf("uncork wrote %q, want one write of \"bcd\"", w.writes[1:])
	}
	if err := c.uncork(); err != nil || len(w.writes) != 2 {
		t.Fatalf("uncork with nothing gathered: %v, %d writes", err, len(w.writes))
	}

	// Past maxCork what is gathered goes first, in order.
	c.cork()
	big := bytes.Repeat([]byte{'x'}, maxCork-1)
	c.Write(big)
	c.Write([]byte("yz"))
	c.uncork()
	if got := bytes.Join(w.writes[2:], nil); len(w.writes) != 4 || !bytes.Equal(got, append(big, "yz"...)) {
		t.Fatalf("over maxCork: %d writes of %d bytes in all", len(w.writes)-2, len(got))
	}

	// A failed write is reported by uncork, as Write would have.
	w.err = errors.New("broken")
	c.cork()
	if n, err := c.Write([]byte("lost")); n != 4 || err != nil {
		t.Fatalf("corked Write: %d, %v", n, err)
	}
	if err := c.uncork(); err != w.err {
		t.Fatalf("uncork on a broken connection: %v", err)
	}
}
