package redis

import (
	"context"
	"fmt"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// planIDs is the set of delivery IDs waiting in the chunks of one plan's
// update, held by the planner that holds the plan's lease, so that a plan
// batch skips a repeated ID (two customers sharing a phone, in different
// batches) without asking Redis about each ID (SMISMEMBER on the set of
// waiting IDs cost Redis about 0.7 µs of its one CPU a delivery). An ID
// expanded since is stored, and the batch script's ZMSCORE on the
// deliveries index catches it. The set is built from the update's stored
// chunks when the lease is new to this process (another planner took the
// plan over, or this one after losing it), and dropped when a batch fails
// in a way that may have written it.
//
// A queue.DeliveryID's 24 hex digits are kept as 8 + 4 bytes in an open
// addressing table (linear probing, at most three quarters full): 16 to 32
// bytes an ID, one or two cache misses a lookup, and nothing for the
// garbage collector to scan. SQLite's sorted arrays (store/sqlite) take 14
// bytes but cost about three times the CPU here, where the planner's CPU
// is half of planning's. Any other ID, and one whose first 8 bytes are 0,
// goes in more.
type planIDs struct {
	lease   string
	updates map[string]bool // the updates whose waiting chunks are in
	hi      []uint64        // 0: a free slot
	lo      []uint32
	n       int
	more    map[string]struct{}
}

func newPlanIDs(lease string) *planIDs {
	return &planIDs{lease: lease, updates: map[string]bool{}, more: map[string]struct{}{}}
}

// idKey decodes a queue.DeliveryID (24 lower-case hex digits) into its 8 +
// 4 bytes; ok is false for any other ID.
func idKey(id string) (hi uint64, lo uint32, ok bool) {
	if len(id) != 24 {
		return 0, 0, false
	}
	var v [2]uint64
	for i := 0; i < 24; i++ {
		d := hexValue[id[i]]
		if d < 0 {
			return 0, 0, false // upper-case digits too: kept as text, exactly
		}
		v[i/16] = v[i/16]<<4 | uint64(d)
	}
	return v[0], uint32(v[1]), true
}

// hexValue maps a lower-case hex digit to its value, any other byte to -1.
var hexValue = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i, c := range "0123456789abcdef" {
		t[c] = int8(i)
	}
	return t
}()

// insert adds id and reports whether it was new.
func (s *planIDs) insert(id string) bool {
	hi, lo, ok := idKey(id)
	if !ok || hi == 0 {
		if _, ok := s.more[id]; ok {
			return false
		}
		s.more[id] = struct{}{}
		return true
	}
	if (s.n+1)*4 > len(s.hi)*3 {
		s.grow()
	}
	return s.put(hi, lo)
}

// put adds hi, lo to the table, which has room, and reports whether it was
// new. The IDs are hashes already: their bits pick the slot.
func (s *planIDs) put(hi uint64, lo uint32) bool {
	mask := uint64(len(s.hi) - 1)
	for i := hi & mask; ; i = (i + 1) & mask {
		switch s.hi[i] {
		case 0:
			s.hi[i], s.lo[i] = hi, lo
			s.n++
			return true
		case hi:
			if s.lo[i] == lo {
				return false
			}
		}
	}
}

// grow doubles the table (4096 slots at first) and puts the keys back.
func (s *planIDs) grow() {
	oldHi, oldLo := s.hi, s.lo
	size := max(4096, 2*len(oldHi))
	s.hi, s.lo, s.n = make([]uint64, size), make([]uint32, size), 0
	for i, hi := range oldHi {
		if hi != 0 {
			s.put(hi, oldLo[i])
		}
	}
}

// planSets holds the planIDs of the plans this process plans, by
// broadcast.
type planSets struct {
	mu   sync.Mutex
	sets map[string]*planIDs
}

// chunkIDsScript returns the IDs of the deliveries in the chunks named in
// ARGV[2..] (gone ones are skipped: their deliveries are stored). KEYS[1]
// (the update's chunk set) names the slot; ARGV[1] is the {global} prefix.
var chunkIDsScript = goredis.NewScript(chunkLua + `
local out = {}
for i = 2, #ARGV do
  local s = redis.call('GET', ARGV[1] .. 'pc:' .. ARGV[i])
  if s then
    local a = cmsgpack.unpack(s)
    for j = 1, #a, chunkStride do out[#out + 1] = a[j] end
  end
end
return out
`)

// planSet returns the ID set of broadcast bid's plan for lease: a new one
// when the lease is not the one it was built for.
func (db *DB) planSet(bid, lease string) *planIDs {
	db.plans.mu.Lock()
	defer db.plans.mu.Unlock()
	s := db.plans.sets[bid]
	if s != nil && s.lease == lease {
		return s
	}
	s = newPlanIDs(lease)
	if db.plans.sets == nil {
		db.plans.sets = map[string]*planIDs{}
	}
	db.plans.sets[bid] = s
	return s
}

// loadUpdate adds to s the IDs waiting in the chunks of update, once per
// set: a plan's deliveries are of its broadcast's update, so this reads
// the chunks earlier planners of the plan wrote (none for a new plan).
func (db *DB) loadUpdate(ctx context.Context, s *planIDs, update string) error {
	if s.updates[update] {
		return nil
	}
	key := db.keys.updateChunks(update)
	cids, err := db.client.SMembers(ctx, key).Result()
	if err != nil {
		return fmt.Errorf("redis: plan IDs of update %s: %w", update, err)
	}
	for len(cids) > 0 {
		n := min(len(cids), 16)
		args := make([]any, 0, n+1)
		args = append(args, db.globalPrefix())
		for _, c := range cids[:n] {
			args = append(args, c)
		}
		cids = cids[n:]
		ids, err := chunkIDsScript.Run(ctx, db.client, []string{key}, args...).StringSlice()
		if err != nil {
			return fmt.Errorf("redis: plan IDs of update %s: %w", update, err)
		}
		for _, id := range ids {
			s.insert(id)
		}
	}
	s.updates[update] = true
	return nil
}

// forgetPlanSet drops a plan's ID set: its planning ended, or a batch
// failed and may have been written.
func (db *DB) forgetPlanSet(bid string) {
	db.plans.mu.Lock()
	delete(db.plans.sets, bid)
	db.plans.mu.Unlock()
}
