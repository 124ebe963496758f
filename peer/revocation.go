package peer

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"strings"
	"time"
)

// Revocation is for the lost laptop: the CA's owner lists the certificate
// in a revocation list (a CRL, made by `scripts/gen-certs.sh revoke NAME`)
// and hands the list to everyone who chats; from then on both roles refuse
// that certificate, though it still verifies against the CA.
//
// A list past its next update is still used, with a warning: it lists
// every certificate revoked up to the day it was signed, and refusing to
// chat over a stale list would only push people to delete it.

// A RevocationList is a CRL checked against the CA that signed it.
type RevocationList struct {
	// Path is the file the list was read from, named in every message.
	Path string
	// List is the parsed CRL.
	List *x509.RevocationList

	revoked map[string]time.Time // revocation time by serial (decimal)
}

// LoadRevocationList reads a CRL, PEM ("X509 CRL") or DER, from path and
// checks that ca signed it. Every failure is a *TrustError: a list that
// cannot be read or that another CA signed protects nobody, and saying so
// at start beats finding out when a revoked laptop gets in.
func LoadRevocationList(path string, ca *x509.Certificate) (*RevocationList, error) {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, trustErrorf(err, "make it with `scripts/gen-certs.sh revoke NAME`, or leave out --crl",
			"revocation list %s does not exist", path)
	case err != nil:
		return nil, trustErrorf(err, "check the file's permissions", "cannot read revocation list %s: %v", path, errors.Unwrap(err))
	}
	der := b
	if block, _ := pem.Decode(b); block != nil {
		if block.Type != "X509 CRL" {
			return nil, trustErrorf(nil, "pass the CA's revocation list (crl.pem) with --crl",
				"%s holds a %s, not a revocation list (X509 CRL)", path, strings.ToLower(block.Type))
		}
		der = block.Bytes
	}
	list, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, trustErrorf(err, "re-create it with `scripts/gen-certs.sh crl`",
			"%s is not a revocation list: %v", path, err)
	}
	if err := list.CheckSignatureFrom(ca); err != nil {
		return nil, trustErrorf(err, "use the crl.pem made by the CA that issued your certificate, or leave out --crl",
			"revocation list %s is not signed by our CA (%s)", path, ca.Subject.CommonName)
	}
	r := &RevocationList{Path: path, List: list, revoked: make(map[string]time.Time)}
	for _, e := range list.RevokedCertificateEntries {
		r.revoked[e.SerialNumber.String()] = e.RevocationTime
	}
	return r, nil
}

// Revoked reports whether the list revokes c, and since when. The list is
// signed by the one CA both peers trust, so the serial alone names c.
func (r *RevocationList) Revoked(c *x509.Certificate) (time.Time, bool) {
	if r == nil {
		return time.Time{}, false
	}
	at, ok := r.revoked[c.SerialNumber.String()]
	return at, ok
}

// Len is the number of certificates the list revokes.
func (r *RevocationList) Len() int { return len(r.revoked) }

// Stale reports whether the list is past its next update at now.
func (r *RevocationList) Stale(now time.Time) bool {
	return !r.List.NextUpdate.IsZero() && now.After(r.List.NextUpdate)
}

// Serial formats a certificate serial number as openssl prints it
// (`openssl x509 -serial`, `openssl crl -text`): upper-case hex, an even
// number of digits.
func Serial(n *big.Int) string {
	s := strings.ToUpper(n.Text(16))
	if len(s)%2 == 1 {
		s = "0" + s
	}
	return s
}
