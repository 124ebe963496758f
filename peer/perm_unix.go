//go:build unix

package peer

// unixPermissions says whether a file's mode bits tell who may read it, so
// that a group- or world-readable private key can be warned about.
const unixPermissions = true
