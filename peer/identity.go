package peer

// This file holds the identity: a certificate bundle's files, loading
// them, fingerprints and names of a certificate, and the *tls.Config each
// role builds from it.

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Files names the three files of a certificate bundle.
type Files struct {
	CA   string // the CA certificate both peers trust
	Cert string // this peer's certificate
	Key  string // this peer's private key
	CRL  string // the CA's revocation list; optional, "" for none
	// CRLNumbers is the file that remembers the highest revocation list
	// number seen per CA, so that an older list is refused as a rollback
	// (see crlnumbers.go); "" remembers nothing. The CLI keeps it in the
	// user's config directory.
	CRLNumbers string
}

// FilesFor returns the bundle `make certs` writes for name into dir:
// dir/ca.crt, dir/name.crt and dir/name.key.
func FilesFor(dir, name string) Files {
	return Files{
		CA:   filepath.Join(dir, "ca.crt"),
		Cert: filepath.Join(dir, name+".crt"),
		Key:  filepath.Join(dir, name+".key"),
	}
}

// Names lists the identities in dir: the names that have both a .crt and a
// .key file, the CA excluded. It returns nil when dir cannot be read.
func Names(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".crt")
		if !ok || name == "ca" {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, name+".key")); err == nil {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// An Identity is a loaded and checked certificate bundle: this peer's
// certificate and key, and the CA it trusts for the other side.
type Identity struct {
	// Name is the name the certificate proves (its one common name), the
	// name this peer is shown as on the other side.
	Name  string
	Leaf  *x509.Certificate
	CA    *x509.Certificate
	Files Files
	// CRL, when Files names one, is the CA's revocation list as loaded:
	// both roles refuse a peer whose certificate it lists. Listen and Dial
	// read the file again when it changes (see revocation.go); CRL stays
	// the list LoadIdentity checked.
	CRL *RevocationList

	cert  tls.Certificate
	roots *x509.CertPool
	crl   *crlWatch // the CRL file, watched; nil without one
}

// revocationList returns the revocation list to vet a peer with now,
// read again if its file changed, or the *TrustError that refuses every
// peer until the file is fixed (past its next update, unreadable, a
// rollback).
func (id *Identity) revocationList() (*RevocationList, error) {
	if id.crl == nil {
		return id.CRL, nil
	}
	return id.crl.current()
}

// LoadIdentity reads and checks a bundle: every file present and parseable,
// the key matching the certificate, the certificate signed by the CA,
// currently valid, usable both to listen and to dial, and not revoked by
// the revocation list when Files names one. The checks are CheckBundle's;
// the first failure comes back as a *TrustError naming the file and the
// fix, in the words `peerchat certs check` prints.
func LoadIdentity(f Files) (*Identity, error) {
	r := CheckBundle(f)
	if err := r.Err(); err != nil {
		return nil, err
	}
	return r.Identity, nil
}

func newPool(ca *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca)
	return p
}

func readBundleFile(path, what string) ([]byte, error) {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, trustErrorf(err, "run `make certs` (or pass --certs-dir, --name, --ca, --cert, --key)", "%s %s does not exist", what, path)
	case err != nil:
		return nil, trustErrorf(err, "check the file's permissions", "cannot read %s %s: %v", what, path, errors.Unwrap(err))
	}
	return b, nil
}

func parseCertPEM(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate in the file")
	}
	return x509.ParseCertificate(block.Bytes)
}

// peerName is the name a certificate proves, its peer name: the one
// common name in its subject, as gen-certs writes it. Its DNS names and
// addresses say where it may listen, not who it is, so they never stand
// in for a missing common name. A subject with two common names names no
// one either: Go reads the last, openssl shows both. "" for none.
func peerName(c *x509.Certificate) string {
	name, n := "", 0
	for _, a := range c.Subject.Names {
		if a.Type.Equal(oidCommonName) {
			name, _ = a.Value.(string)
			n++
		}
	}
	if n != 1 {
		return ""
	}
	return name
}

var oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

// certName is a certificate's peer name, or "(no peer name)" to show for
// one that has none, which vetPeer and CheckBundle refuse.
func certName(c *x509.Certificate) string {
	if name := peerName(c); name != "" {
		return name
	}
	return "(no peer name)"
}

// CertNames lists every name and address a certificate is valid for, as a
// peer would pass them to --peer.
func CertNames(c *x509.Certificate) []string {
	names := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}

// Fingerprint is the SHA-256 digest of a certificate in the form
// `openssl x509 -fingerprint -sha256` prints: upper-case hex pairs joined
// by colons, so a user can check it with the tool they already have.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hexPairs(sum[:])
}

// ShortFingerprint is the first 8 bytes of Fingerprint, enough to tell two
// certificates apart when reading them aloud.
func ShortFingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hexPairs(sum[:8])
}

func hexPairs(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, len(b)*3)
	for i, v := range b {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, digits[v>>4], digits[v&0xf])
	}
	return string(out)
}

// serverConfig is the listener's TLS configuration. None of its security
// settings are options: TLS 1.3 only, client certificates required and
// verified against the CA, no session resumption (every connection proves
// its certificate afresh).
func (id *Identity) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		Certificates:           []tls.Certificate{id.cert},
		ClientAuth:             tls.RequireAndVerifyClientCert,
		ClientCAs:              id.roots,
		NextProtos:             []string{ALPN},
		SessionTicketsDisabled: true,
	}
}

// clientConfig is the dialer's TLS configuration. serverName, when set,
// is the host the listener's certificate must be valid for (the dialed
// host). Empty, the chain is verified the same way, against the CA,
// its validity dates and key usage, but no host name is checked:
// Config.Peer is then the identity, and vetPeer compares it with the
// certificate's peer name after the handshake, where a refusal can be
// explained to the other side in an error frame.
func (id *Identity) clientConfig(serverName string) *tls.Config {
	c := &tls.Config{
		MinVersion: tls.VersionTLS13,
		RootCAs:    id.roots,
		ServerName: serverName,
		NextProtos: []string{ALPN},
		// Always present our certificate, even when the listener names
		// other CAs as acceptable: crypto/tls would otherwise send none,
		// and the listener could only say "no certificate" instead of the
		// real problem, "certificate from an unknown CA".
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &id.cert, nil
		},
	}
	if serverName == "" {
		// crypto/tls checks a host name whenever it verifies, so it
		// must not verify; verifyChain does all of it but the host.
		c.InsecureSkipVerify = true
		c.VerifyConnection = id.verifyChain
	}
	return c
}

// verifyChain is what crypto/tls verifies of a listener's certificate
// but for the host name: signed by our CA, valid now, and for server
// authentication. Its error is the one crypto/tls would return, so that
// explainServerHandshake explains both paths alike.
func (id *Identity) verifyChain(cs tls.ConnectionState) error {
	certs := cs.PeerCertificates
	if len(certs) == 0 {
		return errors.New("tls: the listener sent no certificate")
	}
	opts := x509.VerifyOptions{
		Roots:         id.roots,
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := certs[0].Verify(opts); err != nil {
		return &tls.CertificateVerificationError{UnverifiedCertificates: certs, Err: err}
	}
	return nil
}
