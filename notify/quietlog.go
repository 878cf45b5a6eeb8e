package notify

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// quietLog logs one message at most once per interval, with how many it
// left out since: a store or Redis that is down for a few seconds makes
// every worker fail on every try (about 90 lines a second a node), which
// buries the one line that says what is wrong. The zero value is ready.
type quietLog struct {
	last    atomic.Int64 // Unix ns of the last line written
	skipped atomic.Int64
}

// quietEvery is how often a quietLog writes its message at most.
const quietEvery = 5 * time.Second

// log writes msg at level unless it wrote within quietEvery; the line
// says how many were left out before it ("suppressed").
func (q *quietLog) log(log *slog.Logger, level slog.Level, msg string, args ...any) {
	now := time.Now().UnixNano()
	last := q.last.Load()
	if now-last < int64(quietEvery) || !q.last.CompareAndSwap(last, now) {
		q.skipped.Add(1)
		return
	}
	if n := q.skipped.Swap(0); n > 0 {
		args = append(args, "suppressed", n)
	}
	log.Log(context.Background(), level, msg, args...)
}
