package compensation

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/locale"
)

// Wording is the compensation words of one language, from herald's one
// catalogue (locale): the line a customer's message carries and the
// script an agent reads.
type Wording struct {
	l *locale.Lang
}

var (
	catOnce sync.Once
	cat     *locale.Catalogue
)

// Words returns the wording of lang; a language herald does not speak gets
// English's.
func Words(lang string) Wording {
	catOnce.Do(func() {
		c, err := locale.Default()
		if err != nil {
			panic("compensation: the built-in catalogue: " + err.Error()) // TestCatalogueComplete keeps it loadable
		}
		cat = c
	})
	return Wording{l: cat.Lang(lang)}
}

// Language is the code of the language lang is worded in: one of herald's.
func Language(lang string) string { return Words(lang).l.Code() }

// Coming is the line of a customer's message while compensation is being
// decided.
func (w Wording) Coming() string { return w.l.Text("CompComing") }

// Line is what a customer's message says about what the decided policy
// gives them (r from Evaluate): their offers, or the choice they may make,
// or "" when they get nothing or it was already given.
func (w Wording) Line(r *Result) string {
	if r == nil || !r.Eligible {
		return ""
	}
	var gives, choices []string
	var choice []string
	group := ""
	for i := range r.Offers {
		o := &r.Offers[i]
		if o.Granted && o.TopUp.Amount > 0 {
			// What an amended, higher offer owes on top of a grant.
			if text := w.TopUp(o); text != "" {
				gives = append(gives, text)
			}
			continue
		}
		if o.Granted || o.Declined {
			continue
		}
		text := w.Offer(o)
		if text == "" {
			continue
		}
		if !o.Choice {
			gives = append(gives, text)
			continue
		}
		if o.Group != group && len(choice) > 0 {
			choices = append(choices, strings.Join(choice, w.l.Text("CompOr")))
			choice = nil
		}
		group = o.Group
		choice = append(choice, text)
	}
	if len(choice) > 0 {
		choices = append(choices, strings.Join(choice, w.l.Text("CompOr")))
	}
	var out []string
	if len(gives) > 0 {
		out = append(out, w.l.Pattern("CompYouReceive").Fill("Offers", strings.Join(gives, w.l.Text("CompAnd"))))
	}
	if len(choices) > 0 {
		key := "CompYouChoose"
		if len(out) > 0 {
			key = "CompAlsoChoose" // one "as an apology" is enough
		}
		out = append(out, w.l.Pattern(key).Fill("Options", strings.Join(choices, w.l.Text("CompAnd"))))
	}
	return strings.Join(out, " ")
}

// Offer words one offer as the customer reads it, amounts in the
// language's number format; "" for a share of the fee that has no fee.
func (w Wording) Offer(o *Offered) string {
	of := o.Offer()
	if of == nil || o.Unavailable != "" || o.UsedUp() {
		return ""
	}
	amount := w.Money(o.Amount)
	switch of.Kind {
	case Credit:
		if of.Amount != nil {
			return w.l.Pattern("CompCreditAmount").Fill("Amount", amount)
		}
		return w.l.Pattern("CompCreditPercent").Fill("Percent", w.percent(of.Percent), "Amount", amount)
	case Refund:
		if of.Amount != nil {
			return w.l.Pattern("CompRefundAmount").Fill("Amount", amount)
		}
		return w.l.Pattern("CompRefundPercent").Fill("Percent", w.percent(of.Percent), "Amount", amount)
	case FreePeriod:
		return w.l.Plural("CompFreeDays", of.Days)
	case Voucher:
		return w.l.Text("CompVoucher")
	default:
		return of.Text
	}
}

// TopUp words what a customer is owed on top of a granted money offer
// (Offered.TopUp) as the customer reads it: "a further credit of 2.50
// EUR on your next invoice, on top of the 5.00 EUR you have already
// received"; "" when nothing is owed.
func (w Wording) TopUp(o *Offered) string {
	of := o.Offer()
	if of == nil || !o.Granted || o.TopUp.Amount <= 0 {
		return ""
	}
	key := "CompTopUpCredit"
	if of.Kind == Refund {
		key = "CompTopUpRefund"
	}
	return w.l.Pattern(key).Fill("Amount", w.Money(o.TopUp), "Given", w.Money(o.Given))
}

// Lowering words what a decision lowers for a manager in the language:
// "Refund: 5.00 EUR → 2.50 EUR because of the cap (customers: 2)"
// (Lowering.String is the API's English, with where the earlier amount
// came from).
func (w Wording) Lowering(l Lowering) string {
	offer := w.l.Word("ConsoleOffer", string(l.Kind))
	if offer == string(l.Kind) || l.OfferID != string(l.Kind) {
		offer = l.OfferID + " (" + offer + ")"
	}
	amount := func(m Money, days int) string {
		if m.Currency != "" {
			return w.Money(m)
		}
		return w.l.Plural("AgentOfferDays", days)
	}
	key := "CompLowerAmount"
	switch {
	case l.Why == LowerGone:
		key = "CompLowerGone"
	case l.Why == LowerCap:
		key = "CompLowerCap"
	}
	return w.l.Pattern(key).Fill("Offer", offer, "Before", amount(l.Before, l.BeforeDays), "After", amount(l.After, l.AfterDays),
		"Customers", strconv.Itoa(l.Customers))
}

// TopUpOwed words a top-up a decision owes for a manager in the language.
func (w Wording) TopUpOwed(u TopUpEffect) string {
	offer := w.l.Word("ConsoleOffer", string(u.Kind))
	if offer == string(u.Kind) || u.OfferID != string(u.Kind) {
		offer = u.OfferID + " (" + offer + ")"
	}
	return w.l.Pattern("CompTopUpOwed").Fill("Offer", offer, "Given", w.Money(u.Given), "Full", w.Money(u.Full), "Amount", w.Money(u.Amount),
		"Customers", strconv.Itoa(u.Customers))
}

// Label words an offer as an agent reads it in a list, a noun phrase in
// the language ("credit of 5.00 EUR", "5,00 EUR jóváírás", "3 dni
// gratis"); amount, when given, is what a share of the fee comes to for
// one customer. Offer words it as the customer's message says it, which
// in Hungarian is the object of a sentence.
func (w Wording) Label(of *Offer, amount *Money) string {
	if of == nil {
		return ""
	}
	var s string
	switch of.Kind {
	case Credit, Refund:
		key := "AgentOfferCredit"
		if of.Kind == Refund {
			key = "AgentOfferRefund"
		}
		switch {
		case of.Amount != nil:
			s = w.l.Pattern(key+"Amount").Fill("Amount", w.Money(*of.Amount))
		case amount != nil && amount.Amount > 0:
			s = w.l.Pattern(key+"PercentOf").Fill("Percent", w.percent(of.Percent), "Amount", w.Money(*amount))
		default:
			s = w.l.Pattern(key+"Percent").Fill("Percent", w.percent(of.Percent))
		}
	case FreePeriod:
		s = w.l.Plural("AgentOfferDays", of.Days)
	case Voucher:
		s = w.l.Text("AgentOfferVoucher")
	default:
		return of.Text
	}
	if of.Text != "" {
		s += ": " + of.Text
	}
	return s
}

// Rule words a policy rule for agents in the language: "if plan gold,
// affected ≥ 60 min: credit10" (component IDs as they are: the caller
// names them, NameComponents).
func (w Wording) Rule(r Rule) string { return w.rule(r, strings.Join(r.Give, ", ")) }

// RuleGives words a rule of p as Rule does, with what it gives in words:
// each offer by its label, a choice as the customer's choice of its
// offers' labels ("if plan gold: the customer's choice of credit of
// 5.00 EUR or 7 days free"), for an agent who must not read a choice as
// both offers.
func (w Wording) RuleGives(r Rule, p *Policy) string {
	or := " " + strings.TrimSpace(w.l.Text("CompOr")) + " "
	label := func(id string) string {
		if o := p.offer(id); o != nil {
			return w.Label(o, nil)
		}
		return id
	}
	var gives []string
	for _, id := range r.Give {
		if c := p.choice(id); c != nil {
			var opts []string
			for _, o := range c.Offers {
				opts = append(opts, label(o))
			}
			gives = append(gives, w.l.Pattern("AgentChoiceOf").Fill("Options", strings.Join(opts, or)))
			continue
		}
		gives = append(gives, label(id))
	}
	return w.rule(r, strings.Join(gives, w.l.Text("CompAnd")))
}

func (w Wording) rule(r Rule, give string) string {
	or := strings.TrimSpace(w.l.Text("CompOr"))
	list := func(vs []string) string { return strings.Join(vs, " "+or+" ") }
	var parts []string
	if len(r.Plans) > 0 {
		parts = append(parts, w.l.Pattern("AgentRulePlan").Fill("Values", list(r.Plans)))
	}
	if len(r.Regions) > 0 {
		parts = append(parts, w.l.Pattern("AgentRuleRegion").Fill("Values", list(r.Regions)))
	}
	for _, k := range slices.Sorted(maps.Keys(r.Attributes)) {
		parts = append(parts, w.l.Pattern("AgentRuleAttribute").Fill("Key", k, "Values", list(r.Attributes[k])))
	}
	if len(r.Components) > 0 {
		parts = append(parts, w.l.Pattern("AgentRuleComponents").Fill("Values", list(r.Components)))
	}
	if r.MinAffectedMinutes > 0 {
		parts = append(parts, w.l.Pattern("AgentRuleMinutes").Fill("Minutes", strconv.Itoa(r.MinAffectedMinutes)))
	}
	if len(parts) == 0 {
		return w.l.Pattern("AgentRuleEveryone").Fill("Give", give)
	}
	return w.l.Pattern("AgentRuleIf").Fill("Conditions", strings.Join(parts, ", "), "Give", give)
}

// Limits words a policy's limits for agents: the cap, the claim deadline
// in loc (the page's time zone, which the agents' other times use; nil:
// UTC), named, the exclusions.
func (w Wording) Limits(p *Policy, loc *time.Location) []string {
	var out []string
	if p.Cap != nil {
		out = append(out, w.Fill("AgentCap", "Amount", w.Money(*p.Cap)))
	}
	if p.ClaimDeadline != nil {
		out = append(out, w.Fill("AgentClaimsUntil", "At", Stamp(*p.ClaimDeadline, loc)))
	}
	for _, e := range p.Exclude {
		out = append(out, w.Fill("AgentExcluded", "What", w.Word("AgentExclude", string(e))))
	}
	return out
}

// Stamp is a time as agents read it: in loc (nil: UTC), to the minute,
// with the zone named ("2026-12-05 21:20 CET").
func Stamp(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

// PageZone is a page's time zone, UTC when it names none or an unknown one.
func PageZone(p *incident.Page) *time.Location {
	if p == nil {
		return time.UTC
	}
	return p.Location()
}

// State words a decision's state for agents ("COMING: being decided").
func (w Wording) State(s State) string { return w.l.Word("AgentState", string(s)) }

// Change words one change of a decision for agents: its subject and what
// happened in the language; a state by its words, a deadline as a date.
// Offers and rules keep the words the change recorded.
func (w Wording) Change(c Change) string {
	subject := w.l.Word("AgentChange", c.Subject)
	if c.ID != "" {
		subject += " " + c.ID
	}
	before, after := c.Before, c.After
	switch c.Subject {
	case "state":
		before, after = w.State(State(before)), w.State(State(after))
	case "claim_deadline":
		for _, v := range []*string{&before, &after} {
			if t, err := time.Parse(time.RFC3339, *v); err == nil {
				*v = t.UTC().Format("2006-01-02 15:04 UTC")
			}
		}
	case "exclusion":
		before, after = w.l.Word("AgentExclude", before), w.l.Word("AgentExclude", after)
	}
	switch c.Op {
	case Added:
		return w.l.Pattern("AgentChangeAdded").Fill("Subject", subject, "After", after)
	case Removed:
		return w.l.Pattern("AgentChangeRemoved").Fill("Subject", subject, "Before", before)
	}
	return w.l.Pattern("AgentChangeChanged").Fill("Subject", subject, "Before", before, "After", after)
}

// Text is a fixed text of the agents' words (Agent…) in the language.
func (w Wording) Text(id string) string { return w.l.Text(id) }

// Plural is the language's plural message id for the count n.
func (w Wording) Plural(id string, n int, kv ...string) string { return w.l.Plural(id, n, kv...) }

// Fill fills a pattern of the agents' words in the language.
func (w Wording) Fill(id string, kv ...string) string {
	if p := w.l.Pattern(id); p != nil {
		return p.Fill(kv...)
	}
	return w.l.Text(id)
}

// Word is an enum value in the language's words (prefix + its Camel form),
// or the value itself.
func (w Wording) Word(prefix, value string) string { return w.l.Word(prefix, value) }

// Money formats m in the language: "10.00 EUR" in English, "10,00 EUR" in
// Hungarian, Polish and Croatian.
func (w Wording) Money(m Money) string {
	s := m.String()
	if w.l.Code() != "en" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

func (w Wording) percent(b BasisPoints) string {
	s := b.String()
	if w.l.Code() != "en" {
		s = strings.Replace(s, ".", ",", 1)
	}
	if w.l.Code() == "hu" || w.l.Code() == "pl" || w.l.Code() == "hr" {
		s = strings.Replace(s, " %", "%", 1)
	}
	return s
}

// Script is what an agent reads to the customer, in the agent's language:
// the decision's state, the customer's affected time, what to offer or
// why nothing, and what was already given.
func Script(lang string, d *Decision, r *Result, affected AffectedTime, grants []*Grant) string {
	w := Words(lang)
	var lines []string
	say := func(s string) {
		if s != "" {
			lines = append(lines, s)
		}
	}
	reason := func() {
		if d.Reason != "" {
			say(w.l.Pattern("ScriptReason").Fill("Reason", d.Reason))
		}
	}
	switch d.State {
	case NoneYet:
		say(w.l.Text("ScriptNoneYet"))
		return strings.Join(lines, "\n")
	case Coming:
		// The manager's words, when given, are what agents say: one
		// script, not the generic line and then theirs.
		if d.Reason != "" {
			say(w.l.Pattern("ScriptComingSay").Fill("Reason", d.Reason))
		} else {
			say(w.l.Text("ScriptComing"))
		}
		return strings.Join(lines, "\n")
	case None:
		say(w.l.Text("ScriptNone"))
		reason()
		return strings.Join(lines, "\n")
	}
	switch {
	case !affected.Joined.IsZero():
		say(w.l.Pattern("ScriptJoinedAfter").Fill("Date", affected.Joined.Format(time.DateOnly)))
	case affected.Total >= time.Minute:
		// Whole minutes, rounded down, as the answer's minutes, the
		// rules' thresholds and the CLI count them: an agent reading
		// "4 min" beside "affected: 3 min" would not know which to say.
		say(w.l.Pattern("ScriptAffected").Fill("Minutes", strconv.Itoa(affected.Minutes())))
	case affected.Total > 0:
		say(w.l.Text("ScriptAffectedUnderMinute"))
	default:
		say(w.l.Text("ScriptNotAffected"))
	}
	if r == nil {
		return strings.Join(lines, "\n")
	}
	switch r.Excluded {
	case ExcludeAlreadyGranted:
		say(w.l.Text("ScriptAlreadyGranted"))
	case PastDeadline:
		say(w.l.Text("ScriptPastDeadline"))
	}
	offered := false
	var choice []string
	group := ""
	flush := func() {
		if len(choice) > 0 {
			say(w.l.Pattern("ScriptChoice").Fill("Options", strings.Join(choice, w.l.Text("CompOr"))))
			choice = nil
			offered = true
		}
	}
	if r.Excluded == "" {
		for i := range r.Offers {
			o := &r.Offers[i]
			if o.Granted && o.TopUp.Amount > 0 {
				flush()
				say(w.l.Pattern("ScriptTopUp").Fill("Amount", w.Money(o.TopUp), "Offer", w.Label(o.Offer(), &o.Full), "Given", w.Money(o.Given)))
				offered = true
				continue
			}
			text := w.Offer(o)
			if text == "" || o.Granted {
				continue
			}
			if o.Declined {
				say(w.l.Pattern("ScriptDeclinedBefore").Fill("Offer", text))
			}
			if !o.Choice {
				flush()
				say(w.l.Pattern("ScriptOffer").Fill("Offer", text))
				offered = true
				continue
			}
			if o.Group != group {
				flush()
			}
			group = o.Group
			choice = append(choice, text)
		}
		flush()
	}
	for _, g := range grants {
		if g.Declined {
			continue
		}
		if g.TopUp {
			// The difference an amended decision owed, not a second
			// compensation: the agent must not read it as one.
			say(w.l.Pattern("ScriptGrantedTopUp").Fill("Offer", w.granted(g)))
			continue
		}
		say(w.l.Pattern("ScriptGranted").Fill("Offer", w.granted(g)))
	}
	switch {
	case offered:
		say(w.l.Text("ScriptDeclineHint"))
	case r.Excluded == "" && len(grants) == 0:
		say(w.l.Text("ScriptNotEligible"))
	}
	reason()
	return strings.Join(lines, "\n")
}

// granted words what a grant gave, for the script.
//
// It names what was given in words ("credit of 5.00 EUR", "7 free days",
// "a voucher, CODE"), never the policy's offer ID, which agents would
// read out as it is.
func (w Wording) granted(g *Grant) string {
	var s string
	switch {
	case g.Kind == Credit:
		s = w.l.Pattern("AgentOfferCreditAmount").Fill("Amount", w.Money(g.Amount))
	case g.Kind == Refund:
		s = w.l.Pattern("AgentOfferRefundAmount").Fill("Amount", w.Money(g.Amount))
	case g.Kind == FreePeriod && g.Days > 0:
		s = w.l.Plural("AgentOfferDays", g.Days)
	case g.Kind == Voucher:
		s = w.l.Text("AgentOfferVoucher")
	default:
		s = g.OfferID
	}
	if g.Voucher != "" {
		s += ", " + g.Voucher
	}
	return s
}
