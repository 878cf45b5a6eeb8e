package server

import (
	"errors"
	"strings"
	"time"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/incident/wire"
)

// This file holds the Statuspage v1 request and response bodies and their
// conversion to and from incident's types. Field names follow
// developer.statuspage.io and the open-source clients written for it.

// ---- timestamps ----

// jsonTime renders a time as Statuspage does: ISO 8601 with milliseconds,
// in UTC ("2020-02-11T03:15:01.913Z"); the zero time renders as null.
type jsonTime time.Time

func (t jsonTime) MarshalJSON() ([]byte, error) { return wire.UTC.At(time.Time(t)).MarshalJSON() }

// UnmarshalJSON reads what MarshalJSON writes, for clients in Go (and tests).
func (t *jsonTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = jsonTime{}
		return nil
	}
	var v time.Time
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	*t = jsonTime(v)
	return nil
}

func jt(t time.Time) jsonTime { return jsonTime(t) }

func jtp(t *time.Time) jsonTime {
	if t == nil {
		return jsonTime{}
	}
	return jsonTime(*t)
}

// ---- pages ----

type pageRequest struct {
	Page *struct {
		Name      *string  `json:"name"`
		URL       *string  `json:"url"`
		TimeZone  *string  `json:"time_zone"`
		Languages []string `json:"languages"`
		Hosts     []string `json:"hosts"`
		Domain    *string  `json:"domain"` // Statuspage's custom domain: one more host
	} `json:"page"`
}

func (r *pageRequest) Valid() error {
	if r.Page == nil {
		return required("page")
	}
	return nil
}

func (r *pageRequest) input() incident.PageInput {
	p := r.Page
	in := incident.PageInput{Name: p.Name, URL: p.URL, TimeZone: p.TimeZone, Languages: p.Languages, Hosts: p.Hosts}
	if p.Domain != nil && *p.Domain != "" && !contains(in.Hosts, *p.Domain) {
		in.Hosts = append(append([]string{}, in.Hosts...), strings.ToLower(*p.Domain))
	}
	return in
}

type pageJSON struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	URL       string   `json:"url"`
	Domain    *string  `json:"domain"`
	Subdomain *string  `json:"subdomain"`
	TimeZone  string   `json:"time_zone"`
	Languages []string `json:"languages"`
	Hosts     []string `json:"hosts"`
	CreatedAt jsonTime `json:"created_at"`
	UpdatedAt jsonTime `json:"updated_at"`
}

func toPageJSON(p *incident.Page) pageJSON {
	out := pageJSON{ID: p.ID, Name: p.Name, URL: p.URL, TimeZone: p.TimeZone, Languages: p.Languages, Hosts: p.Hosts,
		CreatedAt: jt(p.CreatedAt), UpdatedAt: jt(p.UpdatedAt)}
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

// ---- components ----

type componentRequest struct {
	Component *struct {
		Name               *string `json:"name"`
		Description        *string `json:"description"`
		Status             *string `json:"status"`
		Position           *int    `json:"position"`
		GroupID            *string `json:"group_id"`
		Showcase           *bool   `json:"showcase"`
		OnlyShowIfDegraded *bool   `json:"only_show_if_degraded"`
		StartDate          *string `json:"start_date"`
	} `json:"component"`
}

func (r *componentRequest) Valid() error {
	if r.Component == nil {
		return required("component")
	}
	return nil
}

func (r *componentRequest) input() incident.ComponentInput {
	c := r.Component
	in := incident.ComponentInput{Name: c.Name, Description: c.Description, Position: c.Position, GroupID: c.GroupID,
		Showcase: c.Showcase, OnlyShowIfDegraded: c.OnlyShowIfDegraded, StartDate: c.StartDate}
	if c.Status != nil {
		st := incident.ComponentStatus(*c.Status)
		in.Status = &st
	}
	return in
}

type componentJSON struct {
	ID                 string   `json:"id"`
	PageID             string   `json:"page_id"`
	GroupID            *string  `json:"group_id"`
	CreatedAt          jsonTime `json:"created_at"`
	UpdatedAt          jsonTime `json:"updated_at"`
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

func toComponentJSON(c *incident.Component, all []*incident.Component) componentJSON {
	out := componentJSON{ID: c.ID, PageID: c.PageID, GroupID: wire.Nullable(c.GroupID), CreatedAt: jt(c.CreatedAt), UpdatedAt: jt(c.UpdatedAt),
		Group: c.Group, Name: c.Name, Description: wire.Nullable(c.Description), Position: c.Position, Status: string(c.Status),
		Showcase: c.Showcase, OnlyShowIfDegraded: c.OnlyShowIfDegraded, StartDate: wire.Nullable(c.StartDate)}
	if c.Group {
		out.Components = members(c.ID, all)
	}
	return out
}

func members(groupID string, all []*incident.Component) []string {
	ids := []string{}
	for _, m := range all {
		if m.GroupID == groupID && !m.Group {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// ---- component groups ----

type groupRequest struct {
	// Description sits beside component_group in Statuspage's documented
	// body; herald also takes it inside.
	Description *string `json:"description"`
	Group       *struct {
		Name        *string  `json:"name"`
		Description *string  `json:"description"`
		Components  []string `json:"components"`
		Position    *int     `json:"position"`
	} `json:"component_group"`
}

func (r *groupRequest) Valid() error {
	if r.Group == nil {
		return required("component_group")
	}
	return nil
}

func (r *groupRequest) input() incident.GroupInput {
	g := r.Group
	in := incident.GroupInput{Name: g.Name, Description: g.Description, Position: g.Position, ComponentIDs: g.Components}
	if in.Description == nil {
		in.Description = r.Description
	}
	return in
}

type groupJSON struct {
	ID          string   `json:"id"`
	PageID      string   `json:"page_id"`
	Name        string   `json:"name"`
	Description *string  `json:"description"`
	Components  []string `json:"components"`
	Position    int      `json:"position"`
	CreatedAt   jsonTime `json:"created_at"`
	UpdatedAt   jsonTime `json:"updated_at"`
}

func toGroupJSON(g *incident.Component, all []*incident.Component) groupJSON {
	return groupJSON{ID: g.ID, PageID: g.PageID, Name: g.Name, Description: wire.Nullable(g.Description), Components: members(g.ID, all),
		Position: g.Position, CreatedAt: jt(g.CreatedAt), UpdatedAt: jt(g.UpdatedAt)}
}

// ---- incidents ----

type incidentFields struct {
	Name                    *string           `json:"name"`
	Status                  *string           `json:"status"`
	ImpactOverride          *string           `json:"impact_override"`
	Body                    *string           `json:"body"`
	ComponentIDs            []string          `json:"component_ids"`
	Components              map[string]string `json:"components"`
	DeliverNotifications    *bool             `json:"deliver_notifications"`
	ScheduledFor            *string           `json:"scheduled_for"`
	ScheduledUntil          *string           `json:"scheduled_until"`
	ScheduledRemindPrior    *bool             `json:"scheduled_remind_prior"`
	ScheduledAutoInProgress *bool             `json:"scheduled_auto_in_progress"`
	// ScheduledAutoTransition is Statuspage's older name for scheduled_auto_in_progress.
	ScheduledAutoTransition          *bool   `json:"scheduled_auto_transition"`
	ScheduledAutoCompleted           *bool   `json:"scheduled_auto_completed"`
	AutoTransitionToOperationalState *bool   `json:"auto_transition_to_operational_state"`
	Backfilled                       *bool   `json:"backfilled"`
	BackfillDate                     *string `json:"backfill_date"`
	CreatedAt                        *string `json:"created_at"`
	PostmortemBody                   *string `json:"postmortem_body"`

	in incident.IncidentInput // filled by Valid
	// backfillDate records that the client named the creation time
	// backfill_date, so errors about it use that name.
	backfillDate bool
}

// fieldError renames the Service's created_at to the field the client sent.
func (f *incidentFields) fieldError(err error) error {
	err = withField(err, "incident")
	var de *incident.Error
	if f.backfillDate && errors.As(err, &de) && de.Field == "incident.created_at" {
		cp := *de
		cp.Field = "incident.backfill_date"
		return &cp
	}
	return err
}

type incidentRequest struct {
	Incident *incidentFields `json:"incident"`
}

// Valid parses the timestamps (the decoder cannot name a field whose
// string fails to parse) and builds the Service's input.
func (r *incidentRequest) Valid() error {
	f := r.Incident
	if f == nil {
		return required("incident")
	}
	in := incident.IncidentInput{Name: f.Name, Body: f.Body, ComponentIDs: f.ComponentIDs, DeliverNotifications: f.DeliverNotifications,
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
	if f.ImpactOverride != nil {
		im := incident.Impact(*f.ImpactOverride)
		in.ImpactOverride = &im
	}
	if f.Components != nil {
		in.Components = make(map[string]incident.ComponentStatus, len(f.Components))
		for id, st := range f.Components {
			in.Components[id] = incident.ComponentStatus(st)
		}
	}
	var err error
	if in.ScheduledFor, err = parseTime("incident.scheduled_for", f.ScheduledFor); err != nil {
		return err
	}
	if in.ScheduledUntil, err = parseTime("incident.scheduled_until", f.ScheduledUntil); err != nil {
		return err
	}
	created, field := f.BackfillDate, "incident.backfill_date"
	f.backfillDate = created != nil
	if created == nil {
		created, field = f.CreatedAt, "incident.created_at"
	}
	if in.CreatedAt, err = parseTime(field, created); err != nil {
		return err
	}
	f.in = in
	return nil
}

type incidentUpdateRequest struct {
	Update *struct {
		Body      *string `json:"body"`
		DisplayAt *string `json:"display_at"`
	} `json:"incident_update"`
	displayAt *time.Time
}

func (r *incidentUpdateRequest) Valid() error {
	if r.Update == nil {
		return required("incident_update")
	}
	var err error
	r.displayAt, err = parseTime("incident_update.display_at", r.Update.DisplayAt)
	return err
}

type updateJSON struct {
	ID                   string                    `json:"id"`
	IncidentID           string                    `json:"incident_id"`
	Status               string                    `json:"status"`
	Body                 string                    `json:"body"`
	CreatedAt            jsonTime                  `json:"created_at"`
	UpdatedAt            jsonTime                  `json:"updated_at"`
	DisplayAt            jsonTime                  `json:"display_at"`
	AffectedComponents   *[]wire.AffectedComponent `json:"affected_components"`
	DeliverNotifications bool                      `json:"deliver_notifications"`
	CustomTweet          *string                   `json:"custom_tweet"`
	TweetID              *string                   `json:"tweet_id"`
}

func toUpdateJSON(u *incident.Update) updateJSON {
	return updateJSON{ID: u.ID, IncidentID: u.IncidentID, Status: string(u.Status), Body: u.Body, CreatedAt: jt(u.CreatedAt),
		UpdatedAt: jt(u.UpdatedAt), DisplayAt: jt(u.DisplayAt), AffectedComponents: wire.AffectedComponents(u.AffectedComponents),
		DeliverNotifications: u.DeliverNotifications}
}

type incidentJSON struct {
	ID                            string          `json:"id"`
	PageID                        string          `json:"page_id"`
	Name                          string          `json:"name"`
	Status                        string          `json:"status"`
	Impact                        string          `json:"impact"`
	ImpactOverride                *string         `json:"impact_override"`
	Shortlink                     string          `json:"shortlink"`
	CreatedAt                     jsonTime        `json:"created_at"`
	UpdatedAt                     jsonTime        `json:"updated_at"`
	StartedAt                     jsonTime        `json:"started_at"`
	MonitoringAt                  jsonTime        `json:"monitoring_at"`
	ResolvedAt                    jsonTime        `json:"resolved_at"`
	ScheduledFor                  jsonTime        `json:"scheduled_for"`
	ScheduledUntil                jsonTime        `json:"scheduled_until"`
	ScheduledRemindPrior          bool            `json:"scheduled_remind_prior"`
	ScheduledRemindedAt           *string         `json:"scheduled_reminded_at"`
	ScheduledAutoInProgress       bool            `json:"scheduled_auto_in_progress"`
	ScheduledAutoCompleted        bool            `json:"scheduled_auto_completed"`
	ScheduledAutoTransition       bool            `json:"scheduled_auto_transition"`
	Backfilled                    bool            `json:"backfilled"`
	PostmortemBody                *string         `json:"postmortem_body"`
	PostmortemBodyLastUpdatedAt   *string         `json:"postmortem_body_last_updated_at"`
	PostmortemPublishedAt         jsonTime        `json:"postmortem_published_at"`
	PostmortemIgnored             bool            `json:"postmortem_ignored"`
	PostmortemNotifiedSubscribers bool            `json:"postmortem_notified_subscribers"`
	PostmortemNotifiedTwitter     bool            `json:"postmortem_notified_twitter"`
	ReminderIntervals             *string         `json:"reminder_intervals"`
	Metadata                      map[string]any  `json:"metadata"`
	IncidentUpdates               []updateJSON    `json:"incident_updates"`
	Components                    []componentJSON `json:"components"`
}

// toIncidentJSON renders an incident as Statuspage v1 does; comps are the
// page's components (for the embedded component objects) and page gives
// the short link.
func toIncidentJSON(inc *incident.Incident, page *incident.Page, comps []*incident.Component) incidentJSON {
	out := incidentJSON{ID: inc.ID, PageID: inc.PageID, Name: inc.Name, Status: string(inc.Status), Impact: string(inc.Impact),
		ImpactOverride: wire.Nullable(string(inc.ImpactOverride)), Shortlink: page.ShortURL(inc.ID),
		CreatedAt: jt(inc.CreatedAt), UpdatedAt: jt(inc.UpdatedAt), StartedAt: jt(inc.StartedAt),
		MonitoringAt: jtp(inc.MonitoringAt), ResolvedAt: jtp(inc.ResolvedAt), ScheduledFor: jtp(inc.ScheduledFor),
		ScheduledUntil: jtp(inc.ScheduledUntil), ScheduledRemindPrior: inc.ScheduledRemindPrior,
		ScheduledAutoInProgress: inc.ScheduledAutoInProgress, ScheduledAutoCompleted: inc.ScheduledAutoCompleted,
		ScheduledAutoTransition: inc.ScheduledAutoInProgress, Backfilled: inc.Backfilled,
		PostmortemBody: wire.Nullable(inc.PostmortemBody), PostmortemPublishedAt: jtp(inc.PostmortemPublishedAt),
		Metadata: map[string]any{}, IncidentUpdates: make([]updateJSON, len(inc.Updates)), Components: []componentJSON{}}
	for i, u := range inc.Updates {
		out.IncidentUpdates[i] = toUpdateJSON(u)
	}
	for _, id := range inc.ComponentIDs {
		for _, c := range comps {
			if c.ID == id {
				out.Components = append(out.Components, toComponentJSON(c, comps))
				break
			}
		}
	}
	return out
}

// ---- tokens and audit (herald extras) ----

type tokenRequest struct {
	Token *struct {
		Name *string `json:"name"`
		Role *string `json:"role"`
	} `json:"token"`
}

func (r *tokenRequest) Valid() error {
	if r.Token == nil {
		return required("token")
	}
	if r.Token.Role == nil {
		return incident.Invalid("token.role", "is required: admin, manager or agent")
	}
	return nil
}

type tokenJSON struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Role       string   `json:"role"`
	CreatedAt  jsonTime `json:"created_at"`
	LastUsedAt jsonTime `json:"last_used_at"`
	RevokedAt  jsonTime `json:"revoked_at"`
	// Secret is set only in the answer to the create request: it is never
	// stored and cannot be shown again.
	Secret string `json:"secret,omitempty"`
}

func toTokenJSON(t *incident.Token) tokenJSON {
	return tokenJSON{ID: t.ID, Name: t.Name, Role: string(t.Role), CreatedAt: jt(t.CreatedAt), LastUsedAt: jtp(t.LastUsedAt), RevokedAt: jtp(t.RevokedAt)}
}
