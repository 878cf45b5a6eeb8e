// Package wire holds the JSON shapes of Statuspage v1/v2 and herald's own
// resources, one set: the timestamps, the component and update objects and
// the fields an incident opens with, from which the public v2 JSON
// (statuspage) builds its documents; the subscriber webhook (webhook.go);
// and the management API's resources and request bodies (v1.go), which the
// server writes and reads and the CLI reads and writes.
//
// The shapes are written out field by field, in the order Statuspage sends
// them, rather than borrowed from the domain structs' tags, so that the
// public format is explicit and a change to the domain cannot change it by
// accident.
package wire

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/heraldhq/herald/incident"
)

// Layout is Statuspage's timestamp: ISO 8601 with milliseconds. Go writes
// "Z" for a zero offset and "-06:00" otherwise, as Statuspage does.
const Layout = "2006-01-02T15:04:05.000Z07:00"

// Time is a timestamp on the wire: a string in Layout, or null. The zero
// Time is null (and IsZero, so omitzero leaves it out).
type Time struct{ s string }

// IsZero reports whether t is null.
func (t Time) IsZero() bool { return t.s == "" }

// MarshalJSON writes t as a JSON string, or null.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.s == "" {
		return []byte("null"), nil
	}
	return []byte(`"` + t.s + `"`), nil
}

// UnmarshalJSON reads a timestamp as Statuspage and herald write it (any
// RFC 3339 string), or null; "" is taken as null too. The string is kept
// as it came, so a document read and written again is unchanged.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("wire: a time must be a string or null, got %s", b)
	}
	if s != "" {
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			return fmt.Errorf("wire: %w", err)
		}
	}
	*t = Time{s}
	return nil
}

// Time is t as a time.Time, in the offset it was written with; null is the
// zero time.
func (t Time) Time() time.Time {
	v, _ := time.Parse(time.RFC3339, t.s) // a Time holds only what parses
	return v
}

// Zone is how a document writes its times: in which time zone, and whether
// the zero time is null.
type Zone struct {
	loc      *time.Location
	nullZero bool
}

// UTC is the zone of the management API and the webhooks: times in UTC
// ("2020-02-11T03:15:01.913Z"), the zero time as null.
var UTC = Zone{loc: time.UTC, nullZero: true}

// In is the zone of the public v2 JSON: times in the page's time zone, the
// zero time written like any other.
func In(loc *time.Location) Zone { return Zone{loc: loc} }

// At is t on the wire.
func (z Zone) At(t time.Time) Time {
	if z.nullZero && t.IsZero() {
		return Time{}
	}
	return Time{t.In(z.loc).Format(Layout)}
}

// AtPtr is *t on the wire; nil is null.
func (z Zone) AtPtr(t *time.Time) Time {
	if t == nil {
		return Time{}
	}
	return z.At(*t)
}

// Nullable renders "" as null, as Statuspage shows empty optional strings.
func Nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Component is a component object as the v2 API and the webhooks send it.
type Component struct {
	ID                 string  `json:"id"`
	Name               string  `json:"name"`
	Status             string  `json:"status"`
	CreatedAt          Time    `json:"created_at"`
	UpdatedAt          Time    `json:"updated_at"`
	Position           int     `json:"position"`
	Description        *string `json:"description"`
	Showcase           bool    `json:"showcase"`
	StartDate          *string `json:"start_date"`
	GroupID            *string `json:"group_id"`
	PageID             string  `json:"page_id"`
	Group              bool    `json:"group"`
	OnlyShowIfDegraded bool    `json:"only_show_if_degraded"`
}

// NewComponent writes c with its times in z.
func NewComponent(c *incident.Component, z Zone) Component {
	return Component{ID: c.ID, Name: c.Name, Status: string(c.Status), CreatedAt: z.At(c.CreatedAt), UpdatedAt: z.At(c.UpdatedAt),
		Position: c.Position, Description: Nullable(c.Description), Showcase: c.Showcase, StartDate: Nullable(c.StartDate),
		GroupID: Nullable(c.GroupID), PageID: c.PageID, Group: c.Group, OnlyShowIfDegraded: c.OnlyShowIfDegraded}
}

// AffectedComponent is one component's status change in an update.
type AffectedComponent struct {
	Code      string `json:"code"`
	Name      string `json:"name"`
	OldStatus string `json:"old_status"`
	NewStatus string `json:"new_status"`
}

// AffectedComponents writes acs; nil is null and an empty list stays
// empty ([]).
func AffectedComponents(acs []incident.AffectedComponent) *[]AffectedComponent {
	if acs == nil {
		return nil
	}
	out := make([]AffectedComponent, len(acs))
	for i, ac := range acs {
		out[i] = AffectedComponent{Code: ac.Code, Name: ac.Name, OldStatus: string(ac.OldStatus), NewStatus: string(ac.NewStatus)}
	}
	return &out
}

// Update is an incident update as the v2 API and the webhooks send it.
type Update struct {
	ID                   string               `json:"id"`
	Status               string               `json:"status"`
	Body                 string               `json:"body"`
	IncidentID           string               `json:"incident_id"`
	CreatedAt            Time                 `json:"created_at"`
	UpdatedAt            Time                 `json:"updated_at"`
	DisplayAt            Time                 `json:"display_at"`
	AffectedComponents   *[]AffectedComponent `json:"affected_components"`
	DeliverNotifications bool                 `json:"deliver_notifications"`
	CustomTweet          *string              `json:"custom_tweet"`
	TweetID              *string              `json:"tweet_id"`
}

// NewUpdate writes u with its times in z.
func NewUpdate(u *incident.Update, z Zone) Update {
	return Update{ID: u.ID, Status: string(u.Status), Body: u.Body, IncidentID: u.IncidentID, CreatedAt: z.At(u.CreatedAt),
		UpdatedAt: z.At(u.UpdatedAt), DisplayAt: z.At(u.DisplayAt), AffectedComponents: AffectedComponents(u.AffectedComponents),
		DeliverNotifications: u.DeliverNotifications}
}

// NewUpdates writes inc's updates (newest first, as the incident holds
// them); no updates is an empty list, not null.
func NewUpdates(inc *incident.Incident, z Zone) []Update {
	out := make([]Update, len(inc.Updates))
	for i, u := range inc.Updates {
		out[i] = NewUpdate(u, z)
	}
	return out
}

// IncidentHead is the fields an incident object opens with in the v2 API
// and in webhooks, in Statuspage's order. Each document embeds it and adds
// the fields it sends after them (updates, components, scheduling, …).
type IncidentHead struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Status       string `json:"status"`
	CreatedAt    Time   `json:"created_at"`
	UpdatedAt    Time   `json:"updated_at"`
	MonitoringAt Time   `json:"monitoring_at"`
	ResolvedAt   Time   `json:"resolved_at"`
	Impact       string `json:"impact"`
	Shortlink    string `json:"shortlink"`
	StartedAt    Time   `json:"started_at"`
	PageID       string `json:"page_id"`
}

// NewIncidentHead writes inc's opening fields with its times in z; p gives
// the short link.
func NewIncidentHead(p *incident.Page, inc *incident.Incident, z Zone) IncidentHead {
	return IncidentHead{ID: inc.ID, Name: inc.Name, Status: string(inc.Status), CreatedAt: z.At(inc.CreatedAt),
		UpdatedAt: z.At(inc.UpdatedAt), MonitoringAt: z.AtPtr(inc.MonitoringAt), ResolvedAt: z.AtPtr(inc.ResolvedAt),
		Impact: string(inc.Impact), Shortlink: p.ShortURL(inc.ID), StartedAt: z.At(inc.StartedAt), PageID: inc.PageID}
}
