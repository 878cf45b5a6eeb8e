package wire

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/incident"
)

// The management API's resources (Statuspage v1 and herald's extras), as
// the server writes them and the CLI reads them, and the request bodies
// the CLI (or any Statuspage client) sends and the server reads. Field
// names follow developer.statuspage.io and the open-source clients
// written for it; times are in UTC with the zero time as null.
//
// A request body's fields are pointers (or nil slices and maps) so that a
// PATCH changes only what was sent; omitzero leaves an unset field out when
// a client in Go writes one.

// ---- pages ----

// Page is a status page.
type Page struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	URL       string   `json:"url"`
	Domain    *string  `json:"domain"`
	Subdomain *string  `json:"subdomain"`
	TimeZone  string   `json:"time_zone"`
	Languages []string `json:"languages"`
	Hosts     []string `json:"hosts"`
	Logo      string   `json:"logo,omitempty"` // data: URI
	CreatedAt Time     `json:"created_at"`
	UpdatedAt Time     `json:"updated_at"`
}

// NewPage writes p; its first host is its domain.
func NewPage(p *incident.Page) Page {
	out := Page{ID: p.ID, Name: p.Name, URL: p.URL, TimeZone: p.TimeZone, Languages: p.Languages, Hosts: p.Hosts, Logo: p.Logo,
		CreatedAt: UTC.At(p.CreatedAt), UpdatedAt: UTC.At(p.UpdatedAt)}
	if out.Languages == nil {
		out.Languages = []string{}
	}
	if out.Hosts == nil {
		out.Hosts = []string{}
	}
	if len(p.Hosts) > 0 {
		out.Domain = &p.Hosts[0]
	}
	return out
}

// PageRequest is the body of creating or changing a page.
type PageRequest struct {
	Page *PageFields `json:"page,omitzero"`
}

// PageFields are a page's settable fields.
type PageFields struct {
	Name      *string  `json:"name,omitzero"`
	URL       *string  `json:"url,omitzero"`
	TimeZone  *string  `json:"time_zone,omitzero"`
	Languages []string `json:"languages,omitzero"`
	Hosts     []string `json:"hosts,omitzero"`
	Domain    *string  `json:"domain,omitzero"` // Statuspage's custom domain: one more host
	Logo      *string  `json:"logo,omitzero"`   // data: URI of a PNG, JPEG, GIF or WebP; "" removes it
}

// Input is what f asks of the Service: the domain, when given, joins the
// hosts.
func (f *PageFields) Input() incident.PageInput {
	in := incident.PageInput{Name: f.Name, URL: f.URL, TimeZone: f.TimeZone, Languages: f.Languages, Hosts: f.Hosts, Logo: f.Logo}
	if f.Domain != nil && *f.Domain != "" && !slices.Contains(in.Hosts, *f.Domain) {
		in.Hosts = append(append([]string{}, in.Hosts...), strings.ToLower(*f.Domain))
	}
	return in
}

// ---- components ----

// V1Component is a component as the management API writes it (the v2 API
// and the webhooks write Component: other field order, other time zone).
type V1Component struct {
	ID                 string   `json:"id"`
	PageID             string   `json:"page_id"`
	GroupID            *string  `json:"group_id"`
	CreatedAt          Time     `json:"created_at"`
	UpdatedAt          Time     `json:"updated_at"`
	Group              bool     `json:"group"`
	Name               string   `json:"name"`
	Description        *string  `json:"description"`
	Position           int      `json:"position"`
	Status             string   `json:"status"`
	Showcase           bool     `json:"showcase"`
	OnlyShowIfDegraded bool     `json:"only_show_if_degraded"`
	StartDate          *string  `json:"start_date"`
	Components         []string `json:"components,omitempty"` // a group's members
}

// NewV1Component writes c; all are the page's components, which give a
// group its members.
func NewV1Component(c *incident.Component, all []*incident.Component) V1Component {
	out := V1Component{ID: c.ID, PageID: c.PageID, GroupID: Nullable(c.GroupID), CreatedAt: UTC.At(c.CreatedAt), UpdatedAt: UTC.At(c.UpdatedAt),
		Group: c.Group, Name: c.Name, Description: Nullable(c.Description), Position: c.Position, Status: string(c.Status),
		Showcase: c.Showcase, OnlyShowIfDegraded: c.OnlyShowIfDegraded, StartDate: Nullable(c.StartDate)}
	if c.Group {
		out.Components = Members(c.ID, all)
	}
	return out
}

// Members are the IDs of group groupID's components among all, in their
// order; none is an empty list.
func Members(groupID string, all []*incident.Component) []string {
	ids := []string{}
	for _, m := range all {
		if m.GroupID == groupID && !m.Group {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// ComponentRequest is the body of creating or changing a component.
type ComponentRequest struct {
	Component *ComponentFields `json:"component,omitzero"`
}

// ComponentFields are a component's settable fields.
type ComponentFields struct {
	Name               *string `json:"name,omitzero"`
	Description        *string `json:"description,omitzero"`
	Status             *string `json:"status,omitzero"`
	Position           *int    `json:"position,omitzero"`
	GroupID            *string `json:"group_id,omitzero"`
	Showcase           *bool   `json:"showcase,omitzero"`
	OnlyShowIfDegraded *bool   `json:"only_show_if_degraded,omitzero"`
	StartDate          *string `json:"start_date,omitzero"`
}

// Input is what f asks of the Service.
//
// As Statuspage clients send them: a status of "" is no status (a new
// component is operational, a changed one keeps its status); start_date
// may be a full timestamp (its date in UTC is kept) and Go's zero time
// 0001-01-01T00:00:00Z, which Go clients with a time.Time field send on
// every request, is no start date (on a change: the date is kept).
func (f *ComponentFields) Input() incident.ComponentInput {
	in := incident.ComponentInput{Name: f.Name, Description: f.Description, Position: f.Position, GroupID: f.GroupID,
		Showcase: f.Showcase, OnlyShowIfDegraded: f.OnlyShowIfDegraded, StartDate: f.StartDate}
	if f.Status != nil && *f.Status != "" {
		st := incident.ComponentStatus(*f.Status)
		in.Status = &st
	}
	if f.StartDate != nil {
		in.StartDate = startDate(*f.StartDate)
	}
	return in
}

// startDate reads a component's start_date: a date is kept as sent (the
// Service checks it), a timestamp becomes its date in UTC, the zero time
// is no date (nil).
func startDate(s string) *string {
	v := strings.TrimSpace(s)
	if len(v) <= len("2006-01-02") {
		return &v
	}
	t, err := ParseTime("start_date", &v)
	if err != nil || t == nil {
		return &v // not a time: the Service refuses it, naming the field
	}
	if t.Year() <= 1 {
		return nil
	}
	d := t.Format("2006-01-02")
	return &d
}

// ---- component groups ----

// ComponentGroup is a component group as the component-groups endpoints
// write it.
type ComponentGroup struct {
	ID          string   `json:"id"`
	PageID      string   `json:"page_id"`
	Name        string   `json:"name"`
	Description *string  `json:"description"`
	Components  []string `json:"components"`
	Position    int      `json:"position"`
	CreatedAt   Time     `json:"created_at"`
	UpdatedAt   Time     `json:"updated_at"`
}

// NewComponentGroup writes group g; all are the page's components.
func NewComponentGroup(g *incident.Component, all []*incident.Component) ComponentGroup {
	return ComponentGroup{ID: g.ID, PageID: g.PageID, Name: g.Name, Description: Nullable(g.Description), Components: Members(g.ID, all),
		Position: g.Position, CreatedAt: UTC.At(g.CreatedAt), UpdatedAt: UTC.At(g.UpdatedAt)}
}

// ComponentGroupRequest is the body of creating or changing a component
// group.
type ComponentGroupRequest struct {
	// Description sits beside component_group in Statuspage's documented
	// body; herald also takes it inside.
	Description *string               `json:"description,omitzero"`
	Group       *ComponentGroupFields `json:"component_group,omitzero"`
}

// ComponentGroupFields are a group's settable fields.
type ComponentGroupFields struct {
	Name        *string  `json:"name,omitzero"`
	Description *string  `json:"description,omitzero"`
	Components  []string `json:"components,omitzero"`
	Position    *int     `json:"position,omitzero"`
}

// Input is what r asks of the Service; r.Group must be set.
func (r *ComponentGroupRequest) Input() incident.GroupInput {
	g := r.Group
	in := incident.GroupInput{Name: g.Name, Description: g.Description, Position: g.Position, ComponentIDs: g.Components}
	if in.Description == nil {
		in.Description = r.Description
	}
	return in
}

// ---- incidents ----

// V1Update is an incident update as the management API writes it.
type V1Update struct {
	ID         string `json:"id"`
	IncidentID string `json:"incident_id"`
	Status     string `json:"status"`
	Body       string `json:"body"`
	// Messages is herald's: the update's text per language, when the
	// operator wrote more than one (absent otherwise).
	Messages             map[string]string    `json:"messages,omitempty"`
	CreatedAt            Time                 `json:"created_at"`
	UpdatedAt            Time                 `json:"updated_at"`
	DisplayAt            Time                 `json:"display_at"`
	AffectedComponents   *[]AffectedComponent `json:"affected_components"`
	DeliverNotifications bool                 `json:"deliver_notifications"`
	CustomTweet          *string              `json:"custom_tweet"`
	TweetID              *string              `json:"tweet_id"`
}

// NewV1Update writes u.
func NewV1Update(u *incident.Update) V1Update {
	return V1Update{ID: u.ID, IncidentID: u.IncidentID, Status: string(u.Status), Body: u.Body, Messages: u.Messages, CreatedAt: UTC.At(u.CreatedAt),
		UpdatedAt: UTC.At(u.UpdatedAt), DisplayAt: UTC.At(u.DisplayAt), AffectedComponents: AffectedComponents(u.AffectedComponents),
		DeliverNotifications: u.DeliverNotifications}
}

// V1Incident is an incident or maintenance as the management API writes
// it.
type V1Incident struct {
	ID     string `json:"id"`
	PageID string `json:"page_id"`
	Name   string `json:"name"`
	// Version is herald's: it counts the incident's changes, and is the
	// entity tag a client sends in If-Match to change only what it read.
	Version int `json:"version,omitempty"`
	// Names is herald's: the incident's name per language, when the
	// operator gave more than one (absent otherwise).
	Names                         map[string]string `json:"names,omitempty"`
	Status                        string            `json:"status"`
	Impact                        string            `json:"impact"`
	ImpactOverride                *string           `json:"impact_override"`
	Shortlink                     string            `json:"shortlink"`
	CreatedAt                     Time              `json:"created_at"`
	UpdatedAt                     Time              `json:"updated_at"`
	StartedAt                     Time              `json:"started_at"`
	MonitoringAt                  Time              `json:"monitoring_at"`
	ResolvedAt                    Time              `json:"resolved_at"`
	ScheduledFor                  Time              `json:"scheduled_for"`
	ScheduledUntil                Time              `json:"scheduled_until"`
	ScheduledRemindPrior          bool              `json:"scheduled_remind_prior"`
	ScheduledRemindedAt           *string           `json:"scheduled_reminded_at"`
	ScheduledAutoInProgress       bool              `json:"scheduled_auto_in_progress"`
	ScheduledAutoCompleted        bool              `json:"scheduled_auto_completed"`
	ScheduledAutoTransition       bool              `json:"scheduled_auto_transition"`
	Backfilled                    bool              `json:"backfilled"`
	PostmortemBody                *string           `json:"postmortem_body"`
	PostmortemBodyLastUpdatedAt   *string           `json:"postmortem_body_last_updated_at"`
	PostmortemPublishedAt         Time              `json:"postmortem_published_at"`
	PostmortemIgnored             bool              `json:"postmortem_ignored"`
	PostmortemNotifiedSubscribers bool              `json:"postmortem_notified_subscribers"`
	PostmortemNotifiedTwitter     bool              `json:"postmortem_notified_twitter"`
	ReminderIntervals             *string           `json:"reminder_intervals"`
	Metadata                      json.RawMessage   `json:"metadata"`
	IncidentUpdates               []V1Update        `json:"incident_updates"`
	Components                    []V1Component     `json:"components"`
}

// NewV1Incident writes inc as Statuspage v1 does; page gives the short
// link and comps are the page's components (for the embedded component
// objects).
func NewV1Incident(inc *incident.Incident, page *incident.Page, comps []*incident.Component) V1Incident {
	z := UTC
	out := V1Incident{ID: inc.ID, PageID: inc.PageID, Name: inc.Name, Names: inc.Names, Version: inc.Version, Status: string(inc.Status), Impact: string(inc.Impact),
		ImpactOverride: Nullable(string(inc.ImpactOverride)), Shortlink: page.ShortURL(inc.ID),
		CreatedAt: z.At(inc.CreatedAt), UpdatedAt: z.At(inc.UpdatedAt), StartedAt: z.At(inc.StartedAt),
		MonitoringAt: z.AtPtr(inc.MonitoringAt), ResolvedAt: z.AtPtr(inc.ResolvedAt), ScheduledFor: z.AtPtr(inc.ScheduledFor),
		ScheduledUntil: z.AtPtr(inc.ScheduledUntil), ScheduledRemindPrior: inc.ScheduledRemindPrior,
		ScheduledAutoInProgress: inc.ScheduledAutoInProgress, ScheduledAutoCompleted: inc.ScheduledAutoCompleted,
		ScheduledAutoTransition: inc.ScheduledAutoInProgress, Backfilled: inc.Backfilled,
		PostmortemBody: Nullable(inc.PostmortemBody), PostmortemPublishedAt: z.AtPtr(inc.PostmortemPublishedAt),
		Metadata: json.RawMessage(`{}`), IncidentUpdates: make([]V1Update, len(inc.Updates)), Components: []V1Component{}}
	if len(inc.Metadata) > 0 {
		out.Metadata = inc.Metadata
	}
	for i, u := range inc.Updates {
		out.IncidentUpdates[i] = NewV1Update(u)
	}
	for _, id := range inc.ComponentIDs {
		for _, c := range comps {
			if c.ID == id {
				out.Components = append(out.Components, NewV1Component(c, comps))
				break
			}
		}
	}
	return out
}

// IncidentRequest is the body of creating or changing an incident or a
// maintenance.
type IncidentRequest struct {
	Incident *IncidentFields `json:"incident,omitzero"`
}

// IncidentFields are an incident's settable fields. Times are strings, so
// that one that does not parse is reported by its field (see ParseTime).
type IncidentFields struct {
	Name           *string `json:"name,omitzero"`
	Status         *string `json:"status,omitzero"`
	ImpactOverride *string `json:"impact_override,omitzero"`
	Body           *string `json:"body,omitzero"`
	// Messages is herald's: the new update's text in other languages,
	// keyed by language ({"hu": "…", "pl": "…"}); body stays the default
	// every other recipient reads.
	Messages map[string]string `json:"messages,omitzero"`
	// Names is herald's: the incident's name in other languages, keyed
	// by language ({"hu": "…"}); an empty name removes that language's.
	Names        map[string]string `json:"names,omitzero"`
	ComponentIDs []string          `json:"component_ids,omitzero"`
	// Components maps a component ID to its new status.
	Components              map[string]string `json:"components,omitzero"`
	DeliverNotifications    *bool             `json:"deliver_notifications,omitzero"`
	ScheduledFor            *string           `json:"scheduled_for,omitzero"`
	ScheduledUntil          *string           `json:"scheduled_until,omitzero"`
	ScheduledRemindPrior    *bool             `json:"scheduled_remind_prior,omitzero"`
	ScheduledAutoInProgress *bool             `json:"scheduled_auto_in_progress,omitzero"`
	// ScheduledAutoTransition is Statuspage's older name for scheduled_auto_in_progress.
	ScheduledAutoTransition          *bool `json:"scheduled_auto_transition,omitzero"`
	ScheduledAutoCompleted           *bool `json:"scheduled_auto_completed,omitzero"`
	AutoTransitionToOperationalState *bool `json:"auto_transition_to_operational_state,omitzero"`
	Backfilled                       *bool `json:"backfilled,omitzero"`
	// BackfillDate is Statuspage's name for a backfilled incident's
	// creation time; it wins over CreatedAt.
	BackfillDate   *string `json:"backfill_date,omitzero"`
	CreatedAt      *string `json:"created_at,omitzero"`
	PostmortemBody *string `json:"postmortem_body,omitzero"`
	// Metadata is the client's own JSON object, kept and returned as sent.
	Metadata json.RawMessage `json:"metadata,omitzero"`
	// ClearImpactOverride is set by the server when the request sent
	// "impact_override": null, which returns the impact to the one the
	// components give; "" (or leaving it out) keeps the override.
	ClearImpactOverride bool `json:"-"`
}

// Input is what f asks of the Service. A time that does not parse is an
// error naming its field ("incident.scheduled_for").
func (f *IncidentFields) Input() (incident.IncidentInput, error) {
	in := incident.IncidentInput{Name: f.Name, Names: f.Names, Body: f.Body, Messages: f.Messages, ComponentIDs: f.ComponentIDs, DeliverNotifications: f.DeliverNotifications,
		ScheduledRemindPrior: f.ScheduledRemindPrior, ScheduledAutoInProgress: f.ScheduledAutoInProgress,
		ScheduledAutoCompleted: f.ScheduledAutoCompleted, AutoTransitionToOperational: f.AutoTransitionToOperationalState,
		Backfilled: f.Backfilled, PostmortemBody: f.PostmortemBody}
	if in.ScheduledAutoInProgress == nil {
		in.ScheduledAutoInProgress = f.ScheduledAutoTransition
	}
	if f.Status != nil {
		st := incident.Status(*f.Status)
		in.Status = &st
	}
	switch {
	case f.ClearImpactOverride:
		im := incident.Impact("")
		in.ImpactOverride = &im
	case f.ImpactOverride != nil && *f.ImpactOverride != "":
		im := incident.Impact(*f.ImpactOverride)
		in.ImpactOverride = &im
	}
	if len(f.Metadata) > 0 && string(f.Metadata) != "null" {
		in.Metadata = f.Metadata
	}
	if f.Components != nil {
		in.Components = make(map[string]incident.ComponentStatus, len(f.Components))
		for id, st := range f.Components {
			in.Components[id] = incident.ComponentStatus(st)
		}
	}
	var err error
	if in.ScheduledFor, err = ParseTime("incident.scheduled_for", f.ScheduledFor); err != nil {
		return in, err
	}
	if in.ScheduledUntil, err = ParseTime("incident.scheduled_until", f.ScheduledUntil); err != nil {
		return in, err
	}
	created, field := f.BackfillDate, "incident.backfill_date"
	if created == nil {
		created, field = f.CreatedAt, "incident.created_at"
	}
	if in.CreatedAt, err = ParseTime(field, created); err != nil {
		return in, err
	}
	return in, nil
}

// IncidentUpdateRequest is the body of editing an incident update.
type IncidentUpdateRequest struct {
	Update *IncidentUpdateFields `json:"incident_update,omitzero"`
}

// IncidentUpdateFields are an update's editable fields.
type IncidentUpdateFields struct {
	Body *string `json:"body,omitzero"`
	// Messages is herald's: the update's text per language to set ("" drops
	// one); a changed body must come with every language the update has a
	// text in (incident.UpdateEdit).
	Messages  map[string]string `json:"messages,omitzero"`
	DisplayAt *string           `json:"display_at,omitzero"`
}

// ParseTime reads a timestamp field of a request: RFC 3339 (with or
// without fraction or offset), or a plain date YYYY-MM-DD taken as
// midnight UTC; the result is in UTC. nil and "" are no time (nil); any
// other string that does not parse is an error naming field.
func ParseTime(field string, s *string) (*time.Time, error) {
	if s == nil {
		return nil, nil
	}
	v := strings.TrimSpace(*s)
	if v == "" {
		return nil, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			t = t.UTC()
			if t.Year() < 0 || t.Year() > 9999 {
				// 0000-01-01T00:00:00+01:00 is in year -1 in UTC: RFC 3339
				// and JSON cannot write it back.
				return nil, incident.Invalid(field, "must be between the years 0000 and 9999 in UTC")
			}
			return &t, nil
		}
	}
	if len(v) > 40 {
		v = v[:40] + "…"
	}
	return nil, incident.Invalid(field, "must be an RFC 3339 timestamp such as 2024-05-01T12:00:00Z, got %q", v)
}

// ---- tokens (herald's) ----

// Token is an API token; Secret is set only in the answer to creating it.
type Token struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Role       string `json:"role"`
	CreatedAt  Time   `json:"created_at"`
	LastUsedAt Time   `json:"last_used_at"`
	RevokedAt  Time   `json:"revoked_at"`
	// Secret is set only in the answer to the create request: it is never
	// stored and cannot be shown again.
	Secret string `json:"secret,omitempty"`
}

// NewToken writes t, without its secret.
func NewToken(t *incident.Token) Token {
	return Token{ID: t.ID, Name: t.Name, Role: string(t.Role), CreatedAt: UTC.At(t.CreatedAt), LastUsedAt: UTC.AtPtr(t.LastUsedAt), RevokedAt: UTC.AtPtr(t.RevokedAt)}
}

// TokenRequest is the body of creating a token.
type TokenRequest struct {
	Token *TokenFields `json:"token,omitzero"`
}

// TokenFields name the token to create and its role.
type TokenFields struct {
	Name *string `json:"name,omitzero"`
	Role *string `json:"role,omitzero"`
}

// ---- subscribers ----

// Subscriber is Statuspage's subscriber object, with herald's extras
// (state, language, source, incident_id, confirmed_at, unsubscribed_at,
// unsubscribe_reason).
type Subscriber struct {
	ID                           string  `json:"id"`
	Mode                         string  `json:"mode"` // email, sms, webhook, slack
	Email                        *string `json:"email"`
	Endpoint                     *string `json:"endpoint"`
	PhoneNumber                  *string `json:"phone_number"`
	PhoneCountry                 *string `json:"phone_country"`
	DisplayPhoneNumber           *string `json:"display_phone_number"`
	SkipConfirmationNotification bool    `json:"skip_confirmation_notification"`
	QuarantinedAt                Time    `json:"quarantined_at"`
	PurgeAt                      Time    `json:"purge_at"`
	// Components is the published specification's shape: one string, the
	// component IDs separated by commas, null for every component (the
	// clients generated from the specification parse a string here).
	Components *string `json:"components"`
	// ComponentIDs are the same IDs as a list (herald's; empty: every
	// component).
	ComponentIDs   []string `json:"component_ids"`
	PageID         string   `json:"page_id"`
	IncidentID     *string  `json:"incident_id"`
	State          string   `json:"state"`
	Language       string   `json:"language"`
	Source         string   `json:"source"`
	CreatedAt      Time     `json:"created_at"`
	ConfirmedAt    Time     `json:"confirmed_at"`
	UnsubscribedAt Time     `json:"unsubscribed_at"`
	// UnsubscribeReason is herald's: why herald ended the subscription
	// ("webhook:410"); null when the subscriber or an admin did.
	UnsubscribeReason *string `json:"unsubscribe_reason"`
}

// Address is the subscriber's email, phone number or endpoint, whichever
// it has.
func (s Subscriber) Address() string {
	for _, p := range []*string{s.Email, s.PhoneNumber, s.Endpoint} {
		if p != nil && *p != "" {
			return *p
		}
	}
	return ""
}

// SubscriberRequest is the body of adding a subscriber:
// {"subscriber":{"email"|"phone_number"+"phone_country"|"endpoint", ...}}.
type SubscriberRequest struct {
	Subscriber *SubscriberFields `json:"subscriber,omitzero"`
}

// SubscriberFields are a new subscriber's address and settings.
type SubscriberFields struct {
	Email        *string `json:"email,omitzero"`
	PhoneNumber  *string `json:"phone_number,omitzero"`
	PhoneCountry *string `json:"phone_country,omitzero"`
	// Endpoint is a webhook subscriber's URL; with mode "slack" a
	// Slack incoming-webhook URL.
	Endpoint                     *string  `json:"endpoint,omitzero"`
	Mode                         *string  `json:"mode,omitzero"` // herald: "slack" for a Slack endpoint
	ComponentIDs                 []string `json:"component_ids,omitzero"`
	SkipConfirmationNotification bool     `json:"skip_confirmation_notification"`
	Language                     *string  `json:"language,omitzero"` // herald: en, hu, pl, hr
}
