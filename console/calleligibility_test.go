package console_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/incident"
)

// TestCallPageShowsTheCustomersEligibility: an agent logging a call with
// the customer picked sees what that customer is owed, worded as on the
// complaint page — affected or not, the offers with amounts, what was
// granted, an owed top-up — in the agent's language, and no grant button
// (there is no complaint to record it on yet).
func TestCallPageShowsTheCustomersEligibility(t *testing.T) {
	e, inc := raisedCredit(t)

	agent := e.client(t)
	agent.signIn(incident.RoleAgent, "Ana")
	get := func(customer string) string {
		t.Helper()
		res, body := agent.do("GET", "/console/calls/new?customer="+customer, nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("call page for %s: %d\n%s", customer, res.StatusCode, body)
		}
		return body
	}
	panel := func(body string) string {
		t.Helper()
		i := strings.Index(body, `id="eligibility-`+inc.ID+`"`)
		if i < 0 {
			t.Fatalf("the call page has no eligibility panel for the incident:\n%s", body)
		}
		j := strings.Index(body[i:], "</section>")
		return body[i : i+j]
	}

	// Anna: granted 5.00 EUR, owed the 2.50 EUR top-up.
	anna := panel(get("c1"))
	for _, want := range []string{"This customer&#39;s compensation", "Payments are failing",
		"Owed a top-up of 2.50 EUR: 5.00 EUR was granted under an earlier decision, and the decision in force (version 2) now gives 7.50 EUR.",
		"Recorded", "record the call first"} {
		if !strings.Contains(anna, want) {
			t.Errorf("Anna's panel does not say %q:\n%s", want, anna)
		}
	}
	if strings.Contains(anna, "<form") || strings.Contains(anna, "/offer") {
		t.Errorf("the call page offers a grant button with no complaint to record it on:\n%s", anna)
	}

	// Bob: affected, offered 7.50 EUR, nothing granted.
	bob := panel(get("c2"))
	for _, want := range []string{"affected for", "credit of 7.50 EUR"} {
		if !strings.Contains(bob, want) {
			t.Errorf("Bob's panel does not say %q:\n%s", want, bob)
		}
	}
	if strings.Contains(bob, "Owed a top-up") {
		t.Errorf("Bob's panel speaks of a top-up:\n%s", bob)
	}
	// Csilla uses Checkout only: not affected.
	if cs := panel(get("c3")); !strings.Contains(cs, "services were affected by this incident") {
		t.Errorf("Csilla's panel does not say she was not affected:\n%s", cs)
	}
	// No customer picked: no panel, the general guidance only.
	if _, body := agent.do("GET", "/console/calls/new", nil); strings.Contains(body, `id="eligibility-`) {
		t.Error("the call page shows an eligibility panel with no customer picked")
	}

	// In the agent's language.
	agent.cookies["herald_lang"] = "hu"
	if hu := panel(get("c1")); !strings.Contains(hu, "Kiegészítés jár neki: 2,50 EUR") && !strings.Contains(hu, "Kiegészítés jár neki: 2.50 EUR") {
		t.Errorf("the Hungarian panel does not say the top-up in Hungarian:\n%s", hu)
	}
}

// raisedCredit declares an incident on Payments, decides a credit of 5.00
// EUR, grants it to Anna (c1), then raises it to 7.50 EUR: Anna is owed a
// top-up of 2.50 EUR, Bob (c2) is offered 7.50 EUR.
func raisedCredit(t *testing.T) (*env, *incident.Incident) {
	t.Helper()
	e := startEnv(t, customersCSV)
	inc := e.declare(t, "Payments are failing", false)
	mctx := e.as(incident.RoleManager)
	credit := func(minor int64) *compensation.Policy {
		return &compensation.Policy{Currency: "EUR",
			Offers: []compensation.Offer{{ID: "credit", Kind: compensation.Credit, Amount: &compensation.Money{Amount: minor, Currency: "EUR"}}},
			Rules:  []compensation.Rule{{ID: "all", Components: []string{e.payments.ID}, Give: []string{"credit"}}}}
	}
	if _, _, err := e.n.Compensation.Decide(mctx, e.page.ID, inc.ID, compensation.Proposal{State: compensation.Decided, Version: 0, Policy: credit(500)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.n.Compensation.Grant(e.as(incident.RoleAgent), e.page.ID, inc.ID, "c1", compensation.GrantRequest{Offer: "credit"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.n.Compensation.Decide(mctx, e.page.ID, inc.ID, compensation.Proposal{State: compensation.Decided, Version: 1, Policy: credit(750)}); err != nil {
		t.Fatal(err)
	}
	return e, inc
}

// TestIncidentPageCountsOwedTopUps: after management raised an offer,
// the incident's compensation section tells agents how many customers
// are owed a top-up, and links each to the call page, which shows what
// they are owed.
func TestIncidentPageCountsOwedTopUps(t *testing.T) {
	e, inc := raisedCredit(t)
	agent := e.client(t)
	agent.signIn(incident.RoleAgent, "Ana")
	res, body := agent.do("GET", "/console/incidents/"+inc.ID, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("incident page: %d\n%s", res.StatusCode, body)
	}
	i := strings.Index(body, `id="compensation"`)
	if i < 0 {
		t.Fatalf("no compensation section:\n%s", body)
	}
	comp := body[i:]
	comp = comp[:strings.Index(comp, "</section>")]
	for _, want := range []string{"1 customer is owed a top-up", `href="/console/calls/new?customer=c1"`, "Anna Kovács", "2.50 EUR"} {
		if !strings.Contains(comp, want) {
			t.Errorf("the compensation section does not say %q:\n%s", want, comp)
		}
	}
	if strings.Contains(comp, "customer=c2") {
		t.Errorf("Bob, granted nothing, is listed as owed a top-up:\n%s", comp)
	}

	// Anna gets her top-up: nobody is owed one any more.
	if _, _, err := e.n.Compensation.Grant(e.as(incident.RoleAgent), e.page.ID, inc.ID, "c1", compensation.GrantRequest{Offer: "credit"}); err != nil {
		t.Fatal(err)
	}
	if _, body := agent.do("GET", "/console/incidents/"+inc.ID, nil); strings.Contains(body, "owed a top-up") {
		t.Error("the incident page still counts a top-up after it was granted")
	}
}
