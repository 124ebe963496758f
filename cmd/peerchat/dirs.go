package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// A user's own state lives in the user's directories: configuration,
// contacts, certificates and what is remembered of revocation lists under
// the config directory; history under the data directory (see
// history.DefaultPath). Tests set XDG_CONFIG_HOME and XDG_DATA_HOME (or
// HOME) of their own, so they never touch a real user's files.

// configDir is peerchat's directory in the user's config directory:
// $XDG_CONFIG_HOME/peerchat, else os.UserConfigDir()/peerchat
// (~/.config/peerchat on Linux, ~/Library/Application Support/peerchat on
// macOS, %AppData%\peerchat on Windows).
func configDir() (string, error) {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		var err error
		if dir, err = os.UserConfigDir(); err != nil {
			return "", fmt.Errorf("no config directory for peerchat: %w; set XDG_CONFIG_HOME", err)
		}
	}
	return filepath.Join(dir, "peerchat"), nil
}
