package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/queue"
)

// The delivery queue: plans (one per broadcast), deliveries claimed with a
// lease, and per-broadcast counters kept in step with every state change.
//
// Every write here goes through the single writer connection in a short
// BEGIN IMMEDIATE transaction; claims are writes too. A plan's pending
// deliveries are written packed in chunks (chunks.go, migration 0005), a
// row per few hundred; a claim walks the partial indexes of its lane
// (migration 0026: deliveries_due_broadcast and delivery_chunks_due for
// the broadcast, deliveries_due_replies for replies; rows are retries,
// deferrals, expired leases and deliveries outside plans) together,
// oldest first, so it costs O(n log N) for n out of N however many wait
// in its lane, and writes the rows of the chunk deliveries it takes; a finish
// is one UPDATE … FROM (VALUES …) per 256 deliveries, by rowid (the Lease
// carries it). Migration 0003 explains the row layout: narrow rows, a
// two-level ID index, no address index.
//
// By what each part decides: plans.go (which planner holds a plan, what a
// batch stores, cancelling, progress), enqueue.go (which deliveries are
// new and where their rows go), claim.go (which due deliveries a claim
// takes), finish.go (which claims a finish still owns), status.go (what a
// provider's receipt changes) and find_deliveries.go (reads). This file
// keeps the counters every state change moves.

// ---- counters ----

type countKey struct {
	broadcast string
	kind      channel.Kind
	state     queue.DeliveryState
}

type timeKey struct {
	broadcast string
	kind      channel.Kind
	state     queue.DeliveryState
	bucket    int64 // Unix ms / queue.TimeBucket
}

type reasonKey struct {
	broadcast string
	kind      channel.Kind
	reason    string
}

// tally collects counter changes made in one transaction.
type tally struct {
	counts  map[countKey]int
	reasons map[reasonKey]int
	times   map[timeKey]int
}

func newTally() *tally {
	return &tally{counts: map[countKey]int{}, reasons: map[reasonKey]int{}, times: map[timeKey]int{}}
}

// at records that a delivery of a broadcast reached a timed state (see
// queue.Timed) at atMS, for the report's delivery curve; the caller has
// counted the move itself with move.
func (t *tally) at(broadcast string, kind channel.Kind, to queue.DeliveryState, atMS int64) {
	if broadcast == "" || !to.Timed() {
		return
	}
	t.times[timeKey{broadcast, kind, to, atMS / queue.TimeBucket.Milliseconds()}]++
}

// countsReason reports whether Progress counts a state's reasons.
func countsReason(s queue.DeliveryState) bool {
	return s == queue.StateSuppressed || s == queue.StateFailed
}

// move records one delivery of a broadcast leaving from (none when "") for
// to, with reason (counted for suppressed and failed). Deliveries outside a
// plan have no counters.
func (t *tally) move(broadcast string, kind channel.Kind, from, to queue.DeliveryState, reason string) {
	if broadcast == "" || from == to {
		return
	}
	if from != "" {
		t.counts[countKey{broadcast, kind, from}]--
	}
	t.counts[countKey{broadcast, kind, to}]++
	if countsReason(to) {
		t.reasons[reasonKey{broadcast, kind, reason}]++
	}
}

// The statements applyTally runs (prepared once: a small batch of claims
// spent more parsing them than updating its rows).
const (
	countSQL = `INSERT INTO delivery_counts (broadcast_id, kind, state, n) VALUES (?, ?, ?, ?)
		ON CONFLICT (broadcast_id, kind, state) DO UPDATE SET n = n + excluded.n`
	reasonSQL = `INSERT INTO delivery_reasons (broadcast_id, kind, reason, n) VALUES (?, ?, ?, ?)
		ON CONFLICT (broadcast_id, kind, reason) DO UPDATE SET n = n + excluded.n`
	touchSQL = "UPDATE plans SET updated_at = max(updated_at, ?) WHERE broadcast_id = ?"
	timesSQL = `INSERT INTO delivery_times (broadcast_id, kind, state, bucket, n) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (broadcast_id, kind, state, bucket) DO UPDATE SET n = n + excluded.n`
)

// applyTally writes t and touches the plans' updated_at, once per
// counter however many deliveries moved. Call db.prepare before the
// transaction.
func (db *DB) applyTally(ctx context.Context, tx *sql.Tx, t *tally, now time.Time) error {
	touched := map[string]bool{}
	for k, n := range t.counts {
		if n == 0 {
			continue
		}
		touched[k.broadcast] = true
		if _, err := tx.StmtContext(ctx, db.stmts.count).ExecContext(ctx, k.broadcast, string(k.kind), string(k.state), n); err != nil {
			return fmt.Errorf("sqlite: count deliveries: %w", err)
		}
	}
	for k, n := range t.reasons {
		if n == 0 {
			continue
		}
		if _, err := tx.StmtContext(ctx, db.stmts.reason).ExecContext(ctx, k.broadcast, string(k.kind), k.reason, n); err != nil {
			return fmt.Errorf("sqlite: count delivery reasons: %w", err)
		}
	}
	for k, n := range t.times {
		if _, err := tx.StmtContext(ctx, db.stmts.times).ExecContext(ctx, k.broadcast, string(k.kind), string(k.state), k.bucket, n); err != nil {
			return fmt.Errorf("sqlite: count delivery times: %w", err)
		}
	}
	for b := range touched {
		if _, err := tx.StmtContext(ctx, db.stmts.touch).ExecContext(ctx, ms(now), b); err != nil {
			return fmt.Errorf("sqlite: touch plan %s: %w", b, err)
		}
	}
	return nil
}
