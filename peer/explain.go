package peer

import (
	"context"

	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
)

// This file turns what crypto/tls and x509 report into sentences that say
// who refused whom, why, and what to do. It is the only place that knows
// crypto/tls's error texts, and tests pin each case.

// remoteAlert returns the TLS alert the other side sent, as crypto/tls
// names it without its "tls: " prefix ("unknown certificate authority").
// crypto/tls reports a received alert as a *net.OpError whose Op is
// "remote error".
func remoteAlert(err error) (string, bool) {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" && op.Err != nil {
		return strings.TrimPrefix(op.Err.Error(), "tls: "), true
	}
	return "", false
}

// describeNames lists what a certificate is valid for: "alice (alice,
// localhost, 127.0.0.1, ::1)".
func describeNames(c *x509.Certificate) string {
	names := CertNames(c)
	if len(names) == 0 {
		return certName(c)
	}
	return fmt.Sprintf("%s (valid for %s)", certName(c), strings.Join(names, ", "))
}

// explainDialError explains, on the dialer, a TCP connection that could
// not be made.
func explainDialError(hostport string, err error) error {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return &netError{fmt.Sprintf("cannot reach %s: connection refused; is `peerchat listen` running there, on that port?", hostport), err}
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return &netError{fmt.Sprintf("cannot reach %s: no route to host; check the address, that the machine is up on this network, and any firewall that rejects the port", hostport), err}
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return &netError{fmt.Sprintf("cannot reach %s: no answer (timed out); check the address and any firewall in between", hostport), err}
	}
	return fmt.Errorf("cannot reach %s: %w", hostport, err)
}

// explainServerHandshake explains, on the dialer, a handshake that failed:
// mostly the listener's certificate failing our checks.
func explainServerHandshake(err error, hostport, serverName string, cfg Config) error {
	var cve *tls.CertificateVerificationError
	if errors.As(err, &cve) && len(cve.UnverifiedCertificates) > 0 {
		c := cve.UnverifiedCertificates[0]
		name := certName(c)
		var unknown x509.UnknownAuthorityError
		var host x509.HostnameError
		var invalid x509.CertificateInvalidError
		switch {
		case errors.As(err, &unknown):
			return trustErrorf(err, "both sides need certificates from the same CA: use the ca.crt that issued theirs (--ca), or issue both from one `make certs`",
				"the listener at %s (%s) has a certificate not signed by our CA %s", hostport, name, cfg.Identity.Files.CA)
		case errors.As(err, &host):
			// Only without --peer: with it, no host name is checked.
			return trustErrorf(err, "pass --peer "+name+" if "+name+" is who you meant to reach",
				"the listener at %s is %s, not valid for %q", hostport, describeNames(c), serverName)
		case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
			if time.Now().Before(c.NotBefore) {
				return trustErrorf(err, "check both machines' clocks", "the certificate of %s (listener at %s) is not valid until %s", name, hostport, c.NotBefore.Format(time.DateOnly))
			}
			return trustErrorf(err, name+" must renew it (scripts/gen-certs.sh -f "+name+"); check both machines' clocks",
				"the certificate of %s (listener at %s) expired on %s", name, hostport, c.NotAfter.Format(time.DateOnly))
		case errors.As(err, &invalid) && invalid.Reason == x509.IncompatibleUsage:
			return trustErrorf(err, name+" must re-issue it with `scripts/gen-certs.sh -f "+name+"`",
				"the certificate of %s (listener at %s) is not valid for server authentication", name, hostport)
		}
		return trustErrorf(err, "", "the certificate of the listener at %s does not verify: %v", hostport, cve.Err)
	}
	if alert, ok := remoteAlert(err); ok {
		switch alert {
		case "no application protocol":
			return fmt.Errorf("%s is not a peerchat listener (it refused ALPN %q): %w", hostport, ALPN, err)
		case "protocol version not supported":
			return fmt.Errorf("%s does not speak TLS 1.3, which peerchat requires: %w", hostport, err)
		}
		return explainRefusal(err, hostport, "the listener", cfg)
	}
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) {
		return fmt.Errorf("%s does not speak TLS; is it a peerchat listener? %w", hostport, err)
	}
	if isTimeout(err) {
		return &netError{fmt.Sprintf("no TLS handshake from %s within %s; is it a peerchat listener?", hostport, cfg.HandshakeTimeout), err}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
		return &netError{fmt.Sprintf("%s closed the connection during the TLS handshake; is it a peerchat listener?", hostport), err}
	}
	return fmt.Errorf("TLS handshake with %s failed: %w", hostport, err)
}

// explainRefusal explains, on the dialer, why the listener ended the
// connection before its hello. In TLS 1.3 this is where the listener's
// verdict on our certificate arrives, as an alert.
func explainRefusal(err error, hostport, name string, cfg Config) error {
	who := fmt.Sprintf("%s (at %s)", name, hostport)
	ours := cfg.Identity.Files.Cert
	self := cfg.Identity.Name
	if alert, ok := remoteAlert(err); ok {
		switch alert {
		case "unknown certificate authority":
			return refusedBy(trustErrorf(err, "both sides need certificates from the same CA: copy the listener's ca.crt and have it issue yours (scripts/gen-certs.sh), or use one `make certs` for both",
				"%s does not trust our certificate %s: it was issued by a CA the listener does not know", who, ours))
		case "expired certificate":
			return refusedBy(trustErrorf(err, "renew it with `scripts/gen-certs.sh -f "+self+"` and check both machines' clocks",
				"%s says our certificate %s has expired", who, ours))
		case "revoked certificate":
			return refusedBy(trustErrorf(err, "ask the CA's owner for a new certificate", "%s says our certificate %s has been revoked", who, ours))
		case "bad certificate", "unsupported certificate", "unknown certificate":
			return refusedBy(trustErrorf(err, "check it with `peerchat certs check` or `openssl verify -CAfile "+cfg.Identity.Files.CA+" "+ours+"`",
				"%s refused our certificate %s (%s)", who, ours, alert))
		case "certificate required":
			return refusedBy(trustErrorf(err, "", "%s says we sent no certificate", who))
		}
		return fmt.Errorf("%s ended the connection: %s: %w", who, alert, err)
	}
	var re *RemoteError
	if errors.As(err, &re) && errors.Is(re, ErrBusy) {
		return &netError{fmt.Sprintf("%s is busy in another chat; try again later", who), re}
	}
	var te *TrustError
	if errors.As(err, &te) {
		return refusedBy(trustErrorf(err, "", "%s refused us: %s", who, te.Msg))
	}
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return err
	}
	if isTimeout(err) {
		return &netError{fmt.Sprintf("%s did not greet us within %s", who, cfg.HandshakeTimeout), err}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
		return &netError{fmt.Sprintf("%s closed the connection before greeting us; its output says why", who), err}
	}
	return fmt.Errorf("%s: %w", who, err)
}

// refusedBy marks te as the other side's refusal of us.
func refusedBy(te *TrustError) *TrustError {
	te.Reason = ReasonRefusedByPeer
	return te
}

// explainClientHandshake explains, on the listener, why a client's
// handshake failed. The listener shows these; the client learns only the
// TLS alert, which explainRefusal puts in words on its side.
func explainClientHandshake(err error, timeout time.Duration) error {
	var cve *tls.CertificateVerificationError
	if errors.As(err, &cve) && len(cve.UnverifiedCertificates) > 0 {
		c := cve.UnverifiedCertificates[0]
		name := certName(c)
		var unknown x509.UnknownAuthorityError
		var invalid x509.CertificateInvalidError
		switch {
		case errors.As(err, &unknown):
			return trustErrorf(err, "", "client certificate %q is not signed by our CA", name)
		case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
			if time.Now().Before(c.NotBefore) {
				return trustErrorf(err, "", "client certificate %q is not valid until %s", name, c.NotBefore.Format(time.DateOnly))
			}
			return trustErrorf(err, "", "client certificate %q expired on %s", name, c.NotAfter.Format(time.DateOnly))
		case errors.As(err, &invalid) && invalid.Reason == x509.IncompatibleUsage:
			return trustErrorf(err, "", "client certificate %q is not valid for client authentication", name)
		}
		return trustErrorf(err, "", "client certificate %q does not verify: %v", name, cve.Err)
	}
	if alert, ok := remoteAlert(err); ok {
		switch alert {
		case "unknown certificate authority":
			return trustErrorf(err, "", "the client does not trust our certificate: it uses another CA")
		case "bad certificate":
			return trustErrorf(err, "", "the client refused our certificate (bad certificate): it trusts another CA, or dialed a name ours is not valid for")
		}
		return fmt.Errorf("the client ended the handshake: %s", alert)
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "didn't provide a certificate"):
		return trustErrorf(err, "", "client presented no certificate")
	case strings.Contains(msg, "unsupported versions"):
		return trustErrorf(err, "", "client offered only TLS 1.2 or older; peerchat requires TLS 1.3")
	case strings.Contains(msg, "unsupported application protocols"):
		return fmt.Errorf("not a peerchat client (it asked for another application protocol than %q)", ALPN)
	}
	var rh tls.RecordHeaderError
	switch {
	case errors.As(err, &rh):
		return fmt.Errorf("not a TLS client: %w", err)
	case isTimeout(err):
		return fmt.Errorf("no TLS handshake within %s", timeout)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return fmt.Errorf("client closed the connection during the handshake")
	}
	return fmt.Errorf("handshake failed: %w", err)
}
