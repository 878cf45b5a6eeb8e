package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/heraldhq/herald/ratelimit"
	goredis "github.com/redis/go-redis/v9"
)

// gcraScript is the generic cell rate algorithm (as in go-redis/redis_rate)
// on one key holding the bucket's theoretical arrival time (TAT) in µs.
// KEYS[1]: the bucket. ARGV: emission interval µs (1/rate), burst, the
// longest wait µs the caller reserves a turn for (see ratelimit.Limiter).
// It reads the time from Redis (TIME), so every node judges by one clock.
// Returns the µs until the caller's turn; the TAT moves on when that is
// within the reservation window.
var gcraScript = goredis.NewScript(`
local interval, burst, maxWait = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local newTat = tat + interval
local wait = newTat - burst * interval - now
if wait < 0 then wait = 0 end
if wait > maxWait then return wait end
redis.call('SET', KEYS[1], string.format('%d', newTat), 'PX', math.ceil((newTat - now) / 1000) + 1)
return wait
`)

// Limiter holds rate limits in Redis, shared by every node: one GCRA
// bucket per key, updated by one script call per Take.
type Limiter struct {
	db *DB
}

var _ ratelimit.Limiter = (*Limiter)(nil)

// Limiter returns a ratelimit.Limiter whose buckets every node that uses the
// same Redis and prefix shares.
func (db *DB) Limiter() *Limiter { return &Limiter{db: db} }

// Take implements ratelimit.Limiter. A limit with no rate allows everything.
func (l *Limiter) Take(ctx context.Context, key string, lim ratelimit.Limit, maxWait time.Duration) (time.Duration, error) {
	if lim.Rate <= 0 || math.IsInf(lim.Rate, 1) {
		return 0, nil
	}
	interval := int64(math.Round(1e6 / lim.Rate))
	if interval < 1 {
		interval = 1
	}
	wait, err := gcraScript.Run(ctx, l.db.client, []string{l.db.keys.rate(rateKey(key))}, interval, lim.BurstSize(), maxWait.Microseconds()).Int64()
	if err != nil {
		return 0, fmt.Errorf("redis: rate limit: %w", err)
	}
	return time.Duration(wait) * time.Microsecond, nil
}

// rateKey keeps a bucket name inside its hash tag: a name with braces is
// replaced by its hash.
func rateKey(key string) string {
	if !strings.ContainsAny(key, "{}") {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}
