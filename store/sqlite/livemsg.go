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

const liveMessageColumns = "incident_id, page_id, channel, ts, replied, claimed_at, updated_at"

func scanLiveMessage(s scanner) (*livemsg.Message, error) {
	var m livemsg.Message
	var claimed, updated int64
	if err := s.Scan(&m.IncidentID, &m.PageID, &m.Channel, &m.TS, &m.Replied, &claimed, &updated); err != nil {
		return nil, err
	}
	m.ClaimedAt, m.UpdatedAt = fromMS(claimed), fromMS(updated)
	return &m, nil
}

func upsertLiveMessage(ctx context.Context, tx *sql.Tx, m *livemsg.Message) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO live_messages (`+liveMessageColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (incident_id) DO UPDATE SET page_id = excluded.page_id, channel = excluded.channel, ts = excluded.ts,
		replied = excluded.replied, claimed_at = excluded.claimed_at, updated_at = excluded.updated_at`,
		m.IncidentID, m.PageID, m.Channel, m.TS, m.Replied, ms(m.ClaimedAt), ms(m.UpdatedAt))
	return err
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
