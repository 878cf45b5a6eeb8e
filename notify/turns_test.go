package notify

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/ratelimit"
	"github.com/heraldhq/herald/store/enginetest"
)

// countingLimiter counts the calls to a real limiter.
type countingLimiter struct {
	ratelimit.Limiter
	calls atomic.Int64
}

func (c *countingLimiter) Take(ctx context.Context, key string, l ratelimit.Limit, maxWait time.Duration) (time.Duration, error) {
	c.calls.Add(1)
	return c.Limiter.Take(ctx, key, l, maxWait)
}

// With the shared (Redis) limiter, a node's workers take their turns from
// batches it reserves: a tenth of the round trips, and still no more than
// the rate, whichever worker goes.
func TestTakeBatchedHoldsTheRate(t *testing.T) {
	db := enginetest.Redis(t, "turns")
	lim := &countingLimiter{Limiter: db.Limiter()}
	s := &Service{lim: lim, log: slog.New(slog.NewTextHandler(io.Discard, nil)), turns: map[string]*turns{}}
	l := ratelimit.Limit{Rate: 1000}
	if n := turnBatch(l); n != 10 {
		t.Fatalf("turnBatch(1000/s) = %d, want 10", n)
	}
	const total, workers = 600, 8
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= total {
				if err := s.take(context.Background(), "channel:sms", l); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	// The bucket lets a burst of 50 (a twentieth of a second) go at once;
	// the rest wait their turns: at least (600-50)/1000 s.
	if floor := time.Duration(total-l.BurstSize()) * time.Second / 1000; elapsed < floor-20*time.Millisecond {
		t.Errorf("%d turns in %s: faster than %v/s allows (at least %s)", total, elapsed, l.Rate, floor)
	}
	if c := lim.calls.Load(); c > total/10+workers {
		t.Errorf("%d limiter calls for %d turns, want about %d", c, total, total/10)
	}
	// A second node (another Service on the same Redis) shares the limit.
	s2 := &Service{lim: lim, log: s.log, turns: map[string]*turns{}}
	before := time.Now()
	for range 100 {
		if err := s2.take(context.Background(), "channel:sms", l); err != nil {
			t.Fatal(err)
		}
		if err := s.take(context.Background(), "channel:sms", l); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(before); took < 150*time.Millisecond {
		t.Errorf("two nodes took 200 turns in %s: the limit of 1000/s is not shared", took)
	}
}
