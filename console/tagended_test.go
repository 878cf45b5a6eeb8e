package console_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
)

// TestTagToJustEndedIncident: a complaint left in triage with a guess at
// an incident that has resolved since names the guess by its name (and
// says it ended), and the complaint can be tagged to it.
func TestTagToJustEndedIncident(t *testing.T) {
	e := startEnv(t, customersCSV)
	ctx := context.Background()
	inc := e.declare(t, "Card payments failing", false)
	cp, _, err := e.n.Complaints.Receive(ctx, complaint.Intake{PageID: e.page.ID, Channel: complaint.Email,
		Contact: complaint.Contact{Email: "someone@elsewhere.example"}, Text: "it does not work"})
	if err != nil {
		t.Fatal(err)
	}
	if cp.Tag != nil || cp.Suggestion == nil || cp.Suggestion.IncidentID != inc.ID {
		t.Fatalf("want the complaint in triage with a guess at %s: tag %+v, suggestion %+v", inc.ID, cp.Tag, cp.Suggestion)
	}
	res, off := incident.Resolved, false
	if _, err := e.n.Incidents.UpdateIncident(e.as(incident.RoleManager), e.page.ID, inc.ID, incident.IncidentInput{Status: &res, DeliverNotifications: &off}); err != nil {
		t.Fatal(err)
	}
	a := e.client(t)
	a.signIn(incident.RoleAgent, "Ada")
	path := "/console/complaints/" + cp.ID
	_, page := a.do("GET", path, nil)
	page = html.UnescapeString(page)
	if strings.Contains(page, "suggested: "+inc.ID) || !strings.Contains(page, `>Card payments failing</a> <span class="pill st-resolved">Resolved</span>`) {
		i := strings.Index(page, "suggested")
		t.Errorf("the suggestion is not named, or not said to have ended: %s", page[max(0, i):min(len(page), i+200)])
	}
	if !strings.Contains(page, `<option value="`+inc.ID+`">Card payments failing · Resolved</option>`) {
		t.Errorf("the just-resolved incident is not offered to tag to")
	}
	r, _ := a.do("POST", path+"/tag", url.Values{"_csrf": {a.csrf(path)}, "incident": {inc.ID}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("tagging to the resolved incident: %d", r.StatusCode)
	}
	if got, _ := e.n.Complaints.Get(ctx, e.page.ID, cp.ID); got.Tag == nil || got.Tag.IncidentID != inc.ID {
		t.Errorf("the complaint is not tagged to the resolved incident: %+v", got.Tag)
	}
}
