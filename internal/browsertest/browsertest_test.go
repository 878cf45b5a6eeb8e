package browsertest

import "testing"

// TestChromiumUnderCI: with no chromium on PATH, CI=true fails the test
// rather than skipping it, and elsewhere the path is "".
func TestChromiumUnderCI(t *testing.T) {
	saved := candidates
	t.Cleanup(func() { candidates = saved })
	candidates = []string{"/nonexistent/chromium", "herald-no-such-browser"}
	for _, ci := range []string{"true", ""} {
		t.Setenv("CI", ci)
		rec := &recorder{TB: t}
		func() {
			defer func() { _ = recover() }() // Fatal's Goexit is played by a panic
			if got := Chromium(rec); got != "" {
				t.Errorf("CI=%q: path %q with an empty PATH", ci, got)
			}
		}()
		if rec.failed != (ci == "true") {
			t.Errorf("CI=%q: failed = %v", ci, rec.failed)
		}
	}
}

// recorder notes a Fatal instead of ending the test.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper()      {}
func (r *recorder) Log(...any)   {}
func (r *recorder) Fatal(...any) { r.failed = true; panic("fatal") }
