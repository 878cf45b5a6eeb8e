package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald/incident"
)

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// queryer is a *sql.DB or *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// findAll runs query and scans every row with scan. Errors say "sqlite:
// find <what>"; no rows is an empty list, not nil.
func findAll[T any](ctx context.Context, q queryer, what string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: find %s: %w", what, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: find %s: %w", what, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

const pageColumns = "id, name, url, time_zone, languages, hosts, logo, created_at, updated_at"

func scanPage(s scanner) (*incident.Page, error) {
	var p incident.Page
	var langs, hosts string
	var created, updated int64
	if err := s.Scan(&p.ID, &p.Name, &p.URL, &p.TimeZone, &langs, &hosts, &p.Logo, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(langs), &p.Languages); err != nil {
		return nil, fmt.Errorf("page %s languages: %w", p.ID, err)
	}
	if err := json.Unmarshal([]byte(hosts), &p.Hosts); err != nil {
		return nil, fmt.Errorf("page %s hosts: %w", p.ID, err)
	}
	p.CreatedAt, p.UpdatedAt = fromMS(created), fromMS(updated)
	return &p, nil
}

// FindPageByID implements incident.Store.
func (db *DB) FindPageByID(ctx context.Context, id string) (*incident.Page, error) {
	p, err := scanPage(db.readRow(ctx, "SELECT "+pageColumns+" FROM pages WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.NotFound("page", id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find page %s: %w", id, err)
	}
	return p, nil
}

// FindPages implements incident.Store.
func (db *DB) FindPages(ctx context.Context) ([]*incident.Page, error) {
	return findAll(ctx, prepared{db: db}, "pages", scanPage, "SELECT "+pageColumns+" FROM pages ORDER BY created_at, rowid")
}

const componentColumns = `id, page_id, name, description, status, position, group_id, is_group, showcase,
	only_show_if_degraded, start_date, created_at, updated_at`

func scanComponent(s scanner) (*incident.Component, error) {
	var c incident.Component
	var status string
	var created, updated int64
	if err := s.Scan(&c.ID, &c.PageID, &c.Name, &c.Description, &status, &c.Position, &c.GroupID, &c.Group, &c.Showcase,
		&c.OnlyShowIfDegraded, &c.StartDate, &created, &updated); err != nil {
		return nil, err
	}
	c.Status = incident.ComponentStatus(status)
	c.CreatedAt, c.UpdatedAt = fromMS(created), fromMS(updated)
	return &c, nil
}

// FindComponentByID implements incident.Store.
func (db *DB) FindComponentByID(ctx context.Context, id string) (*incident.Component, error) {
	c, err := scanComponent(db.r.QueryRowContext(ctx, "SELECT "+componentColumns+" FROM components WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.NotFound("component", id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find component %s: %w", id, err)
	}
	return c, nil
}

// FindComponents implements incident.Store. A page that does not exist has
// no components: the result is empty, not ENOTFOUND.
func (db *DB) FindComponents(ctx context.Context, pageID string) ([]*incident.Component, error) {
	return findAll(ctx, db.r, "components", scanComponent,
		"SELECT "+componentColumns+" FROM components WHERE page_id = ? ORDER BY position, created_at, rowid", pageID)
}

const incidentColumns = `id, page_id, name, status, impact, impact_override, component_ids, audience, metadata, created_at, updated_at, started_at,
	monitoring_at, resolved_at, scheduled_for, scheduled_until, scheduled_remind_prior, scheduled_auto_in_progress,
	scheduled_auto_completed, backfilled, postmortem_body, postmortem_published_at, version, names`

func scanIncident(s scanner) (*incident.Incident, error) {
	var inc incident.Incident
	var status, impact, override, compIDs, names string
	var audience, metadata sql.NullString
	var created, updated, started int64
	var monitoring, resolved, schedFor, schedUntil, pmPublished sql.NullInt64
	if err := s.Scan(&inc.ID, &inc.PageID, &inc.Name, &status, &impact, &override, &compIDs, &audience, &metadata, &created, &updated, &started,
		&monitoring, &resolved, &schedFor, &schedUntil, &inc.ScheduledRemindPrior, &inc.ScheduledAutoInProgress,
		&inc.ScheduledAutoCompleted, &inc.Backfilled, &inc.PostmortemBody, &pmPublished, &inc.Version, &names); err != nil {
		return nil, err
	}
	if names != "" {
		if err := json.Unmarshal([]byte(names), &inc.Names); err != nil {
			return nil, fmt.Errorf("incident %s names: %w", inc.ID, err)
		}
	}
	if err := json.Unmarshal([]byte(compIDs), &inc.ComponentIDs); err != nil {
		return nil, fmt.Errorf("incident %s component_ids: %w", inc.ID, err)
	}
	if audience.Valid {
		inc.Audience = new(incident.Audience)
		if err := json.Unmarshal([]byte(audience.String), inc.Audience); err != nil {
			return nil, fmt.Errorf("incident %s audience: %w", inc.ID, err)
		}
	}
	if metadata.Valid && metadata.String != "" {
		inc.Metadata = json.RawMessage(metadata.String)
	}
	inc.Status, inc.Impact, inc.ImpactOverride = incident.Status(status), incident.Impact(impact), incident.Impact(override)
	inc.CreatedAt, inc.UpdatedAt, inc.StartedAt = fromMS(created), fromMS(updated), fromMS(started)
	inc.MonitoringAt, inc.ResolvedAt = fromMSPtr(monitoring), fromMSPtr(resolved)
	inc.ScheduledFor, inc.ScheduledUntil = fromMSPtr(schedFor), fromMSPtr(schedUntil)
	inc.PostmortemPublishedAt = fromMSPtr(pmPublished)
	return &inc, nil
}

// FindIncidentByID implements incident.Store.
func (db *DB) FindIncidentByID(ctx context.Context, id string) (*incident.Incident, error) {
	// One read transaction, so the incident and its updates are one snapshot.
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: find incident %s: %w", id, err)
	}
	defer tx.Rollback()
	inc, err := scanIncident(tx.QueryRowContext(ctx, "SELECT "+incidentColumns+" FROM incidents WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.NotFound("incident", id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find incident %s: %w", id, err)
	}
	if err := loadUpdates(ctx, tx, []*incident.Incident{inc}); err != nil {
		return nil, err
	}
	return inc, nil
}

// loadUpdates fills in the updates of incs with one query.
func loadUpdates(ctx context.Context, tx *sql.Tx, incs []*incident.Incident) error {
	if len(incs) == 0 {
		return nil
	}
	byID := make(map[string]*incident.Incident, len(incs))
	args := make([]any, 0, len(incs))
	for _, inc := range incs {
		byID[inc.ID] = inc
		args = append(args, inc.ID)
	}
	rows, err := tx.QueryContext(ctx, `SELECT incident_id, id, status, body, created_at, updated_at, display_at,
			affected_components, deliver_notifications, messages
		FROM incident_updates WHERE incident_id IN (`+placeholders(len(args))+`) ORDER BY incident_id, seq`, args...)
	if err != nil {
		return fmt.Errorf("sqlite: load updates: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var u incident.Update
		var status, affected, messages string
		var created, updated, display int64
		if err := rows.Scan(&u.IncidentID, &u.ID, &status, &u.Body, &created, &updated, &display, &affected, &u.DeliverNotifications, &messages); err != nil {
			return fmt.Errorf("sqlite: load updates: %w", err)
		}
		if messages != "" {
			if err := json.Unmarshal([]byte(messages), &u.Messages); err != nil {
				return fmt.Errorf("sqlite: update %s messages: %w", u.ID, err)
			}
		}
		if err := json.Unmarshal([]byte(affected), &u.AffectedComponents); err != nil {
			return fmt.Errorf("sqlite: update %s affected_components: %w", u.ID, err)
		}
		u.Status = incident.Status(status)
		u.CreatedAt, u.UpdatedAt, u.DisplayAt = fromMS(created), fromMS(updated), fromMS(display)
		inc := byID[u.IncidentID]
		inc.Updates = append(inc.Updates, &u)
	}
	return rows.Err()
}

func placeholders(n int) string {
	if n == 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// FindIncidents implements incident.Store. Since selects incidents created
// at or after it.
func (db *DB) FindIncidents(ctx context.Context, f incident.IncidentFilter) ([]*incident.Incident, int, error) {
	var where []string
	var args []any
	if f.PageID != "" {
		where, args = append(where, "page_id = ?"), append(args, f.PageID)
	}
	if f.Maintenance != nil {
		if *f.Maintenance {
			where = append(where, "scheduled_for IS NOT NULL")
		} else {
			where = append(where, "scheduled_for IS NULL")
		}
	}
	if len(f.Statuses) > 0 {
		where = append(where, "status IN ("+placeholders(len(f.Statuses))+")")
		for _, s := range f.Statuses {
			args = append(args, string(s))
		}
	}
	if !f.Since.IsZero() {
		where, args = append(where, "created_at >= ?"), append(args, ms(f.Since))
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}

	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: find incidents: %w", err)
	}
	defer tx.Rollback()
	var total int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM incidents"+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("sqlite: count incidents: %w", err)
	}
	limit := -1 // SQLite: no limit
	if f.Limit > 0 {
		limit = f.Limit
	}
	offset := max(f.Offset, 0)
	rows, err := tx.QueryContext(ctx, "SELECT "+incidentColumns+" FROM incidents"+cond+
		" ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?", append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: find incidents: %w", err)
	}
	defer rows.Close()
	incs := []*incident.Incident{}
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("sqlite: find incidents: %w", err)
		}
		incs = append(incs, inc)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("sqlite: find incidents: %w", err)
	}
	rows.Close()
	if err := loadUpdates(ctx, tx, incs); err != nil {
		return nil, 0, err
	}
	return incs, total, nil
}

// FindStatusChanges implements incident.Store.
func (db *DB) FindStatusChanges(ctx context.Context, pageID string, since time.Time) ([]incident.StatusChange, error) {
	t := ms(since)
	rows, err := db.r.QueryContext(ctx, `
		SELECT id, page_id, component_id, status, at FROM status_changes WHERE page_id = ?1 AND at >= ?2
		UNION ALL
		SELECT s.id, s.page_id, s.component_id, s.status, s.at FROM status_changes s
		WHERE s.page_id = ?1 AND s.at < ?2 AND s.id = (
			SELECT p.id FROM status_changes p
			WHERE p.page_id = ?1 AND p.component_id = s.component_id AND p.at < ?2
			ORDER BY p.at DESC, p.id DESC LIMIT 1)
		ORDER BY 5, 1`, pageID, t)
	if err != nil {
		return nil, fmt.Errorf("sqlite: find status changes: %w", err)
	}
	defer rows.Close()
	out := []incident.StatusChange{}
	for rows.Next() {
		var sc incident.StatusChange
		var id, at int64
		var status string
		if err := rows.Scan(&id, &sc.PageID, &sc.ComponentID, &status, &at); err != nil {
			return nil, fmt.Errorf("sqlite: find status changes: %w", err)
		}
		sc.Status, sc.At = incident.ComponentStatus(status), fromMS(at)
		out = append(out, sc)
	}
	return out, rows.Err()
}

// FindAudit implements incident.Store.
func (db *DB) FindAudit(ctx context.Context, f incident.AuditFilter) ([]*incident.AuditEntry, int, error) {
	var where []string
	var args []any
	if f.PageID != "" {
		where, args = append(where, "page_id = ?"), append(args, f.PageID)
	}
	if f.ObjectID != "" {
		where, args = append(where, "object_id = ?"), append(args, f.ObjectID)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: find audit: %w", err)
	}
	defer tx.Rollback()
	var total int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM audit"+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("sqlite: count audit: %w", err)
	}
	limit := -1
	if f.Limit > 0 {
		limit = f.Limit
	}
	rows, err := tx.QueryContext(ctx, "SELECT id, page_id, actor, action, object_type, object_id, before, after, at FROM audit"+cond+
		" ORDER BY at DESC, seq DESC LIMIT ? OFFSET ?", append(args, limit, max(f.Offset, 0))...)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: find audit: %w", err)
	}
	defer rows.Close()
	out := []*incident.AuditEntry{}
	for rows.Next() {
		var a incident.AuditEntry
		var at int64
		if err := rows.Scan(&a.ID, &a.PageID, &a.Actor, &a.Action, &a.ObjectType, &a.ObjectID, &a.Before, &a.After, &at); err != nil {
			return nil, 0, fmt.Errorf("sqlite: find audit: %w", err)
		}
		a.At = fromMS(at)
		out = append(out, &a)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("sqlite: find audit: %w", err)
	}
	return out, total, nil
}

// FindBroadcasts implements incident.Store.
func (db *DB) FindBroadcasts(ctx context.Context, incidentID string) ([]*incident.Broadcast, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, page_id, incident_id, update_id, kind, created_at FROM broadcasts
		WHERE incident_id = ? ORDER BY created_at, seq`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: find broadcasts: %w", err)
	}
	defer rows.Close()
	out := []*incident.Broadcast{}
	for rows.Next() {
		var b incident.Broadcast
		var kind string
		var created int64
		if err := rows.Scan(&b.ID, &b.PageID, &b.IncidentID, &b.UpdateID, &kind, &created); err != nil {
			return nil, fmt.Errorf("sqlite: find broadcasts: %w", err)
		}
		b.Kind, b.CreatedAt = incident.BroadcastKind(kind), fromMS(created)
		out = append(out, &b)
	}
	return out, rows.Err()
}

const tokenColumns = "id, name, role, hash, created_at, last_used_at, revoked_at"

func scanToken(s scanner) (*incident.Token, error) {
	var t incident.Token
	var role string
	var created int64
	var used, revoked sql.NullInt64
	if err := s.Scan(&t.ID, &t.Name, &role, &t.Hash, &created, &used, &revoked); err != nil {
		return nil, err
	}
	t.Role, t.CreatedAt = incident.Role(role), fromMS(created)
	t.LastUsedAt, t.RevokedAt = fromMSPtr(used), fromMSPtr(revoked)
	return &t, nil
}

// FindTokenByHash implements incident.Store.
func (db *DB) FindTokenByHash(ctx context.Context, hash string) (*incident.Token, error) {
	t, err := scanToken(db.readRow(ctx, "SELECT "+tokenColumns+" FROM tokens WHERE hash = ?", hash))
	if errors.Is(err, sql.ErrNoRows) {
		// The hash is a credential's fingerprint: keep it out of the message.
		return nil, incident.Errorf(incident.ENOTFOUND, "token not found")
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find token: %w", err)
	}
	return t, nil
}

// FindTokens implements incident.Store.
func (db *DB) FindTokens(ctx context.Context) ([]*incident.Token, error) {
	return findAll(ctx, db.r, "tokens", scanToken, "SELECT "+tokenColumns+" FROM tokens ORDER BY created_at, rowid")
}

// TouchToken implements incident.Store; it returns ENOTFOUND for an unknown ID.
func (db *DB) TouchToken(ctx context.Context, id string, at time.Time) error {
	res, err := db.w.ExecContext(ctx, "UPDATE tokens SET last_used_at = ? WHERE id = ?", ms(at), id)
	if err != nil {
		return fmt.Errorf("sqlite: touch token %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: touch token %s: %w", id, err)
	} else if n == 0 {
		return incident.NotFound("token", id)
	}
	return nil
}

// FindIdempotencyKey implements incident.Store.
func (db *DB) FindIdempotencyKey(ctx context.Context, scope, key string) (string, error) {
	var id string
	err := db.r.QueryRowContext(ctx, "SELECT resource_id FROM idempotency_keys WHERE scope = ? AND key = ? AND expires_at > ?",
		scope, key, ms(db.Now())).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", incident.Errorf(incident.ENOTFOUND, "idempotency key not found")
	} else if err != nil {
		return "", fmt.Errorf("sqlite: find idempotency key: %w", err)
	}
	return id, nil
}
