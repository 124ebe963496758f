package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"peerchat/peer/peertest"
)

// TestScript runs the scripts in testdata/script: peerchat's usage, help
// and exit codes, one command at a time, as a user at a shell would see
// them. `peerchat` there is this test binary running main (see TestMain).
// Conversations between two peers are Go tests: a script cannot wait for
// the other side.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Setup: func(env *testscript.Env) error {
			// Nothing a script runs reads or writes the user's own
			// config, certificates, contacts or history.
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(env.WorkDir, ".config"))
			env.Setenv("XDG_DATA_HOME", filepath.Join(env.WorkDir, ".local", "share"))
			env.Setenv("NO_COLOR", "1")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"pki": func(ts *testscript.TestScript, neg bool, args []string) {
				scriptPKI(scriptTB{t, ts}, neg, args)
			},
			"status": scriptStatus,
		},
	})
}

// scriptPKI is the script command `pki DIR NAME...`: a CA in DIR and a
// certificate and key for each NAME, laid out as `make certs` lays out
// certs/ (peertest.PKI).
func scriptPKI(t scriptTB, neg bool, args []string) {
	ts := t.ts
	if neg || len(args) < 2 {
		ts.Fatalf("usage: pki DIR NAME...")
	}
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o700))
	pki := peertest.NewPKIIn(t, dir, "script CA")
	for _, name := range args[1:] {
		pki.Issue(t, peertest.Leaf{Name: name})
	}
}

// scriptStatus is the script command `status CODE COMMAND [ARG...]`: it
// runs COMMAND as exec does and fails unless it exits with CODE, so that
// a script asserts the exit code itself and not only that it was not 0.
func scriptStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status CODE COMMAND [ARG...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("status: %q is not an exit code", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = exit.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// scriptTB is a testing.TB for peertest inside a script: its failures
// end the script through testscript rather than from under it. TB is
// TestScript's own t, there only for the methods peertest's PKI does not
// call (it calls Helper, Fatal and Fatalf).
type scriptTB struct {
	testing.TB
	ts *testscript.TestScript
}

func (t scriptTB) Helper()                           {}
func (t scriptTB) Fatal(args ...any)                 { t.ts.Fatalf("%s", fmt.Sprint(args...)) }
func (t scriptTB) Fatalf(format string, args ...any) { t.ts.Fatalf(format, args...) }
