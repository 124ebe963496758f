package main

// Files on the chat screen: offers to answer, transfers in both
// directions, and their progress in the screen's status region.
//
// Incoming and outgoing transfers share one numbering on this screen (#1,
// #2…), so that /accept, /reject and /cancel name a transfer without
// saying its direction; the peer's own ids never reach the user. Every
// transfer belongs to the loop goroutine: an outgoing one runs SendFile on
// a goroutine of its own, which owns the transfer's meter and hands the
// loop only what is to be shown (fileUpdate), at most four times a second;
// it ends when SendFile returns, which /cancel, the end of the chat (the
// transfer's context) or the end of the session ensures.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"peerchat/peer"
)

// What the receiving side tells the sender when the user says no.
const (
	rejectReason = "declined on the chat screen"
	cancelReason = "cancelled on the chat screen"
)

// transfer is one file on its way, in either direction.
type transfer struct {
	id     int    // this screen's number
	out    bool   // we send it
	peerID uint64 // incoming: the sender's id
	name   string // sanitized
	size   int64

	offer bool  // incoming, waiting for /accept or /reject
	have  int64 // offer: what an earlier try left in its partial file

	m    *meter // incoming, once accepted; an outgoing one's is its goroutine's
	line string // the status line after the arrow and number

	cancel   context.CancelFunc // outgoing
	stopping bool               // outgoing: /cancel asked, SendFile not yet back
}

// transfers are the screen's files, by its numbers and by the sender's
// ids of the incoming ones.
type transfers struct {
	last int
	byID map[int]*transfer
	in   map[uint64]*transfer
}

func (ts *transfers) add(t *transfer) *transfer {
	if ts.byID == nil {
		ts.byID, ts.in = make(map[int]*transfer), make(map[uint64]*transfer)
	}
	ts.last++
	t.id = ts.last
	ts.byID[t.id] = t
	if !t.out {
		ts.in[t.peerID] = t
	}
	return t
}

func (ts *transfers) remove(t *transfer) {
	delete(ts.byID, t.id)
	if !t.out && ts.in[t.peerID] == t {
		delete(ts.in, t.peerID)
	}
}

// sorted is every transfer, oldest first.
func (ts *transfers) sorted() []*transfer {
	all := make([]*transfer, 0, len(ts.byID))
	for _, t := range ts.byID {
		all = append(all, t)
	}
	slices.SortFunc(all, func(a, b *transfer) int { return a.id - b.id })
	return all
}

// fileUpdate is what an outgoing transfer's goroutine has to show.
type fileUpdate struct {
	id     int
	line   string // the new status line, if not empty
	notice string // a resumption, if not empty
	// The end: SendFile's error, whether /cancel (or leaving) stopped it,
	// and the figures of a file delivered.
	end       bool
	err       error
	cancelled bool
	summary   string
	saved     string // "; alice saved it as NAME", when the name changed
}

// showStatus puts the transfers in progress in the status region.
func (c *ttyChat) showStatus() {
	var lines []string
	for _, t := range c.xfers.sorted() {
		if t.offer {
			continue // the offer's notice asks; nothing moves yet
		}
		arrow := "↓"
		if t.out {
			arrow = "↑"
		}
		lines = append(lines, fmt.Sprintf("%s #%d %s", arrow, t.id, t.line))
	}
	c.sc.setStatus(lines)
}

// sendFile sends the file at path on its own goroutine (see the top of
// this file); the chat goes on meanwhile.
func (c *ttyChat) sendFile(path string) {
	if path == "" {
		c.sc.notice("/send needs a file: /send PATH", true)
		return
	}
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			path = filepath.Join(home, rest)
		}
	}
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		if err == nil {
			err = fmt.Errorf("%s is not a regular file", path)
		}
		c.sc.notice(sanitize(err.Error()), true)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	name, size := sanitize(filepath.Base(path)), fi.Size()
	t := c.xfers.add(&transfer{out: true, name: name, size: size, cancel: cancel,
		line: fmt.Sprintf("%s (%s): offered, waiting for %s", name, fileSize(size), c.peerName)})
	c.sc.notice(fmt.Sprintf("sending %s (%s) to %s as #%d; /cancel %d stops it", name, fileSize(size), c.peerName, t.id, t.id), false)
	c.showStatus()

	s, id, updates, stop := c.s, t.id, c.fileUpdates, c.stop
	tell := func(u fileUpdate) {
		select {
		case updates <- u:
		case <-stop: // the chat is over: nobody to tell
		}
	}
	peerName, raw := c.peerName, c.raw
	go func() {
		defer raw.guard()
		defer cancel()
		m := newMeter(filepath.Base(path), size, time.Now())
		saved := ""
		err := s.SendFile(ctx, path, func(p peer.FileProgress) {
			if p.SavedAs != "" {
				saved = p.SavedAs
			}
			now := time.Now()
			if resumed, redraw := m.update(p, now); redraw || resumed != "" {
				tell(fileUpdate{id: id, line: m.sendingLine(now, peerName), notice: resumed})
			}
		})
		u := fileUpdate{id: id, end: true, err: err, cancelled: ctx.Err() != nil}
		if err == nil {
			u.summary, u.saved = m.summary(time.Now()), savedAs(filepath.Base(path), saved, peerName)
		}
		tell(u)
	}()
}

// fileUpdate shows what an outgoing transfer's goroutine reported.
func (c *ttyChat) fileUpdate(u fileUpdate) {
	t := c.xfers.byID[u.id]
	if t == nil {
		return
	}
	if u.notice != "" {
		c.sc.notice(u.notice, false)
	}
	if !u.end {
		if !t.stopping {
			t.line = u.line
			c.showStatus()
		}
		return
	}
	c.xfers.remove(t)
	c.showStatus()
	switch {
	case u.err == nil:
		c.sc.notice(fmt.Sprintf("sent %s to %s: %s, verified%s", t.name, c.peerName, u.summary, u.saved), false)
	case u.cancelled && !t.stopping, c.s.Err() != nil && !errors.Is(u.err, peer.ErrFileRefused):
		// Stopped by the end of the chat, which report() explains.
		c.sc.notice(fmt.Sprintf("%s (#%d) was not sent: the chat ended", t.name, t.id), true)
	case u.cancelled:
		c.sc.notice(fmt.Sprintf("stopped sending %s (#%d); %s was told", t.name, t.id, c.peerName), false)
	default:
		// A refusal reads "alice refused it: declined on the chat
		// screen": the peer's name and its reason say it.
		c.sc.notice(fmt.Sprintf("%s (#%d) was not sent: %s%s", t.name, t.id, sanitize(u.err.Error()), senderAdvice(u.err, c.peerName)), true)
	}
}

// stopSending stops every outgoing transfer: the chat is ending. Their
// goroutines tell the peer and end.
func (c *ttyChat) stopSending() {
	for _, t := range c.xfers.byID {
		if t.out {
			t.cancel()
		}
	}
}

// sending reports whether a file is still being sent.
func (c *ttyChat) sending() bool {
	for _, t := range c.xfers.byID {
		if t.out {
			return true
		}
	}
	return false
}

// abandonFiles says which incoming files the end of the chat left
// unfinished, and clears their progress lines. (The outgoing ones said so
// themselves: the loop waited for them.)
func (c *ttyChat) abandonFiles() {
	c.refusals.close()
	for _, t := range c.xfers.sorted() {
		c.xfers.remove(t)
		switch {
		case t.out:
			c.sc.notice(fmt.Sprintf("%s (#%d) was not sent: the chat ended", t.name, t.id), true)
		case t.offer:
			c.sc.notice(fmt.Sprintf("the offer of %s (#%d) lapsed with the chat", t.name, t.id), false)
		default:
			c.sc.notice(fmt.Sprintf("%s (#%d) was not received: the chat ended; what arrived is kept, and resumed if %s sends it again", t.name, t.id, c.peerName), true)
		}
	}
	c.showStatus()
}

// fileEvent shows what the session reports about incoming files.
func (c *ttyChat) fileEvent(ev peer.Event) {
	now := time.Now()
	switch ev := ev.(type) {
	case peer.FileOffer:
		if old := c.xfers.in[ev.ID]; old != nil {
			c.xfers.remove(old) // a sender that restarted numbers from 1 again
			c.showStatus()
		}
		t := c.xfers.add(&transfer{peerID: ev.ID, name: sanitize(ev.Name), size: ev.Size, offer: true, have: ev.Have})
		text := fmt.Sprintf("%s offers %s (%s): /accept %d or /reject %d", c.peerName, t.name, fileSize(t.size), t.id, t.id)
		if ev.Have > 0 {
			text += fmt.Sprintf("; %d%% of it is here from an earlier try, accepting resumes", percent(ev.Have, ev.Size))
		}
		c.sc.notice(text, false)
	case peer.FileOffered:
		t := c.xfers.in[ev.ID]
		if t != nil && t.m != nil {
			// Offered again after a reconnection, or after a damaged
			// copy: the attempt starts from what is here.
			if r := t.m.resumeAt(ev.Offset, now); r != "" {
				c.sc.notice(r, false)
			}
			t.line = t.m.line(now)
			c.showStatus()
			return
		}
		if t == nil { // --accept-files: nobody was asked
			t = c.xfers.add(&transfer{peerID: ev.ID, name: sanitize(ev.Name), size: ev.Size})
		}
		c.receiving(t, ev)
	case peer.FileProgress:
		t := c.xfers.in[ev.ID]
		if t == nil || t.m == nil {
			return
		}
		if _, redraw := t.m.update(ev, now); redraw {
			t.line = t.m.line(now)
			c.showStatus()
		}
	case peer.FileReceived:
		t := c.xfers.in[ev.ID]
		if t == nil || t.m == nil {
			// Never shown as arriving: its size is all there is to say.
			c.sc.notice(receivedLine(sanitize(ev.Name), c.peerName, fileSize(ev.Size), ev.Path), false)
			return
		}
		c.xfers.remove(t)
		c.showStatus()
		t.m.update(peer.FileProgress{Done: ev.Size, Size: ev.Size}, now)
		c.sc.notice(receivedLine(t.name, c.peerName, t.m.summary(now), ev.Path), false)
	case peer.FileFailed:
		t := c.xfers.in[ev.ID]
		if t == nil { // refused before it was shown: a name or size this side does not take, too many at once
			c.refusals.line(fmt.Sprintf("refused %s from %s: %s%s", sanitize(ev.Name), c.peerName, sanitize(ev.Err.Error()), refusalAdvice(ev.Err)))
			return
		}
		if ev.Retry {
			c.sc.notice(fmt.Sprintf("%s (#%d) arrived damaged (%s); %s sends it again", t.name, t.id, sanitize(ev.Err.Error()), c.peerName), true)
			return
		}
		c.xfers.remove(t)
		c.showStatus()
		c.sc.notice(fmt.Sprintf("%s (#%d) from %s was not received: %s", t.name, t.id, c.peerName, sanitize(ev.Err.Error())), true)
	}
}

// receiving starts showing an accepted incoming file.
func (c *ttyChat) receiving(t *transfer, ev peer.FileOffered) {
	now := time.Now()
	t.offer, t.size = false, ev.Size
	t.m = newMeter(ev.Name, ev.Size, now)
	t.m.resumeAt(ev.Offset, now)
	t.line = t.m.line(now)
	c.sc.notice(fmt.Sprintf("%s; /cancel %d stops it", receivingLine(t.name, ev.Size, ev.Offset, c.peerName), t.id), false)
	c.showStatus()
}

// peerRestarted forgets the incoming files: a peer that restarted has
// voided its offers, and offers again, under new numbers, what it still
// sends. What arrived stays in the partial files, to resume from.
func (c *ttyChat) peerRestarted() {
	for _, t := range c.xfers.sorted() {
		if t.out {
			continue // SendFile offers it again by itself
		}
		c.xfers.remove(t)
		if t.offer {
			c.sc.notice(fmt.Sprintf("the offer of %s (#%d) lapsed: %s restarted", t.name, t.id, c.peerName), false)
		} else {
			c.sc.notice(fmt.Sprintf("receiving %s (#%d) stopped: %s restarted; what arrived is kept, and resumed if %s sends it again", t.name, t.id, c.peerName, c.peerName), true)
		}
	}
	c.showStatus()
}

// acceptFile is /accept [ID].
func (c *ttyChat) acceptFile(arg string) {
	t := c.pick("/accept", arg, true)
	if t == nil {
		return
	}
	ev, err := c.s.AcceptFile(t.peerID)
	if err != nil {
		c.xfers.remove(t)
		c.sc.notice(fmt.Sprintf("cannot accept %s (#%d): %s", t.name, t.id, sanitize(err.Error())), true)
		return
	}
	c.receiving(t, ev)
}

// rejectFile is /reject [ID].
func (c *ttyChat) rejectFile(arg string) {
	t := c.pick("/reject", arg, true)
	if t == nil {
		return
	}
	c.xfers.remove(t)
	if err := c.s.RejectFile(t.peerID, rejectReason); err != nil {
		c.sc.notice(fmt.Sprintf("cannot reject %s (#%d): %s", t.name, t.id, sanitize(err.Error())), true)
		return
	}
	c.sc.notice(fmt.Sprintf("rejected %s from %s", t.name, c.peerName), false)
}

// cancelFile is /cancel [ID]: either direction, or an open offer.
func (c *ttyChat) cancelFile(arg string) {
	t := c.pick("/cancel", arg, false)
	if t == nil {
		return
	}
	if t.out {
		if t.stopping {
			c.sc.notice(fmt.Sprintf("%s (#%d) is already stopping", t.name, t.id), false)
			return
		}
		// Its goroutine reports the end (fileUpdate).
		t.cancel()
		t.stopping, t.line = true, t.name+": stopping"
		c.showStatus()
		return
	}
	c.xfers.remove(t)
	c.showStatus()
	if err := c.s.CancelFile(t.peerID, cancelReason); err != nil {
		c.sc.notice(fmt.Sprintf("cannot cancel %s (#%d): %s", t.name, t.id, sanitize(err.Error())), true)
		return
	}
	if t.offer {
		c.sc.notice(fmt.Sprintf("rejected %s from %s", t.name, c.peerName), false)
		return
	}
	c.sc.notice(fmt.Sprintf("stopped receiving %s (#%d); %s was told, and what arrived is kept to resume from", t.name, t.id, c.peerName), false)
}

// pick finds the transfer a command names: by number, or the only one
// there is (only offers if offers is set). Otherwise it says why not and
// returns nil.
func (c *ttyChat) pick(cmd, arg string, offers bool) *transfer {
	var cands []*transfer
	for _, t := range c.xfers.sorted() {
		if !offers || t.offer {
			cands = append(cands, t)
		}
	}
	what := "file is being sent or received"
	if offers {
		what = "file offer waits for an answer"
	}
	arg = strings.TrimPrefix(strings.TrimSpace(arg), "#")
	if arg == "" {
		switch len(cands) {
		case 0:
			c.sc.notice("no "+what, true)
		case 1:
			return cands[0]
		default:
			list := make([]string, len(cands))
			for i, t := range cands {
				list[i] = t.describe(c.peerName)
			}
			c.sc.notice(fmt.Sprintf("%d files: %s; say which, as in %s %d", len(cands), strings.Join(list, ", "), cmd, cands[0].id), true)
		}
		return nil
	}
	n, err := strconv.Atoi(arg)
	if err != nil || n < 1 {
		c.sc.notice(fmt.Sprintf("%s takes a file's number, as in %s 2, or none when there is one file", cmd, cmd), true)
		return nil
	}
	t := c.xfers.byID[n]
	if t == nil || (offers && !t.offer) {
		if offers {
			c.sc.notice(fmt.Sprintf("no file offer #%d waits for an answer", n), true)
		} else {
			c.sc.notice(fmt.Sprintf("no file #%d is being sent or received", n), true)
		}
		return nil
	}
	return t
}

// describe names a transfer in a list: "#2 report.pdf (12.0 MiB) from bob".
func (t *transfer) describe(peerName string) string {
	dir := "from"
	if t.out {
		dir = "to"
	}
	return fmt.Sprintf("#%d %s (%s) %s %s", t.id, t.name, fileSize(t.size), dir, peerName)
}
