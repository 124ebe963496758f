package main

// History on the command line: the flags that choose the store, the
// recorder a chat writes through, and `peerchat history`. The store
// itself is package internal/history.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"peerchat/cmd/peerchat/internal/history"
	"peerchat/peer"
)

// historyFlags choose where the history is kept, or that it is not.
func historyFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "history", EnvVars: []string{"PEERCHAT_HISTORY"},
			Usage: "the history database `FILE` (default $XDG_DATA_HOME/peerchat/history.db, ~/.local/share/peerchat/history.db on Linux)"},
		&cli.BoolFlag{Name: "no-history", EnvVars: []string{"PEERCHAT_NO_HISTORY"},
			Usage: "record nothing in the history"},
	}
}

// historyLinesFlag says how much of the last conversation the chat
// screen shows on connect.
func historyLinesFlag() cli.Flag {
	return &cli.IntFlag{Name: "history-lines", Value: 5, EnvVars: []string{"PEERCHAT_HISTORY_LINES"},
		Usage: "on a terminal, how many `N` lines of the history with the peer to show, dimmed, on connect; 0: none"}
}

// historyPath is the database the flags name, "" with --no-history.
func historyPath(c *cli.Context) (string, error) {
	if c.Bool("no-history") {
		return "", nil
	}
	if p := c.String("history"); p != "" {
		return p, nil
	}
	p, err := history.DefaultPath()
	if err != nil {
		return "", fmt.Errorf("%w; use --history FILE", err)
	}
	return p, nil
}

// recorder writes one chat into the history. Any database error turns it
// off for the rest of the chat, with one notice: the chat matters more
// than its record. A nil or off recorder records nothing.
type recorder struct {
	mu sync.Mutex
	// notify shows a notice where the chat shows them; set by start, and
	// called with mu held, from the goroutine that is recording.
	notify func(text string)
	// pending is a notice from before start.
	pending string
	st      *history.Store // nil once off
	conv    string
	self    string
	peer    peer.PeerInfo
	// restarts counts the peer's restarts: its ids start again from 1
	// after one, so received messages are keyed by conv and this.
	restarts int
	// queue is what was received or sent since the last commit.
	queue []history.Record
	// ackDirty: ackedUpTo went up since the last commit.
	ackDirty bool
	// ackedUpTo is the highest of our ids the peer acknowledged: an
	// acknowledgement can overtake the recording of what it acknowledges.
	ackedUpTo uint64
}

// openRecorder opens the history for a chat with s, or says why not.
func openRecorder(c *cli.Context, s *peer.Session) *recorder {
	path, err := historyPath(c)
	r := &recorder{conv: history.NewConversationKey(), self: s.Name(), peer: s.Peer()}
	if err == nil && path == "" {
		return r
	}
	if err == nil {
		r.st, err = history.Open(path)
	}
	if err != nil {
		r.off(err)
	}
	return r
}

// start routes the recorder's notices to notify, and shows the one
// waiting if opening failed. On the chat screen, notify must not go
// through ui.notice: the screen's loop is the one recording.
func (r *recorder) start(notify func(text string)) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notify = notify
	if r.pending != "" {
		notify(r.pending)
		r.pending = ""
	}
}

func (r *recorder) off(err error) {
	text := fmt.Sprintf("history off: %s; chat goes on without history; --no-history to silence this", sanitize(err.Error()))
	if r.notify != nil {
		r.notify(text)
	} else {
		r.pending = text
	}
	if r.st != nil {
		r.st.Close()
		r.st = nil
	}
}

// received queues a message from the peer; commit before showing it.
func (r *recorder) received(m *incoming) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st == nil {
		return
	}
	r.queue = append(r.queue, history.Record{Conv: fmt.Sprintf("%s.%d", r.conv, r.restarts), Direction: history.In, ID: m.ID,
		Peer: r.peer.Name, Fingerprint: r.peer.Fingerprint, From: m.From,
		Time: m.Time, Received: m.At, Text: m.Text})
}

// sent queues a message of ours, not yet delivered unless acknowledged.
func (r *recorder) sent(m peer.Message) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st == nil {
		return
	}
	r.queue = append(r.queue, history.Record{Conv: r.conv, Direction: history.Out, ID: m.ID,
		Peer: r.peer.Name, Fingerprint: r.peer.Fingerprint, From: r.self,
		Time: m.Time, Received: time.Now(), Text: m.Text, Delivered: m.ID <= r.ackedUpTo})
}

// event notes what an event changes: deliveries and restarts.
func (r *recorder) event(ev peer.Event) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch ev := ev.(type) {
	case peer.Delivered:
		if ev.UpTo > r.ackedUpTo {
			r.ackedUpTo, r.ackDirty = ev.UpTo, true
		}
	case peer.Reconnected:
		if ev.PeerRestarted {
			r.restarts++
		}
	}
}

// commit writes what was queued, in one transaction.
func (r *recorder) commit() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.commitLocked()
}

func (r *recorder) commitLocked() {
	queue, upTo := r.queue, uint64(0)
	if r.ackDirty {
		upTo = r.ackedUpTo
	}
	r.queue, r.ackDirty = r.queue[:0], false
	if r.st == nil || (len(queue) == 0 && upTo == 0) {
		return
	}
	if err := r.st.Write(queue, r.conv, upTo); err != nil {
		r.off(err)
	}
}

// on tells whether the history is being recorded.
func (r *recorder) on() bool {
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st != nil
}

// recent returns the last n messages with this peer, by certificate name.
func (r *recorder) recent(n int) []history.Record {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.commitLocked()
	if r.st == nil {
		return nil
	}
	recs, err := r.st.Find(history.Query{Peer: r.peer.Name, Last: n})
	if err != nil {
		r.off(err)
	}
	return recs
}

func (r *recorder) Close() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.commitLocked()
	if r.st != nil {
		r.st.Close()
		r.st = nil
	}
}

func historyCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:      "history",
		Usage:     "print past conversations from the history",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "peer", Usage: "only the conversations with the peer whose certificate name is `NAME`"},
			&cli.StringFlag{Name: "since", Usage: "only messages since `DATE` (2006-01-02, 2006-01-02 15:04 or RFC 3339) or DURATION ago (90m, 36h, 7d)"},
			&cli.StringFlag{Name: "grep", Usage: "only messages containing `TEXT` (full-text search, any language, case-insensitive)"},
			&cli.BoolFlag{Name: "json", Usage: "one JSON object per line, for scripts"},
			// Not --no-history: PEERCHAT_NO_HISTORY stops recording,
			// not reading what was recorded before.
			historyFlags()[0],
		},
		OnUsageError: onUsageError,
		Action:       func(c *cli.Context) error { return historyAction(c, u) },
	}
}

func historyAction(c *cli.Context, u *ui) error {
	if err := noExtraArgs(c, 0); err != nil {
		return err
	}
	q := history.Query{Peer: c.String("peer"), Grep: c.String("grep")}
	if s := c.String("since"); s != "" {
		t, err := parseSince(s, time.Now())
		if err != nil {
			return usagef("%v", err)
		}
		q.Since = t
	}
	path, err := historyPath(c)
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		// Reading must not create: say where the history would be.
		u.notice("no history yet at %s", path)
		return nil
	}
	st, err := history.Open(path)
	if err != nil {
		return err
	}
	defer st.Close()
	recs, err := st.Find(q)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if c.Bool("json") {
			b, err := json.Marshal(newJSONRecord(r))
			if err != nil {
				return err
			}
			u.report("%s", b)
		} else {
			u.report("%s", historyLine(r))
		}
	}
	return nil
}

// historyTime is how the history shows a message's time: with the date.
const historyTime = "2006-01-02 15:04:05"

// historyLine is r in the transcript format, with the date.
func historyLine(r history.Record) string {
	prefix, text := historyParts(r)
	return prefix + text
}

// historyParts is historyLine in two, the prefix "[DATE TIME] NAME: " and
// the text, both sanitized: the chat screen indents under the text. The
// time is ours, when the line was received or sent; the sender's is
// shown beside it only when its clock was off (skewMark).
func historyParts(r history.Record) (prefix, text string) {
	skew := ""
	if r.Direction == history.In {
		skew = skewMark(r.Time, r.Received)
	}
	return fmt.Sprintf("[%s] %s%s: ", r.Received.Local().Format(historyTime), sanitize(r.From), skew), sanitize(r.Text)
}

// parseSince reads --since: a date, a date and time (local), or a
// duration back from now (with d for days).
func parseSince(s string, now time.Time) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	d := s
	days := 0
	if before, after, ok := strings.Cut(s, "d"); ok {
		if _, err := fmt.Sscanf(before, "%d", &days); err != nil || fmt.Sprint(days) != before {
			return time.Time{}, fmt.Errorf("--since %q is neither a date (2006-01-02) nor a duration (36h, 7d)", s)
		}
		d = after
	}
	dur := time.Duration(0)
	if d != "" {
		var err error
		if dur, err = time.ParseDuration(d); err != nil {
			return time.Time{}, fmt.Errorf("--since %q is neither a date (2006-01-02) nor a duration (36h, 7d)", s)
		}
	}
	if days < 0 || dur < 0 {
		return time.Time{}, fmt.Errorf("--since %q: a duration back from now cannot be negative", s)
	}
	return now.Add(-time.Duration(days)*24*time.Hour - dur), nil
}
