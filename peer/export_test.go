package peer

import (
	"crypto/tls"
	"errors"
	"math/rand/v2"
	"sync"
	"time"
)

// LoadIdentityUnchecked loads a bundle without LoadIdentity's checks, so
// that tests can make a peer present an expired or otherwise bad
// certificate and watch the other side refuse it.
func LoadIdentityUnchecked(f Files) (*Identity, error) {
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, err
	}
	b, err := readBundleFile(f.CA, "CA certificate")
	if err != nil {
		return nil, err
	}
	ca, err := parseCertPEM(b)
	if err != nil {
		return nil, err
	}
	id := &Identity{Name: certName(cert.Leaf), Leaf: cert.Leaf, CA: ca, Files: f, cert: cert}
	id.roots = newPool(ca)
	return id, nil
}

// Pending reports the listener's handshake slots in use: held by
// connections that have sent nothing yet, and by ones that have spoken.
func (l *Listener) Pending() (silent, spoke int) {
	l.gate.mu.Lock()
	defer l.gate.mu.Unlock()
	return l.gate.silent.Len(), l.gate.total - l.gate.silent.Len()
}

// Kill ends s as the death of its process would: the connection closes
// without a goodbye, and nothing more is sent or received.
func Kill(s *Session) {
	s.closing.Store(true)
	s.end(errors.New("killed"))
	s.wg.Wait()
}

// WithDefaultsForTest returns c with every zero field set to its default.
func (c Config) WithDefaultsForTest() Config { return c.withDefaults() }

// Backoff is the wait before reconnection attempt n, drawn from r.
func Backoff(cfg Config, n int, r *rand.Rand) time.Duration { return backoff(cfg, n, r) }

// WriteFrame writes one raw frame on the session's connection, as a
// hostile or buggy peer might.
func WriteFrame(s *Session, t byte, payload []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.link == nil {
		return ErrConnectionLost
	}
	return s.write(s.link, appendFrame(s.wbuf[:0], frameType(t), payload))
}

// DiscardingFiles makes c receive files into nothing: each is hashed and
// verified, and dropped. For benchmarks that must not measure the disk.
func DiscardingFiles(c Config) Config {
	c.DownloadDir, c.discardFiles = "/nonexistent", true
	return c
}

// HoldPrefixHashing makes the hashing of a resumed file's kept prefix
// wait until the returned release is called (at the latest when t ends),
// so that a test can see what goes on meanwhile.
func HoldPrefixHashing(t interface{ Cleanup(func()) }) (release func()) {
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	hook := func() { <-gate }
	hashPrefixHook.Store(&hook)
	t.Cleanup(func() {
		release()
		hashPrefixHook.Store(nil)
	})
	return release
}

// Owed reports the file replies s owes its peer: their bytes and frames,
// and the capacity of the buffer kept for them.
func Owed(s *Session) (n, frames, capacity int) {
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	return len(s.ctlExtra), s.ctlFrames, cap(s.ctlExtra)
}

// Bounds are the per-peer bounds, for tests to count against.
const (
	MaxCtlOwed       = maxCtlOwed
	MaxCtlFramesOwed = maxCtlFramesOwed
	MaxFilesInFlight = maxFilesInFlight
)

// PongsOwed reports how many pongs s owes its peer.
func PongsOwed(s *Session) int {
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	return len(s.pongOwed)
}

// MaxPartialFiles is the most unfinished files a download directory holds
// before new files are refused.
const MaxPartialFiles = maxPartialFiles
