package statuspage

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/store/sqlite"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// env is a Service on a real SQLite store in a temporary directory.
type env struct {
	db     *sqlite.DB
	svc    *incident.Service
	events *incident.LocalEvents
	clock  *clock
	site   *Site
}

func newEnv(t testing.TB, now time.Time) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	c := &clock{t: now}
	db.Now = c.Now
	ev := incident.NewLocalEvents()
	svc := incident.NewService(db, ev, quiet)
	svc.Now = c.Now
	return &env{db: db, svc: svc, events: ev, clock: c, site: New(svc, ev, Options{Log: quiet, Now: c.Now})}
}

func (e *env) commit(t testing.TB, ch *incident.Change) {
	t.Helper()
	if err := e.db.Commit(context.Background(), ch); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func tp(s string) *time.Time { t := ts(s); return &t }

// scenarioNow is the fixed clock of the golden scenario.
var scenarioNow = ts("2026-03-15T12:00:00.000Z")

const scenarioPage = "page00000001"

// seedScenario writes the golden scenario with fixed IDs and times straight
// into the store: a page, a group with two members, three more components,
// three incidents (one open) and two maintenances (one upcoming, one in
// progress).
func seedScenario(t testing.TB, e *env) *incident.Page {
	t.Helper()
	created := ts("2025-12-01T00:00:00.000Z")
	p := &incident.Page{ID: scenarioPage, Name: "Acme", URL: "https://status.acme.test", TimeZone: "Etc/UTC",
		Languages: []string{"en", "hu", "pl", "hr"}, Hosts: []string{}, CreatedAt: created, UpdatedAt: ts("2026-01-05T09:30:00.250Z")}
	comp := func(id, name, desc string, st incident.ComponentStatus, pos int, group string, isGroup bool, at time.Time) *incident.Component {
		return &incident.Component{ID: id, PageID: p.ID, Name: name, Description: desc, Status: st, Position: pos, GroupID: group,
			Group: isGroup, Showcase: !isGroup, CreatedAt: at, UpdatedAt: at}
	}
	web := comp("cmpweb000001", "Website", "", incident.Operational, 0, "", false, created)
	web.StartDate = "2025-01-01"
	grp := comp("grp000000001", "API", "Everything under api.acme.test", incident.DegradedPerformance, 1, "", true, created)
	rest := comp("cmpapi000001", "REST API", "Public REST API", incident.DegradedPerformance, 2, grp.ID, false, created)
	rest.UpdatedAt = ts("2026-03-15T11:00:00.000Z")
	grp.UpdatedAt = rest.UpdatedAt
	hooks := comp("cmpapi000002", "Webhooks", "", incident.Operational, 3, grp.ID, false, created)
	sms := comp("cmpsms000001", "SMS notifications", "", incident.UnderMaintenance, 4, "", false, ts("2026-02-01T00:00:00.000Z"))
	sms.UpdatedAt = ts("2026-03-15T11:30:00.000Z")
	hidden := comp("cmphid000001", "Legacy FTP", "", incident.Operational, 5, "", false, created)
	hidden.OnlyShowIfDegraded, hidden.Showcase = true, false
	comps := []*incident.Component{web, grp, rest, hooks, sms, hidden}

	var changes []incident.StatusChange
	for _, c := range comps {
		if !c.Group {
			st := incident.Operational
			changes = append(changes, incident.StatusChange{PageID: p.ID, ComponentID: c.ID, Status: st, At: c.CreatedAt})
		}
	}
	changes = append(changes,
		incident.StatusChange{PageID: p.ID, ComponentID: web.ID, Status: incident.MajorOutage, At: ts("2026-03-10T08:00:00.000Z")},
		incident.StatusChange{PageID: p.ID, ComponentID: web.ID, Status: incident.PartialOutage, At: ts("2026-03-10T09:00:00.000Z")},
		incident.StatusChange{PageID: p.ID, ComponentID: web.ID, Status: incident.Operational, At: ts("2026-03-10T10:00:00.000Z")},
		incident.StatusChange{PageID: p.ID, ComponentID: rest.ID, Status: incident.DegradedPerformance, At: ts("2026-03-15T11:00:00.000Z")},
		incident.StatusChange{PageID: p.ID, ComponentID: sms.ID, Status: incident.UnderMaintenance, At: ts("2026-03-15T11:30:00.000Z")},
	)

	upd := func(id, inc string, st incident.Status, body, at string, ac []incident.AffectedComponent) *incident.Update {
		return &incident.Update{ID: id, IncidentID: inc, Status: st, Body: body, CreatedAt: ts(at), UpdatedAt: ts(at), DisplayAt: ts(at),
			AffectedComponents: ac, DeliverNotifications: true}
	}
	open := &incident.Incident{ID: "inc000000001", PageID: p.ID, Name: "Elevated API errors", Status: incident.Identified,
		Impact: incident.ImpactMinor, ComponentIDs: []string{rest.ID}, CreatedAt: ts("2026-03-15T11:00:00.000Z"),
		UpdatedAt: ts("2026-03-15T11:20:00.500Z"), StartedAt: ts("2026-03-15T11:00:00.000Z"), Version: 1,
		ScheduledAutoInProgress: true, ScheduledAutoCompleted: true,
		Updates: []*incident.Update{
			upd("upd000000002", "inc000000001", incident.Identified, "We found the cause: a **bad deploy**.\nRolling back now; see [the changelog](https://acme.test/changes?a=1&b=2).", "2026-03-15T11:20:00.500Z", nil),
			upd("upd000000001", "inc000000001", incident.Investigating, "We are investigating elevated error rates on the REST API.", "2026-03-15T11:00:00.000Z",
				[]incident.AffectedComponent{{Code: rest.ID, Name: rest.Name, OldStatus: incident.Operational, NewStatus: incident.DegradedPerformance}}),
		}}
	resolved := &incident.Incident{ID: "inc000000002", PageID: p.ID, Name: "Website outage", Status: incident.Resolved,
		Impact: incident.ImpactCritical, ComponentIDs: []string{web.ID}, CreatedAt: ts("2026-03-10T08:00:00.000Z"),
		UpdatedAt: ts("2026-03-10T10:00:00.000Z"), StartedAt: ts("2026-03-10T08:00:00.000Z"),
		MonitoringAt: tp("2026-03-10T09:30:00.000Z"), ResolvedAt: tp("2026-03-10T10:00:00.000Z"), Version: 1,
		Updates: []*incident.Update{
			upd("upd000000006", "inc000000002", incident.Resolved, "This incident has been resolved.", "2026-03-10T10:00:00.000Z",
				[]incident.AffectedComponent{{Code: web.ID, Name: web.Name, OldStatus: incident.PartialOutage, NewStatus: incident.Operational}}),
			upd("upd000000005", "inc000000002", incident.Monitoring, "A fix has been deployed.", "2026-03-10T09:30:00.000Z", nil),
			upd("upd000000004", "inc000000002", incident.Investigating, "The site is partly back.", "2026-03-10T09:00:00.000Z",
				[]incident.AffectedComponent{{Code: web.ID, Name: web.Name, OldStatus: incident.MajorOutage, NewStatus: incident.PartialOutage}}),
			upd("upd000000003", "inc000000002", incident.Investigating, "The website is down.", "2026-03-10T08:00:00.000Z",
				[]incident.AffectedComponent{{Code: web.ID, Name: web.Name, OldStatus: incident.Operational, NewStatus: incident.MajorOutage}}),
		}}
	old := &incident.Incident{ID: "inc000000003", PageID: p.ID, Name: `Login <script>alert("x")</script> & 'quotes'`, Status: incident.Resolved,
		Impact: incident.ImpactNone, ComponentIDs: []string{}, CreatedAt: ts("2026-02-03T14:05:00.000Z"),
		UpdatedAt: ts("2026-02-03T15:00:00.000Z"), StartedAt: ts("2026-02-03T14:05:00.000Z"), ResolvedAt: tp("2026-02-03T15:00:00.000Z"), Version: 1,
		Updates: []*incident.Update{
			upd("upd000000008", "inc000000003", incident.Resolved, `Fixed. <img src=x onerror=alert(1)> "done"`, "2026-02-03T15:00:00.000Z", nil),
			upd("upd000000007", "inc000000003", incident.Investigating, "Some users cannot log in.", "2026-02-03T14:05:00.000Z", nil),
		}}
	upcoming := &incident.Incident{ID: "mnt000000001", PageID: p.ID, Name: "Database upgrade", Status: incident.Scheduled,
		Impact: incident.ImpactMaintenance, ComponentIDs: []string{web.ID}, CreatedAt: ts("2026-03-12T10:00:00.000Z"),
		UpdatedAt: ts("2026-03-12T10:00:00.000Z"), StartedAt: ts("2026-03-20T02:00:00.000Z"),
		ScheduledFor: tp("2026-03-20T02:00:00.000Z"), ScheduledUntil: tp("2026-03-20T04:00:00.000Z"), Version: 1,
		ScheduledAutoInProgress: true, ScheduledAutoCompleted: true,
		Updates: []*incident.Update{
			upd("upd000000009", "mnt000000001", incident.Scheduled, "We will be undergoing scheduled maintenance during this time.", "2026-03-12T10:00:00.000Z", nil),
		}}
	running := &incident.Incident{ID: "mnt000000002", PageID: p.ID, Name: "SMS gateway maintenance", Status: incident.InProgress,
		Impact: incident.ImpactMaintenance, ComponentIDs: []string{sms.ID}, CreatedAt: ts("2026-03-14T09:00:00.000Z"),
		UpdatedAt: ts("2026-03-15T11:30:00.000Z"), StartedAt: ts("2026-03-15T11:30:00.000Z"),
		ScheduledFor: tp("2026-03-15T11:30:00.000Z"), ScheduledUntil: tp("2026-03-15T13:30:00.000Z"), Version: 1,
		ScheduledAutoInProgress: true, ScheduledAutoCompleted: true,
		Updates: []*incident.Update{
			upd("upd000000011", "mnt000000002", incident.InProgress, "Scheduled maintenance is currently in progress.", "2026-03-15T11:30:00.000Z",
				[]incident.AffectedComponent{{Code: sms.ID, Name: sms.Name, OldStatus: incident.Operational, NewStatus: incident.UnderMaintenance}}),
			upd("upd000000010", "mnt000000002", incident.Scheduled, "SMS delivery may be delayed.", "2026-03-14T09:00:00.000Z", nil),
		}}
	e.commit(t, &incident.Change{Pages: []*incident.Page{p}})
	e.commit(t, &incident.Change{Components: []*incident.Component{grp}})
	e.commit(t, &incident.Change{Components: []*incident.Component{web, rest, hooks, sms, hidden}, StatusChanges: changes})
	e.commit(t, &incident.Change{Incidents: []*incident.Incident{open, resolved, old, upcoming, running}})
	return p
}

// lookup fetches a path from the scenario's default host or fails.
func lookup(t testing.TB, s *Site, path, lang string) *Asset {
	t.Helper()
	a, ok := s.Lookup("status.acme.test", path, lang)
	if !ok {
		t.Fatalf("Lookup(%q, %q): not found", path, lang)
	}
	return a
}
