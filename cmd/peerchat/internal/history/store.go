package history

// Opening the database, where it lives by default, and writing to it.

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	_ "modernc.org/sqlite"
)

// Store is an open history database.
type Store struct {
	db   *sql.DB
	path string
	ins  *sql.Stmt
	ack  *sql.Stmt
}

// DefaultPath follows the platform convention: $XDG_DATA_HOME or
// ~/.local/share on Unix, the user config directory elsewhere.
func DefaultPath() (string, error) {
	dir := os.Getenv("XDG_DATA_HOME")
	if dir == "" {
		switch home, err := os.UserHomeDir(); {
		case usesXDG() && err == nil:
			dir = filepath.Join(home, ".local", "share")
		default:
			if dir, err = os.UserConfigDir(); err != nil {
				return "", fmt.Errorf("no place for the history: %w", err)
			}
		}
	}
	return filepath.Join(dir, "peerchat", "history.db"), nil
}

// usesXDG tells whether the platform keeps user data under
// ~/.local/share by convention (the XDG base directories).
func usesXDG() bool {
	switch runtime.GOOS {
	case "windows", "darwin", "ios", "plan9", "android":
		return false
	}
	return true
}

// Open opens (creating, private) the database at path and brings its
// schema up to date.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	f.Close()
	dsn := "file:" + path + "?_pragma=busy_timeout(1000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	// One connection: writes are serialised anyway, and the pragmas apply
	// to every connection made.
	db.SetMaxOpenConns(1)
	st := &Store{db: db, path: path}
	if err := st.migrate(); err != nil {
		db.Close()
		return nil, storeError(path, err)
	}
	if st.ins, err = db.Prepare(`INSERT OR IGNORE INTO messages
		(conv, dir, msg_id, peer_name, peer_fp, sender, sent_at, recv_at, text, delivered)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`); err != nil {
		db.Close()
		return nil, storeError(path, err)
	}
	if st.ack, err = db.Prepare(`UPDATE messages SET delivered = 1
		WHERE conv = ? AND dir = 'out' AND msg_id <= ? AND delivered = 0`); err != nil {
		db.Close()
		return nil, storeError(path, err)
	}
	return st, nil
}

// storeError says what is wrong with the database in the words a user
// needs: locked by another program, or not a database at all. A nil err
// stays nil.
func storeError(path string, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked"):
		return fmt.Errorf("history database %s is locked by another peerchat: %w", path, err)
	case strings.Contains(msg, "SQLITE_NOTADB") || strings.Contains(msg, "not a database") ||
		strings.Contains(msg, "SQLITE_CORRUPT") || strings.Contains(msg, "malformed"):
		return fmt.Errorf("history database %s is not a database (corrupt?): %w", path, err)
	}
	return fmt.Errorf("history database %s: %w", path, err)
}

// Close closes the database; what was written is committed already.
func (st *Store) Close() error { return st.db.Close() }

// Add stores r unless a message with its key is there already.
func (st *Store) Add(r Record) error { return st.Write([]Record{r}, "", 0) }

// Write stores recs (each unless its key is there already) and, if upTo
// is not 0, marks our messages in conv up to id upTo as delivered, in one
// transaction: a burst costs one commit, not one per message.
func (st *Store) Write(recs []Record, conv string, upTo uint64) error {
	tx, err := st.db.Begin()
	if err != nil {
		return storeError(st.path, err)
	}
	defer tx.Rollback()
	ins := tx.Stmt(st.ins)
	for _, r := range recs {
		if _, err := ins.Exec(r.Conv, string(r.Direction), int64(r.ID), r.Peer, r.Fingerprint, r.From,
			r.Time.UnixNano(), r.Received.UnixNano(), r.Text, r.Delivered); err != nil {
			return storeError(st.path, err)
		}
	}
	if upTo > 0 {
		if _, err := tx.Stmt(st.ack).Exec(conv, int64(upTo)); err != nil {
			return storeError(st.path, err)
		}
	}
	return storeError(st.path, tx.Commit())
}
