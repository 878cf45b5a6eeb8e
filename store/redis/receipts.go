package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// Receipts kept for provider IDs no delivery has yet: a provider can call
// back before the dispatcher's batched finish writes the ID it was given.
// Each is one string key holding "<expires ms>:<JSON>" with a TTL, so
// Redis drops the ones never taken by itself.

// keepReceiptScript keeps a receipt unless its provider ID holds one that
// has not expired at now (by the caller's clock, which the TTL alone
// cannot judge). KEYS[1] is the receipt's key. ARGV: value, now ms, TTL ms.
// It returns 1 when the receipt was kept.
var keepReceiptScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local expires = tonumber(string.match(cur, '^(%d+):'))
  if expires and expires > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
`)

// takeReceiptsScript returns and deletes the receipts kept for the
// provider IDs ARGV[2..]; ARGV[1] is the receipt key prefix, KEYS[1] only
// names the slot. When none is kept it only reads.
var takeReceiptsScript = goredis.NewScript(`
local out = {}
for i = 2, #ARGV do
  local k = ARGV[1] .. ARGV[i]
  local v = redis.call('GET', k)
  if v then
    redis.call('DEL', k)
    out[#out + 1] = v
  end
end
return out
`)

// KeepReceipt implements notify.Store with keepReceiptScript.
func (db *DB) KeepReceipt(ctx context.Context, r queue.PendingReceipt, now time.Time) error {
	if r.ProviderID == "" {
		return incident.Invalid("provider_id", "a kept receipt needs a provider ID")
	}
	switch r.State {
	case queue.StateDelivered, queue.StateUndelivered, queue.StateFailed:
	default:
		return incident.Invalid("state", "a kept receipt says delivered, undelivered or failed, not %q", r.State)
	}
	ttl := r.Expires.Sub(now).Milliseconds()
	if ttl <= 0 {
		return nil
	}
	r.At, r.Expires = utcMS(r.At), utcMS(r.Expires)
	doc, err := encode(r)
	if err != nil {
		return err
	}
	if err := keepReceiptScript.Run(ctx, db.client, []string{db.keys.receipt(r.ProviderID)},
		msString(r.Expires)+":"+doc, msString(now), ttl).Err(); err != nil {
		return fmt.Errorf("redis: keep receipt: %w", err)
	}
	return nil
}

// TakeReceipts implements notify.Store with takeReceiptsScript, a chunk
// of IDs per call.
func (db *DB) TakeReceipts(ctx context.Context, providerIDs []string, now time.Time) ([]queue.PendingReceipt, error) {
	var out []queue.PendingReceipt
	for len(providerIDs) > 0 {
		chunk := providerIDs[:min(len(providerIDs), maxScriptDeliveries)]
		providerIDs = providerIDs[len(chunk):]
		args := make([]any, 0, 1+len(chunk))
		args = append(args, db.keys.receiptsPrefix())
		for _, id := range chunk {
			args = append(args, id)
		}
		vals, err := takeReceiptsScript.Run(ctx, db.client, []string{db.keys.receipt(chunk[0])}, args...).StringSlice()
		if err != nil {
			return out, fmt.Errorf("redis: take receipts: %w", err)
		}
		for _, v := range vals {
			exp, doc, ok := strings.Cut(v, ":")
			expires, perr := strconv.ParseInt(exp, 10, 64)
			if !ok || perr != nil {
				return out, fmt.Errorf("redis: malformed kept receipt %q", v)
			}
			if expires <= ms(now) {
				continue
			}
			var r queue.PendingReceipt
			if err := json.Unmarshal([]byte(doc), &r); err != nil {
				return out, fmt.Errorf("redis: decode kept receipt: %w", err)
			}
			r.At, r.Expires = r.At.UTC(), r.Expires.UTC()
			out = append(out, r)
		}
	}
	return out, nil
}
