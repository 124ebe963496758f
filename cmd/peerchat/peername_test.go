package main

import (
	"regexp"
	"strings"
	"testing"

	"peerchat/peer"
	"peerchat/peer/peertest"
)

// isolatedEnv keeps a run of the binary away from the user's own
// configuration and data.
func isolatedEnv(t *testing.T) []string {
	t.Helper()
	return []string{"HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir(), "XDG_DATA_HOME=" + t.TempDir(), "NO_COLOR=1"}
}

// TestPeerNameBindsNotHostNames is the host-name attack: a certificate
// that carries another peer's name as a host name (as gen-certs.sh once
// added the CA machine's name to every certificate) does not pass as
// that peer, in either role. The dialer exits 3, and both sides say why.
func TestPeerNameBindsNotHostNames(t *testing.T) {
	pki := peertest.NewPKI(t)
	pki.Issue(t, peertest.Leaf{Name: "alice"})
	pki.Issue(t, peertest.Leaf{Name: "bob", DNSNames: []string{"bob", "alice", "localhost"}})
	pki.Issue(t, peertest.Leaf{Name: "carol", DNSNames: []string{"carol", "alice", "localhost"}})
	env := isolatedEnv(t)

	t.Run("dialer --peer alice reaches carol", func(t *testing.T) {
		l := startEnv(t, env, "listen", "--addr", "127.0.0.1:0", "--certs-dir", pki.Dir, "--name", "carol")
		addr := l.waitLine(`listening on (\S+) as`)[1]
		stdout, stderr, code := runPeerchatEnv(t, env, "secret\n", "dial", "--certs-dir", pki.Dir, "--name", "bob", "--peer", "alice", addr)
		if code != exitTrust {
			t.Errorf("dialer exited %d, want %d; stderr:\n%s", code, exitTrust, stderr)
		}
		want := "peerchat: the listener at " + addr + " is carol, not alice: the peer name in its certificate is carol (the host name alice in it does not count); if carol is who you meant to reach, pass --peer carol"
		if last := lastLine(stderr); last != want {
			t.Errorf("dialer said:\n  %s\nwant:\n  %s", last, want)
		}
		if stdout != "" {
			t.Errorf("dialer's stdout: %q", stdout)
		}
		l.waitLine(`^peerchat: refused 127\.0\.0\.1:\d+: ` + regexp.QuoteMeta("bob refused us: bob dialed alice, and the peer name in your certificate is carol (the host name alice in it does not count)") + `$`)
		if strings.Contains(l.out(), "secret") || strings.Contains(l.stderr(), "connected to") {
			t.Errorf("carol got the chat:\n%s\n%s", l.stderr(), l.out())
		}
	})

	t.Run("listener --peer alice refuses bob", func(t *testing.T) {
		l := startEnv(t, env, "listen", "--addr", "127.0.0.1:0", "--certs-dir", pki.Dir, "--name", "carol", "--peer", "alice")
		addr := l.waitLine(`listening on (\S+) as`)[1]
		stdout, stderr, code := runPeerchatEnv(t, env, "secret\n", "dial", "--certs-dir", pki.Dir, "--name", "bob", addr)
		if code != exitTrust {
			t.Errorf("dialer exited %d, want %d; stderr:\n%s", code, exitTrust, stderr)
		}
		want := "peerchat: carol (at " + addr + ") refused us: carol accepts only alice, and the peer name in your certificate is bob (the host name alice in it does not count); ask carol to listen with --peer bob"
		if last := lastLine(stderr); last != want {
			t.Errorf("dialer said:\n  %s\nwant:\n  %s", last, want)
		}
		if stdout != "" {
			t.Errorf("dialer's stdout: %q", stdout)
		}
		l.waitLine(`^peerchat: refused 127\.0\.0\.1:\d+: ` + regexp.QuoteMeta("bob is not alice: the peer name in its certificate is bob (the host name alice in it does not count); to chat with bob, listen with --peer bob") + `$`)
		if strings.Contains(l.out(), "secret") || strings.Contains(l.stderr(), "connected to") {
			t.Errorf("carol got the chat:\n%s\n%s", l.stderr(), l.out())
		}
	})
}

// TestSafetyCodeIsTheSameOnBothSides runs real listeners and dialers: both
// ends of a pair print one safety code, whichever role each plays, and it
// is the code of their two certificates; another pair prints another.
func TestSafetyCodeIsTheSameOnBothSides(t *testing.T) {
	pki := peertest.NewPKI(t)
	fps := map[string]string{}
	for _, name := range []string{"alice", "bob", "carol"} {
		fps[name] = peer.Fingerprint(peertest.Cert(t, pki.Issue(t, peertest.Leaf{Name: name}).Cert))
	}
	env := isolatedEnv(t)
	const connected = `^peerchat: connected to %s \(fingerprint [0-9A-F:]{23}\) at \S+, safety code (\d{5} \d{5} \d{5} \d{5})$`
	// chat connects listener and dialer and returns the code each printed.
	chat := func(listener, dialer string) (string, string) {
		t.Helper()
		l := startEnv(t, env, "listen", "--addr", "127.0.0.1:0", "--certs-dir", pki.Dir, "--name", listener)
		addr := l.waitLine(`listening on (\S+) as`)[1]
		d := startEnv(t, env, "dial", "--certs-dir", pki.Dir, "--name", dialer, addr)
		dc := d.waitLine(strings.Replace(connected, "%s", listener, 1))[1]
		lc := l.waitLine(strings.Replace(connected, "%s", dialer, 1))[1]
		d.stdin.Close()
		if code := d.wait(); code != 0 {
			t.Errorf("%s exited %d", dialer, code)
		}
		l.wait()
		return lc, dc
	}
	ab1, ab2 := chat("alice", "bob")
	ba1, ba2 := chat("bob", "alice")
	ac1, ac2 := chat("alice", "carol")
	if want := peer.SafetyCode(fps["alice"], fps["bob"]); ab1 != want || ab2 != want || ba1 != want || ba2 != want {
		t.Errorf("alice and bob printed %s, %s (alice listening) and %s, %s (bob listening); want %s everywhere", ab1, ab2, ba1, ba2, want)
	}
	if want := peer.SafetyCode(fps["alice"], fps["carol"]); ac1 != want || ac2 != want {
		t.Errorf("alice and carol printed %s and %s, want %s", ac1, ac2, want)
	}
	if ac1 == ab1 {
		t.Errorf("alice–carol prints alice–bob's code %s", ab1)
	}
}

// TestReconnectionToAnotherCertificateEndsTheChat: alice's peerchat dies
// and comes back with a re-issued certificate of the same name. Bob's
// peerchat does not resume the conversation with it: what he typed
// meanwhile is not delivered, he exits 3, and both sides say why.
func TestReconnectionToAnotherCertificateEndsTheChat(t *testing.T) {
	pki := peertest.NewPKI(t)
	old := peertest.Cert(t, pki.Issue(t, peertest.Leaf{Name: "alice"}).Cert)
	pki.Issue(t, peertest.Leaf{Name: "bob"})
	env := isolatedEnv(t)
	l1 := startEnv(t, env, "listen", "--addr", "127.0.0.1:0", "--certs-dir", pki.Dir, "--name", "alice")
	addr := l1.waitLine(`listening on (\S+) as`)[1]
	d := startEnv(t, env, "dial", "--certs-dir", pki.Dir, "--name", "bob", "--heartbeat", "100ms", addr)
	d.waitLine("connected to alice")
	l1.waitLine("connected to bob")
	l1.cmd.Process.Kill()
	l1.wait()
	d.waitLine(`^peerchat: lost the connection to alice: `)
	d.send("for the alice I checked")

	renewed := peertest.Cert(t, pki.Issue(t, peertest.Leaf{Name: "alice"}).Cert)
	oldFP, newFP := peer.Fingerprint(old), peer.Fingerprint(renewed)
	l2 := startEnv(t, env, "listen", "--addr", addr, "--certs-dir", pki.Dir, "--name", "alice")
	if code := d.wait(); code != exitTrust {
		t.Errorf("dialer exited %d, want %d", code, exitTrust)
	}
	want := "peerchat: the listener at " + addr + " is alice with another certificate (fingerprint " + newFP + ") than the one this conversation began with (" + oldFP + "); the conversation cannot resume, and has ended; if alice re-issued its certificate, compare the new fingerprint with alice by voice, then dial again for a new conversation"
	if last := lastLine(d.stderr()); last != want {
		t.Errorf("dialer's last line:\n  %s\nwant:\n  %s", last, want)
	}
	d.waitLine(`^peerchat: not delivered to alice: \[\d\d:\d\d:\d\d\] for the alice I checked$`)
	l2.waitLine(`^peerchat: refused 127\.0\.0\.1:\d+: ` + regexp.QuoteMeta("bob refused us: bob's conversation began with another certificate of alice (fingerprint "+oldFP+"), and yours is "+newFP+": a conversation resumes only with the certificate it began with") + `$`)
	if strings.Contains(l2.out(), "for the alice I checked") || strings.Contains(l2.stderr(), "connected to bob") {
		t.Errorf("the re-issued alice got the conversation:\n%s\n%s", l2.stderr(), l2.out())
	}
}
