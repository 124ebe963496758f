package main

// The history store: every message sent and received, in a local SQLite
// database (modernc.org/sqlite, pure Go, so cross builds need no C
// toolchain). Design:
//
//   - one row per message, keyed by (conversation, direction, id): the
//     conversation is a random key made when a chat starts, plus, for
//     received messages, how many times the peer restarted (its ids start
//     again from 1 then); a message resent after a reconnect hits the key
//     and is stored once (INSERT OR IGNORE);
//   - sent messages are stored undelivered and marked delivered when the
//     peer acknowledges them, so one still pending at the end stays
//     undelivered;
//   - what arrives together is written in one transaction, in WAL mode
//     with synchronous=NORMAL: committed means in the WAL file, which
//     survives a kill -9 (not a power cut); received messages are
//     committed before they are shown, so nothing shown is ever missing;
//   - text search is FTS5 with the trigram tokenizer, indexed in bulk
//     when searched rather than on every insert, which finds any
//     substring of 3 or more characters in any script (unicode61 would not
//     split Chinese into words); shorter queries fall back to LIKE;
//   - time is ours: the order, and --since, go by when a message reached
//     us (recv_at); the sender's clock (sent_at) is kept, but it is the
//     peer's word;
//   - the schema version is PRAGMA user_version, and migrations run in
//     order inside one transaction.

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	_ "modernc.org/sqlite"
)

// migrations[i] brings the schema from version i to i+1.
var migrations = []string{
	`CREATE TABLE messages (
		id          INTEGER PRIMARY KEY,
		conv        TEXT    NOT NULL,
		dir         TEXT    NOT NULL CHECK (dir IN ('in', 'out')),
		msg_id      INTEGER NOT NULL,
		peer_name   TEXT    NOT NULL,
		peer_fp     TEXT    NOT NULL,
		sender      TEXT    NOT NULL,
		sent_at     INTEGER NOT NULL, -- sender's clock, Unix nanoseconds
		recv_at     INTEGER NOT NULL, -- our clock when stored
		text        TEXT    NOT NULL,
		delivered   INTEGER NOT NULL DEFAULT 0,
		UNIQUE (conv, dir, msg_id)
	);
	CREATE INDEX messages_peer ON messages (peer_name, sent_at);
	CREATE INDEX messages_time ON messages (sent_at);
	-- The text index is brought up to date when searched (indexFTS),
	-- not on every insert: an FTS5 commit per message costs four times
	-- the insert itself, in the middle of a chat.
	CREATE VIRTUAL TABLE messages_fts USING fts5 (text, content='messages', content_rowid='id', tokenize='trigram');
	CREATE TABLE fts_state (indexed_upto INTEGER NOT NULL);
	INSERT INTO fts_state VALUES (0);`,
	// --since goes by our clock, not the sender's, which a peer could
	// set to backdate a line or hide it.
	`DROP INDEX messages_time;
	CREATE INDEX messages_recv ON messages (recv_at);`,
}

// historyStore is an open history database.
type historyStore struct {
	db   *sql.DB
	path string
	ins  *sql.Stmt
	ack  *sql.Stmt
}

// defaultHistoryPath follows the platform convention: $XDG_DATA_HOME or
// ~/.local/share on Unix, the user config directory elsewhere.
func defaultHistoryPath() (string, error) {
	dir := os.Getenv("XDG_DATA_HOME")
	if dir == "" {
		switch home, err := os.UserHomeDir(); {
		case runtimeUsesXDG() && err == nil:
			dir = filepath.Join(home, ".local", "share")
		default:
			if dir, err = os.UserConfigDir(); err != nil {
				return "", fmt.Errorf("no place for the history: %w; use --history FILE", err)
			}
		}
	}
	return filepath.Join(dir, "peerchat", "history.db"), nil
}

// openHistory opens (creating, private) the database at path and brings
// its schema up to date.
func openHistory(path string) (*historyStore, error) {
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
	st := &historyStore{db: db, path: path}
	if err := st.migrate(); err != nil {
		db.Close()
		return nil, historyError(path, err)
	}
	if st.ins, err = db.Prepare(`INSERT OR IGNORE INTO messages
		(conv, dir, msg_id, peer_name, peer_fp, sender, sent_at, recv_at, text, delivered)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`); err != nil {
		db.Close()
		return nil, historyError(path, err)
	}
	if st.ack, err = db.Prepare(`UPDATE messages SET delivered = 1
		WHERE conv = ? AND dir = 'out' AND msg_id <= ? AND delivered = 0`); err != nil {
		db.Close()
		return nil, historyError(path, err)
	}
	return st, nil
}

// historyError says what is wrong with the database in the words a user
// needs: locked by another program, or not a database at all.
func historyError(path string, err error) error {
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

func (st *historyStore) migrate() error {
	tx, err := st.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		return err
	}
	if v > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this peerchat knows (%d)", v, len(migrations))
	}
	for ; v < len(migrations); v++ {
		if _, err := tx.Exec(migrations[v]); err != nil {
			return fmt.Errorf("migrating to schema version %d: %w", v+1, err)
		}
	}
	if _, err := tx.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, v)); err != nil {
		return err
	}
	return tx.Commit()
}

func (st *historyStore) Close() error { return st.db.Close() }

// histRecord is one stored message.
type histRecord struct {
	Conv        string    `json:"-"`
	Direction   string    `json:"direction"` // "in" or "out"
	ID          uint64    `json:"id"`
	Peer        string    `json:"peer"`
	Fingerprint string    `json:"fingerprint"`
	From        string    `json:"from"`
	Time        time.Time `json:"time"`     // the sender's clock
	Received    time.Time `json:"received"` // ours, when stored: what is shown
	Text        string    `json:"text"`
	Delivered   bool      `json:"delivered"`
}

// add stores r unless a message with its key is there already.
func (st *historyStore) add(r histRecord) error { return st.write([]histRecord{r}, "", 0) }

// delivered marks our messages in conv up to id upTo as delivered.
func (st *historyStore) delivered(conv string, upTo uint64) error { return st.write(nil, conv, upTo) }

// write stores recs (each unless its key is there already) and, if upTo
// is not 0, marks our messages in conv up to id upTo as delivered, in one
// transaction: a burst costs one commit, not one per message.
func (st *historyStore) write(recs []histRecord, conv string, upTo uint64) error {
	tx, err := st.db.Begin()
	if err != nil {
		return historyErr(st.path, err)
	}
	defer tx.Rollback()
	ins := tx.Stmt(st.ins)
	for _, r := range recs {
		if _, err := ins.Exec(r.Conv, r.Direction, int64(r.ID), r.Peer, r.Fingerprint, r.From,
			r.Time.UnixNano(), r.Received.UnixNano(), r.Text, r.Delivered); err != nil {
			return historyErr(st.path, err)
		}
	}
	if upTo > 0 {
		if _, err := tx.Stmt(st.ack).Exec(conv, int64(upTo)); err != nil {
			return historyErr(st.path, err)
		}
	}
	return historyErr(st.path, tx.Commit())
}

func historyErr(path string, err error) error {
	if err == nil {
		return nil
	}
	return historyError(path, err)
}

// histQuery selects messages; zero fields select everything.
type histQuery struct {
	Peer  string
	Since time.Time // received since, by our clock
	Grep  string
	Last  int // only the last so many (0: all)
}

// find returns the matching messages, oldest first.
func (st *historyStore) find(q histQuery) ([]histRecord, error) {
	var where []string
	var args []any
	if q.Peer != "" {
		where = append(where, "m.peer_name = ?")
		args = append(args, q.Peer)
	}
	if !q.Since.IsZero() {
		where = append(where, "m.recv_at >= ?")
		args = append(args, q.Since.UnixNano())
	}
	if q.Grep != "" {
		if err := st.indexFTS(); err != nil {
			return nil, historyErr(st.path, err)
		}
		if utf8.RuneCountInString(q.Grep) >= 3 {
			// A quoted FTS5 string is matched as a phrase of trigrams:
			// a substring search.
			where = append(where, "m.id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)")
			args = append(args, `"`+strings.ReplaceAll(q.Grep, `"`, `""`)+`"`)
		} else {
			where = append(where, `m.text LIKE ? ESCAPE '\'`)
			esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q.Grep)
			args = append(args, "%"+esc+"%")
		}
	}
	query := `SELECT m.conv, m.dir, m.msg_id, m.peer_name, m.peer_fp, m.sender, m.sent_at, m.recv_at, m.text, m.delivered FROM messages m`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	// Stored order is the order things happened here, by our clock; the
	// sender's may disagree with ours.
	if q.Last > 0 {
		query += " ORDER BY m.id DESC LIMIT ?"
		args = append(args, q.Last)
	} else {
		query += " ORDER BY m.id"
	}
	rows, err := st.db.Query(query, args...)
	if err != nil {
		return nil, historyErr(st.path, err)
	}
	defer rows.Close()
	var out []histRecord
	for rows.Next() {
		var r histRecord
		var id, sent, recv int64
		if err := rows.Scan(&r.Conv, &r.Direction, &id, &r.Peer, &r.Fingerprint, &r.From, &sent, &recv, &r.Text, &r.Delivered); err != nil {
			return nil, historyErr(st.path, err)
		}
		r.ID, r.Time, r.Received = uint64(id), time.Unix(0, sent), time.Unix(0, recv)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, historyErr(st.path, err)
	}
	if q.Last > 0 {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, nil
}

// indexFTS adds the messages stored since the last search to the text
// index, in one transaction.
func (st *historyStore) indexFTS() error {
	tx, err := st.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`INSERT INTO messages_fts (rowid, text)
		SELECT id, text FROM messages WHERE id > (SELECT indexed_upto FROM fts_state) ORDER BY id`); err != nil {
		return err
	}
	if _, err := tx.Exec(`UPDATE fts_state SET indexed_upto = (SELECT coalesce(max(id), 0) FROM messages)`); err != nil {
		return err
	}
	return tx.Commit()
}

// newConversationKey names one chat in the store.
func newConversationKey() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// runtimeUsesXDG tells whether the platform keeps user data under
// ~/.local/share by convention (the XDG base directories).
func runtimeUsesXDG() bool {
	switch runtime.GOOS {
	case "windows", "darwin", "ios", "plan9", "android":
		return false
	}
	return true
}
