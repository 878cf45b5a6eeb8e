package complaint

import (
	"context"
	"errors"
	"time"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// Filter selects complaints, newest CreatedAt first (see DueBefore).
// Zero fields select everything; every field set must match.
type Filter struct {
	PageID     string  // "": every page (the sweep's reads)
	States     []State // any of
	Open       bool    // only open ones (new … waiting_on_customer)
	IncidentID string  // tagged to it
	Untagged   bool    // only those waiting in triage
	Owner      string
	Unassigned bool   // only those nobody owns
	Repeat     bool   // only repeats
	ContactKey string // Contact.Key(): one customer's or contact's complaints
	Channel    Channel
	Category   Category
	Since      time.Time // CreatedAt ≥ Since
	Until      time.Time // CreatedAt < Until
	// DueBefore selects open complaints whose DueAt is set and before it
	// (AtRiskBefore: the at-risk ones), and orders them soonest due first
	// (ties by ID, ascending) instead of newest first.
	DueBefore time.Time
	Limit     int // 0: no limit
	Offset    int
	// SkipCount leaves the total uncounted (FindComplaints returns -1
	// for it): a caller that knows it from the tallies (the agents'
	// queue) spares the engine counting a long selection.
	SkipCount bool
}

// Store keeps complaints and their timelines. store/sqlite and
// store/redis implement it, and store/storetest holds the conformance
// suite both pass. Reads return incident.ENOTFOUND for a missing object.
type Store interface {
	// SaveComplaint writes c and appends entries to its timeline,
	// atomically. The stored complaint's version must be c.Version-1 (none
	// stored when c.Version is 1) on c's page; otherwise nothing is written
	// and it returns ECONFLICT (also for an ID another page has). An entry
	// whose ExternalID is already stored on the page (a provider's retry),
	// or that two entries share, also returns ECONFLICT, writing nothing.
	// Every entry must name c and its page (EINVALID otherwise). Times are
	// stored in UTC at millisecond precision; the caller's values are not
	// changed.
	SaveComplaint(ctx context.Context, c *Complaint, entries []*Entry) error
	// SaveComplaintQueued is SaveComplaint that also queues ds, deliveries
	// outside any plan (as queue.Store.EnqueueDeliveries: an ID that
	// exists is skipped), in the same transaction: the complaint, its
	// entries and the deliveries are all written, or none is. An engine
	// that cannot write both atomically (Redis Cluster, where the queue
	// and the page live in different slots) returns ErrNotAtomic and
	// writes nothing; the caller then saves and queues in turn.
	SaveComplaintQueued(ctx context.Context, c *Complaint, entries []*Entry, ds []*queue.Delivery) error
	// ComplaintTally returns a page's tally counters of scope (TallyScope
	// of an incident, or TallyUntagged): the sum of the TallyLines of the
	// page's complaints as last saved, which every save moves in its own
	// write. Non-zero counters only; nothing (no error) for an empty scope.
	ComplaintTally(ctx context.Context, pageID, scope string) (Tally, error)
	// FindComplaintByID returns ENOTFOUND when there is none.
	FindComplaintByID(ctx context.Context, id string) (*Complaint, error)
	// FindComplaintsByRef returns the page's complaints whose reference
	// (NewRef of the ID) is ref, newest first: normally one, as a
	// reference is eight characters of a random ID. ref must be a valid
	// reference (RefPrefix).
	FindComplaintsByRef(ctx context.Context, pageID, ref string) ([]*Complaint, error)
	// FindComplaints returns the complaints matching f, newest CreatedAt
	// first (ties by ID, descending, as incidents; see Filter.DueBefore),
	// and how many match before Limit and Offset (-1 with SkipCount).
	FindComplaints(ctx context.Context, f Filter) ([]*Complaint, int, error)
	// FindEntries returns a complaint's timeline, oldest first (ties in
	// the order they were saved), or ENOTFOUND when there is no such
	// complaint.
	FindEntries(ctx context.Context, complaintID string) ([]*Entry, error)
	// FindEntryByExternalID returns the entry a provider's message became,
	// or ENOTFOUND.
	FindEntryByExternalID(ctx context.Context, pageID, externalID string) (*Entry, error)
	// FindComplaintsToCheck returns up to limit (≤ 0: all) complaints of
	// every page whose CheckAt is set and ≤ now, earliest first (ties by
	// ID, ascending).
	FindComplaintsToCheck(ctx context.Context, now time.Time, limit int) ([]*Complaint, error)
	// NextTurn increments the counter named key and returns its new value
	// (1 the first time), atomically across nodes: round-robin assignment.
	NextTurn(ctx context.Context, key string) (int64, error)
	// Lease takes or renews the lease name for holder until until, and
	// reports false while another holder's lease lasts beyond now (a lease
	// ends at its until: at now == until another may take it): on Redis
	// every node runs the same schedule, and the lease decides which works.
	// Expiry is judged by the now given, not by the engine's clock.
	Lease(ctx context.Context, name, holder string, now, until time.Time) (bool, error)
	// ClaimContact takes the intake claim on a page's contact (the key is
	// Contact.Key) for holder until until, and reports false while
	// another holder's claim lasts beyond now (judged, as Lease, by the
	// now given; a claim ends at its until). Receive holds it, on every
	// node, while it decides whether a message continues the contact's
	// open complaint or opens one: messages that arrive together make one
	// complaint. Each contact's claim is its own.
	ClaimContact(ctx context.Context, pageID, key, holder string, now, until time.Time) (bool, error)
	// ReleaseContact ends holder's claim on the contact at once, and
	// leaves nothing stored for it; another holder's claim is left as it
	// is (one that took over an expired claim).
	ReleaseContact(ctx context.Context, pageID, key, holder string) error
}

// ErrNotAtomic is SaveComplaintQueued's answer where the engine cannot
// queue deliveries in a complaint's save.
var ErrNotAtomic = errors.New("complaint: this store cannot queue deliveries in a complaint's save")

// CheckSave checks what SaveComplaint is given, the same in every engine:
// entries must name the complaint and its page (EINVALID), and one save
// may not carry an ExternalID twice (ECONFLICT).
func CheckSave(c *Complaint, entries []*Entry) error {
	seen := map[string]bool{}
	for _, e := range entries {
		if e == nil || e.ComplaintID != c.ID || e.PageID != c.PageID {
			return incident.Invalid("entry.complaint_id", "an entry saved with complaint %s must name it and its page", c.ID)
		}
		if e.ExternalID != "" {
			if seen[e.ExternalID] {
				return incident.Errorf(incident.ECONFLICT, "message %q is already recorded", e.ExternalID)
			}
			seen[e.ExternalID] = true
		}
	}
	return nil
}

// WithTimes returns a copy of c with every time passed through round:
// the engines store times in UTC at millisecond precision, and give back
// what they store.
func (c *Complaint) WithTimes(round func(time.Time) time.Time) *Complaint {
	v := *c
	ptr := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := round(*t)
		return &u
	}
	tag := func(t *Tag) *Tag {
		if t == nil {
			return nil
		}
		w := *t
		w.At = round(t.At)
		return &w
	}
	v.Tag, v.Suggestion = tag(c.Tag), tag(c.Suggestion)
	v.FirstAnswerDue, v.ResolveDue, v.CheckAt = round(c.FirstAnswerDue), round(c.ResolveDue), round(c.CheckAt)
	v.LastMessageAt, v.CreatedAt, v.UpdatedAt = round(c.LastMessageAt), round(c.CreatedAt), round(c.UpdatedAt)
	v.AckedAt, v.FirstAnswerAt = ptr(c.AckedAt), ptr(c.FirstAnswerAt)
	v.ResolvedAt, v.ClosedAt = ptr(c.ResolvedAt), ptr(c.ClosedAt)
	return &v
}
