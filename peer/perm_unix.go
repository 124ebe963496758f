//go:build unix

package peer

// unixPermissions says whether a file's mode bits tell who may read it, so
// that a private key readable by group or others can be refused.
const unixPermissions = true
