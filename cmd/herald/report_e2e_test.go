package main

import (
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/reports"
)

// After the incident, end to end: declare, the broadcast goes out, a
// customer complains by SMS, the incident resolves, a survey is answered,
// and `herald report` shows all of it (HTML, JSON, CSV); a postmortem is
// written, shows in the report, and once published on the incident page;
// `herald report period` counts the incident.

func TestReportEndToEnd(t *testing.T) {
	onEachEngine(t, testReport)
}

func testReport(t *testing.T, dir string, storeArgs []string) {
	n := startServe(t, nil, storeArgs...)
	token := mustCLI(t, nil, append([]string{"token", "create", "--role", "admin", "--name", "ops-anna"}, storeArgs...)...).lastLine()
	env := map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": token}
	mustCLI(t, env, "components", "create", "--name", "Payments")
	const phone = "+36201234567"
	file := filepath.Join(dir, "customers.csv")
	if err := os.WriteFile(file, []byte("id,name,phone,email,language,plan,components\n"+
		"hu-1,Anna,+36201234567,,hu,gold,Payments\n"+
		"en-1,Sam,,sam@example.com,en,silver,Payments\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, env, "import", "customers", file)
	id := strings.TrimSpace(mustCLI(t, env, "declare", "-q", "--name", "Card payments fail", "--component", "Payments=major_outage",
		"--message", "Investigating.", "--wait").stdout)
	if code, body := postSMS(t, n, n.twilioToken, "SM"+strings.Repeat("c", 32), phone, "Nem megy a kártyás fizetés!"); code != http.StatusOK {
		t.Fatalf("complaint SMS: %d %s", code, body)
	}
	mustCLI(t, env, "resolve", id, "--message", "Fixed.", "--wait")
	mustCLI(t, env, "surveys", "send", id)
	eventually(t, 15*time.Second, func() (bool, string) {
		for _, m := range to(inbox(t, n), "sms", phone) {
			if strings.Contains(m.Body, "1") && strings.Contains(m.Body, "5") && strings.Contains(strings.ToLower(m.Body), "válasz") {
				return true, ""
			}
		}
		return false, "no survey SMS yet"
	})
	if code, body := postSMS(t, n, n.twilioToken, "SM"+strings.Repeat("d", 32), phone, "5"); code != http.StatusOK {
		t.Fatalf("survey SMS: %d %s", code, body)
	}

	var r reports.Report
	t.Run("JSON", func(t *testing.T) {
		eventually(t, 15*time.Second, func() (bool, string) {
			out := mustCLI(t, env, "report", id, "--format", "json").stdout
			r = reports.Report{}
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("report JSON: %v\n%s", err, out)
			}
			return r.Surveys != nil && r.Surveys.Answered == 1, "the survey answer is not in the report yet"
		})
		if r.Incident.ID != id || r.Incident.ResolvedAt == nil || len(r.Timeline) != 2 || r.Timeline[0].Kind != reports.EntryDeclared ||
			r.Timeline[1].Kind != reports.EntryResolved || !strings.Contains(r.Timeline[0].Actor, "ops-anna") {
			t.Errorf("incident %+v, timeline %+v", r.Incident, r.Timeline)
		}
		sent, collapsed := map[string]int{}, map[string]int{}
		for _, c := range r.Channels {
			sent[string(c.Channel)] = c.Counts["sent"] + c.Counts["delivered"]
			collapsed[string(c.Channel)] = c.Counts["collapsed"]
		}
		// The customer complained by SMS: the resolution reaches that
		// phone in the complaint's answer, and the broadcast's SMS there
		// is collapsed into it.
		if sent["sms"] != 1 || collapsed["sms"] != 1 || sent["email"] < 2 {
			t.Errorf("deliveries by channel %+v; want the declaration on sms, its resolution collapsed into the complaint's answer, both on email", r.Channels)
		}
		if len(r.Broadcasts) < 2 || r.Broadcasts[0].Kind != "declared" || len(r.Broadcasts[0].Channels) == 0 || r.Broadcasts[0].Channels[0].FirstOutS == nil ||
			r.Broadcasts[0].Channels[0].Out90S == nil {
			t.Errorf("broadcasts %+v", r.Broadcasts)
		}
		cf := r.Complaints
		if cf.Tagged != 1 || cf.ByChannel["sms"] != 1 || cf.Answered != 1 {
			t.Errorf("complaints %+v", cf)
		}
		inCurve := 0
		for _, b := range cf.Curve {
			inCurve += b.Tagged
		}
		if inCurve != 1 || len(cf.Marks) != 2 {
			t.Errorf("curve has %d tagged, %d marks; want 1 and 2", inCurve, len(cf.Marks))
		}
		if r.Surveys.Scores["5"] != 1 || r.Postmortem != nil {
			t.Errorf("surveys %+v, postmortem %+v", r.Surveys, r.Postmortem)
		}
	})

	t.Run("CSV", func(t *testing.T) {
		out := filepath.Join(dir, "report.csv")
		mustCLI(t, env, "report", id, "--format", "csv", "-o", out)
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rows, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(rows[0], ",") != strings.Join(reports.CSVHeader, ",") {
			t.Errorf("header %v", rows[0])
		}
		want := map[string]bool{"complaints/tagged/1": false, "surveys/answered/1": false, "timeline/declared/investigating": false}
		for _, row := range rows[1:] {
			k := row[0] + "/" + row[3] + "/" + row[4]
			if _, ok := want[k]; ok {
				want[k] = true
			}
		}
		for k, seen := range want {
			if !seen {
				t.Errorf("CSV has no row %s", k)
			}
		}
	})

	t.Run("HTML", func(t *testing.T) {
		html := mustCLI(t, env, "report", id).stdout
		for _, want := range []string{"<!doctype html>", "Post-incident report", "Card payments fail", "ops-anna", "<svg", "<title id=\"curve-t\">", "Survey results"} {
			if !strings.Contains(html, want) {
				t.Errorf("HTML lacks %q", want)
			}
		}
		if strings.Contains(html, "<script") {
			t.Error("the report has a script")
		}
		// Each chart is well-formed XML.
		for rest := html; ; {
			i := strings.Index(rest, "<svg")
			if i < 0 {
				break
			}
			j := strings.Index(rest[i:], "</svg>")
			if j < 0 {
				t.Fatal("an unclosed <svg>")
			}
			wellFormed(t, rest[i:i+j+len("</svg>")])
			rest = rest[i+j:]
		}
		// Accept chooses the format on the suffix-less path.
		req, _ := http.NewRequest(http.MethodGet, n.url+"/api/v1/pages/"+r.Page.ID+"/incidents/"+id+"/report", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "text/csv")
		resp, err := testHTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(b), "section,at,channel") {
			t.Errorf("Accept text/csv: %d %.80s", resp.StatusCode, b)
		}
		// Its download links are the console's, whole: the file -o writes
		// opens from disk, and a browser signs in to the console (it has
		// no API token to send).
		if link := `href="` + n.url + `/console/incidents/` + id + `/report.csv"`; !strings.Contains(html, link) {
			t.Errorf("the report's download links: want %s", link)
		}
		// The suffix chooses the format whatever Accept says: the HTML's
		// download links and the README name report.json and period.json.
		for suffix, want := range map[string]string{
			"/incidents/" + id + "/report.json": "{", "/incidents/" + id + "/report.csv": "section,at,channel",
			"/incidents/" + id + "/report.html": "<!doctype html>", "/reports/period.json?from=2026-01-01&to=2026-12-31": "{",
		} {
			req, _ := http.NewRequest(http.MethodGet, n.url+"/api/v1/pages/"+r.Page.ID+suffix, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Accept", "text/html,*/*") // a browser following a download link
			resp, err := testHTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(strings.ToLower(string(b)), want) {
				t.Errorf("%s: %d %s %.60s; want %q", suffix, resp.StatusCode, resp.Header.Get("Content-Type"), b, want)
			}
		}
		// ?format= chooses it too (the path's suffix or Accept otherwise);
		// a format herald does not write, or one the suffix contradicts,
		// is refused by name rather than answered in HTML.
		for q, want := range map[string]string{
			"/incidents/" + id + "/report?format=csv": "200 section,at,channel", "/incidents/" + id + "/report?format=JSON": "200 {",
			"/reports/period?from=2026-01-01&to=2026-12-31&format=csv":      "200 section,at,channel",
			"/incidents/" + id + "/report?format=pdf":                       "400 ",
			"/incidents/" + id + "/report.json?format=csv":                  "400 ",
			"/reports/period.csv?from=2026-01-01&to=2026-12-31&format=xlsx": "400 ",
		} {
			req, _ := http.NewRequest(http.MethodGet, n.url+"/api/v1/pages/"+r.Page.ID+q, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Accept", "text/html,*/*")
			resp, err := testHTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got := fmt.Sprintf("%d %s", resp.StatusCode, b); !strings.HasPrefix(got, want) ||
				resp.StatusCode == http.StatusBadRequest && !strings.Contains(got, `"field":"format"`) {
				t.Errorf("%s: %.120s; want %q", q, got, want)
			}
		}
		// A period near the year 9999 is refused by name in every format:
		// its end would have no RFC 3339 form (the JSON answered 500).
		for _, q := range []string{"/reports/period.json?from=9999-06-01&to=9999-12-31", "/reports/period.csv?from=2026-01-01&to=9999-12-31", "/reports/period?from=0001-01-01&to=2026-12-31"} {
			req, _ := http.NewRequest(http.MethodGet, n.url+"/api/v1/pages/"+r.Page.ID+q, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := testHTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), `"field":"from"`) && !strings.Contains(string(b), `"field":"to"`) {
				t.Errorf("%s: %d %.200s; want 400 naming from or to", q, resp.StatusCode, b)
			}
		}
		// The HTML's download links leave ?format= out (their suffix says it).
		req, _ = http.NewRequest(http.MethodGet, n.url+"/api/v1/pages/"+r.Page.ID+"/incidents/"+id+"/report?format=html&lang=hu", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if resp, err := testHTTP.Do(req); err != nil {
			t.Fatal(err)
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(b), `/report.csv?lang=hu"`) {
				t.Errorf("?format=html: %d, want HTML whose CSV link is report.csv?lang=hu:\n%.300s", resp.StatusCode, b)
			}
		}
		// A language herald does not speak is refused by name; a tag with
		// a region names its language.
		for q, code := range map[string]int{"?lang=xx": http.StatusBadRequest, "?lang=hu-HU": http.StatusOK} {
			req, _ := http.NewRequest(http.MethodGet, n.url+"/api/v1/pages/"+r.Page.ID+"/incidents/"+id+"/report.json"+q, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := testHTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != code || code == http.StatusBadRequest && !strings.Contains(string(b), `"field":"lang"`) {
				t.Errorf("report%s: %d %s, want %d", q, resp.StatusCode, b, code)
			}
		}
		// Without a token: 401, nothing shown.
		if code, body := get(t, n.url+"/api/v1/pages/"+r.Page.ID+"/incidents/"+id+"/report.json"); code != http.StatusUnauthorized || strings.Contains(body, "Card payments") {
			t.Errorf("no token: %d %s", code, body)
		}
	})

	t.Run("postmortem", func(t *testing.T) {
		md := filepath.Join(dir, "pm.md")
		if err := os.WriteFile(md, []byte("# What happened\n\nThe card gateway *timed out*.\n\n<script>alert(1)</script>\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if out := mustCLI(t, env, "postmortem", id, "--file", md).stdout; !strings.Contains(out, "not published") {
			t.Errorf("postmortem: %s", out)
		}
		if _, page := get(t, n.url+"/incidents/"+id); strings.Contains(page, "What happened") {
			t.Error("a draft postmortem is on the public page")
		}
		if html := mustCLI(t, env, "report", id).stdout; !strings.Contains(html, "<h3>What happened</h3>") || strings.Contains(html, "alert(1)") {
			t.Errorf("the report's postmortem is not rendered safely")
		}
		if out := mustCLI(t, env, "postmortem", id, "--file", md, "--publish").stdout; !strings.Contains(out, "published") {
			t.Errorf("postmortem --publish: %s", out)
		}
		eventually(t, 10*time.Second, func() (bool, string) {
			_, page := get(t, n.url+"/incidents/"+id)
			return strings.Contains(page, "<h3>What happened</h3>") && strings.Contains(page, "<em>timed out</em>") && !strings.Contains(page, "alert(1)"),
				"the published postmortem is not on the incident page"
		})
	})

	t.Run("period", func(t *testing.T) {
		year := time.Now().UTC().Format("2006")
		var p reports.PeriodReport
		out := mustCLI(t, env, "report", "period", "--from", year+"-01-01", "--to", year+"-12-31", "--format", "json").stdout
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatal(err)
		}
		if p.Incidents != 1 || p.ByImpact["critical"] != 1 || p.Complaints.Total < 1 || len(p.CSATByMonth) != 12 || len(p.Components) != 1 || p.Components[0].Incidents != 1 {
			t.Errorf("period %+v", p)
		}
		if html := mustCLI(t, env, "report", "period", "--from", year+"-01-01", "--to", year+"-12-31").stdout; !strings.Contains(html, "<svg") {
			t.Error("the period's HTML has no chart")
		}
		if r := cli(t, env, "report", "period", "--from", "2026-13-01", "--to", "2026-12-31"); r.code != 2 {
			t.Errorf("a bad date: exit %d", r.code)
		}
	})
}

// wellFormed fails unless s parses as XML.
func wellFormed(t *testing.T, s string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%.300s", err, s)
		}
	}
}
