package incident

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"time"
)

// Role is what a token may do. Each role includes the ones below it.
type Role string

// Roles, most powerful first.
const (
	RoleAdmin   Role = "admin"   // tokens, pages, settings, and everything a manager does
	RoleManager Role = "manager" // components, incidents, maintenance
	RoleAgent   Role = "agent"   // read
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.rank() > 0 }

func (r Role) rank() int {
	switch r {
	case RoleAdmin:
		return 3
	case RoleManager:
		return 2
	case RoleAgent:
		return 1
	}
	return 0
}

// Allows reports whether a token of role r may do what needs role need.
func (r Role) Allows(need Role) bool { return r.rank() > 0 && r.rank() >= need.rank() }

// Token is an API credential. Only the SHA-256 of the secret is stored: the
// secret is 256 random bits, so a fast hash is enough (no password stretching
// needed) and lookups stay O(1).
type Token struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Role       Role       `json:"role"`
	Hash       string     `json:"-"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// TokenPrefix starts every herald token, so secret scanners can spot one.
const TokenPrefix = "hrld_"

// NewTokenSecret returns a fresh token secret and its hash.
func NewTokenSecret() (secret, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("incident: crypto/rand failed: " + err.Error())
	}
	secret = TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, HashToken(secret)
}

// HashToken returns the stored form of a token secret.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Actor is who makes a change, for the audit log.
type Actor struct {
	TokenID string
	Name    string
	Role    Role
}

// ActorName is an actor as recorded (Actor.String) in the form people
// read: "Ana" for "Ana (token 1f7wz91hdjku)"; a token without a name
// stays "token …". The audit log keeps the whole.
func ActorName(recorded string) string {
	if i := strings.LastIndex(recorded, " (token "); i > 0 && strings.HasSuffix(recorded, ")") {
		return recorded[:i]
	}
	return recorded
}

// String is the form the audit log records.
func (a Actor) String() string {
	switch {
	case a.TokenID != "" && a.Name != "":
		return a.Name + " (token " + a.TokenID + ")"
	case a.TokenID != "":
		return "token " + a.TokenID
	case a.Name != "":
		return a.Name
	}
	return "system"
}

// StreamCheckEvery is how often a long-lived stream checks, between its
// heartbeats, that what it was opened with (a token, a session) still
// holds.
const StreamCheckEvery = 5 * time.Second

// StreamCheck returns the check a long-lived stream (server-sent events)
// calls before each write: false once check says its credentials are
// gone (ErrNotFound: revoked, signed out, expired), then for good. check
// runs on every heartbeat (beat) and before other writes at most every
// StreamCheckEvery, with a short deadline; another error (a store that
// does not answer) ends no stream and goes to log. A request checks its
// credentials once, but a stream lives for hours: a revoked agent must
// not keep receiving what it carries. For the stream's own goroutine only.
func StreamCheck(check func(ctx context.Context) error, log *slog.Logger, what string) func(beat bool) bool {
	var last time.Time
	live := true
	return func(beat bool) bool {
		if !live || !beat && time.Since(last) < StreamCheckEvery {
			return live
		}
		last = time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		switch err := check(ctx); {
		case errors.Is(err, ErrNotFound):
			live = false
			log.Info(what + " closed: its credentials ended")
		case err != nil:
			log.Warn(what+": check its credentials", "err", err)
		}
		return live
	}
}

// LiveToken is a StreamCheck's check of the token with hash: ErrNotFound
// once it is revoked or gone.
func LiveToken(store interface {
	FindTokenByHash(ctx context.Context, hash string) (*Token, error)
}, hash string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		tok, err := store.FindTokenByHash(ctx, hash)
		if err == nil && tok.RevokedAt != nil {
			return ErrNotFound
		}
		return err
	}
}
