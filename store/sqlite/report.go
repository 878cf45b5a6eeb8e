package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/queue"
)

// The report's counters (migration 0010): when deliveries reached their
// timed states, moved by the queue's tally (queue.go), and the complaint
// tallies, moved by a complaint's save (complaints.go).

// DeliveryTimes implements queue.Store: one primary-key range.
func (db *DB) DeliveryTimes(ctx context.Context, broadcastID string) ([]queue.TimeCount, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT kind, state, bucket, n FROM delivery_times
		WHERE broadcast_id = ? AND n != 0 ORDER BY bucket, kind, state`, broadcastID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: delivery times: %w", err)
	}
	defer rows.Close()
	var out []queue.TimeCount
	for rows.Next() {
		var kind, state string
		var bucket int64
		var n int
		if err := rows.Scan(&kind, &state, &bucket, &n); err != nil {
			return nil, fmt.Errorf("sqlite: delivery times: %w", err)
		}
		out = append(out, queue.TimeCount{Kind: channel.Kind(kind), State: queue.DeliveryState(state),
			At: fromMS(bucket * queue.TimeBucket.Milliseconds()), N: n})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: delivery times: %w", err)
	}
	return out, nil
}

// ComplaintTally implements complaint.Store: one primary-key range.
func (db *DB) ComplaintTally(ctx context.Context, pageID, scope string) (complaint.Tally, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT field, n FROM complaint_tally WHERE page_id = ? AND scope = ? AND n != 0", pageID, scope)
	if err != nil {
		return nil, fmt.Errorf("sqlite: complaint tally: %w", err)
	}
	defer rows.Close()
	t := complaint.Tally{}
	for rows.Next() {
		var f string
		var n int
		if err := rows.Scan(&f, &n); err != nil {
			return nil, fmt.Errorf("sqlite: complaint tally: %w", err)
		}
		t[f] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: complaint tally: %w", err)
	}
	return t, nil
}

// complaintTallySQL moves one tally counter (prepared with the save's
// other statements).
const complaintTallySQL = `INSERT INTO complaint_tally (page_id, scope, field, n) VALUES (?, ?, ?, ?)
	ON CONFLICT (page_id, scope, field) DO UPDATE SET n = n + excluded.n`

// complaintTallyDropSQL deletes a tally counter moved back to zero.
const complaintTallyDropSQL = "DELETE FROM complaint_tally WHERE page_id = ? AND scope = ? AND field = ? AND n = 0"

// tallyMoves returns, per tally line, how a complaint going from the
// lines old to new (each joined by newlines) moves the counters.
func tallyMoves(old, new string) map[string]int {
	if old == new {
		return nil
	}
	m := map[string]int{}
	for _, l := range strings.Split(old, "\n") {
		if l != "" {
			m[l]--
		}
	}
	for _, l := range strings.Split(new, "\n") {
		if l != "" {
			m[l]++
		}
	}
	return m
}

// tallyMigration is the migration that added the complaint tallies;
// queueMigration the one that added the queue's counters to them.
const (
	tallyMigration = 10
	queueMigration = 22
)

// retallyComplaints brings, in tx, every complaint's stored tally lines
// and the counters up to what this code's TallyLines says: the lines of
// complaints stored before migration 0010 (none at all) or before 0022
// (without the queue's), so that counts read from the tallies include
// the complaints stored before the upgrade. A complaint whose lines are
// current moves nothing, so it may run on any store.
func retallyComplaints(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "SELECT id, doc, tally FROM complaints")
	if err != nil {
		return fmt.Errorf("retally complaints: %w", err)
	}
	type key struct{ page, scope, field string }
	counts := map[key]int{}
	lines := map[string]string{}
	for rows.Next() {
		var id, doc, was string
		if err := rows.Scan(&id, &doc, &was); err != nil {
			rows.Close()
			return fmt.Errorf("retally complaints: %w", err)
		}
		var c complaint.Complaint
		if err := json.Unmarshal([]byte(doc), &c); err != nil {
			rows.Close()
			return fmt.Errorf("retally complaints: decode %s: %w", id, err)
		}
		now := strings.Join(c.TallyLines(), "\n")
		if now == was {
			continue
		}
		lines[id] = now
		for l, n := range tallyMoves(was, now) {
			scope, field, _ := complaint.SplitTallyLine(l)
			counts[key{c.PageID, scope, field}] += n
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("retally complaints: %w", err)
	}
	for id, l := range lines {
		if _, err := tx.ExecContext(ctx, "UPDATE complaints SET tally = ? WHERE id = ?", l, id); err != nil {
			return fmt.Errorf("retally complaints: %w", err)
		}
	}
	for k, n := range counts {
		if n == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, complaintTallySQL, k.page, k.scope, k.field, n); err != nil {
			return fmt.Errorf("retally complaints: %w", err)
		}
		if _, err := tx.ExecContext(ctx, complaintTallyDropSQL, k.page, k.scope, k.field); err != nil {
			return fmt.Errorf("retally complaints: %w", err)
		}
	}
	return nil
}
