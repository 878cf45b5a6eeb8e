package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// finishParams is the number of bound values per finished delivery.
const finishParams = 11

// finishSizes are the row counts FinishDeliveries' statements are prepared
// for; a batch is cut into chunks of the largest and each chunk padded to
// the smallest size that holds it with rows that match nothing (rowid 0).
var finishSizes = []int{16, 64, 256}

// finishSQL returns the UPDATE … FROM (VALUES …) that finishes n
// deliveries at once: each VALUES row finds its delivery by rowid, and the
// lease fence (still sending, same token) is part of the join, so rows
// whose lease was lost are simply not updated. RETURNING says which were.
// A deferred delivery (column11 = 1) gets back the attempt its claim counted.
func finishSQL(n int) string {
	var b strings.Builder
	b.WriteString(`UPDATE deliveries SET state = v.column3, next_at = v.column4, wake_at = v.column4, lease = 0, provider_id = v.column5,
		error_code = v.column6, reason = v.column7, sent_at = coalesce(v.column8, sent_at),
		delivered_at = coalesce(v.column9, delivered_at), updated_at = v.column10, attempts = max(attempts - v.column11, 0)
	FROM (VALUES `)
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", finishParams), ",") + ")"
	for r := range n {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	b.WriteString(`) AS v
	WHERE deliveries.rid = v.column1 AND deliveries.lease = v.column2 AND deliveries.state = 'sending'
	RETURNING grp, kind, state, reason, updated_at`)
	return b.String()
}

// FinishDeliveries implements notify.Store: one UPDATE per chunk of up to
// 256 deliveries, all in one transaction, and the counters once.
func (db *DB) FinishDeliveries(ctx context.Context, ds []*queue.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	for _, d := range ds {
		if d.State == queue.StateSending || d.State == "" {
			return incident.Invalid("state", "delivery %s: finish with a final state or pending, not %q", d.ID, d.State)
		}
	}
	if err := db.prepare(ctx); err != nil {
		return err
	}
	now := ms(db.Now())
	args := finishArgs(ds, now)
	if len(args) == 0 {
		return nil
	}
	return db.write(ctx, "finish deliveries", func(tx *sql.Tx) error {
		t := newTally()
		largest := finishSizes[len(finishSizes)-1]
		for start := 0; start < len(args); start += largest * finishParams {
			chunk := args[start:min(start+largest*finishParams, len(args))]
			if err := db.finishChunk(ctx, tx, chunk, t); err != nil {
				return err
			}
		}
		return db.applyTally(ctx, tx, t, fromMS(now))
	})
}

// finishArgs decides which claims a finish writes, as finishSQL's rows of
// values (updated at now unless a delivery says when). A lease that is not
// ours (another engine's, none) can only be a lost one; a claim given
// twice is finished once. One delivery may come under two leases (a claim
// that waited past its lease, and the claim after it): both are kept, and
// the lease fence in finishSQL's join lets only the live one write.
func finishArgs(ds []*queue.Delivery, now int64) []any {
	args := make([]any, 0, len(ds)*finishParams)
	type claimKey struct{ rid, token int64 }
	seen := make(map[claimKey]bool, len(ds))
	for _, d := range ds {
		rid, token, ok := parseLease(d.Lease)
		if !ok || seen[claimKey{rid, token}] {
			continue
		}
		seen[claimKey{rid, token}] = true
		upd := now
		if !d.UpdatedAt.IsZero() {
			upd = ms(d.UpdatedAt)
		}
		args = append(args, rid, token, string(d.State), ms(d.NextAt), d.ProviderID, d.ErrorCode, d.Reason, msPtr(d.SentAt),
			msPtr(d.DeliveredAt), upd, boolInt(d.Deferred))
	}
	return args
}

// sizeFor returns the index of the smallest of sizes (ascending) that holds
// n rows, or 0: the statement a chunk of n rows is padded to.
func sizeFor(sizes []int, n int) int {
	for i, s := range sizes {
		if s >= n {
			return i
		}
	}
	return 0
}

// finishChunk runs the finishSQL statement of the smallest prepared size
// that holds chunk (padded with rows that match nothing) and counts into t
// the deliveries whose lease still held, which are the ones it updated.
func (db *DB) finishChunk(ctx context.Context, tx *sql.Tx, chunk []any, t *tally) error {
	rows := len(chunk) / finishParams
	size := sizeFor(finishSizes, rows)
	for len(chunk) < finishSizes[size]*finishParams {
		chunk = append(chunk, 0, 0, "", 0, "", "", "", nil, nil, 0, 0)
	}
	st := tx.StmtContext(ctx, db.stmts.finish[size])
	defer st.Close()
	res, err := st.QueryContext(ctx, chunk...)
	if err != nil {
		return fmt.Errorf("sqlite: finish deliveries: %w", err)
	}
	defer res.Close()
	for res.Next() {
		var grp int64
		var kind, state, reason string
		var updated int64
		if err := res.Scan(&grp, &kind, &state, &reason, &updated); err != nil {
			return fmt.Errorf("sqlite: finish deliveries: %w", err)
		}
		g, err := db.group(ctx, tx, grp)
		if err != nil {
			return err
		}
		t.move(g.BroadcastID, channel.Kind(kind), queue.StateSending, queue.DeliveryState(state), reason)
		t.at(g.BroadcastID, channel.Kind(kind), queue.DeliveryState(state), updated)
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("sqlite: finish deliveries: %w", err)
	}
	return nil
}
