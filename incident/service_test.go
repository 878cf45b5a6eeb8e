package incident_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/locale"
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

// TestDroppedComponentGoesBack: a component an incident set and then no
// longer lists ("not affected", a shorter component_ids) goes back to
// operational, or to what another open incident holds it in, and the
// update says so; one the incident listed without setting stays as it is.
func TestDroppedComponentGoesBack(t *testing.T) {
	ctx := context.Background()
	svc, page, comps := newService(t)
	api, web, sms := comps[0].ID, comps[1].ID, comps[2].ID
	status := func(id string) incident.ComponentStatus {
		t.Helper()
		c, err := svc.Component(ctx, page.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		return c.Status
	}
	// SMS is degraded by hand, outside any incident.
	if _, err := svc.UpdateComponent(ctx, page.ID, sms, incident.ComponentInput{Status: ptr(incident.DegradedPerformance)}); err != nil {
		t.Fatal(err)
	}
	other, _, err := svc.CreateIncident(ctx, page.ID, incident.IncidentInput{Name: ptr("Slow web"),
		Components: map[string]incident.ComponentStatus{web: incident.DegradedPerformance}}, "")
	if err != nil {
		t.Fatal(err)
	}
	inc, _, err := svc.CreateIncident(ctx, page.ID, incident.IncidentInput{Name: ptr("API down"), ComponentIDs: []string{api, web, sms},
		Components: map[string]incident.ComponentStatus{api: incident.MajorOutage, web: incident.PartialOutage}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if status(api) != incident.MajorOutage || status(web) != incident.PartialOutage || status(sms) != incident.DegradedPerformance {
		t.Fatalf("declared: %s %s %s", status(api), status(web), status(sms))
	}
	// The manager takes Web and SMS off: Web was the incident's, and goes
	// back to what the other incident holds it in; SMS it never set.
	inc, err = svc.UpdateIncident(ctx, page.ID, inc.ID, incident.IncidentInput{Body: ptr("Web and SMS are not affected."),
		ComponentIDs: []string{api}, Components: map[string]incident.ComponentStatus{api: incident.MajorOutage}})
	if err != nil {
		t.Fatal(err)
	}
	if got := []incident.ComponentStatus{status(api), status(web), status(sms)}; got[0] != incident.MajorOutage ||
		got[1] != incident.DegradedPerformance || got[2] != incident.DegradedPerformance {
		t.Errorf("after the correction: API %s, Web %s, SMS %s; want major_outage, degraded_performance (the other incident's), degraded_performance (by hand)", got[0], got[1], got[2])
	}
	var listed []string
	for _, ac := range inc.Updates[0].AffectedComponents {
		listed = append(listed, ac.Code+":"+string(ac.OldStatus)+"→"+string(ac.NewStatus))
	}
	if want := web + ":partial_outage→degraded_performance"; len(listed) != 1 || listed[0] != want {
		t.Errorf("the correction's update lists %v, want [%s]", listed, want)
	}
	// Once the other incident resolves, Web is operational again.
	if _, err := svc.UpdateIncident(ctx, page.ID, other.ID, incident.IncidentInput{Status: ptr(incident.Resolved)}); err != nil {
		t.Fatal(err)
	}
	if status(web) != incident.Operational {
		t.Errorf("Web after both let go: %s", status(web))
	}
}

// TestPeakImpact: lowering the impact while watching (the banner turns
// yellow) keeps the incident's peak for the reports: critical.
func TestPeakImpact(t *testing.T) {
	ctx := context.Background()
	svc, page, comps := newService(t)
	inc, _, err := svc.CreateIncident(ctx, page.ID, incident.IncidentInput{Name: ptr("Payments are failing"),
		Components: map[string]incident.ComponentStatus{comps[0].ID: incident.MajorOutage}}, "")
	if err != nil {
		t.Fatal(err)
	}
	minor := incident.ImpactMinor
	inc, err = svc.UpdateIncident(ctx, page.ID, inc.ID, incident.IncidentInput{Status: ptr(incident.Monitoring), ImpactOverride: &minor,
		Components: map[string]incident.ComponentStatus{comps[0].ID: incident.Operational}})
	if err != nil {
		t.Fatal(err)
	}
	if inc.Impact != incident.ImpactMinor || inc.PeakImpact() != incident.ImpactCritical {
		t.Errorf("impact %s, peak %s; want minor now and critical at its worst", inc.Impact, inc.PeakImpact())
	}
}

// TestComponentNamesOncePerGroup: a second component of one name beside
// the first (any case) is refused and nothing is written; the same name
// under a group is another component; a rename onto a sibling's name is
// refused too.
func TestComponentNamesOncePerGroup(t *testing.T) {
	svc, page, comps := newService(t)
	ctx := context.Background()
	for _, name := range []string{"API", "api ", "Web"} {
		_, err := svc.CreateComponent(ctx, page.ID, incident.ComponentInput{Name: ptr(name)})
		if incident.ErrorCode(err) != incident.EINVALID || !strings.Contains(err.Error(), "already has that name") {
			t.Errorf("a second %q: %v, want EINVALID on name", name, err)
		}
	}
	g, err := svc.CreateGroup(ctx, page.ID, incident.GroupInput{Name: ptr("EU")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateComponent(ctx, page.ID, incident.ComponentInput{Name: ptr("API"), GroupID: ptr(g.ID)}); err != nil {
		t.Errorf("API in the EU group: %v", err)
	}
	if _, err := svc.UpdateComponent(ctx, page.ID, comps[1].ID, incident.ComponentInput{Name: ptr("Api")}); incident.ErrorCode(err) != incident.EINVALID {
		t.Errorf("renaming Web to Api: %v, want EINVALID", err)
	}
	got, err := svc.Components(ctx, page.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got); n != len(comps)+2 {
		t.Errorf("%d components and groups, want %d", n, len(comps)+2)
	}
}

// TestMaintenanceStartedEarly: a maintenance started ahead of its window
// starts now and keeps its planned length, unless the start names the
// window's end itself; started within its window, the window stays.
func TestMaintenanceStartedEarly(t *testing.T) {
	svc, page, comps := newService(t)
	ctx := context.Background()
	now := svc.Now()
	schedule := func(name string, from time.Time) *incident.Incident {
		t.Helper()
		until := from.Add(30 * time.Minute)
		m, _, err := svc.CreateIncident(ctx, page.ID, incident.IncidentInput{Name: ptr(name), ScheduledFor: &from, ScheduledUntil: &until,
			Components: map[string]incident.ComponentStatus{comps[0].ID: incident.UnderMaintenance}}, "")
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	window := func(m *incident.Incident) string {
		return m.ScheduledFor.UTC().Format(time.RFC3339) + "–" + m.ScheduledUntil.UTC().Format(time.RFC3339)
	}
	at := func(d time.Duration) string { return now.Add(d).UTC().Format(time.RFC3339) }

	early := schedule("early", now.Add(2*time.Hour))
	got, err := svc.UpdateIncident(ctx, page.ID, early.ID, incident.IncidentInput{Status: ptr(incident.InProgress)})
	if err != nil {
		t.Fatal(err)
	}
	if w, want := window(got), at(0)+"–"+at(30*time.Minute); w != want {
		t.Errorf("started two hours early: window %s, want %s", w, want)
	}
	if !got.StartedAt.Equal(now) {
		t.Errorf("started two hours early: started at %s, want now", got.StartedAt)
	}

	named := schedule("named end", now.Add(2*time.Hour))
	end := now.Add(time.Hour)
	got, err = svc.UpdateIncident(ctx, page.ID, named.ID, incident.IncidentInput{Status: ptr(incident.InProgress), ScheduledUntil: &end})
	if err != nil {
		t.Fatal(err)
	}
	if w, want := window(got), at(0)+"–"+at(time.Hour); w != want {
		t.Errorf("started early with an end: window %s, want %s", w, want)
	}

	svc.Now = func() time.Time { return now.Add(10 * time.Minute) }
	late := schedule("in its window", now)
	got, err = svc.UpdateIncident(ctx, page.ID, late.ID, incident.IncidentInput{Status: ptr(incident.InProgress)})
	if err != nil {
		t.Fatal(err)
	}
	if w, want := window(got), at(0)+"–"+at(30*time.Minute); w != want {
		t.Errorf("started in its window: window %s, want %s as planned", w, want)
	}
}

// TestAutomaticMaintenanceWords: the update herald posts when it starts or
// completes a maintenance on time keeps Statuspage's English body (the API
// shows it) and carries each language's own words, which do not promise
// more news (the messages' templates say that themselves).
func TestAutomaticMaintenanceWords(t *testing.T) {
	svc, page, comps := newService(t)
	words, werr := locale.Default()
	if werr != nil {
		t.Fatal(werr)
	}
	svc.Words = func(lang, id string) string { return words.Lang(lang).Text(id) }
	ctx := context.Background()
	now := svc.Now()
	from, until := now.Add(time.Minute), now.Add(time.Hour)
	m, _, err := svc.CreateIncident(ctx, page.ID, incident.IncidentInput{Name: ptr("Aktualizacja kasy"), ScheduledFor: &from, ScheduledUntil: &until,
		Components: map[string]incident.ComponentStatus{comps[0].ID: incident.UnderMaintenance}}, "")
	if err != nil {
		t.Fatal(err)
	}
	check := func(at time.Time, body string, want map[string]string) {
		t.Helper()
		svc.Now = func() time.Time { return at }
		if n, err := svc.AdvanceMaintenances(ctx); err != nil || n != 1 {
			t.Fatalf("AdvanceMaintenances = %d, %v; want 1 moved", n, err)
		}
		got, err := svc.Incident(ctx, page.ID, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		u := got.Updates[0]
		if u.Body != body {
			t.Errorf("%s: body %q, want Statuspage's %q", u.Status, u.Body, body)
		}
		for lang, text := range want {
			if got := u.Text(lang); got != text {
				t.Errorf("%s: %s text %q, want %q", u.Status, lang, got, text)
			}
		}
	}
	check(from, "Scheduled maintenance is currently in progress. We will provide updates as necessary.", map[string]string{
		"en": "The scheduled maintenance has started.",
		"hu": "A tervezett karbantartás megkezdődött.",
		"pl": "Planowane prace serwisowe trwają.",
		"hr": "Planirano održavanje je u tijeku.",
	})
	check(until, "The scheduled maintenance has been completed.", map[string]string{
		"en": "The scheduled maintenance has been completed.",
		"hu": "A tervezett karbantartás befejeződött.",
		"pl": "Planowane prace serwisowe zostały zakończone.",
		"hr": "Planirano održavanje je završeno.",
	})
}

// TestResolvedWithoutText: an incident resolved with no text in any
// language gets Statuspage's body ("This incident has been resolved.",
// which the API shows) and each language's own words, so that no page or
// feed shows a bare "Resolved" over nothing; the dry run shows the same.
// A resolve with a text keeps it as written; one with a text in some
// languages only keeps those, the others reading the automatic words. A
// maintenance completed by hand is not an incident resolved.
func TestResolvedWithoutText(t *testing.T) {
	svc, page, comps := newService(t)
	words, err := locale.Default()
	if err != nil {
		t.Fatal(err)
	}
	svc.Words = func(lang, id string) string { return words.Lang(lang).Text(id) }
	ctx := context.Background()
	declare := func() *incident.Incident {
		t.Helper()
		inc, _, err := svc.CreateIncident(ctx, page.ID, incident.IncidentInput{Name: ptr("Kártyás fizetés nem működik"), Body: ptr("Vizsgáljuk."),
			Components: map[string]incident.ComponentStatus{comps[0].ID: incident.MajorOutage}}, "")
		if err != nil {
			t.Fatal(err)
		}
		return inc
	}
	automatic := map[string]string{
		"en": "This incident has been resolved.",
		"hu": "A hibát elhárítottuk.",
		"pl": "Problem został rozwiązany.",
		"hr": "Problem je riješen.",
	}
	tests := []struct {
		name     string
		body     *string
		messages map[string]string
		wantBody string
		want     map[string]string // the text each language reads
	}{
		{name: "no body", wantBody: incident.ResolvedBody, want: automatic},
		{name: "empty body", body: ptr(""), wantBody: incident.ResolvedBody, want: automatic},
		{name: "blank body", body: ptr(" \n "), wantBody: incident.ResolvedBody, want: automatic},
		{name: "a text", body: ptr("Fixed: a bad deploy was rolled back."), wantBody: "Fixed: a bad deploy was rolled back.",
			want: map[string]string{"en": "Fixed: a bad deploy was rolled back.", "hu": "Fixed: a bad deploy was rolled back."}},
		{name: "one language's text only", messages: map[string]string{"hu": "Visszaállítottuk a hibás kiadást."}, wantBody: incident.ResolvedBody,
			want: map[string]string{"hu": "Visszaállítottuk a hibás kiadást.", "en": automatic["en"], "pl": automatic["pl"], "hr": automatic["hr"]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc := declare()
			in := func() incident.IncidentInput {
				var m map[string]string
				if tt.messages != nil {
					m = map[string]string{}
					for k, v := range tt.messages {
						m[k] = v
					}
				}
				return incident.IncidentInput{Status: ptr(incident.Resolved), Body: tt.body, Messages: m}
			}
			check := func(what string, u *incident.Update) {
				t.Helper()
				if u.Status != incident.Resolved {
					t.Fatalf("%s: newest update is %s, want resolved", what, u.Status)
				}
				if u.Body != tt.wantBody {
					t.Errorf("%s: body %q, want %q", what, u.Body, tt.wantBody)
				}
				for lang, text := range tt.want {
					if got := u.Text(lang); got != text {
						t.Errorf("%s: %s reads %q, want %q", what, lang, got, text)
					}
				}
			}
			draft, _, _, err := svc.DraftUpdate(ctx, page.ID, inc.ID, in())
			if err != nil {
				t.Fatal(err)
			}
			check("dry run", draft.Updates[0])
			if _, err := svc.UpdateIncident(ctx, page.ID, inc.ID, in()); err != nil {
				t.Fatal(err)
			}
			got, err := svc.Incident(ctx, page.ID, inc.ID)
			if err != nil {
				t.Fatal(err)
			}
			check("stored", got.Updates[0])
		})
	}

	t.Run("maintenance completed by hand", func(t *testing.T) {
		now := svc.Now()
		from, until := now.Add(time.Hour), now.Add(2*time.Hour)
		m, _, err := svc.CreateIncident(ctx, page.ID, incident.IncidentInput{Name: ptr("Upgrade"), ScheduledFor: &from, ScheduledUntil: &until,
			Components: map[string]incident.ComponentStatus{comps[1].ID: incident.UnderMaintenance}}, "")
		if err != nil {
			t.Fatal(err)
		}
		got, err := svc.UpdateIncident(ctx, page.ID, m.ID, incident.IncidentInput{Status: ptr(incident.Completed)})
		if err != nil {
			t.Fatal(err)
		}
		if u := got.Updates[0]; u.Body != "" || u.Messages != nil {
			t.Errorf("completed maintenance: body %q, messages %v; want none (not an incident's resolve)", u.Body, u.Messages)
		}
	})
}

// TestScheduledWithoutText: a maintenance scheduled with no text in any
// language gets Statuspage's body ("We will be undergoing scheduled
// maintenance during this time.", which the API shows) and each
// language's own words, so that no page or feed shows an empty
// "Scheduled" entry; the dry run shows the same. A text is kept as
// written; one in some languages only keeps those, the others reading the
// automatic words. A maintenance recorded as already completed, and an
// incident declared, are not scheduled ones.
func TestScheduledWithoutText(t *testing.T) {
	svc, page, comps := newService(t)
	words, err := locale.Default()
	if err != nil {
		t.Fatal(err)
	}
	svc.Words = func(lang, id string) string { return words.Lang(lang).Text(id) }
	ctx := context.Background()
	automatic := map[string]string{
		"en": "We will be undergoing scheduled maintenance during this time.",
		"hu": "Ebben az időszakban tervezett karbantartást végzünk.",
		"pl": "W tym czasie przeprowadzimy planowane prace serwisowe.",
		"hr": "U tom ćemo razdoblju provoditi planirano održavanje.",
	}
	now := svc.Now()
	tests := []struct {
		name     string
		body     *string
		messages map[string]string
		wantBody string
		want     map[string]string // the text each language reads
	}{
		{name: "no body", wantBody: incident.ScheduledBody, want: automatic},
		{name: "empty body", body: ptr(""), wantBody: incident.ScheduledBody, want: automatic},
		{name: "blank body", body: ptr(" \n "), wantBody: incident.ScheduledBody, want: automatic},
		{name: "a text", body: ptr("Payments may be slow."), wantBody: "Payments may be slow.",
			want: map[string]string{"en": "Payments may be slow.", "hu": "Payments may be slow."}},
		{name: "one language's text only", messages: map[string]string{"hu": "A fizetés lassú lehet."}, wantBody: incident.ScheduledBody,
			want: map[string]string{"hu": "A fizetés lassú lehet.", "en": automatic["en"], "pl": automatic["pl"], "hr": automatic["hr"]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, until := now.Add(time.Hour), now.Add(2*time.Hour)
			in := incident.IncidentInput{Name: ptr("Database upgrade"), Body: tt.body, Messages: tt.messages,
				ScheduledFor: &from, ScheduledUntil: &until,
				Components: map[string]incident.ComponentStatus{comps[1].ID: incident.UnderMaintenance}}
			check := func(what string, u *incident.Update) {
				t.Helper()
				if u.Status != incident.Scheduled {
					t.Fatalf("%s: update is %s, want scheduled", what, u.Status)
				}
				if u.Body != tt.wantBody {
					t.Errorf("%s: body %q, want %q", what, u.Body, tt.wantBody)
				}
				for lang, text := range tt.want {
					if got := u.Text(lang); got != text {
						t.Errorf("%s: %s reads %q, want %q", what, lang, got, text)
					}
				}
			}
			draft, _, _, err := svc.DraftIncident(ctx, page.ID, in)
			if err != nil {
				t.Fatal(err)
			}
			check("dry run", draft.Updates[0])
			m, _, err := svc.CreateIncident(ctx, page.ID, in, "")
			if err != nil {
				t.Fatal(err)
			}
			got, err := svc.Incident(ctx, page.ID, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			check("stored", got.Updates[0])
		})
	}

	t.Run("recorded as completed, and an incident", func(t *testing.T) {
		from, until := now.Add(-2*time.Hour), now.Add(-time.Hour)
		done, _, err := svc.CreateIncident(ctx, page.ID, incident.IncidentInput{Name: ptr("Last night's upgrade"), Status: ptr(incident.Completed),
			ScheduledFor: &from, ScheduledUntil: &until}, "")
		if err != nil {
			t.Fatal(err)
		}
		inc, _, err := svc.CreateIncident(ctx, page.ID, incident.IncidentInput{Name: ptr("Login fails")}, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range []*incident.Incident{done, inc} {
			if u := x.Updates[0]; u.Body != "" || u.Messages != nil {
				t.Errorf("%s (%s): body %q, messages %v; want none (not a scheduled maintenance)", x.Name, u.Status, u.Body, u.Messages)
			}
		}
	})
}
