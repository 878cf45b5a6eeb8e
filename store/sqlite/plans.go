package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// newLease returns a fresh claim token.
func newLease() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

const planColumns = `b.id, b.page_id, b.incident_id, b.update_id, b.kind, b.created_at, p.state, p.cursor, p.planned`

func scanPlan(s scanner, extra ...any) (*queue.Plan, error) {
	var b incident.Broadcast
	var p queue.Plan
	var kind, state string
	var created int64
	dest := []any{&b.ID, &b.PageID, &b.IncidentID, &b.UpdateID, &kind, &created, &state, &p.Cursor, &p.Planned}
	if err := s.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	b.Kind, b.CreatedAt = incident.BroadcastKind(kind), fromMS(created)
	p.Broadcast, p.State = &b, queue.PlanState(state)
	return &p, nil
}

// ClaimPlan implements notify.Store: the oldest claimable plan by commit order.
func (db *DB) ClaimPlan(ctx context.Context, now time.Time, lease time.Duration) (*queue.Plan, error) {
	var plan *queue.Plan
	err := db.write(ctx, "claim plan", func(tx *sql.Tx) error {
		token := newLease()
		var seq int64
		err := tx.QueryRowContext(ctx, `UPDATE plans SET lease = ?, lease_until = ?, updated_at = max(updated_at, ?)
			WHERE seq = (SELECT seq FROM plans WHERE state = 'pending' AND lease_until <= ? ORDER BY seq LIMIT 1)
			RETURNING seq`, token, ms(now.Add(lease)), ms(now), ms(now)).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		} else if err != nil {
			return fmt.Errorf("sqlite: claim plan: %w", err)
		}
		plan, err = scanPlan(tx.QueryRowContext(ctx, "SELECT "+planColumns+` FROM plans p JOIN broadcasts b ON b.id = p.broadcast_id
			WHERE p.seq = ?`, seq))
		if err != nil {
			return fmt.Errorf("sqlite: claim plan: %w", err)
		}
		plan.Lease = token
		return nil
	})
	if err != nil {
		return nil, err
	}
	return plan, nil
}

// SavePlanBatch implements notify.Store.
func (db *DB) SavePlanBatch(ctx context.Context, b *queue.PlanBatch, now time.Time, lease time.Duration) (int, error) {
	if err := checkPlanBatch(b); err != nil {
		return 0, err
	}
	bid := b.Plan.Broadcast.ID
	if err := db.prepare(ctx); err != nil {
		return 0, err
	}
	var set *planIDs
	var fresh []newRow
	err := db.write(ctx, "save plan batch", func(tx *sql.Tx) error {
		var err error
		if set, err = db.heldPlanSet(ctx, tx, bid, b.Plan.Lease); err != nil {
			return err
		}
		if fresh, err = db.freshDeliveries(ctx, tx, b.Deliveries, set); err != nil {
			return err
		}
		if err := db.storeBatch(ctx, tx, fresh, now); err != nil {
			return err
		}
		return advancePlan(ctx, tx, b, len(fresh), now, lease)
	})
	if err != nil {
		return 0, err
	}
	// Only now that the batch is stored: a batch that rolled back must not
	// leave its IDs behind to be skipped when it is saved again.
	for _, r := range fresh {
		set.add(r.key)
	}
	if b.Done {
		db.forgetPlanSet(bid)
	}
	return len(fresh), nil
}

// checkPlanBatch decides whether a batch may be saved: it names its plan,
// and each delivery belongs to the plan's broadcast (one that names none
// is given it) and passes checkDeliveries.
func checkPlanBatch(b *queue.PlanBatch) error {
	if b == nil || b.Plan == nil || b.Plan.Broadcast == nil {
		return incident.Invalid("plan", "a batch needs its plan")
	}
	bid := b.Plan.Broadcast.ID
	for _, d := range b.Deliveries {
		switch d.BroadcastID {
		case bid:
		case "":
			d.BroadcastID = bid
		default:
			return incident.Invalid("deliveries", "delivery %s belongs to broadcast %s, not %s", d.ID, d.BroadcastID, bid)
		}
	}
	return checkDeliveries(b.Deliveries)
}

// heldPlanSet decides whether the planner holding lease still holds the
// plan of broadcast bid (it is pending and its lease is lease), and
// returns the plan's set of stored IDs. A plan no longer pending has its
// set forgotten.
func (db *DB) heldPlanSet(ctx context.Context, tx *sql.Tx, bid, lease string) (*planIDs, error) {
	var state, token string
	err := tx.QueryRowContext(ctx, "SELECT state, lease FROM plans WHERE broadcast_id = ?", bid).Scan(&state, &token)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.NotFound("plan", bid)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: save plan batch: %w", err)
	}
	if state != string(queue.PlanPending) {
		db.forgetPlanSet(bid)
		return nil, incident.Errorf(incident.ECONFLICT, "plan of broadcast %s is %s", bid, state)
	}
	if token == "" || token != lease {
		return nil, incident.Errorf(incident.ECONFLICT, "plan of broadcast %s was claimed by another planner", bid)
	}
	return db.planSet(ctx, tx, bid, token)
}

// storeBatch decides where a batch's fresh deliveries are stored: pending
// ones wait in chunks; the rare one planned in a final state (suppressed
// before it went) is a row at once. It counts them all.
func (db *DB) storeBatch(ctx context.Context, tx *sql.Tx, fresh []newRow, now time.Time) error {
	t := newTally()
	if err := db.placeRows(ctx, tx, fresh, t); err != nil {
		return err
	}
	var rows, waiting []newRow
	for _, r := range fresh {
		if r.state == queue.StatePending {
			waiting = append(waiting, r)
		} else {
			rows = append(rows, r)
		}
	}
	if err := db.writeRows(ctx, tx, rows); err != nil {
		return err
	}
	if err := db.writeChunks(ctx, tx, waiting); err != nil {
		return err
	}
	return db.applyTally(ctx, tx, t, now)
}

// advancePlan moves the plan past a stored batch of created deliveries:
// its cursor and count, a renewed lease, and done after the last batch.
func advancePlan(ctx context.Context, tx *sql.Tx, b *queue.PlanBatch, created int, now time.Time, lease time.Duration) error {
	newState := queue.PlanPending
	if b.Done {
		newState = queue.PlanDone
	}
	if _, err := tx.ExecContext(ctx, `UPDATE plans SET cursor = ?, planned = planned + ?, lease_until = ?, state = ?,
		updated_at = max(updated_at, ?) WHERE broadcast_id = ?`,
		b.Cursor, created, ms(now.Add(lease)), string(newState), ms(now), b.Plan.Broadcast.ID); err != nil {
		return fmt.Errorf("sqlite: save plan batch: %w", err)
	}
	return nil
}

// FindPlan implements notify.Store. The lease token stays private to the
// planner that claimed it.
func (db *DB) FindPlan(ctx context.Context, broadcastID string) (*queue.Plan, error) {
	p, err := scanPlan(db.r.QueryRowContext(ctx, "SELECT "+planColumns+` FROM plans p JOIN broadcasts b ON b.id = p.broadcast_id
		WHERE p.broadcast_id = ?`, broadcastID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.NotFound("plan", broadcastID)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find plan %s: %w", broadcastID, err)
	}
	return p, nil
}

// FindPlans implements notify.Store, in FindBroadcasts' order.
func (db *DB) FindPlans(ctx context.Context, incidentID string) ([]*queue.Plan, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT "+planColumns+` FROM plans p JOIN broadcasts b ON b.id = p.broadcast_id
		WHERE p.incident_id = ? ORDER BY b.created_at, b.seq`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: find plans: %w", err)
	}
	defer rows.Close()
	out := []*queue.Plan{}
	for rows.Next() {
		p, err := scanPlan(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: find plans: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// CancelPlan implements notify.Store. The counters already say how many
// deliveries of each channel are pending, so they move without a count.
func (db *DB) CancelPlan(ctx context.Context, broadcastID string, now time.Time) error {
	return db.write(ctx, "cancel plan", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE plans SET state = 'cancelled', updated_at = max(updated_at, ?) WHERE broadcast_id = ?",
			ms(now), broadcastID)
		if err != nil {
			return fmt.Errorf("sqlite: cancel plan %s: %w", broadcastID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return incident.NotFound("plan", broadcastID)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO delivery_counts (broadcast_id, kind, state, n)
			SELECT broadcast_id, kind, 'cancelled', n FROM delivery_counts WHERE broadcast_id = ? AND state = 'pending' AND n != 0
			ON CONFLICT (broadcast_id, kind, state) DO UPDATE SET n = n + excluded.n`, broadcastID); err != nil {
			return fmt.Errorf("sqlite: cancel plan %s: %w", broadcastID, err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE delivery_counts SET n = 0 WHERE broadcast_id = ? AND state = 'pending'", broadcastID); err != nil {
			return fmt.Errorf("sqlite: cancel plan %s: %w", broadcastID, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE delivery_chunks SET state = 'cancelled', updated_at = ?
			WHERE state = 'pending' AND grp IN (SELECT id FROM delivery_groups WHERE broadcast_id = ?)`, ms(now), broadcastID); err != nil {
			return fmt.Errorf("sqlite: cancel deliveries of %s: %w", broadcastID, err)
		}
		// The due index holds the open deliveries only; there is no index by
		// group. A plan's deliveries are never replies (queue.Lane), so the
		// broadcast lane's index holds all of them.
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries INDEXED BY deliveries_due_broadcast SET state = 'cancelled', updated_at = ?
			WHERE state IN ('pending', 'sending') AND reply = 0 AND state = 'pending'
				AND grp IN (SELECT id FROM delivery_groups WHERE broadcast_id = ?)`,
			ms(now), broadcastID); err != nil {
			return fmt.Errorf("sqlite: cancel deliveries of %s: %w", broadcastID, err)
		}
		return nil
	})
}

// Progress implements notify.Store from the plan row and its counters.
func (db *DB) Progress(ctx context.Context, broadcastID string) (*queue.Progress, error) {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: progress: %w", err)
	}
	defer tx.Rollback()
	var updated int64
	p, err := scanPlan(tx.QueryRowContext(ctx, "SELECT "+planColumns+`, p.updated_at FROM plans p JOIN broadcasts b ON b.id = p.broadcast_id
		WHERE p.broadcast_id = ?`, broadcastID), &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.NotFound("plan", broadcastID)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: progress of %s: %w", broadcastID, err)
	}
	out := &queue.Progress{BroadcastID: broadcastID, IncidentID: p.Broadcast.IncidentID, Kind: p.Broadcast.Kind, State: p.State,
		Planned: p.Planned, Counts: map[channel.Kind]map[queue.DeliveryState]int{}, Reasons: map[channel.Kind]map[string]int{},
		CreatedAt: p.Broadcast.CreatedAt, UpdatedAt: fromMS(updated)}
	for _, q := range []struct {
		sql string
		add func(kind, key string, n int)
	}{
		{"SELECT kind, state, n FROM delivery_counts WHERE broadcast_id = ? AND n != 0", func(kind, key string, n int) {
			k := channel.Kind(kind)
			if out.Counts[k] == nil {
				out.Counts[k] = map[queue.DeliveryState]int{}
			}
			out.Counts[k][queue.DeliveryState(key)] = n
		}},
		{"SELECT kind, reason, n FROM delivery_reasons WHERE broadcast_id = ? AND n != 0", func(kind, key string, n int) {
			k := channel.Kind(kind)
			if out.Reasons[k] == nil {
				out.Reasons[k] = map[string]int{}
			}
			out.Reasons[k][key] = n
		}},
	} {
		rows, err := tx.QueryContext(ctx, q.sql, broadcastID)
		if err != nil {
			return nil, fmt.Errorf("sqlite: progress of %s: %w", broadcastID, err)
		}
		for rows.Next() {
			var kind, key string
			var n int
			if err := rows.Scan(&kind, &key, &n); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: progress of %s: %w", broadcastID, err)
			}
			q.add(kind, key, n)
		}
		if err := rows.Err(); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: progress of %s: %w", broadcastID, err)
		}
		rows.Close()
	}
	return out, nil
}
