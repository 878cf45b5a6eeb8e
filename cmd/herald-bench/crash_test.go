package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestCrashShort is the crash scenario at a size the normal test run
// affords: 2 000 recipients on SQLite, herald killed with SIGKILL at 40%,
// restarted; every recipient must get its SMS, and the duplicates must stay
// within what one node holds claimed. The 100 000-recipient runs on both
// engines are `go run ./cmd/herald-bench crash` (README, Long runs).
func TestCrashShort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds herald and kills it: not under -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opt := defaultCrash
	opt.Recipients, opt.Engine, opt.KillAt, opt.Lease, opt.Timeout = 2000, "sqlite", 0.4, 5*time.Second, 2*time.Minute
	var stdout, stderr bytes.Buffer
	if err := benchCrash(ctx, opt, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
	}
	line := strings.TrimSpace(stdout.String())
	t.Log(line)
	if !strings.Contains(line, "missing=0 ") {
		t.Fatalf("recipients without a message: %s", line)
	}
}

// TestCrashImportShort is the import crash case (crash -import) at a size
// the normal test run affords: 12 000 customers posted to a real herald on
// SQLite, killed with SIGKILL at 30% of the import's time and at the
// moment the first of its rows is visible, restarted; each time the page
// must hold none of the rows or all of them, and posting the file again
// all of them. (An import written in parts of 5 000 fails the second
// kill.) The 50 000-customer run on both engines is `go run
// ./cmd/herald-bench crash -import -recipients 50000` (README, Long runs).
func TestCrashImportShort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds herald and kills it: not under -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	opt := defaultCrash
	opt.Recipients, opt.Engine, opt.Import, opt.ImportKill, opt.Timeout = 12_000, "sqlite", true, []float64{0.3}, 3*time.Minute
	var stdout, stderr bytes.Buffer
	if err := benchCrash(ctx, opt, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
	}
	line := strings.TrimSpace(stdout.String())
	t.Log(line)
	if !strings.Contains(line, "kill@first-visible:12000→12000") {
		t.Fatalf("the kill at the first visible row did not leave all 12 000: %s", line)
	}
}
