package compensation

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/incident"
)

// The example incident: api down 0–90 min, web 60–300 min, billing up.
var (
	exampleIncident = &incident.Incident{ID: "i", PageID: "p", StartedAt: at(0), ResolvedAt: ptr(at(300)), ComponentIDs: []string{"api", "web"}}
	exampleHistory  = []incident.StatusChange{
		change("api", 0, major), change("api", 90, up),
		change("web", 60, part), change("web", 300, up),
		change("billing", -1000, up),
	}
)

// offersText renders a result's offers as "group/offer amount" lines, for
// comparing in one string.
func offersText(r *Result) string {
	var b []string
	for _, o := range r.Offers {
		s := o.Group
		if o.Choice {
			s += "/" + o.OfferID
		}
		switch {
		case o.Unavailable != "":
			s += " " + string(o.Unavailable)
		case o.Kind.Money():
			s += " " + o.Amount.String()
			if o.Capped {
				s += " (capped from " + o.Full.String() + ")"
			}
		case o.Days > 0:
			s += fmt.Sprintf(" %dd", o.Days)
		}
		if o.Granted {
			s += " granted"
		}
		if o.Declined {
			s += " declined"
		}
		b = append(b, s)
	}
	return strings.Join(b, "; ")
}

func matched(r *Result) string {
	var ids []string
	for _, m := range r.Rules {
		if m.Matched {
			ids = append(ids, m.RuleID)
		} else {
			ids = append(ids, "!"+m.RuleID+":"+string(m.Failed))
		}
	}
	return strings.Join(ids, " ")
}

func TestEvaluate(t *testing.T) {
	huf := func() *Policy {
		return &Policy{
			Currency: "HUF",
			PlanFees: map[string]Money{"alap": {499000, "HUF"}, "pro": {1299900, "HUF"}},
			Offers:   []Offer{{ID: "jovairas", Kind: Credit, Percent: 1500}, {ID: "fix", Kind: Refund, Amount: &Money{150000, "HUF"}}},
			Rules:    []Rule{{ID: "mindenki", Give: []string{"jovairas", "fix"}}},
		}
	}
	jpy := func() *Policy {
		return &Policy{
			Currency: "JPY",
			PlanFees: map[string]Money{"basic": {1235, "JPY"}, "plus": {1234, "JPY"}},
			Offers:   []Offer{{ID: "credit", Kind: Credit, Percent: 1000}},
			Rules:    []Rule{{ID: "all", Give: []string{"credit"}}},
		}
	}
	segments := func() *Policy {
		return &Policy{
			Currency: "EUR",
			Offers:   []Offer{{ID: "eu", Kind: FreePeriod, Days: 2}, {ID: "ent", Kind: Other, Text: "a call from the CTO"}, {ID: "apilong", Kind: FreePeriod, Days: 3}},
			Rules: []Rule{
				{ID: "region", Regions: []string{"eu", "uk"}, Give: []string{"eu"}},
				{ID: "tier", Attributes: map[string][]string{"tier": {"enterprise"}, "contract": {"annual", "multi"}}, Give: []string{"ent"}},
				{ID: "api", Components: []string{"api"}, MinAffectedMinutes: 60, Give: []string{"apilong"}},
			},
		}
	}
	tests := []struct {
		name     string
		policy   func() *Policy
		cust     audience.Customer
		grants   []Grant
		now      time.Time
		affected bool
		rules    string
		offers   string
		excluded Exclusion
	}{
		{
			name: "gold on api: 10 % of the fee and the gold choice, under the cap",
			cust: audience.Customer{ID: "c1", Plan: "gold", Components: []string{"api"}}, affected: true,
			rules:  "hour !long:minutes gold",
			offers: "credit10 5.00 EUR; gold-choice/refund5 5.00 EUR; gold-choice/week 7d",
		},
		{
			name: "silver on web: 4 h affected gets the day too",
			cust: audience.Customer{ID: "c2", Plan: "silver", Components: []string{"web"}}, affected: true,
			rules:  "hour long !gold:plan",
			offers: "credit10 2.00 EUR; day 1d", // 10 % of 19.99 = 1.999 → 2.00
		},
		{
			name: "bronze on both: union 300 min, plan excluded from the credit",
			cust: audience.Customer{ID: "c3", Plan: "bronze", Components: []string{"api", "web"}}, affected: true,
			rules:  "!hour:plan long !gold:plan",
			offers: "day 1d",
		},
		{
			name: "no components: uses everything",
			cust: audience.Customer{ID: "c4", Plan: "gold"}, affected: true,
			rules:  "hour long gold",
			offers: "credit10 5.00 EUR; day 1d; gold-choice/refund5 5.00 EUR; gold-choice/week 7d",
		},
		{
			name: "not affected and excluded",
			cust: audience.Customer{ID: "c5", Plan: "gold", Components: []string{"billing"}}, affected: false,
			rules: "!hour:minutes !long:minutes !gold:component", offers: "", excluded: ExcludeNotAffected,
		},
		{
			name: "the cap trims in policy order after what was granted",
			cust: audience.Customer{ID: "c6", Plan: "gold", Components: []string{"api"}}, affected: true,
			grants: []Grant{{CustomerID: "c6", Group: "credit10", OfferID: "credit10", Amount: Money{600, "EUR"}}},
			rules:  "hour !long:minutes gold",
			offers: "credit10 5.00 EUR granted; gold-choice/refund5 4.00 EUR (capped from 5.00 EUR); gold-choice/week 7d",
		},
		{
			name: "a choice takes its largest money option from the cap",
			policy: func() *Policy {
				p := examplePolicy()
				p.Cap = eur(800)
				p.Rules[2].Give = []string{"gold-choice", "refund5"} // the refund alone too, after the choice
				return p
			},
			cust: audience.Customer{ID: "c7", Plan: "gold", Components: []string{"api"}}, affected: true,
			rules:  "hour !long:minutes gold",
			offers: "credit10 5.00 EUR; refund5 3.00 EUR (capped from 5.00 EUR); gold-choice/refund5 0.00 EUR (capped from 5.00 EUR); gold-choice/week 7d",
		},
		{
			name: "another customer's grants do not count",
			cust: audience.Customer{ID: "c8", Plan: "gold", Components: []string{"api"}}, affected: true,
			grants: []Grant{{CustomerID: "someone", Group: "credit10", Amount: Money{1000, "EUR"}}},
			rules:  "hour !long:minutes gold",
			offers: "credit10 5.00 EUR; gold-choice/refund5 5.00 EUR; gold-choice/week 7d",
		},
		{
			name: "compensation outside the policy excludes",
			cust: audience.Customer{ID: "c9", Plan: "gold", Components: []string{"api"}}, affected: true,
			grants:   []Grant{{CustomerID: "c9", Group: "goodwill", Kind: Other}},
			rules:    "hour !long:minutes gold",
			offers:   "credit10 5.00 EUR; gold-choice/refund5 5.00 EUR; gold-choice/week 7d",
			excluded: ExcludeAlreadyGranted,
		},
		{
			name: "a declined choice is shown as declined, not granted",
			cust: audience.Customer{ID: "c10", Plan: "gold", Components: []string{"api"}}, affected: true,
			grants: []Grant{{CustomerID: "c10", Group: "gold-choice", Declined: true}},
			rules:  "hour !long:minutes gold",
			offers: "credit10 5.00 EUR; gold-choice/refund5 5.00 EUR declined; gold-choice/week 7d declined",
		},
		{
			name: "declined, then granted: the grant supersedes the decline",
			cust: audience.Customer{ID: "c10", Plan: "gold", Components: []string{"api"}}, affected: true,
			grants: []Grant{{CustomerID: "c10", Group: "gold-choice", Declined: true}, {CustomerID: "c10", Group: "gold-choice", OfferID: "week", Kind: FreePeriod, Days: 7}},
			rules:  "hour !long:minutes gold",
			offers: "credit10 5.00 EUR; gold-choice/refund5 5.00 EUR granted; gold-choice/week 7d granted",
		},
		{
			name: "past the deadline",
			cust: audience.Customer{ID: "c11", Plan: "silver", Components: []string{"web"}}, affected: true,
			now:      at(60*24*30 + 1),
			rules:    "hour long !gold:plan",
			offers:   "credit10 2.00 EUR; day 1d",
			excluded: PastDeadline,
		},
		{
			name:   "HUF follows ISO: 15 % of 4 990.00 Ft is 748.50 Ft",
			policy: huf,
			cust:   audience.Customer{ID: "h1", Plan: "alap", Components: []string{"api"}}, affected: true,
			rules:  "mindenki",
			offers: "jovairas 748.50 HUF; fix 1 500.00 HUF",
		},
		{
			name:   "HUF: 15 % of 12 999.00 Ft is 1 949.85 Ft",
			policy: huf,
			cust:   audience.Customer{ID: "h2", Plan: "pro"}, affected: true,
			rules:  "mindenki",
			offers: "jovairas 1 949.85 HUF; fix 1 500.00 HUF",
		},
		{
			name:   "HUF: a plan without a fee cannot be priced",
			policy: huf,
			cust:   audience.Customer{ID: "h3", Plan: "vip"}, affected: true,
			rules:  "mindenki",
			offers: "jovairas no_fee; fix 1 500.00 HUF",
		},
		{
			name:   "JPY has no minor unit: 10 % of 1 235 yen rounds half up to 124",
			policy: jpy,
			cust:   audience.Customer{ID: "j1", Plan: "basic"}, affected: true,
			rules:  "all",
			offers: "credit 124 JPY",
		},
		{
			name:   "JPY: 10 % of 1 234 yen rounds down to 123",
			policy: jpy,
			cust:   audience.Customer{ID: "j2", Plan: "plus"}, affected: true,
			rules:  "all",
			offers: "credit 123 JPY",
		},
		{
			name:   "segments: region and attributes",
			policy: segments,
			cust: audience.Customer{ID: "s1", Region: "uk", Components: []string{"web"},
				Attributes: map[string]string{"tier": "enterprise", "contract": "multi"}}, affected: true,
			rules:  "region tier !api:component",
			offers: "eu 2d; ent",
		},
		{
			name:   "segments: one attribute off fails the rule",
			policy: segments,
			cust: audience.Customer{ID: "s2", Region: "us", Components: []string{"api"},
				Attributes: map[string]string{"tier": "enterprise", "contract": "monthly"}}, affected: true,
			rules:  "!region:region !tier:attribute api",
			offers: "apilong 3d",
		},
		{
			name: "minutes on the rule's components only: api 90 min although the union is 300",
			policy: func() *Policy {
				p := segments()
				p.Rules[2].MinAffectedMinutes = 100
				return p
			},
			cust: audience.Customer{ID: "s3", Components: []string{"api", "web"}}, affected: true,
			rules: "!region:region !tier:attribute !api:minutes",
		},
	}
	tl := NewTimeline(exampleIncident, exampleHistory, at(10000))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mk := tt.policy
			if mk == nil {
				mk = examplePolicy
			}
			c, err := Compile(mk())
			if err != nil {
				t.Fatal(err)
			}
			now := tt.now
			if now.IsZero() {
				now = at(400)
			}
			a := tl.For(tt.cust.Components)
			r := c.Evaluate(&tt.cust, &a, tt.grants, now)
			if r.IsAffected != tt.affected || r.CustomerID != tt.cust.ID {
				t.Errorf("affected = %v (%v), want %v", r.IsAffected, r.Affected.Total, tt.affected)
			}
			if got := matched(&r); got != tt.rules {
				t.Errorf("rules = %q, want %q", got, tt.rules)
			}
			if got := offersText(&r); got != tt.offers {
				t.Errorf("offers = %q\n  want %q", got, tt.offers)
			}
			if r.Excluded != tt.excluded {
				t.Errorf("excluded = %q, want %q", r.Excluded, tt.excluded)
			}
			if want := tt.excluded == "" && tt.offers != ""; r.Eligible != want {
				t.Errorf("eligible = %v, want %v", r.Eligible, want)
			}
			for _, m := range r.Rules {
				if m.Reason() == "" {
					t.Errorf("rule %s has no reason", m.RuleID)
				}
			}
		})
	}
}

func TestRuleReasons(t *testing.T) {
	c, err := Compile(examplePolicy())
	if err != nil {
		t.Fatal(err)
	}
	tl := NewTimeline(exampleIncident, exampleHistory, at(10000))
	cust := audience.Customer{ID: "c", Plan: "bronze", Components: []string{"api"}}
	a := tl.For(cust.Components)
	r := c.Evaluate(&cust, &a, nil, at(400))
	want := []string{
		"no: plan is bronze, the rule is for gold or silver",
		"no: affected 90 min, the rule needs ≥ 240 min",
		"no: plan is bronze, the rule is for gold",
	}
	for i, m := range r.Rules {
		if got := m.Reason(); got != want[i] {
			t.Errorf("rule %s: %q, want %q", m.RuleID, got, want[i])
		}
	}
	cust.Plan = "gold"
	r = c.Evaluate(&cust, &a, nil, at(400))
	if got, want := r.Rules[0].Reason(), "matches: plan gold or silver, affected 90 min ≥ 60 min"; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
	if got, want := r.Rules[2].Reason(), "matches: plan gold, affected on api"; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
	cust.Components = []string{"billing"}
	a = tl.For(cust.Components)
	r = c.Evaluate(&cust, &a, nil, at(400))
	if got, want := r.Rules[2].Reason(), "no: not affected on api"; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
}

func TestEvaluateIntoReuses(t *testing.T) {
	c, err := Compile(examplePolicy())
	if err != nil {
		t.Fatal(err)
	}
	tl := NewTimeline(exampleIncident, exampleHistory, at(10000))
	gold := audience.Customer{ID: "g", Plan: "gold"}
	bronze := audience.Customer{ID: "b", Plan: "bronze", Components: []string{"billing"}}
	var a AffectedTime
	var r Result
	tl.ForInto(&a, gold.Components)
	c.EvaluateInto(&r, &gold, &a, []Grant{{CustomerID: "g", Group: "credit10", Amount: Money{500, "EUR"}}}, at(400))
	tl.ForInto(&a, bronze.Components)
	c.EvaluateInto(&r, &bronze, &a, nil, at(400))
	if r.CustomerID != "b" || len(r.Offers) != 0 || r.GrantedMoney.Amount != 0 || r.IsAffected || r.Remaining.Amount != 1000 {
		t.Errorf("the reused result kept the previous customer: %+v", r)
	}
	allocs := testing.AllocsPerRun(100, func() {
		tl.ForInto(&a, gold.Components)
		c.EvaluateInto(&r, &gold, &a, nil, at(400))
	})
	if allocs != 0 {
		t.Errorf("EvaluateInto allocates %.0f times per customer, want 0", allocs)
	}
}

func TestCompileRefusesAnInvalidPolicy(t *testing.T) {
	p := examplePolicy()
	p.Offers[0].Percent = 20000
	if _, err := Compile(p); code(err) != incident.EINVALID {
		t.Fatalf("Compile = %v, want invalid", err)
	}
}

func TestAmount(t *testing.T) {
	c, err := Compile(examplePolicy())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		offer, plan string
		want        int64
		ok          bool
	}{
		{"credit10", "gold", 500, true},
		{"credit10", "bronze", 100, true}, // 99.9 → 100
		{"credit10", "none", 0, false},
		{"refund5", "none", 500, true},
		{"day", "gold", 0, false},
		{"nope", "gold", 0, false},
	}
	for _, tt := range tests {
		got, ok := c.Amount(tt.offer, tt.plan)
		if got.Amount != tt.want || ok != tt.ok {
			t.Errorf("Amount(%s, %s) = %v, %v; want %d, %v", tt.offer, tt.plan, got, ok, tt.want, tt.ok)
		}
	}
}

// TestAffectedWords: seconds of impact read "under 1 min" in a rule's
// reason, as on the agent's screen, not "0 min".
func TestAffectedWords(t *testing.T) {
	for d, want := range map[time.Duration]string{40 * time.Second: "under 1 min", time.Minute: "1 min", 90*time.Minute + 59*time.Second: "90 min"} {
		if got := affectedWords(d); got != want {
			t.Errorf("affectedWords(%s) = %q, want %q", d, got, want)
		}
	}
}
