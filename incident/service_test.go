package incident_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/store/sqlite"
)

// base is a fixed, millisecond-aligned reference time.
var base = time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// newService returns a Service on a fresh SQLite file (herald's own store
// is never mocked), a page and three components on it.
func newService(t *testing.T) (*incident.Service, *incident.Page, []*incident.Component) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := incident.NewService(db, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	now := time.Now().UTC().Truncate(time.Second)
	svc.Now = func() time.Time { return now }
	page, err := svc.CreatePage(ctx, incident.PageInput{Name: ptr("Acme"), URL: ptr("https://status.acme.test")})
	if err != nil {
		t.Fatal(err)
	}
	var comps []*incident.Component
	for _, name := range []string{"API", "Web", "SMS"} {
		c, err := svc.CreateComponent(ctx, page.ID, incident.ComponentInput{Name: ptr(name)})
		if err != nil {
			t.Fatal(err)
		}
		comps = append(comps, c)
	}
	return svc, page, comps
}

// TestEffectiveImpact checks the impact the Service derives: the override
// when set, maintenance for maintenances, else the worst status any update
// of the incident set a component to (resolving does not downgrade it).
func TestEffectiveImpact(t *testing.T) {
	type step struct {
		status     incident.Status
		components map[int]incident.ComponentStatus // index into the page's components
	}
	tests := []struct {
		name     string
		override incident.Impact
		maint    bool
		declare  map[int]incident.ComponentStatus
		steps    []step
		want     incident.Impact
	}{
		{name: "no components", want: incident.ImpactNone},
		{name: "degraded", declare: map[int]incident.ComponentStatus{0: incident.DegradedPerformance}, want: incident.ImpactMinor},
		{name: "partial outage", declare: map[int]incident.ComponentStatus{0: incident.PartialOutage}, want: incident.ImpactMajor},
		{name: "major outage", declare: map[int]incident.ComponentStatus{0: incident.MajorOutage}, want: incident.ImpactCritical},
		{name: "worst component wins", declare: map[int]incident.ComponentStatus{0: incident.DegradedPerformance, 1: incident.MajorOutage, 2: incident.PartialOutage}, want: incident.ImpactCritical},
		{name: "under maintenance is no impact", declare: map[int]incident.ComponentStatus{0: incident.UnderMaintenance}, want: incident.ImpactNone},
		{name: "override wins", override: incident.ImpactMinor, declare: map[int]incident.ComponentStatus{0: incident.MajorOutage}, want: incident.ImpactMinor},
		{name: "override to none", override: incident.ImpactNone, declare: map[int]incident.ComponentStatus{0: incident.MajorOutage}, want: incident.ImpactNone},
		{name: "maintenance", maint: true, want: incident.ImpactMaintenance},
		{name: "worsens later", declare: map[int]incident.ComponentStatus{0: incident.DegradedPerformance},
			steps: []step{{incident.Identified, map[int]incident.ComponentStatus{1: incident.PartialOutage}}}, want: incident.ImpactMajor},
		{name: "improving keeps the worst", declare: map[int]incident.ComponentStatus{0: incident.MajorOutage},
			steps: []step{{incident.Monitoring, map[int]incident.ComponentStatus{0: incident.DegradedPerformance}}}, want: incident.ImpactCritical},
		{name: "resolving keeps the worst", declare: map[int]incident.ComponentStatus{0: incident.PartialOutage},
			steps: []step{{incident.Resolved, nil}}, want: incident.ImpactMajor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			svc, page, comps := newService(t)
			in := incident.IncidentInput{Name: ptr("Trouble")}
			if tt.override != "" {
				in.ImpactOverride = ptr(tt.override)
			}
			if tt.maint {
				now := svc.Now()
				in.ScheduledFor, in.ScheduledUntil = ptr(now.Add(time.Hour)), ptr(now.Add(2*time.Hour))
				in.ComponentIDs = []string{comps[0].ID}
			}
			toIDs := func(m map[int]incident.ComponentStatus) map[string]incident.ComponentStatus {
				if m == nil {
					return nil
				}
				out := map[string]incident.ComponentStatus{}
				for i, st := range m {
					out[comps[i].ID] = st
				}
				return out
			}
			in.Components = toIDs(tt.declare)
			inc, _, err := svc.CreateIncident(ctx, page.ID, in, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range tt.steps {
				if inc, err = svc.UpdateIncident(ctx, page.ID, inc.ID, incident.IncidentInput{Status: ptr(st.status), Components: toIDs(st.components)}); err != nil {
					t.Fatal(err)
				}
			}
			if inc.Impact != tt.want {
				t.Errorf("impact = %s, want %s", inc.Impact, tt.want)
			}
			stored, err := svc.Incident(ctx, page.ID, inc.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.Impact != tt.want {
				t.Errorf("stored impact = %s, want %s", stored.Impact, tt.want)
			}
		})
	}
}

// TestResolveReturnsComponents checks that resolving hands a component back
// to operational unless another open incident still holds it.
func TestResolveReturnsComponents(t *testing.T) {
	ctx := context.Background()
	svc, page, comps := newService(t)
	api := comps[0].ID
	a, _, err := svc.CreateIncident(ctx, page.ID, incident.IncidentInput{Name: ptr("A"), Components: map[string]incident.ComponentStatus{api: incident.MajorOutage}}, "")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := svc.CreateIncident(ctx, page.ID, incident.IncidentInput{Name: ptr("B"), Components: map[string]incident.ComponentStatus{api: incident.DegradedPerformance}}, "")
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		resolve string
		want    incident.ComponentStatus
	}{
		{a.ID, incident.DegradedPerformance}, // B still says degraded
		{b.ID, incident.Operational},
	}
	for _, st := range steps {
		if _, err := svc.UpdateIncident(ctx, page.ID, st.resolve, incident.IncidentInput{Status: ptr(incident.Resolved)}); err != nil {
			t.Fatal(err)
		}
		c, err := svc.Component(ctx, page.ID, api)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != st.want {
			t.Errorf("after resolving %s: API = %s, want %s", st.resolve, c.Status, st.want)
		}
	}
}
