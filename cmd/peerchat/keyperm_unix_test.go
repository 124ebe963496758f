//go:build unix

package main

import (
	"os"
	"strings"
	"testing"
)

// TestKeyReadableByOthersIsRefused: as OpenSSH does, peerchat refuses a
// private key that group or others may read, exit 3, with the chmod that
// fixes it; certs check reports it as a problem; after the chmod, it is
// usable.
func TestKeyReadableByOthersIsRefused(t *testing.T) {
	dir := certsDir(t)
	key := dir + "/alice.key"
	if err := os.Chmod(key, 0o640); err != nil {
		t.Fatal(err)
	}
	verdict := "peerchat: private key " + key + " is readable by group/others (mode 0640); only its owner may read it: run `chmod 600 " + key + "`"
	for _, cmd := range [][]string{
		{"certs", "check", "--certs-dir", dir, "--name", "alice"},
		{"listen", "--addr", "127.0.0.1:0", "--certs-dir", dir, "--name", "alice"},
		{"dial", "--certs-dir", dir, "--name", "alice", "127.0.0.1:1"},
	} {
		stdout, stderr, code := runPeerchat(t, "", cmd...)
		if code != exitTrust || lastLine(stderr) != verdict {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant exit %d and\n%s", cmd[0], code, stderr, exitTrust, verdict)
		}
		if cmd[0] == "certs" && !strings.Contains(stdout, "\nFAIL  "+strings.TrimPrefix(verdict, "peerchat: ")+"\n") {
			t.Errorf("certs check does not report it:\n%s", stdout)
		}
	}
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	if stdout, _, code := runPeerchat(t, "", "certs", "check", "--certs-dir", dir, "--name", "alice"); code != 0 {
		t.Errorf("after chmod 600: exit %d:\n%s", code, stdout)
	}
}
