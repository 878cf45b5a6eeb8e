package compensation

import (
	"fmt"
	"testing"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/incident"
)

// benchPage is a page of the size the bench tool loads: 20 components, an
// incident on 6 of them with flapping history, and a policy with segment,
// attribute, component and minute rules, a choice and a cap. customers
// cycles through a pool of distinct customers (a million distinct ones
// would only measure the memory to hold them; evaluation costs the same).
func benchPage(b *testing.B) (*Compiled, *Timeline, []audience.Customer) {
	b.Helper()
	comps := make([]string, 20)
	for i := range comps {
		comps[i] = fmt.Sprintf("comp%02d", i)
	}
	inc := &incident.Incident{ID: "i", PageID: "p", StartedAt: at(0), ResolvedAt: ptr(at(360)), ComponentIDs: comps[:6]}
	var history []incident.StatusChange
	for i, c := range comps {
		history = append(history, change(c, -500, up))
		for k := 0; k < 4; k++ { // flaps four times
			history = append(history, change(c, 20*i+60*k, major), change(c, 20*i+60*k+35, up))
		}
	}
	p := &Policy{
		Currency: "EUR",
		PlanFees: map[string]Money{"gold": {4999, "EUR"}, "silver": {1999, "EUR"}, "bronze": {999, "EUR"}},
		Offers: []Offer{
			{ID: "credit10", Kind: Credit, Percent: 1000},
			{ID: "day", Kind: FreePeriod, Days: 1},
			{ID: "refund", Kind: Refund, Percent: 2500},
			{ID: "week", Kind: FreePeriod, Days: 7},
		},
		Choices: []Choice{{ID: "choice", Offers: []string{"refund", "week"}}},
		Rules: []Rule{
			{ID: "hour", Plans: []string{"gold", "silver"}, MinAffectedMinutes: 60, Give: []string{"credit10"}},
			{ID: "long", MinAffectedMinutes: 120, Give: []string{"day"}},
			{ID: "ent", Regions: []string{"eu", "uk"}, Attributes: map[string][]string{"tier": {"enterprise"}}, Give: []string{"choice"}},
			{ID: "core", Components: []string{"comp00", "comp01"}, MinAffectedMinutes: 45, Give: []string{"day"}},
		},
		Cap:     eur(1500),
		Exclude: []Exclusion{ExcludeAlreadyGranted, ExcludeNotAffected},
	}
	c, err := Compile(p)
	if err != nil {
		b.Fatal(err)
	}
	plans, regions, tiers := []string{"gold", "silver", "bronze", "trial"}, []string{"eu", "uk", "us"}, []string{"enterprise", "smb", "self"}
	attrs := make([]map[string]string, len(tiers))
	for i, t := range tiers {
		attrs[i] = map[string]string{"tier": t, "source": "crm"}
	}
	pool := make([]audience.Customer, 10007) // prime: the cycle does not line up with the segment cycles
	for i := range pool {
		pool[i] = audience.Customer{
			ID: fmt.Sprintf("cust%07d", i), PageID: "p",
			Plan: plans[i%len(plans)], Region: regions[i%len(regions)], Attributes: attrs[i%len(attrs)],
			Components: []string{comps[i%len(comps)], comps[(i*7+3)%len(comps)], comps[(i*13+5)%len(comps)]},
		}
	}
	return c, NewTimeline(inc, history, at(1000)), pool
}

// BenchmarkEvaluate is one customer's answer: affected time and the policy,
// reusing one AffectedTime and one Result (the per-customer API call
// allocates its own; see BenchmarkEvaluateFresh).
func BenchmarkEvaluate(b *testing.B) {
	c, tl, pool := benchPage(b)
	var a AffectedTime
	var r Result
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		cust := &pool[i%len(pool)]
		tl.ForInto(&a, cust.Components)
		c.EvaluateInto(&r, cust, &a, nil, at(400))
	}
}

// BenchmarkEvaluateFresh is the one-shot form the per-customer API uses.
func BenchmarkEvaluateFresh(b *testing.B) {
	c, tl, pool := benchPage(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		cust := &pool[i%len(pool)]
		a := tl.For(cust.Components)
		r := c.Evaluate(cust, &a, nil, at(400))
		if len(r.Rules) != 4 {
			b.Fatal(len(r.Rules))
		}
	}
}

// BenchmarkEvaluateMillion is one op per 1 000 000 customers: the
// announcement broadcast's and the totals' pass over a page, without the
// store (the ≤ 10 s budget on SQLite leaves the rest for reading).
func BenchmarkEvaluateMillion(b *testing.B) {
	c, tl, pool := benchPage(b)
	var a AffectedTime
	var r Result
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		eligible := 0
		for i := range 1_000_000 {
			cust := &pool[i%len(pool)]
			tl.ForInto(&a, cust.Components)
			c.EvaluateInto(&r, cust, &a, nil, at(400))
			if r.Eligible {
				eligible++
			}
		}
		if eligible == 0 || eligible == 1_000_000 {
			b.Fatalf("%d eligible: the bench page does not exercise the rules", eligible)
		}
	}
}

// BenchmarkTimeline is the once-per-incident step.
func BenchmarkTimeline(b *testing.B) {
	inc := &incident.Incident{ID: "i", PageID: "p", StartedAt: at(0), ResolvedAt: ptr(at(360))}
	var history []incident.StatusChange
	for i := range 200 {
		c := fmt.Sprintf("comp%03d", i)
		history = append(history, change(c, -500, up), change(c, i, major), change(c, i+30, up))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		NewTimeline(inc, history, at(1000))
	}
}
