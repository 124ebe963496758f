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

// fileNotice puts a file event into words; ok is false for other events.
// Names come from the peer and pass through sanitize.
func fileNotice(ev peer.Event, peerName string) (text string, failed, ok bool) {
	switch ev := ev.(type) {
	case peer.FileOffered:
		text = fmt.Sprintf("receiving %s (%s) from %s", sanitize(ev.Name), fileSize(ev.Size), peerName)
		if ev.Offset > 0 {
			text += fmt.Sprintf(", resuming at %s", fileSize(ev.Offset))
		}
		return text, false, true
	case peer.FileReceived:
		return fmt.Sprintf("received %s (%s) from %s, verified, saved as %s", sanitize(ev.Name), fileSize(ev.Size), peerName, sanitize(ev.Path)), false, true
	case peer.FileFailed:
		return fmt.Sprintf("file %s from %s: %s", sanitize(ev.Name), peerName, sanitize(ev.Err.Error())), true, true
	}
	return "", false, false
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
