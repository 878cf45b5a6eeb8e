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

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify"
)

// The delivery queue: plans (one per broadcast), deliveries claimed with a
// lease, and per-broadcast counters kept in step with every state change.
//
// Every write here goes through the single writer connection in a short
// BEGIN IMMEDIATE transaction; claims are writes too. A claim is one
// UPDATE … RETURNING over the partial index deliveries_due, so it costs
// O(n log N) for n rows out of N, however many deliveries wait; a finish is
// one UPDATE … FROM (VALUES …) per 256 deliveries, by rowid (the Lease
// carries it). Migration 0003 explains the layout that keeps planning
// linear: narrow rows, a two-level ID index, no address index.

// newLease returns a fresh claim token.
func newLease() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

// ---- counters ----

type countKey struct {
	broadcast string
	kind      notify.Kind
	state     notify.DeliveryState
}

type reasonKey struct {
	broadcast string
	kind      notify.Kind
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
func countsReason(s notify.DeliveryState) bool {
	return s == notify.StateSuppressed || s == notify.StateFailed
}

// move records one delivery of a broadcast leaving from (none when "") for
// to, with reason (counted for suppressed and failed). Deliveries outside a
// plan have no counters.
func (t *tally) move(broadcast string, kind notify.Kind, from, to notify.DeliveryState, reason string) {
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

// insertChunk is how many deliveries one INSERT statement carries: 500
// rows × 15 parameters stays under SQLite's 32766-variable limit, and one
// statement per chunk makes the per-statement cost (through database/sql
// and the driver) vanish next to the per-row one.
const insertChunk = 500

// deliveryParams is the number of bound values per inserted row.
const deliveryParams = 15

// defaultMergeEvery is how many deliveries delivery_ids_new takes before
// mergeIDs moves them into delivery_ids (DB.mergeEvery). Smaller keeps each
// batch's random inserts on fewer pages; larger merges less often (each
// merge dirties most of delivery_ids' leaves once).
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

// insertSQL returns an INSERT of n new deliveries with their rowids;
// attempts, lease, provider ID and the send times take their defaults.
func insertSQL(n int) string {
	return valuesSQL(`INSERT OR IGNORE INTO deliveries (rid, id, grp, kind, address, recipient_id, odd, info, state, next_at, wake_at,
	created_at, updated_at, error_code, reason) VALUES `, n, deliveryParams)
}

// insertIDsSQL returns the INSERT of n (k, rid) pairs into delivery_ids_new.
func insertIDsSQL(n int) string {
	return valuesSQL("INSERT OR IGNORE INTO delivery_ids_new (k, rid) VALUES ", n, 2)
}

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

// stmtFor returns the prepared full-chunk statement inside tx when n is a
// full chunk, else a one-off statement of n rows.
func stmtFor(ctx context.Context, tx *sql.Tx, full *sql.Stmt, n int, build func(int) string) (*sql.Stmt, error) {
	if n == insertChunk {
		return tx.StmtContext(ctx, full), nil
	}
	return tx.PrepareContext(ctx, build(n))
}

// insertDeliveries writes the deliveries of ds whose IDs are new (the first
// of each ID), counts them into the counters, and returns how many there
// were. Statements come from db.stmts, prepared before the transaction
// began: preparing needs the writer connection, which the transaction holds.
func (db *DB) insertDeliveries(ctx context.Context, tx *sql.Tx, ds []*notify.Delivery, now time.Time) (int, error) {
	if len(ds) == 0 {
		return 0, nil
	}
	groups, err := groupIDs(ctx, tx, ds)
	if err != nil {
		return 0, err
	}
	// The first of each ID, then those no level knows.
	type row struct {
		d   *notify.Delivery
		key any   // idKey
		k   int64 // idHash
	}
	uniq := make([]row, 0, len(ds))
	seen := make(map[string]struct{}, len(ds))
	for _, d := range ds {
		if _, ok := seen[d.ID]; !ok {
			seen[d.ID] = struct{}{}
			key := idKey(d.ID)
			uniq = append(uniq, row{d, key, idHash(key)})
		}
	}
	filter, err := db.filter(ctx, tx)
	if err != nil {
		return 0, err
	}
	var maybe []row // those the filter cannot rule out
	for _, r := range uniq {
		if filter.mayHave(r.k) {
			maybe = append(maybe, r)
		}
	}
	exists := map[string]bool{}
	args := make([]any, 0, insertChunk*deliveryParams)
	for start := 0; start < len(maybe); start += insertChunk {
		chunk := maybe[start:min(start+insertChunk, len(maybe))]
		args = args[:0]
		for _, r := range chunk {
			args = append(args, r.k)
		}
		args = append(args, args...)
		st, err := stmtFor(ctx, tx, db.stmts.existing, len(chunk), existingIDsSQL)
		if err != nil {
			return 0, fmt.Errorf("sqlite: insert deliveries: %w", err)
		}
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			st.Close()
			return 0, fmt.Errorf("sqlite: insert deliveries: %w", err)
		}
		for rows.Next() {
			var id any
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				st.Close()
				return 0, fmt.Errorf("sqlite: insert deliveries: %w", err)
			}
			exists[idString(id)] = true
		}
		err = rows.Err()
		rows.Close()
		st.Close()
		if err != nil {
			return 0, fmt.Errorf("sqlite: insert deliveries: %w", err)
		}
	}
	fresh := uniq
	if len(exists) > 0 {
		fresh = make([]row, 0, len(uniq))
		for _, r := range uniq {
			if !exists[r.d.ID] {
				fresh = append(fresh, r)
			}
		}
	}
	if len(fresh) == 0 {
		return 0, nil
	}
	var maxRID, merged int64
	if err := tx.QueryRowContext(ctx, "SELECT coalesce((SELECT max(rid) FROM deliveries), 0), (SELECT merged_rid FROM delivery_ids_merged)").
		Scan(&maxRID, &merged); err != nil {
		return 0, fmt.Errorf("sqlite: insert deliveries: %w", err)
	}
	// One buffer holds every info BLOB of a chunk: the driver copies bound
	// values, so the slices may share it.
	var infos []byte
	ends := make([]int, insertChunk)
	t := newTally()
	rid := maxRID
	for start := 0; start < len(fresh); start += insertChunk {
		chunk := fresh[start:min(start+insertChunk, len(fresh))]
		args, infos = args[:0], infos[:0]
		for i, r := range chunk {
			infos = encodeInfo(infos, r.d)
			ends[i] = len(infos)
		}
		from, first := 0, rid
		for i, r := range chunk {
			d := r.d
			state := d.State
			if state == "" {
				state = notify.StatePending
			}
			rid++
			next := ms(d.NextAt)
			args = append(args, rid, r.key, groups[groupOf(d)], string(d.Kind), d.Address, d.RecipientID, boolInt(!derivedID(d)),
				infos[from:ends[i]:ends[i]], string(state), next, next, ms(d.CreatedAt), ms(d.UpdatedAt), d.ErrorCode, d.Reason)
			from = ends[i]
			t.move(d.BroadcastID, d.Kind, "", state, d.Reason)
		}
		if err := execChunk(ctx, tx, db.stmts.insert, len(chunk), insertSQL, args); err != nil {
			return 0, fmt.Errorf("sqlite: insert deliveries: %w", err)
		}
		args = args[:0]
		for i, r := range chunk {
			args = append(args, r.k, first+1+int64(i))
			filter.add(r.k)
		}
		if err := execChunk(ctx, tx, db.stmts.insertIDs, len(chunk), insertIDsSQL, args); err != nil {
			return 0, fmt.Errorf("sqlite: insert delivery IDs: %w", err)
		}
	}
	if rid-merged >= db.mergeEvery {
		if err := mergeIDs(ctx, tx, rid); err != nil {
			return 0, err
		}
	}
	if err := db.applyTally(ctx, tx, t, now); err != nil {
		return 0, err
	}
	return len(fresh), nil
}

// execChunk runs the n-row INSERT OR IGNORE (full when n is a full chunk)
// and checks it wrote n rows. OR IGNORE is there for speed, not to skip
// anything: a multi-row statement that may abort half-way keeps a
// statement journal of every page it changes (8% of planning's CPU), and
// the rows written here cannot conflict (fresh rowids, no NULLs), so
// anything short of n rows is a bug, reported as an error.
func execChunk(ctx context.Context, tx *sql.Tx, full *sql.Stmt, n int, build func(int) string, args []any) error {
	st, err := stmtFor(ctx, tx, full, n, build)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return err
	}
	if got, err := res.RowsAffected(); err != nil {
		return err
	} else if got != int64(n) {
		return fmt.Errorf("wrote %d of %d rows", got, n)
	}
	return nil
}

// mergeIDs moves delivery_ids_new into delivery_ids: one pass in key order,
// so the big level takes its inserts in order, each of its pages dirtied
// once per merge rather than once per batch.
func mergeIDs(ctx context.Context, tx *sql.Tx, upTo int64) error {
	for _, q := range []string{
		"INSERT INTO delivery_ids (k, rid) SELECT k, rid FROM delivery_ids_new ORDER BY k, rid",
		"DELETE FROM delivery_ids_new",
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("sqlite: merge delivery IDs: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, "UPDATE delivery_ids_merged SET merged_rid = ?", upTo); err != nil {
		return fmt.Errorf("sqlite: merge delivery IDs: %w", err)
	}
	return nil
}

// checkDeliveries validates what the store relies on.
func checkDeliveries(ds []*notify.Delivery) error {
	for _, d := range ds {
		if d.ID == "" || d.Kind == "" {
			return incident.Invalid("deliveries", "a delivery needs an ID and a channel")
		}
		if d.State != "" && d.State != notify.StatePending && d.State.Open() {
			return incident.Invalid("deliveries", "delivery %s: a new delivery is pending or final, not %s", d.ID, d.State)
		}
	}
	return nil
}

// EnqueueDeliveries implements notify.Store.
func (db *DB) EnqueueDeliveries(ctx context.Context, ds []*notify.Delivery) (int, error) {
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
		var err error
		created, err = db.insertDeliveries(ctx, tx, ds, db.Now())
		return err
	})
	if err != nil {
		return 0, err
	}
	return created, nil
}

// ---- plans ----

const planColumns = `b.id, b.page_id, b.incident_id, b.update_id, b.kind, b.created_at, p.state, p.cursor, p.planned`

func scanPlan(s scanner, extra ...any) (*notify.Plan, error) {
	var b incident.Broadcast
	var p notify.Plan
	var kind, state string
	var created int64
	dest := []any{&b.ID, &b.PageID, &b.IncidentID, &b.UpdateID, &kind, &created, &state, &p.Cursor, &p.Planned}
	if err := s.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	b.Kind, b.CreatedAt = incident.BroadcastKind(kind), fromMS(created)
	p.Broadcast, p.State = &b, notify.PlanState(state)
	return &p, nil
}

// ClaimPlan implements notify.Store: the oldest claimable plan by commit order.
func (db *DB) ClaimPlan(ctx context.Context, now time.Time, lease time.Duration) (*notify.Plan, error) {
	var plan *notify.Plan
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
func (db *DB) SavePlanBatch(ctx context.Context, b *notify.PlanBatch, now time.Time, lease time.Duration) (int, error) {
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
	err := db.write(ctx, "save plan batch", func(tx *sql.Tx) error {
		var state, token string
		err := tx.QueryRowContext(ctx, "SELECT state, lease FROM plans WHERE broadcast_id = ?", bid).Scan(&state, &token)
		if errors.Is(err, sql.ErrNoRows) {
			return incident.NotFound("plan", bid)
		} else if err != nil {
			return fmt.Errorf("sqlite: save plan batch: %w", err)
		}
		if state != string(notify.PlanPending) {
			return incident.Errorf(incident.ECONFLICT, "plan of broadcast %s is %s", bid, state)
		}
		if token == "" || token != b.Plan.Lease {
			return incident.Errorf(incident.ECONFLICT, "plan of broadcast %s was claimed by another planner", bid)
		}
		if created, err = db.insertDeliveries(ctx, tx, b.Deliveries, now); err != nil {
			return err
		}
		newState := notify.PlanPending
		if b.Done {
			newState = notify.PlanDone
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
	return created, nil
}

// FindPlan implements notify.Store. The lease token stays private to the
// planner that claimed it.
func (db *DB) FindPlan(ctx context.Context, broadcastID string) (*notify.Plan, error) {
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
func (db *DB) FindPlans(ctx context.Context, incidentID string) ([]*notify.Plan, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT "+planColumns+` FROM plans p JOIN broadcasts b ON b.id = p.broadcast_id
		WHERE p.incident_id = ? ORDER BY b.created_at, b.seq`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: find plans: %w", err)
	}
	defer rows.Close()
	out := []*notify.Plan{}
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
func (db *DB) Progress(ctx context.Context, broadcastID string) (*notify.Progress, error) {
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
	out := &notify.Progress{BroadcastID: broadcastID, IncidentID: p.Broadcast.IncidentID, Kind: p.Broadcast.Kind, State: p.State,
		Planned: p.Planned, Counts: map[notify.Kind]map[notify.DeliveryState]int{}, Reasons: map[notify.Kind]map[string]int{},
		CreatedAt: p.Broadcast.CreatedAt, UpdatedAt: fromMS(updated)}
	for _, q := range []struct {
		sql string
		add func(kind, key string, n int)
	}{
		{"SELECT kind, state, n FROM delivery_counts WHERE broadcast_id = ? AND n != 0", func(kind, key string, n int) {
			k := notify.Kind(kind)
			if out.Counts[k] == nil {
				out.Counts[k] = map[notify.DeliveryState]int{}
			}
			out.Counts[k][notify.DeliveryState(key)] = n
		}},
		{"SELECT kind, reason, n FROM delivery_reasons WHERE broadcast_id = ? AND n != 0", func(kind, key string, n int) {
			k := notify.Kind(kind)
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

// ClaimDeliveries implements notify.Store with one UPDATE … RETURNING.
func (db *DB) ClaimDeliveries(ctx context.Context, kind notify.Kind, now time.Time, lease time.Duration, n int) ([]*notify.Delivery, error) {
	if n <= 0 {
		return nil, nil
	}
	if err := db.prepare(ctx); err != nil {
		return nil, err
	}
	token := newToken()
	var out []*notify.Delivery
	err := db.write(ctx, "claim deliveries", func(tx *sql.Tx) error {
		st := tx.StmtContext(ctx, db.stmts.claim)
		defer st.Close()
		rows, err := st.QueryContext(ctx, ms(now.Add(lease)), token, ms(now), string(kind), ms(now), n)
		if err != nil {
			return fmt.Errorf("sqlite: claim deliveries: %w", err)
		}
		defer rows.Close()
		type claimed struct {
			d         *notify.Delivery
			grp       int64
			reclaimed bool
		}
		cs := make([]claimed, 0, n)
		for rows.Next() {
			var c claimed
			var d notify.Delivery
			var rid int64
			var id any
			var kind string
			var info []byte
			var next, created int64
			var sent, delivered sql.NullInt64
			if err := rows.Scan(&rid, &id, &c.grp, &kind, &d.Address, &d.RecipientID, &info, &d.Attempts, &next, &d.ProviderID,
				&d.ErrorCode, &d.Reason, &created, &sent, &delivered, &c.reclaimed); err != nil {
				return fmt.Errorf("sqlite: claim deliveries: %w", err)
			}
			d.ID, d.Kind, d.State, d.Lease = idString(id), notify.Kind(kind), notify.StateSending, leaseString(rid, token)
			if err := decodeInfo(info, &d); err != nil {
				return fmt.Errorf("sqlite: claim delivery %s: %w", d.ID, err)
			}
			d.NextAt, d.CreatedAt, d.UpdatedAt = fromMS(next), fromMS(created), now
			d.SentAt, d.DeliveredAt = fromMSPtr(sent), fromMSPtr(delivered)
			c.d = &d
			cs = append(cs, c)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: claim deliveries: %w", err)
		}
		rows.Close()
		t := newTally()
		out = make([]*notify.Delivery, len(cs))
		for i, c := range cs {
			g, err := db.group(ctx, tx, c.grp)
			if err != nil {
				return err
			}
			c.d.BroadcastID, c.d.PageID, c.d.IncidentID, c.d.UpdateID, c.d.MessageKind = g.BroadcastID, g.PageID, g.IncidentID, g.UpdateID, g.MessageKind
			if !c.reclaimed {
				t.move(g.BroadcastID, c.d.Kind, notify.StatePending, notify.StateSending, "")
			}
			out[i] = c.d
		}
		return db.applyTally(ctx, tx, t, now)
	})
	if err != nil {
		return nil, err
	}
	// RETURNING comes in rowid order; hand them out in due order.
	slices.SortStableFunc(out, func(a, b *notify.Delivery) int { return a.NextAt.Compare(b.NextAt) })
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
func (db *DB) FinishDeliveries(ctx context.Context, ds []*notify.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	for _, d := range ds {
		if d.State == notify.StateSending || d.State == "" {
			return incident.Invalid("state", "delivery %s: finish with a final state or pending, not %q", d.ID, d.State)
		}
	}
	if err := db.prepare(ctx); err != nil {
		return err
	}
	now := ms(db.Now())
	// Rows to update: a lease that is not ours (another engine's, none) can
	// only be a lost one; a delivery given twice is finished once.
	args := make([]any, 0, len(ds)*finishParams)
	seen := make(map[int64]bool, len(ds))
	for _, d := range ds {
		rid, token, ok := parseLease(d.Lease)
		if !ok || seen[rid] {
			continue
		}
		seen[rid] = true
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
				t.move(g.BroadcastID, notify.Kind(kind), notify.StateSending, notify.DeliveryState(state), reason)
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

// SetDeliveryStatus implements notify.Store. Only a sent delivery takes a
// receipt, so the order receipts arrive in cannot move one backwards.
func (db *DB) SetDeliveryStatus(ctx context.Context, id string, state notify.DeliveryState, providerStatus, errorCode string, at time.Time) error {
	switch state {
	case notify.StateDelivered, notify.StateUndelivered, notify.StateFailed:
	case notify.StateSent:
		if _, err := db.FindDeliveryByID(ctx, id); err != nil {
			return err
		}
		return nil
	default:
		return incident.Invalid("state", "a receipt says delivered, undelivered or failed, not %q", state)
	}
	reason := ""
	if state != notify.StateDelivered {
		reason = providerStatus
	}
	var delivered sql.NullInt64
	if state == notify.StateDelivered {
		delivered = sql.NullInt64{Int64: ms(at), Valid: true}
	}
	if err := db.prepare(ctx); err != nil {
		return err
	}
	return db.write(ctx, "set delivery status", func(tx *sql.Tx) error {
		var grp int64
		var kind, newReason string
		err := tx.QueryRowContext(ctx, `UPDATE deliveries SET state = ?1,
				error_code = CASE WHEN ?2 != '' THEN ?2 ELSE error_code END,
				reason = CASE WHEN ?3 != '' THEN ?3 ELSE reason END,
				delivered_at = coalesce(?4, delivered_at), updated_at = ?5
			WHERE rid IN (SELECT rid FROM delivery_ids WHERE k = ?6 UNION ALL SELECT rid FROM delivery_ids_new WHERE k = ?6)
				AND id = ?7 AND state = 'sent'
			RETURNING grp, kind, reason`,
			string(state), errorCode, reason, delivered, ms(at), idHash(idKey(id)), idKey(id)).Scan(&grp, &kind, &newReason)
		if errors.Is(err, sql.ErrNoRows) {
			var one int
			err := tx.QueryRowContext(ctx, "SELECT 1 FROM deliveries WHERE "+byID(""), byIDArgs(id)...).Scan(&one)
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
		t.move(g.BroadcastID, notify.Kind(kind), notify.StateSent, state, newReason)
		return db.applyTally(ctx, tx, t, at)
	})
}

// ---- reads ----

// FindDeliveryByID implements notify.Store.
func (db *DB) FindDeliveryByID(ctx context.Context, id string) (*notify.Delivery, error) {
	d, err := scanDelivery(db.r.QueryRowContext(ctx, "SELECT "+deliveryColumns+deliveryFrom+" WHERE "+byID("d."), byIDArgs(id)...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.NotFound("delivery", id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find delivery %s: %w", id, err)
	}
	return d, nil
}

// FindDeliveryByProviderID implements notify.Store; of several (a
// provider reusing an ID), the newest.
func (db *DB) FindDeliveryByProviderID(ctx context.Context, providerID string) (*notify.Delivery, error) {
	if providerID == "" {
		return nil, incident.NotFound("delivery", providerID)
	}
	d, err := scanDelivery(db.readRow(ctx, "SELECT "+deliveryColumns+deliveryFrom+` WHERE d.provider_id = ?
		ORDER BY d.rid DESC LIMIT 1`, providerID))
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
// notify.DeliveryID(update, kind, address), looked up by ID, and the few
// deliveries with IDs made otherwise (odd) have an index of their own.
func (db *DB) FindDeliveries(ctx context.Context, f notify.DeliveryFilter) ([]*notify.Delivery, error) {
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
			ids = append(ids, idHash(idKey(notify.DeliveryID(u, f.Kind, f.Address))))
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
	out := []*notify.Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: find deliveries: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
