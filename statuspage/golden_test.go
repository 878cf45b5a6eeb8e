package statuspage

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var goldenPaths = []struct{ path, file string }{
	{"/api/v2/summary.json", "summary.json"},
	{"/api/v2/status.json", "status.json"},
	{"/api/v2/components.json", "components.json"},
	{"/api/v2/incidents.json", "incidents.json"},
	{"/api/v2/incidents/unresolved.json", "incidents-unresolved.json"},
	{"/api/v2/scheduled-maintenances.json", "scheduled-maintenances.json"},
	{"/api/v2/scheduled-maintenances/upcoming.json", "scheduled-maintenances-upcoming.json"},
	{"/api/v2/scheduled-maintenances/active.json", "scheduled-maintenances-active.json"},
	{"/history.rss", "history.rss"},
	{"/history.atom", "history.atom"},
}

func renderScenario(t testing.TB) *env {
	t.Helper()
	e := newEnv(t, scenarioNow)
	seedScenario(t, e)
	if err := e.site.RenderPage(context.Background(), scenarioPage); err != nil {
		t.Fatalf("RenderPage: %v", err)
	}
	return e
}

// goldenForm is what the golden file holds: JSON indented for review
// (the served bytes are compact), feeds as served.
func goldenForm(t *testing.T, a *Asset) []byte {
	t.Helper()
	if strings.HasPrefix(a.ContentType, "application/json") {
		var buf bytes.Buffer
		if err := json.Indent(&buf, a.Body, "", "  "); err != nil {
			t.Fatalf("indent: %v", err)
		}
		buf.WriteByte('\n')
		return buf.Bytes()
	}
	return a.Body
}

func TestGolden(t *testing.T) {
	e := renderScenario(t)
	for _, g := range goldenPaths {
		t.Run(g.file, func(t *testing.T) {
			a := lookup(t, e.site, g.path, "")
			got := goldenForm(t, a)
			file := filepath.Join("testdata", g.file)
			if *update {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("read golden (run with -update to create): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s (run go test -update after checking the change):\n%s", g.path, file, firstDiff(got, want))
			}
		})
	}
}

func firstDiff(got, want []byte) string {
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + g + "\nwant: " + w
		}
	}
	return "(no line differs)"
}

// The reference shapes (reference/statuspage.md §1): every object's keys,
// exactly.
var (
	pageKeys      = []string{"id", "name", "url", "time_zone", "updated_at"}
	statusKeys    = []string{"indicator", "description"}
	componentKeys = []string{"id", "name", "status", "created_at", "updated_at", "position", "description", "showcase",
		"start_date", "group_id", "page_id", "group", "only_show_if_degraded"}
	incidentKeys = []string{"id", "name", "status", "created_at", "updated_at", "monitoring_at", "resolved_at", "impact",
		"shortlink", "started_at", "page_id", "incident_updates", "components"}
	updateKeys = []string{"id", "status", "body", "incident_id", "created_at", "updated_at", "display_at",
		"affected_components", "deliver_notifications", "custom_tweet", "tweet_id"}
	affectedKeys = []string{"code", "name", "old_status", "new_status"}

	reStamp = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|[+-]\d{2}:\d{2})$`)
	reDate  = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

	componentStatuses = set("operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage")
	incidentStatuses  = set("investigating", "identified", "monitoring", "resolved", "postmortem")
	maintStatuses     = set("scheduled", "in_progress", "verifying", "completed")
	impacts           = set("none", "minor", "major", "critical")
	indicators        = set("none", "minor", "major", "critical", "maintenance")
)

func set(vs ...string) map[string]bool {
	m := map[string]bool{}
	for _, v := range vs {
		m[v] = true
	}
	return m
}

type shapeChecker struct {
	t    *testing.T
	path string
}

func (c shapeChecker) keys(where string, obj map[string]json.RawMessage, want []string, extra ...string) {
	c.t.Helper()
	var got []string
	for k := range obj {
		got = append(got, k)
	}
	all := append(append([]string{}, want...), extra...)
	sort.Strings(got)
	sort.Strings(all)
	if strings.Join(got, ",") != strings.Join(all, ",") {
		c.t.Errorf("%s %s: keys %v, want %v", c.path, where, got, all)
	}
}

func (c shapeChecker) str(where string, raw json.RawMessage, nullOK bool, valid func(string) bool) {
	c.t.Helper()
	if string(raw) == "null" {
		if !nullOK {
			c.t.Errorf("%s %s: null not allowed", c.path, where)
		}
		return
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		c.t.Errorf("%s %s: want a string, got %s", c.path, where, raw)
		return
	}
	if valid != nil && !valid(s) {
		c.t.Errorf("%s %s: bad value %q", c.path, where, s)
	}
}

func (c shapeChecker) boolean(where string, raw json.RawMessage) {
	c.t.Helper()
	if string(raw) != "true" && string(raw) != "false" {
		c.t.Errorf("%s %s: want a bool, got %s", c.path, where, raw)
	}
}

func obj(t *testing.T, raw json.RawMessage) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("want an object, got %.80s: %v", raw, err)
	}
	return m
}

func arr(t *testing.T, raw json.RawMessage) []json.RawMessage {
	t.Helper()
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("want an array, got %.80s: %v", raw, err)
	}
	return a
}

func isStamp(s string) bool { return reStamp.MatchString(s) }

func (c shapeChecker) page(raw json.RawMessage) {
	m := obj(c.t, raw)
	c.keys("page", m, pageKeys)
	c.str("page.updated_at", m["updated_at"], false, isStamp)
	c.str("page.time_zone", m["time_zone"], false, nil)
}

func (c shapeChecker) component(raw json.RawMessage) {
	m := obj(c.t, raw)
	if string(m["group"]) == "true" {
		c.keys("group component", m, componentKeys, "components")
		for _, id := range arr(c.t, m["components"]) {
			c.str("group.components[]", id, false, nil)
		}
	} else {
		c.keys("component", m, componentKeys)
	}
	c.str("component.status", m["status"], false, func(s string) bool { return componentStatuses[s] })
	c.str("component.created_at", m["created_at"], false, isStamp)
	c.str("component.updated_at", m["updated_at"], false, isStamp)
	c.str("component.description", m["description"], true, func(s string) bool { return s != "" })
	c.str("component.group_id", m["group_id"], true, func(s string) bool { return s != "" })
	c.str("component.start_date", m["start_date"], true, reDate.MatchString)
	for _, k := range []string{"showcase", "group", "only_show_if_degraded"} {
		c.boolean("component."+k, m[k])
	}
	var pos float64
	if err := json.Unmarshal(m["position"], &pos); err != nil {
		c.t.Errorf("%s component.position: want a number, got %s", c.path, m["position"])
	}
}

func (c shapeChecker) incident(raw json.RawMessage, maintenance bool) {
	m := obj(c.t, raw)
	if maintenance {
		c.keys("maintenance", m, incidentKeys, "scheduled_for", "scheduled_until")
		c.str("scheduled_for", m["scheduled_for"], false, isStamp)
		c.str("scheduled_until", m["scheduled_until"], false, isStamp)
		c.str("maintenance.status", m["status"], false, func(s string) bool { return maintStatuses[s] })
		c.str("maintenance.impact", m["impact"], false, func(s string) bool { return s == "maintenance" })
	} else {
		c.keys("incident", m, incidentKeys)
		c.str("incident.status", m["status"], false, func(s string) bool { return incidentStatuses[s] })
		c.str("incident.impact", m["impact"], false, func(s string) bool { return impacts[s] })
	}
	for _, k := range []string{"created_at", "updated_at", "started_at"} {
		c.str("incident."+k, m[k], false, isStamp)
	}
	for _, k := range []string{"monitoring_at", "resolved_at"} {
		c.str("incident."+k, m[k], true, isStamp)
	}
	c.str("incident.shortlink", m["shortlink"], false, func(s string) bool { return strings.HasPrefix(s, "https://status.acme.test/i/") })
	var id string
	_ = json.Unmarshal(m["id"], &id)
	ups := arr(c.t, m["incident_updates"])
	if len(ups) == 0 {
		c.t.Errorf("%s incident %s: no incident_updates", c.path, id)
	}
	last := ""
	for i, u := range ups {
		um := obj(c.t, u)
		c.keys("incident_update", um, updateKeys)
		var at string
		_ = json.Unmarshal(um["display_at"], &at)
		if i > 0 && at > last {
			c.t.Errorf("%s incident %s: incident_updates not newest first", c.path, id)
		}
		last = at
		for _, k := range []string{"created_at", "updated_at", "display_at"} {
			c.str("incident_update."+k, um[k], false, isStamp)
		}
		c.str("incident_update.incident_id", um["incident_id"], false, func(s string) bool { return s == id })
		c.boolean("incident_update.deliver_notifications", um["deliver_notifications"])
		if string(um["custom_tweet"]) != "null" || string(um["tweet_id"]) != "null" {
			c.t.Errorf("%s custom_tweet and tweet_id must be null", c.path)
		}
		if string(um["affected_components"]) != "null" {
			acs := arr(c.t, um["affected_components"])
			if len(acs) == 0 {
				c.t.Errorf("%s affected_components: [] where null is expected", c.path)
			}
			for _, ac := range acs {
				am := obj(c.t, ac)
				c.keys("affected_component", am, affectedKeys)
				c.str("old_status", am["old_status"], false, func(s string) bool { return componentStatuses[s] })
				c.str("new_status", am["new_status"], false, func(s string) bool { return componentStatuses[s] })
			}
		}
	}
	for _, comp := range arr(c.t, m["components"]) {
		c.component(comp)
	}
}

// TestGoldenShapes checks every golden JSON document field by field
// against the reference shapes, so a golden file cannot be updated into a
// wrong shape unnoticed.
func TestGoldenShapes(t *testing.T) {
	docKeys := map[string][]string{
		"summary.json":                         {"page", "components", "incidents", "scheduled_maintenances", "status"},
		"status.json":                          {"page", "status"},
		"components.json":                      {"page", "components"},
		"incidents.json":                       {"page", "incidents"},
		"incidents-unresolved.json":            {"page", "incidents"},
		"scheduled-maintenances.json":          {"page", "scheduled_maintenances"},
		"scheduled-maintenances-upcoming.json": {"page", "scheduled_maintenances"},
		"scheduled-maintenances-active.json":   {"page", "scheduled_maintenances"},
	}
	for file, keys := range docKeys {
		t.Run(file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			c := shapeChecker{t, file}
			doc := obj(t, body)
			c.keys("document", doc, keys)
			c.page(doc["page"])
			if raw, ok := doc["status"]; ok {
				m := obj(t, raw)
				c.keys("status", m, statusKeys)
				c.str("status.indicator", m["indicator"], false, func(s string) bool { return indicators[s] })
			}
			if raw, ok := doc["components"]; ok {
				for _, comp := range arr(t, raw) {
					c.component(comp)
				}
			}
			if raw, ok := doc["incidents"]; ok {
				for _, inc := range arr(t, raw) {
					c.incident(inc, false)
				}
			}
			if raw, ok := doc["scheduled_maintenances"]; ok {
				for _, inc := range arr(t, raw) {
					c.incident(inc, true)
				}
			}
		})
	}
}

// TestGoldenContent pins what the scenario must put where, beyond shape.
func TestGoldenContent(t *testing.T) {
	e := renderScenario(t)
	ids := func(path, list string) []string {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(lookup(t, e.site, path, "").Body, &raw); err != nil {
			t.Fatal(err)
		}
		var items []struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw[list], &items); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, it := range items {
			out = append(out, it.ID)
		}
		return out
	}
	tests := []struct {
		path, list string
		want       []string
	}{
		{"/api/v2/summary.json", "incidents", []string{"inc000000001"}},
		{"/api/v2/summary.json", "scheduled_maintenances", []string{"mnt000000002", "mnt000000001"}},
		{"/api/v2/summary.json", "components", []string{"cmpweb000001", "grp000000001", "cmpapi000001", "cmpapi000002", "cmpsms000001", "cmphid000001"}},
		{"/api/v2/incidents.json", "incidents", []string{"inc000000001", "inc000000002", "inc000000003"}},
		{"/api/v2/incidents/unresolved.json", "incidents", []string{"inc000000001"}},
		{"/api/v2/scheduled-maintenances.json", "scheduled_maintenances", []string{"mnt000000002", "mnt000000001"}},
		{"/api/v2/scheduled-maintenances/upcoming.json", "scheduled_maintenances", []string{"mnt000000001"}},
		{"/api/v2/scheduled-maintenances/active.json", "scheduled_maintenances", []string{"mnt000000002"}},
	}
	for _, tc := range tests {
		t.Run(tc.path+"#"+tc.list, func(t *testing.T) {
			if got := strings.Join(ids(tc.path, tc.list), ","); got != strings.Join(tc.want, ",") {
				t.Errorf("ids %s, want %s", got, strings.Join(tc.want, ","))
			}
		})
	}
	t.Run("status", func(t *testing.T) {
		var doc struct {
			Status v2Status `json:"status"`
		}
		if err := json.Unmarshal(lookup(t, e.site, "/api/v2/status.json", "").Body, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Status != (v2Status{"minor", "Partially Degraded Service"}) {
			t.Errorf("status %+v", doc.Status)
		}
	})
	t.Run("feed labels", func(t *testing.T) {
		var rss rssDoc
		if err := xml.Unmarshal(lookup(t, e.site, "/history.rss", "").Body, &rss); err != nil {
			t.Fatal(err)
		}
		var item *rssItem
		for i := range rss.Channel.Items {
			if strings.HasSuffix(rss.Channel.Items[i].GUID, "/incidents/inc000000002") {
				item = &rss.Channel.Items[i]
			}
		}
		if item == nil {
			t.Fatal("no item for inc000000002")
		}
		want := "<p><small>Mar <var data-var='date'>10</var>, <var data-var='time'>10:00</var> UTC</small><br><strong>Resolved</strong> - This incident has been resolved.</p>" +
			"<p><small>Mar <var data-var='date'>10</var>, <var data-var='time'>09:30</var> UTC</small><br><strong>Monitoring</strong> - A fix has been deployed.</p>" +
			"<p><small>Mar <var data-var='date'>10</var>, <var data-var='time'>09:00</var> UTC</small><br><strong>Update</strong> - The site is partly back.</p>" +
			"<p><small>Mar <var data-var='date'>10</var>, <var data-var='time'>08:00</var> UTC</small><br><strong>Investigating</strong> - The website is down.</p>"
		if item.Description != want {
			t.Errorf("description\n got %s\nwant %s", item.Description, want)
		}
		if item.Link != "https://status.acme.test/incidents/inc000000002" || item.PubDate != "Tue, 10 Mar 2026 10:00:00 +0000" {
			t.Errorf("link %q pubDate %q", item.Link, item.PubDate)
		}
	})
}
