package peer

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"strings"
	"sync"
	"time"
)

// Revocation is for the lost laptop: the CA's owner lists the certificate
// in a revocation list (a CRL, made by `scripts/gen-certs.sh revoke NAME`)
// and hands the list to everyone who chats; from then on both roles refuse
// that certificate, though it still verifies against the CA.
//
// The list is only as good as it is fresh, so peerchat refuses to use one
// that cannot vouch for now:
//
//   - A list past its next update is refused, at start and on every
//     connection after it lapses: it says nothing of certificates revoked
//     since, and the CA's owner re-signs it with one command.
//   - A list older than one already seen for the same CA (a lower CRL
//     number) is refused as a rollback: putting back an old file must not
//     un-revoke a stolen laptop. The highest number seen per CA lives in
//     the file Files.CRLNumbers names (see crlnumbers.go).
//   - The file is watched: each new connection stats it, and a changed
//     file (size, modification time or inode) is read again, so a peer
//     revoked during `listen -k` is refused at its next connection.
//
// A changed file that fails to load (torn by a copy in progress, signed by
// another CA, a rollback) is not replaced by the list read before: every
// connection is refused, naming the problem, until the file is fixed.
// Falling back would quietly accept the very certificate the new file was
// meant to revoke; refusing costs a retry, and the next connection reads
// the file again.

// CRLExpiryWarning is how long before its next update a revocation list
// starts to be warned about.
const CRLExpiryWarning = 7 * 24 * time.Hour

// A RevocationList is a CRL checked against the CA that signed it.
type RevocationList struct {
	// Path is the file the list was read from, named in every message.
	Path string
	// List is the parsed CRL.
	List *x509.RevocationList

	revoked map[string]time.Time // revocation time by serial (decimal)
	file    fs.FileInfo          // the file as it was read, to notice a change
}

// LoadRevocationList reads a CRL, PEM ("X509 CRL") or DER, from path and
// checks that ca signed it. Every failure is a *TrustError: a list that
// cannot be read or that another CA signed protects nobody, and saying so
// at start beats finding out when a revoked laptop gets in. It neither
// checks the list's next update nor its number; LoadIdentity does.
func LoadRevocationList(path string, ca *x509.Certificate) (*RevocationList, error) {
	b, fi, err := readStamped(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, trustErrorf(err, "make it with `scripts/gen-certs.sh revoke NAME`, or leave out --crl",
			"revocation list %s does not exist", path)
	case err != nil:
		return nil, trustErrorf(err, "check the file's permissions", "cannot read revocation list %s: %v", path, unwrapPath(err))
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
	r := &RevocationList{Path: path, List: list, revoked: make(map[string]time.Time), file: fi}
	for _, e := range list.RevokedCertificateEntries {
		r.revoked[e.SerialNumber.String()] = e.RevocationTime
	}
	return r, nil
}

// readStamped reads a file and returns what it was when read: the stat of
// the open file, taken before reading, so that a write that lands after
// the stat shows as a change the next time.
func readStamped(path string) ([]byte, fs.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(f)
	return b, fi, err
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
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

// Number is the list's CRL number, nil when it has none.
func (r *RevocationList) Number() *big.Int { return r.List.Number }

// A StaleCRLError is a revocation list past its next update. It comes
// wrapped in a *TrustError, whose Hint a caller that knows how the list
// is made may replace with the command that re-signs it. It is also the
// Err of CheckBundle's warning that a list is due within
// CRLExpiryWarning, for the same hint.
type StaleCRLError struct {
	Path       string    // the list's file
	NextUpdate time.Time // when it should have been replaced
}

func (e *StaleCRLError) Error() string {
	return fmt.Sprintf("revocation list %s is past its next update (%s): certificates revoked since may be missing from it, so no certificate can be checked against it",
		e.Path, e.NextUpdate.UTC().Format(crlTime))
}

// crlTime is how a list's dates are shown: to the minute, since a list can
// lapse during a chat.
const crlTime = "2006-01-02 15:04 MST"

func staleError(r *RevocationList) *TrustError {
	e := &StaleCRLError{Path: r.Path, NextUpdate: r.List.NextUpdate}
	return &TrustError{Msg: e.Error(), Hint: "get a freshly signed one from the CA's owner", Err: e}
}

// crlWatch is the revocation list of a running peer: the file is stat'ed
// at each use and read again when it changed.
type crlWatch struct {
	path    string
	ca      *x509.Certificate
	numbers string           // Files.CRLNumbers
	now     func() time.Time // time.Now, but for tests

	mu   sync.Mutex
	list *RevocationList // the newest list that passed every check
	file fs.FileInfo     // the file as last read; nil to read it again
	err  error           // why the file as last read is refused; nil when list is it
}

func newCRLWatch(list *RevocationList, ca *x509.Certificate, numbers string) *crlWatch {
	return &crlWatch{path: list.Path, ca: ca, numbers: numbers, now: time.Now, list: list, file: settled(list.file)}
}

// settled returns fi, or nil when the file was modified so recently that
// another write within the same tick of the file system's clock, of the
// same size, would leave size, time and inode unchanged (a copy over the
// file in place): such a file is read again at the next use, until its
// modification time is safely in the past. Git treats its index the same
// way ("racy git").
func settled(fi fs.FileInfo) fs.FileInfo {
	if fi == nil || time.Since(fi.ModTime()) < 2*time.Second {
		return nil
	}
	return fi
}

// current returns the list to vet a certificate with now, or the
// *TrustError that refuses every certificate until the file is fixed.
func (w *crlWatch) current() (*RevocationList, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fi, err := os.Stat(w.path)
	if err != nil || w.file == nil || !sameFile(fi, w.file) {
		w.reload()
	}
	if w.err != nil {
		return nil, w.err
	}
	if w.list.Stale(w.now()) {
		return nil, staleError(w.list)
	}
	return w.list, nil
}

func (w *crlWatch) reload() {
	list, err := LoadRevocationList(w.path, w.ca)
	if err == nil {
		err = checkCRLNumber(w.numbers, w.ca, list)
	}
	if err != nil {
		w.file, w.err = nil, err // read it again next time: it may be mid-copy
		if list != nil {
			w.file = settled(list.file)
		}
		return
	}
	w.list, w.file, w.err = list, settled(list.file), nil
}

// sameFile reports whether a and b describe the same file with the same
// contents, as far as size, modification time and identity (inode) tell.
func sameFile(a, b fs.FileInfo) bool {
	return a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && os.SameFile(a, b)
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
