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
// verified certificate: that the CA has not revoked it, that its peer name
// is Config.Peer, and that it is one of the pinned ones (PeerFingerprints,
// and PinFor's pins for its name). It returns this side's error, a
// *TrustError, and the reason to send the other side in an error frame so
// that it can say why it was refused. hostport is the listener's address
// when we dialed it, "" when we listen.
func (c Config) vetPeer(cert *x509.Certificate, hostport string) (reason string, err error) {
	name, fp := certName(cert), Fingerprint(cert)
	self := c.Identity.Name
	refuse := func(r TrustReason, want []string, hint, format string, args ...any) *TrustError {
		te := trustErrorf(nil, hint, format, args...)
		te.Reason, te.PeerName, te.Fingerprint, te.Want = r, name, fp, want
		return te
	}
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
			refuse(ReasonRevoked, nil, "revoked means its key was reported lost or stolen: do not chat with it; "+name+" needs a new certificate",
				"%s certificate (serial %s) is revoked by %s since %s", whose, serial, crl.Path, since)
	}
	// The peer name is the certificate's subject name and nothing else:
	// the host names in its SANs say where it may listen, not who it is.
	// A certificate without one has nobody to show, pin or resume with.
	if peerName(cert) == "" {
		const why = "its subject must hold exactly one common name (CN), the peer name; host names do not count"
		var want []string
		if c.Peer != "" {
			want = []string{c.Peer}
		}
		whose := "a client's certificate"
		if hostport != "" {
			whose = "the certificate of the listener at " + hostport
		}
		te := refuse(ReasonNameMismatch, want, "ask the CA's owner for a certificate made by scripts/gen-certs.sh, which writes the peer name there",
			"%s names no peer: %s", whose, why)
		te.PeerName = ""
		return fmt.Sprintf("%s refuses your certificate: it names no peer (%s); ask the CA's owner for one made by scripts/gen-certs.sh", self, why), te
	}
	if c.Peer != "" && name != c.Peer {
		note := ""
		if slices.ContainsFunc(CertNames(cert), func(n string) bool { return strings.EqualFold(n, c.Peer) }) {
			note = fmt.Sprintf(" (the host name %s in it does not count)", c.Peer)
		}
		want := []string{c.Peer}
		if hostport != "" {
			return fmt.Sprintf("%s dialed %s, and the peer name in your certificate is %s%s", self, c.Peer, name, note),
				refuse(ReasonNameMismatch, want, "if "+name+" is who you meant to reach, pass --peer "+name,
					"the listener at %s is %s, not %s: the peer name in its certificate is %s%s", hostport, name, c.Peer, name, note)
		}
		return fmt.Sprintf("%s accepts only %s, and the peer name in your certificate is %s%s; ask %s to listen with --peer %s", self, c.Peer, name, note, self, name),
			refuse(ReasonNameMismatch, want, "to chat with "+name+", listen with --peer "+name,
				"%s is not %s: the peer name in its certificate is %s%s", name, c.Peer, name, note)
	}
	if pins := c.pins(); len(pins) > 0 && !slices.ContainsFunc(pins, func(p string) bool { return strings.HasPrefix(fp, p) }) {
		want := strings.Join(pins, " or ")
		hint := fmt.Sprintf("if %s has a new certificate, compare its fingerprint with %s by voice and pass it with --peer-fingerprint", name, name)
		if hostport != "" {
			err = refuse(ReasonPinMismatch, pins, hint, "the listener at %s is %s with certificate fingerprint %s, not %s as --peer-fingerprint demands", hostport, name, fp, want)
		} else {
			err = refuse(ReasonPinMismatch, pins, hint, "%s's certificate has fingerprint %s, not %s as --peer-fingerprint demands", name, fp, want)
		}
		return fmt.Sprintf("only certificate fingerprint %s is accepted, and yours (%s) is %s; compare fingerprints with %s by voice", want, name, fp, self), err
	}
	if pins := c.pinsFor(name); len(pins) > 0 && !slices.Contains(pins, fp) {
		want := strings.Join(pins, " or ")
		hint := fmt.Sprintf("if %s has a new certificate, compare its fingerprint with %s by voice before you pin it", name, name)
		if hostport != "" {
			err = refuse(ReasonPinMismatch, pins, hint, "the listener at %s is %s with certificate fingerprint %s, not %s as pinned for %s", hostport, name, fp, want, name)
		} else {
			err = refuse(ReasonPinMismatch, pins, hint, "%s's certificate has fingerprint %s, not %s as pinned for %s", name, fp, want, name)
		}
		return fmt.Sprintf("%s has pinned another certificate for %s (fingerprint %s), and yours is %s; if you have a new one, compare fingerprints with %s by voice", self, name, want, fp, self), err
	}
	return "", nil
}

// pinsFor returns PinFor's pins for name in Fingerprint's form. A pin
// that does not parse is kept as it is: it matches no certificate, so a
// damaged pin refuses rather than lets anyone in.
func (c Config) pinsFor(name string) []string {
	if c.PinFor == nil {
		return nil
	}
	var pins []string
	for _, p := range c.PinFor(name) {
		if fp, err := ParseFingerprint(p); err == nil {
			p = fp
		}
		pins = append(pins, p)
	}
	return pins
}

// A trustRefusal is a trust failure this side found, with the words to
// send the other side in an error frame: the same facts, told to the
// refused.
type trustRefusal struct {
	err    *TrustError
	reason string
}

func (r *trustRefusal) Error() string { return r.err.Error() }
func (r *trustRefusal) Unwrap() error { return r.err }
