package statuspage

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"html"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/locale"
	"github.com/prometheus/client_golang/prometheus"
)

var reHTMLLang = regexp.MustCompile(`<html lang="([a-z]+)">`)

func htmlLang(t *testing.T, a *Asset) string {
	t.Helper()
	m := reHTMLLang.FindSubmatch(a.Body)
	if m == nil {
		t.Fatalf("no <html lang> in %.200s", a.Body)
	}
	return string(m[1])
}

func TestStamp(t *testing.T) {
	at := ts("2020-02-11T03:15:01.913Z")
	chicago, _ := time.LoadLocation("America/Chicago")
	budapest, _ := time.LoadLocation("Europe/Budapest")
	tests := []struct {
		name string
		t    time.Time
		loc  *time.Location
		want string
	}{
		{"utc page", at, time.UTC, "2020-02-11T03:15:01.913Z"},
		{"etc/utc by name", at, (&incident.Page{TimeZone: "Etc/UTC"}).Location(), "2020-02-11T03:15:01.913Z"},
		{"whole second keeps .000", ts("2020-02-15T00:00:00Z"), time.UTC, "2020-02-15T00:00:00.000Z"},
		{"chicago winter", at, chicago, "2020-02-10T21:15:01.913-06:00"},
		{"chicago summer", ts("2020-07-01T12:00:00.5Z"), chicago, "2020-07-01T07:00:00.500-05:00"},
		{"budapest", at, budapest, "2020-02-11T04:15:01.913+01:00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := stamp(tc.t, tc.loc); got != tc.want {
				t.Errorf("stamp = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestAffectedComponentsOnTheWire: the public page writes an update that
// changed no component as null, whether the list is nil or empty (the
// webhook and the management API keep an empty list as []).
func TestAffectedComponentsOnTheWire(t *testing.T) {
	at := ts("2020-02-11T03:15:01.913Z")
	upd := func(id string, acs []incident.AffectedComponent) *incident.Update {
		return &incident.Update{ID: id, IncidentID: "i1", Status: incident.Investigating, CreatedAt: at, UpdatedAt: at, DisplayAt: at, AffectedComponents: acs}
	}
	inc := &incident.Incident{ID: "i1", PageID: "p1", Status: incident.Investigating, CreatedAt: at, UpdatedAt: at, StartedAt: at,
		Updates: []*incident.Update{upd("u3", []incident.AffectedComponent{{Code: "c1", Name: "API", OldStatus: incident.Operational, NewStatus: incident.MajorOutage}}),
			upd("u2", []incident.AffectedComponent{}), upd("u1", nil)}}
	b, err := marshal(wireIncident(&incident.Page{ID: "p1"}, inc, nil, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Updates []struct {
			ID       string          `json:"id"`
			Affected json.RawMessage `json:"affected_components"`
		} `json:"incident_updates"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"u3": `[{"code":"c1","name":"API","old_status":"operational","new_status":"major_outage"}]`, "u2": "null", "u1": "null"}
	if len(got.Updates) != len(want) {
		t.Fatalf("updates = %s", b)
	}
	for _, u := range got.Updates {
		if string(u.Affected) != want[u.ID] {
			t.Errorf("%s: affected_components = %s, want %s", u.ID, u.Affected, want[u.ID])
		}
	}
}

func TestPageTimeZoneOnTheWire(t *testing.T) {
	e := newEnv(t, scenarioNow)
	seedScenario(t, e)
	tz := "America/Chicago"
	if _, err := e.svc.UpdatePage(context.Background(), scenarioPage, incident.PageInput{TimeZone: &tz}); err != nil {
		t.Fatal(err)
	}
	if err := e.site.RenderPage(context.Background(), scenarioPage); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Page      v2Page `json:"page"`
		Incidents []struct {
			CreatedAt string `json:"created_at"`
		} `json:"incidents"`
	}
	if err := json.Unmarshal(lookup(t, e.site, "/api/v2/summary.json", "").Body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Page.TimeZone != tz || doc.Incidents[0].CreatedAt != "2026-03-15T06:00:00.000-05:00" {
		t.Errorf("time zone %q, created_at %q", doc.Page.TimeZone, doc.Incidents[0].CreatedAt)
	}
	if rss := string(lookup(t, e.site, "/history.rss", "").Body); !strings.Contains(rss, " CDT&lt;/small&gt;") {
		t.Errorf("feed times not in the page's zone:\n%.600s", rss)
	}
}

// TestSummaryMatchesHuobi decodes summary.json into a struct mirroring the
// reference's Huobi payload and checks that every field is present with
// the JSON type the reference shows.
func TestSummaryMatchesHuobi(t *testing.T) {
	e := renderScenario(t)
	type fields map[string]json.RawMessage
	var doc struct {
		Page                  fields   `json:"page"`
		Components            []fields `json:"components"`
		Incidents             []fields `json:"incidents"`
		ScheduledMaintenances []fields `json:"scheduled_maintenances"`
		Status                fields   `json:"status"`
	}
	if err := json.Unmarshal(lookup(t, e.site, "/api/v2/summary.json", "").Body, &doc); err != nil {
		t.Fatal(err)
	}
	kind := func(raw json.RawMessage) string {
		if len(raw) == 0 {
			return "missing"
		}
		switch raw[0] {
		case '"':
			return "string"
		case 't', 'f':
			return "bool"
		case 'n':
			return "null"
		case '[':
			return "array"
		case '{':
			return "object"
		}
		return "number"
	}
	check := func(where string, f fields, want map[string]string) {
		t.Helper()
		for k, types := range want {
			if got := kind(f[k]); !strings.Contains("|"+types+"|", "|"+got+"|") {
				t.Errorf("%s.%s: %s, want %s", where, k, got, types)
			}
		}
	}
	check("page", doc.Page, map[string]string{"id": "string", "name": "string", "url": "string", "time_zone": "string", "updated_at": "string"})
	check("status", doc.Status, map[string]string{"indicator": "string", "description": "string"})
	comp := map[string]string{"id": "string", "name": "string", "status": "string", "created_at": "string", "updated_at": "string",
		"position": "number", "description": "string|null", "showcase": "bool", "group_id": "string|null", "page_id": "string",
		"group": "bool", "only_show_if_degraded": "bool", "start_date": "string|null"}
	for _, c := range doc.Components {
		check("component", c, comp)
	}
	inc := map[string]string{"id": "string", "name": "string", "status": "string", "created_at": "string", "updated_at": "string",
		"monitoring_at": "string|null", "resolved_at": "string|null", "impact": "string", "shortlink": "string", "started_at": "string",
		"page_id": "string", "incident_updates": "array", "components": "array"}
	upd := map[string]string{"id": "string", "status": "string", "body": "string", "incident_id": "string", "created_at": "string",
		"updated_at": "string", "display_at": "string", "affected_components": "array|null", "deliver_notifications": "bool",
		"custom_tweet": "null", "tweet_id": "null"}
	maint := map[string]string{"scheduled_for": "string", "scheduled_until": "string"}
	for i, list := range [][]fields{doc.Incidents, doc.ScheduledMaintenances} {
		if len(list) == 0 {
			t.Fatalf("list %d empty: the scenario must fill it", i)
		}
		for _, x := range list {
			check("incident", x, inc)
			if i == 1 {
				check("maintenance", x, maint)
			} else if kind(x["scheduled_for"]) != "missing" {
				t.Errorf("incident has scheduled_for")
			}
			var ups []fields
			if err := json.Unmarshal(x["incident_updates"], &ups); err != nil {
				t.Fatal(err)
			}
			for _, u := range ups {
				check("incident_update", u, upd)
			}
			var comps []fields
			if err := json.Unmarshal(x["components"], &comps); err != nil {
				t.Fatal(err)
			}
			for _, c := range comps {
				check("incident.component", c, comp)
			}
		}
	}
}

func TestEscaping(t *testing.T) {
	e := newEnv(t, scenarioNow)
	ctx := context.Background()
	evil := `<script>alert("x")</script> & 'q'`
	name, url := evil, "https://status.evil.test"
	p, err := e.svc.CreatePage(ctx, incident.PageInput{Name: &name, URL: &url})
	if err != nil {
		t.Fatal(err)
	}
	cname, desc := evil, evil
	c, err := e.svc.CreateComponent(ctx, p.ID, incident.ComponentInput{Name: &cname, Description: &desc})
	if err != nil {
		t.Fatal(err)
	}
	body := "Body " + evil + "\n[x](javascript:alert(1)) [y](https://ok.test/\"onmouseover=alert(1))"
	iname := evil
	inc, _, err := e.svc.CreateIncident(ctx, p.ID, incident.IncidentInput{Name: &iname, Body: &body,
		Components: map[string]incident.ComponentStatus{c.ID: incident.MajorOutage}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.site.RenderPage(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	t.Run("html", func(t *testing.T) {
		for _, path := range []string{"/", "/history", "/incidents/" + inc.ID} {
			for _, l := range incident.Languages {
				b := string(lookup(t, e.site, path, l).Body)
				if strings.Contains(b, `<script>alert`) || strings.Contains(b, `"x")`) || strings.Contains(b, `href="javascript`) {
					t.Errorf("%s [%s]: unescaped input", path, l)
				}
				if strings.Count(b, "<script>") != 1 {
					t.Errorf("%s [%s]: want exactly our one script element", path, l)
				}
				if !strings.Contains(b, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#39;q&#39;") {
					t.Errorf("%s [%s]: name not escaped as expected", path, l)
				}
				if strings.Contains(b, `onmouseover=alert(1)"`) && strings.Contains(b, `href="https://ok.test/"`) {
					t.Errorf("%s [%s]: link address broke out of its attribute", path, l)
				}
			}
		}
	})
	t.Run("feeds", func(t *testing.T) {
		for _, path := range []string{"/history.rss", "/history.atom"} {
			raw := lookup(t, e.site, path, "").Body
			if strings.Contains(string(raw), "<script>") {
				t.Errorf("%s: raw <script> in XML", path)
			}
			// Once XML-decoded, the content is HTML in which the body is escaped.
			var v struct {
				Content string `xml:"entry>content"`
				Desc    string `xml:"channel>item>description"`
				Title   string `xml:"channel>title"`
			}
			if err := xml.Unmarshal(raw, &v); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			html := v.Content + v.Desc
			if !strings.Contains(html, "Body &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#39;q&#39;") || strings.Contains(html, "<script>") {
				t.Errorf("%s: body not HTML-escaped: %s", path, html)
			}
		}
	})
	t.Run("json", func(t *testing.T) {
		raw := lookup(t, e.site, "/api/v2/summary.json", "").Body
		if strings.Contains(string(raw), "<script>") {
			t.Errorf("raw <script> in JSON")
		}
		var doc struct {
			Page      v2Page `json:"page"`
			Incidents []struct {
				Name    string `json:"name"`
				Updates []struct {
					Body string `json:"body"`
				} `json:"incident_updates"`
			} `json:"incidents"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Page.Name != evil || doc.Incidents[0].Name != evil || doc.Incidents[0].Updates[0].Body != body {
			t.Errorf("JSON does not round-trip the text: %+v", doc)
		}
	})
}

func TestRenderText(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "All good.", "<p>All good.</p>"},
		{"empty", "  ", ""},
		{"escapes", `<b>"hi"</b> & 'x'`, "<p>&lt;b&gt;&#34;hi&#34;&lt;/b&gt; &amp; &#39;x&#39;</p>"},
		{"paragraphs and breaks", "one\ntwo\r\n\r\nthree", "<p>one<br>two</p><p>three</p>"},
		{"bold and em", "**big** and *small*", "<p><strong>big</strong> and <em>small</em></p>"},
		{"code keeps stars", "run `a*b*c` now", "<p>run <code>a*b*c</code> now</p>"},
		{"code escapes", "`<x>`", "<p><code>&lt;x&gt;</code></p>"},
		{"link", "see [docs](https://x.test/a?b=1&c=2)", `<p>see <a href="https://x.test/a?b=1&amp;c=2" rel="nofollow noopener">docs</a></p>`},
		{"http link", "[a](http://x.test)", `<p><a href="http://x.test" rel="nofollow noopener">a</a></p>`},
		{"bold link text", "[**a**](https://x.test)", `<p><a href="https://x.test" rel="nofollow noopener"><strong>a</strong></a></p>`},
		{"stars in address stay", "[a](https://x.test/*b*)", `<p><a href="https://x.test/*b*" rel="nofollow noopener">a</a></p>`},
		{"javascript is not a link", "[a](javascript:alert(1))", "<p>[a](javascript:alert(1))</p>"},
		{"data is not a link", "[a](data:text/html,x)", "<p>[a](data:text/html,x)</p>"},
		{"quote cannot leave href", `[a](https://x.test/"onclick=y)`, `<p><a href="https://x.test/&#34;onclick=y" rel="nofollow noopener">a</a></p>`},
		{"unclosed", "**open", "<p>**open</p>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(renderText(tc.in)); got != tc.want {
				t.Errorf("renderText(%q)\n got %s\nwant %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestLanguageNegotiation(t *testing.T) {
	e := renderScenario(t)
	ctx := context.Background()
	name, url := "Second", "https://second.test"
	p2, err := e.svc.CreatePage(ctx, incident.PageInput{Name: &name, URL: &url, Languages: []string{"hr", "en"}, Hosts: []string{"second.test"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.site.RenderPage(ctx, p2.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, host, lang, want string
	}{
		{"empty picks the page's first", "status.acme.test", "", "en"},
		{"code", "status.acme.test", "hu", "hu"},
		{"upper case", "status.acme.test", "PL", "pl"},
		{"region tag", "status.acme.test", "hr-HR", "hr"},
		{"accept-language", "status.acme.test", "de-DE,de;q=0.9,pl;q=0.8,en;q=0.5", "pl"},
		{"unknown falls back to first", "status.acme.test", "de", "en"},
		{"garbage falls back", "status.acme.test", ";;q=x", "en"},
		{"other page first language", "second.test", "", "hr"},
		{"other page lacks hu", "second.test", "hu", "hr"},
		{"other page en", "second.test", "en-GB", "en"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, ok := e.site.Lookup(tc.host, "/", tc.lang)
			if !ok {
				t.Fatal("not found")
			}
			if got := htmlLang(t, a); got != tc.want {
				t.Errorf("lang %q → %s, want %s", tc.lang, got, tc.want)
			}
		})
	}
	t.Run("translated", func(t *testing.T) {
		want := map[string]string{"en": "Partially Degraded Service", "hu": "Részben csökkent szolgáltatás",
			"pl": "Częściowo obniżona jakość usługi", "hr": "Djelomično smanjena kvaliteta usluge"}
		for l, banner := range want {
			if b := string(lookup(t, e.site, "/", l).Body); !strings.Contains(b, banner) {
				t.Errorf("%s page lacks %q", l, banner)
			}
		}
	})
}

func TestHostSelection(t *testing.T) {
	e := renderScenario(t)
	ctx := context.Background()
	name, url := "Beta", "https://status.beta.test"
	e.clock.Set(scenarioNow.Add(time.Minute))
	p2, err := e.svc.CreatePage(ctx, incident.PageInput{Name: &name, URL: &url, Hosts: []string{"status.beta.test", "beta.example"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.site.RenderPage(ctx, p2.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ host, want string }{
		{"status.beta.test", p2.ID},
		{"STATUS.Beta.Test:8443", p2.ID},
		{"beta.example.", p2.ID},
		{"status.acme.test", scenarioPage},
		{"unknown.test", scenarioPage},
		{"", scenarioPage},
		{"127.0.0.1:8080", scenarioPage},
		{"[::1]:8080", scenarioPage},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			p, ok := e.site.PageFor(tc.host)
			if !ok || p.ID != tc.want {
				t.Fatalf("PageFor(%q) = %v, want %s", tc.host, p, tc.want)
			}
			var doc struct {
				Page v2Page `json:"page"`
			}
			a, ok := e.site.Lookup(tc.host, "/api/v2/status.json", "")
			if !ok || json.Unmarshal(a.Body, &doc) != nil || doc.Page.ID != tc.want {
				t.Errorf("Lookup on %q served page %q, want %s", tc.host, doc.Page.ID, tc.want)
			}
		})
	}
	t.Run("deleted page disappears", func(t *testing.T) {
		if err := e.svc.DeletePage(ctx, p2.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.site.RenderPage(ctx, p2.ID); err == nil {
			t.Fatal("want ENOTFOUND rendering a deleted page")
		}
		if p, _ := e.site.PageFor("status.beta.test"); p == nil || p.ID != scenarioPage {
			t.Errorf("host of a deleted page should fall back to the default page, got %v", p)
		}
	})
}

func TestLookupPaths(t *testing.T) {
	e := renderScenario(t)
	tests := []struct {
		path  string
		found bool
		ctype string
	}{
		{"/", true, typeHTML},
		{"/history", true, typeHTML},
		{"/history/", true, typeHTML},
		{"/incidents/inc000000001", true, typeHTML},
		{"/incidents/mnt000000001", true, typeHTML},
		{"/incidents/nope", false, ""},
		{"/api/v2/summary.json", true, typeJSON},
		{"/api/v2/scheduled-maintenances/active.json", true, typeJSON},
		{"/history.rss", true, typeRSS},
		{"/history.atom", true, typeAtom},
		{"/i/inc000000001", false, ""},
		{"/api/v2/nope.json", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			a, ok := e.site.Lookup("status.acme.test", tc.path, "")
			if ok != tc.found {
				t.Fatalf("found = %v, want %v", ok, tc.found)
			}
			if ok && a.ContentType != tc.ctype {
				t.Errorf("content type %q, want %q", a.ContentType, tc.ctype)
			}
			if ok && (len(a.Gzip) == 0 || !strings.HasPrefix(a.ETag, `"`) || !strings.HasSuffix(a.ETag, `"`)) {
				t.Errorf("asset lacks gzip or a quoted ETag: %q", a.ETag)
			}
			if ok {
				checkETag(t, a)
			}
		})
	}
}

// checkETag holds an asset's tags to what every answer sends: strong,
// quoted, 16 URL-safe characters (96 bits) between the quotes, so that the
// tag costs a polled answer few bytes, and the gzip form's tag apart.
func checkETag(t *testing.T, a *Asset) {
	t.Helper()
	inner := strings.TrimSuffix(strings.TrimPrefix(a.ETag, `"`), `"`)
	if len(inner) != 16 || len(a.ETag) != 18 {
		t.Errorf("ETag %s: want 16 characters between quotes", a.ETag)
	}
	for _, r := range inner {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			t.Errorf("ETag %s: %q is not URL-safe base64", a.ETag, r)
		}
	}
	if a.GzipETag != `"`+inner+`-gzip"` {
		t.Errorf("gzip ETag %s, want %q", a.GzipETag, `"`+inner+`-gzip"`)
	}
}

func TestETagChangesWithContent(t *testing.T) {
	e := renderScenario(t)
	ctx := context.Background()
	before := map[string]*Asset{}
	paths := []string{"/api/v2/summary.json", "/api/v2/components.json", "/"}
	for _, p := range paths {
		before[p] = lookup(t, e.site, p, "en")
	}
	t.Run("unchanged render keeps the asset", func(t *testing.T) {
		if err := e.site.RenderPage(ctx, scenarioPage); err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			if a := lookup(t, e.site, p, "en"); a != before[p] {
				t.Errorf("%s: re-rendered asset without a change (ETag %s → %s)", p, before[p].ETag, a.ETag)
			}
		}
	})
	t.Run("a change changes the ETag", func(t *testing.T) {
		st := incident.MajorOutage
		if _, err := e.svc.UpdateComponent(ctx, scenarioPage, "cmpapi000002", incident.ComponentInput{Status: &st}); err != nil {
			t.Fatal(err)
		}
		if err := e.site.RenderPage(ctx, scenarioPage); err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			if a := lookup(t, e.site, p, "en"); a.ETag == before[p].ETag {
				t.Errorf("%s: ETag unchanged after a component went down", p)
			}
		}
	})
}

func TestWatch(t *testing.T) {
	e := renderScenario(t)
	ctx := context.Background()
	ch, stop := e.site.Watch(scenarioPage)
	other, stopOther := e.site.Watch("someotherpage")
	defer stopOther()
	body := "Still looking."
	if _, err := e.svc.UpdateIncident(ctx, scenarioPage, "inc000000001", incident.IncidentInput{Body: &body}); err != nil {
		t.Fatal(err)
	}
	if err := e.site.RenderPage(ctx, scenarioPage); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-ch:
		if want := lookup(t, e.site, "/api/v2/summary.json", "").Body; string(got) != string(want) {
			t.Errorf("payload is not the new summary.json")
		}
		if !strings.Contains(string(got), "Still looking.") {
			t.Errorf("payload lacks the new update")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no payload after a render")
	}
	select {
	case <-other:
		t.Error("a watcher of another page got a payload")
	default:
	}
	stop()
	stop() // twice is fine
	if _, open := <-ch; open {
		t.Error("channel still open after stop")
	}
	// Rendering after stop must not panic on the closed channel.
	if err := e.site.RenderPage(ctx, scenarioPage); err != nil {
		t.Fatal(err)
	}
}

func TestWatchKeepsNewest(t *testing.T) {
	s := New(nil, nil, Options{})
	ch, stop := s.Watch("p")
	defer stop()
	s.notify("p", []byte("1"))
	s.notify("p", []byte("2"))
	if got := string(<-ch); got != "2" {
		t.Errorf("got %q, want the newest payload", got)
	}
}

// TestRun drives the whole loop: the first render makes the site ready,
// and a declaration through the Service shows up in summary.json.
func TestRun(t *testing.T) {
	e := newEnv(t, scenarioNow)
	seedScenario(t, e)
	reg := prometheus.NewRegistry()
	e.site = New(e.svc, e.events, Options{Log: quiet, Now: e.clock.Now, Registerer: reg})
	runSite(t, e)
	name := "Checkout failing"
	inc, _, err := e.svc.CreateIncident(context.Background(), scenarioPage, incident.IncidentInput{Name: &name,
		Components: map[string]incident.ComponentStatus{"cmpweb000001": incident.MajorOutage}}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "incident in summary.json", func() bool {
		a, ok := e.site.Lookup("", "/api/v2/summary.json", "")
		return ok && strings.Contains(string(a.Body), inc.ID)
	})
	waitFor(t, "incident page", func() bool {
		_, ok := e.site.Lookup("", "/incidents/"+inc.ID, "pl")
		return ok
	})
	// A page created later is found through the event and rendered.
	pname, url := "Later", "https://later.test"
	p2, err := e.svc.CreatePage(context.Background(), incident.PageInput{Name: &pname, URL: &url, Hosts: []string{"later.test"}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "new page", func() bool { p, ok := e.site.PageFor("later.test"); return ok && p.ID == p2.ID })
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var renders float64
	var histogram bool
	for _, mf := range mfs {
		switch mf.GetName() {
		case "herald_statuspage_renders_total":
			for _, m := range mf.GetMetric() {
				for _, lp := range m.GetLabel() {
					if lp.GetName() == "page" && lp.GetValue() == scenarioPage {
						renders = m.GetCounter().GetValue()
					}
				}
			}
		case "herald_statuspage_render_duration_seconds":
			histogram = len(mf.GetMetric()) == 1 && mf.GetMetric()[0].GetHistogram().GetSampleCount() > 0
		}
	}
	if renders < 2 || !histogram {
		t.Errorf("renders_total{page=%s} = %v (want ≥ 2), render_duration_seconds observed: %v", scenarioPage, renders, histogram)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestOverallStatus checks the page status descriptions incident.Overall
// gives, as summary.json shows them, and that every one is translated.
func TestOverallStatus(t *testing.T) {
	comp := func(st incident.ComponentStatus) *incident.Component { return &incident.Component{Status: st} }
	open := func(impact incident.Impact) *incident.Incident {
		return &incident.Incident{Status: incident.Investigating, Impact: impact}
	}
	maint := &incident.Incident{Status: incident.InProgress, ScheduledFor: tp("2026-01-01T00:00:00Z")}
	tests := []struct {
		name  string
		comps []*incident.Component
		open  []*incident.Incident
		want  incident.PageStatus
	}{
		{"all operational", []*incident.Component{comp(incident.Operational)}, nil, incident.PageStatus{Indicator: "none", Description: "All Systems Operational"}},
		{"degraded", []*incident.Component{comp(incident.DegradedPerformance)}, nil, incident.PageStatus{Indicator: "minor", Description: "Partially Degraded Service"}},
		{"minor incident", []*incident.Component{comp(incident.Operational)}, []*incident.Incident{open(incident.ImpactMinor)}, incident.PageStatus{Indicator: "minor", Description: "Minor Service Outage"}},
		{"partial outage", []*incident.Component{comp(incident.PartialOutage)}, nil, incident.PageStatus{Indicator: "major", Description: "Partial System Outage"}},
		{"one major", []*incident.Component{comp(incident.MajorOutage), comp(incident.Operational)}, nil, incident.PageStatus{Indicator: "critical", Description: "Major Service Outage"}},
		{"all major", []*incident.Component{comp(incident.MajorOutage), comp(incident.MajorOutage)}, nil, incident.PageStatus{Indicator: "critical", Description: "Major System Outage"}},
		{"maintenance", []*incident.Component{comp(incident.UnderMaintenance)}, []*incident.Incident{maint}, incident.PageStatus{Indicator: "maintenance", Description: "Service Under Maintenance"}},
	}
	all, err := loadLangs()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := incident.Overall(tc.comps, tc.open)
			if got != tc.want {
				t.Errorf("Overall = %+v, want %+v", got, tc.want)
			}
			if _, ok := overallIDs[got.Description]; !ok {
				t.Fatalf("no message for %q", got.Description)
			}
			for code, l := range all {
				if s := l.Overall(got.Description); s == "" || (code != "en" && s == got.Description) {
					t.Errorf("%s: %q not translated (%q)", code, got.Description, s)
				}
			}
		})
	}
}

// TestLookupDuringRenders reads while pages re-render: every lookup must
// find a complete response (the snapshot swap is atomic), under -race.
func TestLookupDuringRenders(t *testing.T) {
	e := renderScenario(t)
	ctx := context.Background()
	stop := make(chan struct{})
	errs := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		paths := []string{"/", "/history", "/api/v2/summary.json", "/history.atom", "/incidents/inc000000001"}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p := paths[i%len(paths)]
			if a, ok := e.site.Lookup("status.acme.test", p, incident.Languages[i%4]); !ok || len(a.Body) == 0 || len(a.Gzip) == 0 {
				select {
				case errs <- p:
				default:
				}
			}
		}
	}()
	for i := 0; i < 20; i++ {
		body := "Update " + strings.Repeat("x", i)
		e.clock.Set(scenarioNow.Add(time.Duration(i+1) * time.Second))
		if _, err := e.svc.UpdateIncident(ctx, scenarioPage, "inc000000001", incident.IncidentInput{Body: &body}); err != nil {
			t.Fatal(err)
		}
		if err := e.site.RenderPage(ctx, scenarioPage); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	<-done
	select {
	case p := <-errs:
		t.Errorf("a lookup of %s failed during renders", p)
	default:
	}
}

// TestResyncRendersEveryPage: a change other nodes announced while this
// node's event link was down reaches the page once the link is back
// (EventResync), not at the next full render a minute later.
func TestResyncRendersEveryPage(t *testing.T) {
	e := newEnv(t, scenarioNow)
	seedScenario(t, e)
	e.site = New(e.svc, e.events, Options{Log: quiet, Now: e.clock.Now})
	runSite(t, e)
	// Another node declares; its event never arrives here.
	quietSvc := incident.NewService(e.db, nil, quiet)
	quietSvc.Now = e.clock.Now
	name := "Missed while the link was down"
	inc, _, err := quietSvc.CreateIncident(context.Background(), scenarioPage, incident.IncidentInput{Name: &name,
		Components: map[string]incident.ComponentStatus{"cmpweb000001": incident.MajorOutage}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := e.site.Lookup("", "/api/v2/summary.json", ""); strings.Contains(string(a.Body), inc.ID) {
		t.Fatal("the page had the incident before any event: the test shows nothing")
	}
	if err := e.events.Publish(context.Background(), incident.Event{Type: incident.EventResync}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the missed incident in summary.json after the resync", func() bool {
		a, ok := e.site.Lookup("", "/api/v2/summary.json", "")
		return ok && strings.Contains(string(a.Body), inc.ID)
	})
}

// runSite runs e.site until the test ends, and waits until it is ready.
func runSite(t *testing.T, e *env) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.site.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	waitFor(t, "ready", e.site.Ready)
}

// TestFeedsInTheReadersLanguage: a reader who chose Hungarian follows the
// footer's feed link and reads a Hungarian feed: its title, the updates'
// labels and times, xml:lang, and links that keep the language. A client
// that names no language reads the page's first language, in Statuspage's
// own words when that is English.
func TestFeedsInTheReadersLanguage(t *testing.T) {
	e := renderScenario(t)
	type feed struct {
		Lang    string   `xml:"lang,attr"`
		Title   string   `xml:"title"`
		Content []string `xml:"entry>content"`
		Links   []struct {
			Href string `xml:"href,attr"`
		} `xml:"entry>link"`
		ChannelTitle string   `xml:"channel>title"`
		Desc         []string `xml:"channel>item>description"`
		ItemLinks    []string `xml:"channel>item>link"`
	}
	read := func(t *testing.T, a *Asset) feed {
		t.Helper()
		var f feed
		if err := xml.Unmarshal(a.Body, &f); err != nil {
			t.Fatal(err)
		}
		return f
	}
	english := []string{"<strong>Investigating</strong>", "<strong>Identified</strong>", "<strong>Monitoring</strong>", "<strong>Resolved</strong>", "<strong>Update</strong>"}

	def := read(t, lookup(t, e.site, "/history.atom", ""))
	if def.Lang != "en-US" || !strings.HasSuffix(def.Title, " - Incident History") || !strings.Contains(strings.Join(def.Content, ""), "<var data-var='time'>") {
		t.Errorf("default Atom feed: xml:lang %q, title %q", def.Lang, def.Title)
	}
	for _, l := range def.Links {
		if strings.Contains(l.Href, "lang=") {
			t.Errorf("default feed link %s names a language", l.Href)
		}
	}

	a := lookup(t, e.site, "/history.atom", "hu")
	if !a.VariesByLanguage {
		t.Error("the Atom feed does not vary by language on a page in four")
	}
	hu := read(t, a)
	content := strings.Join(hu.Content, "")
	if hu.Lang != "hu" || !strings.HasSuffix(hu.Title, " - Incidenstörténet") {
		t.Errorf("Hungarian Atom feed: xml:lang %q, title %q", hu.Lang, hu.Title)
	}
	for _, w := range english {
		if strings.Contains(content, w) {
			t.Errorf("Hungarian Atom feed labels an update %s", w)
		}
	}
	if !strings.Contains(content, "<strong>Megoldva</strong>") || strings.Contains(content, "<var data-var") {
		t.Errorf("Hungarian Atom feed: labels or times not Hungarian:\n%.600s", content)
	}
	for _, l := range hu.Links {
		if !strings.HasSuffix(l.Href, "?lang=hu") {
			t.Errorf("Hungarian feed link %s loses the language", l.Href)
		}
	}
	rss := read(t, lookup(t, e.site, "/history.rss", "hu"))
	if !strings.HasSuffix(rss.ChannelTitle, " - Incidenstörténet") || !strings.Contains(strings.Join(rss.Desc, ""), "<strong>Megoldva</strong>") ||
		len(rss.ItemLinks) == 0 || !strings.HasSuffix(rss.ItemLinks[0], "?lang=hu") {
		t.Errorf("Hungarian RSS feed: title %q, links %v", rss.ChannelTitle, rss.ItemLinks)
	}

	page := string(lookup(t, e.site, "/", "hu").Body)
	for _, link := range []string{`href="/history.rss?lang=hu"`, `href="/history.atom?lang=hu"`, `href="/api/v2/incidents.json?lang=hu"`} {
		if strings.Count(page, link) == 0 {
			t.Errorf("the Hungarian page has no %s", link)
		}
	}

	// A page whose first language is Croatian speaks it to every client.
	ctx := context.Background()
	name, url := "Drugi", "https://second.test"
	p2, err := e.svc.CreatePage(ctx, incident.PageInput{Name: &name, URL: &url, Languages: []string{"hr", "en"}, Hosts: []string{"second.test"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.site.RenderPage(ctx, p2.ID); err != nil {
		t.Fatal(err)
	}
	hr, ok := e.site.Lookup("second.test", "/history.atom", "")
	if !ok {
		t.Fatal("no Atom feed on the second page")
	}
	if f := read(t, hr); f.Lang != "hr" || f.Title != "Drugi - Povijest incidenata" {
		t.Errorf("Croatian page's default feed: xml:lang %q, title %q", f.Lang, f.Title)
	}
}

// TestFeedDescriptionInTheFeedsLanguage: an RSS feed in Hungarian, Polish
// or Croatian describes itself in that language (the page's own words),
// not with Statuspage's English "Statuspage", which the English feed keeps
// for the readers and widgets that know it; so does the default feed of a
// page whose first language is not English.
func TestFeedDescriptionInTheFeedsLanguage(t *testing.T) {
	e := newEnv(t, scenarioNow)
	ctx := context.Background()
	p, _ := acmePage(t, e, "Payments", "hu", "en", "pl", "hr")
	if err := e.site.RenderPage(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	words, err := locale.Default()
	if err != nil {
		t.Fatal(err)
	}
	type rss struct {
		Description string `xml:"channel>description"`
	}
	for _, tt := range []struct{ lang, want string }{
		{"", words.Lang("hu").Text("FeedDescription")},
		{"hu", words.Lang("hu").Text("FeedDescription")},
		{"pl", words.Lang("pl").Text("FeedDescription")},
		{"hr", words.Lang("hr").Text("FeedDescription")},
		{"en", "Statuspage"},
	} {
		a, ok := e.site.Lookup("status.acme.test", "/history.rss", tt.lang)
		if !ok {
			t.Fatalf("no RSS feed [%s]", tt.lang)
		}
		var f rss
		if err := xml.Unmarshal(a.Body, &f); err != nil {
			t.Fatal(err)
		}
		if tt.want == "" || f.Description != tt.want {
			t.Errorf("RSS feed [%s]: description %q, want %q", tt.lang, f.Description, tt.want)
		}
	}
}

// TestDefaultFeedTextsInTheFirstLanguage: on a page whose first language
// is Hungarian, the default feeds (what a reader without ?lang gets) show
// herald's own words in Hungarian, as the page does: a maintenance started
// and completed on time, an incident resolved without a text. The English
// feed keeps the English words, the API Statuspage's bodies.
func TestDefaultFeedTextsInTheFirstLanguage(t *testing.T) {
	e := newEnv(t, scenarioNow)
	ctx := context.Background()
	words, err := locale.Default()
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Words = func(lang, id string) string { return words.Lang(lang).Text(id) }
	p, c := acmePage(t, e, "Fizetés", "hu", "en")
	name, body := "Nem működik a kártyás fizetés", "Vizsgáljuk a hibát."
	inc, _, err := e.svc.CreateIncident(ctx, p.ID, incident.IncidentInput{Name: &name, Body: &body,
		Components: map[string]incident.ComponentStatus{c.ID: incident.MajorOutage}}, "")
	if err != nil {
		t.Fatal(err)
	}
	resolved := incident.Resolved
	if _, err := e.svc.UpdateIncident(ctx, p.ID, inc.ID, incident.IncidentInput{Status: &resolved}); err != nil {
		t.Fatal(err)
	}
	mname := "Rendszerfrissítés"
	from, until := scenarioNow.Add(time.Minute), scenarioNow.Add(time.Hour)
	if _, _, err := e.svc.CreateIncident(ctx, p.ID, incident.IncidentInput{Name: &mname, ScheduledFor: &from, ScheduledUntil: &until,
		Components: map[string]incident.ComponentStatus{c.ID: incident.UnderMaintenance}}, ""); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{from, until} {
		e.clock.Set(at)
		if n, err := e.svc.AdvanceMaintenances(ctx); err != nil || n != 1 {
			t.Fatalf("AdvanceMaintenances = %d, %v; want 1 moved", n, err)
		}
	}
	if err := e.site.RenderPage(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	hu := []string{"A hibát elhárítottuk.", "A tervezett karbantartás megkezdődött.", "A tervezett karbantartás befejeződött.", "Vizsgáljuk a hibát."}
	en := []string{incident.ResolvedBody, "The scheduled maintenance has started.", "The scheduled maintenance has been completed."}
	statuspage := append(en, "Scheduled maintenance is currently in progress.")
	for _, tt := range []struct {
		lang      string
		want, not []string
	}{
		{"", hu, statuspage},
		{"hu", hu, statuspage},
		{"en", en, hu[:3]},
	} {
		for _, path := range []string{"/history.rss", "/history.atom"} {
			a, ok := e.site.Lookup("status.acme.test", path, tt.lang)
			if !ok {
				t.Fatalf("no %s [%s]", path, tt.lang)
			}
			feed := html.UnescapeString(string(a.Body))
			for _, w := range tt.want {
				if !strings.Contains(feed, w) {
					t.Errorf("%s [%s] lacks %q", path, tt.lang, w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(feed, w) {
					t.Errorf("%s [%s] shows %q", path, tt.lang, w)
				}
			}
		}
	}
	// The API keeps Statuspage's body, whatever the page's language.
	api := string(lookup(t, e.site, "/api/v2/incidents.json", "").Body)
	if !strings.Contains(api, `"body":"`+incident.ResolvedBody+`"`) {
		t.Errorf("incidents.json lacks Statuspage's resolved body:\n%.800s", api)
	}
}

// TestFeedsShowTheWordsOfAnUpdateWithoutText: an update with no text in
// any language (a maintenance started and completed by hand without a
// message; an incident resolved without one before herald wrote its own
// words) reads in the feeds as it does on the page, in the feed's
// language, rather than a bare "Completed - " over nothing.
func TestFeedsShowTheWordsOfAnUpdateWithoutText(t *testing.T) {
	e := newEnv(t, scenarioNow)
	ctx := context.Background()
	p, c := acmePage(t, e, "Login", "en", "hu")
	name, announce := "Database upgrade", "We will upgrade the login database."
	from, until := scenarioNow.Add(time.Hour), scenarioNow.Add(3*time.Hour)
	m, _, err := e.svc.CreateIncident(ctx, p.ID, incident.IncidentInput{Name: &name, Body: &announce, ScheduledFor: &from, ScheduledUntil: &until,
		Components: map[string]incident.ComponentStatus{c.ID: incident.UnderMaintenance}}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []incident.Status{incident.InProgress, incident.Completed} {
		if _, err := e.svc.UpdateIncident(ctx, p.ID, m.ID, incident.IncidentInput{Status: &st}); err != nil {
			t.Fatal(err)
		}
	}
	// An incident resolved without a text as stored before herald wrote
	// words for it: an update with no body at all.
	iname, body := "Login fails", "Investigating."
	inc, _, err := e.svc.CreateIncident(ctx, p.ID, incident.IncidentInput{Name: &iname, Body: &body}, "")
	if err != nil {
		t.Fatal(err)
	}
	resolved := incident.Resolved
	inc, err = e.svc.UpdateIncident(ctx, p.ID, inc.ID, incident.IncidentInput{Status: &resolved})
	if err != nil {
		t.Fatal(err)
	}
	inc.Updates[0].Body, inc.Updates[0].Messages = "", nil
	inc.Version++
	e.commit(t, &incident.Change{Incidents: []*incident.Incident{inc}})
	if err := e.site.RenderPage(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	words, err := locale.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"", "hu"} {
		l := words.Lang(lang)
		if lang == "" {
			l = words.Lang("en")
		}
		for _, path := range []string{"/history.rss", "/history.atom"} {
			a, ok := e.site.Lookup("status.acme.test", path, lang)
			if !ok {
				t.Fatalf("no %s [%s]", path, lang)
			}
			feed := html.UnescapeString(string(a.Body))
			if strings.Contains(feed, "</strong> - </p>") {
				t.Errorf("%s [%s]: an update over nothing:\n%s", path, lang, feed)
			}
			for _, id := range []string{"MaintenanceInProgressText", "MaintenanceCompletedText", incident.ResolvedWordsID} {
				if w := l.Text(id); w == "" || !strings.Contains(feed, "</strong> - "+w+"</p>") {
					t.Errorf("%s [%s]: no %q", path, lang, w)
				}
			}
		}
		// The page shows the same words.
		page := string(lookup(t, e.site, "/incidents/"+inc.ID, lang).Body)
		if w := l.Text(incident.ResolvedWordsID); !strings.Contains(page, "<p>"+w+"</p>") {
			t.Errorf("incident page [%s]: no %q", lang, w)
		}
	}
}

// TestScheduledWithoutMessageSaysSo: a maintenance scheduled without a
// message reads as on Statuspage ("We will be undergoing scheduled
// maintenance during this time.", each language its own words) on the
// front page, its own page and in the feeds, rather than an empty
// "Scheduled" entry; the API keeps Statuspage's body. One stored before
// herald wrote those words (an update with no text at all) reads the same.
func TestScheduledWithoutMessageSaysSo(t *testing.T) {
	e := newEnv(t, scenarioNow)
	ctx := context.Background()
	words, err := locale.Default()
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Words = func(lang, id string) string { return words.Lang(lang).Text(id) }
	p, c := acmePage(t, e, "Login", "en", "hu")
	from, until := scenarioNow.Add(time.Hour), scenarioNow.Add(3*time.Hour)
	schedule := func(name string) *incident.Incident {
		t.Helper()
		m, _, err := e.svc.CreateIncident(ctx, p.ID, incident.IncidentInput{Name: &name, ScheduledFor: &from, ScheduledUntil: &until,
			Components: map[string]incident.ComponentStatus{c.ID: incident.UnderMaintenance}}, "")
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	fresh := schedule("Database upgrade")
	legacy := schedule("Network upgrade")
	legacy.Updates[0].Body, legacy.Updates[0].Messages = "", nil
	legacy.Version++
	e.commit(t, &incident.Change{Incidents: []*incident.Incident{legacy}})
	if err := e.site.RenderPage(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"en", "hu"} {
		w := words.Lang(lang).Text(incident.ScheduledWordsID)
		if w == "" {
			t.Fatalf("%s: no words for %s", lang, incident.ScheduledWordsID)
		}
		for _, path := range []string{"/", "/incidents/" + fresh.ID, "/incidents/" + legacy.ID} {
			page := string(lookup(t, e.site, path, lang).Body)
			if !strings.Contains(page, "<p>"+html.EscapeString(w)+"</p>") {
				t.Errorf("%s [%s]: no %q", path, lang, w)
			}
		}
		front := string(lookup(t, e.site, "/", lang).Body)
		if n := strings.Count(front, html.EscapeString(w)); n != 2 {
			t.Errorf("front page [%s]: %q %d times, want once per maintenance", lang, w, n)
		}
		for _, path := range []string{"/history.rss", "/history.atom"} {
			feed := html.UnescapeString(string(lookup(t, e.site, path, lang).Body))
			if strings.Contains(feed, "</strong> - </p>") {
				t.Errorf("%s [%s]: an update over nothing:\n%s", path, lang, feed)
			}
			if n := strings.Count(feed, "</strong> - "+w+"</p>"); n != 2 {
				t.Errorf("%s [%s]: %q %d times, want once per maintenance", path, lang, w, n)
			}
		}
	}
	api := string(lookup(t, e.site, "/api/v2/scheduled-maintenances.json", "").Body)
	if !strings.Contains(api, `"body":"`+incident.ScheduledBody+`"`) {
		t.Errorf("scheduled-maintenances.json lacks Statuspage's body:\n%.800s", api)
	}
}
