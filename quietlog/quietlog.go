// Package quietlog writes a log line that repeats at most once per
// interval, with how many it left out since: a store or Redis that is down
// for a few seconds makes every worker fail on every try (about 90 lines a
// second a node), which buries the one line that says what is wrong. The
// fan-out's claims, the planner, the maintenance ticker and go-redis's own
// lines all go through it. Standard library only, so any package may use it.
package quietlog

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// Every is how often a Line writes its message at most.
const Every = 5 * time.Second

// Line is one repeating log line. The zero value is ready; a Line must not
// be copied after first use.
type Line struct {
	last    atomic.Int64 // Unix ns of the last line written
	skipped atomic.Int64
}

// Log writes msg at level unless this Line wrote within Every; the line
// says how many were left out before it ("suppressed"). It reports whether
// it wrote.
func (q *Line) Log(log *slog.Logger, level slog.Level, msg string, args ...any) bool {
	now := time.Now().UnixNano()
	last := q.last.Load()
	if now-last < int64(Every) || !q.last.CompareAndSwap(last, now) {
		q.skipped.Add(1)
		return false
	}
	if n := q.skipped.Swap(0); n > 0 {
		args = append(args, "suppressed", n)
	}
	log.Log(context.Background(), level, msg, args...)
	return true
}
