package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"peerchat/cmd/peerchat/internal/history"
	"peerchat/peer"
)

func TestSkewMark(t *testing.T) {
	at := time.Date(2026, 3, 4, 14, 3, 7, 0, time.Local)
	for _, tt := range []struct {
		sent time.Time
		want string
	}{
		{at, ""},
		{at.Add(-time.Minute), ""},
		{at.Add(time.Minute), ""},
		{at.Add(-61 * time.Second), " (sent 14:02:06)"},
		{at.Add(5 * time.Hour), " (sent 19:03:07)"},
		{at.Add(-4*time.Hour - 50*time.Minute - 12*time.Second), " (sent 09:12:55)"},
		{at.Add(-15 * time.Hour), " (sent 2026-03-03 23:03:07)"},
		{time.Unix(0, 0), " (sent " + time.Unix(0, 0).Local().Format(historyTime) + ")"},
	} {
		if got := skewMark(tt.sent, at); got != tt.want {
			t.Errorf("skewMark(%s) = %q, want %q", tt.sent, got, tt.want)
		}
	}
}

// TestScreenShowsOurClockAndTheSendersOnlyWhenOff: the time on a line is
// when it reached us; the sender's appears beside it past a minute.
func TestScreenShowsOurClockAndTheSendersOnlyWhenOff(t *testing.T) {
	ts := newTestScreen(t, 10, 80, false)
	in := func(id uint64, sent time.Duration, text string) *incoming {
		return &incoming{Message: &peer.Message{ID: id, Time: ts.now.Add(sent), Text: text, From: "alice"}, At: ts.now}
	}
	ts.message(in(1, -3*time.Hour, "backdated"))
	ts.message(in(2, -59*time.Second, "a little slow"))
	ts.message(in(3, 2*time.Minute, "from the future"))
	ts.draw(t)
	want := []string{
		"07:08:09 alice (sent 04:08:09): backdated",
		"07:08:09 alice: a little slow",
		"07:08:09 alice (sent 07:10:09): from the future",
		">",
	}
	if got := ts.vt.lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("screen:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestRecorderKeepsOrderAndFiltersByReceipt: a peer whose clock is hours
// off cannot move its lines in the history, nor hide them from --since;
// its own time is kept beside ours.
func TestRecorderKeepsOrderAndFiltersByReceipt(t *testing.T) {
	st, _ := openTestHistory(t)
	r := &recorder{st: st, conv: "c", peer: peer.PeerInfo{Name: "alice", Fingerprint: "FP"}}
	now := time.Now()
	lines := []struct {
		sent, at time.Duration // from now
		text     string
	}{
		{-2 * time.Hour, -90 * time.Minute, "early"},
		{-30 * time.Hour, -10 * time.Minute, "backdated a day"}, // hidden from --since by the old code
		{+5 * time.Hour, -5 * time.Minute, "from the future"},   // shown first by a sort on the sender's time
		{-time.Minute, -time.Minute + 20*time.Second, "on time"},
	}
	for i, l := range lines {
		r.received(&incoming{Message: &peer.Message{ID: uint64(i + 1), Time: now.Add(l.sent), Text: l.text, From: "alice"}, At: now.Add(l.at)})
	}
	r.commit()
	recs, err := st.Find(history.Query{Since: now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(recs); got != "alice: backdated a day\nalice: from the future\nalice: on time" {
		t.Fatalf("since an hour ago, by our clock:\n%s", got)
	}
	var got []string
	for _, rec := range recs {
		got = append(got, historyLine(rec))
	}
	at := func(d time.Duration) string { return now.Add(d).Local().Format(historyTime) }
	want := []string{
		"[" + at(-10*time.Minute) + "] alice (sent " + at(-30*time.Hour) + "): backdated a day",
		"[" + at(-5*time.Minute) + "] alice" + skewMark(now.Add(5*time.Hour), now.Add(-5*time.Minute)) + ": from the future",
		"[" + at(-time.Minute+20*time.Second) + "] alice: on time",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("history lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !recs[0].Time.Equal(now.Add(-30*time.Hour)) || !recs[0].Received.Equal(now.Add(-10*time.Minute)) {
		t.Errorf("stored sent %s, received %s", recs[0].Time, recs[0].Received)
	}
}

// skewProxy is a man in the middle with both certificates, as a peer
// with a wrong clock is: it relays a dialer to a listener, setting the
// sender time of every message from the listener back by skew.
func skewProxy(t *testing.T, dir, listenerAddr string, skew time.Duration) string {
	t.Helper()
	alice, err := tls.LoadX509KeyPair(filepath.Join(dir, "alice.crt"), filepath.Join(dir, "alice.key"))
	if err != nil {
		t.Fatal(err)
	}
	bob, err := tls.LoadX509KeyPair(filepath.Join(dir, "bob.crt"), filepath.Join(dir, "bob.key"))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{alice},
		ClientAuth: tls.RequireAnyClientCert, NextProtos: []string{peer.ALPN},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := tls.Dial("tcp", listenerAddr, &tls.Config{
				MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{bob},
				RootCAs: roots, ServerName: "alice", NextProtos: []string{peer.ALPN},
			})
			if err != nil {
				in.Close()
				continue
			}
			go func() { io.Copy(out, in); out.Close() }()
			go func() { rewriteTimes(in, out, skew); in.Close() }()
		}
	}()
	return ln.Addr().String()
}

// rewriteTimes copies frames from r to w, message frames (type 2: id,
// sender time in Unix ms, text) with their time moved by skew.
func rewriteTimes(w io.Writer, r io.Reader, skew time.Duration) {
	var hdr [5]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		p := make([]byte, binary.BigEndian.Uint32(hdr[1:]))
		if _, err := io.ReadFull(r, p); err != nil {
			return
		}
		if hdr[0] == 2 && len(p) >= 16 {
			ms := int64(binary.BigEndian.Uint64(p[8:16])) + skew.Milliseconds()
			binary.BigEndian.PutUint64(p[8:16], uint64(ms))
		}
		if _, err := w.Write(append(hdr[:], p...)); err != nil {
			return
		}
	}
}

// TestAPeerWithItsClockBehindCannotBackdateLines: alice's clock is five
// hours behind (her frames pass through a proxy that says so). Bob's
// transcript and history show when her line reached him, with her time
// beside it, and `history --since 1h` finds it.
func TestAPeerWithItsClockBehindCannotBackdateLines(t *testing.T) {
	dir := certsDir(t)
	db := filepath.Join(t.TempDir(), "bob.db")
	alice, addr := listen(t, "--certs-dir", dir, "--name", "alice")
	proxy := skewProxy(t, dir, addr, -5*time.Hour)
	before := time.Now()
	bob := startEnv(t, []string{"PEERCHAT_NO_HISTORY="}, "dial", "--certs-dir", dir, "--name", "bob", "--history", db, proxy)
	alice.waitLine("connected to bob")
	bob.waitLine("connected to alice")
	alice.send("written at five in the morning, really")
	line := bob.waitOut(`\[(\d\d:\d\d:\d\d)\] alice \(sent (\d\d:\d\d:\d\d|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\): written at five in the morning, really`)
	after := time.Now()
	// Each is one of the seconds the message could have been sent in
	// (by alice's clock) or received in (by bob's).
	within := func(clock string, from, to time.Time) bool {
		for t := from.Truncate(time.Second); !t.After(to); t = t.Add(time.Second) {
			if t.Local().Format(transcriptTime) == clock {
				return true
			}
		}
		return false
	}
	if !within(line[1], before, after) {
		t.Errorf("the line shows %s, not when it arrived (%s to %s)", line[1], before.Format(transcriptTime), after.Format(transcriptTime))
	}
	if sent := line[2][len(line[2])-len(transcriptTime):]; !within(sent, before.Add(-5*time.Hour), after.Add(-5*time.Hour)) {
		t.Errorf("alice's time %s is not five hours back", line[2])
	}
	bob.stdin.Close()
	if code := bob.wait(); code != 0 {
		t.Fatalf("bob exited %d", code)
	}

	got := runHistory(t, db, "--since", "1h")
	if len(got) != 1 || !regexp.MustCompile(`^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] alice \(sent [-0-9: ]+\): written at five`).MatchString(got[0]) {
		t.Fatalf("history --since 1h: %q", got)
	}
}
