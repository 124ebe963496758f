package peer

// This file holds the dialer's side: Dial, one connection to a listener
// (the redialer, which a dialer's session reconnects with too), and
// SplitAddr.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Dial connects to the listener at addr ("host", "host:port", "[::1]:port";
// the port defaults to 7443), proves both identities, and exchanges hellos.
// It returns only once the listener has accepted us, so a refusal comes
// back as an error, never as a session that dies at the first read.
//
// With cfg.Reconnect the session outlives this connection: when it breaks
// without a goodbye, Session.Next redials addr until the conversation
// resumes (see Resumption in the package documentation). Dial itself
// tries once.
func Dial(ctx context.Context, addr string, cfg Config) (*Session, error) {
	if cfg.Identity == nil {
		return nil, errors.New("peer: Dial needs an Identity")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	hostport, host, err := SplitAddr(addr)
	if err != nil {
		return nil, err
	}
	// With a peer name to require, that name is the identity, checked
	// by vetPeer; the host names in a certificate do not prove it.
	// Without one, the listener's certificate must be valid for the host
	// we dialed.
	serverName := host
	if cfg.Peer != "" {
		serverName = ""
	}
	d := &redialer{hostport: hostport, serverName: serverName, cfg: cfg}
	s := newSession(cfg, cfg.Identity.Name, d, nil)
	s.conv = newConvID()
	l, info, theirs, ours, err := d.connect(ctx, s.dialerHello)
	if err == nil {
		_, err = s.attach(l, info, theirs, ours)
	}
	if err != nil {
		s.end(err)
		return nil, err
	}
	return s, nil
}

// A redialer is what a dialer's session needs to connect again.
type redialer struct {
	hostport, serverName string
	cfg                  Config
}

// connect opens one connection to the listener: TCP, the TLS handshake,
// and the hellos, ours computed by answer from the listener's. Every
// failure comes back explained.
func (d *redialer) connect(ctx context.Context, answer func(theirs hello, info PeerInfo) (hello, error)) (l *link, info PeerInfo, theirs, ours hello, err error) {
	cfg := d.cfg
	nd := net.Dialer{Timeout: cfg.HandshakeTimeout}
	raw, err := nd.DialContext(ctx, "tcp", d.hostport)
	if err != nil {
		return nil, info, theirs, ours, explainDialError(d.hostport, err)
	}
	limitUnsent(raw)
	raw.SetDeadline(time.Now().Add(cfg.HandshakeTimeout))
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Now()) })
	defer stop()

	cc := &corkConn{Conn: raw}
	conn := tls.Client(cc, cfg.Identity.clientConfig(d.serverName))
	fail := func(err error) (*link, PeerInfo, hello, hello, error) {
		raw.Close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, info, theirs, ours, err
	}
	if err := conn.HandshakeContext(ctx); err != nil {
		return fail(explainServerHandshake(err, d.hostport, d.serverName, cfg))
	}
	st := conn.ConnectionState()
	// Revocation, the peer name and pinning first, as the listener does.
	if reason, err := cfg.vetPeer(st.PeerCertificates[0], d.hostport); err != nil {
		conn.Write(appendErrorFrame(nil, codeRefused, reason)) // tell the listener why
		return fail(err)
	}
	if st.NegotiatedProtocol != ALPN {
		return fail(fmt.Errorf("%s is not a peerchat listener (it did not agree to ALPN %q); check the address and port", d.hostport, ALPN))
	}
	info = newPeerInfo(st, raw.RemoteAddr(), cfg.Identity)
	fr := newFrameReader(conn)
	theirs, err = readHello(fr)
	if err != nil {
		var pe *ProtocolError
		if errors.As(err, &pe) && !pe.Remote {
			conn.Write(appendErrorFrame(nil, codeProtocol, pe.Reason))
		}
		return fail(explainRefusal(err, d.hostport, info.Name, cfg))
	}
	info.HelloName, info.Software = theirs.Name, theirs.Software
	if ours, err = answer(theirs, info); err != nil {
		// Tell the listener why we leave, for its log.
		var pe *ProtocolError
		var te *TrustError
		var rf *trustRefusal
		switch {
		case errors.As(err, &rf):
			conn.Write(appendErrorFrame(nil, codeRefused, rf.reason))
			err = rf.err
		case errors.As(err, &pe):
			conn.Write(appendErrorFrame(nil, codeProtocol, pe.Reason))
		case errors.As(err, &te):
			conn.Write(appendErrorFrame(nil, codeRefused, te.Msg))
		case errors.Is(err, ErrBusy):
			conn.Write(appendErrorFrame(nil, codeBusy, err.Error()))
		}
		return fail(err)
	}
	if _, err := conn.Write(ours.append(nil)); err != nil {
		return fail(explainRefusal(err, d.hostport, info.Name, cfg))
	}
	raw.SetDeadline(time.Time{})
	return newLink(conn, cc, raw, fr), info, theirs, ours, nil
}

// SplitAddr adds the default port to addr when it has none and returns
// host:port and the host alone. A bare IPv6 address may come with or
// without brackets.
func SplitAddr(addr string) (hostport, host string, err error) {
	if addr == "" {
		return "", "", errors.New("no address to dial; give HOST or HOST:PORT, e.g. localhost:7443")
	}
	if h, p, err := net.SplitHostPort(addr); err == nil {
		if h == "" {
			h = "localhost"
		}
		if p == "" {
			p = DefaultPort
		}
		return net.JoinHostPort(h, p), h, nil
	}
	h := strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	if strings.ContainsAny(h, "[]") || (strings.Contains(h, ":") && net.ParseIP(h) == nil) {
		return "", "", fmt.Errorf("cannot understand address %q; use HOST, HOST:PORT or [IPv6]:PORT", addr)
	}
	return net.JoinHostPort(h, DefaultPort), h, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// netError is a network failure with a message that already explains it,
// still matchable with errors.Is/As against its cause.
type netError struct {
	msg string
	err error
}

func (e *netError) Error() string { return e.msg }
func (e *netError) Unwrap() error { return e.err }
