package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"
)

// Local is the in-process Limiter: one GCRA bucket per key (the
// same algorithm store/redis runs across nodes). GCRA keeps a theoretical
// arrival time (TAT) per key instead of a token count; reserving a turn
// moves the TAT on by one interval, so turns are spaced exactly 1/rate
// apart whenever their holders actually go: the rate is held without the
// drift of a ticker, a refill loop or a caller's late timer.
type Local struct {
	mu    sync.Mutex
	tat   map[string]time.Time // theoretical arrival time of the next event per key
	now   func() time.Time
	sweep time.Time
}

var _ Limiter = (*Local)(nil)

// NewLocal returns an empty limiter on the real clock.
func NewLocal() *Local {
	return &Local{tat: map[string]time.Time{}, now: time.Now}
}

// Take implements Limiter. A Limit with Rate ≤ 0 admits everything.
func (l *Local) Take(_ context.Context, key string, lim Limit, maxWait time.Duration) (time.Duration, error) {
	if lim.Rate <= 0 || math.IsInf(lim.Rate, 1) {
		return 0, nil
	}
	interval := time.Duration(float64(time.Second) / lim.Rate)
	tolerance := time.Duration(lim.BurstSize()-1) * interval
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	tat, ok := l.tat[key]
	if !ok || tat.Before(now) {
		tat = now
	}
	wait := max(0, tat.Sub(now)-tolerance)
	if wait > maxWait {
		return wait, nil
	}
	l.tat[key] = tat.Add(interval)
	l.gc(now)
	return wait, nil
}

// BurstSize is Burst, or when that is ≤ 0 a twentieth of a second's worth
// (at least 1): enough to absorb scheduling jitter without exceeding a
// provider's own short-window checks. Both limiters use it.
func (lim Limit) BurstSize() int {
	if lim.Burst > 0 {
		return lim.Burst
	}
	return max(1, int(math.Ceil(lim.Rate/20)))
}

// gc drops keys whose buckets are full again, at most once a minute, so
// per-address keys (Slack channels, subscribe IPs) do not pile up.
func (l *Local) gc(now time.Time) {
	if now.Sub(l.sweep) < time.Minute {
		return
	}
	l.sweep = now
	for k, t := range l.tat {
		if t.Before(now.Add(-time.Hour)) {
			delete(l.tat, k)
		}
	}
}
