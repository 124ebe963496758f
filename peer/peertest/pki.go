// Package peertest builds throw-away certificate authorities and peer
// certificates for tests, the way `make certs` does, but in Go and in a
// temporary directory, so that every test runs real handshakes on its own
// PKI.
package peertest

import (
	"cmp"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"peerchat/peer"
)

// A PKI is a CA whose files live in Dir, laid out as `make certs` lays
// out certs/: Dir/ca.crt, Dir/ca.key, Dir/NAME.crt, Dir/NAME.key.
type PKI struct {
	Dir  string
	CA   *x509.Certificate
	key  *ecdsa.PrivateKey
	name string

	revoked   []x509.RevocationListEntry // what Revoke has listed so far
	crlNumber int64
}

// NewPKI makes a CA in a fresh temporary directory.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	return NewPKIIn(t, t.TempDir(), "peertest CA")
}

// NewPKIIn makes a CA called name in dir.
func NewPKIIn(t testing.TB, dir, name string) *PKI {
	t.Helper()
	return newPKI(t, dir, name, nil)
}

// NewPKIWith makes a CA in a fresh temporary directory after tweak has
// changed its template: to make it expire, or lose its CA flag.
func NewPKIWith(t testing.TB, tweak func(ca *x509.Certificate)) *PKI {
	t.Helper()
	return newPKI(t, t.TempDir(), "peertest CA", tweak)
}

func newPKI(t testing.TB, dir, name string, tweak func(*x509.Certificate)) *PKI {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	if tweak != nil {
		tweak(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &PKI{Dir: dir, CA: ca, key: key, name: name}
	writePEM(t, filepath.Join(dir, "ca.crt"), "CERTIFICATE", der, 0o644)
	writeKey(t, filepath.Join(dir, "ca.key"), key)
	return p
}

// Leaf describes a peer certificate; the zero value (but for Name) is what
// `make certs` issues: valid now for a year, for Name, localhost, 127.0.0.1
// and ::1, usable for both client and server authentication.
type Leaf struct {
	Name       string
	CommonName string   // replaces Name in the subject when set
	DNSNames   []string // replace the default names when set
	IPs        []net.IP // replace the default addresses when set
	NotBefore  time.Time
	NotAfter   time.Time
	ExtUsage   []x509.ExtKeyUsage // replace serverAuth+clientAuth when set
	KeyUsage   x509.KeyUsage      // replaces digitalSignature when set
	Key        crypto.Signer      // the leaf's key; a fresh P-256 key when nil

	// Subject, when set, replaces the whole subject, Name and CommonName
	// included: an empty one, or one with two common names.
	Subject *pkix.Name
}

// Issue writes Dir/NAME.crt and Dir/NAME.key for leaf and returns the
// bundle's file names.
func (p *PKI) Issue(t testing.TB, leaf Leaf) peer.Files {
	t.Helper()
	if leaf.DNSNames == nil {
		leaf.DNSNames = []string{leaf.Name, "localhost"}
	}
	if leaf.IPs == nil {
		leaf.IPs = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	if leaf.NotBefore.IsZero() {
		leaf.NotBefore = time.Now().Add(-time.Hour)
	}
	if leaf.NotAfter.IsZero() {
		leaf.NotAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	if leaf.ExtUsage == nil {
		leaf.ExtUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	if leaf.KeyUsage == 0 {
		leaf.KeyUsage = x509.KeyUsageDigitalSignature
	}
	var key crypto.Signer = leaf.Key
	if key == nil {
		key = newKey(t)
	}
	subject := pkix.Name{CommonName: cmp.Or(leaf.CommonName, leaf.Name)}
	if leaf.Subject != nil {
		subject = *leaf.Subject
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               subject,
		DNSNames:              leaf.DNSNames,
		IPAddresses:           leaf.IPs,
		NotBefore:             leaf.NotBefore,
		NotAfter:              leaf.NotAfter,
		KeyUsage:              leaf.KeyUsage,
		ExtKeyUsage:           leaf.ExtUsage,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CA, key.Public(), p.key)
	if err != nil {
		t.Fatal(err)
	}
	f := peer.FilesFor(p.Dir, leaf.Name)
	writePEM(t, f.Cert, "CERTIFICATE", der, 0o644)
	writeKey(t, f.Key, key)
	return f
}

// Identity issues a default certificate for name and loads it.
func (p *PKI) Identity(t testing.TB, name string) *peer.Identity {
	t.Helper()
	id, err := peer.LoadIdentity(p.Issue(t, Leaf{Name: name}))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func writeKey(t testing.TB, path string, key crypto.Signer) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, path, "PRIVATE KEY", der, 0o600)
}

func writePEM(t testing.TB, path, typ string, der []byte, mode os.FileMode) {
	t.Helper()
	b := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatal(err)
	}
}

// Cert reads the certificate in a PEM file, such as the Cert of the Files
// that Issue returns.
func Cert(t testing.TB, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// CRL describes a revocation list signed by the PKI's CA; the zero value
// is an empty list issued an hour ago with a next update in 30 days, as
// `scripts/gen-certs.sh crl` makes it.
type CRL struct {
	Revoked    []*x509.Certificate
	ThisUpdate time.Time
	NextUpdate time.Time
	DER        bool // write DER instead of PEM
	// Number is the CRL number; zero means one more than the PKI's last.
	Number int64
}

// WriteCRL writes the list c describes to path and returns path.
func (p *PKI) WriteCRL(t testing.TB, path string, c CRL) string {
	t.Helper()
	if c.ThisUpdate.IsZero() {
		c.ThisUpdate = time.Now().Add(-time.Hour)
	}
	if c.NextUpdate.IsZero() {
		c.NextUpdate = c.ThisUpdate.Add(30 * 24 * time.Hour)
	}
	var entries []x509.RevocationListEntry
	for _, cert := range c.Revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: cert.SerialNumber, RevocationTime: c.ThisUpdate})
	}
	return p.writeCRL(t, path, entries, c)
}

// Revoke adds certs to the CA's revocation list and writes the list, with
// every certificate revoked so far, to Dir/crl.pem, whose path it returns.
func (p *PKI) Revoke(t testing.TB, certs ...*x509.Certificate) string {
	t.Helper()
	for _, cert := range certs {
		p.revoked = append(p.revoked, x509.RevocationListEntry{SerialNumber: cert.SerialNumber, RevocationTime: time.Now().Add(-time.Minute)})
	}
	return p.writeCRL(t, filepath.Join(p.Dir, "crl.pem"), p.revoked, CRL{ThisUpdate: time.Now().Add(-time.Minute)})
}

func (p *PKI) writeCRL(t testing.TB, path string, entries []x509.RevocationListEntry, c CRL) string {
	t.Helper()
	if c.NextUpdate.IsZero() {
		c.NextUpdate = c.ThisUpdate.Add(30 * 24 * time.Hour)
	}
	p.crlNumber++
	if c.Number != 0 {
		p.crlNumber = c.Number
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(p.crlNumber),
		ThisUpdate:                c.ThisUpdate,
		NextUpdate:                c.NextUpdate,
		RevokedCertificateEntries: entries,
	}, p.CA, p.key)
	if err != nil {
		t.Fatal(err)
	}
	if c.DER {
		if err := os.WriteFile(path, der, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	writePEM(t, path, "X509 CRL", der, 0o644)
	return path
}
