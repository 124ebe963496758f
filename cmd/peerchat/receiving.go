package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"peerchat/peer"
)

// receiving words, in pipe mode, the files the peer sends (listen or dial
// with --accept-files): a line when each starts, "resuming at 63%" when an
// attempt continues an earlier one, a final line with its size, time,
// rate and where it was saved, one line for a failure; and, when stderr
// is a terminal, their progress on one line redrawn in place. It is used
// by the one goroutine that prints the session's events.
type receiving struct {
	u        *ui
	peerName string
	files    map[uint64]*incomingFile // accepted and not yet ended, by transfer id
	refusals *burstLog                // offers refused before they were accepted
}

type incomingFile struct {
	m      *meter
	name   string // as offered (reduced to a base name), to tell a reused id
	size   int64
	offset int64 // where the last attempt announced started
}

func newReceiving(u *ui, peerName string) *receiving {
	return &receiving{u: u, peerName: peerName, files: make(map[uint64]*incomingFile),
		refusals: newRefusalLog(func(s string) { u.notice("%s", s) }, nil, peerName)}
}

// event shows ev if it is about a file, and reports whether it was.
func (r *receiving) event(ev peer.Event, now time.Time) bool {
	switch ev := ev.(type) {
	case peer.FileOffered:
		r.offered(ev, now)
	case peer.FileProgress:
		if f := r.files[ev.ID]; f != nil {
			if _, redraw := f.m.update(ev, now); redraw {
				r.draw(now)
			}
		}
	case peer.FileReceived:
		f := r.files[ev.ID]
		delete(r.files, ev.ID)
		if f == nil {
			f = &incomingFile{m: newMeter(ev.Name, ev.Size, now)}
		}
		f.m.update(peer.FileProgress{Done: ev.Size, Size: ev.Size}, now)
		r.u.notice("%s", receivedLine(f.m.name, r.peerName, f.m.summary(now), ev.Path))
	case peer.FileFailed:
		r.failed(ev)
	default:
		return false
	}
	return true
}

// offered announces an accepted offer. The sender offers the same file
// again after every reconnection; that is announced only when it resumes
// from somewhere new, so that a connection that breaks before any byte
// moves does not repeat the line.
func (r *receiving) offered(ev peer.FileOffered, now time.Time) {
	f := r.files[ev.ID]
	if f != nil && (f.name != ev.Name || f.size != ev.Size) {
		f = nil // a sender that restarted numbers its files from 1 again
	}
	if f == nil {
		f = &incomingFile{m: newMeter(ev.Name, ev.Size, now), name: ev.Name, size: ev.Size, offset: ev.Offset}
		r.files[ev.ID] = f
		f.m.resumeAt(ev.Offset, now)
		r.u.notice("%s", receivingLine(f.m.name, ev.Size, ev.Offset, r.peerName))
		return
	}
	// Progress is reported every 100 ms at most: what arrived since the
	// last report belongs to the attempt that ended, not to this one.
	if ev.Offset > f.m.done {
		f.m.update(peer.FileProgress{Done: ev.Offset, Size: ev.Size}, now)
	}
	resumed := f.m.resumeAt(ev.Offset, now)
	if resumed != "" && ev.Offset != f.offset {
		r.u.notice("%s", resumed)
	}
	f.offset = ev.Offset
}

// failed reports a file that was refused or stopped. One that had been
// accepted left a partial file, which a later offer of the same file resumes.
// How much it holds is not said: progress is reported every 100 ms at
// most, so the meter lags behind the file.
func (r *receiving) failed(ev peer.FileFailed) {
	name := sanitize(ev.Name)
	reason := sanitize(ev.Err.Error())
	f := r.files[ev.ID]
	switch {
	case ev.Retry:
		// The digest did not match: the sender starts again at once, and
		// the reason says so.
		r.u.notice("%s from %s: %s", name, r.peerName, reason)
	case f == nil:
		r.refusals.line(fmt.Sprintf("refused %s from %s: %s%s", name, r.peerName, reason, refusalAdvice(ev.Err)))
	default:
		delete(r.files, ev.ID)
		r.u.notice("did not receive %s from %s: %s; what arrived is kept as a partial file in the download directory, and the transfer resumes there if %s sends it again",
			name, r.peerName, reason, r.peerName)
	}
}

// refusalAdvice is what this side's user can do about a refusal of its own
// that peer words without flags (they go to the other side): "" when there
// is nothing to add.
func refusalAdvice(err error) string {
	var big *peer.FileTooLargeError
	switch {
	case errors.Is(err, peer.ErrNoFiles):
		return "; --accept-files takes them, or chat on a terminal to be asked"
	case errors.As(err, &big):
		return " (--max-file-size)"
	}
	return ""
}

// cannotAsk is pipe mode's answer to an offer, without --accept-files:
// it has no terminal to ask its user on.
const cannotAsk = "cannot ask its user about files on its terminal"

// senderAdvice is what the sender's user can do about a refusal whose
// reason a peerchat receiver sends without naming its own flags: ask the
// receiver to take files. "" for any other refusal.
func senderAdvice(err error, peerName string) string {
	switch {
	case errors.Is(err, peer.ErrNoFiles):
		return fmt.Sprintf("; ask %s to run with --accept-files, or to chat on a terminal to be asked", peerName)
	case errors.Is(err, peer.ErrFileRefused) && strings.HasSuffix(err.Error(), ": "+cannotAsk):
		return fmt.Sprintf("; ask %s to run with --accept-files", peerName)
	}
	return ""
}

// unfinished reports the files still arriving when the conversation
// ended for good: the peer left or vanished in the middle.
func (r *receiving) unfinished() {
	r.refusals.close()
	for _, id := range r.ids() {
		f := r.files[id]
		r.u.notice("did not receive %s from %s: the conversation ended first; what arrived is kept as a partial file in the download directory, and the transfer resumes there if %s sends it again",
			f.m.name, r.peerName, r.peerName)
	}
	clear(r.files)
}

// peerRestarted forgets the files of a sender that restarted: it numbers
// its files from 1 again, and offers anew what it still means to send
// (announced then as resuming).
func (r *receiving) peerRestarted() {
	for _, id := range r.ids() {
		f := r.files[id]
		r.u.notice("%s restarted while sending %s; what arrived is kept as a partial file in the download directory, and the transfer resumes there if %s sends it again",
			r.peerName, f.m.name, r.peerName)
	}
	clear(r.files)
}

func (r *receiving) ids() []uint64 {
	ids := make([]uint64, 0, len(r.files))
	for id := range r.files {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// draw shows the progress line: the whole meter for one file, the name
// and percentage of each when several arrive at once (the chat screen can
// send them side by side), which keeps the line short enough to read.
func (r *receiving) draw(now time.Time) {
	ids := r.ids()
	if len(ids) == 1 {
		r.u.progress("receiving " + r.files[ids[0]].m.line(now))
		return
	}
	parts := make([]string, 0, len(ids))
	for _, id := range ids {
		m := r.files[id].m
		parts = append(parts, fmt.Sprintf("%s %d%%", m.name, percent(m.done, m.size)))
	}
	r.u.progress(fmt.Sprintf("receiving %d files: %s", len(ids), strings.Join(parts, ", ")))
}
