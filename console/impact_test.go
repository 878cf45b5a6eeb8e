package console_test

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald/incident"
)

// TestResolvedIncidentShowsItsWorstImpact: an incident lowered to minor
// while the fix was watched shows, once resolved, the worst impact it had
// (as the public page and the reports do), not minor.
func TestResolvedIncidentShowsItsWorstImpact(t *testing.T) {
	e := startEnv(t, customersCSV)
	inc := e.declare(t, "Card payments failing", false)
	mctx := e.as(incident.RoleManager)
	off, minor, mon, body := false, incident.ImpactMinor, incident.Monitoring, "Payments succeed again; watching."
	if _, err := e.n.Incidents.UpdateIncident(mctx, e.page.ID, inc.ID, incident.IncidentInput{Status: &mon, Body: &body, ImpactOverride: &minor,
		DeliverNotifications: &off, Components: map[string]incident.ComponentStatus{e.payments.ID: incident.Operational}}); err != nil {
		t.Fatal(err)
	}
	m := e.client(t)
	m.signIn(incident.RoleManager, "Mia")
	if _, page := m.do("GET", "/console/incidents/"+inc.ID, nil); !strings.Contains(page, `class="pill im-minor"`) {
		t.Errorf("while open, lowered to minor: the header does not say minor")
	}
	res := incident.Resolved
	if _, err := e.n.Incidents.UpdateIncident(mctx, e.page.ID, inc.ID, incident.IncidentInput{Status: &res, DeliverNotifications: &off}); err != nil {
		t.Fatal(err)
	}
	_, page := m.do("GET", "/console/incidents/"+inc.ID, nil)
	if !strings.Contains(page, `class="pill im-critical">Critical<`) {
		i := strings.Index(page, "pill im-")
		t.Errorf("resolved after a major outage: the header shows %q, want Critical", page[i:min(len(page), i+60)])
	}
}
