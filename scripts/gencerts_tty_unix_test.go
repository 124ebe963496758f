//go:build unix

package scripts_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// signOnATerminal runs gen-certs.sh with args in a pseudo-terminal, as the
// CA's holder would at a prompt, waits for the question, types answer and
// returns all the script wrote and its exit code. It fails the test if the
// script ends, or 30 seconds pass, without asking.
func signOnATerminal(t *testing.T, answer string, args ...string) (string, int) {
	t.Helper()
	script, err := filepath.Abs(genCertsScript)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), script, args...)
	tty, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()

	// The reader keeps all that was written, and says when more came and
	// when the terminal closed (EIO once the script has gone).
	var (
		mu   sync.Mutex
		out  strings.Builder
		more = make(chan struct{}, 1)
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			select {
			case more <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	text := func() string {
		mu.Lock()
		defer mu.Unlock()
		return out.String()
	}
	exitCode := func() int {
		var exit *exec.ExitError
		if err := cmd.Wait(); errors.As(err, &exit) {
			return exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0
	}

	deadline := time.After(30 * time.Second)
	for !strings.Contains(text(), "[y/N] ") {
		select {
		case <-more:
		case <-done:
			if !strings.Contains(text(), "[y/N] ") {
				t.Fatalf("sign on a terminal ended (exit %d) without asking [y/N]:\n%s", exitCode(), text())
			}
		case <-deadline:
			t.Fatalf("sign on a terminal did not ask [y/N] within 30s:\n%s", text())
		}
	}
	if _, err := tty.Write([]byte(answer + "\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-deadline:
		t.Fatalf("sign did not end within 30s of the answer %q:\n%s", answer, text())
	}
	return text(), exitCode()
}

// TestGenCertsSignAsksOnATerminal: without -F, at a terminal, sign shows
// the request's key fingerprint and signs only once told yes.
func TestGenCertsSignAsksOnATerminal(t *testing.T) {
	needOpenSSL(t)
	caDir, bobDir := t.TempDir(), t.TempDir()
	mustGenCerts(t, "-d", caDir, "alice")
	mustGenCerts(t, "-d", bobDir, "request", "bob")
	csr := filepath.Join(bobDir, "bob.csr")
	crt := filepath.Join(caDir, "bob.crt")
	fp := keyFingerprint(t, filepath.Join(bobDir, "bob.key"))

	for _, tc := range []struct {
		answer   string
		wantCode int
		wantOut  string
	}{
		{"n", 1, "gen-certs: nothing written: not confirmed; once bob has read you the fingerprint"},
		{"", 1, "nothing written: not confirmed"},
		{"yes please", 1, "nothing written: not confirmed"},
		{"y", 0, "signed " + crt + " for bob"},
	} {
		t.Run("answer "+tc.answer, func(t *testing.T) {
			out, code := signOnATerminal(t, tc.answer, "-d", caDir, "sign", csr)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d\n%s", code, tc.wantCode, out)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("output lacks %q:\n%s", tc.wantOut, out)
			}
			if got := printedFingerprint(t, out); got != fp {
				t.Errorf("sign showed the fingerprint %s, want the key's %s", got, fp)
			}
			_, err := os.Stat(crt)
			if tc.wantCode != 0 && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("bob.crt written without a yes (%v)", err)
			}
			if tc.wantCode == 0 {
				if got := pubFingerprint(t, readCert(t, crt).PublicKey); got != fp {
					t.Errorf("bob.crt holds the key %s, want bob's %s", got, fp)
				}
			}
		})
	}
}
