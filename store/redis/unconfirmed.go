package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/queue"
)

// FindUnconfirmed implements queue.Store from the unconfirmed sorted set
// (keys.go). An entry whose delivery is gone or no longer sent (a receipt
// raced the read) is dropped from the set and skipped.
func (db *DB) FindUnconfirmed(ctx context.Context, before time.Time, limit int) ([]*queue.Delivery, error) {
	if limit <= 0 {
		limit = 100
	}
	ids, err := db.client.ZRangeArgs(ctx, goredis.ZRangeArgs{Key: db.keys.unconfirmed(), ByScore: true,
		Start: "-inf", Stop: strconv.FormatInt(ms(before), 10), Count: int64(limit)}).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: find unconfirmed: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := db.client.Pipeline()
	cmds := make([]*goredis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, db.keys.delivery(id))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("redis: find unconfirmed: %w", err)
	}
	var out []*queue.Delivery
	var stale []any
	for i, c := range cmds {
		m := c.Val()
		if len(m) == 0 {
			stale = append(stale, ids[i])
			continue
		}
		d, err := decodeDelivery(m)
		if err != nil {
			return nil, err
		}
		if d.State != queue.StateSent || d.Kind != channel.SMS {
			stale = append(stale, ids[i])
			continue
		}
		out = append(out, d)
	}
	if len(stale) > 0 {
		if err := db.client.ZRem(ctx, db.keys.unconfirmed(), stale...).Err(); err != nil {
			return nil, fmt.Errorf("redis: find unconfirmed: %w", err)
		}
	}
	return out, nil
}

// RecheckUnconfirmed implements queue.Store. XX: a delivery a receipt has
// taken out of the set meanwhile is not put back.
func (db *DB) RecheckUnconfirmed(ctx context.Context, ids []string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	members := make([]any, len(ids))
	for i, id := range ids {
		members[i] = id
	}
	var err error
	if at.IsZero() {
		err = db.client.ZRem(ctx, db.keys.unconfirmed(), members...).Err()
	} else {
		zs := make([]goredis.Z, len(ids))
		for i, id := range ids {
			zs[i] = goredis.Z{Score: float64(ms(at)), Member: id}
		}
		err = db.client.ZAddXX(ctx, db.keys.unconfirmed(), zs...).Err()
	}
	if err != nil {
		return fmt.Errorf("redis: recheck unconfirmed: %w", err)
	}
	return nil
}
