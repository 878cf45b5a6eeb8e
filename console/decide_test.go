package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/incident"
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
	if _, _, err := e.n.Compensation.Decide(mctx, e.page.ID, inc.ID, compensation.Proposal{State: compensation.Decided, Version: 3, Policy: cli, Reason: "By the book"}); err != nil {
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
		"kind0": {"credit"}, "amount0": {"5.00"}, "reason": {"Simpler"}}
	if res, body := m.do("POST", editor, fresh); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("replace: %d\n%s", res.StatusCode, body)
	}
	if d := decision(); d.Version != 5 || len(d.Policy.Rules) != 1 || len(d.Policy.Exclude) != 0 || d.Policy.Offers[0].Amount.Amount != 500 {
		t.Errorf("after replacing: v%d %+v", d.Version, d.Policy)
	}
}
