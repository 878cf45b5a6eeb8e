//go:build unix

package sqlite

import "golang.org/x/sys/unix"

// freeBytes is the space an unprivileged writer has left on the file
// system holding dir; false when it cannot be read.
func freeBytes(dir string) (uint64, bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return uint64(st.Bavail) * uint64(st.Bsize), true
}
