package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"peerchat/peer/peertest"
)

// TestConfigPrecedence: a flag wins over its environment variable, which
// wins over the configuration file, which wins over the built-in default.
func TestConfigPrecedence(t *testing.T) {
	cfg := t.TempDir()
	def := mkdir(t, filepath.Join(cfg, "peerchat", "certs"))
	dirs := map[string]string{"default": def, "config": t.TempDir(), "env": t.TempDir(), "flag": t.TempDir()}
	for _, d := range dirs {
		pki := peertest.NewPKIIn(t, d, "peertest CA")
		pki.Issue(t, peertest.Leaf{Name: "alice"})
		pki.Issue(t, peertest.Leaf{Name: "bob"})
	}
	closed, _ := listen(t, "--certs-dir", def, "--name", "alice")
	addr := closed.waitLine(`listening on (\S+) as`)[1]
	closed.cmd.Process.Kill()
	closed.wait()
	_, busy := listen(t, "--certs-dir", def, "--name", "alice")

	tests := []struct {
		name   string
		config string   // the file's contents; "" for no file
		env    []string // added to the environment
		args   []string
		want   string // in stdout (certs check) or stderr (dial)
	}{
		{"default", "", nil, []string{"certs", "check", "--name", "alice"},
			"checking certificate " + def + "/alice.crt"},
		{"config over default", `certs-dir = "` + dirs["config"] + `"`, nil, []string{"certs", "check", "--name", "alice"},
			"checking certificate " + dirs["config"] + "/alice.crt"},
		{"env over config", `certs-dir = "` + dirs["config"] + `"`, []string{"PEERCHAT_CERTS_DIR=" + dirs["env"]}, []string{"certs", "check", "--name", "alice"},
			"checking certificate " + dirs["env"] + "/alice.crt"},
		{"flag over env and config", `certs-dir = "` + dirs["config"] + `"`, []string{"PEERCHAT_CERTS_DIR=" + dirs["env"]},
			[]string{"certs", "check", "--certs-dir", dirs["flag"], "--name", "alice"},
			"checking certificate " + dirs["flag"] + "/alice.crt"},
		{"flag over config", "certs-dir = \"" + dirs["config"] + "\"\nname = \"bob\"", nil, []string{"certs", "check", "--certs-dir", dirs["flag"]},
			"checking certificate " + dirs["flag"] + "/bob.crt"},
		{"env name over config name", "name = \"bob\"", []string{"PEERCHAT_NAME=alice"}, []string{"certs", "check"},
			"checking certificate " + def + "/alice.crt"},
		{"config duration", "heartbeat = \"5ms\"\nname = \"bob\"", nil, []string{"dial", addr},
			"--heartbeat 5ms is too short"},
		{"flag duration over config", "heartbeat = \"5ms\"\nname = \"bob\"", nil, []string{"dial", "--heartbeat", "1s", addr},
			"cannot reach " + addr},
		{"config list", "peer-fingerprint = [\"AB:CD\"]\nname = \"bob\"", nil, []string{"dial", addr},
			`--peer-fingerprint: fingerprint "AB:CD" is too short`},
		{"config for listen", "addr = \"" + busy + "\"\nname = \"alice\"\nkeep-listening = true", nil, []string{"listen"},
			"cannot listen on " + busy},
		{"--config names another file", "", []string{"PEERCHAT_CONFIG=" + writeTemp(t, `name = "bob"`)}, []string{"certs", "check"},
			"checking certificate " + def + "/bob.crt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(filepath.Join(cfg, "peerchat", "config.toml"))
			if tt.config != "" {
				if err := os.WriteFile(filepath.Join(cfg, "peerchat", "config.toml"), []byte(tt.config), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			env := append([]string{"XDG_CONFIG_HOME=" + cfg}, tt.env...)
			stdout, stderr, code := runPeerchatEnv(t, env, "", tt.args...)
			if !strings.Contains(stdout+stderr, tt.want) {
				t.Errorf("peerchat %s: exit %d, want %q in\n%s%s", strings.Join(tt.args, " "), code, tt.want, stdout, stderr)
			}
		})
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "peerchat.toml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigErrorsNameTheKeyAndTheFile: an unknown key, a value of the
// wrong type, a bad duration or broken TOML stop the command with one line
// naming the file and the key (or line); a missing --config file is an
// error, a missing default file is not.
func TestConfigErrorsNameTheKeyAndTheFile(t *testing.T) {
	cfg := t.TempDir()
	file := filepath.Join(mkdir(t, filepath.Join(cfg, "peerchat")), "config.toml")
	env := []string{"XDG_CONFIG_HOME=" + cfg}
	tests := []struct{ config, want string }{
		{`adr = ":7443"`, `config file ` + file + `: unknown key "adr"; the keys are the long flag names`},
		{"[listen]\naddr = \":7443\"", `config file ` + file + `: unknown key "listen`},
		// The TOML decoder matches struct fields in any case, and altsrc
		// then looks for "peer" only: Peer would be silently ignored,
		// and a listener meant to accept only alice would accept anyone.
		{`Peer = "alice"`, `config file ` + file + `: unknown key "Peer"; the keys are the long flag names`},
		{"name = \"bob\"\nCerts-Dir = \"/x\"", `config file ` + file + `: unknown key "Certs-Dir"`},
		{`history-lines = "five"`, `config file ` + file + `: key "history-lines" must be a whole number, not the string "five"`},
		{`accept-files = "yes"`, `config file ` + file + `: key "accept-files" must be true or false, not the string "yes"`},
		{`name = 7`, `config file ` + file + `: key "name" must be a string (in quotes), not the number 7`},
		{`heartbeat = 15`, `config file ` + file + `: key "heartbeat" must be a duration in quotes`},
		{`heartbeat = "15 seconds"`, `config file ` + file + `: key "heartbeat" must be a duration such as "15s" or "2m", not "15 seconds"`},
		{`peer-fingerprint = "AB"`, `config file ` + file + `: key "peer-fingerprint" must be a list of strings`},
		{"name = \"bob\"\nname", `config file ` + file + `: line 2: `},
	}
	for _, tt := range tests {
		if err := os.WriteFile(file, []byte(tt.config), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"certs", "check"}, {"dial", "localhost"}, {"contacts", "list"}} {
			_, stderr, code := runPeerchatEnv(t, env, "", args...)
			// A mistake in the file is one in the flags it gives defaults
			// to: exit 2, as for a --config file that does not exist.
			if code != exitUsage || !strings.HasPrefix(stderr, "peerchat: "+tt.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("config %q, peerchat %s: exit %d, stderr:\n%s\nwant one line starting %q", tt.config, strings.Join(args, " "), code, stderr, tt.want)
			}
		}
	}

	os.Remove(file)
	if _, stderr, code := runPeerchatEnv(t, env, "", "contacts", "list"); code != 0 {
		t.Errorf("without a config file: exit %d\n%s", code, stderr)
	}
	missing := filepath.Join(cfg, "missing.toml")
	for _, run := range [][]string{{"contacts", "list", "--config", missing}, {"certs", "check", "--config", missing}} {
		_, stderr, code := runPeerchatEnv(t, env, "", run...)
		if code == 0 || !strings.Contains(stderr, "config file "+missing+" does not exist") {
			t.Errorf("peerchat %s: exit %d, stderr %q", strings.Join(run, " "), code, stderr)
		}
	}
	_, stderr, code := runPeerchatEnv(t, append(env, "PEERCHAT_CONFIG="+missing), "", "contacts", "list")
	if code == 0 || !strings.Contains(stderr, "config file "+missing+" does not exist") {
		t.Errorf("PEERCHAT_CONFIG naming a missing file: exit %d, stderr %q", code, stderr)
	}
}

// TestConfigKeysAreTheFlags: the file's keys are exactly the flags that
// take their default from it, so that neither list can grow alone.
func TestConfigKeysAreTheFlags(t *testing.T) {
	app := newApp(&ui{stdout: io.Discard, stderr: io.Discard}, strings.NewReader(""))
	withConfig(app)
	seen := map[string]bool{}
	var walk func([]*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, c := range cmds {
			walk(c.Subcommands)
			for _, f := range c.Flags {
				if strings.HasPrefix(fmt.Sprintf("%T", f), "*altsrc.") {
					seen[f.Names()[0]] = true
				}
			}
		}
	}
	walk(app.Commands)
	keys, _ := configKeys()
	var got []string
	for k := range seen {
		got = append(got, k)
	}
	sort.Strings(got)
	sort.Strings(keys)
	if !slices.Equal(got, keys) {
		t.Errorf("flags read from the config file: %q\nconfigFile keys: %q", got, keys)
	}
}
