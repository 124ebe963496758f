package peer

// This file holds CheckBundle: every fact and problem of a certificate
// bundle, as a Report.

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// CheckBundle is `peerchat certs check` and the first thing listen and
// dial do: it loads the bundle the chat would use and reports every fact
// and every problem, in the words the user sees. LoadIdentity is
// CheckBundle that keeps only the first problem, so a chat refuses a bad
// bundle with the same sentence the check prints.

// ExpiryWarning is how long before a certificate expires the check starts
// warning about it.
const ExpiryWarning = 30 * 24 * time.Hour

// Severity says how a Finding bears on the bundle.
type Severity int

const (
	Info Severity = iota // a fact: fingerprint, names, key type
	Pass                 // a check that passed
	Warn                 // usable, but something needs attention
	Fail                 // not usable
)

func (s Severity) String() string {
	switch s {
	case Pass:
		return "ok"
	case Warn:
		return "warn"
	case Fail:
		return "FAIL"
	}
	return "info"
}

// A Finding is one line of a check: a fact, a passed check or a problem.
type Finding struct {
	Severity Severity
	Msg      string // what it found, naming the file
	Hint     string // for Warn and Fail: the command or flag that fixes it
	Err      error  // the underlying cause, if any
}

func (f Finding) String() string {
	if f.Hint == "" {
		return f.Msg
	}
	return f.Msg + "; " + f.Hint
}

// A Report is what CheckBundle found, in the order it checked.
type Report struct {
	Files    Files
	Findings []Finding
	// Leaf and CA are the parsed certificates, nil when they could not be
	// read.
	Leaf, CA *x509.Certificate
	// Identity is the loaded bundle; nil when any check failed.
	Identity *Identity
}

// Usable reports whether no check failed.
func (r *Report) Usable() bool { return r.Identity != nil }

// Err returns the first problem as a *TrustError, or nil when the bundle
// is usable.
func (r *Report) Err() error {
	for _, f := range r.Findings {
		if f.Severity == Fail {
			return &TrustError{Msg: f.Msg, Hint: f.Hint, Err: f.Err}
		}
	}
	return nil
}

// Only returns the findings of severity s.
func (r *Report) Only(s Severity) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Severity == s {
			out = append(out, f)
		}
	}
	return out
}

// CheckBundle checks the bundle f at the current time. It goes as far as
// the files allow: a missing CA does not stop it from reporting on the
// certificate and the key.
func CheckBundle(f Files) *Report {
	c := &checker{r: &Report{Files: f}, now: time.Now()}
	c.run()
	return c.r
}

type checker struct {
	r   *Report
	now time.Time
}

func (c *checker) add(s Severity, err error, hint, format string, args ...any) {
	c.r.Findings = append(c.r.Findings, Finding{Severity: s, Msg: fmt.Sprintf(format, args...), Hint: hint, Err: err})
}

// addErr adds a *TrustError from a loading helper as a failure.
func (c *checker) addErr(err error) {
	if te, ok := err.(*TrustError); ok {
		c.r.Findings = append(c.r.Findings, Finding{Severity: Fail, Msg: te.Msg, Hint: te.Hint, Err: te.Err})
		return
	}
	c.add(Fail, err, "", "%v", err)
}

func (c *checker) run() {
	f := c.r.Files
	ca := c.checkCA()
	c.r.CA = ca

	certPEM, err := readBundleFile(f.Cert, "certificate")
	if err != nil {
		c.addErr(err)
	}
	var leaf *x509.Certificate
	if certPEM != nil {
		if leaf, err = parseCertPEM(certPEM); err != nil {
			c.add(Fail, err, "pass your certificate with --cert, or run `make certs`", "%s: %v", f.Cert, err)
		} else {
			c.add(Info, nil, "", "certificate %s: %s, serial %s, issued by %s", f.Cert, certName(leaf), Serial(leaf.SerialNumber), issuerName(leaf))
		}
	}
	c.r.Leaf = leaf
	name := "NAME"
	if leaf != nil && peerName(leaf) != "" {
		name = peerName(leaf)
	}
	reissue := fmt.Sprintf("re-issue it with `scripts/gen-certs.sh -f %s`", name)

	cert := c.checkKey(certPEM, leaf, reissue)
	if leaf == nil {
		return
	}
	if ca != nil {
		c.checkChain(leaf, ca, reissue)
	}
	c.checkValidity(leaf, reissue)
	c.checkUsage(leaf, reissue)
	if peerName(leaf) == "" {
		c.add(Fail, nil, "re-issue it with `scripts/gen-certs.sh -f NAME`, which writes NAME there",
			"%s names no peer: its subject must hold exactly one common name (CN), the peer name, and peers refuse it without", f.Cert)
	}
	c.describe(leaf)
	var crl *RevocationList
	if f.CRL != "" && ca != nil {
		crl = c.checkCRL(leaf, ca)
	}
	if c.r.Err() != nil {
		return
	}
	c.r.Identity = &Identity{Name: certName(leaf), Leaf: leaf, CA: ca, CRL: crl, Files: f, cert: cert, roots: newPool(ca)}
	if crl != nil {
		c.r.Identity.crl = newCRLWatch(crl, ca, f.CRLNumbers)
	}
}

func (c *checker) checkCA() *x509.Certificate {
	f := c.r.Files
	b, err := readBundleFile(f.CA, "CA certificate")
	if err != nil {
		c.addErr(err)
		return nil
	}
	ca, err := parseCertPEM(b)
	if err != nil {
		c.add(Fail, err, "pass the CA certificate with --ca, or run `make certs`", "%s: %v", f.CA, err)
		return nil
	}
	desc := certName(ca)
	switch {
	case !ca.BasicConstraintsValid || !ca.IsCA:
		c.add(Fail, nil, "pass the CA's certificate (ca.crt) with --ca, not a peer's",
			"%s (%s) is not a CA certificate: it has no CA:TRUE basic constraint", f.CA, desc)
		return nil
	case ca.KeyUsage != 0 && ca.KeyUsage&x509.KeyUsageCertSign == 0:
		c.add(Fail, nil, "pass the CA's certificate (ca.crt) with --ca, or make a new CA",
			"%s (%s) is not allowed to sign certificates (its key usage lacks keyCertSign)", f.CA, desc)
		return nil
	case c.now.Before(ca.NotBefore):
		c.add(Fail, nil, "check this machine's clock", "the CA certificate %s is not valid until %s", f.CA, ca.NotBefore.Format(time.DateOnly))
	case c.now.After(ca.NotAfter):
		c.add(Fail, nil, "make a new CA and re-issue every certificate (move the certs dir away, then `make certs`)",
			"the CA certificate %s expired on %s", f.CA, ca.NotAfter.Format(time.DateOnly))
	case ca.NotAfter.Sub(c.now) < ExpiryWarning:
		c.add(Warn, nil, "make a new CA and re-issue every certificate before then",
			"the CA certificate %s expires in %s (on %s)", f.CA, days(ca.NotAfter.Sub(c.now)), ca.NotAfter.Format(time.DateOnly))
	default:
		c.add(Pass, nil, "", "CA certificate %s: %s, valid until %s", f.CA, desc, ca.NotAfter.Format(time.DateOnly))
	}
	return ca
}

// checkKey reads the key, checks its file's permissions and that it
// matches the certificate, and returns the pair for TLS.
func (c *checker) checkKey(certPEM []byte, leaf *x509.Certificate, reissue string) tls.Certificate {
	f := c.r.Files
	keyPEM, err := readBundleFile(f.Key, "private key")
	if err != nil {
		c.addErr(err)
		return tls.Certificate{}
	}
	if fi, err := os.Stat(f.Key); err == nil && unixPermissions {
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			what := "readable"
			if perm&0o044 == 0 {
				what = "accessible"
			}
			// As OpenSSH refuses such a key: whoever else can read it
			// can be us, and a warning scrolls past unread.
			c.add(Fail, nil, "only its owner may read it: run `chmod 600 "+shellQuote(f.Key)+"`",
				"private key %s is %s by group/others (mode %04o)", f.Key, what, perm)
		} else {
			c.add(Pass, nil, "", "%s is private to its owner (mode %04o)", f.Key, perm)
		}
	}
	if leaf == nil {
		return tls.Certificate{}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	switch {
	case err != nil && strings.Contains(err.Error(), "does not match"):
		c.add(Fail, err, "use the key that was made with this certificate, or re-issue both with `scripts/gen-certs.sh -f "+certName(leaf)+"`",
			"%s does not match %s", f.Key, f.Cert)
		return cert
	case err != nil:
		c.add(Fail, err, "pass your private key with --key, or run `make certs`", "cannot load the private key %s: %v", f.Key, err)
		return cert
	}
	c.add(Pass, nil, "", "key %s matches the certificate (%s)", f.Key, KeyType(leaf))
	if k, ok := leaf.PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() < 2048 {
		c.add(Warn, nil, reissue+" (make certs uses ECDSA P-256)",
			"%s has a weak %d-bit RSA key; use 2048 bits or more", f.Cert, k.N.BitLen())
	}
	return cert
}

// checkChain verifies the signature chain at a time within both validity
// periods, so that an expired certificate is reported as expired (by
// checkValidity) and not also as unverifiable.
func (c *checker) checkChain(leaf, ca *x509.Certificate, reissue string) {
	f := c.r.Files
	at := clampTime(clampTime(c.now, leaf.NotBefore, leaf.NotAfter), ca.NotBefore, ca.NotAfter)
	_, err := leaf.Verify(x509.VerifyOptions{Roots: newPool(ca), CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	var unknown x509.UnknownAuthorityError
	switch {
	case err == nil:
		c.add(Pass, nil, "", "%s is signed by the CA in %s", f.Cert, f.CA)
	case errors.As(err, &unknown):
		c.add(Fail, err, fmt.Sprintf("pass the CA it was issued by (%s) with --ca, or %s", issuerName(leaf), reissue),
			"%s is not signed by the CA in %s", f.Cert, f.CA)
	default:
		c.add(Fail, err, reissue, "%s does not verify against %s: %v", f.Cert, f.CA, err)
	}
}

func (c *checker) checkValidity(leaf *x509.Certificate, reissue string) {
	f := c.r.Files
	left := leaf.NotAfter.Sub(c.now)
	switch {
	case c.now.Before(leaf.NotBefore):
		c.add(Fail, nil, "check this machine's clock", "%s is not valid until %s", f.Cert, leaf.NotBefore.Format(time.DateOnly))
	case left < 0:
		c.add(Fail, nil, "renew: "+reissue, "%s expired on %s", f.Cert, leaf.NotAfter.Format(time.DateOnly))
	case left < ExpiryWarning:
		c.add(Warn, nil, "renew it soon: "+reissue, "%s expires in %s (on %s)", f.Cert, days(left), leaf.NotAfter.Format(time.DateOnly))
	default:
		c.add(Pass, nil, "", "valid from %s until %s (%s left)", leaf.NotBefore.Format(time.DateOnly), leaf.NotAfter.Format(time.DateOnly), days(left))
	}
}

// checkUsage checks that the certificate may serve both roles: either peer
// may listen (TLS server) or dial (TLS client), and TLS 1.3 signs the
// handshake with the key.
func (c *checker) checkUsage(leaf *x509.Certificate, reissue string) {
	f := c.r.Files
	var missing []string
	for _, u := range []struct {
		usage x509.ExtKeyUsage
		name  string
	}{{x509.ExtKeyUsageServerAuth, "serverAuth"}, {x509.ExtKeyUsageClientAuth, "clientAuth"}} {
		if !allowsUsage(leaf, u.usage) {
			missing = append(missing, u.name)
		}
	}
	ok := true
	if len(missing) > 0 {
		ok = false
		c.add(Fail, nil, reissue, "%s is not valid for both client and server authentication (extended key usage lacks %s)", f.Cert, strings.Join(missing, " and "))
	}
	if leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		ok = false
		c.add(Fail, nil, reissue, "%s may not make digital signatures (key usage lacks digitalSignature), and TLS 1.3 signs with it", f.Cert)
	}
	if ok {
		c.add(Pass, nil, "", "usable to listen and to dial (%s)", Usages(leaf))
	}
}

func allowsUsage(c *x509.Certificate, u x509.ExtKeyUsage) bool {
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return true // no extended key usage: any usage
	}
	return slices.Contains(c.ExtKeyUsage, u) || slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny)
}

// describe adds the facts a user compares: names and fingerprint.
func (c *checker) describe(leaf *x509.Certificate) {
	names := CertNames(leaf)
	if len(names) == 0 {
		c.add(Warn, nil, "re-issue it with `scripts/gen-certs.sh -f "+certName(leaf)+"`, which adds names",
			"%s lists no names or addresses (subject alternative names): a dialer can reach it only with --peer %s or as a contact, not by address alone", c.r.Files.Cert, certName(leaf))
	} else {
		c.add(Info, nil, "", "valid for %s", strings.Join(names, ", "))
	}
	c.add(Info, nil, "", "fingerprint (SHA-256) %s", Fingerprint(leaf))
	c.add(Info, nil, "", "short fingerprint %s: the peer sees it on connect; compare it by voice", ShortFingerprint(leaf))
}

func (c *checker) checkCRL(leaf, ca *x509.Certificate) *RevocationList {
	f := c.r.Files
	crl, err := LoadRevocationList(f.CRL, ca)
	if err == nil {
		err = checkCRLNumber(f.CRLNumbers, ca, crl)
	}
	if err != nil {
		c.addErr(err)
		return nil
	}
	if at, ok := crl.Revoked(leaf); ok {
		c.add(Fail, nil, "this certificate can no longer be used: issue a new one with `scripts/gen-certs.sh -f "+certName(leaf)+"`",
			"%s (serial %s) is revoked by %s since %s", f.Cert, Serial(leaf.SerialNumber), f.CRL, at.Format(time.DateOnly))
		return crl
	}
	next := "none"
	if !crl.List.NextUpdate.IsZero() {
		next = crl.List.NextUpdate.UTC().Format(crlTime)
	}
	switch left := crl.List.NextUpdate.Sub(c.now); {
	case crl.Stale(c.now):
		c.addErr(staleError(crl))
		return nil
	case !crl.List.NextUpdate.IsZero() && left < CRLExpiryWarning:
		c.add(Warn, &StaleCRLError{Path: f.CRL, NextUpdate: crl.List.NextUpdate}, staleError(crl).Hint,
			"revocation list %s must be re-signed within %s (next update %s); after that peerchat refuses it", f.CRL, days(left), next)
	}
	number := "no number"
	if n := crl.Number(); n != nil {
		number = "number " + n.String()
	}
	c.add(Pass, nil, "", "revocation list %s: signed by the CA, %d revoked, next update %s, %s; %s is not on it", f.CRL, crl.Len(), next, number, certName(leaf))
	return crl
}

// shellQuote quotes a path for a command a user pastes into a shell.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+,:@%=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// KeyType names a certificate's public key as people know it: "ECDSA
// P-256", "RSA 2048 bits", "Ed25519".
func KeyType(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d bits", k.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", c.PublicKey)
}

// Usages lists a certificate's extended key usages, then its key usages,
// as openssl names them: "serverAuth, clientAuth; digitalSignature".
func Usages(c *x509.Certificate) string {
	var ext []string
	for _, u := range c.ExtKeyUsage {
		switch u {
		case x509.ExtKeyUsageServerAuth:
			ext = append(ext, "serverAuth")
		case x509.ExtKeyUsageClientAuth:
			ext = append(ext, "clientAuth")
		case x509.ExtKeyUsageAny:
			ext = append(ext, "anyExtendedKeyUsage")
		default:
			ext = append(ext, fmt.Sprintf("usage %d", u))
		}
	}
	if len(ext) == 0 {
		ext = append(ext, "any extended key usage")
	}
	var ku []string
	for _, k := range []struct {
		bit  x509.KeyUsage
		name string
	}{
		{x509.KeyUsageDigitalSignature, "digitalSignature"},
		{x509.KeyUsageKeyEncipherment, "keyEncipherment"},
		{x509.KeyUsageKeyAgreement, "keyAgreement"},
		{x509.KeyUsageCertSign, "keyCertSign"},
		{x509.KeyUsageCRLSign, "cRLSign"},
	} {
		if c.KeyUsage&k.bit != 0 {
			ku = append(ku, k.name)
		}
	}
	if len(ku) == 0 {
		ku = append(ku, "any key usage")
	}
	return strings.Join(ext, ", ") + "; " + strings.Join(ku, ", ")
}

func issuerName(c *x509.Certificate) string {
	if c.Issuer.CommonName != "" {
		return c.Issuer.CommonName
	}
	return c.Issuer.String()
}

func clampTime(t, lo, hi time.Time) time.Time {
	switch {
	case t.Before(lo):
		return lo
	case t.After(hi):
		return hi
	}
	return t
}

// days says a duration in whole days, or in hours under two days.
func days(d time.Duration) string {
	if d < 48*time.Hour {
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}
