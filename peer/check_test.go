package peer_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"peerchat/peer"
	"peerchat/peer/peertest"
)

const day = 24 * time.Hour

// TestCheckBundleFindsEveryProblem makes, for every check of CheckBundle
// (and so of `peerchat certs check`), a bundle that fails it, and checks
// the finding's severity and words. A failure must also be what
// LoadIdentity refuses the bundle with, word for word; a warning must
// leave the bundle usable.
func TestCheckBundleFindsEveryProblem(t *testing.T) {
	// issue makes a PKI and alice's bundle in it; leaf tweaks alice.
	issue := func(t *testing.T, leaf peertest.Leaf) (*peertest.PKI, peer.Files) {
		pki := peertest.NewPKI(t)
		leaf.Name = "alice"
		return pki, pki.Issue(t, leaf)
	}
	withCA := func(tweak func(*x509.Certificate)) func(t *testing.T) peer.Files {
		return func(t *testing.T) peer.Files {
			pki := peertest.NewPKIWith(t, tweak)
			return pki.Issue(t, peertest.Leaf{Name: "alice", NotBefore: time.Now().Add(-2 * day)})
		}
	}
	alice := func(leaf peertest.Leaf, then func(t *testing.T, pki *peertest.PKI, f *peer.Files)) func(t *testing.T) peer.Files {
		return func(t *testing.T) peer.Files {
			pki, f := issue(t, leaf)
			if then != nil {
				then(t, pki, &f)
			}
			return f
		}
	}
	write := func(t *testing.T, path, content string) {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		setup func(t *testing.T) peer.Files
		sev   peer.Severity
		want  string // DIR stands for the directory of the certificate
	}{
		// The CA certificate.
		{"CA file missing", alice(peertest.Leaf{}, func(t *testing.T, _ *peertest.PKI, f *peer.Files) { os.Remove(f.CA) }),
			peer.Fail, "CA certificate DIR/ca.crt does not exist; run `make certs`"},
		{"CA file is not PEM", alice(peertest.Leaf{}, func(t *testing.T, _ *peertest.PKI, f *peer.Files) { write(t, f.CA, "hello") }),
			peer.Fail, "DIR/ca.crt: no PEM certificate in the file; pass the CA certificate with --ca"},
		{"CA is a peer certificate", alice(peertest.Leaf{}, func(t *testing.T, pki *peertest.PKI, f *peer.Files) {
			f.CA = pki.Issue(t, peertest.Leaf{Name: "bob"}).Cert
		}), peer.Fail, "DIR/bob.crt (bob) is not a CA certificate: it has no CA:TRUE basic constraint; pass the CA's certificate (ca.crt) with --ca"},
		{"CA may not sign certificates", withCA(func(ca *x509.Certificate) { ca.KeyUsage = x509.KeyUsageCRLSign }),
			peer.Fail, "DIR/ca.crt (peertest CA) is not allowed to sign certificates (its key usage lacks keyCertSign)"},
		{"CA not valid yet", withCA(func(ca *x509.Certificate) { ca.NotBefore = time.Now().Add(2 * day) }),
			peer.Fail, "the CA certificate DIR/ca.crt is not valid until"},
		{"CA expired", withCA(func(ca *x509.Certificate) {
			ca.NotBefore, ca.NotAfter = time.Now().Add(-3*day), time.Now().Add(-time.Hour)
		}), peer.Fail, "the CA certificate DIR/ca.crt expired on"},
		{"CA expires within 30 days", withCA(func(ca *x509.Certificate) { ca.NotAfter = time.Now().Add(10 * day) }),
			peer.Warn, "the CA certificate DIR/ca.crt expires in 9 days"},

		// The certificate and the key.
		{"certificate missing", alice(peertest.Leaf{}, func(t *testing.T, _ *peertest.PKI, f *peer.Files) {
			f.Cert = filepath.Join(filepath.Dir(f.Cert), "carol.crt")
		}), peer.Fail, "certificate DIR/carol.crt does not exist"},
		{"certificate is not PEM", alice(peertest.Leaf{}, func(t *testing.T, _ *peertest.PKI, f *peer.Files) { write(t, f.Cert, "hello") }),
			peer.Fail, "DIR/alice.crt: no PEM certificate in the file"},
		{"key missing", alice(peertest.Leaf{}, func(t *testing.T, _ *peertest.PKI, f *peer.Files) { os.Remove(f.Key) }),
			peer.Fail, "private key DIR/alice.key does not exist"},
		{"key readable by others", alice(peertest.Leaf{}, func(t *testing.T, _ *peertest.PKI, f *peer.Files) { os.Chmod(f.Key, 0o644) }),
			peer.Fail, "private key DIR/alice.key is readable by group/others (mode 0644); only its owner may read it: run `chmod 600 DIR/alice.key`"},
		{"key readable by group", alice(peertest.Leaf{}, func(t *testing.T, _ *peertest.PKI, f *peer.Files) { os.Chmod(f.Key, 0o640) }),
			peer.Fail, "private key DIR/alice.key is readable by group/others (mode 0640); only its owner may read it: run `chmod 600 DIR/alice.key`"},
		{"key writable by group", alice(peertest.Leaf{}, func(t *testing.T, _ *peertest.PKI, f *peer.Files) { os.Chmod(f.Key, 0o620) }),
			peer.Fail, "private key DIR/alice.key is accessible by group/others (mode 0620); only its owner may read it: run `chmod 600 DIR/alice.key`"},
		{"key readable by others, in a folder with a space", alice(peertest.Leaf{}, func(t *testing.T, _ *peertest.PKI, f *peer.Files) {
			dir := filepath.Join(filepath.Dir(f.Key), "my keys")
			os.Mkdir(dir, 0o700)
			key := filepath.Join(dir, "alice.key")
			os.Rename(f.Key, key)
			os.Chmod(key, 0o604)
			f.Key = key
		}), peer.Fail, "private key DIR/my keys/alice.key is readable by group/others (mode 0604); only its owner may read it: run `chmod 600 'DIR/my keys/alice.key'`"},
		{"key of another certificate", alice(peertest.Leaf{}, func(t *testing.T, pki *peertest.PKI, f *peer.Files) {
			f.Key = pki.Issue(t, peertest.Leaf{Name: "bob"}).Key
		}), peer.Fail, "DIR/bob.key does not match DIR/alice.crt; use the key that was made with this certificate"},
		{"key file holds no key", alice(peertest.Leaf{}, func(t *testing.T, _ *peertest.PKI, f *peer.Files) { write(t, f.Key, "hello") }),
			peer.Fail, "cannot load the private key DIR/alice.key"},
		{"weak RSA key", alice(peertest.Leaf{Key: rsa1024}, nil),
			peer.Warn, "DIR/alice.crt has a weak 1024-bit RSA key; use 2048 bits or more"},

		// The chain, the validity, the usages, the names.
		{"signed by another CA", alice(peertest.Leaf{}, func(t *testing.T, pki *peertest.PKI, f *peer.Files) {
			other := peertest.NewPKIIn(t, t.TempDir(), "other CA")
			of := other.Issue(t, peertest.Leaf{Name: "alice"})
			f.Cert, f.Key = of.Cert, of.Key
		}), peer.Fail, "alice.crt is not signed by the CA in DIR/ca.crt; pass the CA it was issued by (other CA) with --ca"},
		{"expired", alice(peertest.Leaf{NotBefore: time.Now().Add(-3 * day), NotAfter: time.Now().Add(-time.Hour)}, nil),
			peer.Fail, "DIR/alice.crt expired on"},
		{"not valid yet", alice(peertest.Leaf{NotBefore: time.Now().Add(2 * day)}, nil),
			peer.Fail, "DIR/alice.crt is not valid until"},
		{"expires within 30 days", alice(peertest.Leaf{NotAfter: time.Now().Add(10 * day)}, nil),
			peer.Warn, "DIR/alice.crt expires in 9 days"},
		{"server authentication only", alice(peertest.Leaf{ExtUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, nil),
			peer.Fail, "DIR/alice.crt is not valid for both client and server authentication (extended key usage lacks clientAuth)"},
		{"client authentication only", alice(peertest.Leaf{ExtUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, nil),
			peer.Fail, "(extended key usage lacks serverAuth)"},
		{"key usage without digitalSignature", alice(peertest.Leaf{KeyUsage: x509.KeyUsageKeyEncipherment}, nil),
			peer.Fail, "DIR/alice.crt may not make digital signatures (key usage lacks digitalSignature)"},
		{"no names", alice(peertest.Leaf{DNSNames: []string{}, IPs: []net.IP{}}, nil),
			peer.Warn, "DIR/alice.crt lists no names or addresses (subject alternative names): a dialer can reach it only with --peer alice or as a contact, not by address alone"},
		{"no common name", alice(peertest.Leaf{Subject: &pkix.Name{}}, nil),
			peer.Fail, "DIR/alice.crt names no peer: its subject must hold exactly one common name (CN)"},

		// The revocation list.
		{"revocation list missing", alice(peertest.Leaf{}, func(t *testing.T, pki *peertest.PKI, f *peer.Files) {
			f.CRL = filepath.Join(pki.Dir, "crl.pem")
		}), peer.Fail, "revocation list DIR/crl.pem does not exist"},
		{"revocation list is not one", alice(peertest.Leaf{}, func(t *testing.T, pki *peertest.PKI, f *peer.Files) {
			f.CRL = filepath.Join(pki.Dir, "crl.pem")
			write(t, f.CRL, "hello")
		}), peer.Fail, "DIR/crl.pem is not a revocation list"},
		{"revocation list is a certificate", alice(peertest.Leaf{}, func(t *testing.T, pki *peertest.PKI, f *peer.Files) {
			f.CRL = f.Cert
		}), peer.Fail, "DIR/alice.crt holds a certificate, not a revocation list (X509 CRL)"},
		{"revocation list of another CA", alice(peertest.Leaf{}, func(t *testing.T, pki *peertest.PKI, f *peer.Files) {
			f.CRL = peertest.NewPKI(t).WriteCRL(t, filepath.Join(pki.Dir, "crl.pem"), peertest.CRL{})
		}), peer.Fail, "revocation list DIR/crl.pem is not signed by our CA (peertest CA)"},
		{"revocation list past its next update", alice(peertest.Leaf{}, func(t *testing.T, pki *peertest.PKI, f *peer.Files) {
			f.CRL = pki.WriteCRL(t, filepath.Join(pki.Dir, "crl.pem"), peertest.CRL{ThisUpdate: time.Now().Add(-40 * day), NextUpdate: time.Now().Add(-10 * day)})
		}), peer.Fail, "revocation list DIR/crl.pem is past its next update (" + time.Now().Add(-10*day).UTC().Format("2006-01-02") + " "},
		{"revocation list due for re-signing within a week", alice(peertest.Leaf{}, func(t *testing.T, pki *peertest.PKI, f *peer.Files) {
			f.CRL = pki.WriteCRL(t, filepath.Join(pki.Dir, "crl.pem"), peertest.CRL{ThisUpdate: time.Now().Add(-27 * day), NextUpdate: time.Now().Add(3*day + time.Hour)})
		}), peer.Warn, "revocation list DIR/crl.pem must be re-signed within 3 days (next update "},
		{"revocation list older than one seen before", alice(peertest.Leaf{}, func(t *testing.T, pki *peertest.PKI, f *peer.Files) {
			f.CRL = filepath.Join(pki.Dir, "crl.pem")
			f.CRLNumbers = filepath.Join(pki.Dir, "config", "crl-numbers")
			pki.WriteCRL(t, f.CRL, peertest.CRL{Number: 5})
			if _, err := peer.LoadIdentity(*f); err != nil {
				t.Fatal(err)
			}
			pki.WriteCRL(t, f.CRL, peertest.CRL{Number: 3})
		}), peer.Fail, "revocation list DIR/crl.pem is number 3, but number 5 from the same CA (peertest CA) was seen before (remembered in DIR/config/crl-numbers): an older list may leave out revocations, so it is refused; get the newest crl.pem from the CA's owner; if the CA's list was started over on purpose, delete the CA's line from DIR/config/crl-numbers"},
		{"revocation list numbers file damaged", alice(peertest.Leaf{}, func(t *testing.T, pki *peertest.PKI, f *peer.Files) {
			f.CRL = pki.WriteCRL(t, filepath.Join(pki.Dir, "crl.pem"), peertest.CRL{})
			f.CRLNumbers = filepath.Join(pki.Dir, "crl-numbers")
			write(t, f.CRLNumbers, "# comment\n"+peer.Fingerprint(pki.CA)+" seven\n")
		}), peer.Fail, "DIR/crl-numbers line 2: \"seven\" is not a CRL number; fix or delete that line"},
		{"revocation list numbers file with a line too long to read", alice(peertest.Leaf{}, func(t *testing.T, pki *peertest.PKI, f *peer.Files) {
			f.CRL = pki.WriteCRL(t, filepath.Join(pki.Dir, "crl.pem"), peertest.CRL{})
			f.CRLNumbers = filepath.Join(pki.Dir, "crl-numbers")
			write(t, f.CRLNumbers, "# comment\n"+peer.Fingerprint(pki.CA)+" 7 "+strings.Repeat("x", 100<<10)+"\n")
		}), peer.Fail, "DIR/crl-numbers line 2: too long to be a CA's line; fix or delete that line"},
		{"own certificate revoked", alice(peertest.Leaf{}, func(t *testing.T, pki *peertest.PKI, f *peer.Files) {
			f.CRL = pki.Revoke(t, peertest.Cert(t, f.Cert))
		}), peer.Fail, "DIR/alice.crt (serial SERIAL) is revoked by DIR/crl.pem since"},
		{"DER revocation list listing someone else", alice(peertest.Leaf{}, func(t *testing.T, pki *peertest.PKI, f *peer.Files) {
			bob := peertest.Cert(t, pki.Issue(t, peertest.Leaf{Name: "bob"}).Cert)
			f.CRL = pki.WriteCRL(t, filepath.Join(pki.Dir, "crl.der"), peertest.CRL{Revoked: []*x509.Certificate{bob}, DER: true})
		}), peer.Pass, "revocation list DIR/crl.der: signed by the CA, 1 revoked, next update"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.setup(t)
			r := peer.CheckBundle(f)
			dir := filepath.Dir(f.CA)
			want := strings.ReplaceAll(tt.want, "DIR", dir)
			if r.Leaf != nil {
				want = strings.ReplaceAll(want, "SERIAL", peer.Serial(r.Leaf.SerialNumber))
			}
			var found *peer.Finding
			for i, fd := range r.Findings {
				if strings.Contains(fd.String(), want) {
					found = &r.Findings[i]
					break
				}
			}
			if found == nil || found.Severity != tt.sev {
				t.Fatalf("no %s finding %q in:\n%s", tt.sev, want, findings(r))
			}
			if (tt.sev == peer.Fail) == r.Usable() {
				t.Errorf("Usable() = %v with a %s finding", r.Usable(), tt.sev)
			}
			if tt.sev != peer.Fail && len(r.Only(peer.Fail)) > 0 {
				t.Errorf("unexpected failures:\n%s", findings(r))
			}
			if (found.Severity == peer.Fail || found.Severity == peer.Warn) && found.Hint == "" {
				t.Errorf("%s finding without a hint: %s", found.Severity, found)
			}
			_, err := peer.LoadIdentity(f)
			switch {
			case tt.sev == peer.Fail && err == nil:
				t.Error("LoadIdentity accepted the bundle")
			case tt.sev == peer.Fail && err.Error() != r.Only(peer.Fail)[0].String():
				t.Errorf("LoadIdentity refused with\n  %v\nand certs check says\n  %s", err, r.Only(peer.Fail)[0])
			case tt.sev != peer.Fail && err != nil:
				t.Errorf("LoadIdentity: %v", err)
			}
		})
	}
}

func findings(r *peer.Report) string {
	var b strings.Builder
	for _, f := range r.Findings {
		b.WriteString("  " + f.Severity.String() + "  " + f.String() + "\n")
	}
	return b.String()
}

// TestCheckBundleReportsFacts checks what a good bundle's report says:
// every check passed, and the facts a person compares.
func TestCheckBundleReportsFacts(t *testing.T) {
	pki := peertest.NewPKI(t)
	f := pki.Issue(t, peertest.Leaf{Name: "alice"})
	bob := peertest.Cert(t, pki.Issue(t, peertest.Leaf{Name: "bob"}).Cert)
	f.CRL = pki.Revoke(t, bob)
	r := peer.CheckBundle(f)
	if !r.Usable() || len(r.Only(peer.Warn)) > 0 {
		t.Fatalf("a good bundle is not clean:\n%s", findings(r))
	}
	d := pki.Dir
	want := []struct {
		sev peer.Severity
		msg string
	}{
		{peer.Pass, "CA certificate " + d + "/ca.crt: peertest CA, valid until "},
		{peer.Info, "certificate " + d + "/alice.crt: alice, serial " + peer.Serial(r.Leaf.SerialNumber) + ", issued by peertest CA"},
		{peer.Pass, d + "/alice.key is private to its owner (mode 0600)"},
		{peer.Pass, "key " + d + "/alice.key matches the certificate (ECDSA P-256)"},
		{peer.Pass, d + "/alice.crt is signed by the CA in " + d + "/ca.crt"},
		{peer.Pass, "valid from "},
		{peer.Pass, "usable to listen and to dial (serverAuth, clientAuth; digitalSignature)"},
		{peer.Info, "valid for alice, localhost, 127.0.0.1, ::1"},
		{peer.Info, "fingerprint (SHA-256) " + peer.Fingerprint(r.Leaf)},
		{peer.Info, "short fingerprint " + peer.ShortFingerprint(r.Leaf)},
		{peer.Pass, "revocation list " + d + "/crl.pem: signed by the CA, 1 revoked, next update "},
	}
	if len(r.Findings) != len(want) {
		t.Fatalf("%d findings, want %d:\n%s", len(r.Findings), len(want), findings(r))
	}
	for i, w := range want {
		if got := r.Findings[i]; got.Severity != w.sev || !strings.HasPrefix(got.Msg, w.msg) {
			t.Errorf("finding %d: %s %q, want %s %q…", i, got.Severity, got.Msg, w.sev, w.msg)
		}
	}
	id := r.Identity
	if id.Name != "alice" || id.CRL == nil || id.CRL.Len() != 1 {
		t.Errorf("identity %+v", id)
	}
	if _, revoked := id.CRL.Revoked(bob); !revoked {
		t.Error("bob is not revoked in the loaded list")
	}
}
