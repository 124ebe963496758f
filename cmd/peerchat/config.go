package main

// The configuration file gives defaults for the flags: config.toml in the
// config directory ($XDG_CONFIG_HOME/peerchat/config.toml), or the file
// --config or PEERCHAT_CONFIG names. Its keys are the flags' long names:
//
//	name = "bob"
//	certs-dir = "/home/bob/peerchat-certs"
//	addr = ":7443"
//	download-dir = "/home/bob/Downloads"
//	accept-files = true
//	heartbeat = "30s"
//	history-lines = 10
//	peer-fingerprint = ["57:42:AA:9D:66:23:02:76"]
//
// A flag on the command line wins, then its environment variable, then the
// file, then the built-in default: urfave/cli's altsrc applies a value from
// the file only to a flag neither set nor given by the environment. altsrc
// ignores keys it does not know and its type errors do not name the file,
// so the file is first decoded here, strictly, into configFile: an unknown
// key or a value of the wrong type is an error naming the key and the file.
// A default file that does not exist is no configuration; a file named by
// --config or PEERCHAT_CONFIG must exist.

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/urfave/cli/v2"
	"github.com/urfave/cli/v2/altsrc"
)

// configFile is every key the file may hold, each the long name of a flag
// (TestConfigKeysAreTheFlags keeps the two lists equal). Durations are
// strings as the flags take them ("15s", "2m").
type configFile struct {
	Name            string   `toml:"name"`
	CertsDir        string   `toml:"certs-dir"`
	CA              string   `toml:"ca"`
	Cert            string   `toml:"cert"`
	Key             string   `toml:"key"`
	CRL             string   `toml:"crl"`
	PeerFingerprint []string `toml:"peer-fingerprint"`
	Contacts        string   `toml:"contacts"`
	Peer            string   `toml:"peer"`
	Linger          string   `toml:"linger" kind:"duration"`
	Heartbeat       string   `toml:"heartbeat" kind:"duration"`
	HideInput       bool     `toml:"hide-input"`
	NoColor         bool     `toml:"no-color"`
	History         string   `toml:"history"`
	NoHistory       bool     `toml:"no-history"`
	HistoryLines    int      `toml:"history-lines"`
	Addr            string   `toml:"addr"`
	KeepListening   bool     `toml:"keep-listening"`
	ResumeWait      string   `toml:"resume-wait" kind:"duration"`
	NoReconnect     bool     `toml:"no-reconnect"`
	AcceptFiles     bool     `toml:"accept-files"`
	DownloadDir     string   `toml:"download-dir"`
	MaxFileSize     string   `toml:"max-file-size"`
}

// configKeys are configFile's keys, and which of them are durations.
func configKeys() (keys []string, durations []string) {
	t := reflect.TypeFor[configFile]()
	for i := range t.NumField() {
		f := t.Field(i)
		keys = append(keys, f.Tag.Get("toml"))
		if f.Tag.Get("kind") == "duration" {
			durations = append(durations, f.Tag.Get("toml"))
		}
	}
	return keys, durations
}

// notConfigurable are flags of one command whose names are keys of the
// file but mean something else there: history's --peer filters.
var notConfigurable = map[string][]string{"history": {"peer"}}

func configFlag() cli.Flag {
	return &cli.StringFlag{Name: "config", EnvVars: []string{"PEERCHAT_CONFIG"},
		Usage: "the configuration `FILE`, TOML, whose keys are the long flag names (default: config.toml in the config directory, $XDG_CONFIG_HOME/peerchat); flags and environment variables win over it"}
}

// withConfig lets every command take its flags' defaults from the
// configuration file.
func withConfig(app *cli.App) {
	keys, _ := configKeys()
	var walk func(cmds []*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, cmd := range cmds {
			walk(cmd.Subcommands)
			if cmd.Action == nil {
				continue
			}
			wrapped := false
			for i, f := range cmd.Flags {
				name := f.Names()[0]
				if !slices.Contains(keys, name) || slices.Contains(notConfigurable[cmd.Name], name) {
					continue
				}
				if w := fromConfig(f); w != nil {
					cmd.Flags[i], wrapped = w, true
				}
			}
			if !wrapped {
				continue
			}
			cmd.Flags = append(cmd.Flags, configFlag())
			before, flags := cmd.Before, cmd.Flags
			cmd.Before = func(c *cli.Context) error {
				src, err := configSource(c)
				if err != nil {
					return err
				}
				if src != nil {
					if err := altsrc.ApplyInputSourceValues(c, src, flags); err != nil {
						return fmt.Errorf("config file %s: %w", c.String("config"), err)
					}
				}
				if before != nil {
					return before(c)
				}
				return nil
			}
		}
	}
	walk(app.Commands)
}

// fromConfig is f as a flag that altsrc can set from the file.
func fromConfig(f cli.Flag) cli.Flag {
	switch f := f.(type) {
	case *cli.StringFlag:
		return altsrc.NewStringFlag(f)
	case *cli.BoolFlag:
		return altsrc.NewBoolFlag(f)
	case *cli.IntFlag:
		return altsrc.NewIntFlag(f)
	case *cli.DurationFlag:
		return altsrc.NewDurationFlag(f)
	case *cli.StringSliceFlag:
		return altsrc.NewStringSliceFlag(f)
	}
	return nil
}

// configPath is --config (or PEERCHAT_CONFIG), which must exist, or else
// the default file, which may not.
func configPath(c *cli.Context) (path string, mustExist bool, err error) {
	if p := c.String("config"); p != "" {
		return p, true, nil
	}
	dir, err := configDir()
	if err != nil {
		return "", false, nil // no config directory: no default file either
	}
	return filepath.Join(dir, "config.toml"), false, nil
}

// configSource checks the configuration file and returns it as altsrc's
// TOML input source; nil when there is no file.
func configSource(c *cli.Context) (altsrc.InputSourceContext, error) {
	path, mustExist, err := configPath(c)
	if err != nil || path == "" {
		return nil, err
	}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !mustExist:
		return nil, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, usagef("config file %s does not exist (named by --config or PEERCHAT_CONFIG)", path)
	case err != nil:
		return nil, fmt.Errorf("cannot read the config file: %w", err)
	}
	if err := checkConfig(path, b); err != nil {
		return nil, err
	}
	src, err := altsrc.NewTomlSourceFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return src, nil
}

// A configError is a configuration file peerchat cannot use.
type configError struct {
	path, msg string
}

func (e *configError) Error() string {
	return fmt.Sprintf("config file %s: %s", e.path, e.msg)
}

// checkConfig decodes the file strictly: TOML syntax, then unknown keys
// (exactly, case included), then the type of each known key's value (the
// decoder's own type errors name the key but not in words a user reads
// easily), then durations.
func checkConfig(path string, b []byte) error {
	var raw map[string]any
	if _, err := toml.Decode(string(b), &raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return &configError{path, fmt.Sprintf("line %d: %s", pe.Position.Line, pe.Message)}
		}
		return &configError{path, err.Error()}
	}
	keys, durations := configKeys()
	// The decoder matches a struct field in any case, so "Peer" would
	// decode into configFile, and altsrc, which looks for "peer" only,
	// would then ignore it: the keys are compared here exactly.
	for _, key := range slices.Sorted(maps.Keys(raw)) {
		if !slices.Contains(keys, key) {
			return &configError{path, fmt.Sprintf("unknown key %q; the keys are the long flag names, without tables: %s", key, strings.Join(keys, ", "))}
		}
	}
	t := reflect.TypeFor[configFile]()
	for i := range t.NumField() {
		key := t.Field(i).Tag.Get("toml")
		if v, ok := raw[key]; ok {
			if want := configType(t.Field(i).Type.Kind(), v); want != "" {
				if t.Field(i).Tag.Get("kind") == "duration" {
					want = "a duration in quotes, such as \"15s\" or \"2m\""
				}
				return &configError{path, fmt.Sprintf("key %q must be %s, not %s", key, want, tomlType(v))}
			}
		}
	}
	var cf configFile
	md, err := toml.Decode(string(b), &cf)
	if err != nil {
		return &configError{path, err.Error()}
	}
	v := reflect.ValueOf(cf)
	for i := range v.NumField() {
		key := v.Type().Field(i).Tag.Get("toml")
		if !slices.Contains(durations, key) || !md.IsDefined(key) {
			continue
		}
		if _, err := time.ParseDuration(v.Field(i).String()); err != nil {
			return &configError{path, fmt.Sprintf("key %q must be a duration such as \"15s\" or \"2m\", not %q", key, v.Field(i).String())}
		}
	}
	return nil
}

// configType returns what a value of a field of this kind must be, or ""
// when v is that.
func configType(k reflect.Kind, v any) string {
	switch k {
	case reflect.String:
		if _, ok := v.(string); !ok {
			return "a string (in quotes)"
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return "true or false"
		}
	case reflect.Int:
		if _, ok := v.(int64); !ok {
			return "a whole number"
		}
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok || slices.ContainsFunc(list, func(e any) bool { _, s := e.(string); return !s }) {
			return "a list of strings ([\"…\", \"…\"])"
		}
	}
	return ""
}

// tomlType names a decoded TOML value's type, with the value.
func tomlType(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", v)
	case bool:
		return fmt.Sprintf("%t", v)
	case int64:
		return fmt.Sprintf("the number %d", v)
	case float64:
		return fmt.Sprintf("the number %g", v)
	case []any:
		return "a list of other things"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("a %T", v)
}
