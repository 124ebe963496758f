package main

import (
	"fmt"
	"time"

	"peerchat/peer"
)

// connectionNotice puts a change in the state of the connection into
// words, for the chat screen and pipe mode alike. ok is false for events
// that are not about the connection.
func connectionNotice(ev peer.Event, peerName string) (text string, ok bool) {
	switch ev := ev.(type) {
	case peer.Disconnected:
		text = fmt.Sprintf("lost the connection to %s: %s", peerName, sanitize(ev.Err.Error()))
		if ev.Wait > 0 {
			text += fmt.Sprintf("; waiting up to %s for %s to come back (what you send meanwhile is queued)", ev.Wait, peerName)
		} else {
			text += "; what you send meanwhile is queued"
		}
		return text, true
	case peer.Reconnecting:
		text = fmt.Sprintf("reconnecting to %s in %s…", peerName, ev.In.Round(100*time.Millisecond))
		if ev.Err != nil {
			text += fmt.Sprintf(" (attempt %d: %s)", ev.Attempt-1, sanitize(ev.Err.Error()))
		}
		return text, true
	case peer.Reconnected:
		text = fmt.Sprintf("reconnected to %s at %s", peerName, ev.Peer.Addr)
		if ev.PeerRestarted {
			text += fmt.Sprintf(" (%s had restarted)", peerName)
		}
		if ev.Resent > 0 {
			text += fmt.Sprintf("; sending %d queued message(s)", ev.Resent)
		}
		return text, true
	}
	return "", false
}

// receivingLine words a file accepted from the peer, on the chat screen
// and in pipe mode alike: "receiving NAME (SIZE) from bob", and ",
// resuming at 63%" when an earlier try left part of it. name is
// sanitized already.
func receivingLine(name string, size, offset int64, peerName string) string {
	text := fmt.Sprintf("receiving %s (%s) from %s", name, fileSize(size), peerName)
	if offset > 0 {
		text += fmt.Sprintf(", resuming at %d%%", percent(offset, size))
	}
	return text
}

// receivedLine words a file received whole: "received NAME from bob:
// SUMMARY, verified, saved as PATH". name is sanitized already.
func receivedLine(name, peerName, summary, path string) string {
	return fmt.Sprintf("received %s from %s: %s, verified, saved as %s", name, peerName, summary, sanitize(path))
}

// fileSize writes n bytes for people: 300 bytes, 12.0 KiB, 1.5 GiB.
func fileSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
