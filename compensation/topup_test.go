package compensation

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/incident"
)

// amendedPolicy is the walk's policy: percent of a 50 EUR fee as a credit,
// and a choice of a 5 EUR refund or a day, capped at 10 EUR.
func amendedPolicy(percent BasisPoints) *Policy {
	return &Policy{Currency: "EUR", PlanFees: map[string]Money{"gold": {5000, "EUR"}},
		Offers: []Offer{{ID: "credit10", Kind: Credit, Percent: percent}, {ID: "refund", Kind: Refund, Amount: &Money{500, "EUR"}},
			{ID: "day", Kind: FreePeriod, Days: 1}},
		Choices: []Choice{{ID: "sorry", Offers: []string{"refund", "day"}}},
		Rules:   []Rule{{ID: "paying", Plans: []string{"gold"}, Give: []string{"credit10"}}, {ID: "all", Give: []string{"sorry"}}},
		Cap:     &Money{1000, "EUR"}}
}

// TestTopUpAfterAmendment: a customer granted 10 % (5.00 EUR) under
// version 2 is owed 2.50 EUR when version 3 gives 15 %; the cap counts the
// top-up, the customer's line and the agent's script say it, and a grant
// of it records the difference, once.
func TestTopUpAfterAmendment(t *testing.T) {
	c, err := Compile(amendedPolicy(1500))
	if err != nil {
		t.Fatal(err)
	}
	tl := NewTimeline(exampleIncident, exampleHistory, at(10000))
	ors := audience.Customer{ID: "ors", Plan: "gold", Components: []string{"api"}}
	aff := tl.For(ors.Components)
	granted := []Grant{{CustomerID: "ors", Group: "credit10", OfferID: "credit10", Kind: Credit, Amount: Money{500, "EUR"}, PolicyVersion: 2}}
	r := c.Evaluate(&ors, &aff, granted, at(400))
	o := r.Offers[0]
	if !o.Granted || o.Given != (Money{500, "EUR"}) || o.TopUp != (Money{250, "EUR"}) {
		t.Fatalf("credit: %+v, want granted 5.00 EUR and a top-up of 2.50 EUR", o)
	}
	if !Owes(&r) {
		t.Error("a customer owed a top-up is not owed anything")
	}
	// The cap: 5.00 granted + 2.50 top-up leaves 2.50 for the refund.
	if got := offersText(&r); !strings.Contains(got, "sorry/refund 2.50 EUR (capped from 5.00 EUR)") {
		t.Errorf("offers %s, want the refund capped to 2.50 EUR after the top-up", got)
	}
	line := Words("en").Line(&r)
	if !strings.Contains(line, "a further credit of 2.50 EUR on your next invoice, on top of the 5.00 EUR you have already received") {
		t.Errorf("line %q lacks the top-up", line)
	}
	script := Script("en", &Decision{State: Decided, Version: 3}, &r, aff, []*Grant{&granted[0]})
	if !strings.Contains(script, "Owed a top-up of 2.50 EUR") {
		t.Errorf("script %q does not tell the agent of the top-up", script)
	}
	for _, l := range []string{"hu", "pl", "hr"} {
		if s := Script(l, &Decision{State: Decided, Version: 3}, &r, aff, nil); !strings.Contains(s, Words(l).Money(Money{250, "EUR"})) {
			t.Errorf("%s script %q lacks the top-up", l, s)
		}
	}
	if err := CheckGrant(c, &r, Claim{Group: "credit10", At: at(400)}, nil); err != nil {
		t.Errorf("the top-up is refused: %v", err)
	}
	if !topUp(&r, Claim{Group: "credit10"}) {
		t.Error("a grant of credit10 is not read as its top-up")
	}
	// Topped up: nothing more is owed, and another grant is refused.
	granted = append(granted, Grant{CustomerID: "ors", Group: "credit10", OfferID: "credit10", Kind: Credit, Amount: Money{250, "EUR"}, PolicyVersion: 3})
	r = c.Evaluate(&ors, &aff, granted, at(400))
	if o := r.Offers[0]; o.TopUp.Amount != 0 || o.Given.Amount != 750 {
		t.Errorf("after the top-up: %+v", o)
	}
	if err := CheckGrant(c, &r, Claim{Group: "credit10", At: at(400)}, nil); incident.ErrorCode(err) != incident.EINVALID {
		t.Errorf("a second top-up: %v, want already_granted", err)
	}
	// A version that gives less than was granted owes nothing and takes
	// nothing back.
	low, _ := Compile(amendedPolicy(500))
	r = low.Evaluate(&ors, &aff, granted[:1], at(400))
	if o := r.Offers[0]; o.TopUp.Amount != 0 || !o.Granted {
		t.Errorf("under 5 %%: %+v", o)
	}
	// A choice: the option taken is topped up, not the other one.
	hi := amendedPolicy(1500)
	hi.Offers[1].Amount = &Money{700, "EUR"}
	hi.Cap = &Money{2000, "EUR"}
	ch, _ := Compile(hi)
	r = ch.Evaluate(&ors, &aff, []Grant{{CustomerID: "ors", Group: "sorry", OfferID: "day", Kind: FreePeriod, Days: 1}}, at(400))
	for _, o := range r.Offers {
		if o.TopUp.Amount != 0 {
			t.Errorf("a day taken is topped up with %s on %s", o.TopUp, o.OfferID)
		}
	}
	r = ch.Evaluate(&ors, &aff, []Grant{{CustomerID: "ors", Group: "sorry", OfferID: "refund", Kind: Refund, Amount: Money{500, "EUR"}}}, at(400))
	if err := CheckGrant(ch, &r, Claim{Group: "sorry", Chose: "day", At: at(400)}, nil); incident.ErrorCode(err) != incident.EINVALID {
		t.Errorf("the other option of a choice taken: %v, want already_granted", err)
	}
	if err := CheckGrant(ch, &r, Claim{Group: "sorry", Chose: "refund", At: at(400)}, nil); err != nil {
		t.Errorf("the refund's top-up: %v", err)
	}
}
