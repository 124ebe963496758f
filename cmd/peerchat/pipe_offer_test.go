package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"peerchat/peer"
	"peerchat/peer/peertest"
)

// TestPipeModeRefusesOffersItCannotAsk: a chat screen asks about each
// offer (Config.ConfirmFiles); when the terminal cannot be put in raw
// mode, chatTTY falls back to pipe mode with that configuration, where
// nobody can answer. The offer must be refused, not left waiting.
func TestPipeModeRefusesOffersItCannotAsk(t *testing.T) {
	pki := peertest.NewPKI(t)
	alice, bob := pki.Identity(t, "alice"), pki.Identity(t, "bob")
	l, err := peer.Listen("127.0.0.1:0", peer.Config{Identity: alice, DownloadDir: t.TempDir(), ConfirmFiles: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	accepted := make(chan *peer.Session, 1)
	go func() {
		s, _ := l.Accept(ctx)
		accepted <- s
	}()
	ds, err := peer.Dial(ctx, l.Addr().String(), peer.Config{Identity: bob})
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	go func() {
		for {
			if _, err := ds.Next(); err != nil {
				return
			}
		}
	}()
	ls := <-accepted
	if ls == nil {
		t.Fatal("no session")
	}

	var stderr bytes.Buffer
	u := &ui{stdout: &bytes.Buffer{}, stderr: &syncWriter{w: &stderr, mu: new(sync.Mutex), poke: func() {}}}
	in, stdin := io.Pipe() // input stays open: the chat goes on
	defer stdin.Close()
	chatDone := make(chan error, 1)
	go func() { chatDone <- chat(ctx, ls, in, u, time.Second, false, nil) }()

	src, _ := writeRandom(t, t.TempDir(), "x.bin", 1000)
	err = ds.SendFile(ctx, src, nil)
	if !errors.Is(err, peer.ErrFileRefused) {
		t.Errorf("SendFile: %v, want refused", err)
	}
	// The sender's side can say what to ask for.
	if got, want := senderAdvice(err, "alice"), "; ask alice to run with --accept-files"; got != want {
		t.Errorf("advice for %v: %q, want %q", err, got, want)
	}
	ds.Close()
	<-chatDone
	if !strings.Contains(stderr.String(), "refused x.bin from bob") {
		t.Errorf("the receiver did not say it refused the file:\n%s", stderr.String())
	}
}
