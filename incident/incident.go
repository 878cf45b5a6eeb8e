package incident

import (
	"encoding/json"
	"strings"
	"sync"
	"time"
)

// Page is one public status page (one per brand or client company).
type Page struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	URL       string   `json:"url"`       // public base URL, e.g. https://status.example.com
	TimeZone  string   `json:"time_zone"` // IANA name, e.g. Etc/UTC or Europe/Budapest
	Languages []string `json:"languages"` // first is the default; subset of en, hu, pl, hr
	Hosts     []string `json:"hosts"`     // host names this page answers on; empty: the default page answers
	// Logo is the page's logo as a data: URI (PNG, JPEG, GIF or WebP, at
	// most MaxLogoBytes), shown in the page's header; "" for none. Stored
	// inline so both engines keep it with the page and every node serves it.
	Logo      string    `json:"logo,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Location returns the page's time zone, UTC when the name is unknown.
func (p *Page) Location() *time.Location { return Location(p.TimeZone) }

// Location returns the time zone named (IANA, as pages and customers keep
// it), UTC for "" or a name this machine does not know. It is herald's
// one zone loader: loading a zone reads and parses the zone database (the
// tagger asks for every complaint, a dispatcher for every delivery), so
// what it loaded is kept; a name it could not load is not, since a zone
// database installed later may know it.
func Location(name string) *time.Location {
	if loc, ok := locations.Load(name); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	locations.Store(name, loc)
	return loc
}

// locations keeps the zones Location loaded, by name. herald uses few.
var locations sync.Map

// IncidentURL is the public address of an incident's page.
func (p *Page) IncidentURL(id string) string {
	return strings.TrimRight(p.URL, "/") + "/incidents/" + id
}

// ShortURL is the incident's short link (served as a redirect), short enough for an SMS.
func (p *Page) ShortURL(id string) string {
	return strings.TrimRight(p.URL, "/") + "/i/" + id
}

// Component is a part of the service customers see on the page; a group
// (Group true) holds other components through their GroupID.
type Component struct {
	ID                 string          `json:"id"`
	PageID             string          `json:"page_id"`
	Name               string          `json:"name"`
	Description        string          `json:"description"` // "" shows as null
	Status             ComponentStatus `json:"status"`
	Position           int             `json:"position"`
	GroupID            string          `json:"group_id"` // "" shows as null
	Group              bool            `json:"group"`
	Showcase           bool            `json:"showcase"`
	OnlyShowIfDegraded bool            `json:"only_show_if_degraded"`
	StartDate          string          `json:"start_date"` // YYYY-MM-DD or ""
	CreatedAt          time.Time       `json:"created_at"`
	UpdatedAt          time.Time       `json:"updated_at"`
}

// Incident is an unplanned incident or, when ScheduledFor is set, a scheduled
// maintenance: Statuspage models both as incidents.
type Incident struct {
	ID     string `json:"id"`
	PageID string `json:"page_id"`
	Name   string `json:"name"`
	// Names holds the incident's name in other languages, keyed by
	// language (en, hu, pl, hr); a recipient or viewer whose language has
	// none reads Name. nil when the operator gave one name.
	Names                   map[string]string `json:"names,omitempty"`
	Status                  Status            `json:"status"`
	Impact                  Impact            `json:"impact"`          // effective: the override, or derived from components
	ImpactOverride          Impact            `json:"impact_override"` // "" when not overridden
	ComponentIDs            []string          `json:"component_ids"`   // components this incident affects
	Audience                *Audience         `json:"audience"`        // which customers to tell; nil: by components
	CreatedAt               time.Time         `json:"created_at"`
	UpdatedAt               time.Time         `json:"updated_at"`
	StartedAt               time.Time         `json:"started_at"`
	MonitoringAt            *time.Time        `json:"monitoring_at"`
	ResolvedAt              *time.Time        `json:"resolved_at"`
	ScheduledFor            *time.Time        `json:"scheduled_for"`
	ScheduledUntil          *time.Time        `json:"scheduled_until"`
	ScheduledRemindPrior    bool              `json:"scheduled_remind_prior"`
	ScheduledAutoInProgress bool              `json:"scheduled_auto_in_progress"`
	ScheduledAutoCompleted  bool              `json:"scheduled_auto_completed"`
	Backfilled              bool              `json:"backfilled"`
	PostmortemBody          string            `json:"postmortem_body"`
	PostmortemPublishedAt   *time.Time        `json:"postmortem_published_at"`
	// Metadata is the client's own JSON object, kept as it was sent
	// (Statuspage's incident metadata); nil when none was.
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// Updates are newest first.
	Updates []*Update `json:"incident_updates"`
	// Version increments on every committed change; stores use it for
	// optimistic concurrency (see Store.Commit).
	Version int `json:"version"`
}

// IsMaintenance reports whether the incident is a scheduled maintenance.
func (i *Incident) IsMaintenance() bool { return i.ScheduledFor != nil }

// Open reports whether the incident or maintenance is unresolved (for a
// maintenance: in progress or verifying; see Upcoming for scheduled ones).
func (i *Incident) Open() bool {
	if i.IsMaintenance() {
		return i.Status == InProgress || i.Status == Verifying
	}
	return !i.Status.Closed()
}

// Upcoming reports whether the incident is a maintenance still scheduled.
func (i *Incident) Upcoming() bool { return i.IsMaintenance() && i.Status == Scheduled }

// Affects reports whether the incident lists the component.
func (i *Incident) Affects(componentID string) bool {
	for _, id := range i.ComponentIDs {
		if id == componentID {
			return true
		}
	}
	return false
}

// LatestStatusFor returns the status the incident's newest update set for the
// component, and whether any update named it.
func (i *Incident) LatestStatusFor(componentID string) (ComponentStatus, bool) {
	for _, u := range i.Updates {
		for _, ac := range u.AffectedComponents {
			if ac.Code == componentID {
				return ac.NewStatus, true
			}
		}
	}
	return "", false
}

// Update is one entry in an incident's timeline.
type Update struct {
	ID         string `json:"id"`
	IncidentID string `json:"incident_id"`
	Status     Status `json:"status"`
	Body       string `json:"body"`
	// Messages holds the update's text in other languages, keyed by
	// language (en, hu, pl, hr); a recipient or a viewer whose language has
	// none reads Body. nil when the operator wrote one text.
	Messages             map[string]string   `json:"messages,omitempty"`
	CreatedAt            time.Time           `json:"created_at"`
	UpdatedAt            time.Time           `json:"updated_at"`
	DisplayAt            time.Time           `json:"display_at"`
	AffectedComponents   []AffectedComponent `json:"affected_components"` // nil shows as null
	DeliverNotifications bool                `json:"deliver_notifications"`
}

// AffectedComponent records one component's status change made by an update.
type AffectedComponent struct {
	Code      string          `json:"code"` // the component ID
	Name      string          `json:"name"`
	OldStatus ComponentStatus `json:"old_status"`
	NewStatus ComponentStatus `json:"new_status"`
}

// StatusChange is one entry in a component's status history, from which the
// page draws its 90-day uptime bars.
type StatusChange struct {
	PageID      string          `json:"page_id"`
	ComponentID string          `json:"component_id"`
	Status      ComponentStatus `json:"status"`
	At          time.Time       `json:"at"`
}

// AuditEntry records who changed what, when, with the object before and after
// (JSON; empty before on create, empty after on delete).
type AuditEntry struct {
	ID         string    `json:"id"`
	PageID     string    `json:"page_id"`
	Actor      string    `json:"actor"`       // token name and ID, or "cli", "system"
	Action     string    `json:"action"`      // e.g. incident.create, component.update
	ObjectType string    `json:"object_type"` // page, component, incident, token
	ObjectID   string    `json:"object_id"`
	Before     string    `json:"before"`
	After      string    `json:"after"`
	At         time.Time `json:"at"`
}

// BroadcastKind says which message an outbox entry asks notify to send.
type BroadcastKind string

// Broadcast kinds.
const (
	BroadcastDeclared  BroadcastKind = "declared"  // acknowledgement
	BroadcastUpdated   BroadcastKind = "updated"   // an update with deliver_notifications
	BroadcastResolved  BroadcastKind = "resolved"  // the apology
	BroadcastScheduled BroadcastKind = "scheduled" // a maintenance announced
	BroadcastStarted   BroadcastKind = "started"   // a maintenance began
	BroadcastCompleted BroadcastKind = "completed" // a maintenance ended
	// BroadcastCompensation announces a compensation decision to the
	// customers it gives something (made after resolution, so the
	// apology could not carry it).
	BroadcastCompensation BroadcastKind = "compensation"
)

// BroadcastKinds lists every broadcast kind, for messages that name them.
var BroadcastKinds = []BroadcastKind{BroadcastDeclared, BroadcastUpdated, BroadcastResolved, BroadcastScheduled, BroadcastStarted,
	BroadcastCompleted, BroadcastCompensation}

// Join writes list as "a, b, c", for an error that names the valid values.
func Join[T ~string](list []T) string {
	ss := make([]string, len(list))
	for i, v := range list {
		ss[i] = string(v)
	}
	return strings.Join(ss, ", ")
}

// Broadcast is the outbox row written in the same transaction as the change
// it announces; notify's planner expands it into deliveries.
type Broadcast struct {
	ID         string        `json:"id"`
	PageID     string        `json:"page_id"`
	IncidentID string        `json:"incident_id"`
	UpdateID   string        `json:"update_id"`
	Kind       BroadcastKind `json:"kind"`
	CreatedAt  time.Time     `json:"created_at"`
}

// Audience says which of a page's customers an incident concerns, beyond
// the subscribers of its components. The zero value (or nil) means the
// customers who use any affected component; customers who list no
// components use everything; an incident without components concerns all
// customers. Segment fields narrow that set: a customer must match every
// non-empty field (any value within a field).
type Audience struct {
	AllCustomers bool                `json:"all_customers,omitempty"` // ignore components: every customer matching the segments
	NoCustomers  bool                `json:"no_customers,omitempty"`  // subscribers only
	Plans        []string            `json:"plans,omitempty"`
	Regions      []string            `json:"regions,omitempty"`
	Attributes   map[string][]string `json:"attributes,omitempty"`
	CustomerIDs  []string            `json:"customer_ids,omitempty"` // explicit list, in addition to the segment match
}

// Validate checks sizes and that the flags do not contradict each other.
func (a *Audience) Validate() error {
	if a == nil {
		return nil
	}
	if a.AllCustomers && a.NoCustomers {
		return Invalid("audience", "all_customers and no_customers contradict each other")
	}
	n := len(a.Plans) + len(a.Regions) + len(a.CustomerIDs)
	for k, vs := range a.Attributes {
		if k == "" || len(k) > 100 {
			return Invalid("audience.attributes", "attribute names must be 1 to 100 characters")
		}
		n += len(vs)
	}
	if n > 10000 {
		return Invalid("audience", "at most 10000 values")
	}
	return nil
}

// NameIn is the incident's name in lang (en, hu, pl, hr): its name in
// that language when the operator gave one, else Name.
func (i *Incident) NameIn(lang string) string {
	if n := i.Names[lang]; n != "" {
		return n
	}
	return i.Name
}

// Text is the update's text in lang (en, hu, pl, hr): its message in that
// language when the operator wrote one, else Body.
func (u *Update) Text(lang string) string {
	if m := u.Messages[lang]; m != "" {
		return m
	}
	return u.Body
}
