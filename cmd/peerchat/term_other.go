//go:build !unix

package main

import "os"

// notifyResize has no SIGWINCH to listen to here: the size is read once,
// at the start, and on Ctrl-L.
func notifyResize() (c <-chan os.Signal, stop func()) {
	return nil, func() {}
}
