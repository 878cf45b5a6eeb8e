package console_test

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/incident"
)

// TestIncidentPageOwedTopUpsMore: with more customers owed a top-up than
// the incident page lists (20), the count is still whole, the first 20 by
// customer ID are listed, and a line says how many more there are; at
// exactly 20 there is no such line.
func TestIncidentPageOwedTopUpsMore(t *testing.T) {
	const owed, listed = 23, 20
	var csv strings.Builder
	csv.WriteString("id,name,phone,email,slack,language,time_zone,plan,region,components\n")
	var all []string
	for i := 1; i <= owed; i++ {
		id := fmt.Sprintf("c%02d", i)
		all = append(all, id)
		fmt.Fprintf(&csv, "%s,Customer %02d,+362011%05d,c%02d@example.com,,en,,gold,eu,Payments\n", id, i, i, i)
	}
	e := startEnv(t, csv.String())
	inc := e.declare(t, "Payments are failing", false)
	mctx, actx := e.as(incident.RoleManager), e.as(incident.RoleAgent)
	credit := func(minor int64) *compensation.Policy {
		return &compensation.Policy{Currency: "EUR",
			Offers: []compensation.Offer{{ID: "credit", Kind: compensation.Credit, Amount: &compensation.Money{Amount: minor, Currency: "EUR"}}},
			Rules:  []compensation.Rule{{ID: "all", Components: []string{e.payments.ID}, Give: []string{"credit"}}}}
	}
	if _, _, err := e.n.Compensation.Decide(mctx, e.page.ID, inc.ID, compensation.Proposal{State: compensation.Decided, Version: 0, Policy: credit(500)}); err != nil {
		t.Fatal(err)
	}
	for _, id := range all {
		if _, _, err := e.n.Compensation.Grant(actx, e.page.ID, inc.ID, id, compensation.GrantRequest{Offer: "credit"}); err != nil {
			t.Fatalf("grant to %s: %v", id, err)
		}
	}
	if _, _, err := e.n.Compensation.Decide(mctx, e.page.ID, inc.ID, compensation.Proposal{State: compensation.Decided, Version: 1, Policy: credit(750)}); err != nil {
		t.Fatal(err)
	}

	agent := e.client(t)
	agent.signIn(incident.RoleAgent, "Ana")
	linked := regexp.MustCompile(`href="/console/calls/new\?customer=(c\d+)"`)
	// topUps returns the owed top-ups box of the incident page and the
	// customers it links, in order.
	topUps := func() (string, []string) {
		t.Helper()
		res, body := agent.do("GET", "/console/incidents/"+inc.ID, nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("incident page: %d\n%s", res.StatusCode, body)
		}
		i := strings.Index(body, `id="topups"`)
		if i < 0 {
			t.Fatalf("no owed top-ups on the incident page:\n%s", body)
		}
		box := body[i:]
		box = box[:strings.Index(box, "</div>")]
		var ids []string
		for _, m := range linked.FindAllStringSubmatch(box, -1) {
			ids = append(ids, m[1])
		}
		return box, ids
	}

	box, ids := topUps()
	if want := fmt.Sprintf("%d customers are owed a top-up", owed); !strings.Contains(box, want) {
		t.Errorf("the box does not say %q:\n%s", want, box)
	}
	if !slices.Equal(ids, all[:listed]) {
		t.Errorf("listed %v, want the first %d by ID: %v", ids, listed, all[:listed])
	}
	if want := fmt.Sprintf("… and %d more", owed-listed); !strings.Contains(box, want) {
		t.Errorf("the box does not say %q:\n%s", want, box)
	}

	// Three get their top-up: exactly as many owed as listed, nothing more.
	for _, id := range all[:owed-listed] {
		if _, _, err := e.n.Compensation.Grant(actx, e.page.ID, inc.ID, id, compensation.GrantRequest{Offer: "credit"}); err != nil {
			t.Fatalf("top-up to %s: %v", id, err)
		}
	}
	box, ids = topUps()
	if want := fmt.Sprintf("%d customers are owed a top-up", listed); !strings.Contains(box, want) {
		t.Errorf("the box does not say %q:\n%s", want, box)
	}
	if !slices.Equal(ids, all[owed-listed:]) {
		t.Errorf("listed %v, want %v", ids, all[owed-listed:])
	}
	if strings.Contains(box, "… and") {
		t.Errorf("every owed customer is listed, yet the box speaks of more:\n%s", box)
	}
}
