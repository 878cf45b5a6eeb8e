package redis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

var _ complaint.Store = (*DB)(nil)

// saveComplaintScript saves one complaint and appends its entries, checking
// first, writing only when every check passes.
//
// KEYS (the page's slot): 1 complaints, 2 complaint-versions,
// 3 complaint-indexes, 4 complaints:check, 5 the complaint's entries,
// 6 complaint-external-ids, 7 complaint-seq, 8 complaint-tallies; on a
// single Redis also (the global slot) 9 complaint-pages, 10
// complaint-page-ids.
//
// ARGV: 1 ID, 2 page ID, 3 version, 4 JSON, 5 created_at ms, 6 check_at ms
// or "", 7 JSON array of the index keys the complaint belongs in (all in
// the page's slot, built by keys.go): a key, scored by created_at, or a
// [key, score] pair, 8 the complaint's tally lines as
// "key\tfield" lines (keys in the page's slot), then per entry: at ms,
// external ID or "", JSON.
//
// Checks: the ID is not another page's (KEYS[9], when given); the stored
// version is ARGV[3]-1 (none for 1); no entry's external ID is stored.
// Then the complaint leaves the index keys it was in and joins its new
// ones (ZADD by created_at), so every index holds exactly the complaints
// that match it, and likewise leaves the tally counters it stood in for
// those it stands in now (a counter back at zero is deleted: the queue's
// per-minute ones would pile up). Returns {1, ""} or {0, reason}.
var saveComplaintLua = `
local function save(A)
  local id, page, version = A[1], A[2], tonumber(A[3])
  if KEYS[9] then
    local owner = redis.call('HGET', KEYS[9], id)
    if owner and owner ~= page then return {0, 'complaint ' .. id .. ' exists on another page'} end
  end
  local cur = redis.call('HGET', KEYS[2], id)
  if version == 1 then
    if cur then return {0, 'complaint ' .. id .. ' already exists'} end
  elseif cur ~= tostring(version - 1) then
    return {0, 'complaint ' .. id .. ' was changed meanwhile (expected version ' .. (version - 1) .. '); reload and retry'}
  end
  for i = 9, #A, 3 do
    local ext = A[i+1]
    if ext ~= '' and redis.call('HEXISTS', KEYS[6], ext) == 1 then
      return {0, 'message ' .. ext .. ' is already recorded'}
    end
  end
  -- A new complaint (no version yet) is in no index and no tally.
  local old = cur and redis.call('HGET', KEYS[3], id)
  if old then
    for _, k in ipairs(cjson.decode(old)) do
      if type(k) == 'table' then k = k[1] end
      redis.call('ZREM', k, id)
    end
  end
  for _, k in ipairs(cjson.decode(A[7])) do
    if type(k) == 'table' then redis.call('ZADD', k[1], k[2], id) else redis.call('ZADD', k, A[5], id) end
  end
  redis.call('HSET', KEYS[3], id, A[7])
  local was = cur and redis.call('HGET', KEYS[8], id) or ''
  if was ~= A[8] then
    for k, f in string.gmatch(was, '([^\t\n]+)\t([^\n]+)') do
      if redis.call('HINCRBY', k, f, -1) == 0 then redis.call('HDEL', k, f) end
    end
    for k, f in string.gmatch(A[8], '([^\t\n]+)\t([^\n]+)') do redis.call('HINCRBY', k, f, 1) end
    redis.call('HSET', KEYS[8], id, A[8])
  end
  redis.call('HSET', KEYS[1], id, A[4])
  redis.call('HSET', KEYS[2], id, A[3])
  if A[6] == '' then redis.call('ZREM', KEYS[4], id) else redis.call('ZADD', KEYS[4], A[6], id) end
  local n = 0
  if #A >= 9 then n = redis.call('INCRBY', KEYS[7], (#A - 8) / 3) - (#A - 8) / 3 end
  for i = 9, #A, 3 do
    n = n + 1
    redis.call('ZADD', KEYS[5], A[i], string.format('%016x', n) .. A[i+2])
    if A[i+1] ~= '' then redis.call('HSET', KEYS[6], A[i+1], A[i+2]) end
  end
  if KEYS[9] then
    redis.call('HSET', KEYS[9], id, page)
    redis.call('SADD', KEYS[10], page)
  end
  return {1, ''}
end
`

var saveComplaintScript = goredis.NewScript(saveComplaintLua + `
return save(ARGV)
`)

// saveQueuedScript is saveComplaintScript followed, when the save passes
// its checks, by enqueueScript's insert: SaveComplaintQueued on a single
// Redis. KEYS as saveComplaintScript's (all ten); ARGV: 1 the {global}
// key prefix, 2 the number of entries n, 3 … 10+3n saveComplaintScript's
// ARGV, then the deliveries (insertLua).
var saveQueuedScript = goredis.NewScript(insertLua + saveComplaintLua + `
local n = tonumber(ARGV[2])
local A = {}
for i = 3, 10 + 3 * n do A[#A + 1] = ARGV[i] end
local r = save(A)
if r[1] == 1 and #ARGV >= 11 + 3 * n then insert(ARGV[1], ARGV, 11 + 3 * n) end
return r
`)

// claimComplaintScript is the global part of a save on Redis Cluster,
// run before the page's script: it maps the ID to its page unless
// another page has it. KEYS: complaint-pages, complaint-page-ids. ARGV:
// ID, page ID. Returns 0 when the ID is another page's.
var claimComplaintScript = goredis.NewScript(`
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if owner and owner ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[2])
return 1
`)

// leaseScript takes or renews a lease. KEYS[1]: the lease hash. ARGV:
// holder, now ms, until ms. Returns 1 when holder has it until then, 0
// while another holder's lease lasts beyond now.
var leaseScript = goredis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'holder', 'until')
if cur[1] and cur[1] ~= ARGV[1] and tonumber(cur[2]) > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'until', ARGV[3])
return 1
`)

// contactClaimScript is leaseScript for a contact's intake claim, whose key
// also expires in Redis once the claim has ended (ARGV[4]: ms it lasts),
// so that a claim never released leaves nothing behind.
var contactClaimScript = goredis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'holder', 'until')
if cur[1] and cur[1] ~= ARGV[1] and tonumber(cur[2]) > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'until', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`)

// contactReleaseScript deletes a claim when holder (ARGV[1]) has it.
var contactReleaseScript = goredis.NewScript(`
if redis.call('HGET', KEYS[1], 'holder') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`)

// complaintIndexKeys lists the index keys c belongs in: every selection
// of complaint.Filter that has one, and the open complaints' queue
// selections (complaintsOpenIn, complaintsDue). A key is scored by
// created_at; a [key, score] pair by its score.
func (db *DB) complaintIndexKeys(c *complaint.Complaint) []any {
	k, p := db.keys, c.PageID
	keys := []any{k.complaintsByCreated(p), k.complaintsByState(p, string(c.State))}
	tag := "u"
	if id := c.IncidentID(); id != "" {
		tag = "i:" + id
		keys = append(keys, k.complaintsByIncident(p, id))
	} else {
		keys = append(keys, k.complaintsUntagged(p))
	}
	owner := "unassigned"
	if c.Owner != "" {
		owner = "owner:" + c.Owner
		keys = append(keys, k.complaintsByOwner(p, c.Owner))
	} else {
		keys = append(keys, k.complaintsUnassigned(p))
	}
	if c.Repeat {
		keys = append(keys, k.complaintsRepeat(p))
	}
	if c.Open() {
		// The queue's tabs, on the whole page and within the tag.
		keys = append(keys, k.complaintsOpen(p), k.complaintsOpenIn(p, tag), k.complaintsOpenIn(p, owner),
			k.complaintsOpenIn(p, tag+"/"+owner))
		if c.Repeat {
			keys = append(keys, k.complaintsOpenIn(p, "repeat"), k.complaintsOpenIn(p, tag+"/repeat"))
		}
		if due := c.DueAt(); !due.IsZero() {
			keys = append(keys, []string{k.complaintsDue(p, "all"), msString(due)}, []string{k.complaintsDue(p, tag), msString(due)})
		}
	}
	if key := c.Contact.Key(); key != "" {
		keys = append(keys, k.complaintsByContact(p, key))
	}
	if c.Channel != "" {
		keys = append(keys, k.complaintsByChannel(p, string(c.Channel)))
	}
	if c.Category != "" {
		keys = append(keys, k.complaintsByCategory(p, string(c.Category)))
	}
	return keys
}

// SaveComplaint implements complaint.Store with saveComplaintScript: on a
// single Redis one script, hence atomic. On Cluster the ID's global
// lookup is claimed first (claimComplaintScript), then the page's script
// checks and writes; a refused save can leave only that lookup behind,
// which reads ignore (the complaint is not in its page).
func (db *DB) SaveComplaint(ctx context.Context, c *complaint.Complaint, entries []*complaint.Entry) error {
	keys, args, err := db.complaintSaveArgs(c, entries)
	if err != nil {
		return err
	}
	if db.perSlot {
		ok, err := claimComplaintScript.Run(ctx, db.client, []string{db.keys.complaintPages(), db.keys.complaintPageIDs()}, c.ID, c.PageID).Int()
		if err != nil {
			return fmt.Errorf("redis: save complaint: %w", err)
		}
		if ok == 0 {
			return incident.Errorf(incident.ECONFLICT, "complaint %s exists on another page", c.ID)
		}
	} else {
		keys = append(keys, db.keys.complaintPages(), db.keys.complaintPageIDs())
	}
	return saveReply(saveComplaintScript.Run(ctx, db.client, keys, args...).Slice())
}

// SaveComplaintQueued implements complaint.Store with saveQueuedScript on
// a single Redis. On Cluster the deliveries live in the {global} slot and
// the complaint in its page's, which no script spans: ErrNotAtomic.
func (db *DB) SaveComplaintQueued(ctx context.Context, c *complaint.Complaint, entries []*complaint.Entry, ds []*queue.Delivery) error {
	keys, args, err := db.complaintSaveArgs(c, entries)
	if err != nil {
		return err
	}
	if len(ds) > maxScriptDeliveries {
		return incident.Invalid("deliveries", "at most %d deliveries go with a complaint's save", maxScriptDeliveries)
	}
	all := make([]any, 0, 2+len(args)+len(ds)*insertStride)
	all = append(all, db.globalPrefix(), strconv.Itoa(len(entries)))
	all = append(all, args...)
	if all, err = db.insertArgs(all, ds, db.now()); err != nil {
		return err
	}
	if db.perSlot {
		return complaint.ErrNotAtomic
	}
	keys = append(keys, db.keys.complaintPages(), db.keys.complaintPageIDs())
	return saveReply(saveQueuedScript.Run(ctx, db.client, keys, all...).Slice())
}

// complaintSaveArgs checks a save and returns saveComplaintScript's first
// eight keys (the page's slot) and its ARGV.
func (db *DB) complaintSaveArgs(c *complaint.Complaint, entries []*complaint.Entry) ([]string, []any, error) {
	if c == nil || !incident.ValidID(c.ID) || !incident.ValidID(c.PageID) {
		return nil, nil, incident.Invalid("complaint.id", "a complaint needs a valid ID and page")
	}
	if err := complaint.CheckSave(c, entries); err != nil {
		return nil, nil, err
	}
	v := c.WithTimes(utcMS)
	doc, err := encode(v)
	if err != nil {
		return nil, nil, err
	}
	index, err := encode(db.complaintIndexKeys(v))
	if err != nil {
		return nil, nil, err
	}
	checkAt := ""
	if !v.CheckAt.IsZero() {
		checkAt = msString(v.CheckAt)
	}
	k, p := db.keys, c.PageID
	keys := make([]string, 0, 10)
	keys = append(keys, k.complaints(p), k.complaintVersions(p), k.complaintIndexes(p), k.complaintsToCheck(p),
		k.complaintEntries(p, c.ID), k.complaintExternalIDs(p), k.complaintSeq(p), k.complaintTallies(p))
	var tally strings.Builder
	for i, line := range v.TallyLines() {
		scope, field, _ := complaint.SplitTallyLine(line)
		if i > 0 {
			tally.WriteByte('\n')
		}
		tally.WriteString(k.complaintTally(p, scope) + "\t" + field)
	}
	args := make([]any, 0, 8+3*len(entries))
	args = append(args, c.ID, p, strconv.Itoa(c.Version), doc, msString(v.CreatedAt), checkAt, index, tally.String())
	for _, e := range entries {
		ev := *e
		ev.At = utcMS(e.At)
		edoc, err := encode(&ev)
		if err != nil {
			return nil, nil, err
		}
		args = append(args, msString(ev.At), e.ExternalID, edoc)
	}
	return keys, args, nil
}

// saveReply reads a save script's {ok, reason}.
func saveReply(res []any, err error) error {
	if err != nil {
		return fmt.Errorf("redis: save complaint: %w", err)
	}
	if len(res) != 2 {
		return fmt.Errorf("redis: save complaint: unexpected reply %v", res)
	}
	if ok, _ := res[0].(int64); ok != 1 {
		msg, _ := res[1].(string)
		return incident.Errorf(incident.ECONFLICT, "%s", msg)
	}
	return nil
}

// complaintPage returns the page of complaint id, or ENOTFOUND.
func (db *DB) complaintPage(ctx context.Context, id string) (string, error) {
	if !incident.ValidID(id) {
		return "", incident.NotFound("complaint", id)
	}
	pageID, err := db.client.HGet(ctx, db.keys.complaintPages(), id).Result()
	if errors.Is(err, goredis.Nil) {
		return "", incident.NotFound("complaint", id)
	} else if err != nil {
		return "", fmt.Errorf("redis: find complaint: %w", err)
	}
	return pageID, nil
}

// FindComplaintByID implements complaint.Store.
func (db *DB) FindComplaintByID(ctx context.Context, id string) (*complaint.Complaint, error) {
	pageID, err := db.complaintPage(ctx, id)
	if err != nil {
		return nil, err
	}
	s, err := db.client.HGet(ctx, db.keys.complaints(pageID), id).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, incident.NotFound("complaint", id)
	} else if err != nil {
		return nil, fmt.Errorf("redis: find complaint: %w", err)
	}
	return decode[complaint.Complaint](s)
}

// FindComplaintsByRef implements complaint.Store: a scan of the page's
// complaints hash for the IDs the reference begins (HSCAN MATCH, in
// Redis; a lookup a person makes, reading the page's complaint IDs once).
func (db *DB) FindComplaintsByRef(ctx context.Context, pageID, ref string) ([]*complaint.Complaint, error) {
	prefix, ok := complaint.RefPrefix(ref)
	if !ok {
		return nil, incident.Invalid("ref", "not a complaint reference (C- and eight letters or digits)")
	}
	var out []*complaint.Complaint
	var cursor uint64
	for {
		kv, next, err := db.client.HScan(ctx, db.keys.complaints(pageID), cursor, prefix+"*", 1000).Result()
		if err != nil {
			return nil, fmt.Errorf("redis: find complaints by reference: %w", err)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			c, err := decode[complaint.Complaint](kv[i+1])
			if err != nil {
				return nil, err
			}
			if c.PageID == pageID && complaint.NewRef(c.ID) == strings.ToUpper(ref) && !containsComplaint(out, c.ID) {
				out = append(out, c)
			}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	complaint.SortNewestFirst(out)
	return out, nil
}

// containsComplaint: HSCAN may return an entry twice while the hash grows.
func containsComplaint(cs []*complaint.Complaint, id string) bool {
	for _, c := range cs {
		if c.ID == id {
			return true
		}
	}
	return false
}

// complaintRef is one complaint in an index: its page, ID and score.
type complaintRef struct {
	pageID, id string
	score      float64
}

// complaintCond is one condition of a filter on a page's indexes: a
// complaint matches it when it is in any of keys with a score in
// [min, max). Keys are scored by created_at, or by DueAt when due.
type complaintCond struct {
	keys     []string
	min, max float64
	due      bool
}

// rangeArgs are cond's bounds as ZCOUNT and ZRANGEBYSCORE take them.
func (c complaintCond) rangeArgs() (lo, hi string) {
	lo, hi = "-inf", "+inf"
	if !math.IsInf(c.min, -1) {
		lo = strconv.FormatFloat(c.min, 'f', -1, 64)
	}
	if !math.IsInf(c.max, 1) {
		hi = "(" + strconv.FormatFloat(c.max, 'f', -1, 64)
	}
	return lo, hi
}

func (c complaintCond) holds(score float64) bool { return score >= c.min && score < c.max }

// complaintConds returns the conditions f selects on in page pageID; a
// complaint matches f when it matches every one. Open with a queue
// selection (an incident, triage, unassigned, an owner, repeats) reads
// that selection's open-only key, and DueBefore an at-risk key, so each
// of the agents' queue tabs is a single key, read a window at a time.
func (db *DB) complaintConds(pageID string, f complaint.Filter) []complaintCond {
	k := db.keys
	created := complaintCond{min: math.Inf(-1), max: math.Inf(1)}
	if !f.Since.IsZero() {
		created.min = float64(f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		created.max = float64(f.Until.UnixMilli())
	}
	var conds []complaintCond
	one := func(key string) {
		c := created
		c.keys = []string{key}
		conds = append(conds, c)
	}
	open := f.Open
	incident, untagged := f.IncidentID != "", f.Untagged
	if !f.DueBefore.IsZero() {
		sel := "all"
		switch {
		case incident:
			sel, incident = "i:"+f.IncidentID, false
		case untagged:
			sel, untagged = "u", false
		}
		conds = append(conds, complaintCond{keys: []string{k.complaintsDue(pageID, sel)}, min: math.Inf(-1),
			max: float64(f.DueBefore.UnixMilli()), due: true})
		open = false // only open complaints have a due key
		if !f.Since.IsZero() || !f.Until.IsZero() {
			one(k.complaintsByCreated(pageID))
		}
	}
	if len(f.States) > 0 {
		c := created
		seen := map[complaint.State]bool{}
		for _, s := range f.States {
			if !seen[s] {
				seen[s] = true
				c.keys = append(c.keys, k.complaintsByState(pageID, string(s)))
			}
		}
		conds = append(conds, c)
	}
	// sel adds a selection: its open-only key while Open is still to be
	// met, its plain key otherwise.
	sel := func(plain, openSel string) {
		if open {
			one(k.complaintsOpenIn(pageID, openSel))
			open = false
		} else {
			one(plain)
		}
	}
	// Open, a tag and one of the queue's tabs: one key of the tab within
	// the tag.
	tag := ""
	switch {
	case incident:
		tag = "i:" + f.IncidentID
	case untagged:
		tag = "u"
	}
	owner, unassigned, repeat := f.Owner, f.Unassigned, f.Repeat
	if open && tag != "" && !(incident && untagged) {
		tab := ""
		switch {
		case owner != "":
			tab, owner = "owner:"+owner, ""
		case unassigned:
			tab, unassigned = "unassigned", false
		case repeat:
			tab, repeat = "repeat", false
		}
		if tab != "" {
			one(k.complaintsOpenIn(pageID, tag+"/"+tab))
			open, incident, untagged = false, false, false
		}
	}
	if incident {
		sel(k.complaintsByIncident(pageID, f.IncidentID), "i:"+f.IncidentID)
	}
	if untagged {
		sel(k.complaintsUntagged(pageID), "u")
	}
	if owner != "" {
		sel(k.complaintsByOwner(pageID, owner), "owner:"+owner)
	}
	if unassigned {
		sel(k.complaintsUnassigned(pageID), "unassigned")
	}
	if repeat {
		sel(k.complaintsRepeat(pageID), "repeat")
	}
	if open {
		one(k.complaintsOpen(pageID))
	}
	if f.ContactKey != "" {
		one(k.complaintsByContact(pageID, f.ContactKey))
	}
	if f.Channel != "" {
		one(k.complaintsByChannel(pageID, string(f.Channel)))
	}
	if f.Category != "" {
		one(k.complaintsByCategory(pageID, string(f.Category)))
	}
	if len(conds) == 0 {
		one(k.complaintsByCreated(pageID))
	}
	return conds
}

// pageComplaintRefs returns the refs of page pageID's complaints that
// match f (newest first, ties by ID descending; with DueBefore soonest
// due first, ties by ID ascending) and how many match. A filter of one
// key reads only keep refs (0: all) after the first skip of it, counts
// with ZCOUNT, and says it windowed: a page of a long list costs its own
// length. Otherwise it reads the members of the condition with the
// fewest (by ZCOUNT) and checks the others by membership (ZMSCORE),
// never decoding a document.
func (db *DB) pageComplaintRefs(ctx context.Context, pageID string, f complaint.Filter, skip, keep int) (refs []complaintRef, total int, windowed bool, err error) {
	conds := db.complaintConds(pageID, f)
	if len(conds) == 1 && len(conds[0].keys) == 1 {
		c := conds[0]
		key := c.keys[0]
		lo, hi := c.rangeArgs()
		pipe := db.client.Pipeline()
		var count *goredis.IntCmd
		if !f.SkipCount {
			count = pipe.ZCount(ctx, key, lo, hi)
		}
		count64 := int64(keep)
		if keep <= 0 {
			count64 = -1 // with an offset, LIMIT needs a count: -1 is all
		}
		var zs *goredis.ZSliceCmd
		if c.due {
			zs = pipe.ZRangeByScoreWithScores(ctx, key, &goredis.ZRangeBy{Min: lo, Max: hi, Offset: int64(skip), Count: count64})
		} else {
			zs = pipe.ZRevRangeByScoreWithScores(ctx, key, &goredis.ZRangeBy{Min: lo, Max: hi, Offset: int64(skip), Count: count64})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, 0, false, fmt.Errorf("redis: find complaints: %w", err)
		}
		refs := make([]complaintRef, 0, len(zs.Val()))
		for _, z := range zs.Val() {
			refs = append(refs, complaintRef{pageID: pageID, id: z.Member.(string), score: z.Score})
		}
		if count == nil {
			return refs, -1, true, nil
		}
		return refs, int(count.Val()), true, nil
	}

	pipe := db.client.Pipeline()
	counts := make([][]*goredis.IntCmd, len(conds))
	for i, c := range conds {
		lo, hi := c.rangeArgs()
		for _, key := range c.keys {
			counts[i] = append(counts[i], pipe.ZCount(ctx, key, lo, hi))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, 0, false, fmt.Errorf("redis: find complaints: %w", err)
	}
	best, fewest := 0, int64(-1)
	for i, cmds := range counts {
		var n int64
		for _, c := range cmds {
			n += c.Val()
		}
		if fewest < 0 || n < fewest {
			best, fewest = i, n
		}
	}
	if fewest == 0 {
		return []complaintRef{}, 0, false, nil
	}

	pipe = db.client.Pipeline()
	var ranges []*goredis.ZSliceCmd
	lo, hi := conds[best].rangeArgs()
	for _, key := range conds[best].keys {
		ranges = append(ranges, pipe.ZRangeByScoreWithScores(ctx, key, &goredis.ZRangeBy{Min: lo, Max: hi}))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, 0, false, fmt.Errorf("redis: find complaints: %w", err)
	}
	ids := []any{}
	for _, r := range ranges {
		for _, z := range r.Val() {
			id := z.Member.(string)
			refs = append(refs, complaintRef{pageID: pageID, id: id, score: z.Score})
			ids = append(ids, id)
		}
	}
	for i, c := range conds {
		if i == best || len(refs) == 0 {
			continue
		}
		pipe = db.client.Pipeline()
		var scores []*goredis.Cmd
		for _, key := range c.keys {
			scores = append(scores, pipe.Do(ctx, append([]any{"ZMSCORE", key}, ids...)...))
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
			return nil, 0, false, fmt.Errorf("redis: find complaints: %w", err)
		}
		in := make([]bool, len(refs))
		for _, cmd := range scores {
			vals, err := cmd.Slice()
			if err != nil {
				return nil, 0, false, fmt.Errorf("redis: find complaints: %w", err)
			}
			for j, v := range vals {
				var score float64
				switch v := v.(type) {
				case float64: // RESP3
					score = v
				case string: // RESP2
					f, err := strconv.ParseFloat(v, 64)
					if err != nil {
						continue
					}
					score = f
				default: // nil: not a member
					continue
				}
				if !c.holds(score) {
					continue
				}
				in[j] = true
				if c.due {
					refs[j].score = score // the order is by due time
				}
			}
		}
		kept, keptIDs := refs[:0], ids[:0]
		for j, r := range refs {
			if in[j] {
				kept, keptIDs = append(kept, r), append(keptIDs, r.id)
			}
		}
		refs, ids = kept, keptIDs
	}
	sortComplaintRefs(refs, !f.DueBefore.IsZero())
	return refs, len(refs), false, nil
}

// sortComplaintRefs orders refs newest first, ties by ID descending, or
// (byDue) soonest due first, ties by ID ascending.
func sortComplaintRefs(refs []complaintRef, byDue bool) {
	sort.Slice(refs, func(i, j int) bool {
		if byDue {
			if refs[i].score != refs[j].score {
				return refs[i].score < refs[j].score
			}
			return refs[i].id < refs[j].id
		}
		if refs[i].score != refs[j].score {
			return refs[i].score > refs[j].score
		}
		return refs[i].id > refs[j].id
	})
}

// complaintPageIDs returns the pages f reads: its own, or every page
// that has complaints.
func (db *DB) complaintPageIDs(ctx context.Context, pageID string) ([]string, error) {
	if pageID != "" {
		if !incident.ValidID(pageID) {
			return nil, nil
		}
		return []string{pageID}, nil
	}
	ids, err := db.client.SMembers(ctx, db.keys.complaintPageIDs()).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: find complaints: %w", err)
	}
	sort.Strings(ids)
	return ids, nil
}

// FindComplaints implements complaint.Store from the per-page indexes
// (see pageComplaintRefs); it decodes only the documents it returns.
// Without a page it reads every page that has complaints and merges.
func (db *DB) FindComplaints(ctx context.Context, f complaint.Filter) ([]*complaint.Complaint, int, error) {
	pages, err := db.complaintPageIDs(ctx, f.PageID)
	if err != nil {
		return nil, 0, err
	}
	// One page is windowed by Redis; several are merged, each read up to
	// the window's end.
	skip, keep := max(f.Offset, 0), max(f.Limit, 0)
	if len(pages) > 1 {
		skip = 0
		if keep > 0 {
			keep += max(f.Offset, 0)
		}
	}
	var refs []complaintRef
	total, windowed := 0, false
	for _, p := range pages {
		r, n, w, err := db.pageComplaintRefs(ctx, p, f, skip, keep)
		if err != nil {
			return nil, 0, err
		}
		refs = append(refs, r...)
		total += n
		windowed = w && len(pages) == 1
	}
	if len(pages) > 1 {
		sortComplaintRefs(refs, !f.DueBefore.IsZero())
	}
	lo, hi := window(len(refs), f.Offset, f.Limit)
	if windowed {
		lo, hi = 0, len(refs)
	}
	cs, err := db.loadComplaints(ctx, refs[lo:hi])
	if err != nil {
		return nil, 0, err
	}
	if f.SkipCount {
		total = -1
	}
	return cs, total, nil
}

// loadComplaints reads the documents of refs in order.
func (db *DB) loadComplaints(ctx context.Context, refs []complaintRef) ([]*complaint.Complaint, error) {
	out := make([]*complaint.Complaint, 0, len(refs))
	if len(refs) == 0 {
		return out, nil
	}
	pipe := db.client.Pipeline()
	cmds := make([]*goredis.StringCmd, len(refs))
	for i, r := range refs {
		cmds[i] = pipe.HGet(ctx, db.keys.complaints(r.pageID), r.id)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis: load complaints: %w", err)
	}
	for _, cmd := range cmds {
		s, err := cmd.Result()
		if errors.Is(err, goredis.Nil) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("redis: load complaints: %w", err)
		}
		c, err := decode[complaint.Complaint](s)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// FindEntries implements complaint.Store; ENOTFOUND when there is no such
// complaint.
func (db *DB) FindEntries(ctx context.Context, complaintID string) ([]*complaint.Entry, error) {
	pageID, err := db.complaintPage(ctx, complaintID)
	if err != nil {
		return nil, err
	}
	pipe := db.client.Pipeline()
	exists := pipe.HExists(ctx, db.keys.complaints(pageID), complaintID)
	zs := pipe.ZRangeWithScores(ctx, db.keys.complaintEntries(pageID, complaintID), 0, -1)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("redis: find entries: %w", err)
	}
	if !exists.Val() {
		return nil, incident.NotFound("complaint", complaintID)
	}
	out := make([]*complaint.Entry, 0, len(zs.Val()))
	for _, z := range zs.Val() {
		m, err := parseSeqMember(z)
		if err != nil {
			return nil, err
		}
		e, err := decode[complaint.Entry](m.json)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// FindEntryByExternalID implements complaint.Store.
func (db *DB) FindEntryByExternalID(ctx context.Context, pageID, externalID string) (*complaint.Entry, error) {
	if !incident.ValidID(pageID) || externalID == "" {
		return nil, incident.NotFound("complaint entry", externalID)
	}
	s, err := db.client.HGet(ctx, db.keys.complaintExternalIDs(pageID), externalID).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, incident.NotFound("complaint entry", externalID)
	} else if err != nil {
		return nil, fmt.Errorf("redis: find entry: %w", err)
	}
	return decode[complaint.Entry](s)
}

// FindComplaintsToCheck implements complaint.Store: the first limit due
// members of each page's check index, merged earliest first (ties by ID).
func (db *DB) FindComplaintsToCheck(ctx context.Context, now time.Time, limit int) ([]*complaint.Complaint, error) {
	pages, err := db.complaintPageIDs(ctx, "")
	if err != nil {
		return nil, err
	}
	count := int64(max(limit, 0))
	pipe := db.client.Pipeline()
	cmds := make([]*goredis.ZSliceCmd, len(pages))
	for i, p := range pages {
		cmds[i] = pipe.ZRangeByScoreWithScores(ctx, db.keys.complaintsToCheck(p), &goredis.ZRangeBy{Min: "-inf", Max: msString(now), Count: count})
	}
	if len(pages) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("redis: find complaints to check: %w", err)
		}
	}
	var refs []complaintRef
	for i, cmd := range cmds {
		for _, z := range cmd.Val() {
			refs = append(refs, complaintRef{pageID: pages[i], id: z.Member.(string), score: z.Score})
		}
	}
	sort.Slice(refs, func(i, j int) bool {
		if refs[i].score != refs[j].score {
			return refs[i].score < refs[j].score
		}
		return refs[i].id < refs[j].id
	})
	if limit > 0 && len(refs) > limit {
		refs = refs[:limit]
	}
	return db.loadComplaints(ctx, refs)
}

// NextTurn implements complaint.Store with INCR.
func (db *DB) NextTurn(ctx context.Context, key string) (int64, error) {
	n, err := db.client.Incr(ctx, db.keys.turn(key)).Result()
	if err != nil {
		return 0, fmt.Errorf("redis: next turn: %w", err)
	}
	return n, nil
}

// Lease implements complaint.Store with leaseScript. Expiry is judged by
// the caller's now, not by a Redis TTL, so every node (and the suite)
// decides by the same clock; a lease is a small hash per name that stays.
func (db *DB) Lease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	ok, err := leaseScript.Run(ctx, db.client, []string{db.keys.lease(name)}, holder, msString(now), msString(until)).Int()
	if err != nil {
		return false, fmt.Errorf("redis: lease %s: %w", name, err)
	}
	return ok == 1, nil
}

// ClaimContact implements complaint.Store with contactClaimScript, in the page's
// slot.
func (db *DB) ClaimContact(ctx context.Context, pageID, key, holder string, now, until time.Time) (bool, error) {
	ttl := until.Sub(now).Milliseconds() + 1000 // judged by now; the TTL only clears it away
	if ttl < 1000 {
		ttl = 1000
	}
	ok, err := contactClaimScript.Run(ctx, db.client, []string{db.keys.contactClaim(pageID, key)}, holder, msString(now), msString(until), ttl).Int()
	if err != nil {
		return false, fmt.Errorf("redis: claim contact: %w", err)
	}
	return ok == 1, nil
}

// ReleaseContact implements complaint.Store with contactReleaseScript.
func (db *DB) ReleaseContact(ctx context.Context, pageID, key, holder string) error {
	if err := contactReleaseScript.Run(ctx, db.client, []string{db.keys.contactClaim(pageID, key)}, holder).Err(); err != nil {
		return fmt.Errorf("redis: release contact: %w", err)
	}
	return nil
}
