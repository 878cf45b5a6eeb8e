package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald/incident"
)

// Console sessions and sign-in links (incident.SessionStore), in the
// tables of migration 0013. Messages never carry a hash: it is a
// credential's fingerprint.

var _ incident.SessionStore = (*DB)(nil)

// CreateSession implements incident.SessionStore. It also deletes the
// sessions and links that have expired.
func (db *DB) CreateSession(ctx context.Context, s *incident.Session) error {
	return db.write(ctx, "create session", func(tx *sql.Tx) error {
		now := ms(s.CreatedAt)
		if _, err := tx.ExecContext(ctx, "DELETE FROM console_sessions WHERE expires_at < ?", now); err != nil {
			return fmt.Errorf("sqlite: expire sessions: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM console_links WHERE expires_at < ?", now); err != nil {
			return fmt.Errorf("sqlite: expire sign-in links: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO console_sessions (hash, token_id, token_hash, name, role, language, created_at, seen_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, s.Hash, s.TokenID, s.TokenHash, s.Name, string(s.Role), s.Language,
			ms(s.CreatedAt), ms(s.SeenAt), ms(s.ExpiresAt))
		if err != nil && strings.Contains(err.Error(), "UNIQUE") {
			return incident.Errorf(incident.ECONFLICT, "session exists")
		} else if err != nil {
			return fmt.Errorf("sqlite: create session: %w", err)
		}
		return nil
	})
}

// FindSessionByHash implements incident.SessionStore.
func (db *DB) FindSessionByHash(ctx context.Context, hash string, now time.Time) (*incident.Session, error) {
	var s incident.Session
	var role string
	var created, seen, expires int64
	err := db.r.QueryRowContext(ctx, `SELECT hash, token_id, token_hash, name, role, language, created_at, seen_at, expires_at
		FROM console_sessions WHERE hash = ? AND expires_at >= ?`, hash, ms(now)).
		Scan(&s.Hash, &s.TokenID, &s.TokenHash, &s.Name, &role, &s.Language, &created, &seen, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.Errorf(incident.ENOTFOUND, "session not found")
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find session: %w", err)
	}
	s.Role, s.CreatedAt, s.SeenAt, s.ExpiresAt = incident.Role(role), fromMS(created), fromMS(seen), fromMS(expires)
	return &s, nil
}

// TouchSession implements incident.SessionStore.
func (db *DB) TouchSession(ctx context.Context, hash string, seenAt, expiresAt time.Time, language string) error {
	res, err := db.w.ExecContext(ctx, `UPDATE console_sessions SET seen_at = ?, expires_at = ?,
		language = CASE WHEN ? = '' THEN language ELSE ? END WHERE hash = ? AND expires_at >= ?`,
		ms(seenAt), ms(expiresAt), language, language, hash, ms(seenAt))
	if err != nil {
		return fmt.Errorf("sqlite: touch session: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: touch session: %w", err)
	} else if n == 0 {
		return incident.Errorf(incident.ENOTFOUND, "session not found")
	}
	return nil
}

// DeleteSession implements incident.SessionStore.
func (db *DB) DeleteSession(ctx context.Context, hash string) error {
	if _, err := db.w.ExecContext(ctx, "DELETE FROM console_sessions WHERE hash = ?", hash); err != nil {
		return fmt.Errorf("sqlite: delete session: %w", err)
	}
	return nil
}

// CreateSignInLink implements incident.SessionStore.
func (db *DB) CreateSignInLink(ctx context.Context, l *incident.SignInLink) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO console_links (hash, token_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		l.Hash, l.TokenID, l.TokenHash, ms(l.CreatedAt), ms(l.ExpiresAt))
	if err != nil && strings.Contains(err.Error(), "UNIQUE") {
		return incident.Errorf(incident.ECONFLICT, "sign-in link exists")
	} else if err != nil {
		return fmt.Errorf("sqlite: create sign-in link: %w", err)
	}
	return nil
}

// TakeSignInLink implements incident.SessionStore: DELETE … RETURNING,
// so only one taker gets the row.
func (db *DB) TakeSignInLink(ctx context.Context, hash string, now time.Time) (*incident.SignInLink, error) {
	var l incident.SignInLink
	var created, expires int64
	err := db.w.QueryRowContext(ctx, `DELETE FROM console_links WHERE hash = ? RETURNING hash, token_id, token_hash, created_at, expires_at`, hash).
		Scan(&l.Hash, &l.TokenID, &l.TokenHash, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.Errorf(incident.ENOTFOUND, "sign-in link not found")
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: take sign-in link: %w", err)
	}
	l.CreatedAt, l.ExpiresAt = fromMS(created), fromMS(expires)
	if l.ExpiresAt.Before(now) {
		return nil, incident.Errorf(incident.ENOTFOUND, "sign-in link not found")
	}
	return &l, nil
}
