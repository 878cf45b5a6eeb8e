package console_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/node"
	"github.com/heraldhq/herald/queue"
)

// TestEditorKeepsWhatItCannotShow: the decision editor never saves over
// parts of a policy it cannot show (made with the CLI: a percent of the
// fee, plan fees, exclusions, two rules): it shows the policy instead,
// refuses a stale tab's save, and replaces it only when the manager
// starts a new policy. A policy it shows whole keeps its offers', choice's
// and rule's IDs (grants name them) through a save; a "coming" note is
// shown, not carried into the decision; the short form on the incident
// page makes a first decision only.
func TestEditorKeepsWhatItCannotShow(t *testing.T) {
	e := startEnv(t, customersCSV)
	ctx := context.Background()
	mctx := e.as(incident.RoleManager)
	inc := e.declare(t, "Payments are failing", false)
	decision := func() *compensation.Decision {
		t.Helper()
		d, err := e.n.Compensation.Decision(ctx, e.page.ID, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	m := e.client(t)
	m.signIn(incident.RoleManager, "Mia")
	editor := "/console/incidents/" + inc.ID + "/compensation"

	// "Coming", with a note for the agents.
	if _, _, err := e.n.Compensation.Decide(mctx, e.page.ID, inc.ID, compensation.Proposal{State: compensation.Coming, Version: 0,
		Reason: "Tell customers compensation is coming."}); err != nil {
		t.Fatal(err)
	}
	if _, body := m.do("GET", editor, nil); !strings.Contains(body, `name="reason" maxlength="500" value=""`) ||
		!strings.Contains(body, "Tell customers compensation is coming.") {
		t.Error("the editor carried the 'coming' note into the decision, or did not show it")
	}

	// A policy the editor shows whole, with the manager's own IDs.
	eur := func(cents int64) *compensation.Money { return &compensation.Money{Amount: cents, Currency: "EUR"} }
	fits := &compensation.Policy{Currency: "EUR",
		Offers:  []compensation.Offer{{ID: "credit5", Kind: compensation.Credit, Amount: eur(500)}, {ID: "week", Kind: compensation.FreePeriod, Days: 7}},
		Choices: []compensation.Choice{{ID: "pick", Offers: []string{"credit5", "week"}}},
		Rules:   []compensation.Rule{{ID: "gold", Plans: []string{"gold"}, Give: []string{"pick"}}}}
	if _, _, err := e.n.Compensation.Decide(mctx, e.page.ID, inc.ID, compensation.Proposal{State: compensation.Decided, Version: 1, Policy: fits, Reason: "Gold only"}); err != nil {
		t.Fatal(err)
	}
	res, body := m.do("GET", editor, nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `name="kind0"`) || strings.Contains(body, "cannot show") {
		t.Fatalf("a policy the editor shows whole: %d, want the form", res.StatusCode)
	}
	tok := m.csrf(editor)
	save := url.Values{"_csrf": {tok}, "form": {"full"}, "version": {"2"}, "currency": {"EUR"}, "how": {"choice"}, "min_minutes": {"0"},
		"plans": {"gold"}, "id0": {"credit5"}, "kind0": {"credit"}, "amount0": {"6.00"}, "id1": {"week"}, "kind1": {"free_period"}, "days1": {"7"},
		"choice_id": {"pick"}, "rule_id": {"gold"}, "reason": {"Gold only"}}
	if res, body := m.do("POST", editor, save); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", res.StatusCode, body)
	}
	d := decision()
	if d.Version != 3 || d.Policy.Offers[0].ID != "credit5" || d.Policy.Offers[0].Amount.Amount != 600 || d.Policy.Offers[1].ID != "week" ||
		d.Policy.Choices[0].ID != "pick" || d.Policy.Rules[0].ID != "gold" {
		t.Errorf("after the save: v%d %+v; want v3 with the IDs kept and 6.00", d.Version, d.Policy)
	}

	// The short form makes no second decision over it.
	short := url.Values{"_csrf": {tok}, "version": {"3"}, "state": {"decided"}, "offer_kind": {"credit"}, "amount": {"5"}, "currency": {"EUR"}}
	if res, _ := m.do("POST", editor, short); res.StatusCode != http.StatusConflict || decision().Version != 3 {
		t.Errorf("the short form over a decision: %d, v%d; want 409 and v3", res.StatusCode, decision().Version)
	}

	// A policy made with the CLI: a percent of the fee, two rules, an exclusion.
	cli := &compensation.Policy{Currency: "EUR", PlanFees: map[string]compensation.Money{"gold": {Amount: 2000, Currency: "EUR"}, "silver": {Amount: 1000, Currency: "EUR"}},
		Offers: []compensation.Offer{{ID: "credit10", Kind: compensation.Credit, Percent: 1000}, {ID: "week", Kind: compensation.FreePeriod, Days: 7}},
		Rules: []compensation.Rule{{ID: "paying", Plans: []string{"gold", "silver"}, Give: []string{"credit10"}},
			{ID: "long", MinAffectedMinutes: 60, Give: []string{"week"}}},
		Exclude: []compensation.Exclusion{compensation.ExcludeAlreadyGranted}}
	if _, _, err := e.n.Compensation.Decide(mctx, e.page.ID, inc.ID, compensation.Proposal{State: compensation.Decided, Version: 3, Policy: cli, Reason: "By the book",
		AcceptLower: true}); err != nil { // credit5 and week are gone for gold customers
		t.Fatal(err)
	}
	res, body = m.do("GET", editor, nil)
	if res.StatusCode != http.StatusOK || strings.Contains(body, `name="kind0"`) || !strings.Contains(body, "cannot show") ||
		!strings.Contains(body, "already_granted") || !strings.Contains(body, "?new=1") {
		t.Fatalf("a CLI policy: %d; want it shown, with no form over it and a way to start a new one", res.StatusCode)
	}
	// A tab opened before the CLI decided saves nothing over it.
	save.Set("version", "4")
	if res, body := m.do("POST", editor, save); res.StatusCode != http.StatusConflict || !strings.Contains(body, "Nothing was saved") {
		t.Errorf("a stale tab's save: %d; want 409 saying nothing was saved", res.StatusCode)
	}
	if d := decision(); d.Version != 4 || len(d.Policy.Rules) != 2 || len(d.Policy.Exclude) != 1 || d.Policy.Offers[0].Percent != 1000 {
		t.Errorf("the CLI policy changed: v%d %+v", d.Version, d.Policy)
	}
	// Starting a new policy replaces it, as the manager chose.
	if _, body := m.do("GET", editor+"?new=1", nil); !strings.Contains(body, `name="replace" value="1"`) || !strings.Contains(body, `name="kind0"`) {
		t.Fatal("?new=1: want an empty editor that replaces")
	}
	fresh := url.Values{"_csrf": {tok}, "form": {"full"}, "version": {"4"}, "replace": {"1"}, "currency": {"EUR"}, "how": {"all"}, "min_minutes": {"0"},
		"kind0": {"credit"}, "amount0": {"1.50"}, "reason": {"Simpler"}}
	// 1.50 EUR for everyone is less than the gold customer's 10 % of 20
	// EUR: the editor says so, saves nothing, and asks the manager to
	// confirm.
	res, body = m.do("POST", editor, fresh)
	if res.StatusCode != http.StatusConflict || !strings.Contains(body, `id="lowered"`) ||
		!strings.Contains(body, "credit10 (Credit): 2.00 EUR → 1.50 EUR (customers: 1)") || !strings.Contains(body, `name="accept_lower"`) {
		t.Fatalf("replace dropping the week: %d; want 409 naming what falls, and the confirmation\n%s", res.StatusCode, body)
	}
	if d := decision(); d.Version != 4 {
		t.Fatalf("a refused replacement was saved: v%d", d.Version)
	}
	fresh.Set("accept_lower", "1")
	if res, body := m.do("POST", editor, fresh); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("replace: %d\n%s", res.StatusCode, body)
	}
	if d := decision(); d.Version != 5 || len(d.Policy.Rules) != 1 || len(d.Policy.Exclude) != 0 || d.Policy.Offers[0].Amount.Amount != 150 {
		t.Errorf("after replacing: v%d %+v", d.Version, d.Policy)
	}
}

// TestResolveOnce: the Resolve button's page says it resolves; a second
// resolve (a tab left open) is refused with when it was resolved, and
// adds no update and tells nobody.
func TestResolveOnce(t *testing.T) {
	e := startEnv(t, customersCSV)
	ctx := context.Background()
	inc := e.declare(t, "Payments are failing", true)
	m := e.client(t)
	m.signIn(incident.RoleManager, "Mia")
	// Two complaints about it; an agent promised one of the callers a call back.
	var refs []string
	for _, promise := range []string{"", "Call back tomorrow"} {
		cp, _, err := e.n.Complaints.Receive(e.as(incident.RoleAgent), complaint.Intake{PageID: e.page.ID, Channel: complaint.Phone,
			Contact: complaint.Contact{Phone: "+3620555000" + strconv.Itoa(len(promise)%10)}, Text: "It fails", IncidentID: inc.ID, Promise: promise})
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, cp.Ref)
	}
	page := "/console/incidents/" + inc.ID + "/update?resolve=1"
	res, body := m.do("GET", page, nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `name="resolving" value="1"`) || !strings.Contains(body, "Resolve and send the all-clear") ||
		!strings.Contains(body, "audience?kind=resolved") {
		t.Fatalf("the resolve page: %d; want it to say it resolves", res.StatusCode)
	}
	if !strings.Contains(body, "answers the 1 open complaint about it") || !strings.Contains(body, "1 complaint stays open with its owner") {
		t.Error("the resolve page does not say what the resolution does to the complaints about it")
	}
	if which := body[strings.Index(body, "<details"):]; !strings.Contains(which, ">"+refs[0]+"</a>") || strings.Contains(which, refs[1]) {
		t.Errorf("the resolve page does not name the complaint it answers (%s) alone, not the one kept (%s)", refs[0], refs[1])
	}
	tok := m.csrf(page)
	form := url.Values{"_csrf": {tok}, "resolving": {"1"}, "status": {"resolved"}, "operational": {"on"}, "notify": {"on"}, "impact": {"auto"},
		"message": {"Fixed. We are sorry."}}
	if res, body := m.do("POST", "/console/incidents/"+inc.ID+"/update", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("resolve: %d\n%s", res.StatusCode, body)
	}
	got, err := e.n.Incidents.Incident(ctx, e.page.ID, inc.ID)
	if err != nil || got.Status != incident.Resolved {
		t.Fatalf("after resolving: %v %v", got, err)
	}
	updates := len(got.Updates)
	bs, err := e.n.Notify.Broadcasts(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The same form again.
	res, body = m.do("POST", "/console/incidents/"+inc.ID+"/update", form)
	if res.StatusCode != http.StatusConflict || !strings.Contains(body, "closed already") || !strings.Contains(body, "nothing was sent") {
		t.Errorf("a second resolve: %d; want 409 saying it was resolved and nothing was sent", res.StatusCode)
	}
	if _, body := m.do("GET", page, nil); strings.Contains(body, `name="resolving"`) || !strings.Contains(body, "closed already") {
		t.Error("the resolve page of a resolved incident offers to resolve it again")
	}
	again, _ := e.n.Incidents.Incident(ctx, e.page.ID, inc.ID)
	bs2, _ := e.n.Notify.Broadcasts(ctx, inc.ID)
	if len(again.Updates) != updates || len(bs2) != len(bs) {
		t.Errorf("a second resolve added %d updates and %d broadcasts", len(again.Updates)-updates, len(bs2)-len(bs))
	}
}

// TestFindByReference: the reference a customer reads out on the phone
// finds the complaint, from the queue's box or in the address, in any
// case; an unknown one says so on the queue.
func TestFindByReference(t *testing.T) {
	e := startEnv(t, customersCSV)
	c, _, err := e.n.Complaints.Receive(context.Background(), complaint.Intake{PageID: e.page.ID, Channel: complaint.SMS,
		Contact: complaint.Contact{Phone: "+36201111111"}, Text: "It fails"})
	if err != nil {
		t.Fatal(err)
	}
	a := e.client(t)
	a.signIn(incident.RoleAgent, "Ana")
	for _, path := range []string{"/console/queue?ref=" + strings.ToLower(c.Ref), "/console/queue?ref=+" + c.Ref + "+", "/console/complaints/" + c.Ref} {
		res, _ := a.do("GET", path, nil)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/complaints/"+c.ID {
			t.Errorf("%s: %d → %q, want 303 to the complaint", path, res.StatusCode, res.Header.Get("Location"))
		}
	}
	res, body := a.do("GET", "/console/queue?ref=C-NOPE1234", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "No complaint of this page has that reference") {
		t.Errorf("an unknown reference: %d", res.StatusCode)
	}
}

// TestComplaintOfAnEndedIncident: a complaint tagged to an incident that
// has ended (a win-back task, a customer writing afterwards) keeps its
// tag when the agent saves the tag form unchanged, and beside it the
// guidance is that incident's, in words (a choice as a choice, for
// whom), not another open incident's.
func TestComplaintOfAnEndedIncident(t *testing.T) {
	e := startEnv(t, customersCSV)
	mctx := e.as(incident.RoleManager)
	ended := e.declare(t, "Card payments fail", false)
	eur := &compensation.Money{Amount: 500, Currency: "EUR"}
	pol := &compensation.Policy{Currency: "EUR",
		Offers:  []compensation.Offer{{ID: "credit5", Kind: compensation.Credit, Amount: eur}, {ID: "week", Kind: compensation.FreePeriod, Days: 7}},
		Choices: []compensation.Choice{{ID: "pick", Offers: []string{"credit5", "week"}}},
		Rules:   []compensation.Rule{{ID: "gold", Plans: []string{"gold"}, Give: []string{"pick"}}}}
	if _, _, err := e.n.Compensation.Decide(mctx, e.page.ID, ended.ID, compensation.Proposal{State: compensation.Decided, Policy: pol}); err != nil {
		t.Fatal(err)
	}
	c, _, err := e.n.Complaints.Receive(e.as(incident.RoleAgent), complaint.Intake{PageID: e.page.ID, Channel: complaint.Phone,
		Contact: complaint.Contact{Phone: "+36201111111"}, Text: "Which do I get?", IncidentID: ended.ID, Promise: "call back"})
	if err != nil {
		t.Fatal(err)
	}
	st := incident.Resolved
	if _, err := e.n.Incidents.UpdateIncident(mctx, e.page.ID, ended.ID, incident.IncidentInput{Status: &st}); err != nil {
		t.Fatal(err)
	}
	name := "Login is slow"
	other, _, err := e.n.Incidents.CreateIncident(mctx, e.page.ID, incident.IncidentInput{Name: &name, ComponentIDs: []string{e.checkout.ID},
		Components: map[string]incident.ComponentStatus{e.checkout.ID: incident.DegradedPerformance}}, "")
	if err != nil {
		t.Fatal(err)
	}
	a := e.client(t)
	a.signIn(incident.RoleAgent, "Ana")
	page := "/console/complaints/" + c.ID
	_, body := a.do("GET", page, nil)
	if !strings.Contains(body, `<option value="`+ended.ID+`" selected>Card payments fail · Resolved</option>`) {
		t.Error("the tag form does not offer the ended incident, chosen")
	}
	guidance := body[strings.Index(body, `id="guidance"`):]
	guidance = guidance[:strings.Index(guidance, "</section>")]
	if !strings.Contains(guidance, "if plan gold: the customer&#39;s choice of credit of 5.00 EUR or 7 free days") || strings.Contains(guidance, other.Name) {
		t.Errorf("the guidance beside it:\n%s\nwant the ended incident's rule in words, and not %q", guidance, other.Name)
	}
	// A new call and the overview show it too, beside the open
	// incident's: the resolution asked customers to say which they want.
	for _, path := range []string{"/console/calls/new", "/console/"} {
		_, body := a.do("GET", path, nil)
		i := strings.Index(body, `id="guidance"`)
		if i < 0 {
			t.Errorf("%s shows no compensation guidance", path)
			continue
		}
		g := body[i:]
		g = g[:strings.Index(g, "</section>")]
		if !strings.Contains(g, "Card payments fail") || !strings.Contains(g, "Resolved") || !strings.Contains(g, "credit of 5.00 EUR or 7 free days") || !strings.Contains(g, other.Name) {
			t.Errorf("%s: the guidance lacks the ended incident's decided offers or the open one:\n%s", path, g)
		}
	}
	tok := a.csrf(page)
	if res, _ := a.do("POST", page+"/tag", url.Values{"_csrf": {tok}, "incident": {ended.ID}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save the tag form: %d", res.StatusCode)
	}
	got, err := e.n.Complaints.Get(context.Background(), e.page.ID, c.ID)
	if err != nil || got.IncidentID() != ended.ID {
		t.Errorf("after saving the tag form unchanged: tagged to %q, %v; want %s", got.IncidentID(), err, ended.ID)
	}
}

// TestClosedComplaintOffersNothing: a complaint the agent owns offers no
// "Take it"; a resolved one offers neither taking nor resolving, and says
// how it ended.
func TestClosedComplaintOffersNothing(t *testing.T) {
	e := startEnv(t, customersCSV)
	a := e.client(t)
	a.signIn(incident.RoleAgent, "Ana")
	c, _, err := e.n.Complaints.Receive(context.Background(), complaint.Intake{PageID: e.page.ID, Channel: complaint.SMS,
		Contact: complaint.Contact{Phone: "+36201111111"}, Text: "It fails"})
	if err != nil {
		t.Fatal(err)
	}
	page := "/console/complaints/" + c.ID
	tok := a.csrf(page)
	if res, _ := a.do("POST", page+"/take", url.Values{"_csrf": {tok}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("take: %d", res.StatusCode)
	}
	if _, body := a.do("GET", page, nil); strings.Contains(body, `action="/console/complaints/`+c.ID+`/take" class="inline"`) {
		t.Error("Ana's own complaint still offers Take it")
	}
	if res, _ := a.do("POST", page+"/resolve", url.Values{"_csrf": {tok}, "remedy": {"fix"}, "outcome": {"Fixed on our side."}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("resolve: %d", res.StatusCode)
	}
	_, body := a.do("GET", page, nil)
	if strings.Contains(body, `/resolve" class="form"`) || strings.Contains(body, `/take"`) || !strings.Contains(body, "nothing left to resolve") ||
		!strings.Contains(body, "Fixed on our side.") {
		t.Error("a resolved complaint still offers to be taken or resolved, or does not say how it ended")
	}
	if strings.Contains(body, "Resolve by") || !strings.Contains(body, "Resolved <time>") {
		t.Error("a resolved complaint still shows when it must be resolved by, not when it was")
	}
}

// TestHeldBroadcastSaysWhy: a broadcast whose messages wait out the quiet
// hours says so on the incident page, and until when, instead of
// "sending" with a count that does not move; its cancel button asks
// first.
func TestHeldBroadcastSaysWhy(t *testing.T) {
	cfg := node.DefaultConfig()
	cfg.DataDir = t.TempDir()
	now := time.Now().UTC()
	cfg.Broadcast.QuietHours = now.Add(-time.Hour).Format("15:04") + "-" + now.Add(3*time.Hour).Format("15:04")
	e := startNode(t, cfg)
	e.seed(t, "id,name,phone,email,language,time_zone,components\n"+
		"c1,Anna,+36201111111,anna@example.com,en,UTC,Payments\n"+
		"c2,Bob,+36202222222,bob@example.com,en,UTC,Payments\n")
	name, body, notify := "Payments are slow", "Some payments take longer.", true
	inc, _, err := e.n.Incidents.CreateIncident(e.as(incident.RoleManager), e.page.ID, incident.IncidentInput{Name: &name, Body: &body,
		DeliverNotifications: &notify, ComponentIDs: []string{e.payments.ID},
		Components: map[string]incident.ComponentStatus{e.payments.ID: incident.DegradedPerformance}}, "")
	if err != nil {
		t.Fatal(err)
	}
	m := e.client(t)
	m.signIn(incident.RoleManager, "Mia")
	var page string
	waitFor(t, "the held broadcast on the incident page", 10*time.Second, func() bool {
		_, page = m.do("GET", "/console/incidents/"+inc.ID, nil)
		return strings.Contains(page, "Waiting on purpose until")
	})
	if !strings.Contains(page, "nothing is stuck") || !strings.Contains(page, `data-confirm="Cancel this broadcast?`) {
		t.Errorf("the held broadcast's row:\n%s", page[strings.Index(page, `id="broadcasts"`):][:1500])
	}
	m.cookies["herald_lang"] = "hu"
	if _, page := m.do("GET", "/console/incidents/"+inc.ID, nil); !strings.Contains(page, "(csendes órák;") {
		t.Errorf("the Hungarian console says why in English:\n%s", page[strings.Index(page, `id="broadcasts"`):][:1500])
	}
}

// TestPreviewSaysWhoReadsAnotherLanguage: the declaration's preview says
// how many of the people told read a language the message has no text
// in, and stops saying so once the manager adds it.
func TestPreviewSaysWhoReadsAnotherLanguage(t *testing.T) {
	e := startEnv(t, customersCSV) // on Payments: Anna reads Hungarian, Bob English
	m := e.client(t)
	m.signIn(incident.RoleManager, "Mia")
	tok := m.csrf("/console/incidents/new")
	form := url.Values{"_csrf": {tok}, "name": {"Card payments fail"}, "message": {"Some card payments fail."}, "status": {"investigating"},
		"impact": {"auto"}, "notify": {"on"}, "component_" + e.payments.ID: {"major_outage"}, "step": {"preview"}}
	res, body := m.do("POST", "/console/incidents", form)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "1 person told reads Hungarian") {
		t.Errorf("the preview of an English-only declaration: %d, want it to say one person reads Hungarian", res.StatusCode)
	}
	form.Set("message_hu", "Egyes kártyás fizetések nem sikerülnek.")
	if _, body := m.do("POST", "/console/incidents", form); strings.Contains(body, "reads Hungarian") {
		t.Error("the preview still warns about Hungarian once the Hungarian text is there")
	}
}

// TestPromiseKeepsComplaintOpen: an agent who promises something in a
// reply writes it beside the reply, and the complaint is kept open when
// its incident resolves; one with nothing to promise keeps it open with
// the hold button, and lets it go again. A promise herald refuses sends
// no reply. (The walk of a new agent's shift found that the console had
// neither, and the all-clear closed a complaint whose customer had been
// told "we will confirm today".)
func TestPromiseKeepsComplaintOpen(t *testing.T) {
	e := startEnv(t, customersCSV)
	inc := e.declare(t, "Card payments fail", false)
	a := e.client(t)
	a.signIn(incident.RoleAgent, "Ana")
	c, _, err := e.n.Complaints.Receive(context.Background(), complaint.Intake{PageID: e.page.ID, Channel: complaint.SMS,
		Contact: complaint.Contact{Phone: "+36201111111"}, Text: "I was charged twice", IncidentID: inc.ID})
	if err != nil {
		t.Fatal(err)
	}
	page := "/console/complaints/" + c.ID
	_, body := a.do("GET", page, nil)
	if !strings.Contains(body, `name="promise"`) || !strings.Contains(body, `action="/console/complaints/`+c.ID+`/hold"`) {
		t.Fatal("the complaint page offers no promise field or hold button")
	}
	tok := a.csrf(page)
	get := func() *complaint.Complaint {
		t.Helper()
		got, err := e.n.Complaints.Get(context.Background(), e.page.ID, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	_, before, _ := e.n.Complaints.Timeline(context.Background(), e.page.ID, c.ID)
	if res, _ := a.do("POST", page+"/reply", url.Values{"_csrf": {tok}, "text": {"We are checking."}, "promise": {"bad\x00promise"}}); res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("a reply with a promise herald refuses: %d, want 422", res.StatusCode)
	}
	if _, after, _ := e.n.Complaints.Timeline(context.Background(), e.page.ID, c.ID); len(after) != len(before) {
		t.Error("a refused promise still sent its reply")
	}
	if res, _ := a.do("POST", page+"/reply", url.Values{"_csrf": {tok}, "text": {"We are checking order 5531 and will confirm today."},
		"promise": {"Confirm the double charge today"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("reply with a promise: %d", res.StatusCode)
	}
	if got := get(); got.Promise != "Confirm the double charge today" || !got.KeptOpen() || got.FirstAnswerAt == nil {
		t.Errorf("after the reply: promise %q, kept open %v, answered %v", got.Promise, got.KeptOpen(), got.FirstAnswerAt)
	}
	if _, body := a.do("GET", page, nil); !strings.Contains(body, "Kept open when the incident resolves, for what was promised, until someone resolves it") {
		t.Error("the page does not say the promise keeps the complaint open")
	}

	// Another complaint, nothing promised: the hold button, then let go.
	d, _, err := e.n.Complaints.Receive(context.Background(), complaint.Intake{PageID: e.page.ID, Channel: complaint.SMS,
		Contact: complaint.Contact{Phone: "+48601111111"}, Text: "Nie działa płatność", IncidentID: inc.ID})
	if err != nil {
		t.Fatal(err)
	}
	other := "/console/complaints/" + d.ID
	for _, step := range []struct {
		hold string
		want bool
	}{{"1", true}, {"1", true}, {"0", false}} {
		if res, _ := a.do("POST", other+"/hold", url.Values{"_csrf": {tok}, "hold": {step.hold}}); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("hold=%s: %d", step.hold, res.StatusCode)
		}
		got, err := e.n.Complaints.Get(context.Background(), e.page.ID, d.ID)
		if err != nil || got.HoldOpen != step.want {
			t.Errorf("after hold=%s: held %v, want %v (%v)", step.hold, got.HoldOpen, step.want, err)
		}
	}
	if res, _ := a.do("POST", other+"/hold", url.Values{"_csrf": {tok}, "hold": {"1"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatal("hold again")
	}

	// The all-clear answers neither.
	st := incident.Resolved
	if _, err := e.n.Incidents.UpdateIncident(e.as(incident.RoleManager), e.page.ID, inc.ID, incident.IncidentInput{Status: &st}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.n.Complaints.IncidentResolved(context.Background(), inc.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{c.ID, d.ID} {
		if got, err := e.n.Complaints.Get(context.Background(), e.page.ID, id); err != nil || !got.Open() {
			t.Errorf("%s after the incident resolved: %v, %v; want still open", id, got.State, err)
		}
	}
}

// TestNoCustomerRecordSaysWhy: beside a complaint from someone matched to
// no customer, the eligibility panel says why herald cannot tell what they
// are owed and what to do, instead of being missing.
func TestNoCustomerRecordSaysWhy(t *testing.T) {
	e := startEnv(t, customersCSV)
	inc := e.declare(t, "Card payments fail", false)
	eur := &compensation.Money{Amount: 500, Currency: "EUR"}
	pol := &compensation.Policy{Currency: "EUR", Offers: []compensation.Offer{{ID: "credit5", Kind: compensation.Credit, Amount: eur}},
		Rules: []compensation.Rule{{ID: "all", Give: []string{"credit5"}}}}
	if _, _, err := e.n.Compensation.Decide(e.as(incident.RoleManager), e.page.ID, inc.ID, compensation.Proposal{State: compensation.Decided, Policy: pol}); err != nil {
		t.Fatal(err)
	}
	a := e.client(t)
	a.signIn(incident.RoleAgent, "Ana")
	stranger, _, err := e.n.Complaints.Receive(context.Background(), complaint.Intake{PageID: e.page.ID, Channel: complaint.Web,
		Contact: complaint.Contact{Name: "Kata Nagy", Email: "kata@example.org"}, Text: "Charged twice", IncidentID: inc.ID})
	if err != nil {
		t.Fatal(err)
	}
	known, _, err := e.n.Complaints.Receive(context.Background(), complaint.Intake{PageID: e.page.ID, Channel: complaint.SMS,
		Contact: complaint.Contact{Phone: "+36201111111"}, Text: "Charged twice", IncidentID: inc.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, body := a.do("GET", "/console/complaints/"+stranger.ID, nil); !strings.Contains(body, "matches none of your customers") {
		t.Error("the stranger's complaint does not say why there is no eligibility")
	}
	if _, body := a.do("GET", "/console/complaints/"+known.ID, nil); strings.Contains(body, "matches none of your customers") || !strings.Contains(body, "Customer accepts") {
		t.Error("the customer's complaint: the no-record note, or no offer")
	}
}

// TestComplaintShowsWhatTheCustomerWasTold: the complaint page shows the
// words of herald's message to the customer about the complaint (the
// acknowledgement with its reference and what we knew then), as they were
// when it went, not as the incident reads later.
func TestComplaintShowsWhatTheCustomerWasTold(t *testing.T) {
	e := startEnv(t, customersCSV)
	inc := e.declare(t, "Card payments fail", false)
	c, _, err := e.n.Complaints.Receive(context.Background(), complaint.Intake{PageID: e.page.ID, Channel: complaint.SMS,
		Contact: complaint.Contact{Phone: "+36201111111"}, Text: "my card payment failed", IncidentID: inc.ID})
	if err != nil {
		t.Fatal(err)
	}
	// The acknowledgement goes out first (the pipeline sends it); the
	// incident's next update comes after.
	waitFor(t, "the acknowledgement sent", 20*time.Second, func() bool {
		ds, err := e.n.Notify.Deliveries(context.Background(), queue.DeliveryFilter{PageID: e.page.ID, Address: "+36201111111"})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if d.MessageKind == queue.KindComplaintAck && d.SentAt != nil {
				return true
			}
		}
		return false
	})
	later := "We found the cause and are rolling out a fix."
	st := incident.Identified
	if _, err := e.n.Incidents.UpdateIncident(e.as(incident.RoleManager), e.page.ID, inc.ID, incident.IncidentInput{Status: &st, Body: &later}); err != nil {
		t.Fatal(err)
	}
	a := e.client(t)
	a.signIn(incident.RoleAgent, "Ana")
	_, body := a.do("GET", "/console/complaints/"+c.ID, nil)
	i := strings.Index(body, "<summary>What it said</summary>")
	if i < 0 {
		t.Fatal("the complaint page does not show what the acknowledgement said")
	}
	said := body[i:]
	said = said[:strings.Index(said, "</details>")]
	if !strings.Contains(said, c.Ref) || !strings.Contains(said, "Card payments fail.") || strings.Contains(said, later) {
		t.Errorf("what the acknowledgement said, as shown:\n%s\nwant its reference %s and the update of then, not the later one", said, c.Ref)
	}
}

// TestTellCustomersOfCompensation: the incident page says whether
// customers heard of the decision in force, and a manager tells them from
// there: before the all-clear (which will carry it), after it (which
// did), and after an amendment they have not heard of. The button names
// the version the manager read.
func TestTellCustomersOfCompensation(t *testing.T) {
	e := startEnv(t, customersCSV)
	ctx := context.Background()
	mctx := e.as(incident.RoleManager)
	inc := e.declare(t, "Payments are failing", false)
	m := e.client(t)
	m.signIn(incident.RoleManager, "Mia")
	page := "/console/incidents/" + inc.ID
	told := func() string {
		t.Helper()
		_, body := m.do("GET", page, nil)
		i := strings.Index(body, `id="told">`)
		if i < 0 {
			return ""
		}
		return body[i+len(`id="told">`) : i+strings.Index(body[i:], "</p>")]
	}
	announce := `action="/console/incidents/` + inc.ID + `/compensation/announce"`

	if _, body := m.do("GET", page, nil); strings.Contains(body, `id="told"`) || strings.Contains(body, announce) {
		t.Fatal("the page speaks of telling customers before anything is decided")
	}
	tok := m.csrf(page)
	if res, _ := m.do("POST", page+"/compensation", url.Values{"_csrf": {tok}, "version": {"0"}, "state": {"decided"},
		"offer_kind": {"credit"}, "amount": {"10.00"}, "currency": {"EUR"}, "min_minutes": {"0"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("decide: %d", res.StatusCode)
	}
	if got := told(); !strings.Contains(got, "The all-clear message will tell each customer") || !strings.Contains(got, "or you may tell them now") {
		t.Errorf("before the all-clear: %q", got)
	}
	// An agent, who has no button to tell them, is not told they may.
	ag := e.client(t)
	ag.signIn(incident.RoleAgent, "Ana")
	if _, body := ag.do("GET", page, nil); !strings.Contains(body, "The all-clear message will tell each customer") ||
		strings.Contains(body, "tell them now") || strings.Contains(body, announce) {
		t.Error("the agent's incident page offers what only a manager can do")
	}
	st := incident.Resolved
	if _, err := e.n.Incidents.UpdateIncident(mctx, e.page.ID, inc.ID, incident.IncidentInput{Status: &st}); err != nil {
		t.Fatal(err)
	}
	if got := told(); !strings.Contains(got, "Customers were told of this decision (in the all-clear message") {
		t.Errorf("after the all-clear that carried it: %q", got)
	}
	if _, body := m.do("GET", page, nil); strings.Contains(body, announce) {
		t.Error("the page offers to tell customers again what the all-clear told them")
	}

	// Amended after the all-clear: 5.00 EUR instead of 10.00.
	d, err := e.n.Compensation.Decision(ctx, e.page.ID, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	pol := *d.Policy
	pol.Offers = append([]compensation.Offer(nil), pol.Offers...)
	five := compensation.Money{Amount: 500, Currency: "EUR"}
	pol.Offers[0].Amount = &five
	if _, _, err := e.n.Compensation.Decide(mctx, e.page.ID, inc.ID, compensation.Proposal{State: compensation.Decided, Version: d.Version, Policy: &pol,
		AcceptLower: true}); err != nil { // 10.00 → 5.00 EUR: less than they were told
		t.Fatal(err)
	}
	if got := told(); !strings.Contains(got, "Customers were told of version 1 (in the all-clear message") || !strings.Contains(got, "changed since (version 2)") {
		t.Errorf("after an amendment: %q", got)
	}
	_, body := m.do("GET", page, nil)
	if !strings.Contains(body, announce) || !strings.Contains(body, "Tell customers of the change") {
		t.Fatal("no button to tell customers of the change")
	}
	// Beside it, what they would read, and how many: the announcement's
	// dry run, not the all-clear's.
	if !strings.Contains(body, `href="/console/incidents/`+inc.ID+`/audience?kind=compensation"`) {
		t.Error("no link to what telling customers would send")
	}
	if res, preview := m.do("GET", page+"/audience?kind=compensation", nil); res.StatusCode != http.StatusOK ||
		!strings.Contains(preview, "<strong>Compensation</strong>") || !strings.Contains(preview, "5.00 EUR") {
		t.Errorf("the announcement's preview: %d\n%s", res.StatusCode, preview)
	}
	// A button read at version 1 does not send version 2 unseen.
	if res, body := m.do("POST", page+"/compensation/announce", url.Values{"_csrf": {tok}, "version": {"1"}}); res.StatusCode != http.StatusConflict ||
		!strings.Contains(body, "now version 2") {
		t.Errorf("an announcement of a version the manager did not read: %d", res.StatusCode)
	}
	if bs := compensationBroadcasts(t, e, inc.ID); len(bs) != 0 {
		t.Fatalf("a refused announcement made broadcasts: %+v", bs)
	}
	if res, _ := m.do("POST", page+"/compensation/announce", url.Values{"_csrf": {tok}, "version": {"2"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("announce: %d", res.StatusCode)
	}
	if bs := compensationBroadcasts(t, e, inc.ID); len(bs) != 1 || bs[0].UpdateID != compensation.AnnouncementUpdateID(inc.ID, 2) {
		t.Errorf("after telling customers: %+v, want one announcement of version 2", bs)
	}
	if got := told(); !strings.Contains(got, "Customers were told of this decision (announced") {
		t.Errorf("after the announcement: %q", got)
	}
	// An agent reads whether customers were told, with no button.
	a := e.client(t)
	a.signIn(incident.RoleAgent, "Ana")
	if _, body := a.do("GET", page, nil); !strings.Contains(body, "Customers were told of this decision") || strings.Contains(body, announce) {
		t.Error("the agent's view of what customers were told")
	}
	if res, _ := a.do("POST", page+"/compensation/announce", url.Values{"_csrf": {a.csrf(page)}, "version": {"2"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("an agent's announcement: %d, want 403", res.StatusCode)
	}
}

// compensationBroadcasts returns the incident's compensation announcements.
func compensationBroadcasts(t *testing.T, e *env, incidentID string) []*incident.Broadcast {
	t.Helper()
	bs, err := e.n.Engine.Incidents.FindBroadcasts(context.Background(), incidentID)
	if err != nil {
		t.Fatal(err)
	}
	var out []*incident.Broadcast
	for _, b := range bs {
		if b.Kind == incident.BroadcastCompensation {
			out = append(out, b)
		}
	}
	return out
}

// TestTakeRaceSaysWhoHasIt: two agents press Take it on one complaint at
// once: the first takes it, the second is told who has it (their page
// had shown nobody) and takes nothing; pressing again on the page that
// now names the owner takes it from them, as Take it always could.
func TestTakeRaceSaysWhoHasIt(t *testing.T) {
	e := startEnv(t, customersCSV)
	ana, ede := e.client(t), e.client(t)
	ana.signIn(incident.RoleAgent, "Ana")
	ede.signIn(incident.RoleAgent, "Ede")
	c, _, err := e.n.Complaints.Receive(context.Background(), complaint.Intake{PageID: e.page.ID, Channel: complaint.SMS,
		Contact: complaint.Contact{Phone: "+36201111111"}, Text: "It fails"})
	if err != nil {
		t.Fatal(err)
	}
	page := "/console/complaints/" + c.ID
	_, body := ana.do("GET", page, nil)
	if !strings.Contains(body, `name="seen" value=""`) {
		t.Fatal("the take form does not say whom the page showed as owner")
	}
	anaTok, edeTok := ana.csrf(page), ede.csrf(page)
	if res, _ := ede.do("POST", page+"/take", url.Values{"_csrf": {edeTok}, "seen": {""}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("Ede's take: %d", res.StatusCode)
	}
	res, body := ana.do("POST", page+"/take", url.Values{"_csrf": {anaTok}, "seen": {""}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Ede took this complaint a moment ago") {
		t.Errorf("Ana's take of a complaint Ede took meanwhile: %d", res.StatusCode)
	}
	if got, _ := e.n.Complaints.Get(context.Background(), e.page.ID, c.ID); got.Owner != "Ede" {
		t.Fatalf("owner %q after the race, want Ede", got.Owner)
	}
	if !strings.Contains(body, `name="seen" value="Ede"`) {
		t.Error("the page Ana is shown does not name Ede as the owner it shows")
	}
	if res, _ := ana.do("POST", page+"/take", url.Values{"_csrf": {anaTok}, "seen": {"Ede"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("Ana's take, knowing Ede has it: %d", res.StatusCode)
	}
	if got, _ := e.n.Complaints.Get(context.Background(), e.page.ID, c.ID); got.Owner != "Ana" {
		t.Errorf("owner %q, want Ana", got.Owner)
	}
}

// TestResolveFormNamesItsVersion: a manager's resolve form made before
// another manager posted "still broken" does not overrule that update
// unseen: it answers 409 with the update in the timeline, keeps the text
// typed, and resolving again from the form it then shows resolves.
func TestResolveFormNamesItsVersion(t *testing.T) {
	e := startEnv(t, customersCSV)
	ctx := context.Background()
	inc := e.declare(t, "Payments are failing", false)
	m := e.client(t)
	m.signIn(incident.RoleManager, "Mia")
	page := "/console/incidents/" + inc.ID
	_, form := m.do("GET", page+"/update?resolve=1", nil)
	version := regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(form)
	if version == nil || version[1] != strconv.Itoa(inc.Version) {
		t.Fatalf("the resolve form does not carry the incident's version %d", inc.Version)
	}
	tok := m.csrf(page + "/update")
	body, st := "Rollback failed: logins now fail for everyone.", incident.Identified
	if _, err := e.n.Incidents.UpdateIncident(e.as(incident.RoleManager), e.page.ID, inc.ID, incident.IncidentInput{Status: &st, Body: &body}); err != nil {
		t.Fatal(err)
	}
	resolve := url.Values{"_csrf": {tok}, "resolving": {"1"}, "version": {version[1]}, "status": {"resolved"}, "operational": {"on"},
		"message": {"Logins work again."}, "notify": {"on"}}
	res, got := m.do("POST", page+"/update", resolve)
	if res.StatusCode != http.StatusConflict || !strings.Contains(got, "Someone posted an update while you were writing") ||
		!strings.Contains(got, "Logins work again.") {
		t.Fatalf("a resolve made from a stale form: %d", res.StatusCode)
	}
	if now, _ := e.n.Incidents.Incident(ctx, e.page.ID, inc.ID); now.Status != incident.Identified {
		t.Fatalf("the stale resolve changed the incident to %s", now.Status)
	}
	fresh := regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(got)
	if fresh == nil || fresh[1] == version[1] {
		t.Fatalf("the form shown after the refusal does not carry the new version: %v", fresh)
	}
	resolve.Set("version", fresh[1])
	if res, _ := m.do("POST", page+"/update", resolve); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("resolving from the fresh form: %d", res.StatusCode)
	}
	if now, _ := e.n.Incidents.Incident(ctx, e.page.ID, inc.ID); now.Status != incident.Resolved {
		t.Errorf("after resolving again: %s", now.Status)
	}
}

// TestToldComingReminds: once an update told customers that compensation
// is coming, the incident page reminds the manager that they wait to hear
// what; before any such message it says nothing of the kind.
func TestToldComingReminds(t *testing.T) {
	e := startEnv(t, customersCSV)
	mctx := e.as(incident.RoleManager)
	inc := e.declare(t, "Payments are failing", false)
	if _, _, err := e.n.Compensation.Decide(mctx, e.page.ID, inc.ID, compensation.Proposal{State: compensation.Coming}); err != nil {
		t.Fatal(err)
	}
	m := e.client(t)
	m.signIn(incident.RoleManager, "Mia")
	page := "/console/incidents/" + inc.ID
	if _, body := m.do("GET", page, nil); strings.Contains(body, "Customers were told compensation is coming") {
		t.Error("the page says customers were told before any message went out")
	}
	body, st := "A faulty deploy.", incident.Identified
	if _, err := e.n.Incidents.UpdateIncident(mctx, e.page.ID, inc.ID, incident.IncidentInput{Status: &st, Body: &body}); err != nil {
		t.Fatal(err)
	}
	if _, got := m.do("GET", page, nil); !strings.Contains(got, "Customers were told compensation is coming") {
		t.Error("after an update, the page does not remind that customers wait to hear what they get")
	}
}
