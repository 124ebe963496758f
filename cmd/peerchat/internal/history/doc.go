// Package history keeps peerchat's record of conversations: every message
// sent and received, in a local SQLite database (modernc.org/sqlite, pure
// Go, so cross builds need no C toolchain). A [Store] is one open
// database; a chat writes [Record]s into it as they are sent and received,
// marks its own as delivered when the peer acknowledges them, and `peerchat
// history` reads them back with a [Query]. The package knows nothing of
// sessions, flags or terminals: what a record means to a chat, and how one
// is shown, is the command's business.
//
// The design:
//
//   - one row per message, keyed by (conversation, direction, id): the
//     conversation is a random key made when a chat starts
//     ([NewConversationKey]), plus, for received messages, how many times
//     the peer restarted (its ids start again from 1 then); a message
//     resent after a reconnect hits the key and is stored once (INSERT OR
//     IGNORE);
//   - sent messages are stored undelivered and marked delivered when the
//     peer acknowledges them, so one still pending at the end stays
//     undelivered;
//   - what arrives together is written in one transaction ([Store.Write]),
//     in WAL mode with synchronous=NORMAL: committed means in the WAL file,
//     which survives a kill -9 (not a power cut); the caller commits
//     received messages before it shows them, so nothing shown is ever
//     missing;
//   - text search is FTS5 with the trigram tokenizer, indexed in bulk when
//     searched rather than on every insert, which finds any substring of 3
//     or more characters in any script (unicode61 would not split Chinese
//     into words); shorter queries fall back to LIKE;
//   - time is ours: the order, and [Query].Since, go by when a message
//     reached us ([Record].Received); the sender's clock ([Record].Time) is
//     kept, but it is the peer's word;
//   - the schema version is PRAGMA user_version, and migrations run in
//     order inside one transaction (schema.go).
package history
