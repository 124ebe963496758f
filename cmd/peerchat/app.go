package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"peerchat/peer"
)

// run is the whole program but for process-wide concerns (signals, exit),
// which main keeps: it parses args, runs the command, prints the final
// error if any, and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	u := &ui{stdout: stdout, stderr: stderr}
	app := newApp(u, stdin)
	withConfig(app)
	err := app.RunContext(ctx, args)
	if err != nil {
		var shown *reportedError
		// Undelivered messages were reported one by one, and the chat
		// screen showed its own end.
		if !errors.Is(err, errUndelivered) && !errors.As(err, &shown) {
			u.errorLine(err)
		}
	}
	// A progress line left behind would meet the shell's prompt.
	u.mu.Lock()
	u.endProgress()
	u.mu.Unlock()
	return exitCode(err)
}

func newApp(u *ui, stdin io.Reader) *cli.App {
	return &cli.App{
		Name:  "peerchat",
		Usage: "one-to-one chat over TLS 1.3 with mutual certificate authentication",
		Description: "One peer listens, the other dials; both prove who they are with a certificate\n" +
			"from the same local CA (make certs). On a terminal, peerchat is a chat screen:\n" +
			"type a line and press Enter to send it; /help lists the commands and keys.\n" +
			"Otherwise (pipe mode) lines read from stdin are sent as messages, and received\n" +
			"messages are printed on stdout as [HH:MM:SS] NAME: TEXT.\n" +
			"Files: /send PATH on a chat screen, or peerchat send from a script; the\n" +
			"receiver takes them with --accept-files, or on a chat screen when asked.",
		// --version: the build, the Go that built it, and the protocol it
		// speaks (both sides must speak the same one).
		Version:         fmt.Sprintf("%s (%s %s/%s, protocol %s)", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH, peer.ALPN),
		Reader:          stdin,
		Writer:          u.stdout,
		ErrWriter:       u.stderr,
		HideHelpCommand: true,
		// urfave/cli must never exit the process itself: run returns the
		// exit code to main, after the chat's cleanup has run.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   onUsageError,
		Commands: []*cli.Command{
			{
				Name:      "listen",
				Usage:     "wait for a peer to dial in, then chat",
				ArgsUsage: " ",
				Flags: append([]cli.Flag{
					&cli.BoolFlag{Name: "keep-listening", Aliases: []string{"k"},
						Usage: "after a chat ends, wait for the next peer instead of exiting (as ncat -k)"},
					&cli.DurationFlag{Name: "resume-wait", Value: peer.DefaultResumeWait,
						Usage: "after a connection breaks, how long to keep the conversation for the same peer to come back (others are told busy meanwhile); 0: do not wait"},
					&cli.StringFlag{Name: "addr", Value: ":" + peer.DefaultPort, EnvVars: []string{"PEERCHAT_ADDR"},
						Usage: "`HOST:PORT` to listen on (port 0 picks a free one; the address is printed)"},
				}, append(fileFlags(), sessionFlags()...)...),
				OnUsageError: onUsageError,
				Action:       func(c *cli.Context) error { return listenAction(c, u) },
			},
			{
				Name:      "dial",
				Usage:     "connect to a listening peer, then chat",
				ArgsUsage: "CONTACT | HOST[:PORT]",
				Flags: append([]cli.Flag{
					&cli.BoolFlag{Name: "no-reconnect",
						Usage: "after a connection breaks, end the chat instead of reconnecting (with backoff up to 30s) and resending"},
				}, append(fileFlags(), sessionFlags()...)...),
				OnUsageError: onUsageError,
				Action:       func(c *cli.Context) error { return dialAction(c, u) },
			},
			sendCommand(u),
			historyCommand(u),
			certsCommand(u),
			contactsCommand(u),
		},
	}
}

// fileFlags are how either role receives files.
func fileFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "accept-files",
			Usage: "receive every file the peer sends (peerchat send, /send) into --download-dir without asking; on a chat screen you are otherwise asked (/accept, /reject), in pipe mode every file is refused"},
		&cli.StringFlag{Name: "download-dir", Value: ".",
			Usage: "`DIR` where received files are written (it must exist and be writable), as a hidden partial file until complete and verified; an existing file is never replaced"},
		&cli.StringFlag{Name: "max-file-size",
			Usage: "refuse offered files bigger than `SIZE` (bytes, or with K, M, G: 500M); default: no limit"},
	}
}

func onUsageError(c *cli.Context, err error, _ bool) error {
	return usagef("%v; see `peerchat %s --help`", err, commandPath(c))
}

// sessionFlags are the flags both roles share: who we are, whom we accept,
// and the heartbeat.
func sessionFlags() []cli.Flag {
	return append(append(append(identityFlags(), pinFlag(), contactsFlag()),
		&cli.StringFlag{Name: "peer", EnvVars: []string{"PEERCHAT_PEER"},
			Usage: "the peer `NAME` the other side's certificate must carry as its subject name; host names in it do not count (default: dialer checks the dialed host, listener accepts anyone from the CA)"},
		&cli.DurationFlag{Name: "linger", Value: lingerTimeout,
			Usage: "at the end of input, how long to wait for the peer to acknowledge what was sent"},
		&cli.DurationFlag{Name: "heartbeat", Value: peer.DefaultHeartbeatInterval,
			Usage: fmt.Sprintf("ping interval; the peer is declared gone after %d silent intervals", peer.DefaultHeartbeatMisses)},
		&cli.BoolFlag{Name: "hide-input",
			Usage: "on a terminal, do not show what you type until you press Enter (for screen sharing)"},
		&cli.BoolFlag{Name: "no-color",
			Usage: "on a terminal, no colours (also when the NO_COLOR environment variable is set)"},
	), append(historyFlags(), historyLinesFlag())...)
}

// startChat runs the conversation: a chat screen when stdin and stdout
// are a terminal, pipe mode otherwise.
func startChat(c *cli.Context, u *ui, s *peer.Session) error {
	rec := openRecorder(c, s)
	defer rec.Close()
	if in, out, ok := terminals(c.App.Reader, u.stdout); ok {
		return chatTTY(c.Context, s, in, out, u, ttyOptions{
			hideInput: c.Bool("hide-input"),
			color:     useColor(c.Bool("no-color")),
			linger:    c.Duration("linger"),
			rec:       rec,

			historyLines: c.Int("history-lines"),
		})
	}
	return chat(c.Context, s, c.App.Reader, u, c.Duration("linger"), c.Bool("accept-files"), rec)
}

// useColor follows --no-color, the NO_COLOR convention (set and not
// empty: no colour, https://no-color.org) and TERM=dumb.
func useColor(noColor bool) bool {
	return !noColor && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
}

func sessionConfig(c *cli.Context, u *ui) (peer.Config, error) {
	pins, err := pinnedFingerprints(c)
	if err != nil {
		return peer.Config{}, err
	}
	id, err := loadIdentity(c, u)
	if err != nil {
		return peer.Config{}, err
	}
	if d := c.Duration("heartbeat"); d < 10*time.Millisecond {
		return peer.Config{}, usagef("--heartbeat %s is too short; use at least 10ms (default %s)", d, peer.DefaultHeartbeatInterval)
	}
	cfg := peer.Config{
		Identity:          id,
		Peer:              c.String("peer"),
		PeerFingerprints:  pins,
		Software:          "peerchat " + version(),
		HeartbeatInterval: c.Duration("heartbeat"),
		Reconnect:         !c.Bool("no-reconnect"),
		ResumeWait:        c.Duration("resume-wait"),
	}
	if c.IsSet("resume-wait") && cfg.ResumeWait == 0 {
		cfg.ResumeWait = -1 // 0 means "do not wait"; the zero Config means the default
	}
	if err := useContacts(c, u, &cfg); err != nil {
		return peer.Config{}, err
	}
	return cfg, nil
}

// noExtraArgs refuses arguments urfave/cli did not parse as flags: it stops
// at the first argument, so `dial localhost --name bob` would otherwise
// silently ignore --name.
func noExtraArgs(c *cli.Context, want int) error {
	args := c.Args().Slice()
	if len(args) <= want {
		return nil
	}
	extra := args[want:]
	if strings.HasPrefix(extra[0], "-") {
		return usagef("flags go before the address: put %s before %s", strings.Join(extra, " "), strings.Join(args[:want], " "))
	}
	return usagef("unexpected argument %q; see `peerchat %s --help`", extra[0], commandPath(c))
}

func listenAction(c *cli.Context, u *ui) error {
	if err := noExtraArgs(c, 0); err != nil {
		return err
	}
	cfg, err := sessionConfig(c, u)
	if err != nil {
		return err
	}
	if err := fileOptions(c, u, &cfg); err != nil {
		return err
	}
	rejects := newRejectLog(u, rejectBurst, rejectWindow)
	defer rejects.close()
	cfg.OnReject = func(addr net.Addr, err error) { rejects.add(addr, wordTrustError(c, cfg, withCRLHint(err))) }
	l, err := peer.Listen(c.String("addr"), cfg)
	if err != nil {
		return &networkError{err}
	}
	defer l.Close()
	u.notice("listening on %s as %s (fingerprint %s)", l.Addr(), sanitize(cfg.Identity.Name), peer.ShortFingerprint(cfg.Identity.Leaf))
	for {
		s, err := l.Accept(c.Context)
		if err != nil {
			if c.Context.Err() != nil {
				return nil // interrupted while nobody was connected
			}
			return &networkError{err}
		}
		if err = rememberPeer(c, u, s); err != nil {
			s.Close()
		} else {
			err = startChat(c, u, s)
		}
		if !c.Bool("keep-listening") || c.Context.Err() != nil {
			return err
		}
		if err != nil && !errors.Is(err, errUndelivered) {
			u.errorLine(err)
		}
		u.notice("waiting for the next peer on %s", l.Addr())
	}
}

func dialAction(c *cli.Context, u *ui) error {
	if c.Args().Len() == 0 {
		return usagef("dial needs the listener's address: peerchat dial [flags] HOST[:PORT], e.g. peerchat dial --name bob localhost")
	}
	if err := noExtraArgs(c, 1); err != nil {
		return err
	}
	to, err := resolveTarget(c, c.Args().First())
	if err != nil {
		return err
	}
	cfg, err := sessionConfig(c, u)
	if err != nil {
		return err
	}
	if err := to.apply(c, &cfg); err != nil {
		return err
	}
	if err := fileOptions(c, u, &cfg); err != nil {
		return err
	}
	s, err := peer.Dial(c.Context, to.addr, cfg)
	if err != nil {
		if c.Context.Err() != nil {
			return nil
		}
		return to.explain(c, wordTrustError(c, cfg, networkOrTrust(withCRLHint(err))))
	}
	if err := rememberPeer(c, u, s); err != nil {
		s.Close()
		return err
	}
	return startChat(c, u, s)
}
