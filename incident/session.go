package incident

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"time"
)

// Session is a console sign-in: the browser holds a random secret in a
// cookie, the store keeps only its hash. A session acts with the token it
// was opened with (TokenHash), so revoking the token ends its sessions.
type Session struct {
	Hash      string    `json:"hash"` // HashToken of the cookie's secret
	TokenID   string    `json:"token_id"`
	TokenHash string    `json:"token_hash"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	Language  string    `json:"language,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	SeenAt    time.Time `json:"seen_at"`
	// ExpiresAt is when the session ends unless used again: SeenAt plus
	// the idle timeout, never later than the absolute limit.
	ExpiresAt time.Time `json:"expires_at"`
}

// SignInLink is a one-time console sign-in link (`herald console link`):
// the link carries a random secret, the store its hash, and taking it
// deletes it.
type SignInLink struct {
	Hash      string    `json:"hash"`
	TokenID   string    `json:"token_id"`
	TokenHash string    `json:"token_hash"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// SessionStore keeps console sessions and sign-in links; store/sqlite and
// store/redis implement it (on Redis every node sees every session), and
// store/storetest.RunSessions is their conformance suite.
type SessionStore interface {
	// CreateSession stores a new session; a hash already stored returns ECONFLICT.
	CreateSession(ctx context.Context, s *Session) error
	// FindSessionByHash returns the session, or ENOTFOUND when there is
	// none or it expired before now.
	FindSessionByHash(ctx context.Context, hash string, now time.Time) (*Session, error)
	// TouchSession moves a live session's SeenAt and ExpiresAt (and its
	// Language when not empty); ENOTFOUND when it is gone.
	TouchSession(ctx context.Context, hash string, seenAt, expiresAt time.Time, language string) error
	// DeleteSession ends a session; deleting a missing one is not an error.
	DeleteSession(ctx context.Context, hash string) error
	// CreateSignInLink stores a one-time link.
	CreateSignInLink(ctx context.Context, l *SignInLink) error
	// TakeSignInLink returns the link and deletes it, atomically, so that
	// of two takers only one gets it; ENOTFOUND when there is none or it
	// expired before now.
	TakeSignInLink(ctx context.Context, hash string, now time.Time) (*SignInLink, error)
}

// NewSessionSecret returns a fresh secret for a session cookie or a
// sign-in link (256 bits from crypto/rand) and its stored hash.
func NewSessionSecret() (secret, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("incident: crypto/rand failed: " + err.Error())
	}
	secret = base64.RawURLEncoding.EncodeToString(b)
	return secret, HashToken(secret)
}
