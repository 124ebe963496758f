package peer_test

import (
	"errors"
	"strings"
	"testing"

	"peerchat/peer"
)

// TestRefusalsAreTypedAndNameNoFlag: a receiver that takes no files, or
// none that big, hands its caller an error it can match (to add its own
// advice), and the reason the sender reads over the wire names no flag of
// this implementation's CLI.
func TestRefusalsAreTypedAndNameNoFlag(t *testing.T) {
	_, alice, bob := alicePKI(t)
	path, _ := writeRandom(t, t.TempDir(), "big.bin", 4096)

	cases := []struct {
		name  string
		cfg   peer.Config
		match func(error) bool
	}{
		{"no download directory", peer.Config{Identity: alice},
			func(err error) bool { return errors.Is(err, peer.ErrNoFiles) }},
		{"over the size limit", peer.Config{Identity: alice, DownloadDir: t.TempDir(), MaxFileSize: 1000},
			func(err error) bool {
				var e *peer.FileTooLargeError
				return errors.As(err, &e) && e.Name == "big.bin" && e.Size == 4096 && e.Limit == 1000
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ls, ds := connect(t, c.cfg, peer.Config{Identity: bob})
			evs := receiverEvents(ls)
			go endOf(ds)
			err := ds.SendFile(testContext(t), path, nil)
			if !errors.Is(err, peer.ErrFileRefused) {
				t.Fatalf("sender: %v, want a refusal", err)
			}
			if strings.Contains(err.Error(), "--") {
				t.Errorf("the reason sent names a flag: %q", err)
			}
			for ev := range evs {
				if f, ok := ev.(peer.FileFailed); ok {
					if !c.match(f.Err) {
						t.Errorf("receiver's error %#v (%q) is not the typed refusal", f.Err, f.Err)
					}
					return
				}
			}
			t.Fatal("receiver ended without reporting the refusal")
		})
	}
}
