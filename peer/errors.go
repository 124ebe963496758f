package peer

// This file holds the package's error types (TrustError, ProtocolError,
// RemoteError) and the sentinel errors callers match.

import (
	"errors"
	"fmt"
)

// A TrustError means that one side could not prove, or would not accept,
// an identity: a missing or broken certificate file, a certificate from
// another CA, an expired certificate, a name that does not match. Retrying
// does not help; a person has to fix files or flags, and Hint says how.
type TrustError struct {
	// Reason says which check failed, for a caller that wants to add
	// its own advice (ReasonUnknown when no finer reason applies).
	Reason TrustReason
	// PeerName and Fingerprint are the other side's verified peer name
	// and full certificate fingerprint, when the refusal is about a
	// certificate the other side presented (PeerName is "" for one that
	// names no peer); Want is what was expected instead (a peer name, or
	// the pinned fingerprints).
	PeerName, Fingerprint string
	Want                  []string

	// Msg says what is wrong, naming the file or the peer.
	Msg string
	// Hint is the command or flag that fixes it, if there is one.
	Hint string
	// Err is the underlying cause, if any.
	Err error
}

// A TrustReason tells trust failures apart.
type TrustReason int

const (
	ReasonUnknown TrustReason = iota
	// ReasonNameMismatch: the peer's name is not the one required.
	ReasonNameMismatch
	// ReasonPinMismatch: the peer's certificate is not the pinned one.
	ReasonPinMismatch
	// ReasonRevoked: the CA's revocation list names the certificate.
	ReasonRevoked
	// ReasonCertificateChanged: a reconnection presented another
	// certificate than the one the conversation began with.
	ReasonCertificateChanged
	// ReasonRefusedByPeer: the other side refused us for a reason of
	// trust (its words are in Msg).
	ReasonRefusedByPeer
)

func (e *TrustError) Error() string {
	if e.Hint == "" {
		return e.Msg
	}
	return e.Msg + "; " + e.Hint
}

func (e *TrustError) Unwrap() error { return e.Err }

func trustErrorf(err error, hint, format string, args ...any) *TrustError {
	return &TrustError{Msg: fmt.Sprintf(format, args...), Hint: hint, Err: err}
}

// A ProtocolError means a frame broke the peerchat protocol: oversized,
// truncated, of an unknown type, out of order, or not valid UTF-8. Remote
// is set when the other side reported the violation (it says we broke it).
type ProtocolError struct {
	Reason string
	Remote bool
}

func (e *ProtocolError) Error() string {
	if e.Remote {
		return "peer reported a protocol error: " + e.Reason
	}
	return "protocol error: " + e.Reason
}

func protocolErrorf(format string, args ...any) *ProtocolError {
	return &ProtocolError{Reason: fmt.Sprintf(format, args...)}
}

// A RemoteError is the reason the other side gave, in an error frame, for
// ending the connection.
type RemoteError struct {
	code   errorCode
	Reason string
}

func (e *RemoteError) Error() string { return e.Reason }

// Is lets errors.Is(err, ErrBusy) recognise the listener's busy answer.
func (e *RemoteError) Is(target error) bool { return target == ErrBusy && e.code == codeBusy }

// ErrBusy is matched by the error Dial returns when the listener is already
// in a chat with someone else (or with this certificate, from another
// session), and by the Err of a Reconnecting event for the same reason: a
// dialer keeps trying.
var ErrBusy = errors.New("listener is busy in another chat")

// ErrHeartbeatLost is matched by the error a connection breaks with when
// nothing arrived from the peer for the whole heartbeat window.
var ErrHeartbeatLost = errors.New("heartbeat lost")

// ErrQueueFull is matched by the error Send returns when Config.QueueLimit
// messages, or Config.QueueBytes of text, are already waiting for
// acknowledgement; the message was not queued. It clears as the peer
// acknowledges (a Delivered event).
var ErrQueueFull = errors.New("too many messages waiting for delivery")

// ErrResumeTimeout is matched by the error a listener's conversation ends
// with when its peer did not come back within Config.ResumeWait.
var ErrResumeTimeout = errors.New("peer did not come back")

// ErrClosed is returned by Send and Next after Close.
var ErrClosed = errors.New("session closed")

// asError turns the peer's error frame into the error a caller can act on.
func (e *RemoteError) asError() error {
	switch e.code {
	case codeProtocol:
		return &ProtocolError{Reason: e.Reason, Remote: true}
	case codeRefused:
		return &TrustError{Reason: ReasonRefusedByPeer, Msg: e.Reason, Err: e}
	}
	return e
}
