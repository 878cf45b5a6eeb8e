package compensation

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/incident"
)

// OfferKind is what an offer gives.
type OfferKind string

// Offer kinds.
const (
	Credit     OfferKind = "credit"      // money off the next invoice: a fixed amount or a share of the plan's monthly fee
	Refund     OfferKind = "refund"      // money paid back: a fixed amount or a share of the plan's monthly fee
	FreePeriod OfferKind = "free_period" // days of service free of charge
	Voucher    OfferKind = "voucher"     // a code, drawn from an uploaded list or made from a pattern
	Other      OfferKind = "other"       // anything else, in words
)

// OfferKinds lists every offer kind.
var OfferKinds = []OfferKind{Credit, Refund, FreePeriod, Voucher, Other}

// Valid reports whether k is a known kind.
func (k OfferKind) Valid() bool { return slices.Contains(OfferKinds, k) }

// Money reports whether offers of kind k are paid in money, and so count
// against the per-customer cap.
func (k OfferKind) Money() bool { return k == Credit || k == Refund }

// Offer is one thing a customer may be given. Credit and refund name
// exactly one of Amount and Percent; FreePeriod names Days; Voucher names
// exactly one of VoucherList and VoucherPattern; Other names Text.
type Offer struct {
	ID   string    `json:"id"` // the manager's short name, e.g. "credit10"; what grants and diffs name
	Kind OfferKind `json:"kind"`
	// Amount is a fixed amount, in the policy's currency.
	Amount *Money `json:"amount,omitempty"`
	// Percent is a share of the customer's plan's monthly fee (Policy.PlanFees).
	Percent BasisPoints `json:"percent_bp,omitempty"`
	Days    int         `json:"days,omitempty"`
	// VoucherList is the ID of an uploaded list of codes; VoucherPattern
	// makes codes instead: each '#' is replaced by a random character
	// (at least 6 of them, so codes cannot be guessed).
	VoucherList    string `json:"voucher_list,omitempty"`
	VoucherPattern string `json:"voucher_pattern,omitempty"`
	// Text describes an Other offer, and may add a note to any offer.
	Text string `json:"text,omitempty"`
}

// Choice offers several offers as alternatives: the customer takes one of
// them, or none ("thank them and do not insist").
type Choice struct {
	ID     string   `json:"id"`
	Offers []string `json:"offers"` // offer IDs, at least two
}

// Rule says who gets what. A customer matches a rule when every condition
// that is set holds; within a list any value will do (gold or silver). An
// empty rule matches everyone.
type Rule struct {
	ID      string   `json:"id"`
	Plans   []string `json:"plans,omitempty"`
	Regions []string `json:"regions,omitempty"`
	// Attributes are imported customer columns: key → accepted values.
	Attributes map[string][]string `json:"attributes,omitempty"`
	// Components: the customer was affected on at least one of them.
	Components []string `json:"components,omitempty"`
	// MinAffectedMinutes: the customer was affected at least this long,
	// counting the time any of their components was down once (the union),
	// and only on the rule's Components when it names some.
	MinAffectedMinutes int `json:"min_affected_minutes,omitempty"`
	// Give names the offers and choices the rule grants.
	Give []string `json:"give"`
}

// Exclusion is why a customer is left out although a rule may match.
type Exclusion string

// Exclusions. A policy lists the first two in Policy.Exclude; a claim
// after the deadline is always excluded.
const (
	// ExcludeAlreadyGranted leaves out customers who already got
	// compensation for this incident outside the policy's offers (a
	// goodwill credit during the incident, an offer since removed).
	ExcludeAlreadyGranted Exclusion = "already_granted"
	// ExcludeNotAffected leaves out customers none of whose components
	// were down during the incident.
	ExcludeNotAffected Exclusion = "not_affected"
	// PastDeadline: the claim deadline has passed.
	PastDeadline Exclusion = "past_deadline"
	// JoinedAfter: they became a customer after the incident ended
	// (AffectedTime.Joined); always excluded.
	JoinedAfter Exclusion = "joined_after"
)

// Policy is a decided compensation: offers and the rules that grant them,
// in one currency.
type Policy struct {
	// Currency is the policy's ISO 4217 code; every amount, fee and the cap
	// are in it, so a cap and a total never mix currencies.
	Currency string `json:"currency"`
	// PlanFees is each plan's monthly fee, for offers given as a Percent.
	PlanFees map[string]Money `json:"plan_fees,omitempty"`
	Offers   []Offer          `json:"offers"`
	Choices  []Choice         `json:"choices,omitempty"`
	Rules    []Rule           `json:"rules"`
	// Cap limits the money (credits and refunds) one customer gets for
	// the incident; nil: no cap.
	Cap *Money `json:"cap,omitempty"`
	// ClaimDeadline is the last moment a grant may be recorded; nil: none.
	ClaimDeadline *time.Time  `json:"claim_deadline,omitempty"`
	Exclude       []Exclusion `json:"exclude,omitempty"`
}

// Limits on a policy's size, which keep evaluation cheap and the agents'
// message short.
const (
	MaxOffers    = 32
	MaxChoices   = 16
	MaxRules     = 64
	MaxValues    = 1000 // plans, regions, attribute values and components of one rule together
	MaxTextLen   = 500
	MaxDays      = 366
	maxMinutes   = 366 * 24 * 60
	maxIDLen     = 40
	minVoucherRx = 6
)

// Scope is what a policy is checked against: its incident and what the page
// knows. A nil list is not checked (the service may not know the segments
// of a page without customers); an empty one is.
type Scope struct {
	Incident      *incident.Incident // its start bounds the deadline; its components bound the rules'
	Components    []string           // the page's component IDs
	Plans         []string           // plans the page's customers have
	Regions       []string
	AttributeKeys []string
}

// validID checks a manager-chosen short name: 1 to 40 of a-z, 0-9, '_' and '-'.
func validID(field, id string) error {
	if id == "" || len(id) > maxIDLen {
		return incident.Invalid(field, "must be 1 to %d characters", maxIDLen)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return incident.Invalid(field, "%q may hold only a-z, 0-9, '_' and '-'", id)
		}
	}
	return nil
}

func validText(field, s string, required bool) error {
	switch {
	case required && strings.TrimSpace(s) == "":
		return incident.Invalid(field, "is required")
	case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
		return incident.Invalid(field, "must be valid UTF-8 text")
	case utf8.RuneCountInString(s) > MaxTextLen:
		return incident.Invalid(field, "must be at most %d characters", MaxTextLen)
	}
	return nil
}

// Validate checks the policy against its scope and returns the first
// problem as an incident.EINVALID error naming the field, e.g.
// "offers[1].percent_bp" or "rules[0].components". A policy needs at least
// one offer and one rule: an empty decision is state none, not a policy.
func (p *Policy) Validate(s Scope) error {
	if p == nil {
		return incident.Invalid("policy", "is required when the state is decided")
	}
	if err := validCurrency("currency", p.Currency); err != nil {
		return err
	}
	plans := make([]string, 0, len(p.PlanFees))
	for plan := range p.PlanFees {
		plans = append(plans, plan)
	}
	sort.Strings(plans) // the first problem reported does not depend on map order
	for _, plan := range plans {
		fee, field := p.PlanFees[plan], "plan_fees."+plan
		switch {
		case plan == "":
			return incident.Invalid("plan_fees", "a plan name must not be empty")
		case s.Plans != nil && !slices.Contains(s.Plans, plan):
			return incident.Invalid(field, "no customer has plan %q", plan)
		case fee.Currency != p.Currency:
			return incident.Invalid(field+".currency", "must be the policy's currency %s, not %q", p.Currency, fee.Currency)
		case fee.Amount < 0:
			return incident.Invalid(field+".amount", "must not be negative")
		}
	}

	if len(p.Offers) == 0 {
		return incident.Invalid("offers", "a decided policy needs at least one offer")
	}
	if len(p.Offers) > MaxOffers {
		return incident.Invalid("offers", "at most %d offers", MaxOffers)
	}
	ids := map[string]bool{}
	percent := map[string]bool{} // offers paid as a share of the fee
	for i, o := range p.Offers {
		f := fmt.Sprintf("offers[%d]", i)
		if err := validID(f+".id", o.ID); err != nil {
			return err
		}
		if ids[o.ID] {
			return incident.Invalid(f+".id", "%q is used twice", o.ID)
		}
		ids[o.ID] = true
		if err := o.validate(f, p); err != nil {
			return err
		}
		if o.Percent != 0 {
			percent[o.ID] = true
		}
	}

	if len(p.Choices) > MaxChoices {
		return incident.Invalid("choices", "at most %d choices", MaxChoices)
	}
	choices := map[string][]string{}
	for i, c := range p.Choices {
		f := fmt.Sprintf("choices[%d]", i)
		if err := validID(f+".id", c.ID); err != nil {
			return err
		}
		if ids[c.ID] {
			return incident.Invalid(f+".id", "%q is already an offer's or a choice's ID", c.ID)
		}
		ids[c.ID] = true
		if len(c.Offers) < 2 {
			return incident.Invalid(f+".offers", "a choice needs at least two offers")
		}
		for j, oid := range c.Offers {
			if !slices.ContainsFunc(p.Offers, func(o Offer) bool { return o.ID == oid }) {
				return incident.Invalid(fmt.Sprintf("%s.offers[%d]", f, j), "no offer %q", oid)
			}
			if slices.Index(c.Offers, oid) != j {
				return incident.Invalid(fmt.Sprintf("%s.offers[%d]", f, j), "offer %q is listed twice", oid)
			}
		}
		choices[c.ID] = c.Offers
	}

	if len(p.Rules) == 0 {
		return incident.Invalid("rules", "a decided policy needs at least one rule")
	}
	if len(p.Rules) > MaxRules {
		return incident.Invalid("rules", "at most %d rules", MaxRules)
	}
	ruleIDs := map[string]bool{}
	for i, r := range p.Rules {
		f := fmt.Sprintf("rules[%d]", i)
		if err := validID(f+".id", r.ID); err != nil {
			return err
		}
		if ruleIDs[r.ID] {
			return incident.Invalid(f+".id", "%q is used twice", r.ID)
		}
		ruleIDs[r.ID] = true
		if err := r.validate(f, p, s, ids, choices, percent); err != nil {
			return err
		}
	}

	if p.Cap != nil {
		switch {
		case p.Cap.Currency != p.Currency:
			return incident.Invalid("cap.currency", "must be the policy's currency %s, not %q", p.Currency, p.Cap.Currency)
		case p.Cap.Amount <= 0:
			return incident.Invalid("cap.amount", "must be positive (leave the cap out for none)")
		}
	}
	if p.ClaimDeadline != nil && s.Incident != nil && !p.ClaimDeadline.After(s.Incident.StartedAt) {
		return incident.Invalid("claim_deadline", "must be after the incident started (%s)", s.Incident.StartedAt.UTC().Format(time.RFC3339))
	}
	for i, e := range p.Exclude {
		f := fmt.Sprintf("exclude[%d]", i)
		if e != ExcludeAlreadyGranted && e != ExcludeNotAffected {
			return incident.Invalid(f, "must be %s or %s, not %q", ExcludeAlreadyGranted, ExcludeNotAffected, e)
		}
		if slices.Index(p.Exclude, e) != i {
			return incident.Invalid(f, "%q is listed twice", e)
		}
	}
	return nil
}

func (o Offer) validate(f string, p *Policy) error {
	if !o.Kind.Valid() {
		return incident.Invalid(f+".kind", "must be one of credit, refund, free_period, voucher, other; not %q", o.Kind)
	}
	if err := validText(f+".text", o.Text, o.Kind == Other); err != nil {
		return err
	}
	if !o.Kind.Money() && (o.Amount != nil || o.Percent != 0) {
		return incident.Invalid(f+".amount", "only a credit or a refund has an amount")
	}
	if o.Kind != FreePeriod && o.Days != 0 {
		return incident.Invalid(f+".days", "only a free_period has days")
	}
	if o.Kind != Voucher && (o.VoucherList != "" || o.VoucherPattern != "") {
		return incident.Invalid(f+".voucher_list", "only a voucher draws from a list or a pattern")
	}
	switch o.Kind {
	case Credit, Refund:
		switch {
		case (o.Amount == nil) == (o.Percent == 0):
			return incident.Invalid(f+".amount", "give either a fixed amount or percent_bp of the plan's monthly fee")
		case o.Amount != nil && o.Amount.Currency != p.Currency:
			return incident.Invalid(f+".amount.currency", "must be the policy's currency %s, not %q", p.Currency, o.Amount.Currency)
		case o.Amount != nil && o.Amount.Amount <= 0:
			return incident.Invalid(f+".amount.amount", "must be positive, got %d", o.Amount.Amount)
		case o.Percent < 0:
			return incident.Invalid(f+".percent_bp", "must be positive")
		case o.Percent > 10000:
			return incident.Invalid(f+".percent_bp", "must be at most 10000 (100 %%), got %d", o.Percent)
		case o.Percent != 0 && len(p.PlanFees) == 0:
			return incident.Invalid("plan_fees", "offer %q is a share of the monthly fee: give each plan's fee", o.ID)
		}
	case FreePeriod:
		if o.Days < 1 || o.Days > MaxDays {
			return incident.Invalid(f+".days", "must be 1 to %d, got %d", MaxDays, o.Days)
		}
	case Voucher:
		switch {
		case (o.VoucherList == "") == (o.VoucherPattern == ""):
			return incident.Invalid(f+".voucher_list", "give either voucher_list or voucher_pattern")
		case o.VoucherList != "":
			return validID(f+".voucher_list", o.VoucherList)
		case strings.Count(o.VoucherPattern, "#") < minVoucherRx:
			return incident.Invalid(f+".voucher_pattern", "needs at least %d '#' (random characters)", minVoucherRx)
		default:
			return validText(f+".voucher_pattern", o.VoucherPattern, true)
		}
	}
	return nil
}

func (r Rule) validate(f string, p *Policy, s Scope, ids map[string]bool, choices map[string][]string, percent map[string]bool) error {
	n := len(r.Plans) + len(r.Regions) + len(r.Components)
	for _, vs := range r.Attributes {
		n += len(vs)
	}
	if n > MaxValues {
		return incident.Invalid(f, "at most %d values", MaxValues)
	}
	for _, pl := range r.Plans {
		if pl == "" || (s.Plans != nil && !slices.Contains(s.Plans, pl)) {
			return incident.Invalid(f+".plans", "no customer has plan %q", pl)
		}
	}
	for _, rg := range r.Regions {
		if rg == "" || (s.Regions != nil && !slices.Contains(s.Regions, rg)) {
			return incident.Invalid(f+".regions", "no customer is in region %q", rg)
		}
	}
	keys := make([]string, 0, len(r.Attributes))
	for k := range r.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch {
		case k == "" || len(k) > 100:
			return incident.Invalid(f+".attributes", "attribute names must be 1 to 100 characters")
		case s.AttributeKeys != nil && !slices.Contains(s.AttributeKeys, k):
			return incident.Invalid(f+".attributes."+k, "no customer has the attribute %q", k)
		case len(r.Attributes[k]) == 0:
			return incident.Invalid(f+".attributes."+k, "name at least one value")
		}
	}
	for _, c := range r.Components {
		if s.Components != nil && !slices.Contains(s.Components, c) {
			return incident.Invalid(f+".components", "no component %q on this page", c)
		}
		if inc := s.Incident; inc != nil && len(inc.ComponentIDs) > 0 && !inc.Affects(c) {
			return incident.Invalid(f+".components", "component %q is not part of this incident", c)
		}
	}
	if r.MinAffectedMinutes < 0 || r.MinAffectedMinutes > maxMinutes {
		return incident.Invalid(f+".min_affected_minutes", "must be 0 to %d, got %d", maxMinutes, r.MinAffectedMinutes)
	}
	if len(r.Give) == 0 {
		return incident.Invalid(f+".give", "name at least one offer or choice")
	}
	for j, g := range r.Give {
		gf := fmt.Sprintf("%s.give[%d]", f, j)
		if !ids[g] {
			return incident.Invalid(gf, "no offer or choice %q", g)
		}
		if slices.Index(r.Give, g) != j {
			return incident.Invalid(gf, "%q is listed twice", g)
		}
		// A share of the fee needs the fee of every plan the rule names.
		given := choices[g]
		if given == nil {
			given = []string{g}
		}
		for _, oid := range given {
			if !percent[oid] {
				continue
			}
			for _, pl := range r.Plans {
				if _, ok := p.PlanFees[pl]; !ok {
					return incident.Invalid(f+".plans", "offer %q is a share of the monthly fee, and plan %q has no fee in plan_fees", oid, pl)
				}
			}
		}
	}
	return nil
}

// Describe says what the offer gives, for agents: "credit of 10 % of the
// monthly fee", "refund of 10.00 EUR", "3 free days", "a voucher code",
// "other: a month of premium support".
func (o Offer) Describe() string {
	var s string
	switch o.Kind {
	case Credit, Refund:
		s = string(o.Kind) + " of "
		if o.Amount != nil {
			s += o.Amount.String()
		} else {
			s += o.Percent.String() + " of the monthly fee"
		}
	case FreePeriod:
		s = "1 free day"
		if o.Days != 1 {
			s = fmt.Sprintf("%d free days", o.Days)
		}
	case Voucher:
		s = "a voucher code"
		if o.VoucherList != "" {
			s += " from list " + o.VoucherList
		} else {
			s += " (" + o.VoucherPattern + ")"
		}
	default:
		s = string(o.Kind)
	}
	if o.Text != "" {
		s += ": " + o.Text
	}
	return s
}

// Describe says who the rule is for and what it gives, for agents:
// "if plan gold or silver, affected ≥ 60 min: credit10", "everyone: day".
func (r Rule) Describe() string {
	var parts []string
	if len(r.Plans) > 0 {
		parts = append(parts, "plan "+strings.Join(r.Plans, " or "))
	}
	if len(r.Regions) > 0 {
		parts = append(parts, "region "+strings.Join(r.Regions, " or "))
	}
	keys := make([]string, 0, len(r.Attributes))
	for k := range r.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, k+" "+strings.Join(r.Attributes[k], " or "))
	}
	if len(r.Components) > 0 {
		parts = append(parts, "affected on "+strings.Join(r.Components, " or "))
	}
	if r.MinAffectedMinutes > 0 {
		parts = append(parts, fmt.Sprintf("affected ≥ %d min", r.MinAffectedMinutes))
	}
	who := "everyone"
	if len(parts) > 0 {
		who = "if " + strings.Join(parts, ", ")
	}
	return who + ": " + strings.Join(r.Give, ", ")
}

// offer returns the policy's offer id, or nil.
func (p *Policy) offer(id string) *Offer {
	for i := range p.Offers {
		if p.Offers[i].ID == id {
			return &p.Offers[i]
		}
	}
	return nil
}

// choice returns the policy's choice id, or nil.
func (p *Policy) choice(id string) *Choice {
	for i := range p.Choices {
		if p.Choices[i].ID == id {
			return &p.Choices[i]
		}
	}
	return nil
}
