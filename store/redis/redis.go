package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/incident"
)

// DefaultPrefix starts every key herald writes, so that one Redis can hold
// other data (and tests can isolate themselves with a prefix of their own).
const DefaultPrefix = "herald"

// DefaultAuditLimit caps each page's audit log (and the global one): the
// oldest entries are trimmed beyond it, so the log cannot grow without bound.
const DefaultAuditLimit = 100_000

// DB is the Redis engine's store: the system of record lives in Redis, so
// several herald nodes can serve the same pages. It implements
// incident.Store; see doc.go for the key layout and the atomicity rules.
type DB struct {
	client     goredis.UniversalClient
	ownsClient bool
	keys       keyspace
	now        func() time.Time
	auditLimit int
	// perSlot is true on Redis Cluster: a Change then runs as one script per
	// hash slot instead of one script for everything.
	perSlot bool

	// plans holds the ID sets of the plans this process holds leases on
	// (planids.go).
	plans planSets

	// addrBuilt holds the IDs of the pages whose customer address index
	// this process knows is complete (page ID → struct{}); addrBuilding a
	// one-slot semaphore per page, so one caller builds while the others
	// wait. addrBatch overrides the build's HSCAN count (tests).
	addrBuilt    sync.Map
	addrBuilding sync.Map
	addrBatch    int
	// nameBuilt and nameBuilding do the same for the name index
	// (ensureCustomerNames), whose build uses addrBatch too.
	nameBuilt    sync.Map
	nameBuilding sync.Map
	// importChunk overrides defaultImportChunk (tests).
	importChunk int

	closeOnce sync.Once
	closeErr  error
}

var _ incident.Store = (*DB)(nil)

// Option configures a DB.
type Option func(*DB)

// WithPrefix sets the key prefix (default DefaultPrefix). It must not
// contain '{' or '}', which would break the hash tags.
func WithPrefix(prefix string) Option { return func(db *DB) { db.keys.prefix = prefix } }

// WithClock sets the clock used for idempotency-key expiry (default time.Now).
func WithClock(now func() time.Time) Option { return func(db *DB) { db.now = now } }

// WithAuditLimit caps each audit log at n entries; 0 keeps everything.
func WithAuditLimit(n int) Option { return func(db *DB) { db.auditLimit = n } }

// Open connects to the Redis at url (see ParseAddress: one Redis, a
// Sentinel group or a Cluster), checks that it answers, and returns the
// store. Close closes the connection.
func Open(ctx context.Context, url string, opts ...Option) (*DB, error) {
	addr, err := ParseAddress(url)
	if err != nil {
		return nil, err
	}
	return OpenAddress(ctx, addr, opts...)
}

// OpenAddress is Open for a parsed address.
func OpenAddress(ctx context.Context, addr Address, opts ...Option) (*DB, error) {
	client := addr.NewClient()
	db, err := New(client, opts...)
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	db.ownsClient = true
	if err := db.Ping(ctx); err != nil {
		_ = client.Close()
		return nil, err
	}
	if err := db.Upgrade(ctx); err != nil {
		_ = client.Close()
		return nil, err
	}
	return db, nil
}

// New returns a store over an existing client, which may be a
// *goredis.ClusterClient. Close does not close a client passed to New.
func New(client goredis.UniversalClient, opts ...Option) (*DB, error) {
	db := &DB{client: client, keys: keyspace{prefix: DefaultPrefix}, now: time.Now, auditLimit: DefaultAuditLimit}
	for _, o := range opts {
		o(db)
	}
	if db.keys.prefix == "" || strings.ContainsAny(db.keys.prefix, "{}") {
		return nil, fmt.Errorf("redis: invalid key prefix %q: must be non-empty, without braces", db.keys.prefix)
	}
	if db.auditLimit < 0 {
		return nil, fmt.Errorf("redis: audit limit %d: must not be negative", db.auditLimit)
	}
	_, db.perSlot = client.(*goredis.ClusterClient)
	return db, nil
}

// Client returns the underlying client, for the engine's other parts
// (queues, events) that share the connection.
func (db *DB) Client() goredis.UniversalClient { return db.client }

// Prefix returns the key prefix.
func (db *DB) Prefix() string { return db.keys.prefix }

// Ping implements incident.Store.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: ping: %w", err)
	}
	return nil
}

// ProbeWrite implements incident.Store: a SET with a short expiry, which
// a read-only replica (READONLY), a full Redis under noeviction (OOM) or
// one that cannot persist (MISCONF) refuses; and the upgrades hash, which
// Open writes and nothing deletes, still there. A Redis that restarted
// without its data (no AOF, no RDB, a flush) answers and takes writes,
// while every page, token and queue is gone: the nodes served 404s and
// refused every token with /readyz green and nothing in the log.
func (db *DB) ProbeWrite(ctx context.Context) error {
	var exists *goredis.IntCmd
	if _, err := db.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.Set(ctx, db.keys.healthProbe(), ms(db.now()), time.Minute)
		exists = p.Exists(ctx, db.keys.upgrades())
		return nil
	}); err != nil {
		return fmt.Errorf("redis: write probe: %w", err)
	}
	if exists.Val() == 0 {
		return fmt.Errorf("redis: write probe: herald's data is gone from Redis (%s is missing): was it restarted without persistence, or flushed? Restore its data, or restart herald to start afresh", db.keys.upgrades())
	}
	return nil
}

// Close implements incident.Store. It closes the client only when Open
// created it; a second Close does nothing.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		if db.ownsClient {
			db.closeErr = db.client.Close()
		}
	})
	return db.closeErr
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func msString(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// Unreachable implements incident.StoreUnreachable: besides network errors
// (incident.Unreachable), go-redis's own signs that Redis cannot be reached
// now: its pool waited in vain for a connection, the connection ended
// mid-reply, the client is closed (shutting down), or Redis answered that
// it cannot serve yet (loading its data, a Cluster or Sentinel master
// down or failing over, a replica that took over).
func (db *DB) Unreachable(err error) bool {
	if errors.Is(err, goredis.ErrPoolTimeout) || errors.Is(err, goredis.ErrPoolExhausted) || errors.Is(err, goredis.ErrClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var rerr goredis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	for _, p := range []string{"LOADING ", "MASTERDOWN ", "CLUSTERDOWN ", "TRYAGAIN ", "READONLY "} {
		if strings.HasPrefix(rerr.Error(), p) {
			return true
		}
	}
	return false
}

var _ incident.StoreUnreachable = (*DB)(nil)
