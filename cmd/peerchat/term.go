package main

import (
	"io"
	"os"
	"sync"

	"golang.org/x/term"
)

// The terminal's modes and size come from golang.org/x/term (MakeRaw,
// Restore, GetSize, IsTerminal): the Go team's package, with the termios
// ioctls of every Unix and the console calls of Windows behind one API.
// Those per-system tables are exactly the code we should not own; we use
// nothing else of it (its line editor miscounts wide characters, see
// editor.go).

// rawTerminal owns the terminal's mode while the interactive chat runs:
// it puts it in raw mode and is the one place that puts it back. restore
// may be called any number of times, from any goroutine; the runner defers
// it, and every goroutine of the chat defers guard, so that a panic
// anywhere restores the terminal before the program dies.
type rawTerminal struct {
	fd    int
	mu    sync.Mutex
	saved *term.State // nil once restored
}

func makeRaw(fd int) (*rawTerminal, error) {
	saved, err := term.MakeRaw(fd)
	if err != nil {
		return nil, err
	}
	return &rawTerminal{fd: fd, saved: saved}, nil
}

// restore puts the terminal back as it was found.
func (r *rawTerminal) restore() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.saved == nil {
		return nil
	}
	err := term.Restore(r.fd, r.saved)
	r.saved = nil
	return err
}

// guard, deferred at the top of a goroutine, restores the terminal if the
// goroutine panics, then lets the panic go on.
func (r *rawTerminal) guard() {
	if v := recover(); v != nil {
		r.restore()
		panic(v)
	}
}

// terminals returns stdin and stdout as files when both are terminals:
// then peerchat is interactive.
func terminals(in io.Reader, out io.Writer) (*os.File, *os.File, bool) {
	fi, ok := in.(*os.File)
	if !ok {
		return nil, nil, false
	}
	fo, ok := out.(*os.File)
	if !ok {
		return nil, nil, false
	}
	return fi, fo, term.IsTerminal(int(fi.Fd())) && term.IsTerminal(int(fo.Fd()))
}

// terminalSize is the size of the terminal on fd, or 80×24 if it cannot
// be known.
func terminalSize(fd int) (width, height int) {
	w, h, err := term.GetSize(fd)
	if err != nil || w <= 0 || h <= 0 {
		return 80, 24
	}
	return w, h
}
