package peer

import (
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Pinning narrows trust below the CA. Anyone holding ca.key can issue a
// certificate for "alice"; a pinned fingerprint accepts only the one
// certificate alice read out over the phone. It is checked in addition to
// the CA, never instead of it.
//
// A pin is the SHA-256 fingerprint in the form both sides print (see
// Fingerprint), or a prefix of it of at least MinPinBytes bytes: the short
// form printed on connect is 8 bytes, which is what people compare by
// voice. A second certificate matching 8 given bytes would take about 2^64
// signatures by the CA to find, on top of holding ca.key; a longer prefix
// or the whole fingerprint is accepted for those who want more.

// MinPinBytes is the shortest fingerprint prefix ParseFingerprint accepts:
// the 8 bytes ShortFingerprint prints on connect.
const MinPinBytes = 8

// ParseFingerprint reads a SHA-256 fingerprint as people copy it and
// returns it in the form Fingerprint prints: upper-case hex pairs joined by
// colons. It accepts upper or lower case, pairs with or without colons
// ("AB:CD:…" or "abcd…"), openssl's "sha256 Fingerprint=" in front, and a
// prefix of at least MinPinBytes bytes.
func ParseFingerprint(s string) (string, error) {
	in := strings.TrimSpace(s)
	if k, v, ok := strings.Cut(in, "="); ok && strings.EqualFold(strings.Join(strings.Fields(k), " "), "sha256 fingerprint") {
		in = strings.TrimSpace(v)
	}
	digits := in
	if strings.Contains(in, ":") {
		parts := strings.Split(in, ":")
		for _, p := range parts {
			if len(p) != 2 {
				return "", fmt.Errorf("fingerprint %q: write it as hex pairs with colons between every pair (AB:CD:…), or as hex digits alone", s)
			}
		}
		digits = strings.Join(parts, "")
	}
	b, err := hex.DecodeString(digits)
	switch {
	case errors.Is(err, hex.ErrLength):
		return "", fmt.Errorf("fingerprint %q has an odd number of hex digits; give whole bytes", s)
	case err != nil:
		return "", fmt.Errorf("fingerprint %q is not hexadecimal: %w", s, err)
	case len(b) < MinPinBytes:
		return "", fmt.Errorf("fingerprint %q is too short: give at least its first %d bytes, as peerchat prints them on connect (AB:CD:EF:01:23:45:67:89)", s, MinPinBytes)
	case len(b) > 32:
		return "", fmt.Errorf("fingerprint %q is longer than a SHA-256 fingerprint (32 bytes)", s)
	}
	return hexPairs(b), nil
}

// validate checks the configuration fields a caller fills in by hand.
func (c Config) validate() error {
	for _, p := range c.PeerFingerprints {
		if _, err := ParseFingerprint(p); err != nil {
			return err
		}
	}
	return nil
}

// pins returns the pinned fingerprints in Fingerprint's form.
func (c Config) pins() []string {
	var pins []string
	for _, p := range c.PeerFingerprints {
		if fp, err := ParseFingerprint(p); err == nil {
			pins = append(pins, fp)
		}
	}
	return pins
}

// vetPeer checks what the CA's signature cannot say about the other side's
// verified certificate: that the CA has not revoked it, and that it is one
// of the pinned ones. It returns this side's error, and the reason to send
// the other side in an error frame so that it can say why it was refused.
// hostport is the listener's address when we dialed it, "" when we listen.
func (c Config) vetPeer(cert *x509.Certificate, hostport string) (reason string, err error) {
	name := certName(cert)
	self := c.Identity.Name
	crl, err := c.Identity.revocationList()
	if err != nil {
		return fmt.Sprintf("%s's revocation list is out of date or unreadable, so %s accepts no certificate until it is fixed; try again later", self, self), err
	}
	if at, ok := crl.Revoked(cert); ok {
		serial, since := Serial(cert.SerialNumber), at.Format(time.DateOnly)
		whose := name + "'s"
		if hostport != "" {
			whose = fmt.Sprintf("the listener at %s is %s, whose", hostport, name)
		}
		return fmt.Sprintf("your certificate (%s, serial %s) is revoked by %s's revocation list since %s; ask the CA's owner for a new certificate", name, serial, self, since),
			trustErrorf(nil, "revoked means its key was reported lost or stolen: do not chat with it; "+name+" needs a new certificate",
				"%s certificate (serial %s) is revoked by %s since %s", whose, serial, c.Identity.CRL.Path, since)
	}
	pins := c.pins()
	if len(pins) == 0 {
		return "", nil
	}
	fp := Fingerprint(cert)
	if slices.ContainsFunc(pins, func(p string) bool { return strings.HasPrefix(fp, p) }) {
		return "", nil
	}
	want := strings.Join(pins, " or ")
	hint := fmt.Sprintf("if %s has a new certificate, compare its fingerprint with %s by voice and pass it with --peer-fingerprint", name, name)
	if hostport != "" {
		err = trustErrorf(nil, hint, "the listener at %s is %s with certificate fingerprint %s, not %s as --peer-fingerprint demands", hostport, name, fp, want)
	} else {
		err = trustErrorf(nil, hint, "%s's certificate has fingerprint %s, not %s as --peer-fingerprint demands", name, fp, want)
	}
	return fmt.Sprintf("only certificate fingerprint %s is accepted, and yours (%s) is %s; compare fingerprints with %s by voice", want, name, fp, self), err
}
