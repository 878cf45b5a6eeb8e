package compensation

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/incident"
)

// t0 is 10:00 UTC; at(m) is m minutes later.
var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func at(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

func ptr[T any](v T) *T { return &v }

func change(comp string, m int, s incident.ComponentStatus) incident.StatusChange {
	return incident.StatusChange{PageID: "p", ComponentID: comp, Status: s, At: at(m)}
}

const (
	up    = incident.Operational
	deg   = incident.DegradedPerformance
	part  = incident.PartialOutage
	major = incident.MajorOutage
	maint = incident.UnderMaintenance
)

func TestAffected(t *testing.T) {
	resolved := func(startMin, endMin int, comps ...string) *incident.Incident {
		return &incident.Incident{ID: "i", PageID: "p", StartedAt: at(startMin), ResolvedAt: ptr(at(endMin)), ComponentIDs: comps}
	}
	tests := []struct {
		name    string
		inc     *incident.Incident
		history []incident.StatusChange
		comps   []string
		now     time.Time
		want    map[string]int // minutes per component
		total   int            // minutes, the union
		longest int
	}{
		{
			name:    "one outage inside the window",
			inc:     resolved(0, 120, "api"),
			history: []incident.StatusChange{change("api", 10, major), change("api", 70, up)},
			comps:   []string{"api"},
			want:    map[string]int{"api": 60}, total: 60, longest: 60,
		},
		{
			name:    "clipped to the window: down before the start and after the end",
			inc:     resolved(0, 90, "api"),
			history: []incident.StatusChange{change("api", -30, part), change("api", 200, up)},
			comps:   []string{"api"},
			want:    map[string]int{"api": 90}, total: 90, longest: 90,
		},
		{
			name: "the last change before the window sets the starting status",
			inc:  resolved(0, 60, "api"),
			history: []incident.StatusChange{
				change("api", -300, major), change("api", -100, up), // an earlier outage, over before the start
				change("api", 20, deg), change("api", 30, up),
			},
			comps: []string{"api"},
			want:  map[string]int{"api": 10}, total: 10, longest: 10,
		},
		{
			name: "flapping: three intervals add up",
			inc:  resolved(0, 120, "api"),
			history: []incident.StatusChange{
				change("api", 0, major), change("api", 5, up),
				change("api", 20, part), change("api", 30, up),
				change("api", 100, deg), change("api", 115, up),
			},
			comps: []string{"api"},
			want:  map[string]int{"api": 30}, total: 30, longest: 30,
		},
		{
			name:    "worsening without recovery is one interval",
			inc:     resolved(0, 60, "api"),
			history: []incident.StatusChange{change("api", 10, deg), change("api", 20, part), change("api", 30, major), change("api", 40, up)},
			comps:   []string{"api"},
			want:    map[string]int{"api": 30}, total: 30, longest: 30,
		},
		{
			name:    "under maintenance does not count",
			inc:     resolved(0, 120, "api"),
			history: []incident.StatusChange{change("api", 0, maint), change("api", 60, major), change("api", 90, maint), change("api", 110, up)},
			comps:   []string{"api"},
			want:    map[string]int{"api": 30}, total: 30, longest: 30,
		},
		{
			name: "changes out of order are sorted",
			inc:  resolved(0, 120, "api"),
			history: []incident.StatusChange{
				change("api", 70, up), change("api", 10, major), change("api", -5, up),
			},
			comps: []string{"api"},
			want:  map[string]int{"api": 60}, total: 60, longest: 60,
		},
		{
			name:    "a component with no history was operational",
			inc:     resolved(0, 120, "api", "web"),
			history: []incident.StatusChange{change("api", 10, major), change("api", 70, up)},
			comps:   []string{"web"},
			want:    map[string]int{}, total: 0, longest: 0,
		},
		{
			name:    "no history at all",
			inc:     resolved(0, 120, "api"),
			history: nil,
			comps:   []string{"api"},
			want:    map[string]int{}, total: 0, longest: 0,
		},
		{
			name: "two components: the total counts overlapping time once",
			inc:  resolved(0, 180, "api", "web"),
			history: []incident.StatusChange{
				change("api", 0, major), change("api", 60, up), // 0-60
				change("web", 30, part), change("web", 90, up), // 30-90
			},
			comps: []string{"api", "web"},
			want:  map[string]int{"api": 60, "web": 60}, total: 90, longest: 60,
		},
		{
			name: "only the customer's components",
			inc:  resolved(0, 180, "api", "web"),
			history: []incident.StatusChange{
				change("api", 0, major), change("api", 60, up),
				change("web", 30, part), change("web", 90, up),
			},
			comps: []string{"web", "billing"},
			want:  map[string]int{"web": 60}, total: 60, longest: 60,
		},
		{
			name: "no components: the customer uses everything the incident covers",
			inc:  resolved(0, 180, "api", "web"),
			history: []incident.StatusChange{
				change("api", 0, major), change("api", 60, up),
				change("web", 120, part), change("web", 150, up),
			},
			comps: nil,
			want:  map[string]int{"api": 60, "web": 30}, total: 90, longest: 60,
		},
		{
			name: "overlapping incidents: another incident's component does not count",
			inc:  resolved(0, 120, "api"),
			history: []incident.StatusChange{
				change("api", 0, major), change("api", 30, up),
				change("db", 0, major), change("db", 120, up), // the other incident's outage
			},
			comps: []string{"api", "db"},
			want:  map[string]int{"api": 30}, total: 30, longest: 30,
		},
		{
			name: "overlapping incidents on one component: only this incident's window",
			inc:  resolved(60, 120, "api"), // the second incident, declared while api was already down
			history: []incident.StatusChange{
				change("api", 0, major), change("api", 90, up),
			},
			comps: []string{"api"},
			want:  map[string]int{"api": 30}, total: 30, longest: 30,
		},
		{
			name:    "unresolved: clipped at now",
			inc:     &incident.Incident{ID: "i", PageID: "p", StartedAt: at(0), ComponentIDs: []string{"api"}},
			history: []incident.StatusChange{change("api", 10, major)},
			comps:   []string{"api"},
			now:     at(55),
			want:    map[string]int{"api": 45}, total: 45, longest: 45,
		},
		{
			name:    "unresolved, now before the start: nothing yet",
			inc:     &incident.Incident{ID: "i", PageID: "p", StartedAt: at(0), ComponentIDs: []string{"api"}},
			history: []incident.StatusChange{change("api", -10, major)},
			comps:   []string{"api"},
			now:     at(-5),
			want:    map[string]int{}, total: 0, longest: 0,
		},
		{
			name: "a scheduled maintenance is never eligible",
			inc: &incident.Incident{ID: "m", PageID: "p", StartedAt: at(0), ResolvedAt: ptr(at(60)),
				ScheduledFor: ptr(at(0)), ScheduledUntil: ptr(at(60)), ComponentIDs: []string{"api"}},
			history: []incident.StatusChange{change("api", 0, major), change("api", 60, up)},
			comps:   []string{"api"},
			want:    map[string]int{}, total: 0, longest: 0,
		},
		{
			name:    "another page's history is ignored",
			inc:     resolved(0, 60, "api"),
			history: []incident.StatusChange{{PageID: "other", ComponentID: "api", Status: major, At: at(0)}},
			comps:   []string{"api"},
			want:    map[string]int{}, total: 0, longest: 0,
		},
		{
			name:    "a change at the end of the window does not count after it",
			inc:     resolved(0, 60, "api"),
			history: []incident.StatusChange{change("api", 60, major)},
			comps:   []string{"api"},
			want:    map[string]int{}, total: 0, longest: 0,
		},
		{
			name:    "same instant: the later change wins",
			inc:     resolved(0, 60, "api"),
			history: []incident.StatusChange{change("api", 10, up), change("api", 10, major), change("api", 40, up)},
			comps:   []string{"api"},
			want:    map[string]int{"api": 30}, total: 30, longest: 30,
		},
		{
			name: "an incident without components counts every component",
			inc:  resolved(0, 60),
			history: []incident.StatusChange{
				change("api", 0, major), change("api", 20, up),
				change("web", 10, deg), change("web", 50, up),
			},
			comps: []string{"api", "web"},
			want:  map[string]int{"api": 20, "web": 40}, total: 50, longest: 40,
		},
		{
			name:    "a customer's component listed twice counts once",
			inc:     resolved(0, 60, "api"),
			history: []incident.StatusChange{change("api", 0, major), change("api", 20, up)},
			comps:   []string{"api", "api"},
			want:    map[string]int{"api": 20}, total: 20, longest: 20,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = at(10000)
			}
			got := Affected(tt.inc, tt.history, tt.comps, now)
			if len(got.Components) != len(tt.want) {
				t.Errorf("components = %+v, want %v", got.Components, tt.want)
			}
			for id, m := range tt.want {
				if d := got.On(id); d != time.Duration(m)*time.Minute {
					t.Errorf("%s: %v, want %d min", id, d, m)
				}
			}
			if got.Total != time.Duration(tt.total)*time.Minute || got.Minutes() != tt.total {
				t.Errorf("total = %v, want %d min", got.Total, tt.total)
			}
			if got.Longest != time.Duration(tt.longest)*time.Minute {
				t.Errorf("longest = %v, want %d min", got.Longest, tt.longest)
			}
		})
	}
}

func TestTimelineIntervals(t *testing.T) {
	inc := &incident.Incident{ID: "i", PageID: "p", StartedAt: at(0), ResolvedAt: ptr(at(120)), ComponentIDs: []string{"api"}}
	tl := NewTimeline(inc, []incident.StatusChange{
		change("api", -10, major), change("api", 5, up), change("api", 20, deg), change("api", 25, major), change("api", 30, up),
	}, at(500))
	want := []Interval{{at(0), at(5)}, {at(20), at(30)}}
	a := tl.For([]string{"api"})
	if len(a.Components) != 1 || len(a.Components[0].Intervals) != len(want) {
		t.Fatalf("components = %+v", a.Components)
	}
	for i, iv := range a.Components[0].Intervals {
		if !iv.From.Equal(want[i].From) || !iv.To.Equal(want[i].To) {
			t.Errorf("interval %d = %v–%v, want %v–%v", i, iv.From, iv.To, want[i].From, want[i].To)
		}
	}
	// ForInto reuses memory and forgets the previous customer.
	a2 := tl.For([]string{"api"})
	tl.ForInto(&a2, []string{"web"})
	if a2.Total != 0 || len(a2.Components) != 0 {
		t.Errorf("reused AffectedTime kept %+v", a2)
	}
}

// TestCustomerInto: a customer first imported after the incident ended
// is not affected; their customer_since, when given, decides instead; for
// a backfilled incident only customer_since counts.
func TestCustomerInto(t *testing.T) {
	start := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	end := start.Add(time.Hour)
	inc := &incident.Incident{ID: "i", PageID: "p", StartedAt: start, ResolvedAt: &end, ComponentIDs: []string{"api"}}
	history := []incident.StatusChange{{PageID: "p", ComponentID: "api", Status: incident.MajorOutage, At: start}}
	for _, tc := range []struct {
		name       string
		created    time.Time
		since      string
		backfilled bool
		affected   bool
	}{
		{"imported before", start.Add(-time.Hour), "", false, true},
		{"imported during", start.Add(time.Minute), "", false, true},
		{"imported after", end.Add(time.Minute), "", false, false},
		{"imported after, customer since long before", end.Add(time.Minute), "2019-04-01", false, true},
		{"imported before, customer since after", start.Add(-time.Hour), end.Add(time.Hour).Format(time.RFC3339), false, false},
		{"imported after a backfilled incident", end.Add(time.Minute), "", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := *inc
			in.Backfilled = tc.backfilled
			c := &audience.Customer{ID: "c", CreatedAt: tc.created, Components: []string{"api"}}
			if tc.since != "" {
				c.Attributes = map[string]string{audience.SinceAttribute: tc.since}
			}
			var a AffectedTime
			NewTimeline(&in, history, end.Add(24*time.Hour)).CustomerInto(&a, c)
			if got := a.Total > 0; got != tc.affected || got == !a.Joined.IsZero() {
				t.Errorf("affected %v (total %s, joined %s), want %v", got, a.Total, a.Joined, tc.affected)
			}
		})
	}
	// While the incident lasts, a customer imported after the timeline was
	// computed (a cached one ends at that moment) is affected.
	open := *inc
	open.ResolvedAt = nil
	tl := NewTimeline(&open, history, start.Add(30*time.Minute))
	var a AffectedTime
	tl.CustomerInto(&a, &audience.Customer{ID: "late", CreatedAt: start.Add(45 * time.Minute), Components: []string{"api"}})
	if a.Total == 0 || !a.Joined.IsZero() {
		t.Errorf("a customer imported during an open incident: total %s, joined %s", a.Total, a.Joined)
	}
}
