package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
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
// O(n log N) for n rows out of N, however many deliveries wait.

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

// apply writes the tally and touches the plans' updated_at.
func (t *tally) apply(ctx context.Context, tx *sql.Tx, now time.Time) error {
	touched := map[string]bool{}
	for k, n := range t.counts {
		if n == 0 {
			continue
		}
		touched[k.broadcast] = true
		if _, err := tx.ExecContext(ctx, `INSERT INTO delivery_counts (broadcast_id, kind, state, n) VALUES (?, ?, ?, ?)
			ON CONFLICT (broadcast_id, kind, state) DO UPDATE SET n = n + excluded.n`, k.broadcast, string(k.kind), string(k.state), n); err != nil {
			return fmt.Errorf("sqlite: count deliveries: %w", err)
		}
	}
	for k, n := range t.reasons {
		if n == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO delivery_reasons (broadcast_id, kind, reason, n) VALUES (?, ?, ?, ?)
			ON CONFLICT (broadcast_id, kind, reason) DO UPDATE SET n = n + excluded.n`, k.broadcast, string(k.kind), k.reason, n); err != nil {
			return fmt.Errorf("sqlite: count delivery reasons: %w", err)
		}
	}
	for b := range touched {
		if _, err := tx.ExecContext(ctx, "UPDATE plans SET updated_at = max(updated_at, ?) WHERE broadcast_id = ?", ms(now), b); err != nil {
			return fmt.Errorf("sqlite: touch plan %s: %w", b, err)
		}
	}
	return nil
}

// countInserted adds the deliveries inserted after rowid since to the
// counters, by SQL over the rowid range: INSERT OR IGNORE does not say
// which rows it skipped, but new rows always take rowids above the old
// maximum, inside the one write transaction.
func countInserted(ctx context.Context, tx *sql.Tx, since int64) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO delivery_counts (broadcast_id, kind, state, n)
		SELECT broadcast_id, kind, state, count(*) FROM deliveries WHERE rid > ? AND broadcast_id != '' GROUP BY 1, 2, 3
		ON CONFLICT (broadcast_id, kind, state) DO UPDATE SET n = n + excluded.n`, since); err != nil {
		return fmt.Errorf("sqlite: count new deliveries: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO delivery_reasons (broadcast_id, kind, reason, n)
		SELECT broadcast_id, kind, reason, count(*) FROM deliveries
		WHERE rid > ? AND broadcast_id != '' AND state IN ('suppressed', 'failed') GROUP BY 1, 2, 3
		ON CONFLICT (broadcast_id, kind, reason) DO UPDATE SET n = n + excluded.n`, since); err != nil {
		return fmt.Errorf("sqlite: count new delivery reasons: %w", err)
	}
	return nil
}

// ---- deliveries: encoding ----

// deliveryInfo is the JSON of the info column: what only the dispatcher
// reads, packed into one column to keep rows (and inserts) small.
type deliveryInfo struct {
	Name     string            `json:"n,omitempty"`
	Language string            `json:"l,omitempty"`
	TimeZone string            `json:"z,omitempty"`
	Vars     map[string]string `json:"v,omitempty"`
}

func encodeInfo(d *notify.Delivery) (string, error) {
	if d.Name == "" && d.Language == "" && d.TimeZone == "" && len(d.Vars) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(deliveryInfo{d.Name, d.Language, d.TimeZone, d.Vars})
	if err != nil {
		return "", fmt.Errorf("sqlite: delivery %s info: %w", d.ID, err)
	}
	return string(b), nil
}

const deliveryColumns = `id, broadcast_id, page_id, incident_id, update_id, message_kind, kind, address, recipient_type, recipient_id,
	info, critical, state, attempts, next_at, provider_id, error_code, reason, created_at, updated_at, sent_at, delivered_at`

// scanDelivery reads deliveryColumns plus extra destinations.
func scanDelivery(s scanner, extra ...any) (*notify.Delivery, error) {
	var d notify.Delivery
	var msgKind, kind, rtype, info, state string
	var next, created, updated int64
	var sent, delivered sql.NullInt64
	dest := []any{&d.ID, &d.BroadcastID, &d.PageID, &d.IncidentID, &d.UpdateID, &msgKind, &kind, &d.Address, &rtype, &d.RecipientID,
		&info, &d.Critical, &state, &d.Attempts, &next, &d.ProviderID, &d.ErrorCode, &d.Reason, &created, &updated, &sent, &delivered}
	if err := s.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	if info != "{}" {
		var i deliveryInfo
		if err := json.Unmarshal([]byte(info), &i); err != nil {
			return nil, fmt.Errorf("delivery %s info: %w", d.ID, err)
		}
		d.Name, d.Language, d.TimeZone, d.Vars = i.Name, i.Language, i.TimeZone, i.Vars
	}
	d.MessageKind, d.Kind, d.RecipientType, d.State = notify.MessageKind(msgKind), notify.Kind(kind), notify.RecipientType(rtype), notify.DeliveryState(state)
	d.NextAt, d.CreatedAt, d.UpdatedAt = fromMS(next), fromMS(created), fromMS(updated)
	d.SentAt, d.DeliveredAt = fromMSPtr(sent), fromMSPtr(delivered)
	return &d, nil
}

// ---- deliveries: insert ----

// insertChunk is how many deliveries one INSERT statement carries: 500
// rows × 19 parameters stays under SQLite's 32766-variable limit, and one
// statement per chunk makes the per-statement cost (through database/sql
// and the driver) vanish next to the per-row one.
const insertChunk = 500

// deliveryParams is the number of bound values per inserted row.
const deliveryParams = 19

// insertSQL returns an INSERT OR IGNORE of n deliveries; attempts, lease,
// provider ID and the send times start empty. The parameters are plain
// "?", never "?NNN": for each bound value the driver asks SQLite for the
// parameter's name, which is a linear search through the names, so
// numbered parameters make a 9,500-parameter statement quadratic (it was
// 200× slower).
func insertSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT OR IGNORE INTO deliveries (id, broadcast_id, page_id, incident_id, update_id, message_kind, kind, address,
	recipient_type, recipient_id, info, critical, state, next_at, error_code, reason, created_at, updated_at,
	wake_at, attempts, lease, reclaimed, provider_id, sent_at, delivered_at) VALUES `)
	for r := range n {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		b.WriteString(strings.Repeat("?,", deliveryParams))
		b.WriteString("0,'',0,'',NULL,NULL)")
	}
	return b.String()
}

// insertStmt returns the full-chunk INSERT, prepared once on the writer
// connection (a transaction on that connection reuses it as it is).
func (db *DB) insertStmt(ctx context.Context) (*sql.Stmt, error) {
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	if db.insertFull == nil {
		st, err := db.w.PrepareContext(ctx, insertSQL(insertChunk))
		if err != nil {
			return nil, fmt.Errorf("sqlite: prepare delivery insert: %w", err)
		}
		db.insertFull = st
	}
	return db.insertFull, nil
}

// insertDeliveries writes ds with INSERT OR IGNORE, counts the new ones
// into the counters, and returns how many were new. full is insertStmt's
// statement, fetched before the transaction began: preparing needs the
// writer connection, which the transaction holds.
func (db *DB) insertDeliveries(ctx context.Context, tx *sql.Tx, full *sql.Stmt, ds []*notify.Delivery) (int, error) {
	if len(ds) == 0 {
		return 0, nil
	}
	var maxRID int64
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(rid), 0) FROM deliveries").Scan(&maxRID); err != nil {
		return 0, fmt.Errorf("sqlite: insert deliveries: %w", err)
	}
	txFull := tx.StmtContext(ctx, full)
	defer txFull.Close()
	args := make([]any, 0, insertChunk*deliveryParams)
	created := 0
	for start := 0; start < len(ds); start += insertChunk {
		chunk := ds[start:min(start+insertChunk, len(ds))]
		args = args[:0]
		var err error
		for _, d := range chunk {
			info, err := encodeInfo(d)
			if err != nil {
				return 0, err
			}
			state := d.State
			if state == "" {
				state = notify.StatePending
			}
			args = append(args, d.ID, d.BroadcastID, d.PageID, d.IncidentID, d.UpdateID, string(d.MessageKind), string(d.Kind), d.Address,
				string(d.RecipientType), d.RecipientID, info, boolInt(d.Critical), string(state), ms(d.NextAt), d.ErrorCode, d.Reason,
				ms(d.CreatedAt), ms(d.UpdatedAt), ms(d.NextAt)) // the last is wake_at
		}
		var res sql.Result
		if len(chunk) == insertChunk {
			res, err = txFull.ExecContext(ctx, args...)
		} else {
			res, err = tx.ExecContext(ctx, insertSQL(len(chunk)), args...)
		}
		if err != nil {
			return 0, fmt.Errorf("sqlite: insert deliveries: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("sqlite: insert deliveries: %w", err)
		}
		created += int(n)
	}
	if created > 0 {
		if err := countInserted(ctx, tx, maxRID); err != nil {
			return 0, err
		}
	}
	return created, nil
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
	full, err := db.insertStmt(ctx)
	if err != nil {
		return 0, err
	}
	var created int
	err = db.write(ctx, "enqueue deliveries", func(tx *sql.Tx) error {
		var err error
		created, err = db.insertDeliveries(ctx, tx, full, ds)
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
	full, err := db.insertStmt(ctx)
	if err != nil {
		return 0, err
	}
	var created int
	err = db.write(ctx, "save plan batch", func(tx *sql.Tx) error {
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
		if created, err = db.insertDeliveries(ctx, tx, full, b.Deliveries); err != nil {
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
		if _, err := tx.ExecContext(ctx, "UPDATE deliveries SET state = 'cancelled', updated_at = ? WHERE broadcast_id = ? AND state = 'pending'",
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

// ClaimDeliveries implements notify.Store with one UPDATE … RETURNING: the
// subquery walks deliveries_due (kind, wake_at) from the oldest, so due
// pending rows and rows whose lease ran out come in one ordered range.
// reclaimed records whether the row was sending before (an expired lease),
// which is how the counters know which rows left pending.
func (db *DB) ClaimDeliveries(ctx context.Context, kind notify.Kind, now time.Time, lease time.Duration, n int) ([]*notify.Delivery, error) {
	if n <= 0 {
		return nil, nil
	}
	token := newLease()
	var out []*notify.Delivery
	err := db.write(ctx, "claim deliveries", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE deliveries SET state = 'sending', wake_at = ?1, lease = ?2, attempts = attempts + 1,
				reclaimed = (state = 'sending'), updated_at = ?3
			WHERE rid IN (SELECT rid FROM deliveries WHERE kind = ?4 AND state IN ('pending', 'sending') AND wake_at <= ?3
				ORDER BY wake_at LIMIT ?5)
			RETURNING `+deliveryColumns+`, reclaimed`,
			ms(now.Add(lease)), token, ms(now), string(kind), n)
		if err != nil {
			return fmt.Errorf("sqlite: claim deliveries: %w", err)
		}
		defer rows.Close()
		t := newTally()
		out = make([]*notify.Delivery, 0, n)
		for rows.Next() {
			var reclaimed bool
			d, err := scanDelivery(rows, &reclaimed)
			if err != nil {
				return fmt.Errorf("sqlite: claim deliveries: %w", err)
			}
			d.Lease = token
			if !reclaimed {
				t.move(d.BroadcastID, d.Kind, notify.StatePending, notify.StateSending, "")
			}
			out = append(out, d)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: claim deliveries: %w", err)
		}
		rows.Close()
		return t.apply(ctx, tx, now)
	})
	if err != nil {
		return nil, err
	}
	// RETURNING comes in rowid order; hand them out in due order.
	slices.SortStableFunc(out, func(a, b *notify.Delivery) int { return a.NextAt.Compare(b.NextAt) })
	return out, nil
}

// FinishDeliveries implements notify.Store: one UPDATE per delivery,
// conditional on the lease token, in one transaction.
func (db *DB) FinishDeliveries(ctx context.Context, ds []*notify.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	for _, d := range ds {
		if d.State == notify.StateSending || d.State == "" {
			return incident.Invalid("state", "delivery %s: finish with a final state or pending, not %q", d.ID, d.State)
		}
	}
	now := db.Now()
	return db.write(ctx, "finish deliveries", func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE deliveries SET state = ?, next_at = ?, wake_at = ?, lease = '', provider_id = ?,
				error_code = ?, reason = ?, sent_at = coalesce(?, sent_at), delivered_at = coalesce(?, delivered_at), updated_at = ?
			WHERE id = ? AND state = 'sending' AND lease = ?
			RETURNING broadcast_id, kind`)
		if err != nil {
			return fmt.Errorf("sqlite: finish deliveries: %w", err)
		}
		defer st.Close()
		t := newTally()
		for _, d := range ds {
			if d.Lease == "" {
				continue
			}
			next := ms(d.NextAt)
			var bid, kind string
			err := st.QueryRowContext(ctx, string(d.State), next, next, d.ProviderID, d.ErrorCode, d.Reason, msPtr(d.SentAt), msPtr(d.DeliveredAt),
				ms(nonEmpty(d.UpdatedAt, func() time.Time { return now })), d.ID, d.Lease).Scan(&bid, &kind)
			if errors.Is(err, sql.ErrNoRows) {
				continue // the lease was lost: someone else holds the delivery now
			} else if err != nil {
				return fmt.Errorf("sqlite: finish delivery %s: %w", d.ID, err)
			}
			t.move(bid, notify.Kind(kind), notify.StateSending, d.State, d.Reason)
		}
		return t.apply(ctx, tx, now)
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
	return db.write(ctx, "set delivery status", func(tx *sql.Tx) error {
		var bid, kind, newReason string
		err := tx.QueryRowContext(ctx, `UPDATE deliveries SET state = ?1,
				error_code = CASE WHEN ?2 != '' THEN ?2 ELSE error_code END,
				reason = CASE WHEN ?3 != '' THEN ?3 ELSE reason END,
				delivered_at = coalesce(?4, delivered_at), updated_at = ?5
			WHERE id = ?6 AND state = 'sent'
			RETURNING broadcast_id, kind, reason`,
			string(state), errorCode, reason, delivered, ms(at), id).Scan(&bid, &kind, &newReason)
		if errors.Is(err, sql.ErrNoRows) {
			var one int
			err := tx.QueryRowContext(ctx, "SELECT 1 FROM deliveries WHERE id = ?", id).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return incident.NotFound("delivery", id)
			} else if err != nil {
				return fmt.Errorf("sqlite: set delivery status %s: %w", id, err)
			}
			return nil // not sent (yet, or any more): the receipt changes nothing
		} else if err != nil {
			return fmt.Errorf("sqlite: set delivery status %s: %w", id, err)
		}
		t := newTally()
		t.move(bid, notify.Kind(kind), notify.StateSent, state, newReason)
		return t.apply(ctx, tx, at)
	})
}

// ---- reads ----

// FindDeliveryByID implements notify.Store.
func (db *DB) FindDeliveryByID(ctx context.Context, id string) (*notify.Delivery, error) {
	d, err := scanDelivery(db.r.QueryRowContext(ctx, "SELECT "+deliveryColumns+" FROM deliveries WHERE id = ?", id))
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
	d, err := scanDelivery(db.r.QueryRowContext(ctx, "SELECT "+deliveryColumns+` FROM deliveries WHERE provider_id = ?
		ORDER BY rid DESC LIMIT 1`, providerID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.NotFound("delivery", providerID)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find delivery by provider ID: %w", err)
	}
	return d, nil
}

// FindDeliveries implements notify.Store.
func (db *DB) FindDeliveries(ctx context.Context, f notify.DeliveryFilter) ([]*notify.Delivery, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where, args = append(where, cond), append(args, v) }
	if f.PageID != "" {
		add("page_id = ?", f.PageID)
	}
	if f.BroadcastID != "" {
		add("broadcast_id = ?", f.BroadcastID)
	}
	if f.IncidentID != "" {
		add("incident_id = ?", f.IncidentID)
	}
	if f.RecipientID != "" {
		add("recipient_id = ?", f.RecipientID)
	}
	if f.Kind != "" {
		add("kind = ?", string(f.Kind))
	}
	if f.Address != "" {
		add("address = ?", f.Address)
	}
	if !f.Since.IsZero() {
		add("created_at >= ?", ms(f.Since))
	}
	if len(f.States) > 0 {
		where = append(where, "state IN ("+placeholders(len(f.States))+")")
		for _, s := range f.States {
			args = append(args, string(s))
		}
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := db.r.QueryContext(ctx, "SELECT "+deliveryColumns+" FROM deliveries"+cond+" ORDER BY created_at DESC, rid DESC LIMIT ?",
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
