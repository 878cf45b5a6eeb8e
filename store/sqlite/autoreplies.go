package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/queue"
)

var _ queue.AutoReplies = (*DB)(nil)

// TakeAutoReply implements queue.AutoReplies in one write transaction
// (BEGIN IMMEDIATE: one taker at a time): it forgets every address's
// answers older than the window, then counts key's.
func (db *DB) TakeAutoReply(ctx context.Context, key, id string, now time.Time, window time.Duration, max int) (bool, error) {
	if err := queue.CheckAutoReply(key, id, window, max); err != nil {
		return false, err
	}
	since := ms(now.Add(-window))
	took := false
	err := db.write(ctx, "take auto reply", func(tx *sql.Tx) error {
		took = false
		if _, err := tx.ExecContext(ctx, "DELETE FROM auto_replies WHERE at <= ?", since); err != nil {
			return fmt.Errorf("sqlite: take auto reply: %w", err)
		}
		var one int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM auto_replies WHERE key = ? AND id = ?", key, id).Scan(&one)
		if err == nil {
			took = true // the same answer again
			return nil
		} else if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: take auto reply: %w", err)
		}
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM auto_replies WHERE key = ?", key).Scan(&n); err != nil {
			return fmt.Errorf("sqlite: take auto reply: %w", err)
		}
		if n >= max {
			return nil
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO auto_replies (key, id, at) VALUES (?, ?, ?)", key, id, ms(now)); err != nil {
			return fmt.Errorf("sqlite: take auto reply: %w", err)
		}
		took = true
		return nil
	})
	return took, err
}
