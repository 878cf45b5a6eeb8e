package wire

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
)

// roundTrip decodes body into a new T, writes it and decodes that again:
// what a Go client (the CLI) sends of what it read must mean the same.
func roundTrip[T any](t *testing.T, body string) T {
	t.Helper()
	var first, second T
	if err := json.Unmarshal([]byte(body), &first); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	b, err := json.Marshal(first)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &second); err != nil {
		t.Fatalf("decode again %s: %v", b, err)
	}
	if !reflect.DeepEqual(first, second) {
		t.Errorf("round trip changed the request:\n%+v\n%+v\nvia %s", first, second, b)
	}
	return second
}

func ptr[T any](v T) *T { return &v }

func utc(s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	t = t.UTC()
	return &t
}

// TestIncidentRequestFromStatuspageClients reads the bodies Statuspage's
// clients send (fields as developer.statuspage.io documents them, and the
// ones herald does not model) into the Service's input.
func TestIncidentRequestFromStatuspageClients(t *testing.T) {
	tests := []struct {
		name string
		body string
		want incident.IncidentInput
	}{
		{"declare with components as a map",
			`{"incident":{"name":"API down","status":"investigating","impact_override":"major","body":"Looking.",
			"component_ids":["c1","c2"],"components":{"c1":"major_outage","c2":"degraded_performance"},
			"deliver_notifications":true,"auto_tweet_at_beginning":false,"metadata":{"jira":{"issue":"OPS-1"}}}}`,
			incident.IncidentInput{Name: ptr("API down"), Status: ptr(incident.Investigating), ImpactOverride: ptr(incident.ImpactMajor),
				Body: ptr("Looking."), ComponentIDs: []string{"c1", "c2"},
				Components:           map[string]incident.ComponentStatus{"c1": incident.MajorOutage, "c2": incident.DegradedPerformance},
				DeliverNotifications: ptr(true), Metadata: json.RawMessage(`{"jira":{"issue":"OPS-1"}}`)}},
		{"impact_override \"\" leaves the override alone",
			`{"incident":{"impact_override":""}}`,
			incident.IncidentInput{}},
		{"deliver_notifications false is kept",
			`{"incident":{"status":"resolved","deliver_notifications":false}}`,
			incident.IncidentInput{Status: ptr(incident.Resolved), DeliverNotifications: ptr(false)}},
		{"empty component lists are not absent ones",
			`{"incident":{"component_ids":[],"components":{}}}`,
			incident.IncidentInput{ComponentIDs: []string{}, Components: map[string]incident.ComponentStatus{}}},
		{"null fields are absent",
			`{"incident":{"name":null,"component_ids":null,"components":null,"deliver_notifications":null,"scheduled_for":null}}`,
			incident.IncidentInput{}},
		{"maintenance, times with milliseconds and offsets, the older auto-transition name",
			`{"incident":{"name":"DB upgrade","status":"scheduled","scheduled_for":"2024-05-01T10:00:00.000Z",
			"scheduled_until":"2024-05-01T14:00:00+02:00","scheduled_remind_prior":true,"scheduled_auto_transition":true,
			"scheduled_auto_completed":false}}`,
			incident.IncidentInput{Name: ptr("DB upgrade"), Status: ptr(incident.Scheduled), ScheduledFor: utc("2024-05-01T10:00:00Z"),
				ScheduledUntil: utc("2024-05-01T12:00:00Z"), ScheduledRemindPrior: ptr(true), ScheduledAutoInProgress: ptr(true),
				ScheduledAutoCompleted: ptr(false)}},
		{"scheduled_auto_in_progress wins over the older name",
			`{"incident":{"scheduled_auto_in_progress":false,"scheduled_auto_transition":true}}`,
			incident.IncidentInput{ScheduledAutoInProgress: ptr(false)}},
		{"empty times are no time",
			`{"incident":{"scheduled_for":"","scheduled_until":"  ","created_at":""}}`,
			incident.IncidentInput{}},
		{"backfill: backfill_date as a plain date wins over created_at",
			`{"incident":{"name":"Old","status":"resolved","backfilled":true,"backfill_date":"2024-04-30","created_at":"2024-01-01T00:00:00Z",
			"auto_transition_to_operational_state":false,"postmortem_body":"What happened."}}`,
			incident.IncidentInput{Name: ptr("Old"), Status: ptr(incident.Resolved), Backfilled: ptr(true), CreatedAt: utc("2024-04-30T00:00:00Z"),
				AutoTransitionToOperational: ptr(false), PostmortemBody: ptr("What happened.")}},
		{"backfill: created_at without a zone is UTC",
			`{"incident":{"backfilled":true,"created_at":"2024-04-30 08:15:00"}}`,
			incident.IncidentInput{Backfilled: ptr(true), CreatedAt: utc("2024-04-30T08:15:00Z")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := roundTrip[IncidentRequest](t, tt.body)
			got, err := req.Incident.Input()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestIncidentRequestBadTime(t *testing.T) {
	tests := []struct{ body, field string }{
		{`{"incident":{"scheduled_for":"tomorrow"}}`, "incident.scheduled_for"},
		{`{"incident":{"scheduled_until":"2024-13-01T00:00:00Z"}}`, "incident.scheduled_until"},
		{`{"incident":{"created_at":"01/05/2024"}}`, "incident.created_at"},
		{`{"incident":{"backfill_date":"yesterday","created_at":"2024-01-01"}}`, "incident.backfill_date"},
	}
	for _, tt := range tests {
		var req IncidentRequest
		if err := json.Unmarshal([]byte(tt.body), &req); err != nil {
			t.Fatal(err)
		}
		_, err := req.Incident.Input()
		var de *incident.Error
		if !errors.As(err, &de) || de.Field != tt.field || de.Code != incident.EINVALID {
			t.Errorf("%s: got %v, want an invalid %s", tt.body, err, tt.field)
		}
	}
}

// TestRequestsFromGo pins what a client in Go (the CLI) sends: only the
// fields it set.
func TestRequestsFromGo(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"incident", IncidentRequest{Incident: &IncidentFields{Name: ptr("Down"), Status: Nullable(""), Body: ptr(""),
			Components: map[string]string{"c1": "major_outage"}, ComponentIDs: []string{"c1"}, DeliverNotifications: ptr(false)}},
			`{"incident":{"name":"Down","body":"","component_ids":["c1"],"components":{"c1":"major_outage"},"deliver_notifications":false}}`},
		{"nothing", IncidentRequest{Incident: &IncidentFields{}}, `{"incident":{}}`},
		{"component", ComponentRequest{Component: &ComponentFields{Name: ptr("API"), Description: Nullable("")}}, `{"component":{"name":"API"}}`},
		{"subscriber", SubscriberRequest{Subscriber: &SubscriberFields{Email: ptr("a@example.com"), ComponentIDs: []string{"c1"}}},
			`{"subscriber":{"email":"a@example.com","component_ids":["c1"],"skip_confirmation_notification":false}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("got  %s\nwant %s", b, tt.want)
			}
		})
	}
}

func TestOtherRequests(t *testing.T) {
	p := roundTrip[PageRequest](t, `{"page":{"name":"Acme","time_zone":"Europe/Budapest","hosts":["status.acme.test"],"domain":"Status.Acme.HU"}}`)
	if got := p.Page.Input(); !reflect.DeepEqual(got.Hosts, []string{"status.acme.test", "status.acme.hu"}) || *got.Name != "Acme" {
		t.Errorf("page input %+v", got)
	}
	c := roundTrip[ComponentRequest](t, `{"component":{"name":"API","status":"degraded_performance","showcase":false,"group_id":"","position":0}}`)
	if got := c.Component.Input(); *got.Status != incident.DegradedPerformance || *got.Showcase || *got.GroupID != "" || *got.Position != 0 {
		t.Errorf("component input %+v", got)
	}
	// Statuspage documents description beside component_group; inside wins.
	g := roundTrip[ComponentGroupRequest](t, `{"description":"outside","component_group":{"name":"Core","components":["c1","c2"]}}`)
	if got := g.Input(); *got.Description != "outside" || !reflect.DeepEqual(got.ComponentIDs, []string{"c1", "c2"}) {
		t.Errorf("group input %+v", got)
	}
	g = roundTrip[ComponentGroupRequest](t, `{"description":"outside","component_group":{"description":"inside","components":[]}}`)
	if got := g.Input(); *got.Description != "inside" || got.ComponentIDs == nil {
		t.Errorf("group input %+v", got)
	}
	s := roundTrip[SubscriberRequest](t, `{"subscriber":{"phone_number":"20 123 4567","phone_country":"HU","component_ids":["c1"],"skip_confirmation_notification":true}}`)
	if sf := s.Subscriber; *sf.PhoneNumber != "20 123 4567" || *sf.PhoneCountry != "HU" || !sf.SkipConfirmationNotification || sf.Email != nil {
		t.Errorf("subscriber %+v", sf)
	}
}

// TestResponsesRoundTrip: what the server writes, a Go client reads and
// writes again byte for byte, null and zero times included.
func TestResponsesRoundTrip(t *testing.T) {
	at := time.Date(2024, 5, 1, 10, 0, 0, 913e6, time.UTC)
	p := &incident.Page{ID: "p1", URL: "https://status.example.com/", CreatedAt: at, UpdatedAt: at}
	comps := []*incident.Component{
		{ID: "g1", PageID: "p1", Name: "Core", Group: true, CreatedAt: at, UpdatedAt: at},
		{ID: "c1", PageID: "p1", Name: "API", GroupID: "g1", Status: incident.MajorOutage, CreatedAt: at, UpdatedAt: at},
	}
	inc := &incident.Incident{ID: "i1", PageID: "p1", Name: "Down", Status: incident.Investigating, Impact: incident.ImpactMajor,
		CreatedAt: at, UpdatedAt: at, StartedAt: at, ComponentIDs: []string{"c1"},
		Updates: []*incident.Update{{ID: "u1", IncidentID: "i1", Status: incident.Investigating, Body: "x", CreatedAt: at, UpdatedAt: at, DisplayAt: at,
			AffectedComponents: []incident.AffectedComponent{}, DeliverNotifications: true}}}
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, v any, into any) {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, into); err != nil {
				t.Fatal(err)
			}
			again, err := json.Marshal(into)
			if err != nil {
				t.Fatal(err)
			}
			if string(again) != string(b) {
				t.Errorf("wrote\n%s\nread and wrote\n%s", b, again)
			}
		})
	}
	check("page", NewPage(p), &Page{})
	check("v1 component", NewV1Component(comps[0], comps), &V1Component{})
	check("v1 incident", NewV1Incident(inc, p, comps), &V1Incident{})
	check("token", NewToken(&incident.Token{ID: "t1", Role: "agent", CreatedAt: at}), &Token{})
	check("webhook", Webhook{Meta: WebhookMeta{GeneratedAt: UTC.At(at)}, Incident: NewWebhookIncident(p, inc, comps)}, &Webhook{})
	check("v2 component in the page's zone", NewComponent(comps[1], In(chicago)), &Component{})
	check("v2 zero time", NewComponent(&incident.Component{}, In(time.UTC)), &Component{})

	var got V1Incident
	if err := json.Unmarshal([]byte(`{"created_at":"2024-05-01T10:00:00.913Z","resolved_at":null,"scheduled_for":""}`), &got); err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Time().Equal(at) || !got.ResolvedAt.IsZero() || !got.ResolvedAt.Time().IsZero() || !got.ScheduledFor.IsZero() {
		t.Errorf("times %+v", got)
	}
	var c Component
	if err := json.Unmarshal([]byte(`{"created_at":"2024-05-01T05:00:00.913-05:00"}`), &c); err != nil {
		t.Fatal(err)
	}
	if !c.CreatedAt.Time().Equal(at) {
		t.Errorf("page-zone time read as %v", c.CreatedAt.Time())
	}
	for _, bad := range []string{`"yesterday"`, `12`, `true`, `{}`} {
		var tm Time
		if err := json.Unmarshal([]byte(bad), &tm); err == nil {
			t.Errorf("time %s read as %+v", bad, tm)
		}
	}
}
