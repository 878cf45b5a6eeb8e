package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify"
)

// The compensation commands: show, decide, check, grant, export, totals,
// announce and vouchers, through
// /api/v1/pages/{page}/incidents/{incident}/compensation. They print what
// the API answers; compensation's own types are the JSON shapes.

func compensationPath(pageID, incidentID string) string {
	return pagePath(pageID) + "/incidents/" + url.PathEscape(incidentID) + "/compensation"
}

func cmdCompensation(ctx context.Context, a *app, args []string) error {
	return subcommand(ctx, a, "compensation", args, map[string]func(context.Context, *app, []string) error{
		"show":     cmdCompensationShow,
		"decide":   cmdCompensationDecide,
		"check":    cmdCompensationCheck,
		"grant":    cmdCompensationGrant,
		"export":   cmdCompensationExport,
		"totals":   cmdCompensationTotals,
		"announce": cmdCompensationAnnounce,
		"vouchers": cmdCompensationVouchers,
	})
}

type decisionAnswer struct {
	Decision *compensation.Decision `json:"decision"`
	Changes  []compensation.Change  `json:"changes"`
	Summary  string                 `json:"summary"`
	Effects  *compensation.Effects  `json:"effects"`
}

// printEffects prints what a decision does to customers against what they
// were told (compensation.Effects), under a heading; nothing when it does
// nothing.
func (a *app) printEffects(e *compensation.Effects) {
	if e == nil {
		return
	}
	if len(e.Lowered) > 0 {
		fmt.Fprintln(a.stdout, "\ncustomers get less than they were told or than the version before offered:")
		for _, l := range e.Lowered {
			fmt.Fprintln(a.stdout, "  "+printable(lowerLine(l.String(), l.Sample, l.Customers)))
		}
	}
	if len(e.TopUps) > 0 {
		fmt.Fprintln(a.stdout, "\ncustomers granted less under an earlier version are owed a top-up (agents see it in check):")
		for _, u := range e.TopUps {
			fmt.Fprintln(a.stdout, "  "+printable(lowerLine(u.String(), u.Sample, u.Customers)))
		}
	}
}

// lowerLine is an effect's words with the customers it names: "…: c1, c2"
// (and how many more).
func lowerLine(s string, sample []string, n int) string {
	if len(sample) == 0 {
		return s
	}
	s += ": " + strings.Join(sample, ", ")
	if n > len(sample) {
		s += fmt.Sprintf(" and %d more", n-len(sample))
	}
	return s
}

// printDecision prints a decision for people: the state, who decided, and
// the policy's offers and rules in words (components by name from names).
func (a *app) printDecision(d *compensation.Decision, names map[string]string) {
	w := newTable(a.stdout)
	row := func(k, v string) { fmt.Fprintf(w, "%s:\t%s\n", k, printable(v)) }
	row("compensation", string(d.State))
	if d.Version > 0 {
		row("version", fmt.Sprintf("%d, by %s at %s", d.Version, d.By, a.at(d.At)))
	}
	if d.Reason != "" {
		row("reason", d.Reason)
	}
	if p := d.Policy; p != nil {
		for _, o := range p.Offers {
			row("offer "+o.ID, o.Describe())
		}
		for _, c := range p.Choices {
			row("choice "+c.ID, strings.Join(c.Offers, " or "))
		}
		for _, r := range p.Rules {
			row("rule "+r.ID, compensation.NameComponents(r.Describe(), names))
		}
		if p.Cap != nil {
			row("cap", p.Cap.String()+" per customer")
		}
		if p.ClaimDeadline != nil {
			row("claims until", a.at(*p.ClaimDeadline))
		}
		for _, e := range p.Exclude {
			row("excluded", string(e))
		}
	}
	_ = w.Flush()
}

func cmdCompensationShow(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("compensation show", "INCIDENT [FLAGS]", "Shows an incident's compensation decision and how it changed.")
	pf := addIncidentPageFlags(fs)
	asJSON := fs.Bool("json", false, "print the versions as JSON")
	pos, err := parseArgs(fs, args, 1, "INCIDENT (an incident's id)")
	if err != nil {
		return err
	}
	c, p, inc, err := a.openIncident(ctx, pf, pos[0])
	if err != nil {
		return err
	}
	var raw []byte
	var h struct {
		Versions   []compensation.Version `json:"versions"`
		Told       *compensation.Told     `json:"told"`
		ToldComing *time.Time             `json:"told_coming"`
	}
	if err := c.do(ctx, http.MethodGet, compensationPath(p.ID, pos[0])+"/history", nil, nil, &h, &raw); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.stdout, raw)
	}
	if len(h.Versions) == 0 {
		a.printDecision(compensation.Initial(p.ID, pos[0]), nil)
		return nil
	}
	cur := h.Versions[len(h.Versions)-1].Decision
	a.printDecision(cur, componentNames(ctx, c, p.ID))
	switch {
	case cur.State == compensation.Decided:
		fmt.Fprintln(a.stdout, a.toldText(h.Told, cur.Version, pos[0], incident.Status(inc.Status).Closed()))
	case cur.State == compensation.Coming && h.ToldComing != nil:
		fmt.Fprintf(a.stdout, "customers: told compensation is coming (%s); they wait to hear what they get\n", a.at(*h.ToldComing))
	}
	fmt.Fprintln(a.stdout, "\nhistory:")
	w := newTable(a.stdout)
	for _, v := range h.Versions {
		fmt.Fprintf(w, "  v%d\t%s\t%s\t%s\n", v.Version, a.at(v.At), oneLine(v.By, 30), oneLine(changesText(v.Changes), 100))
	}
	return w.Flush()
}

// toldText says whether customers heard of the decided version in force
// (compensation.Service.Told), and how to tell them when they did not.
func (a *app) toldText(told *compensation.Told, version int, incidentID string, closed bool) string {
	how := func(t *compensation.Told) string {
		if t.How == compensation.ToldAnnouncement {
			return "announced " + a.at(t.At)
		}
		return "in the all-clear message of " + a.at(t.At)
	}
	switch {
	case told == nil && closed:
		return "customers: not told of this decision (it came after the all-clear): herald compensation announce " + incidentID
	case told == nil:
		return "customers: not told of this decision yet (the all-clear message will tell them, or now: herald compensation announce " + incidentID + ")"
	case told.Version < version:
		return fmt.Sprintf("customers: told of version %d (%s), not of the change since: herald compensation announce %s", told.Version, how(told), incidentID)
	}
	return "customers: told of this decision (" + how(told) + ")"
}

func cmdCompensationDecide(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("compensation decide", "INCIDENT --state coming|decided|none [--policy FILE] [--reason WORDS] [FLAGS]",
		`Records management's compensation decision (managers only). coming: agents and
customers' messages may say compensation is being decided. decided: the policy
in --policy (JSON: currency, plan_fees, offers, choices, rules, cap,
claim_deadline, exclude; see the README) says who gets what. none: no
compensation, with --reason agents may give. Each change is a new version;
agents are told at once what changed.`)
	pf := addIncidentPageFlags(fs)
	state := enumFlag(fs, "state", "`STATE` (required):", []compensation.State{compensation.Coming, compensation.Decided, compensation.None})
	policy := fs.String("policy", "", "the policy's JSON `FILE` (\"-\" reads standard input), for decided")
	reason := fs.String("reason", "", "what agents may say (`WORDS`); required for none")
	version := fs.Int("version", -1, "the decision `VERSION` you are changing (default: the current one)")
	acceptLower := fs.Bool("accept-lower", false, "confirm a decision that gives customers less than they were told or than the decision in force offers (herald refuses it otherwise, saying what falls)")
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	pos, err := parseArgs(fs, args, 1, "INCIDENT (an incident's id)")
	if err != nil {
		return err
	}
	if *state == "" {
		return usageErrorf("--state is required: one of coming, decided, none")
	}
	prop := compensation.Proposal{State: *state, Reason: *reason, Version: *version, AcceptLower: *acceptLower}
	if *policy != "" {
		b, err := readInput(a, *policy)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&prop.Policy); err != nil {
			return fmt.Errorf("%s: %w", *policy, err)
		}
	}
	c, p, _, err := a.openIncident(ctx, pf, pos[0])
	if err != nil {
		return err
	}
	path := compensationPath(p.ID, pos[0])
	// Rules may name components by name, as declare does: the server
	// takes names as IDs (compensation.Service.Decide).
	if prop.Version < 0 {
		var cur decisionAnswer
		if err := c.do(ctx, http.MethodGet, path, nil, nil, &cur, nil); err != nil {
			return err
		}
		prop.Version = cur.Decision.Version
	}
	var raw []byte
	var ans decisionAnswer
	if err := c.do(ctx, http.MethodPut, path, nil, prop, &ans, &raw); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Field == "accept_lower" && !*asJSON {
			// What falls, one line each, rather than the one long message.
			var body struct {
				Effects *compensation.Effects `json:"effects"`
			}
			if json.Unmarshal(ae.Body, &body) == nil && body.Effects != nil && len(body.Effects.Lowered) > 0 {
				fmt.Fprintln(a.stdout, "nothing was saved: this decision gives customers less than before.")
				a.printEffects(body.Effects)
				return fmt.Errorf("to decide it anyway, run the same command with --accept-lower (HTTP %d, field accept_lower)", ae.Status)
			}
		}
		return err
	}
	if *asJSON {
		return printJSON(a.stdout, raw)
	}
	if len(ans.Changes) == 0 {
		fmt.Fprintln(a.stdout, "nothing changed: the decision already says that")
		return nil
	}
	names := componentNames(ctx, c, p.ID)
	a.printDecision(ans.Decision, names)
	fmt.Fprintln(a.stdout, "\nwhat changed:")
	for _, ch := range ans.Changes {
		fmt.Fprintln(a.stdout, "  "+printable(compensation.NameComponents(compensation.Words("en").Change(ch), names)))
	}
	a.printEffects(ans.Effects)
	fmt.Fprintln(a.stdout, "agents see the change now: the API, the live feed, and the agents' Slack channel (agent_slack_channel; in sandbox mode, the sandbox inbox).")
	return nil
}

// componentNames maps the page's component IDs to names, for people; nil
// when they cannot be read (IDs are shown then).
func componentNames(ctx context.Context, c *client, pageID string) map[string]string {
	names, err := c.componentNames(ctx, pageID)
	if err != nil {
		return nil
	}
	return names
}

// readInput reads a file, or standard input for "-".
func readInput(a *app, name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(io.LimitReader(a.stdin, 16<<20))
	}
	return os.ReadFile(name)
}

func cmdCompensationCheck(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("compensation check", "INCIDENT (CUSTOMER | --phone P | --email E) [--lang L] [FLAGS]",
		`Answers for one customer: affected or not and for how long, which rules
matched and why, the offers with amounts, what was already granted, what
to say (in --lang, default English), and the compensation grant command for
each offer, with the amount read out (--amount) and the version.`)
	pf := addIncidentPageFlags(fs)
	phone := fs.String("phone", "", "find the customer by phone `NUMBER`")
	email := fs.String("email", "", "find the customer by email `ADDRESS`")
	lang := fs.String("lang", "", "the script's `LANGUAGE` en, hu, pl or hr")
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	n := 2
	if hasFlag(args, "phone") || hasFlag(args, "email") {
		n = 1
	}
	pos, err := parseArgs(fs, args, n, "INCIDENT and CUSTOMER (or --phone/--email)")
	if err != nil {
		return err
	}
	c, p, _, err := a.openIncident(ctx, pf, pos[0])
	if err != nil {
		return err
	}
	q := url.Values{}
	if *lang != "" {
		q.Set("lang", *lang)
	}
	path := compensationPath(p.ID, pos[0]) + "/customers"
	switch {
	case *phone != "":
		q.Set("phone", *phone)
	case *email != "":
		q.Set("email", *email)
	default:
		path += "/" + url.PathEscape(pos[1])
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var raw []byte
	var ans compensation.Answer
	if err := c.do(ctx, http.MethodGet, path, nil, nil, &ans, &raw); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.stdout, raw)
	}
	a.printAnswer(&ans)
	a.printGrantCommands(&ans, *pf.page)
	return nil
}

// printGrantCommands prints the compensation grant command for each offer
// the customer may take, and for declining each, with the decision's
// version and, for a credit or a refund, --amount as check shows it (the
// top-up for one granted before): the grant is checked against what the
// agent read out, and records nothing if the decision or the amount has
// moved since. Nothing when the policy gives the customer nothing.
func (a *app) printGrantCommands(ans *compensation.Answer, page string) {
	if ans.Result == nil || ans.Result.Excluded != "" {
		return
	}
	base := "herald compensation grant " + shellQuote(ans.IncidentID) + " " + shellQuote(ans.Customer.ID)
	if page != "" {
		base += " --page " + shellQuote(page)
	}
	version := " --version " + strconv.Itoa(ans.Version)
	var grants, declines []string
	declined := map[string]bool{}
	for _, o := range ans.Offers {
		if (o.Granted && o.TopUp.Amount == 0) || o.Unavailable != "" || o.UsedUp() {
			continue // nothing (more) to give
		}
		cmd := base + " --offer " + shellQuote(o.Group)
		if o.Choice {
			cmd += " --choice " + shellQuote(o.OfferID)
		}
		cmd += version
		if o.Kind.Money() {
			amount := o.Amount
			if o.Granted {
				amount = o.TopUp
			}
			cmd += ` --amount "` + amount.String() + `"`
		}
		grants = append(grants, cmd)
		if !o.Granted && !o.Declined && !declined[o.Group] {
			declined[o.Group] = true
			declines = append(declines, base+" --offer "+shellQuote(o.Group)+" --declined"+version)
		}
	}
	if len(grants) == 0 {
		return
	}
	fmt.Fprintln(a.stdout, "\nto record what the customer takes (if the decision or an amount has changed since this check, nothing is recorded):")
	for _, line := range append(grants, declines...) {
		fmt.Fprintln(a.stdout, "  "+printable(line))
	}
}

// minutes words an affected time: "under 1 min" for a customer affected
// for seconds so far.
func minutes(n int) string {
	if n == 0 {
		return "under 1 min"
	}
	return fmt.Sprintf("%d min", n)
}

// hasFlag reports whether args set flag name (-name, --name, --name=v).
func hasFlag(args []string, name string) bool {
	for _, a := range args {
		a = strings.TrimLeft(a, "-")
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

func (a *app) printAnswer(ans *compensation.Answer) {
	w := newTable(a.stdout)
	row := func(k, v string) { fmt.Fprintf(w, "%s:\t%s\n", k, printable(v)) }
	cust := ans.Customer.ID
	if ans.Customer.Name != "" {
		cust += " (" + ans.Customer.Name + ")"
	}
	if ans.Customer.Plan != "" || ans.Customer.Region != "" {
		cust += ", plan " + dash(ans.Customer.Plan) + ", region " + dash(ans.Customer.Region)
	}
	row("customer", cust)
	row("compensation", fmt.Sprintf("%s (version %d)", ans.State, ans.Version))
	if r := ans.Result; r != nil {
		switch {
		case r.Eligible:
			row("eligible", "yes")
		case r.Excluded != "":
			row("eligible", "no: excluded ("+strings.ReplaceAll(string(r.Excluded), "_", " ")+")")
		default:
			row("eligible", "no: no rule gives this customer anything")
		}
	}
	if ans.Affected.Affected {
		var parts []string
		for _, c := range ans.Affected.Components {
			parts = append(parts, fmt.Sprintf("%s %s", firstNonEmpty(c.Name, c.ComponentID), minutes(c.Minutes)))
		}
		row("affected", fmt.Sprintf("%s (%s)", minutes(ans.Affected.Minutes), strings.Join(parts, ", ")))
	} else if !ans.Affected.Joined.IsZero() {
		row("affected", "no: became a customer on "+ans.Affected.Joined.Format(time.DateOnly)+", after the incident ended")
	} else {
		row("affected", "no")
	}
	for _, r := range ans.Rules {
		mark := "no "
		if r.Matched {
			mark = "yes"
		}
		row("rule "+r.ID, mark+"  "+r.Reason)
	}
	for _, o := range ans.Offers {
		v := o.Description
		if o.Kind.Money() && o.Unavailable == "" {
			v += " = " + o.Amount.String()
			if o.Capped {
				v += " (capped from " + o.Full.String() + ")"
			}
			if o.Capped && o.Amount.Amount == 0 {
				v += ": the cap is used up, not offered"
			}
		}
		if o.Choice {
			v = "choice " + o.Group + ": " + v
		}
		switch {
		case o.Granted && o.TopUp.Amount > 0:
			// Granted under an earlier version that gave less.
			v += " [granted " + o.Given.String() + "; owed a top-up of " + o.TopUp.String() + "]"
		case o.Granted:
			v += " [granted]"
		case o.Declined:
			v += " [declined before]"
		}
		row("offer "+o.OfferID, v)
	}
	for _, g := range ans.Grants {
		row("granted", compensation.GrantNote(g)+" ("+a.at(g.At)+")")
	}
	_ = w.Flush()
	fmt.Fprintln(a.stdout, "\nwhat to say:")
	for _, line := range strings.Split(ans.Script, "\n") {
		fmt.Fprintln(a.stdout, "  "+printable(line))
	}
}

func cmdCompensationGrant(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("compensation grant", "INCIDENT CUSTOMER --offer ID [--choice ID | --declined] [FLAGS]",
		`Records what a customer was given (or that they declined: thank them and do
not insist). herald checks the policy and refuses a grant that breaks it,
naming the rule; a manager may --override with a reason. A retried command
grants once (--key, or the same customer, offer and choice).`)
	pf := addIncidentPageFlags(fs)
	var r compensation.GrantRequest
	fs.StringVar(&r.Offer, "offer", "", "the offer or choice `ID` offered (see check)")
	fs.StringVar(&r.Choice, "choice", "", "for a choice: the offer `ID` the customer took")
	fs.BoolVar(&r.Declined, "declined", false, "the customer took none of it")
	fs.StringVar(&r.ComplaintID, "complaint", "", "record it on complaint `ID` (or its reference, C-…) too")
	fs.StringVar(&r.OverrideReason, "override", "", "grant what the policy refuses, for this `REASON` (managers)")
	fs.StringVar(&r.Key, "key", "", "idempotency `KEY`")
	fs.IntVar(&r.Version, "version", 0, "the decision `VERSION` the offer was read at (check shows it): if the decision has changed since, nothing is recorded")
	amount := fs.String("amount", "", "the `AMOUNT` read out to the customer, as check shows it (\"7.50 EUR\"): if the grant would record another, nothing is recorded")
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	pos, err := parseArgs(fs, args, 2, "INCIDENT and CUSTOMER")
	if err != nil {
		return err
	}
	if r.Offer == "" {
		return usageErrorf("compensation grant: --offer is required")
	}
	if *amount != "" {
		m, err := compensation.ParseMoney("amount", *amount)
		if err != nil {
			return usageErrorf("compensation grant: --amount is an amount and its currency as check shows it, such as \"7.50 EUR\", not %q", *amount)
		}
		r.Amount = &m
	}
	if r.Version < 0 {
		return usageErrorf("compensation grant: --version is a decision's version (1, 2, …), not %d", r.Version)
	}
	c, p, _, err := a.openIncident(ctx, pf, pos[0])
	if err != nil {
		return err
	}
	var raw []byte
	var ans struct {
		Grant   *compensation.Grant `json:"grant"`
		Created bool                `json:"created"`
	}
	path := compensationPath(p.ID, pos[0]) + "/customers/" + url.PathEscape(pos[1]) + "/grants"
	if err := c.do(ctx, http.MethodPost, path, nil, r, &ans, &raw); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.stdout, raw)
	}
	note := compensation.GrantNote(ans.Grant)
	if !ans.Created {
		// Another agent may have granted it a moment ago: say who and
		// when, so nobody tells the customer twice or thinks it was theirs.
		note += " (already recorded by " + firstNonEmpty(ans.Grant.By, "someone") + " at " + a.at(ans.Grant.At) + ": nothing new)"
	}
	fmt.Fprintf(a.stdout, "%s %s\n", ans.Grant.ID, printable(note))
	return nil
}

func cmdCompensationExport(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("compensation export", "INCIDENT [--format csv|json] [--output FILE] [FLAGS]",
		"Exports an incident's grants for billing: customer, offer, amount, currency, who granted, when.")
	pf := addIncidentPageFlags(fs)
	format := fs.String("format", "csv", "`FORMAT` csv or json")
	out := fs.String("output", "", "write to `FILE` (default: standard output)")
	pos, err := parseArgs(fs, args, 1, "INCIDENT (an incident's id)")
	if err != nil {
		return err
	}
	f := strings.ToLower(*format)
	if f != "csv" && f != "json" {
		return usageErrorf("compensation export: --format is csv or json, not %q", *format)
	}
	c, p, _, err := a.openIncident(ctx, pf, pos[0])
	if err != nil {
		return err
	}
	var raw []byte
	if err := c.do(ctx, http.MethodGet, compensationPath(p.ID, pos[0])+"/grants?format="+f, nil, nil, nil, &raw); err != nil {
		return err
	}
	if *out == "" {
		if f == "json" {
			return printJSON(a.stdout, raw)
		}
		_, err := a.stdout.Write(raw)
		return err
	}
	return os.WriteFile(*out, raw, 0o600)
}

func cmdCompensationTotals(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("compensation totals", "INCIDENT [FLAGS]",
		"Sums an incident's compensation: eligible customers, offers granted by kind, cost by currency, declines.")
	pf := addIncidentPageFlags(fs)
	asJSON := fs.Bool("json", false, "print the totals as JSON")
	pos, err := parseArgs(fs, args, 1, "INCIDENT (an incident's id)")
	if err != nil {
		return err
	}
	c, p, _, err := a.openIncident(ctx, pf, pos[0])
	if err != nil {
		return err
	}
	var raw []byte
	var t compensation.Totals
	if err := c.do(ctx, http.MethodGet, compensationPath(p.ID, pos[0])+"/totals", nil, nil, &t, &raw); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.stdout, raw)
	}
	w := newTable(a.stdout)
	fmt.Fprintf(w, "compensation:\t%s (version %d)\n", t.State, t.Version)
	fmt.Fprintf(w, "customers:\t%d, affected %d, eligible %d\n", t.Customers, t.Affected, t.Eligible)
	for _, k := range sortedMapKeys(t.Offered) {
		fmt.Fprintf(w, "offered %s:\t%d customers\n", k, t.Offered[k])
	}
	for _, k := range sortedMapKeys(t.Potential) {
		fmt.Fprintf(w, "potential cost:\t%s\n", compensation.Money{Amount: t.Potential[k], Currency: k})
	}
	// A grant record is one offer given or declined: say which, as the
	// report does ("grants 3" counted the declines as grants).
	fmt.Fprintf(w, "grants given:\t%d (overrides %d)\n", t.Grants-t.Declined, t.Overrides)
	fmt.Fprintf(w, "offers declined:\t%d\n", t.Declined)
	for _, k := range sortedMapKeys(t.Granted) {
		fmt.Fprintf(w, "granted %s:\t%d\n", k, t.Granted[k])
	}
	for _, k := range sortedMapKeys(t.Cost) {
		fmt.Fprintf(w, "cost so far:\t%s\n", compensation.Money{Amount: t.Cost[k], Currency: k})
	}
	return w.Flush()
}

func sortedMapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func cmdCompensationAnnounce(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("compensation announce", "INCIDENT [--dry-run] [FLAGS]",
		`Tells the customers the decided policy gives something, in their language, on
their channels, as a broadcast with progress and cancel. Use it when the
decision came after the apology went out. --dry-run shows who would get what.`)
	pf := addIncidentPageFlags(fs)
	dry := fs.Bool("dry-run", false, "show the audience and sample messages; send nothing")
	version := fs.Int("version", 0, "announce only decision version `N` (the one the dry run showed): refused if it was amended since")
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	pos, err := parseArgs(fs, args, 1, "INCIDENT (an incident's id)")
	if err != nil {
		return err
	}
	c, p, inc, err := a.openIncident(ctx, pf, pos[0])
	if err != nil {
		return err
	}
	path := compensationPath(p.ID, pos[0]) + "/announcement"
	var raw []byte
	if *dry {
		var res struct {
			notify.DryRunResult
			Version int                   `json:"version"`
			Effects *compensation.Effects `json:"effects"`
		}
		if err := c.do(ctx, http.MethodGet, path, nil, nil, &res, &raw); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(a.stdout, raw)
		}
		if err := a.printDryRun(&res.DryRunResult, inc.Name, inc.ID); err != nil {
			return err
		}
		a.printEffects(res.Effects)
		version := res.Version
		if version == 0 { // a server from before the dry run said it
			var d decisionAnswer
			if c.do(ctx, http.MethodGet, compensationPath(p.ID, pos[0]), nil, nil, &d, nil) == nil && d.Decision != nil {
				version = d.Decision.Version
			}
		}
		if version > 0 {
			fmt.Fprintf(a.stdout, "This is decision version %d. To send exactly it: herald compensation announce %s --version %d\n", version, pos[0], version)
		}
		return nil
	}
	var hdr http.Header
	if *version > 0 {
		hdr = http.Header{"If-Match": {`"` + strconv.Itoa(*version) + `"`}}
	}
	var ans struct {
		Broadcast struct {
			ID string `json:"id"`
		} `json:"broadcast"`
	}
	if err := c.do(ctx, http.MethodPost, path, hdr, struct{}{}, &ans, &raw); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.stdout, raw)
	}
	fmt.Fprintf(a.stdout, "announcement %s queued; follow it with: herald broadcast watch %s\n", ans.Broadcast.ID, ans.Broadcast.ID)
	return nil
}

func cmdCompensationVouchers(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("compensation vouchers", "LIST [FILE] [FLAGS]",
		`Uploads voucher codes, one per line, to the page's list LIST (a voucher
offer draws from it: "voucher_list": "LIST"); without FILE shows how many codes
the list has and how many are unused.`)
	pf := addPageFlags(fs)
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		fs.Usage()
		return &usageError{msg: "want LIST and an optional FILE", shown: true}
	}
	c, p, err := a.openPage(ctx, pf)
	if err != nil {
		return err
	}
	path := pagePath(p.ID) + "/voucher-lists/" + url.PathEscape(pos[0])
	var raw []byte
	var ans struct {
		Added  int `json:"added"`
		Total  int `json:"total"`
		Unused int `json:"unused"`
	}
	if len(pos) == 1 {
		err = c.do(ctx, http.MethodGet, path, nil, nil, &ans, &raw)
	} else {
		var b []byte
		if b, err = readInput(a, pos[1]); err != nil {
			return err
		}
		var codes []string
		for _, line := range strings.Split(string(b), "\n") {
			if v := strings.TrimSpace(line); v != "" {
				codes = append(codes, v)
			}
		}
		err = c.do(ctx, http.MethodPost, path, nil, map[string]any{"codes": codes}, &ans, &raw)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.stdout, raw)
	}
	if len(pos) == 2 {
		fmt.Fprintf(a.stdout, "added %d codes; ", ans.Added)
	}
	fmt.Fprintf(a.stdout, "list %s: %d codes, %d unused\n", pos[0], ans.Total, ans.Unused)
	return nil
}

// changesText is a decision's changes in words, one after the other.
func changesText(cs []compensation.Change) string {
	w := compensation.Words("en")
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = w.Change(c)
	}
	return strings.Join(parts, "; ")
}
