package main

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// A scan of the listener's TLS configuration from outside, with the tools
// an auditor would use: only TLS 1.3 is offered, a client certificate from
// our CA is requested and required, and the listener keeps serving.

func TestSSLScanSeesOnlyTLS13AndAClientCertificateRequest(t *testing.T) {
	needTool(t, "sslscan")
	dir := certsDir(t)
	l, addr := listen(t, "--certs-dir", dir, "--name", "alice")
	out, err := exec.Command("sslscan", "--no-colour", "--show-client-cas", "--no-heartbleed", "--no-compression",
		"--no-fallback", "--no-renegotiation", addr).CombinedOutput()
	if err != nil {
		t.Fatalf("sslscan: %v\n%s", err, out)
	}
	scan := string(out)
	for _, want := range []string{
		`(?m)^SSLv2 +disabled$`, `(?m)^SSLv3 +disabled$`,
		`(?m)^TLSv1\.0 +disabled$`, `(?m)^TLSv1\.1 +disabled$`, `(?m)^TLSv1\.2 +disabled$`,
		`(?m)^TLSv1\.3 +enabled$`,
		`(?m)^(Preferred|Accepted) +TLSv1\.3 `,
		`Acceptable client certificate CA names:\n/CN=peertest CA\n`,
	} {
		if !regexp.MustCompile(want).MatchString(scan) {
			t.Errorf("sslscan output lacks %s", want)
		}
	}
	if m := regexp.MustCompile(`(?m)^(Preferred|Accepted) +(SSLv\S+|TLSv1\.[0-2]) .*$`).FindString(scan); m != "" {
		t.Errorf("a cipher suite below TLS 1.3 is accepted: %s", m)
	}
	if t.Failed() {
		t.Logf("sslscan output:\n%s", scan)
	}
	d := start(t, "dial", "--certs-dir", dir, "--name", "bob", addr)
	d.waitLine("connected to alice")
	l.waitLine("connected to bob")
}

func TestOpenSSLProbesOfTheListener(t *testing.T) {
	needTool(t, "openssl")
	dir := certsDir(t)
	l, addr := listen(t, "--certs-dir", dir, "--name", "alice")
	probe := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("openssl", append([]string{"s_client", "-connect", addr, "-CAfile", dir + "/ca.crt"}, args...)...)
		cmd.Stdin = strings.NewReader("")
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	// Older versions: refused in the first exchange. SECLEVEL=0 lets this
	// openssl offer TLS 1.0 and 1.1 at all.
	for _, v := range []string{"-tls1", "-tls1_1", "-tls1_2"} {
		out := probe(v, "-cipher", "DEFAULT@SECLEVEL=0")
		if !strings.Contains(out, "alert protocol version") || !strings.Contains(out, "Cipher is (NONE)") {
			t.Errorf("openssl s_client %s was not refused:\n%s", v, out)
		}
		l.waitLine(`refused 127\.0\.0\.1:\d+: client offered only TLS 1\.2 or older`)
	}
	// TLS 1.3 without a certificate: the server asks for one from our CA,
	// then refuses (-ign_eof: read on until the server's verdict).
	out := probe("-tls1_3", "-ign_eof")
	for _, want := range []string{"New, TLSv1.3, Cipher is TLS_", "Acceptable client certificate CA names\nCN = peertest CA\n", "Verify return code: 0 (ok)", "alert certificate required"} {
		if !strings.Contains(out, want) {
			t.Errorf("TLS 1.3 without a certificate: no %q in:\n%s", want, out)
		}
	}
	l.waitLine(`refused 127\.0\.0\.1:\d+: client presented no certificate$`)
	// With bob's certificate and the peerchat ALPN it gets through, and
	// reads alice's hello.
	out = probe("-tls1_3", "-cert", dir+"/bob.crt", "-key", dir+"/bob.key", "-alpn", "peerchat/1")
	for _, want := range []string{"New, TLSv1.3, Cipher is TLS_", "ALPN protocol: peerchat/1", "Verify return code: 0 (ok)"} {
		if !strings.Contains(out, want) {
			t.Errorf("TLS 1.3 with a certificate: no %q in:\n%s", want, out)
		}
	}
}
