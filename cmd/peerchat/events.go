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
