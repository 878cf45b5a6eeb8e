package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/incident/wire"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/sandbox"
)

// cpEnv is bcEnv with the complaint front doors on the same store.
type cpEnv struct {
	*bcEnv
	cs *complaint.Service
}

// newComplaintEnv builds a cpEnv with customers c1 (Anna, hu) and c2
// (Bob, en) on component API, and the report form's limits opts sets.
func newComplaintEnv(t *testing.T, opts ...func(*ComplaintsConfig)) *cpEnv {
	t.Helper()
	e := &cpEnv{}
	b := newBroadcastEnv(t, true, bcOption{
		broadcast: func(c *BroadcastConfig) { c.DefaultRegion = "HU" },
		enable: func(b *bcEnv) {
			e.cs = complaint.NewService(b.db, b.db, b.db, b.n, b.events, slog.New(slog.NewTextHandler(io.Discard, nil)))
			cfg := ComplaintsConfig{}
			for _, o := range opts {
				o(&cfg)
			}
			if err := b.srv.EnableComplaints(e.cs, cfg); err != nil {
				t.Fatal(err)
			}
		}})
	e.bcEnv = b
	b.mustDo(t, http.StatusOK, "POST", "/api/v1/pages/"+b.page.ID+"/customers/import", b.manager, customersCSV, "Content-Type", "text/csv")
	return e
}

func (e *cpEnv) path(rest string) string { return "/api/v1/pages/" + e.page.ID + "/complaints" + rest }

// complaints returns how many complaints the page has.
func (e *cpEnv) count(t *testing.T) int {
	t.Helper()
	_, n, err := e.cs.List(context.Background(), complaint.Filter{PageID: e.page.ID})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestComplaintAPI(t *testing.T) {
	e := newComplaintEnv(t)
	ctx := context.Background()
	inc, _, err := e.svc.CreateIncident(ctx, e.page.ID, incident.IncidentInput{Name: ptr("Billing is down"), Status: ptr(incident.Investigating),
		Body: ptr("We are looking into it."), Components: map[string]incident.ComponentStatus{e.compB.ID: incident.MajorOutage}}, "")
	if err != nil {
		t.Fatal(err)
	}

	// Dora is an agent: complaints can be given to her.
	if _, _, err := e.svc.CreateToken(ctx, "dora", incident.RoleAgent); err != nil {
		t.Fatal(err)
	}

	// An agent records a call from Bob, by his national number.
	var cp wire.Complaint
	e.mustDo(t, http.StatusCreated, "POST", e.path(""), e.agent,
		`{"channel":"phone","contact":{"phone":"06 20 222 2222"},"category":"refund","text":"I was charged twice","ask":"compensation","severity":"high","promise":"call back tomorrow"}`).json(t, &cp)
	if cp.Contact.Phone != "+36202222222" || cp.Contact.CustomerID != "c2" || cp.Channel != "phone" || cp.Category != "refund" ||
		cp.Ask != "compensation" || cp.Severity != "high" || cp.Owner != "agent token" || !strings.HasPrefix(cp.Ref, "C-") {
		t.Fatalf("recorded %+v", cp)
	}

	t.Run("get with timeline", func(t *testing.T) {
		var got wire.Complaint
		e.mustDo(t, http.StatusOK, "GET", e.path("/"+cp.ID), e.agent, "").json(t, &got)
		if got.ID != cp.ID || len(got.Timeline) == 0 || got.Timeline[0].Kind != "message_in" || got.Timeline[0].Text != "I was charged twice" {
			t.Fatalf("got %+v", got)
		}
		e.mustDo(t, http.StatusNotFound, "GET", e.path("/nope"), e.agent, "")
		// Path parameters are decoded: a reference with a stray space
		// (copied from an SMS) finds the complaint; an escaped slash is
		// named as it was meant.
		e.mustDo(t, http.StatusOK, "GET", e.path("/"+cp.Ref+"%20"), e.agent, "").json(t, &got)
		if got.ID != cp.ID {
			t.Errorf("by reference with a space: %s, want %s", got.ID, cp.ID)
		}
		if d := e.mustDo(t, http.StatusNotFound, "GET", e.path("/a%2Fb"), e.agent, "").errorOf(t); !strings.Contains(d.Message, `"a/b"`) {
			t.Errorf("an escaped slash: %+v", d)
		}
		e.mustDo(t, http.StatusUnauthorized, "GET", e.path("/"+cp.ID), "", "")
	})

	t.Run("actions", func(t *testing.T) {
		steps := []struct {
			verb, body string
			check      func(wire.Complaint) bool
		}{
			{"/assign", `{"owner":"dora"}`, func(c wire.Complaint) bool { return c.Owner == "dora" }},
			{"/tag", `{"incident_id":"` + inc.ID + `"}`, func(c wire.Complaint) bool { return c.Tag != nil && c.Tag.IncidentID == inc.ID }},
			{"/tag", `{"incident_id":null}`, func(c wire.Complaint) bool { return c.Tag == nil }},
			{"/notes", `{"text":"customer sounded upset"}`, func(c wire.Complaint) bool { return true }},
			{"/reply", `{"text":"We are checking the double charge."}`, func(c wire.Complaint) bool { return c.State == "in_progress" && !c.FirstAnswerAt.IsZero() }},
			{"/state", `{"state":"waiting_on_customer"}`, func(c wire.Complaint) bool { return c.State == "waiting_on_customer" }},
			{"/resolve", `{"remedy":"refund","outcome":"Refunded the second charge."}`, func(c wire.Complaint) bool {
				return c.State == "resolved" && c.Remedy == "refund" && c.Outcome == "Refunded the second charge."
			}},
		}
		for _, s := range steps {
			var got wire.Complaint
			e.mustDo(t, http.StatusOK, "POST", e.path("/"+cp.ID+s.verb), e.agent, s.body).json(t, &got)
			if !s.check(got) {
				t.Errorf("%s %s: %+v", s.verb, s.body, got)
			}
		}
		var got wire.Complaint
		e.mustDo(t, http.StatusOK, "PATCH", e.path("/"+cp.ID), e.agent, `{"severity":"critical","components":["`+e.compB.ID+`"],"hold_open":true}`).json(t, &got)
		if got.Severity != "critical" || !got.HoldOpen || len(got.Components) != 1 {
			t.Errorf("patched %+v", got)
		}
		e.mustDo(t, http.StatusOK, "GET", e.path("/"+cp.ID), e.agent, "").json(t, &got)
		kinds := map[string]int{}
		for _, en := range got.Timeline {
			kinds[en.Kind]++
		}
		if kinds["assign"] < 2 || kinds["tag"] < 2 || kinds["note"] < 2 || kinds["message_out"] < 2 || kinds["state"] < 2 || kinds["edit"] != 1 {
			t.Errorf("timeline kinds %v", kinds)
		}
		// A resolved complaint cannot be resolved again.
		r := e.mustDo(t, http.StatusUnprocessableEntity, "POST", e.path("/"+cp.ID+"/resolve"), e.agent, `{"remedy":"none","outcome":"again"}`)
		if d := r.errorOf(t); d.Code != incident.ETRANSITION {
			t.Errorf("error %+v", d)
		}
	})

	t.Run("list and filters", func(t *testing.T) {
		e.mustDo(t, http.StatusCreated, "POST", e.path(""), e.agent,
			`{"channel":"api","contact":{"email":"Walk.In@Example.COM","name":"Walk-in"},"text":"billing page errors","incident_id":"`+inc.ID+`"}`)
		tests := []struct {
			query string
			n     int
		}{
			{"", 2}, {"?open=true", 1}, {"?state=resolved", 1}, {"?incident_id=" + inc.ID, 1}, {"?untagged=true", 1},
			{"?customer_id=c2", 1}, {"?channel=api", 1}, {"?category=refund", 1}, {"?owner=dora", 1}, {"?limit=1", 2},
			{"?from=2000-01-01&to=2001-01-01", 0}, {"?repeat=true", 0},
			// Due in 24 hours (the default policy): not at risk.
			{"?at_risk=true", 0}, {"?at_risk=true&open=true", 0},
		}
		for _, tc := range tests {
			var list []wire.Complaint
			r := e.mustDo(t, http.StatusOK, "GET", e.path(tc.query), e.agent, "")
			r.json(t, &list)
			if got := r.header.Get("X-Total-Count"); got != strconv.Itoa(tc.n) {
				t.Errorf("%s: X-Total-Count %s, want %d (%s)", tc.query, got, tc.n, r.body)
			}
			if tc.query == "?limit=1" && len(list) != 1 {
				t.Errorf("limit=1 gave %d", len(list))
			}
		}
		var list []wire.Complaint
		e.mustDo(t, http.StatusOK, "GET", e.path("?open=true"), e.agent, "").json(t, &list)
		if len(list) != 1 || list[0].AtRisk == nil || *list[0].AtRisk || list[0].DueAt.IsZero() {
			t.Errorf("an open complaint due tomorrow: at_risk %v, due_at %v; want false and its due time", list[0].AtRisk, list[0].DueAt)
		}
		e.mustDo(t, http.StatusBadRequest, "GET", e.path("?at_risk=maybe"), e.agent, "")
		e.mustDo(t, http.StatusBadRequest, "GET", e.path("?state=lost"), e.agent, "")
		e.mustDo(t, http.StatusBadRequest, "GET", e.path("?from=yesterday"), e.agent, "")
		if d := e.mustDo(t, http.StatusBadRequest, "GET", e.path("?from=2030-01-01&to=2020-01-01"), e.agent, "").errorOf(t); d.Field != "from" {
			t.Errorf("from after to: %+v, want an error naming from", d)
		}
	})

	t.Run("stats", func(t *testing.T) {
		var st wire.ComplaintStats
		e.mustDo(t, http.StatusOK, "GET", e.path("/stats"), e.agent, "").json(t, &st)
		if st.Total != 2 || st.ByChannel["phone"] != 1 || st.ByChannel["api"] != 1 || st.Tagged != 1 || st.Remedies["refund"] != 1 || st.Resolution.N != 1 {
			t.Errorf("stats %+v", st)
		}
		for _, r := range []response{
			e.mustDo(t, http.StatusOK, "GET", e.path("/stats?format=csv"), e.agent, ""),
			e.mustDo(t, http.StatusOK, "GET", e.path("/stats"), e.agent, "", "Accept", "text/csv"),
		} {
			if !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") || !strings.Contains(r.String(), "total,,2\n") || !strings.Contains(r.String(), "by_channel,phone,1\n") {
				t.Errorf("csv %s %s", r.header.Get("Content-Type"), r.body)
			}
		}
		e.mustDo(t, http.StatusBadRequest, "GET", e.path("/stats?format=xml"), e.agent, "")
	})
}

func TestComplaintBadInput(t *testing.T) {
	e := newComplaintEnv(t)
	tests := []struct {
		name, body, field string
	}{
		{"no channel", `{"contact":{"name":"X"},"text":"t"}`, "channel"},
		{"bad channel", `{"channel":"fax","contact":{"name":"X"},"text":"t"}`, "channel"},
		{"no contact", `{"channel":"phone","text":"t"}`, "contact"},
		{"bad phone", `{"channel":"phone","contact":{"phone":"12"},"text":"t"}`, "contact.phone"},
		{"bad email", `{"channel":"api","contact":{"email":"not an email"},"text":"t"}`, "contact.email"},
		{"unknown customer", `{"channel":"api","contact":{"customer_id":"zz"},"text":"t"}`, "contact.customer_id"},
		{"no text", `{"channel":"phone","contact":{"name":"X"}}`, "text"},
		{"text too long", `{"channel":"phone","contact":{"name":"X"},"text":"` + strings.Repeat("a", complaint.MaxTextLen+1) + `"}`, "text"},
		{"bad category", `{"channel":"phone","contact":{"name":"X"},"text":"t","category":"weather"}`, "category"},
		{"bad ask", `{"channel":"phone","contact":{"name":"X"},"text":"t","ask":"cake"}`, "ask"},
		{"bad severity", `{"channel":"phone","contact":{"name":"X"},"text":"t","severity":"meh"}`, "severity"},
		{"unknown incident", `{"channel":"phone","contact":{"name":"X"},"text":"t","incident_id":"nope"}`, "incident_id"},
		{"unknown component", `{"channel":"phone","contact":{"name":"X"},"text":"t","components":["nope"]}`, "components[0]"},
		{"wrong type", `{"channel":"phone","contact":{"name":"X"},"text":5}`, "text"},
		{"long owner", `{"channel":"phone","contact":{"name":"X"},"text":"t","owner":"` + strings.Repeat("o", 201) + `"}`, "owner"},
		{"escape in name", `{"channel":"phone","contact":{"name":"\u001b[2JX"},"text":"t"}`, "contact.name"},
		{"escape in name, any channel", `{"channel":"sms","contact":{"name":"X\u0007"},"text":"t"}`, "contact.name"},
		{"line break in subject", `{"channel":"api","contact":{"name":"X"},"subject":"a\nb","text":"t"}`, "subject"},
		{"bidi override in owner", `{"channel":"phone","contact":{"name":"X"},"text":"t","owner":"ann\u202e"}`, "owner"},
		{"NUL in text", `{"channel":"phone","contact":{"name":"X"},"text":"a\u0000b"}`, "text"},
		{"NUL in promise", `{"channel":"phone","contact":{"name":"X"},"text":"t","promise":"a\u0000b"}`, "promise"},
		{"at not a time", `{"channel":"phone","contact":{"name":"X"},"text":"t","at":"yesterday"}`, "at"},
		{"at a number", `{"channel":"phone","contact":{"name":"X"},"text":"t","at":1733390000}`, "at"},
		{"at in the future", `{"channel":"phone","contact":{"name":"X"},"text":"t","at":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`, "at"},
		{"at years ago", `{"channel":"phone","contact":{"name":"X"},"text":"t","at":"2020-01-01T00:00:00Z"}`, "at"},
		{"misspelt field", `{"channel":"phone","contact":{"name":"X"},"text":"t","when":"2026-12-01T10:00:00Z"}`, "when"},
		{"wrapped", `{"complaint":{"channel":"phone","contact":{"name":"X"},"text":"t"}}`, "complaint"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.mustDo(t, http.StatusBadRequest, "POST", e.path(""), e.agent, tc.body)
			if d := r.errorOf(t); d.Code != incident.EINVALID || d.Field != tc.field {
				t.Errorf("error %+v, want field %s", d, tc.field)
			}
		})
	}
	if n := e.count(t); n != 0 {
		t.Fatalf("%d complaints written by bad requests", n)
	}

	var cp wire.Complaint
	e.mustDo(t, http.StatusCreated, "POST", e.path(""), e.agent, `{"channel":"phone","contact":{"name":"X"},"text":"t"}`).json(t, &cp)
	actions := []struct {
		method, verb, body, field string
	}{
		{"POST", "/assign", `{}`, "owner"},
		{"POST", "/tag", `{"incident_id":""}`, "incident_id"},
		{"POST", "/tag", `{"incident_id":"  "}`, "incident_id"},
		{"POST", "/tag", `{}`, "incident_id"},
		{"POST", "/tag", `{"incident_id":5}`, "incident_id"},
		{"POST", "/tag", `{"incident_id":"nope"}`, "incident_id"},
		{"POST", "/notes", `{"text":" "}`, "text"},
		{"POST", "/reply", `{}`, "text"},
		{"POST", "/state", `{"state":"lost"}`, "state"},
		{"POST", "/state", `{"state":"resolved"}`, "state"},
		{"POST", "/resolve", `{"remedy":"cash","outcome":"x"}`, "remedy"},
		{"POST", "/resolve", `{"remedy":"refund"}`, "outcome"},
		{"PATCH", "", `{"category":"weather"}`, "category"},
		{"PATCH", "", `{"components":["nope"]}`, "components[0]"},
		{"PATCH", "", `{"hold_open":"yes"}`, "hold_open"},
		{"PATCH", "", `{"promise":"a\u0000b"}`, "promise"},
		{"POST", "/assign", `{"owner":"dora\u001b[0m"}`, "owner"},
		{"POST", "/notes", `{"text":"a\u0000b"}`, "text"},
		{"POST", "/notes", `{"text":"bell\u0007 esc\u001b[31m"}`, "text"},
		{"POST", "/reply", `{"text":"a\u0000b"}`, "text"},
		{"POST", "/resolve", `{"remedy":"refund","outcome":"a\u0000b"}`, "outcome"},
	}
	for _, a := range actions {
		r := e.mustDo(t, http.StatusBadRequest, a.method, e.path("/"+cp.ID+a.verb), e.agent, a.body)
		if d := r.errorOf(t); d.Field != a.field {
			t.Errorf("%s %s %s: error %+v, want field %s", a.method, a.verb, a.body, d, a.field)
		}
	}
}

// sms is a Twilio inbound SMS form.
func sms(sid, from, body string) url.Values {
	return url.Values{"MessageSid": {sid}, "AccountSid": {sandbox.DefaultAccountSID}, "From": {from},
		"To": {"+15005550006"}, "Body": {body}, "NumMedia": {"0"}, "SmsStatus": {"received"}}
}

func TestSMSComplaint(t *testing.T) {
	e := newComplaintEnv(t)
	ctx := context.Background()
	sid := "SM" + strings.Repeat("b", 32)

	t.Run("forged signature writes nothing", func(t *testing.T) {
		r := e.twilioPost(t, "/webhooks/twilio/sms", sms(sid, "+36201111111", "my card payment failed"), "")
		if r.status != http.StatusForbidden || r.errorOf(t).Code != incident.EFORBIDDEN {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		if n := e.count(t); n != 0 {
			t.Fatalf("%d complaints after a forged request", n)
		}
	})
	t.Run("filed once, before the 2xx, with an empty TwiML", func(t *testing.T) {
		for range 2 { // Twilio's retry of the same message
			r := e.twilioPost(t, "/webhooks/twilio/sms", sms(sid, "+36201111111", "my card payment failed"), sandbox.DefaultAuthToken)
			if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/xml") || strings.Contains(r.String(), "<Message>") {
				t.Fatalf("answer %d %s", r.status, r.body)
			}
		}
		cs, n, err := e.cs.List(ctx, complaint.Filter{PageID: e.page.ID})
		if err != nil || n != 1 {
			t.Fatalf("%d complaints, %v", n, err)
		}
		c := cs[0]
		if c.Channel != complaint.SMS || c.Contact.Phone != "+36201111111" || c.Contact.CustomerID != "c1" || c.Language != "hu" || c.Messages != 1 {
			t.Errorf("complaint %+v", c)
		}
		_, entries, err := e.cs.Timeline(ctx, e.page.ID, c.ID)
		if err != nil || len(entries) == 0 || entries[0].ExternalID != sid {
			t.Errorf("timeline %v %v", entries, err)
		}
	})
	t.Run("keywords are no complaints", func(t *testing.T) {
		e.twilioPost(t, "/webhooks/twilio/sms", sms("SM"+strings.Repeat("c", 32), "+36203333333", "HELP"), sandbox.DefaultAuthToken)
		if n := e.count(t); n != 1 {
			t.Fatalf("%d complaints after HELP", n)
		}
		// A yes-word with no sign-up waiting for it (a second IGEN, one
		// after the code was typed on the page) is answered, not filed.
		r := e.twilioPost(t, "/webhooks/twilio/sms", sms("SM"+strings.Repeat("d", 32), "+36203333333", "Igen"), sandbox.DefaultAuthToken)
		if n := e.count(t); n != 1 || !strings.Contains(r.String(), "<Message>") || !strings.Contains(r.String(), "megerősítésre váró") {
			t.Fatalf("%d complaints after IGEN; answer %s", n, r.body)
		}
	})
}

// reportForm returns the report form's token and posts values to /report
// as a browser would (Accept text/html) unless asJSON.
func (e *cpEnv) postReport(t *testing.T, v url.Values, asJSON bool, headers ...string) response {
	t.Helper()
	accept := "text/html"
	if asJSON {
		accept = "application/json"
	}
	return e.form(t, "/report", v, append([]string{"Accept", accept}, headers...)...)
}

func TestReportForm(t *testing.T) {
	e := newComplaintEnv(t, func(c *ComplaintsConfig) {
		c.ReportContactLimit.Rate, c.ReportContactLimit.Burst = 1e-6, 2
		c.ReportIPLimit.Rate, c.ReportIPLimit.Burst = 1000, 1000
	})
	ctx := context.Background()
	inc, _, err := e.svc.CreateIncident(ctx, e.page.ID, incident.IncidentInput{Name: ptr("API outage"), Status: ptr(incident.Investigating),
		Body: ptr("Looking."), Components: map[string]incident.ComponentStatus{e.compA.ID: incident.MajorOutage}}, "")
	if err != nil {
		t.Fatal(err)
	}
	page := e.mustDo(t, http.StatusOK, "GET", "/report?incident="+inc.ID+"&lang=hu", "", "", "Accept", "text/html")
	token := csrfOf(t, page)
	for _, want := range []string{"Hiba bejelentése", `name="website"`, `name="incident" value="` + inc.ID + `"`, `value="` + e.compA.ID + `" selected`, `name="name" value=""`} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("form lacks %q: %s", want, page.body)
		}
	}
	good := func() url.Values {
		return url.Values{"csrf": {token}, "contact": {"anna@example.com"}, "name": {"Anna"}, "message": {"Az API nem működik <script>"},
			"component": {e.compA.ID}, "incident": {inc.ID}}
	}

	t.Run("missing or bad token", func(t *testing.T) {
		for _, tok := range []string{"", "abc.def", "zzzz"} {
			v := good()
			v.Set("csrf", tok)
			r := e.postReport(t, v, false)
			if r.status != http.StatusForbidden || !strings.Contains(r.String(), "csrf") {
				t.Errorf("token %q: %d", tok, r.status)
			}
		}
		r := e.postReport(t, good(), false, "Origin", "https://evil.example")
		if r.status != http.StatusForbidden {
			t.Errorf("cross-origin post: %d", r.status)
		}
		if n := e.count(t); n != 0 {
			t.Fatalf("%d complaints written", n)
		}
	})
	t.Run("bad input names the field", func(t *testing.T) {
		tests := []struct{ key, value, field string }{
			{"contact", "", "contact"}, {"contact", "not-a-phone", "contact"}, {"contact", "a@", "contact"},
			{"message", " ", "message"}, {"component", "nope", "component"}, {"name", strings.Repeat("n", 201), "name"},
		}
		for _, tc := range tests {
			v := good()
			v.Set(tc.key, tc.value)
			r := e.postReport(t, v, true)
			if d := r.errorOf(t); r.status != http.StatusBadRequest || d.Field != tc.field {
				t.Errorf("%s=%q: %d %+v", tc.key, tc.value, r.status, d)
			}
			if r := e.postReport(t, v, false); r.status != http.StatusBadRequest || !strings.Contains(r.String(), `class="problem"`) {
				t.Errorf("%s=%q as a browser: %d", tc.key, tc.value, r.status)
			}
		}
		if n := e.count(t); n != 0 {
			t.Fatalf("%d complaints written", n)
		}
	})
	t.Run("honeypot files nothing", func(t *testing.T) {
		v := good()
		v.Set("website", "http://spam.example")
		if r := e.postReport(t, v, false); r.status != http.StatusOK {
			t.Fatalf("honeypot: %d", r.status)
		}
		if n := e.count(t); n != 0 {
			t.Fatalf("%d complaints written", n)
		}
	})
	t.Run("filed, thanked with the reference", func(t *testing.T) {
		r := e.postReport(t, good(), false, "Origin", "http://status.example.com")
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		cs, n, err := e.cs.List(ctx, complaint.Filter{PageID: e.page.ID})
		if err != nil || n != 1 {
			t.Fatalf("%d complaints, %v", n, err)
		}
		c := cs[0]
		if !strings.Contains(r.String(), c.Ref) || strings.Contains(r.String(), "<script>") {
			t.Errorf("thank-you page lacks %s: %s", c.Ref, r.body)
		}
		if c.Channel != complaint.Web || c.Contact.CustomerID != "c1" || c.IncidentID() != inc.ID || c.Text != "Az API nem működik <script>" {
			t.Errorf("complaint %+v tag %+v", c, c.Tag)
		}
	})
	t.Run("an unverified contact", func(t *testing.T) {
		// Anyone can type anyone's number or address into the form: a
		// number where SMS sign-ups are closed gets no SMS, and a "name"
		// that is a sentence is not put into the greeting.
		v := good()
		v.Set("contact", "+7 912 345 6789")
		v.Set("name", "Your card was charged 499 EUR")
		if r := e.postReport(t, v, true); r.status != http.StatusCreated || !strings.Contains(r.String(), `"answered":false`) {
			t.Fatalf("a Russian number: %d %s", r.status, r.body)
		}
		// The page says no message will come, rather than promise one.
		v.Set("contact", "+7 912 345 6780")
		if r := e.postReport(t, v, false); r.status != http.StatusOK || !strings.Contains(r.String(), "We cannot send a message to this contact") ||
			strings.Contains(r.String(), "We have sent you a confirmation") {
			t.Errorf("the thank-you page for a number herald cannot text: %d\n%s", r.status, r.body)
		}
		v = good()
		v.Set("contact", "mallory@example.net")
		v.Set("name", "Call +1 900 555 0100 or visit https://evil.example/refund")
		if r := e.postReport(t, v, true); r.status != http.StatusCreated || !strings.Contains(r.String(), `"answered":true`) {
			t.Fatalf("a stranger's address: %d %s", r.status, r.body)
		}
		ds, err := e.db.FindDeliveries(ctx, queue.DeliveryFilter{PageID: e.page.ID})
		if err != nil {
			t.Fatal(err)
		}
		mailed := false
		for _, d := range ds {
			if d.Address == "+79123456789" {
				t.Errorf("an SMS queued to a number given on the form in a closed region: %+v", d)
			}
			if d.Address == "mallory@example.net" {
				mailed = true
				if d.Name != "" {
					t.Errorf("the greeting would carry the form's name %q", d.Name)
				}
			}
		}
		if !mailed {
			t.Errorf("no acknowledgement queued to the email address given: %d deliveries", len(ds))
		}
		// Its timeline says no acknowledgement went, not that one is queued.
		cs, _, err := e.cs.List(ctx, complaint.Filter{PageID: e.page.ID})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.Contact.Phone != "+79123456789" {
				continue
			}
			_, entries, err := e.cs.Timeline(ctx, e.page.ID, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			none := false
			for _, en := range entries {
				none = none || en.Event == complaint.EventAckNone
				if en.Event == complaint.EventAckQueued {
					t.Errorf("the timeline says an acknowledgement is queued to a number herald cannot text")
				}
			}
			if !none {
				t.Errorf("the timeline does not say no acknowledgement went: %+v", entries)
			}
		}
	})
	t.Run("another person's number files a complaint of its own", func(t *testing.T) {
		// Anna texted a minute ago; anyone can type her number into the
		// form: the report neither joins her complaint nor shows its
		// reference.
		anna, _, err := e.cs.Receive(ctx, complaint.Intake{PageID: e.page.ID, Channel: complaint.SMS,
			Contact: complaint.Contact{Phone: "+36201234567"}, Text: "Nem megy a fizetés"})
		if err != nil {
			t.Fatal(err)
		}
		v := good()
		v.Set("contact", "+36 20 123 4567")
		v.Set("message", "mallory's words")
		r := e.postReport(t, v, true)
		var got struct{ Ref string }
		r.json(t, &got)
		if r.status != http.StatusCreated || got.Ref == "" || got.Ref == anna.Ref {
			t.Fatalf("the form answered %d %s; Anna's reference is %s", r.status, r.body, anna.Ref)
		}
		v.Set("message", "mallory's words again")
		if r := e.postReport(t, v, false); strings.Contains(r.String(), anna.Ref) {
			t.Errorf("the thank-you page shows Anna's reference %s", anna.Ref)
		}
		_, entries, err := e.cs.Timeline(ctx, e.page.ID, anna.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range entries {
			if strings.Contains(en.Text, "mallory") {
				t.Errorf("Anna's timeline holds the form's words: %+v", en)
			}
		}
	})
	t.Run("another person's STOP does not show", func(t *testing.T) {
		// +36 20 555 5551 sent STOP; +36 20 555 5552 did not. Whoever
		// types either into the form gets the same answer, and a
		// thank-you that is true for both.
		e.twilioPost(t, "/webhooks/twilio/sms", sms("SM"+strings.Repeat("5", 32), "+36205555551", "STOP"), sandbox.DefaultAuthToken)
		var pages []string
		for _, num := range []string{"+36 20 555 5551", "+36 20 555 5552"} {
			v := good()
			v.Set("contact", num)
			r := e.postReport(t, v, true)
			if r.status != http.StatusCreated || !strings.Contains(r.String(), `"answered":true`) {
				t.Errorf("%s: %d %s; want answered true for both", num, r.status, r.body)
			}
			page := e.postReport(t, v, false).String()
			pages = append(pages, page[:strings.Index(page, "<strong>")])
		}
		if pages[0] != pages[1] {
			t.Errorf("the thank-you pages differ:\n%s\n----\n%s", pages[0], pages[1])
		}
		if !strings.Contains(pages[0], "unless it has asked us to send it no messages") {
			t.Errorf("the thank-you does not say the confirmation depends on the contact: %s", pages[0])
		}
	})
	t.Run("line breaks as a browser sends them", func(t *testing.T) {
		// 350 lines, 9 799 characters with LF line breaks: within the
		// textarea's maxlength, which counts a line break as one; the
		// browser sends each as CRLF (10 148 characters).
		lines := make([]string, 350)
		for i := range lines {
			lines[i] = strings.Repeat("x", 27)
		}
		lines[0] += strings.Repeat("y", 9799-350*27-349)
		text := strings.Join(lines, "\n")
		if n := utf8.RuneCountInString(text); n != 9799 {
			t.Fatalf("test text has %d characters", n)
		}
		v := good()
		v.Set("contact", "crlf@example.com")
		v.Set("message", strings.ReplaceAll(text, "\n", "\r\n"))
		r := e.postReport(t, v, true)
		if r.status != http.StatusCreated {
			t.Fatalf("a report of 9 799 characters sent with CRLF: %d %s", r.status, r.body)
		}
		var got struct{ Ref string }
		r.json(t, &got)
		cs, err := e.db.FindComplaintsByRef(ctx, e.page.ID, got.Ref)
		if err != nil || len(cs) != 1 {
			t.Fatalf("FindComplaintsByRef(%s) = %d, %v", got.Ref, len(cs), err)
		}
		if cs[0].Text != text {
			t.Errorf("stored text: %d characters, CR %v; want the 9 799 with LF line breaks", utf8.RuneCountInString(cs[0].Text), strings.Contains(cs[0].Text, "\r"))
		}
		// One character over the limit is still refused.
		v.Set("contact", "crlf2@example.com")
		v.Set("message", strings.ReplaceAll(text+strings.Repeat("z", complaint.MaxTextLen-9799+1), "\n", "\r\n"))
		if r := e.postReport(t, v, true); r.status != http.StatusBadRequest || r.errorOf(t).Field != "message" {
			t.Errorf("%d characters: %d %s", complaint.MaxTextLen+1, r.status, r.body)
		}
	})
	t.Run("per-contact limit", func(t *testing.T) {
		e.postReport(t, good(), false) // the second of the burst of 2
		r := e.postReport(t, good(), true)
		if d := r.errorOf(t); r.status != http.StatusTooManyRequests || d.Code != "rate_limited" {
			t.Errorf("third report: %d %+v", r.status, d)
		}
	})
}

// TestReportFormGreeting: the form's name field never puts a stranger's
// words into herald's greeting. A customer's address typed in with a
// "name" that is a lure is greeted by the name the page imported for the
// customer; anyone else by the name they gave only when it reads as a
// name, else by none.
func TestReportFormGreeting(t *testing.T) {
	e := newComplaintEnv(t, func(c *ComplaintsConfig) {
		c.ReportIPLimit.Rate, c.ReportIPLimit.Burst = 1000, 1000
	})
	page := e.mustDo(t, http.StatusOK, "GET", "/report", "", "", "Accept", "text/html")
	token := csrfOf(t, page)
	tests := []struct{ contact, name, greeting, lure string }{
		// anna@example.com is customer c1, imported as Anna.
		{"anna@example.com", "Your refund is ready - claim it at http://evil.example/claim", "Kedves Anna!", "evil.example"},
		// Strangers are answered in the page's first language, English.
		{"kata@example.net", "Ügyfélszolgálat: hívja a +36 1 999 9999 számot", "Hello,", "999 9999"},
		{"zoli@example.net", "Nagy Zoltán", "Hello Nagy Zoltán,", ""},
	}
	for i, tc := range tests {
		v := url.Values{"csrf": {token}, "contact": {tc.contact}, "name": {tc.name}, "message": {"Nem működik a fizetés."},
			"component": {e.compA.ID}}
		if r := e.postReport(t, v, true); r.status != http.StatusCreated {
			t.Fatalf("%s: %d %s", tc.contact, r.status, r.body)
		}
		e.waitSandbox(t, i+1, sandbox.KindEmail)
		m := e.lastTo(t, sandbox.KindEmail, tc.contact)
		if !strings.Contains(m.Body, tc.greeting) || !strings.Contains(m.HTML, tc.greeting) {
			t.Errorf("to %s (name %q): want the greeting %q in text and HTML:\n%s\n%s", tc.contact, tc.name, tc.greeting, m.Body, m.HTML)
		}
		if tc.lure != "" && (strings.Contains(m.Body, tc.lure) || strings.Contains(m.HTML, tc.lure) || strings.Contains(m.Subject, tc.lure)) {
			t.Errorf("to %s: the acknowledgement carries the form's %q:\n%s", tc.contact, tc.lure, m.Body)
		}
	}
}

// TestSlackComplaints files complaints from Slack: /complaint and /herald
// complaint from the user who typed it, answered ephemerally with the
// reference and acknowledged by a Slack message from the pipeline; the
// message shortcut on a customer's message; and nothing from a forged
// request, a retry, a bot's message or another app's shortcut.
func TestSlackComplaints(t *testing.T) {
	e := newComplaintEnv(t)
	now := time.Now()
	command := func(cmdName, text, trigger string) string {
		return url.Values{"command": {cmdName}, "text": {text}, "user_id": {"U0ANNA"}, "user_name": {"anna"},
			"team_id": {"T1"}, "trigger_id": {trigger}}.Encode()
	}
	shortcut := func(callback, user, bot, text, ts string) string {
		p, err := json.Marshal(map[string]any{"type": "message_action", "callback_id": callback, "trigger_id": "tr",
			"user": map[string]string{"id": "U0AGENT"}, "channel": map[string]string{"id": "C0SUPPORT"},
			"message": map[string]string{"type": "message", "user": user, "bot_id": bot, "text": text, "ts": ts}})
		if err != nil {
			t.Fatal(err)
		}
		return url.Values{"payload": {string(p)}}.Encode()
	}
	tests := []struct {
		name, path, body, secret string
		status                   int
		answer                   string // in the ephemeral answer
		filed                    int    // complaints on the page after it
	}{
		{"forged", "/webhooks/slack/commands", command("/complaint", "payments fail", "t1"), "wrong", 403, "", 0},
		{"/complaint", "/webhooks/slack/commands", command("/complaint", "My card payments fail since this morning", "t1"), testSlackSecret, 200, "C-", 1},
		{"retried", "/webhooks/slack/commands", command("/complaint", "My card payments fail since this morning", "t1"), testSlackSecret, 200, "C-", 1},
		{"empty", "/webhooks/slack/commands", command("/complaint", "  ", "t2"), testSlackSecret, 200, "/complaint", 1},
		// The same user again within the attach window: the same complaint.
		{"/herald complaint", "/webhooks/slack/commands", command("/herald", "Complaint the invoice is wrong too", "t3"), testSlackSecret, 200, "C-", 1},
		{"shortcut", "/webhooks/slack/interactions", shortcut(ShortcutFileComplaint, "U0CUST", "", "Your checkout eats my money", "1700000000.000100"), testSlackSecret, 200, "", 2},
		{"shortcut retried", "/webhooks/slack/interactions", shortcut(ShortcutFileComplaint, "U0CUST", "", "Your checkout eats my money", "1700000000.000100"), testSlackSecret, 200, "", 2},
		{"a bot's message", "/webhooks/slack/interactions", shortcut(ShortcutFileComplaint, "", "B0BOT", "deploy done", "1700000000.000200"), testSlackSecret, 200, "", 2},
		{"another shortcut", "/webhooks/slack/interactions", shortcut("other_app", "U0CUST2", "", "hello", "1700000000.000300"), testSlackSecret, 200, "", 2},
		{"forged shortcut", "/webhooks/slack/interactions", shortcut(ShortcutFileComplaint, "U0CUST3", "", "hello", "1700000000.000400"), "wrong", 403, "", 2},
		// A customer's very long message is filed, cut to the limit, not refused.
		{"long shortcut", "/webhooks/slack/interactions", shortcut(ShortcutFileComplaint, "U0CUST4", "", strings.Repeat("my card fails ", 1000), "1700000000.000500"), testSlackSecret, 200, "", 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.slackPost(t, tc.path, tc.body, tc.secret, now)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.answer != "" && (!strings.Contains(r.String(), tc.answer) || !strings.Contains(r.String(), `"ephemeral"`)) {
				t.Errorf("answer %s, want an ephemeral one with %q", r.body, tc.answer)
			}
			if n := e.count(t); n != tc.filed {
				t.Errorf("%d complaints, want %d", n, tc.filed)
			}
		})
	}
	cs, _, err := e.cs.List(context.Background(), complaint.Filter{PageID: e.page.ID, Channel: complaint.Slack})
	if err != nil {
		t.Fatal(err)
	}
	var fromShortcut, anna *complaint.Complaint
	for _, c := range cs {
		switch c.Contact.Slack {
		case "U0CUST":
			fromShortcut = c
		case "U0ANNA":
			anna = c
		}
	}
	if anna == nil || anna.Messages != 2 || anna.Contact.Name != "anna" {
		t.Errorf("the /complaint complaint %+v: want both of anna's messages on it", anna)
	}
	if fromShortcut == nil || fromShortcut.Text != "Your checkout eats my money" {
		t.Errorf("the shortcut's complaint %+v: not from the message's author with its words", fromShortcut)
	}
	poll(t, "anna's acknowledgement in Slack", func() bool {
		return len(e.sb.Messages(sandbox.Filter{Kind: sandbox.KindSlack, To: "U0ANNA"})) > 0
	})
	if m := e.lastTo(t, sandbox.KindSlack, "U0ANNA"); !strings.Contains(m.Body, "C-") {
		t.Errorf("the acknowledgement in Slack lacks the reference: %q", m.Body)
	}
}

// TestComplaintRecordedAt: a call recorded after it was taken keeps when
// it was taken (at), and its promise runs from then; an absent, empty or
// zero at is now.
func TestComplaintRecordedAt(t *testing.T) {
	e := newComplaintEnv(t)
	at := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Second)
	var cp wire.Complaint
	e.mustDo(t, http.StatusCreated, "POST", e.path(""), e.agent,
		`{"channel":"phone","contact":{"name":"Walk-in"},"text":"called at lunch","at":"`+at.Format(time.RFC3339)+`"}`).json(t, &cp)
	if !cp.CreatedAt.Time().Equal(at) {
		t.Errorf("created_at %s, want the call's time %s", cp.CreatedAt.Time(), at)
	}
	if !cp.FirstAnswerDue.Time().Equal(at.Add(24 * time.Hour)) {
		t.Errorf("first answer due %s, want 24 h after the call (%s)", cp.FirstAnswerDue.Time(), at.Add(24*time.Hour))
	}
	for i, v := range []string{``, `,"at":""`, `,"at":"0001-01-01T00:00:00Z"`} {
		before := time.Now().Add(-time.Second)
		e.mustDo(t, http.StatusCreated, "POST", e.path(""), e.agent,
			`{"channel":"phone","contact":{"name":"Caller `+strconv.Itoa(i)+`"},"text":"t"`+v+`}`).json(t, &cp)
		if got := cp.CreatedAt.Time(); got.Before(before) || got.After(time.Now()) {
			t.Errorf("at %q: created_at %s, want now", v, got)
		}
	}
}

// TestSlackComplaintKeepsEveryWord: "/herald complaint …" files the words
// after the keyword whole, however the keyword is written (a letter that
// lower-cases to fewer bytes cut the customer's first words off).
func TestSlackComplaintKeepsEveryWord(t *testing.T) {
	e := newComplaintEnv(t)
	for i, kw := range []string{"complaint", "COMPLAİNT", "Complaint"} {
		user := fmt.Sprintf("U0KW%d", i)
		body := url.Values{"command": {"/herald"}, "text": {kw + "   the checkout page is down"}, "user_id": {user}, "user_name": {"kw"},
			"team_id": {"T1"}, "trigger_id": {"kw" + user}}.Encode()
		if r := e.slackPost(t, "/webhooks/slack/commands", body, testSlackSecret, time.Now()); r.status != 200 || !strings.Contains(r.String(), "C-") {
			t.Fatalf("%s: %d %s", kw, r.status, r.body)
		}
		cs, _, err := e.cs.List(context.Background(), complaint.Filter{PageID: e.page.ID, Channel: complaint.Slack})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, c := range cs {
			if c.Contact.Slack == user {
				found = true
				if c.Text != "the checkout page is down" {
					t.Errorf("%s: filed %q, want the customer's words whole", kw, c.Text)
				}
			}
		}
		if !found {
			t.Errorf("%s: no complaint filed", kw)
		}
	}
}

// TestComplaintConditionalTake: an assignment with "from" (the owner the
// agent saw) changes hands only while it is still theirs; a lost take is
// 409 naming who has it, and changes nothing.
func TestComplaintConditionalTake(t *testing.T) {
	e := newComplaintEnv(t)
	ctx := context.Background()
	if _, _, err := e.svc.CreateToken(ctx, "dora", incident.RoleAgent); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.CreateToken(ctx, "eve", incident.RoleAgent); err != nil {
		t.Fatal(err)
	}
	var c wire.Complaint
	e.mustDo(t, http.StatusCreated, "POST", e.path(""), e.agent, `{"channel":"api","contact":{"name":"Walk-in"},"text":"who has this?"}`).json(t, &c)
	e.mustDo(t, http.StatusOK, "POST", e.path("/"+c.ID+"/assign"), e.agent, `{"owner":"","from":"`+c.Owner+`"}`)
	var got wire.Complaint
	e.mustDo(t, http.StatusOK, "POST", e.path("/"+c.ID+"/assign"), e.agent, `{"owner":"dora","from":""}`).json(t, &got)
	if got.Owner != "dora" {
		t.Fatalf("taken from nobody: owner %q", got.Owner)
	}
	// Eve read it unassigned too: she is told who has it, and it stays Dora's.
	d := e.mustDo(t, http.StatusConflict, "POST", e.path("/"+c.ID+"/assign"), e.agent, `{"owner":"eve","from":""}`).errorOf(t)
	if d.Code != incident.ECONFLICT || !strings.Contains(d.Message, "dora took this complaint") {
		t.Errorf("a lost take: %+v", d)
	}
	e.mustDo(t, http.StatusOK, "GET", e.path("/"+c.ID), e.agent, "").json(t, &got)
	if got.Owner != "dora" {
		t.Errorf("after a lost take the owner is %q", got.Owner)
	}
	// Taking it again, from the owner now seen, takes it.
	e.mustDo(t, http.StatusOK, "POST", e.path("/"+c.ID+"/assign"), e.agent, `{"owner":"eve","from":"dora"}`).json(t, &got)
	if got.Owner != "eve" {
		t.Errorf("taken from dora: owner %q", got.Owner)
	}
}

// TestComplaintAnswersAfterStop: a customer who sent STOP and then
// complains by SMS is answered by email, and the timeline says email, not
// sms; a number with nothing else cannot be answered: the timeline says
// no acknowledgement went out, an agent's reply is refused (422, nothing
// written) rather than recorded as sent, and a resolution notes that the
// customer was not told.
func TestComplaintAnswersAfterStop(t *testing.T) {
	e := newComplaintEnv(t)
	ctx := context.Background()
	for i, from := range []string{"+36201111111", "+36205555555"} {
		e.twilioPost(t, "/webhooks/twilio/sms", sms(fmt.Sprintf("SM%032d", i), from, "STOP"), sandbox.DefaultAuthToken)
		e.twilioPost(t, "/webhooks/twilio/sms", sms(fmt.Sprintf("SM%032d", i+10), from, "my card payment failed twice"), sandbox.DefaultAuthToken)
	}
	cs, n, err := e.cs.List(ctx, complaint.Filter{PageID: e.page.ID})
	if err != nil || n != 2 {
		t.Fatalf("%d complaints, %v", n, err)
	}
	byPhone := map[string]*complaint.Complaint{}
	for _, c := range cs {
		byPhone[c.Contact.Phone] = c
	}
	anna, stranger := byPhone["+36201111111"], byPhone["+36205555555"]
	if anna == nil || stranger == nil {
		t.Fatalf("complaints %+v", cs)
	}
	entry := func(id string, match func(*complaint.Entry) bool) *complaint.Entry {
		t.Helper()
		_, entries, err := e.cs.Timeline(ctx, e.page.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range entries {
			if match(en) {
				return en
			}
		}
		return nil
	}
	event := func(ev string) func(*complaint.Entry) bool {
		return func(en *complaint.Entry) bool { return en.Event == ev }
	}

	if ack := entry(anna.ID, event(complaint.EventAckQueued)); ack == nil || ack.Channel != complaint.Email {
		t.Errorf("Anna's acknowledgement, after her STOP: %+v; want queued on email", ack)
	}
	e.mustDo(t, http.StatusOK, "POST", e.path("/"+anna.ID+"/reply"), e.agent, `{"text":"We refund the second charge today."}`)
	if out := entry(anna.ID, func(en *complaint.Entry) bool { return en.Kind == complaint.EntryMessageOut && en.Actor != "system" }); out == nil || out.Channel != complaint.Email {
		t.Errorf("the agent's reply to Anna: %+v; want sent by email", out)
	}

	if ack := entry(stranger.ID, event(complaint.EventAckNone)); ack == nil {
		t.Error("the stranger's timeline does not say that no acknowledgement went out")
	}
	before, _ := e.cs.Get(ctx, e.page.ID, stranger.ID)
	r := e.mustDo(t, http.StatusUnprocessableEntity, "POST", e.path("/"+stranger.ID+"/reply"), e.agent, `{"text":"Hello?"}`)
	if p := r.errorOf(t); p.Field != "text" || !strings.Contains(p.Message, "cannot write to this contact") {
		t.Errorf("refused reply: %+v", p)
	}
	if after, _ := e.cs.Get(ctx, e.page.ID, stranger.ID); after.Version != before.Version {
		t.Errorf("a refused reply changed the complaint: version %d → %d", before.Version, after.Version)
	}
	e.mustDo(t, http.StatusOK, "POST", e.path("/"+stranger.ID+"/resolve"), e.agent, `{"remedy":"apology","outcome":"Fixed; sorry."}`)
	if nt := entry(stranger.ID, event(complaint.EventNotTold)); nt == nil || nt.Args["outcome"] != "Fixed; sorry." {
		t.Errorf("the stranger's resolution: %+v; want a note that they were not told", nt)
	}
	if out := entry(stranger.ID, func(en *complaint.Entry) bool { return en.Kind == complaint.EntryMessageOut }); out != nil {
		t.Errorf("a message out on the timeline of a contact herald cannot write to: %+v", out)
	}
}

// TestOneAllClearPerAddress: a contact with two open complaints about one
// incident (one by email, another on the report form with the same
// address) hears its resolution once at that address, with the reference
// of the one they made first.
func TestOneAllClearPerAddress(t *testing.T) {
	e := newComplaintEnv(t)
	ctx := context.Background()
	inc, _, err := e.svc.CreateIncident(ctx, e.page.ID, incident.IncidentInput{Name: ptr("API outage"), Status: ptr(incident.Investigating),
		Body: ptr("Looking."), Components: map[string]incident.ComponentStatus{e.compA.ID: incident.MajorOutage}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.cs.Receive(ctx, complaint.Intake{PageID: e.page.ID, Channel: complaint.Email, Contact: complaint.Contact{Email: "anna@example.com"},
		Text: "the API does not answer", ExternalID: "<first@example.com>"}); err != nil {
		t.Fatal(err)
	}
	page := e.mustDo(t, http.StatusOK, "GET", "/report?incident="+inc.ID, "", "", "Accept", "text/html")
	e.postReport(t, url.Values{"csrf": {csrfOf(t, page)}, "contact": {"anna@example.com"}, "message": {"Still no API"}, "incident": {inc.ID}}, true)
	cs, n, err := e.cs.List(ctx, complaint.Filter{PageID: e.page.ID})
	if err != nil || n != 2 {
		t.Fatalf("%d complaints, %v; want two", n, err)
	}
	first := cs[0]
	if cs[1].CreatedAt.Before(first.CreatedAt) {
		first = cs[1]
	}
	if _, err := e.svc.UpdateIncident(ctx, e.page.ID, inc.ID, incident.IncidentInput{Status: ptr(incident.Resolved), Body: ptr("The API answers again.")}); err != nil {
		t.Fatal(err)
	}
	if got, err := e.cs.IncidentResolved(ctx, inc.ID); err != nil || got != 2 {
		t.Fatalf("IncidentResolved = %d, %v; want both answered", got, err)
	}
	ds, err := e.db.FindDeliveries(ctx, queue.DeliveryFilter{Address: "anna@example.com", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var resolutions []string
	for _, d := range ds {
		if d.MessageKind == queue.KindComplaintResolved {
			resolutions = append(resolutions, d.Vars["ref"])
		}
	}
	if len(resolutions) != 1 || resolutions[0] != first.Ref {
		t.Errorf("resolution messages to the address: %v; want one, for %s", resolutions, first.Ref)
	}
}

// TestReportFormLimits: the report form's limits count reports, per page.
// A report refused for its input uses up no turn of the address it came
// from (a family behind one router, one of whom mistyped a number), and a
// person who reported on one page of the server can still report on
// another (the limits of different companies' pages are their own), while
// a second report of the same contact on the same page is held.
func TestReportFormLimits(t *testing.T) {
	e := newComplaintEnv(t, func(c *ComplaintsConfig) {
		c.ReportIPLimit.Rate, c.ReportIPLimit.Burst = 1e-6, 2
		c.ReportContactLimit.Rate, c.ReportContactLimit.Burst = 1e-6, 1
	})
	ctx := context.Background()
	other, err := e.svc.CreatePage(ctx, incident.PageInput{Name: ptr("Other Co"), URL: ptr("https://other.example"), TimeZone: ptr("Europe/Budapest")})
	if err != nil {
		t.Fatal(err)
	}
	e.site.mu.Lock()
	e.site.others = map[string]*incident.Page{"status.other.example": other}
	e.site.mu.Unlock()
	post := func(host, contact string) response {
		t.Helper()
		page := e.mustDo(t, http.StatusOK, "GET", "/report", "", "", "Accept", "text/html", "Host", host)
		v := url.Values{"csrf": {csrfOf(t, page)}, "contact": {contact}, "message": {"Nem működik a fizetés."}}
		return e.postReport(t, v, true, "Host", host)
	}
	const home, away = "status.example.com", "status.other.example"
	for _, bad := range []string{"not-a-phone", "a@", ""} {
		if r := post(home, bad); r.status != http.StatusBadRequest || r.errorOf(t).Field != "contact" {
			t.Fatalf("contact %q: %d %s", bad, r.status, r.body)
		}
	}
	if r := post(home, "anna@example.com"); r.status != http.StatusCreated {
		t.Fatalf("the first report after three mistyped ones: %d %s; refused input used up the address's turns", r.status, r.body)
	}
	if r := post(away, "anna@example.com"); r.status != http.StatusCreated {
		t.Fatalf("the same contact on another page: %d %s; one page's limit counted the other's report", r.status, r.body)
	}
	r := post(home, "anna@example.com")
	if d := r.errorOf(t); r.status != http.StatusTooManyRequests || d.Code != "rate_limited" || !strings.Contains(d.Message, "min") {
		t.Errorf("the same contact again on the same page: %d %+v", r.status, d)
	}
	if r := post(home, "bela@example.com"); r.status != http.StatusTooManyRequests {
		t.Errorf("a third report from the address (burst 2): %d %s", r.status, r.body)
	}
	if n := e.count(t); n != 1 {
		t.Errorf("%d complaints on the page, want Anna's one", n)
	}
}
