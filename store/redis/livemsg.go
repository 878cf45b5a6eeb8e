package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/livemsg"
)

var _ livemsg.Store = (*DB)(nil)

// liveMessageDoc is a livemsg.Message as stored: JSON with times in Unix
// milliseconds, which the claim script reads.
type liveMessageDoc struct {
	IncidentID string `json:"incident_id"`
	PageID     string `json:"page_id"`
	Channel    string `json:"channel"`
	TS         string `json:"ts"`
	Replied    string `json:"replied"`
	Rendered   string `json:"rendered,omitempty"`
	EditedAt   int64  `json:"edited_at,omitempty"`
	ClaimedAt  int64  `json:"claimed_at"`
	UpdatedAt  int64  `json:"updated_at"`
}

func encodeLiveMessage(m *livemsg.Message) (string, error) {
	b, err := json.Marshal(liveMessageDoc{IncidentID: m.IncidentID, PageID: m.PageID, Channel: m.Channel, TS: m.TS,
		Replied: m.Replied, Rendered: m.Rendered, EditedAt: msOrZero(m.EditedAt), ClaimedAt: ms(m.ClaimedAt), UpdatedAt: ms(m.UpdatedAt)})
	return string(b), err
}

// claimLiveMessageScript sets KEYS[1] to ARGV[1] unless the message stored
// there has a ts, or was claimed at or after ARGV[2] (ms); 1 when set.
var claimLiveMessageScript = goredis.NewScript(`
local old = redis.call('GET', KEYS[1])
if old then
	local m = cjson.decode(old)
	if m.ts ~= '' or tonumber(m.claimed_at) >= tonumber(ARGV[2]) then
		return 0
	end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`)

// ClaimLiveMessage implements livemsg.Store, atomically in a script.
func (db *DB) ClaimLiveMessage(ctx context.Context, m *livemsg.Message, staleBefore time.Time) (bool, error) {
	doc, err := encodeLiveMessage(m)
	if err != nil {
		return false, fmt.Errorf("redis: claim live message: %w", err)
	}
	n, err := claimLiveMessageScript.Run(ctx, db.client, []string{db.keys.liveMessage(m.IncidentID)}, doc, ms(staleBefore)).Int()
	if err != nil {
		return false, fmt.Errorf("redis: claim live message: %w", err)
	}
	return n == 1, nil
}

// SaveLiveMessage implements livemsg.Store.
func (db *DB) SaveLiveMessage(ctx context.Context, m *livemsg.Message) error {
	doc, err := encodeLiveMessage(m)
	if err != nil {
		return fmt.Errorf("redis: save live message: %w", err)
	}
	if err := db.client.Set(ctx, db.keys.liveMessage(m.IncidentID), doc, 0).Err(); err != nil {
		return fmt.Errorf("redis: save live message: %w", err)
	}
	return nil
}

// advanceLiveReplyScript sets KEYS[1] to ARGV[1] if the message stored
// there was last replied at ARGV[2]; 1 when set, 0 when not, -1 when there
// is no message.
var advanceLiveReplyScript = goredis.NewScript(`
local old = redis.call('GET', KEYS[1])
if not old then
	return -1
end
if cjson.decode(old).replied ~= ARGV[2] then
	return 0
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`)

// AdvanceLiveReply implements livemsg.Store, atomically in a script.
func (db *DB) AdvanceLiveReply(ctx context.Context, m *livemsg.Message, from string) (bool, error) {
	doc, err := encodeLiveMessage(m)
	if err != nil {
		return false, fmt.Errorf("redis: advance live reply: %w", err)
	}
	n, err := advanceLiveReplyScript.Run(ctx, db.client, []string{db.keys.liveMessage(m.IncidentID)}, doc, from).Int()
	if err != nil {
		return false, fmt.Errorf("redis: advance live reply: %w", err)
	}
	if n < 0 {
		return false, incident.NotFound("live message", m.IncidentID)
	}
	return n == 1, nil
}

// FindLiveMessage implements livemsg.Store.
func (db *DB) FindLiveMessage(ctx context.Context, incidentID string) (*livemsg.Message, error) {
	s, err := db.client.Get(ctx, db.keys.liveMessage(incidentID)).Result()
	if err == goredis.Nil {
		return nil, incident.NotFound("live message", incidentID)
	}
	if err != nil {
		return nil, fmt.Errorf("redis: find live message: %w", err)
	}
	var d liveMessageDoc
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return nil, fmt.Errorf("redis: decode live message: %w", err)
	}
	m := &livemsg.Message{IncidentID: d.IncidentID, PageID: d.PageID, Channel: d.Channel, TS: d.TS, Replied: d.Replied, Rendered: d.Rendered,
		ClaimedAt: time.UnixMilli(d.ClaimedAt).UTC(), UpdatedAt: time.UnixMilli(d.UpdatedAt).UTC()}
	if d.EditedAt != 0 {
		m.EditedAt = time.UnixMilli(d.EditedAt).UTC()
	}
	return m, nil
}

// msOrZero is ms(t), or 0 for the zero time (never edited).
func msOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return ms(t)
}

// leaseLiveMessageScript sets KEYS[1] to ARGV[1]|ARGV[2] unless another
// holder's lease stored there runs past ARGV[3] (ms); 1 when set. The key
// outlives the lease by a minute, measured as a duration so that the
// nodes' clocks and Redis's need not agree.
var leaseLiveMessageScript = goredis.NewScript(`
local old = redis.call('GET', KEYS[1])
if old then
	local holder, untl = string.match(old, '^(.*)|(%-?%d+)$')
	if holder ~= ARGV[1] and tonumber(untl) > tonumber(ARGV[3]) then
		return 0
	end
end
local ttl = tonumber(ARGV[2]) - tonumber(ARGV[3])
if ttl < 0 then
	ttl = 0
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'PX', ttl + 60000)
return 1
`)

// LeaseLiveMessage implements livemsg.Store, atomically in a script.
func (db *DB) LeaseLiveMessage(ctx context.Context, incidentID, holder string, now, until time.Time) (bool, error) {
	n, err := leaseLiveMessageScript.Run(ctx, db.client, []string{db.keys.liveMessageLease(incidentID)}, holder, ms(until), ms(now)).Int()
	if err != nil {
		return false, fmt.Errorf("redis: lease live message: %w", err)
	}
	return n == 1, nil
}

// releaseLiveMessageScript deletes KEYS[1] if holder ARGV[1] holds it.
var releaseLiveMessageScript = goredis.NewScript(`
local old = redis.call('GET', KEYS[1])
if old and string.match(old, '^(.*)|%-?%d+$') == ARGV[1] then
	redis.call('DEL', KEYS[1])
end
return 0
`)

// ReleaseLiveMessage implements livemsg.Store.
func (db *DB) ReleaseLiveMessage(ctx context.Context, incidentID, holder string) error {
	if err := releaseLiveMessageScript.Run(ctx, db.client, []string{db.keys.liveMessageLease(incidentID)}, holder).Err(); err != nil && err != goredis.Nil {
		return fmt.Errorf("redis: release live message: %w", err)
	}
	return nil
}
