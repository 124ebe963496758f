//go:build !(linux || darwin || freebsd)

package peer

// diskFree cannot tell the free space here (Windows and the other
// systems): offers are not checked against it, and a write that fills the
// disk ends the transfer with "disk is full", keeping what arrived.
func diskFree(dir string) (free, total uint64, ok bool) { return 0, 0, false }
