package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// claimSQL is ClaimDeliveries' statement for the rows of one lane
// (reply: 0 the broadcast's, 1 the replies'; migration 0026): the
// subquery walks the lane's partial index (kind, wake_at) from the
// oldest, so due pending rows and rows whose lease ran out come in one
// ordered range, and only the rows it picks are written. The lane is in
// the text, not a parameter: SQLite uses a partial index only for a query
// whose WHERE implies the index's. reclaimed records whether the row was
// sending before (an expired lease), which is how the counters know which
// rows left pending.
func claimSQL(reply int) string {
	return `UPDATE deliveries SET state = 'sending', wake_at = ?, lease = ?, attempts = attempts + 1,
		reclaimed = (state = 'sending'), updated_at = ?
	WHERE rid IN (SELECT rid FROM deliveries WHERE kind = ? AND state IN ('pending', 'sending') AND reply = ` + strconv.Itoa(reply) + `
		AND wake_at <= ? ORDER BY wake_at LIMIT ?)
	RETURNING rid, id, grp, kind, address, recipient_id, info, attempts, next_at, provider_id, error_code, reason, created_at,
		sent_at, delivered_at, reclaimed`
}

// newToken returns a fresh, non-zero claim token.
func newToken() int64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
		if t := int64(binary.LittleEndian.Uint64(b[:]) >> 1); t != 0 {
			return t
		}
	}
}

// The claim's looks at what is due: rows through their lane's partial
// index (dueRowsSQL, reply as in claimSQL), chunks through
// delivery_chunks_due, all oldest first.
const dueChunksSQL = "SELECT " + chunkColumns + ` FROM delivery_chunks WHERE kind = ? AND state = 'pending' AND next_at <= ?
		ORDER BY next_at, id LIMIT ?`

func dueRowsSQL(reply int) string {
	return `SELECT wake_at FROM deliveries WHERE kind = ? AND state IN ('pending', 'sending') AND reply = ` + strconv.Itoa(reply) + `
		AND wake_at <= ? ORDER BY wake_at LIMIT ?`
}

// ClaimDeliveries implements notify.Store. Due rows (retries, deferrals,
// expired leases, deliveries outside plans) of the lane and, but for the
// replies' lane, due chunks are walked oldest first through their partial
// indexes, and the n oldest deliveries across them are claimed: rows with
// one UPDATE … RETURNING per row lane, chunk deliveries by writing their
// rows, already sending under the claim. Chunks hold a plan's deliveries,
// which are never replies (render.KindForBroadcast), so the replies' lane
// has no chunks to look at and never walks the broadcast's backlog.
func (db *DB) ClaimDeliveries(ctx context.Context, kind channel.Kind, lane queue.Lane, now time.Time, lease time.Duration, n int) ([]*queue.Delivery, error) {
	if !lane.Valid() {
		return nil, incident.Invalid("lane", "unknown lane %d", int(lane))
	}
	if n <= 0 {
		return nil, nil
	}
	if err := db.prepare(ctx); err != nil {
		return nil, err
	}
	token := newToken()
	var out []*queue.Delivery
	err := db.write(ctx, "claim deliveries", func(tx *sql.Tx) error {
		// rowTimes[r]: the due times of the rows whose reply column is r,
		// for the lanes claimed.
		var rowTimes [2][]int64
		for r := range rowTimes {
			if lane == queue.LaneBroadcast && r == 1 || lane == queue.LaneReplies && r == 0 {
				continue
			}
			times, err := findAll(ctx, tx, "due deliveries", func(s scanner) (int64, error) {
				var at int64
				return at, s.Scan(&at)
			}, dueRowsSQL(r), string(kind), ms(now), n)
			if err != nil {
				return err
			}
			rowTimes[r] = times
		}
		var chunks []*chunkRow
		if lane != queue.LaneReplies {
			var err error
			if chunks, err = findAll(ctx, tx, "due delivery chunks", scanChunkRow, dueChunksSQL, string(kind), ms(now), n); err != nil {
				return err
			}
		}
		// The n oldest across them; a chunk's deliveries share one NextAt,
		// and a row goes before a chunk of the same time.
		type take struct {
			c *chunkRow
			n int
		}
		var takes []take
		var rows [2]int
		var next [2]int // the next of rowTimes[r]
		need := n
		for j := 0; need > 0; {
			r := -1
			for x := range rowTimes {
				if next[x] < len(rowTimes[x]) && (r < 0 || rowTimes[x][next[x]] < rowTimes[r][next[r]]) {
					r = x
				}
			}
			if r >= 0 && (j == len(chunks) || rowTimes[r][next[r]] <= chunks[j].nextAt) {
				rows[r], next[r], need = rows[r]+1, next[r]+1, need-1
				continue
			}
			if j == len(chunks) {
				break
			}
			c := chunks[j]
			k := min(need, c.n-c.taken)
			takes, j, need = append(takes, take{c, k}), j+1, need-k
		}
		t := newTally()
		for r, k := range rows {
			if k == 0 {
				continue
			}
			ds, err := db.claimRows(ctx, tx, r, kind, now, lease, token, k, t)
			if err != nil {
				return err
			}
			out = append(out, ds...)
		}
		for _, tk := range takes {
			ds, err := db.takeFromChunk(ctx, tx, tk.c, tk.n, now, lease, token, t)
			if err != nil {
				return err
			}
			out = append(out, ds...)
		}
		return db.applyTally(ctx, tx, t, now)
	})
	if err != nil {
		return nil, err
	}
	// RETURNING comes in rowid order; hand them out in due order.
	slices.SortStableFunc(out, func(a, b *queue.Delivery) int { return a.NextAt.Compare(b.NextAt) })
	return out, nil
}

// claimRows claims the k oldest due rows of kind whose reply column is
// reply (claimSQL walks the same order as ClaimDeliveries' look at them,
// inside the same transaction).
func (db *DB) claimRows(ctx context.Context, tx *sql.Tx, reply int, kind channel.Kind, now time.Time, lease time.Duration, token int64, k int,
	t *tally) ([]*queue.Delivery, error) {
	st := tx.StmtContext(ctx, db.stmts.claim[reply])
	defer st.Close()
	rows, err := st.QueryContext(ctx, ms(now.Add(lease)), token, ms(now), string(kind), ms(now), k)
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim deliveries: %w", err)
	}
	defer rows.Close()
	type claimed struct {
		d         *queue.Delivery
		grp       int64
		reclaimed bool
	}
	cs := make([]claimed, 0, k)
	for rows.Next() {
		var c claimed
		var d queue.Delivery
		var rid int64
		var id any
		var kind string
		var info []byte
		var next, created int64
		var sent, delivered sql.NullInt64
		if err := rows.Scan(&rid, &id, &c.grp, &kind, &d.Address, &d.RecipientID, &info, &d.Attempts, &next, &d.ProviderID,
			&d.ErrorCode, &d.Reason, &created, &sent, &delivered, &c.reclaimed); err != nil {
			return nil, fmt.Errorf("sqlite: claim deliveries: %w", err)
		}
		d.ID, d.Kind, d.State, d.Lease = idString(id), channel.Kind(kind), queue.StateSending, leaseString(rid, token)
		if err := decodeInfo(info, &d); err != nil {
			return nil, fmt.Errorf("sqlite: claim delivery %s: %w", d.ID, err)
		}
		d.NextAt, d.CreatedAt, d.UpdatedAt = fromMS(next), fromMS(created), now
		d.SentAt, d.DeliveredAt = fromMSPtr(sent), fromMSPtr(delivered)
		c.d = &d
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: claim deliveries: %w", err)
	}
	rows.Close()
	out := make([]*queue.Delivery, len(cs))
	for i, c := range cs {
		g, err := db.group(ctx, tx, c.grp)
		if err != nil {
			return nil, err
		}
		c.d.BroadcastID, c.d.PageID, c.d.IncidentID, c.d.UpdateID, c.d.MessageKind = g.BroadcastID, g.PageID, g.IncidentID, g.UpdateID, g.MessageKind
		if !c.reclaimed {
			t.move(g.BroadcastID, c.d.Kind, queue.StatePending, queue.StateSending, "")
		}
		out[i] = c.d
	}
	return out, nil
}

// takeFromChunk claims the next k waiting deliveries of chunk c: it writes
// their rows, sending under token with their first attempt counted, and
// moves the chunk's front past them (deleting it when none wait).
func (db *DB) takeFromChunk(ctx context.Context, tx *sql.Tx, c *chunkRow, k int, now time.Time, lease time.Duration, token int64,
	t *tally) ([]*queue.Delivery, error) {
	cds, err := c.waiting(ctx, tx)
	if err != nil {
		return nil, err
	}
	if len(cds) < k {
		return nil, fmt.Errorf("sqlite: delivery chunk %d holds %d waiting deliveries, not %d", c.id, len(cds), k)
	}
	g, err := db.group(ctx, tx, c.grp)
	if err != nil {
		return nil, err
	}
	out := make([]*queue.Delivery, k)
	rs := make([]newRow, k)
	wake, at := ms(now.Add(lease)), ms(now)
	for i, cd := range cds[:k] {
		d, err := c.delivery(g, cd)
		if err != nil {
			return nil, err
		}
		d.State, d.Attempts, d.UpdatedAt, d.Lease = queue.StateSending, 1, now, leaseString(cd.rid, token)
		out[i] = d
		rs[i] = newRow{d: d, key: cd.key, k: idHash(cd.key), rid: cd.rid, grp: c.grp, state: queue.StateSending, wake: wake,
			updated: at, attempts: 1, token: token}
		t.move(g.BroadcastID, c.kind, queue.StatePending, queue.StateSending, "")
	}
	if err := db.writeRows(ctx, tx, rs); err != nil {
		return nil, err
	}
	q, args := "UPDATE delivery_chunks SET taken = taken + ? WHERE id = ?", []any{k, c.id}
	if c.taken+k == c.n {
		q, args = "DELETE FROM delivery_chunks WHERE id = ?", []any{c.id}
	}
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return nil, fmt.Errorf("sqlite: claim from delivery chunk %d: %w", c.id, err)
	}
	return out, nil
}
