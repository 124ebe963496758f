package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"peerchat/peer"
	"peerchat/peer/peertest"
)

// Foreign peers: openssl s_server as the listener a peerchat dialer meets,
// openssl s_client as the client a peerchat listener meets, each with and
// without a valid certificate, TLS 1.2 only, another CA, a revoked
// certificate (revoked with `openssl ca`, as scripts/gen-certs.sh does).

// sServer is a running `openssl s_server` that accepts one connection.
type sServer struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string

	mu    sync.Mutex
	lines []string
	wake  chan struct{}
	done  chan struct{}
}

func startSServer(t *testing.T, args ...string) *sServer {
	t.Helper()
	needTool(t, "openssl")
	s := &sServer{t: t, wake: make(chan struct{}, 1), done: make(chan struct{})}
	s.cmd = exec.Command("openssl", append([]string{"s_server", "-accept", "127.0.0.1:0", "-naccept", "1"}, args...)...)
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stdout, s.cmd.Stderr = pw, pw
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.mu.Lock()
			s.lines = append(s.lines, sc.Text())
			s.mu.Unlock()
			select {
			case s.wake <- struct{}{}:
			default:
			}
		}
		s.cmd.Wait()
	}()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.done
		if t.Failed() {
			t.Logf("openssl s_server output:\n%s", s.output())
		}
	})
	s.addr = "127.0.0.1:" + s.waitLine(`^ACCEPT 127\.0\.0\.1:(\d+)$`)[1]
	return s
}

func (s *sServer) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

func (s *sServer) waitLine(re string) []string {
	s.t.Helper()
	rx := regexp.MustCompile(re)
	timeout := time.After(procTimeout)
	for seen := 0; ; {
		s.mu.Lock()
		lines := s.lines
		s.mu.Unlock()
		for ; seen < len(lines); seen++ {
			if m := rx.FindStringSubmatch(lines[seen]); m != nil {
				return m
			}
		}
		select {
		case <-s.wake:
		case <-s.done:
			s.t.Fatalf("openssl s_server ended without printing %q:\n%s", re, s.output())
		case <-timeout:
			s.t.Fatalf("no %q from openssl s_server within %s:\n%s", re, procTimeout, s.output())
		}
	}
}

// foreignPKI makes alice, bob, and mallory from another CA; crl.pem in the
// certs dir revokes carol, made by `openssl ca`.
func foreignPKI(t *testing.T) (dir, otherDir string) {
	t.Helper()
	pki := peertest.NewPKI(t)
	for _, n := range []string{"alice", "bob", "carol"} {
		pki.Issue(t, peertest.Leaf{Name: n})
	}
	other := peertest.NewPKI(t)
	other.Issue(t, peertest.Leaf{Name: "mallory"})
	opensslRevoke(t, pki.Dir, filepath.Join(pki.Dir, "carol.crt"))
	return pki.Dir, other.Dir
}

func TestDialerRefusesForeignServers(t *testing.T) {
	needTool(t, "openssl")
	dir, other := foreignPKI(t)
	carolSerial := peer.Serial(peertest.Cert(t, dir+"/carol.crt").SerialNumber)
	cert := func(d, name string) []string {
		return []string{"-cert", d + "/" + name + ".crt", "-key", d + "/" + name + ".key"}
	}
	tests := []struct {
		name string
		args []string
		// then, once the TLS handshake is done: write this to the server,
		// then close its input (it then closes the connection)
		then string
		code int
		want string // ADDR is the server's address
	}{
		{"no peerchat ALPN", cert(dir, "alice"), "", exitNetwork,
			`ADDR is not a peerchat listener (it did not agree to ALPN "peerchat/1"); check the address and port`},
		{"certificate from another CA", append(cert(other, "mallory"), "-alpn", "peerchat/1"), "", exitTrust,
			`the listener at ADDR (mallory) has a certificate not signed by our CA ` + dir + `/ca.crt; both sides need certificates from the same CA`},
		{"TLS 1.2 only", append(cert(dir, "alice"), "-tls1_2", "-alpn", "peerchat/1"), "", exitNetwork,
			"ADDR does not speak TLS 1.3, which peerchat requires"},
		{"revoked certificate", append(cert(dir, "carol"), "-alpn", "peerchat/1"), "", exitTrust,
			"the listener at ADDR is carol, whose certificate (serial " + carolSerial + ") is revoked by " + dir + "/crl.pem since "},
		{"valid, then no hello", append(cert(dir, "alice"), "-alpn", "peerchat/1"), "", exitNetwork,
			"alice (at ADDR) closed the connection before greeting us; its output says why"},
		{"valid, then not peerchat frames", append(cert(dir, "alice"), "-alpn", "peerchat/1"), "HTTP/1.1 200 OK\r\n\r\n", exitNetwork,
			"protocol error: unknown frame type 72 frame of 1414811695 bytes is over the 65536-byte limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startSServer(t, tt.args...)
			d := start(t, "dial", "--certs-dir", dir, "--name", "bob", s.addr)
			if strings.Contains(tt.name, "valid") {
				s.waitLine("^CIPHER is TLS_")
				io.WriteString(s.stdin, tt.then)
				s.stdin.Close()
			}
			code := d.wait()
			last := lastLine(d.stderr())
			want := "peerchat: " + strings.ReplaceAll(tt.want, "ADDR", s.addr)
			if code != tt.code || !strings.HasPrefix(last, want) {
				t.Errorf("exit %d, last line:\n  %s\nwant exit %d and:\n  %s", code, last, tt.code, want)
			}
		})
	}
}

func TestListenerRefusesForeignClients(t *testing.T) {
	needTool(t, "openssl")
	dir, other := foreignPKI(t)
	carolSerial := peer.Serial(peertest.Cert(t, dir+"/carol.crt").SerialNumber)
	l, addr := listen(t, "--certs-dir", dir, "--name", "alice")
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string
		told  string // what the client reads from the listener, if anything
	}{
		{"no certificate", []string{"-CAfile", dir + "/ca.crt", "-alpn", "peerchat/1"}, "",
			"client presented no certificate", "certificate required"},
		{"TLS 1.2", []string{"-tls1_2", "-cert", dir + "/bob.crt", "-key", dir + "/bob.key", "-alpn", "peerchat/1"}, "",
			"client offered only TLS 1.2 or older; peerchat requires TLS 1.3", "protocol version"},
		{"certificate from another CA", []string{"-cert", other + "/mallory.crt", "-key", other + "/mallory.key", "-alpn", "peerchat/1"}, "",
			`client certificate "mallory" is not signed by our CA`, "unknown ca"},
		{"revoked certificate", []string{"-cert", dir + "/carol.crt", "-key", dir + "/carol.key", "-alpn", "peerchat/1"}, "",
			"carol's certificate (serial " + carolSerial + ") is revoked by " + dir + "/crl.pem since ",
			"your certificate (carol, serial " + carolSerial + ") is revoked by alice's revocation list since "},
		{"valid certificate, no ALPN", []string{"-cert", dir + "/bob.crt", "-key", dir + "/bob.key"}, "",
			`not a peerchat client (it did not ask for ALPN "peerchat/1")`, ""},
		{"valid certificate and ALPN, then not peerchat frames", []string{"-cert", dir + "/bob.crt", "-key", dir + "/bob.key", "-alpn", "peerchat/1"},
			"GET / HTTP/1.0\r\n\r\n", "bob: protocol error: unknown frame type 71 frame of 1163141167 bytes is over the 65536-byte limit",
			"frame of 1163141167 bytes is over the 65536-byte limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// -ign_eof: read on until the listener's verdict; it closes
			// the connection in every case.
			cmd := exec.Command("openssl", append([]string{"s_client", "-connect", addr, "-quiet", "-ign_eof"}, tt.args...)...)
			cmd.Stdin = strings.NewReader(tt.stdin)
			out, _ := cmd.CombinedOutput()
			l.waitLine(`^peerchat: refused 127\.0\.0\.1:\d+: ` + regexp.QuoteMeta(tt.want))
			if !strings.Contains(string(out), tt.told) {
				t.Errorf("the client was not told %q; it read:\n%s", tt.told, out)
			}
		})
	}
	// None of it disturbed the listener: a real peer still gets in.
	d := start(t, "dial", "--certs-dir", dir, "--name", "bob", addr)
	d.waitLine("connected to alice")
}
