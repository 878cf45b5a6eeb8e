// Package sqlite is herald's embedded engine: the system of record in one
// SQLite file, through the pure-Go driver modernc.org/sqlite (no cgo, so the
// binary cross-compiles and ships alone).
//
// A DB holds two handles on the same file: one writer connection, through
// which every write transaction goes, and a small pool of readers. SQLite
// allows one writer at a time anyway; funnelling writes through one
// connection turns lock contention into an orderly Go-side queue, and WAL
// mode lets the readers go on reading while it writes.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/incident"

	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DefaultReaders is how many read connections Open allows; reads are short,
// and the machine herald targets has few cores.
const DefaultReaders = 4

// DB is the SQLite engine. It implements incident.Store and notify.Store.
type DB struct {
	path string
	w    *sql.DB // exactly one connection; every transaction is BEGIN IMMEDIATE
	r    *sql.DB // read-only pool

	// ckpt is the checkpointer's connection (see checkpoints).
	ckpt     *sql.DB
	stopCkpt context.CancelFunc
	ckptDone chan struct{}
	ckptLast atomic.Pointer[[2]int64] // the last checkpoint's frames in the log, and copied

	// minFree is the free space below which ProbeWrite fails (see
	// MinFreeBytes); tests change it.
	minFree uint64

	// Now is the clock for expiry checks (idempotency keys); tests inject one.
	Now func() time.Time

	// stmts are the writer's hot statements (the queue's, a complaint's
	// save), prepared once on the writer connection (prepare) and reused
	// by every transaction on it.
	stmtMu sync.Mutex
	stmts  *queueStmts

	mergeEvery int64 // see defaultMergeEvery; tests lower it

	// readStmts caches read statements run once per delivery or receipt
	// (see readRow), by their SQL.
	readStmts sync.Map

	// ids is the delivery ID filter (see idFilter); only write
	// transactions use it, and they run one at a time on the writer.
	ids *idFilter

	// plans holds the ID sets of the plans being planned (see planIDs).
	plans planSets

	groupMu sync.Mutex
	groups  map[int64]group // delivery groups by ID (they never change)

	saves saveGroup // complaint saves waiting for their group commit

	closeOnce sync.Once
	closeErr  error
}

var _ incident.Store = (*DB)(nil)

// pragmas are set on every connection through the DSN, so a connection the
// pool opens later gets them too (PRAGMAs are per connection, except
// journal_mode, which is stored in the file).
var pragmas = []string{
	// busy_timeout: wait up to 5s for another connection's (or another
	// process's) lock instead of failing at once with SQLITE_BUSY. The driver
	// applies it first, so the pragmas below cannot fail on a busy file.
	"busy_timeout(5000)",
	// journal_mode=WAL: readers do not block the writer and the writer does
	// not block readers; a commit appends to the log instead of rewriting
	// pages, which is also faster for herald's many small transactions.
	"journal_mode(WAL)",
	// synchronous=NORMAL: in WAL mode this is still safe against corruption;
	// a power loss can only lose the last commits not yet checkpointed, and it
	// saves an fsync per commit. (An OS crash, not a process crash.)
	"synchronous(NORMAL)",
	// foreign_keys: SQLite leaves them off by default for compatibility;
	// herald relies on ON DELETE CASCADE to remove a page's components,
	// incidents and updates with it.
	"foreign_keys(1)",
}

func dsn(path string, write bool) string {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	if write {
		// _txlock=immediate makes BeginTx issue BEGIN IMMEDIATE: the write
		// lock is taken at the start, so a transaction that reads and then
		// writes never has to upgrade a read lock, which is where SQLite
		// returns SQLITE_BUSY without waiting for busy_timeout.
		q.Set("_txlock", "immediate")
		// cache_size: 64 MiB of page cache for the writer (the default is
		// 2 MiB). Planning appends deliveries whose indexes (the delivery
		// ID, the address) take inserts at random places; once those
		// indexes outgrow the cache every insert reads and evicts pages,
		// and planning a million deliveries slows several-fold.
		q.Add("_pragma", "cache_size(-65536)")
		// wal_autocheckpoint: the checkpointer (see checkpoints) copies
		// the log back in the background; the writer checkpoints itself
		// only if the log reaches 262144 pages (1 GiB), which it does only
		// when the checkpointer falls far behind. (At the default of 1000
		// pages, a plan batch, which dirties index pages all over the file,
		// triggered a checkpoint nearly every time.)
		q.Add("_pragma", "wal_autocheckpoint(262144)")
		// temp_store=MEMORY: a multi-row INSERT or UPDATE that may fail
		// half-way keeps a statement journal of the pages it changes, so it
		// can undo itself; in a temporary file that was a write syscall per
		// page, a tenth of planning's CPU.
		q.Add("_pragma", "temp_store(MEMORY)")
	} else {
		// query_only: a read connection can never write by mistake, so the
		// single-writer rule holds by construction.
		q.Add("_pragma", "query_only(1)")
	}
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating if needed) the database file at path and applies any
// migrations it has not yet seen. path must name a file: ":memory:" would
// give the writer and the readers two different databases.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: open %q: need a plain file path", path)
	}
	db := &DB{path: path, Now: time.Now, mergeEvery: defaultMergeEvery, minFree: MinFreeBytes}
	var err error
	if db.w, err = sql.Open("sqlite", dsn(path, true)); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.w.SetMaxOpenConns(1)
	db.w.SetMaxIdleConns(1)
	db.w.SetConnMaxLifetime(0)
	db.w.SetConnMaxIdleTime(0)
	// The writer's first connection creates the file and switches it to WAL
	// before any reader opens it (query_only readers cannot change the
	// journal mode).
	if err := db.migrate(ctx); err != nil {
		db.w.Close()
		return nil, err
	}
	if db.r, err = sql.Open("sqlite", dsn(path, false)); err != nil {
		db.w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.r.SetMaxOpenConns(DefaultReaders)
	db.r.SetMaxIdleConns(DefaultReaders)
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if db.ckpt, err = sql.Open("sqlite", dsn(path, false)+"&_pragma=query_only(0)"); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.ckpt.SetMaxOpenConns(1)
	ckptCtx, stop := context.WithCancel(context.Background())
	db.stopCkpt = stop
	db.ckptDone = make(chan struct{})
	go db.checkpoints(ckptCtx)
	return db, nil
}

// CheckpointEvery is how often the checkpointer copies the log back into
// the database file.
const CheckpointEvery = time.Second

// checkpoints copies the write-ahead log back into the database file every
// CheckpointEvery, on a connection of its own, until ctx ends. A
// checkpoint ends with an fsync of the file, which took 100–300 ms under
// a complaint storm: run by the writer after a commit (SQLite's automatic
// checkpoint), it held the one writer connection that long every few
// seconds, and every save, claim and finish waited. A PASSIVE checkpoint
// on another connection runs beside the writer, which never waits for it.
func (db *DB) checkpoints(ctx context.Context) {
	defer close(db.ckptDone)
	t := time.NewTicker(CheckpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// An error (another checkpoint running, the file going away) is
		// left to the next tick; the writer's own limit is the backstop.
		var busy, log, copied int64
		if err := db.ckpt.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &copied); err == nil {
			db.ckptLast.Store(&[2]int64{log, copied})
		}
	}
}

// queueStmts are the delivery queue's statements that run per batch.
type queueStmts struct {
	insertRows []*sql.Stmt  // insertRowsSQL for each of rowSizes
	insertIDs  []*sql.Stmt  // insertIDsSQL for each of rowSizes
	existing   *sql.Stmt    // existingIDsSQL(existingChunk)
	chunk      *sql.Stmt    // chunkSQL
	claim      [2]*sql.Stmt // claimSQL(0) and claimSQL(1): the broadcast's rows and the replies'
	status     *sql.Stmt    // statusSQL
	exists     *sql.Stmt    // existsSQL
	count      *sql.Stmt    // countSQL
	reason     *sql.Stmt    // reasonSQL
	touch      *sql.Stmt    // touchSQL
	times      *sql.Stmt    // timesSQL
	finish     []*sql.Stmt  // finishSQL for each of finishSizes

	// A complaint's save (complaints.go), which every inbound complaint
	// makes: parsing them cost more than running them.
	complaintVersion   *sql.Stmt   // complaintVersionSQL
	complaintExternal  *sql.Stmt   // externalSQL
	complaintUpsert    *sql.Stmt   // complaintUpsertSQL
	complaintEntries   []*sql.Stmt // insertEntriesSQL for each of entrySizes
	complaintTally     *sql.Stmt   // complaintTallySQL
	complaintTallyDrop *sql.Stmt   // complaintTallyDropSQL

	// bySQL holds smallSQL, prepared, by its text (see txRow).
	bySQL map[string]*sql.Stmt
}

// smallSQL are statements every write transaction that queues deliveries
// runs once or twice (one complaint's acknowledgement is such a
// transaction): parsing them again each time cost more than the rest of
// a small enqueue.
var smallSQL = []string{dataVersionSQL, reserveRIDsSQL, idsWaitingSQL, groupSelectSQL, groupInsertSQL, lastEntrySQL,
	waitingChunksSQL("update_id IN (?)"), waitingChunksSQL("broadcast_id = ?")}

// txRow runs a one-row query in tx, as the statement prepared for it when
// it is one of smallSQL.
func (db *DB) txRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if db.stmts != nil {
		if st := db.stmts.bySQL[query]; st != nil {
			return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
		}
	}
	return tx.QueryRowContext(ctx, query, args...)
}

// txQuery is txRow for a query of many rows.
func (db *DB) txQuery(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	if db.stmts != nil {
		if st := db.stmts.bySQL[query]; st != nil {
			return tx.StmtContext(ctx, st).QueryContext(ctx, args...)
		}
	}
	return tx.QueryContext(ctx, query, args...)
}

func (q *queueStmts) close() error {
	var errs []error
	all := []*sql.Stmt{q.existing, q.chunk, q.claim[0], q.claim[1], q.status, q.exists, q.count, q.reason, q.touch, q.times,
		q.complaintVersion, q.complaintExternal, q.complaintUpsert, q.complaintTally, q.complaintTallyDrop}
	for _, st := range q.bySQL {
		all = append(all, st)
	}
	for _, st := range append(append(append(append(all, q.insertRows...), q.insertIDs...), q.finish...), q.complaintEntries...) {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// prepare prepares the queue's statements the first time it is called.
// Call it before db.write, never inside: preparing needs the writer
// connection, which a transaction holds (tx.StmtContext then reuses the
// statement on that connection as it is).
func (db *DB) prepare(ctx context.Context) error {
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	if db.stmts != nil {
		return nil
	}
	q := &queueStmts{}
	var err error
	for _, p := range []struct {
		st  **sql.Stmt
		sql string
	}{{&q.existing, existingIDsSQL(existingChunk)}, {&q.chunk, chunkSQL}, {&q.status, statusSQL}, {&q.exists, existsSQL},
		{&q.count, countSQL}, {&q.reason, reasonSQL}, {&q.touch, touchSQL}, {&q.times, timesSQL}} {
		if *p.st, err = db.w.PrepareContext(ctx, p.sql); err != nil {
			q.close()
			return fmt.Errorf("sqlite: prepare delivery insert: %w", err)
		}
	}
	for _, p := range []struct {
		st  **sql.Stmt
		sql string
	}{{&q.complaintVersion, complaintVersionSQL}, {&q.complaintExternal, externalSQL}, {&q.complaintUpsert, complaintUpsertSQL},
		{&q.complaintTally, complaintTallySQL}, {&q.complaintTallyDrop, complaintTallyDropSQL}} {
		if *p.st, err = db.w.PrepareContext(ctx, p.sql); err != nil {
			q.close()
			return fmt.Errorf("sqlite: prepare complaint save: %w", err)
		}
	}
	for _, n := range entrySizes {
		st, err := db.w.PrepareContext(ctx, insertEntriesSQL(n))
		if err != nil {
			q.close()
			return fmt.Errorf("sqlite: prepare complaint save: %w", err)
		}
		q.complaintEntries = append(q.complaintEntries, st)
	}
	q.bySQL = map[string]*sql.Stmt{}
	for _, query := range smallSQL {
		st, err := db.w.PrepareContext(ctx, query)
		if err != nil {
			q.close()
			return fmt.Errorf("sqlite: prepare: %w", err)
		}
		q.bySQL[query] = st
	}
	for r := range q.claim {
		if q.claim[r], err = db.w.PrepareContext(ctx, claimSQL(r)); err != nil {
			q.close()
			return fmt.Errorf("sqlite: prepare claim: %w", err)
		}
	}
	for _, n := range rowSizes {
		for _, p := range []struct {
			list *[]*sql.Stmt
			sql  string
		}{{&q.insertRows, insertRowsSQL(n)}, {&q.insertIDs, insertIDsSQL(n)}} {
			st, err := db.w.PrepareContext(ctx, p.sql)
			if err != nil {
				q.close()
				return fmt.Errorf("sqlite: prepare delivery insert: %w", err)
			}
			*p.list = append(*p.list, st)
		}
	}
	for _, n := range finishSizes {
		st, err := db.w.PrepareContext(ctx, finishSQL(n))
		if err != nil {
			q.close()
			return fmt.Errorf("sqlite: prepare finish: %w", err)
		}
		q.finish = append(q.finish, st)
	}
	db.stmts = q
	return nil
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// SQL returns the writer handle: a single connection whose transactions
// begin IMMEDIATE. Other parts of the embedded engine (job queues) use it
// for their own tables. Keep its transactions short, and never call a DB
// method that writes while holding one: it would wait for itself.
func (db *DB) SQL() *sql.DB { return db.w }

// ReadSQL returns the read-only connection pool.
func (db *DB) ReadSQL() *sql.DB { return db.r }

// Ping implements incident.Store.
func (db *DB) Ping(ctx context.Context) error {
	for _, h := range []*sql.DB{db.w, db.r} {
		var one int
		if err := h.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			return fmt.Errorf("sqlite: ping: %w", err)
		}
	}
	return nil
}

// MinFreeBytes is the free space on the database's file system below
// which ProbeWrite fails: /readyz turns red before the disk is full.
const MinFreeBytes = 8 << 20

// ProbeWrite implements incident.Store: the file system has MinFreeBytes
// free, and the one row of health_probe is rewritten through the writer,
// so a commit has to reach the WAL. The free space comes first: the row
// fits in WAL pages written before, so on a full disk the probe went on
// succeeding while imports and deliveries' outcomes were refused.
func (db *DB) ProbeWrite(ctx context.Context) error {
	if free, ok := freeBytes(filepath.Dir(db.path)); ok && free < db.minFree {
		return fmt.Errorf("sqlite: write probe: %s has %d bytes free, under the %d it keeps for writes", filepath.Dir(db.path), free, db.minFree)
	}
	if _, err := db.w.ExecContext(ctx, `INSERT INTO health_probe (id, at) VALUES (1, ?)
		ON CONFLICT (id) DO UPDATE SET at = excluded.at`, ms(db.Now())); err != nil {
		return fmt.Errorf("sqlite: write probe: %w", err)
	}
	return nil
}

// Close implements incident.Store. Closing twice is harmless.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		var errs []error
		if db.stopCkpt != nil {
			db.stopCkpt()
			<-db.ckptDone
			errs = append(errs, db.ckpt.Close())
		}
		db.stmtMu.Lock()
		if db.stmts != nil {
			errs = append(errs, db.stmts.close())
		}
		db.stmtMu.Unlock()
		db.readStmts.Range(func(_, st any) bool {
			errs = append(errs, st.(*sql.Stmt).Close())
			return true
		})
		if db.r != nil {
			errs = append(errs, db.r.Close())
		}
		errs = append(errs, db.w.Close())
		db.closeErr = errors.Join(errs...)
	})
	return db.closeErr
}

// migration is one embedded file, applied once in version order.
type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("sqlite: migration %s: name must start with a number", base)
		}
		b, err := migrations.ReadFile(name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("sqlite: migrations %s and %s share a version", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// migrate applies the migrations not yet recorded in schema_migrations,
// each in its own transaction with its record, so a failed one leaves the
// schema as the previous one left it.
func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("sqlite: create schema_migrations: %w", err)
	}
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := db.applyMigration(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) applyMigration(ctx context.Context, m migration) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migration %s: %w", m.name, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = ?", m.version).Scan(&n); err != nil {
		return fmt.Errorf("sqlite: migration %s: %w", m.name, err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("sqlite: migration %s: %w", m.name, err)
	}
	if m.version == tallyMigration || m.version == queueMigration {
		// The tallies of the complaints stored before it, in its transaction.
		if err := retallyComplaints(ctx, tx); err != nil {
			return fmt.Errorf("sqlite: migration %s: %w", m.name, err)
		}
	}
	if m.version == nameMigration {
		// The name words of the customers stored before it (folding needs Go).
		if err := backfillCustomerNames(ctx, tx); err != nil {
			return fmt.Errorf("sqlite: migration %s: %w", m.name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
		m.version, m.name, time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("sqlite: migration %s: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: migration %s: %w", m.name, err)
	}
	return nil
}

// Migrations returns the versions recorded in schema_migrations, in order.
func (db *DB) Migrations(ctx context.Context) ([]int, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT version FROM schema_migrations ORDER BY version")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, rows.Err()
}

// readStmt returns query prepared on the read pool, preparing it the first
// time. Statements the dispatcher runs for every delivery are prepared
// once: parsing the SQL each time cost more than running it.
func (db *DB) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := db.readStmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := db.r.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := db.readStmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// readRow runs a one-row query on the read pool through readStmt. If the
// statement cannot be prepared, the plain query runs instead, and its
// error shows at Scan as any query error does.
func (db *DB) readRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := db.readStmt(ctx, query)
	if err != nil {
		return db.r.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// prepared is a queryer that runs its queries as statements prepared once
// (readStmt), in tx when it is set, else on the read pool: the reads every
// inbound complaint makes, and queries with constant SQL run once per
// request (a page of customers, a customer's grants). If a statement
// cannot be prepared, the plain query runs instead.
type prepared struct {
	db *DB
	tx *sql.Tx
}

func (p prepared) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := p.db.readStmt(ctx, query)
	switch {
	case err != nil && p.tx != nil:
		return p.tx.QueryContext(ctx, query, args...)
	case err != nil:
		return p.db.r.QueryContext(ctx, query, args...)
	case p.tx != nil:
		return p.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (p prepared) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if p.tx == nil {
		return p.db.readRow(ctx, query, args...)
	}
	st, err := p.db.readStmt(ctx, query)
	if err != nil {
		return p.tx.QueryRowContext(ctx, query, args...)
	}
	return p.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
}

// Unreachable implements incident.StoreUnreachable: the file stayed locked
// by another connection or process past busy_timeout (SQLITE_BUSY,
// SQLITE_LOCKED), or the disk refused the write (SQLITE_FULL, SQLITE_IOERR:
// full, or failing), which a later try gets past once the lock or the
// disk is freed. The transaction was rolled back: nothing was changed. Any
// other SQLite error is not a matter of waiting.
func (db *DB) Unreachable(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff { // the primary code of an extended one
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR:
		return true
	}
	return false
}

var _ incident.StoreUnreachable = (*DB)(nil)
