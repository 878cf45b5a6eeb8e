package sqlite

import (
	"context"
	"fmt"
	"sort"
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

// sortedLines returns the keys of m with a non-zero count, sorted (the
// counters are written in one order, whatever the map's).
func sortedLines(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for l, n := range m {
		if n != 0 {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}
