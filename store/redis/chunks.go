package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	goredis "github.com/redis/go-redis/v9"
)

// Planned deliveries wait in chunks, as they do on SQLite: a plan batch
// writes each new pending delivery into a chunk of up to chunkSize
// deliveries of one channel, instead of a hash and four index entries of
// its own, which cost about 30 µs of Redis's one CPU a delivery (two
// million took a minute or more). A chunk is
//
//	<prefix>:{global}:pc:<n>        string  the deliveries' insertLua strings, MessagePack (cmsgpack)
//	<prefix>:{global}:pcs           zset    the chunks not yet expanded, by n
//	<prefix>:{global}:pc-seq        counter chunk numbers
//	<prefix>:{global}:chunked       set     the IDs of the deliveries in chunks
//
// and it stands in its channel's due queue as the member "~<n>", scored by
// its earliest NextAt. savePlanBatchScript counts the chunk's deliveries
// as pending in their broadcast's progress and its plan when it writes
// them, so Progress and Planned are exact from the start; an ID already
// stored (in the deliveries index) or already in a chunk (chunked) is
// skipped, as insertLua skips a stored one, so once-only holds across
// batches, phases and plans. Deliveries that are not pending (suppressed,
// failed) are written as before.
//
// A chunk becomes ordinary deliveries (expandLua: insertLua's writes,
// without counting again) in one atomic step, when
//   - claimScript meets its member in the due queue: the deliveries join
//     the due queue at their own scores and the claim takes them, so a
//     claim of 128 expands a chunk and takes half of it;
//   - a read needs every delivery (FindDeliveries, CancelPlan, a
//     FindDeliveryByID of an ID in chunked): expandChunks expands every
//     chunk first, a few per script call. A read while a large plan waits
//     for a rate-limited channel therefore pays the writes the plan saved
//     once, and the reads after it nothing.
//
// EnqueueDeliveries skips an ID in chunked. Every key is in the {global}
// slot, like the queue, so each step is one script on Cluster too.
const chunkSize = 256

// chunkMarker starts a chunk's member in a due queue. Delivery IDs may not
// start with it (validDelivery).
const chunkMarker = "~"

// chunkLua is the part of the chunk scripts both need: the stride of
// insertLua's strings.
var chunkLua = `
local chunkStride = ` + strconv.Itoa(insertStride) + `
`

// planChunksLua defines planChunks(pfx, a, from, bid), which writes a plan
// batch (insertLua's strings from a[from]) and returns how many deliveries
// were new. It needs insertLua.
var planChunksLua = chunkLua + `
local function planChunks(pfx, a, from, bid)
  local ids = {}
  for i = from, #a, chunkStride do ids[#ids + 1] = a[i] end
  local known = {}
  for j = 1, #ids, 1000 do
    local last = math.min(j + 999, #ids)
    local stored = redis.call('ZMSCORE', pfx .. 'deliveries', unpack(ids, j, last))
    local waiting = redis.call('SMISMEMBER', pfx .. 'chunked', unpack(ids, j, last))
    for k = j, last do
      if stored[k - j + 1] or waiting[k - j + 1] == 1 then known[ids[k]] = true end
    end
  end
  local new, direct, chunks, chunked, pending = 0, {}, {}, {}, {}
  local function flush(kind)
    local c = chunks[kind]
    local cid = tostring(redis.call('INCR', pfx .. 'pc-seq'))
    redis.call('SET', pfx .. 'pc:' .. cid, cmsgpack.pack(c.a))
    local seq = redis.call('INCR', pfx .. 'qseq')
    redis.call('ZADD', pfx .. 'q:' .. kind .. ':due', string.format('%.0f', c.next * ` + scoreSlotsLua + ` + seq % ` + scoreSlotsLua + `), '` + chunkMarker + `' .. cid)
    redis.call('ZADD', pfx .. 'pcs', cid, cid)
    chunks[kind] = nil
  end
  for i = from, #a, chunkStride do
    local id = a[i]
    if not known[id] then
      known[id] = true
      new = new + 1
      if a[i + 2] == 'pending' then
        local kind, at = a[i + 5], tonumber(a[i + 4])
        local c = chunks[kind]
        if not c then c = {a = {}, next = at}; chunks[kind] = c end
        local ca = c.a
        for k = 0, chunkStride - 1 do ca[#ca + 1] = a[i + k] end
        if at < c.next then c.next = at end
        chunked[#chunked + 1] = id
        pending[kind] = (pending[kind] or 0) + 1
        if #ca >= ` + strconv.Itoa(chunkSize) + ` * chunkStride then flush(kind) end
      else
        for k = 0, chunkStride - 1 do direct[#direct + 1] = a[i + k] end
      end
    end
  end
  local left = {}
  for kind in pairs(chunks) do left[#left + 1] = kind end
  for _, kind in ipairs(left) do flush(kind) end
  for j = 1, #chunked, 1000 do
    redis.call('SADD', pfx .. 'chunked', unpack(chunked, j, math.min(j + 999, #chunked)))
  end
  for kind, n in pairs(pending) do
    redis.call('HINCRBY', pfx .. 'progress:' .. bid, kind .. ':pending', n)
  end
  if #direct > 0 then insert(pfx, direct, 1, 'plan') end
  return new
end
`

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
  local ids = {}
  for i = 1, #a, chunkStride do ids[#ids + 1] = a[i] end
  for j = 1, #ids, 1000 do
    redis.call('SREM', pfx .. 'chunked', unpack(ids, j, math.min(j + 999, #ids)))
  end
  redis.call('ZREM', pfx .. 'q:' .. a[6] .. ':due', '` + chunkMarker + `' .. cid)
  insert(pfx, a, 1, 'expand')
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
		c := s[i]
		if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always marshals
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}
