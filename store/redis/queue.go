package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// A delivery is one hash, <prefix>:{global}:d:<id>, whose small fields the
// scripts read and change without decoding JSON:
//
//	j   the immutable part as compact JSON (deliveryDoc)
//	s   state            a   attempts         n   next_at ms
//	k   channel kind     b   broadcast ID     u   updated_at ms
//	l   lease token while sending, "" otherwise
//	p   provider ID      e   error code       r   reason
//	sa  sent_at ms       da  delivered_at ms
//	y   the lane: "r" for a reply (queue.MessageKind.IsReply), absent for
//	    the rest (deliveries stored before the lanes have none: they are
//	    the broadcast's lane, and a reply among them still goes to the
//	    reply workers by its message kind)
//
// Small hashes are stored as listpacks, so a delivery costs a few hundred
// bytes however many fields it has.

// deliveryDoc is the part of a delivery that never changes after planning,
// with short JSON names because a broadcast can hold millions of them.
type deliveryDoc struct {
	ID            string              `json:"id"`
	PageID        string              `json:"p,omitempty"`
	IncidentID    string              `json:"i,omitempty"`
	UpdateID      string              `json:"up,omitempty"`
	BroadcastID   string              `json:"b,omitempty"`
	MessageKind   queue.MessageKind   `json:"m,omitempty"`
	Kind          channel.Kind        `json:"k"`
	Address       string              `json:"a"`
	RecipientType queue.RecipientType `json:"rt,omitempty"`
	RecipientID   string              `json:"r,omitempty"`
	Name          string              `json:"n,omitempty"`
	Language      string              `json:"l,omitempty"`
	TimeZone      string              `json:"tz,omitempty"`
	Critical      bool                `json:"c,omitempty"`
	CreatedAt     int64               `json:"ca"`
	Vars          map[string]string   `json:"v,omitempty"`
}

// scoreSlots splits each millisecond of a sorted-set score: the due queue
// and the delivery indexes score a delivery by time in ms × scoreSlots plus
// a running insertion counter (mod scoreSlots). Equal times then keep
// insertion order (FIFO within a millisecond), and, what matters more, a
// plan batch — thousands of deliveries of one time — appends to the skip
// list instead of landing at random places among equal scores ordered by
// random IDs, which at a million members costs a cache miss per level.
// 1024 slots keep scores exact in a double (below 2^53) until the year 2248.
const scoreSlots = 1024

// indexSlots does the same for the delivery indexes (every delivery, a
// broadcast's), which need no millisecond precision: they score by the
// second × 2^20 + the counter, so a whole million-delivery plan in one
// second still appends; FindDeliveries filters Since exactly in Go.
const indexSlots = 1 << 20

var scoreSlotsLua, indexSlotsLua = strconv.Itoa(scoreSlots), strconv.Itoa(indexSlots)

// insertStride is how many ARGV strings describe one delivery for insertLua.
const insertStride = 16

// chunkStride is how many of them a plan's chunk holds per delivery
// (chunks.go): all but the lane, which is the broadcast's for every
// planned delivery. Chunks written before the lanes have the same.
const chunkStride = 15

// laneLua defines qkey(pfx, kind, lane, what): a channel's queue of one
// lane, what being 'due' or 'leased'. lane is a delivery's y field: 'r'
// for the replies' queues, anything else (false, an empty string) for the
// broadcast's, which deliveries stored before the lanes are in.
var laneLua = `
local function qkey(pfx, kind, lane, what)
  if lane == 'r' then return pfx .. 'q:' .. kind .. ':reply:' .. what end
  return pfx .. 'q:' .. kind .. ':' .. what
end
`

// insertLua is the Lua function shared by the scripts that create
// deliveries (savePlanBatchScript, enqueueScript). a[from..] holds
// stride (default insertStride) strings per delivery: id, doc, state,
// attempts, next_at ms, kind, broadcast ID, created_at ms, address,
// updated_at ms, reason, error code, address-index key, recipient-index
// key and field ("" for a delivery with no recipient), and the lane ("r"
// for a reply, else ""; a chunk's chunkStride strings leave it out: the
// broadcast's). An existing ID is skipped (the idempotency key:
// update × channel × address). A pending delivery joins its channel's due
// queue; every one joins the indexes, and its broadcast's counters grow by
// one per state (and per reason for failed and suppressed ones). A pending
// delivery joins its lane's due queue, and a reply keeps its lane in y. Sorted-set
// members and counters are gathered and written a few hundred per command:
// a plan batch of thousands costs thousands of HSETs, not five times that.
// Fields equal to their default (no attempts, updated when created, no
// lease) are left out of the hash; decodeDelivery fills them in.
//
// mode says who calls: "enqueue" also skips an ID waiting in a plan's chunk
// (chunks.go), "plan" is a plan's delivery that is not pending, and
// "expand" a chunk's deliveries, which their plan counted already.
var insertLua = laneLua + `
local function insert(pfx, a, from, mode, stride)
  stride = stride or ` + strconv.Itoa(insertStride) + `
  local n = math.floor((#a - from + 1) / stride)
  local seq = redis.call('INCRBY', pfx .. 'qseq', n) - n
  local function score(ms, s) return string.format('%.0f', tonumber(ms) * ` + scoreSlotsLua + ` + s) end
  local function indexScore(ms, s) return string.format('%.0f', math.floor(tonumber(ms) / 1000) * ` + indexSlotsLua + ` + s) end
  local new = 0
  local counts = {}
  local zsets = {}
  local noMark, replyMark = {}, {'y', 'r'}
  local function zadd(key, score, member)
    local z = zsets[key]
    if not z then z = {}; zsets[key] = z end
    z[#z + 1] = score
    z[#z + 1] = member
  end
  local function count(bid, field, by)
    if bid == '' then return end
    local c = counts[bid]
    if not c then c = {}; counts[bid] = c end
    c[field] = (c[field] or 0) + by
  end
  for i = from, #a, stride do
    local id, st, kind, bid = a[i], a[i+2], a[i+5], a[i+6]
    local lane = ''
    if stride > ` + strconv.Itoa(chunkStride) + ` then lane = a[i+15] end
    seq = seq + 1
    local slot = seq % ` + scoreSlotsLua + `
    local created = indexScore(a[i+7], seq % ` + indexSlotsLua + `)
    local dk = pfx .. 'd:' .. id
    -- The index of every delivery doubles as the existence check: ZADD NX
    -- adds the ID only when it is new, in the one call the index needs anyway.
    if (mode ~= 'enqueue' or redis.call('SISMEMBER', pfx .. 'chunked', id) == 0) and
      redis.call('ZADD', pfx .. 'deliveries', 'NX', created, id) == 1 then
      new = new + 1
      local reason, code = a[i+10], a[i+11]
      -- One HSET a delivery: the lane's mark goes with the fields.
      local y = noMark
      if lane == 'r' then y = replyMark end
      if a[i+3] == '0' and a[i+9] == a[i+7] and reason == '' and code == '' then
        redis.call('HSET', dk, 'j', a[i+1], 's', st, 'n', a[i+4], 'k', kind, 'b', bid, unpack(y))
      else
        redis.call('HSET', dk, 'j', a[i+1], 's', st, 'n', a[i+4], 'k', kind, 'b', bid, 'a', a[i+3], 'u', a[i+9], 'r', reason, 'e', code, unpack(y))
      end
      if st == 'pending' then zadd(qkey(pfx, kind, lane, 'due'), score(a[i+4], slot), id) end
      if bid ~= '' then zadd(pfx .. 'bd:' .. bid, created, id) end
      local ak, addr = a[i+12], a[i+8]
      if redis.call('HSETNX', ak, addr, id) == 0 then
        redis.call('HSET', ak, addr, redis.call('HGET', ak, addr) .. ' ' .. id)
      end
      local rk, rf = a[i+13], a[i+14]
      if rf ~= '' and redis.call('HSETNX', rk, rf, id) == 0 then
        redis.call('HSET', rk, rf, redis.call('HGET', rk, rf) .. ' ' .. id)
      end
      if mode ~= 'expand' then
        count(bid, kind .. ':' .. st, 1)
        if reason ~= '' and (st == 'failed' or st == 'suppressed') then count(bid, 'r:' .. kind .. ':' .. reason, 1) end
      end
    end
  end
  for key, z in pairs(zsets) do
    for j = 1, #z, 1000 do
      redis.call('ZADD', key, unpack(z, j, math.min(j + 999, #z)))
    end
  end
  for bid, c in pairs(counts) do
    for f, by in pairs(c) do redis.call('HINCRBY', pfx .. 'progress:' .. bid, f, by) end
  end
  return new
end
`

// enqueueScript creates deliveries outside any plan. ARGV[1] is the
// {global} key prefix, ARGV[2..] the deliveries (insertLua). KEYS[1] (the
// index of every delivery) only names the slot. It returns how many were new.
var enqueueScript = goredis.NewScript(insertLua + `
return insert(ARGV[1], ARGV, 2, 'enqueue')
`)

// claimScript leases up to n deliveries of one channel in one lane, or in
// both (queue.LaneAll): first those whose lease ended (a dead node's
// work, still sending), then pending ones that are due, oldest NextAt
// first; with both lanes, the oldest across the two. Each gets state
// sending, one more attempt, the end of its lease as its score in its
// lane's lease queue, and this call's fencing token, which
// FinishDeliveries must present. One script does it all, so two callers
// never get the same delivery.
//
// KEYS: lease counter, then per lane claimed its due queue and its lease
// queue. ARGV: now ms, lease end ms, n, {global} key prefix, the highest
// due score at now (see scoreSlots). It returns the token and each
// claimed delivery's fields as they were before the claim (HGETALL).
var claimScript = goredis.NewScript(insertLua + expandLua + `
local now, untilMs, n, pfx = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local dues, leaseds = {}, {}
for x = 2, #KEYS, 2 do
  dues[#dues + 1] = KEYS[x]
  leaseds[#leaseds + 1] = KEYS[x + 1]
end
local token = tostring(redis.call('INCR', KEYS[1]))
local out = {}
local leases = {}
local counts = {}
-- lowest returns the members scored at most max with the n lowest scores
-- across the sorted sets keys, lowest first, each as {member, score,
-- index of its set, score as Redis gave it}, and how many each set gave:
-- always its lowest ones (ties keep each set's order), so a set's share
-- is a prefix of it by rank.
local function lowest(keys, max, want)
  local all = {}
  for x, key in ipairs(keys) do
    local got = redis.call('ZRANGEBYSCORE', key, '-inf', max, 'WITHSCORES', 'LIMIT', 0, want)
    for j = 1, #got, 2 do all[#all + 1] = {got[j], tonumber(got[j + 1]), x, got[j + 1], j} end
  end
  if #keys > 1 then
    table.sort(all, function(p, q)
      if p[2] ~= q[2] then return p[2] < q[2] end
      if p[3] ~= q[3] then return p[3] < q[3] end
      return p[5] < q[5]
    end)
  end
  local out, per = {}, {}
  for x = 1, #keys do per[x] = 0 end
  for j = 1, math.min(want, #all) do
    out[j] = all[j]
    per[all[j][3]] = per[all[j][3]] + 1
  end
  return out, per
end
local function take(id, want)
  local dk = pfx .. 'd:' .. id
  local f = redis.call('HGETALL', dk)
  local st, bid, kind, a, lane = nil, '', '', 0, ''
  for j = 1, #f, 2 do
    local k = f[j]
    if k == 's' then st = f[j + 1]
    elseif k == 'b' then bid = f[j + 1]
    elseif k == 'k' then kind = f[j + 1]
    elseif k == 'a' then a = tonumber(f[j + 1])
    elseif k == 'y' then lane = f[j + 1] end
  end
  if st ~= want then return false end
  redis.call('HSET', dk, 's', 'sending', 'l', token, 'u', now, 'a', a + 1)
  local lk = qkey(pfx, kind, lane, 'leased')
  local l = leases[lk]
  if not l then l = {}; leases[lk] = l end
  l[#l + 1] = untilMs
  l[#l + 1] = id
  if want == 'pending' and bid ~= '' then
    counts[bid] = counts[bid] or {}
    counts[bid][kind] = (counts[bid][kind] or 0) + 1
  end
  -- The fields as they were; the caller applies the claim (sending, one
  -- more attempt, now, the token) itself, sparing a second read.
  out[#out + 1] = f
  return true
end
for _, e in ipairs((lowest(leaseds, now, n))) do
  if not take(e[1], 'sending') then redis.call('ZREM', leaseds[e[3]], e[1]) end
end
-- A member starting with ~ is a plan's chunk (chunks.go): it is expanded
-- into its deliveries, which join the due queue at their own scores, and
-- the next round takes them. A round expands chunks for as many
-- deliveries as the claim still wants and puts the other chunks back,
-- and a claim expands at most about 4096 deliveries in all.
local expandedAll = 0
for round = 1, 32 do
  if #out >= n then break end
  local need = n - #out
  local got, per = lowest(dues, ARGV[5], need)
  if #got == 0 then break end
  -- They are each queue's lowest-ranked members: drop them in one
  -- command a queue.
  for x, c in ipairs(per) do
    if c > 0 then redis.call('ZREMRANGEBYRANK', dues[x], 0, c - 1) end
  end
  local expanded, back = 0, {}
  for _, e in ipairs(got) do
    local id = e[1]
    if string.byte(id, 1) ~= 126 then
      take(id, 'pending')
    elseif expanded < need and expandedAll < 4096 then
      local m = expand(pfx, string.sub(id, 2))
      expanded, expandedAll = expanded + m, expandedAll + m
    else
      back[#back + 1] = {dues[e[3]], e[4], id}
    end
  end
  for _, b in ipairs(back) do redis.call('ZADD', b[1], b[2], b[3]) end
  if expanded == 0 then break end
end
for lk, l in pairs(leases) do
  for j = 1, #l, 1000 do
    redis.call('ZADD', lk, unpack(l, j, math.min(j + 999, #l)))
  end
end
for bid, c in pairs(counts) do
  for kind, by in pairs(c) do
    redis.call('HINCRBY', pfx .. 'progress:' .. bid, kind .. ':pending', -by)
    redis.call('HINCRBY', pfx .. 'progress:' .. bid, kind .. ':sending', by)
  end
end
return {token, out}
`)

// finishStride is how many ARGV strings describe one outcome for finishScript.
const finishStride = 11

// finishScript records outcomes. ARGV[1] is the {global} key prefix, then
// finishStride strings per delivery: id, lease token, state, next_at ms,
// provider ID, error code, reason, sent_at ms, delivered_at ms, updated_at
// ms ("" leaves a field alone), deferred ("1": the claim was no attempt,
// so the attempt it counted is taken back). A retried or deferred delivery
// goes back to its own lane's due queue (y). A delivery that is no longer sending under
// that token (its lease expired and someone claimed it again, or it was
// cancelled) is skipped. KEYS[1] only names the slot. It returns how many
// outcomes were applied.
var finishScript = goredis.NewScript(laneLua + `
local pfx = ARGV[1]
local applied = 0
local released = {}
local providers = {}
local counts = {}
local times = {}
local function count(bid, field, by)
  local c = counts[bid]
  if not c then c = {}; counts[bid] = c end
  c[field] = (c[field] or 0) + by
end
for i = 2, #ARGV, ` + strconv.Itoa(finishStride) + ` do
  local id, lease, st, nextAt = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3]
  local dk = pfx .. 'd:' .. id
  local cur = redis.call('HMGET', dk, 's', 'l', 'k', 'b', 'a', 'y')
  if cur[1] == 'sending' and cur[2] == lease then
    local kind, bid = cur[3], cur[4]
    applied = applied + 1
    local lk = qkey(pfx, kind, cur[6], 'leased')
    released[lk] = released[lk] or {}
    table.insert(released[lk], id)
    local set = {'s', st, 'l', '', 'u', ARGV[i+9], 'e', ARGV[i+5], 'r', ARGV[i+6]}
    local provider = ARGV[i+4]
    if provider ~= '' then
      set[#set + 1] = 'p'; set[#set + 1] = provider
      providers[#providers + 1] = provider; providers[#providers + 1] = id
    end
    if ARGV[i+7] ~= '' then set[#set + 1] = 'sa'; set[#set + 1] = ARGV[i+7] end
    if ARGV[i+8] ~= '' then set[#set + 1] = 'da'; set[#set + 1] = ARGV[i+8] end
    if ARGV[i+10] == '1' then
      set[#set + 1] = 'a'; set[#set + 1] = math.max((tonumber(cur[5]) or 0) - 1, 0)
    end
    if st == 'pending' then
      set[#set + 1] = 'n'; set[#set + 1] = nextAt
      redis.call('ZADD', qkey(pfx, kind, cur[6], 'due'), string.format('%.0f', tonumber(nextAt) * ` + scoreSlotsLua + `), id)
    elseif st == 'sent' and kind == 'sms' then
      -- awaiting its receipt: the reconciler looks at those that wait long
      local at = ARGV[i+7]
      if at == '' then at = ARGV[i+9] end
      redis.call('ZADD', pfx .. 'q:sms:sent', at, id)
    end
    redis.call('HSET', dk, unpack(set))
    if bid ~= '' then
      count(bid, kind .. ':sending', -1)
      count(bid, kind .. ':' .. st, 1)
      if st == 'sent' or st == 'delivered' or st == 'undelivered' or st == 'failed' then
        local t = times[bid]
        if not t then t = {}; times[bid] = t end
        local f = kind .. ':' .. st .. ':' .. string.format('%.0f', math.floor(tonumber(ARGV[i+9]) / 10000))
        t[f] = (t[f] or 0) + 1
      end
      if ARGV[i+6] ~= '' and (st == 'failed' or st == 'suppressed') then
        count(bid, 'r:' .. kind .. ':' .. ARGV[i+6], 1)
      end
    end
  end
end
for j = 1, #providers, 1000 do
  redis.call('HSET', pfx .. 'provider-ids', unpack(providers, j, math.min(j + 999, #providers)))
end
for lk, ids in pairs(released) do
  for j = 1, #ids, 1000 do redis.call('ZREM', lk, unpack(ids, j, math.min(j + 999, #ids))) end
end
for bid, c in pairs(counts) do
  for f, by in pairs(c) do
    if by ~= 0 then redis.call('HINCRBY', pfx .. 'progress:' .. bid, f, by) end
  end
end
for bid, t in pairs(times) do
  for f, by in pairs(t) do redis.call('HINCRBY', pfx .. 'dtimes:' .. bid, f, by) end
end
return applied
`)

// statusScript applies a provider receipt. KEYS[1] is the delivery.
// ARGV: new state, error code, provider status, at ms, {global} prefix.
// Only a sent delivery moves (to delivered, undelivered or failed); a
// final one stays as it is, so a late or repeated callback never moves a
// delivery backwards. Returns -1 when the delivery does not exist, 0 when
// nothing changed, 1 when the receipt was applied.
var statusScript = goredis.NewScript(`
local dk = KEYS[1]
local st, code, status, at, pfx = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local cur = redis.call('HMGET', dk, 's', 'k', 'b')
if not cur[1] then return -1 end
if cur[1] ~= 'sent' then return 0 end
redis.call('HSET', dk, 's', st, 'u', at)
if cur[2] == 'sms' then redis.call('ZREM', pfx .. 'q:sms:sent', string.sub(dk, #pfx + 3)) end
if code ~= '' then redis.call('HSET', dk, 'e', code) end
if st == 'delivered' then
  redis.call('HSET', dk, 'da', at)
elseif status ~= '' then
  redis.call('HSET', dk, 'r', status)
end
if cur[3] ~= '' then
  local pk = pfx .. 'progress:' .. cur[3]
  redis.call('HINCRBY', pk, cur[2] .. ':sent', -1)
  redis.call('HINCRBY', pk, cur[2] .. ':' .. st, 1)
  if st == 'failed' and status ~= '' then redis.call('HINCRBY', pk, 'r:' .. cur[2] .. ':' .. status, 1) end
  redis.call('HINCRBY', pfx .. 'dtimes:' .. cur[3], cur[2] .. ':' .. st .. ':' .. string.format('%.0f', math.floor(tonumber(at) / 10000)), 1)
end
return 1
`)

// globalPrefix is the common start of every {global} key, which the
// scripts extend into delivery, queue, index and counter names.
func (db *DB) globalPrefix() string { return db.keys.global("") }

// insertArgs appends ds to args as insertLua expects them, checking each.
func (db *DB) insertArgs(args []any, ds []*queue.Delivery, now time.Time) ([]any, error) {
	var buf []byte
	for _, d := range ds {
		if err := validDelivery(d); err != nil {
			return nil, err
		}
		var f insertFields
		var err error
		if buf, err = db.insertFields(&f, buf[:0], d, now); err != nil {
			return nil, err
		}
		for _, v := range f {
			args = append(args, v)
		}
	}
	return args, nil
}

// insertFields is one delivery's insertStride strings for insertLua.
type insertFields [insertStride]string

// insertFields fills f with d's strings for insertLua, using buf (returned
// for reuse) to encode its document.
func (db *DB) insertFields(f *insertFields, buf []byte, d *queue.Delivery, now time.Time) ([]byte, error) {
	created := d.CreatedAt
	if created.IsZero() {
		created = now
	}
	updated := d.UpdatedAt
	if updated.IsZero() {
		updated = created
	}
	next := d.NextAt
	if next.IsZero() {
		next = created
	}
	state := d.State
	if state == "" {
		state = queue.StatePending
	}
	var err error
	buf, err = appendDeliveryDoc(buf, &deliveryDoc{ID: d.ID, PageID: d.PageID, IncidentID: d.IncidentID, UpdateID: d.UpdateID, BroadcastID: d.BroadcastID,
		MessageKind: d.MessageKind, Kind: d.Kind, Address: d.Address, RecipientType: d.RecipientType, RecipientID: d.RecipientID,
		Name: d.Name, Language: d.Language, TimeZone: d.TimeZone, Critical: d.Critical, CreatedAt: ms(created), Vars: d.Vars})
	if err != nil {
		return buf, err
	}
	rk, rf := "", ""
	if d.RecipientID != "" {
		rk, rf = db.keys.recipientDeliveries(d.PageID, d.RecipientID), recipientField(d.PageID, d.RecipientID)
	}
	lane := ""
	if d.MessageKind.IsReply() {
		lane = "r"
	}
	*f = insertFields{d.ID, string(buf), string(state), strconv.Itoa(d.Attempts), msString(next), string(d.Kind), d.BroadcastID,
		msString(created), d.Address, msString(updated), d.Reason, d.ErrorCode, db.keys.addressDeliveries(string(d.Kind), d.Address), rk, rf, lane}
	return buf, nil
}

// validDelivery rejects what would corrupt the key layout or the queue: a
// delivery starts pending or in a final state, never sending (only a claim
// makes it sending, with a lease).
func validDelivery(d *queue.Delivery) error {
	switch {
	case d == nil:
		return incident.Invalid("delivery", "nil delivery")
	case d.ID == "":
		return incident.Invalid("delivery.id", "delivery ID is empty")
	case strings.HasPrefix(d.ID, chunkMarker):
		return incident.Invalid("delivery.id", "a delivery ID may not start with %q", chunkMarker)
	case !validKind(d.Kind):
		return incident.Invalid("delivery.channel", "unknown channel %q", d.Kind)
	case d.State == queue.StateSending:
		return incident.Invalid("delivery.state", "a new delivery cannot be sending")
	case d.State != "" && !validState(d.State):
		return incident.Invalid("delivery.state", "unknown delivery state %q", d.State)
	}
	return nil
}

// kinds lists the channels that have queues.
var kinds = []channel.Kind{channel.SMS, channel.Email, channel.Slack, channel.Webhook}

func validKind(k channel.Kind) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

func validState(s queue.DeliveryState) bool {
	for _, x := range queue.DeliveryStates {
		if x == s {
			return true
		}
	}
	return false
}

// EnqueueDeliveries implements notify.Store: deliveries outside any plan
// (confirmations, complaint answers), written by one script call per
// chunk, skipping IDs that exist.
func (db *DB) EnqueueDeliveries(ctx context.Context, ds []*queue.Delivery) (int, error) {
	// Check everything first, so a bad delivery late in a large call does
	// not leave the earlier chunks written.
	for _, d := range ds {
		if err := validDelivery(d); err != nil {
			return 0, err
		}
	}
	now := db.now()
	total := 0
	for len(ds) > 0 {
		chunk := ds
		if len(chunk) > maxScriptDeliveries {
			chunk = chunk[:maxScriptDeliveries]
		}
		ds = ds[len(chunk):]
		args, err := db.insertArgs(make([]any, 0, 1+len(chunk)*insertStride), chunk, now)
		if err != nil {
			return total, err
		}
		args = append([]any{db.globalPrefix()}, args...)
		n, err := enqueueScript.Run(ctx, db.client, []string{db.keys.deliveriesAll()}, args...).Int()
		if err != nil {
			return total, fmt.Errorf("redis: enqueue deliveries: %w", err)
		}
		total += n
	}
	return total, nil
}

// maxScriptDeliveries bounds one script call, so a huge call cannot hold
// Redis for long (other clients wait while a script runs).
const maxScriptDeliveries = 5000

// ClaimDeliveries implements notify.Store with claimScript: a lane's
// claim reads its own queues only, LaneAll both.
func (db *DB) ClaimDeliveries(ctx context.Context, kind channel.Kind, lane queue.Lane, now time.Time, lease time.Duration, n int) ([]*queue.Delivery, error) {
	if !validKind(kind) {
		return nil, incident.Invalid("channel", "unknown channel %q", kind)
	}
	if !lane.Valid() {
		return nil, incident.Invalid("lane", "unknown lane %d", int(lane))
	}
	if n <= 0 {
		return nil, nil
	}
	if lease <= 0 {
		return nil, incident.Invalid("lease", "lease must be positive, got %s", lease)
	}
	k := db.keys
	keys := []string{k.leaseSeq()}
	if lane != queue.LaneReplies {
		keys = append(keys, k.dueQueue(string(kind)), k.leaseQueue(string(kind)))
	}
	if lane != queue.LaneBroadcast {
		keys = append(keys, k.replyDueQueue(string(kind)), k.replyLeaseQueue(string(kind)))
	}
	res, err := claimScript.Run(ctx, db.client, keys,
		msString(now), msString(now.Add(lease)), n, db.globalPrefix(), strconv.FormatInt(ms(now)*scoreSlots+scoreSlots-1, 10)).Slice()
	if err != nil {
		return nil, fmt.Errorf("redis: claim deliveries: %w", err)
	}
	if len(res) != 2 {
		return nil, fmt.Errorf("redis: claim deliveries: unexpected reply %v", res)
	}
	token, _ := res[0].(string)
	rows, _ := res[1].([]any)
	out := make([]*queue.Delivery, 0, len(rows))
	for _, r := range rows {
		fields, _ := r.([]any)
		m := make(map[string]string, len(fields)/2)
		for i := 0; i+1 < len(fields); i += 2 {
			key, _ := fields[i].(string)
			val, _ := fields[i+1].(string)
			m[key] = val
		}
		d, err := decodeDelivery(m)
		if err != nil {
			return nil, err
		}
		// What claimScript wrote, applied to the fields it read.
		d.State, d.Attempts, d.UpdatedAt, d.Lease = queue.StateSending, d.Attempts+1, utcMS(now), token
		out = append(out, d)
	}
	return out, nil
}

// FinishDeliveries implements notify.Store with finishScript.
func (db *DB) FinishDeliveries(ctx context.Context, ds []*queue.Delivery) error {
	for _, d := range ds {
		if d == nil {
			return incident.Invalid("delivery", "nil delivery")
		}
		if d.State == queue.StateSending || !validState(d.State) {
			return incident.Invalid("delivery.state", "cannot finish delivery %q as %q", d.ID, d.State)
		}
	}
	now := db.now()
	for len(ds) > 0 {
		chunk := ds
		if len(chunk) > maxScriptDeliveries {
			chunk = chunk[:maxScriptDeliveries]
		}
		ds = ds[len(chunk):]
		args := make([]any, 0, 1+len(chunk)*finishStride)
		args = append(args, db.globalPrefix())
		for _, d := range chunk {
			updated := d.UpdatedAt
			if updated.IsZero() {
				updated = now
			}
			next := ""
			if d.State == queue.StatePending {
				at := d.NextAt
				if at.IsZero() {
					at = updated
				}
				next = msString(at)
			}
			deferred := "0"
			if d.Deferred {
				deferred = "1"
			}
			args = append(args, d.ID, d.Lease, string(d.State), next, d.ProviderID, d.ErrorCode, d.Reason,
				optMS(d.SentAt), optMS(d.DeliveredAt), msString(updated), deferred)
		}
		if err := finishScript.Run(ctx, db.client, []string{db.keys.deliveriesAll()}, args...).Err(); err != nil {
			return fmt.Errorf("redis: finish deliveries: %w", err)
		}
	}
	return nil
}

func optMS(t *time.Time) string {
	if t == nil {
		return ""
	}
	return msString(*t)
}

// SetDeliveryStatus implements notify.Store with statusScript.
func (db *DB) SetDeliveryStatus(ctx context.Context, id string, state queue.DeliveryState, providerStatus, errorCode string, at time.Time) error {
	switch state {
	case queue.StateDelivered, queue.StateUndelivered, queue.StateFailed:
	case queue.StateSent:
		// "sent" again (a provider's sent/queued callback) changes
		// nothing, but the delivery must exist.
		n, err := db.client.Exists(ctx, db.keys.delivery(id)).Result()
		if err != nil {
			return fmt.Errorf("redis: set delivery status: %w", err)
		}
		if n == 0 {
			if waiting, err := db.chunked(ctx, id); err != nil || waiting {
				return err // planned and pending: nothing to change
			}
			return incident.NotFound("delivery", id)
		}
		return nil
	default:
		return incident.Invalid("state", "a receipt can only set sent, delivered, undelivered or failed, not %q", state)
	}
	res, err := statusScript.Run(ctx, db.client, []string{db.keys.delivery(id)},
		string(state), errorCode, providerStatus, msString(at), db.globalPrefix()).Int()
	if err != nil {
		return fmt.Errorf("redis: set delivery status: %w", err)
	}
	if res < 0 {
		if waiting, err := db.chunked(ctx, id); err != nil || waiting {
			return err // planned and pending: a receipt moves only a sent delivery
		}
		return incident.NotFound("delivery", id)
	}
	return nil
}

// FindDeliveryByID implements notify.Store.
func (db *DB) FindDeliveryByID(ctx context.Context, id string) (*queue.Delivery, error) {
	m, err := db.client.HGetAll(ctx, db.keys.delivery(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: find delivery: %w", err)
	}
	if len(m) == 0 {
		waiting, err := db.chunked(ctx, id)
		if err != nil {
			return nil, err
		}
		if !waiting {
			return nil, incident.NotFound("delivery", id)
		}
		if err := db.expandChunks(ctx); err != nil {
			return nil, err
		}
		if m, err = db.client.HGetAll(ctx, db.keys.delivery(id)).Result(); err != nil {
			return nil, fmt.Errorf("redis: find delivery: %w", err)
		}
		if len(m) == 0 {
			return nil, incident.NotFound("delivery", id)
		}
	}
	return decodeDelivery(m)
}

// FindDeliveryByProviderID implements notify.Store.
func (db *DB) FindDeliveryByProviderID(ctx context.Context, providerID string) (*queue.Delivery, error) {
	id, err := db.client.HGet(ctx, db.keys.providerIDs(), providerID).Result()
	if err == goredis.Nil {
		return nil, incident.NotFound("delivery", providerID)
	} else if err != nil {
		return nil, fmt.Errorf("redis: find delivery by provider ID: %w", err)
	}
	return db.FindDeliveryByID(ctx, id)
}

// FindDeliveries implements notify.Store. It reads the most selective
// index (an address's or a recipient's entry, or it walks the broadcast's
// or every delivery's sorted set newest first, a page at a time) and
// filters the rest in Go.
func (db *DB) FindDeliveries(ctx context.Context, f queue.DeliveryFilter) ([]*queue.Delivery, error) {
	// The indexes hold every delivery once no chunk waits.
	if err := db.expandChunks(ctx); err != nil {
		return nil, err
	}
	k := db.keys
	index := k.deliveriesAll()
	if f.BroadcastID != "" {
		index = k.broadcastDeliveries(f.BroadcastID)
	}
	minScore := "-inf"
	if !f.Since.IsZero() {
		minScore = strconv.FormatInt(ms(f.Since)/1000*indexSlots, 10)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = math.MaxInt // none, as queue.DeliveryFilter says
	}
	match := deliveryMatcher(f)
	out := []*queue.Delivery{}
	if f.BroadcastID == "" && f.Address != "" && f.Kind != "" {
		return db.findIndexedDeliveries(ctx, db.keys.addressDeliveries(string(f.Kind), f.Address), f.Address, match, limit)
	}
	if f.BroadcastID == "" && f.RecipientID != "" && f.PageID != "" {
		return db.findIndexedDeliveries(ctx, db.keys.recipientDeliveries(f.PageID, f.RecipientID), recipientField(f.PageID, f.RecipientID), match, limit)
	}
	const page = 500
	for offset := int64(0); len(out) < limit; offset += page {
		ids, err := db.client.ZRevRangeByScore(ctx, index, &goredis.ZRangeBy{Max: "+inf", Min: minScore, Offset: offset, Count: page}).Result()
		if err != nil {
			return nil, fmt.Errorf("redis: find deliveries: %w", err)
		}
		ds, err := db.loadDeliveries(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			if match(d) {
				out = append(out, d)
				if len(out) == limit {
					break
				}
			}
		}
		if len(ids) < page {
			break
		}
	}
	return out, nil
}

// findIndexedDeliveries answers FindDeliveries for one address or one
// recipient from its field in the address or recipient index, sorted as
// the sorted-set walks are: newest first, then by ID, descending.
func (db *DB) findIndexedDeliveries(ctx context.Context, key, field string, match func(*queue.Delivery) bool, limit int) ([]*queue.Delivery, error) {
	out := []*queue.Delivery{}
	ids, err := db.client.HGet(ctx, key, field).Result()
	if err == goredis.Nil {
		return out, nil
	} else if err != nil {
		return nil, fmt.Errorf("redis: find deliveries: %w", err)
	}
	ds, err := db.loadDeliveries(ctx, strings.Fields(ids))
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		if match(d) {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID > out[j].ID
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// loadDeliveries reads deliveries by ID in one pipeline, skipping IDs
// whose hash is gone.
func (db *DB) loadDeliveries(ctx context.Context, ids []string) ([]*queue.Delivery, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := db.client.Pipeline()
	cmds := make([]*goredis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, db.keys.delivery(id))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("redis: load deliveries: %w", err)
	}
	out := make([]*queue.Delivery, 0, len(ids))
	for _, c := range cmds {
		m := c.Val()
		if len(m) == 0 {
			continue
		}
		d, err := decodeDelivery(m)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// decodeDelivery rebuilds a delivery from its hash fields.
func decodeDelivery(m map[string]string) (*queue.Delivery, error) {
	var doc deliveryDoc
	if err := json.Unmarshal([]byte(m["j"]), &doc); err != nil {
		return nil, fmt.Errorf("redis: decode delivery: %w", err)
	}
	d := &queue.Delivery{ID: doc.ID, PageID: doc.PageID, IncidentID: doc.IncidentID, UpdateID: doc.UpdateID, BroadcastID: doc.BroadcastID,
		MessageKind: doc.MessageKind, Kind: doc.Kind, Address: doc.Address, RecipientType: doc.RecipientType,
		RecipientID: doc.RecipientID, Name: doc.Name, Language: doc.Language, TimeZone: doc.TimeZone, Critical: doc.Critical,
		CreatedAt: time.UnixMilli(doc.CreatedAt).UTC(), Vars: doc.Vars,
		State: queue.DeliveryState(m["s"]), ProviderID: m["p"], ErrorCode: m["e"], Reason: m["r"]}
	d.Attempts, _ = strconv.Atoi(m["a"])
	d.NextAt = msTime(m["n"])
	d.UpdatedAt = d.CreatedAt
	if v := m["u"]; v != "" {
		d.UpdatedAt = msTime(v)
	}
	if v := m["sa"]; v != "" {
		t := msTime(v)
		d.SentAt = &t
	}
	if v := m["da"]; v != "" {
		t := msTime(v)
		d.DeliveredAt = &t
	}
	return d, nil
}

func msTime(s string) time.Time {
	v, _ := strconv.ParseInt(s, 10, 64)
	return time.UnixMilli(v).UTC()
}
