//go:build unix

package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/term"
)

// These tests run the real binary in a pseudo-terminal, as a person would
// in a terminal window, against a real peer in pipe mode (whose stdin the
// test types into and whose stdout is the transcript it received). What
// the binary draws is fed to the test's terminal emulator (vt_test.go),
// and tests wait until the screen shows what they expect, with a deadline.

type ttyProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	ptmx *os.File // the test's end
	tty  *os.File // the program's end, kept open to read its state

	mu   sync.Mutex
	vt   *vt
	raw  bytes.Buffer // every byte the program wrote
	wake chan struct{}

	done chan struct{}
	code int
	// The terminal's state before the program started.
	sttyBefore  string
	stateBefore *term.State
}

// startTTY runs peerchat on a new rows×cols pseudo-terminal. env adds to
// the environment, from which NO_COLOR is removed.
func startTTY(t *testing.T, rows, cols int, env []string, args ...string) *ttyProc {
	t.Helper()
	return startTTYIn(t, "", rows, cols, env, args...)
}

// startTTYIn is startTTY with the working directory wd ("" for the test's).
func startTTYIn(t *testing.T, wd string, rows, cols int, env []string, args ...string) *ttyProc {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: uint16(rows), Cols: uint16(cols)}); err != nil {
		t.Fatal(err)
	}
	p := &ttyProc{t: t, ptmx: ptmx, tty: tty, vt: newVT(rows, cols), wake: make(chan struct{}, 1), done: make(chan struct{})}
	p.sttyBefore = stty(t, tty)
	if p.stateBefore, err = term.GetState(int(tty.Fd())); err != nil {
		t.Fatal(err)
	}

	p.cmd = exec.Command(peerchatBin, args...)
	p.cmd.Dir = wd
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = tty, tty, tty
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NO_COLOR=") && !strings.HasPrefix(kv, "TERM=") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	// GORACE: no second of grace at exit for the race detector's reports;
	// a race found still fails the exit code.
	p.cmd.Env = append(append(p.cmd.Env, "TERM=xterm-256color", "GORACE=atexit_sleep_ms=0"), env...)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}

	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		b := make([]byte, 32<<10)
		for {
			n, err := ptmx.Read(b)
			if n > 0 {
				p.mu.Lock()
				p.raw.Write(b[:n])
				p.vt.Write(b[:n])
				p.mu.Unlock()
				p.poke()
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.done)
		p.poke()
	}()
	t.Cleanup(func() {
		if t.Failed() {
			// Ask a stuck program where it is: Go prints every goroutine.
			p.cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
			}
		}
		p.cmd.Process.Kill()
		<-p.done
		tty.Close()
		ptmx.Close()
		<-readDone
		// The binary is built with -race; a report must fail the test even
		// when the test ended the program itself.
		if bytes.Contains(p.raw.Bytes(), []byte("WARNING: DATA RACE")) {
			t.Errorf("the race detector reported a data race in peerchat")
		}
		if t.Failed() {
			p.mu.Lock()
			t.Logf("screen of %s:\n%s", strings.Join(args, " "), p.vt.screen())
			raw := p.raw.Bytes()
			t.Logf("last bytes written: %q", raw[max(0, len(raw)-20000):])
			p.mu.Unlock()
		}
	})
	return p
}

// stty is the terminal's state as `stty -g` prints it.
func stty(t *testing.T, tty *os.File) string {
	t.Helper()
	cmd := exec.Command("stty", "-g")
	cmd.Stdin = tty
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("stty -g: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func (p *ttyProc) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// typeKeys sends keys as the keyboard would.
func (p *ttyProc) typeKeys(s string) {
	p.t.Helper()
	if _, err := io.WriteString(p.ptmx, s); err != nil {
		p.t.Fatalf("typing: %v", err)
	}
}

// waitScreen waits until ok holds for the screen; ok runs under the lock.
func (p *ttyProc) waitScreen(what string, ok func(v *vt) bool) {
	p.t.Helper()
	deadline := time.After(procTimeout)
	for {
		p.mu.Lock()
		good := ok(p.vt)
		p.mu.Unlock()
		if good {
			return
		}
		select {
		case <-p.wake:
		case <-deadline:
			p.t.Fatalf("the screen never showed %s", what)
		}
	}
}

// waitInput waits until the input row reads row with the cursor at col.
func (p *ttyProc) waitInput(row string, col int) {
	p.t.Helper()
	p.waitScreen(fmt.Sprintf("input row %q with the cursor at column %d", row, col), func(v *vt) bool {
		return v.cursorRow() == row && v.cursorCol() == col
	})
}

// waitRow waits until some row, on the screen or scrolled off, matches re.
func (p *ttyProc) waitRow(re string) {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	p.waitScreen(fmt.Sprintf("a row matching %q", re), func(v *vt) bool {
		return slices.ContainsFunc(v.lines(), rx.MatchString)
	})
}

// unwrap joins the rows the chat screen wrapped a line into: a row break
// followed by a hanging indent.
func unwrap(raw []byte) []byte {
	return regexp.MustCompile(`\r\n +`).ReplaceAll(raw, nil)
}

func (p *ttyProc) wait() int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(procTimeout):
		p.t.Fatalf("peerchat did not exit within %s", procTimeout)
	}
	return p.code
}

func (p *ttyProc) rawOutput() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Clone(p.raw.Bytes())
}

// chatPair starts alice listening in pipe mode and bob dialing her on a
// terminal, and waits until both are connected.
func chatPair(t *testing.T, env []string, bobArgs ...string) (alice *proc, bob *ttyProc) {
	t.Helper()
	dir := certsDir(t)
	alice, addr := listen(t, "--certs-dir", dir, "--name", "alice")
	args := append([]string{"dial", "--certs-dir", dir, "--name", "bob"}, bobArgs...)
	bob = startTTY(t, 24, 120, env, append(args, addr)...)
	alice.waitLine("connected to bob")
	bob.waitRow(`^\d\d:\d\d:\d\d -- connected to alice \(fingerprint [0-9A-F:]{23}\) at 127\.0\.0\.1:\d+`)
	return alice, bob
}

const clock = `\d\d:\d\d:\d\d`

func TestTTYKeepsTheDraftOnTheInputLineWhileMessagesArrive(t *testing.T) {
	alice, bob := chatPair(t, nil) // in colour: the emulator reads through it
	bob.typeKeys("half a dra")
	bob.waitInput("> half a dra", 12)

	alice.send("hello bob")
	bob.waitScreen("alice's message on its own row above the intact draft", func(v *vt) bool {
		return regexp.MustCompile(`^`+clock+` alice: hello bob$`).MatchString(v.row(v.r-1)) &&
			v.cursorRow() == "> half a dra" && v.cursorCol() == 12
	})

	bob.typeKeys("ft\r")
	alice.waitOut(`bob: half a draft$`)
	if got := transcript(t, alice.out()); len(got) != 1 || got[0] != "bob: half a draft" {
		t.Fatalf("alice received %q, want exactly the draft", got)
	}
	bob.waitScreen("bob's own line delivered, and an empty input row", func(v *vt) bool {
		return regexp.MustCompile(`^`+clock+` bob: half a draft ✓$`).MatchString(v.row(v.r-1)) && v.cursorRow() == ">" && v.cursorCol() == 2
	})
	raw := bob.rawOutput()
	if !bytes.Contains(raw, []byte(colorStyles.peer+"alice"+colorStyles.reset)) || !bytes.Contains(raw, []byte(colorStyles.self+"bob"+colorStyles.reset)) {
		t.Errorf("names are not in colour on a colour terminal")
	}

	bob.typeKeys("/quit\r")
	if code := bob.wait(); code != 0 {
		t.Fatalf("bob exited %d", code)
	}
	alice.waitLine(`^peerchat: bob left the chat$`)
}

func TestTTYHideInputShowsNothingUntilEnter(t *testing.T) {
	alice, bob := chatPair(t, []string{"NO_COLOR=1"}, "--hide-input")
	bob.waitInput("(input hidden) >", 17)
	bob.typeKeys("zqx secret\x17") // Ctrl-W: editing works unseen
	alice.send("can you see it?")
	bob.waitRow(`^` + clock + ` alice: can you see it\?$`)
	bob.typeKeys("public\r")
	alice.waitOut(`bob: zqx public$`)
	bob.waitRow(`^` + clock + ` bob: zqx public [⋅✓]$`)

	raw := bob.rawOutput()
	// The first time any of the draft reached the screen is in the
	// conversation line, after Enter.
	first := bytes.Index(raw, []byte("zqx"))
	if !bytes.HasPrefix(raw[first-len("bob: "):], []byte("bob: zqx public")) {
		t.Fatalf("the draft was echoed before Enter: %q", raw[max(0, first-80):first+20])
	}
	if bytes.Contains(raw, []byte("secret")) {
		t.Fatalf("the deleted part of the draft reached the screen")
	}
	if sgr.Match(raw) {
		t.Errorf("NO_COLOR=1, yet colours were sent")
	}
	bob.typeKeys("\x03")
	if code := bob.wait(); code != 0 {
		t.Fatalf("bob exited %d", code)
	}
}

func TestTTYEditsWideCharacters(t *testing.T) {
	alice, bob := chatPair(t, nil, "--no-color")
	bob.typeKeys("你好世界")
	bob.waitInput("> 你好世界", 10)
	bob.typeKeys("\x1b[D\x7f") // back over 界, delete 世
	bob.waitInput("> 你好界", 6)
	bob.typeKeys("们")
	bob.waitInput("> 你好们界", 8)
	bob.typeKeys("\x05！\x7f🙂") // End, a wide ！ typed and deleted, an emoji
	bob.waitInput("> 你好们界🙂", 12)
	bob.typeKeys("\r")
	alice.waitOut(`bob: 你好们界🙂$`)
	if got := transcript(t, alice.out()); len(got) != 1 || got[0] != "bob: 你好们界🙂" {
		t.Fatalf("alice received %q", got)
	}
	if sgr.Match(bob.rawOutput()) {
		t.Errorf("--no-color, yet colours were sent")
	}
}

func TestTTYShowsHostileTextAsEscapes(t *testing.T) {
	alice, bob := chatPair(t, nil)
	alice.send("clear\x1b[2J title\x1b]0;pwned\x07 cr\rover rtl\u202eevil c1\u009b31m end")
	bob.waitRow(`^` + clock + regexp.QuoteMeta(` alice: clear\x1b[2J title\x1b]0;pwned\x07 cr\x0dover rtl\u202eevil c1\u009b31m end`) + `$`)
	raw := bob.rawOutput()
	for _, bad := range []string{"\x1b[2J", "\x1b]", "\x07", "pwned\x07", "\u202e", "\u009b", "cr\rover"} {
		if bytes.Contains(raw, []byte(bad)) {
			t.Errorf("%q reached the terminal", bad)
		}
	}
	bob.mu.Lock()
	odd := bob.vt.odd
	bob.mu.Unlock()
	if len(odd) > 0 {
		t.Errorf("sequences the chat screen never sends reached the terminal: %q", odd)
	}
}

// TestTTYWrapSpoofIsIndented: alice pads a message with spaces to the
// end of bob's row and writes what looks like a line of bob's after
// them. On bob's screen it stays under her text, indented: no row starts
// with a time and "bob:", since bob sent nothing.
func TestTTYWrapSpoofIsIndented(t *testing.T) {
	alice, bob := chatPair(t, []string{"NO_COLOR=1"})
	pad := strings.Repeat(" ", 120-len("14:03:07 alice: ok"))
	alice.send("ok" + pad + "14:03:07 bob: yes, wire it ✓")
	bob.waitRow(`yes, wire it ✓$`)
	bob.mu.Lock()
	lines := bob.vt.lines()
	bob.mu.Unlock()
	t.Logf("bob's screen:\n%s", strings.Join(lines, "\n"))
	for _, l := range lines {
		if regexp.MustCompile(`^` + clock + ` bob: `).MatchString(l) {
			t.Errorf("row %q shows a line bob never sent", l)
		}
	}
	if !slices.ContainsFunc(lines, regexp.MustCompile(`^ {16}14:03:07 bob: yes, wire it ✓$`).MatchString) {
		t.Errorf("the rest of alice's message is not indented under her text")
	}
}

func TestTTYCommands(t *testing.T) {
	alice, bob := chatPair(t, []string{"NO_COLOR=1"})
	bob.typeKeys("/whois\r")
	bob.waitRow(`^` + clock + ` -- alice: certificate for "alice", valid for alice, localhost, 127\.0\.0\.1, ::1$`)
	bob.waitRow(`^` + clock + ` -- issued by "peertest CA", valid from .* until .*$`)
	bob.waitRow(`^` + clock + ` -- fingerprint \(SHA-256\) ([0-9A-F]{2}:){20}`)
	bob.waitRow(`^` + clock + ` -- at 127\.0\.0\.1:\d+ over TLS 1\.3, TLS_[A-Z0-9_]+$`)
	// The connect notice and /whois show the code alice printed.
	code := alice.waitLine(`^peerchat: connected to bob .*, safety code (\d{5} \d{5} \d{5} \d{5})$`)[1]
	safety := regexp.MustCompile(`^` + clock + ` -- safety code ` + code + ` \(alice sees the same; compare it by voice\)$`)
	bob.waitScreen("the safety code "+code+" in the connect notice and in /whois", func(v *vt) bool {
		n := 0
		for _, l := range v.lines() {
			if safety.MatchString(l) {
				n++
			}
		}
		return n == 2
	})
	bob.typeKeys("/ping\r")
	bob.waitRow(`^` + clock + ` -- round trip to alice: [0-9.]+[µm]?s$`)
	bob.typeKeys("/nope\r")
	bob.waitRow(`^` + clock + ` !! unknown command /nope; /help lists the commands, and //nope sends "/nope" as a message$`)
	bob.typeKeys("/help\r")
	bob.waitRow(`^` + clock + ` -- commands: /whois `)
	bob.typeKeys("//slash\r")
	alice.waitOut(`bob: /slash$`)
	if got := transcript(t, alice.out()); len(got) != 1 {
		t.Fatalf("commands reached alice: %q", got)
	}
	bob.typeKeys("\x1b[A\x1b[A\x1b[A\x1b[A") // history holds commands too
	bob.waitInput("> /ping", 7)
}

func TestTTYPasteSendsOneMessagePerLine(t *testing.T) {
	alice, bob := chatPair(t, []string{"NO_COLOR=1"})
	bob.typeKeys("\x1b[200~one\rtwo\r\rthree\x1b[201~")
	bob.waitInput("> three", 7)
	bob.typeKeys("\r")
	alice.waitOut(`bob: three$`)
	if got := strings.Join(transcript(t, alice.out()), "|"); got != "bob: one|bob: two|bob: three" {
		t.Fatalf("alice received %s", got)
	}
}

func TestTTYFollowsResize(t *testing.T) {
	_, bob := chatPair(t, []string{"NO_COLOR=1"})
	draft := strings.Repeat("0123456789", 6)
	bob.typeKeys(draft)
	bob.waitInput("> "+draft, 62)
	bob.mu.Lock()
	bob.vt.resize(24, 30)
	bob.mu.Unlock()
	if err := pty.Setsize(bob.ptmx, &pty.Winsize{Rows: 24, Cols: 30}); err != nil {
		t.Fatal(err)
	}
	// The draft scrolls to keep the cursor in view, in 30 columns less
	// the last one.
	bob.waitInput("> "+draft[len(draft)-27:], 29)
}

func TestTTYRestoresTheTerminal(t *testing.T) {
	needTool(t, "stty")
	tests := []struct {
		name   string
		args   []string
		end    func(alice *proc, bob *ttyProc)
		code   int
		last   string // the last notice on bob's screen
		goodby bool   // alice hears bob leave
	}{
		{"/quit", nil, func(_ *proc, bob *ttyProc) { bob.typeKeys("/quit\r") }, 0, "", true},
		{"ctrl-c", nil, func(_ *proc, bob *ttyProc) { bob.typeKeys("half\x03") }, 0, "", true},
		{"ctrl-d", nil, func(_ *proc, bob *ttyProc) { bob.typeKeys("\x04") }, 0, "", true},
		{"sigterm", nil, func(_ *proc, bob *ttyProc) { bob.cmd.Process.Signal(syscall.SIGTERM) }, 0, "", true},
		{"peer left", nil, func(alice *proc, _ *ttyProc) { alice.stdin.Close() }, 0, "-- alice left the chat", false},
		{"peer gone", []string{"--no-reconnect"}, func(alice *proc, _ *ttyProc) { alice.cmd.Process.Kill() }, exitNetwork, "!! connection lost: alice closed the connection without saying goodbye", false},
		{"heartbeat lost", []string{"--heartbeat", "50ms", "--no-reconnect"}, func(alice *proc, _ *ttyProc) { alice.stop() }, exitNetwork, "!! .*nothing from alice for", false},
		{"undelivered", []string{"--linger", "300ms"}, func(alice *proc, bob *ttyProc) {
			alice.stop() // her kernel takes the bytes, she never acknowledges them
			bob.typeKeys("are you there?\r")
			bob.waitRow(`^` + clock + ` bob: are you there\? ⋅$`)
			bob.typeKeys("/quit\r")
			bob.waitRow(`^` + clock + ` -- waiting up to 300ms for alice to acknowledge what you sent; Ctrl-C leaves now$`)
			bob.waitRow(`^` + clock + ` !! not delivered to alice: \[` + clock + `\] are you there\?$`)
		}, exitUndelivered, "!! 1 message\\(s\\) not delivered to alice$", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alice, bob := chatPair(t, []string{"NO_COLOR=1"}, tt.args...)
			defer alice.cmd.Process.Signal(syscall.SIGCONT)
			if during := stty(t, bob.tty); during == bob.sttyBefore {
				t.Fatalf("the terminal is not in raw mode during the chat")
			}
			tt.end(alice, bob)
			if code := bob.wait(); code != tt.code {
				t.Fatalf("bob exited %d, want %d", code, tt.code)
			}
			if after := stty(t, bob.tty); after != bob.sttyBefore {
				t.Fatalf("terminal state after exit:\n  %s\nbefore:\n  %s", after, bob.sttyBefore)
			}
			if after, err := term.GetState(int(bob.tty.Fd())); err != nil || !reflect.DeepEqual(after, bob.stateBefore) {
				t.Fatalf("term.GetState after exit differs from before (%v)", err)
			}
			if tt.last != "" {
				bob.waitRow(`^` + clock + ` ` + tt.last)
			}
			bob.waitScreen("the input row erased at exit", func(v *vt) bool {
				return v.cursorRow() == "" && v.cursorCol() == 0
			})
			if tt.goodby {
				alice.waitLine(`^peerchat: bob left the chat$`)
			}
		})
	}
}

func TestTTYKeepsTypingThroughAFloodOfMessages(t *testing.T) {
	const n = 10000
	alice, bob := chatPair(t, []string{"NO_COLOR=1"})
	var burst strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&burst, "flood %05d\n", i)
	}
	last := []byte(fmt.Sprintf("alice: flood %05d", n))
	sent := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := io.WriteString(alice.stdin, burst.String())
		sent <- err
	}()
	bob.waitScreen("the flood under way", func(*vt) bool {
		return bytes.Contains(bob.raw.Bytes(), []byte("alice: flood 02000"))
	})
	typed := time.Now()
	bob.typeKeys("x")
	// The input row drawn with the key, found in the byte stream: a read
	// of the terminal often ends in the middle of a batch of messages, so
	// the emulated cursor row rarely shows it while the flood goes on.
	echo := []byte("\r> x\x1b[K")
	var echoed time.Time
	bob.waitScreen("the key echoed on the input line", func(*vt) bool {
		if bytes.Contains(bob.raw.Bytes(), echo) {
			echoed = time.Now()
			return true
		}
		return false
	})
	bob.waitScreen("the last message", func(*vt) bool { return bytes.Contains(bob.raw.Bytes(), last) })
	drained := time.Since(start)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	raw := bob.rawOutput()
	after := bytes.Count(raw[bytes.Index(raw, echo):], []byte("alice: flood "))
	t.Logf("%d messages drawn in %s (%.0f/s, as read back by the test's emulator); a key typed during the flood was drawn %s later, with %d messages still to come",
		n, drained.Round(time.Millisecond), n/drained.Seconds(), echoed.Sub(typed).Round(time.Microsecond), after)
	if after == 0 {
		t.Fatalf("the key was drawn only after the whole flood")
	}
	bob.waitInput("> x", 3)
	bob.typeKeys("y\r")
	alice.waitOut(`bob: xy$`)
	bob.mu.Lock()
	lines := bob.vt.lines()
	bob.mu.Unlock()
	// Every message arrived, in order, each on its own row.
	seen := 0
	for _, l := range lines {
		if strings.Contains(l, "alice: flood ") {
			seen++
			if want := fmt.Sprintf("alice: flood %05d", seen); !strings.HasSuffix(l, want) {
				t.Fatalf("row %q, want one ending %q", l, want)
			}
		}
	}
	if seen != n {
		t.Fatalf("%d of %d messages on screen", seen, n)
	}
}

func TestRawTerminalIsRestoredOnPanic(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()
	fd := int(tty.Fd())
	before, err := term.GetState(fd)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := makeRaw(fd)
	if err != nil {
		t.Fatal(err)
	}
	during, _ := term.GetState(fd)
	if fmt.Sprint(*during) == fmt.Sprint(*before) {
		t.Fatal("makeRaw changed nothing")
	}
	// A goroutine of the chat panics: its guard restores the terminal,
	// then the panic goes on.
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		defer raw.guard()
		panic("boom")
	}()
	if v := <-recovered; v != "boom" {
		t.Fatalf("the panic became %v", v)
	}
	after, _ := term.GetState(fd)
	if fmt.Sprint(*after) != fmt.Sprint(*before) {
		t.Fatalf("terminal not restored after a panic")
	}
	raw.restore() // again: harmless
}

// BenchmarkRenderPTY is BenchmarkRender with a real terminal device as
// the sink, drained on the other side as a terminal window would.
func BenchmarkRenderPTY(b *testing.B) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		b.Fatal(err)
	}
	drained := make(chan struct{})
	go func() {
		io.Copy(io.Discard, ptmx)
		close(drained)
	}()
	b.Cleanup(func() {
		tty.Close()
		ptmx.Close()
		<-drained
	})
	if _, err := term.MakeRaw(int(tty.Fd())); err != nil {
		b.Fatal(err)
	}
	m := benchMessage()
	var one bytes.Buffer
	sc := benchScreen()
	sc.message(m)
	sc.flush(&one)
	b.Run("screen", func(b *testing.B) {
		sc := benchScreen()
		b.SetBytes(int64(one.Len()))
		for b.Loop() {
			sc.message(m)
			sc.flush(tty)
		}
	})
	b.Run("direct", func(b *testing.B) {
		b.SetBytes(int64(one.Len()))
		for b.Loop() {
			tty.Write(one.Bytes())
		}
	})
	b.Run("screen/batch100", func(b *testing.B) {
		sc := benchScreen()
		for b.Loop() {
			for range 100 {
				sc.message(m)
			}
			sc.flush(tty)
		}
	})
}

func TestTTYListenerShowsNoticesInTheConversation(t *testing.T) {
	dir := certsDir(t)
	alice, addr := listenTTY(t, 120, dir)
	bob := start(t, "dial", "--certs-dir", dir, "--name", "bob", addr)
	bob.waitLine("connected to alice")
	alice.waitRow(`^` + clock + ` -- connected to bob `)
	alice.typeKeys("draft")
	alice.waitInput("> draft", 7)
	// A second caller is refused while alice chats: the listener's notice
	// joins the conversation instead of writing across the screen.
	_, stderr, code := runPeerchat(t, "", "dial", "--certs-dir", dir, "--name", "bob", addr)
	if code != exitNetwork {
		t.Fatalf("second caller exited %d: %s", code, stderr)
	}
	alice.waitRow(`^` + clock + ` -- refused 127\.0\.0\.1:\d+: `)
	alice.waitInput("> draft", 7)
	bob.send("hi alice")
	alice.waitRow(`^` + clock + ` bob: hi alice$`)
	alice.typeKeys("\x15\x04") // Ctrl-U, then Ctrl-D on the empty line
	if code := alice.wait(); code != 0 {
		t.Fatalf("alice exited %d", code)
	}
	bob.waitLine(`^peerchat: alice left the chat$`)
}

// TestTTYSendsAFile: /send delivers a file to a listener with
// --accept-files while the chat goes on, and reports it verified.
func TestTTYSendsAFile(t *testing.T) {
	dir := certsDir(t)
	down := t.TempDir()
	alice, addr := listen(t, "--certs-dir", dir, "--name", "alice", "--accept-files", "--download-dir", down)
	bob := startTTY(t, 24, 120, []string{"NO_COLOR=1"}, "dial", "--certs-dir", dir, "--name", "bob", addr)
	alice.waitLine("connected to bob")
	bob.waitRow(`^` + clock + ` -- connected to alice`)
	src := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(src, []byte("some notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bob.typeKeys("/send " + src + "\r")
	bob.typeKeys("while it goes\r")
	bob.waitRow(`^` + clock + ` -- sending notes\.txt \(11 bytes\) to alice as #1; /cancel 1 stops it$`)
	bob.waitRow(`^` + clock + ` -- sent notes\.txt to alice: 11 bytes in \S+ at \S+ \S+/s, verified$`)
	alice.waitOut(`bob: while it goes$`)
	alice.waitLine(`^peerchat: received notes\.txt from bob: 11 bytes in .*, verified, saved as `)
	if b, err := os.ReadFile(filepath.Join(down, "notes.txt")); err != nil || string(b) != "some notes\n" {
		t.Fatalf("received %q, %v", b, err)
	}
	bob.typeKeys("/send /nonexistent\r")
	bob.waitRow(`^` + clock + ` !! stat /nonexistent: no such file or directory$`)
	bob.typeKeys("/cancel\r")
	bob.waitRow(`^` + clock + ` !! no file is being sent or received$`)
	bob.typeKeys("/cancel 1\r")
	bob.waitRow(`^` + clock + ` !! no file #1 is being sent or received$`)
}

// TestTTYPicksUpWhereTheLastChatLeftOff: a second chat with alice shows
// the end of the first one, dimmed, and /history shows more on demand.
func TestTTYPicksUpWhereTheLastChatLeftOff(t *testing.T) {
	env := []string{"PEERCHAT_NO_HISTORY=", "PEERCHAT_HISTORY=" + filepath.Join(t.TempDir(), "bob.db")}
	alice, bob := chatPair(t, env)
	alice.send("first talk")
	bob.waitRow(`^` + clock + ` alice: first talk$`)
	bob.typeKeys("my reply\r")
	alice.waitOut(`bob: my reply$`)
	bob.typeKeys("/quit\r")
	if code := bob.wait(); code != 0 {
		t.Fatalf("bob exited %d", code)
	}

	_, bob = chatPair(t, env)
	bob.waitRow(`^\[\d{4}-\d\d-\d\d ` + clock + `\] alice: first talk$`)
	bob.waitRow(`^\[\d{4}-\d\d-\d\d ` + clock + `\] bob: my reply$`)
	bob.typeKeys("/history 1\r")
	bob.waitRow(`-- the last 1 lines with alice:$`)
	bob.typeKeys("/quit\r")
	if code := bob.wait(); code != 0 {
		t.Fatalf("bob exited %d", code)
	}
	if n := strings.Count(string(bob.rawOutput()), "] bob: my reply"); n != 2 {
		t.Errorf("the last line was shown %d times, want twice (on connect, /history 1)", n)
	}
}

// TestTTYGoesOnWithoutAnUnusableHistory: the notice is on the chat
// screen, and the chat works.
func TestTTYGoesOnWithoutAnUnusableHistory(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bob.db")
	if err := os.WriteFile(bad, []byte(strings.Repeat("garbage ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	alice, bob := chatPair(t, []string{"PEERCHAT_NO_HISTORY=", "PEERCHAT_HISTORY=" + bad})
	bob.waitRow(`!! history off: history database `)
	if !strings.Contains(string(bob.rawOutput()), "is not a database") {
		t.Errorf("the notice does not say what is wrong with the file")
	}
	bob.typeKeys("/history\r")
	bob.waitRow(`!! history is off$`)
	bob.typeKeys("still here\r")
	alice.waitOut(`bob: still here$`)
	bob.typeKeys("/quit\r")
	if code := bob.wait(); code != 0 {
		t.Fatalf("bob exited %d", code)
	}
}
