package compensation

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/audience"
)

// Compiled is a policy prepared for evaluation: offer and choice
// references resolved to indexes, fees and conditions in flat tables.
// Compile it once per policy version and share it: it is read-only, safe
// for concurrent use.
type Compiled struct {
	Policy   *Policy
	fees     map[string]int64 // plan → monthly fee, minor units in Policy.Currency
	groups   []group          // Policy.Offers, then Policy.Choices
	rules    []compiledRule
	cap      int64 // < 0: none
	deadline time.Time
	exclude  struct{ granted, unaffected bool }
}

// A customer's groups are a uint64 bitset: the policy limits must keep
// offers and choices together within 64 (this fails to compile otherwise).
const _ = uint(64 - MaxOffers - MaxChoices)

// group is what a rule gives and a grant names: one offer, or a choice of
// several.
type group struct {
	id     string
	choice bool
	offers []int // indexes into Policy.Offers
}

type compiledRule struct {
	rule  *Rule
	gives uint64 // bit i: groups[i]
	attrs []attrCond
	min   time.Duration
}

type attrCond struct {
	key    string
	values []string
}

// Compile prepares p for Evaluate. p must pass Validate; Compile checks
// again what evaluation relies on (without a Scope) and returns that
// error otherwise.
func Compile(p *Policy) (*Compiled, error) {
	if err := p.Validate(Scope{}); err != nil {
		return nil, err
	}
	c := &Compiled{Policy: p, fees: make(map[string]int64, len(p.PlanFees)), cap: -1}
	for plan, fee := range p.PlanFees {
		c.fees[plan] = fee.Amount
	}
	byID := map[string]int{}
	for i, o := range p.Offers {
		byID[o.ID] = len(c.groups)
		c.groups = append(c.groups, group{id: o.ID, offers: []int{i}})
	}
	for _, ch := range p.Choices {
		g := group{id: ch.ID, choice: true}
		for _, oid := range ch.Offers {
			g.offers = append(g.offers, byID[oid]) // offers come first, so the group index is the offer index
		}
		byID[ch.ID] = len(c.groups)
		c.groups = append(c.groups, g)
	}
	for i := range p.Rules {
		r := &p.Rules[i]
		cr := compiledRule{rule: r, min: time.Duration(r.MinAffectedMinutes) * time.Minute}
		for _, g := range r.Give {
			cr.gives |= 1 << byID[g]
		}
		for k, vs := range r.Attributes {
			cr.attrs = append(cr.attrs, attrCond{k, vs})
		}
		slices.SortFunc(cr.attrs, func(a, b attrCond) int { return strings.Compare(a.key, b.key) })
		c.rules = append(c.rules, cr)
	}
	if p.Cap != nil {
		c.cap = p.Cap.Amount
	}
	if p.ClaimDeadline != nil {
		c.deadline = *p.ClaimDeadline
	}
	c.exclude.granted = slices.Contains(p.Exclude, ExcludeAlreadyGranted)
	c.exclude.unaffected = slices.Contains(p.Exclude, ExcludeNotAffected)
	return c, nil
}

// Condition is one kind of rule condition.
type Condition string

// Conditions, in the order a rule checks them.
const (
	CondPlan      Condition = "plan"
	CondRegion    Condition = "region"
	CondAttribute Condition = "attribute"
	CondComponent Condition = "component"
	CondMinutes   Condition = "minutes"
)

// RuleMatch is whether one rule matched a customer, and why.
type RuleMatch struct {
	RuleID  string    `json:"rule_id"`
	Matched bool      `json:"matched"`
	Failed  Condition `json:"failed,omitempty"` // the first condition that did not hold
	Key     string    `json:"key,omitempty"`    // the attribute, when Failed is attribute
	Value   string    `json:"value,omitempty"`  // the customer's plan, region or attribute value that did not match
	// Affected is the time the rule measured (on its components, when it
	// names some), Need the time it asks for.
	Affected time.Duration `json:"affected"`
	Need     time.Duration `json:"need"`

	rule *Rule
}

// Reason says in words why the rule did or did not match: "matches: plan
// gold or silver, affected 95 min ≥ 60 min" or "no: plan is bronze, the
// rule is for gold or silver". It is built on demand, so Evaluate stays
// free of allocations.
func (m RuleMatch) Reason() string {
	r := m.rule
	if r == nil {
		return ""
	}
	if !m.Matched {
		switch m.Failed {
		case CondPlan:
			return fmt.Sprintf("no: plan is %s, the rule is for %s", orNone(m.Value), strings.Join(r.Plans, " or "))
		case CondRegion:
			return fmt.Sprintf("no: region is %s, the rule is for %s", orNone(m.Value), strings.Join(r.Regions, " or "))
		case CondAttribute:
			return fmt.Sprintf("no: %s is %s, the rule is for %s", m.Key, orNone(m.Value), strings.Join(r.Attributes[m.Key], " or "))
		case CondComponent:
			return "no: not affected on " + strings.Join(r.Components, " or ")
		case CondMinutes:
			return fmt.Sprintf("no: affected %s, the rule needs ≥ %d min", affectedWords(m.Affected), r.MinAffectedMinutes)
		}
		return "no"
	}
	var why []string
	if len(r.Plans) > 0 {
		why = append(why, "plan "+strings.Join(r.Plans, " or "))
	}
	if len(r.Regions) > 0 {
		why = append(why, "region "+strings.Join(r.Regions, " or "))
	}
	keys := make([]string, 0, len(r.Attributes))
	for k := range r.Attributes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		why = append(why, k+" "+strings.Join(r.Attributes[k], " or "))
	}
	if len(r.Components) > 0 {
		why = append(why, "affected on "+strings.Join(r.Components, " or "))
	}
	if r.MinAffectedMinutes > 0 {
		why = append(why, fmt.Sprintf("affected %s ≥ %d min", affectedWords(m.Affected), r.MinAffectedMinutes))
	}
	if len(why) == 0 {
		return "matches: the rule is for everyone"
	}
	return "matches: " + strings.Join(why, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "not set"
	}
	return s
}

// Unavailable says why an offer's amount cannot be computed.
type Unavailable string

// NoFee: the offer is a share of the monthly fee, and the customer's plan
// has none in the policy's plan_fees.
const NoFee Unavailable = "no_fee"

// Offered is one offer a customer is entitled to, with its amount computed.
type Offered struct {
	// Group is what a grant names (Claim.Group): the offer's ID, or the
	// choice's ID when Choice is set, in which case the customer takes
	// one of the group's offers or none.
	Group   string    `json:"group"`
	Choice  bool      `json:"choice"`
	Rule    string    `json:"rule"` // the first rule that gave it
	OfferID string    `json:"offer_id"`
	Kind    OfferKind `json:"kind"`
	// Amount is what a credit or a refund pays, after the cap; Full is
	// before it, and Capped says they differ.
	Amount      Money       `json:"amount"`
	Full        Money       `json:"full"`
	Capped      bool        `json:"capped"`
	Days        int         `json:"days,omitempty"`
	Unavailable Unavailable `json:"unavailable,omitempty"`
	Granted     bool        `json:"granted"`  // the group was already granted (Amount is what the offer computes; the Grant holds what was given)
	Declined    bool        `json:"declined"` // the customer declined the group before (they may still change their mind)
	// Given is what the grants of a granted money offer paid (under
	// whichever version they were made), and TopUp what the decision in
	// force still owes on top of it: an amended policy that raised the
	// offer (10 % → 15 %) owes the difference, within the cap, to a
	// customer granted the lower amount. Both are zero for an offer not
	// granted, and for the options of a choice the customer did not take.
	Given Money `json:"given,omitzero"`
	TopUp Money `json:"top_up,omitzero"`

	offer *Offer
}

// Offer returns the policy's offer, for its description and text.
func (o *Offered) Offer() *Offer { return o.offer }

// UsedUp reports whether the cap leaves nothing of a credit or refund: it
// is not offered (a customer told "a refund of 0.00 EUR" is mocked), and a
// grant of it is refused.
func (o *Offered) UsedUp() bool {
	return o.Kind.Money() && o.Unavailable == "" && o.Full.Amount > 0 && o.Amount.Amount == 0
}

// Result is one customer's answer: how long they were affected, which
// rules matched and why, what they are entitled to with amounts computed,
// and whether they are excluded.
type Result struct {
	CustomerID string       `json:"customer_id"`
	Affected   AffectedTime `json:"affected"`
	IsAffected bool         `json:"is_affected"`
	Rules      []RuleMatch  `json:"rules"`  // one per policy rule, in policy order
	Offers     []Offered    `json:"offers"` // by group in policy order: offers, then choices
	// Excluded is why the customer gets nothing despite matching rules
	// (not_affected, already_granted, past_deadline); "" when not excluded.
	Excluded Exclusion `json:"excluded,omitempty"`
	// Eligible: at least one offer, and not excluded.
	Eligible bool `json:"eligible"`
	// GrantedMoney is the money already granted for this incident, which
	// counts against the cap; Remaining is what the cap leaves (Amount -1:
	// no cap).
	GrantedMoney Money `json:"granted_money"`
	Remaining    Money `json:"remaining"`
	// GrantedOutside counts grants for this incident that are none of the
	// customer's current entitlements (made before the policy, or for an
	// offer since removed).
	GrantedOutside int `json:"granted_outside"`

	plan    string
	granted uint64 // groups granted
}

// Evaluate answers for one customer; see EvaluateInto.
func (c *Compiled) Evaluate(cust *audience.Customer, affected *AffectedTime, grants []Grant, now time.Time) Result {
	var r Result
	c.EvaluateInto(&r, cust, affected, grants, now)
	return r
}

// EvaluateInto evaluates the policy for one customer into r, reusing r's
// memory: a loop over a page's customers that reuses one Result allocates
// nothing. affected is the customer's (Timeline.ForInto); grants are what
// was already recorded for this customer and incident (grants of other
// customers are ignored); now decides the claim deadline.
//
// Rules are checked in order; each condition that is set must hold: plan,
// region, attributes, then affected on one of the rule's components, then
// the minimum affected time (the union over the rule's components when it
// names some, else over all the customer's). Each matching rule adds its
// offers and choices; an offer given by two rules is offered once. A share
// of the fee is the customer's plan's fee times the share, rounded half
// away from zero (Money.Percent). The cap then trims money offers in
// policy order, after what was already granted: a single offer takes what
// it needs; a choice takes as much as its largest money option, so the
// customer can never be promised more than the cap in total.
func (c *Compiled) EvaluateInto(r *Result, cust *audience.Customer, affected *AffectedTime, grants []Grant, now time.Time) {
	cur := c.Policy.Currency
	*r = Result{
		CustomerID: cust.ID, Affected: *affected, IsAffected: affected.Total > 0,
		Rules: r.Rules[:0], Offers: r.Offers[:0], plan: cust.Plan,
		GrantedMoney: Money{Currency: cur}, Remaining: Money{Amount: -1, Currency: cur},
	}

	var gives uint64
	firstRule := [64]int16{} // group → 1 + index of the first rule that gave it
	for i := range c.rules {
		cr := &c.rules[i]
		m := c.match(cr, cust, affected)
		r.Rules = append(r.Rules, m)
		if m.Matched {
			for g := range c.groups {
				if cr.gives&(1<<g) != 0 && firstRule[g] == 0 {
					firstRule[g] = int16(i + 1)
				}
			}
			gives |= cr.gives
		}
	}

	// What was granted or declined before, and per granted group what
	// its grants paid and which offer they gave (-1: grants that cannot
	// be topped up: another currency, or different offers).
	var declined uint64
	var given [64]int64
	var givenOffer [64]int32 // 1 + the grant's index in grants; -1: none can be topped up
	for i := range grants {
		g := &grants[i]
		if g.CustomerID != cust.ID {
			continue
		}
		gi := c.groupIndex(g.Group)
		if !g.Declined {
			if g.Amount.Currency == cur {
				r.GrantedMoney.Amount += g.Amount.Amount
			}
			if gi < 0 || gives&(1<<gi) == 0 {
				r.GrantedOutside++
			} else {
				r.granted |= 1 << gi
				switch prev := givenOffer[gi]; {
				case prev < 0:
				case g.Amount.Currency != cur && g.Amount.Amount != 0,
					prev > 0 && grants[prev-1].OfferID != g.OfferID:
					givenOffer[gi] = -1
				default:
					given[gi] += g.Amount.Amount
					givenOffer[gi] = int32(i + 1)
				}
			}
		} else if gi >= 0 {
			declined |= 1 << gi
		}
	}
	remaining := int64(-1)
	if c.cap >= 0 {
		remaining = max(c.cap-r.GrantedMoney.Amount, 0)
	}

	for gi := range c.groups {
		if gives&(1<<gi) == 0 {
			continue
		}
		g := &c.groups[gi]
		granted := r.granted&(1<<gi) != 0
		var most int64
		for _, oi := range g.offers {
			o := &c.Policy.Offers[oi]
			of := Offered{
				Group: g.id, Choice: g.choice, Rule: c.rules[firstRule[gi]-1].rule.ID,
				OfferID: o.ID, Kind: o.Kind, Days: o.Days, offer: o,
				// A grant after a decline (they changed their mind)
				// supersedes it.
				Granted: granted, Declined: declined&(1<<gi) != 0 && !granted,
				Amount: Money{Currency: cur}, Full: Money{Currency: cur},
			}
			if o.Kind.Money() {
				c.price(&of, o, cust.Plan)
				if remaining >= 0 && !granted && of.Unavailable == "" {
					of.Amount.Amount = min(of.Full.Amount, remaining)
					of.Capped = of.Amount.Amount < of.Full.Amount
					most = max(most, of.Amount.Amount)
				}
				if gr := givenOffer[gi]; granted && gr > 0 && grants[gr-1].OfferID == o.ID && of.Unavailable == "" {
					// Granted under an earlier, lower version: the
					// difference is owed, within what the cap leaves.
					of.Given.Amount = given[gi]
					if up := of.Full.Amount - given[gi]; up > 0 {
						if remaining >= 0 {
							up = min(up, remaining)
						}
						of.TopUp = Money{Amount: up, Currency: cur}
						most = max(most, up)
					}
					of.Given.Currency = cur
				}
			}
			r.Offers = append(r.Offers, of)
		}
		if remaining >= 0 {
			remaining -= most
		}
	}
	if c.cap >= 0 {
		r.Remaining.Amount = max(c.cap-r.GrantedMoney.Amount, 0)
	}

	switch {
	case !affected.Joined.IsZero():
		r.Excluded = JoinedAfter
	case c.exclude.unaffected && !r.IsAffected:
		r.Excluded = ExcludeNotAffected
	case c.exclude.granted && r.GrantedOutside > 0:
		r.Excluded = ExcludeAlreadyGranted
	case !c.deadline.IsZero() && now.After(c.deadline):
		r.Excluded = PastDeadline
	}
	r.Eligible = r.Excluded == "" && len(r.Offers) > 0
}

// price sets of.Full and of.Amount for a money offer to a customer on plan.
func (c *Compiled) price(of *Offered, o *Offer, plan string) {
	switch {
	case o.Amount != nil:
		of.Full.Amount = o.Amount.Amount
	default:
		fee, ok := c.fees[plan]
		if !ok {
			of.Unavailable = NoFee
			return
		}
		of.Full = Money{Amount: fee, Currency: c.Policy.Currency}.Percent(o.Percent)
	}
	of.Amount.Amount = of.Full.Amount
}

// Amount returns what a money offer pays a customer on plan before the
// cap, and false when it pays no money or the plan has no fee: what a
// manager's override grants to a customer the rules do not entitle.
func (c *Compiled) Amount(offerID, plan string) (Money, bool) {
	for i := range c.Policy.Offers {
		o := &c.Policy.Offers[i]
		if o.ID != offerID || !o.Kind.Money() {
			continue
		}
		of := Offered{Amount: Money{Currency: c.Policy.Currency}, Full: Money{Currency: c.Policy.Currency}}
		c.price(&of, o, plan)
		return of.Full, of.Unavailable == ""
	}
	return Money{}, false
}

func (c *Compiled) groupIndex(id string) int {
	for i := range c.groups {
		if c.groups[i].id == id {
			return i
		}
	}
	return -1
}

func (c *Compiled) match(cr *compiledRule, cust *audience.Customer, a *AffectedTime) RuleMatch {
	r := cr.rule
	m := RuleMatch{RuleID: r.ID, rule: r, Need: cr.min}
	switch {
	case len(r.Plans) > 0 && !slices.Contains(r.Plans, cust.Plan):
		m.Failed, m.Value = CondPlan, cust.Plan
		return m
	case len(r.Regions) > 0 && !slices.Contains(r.Regions, cust.Region):
		m.Failed, m.Value = CondRegion, cust.Region
		return m
	}
	for _, ac := range cr.attrs {
		if v := cust.Attributes[ac.key]; !slices.Contains(ac.values, v) {
			m.Failed, m.Key, m.Value = CondAttribute, ac.key, v
			return m
		}
	}
	m.Affected = a.Total
	if len(r.Components) > 0 {
		var on int
		for _, id := range r.Components {
			if a.On(id) > 0 {
				on++
			}
		}
		if on == 0 {
			m.Failed, m.Affected = CondComponent, 0
			return m
		}
		if on < len(a.Components) && cr.min > 0 { // measure on the rule's components only
			m.Affected, a.scratch = union(a.Components, r.Components, a.scratch)
		}
	}
	if m.Affected < cr.min {
		m.Failed = CondMinutes
		return m
	}
	m.Matched = true
	return m
}

// affectedWords says how long a customer was affected in a rule's
// reason as the agent's screen does: whole minutes, "under 1 min" for
// seconds (not "0 min", beside a script that says a minute).
func affectedWords(d time.Duration) string {
	if d < time.Minute {
		return "under 1 min"
	}
	return fmt.Sprintf("%d min", d/time.Minute)
}
