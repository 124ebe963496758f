package peer

import "time"

// SetCRLClock makes id's watched revocation list tell whether it is past
// its next update by now instead of time.Now, so that a test can let it
// lapse. Call it before id is used.
func SetCRLClock(id *Identity, now func() time.Time) { id.crl.now = now }
