package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
)

// amountPolicy gives everyone a 5.00 EUR credit and a 5.00 EUR refund,
// at most 8.00 EUR per customer (so the refund shows 3.00 EUR); no rule
// gives the 4.00 EUR goodwill credit, which a manager grants by override.
func amountPolicy() *compensation.Policy {
	eur := func(minor int64) *compensation.Money { return &compensation.Money{Amount: minor, Currency: "EUR"} }
	return &compensation.Policy{Currency: "EUR",
		Offers: []compensation.Offer{{ID: "credit", Kind: compensation.Credit, Amount: eur(500)}, {ID: "refund", Kind: compensation.Refund, Amount: eur(500)},
			{ID: "goodwill", Kind: compensation.Credit, Amount: eur(400)}},
		Rules: []compensation.Rule{{ID: "all", Give: []string{"credit", "refund"}}},
		Cap:   eur(800)}
}

// TestOfferAmountShown: Ana has c1's complaint open and reads out "a
// credit of 5.00 EUR"; before she clicks, a manager grants c1 a 4.00 EUR
// goodwill credit on another channel (an override), which leaves 4.00
// EUR of the cap. Her click records nothing: the page answers 409, says
// in her language that a grant now records 4.00 EUR, not the 5.00 EUR it
// showed, and offers the credit at 4.00 EUR. On both engines.
func TestOfferAmountShown(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testOfferAmountShown(t, startEnv(t, customersCSV)) })
	t.Run("redis", func(t *testing.T) { testOfferAmountShown(t, startRedisEnv(t)) })
}

// TestOfferAmountShownAtOnce: Ana clicks the credit (5.00 EUR) and Ben
// the refund (3.00 EUR, what the cap leaves of it) of the same customer
// at the same moment: both are recorded at the amounts their pages
// showed, and the customer gets no more than the cap. On both engines.
func TestOfferAmountShownAtOnce(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testOfferAmountShownAtOnce(t, startEnv(t, customersCSV)) })
	t.Run("redis", func(t *testing.T) { testOfferAmountShownAtOnce(t, startRedisEnv(t)) })
}

// startRedisEnv is startEnv on the test Redis, under a prefix of its own
// deleted afterwards.
func startRedisEnv(t *testing.T) *env {
	t.Helper()
	e := startNode(t, redisConfig(t))
	e.seed(t, customersCSV)
	return e
}

// amountIncident declares an incident and decides amountPolicy on it.
func amountIncident(t *testing.T, e *env) *incident.Incident {
	t.Helper()
	inc := e.declare(t, "Payments are failing", false)
	if _, _, err := e.n.Compensation.Decide(e.as(incident.RoleManager), e.page.ID, inc.ID,
		compensation.Proposal{State: compensation.Decided, Version: 0, Policy: amountPolicy()}); err != nil {
		t.Fatal(err)
	}
	return inc
}

// amountComplaint decides amountPolicy on a new incident and receives a
// phone complaint from c1 on it.
func amountComplaint(t *testing.T, e *env) (*incident.Incident, *complaint.Complaint) {
	t.Helper()
	inc := amountIncident(t, e)
	cp, _, err := e.n.Complaints.Receive(context.Background(), complaint.Intake{PageID: e.page.ID, Channel: complaint.Phone, IncidentID: inc.ID,
		Contact: complaint.Contact{CustomerID: "c1"}, Text: "I could not pay"})
	if err != nil {
		t.Fatal(err)
	}
	return inc, cp
}

// acceptForm is the "Customer accepts" form of offer on the page.
func acceptForm(t *testing.T, body, offer string) url.Values {
	t.Helper()
	for _, f := range offerForms(body) {
		if f.Get("offer") == offer && !f.Has("declined") {
			f.Del("_button")
			return f
		}
	}
	t.Fatalf("no form accepts %q: %v", offer, offerForms(body))
	return nil
}

func testOfferAmountShown(t *testing.T, e *env) {
	ctx := context.Background()
	inc, cp := amountComplaint(t, e)
	path := "/console/complaints/" + cp.ID
	ana := e.client(t)
	ana.signIn(incident.RoleAgent, "Ana")
	_, body := ana.do("GET", path, nil)
	credit := acceptForm(t, body, "credit")
	if credit.Get("amount") != "5.00" || credit.Get("currency") != "EUR" || credit.Get("version") != "1" {
		t.Fatalf("the credit's form does not carry the amount it shows: %v", credit)
	}
	if refund := acceptForm(t, body, "refund"); refund.Get("amount") != "3.00" {
		t.Fatalf("the refund's form does not carry the amount it shows (what the cap leaves): %v", refund)
	}
	// A manager grants a goodwill credit elsewhere (the API, the CLI).
	if _, _, err := e.n.Compensation.Grant(e.as(incident.RoleManager), e.page.ID, inc.ID, "c1",
		compensation.GrantRequest{Offer: "goodwill", OverrideReason: "escalated on the phone"}); err != nil {
		t.Fatal(err)
	}
	grants := func() []*compensation.Grant {
		t.Helper()
		gs, err := e.n.Compensation.Grants(ctx, e.page.ID, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		return gs
	}
	for _, tc := range []struct{ lang, want string }{
		{"en", "Nothing was recorded: the amount changed while this page was open, and a grant now records 4.00 EUR, not the 5.00 EUR the page showed"},
		{"hu", "Az összeg megváltozott, amíg ez az oldal nyitva volt: a rögzítés most 4,00 EUR összeget adna, nem az oldalon látott 5,00 EUR összeget"},
	} {
		ana.cookies["herald_lang"] = tc.lang
		res, body := ana.do("POST", path+"/offer", credit)
		if res.StatusCode != http.StatusConflict {
			t.Fatalf("%s: the credit shown at 5.00 EUR: %d, want 409\n%s", tc.lang, res.StatusCode, body)
		}
		if !strings.Contains(body, tc.want) {
			t.Errorf("%s: the refusal does not say %q", tc.lang, tc.want)
		}
		if now := acceptForm(t, body, "credit"); now.Get("amount") != "4.00" || now.Get("version") != "1" {
			t.Errorf("%s: the refusal's page offers the credit as %v, want 4.00", tc.lang, now)
		}
		if gs := grants(); len(gs) != 1 {
			t.Fatalf("%s: the refused credit recorded: %+v", tc.lang, gs)
		}
	}
	ana.cookies["herald_lang"] = "en"

	// A form amount that is no amount is refused (422, naming it).
	bad := url.Values{}
	for k, v := range credit {
		bad[k] = v
	}
	bad.Set("amount", "five")
	if res, body := ana.do("POST", path+"/offer", bad); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "amount") {
		t.Errorf("amount \"five\": %d, want 422 naming amount", res.StatusCode)
	}

	// What the page shows now is recorded.
	_, body = ana.do("GET", path, nil)
	if res, body := ana.do("POST", path+"/offer", acceptForm(t, body, "credit")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the credit at 4.00 EUR: %d\n%s", res.StatusCode, body)
	}
	if gs := grants(); len(gs) != 2 || gs[1].OfferID != "credit" || gs[1].Amount.Amount != 400 {
		t.Fatalf("after the credit at 4.00 EUR: %+v", gs)
	}
}

func testOfferAmountShownAtOnce(t *testing.T, e *env) {
	inc, cp := amountComplaint(t, e)
	path := "/console/complaints/" + cp.ID
	ana, ben := e.client(t), e.client(t)
	ana.signIn(incident.RoleAgent, "Ana")
	ben.signIn(incident.RoleAgent, "Ben")
	_, body := ana.do("GET", path, nil)
	credit := acceptForm(t, body, "credit")
	_, body = ben.do("GET", path, nil)
	refund := acceptForm(t, body, "refund")

	statuses := make([]int, 2)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range []struct {
		cl *client
		f  url.Values
	}{{ana, credit}, {ben, refund}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, _ := c.cl.do("POST", path+"/offer", c.f)
			statuses[i] = res.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	gs, err := e.n.Compensation.Grants(context.Background(), e.page.ID, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	sum := int64(0)
	for _, g := range gs {
		sum += g.Amount.Amount
		if want := map[string]int64{"credit": 500, "refund": 300}[g.OfferID]; g.Amount.Amount != want {
			t.Errorf("%s recorded at %s, want the %d shown", g.OfferID, g.Amount, want)
		}
	}
	if statuses[0] != http.StatusSeeOther || statuses[1] != http.StatusSeeOther || len(gs) != 2 || sum != 800 {
		t.Errorf("statuses %v, grants %+v (%d in all): want both recorded as shown, 8.00 EUR in all", statuses, gs, sum)
	}
}

// TestOfferChangedWhileOpen, in the browser: Ana has a complaint open
// and is reading out "a credit of 5.00 EUR" when a manager's goodwill
// credit leaves 4.00 EUR of the cap. The live refresh does not swap the
// amounts under her: the panel stays as she read it and says the offer
// changed. Her click on what she read records nothing and answers with
// the amount in force, in her language (en and hu); the notice's button
// shows the new offer instead. With -screenshots DIR, the notice and the
// refusal are saved at 1280 and 390 px.
func TestOfferChangedWhileOpen(t *testing.T) {
	e := startEnv(t, customersCSV)
	ctx := context.Background()
	inc := amountIncident(t, e)
	b := newBrowser(t, e.base, 1280, 900)
	for _, tc := range []struct {
		lang, customer, agent, refused string
		show                           bool
	}{
		{"en", "c2", "Ana", "a grant now records 4.00 EUR, not the 5.00 EUR the page showed", false},
		{"hu", "c1", "Ágnes", "a rögzítés most 4,00 EUR összeget adna, nem az oldalon látott 5,00 EUR összeget", false},
		{"en", "c3", "Ben", "", true},
	} {
		cp, _, err := e.n.Complaints.Receive(ctx, complaint.Intake{PageID: e.page.ID, Channel: complaint.Phone, IncidentID: inc.ID,
			Contact: complaint.Contact{CustomerID: tc.customer}, Text: "I could not pay"})
		if err != nil {
			t.Fatal(err)
		}
		agent := b.user(e, incident.RoleAgent, tc.agent)
		get(b, agent, "choose the language", chromedp.Evaluate[int](`fetch('/console/lang', {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'},
			body: 'lang=`+tc.lang+`&back=/console/&_csrf=' + encodeURIComponent(document.body.dataset.csrf)}).then(function (r) { return r.status })`, chromedp.EvalAwaitPromise))
		creditAmount := `document.querySelector('#eligibility form.offer-opt input[name="offer"][value="credit"]').form.querySelector('input[name="amount"]').value`
		b.run(agent, "open the complaint", chromedp.Navigate(e.base+"/console/complaints/"+cp.ID),
			chromedp.WaitVisible(chromedp.CSS(`form.offer-opt`)), waitJS(`document.body.dataset.liveOpen === "1"`), noReload)
		if got := get(b, agent, "the credit's amount", chromedp.Evaluate[string](creditAmount)); got != "5.00" {
			t.Fatalf("%s: the credit's form carries %q", tc.lang, got)
		}
		if _, _, err := e.n.Compensation.Grant(e.as(incident.RoleManager), e.page.ID, inc.ID, tc.customer,
			compensation.GrantRequest{Offer: "goodwill", OverrideReason: "escalated on the phone"}); err != nil {
			t.Fatal(err)
		}
		b.run(agent, "see the offer held", waitJS(`document.body.dataset.offerHeld === "1"`), chromedp.WaitVisible(chromedp.CSS(`#eligibility [data-offer-changed]`)))
		stillSame(t, b, agent)
		if got := get(b, agent, "the credit's amount", chromedp.Evaluate[string](creditAmount)); got != "5.00" {
			t.Errorf("%s: the live refresh changed the credit's form to %q under the agent", tc.lang, got)
		}
		if el := text(b, agent, "#eligibility"); !strings.Contains(el, map[string]string{"en": "5.00 EUR", "hu": "5,00 EUR"}[tc.lang]) ||
			strings.Contains(el, map[string]string{"en": "4.00 EUR", "hu": "4,00 EUR"}[tc.lang]) {
			t.Errorf("%s: the held panel reads:\n%s", tc.lang, el)
		}
		if tc.show {
			b.run(agent, "show the new offer", chromedp.Click(chromedp.CSS(`#eligibility [data-offer-show]`)),
				waitJS(`document.querySelector('#eligibility [data-offer-changed]').hidden`))
			if got := get(b, agent, "the credit's amount", chromedp.Evaluate[string](creditAmount)); got != "4.00" {
				t.Errorf("the shown offer's credit form carries %q, want 4.00", got)
			}
			continue
		}
		shoot(t, b, agent, "offer-held-"+tc.lang)
		b.run(agent, "click what was read out",
			js(`document.querySelector('#eligibility form.offer-opt input[name="offer"][value="credit"]').form.querySelector('button').click()`),
			chromedp.WaitVisible(chromedp.CSS(`main .error`)))
		if msg := text(b, agent, "main .error"); !strings.Contains(msg, tc.refused) {
			t.Errorf("%s: the refusal reads %q, want %q", tc.lang, msg, tc.refused)
		}
		shoot(t, b, agent, "offer-amount-409-"+tc.lang)
		gs, err := e.n.Compensation.Grants(ctx, e.page.ID, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gs {
			if g.CustomerID == tc.customer && g.OfferID == "credit" {
				t.Errorf("%s: the refused click recorded %+v", tc.lang, g)
			}
		}
	}
}
