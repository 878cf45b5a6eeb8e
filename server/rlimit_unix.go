//go:build unix

package server

import "syscall"

// unlimitedFiles is where a descriptor limit stops meaning anything: a hard
// limit of RLIM_INFINITY (macOS) cannot be the soft one.
const unlimitedFiles = 1 << 30

// RaiseFileLimit raises the soft RLIMIT_NOFILE, the limit on open files
// accept counts against, to the hard limit: each connection is a
// descriptor, and a soft limit of 1024 is common. The Go runtime raises it
// at start too, but to one under the hard limit, and only before main; this
// call makes the limit herald serves with explicit, and child processes
// (the bench's) inherit it. It returns the soft limit before and after;
// after equals before when there is nothing to raise or the raise fails.
func RaiseFileLimit() (before, after uint64, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, err
	}
	before = uint64(lim.Cur)
	if uint64(lim.Cur) >= uint64(lim.Max) || uint64(lim.Max) >= unlimitedFiles {
		return before, before, nil
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return before, before, err
	}
	return before, uint64(lim.Cur), nil
}

// fileLimit is the soft RLIMIT_NOFILE, or 0 when it is unknown or
// unlimited.
func fileLimit() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || uint64(lim.Cur) >= unlimitedFiles {
		return 0
	}
	return int(lim.Cur)
}
