package server

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	smstext "github.com/heraldhq/herald/notify/sms"
	"github.com/heraldhq/herald/sandbox"
)

// compEnv is cpEnv with the compensation API on the same store, and an
// incident on component API (customers c1 and c2 use it) open for 90
// minutes.
type compEnv struct {
	*bcEnv
	comp       *compensation.Service
	complaints *complaint.Service
	inc        *incident.Incident
}

func newCompensationEnv(t *testing.T) *compEnv {
	t.Helper()
	return newCompensationEnvRun(t, false)
}

// newCompensationEnvRun is newCompensationEnv, with notify running when
// run is true (messages are sent to the sandbox).
func newCompensationEnvRun(t *testing.T, run bool) *compEnv {
	t.Helper()
	return newCompensationEnvOn(t, run, false)
}

// newCompensationEnvOn is newCompensationEnvRun, on the test Redis when
// onRedis is true.
func newCompensationEnvOn(t *testing.T, run, onRedis bool) *compEnv {
	t.Helper()
	e := &compEnv{}
	b := newBroadcastEnv(t, run, bcOption{
		redis:     onRedis,
		broadcast: func(c *BroadcastConfig) { c.DefaultRegion = "HU" },
		enable: func(b *bcEnv) {
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			cs := complaint.NewService(b.db, b.db, b.db, b.n, b.events, log)
			e.complaints = cs
			if err := b.srv.EnableComplaints(cs, ComplaintsConfig{}); err != nil {
				t.Fatal(err)
			}
			e.comp = compensation.NewService(b.db, b.db, b.db, b.events, log)
			e.comp.Notes, e.comp.Agents = cs, b.n
			b.n.SetCompensation(e.comp)
			if err := b.srv.EnableCompensation(e.comp, b.events); err != nil {
				t.Fatal(err)
			}
		}})
	e.bcEnv = b
	b.mustDo(t, http.StatusOK, "POST", "/api/v1/pages/"+b.page.ID+"/customers/import", b.manager, customersCSV, "Content-Type", "text/csv")
	// Declared 90 minutes ago: the incident service's clock says so
	// while it is declared.
	real := b.svc.Now
	b.svc.Now = func() time.Time { return real().Add(-90 * time.Minute) }
	inc, _, err := b.svc.CreateIncident(context.Background(), b.page.ID, incident.IncidentInput{Name: ptr("API down"), Status: ptr(incident.Investigating),
		Body: ptr("Looking."), Components: map[string]incident.ComponentStatus{b.compA.ID: incident.MajorOutage}}, "")
	b.svc.Now = real
	if err != nil {
		t.Fatal(err)
	}
	e.inc = inc
	return e
}

func (e *compEnv) path(rest string) string {
	return "/api/v1/pages/" + e.page.ID + "/incidents/" + e.inc.ID + "/compensation" + rest
}

// policyJSON is a valid decided proposal at version v: gold customers on
// API get 10 % of 50 EUR; everyone on API a choice of 3 EUR back or a day.
func (e *compEnv) policyJSON(v int, capMinor string) string {
	return `{"state":"decided","version":` + strconv.Itoa(v) + `,"policy":{"currency":"EUR",
	  "plan_fees":{"gold":{"amount":5000,"currency":"EUR"}},
	  "offers":[{"id":"credit10","kind":"credit","percent_bp":1000},{"id":"back","kind":"refund","amount":{"amount":300,"currency":"EUR"}},{"id":"day","kind":"free_period","days":1}],
	  "choices":[{"id":"sorry","offers":["back","day"]}],
	  "rules":[{"id":"gold","plans":["gold"],"components":["` + e.compA.ID + `"],"min_affected_minutes":60,"give":["credit10"]},
	           {"id":"all","components":["` + e.compA.ID + `"],"give":["sorry"]}],
	  "cap":{"amount":` + capMinor + `,"currency":"EUR"},
	  "exclude":["not_affected"]}}`
}

func TestCompensationDecideBadInput(t *testing.T) {
	e := newCompensationEnv(t)
	valid := e.policyJSON(0, "1000")
	swap := func(old, new string) string {
		if !strings.Contains(valid, old) {
			t.Fatalf("the policy has no %q", old)
		}
		return strings.Replace(valid, old, new, 1)
	}
	tests := []struct {
		name, body, field string
	}{
		{"no state", `{"version":0}`, "state"},
		{"bad state", `{"state":"maybe","version":0}`, "state"},
		{"decided without a policy", `{"state":"decided","version":0}`, "policy"},
		{"none without a reason", `{"state":"none","version":0}`, "reason"},
		{"a policy while coming", `{"state":"coming","version":0,"policy":{"currency":"EUR"}}`, "policy"},
		{"misspelt field", swap(`"min_affected_minutes"`, `"min_affected_minute"`), "min_affected_minute"},
		{"wrong type", swap(`"days":1`, `"days":"one"`), "policy.offers.days"},
		{"negative amount", swap(`"amount":300`, `"amount":-300`), "offers[1].amount.amount"},
		{"percent over 100", swap(`"percent_bp":1000`, `"percent_bp":10001`), "offers[0].percent_bp"},
		{"unknown component", swap(`"components":["`+e.compA.ID+`"],"give":["sorry"]`, `"components":["nope"],"give":["sorry"]`), "rules[1].components"},
		{"unknown plan", swap(`"plans":["gold"]`, `"plans":["platinum"]`), "rules[0].plans"},
		{"unknown offer given", swap(`"give":["credit10"]`, `"give":["credit99"]`), "rules[0].give[0]"},
		{"unknown currency", swap(`"currency":"EUR",`, `"currency":"XXX",`), "currency"},
		{"deadline before the incident", swap(`"exclude"`, `"claim_deadline":"2001-01-01T00:00:00Z","exclude"`), "claim_deadline"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.mustDo(t, http.StatusBadRequest, "PUT", e.path(""), e.manager, tc.body)
			if d := r.errorOf(t); d.Code != incident.EINVALID || d.Field != tc.field {
				t.Errorf("error %+v, want field %s", d, tc.field)
			}
		})
	}
	// An agent may read, never decide; a stale version conflicts.
	e.mustDo(t, http.StatusForbidden, "PUT", e.path(""), e.agent, valid)
	e.mustDo(t, http.StatusForbidden, "POST", e.path(""), e.agent, valid)
	e.mustDo(t, http.StatusConflict, "PUT", e.path(""), e.manager, e.policyJSON(3, "1000"))
	var got decisionResponse
	e.mustDo(t, http.StatusOK, "GET", e.path(""), e.agent, "").json(t, &got)
	if got.Decision.State != compensation.NoneYet || got.Decision.Version != 0 {
		t.Fatalf("after bad requests the decision is %+v", got.Decision)
	}
	// Components may be named as people name them (the README's policy
	// file does): the decision keeps their IDs.
	byName := strings.Replace(valid, `"components":["`+e.compA.ID+`"],"give":["sorry"]`, `"components":["`+strings.ToUpper(e.compA.Name)+`"],"give":["sorry"]`, 1)
	if byName == valid {
		t.Fatal("the policy's rule was not rewritten by name")
	}
	e.mustDo(t, http.StatusOK, "PUT", e.path(""), e.manager, byName).json(t, &got)
	if got.Decision.State != compensation.Decided || got.Decision.Version != 1 || len(got.Changes) == 0 {
		t.Fatalf("decided: %+v", got)
	}
	if cs := got.Decision.Policy.Rules[1].Components; len(cs) != 1 || cs[0] != e.compA.ID {
		t.Errorf("the rule's components are %v, want the ID %s", cs, e.compA.ID)
	}
	e.mustDo(t, http.StatusNotFound, "GET", "/api/v1/pages/"+e.page.ID+"/incidents/nope/compensation", e.agent, "")
}

func TestCompensationGrants(t *testing.T) {
	e := newCompensationEnv(t)
	e.mustDo(t, http.StatusOK, "PUT", e.path(""), e.manager, e.policyJSON(0, "700"))
	grant := func(token, customer, body string, want int, headers ...string) response {
		t.Helper()
		return e.mustDo(t, want, "POST", e.path("/customers/"+customer+"/grants"), token, body, headers...)
	}

	var ans compensation.Answer
	e.mustDo(t, http.StatusOK, "GET", e.path("/customers/c1?lang=hu"), e.agent, "").json(t, &ans)
	if !ans.Affected.Affected || ans.Affected.Minutes < 89 || ans.Result == nil || !ans.Result.Eligible || len(ans.Offers) != 3 ||
		!strings.Contains(ans.Script, "Ajánlja fel") || ans.Customer.Plan != "gold" {
		t.Fatalf("c1's answer %+v", ans)
	}
	// The offers are worded in the agent's language too.
	if d := ans.Offers[0].Description; d != "a havidíj 10%-ának megfelelő jóváírás (5,00 EUR)" {
		t.Errorf("c1's first offer in Hungarian: %q", d)
	}
	// 10 % of 50 EUR is 5 EUR; the cap of 7 EUR leaves 2 EUR for the choice.
	if ans.Offers[0].Amount.Amount != 500 || ans.Offers[1].Amount.Amount != 200 || !ans.Offers[1].Capped {
		t.Fatalf("offers %+v", ans.Offers)
	}
	e.mustDo(t, http.StatusOK, "GET", e.path("/customers?phone=06202222222"), e.agent, "").json(t, &ans)
	if ans.Customer.ID != "c2" {
		t.Fatalf("by phone: %+v", ans.Customer)
	}
	for _, q := range []string{"", "?phone=1&email=a@b.c", "?lang=de&phone=06202222222", "?phone=12"} {
		e.mustDo(t, http.StatusBadRequest, "GET", e.path("/customers"+q), e.agent, "")
	}
	e.mustDo(t, http.StatusNotFound, "GET", e.path("/customers/nobody"), e.agent, "")

	refusals := []struct {
		name, customer, body, field string
		code                        int
	}{
		{"no offer", "c1", `{}`, "offer", 400},
		{"unknown offer", "c1", `{"offer":"cake"}`, "offer", 400},
		{"choice without its pick", "c1", `{"offer":"sorry"}`, "choice", 400},
		{"not eligible", "c2", `{"offer":"credit10"}`, compensation.RuleEligibility, 400},
		{"unknown field", "c1", `{"offer":"credit10","amount":99}`, "amount", 400},
		{"an agent overrides", "c2", `{"offer":"credit10","override_reason":"nice"}`, "", 403},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			resp := grant(e.agent, r.customer, r.body, r.code)
			if d := resp.errorOf(t); r.field != "" && d.Field != r.field {
				t.Errorf("error %+v, want field %s", d, r.field)
			}
		})
	}

	var g struct {
		Grant   compensation.Grant `json:"grant"`
		Created bool               `json:"created"`
	}
	grant(e.agent, "c1", `{"offer":"credit10"}`, http.StatusCreated, "Idempotency-Key", "k1").json(t, &g)
	first := g.Grant
	if first.Amount.Amount != 500 || first.By == "" || first.PolicyVersion != 1 {
		t.Fatalf("grant %+v", first)
	}
	grant(e.agent, "c1", `{"offer":"credit10"}`, http.StatusOK, "Idempotency-Key", "k1").json(t, &g)
	if g.Created || g.Grant.ID != first.ID {
		t.Fatalf("a retried grant made %+v", g)
	}
	if d := grant(e.agent, "c1", `{"offer":"credit10"}`, http.StatusBadRequest, "Idempotency-Key", "k2").errorOf(t); d.Field != compensation.RuleAlreadyGranted {
		t.Errorf("granted twice: %+v", d)
	}
	grant(e.agent, "c1", `{"offer":"sorry","choice":"back"}`, http.StatusCreated).json(t, &g)
	if g.Grant.Amount.Amount != 200 {
		t.Fatalf("the capped refund is %+v", g.Grant.Amount)
	}
	// The cap is used up now; a manager may still give the day, with a reason
	// (a formula, which the CSV must not run).
	// c2 is no gold customer; a manager overrides, giving the refund on
	// its own.
	grant(e.manager, "c2", `{"offer":"back","override_reason":"=HYPERLINK(\"http://x\")"}`, http.StatusCreated).json(t, &g)
	if g.Grant.Override == nil || g.Grant.Amount != (compensation.Money{Amount: 300, Currency: "EUR"}) {
		t.Fatalf("override %+v", g.Grant)
	}
	grant(e.agent, "c2", `{"offer":"sorry","declined":true}`, http.StatusCreated)

	e.mustDo(t, http.StatusForbidden, "GET", e.path("/grants"), e.agent, "")
	r := e.mustDo(t, http.StatusOK, "GET", e.path("/grants?format=csv"), e.manager, "")
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil || len(rows) != 5 {
		t.Fatalf("csv %v:\n%s", err, r.body)
	}
	// Grants made within one millisecond are in ID order: find them.
	byOffer := map[string][]string{}
	for _, row := range rows[1:] {
		byOffer[row[2]+"/"+row[4]] = row
	}
	if row := byOffer["c1/credit10"]; row == nil || row[0] != first.ID || row[7] != "5.00" || row[9] != "EUR" {
		t.Errorf("c1's credit: %v", row)
	}
	if row := byOffer["c2/back"]; row == nil || row[13] != `'=HYPERLINK("http://x")` {
		t.Errorf("the override: %v", row)
	}
	if row := byOffer["c2/sorry"]; row == nil || row[12] != "true" {
		t.Errorf("the decline: %v", row)
	}
	var tot compensation.Totals
	e.mustDo(t, http.StatusOK, "GET", e.path("/totals"), e.agent, "").json(t, &tot)
	if tot.Customers != 2 || tot.Eligible != 2 || tot.Grants != 4 || tot.Declined != 1 || tot.Overrides != 1 || tot.Cost["EUR"] != 500+200+300 {
		t.Errorf("totals %+v", tot)
	}
}

func TestCompensationVouchersAndAnnouncement(t *testing.T) {
	e := newCompensationEnv(t)
	lists := "/api/v1/pages/" + e.page.ID + "/voucher-lists/"
	e.mustDo(t, http.StatusForbidden, "POST", lists+"spring", e.agent, `{"codes":["A1"]}`)
	e.mustDo(t, http.StatusBadRequest, "POST", lists+"Spring!", e.manager, `{"codes":["A1"]}`)
	e.mustDo(t, http.StatusBadRequest, "POST", lists+"spring", e.manager, `{"codes":["has space"]}`)
	var up struct {
		Added, Total, Unused int
	}
	e.mustDo(t, http.StatusOK, "POST", lists+"spring", e.manager, "SPRING-1\r\nSPRING-2\nSPRING-1\n", "Content-Type", "text/plain").json(t, &up)
	if up.Added != 2 || up.Total != 2 || up.Unused != 2 {
		t.Fatalf("upload %+v", up)
	}
	e.mustDo(t, http.StatusOK, "PUT", e.path(""), e.manager, `{"state":"decided","version":0,"policy":{"currency":"EUR",
	  "offers":[{"id":"v","kind":"voucher","voucher_list":"spring"}],"rules":[{"id":"all","give":["v"]}]}}`)
	var g struct {
		Grant compensation.Grant `json:"grant"`
	}
	e.mustDo(t, http.StatusCreated, "POST", e.path("/customers/c1/grants"), e.agent, `{"offer":"v"}`).json(t, &g)
	if !strings.HasPrefix(g.Grant.Voucher, "SPRING-") {
		t.Fatalf("voucher grant %+v", g.Grant)
	}
	e.mustDo(t, http.StatusOK, "GET", lists+"spring", e.manager, "").json(t, &up)
	if up.Unused != 1 {
		t.Fatalf("after one grant: %+v", up)
	}

	// The announcement: a dry run counts the customers owed something (c2:
	// c1 has the voucher already), then it is sent once per version.
	var dry struct {
		Recipients map[string]int `json:"recipients"`
	}
	e.mustDo(t, http.StatusForbidden, "GET", e.path("/announcement"), e.agent, "")
	e.mustDo(t, http.StatusOK, "GET", e.path("/announcement"), e.manager, "").json(t, &dry)
	if dry.Recipients["sms"] != 1 || dry.Recipients["email"] != 1 || dry.Recipients["webhook"] != 0 {
		t.Fatalf("dry run %+v", dry)
	}
	e.mustDo(t, http.StatusAccepted, "POST", e.path("/announcement"), e.manager, "")
	e.mustDo(t, http.StatusConflict, "POST", e.path("/announcement"), e.manager, "")
}

// TestComplaintResolvedCarriesCompensation: when the incident resolves,
// the answer to a customer's complaint carries what management decided
// the customer gets, as the resolution broadcast does.
func TestComplaintResolvedCarriesCompensation(t *testing.T) {
	e := newCompensationEnvRun(t, true)
	ctx := context.Background()
	e.mustDo(t, http.StatusOK, "PUT", e.path(""), e.manager, e.policyJSON(0, "100000"))
	c, created, err := e.complaints.Receive(ctx, complaint.Intake{PageID: e.page.ID, Channel: complaint.SMS,
		Contact: complaint.Contact{Phone: "+36201111111"}, Text: "Az API nem válaszol"})
	if err != nil || !created || c.IncidentID() != e.inc.ID {
		t.Fatalf("Receive = %+v, %v, %v; want a new complaint tagged to %s", c, created, err, e.inc.ID)
	}
	line, err := e.comp.Line(ctx, e.page.ID, e.inc.ID, "c1", "hu")
	if err != nil || line == "" {
		t.Fatalf("c1's compensation line %q, %v", line, err)
	}
	no := false
	if _, err := e.svc.UpdateIncident(ctx, e.page.ID, e.inc.ID, incident.IncidentInput{Status: ptr(incident.Resolved),
		Body: ptr("Fixed."), DeliverNotifications: &no}); err != nil {
		t.Fatal(err)
	}
	if n, err := e.complaints.IncidentResolved(ctx, e.inc.ID); n != 1 || err != nil {
		t.Fatalf("IncidentResolved = %d, %v", n, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got string
		for _, m := range e.sb.Messages(sandbox.Filter{Kind: sandbox.KindSMS, To: "+36201111111"}) {
			if strings.Contains(m.Body, "megoldva: API down") {
				got = m.Body
			}
		}
		if got != "" {
			// The reference, the resolution (not the update before it,
			// which the acknowledgement rendered a moment ago) and the line.
			for _, want := range []string{c.Ref, "Fixed.", smstext.Transliterate(line)} {
				if !strings.Contains(got, want) {
					t.Errorf("resolution %q lacks %q", got, want)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no resolution SMS; the sandbox has %+v", e.sb.Messages(sandbox.Filter{Kind: sandbox.KindSMS}))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// agentFeed opens GET /api/v1/agent/events?query with token's
// credentials and returns its lines as they come; the channel closes
// when the stream ends. ctx ends the request.
func (e *compEnv) agentFeed(t *testing.T, ctx context.Context, token, query string) <-chan string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.base+"/api/v1/agent/events"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("agent events: %d", resp.StatusCode)
	}
	lines := make(chan string, 100)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return lines
}

// TestAgentFeedEndsWithItsToken: a revoked agent's open event stream
// stops carrying decisions: it ends at the next write, while another
// agent's stream gets the decision; with nothing to write it ends within
// incident.StreamCheckEvery, as the README promises.
func TestAgentFeedEndsWithItsToken(t *testing.T) {
	e := newCompensationEnv(t)
	e.serve(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := func(name string) (string, <-chan string) {
		secret, tok, err := e.svc.CreateToken(ctx, name, incident.RoleAgent)
		if err != nil {
			t.Fatal(err)
		}
		return tok.ID, e.agentFeed(t, ctx, secret, "")
	}
	// until reads lines until one is want ("" : the stream's end) and
	// reports whether it came.
	until := func(lines <-chan string, want string) (bool, []string) {
		var seen []string
		deadline := time.After(10 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					return want == "", seen
				}
				seen = append(seen, l)
				if want != "" && l == want {
					return true, seen
				}
			case <-deadline:
				return false, seen
			}
		}
	}
	revokedID, revoked := open("Leaver")
	_, kept := open("Stayer")
	for _, lines := range []<-chan string{revoked, kept} {
		if ok, seen := until(lines, "event: snapshot"); !ok {
			t.Fatalf("no snapshot: %q", seen)
		}
	}
	if err := e.svc.RevokeToken(ctx, revokedID); err != nil {
		t.Fatal(err)
	}
	e.mustDo(t, http.StatusOK, "PUT", e.path(""), e.manager, e.policyJSON(0, "1000"))
	if ok, seen := until(kept, "event: compensation"); !ok {
		t.Fatalf("the other agent's stream got no decision: %q", seen)
	}
	ok, seen := until(revoked, "")
	if !ok {
		t.Fatalf("the revoked token's stream did not end: %q", seen)
	}
	for _, l := range seen {
		if strings.Contains(l, "compensation") {
			t.Errorf("the revoked token's stream carried the decision: %q", seen)
		}
	}

	// With nothing to send, a revoked token's stream still ends within
	// StreamCheckEvery (until waits 10 s; the heartbeat is 15 s here).
	quietID, quiet := open("Quiet")
	if ok, seen := until(quiet, "event: snapshot"); !ok {
		t.Fatalf("no snapshot: %q", seen)
	}
	if err := e.svc.RevokeToken(ctx, quietID); err != nil {
		t.Fatal(err)
	}
	if ok, seen := until(quiet, ""); !ok {
		t.Fatalf("a quiet stream outlived its revoked token: %q", seen)
	}
}

// TestGrantOnComplaintByRef: a grant names its complaint by the
// reference the customer reads out (C-…) as well as by its ID.
func TestGrantOnComplaintByRef(t *testing.T) {
	e := newCompensationEnv(t)
	e.mustDo(t, http.StatusOK, "PUT", e.path(""), e.manager, e.policyJSON(0, "700"))
	c, _, err := e.complaints.Receive(context.Background(), complaint.Intake{PageID: e.page.ID, Channel: complaint.SMS,
		Contact: complaint.Contact{Phone: "+36201111111"}, Text: "the API is down"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Contact.CustomerID != "c1" {
		t.Fatalf("the complaint is from %q, want c1", c.Contact.CustomerID)
	}
	var g struct {
		Grant compensation.Grant `json:"grant"`
	}
	e.mustDo(t, http.StatusCreated, "POST", e.path("/customers/c1/grants"), e.agent, `{"offer":"credit10","complaint_id":"`+strings.ToLower(c.Ref)+`"}`).json(t, &g)
	if g.Grant.ComplaintID != c.ID {
		t.Errorf("the grant is on complaint %q, want %s (%s)", g.Grant.ComplaintID, c.ID, c.Ref)
	}
	if d := e.mustDo(t, http.StatusBadRequest, "POST", e.path("/customers/c1/grants"), e.agent, `{"offer":"sorry","choice":"day","complaint_id":"C-ZZZZZZZZ"}`).errorOf(t); d.Field != "complaint_id" {
		t.Errorf("an unknown reference: %+v", d)
	}
}

// TestAnswersReadTheDecisionJustMade: the console's incident page (its
// owed top-ups), the all-clear's deliveries and the agents' answers all
// call Prepare. One that had read version 1 when version 2 was saved put
// version 1 back in the cache after Decide had dropped it, and for
// PrepareTTL every answer, and the announcement's preview, said the old
// amount (TestTellCustomersOfCompensation failed so, once in a while,
// when the all-clear's deliveries were rendered as the manager amended
// the decision). The reader is held here, on the real store, at the
// moment the race needs: after it read the decision, before it cached it.
func TestAnswersReadTheDecisionJustMade(t *testing.T) {
	e := newCompensationEnv(t)
	e.comp.PrepareTTL = time.Hour // what is cached stays, however slow the machine
	held := &heldComponents{Store: e.comp.Incidents}
	e.comp.Incidents = held
	mctx := incident.WithActor(context.Background(), incident.Actor{Name: "m", Role: incident.RoleManager})
	ctx := context.Background()
	version := 0
	decide := func(cents int64) {
		t.Helper()
		d, _, err := e.comp.Decide(mctx, e.page.ID, e.inc.ID, compensation.Proposal{State: compensation.Decided, Version: version,
			AcceptLower: true, Policy: &compensation.Policy{Currency: "EUR",
				Offers: []compensation.Offer{{ID: "credit", Kind: compensation.Credit, Amount: &compensation.Money{Amount: cents, Currency: "EUR"}}},
				Rules:  []compensation.Rule{{ID: "all", Give: []string{"credit"}}}}})
		if err != nil {
			t.Fatal(err)
		}
		version = d.Version
	}
	line := func(customer string) string {
		t.Helper()
		l, err := e.comp.Line(ctx, e.page.ID, e.inc.ID, customer, "en")
		if err != nil {
			t.Error(err)
		}
		return l
	}
	decide(1000)
	// A delivery's line is being prepared: version 1 is read, and the
	// reader is held before it caches what it read.
	entered, release := held.holdNext()
	done := make(chan string)
	go func() { done <- line("c2") }()
	<-entered
	decide(500) // version 2, while the reader holds version 1
	close(release)
	if l := <-done; !strings.Contains(l, "10.00") {
		t.Fatalf("the reader held since version 1 answered %q", l)
	}
	if l := line("c1"); !strings.Contains(l, "5.00") || strings.Contains(l, "10.00") {
		t.Errorf("read after version 2 was saved, c1's line is %q: version 1's", l)
	}
}

// heldComponents is an incident store whose next FindComponents waits
// (holdNext): compensation.Service.Prepare reads components after the
// decision, so a Prepare held there has read the decision and not yet
// cached it.
type heldComponents struct {
	incident.Store
	mu               sync.Mutex
	entered, release chan struct{}
}

// holdNext holds the next FindComponents: entered is closed when it is
// called, and it goes on when release is closed.
func (h *heldComponents) holdNext() (entered, release chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.entered, h.release = make(chan struct{}), make(chan struct{})
	return h.entered, h.release
}

func (h *heldComponents) FindComponents(ctx context.Context, pageID string) ([]*incident.Component, error) {
	h.mu.Lock()
	entered, release := h.entered, h.release
	h.entered, h.release = nil, nil
	h.mu.Unlock()
	if entered != nil {
		close(entered)
		<-release
	}
	return h.Store.FindComponents(ctx, pageID)
}

// TestAmendedOfferSaysItReplaces: once a decision's offers change, the
// customer's line says the new offer replaces any earlier one ("do I get
// both?"); a first decision, or a new version that changes only the
// agents' note, says nothing of the kind.
func TestAmendedOfferSaysItReplaces(t *testing.T) {
	e := newCompensationEnv(t)
	ctx := context.Background()
	decide := func(v int, amount, reason string) {
		t.Helper()
		e.mustDo(t, http.StatusOK, "PUT", e.path(""), e.manager, `{"state":"decided","version":`+strconv.Itoa(v)+`,"reason":"`+reason+`","policy":{"currency":"EUR",
		  "offers":[{"id":"credit","kind":"credit","amount":{"amount":`+amount+`,"currency":"EUR"}}],"rules":[{"id":"all","give":["credit"]}]}}`)
	}
	line := func() string {
		t.Helper()
		e.comp.PrepareTTL = 0 // read the decision in force
		l, err := e.comp.Line(ctx, e.page.ID, e.inc.ID, "c1", "en")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	decide(0, "500", "first")
	if l := line(); !strings.Contains(l, "5.00 EUR") || strings.Contains(l, "replaces") {
		t.Errorf("first decision: %q", l)
	}
	// Amended before any customer was told of the first: nothing to replace.
	decide(1, "700", "more, before anyone was told")
	if l := line(); !strings.Contains(l, "7.00 EUR") || strings.Contains(l, "replaces") {
		t.Errorf("amended before customers were told: %q", l)
	}
	// The all-clear tells customers of version 2.
	resolved := incident.Resolved
	if _, err := e.svc.UpdateIncident(incident.WithActor(ctx, incident.Actor{Name: "m", Role: incident.RoleManager}), e.page.ID, e.inc.ID,
		incident.IncidentInput{Status: &resolved}); err != nil {
		t.Fatal(err)
	}
	decide(2, "700", "only the note changes")
	if l := line(); strings.Contains(l, "replaces") {
		t.Errorf("a new note alone: %q", l)
	}
	decide(3, "1000", "more")
	if l := line(); !strings.Contains(l, "10.00 EUR") || !strings.Contains(l, "This replaces any earlier offer we made for this disruption.") {
		t.Errorf("amended after the all-clear told them: %q, want the new amount and that it replaces the earlier offer", l)
	}
}

// TestAgentFeedResync: a decision made on another node while this node's
// event subscription was down sends this node no event; when the
// subscription comes back (incident.EventResync) the agent's feed, here
// narrowed to one page, sends a fresh snapshot that holds it.
func TestAgentFeedResync(t *testing.T) {
	e := newCompensationEnv(t)
	e.serve(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lines := e.agentFeed(t, ctx, e.agent, "?page="+e.page.ID)
	// snapshot waits for the next snapshot event and returns its data.
	snapshot := func() string {
		t.Helper()
		deadline := time.After(10 * time.Second)
		event := ""
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatal("the stream ended")
				}
				if name, ok := strings.CutPrefix(l, "event: "); ok {
					event = name
				} else if data, ok := strings.CutPrefix(l, "data: "); ok && event == "snapshot" {
					return data
				}
			case <-deadline:
				t.Fatal("no snapshot")
			}
		}
	}
	if first := snapshot(); strings.Contains(first, e.inc.ID) {
		t.Fatalf("a decision before any was made: %s", first)
	}
	// Another node decides; its event never reaches this one.
	other := compensation.NewService(e.db, e.db, e.db, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var p compensation.Proposal
	if err := json.Unmarshal([]byte(e.policyJSON(0, "1000")), &p); err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.Decide(incident.WithActor(ctx, incident.Actor{Name: "Mia", Role: incident.RoleManager}), e.page.ID, e.inc.ID, p); err != nil {
		t.Fatal(err)
	}
	e.events.Deliver(incident.Event{Type: incident.EventResync})
	if again := snapshot(); !strings.Contains(again, e.inc.ID) {
		t.Errorf("the snapshot after the resync lacks the decision made meanwhile: %s", again)
	}
}

// TestCompensationSkipsCustomersWhoJoinedAfter: a customer first imported
// after the incident ended is not affected by it, is not eligible, cannot
// be granted anything under the policy, and is not told of the
// compensation; one whose customer_since column says they were a
// customer before counts as any other, and a bad customer_since refuses
// the import.
func TestCompensationSkipsCustomersWhoJoinedAfter(t *testing.T) {
	e := newCompensationEnv(t)
	ctx := context.Background()
	if _, err := e.svc.UpdateIncident(ctx, e.page.ID, e.inc.ID, incident.IncidentInput{Status: ptr(incident.Resolved), Body: ptr("Fixed.")}); err != nil {
		t.Fatal(err)
	}
	imp := "/api/v1/pages/" + e.page.ID + "/customers/import"
	late := "id,name,phone,email,slack,language,time_zone,plan,region,components,customer_since\n" +
		"c1,Anna,+36201111111,anna@example.com,,hu,Europe/Budapest,gold,eu,API,\n" +
		"c2,Bob,+36202222222,bob@example.com,,en,,silver,eu,API,\n" +
		"c3,Cleo,+36203333333,cleo@example.com,,en,,gold,eu,API,\n" +
		"c4,Dan,+36204444444,dan@example.com,,en,,gold,eu,API,2019-04-01\n"
	for _, bad := range []string{"last spring", "2099-01-01"} {
		csv := strings.Replace(late, "2019-04-01", bad, 1)
		if p := e.mustDo(t, http.StatusUnprocessableEntity, "POST", imp, e.manager, csv, "Content-Type", "text/csv"); !strings.Contains(string(p.body), "customer_since") {
			t.Errorf("customer_since %q: %s", bad, p.body)
		}
	}
	e.mustDo(t, http.StatusOK, "POST", imp, e.manager, late, "Content-Type", "text/csv")
	e.mustDo(t, http.StatusOK, "PUT", e.path(""), e.manager, `{"state":"decided","version":0,"policy":{"currency":"EUR",
	  "offers":[{"id":"day","kind":"free_period","days":1}],"rules":[{"id":"all","give":["day"]}]}}`)

	check := func(id string) compensation.Answer {
		t.Helper()
		var ans compensation.Answer
		e.mustDo(t, http.StatusOK, "GET", e.path("/customers/"+id), e.agent, "").json(t, &ans)
		return ans
	}
	if ans := check("c3"); ans.Affected.Affected || ans.Affected.Joined.IsZero() || ans.Result == nil || ans.Result.Eligible ||
		ans.Result.Excluded != compensation.JoinedAfter || !strings.Contains(ans.Script, "after the incident ended") {
		t.Errorf("c3, imported after the incident: %+v", ans)
	}
	for _, id := range []string{"c1", "c4"} {
		if ans := check(id); !ans.Affected.Affected || ans.Result == nil || !ans.Result.Eligible {
			t.Errorf("%s, a customer during the incident: affected %+v, result %+v", id, ans.Affected, ans.Result)
		}
	}
	if p := e.mustDo(t, http.StatusBadRequest, "POST", e.path("/customers/c3/grants"), e.agent, `{"offer":"day"}`).errorOf(t); p.Field != compensation.RuleJoinedAfter {
		t.Errorf("a grant to c3: %+v", p)
	}
	var dry struct {
		Recipients map[string]int `json:"recipients"`
	}
	e.mustDo(t, http.StatusOK, "GET", e.path("/announcement"), e.manager, "").json(t, &dry)
	if dry.Recipients["email"] != 3 {
		t.Errorf("the announcement would reach %+v; want c1, c2 and c4 (not c3) by email", dry.Recipients)
	}
}

// walkPolicyJSON is the walk's decided proposal at version v: percent
// of a 50 EUR fee as a credit to everyone on API, and a choice of a 5 EUR
// refund or a day, capped at capMinor; acceptLower confirms that it gives
// someone less than before.
func (e *compEnv) walkPolicyJSON(v int, percent, capMinor string, acceptLower bool) string {
	accept := ""
	if acceptLower {
		accept = `"accept_lower":true,`
	}
	return `{"state":"decided","version":` + strconv.Itoa(v) + `,` + accept + `"policy":{"currency":"EUR",
	  "plan_fees":{"gold":{"amount":5000,"currency":"EUR"},"silver":{"amount":5000,"currency":"EUR"}},
	  "offers":[{"id":"credit10","kind":"credit","percent_bp":` + percent + `},{"id":"refund","kind":"refund","amount":{"amount":500,"currency":"EUR"}},{"id":"day","kind":"free_period","days":1}],
	  "choices":[{"id":"sorry","offers":["refund","day"]}],
	  "rules":[{"id":"paying","components":["` + e.compA.ID + `"],"give":["credit10"]},
	           {"id":"everyone","components":["` + e.compA.ID + `"],"give":["sorry"]}],
	  "cap":{"amount":` + capMinor + `,"currency":"EUR"}}}`
}

// granted is the API's answer to a grant.
type granted struct {
	Grant   compensation.Grant `json:"grant"`
	Created bool               `json:"created"`
}

// allGrants lists the incident's grants, every customer's, as a manager
// exports them.
func (e *compEnv) allGrants(t *testing.T) []compensation.Grant {
	t.Helper()
	var gs struct {
		Grants []compensation.Grant `json:"grants"`
	}
	e.mustDo(t, http.StatusOK, "GET", e.path("/grants?format=json"), e.manager, "").json(t, &gs)
	return gs.Grants
}

// resolve resolves the incident without messages: its all-clear carries
// the decision in force.
func (e *compEnv) resolve(t *testing.T) {
	t.Helper()
	no, resolved := false, incident.Resolved
	if _, err := e.svc.UpdateIncident(incident.WithActor(context.Background(), incident.Actor{Name: "m", Role: incident.RoleManager}), e.page.ID, e.inc.ID,
		incident.IncidentInput{Status: &resolved, Body: ptr("Fixed."), DeliverNotifications: &no}); err != nil {
		t.Fatal(err)
	}
}

// TestAmendedHigherOfferTopsUpAGrant: c1 was granted 10 % (5.00 EUR)
// under version 1; version 2 gives 15 %. c1 is owed the 2.50 EUR
// difference: the agent's answer says so, the announcement reaches c1 with
// it, and a grant of the same offer records 2.50 EUR, once.
func TestAmendedHigherOfferTopsUpAGrant(t *testing.T) {
	e := newCompensationEnv(t)
	e.comp.PrepareTTL = 0
	e.mustDo(t, http.StatusOK, "PUT", e.path(""), e.manager, e.walkPolicyJSON(0, "1000", "2000", false))
	e.mustDo(t, http.StatusCreated, "POST", e.path("/customers/c1/grants"), e.agent, `{"offer":"credit10"}`)
	e.resolve(t)
	e.mustDo(t, http.StatusOK, "PUT", e.path(""), e.manager, e.walkPolicyJSON(1, "1500", "2000", false))

	var a compensation.Answer
	e.mustDo(t, http.StatusOK, "GET", e.path("/customers/c1?lang=en"), e.agent, "").json(t, &a)
	if len(a.Offers) == 0 || !a.Offers[0].Granted || a.Offers[0].TopUp != (compensation.Money{Amount: 250, Currency: "EUR"}) {
		t.Fatalf("c1's offers %+v, want credit10 granted with a top-up of 2.50 EUR", a.Offers)
	}
	if !strings.Contains(a.Script, "Owed a top-up of 2.50 EUR") {
		t.Errorf("the agent's script %q does not say c1 is owed a top-up", a.Script)
	}
	line, err := e.comp.Line(context.Background(), e.page.ID, e.inc.ID, "c1", "en")
	if err != nil || !strings.Contains(line, "a further credit of 2.50 EUR") {
		t.Errorf("c1's line %q, %v: want the top-up", line, err)
	}
	var dry struct {
		Recipients map[string]int `json:"recipients"`
	}
	e.mustDo(t, http.StatusOK, "GET", e.path("/announcement"), e.manager, "").json(t, &dry)
	if dry.Recipients["sms"] != 2 {
		t.Errorf("the announcement reaches %+v, want c1 (the top-up) and c2", dry.Recipients)
	}

	var g struct {
		Grant   compensation.Grant `json:"grant"`
		Created bool               `json:"created"`
	}
	e.mustDo(t, http.StatusCreated, "POST", e.path("/customers/c1/grants"), e.agent, `{"offer":"credit10"}`).json(t, &g)
	if g.Grant.Amount.Amount != 250 || g.Grant.PolicyVersion != 2 || g.Grant.OfferID != "credit10" || !g.Grant.TopUp {
		t.Fatalf("the top-up grant %+v, want 2.50 EUR of credit10 under version 2, marked a top-up", g.Grant)
	}
	first := g.Grant.ID
	e.mustDo(t, http.StatusOK, "POST", e.path("/customers/c1/grants"), e.agent, `{"offer":"credit10"}`).json(t, &g)
	if g.Created || g.Grant.ID != first {
		t.Errorf("a retried top-up: %+v, want the first top-up again", g)
	}
	a = compensation.Answer{}
	e.mustDo(t, http.StatusOK, "GET", e.path("/customers/c1?lang=en"), e.agent, "").json(t, &a)
	if a.Offers[0].TopUp.Amount != 0 || a.Offers[0].Given.Amount != 750 || strings.Contains(a.Script, "Owed a top-up") ||
		!strings.Contains(a.Script, "Already recorded as a top-up: credit of 2.50 EUR.") {
		t.Errorf("after the top-up: %+v, script %q", a.Offers[0], a.Script)
	}
	// The billing export says which row is the top-up, in a column after
	// the ones spreadsheets already read.
	r := e.mustDo(t, http.StatusOK, "GET", e.path("/grants?format=csv"), e.manager, "")
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("csv %v:\n%s", err, r.body)
	}
	if h := rows[0]; len(h) != 18 || h[16] != "granted_at" || h[17] != "top_up" || h[7] != "amount" {
		t.Errorf("the export's columns: %v", h)
	}
	for _, row := range rows[1:] {
		if want := strconv.FormatBool(row[0] == first); row[17] != want || (row[0] == first) != (row[7] == "2.50") {
			t.Errorf("row %v: top_up %q, want %s", row, row[17], want)
		}
	}
}

// TestAmendmentThatLowersAnOptionNeedsConfirmation is the walk: version 1
// gives 10 % and a choice of a 5.00 EUR refund or a day, capped at 10
// EUR, and the all-clear tells customers so; version 2 gives 15 %, and
// the cap squeezes the refund to 2.50 EUR for c2, and for c1, granted the
// 10 % before, whose 2.50 EUR top-up the cap counts too. The manager is
// told before it takes effect, and must confirm; the dry run of the
// announcement lists the same.
func TestAmendmentThatLowersAnOptionNeedsConfirmation(t *testing.T) {
	e := newCompensationEnv(t)
	e.comp.PrepareTTL = 0
	e.mustDo(t, http.StatusOK, "PUT", e.path(""), e.manager, e.walkPolicyJSON(0, "1000", "1000", false))
	e.mustDo(t, http.StatusCreated, "POST", e.path("/customers/c1/grants"), e.agent, `{"offer":"credit10"}`)
	e.resolve(t)

	var refused struct {
		Error struct {
			Code, Message, Field string
		} `json:"error"`
		Effects compensation.Effects `json:"effects"`
	}
	e.mustDo(t, http.StatusConflict, "PUT", e.path(""), e.manager, e.walkPolicyJSON(1, "1500", "1000", false)).json(t, &refused)
	if refused.Error.Code != incident.ECONFLICT || refused.Error.Field != "accept_lower" {
		t.Fatalf("refusal %+v, want a conflict naming accept_lower", refused.Error)
	}
	want := "refund for 2 customers falls 5.00 → 2.50 EUR because of the cap (told in the all-clear message, version 1)"
	if !strings.Contains(refused.Error.Message, want) {
		t.Errorf("the refusal says %q, want %q", refused.Error.Message, want)
	}
	if l := refused.Effects.Lowered; len(l) != 1 || l[0].OfferID != "refund" || l[0].Customers != 2 || l[0].Why != compensation.LowerCap ||
		l[0].Before.Amount != 500 || l[0].After.Amount != 250 || l[0].Told != compensation.ToldResolution {
		t.Errorf("lowered %+v", l)
	}
	var got decisionResponse
	e.mustDo(t, http.StatusOK, "GET", e.path(""), e.agent, "").json(t, &got)
	if got.Decision.Version != 1 {
		t.Fatalf("a refused decision was saved: version %d", got.Decision.Version)
	}

	e.mustDo(t, http.StatusOK, "PUT", e.path(""), e.manager, e.walkPolicyJSON(1, "1500", "1000", true)).json(t, &got)
	if got.Decision.Version != 2 || got.Effects == nil || len(got.Effects.Lowered) != 1 {
		t.Fatalf("confirmed: %+v", got)
	}
	if u := got.Effects.TopUps; len(u) != 1 || u[0].OfferID != "credit10" || u[0].Customers != 1 || u[0].Amount.Amount != 250 || u[0].Sample[0] != "c1" {
		t.Errorf("top-ups %+v, want c1 owed 2.50 EUR on credit10", u)
	}

	var dry struct {
		Version int                  `json:"version"`
		Effects compensation.Effects `json:"effects"`
	}
	e.mustDo(t, http.StatusOK, "GET", e.path("/announcement"), e.manager, "").json(t, &dry)
	if dry.Version != 2 || len(dry.Effects.Lowered) != 1 || dry.Effects.Lowered[0].String() != want || len(dry.Effects.TopUps) != 1 {
		t.Errorf("the dry run's effects %+v, want the lowered refund and c1's top-up", dry)
	}

	// Taking the decision back after customers were told is giving them
	// less too.
	e.mustDo(t, http.StatusConflict, "PUT", e.path(""), e.manager, `{"state":"none","version":2,"reason":"no, after all"}`).json(t, &refused)
	if refused.Error.Field != "accept_lower" || !strings.Contains(refused.Error.Message, "no longer offered: compensation is now none") {
		t.Errorf("none after the all-clear: %+v", refused.Error)
	}
	e.mustDo(t, http.StatusOK, "PUT", e.path(""), e.manager, `{"state":"none","version":2,"reason":"no, after all","accept_lower":true}`)
}

// TestGrantReadAtAnAmendedVersion: a grant names the decision version
// the agent read the offers at; when the decision was amended since
// (10 % → 15 %), it is refused with 409 on "version" and records
// nothing, rather than granting an amount nobody read out. A retry of
// a grant that landed under the version named returns it; the version
// in force grants; the complaint's grant carries it too.
func TestGrantReadAtAnAmendedVersion(t *testing.T) {
	e := newCompensationEnv(t)
	e.comp.PrepareTTL = 0
	e.mustDo(t, http.StatusOK, "PUT", e.path(""), e.manager, e.walkPolicyJSON(0, "1000", "2000", false))
	var g struct {
		Grant   compensation.Grant `json:"grant"`
		Created bool               `json:"created"`
	}
	e.mustDo(t, http.StatusCreated, "POST", e.path("/customers/c1/grants"), e.agent, `{"offer":"credit10","version":1}`).json(t, &g)
	first := g.Grant
	if first.PolicyVersion != 1 || first.Amount.Amount != 500 {
		t.Fatalf("the grant at version 1: %+v", first)
	}
	e.mustDo(t, http.StatusOK, "PUT", e.path(""), e.manager, e.walkPolicyJSON(1, "1500", "2000", false))

	grants := func(customer string) []*compensation.Grant {
		t.Helper()
		var a compensation.Answer
		e.mustDo(t, http.StatusOK, "GET", e.path("/customers/"+customer), e.agent, "").json(t, &a)
		return a.Grants
	}
	// c2's agent read 10 % (5.00 EUR) out; the decision now gives 15 %.
	d := e.mustDo(t, http.StatusConflict, "POST", e.path("/customers/c2/grants"), e.agent, `{"offer":"credit10","version":1}`).errorOf(t)
	if d.Code != incident.ECONFLICT || d.Field != "version" || !strings.Contains(d.Message, "the decision is at version 2, not the version 1") {
		t.Errorf("a grant read at version 1: %+v", d)
	}
	if gs := grants("c2"); len(gs) != 0 {
		t.Errorf("a refused grant recorded %+v", gs)
	}
	// c1's top-up, from a page read at version 1: refused too, and the
	// version 1 grant's retry is answered with it.
	e.mustDo(t, http.StatusOK, "POST", e.path("/customers/c1/grants"), e.agent, `{"offer":"credit10","version":1}`).json(t, &g)
	if g.Created || g.Grant.ID != first.ID {
		t.Errorf("a retry of the version 1 grant: %+v, want it again", g)
	}
	if gs := grants("c1"); len(gs) != 1 {
		t.Errorf("a retry read at version 1 recorded a top-up nobody read out: %+v", gs)
	}
	for _, bad := range []string{`{"offer":"credit10","version":-1}`, `{"offer":"credit10","version":"2"}`} {
		if d := e.mustDo(t, http.StatusBadRequest, "POST", e.path("/customers/c2/grants"), e.agent, bad).errorOf(t); d.Field != "version" {
			t.Errorf("%s: %+v, want a 400 naming version", bad, d)
		}
	}
	e.mustDo(t, http.StatusCreated, "POST", e.path("/customers/c2/grants"), e.agent, `{"offer":"credit10","version":2}`).json(t, &g)
	if g.Grant.PolicyVersion != 2 || g.Grant.Amount.Amount != 750 {
		t.Errorf("the grant read at version 2: %+v", g.Grant)
	}

	// The complaint's grant: the same field, the same refusal.
	c, _, err := e.complaints.Receive(context.Background(), complaint.Intake{PageID: e.page.ID, Channel: complaint.SMS,
		Contact: complaint.Contact{Phone: "+36201111111"}, Text: "the API is down"})
	if err != nil || c.Contact.CustomerID != "c1" {
		t.Fatalf("the complaint %+v: %v", c, err)
	}
	onComplaint := "/api/v1/pages/" + e.page.ID + "/complaints/" + c.ID + "/compensation"
	body := `{"offer":"credit10","incident_id":"` + e.inc.ID + `","version":1}`
	if d := e.mustDo(t, http.StatusConflict, "POST", onComplaint, e.agent, strings.Replace(body, `"version":1`, `"version":3`, 1)).errorOf(t); d.Field != "version" {
		t.Errorf("the complaint's grant read at version 3: %+v", d)
	}
	e.mustDo(t, http.StatusCreated, "POST", onComplaint, e.agent, strings.Replace(body, `"version":1`, `"version":2`, 1)).json(t, &g)
	if !g.Grant.TopUp || g.Grant.Amount.Amount != 250 || g.Grant.ComplaintID != c.ID {
		t.Errorf("the complaint's top-up read at version 2: %+v", g.Grant)
	}
}

// goodwillPolicyJSON is a decided proposal at version v: everyone on API
// gets a 5.00 EUR refund; no rule gives the 4.00 EUR goodwill credit,
// which a manager grants by override; at most 8.00 EUR per customer.
func (e *compEnv) goodwillPolicyJSON(v int) string {
	return `{"state":"decided","version":` + strconv.Itoa(v) + `,"policy":{"currency":"EUR",
	  "offers":[{"id":"refund","kind":"refund","amount":{"amount":500,"currency":"EUR"}},{"id":"goodwill","kind":"credit","amount":{"amount":400,"currency":"EUR"}}],
	  "rules":[{"id":"everyone","components":["` + e.compA.ID + `"],"give":["refund"]}],
	  "cap":{"amount":800,"currency":"EUR"}}}`
}

// TestGrantAmountShown: within one decision version, another grant for
// the same customer (a manager's goodwill credit, on another channel)
// can use up part of the cap between an agent's check and their grant.
// A grant that names the amount the agent was shown (and read out)
// records it or nothing: another amount is a 409 on amount that says the
// amount in force, and nothing is recorded.
func TestGrantAmountShown(t *testing.T) {
	e := newCompensationEnv(t)
	e.comp.PrepareTTL = 0
	e.mustDo(t, http.StatusOK, "PUT", e.path(""), e.manager, e.goodwillPolicyJSON(0))
	type conflict struct {
		Error   errorDetail        `json:"error"`
		Amount  compensation.Money `json:"amount"`
		Version int                `json:"version"`
	}
	grants := func(customer string) []*compensation.Grant {
		t.Helper()
		var a compensation.Answer
		e.mustDo(t, http.StatusOK, "GET", e.path("/customers/"+customer), e.agent, "").json(t, &a)
		return a.Grants
	}
	refund := func(minor string) string {
		return `{"offer":"refund","version":1,"amount":{"amount":` + minor + `,"currency":"EUR"}}`
	}
	goodwill := func(customer, key string) {
		t.Helper()
		e.mustDo(t, http.StatusCreated, "POST", e.path("/customers/"+customer+"/grants"), e.manager,
			`{"offer":"goodwill","key":"`+key+`","override_reason":"escalated on the phone"}`)
	}
	// The agent's check shows c1 a refund of 5.00 EUR.
	var a compensation.Answer
	e.mustDo(t, http.StatusOK, "GET", e.path("/customers/c1"), e.agent, "").json(t, &a)
	if len(a.Offers) != 1 || a.Offers[0].Amount != (compensation.Money{Amount: 500, Currency: "EUR"}) {
		t.Fatalf("c1's check: %+v", a.Offers)
	}

	// Bad amounts are refused, naming the field, and record nothing.
	for _, tc := range []struct{ body, field string }{
		{`{"offer":"refund","declined":true,"amount":{"amount":500,"currency":"EUR"}}`, "amount"},
		{refund("-500"), "amount.amount"},
		{`{"offer":"refund","amount":{"amount":500,"currency":"XXX"}}`, "amount.currency"},
		{`{"offer":"refund","amount":{"amount":500}}`, "amount.currency"},
		{`{"offer":"refund","amount":"5.00 EUR"}`, "amount"},
	} {
		if d := e.mustDo(t, http.StatusBadRequest, "POST", e.path("/customers/c1/grants"), e.agent, tc.body).errorOf(t); d.Code != incident.EINVALID || d.Field != tc.field {
			t.Errorf("%s: %+v, want a 400 naming %s", tc.body, d, tc.field)
		}
	}
	if gs := grants("c1"); len(gs) != 0 {
		t.Fatalf("bad requests recorded %+v", gs)
	}

	// A manager grants c1 the goodwill credit meanwhile: 4.00 EUR of the
	// cap is left. The refund shown at 5.00 EUR: 409, saying 4.00 EUR,
	// and nothing recorded.
	goodwill("c1", "g1")
	var c conflict
	e.mustDo(t, http.StatusConflict, "POST", e.path("/customers/c1/grants"), e.agent, refund("500")).json(t, &c)
	if c.Error.Code != incident.ECONFLICT || c.Error.Field != "amount" || c.Amount != (compensation.Money{Amount: 400, Currency: "EUR"}) || c.Version != 1 ||
		!strings.Contains(c.Error.Message, "would record 4.00 EUR, not the 5.00 EUR shown") || !strings.Contains(c.Error.Message, "nothing was recorded") {
		t.Errorf("the refund shown at 5.00 EUR: %+v", c)
	}
	if gs := grants("c1"); len(gs) != 1 {
		t.Fatalf("the refused refund recorded: %+v", gs)
	}
	// With the amount in force, it is recorded.
	var g granted
	e.mustDo(t, http.StatusCreated, "POST", e.path("/customers/c1/grants"), e.agent, refund("400")).json(t, &g)
	if g.Grant.Amount.Amount != 400 || g.Grant.OfferID != "refund" {
		t.Errorf("the refund at 4.00 EUR: %+v", g.Grant)
	}
	// Its retry is answered with it, as before.
	e.mustDo(t, http.StatusOK, "POST", e.path("/customers/c1/grants"), e.agent, refund("400"))

	// The cap used up (two goodwill credits for c2): a grant shown at an
	// amount is a 409 on amount saying nothing is left; without one it
	// is the policy's 400 on cap, as before.
	goodwill("c2", "g2")
	goodwill("c2", "g3")
	e.mustDo(t, http.StatusConflict, "POST", e.path("/customers/c2/grants"), e.agent, refund("500")).json(t, &c)
	if c.Error.Field != "amount" || c.Amount != (compensation.Money{Amount: 0, Currency: "EUR"}) || c.Version != 1 ||
		!strings.Contains(c.Error.Message, "the cap now leaves nothing of the 5.00 EUR shown") {
		t.Errorf("the refund shown once the cap was used up: %+v", c)
	}
	if d := e.mustDo(t, http.StatusBadRequest, "POST", e.path("/customers/c2/grants"), e.agent, `{"offer":"refund"}`).errorOf(t); d.Field != compensation.RuleCap {
		t.Errorf("the refund without an amount once the cap was used up: %+v", d)
	}

	// The complaint's route takes the same field: c2's refund, shown at
	// 5.00 EUR, when a cap raised to 12.00 EUR leaves 4.00 EUR after the
	// two goodwill credits.
	e.mustDo(t, http.StatusOK, "PUT", e.path(""), e.manager, strings.Replace(e.goodwillPolicyJSON(1), `"cap":{"amount":800`, `"cap":{"amount":1200`, 1))
	cp, _, err := e.complaints.Receive(context.Background(), complaint.Intake{PageID: e.page.ID, Channel: complaint.SMS,
		Contact: complaint.Contact{Phone: "+36202222222"}, Text: "the API is down"})
	if err != nil || cp.Contact.CustomerID != "c2" {
		t.Fatalf("the complaint %+v: %v", cp, err)
	}
	onComplaint := "/api/v1/pages/" + e.page.ID + "/complaints/" + cp.ID + "/compensation"
	body := `{"offer":"refund","incident_id":"` + e.inc.ID + `","amount":{"amount":500,"currency":"EUR"}}`
	e.mustDo(t, http.StatusConflict, "POST", onComplaint, e.agent, body).json(t, &c)
	if c.Error.Field != "amount" || c.Amount != (compensation.Money{Amount: 400, Currency: "EUR"}) || c.Version != 2 {
		t.Errorf("the complaint's refund shown at 5.00 EUR: %+v", c)
	}
	if gs := grants("c2"); len(gs) != 2 {
		t.Fatalf("the complaint's refused grant recorded: %+v", gs)
	}
	e.mustDo(t, http.StatusCreated, "POST", onComplaint, e.agent, strings.Replace(body, `"amount":500`, `"amount":400`, 1)).json(t, &g)
	if g.Grant.Amount.Amount != 400 || g.Grant.ComplaintID != cp.ID {
		t.Errorf("the complaint's refund at 4.00 EUR: %+v", g.Grant)
	}
}

// TestGrantAmountShownAtOnce: two agents grant the same customer the
// credit (shown 5.00 EUR) and the refund (shown 3.00 EUR, what the cap
// of 8.00 EUR leaves of it) at the same moment: both are recorded at the
// amounts shown, and the customer gets no more than the cap. Once per
// customer (c1, c2).
func TestGrantAmountShownAtOnce(t *testing.T) {
	e := newCompensationEnv(t)
	e.comp.PrepareTTL = 0
	e.mustDo(t, http.StatusOK, "PUT", e.path(""), e.manager, e.walkPolicyJSON(0, "1000", "800", false))
	bodies := []string{`{"offer":"credit10","version":1,"amount":{"amount":500,"currency":"EUR"}}`,
		`{"offer":"sorry","choice":"refund","version":1,"amount":{"amount":300,"currency":"EUR"}}`}
	for _, customer := range []string{"c1", "c2"} {
		statuses := make([]int, len(bodies))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, body := range bodies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				statuses[i] = e.do(t, "POST", e.path("/customers/"+customer+"/grants"), e.agent, body).status
			}()
		}
		close(start)
		wg.Wait()
		var a compensation.Answer
		e.mustDo(t, http.StatusOK, "GET", e.path("/customers/"+customer), e.agent, "").json(t, &a)
		sum := int64(0)
		for _, g := range a.Grants {
			sum += g.Amount.Amount
		}
		if statuses[0] != http.StatusCreated || statuses[1] != http.StatusCreated || len(a.Grants) != 2 || sum != 800 {
			t.Errorf("%s: statuses %v, grants %+v (%d); want both recorded as shown, 8.00 EUR in all", customer, statuses, a.Grants, sum)
		}
	}
}

// TestGrantKeyReused: a key the client chose is one request's. Sent again
// for another customer, or by the same customer with another offer,
// choice, decline or amount, it is a 422 naming the key (the body's key,
// or the Idempotency-Key header it came in), and nothing is recorded; a
// true retry is answered with the first grant (200, created false), by
// either door.
func TestGrantKeyReused(t *testing.T) {
	e := newCompensationEnv(t)
	e.mustDo(t, http.StatusOK, "PUT", e.path(""), e.manager, e.policyJSON(0, "1000"))
	// c1's credit, 5.00 EUR as the check shows it, under the key k.
	credit := `{"offer":"credit10","amount":{"amount":500,"currency":"EUR"}`
	var first granted
	e.mustDo(t, http.StatusCreated, "POST", e.path("/customers/c1/grants"), e.agent, credit+`,"key":"k"}`).json(t, &first)
	if !first.Created || first.Grant.Amount.Amount != 500 {
		t.Fatalf("the first grant: %+v", first)
	}

	for _, tc := range []struct {
		name, customer, body string
		header               bool // the key in the Idempotency-Key header, not the body
	}{
		{"another customer, the same body", "c2", credit + `,"key":"k"}`, false},
		{"another customer, another offer", "c2", `{"offer":"sorry","choice":"day","key":"k"}`, false},
		{"another customer, by the header", "c2", credit + `}`, true},
		{"the same customer, another offer", "c1", `{"offer":"sorry","choice":"day","key":"k"}`, false},
		{"the same customer, a decline", "c1", `{"offer":"sorry","declined":true,"key":"k"}`, false},
		{"the same customer, another amount", "c1", `{"offer":"credit10","amount":{"amount":400,"currency":"EUR"},"key":"k"}`, false},
		{"the same customer, no amount", "c1", `{"offer":"credit10","key":"k"}`, false},
		{"the same customer, another amount, by the header", "c1", `{"offer":"credit10","amount":{"amount":400,"currency":"EUR"}}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.refusedKey(t, tc.customer, tc.body, "k", tc.header)
			if gs := e.allGrants(t); len(gs) != 1 || gs[0].ID != first.Grant.ID {
				t.Errorf("grants after the refusal: %+v; want only the first", gs)
			}
		})
	}

	// The refused requests left c2's offers alone: c2 may still take the
	// choice, under a key of its own.
	e.mustDo(t, http.StatusCreated, "POST", e.path("/customers/c2/grants"), e.agent, `{"offer":"sorry","choice":"day","key":"k2"}`)

	// A true retry, in the body or the header: the first grant, not a new one.
	for _, retry := range []struct {
		body    string
		headers []string
	}{
		{credit + `,"key":"k"}`, nil},
		{credit + `}`, []string{"Idempotency-Key", "k"}},
	} {
		var g granted
		e.mustDo(t, http.StatusOK, "POST", e.path("/customers/c1/grants"), e.agent, retry.body, retry.headers...).json(t, &g)
		if g.Created || g.Grant.ID != first.Grant.ID || g.Grant.Amount.Amount != 500 {
			t.Errorf("the retry %s: %+v, want the first grant %s", retry.body, g, first.Grant.ID)
		}
	}
	if gs := e.allGrants(t); len(gs) != 2 {
		t.Errorf("grants: %+v; want c1's credit and c2's day", gs)
	}
}

// topUpKeyPolicyJSON is a decided proposal at version v: percent of a 50
// EUR fee as a credit to everyone on API, and a voucher from the list
// spring; at most 20 EUR per customer.
func (e *compEnv) topUpKeyPolicyJSON(v int, percent string) string {
	return `{"state":"decided","version":` + strconv.Itoa(v) + `,"policy":{"currency":"EUR",
	  "plan_fees":{"gold":{"amount":5000,"currency":"EUR"},"silver":{"amount":5000,"currency":"EUR"}},
	  "offers":[{"id":"credit10","kind":"credit","percent_bp":` + percent + `},{"id":"v","kind":"voucher","voucher_list":"spring"}],
	  "rules":[{"id":"paying","components":["` + e.compA.ID + `"],"give":["credit10","v"]}],
	  "cap":{"amount":2000,"currency":"EUR"}}}`
}

// TestGrantKeyOfATopUpReused: a key whose grant is a top-up (c1, granted
// 5.00 EUR under version 1, is owed 2.50 EUR under version 2) is that
// one request's as any key is: sent again for another customer (c2,
// owed the same top-up, or taking a voucher) or for another of c1's
// offers, it is a 422 naming the key, nothing is recorded and no voucher
// code is drawn; a true retry answers 200 with the top-up. A key whose
// grant was recorded under version 1, sent again after the amendment, is
// answered with that grant too, not taken for the top-up. On both
// engines.
func TestGrantKeyOfATopUpReused(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testGrantKeyOfATopUpReused(t, newCompensationEnv(t)) })
	t.Run("redis", func(t *testing.T) { testGrantKeyOfATopUpReused(t, newCompensationEnvOn(t, false, true)) })
}

func testGrantKeyOfATopUpReused(t *testing.T, e *compEnv) {
	e.comp.PrepareTTL = 0
	lists := "/api/v1/pages/" + e.page.ID + "/voucher-lists/spring"
	e.mustDo(t, http.StatusOK, "POST", lists, e.manager, "SPRING-1\nSPRING-2\nSPRING-3\n", "Content-Type", "text/plain")
	unused := func(t *testing.T) int {
		t.Helper()
		var l struct{ Unused int }
		e.mustDo(t, http.StatusOK, "GET", lists, e.manager, "").json(t, &l)
		return l.Unused
	}
	e.mustDo(t, http.StatusOK, "PUT", e.path(""), e.manager, e.topUpKeyPolicyJSON(0, "1000"))
	e.mustDo(t, http.StatusCreated, "POST", e.path("/customers/c1/grants"), e.agent, `{"offer":"credit10"}`)
	var base granted
	baseBody := `{"offer":"credit10","amount":{"amount":500,"currency":"EUR"},"key":"base"}`
	e.mustDo(t, http.StatusCreated, "POST", e.path("/customers/c2/grants"), e.agent, baseBody).json(t, &base)
	e.mustDo(t, http.StatusOK, "PUT", e.path(""), e.manager, e.topUpKeyPolicyJSON(1, "1500"))

	// c1's top-up of 2.50 EUR under the key up.
	topUp := `{"offer":"credit10","version":2,"amount":{"amount":250,"currency":"EUR"}`
	var first granted
	e.mustDo(t, http.StatusCreated, "POST", e.path("/customers/c1/grants"), e.agent, topUp+`,"key":"up"}`).json(t, &first)
	if !first.Created || !first.Grant.TopUp || first.Grant.Amount.Amount != 250 {
		t.Fatalf("c1's top-up: %+v", first)
	}
	before := e.allGrants(t)
	if len(before) != 3 || unused(t) != 3 {
		t.Fatalf("grants %+v, %d vouchers unused; want c1's and c2's credit and c1's top-up, 3", before, unused(t))
	}

	for _, tc := range []struct {
		name, customer, body string
		header               bool // the key in the Idempotency-Key header, not the body
	}{
		{"another customer owed the same top-up", "c2", topUp + `,"key":"up"}`, false},
		{"another customer, a voucher", "c2", `{"offer":"v","key":"up"}`, false},
		{"another customer, a voucher, by the header", "c2", `{"offer":"v"}`, true},
		{"the same customer, a voucher", "c1", `{"offer":"v","key":"up"}`, false},
		{"the same customer, another amount", "c1", `{"offer":"credit10","version":2,"amount":{"amount":750,"currency":"EUR"},"key":"up"}`, false},
		{"the same customer, no version", "c1", `{"offer":"credit10","amount":{"amount":250,"currency":"EUR"},"key":"up"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.refusedKey(t, tc.customer, tc.body, "up", tc.header)
			if gs := e.allGrants(t); len(gs) != len(before) {
				t.Errorf("grants after the refusal: %+v; want %d", gs, len(before))
			}
			if n := unused(t); n != 3 {
				t.Errorf("%d vouchers unused after the refusal, want 3: a code was drawn for nothing", n)
			}
		})
	}

	// A true retry of the top-up, in the body or the header: the top-up.
	for _, retry := range []struct {
		body    string
		headers []string
	}{
		{topUp + `,"key":"up"}`, nil},
		{topUp + `}`, []string{"Idempotency-Key", "up"}},
	} {
		var g granted
		e.mustDo(t, http.StatusOK, "POST", e.path("/customers/c1/grants"), e.agent, retry.body, retry.headers...).json(t, &g)
		if g.Created || g.Grant.ID != first.Grant.ID {
			t.Errorf("the retry %s: %+v, want the top-up %s", retry.body, g, first.Grant.ID)
		}
	}
	// c2's key base recorded its credit under version 1: sent again, it is
	// answered with that credit, not taken for c2's top-up.
	var again granted
	e.mustDo(t, http.StatusOK, "POST", e.path("/customers/c2/grants"), e.agent, baseBody).json(t, &again)
	if again.Created || again.Grant.ID != base.Grant.ID || again.Grant.TopUp {
		t.Errorf("the retry of c2's credit after the amendment: %+v, want the credit %s", again, base.Grant.ID)
	}
	if gs := e.allGrants(t); len(gs) != len(before) {
		t.Errorf("grants after the retries: %+v; want %d", gs, len(before))
	}

	// The refusals left c2's offers alone: c2 takes its top-up and a
	// voucher under keys of their own.
	e.mustDo(t, http.StatusCreated, "POST", e.path("/customers/c2/grants"), e.agent, topUp+`,"key":"up2"}`)
	e.mustDo(t, http.StatusCreated, "POST", e.path("/customers/c2/grants"), e.agent, `{"offer":"v","key":"v2"}`)
	if gs, n := e.allGrants(t), unused(t); len(gs) != len(before)+2 || n != 2 {
		t.Errorf("grants %+v, %d vouchers unused; want c2's top-up and voucher more, 2", gs, n)
	}
}

// twoListsPolicyJSON is a decided proposal at version v: a voucher from
// the list spring (offer v) and one from the list autumn (offer w) to
// everyone on API.
func (e *compEnv) twoListsPolicyJSON(v int) string {
	return `{"state":"decided","version":` + strconv.Itoa(v) + `,"policy":{"currency":"EUR",
	  "offers":[{"id":"v","kind":"voucher","voucher_list":"spring"},{"id":"w","kind":"voucher","voucher_list":"autumn"}],
	  "rules":[{"id":"all","components":["` + e.compA.ID + `"],"give":["v","w"]}]}}`
}

// TestGrantKeyRacedVouchers: requests with one key, racing, for a
// voucher from one list or from another, record one grant and draw one
// code: the winner's. A loser asking the same as the winner is answered
// with its grant, one asking the other voucher is the 422 idempotency_key;
// neither drew a code, so each list's unused count falls by the codes
// the recorded grants hold and no more. Each round starts its requests
// together (a barrier); run it with -race. On both engines.
func TestGrantKeyRacedVouchers(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testGrantKeyRacedVouchers(t, newCompensationEnv(t)) })
	t.Run("redis", func(t *testing.T) { testGrantKeyRacedVouchers(t, newCompensationEnvOn(t, false, true)) })
}

func testGrantKeyRacedVouchers(t *testing.T, e *compEnv) {
	const rounds, codes = 12, 40
	lists := map[string]string{"v": "spring", "w": "autumn"}
	unused := map[string]int{}
	for _, list := range lists {
		var body strings.Builder
		for i := range codes {
			fmt.Fprintf(&body, "%s-%d\n", strings.ToUpper(list), i)
		}
		e.mustDo(t, http.StatusOK, "POST", "/api/v1/pages/"+e.page.ID+"/voucher-lists/"+list, e.manager, body.String(), "Content-Type", "text/plain")
		unused[list] = codes
	}
	e.mustDo(t, http.StatusOK, "PUT", e.path(""), e.manager, e.twoListsPolicyJSON(0))
	// A manager's override lets c1 take either voucher in every round.
	ctx := incident.WithActor(context.Background(), incident.Actor{Name: "Mia", Role: incident.RoleManager})
	offers := []string{"v", "w", "v", "w"}
	for round := range rounds {
		key := "race-" + strconv.Itoa(round)
		type result struct {
			g       *compensation.Grant
			created bool
			err     error
		}
		results := make([]result, len(offers))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, offer := range offers {
			wg.Go(func() {
				<-start
				g, created, err := e.comp.Grant(ctx, e.page.ID, e.inc.ID, "c1", compensation.GrantRequest{Offer: offer, Key: key, OverrideReason: "goodwill"})
				results[i] = result{g, created, err}
			})
		}
		close(start)
		wg.Wait()

		var won *compensation.Grant
		for _, r := range results {
			if r.created {
				if won != nil {
					t.Fatalf("round %d: key %s recorded two grants: %+v and %+v", round, key, won, r.g)
				}
				won = r.g
			}
		}
		if won == nil {
			t.Fatalf("round %d: no request recorded a grant: %+v", round, results)
		}
		for i, r := range results {
			switch {
			case r.created:
			case offers[i] == won.OfferID:
				if r.err != nil || r.g == nil || r.g.ID != won.ID {
					t.Errorf("round %d: a retry of the winner's %s: %+v, %v; want its grant %s", round, offers[i], r.g, r.err, won.ID)
				}
			default:
				if incident.ErrorCode(r.err) != incident.EIDEMPOTENCY {
					t.Errorf("round %d: the loser's %s: %+v, %v; want %s", round, offers[i], r.g, r.err, incident.EIDEMPOTENCY)
				}
			}
		}
		if won.Voucher == "" || !strings.HasPrefix(won.Voucher, strings.ToUpper(lists[won.OfferID])+"-") {
			t.Errorf("round %d: the grant of %s holds the code %q", round, won.OfferID, won.Voucher)
		}
		unused[lists[won.OfferID]]--
		for _, list := range lists {
			total, free, err := e.db.CountVouchers(context.Background(), e.page.ID, list)
			if err != nil {
				t.Fatal(err)
			}
			if total != codes || free != unused[list] {
				t.Fatalf("round %d, %s won: list %s has %d of %d codes unused, want %d: a loser drew a code no grant holds",
					round, won.OfferID, list, free, total, unused[list])
			}
		}
	}
	if gs := e.allGrants(t); len(gs) != rounds {
		t.Errorf("%d grants, want one a round (%d)", len(gs), rounds)
	}
}

// TestGrantKeyOfAnOldTopUp: a herald before 0208d89 recorded the top-up a
// client's key granted under "<incident>:<key>:top-up-v<N>", not under
// the key itself. After the upgrade, that key sent again is still that
// one request's: its retry is answered with the top-up, even when a
// later amendment owes the customer another top-up (it is not recorded
// a second time), and the key sent for another customer is the 422
// idempotency_key, recording nothing. The old grant is written as the
// old Service.Grant wrote it, through SaveGrant. On both engines.
func TestGrantKeyOfAnOldTopUp(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testGrantKeyOfAnOldTopUp(t, newCompensationEnv(t)) })
	t.Run("redis", func(t *testing.T) { testGrantKeyOfAnOldTopUp(t, newCompensationEnvOn(t, false, true)) })
}

func testGrantKeyOfAnOldTopUp(t *testing.T, e *compEnv) {
	e.comp.PrepareTTL = 0
	ctx := context.Background()
	e.mustDo(t, http.StatusOK, "PUT", e.path(""), e.manager, e.topUpKeyPolicyJSON(0, "1000"))
	e.mustDo(t, http.StatusCreated, "POST", e.path("/customers/c1/grants"), e.agent, `{"offer":"credit10","key":"base"}`)
	e.mustDo(t, http.StatusOK, "PUT", e.path(""), e.manager, e.topUpKeyPolicyJSON(1, "1500"))

	// The old herald recorded c1's top-up of 2.50 EUR under version 2 for
	// the request below, keyed as its grantKeys did.
	body := `{"offer":"credit10","key":"up"}`
	old := &compensation.Grant{ID: incident.NewID(), PageID: e.page.ID, IncidentID: e.inc.ID, CustomerID: "c1",
		Group: "credit10", OfferID: "credit10", Kind: compensation.Credit, Amount: compensation.Money{Amount: 250, Currency: "EUR"},
		TopUp: true, PolicyVersion: 2, By: "agent token", At: time.Now(),
		Key:         e.inc.ID + ":up:top-up-v2",
		Fingerprint: compensation.GrantFingerprint(compensation.GrantRequest{Offer: "credit10", Key: "up"})}
	if _, created, err := e.db.SaveGrant(ctx, old, 1); err != nil || !created {
		t.Fatalf("the old top-up: created %t, %v", created, err)
	}
	// Amended again: c1 is owed another 2.50 EUR.
	e.mustDo(t, http.StatusOK, "PUT", e.path(""), e.manager, e.topUpKeyPolicyJSON(2, "2000"))
	before := e.allGrants(t)
	if len(before) != 2 {
		t.Fatalf("grants %+v, want c1's credit and its old top-up", before)
	}

	for _, headers := range [][]string{nil, {"Idempotency-Key", "up"}} {
		b := body
		if headers != nil {
			b = `{"offer":"credit10"}`
		}
		var g granted
		e.mustDo(t, http.StatusOK, "POST", e.path("/customers/c1/grants"), e.agent, b, headers...).json(t, &g)
		if g.Created || g.Grant.ID != old.ID || !g.Grant.TopUp || g.Grant.Amount.Amount != 250 {
			t.Errorf("the retry %s %v: %+v, want the old top-up %s", b, headers, g, old.ID)
		}
	}
	d := e.mustDo(t, http.StatusUnprocessableEntity, "POST", e.path("/customers/c2/grants"), e.agent, body).errorOf(t)
	if d.Code != incident.EIDEMPOTENCY || d.Field != "key" {
		t.Errorf("the key sent for c2: %+v, want %s naming key", d, incident.EIDEMPOTENCY)
	}
	if gs := e.allGrants(t); len(gs) != len(before) {
		t.Errorf("grants after the retries: %+v; want %d", gs, len(before))
	}
	// The top-up version 3 owes is a new request, with a new key.
	var next granted
	e.mustDo(t, http.StatusCreated, "POST", e.path("/customers/c1/grants"), e.agent, `{"offer":"credit10","key":"up3"}`).json(t, &next)
	if !next.Grant.TopUp || next.Grant.Amount.Amount != 250 {
		t.Errorf("the top-up of version 3: %+v, want 2.50 EUR", next.Grant)
	}
}

// refusedKey posts body as a grant to customer with the idempotency key
// key (in the body already, or in the Idempotency-Key header when header
// is set) and wants it refused: 422 idempotency_key naming the field the
// key came in, nothing recorded.
func (e *compEnv) refusedKey(t *testing.T, customer, body, key string, header bool) {
	t.Helper()
	var headers []string
	field := "key"
	if header {
		headers, field = []string{"Idempotency-Key", key}, "Idempotency-Key"
	}
	d := e.mustDo(t, http.StatusUnprocessableEntity, "POST", e.path("/customers/"+customer+"/grants"), e.agent, body, headers...).errorOf(t)
	if d.Code != incident.EIDEMPOTENCY || d.Field != field || !strings.Contains(d.Message, "nothing was recorded") {
		t.Errorf("error %+v, want %s naming %s", d, incident.EIDEMPOTENCY, field)
	}
}
