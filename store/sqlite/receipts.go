package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// Receipts kept for provider IDs no delivery has yet: a provider can call
// back before the dispatcher's batched finish writes the ID it was given.

// receiptChunk bounds the IDs one statement carries (SQLite's variable
// limit is far above it).
const receiptChunk = 500

// checkReceipt validates what KeepReceipt stores.
func checkReceipt(r queue.PendingReceipt) error {
	if r.ProviderID == "" {
		return incident.Invalid("provider_id", "a kept receipt needs a provider ID")
	}
	switch r.State {
	case queue.StateDelivered, queue.StateUndelivered, queue.StateFailed:
		return nil
	}
	return incident.Invalid("state", "a kept receipt says delivered, undelivered or failed, not %q", r.State)
}

// KeepReceipt implements notify.Store. It first deletes the receipts
// expired at now (through their index; there are few), so an expired one
// never holds its provider ID against a new one.
func (db *DB) KeepReceipt(ctx context.Context, r queue.PendingReceipt, now time.Time) error {
	if err := checkReceipt(r); err != nil {
		return err
	}
	if !r.Expires.After(now) {
		return nil
	}
	return db.write(ctx, "keep receipt", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM pending_receipts WHERE expires <= ?", ms(now)); err != nil {
			return fmt.Errorf("sqlite: keep receipt: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO pending_receipts (provider_id, state, status, error_code, at, expires)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (provider_id) DO NOTHING`,
			r.ProviderID, string(r.State), r.Status, r.ErrorCode, ms(r.At), ms(r.Expires)); err != nil {
			return fmt.Errorf("sqlite: keep receipt: %w", err)
		}
		return nil
	})
}

// TakeReceipts implements notify.Store. It looks on a reader connection
// first, so the usual answer (none kept) costs no write transaction; the
// receipts it finds are then deleted with RETURNING on the writer, which
// hands each to one caller only.
func (db *DB) TakeReceipts(ctx context.Context, providerIDs []string, now time.Time) ([]queue.PendingReceipt, error) {
	var found []any
	for start := 0; start < len(providerIDs); start += receiptChunk {
		chunk := providerIDs[start:min(start+receiptChunk, len(providerIDs))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := db.r.QueryContext(ctx, "SELECT provider_id FROM pending_receipts WHERE provider_id IN ("+placeholders(len(chunk))+")", args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: take receipts: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: take receipts: %w", err)
			}
			found = append(found, id)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("sqlite: take receipts: %w", err)
		}
	}
	if len(found) == 0 {
		return nil, nil
	}
	var out []queue.PendingReceipt
	err := db.write(ctx, "take receipts", func(tx *sql.Tx) error {
		out = nil
		for start := 0; start < len(found); start += receiptChunk {
			chunk := found[start:min(start+receiptChunk, len(found))]
			rows, err := tx.QueryContext(ctx, "DELETE FROM pending_receipts WHERE provider_id IN ("+placeholders(len(chunk))+
				") RETURNING provider_id, state, status, error_code, at, expires", chunk...)
			if err != nil {
				return fmt.Errorf("sqlite: take receipts: %w", err)
			}
			for rows.Next() {
				var r queue.PendingReceipt
				var state string
				var at, expires int64
				if err := rows.Scan(&r.ProviderID, &state, &r.Status, &r.ErrorCode, &at, &expires); err != nil {
					rows.Close()
					return fmt.Errorf("sqlite: take receipts: %w", err)
				}
				r.State, r.At, r.Expires = queue.DeliveryState(state), fromMS(at), fromMS(expires)
				if expires > ms(now) {
					out = append(out, r)
				}
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return fmt.Errorf("sqlite: take receipts: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
