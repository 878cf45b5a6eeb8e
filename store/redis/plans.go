package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// The engine implements the data packages' interfaces, and so notify.Store,
// without importing the pipeline.
var (
	_ audience.Store = (*DB)(nil)
	_ queue.Store    = (*DB)(nil)
	_ queue.Secrets  = (*DB)(nil)
)

// A plan is one hash, <prefix>:{global}:plan:<broadcast ID>:
//
//	doc      the broadcast's JSON
//	state    pending, done or cancelled
//	cursor   where expansion stopped (opaque)
//	planned  deliveries written so far
//	lease    the current claim's fencing token ("" when free)
//	created  updated   ms
//
// While pending, its ID is in the pending-plans sorted set, scored by when
// it may next be claimed.

// newPlanFields lists the fields of a fresh plan, which commitScript writes
// with the broadcast itself.
func newPlanFields(broadcastDoc, createdMS string) [][2]string {
	return [][2]string{{"doc", broadcastDoc}, {"state", string(queue.PlanPending)}, {"cursor", ""},
		{"planned", "0"}, {"lease", ""}, {"created", createdMS}, {"updated", createdMS}}
}

// claimPlanScript leases the pending plan that has waited longest among
// those free now. KEYS: pending plans, lease counter. ARGV: now ms, lease
// end ms, {global} prefix. It returns {token, plan fields} or nil. IDs of
// plans that are no longer pending (or gone) are dropped on the way.
var claimPlanScript = goredis.NewScript(`
while true do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 10)
  if #ids == 0 then return false end
  for _, bid in ipairs(ids) do
    local pk = ARGV[3] .. 'plan:' .. bid
    if redis.call('HGET', pk, 'state') == 'pending' then
      local token = tostring(redis.call('INCR', KEYS[2]))
      redis.call('HSET', pk, 'lease', token)
      redis.call('ZADD', KEYS[1], ARGV[2], bid)
      return {token, redis.call('HGETALL', pk)}
    end
    redis.call('ZREM', KEYS[1], bid)
  end
end
`)

// savePlanBatchScript writes one step of a plan. KEYS: the plan, pending
// plans. ARGV: lease token, now ms, lease end ms, cursor, "1" when done,
// {global} prefix, broadcast ID, then the packed deliveries (planBatchLua).
// It returns how many deliveries were new, -1 when the lease was lost, -2
// when the plan is not pending (cancelled, done, or missing), and {-3,
// IDs...} when some IDs exist already, having written nothing.
var savePlanBatchScript = goredis.NewScript(insertLua + chunkLua + planBatchLua + `
local cur = redis.call('HMGET', KEYS[1], 'state', 'lease')
if cur[1] ~= 'pending' then return -2 end
if cur[2] ~= ARGV[1] then return -1 end
local new = planBatch(ARGV[6], ARGV, ARGV[7])
if type(new) == 'table' then return new end
redis.call('HINCRBY', KEYS[1], 'planned', new)
redis.call('HSET', KEYS[1], 'cursor', ARGV[4], 'updated', ARGV[2])
if ARGV[5] == '1' then
  redis.call('HSET', KEYS[1], 'state', 'done', 'lease', '')
  redis.call('ZREM', KEYS[2], ARGV[7])
else
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[7])
end
return new
`)

// cancelPlanScript marks a plan cancelled. KEYS: the plan, pending plans.
// ARGV: now ms, broadcast ID. Returns 0 when the plan does not exist.
var cancelPlanScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'state', 'cancelled', 'lease', '', 'updated', ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
`)

// cancelDeliveriesScript cancels the pending deliveries among ranks
// ARGV[2]..ARGV[3] of a broadcast's index (KEYS[1]); CancelPlan runs it a
// chunk at a time so that a broadcast of a million deliveries never holds
// Redis for long. ARGV: now ms, start, stop, {global} prefix, broadcast
// ID. Returns how many IDs the chunk held.
var cancelDeliveriesScript = goredis.NewScript(laneLua + `
local now, pfx, bid = ARGV[1], ARGV[4], ARGV[5]
local ids = redis.call('ZRANGE', KEYS[1], ARGV[2], ARGV[3])
local counts = {}
for _, id in ipairs(ids) do
  local dk = pfx .. 'd:' .. id
  local cur = redis.call('HMGET', dk, 's', 'k', 'y')
  if cur[1] == 'pending' then
    redis.call('HSET', dk, 's', 'cancelled', 'u', now)
    redis.call('ZREM', qkey(pfx, cur[2], cur[3], 'due'), id)
    counts[cur[2]] = (counts[cur[2]] or 0) + 1
  end
end
for kind, n in pairs(counts) do
  redis.call('HINCRBY', pfx .. 'progress:' .. bid, kind .. ':pending', -n)
  redis.call('HINCRBY', pfx .. 'progress:' .. bid, kind .. ':cancelled', n)
end
return #ids
`)

// ClaimPlan implements notify.Store with claimPlanScript.
func (db *DB) ClaimPlan(ctx context.Context, now time.Time, lease time.Duration) (*queue.Plan, error) {
	if lease <= 0 {
		return nil, incident.Invalid("lease", "lease must be positive, got %s", lease)
	}
	res, err := claimPlanScript.Run(ctx, db.client, []string{db.keys.pendingPlans(), db.keys.leaseSeq()},
		msString(now), msString(now.Add(lease)), db.globalPrefix()).Slice()
	if err == goredis.Nil {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("redis: claim plan: %w", err)
	}
	if len(res) != 2 {
		return nil, fmt.Errorf("redis: claim plan: unexpected reply %v", res)
	}
	fields, _ := res[1].([]any)
	m := make(map[string]string, len(fields)/2)
	for i := 0; i+1 < len(fields); i += 2 {
		k, _ := fields[i].(string)
		v, _ := fields[i+1].(string)
		m[k] = v
	}
	p, err := decodePlan(m)
	if err != nil {
		return nil, err
	}
	p.Lease, _ = res[0].(string)
	return p, nil
}

// SavePlanBatch implements notify.Store with savePlanBatchScript. A batch
// is one script call, so its deliveries, the cursor and the lease move
// together or not at all; batches above maxScriptDeliveries are refused
// rather than split, which would break that.
func (db *DB) SavePlanBatch(ctx context.Context, b *queue.PlanBatch, now time.Time, lease time.Duration) (int, error) {
	if b == nil || b.Plan == nil || b.Plan.Broadcast == nil {
		return 0, incident.Invalid("plan", "the batch names no plan")
	}
	if len(b.Deliveries) > maxScriptDeliveries {
		return 0, incident.Invalid("deliveries", "a plan batch holds at most %d deliveries, got %d", maxScriptDeliveries, len(b.Deliveries))
	}
	bid := b.Plan.Broadcast.ID
	for _, d := range b.Deliveries {
		if d != nil && d.BroadcastID != bid {
			return 0, incident.Invalid("delivery.broadcast_id", "delivery %q belongs to broadcast %q, not to plan %q", d.ID, d.BroadcastID, bid)
		}
	}
	for _, d := range b.Deliveries {
		if err := validDelivery(d); err != nil {
			return 0, err
		}
	}
	set := db.planSet(bid, b.Plan.Lease)
	for _, d := range b.Deliveries {
		if err := db.loadUpdate(ctx, set, d.UpdateID); err != nil {
			return 0, err
		}
	}
	// Each ID once, the first kept, as the script would count it, and
	// none that waits in a chunk already. The set takes the batch's IDs
	// now: should the batch fail, the set is dropped below.
	ds := make([]*queue.Delivery, 0, len(b.Deliveries))
	for _, d := range b.Deliveries {
		if set.insert(d.ID) {
			ds = append(ds, d)
		}
	}
	n, err := db.savePlanBatch(ctx, b, ds, now, lease)
	if err != nil || n < 0 {
		// A batch that failed may have been written all the same (a
		// reply lost): the next one builds the set again.
		db.forgetPlanSet(bid)
	}
	if err != nil {
		return 0, err
	}
	switch n {
	case -1:
		return 0, incident.Errorf(incident.ECONFLICT, "the lease on plan %q was lost to another planner", bid)
	case -2:
		return 0, incident.Errorf(incident.ECONFLICT, "plan %q is no longer pending (cancelled or done)", bid)
	}
	if b.Done {
		db.forgetPlanSet(bid)
	}
	b.Plan.Cursor = b.Cursor
	b.Plan.Planned += n
	if b.Done {
		b.Plan.State = queue.PlanDone
	}
	return n, nil
}

// savePlanBatch runs savePlanBatchScript for ds until no ID in it is
// known, and returns its answer: how many were new, or -1 or -2.
func (db *DB) savePlanBatch(ctx context.Context, b *queue.PlanBatch, ds []*queue.Delivery, now time.Time, lease time.Duration) (int, error) {
	bid := b.Plan.Broadcast.ID
	done := ""
	if b.Done {
		done = "1"
	}
	for {
		args := make([]any, 0, 8+len(ds)*2)
		args = append(args, b.Plan.Lease, msString(now), msString(now.Add(lease)), b.Cursor, done, db.globalPrefix(), bid)
		args, err := db.packPlanBatch(args, ds, now)
		if err != nil {
			return 0, err
		}
		res, err := savePlanBatchScript.Run(ctx, db.client, []string{db.keys.plan(bid), db.keys.pendingPlans()}, args...).Result()
		if err != nil {
			return 0, fmt.Errorf("redis: save plan batch: %w", err)
		}
		known, ok := res.([]any)
		if !ok {
			n, ok := res.(int64)
			if !ok {
				return 0, fmt.Errorf("redis: save plan batch: unexpected reply %v", res)
			}
			return int(n), nil
		}
		// Some IDs are stored already: nothing was written; save the
		// batch without them.
		drop := make(map[string]bool, len(known))
		for _, id := range known[1:] {
			s, _ := id.(string)
			drop[s] = true
		}
		kept := ds[:0]
		for _, d := range ds {
			if !drop[d.ID] {
				kept = append(kept, d)
			}
		}
		if len(kept) == len(ds) {
			return 0, fmt.Errorf("redis: save plan batch: unexpected reply %v", res)
		}
		ds = kept
	}
}

// FindPlan implements notify.Store.
func (db *DB) FindPlan(ctx context.Context, broadcastID string) (*queue.Plan, error) {
	m, err := db.client.HGetAll(ctx, db.keys.plan(broadcastID)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: find plan: %w", err)
	}
	if len(m) == 0 {
		return nil, incident.NotFound("plan", broadcastID)
	}
	return decodePlan(m)
}

// CancelPlan implements notify.Store: the plan is marked cancelled first
// (so no planner adds to it), then its pending deliveries are cancelled a
// chunk at a time. A delivery claimed meanwhile is being sent and finishes
// normally.
func (db *DB) CancelPlan(ctx context.Context, broadcastID string, now time.Time) error {
	k := db.keys
	ok, err := cancelPlanScript.Run(ctx, db.client, []string{k.plan(broadcastID), k.pendingPlans()}, msString(now), broadcastID).Int()
	if err != nil {
		return fmt.Errorf("redis: cancel plan: %w", err)
	}
	if ok == 0 {
		return incident.NotFound("plan", broadcastID)
	}
	// Deliveries still in chunks join the broadcast's index first.
	if err := db.expandChunks(ctx); err != nil {
		return err
	}
	const chunk = 1000
	for start := 0; ; start += chunk {
		n, err := cancelDeliveriesScript.Run(ctx, db.client, []string{k.broadcastDeliveries(broadcastID)},
			msString(now), start, start+chunk-1, db.globalPrefix(), broadcastID).Int()
		if err != nil {
			return fmt.Errorf("redis: cancel deliveries: %w", err)
		}
		if n < chunk {
			return nil
		}
	}
}

// Progress implements notify.Store from the counters the scripts keep: two
// hash reads, however large the broadcast.
func (db *DB) Progress(ctx context.Context, broadcastID string) (*queue.Progress, error) {
	pipe := db.client.Pipeline()
	planCmd := pipe.HGetAll(ctx, db.keys.plan(broadcastID))
	countCmd := pipe.HGetAll(ctx, db.keys.progress(broadcastID))
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("redis: progress: %w", err)
	}
	if len(planCmd.Val()) == 0 {
		return nil, incident.NotFound("plan", broadcastID)
	}
	p, err := decodePlan(planCmd.Val())
	if err != nil {
		return nil, err
	}
	pr := &queue.Progress{BroadcastID: broadcastID, IncidentID: p.Broadcast.IncidentID, Kind: p.Broadcast.Kind,
		State: p.State, Planned: p.Planned, Counts: map[channel.Kind]map[queue.DeliveryState]int{},
		Reasons: map[channel.Kind]map[string]int{}, CreatedAt: p.Broadcast.CreatedAt, UpdatedAt: msTime(planCmd.Val()["updated"])}
	for f, v := range countCmd.Val() {
		n, _ := strconv.Atoi(v)
		if n == 0 {
			continue
		}
		if rest, ok := strings.CutPrefix(f, "r:"); ok {
			kind, reason, _ := strings.Cut(rest, ":")
			if pr.Reasons[channel.Kind(kind)] == nil {
				pr.Reasons[channel.Kind(kind)] = map[string]int{}
			}
			pr.Reasons[channel.Kind(kind)][reason] = n
			continue
		}
		kind, state, _ := strings.Cut(f, ":")
		if pr.Counts[channel.Kind(kind)] == nil {
			pr.Counts[channel.Kind(kind)] = map[queue.DeliveryState]int{}
		}
		pr.Counts[channel.Kind(kind)][queue.DeliveryState(state)] = n
	}
	return pr, nil
}

// FindPlans implements notify.Store: the incident's broadcasts, in commit
// order, from the lookup commitScript keeps, with their plans.
func (db *DB) FindPlans(ctx context.Context, incidentID string) ([]*queue.Plan, error) {
	bs, err := db.FindBroadcasts(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	if len(bs) == 0 {
		return []*queue.Plan{}, nil
	}
	pipe := db.client.Pipeline()
	cmds := make([]*goredis.MapStringStringCmd, len(bs))
	for i, b := range bs {
		cmds[i] = pipe.HGetAll(ctx, db.keys.plan(b.ID))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("redis: find plans: %w", err)
	}
	out := make([]*queue.Plan, 0, len(bs))
	for _, c := range cmds {
		if len(c.Val()) == 0 {
			continue // a broadcast written before plans existed
		}
		p, err := decodePlan(c.Val())
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	// Oldest first by the broadcast's time; commit order breaks ties.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Broadcast.CreatedAt.Before(out[j].Broadcast.CreatedAt) })
	return out, nil
}

func decodePlan(m map[string]string) (*queue.Plan, error) {
	var b incident.Broadcast
	if err := json.Unmarshal([]byte(m["doc"]), &b); err != nil {
		return nil, fmt.Errorf("redis: decode plan: %w", err)
	}
	p := &queue.Plan{Broadcast: &b, State: queue.PlanState(m["state"]), Cursor: m["cursor"]}
	p.Planned, _ = strconv.Atoi(m["planned"])
	return p, nil
}
