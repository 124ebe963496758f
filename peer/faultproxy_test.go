package peer_test

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// A faultProxy sits on loopback between a dialer and a listener and
// breaks the link on command, the ways real networks break it:
//
//   - Cut resets both TCP connections of every open link (RST to each
//     peer), as a NAT or a rebooted router does.
//   - Stall forwards nothing more, in either direction, on the open links
//     and on new ones, and tells nobody (no FIN, no RST): a black hole, as
//     when the other machine vanishes or the Wi-Fi drops. Bytes already
//     read are held and delivered on Resume, as TCP retransmission would
//     deliver them. StallOpen does the same to the open links only.
//   - Resume forwards again.
//   - Refuse(true) resets new connections as soon as they arrive, as a
//     host whose peerchat is not running would.
//
// Its methods may be called from any goroutine; Close (run by t.Cleanup)
// waits for every goroutine it started.
type faultProxy struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	links    map[*proxyLink]struct{}
	gate     chan struct{}   // for new links: closed means forward
	stalls   []chan struct{} // gates to open on Resume
	refuse   bool
	accepted int
	sig      *signal // poked on each accepted connection, if set
	closed   bool
	wg       sync.WaitGroup
}

// A proxyLink is one proxied connection: the dialer's side and the
// listener's side.
type proxyLink struct {
	client, server *net.TCPConn
	gate           chan struct{} // guarded by faultProxy.mu
	done           chan struct{} // closed when the link is torn down
	once           sync.Once
	halves         sync.WaitGroup // the two pumps
}

func newFaultProxy(t testing.TB, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	open := make(chan struct{})
	close(open)
	p := &faultProxy{ln: ln, target: target, links: make(map[*proxyLink]struct{}), gate: open}
	p.wg.Add(1)
	go p.acceptLoop()
	t.Cleanup(p.Close)
	return p
}

// Addr is where the dialer should dial.
func (p *faultProxy) Addr() string { return p.ln.Addr().String() }

// Accepted counts the connections the proxy has forwarded so far.
func (p *faultProxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Notify makes the proxy poke sig on each connection it forwards.
func (p *faultProxy) Notify(sig *signal) {
	p.mu.Lock()
	p.sig = sig
	p.mu.Unlock()
}

// Cut resets every open link and returns how many there were.
func (p *faultProxy) Cut() int {
	p.mu.Lock()
	links := make([]*proxyLink, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.reset()
	}
	return len(links)
}

// Stall black-holes the open links and every new one until Resume.
func (p *faultProxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := p.stallLocked()
	p.gate = g
}

// StallOpen black-holes the links open now, until Resume; new links
// forward.
func (p *faultProxy) StallOpen() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stallLocked()
}

func (p *faultProxy) stallLocked() chan struct{} {
	g := make(chan struct{})
	p.stalls = append(p.stalls, g)
	for l := range p.links {
		l.gate = g
	}
	return g
}

// Resume forwards again everything stalled, held bytes first.
func (p *faultProxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.resumeLocked()
}

func (p *faultProxy) resumeLocked() {
	for _, g := range p.stalls {
		close(g)
	}
	p.stalls = nil
	open := make(chan struct{})
	close(open)
	p.gate = open
	for l := range p.links {
		l.gate = open
	}
}

// Refuse makes the proxy reset new connections at once (on) or forward
// them again (off).
func (p *faultProxy) Refuse(on bool) {
	p.mu.Lock()
	p.refuse = on
	p.mu.Unlock()
}

// Close stops the proxy, resets its links and waits for its goroutines.
func (p *faultProxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.resumeLocked()
	p.mu.Unlock()
	p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

func (p *faultProxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		client := c.(*net.TCPConn)
		p.mu.Lock()
		refuse := p.refuse || p.closed
		p.mu.Unlock()
		if refuse {
			resetConn(client)
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			resetConn(client)
			continue
		}
		l := &proxyLink{client: client, server: s.(*net.TCPConn), done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			l.reset()
			continue
		}
		p.accepted++
		l.gate = p.gate
		p.links[l] = struct{}{}
		sig := p.sig
		p.mu.Unlock()
		if sig != nil {
			sig.poke()
		}
		l.halves.Add(2)
		p.wg.Add(3)
		go p.pump(l, l.server, l.client)
		go p.pump(l, l.client, l.server)
		go func() {
			defer p.wg.Done()
			l.halves.Wait()
			l.reset()
			p.mu.Lock()
			delete(p.links, l)
			p.mu.Unlock()
		}()
	}
}

// pump copies src to dst, waiting at the link's gate before each write. A
// clean end of src is passed on as a FIN; anything else tears the link
// down.
func (p *faultProxy) pump(l *proxyLink, dst, src *net.TCPConn) {
	defer p.wg.Done()
	defer l.halves.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			g := l.gate
			p.mu.Unlock()
			select {
			case <-g:
			case <-l.done:
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				l.reset()
				return
			}
		}
		if errors.Is(err, io.EOF) {
			dst.CloseWrite()
			return
		}
		if err != nil {
			l.reset()
			return
		}
	}
}

// reset tears the link down with an RST to both peers.
func (l *proxyLink) reset() {
	l.once.Do(func() {
		close(l.done)
		resetConn(l.client)
		resetConn(l.server)
	})
}

func resetConn(c *net.TCPConn) {
	c.SetLinger(0) // close with RST, not FIN
	c.Close()
}
