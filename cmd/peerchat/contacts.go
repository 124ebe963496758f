package main

// The contacts file: who is where, and which certificate is theirs, as
// SSH's known_hosts. One contact a line, in columns a person can edit:
//
//	NAME  HOST:PORT  FINGERPRINT  LAST-CONNECTED
//
// FINGERPRINT is the full SHA-256 fingerprint of the contact's certificate,
// or "-" until the first connection pins it (trust on first use);
// LAST-CONNECTED is an RFC 3339 time, or "-". Every change is made under a
// lock, on what the file holds at that moment, and written to a temporary
// file in the same directory that then replaces the old one, so that two
// peerchat processes pinning at once both keep their change and a crash
// leaves the old file or the new one, never half of one. A line peerchat
// cannot read is an error naming the file and the line; peerchat never
// rewrites a file it could not read.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"peerchat/peer"
)

// A contact is one line of the contacts file.
type contact struct {
	Name string    // the peer name its certificate must carry
	Addr string    // HOST:PORT to dial
	Pin  string    // full fingerprint, in peer.Fingerprint's form; "" until pinned
	Last time.Time // last successful connection; zero if none
}

const contactsHeader = `# peerchat contacts: one peer a line, in four columns separated by spaces:
#   NAME  HOST:PORT  FINGERPRINT  LAST-CONNECTED
# NAME is the peer name the certificate must carry (its CN); HOST:PORT is
# where "peerchat dial NAME" connects; FINGERPRINT is the full SHA-256
# fingerprint of NAME's certificate, or - until the first connection pins it;
# LAST-CONNECTED is an RFC 3339 time, or -. Lines starting with # are ignored.
# Edit by hand or with "peerchat contacts add|pin|remove"; after a peer
# re-issued its certificate, check the new fingerprint with them by voice and
# run "peerchat contacts pin NAME FINGERPRINT".
`

// fullFingerprintLen is the length of a whole SHA-256 fingerprint in
// peer.Fingerprint's form: 32 hex pairs and 31 colons.
const fullFingerprintLen = 32*3 - 1

// parseFullFingerprint is peer.ParseFingerprint that also demands all 32
// bytes: a contact's pin is the whole certificate's, never a prefix.
func parseFullFingerprint(s string) (string, error) {
	fp, err := peer.ParseFingerprint(s)
	if err != nil {
		return "", err
	}
	if len(fp) != fullFingerprintLen {
		return "", fmt.Errorf("fingerprint %q is a prefix; a contact needs the full SHA-256 fingerprint (32 bytes), as `peerchat certs show` and `peerchat contacts list` print it", s)
	}
	return fp, nil
}

// contactAddr normalises HOST or HOST:PORT to HOST:PORT.
func contactAddr(s string) (string, error) {
	hostport, host, err := peer.SplitAddr(s)
	if err != nil {
		return "", err
	}
	ip, _, _ := strings.Cut(host, "%") // fe80::1%eth0: an IPv6 address with its zone
	if net.ParseIP(ip) == nil && !hostName.MatchString(host) {
		return "", fmt.Errorf("address %q: %q is neither a host name nor an IP address; give HOST or HOST:PORT", s, host)
	}
	return hostport, nil
}

var hostName = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9._-]*[A-Za-z0-9_])?$`)

// readContacts reads the contacts file; a file that does not exist holds
// no contacts.
func readContacts(path string) ([]contact, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the contacts file: %w", err)
	}
	return parseContacts(path, b)
}

// contactsFileError is a line of the contacts file that cannot be read.
type contactsFileError struct {
	Path string
	Line int
	Msg  string
}

func (e *contactsFileError) Error() string {
	return fmt.Sprintf("contacts file %s, line %d: %s; fix or delete that line (see the comment at the top of the file), peerchat leaves the file as it is",
		e.Path, e.Line, e.Msg)
}

func parseContacts(path string, b []byte) ([]contact, error) {
	var list []contact
	const maxLine = 1 << 20
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, maxLine)
	n := 1
	for ; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		bad := func(format string, args ...any) error {
			return &contactsFileError{Path: path, Line: n, Msg: fmt.Sprintf(format, args...)}
		}
		f := strings.Fields(line)
		if len(f) < 2 || len(f) > 4 {
			return nil, bad("want NAME HOST:PORT [FINGERPRINT [LAST-CONNECTED]], found %d columns", len(f))
		}
		ct := contact{Name: f[0]}
		if !validName.MatchString(ct.Name) {
			return nil, bad("%q is not a peer name: use letters, digits, '.', '-' or '_'", ct.Name)
		}
		if slices.ContainsFunc(list, func(o contact) bool { return o.Name == ct.Name }) {
			return nil, bad("%s is listed twice", ct.Name)
		}
		var err error
		if ct.Addr, err = contactAddr(f[1]); err != nil {
			return nil, bad("%v", err)
		}
		if len(f) > 2 && f[2] != "-" {
			if ct.Pin, err = parseFullFingerprint(f[2]); err != nil {
				return nil, bad("%v", err)
			}
		}
		if len(f) > 3 && f[3] != "-" {
			if ct.Last, err = time.Parse(time.RFC3339, f[3]); err != nil {
				return nil, bad("last connected %q is not an RFC 3339 time (2006-01-02T15:04:05Z) or -", f[3])
			}
		}
		list = append(list, ct)
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return nil, &contactsFileError{Path: path, Line: n, Msg: fmt.Sprintf("longer than %d bytes", maxLine)}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("contacts file %s: %w", path, err)
	}
	return list, nil
}

func formatContacts(list []contact) []byte {
	var b bytes.Buffer
	b.WriteString(contactsHeader)
	for _, ct := range list {
		pin, last := "-", "-"
		if ct.Pin != "" {
			pin = ct.Pin
		}
		if !ct.Last.IsZero() {
			last = ct.Last.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(&b, "%s %s %s %s\n", ct.Name, ct.Addr, pin, last)
	}
	return b.Bytes()
}

func findContact(list []contact, name string) int {
	return slices.IndexFunc(list, func(c contact) bool { return c.Name == name })
}

// updateContacts applies change to the contacts file under its lock: it
// reads the file as it is now, lets change edit the list, and replaces
// the file atomically. A change that returns an error writes nothing.
func updateContacts(path string, change func([]contact) ([]contact, error)) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot create the directory for the contacts file: %w", err)
	}
	unlock, err := peer.LockFile(path + ".lock")
	if err != nil {
		return fmt.Errorf("cannot lock the contacts file %s: %w", path, err)
	}
	defer unlock()
	list, err := readContacts(path)
	if err != nil {
		return err
	}
	if list, err = change(list); err != nil {
		return err
	}
	return writeFileAtomic(path, formatContacts(list))
}

// writeFileAtomic replaces path with data, mode 0600: a temporary file in
// the same directory, synced, then renamed over path, then the directory
// synced, so that the rename itself survives a crash.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := renameOver(tmp.Name(), path); err != nil {
		return fmt.Errorf("cannot replace %s: %w", path, err)
	}
	if runtime.GOOS != "windows" { // a directory cannot be opened for syncing there
		if d, err := os.Open(dir); err == nil {
			d.Sync()
			d.Close()
		}
	}
	return nil
}

// renameOver is os.Rename, tried again for a moment on Windows, where a
// file another process is reading (a listener reading its pins, which
// takes no lock) cannot be replaced until that read ends; as Go's own
// cmd/go does (internal/robustio).
func renameOver(from, to string) error {
	err := os.Rename(from, to)
	for i := 0; err != nil && runtime.GOOS == "windows" && i < 50; i++ {
		time.Sleep(10 * time.Millisecond)
		err = os.Rename(from, to)
	}
	return err
}

// defaultContactsPath is the contacts file in the config directory.
func defaultContactsPath() (string, error) {
	dir, err := configDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "contacts"), nil
}
