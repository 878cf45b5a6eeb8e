package redis

import (
	"context"
	"fmt"
	"math/bits"
	"slices"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// planIDs is the set of delivery IDs waiting in the chunks of one plan's
// update, held by the planner that holds the plan's lease, so that a plan
// batch skips a repeated ID (two customers sharing a phone, in different
// batches) without a Redis set of every waiting ID, which cost Redis about
// 1.4 µs of its one CPU a delivery (SMISMEMBER and SADD) and 100 bytes or
// more of memory each. An ID expanded since is stored, and the batch
// script's ZMSCORE on the deliveries index catches it. The set is built
// from the update's stored chunks when the lease is new to this process
// (another planner took the plan over, or this one after losing it), and
// forgotten when a batch fails in a way that may have written it.
//
// It is SQLite's planIDs (store/sqlite/chunks.go) for Redis's keys: a
// queue.DeliveryID's 24 hex digits are kept as 8 + 4 bytes in two sorted
// arrays with a directory, the keys added since the last merge in a small
// map beside them (about 14 bytes an ID); any other ID goes in more.
type planIDs struct {
	lease   string
	updates map[string]bool // the updates whose waiting chunks are in
	hi      []uint64
	lo      []uint32
	dir     []uint32
	bits    uint
	delta   map[uint64]uint32
	more    map[string]struct{}
}

const minMerge = 4096

func newPlanIDs(lease string) *planIDs {
	return &planIDs{lease: lease, updates: map[string]bool{}, delta: map[uint64]uint32{}, more: map[string]struct{}{}}
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

func (s *planIDs) front(hi uint64) (uint32, bool) {
	if lo, ok := s.delta[hi]; ok {
		return lo, true
	}
	if len(s.hi) == 0 {
		return 0, false
	}
	b := hi >> (64 - s.bits)
	from, to := int(s.dir[b]), int(s.dir[b+1])
	if i, ok := slices.BinarySearch(s.hi[from:to], hi); ok {
		return s.lo[from+i], true
	}
	return 0, false
}

// insert adds id and reports whether it was new.
func (s *planIDs) insert(id string) bool {
	hi, lo, ok := idKey(id)
	if !ok {
		if _, ok := s.more[id]; ok {
			return false
		}
		s.more[id] = struct{}{}
		return true
	}
	if v, ok := s.front(hi); !ok {
		s.delta[hi] = lo
		if len(s.delta) >= max(minMerge, len(s.hi)/16) {
			s.merge()
		}
		return true
	} else if v == lo {
		return false
	}
	if _, ok := s.more[id]; ok {
		return false
	}
	s.more[id] = struct{}{}
	return true
}

// merge moves the map's keys into the sorted arrays, from the back, in
// place, and rebuilds the directory.
func (s *planIDs) merge() {
	add := make([]uint64, 0, len(s.delta))
	for hi := range s.delta {
		add = append(add, hi)
	}
	slices.Sort(add)
	i, j := len(s.hi)-1, len(add)-1
	s.hi = slices.Grow(s.hi, len(add))[:len(s.hi)+len(add)]
	s.lo = slices.Grow(s.lo, len(add))[:len(s.lo)+len(add)]
	for k := len(s.hi) - 1; j >= 0; k-- {
		if i >= 0 && s.hi[i] > add[j] {
			s.hi[k], s.lo[k] = s.hi[i], s.lo[i]
			i--
		} else {
			s.hi[k], s.lo[k] = add[j], s.delta[add[j]]
			j--
		}
	}
	clear(s.delta)
	s.bits = uint(max(1, bits.Len(uint(len(s.hi)/16))))
	n := 1 << s.bits
	if cap(s.dir) < n+1 {
		s.dir = make([]uint32, n+1)
	}
	s.dir = s.dir[:n+1]
	k := 0
	for b := range n {
		for k < len(s.hi) && s.hi[k]>>(64-s.bits) < uint64(b) {
			k++
		}
		s.dir[b] = uint32(k)
	}
	s.dir[n] = uint32(len(s.hi))
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
