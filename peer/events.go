package peer

// This file holds the events Session.Next returns: a message, its
// delivery, a pong, the state of the connection, and the files on their
// way.

import "time"

// A Message is one line of the conversation.
type Message struct {
	ID   uint64    // unique and increasing within the conversation, from 1 (see Resumption)
	Time time.Time // when the sender sent it, by the sender's clock
	Text string    // valid UTF-8, at most MaxText bytes
	From string    // the certificate name of the sender
}

// An Event is what Session.Next returns: a *Message, a Delivered or a
// Pong, and, when a connection breaks and the conversation goes on, a
// Disconnected, Reconnecting or Reconnected.
type Event interface{ isEvent() }

// Delivered reports that the peer received every message with an id up to
// and including UpTo.
type Delivered struct{ UpTo uint64 }

// Pong answers a Session.Ping with the measured round-trip time.
type Pong struct{ RTT time.Duration }

// Disconnected reports that the connection broke without a goodbye (a
// reset, a timeout, a lost heartbeat) and the conversation goes on: a
// dialer redials (Reconnecting events follow) and a listener waits for the
// same certificate to come back. Messages sent meanwhile are queued, and
// sent once the conversation resumes.
type Disconnected struct {
	// Err says why the connection broke; it matches ErrConnectionLost or
	// ErrHeartbeatLost.
	Err error
	// Wait, on a listener, is how long the conversation is kept for the
	// peer (Config.ResumeWait); zero on a dialer.
	Wait time.Duration
}

// Reconnecting reports that a dialer will try to connect again In from
// now: "reconnecting to alice in 4s…".
type Reconnecting struct {
	// Attempt counts the attempts since the connection broke, from 1.
	Attempt int
	// In is the wait before the attempt (backoff with jitter).
	In time.Duration
	// Err is why the previous attempt failed; nil before the first.
	Err error
}

// Reconnected reports that the conversation resumed over a new
// connection. Messages the peer had not received have been queued to be
// sent again, ahead of anything sent later.
type Reconnected struct {
	// Peer describes the new connection: the same certificate name, and
	// perhaps a new address.
	Peer PeerInfo
	// Resent is how many messages are sent on the new connection before
	// any new one: those the peer had not received, and those queued
	// while disconnected.
	Resent int
	// PeerRestarted means the peer came back without the conversation's
	// state (a restarted process): its messages continue from its own
	// new ids, and everything it had not acknowledged is sent again.
	PeerRestarted bool
}

func (*Message) isEvent()     {}
func (Delivered) isEvent()    {}
func (Pong) isEvent()         {}
func (Disconnected) isEvent() {}
func (Reconnecting) isEvent() {}
func (Reconnected) isEvent()  {}

// FileOffer reports, on a receiving side with [Config.ConfirmFiles], a
// file the peer offers: it waits for [Session.AcceptFile] or
// [Session.RejectFile]. Have is how much of it an earlier attempt left in
// a partial file: accepting resumes from there.
type FileOffer struct {
	ID   uint64
	Name string // the name it is saved under: the offered one, made safe by SafeFileName
	Size int64
	Have int64
}

// FileOffered reports, on the receiving side, a file the peer offered and
// this side accepted: it is written to its partial file from Offset on (above 0
// when an earlier attempt is resumed).
type FileOffered struct {
	ID     uint64
	Name   string // the name it is saved under (SafeFileName)
	Size   int64
	Offset int64 // bytes kept from an earlier attempt (resumption)
}

// FileProgress reports how far a transfer has come: Done of Size bytes
// are with the receiver. The sender's progress function gets one per
// chunk; the receiving side's Next returns one every [ProgressInterval]
// at most. Start marks the first report of an attempt, when the receiver
// has answered the offer: Done is then where the attempt starts, above 0
// when it resumes an earlier one.
type FileProgress struct {
	ID         uint64
	Name       string
	Done, Size int64
	Start      bool
	// SavedAs, on the sender's side, is the name the receiver saved the
	// file under, reported once after it verified the file, when the
	// receiver says it (peerchat from the hostile-peer fix on): the
	// receiver's rules (SafeFileName, and "NAME (2)" beside an existing
	// file) may have changed the name offered.
	SavedAs string
}

// ProgressInterval is how often a receiving side reports progress.
const ProgressInterval = 100 * time.Millisecond

// FileReceived reports a file received whole and verified, now at Path.
type FileReceived struct {
	ID   uint64
	Name string
	Path string
	Size int64
}

// FileFailed reports a file that was refused or could not be received. A
// digest mismatch keeps the partial file and the sender starts again (Retry).
type FileFailed struct {
	ID    uint64
	Name  string
	Err   error
	Retry bool
}

func (FileOffer) isEvent()    {}
func (FileOffered) isEvent()  {}
func (FileProgress) isEvent() {}
func (FileReceived) isEvent() {}
func (FileFailed) isEvent()   {}
