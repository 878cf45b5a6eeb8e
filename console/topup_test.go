package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
)

// TestTopUpFromTheComplaint: a customer granted a credit of 5.00 EUR,
// then the decision amended to 7.50 EUR, is owed a top-up of 2.50 EUR.
// The agent sees it on the complaint, with the amount and why, and grants
// it with the same form as the offer; a double click and a colleague
// clicking at the same moment grant it once, recorded as whoever did it,
// and the other agent's open page hears of it at once, as the API does.
func TestTopUpFromTheComplaint(t *testing.T) {
	e := startEnv(t, customersCSV)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	inc := e.declare(t, "Payments are failing", false)
	mctx := e.as(incident.RoleManager)
	credit := func(minor int64) *compensation.Policy {
		return &compensation.Policy{Currency: "EUR",
			Offers: []compensation.Offer{{ID: "credit", Kind: compensation.Credit, Amount: &compensation.Money{Amount: minor, Currency: "EUR"}}},
			Rules:  []compensation.Rule{{ID: "all", Give: []string{"credit"}}}}
	}
	if _, _, err := e.n.Compensation.Decide(mctx, e.page.ID, inc.ID, compensation.Proposal{State: compensation.Decided, Version: 0, Policy: credit(500)}); err != nil {
		t.Fatal(err)
	}
	cp, _, err := e.n.Complaints.Receive(ctx, complaint.Intake{PageID: e.page.ID, Channel: complaint.Phone, IncidentID: inc.ID,
		Contact: complaint.Contact{CustomerID: "c1"}, Text: "I could not pay"})
	if err != nil {
		t.Fatal(err)
	}
	path := "/console/complaints/" + cp.ID

	ana, ben := e.client(t), e.client(t)
	ana.signIn(incident.RoleAgent, "Ana")
	ben.signIn(incident.RoleAgent, "Ben")
	post := func(c *client, f url.Values) {
		t.Helper()
		if res, body := c.do("POST", path+"/offer", f); res.StatusCode != http.StatusSeeOther {
			t.Errorf("post %v: %d\n%s", f, res.StatusCode, body)
		}
	}
	// The first grant, as before: "Customer accepts".
	_, body := ana.do("GET", path, nil)
	forms := offerForms(body)
	if len(forms) != 2 || forms[0].Get("offer") != "credit" {
		t.Fatalf("offer forms before the grant: %v", forms)
	}
	forms[0].Del("_button")
	post(ana, forms[0])

	if _, _, err := e.n.Compensation.Decide(mctx, e.page.ID, inc.ID, compensation.Proposal{State: compensation.Decided, Version: 1, Policy: credit(750)}); err != nil {
		t.Fatal(err)
	}

	// What the agents see: the top-up, its amount and why, and a button
	// for it, in place of "nothing more to offer".
	topUpForm := func(c *client) url.Values {
		t.Helper()
		_, body := c.do("GET", path, nil)
		for _, want := range []string{"Owed a top-up of 2.50 EUR: 5.00 EUR was granted under an earlier decision, and the decision in force (version 2) now gives 7.50 EUR."} {
			if !strings.Contains(body, want) {
				t.Errorf("the complaint page does not say %q", want)
			}
		}
		if strings.Contains(body, "nothing more to offer") {
			t.Error("the page says there is nothing more to offer while a top-up is owed")
		}
		forms := offerForms(body)
		if len(forms) != 1 || forms[0].Get("_button") != "Grant the top-up of 2.50 EUR" || forms[0].Get("offer") != "credit" || forms[0].Has("declined") {
			t.Fatalf("the top-up's form: %v", forms)
		}
		f := forms[0]
		f.Del("_button")
		return f
	}
	anaForm, benForm := topUpForm(ana), topUpForm(ben)

	// Ben's page listens to the live stream, as console.js does.
	req, _ := http.NewRequestWithContext(ctx, "GET", e.base+"/console/live?complaint="+cp.ID, nil)
	req.AddCookie(&http.Cookie{Name: "herald_console", Value: ben.cookies["herald_console"]})
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("live: %v %v", err, res)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for l := range lines {
		if strings.HasPrefix(l, ": live") {
			break
		}
	}

	// Ana double-clicks while Ben clicks: three posts at once (Ana's two
	// from the same session, as a browser's).
	ana2 := &client{t: t, e: e, cookies: maps.Clone(ana.cookies)}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range []struct {
		cl *client
		f  url.Values
	}{{ana, anaForm}, {ana2, anaForm}, {ben, benForm}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			post(c.cl, c.f)
		}()
	}
	close(start)
	wg.Wait()

	grants, err := e.n.Compensation.Grants(ctx, e.page.ID, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(grants) != 2 {
		t.Fatalf("%d grants, want the first and one top-up: %+v", len(grants), grants)
	}
	up := grants[1]
	who := incident.ActorName(up.By)
	if !up.TopUp || up.Amount.Amount != 250 || up.Amount.Currency != "EUR" || up.PolicyVersion != 2 || up.ComplaintID != cp.ID ||
		up.Group != "credit" || (who != "Ana" && who != "Ben") {
		t.Errorf("the top-up: %+v", up)
	}
	if grants[0].TopUp || grants[0].Amount.Amount != 500 || incident.ActorName(grants[0].By) != "Ana" {
		t.Errorf("the first grant: %+v", grants[0])
	}

	// Ben's page hears of it, and re-read shows it recorded, by whom.
	heard := false
	for l := range lines {
		if strings.HasPrefix(l, "event: change") {
			heard = true
			break
		}
	}
	if !heard {
		t.Fatal("Ben's live stream never heard of the top-up")
	}
	_, body = ben.do("GET", path, nil)
	if fs := offerForms(body); len(fs) != 0 {
		t.Errorf("the page still offers %v after the top-up", fs)
	}
	for _, want := range []string{"Credit 2.50 EUR (top-up) · " + who + " · ", "Credit 5.00 EUR · Ana · ", "Recorded: nothing more to offer.",
		"Compensation top-up granted: credit of 2.50 EUR."} {
		if !strings.Contains(body, want) {
			t.Errorf("the page after the top-up does not say %q", want)
		}
	}

	// A click from a page left open before it (stale) records nothing more.
	post(ben, benForm)
	if gs, _ := e.n.Compensation.Grants(ctx, e.page.ID, inc.ID); len(gs) != 2 {
		t.Errorf("a stale click: %d grants, want 2", len(gs))
	}

	// The API says the same: nothing owed now, 7.50 EUR given.
	tok, _, err := e.n.Incidents.CreateToken(e.as(incident.RoleAdmin), "api", incident.RoleAgent)
	if err != nil {
		t.Fatal(err)
	}
	areq := httptest.NewRequest("GET", "/api/v1/pages/"+e.page.ID+"/incidents/"+inc.ID+"/compensation/customers/c1", nil)
	areq.Header.Set("Authorization", "Bearer "+tok)
	ares, err := e.n.Server.App().Test(areq, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(ares.Body)
	ares.Body.Close()
	var a compensation.Answer
	if err := json.Unmarshal(b, &a); ares.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("API check: %d %v %s", ares.StatusCode, err, b)
	}
	if len(a.Offers) != 1 || a.Offers[0].TopUp.Amount != 0 || a.Offers[0].Given.Amount != 750 || !a.Offers[0].Granted {
		t.Errorf("API offers after the top-up: %s", b)
	}
	if len(a.Grants) != 2 || !a.Grants[1].TopUp || a.Grants[1].By != up.By {
		t.Errorf("API grants after the top-up: %s", b)
	}
}

// TestOfferSaysWhatItRecords: an offer whose words name no amount for the
// customer (a share of the fee), or an amount the cap cuts, says beside
// its button what it records for this customer; one the cap leaves
// nothing of (which the script leaves out and a grant of is refused) has
// no button.
func TestOfferSaysWhatItRecords(t *testing.T) {
	e := startEnv(t, customersCSV)
	inc := e.declare(t, "Payments are failing", false)
	if _, _, err := e.n.Compensation.Decide(e.as(incident.RoleManager), e.page.ID, inc.ID, compensation.Proposal{State: compensation.Decided, Version: 0,
		Policy: &compensation.Policy{Currency: "EUR", PlanFees: map[string]compensation.Money{"gold": {Amount: 4999, Currency: "EUR"}},
			Offers: []compensation.Offer{{ID: "credit10", Kind: compensation.Credit, Percent: 1000},
				{ID: "refund", Kind: compensation.Refund, Amount: &compensation.Money{Amount: 1000, Currency: "EUR"}},
				{ID: "plain", Kind: compensation.Credit, Amount: &compensation.Money{Amount: 100, Currency: "EUR"}}},
			Rules: []compensation.Rule{{ID: "all", Give: []string{"plain", "credit10", "refund"}}},
			Cap:   &compensation.Money{Amount: 900, Currency: "EUR"}}}); err != nil {
		t.Fatal(err)
	}
	cp, _, err := e.n.Complaints.Receive(context.Background(), complaint.Intake{PageID: e.page.ID, Channel: complaint.Phone, IncidentID: inc.ID,
		Contact: complaint.Contact{CustomerID: "c1"}, Text: "I could not pay"})
	if err != nil {
		t.Fatal(err)
	}
	ana := e.client(t)
	ana.signIn(incident.RoleAgent, "Ana")
	_, body := ana.do("GET", "/console/complaints/"+cp.ID, nil)
	for _, want := range []string{
		"credit of 10 % of the monthly fee</strong> <small class=\"pays\">for this customer: 5.00 EUR</small>",
		"refund of 10.00 EUR</strong> <small class=\"pays\">for this customer only 4.00 EUR (the most per customer)</small>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the complaint page does not say %q", want)
		}
	}
	for _, f := range offerForms(body) {
		if f.Get("offer") == "plain" {
			t.Errorf("the page offers a credit the cap leaves nothing of: %v", f)
		}
	}
}

// TestOfferReadAtAnAmendedDecision: the agent reads "credit of 5.00 EUR"
// out to the customer; before they click "Customer accepts" (or "Grant
// the top-up"), the manager amends the decision to 7.50 EUR. The click
// records nothing: the page answers 409, says the decision changed, and
// shows what it gives now, with forms for the version in force.
func TestOfferReadAtAnAmendedDecision(t *testing.T) {
	e := startEnv(t, customersCSV)
	ctx := context.Background()
	inc := e.declare(t, "Payments are failing", false)
	mctx := e.as(incident.RoleManager)
	credit := func(minor int64) *compensation.Policy {
		return &compensation.Policy{Currency: "EUR",
			Offers: []compensation.Offer{{ID: "credit", Kind: compensation.Credit, Amount: &compensation.Money{Amount: minor, Currency: "EUR"}}},
			Rules:  []compensation.Rule{{ID: "all", Give: []string{"credit"}}}}
	}
	decide := func(version int, minor int64) {
		t.Helper()
		if _, _, err := e.n.Compensation.Decide(mctx, e.page.ID, inc.ID, compensation.Proposal{State: compensation.Decided, Version: version,
			Policy: credit(minor), AcceptLower: true}); err != nil {
			t.Fatal(err)
		}
	}
	decide(0, 500)
	cp, _, err := e.n.Complaints.Receive(ctx, complaint.Intake{PageID: e.page.ID, Channel: complaint.Phone, IncidentID: inc.ID,
		Contact: complaint.Contact{CustomerID: "c1"}, Text: "I could not pay"})
	if err != nil {
		t.Fatal(err)
	}
	path := "/console/complaints/" + cp.ID
	ana := e.client(t)
	ana.signIn(incident.RoleAgent, "Ana")
	formsOf := func(want int) []url.Values {
		t.Helper()
		_, body := ana.do("GET", path, nil)
		forms := offerForms(body)
		if len(forms) != want {
			t.Fatalf("%d offer forms, want %d: %v", len(forms), want, forms)
		}
		for _, f := range forms {
			f.Del("_button")
		}
		return forms
	}
	grants := func() []*compensation.Grant {
		t.Helper()
		gs, err := e.n.Compensation.Grants(ctx, e.page.ID, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		return gs
	}
	refused := func(f url.Values, version, offer string) {
		t.Helper()
		res, body := ana.do("POST", path+"/offer", f)
		if res.StatusCode != http.StatusConflict {
			t.Fatalf("a form read at an earlier version: %d, want 409\n%s", res.StatusCode, body)
		}
		for _, want := range []string{"Nothing was recorded: the compensation decision changed while this page was open (it is now version " + version + ").", offer} {
			if !strings.Contains(body, want) {
				t.Errorf("the refusal's page does not say %q", want)
			}
		}
		for _, nf := range offerForms(body) {
			if nf.Get("version") != version {
				t.Errorf("the refusal's page offers a form of version %q, want %s: %v", nf.Get("version"), version, nf)
			}
		}
	}

	// "Customer accepts" and "Customer declines", read at version 1.
	read := formsOf(2)
	if read[0].Get("version") != "1" || read[1].Get("version") != "1" || read[1].Get("declined") != "1" {
		t.Fatalf("the forms do not name the version read: %v", read)
	}
	decide(1, 750)
	refused(read[0], "2", "credit of 7.50 EUR")
	refused(read[1], "2", "credit of 7.50 EUR")
	if gs := grants(); len(gs) != 0 {
		t.Fatalf("clicks read at version 1 recorded %+v", gs)
	}

	// Read at version 2, recorded: 7.50 EUR.
	if res, body := ana.do("POST", path+"/offer", formsOf(2)[0]); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("accept at version 2: %d\n%s", res.StatusCode, body)
	}
	// The top-up read at version 3 (10.00 EUR) is not granted at version 4 (12.00 EUR).
	decide(2, 1000)
	topUp := formsOf(1)[0]
	if topUp.Get("version") != "3" {
		t.Fatalf("the top-up's form: %v", topUp)
	}
	decide(3, 1200)
	refused(topUp, "4", "Owed a top-up of 4.50 EUR")
	if gs := grants(); len(gs) != 1 || gs[0].Amount.Amount != 750 {
		t.Fatalf("after the refused top-up: %+v", gs)
	}
	// A version that is no number is refused (422, as the console's
	// other bad forms), not a grant of whatever is in force.
	topUp.Set("version", "three")
	if res, body := ana.do("POST", path+"/offer", topUp); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "version") {
		t.Errorf("version \"three\": %d, want 422 naming version", res.StatusCode)
	}
	if gs := grants(); len(gs) != 1 {
		t.Fatalf("a bad version recorded %+v", gs)
	}
}

// TestGrantElsewhereRefreshesTheComplaint: Ben has c1's complaint open
// when a colleague records c1's credit through the API (or the CLI), on
// no complaint: his page's live stream hears of it at once
// (compensation.granted), and the page, re-read, shows it recorded.
func TestGrantElsewhereRefreshesTheComplaint(t *testing.T) {
	e := startEnv(t, customersCSV)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	inc := e.declare(t, "Payments are failing", false)
	if _, _, err := e.n.Compensation.Decide(e.as(incident.RoleManager), e.page.ID, inc.ID, compensation.Proposal{State: compensation.Decided, Version: 0,
		Policy: &compensation.Policy{Currency: "EUR",
			Offers: []compensation.Offer{{ID: "credit", Kind: compensation.Credit, Amount: &compensation.Money{Amount: 500, Currency: "EUR"}}},
			Rules:  []compensation.Rule{{ID: "all", Give: []string{"credit"}}}}}); err != nil {
		t.Fatal(err)
	}
	cp, _, err := e.n.Complaints.Receive(ctx, complaint.Intake{PageID: e.page.ID, Channel: complaint.Phone, IncidentID: inc.ID,
		Contact: complaint.Contact{CustomerID: "c1"}, Text: "I could not pay"})
	if err != nil {
		t.Fatal(err)
	}
	ben := e.client(t)
	ben.signIn(incident.RoleAgent, "Ben")
	if _, body := ben.do("GET", "/console/complaints/"+cp.ID, nil); len(offerForms(body)) != 2 {
		t.Fatalf("Ben's page offers no credit to record")
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", e.base+"/console/live?complaint="+cp.ID, nil)
	req.AddCookie(&http.Cookie{Name: "herald_console", Value: ben.cookies["herald_console"]})
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("live: %v %v", err, res)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for l := range lines {
		if strings.HasPrefix(l, ": live") {
			break
		}
	}

	// Recorded elsewhere: the API's grant, on no complaint.
	if _, created, err := e.n.Compensation.Grant(e.as(incident.RoleAgent), e.page.ID, inc.ID, "c1", compensation.GrantRequest{Offer: "credit"}); err != nil || !created {
		t.Fatalf("grant: %v %v", created, err)
	}
	heard := ""
	for l := range lines {
		if strings.HasPrefix(l, "data: ") {
			heard = l
			break
		}
	}
	if heard != `data: "compensation.granted"` {
		t.Fatalf("Ben's live stream heard %q of the grant, want compensation.granted", heard)
	}
	_, body := ben.do("GET", "/console/complaints/"+cp.ID, nil)
	if fs := offerForms(body); len(fs) != 0 || !strings.Contains(body, "Credit 5.00 EUR · ") || !strings.Contains(body, "Recorded: nothing more to offer.") {
		t.Errorf("Ben's page after the grant still offers %v", fs)
	}
}
