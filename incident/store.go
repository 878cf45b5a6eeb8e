package incident

import (
	"context"
	"time"
)

// Store is the system of record. store/sqlite and store/redis implement it,
// and store/storetest holds the conformance suite both pass.
//
// Writes go through Commit only, so every change and its audit entry, status
// history and broadcast land together or not at all. Reads return
// ENOTFOUND for a missing object and never return nil without an error.
type Store interface {
	// Commit applies c atomically. For each incident in c.Incidents the
	// stored version must be Version-1 (no stored incident when Version is
	// 1); otherwise Commit changes nothing and returns ECONFLICT. An
	// idempotency key that already exists also returns ECONFLICT.
	Commit(ctx context.Context, c *Change) error

	// FindPageByID returns ENOTFOUND when no page has the ID.
	FindPageByID(ctx context.Context, id string) (*Page, error)
	// FindPages returns every page, oldest first.
	FindPages(ctx context.Context) ([]*Page, error)

	// FindComponentByID returns ENOTFOUND when no component has the ID.
	FindComponentByID(ctx context.Context, id string) (*Component, error)
	// FindComponents returns a page's components and groups ordered by
	// Position, then CreatedAt.
	FindComponents(ctx context.Context, pageID string) ([]*Component, error)

	// FindIncidentByID returns the incident with its updates newest first,
	// or ENOTFOUND.
	FindIncidentByID(ctx context.Context, id string) (*Incident, error)
	// FindIncidents returns the incidents matching f, newest CreatedAt first,
	// with their updates, and the total count that match before Limit/Offset.
	FindIncidents(ctx context.Context, f IncidentFilter) ([]*Incident, int, error)

	// FindStatusChanges returns a page's component status history since a
	// time, oldest first, plus for each component the last change before
	// since (so a caller knows the state at the window's start).
	FindStatusChanges(ctx context.Context, pageID string, since time.Time) ([]StatusChange, error)

	// FindAudit returns audit entries matching f, newest first, and the total.
	FindAudit(ctx context.Context, f AuditFilter) ([]*AuditEntry, int, error)

	// FindBroadcasts returns the outbox rows written for an incident, oldest first.
	FindBroadcasts(ctx context.Context, incidentID string) ([]*Broadcast, error)

	// FindTokenByHash returns ENOTFOUND when no token has the hash.
	FindTokenByHash(ctx context.Context, hash string) (*Token, error)
	// FindTokens returns every token, oldest first.
	FindTokens(ctx context.Context) ([]*Token, error)
	// TouchToken records a token's use; it is not audited.
	TouchToken(ctx context.Context, id string, at time.Time) error

	// FindIdempotencyKey returns the resource a key created, or ENOTFOUND
	// (also once the key has expired).
	FindIdempotencyKey(ctx context.Context, scope, key string) (string, error)

	// Ping reports whether the store answers (for /readyz).
	Ping(ctx context.Context) error
	// ProbeWrite writes a tiny record of its own and reports whether the
	// write landed (for /readyz): a full disk, a read-only file or a
	// read-only or out-of-memory Redis fail it while Ping still answers.
	ProbeWrite(ctx context.Context) error
	// Close releases the store.
	Close() error
}

// Change is one atomic write: upserts, deletes and the records that go with them.
type Change struct {
	Pages         []*Page
	DeletePageIDs []string // also deletes the page's components, incidents and updates
	// KeepAPage makes page deletions conditional: when no page would be
	// left after the Change, Commit changes nothing and returns
	// ErrLastPage. The check and the deletion are one atomic step, so two
	// deletions of the last two pages at once cannot both succeed.
	KeepAPage          bool
	Components         []*Component
	DeleteComponentIDs []string
	Incidents          []*Incident // upserted with all their updates; see Store.Commit for versions
	DeleteIncidentIDs  []string
	// DeleteIncidentIf makes deletions conditional: an incident of
	// DeleteIncidentIDs listed here is deleted only if its stored version
	// is this one; otherwise (changed, or already gone) Commit changes
	// nothing and returns ECONFLICT.
	DeleteIncidentIf map[string]int
	StatusChanges    []StatusChange
	Audit            []*AuditEntry
	Broadcasts       []*Broadcast
	Tokens           []*Token // upserts (create, revoke)
	Idempotency      *IdempotencyKey
}

// broadcast is the change's broadcast (a declaration or an update makes
// at most one), nil when it makes none.
func (c *Change) broadcast() *Broadcast {
	if len(c.Broadcasts) == 0 {
		return nil
	}
	return c.Broadcasts[0]
}

// IdempotencyKey maps a client's Idempotency-Key to what the request created.
type IdempotencyKey struct {
	Scope string // e.g. "incident.create:<page id>"
	Key   string
	// ResourceID is what the request created; the Service may follow it
	// with a space and a fingerprint of the request (see CreateIncident).
	// Stores keep it as an opaque string.
	ResourceID string
	ExpiresAt  time.Time
}

// IncidentFilter selects incidents. Zero fields select everything.
type IncidentFilter struct {
	PageID      string
	Maintenance *bool     // true: maintenances only; false: incidents only
	Statuses    []Status  // any of
	Since       time.Time // incidents created at or after it; zero: any time
	Limit       int       // 0: no limit
	Offset      int
}

// AuditFilter selects audit entries.
type AuditFilter struct {
	PageID   string
	ObjectID string
	Limit    int
	Offset   int
}
