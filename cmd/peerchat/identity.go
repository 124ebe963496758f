package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"peerchat/peer"
)

// identityFlags choose the certificate bundle: by name in a directory, as
// `make certs` lays it out, or file by file.
func identityFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "name", EnvVars: []string{"PEERCHAT_NAME"},
			Usage: "your identity: uses `NAME`.crt and NAME.key in the certs dir"},
		&cli.StringFlag{Name: "certs-dir", EnvVars: []string{"PEERCHAT_CERTS_DIR"},
			Usage: "`DIR` holding ca.crt and NAME.crt/NAME.key, as gen-certs.sh makes them (default: certs in the config directory, $XDG_CONFIG_HOME/peerchat/certs; make listen and make dial use the checkout's certs)"},
		&cli.StringFlag{Name: "ca", Usage: "CA certificate `FILE` (default DIR/ca.crt)"},
		&cli.StringFlag{Name: "cert", Usage: "your certificate `FILE` (default DIR/NAME.crt)"},
		&cli.StringFlag{Name: "key", Usage: "your private key `FILE` (default DIR/NAME.key)"},
		crlFlag(),
	}
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// identityFiles resolves the identity flags to the three files.
func identityFiles(c *cli.Context) (peer.Files, error) {
	dir, err := resolveCertsDir(c)
	if err != nil {
		return peer.Files{}, err
	}
	name := c.String("name")
	cert, key := c.String("cert"), c.String("key")
	hint := newHinter(dir)
	var f peer.Files
	switch {
	case cert != "" || key != "":
		if cert == "" || key == "" {
			return f, usagef("--cert and --key go together: pass both, or use --name")
		}
		f = peer.Files{CA: peer.FilesFor(dir, "").CA, Cert: cert, Key: key}
	case name != "":
		if !validName.MatchString(name) {
			return f, usagef("--name %q is not a certificate name: use letters, digits, '.', '-' or '_'", name)
		}
		f = peer.FilesFor(dir, name)
		names := peer.Names(dir)
		if len(names) == 0 && c.String("ca") == "" && hasCertsHere(dir) {
			return f, &peer.TrustError{Msg: fmt.Sprintf("no certificates in %s/", dir), Hint: noCertsHint(hint)}
		}
		if len(names) > 0 && !slices.Contains(names, name) {
			return f, &peer.TrustError{Msg: fmt.Sprintf("no identity %q in %s/ (it holds %s)", name, dir, strings.Join(names, ", ")),
				Hint: fmt.Sprintf("pass --name %s, or make one with `%s`", names[0], hint.issue(name))}
		}
	default:
		names := peer.Names(dir)
		switch len(names) {
		case 0:
			return f, &peer.TrustError{Msg: fmt.Sprintf("no certificates in %s/", dir), Hint: noCertsHint(hint)}
		case 1:
			f = peer.FilesFor(dir, names[0]) // the only identity there is
		default:
			return f, usagef("which identity? %s/ holds %s; pass --name %s", dir, strings.Join(names, ", "), names[0])
		}
	}
	if ca := c.String("ca"); ca != "" {
		f.CA = ca
	}
	f.CRL = crlFile(c, f.CA)
	if f.CRL != "" {
		dir, err := configDir()
		if err != nil {
			return f, err
		}
		f.CRLNumbers = filepath.Join(dir, crlNumbersFile)
	}
	return f, nil
}

// loadIdentity loads the bundle with the checks of `peerchat certs check`:
// warnings are printed, the first problem is the error.
func loadIdentity(c *cli.Context, u *ui) (*peer.Identity, error) {
	f, err := identityFiles(c)
	if err != nil {
		return nil, err
	}
	return checkedIdentity(f, u)
}

// noCertsHint says how to get an identity into an empty certs dir: the
// certs/ of the working directory when it holds some (where make certs,
// or gen-certs.sh without -d, put them), else the command that makes one.
func noCertsHint(h hinter) string {
	if !h.make {
		if names := peer.Names("certs"); len(names) > 0 {
			as := ""
			if inCheckout() {
				as = " (as make listen and make dial do)"
			}
			return fmt.Sprintf("certs/ here holds %s: pass --certs-dir certs%s, or run `%s`",
				strings.Join(names, ", "), as, h.issue())
		}
	}
	return fmt.Sprintf("run `%s`, or point --certs-dir at the directory that holds yours", h.issue())
}

// hasCertsHere tells whether the working directory's certs/, which is not
// dir, holds identities: the place gen-certs.sh writes to without -d.
func hasCertsHere(dir string) bool {
	return !sameDir(dir, "certs") && len(peer.Names("certs")) > 0
}
