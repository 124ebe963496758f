package history

// What the store holds: records, keyed by conversation, direction and id.

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Record is one stored message.
type Record struct {
	// Conv, Direction and ID are the key: a message stored again under
	// the same key is stored once. Conv is the chat's conversation key,
	// and for received messages also how many times the peer restarted
	// (its ids start again from 1 after a restart).
	Conv        string
	Direction   Direction
	ID          uint64
	Peer        string    // the peer's certificate name
	Fingerprint string    // the peer's certificate fingerprint
	From        string    // who wrote it: the peer, or us
	Time        time.Time // the sender's clock: the peer's word
	Received    time.Time // ours, when stored: what is shown, and what the order and Since go by
	Text        string
	Delivered   bool // sent, and acknowledged by the peer
}

// Direction tells a message received from one sent.
type Direction string

const (
	In  Direction = "in"  // received from the peer
	Out Direction = "out" // sent by us
)

// NewConversationKey names one chat in the store.
func NewConversationKey() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
