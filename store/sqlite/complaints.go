package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

var _ complaint.Store = (*DB)(nil)

// ---- complaints ----

// SaveComplaint implements complaint.Store: the version check, the
// ExternalID check and every write in one transaction, which it may share
// with other saves (see saveGroup).
func (db *DB) SaveComplaint(ctx context.Context, c *complaint.Complaint, entries []*complaint.Entry) error {
	s, err := newComplaintSave(c, entries, nil)
	if err != nil {
		return err
	}
	return db.saveGrouped(ctx, s)
}

// SaveComplaintQueued implements complaint.Store: SaveComplaint and
// EnqueueDeliveries in one transaction.
func (db *DB) SaveComplaintQueued(ctx context.Context, c *complaint.Complaint, entries []*complaint.Entry, ds []*queue.Delivery) error {
	s, err := newComplaintSave(c, entries, ds)
	if err != nil {
		return err
	}
	return db.saveGrouped(ctx, s)
}

// ---- group commit ----

// A complaint storm is thousands of small saves a second, and SQLite has
// one writer: a transaction each, they queued on the write lock, and each
// paid a commit (the WAL append, the shared-memory locks) of its own.
// saveGroup commits them in groups: a save joins the queue, and one
// goroutine (started when the queue fills from empty, gone when it
// empties) takes everything queued, up to maxSaveGroup, into one write
// transaction. There is no waiting window: saves that arrive while a
// group is being written form the next group, so a lone save is written
// at once and a storm in groups as large as the writer is slow.
//
// Each save gets its own answer. Its checks (version, ExternalIDs) read
// before it writes, and a save refused by them writes nothing, so the
// others in its group go on; an error while writing (or committing)
// fails the whole group, each save with that error, and none of it is
// written.
type saveGroup struct {
	mu      sync.Mutex
	queue   []*complaintSave
	running bool
	groups  int // groups written, for tests
}

// maxSaveGroup bounds a group: its transaction holds the writer, which
// the dispatchers' claims and finishes wait for.
const maxSaveGroup = 128

// saveGrouped writes s in the next group and waits for its answer.
func (db *DB) saveGrouped(ctx context.Context, s *complaintSave) error {
	if err := db.prepare(ctx); err != nil {
		return err
	}
	s.ctx, s.done = ctx, make(chan error, 1)
	g := &db.saves
	g.mu.Lock()
	g.queue = append(g.queue, s)
	start := !g.running
	g.running = true
	g.mu.Unlock()
	if start {
		go db.writeSaveGroups()
	}
	select {
	case err := <-s.done:
		return err
	case <-ctx.Done():
		// Too late to take it back: it may be in the group being
		// written. Its answer goes unread (done is buffered).
		return ctx.Err()
	}
}

// writeSaveGroups writes groups until the queue is empty.
func (db *DB) writeSaveGroups() {
	g := &db.saves
	for {
		g.mu.Lock()
		n := min(len(g.queue), maxSaveGroup)
		if n == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		group := slices.Clone(g.queue[:n])
		g.queue = slices.Delete(g.queue, 0, n)
		g.groups++
		g.mu.Unlock()
		db.writeSaveGroup(group)
	}
}

// writeSaveGroup writes one group in one transaction and answers each
// save. The transaction's context is no caller's: one caller giving up
// must not fail the others' saves.
func (db *DB) writeSaveGroup(group []*complaintSave) {
	live := group[:0:0]
	for _, s := range group {
		if err := s.ctx.Err(); err != nil {
			s.done <- err
			continue
		}
		live = append(live, s)
	}
	if len(live) == 0 {
		return
	}
	ctx := context.Background()
	refused := make([]error, len(live))
	err := db.write(ctx, "save complaints", func(tx *sql.Tx) error {
		var ds []*queue.Delivery
		var entries []*complaint.Entry
		moves := groupTally{}
		st := db.saveStmts(ctx, tx)
		// A provider's message twice in one group (its webhook retried
		// while the first was waiting): the second is refused like one
		// already stored, instead of failing the group's INSERT.
		external := map[[2]string]bool{}
		for i, s := range live {
			if refused[i] = db.checkComplaint(ctx, st, s); refused[i] == nil {
				refused[i] = checkExternalInGroup(external, s)
			}
			if refused[i] != nil {
				continue
			}
			if err := writeComplaint(ctx, st, s, moves); err != nil {
				return err
			}
			entries = append(entries, s.entries...)
			ds = append(ds, s.ds...)
		}
		// The timeline's entries of the whole group go in a few
		// statements, after their complaints (they refer to them).
		if err := db.writeEntries(ctx, tx, entries); err != nil {
			return err
		}
		if err := db.writeTally(ctx, tx, moves); err != nil {
			return err
		}
		if len(ds) == 0 {
			return nil
		}
		_, err := db.enqueue(ctx, tx, ds)
		return err
	})
	for i, s := range live {
		if err != nil {
			s.done <- err
		} else {
			s.done <- refused[i]
		}
	}
}

// complaintSave is a complaint's save, checked and encoded before the
// transaction begins.
type complaintSave struct {
	v       *complaint.Complaint // the complaint, times as stored
	doc     string
	checkAt sql.NullInt64
	dueAt   sql.NullInt64 // an open complaint's DueAt
	tally   string        // its tally lines, joined by newlines
	was     string        // the stored complaint's (checkComplaint reads them)
	entries []*complaint.Entry
	ds      []*queue.Delivery // to queue with it

	ctx  context.Context // the caller's
	done chan error      // its answer
}

func newComplaintSave(c *complaint.Complaint, entries []*complaint.Entry, ds []*queue.Delivery) (*complaintSave, error) {
	if c == nil || c.ID == "" || c.PageID == "" {
		return nil, incident.Invalid("complaint.id", "a complaint needs an ID and a page")
	}
	if err := complaint.CheckSave(c, entries); err != nil {
		return nil, err
	}
	if err := checkDeliveries(ds); err != nil {
		return nil, err
	}
	v := c.WithTimes(func(t time.Time) time.Time { return fromMS(ms(t)) })
	doc, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("sqlite: encode complaint %s: %w", c.ID, err)
	}
	s := &complaintSave{v: v, doc: string(doc), tally: strings.Join(v.TallyLines(), "\n"), entries: entries, ds: ds}
	if !v.CheckAt.IsZero() {
		s.checkAt = sql.NullInt64{Int64: ms(v.CheckAt), Valid: true}
	}
	if due := v.DueAt(); v.Open() && !due.IsZero() {
		s.dueAt = sql.NullInt64{Int64: ms(due), Valid: true}
	}
	return s, nil
}

// The statements of a complaint's save (prepared: see queueStmts).
const (
	complaintVersionSQL = "SELECT page_id, version, tally FROM complaints WHERE id = ?"
	complaintUpsertSQL  = `INSERT INTO complaints (id, page_id, state, open, incident_id, owner, contact_key, channel,
		category, created_at, check_at, version, doc, tally, repeat, due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET state = excluded.state, open = excluded.open, incident_id = excluded.incident_id,
		owner = excluded.owner, contact_key = excluded.contact_key, channel = excluded.channel, category = excluded.category,
		created_at = excluded.created_at, check_at = excluded.check_at, version = excluded.version, doc = excluded.doc,
		tally = excluded.tally, repeat = excluded.repeat, due_at = excluded.due_at`
)

// saveTx is a group save's transaction with its statements bound to it
// once (binding one is an allocation and a lock, per statement run).
type saveTx struct {
	version, external, upsert *sql.Stmt
}

func (db *DB) saveStmts(ctx context.Context, tx *sql.Tx) saveTx {
	return saveTx{version: tx.StmtContext(ctx, db.stmts.complaintVersion), external: tx.StmtContext(ctx, db.stmts.complaintExternal),
		upsert: tx.StmtContext(ctx, db.stmts.complaintUpsert)}
}

// checkExternalInGroup refuses s when one of its provider message IDs is
// another save's of the same group (seen), and records its own.
func checkExternalInGroup(seen map[[2]string]bool, s *complaintSave) error {
	for _, e := range s.entries {
		if e.ExternalID != "" && seen[[2]string{e.PageID, e.ExternalID}] {
			return incident.Errorf(incident.ECONFLICT, "message %q is already recorded", e.ExternalID)
		}
	}
	for _, e := range s.entries {
		if e.ExternalID != "" {
			seen[[2]string{e.PageID, e.ExternalID}] = true
		}
	}
	return nil
}

// checkComplaint reads in the transaction whether s may be written: its
// version, and its ExternalIDs not yet stored. It writes nothing.
func (db *DB) checkComplaint(ctx context.Context, st saveTx, s *complaintSave) error {
	v := s.v
	var page string
	var version int
	s.was = ""
	err := st.version.QueryRowContext(ctx, v.ID).Scan(&page, &version, &s.was)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if v.Version != 1 {
			return incident.Errorf(incident.ECONFLICT, "complaint %q was deleted or never saved (expected version %d)", v.ID, v.Version-1)
		}
	case err != nil:
		return fmt.Errorf("sqlite: save complaint %s: %w", v.ID, err)
	case v.Version == 1:
		return incident.Errorf(incident.ECONFLICT, "complaint %q already exists", v.ID)
	case page != v.PageID || version != v.Version-1:
		return incident.Errorf(incident.ECONFLICT, "complaint %q was changed meanwhile (expected version %d); reload and retry", v.ID, v.Version-1)
	}
	for _, e := range s.entries {
		if e.ExternalID == "" {
			continue
		}
		var one int
		err := st.external.QueryRowContext(ctx, e.PageID, e.ExternalID).Scan(&one)
		if err == nil {
			return incident.Errorf(incident.ECONFLICT, "message %q is already recorded", e.ExternalID)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: save complaint %s: %w", v.ID, err)
		}
	}
	return nil
}

// writeComplaint writes s in tx, checked (checkComplaint), and adds how
// it moves the report's counters to moves, which the caller writes
// (writeTally) before it commits; on an error it may have written part of
// it (the caller rolls back).
func writeComplaint(ctx context.Context, st saveTx, s *complaintSave, moves groupTally) error {
	v := s.v
	if _, err := st.upsert.ExecContext(ctx, v.ID, v.PageID, string(v.State), boolInt(v.Open()),
		v.IncidentID(), v.Owner, v.Contact.Key(), string(v.Channel), string(v.Category), ms(v.CreatedAt), s.checkAt, v.Version,
		s.doc, s.tally, boolInt(v.Repeat), s.dueAt); err != nil {
		return fmt.Errorf("sqlite: save complaint %s: %w", v.ID, err)
	}
	for line, n := range tallyMoves(s.was, s.tally) {
		if n != 0 {
			moves[tallyKey{v.PageID, line}] += n
		}
	}
	return nil
}

// entryParams is the number of bound values per inserted entry.
const entryParams = 12

// entrySizes are the entry counts the timeline's INSERTs are prepared
// for, as rowSizes are for deliveries: a group's entries are cut into
// chunks of the largest and each padded with NULL rows to the smallest
// that holds it. One statement a complaint's entry (three or four a new
// complaint) was a fifth of the group save's time in the writer.
var entrySizes = []int{8, 32, 128}

// insertEntriesSQL returns the INSERT of up to n timeline entries (rows
// whose seq is NULL are padding). seq is given, one more than the last,
// in the entries' order: that order is the timeline's tie-break, and a
// multi-row INSERT … SELECT promises no order of its own. OR IGNORE, as in
// insertRowsSQL, spares a statement journal; an entry it would ignore (a
// provider message stored already: checkComplaint and the group's own
// check rule that out) shows as a short count, an error.
func insertEntriesSQL(n int) string {
	return valuesSQL(`INSERT OR IGNORE INTO complaint_entries (seq, id, complaint_id, page_id, kind, actor, channel, text,
		external_id, at, event, args) SELECT * FROM (VALUES `, n, entryParams) + ") WHERE column1 IS NOT NULL"
}

const lastEntrySQL = "SELECT coalesce(max(seq), 0) FROM complaint_entries"

// writeEntries appends entries to their complaints' timelines, in order.
func (db *DB) writeEntries(ctx context.Context, tx *sql.Tx, entries []*complaint.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	var seq int64
	if err := db.txRow(ctx, tx, lastEntrySQL).Scan(&seq); err != nil {
		return fmt.Errorf("sqlite: save complaint entries: %w", err)
	}
	largest := entrySizes[len(entrySizes)-1]
	args := make([]any, 0, min(len(entries), largest)*entryParams)
	for start := 0; start < len(entries); start += largest {
		chunk := entries[start:min(start+largest, len(entries))]
		size := sizeFor(entrySizes, len(chunk))
		args = args[:0]
		for _, e := range chunk {
			seq++
			args = append(args, seq, e.ID, e.ComplaintID, e.PageID, string(e.Kind), e.Actor, string(e.Channel), e.Text, e.ExternalID, ms(e.At),
				e.Event, entryArgs(e.Args))
		}
		for len(args) < entrySizes[size]*entryParams {
			args = append(args, nil)
		}
		if err := execRows(ctx, tx, db.stmts.complaintEntries[size], args, len(chunk)); err != nil {
			return fmt.Errorf("sqlite: save complaint entries: %w", err)
		}
	}
	return nil
}

// tallyKey is one of a page's report counters (a tally line).
type tallyKey struct{ page, line string }

// groupTally sums the counter moves of the complaints saved in one
// transaction: a storm's group of a hundred new complaints moves the
// same few counters (the total, the channel, the incident, the due
// minute) a hundred times, and one statement a counter replaces them.
type groupTally map[tallyKey]int

// writeTally writes the report's counters moved by a transaction's
// complaints (migration 0010), in one order whatever the map's.
func (db *DB) writeTally(ctx context.Context, tx *sql.Tx, moves groupTally) error {
	keys := make([]tallyKey, 0, len(moves))
	for k, n := range moves {
		if n != 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b tallyKey) int { return cmp.Or(cmp.Compare(a.page, b.page), cmp.Compare(a.line, b.line)) })
	for _, k := range keys {
		scope, field, _ := complaint.SplitTallyLine(k.line)
		if _, err := tx.StmtContext(ctx, db.stmts.complaintTally).ExecContext(ctx, k.page, scope, field, moves[k]); err != nil {
			return fmt.Errorf("sqlite: save complaints' tally: %w", err)
		}
		// A counter back at zero goes: the queue's per-minute due
		// counters would otherwise pile up for ever.
		if moves[k] < 0 {
			if _, err := tx.StmtContext(ctx, db.stmts.complaintTallyDrop).ExecContext(ctx, k.page, scope, field); err != nil {
				return fmt.Errorf("sqlite: save complaints' tally: %w", err)
			}
		}
	}
	return nil
}

// externalSQL finds a page's entry for a provider's message through the
// partial unique index: the literal test against the empty string lets
// SQLite use it.
const externalSQL = "SELECT 1 FROM complaint_entries WHERE page_id = ? AND external_id = ? AND external_id <> ''"

func scanComplaint(s scanner) (*complaint.Complaint, error) {
	var doc string
	if err := s.Scan(&doc); err != nil {
		return nil, err
	}
	var c complaint.Complaint
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		return nil, fmt.Errorf("decode complaint: %w", err)
	}
	return &c, nil
}

// FindComplaintByID implements complaint.Store.
func (db *DB) FindComplaintByID(ctx context.Context, id string) (*complaint.Complaint, error) {
	c, err := scanComplaint(db.readRow(ctx, "SELECT doc FROM complaints WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.NotFound("complaint", id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find complaint %s: %w", id, err)
	}
	return c, nil
}

// FindComplaintsByRef implements complaint.Store: a range of the primary
// key, as a reference is the start of an ID.
func (db *DB) FindComplaintsByRef(ctx context.Context, pageID, ref string) ([]*complaint.Complaint, error) {
	prefix, ok := complaint.RefPrefix(ref)
	if !ok {
		return nil, incident.Invalid("ref", "not a complaint reference (C- and eight letters or digits)")
	}
	rows, err := db.r.QueryContext(ctx, "SELECT doc FROM complaints WHERE id >= ? AND id < ? AND page_id = ?", prefix, prefix+"~", pageID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: find complaints by reference: %w", err)
	}
	defer rows.Close()
	var out []*complaint.Complaint
	for rows.Next() {
		c, err := scanComplaint(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: find complaints by reference: %w", err)
		}
		if complaint.NewRef(c.ID) == strings.ToUpper(ref) {
			out = append(out, c)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: find complaints by reference: %w", err)
	}
	complaint.SortNewestFirst(out)
	return out, nil
}

// complaintsWhere turns a filter into a WHERE clause (with its leading
// " WHERE ", or "") and its arguments.
func complaintsWhere(f complaint.Filter) (string, []any) {
	var where []string
	var args []any
	eq := func(col, v string) {
		where, args = append(where, col+" = ?"), append(args, v)
	}
	if f.PageID != "" {
		eq("page_id", f.PageID)
	}
	if len(f.States) > 0 {
		where = append(where, "state IN ("+placeholders(len(f.States))+")")
		for _, s := range f.States {
			args = append(args, string(s))
		}
	}
	if f.Open {
		where = append(where, "open = 1")
	}
	if f.IncidentID != "" {
		eq("incident_id", f.IncidentID)
	}
	if f.Untagged {
		where = append(where, "incident_id = ''")
	}
	if f.Owner != "" {
		eq("owner", f.Owner)
	}
	if f.Unassigned {
		where = append(where, "owner = ''")
	}
	if f.Repeat {
		where = append(where, "repeat = 1")
	}
	if !f.DueBefore.IsZero() {
		where, args = append(where, "due_at IS NOT NULL AND due_at < ?"), append(args, ms(f.DueBefore))
	}
	if f.ContactKey != "" {
		eq("contact_key", f.ContactKey)
	}
	if f.Channel != "" {
		eq("channel", string(f.Channel))
	}
	if f.Category != "" {
		eq("category", string(f.Category))
	}
	if !f.Since.IsZero() {
		where, args = append(where, "created_at >= ?"), append(args, ms(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, "created_at < ?"), append(args, ms(f.Until))
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// complaintsFrom names the table for f. One contact's complaints (every
// intake reads them, for attaching and for repeats) are few, but without
// statistics SQLite prefers the page's created_at index for a range on
// created_at and then walks every complaint of the page: about 9 ms a
// complaint in a storm of thousands. The contact index is named instead.
//
// The at-risk list (DueBefore) is likewise a range of the due index, read
// in its order, which SQLite without statistics would rather not use: it
// walked the page's open complaints and sorted them, 300 ms for 80 000.
func complaintsFrom(f complaint.Filter) string {
	switch {
	case f.ContactKey != "" && f.PageID != "":
		return "complaints INDEXED BY complaints_page_contact"
	case !f.DueBefore.IsZero() && f.PageID != "" && f.IncidentID != "":
		return "complaints INDEXED BY complaints_page_incident_due"
	case !f.DueBefore.IsZero() && f.PageID != "" && f.Untagged:
		return "complaints INDEXED BY complaints_page_incident_due"
	case !f.DueBefore.IsZero() && f.PageID != "":
		return "complaints INDEXED BY complaints_page_due"
	}
	return "complaints"
}

// findComplaintsSQL is FindComplaints' page query for f; its arguments
// end in LIMIT and OFFSET.
func findComplaintsSQL(f complaint.Filter) (string, []any) {
	cond, args := complaintsWhere(f)
	order := " ORDER BY created_at DESC, id DESC"
	if !f.DueBefore.IsZero() {
		order = " ORDER BY due_at, id"
	}
	return "SELECT doc FROM " + complaintsFrom(f) + cond + order + " LIMIT ? OFFSET ?",
		append(args, limitArg(f.Limit), max(f.Offset, 0))
}

// FindComplaints implements complaint.Store. A first page that is not
// full is the whole selection, and its length the count: one query, as
// every intake's reads (a contact's open complaint, its recent ones) find
// none or few. Otherwise the count and the page are read in one read
// transaction, so they agree.
func (db *DB) FindComplaints(ctx context.Context, f complaint.Filter) ([]*complaint.Complaint, int, error) {
	query, args := findComplaintsSQL(f)
	if f.Offset <= 0 || f.SkipCount {
		cs, err := findAll(ctx, prepared{db: db}, "complaints", scanComplaint, query, args...)
		if err != nil {
			return nil, 0, err
		}
		if f.SkipCount {
			return cs, -1, nil
		}
		if f.Limit <= 0 || len(cs) < f.Limit {
			return cs, len(cs), nil
		}
	}
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: find complaints: %w", err)
	}
	defer tx.Rollback()
	q := prepared{db, tx}
	cond, cargs := complaintsWhere(f)
	var total int
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM "+complaintsFrom(f)+cond, cargs...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("sqlite: count complaints: %w", err)
	}
	cs, err := findAll(ctx, q, "complaints", scanComplaint, query, args...)
	if err != nil {
		return nil, 0, err
	}
	return cs, total, nil
}

const entryColumns = "id, complaint_id, page_id, kind, actor, channel, text, external_id, at, event, args"

func scanEntry(s scanner) (*complaint.Entry, error) {
	var e complaint.Entry
	var kind, ch, args string
	var at int64
	if err := s.Scan(&e.ID, &e.ComplaintID, &e.PageID, &kind, &e.Actor, &ch, &e.Text, &e.ExternalID, &at, &e.Event, &args); err != nil {
		return nil, err
	}
	e.Kind, e.Channel, e.At = complaint.EntryKind(kind), complaint.Channel(ch), fromMS(at)
	if args != "" {
		if err := json.Unmarshal([]byte(args), &e.Args); err != nil {
			return nil, fmt.Errorf("sqlite: entry %s args: %w", e.ID, err)
		}
	}
	return &e, nil
}

// entryArgs is an entry's Args as stored: a JSON object, "" for none.
func entryArgs(args map[string]string) string {
	if len(args) == 0 {
		return ""
	}
	b, _ := json.Marshal(args) // a map of strings always encodes
	return string(b)
}

// FindEntries implements complaint.Store; ENOTFOUND when there is no such
// complaint.
func (db *DB) FindEntries(ctx context.Context, complaintID string) ([]*complaint.Entry, error) {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: find entries: %w", err)
	}
	defer tx.Rollback()
	var one int
	if err := tx.QueryRowContext(ctx, "SELECT 1 FROM complaints WHERE id = ?", complaintID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
		return nil, incident.NotFound("complaint", complaintID)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find entries: %w", err)
	}
	return findAll(ctx, tx, "entries", scanEntry, "SELECT "+entryColumns+" FROM complaint_entries WHERE complaint_id = ? ORDER BY at, seq", complaintID)
}

// findEntryByExternalSQL reads an entry through complaint_entries_external.
const findEntryByExternalSQL = "SELECT " + entryColumns + " FROM complaint_entries WHERE page_id = ? AND external_id = ? AND external_id <> ''"

// FindEntryByExternalID implements complaint.Store.
func (db *DB) FindEntryByExternalID(ctx context.Context, pageID, externalID string) (*complaint.Entry, error) {
	e, err := scanEntry(db.readRow(ctx, findEntryByExternalSQL, pageID, externalID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incident.NotFound("complaint entry", externalID)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: find entry by external ID: %w", err)
	}
	return e, nil
}

// toCheckSQL reads the due complaints through the partial index
// complaints_check.
const toCheckSQL = "SELECT doc FROM complaints WHERE check_at IS NOT NULL AND check_at <= ? ORDER BY check_at, id LIMIT ?"

// FindComplaintsToCheck implements complaint.Store.
func (db *DB) FindComplaintsToCheck(ctx context.Context, now time.Time, limit int) ([]*complaint.Complaint, error) {
	return findAll(ctx, db.r, "complaints to check", scanComplaint, toCheckSQL, ms(now), limitArg(limit))
}

// NextTurn implements complaint.Store: one upsert, counted by the writer.
func (db *DB) NextTurn(ctx context.Context, key string) (int64, error) {
	var n int64
	err := db.write(ctx, "next turn", func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO counters (name, value) VALUES (?, 1)
			ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value`, key).Scan(&n); err != nil {
			return fmt.Errorf("sqlite: next turn: %w", err)
		}
		return nil
	})
	return n, err
}

// Lease implements complaint.Store: the lease is taken when there is none,
// when it has ended (until ≤ now), or when holder already has it.
func (db *DB) Lease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	ok := false
	err := db.write(ctx, "lease", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO leases (name, holder, until) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
			WHERE leases.holder = excluded.holder OR leases.until <= ?`, name, holder, ms(until), ms(now))
		if err != nil {
			return fmt.Errorf("sqlite: lease %s: %w", name, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: lease %s: %w", name, err)
		}
		ok = n == 1
		return nil
	})
	return ok, err
}

// contactClaim is the leases row name of a contact's intake claim.
func contactClaim(pageID, key string) string { return "contact\x00" + pageID + "\x00" + key }

// ClaimContact implements complaint.Store: a row of leases, taken as
// Lease takes one.
func (db *DB) ClaimContact(ctx context.Context, pageID, key, holder string, now, until time.Time) (bool, error) {
	return db.Lease(ctx, contactClaim(pageID, key), holder, now, until)
}

// ReleaseContact implements complaint.Store: the row is deleted, so
// contacts leave no rows behind.
func (db *DB) ReleaseContact(ctx context.Context, pageID, key, holder string) error {
	return db.write(ctx, "release contact", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, contactClaim(pageID, key), holder); err != nil {
			return fmt.Errorf("sqlite: release contact: %w", err)
		}
		return nil
	})
}
