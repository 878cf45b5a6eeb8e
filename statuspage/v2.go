package statuspage

import (
	"encoding/json"
	"time"

	"github.com/heraldhq/herald/incident"
)

// The Statuspage v2 wire shapes, written out field by field (and in the
// order Statuspage sends them) rather than borrowed from the domain
// structs' tags, so that the public format is explicit and a change to
// the domain cannot change it by accident.

type v2Page struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	URL       string `json:"url"`
	TimeZone  string `json:"time_zone"`
	UpdatedAt string `json:"updated_at"`
}

type v2Status struct {
	Indicator   string `json:"indicator"`
	Description string `json:"description"`
}

type v2Component struct {
	ID                 string  `json:"id"`
	Name               string  `json:"name"`
	Status             string  `json:"status"`
	CreatedAt          string  `json:"created_at"`
	UpdatedAt          string  `json:"updated_at"`
	Position           int     `json:"position"`
	Description        *string `json:"description"`
	Showcase           bool    `json:"showcase"`
	StartDate          *string `json:"start_date"`
	GroupID            *string `json:"group_id"`
	PageID             string  `json:"page_id"`
	Group              bool    `json:"group"`
	OnlyShowIfDegraded bool    `json:"only_show_if_degraded"`
	// Components lists a group's members; absent on plain components.
	Components *[]string `json:"components,omitempty"`
}

type v2AffectedComponent struct {
	Code      string `json:"code"`
	Name      string `json:"name"`
	OldStatus string `json:"old_status"`
	NewStatus string `json:"new_status"`
}

type v2Update struct {
	ID                   string                 `json:"id"`
	Status               string                 `json:"status"`
	Body                 string                 `json:"body"`
	IncidentID           string                 `json:"incident_id"`
	CreatedAt            string                 `json:"created_at"`
	UpdatedAt            string                 `json:"updated_at"`
	DisplayAt            string                 `json:"display_at"`
	AffectedComponents   *[]v2AffectedComponent `json:"affected_components"`
	DeliverNotifications bool                   `json:"deliver_notifications"`
	CustomTweet          *string                `json:"custom_tweet"`
	TweetID              *string                `json:"tweet_id"`
}

type v2Incident struct {
	ID           string  `json:"id"`
	Name         string  `json:"name"`
	Status       string  `json:"status"`
	CreatedAt    string  `json:"created_at"`
	UpdatedAt    string  `json:"updated_at"`
	MonitoringAt *string `json:"monitoring_at"`
	ResolvedAt   *string `json:"resolved_at"`
	Impact       string  `json:"impact"`
	Shortlink    string  `json:"shortlink"`
	StartedAt    string  `json:"started_at"`
	PageID       string  `json:"page_id"`
	// ScheduledFor and ScheduledUntil are present on maintenances only,
	// which always have both.
	ScheduledFor    *string        `json:"scheduled_for,omitempty"`
	ScheduledUntil  *string        `json:"scheduled_until,omitempty"`
	IncidentUpdates []v2Update     `json:"incident_updates"`
	Components      []*v2Component `json:"components"`
}

type v2Summary struct {
	Page                  v2Page         `json:"page"`
	Components            []*v2Component `json:"components"`
	Incidents             []*v2Incident  `json:"incidents"`
	ScheduledMaintenances []*v2Incident  `json:"scheduled_maintenances"`
	Status                v2Status       `json:"status"`
}

type v2StatusDoc struct {
	Page   v2Page   `json:"page"`
	Status v2Status `json:"status"`
}

type v2ComponentsDoc struct {
	Page       v2Page         `json:"page"`
	Components []*v2Component `json:"components"`
}

type v2IncidentsDoc struct {
	Page      v2Page        `json:"page"`
	Incidents []*v2Incident `json:"incidents"`
}

type v2MaintenancesDoc struct {
	Page                  v2Page        `json:"page"`
	ScheduledMaintenances []*v2Incident `json:"scheduled_maintenances"`
}

// timeLayout is ISO-8601 with milliseconds; Go writes "Z" for a zero
// offset and "-06:00" otherwise, as Statuspage does.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// stamp formats t for the wire in the page's time zone. It is the one
// place timestamps get their public shape.
func stamp(t time.Time, loc *time.Location) string { return t.In(loc).Format(timeLayout) }

func stampPtr(t *time.Time, loc *time.Location) *string {
	if t == nil {
		return nil
	}
	s := stamp(*t, loc)
	return &s
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// wireComponents converts a page's components (in page order) to the wire,
// giving each group the IDs of its members.
func wireComponents(comps []*incident.Component, loc *time.Location) ([]*v2Component, map[string]*v2Component) {
	out := make([]*v2Component, 0, len(comps))
	byID := make(map[string]*v2Component, len(comps))
	for _, c := range comps {
		w := &v2Component{ID: c.ID, Name: c.Name, Status: string(c.Status), CreatedAt: stamp(c.CreatedAt, loc),
			UpdatedAt: stamp(c.UpdatedAt, loc), Position: c.Position, Description: nullable(c.Description),
			Showcase: c.Showcase, StartDate: nullable(c.StartDate), GroupID: nullable(c.GroupID), PageID: c.PageID,
			Group: c.Group, OnlyShowIfDegraded: c.OnlyShowIfDegraded}
		if c.Group {
			members := []string{}
			w.Components = &members
		}
		out = append(out, w)
		byID[c.ID] = w
	}
	for _, c := range comps {
		if c.GroupID == "" {
			continue
		}
		if g := byID[c.GroupID]; g != nil && g.Components != nil {
			*g.Components = append(*g.Components, c.ID)
		}
	}
	return out, byID
}

// wireIncident converts an incident or maintenance; comps are the page's
// components on the wire, in page order.
func wireIncident(p *incident.Page, inc *incident.Incident, comps []*v2Component, loc *time.Location) *v2Incident {
	w := &v2Incident{ID: inc.ID, Name: inc.Name, Status: string(inc.Status), CreatedAt: stamp(inc.CreatedAt, loc),
		UpdatedAt: stamp(inc.UpdatedAt, loc), MonitoringAt: stampPtr(inc.MonitoringAt, loc), ResolvedAt: stampPtr(inc.ResolvedAt, loc),
		Impact: string(inc.Impact), Shortlink: p.ShortURL(inc.ID), StartedAt: stamp(inc.StartedAt, loc), PageID: inc.PageID,
		IncidentUpdates: make([]v2Update, 0, len(inc.Updates)), Components: []*v2Component{}}
	if inc.IsMaintenance() {
		w.Impact = string(incident.ImpactMaintenance)
		w.ScheduledFor = stampPtr(inc.ScheduledFor, loc)
		w.ScheduledUntil = stampPtr(inc.ScheduledUntil, loc)
	}
	for _, u := range inc.Updates {
		wu := v2Update{ID: u.ID, Status: string(u.Status), Body: u.Body, IncidentID: inc.ID, CreatedAt: stamp(u.CreatedAt, loc),
			UpdatedAt: stamp(u.UpdatedAt, loc), DisplayAt: stamp(u.DisplayAt, loc), DeliverNotifications: u.DeliverNotifications}
		if len(u.AffectedComponents) > 0 {
			acs := make([]v2AffectedComponent, len(u.AffectedComponents))
			for i, ac := range u.AffectedComponents {
				acs[i] = v2AffectedComponent{Code: ac.Code, Name: ac.Name, OldStatus: string(ac.OldStatus), NewStatus: string(ac.NewStatus)}
			}
			wu.AffectedComponents = &acs
		}
		w.IncidentUpdates = append(w.IncidentUpdates, wu)
	}
	for _, c := range comps {
		if inc.Affects(c.ID) {
			w.Components = append(w.Components, c)
		}
	}
	return w
}

// marshal encodes v as compact JSON. encoding/json escapes <, > and & as
// \u003c and so on, which decodes the same and keeps a browser that sniffs
// the body from ever seeing markup in it.
func marshal(v any) ([]byte, error) { return json.Marshal(v) }
