package main

// The interactive chat: what runs when stdin and stdout are a terminal.
//
// One goroutine, the loop in chatTTY, owns the screen, the editor and the
// terminal's output; everything else reaches it through channels:
//
//   - the key reader reads the terminal and hands over raw chunks; it ends
//     when the terminal does, or at the next key after the chat ended (a
//     read from a terminal cannot be interrupted portably, and the process
//     exits right after the chat: nothing waits for it);
//   - the session reader owns s.Next and hands over events; it ends when
//     the session does, which the loop ensures on every path by closing it;
//   - the sender calls s.Send and s.Ping one at a time, so that a peer that
//     stops reading stalls only what we send, never the screen or the
//     keyboard; it ends when the loop closes its channel;
//   - each file being sent has a goroutine that runs SendFile and reports
//     its progress and its end to the loop (tui_files.go); it ends when
//     SendFile returns, which /cancel, the end of the chat or the end of
//     the session ensures, and the loop waits for its last word before
//     the chat ends;
//   - SIGWINCH arrives on a signal channel, stopped when the loop ends.
//
// The loop takes keys before anything else and draws incoming messages in
// batches, one write per batch, so that a peer flooding us cannot freeze
// the input line.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"peerchat/peer"
)

type ttyOptions struct {
	hideInput bool
	color     bool
	linger    time.Duration
	rec       *recorder
	// historyLines is how many lines of the history with this peer to
	// show on connect.
	historyLines int
}

// maxBatch bounds the messages drawn per write, and so how long a key
// waits behind a flood.
const maxBatch = 256

type outgoing struct {
	text string
	ping bool
}

type sendResult struct {
	out outgoing
	msg peer.Message
	err error
}

// reportedError is an error the chat screen already showed; run must not
// print it again.
type reportedError struct{ err error }

func (e *reportedError) Error() string { return e.err.Error() }
func (e *reportedError) Unwrap() error { return e.err }

// ttyChat is the state of the loop; only the loop goroutine touches it.
type ttyChat struct {
	s        *peer.Session
	raw      *rawTerminal // restored by every goroutine's guard on a panic
	sc       *screen
	out      io.Writer
	peerName string // sanitized
	rec      *recorder
	dec      keyDecoder
	keyBuf   []key

	queue    []outgoing // lines entered, waiting for the sender
	inflight bool       // the sender holds one
	unsent   []string   // lines the session ended before sending

	outFd         int           // for the terminal's size
	lingerDefault time.Duration // --linger
	leaving       bool          // we are leaving: deliver what is pending, then close
	linger        *time.Timer   // bounds that
	done          bool          // the loop ends after this turn
	endErr        error         // why the session ended, once it has
	refusals      *burstLog     // notices of offers refused by this side alone (tui_files.go)
	ended         bool          // endErr is set
	outErr        error         // the terminal could not be written

	xfers       transfers       // files on their way, both directions (tui_files.go)
	fileUpdates chan fileUpdate // from the goroutines sending files
	stop        chan struct{}   // closed when the loop is over
}

// chatTTY runs a conversation on the terminal in and out.
func chatTTY(ctx context.Context, s *peer.Session, in, out *os.File, u *ui, o ttyOptions) (err error) {
	raw, err := makeRaw(int(in.Fd()))
	if err != nil {
		// Not a terminal we can drive after all: chat line by line.
		return chat(ctx, s, in, u, o.linger, false, o.rec)
	}
	defer raw.restore()

	width, height := terminalSize(int(out.Fd()))
	c := &ttyChat{
		s:        s,
		raw:      raw,
		sc:       newScreen(s.Name(), s.Peer().Name, width, height, o.color, o.hideInput),
		out:      out,
		peerName: sanitize(s.Peer().Name),
		rec:      o.rec,

		outFd:         int(out.Fd()),
		lingerDefault: o.linger,
		fileUpdates:   make(chan fileUpdate),
		stop:          make(chan struct{}),
	}
	// Shown on the loop's goroutine; the summary, from a timer's,
	// through u like any notice from elsewhere.
	c.refusals = newRefusalLog(func(text string) { c.sc.notice(text, true) }, func(text string) { u.notice("%s", text) }, c.peerName)
	stop := c.stop
	defer c.stopSending() // files still being sent stop with the chat

	keys := make(chan []byte)
	keysEnded := make(chan error, 1)
	go func() {
		defer raw.guard()
		for {
			b := make([]byte, 4096)
			n, err := in.Read(b)
			if n > 0 {
				select {
				case keys <- b[:n]:
				case <-stop:
					return
				}
			}
			if err != nil {
				keysEnded <- err
				return
			}
		}
	}()

	events := make(chan peer.Event, maxBatch)
	ended := make(chan error, 1)
	go func() {
		defer raw.guard()
		for {
			ev, err := s.Next()
			if err != nil {
				ended <- err
				return
			}
			events <- arrived(ev, time.Now()) // the loop reads events until the session ends
		}
	}()

	// The loop hands the sender one line at a time and waits for its
	// result before the next, so the result never waits for room.
	sendq := make(chan outgoing)
	results := make(chan sendResult, 1)
	senderDone := make(chan struct{})
	go func() {
		defer close(senderDone)
		defer raw.guard()
		for o := range sendq {
			r := sendResult{out: o}
			if o.ping {
				r.err = s.Ping()
			} else {
				r.msg, r.err = s.Send(o.text)
			}
			results <- r
		}
	}()

	resized, stopResize := notifyResize()
	defer stopResize()

	// Notices from elsewhere in the program (the listener refusing a
	// second caller) join the conversation while the screen is up.
	notes := make(chan string)
	u.setSink(func(text string) bool {
		select {
		case notes <- text:
			return true
		case <-stop:
			return false
		}
	})
	defer u.setSink(nil)

	p := s.Peer()
	c.sc.notice(fmt.Sprintf("connected to %s (fingerprint %s) at %s; /help lists commands", c.peerName, shortFingerprint(p.Fingerprint), p.Addr), false)
	c.sc.notice(safetyLine(p, c.peerName), false)
	c.rec.start(func(text string) { c.sc.notice(text, true) })
	// Where the last conversation with this peer left off.
	c.showHistory(o.historyLines)
	c.flush()

	ctxDone := ctx.Done()
	for !c.done {
		// Keys first: whatever else is ready, typing is never starved.
		select {
		case b := <-keys:
			c.keys(b)
			c.flush()
			continue
		default:
		}
		var sendC chan outgoing
		var next outgoing
		if len(c.queue) > 0 && !c.inflight && !c.ended {
			sendC, next = sendq, c.queue[0]
		}
		var lingerC <-chan time.Time
		if c.linger != nil {
			lingerC = c.linger.C
		}
		select {
		case b := <-keys:
			c.keys(b)
		case <-keysEnded:
			// The terminal is gone (hung up): nobody is left to see a
			// delivery, so leave quickly.
			keys = nil
			c.quit(2 * time.Second)
		case ev := <-events:
			c.event(ev)
		batch:
			for range maxBatch - 1 {
				select {
				case ev := <-events:
					c.event(ev)
				default:
					break batch
				}
			}
		case err := <-ended: // events still buffered are shown below
			c.endErr, c.ended, c.done = err, true, true
		case sendC <- next:
			c.queue = c.queue[1:]
			c.inflight = true
		case r := <-results:
			c.inflight = false
			c.sent(r)
		case <-resized:
			c.sc.resize(terminalSize(c.outFd))
		case text := <-notes:
			c.sc.notice(text, false)
		case u := <-c.fileUpdates:
			c.fileUpdate(u)
		case <-ctxDone: // SIGINT or SIGTERM
			ctxDone = nil
			c.quit(2 * time.Second)
		case <-lingerC:
			c.sc.notice(fmt.Sprintf("%s did not acknowledge everything in time; leaving anyway", c.peerName), false)
			c.done = true
		}
		c.flush()
	}

	// Wind down: say goodbye, and show what arrives until the session
	// reader sees the end; then stop the helpers.
	if c.linger != nil {
		c.linger.Stop()
	}
	// When we close the session, how its reader saw the end does not
	// matter (the peer may hang up on our goodbye before Close returns).
	closedByUs := !c.ended
	// Files still being sent stop now, while the peer can still be told.
	c.stopSending()
	s.Close()
	for !c.ended {
		select {
		case ev := <-events:
			c.event(ev)
		case err := <-ended:
			c.endErr, c.ended = err, true
		case u := <-c.fileUpdates:
			c.fileUpdate(u)
		}
	}
	for len(events) > 0 { // the reader has ended: nothing adds to them
		c.event(<-events)
	}
	// The files being sent were stopped and the session is closed: their
	// goroutines end now, each with a last word.
	for c.sending() {
		c.fileUpdate(<-c.fileUpdates)
	}
	close(stop)
	close(sendq)
	<-senderDone
	select {
	case r := <-results:
		c.sent(r)
	default:
	}
	if closedByUs {
		c.endErr = peer.ErrClosed
	}
	c.abandonFiles()
	err = c.report()
	c.flush()
	c.sc.close(out)
	return err
}

func (c *ttyChat) flush() {
	// What is about to be shown is in the history first.
	c.rec.commit()
	if c.outErr != nil {
		return
	}
	if err := c.sc.flush(c.out); err != nil {
		c.outErr = err
		c.quit(2 * time.Second)
	}
}

// keys handles a chunk of what the terminal sent.
func (c *ttyChat) keys(b []byte) {
	c.keyBuf = c.dec.feed(b, c.keyBuf[:0])
	for _, k := range c.keyBuf {
		if c.leaving {
			// Only a second Ctrl-C (or Ctrl-D) means anything now: leave
			// without waiting.
			if k.code == keyInterrupt || k.code == keyEOF {
				c.done = true
			}
			continue
		}
		res, line := c.sc.ed.handle(k)
		c.sc.dirty = true
		switch res {
		case editSubmit:
			c.submit(line)
		case editEOF, editInterrupt:
			c.quit(0)
		case editFull:
			c.sc.notice(fmt.Sprintf("the line is full (%d KiB); what did not fit was dropped", maxDraft>>10), true)
		case editRedraw:
			c.sc.resize(terminalSize(c.outFd))
			c.sc.redraw()
		}
	}
}

// submit acts on a line entered: a command, or messages to send.
func (c *ttyChat) submit(line string) {
	switch {
	case line == "":
		return // an empty line sends nothing
	case strings.HasPrefix(line, "//"):
		line = line[1:]
	case strings.HasPrefix(line, "/"):
		c.command(line)
		return
	}
	for _, part := range splitMessage(line) {
		c.queue = append(c.queue, outgoing{text: part})
	}
}

func (c *ttyChat) command(line string) {
	name, _, _ := strings.Cut(line, " ")
	switch name {
	case "/help":
		for _, l := range helpLines {
			c.sc.notice(l, false)
		}
	case "/quit", "/exit":
		c.quit(0)
	case "/whois":
		for _, l := range whois(c.s.Peer()) {
			c.sc.notice(l, false)
		}
	case "/ping":
		c.queue = append(c.queue, outgoing{ping: true})
	case "/send":
		_, path, _ := strings.Cut(line, " ")
		c.sendFile(strings.TrimSpace(path))
	case "/accept":
		_, arg, _ := strings.Cut(line, " ")
		c.acceptFile(arg)
	case "/reject":
		_, arg, _ := strings.Cut(line, " ")
		c.rejectFile(arg)
	case "/cancel":
		_, arg, _ := strings.Cut(line, " ")
		c.cancelFile(arg)
	case "/history":
		n := defaultHistoryCommandLines
		if _, arg, ok := strings.Cut(line, " "); ok && strings.TrimSpace(arg) != "" {
			v, err := strconv.Atoi(strings.TrimSpace(arg))
			if err != nil || v < 1 {
				c.sc.notice(fmt.Sprintf("/history takes a number of lines, such as /history 50 (default %d)", defaultHistoryCommandLines), true)
				return
			}
			n = v
		}
		if !c.rec.on() {
			c.sc.notice("history is off", true)
			return
		}
		c.sc.notice(fmt.Sprintf("the last %d lines with %s:", n, c.peerName), false)
		c.showHistory(n)
	default:
		c.sc.notice(fmt.Sprintf("unknown command %s; /help lists the commands, and //%s sends %q as a message", name, line[1:], line), true)
	}
}

// defaultHistoryCommandLines is what /history shows without a number.
const defaultHistoryCommandLines = 20

// showHistory shows the last n lines of the history with this peer.
func (c *ttyChat) showHistory(n int) {
	if n <= 0 {
		return
	}
	for _, r := range c.rec.recent(n) {
		c.sc.past(historyParts(r))
	}
}

var helpLines = []string{
	"commands: /whois who the peer is (certificate, fingerprint, connection); /ping measure the round trip; /send PATH send a file; /accept [ID] or /reject [ID] answer a file offered; /cancel [ID] stop a file being sent or received; /history [N] the last N lines with this peer (default 20); /quit leave (also Ctrl-C, or Ctrl-D on an empty line); /help this",
	"a line starting with / is a command: type //text to send /text",
	"keys: ←/→ Ctrl-B/F move, Ctrl-←/→ Alt-B/F by word, Home/End Ctrl-A/E, Backspace Delete, Ctrl-U/K delete before/after the cursor, Ctrl-W the word before, ↑/↓ Ctrl-P/N your earlier lines, Ctrl-L redraw",
	"marks: " + markPending + " sent, " + markDelivered + " delivered to the peer",
}

// whois describes the peer from its verified certificate and the
// connection. Every field comes from the peer: notice sanitizes them.
func whois(p peer.PeerInfo) []string {
	lines := []string{}
	cert := p.Cert
	if cert != nil {
		var names []string
		names = append(names, cert.DNSNames...)
		for _, ip := range cert.IPAddresses {
			names = append(names, ip.String())
		}
		names = append(names, cert.EmailAddresses...)
		for _, u := range cert.URIs {
			names = append(names, u.String())
		}
		lines = append(lines,
			fmt.Sprintf("%s: certificate for %q, valid for %s", p.Name, cert.Subject.CommonName, strings.Join(names, ", ")),
			fmt.Sprintf("issued by %q, valid from %s until %s", issuerName(cert), cert.NotBefore.Local().Format(time.DateTime), cert.NotAfter.Local().Format(time.DateTime)),
		)
	}
	lines = append(lines,
		"fingerprint (SHA-256) "+p.Fingerprint,
		safetyLine(p, p.Name),
		fmt.Sprintf("at %s over %s, %s", p.Addr, tls.VersionName(p.TLS.Version), tls.CipherSuiteName(p.TLS.CipherSuite)),
	)
	if p.Software != "" {
		lines = append(lines, fmt.Sprintf("runs %q (its own word, not verified)", p.Software))
	}
	return lines
}

// safetyLine shows the safety code of this pair of certificates, which
// the peer's screen shows too.
func safetyLine(p peer.PeerInfo, peerName string) string {
	return fmt.Sprintf("safety code %s (%s sees the same; compare it by voice)", p.SafetyCode, peerName)
}

func issuerName(c *x509.Certificate) string {
	if c.Issuer.CommonName != "" {
		return c.Issuer.CommonName
	}
	return c.Issuer.String()
}

// event shows what the session reported. Events this version does not
// know (a later one may add some, such as reconnection) are shown as a
// notice if they describe themselves (String or Error), and otherwise
// ignored.
func (c *ttyChat) event(ev peer.Event) {
	switch ev := ev.(type) {
	case *incoming:
		// Recorded before shown: a kill -9 cannot lose a line that is
		// on the screen.
		c.rec.received(ev)
		c.sc.message(ev)
	case peer.Delivered:
		c.rec.event(ev)
		c.sc.delivered(ev.UpTo)
		c.checkLeft()
	case peer.Pong:
		c.sc.notice(fmt.Sprintf("round trip to %s: %s", c.peerName, roundDuration(ev.RTT)), false)
	case peer.Disconnected, peer.Reconnecting, peer.Reconnected:
		c.rec.event(ev)
		text, _ := connectionNotice(ev, c.peerName)
		_, lost := ev.(peer.Disconnected)
		c.sc.notice(text, lost)
		if r, ok := ev.(peer.Reconnected); ok && r.PeerRestarted {
			c.peerRestarted()
		}
	case peer.FileOffer, peer.FileOffered, peer.FileProgress, peer.FileReceived, peer.FileFailed:
		c.fileEvent(ev)
	case fmt.Stringer:
		c.sc.notice(ev.String(), false)
	case error:
		c.sc.notice(ev.Error(), true)
	}
}

// sent shows what the sender did.
func (c *ttyChat) sent(r sendResult) {
	switch {
	case r.err == nil && !r.out.ping:
		c.rec.sent(r.msg)
		c.sc.own(r.msg)
	case errors.Is(r.err, peer.ErrQueueFull) && !r.out.ping:
		// Nothing was lost: the line goes back on the input line, unless
		// the user has started another, and can be sent again later.
		c.sc.notice(sanitize(r.err.Error()), true)
		if c.sc.ed.empty() {
			c.sc.ed.set(r.out.text)
			c.sc.redraw()
		} else {
			c.sc.notice("not sent: "+sanitize(r.out.text), true)
		}
	case r.err != nil && !r.out.ping && r.msg.ID == 0:
		// The session had ended: the line never left. (One that may have
		// left is in s.Pending, and reported from there.)
		c.unsent = append(c.unsent, r.out.text)
	}
	c.checkLeft()
}

// quit starts leaving: what was entered is still sent, and the chat waits
// up to linger for the peer to acknowledge it. Asked twice, it leaves at
// once.
func (c *ttyChat) quit(linger time.Duration) {
	if c.leaving {
		c.done = true
		return
	}
	c.leaving = true
	if linger == 0 {
		linger = c.lingerDefault
	}
	c.linger = time.NewTimer(linger)
	c.checkLeft()
	if !c.done {
		c.sc.notice(fmt.Sprintf("waiting up to %s for %s to acknowledge what you sent; Ctrl-C leaves now", linger, c.peerName), false)
	}
}

// checkLeft ends the loop once we are leaving and everything is delivered.
func (c *ttyChat) checkLeft() {
	if c.leaving && len(c.queue) == 0 && !c.inflight && len(c.s.Pending()) == 0 {
		c.done = true
	}
}

// report shows how the chat ended and returns the error to exit with.
func (c *ttyChat) report() error {
	pending := c.s.Pending()
	for _, m := range pending {
		c.sc.notice(fmt.Sprintf("not delivered to %s: [%s] %s", c.peerName, m.Time.Local().Format(transcriptTime), sanitize(m.Text)), true)
	}
	unsent := append(c.unsent, c.texts()...)
	for _, text := range unsent {
		c.sc.notice(fmt.Sprintf("not sent to %s: %s", c.peerName, sanitize(text)), true)
	}
	n := len(pending) + len(unsent)
	err := c.endErr
	switch {
	case errors.Is(err, io.EOF):
		c.sc.notice(c.peerName+" left the chat", false)
	case errors.Is(err, peer.ErrClosed):
		// We left.
	default:
		err = networkOrTrust(err)
		c.sc.notice(sanitize(strings.TrimSpace(err.Error())), true)
		return &reportedError{err}
	}
	if n > 0 {
		c.sc.notice(fmt.Sprintf("%d message(s) not delivered to %s", n, c.peerName), true)
		return errUndelivered
	}
	return nil
}

// texts are the lines still queued.
func (c *ttyChat) texts() []string {
	var out []string
	for _, o := range c.queue {
		if !o.ping {
			out = append(out, o.text)
		}
	}
	return out
}
