package redis

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/queue"
)

// The report's counters: when deliveries reached their timed states (kept
// by finishScript and statusScript in queue.go) and the complaint tallies
// (kept by the save script in complaints.go). Each read is one HGETALL.

// DeliveryTimes implements queue.Store.
func (db *DB) DeliveryTimes(ctx context.Context, broadcastID string) ([]queue.TimeCount, error) {
	m, err := db.client.HGetAll(ctx, db.keys.deliveryTimes(broadcastID)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: delivery times: %w", err)
	}
	out := make([]queue.TimeCount, 0, len(m))
	for f, v := range m {
		n, _ := strconv.Atoi(v)
		parts := strings.SplitN(f, ":", 3)
		if n == 0 || len(parts) != 3 {
			continue
		}
		b, err := strconv.ParseInt(parts[2], 10, 64)
		if err != nil {
			continue
		}
		out = append(out, queue.TimeCount{Kind: channel.Kind(parts[0]), State: queue.DeliveryState(parts[1]),
			At: time.UnixMilli(b * queue.TimeBucket.Milliseconds()).UTC(), N: n})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.At.Equal(b.At) {
			return a.At.Before(b.At)
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.State < b.State
	})
	return out, nil
}

// ComplaintTally implements complaint.Store.
func (db *DB) ComplaintTally(ctx context.Context, pageID, scope string) (complaint.Tally, error) {
	m, err := db.client.HGetAll(ctx, db.keys.complaintTally(pageID, scope)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: complaint tally: %w", err)
	}
	t := complaint.Tally{}
	for f, v := range m {
		if n, _ := strconv.Atoi(v); n != 0 {
			t[f] = n
		}
	}
	return t, nil
}
