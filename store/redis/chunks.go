package redis

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/queue"
)

// Planned deliveries wait in chunks, as they do on SQLite: a plan batch
// writes each new pending delivery into a chunk of up to chunkSize
// deliveries of one channel and update, instead of a hash and four index
// entries of its own, which cost about 30 µs of Redis's one CPU a delivery
// (two million took a minute or more). A chunk is
//
//	<prefix>:{global}:pc:<n>        string  the deliveries' insertLua strings, MessagePack (cmsgpack)
//	<prefix>:{global}:pcs           zset    the chunks not yet expanded, by n
//	<prefix>:{global}:pc-seq        counter chunk numbers
//	<prefix>:{global}:chunked       set     the IDs of the deliveries in chunks
//	<prefix>:{global}:pcu:<update>  set     the chunks waiting with deliveries of an update
//	<prefix>:{global}:pc-up         hash    chunk number → update
//
// and it stands in its channel's due queue as the member "~<n>", scored by
// its earliest NextAt. The planner packs the chunks in Go
// (packPlanBatch); savePlanBatchScript stores them as they come and counts
// their deliveries as pending in their broadcast's progress and its plan,
// so Progress and Planned are exact from the start. Once-only holds across
// batches, phases and planners: an ID waiting in a chunk of the plan's
// update is left out by the planner, which holds the plan's ID set
// (planids.go, built from the update's chunks when it takes the plan
// over); an ID already stored (in the deliveries index) makes the script
// write nothing and name it, and SavePlanBatch saves the batch again
// without it. chunked is written, not read, by planning: it answers the
// lookups by ID (EnqueueDeliveries skips an ID in it, FindDeliveryByID and
// SetDeliveryStatus tell a waiting delivery from an unknown one) without
// expanding anything. Deliveries that are not pending (suppressed, failed)
// are written as before.
//
// A chunk becomes ordinary deliveries (expandLua: insertLua's writes,
// without counting again) in one atomic step, when
//   - claimScript meets its member in the due queue: the deliveries join
//     the due queue at their own scores and the claim takes them. The
//     member scores after every delivery due in the same millisecond, so
//     a claim meets it only once the deliveries expanded before are
//     taken, and chunks are expanded about as fast as they are sent (a
//     claim of 128 expands a chunk and takes half of it, the next takes
//     the rest). Scored among them by insertion order, each claim of 16
//     expanded about two chunks, and a rate-limited plan was expanded
//     whole long before it was sent;
//   - a read needs every delivery (FindDeliveries, CancelPlan, a
//     FindDeliveryByID of an ID in chunked): expandChunks expands every
//     chunk first, a few per script call. A read while a large plan waits
//     for a rate-limited channel therefore pays the writes the plan saved
//     once, and the reads after it nothing.
//
// Chunks written before pcu and pc-up are expanded as before (their IDs
// are in chunked); a planner taking over a plan does not see them in its
// ID set. Every key is in the {global} slot, like the queue, so each step
// is one script on Cluster too.
const chunkSize = 256

// chunkMarker starts a chunk's member in a due queue. Delivery IDs may not
// start with it (validDelivery).
const chunkMarker = "~"

// chunkLua is the part of the chunk scripts both need: the stride of a
// chunk's strings (chunkStride) and of insertLua's (insertStride).
var chunkLua = `
local chunkStride = ` + strconv.Itoa(chunkStride) + `
local insertStride = ` + strconv.Itoa(insertStride) + `
`

// planBatchLua is savePlanBatchScript's body after the lease check. The
// planner packs the chunks (packPlanBatch) and leaves out the IDs its plan
// set holds (planids.go); the script stores each chunk as it came and
// queues it, so Redis's one thread spends a few operations a chunk and a
// lookup and a set insert an ID, not a Lua loop over every delivery's
// strings. ARGV from 8: the number of chunks, then per chunk its kind,
// earliest NextAt ms, n, update ID, the MessagePack blob and its n IDs;
// then the deliveries that are not pending, as insertLua's strings. An ID
// already stored (in the deliveries index) makes the script write nothing
// and return {-3, the known IDs...}: the planner leaves them out and saves
// the batch again. It needs insertLua.
var planBatchLua = `
local function planBatch(pfx, a, bid)
  local nchunks = tonumber(a[8])
  local i = 9
  local chunks = {}
  for c = 1, nchunks do
    local n = tonumber(a[i + 2])
    chunks[c] = {kind = a[i], at = tonumber(a[i + 1]), n = n, up = a[i + 3], blob = i + 4}
    i = i + 5 + n
  end
  local direct = i
  local known = {}
  local function check(ids, from, to)
    local stored = redis.call('ZMSCORE', pfx .. 'deliveries', unpack(ids, from, to))
    for k = 1, to - from + 1 do
      if stored[k] then known[#known + 1] = ids[from + k - 1] end
    end
  end
  for _, c in ipairs(chunks) do check(a, c.blob + 1, c.blob + c.n) end
  local ids = {}
  for j = direct, #a, insertStride do ids[#ids + 1] = a[j] end
  for j = 1, #ids, 1000 do check(ids, j, math.min(j + 999, #ids)) end
  if #known > 0 then
    table.insert(known, 1, -3)
    return known
  end
  local new, pending = 0, {}
  if nchunks > 0 then
    local cid = redis.call('INCRBY', pfx .. 'pc-seq', nchunks) - nchunks
    local pcs, ups = {}, {}
    for _, c in ipairs(chunks) do
      cid = cid + 1
      local m = tostring(cid)
      redis.call('SET', pfx .. 'pc:' .. m, a[c.blob])
      -- A plan's deliveries are never replies: its chunks are the
      -- broadcast lane's. The member scores in the last slot of its
      -- millisecond (and '~' sorts after every ID on a tie), so a claim
      -- takes the deliveries already expanded that are due as early
      -- before it expands another chunk.
      redis.call('ZADD', qkey(pfx, c.kind, '', 'due'), string.format('%.0f', c.at * ` + scoreSlotsLua + ` + ` + scoreSlotsLua + ` - 1), '` + chunkMarker + `' .. m)
      redis.call('SADD', pfx .. 'pcu:' .. c.up, m)
      redis.call('SADD', pfx .. 'chunked', unpack(a, c.blob + 1, c.blob + c.n))
      pcs[#pcs + 1] = m
      pcs[#pcs + 1] = m
      ups[#ups + 1] = m
      ups[#ups + 1] = c.up
      pending[c.kind] = (pending[c.kind] or 0) + c.n
      new = new + c.n
    end
    redis.call('ZADD', pfx .. 'pcs', unpack(pcs))
    redis.call('HSET', pfx .. 'pc-up', unpack(ups))
  end
  for kind, n in pairs(pending) do
    redis.call('HINCRBY', pfx .. 'progress:' .. bid, kind .. ':pending', n)
  end
  if direct <= #a then new = new + insert(pfx, a, direct, 'plan') end
  return new
end
`

// packPlanBatch packs ds (checked, each ID once) for planBatchLua: the
// pending ones into chunks of up to chunkSize per channel and update, in
// order, the others as insertLua's strings.
func (db *DB) packPlanBatch(args []any, ds []*queue.Delivery, now time.Time) ([]any, error) {
	type group struct {
		kind   channel.Kind
		update string
	}
	type open struct {
		group
		at   int64
		blob []byte
		ids  []string
	}
	var (
		chunks  []*open
		byGroup = map[group]*open{}
		direct  []*queue.Delivery
		done    []*open
		rk      recipientKey
		buf     []byte
		err     error
	)
	for _, d := range ds {
		if d.State != "" && d.State != queue.StatePending {
			direct = append(direct, d)
			continue
		}
		g := group{d.Kind, d.UpdateID}
		c := byGroup[g]
		if c == nil {
			c = &open{group: g, at: math.MaxInt64, blob: make([]byte, 5, 160*1024)}
			byGroup[g] = c
			chunks = append(chunks, c)
		}
		var at int64
		if c.blob, buf, at, err = db.appendChunkDelivery(c.blob, buf, &rk, d, now); err != nil {
			return nil, err
		}
		if at < c.at {
			c.at = at
		}
		c.ids = append(c.ids, d.ID)
		if len(c.ids) == chunkSize {
			done = append(done, c)
			delete(byGroup, g)
		}
	}
	for _, c := range chunks {
		if byGroup[c.group] == c {
			done = append(done, c)
		}
	}
	args = append(args, len(done))
	for _, c := range done {
		// The array header: 0xdd and a 32-bit count, in the 5 bytes kept.
		n := len(c.ids) * chunkStride
		c.blob[0], c.blob[1], c.blob[2], c.blob[3], c.blob[4] = 0xdd, byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
		args = append(args, string(c.kind), c.at, len(c.ids), c.update, c.blob)
		for _, id := range c.ids {
			args = append(args, id)
		}
	}
	return db.insertArgs(args, direct, now)
}

// recipientKey remembers the last recipient's index key: a customer's
// deliveries (SMS, email) come one after another; and the last time
// written, which a batch's deliveries share.
type recipientKey struct {
	field, key string
	ms         int64
	msText     []byte
}

// appendMS appends ms in decimal as a MessagePack string.
func (rk *recipientKey) appendMS(blob []byte, ms int64) []byte {
	if rk.msText == nil || rk.ms != ms {
		rk.ms, rk.msText = ms, strconv.AppendInt(rk.msText[:0], ms, 10)
	}
	return appendMsgpackBytes(blob, rk.msText)
}

// appendChunkDelivery appends d's chunkStride strings for insertLua to a
// chunk's blob as MessagePack, as insertFields makes them (all but the
// lane: a plan's deliveries are never replies, render.KindForBroadcast)
// but without a string each: planning packs millions. buf is scratch space for the
// document, returned for reuse; at is d's NextAt in ms.
func (db *DB) appendChunkDelivery(blob, buf []byte, rk *recipientKey, d *queue.Delivery, now time.Time) (_, _ []byte, at int64, err error) {
	created := ms(d.CreatedAt)
	if d.CreatedAt.IsZero() {
		created = ms(now)
	}
	updated, at := created, created
	if !d.UpdatedAt.IsZero() {
		updated = ms(d.UpdatedAt)
	}
	if !d.NextAt.IsZero() {
		at = ms(d.NextAt)
	}
	buf, err = appendDeliveryDoc(buf[:0], &deliveryDoc{ID: d.ID, PageID: d.PageID, IncidentID: d.IncidentID, UpdateID: d.UpdateID, BroadcastID: d.BroadcastID,
		MessageKind: d.MessageKind, Kind: d.Kind, Address: d.Address, RecipientType: d.RecipientType, RecipientID: d.RecipientID,
		Name: d.Name, Language: d.Language, TimeZone: d.TimeZone, Critical: d.Critical, CreatedAt: created, Vars: d.Vars})
	if err != nil {
		return blob, buf, 0, err
	}
	var num [20]byte
	blob = appendMsgpackString(blob, d.ID)
	blob = appendMsgpackBytes(blob, buf)
	blob = appendMsgpackString(blob, string(queue.StatePending))
	blob = appendMsgpackBytes(blob, strconv.AppendInt(num[:0], int64(d.Attempts), 10))
	blob = rk.appendMS(blob, at)
	blob = appendMsgpackString(blob, string(d.Kind))
	blob = appendMsgpackString(blob, d.BroadcastID)
	blob = rk.appendMS(blob, created)
	blob = appendMsgpackString(blob, d.Address)
	blob = rk.appendMS(blob, updated)
	blob = appendMsgpackString(blob, d.Reason)
	blob = appendMsgpackString(blob, d.ErrorCode)
	// addressDeliveries, appended in place.
	sum := sha256.Sum256([]byte(d.Address))
	pfx := db.keys.prefix
	blob = appendMsgpackHeader(blob, len(pfx)+len(":{global}:da:")+len(d.Kind)+1+4)
	blob = append(append(append(append(append(blob, pfx...), ":{global}:da:"...), d.Kind...), ':'), hexDigits[sum[0]>>4], hexDigits[sum[0]&15], hexDigits[sum[1]>>4], hexDigits[sum[1]&15])
	if d.RecipientID == "" {
		blob = appendMsgpackString(blob, "")
		blob = appendMsgpackString(blob, "")
	} else {
		if len(rk.field) != len(d.PageID)+1+len(d.RecipientID) || rk.field[:len(d.PageID)] != d.PageID ||
			rk.field[len(d.PageID)] != ' ' || rk.field[len(d.PageID)+1:] != d.RecipientID {
			rk.field = recipientField(d.PageID, d.RecipientID)
			rk.key = db.keys.recipientDeliveries(d.PageID, d.RecipientID)
		}
		blob = appendMsgpackString(blob, rk.key)
		blob = appendMsgpackString(blob, rk.field)
	}
	return blob, buf, at, nil
}

const hexDigits = "0123456789abcdef"

// jsonPlain marks the bytes encoding/json writes as they are: printable
// ASCII other than " \ < > &.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendMsgpackHeader appends the header of a MessagePack string of n
// bytes.
func appendMsgpackHeader(b []byte, n int) []byte {
	switch {
	case n < 32:
		return append(b, 0xa0|byte(n))
	case n <= 0xff:
		return append(b, 0xd9, byte(n))
	case n <= 0xffff:
		return append(b, 0xda, byte(n>>8), byte(n))
	default:
		return append(b, 0xdb, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

func appendMsgpackBytes(b, s []byte) []byte {
	return append(appendMsgpackHeader(b, len(s)), s...)
}

// appendMsgpackString appends s as a MessagePack string (str 8/16/32 or
// fixstr), which cmsgpack.unpack reads as a Lua string.
func appendMsgpackString(b []byte, s string) []byte {
	return append(appendMsgpackHeader(b, len(s)), s...)
}

// expandLua defines expand(pfx, n), which turns chunk n into deliveries
// and returns how many it held (0 when it is gone). It needs insertLua.
var expandLua = chunkLua + `
local function expand(pfx, cid)
  redis.call('ZREM', pfx .. 'pcs', cid)
  local ck = pfx .. 'pc:' .. cid
  local s = redis.call('GET', ck)
  if not s then return 0 end
  redis.call('DEL', ck)
  local a = cmsgpack.unpack(s)
  local up = redis.call('HGET', pfx .. 'pc-up', cid)
  if up then
    redis.call('HDEL', pfx .. 'pc-up', cid)
    redis.call('SREM', pfx .. 'pcu:' .. up, cid)
  end
  local ids = {}
  for i = 1, #a, chunkStride do ids[#ids + 1] = a[i] end
  for j = 1, #ids, 1000 do
    redis.call('SREM', pfx .. 'chunked', unpack(ids, j, math.min(j + 999, #ids)))
  end
  redis.call('ZREM', qkey(pfx, a[6], '', 'due'), '` + chunkMarker + `' .. cid)
  insert(pfx, a, 1, 'expand', chunkStride)
  return #ids
end
`

// expandChunksScript expands up to ARGV[2] chunks, oldest first. KEYS[1]:
// the chunks not yet expanded. ARGV[1]: the {global} prefix. It returns
// how many chunks are left.
var expandChunksScript = goredis.NewScript(insertLua + expandLua + `
for _, cid in ipairs(redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)) do
  expand(ARGV[1], cid)
end
return redis.call('ZCARD', KEYS[1])
`)

// expandChunks turns every chunk into deliveries, eight chunks (about
// 2000 deliveries) a script call so that Redis is never held for long. It
// costs one round trip when there are none.
func (db *DB) expandChunks(ctx context.Context) error {
	for {
		left, err := expandChunksScript.Run(ctx, db.client, []string{db.keys.global("pcs")}, db.globalPrefix(), 8).Int()
		if err != nil {
			return fmt.Errorf("redis: expand planned chunks: %w", err)
		}
		if left == 0 {
			return nil
		}
	}
}

// chunked reports whether delivery id waits in a chunk.
func (db *DB) chunked(ctx context.Context, id string) (bool, error) {
	ok, err := db.client.SIsMember(ctx, db.keys.global("chunked"), id).Result()
	if err != nil {
		return false, fmt.Errorf("redis: find delivery: %w", err)
	}
	return ok, nil
}

// appendDeliveryDoc appends doc as encoding/json marshals it, byte for
// byte (TestAppendDeliveryDoc), without reflection: planning encodes
// every delivery, and json.Marshal was half of the planner's CPU in the
// store.
func appendDeliveryDoc(buf []byte, doc *deliveryDoc) ([]byte, error) {
	buf = append(buf, `{"id":`...)
	buf = appendJSONString(buf, doc.ID)
	for _, f := range [...]struct{ name, v string }{{`,"p":`, doc.PageID}, {`,"i":`, doc.IncidentID}, {`,"up":`, doc.UpdateID},
		{`,"b":`, doc.BroadcastID}, {`,"m":`, string(doc.MessageKind)}} {
		if f.v != "" {
			buf = append(buf, f.name...)
			buf = appendJSONString(buf, f.v)
		}
	}
	buf = append(buf, `,"k":`...)
	buf = appendJSONString(buf, string(doc.Kind))
	buf = append(buf, `,"a":`...)
	buf = appendJSONString(buf, doc.Address)
	for _, f := range [...]struct{ name, v string }{{`,"rt":`, string(doc.RecipientType)}, {`,"r":`, doc.RecipientID},
		{`,"n":`, doc.Name}, {`,"l":`, doc.Language}, {`,"tz":`, doc.TimeZone}} {
		if f.v != "" {
			buf = append(buf, f.name...)
			buf = appendJSONString(buf, f.v)
		}
	}
	if doc.Critical {
		buf = append(buf, `,"c":true`...)
	}
	buf = append(buf, `,"ca":`...)
	buf = strconv.AppendInt(buf, doc.CreatedAt, 10)
	if len(doc.Vars) > 0 {
		v, err := json.Marshal(doc.Vars)
		if err != nil {
			return nil, fmt.Errorf("redis: encode delivery vars: %w", err)
		}
		buf = append(buf, `,"v":`...)
		buf = append(buf, v...)
	}
	return append(buf, '}'), nil
}

// appendJSONString appends s quoted as encoding/json quotes it: printable
// ASCII other than " \ < > & as it is, anything else through json.Marshal.
func appendJSONString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !jsonPlain[s[i]] {
			b, _ := json.Marshal(s) // a string always marshals
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}
