package statuspage

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
)

// TestIncidentPage: the incident page says when the incident started and
// how long it has lasted, in a <time> the reader's zone script rewrites
// (loaded from a file, so the page's CSP needs no inline hash for it);
// it offers "subscribe to this incident" while open; its card shows the
// impact the banner shows; links keep the language; the feed link is the
// incidents list.
func TestIncidentPage(t *testing.T) {
	start := ts("2026-03-15T10:00:00Z")
	e := newEnv(t, start)
	ctx := context.Background()
	p, c := acmePage(t, e, "Payments")
	// Declared "major" by hand while Payments is in major outage: the
	// banner says critical ("Major Service Outage"), and so must the card.
	iname, body, major := "Payments are failing", "Some card payments fail.", incident.ImpactMajor
	inc, _, err := e.svc.CreateIncident(ctx, p.ID, incident.IncidentInput{Name: &iname, Body: &body, ImpactOverride: &major,
		Components: map[string]incident.ComponentStatus{c.ID: incident.MajorOutage}}, "")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Set(start.Add(95 * time.Minute))
	if err := e.site.RenderPage(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	path := "/incidents/" + inc.ID
	page := string(lookup(t, e.site, path, "en").Body)
	front := string(lookup(t, e.site, "/", "en").Body)

	checks := []struct{ name, doc, want string }{
		{"started, in the page's zone with the instant for the script", page, `Started: <time datetime="2026-03-15T10:00:00.000Z">Mar 15, 2026 10:00 UTC</time>`},
		{"has lasted so far", page, `Ongoing for: <span class="lasted">1 h 35 min</span>`},
		{"subscribe to this incident", page, `href="/subscribe?incident=` + inc.ID + `&amp;lang=en">Subscribe to this incident</a>`},
		{"the card's impact is the banner's", page, `<article class="card x-critical"`},
		{"the card's impact in words", page, `Impact: Critical`},
		{"front page banner", front, `class="banner i-critical"`},
		{"front page card", front, `<article class="card x-critical">`},
		{"links keep the language", page, `href="/history?lang=en"`},
		{"card link keeps the language", front, `href="/incidents/` + inc.ID + `?lang=en"`},
		{"local time script, a file", page, `<script src="/static/local-time.js" defer></script>`},
		{"JSON feed is the incidents list", page, `<a href="/api/v2/incidents.json?lang=en">JSON</a>`},
	}
	for _, ck := range checks {
		if !strings.Contains(ck.doc, ck.want) {
			t.Errorf("%s: no %q", ck.name, ck.want)
		}
	}
	if hu := string(lookup(t, e.site, path, "hu").Body); !strings.Contains(hu, `href="/history?lang=hu"`) || !strings.Contains(hu, "Feliratkozás erre az incidensre") {
		t.Error("the Hungarian page's links or subscribe link are not Hungarian")
	}
	// The not-found page a cut link lands on, in the reader's language,
	// its way back keeping it.
	if nf := string(lookup(t, e.site, "/404", "hu").Body); !strings.Contains(nf, "Az oldal nem található") || !strings.Contains(nf, `href="/?lang=hu"`) || !strings.Contains(nf, `lang="hu"`) {
		t.Errorf("the Hungarian not-found page: %s", nf)
	}
	if js := lookup(t, e.site, "/static/local-time.js", "en"); !strings.HasPrefix(js.ContentType, "text/javascript") || !strings.Contains(string(js.Body), "Intl.DateTimeFormat") {
		t.Errorf("local-time.js: %q", js.ContentType)
	}

	// Watched: lowered to minor with Payments degraded, as a manager
	// does at monitoring; the card says so while it is open.
	monitoring, minor, mbody := incident.Monitoring, incident.ImpactMinor, "A fix is out; we are watching."
	e.clock.Set(start.Add(2 * time.Hour))
	if _, err := e.svc.UpdateIncident(ctx, p.ID, inc.ID, incident.IncidentInput{Status: &monitoring, Body: &mbody, ImpactOverride: &minor,
		Components: map[string]incident.ComponentStatus{c.ID: incident.DegradedPerformance}}); err != nil {
		t.Fatal(err)
	}
	if err := e.site.RenderPage(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if page := string(lookup(t, e.site, path, "en").Body); !strings.Contains(page, `<article class="card x-minor"`) {
		t.Error("monitoring: the card should say minor, as the manager set it")
	}

	// Resolved: how long it lasted, and no subscribe link.
	resolved := incident.Resolved
	rbody := "Fixed."
	e.clock.Set(start.Add(3*time.Hour + 20*time.Minute))
	if _, err := e.svc.UpdateIncident(ctx, p.ID, inc.ID, incident.IncidentInput{Status: &resolved, Body: &rbody}); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(start.Add(30 * time.Hour))
	if err := e.site.RenderPage(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	page = string(lookup(t, e.site, path, "en").Body)
	if !strings.Contains(page, `Lasted: <span class="lasted">3 h 20 min</span>`) {
		t.Errorf("resolved incident: no duration of 3 h 20 min in %s", regexp.MustCompile(`(?s)<main.*</main>`).FindString(page))
	}
	if strings.Contains(page, "Subscribe to this incident") {
		t.Error("a resolved incident offers to follow it")
	}
	// Resolved, it is remembered at its worst (Payments in major outage:
	// critical), not as the minor it was lowered to while watched, and
	// says so: the API's impact is the last one, minor, as Statuspage's,
	// and "Impact: Critical" beside it read as a contradiction.
	if !strings.Contains(page, `<article class="card x-critical ended"`) || !strings.Contains(page, "Worst impact: Critical") || strings.Contains(page, "· Impact:") {
		t.Error("resolved: the card should show the worst impact the incident reached (critical), labelled as the worst, not the minor it was lowered to")
	}
	if hist := string(lookup(t, e.site, "/history", "en").Body); !strings.Contains(hist, "Worst impact: Critical") || strings.Contains(hist, "Impact: Minor") {
		t.Error("resolved: /history should show the incident at its worst, labelled so")
	}
	if api := string(lookup(t, e.site, "/api/v2/incidents.json", "").Body); !strings.Contains(api, `"impact":"minor"`) {
		t.Error("incidents.json: the impact is the current one (minor), as Statuspage's")
	}
	for lang, want := range map[string]string{"hu": "Legsúlyosabb hatás: Kritikus", "pl": "Największy wpływ: Krytyczny", "hr": "Najveći utjecaj: Kritičan"} {
		if b := string(lookup(t, e.site, path, lang).Body); !strings.Contains(b, want) {
			t.Errorf("%s: no %q", lang, want)
		}
	}
}

// TestHistoryCollapsesQuietMonths: months without incidents in /history
// are one line per run, not a heading each.
func TestHistoryCollapsesQuietMonths(t *testing.T) {
	e := newEnv(t, ts("2026-03-15T10:00:00Z"))
	ctx := context.Background()
	name, u := "Acme", "https://status.acme.test"
	p, err := e.svc.CreatePage(ctx, incident.PageInput{Name: &name, URL: &u})
	if err != nil {
		t.Fatal(err)
	}
	iname, body := "Slow logins", "Logins are slow."
	if _, _, err := e.svc.CreateIncident(ctx, p.ID, incident.IncidentInput{Name: &iname, Body: &body}, ""); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(ts("2026-11-20T10:00:00Z"))
	if err := e.site.RenderPage(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	h := string(lookup(t, e.site, "/history", "en").Body)
	for _, want := range []string{
		"April 2026 – November 2026: no incidents reported.", // newest run
		`<h2 id="m-2026-03">March 2026`,
		"December 2025 – February 2026: no incidents reported.",
	} {
		if !strings.Contains(h, want) {
			t.Errorf("no %q", want)
		}
	}
	if n := strings.Count(h, "<h2"); n != 1 {
		t.Errorf("%d month headings, want 1 (only March has incidents)", n)
	}
	hu := string(lookup(t, e.site, "/history", "hu").Body)
	if !strings.Contains(hu, "nem volt incidens") {
		t.Error("Hungarian history: no translated quiet line")
	}
}

// TestPostmortemEntry: the update that published a postmortem, with no
// text of its own, links to the postmortem on the page (not an empty
// entry), in the reader's language, and carries it in the feeds.
func TestPostmortemEntry(t *testing.T) {
	start := ts("2026-03-15T10:00:00Z")
	e := newEnv(t, start)
	ctx := context.Background()
	p, c := acmePage(t, e, "Payments")
	iname, body := "Payments are failing", "Some card payments fail."
	inc, _, err := e.svc.CreateIncident(ctx, p.ID, incident.IncidentInput{Name: &iname, Body: &body,
		Components: map[string]incident.ComponentStatus{c.ID: incident.MajorOutage}}, "")
	if err != nil {
		t.Fatal(err)
	}
	resolved, fixed := incident.Resolved, "Fixed."
	if _, err := e.svc.UpdateIncident(ctx, p.ID, inc.ID, incident.IncidentInput{Status: &resolved, Body: &fixed}); err != nil {
		t.Fatal(err)
	}
	pm, md := incident.Postmortem, "## What happened\n\nA faulty deploy."
	if _, err := e.svc.UpdateIncident(ctx, p.ID, inc.ID, incident.IncidentInput{Status: &pm, PostmortemBody: &md}); err != nil {
		t.Fatal(err)
	}
	if err := e.site.RenderPage(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	path := "/incidents/" + inc.ID
	for lang, want := range map[string]string{"en": "Read the postmortem", "hu": "Olvassa el az utólagos elemzést"} {
		page := string(lookup(t, e.site, path, lang).Body)
		link := `<a href="/incidents/` + inc.ID + `?lang=` + lang + `#h-pm">` + want + `</a>`
		if !strings.Contains(page, link) {
			t.Errorf("%s: the postmortem's entry has no %q", lang, link)
		}
		if !strings.Contains(page, `id="h-pm"`) {
			t.Errorf("%s: the postmortem itself is not on the page", lang)
		}
	}
	for _, feed := range []string{"/history.rss", "/history.atom"} {
		doc := string(lookup(t, e.site, feed, "").Body)
		if !strings.Contains(doc, "&lt;strong&gt;Postmortem&lt;/strong&gt;&lt;/p&gt;&lt;h4&gt;What happened&lt;/h4&gt;") || !strings.Contains(doc, "A faulty deploy.") {
			t.Errorf("%s does not carry the postmortem:\n%s", feed, doc)
		}
	}
}

// TestMaintenanceUpdatesWithoutText: a maintenance started (and then
// completed) without a message shows Statuspage's words for it, in the
// reader's language, not an empty entry; once started, its page says
// when it started, not when it starts.
func TestMaintenanceUpdatesWithoutText(t *testing.T) {
	start := ts("2026-03-15T10:00:00Z")
	e := newEnv(t, start)
	ctx := context.Background()
	p, c := acmePage(t, e, "Payments")
	from, until := start.Add(2*time.Hour), start.Add(3*time.Hour)
	name, body := "Database upgrade", "Payments may be slow."
	m, _, err := e.svc.CreateIncident(ctx, p.ID, incident.IncidentInput{Name: &name, Body: &body, ScheduledFor: &from, ScheduledUntil: &until,
		Components: map[string]incident.ComponentStatus{c.ID: incident.UnderMaintenance}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.site.RenderPage(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	path := "/incidents/" + m.ID
	if page := string(lookup(t, e.site, path, "en").Body); !strings.Contains(page, "Starts: <time") {
		t.Errorf("a scheduled maintenance's page does not say when it starts")
	}
	inProgress := incident.InProgress
	if _, err := e.svc.UpdateIncident(ctx, p.ID, m.ID, incident.IncidentInput{Status: &inProgress}); err != nil {
		t.Fatal(err)
	}
	if err := e.site.RenderPage(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	for lang, want := range map[string]string{"en": "Scheduled maintenance is currently in progress.", "hu": "A tervezett karbantartás folyamatban van."} {
		page := string(lookup(t, e.site, path, lang).Body)
		if !strings.Contains(page, "<p>"+want) {
			t.Errorf("%s: the start without a message does not say %q", lang, want)
		}
	}
	if page := string(lookup(t, e.site, path, "en").Body); !strings.Contains(page, "Started: <time") || strings.Contains(page, "Starts: <time") {
		t.Errorf("a maintenance in progress says when it starts, not when it started")
	}
}

// TestFrontPageAfterAnOutageToday: after today's outage is resolved, the
// front page of a component younger than a day (no uptime figure yet)
// says what its red bar for today is, not "No uptime figure yet", and
// lists the past incidents of recent days, today's with its link, as
// Statuspage's front page does: the worried customer need not look for
// the history to find it.
func TestFrontPageAfterAnOutageToday(t *testing.T) {
	start := ts("2026-03-15T10:00:00Z")
	e := newEnv(t, start)
	ctx := context.Background()
	p, c := acmePage(t, e, "Payments")
	other := "Checkout"
	if _, err := e.svc.CreateComponent(ctx, p.ID, incident.ComponentInput{Name: &other}); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(start.Add(time.Hour))
	iname, body := "Payments are failing", "Some card payments fail."
	inc, _, err := e.svc.CreateIncident(ctx, p.ID, incident.IncidentInput{Name: &iname, Body: &body,
		Components: map[string]incident.ComponentStatus{c.ID: incident.MajorOutage}}, "")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Set(start.Add(time.Hour + 25*time.Minute))
	resolved, fixed := incident.Resolved, "Fixed."
	if _, err := e.svc.UpdateIncident(ctx, p.ID, inc.ID, incident.IncidentInput{Status: &resolved, Body: &fixed}); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(start.Add(2 * time.Hour))
	if err := e.site.RenderPage(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	front := string(lookup(t, e.site, "/", "en").Body)
	payments, checkout, ok := strings.Cut(front, "<strong>Checkout</strong>")
	if !ok {
		t.Fatal("no Checkout row")
	}
	if !strings.Contains(payments, "<span>Today: Major outage 25 min</span>") || strings.Contains(payments, "No uptime figure yet") {
		t.Errorf("Payments' legend does not say what today's red bar is:\n%s", payments[strings.LastIndex(payments, `<li class="comp">`):])
	}
	if !strings.Contains(checkout, "No uptime figure yet") {
		t.Error("Checkout, a few hours old and never down, should have no figure yet")
	}
	i := strings.Index(front, `<section aria-labelledby="h-past"`)
	if i < 0 {
		t.Fatal("the front page lists no past incidents")
	}
	past, _, _ := strings.Cut(front[i:], "</section>")
	for _, want := range []string{
		`<h2 id="h-past">Past incidents</h2>`,
		"<h3>Mar 15, 2026</h3>",
		`<a href="/incidents/` + inc.ID + `?lang=en"><strong>Payments are failing</strong></a> <span class="st over">Resolved</span>`,
		"<h3>Mar 14, 2026</h3>\n<p class=\"quiet\">No incidents reported.</p>",
		"<h3>Mar 1, 2026</h3>", // 15 days, today included
	} {
		if !strings.Contains(past, want) {
			t.Errorf("past incidents: no %q in\n%s", want, past)
		}
	}
	if strings.Contains(past, "Feb 28, 2026") || strings.Count(past, "<h3>") != 15 {
		t.Errorf("past incidents: %d days, want 15", strings.Count(past, "<h3>"))
	}
	hu := string(lookup(t, e.site, "/", "hu").Body)
	for _, want := range []string{"Az elmúlt napok incidensei", "Ma: Teljes kiesés 25 perc", "Nem volt incidens."} {
		if !strings.Contains(hu, want) {
			t.Errorf("hu front page: no %q", want)
		}
	}
}

// TestHistoryCountsMaintenancesApart: a month's heading in /history counts
// its incidents and its maintenances apart, in every language; a
// maintenance is not an incident ("2 incidents" for one of each).
func TestHistoryCountsMaintenancesApart(t *testing.T) {
	start := ts("2026-03-15T10:00:00Z")
	e := newEnv(t, start)
	ctx := context.Background()
	p, c := acmePage(t, e, "Payments")
	iname, body := "Payments are failing", "Some card payments fail."
	if _, _, err := e.svc.CreateIncident(ctx, p.ID, incident.IncidentInput{Name: &iname, Body: &body,
		Components: map[string]incident.ComponentStatus{c.ID: incident.MajorOutage}}, ""); err != nil {
		t.Fatal(err)
	}
	from, until := start.Add(time.Hour), start.Add(2*time.Hour)
	mname := "Database upgrade"
	if _, _, err := e.svc.CreateIncident(ctx, p.ID, incident.IncidentInput{Name: &mname, Body: &body, ScheduledFor: &from, ScheduledUntil: &until,
		Components: map[string]incident.ComponentStatus{c.ID: incident.UnderMaintenance}}, ""); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(start.Add(3 * time.Hour))
	if _, err := e.svc.AdvanceMaintenances(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.site.RenderPage(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	for lang, want := range map[string]string{"en": "(1 incident, 1 maintenance)", "hu": "(1 incidens, 1 karbantartás)",
		"pl": "(1 incydent, 1 przerwa serwisowa)", "hr": "(1 incident, 1 održavanje)"} {
		if h := string(lookup(t, e.site, "/history", lang).Body); !strings.Contains(h, `<small class="meta">`+want+`</small>`) {
			t.Errorf("%s: the month's heading does not say %q", lang, want)
		}
	}
}

// TestEndedCardLooksOver: once an incident is resolved its card no longer
// wears the red edge of a live critical one (a worried customer skimming
// the page reads the colour before the words): it turns green, and its
// status word with it, in the history's rows too; the words still say how
// bad it was. While open, the card keeps its impact's colour.
func TestEndedCardLooksOver(t *testing.T) {
	e := newEnv(t, scenarioNow)
	ctx := context.Background()
	p, c := acmePage(t, e, "Payments")
	iname, body := "Payments are failing", "Some card payments fail."
	inc, _, err := e.svc.CreateIncident(ctx, p.ID, incident.IncidentInput{Name: &iname, Body: &body,
		Components: map[string]incident.ComponentStatus{c.ID: incident.MajorOutage}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.site.RenderPage(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	path := "/incidents/" + inc.ID
	page := string(lookup(t, e.site, path, "en").Body)
	if !strings.Contains(page, `<article class="card x-critical" `) || !strings.Contains(page, `Status: <span class="st">Investigating</span>`) {
		t.Errorf("open: the card should wear its impact, its status plain:\n%s", regexp.MustCompile(`(?s)<main.*</main>`).FindString(page))
	}

	resolved, rbody := incident.Resolved, "Fixed."
	if _, err := e.svc.UpdateIncident(ctx, p.ID, inc.ID, incident.IncidentInput{Status: &resolved, Body: &rbody}); err != nil {
		t.Fatal(err)
	}
	if err := e.site.RenderPage(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	page = string(lookup(t, e.site, path, "en").Body)
	for _, want := range []string{`<article class="card x-critical ended" `, `Status: <span class="st over">Resolved</span>`, `Worst impact: Critical`} {
		if !strings.Contains(page, want) {
			t.Errorf("resolved: no %q in\n%s", want, regexp.MustCompile(`(?s)<main.*</main>`).FindString(page))
		}
	}
	// The ended look wins over the impact's edge: same specificity, so
	// it must come after it in the style sheet.
	red, green := strings.Index(page, ".card.x-critical{"), strings.Index(page, ".card.ended{border-left-color:#2da44e}")
	if red < 0 || green < red {
		t.Errorf("style: .card.ended (at %d) must follow .card.x-critical (at %d)", green, red)
	}
	if !strings.Contains(page, ".st.over{color:") {
		t.Error("style: no colour for an ended incident's status")
	}
	for _, path := range []string{"/", "/history"} {
		if b := string(lookup(t, e.site, path, "en").Body); !strings.Contains(b, `<span class="st over">Resolved</span>`) {
			t.Errorf("%s: the resolved incident's row does not look over", path)
		}
	}
}

// TestEndedMaintenanceSaysWhenItEnded: a maintenance completed before its
// planned end says when it ended, not "Ends:" at the planned time, which
// read as work still going on for customers waiting to use the service.
func TestEndedMaintenanceSaysWhenItEnded(t *testing.T) {
	e := newEnv(t, scenarioNow)
	ctx := context.Background()
	p, c := acmePage(t, e, "Login")
	name := "Database upgrade"
	from, until := scenarioNow.Add(time.Hour), scenarioNow.Add(3*time.Hour)
	m, _, err := e.svc.CreateIncident(ctx, p.ID, incident.IncidentInput{Name: &name, ScheduledFor: &from, ScheduledUntil: &until,
		Components: map[string]incident.ComponentStatus{c.ID: incident.UnderMaintenance}}, "")
	if err != nil {
		t.Fatal(err)
	}
	path := "/incidents/" + m.ID
	show := func() string {
		t.Helper()
		if err := e.site.RenderPage(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		return string(lookup(t, e.site, path, "en").Body)
	}
	e.clock.Set(from)
	inProgress := incident.InProgress
	if _, err := e.svc.UpdateIncident(ctx, p.ID, m.ID, incident.IncidentInput{Status: &inProgress}); err != nil {
		t.Fatal(err)
	}
	if page := show(); !strings.Contains(page, `Ends: <time datetime="2026-03-15T15:00:00.000Z">`) {
		t.Errorf("in progress: no planned end in\n%s", regexp.MustCompile(`(?s)<main.*</main>`).FindString(page))
	}
	done := from.Add(25 * time.Minute)
	e.clock.Set(done)
	completed := incident.Completed
	if _, err := e.svc.UpdateIncident(ctx, p.ID, m.ID, incident.IncidentInput{Status: &completed}); err != nil {
		t.Fatal(err)
	}
	page := show()
	if !strings.Contains(page, `Ended: <time datetime="2026-03-15T13:25:00.000Z">`) || strings.Contains(page, "Ends:") || strings.Contains(page, "15:00") {
		t.Errorf("completed at 13:25: the page should say so, not the planned 15:00 end:\n%s", regexp.MustCompile(`(?s)<main.*</main>`).FindString(page))
	}
	for lang, want := range map[string]string{"hu": "Vége: <time", "pl": "Koniec: <time", "hr": "Kraj: <time"} {
		if b := string(lookup(t, e.site, path, lang).Body); !strings.Contains(b, want+` datetime="2026-03-15T13:25:00.000Z"`) {
			t.Errorf("%s: no %q at the real end", lang, want)
		}
	}
}
