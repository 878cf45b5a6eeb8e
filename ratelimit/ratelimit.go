// Package ratelimit holds provider and sign-up rate limits: the Limit, the
// Limiter interface, and Local, the in-process GCRA limiter; store/redis
// implements Limiter across nodes with the same algorithm. Standard library
// only.
package ratelimit

import (
	"context"
	"time"
)

// Limit is a rate: Rate events per second with bursts of up to Burst
// (≤ 0: see BurstSize).
type Limit struct {
	Rate  float64
	Burst int
}

// Limiter holds provider rate limits, on one node (Local) or across
// every node (store/redis, GCRA).
type Limiter interface {
	// Take takes one event from key's bucket if its turn comes within
	// maxWait from now, and returns how long until that turn (0: go now);
	// the caller then goes at its turn without asking again, so a sender
	// who reserves ahead holds the rate exactly however late its timer
	// fires. When the turn is further away than maxWait, Take takes nothing
	// and returns the wait (> maxWait): ask again later. maxWait 0 is a
	// plain check (sign-up limits): go now, or be told how long to wait.
	Take(ctx context.Context, key string, l Limit, maxWait time.Duration) (time.Duration, error)
}
