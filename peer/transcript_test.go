package peer_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"peerchat/peer"
)

// The golden transcript: the frames of one scripted conversation between
// two real peers, recorded as they cross the wire inside TLS, compared
// byte for byte with testdata/transcript.txt, which docs/PROTOCOL.md
// quotes. A change to any frame's layout fails here until the transcript,
// and so the document, is regenerated (go test -run TestTranscript
// ./peer/ -update) and the change is seen in review.

var update = flag.Bool("update", false, "rewrite testdata/transcript.txt and its copy in docs/PROTOCOL.md")

const (
	transcriptFile = "testdata/transcript.txt"
	protocolDoc    = "../docs/PROTOCOL.md"
	// transcriptMark precedes the fenced block in PROTOCOL.md that
	// quotes the transcript.
	transcriptMark = "<!-- golden transcript: peer/testdata/transcript.txt; regenerate with `go test ./peer/ -run TestTranscript -update` -->"

	// What varies from run to run is replaced by these before the
	// transcript is written or compared.
	fixedTimeMs = 1764230400123 // 2025-11-27 08:00:00.123 UTC
)

// fixedConv replaces the dialer's random conversation id.
var fixedConv = [16]byte{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10}

func TestTranscript(t *testing.T) {
	pki, alice, bob := alicePKI(t)
	rec := &frameRecorder{}

	dir := t.TempDir()
	l, rejected := startListener(t, peer.Config{Identity: alice, Software: "peerchat 1.0",
		DownloadDir: dir, ConfirmFiles: true, HeartbeatInterval: time.Hour})
	proxy := newTLSRecorder(t, pki.CA, alice, bob, l.Addr().String(), rec)
	ctx := testContext(t)
	accepted := make(chan *peer.Session, 1)
	go func() {
		s, err := l.Accept(ctx)
		if err != nil {
			t.Error(err)
		}
		accepted <- s
	}()
	d, err := peer.Dial(ctx, proxy.Addr().String(), peer.Config{Identity: bob, Software: "peerchat 1.0",
		Reconnect: true, HeartbeatInterval: time.Hour})
	if err != nil {
		select {
		case r := <-rejected:
			t.Fatalf("dial: %v (listener: %v)", err, r.err)
		default:
			t.Fatalf("dial: %v", err)
		}
	}
	t.Cleanup(func() { d.Close() })
	ls := <-accepted
	if ls == nil {
		t.FailNow()
	}
	t.Cleanup(func() { ls.Close() })

	// Lock step: each step waits for the effect of its last frame, so
	// that the order of frames across the two directions is the same
	// on every run.

	// A message, and an answer that carries its acknowledgement: Next
	// is not running on alice's side, so the ack is still owed when
	// she answers.
	if _, err := d.Send("hi"); err != nil {
		t.Fatal(err)
	}
	if m := nextMessage(t, ls); m.Text != "hi" {
		t.Fatalf("alice got %q", m.Text)
	}
	if _, err := ls.Send("hello, bob"); err != nil {
		t.Fatal(err)
	}
	if ev, err := d.Next(); err != nil || ev != (peer.Delivered{UpTo: 1}) {
		t.Fatalf("bob: %v, %v; want Delivered 1 first, from the ack in front of the answer", ev, err)
	}
	if m := nextMessage(t, d); m.Text != "hello, bob" {
		t.Fatalf("bob got %q", m.Text)
	}

	// From here both sides are read all the time, as an application
	// does: bob's ack leaves on its own once his Next would wait.
	aliceEvs, bobEvs := fileEvents(ls), fileEvents(d)
	if ev := nextEvent[peer.Delivered](t, aliceEvs); ev.UpTo != 1 {
		t.Fatalf("alice: %v", ev)
	}

	// A round-trip probe.
	if err := d.Ping(); err != nil {
		t.Fatal(err)
	}
	nextEvent[peer.Pong](t, bobEvs)

	// A file, accepted from 0, sent in one chunk and verified.
	notes := "Meet at noon.\n"
	sent := sendReader(ctx, d, "notes.txt", notes)
	if offer := nextEvent[peer.FileOffer](t, aliceEvs); offer.ID != 1 || offer.Have != 0 {
		t.Fatalf("alice: %+v", offer)
	}
	if _, err := ls.AcceptFile(1); err != nil {
		t.Fatal(err)
	}
	if got := nextEvent[peer.FileReceived](t, aliceEvs); got.Name != "notes.txt" {
		t.Fatalf("alice: %+v", got)
	}
	if err := wait(t, sent); err != nil {
		t.Fatal(err)
	}

	// A file the receiver refuses on its name alone, before asking.
	sent = sendReader(ctx, d, "a:b.txt", "x")
	nextEvent[peer.FileFailed](t, aliceEvs)
	if err := wait(t, sent); !errors.Is(err, peer.ErrFileRefused) {
		t.Fatalf("bob: %v, want a refusal", err)
	}

	// A file the sender cancels while the receiver is still asked.
	cctx, cancel := context.WithCancel(ctx)
	sent = sendReader(cctx, d, "later.txt", "later")
	nextEvent[peer.FileOffer](t, aliceEvs)
	cancel()
	if err := wait(t, sent); !errors.Is(err, context.Canceled) {
		t.Fatalf("bob: %v", err)
	}
	if ev := nextEvent[peer.FileFailed](t, aliceEvs); ev.ID != 3 {
		t.Fatalf("alice: %+v", ev)
	}

	// A file resumed from the partial file an earlier attempt left:
	// the receiver accepts at the offset it holds, and the sender
	// sends the rest and the digest of the whole file.
	report := "Quarterly report: all is well.\n"
	if err := os.WriteFile(filepath.Join(dir, peer.PartialName(peer.Fingerprint(bob.Leaf), "report.txt", int64(len(report)))), []byte(report[:18]), 0o600); err != nil {
		t.Fatal(err)
	}
	sent = sendReader(ctx, d, "report.txt", report)
	if offer := nextEvent[peer.FileOffer](t, aliceEvs); offer.ID != 4 || offer.Have != 18 {
		t.Fatalf("alice: %+v", offer)
	}
	if _, err := ls.AcceptFile(4); err != nil {
		t.Fatal(err)
	}
	if got := nextEvent[peer.FileReceived](t, aliceEvs); got.Name != "report.txt" {
		t.Fatalf("alice: %+v", got)
	}
	if err := wait(t, sent); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "report.txt")); err != nil || string(b) != report {
		t.Fatalf("report.txt: %q, %v", b, err)
	}

	// A protocol violation, and the error frame that answers it: bob
	// skips message id 2.
	if err := peer.WriteFrame(d, 2, messagePayload(3, "skipped")); err != nil {
		t.Fatal(err)
	}
	var pe *peer.ProtocolError
	if err := ended(t, ls, aliceEvs); !errors.As(err, &pe) || pe.Remote {
		t.Fatalf("alice ended with %v, want her protocol error", err)
	}
	if err := ended(t, d, bobEvs); !errors.As(err, &pe) || !pe.Remote {
		t.Fatalf("bob ended with %v, want alice's protocol error", err)
	}
	proxy.Close()

	got := rec.transcript()
	if *update {
		if err := os.WriteFile(transcriptFile, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := quoteInDoc(protocolDoc, got); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(transcriptFile)
	if err != nil {
		t.Fatalf("%v; run go test ./peer/ -run TestTranscript -update to write it", err)
	}
	// Byte for byte: the frames the file holds are the frames sent.
	wantFrames, err := parseTranscript(string(want))
	if err != nil {
		t.Fatalf("%s: %v", transcriptFile, err)
	}
	gotFrames := rec.normalised()
	for i := range max(len(gotFrames), len(wantFrames)) {
		switch {
		case i >= len(gotFrames):
			t.Errorf("frame %d: missing, want %s %x", i+1, wantFrames[i].dir, wantFrames[i].frame)
		case i >= len(wantFrames):
			t.Errorf("frame %d: extra %s %x", i+1, gotFrames[i].dir, gotFrames[i].frame)
		case gotFrames[i].dir != wantFrames[i].dir || !bytes.Equal(gotFrames[i].frame, wantFrames[i].frame):
			t.Errorf("frame %d:\n got %s %x\nwant %s %x", i+1, gotFrames[i].dir, gotFrames[i].frame, wantFrames[i].dir, wantFrames[i].frame)
		}
	}
	// And the file as written, comments included.
	if got != string(want) {
		t.Errorf("%s differs from this run's transcript:\n%s", transcriptFile, got)
	}
}

// TestProtocolDocQuotesTranscript: the transcript docs/PROTOCOL.md quotes
// is the one the golden test checks.
func TestProtocolDocQuotesTranscript(t *testing.T) {
	want, err := os.ReadFile(transcriptFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(protocolDoc)
	if err != nil {
		t.Fatal(err)
	}
	quoted, _, _, err := quotedTranscript(string(doc))
	if err != nil {
		t.Fatal(err)
	}
	if quoted != string(want) {
		t.Errorf("the transcript quoted in %s is not %s; run go test ./peer/ -run TestTranscript -update", protocolDoc, transcriptFile)
	}
}

func sendReader(ctx context.Context, s *peer.Session, name, content string) <-chan error {
	done := make(chan error, 1)
	go func() {
		done <- s.SendReader(ctx, name, strings.NewReader(content), int64(len(content)), nil)
	}()
	return done
}

// ended waits for the events of s, read by fileEvents, to end, and
// returns why the session ended.
func ended(t *testing.T, s *peer.Session, evs <-chan peer.Event) error {
	t.Helper()
	timeout := time.After(testTimeout)
	for {
		select {
		case _, ok := <-evs:
			if !ok {
				return s.Err()
			}
		case <-timeout:
			t.Fatalf("%s: the session did not end", s.Name())
		}
	}
}

func messagePayload(id uint64, text string) []byte {
	p := binary.BigEndian.AppendUint64(nil, id)
	p = binary.BigEndian.AppendUint64(p, fixedTimeMs)
	return append(p, text...)
}

// normalised returns the frames with what varies from run to run
// replaced: the dialer's conversation id, and message times.
func (r *frameRecorder) normalised() []recordedFrame {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]recordedFrame, len(r.frames))
	for i, f := range r.frames {
		b := bytes.Clone(f.frame)
		p := b[5:]
		switch b[0] {
		case 1: // hello: version, name, software, then the resumption block
			if len(p) >= 2 {
				at := 2
				for range 2 {
					if at < len(p) {
						at += 1 + int(p[at])
					}
				}
				if len(p) >= at+16 && !bytes.Equal(p[at:at+16], make([]byte, 16)) {
					copy(p[at:], fixedConv[:])
				}
			}
		case 2: // message: id, time, text
			if len(p) >= 16 {
				binary.BigEndian.PutUint64(p[8:], fixedTimeMs)
			}
		}
		out[i] = recordedFrame{f.dir, b}
	}
	return out
}

const transcriptHeader = `# peerchat/1 golden transcript (docs/PROTOCOL.md §10). Recorded by
# peer/transcript_test.go inside TLS between a listener, alice, and a
# dialer, bob, over loopback; checked byte for byte on every test run.
# One frame per line: direction (D>L: bob to alice; L>D: alice to bob),
# then the frame in hex, its fields separated by spaces (type, length,
# payload fields), then # and what the frame says. What varies from run
# to run is replaced: bob's conversation id by 0102…10, message times by
# 0000019ac453887b (2025-11-27 08:00:00.123 UTC).
`

// transcript renders the recording.
func (r *frameRecorder) transcript() string {
	var b strings.Builder
	b.WriteString(transcriptHeader)
	for _, f := range r.normalised() {
		fields, note := describeFrame(f.frame)
		fmt.Fprintf(&b, "%s %s  # %s\n", f.dir, strings.Join(fields, " "), note)
	}
	return b.String()
}

// describeFrame splits a frame into its fields, in hex, and says what it
// carries. It decodes only what the transcript shows; the codec under
// test is peer's own.
func describeFrame(f []byte) (fields []string, note string) {
	t, p := f[0], f[5:]
	fields = []string{hex.EncodeToString(f[:1]), hex.EncodeToString(f[1:5])}
	take := func(n int) []byte {
		n = min(n, len(p))
		v := p[:n]
		p = p[n:]
		if n > 0 {
			fields = append(fields, hex.EncodeToString(v))
		}
		return v
	}
	u64 := func() uint64 {
		v := take(8)
		if len(v) < 8 {
			return 0
		}
		return binary.BigEndian.Uint64(v)
	}
	rest := func() string { return string(take(len(p))) }
	str8 := func() []byte {
		if len(p) == 0 {
			return nil
		}
		return take(1 + int(p[0]))[1:]
	}
	switch t {
	case 1:
		var version uint16
		if v := take(2); len(v) == 2 {
			version = binary.BigEndian.Uint16(v)
		}
		name, software := str8(), str8()
		note = fmt.Sprintf("hello: version %d, name %q, software %q", version, name, software)
		if len(p) >= 33 {
			conv := take(16)
			recv, first := u64(), u64()
			flags := take(1)[0] // len(p) >= 33 above
			c := "0 (none)"
			if !bytes.Equal(conv, make([]byte, 16)) {
				c = hex.EncodeToString(conv)
			}
			note += fmt.Sprintf("; resumption: conversation %s, received up to %d, first id %d, flags %s", c, recv, first, flagNames(flags))
		}
		if len(p) > 0 {
			rest()
			note += "; extensions"
		}
	case 2:
		id, _ := u64(), u64()
		note = fmt.Sprintf("message %d, sent at 2025-11-27 08:00:00.123 UTC: %q", id, rest())
	case 3:
		note = fmt.Sprintf("ack: received every message up to %d", u64())
	case 4:
		note = fmt.Sprintf("ping, nonce %d", u64())
	case 5:
		note = fmt.Sprintf("pong, nonce %d", u64())
	case 6:
		note = fmt.Sprintf("goodbye %q", rest())
	case 7:
		var code byte
		if c := take(1); len(c) == 1 {
			code = c[0]
		}
		note = fmt.Sprintf("error, code %d (%s): %q", code, codeNames[code], rest())
	case 8:
		id, size := u64(), u64()
		note = fmt.Sprintf("file offer %d: size %d, name %q", id, size, rest())
	case 9:
		id, off := u64(), u64()
		note = fmt.Sprintf("file accept %d from offset %d", id, off)
	case 10:
		note = fmt.Sprintf("file reject %d: %q", u64(), rest())
	case 11:
		note = fmt.Sprintf("file chunk %d: %q", u64(), rest())
	case 12:
		id := u64()
		note = fmt.Sprintf("file done %d: BLAKE3-256 %s", id, hex.EncodeToString(take(32)))
	case 13:
		id := u64()
		var ok byte
		if o := take(1); len(o) == 1 {
			ok = o[0]
		}
		note = fmt.Sprintf("file verified %d: ok %d, saved as %q", id, ok, rest())
	case 14:
		note = fmt.Sprintf("file cancel %d: %q", u64(), rest())
	default:
		rest()
		note = fmt.Sprintf("frame type %d", t)
	}
	return fields, note
}

var codeNames = map[byte]string{1: "protocol", 2: "busy", 3: "refused"}

func flagNames(f byte) string {
	var names []string
	for bit, name := range []string{"reconnects", "connected", "files"} {
		if f&(1<<bit) != 0 {
			names = append(names, name)
		}
	}
	return fmt.Sprintf("%02x (%s)", f, strings.Join(names, "+"))
}

// parseTranscript reads the frames back from a transcript.
func parseTranscript(s string) ([]recordedFrame, error) {
	var frames []recordedFrame
	for i, line := range strings.Split(s, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line, _, _ = strings.Cut(line, "#")
		dir, hx, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || (dir != "D>L" && dir != "L>D") {
			return nil, fmt.Errorf("line %d: want D>L or L>D, then hex", i+1)
		}
		b, err := hex.DecodeString(strings.ReplaceAll(hx, " ", ""))
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", i+1, err)
		}
		if len(b) < 5 || len(b) != 5+int(binary.BigEndian.Uint32(b[1:])) {
			return nil, fmt.Errorf("line %d: not one whole frame", i+1)
		}
		frames = append(frames, recordedFrame{dir, b})
	}
	return frames, nil
}

// quotedTranscript finds the fenced block after transcriptMark in doc
// and returns its text and where it lies.
func quotedTranscript(doc string) (text string, start, end int, err error) {
	i := strings.Index(doc, transcriptMark)
	if i < 0 {
		return "", 0, 0, fmt.Errorf("%s: no line %q before the quoted transcript", protocolDoc, transcriptMark)
	}
	const fence = "```\n"
	j := strings.Index(doc[i:], fence)
	if j < 0 {
		return "", 0, 0, errors.New("no fenced block after the transcript mark")
	}
	start = i + j + len(fence)
	k := strings.Index(doc[start-1:], "\n"+fence) // from the fence's own newline: the block may be empty
	if k < 0 {
		return "", 0, 0, errors.New("the transcript's fenced block does not end")
	}
	end = start + k
	return doc[start:end], start, end, nil
}

func quoteInDoc(path, transcript string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	_, start, end, err := quotedTranscript(string(b))
	if err != nil {
		return err
	}
	doc := string(b[:start]) + transcript + string(b[end:])
	return os.WriteFile(path, []byte(doc), 0o644)
}
