package statuspage

import (
	"encoding/json"
	"time"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/incident/wire"
)

// The Statuspage v2 documents. The pieces they share with the webhook and
// the management API (times, components, updates, an incident's opening
// fields) come from incident/wire; these add what only the public page
// sends.

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

// v2Component is a component with, on a group, its members' IDs.
type v2Component struct {
	wire.Component
	// Components lists a group's members; absent on plain components.
	Components *[]string `json:"components,omitempty"`
}

type v2Incident struct {
	wire.IncidentHead
	// ScheduledFor and ScheduledUntil are present on maintenances only,
	// which always have both.
	ScheduledFor    wire.Time      `json:"scheduled_for,omitzero"`
	ScheduledUntil  wire.Time      `json:"scheduled_until,omitzero"`
	IncidentUpdates []wire.Update  `json:"incident_updates"`
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

// stamp formats t for the wire in the page's time zone (the HTML's
// datetime attributes use it too).
func stamp(t time.Time, loc *time.Location) string { return t.In(loc).Format(wire.Layout) }

// wireComponents converts a page's components (in page order) to the wire,
// giving each group the IDs of its members.
func wireComponents(comps []*incident.Component, loc *time.Location) ([]*v2Component, map[string]*v2Component) {
	out := make([]*v2Component, 0, len(comps))
	byID := make(map[string]*v2Component, len(comps))
	for _, c := range comps {
		w := &v2Component{Component: wire.NewComponent(c, wire.In(loc))}
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
	z := wire.In(loc)
	w := &v2Incident{IncidentHead: wire.NewIncidentHead(p, inc, z), IncidentUpdates: wire.NewUpdates(inc, z), Components: []*v2Component{}}
	if inc.IsMaintenance() {
		w.Impact = string(incident.ImpactMaintenance)
		w.ScheduledFor = z.AtPtr(inc.ScheduledFor)
		w.ScheduledUntil = z.AtPtr(inc.ScheduledUntil)
	}
	for i := range w.IncidentUpdates {
		// The public page shows an update that changed no component as
		// null, where the webhook and the management API send [].
		if acs := w.IncidentUpdates[i].AffectedComponents; acs != nil && len(*acs) == 0 {
			w.IncidentUpdates[i].AffectedComponents = nil
		}
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
