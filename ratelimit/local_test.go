package ratelimit

import (
	"context"
	"testing"
	"time"
)

// TestLocalLimiterRate checks that callers who wait as told are admitted
// at the configured rate, with the burst up front.
func TestLocalLimiterRate(t *testing.T) {
	l := NewLocal()
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	lim := Limit{Rate: 50, Burst: 5}
	admitted := 0
	end := now.Add(10 * time.Second)
	for now.Before(end) {
		wait, err := l.Take(context.Background(), "k", lim, 0)
		if err != nil {
			t.Fatal(err)
		}
		if wait == 0 {
			admitted++
			continue
		}
		now = now.Add(wait)
	}
	if admitted < 500 || admitted > 505 {
		t.Errorf("admitted %d in 10 s at 50/s with burst 5, want 500..505", admitted)
	}
	if w, _ := l.Take(context.Background(), "other", lim, 0); w != 0 {
		t.Errorf("keys share a bucket")
	}
}

// TestLocalLimiterReserve: turns reserved within maxWait are spaced exactly
// one interval apart whenever their holders go, so callers who reserve
// ahead hold the rate even when their timers fire late; a turn beyond
// maxWait is not taken.
func TestLocalLimiterReserve(t *testing.T) {
	l := NewLocal()
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	lim := Limit{Rate: 100, Burst: 1} // 10 ms apart
	for i := 0; i < 5; i++ {
		wait, err := l.Take(context.Background(), "k", lim, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if want := time.Duration(i) * 10 * time.Millisecond; wait != want {
			t.Fatalf("reservation %d: wait %v, want %v", i, wait, want)
		}
	}
	// The next turn is 50 ms away: a plain check takes nothing.
	if wait, _ := l.Take(context.Background(), "k", lim, 0); wait != 50*time.Millisecond {
		t.Fatalf("check: wait %v, want 50ms", wait)
	}
	if wait, _ := l.Take(context.Background(), "k", lim, 0); wait != 50*time.Millisecond {
		t.Fatalf("a refused check moved the turn: wait %v, want 50ms", wait)
	}
}
