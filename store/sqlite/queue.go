package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// The delivery queue: plans (one per broadcast), deliveries claimed with a
// lease, and per-broadcast counters kept in step with every state change.
//
// Every write here goes through the single writer connection in a short
// BEGIN IMMEDIATE transaction; claims are writes too. A plan's pending
// deliveries are written packed in chunks (chunks.go, migration 0005), a
// row per few hundred; a claim walks the partial indexes deliveries_due
// (rows: retries, deferrals, expired leases) and delivery_chunks_due
// together, oldest first, so it costs O(n log N) for n out of N however
// many wait, and writes the rows of the chunk deliveries it takes; a finish
// is one UPDATE … FROM (VALUES …) per 256 deliveries, by rowid (the Lease
// carries it). Migration 0003 explains the row layout: narrow rows, a
// two-level ID index, no address index.

// newLease returns a fresh claim token.
func newLease() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

// ---- counters ----

type countKey struct {
	broadcast string
	kind      channel.Kind
	state     queue.DeliveryState
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
}

func newTally() *tally {
	return &tally{counts: map[countKey]int{}, reasons: map[reasonKey]int{}}
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
	for b := range touched {
		if _, err := tx.StmtContext(ctx, db.stmts.touch).ExecContext(ctx, ms(now), b); err != nil {
			return fmt.Errorf("sqlite: touch plan %s: %w", b, err)
		}
	}
	return nil
}

// ---- deliveries: insert ----

// existingChunk is how many IDs one existence query asks about: 500 keys,
// given twice, stays well under SQLite's 32766-variable limit, and one
// statement per chunk makes the per-statement cost (through database/sql
// and the driver) vanish next to the per-row one.
const existingChunk = 500

// rowParams is the number of bound values per inserted row.
const rowParams = 17

// rowSizes are the row counts the INSERTs of rows and of their IDs are
// prepared for; a batch is cut into chunks of the largest and each chunk
// padded to the smallest size that holds it with rows of NULLs, which the
// statement's WHERE drops. (A claim writes up to a few hundred rows; a
// statement prepared for each count spent more parsing than inserting.)
var rowSizes = []int{16, 64, 256}

// defaultMergeEvery is how many IDs delivery_ids_new takes before mergeIDs
// moves them into delivery_ids (DB.mergeEvery). Smaller keeps each
// transaction's random inserts on fewer pages; larger merges less often
// (each merge dirties most of delivery_ids' leaves once).
const defaultMergeEvery = 1 << 15

// valuesSQL returns head followed by n rows of cols "?" parameters. The
// parameters are plain "?", never "?NNN": for each bound value the driver
// asks SQLite for the parameter's name, which is a linear search through
// the names, so numbered parameters make a 7,000-parameter statement
// quadratic.
func valuesSQL(head string, n, cols int) string {
	var b strings.Builder
	b.WriteString(head)
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
	for r := range n {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	return b.String()
}

// insertRowsSQL returns the INSERT of up to n delivery rows (rows whose
// rid is NULL are padding); provider ID and the send times take their
// defaults. OR IGNORE is there for speed, not to skip anything: a
// statement that may abort half-way keeps a statement journal of every
// page it changes (8% of planning's CPU, when plans wrote rows), and these
// rows cannot conflict (fresh rowids, no NULLs), so writeRows reports
// anything short of the rows given as an error.
func insertRowsSQL(n int) string {
	return valuesSQL(`INSERT OR IGNORE INTO deliveries (rid, id, grp, kind, address, recipient_id, odd, info, state, next_at, wake_at,
	created_at, updated_at, error_code, reason, attempts, lease) SELECT * FROM (VALUES `, n, rowParams) + ") WHERE column1 IS NOT NULL"
}

// insertIDsSQL returns the INSERT of up to n (k, rid) pairs into
// delivery_ids_new (pairs with a NULL rid are padding).
func insertIDsSQL(n int) string {
	return valuesSQL("INSERT OR IGNORE INTO delivery_ids_new (k, rid) SELECT * FROM (VALUES ", n, 2) + ") WHERE column2 IS NOT NULL"
}

// chunkSQL writes one delivery chunk.
const chunkSQL = `INSERT INTO delivery_chunks (grp, kind, state, n, taken, first_rid, last_rid, next_at, created_at, updated_at,
	rcpt_lo, rcpt_hi, data) VALUES (?, ?, 'pending', ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)`

// ridsOfKeys returns a subquery for the rowids of the deliveries whose IDs
// may have any of n keys (given twice): a superset, as keys may collide.
func ridsOfKeys(n int) string {
	in := placeholders(n)
	return "SELECT rid FROM delivery_ids WHERE k IN (" + in + ") UNION ALL SELECT rid FROM delivery_ids_new WHERE k IN (" + in + ")"
}

// existingIDsSQL returns a query for the IDs, of n keys, that exist.
func existingIDsSQL(n int) string {
	return "SELECT id FROM deliveries WHERE rid IN (" + ridsOfKeys(n) + ")"
}

// byID returns the condition for the delivery of one ID (byIDArgs), on
// the deliveries table named t ("" when it needs no name).
func byID(t string) string {
	return t + "rid IN (SELECT rid FROM delivery_ids WHERE k = ? UNION ALL SELECT rid FROM delivery_ids_new WHERE k = ?) AND " + t + "id = ?"
}

func byIDArgs(id string) []any {
	key := idKey(id)
	k := idHash(key)
	return []any{k, k, key}
}

// newRow is a delivery about to be written, as a row (writeRows) or into a
// chunk (writeChunks).
type newRow struct {
	d        *queue.Delivery
	key      any   // idKey
	k        int64 // idHash
	rid      int64
	grp      int64
	state    queue.DeliveryState
	wake     int64 // wake_at: NextAt, or the lease's end while sending
	updated  int64
	attempts int
	token    int64 // the claim's token while sending, else 0
}

// freshDeliveries returns the first delivery of each ID in ds that is not
// known: not in skip (a plan's ID set, or nil) and not a row. Rows are
// asked about through the ID filter, and only the IDs it cannot rule out
// are looked up in SQL.
func (db *DB) freshDeliveries(ctx context.Context, tx *sql.Tx, ds []*queue.Delivery, skip *planIDs) ([]newRow, error) {
	uniq := make([]newRow, 0, len(ds))
	seen := make(map[string]struct{}, len(ds))
	for _, d := range ds {
		if _, ok := seen[d.ID]; ok {
			continue
		}
		seen[d.ID] = struct{}{}
		key := idKey(d.ID)
		if skip != nil && skip.has(key) {
			continue
		}
		uniq = append(uniq, newRow{d: d, key: key, k: idHash(key)})
	}
	filter, err := db.filter(ctx, tx)
	if err != nil {
		return nil, err
	}
	var maybe []newRow // those the filter cannot rule out
	for _, r := range uniq {
		if filter.mayHave(r.k) {
			maybe = append(maybe, r)
		}
	}
	exists := map[string]bool{}
	args := make([]any, 0, 2*existingChunk)
	for start := 0; start < len(maybe); start += existingChunk {
		chunk := maybe[start:min(start+existingChunk, len(maybe))]
		args = args[:0]
		for _, r := range chunk {
			args = append(args, r.k)
		}
		args = append(args, args...)
		var st *sql.Stmt
		if len(chunk) == existingChunk {
			st = tx.StmtContext(ctx, db.stmts.existing)
		} else if st, err = tx.PrepareContext(ctx, existingIDsSQL(len(chunk))); err != nil {
			return nil, fmt.Errorf("sqlite: insert deliveries: %w", err)
		}
		err := existingIDs(ctx, st, args, exists)
		st.Close()
		if err != nil {
			return nil, fmt.Errorf("sqlite: insert deliveries: %w", err)
		}
	}
	if len(exists) == 0 {
		return uniq, nil
	}
	fresh := make([]newRow, 0, len(uniq))
	for _, r := range uniq {
		if !exists[r.d.ID] {
			fresh = append(fresh, r)
		}
	}
	return fresh, nil
}

// existingIDs runs an existingIDsSQL statement and marks the IDs it finds.
func existingIDs(ctx context.Context, st *sql.Stmt, args []any, exists map[string]bool) error {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id any
		if err := rows.Scan(&id); err != nil {
			return err
		}
		exists[idString(id)] = true
	}
	return rows.Err()
}

// reserveRIDs hands out n consecutive rids and returns the first.
func reserveRIDs(ctx context.Context, tx *sql.Tx, n int) (int64, error) {
	var first int64
	if err := tx.QueryRowContext(ctx, "UPDATE delivery_rids SET next = next + ? RETURNING next - ?", n, n).Scan(&first); err != nil {
		return 0, fmt.Errorf("sqlite: reserve delivery rids: %w", err)
	}
	return first, nil
}

// writeRows writes rs as deliveries rows with their IDs in delivery_ids_new
// and the ID filter, and merges the ID levels when enough IDs wait.
func (db *DB) writeRows(ctx context.Context, tx *sql.Tx, rs []newRow) error {
	if len(rs) == 0 {
		return nil
	}
	filter, err := db.filter(ctx, tx)
	if err != nil {
		return err
	}
	largest := rowSizes[len(rowSizes)-1]
	args := make([]any, 0, largest*rowParams)
	var infos []byte
	for start := 0; start < len(rs); start += largest {
		chunk := rs[start:min(start+largest, len(rs))]
		size := 0
		for i, s := range rowSizes {
			if s >= len(chunk) {
				size = i
				break
			}
		}
		// One buffer holds every info BLOB of a chunk: the driver copies
		// bound values, so the slices may share it.
		args, infos = args[:0], infos[:0]
		ends := make([]int, len(chunk))
		for i, r := range chunk {
			infos = encodeInfo(infos, r.d)
			ends[i] = len(infos)
		}
		from := 0
		for i, r := range chunk {
			d := r.d
			args = append(args, r.rid, r.key, r.grp, string(d.Kind), d.Address, d.RecipientID, boolInt(!derivedID(d)),
				infos[from:ends[i]:ends[i]], string(r.state), ms(d.NextAt), r.wake, ms(d.CreatedAt), r.updated, d.ErrorCode, d.Reason,
				r.attempts, r.token)
			from = ends[i]
		}
		for len(args) < rowSizes[size]*rowParams {
			args = append(args, nil)
		}
		if err := execRows(ctx, tx, db.stmts.insertRows[size], args, len(chunk)); err != nil {
			return fmt.Errorf("sqlite: insert deliveries: %w", err)
		}
		args = args[:0]
		for _, r := range chunk {
			args = append(args, r.k, r.rid)
			filter.add(r.k)
		}
		for len(args) < rowSizes[size]*2 {
			args = append(args, nil)
		}
		if err := execRows(ctx, tx, db.stmts.insertIDs[size], args, len(chunk)); err != nil {
			return fmt.Errorf("sqlite: insert delivery IDs: %w", err)
		}
	}
	var waiting int64
	if err := tx.QueryRowContext(ctx, "UPDATE delivery_ids_merged SET waiting = waiting + ? RETURNING waiting", len(rs)).Scan(&waiting); err != nil {
		return fmt.Errorf("sqlite: insert delivery IDs: %w", err)
	}
	if waiting >= db.mergeEvery {
		return mergeIDs(ctx, tx)
	}
	return nil
}

// execRows runs a padded INSERT and checks it wrote want rows.
func execRows(ctx context.Context, tx *sql.Tx, st *sql.Stmt, args []any, want int) error {
	res, err := tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	if err != nil {
		return err
	}
	if got, err := res.RowsAffected(); err != nil {
		return err
	} else if got != int64(want) {
		return fmt.Errorf("wrote %d of %d rows", got, want)
	}
	return nil
}

// mergeIDs moves delivery_ids_new into delivery_ids: one pass in key order,
// so the big level takes its inserts in order, each of its pages dirtied
// once per merge rather than once per batch.
func mergeIDs(ctx context.Context, tx *sql.Tx) error {
	for _, q := range []string{
		"INSERT INTO delivery_ids (k, rid) SELECT k, rid FROM delivery_ids_new ORDER BY k, rid",
		"DELETE FROM delivery_ids_new",
		"UPDATE delivery_ids_merged SET waiting = 0",
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("sqlite: merge delivery IDs: %w", err)
		}
	}
	return nil
}

// placeRows gives rs their groups and rids (consecutive, in rs's order) and
// counts them into t as new deliveries in their states.
func (db *DB) placeRows(ctx context.Context, tx *sql.Tx, rs []newRow, t *tally) error {
	if len(rs) == 0 {
		return nil
	}
	ds := make([]*queue.Delivery, len(rs))
	for i := range rs {
		ds[i] = rs[i].d
	}
	groups, err := groupIDs(ctx, tx, ds)
	if err != nil {
		return err
	}
	first, err := reserveRIDs(ctx, tx, len(rs))
	if err != nil {
		return err
	}
	var last group
	var lastID int64
	for i := range rs {
		r := &rs[i]
		if g := groupOf(r.d); i == 0 || g != last {
			last, lastID = g, groups[g]
		}
		r.rid, r.grp = first+int64(i), lastID
		r.state = r.d.State
		if r.state == "" {
			r.state = queue.StatePending
		}
		r.wake = ms(r.d.NextAt)
		r.updated = ms(r.d.UpdatedAt)
		t.move(r.d.BroadcastID, r.d.Kind, "", r.state, r.d.Reason)
	}
	return nil
}

// checkDeliveries validates what the store relies on.
func checkDeliveries(ds []*queue.Delivery) error {
	for _, d := range ds {
		if d.ID == "" || d.Kind == "" {
			return incident.Invalid("deliveries", "a delivery needs an ID and a channel")
		}
		if d.State != "" && d.State != queue.StatePending && d.State.Open() {
			return incident.Invalid("deliveries", "delivery %s: a new delivery is pending or final, not %s", d.ID, d.State)
		}
	}
	return nil
}

// EnqueueDeliveries implements notify.Store.
func (db *DB) EnqueueDeliveries(ctx context.Context, ds []*queue.Delivery) (int, error) {
	if len(ds) == 0 {
		return 0, nil
	}
	if err := checkDeliveries(ds); err != nil {
		return 0, err
	}
	if err := db.prepare(ctx); err != nil {
		return 0, err
	}
	var created int
	err := db.write(ctx, "enqueue deliveries", func(tx *sql.Tx) error {
		fresh, err := db.freshDeliveries(ctx, tx, ds, nil)
		if err != nil {
			return err
		}
		// A plan's deliveries still in chunks are not rows yet; one of the
		// same ID can only be in a chunk of the same update.
		var updates []any
		seen := map[string]bool{}
		for _, r := range fresh {
			if !seen[r.d.UpdateID] {
				seen[r.d.UpdateID] = true
				updates = append(updates, r.d.UpdateID)
			}
		}
		waiting := newPlanIDs("")
		if len(updates) > 0 {
			if waiting, err = waitingIDs(ctx, tx, "", "update_id IN ("+placeholders(len(updates))+")", updates...); err != nil {
				return fmt.Errorf("sqlite: enqueue deliveries: %w", err)
			}
		}
		rs := fresh[:0]
		for _, r := range fresh {
			if !waiting.has(r.key) {
				rs = append(rs, r)
			}
		}
		now := db.Now()
		t := newTally()
		if err := db.placeRows(ctx, tx, rs, t); err != nil {
			return err
		}
		if err := db.writeRows(ctx, tx, rs); err != nil {
			return err
		}
		created = len(rs)
		return db.applyTally(ctx, tx, t, now)
	})
	if err != nil {
		return 0, err
	}
	return created, nil
}

// ---- plans ----

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
	if b == nil || b.Plan == nil || b.Plan.Broadcast == nil {
		return 0, incident.Invalid("plan", "a batch needs its plan")
	}
	bid := b.Plan.Broadcast.ID
	for _, d := range b.Deliveries {
		switch d.BroadcastID {
		case bid:
		case "":
			d.BroadcastID = bid
		default:
			return 0, incident.Invalid("deliveries", "delivery %s belongs to broadcast %s, not %s", d.ID, d.BroadcastID, bid)
		}
	}
	if err := checkDeliveries(b.Deliveries); err != nil {
		return 0, err
	}
	if err := db.prepare(ctx); err != nil {
		return 0, err
	}
	var created int
	var set *planIDs
	var fresh []newRow
	err := db.write(ctx, "save plan batch", func(tx *sql.Tx) error {
		var state, token string
		err := tx.QueryRowContext(ctx, "SELECT state, lease FROM plans WHERE broadcast_id = ?", bid).Scan(&state, &token)
		if errors.Is(err, sql.ErrNoRows) {
			return incident.NotFound("plan", bid)
		} else if err != nil {
			return fmt.Errorf("sqlite: save plan batch: %w", err)
		}
		if state != string(queue.PlanPending) {
			db.forgetPlanSet(bid)
			return incident.Errorf(incident.ECONFLICT, "plan of broadcast %s is %s", bid, state)
		}
		if token == "" || token != b.Plan.Lease {
			return incident.Errorf(incident.ECONFLICT, "plan of broadcast %s was claimed by another planner", bid)
		}
		if set, err = db.planSet(ctx, tx, bid, token); err != nil {
			return err
		}
		if fresh, err = db.freshDeliveries(ctx, tx, b.Deliveries, set); err != nil {
			return err
		}
		t := newTally()
		if err := db.placeRows(ctx, tx, fresh, t); err != nil {
			return err
		}
		// Pending deliveries wait in chunks; the rare one planned in a
		// final state (suppressed before it went) is a row at once.
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
		if err := db.applyTally(ctx, tx, t, now); err != nil {
			return err
		}
		created = len(fresh)
		newState := queue.PlanPending
		if b.Done {
			newState = queue.PlanDone
		}
		if _, err := tx.ExecContext(ctx, `UPDATE plans SET cursor = ?, planned = planned + ?, lease_until = ?, state = ?,
			updated_at = max(updated_at, ?) WHERE broadcast_id = ?`,
			b.Cursor, created, ms(now.Add(lease)), string(newState), ms(now), bid); err != nil {
			return fmt.Errorf("sqlite: save plan batch: %w", err)
		}
		return nil
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
	return created, nil
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
		// The due index holds the open deliveries only; there is no index by group.
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries INDEXED BY deliveries_due SET state = 'cancelled', updated_at = ?
			WHERE state IN ('pending', 'sending') AND state = 'pending' AND grp IN (SELECT id FROM delivery_groups WHERE broadcast_id = ?)`,
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

// ---- claim, finish, receipts ----

// claimSQL is ClaimDeliveries' statement: the subquery walks deliveries_due
// (kind, wake_at) from the oldest, so due pending rows and rows whose lease
// ran out come in one ordered range, and only the rows it picks are
// written. reclaimed records whether the row was sending before (an
// expired lease), which is how the counters know which rows left pending.
const claimSQL = `UPDATE deliveries SET state = 'sending', wake_at = ?, lease = ?, attempts = attempts + 1,
		reclaimed = (state = 'sending'), updated_at = ?
	WHERE rid IN (SELECT rid FROM deliveries WHERE kind = ? AND state IN ('pending', 'sending') AND wake_at <= ?
		ORDER BY wake_at LIMIT ?)
	RETURNING rid, id, grp, kind, address, recipient_id, info, attempts, next_at, provider_id, error_code, reason, created_at,
		sent_at, delivered_at, reclaimed`

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

// The claim's looks at what is due: rows through deliveries_due, chunks
// through delivery_chunks_due, both oldest first.
const (
	dueRowsSQL   = `SELECT wake_at FROM deliveries WHERE kind = ? AND state IN ('pending', 'sending') AND wake_at <= ? ORDER BY wake_at LIMIT ?`
	dueChunksSQL = "SELECT " + chunkColumns + ` FROM delivery_chunks WHERE kind = ? AND state = 'pending' AND next_at <= ?
		ORDER BY next_at, id LIMIT ?`
)

// ClaimDeliveries implements notify.Store. Due rows (retries, deferrals,
// expired leases, deliveries outside plans) and due chunks are both walked
// oldest first through their partial indexes, and the n oldest deliveries
// across the two are claimed: rows with one UPDATE … RETURNING, chunk
// deliveries by writing their rows, already sending under the claim.
func (db *DB) ClaimDeliveries(ctx context.Context, kind channel.Kind, now time.Time, lease time.Duration, n int) ([]*queue.Delivery, error) {
	if n <= 0 {
		return nil, nil
	}
	if err := db.prepare(ctx); err != nil {
		return nil, err
	}
	token := newToken()
	var out []*queue.Delivery
	err := db.write(ctx, "claim deliveries", func(tx *sql.Tx) error {
		rowTimes, err := findAll(ctx, tx, "due deliveries", func(s scanner) (int64, error) {
			var at int64
			return at, s.Scan(&at)
		}, dueRowsSQL, string(kind), ms(now), n)
		if err != nil {
			return err
		}
		chunks, err := findAll(ctx, tx, "due delivery chunks", scanChunkRow, dueChunksSQL, string(kind), ms(now), n)
		if err != nil {
			return err
		}
		// The n oldest across both; a chunk's deliveries share one NextAt.
		type take struct {
			c *chunkRow
			n int
		}
		var takes []take
		rows, need := 0, n
		for i, j := 0, 0; need > 0 && (i < len(rowTimes) || j < len(chunks)); {
			if j == len(chunks) || i < len(rowTimes) && rowTimes[i] <= chunks[j].nextAt {
				rows, i, need = rows+1, i+1, need-1
				continue
			}
			c := chunks[j]
			k := min(need, c.n-c.taken)
			takes, j, need = append(takes, take{c, k}), j+1, need-k
		}
		t := newTally()
		if rows > 0 {
			if out, err = db.claimRows(ctx, tx, kind, now, lease, token, rows, t); err != nil {
				return err
			}
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

// claimRows claims the k oldest due rows of kind (claimSQL walks the same
// order as ClaimDeliveries' look at them, inside the same transaction).
func (db *DB) claimRows(ctx context.Context, tx *sql.Tx, kind channel.Kind, now time.Time, lease time.Duration, token int64, k int,
	t *tally) ([]*queue.Delivery, error) {
	st := tx.StmtContext(ctx, db.stmts.claim)
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
	RETURNING grp, kind, state, reason`)
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
	// Rows to update: a lease that is not ours (another engine's, none) can
	// only be a lost one; a claim given twice is finished once. One
	// delivery may come under two leases (a claim that waited past its
	// lease, and the claim after it): both are kept, and the lease fence
	// in finishSQL's join lets only the live one write.
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
	if len(args) == 0 {
		return nil
	}
	return db.write(ctx, "finish deliveries", func(tx *sql.Tx) error {
		t := newTally()
		largest := finishSizes[len(finishSizes)-1]
		for start := 0; start < len(args); start += largest * finishParams {
			chunk := args[start:min(start+largest*finishParams, len(args))]
			rows := len(chunk) / finishParams
			size := 0
			for i, s := range finishSizes {
				if s >= rows {
					size = i
					break
				}
			}
			for len(chunk) < finishSizes[size]*finishParams {
				chunk = append(chunk, 0, 0, "", 0, "", "", "", nil, nil, 0, 0)
			}
			st := tx.StmtContext(ctx, db.stmts.finish[size])
			res, err := st.QueryContext(ctx, chunk...)
			if err != nil {
				st.Close()
				return fmt.Errorf("sqlite: finish deliveries: %w", err)
			}
			for res.Next() {
				var grp int64
				var kind, state, reason string
				if err := res.Scan(&grp, &kind, &state, &reason); err != nil {
					res.Close()
					st.Close()
					return fmt.Errorf("sqlite: finish deliveries: %w", err)
				}
				g, err := db.group(ctx, tx, grp)
				if err != nil {
					res.Close()
					st.Close()
					return err
				}
				t.move(g.BroadcastID, channel.Kind(kind), queue.StateSending, queue.DeliveryState(state), reason)
			}
			err = res.Err()
			res.Close()
			st.Close()
			if err != nil {
				return fmt.Errorf("sqlite: finish deliveries: %w", err)
			}
		}
		return db.applyTally(ctx, tx, t, fromMS(now))
	})
}

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
		return db.applyTally(ctx, tx, t, at)
	})
}

// ---- reads ----

// FindDeliveryByID implements notify.Store.
// A delivery without a row yet (waiting in a chunk) is found by reading
// the chunks, which no index leads through: only lookups of deliveries not
// yet claimed pay for that, and nothing on a hot path makes them (links
// and receipts name sent deliveries, which have rows).
func (db *DB) FindDeliveryByID(ctx context.Context, id string) (*queue.Delivery, error) {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: find delivery %s: %w", id, err)
	}
	defer tx.Rollback()
	d, _, err := scanDeliveryRID(tx.QueryRowContext(ctx, "SELECT "+deliveryColumns+deliveryFrom+" WHERE "+byID("d."), byIDArgs(id)...))
	if errors.Is(err, sql.ErrNoRows) {
		if d, err = db.findWaiting(ctx, tx, id); err == nil && d == nil {
			return nil, incident.NotFound("delivery", id)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: find delivery %s: %w", id, err)
	}
	return d, nil
}

// byProviderSQL is FindDeliveryByProviderID's query.
const byProviderSQL = "SELECT " + deliveryColumns + deliveryFrom + ` WHERE d.provider_id = ?
	AND d.provider_id != '' ORDER BY d.rid DESC LIMIT 1`

// FindDeliveryByProviderID implements notify.Store; of several (a
// provider reusing an ID), the newest. The "!= ”" is what lets SQLite use
// the partial index deliveries_provider: it cannot tell that a bound value
// is never ”, and without it every status callback scanned the table.
func (db *DB) FindDeliveryByProviderID(ctx context.Context, providerID string) (*queue.Delivery, error) {
	if providerID == "" {
		return nil, incident.NotFound("delivery", providerID)
	}
	d, err := scanDelivery(db.readRow(ctx, byProviderSQL, providerID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.NotFound("delivery", providerID)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find delivery by provider ID: %w", err)
	}
	return d, nil
}

// FindDeliveries implements notify.Store. A filter on kind and address (the
// frequency cap's) is served without an address index: for each update of
// the matching groups, the delivery it would have is
// queue.DeliveryID(update, kind, address), looked up by ID, and the few
// deliveries with IDs made otherwise (odd) have an index of their own.
func (db *DB) FindDeliveries(ctx context.Context, f queue.DeliveryFilter) ([]*queue.Delivery, error) {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: find deliveries: %w", err)
	}
	defer tx.Rollback()
	var where []string
	var args []any
	add := func(cond string, v any) { where, args = append(where, cond), append(args, v) }
	var gwhere []string
	var gargs []any
	gadd := func(cond string, v any) { gwhere, gargs = append(gwhere, cond), append(gargs, v) }
	if f.PageID != "" {
		gadd("page_id = ?", f.PageID)
	}
	if f.BroadcastID != "" {
		gadd("broadcast_id = ?", f.BroadcastID)
	}
	if f.IncidentID != "" {
		gadd("incident_id = ?", f.IncidentID)
	}
	if len(gwhere) > 0 {
		where = append(where, "d.grp IN (SELECT id FROM delivery_groups WHERE "+strings.Join(gwhere, " AND ")+")")
		args = append(args, gargs...)
	}
	if f.Kind != "" && f.Address != "" {
		cond := "1"
		if len(gwhere) > 0 {
			cond = strings.Join(gwhere, " AND ")
		}
		rows, err := tx.QueryContext(ctx, "SELECT DISTINCT update_id FROM delivery_groups WHERE "+cond, gargs...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: find deliveries: %w", err)
		}
		var ids []any
		for rows.Next() {
			var u string
			if err := rows.Scan(&u); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: find deliveries: %w", err)
			}
			ids = append(ids, idHash(idKey(queue.DeliveryID(u, f.Kind, f.Address))))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sqlite: find deliveries: %w", err)
		}
		cand := "SELECT rid FROM deliveries WHERE odd = 1 AND kind = ? AND address = ?"
		cargs := []any{string(f.Kind), f.Address}
		if len(ids) > 0 {
			// A key shared by another ID brings a row the filters below drop.
			cand = ridsOfKeys(len(ids)) + " UNION ALL " + cand
			cargs = append(append(ids, ids...), cargs...)
		}
		where, args = append(where, "d.rid IN ("+cand+")"), append(args, cargs...)
	}
	if f.RecipientID != "" {
		add("d.recipient_id = ?", f.RecipientID)
	}
	if f.Kind != "" {
		add("d.kind = ?", string(f.Kind))
	}
	if f.Address != "" {
		add("d.address = ?", f.Address)
	}
	if !f.Since.IsZero() {
		add("d.created_at >= ?", ms(f.Since))
	}
	if len(f.States) > 0 {
		where = append(where, "d.state IN ("+placeholders(len(f.States))+")")
		for _, s := range f.States {
			args = append(args, string(s))
		}
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+deliveryColumns+deliveryFrom+cond+" ORDER BY d.created_at DESC, d.rid DESC LIMIT ?",
		append(args, limitArg(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: find deliveries: %w", err)
	}
	defer rows.Close()
	var found []ridDelivery
	for rows.Next() {
		d, rid, err := scanDeliveryRID(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: find deliveries: %w", err)
		}
		found = append(found, ridDelivery{d, rid})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: find deliveries: %w", err)
	}
	rows.Close()
	cf := chunkFilter{kind: f.Kind, address: f.Address, recipient: f.RecipientID, states: f.States}
	if len(gwhere) > 0 {
		cf.groups, cf.groupArgs = "SELECT id FROM delivery_groups WHERE "+strings.Join(gwhere, " AND "), gargs
	}
	if !f.Since.IsZero() {
		cf.since = ms(f.Since)
	}
	waiting, err := db.waitingDeliveries(ctx, tx, cf, f.Limit)
	if err != nil {
		return nil, err
	}
	found = append(found, waiting...)
	sortNewestFirst(found)
	if f.Limit > 0 && len(found) > f.Limit {
		found = found[:f.Limit]
	}
	out := make([]*queue.Delivery, len(found))
	for i, r := range found {
		out[i] = r.d
	}
	return out, nil
}
