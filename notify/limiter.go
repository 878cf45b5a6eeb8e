package notify

import (
	"context"
	"math"
	"sync"
	"time"
)

// LocalLimiter is the in-process Limiter: one GCRA bucket per key (the
// same algorithm store/redis runs across nodes). GCRA keeps a theoretical
// arrival time per key instead of a token count, so a caller told to wait
// d and coming back after d is admitted exactly then: the rate is held
// precisely, without the drift of a ticker or a refill loop.
type LocalLimiter struct {
	mu    sync.Mutex
	tat   map[string]time.Time // theoretical arrival time of the next event per key
	now   func() time.Time
	sweep time.Time
}

var _ Limiter = (*LocalLimiter)(nil)

// NewLocalLimiter returns an empty limiter on the real clock.
func NewLocalLimiter() *LocalLimiter {
	return &LocalLimiter{tat: map[string]time.Time{}, now: time.Now}
}

// Take implements Limiter. A Limit with Rate ≤ 0 admits everything; a
// Burst ≤ 0 means a twentieth of a second's worth (at least 1), which absorbs
// timer lateness without exceeding a provider's own short-window checks.
func (l *LocalLimiter) Take(_ context.Context, key string, lim Limit) (time.Duration, error) {
	if lim.Rate <= 0 || math.IsInf(lim.Rate, 1) {
		return 0, nil
	}
	burst := lim.Burst
	if burst <= 0 {
		burst = int(math.Ceil(lim.Rate / 20))
	}
	if burst < 1 {
		burst = 1
	}
	interval := time.Duration(float64(time.Second) / lim.Rate)
	tolerance := time.Duration(burst-1) * interval
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	tat, ok := l.tat[key]
	if !ok || tat.Before(now) {
		tat = now
	}
	if wait := tat.Sub(now) - tolerance; wait > 0 {
		return wait, nil
	}
	l.tat[key] = tat.Add(interval)
	l.gc(now)
	return 0, nil
}

// gc drops keys whose buckets are full again, at most once a minute, so
// per-address keys (Slack channels, subscribe IPs) do not pile up.
func (l *LocalLimiter) gc(now time.Time) {
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
