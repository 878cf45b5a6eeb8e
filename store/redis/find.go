package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/incident"
)

func decode[T any](s string) (*T, error) {
	v := new(T)
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return nil, fmt.Errorf("redis: decode %T: %w", v, err)
	}
	return v, nil
}

// FindPageByID implements incident.Store.
func (db *DB) FindPageByID(ctx context.Context, id string) (*incident.Page, error) {
	if !incident.ValidID(id) {
		return nil, incident.NotFound("page", id)
	}
	s, err := db.client.HGet(ctx, db.keys.pages(), id).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, incident.NotFound("page", id)
	} else if err != nil {
		return nil, fmt.Errorf("redis: find page: %w", err)
	}
	return decode[incident.Page](s)
}

// FindPages implements incident.Store.
func (db *DB) FindPages(ctx context.Context) ([]*incident.Page, error) {
	vals, err := db.client.HVals(ctx, db.keys.pages()).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: find pages: %w", err)
	}
	pages := make([]*incident.Page, 0, len(vals))
	for _, s := range vals {
		p, err := decode[incident.Page](s)
		if err != nil {
			return nil, err
		}
		pages = append(pages, p)
	}
	sort.Slice(pages, func(i, j int) bool {
		if !pages[i].CreatedAt.Equal(pages[j].CreatedAt) {
			return pages[i].CreatedAt.Before(pages[j].CreatedAt)
		}
		return pages[i].ID < pages[j].ID
	})
	return pages, nil
}

// FindComponentByID implements incident.Store.
func (db *DB) FindComponentByID(ctx context.Context, id string) (*incident.Component, error) {
	if !incident.ValidID(id) {
		return nil, incident.NotFound("component", id)
	}
	pageID, err := db.client.HGet(ctx, db.keys.componentPages(), id).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, incident.NotFound("component", id)
	} else if err != nil {
		return nil, fmt.Errorf("redis: find component: %w", err)
	}
	s, err := db.client.HGet(ctx, db.keys.components(pageID), id).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, incident.NotFound("component", id)
	} else if err != nil {
		return nil, fmt.Errorf("redis: find component: %w", err)
	}
	return decode[incident.Component](s)
}

// FindComponents implements incident.Store.
func (db *DB) FindComponents(ctx context.Context, pageID string) ([]*incident.Component, error) {
	if !incident.ValidID(pageID) {
		return []*incident.Component{}, nil
	}
	vals, err := db.client.HVals(ctx, db.keys.components(pageID)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: find components: %w", err)
	}
	comps := make([]*incident.Component, 0, len(vals))
	for _, s := range vals {
		c, err := decode[incident.Component](s)
		if err != nil {
			return nil, err
		}
		comps = append(comps, c)
	}
	sort.Slice(comps, func(i, j int) bool {
		a, b := comps[i], comps[j]
		if a.Position != b.Position {
			return a.Position < b.Position
		}
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.ID < b.ID
	})
	return comps, nil
}

// decodeIncident decodes a stored incident. Its updates keep the order they
// were committed in (the Service keeps them newest first), as in SQLite.
func decodeIncident(s string) (*incident.Incident, error) {
	return decode[incident.Incident](s)
}

// FindIncidentByID implements incident.Store.
func (db *DB) FindIncidentByID(ctx context.Context, id string) (*incident.Incident, error) {
	if !incident.ValidID(id) {
		return nil, incident.NotFound("incident", id)
	}
	pageID, err := db.client.HGet(ctx, db.keys.incidentPages(), id).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, incident.NotFound("incident", id)
	} else if err != nil {
		return nil, fmt.Errorf("redis: find incident: %w", err)
	}
	s, err := db.client.HGet(ctx, db.keys.incidents(pageID), id).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, incident.NotFound("incident", id)
	} else if err != nil {
		return nil, fmt.Errorf("redis: find incident: %w", err)
	}
	return decodeIncident(s)
}

// incidentRef is one entry of an incident index.
type incidentRef struct {
	pageID, id string
	created    float64
}

// FindIncidents implements incident.Store. It reads the per-status indexes
// when the filter names statuses (so "open incidents" touches only open
// ones), otherwise the created_at index, and decodes only the requested
// window unless the maintenance filter needs every candidate's document.
func (db *DB) FindIncidents(ctx context.Context, f incident.IncidentFilter) ([]*incident.Incident, int, error) {
	var pageIDs []string
	if f.PageID != "" {
		if !incident.ValidID(f.PageID) {
			return []*incident.Incident{}, 0, nil
		}
		pageIDs = []string{f.PageID}
	} else {
		ids, err := db.client.HKeys(ctx, db.keys.pages()).Result()
		if err != nil {
			return nil, 0, fmt.Errorf("redis: find incidents: %w", err)
		}
		pageIDs = ids
	}
	from := "-inf"
	if !f.Since.IsZero() {
		from = strconv.FormatInt(ms(f.Since), 10)
	}
	type query struct {
		pageID string
		cmd    *goredis.ZSliceCmd
	}
	var queries []query
	pipe := db.client.Pipeline()
	for _, pid := range pageIDs {
		var keys []string
		if len(f.Statuses) == 0 {
			keys = []string{db.keys.incidentsByCreated(pid)}
		} else {
			seen := map[incident.Status]bool{}
			for _, s := range f.Statuses {
				if !seen[s] && s.Valid() {
					seen[s] = true
					keys = append(keys, db.keys.incidentsByStatus(pid, s))
				}
			}
		}
		for _, key := range keys {
			queries = append(queries, query{pid, pipe.ZRangeByScoreWithScores(ctx, key, &goredis.ZRangeBy{Min: from, Max: "+inf"})})
		}
	}
	if len(queries) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, 0, fmt.Errorf("redis: find incidents: %w", err)
		}
	}
	var refs []incidentRef
	seen := map[string]bool{}
	for _, q := range queries {
		for _, z := range q.cmd.Val() {
			id, _ := z.Member.(string)
			if !seen[id] {
				seen[id] = true
				refs = append(refs, incidentRef{pageID: q.pageID, id: id, created: z.Score})
			}
		}
	}
	sort.Slice(refs, func(i, j int) bool {
		if refs[i].created != refs[j].created {
			return refs[i].created > refs[j].created
		}
		return refs[i].id > refs[j].id
	})

	if f.Maintenance == nil {
		lo, hi := window(len(refs), f.Offset, f.Limit)
		incs, err := db.loadIncidents(ctx, refs[lo:hi])
		if err != nil {
			return nil, 0, err
		}
		return incs, len(refs), nil
	}
	all, err := db.loadIncidents(ctx, refs)
	if err != nil {
		return nil, 0, err
	}
	matched := all[:0]
	for _, inc := range all {
		if inc.IsMaintenance() == *f.Maintenance {
			matched = append(matched, inc)
		}
	}
	lo, hi := window(len(matched), f.Offset, f.Limit)
	return matched[lo:hi], len(matched), nil
}

// loadIncidents reads the documents of refs in order, skipping any deleted
// since the index was read.
func (db *DB) loadIncidents(ctx context.Context, refs []incidentRef) ([]*incident.Incident, error) {
	out := make([]*incident.Incident, 0, len(refs))
	if len(refs) == 0 {
		return out, nil
	}
	pipe := db.client.Pipeline()
	cmds := make([]*goredis.StringCmd, len(refs))
	for i, r := range refs {
		cmds[i] = pipe.HGet(ctx, db.keys.incidents(r.pageID), r.id)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis: load incidents: %w", err)
	}
	for _, cmd := range cmds {
		s, err := cmd.Result()
		if errors.Is(err, goredis.Nil) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("redis: load incidents: %w", err)
		}
		inc, err := decodeIncident(s)
		if err != nil {
			return nil, err
		}
		out = append(out, inc)
	}
	return out, nil
}

// seqMember is a sorted-set member written by the zaddseq op: a 16-hex
// insertion counter, then JSON.
type seqMember struct {
	score float64
	seq   uint64
	json  string
}

func parseSeqMember(z goredis.Z) (seqMember, error) {
	s, _ := z.Member.(string)
	if len(s) < 16 {
		return seqMember{}, fmt.Errorf("redis: malformed member %q", s)
	}
	n, err := strconv.ParseUint(s[:16], 16, 64)
	if err != nil {
		return seqMember{}, fmt.Errorf("redis: malformed member %q", s)
	}
	return seqMember{score: z.Score, seq: n, json: s[16:]}, nil
}

// FindStatusChanges implements incident.Store.
func (db *DB) FindStatusChanges(ctx context.Context, pageID string, since time.Time) ([]incident.StatusChange, error) {
	out := []incident.StatusChange{}
	if !incident.ValidID(pageID) {
		return out, nil
	}
	comps, err := db.client.SMembers(ctx, db.keys.statusComponents(pageID)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: find status changes: %w", err)
	}
	if len(comps) == 0 {
		return out, nil
	}
	from := strconv.FormatInt(ms(since), 10)
	pipe := db.client.Pipeline()
	var cmds []*goredis.ZSliceCmd
	for _, cid := range comps {
		key := db.keys.statusChanges(pageID, cid)
		// The last change before the window, then everything in it.
		cmds = append(cmds,
			pipe.ZRevRangeByScoreWithScores(ctx, key, &goredis.ZRangeBy{Max: "(" + from, Min: "-inf", Count: 1}),
			pipe.ZRangeByScoreWithScores(ctx, key, &goredis.ZRangeBy{Min: from, Max: "+inf"}))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("redis: find status changes: %w", err)
	}
	var members []seqMember
	for _, cmd := range cmds {
		for _, z := range cmd.Val() {
			m, err := parseSeqMember(z)
			if err != nil {
				return nil, err
			}
			members = append(members, m)
		}
	}
	sort.Slice(members, func(i, j int) bool {
		if members[i].score != members[j].score {
			return members[i].score < members[j].score
		}
		return members[i].seq < members[j].seq
	})
	for _, m := range members {
		sc, err := decode[incident.StatusChange](m.json)
		if err != nil {
			return nil, err
		}
		out = append(out, *sc)
	}
	return out, nil
}

// FindAudit implements incident.Store. A page's log alone, unfiltered, is
// read a window at a time; anything else reads the logs it spans whole.
func (db *DB) FindAudit(ctx context.Context, f incident.AuditFilter) ([]*incident.AuditEntry, int, error) {
	var keys []string
	if f.PageID != "" {
		if !incident.ValidID(f.PageID) {
			return []*incident.AuditEntry{}, 0, nil
		}
		keys = []string{db.keys.audit(f.PageID)}
	} else {
		pids, err := db.client.SMembers(ctx, db.keys.auditPages()).Result()
		if err != nil {
			return nil, 0, fmt.Errorf("redis: find audit: %w", err)
		}
		keys = append(keys, db.keys.globalAudit())
		for _, pid := range pids {
			keys = append(keys, db.keys.audit(pid))
		}
	}
	offset := max(f.Offset, 0)
	if len(keys) == 1 && f.ObjectID == "" {
		stop := int64(-1)
		if f.Limit > 0 {
			stop = int64(offset + f.Limit - 1)
		}
		pipe := db.client.Pipeline()
		total := pipe.ZCard(ctx, keys[0])
		page := pipe.ZRevRangeWithScores(ctx, keys[0], int64(offset), stop)
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, 0, fmt.Errorf("redis: find audit: %w", err)
		}
		entries, err := decodeAudit(page.Val())
		if err != nil {
			return nil, 0, err
		}
		return entries, int(total.Val()), nil
	}

	// Several logs: without an object filter, each log's newest
	// offset+limit entries are enough for the merged window, and the total
	// is the sum of the sizes; with one, every entry has to be looked at.
	stop := int64(-1)
	if f.ObjectID == "" && f.Limit > 0 {
		stop = int64(offset + f.Limit - 1)
	}
	needle := ""
	if f.ObjectID != "" {
		b, _ := json.Marshal(f.ObjectID)
		needle = `"object_id":` + string(b)
	}
	pipe := db.client.Pipeline()
	cmds := make([]*goredis.ZSliceCmd, len(keys))
	cards := make([]*goredis.IntCmd, len(keys))
	for i, key := range keys {
		cmds[i] = pipe.ZRevRangeWithScores(ctx, key, 0, stop)
		cards[i] = pipe.ZCard(ctx, key)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, 0, fmt.Errorf("redis: find audit: %w", err)
	}
	var members []seqMember
	for _, cmd := range cmds {
		for _, z := range cmd.Val() {
			m, err := parseSeqMember(z)
			if err != nil {
				return nil, 0, err
			}
			if needle != "" && !strings.Contains(m.json, needle) {
				continue // cheap pre-filter; decoded entries are checked below
			}
			members = append(members, m)
		}
	}
	sort.SliceStable(members, func(i, j int) bool {
		if members[i].score != members[j].score {
			return members[i].score > members[j].score
		}
		return members[i].seq > members[j].seq
	})
	if f.ObjectID == "" {
		total := 0
		for _, c := range cards {
			total += int(c.Val())
		}
		lo, hi := window(len(members), offset, f.Limit)
		out := make([]*incident.AuditEntry, 0, hi-lo)
		for _, m := range members[lo:hi] {
			a, err := decode[incident.AuditEntry](m.json)
			if err != nil {
				return nil, 0, err
			}
			out = append(out, a)
		}
		return out, total, nil
	}
	var all []*incident.AuditEntry
	for _, m := range members {
		a, err := decode[incident.AuditEntry](m.json)
		if err != nil {
			return nil, 0, err
		}
		if a.ObjectID == f.ObjectID {
			all = append(all, a)
		}
	}
	lo, hi := window(len(all), offset, f.Limit)
	out := make([]*incident.AuditEntry, 0, hi-lo)
	return append(out, all[lo:hi]...), len(all), nil
}

func decodeAudit(zs []goredis.Z) ([]*incident.AuditEntry, error) {
	out := make([]*incident.AuditEntry, 0, len(zs))
	for _, z := range zs {
		m, err := parseSeqMember(z)
		if err != nil {
			return nil, err
		}
		a, err := decode[incident.AuditEntry](m.json)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// FindBroadcasts implements incident.Store.
func (db *DB) FindBroadcasts(ctx context.Context, incidentID string) ([]*incident.Broadcast, error) {
	out := []*incident.Broadcast{}
	s, err := db.client.HGet(ctx, db.keys.broadcastsByIncident(), incidentID).Result()
	if errors.Is(err, goredis.Nil) {
		return out, nil
	} else if err != nil {
		return nil, fmt.Errorf("redis: find broadcasts: %w", err)
	}
	for _, line := range splitLines(s) {
		b, err := decode[incident.Broadcast](line)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	// Commit order within the same created_at, as SQLite orders by (created_at, seq).
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// FindTokenByHash implements incident.Store.
func (db *DB) FindTokenByHash(ctx context.Context, hash string) (*incident.Token, error) {
	if hash == "" {
		return nil, incident.NotFound("token", "")
	}
	// One round trip: every API request authenticates.
	res, err := findTokenScript.Run(ctx, db.client, []string{db.keys.tokenHashes(), db.keys.tokens(), db.keys.tokenUsed()}, hash).StringSlice()
	if errors.Is(err, goredis.Nil) {
		return nil, incident.Errorf(incident.ENOTFOUND, "token not found")
	} else if err != nil {
		return nil, fmt.Errorf("redis: find token: %w", err)
	}
	if len(res) != 2 || res[0] == "" {
		return nil, incident.Errorf(incident.ENOTFOUND, "token not found")
	}
	t, err := decodeToken(res[0], res[1])
	if err != nil {
		return nil, err
	}
	if t.Hash != hash {
		return nil, incident.Errorf(incident.ENOTFOUND, "token not found")
	}
	return t, nil
}

// findTokenScript reads a token by its hash. KEYS: token-hashes, tokens,
// token-used. ARGV: the hash. Returns nil for an unknown hash, else {the
// record or "", the last use or ""}.
var findTokenScript = goredis.NewScript(`
local id = redis.call('HGET', KEYS[1], ARGV[1])
if not id then return false end
return {redis.call('HGET', KEYS[2], id) or '', redis.call('HGET', KEYS[3], id) or ''}
`)

func decodeToken(rec, used string) (*incident.Token, error) {
	r, err := decode[tokenRecord](rec)
	if err != nil {
		return nil, err
	}
	t := r.Token
	t.Hash = r.Hash
	t.LastUsedAt = nil
	if used != "" {
		n, err := strconv.ParseInt(used, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redis: token last use %q: %w", used, err)
		}
		at := time.UnixMilli(n).UTC()
		t.LastUsedAt = &at
	}
	return &t, nil
}

// FindTokens implements incident.Store.
func (db *DB) FindTokens(ctx context.Context) ([]*incident.Token, error) {
	pipe := db.client.Pipeline()
	recs := pipe.HGetAll(ctx, db.keys.tokens())
	used := pipe.HGetAll(ctx, db.keys.tokenUsed())
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("redis: find tokens: %w", err)
	}
	u := used.Val()
	out := make([]*incident.Token, 0, len(recs.Val()))
	for id, rec := range recs.Val() {
		t, err := decodeToken(rec, u[id])
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// touchScript records a token's last use if the token exists: one script,
// so a touch can never resurrect a token deleted in between.
var touchScript = goredis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
`)

// TouchToken implements incident.Store.
func (db *DB) TouchToken(ctx context.Context, id string, at time.Time) error {
	if !incident.ValidID(id) {
		return incident.NotFound("token", id)
	}
	n, err := touchScript.Run(ctx, db.client, []string{db.keys.tokens(), db.keys.tokenUsed()}, id, msString(at)).Int()
	if err != nil {
		return fmt.Errorf("redis: touch token: %w", err)
	}
	if n == 0 {
		return incident.NotFound("token", id)
	}
	return nil
}

// FindIdempotencyKey implements incident.Store. Expiry follows the injected
// clock; Redis's own TTL only reclaims the memory.
func (db *DB) FindIdempotencyKey(ctx context.Context, scope, key string) (string, error) {
	s, err := db.client.Get(ctx, db.keys.idempotency(scope, key)).Result()
	if errors.Is(err, goredis.Nil) {
		return "", incident.Errorf(incident.ENOTFOUND, "idempotency key not found")
	} else if err != nil {
		return "", fmt.Errorf("redis: find idempotency key: %w", err)
	}
	expStr, id, ok := strings.Cut(s, ":")
	exp, perr := strconv.ParseInt(expStr, 10, 64)
	if !ok || perr != nil {
		return "", fmt.Errorf("redis: malformed idempotency record %q", s)
	}
	if exp <= ms(db.now()) {
		return "", incident.Errorf(incident.ENOTFOUND, "idempotency key not found")
	}
	return id, nil
}

// window returns the bounds of the Offset/Limit slice of n items (limit 0:
// no limit).
func window(n, offset, limit int) (lo, hi int) {
	lo = min(max(offset, 0), n)
	hi = n
	if limit > 0 && lo+limit < n {
		hi = lo + limit
	}
	return lo, hi
}
