// Command peerchat is a one-to-one chat between two machines over TLS 1.3
// with mutual certificate authentication. See README.md, or run
// `peerchat help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// A signal cancels the context; the chat then says goodbye, restores
	// the terminal and returns, so deferred cleanup always runs.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
