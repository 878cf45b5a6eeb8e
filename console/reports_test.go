package console_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
)

// TestReportsInTheConsole: an agent signed in to the console reads an
// incident's post-incident report (HTML in the console's language, JSON,
// CSV) and a period's evaluation without an API token; the reports page
// lists resolved incidents; bad dates are refused by name; signed out, the
// reports are not readable.
func TestReportsInTheConsole(t *testing.T) {
	e := startEnv(t, customersCSV)
	inc := e.declare(t, "Payments are failing", false)
	resolved, body := incident.Resolved, "Card payments work again."
	// Major at first, lowered to minor before the all-clear: the list
	// shows the worst it was, as the report does.
	minor := incident.ImpactMinor
	if _, err := e.n.Incidents.UpdateIncident(e.as(incident.RoleManager), e.page.ID, inc.ID, incident.IncidentInput{ImpactOverride: &minor}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.n.Incidents.UpdateIncident(e.as(incident.RoleManager), e.page.ID, inc.ID, incident.IncidentInput{Status: &resolved, Body: &body}); err != nil {
		t.Fatal(err)
	}

	// One more, whose postmortem is published: it is listed too.
	pm := e.declare(t, "Checkout timed out", false)
	for _, st := range []incident.Status{incident.Resolved, incident.Postmortem} {
		st := st
		if _, err := e.n.Incidents.UpdateIncident(e.as(incident.RoleManager), e.page.ID, pm.ID, incident.IncidentInput{Status: &st, Body: &body}); err != nil {
			t.Fatal(err)
		}
	}

	anon := e.client(t)
	res, _ := anon.do("GET", "/console/incidents/"+inc.ID+"/report", nil)
	if res.StatusCode == http.StatusOK {
		t.Fatal("the report was readable without signing in")
	}

	agent := e.client(t)
	agent.signIn(incident.RoleAgent, "Ana")

	res, page := agent.do("GET", "/console/reports", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(page, `href="/console/incidents/`+inc.ID+`/report"`) {
		t.Fatalf("reports page: status %d, want a link to the resolved incident's report:\n%s", res.StatusCode, page)
	}
	if line := page[strings.Index(page, `href="/console/incidents/`+inc.ID+`/report"`):]; !strings.HasPrefix(line[strings.Index(line, "</a>"):], `</a> <span class="pill im-critical">`) {
		t.Errorf("the reports page does not show the worst impact the incident had:\n%.300s", line)
	}
	if !strings.Contains(page, `href="/console/incidents/`+pm.ID+`/report"`) {
		t.Error("the reports page leaves out an incident whose postmortem is published")
	}
	if !strings.Contains(page, `value="`+time.Now().UTC().Format(time.DateOnly)+`"`) {
		t.Error("the period form does not default to today")
	}

	res, html := agent.do("GET", "/console/incidents/"+inc.ID+"/report", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(html, "Payments are failing") || !strings.Contains(html, "<svg") {
		t.Fatalf("report: status %d, want the incident's report with its charts:\n%.500s", res.StatusCode, html)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("report CSP %q, want the report's own policy (no script)", csp)
	}
	if !strings.Contains(html, `href="/console/incidents/`+inc.ID+`/report.csv"`) {
		t.Error("the report's CSV link does not point into the console")
	}
	if !strings.Contains(html, `<p class="back"><a href="/console/incidents/`+inc.ID+`">← Back to the console</a>`) || strings.Contains(html, `>back</a>`) {
		t.Error("the report has no way back to the console, or lists it as a download")
	}

	res, raw := agent.do("GET", "/console/incidents/"+inc.ID+"/report.json", nil)
	var doc map[string]any
	if res.StatusCode != http.StatusOK || json.Unmarshal([]byte(raw), &doc) != nil {
		t.Fatalf("report.json: status %d, body %.300s", res.StatusCode, raw)
	}
	res, csv := agent.do("GET", "/console/incidents/"+inc.ID+"/report.csv", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Disposition"), "herald-report-"+inc.ID+".csv") || csv == "" {
		t.Fatalf("report.csv: status %d, disposition %q", res.StatusCode, res.Header.Get("Content-Disposition"))
	}

	// ?format= is honoured as the suffix is, and a format herald does not
	// write is refused by name, not answered in HTML.
	res, csv = agent.do("GET", "/console/incidents/"+inc.ID+"/report?format=csv", nil)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(csv, "section,at,channel") {
		t.Errorf("report?format=csv: status %d, %.80s", res.StatusCode, csv)
	}
	res, bad := agent.do("GET", "/console/incidents/"+inc.ID+"/report?format=pdf", nil)
	if res.StatusCode != http.StatusBadRequest && res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(bad, "format") {
		t.Errorf("report?format=pdf: status %d, want 4xx naming the field:\n%.300s", res.StatusCode, bad)
	}

	// The console's language carries into the report.
	tok := agent.csrf("/console/reports")
	agent.do("POST", "/console/lang", map[string][]string{"_csrf": {tok}, "lang": {"hu"}, "back": {"/console/reports"}})
	_, hu := agent.do("GET", "/console/incidents/"+inc.ID+"/report", nil)
	if !strings.Contains(hu, `lang="hu"`) {
		t.Errorf("after choosing Hungarian, the report is not in Hungarian:\n%.300s", hu)
	}

	year := time.Now().UTC().Format("2006")
	res, period := agent.do("GET", "/console/reports/period?from="+year+"-01-01&to="+time.Now().UTC().Format(time.DateOnly), nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(period, "<svg") {
		t.Fatalf("period: status %d:\n%.300s", res.StatusCode, period)
	}
	res, bad = agent.do("GET", "/console/reports/period?from=yesterday&to="+year+"-12-31", nil)
	if res.StatusCode != http.StatusBadRequest && res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(bad, "from") {
		t.Errorf("a bad date: status %d, want 4xx naming the field:\n%.300s", res.StatusCode, bad)
	}
}
