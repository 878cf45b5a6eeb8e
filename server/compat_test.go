package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/incident/wire"
)

// TestStatuspageClientCompat replays requests the way client libraries
// written for Atlassian Statuspage send them, with only their base URL
// pointed at herald. The shapes come from open-source clients and scripts
// in the public code index (searched for "incident[components]",
// "/v1/pages/%s/incidents", statuspage Go SDKs and the Terraform
// provider) and from the published OpenAPI specification's generated
// clients:
//
//   - Python scripts with requests' data=: form-encoded bodies,
//     incident[component_ids][] repeated or incident[component_ids] given a
//     list (sent as the same key repeated), incident[components][ID]=status,
//     fields herald does not model (incident[monitoring_at], incident[impact]);
//     paths with or without ".json" (incidents.json, incidents/unresolved.json).
//   - curl -d examples: the same form keys, booleans as t/f.
//   - Go SDKs whose component struct has a time.Time start_date and a
//     string status with omitempty: every request carries
//     "start_date":"0001-01-01T00:00:00Z", and a new component "status":"".
//   - The Terraform provider: start_date as a full timestamp; impact_override
//     "" on every update of an incident whose override is not set.
//   - Clients generated from the published specification: Subscriber's
//     "components" is a string.
func TestStatuspageClientCompat(t *testing.T) {
	b := newBroadcastEnv(t, false)
	base := "/v1/pages/" + b.page.ID
	a, bID := b.compA.ID, b.compB.ID
	form := func(t *testing.T, want int, method, path string, v url.Values) response {
		t.Helper()
		r := b.do(t, method, path, b.manager, v.Encode(), "Content-Type", "application/x-www-form-urlencoded")
		if r.status != want {
			t.Fatalf("%s %s (form %s): status %d, want %d; body %s", method, path, v.Encode(), r.status, want, r.body)
		}
		return r
	}
	component := func(t *testing.T, id string) wire.V1Component {
		t.Helper()
		var c wire.V1Component
		b.mustDo(t, http.StatusOK, "GET", base+"/components/"+id+".json", b.agent, "").json(t, &c)
		return c
	}

	t.Run(".json paths", func(t *testing.T) {
		var inc wire.V1Incident
		b.mustDo(t, http.StatusCreated, "POST", base+"/incidents.json", b.manager, `{"incident":{"name":"Suffix"}}`).json(t, &inc)
		for _, p := range []string{
			"/v1/pages.json", base + ".json", base + "/components.json", base + "/components/" + a + ".json",
			base + "/incidents.json", base + "/incidents/unresolved.json", base + "/incidents/scheduled.json",
			base + "/incidents/upcoming.json", base + "/incidents/active_maintenance.json", base + "/incidents/" + inc.ID + ".json",
			base + "/subscribers.json", base + "/subscribers/count.json", base + "/component-groups.json",
			"/api/v1/pages/" + b.page.ID + "/incidents.json",
		} {
			r := b.do(t, "GET", p, b.agent, "")
			if r.status != http.StatusOK || !json.Valid(r.body) {
				t.Errorf("GET %s: %d %s", p, r.status, truncate(string(r.body), 200))
			}
		}
		var unresolved []wire.V1Incident
		b.mustDo(t, http.StatusOK, "GET", base+"/incidents/unresolved.json", b.agent, "").json(t, &unresolved)
		if len(unresolved) == 0 || unresolved[0].ID != inc.ID {
			t.Errorf("unresolved.json = %+v", unresolved)
		}
		b.mustDo(t, http.StatusOK, "PATCH", base+"/incidents/"+inc.ID+".json", b.manager, `{"incident":{"status":"resolved"}}`)
		b.mustDo(t, http.StatusOK, "DELETE", base+"/incidents/"+inc.ID+".json", b.manager, "")
		// A dot elsewhere is not a suffix: still no such route.
		b.mustDo(t, http.StatusNotFound, "GET", base+"/incidents.xml", b.agent, "")
	})

	t.Run("form: create with component_ids[] and components[ID]", func(t *testing.T) {
		var inc wire.V1Incident
		form(t, http.StatusCreated, "POST", base+"/incidents.json", url.Values{
			"incident[name]":                  {"Payments fail"},
			"incident[body]":                  {"We are investigating."},
			"incident[status]":                {"investigating"},
			"incident[component_ids][]":       {a},
			"incident[components][" + a + "]": {"major_outage"},
			"incident[monitoring_at]":         {""}, // not modelled: ignored
			"incident[impact]":                {"major"},
		}).json(t, &inc)
		if inc.Name != "Payments fail" || inc.Status != "investigating" || len(inc.Components) != 1 || inc.Components[0].ID != a ||
			inc.Impact != "critical" || len(inc.IncidentUpdates) != 1 || inc.IncidentUpdates[0].Body != "We are investigating." {
			t.Fatalf("incident = %+v", inc)
		}
		if c := component(t, a); c.Status != "major_outage" {
			t.Errorf("component status %q, want major_outage", c.Status)
		}
		// An update the same way: resolved, component back, booleans as t/f.
		form(t, http.StatusOK, "PATCH", base+"/incidents/"+inc.ID+".json", url.Values{
			"incident[status]":                {"resolved"},
			"incident[body]":                  {"Fixed."},
			"incident[deliver_notifications]": {"f"},
			"incident[components][" + a + "]": {"operational"},
		}).json(t, &inc)
		if inc.Status != "resolved" || inc.IncidentUpdates[0].DeliverNotifications {
			t.Errorf("after update: %+v", inc)
		}
		if c := component(t, a); c.Status != "operational" {
			t.Errorf("component status %q after resolve, want operational", c.Status)
		}
	})

	t.Run("form: a list sent as the same key repeated, impact_override", func(t *testing.T) {
		var inc wire.V1Incident
		form(t, http.StatusCreated, "POST", base+"/incidents", url.Values{
			"incident[name]":            {"Two components"},
			"incident[status]":          {"identified"},
			"incident[impact_override]": {"minor"},
			"incident[component_ids]":   {a, bID},
		}).json(t, &inc)
		if len(inc.Components) != 2 || inc.ImpactOverride == nil || *inc.ImpactOverride != "minor" || inc.Impact != "minor" {
			t.Fatalf("incident = %+v", inc)
		}
		b.mustDo(t, http.StatusOK, "PATCH", base+"/incidents/"+inc.ID, b.manager, `{"incident":{"status":"resolved"}}`)
	})

	t.Run("form: component[status], and errors name the field", func(t *testing.T) {
		var c wire.V1Component
		form(t, http.StatusOK, "PATCH", base+"/components/"+bID+".json", url.Values{"component[status]": {"partial_outage"}, "component[showcase]": {"t"}, "component[position]": {"7"}}).json(t, &c)
		if c.Status != "partial_outage" || !c.Showcase || c.Position != 7 {
			t.Errorf("component = %+v", c)
		}
		form(t, http.StatusOK, "PATCH", base+"/components/"+bID, url.Values{"component[status]": {"operational"}})
		for _, tc := range []struct {
			v     url.Values
			field string
		}{
			{url.Values{"component[position]": {"seven"}}, "component.position"},
			{url.Values{"component[showcase]": {"maybe"}}, "component.showcase"},
			{url.Values{"component[status]": {"on_fire"}}, "component.status"},
			{url.Values{"component[name": {"x"}}, "component[name"},
		} {
			d := form(t, http.StatusBadRequest, "PATCH", base+"/components/"+bID, tc.v).errorOf(t)
			if d.Field != tc.field {
				t.Errorf("%s: field %q, want %q (%s)", tc.v.Encode(), d.Field, tc.field, d.Message)
			}
		}
	})

	t.Run("Go SDK: zero start_date and empty status", func(t *testing.T) {
		var c wire.V1Component
		b.mustDo(t, http.StatusCreated, "POST", base+"/components.json", b.manager,
			`{"component":{"name":"Search","description":"","status":"","only_show_if_degraded":false,"showcase":false,"start_date":"0001-01-01T00:00:00Z"}}`).json(t, &c)
		if c.Status != "operational" || c.StartDate != nil {
			t.Fatalf("created = %+v (status %q, start_date %v)", c, c.Status, c.StartDate)
		}
		// Terraform: a full timestamp; its date is kept.
		b.mustDo(t, http.StatusOK, "PATCH", base+"/components/"+c.ID, b.manager,
			`{"component":{"name":"Search","start_date":"2024-05-01T00:00:00Z"}}`).json(t, &c)
		if c.StartDate == nil || *c.StartDate != "2024-05-01" {
			t.Fatalf("start_date = %v, want 2024-05-01", c.StartDate)
		}
		// The SDK's next update sends the zero time and "" again: nothing changes.
		b.mustDo(t, http.StatusOK, "PATCH", base+"/components/"+c.ID, b.manager,
			`{"component":{"name":"Search","status":"","start_date":"0001-01-01T00:00:00Z"}}`).json(t, &c)
		if c.StartDate == nil || *c.StartDate != "2024-05-01" || c.Status != "operational" {
			t.Errorf("after a zero-time update: %+v", c)
		}
		d := b.mustDo(t, http.StatusBadRequest, "PATCH", base+"/components/"+c.ID, b.manager, `{"component":{"start_date":"May 1st"}}`).errorOf(t)
		if d.Field != "component.start_date" {
			t.Errorf("bad start_date: field %q", d.Field)
		}
	})

	t.Run("impact_override: \"\" keeps, null clears", func(t *testing.T) {
		var inc wire.V1Incident
		b.mustDo(t, http.StatusCreated, "POST", base+"/incidents", b.manager, fmt.Sprintf(
			`{"incident":{"name":"Override","impact_override":"critical","components":{%q:"degraded_performance"}}}`, a)).json(t, &inc)
		if inc.Impact != "critical" {
			t.Fatalf("impact %q, want critical", inc.Impact)
		}
		b.mustDo(t, http.StatusOK, "PATCH", base+"/incidents/"+inc.ID, b.manager,
			`{"incident":{"status":"identified","impact_override":"","body":"Found it."}}`).json(t, &inc)
		if inc.ImpactOverride == nil || *inc.ImpactOverride != "critical" || inc.Impact != "critical" {
			t.Errorf(`after "": override %v impact %q, want critical kept`, inc.ImpactOverride, inc.Impact)
		}
		b.mustDo(t, http.StatusOK, "PATCH", base+"/incidents/"+inc.ID, b.manager, `{"incident":{"impact_override":null}}`).json(t, &inc)
		if inc.ImpactOverride != nil || inc.Impact != "minor" {
			t.Errorf("after null: override %v impact %q, want none and minor (from degraded_performance)", inc.ImpactOverride, inc.Impact)
		}
		b.mustDo(t, http.StatusOK, "PATCH", base+"/incidents/"+inc.ID, b.manager, `{"incident":{"impact_override":"major"}}`).json(t, &inc)
		if inc.Impact != "major" {
			t.Errorf("after major: impact %q", inc.Impact)
		}
		b.mustDo(t, http.StatusOK, "PATCH", base+"/incidents/"+inc.ID, b.manager, `{"incident":{"status":"resolved"}}`)
	})

	t.Run("maintenance scheduled years ahead", func(t *testing.T) {
		from := time.Date(time.Now().Year()+4, 3, 1, 22, 0, 0, 0, time.UTC)
		var m wire.V1Incident
		b.mustDo(t, http.StatusCreated, "POST", base+"/incidents.json", b.manager, fmt.Sprintf(
			`{"incident":{"name":"Datacenter move","status":"scheduled","scheduled_for":%q,"scheduled_until":%q,"component_ids":[%q]}}`,
			from.Format(time.RFC3339), from.Add(4*time.Hour).Format(time.RFC3339), a)).json(t, &m)
		if m.ScheduledFor.IsZero() || !m.ScheduledFor.Time().Equal(from) {
			t.Errorf("scheduled_for = %v, want %v", m.ScheduledFor, from)
		}
		d := b.mustDo(t, http.StatusBadRequest, "POST", base+"/incidents.json", b.manager,
			`{"incident":{"name":"Far","status":"scheduled","scheduled_for":"9999-01-01T00:00:00Z","scheduled_until":"9999-01-02T00:00:00Z"}}`).errorOf(t)
		if d.Field != "incident.scheduled_for" {
			t.Errorf("year 9999: field %q", d.Field)
		}
	})

	t.Run("metadata kept and returned", func(t *testing.T) {
		meta := `{"jira":{"issue_id":"OPS-12","url":"https://jira.example.com/browse/OPS-12"},"pagerduty":12345678901234567890,"tags":["db",null,1.50]}`
		var inc wire.V1Incident
		r := b.mustDo(t, http.StatusCreated, "POST", base+"/incidents", b.manager, `{"incident":{"name":"Meta","metadata":`+meta+`}}`)
		r.json(t, &inc)
		if !strings.Contains(string(r.body), `"metadata":`+meta) {
			t.Fatalf("metadata not returned as sent: %s", r.body)
		}
		for _, p := range []string{base + "/incidents/" + inc.ID, base + "/incidents.json"} {
			if got := b.mustDo(t, http.StatusOK, "GET", p, b.agent, ""); !strings.Contains(string(got.body), `"metadata":`+meta) {
				t.Errorf("GET %s lost the metadata: %s", p, truncate(string(got.body), 300))
			}
		}
		// An update without metadata keeps it; one with metadata replaces it.
		b.mustDo(t, http.StatusOK, "PATCH", base+"/incidents/"+inc.ID, b.manager, `{"incident":{"body":"Still on it."}}`).json(t, &inc)
		if string(inc.Metadata) != meta {
			t.Errorf("update without metadata: %s", inc.Metadata)
		}
		form(t, http.StatusOK, "PATCH", base+"/incidents/"+inc.ID+".json", url.Values{"incident[metadata][jira][issue_id]": {"OPS-13"}}).json(t, &inc)
		if string(inc.Metadata) != `{"jira":{"issue_id":"OPS-13"}}` {
			t.Errorf("form metadata: %s", inc.Metadata)
		}
		// Bounded, and an object.
		big := `{"x":"` + strings.Repeat("a", incident.MaxMetadataLen) + `"}`
		for _, bad := range []string{big, `"a string"`, `[1,2]`} {
			d := b.mustDo(t, http.StatusBadRequest, "PATCH", base+"/incidents/"+inc.ID, b.manager, `{"incident":{"metadata":`+bad+`}}`).errorOf(t)
			if d.Field != "incident.metadata" {
				t.Errorf("metadata %s: field %q", truncate(bad, 20), d.Field)
			}
		}
		b.mustDo(t, http.StatusOK, "PATCH", base+"/incidents/"+inc.ID, b.manager, `{"incident":{"status":"resolved"}}`)
	})

	t.Run("subscriber components as the generated clients parse them", func(t *testing.T) {
		b.mustDo(t, http.StatusCreated, "POST", base+"/subscribers.json", b.manager,
			`{"subscriber":{"email":"gen@example.com","component_ids":["`+a+`","`+bID+`"],"skip_confirmation_notification":true}}`)
		b.mustDo(t, http.StatusCreated, "POST", base+"/subscribers.json", b.manager,
			`{"subscriber":{"email":"all@example.com","skip_confirmation_notification":true}}`)
		// The model openapi-generator writes for Go from Statuspage's
		// published specification (Subscriber: components is a string,
		// times are time.Time).
		type generatedSubscriber struct {
			Id                           *string    `json:"id,omitempty"`
			SkipConfirmationNotification *bool      `json:"skip_confirmation_notification,omitempty"`
			Mode                         *string    `json:"mode,omitempty"`
			Email                        *string    `json:"email,omitempty"`
			Endpoint                     *string    `json:"endpoint,omitempty"`
			PhoneNumber                  *string    `json:"phone_number,omitempty"`
			PhoneCountry                 *string    `json:"phone_country,omitempty"`
			DisplayPhoneNumber           *string    `json:"display_phone_number,omitempty"`
			QuarantinedAt                *time.Time `json:"quarantined_at,omitempty"`
			PurgeAt                      *time.Time `json:"purge_at,omitempty"`
			Components                   *string    `json:"components,omitempty"`
			PageAccessUserId             *string    `json:"page_access_user_id,omitempty"`
			CreatedAt                    *time.Time `json:"created_at,omitempty"`
		}
		var subs []generatedSubscriber
		r := b.mustDo(t, http.StatusOK, "GET", base+"/subscribers.json", b.agent, "")
		if err := json.Unmarshal(r.body, &subs); err != nil {
			t.Fatalf("a generated client cannot read the subscribers: %v\n%s", err, r.body)
		}
		got := map[string]*string{}
		for _, s := range subs {
			got[*s.Email] = s.Components
		}
		if c := got["gen@example.com"]; c == nil || *c != a+","+bID {
			t.Errorf("components of a subscriber to two components: %v", c)
		}
		if c := got["all@example.com"]; c != nil {
			t.Errorf("components of a subscriber to the whole page: %q, want null", *c)
		}
	})
}
