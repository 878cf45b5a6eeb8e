package console_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/heraldhq/herald/incident"
)

// formOf reads the hidden fields of the console page at path.
func formOf(c *client, path string) url.Values {
	c.t.Helper()
	_, body := c.do("GET", path, nil)
	f := url.Values{}
	for _, m := range hiddenRx.FindAllStringSubmatch(body, -1) {
		f.Set(m[1], html.UnescapeString(m[2]))
	}
	return f
}

// TestStaleUpdateFormIsRefused: an update form made before the CLI moved
// the incident on does not put back what it was pre-filled with; the form
// comes back made from the incident as it is now, saying what changed,
// with the message kept. A component status left as shown is not sent.
func TestStaleUpdateFormIsRefused(t *testing.T) {
	e := startEnv(t, customersCSV)
	ctx := context.Background()
	inc := e.declare(t, "Card payments failing", false)
	m := e.client(t)
	m.signIn(incident.RoleManager, "Mia")
	page := "/console/incidents/" + inc.ID
	form := formOf(m, page+"/update")
	if form.Get("version") == "" || form.Get("shown_component_"+e.payments.ID) != "major_outage" {
		t.Fatalf("the update form does not carry what it was made from: %v", form)
	}
	mon, minor, msg, off := incident.Monitoring, incident.ImpactMinor, "Payments succeed again; watching.", false
	if _, err := e.n.Incidents.UpdateIncident(e.as(incident.RoleManager), e.page.ID, inc.ID, incident.IncidentInput{Status: &mon, ImpactOverride: &minor,
		Body: &msg, DeliverNotifications: &off, Components: map[string]incident.ComponentStatus{e.payments.ID: incident.Operational}}); err != nil {
		t.Fatal(err)
	}
	form.Set("status", "investigating")
	form.Set("component_"+e.payments.ID, "major_outage")
	form.Set("impact", "auto")
	form.Set("message", "Still looking into it.")
	form.Set("notify", "on")
	res, got := m.do("POST", page+"/update", form)
	text := html.UnescapeString(got)
	if res.StatusCode != http.StatusConflict {
		t.Fatalf("a stale update: %d, want 409", res.StatusCode)
	}
	for _, want := range []string{"Nothing was posted: the incident changed while you were writing", "status Investigating → Monitoring",
		"impact Critical → Minor", "Payments: Major outage → Operational", "Still looking into it.",
		`<option value="monitoring" selected>`} {
		if !strings.Contains(text, want) {
			t.Errorf("the refused form lacks %q", want)
		}
	}
	now, _ := e.n.Incidents.Incident(ctx, e.page.ID, inc.ID)
	if now.Status != incident.Monitoring || len(now.Updates) != 2 {
		t.Fatalf("the stale form changed the incident: %s, %d updates", now.Status, len(now.Updates))
	}

	// The form shown again posts, and a status left as it showed it does
	// not put back a component moved since by another door.
	form = url.Values{}
	for _, mm := range hiddenRx.FindAllStringSubmatch(got, -1) {
		form.Set(mm[1], html.UnescapeString(mm[2]))
	}
	if _, err := e.n.Incidents.UpdateComponent(e.as(incident.RoleManager), e.page.ID, e.payments.ID,
		incident.ComponentInput{Status: func() *incident.ComponentStatus { s := incident.DegradedPerformance; return &s }()}); err != nil {
		t.Fatal(err)
	}
	form.Set("status", "monitoring")
	form.Set("component_"+e.payments.ID, "operational")
	form.Set("impact", "minor")
	form.Set("message", "Still watching.")
	if res, _ := m.do("POST", page+"/update", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the fresh form: %d", res.StatusCode)
	}
	now, _ = e.n.Incidents.Incident(ctx, e.page.ID, inc.ID)
	if now.Updates[0].Body != "Still watching." || len(now.Updates[0].AffectedComponents) != 0 || !now.Affects(e.payments.ID) {
		t.Errorf("the update: %q, %+v, affects Payments %v", now.Updates[0].Body, now.Updates[0].AffectedComponents, now.Affects(e.payments.ID))
	}
	comps, _ := e.n.Incidents.Components(ctx, e.page.ID)
	for _, c := range comps {
		if c.ID == e.payments.ID && c.Status != incident.DegradedPerformance {
			t.Errorf("Payments, degraded meanwhile, was put back to %s by a status left as shown", c.Status)
		}
	}
}
