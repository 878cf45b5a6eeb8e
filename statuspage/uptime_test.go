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
		{name: "no history, created mid-window: its first day counts whole", status: op, created: ts("2026-03-14T12:00:00Z"), now: now, loc: time.UTC, days: 3,
			worst: []int{-1, 0, 0}, percent: 100, hasData: true, dayHours: []float64{0, 24, 12}},
		// The case: minutes old, one minute of major outage. It
		// read "42.09 %" over "90 days"; now the bars show the day and no
		// figure until the component is a day old.
		{name: "younger than a day: bars, no figure", changes: []incident.StatusChange{
			change("2026-03-15T11:57:00Z", op), change("2026-03-15T11:58:00Z", major), change("2026-03-15T11:59:00Z", op)},
			created: ts("2026-03-15T11:57:00Z"), now: now, loc: time.UTC, days: 3, worst: []int{-1, -1, 4}, percent: 0, hasData: false,
			dayHours: []float64{0, 0, 12}},
		{name: "two days old, one minute of outage: over the days it existed", changes: []incident.StatusChange{
			change("2026-03-13T18:00:00Z", op), change("2026-03-15T11:58:00Z", major), change("2026-03-15T11:59:00Z", op)},
			created: ts("2026-03-13T18:00:00Z"), now: now, loc: time.UTC, days: 3, worst: []int{0, 0, 4}, percent: 100 * (1 - 1.0/(60*60)), hasData: true,
			dayHours: []float64{24, 24, 12}},
		{name: "start date before creation counts from that day", status: op, created: ts("2026-03-13T00:00:00Z"), now: now, loc: time.UTC, days: 3,
			worst: []int{0, 0, 0}, percent: 100, hasData: true, dayHours: []float64{24, 24, 12}},
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
			since := tc.created
			if since.IsZero() && len(tc.changes) > 0 {
				since = tc.changes[0].At
			}
			u := computeUptime(tc.changes, tc.status, since, tc.now, starts)
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

func TestExistedSince(t *testing.T) {
	budapest, _ := time.LoadLocation("Europe/Budapest")
	created := ts("2026-03-15T11:00:00Z")
	tests := []struct {
		name      string
		startDate string
		created   time.Time
		changes   []incident.StatusChange
		want      time.Time
	}{
		{"created", "", created, nil, created},
		{"an earlier start date, at midnight in the page's zone", "2026-03-01", created, nil, ts("2026-02-28T23:00:00Z")},
		{"a later start date does not hide history", "2026-04-01", created, nil, created},
		{"neither: the first recorded status", "", time.Time{}, []incident.StatusChange{{At: ts("2026-02-01T00:00:00Z")}}, ts("2026-02-01T00:00:00Z")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &incident.Component{CreatedAt: tc.created, StartDate: tc.startDate}
			if got := existedSince(c, tc.changes, budapest); !got.Equal(tc.want) {
				t.Errorf("got %s, want %s", got, tc.want)
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
