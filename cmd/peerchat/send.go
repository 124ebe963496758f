package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"peerchat/peer"
)

func sendCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:  "send",
		Usage: "connect to a listening peer, send files, and wait until the peer has verified each",
		Description: "The listener takes the files if it runs with --accept-files; on a chat screen\n" +
			"its user is asked (/accept, /reject); in pipe mode without --accept-files every\n" +
			"file is refused. Each file is hashed (BLAKE3) while it is sent and verified by\n" +
			"the receiver, which writes it to a partial file and never replaces an existing file.\n" +
			"After a dropped connection, or when the same send is run again, the transfer\n" +
			"resumes where it stopped. When stderr is a terminal it shows the progress.\n" +
			"Exit status: 0 only if every file arrived intact; 5 if some file was refused,\n" +
			"stopped or interrupted; 4 if the connection was lost for good.",
		ArgsUsage: "CONTACT|HOST[:PORT] FILE...",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "no-reconnect",
				Usage: "after a connection breaks, give up (exit 4) instead of reconnecting and resuming the transfer; by default send reconnects until the receiver is back or it is interrupted"},
		}, sessionFlags()...),
		OnUsageError: onUsageError,
		Action:       func(c *cli.Context) error { return sendAction(c, u) },
	}
}

func sendAction(c *cli.Context, u *ui) error {
	if c.Args().Len() < 2 {
		return usagef("send needs the listener's address and at least one file: peerchat send [flags] HOST[:PORT] FILE..., e.g. peerchat send --name bob localhost notes.txt")
	}
	args := c.Args().Slice()
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "-") {
			return usagef("flags go before the address: put %s before %s", a, args[0])
		}
	}
	to, err := resolveTarget(c, args[0])
	if err != nil {
		return err
	}
	files := args[1:]
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return fmt.Errorf("cannot send %s: %w", f, err)
		}
		if !fi.Mode().IsRegular() {
			return usagef("cannot send %s: not a regular file", f)
		}
	}
	cfg, err := sessionConfig(c, u)
	if err != nil {
		return err
	}
	if err := to.apply(c, &cfg); err != nil {
		return err
	}
	s, err := peer.Dial(c.Context, to.addr, cfg)
	if err != nil {
		if c.Context.Err() != nil {
			return nil
		}
		return to.explain(c, wordTrustError(c, cfg, networkOrTrust(err)))
	}
	defer s.Close()
	if err := rememberPeer(c, u, s); err != nil {
		return err
	}
	u.connected(s)
	peerName := sanitize(s.Peer().Name)

	// Answers to the offers are read by Next; so is reconnection.
	ended := make(chan error, 1)
	go func() {
		for {
			ev, err := s.Next()
			if err != nil {
				ended <- err
				return
			}
			if m, ok := arrived(ev, time.Now()).(*incoming); ok {
				u.message(m)
			} else if text, ok := connectionNotice(ev, peerName); ok {
				u.notice("%s", text)
			}
		}
	}()

	failed := 0
	for i, f := range files {
		name := filepath.Base(f)
		var size int64
		if fi, err := os.Stat(f); err == nil {
			size = fi.Size()
		}
		m := newMeter(name, size, time.Now())
		report := progressReporter(u, m, peerName)
		accepted := false // the receiver took the file: it keeps what arrives
		saved := ""
		err := s.SendFile(c.Context, f, func(p peer.FileProgress) {
			accepted = accepted || p.Start
			if p.SavedAs != "" {
				saved = p.SavedAs
			}
			report(p)
		})
		if err == nil {
			u.notice("sent %s to %s: %s, verified%s", m.name, peerName, m.summary(time.Now()), savedAs(name, saved, peerName))
			continue
		}
		// What arrived stays with the receiver, in a partial file: the same
		// command run again continues from there.
		resume := ""
		switch {
		case accepted && m.done >= m.size && c.Context.Err() != nil:
			// All of it was sent: the receiver may well have it whole,
			// and sending it again would then make a second copy.
			resume = fmt.Sprintf(" (all of it was sent; %s was verifying it and may have it intact)", peerName)
		case accepted:
			resume = fmt.Sprintf("; %s keeps what arrived, and sending it again resumes from there", peerName)
		}
		if c.Context.Err() != nil || s.Err() != nil {
			// Interrupted or disconnected: no later file can go either.
			if rest := len(files) - i - 1; rest > 0 {
				resume += fmt.Sprintf("; %d more file(s) not sent", rest)
			}
			if c.Context.Err() != nil {
				// Like a chat left with messages unacknowledged: exit 5.
				u.errorLine(fmt.Errorf("interrupted while sending %s%s", name, resume))
				return fmt.Errorf("interrupted: %w", errUndelivered)
			}
			return networkOrTrust(fmt.Errorf("sending %s: %w%s", name, s.Err(), resume))
		}
		failed++
		// A receiver's answer reads "alice refused it: REASON" or "alice
		// stopped it: REASON"; the reason says what to do.
		u.errorLine(fmt.Errorf("%s was not delivered: %v%s%s", name, err, senderAdvice(err, peerName), resume))
	}
	if failed > 0 {
		// Each failure was reported; the exit status says "not delivered".
		return fmt.Errorf("%d of %d files not delivered: %w", failed, len(files), errUndelivered)
	}
	return nil
}

// fileOptions reads --accept-files, --download-dir and --max-file-size
// into cfg. A chat screen asks about each offer unless --accept-files;
// pipe mode cannot ask, so it refuses every file without it.
func fileOptions(c *cli.Context, u *ui, cfg *peer.Config) error {
	if s := c.String("max-file-size"); s != "" {
		var err error
		if cfg.MaxFileSize, err = parseSize(s); err != nil {
			return usagef("--max-file-size %q: %v; use bytes or a number with K, M or G, e.g. 500M", s, err)
		}
	}
	_, _, tty := terminals(c.App.Reader, u.stdout)
	if !c.Bool("accept-files") {
		if !tty {
			if c.IsSet("download-dir") {
				return usagef("--download-dir has no effect without --accept-files in pipe mode; add --accept-files to receive files")
			}
			return nil
		}
		cfg.ConfirmFiles = true
	}
	dir := c.String("download-dir")
	if p := checkDownloadDir(dir); p != nil {
		if !cfg.ConfirmFiles || c.IsSet("download-dir") {
			return usagef("--download-dir %s %s%s", dir, p.what, p.fix)
		}
		// Nobody asked for files: a chat started from a directory that
		// cannot take them (/, a read-only mount) goes on, and an offer
		// accepted there says why it fails.
		u.notice("files offered in this chat cannot be saved: the download directory %s %s; --download-dir chooses another", dir, p.what)
	}
	cfg.DownloadDir = dir
	return nil
}

// dirProblem is what makes a download directory unusable, and what to
// do about it.
type dirProblem struct{ what, fix string }

// checkDownloadDir says what makes dir unusable as the download
// directory, if anything: said at the start rather than at the first
// file, which the sender would otherwise have to report back.
func checkDownloadDir(dir string) *dirProblem {
	fi, err := os.Stat(dir)
	if err != nil {
		return &dirProblem{fmt.Sprintf("cannot be used (%v)", errors.Unwrap(err)), "; create it first or choose another"}
	}
	if !fi.IsDir() {
		return &dirProblem{"is not a directory", ""}
	}
	probe, err := os.CreateTemp(dir, ".peerchat-probe-*")
	if err != nil {
		return &dirProblem{fmt.Sprintf("is not writable (%v)", errors.Unwrap(err)), "; fix its permissions or choose another"}
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

// parseSize reads 1000, 64K, 500M, 2G (powers of 1024).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch strings.ToUpper(s[len(s)-1:]) {
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	}
	if mult > 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, errors.New("not a positive size")
	}
	return n * mult, nil
}

// savedAs tells the sender the name the receiver saved a file under,
// when its rules changed the name offered (a leading dot, a device name,
// an invisible character, a name already taken there).
func savedAs(offered, saved, peerName string) string {
	if saved == "" || saved == offered {
		return ""
	}
	return fmt.Sprintf("; %s saved it as %s", peerName, sanitize(saved))
}

// progressReporter shows a transfer's progress on stderr when it is a
// terminal, redrawn in place, and says when an attempt resumes.
func progressReporter(u *ui, m *meter, peerName string) func(peer.FileProgress) {
	return func(p peer.FileProgress) {
		now := time.Now()
		resumed, redraw := m.update(p, now)
		if resumed != "" {
			u.notice("%s", resumed)
		}
		if !redraw {
			return
		}
		u.progress("sending " + m.sendingLine(now, peerName))
	}
}
