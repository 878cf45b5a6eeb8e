package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/queue"
)

var _ queue.AutoReplies = (*DB)(nil)

// takeAutoReplyScript counts an address's automatic answers in a rolling
// window, in one step on every node. KEYS[1] is the address's set. ARGV:
// the answer's ID, now ms, window ms, max. It returns 1 when the answer
// may go (newly recorded, or recorded already), 0 when the address had
// max answers within the window.
var takeAutoReplyScript = goredis.NewScript(`
local now, window = tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], window)
return 1
`)

// TakeAutoReply implements queue.AutoReplies with takeAutoReplyScript.
// The set expires a window after its newest answer, so an address that
// writes no more leaves nothing behind.
func (db *DB) TakeAutoReply(ctx context.Context, key, id string, now time.Time, window time.Duration, max int) (bool, error) {
	if err := queue.CheckAutoReply(key, id, window, max); err != nil {
		return false, err
	}
	n, err := takeAutoReplyScript.Run(ctx, db.client, []string{db.keys.autoReply(key)}, id, ms(now), window.Milliseconds(), max).Int()
	if err != nil {
		return false, fmt.Errorf("redis: take auto reply: %w", err)
	}
	return n == 1, nil
}
