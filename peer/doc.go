// Package peer implements both ends of a peerchat conversation: the TLS
// configuration built from a certificate bundle, the listener and the dialer,
// the session that carries one conversation, and the wire protocol.
//
// # Roles
//
// One peer listens ([Listen], [Listener.Accept]) and the other dials ([Dial]).
// Both present a certificate signed by the same local CA and both verify the
// other's: the connection is TLS 1.3 only, with client certificates required
// and verified, and the ALPN protocol "peerchat/1". The name a peer is known
// by is the name its verified certificate proves (see [PeerInfo]), never
// anything it says about itself.
//
// # Trust beyond the CA
//
// [CheckBundle] checks a bundle and reports every fact and problem;
// [LoadIdentity] refuses a bundle with its first problem. After the TLS
// handshake each side also vets the other's certificate against what a CA
// signature cannot say: the CA's revocation list ([RevocationList], loaded
// with the Identity) and the pinned fingerprints of Config.PeerFingerprints.
// A refusal is sent as an error frame, so the refused side can say why.
//
// # Hostile traffic
//
// A listener bounds the connections it has not yet authenticated, in number
// and in time, and gives their slots so that a flood of silent connections
// evicts itself rather than the real peer (see admit.go); a chat under way
// never waits on any of them.
//
// # Frames
//
// After the TLS handshake the two sides exchange length-prefixed frames (see
// wire.go and docs/PROTOCOL.md). The listener speaks first: its hello, or an
// error frame saying why the dialer is refused (busy, wrong identity). This
// matters because in TLS 1.3 the client's handshake completes before the
// server has judged the client's certificate; by waiting for the listener's
// first frame the dialer learns of a refusal as a TLS alert it can explain,
// instead of reporting "connected" and then an unexplained reset.
//
// # Sessions
//
// A [Session] is one conversation over one connection. Messages carry an id,
// the sender's time and UTF-8 text; the receiver acknowledges them
// cumulatively, and the acknowledgement rides along with the next outgoing
// frame when there is one (or leaves on its own after a few milliseconds), so
// a question and its answer cost one write each way, as over bare TLS. Both
// sides send a ping every heartbeat interval; a peer from which nothing has
// arrived for several intervals is declared gone and the connection closed.
//
// The goroutine that calls [Session.Next] owns the connection's reads; one
// heartbeat goroutine per session owns the timer, and [Session.Close] stops
// both. The package never prints and never exits: failures come back as
// errors whose types ([*TrustError], [*ProtocolError], [*RemoteError]) let a
// caller tell a problem of trust from a network or protocol failure.
package peer
