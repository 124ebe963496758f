//go:build linux || darwin || freebsd

package peer

import "syscall"

// diskFree is the space an unprivileged user may still write on the disk
// of dir, and the disk's size.
func diskFree(dir string) (free, total uint64, ok bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, false
	}
	return uint64(st.Bavail) * uint64(st.Bsize), uint64(st.Blocks) * uint64(st.Bsize), true
}
