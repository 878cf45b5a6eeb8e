// Package browsertest finds the Debian chromium that herald's browser
// tests drive with chromedp (apt-get install chromium; .ci/run installs
// it when missing). Downloaded browser builds are not used.
package browsertest

import (
	"os"
	"os/exec"
	"testing"
)

// candidates are where chromium is looked for, in order.
var candidates = []string{"/usr/bin/chromium", "chromium", "chromium-browser"}

// Chromium returns chromium's path. Without it, under CI=true the test
// fails (CI must never pass by skipping); on a developer's machine it
// logs why and returns "", and the caller skips what needs the browser.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, p := range candidates {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (CI=true, so this fails): apt-get install -y chromium, or run .ci/run")
	}
	t.Log("SKIPPING the browser checks: chromium is not installed; apt-get install -y chromium to run them")
	return ""
}

// Require is Chromium for a test that is all browser: without chromium
// (and not under CI) it skips the test.
func Require(t testing.TB) string {
	t.Helper()
	path := Chromium(t)
	if path == "" {
		t.SkipNow()
	}
	return path
}
