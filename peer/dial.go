package peer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"
)

// Dial connects to the listener at addr ("host", "host:port", "[::1]:port";
// the port defaults to 7443), proves both identities, and exchanges hellos.
// It returns only once the listener has accepted us, so a refusal comes
// back as an error, never as a session that dies at the first read.
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
	serverName := host
	if cfg.Peer != "" {
		serverName = cfg.Peer
	}
	d := net.Dialer{Timeout: cfg.HandshakeTimeout}
	raw, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return nil, explainDialError(hostport, err)
	}
	raw.SetDeadline(time.Now().Add(cfg.HandshakeTimeout))
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Now()) })
	defer stop()

	conn := tls.Client(raw, cfg.Identity.clientConfig(serverName))
	fail := func(err error) (*Session, error) {
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if err := conn.HandshakeContext(ctx); err != nil {
		return fail(explainServerHandshake(err, hostport, serverName, cfg))
	}
	st := conn.ConnectionState()
	// Revocation and pinning first, as the listener does.
	if reason, err := cfg.vetPeer(st.PeerCertificates[0], hostport); err != nil {
		conn.Write(appendErrorFrame(nil, codeRefused, reason)) // tell the listener why
		return fail(err)
	}
	if st.NegotiatedProtocol != ALPN {
		return fail(fmt.Errorf("%s is not a peerchat listener (it did not agree to ALPN %q); check the address and port", hostport, ALPN))
	}
	info := newPeerInfo(st, raw.RemoteAddr())
	fr := newFrameReader(conn)
	h, err := exchangeHellos(conn, fr, cfg, cfg.Identity.Name, false)
	if err != nil {
		var pe *ProtocolError
		if errors.As(err, &pe) && !pe.Remote {
			conn.Write(appendErrorFrame(nil, codeProtocol, pe.Reason))
		}
		return fail(explainRefusal(err, hostport, info.Name, cfg))
	}
	info.HelloName, info.Software = h.Name, h.Software
	raw.SetDeadline(time.Time{})
	return newSession(conn, fr, cfg, cfg.Identity.Name, info, nil), nil
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

func explainDialError(hostport string, err error) error {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return &netError{fmt.Sprintf("cannot reach %s: connection refused; is `peerchat listen` running there, on that port?", hostport), err}
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return &netError{fmt.Sprintf("cannot reach %s: no route to host; check the address, that the machine is up on this network, and any firewall that rejects the port", hostport), err}
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return &netError{fmt.Sprintf("cannot reach %s: no answer (timed out); check the address and any firewall in between", hostport), err}
	}
	return fmt.Errorf("cannot reach %s: %w", hostport, err)
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
