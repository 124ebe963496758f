package main

// How dial, send and listen use the contacts file (contacts.go):
//
//   - `dial NAME` and `send NAME FILE...`, when NAME is a contact, dial its
//     address and demand a certificate for NAME (Config.Peer) with the
//     pinned fingerprint (Config.PeerFingerprints), if it has one;
//   - both roles hold every pinned contact to its pin, whoever dialed
//     (Config.PinFor, which reads the file at each connection, so that an
//     edit or a `contacts pin` takes effect without a restart);
//   - after each successful connection to a peer that is a contact, on
//     either side, its last-connected time is recorded and, if it had no
//     pin yet, its certificate's fingerprint is pinned: trust on first
//     use. A listener pins too, because the contact was added on purpose
//     to name one person; a peer that is not a contact is never added.

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"peerchat/peer"
)

// A target is what dial and send connect to: an address, and the contact
// it came from, if any.
type target struct {
	addr    string
	contact *contact
}

// resolveTarget reads dial's and send's first argument: a contact's name,
// or else HOST[:PORT]. A contact wins over a host of the same name.
func resolveTarget(c *cli.Context, arg string) (target, error) {
	if validName.MatchString(arg) {
		path, err := contactsPath(c)
		if err != nil {
			return target{}, err
		}
		list, err := readContacts(path)
		if err != nil {
			return target{}, err
		}
		if i := findContact(list, arg); i >= 0 {
			return target{addr: list[i].Addr, contact: &list[i]}, nil
		}
	}
	if _, _, err := peer.SplitAddr(arg); err != nil {
		return target{}, usagef("%v", err)
	}
	return target{addr: arg}, nil
}

// apply makes cfg demand the contact's name and pin.
func (t target) apply(c *cli.Context, cfg *peer.Config) error {
	ct := t.contact
	if ct == nil {
		return nil
	}
	if cfg.Peer != "" && cfg.Peer != ct.Name {
		return usagef("%s is a contact, so the peer must be %s; drop --peer %s (or dial the address, %s)", ct.Name, ct.Name, cfg.Peer, ct.Addr)
	}
	cfg.Peer = ct.Name
	if ct.Pin == "" {
		return nil
	}
	for _, p := range cfg.PeerFingerprints {
		if len(p) > len(ct.Pin) || ct.Pin[:len(p)] != p {
			return usagef("%s is pinned to fingerprint %s, not %s; to change it, check with %s by voice and run `%s`",
				ct.Name, ct.Pin, p, ct.Name, pinCommand(c, ct.Name, "FINGERPRINT"))
		}
	}
	cfg.PeerFingerprints = []string{ct.Pin}
	return nil
}

// explain words a refusal of the listener's peer name when dialing a
// contact: peer's usual hint, "pass --peer NAME", would only meet apply's
// "NAME is a contact, so the peer must be NAME".
func (t target) explain(c *cli.Context, err error) error {
	var te *peer.TrustError
	ct := t.contact
	if ct == nil || !errors.As(err, &te) || te.Reason != peer.ReasonNameMismatch || te.PeerName == "" || te.PeerName == ct.Name {
		return err
	}
	path, perr := contactsPath(c)
	if perr != nil {
		return err
	}
	name := sanitize(te.PeerName)
	fixed := *te
	fixed.Hint = fmt.Sprintf("contact %s is at %s (in %s), where %s listens now: if %s has moved, change that line; if %s is who you meant to reach, give --peer %s %s instead of %s",
		ct.Name, ct.Addr, path, name, ct.Name, name, name, ct.Addr, ct.Name)
	return &fixed
}

// pinCommand is the command that pins name to fp, with --contacts when
// the file is not the default one.
func pinCommand(c *cli.Context, name, fp string) string {
	cmd := "peerchat contacts pin "
	if f := c.String("contacts"); f != "" {
		cmd += "--contacts " + f + " "
	}
	return cmd + name + " " + fp
}

// contactPins answers Config.PinFor from the contacts file, read again at
// each connection. A file that has become unreadable since the last read
// does not unpin anyone: the pins last read stay in force, with a warning.
type contactPins struct {
	path string
	u    *ui

	mu     sync.Mutex
	last   []contact
	warned bool
}

// useContacts reads the contacts file once, so that a damaged file stops
// the command at once, and lets cfg hold every contact to its pin.
func useContacts(c *cli.Context, u *ui, cfg *peer.Config) error {
	path, err := contactsPath(c)
	if err != nil {
		return err
	}
	list, err := readContacts(path)
	if err != nil {
		return err
	}
	p := &contactPins{path: path, u: u, last: list}
	cfg.PinFor = p.pinFor
	return nil
}

func (p *contactPins) pinFor(name string) []string {
	list, err := readContacts(p.path)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if !p.warned {
			p.u.notice("warning: %v; until it is fixed, contacts stay held to the fingerprints read before", err)
			p.warned = true
		}
		list = p.last
	} else {
		p.last, p.warned = list, false
	}
	if i := findContact(list, name); i >= 0 && list[i].Pin != "" {
		return []string{list[i].Pin}
	}
	return nil
}

// rememberPeer records a successful connection to a peer that is a
// contact: its last-connected time, and its fingerprint if it had no pin
// yet (trust on first use, said in one line). Failing to record is a
// warning, not a reason to end a chat that has begun. A contact whose pin
// the certificate does not match is refused here too, as a TrustError the
// caller ends the session with: PinFor keeps such a certificate out of the
// handshake, so this happens only when the pin changed meanwhile (or with a
// package peer that does not enforce PinFor).
func rememberPeer(c *cli.Context, u *ui, s *peer.Session) error {
	path, err := contactsPath(c)
	if err != nil {
		return nil
	}
	p := s.Peer()
	// Read first: a peer that is no contact leaves the file, its
	// directory and its lock alone.
	if list, err := readContacts(path); err != nil || findContact(list, p.Name) < 0 {
		return nil
	}
	var pinned, other string
	err = updateContacts(path, func(list []contact) ([]contact, error) {
		i := findContact(list, p.Name)
		if i < 0 {
			return nil, errNotAContact
		}
		switch list[i].Pin {
		case "":
			list[i].Pin, pinned = p.Fingerprint, p.Fingerprint
		case p.Fingerprint:
		default:
			other = list[i].Pin
			return nil, errNotAContact // nothing to record
		}
		list[i].Last = time.Now().UTC().Truncate(time.Second)
		return list, nil
	})
	switch {
	case other != "":
		return explainPinMismatch(c, &peer.TrustError{
			Reason: peer.ReasonPinMismatch, PeerName: p.Name, Fingerprint: p.Fingerprint, Want: []string{other},
			Msg: fmt.Sprintf("%s's certificate has fingerprint %s, not %s as pinned in %s", sanitize(p.Name), p.Fingerprint, other, path),
		})
	case errors.Is(err, errNotAContact):
	case err != nil:
		u.notice("warning: could not record the connection to %s in the contacts file: %v", sanitize(p.Name), err)
	case pinned != "":
		u.notice("first connection to contact %s: pinned its certificate fingerprint %s (trust on first use; compare the safety code with %s by voice to be sure)",
			sanitize(p.Name), pinned, sanitize(p.Name))
	}
	return nil
}

var errNotAContact = errors.New("not a contact")

// explainPinMismatch turns a refusal of a contact's changed certificate
// into the words a user needs: both fingerprints, and the command that
// accepts the new one once it has been checked with the peer.
func explainPinMismatch(c *cli.Context, err error) error {
	var te *peer.TrustError
	if !errors.As(err, &te) || te.Reason != peer.ReasonPinMismatch || te.PeerName == "" || te.Fingerprint == "" {
		return err
	}
	path, perr := contactsPath(c)
	if perr != nil {
		return err
	}
	list, _ := readContacts(path)
	i := findContact(list, te.PeerName)
	if i < 0 || list[i].Pin == "" || list[i].Pin == te.Fingerprint {
		return err // not a contact's pin that refused it
	}
	name := sanitize(te.PeerName)
	return &peer.TrustError{
		Reason: te.Reason, PeerName: te.PeerName, Fingerprint: te.Fingerprint, Want: te.Want,
		Msg: fmt.Sprintf("%s's certificate has changed: it has fingerprint %s, but contact %s is pinned to %s (in %s)",
			name, te.Fingerprint, name, list[i].Pin, path),
		Hint: fmt.Sprintf("this is what someone pretending to be %s would present too: only if %s re-issued its certificate and reads you the new fingerprint by voice, run `%s`",
			name, name, pinCommand(c, te.PeerName, te.Fingerprint)),
		Err: err,
	}
}
