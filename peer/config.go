package peer

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

	// ackDelay is how soon an owed acknowledgement leaves when Next could
	// not send it itself because a write was under way.
	ackDelay = 5 * time.Millisecond
)

// Config is what both roles need to start a session.
type Config struct {
	// Identity is this peer's checked certificate bundle. Required.
	Identity *Identity

	// Peer, when set, is the identity the other side must prove: its
	// certificate must be valid for this name. A dialer checks it instead
	// of the dialed host; a listener refuses every other client.
	Peer string

	// PeerFingerprints, when set, pins the other side's certificate: it
	// must also have one of these SHA-256 fingerprints (whole, or a prefix
	// of at least MinPinBytes bytes; see ParseFingerprint), on top of being
	// signed by the CA. Both roles check it.
	PeerFingerprints []string

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

	// OnReject, for a listener, is told about every connection it refuses
	// and why. It is called from the goroutine handling that connection.
	OnReject func(remote net.Addr, err error)
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

func newPeerInfo(st tls.ConnectionState, addr net.Addr) PeerInfo {
	leaf := st.PeerCertificates[0]
	return PeerInfo{
		Name:        certName(leaf),
		Fingerprint: Fingerprint(leaf),
		Addr:        addr,
		Cert:        leaf,
		TLS:         st,
	}
}
