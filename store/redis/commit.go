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

	"github.com/heraldhq/herald/incident"
)

// commitScript applies one prepared batch atomically. ARGV[1] is a JSON
// object {"c": checks, "w": writes}; ARGV[2] is the caller's clock in unix
// ms. Every check runs before any write, so a failed check writes nothing
// and returns {0, message}; success returns {1, ""}. Ops name keys by their
// 1-based index in KEYS; scores and versions travel as strings, because Lua
// numbers would print large millisecond values in exponent form.
//
// Checks:
//
//	ver   HGET KEYS[k] f must equal v ("0": the field must not exist)
//	idem  KEYS[k] must be absent or expired ("<expires ms>:<id>" ≤ now)
//	keep  hash KEYS[k] (the pages) must keep a field after the fields a
//	      are deleted and the fields b written
//
// Writes:
//
//	hset hdel del zadd zrem sadd   the Redis command on KEYS[k]
//	zaddseq   ZADD KEYS[k] s (16-hex INCR KEYS[q]) .. v: orders equal scores by insertion
//	ztrim     keep the n highest-ranked members
//	happend   append "\n" .. v to hash field f
//	xadd      XADD KEYS[k] * a...
//	setpx     SET KEYS[k] v PX s
//	delset    DEL v .. m for every member m of set KEYS[k], then DEL KEYS[k]
//	          (the derived keys share KEYS[k]'s hash tag, so its slot)
var commitScript = goredis.NewScript(`
local ops = cjson.decode(ARGV[1])
local now = tonumber(ARGV[2])
for _, c in ipairs(ops.c) do
  local k = KEYS[c.k]
  if c.o == 'ver' then
    local cur = redis.call('HGET', k, c.f)
    if c.v == '0' then
      if cur then return {0, c.m} end
    elseif cur ~= c.v then
      return {0, c.m}
    end
  elseif c.o == 'keep' then
    local seen, n = {}, redis.call('HLEN', k)
    for _, f in ipairs(c.a) do
      if not seen[f] then
        seen[f] = true
        if redis.call('HEXISTS', k, f) == 1 then n = n - 1 end
      end
    end
    for _, f in ipairs(c.b or {}) do
      if not seen[f] then
        seen[f] = true
        if redis.call('HEXISTS', k, f) == 0 then n = n + 1 end
      end
    end
    if n < 1 then return {0, c.m} end
  elseif c.o == 'idem' then
    local cur = redis.call('GET', k)
    if cur then
      local exp = tonumber(string.match(cur, '^(%d+):'))
      if exp == nil or exp > now then return {0, c.m} end
    end
  else
    return redis.error_reply('herald: unknown check ' .. tostring(c.o))
  end
end
for _, w in ipairs(ops.w) do
  local k = KEYS[w.k]
  local o = w.o
  if o == 'hset' then redis.call('HSET', k, w.f, w.v)
  elseif o == 'hdel' then redis.call('HDEL', k, w.f)
  elseif o == 'del' then redis.call('DEL', k)
  elseif o == 'zadd' then redis.call('ZADD', k, w.s, w.v)
  elseif o == 'zrem' then redis.call('ZREM', k, w.v)
  elseif o == 'sadd' then redis.call('SADD', k, w.v)
  elseif o == 'zaddseq' then
    local n = redis.call('INCR', KEYS[w.q])
    redis.call('ZADD', k, w.s, string.format('%016x', n) .. w.v)
  elseif o == 'ztrim' then redis.call('ZREMRANGEBYRANK', k, 0, -(w.n + 1))
  elseif o == 'happend' then
    local cur = redis.call('HGET', k, w.f)
    if cur then redis.call('HSET', k, w.f, cur .. '\n' .. w.v) else redis.call('HSET', k, w.f, w.v) end
  elseif o == 'xadd' then redis.call('XADD', k, '*', unpack(w.a))
  elseif o == 'setpx' then redis.call('SET', k, w.v, 'PX', w.s)
  elseif o == 'delset' then
    for _, m in ipairs(redis.call('SMEMBERS', k)) do redis.call('DEL', w.v .. m) end
    redis.call('DEL', k)
  else
    return redis.error_reply('herald: unknown op ' .. tostring(o))
  end
end
return {1, ''}
`)

// op is one check or write of commitScript.
type op struct {
	O string   `json:"o"`
	K int      `json:"k"`
	F string   `json:"f"`
	V string   `json:"v"`
	S string   `json:"s,omitempty"`
	Q int      `json:"q,omitempty"`
	N int      `json:"n,omitempty"`
	A []string `json:"a,omitempty"`
	B []string `json:"b,omitempty"`
	M string   `json:"m,omitempty"`
}

// batch is the part of a Change that one script invocation applies.
type batch struct {
	tag    string
	keys   []string
	index  map[string]int
	Checks []op `json:"c"`
	Writes []op `json:"w"`
}

func (b *batch) key(k string) int {
	if i, ok := b.index[k]; ok {
		return i
	}
	b.keys = append(b.keys, k)
	b.index[k] = len(b.keys)
	return len(b.keys)
}

func (b *batch) check(o op)             { b.Checks = append(b.Checks, o) }
func (b *batch) write(o op)             { b.Writes = append(b.Writes, o) }
func (b *batch) hset(k, f, v string)    { b.write(op{O: "hset", K: b.key(k), F: f, V: v}) }
func (b *batch) hdel(k, f string)       { b.write(op{O: "hdel", K: b.key(k), F: f}) }
func (b *batch) del(k string)           { b.write(op{O: "del", K: b.key(k)}) }
func (b *batch) zadd(k, s, v string)    { b.write(op{O: "zadd", K: b.key(k), S: s, V: v}) }
func (b *batch) zrem(k, v string)       { b.write(op{O: "zrem", K: b.key(k), V: v}) }
func (b *batch) sadd(k, v string)       { b.write(op{O: "sadd", K: b.key(k), V: v}) }
func (b *batch) happend(k, f, v string) { b.write(op{O: "happend", K: b.key(k), F: f, V: v}) }
func (b *batch) zaddseq(k, seq, s, v string) {
	b.write(op{O: "zaddseq", K: b.key(k), Q: b.key(seq), S: s, V: v})
}

// plan collects a Change's batches. On a single Redis everything goes into
// one batch, so the whole Change is one atomic script. On Redis Cluster a
// script may only touch one slot, so there is one batch per hash tag.
type plan struct {
	perSlot bool
	batches map[string]*batch
}

func (p *plan) batch(tag string) *batch {
	if !p.perSlot {
		tag = ""
	}
	b, ok := p.batches[tag]
	if !ok {
		b = &batch{tag: tag, index: map[string]int{}, Checks: []op{}, Writes: []op{}}
		p.batches[tag] = b
	}
	return b
}

const globalTag = "global"

// ordered returns the batches in the order they run: on Cluster, those with
// checks first (incident versions live in page slots, so a version conflict
// stops the Change before anything is written), then by tag.
func (p *plan) ordered() []*batch {
	out := make([]*batch, 0, len(p.batches))
	for _, b := range p.batches {
		if len(b.Checks) > 0 || len(b.Writes) > 0 {
			out = append(out, b)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		vi, vj := hasCheck(out[i], "ver"), hasCheck(out[j], "ver")
		if vi != vj {
			return vi
		}
		ci, cj := len(out[i].Checks) > 0, len(out[j].Checks) > 0
		if ci != cj {
			return ci
		}
		return out[i].tag < out[j].tag
	})
	return out
}

func hasCheck(b *batch, name string) bool {
	for _, c := range b.Checks {
		if c.O == name {
			return true
		}
	}
	return false
}

func encode(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("redis: encode %T: %w", v, err)
	}
	return string(b), nil
}

// tokenRecord is how a token is stored: Token hides its hash from JSON.
type tokenRecord struct {
	incident.Token
	Hash string `json:"hash"`
}

// seqKey is the counter that orders a slot's members written in the same
// millisecond. On a single Redis one counter serves everything, so entries
// of different pages order by insertion exactly as in SQLite; on Cluster
// each slot has its own.
func (db *DB) seqKey(tag string) string {
	if !db.perSlot || tag == globalTag {
		return db.keys.globalSeq()
	}
	return db.keys.seq(tag)
}

// Commit implements incident.Store. Like the SQLite engine it checks every
// incident version and the idempotency key first, then writes the upserts
// and records, then the deletions (so what the Change wrote about a deleted
// object goes with it, while the audit log and the outbox stay). On a single
// Redis the whole Change is one Lua script, hence atomic; on Cluster see
// doc.go.
func (db *DB) Commit(ctx context.Context, c *incident.Change) error {
	if c == nil {
		return nil
	}
	if err := validateChange(c); err != nil {
		return err
	}
	now := db.now()
	p := &plan{perSlot: db.perSlot, batches: map[string]*batch{}}
	db.planIdempotency(p, c.Idempotency, now)
	// In this order: within a batch the script writes in the order planned.
	for _, step := range []func(*plan, *incident.Change) error{
		db.planPages, db.planComponents, db.planIncidents, db.planStatusChanges,
		db.planAudit, db.planBroadcasts, db.planTokens,
	} {
		if err := step(p, c); err != nil {
			return err
		}
	}
	// Deletions. The page of a deleted object comes from the lookups, read
	// before the script runs: an answer gone stale meanwhile leaves at worst
	// a dangling lookup entry, which reads ignore (they check the page's own
	// data), never a wrong result.
	if err := db.planDeletes(ctx, p, c); err != nil {
		return err
	}
	return db.runPlan(ctx, p, now)
}

// planIdempotency checks that the Change's idempotency key is unused (or
// expired) and records it until it expires. A key already expired is only
// checked: a Redis TTL must be positive.
func (db *DB) planIdempotency(p *plan, ik *incident.IdempotencyKey, now time.Time) {
	if ik == nil {
		return
	}
	g := p.batch(globalTag)
	key := db.keys.idempotency(ik.Scope, ik.Key)
	g.check(op{O: "idem", K: g.key(key), M: "the idempotency key was already used"})
	if ttl := ik.ExpiresAt.Sub(now).Milliseconds(); ttl > 0 {
		g.write(op{O: "setpx", K: g.key(key), V: msString(ik.ExpiresAt) + ":" + ik.ResourceID, S: strconv.FormatInt(ttl, 10)})
	}
}

// planPages writes the Change's pages, which live in the global slot.
func (db *DB) planPages(p *plan, c *incident.Change) error {
	g := p.batch(globalTag)
	for _, pg := range c.Pages {
		doc, err := encode(normPage(pg))
		if err != nil {
			return err
		}
		g.hset(db.keys.pages(), pg.ID, doc)
	}
	return nil
}

// planComponents writes each component in its page's slot and its page in
// the global lookup, which is how a deletion finds the page.
func (db *DB) planComponents(p *plan, c *incident.Change) error {
	k, g := db.keys, p.batch(globalTag)
	for _, comp := range c.Components {
		doc, err := encode(normComponent(comp))
		if err != nil {
			return err
		}
		g.hset(k.componentPages(), comp.ID, comp.PageID)
		p.batch(comp.PageID).hset(k.components(comp.PageID), comp.ID, doc)
	}
	return nil
}

// planIncidents writes each incident after checking that the version it
// was read at is still the stored one (none at all for a new incident), so
// concurrent writers cannot overwrite each other. It moves the incident to
// its status's index, out of every other.
func (db *DB) planIncidents(p *plan, c *incident.Change) error {
	k, g := db.keys, p.batch(globalTag)
	for _, inc := range c.Incidents {
		doc, err := encode(normIncident(inc))
		if err != nil {
			return err
		}
		b := p.batch(inc.PageID)
		msg := fmt.Sprintf("incident %q was changed or deleted meanwhile (expected version %d); reload and retry", inc.ID, inc.Version-1)
		if inc.Version == 1 {
			msg = fmt.Sprintf("incident %q already exists", inc.ID)
		}
		b.check(op{O: "ver", K: b.key(k.incidentVersions(inc.PageID)), F: inc.ID, V: strconv.Itoa(inc.Version - 1), M: msg})
		b.hset(k.incidents(inc.PageID), inc.ID, doc)
		b.hset(k.incidentVersions(inc.PageID), inc.ID, strconv.Itoa(inc.Version))
		created := msString(inc.CreatedAt)
		b.zadd(k.incidentsByCreated(inc.PageID), created, inc.ID)
		for _, s := range allStatuses {
			if s != inc.Status {
				b.zrem(k.incidentsByStatus(inc.PageID, s), inc.ID)
			}
		}
		b.zadd(k.incidentsByStatus(inc.PageID, inc.Status), created, inc.ID)
		g.hset(k.incidentPages(), inc.ID, inc.PageID)
	}
	return nil
}

// planStatusChanges appends each component status change to the
// component's history, in insertion order among changes of the same
// millisecond, and notes that the component has a history, so that
// deleting the page finds it.
func (db *DB) planStatusChanges(p *plan, c *incident.Change) error {
	k := db.keys
	for _, sc := range c.StatusChanges {
		doc, err := encode(normStatusChange(sc))
		if err != nil {
			return err
		}
		b := p.batch(sc.PageID)
		b.zaddseq(k.statusChanges(sc.PageID, sc.ComponentID), db.seqKey(sc.PageID), msString(sc.At), doc)
		b.sadd(k.statusComponents(sc.PageID), sc.ComponentID)
	}
	return nil
}

// planAudit appends each audit entry to its page's log, or to the global
// log when it concerns no page, trimming the log to the audit limit.
func (db *DB) planAudit(p *plan, c *incident.Change) error {
	k, g := db.keys, p.batch(globalTag)
	for _, a := range c.Audit {
		doc, err := encode(normAudit(a))
		if err != nil {
			return err
		}
		b, key, tag := g, k.globalAudit(), globalTag
		if a.PageID != "" {
			b, key, tag = p.batch(a.PageID), k.audit(a.PageID), a.PageID
			g.sadd(k.auditPages(), a.PageID)
		}
		b.zaddseq(key, db.seqKey(tag), msString(a.At), doc)
		if db.auditLimit > 0 {
			b.write(op{O: "ztrim", K: b.key(key), N: db.auditLimit})
		}
	}
	return nil
}

// planBroadcasts adds each broadcast to its page's stream and to the
// global lookup by incident, with its pending delivery plan.
func (db *DB) planBroadcasts(p *plan, c *incident.Change) error {
	k, g := db.keys, p.batch(globalTag)
	for _, br := range c.Broadcasts {
		doc, err := encode(normBroadcast(br))
		if err != nil {
			return err
		}
		b := p.batch(br.PageID)
		b.write(op{O: "xadd", K: b.key(k.broadcasts(br.PageID)), A: []string{
			"id", br.ID, "incident_id", br.IncidentID, "update_id", br.UpdateID, "kind", string(br.Kind), "broadcast", doc}})
		g.happend(k.broadcastsByIncident(), br.IncidentID, doc)
		// Every broadcast gets its plan in the same script as the
		// broadcast's global lookup, so the planner can never miss one.
		created := msString(br.CreatedAt)
		for _, f := range newPlanFields(doc, created) {
			g.hset(k.plan(br.ID), f[0], f[1])
		}
		g.zadd(k.pendingPlans(), created, br.ID)
	}
	return nil
}

// planTokens upserts each token with the lookup from its hash.
func (db *DB) planTokens(p *plan, c *incident.Change) error {
	k, g := db.keys, p.batch(globalTag)
	for _, t := range c.Tokens {
		t = normToken(t)
		doc, err := encode(tokenRecord{Token: *t, Hash: t.Hash})
		if err != nil {
			return err
		}
		g.hset(k.tokens(), t.ID, doc)
		g.hset(k.tokenHashes(), t.Hash, t.ID)
		// An upsert sets the last use too, as SQLite's does.
		if t.LastUsedAt != nil {
			g.hset(k.tokenUsed(), t.ID, msString(*t.LastUsedAt))
		} else {
			g.hdel(k.tokenUsed(), t.ID)
		}
	}
	return nil
}

// runPlan runs the planned batches. With one batch that is one script,
// hence atomic. On Cluster one script per slot cannot be atomic across
// slots, so every slot's checks run first, writing nothing: a conflict in
// a later slot then stops the Change before an earlier slot writes. Only a
// concurrent writer between the two passes can still leave a Change
// half-applied (see doc.go).
func (db *DB) runPlan(ctx context.Context, p *plan, now time.Time) error {
	batches := p.ordered()
	if len(batches) > 1 {
		for _, b := range batches {
			if len(b.Checks) > 0 {
				if err := db.run(ctx, &batch{tag: b.tag, keys: b.keys, Checks: b.Checks, Writes: []op{}}, now); err != nil {
					return err
				}
			}
		}
	}
	for _, b := range batches {
		if err := db.run(ctx, b, now); err != nil {
			return err
		}
	}
	return nil
}

// planDeletes adds a Change's deletions to p.
func (db *DB) planDeletes(ctx context.Context, p *plan, c *incident.Change) error {
	k := db.keys
	g := p.batch(globalTag)
	incPages, err := db.lookupPages(ctx, k.incidentPages(), c.DeleteIncidentIDs)
	if err != nil {
		return err
	}
	compPages, err := db.lookupPages(ctx, k.componentPages(), c.DeleteComponentIDs)
	if err != nil {
		return err
	}
	// Objects this same Change writes are found in it, not in Redis.
	for _, inc := range c.Incidents {
		incPages[inc.ID] = inc.PageID
	}
	for _, comp := range c.Components {
		compPages[comp.ID] = comp.PageID
	}
	for _, id := range c.DeleteIncidentIDs {
		want, conditional := c.DeleteIncidentIf[id]
		pageID, ok := incPages[id]
		if !ok {
			if conditional {
				return incident.Errorf(incident.ECONFLICT, "incident %q was deleted meanwhile", id)
			}
			continue
		}
		g.hdel(k.incidentPages(), id)
		b := p.batch(pageID)
		if conditional {
			// "0" would mean "absent" to the check: a stored version is ≥ 1.
			b.check(op{O: "ver", K: b.key(k.incidentVersions(pageID)), F: id, V: strconv.Itoa(max(want, 1)),
				M: fmt.Sprintf("incident %q was changed or deleted meanwhile (expected version %d); reload and retry", id, want)})
		}
		b.hdel(k.incidents(pageID), id)
		b.hdel(k.incidentVersions(pageID), id)
		b.zrem(k.incidentsByCreated(pageID), id)
		for _, s := range allStatuses {
			b.zrem(k.incidentsByStatus(pageID, s), id)
		}
	}
	for _, id := range c.DeleteComponentIDs {
		if pageID, ok := compPages[id]; ok {
			g.hdel(k.componentPages(), id)
			p.batch(pageID).hdel(k.components(pageID), id)
		}
	}
	if c.KeepAPage && len(c.DeletePageIDs) > 0 {
		// In the global batch, which holds the pages hash and deletes the
		// pages from it: the check and the deletion are one script in
		// either mode. On Cluster that batch has checks and the pages'
		// own batches do not, so it runs first (plan.ordered), and a
		// refused deletion leaves the pages' data untouched.
		keep := op{O: "keep", K: g.key(k.pages()), A: c.DeletePageIDs, M: incident.ErrLastPage.Message}
		for _, pg := range c.Pages {
			keep.B = append(keep.B, pg.ID)
		}
		g.check(keep)
	}
	for _, id := range c.DeletePageIDs {
		incs, err := db.client.HKeys(ctx, k.incidents(id)).Result()
		if err != nil {
			return fmt.Errorf("redis: read page incidents: %w", err)
		}
		comps, err := db.client.HKeys(ctx, k.components(id)).Result()
		if err != nil {
			return fmt.Errorf("redis: read page components: %w", err)
		}
		for _, inc := range c.Incidents {
			if inc.PageID == id {
				incs = append(incs, inc.ID)
			}
		}
		for _, comp := range c.Components {
			if comp.PageID == id {
				comps = append(comps, comp.ID)
			}
		}
		g.hdel(k.pages(), id)
		for _, iid := range incs {
			g.hdel(k.incidentPages(), iid)
		}
		for _, cid := range comps {
			g.hdel(k.componentPages(), cid)
		}
		// The page's audit log and broadcast stream stay: both are logs.
		b := p.batch(id)
		for _, key := range []string{k.components(id), k.incidents(id), k.incidentVersions(id), k.incidentsByCreated(id)} {
			b.del(key)
		}
		for _, s := range allStatuses {
			b.del(k.incidentsByStatus(id, s))
		}
		b.write(op{O: "delset", K: b.key(k.statusComponents(id)), V: k.statusChangesPrefix(id)})
	}
	return nil
}

// run executes one batch and maps a failed check to ECONFLICT.
func (db *DB) run(ctx context.Context, b *batch, now time.Time) error {
	if db.perSlot {
		// A key outside the batch's slot would fail with CROSSSLOT on
		// Cluster; catch a layout mistake here, on any Redis.
		for _, key := range b.keys {
			if !strings.Contains(key, "{"+b.tag+"}") {
				return fmt.Errorf("redis: key %q is not in slot {%s}", key, b.tag)
			}
		}
	}
	payload, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("redis: encode commit: %w", err)
	}
	res, err := commitScript.Run(ctx, db.client, b.keys, string(payload), ms(now)).Slice()
	if err != nil {
		return fmt.Errorf("redis: commit: %w", err)
	}
	if len(res) != 2 {
		return fmt.Errorf("redis: commit: unexpected reply %v", res)
	}
	if ok, _ := res[0].(int64); ok != 1 {
		msg, _ := res[1].(string)
		return incident.Errorf(incident.ECONFLICT, "%s", msg)
	}
	return nil
}

// lookupPages maps IDs to their page through a global lookup hash; unknown
// IDs are left out.
func (db *DB) lookupPages(ctx context.Context, lookup string, ids []string) (map[string]string, error) {
	out := map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	vals, err := db.client.HMGet(ctx, lookup, ids...).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: lookup pages: %w", err)
	}
	for i, v := range vals {
		if s, ok := v.(string); ok && incident.ValidID(s) {
			out[ids[i]] = s
		}
	}
	return out, nil
}

// validateChange rejects IDs that would break key names (a brace would move
// a key to another hash slot) before anything is sent to Redis.
func validateChange(c *incident.Change) error {
	type idField struct{ field, id string }
	var ids []idField
	for _, p := range c.Pages {
		ids = append(ids, idField{"page.id", p.ID})
	}
	for _, id := range c.DeletePageIDs {
		ids = append(ids, idField{"page.id", id})
	}
	for _, comp := range c.Components {
		ids = append(ids, idField{"component.id", comp.ID}, idField{"component.page_id", comp.PageID})
	}
	for _, id := range c.DeleteComponentIDs {
		ids = append(ids, idField{"component.id", id})
	}
	for _, inc := range c.Incidents {
		ids = append(ids, idField{"incident.id", inc.ID}, idField{"incident.page_id", inc.PageID})
	}
	for _, id := range c.DeleteIncidentIDs {
		ids = append(ids, idField{"incident.id", id})
	}
	for _, sc := range c.StatusChanges {
		ids = append(ids, idField{"status_change.page_id", sc.PageID}, idField{"status_change.component_id", sc.ComponentID})
	}
	for _, a := range c.Audit {
		if a.PageID != "" {
			ids = append(ids, idField{"audit.page_id", a.PageID})
		}
	}
	for _, b := range c.Broadcasts {
		ids = append(ids, idField{"broadcast.page_id", b.PageID}, idField{"broadcast.incident_id", b.IncidentID})
	}
	for _, t := range c.Tokens {
		ids = append(ids, idField{"token.id", t.ID})
	}
	for _, f := range ids {
		if !incident.ValidID(f.id) {
			return incident.Invalid(f.field, "invalid ID %q", f.id)
		}
	}
	return nil
}

// splitLines splits the newline-joined JSON documents of a hash field.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
