//go:build !unix

package peer

// unixPermissions is false where mode bits do not say who may read a file
// (Windows: access is by ACL, and Go reports every file as 0666). The key
// permission check is skipped there rather than refusing every key;
// README says so.
const unixPermissions = false
