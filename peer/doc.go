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
// by is its peer name, the subject name of its verified certificate (see
// [PeerInfo]), never anything it says about itself. [Config.Peer] is held
// to that name exactly; the host names in a certificate answer only "is
// this the host I dialed?", for a dialer with no peer name to require.
// Both sides show a safety code for the pair of certificates
// ([SafetyCode], [PeerInfo].SafetyCode), the same on both ends.
//
// # Trust beyond the CA
//
// [CheckBundle] checks a bundle and reports every fact and problem;
// [LoadIdentity] refuses a bundle with its first problem. After the TLS
// handshake each side also vets the other's certificate against what a CA
// signature cannot say: the CA's revocation list ([RevocationList], loaded
// with the Identity, and read again whenever its file changes; a list past
// its next update or older than one seen before refuses every peer), the
// peer name, and the pinned fingerprints of Config.PeerFingerprints and
// Config.PinFor. A refusal is sent as an error frame, so the refused side
// can say why; each side's error is a [*TrustError] whose Reason tells the
// checks apart.
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
// A [Session] is one conversation with one peer. Messages carry an id, the
// sender's time and UTF-8 text; the receiver acknowledges them
// cumulatively, and the acknowledgement rides along with the next outgoing
// frame when there is one (or leaves on its own after a few milliseconds),
// so a question and its answer cost one write each way, as over bare TLS.
// Each sent message is pending until acknowledged, then delivered. Both
// sides send a ping every heartbeat interval; a connection on which nothing
// has arrived for several intervals is declared dead and closed, so a
// half-open connection (the peer's machine vanished without a FIN) never
// hangs.
//
// The goroutine that calls [Session.Next] owns the connection's reads and,
// on a dialer, reconnection; each connection has one heartbeat goroutine
// and one resend goroutine, which end with it, and [Session.Close] stops
// them all. The package never prints and never exits: failures come back
// as errors whose types ([*TrustError], [*ProtocolError], [*RemoteError])
// let a caller tell a problem of trust from a network or protocol failure.
//
// # Resumption
//
// A conversation outlives its connection. When a connection breaks without
// a goodbye (a reset, a timeout, a lost heartbeat), Next returns
// [Disconnected] rather than an error, and the same Session carries on over
// a new connection: a dialer with [Config.Reconnect] redials, reporting each
// attempt as [Reconnecting] (backoff from [Config.ReconnectBackoff], doubled
// per failure up to [Config.ReconnectBackoffMax], each wait drawn from the
// upper half of that), and a listener keeps the conversation for
// [Config.ResumeWait], refusing every other certificate as busy meanwhile.
// [Reconnected] reports the new connection. Send goes on working while
// disconnected: messages are queued (up to [Config.QueueLimit], beyond
// which Send fails with [ErrQueueFull]) and sent after the messages the
// peer had not received, which are sent again, in order; the receiver drops
// by id what it already has. Each message is thus shown once, in the order
// it was sent, and Flush waits for acknowledgements across reconnections.
// Next returns an error only when the conversation is over: a goodbye
// (io.EOF), a trust failure or a protocol error (never retried), a drop
// when resumption is off, a listener that gave up waiting
// ([ErrResumeTimeout]), Close.
//
// The hello carries what resumption needs, in a block after the software
// field: the conversation id (drawn at random by the dialer at its first
// connection and kept across its reconnections), the highest message id
// each side has received from the other, the id of the first message it
// will send on this connection, and flags (the dialer will reconnect, the
// listener still has a connection up, the side takes files). The listener
// speaks first, so its block describes the conversation it holds for the
// certificate that just connected; each side then decides alone, from the
// two blocks, where each direction resumes. With the same conversation id
// each side sends again what the other lacks, and the receiver drops by id
// what it already has; with another id the peer lost the conversation's
// state (a restarted process), holds none of our messages, and its own
// stream starts afresh. The block's layout and the rules, byte for byte,
// are in docs/PROTOCOL.md.
//
// A dialer that comes back with the same conversation id while the
// listener still believes its old connection is up replaces it at once: a
// peer that reconnects knows better than a watchdog that its old
// connection is dead. A conversation resumes only with the certificate it
// began with (the same fingerprint), checked on both sides: a listener
// keeping a conversation refuses another certificate, even of the same
// name, and a dialer that reaches another name or another certificate
// refuses to resume; both are a [*TrustError] (ReasonCertificateChanged
// on the side that refused), and the dialer's conversation ends.
//
// # Files
//
// [Session.SendFile] sends a file over the same connection, beside the
// messages and never through their queue (see transfer.go and
// docs/PROTOCOL.md §3.6): offer, accept with the offset the receiver
// already holds in its partial file, chunks of at most [ChunkSize] each
// written on its own turn of the write lock (a message waits behind one
// chunk at most), and the BLAKE3 digest of the whole file, which the
// receiver computes as it writes and checks before it syncs and renames.
// A reconnection or a restart resumes from the partial file by offering again; a
// mismatch starts again from 0. The receiver takes files only with
// [Config.DownloadDir] set, reports them as [FileOffered], [FileProgress],
// [FileReceived] and [FileFailed] events, and never writes outside that
// directory or over an existing file. With [Config.ConfirmFiles] an offer
// is first reported as a [FileOffer] and waits for [Session.AcceptFile] or
// [Session.RejectFile]; [Session.CancelFile] ends an incoming file.
package peer
