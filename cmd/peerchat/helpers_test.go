package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// The CLI tests run the real binary, built once by TestMain, as two
// processes chatting over loopback with certificates made in the test.

var peerchatBin string

// TestMain is also peerchat itself: the scripts in testdata/script
// (script_test.go) run this test binary under the name peerchat, and
// testscript.Main then calls main instead of the tests.
func TestMain(m *testing.M) {
	testscript.Main(buildFirst{m}, map[string]func(){"peerchat": main})
}

// buildFirst runs the tests after building the binary they run.
type buildFirst struct{ m *testing.M }

func (b buildFirst) Run() int {
	dir, err := os.MkdirTemp("", "peerchat-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	peerchatBin = filepath.Join(dir, "peerchat")
	build := exec.Command("go", "build", "-race", "-o", peerchatBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building peerchat:", err)
		return 1
	}
	// The race detector makes a process that exits 0 sleep a second first,
	// for late reports; races are reported without it.
	os.Setenv("GORACE", "atexit_sleep_ms=0")
	// No test writes a history into the real home directory: the tests
	// that want one name its file; the others record nothing.
	os.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	// Nor reads or writes contacts, a config file, certificates or the
	// remembered CRL numbers there.
	os.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	os.Setenv("PEERCHAT_NO_HISTORY", "1")
	return b.m.Run()
}

const procTimeout = 20 * time.Second

// proc is a running peerchat whose stderr is read line by line, so that a
// test can wait for a notice instead of sleeping.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout bytes.Buffer

	mu     sync.Mutex
	lines  []string
	wake   chan struct{} // poked when a line arrives or stderr ends
	closed bool
	done   chan struct{}
	code   int
}

// start runs peerchat with args; stdin is a pipe the test writes to.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	return startEnv(t, nil, args...)
}

// startEnv is start with env added to the environment.
func startEnv(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(peerchatBin, args...)
	cmd.Env = append(append(os.Environ(), "NO_COLOR=1"), env...)
	return startCmd(t, cmd, args)
}

// startCmd is start for a command made by the caller: peerchat, or a
// shell that sets limits and then runs peerchat with args.
func startCmd(t *testing.T, cmd *exec.Cmd, args []string) *proc {
	t.Helper()
	p := &proc{t: t, cmd: cmd, wake: make(chan struct{}, 1), done: make(chan struct{})}
	p.cmd.Stdout = &syncWriter{w: &p.stdout, mu: &p.mu, poke: p.poke}
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			p.poke()
		}
		err := p.cmd.Wait()
		p.mu.Lock()
		p.closed = true
		p.code = p.cmd.ProcessState.ExitCode()
		_ = err
		p.mu.Unlock()
		close(p.done)
		p.poke()
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s stderr:\n%s\nstdout:\n%s", filepath.Base(args[0]), p.stderr(), p.out())
		}
	})
	return p
}

func (p *proc) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

type syncWriter struct {
	w    io.Writer
	mu   *sync.Mutex
	poke func() // if set, called after each write
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	n, err := s.w.Write(b)
	s.mu.Unlock()
	if s.poke != nil {
		s.poke()
	}
	return n, err
}

// waitLine waits for a stderr line matching re and returns its submatches.
func (p *proc) waitLine(re string) []string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(procTimeout)
	seen := 0
	for {
		p.mu.Lock()
		lines, closed := p.lines, p.closed
		p.mu.Unlock()
		for ; seen < len(lines); seen++ {
			if m := rx.FindStringSubmatch(lines[seen]); m != nil {
				return m
			}
		}
		if closed {
			p.t.Fatalf("peerchat exited without printing %q; stderr:\n%s", re, strings.Join(lines, "\n"))
		}
		select {
		case <-p.wake:
		case <-deadline:
			p.t.Fatalf("no %q within %s; stderr:\n%s", re, procTimeout, strings.Join(lines, "\n"))
		}
	}
}

// waitOut waits until the transcript on stdout holds a line matching re.
func (p *proc) waitOut(re string) []string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(procTimeout)
	for {
		p.mu.Lock()
		out, closed := p.stdout.String(), p.closed
		p.mu.Unlock()
		for _, line := range strings.Split(out, "\n") {
			if m := rx.FindStringSubmatch(line); m != nil {
				return m
			}
		}
		if closed {
			p.t.Fatalf("peerchat exited without printing %q on stdout:\n%s", re, out)
		}
		select {
		case <-p.wake:
		case <-deadline:
			p.t.Fatalf("no %q on stdout within %s:\n%s", re, procTimeout, out)
		}
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait() int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(procTimeout):
		p.t.Fatalf("peerchat did not exit within %s; stderr:\n%s", procTimeout, p.stderr())
	}
	return p.code
}

func (p *proc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

func (p *proc) out() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

func (p *proc) send(lines ...string) {
	p.t.Helper()
	for _, l := range lines {
		if _, err := io.WriteString(p.stdin, l+"\n"); err != nil {
			p.t.Fatalf("writing to peerchat: %v", err)
		}
	}
}

// listen starts a listener on a free port and returns it and its address.
func listen(t *testing.T, args ...string) (*proc, string) {
	t.Helper()
	p := start(t, append([]string{"listen", "--addr", "127.0.0.1:0"}, args...)...)
	m := p.waitLine(`listening on (\S+) as`)
	return p, m[1]
}

// runPeerchat runs peerchat to completion with the given stdin.
func runPeerchat(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runPeerchatEnv(t, nil, stdin, args...)
}

// runPeerchatEnv is runPeerchat with env added to the environment.
func runPeerchatEnv(t *testing.T, env []string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(peerchatBin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan struct{})
	timer := time.AfterFunc(procTimeout, func() { cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Run()
	close(done)
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

// needTool skips a test whose outside tool is missing, saying so; under CI
// (CI set), where .ci/run installs every tool, it fails instead, so that a
// skip can never pass for a test that ran.
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed; .ci/run should have installed it", name)
	}
	t.Skipf("%s is not installed; install it to run this test", name)
}
