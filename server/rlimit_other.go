//go:build !unix

package server

// RaiseFileLimit does nothing where there is no RLIMIT_NOFILE.
func RaiseFileLimit() (before, after uint64, err error) { return 0, 0, nil }

// fileLimit is 0, unknown, where there is no RLIMIT_NOFILE: the connection
// budget is then Config.MaxConns alone.
func fileLimit() int { return 0 }
