package compensation

import (
	"slices"
	"testing"

	"github.com/heraldhq/herald/incident"
)

func eur(cents int64) *Money { return &Money{Amount: cents, Currency: "EUR"} }

// examplePolicy is the example: gold and silver affected ≥ 60 min
// get 10 % of the monthly fee; everyone affected ≥ 4 h gets 1 free day; gold
// customers choose between a 5 EUR refund and a free week.
func examplePolicy() *Policy {
	return &Policy{
		Currency: "EUR",
		PlanFees: map[string]Money{"gold": {4999, "EUR"}, "silver": {1999, "EUR"}, "bronze": {999, "EUR"}},
		Offers: []Offer{
			{ID: "credit10", Kind: Credit, Percent: 1000},
			{ID: "day", Kind: FreePeriod, Days: 1},
			{ID: "refund5", Kind: Refund, Amount: eur(500)},
			{ID: "week", Kind: FreePeriod, Days: 7},
		},
		Choices: []Choice{{ID: "gold-choice", Offers: []string{"refund5", "week"}}},
		Rules: []Rule{
			{ID: "hour", Plans: []string{"gold", "silver"}, MinAffectedMinutes: 60, Give: []string{"credit10"}},
			{ID: "long", MinAffectedMinutes: 240, Give: []string{"day"}},
			{ID: "gold", Plans: []string{"gold"}, Components: []string{"api"}, Give: []string{"gold-choice"}},
		},
		Cap:           eur(1000),
		ClaimDeadline: ptr(at(60 * 24 * 30)),
		Exclude:       []Exclusion{ExcludeAlreadyGranted, ExcludeNotAffected},
	}
}

func exampleScope() Scope {
	return Scope{
		Incident:   &incident.Incident{ID: "i", PageID: "p", StartedAt: at(0), ComponentIDs: []string{"api", "web"}},
		Components: []string{"api", "web", "billing"},
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(p *Policy, s *Scope)
		field  string // "" : valid
	}{
		{"the example is valid", func(p *Policy, s *Scope) {}, ""},
		{"unknown currency", func(p *Policy, s *Scope) { p.Currency = "EURO" }, "currency"},
		{"withdrawn currency", func(p *Policy, s *Scope) { p.Currency = "HRK" }, "currency"},
		{"no currency", func(p *Policy, s *Scope) { p.Currency = "" }, "currency"},
		{"negative fee", func(p *Policy, s *Scope) { p.PlanFees["gold"] = Money{-1, "EUR"} }, "plan_fees.gold.amount"},
		{"fee in another currency", func(p *Policy, s *Scope) { p.PlanFees["silver"] = Money{100, "HUF"} }, "plan_fees.silver.currency"},
		{"fee for a plan no customer has", func(p *Policy, s *Scope) { s.Plans = []string{"gold", "silver"} }, "plan_fees.bronze"},
		{"no offers for decided", func(p *Policy, s *Scope) { p.Offers, p.Choices, p.Rules = nil, nil, nil }, "offers"},
		{"offer without id", func(p *Policy, s *Scope) { p.Offers[0].ID = "" }, "offers[0].id"},
		{"offer id with spaces", func(p *Policy, s *Scope) { p.Offers[0].ID = "ten percent" }, "offers[0].id"},
		{"duplicate offer id", func(p *Policy, s *Scope) { p.Offers[1].ID = "credit10" }, "offers[1].id"},
		{"unknown kind", func(p *Policy, s *Scope) { p.Offers[1].Kind = "gift" }, "offers[1].kind"},
		{"percent over 100", func(p *Policy, s *Scope) { p.Offers[0].Percent = 10001 }, "offers[0].percent_bp"},
		{"negative percent", func(p *Policy, s *Scope) { p.Offers[0].Percent = -5 }, "offers[0].percent_bp"},
		{"negative amount", func(p *Policy, s *Scope) { p.Offers[2].Amount = eur(-500) }, "offers[2].amount.amount"},
		{"zero amount", func(p *Policy, s *Scope) { p.Offers[2].Amount = eur(0) }, "offers[2].amount.amount"},
		{"amount in another currency", func(p *Policy, s *Scope) { p.Offers[2].Amount = &Money{500, "USD"} }, "offers[2].amount.currency"},
		{"both amount and percent", func(p *Policy, s *Scope) { p.Offers[2].Percent = 100 }, "offers[2].amount"},
		{"neither amount nor percent", func(p *Policy, s *Scope) { p.Offers[2].Amount = nil }, "offers[2].amount"},
		{"percent without plan fees", func(p *Policy, s *Scope) { p.PlanFees = nil }, "plan_fees"},
		{"amount on a free period", func(p *Policy, s *Scope) { p.Offers[1].Amount = eur(100) }, "offers[1].amount"},
		{"free period of 0 days", func(p *Policy, s *Scope) { p.Offers[1].Days = 0 }, "offers[1].days"},
		{"days on a credit", func(p *Policy, s *Scope) { p.Offers[0].Days = 3 }, "offers[0].days"},
		{"voucher with neither list nor pattern", func(p *Policy, s *Scope) { p.Offers[1] = Offer{ID: "v", Kind: Voucher} }, "offers[1].voucher_list"},
		{"voucher pattern too guessable", func(p *Policy, s *Scope) {
			p.Offers[1] = Offer{ID: "day", Kind: Voucher, VoucherPattern: "SORRY-##"}
		}, "offers[1].voucher_pattern"},
		{"voucher from a list", func(p *Policy, s *Scope) { p.Offers[1] = Offer{ID: "day", Kind: Voucher, VoucherList: "list-1"} }, ""},
		{"other needs text", func(p *Policy, s *Scope) { p.Offers[1] = Offer{ID: "day", Kind: Other} }, "offers[1].text"},
		{"choice of one", func(p *Policy, s *Scope) { p.Choices[0].Offers = []string{"week"} }, "choices[0].offers"},
		{"choice of an unknown offer", func(p *Policy, s *Scope) { p.Choices[0].Offers[1] = "month" }, "choices[0].offers[1]"},
		{"choice id taken by an offer", func(p *Policy, s *Scope) { p.Choices[0].ID = "week" }, "choices[0].id"},
		{"no rules", func(p *Policy, s *Scope) { p.Rules = nil }, "rules"},
		{"duplicate rule id", func(p *Policy, s *Scope) { p.Rules[2].ID = "hour" }, "rules[2].id"},
		{"rule gives nothing", func(p *Policy, s *Scope) { p.Rules[1].Give = nil }, "rules[1].give"},
		{"rule gives an unknown offer", func(p *Policy, s *Scope) { p.Rules[1].Give = []string{"month"} }, "rules[1].give[0]"},
		{"unknown component", func(p *Policy, s *Scope) { p.Rules[2].Components = []string{"apii"} }, "rules[2].components"},
		{"component outside the incident", func(p *Policy, s *Scope) { p.Rules[2].Components = []string{"billing"} }, "rules[2].components"},
		{"unknown plan", func(p *Policy, s *Scope) {
			s.Plans = []string{"gold", "silver", "bronze"}
			p.Rules[0].Plans = []string{"platinum"}
		}, "rules[0].plans"},
		{"percent for a plan without a fee", func(p *Policy, s *Scope) { delete(p.PlanFees, "silver") }, "rules[0].plans"},
		{"unknown region", func(p *Policy, s *Scope) { s.Regions = []string{"eu"}; p.Rules[1].Regions = []string{"us"} }, "rules[1].regions"},
		{"known region", func(p *Policy, s *Scope) { s.Regions = []string{"eu"}; p.Rules[1].Regions = []string{"eu"} }, ""},
		{"unknown attribute", func(p *Policy, s *Scope) {
			s.AttributeKeys = []string{"tier"}
			p.Rules[1].Attributes = map[string][]string{"segment": {"smb"}}
		}, "rules[1].attributes.segment"},
		{"attribute without values", func(p *Policy, s *Scope) { p.Rules[1].Attributes = map[string][]string{"segment": nil} }, "rules[1].attributes.segment"},
		{"negative minutes", func(p *Policy, s *Scope) { p.Rules[1].MinAffectedMinutes = -1 }, "rules[1].min_affected_minutes"},
		{"cap in another currency", func(p *Policy, s *Scope) { p.Cap = &Money{1000, "GBP"} }, "cap.currency"},
		{"negative cap", func(p *Policy, s *Scope) { p.Cap = eur(-1) }, "cap.amount"},
		{"deadline before the incident", func(p *Policy, s *Scope) { p.ClaimDeadline = ptr(at(-1)) }, "claim_deadline"},
		{"deadline at the start", func(p *Policy, s *Scope) { p.ClaimDeadline = ptr(at(0)) }, "claim_deadline"},
		{"unknown exclusion", func(p *Policy, s *Scope) { p.Exclude = []Exclusion{"vip"} }, "exclude[0]"},
		{"exclusion twice", func(p *Policy, s *Scope) { p.Exclude = []Exclusion{ExcludeNotAffected, ExcludeNotAffected} }, "exclude[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, s := examplePolicy(), exampleScope()
			tt.change(p, &s)
			assertField(t, p.Validate(s), tt.field)
		})
	}
	var nilPolicy *Policy
	assertField(t, nilPolicy.Validate(exampleScope()), "policy")
}

func TestDescribe(t *testing.T) {
	offers := []struct {
		o    Offer
		want string
	}{
		{Offer{Kind: Credit, Percent: 1000}, "credit of 10 % of the monthly fee"},
		{Offer{Kind: Refund, Amount: eur(500)}, "refund of 5.00 EUR"},
		{Offer{Kind: FreePeriod, Days: 1}, "1 free day"},
		{Offer{Kind: FreePeriod, Days: 7}, "7 free days"},
		{Offer{Kind: Voucher, VoucherList: "spring"}, "a voucher code from list spring"},
		{Offer{Kind: Other, Text: "a month of premium support"}, "other: a month of premium support"},
	}
	for _, tt := range offers {
		if got := tt.o.Describe(); got != tt.want {
			t.Errorf("Describe() = %q, want %q", got, tt.want)
		}
	}
	r := Rule{Plans: []string{"gold", "silver"}, Attributes: map[string][]string{"tier": {"a"}}, MinAffectedMinutes: 60, Give: []string{"credit10"}}
	if got, want := r.Describe(), "if plan gold or silver, tier a, affected ≥ 60 min: credit10"; got != want {
		t.Errorf("Rule.Describe() = %q, want %q", got, want)
	}
	if got, want := (Rule{Give: []string{"day"}}).Describe(), "everyone: day"; got != want {
		t.Errorf("Rule.Describe() = %q, want %q", got, want)
	}
}

// TestComponentsByID: a policy may name components as people do; names
// (any case) become IDs, IDs and unknown or ambiguous names stay for
// validation, and the given policy is not changed.
func TestComponentsByID(t *testing.T) {
	names := map[string]string{"payments": "c1", "checkout": "c2", "search": ""} // two components are called Search
	p := &Policy{Rules: []Rule{{ID: "a", Components: []string{"Payments", "c2"}}, {ID: "b", Components: []string{"SEARCH", "Nope"}}, {ID: "c"}}}
	got := componentsByID(p, names)
	if want := []string{"c1", "c2"}; !slices.Equal(got.Rules[0].Components, want) {
		t.Errorf("rule a: %v, want %v", got.Rules[0].Components, want)
	}
	if want := []string{"SEARCH", "Nope"}; !slices.Equal(got.Rules[1].Components, want) {
		t.Errorf("rule b: %v, want %v (left for validation)", got.Rules[1].Components, want)
	}
	if p.Rules[0].Components[0] != "Payments" {
		t.Errorf("the given policy was changed: %v", p.Rules[0].Components)
	}
	if same := componentsByID(&Policy{Rules: []Rule{{Components: []string{"c1"}}}}, names); same.Rules[0].Components[0] != "c1" {
		t.Errorf("an ID was changed: %v", same.Rules[0].Components)
	}
	if componentsByID(nil, names) != nil {
		t.Error("no policy became one")
	}
}
