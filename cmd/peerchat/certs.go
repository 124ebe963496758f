package main

// `peerchat certs check` and `peerchat certs show`, and the trust flags
// that listen and dial share with them: --crl and --peer-fingerprint.
//
// Both commands print their report on stdout (it is what they were asked
// for), one line per fact or problem; the verdict, when the bundle is not
// usable, is the usual one-line error on stderr, in the same words listen
// and dial use to refuse it. Every certificate field passes through
// sanitize: a certificate is data from someone else.

import (
	"cmp"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"peerchat/peer"
)

func certsCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:  "certs",
		Usage: "check your certificate bundle, or show a certificate someone sent you",
		Subcommands: []*cli.Command{
			{
				Name:  "check",
				Usage: "check the bundle listen and dial would use, and say what is wrong with it",
				Description: "Loads the certificate, key and CA that listen and dial would use (same flags)\n" +
					"and reports every fact and problem: one line each, ok, info, warn or FAIL.\n" +
					"Exits 0 only when the bundle is usable, 3 when it is not.",
				ArgsUsage:    " ",
				Flags:        identityFlags(),
				OnUsageError: onUsageError,
				Action:       func(c *cli.Context) error { return certsCheckAction(c, u) },
			},
			{
				Name:  "show",
				Usage: "show what a certificate (PEM or DER) says, and whether our CA signed it",
				Description: "Shows subject, names, validity, key, usages and fingerprint of each certificate\n" +
					"in FILE, and whether the CA in the certs dir signed it and revoked it.",
				ArgsUsage: "FILE",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "certs-dir", EnvVars: []string{"PEERCHAT_CERTS_DIR"},
						Usage: "`DIR` holding our ca.crt, to compare with (default: certs in the config directory)"},
					&cli.StringFlag{Name: "ca", Usage: "CA certificate `FILE` to compare with (default DIR/ca.crt)"},
					crlFlag(),
				},
				OnUsageError: onUsageError,
				Action:       func(c *cli.Context) error { return certsShowAction(c, u) },
			},
		},
	}
}

func crlFlag() cli.Flag {
	return &cli.StringFlag{Name: "crl", EnvVars: []string{"PEERCHAT_CRL"},
		Usage: "the CA's revocation list `FILE` (PEM or DER): refuse the certificates it lists (default: crl.pem beside the CA certificate, when there is one)"}
}

// crlFile is --crl, or else crl.pem beside the CA certificate when it
// exists: where `scripts/gen-certs.sh revoke` writes it.
func crlFile(c *cli.Context, caFile string) string {
	if f := c.String("crl"); f != "" {
		return f
	}
	def := filepath.Join(filepath.Dir(caFile), "crl.pem")
	if _, err := os.Stat(def); err == nil {
		return def
	}
	return ""
}

// crlNumbersFile, in the config directory, remembers the highest
// revocation list number seen per CA, so that an older list is refused.
const crlNumbersFile = "crl-numbers"

// withCRLHint words the fix for a revocation list past its next update
// for where the user is (see crlRefreshHint); other errors pass as they
// are.
func withCRLHint(err error) error {
	var te *peer.TrustError
	var stale *peer.StaleCRLError
	if !errors.As(err, &te) || !errors.As(te.Err, &stale) || te != err {
		return err
	}
	c := *te
	c.Hint = crlRefreshHint(stale.Path)
	return &c
}

// crlHinted is a listener's OnReject that words the fix with
// withCRLHint: a list can lapse during `listen -k`.
func crlHinted(onReject func(net.Addr, error)) func(net.Addr, error) {
	return func(addr net.Addr, err error) { onReject(addr, withCRLHint(err)) }
}

// crlRefreshHint is the command that re-signs the revocation list at path:
// `make cert-crl` in a peerchat checkout whose certs/ holds the list and
// the CA's key, the script itself where the CA's key is beside the list,
// and otherwise a word to the CA's owner, who alone can sign one.
func crlRefreshHint(path string) string {
	dir := filepath.Dir(path)
	if _, err := os.Stat(filepath.Join(dir, "ca.key")); err != nil {
		return "ask the CA's owner for a fresh one (they run `scripts/gen-certs.sh crl`) and put it in place of " + path
	}
	if filepath.Clean(dir) == "certs" && fileExists("Makefile") && fileExists(filepath.Join("scripts", "gen-certs.sh")) {
		return "run `make cert-crl` to re-sign it, then give it to your peers again"
	}
	return "re-sign it with `scripts/gen-certs.sh -d " + shellQuote(dir) + " crl`, then give it to your peers again"
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// shellQuote quotes a path for a command a user pastes into a shell.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+,:@%=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func pinFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "peer-fingerprint", EnvVars: []string{"PEERCHAT_PEER_FINGERPRINT"},
		Usage: "accept only a peer certificate with this SHA-256 `FINGERPRINT`, as printed on connect: its first 8 bytes or all 32, colons optional; repeat to accept several"}
}

func pinnedFingerprints(c *cli.Context) ([]string, error) {
	var pins []string
	for _, s := range c.StringSlice("peer-fingerprint") {
		fp, err := peer.ParseFingerprint(s)
		if err != nil {
			return nil, usagef("--peer-fingerprint: %v", err)
		}
		pins = append(pins, fp)
	}
	return pins, nil
}

// checkedIdentity runs the checks of `certs check` for listen and dial:
// warnings become notices, and the first problem is the error.
func checkedIdentity(f peer.Files, u *ui) (*peer.Identity, error) {
	r := peer.CheckBundle(f)
	h, name := bundleHinter(f)
	for _, w := range r.Only(peer.Warn) {
		w.Hint = h.fix(w.Hint, name)
		u.notice("warning: %s", sanitize(findingText(w)))
	}
	if n := len(r.Only(peer.Fail)); n > 1 {
		u.notice("%d problems with this bundle; `peerchat certs check` with the same flags lists them all", n)
	}
	if err := r.Err(); err != nil {
		return nil, h.fixErr(withCRLHint(err), name)
	}
	return r.Identity, nil
}

// findingText is a finding as `certs check` prints it, with the fix for a
// revocation list that lapses worded for where the user is.
func findingText(f peer.Finding) string {
	var stale *peer.StaleCRLError
	if errors.As(f.Err, &stale) {
		f.Hint = crlRefreshHint(stale.Path)
	}
	return f.String()
}

// bundleHinter words hints for the directory of the bundle's certificate.
func bundleHinter(f peer.Files) (hinter, string) {
	return newHinter(filepath.Dir(f.Cert)), strings.TrimSuffix(filepath.Base(f.Cert), ".crt")
}

func certsCheckAction(c *cli.Context, u *ui) error {
	if err := noExtraArgs(c, 0); err != nil {
		return err
	}
	f, err := identityFiles(c)
	if err != nil {
		return err
	}
	r := peer.CheckBundle(f)
	bundle := fmt.Sprintf("certificate %s, key %s, CA %s", f.Cert, f.Key, f.CA)
	if f.CRL != "" {
		bundle += ", revocation list " + f.CRL
	}
	u.report("checking %s", sanitize(bundle))
	h, name := bundleHinter(f)
	for _, fd := range r.Findings {
		fd.Hint = h.fix(fd.Hint, name)
		u.report("%-5s %s", fd.Severity, sanitize(findingText(fd)))
	}
	warnings := len(r.Only(peer.Warn))
	if r.Usable() {
		note := ""
		if warnings > 0 {
			note = fmt.Sprintf(", with %d warning(s)", warnings)
		}
		u.report("usable: %s can listen and dial%s", sanitize(r.Identity.Name), note)
		return nil
	}
	u.report("not usable: %d problem(s), %d warning(s)", len(r.Only(peer.Fail)), warnings)
	return h.fixErr(withCRLHint(r.Err()), name)
}

func certsShowAction(c *cli.Context, u *ui) error {
	if c.Args().Len() != 1 {
		return usagef("certs show needs one certificate file: peerchat certs show FILE, e.g. peerchat certs show bob.crt")
	}
	path := c.Args().First()
	certs, err := readCertificates(path)
	if err != nil {
		return err
	}
	caFile := c.String("ca")
	if caFile == "" {
		dir, err := resolveCertsDir(c)
		if err != nil {
			return err
		}
		caFile = peer.FilesFor(dir, "").CA
	}
	ca, caErr := readCA(caFile)
	var crl *peer.RevocationList
	var crlErr error
	if crlPath := crlFile(c, caFile); crlPath != "" && ca != nil {
		crl, crlErr = peer.LoadRevocationList(crlPath, ca)
	}
	for i, cert := range certs {
		if len(certs) > 1 {
			if i > 0 {
				u.report("")
			}
			u.report("%s: certificate %d of %d", sanitize(path), i+1, len(certs))
		} else {
			u.report("%s:", sanitize(path))
		}
		for _, l := range describeCert(cert, time.Now()) {
			u.report("  %-12s %s", l[0], sanitize(l[1]))
		}
		u.report("  %-12s %s", "our CA", sanitize(ourCA(cert, ca, caFile, caErr)))
		if ca != nil && (crl != nil || crlErr != nil) {
			u.report("  %-12s %s", "revoked", sanitize(revocation(cert, crl, crlErr)))
		}
		u.report("  %-12s peerchat contacts add %s HOST --fingerprint %s", "to pin it", sanitize(cmp.Or(cert.Subject.CommonName, "NAME")), peer.Fingerprint(cert))
	}
	return nil
}

// readCertificates reads every certificate in a PEM file, or the one in a
// DER file.
func readCertificates(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &peer.TrustError{Msg: fmt.Sprintf("certificate %s does not exist", path), Err: err}
	case err != nil:
		return nil, &peer.TrustError{Msg: fmt.Sprintf("cannot read %s: %v", path, errors.Unwrap(err)), Err: err}
	}
	var certs []*x509.Certificate
	rest := b
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch {
		case block.Type == "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, &peer.TrustError{Msg: fmt.Sprintf("%s: certificate %d is broken: %v", path, len(certs)+1, err), Err: err}
			}
			certs = append(certs, c)
		case strings.HasSuffix(block.Type, "PRIVATE KEY"):
			return nil, &peer.TrustError{Msg: fmt.Sprintf("%s holds a private key, not a certificate", path),
				Hint: "never send a .key file to anyone; show the .crt file instead"}
		}
	}
	if len(certs) > 0 {
		return certs, nil
	}
	c, err := x509.ParseCertificate(b)
	if err != nil {
		return nil, &peer.TrustError{Msg: fmt.Sprintf("%s holds no certificate (neither PEM nor DER)", path), Err: err}
	}
	return []*x509.Certificate{c}, nil
}

func readCA(path string) (*x509.Certificate, error) {
	certs, err := readCertificates(path)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// describeCert lists what a certificate says, as label and value.
func describeCert(c *x509.Certificate, now time.Time) [][2]string {
	names := strings.Join(peer.CertNames(c), ", ")
	if names == "" {
		names = "(none: no dialer can verify it as a listener)"
	}
	const when = "2006-01-02 15:04 MST"
	valid := fmt.Sprintf("%s to %s", c.NotBefore.UTC().Format(when), c.NotAfter.UTC().Format(when))
	switch {
	case now.Before(c.NotBefore):
		valid += ": NOT VALID YET"
	case now.After(c.NotAfter):
		valid += ": EXPIRED"
	default:
		valid += fmt.Sprintf(": %d days left", int(c.NotAfter.Sub(now).Hours()/24))
	}
	isCA := "no"
	if c.BasicConstraintsValid && c.IsCA {
		isCA = "yes: it can sign certificates"
	}
	return [][2]string{
		{"subject", c.Subject.String()},
		{"issuer", c.Issuer.String()},
		{"names", names},
		{"valid", valid},
		{"serial", peer.Serial(c.SerialNumber)},
		{"key", peer.KeyType(c)},
		{"usage", peer.Usages(c)},
		{"CA", isCA},
		{"fingerprint", "SHA-256 " + peer.Fingerprint(c)},
		{"short", peer.ShortFingerprint(c) + " (what peerchat prints on connect)"},
	}
}

// ourCA says whether the certificate comes from our CA.
func ourCA(c, ca *x509.Certificate, caFile string, caErr error) string {
	switch {
	case ca == nil:
		return fmt.Sprintf("cannot tell: %v (pass --ca or --certs-dir)", caErr)
	case c.Equal(ca):
		return fmt.Sprintf("this is our CA certificate (%s)", caFile)
	case c.CheckSignatureFrom(ca) == nil:
		return fmt.Sprintf("signed by our CA (%s, %s)", caFile, ca.Subject.CommonName)
	}
	return fmt.Sprintf("NOT signed by our CA (%s): peerchat refuses it", caFile)
}

func revocation(c *x509.Certificate, crl *peer.RevocationList, err error) string {
	if err != nil {
		return fmt.Sprintf("cannot tell: %v", err)
	}
	if at, ok := crl.Revoked(c); ok {
		return fmt.Sprintf("YES, since %s, by %s: do not trust it", at.Format(time.DateOnly), crl.Path)
	}
	if crl.Stale(time.Now()) {
		// listen and dial refuse such a list; "no" would say too much.
		return fmt.Sprintf("cannot tell: %s lists %d, but it is past its next update (%s), so later revocations are missing; %s",
			crl.Path, crl.Len(), crl.List.NextUpdate.UTC().Format("2006-01-02 15:04 MST"), crlRefreshHint(crl.Path))
	}
	return fmt.Sprintf("no (%s lists %d)", crl.Path, crl.Len())
}

// commandPath is the command being run as the user typed it, "certs
// check" for a subcommand, for hints that name it.
func commandPath(c *cli.Context) string {
	var names []string
	for _, ctx := range c.Lineage() {
		if ctx.Command == nil || ctx.Command.Name == "" || ctx.Command.Name == c.App.Name {
			continue // the app itself
		}
		if len(names) == 0 || names[0] != ctx.Command.Name {
			names = append([]string{ctx.Command.Name}, names...)
		}
	}
	return strings.Join(names, " ")
}
