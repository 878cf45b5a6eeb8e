package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident/wire"
)

// The complaint commands: list, show, record, assign, tag, untag, note,
// reply, state, resolve and stats, through /api/v1/pages/{page}/complaints
// with incident/wire's shapes.

func complaintsPath(pageID, id string) string {
	p := pagePath(pageID) + "/complaints"
	if id != "" {
		p += "/" + url.PathEscape(id)
	}
	return p
}

func cmdComplaints(ctx context.Context, a *app, args []string) error {
	return subcommandOr(ctx, a, "complaints", "list", args, map[string]func(context.Context, *app, []string) error{
		"list":    cmdComplaintsList,
		"show":    cmdComplaintsShow,
		"record":  cmdComplaintsRecord,
		"assign":  cmdComplaintsAssign,
		"tag":     cmdComplaintsTag,
		"untag":   cmdComplaintsUntag,
		"note":    cmdComplaintsNote,
		"reply":   cmdComplaintsReply,
		"state":   cmdComplaintsState,
		"resolve": cmdComplaintsResolve,
		"stats":   cmdComplaintsStats,
	})
}

// who is a complaint's contact in a few words.
func who(ct wire.ComplaintContact) string {
	parts := []string{}
	for _, v := range []string{ct.Name, ct.Phone, ct.Email, ct.Slack} {
		if v != "" {
			parts = append(parts, v)
		}
	}
	if ct.CustomerID != "" {
		parts = append(parts, "customer "+ct.CustomerID)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shortTime writes t in the page's time zone, named, as the server's
// words beside it (a tag's reason) speak it; "-" for no time.
func (a *app) shortTime(t wire.Time) string {
	if t.IsZero() {
		return "-"
	}
	return a.at(t.Time())
}

func complaintIncident(cp wire.Complaint) string {
	if cp.Tag == nil {
		return "-"
	}
	return cp.Tag.IncidentID
}

// incidentNames returns a lookup of an incident's name by ID on page,
// asking the server once per incident; an incident it cannot read is
// shown by its ID. People read names; --json keeps the IDs.
func incidentNames(ctx context.Context, c *client, pageID string) func(id string) string {
	names := map[string]string{}
	return func(id string) string {
		if id == "" || id == "-" {
			return id
		}
		if n, ok := names[id]; ok {
			return n
		}
		var inc wire.V1Incident
		name := id
		if err := c.do(ctx, http.MethodGet, "/api/v1/pages/"+url.PathEscape(pageID)+"/incidents/"+url.PathEscape(id), nil, nil, &inc, nil); err == nil && inc.Name != "" {
			name = inc.Name
		}
		names[id] = name
		return name
	}
}

func cmdComplaintsList(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("complaints list", "[--open] [--state S] [--incident ID] [--untagged] [--owner A] [FLAGS]",
		"Lists a page's complaints, newest first.")
	pf := addPageFlags(fs)
	state := enumListFlag(fs, "state", "only `STATES` (comma-separated):", complaint.States)
	open := fs.Bool("open", false, "only open complaints")
	inc := fs.String("incident", "", "only those tagged to incident `ID`")
	untagged := fs.Bool("untagged", false, "only those waiting in triage")
	owner := fs.String("owner", "", "only those `AGENT` owns")
	customer := fs.String("customer", "", "only customer `ID`'s")
	ch := enumFlag(fs, "channel", "only `CHANNEL`", complaint.Channels)
	cat := enumFlag(fs, "category", "only `CATEGORY`", complaint.Categories)
	from := fs.String("from", "", "created from `TIME` (2026-12-04, the page's midnight, or RFC 3339)")
	to := fs.String("to", "", "created up to `TIME` (a date includes its day, the page's)")
	limit := fs.Int("limit", 100, "at most `N` complaints (1..1000)")
	offset := fs.Int("offset", 0, "skip the first `N`")
	asJSON := fs.Bool("json", false, "print the complaints as JSON")
	quiet := fs.Bool("q", false, "print only the complaints' references (C-…), newest first")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	c, p, err := a.openPage(ctx, pf)
	if err != nil {
		return err
	}
	q := url.Values{"limit": {strconv.Itoa(*limit)}}
	for k, v := range map[string]string{"state": *state, "incident_id": *inc, "owner": *owner, "customer_id": *customer,
		"channel": string(*ch), "category": string(*cat), "from": *from, "to": *to} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if *open {
		q.Set("open", "true")
	}
	if *untagged {
		q.Set("untagged", "true")
	}
	if *offset > 0 {
		q.Set("offset", strconv.Itoa(*offset))
	}
	if *quiet && !*asJSON {
		var cs []wire.Complaint
		if err := c.do(ctx, http.MethodGet, complaintsPath(p.ID, "")+"?"+q.Encode(), nil, nil, &cs, nil); err != nil {
			return err
		}
		for _, cp := range cs {
			fmt.Fprintln(a.stdout, cp.Ref)
		}
		return nil
	}
	name := incidentNames(ctx, c, p.ID)
	_, err = printFittedList(ctx, a, c, complaintsPath(p.ID, "")+"?"+q.Encode(), *asJSON, complaintColumns,
		func(cp wire.Complaint) []string {
			state := cp.State
			if cp.Repeat {
				state += " (repeat)"
			}
			return []string{printable(cp.ID), printable(cp.Ref), printable(state), printable(cp.Channel), oneLine(who(cp.Contact), 40),
				oneLine(name(complaintIncident(cp)), 30), oneLine(dash(cp.Owner), 30), a.shortTime(cp.CreatedAt), oneLine(cp.Text, 50)}
		})
	return err
}

// complaintColumns are the complaint list's columns. On a narrow terminal
// the ID goes first (the reference names a complaint as well), then the
// channel, the owner, the time and the incident; who and what they said
// stay, cut.
var complaintColumns = []column{
	{head: "ID", drop: 6}, {head: "REF"}, {head: "STATE", cut: 12}, {head: "CHANNEL", drop: 5},
	{head: "FROM", cut: 14}, {head: "INCIDENT", cut: 10, drop: 2}, {head: "OWNER", cut: 8, drop: 4},
	{head: "CREATED", drop: 3}, {head: "TEXT", cut: 16},
}

// printComplaint prints a complaint for people: the record, the tag and
// its reason, the promises, then the timeline when it has one. names maps
// component IDs to names (nil: the IDs are shown).
func (a *app) printComplaint(cp wire.Complaint, names map[string]string) {
	w := newTable(a.stdout)
	row := func(k, v string) { fmt.Fprintf(w, "%s:\t%s\n", k, printable(v)) }
	row("complaint", cp.ID+" ("+cp.Ref+")")
	state := cp.State
	if cp.HoldOpen {
		state += ", held open"
	}
	row("state", state)
	row("from", who(cp.Contact)+" via "+cp.Channel+", in "+dash(cp.Language))
	row("category", cp.Category+", asks for "+cp.Ask+", severity "+cp.Severity)
	row("owner", dash(cp.Owner))
	switch {
	case cp.Tag != nil:
		row("incident", fmt.Sprintf("%s (confidence %.2f): %s", cp.Tag.IncidentID, cp.Tag.Confidence, cp.Tag.Reason))
	case cp.Suggestion != nil:
		row("incident", fmt.Sprintf("untagged; best guess %s (confidence %.2f): %s", cp.Suggestion.IncidentID, cp.Suggestion.Confidence, cp.Suggestion.Reason))
	default:
		row("incident", "untagged")
	}
	if len(cp.Components) > 0 {
		row("components", namesOf(names, cp.Components))
	}
	if cp.Repeat {
		refs := make([]string, len(cp.RepeatOf))
		for i, id := range cp.RepeatOf {
			refs[i] = complaint.NewRef(id) + " (" + id + ")"
		}
		row("repeat of", strings.Join(refs, ", "))
	}
	if cp.Promise != "" {
		row("promised", oneLine(cp.Promise, 100))
	}
	row("first answer", "due "+a.shortTime(cp.FirstAnswerDue)+", given "+a.shortTime(cp.FirstAnswerAt))
	row("resolution", "due "+a.shortTime(cp.ResolveDue)+", done "+a.shortTime(cp.ResolvedAt))
	if cp.Remedy != "" {
		row("outcome", cp.Remedy+": "+oneLine(cp.Outcome, 100))
	}
	row("text", oneLine(cp.Text, 200))
	_ = w.Flush()
	if len(cp.Timeline) == 0 {
		return
	}
	fmt.Fprintln(a.stdout, "\ntimeline:")
	w = newTable(a.stdout)
	for _, e := range cp.Timeline {
		kind := e.Kind
		if e.Channel != "" {
			kind += " (" + e.Channel + ")"
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", a.shortTime(e.At), kind, oneLine(e.Actor, 30), oneLine(e.Text, 100))
	}
	_ = w.Flush()
}

func cmdComplaintsShow(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("complaints show", "ID [FLAGS]", "Shows a complaint with its whole timeline.")
	pf := addPageFlags(fs)
	asJSON := fs.Bool("json", false, "print the complaint as JSON")
	pos, err := parseArgs(fs, args, 1, "ID (a complaint's id)")
	if err != nil {
		return err
	}
	c, p, err := a.openPage(ctx, pf)
	if err != nil {
		return err
	}
	var raw []byte
	var cp wire.Complaint
	if err := c.do(ctx, http.MethodGet, complaintsPath(p.ID, pos[0]), nil, nil, &cp, &raw); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.stdout, raw)
	}
	a.printComplaint(cp, componentNames(ctx, c, p.ID))
	return nil
}

// complaintCall sends body to a complaint's route and prints the answer:
// done (a line for people) or the JSON.
func (a *app) complaintCall(ctx context.Context, pf *pageFlags, asJSON bool, method, path string, body any, done func(wire.Complaint) string) error {
	c, p, err := a.openPage(ctx, pf)
	if err != nil {
		return err
	}
	var raw []byte
	var cp wire.Complaint
	if err := c.do(ctx, method, complaintsPath(p.ID, "")+path, nil, body, &cp, &raw); err != nil {
		return err
	}
	if asJSON {
		return printJSON(a.stdout, raw)
	}
	fmt.Fprintln(a.stdout, done(cp))
	return nil
}

// actionFlags parses a complaint action's flags and n positional arguments.
func (a *app) actionFlags(name, synopsis, about string, n int, what string, args []string, extra func(fs *flag.FlagSet)) (*pageFlags, *bool, []string, error) {
	fs := a.newFlagSet("complaints "+name, synopsis, about)
	pf := addPageFlags(fs)
	asJSON := fs.Bool("json", false, "print the complaint as JSON")
	if extra != nil {
		extra(fs)
	}
	pos, err := parseArgs(fs, args, n, what)
	return pf, asJSON, pos, err
}

func cmdComplaintsRecord(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("complaints record", "--text WORDS (--customer ID | --phone P | --email E | --name N) [FLAGS]",
		`Records a complaint by the standard scheme: a phone call you took (the default
channel; you own it), or one that came in another way. Who: a customer by id,
or an unknown caller's phone, email, Slack user and name. What: their own words
(--text), the category, what they ask for, the severity, what you promised.
When: --at, for a call you record after taking it (default now).`)
	pf := addPageFlags(fs)
	var r wire.ComplaintRecord
	r.Channel = string(complaint.Phone)
	enumStringVar(fs, &r.Channel, "channel", "`CHANNEL`", complaint.Channels)
	fs.StringVar(&r.Contact.CustomerID, "customer", "", "the customer's `ID`")
	fs.StringVar(&r.Contact.Phone, "phone", "", "the caller's `NUMBER` (+36201234567)")
	fs.StringVar(&r.Contact.Email, "email", "", "the caller's email `ADDRESS`")
	fs.StringVar(&r.Contact.Slack, "slack", "", "the caller's Slack user `ID`")
	fs.StringVar(&r.Contact.Name, "name", "", "the caller's `NAME`")
	fs.StringVar(&r.Text, "text", "", "what the customer says, in their `WORDS`")
	enumStringVar(fs, &r.Category, "category", "`CATEGORY` (default: outage when tagged, else other):", complaint.Categories)
	enumStringVar(fs, &r.Ask, "ask", "what they ask for: `ASK`", complaint.Asks)
	enumStringVar(fs, &r.Severity, "severity", "`SEVERITY`", complaint.Severities)
	fs.StringVar(&r.Promise, "promise", "", "what you `PROMISED`")
	fs.StringVar(&r.IncidentID, "incident", "", "tag it to incident `ID`")
	fs.StringVar(&r.Owner, "owner", "", "give it to `AGENT` (default: you, for a call)")
	at := fs.String("at", "", "when they called or wrote: RFC 3339 `TIME`, now, or a duration from now such as -45m")
	var comps componentSpecs
	fs.Var(&comps, "component", "a component it concerns, by `NAME` or id (repeatable)")
	asJSON := fs.Bool("json", false, "print the complaint as JSON")
	quiet := fs.Bool("q", false, "print only the complaint's reference (C-…)")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	if strings.TrimSpace(r.Text) == "" {
		fs.Usage()
		return &usageError{msg: "--text is required: what the customer says", shown: true}
	}
	if *at != "" {
		t, err := parseWhen(*at, time.Now().UTC().Truncate(time.Second))
		if err != nil {
			return usageErrorf("--at: %v", err)
		}
		s := t.UTC().Format(time.RFC3339)
		r.At = &s
	}
	c, p, err := a.openPage(ctx, pf)
	if err != nil {
		return err
	}
	if _, ids, err := c.resolveComponents(ctx, p.ID, comps); err != nil {
		return err
	} else {
		r.Components = ids
	}
	var raw []byte
	var cp wire.Complaint
	if err := c.do(ctx, http.MethodPost, complaintsPath(p.ID, ""), nil, r, &cp, &raw); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.stdout, raw)
	}
	if *quiet {
		fmt.Fprintln(a.stdout, cp.Ref)
		return nil
	}
	fmt.Fprintf(a.stdout, "recorded complaint %s (%s), %s, owner %s\n", cp.ID, cp.Ref, cp.State, dash(cp.Owner))
	if cp.Tag != nil {
		fmt.Fprintf(a.stdout, "tagged to %s: %s\n", cp.Tag.IncidentID, cp.Tag.Reason)
	}
	return nil
}

func cmdComplaintsAssign(ctx context.Context, a *app, args []string) error {
	pf, asJSON, pos, err := a.actionFlags("assign", "ID AGENT [FLAGS]", `Gives a complaint to AGENT ("" leaves it unassigned). The new owner sees the whole timeline. `+
		`It changes hands only if nobody else took it between reading and assigning; if someone did, nothing changes and the command says who has it (run it again to take it from them).`, 2, "ID and AGENT", args, nil)
	if err != nil {
		return err
	}
	c, p, err := a.openPage(ctx, pf)
	if err != nil {
		return err
	}
	// The owner as read now: the assignment is conditional on it.
	var cur wire.Complaint
	if err := c.do(ctx, http.MethodGet, complaintsPath(p.ID, pos[0]), nil, nil, &cur, nil); err != nil {
		return err
	}
	from := cur.Owner
	return a.complaintCall(ctx, pf, *asJSON, http.MethodPost, "/"+url.PathEscape(pos[0])+"/assign", wire.ComplaintAssign{Owner: &pos[1], From: &from},
		func(cp wire.Complaint) string { return fmt.Sprintf("%s (%s) is %s's", cp.ID, cp.Ref, dash(cp.Owner)) })
}

func cmdComplaintsTag(ctx context.Context, a *app, args []string) error {
	pf, asJSON, pos, err := a.actionFlags("tag", "ID INCIDENT [FLAGS]", "Tags a complaint to an incident (or re-tags it): the incident's resolution answers it.", 2, "ID and INCIDENT", args, nil)
	if err != nil {
		return err
	}
	return a.complaintCall(ctx, pf, *asJSON, http.MethodPost, "/"+url.PathEscape(pos[0])+"/tag", wire.ComplaintTagRequest{IncidentID: &pos[1]},
		func(cp wire.Complaint) string {
			return fmt.Sprintf("%s (%s) tagged to %s", cp.ID, cp.Ref, complaintIncident(cp))
		})
}

func cmdComplaintsUntag(ctx context.Context, a *app, args []string) error {
	pf, asJSON, pos, err := a.actionFlags("untag", "ID [FLAGS]", "Untags a complaint: it waits in triage, and no incident's resolution answers it.", 1, "ID", args, nil)
	if err != nil {
		return err
	}
	return a.complaintCall(ctx, pf, *asJSON, http.MethodPost, "/"+url.PathEscape(pos[0])+"/tag", wire.ComplaintTagRequest{},
		func(cp wire.Complaint) string { return fmt.Sprintf("%s (%s) untagged", cp.ID, cp.Ref) })
}

func cmdComplaintsNote(ctx context.Context, a *app, args []string) error {
	pf, asJSON, pos, err := a.actionFlags("note", "ID TEXT [FLAGS]", "Adds an internal note; the customer never sees it.", 2, "ID and TEXT", args, nil)
	if err != nil {
		return err
	}
	return a.complaintCall(ctx, pf, *asJSON, http.MethodPost, "/"+url.PathEscape(pos[0])+"/notes", wire.ComplaintText{Text: pos[1]},
		func(cp wire.Complaint) string { return fmt.Sprintf("note added to %s (%s)", cp.ID, cp.Ref) })
}

func cmdComplaintsReply(ctx context.Context, a *app, args []string) error {
	pf, asJSON, pos, err := a.actionFlags("reply", "ID TEXT [FLAGS]", "Sends TEXT to the customer, on the channel they used.", 2, "ID and TEXT", args, nil)
	if err != nil {
		return err
	}
	return a.complaintCall(ctx, pf, *asJSON, http.MethodPost, "/"+url.PathEscape(pos[0])+"/reply", wire.ComplaintText{Text: pos[1]},
		func(cp wire.Complaint) string {
			return fmt.Sprintf("reply queued to %s (%s), now %s", who(cp.Contact), cp.Ref, cp.State)
		})
}

func cmdComplaintsState(ctx context.Context, a *app, args []string) error {
	var fs *flag.FlagSet
	pf, asJSON, pos, err := a.actionFlags("state", "ID STATE [FLAGS]",
		"Moves a complaint to STATE: "+joinStrings(movableStates)+"; in_progress again reopens a resolved or closed one. Resolve with `herald complaints resolve`.",
		2, "ID and STATE", args, func(f *flag.FlagSet) { fs = f })
	if err != nil {
		return err
	}
	if to := complaint.State(pos[1]); !slices.Contains(movableStates, to) {
		fs.Usage()
		if to == complaint.StateResolved {
			return &usageError{msg: "resolving needs an outcome and a remedy: herald complaints resolve ID --remedy R --outcome TEXT", shown: true}
		}
		return &usageError{msg: fmt.Sprintf("unknown STATE %q: want one of %s", pos[1], joinStrings(movableStates)), shown: true}
	}
	return a.complaintCall(ctx, pf, *asJSON, http.MethodPost, "/"+url.PathEscape(pos[0])+"/state", wire.ComplaintState{State: pos[1]},
		func(cp wire.Complaint) string { return fmt.Sprintf("%s (%s) is %s", cp.ID, cp.Ref, cp.State) })
}

// movableStates are the states `complaints state` moves a complaint to:
// new is only where one starts, and resolving takes a remedy and an
// outcome (complaints resolve).
var movableStates = []complaint.State{complaint.StateAcknowledged, complaint.StateInProgress, complaint.StateWaitingOnCustomer, complaint.StateClosed}

func cmdComplaintsResolve(ctx context.Context, a *app, args []string) error {
	var remedy *complaint.Remedy
	var outcome *string
	var fs *flag.FlagSet
	pf, asJSON, pos, err := a.actionFlags("resolve", "ID --remedy R --outcome TEXT [FLAGS]",
		"Resolves a complaint with the remedy given and a written outcome, which the customer is sent.", 1, "ID", args,
		func(f *flag.FlagSet) {
			fs = f
			remedy = enumFlag(fs, "remedy", "`REMEDY` (required):", complaint.Remedies)
			outcome = fs.String("outcome", "", "what was done, in `WORDS` the customer can read (required)")
		})
	if err != nil {
		return err
	}
	switch {
	case *remedy == "":
		fs.Usage()
		return &usageError{msg: "--remedy is required: one of " + joinStrings(complaint.Remedies), shown: true}
	case strings.TrimSpace(*outcome) == "":
		fs.Usage()
		return &usageError{msg: "--outcome is required: what was done, in words the customer can read", shown: true}
	}
	return a.complaintCall(ctx, pf, *asJSON, http.MethodPost, "/"+url.PathEscape(pos[0])+"/resolve", wire.ComplaintResolve{Remedy: string(*remedy), Outcome: *outcome},
		func(cp wire.Complaint) string {
			return fmt.Sprintf("%s (%s) resolved (%s); the outcome is on its way to %s", cp.ID, cp.Ref, cp.Remedy, who(cp.Contact))
		})
}

func cmdComplaintsStats(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("complaints stats", "[--from T] [--to T] [--format text|csv|json] [FLAGS]",
		`The complaint evaluation over complaints created in [--from, --to) (default:
the last 30 days): counts by channel, category, incident and state, tagged and
untagged, repeats, remedies, time to acknowledgement, first answer and
resolution (p50/p90), SLA kept, and the open backlog by age. The survey's
follow-up calls (category follow_up) are counted apart, in none of these.`)
	pf := addPageFlags(fs)
	from := fs.String("from", "", "from `TIME` (2026-12-01, the page's midnight, or RFC 3339)")
	to := fs.String("to", "", "until `TIME` (default now; a date includes its day, the page's, as report period reads it)")
	format := fs.String("format", "text", "`FORMAT` text, csv or json")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	f := strings.ToLower(*format)
	if f != "text" && f != "csv" && f != "json" {
		return usageErrorf("--format: want text, csv or json, got %q", *format)
	}
	c, p, err := a.openPage(ctx, pf)
	if err != nil {
		return err
	}
	q := url.Values{}
	if *from != "" {
		q.Set("from", *from)
	}
	if *to != "" {
		q.Set("to", *to)
	}
	if f == "csv" {
		q.Set("format", "csv")
	}
	var raw []byte
	var st wire.ComplaintStats
	var out any = &st
	if f == "csv" {
		out = nil
	}
	if err := c.do(ctx, http.MethodGet, complaintsPath(p.ID, "")+"/stats?"+q.Encode(), nil, nil, out, &raw); err != nil {
		return err
	}
	switch f {
	case "csv":
		_, err := a.stdout.Write(raw)
		return err
	case "json":
		return printJSON(a.stdout, raw)
	}
	a.printStats(st, incidentNames(ctx, c, p.ID))
	return nil
}

// printStats prints the evaluation for people.
func (a *app) printStats(st wire.ComplaintStats, incidentName func(string) string) {
	fmt.Fprintf(a.stdout, "complaints %s – %s\n\n", a.shortTime(st.From), a.shortTime(st.To))
	w := newTable(a.stdout)
	pct := func(v float64) string { return strconv.FormatFloat(v*100, 'f', 1, 64) + "%" }
	dur := func(p wire.Percentiles) string {
		if p.N == 0 || p.P50 == nil || p.P90 == nil {
			return "none yet"
		}
		d := func(s float64) string { return (time.Duration(s * float64(time.Second))).Round(time.Second).String() }
		return fmt.Sprintf("p50 %s, p90 %s (n=%d)", d(*p.P50), d(*p.P90), p.N)
	}
	repeats, sla := "no complaints", "none judged yet: no promise has come due"
	if st.RepeatRate != nil {
		repeats = pct(*st.RepeatRate) + " of " + strconv.Itoa(st.Total)
	}
	if st.SLAKept != nil {
		sla = fmt.Sprintf("%s of %d judged", pct(*st.SLAKept), st.SLAJudged)
	}
	fmt.Fprintf(w, "total:\t%d\n", st.Total)
	fmt.Fprintf(w, "tagged / untagged:\t%d / %d\n", st.Tagged, st.Untagged)
	fmt.Fprintf(w, "repeats:\t%d (%s)\n", st.Repeats, repeats)
	fmt.Fprintf(w, "SLA kept:\t%s\n", sla)
	fmt.Fprintf(w, "acknowledgement:\t%s\n", dur(st.Acknowledgement))
	fmt.Fprintf(w, "first answer:\t%s\n", dur(st.FirstAnswer))
	fmt.Fprintf(w, "resolution:\t%s\n", dur(st.Resolution))
	for _, m := range []struct {
		name string
		v    map[string]int
	}{{"by channel", st.ByChannel}, {"by category", st.ByCategory}, {"by incident", byName(st.ByIncident, incidentName)},
		{"by state", st.ByState}, {"remedies", st.Remedies}, {"open backlog", st.Backlog}} {
		fmt.Fprintf(w, "%s:\t%s\n", m.name, counts(m.v))
	}
	fmt.Fprintf(w, "follow-up calls after the survey:\t%d (not complaints: in none of the above)\n", st.FollowUps)
	_ = w.Flush()
}

// byName keys counts by name(key) instead of the key (incident IDs by
// their names); two keys of one name add up.
func byName(m map[string]int, name func(string) string) map[string]int {
	out := make(map[string]int, len(m))
	for k, n := range m {
		out[name(k)] += n
	}
	return out
}

// counts writes a map as "a 3, b 1", largest first.
func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func joinStrings[T ~string](list []T) string {
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = string(x)
	}
	return strings.Join(out, ", ")
}
