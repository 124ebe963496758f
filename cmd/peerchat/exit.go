package main

import (
	"errors"
	"fmt"

	"peerchat/peer"
)

// Exit codes, documented in README.md. Scripts can tell a mistake in the
// command line from a problem of trust (fix files or flags) from a network
// failure (try again).
const (
	exitOK          = 0
	exitFailure     = 1 // anything not covered below
	exitUsage       = 2 // bad flags, arguments or configuration file
	exitTrust       = 3 // a certificate or identity was refused, here or by the peer
	exitNetwork     = 4 // could not connect, connection lost, peer broke the protocol
	exitUndelivered = 5 // the chat ended with messages the peer never acknowledged
)

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// networkError marks a failure to connect or to stay connected.
type networkError struct{ err error }

func (e *networkError) Error() string { return e.err.Error() }
func (e *networkError) Unwrap() error { return e.err }

// errUndelivered ends a chat whose last messages were not acknowledged.
var errUndelivered = errors.New("some messages were not delivered")

// networkOrTrust classifies an error from the peer package: a trust
// failure stays one, everything else is a network failure.
func networkOrTrust(err error) error {
	var te *peer.TrustError
	if err == nil || errors.As(err, &te) {
		return err
	}
	return &networkError{err}
}

func exitCode(err error) int {
	var ue *usageError
	var ce *configError
	var te *peer.TrustError
	var ne *networkError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue), errors.As(err, &ce):
		return exitUsage
	case errors.As(err, &te):
		return exitTrust
	case errors.Is(err, errUndelivered):
		return exitUndelivered
	case errors.As(err, &ne):
		return exitNetwork
	}
	return exitFailure
}
