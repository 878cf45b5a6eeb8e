package wire

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
)

func TestZoneAt(t *testing.T) {
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2020, 2, 11, 3, 15, 1, 913_999_999, time.UTC) // milliseconds truncate, not round
	var zero time.Time
	tests := []struct {
		name string
		got  Time
		want string
	}{
		{"utc", UTC.At(t0), `"2020-02-11T03:15:01.913Z"`},
		{"utc from another zone", UTC.At(t0.In(chicago)), `"2020-02-11T03:15:01.913Z"`},
		{"utc zero is null", UTC.At(zero), `null`},
		{"utc nil is null", UTC.AtPtr(nil), `null`},
		{"utc pointer to zero is null", UTC.AtPtr(&zero), `null`},
		{"page zone", In(chicago).At(t0), `"2020-02-10T21:15:01.913-06:00"`},
		{"page zone UTC", In(time.UTC).At(t0), `"2020-02-11T03:15:01.913Z"`},
		{"page zone writes the zero time", In(time.UTC).At(zero), `"0001-01-01T00:00:00.000Z"`},
		{"page zone nil is null", In(chicago).AtPtr(nil), `null`},
		{"zero Time is null", Time{}, `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.got)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("got %s, want %s", b, tt.want)
			}
			if tt.got.IsZero() != (tt.want == "null") {
				t.Errorf("IsZero = %v for %s", tt.got.IsZero(), b)
			}
		})
	}
}

func TestOmitZero(t *testing.T) {
	type doc struct {
		A Time `json:"a,omitzero"`
		B Time `json:"b,omitzero"`
	}
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	b, err := json.Marshal(doc{A: UTC.At(at)})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":"2024-05-01T10:00:00.000Z"}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}

func TestAffectedComponents(t *testing.T) {
	one := []incident.AffectedComponent{{Code: "c1", Name: "API", OldStatus: incident.Operational, NewStatus: incident.MajorOutage}}
	tests := []struct {
		name string
		in   []incident.AffectedComponent
		want string
	}{
		{"nil is null", nil, `null`},
		{"empty stays empty", []incident.AffectedComponent{}, `[]`},
		{"one", one, `[{"code":"c1","name":"API","old_status":"operational","new_status":"major_outage"}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(AffectedComponents(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("got %s, want %s", b, tt.want)
			}
		})
	}
}

// TestShapes pins the field order of the shared objects: Statuspage's
// clients see it, and the documents that embed these rely on it.
func TestShapes(t *testing.T) {
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	p := &incident.Page{ID: "p1", URL: "https://status.example.com/"}
	c := &incident.Component{ID: "c1", PageID: "p1", Name: "A<B>", Status: incident.PartialOutage, Position: 2, GroupID: "g1",
		CreatedAt: at, UpdatedAt: at, Showcase: true}
	inc := &incident.Incident{ID: "i1", PageID: "p1", Name: "Down", Status: incident.Resolved, Impact: incident.ImpactMajor,
		CreatedAt: at, UpdatedAt: at, StartedAt: at, ResolvedAt: &at, ComponentIDs: []string{"c1"},
		Updates: []*incident.Update{{ID: "u1", IncidentID: "i1", Status: incident.Resolved, Body: "ok", CreatedAt: at, UpdatedAt: at, DisplayAt: at}}}
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"component", NewComponent(c, UTC),
			`{"id":"c1","name":"A\u003cB\u003e","status":"partial_outage","created_at":"2024-05-01T10:00:00.000Z","updated_at":"2024-05-01T10:00:00.000Z","position":2,"description":null,"showcase":true,"start_date":null,"group_id":"g1","page_id":"p1","group":false,"only_show_if_degraded":false}`},
		{"updates", NewUpdates(inc, UTC),
			`[{"id":"u1","status":"resolved","body":"ok","incident_id":"i1","created_at":"2024-05-01T10:00:00.000Z","updated_at":"2024-05-01T10:00:00.000Z","display_at":"2024-05-01T10:00:00.000Z","affected_components":null,"deliver_notifications":false,"custom_tweet":null,"tweet_id":null}]`},
		{"no updates", NewUpdates(&incident.Incident{}, UTC), `[]`},
		{"incident head", NewIncidentHead(p, inc, UTC),
			`{"id":"i1","name":"Down","status":"resolved","created_at":"2024-05-01T10:00:00.000Z","updated_at":"2024-05-01T10:00:00.000Z","monitoring_at":null,"resolved_at":"2024-05-01T10:00:00.000Z","impact":"major","shortlink":"https://status.example.com/i/i1","started_at":"2024-05-01T10:00:00.000Z","page_id":"p1"}`},
		// The management API's incident: its own order, UTC, null zero times.
		{"v1 incident", NewV1Incident(inc, p, []*incident.Component{c}),
			`{"id":"i1","page_id":"p1","name":"Down","status":"resolved","impact":"major","impact_override":null,"shortlink":"https://status.example.com/i/i1","created_at":"2024-05-01T10:00:00.000Z","updated_at":"2024-05-01T10:00:00.000Z","started_at":"2024-05-01T10:00:00.000Z","monitoring_at":null,"resolved_at":"2024-05-01T10:00:00.000Z","scheduled_for":null,"scheduled_until":null,"scheduled_remind_prior":false,"scheduled_reminded_at":null,"scheduled_auto_in_progress":false,"scheduled_auto_completed":false,"scheduled_auto_transition":false,"backfilled":false,"postmortem_body":null,"postmortem_body_last_updated_at":null,"postmortem_published_at":null,"postmortem_ignored":false,"postmortem_notified_subscribers":false,"postmortem_notified_twitter":false,"reminder_intervals":null,"metadata":{},"incident_updates":[{"id":"u1","incident_id":"i1","status":"resolved","body":"ok","created_at":"2024-05-01T10:00:00.000Z","updated_at":"2024-05-01T10:00:00.000Z","display_at":"2024-05-01T10:00:00.000Z","affected_components":null,"deliver_notifications":false,"custom_tweet":null,"tweet_id":null}],"components":[{"id":"c1","page_id":"p1","group_id":"g1","created_at":"2024-05-01T10:00:00.000Z","updated_at":"2024-05-01T10:00:00.000Z","group":false,"name":"A\u003cB\u003e","description":null,"position":2,"status":"partial_outage","showcase":true,"only_show_if_degraded":false,"start_date":null}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", b, tt.want)
			}
		})
	}
}
