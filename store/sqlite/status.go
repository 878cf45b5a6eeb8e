package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// statusSQL is SetDeliveryStatus' UPDATE (prepared once with existsSQL:
// every receipt runs them, and parsing cost more than running).
const (
	statusSQL = `UPDATE deliveries SET state = ?1,
		error_code = CASE WHEN ?2 != '' THEN ?2 ELSE error_code END,
		reason = CASE WHEN ?3 != '' THEN ?3 ELSE reason END,
		delivered_at = coalesce(?4, delivered_at), updated_at = ?5
	WHERE rid IN (SELECT rid FROM delivery_ids WHERE k = ?6 UNION ALL SELECT rid FROM delivery_ids_new WHERE k = ?6)
		AND id = ?7 AND state = 'sent'
	RETURNING grp, kind, reason`
)

// existsSQL is SetDeliveryStatus' check.
var existsSQL = "SELECT 1 FROM deliveries WHERE " + byID("")

// SetDeliveryStatus implements notify.Store. Only a sent delivery takes a
// receipt, so the order receipts arrive in cannot move one backwards. A
// delivery still waiting in a chunk has no row and no provider ID, so no
// receipt can name it; it reads as unknown here.
func (db *DB) SetDeliveryStatus(ctx context.Context, id string, state queue.DeliveryState, providerStatus, errorCode string, at time.Time) error {
	switch state {
	case queue.StateDelivered, queue.StateUndelivered, queue.StateFailed:
	case queue.StateSent:
		if _, err := db.FindDeliveryByID(ctx, id); err != nil {
			return err
		}
		return nil
	default:
		return incident.Invalid("state", "a receipt says delivered, undelivered or failed, not %q", state)
	}
	reason := ""
	if state != queue.StateDelivered {
		reason = providerStatus
	}
	var delivered sql.NullInt64
	if state == queue.StateDelivered {
		delivered = sql.NullInt64{Int64: ms(at), Valid: true}
	}
	if err := db.prepare(ctx); err != nil {
		return err
	}
	return db.write(ctx, "set delivery status", func(tx *sql.Tx) error {
		var grp int64
		var kind, newReason string
		err := tx.StmtContext(ctx, db.stmts.status).QueryRowContext(ctx,
			string(state), errorCode, reason, delivered, ms(at), idHash(idKey(id)), idKey(id)).Scan(&grp, &kind, &newReason)
		if errors.Is(err, sql.ErrNoRows) {
			var one int
			err := tx.StmtContext(ctx, db.stmts.exists).QueryRowContext(ctx, byIDArgs(id)...).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return incident.NotFound("delivery", id)
			} else if err != nil {
				return fmt.Errorf("sqlite: set delivery status %s: %w", id, err)
			}
			return nil // not sent (yet, or any more): the receipt changes nothing
		} else if err != nil {
			return fmt.Errorf("sqlite: set delivery status %s: %w", id, err)
		}
		g, err := db.group(ctx, tx, grp)
		if err != nil {
			return err
		}
		t := newTally()
		t.move(g.BroadcastID, channel.Kind(kind), queue.StateSent, state, newReason)
		t.at(g.BroadcastID, channel.Kind(kind), state, ms(at))
		return db.applyTally(ctx, tx, t, at)
	})
}
