package console

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/incident"
)

// maxOfferRows bounds the decision editor's offer rows (the policy allows
// more through the API).
const maxOfferRows = 8

// offerRow is one offer of the decision editor.
type offerRow struct {
	Kind, Amount, Days, Text string
}

// decisionForm is the decision editor: several offers, given all or as a
// choice, to the customers a rule of eligibility picks.
type decisionForm struct {
	Version    int
	Reason     string
	Currency   string
	Cap        string
	How        string // "all": every offer; "choice": the customer picks one
	Offers     []offerRow
	MinMinutes string
	Plans      string
	Components []string
	Error      string
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
	f := &decisionForm{Version: d.Version, Reason: d.Reason, Currency: "EUR", How: "all", MinMinutes: "0"}
	if pol := d.Policy; pol != nil {
		f.Currency = pol.Currency
		if pol.Cap != nil {
			f.Cap = amountText(*pol.Cap)
		}
		for _, o := range pol.Offers {
			r := offerRow{Kind: string(o.Kind), Text: o.Text}
			if o.Amount != nil {
				r.Amount = amountText(*o.Amount)
			}
			if o.Days > 0 {
				r.Days = strconv.Itoa(o.Days)
			}
			f.Offers = append(f.Offers, r)
		}
		if len(pol.Choices) > 0 {
			f.How = "choice"
		}
		if len(pol.Rules) > 0 {
			r := pol.Rules[0]
			f.MinMinutes = strconv.Itoa(r.MinAffectedMinutes)
			f.Plans = strings.Join(r.Plans, ", ")
			f.Components = r.Components
		}
	}
	if len(f.Offers) == 0 {
		f.Offers = []offerRow{{Kind: string(compensation.Credit)}, {Kind: string(compensation.Refund)}}
	}
	return cs.decisionView(c, fiber.StatusOK, f)
}

func (cs *Console) decisionView(c *fiber.Ctx, status int, f *decisionForm) error {
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
	v := cs.newView(c, "ConsoleDecisionTitle", fiber.Map{"Form": f, "Incident": inc, "Components": leaves(comps),
		"Kinds": []compensation.OfferKind{compensation.Credit, compensation.Refund, compensation.FreePeriod, compensation.Other},
		"Max":   maxOfferRows})
	v.Title = v.T("ConsoleDecisionTitle") + ": " + inc.Name
	return cs.renderView(c, status, "decide", v)
}

// readDecisionForm reads the editor's fields; rows with no kind are left out.
func readDecisionForm(c *fiber.Ctx) *decisionForm {
	version, _ := strconv.Atoi(c.FormValue("version"))
	f := &decisionForm{Version: version, Reason: strings.TrimSpace(c.FormValue("reason")),
		Currency: strings.ToUpper(strings.TrimSpace(c.FormValue("currency"))), Cap: strings.TrimSpace(c.FormValue("cap")),
		How: c.FormValue("how"), MinMinutes: strings.TrimSpace(c.FormValue("min_minutes")), Plans: strings.TrimSpace(c.FormValue("plans"))}
	if f.How != "choice" {
		f.How = "all"
	}
	for _, id := range c.Context().PostArgs().PeekMulti("component") {
		f.Components = append(f.Components, string(id))
	}
	for i := range maxOfferRows {
		n := strconv.Itoa(i)
		r := offerRow{Kind: c.FormValue("kind" + n), Amount: strings.TrimSpace(c.FormValue("amount" + n)),
			Days: strings.TrimSpace(c.FormValue("days" + n)), Text: strings.TrimSpace(c.FormValue("text" + n))}
		if r.Kind != "" {
			f.Offers = append(f.Offers, r)
		}
	}
	return f
}

// policy builds the decided policy: offer1…offerN, given all, or as one
// choice "choice" when there are two or more; one rule "eligible" with the
// minimum minutes, the plans and the components.
func (f *decisionForm) policy() (*compensation.Policy, error) {
	pol := &compensation.Policy{Currency: f.Currency}
	if f.Cap != "" {
		m, err := parseAmount(f.Cap, f.Currency)
		if err != nil {
			return nil, incident.Invalid("cap", "must be an amount such as 50.00")
		}
		pol.Cap = &m
	}
	var ids []string
	for i, r := range f.Offers {
		id := "offer" + strconv.Itoa(i+1)
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
		pol.Choices = []compensation.Choice{{ID: "choice", Offers: ids}}
		give = []string{"choice"}
	}
	rule := compensation.Rule{ID: "eligible", Give: give, Components: f.Components}
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
	pol, err := f.policy()
	if err == nil {
		_, _, err = cs.cfg.Compensation.Decide(ctx, p.ID, c.Params("id"),
			compensation.Proposal{State: compensation.Decided, Reason: f.Reason, Version: f.Version, Policy: pol})
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
