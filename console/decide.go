package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/incident"
)

// maxOfferRows bounds the decision editor's offer rows (the policy allows
// more through the API).
const maxOfferRows = 8

// offerRow is one offer of the decision editor. ID is the offer's in the
// policy (grants name it), kept through the form; a new row has none.
type offerRow struct {
	ID, Kind, Amount, Days, Text string
}

// decisionForm is the decision editor: several offers, given all or as a
// choice, to the customers a rule of eligibility picks.
type decisionForm struct {
	Version int
	// Replace: the manager chose to start a new policy over one the editor
	// cannot show whole (Locked).
	Replace bool
	// Locked: the policy in force has parts the editor cannot show (made
	// with the CLI or the API); the page shows it and saves nothing over
	// it unless the manager starts a new one (Replace).
	Locked bool
	// Policy is the policy in force, shown when Locked.
	Policy *compensation.Policy
	// Earlier is the note of a decision in another state ("compensation
	// is coming because…"), shown but not carried into the new one.
	Earlier string
	// ChoiceID and RuleID are the policy's, kept through the form.
	ChoiceID, RuleID string
	Reason           string
	Currency         string
	Cap              string
	How              string // "all": every offer; "choice": the customer picks one
	Offers           []offerRow
	MinMinutes       string
	Plans            string
	Components       []string
	Error            string
	// Lowered is what the decision would give customers less on than
	// they were told or than the decision in force offers (in words), and
	// TopUps the top-ups it owes: shown when saving was refused for it, so
	// that the manager confirms (AcceptLower) knowing what falls.
	Lowered, TopUps []string
	AcceptLower     bool
}

// decisionPage is GET /console/incidents/:id/compensation: the editor,
// filled from the current decision's policy.
func (cs *Console) decisionPage(c *fiber.Ctx) error {
	if cs.cfg.Compensation == nil {
		return fiber.ErrNotFound
	}
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	d, err := cs.cfg.Compensation.Decision(ctx, p.ID, c.Params("id"))
	if err != nil {
		return err
	}
	f := formFor(d)
	if c.Query("new") != "" && f.Locked {
		// A new policy over one the editor cannot show: from empty, saved
		// only as a replacement the manager asked for.
		f = &decisionForm{Version: d.Version, Replace: true, Policy: d.Policy, Currency: d.Policy.Currency, How: "all", MinMinutes: "0", Earlier: d.Reason}
	}
	if len(f.Offers) == 0 {
		f.Offers = []offerRow{{Kind: string(compensation.Credit)}, {Kind: string(compensation.Refund)}}
	}
	return cs.decisionView(c, fiber.StatusOK, f)
}

// formFor fills the editor from d's policy. The note is carried only
// from a decision (a "compensation is coming" note does not become the
// decision's); the policy is Locked when the editor cannot show it whole.
func formFor(d *compensation.Decision) *decisionForm {
	f := &decisionForm{Version: d.Version, Currency: "EUR", How: "all", MinMinutes: "0"}
	if d.State == compensation.Decided {
		f.Reason = d.Reason
	} else {
		f.Earlier = d.Reason
	}
	pol := d.Policy
	if pol == nil {
		return f
	}
	f.Currency = pol.Currency
	if pol.Cap != nil {
		f.Cap = amountText(*pol.Cap)
	}
	for _, o := range pol.Offers {
		r := offerRow{ID: o.ID, Kind: string(o.Kind), Text: o.Text}
		if o.Amount != nil {
			r.Amount = amountText(*o.Amount)
		}
		if o.Days > 0 {
			r.Days = strconv.Itoa(o.Days)
		}
		f.Offers = append(f.Offers, r)
	}
	if len(pol.Choices) > 0 {
		f.How, f.ChoiceID = "choice", pol.Choices[0].ID
	}
	if len(pol.Rules) > 0 {
		r := pol.Rules[0]
		f.RuleID = r.ID
		f.MinMinutes = strconv.Itoa(r.MinAffectedMinutes)
		f.Plans = strings.Join(r.Plans, ", ")
		f.Components = r.Components
	}
	// Only a policy in force is kept from the form: one an earlier version
	// decided, now "coming" or "none", is a starting point.
	f.Locked = d.State == compensation.Decided && !showsWhole(f, pol)
	if f.Locked {
		f.Policy = pol
	}
	return f
}

// showsWhole reports whether the editor filled as f shows pol whole: what
// it would save unchanged is pol itself. A percent of the fee, plan fees,
// a deadline, exclusions, vouchers, several rules or choices, or a rule
// on regions or attributes are not on the form: saving it would drop
// them without a word.
func showsWhole(f *decisionForm, pol *compensation.Policy) bool {
	back, err := f.policy()
	if err != nil {
		return false
	}
	a, errA := json.Marshal(pol)
	b, errB := json.Marshal(back)
	return errA == nil && errB == nil && bytes.Equal(a, b)
}

func (cs *Console) decisionView(c *fiber.Ctx, status int, f *decisionForm) error {
	if len(f.Offers) == 0 && !f.Locked {
		f.Offers = []offerRow{{Kind: string(compensation.Credit)}, {Kind: string(compensation.Refund)}}
	}
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	inc, err := cs.cfg.Incidents.Incident(ctx, p.ID, c.Params("id"))
	if err != nil {
		return err
	}
	comps, err := cs.cfg.Incidents.Components(ctx, p.ID)
	if err != nil {
		return err
	}
	var (
		policyJSON    string
		rules, limits []string
	)
	if f.Locked && f.Policy != nil {
		b, _ := json.MarshalIndent(f.Policy, "", "  ")
		policyJSON = string(b)
		words, err := cs.policyWords(c, p.ID)
		if err != nil {
			return err
		}
		rules, limits = words(f.Policy)
	}
	v := cs.newView(c, "ConsoleDecisionTitle", fiber.Map{"Form": f, "Incident": inc, "Components": leaves(comps), "PolicyJSON": policyJSON,
		"Rules": rules, "Limits": limits,
		"Kinds": []compensation.OfferKind{compensation.Credit, compensation.Refund, compensation.FreePeriod, compensation.Other},
		"Max":   maxOfferRows})
	v.Title = v.T("ConsoleDecisionTitle") + ": " + inc.NameIn(v.Lang)
	return cs.renderView(c, status, "decide", v)
}

// readDecisionForm reads the editor's fields; rows with no kind are left out.
func readDecisionForm(c *fiber.Ctx) *decisionForm {
	version, _ := strconv.Atoi(c.FormValue("version"))
	f := &decisionForm{Version: version, Reason: strings.TrimSpace(c.FormValue("reason")), Replace: c.FormValue("replace") != "",
		ChoiceID: strings.TrimSpace(c.FormValue("choice_id")), RuleID: strings.TrimSpace(c.FormValue("rule_id")),
		Currency: strings.ToUpper(strings.TrimSpace(c.FormValue("currency"))), Cap: strings.TrimSpace(c.FormValue("cap")),
		How: c.FormValue("how"), MinMinutes: strings.TrimSpace(c.FormValue("min_minutes")), Plans: strings.TrimSpace(c.FormValue("plans")),
		AcceptLower: c.FormValue("accept_lower") != ""}
	if f.How != "choice" {
		f.How = "all"
	}
	for _, id := range c.Context().PostArgs().PeekMulti("component") {
		f.Components = append(f.Components, string(id))
	}
	for i := range maxOfferRows {
		n := strconv.Itoa(i)
		r := offerRow{ID: strings.TrimSpace(c.FormValue("id" + n)), Kind: c.FormValue("kind" + n), Amount: strings.TrimSpace(c.FormValue("amount" + n)),
			Days: strings.TrimSpace(c.FormValue("days" + n)), Text: strings.TrimSpace(c.FormValue("text" + n))}
		if r.Kind != "" {
			f.Offers = append(f.Offers, r)
		}
	}
	return f
}

// policy builds the decided policy: the offers (each keeps its ID; a new
// one is offerN), given all, or as one choice when there are two or more;
// one rule with the minimum minutes, the plans and the components. The
// choice and the rule keep their IDs ("choice", "eligible" when new).
func (f *decisionForm) policy() (*compensation.Policy, error) {
	pol := &compensation.Policy{Currency: f.Currency}
	if f.Cap != "" {
		m, err := parseAmount(f.Cap, f.Currency)
		if err != nil {
			return nil, incident.Invalid("cap", "must be an amount such as 50.00")
		}
		pol.Cap = &m
	}
	taken := map[string]bool{}
	for _, r := range f.Offers {
		taken[r.ID] = true
	}
	var ids []string
	for i, r := range f.Offers {
		id := r.ID
		for n := i + 1; id == "" || id != r.ID && taken[id]; n++ {
			id = "offer" + strconv.Itoa(n)
		}
		taken[id] = true
		o := compensation.Offer{ID: id, Kind: compensation.OfferKind(r.Kind), Text: r.Text}
		field := "offers[" + strconv.Itoa(i+1) + "]"
		switch o.Kind {
		case compensation.Credit, compensation.Refund:
			m, err := parseAmount(r.Amount, f.Currency)
			if err != nil {
				return nil, incident.Invalid(field+".amount", "must be an amount such as 10.00")
			}
			o.Amount = &m
		case compensation.FreePeriod:
			d, err := strconv.Atoi(r.Days)
			if err != nil || d <= 0 {
				return nil, incident.Invalid(field+".days", "must be a number of days")
			}
			o.Days = d
		}
		pol.Offers = append(pol.Offers, o)
		ids = append(ids, id)
	}
	give := ids
	if f.How == "choice" && len(ids) >= 2 {
		id := f.ChoiceID
		if id == "" || taken[id] {
			id = "choice"
		}
		pol.Choices = []compensation.Choice{{ID: id, Offers: ids}}
		give = []string{id}
	}
	ruleID := f.RuleID
	if ruleID == "" {
		ruleID = "eligible"
	}
	rule := compensation.Rule{ID: ruleID, Give: give, Components: f.Components}
	if f.MinMinutes != "" {
		m, err := strconv.Atoi(f.MinMinutes)
		if err != nil || m < 0 {
			return nil, incident.Invalid("min_minutes", "must be a number of minutes")
		}
		rule.MinAffectedMinutes = m
	}
	for _, p := range strings.Split(f.Plans, ",") {
		if p = strings.TrimSpace(p); p != "" {
			rule.Plans = append(rule.Plans, p)
		}
	}
	pol.Rules = []compensation.Rule{rule}
	return pol, nil
}

// decideFull is the editor's POST (form=full) to
// /console/incidents/:id/compensation: "add" adds an offer row and shows
// the form again (no JavaScript needed); otherwise the policy is decided.
func (cs *Console) decideFull(c *fiber.Ctx) error {
	f := readDecisionForm(c)
	if c.FormValue("add") != "" {
		if len(f.Offers) < maxOfferRows {
			f.Offers = append(f.Offers, offerRow{Kind: string(compensation.Credit)})
		}
		return cs.decisionView(c, fiber.StatusOK, f)
	}
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	// A policy the editor cannot show whole is not saved over, unless the
	// manager chose to start a new one (a tab opened before someone
	// decided it with the CLI would otherwise drop its parts unseen).
	d, err := cs.cfg.Compensation.Decision(ctx, p.ID, c.Params("id"))
	if err != nil {
		return err
	}
	if cur := formFor(d); cur.Locked && !f.Replace {
		cur.Error = cs.cfg.Words.Lang(cs.lang(c)).Text("ConsoleDecisionLockedSave")
		return cs.decisionView(c, fiber.StatusConflict, cur)
	}
	pol, err := f.policy()
	if err == nil {
		_, _, err = cs.cfg.Compensation.Decide(ctx, p.ID, c.Params("id"),
			compensation.Proposal{State: compensation.Decided, Reason: f.Reason, Version: f.Version, Policy: pol, AcceptLower: f.AcceptLower})
	}
	var lower *compensation.LowerError
	if errors.As(err, &lower) {
		// Customers would get less than they were told: nothing is saved
		// until the manager reads what falls and confirms it.
		w := cs.cfg.Words.Lang(cs.lang(c))
		cw := compensation.Words(cs.lang(c))
		f.Error, f.Lowered, f.TopUps, f.AcceptLower = w.Text("ConsoleDecisionLowers"), nil, nil, false
		for _, l := range lower.Effects.Lowered {
			f.Lowered = append(f.Lowered, cw.Lowering(l))
		}
		for _, u := range lower.Effects.TopUps {
			f.TopUps = append(f.TopUps, cw.TopUpOwed(u))
		}
		return cs.decisionView(c, fiber.StatusConflict, f)
	}
	if err != nil {
		if f.Error = formError(err); f.Error == "" {
			return err
		}
		if len(f.Offers) == 0 {
			f.Offers = []offerRow{{Kind: string(compensation.Credit)}}
		}
		return cs.decisionView(c, fiber.StatusUnprocessableEntity, f)
	}
	return c.Redirect(Prefix+"/incidents/"+c.Params("id"), fiber.StatusSeeOther)
}

// amountText is m as the editor's amount field takes it ("10.00").
func amountText(m compensation.Money) string {
	exp, ok := compensation.Exponent(m.Currency)
	if !ok || exp == 0 {
		return strconv.FormatInt(m.Amount, 10)
	}
	s := strconv.FormatInt(m.Amount, 10)
	for len(s) <= exp {
		s = "0" + s
	}
	return s[:len(s)-exp] + "." + s[len(s)-exp:]
}
