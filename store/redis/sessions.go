package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/incident"
)

// Console sessions and sign-in links (incident.SessionStore). Each is one
// key that expires when the session or link does, so nothing needs
// sweeping; a session is a hash so that a touch writes two fields.

var _ incident.SessionStore = (*DB)(nil)

// createSessionScript stores a session unless its key exists.
var createSessionScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1`)

// touchSessionScript moves a live session's times (and language).
var touchSessionScript = goredis.NewScript(`
local exp = redis.call('HGET', KEYS[1], 'expires_at')
if not exp or tonumber(exp) < tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'seen_at', ARGV[1], 'expires_at', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'language', ARGV[3]) end
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1`)

// CreateSession implements incident.SessionStore.
func (db *DB) CreateSession(ctx context.Context, s *incident.Session) error {
	n, err := createSessionScript.Run(ctx, db.client, []string{db.keys.session(s.Hash)}, s.ExpiresAt.UnixMilli(),
		"token_id", s.TokenID, "token_hash", s.TokenHash, "name", s.Name, "role", string(s.Role), "language", s.Language,
		"created_at", s.CreatedAt.UnixMilli(), "seen_at", s.SeenAt.UnixMilli(), "expires_at", s.ExpiresAt.UnixMilli()).Int()
	if err != nil {
		return fmt.Errorf("redis: create session: %w", err)
	}
	if n == 0 {
		return incident.Errorf(incident.ECONFLICT, "session exists")
	}
	return nil
}

// FindSessionByHash implements incident.SessionStore.
func (db *DB) FindSessionByHash(ctx context.Context, hash string, now time.Time) (*incident.Session, error) {
	m, err := db.client.HGetAll(ctx, db.keys.session(hash)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: find session: %w", err)
	}
	msf := func(k string) time.Time {
		v, _ := strconv.ParseInt(m[k], 10, 64)
		return time.UnixMilli(v).UTC()
	}
	if len(m) == 0 || msf("expires_at").Before(now) {
		return nil, incident.Errorf(incident.ENOTFOUND, "session not found")
	}
	return &incident.Session{Hash: hash, TokenID: m["token_id"], TokenHash: m["token_hash"], Name: m["name"], Role: incident.Role(m["role"]),
		Language: m["language"], CreatedAt: msf("created_at"), SeenAt: msf("seen_at"), ExpiresAt: msf("expires_at")}, nil
}

// TouchSession implements incident.SessionStore.
func (db *DB) TouchSession(ctx context.Context, hash string, seenAt, expiresAt time.Time, language string) error {
	n, err := touchSessionScript.Run(ctx, db.client, []string{db.keys.session(hash)}, seenAt.UnixMilli(), expiresAt.UnixMilli(), language).Int()
	if err != nil {
		return fmt.Errorf("redis: touch session: %w", err)
	}
	if n == 0 {
		return incident.Errorf(incident.ENOTFOUND, "session not found")
	}
	return nil
}

// DeleteSession implements incident.SessionStore.
func (db *DB) DeleteSession(ctx context.Context, hash string) error {
	if err := db.client.Del(ctx, db.keys.session(hash)).Err(); err != nil {
		return fmt.Errorf("redis: delete session: %w", err)
	}
	return nil
}

// CreateSignInLink implements incident.SessionStore.
func (db *DB) CreateSignInLink(ctx context.Context, l *incident.SignInLink) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	err = db.client.SetArgs(ctx, db.keys.signInLink(l.Hash), b, goredis.SetArgs{Mode: "NX", ExpireAt: l.ExpiresAt}).Err()
	if err == goredis.Nil {
		return incident.Errorf(incident.ECONFLICT, "sign-in link exists")
	} else if err != nil {
		return fmt.Errorf("redis: create sign-in link: %w", err)
	}
	return nil
}

// TakeSignInLink implements incident.SessionStore: GETDEL, so only one
// taker gets it.
func (db *DB) TakeSignInLink(ctx context.Context, hash string, now time.Time) (*incident.SignInLink, error) {
	b, err := db.client.GetDel(ctx, db.keys.signInLink(hash)).Bytes()
	if err == goredis.Nil {
		return nil, incident.Errorf(incident.ENOTFOUND, "sign-in link not found")
	} else if err != nil {
		return nil, fmt.Errorf("redis: take sign-in link: %w", err)
	}
	var l incident.SignInLink
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("redis: decode sign-in link: %w", err)
	}
	if l.ExpiresAt.Before(now) {
		return nil, incident.Errorf(incident.ENOTFOUND, "sign-in link not found")
	}
	return &l, nil
}
