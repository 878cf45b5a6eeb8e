package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/surveys"
)

var _ surveys.Store = (*DB)(nil)

// createSurveysScript stores a batch of one incident's new surveys.
//
// KEYS (the page's slot): 1 surveys, 2 the incident's surveys, 3 its
// scheduled ones, 4 its skipped ones, 5 surveys:due, 6 surveys:addresses,
// 7 survey-last, 8 the incident's tallies; on a single Redis also (the
// global slot) 9 survey-incidents, 10 survey-pages, and 10+j the ID
// lookup bucket (sp:) of survey j.
//
// ARGV: 1 page ID, 2 incident ID, 3 n, then n tally signatures (lines of
// "<delta> <counter field>"), then per survey: ID, JSON, state, its
// signature's number (1..n), due ms or "" (unless scheduled), its
// surveys:addresses member or "" (unless sent), its key and its address
// key or "" (when skipped: their last times are raised to the due time;
// surveys.Survey.LastKeys).
//
// When KEYS[9] is given it refuses an incident another page has surveys
// of ({-1, that page}) and skips an ID another page holds. A survey whose
// ID the page holds is skipped; a new one is written with its indexes,
// and the tallies add each signature times the new surveys that have it.
// Returns {created, ""}.
var createSurveysScript = goredis.NewScript(`
local page, incident, nsig = ARGV[1], ARGV[2], tonumber(ARGV[3])
local single = KEYS[9] ~= nil
if single then
  local owner = redis.call('HGET', KEYS[9], incident)
  if owner and owner ~= page then return {-1, owner} end
end
local counts, created, j = {}, 0, 0
for i = 4 + nsig, #ARGV, 8 do
  j = j + 1
  local id, state, sig, due, addr = ARGV[i], ARGV[i+2], tonumber(ARGV[i+3]), ARGV[i+4], ARGV[i+5]
  local free = true
  if single then
    local owner = redis.call('HGET', KEYS[10 + j], id)
    free = not owner or owner == page
  end
  if free and redis.call('HSETNX', KEYS[1], id, ARGV[i+1]) == 1 then
    created = created + 1
    redis.call('ZADD', KEYS[2], 0, id)
    if state == 'scheduled' then redis.call('ZADD', KEYS[3], 0, id) else redis.call('ZADD', KEYS[4], 0, id) end
    if due ~= '' then redis.call('ZADD', KEYS[5], due, id) end
    if addr ~= '' then redis.call('ZADD', KEYS[6], 0, addr) end
    for _, key in ipairs({ARGV[i+6], ARGV[i+7]}) do
      if key ~= '' then
        local cur = redis.call('HGET', KEYS[7], key)
        if not cur or tonumber(cur) < tonumber(due) then redis.call('HSET', KEYS[7], key, due) end
      end
    end
    counts[sig] = (counts[sig] or 0) + 1
    if single then redis.call('HSET', KEYS[10 + j], id, page) end
  end
end
for s = 1, nsig do
  local n = counts[s]
  if n then
    for d, f in string.gmatch(ARGV[3 + s], '(%-?%d+) ([^\n]*)') do
      if redis.call('HINCRBY', KEYS[8], f, n * tonumber(d)) == 0 then redis.call('HDEL', KEYS[8], f) end
    end
  end
end
if single then
  redis.call('HSET', KEYS[9], incident, page)
  redis.call('SADD', KEYS[10], page)
end
return {created, ''}
`)

// claimSurveysScript is the global part of a create on Redis Cluster,
// run before the page's script: it refuses an incident another page has
// surveys of, maps the incident and every ID not another page's to the
// page, and notes the page in survey-pages.
//
// KEYS (the global slot): 1 survey-incidents, 2 survey-pages, 2+j the ID
// lookup bucket of survey j. ARGV: 1 page ID, 2 incident ID, 2+j the ID
// of survey j. Returns {-1, that page}, or {0, the numbers j of the IDs
// another page holds…}.
var claimSurveysScript = goredis.NewScript(`
local page = ARGV[1]
local owner = redis.call('HGET', KEYS[1], ARGV[2])
if owner and owner ~= page then return {-1, owner} end
local out = {0}
for j = 3, #ARGV do
  local o = redis.call('HGET', KEYS[j], ARGV[j])
  if o and o ~= page then table.insert(out, j - 2) else redis.call('HSET', KEYS[j], ARGV[j], page) end
end
redis.call('HSET', KEYS[1], ARGV[2], page)
redis.call('SADD', KEYS[2], page)
return out
`)

// saveSurveyScript stores a survey's next version.
//
// KEYS (the page's slot): 1 surveys, 2 the incident's surveys in the
// stored state, 3 those in the new state, 4 surveys:due, 5
// surveys:addresses, 6 survey-last, 7 the incident's tallies.
//
// ARGV: 1 ID, 2 the stored JSON the caller read, 3 the new JSON, 4 due ms
// or "" (unless scheduled), 5 the stored surveys:addresses member or "",
// 6 the new one or "", 7 the key whose last time ARGV[8] raises or ""
// (when skipped), 8 the survey's time in ms (surveys.Survey.SurveyedAt),
// 9 the address key ARGV[8] raises too or "" (surveys.Survey.LastKeys),
// 10 the stored survey's time in ms: a key whose last time it is moves
// back to ARGV[8] when that is earlier (sent before it was due), then
// pairs of counter field and delta (surveys.TallyChanges from the stored
// JSON to the new).
//
// Writes only while the survey is still stored as the caller read it, so
// the deltas are exactly the difference; returns 1, or 0 when it was
// changed meanwhile (or is not stored).
var saveSurveyScript = goredis.NewScript(`
local id = ARGV[1]
if redis.call('HGET', KEYS[1], id) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], id, ARGV[3])
if KEYS[2] ~= KEYS[3] then
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZADD', KEYS[3], 0, id)
end
if ARGV[4] == '' then redis.call('ZREM', KEYS[4], id) else redis.call('ZADD', KEYS[4], ARGV[4], id) end
if ARGV[5] ~= ARGV[6] then
  if ARGV[5] ~= '' then redis.call('ZREM', KEYS[5], ARGV[5]) end
  if ARGV[6] ~= '' then redis.call('ZADD', KEYS[5], 0, ARGV[6]) end
end
for _, key in ipairs({ARGV[7], ARGV[9]}) do
  if key ~= '' then
    local cur = redis.call('HGET', KEYS[6], key)
    if not cur or tonumber(cur) < tonumber(ARGV[8]) or tonumber(cur) == tonumber(ARGV[10]) then redis.call('HSET', KEYS[6], key, ARGV[8]) end
  end
end
for i = 11, #ARGV, 2 do
  if redis.call('HINCRBY', KEYS[7], ARGV[i], ARGV[i+1]) == 0 then redis.call('HDEL', KEYS[7], ARGV[i]) end
end
return 1
`)

// createSurveysBatch is how many surveys one createSurveysScript call
// writes, so that a long call never blocks Redis for long (callers
// create in batches of about this size).
const createSurveysBatch = 2000

// createSurveysKeys are createSurveysScript's page KEYS.
func (db *DB) createSurveysKeys(pageID, incidentID string) []string {
	k := db.keys
	return []string{k.surveys(pageID), k.surveysByIncident(pageID, incidentID),
		k.surveysByState(pageID, string(surveys.Scheduled), incidentID), k.surveysByState(pageID, string(surveys.Skipped), incidentID),
		k.surveysDue(pageID), k.surveyAddresses(pageID), k.surveyLast(pageID), k.surveyTallies(pageID, incidentID)}
}

// saveSurveyKeys are saveSurveyScript's KEYS.
func (db *DB) saveSurveyKeys(pageID, incidentID string, from, to surveys.State) []string {
	k := db.keys
	return []string{k.surveys(pageID), k.surveysByState(pageID, string(from), incidentID), k.surveysByState(pageID, string(to), incidentID),
		k.surveysDue(pageID), k.surveyAddresses(pageID), k.surveyLast(pageID), k.surveyTallies(pageID, incidentID)}
}

// lastKeys are v's surveys.Survey.LastKeys as the scripts take them: its
// key, and its address key or "".
func lastKeys(v *surveys.Survey) (key, address string) {
	ks := v.LastKeys()
	if len(ks) > 1 {
		address = ks[1]
	}
	return ks[0], address
}

// surveyTallyField is a counter's field in an incident's tallies hash: the
// JSON array [key, field], which no two counters share.
func surveyTallyField(key, field string) (string, error) { return encode([2]string{key, field}) }

// surveyAddressPrefix starts the surveyAddresses members of kind and
// address: both length-prefixed, so that no pair's prefix begins another
// pair's members.
func surveyAddressPrefix(kind channel.Kind, address string) string {
	return strconv.Itoa(len(kind)) + ":" + string(kind) + strconv.Itoa(len(address)) + ":" + address
}

// surveyAddress is a survey's surveyAddresses member, "" when it has no
// SentAt. The time's sign bit is flipped so that the hex digits sort as
// the times do.
func surveyAddress(v *surveys.Survey) string {
	if v.SentAt == nil {
		return ""
	}
	return surveyAddressPrefix(v.Channel, v.Address) + fmt.Sprintf("%016x", uint64(ms(*v.SentAt))^1<<63) + v.ID
}

// ---- settings ----

// SaveSettings implements surveys.Store: one SET.
func (db *DB) SaveSettings(ctx context.Context, s *surveys.Settings) error {
	if err := surveys.CheckSettings(s); err != nil {
		return err
	}
	if err := validPage(s.PageID); err != nil {
		return err
	}
	v := *s
	v.UpdatedAt = surveys.Millis(s.UpdatedAt)
	doc, err := encode(&v)
	if err != nil {
		return err
	}
	if err := db.client.Set(ctx, db.keys.surveySettings(v.PageID), doc, 0).Err(); err != nil {
		return fmt.Errorf("redis: save survey settings: %w", err)
	}
	return nil
}

// FindSettings implements surveys.Store.
func (db *DB) FindSettings(ctx context.Context, pageID string) (*surveys.Settings, error) {
	if !incident.ValidID(pageID) {
		return nil, incident.NotFound("survey settings of page", pageID)
	}
	s, err := db.client.Get(ctx, db.keys.surveySettings(pageID)).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, incident.NotFound("survey settings of page", pageID)
	} else if err != nil {
		return nil, fmt.Errorf("redis: find survey settings: %w", err)
	}
	return decode[surveys.Settings](s)
}

// ---- surveys ----

// CreateSurveys implements surveys.Store: createSurveysScript per
// createSurveysBatch surveys, in the page's slot. On Cluster each batch
// first claims its IDs and the incident in the global slot
// (claimSurveysScript), then the page's script writes; a failure between
// the two leaves only lookups, which reads ignore and a retry reuses.
// A failure half-way through a long call leaves the batches before it
// created, which a retry skips.
func (db *DB) CreateSurveys(ctx context.Context, ss []*surveys.Survey) (int, error) {
	if err := surveys.CheckCreate(ss); err != nil {
		return 0, err
	}
	if len(ss) == 0 {
		return 0, nil
	}
	if err := validPage(ss[0].PageID); err != nil {
		return 0, err
	}
	created := 0
	for lo := 0; lo < len(ss); lo += createSurveysBatch {
		n, err := db.createSurveys(ctx, ss[lo:min(lo+createSurveysBatch, len(ss))])
		created += n
		if err != nil {
			return created, err
		}
	}
	return created, nil
}

// createSurveys writes one batch (see CreateSurveys).
func (db *DB) createSurveys(ctx context.Context, ss []*surveys.Survey) (int, error) {
	pageID, incidentID := ss[0].PageID, ss[0].IncidentID
	if db.perSlot {
		keys := []string{db.keys.surveyIncidents(), db.keys.surveyPageIDs()}
		args := []any{pageID, incidentID}
		for _, s := range ss {
			keys = append(keys, db.keys.surveyPages(s.ID))
			args = append(args, s.ID)
		}
		res, err := claimSurveysScript.Run(ctx, db.client, keys, args...).Slice()
		if err != nil {
			return 0, fmt.Errorf("redis: create surveys: %w", err)
		}
		if len(res) == 0 {
			return 0, fmt.Errorf("redis: create surveys: unexpected reply %v", res)
		}
		if code, _ := res[0].(int64); code != 0 {
			return 0, incident.Errorf(incident.ECONFLICT, "incident %s has surveys on page %v, not %s", incidentID, res[1:], pageID)
		}
		foreign := map[int]bool{}
		for _, j := range res[1:] {
			n, _ := j.(int64)
			foreign[int(n)-1] = true
		}
		if len(foreign) > 0 {
			mine := make([]*surveys.Survey, 0, len(ss))
			for i, s := range ss {
				if !foreign[i] {
					mine = append(mine, s)
				}
			}
			if ss = mine; len(ss) == 0 {
				return 0, nil
			}
		}
	}

	keys := db.createSurveysKeys(pageID, incidentID)
	if !db.perSlot {
		keys = append(keys, db.keys.surveyIncidents(), db.keys.surveyPageIDs())
		for _, s := range ss {
			keys = append(keys, db.keys.surveyPages(s.ID))
		}
	}
	sigs := map[string]int{}
	var sigList []any
	per := make([]any, 0, 8*len(ss))
	for _, s := range ss {
		v := s.WithTimes(surveys.Millis)
		doc, err := encode(v)
		if err != nil {
			return 0, err
		}
		sig, err := tallySignature(surveys.TallyChanges(nil, v))
		if err != nil {
			return 0, err
		}
		n, ok := sigs[sig]
		if !ok {
			sigList = append(sigList, sig)
			n = len(sigList)
			sigs[sig] = n
		}
		due, key, akey := "", "", ""
		if v.State == surveys.Scheduled {
			due = msString(v.DueAt)
			key, akey = lastKeys(v)
		}
		per = append(per, v.ID, doc, string(v.State), strconv.Itoa(n), due, surveyAddress(v), key, akey)
	}
	args := append(append([]any{pageID, incidentID, strconv.Itoa(len(sigList))}, sigList...), per...)
	res, err := createSurveysScript.Run(ctx, db.client, keys, args...).Slice()
	if err != nil {
		return 0, fmt.Errorf("redis: create surveys: %w", err)
	}
	if len(res) != 2 {
		return 0, fmt.Errorf("redis: create surveys: unexpected reply %v", res)
	}
	n, _ := res[0].(int64)
	if n < 0 {
		return 0, incident.Errorf(incident.ECONFLICT, "incident %s has surveys on page %v, not %s", incidentID, res[1], pageID)
	}
	return int(n), nil
}

// tallySignature encodes a new survey's counter changes for
// createSurveysScript: a line "<delta> <field>" per change. Fields are
// JSON, which has no raw newline.
func tallySignature(changes []surveys.TallyChange) (string, error) {
	var b strings.Builder
	for _, c := range changes {
		f, err := surveyTallyField(c.Key, c.Field)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%d %s\n", c.Delta, f)
	}
	return b.String(), nil
}

// SaveSurvey implements surveys.Store: it reads the stored survey on s's
// page, checks the version and the incident, and computes the counters'
// changes (surveys.TallyChanges) in Go; saveSurveyScript writes the survey,
// its indexes and the changes only while the survey is stored as read,
// so a concurrent save makes it ECONFLICT, writing nothing.
func (db *DB) SaveSurvey(ctx context.Context, s *surveys.Survey) error {
	if err := surveys.CheckSave(s); err != nil {
		return err
	}
	if err := validPage(s.PageID); err != nil {
		return err
	}
	v := s.WithTimes(surveys.Millis)
	doc, err := encode(v)
	if err != nil {
		return err
	}
	cur, err := db.client.HGet(ctx, db.keys.surveys(v.PageID), v.ID).Result()
	if errors.Is(err, goredis.Nil) {
		return incident.Errorf(incident.ECONFLICT, "page %s has no survey %s to save version %d of", v.PageID, v.ID, v.Version)
	} else if err != nil {
		return fmt.Errorf("redis: save survey: %w", err)
	}
	old, err := decode[surveys.Survey](cur)
	if err != nil {
		return err
	}
	if old.IncidentID != v.IncidentID {
		return incident.Invalid("incident_id", "survey %s is of incident %s: a survey's incident never changes", v.ID, old.IncidentID)
	}
	if old.Version != v.Version-1 {
		return incident.Errorf(incident.ECONFLICT, "survey %s is at version %d, not %d: reload and retry", v.ID, old.Version, v.Version-1)
	}
	due, key, akey := "", "", ""
	if v.State == surveys.Scheduled {
		due = msString(v.DueAt)
	}
	if v.State != surveys.Skipped {
		key, akey = lastKeys(v)
	}
	args := []any{v.ID, cur, doc, due, surveyAddress(old), surveyAddress(v), key, msString(v.SurveyedAt()), akey, msString(old.SurveyedAt())}
	for _, c := range surveys.TallyChanges(old, v) {
		f, err := surveyTallyField(c.Key, c.Field)
		if err != nil {
			return err
		}
		args = append(args, f, strconv.Itoa(c.Delta))
	}
	ok, err := saveSurveyScript.Run(ctx, db.client, db.saveSurveyKeys(v.PageID, v.IncidentID, old.State, v.State), args...).Int()
	if err != nil {
		return fmt.Errorf("redis: save survey: %w", err)
	}
	if ok != 1 {
		return incident.Errorf(incident.ECONFLICT, "survey %s was changed meanwhile (expected version %d): reload and retry", v.ID, v.Version-1)
	}
	return nil
}

// FindSurveyByID implements surveys.Store: the ID's page from its
// lookup, then the survey in the page's hash (a lookup without a survey,
// left by a create cut short on Cluster, is not found).
func (db *DB) FindSurveyByID(ctx context.Context, id string) (*surveys.Survey, error) {
	pageID, err := db.client.HGet(ctx, db.keys.surveyPages(id), id).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, incident.NotFound("survey", id)
	} else if err != nil {
		return nil, fmt.Errorf("redis: find survey: %w", err)
	}
	s, err := db.client.HGet(ctx, db.keys.surveys(pageID), id).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, incident.NotFound("survey", id)
	} else if err != nil {
		return nil, fmt.Errorf("redis: find survey: %w", err)
	}
	return decode[surveys.Survey](s)
}

// surveyDocs returns the page's surveys of ids, in order. The scripts
// write a survey with its index entries and never delete one, so every
// indexed ID has its document.
func (db *DB) surveyDocs(ctx context.Context, pageID string, ids []string) ([]*surveys.Survey, error) {
	out := []*surveys.Survey{}
	if len(ids) == 0 {
		return out, nil
	}
	docs, err := db.client.HMGet(ctx, db.keys.surveys(pageID), ids...).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: find surveys: %w", err)
	}
	for i, d := range docs {
		s, ok := d.(string)
		if !ok {
			return nil, fmt.Errorf("redis: find surveys: survey %s is indexed but missing", ids[i])
		}
		v, err := decode[surveys.Survey](s)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// FindDueSurveys implements surveys.Store: the first limit due members
// of each page's surveys:due (every page in survey-pages, one pipeline),
// merged earliest first, ties by ID; then their documents, a HMGET per
// page in one pipeline.
func (db *DB) FindDueSurveys(ctx context.Context, now time.Time, limit int) ([]*surveys.Survey, error) {
	out := []*surveys.Survey{}
	if limit < 1 {
		return out, nil
	}
	pages, err := db.client.SMembers(ctx, db.keys.surveyPageIDs()).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: find due surveys: %w", err)
	}
	if len(pages) == 0 {
		return out, nil
	}
	pipe := db.client.Pipeline()
	cmds := make([]*goredis.ZSliceCmd, len(pages))
	for i, p := range pages {
		cmds[i] = pipe.ZRangeByScoreWithScores(ctx, db.keys.surveysDue(p), &goredis.ZRangeBy{Min: "-inf", Max: msString(now), Count: int64(limit)})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("redis: find due surveys: %w", err)
	}
	type ref struct {
		page, id string
		due      float64
	}
	var refs []ref
	for i, cmd := range cmds {
		for _, z := range cmd.Val() {
			refs = append(refs, ref{page: pages[i], id: z.Member.(string), due: z.Score})
		}
	}
	sort.Slice(refs, func(i, j int) bool {
		return refs[i].due < refs[j].due || refs[i].due == refs[j].due && refs[i].id < refs[j].id
	})
	refs = refs[:min(len(refs), limit)]
	byPage := map[string][]string{}
	for _, r := range refs {
		byPage[r.page] = append(byPage[r.page], r.id)
	}
	pipe = db.client.Pipeline()
	docs := map[string]*goredis.SliceCmd{}
	for p, ids := range byPage {
		docs[p] = pipe.HMGet(ctx, db.keys.surveys(p), ids...)
	}
	if len(docs) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("redis: find due surveys: %w", err)
		}
	}
	next := map[string]int{}
	for _, r := range refs {
		i := next[r.page]
		next[r.page]++
		s, ok := docs[r.page].Val()[i].(string)
		if !ok {
			return nil, fmt.Errorf("redis: find due surveys: survey %s is due but missing", r.id)
		}
		v, err := decode[surveys.Survey](s)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// FindSurveysByAddress implements surveys.Store: one ZREVRANGEBYLEX over
// the address's members of surveys:addresses, then the documents.
func (db *DB) FindSurveysByAddress(ctx context.Context, pageID string, kind channel.Kind, address string, limit int) ([]*surveys.Survey, error) {
	if limit < 1 || !incident.ValidID(pageID) {
		return []*surveys.Survey{}, nil
	}
	prefix := surveyAddressPrefix(kind, address)
	members, err := db.client.ZRevRangeByLex(ctx, db.keys.surveyAddresses(pageID),
		&goredis.ZRangeBy{Min: "[" + prefix, Max: "[" + prefix + "\xff", Count: int64(limit)}).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: find surveys by address: %w", err)
	}
	ids := make([]string, len(members))
	for i, m := range members {
		if len(m) <= len(prefix)+16 {
			return nil, fmt.Errorf("redis: find surveys by address: bad member %q", m)
		}
		ids[i] = m[len(prefix)+16:]
	}
	return db.surveyDocs(ctx, pageID, ids)
}

// LastSurveyed implements surveys.Store: one HGET of survey-last.
func (db *DB) LastSurveyed(ctx context.Context, pageID, key string) (time.Time, error) {
	if !incident.ValidID(pageID) {
		return time.Time{}, nil
	}
	s, err := db.client.HGet(ctx, db.keys.surveyLast(pageID), key).Result()
	if errors.Is(err, goredis.Nil) {
		return time.Time{}, nil
	} else if err != nil {
		return time.Time{}, fmt.Errorf("redis: last surveyed: %w", err)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("redis: last surveyed: %w", err)
	}
	return time.UnixMilli(n).UTC(), nil
}

// incidentSurveyPage returns the page an incident's surveys are on, or
// "" when it has none.
func (db *DB) incidentSurveyPage(ctx context.Context, incidentID string) (string, error) {
	p, err := db.client.HGet(ctx, db.keys.surveyIncidents(), incidentID).Result()
	if errors.Is(err, goredis.Nil) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("redis: find the page of incident %s: %w", incidentID, err)
	}
	return p, nil
}

// FindSurveys implements surveys.Store: the incident's page from its
// lookup, a ZRANGEBYLEX of its (state's) index after the cursor, then
// the documents.
func (db *DB) FindSurveys(ctx context.Context, incidentID string, state surveys.State, after string, limit int) ([]*surveys.Survey, error) {
	if state != "" && !slices.Contains(surveys.States, state) {
		return nil, incident.Invalid("state", "unknown state %q", state)
	}
	if limit < 1 {
		return []*surveys.Survey{}, nil
	}
	pageID, err := db.incidentSurveyPage(ctx, incidentID)
	if err != nil || pageID == "" {
		return []*surveys.Survey{}, err
	}
	index := db.keys.surveysByIncident(pageID, incidentID)
	if state != "" {
		index = db.keys.surveysByState(pageID, string(state), incidentID)
	}
	from := "-"
	if after != "" {
		from = "(" + after
	}
	ids, err := db.client.ZRangeByLex(ctx, index, &goredis.ZRangeBy{Min: from, Max: "+", Count: int64(limit)}).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: find surveys: %w", err)
	}
	return db.surveyDocs(ctx, pageID, ids)
}

// Tallies implements surveys.Store: one HGETALL of the incident's
// counters (the scripts delete those that reach zero).
func (db *DB) Tallies(ctx context.Context, incidentID string) (map[string]*surveys.Tally, error) {
	out := map[string]*surveys.Tally{}
	pageID, err := db.incidentSurveyPage(ctx, incidentID)
	if err != nil || pageID == "" {
		return out, err
	}
	m, err := db.client.HGetAll(ctx, db.keys.surveyTallies(pageID, incidentID)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: survey tallies: %w", err)
	}
	for f, s := range m {
		var kf [2]string
		if err := json.Unmarshal([]byte(f), &kf); err != nil {
			return nil, fmt.Errorf("redis: survey tallies: counter %q: %w", f, err)
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("redis: survey tallies: counter %q: %w", f, err)
		}
		if n == 0 {
			continue
		}
		t := out[kf[0]]
		if t == nil {
			t = &surveys.Tally{}
			out[kf[0]] = t
		}
		t.Apply(kf[1], n)
	}
	return out, nil
}
