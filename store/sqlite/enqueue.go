package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// existingChunk is how many IDs one existence query asks about: 500 keys,
// given twice, stays well under SQLite's 32766-variable limit, and one
// statement per chunk makes the per-statement cost (through database/sql
// and the driver) vanish next to the per-row one.
const existingChunk = 500

// rowParams is the number of bound values per inserted row.
const rowParams = 18

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
	created_at, updated_at, error_code, reason, attempts, lease, reply) SELECT * FROM (VALUES `, n, rowParams) + ") WHERE column1 IS NOT NULL"
}

// insertIDsSQL returns the INSERT of up to n (k, rid) pairs into
// delivery_ids_new (pairs with a NULL rid are padding).
func insertIDsSQL(n int) string {
	return valuesSQL("INSERT OR IGNORE INTO delivery_ids_new (k, rid) SELECT * FROM (VALUES ", n, 2) + ") WHERE column2 IS NOT NULL"
}

// chunkSQL writes one delivery chunk.
const chunkSQL = `INSERT INTO delivery_chunks (grp, kind, state, n, taken, first_rid, last_rid, next_at, created_at, updated_at,
	rcpt_lo, rcpt_hi, data) VALUES (?, ?, 'pending', ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)`

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

const reserveRIDsSQL = "UPDATE delivery_rids SET next = next + ? RETURNING next - ?"

// reserveRIDs hands out n consecutive rids and returns the first.
func (db *DB) reserveRIDs(ctx context.Context, tx *sql.Tx, n int) (int64, error) {
	var first int64
	if err := db.txRow(ctx, tx, reserveRIDsSQL, n, n).Scan(&first); err != nil {
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
		size := sizeFor(rowSizes, len(chunk))
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
				r.attempts, r.token, boolInt(d.MessageKind.IsReply()))
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
	if err := db.txRow(ctx, tx, idsWaitingSQL, len(rs)).Scan(&waiting); err != nil {
		return fmt.Errorf("sqlite: insert delivery IDs: %w", err)
	}
	if waiting >= db.mergeEvery {
		return mergeIDs(ctx, tx)
	}
	return nil
}

const idsWaitingSQL = "UPDATE delivery_ids_merged SET waiting = waiting + ? RETURNING waiting"

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
	groups, err := db.groupIDs(ctx, tx, ds)
	if err != nil {
		return err
	}
	first, err := db.reserveRIDs(ctx, tx, len(rs))
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
		var err error
		created, err = db.enqueue(ctx, tx, ds)
		return err
	})
	if err != nil {
		return 0, err
	}
	return created, nil
}

// enqueue writes EnqueueDeliveries' ds (checked: checkDeliveries) in tx
// and returns how many were new; the statements must be prepared.
func (db *DB) enqueue(ctx context.Context, tx *sql.Tx, ds []*queue.Delivery) (int, error) {
	fresh, err := db.freshDeliveries(ctx, tx, ds, nil)
	if err != nil {
		return 0, err
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
		if waiting, err = db.waitingIDs(ctx, tx, "", "update_id IN ("+placeholders(len(updates))+")", updates...); err != nil {
			return 0, fmt.Errorf("sqlite: enqueue deliveries: %w", err)
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
		return 0, err
	}
	if err := db.writeRows(ctx, tx, rs); err != nil {
		return 0, err
	}
	return len(rs), db.applyTally(ctx, tx, t, now)
}
