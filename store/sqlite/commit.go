package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/incident"
)

// ms encodes a time as UTC Unix milliseconds, the form every time column holds.
func ms(t time.Time) int64 { return t.UnixMilli() }

// fromMS decodes a time column; the result is in UTC.
func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// msPtr encodes a nullable time.
func msPtr(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// fromMSPtr decodes a nullable time column.
func fromMSPtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}

// jsonText encodes a small list; nil becomes "null" and empty "[]", so
// both come back as they went in.
func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Commit implements incident.Store: one BEGIN IMMEDIATE transaction that
// checks every incident's version and the idempotency key before it writes
// (and, for KeepAPage, that a page is left after its deletions),
// and rolls back whole on any error.
func (db *DB) Commit(ctx context.Context, c *incident.Change) error {
	if c == nil {
		return nil
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback()
	if err := db.commit(ctx, tx, c); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

func (db *DB) commit(ctx context.Context, tx *sql.Tx, c *incident.Change) error {
	// Checks first: nothing is written when one fails (the rollback would
	// undo it anyway, but failing early keeps the writer free).
	for _, inc := range c.Incidents {
		if err := checkVersion(ctx, tx, inc); err != nil {
			return err
		}
	}
	for _, id := range c.DeleteIncidentIDs {
		want, ok := c.DeleteIncidentIf[id]
		if !ok {
			continue
		}
		var stored int
		err := tx.QueryRowContext(ctx, "SELECT version FROM incidents WHERE id = ?", id).Scan(&stored)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return incident.Errorf(incident.ECONFLICT, "incident %q was deleted meanwhile", id)
		case err != nil:
			return fmt.Errorf("sqlite: read version of incident %s: %w", id, err)
		case stored != want:
			return incident.Errorf(incident.ECONFLICT, "incident %q was changed meanwhile (version %d, expected %d); reload and retry", id, stored, want)
		}
	}
	if k := c.Idempotency; k != nil {
		if err := db.claimKey(ctx, tx, k); err != nil {
			return err
		}
	}

	// Upserts, parents before children. Never INSERT OR REPLACE: REPLACE
	// deletes the old row, and the cascade would take its children with it.
	for _, p := range c.Pages {
		if err := upsertPage(ctx, tx, p); err != nil {
			return err
		}
	}
	for _, comp := range c.Components {
		if err := upsertComponent(ctx, tx, comp); err != nil {
			return err
		}
	}
	for _, inc := range c.Incidents {
		if err := upsertIncident(ctx, tx, inc); err != nil {
			return err
		}
	}
	for _, sc := range c.StatusChanges {
		if _, err := tx.ExecContext(ctx, `INSERT INTO status_changes (page_id, component_id, status, at) VALUES (?, ?, ?, ?)`,
			sc.PageID, sc.ComponentID, string(sc.Status), ms(sc.At)); err != nil {
			return fmt.Errorf("sqlite: insert status change for component %s: %w", sc.ComponentID, err)
		}
	}
	for _, a := range c.Audit {
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit (id, page_id, actor, action, object_type, object_id, before, after, at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.PageID, a.Actor, a.Action, a.ObjectType, a.ObjectID, a.Before, a.After, ms(a.At)); err != nil {
			return fmt.Errorf("sqlite: insert audit entry %s: %w", a.ID, err)
		}
	}
	for _, b := range c.Broadcasts {
		if _, err := tx.ExecContext(ctx, `INSERT INTO broadcasts (id, page_id, incident_id, update_id, kind, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`,
			b.ID, b.PageID, b.IncidentID, b.UpdateID, string(b.Kind), ms(b.CreatedAt)); err != nil {
			return fmt.Errorf("sqlite: insert broadcast %s: %w", b.ID, err)
		}
		// Every broadcast gets its plan in the same transaction, so the
		// planner can never miss one (notify.Store.ClaimPlan).
		if _, err := tx.ExecContext(ctx, `INSERT INTO plans (broadcast_id, incident_id, state, cursor, planned, lease, lease_until, updated_at)
			VALUES (?, ?, 'pending', '', 0, '', 0, ?)`, b.ID, b.IncidentID, ms(b.CreatedAt)); err != nil {
			return fmt.Errorf("sqlite: insert plan of broadcast %s: %w", b.ID, err)
		}
	}
	for _, t := range c.Tokens {
		if _, err := tx.ExecContext(ctx, `INSERT INTO tokens (id, name, role, hash, created_at, last_used_at, revoked_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, hash = excluded.hash,
				created_at = excluded.created_at, last_used_at = excluded.last_used_at, revoked_at = excluded.revoked_at`,
			t.ID, t.Name, string(t.Role), t.Hash, ms(t.CreatedAt), msPtr(t.LastUsedAt), msPtr(t.RevokedAt)); err != nil {
			return fmt.Errorf("sqlite: upsert token %s: %w", t.ID, err)
		}
	}

	// Deletes last, so that what this Change also wrote about a deleted
	// object (its status changes) goes with it, while the audit and the
	// outbox, which have no foreign keys, stay.
	for _, id := range c.DeleteIncidentIDs {
		if _, err := tx.ExecContext(ctx, "DELETE FROM incidents WHERE id = ?", id); err != nil {
			return fmt.Errorf("sqlite: delete incident %s: %w", id, err)
		}
	}
	for _, id := range c.DeleteComponentIDs {
		if _, err := tx.ExecContext(ctx, "DELETE FROM components WHERE id = ?", id); err != nil {
			return fmt.Errorf("sqlite: delete component %s: %w", id, err)
		}
	}
	for _, id := range c.DeletePageIDs {
		if _, err := tx.ExecContext(ctx, "DELETE FROM pages WHERE id = ?", id); err != nil {
			return fmt.Errorf("sqlite: delete page %s: %w", id, err)
		}
	}
	// After the deletions, in the same (serialised) transaction: the
	// rollback undoes them when no page is left.
	if c.KeepAPage && len(c.DeletePageIDs) > 0 {
		var left bool
		if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pages)").Scan(&left); err != nil {
			return fmt.Errorf("sqlite: count pages: %w", err)
		}
		if !left {
			return incident.LastPage()
		}
	}
	return nil
}

// checkVersion enforces the optimistic version rule of incident.Store.Commit.
func checkVersion(ctx context.Context, tx *sql.Tx, inc *incident.Incident) error {
	var stored int
	err := tx.QueryRowContext(ctx, "SELECT version FROM incidents WHERE id = ?", inc.ID).Scan(&stored)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if inc.Version != 1 {
			return incident.Errorf(incident.ECONFLICT, "incident %q was changed or deleted meanwhile; reload and retry", inc.ID)
		}
		return nil
	case err != nil:
		return fmt.Errorf("sqlite: read version of incident %s: %w", inc.ID, err)
	case inc.Version == 1:
		return incident.Errorf(incident.ECONFLICT, "incident %q already exists", inc.ID)
	case stored != inc.Version-1:
		return incident.Errorf(incident.ECONFLICT, "incident %q was changed meanwhile (version %d, expected %d); reload and retry", inc.ID, stored, inc.Version-1)
	}
	return nil
}

// claimKey records an idempotency key, replacing one that has expired, and
// returns ECONFLICT when a live one exists.
func (db *DB) claimKey(ctx context.Context, tx *sql.Tx, k *incident.IdempotencyKey) error {
	now := ms(db.Now())
	// Expired keys are dead weight; clearing them here keeps the table small
	// without a sweeper.
	if _, err := tx.ExecContext(ctx, "DELETE FROM idempotency_keys WHERE expires_at <= ?", now); err != nil {
		return fmt.Errorf("sqlite: expire idempotency keys: %w", err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (scope, key, resource_id, expires_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (scope, key) DO NOTHING`, k.Scope, k.Key, k.ResourceID, ms(k.ExpiresAt))
	if err != nil {
		return fmt.Errorf("sqlite: insert idempotency key: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: insert idempotency key: %w", err)
	} else if n == 0 {
		return incident.Errorf(incident.ECONFLICT, "idempotency key %q was already used", k.Key)
	}
	return nil
}

func upsertPage(ctx context.Context, tx *sql.Tx, p *incident.Page) error {
	langs, err := jsonText(p.Languages)
	if err != nil {
		return err
	}
	hosts, err := jsonText(p.Hosts)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO pages (id, name, url, time_zone, languages, hosts, logo, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, url = excluded.url, time_zone = excluded.time_zone,
			languages = excluded.languages, hosts = excluded.hosts, logo = excluded.logo, created_at = excluded.created_at, updated_at = excluded.updated_at`,
		p.ID, p.Name, p.URL, p.TimeZone, langs, hosts, p.Logo, ms(p.CreatedAt), ms(p.UpdatedAt)); err != nil {
		return fmt.Errorf("sqlite: upsert page %s: %w", p.ID, err)
	}
	return nil
}

func upsertComponent(ctx context.Context, tx *sql.Tx, c *incident.Component) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO components (id, page_id, name, description, status, position, group_id,
			is_group, showcase, only_show_if_degraded, start_date, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET page_id = excluded.page_id, name = excluded.name, description = excluded.description,
			status = excluded.status, position = excluded.position, group_id = excluded.group_id, is_group = excluded.is_group,
			showcase = excluded.showcase, only_show_if_degraded = excluded.only_show_if_degraded, start_date = excluded.start_date,
			created_at = excluded.created_at, updated_at = excluded.updated_at`,
		c.ID, c.PageID, c.Name, c.Description, string(c.Status), c.Position, c.GroupID,
		boolInt(c.Group), boolInt(c.Showcase), boolInt(c.OnlyShowIfDegraded), c.StartDate, ms(c.CreatedAt), ms(c.UpdatedAt)); err != nil {
		return fmt.Errorf("sqlite: upsert component %s: %w", c.ID, err)
	}
	return nil
}

// upsertIncident writes the incident row and replaces its updates with
// exactly inc.Updates, in their order.
func upsertIncident(ctx context.Context, tx *sql.Tx, inc *incident.Incident) error {
	compIDs, err := jsonText(inc.ComponentIDs)
	if err != nil {
		return err
	}
	var audience sql.NullString
	if inc.Audience != nil {
		b, err := json.Marshal(inc.Audience)
		if err != nil {
			return fmt.Errorf("sqlite: incident %s audience: %w", inc.ID, err)
		}
		audience = sql.NullString{String: string(b), Valid: true}
	}
	var metadata sql.NullString
	if len(inc.Metadata) > 0 {
		metadata = sql.NullString{String: string(inc.Metadata), Valid: true}
	}
	names := ""
	if len(inc.Names) > 0 {
		b, err := json.Marshal(inc.Names)
		if err != nil {
			return fmt.Errorf("sqlite: incident %s names: %w", inc.ID, err)
		}
		names = string(b)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO incidents (id, page_id, name, status, impact, impact_override, component_ids, audience, metadata,
			created_at, updated_at, started_at, monitoring_at, resolved_at, scheduled_for, scheduled_until,
			scheduled_remind_prior, scheduled_auto_in_progress, scheduled_auto_completed, backfilled,
			postmortem_body, postmortem_published_at, version, names)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET page_id = excluded.page_id, name = excluded.name, status = excluded.status,
			impact = excluded.impact, impact_override = excluded.impact_override, component_ids = excluded.component_ids,
			audience = excluded.audience, metadata = excluded.metadata,
			created_at = excluded.created_at, updated_at = excluded.updated_at, started_at = excluded.started_at,
			monitoring_at = excluded.monitoring_at, resolved_at = excluded.resolved_at, scheduled_for = excluded.scheduled_for,
			scheduled_until = excluded.scheduled_until, scheduled_remind_prior = excluded.scheduled_remind_prior,
			scheduled_auto_in_progress = excluded.scheduled_auto_in_progress, scheduled_auto_completed = excluded.scheduled_auto_completed,
			backfilled = excluded.backfilled, postmortem_body = excluded.postmortem_body,
			postmortem_published_at = excluded.postmortem_published_at, version = excluded.version, names = excluded.names`,
		inc.ID, inc.PageID, inc.Name, string(inc.Status), string(inc.Impact), string(inc.ImpactOverride), compIDs, audience, metadata,
		ms(inc.CreatedAt), ms(inc.UpdatedAt), ms(inc.StartedAt), msPtr(inc.MonitoringAt), msPtr(inc.ResolvedAt),
		msPtr(inc.ScheduledFor), msPtr(inc.ScheduledUntil), boolInt(inc.ScheduledRemindPrior), boolInt(inc.ScheduledAutoInProgress),
		boolInt(inc.ScheduledAutoCompleted), boolInt(inc.Backfilled), inc.PostmortemBody, msPtr(inc.PostmortemPublishedAt),
		inc.Version, names); err != nil {
		return fmt.Errorf("sqlite: upsert incident %s: %w", inc.ID, err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM incident_updates WHERE incident_id = ?", inc.ID); err != nil {
		return fmt.Errorf("sqlite: replace updates of incident %s: %w", inc.ID, err)
	}
	for i, u := range inc.Updates {
		affected, err := jsonText(u.AffectedComponents)
		if err != nil {
			return err
		}
		messages := ""
		if len(u.Messages) > 0 {
			b, err := json.Marshal(u.Messages)
			if err != nil {
				return fmt.Errorf("sqlite: update %s messages: %w", u.ID, err)
			}
			messages = string(b)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_updates (incident_id, seq, id, status, body, created_at, updated_at,
				display_at, affected_components, deliver_notifications, messages)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			inc.ID, i, u.ID, string(u.Status), u.Body, ms(u.CreatedAt), ms(u.UpdatedAt), ms(u.DisplayAt),
			affected, boolInt(u.DeliverNotifications), messages); err != nil {
			return fmt.Errorf("sqlite: insert update %s of incident %s: %w", u.ID, inc.ID, err)
		}
	}
	return nil
}
