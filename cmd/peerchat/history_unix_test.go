//go:build unix

package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestHistoryKeepsWhatWasNotDelivered: bob's line that alice never
// acknowledged is recorded, as undelivered.
func TestHistoryKeepsWhatWasNotDelivered(t *testing.T) {
	dir := certsDir(t)
	db := filepath.Join(t.TempDir(), "bob.db")
	l, addr := listen(t, "--certs-dir", dir, "--name", "alice")
	d := startEnv(t, []string{"PEERCHAT_NO_HISTORY=", "PEERCHAT_HISTORY=" + db},
		"dial", "--certs-dir", dir, "--name", "bob", "--linger", "100ms", addr)
	d.waitLine("connected to alice")
	l.waitLine("connected to bob")
	l.stop() // alice stops reading: nothing is acknowledged
	d.send("into the void")
	d.stdin.Close()
	d.waitLine(`not delivered to alice: .*into the void`)
	d.wait()
	got := runHistory(t, db, "--json")
	if len(got) != 1 || !strings.Contains(got[0], `"text":"into the void","delivered":false`) {
		t.Errorf("bob's history: %q", got)
	}
}
