package console_test

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/console"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify"
)

func TestSignIn(t *testing.T) {
	e := startEnv(t, "")
	secret, _, err := e.n.Incidents.CreateToken(e.as(incident.RoleAdmin), "Mia", incident.RoleManager)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("a page asks for sign-in", func(t *testing.T) {
		c := e.client(t)
		res, _ := c.do("GET", "/console/queue", nil)
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/console/signin") {
			t.Fatalf("status %d to %q, want 303 to sign-in", res.StatusCode, res.Header.Get("Location"))
		}
	})

	t.Run("headers", func(t *testing.T) {
		res, _ := e.client(t).do("GET", "/console/signin", nil)
		csp := res.Header.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "default-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP allows inline code: %q", csp)
		}
		if res.Header.Get("X-Frame-Options") != "DENY" || res.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("X-Frame-Options %q, Referrer-Policy %q", res.Header.Get("X-Frame-Options"), res.Header.Get("Referrer-Policy"))
		}
	})

	t.Run("token once, rotated, signed out", func(t *testing.T) {
		c := e.client(t)
		tok := c.csrf("/console/signin")
		res, _ := c.do("POST", "/console/signin", url.Values{"_csrf": {tok}, "token": {"hrld_wrong"}})
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("bad token: status %d, want 401", res.StatusCode)
		}
		res, _ = c.do("POST", "/console/signin", url.Values{"_csrf": {tok}, "token": {secret}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign in: status %d", res.StatusCode)
		}
		var ck *http.Cookie
		for _, k := range res.Cookies() {
			if k.Name == "herald_console" {
				ck = k
			}
		}
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure || ck.Path != "/console" {
			t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/console, not Secure over http", ck)
		}
		first := c.cookies["herald_console"]
		s, err := e.n.Engine.Sessions.FindSessionByHash(context.Background(), incident.HashToken(first), e.n.Incidents.Now())
		if err != nil || s.Name != "Mia" || s.Role != incident.RoleManager || s.ExpiresAt.Sub(s.SeenAt) != console.DefaultIdleTimeout {
			t.Fatalf("stored session %+v, %v", s, err)
		}
		if s.Hash == first || strings.Contains(s.Hash, first) {
			t.Fatal("the store keeps the session's secret")
		}
		if res, body := c.do("GET", "/console/", nil); res.StatusCode != http.StatusOK || !strings.Contains(body, "Mia") {
			t.Fatalf("overview: %d", res.StatusCode)
		}
		// Signing in again rotates the session: the old one is gone.
		tok = c.csrf("/console/")
		c.do("POST", "/console/signin", url.Values{"_csrf": {tok}, "token": {secret}})
		second := c.cookies["herald_console"]
		if second == "" || second == first {
			t.Fatalf("session not rotated on sign-in")
		}
		if _, err := e.n.Engine.Sessions.FindSessionByHash(context.Background(), incident.HashToken(first), e.n.Incidents.Now()); err == nil {
			t.Error("the session before sign-in still works")
		}
		tok = c.csrf("/console/")
		if res, _ := c.do("POST", "/console/signout", url.Values{"_csrf": {tok}}); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign out: %d", res.StatusCode)
		}
		if _, err := e.n.Engine.Sessions.FindSessionByHash(context.Background(), incident.HashToken(second), e.n.Incidents.Now()); err == nil {
			t.Error("the session still works after sign-out")
		}
		c.cookies["herald_console"] = second // a copy of the old cookie
		if res, _ := c.do("GET", "/console/", nil); res.StatusCode != http.StatusSeeOther {
			t.Errorf("a signed-out cookie still opens the console: %d", res.StatusCode)
		}
	})

	t.Run("link works once", func(t *testing.T) {
		link := e.link(t, incident.RoleAgent, "Ana")
		sec := link[strings.LastIndex(link, "/")+1:]
		c := e.client(t)
		tok := c.csrf(link)
		if res, _ := c.do("POST", "/console/link", url.Values{"_csrf": {tok}, "secret": {sec}}); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/queue" {
			t.Fatalf("first use: %d to %q", res.StatusCode, res.Header.Get("Location"))
		}
		c2 := e.client(t)
		tok = c2.csrf(link)
		if res, _ := c2.do("POST", "/console/link", url.Values{"_csrf": {tok}, "secret": {sec}}); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("second use: %d, want 401", res.StatusCode)
		}
	})

	t.Run("revoking the token ends the session", func(t *testing.T) {
		c := e.client(t)
		c.signIn(incident.RoleAgent, "Temp")
		toks, _ := e.n.Incidents.Tokens(context.Background())
		for _, tk := range toks {
			if tk.Name == "Temp" {
				if err := e.n.Incidents.RevokeToken(e.as(incident.RoleAdmin), tk.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		if res, _ := c.do("GET", "/console/queue", nil); res.StatusCode != http.StatusSeeOther {
			t.Errorf("revoked token's session: %d, want 303 to sign-in", res.StatusCode)
		}
	})

	t.Run("language remembered", func(t *testing.T) {
		c := e.client(t)
		c.signIn(incident.RoleManager, "Lang")
		tok := c.csrf("/console/")
		c.do("POST", "/console/lang", url.Values{"_csrf": {tok}, "lang": {"hu"}, "back": {"/console/"}})
		if _, body := c.do("GET", "/console/", nil); !strings.Contains(body, `lang="hu"`) || !strings.Contains(body, "Áttekintés") {
			t.Error("the console is not in Hungarian after choosing it")
		}
	})
}

// TestRolesAndCSRF crafts every console route as an agent: each manager
// and admin route answers 403 and changes nothing; a form without its
// anti-forgery token is refused and changes nothing.
func TestRolesAndCSRF(t *testing.T) {
	e := startEnv(t, customersCSV)
	ctx := context.Background()
	inc := e.declare(t, "Payments are failing", true)
	waitFor(t, "the declaration's broadcast", 10e9, func() bool {
		ps, err := e.n.Notify.Broadcasts(ctx, inc.ID)
		return err == nil && len(ps) > 0
	})
	ps, _ := e.n.Notify.Broadcasts(ctx, inc.ID)
	cp, _, err := e.n.Complaints.Receive(ctx, complaint.Intake{PageID: e.page.ID, Channel: complaint.SMS,
		Contact: complaint.Contact{Phone: "+36201111111"}, Text: "<script>alert(1)</script> no payments"})
	if err != nil {
		t.Fatal(err)
	}

	grpName := "Money"
	grp, err := e.n.Incidents.CreateGroup(e.as(incident.RoleManager), e.page.ID, incident.GroupInput{Name: &grpName, ComponentIDs: []string{e.payments.ID}})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := e.n.Notify.Subscribe(e.as(incident.RoleManager), notify.SubscribeRequest{PageID: e.page.ID, Kind: channel.Email,
		Address: "sub@example.com", Source: "api", Confirmed: true})
	if err != nil {
		t.Fatal(err)
	}

	agent := e.client(t)
	agent.signIn(incident.RoleAgent, "Ana")
	tok := agent.csrf("/console/queue")
	toks, _ := e.n.Incidents.Tokens(ctx)
	ids := strings.NewReplacer(":id", inc.ID)
	snapshot := func() string {
		i, _ := e.n.Incidents.Incident(ctx, e.page.ID, inc.ID)
		ts, _ := e.n.Incidents.Tokens(ctx)
		d, _ := e.n.Compensation.Decision(ctx, e.page.ID, inc.ID)
		p, _ := e.n.Notify.Progress(ctx, ps[0].BroadcastID)
		all, _, _ := e.n.Incidents.Incidents(ctx, incident.IncidentFilter{PageID: e.page.ID})
		// The broadcast moves on by itself (pending → done); only a cancel
		// would be the agent's doing.
		cancelled := strconv.FormatBool(string(p.State) == "cancelled")
		g, _ := e.n.Incidents.Component(ctx, e.page.ID, grp.ID)
		pay, _ := e.n.Incidents.Component(ctx, e.page.ID, e.payments.ID)
		s, _ := e.n.Notify.Subscriber(ctx, e.page.ID, sub.ID)
		var group, subState string
		if g != nil {
			group = g.Name + "+" + pay.GroupID
		}
		if s != nil {
			subState = string(s.State)
		}
		return strings.Join([]string{itoa(i.Version), itoa(len(ts)), itoa(d.Version), cancelled, itoa(len(all)), group, subState}, "/")
	}
	before := snapshot()
	tried := 0
	for _, r := range e.n.Server.Console().Routes() {
		if r.Role != incident.RoleManager && r.Role != incident.RoleAdmin {
			continue
		}
		path := r.Path
		switch {
		case strings.Contains(path, "/broadcasts/"):
			path = strings.Replace(path, ":id", ps[0].BroadcastID, 1)
		case strings.Contains(path, "/tokens/"):
			path = strings.Replace(path, ":id", toks[0].ID, 1)
		case strings.Contains(path, "/groups/"):
			path = strings.Replace(path, ":id", grp.ID, 1)
		case strings.Contains(path, "/subscribers/"):
			path = strings.Replace(path, ":id", sub.ID, 1)
		default:
			path = ids.Replace(path)
		}
		form := url.Values{"_csrf": {tok}, "name": {"Hijack"}, "message": {"x"}, "step": {"confirm"}, "status": {"resolved"},
			"operational": {"on"}, "state": {string(compensation.None)}, "reason": {"no"}, "role": {"admin"},
			"component_" + e.payments.ID: {"operational"}}
		if r.Method == "GET" {
			form = nil
		}
		res, _ := agent.do(r.Method, path, form)
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("agent %s %s: status %d, want 403", r.Method, path, res.StatusCode)
		}
		tried++
	}
	if tried < 8 {
		t.Fatalf("tried %d manager routes; the route list looks wrong", tried)
	}
	if after := snapshot(); after != before {
		t.Errorf("the agent's refused requests changed something: %s → %s", before, after)
	}

	t.Run("csrf", func(t *testing.T) {
		_, entries, _ := e.n.Complaints.Timeline(ctx, e.page.ID, cp.ID)
		for _, form := range []url.Values{{"text": {"forged"}}, {"text": {"forged"}, "_csrf": {"wrong" + tok}}} {
			res, body := agent.do("POST", "/console/complaints/"+cp.ID+"/note", form)
			if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "form has expired") {
				t.Errorf("note without the token: %d", res.StatusCode)
			}
		}
		_, after, _ := e.n.Complaints.Timeline(ctx, e.page.ID, cp.ID)
		if len(after) != len(entries) {
			t.Error("a forged form added to the complaint")
		}
		if res, _ := agent.do("POST", "/console/complaints/"+cp.ID+"/note", url.Values{"_csrf": {tok}, "text": {"real note"}}); res.StatusCode != http.StatusSeeOther {
			t.Errorf("note with the token: %d", res.StatusCode)
		}
	})

	t.Run("a customer's words are escaped", func(t *testing.T) {
		for _, p := range []string{"/console/queue", "/console/complaints/" + cp.ID} {
			_, body := agent.do("GET", p, nil)
			if strings.Contains(body, "<script>alert") || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
				t.Errorf("%s does not escape the customer's words", p)
			}
		}
	})

	t.Run("every agent page renders", func(t *testing.T) {
		for _, p := range []string{"/console/", "/console/queue", "/console/queue?view=mine", "/console/queue?view=risk&sort=due",
			"/console/complaints/" + cp.ID, "/console/calls/new", "/console/calls/new?q=%2B36201111111", "/console/calls/new?customer=c1",
			"/console/incidents/" + inc.ID} {
			if res, body := agent.do("GET", p, nil); res.StatusCode != http.StatusOK {
				t.Errorf("GET %s: %d\n%s", p, res.StatusCode, body)
			}
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestManagerWithoutJavaScript declares, updates and resolves through the
// forms as a browser without JavaScript would, and renders every manager
// page.
func TestManagerWithoutJavaScript(t *testing.T) {
	e := startEnv(t, customersCSV)
	ctx := context.Background()
	m := e.client(t)
	m.signIn(incident.RoleAdmin, "Mia")
	tok := m.csrf("/console/incidents/new")
	form := url.Values{"_csrf": {tok}, "name": {"Payments down"}, "status": {"investigating"}, "impact": {"auto"},
		"message": {"Card payments fail."}, "message_hu": {"A kártyás fizetés nem működik."}, "name_hu": {"Nem működik a fizetés"}, "notify": {"on"},
		"component_" + e.payments.ID: {"major_outage"}, "step": {"preview"}}
	if _, page := m.do("GET", "/console/incidents/new", nil); !strings.Contains(page, `name="message_hu"`) || !strings.Contains(page, `name="message_pl"`) ||
		!strings.Contains(page, `name="name_hu"`) {
		t.Error("the declare form has no fields for the page's other languages")
	}
	res, body := m.do("POST", "/console/incidents", form)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "Nothing has been published") {
		t.Fatalf("preview: %d", res.StatusCode)
	}
	if !strings.Contains(body, `<blockquote class="body" lang="hu">A kártyás fizetés nem működik.</blockquote>`) ||
		!strings.Contains(body, `name="message_hu" value="A kártyás fizetés nem működik."`) ||
		!strings.Contains(body, `<span lang="hu">Nem működik a fizetés</span>`) || !strings.Contains(body, `name="name_hu" value="Nem működik a fizetés"`) {
		t.Errorf("the preview does not show and carry the Hungarian name and text:\n%s", body)
	}
	// Anna and Bob have Payments, with a phone and an email each.
	if !strings.Contains(body, "<span>sms</span> <strong>2</strong>") || !strings.Contains(body, "<span>email</span> <strong>2</strong>") {
		t.Errorf("the preview does not count the audience:\n%s", body)
	}
	key := regexpKey.FindStringSubmatch(body)
	if key == nil {
		t.Fatal("the preview carries no idempotency key")
	}
	form.Set("key", key[1])
	form.Set("step", "confirm")
	for range 2 { // a double click declares once
		if res, _ := m.do("POST", "/console/incidents", form); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("confirm: %d", res.StatusCode)
		}
	}
	list, _, _ := e.n.Incidents.Incidents(ctx, incident.IncidentFilter{PageID: e.page.ID})
	if len(list) != 1 || list[0].Name != "Payments down" {
		t.Fatalf("incidents after confirming twice: %d", len(list))
	}
	inc := list[0]
	if got := inc.Updates[0].Messages["hu"]; got != "A kártyás fizetés nem működik." {
		t.Errorf("the declaration's Hungarian text is %q", got)
	}
	if got := inc.NameIn("hu"); got != "Nem működik a fizetés" || inc.NameIn("pl") != "Payments down" {
		t.Errorf("the declaration's Hungarian name is %q (Polish %q)", got, inc.NameIn("pl"))
	}
	comp, _ := e.n.Incidents.Component(ctx, e.page.ID, e.payments.ID)
	if comp.Status != incident.MajorOutage {
		t.Errorf("Payments is %s, want major_outage", comp.Status)
	}
	// A Hungarian console shows what Hungarian customers were told.
	m.cookies["herald_lang"] = "hu"
	if _, body := m.do("GET", "/console/incidents/"+inc.ID, nil); !strings.Contains(body, "A kártyás fizetés nem működik.") ||
		!strings.Contains(body, "<title>Nem működik a fizetés") {
		t.Error("the Hungarian console does not show the update's Hungarian text and the incident's Hungarian name")
	}
	if _, body := m.do("GET", "/console/", nil); !strings.Contains(body, ">Nem működik a fizetés</a></h3>") {
		t.Error("the Hungarian overview does not name the incident in Hungarian")
	}
	m.cookies["herald_lang"] = "en"
	if _, body := m.do("GET", "/console/", nil); !strings.Contains(body, "Card payments fail.") {
		t.Error("the English console does not show the update's default text")
	}
	// Times name their zone: the reports speak UTC, the page its own.
	if _, body := m.do("GET", "/console/incidents/"+inc.ID, nil); !regexp.MustCompile(`<time>\d{4}-\d\d-\d\d \d\d:\d\d [A-Z][A-Z0-9+-]+</time>`).MatchString(body) {
		t.Error("the incident's start time does not name its zone")
	}
	for _, p := range []string{"/console/", "/console/incidents/" + inc.ID, "/console/incidents/" + inc.ID + "/update",
		"/console/incidents/" + inc.ID + "/update?resolve=1", "/console/incidents/" + inc.ID + "/audience", "/console/tokens"} {
		if res, body := m.do("GET", p, nil); res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d\n%s", p, res.StatusCode, body)
		}
	}
	if _, body := m.do("GET", "/console/incidents/"+inc.ID+"/audience", nil); !strings.Contains(body, "2 recipients") {
		t.Errorf("the audience page does not count the two customers of Payments")
	} else if regexp.MustCompile(`<h2>(sms|email|slack|webhook) ·`).MatchString(body) || !strings.Contains(body, "<h2>Email · ") {
		t.Errorf("the audience page names channels by their raw values, not in words")
	}
	_, body = m.do("GET", "/console/incidents/"+inc.ID+"/update?resolve=1", nil)
	if !strings.Contains(body, `name="operational" checked`) || !strings.Contains(body, `value="resolved" selected`) {
		t.Error("resolve does not pre-fill resolved and return-to-operational")
	}
	tok = m.csrf("/console/incidents/" + inc.ID + "/update")
	if res, _ := m.do("POST", "/console/incidents/"+inc.ID+"/update", url.Values{"_csrf": {tok}, "status": {"resolved"},
		"operational": {"on"}, "message": {"Fixed."}, "message_pl": {"Naprawione."}, "notify": {"on"}, "impact": {"auto"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("resolve: %d", res.StatusCode)
	}
	comp, _ = e.n.Incidents.Component(ctx, e.page.ID, e.payments.ID)
	got, _ := e.n.Incidents.Incident(ctx, e.page.ID, inc.ID)
	if pl := got.Updates[0].Messages["pl"]; pl != "Naprawione." {
		t.Errorf("the resolution's Polish text is %q (updates newest first?)", pl)
	}
	if got.Status != incident.Resolved || comp.Status != incident.Operational {
		t.Errorf("after resolve: incident %s, Payments %s", got.Status, comp.Status)
	}
}

var regexpKey = regexp.MustCompile(`name="key" value="([^"]+)"`)

func TestScheduleMaintenance(t *testing.T) {
	e := startEnv(t, "")
	m := e.client(t)
	m.signIn(incident.RoleManager, "Mia")
	tok := m.csrf("/console/maintenance/new")
	if _, form := m.do("GET", "/console/maintenance/new", nil); !strings.Contains(form, `name="name_hu"`) || !strings.Contains(form, `name="message_hu"`) {
		t.Error("the maintenance form has no Hungarian name and message fields")
	}
	start := time.Now().Add(48 * time.Hour).In(time.UTC)
	if loc, err := time.LoadLocation(e.page.TimeZone); err == nil {
		start = start.In(loc)
	}
	res, body := m.do("POST", "/console/maintenance", url.Values{"_csrf": {tok}, "name": {"Database upgrade"}, "start": {start.Format("2006-01-02T15:04")},
		"minutes": {"30"}, "component": {e.payments.ID}, "message": {"Payments may be slow."}, "notify": {"on"},
		"name_hu": {"Adatbázis-frissítés"}, "message_hu": {"A fizetés lassú lehet."}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("schedule: %d\n%s", res.StatusCode, body)
	}
	list, _, _ := e.n.Incidents.Incidents(context.Background(), incident.IncidentFilter{PageID: e.page.ID})
	if len(list) != 1 || !list[0].IsMaintenance() || list[0].ScheduledUntil.Sub(*list[0].ScheduledFor) != 30*time.Minute ||
		list[0].ScheduledFor.Truncate(time.Minute) != start.UTC().Truncate(time.Minute) {
		t.Fatalf("maintenances: %+v", list)
	}
	if got := list[0]; got.NameIn("hu") != "Adatbázis-frissítés" || len(got.Updates) == 0 || got.Updates[0].Messages["hu"] != "A fizetés lassú lehet." {
		t.Errorf("the Hungarian name and message: %q, %+v", got.NameIn("hu"), got.Updates)
	}
	if _, body := m.do("GET", "/console/", nil); !strings.Contains(body, "Database upgrade") {
		t.Error("the overview does not list the maintenance")
	}
	if res, _ := m.do("POST", "/console/maintenance", url.Values{"_csrf": {tok}, "name": {"x"}, "start": {"soon"}, "minutes": {"30"}, "message": {"m"}}); res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("a bad start: %d, want 422", res.StatusCode)
	}
}

func TestImportCustomers(t *testing.T) {
	e := startEnv(t, "")
	m := e.client(t)
	m.signIn(incident.RoleManager, "Mia")
	tok := m.csrf("/console/customers/import")
	upload := func(csv string, skip bool) (*http.Response, string) {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		_ = w.WriteField("_csrf", tok)
		if skip {
			_ = w.WriteField("skip", "on")
		}
		fw, _ := w.CreateFormFile("file", "customers.csv")
		_, _ = fw.Write([]byte(csv))
		_ = w.Close()
		req := httptest.NewRequest("POST", "/console/customers/import", &buf)
		req.Header.Set("Content-Type", w.FormDataContentType())
		req.AddCookie(&http.Cookie{Name: "herald_console", Value: m.cookies["herald_console"]})
		res, err := e.n.Server.App().Test(req, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	bad := customersCSV + "c9,Bad Phone,12,not-an-email,,en,,silver,eu,Payments\n"
	res, body := upload(bad, false)
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "<td>c9</td>") || !strings.Contains(body, "Nothing was imported") {
		t.Fatalf("bad rows: %d\n%s", res.StatusCode, body)
	}
	if _, n, _ := e.n.Notify.Customers(context.Background(), e.page.ID, "", 10); n != 0 {
		t.Fatalf("%d customers after a refused file, want 0", n)
	}
	res, body = upload(bad, true)
	if res.StatusCode != http.StatusUnprocessableEntity && res.StatusCode != http.StatusOK {
		t.Fatalf("skip bad rows: %d", res.StatusCode)
	}
	if _, n, _ := e.n.Notify.Customers(context.Background(), e.page.ID, "", 10); n != 3 || !strings.Contains(body, "<td>c9</td>") {
		t.Fatalf("%d customers after skipping the bad row, want 3", n)
	}
}

func TestComponents(t *testing.T) {
	e := startEnv(t, "")
	m := e.client(t)
	m.signIn(incident.RoleManager, "Mia")
	tok := m.csrf("/console/components")
	if res, _ := m.do("POST", "/console/components/"+e.checkout.ID, url.Values{"_csrf": {tok}, "status": {"degraded_performance"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("set status: %d", res.StatusCode)
	}
	if res, _ := m.do("POST", "/console/components", url.Values{"_csrf": {tok}, "name": {"Mobile app"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add: %d", res.StatusCode)
	}
	if res, _ := m.do("POST", "/console/components/"+e.checkout.ID, url.Values{"_csrf": {tok}, "status": {"on_fire"}}); res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("a bad status: %d, want 422", res.StatusCode)
	}
	comps, _ := e.n.Incidents.Components(context.Background(), e.page.ID)
	got := map[string]incident.ComponentStatus{}
	for _, c := range comps {
		got[c.Name] = c.Status
	}
	if got["Checkout"] != incident.DegradedPerformance || got["Mobile app"] != incident.Operational || len(comps) != 3 {
		t.Errorf("components: %v", got)
	}
}

// TestRecordCallAt: a call an agent records after taking it keeps when it
// came in, read in the page's time zone as the form's label says; a time
// ahead of now, or not a time, is refused and writes nothing.
func TestRecordCallAt(t *testing.T) {
	e := startEnv(t, "")
	ctx := e.as(incident.RoleAgent)
	tz := "Europe/Budapest"
	p, err := e.n.Incidents.UpdatePage(e.as(incident.RoleAdmin), e.page.ID, incident.PageInput{TimeZone: &tz})
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation(p.TimeZone)
	agent := e.client(t)
	agent.signIn(incident.RoleAgent, "ann")
	tok := agent.csrf("/console/calls/new")
	if _, body := agent.do("GET", "/console/calls/new", nil); !strings.Contains(body, "(Europe/Budapest;") || !strings.Contains(body, `name="at"`) {
		t.Fatalf("the call form has no time of the call in the page's zone")
	}
	count := func() int {
		_, n, err := e.n.Complaints.List(ctx, complaint.Filter{PageID: e.page.ID, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, bad := range []string{time.Now().In(loc).Add(time.Hour).Format("2006-01-02T15:04"), "yesterday", "2019-06-01T10:00"} {
		res, body := agent.do("POST", "/console/calls", url.Values{"_csrf": {tok}, "name": {"Walk-in"}, "text": {"x"}, "at": {bad}})
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "That time cannot be right") {
			t.Errorf("at %q: status %d", bad, res.StatusCode)
		}
	}
	if n := count(); n != 0 {
		t.Fatalf("%d complaints from refused forms", n)
	}
	at := time.Now().In(loc).Add(-90 * time.Minute).Truncate(time.Minute)
	res, _ := agent.do("POST", "/console/calls", url.Values{"_csrf": {tok}, "name": {"Walk-in"}, "text": {"rang at lunch"}, "at": {at.Format("2006-01-02T15:04")}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("record: status %d", res.StatusCode)
	}
	id := strings.TrimPrefix(res.Header.Get("Location"), "/console/complaints/")
	cp, err := e.n.Complaints.Get(ctx, e.page.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	if !cp.CreatedAt.Equal(at) || cp.Owner != "ann" {
		t.Errorf("recorded at %s by %q, want %s by ann", cp.CreatedAt, cp.Owner, at.UTC())
	}
}
