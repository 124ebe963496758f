package peer

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"unicode"
)

// The CRL numbers file remembers, for each CA, the highest revocation list
// number this user's peerchat has accepted, so that an older list signed
// by the same CA is refused as a rollback (see revocation.go). The CLI
// keeps it in the user's config directory; a library user names it in
// Files.CRLNumbers, or leaves it empty for no memory.
//
// It is meant to be read, and in a pinch edited, by a person: a comment,
// then one line per CA, the CA certificate's SHA-256 fingerprint (as
// Fingerprint prints it), the number in decimal (as `openssl crl -text`
// shows it), and the CA's name for the reader:
//
//	# peerchat: the highest revocation list (CRL) number seen for each CA …
//	3F:9A:…:C2 7 peerchat local CA (laptop)
//
// Every update takes an exclusive lock (FILE.lock), reads the file, and
// replaces it through a temporary file and a rename, so that two peerchat
// processes starting together cannot lose each other's number and a
// crash never leaves half a file.

const crlNumbersHeader = `# peerchat: the highest revocation list (CRL) number seen for each CA,
# by the SHA-256 fingerprint of the CA certificate. A list with a lower
# number from the same CA is refused: it is an older list put back.
# Delete a CA's line only if that CA's list was started over.
`

// A CRLRollbackError is a revocation list older than one accepted before
// from the same CA. It comes wrapped in a *TrustError.
type CRLRollbackError struct {
	Path    string   // the list's file
	CA      string   // the CA's name
	Number  *big.Int // the list's number; nil when it has none
	Highest *big.Int // the highest number seen for the CA
	File    string   // the file that remembers Highest
}

func (e *CRLRollbackError) Error() string {
	number := "has no CRL number"
	if e.Number != nil {
		number = "is number " + e.Number.String()
	}
	return fmt.Sprintf("revocation list %s %s, but number %s from the same CA (%s) was seen before (remembered in %s): an older list may leave out revocations, so it is refused",
		e.Path, number, e.Highest, e.CA, e.File)
}

type crlNumber struct {
	fingerprint string
	number      *big.Int
	name        string
}

// checkCRLNumber refuses list as a rollback when file remembers a higher
// number for ca, and otherwise remembers list's number. An empty file
// name checks nothing.
func checkCRLNumber(file string, ca *x509.Certificate, list *RevocationList) error {
	if file == "" {
		return nil
	}
	fail := func(err error, format string, args ...any) error {
		return trustErrorf(err, "check that the directory is writable, or delete the file if it is damaged", format, args...)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fail(err, "cannot remember revocation list numbers in %s: %v", file, unwrapPath(err))
	}
	unlock, err := LockFile(file + ".lock")
	if err != nil {
		return fail(err, "cannot lock %s.lock: %v", file, unwrapPath(err))
	}
	defer unlock()

	seen, err := readCRLNumbers(file)
	if err != nil {
		return err
	}
	fp, n := Fingerprint(ca), list.Number()
	i := -1
	for j, s := range seen {
		if s.fingerprint == fp {
			i = j
		}
	}
	if i >= 0 && (n == nil || n.Cmp(seen[i].number) < 0) {
		e := &CRLRollbackError{Path: list.Path, CA: certName(ca), Number: n, Highest: seen[i].number, File: file}
		return &TrustError{Msg: e.Error(), Err: e,
			Hint: "get the newest crl.pem from the CA's owner; if the CA's list was started over on purpose, delete the CA's line from " + file}
	}
	switch {
	case n == nil:
		return nil // nothing to remember; a numbered list comes later
	case i >= 0 && n.Cmp(seen[i].number) == 0:
		return nil
	case i >= 0:
		seen[i].number = n
	default:
		seen = append(seen, crlNumber{fp, n, certName(ca)})
	}
	if err := writeCRLNumbers(file, seen); err != nil {
		return fail(err, "cannot remember revocation list numbers in %s: %v", file, unwrapPath(err))
	}
	return nil
}

func readCRLNumbers(file string) ([]crlNumber, error) {
	b, err := os.ReadFile(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, trustErrorf(err, "check the file's permissions", "cannot read %s: %v", file, unwrapPath(err))
	}
	var seen []crlNumber
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := 1
	bad := func(what string) error {
		return trustErrorf(nil, "fix or delete that line (peerchat then remembers the next list's number afresh)",
			"%s line %d: %s", file, line, what)
	}
	for ; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) < 2 {
			return nil, bad("want a CA fingerprint and a number")
		}
		fp, err := ParseFingerprint(fields[0])
		if err != nil || len(fp) != len("AB")*32+31 {
			return nil, bad(fmt.Sprintf("%q is not a whole SHA-256 fingerprint", fields[0]))
		}
		n, ok := new(big.Int).SetString(fields[1], 10)
		if !ok || n.Sign() < 0 {
			return nil, bad(fmt.Sprintf("%q is not a CRL number", fields[1]))
		}
		seen = append(seen, crlNumber{fp, n, strings.Join(fields[2:], " ")})
	}
	if sc.Err() != nil { // only bufio.ErrTooLong: b is in memory
		return nil, bad("too long to be a CA's line")
	}
	return seen, nil
}

func writeCRLNumbers(file string, seen []crlNumber) error {
	var b bytes.Buffer
	b.WriteString(crlNumbersHeader)
	for _, s := range seen {
		fmt.Fprintf(&b, "%s %s %s\n", s.fingerprint, s.number, printable(s.name))
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if err := tmp.Chmod(0o600); err != nil && unixPermissions {
		tmp.Close()
		return err
	}
	_, err = tmp.Write(b.Bytes())
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

// printable keeps a CA's name (someone else's data) on its one line.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsGraphic(r) && !unicode.Is(unicode.Cf, r) {
			return r
		}
		return '?'
	}, s)
}
