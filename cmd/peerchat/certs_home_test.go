package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"peerchat/peer/peertest"
)

// runIn runs peerchat to completion in the working directory dir, with
// env added to the environment.
func runIn(t *testing.T, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(peerchatBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

// fakeCheckout makes a directory that looks like a peerchat checkout to
// the hints: scripts/gen-certs.sh and a Makefile with a certs target.
func fakeCheckout(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "scripts", "gen-certs.sh"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Makefile"), []byte("certs:\n\tscripts/gen-certs.sh -d certs $(PEERS)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestDefaultCertsDirIsInTheConfigDir: without --certs-dir, peerchat finds
// the identity in the config directory, from any working directory.
func TestDefaultCertsDirIsInTheConfigDir(t *testing.T) {
	cfg := t.TempDir()
	home := filepath.Join(cfg, "peerchat", "certs")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	pki := peertest.NewPKIIn(t, home, "peertest CA")
	pki.Issue(t, peertest.Leaf{Name: "alice"})
	for _, wd := range []string{t.TempDir(), fakeCheckout(t)} {
		stdout, stderr, code := runIn(t, wd, []string{"XDG_CONFIG_HOME=" + cfg}, "certs", "check")
		if code != 0 || !strings.Contains(stdout, "checking certificate "+filepath.Join(home, "alice.crt")) {
			t.Errorf("certs check in %s: exit %d\n%s%s", wd, code, stdout, stderr)
		}
	}
}

// TestCertificateHintsWorkWhereTheUserIs: every hint that says how to make
// certificates gives a command that works from the working directory, for
// the certs dir in use.
func TestCertificateHintsWorkWhereTheUserIs(t *testing.T) {
	cfg := t.TempDir()
	env := []string{"XDG_CONFIG_HOME=" + cfg}
	home := filepath.Join(cfg, "peerchat", "certs")
	elsewhere := t.TempDir()
	checkout := fakeCheckout(t)
	withCerts := fakeCheckout(t)
	pki := peertest.NewPKIIn(t, mkdir(t, filepath.Join(withCerts, "certs")), "peertest CA")
	pki.Issue(t, peertest.Leaf{Name: "alice"})
	pki.Issue(t, peertest.Leaf{Name: "bob"})
	scriptCerts := t.TempDir()
	peertest.NewPKIIn(t, mkdir(t, filepath.Join(scriptCerts, "certs")), "peertest CA").Issue(t, peertest.Leaf{Name: "alice"})
	noKey := peertest.NewPKI(t)
	noKey.Issue(t, peertest.Leaf{Name: "carol"})
	os.Remove(filepath.Join(noKey.Dir, "carol.key"))

	tests := []struct {
		name, wd string
		args     []string
		want     string
	}{
		{"no certificates, outside a checkout", elsewhere, []string{"dial", "localhost"},
			"no certificates in " + home + "/; run `gen-certs.sh -d " + home + " YOURNAME`"},
		{"no certificates, checkout's certs dir", checkout, []string{"dial", "--certs-dir", "certs", "localhost"},
			"run `make certs`"},
		{"no certificates, checkout, default dir", checkout, []string{"dial", "localhost"},
			"run `scripts/gen-certs.sh -d " + home + " YOURNAME`"},
		{"no certificates, checkout holding some", withCerts, []string{"dial", "localhost"},
			"certs/ here holds alice, bob: pass --certs-dir certs (as make listen and make dial do)"},
		{"a name, checkout holding some", withCerts, []string{"dial", "--name", "alice", "localhost"},
			"no certificates in " + home + "/; certs/ here holds alice, bob: pass --certs-dir certs (as make listen and make dial do)"},
		{"a name, certs/ made by gen-certs.sh outside a checkout", scriptCerts, []string{"listen", "--name", "alice"},
			"no certificates in " + home + "/; certs/ here holds alice: pass --certs-dir certs, or run `gen-certs.sh -d " + home + " YOURNAME`"},
		{"unknown name, checkout's certs dir", withCerts, []string{"dial", "--certs-dir", "certs", "--name", "carol", "localhost"},
			"make one with `make certs PEERS=carol`"},
		{"unknown name, elsewhere", elsewhere, []string{"certs", "check", "--certs-dir", pki.Dir, "--name", "carol"},
			"make one with `gen-certs.sh -d " + pki.Dir + " carol`"},
		{"missing key, elsewhere", elsewhere, []string{"certs", "check", "--certs-dir", noKey.Dir, "--name", "carol"},
			"run `gen-certs.sh -d " + noKey.Dir + " carol`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := runIn(t, tt.wd, env, tt.args...)
			if code != exitTrust || !strings.Contains(stderr, tt.want) {
				t.Errorf("peerchat %s: exit %d, stderr:\n%s\nwant exit %d and %q", strings.Join(tt.args, " "), code, stderr, exitTrust, tt.want)
			}
			if strings.Contains(stderr, "make certs") && tt.wd != withCerts && !strings.Contains(strings.Join(tt.args, " "), "--certs-dir certs") {
				t.Errorf("a hint says make certs where it cannot work:\n%s", stderr)
			}
		})
	}
}

func mkdir(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}
