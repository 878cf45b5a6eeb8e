package quietlog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestLine: a message repeated a thousand times in a burst is written
// once, and the next line written says how many were left out.
func TestLine(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var q Line
	for range 1000 {
		q.Log(log, slog.LevelWarn, "rate limiter", "err", "connection refused")
	}
	if n := strings.Count(buf.String(), "rate limiter"); n != 1 {
		t.Fatalf("%d lines for a burst of 1000, want 1:\n%s", n, buf.String())
	}
	q.last.Store(0) // as if Every had passed
	if !q.Log(log, slog.LevelWarn, "rate limiter", "err", "connection refused") {
		t.Error("Log did not report the line it wrote")
	}
	if !strings.Contains(buf.String(), "suppressed=999") {
		t.Errorf("the next line does not say how many were left out:\n%s", buf.String())
	}
}
