package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/incident"
)

var _ compensation.Store = (*DB)(nil)

// saveDecisionScript appends one decision version.
//
// KEYS (the page's slot): 1 the incident's decisions, 2 comp-decided.
// ARGV: 1 version, 2 JSON, 3 incident ID, 4 "1" when the state is coming
// or decided.
//
// Checks that the list holds version-1 decisions, then appends and sets
// or clears the incident's entry in comp-decided. Returns {1, version}
// or {0, the stored version}.
var saveDecisionScript = goredis.NewScript(`
local n = redis.call('LLEN', KEYS[1])
if n ~= tonumber(ARGV[1]) - 1 then return {0, n} end
redis.call('RPUSH', KEYS[1], ARGV[2])
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[2])
else
  redis.call('HDEL', KEYS[2], ARGV[3])
end
return {1, n + 1}
`)

// saveGrantScript stores one grant unless its key is known, drawing its
// voucher code when it names a list.
//
// KEYS (the page's slot): 1 comp-grants, 2 the incident's grants, 3 the
// incident's grant keys, 4 the customer's grants for the incident; for a
// code drawn from a list, 5 the list's draws and 6 its unused codes (as
// drawVoucherScript's).
// ARGV: 1 ID, 2 key, 3 seen, 4 at ms, 5 JSON; with a list, 5 the JSON
// before the code's JSON string and 6 what follows it.
//
// Returns {2, stored JSON} when the key is known (writing nothing),
// {0, ""} when the ID is the page's already, {3, count} when the customer
// holds another number of grants than seen, {4, ""} when the list has no
// unused code left for it (writing nothing), and {1, stored JSON} once
// written. The code is the one the list's draws hold for the key, else
// the first unused one, drawn only once every check passed.
var saveGrantScript = goredis.NewScript(`
local id = redis.call('HGET', KEYS[3], ARGV[2])
if id then return {2, redis.call('HGET', KEYS[1], id)} end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {0, ''} end
local n = redis.call('ZCARD', KEYS[4])
if n ~= tonumber(ARGV[3]) then return {3, n} end
local doc = ARGV[5]
if #KEYS == 6 then
  local code = redis.call('HGET', KEYS[5], ARGV[2])
  if not code then
    code = redis.call('LPOP', KEYS[6])
    if not code then return {4, ''} end
    redis.call('HSET', KEYS[5], ARGV[2], code)
  end
  doc = ARGV[5] .. cjson.encode(code) .. ARGV[6]
end
redis.call('HSET', KEYS[1], ARGV[1], doc)
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
return {1, doc}
`)

// addVouchersScript adds codes to a list. KEYS (the page's slot): 1 the
// list's codes, 2 its unused codes. ARGV: the codes. A code already in
// the list is skipped. Returns how many were added.
var addVouchersScript = goredis.NewScript(`
local n = 0
for i = 1, #ARGV do
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then
    redis.call('RPUSH', KEYS[2], ARGV[i])
    n = n + 1
  end
end
return n
`)

// drawVoucherScript hands a code to a key. KEYS (the page's slot): 1 the
// list's draws, 2 its unused codes. ARGV: 1 the key. Returns the key's
// code, the first unused one (then the key's), or nil when none is left.
var drawVoucherScript = goredis.NewScript(`
local code = redis.call('HGET', KEYS[1], ARGV[1])
if code then return code end
code = redis.call('LPOP', KEYS[2])
if not code then return false end
redis.call('HSET', KEYS[1], ARGV[1], code)
return code
`)

// addVouchersBatch is how many codes one addVouchersScript call adds, so
// an upload of a long list never blocks Redis for long.
const addVouchersBatch = 1000

// decisionKeys are saveDecisionScript's KEYS.
func (db *DB) decisionKeys(pageID, incidentID string) []string {
	return []string{db.keys.decisions(pageID, incidentID), db.keys.decided(pageID)}
}

// grantKeys are saveGrantScript's KEYS, the voucher list's when listID
// is not "".
func (db *DB) grantKeys(pageID, incidentID, customerID, listID string) []string {
	k := db.keys
	keys := []string{k.grants(pageID), k.incidentGrants(pageID, incidentID), k.grantKeys(pageID, incidentID),
		k.customerGrants(pageID, incidentID, customerID)}
	if listID != "" {
		keys = append(keys, db.drawVoucherKeys(pageID, listID)...)
	}
	return keys
}

// findGrantByKeyKeys are findGrantByKeyScript's KEYS.
func (db *DB) findGrantByKeyKeys(pageID, incidentID string) []string {
	k := db.keys
	return []string{k.grants(pageID), k.grantKeys(pageID, incidentID), k.decisions(pageID, incidentID)}
}

// voucherKeys are addVouchersScript's KEYS; drawVoucherKeys
// drawVoucherScript's.
func (db *DB) voucherKeys(pageID, listID string) []string {
	return []string{db.keys.voucherCodes(pageID, listID), db.keys.voucherFree(pageID, listID)}
}

func (db *DB) drawVoucherKeys(pageID, listID string) []string {
	return []string{db.keys.voucherDrawn(pageID, listID), db.keys.voucherFree(pageID, listID)}
}

// validPage refuses a page ID that cannot be a hash tag.
func validPage(pageID string) error {
	if !incident.ValidID(pageID) {
		return incident.Invalid("page_id", "%q is not a page ID", pageID)
	}
	return nil
}

// ---- decisions ----

// SaveDecision implements compensation.Store with saveDecisionScript: the
// version check and the append in one script.
func (db *DB) SaveDecision(ctx context.Context, d *compensation.Decision) error {
	if err := compensation.CheckDecision(d); err != nil {
		return err
	}
	if err := validPage(d.PageID); err != nil {
		return err
	}
	v := d.WithTimes(compensation.Millis)
	doc, err := encode(v)
	if err != nil {
		return err
	}
	live := "0"
	if v.State == compensation.Coming || v.State == compensation.Decided {
		live = "1"
	}
	res, err := saveDecisionScript.Run(ctx, db.client, db.decisionKeys(v.PageID, v.IncidentID),
		strconv.Itoa(v.Version), doc, v.IncidentID, live).Int64Slice()
	if err != nil {
		return fmt.Errorf("redis: save decision: %w", err)
	}
	if len(res) != 2 {
		return fmt.Errorf("redis: save decision: unexpected reply %v", res)
	}
	if res[0] != 1 {
		return incident.Errorf(incident.ECONFLICT, "the compensation decision of incident %s is at version %d, not %d: reload and decide again",
			v.IncidentID, res[1], v.Version-1)
	}
	return nil
}

// FindDecision implements compensation.Store: the list's last element.
func (db *DB) FindDecision(ctx context.Context, pageID, incidentID string) (*compensation.Decision, error) {
	if !incident.ValidID(pageID) {
		return nil, incident.NotFound("compensation decision of incident", incidentID)
	}
	s, err := db.client.LIndex(ctx, db.keys.decisions(pageID, incidentID), -1).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, incident.NotFound("compensation decision of incident", incidentID)
	} else if err != nil {
		return nil, fmt.Errorf("redis: find decision: %w", err)
	}
	return decode[compensation.Decision](s)
}

// FindDecisions implements compensation.Store.
func (db *DB) FindDecisions(ctx context.Context, pageID, incidentID string) ([]*compensation.Decision, error) {
	out := []*compensation.Decision{}
	if !incident.ValidID(pageID) {
		return out, nil
	}
	docs, err := db.client.LRange(ctx, db.keys.decisions(pageID, incidentID), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: find decisions: %w", err)
	}
	for _, s := range docs {
		d, err := decode[compensation.Decision](s)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// FindDecided implements compensation.Store from comp-decided, which the
// save script keeps: one entry per incident whose newest decision is
// coming or decided.
func (db *DB) FindDecided(ctx context.Context, pageID string) ([]*compensation.Decision, error) {
	out := []*compensation.Decision{}
	if !incident.ValidID(pageID) {
		return out, nil
	}
	m, err := db.client.HGetAll(ctx, db.keys.decided(pageID)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: find decided: %w", err)
	}
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		d, err := decode[compensation.Decision](m[id])
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// ---- grants ----

// grantDoc is how a grant is stored: its JSON, and what that leaves out
// but the store keeps (the key, the override's actor, the request's
// fingerprint and the voucher list: "" in a grant written before they
// were kept).
type grantDoc struct {
	*compensation.Grant
	Key         string          `json:"key"`
	OverrideBy  *incident.Actor `json:"override_by,omitempty"`
	Fingerprint string          `json:"fingerprint,omitempty"`
	VoucherList string          `json:"voucher_list,omitempty"`
}

func encodeGrant(g *compensation.Grant) (string, error) {
	d := grantDoc{Grant: g, Key: g.Key, Fingerprint: g.Fingerprint, VoucherList: g.VoucherList}
	if g.Override != nil {
		d.OverrideBy = &g.Override.By
	}
	return encode(d)
}

func decodeGrant(s string) (*compensation.Grant, error) {
	d := grantDoc{Grant: &compensation.Grant{}}
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return nil, fmt.Errorf("redis: decode grant: %w", err)
	}
	if d.Override != nil && d.OverrideBy != nil {
		d.Override.By = *d.OverrideBy
	}
	d.Grant.Key = d.Key
	d.Grant.Fingerprint = d.Fingerprint
	d.Grant.VoucherList = d.VoucherList
	return d.Grant, nil
}

// encodeDrawnGrant encodes g, whose code the script draws, in two: the
// JSON before the code's JSON string and what follows it.
func encodeDrawnGrant(g *compensation.Grant) (head, tail string, err error) {
	w := *g
	w.Voucher = "herald-draw-" + incident.NewID() // in no other field
	doc, err := encodeGrant(&w)
	if err != nil {
		return "", "", err
	}
	mark := `"` + w.Voucher + `"`
	if strings.Count(doc, mark) != 1 {
		return "", "", fmt.Errorf("redis: save grant %s: no place for its voucher code in %s", g.ID, doc)
	}
	head, tail, _ = strings.Cut(doc, mark)
	return head, tail, nil
}

// SaveGrant implements compensation.Store with saveGrantScript: the key,
// the ID and the customer's count are checked, the voucher code drawn
// and the grant written in one script, so of two callers who saw the
// same count one wins, and of two with one key, and a refused save draws
// nothing. A known key's grant is compared with g here: the script wrote
// nothing for it.
func (db *DB) SaveGrant(ctx context.Context, g *compensation.Grant, seen int) (*compensation.Grant, bool, error) {
	if err := compensation.CheckGrantRecord(g); err != nil {
		return nil, false, err
	}
	if err := validPage(g.PageID); err != nil {
		return nil, false, err
	}
	v := g.WithTimes(compensation.Millis)
	args := []any{v.ID, v.Key, strconv.Itoa(seen), msString(v.At)}
	if v.VoucherList == "" {
		doc, err := encodeGrant(v)
		if err != nil {
			return nil, false, err
		}
		args = append(args, doc)
	} else {
		head, tail, err := encodeDrawnGrant(v)
		if err != nil {
			return nil, false, err
		}
		args = append(args, head, tail)
	}
	res, err := saveGrantScript.Run(ctx, db.client, db.grantKeys(v.PageID, v.IncidentID, v.CustomerID, v.VoucherList), args...).Slice()
	if err != nil {
		return nil, false, fmt.Errorf("redis: save grant: %w", err)
	}
	if len(res) != 2 {
		return nil, false, fmt.Errorf("redis: save grant: unexpected reply %v", res)
	}
	code, _ := res[0].(int64)
	switch code {
	case 0:
		return nil, false, incident.Errorf(incident.ECONFLICT, "grant %s already exists", v.ID)
	case 2:
		s, ok := res[1].(string)
		if !ok {
			return nil, false, fmt.Errorf("redis: save grant: key %q names a missing grant", v.Key)
		}
		existing, err := decodeGrant(s)
		if err != nil {
			return nil, false, err
		}
		if err := compensation.SameGrantRequest(existing, v.CustomerID, v.Fingerprint); err != nil {
			return nil, false, err
		}
		return existing, false, nil
	case 3:
		n, _ := res[1].(int64)
		return nil, false, incident.Errorf(incident.ECONFLICT, "customer %s has %d grants for incident %s, not %d: someone granted meanwhile; re-read and check again",
			v.CustomerID, n, v.IncidentID, seen)
	case 4:
		return nil, false, incident.Errorf(incident.ENOTFOUND, "voucher list %q has no unused code", v.VoucherList)
	case 1:
		// What was stored, decoded: a copy sharing nothing with g.
		if s, ok := res[1].(string); ok {
			stored, err := decodeGrant(s)
			if err != nil {
				return nil, false, err
			}
			return stored, true, nil
		}
	}
	return nil, false, fmt.Errorf("redis: save grant: unexpected reply %v", res)
}

// FindGrants implements compensation.Store: the IDs from the incident's
// or the customer's index, then their documents. Grants are never
// changed or deleted, and the script writes a grant with its indexes, so
// every ID read has its document.
func (db *DB) FindGrants(ctx context.Context, pageID, incidentID, customerID string) ([]*compensation.Grant, error) {
	out := []*compensation.Grant{}
	if !incident.ValidID(pageID) {
		return out, nil
	}
	index := db.keys.incidentGrants(pageID, incidentID)
	if customerID != "" {
		index = db.keys.customerGrants(pageID, incidentID, customerID)
	}
	ids, err := db.client.ZRange(ctx, index, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: find grants: %w", err)
	}
	if len(ids) == 0 {
		return out, nil
	}
	docs, err := db.client.HMGet(ctx, db.keys.grants(pageID), ids...).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: find grants: %w", err)
	}
	for i, v := range docs {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("redis: find grants: grant %s is indexed but missing", ids[i])
		}
		g, err := decodeGrant(s)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// findGrantByKeyScript reads the grant a key recorded.
//
// KEYS (the page's slot): 1 comp-grants, 2 the incident's grant keys, 3
// the incident's decisions. ARGV: 1 the key, 2 what an old top-up's key
// has before its version (compensation.TopUpKeyPrefix).
//
// Returns the key's grant JSON, else the one of the lowest version's old
// top-up key (a top-up's version is one of the incident's decisions, so
// those are the versions to try), else nil.
var findGrantByKeyScript = goredis.NewScript(`
local id = redis.call('HGET', KEYS[2], ARGV[1])
if not id then
  local n = redis.call('LLEN', KEYS[3])
  for v = 1, n do
    id = redis.call('HGET', KEYS[2], ARGV[2] .. v)
    if id then break end
  end
end
if not id then return false end
local doc = redis.call('HGET', KEYS[1], id)
if not doc then return redis.error_reply('grant key ' .. ARGV[1] .. ' names a missing grant') end
return doc
`)

// FindGrantByKey implements compensation.Store with
// findGrantByKeyScript: the key's grant ID, then its document. Grants are
// never changed or deleted, and the script writes a grant with its key,
// so a key read has its document.
func (db *DB) FindGrantByKey(ctx context.Context, pageID, incidentID, key string) (*compensation.Grant, error) {
	notFound := incident.Errorf(incident.ENOTFOUND, "no grant with key %q", key)
	if !incident.ValidID(pageID) {
		return nil, notFound
	}
	s, err := findGrantByKeyScript.Run(ctx, db.client, db.findGrantByKeyKeys(pageID, incidentID), key, compensation.TopUpKeyPrefix(key)).Text()
	if errors.Is(err, goredis.Nil) {
		return nil, notFound
	} else if err != nil {
		return nil, fmt.Errorf("redis: find grant by key: %w", err)
	}
	return decodeGrant(s)
}

// ---- vouchers ----

// AddVouchers implements compensation.Store with addVouchersScript, a
// batch of codes a call: a failure half-way leaves the batches before it
// added, which a retry skips.
func (db *DB) AddVouchers(ctx context.Context, pageID, listID string, codes []string) (int, error) {
	if err := validPage(pageID); err != nil {
		return 0, err
	}
	if err := compensation.CheckVouchers(listID, codes); err != nil {
		return 0, err
	}
	keys := db.voucherKeys(pageID, listID)
	added := 0
	for lo := 0; lo < len(codes); lo += addVouchersBatch {
		batch := codes[lo:min(lo+addVouchersBatch, len(codes))]
		args := make([]any, len(batch))
		for i, c := range batch {
			args[i] = c
		}
		n, err := addVouchersScript.Run(ctx, db.client, keys, args...).Int()
		if err != nil {
			return added, fmt.Errorf("redis: add vouchers: %w", err)
		}
		added += n
	}
	return added, nil
}

// voucherList reports whether pageID and listID can name a list.
func voucherList(pageID, listID string) bool {
	return incident.ValidID(pageID) && compensation.CheckVouchers(listID, nil) == nil
}

// DrawVoucher implements compensation.Store with drawVoucherScript.
func (db *DB) DrawVoucher(ctx context.Context, pageID, listID, key string) (string, error) {
	if key == "" {
		return "", incident.Invalid("key", "a voucher is drawn for a key")
	}
	if !voucherList(pageID, listID) {
		return "", incident.Errorf(incident.ENOTFOUND, "voucher list %q has no unused code", listID)
	}
	code, err := drawVoucherScript.Run(ctx, db.client, db.drawVoucherKeys(pageID, listID), key).Text()
	if errors.Is(err, goredis.Nil) {
		return "", incident.Errorf(incident.ENOTFOUND, "voucher list %q has no unused code", listID)
	} else if err != nil {
		return "", fmt.Errorf("redis: draw voucher: %w", err)
	}
	return code, nil
}

// CountVouchers implements compensation.Store: SCARD and LLEN in one
// MULTI (both keys are in the page's slot).
func (db *DB) CountVouchers(ctx context.Context, pageID, listID string) (total, free int, err error) {
	if !voucherList(pageID, listID) {
		return 0, 0, nil
	}
	var all, unused *goredis.IntCmd
	if _, err := db.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		all = p.SCard(ctx, db.keys.voucherCodes(pageID, listID))
		unused = p.LLen(ctx, db.keys.voucherFree(pageID, listID))
		return nil
	}); err != nil {
		return 0, 0, fmt.Errorf("redis: count vouchers: %w", err)
	}
	return int(all.Val()), int(unused.Val()), nil
}
