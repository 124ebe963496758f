package peer

// This file holds the listener's side: Listen, the accept loop, the
// handshake of each connection, and handing a returning peer's connection
// to the conversation it resumes.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"
)

// maxPendingHandshakes bounds the connections a listener handshakes at
// once, so a flood of connections costs a bounded number of goroutines and
// buffers; admit.go says who gets the slots.
const maxPendingHandshakes = 64

// A Listener accepts one peer at a time. While a conversation is on, every
// other authenticated client is told the listener is busy and closed; the
// chat is not disturbed. The conversation's own certificate may connect
// again: the new connection resumes the conversation, replacing the old
// one (see Resumption in the package documentation), and is not returned
// by Accept.
type Listener struct {
	ln   net.Listener
	cfg  Config
	self string

	sessions chan *Session
	gate     *gate
	ctx      context.Context // cancelled by Close, ends handshakes under way
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu      sync.Mutex
	conv    *Session // the conversation that holds the listener, connected or waiting
	claimed bool     // a new conversation's hellos are under way
}

// Listen listens on addr (host:port; ":7443" for every address) for a peer.
func Listen(addr string, cfg Config) (*Listener, error) {
	if cfg.Identity == nil {
		return nil, errors.New("peer: Listen needs an Identity")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, &netError{fmt.Sprintf("cannot listen on %s: the address is in use (another peerchat?); pick another with --addr, e.g. --addr :7444", addr), err}
	}
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Listener{
		ln:       ln,
		cfg:      cfg.withDefaults(),
		self:     cfg.Identity.Name,
		sessions: make(chan *Session, 1),
		gate:     newGate(maxPendingHandshakes, maxHandshakesPerIP),
		ctx:      ctx,
		cancel:   cancel,
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l, nil
}

// Addr is the address the listener actually listens on.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Accept waits for a peer to connect and prove its identity, and returns
// the new conversation. Call it again after a conversation ended to wait
// for the next peer.
func (l *Listener) Accept(ctx context.Context) (*Session, error) {
	select {
	case s := <-l.sessions:
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-l.ctx.Done():
		return nil, net.ErrClosed
	}
}

// Close stops listening and waits for handshakes under way to end. A
// session already accepted goes on, but can no longer resume: if its
// connection breaks, or has broken, the conversation ends. One not yet
// accepted is closed.
func (l *Listener) Close() error {
	l.cancel()
	err := l.ln.Close()
	l.wg.Wait()
	select {
	case s := <-l.sessions:
		s.Close()
	default:
	}
	return err
}

func (l *Listener) acceptLoop() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if l.ctx.Err() != nil {
				return
			}
			// Out of file descriptors and the like: wait a moment rather
			// than spin, then go on serving the chat.
			select {
			case <-time.After(10 * time.Millisecond):
				continue
			case <-l.ctx.Done():
				return
			}
		}
		limitUnsent(c)
		t := l.gate.admit(c)
		if t == nil {
			c.Close()
			l.reject(c.RemoteAddr(), fmt.Errorf("too many handshakes under way (%d); connection closed", maxPendingHandshakes))
			continue
		}
		l.wg.Add(1)
		go l.handshake(c, t)
	}
}

func (l *Listener) reject(addr net.Addr, err error) {
	if l.cfg.OnReject != nil {
		l.cfg.OnReject(addr, err)
	}
}

// handshake runs the TLS handshake and the hello exchange with one
// connection, within the handshake timeout, and hands the session to Accept.
func (l *Listener) handshake(raw net.Conn, t *ticket) {
	defer l.wg.Done()
	defer l.gate.leave(t)
	addr := raw.RemoteAddr()
	deadline := time.Now().Add(l.cfg.HandshakeTimeout)
	raw.SetDeadline(deadline)
	c, err := l.awaitClientHello(raw, t, deadline)
	if err != nil {
		raw.Close()
		l.reject(addr, err)
		return
	}
	cc := &corkConn{Conn: c}
	conn := tls.Server(cc, l.cfg.Identity.serverConfig())
	if err := conn.HandshakeContext(l.ctx); err != nil {
		conn.Close()
		l.reject(addr, l.handshakeFailed(err, t))
		return
	}
	st := conn.ConnectionState()
	// Revocation, the peer name and pinning come before everything
	// else: a revoked certificate is the news, whatever else the client
	// got wrong.
	if reason, err := l.cfg.vetPeer(st.PeerCertificates[0], ""); err != nil {
		conn.Write(appendErrorFrame(nil, codeRefused, reason))
		conn.Close()
		l.reject(addr, err)
		return
	}
	if st.NegotiatedProtocol != ALPN {
		conn.Close()
		l.reject(addr, fmt.Errorf("not a peerchat client (it did not ask for ALPN %q)", ALPN))
		return
	}
	info := newPeerInfo(st, addr, l.cfg.Identity)
	refuse := func(code errorCode, reason string, err error) {
		conn.Write(appendErrorFrame(nil, code, reason))
		conn.Close()
		l.reject(addr, err)
	}
	mode, held := l.claim(info.Fingerprint)
	if mode == modeBusy && held != nil {
		if was := held.Peer(); was.Name == info.Name && was.Fingerprint != info.Fingerprint {
			// The same name with another certificate: a re-issued
			// certificate, or someone else's. It never takes over a
			// conversation begun with the other one.
			refuse(codeRefused,
				fmt.Sprintf("%s keeps a conversation that began with another certificate of %s (fingerprint %s), and yours is %s: a conversation resumes only with the certificate it began with; dial again once it has ended", l.self, info.Name, was.Fingerprint, info.Fingerprint),
				&TrustError{Reason: ReasonCertificateChanged, PeerName: info.Name, Fingerprint: info.Fingerprint, Want: []string{was.Fingerprint},
					Msg:  fmt.Sprintf("%s came back with another certificate (fingerprint %s) than the one this conversation began with (%s); it cannot resume the conversation", info.Name, info.Fingerprint, was.Fingerprint),
					Hint: "if " + info.Name + " re-issued its certificate, compare the new fingerprint with " + info.Name + " by voice; a new conversation can start once this one has ended"})
			return
		}
	}
	if mode == modeBusy {
		refuse(codeBusy, fmt.Sprintf("%s is busy in another chat; try again later", l.self),
			fmt.Errorf("refused %s: %w", info.Name, ErrBusy))
		return
	}
	ours := hello{Version: ProtocolVersion, Name: l.self, Software: l.cfg.Software, Resume: &resumeInfo{First: 1, Flags: flagFiles}}
	if mode == modeResume {
		ours.Resume = held.resumeBlock()
	}
	fr := newFrameReader(conn)
	theirs, err := listenerHellos(conn, fr, ours)
	if err != nil {
		if mode == modeNew {
			l.unclaim(nil)
		}
		var pe *ProtocolError
		if errors.As(err, &pe) && !pe.Remote {
			conn.Write(appendErrorFrame(nil, codeProtocol, pe.Reason))
		}
		conn.Close()
		var te *TrustError
		if errors.As(err, &te) && te.Reason == ReasonRefusedByPeer {
			err = &TrustError{Reason: ReasonRefusedByPeer, Msg: fmt.Sprintf("%s refused us: %s", info.Name, te.Msg), Err: err}
		} else {
			err = fmt.Errorf("%s: %w", info.Name, err)
		}
		l.reject(addr, err)
		return
	}
	info.HelloName, info.Software = theirs.Name, theirs.Software
	l.gate.leave(t) // a session holds no slot, and is never evicted
	raw.SetDeadline(time.Time{})
	lk := newLink(conn, cc, raw, fr)
	if mode == modeResume {
		l.resume(held, &offer{link: lk, info: info, theirs: theirs, ours: ours})
		return
	}
	s := newSession(l.cfg, l.self, nil, l)
	l.unclaim(s)
	if _, err := s.attach(lk, info, theirs, ours); err != nil {
		l.reject(addr, fmt.Errorf("%s: %w", info.Name, err))
		return
	}
	select {
	case l.sessions <- s:
	case <-l.ctx.Done():
		s.Close()
	}
}

const (
	modeBusy   = iota // refuse the client
	modeNew           // start a new conversation
	modeResume        // the client's certificate holds the conversation
)

// claim decides what a client with certificate fingerprint fp may do: a
// new conversation if none holds the listener (claiming it meanwhile), a
// resumption if the conversation is this certificate's, else nothing;
// held is the conversation that holds the listener, if any.
func (l *Listener) claim(fp string) (mode int, held *Session) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.ctx.Err() != nil:
		return modeBusy, nil
	case l.conv != nil && l.conv.fingerprint() == fp:
		return modeResume, l.conv
	case l.conv != nil || l.claimed:
		return modeBusy, l.conv
	}
	l.claimed = true
	return modeNew, nil
}

// unclaim ends a claim, with the new conversation s or none.
func (l *Listener) unclaim(s *Session) {
	l.mu.Lock()
	l.claimed = false
	if s != nil {
		l.conv = s
	}
	l.mu.Unlock()
}

// release frees the listener when the conversation s ends.
func (l *Listener) release(s *Session) {
	l.mu.Lock()
	if l.conv == s {
		l.conv = nil
	}
	l.mu.Unlock()
}

// resume hands a connection from the certificate of the held conversation
// to that conversation.
func (l *Listener) resume(held *Session, o *offer) {
	addr := o.info.Addr
	switch {
	case o.theirs.Resume == nil:
		o.link.fail(ErrBusy)
		l.reject(addr, fmt.Errorf("refused %s: its peerchat cannot resume the conversation it left: %w", o.info.Name, ErrBusy))
	case o.theirs.Resume.Conv != o.ours.Resume.Conv && o.ours.Resume.Flags&flagConnected != 0:
		// The dialer saw the flag too and left, busy.
		o.link.fail(ErrBusy)
		l.reject(addr, fmt.Errorf("refused %s: already in this chat from another session: %w", o.info.Name, ErrBusy))
	case !held.offer(o):
		o.link.fail(ErrClosed)
		l.reject(addr, fmt.Errorf("%s came back after the conversation ended; it will connect again", o.info.Name))
	}
}

// listenerHellos sends the listener's hello and reads the dialer's; the
// listener speaks first (see the package documentation for why).
func listenerHellos(conn *tls.Conn, fr *frameReader, ours hello) (hello, error) {
	if _, err := conn.Write(ours.append(nil)); err != nil {
		return hello{}, err
	}
	return readHello(fr)
}

// readHello reads the peer's hello, or the error frame that refuses us.
func readHello(fr *frameReader) (hello, error) {
	t, p, err := fr.next()
	if err != nil {
		return hello{}, err
	}
	var h hello
	switch t {
	case frameHello:
		if h, err = parseHello(p); err != nil {
			return h, err
		}
	case frameError:
		re, err := parseError(p)
		if err != nil {
			return h, err
		}
		return h, re.asError()
	default:
		return h, protocolErrorf("expected hello, got a %s frame", t)
	}
	if h.Version != ProtocolVersion {
		return h, protocolErrorf("peer speaks protocol version %d, this peerchat speaks %d; use the same peerchat version on both sides", h.Version, ProtocolVersion)
	}
	return h, nil
}
