package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"

	"github.com/heraldhq/herald/queue"
)

// unconfirmedSQL is FindUnconfirmed's query, on deliveries_unconfirmed.
const unconfirmedSQL = "SELECT " + deliveryColumns + deliveryFrom + ` WHERE d.state = 'sent' AND d.kind = 'sms' AND d.wake_at <= ?
	ORDER BY d.wake_at LIMIT ?`

// FindUnconfirmed implements queue.Store.
func (db *DB) FindUnconfirmed(ctx context.Context, before time.Time, limit int) ([]*queue.Delivery, error) {
	if limit <= 0 {
		limit = 100
	}
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: find unconfirmed: %w", err)
	}
	defer tx.Rollback()
	found, err := findDeliveryRows(ctx, tx, unconfirmedSQL, []any{ms(before), limit})
	if err != nil {
		return nil, err
	}
	out := make([]*queue.Delivery, len(found))
	for i, f := range found {
		out[i] = f.d
	}
	return out, nil
}

// RecheckUnconfirmed implements queue.Store.
func (db *DB) RecheckUnconfirmed(ctx context.Context, ids []string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	next := int64(math.MaxInt64) // never again
	if !at.IsZero() {
		next = ms(at)
	}
	q := "UPDATE deliveries SET wake_at = ? WHERE state = 'sent' AND kind = 'sms' AND " + byID("")
	return db.write(ctx, "recheck unconfirmed", func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("sqlite: recheck unconfirmed: %w", err)
		}
		defer stmt.Close()
		for _, id := range ids {
			if _, err := stmt.ExecContext(ctx, append([]any{next}, byIDArgs(id)...)...); err != nil {
				return fmt.Errorf("sqlite: recheck unconfirmed: %w", err)
			}
		}
		return nil
	})
}
