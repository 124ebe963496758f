package peer

// This file holds Config, what both roles need to start a session, with
// its defaults and its checks, and PeerInfo, what a session learns of the
// other side.

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"time"
)

// Default timings. The heartbeat defaults declare a peer gone after about
// 45 seconds of silence: long enough for a laptop's Wi-Fi to hiccup, short
// enough that nobody types into a dead chat for long.
const (
	DefaultPort              = "7443"
	DefaultHandshakeTimeout  = 10 * time.Second
	DefaultSilentTimeout     = 3 * time.Second
	DefaultHeartbeatInterval = 15 * time.Second
	DefaultHeartbeatMisses   = 3

	// A dialer's first reconnection attempt waits about half a second;
	// each failure doubles the wait, up to half a minute, so a long
	// outage costs one attempt every 15 to 30 seconds.
	DefaultReconnectBackoff    = 500 * time.Millisecond
	DefaultReconnectBackoffMax = 30 * time.Second

	// DefaultResumeWait is how long a listener keeps a broken
	// conversation for its peer: long enough for a laptop to change
	// networks or a dialer to be restarted, short enough that a listener
	// is not held busy for a peer that is gone.
	DefaultResumeWait = 2 * time.Minute

	// DefaultQueueLimit bounds the messages waiting for acknowledgement:
	// about 2 MB of 100-byte lines (see BenchmarkQueueMemory).
	// DefaultQueueBytes bounds their text, so that long lines cannot
	// make the queue grow to the limit times MaxText.
	DefaultQueueLimit = 10000
	DefaultQueueBytes = 16 << 20

	// ackDelay is how soon the control timer tries again when a write
	// was under way (see flushControl).
	ackDelay = 5 * time.Millisecond

	// goodbyeLinger bounds how long Close waits, after its goodbye, for
	// the peer to close its side of the connection.
	goodbyeLinger = time.Second
)

// Config is what both roles need to start a session.
type Config struct {
	// Identity is this peer's checked certificate bundle. Required.
	Identity *Identity

	// Peer, when set, is the identity the other side must prove: its
	// peer name (the certificate's subject CN, see PeerInfo.Name) must be
	// exactly this; host names in its SANs do not count. A dialer checks
	// it instead of the dialed host; a listener refuses every other
	// client. A refusal is a TrustError with Reason ReasonNameMismatch.
	Peer string

	// PeerFingerprints, when set, pins the other side's certificate: it
	// must also have one of these SHA-256 fingerprints (whole, or a prefix
	// of at least MinPinBytes bytes; see ParseFingerprint), on top of being
	// signed by the CA. Both roles check it.
	PeerFingerprints []string

	// PinFor, when set, returns the pinned fingerprints for the verified
	// peer name of the other side (a contact's pin): both roles refuse a
	// certificate with that name whose fingerprint matches none of them,
	// as a TrustError with Reason ReasonPinMismatch. Nil or empty means
	// no pin for that name. It is called once per connection, after the
	// handshake, from the goroutine handling that connection.
	PinFor func(peerName string) []string

	// Software is sent in the hello, for the other side's /whois.
	Software string

	// HandshakeTimeout bounds the TLS handshake and the hello exchange, so
	// a silent connection cannot hold a listener.
	HandshakeTimeout time.Duration

	// SilentTimeout, for a listener, is how long a new connection may stay
	// silent before it is closed: a real client sends its TLS ClientHello
	// at once, so a connection that sends nothing is not worth a slot for
	// the whole HandshakeTimeout. At most HandshakeTimeout.
	SilentTimeout time.Duration

	// A ping leaves every HeartbeatInterval; a peer from which nothing has
	// arrived for HeartbeatMisses intervals is declared gone.
	HeartbeatInterval time.Duration
	HeartbeatMisses   int

	// Reconnect, for a dialer, keeps the conversation going when the
	// connection breaks without a goodbye (a reset, a timeout, a lost
	// heartbeat): Session.Next reports the drop and redials, with
	// exponential backoff and jitter, until the conversation resumes or
	// Close is called. Off (the zero value), a broken connection ends the
	// conversation, and the dialer's hello tells the listener not to wait.
	// A goodbye, a trust failure or a protocol error never reconnects.
	Reconnect bool

	// The wait before a dialer's first reconnection attempt, doubled
	// after each failed attempt up to ReconnectBackoffMax. Each actual
	// wait is drawn at random from the upper half of that (jitter).
	ReconnectBackoff    time.Duration
	ReconnectBackoffMax time.Duration

	// ResumeWait, for a listener, is how long a conversation whose
	// connection broke is kept for the same certificate to come back;
	// every other peer is refused as busy meanwhile. Zero means
	// DefaultResumeWait; negative means no wait: a broken connection
	// ends the conversation at once.
	ResumeWait time.Duration

	// QueueLimit bounds the messages sent and not yet acknowledged,
	// whether in flight or queued while disconnected; beyond it Send
	// returns an error matching ErrQueueFull. Zero means
	// DefaultQueueLimit.
	QueueLimit int

	// QueueBytes bounds the text bytes of those messages the same way.
	// Zero means DefaultQueueBytes.
	QueueBytes int

	// DownloadDir is where files offered by the peer are received (as
	// a partial file until verified); empty refuses every file.
	DownloadDir string
	// ConfirmFiles holds every offer until the application answers it
	// with Session.AcceptFile or RejectFile (a person asked on a chat
	// screen); without it, each offer that passes the checks is accepted.
	ConfirmFiles bool
	// MaxFileSize refuses offers of bigger files; zero means no limit.
	MaxFileSize int64
	// discardFiles makes the receiver verify files and keep nothing
	// (benchmarks only, see export_test.go).
	discardFiles bool

	// OnReject, for a listener, is told about every connection it refuses
	// and why. It is called from the goroutine handling that connection.
	OnReject func(remote net.Addr, err error)
}

// validate checks the configuration fields a caller fills in by hand.
func (c Config) validate() error {
	for _, p := range c.PeerFingerprints {
		if _, err := ParseFingerprint(p); err != nil {
			return err
		}
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.SilentTimeout <= 0 {
		c.SilentTimeout = DefaultSilentTimeout
	}
	c.SilentTimeout = min(c.SilentTimeout, c.HandshakeTimeout)
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.HeartbeatMisses <= 0 {
		c.HeartbeatMisses = DefaultHeartbeatMisses
	}
	if c.ReconnectBackoff <= 0 {
		c.ReconnectBackoff = DefaultReconnectBackoff
	}
	if c.ReconnectBackoffMax <= 0 {
		c.ReconnectBackoffMax = DefaultReconnectBackoffMax
	}
	c.ReconnectBackoffMax = max(c.ReconnectBackoffMax, c.ReconnectBackoff)
	if c.ResumeWait == 0 {
		c.ResumeWait = DefaultResumeWait
	}
	if c.QueueLimit <= 0 {
		c.QueueLimit = DefaultQueueLimit
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = DefaultQueueBytes
	}
	if c.Software == "" {
		c.Software = "peerchat"
	}
	return c
}

// PeerInfo describes the other side of a session, as its certificate
// proves it.
type PeerInfo struct {
	// Name is the name the peer's verified certificate proves. It is the
	// only name peerchat shows for the peer.
	Name string
	// Fingerprint is the SHA-256 fingerprint of the peer's certificate.
	Fingerprint string
	// SafetyCode is the code both sides of this pair of certificates
	// show, the same whoever dialed (see SafetyCode).
	SafetyCode string
	// Addr is the peer's network address.
	Addr net.Addr
	// Cert is the peer's verified certificate.
	Cert *x509.Certificate
	// HelloName and Software are what the peer said about itself in its
	// hello; unverified, shown only as such.
	HelloName, Software string
	// TLS is the state of the connection: version, cipher suite.
	TLS tls.ConnectionState
}

// newPeerInfo describes the other side of a completed handshake; id is
// this side's identity, the other half of the safety code.
func newPeerInfo(st tls.ConnectionState, addr net.Addr, id *Identity) PeerInfo {
	leaf := st.PeerCertificates[0]
	fp := Fingerprint(leaf)
	return PeerInfo{
		Name:        certName(leaf),
		Fingerprint: fp,
		SafetyCode:  SafetyCode(Fingerprint(id.Leaf), fp),
		Addr:        addr,
		Cert:        leaf,
		TLS:         st,
	}
}
