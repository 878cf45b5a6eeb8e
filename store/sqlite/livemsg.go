package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/livemsg"
)

var _ livemsg.Store = (*DB)(nil)

const liveMessageColumns = "incident_id, page_id, channel, ts, replied, rendered, edited_at, claimed_at, updated_at"

func scanLiveMessage(s scanner) (*livemsg.Message, error) {
	var m livemsg.Message
	var edited, claimed, updated int64
	if err := s.Scan(&m.IncidentID, &m.PageID, &m.Channel, &m.TS, &m.Replied, &m.Rendered, &edited, &claimed, &updated); err != nil {
		return nil, err
	}
	m.ClaimedAt, m.UpdatedAt = fromMS(claimed), fromMS(updated)
	if edited != 0 {
		m.EditedAt = fromMS(edited)
	}
	return &m, nil
}

func upsertLiveMessage(ctx context.Context, tx *sql.Tx, m *livemsg.Message) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO live_messages (`+liveMessageColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (incident_id) DO UPDATE SET page_id = excluded.page_id, channel = excluded.channel, ts = excluded.ts,
		replied = excluded.replied, rendered = excluded.rendered, edited_at = excluded.edited_at,
		claimed_at = excluded.claimed_at, updated_at = excluded.updated_at`,
		m.IncidentID, m.PageID, m.Channel, m.TS, m.Replied, m.Rendered, editedMS(m.EditedAt), ms(m.ClaimedAt), ms(m.UpdatedAt))
	return err
}

// editedMS is ms(t), or 0 for the zero time (never edited).
func editedMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return ms(t)
}

// LeaseLiveMessage implements livemsg.Store: the check and the write in
// one write transaction, so two nodes cannot both hold the lease.
func (db *DB) LeaseLiveMessage(ctx context.Context, incidentID, holder string, now, until time.Time) (bool, error) {
	leased := false
	err := db.write(ctx, "lease live message", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO live_message_leases (incident_id, holder, until) VALUES (?, ?, ?)
			ON CONFLICT (incident_id) DO UPDATE SET holder = excluded.holder, until = excluded.until
			WHERE live_message_leases.holder = excluded.holder OR live_message_leases.until <= ?`,
			incidentID, holder, ms(until), ms(now))
		if err != nil {
			return fmt.Errorf("sqlite: lease live message: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: lease live message: %w", err)
		}
		leased = n == 1
		return nil
	})
	return leased, err
}

// ReleaseLiveMessage implements livemsg.Store.
func (db *DB) ReleaseLiveMessage(ctx context.Context, incidentID, holder string) error {
	return db.write(ctx, "release live message", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM live_message_leases WHERE incident_id = ? AND holder = ?", incidentID, holder); err != nil {
			return fmt.Errorf("sqlite: release live message: %w", err)
		}
		return nil
	})
}

// ClaimLiveMessage implements livemsg.Store: the check and the write in
// one write transaction, so two claims cannot both win.
func (db *DB) ClaimLiveMessage(ctx context.Context, m *livemsg.Message, staleBefore time.Time) (bool, error) {
	claimed := false
	err := db.write(ctx, "claim live message", func(tx *sql.Tx) error {
		old, err := scanLiveMessage(tx.QueryRowContext(ctx, "SELECT "+liveMessageColumns+" FROM live_messages WHERE incident_id = ?", m.IncidentID))
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("sqlite: claim live message: %w", err)
		case old.TS != "" || !old.ClaimedAt.Before(staleBefore):
			return nil
		}
		if err := upsertLiveMessage(ctx, tx, m); err != nil {
			return fmt.Errorf("sqlite: claim live message: %w", err)
		}
		claimed = true
		return nil
	})
	return claimed, err
}

// SaveLiveMessage implements livemsg.Store.
func (db *DB) SaveLiveMessage(ctx context.Context, m *livemsg.Message) error {
	return db.write(ctx, "save live message", func(tx *sql.Tx) error {
		if err := upsertLiveMessage(ctx, tx, m); err != nil {
			return fmt.Errorf("sqlite: save live message: %w", err)
		}
		return nil
	})
}

// AdvanceLiveReply implements livemsg.Store: the check and the write in
// one write transaction, so two nodes cannot both post the same reply.
func (db *DB) AdvanceLiveReply(ctx context.Context, m *livemsg.Message, from string) (bool, error) {
	advanced := false
	err := db.write(ctx, "advance live reply", func(tx *sql.Tx) error {
		var replied string
		err := tx.QueryRowContext(ctx, "SELECT replied FROM live_messages WHERE incident_id = ?", m.IncidentID).Scan(&replied)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return incident.NotFound("live message", m.IncidentID)
		case err != nil:
			return fmt.Errorf("sqlite: advance live reply: %w", err)
		case replied != from:
			return nil
		}
		if err := upsertLiveMessage(ctx, tx, m); err != nil {
			return fmt.Errorf("sqlite: advance live reply: %w", err)
		}
		advanced = true
		return nil
	})
	return advanced, err
}

// FindLiveMessage implements livemsg.Store.
func (db *DB) FindLiveMessage(ctx context.Context, incidentID string) (*livemsg.Message, error) {
	m, err := scanLiveMessage(db.r.QueryRowContext(ctx, "SELECT "+liveMessageColumns+" FROM live_messages WHERE incident_id = ?", incidentID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.NotFound("live message", incidentID)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: find live message: %w", err)
	}
	return m, nil
}
