package peer_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the package's tests when goroutines started by package
// peer, or by the tests' helpers, still run after every test has cleaned
// up: each goroutine must have an owner that ends it.
func TestMain(m *testing.M) {
	if role := os.Getenv("PEERCHAT_BENCH_ROLE"); role != "" && benchPeerMain != nil {
		os.Exit(benchPeerMain(role))
	}
	code := m.Run()
	if code == 0 {
		if leaked := leftGoroutines(5 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines still running after the tests:\n\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// benchPeerMain, where a benchmark runs sides of itself in processes of
// their own, runs the side PEERCHAT_BENCH_ROLE names instead of the tests.
var benchPeerMain func(role string) int

// leftGoroutines returns the stacks of the goroutines that run code of
// this module, once they have had up to grace to finish (a closed
// connection's goroutines may need a moment to return).
func leftGoroutines(grace time.Duration) string {
	deadline := time.Now().Add(grace)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var left []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "peerchat/peer") && !strings.Contains(g, "leftGoroutines") && !strings.Contains(g, "testing.(*M).Run") {
				left = append(left, g)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return strings.Join(left, "\n\n")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
