package history

// The schema, and how a database is brought up to date with it.

import "fmt"

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
	// Since goes by our clock, not the sender's, which a peer could
	// set to backdate a line or hide it.
	`DROP INDEX messages_time;
	CREATE INDEX messages_recv ON messages (recv_at);`,
}

func (st *Store) migrate() error {
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
