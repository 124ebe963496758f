package main

// Hints that tell the user to make certificates must work where the user
// is. In a peerchat checkout (the working directory has
// scripts/gen-certs.sh and a Makefile with a certs target) whose certs/ is
// the certs dir in use, that is `make certs`; anywhere else it is the
// script, given the certs dir that peerchat resolved, e.g.
// `gen-certs.sh -d /home/u/.config/peerchat/certs alice`.
//
// Package peer still words some of those hints itself, for a checkout;
// certsHints rewrites them here, where the directory is known (issue #15
// moves the words out of peer altogether).

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"

	"peerchat/peer"
)

// defaultCertsDir is where an identity lives unless --certs-dir says
// otherwise: certs in the config directory, so that an installed peerchat
// finds it from any working directory.
func defaultCertsDir() (string, error) {
	dir, err := configDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "certs"), nil
}

// resolveCertsDir is --certs-dir, or the default.
func resolveCertsDir(c *cli.Context) (string, error) {
	if d := c.String("certs-dir"); d != "" {
		return d, nil
	}
	return defaultCertsDir()
}

// A hinter words certificate-making commands for one certs dir.
type hinter struct {
	dir string
	// make: the working directory is a checkout whose certs/ is dir.
	make bool
	// script is how to run gen-certs.sh from here.
	script string
}

func newHinter(dir string) hinter {
	h := hinter{dir: dir, script: "gen-certs.sh"}
	if inCheckout() {
		h.script = "scripts/gen-certs.sh"
		h.make = sameDir(dir, "certs")
	}
	return h
}

// inCheckout tells whether the working directory is a peerchat checkout,
// where `make certs` works.
func inCheckout() bool {
	if fi, err := os.Stat(filepath.Join("scripts", "gen-certs.sh")); err != nil || !fi.Mode().IsRegular() {
		return false
	}
	mk, err := os.ReadFile("Makefile")
	return err == nil && regexp.MustCompile(`(?m)^certs:`).Match(mk)
}

func sameDir(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(fa, fb)
	}
	aa, errA := filepath.Abs(a)
	ab, errB := filepath.Abs(b)
	return errA == nil && errB == nil && aa == ab
}

// issue is the command that issues certificates for names (a placeholder
// when none is known) into the certs dir.
func (h hinter) issue(names ...string) string {
	if h.make {
		if len(names) == 0 {
			return "make certs"
		}
		return "make certs PEERS=" + strings.Join(names, ",")
	}
	if len(names) == 0 {
		names = []string{"YOURNAME"}
	}
	return h.script + " -d " + shellQuote(h.dir) + " " + strings.Join(names, " ")
}

var (
	makeCertsHint = regexp.MustCompile("`make certs( PEERS=([A-Za-z0-9._,-]+))?`")
	reissueHint   = regexp.MustCompile(`scripts/gen-certs\.sh -f `)
)

// fix rewrites a hint of package peer's for the certs dir; name is the
// identity it is about, if known.
func (h hinter) fix(hint, name string) string {
	if h.make || hint == "" {
		return hint
	}
	hint = makeCertsHint.ReplaceAllStringFunc(hint, func(m string) string {
		sub := makeCertsHint.FindStringSubmatch(m)
		if sub[2] != "" {
			return "`" + h.issue(strings.Split(sub[2], ",")...) + "`"
		}
		if name != "" {
			return "`" + h.issue(name) + "`"
		}
		return "`" + h.issue() + "`"
	})
	return reissueHint.ReplaceAllLiteralString(hint, h.script+" -d "+shellQuote(h.dir)+" -f ")
}

// fixErr rewrites the hint of a TrustError about our own bundle.
func (h hinter) fixErr(err error, name string) error {
	var te *peer.TrustError
	if !errors.As(err, &te) || h.make {
		return err
	}
	if fixed := h.fix(te.Hint, name); fixed != te.Hint {
		c := *te
		c.Hint = fixed
		return &c
	}
	return err
}

// wordTrustError is how dial, send and listen word a refusal: hints for
// our certs dir, and a contact's changed certificate explained.
func wordTrustError(c *cli.Context, cfg peer.Config, err error) error {
	if cfg.Identity != nil {
		h, name := bundleHinter(cfg.Identity.Files)
		err = h.fixErr(err, name)
	}
	return explainPinMismatch(c, err)
}
