//go:build unix

package server

import (
	"syscall"
	"testing"
)

// TestRaiseFileLimit lowers the soft open-file limit under the hard one
// and checks that RaiseFileLimit puts it at the hard limit, and that the
// connection budget reads the raised one.
func TestRaiseFileLimit(t *testing.T) {
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	if uint64(orig.Max) >= unlimitedFiles || uint64(orig.Max) < 256 {
		t.Skipf("hard limit %d: nothing to raise to", uint64(orig.Max))
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig) })
	low := orig
	low.Cur = low.Max - 100
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	before, after, err := RaiseFileLimit()
	if err != nil {
		t.Fatal(err)
	}
	if before != uint64(low.Cur) || after != uint64(orig.Max) {
		t.Fatalf("RaiseFileLimit: %d → %d, want %d → %d", before, after, uint64(low.Cur), uint64(orig.Max))
	}
	var now syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &now); err != nil {
		t.Fatal(err)
	}
	if now.Cur != orig.Max {
		t.Fatalf("soft limit %d after the raise, want the hard %d", uint64(now.Cur), uint64(orig.Max))
	}
	if got := fileLimit(); got != int(orig.Max) {
		t.Fatalf("fileLimit() = %d, want %d", got, uint64(orig.Max))
	}
}
