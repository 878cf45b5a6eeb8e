package statuspage

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
)

func TestComputeUptime(t *testing.T) {
	budapest, _ := time.LoadLocation("Europe/Budapest")
	change := func(at string, st incident.ComponentStatus) incident.StatusChange {
		return incident.StatusChange{ComponentID: "c", Status: st, At: ts(at)}
	}
	const (
		op    = incident.Operational
		maint = incident.UnderMaintenance
		deg   = incident.DegradedPerformance
		part  = incident.PartialOutage
		major = incident.MajorOutage
	)
	// Three days in UTC: Mar 13, Mar 14 and Mar 15 until noon (60 h known
	// when the component existed throughout).
	now := ts("2026-03-15T12:00:00Z")
	tests := []struct {
		name     string
		changes  []incident.StatusChange
		status   incident.ComponentStatus
		created  time.Time
		now      time.Time
		loc      *time.Location
		days     int
		worst    []int // per day: index into ComponentStatuses, -1 for no data
		percent  float64
		hasData  bool
		dayHours []float64 // known hours per day, when checked
	}{
		{name: "no history: current status since creation", status: op, created: ts("2026-01-01T00:00:00Z"), now: now, loc: time.UTC, days: 3,
			worst: []int{0, 0, 0}, percent: 100, hasData: true, dayHours: []float64{24, 24, 12}},
		{name: "no history, created mid-window", status: op, created: ts("2026-03-14T12:00:00Z"), now: now, loc: time.UTC, days: 3,
			worst: []int{-1, 0, 0}, percent: 100, hasData: true, dayHours: []float64{0, 12, 12}},
		{name: "state before the window carries in", changes: []incident.StatusChange{change("2026-02-01T00:00:00Z", major)},
			status: major, now: now, loc: time.UTC, days: 3, worst: []int{4, 4, 4}, percent: 0, hasData: true},
		{name: "major outage of 6 h", changes: []incident.StatusChange{
			change("2026-01-01T00:00:00Z", op), change("2026-03-14T06:00:00Z", major), change("2026-03-14T12:00:00Z", op)},
			now: now, loc: time.UTC, days: 3, worst: []int{0, 4, 0}, percent: 100 * (1 - 6.0/60), hasData: true},
		{name: "partial outage weighs 0.3", changes: []incident.StatusChange{
			change("2026-01-01T00:00:00Z", op), change("2026-03-13T00:00:00Z", part), change("2026-03-13T10:00:00Z", op)},
			now: now, loc: time.UTC, days: 3, worst: []int{3, 0, 0}, percent: 100 * (1 - 3.0/60), hasData: true},
		{name: "degraded and maintenance are not downtime", changes: []incident.StatusChange{
			change("2026-01-01T00:00:00Z", deg), change("2026-03-14T00:00:00Z", maint), change("2026-03-15T00:00:00Z", op)},
			now: now, loc: time.UTC, days: 3, worst: []int{2, 1, 0}, percent: 100, hasData: true},
		{name: "outage across midnight splits over two days", changes: []incident.StatusChange{
			change("2026-01-01T00:00:00Z", op), change("2026-03-13T22:00:00Z", major), change("2026-03-14T02:00:00Z", op)},
			now: now, loc: time.UTC, days: 3, worst: []int{4, 4, 0}, percent: 100 * (1 - 4.0/60), hasData: true},
		{name: "worst status of the day wins the colour", changes: []incident.StatusChange{
			change("2026-01-01T00:00:00Z", op), change("2026-03-15T01:00:00Z", deg), change("2026-03-15T02:00:00Z", major), change("2026-03-15T02:01:00Z", deg)},
			status: deg, now: now, loc: time.UTC, days: 3, worst: []int{0, 0, 4}, percent: 100 * (1 - (1.0/60)/60), hasData: true},
		{name: "created after the window: no data", status: op, created: ts("2026-03-16T00:00:00Z"), now: now, loc: time.UTC, days: 3,
			worst: []int{-1, -1, -1}, percent: 0, hasData: false},
		{name: "days follow the page's zone across DST", status: op, created: ts("2026-01-01T00:00:00Z"),
			now: ts("2026-03-30T10:00:00Z"), loc: budapest, days: 3,
			worst: []int{0, 0, 0}, percent: 100, hasData: true, dayHours: []float64{24, 23, 12}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			starts := dayStarts(tc.now, tc.loc, tc.days)
			u := computeUptime(tc.changes, tc.status, tc.created, tc.now, starts)
			if len(u.Days) != tc.days {
				t.Fatalf("%d days, want %d", len(u.Days), tc.days)
			}
			for i, d := range u.Days {
				if w := d.worst(); w != tc.worst[i] {
					t.Errorf("day %d (%s): worst %d, want %d", i, d.Start.Format(time.DateOnly), w, tc.worst[i])
				}
				if tc.dayHours != nil && d.Known.Hours() != tc.dayHours[i] {
					t.Errorf("day %d: %.2f h known, want %.2f", i, d.Known.Hours(), tc.dayHours[i])
				}
			}
			if u.HasData != tc.hasData || math.Abs(u.Percent-tc.percent) > 1e-9 {
				t.Errorf("percent %.6f (data %v), want %.6f (%v)", u.Percent, u.HasData, tc.percent, tc.hasData)
			}
		})
	}
}

func TestUptimeBars(t *testing.T) {
	all, err := loadLangs()
	if err != nil {
		t.Fatal(err)
	}
	now := ts("2026-03-15T12:00:00Z")
	starts := dayStarts(now, time.UTC, 3)
	u := computeUptime([]incident.StatusChange{
		{Status: incident.Operational, At: ts("2026-03-14T00:00:00Z")},
		{Status: incident.MajorOutage, At: ts("2026-03-15T01:00:00Z")},
		{Status: incident.Operational, At: ts("2026-03-15T02:30:00Z")},
	}, incident.Operational, time.Time{}, now, starts)
	html, problems := uptimeBars(all["en"], newDayTitles(all["en"], starts), &u)
	want := `<li class="nd"></li>` +
		`<li class="s0"></li>` +
		`<li class="s4" title="Mar 15, 2026: Major outage 1 h 30 min"></li>`
	if string(html) != want {
		t.Errorf("bars\n got %s\nwant %s", html, want)
	}
	if strings.Join(problems, "|") != "Mar 15, 2026: Major outage 1 h 30 min" {
		t.Errorf("problems %q", problems)
	}
}
