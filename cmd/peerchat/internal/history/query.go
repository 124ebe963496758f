package history

// Reading the store back: filters, text search, and the order.

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Query selects messages; zero fields select everything.
type Query struct {
	Peer  string    // the peer's certificate name
	Since time.Time // received since, by our clock
	Grep  string    // a substring of the text, in any case
	Last  int       // only the last so many (0: all)
}

// Find returns the messages q selects, oldest first.
func (st *Store) Find(q Query) ([]Record, error) {
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
			return nil, storeError(st.path, err)
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
		return nil, storeError(st.path, err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var r Record
		var id, sent, recv int64
		if err := rows.Scan(&r.Conv, &r.Direction, &id, &r.Peer, &r.Fingerprint, &r.From, &sent, &recv, &r.Text, &r.Delivered); err != nil {
			return nil, storeError(st.path, err)
		}
		r.ID, r.Time, r.Received = uint64(id), time.Unix(0, sent), time.Unix(0, recv)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError(st.path, err)
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
func (st *Store) indexFTS() error {
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
