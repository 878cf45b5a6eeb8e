package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/incident/wire"
	"github.com/heraldhq/herald/notify"
	"github.com/heraldhq/herald/notify/sms"
	"github.com/heraldhq/herald/queue"
)

// The broadcast commands: customers and their import, subscribers, and a
// broadcast's progress, cancel and dry run.

// importTimeout bounds a customer import: a large file streams for a while.
const importTimeout = 30 * time.Minute

func pagePath(pageID string) string { return "/api/v1/pages/" + url.PathEscape(pageID) }

// ---- import ----

func cmdImport(ctx context.Context, a *app, args []string) error {
	return subcommand(ctx, a, "import", args, map[string]func(context.Context, *app, []string) error{
		"customers": cmdImportCustomers,
	})
}

func cmdImportCustomers(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("import customers", "FILE [--page P] [--skip-invalid] [--format csv|json] [FLAGS]",
		`Imports a page's customers from a CSV or JSON file ("-" reads standard input),
upserting by id: a known id's row replaces the customer, so a column left out or
empty clears that field. CSV is read as UTF-8, or as Windows-1250 (Excel's plain
"CSV" in hu/pl/hr) when its first accented letter is not UTF-8; JSON must be
UTF-8. CSV columns: id,name,phone,email,slack,language,time_zone,plan,
region,components (components separated by ;, by name or id); other columns become
segment attributes. A file with bad rows imports nothing: every bad row is listed
with its line and reason, and the command exits 1. With --skip-invalid the good
rows are imported and the bad ones listed.`)
	pf := addPageFlags(fs)
	skip := fs.Bool("skip-invalid", false, "import the good rows and report the bad ones")
	format := fs.String("format", "", "`FORMAT` csv or json (default: from the file name's extension)")
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	pos, err := parseArgs(fs, args, 1, "FILE")
	if err != nil {
		return err
	}
	f := strings.ToLower(*format)
	if f == "" {
		switch strings.ToLower(filepath.Ext(pos[0])) {
		case ".csv":
			f = "csv"
		case ".json":
			f = "json"
		default:
			return usageErrorf("cannot tell the format of %q: pass --format csv or --format json", pos[0])
		}
	}
	if f != "csv" && f != "json" {
		return usageErrorf("--format: want csv or json, got %q", *format)
	}
	c, p, err := a.openPage(ctx, pf)
	if err != nil {
		return err
	}
	var body io.Reader = a.stdin
	if pos[0] != "-" {
		file, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer file.Close()
		body = file
	}
	q := url.Values{"format": {f}}
	if *skip {
		q.Set("skip_invalid", "true")
	}
	ct := map[string]string{"csv": "text/csv", "json": "application/json"}[f]
	var raw []byte
	err = c.send(ctx, &http.Client{Timeout: importTimeout}, http.MethodPost, pagePath(p.ID)+"/customers/import?"+q.Encode(), nil, ct, body, nil, &raw)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusUnprocessableEntity && len(ae.Body) > 0 {
		raw, err = ae.Body, nil
		var res notify.ImportResult
		if json.Unmarshal(raw, &res) == nil && res.Invalid > 0 {
			if *asJSON {
				_ = printJSON(a.stdout, raw)
			} else {
				a.printImport(&res, true)
			}
			if res.Invalid == 1 {
				return errors.New("1 invalid row; nothing was imported (fix it, or pass --skip-invalid to import the rest)")
			}
			return fmt.Errorf("%d invalid rows; nothing was imported (fix them, or pass --skip-invalid to import the rest)", res.Invalid)
		}
		return ae
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.stdout, raw)
	}
	var res notify.ImportResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("unexpected answer: %w", err)
	}
	a.printImport(&res, false)
	return nil
}

// printImport prints the counts on stdout and each bad row, then each
// row imported without something it gave, on stderr. When the import was
// refused (refused), nothing was imported: the notes then say what those
// rows will lack once the bad rows are fixed.
func (a *app) printImport(res *notify.ImportResult, refused bool) {
	fmt.Fprintf(a.stdout, "created %d, updated %d, invalid %d\n", res.Created, res.Updated, res.Invalid)
	for _, e := range res.Errors {
		field := e.Field
		if field == "" {
			field = "row"
		}
		fmt.Fprintf(a.stderr, "line %d: %s: %s\n", e.Line, field, e.Reason)
	}
	note := "note"
	if refused {
		note = "note, once imported"
	}
	for _, e := range res.Notes {
		fmt.Fprintf(a.stderr, "line %d: %s: %s: %s\n", e.Line, e.Field, note, e.Reason)
	}
}

// ---- customers ----

func cmdCustomers(ctx context.Context, a *app, args []string) error {
	return subcommandOr(ctx, a, "customers", "list", args, map[string]func(context.Context, *app, []string) error{
		"list":       cmdCustomersList,
		"show":       cmdCustomersShow,
		"deliveries": cmdCustomersDeliveries,
	})
}

func cmdCustomersList(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("customers list", "[--after ID] [--limit N] [FLAGS]", "Lists a page's customers by id, 100 at a time.")
	pf := addPageFlags(fs)
	after := fs.String("after", "", "start after customer `ID` (the cursor the previous page printed)")
	limit := fs.Int("limit", 100, "at most `N` customers (1..1000)")
	asJSON := fs.Bool("json", false, "print the customers as JSON")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	c, p, err := a.openPage(ctx, pf)
	if err != nil {
		return err
	}
	q := url.Values{"limit": {strconv.Itoa(*limit)}}
	if *after != "" {
		q.Set("after", *after)
	}
	cs, err := printList(ctx, a, c, pagePath(p.ID)+"/customers?"+q.Encode(), *asJSON, "ID\tNAME\tPHONE\tEMAIL\tSLACK\tLANG\tPLAN",
		func(cu audience.Customer) string {
			return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s", cu.ID, cu.Name, cu.Phone, cu.Email, oneLine(cu.Slack, 40), cu.Language, cu.Plan)
		})
	if err != nil || *asJSON {
		return err
	}
	if len(cs) == *limit {
		fmt.Fprintf(a.stderr, "more: herald customers list --after %s\n", cs[len(cs)-1].ID)
	}
	return nil
}

func cmdCustomersShow(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("customers show", "ID [FLAGS]", "Shows one customer: contacts, language, segments and the components they use, by name.")
	pf := addPageFlags(fs)
	asJSON := fs.Bool("json", false, "print the customer as JSON (component IDs)")
	pos, err := parseArgs(fs, args, 1, "ID (a customer's id)")
	if err != nil {
		return err
	}
	c, p, err := a.openPage(ctx, pf)
	if err != nil {
		return err
	}
	var raw []byte
	if err := c.do(ctx, http.MethodGet, pagePath(p.ID)+"/customers/"+url.PathEscape(pos[0]), nil, nil, nil, &raw); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.stdout, raw)
	}
	var cu audience.Customer
	if err := json.Unmarshal(raw, &cu); err != nil {
		return fmt.Errorf("unexpected answer: %w", err)
	}
	names, err := c.componentNames(ctx, p.ID)
	if err != nil {
		return err
	}
	comps := "all (none listed)"
	if len(cu.Components) > 0 {
		comps = namesOf(names, cu.Components)
	}
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	for _, row := range [][2]string{{"id", cu.ID}, {"name", cu.Name}, {"phone", cu.Phone}, {"email", cu.Email}, {"slack", cu.Slack},
		{"language", cu.Language}, {"time zone", cu.TimeZone}, {"plan", cu.Plan}, {"region", cu.Region}, {"components", comps}} {
		if row[1] != "" {
			fmt.Fprintf(w, "%s:\t%s\n", row[0], oneLine(row[1], 200))
		}
	}
	keys := make([]string, 0, len(cu.Attributes))
	for k := range cu.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s:\t%s\n", oneLine(k, 40), oneLine(cu.Attributes[k], 200))
	}
	return w.Flush()
}

// componentNames maps the page's component IDs to their names.
func (c *client) componentNames(ctx context.Context, pageID string) (map[string]string, error) {
	comps, err := c.components(ctx, pageID)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(comps))
	for _, comp := range comps {
		names[comp.ID] = comp.Name
	}
	return names, nil
}

// namesOf writes component IDs as their names ("Payments, Search"); an ID
// no component has any more stays an ID.
func namesOf(names map[string]string, ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id
		if n := names[id]; n != "" {
			out[i] = n
		}
	}
	return strings.Join(out, ", ")
}

// messageWord names a message as `broadcast list` names its broadcast:
// the first message of an incident is "declared" in both.
func messageWord(mk queue.MessageKind) string {
	switch mk {
	case queue.KindAck:
		return string(incident.BroadcastDeclared)
	case queue.KindUpdate:
		return string(incident.BroadcastUpdated)
	case queue.KindResolved:
		return string(incident.BroadcastResolved)
	case queue.KindMaintenanceScheduled:
		return string(incident.BroadcastScheduled)
	case queue.KindMaintenanceStarted:
		return string(incident.BroadcastStarted)
	case queue.KindMaintenanceCompleted:
		return string(incident.BroadcastCompleted)
	case queue.KindCompensation:
		return string(incident.BroadcastCompensation)
	}
	return string(mk)
}

func cmdCustomersDeliveries(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("customers deliveries", "ID [FLAGS]", "Lists every message sent to a customer, newest first, with its state.")
	pf := addPageFlags(fs)
	limit := fs.Int("limit", 100, "at most `N` deliveries (1..1000)")
	asJSON := fs.Bool("json", false, "print the deliveries as JSON")
	pos, err := parseArgs(fs, args, 1, "ID (a customer's id)")
	if err != nil {
		return err
	}
	c, p, err := a.openPage(ctx, pf)
	if err != nil {
		return err
	}
	path := pagePath(p.ID) + "/customers/" + url.PathEscape(pos[0]) + "/deliveries?limit=" + strconv.Itoa(*limit)
	_, err = printFittedList(ctx, a, c, path, *asJSON, deliveryColumns, func(d queue.Delivery) []string {
		reason := d.Reason
		if d.ErrorCode != "" {
			reason = d.ErrorCode + " " + reason
		}
		if d.State == queue.StateSent || d.State == queue.StateDelivered {
			// The provider's word for success ("250 2.0.0 OK: queued
			// as …") says nothing the state does not; on a narrow
			// terminal it kept the column that tells the messages apart
			// (KIND) from fitting. --json keeps it.
			reason = ""
		}
		return []string{a.atSecond(d.UpdatedAt), printable(string(d.Kind)), printable(messageWord(d.MessageKind)), printable(string(d.State)),
			oneLine(d.Address, 40), printable(d.IncidentID), oneLine(reason, 60)}
	})
	return err
}

// deliveryColumns are a customer's deliveries' columns. On a narrow
// terminal the incident goes first, then the address (one customer's: the
// channel says which), then the kind of message, which tells the rows
// apart (declared, resolved, survey); when, where and why stay, and a
// reason column with nothing in it goes before all of them.
var deliveryColumns = []column{
	{head: "WHEN"}, {head: "CHANNEL"}, {head: "KIND", drop: 1}, {head: "STATE"},
	{head: "TO", cut: 14, drop: 2}, {head: "INCIDENT", drop: 3}, {head: "REASON", cut: 12},
}

// ---- subscribers ----

func cmdSubscribers(ctx context.Context, a *app, args []string) error {
	return subcommandOr(ctx, a, "subscribers", "list", args, map[string]func(context.Context, *app, []string) error{
		"list": cmdSubscribersList,
		"add":  cmdSubscribersAdd,
	})
}

func cmdSubscribersList(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("subscribers list", "[--state S] [--type T] [FLAGS]", "Lists a page's subscribers.")
	pf := addPageFlags(fs)
	state := enumFlag(fs, "state", "`STATE` (default active):", []string{"active", "pending", "unconfirmed", "unsubscribed", "all"})
	kind := enumFlag(fs, "type", "only `TYPE`", channel.Kinds)
	asJSON := fs.Bool("json", false, "print the subscribers as JSON")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	c, p, err := a.openPage(ctx, pf)
	if err != nil {
		return err
	}
	q := url.Values{"limit": {"1000"}}
	if *state != "" {
		q.Set("state", *state)
	}
	if *kind != "" {
		q.Set("type", string(*kind))
	}
	names := map[string]string{}
	if !*asJSON {
		if names, err = c.componentNames(ctx, p.ID); err != nil {
			return err
		}
	}
	_, err = printList(ctx, a, c, pagePath(p.ID)+"/subscribers?"+q.Encode(), *asJSON, "ID\tMODE\tSTATE\tLANG\tADDRESS\tCOMPONENTS", func(s wire.Subscriber) string {
		comps := "all"
		if len(s.ComponentIDs) > 0 {
			comps = oneLine(namesOf(names, s.ComponentIDs), 60)
		}
		return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", s.ID, s.Mode, s.State, s.Language, oneLine(s.Address(), 50), comps)
	})
	return err
}

func cmdSubscribersAdd(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("subscribers add", "(--email X | --phone Y | --webhook URL | --slack URL) [--component C]... [FLAGS]",
		`Subscribes an address to the page (or to the components given). Added by a
manager it is active at once unless --confirm sends the usual opt-in message.`)
	pf := addPageFlags(fs)
	email := fs.String("email", "", "an email `ADDRESS`")
	phone := fs.String("phone", "", "a mobile `NUMBER`, +36201234567 (or national with --country)")
	country := fs.String("country", "", "`REGION` of a national phone number, e.g. HU")
	hook := fs.String("webhook", "", "a webhook `URL` (Statuspage's payload)")
	slackURL := fs.String("slack", "", "a Slack incoming-webhook `URL`")
	lang := fs.String("language", "", "`LANG` en, hu, pl or hr (default: the page's)")
	confirm := fs.Bool("confirm", false, "send the opt-in message and keep the subscriber pending until confirmed")
	var comps []string
	fs.Func("component", "only incidents affecting component `NAME` or ID (repeatable)", func(v string) error {
		comps = append(comps, v)
		return nil
	})
	asJSON := fs.Bool("json", false, "print the subscriber as JSON")
	quiet := fs.Bool("q", false, "print only the subscriber ID")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	sub := &wire.SubscriberFields{SkipConfirmationNotification: !*confirm}
	n := 0
	if *email != "" {
		sub.Email, n = email, n+1
	}
	if *phone != "" {
		sub.PhoneNumber, n = phone, n+1
		sub.PhoneCountry = wire.Nullable(*country)
	}
	if *hook != "" {
		sub.Endpoint, n = hook, n+1
	}
	if *slackURL != "" {
		slack := "slack"
		sub.Endpoint, sub.Mode, n = slackURL, &slack, n+1
	}
	if n != 1 {
		fs.Usage()
		return &usageError{msg: "give exactly one of --email, --phone, --webhook or --slack", shown: true}
	}
	sub.Language = wire.Nullable(*lang)
	c, p, err := a.openPage(ctx, pf)
	if err != nil {
		return err
	}
	if len(comps) > 0 {
		all, err := c.components(ctx, p.ID)
		if err != nil {
			return err
		}
		ids := make([]string, 0, len(comps))
		for _, name := range comps {
			id, err := findComponentID(all, name)
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		sub.ComponentIDs = ids
	}
	var raw []byte
	var out wire.Subscriber
	if err := c.do(ctx, http.MethodPost, pagePath(p.ID)+"/subscribers", nil, wire.SubscriberRequest{Subscriber: sub}, &out, &raw); err != nil {
		return err
	}
	switch {
	case *asJSON:
		return printJSON(a.stdout, raw)
	case *quiet:
		fmt.Fprintln(a.stdout, out.ID)
	default:
		fmt.Fprintf(a.stdout, "subscribed %s %s %s (%s)\n", out.ID, out.Mode, out.Address(), out.State)
	}
	return nil
}

// ---- broadcasts ----

func cmdBroadcast(ctx context.Context, a *app, args []string) error {
	return subcommand(ctx, a, "broadcast", args, map[string]func(context.Context, *app, []string) error{
		"watch":   cmdBroadcastWatch,
		"list":    cmdBroadcastList,
		"cancel":  cmdBroadcastCancel,
		"dry-run": cmdBroadcastDryRun,
	})
}

func cmdBroadcastWatch(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("broadcast watch", "BROADCAST [FLAGS]",
		"Follows a broadcast's progress per channel until it is done. Ctrl-C stops watching, not the broadcast.")
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args, 1, "BROADCAST (a broadcast ID)")
	if err != nil {
		return err
	}
	c, err := cf.client(a.getenv)
	if err != nil {
		return err
	}
	return a.watch(ctx, c, pos[0], a.stdout)
}

func cmdBroadcastList(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("broadcast list", "INCIDENT [FLAGS]", "Lists an incident's broadcasts, oldest first, with their counts.")
	pf := addIncidentPageFlags(fs)
	asJSON := fs.Bool("json", false, "print the broadcasts as JSON")
	quiet := fs.Bool("q", false, "print only the broadcasts' IDs, one a line, oldest first (the newest is the last line)")
	pos, err := parseArgs(fs, args, 1, "INCIDENT (an incident ID)")
	if err != nil {
		return err
	}
	c, p, inc, err := a.openIncident(ctx, pf, pos[0])
	if err != nil {
		return err
	}
	path := pagePath(p.ID) + "/incidents/" + url.PathEscape(inc.ID) + "/broadcasts"
	if *quiet && !*asJSON {
		var list []queue.Progress
		if err := c.do(ctx, http.MethodGet, path, nil, nil, &list, nil); err != nil {
			return err
		}
		for _, pr := range list {
			fmt.Fprintln(a.stdout, printable(pr.BroadcastID))
		}
		return nil
	}
	_, err = showList(ctx, a, c, path, *asJSON, func(list []queue.Progress) error {
		// Which incident, by name: the name is cut to fit, not the rest.
		tail := fmt.Sprintf(" (%s, %s): %d %s", inc.ID, inc.Status, len(list), map[bool]string{true: "broadcast", false: "broadcasts"}[len(list) == 1])
		name := oneLine(inc.Name, 200)
		if w := a.tableWidth(); w > 0 {
			name = cutTo(name, max(12, w-utf8.RuneCountInString(tail)-2))
		}
		fmt.Fprintf(a.stdout, "%q%s\n", name, tail)
		rows := make([][]string, len(list))
		for i := range list {
			rows[i] = a.broadcastRow(&list[i])
		}
		return a.printFitted(broadcastColumns, rows)
	})
	return err
}

// broadcastColumns are an incident's broadcasts' columns. MESSAGES says
// how many were planned and what became of them, in words that add up to
// it ("5: 1 delivered, 2 sent, 2 collapsed"): seven number columns did
// not fit 80 columns, and left collapsed and cancelled messages out. On a narrow
// terminal the time goes first, then the kind; MESSAGES is cut with "…"
// only when that is not enough.
var broadcastColumns = []column{
	{head: "ID"}, {head: "KIND", drop: 1}, {head: "STATE"}, {head: "CREATED", drop: 2},
	{head: "MESSAGES", cut: 20, whole: true},
}

// broadcastRow is one broadcast's cells under broadcastColumns.
func (a *app) broadcastRow(pr *queue.Progress) []string {
	t := totals(pr)
	// What it is doing: "done" only once every message is out, not
	// once every message is queued (the plan's own state).
	state := pr.Phase()
	if state == string(queue.PlanPending) {
		state = "planning"
	}
	return []string{printable(pr.BroadcastID), printable(string(pr.Kind)), printable(state), a.atSecond(pr.CreatedAt),
		fmt.Sprintf("%d: %s", max(pr.Planned, t.total), messageCounts(t))}
}

// messageCounts writes a tally's counts that are not zero, failures first,
// then what went out, then what did not: "1 failed, 1 delivered, 2 sent,
// 2 collapsed"; "-" when there is none yet.
func messageCounts(t tally) string {
	var parts []string
	for _, c := range []struct {
		n    int
		word string
	}{{t.failed, "failed"}, {t.delivered, "delivered"}, {t.sent, "sent"}, {t.open, "pending"},
		{t.suppressed, "suppressed"}, {t.collapsed, "collapsed"}, {t.cancelled, "cancelled"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.word))
		}
	}
	if other := t.total - (t.failed + t.delivered + t.sent + t.open + t.suppressed + t.collapsed + t.cancelled); other > 0 {
		parts = append(parts, fmt.Sprintf("%d other", other))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func cmdBroadcastCancel(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("broadcast cancel", "BROADCAST [FLAGS]", "Cancels a broadcast: messages not yet sent are not sent (those in flight finish).")
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args, 1, "BROADCAST (a broadcast ID)")
	if err != nil {
		return err
	}
	c, err := cf.client(a.getenv)
	if err != nil {
		return err
	}
	var pr queue.Progress
	if err := c.do(ctx, http.MethodPost, "/api/v1/broadcasts/"+url.PathEscape(pos[0])+"/cancel", nil, nil, &pr, nil); err != nil {
		return err
	}
	t := totals(&pr)
	if t.cancelled == 0 && t.open == 0 {
		// Everything had gone out already: say so, not "cancelled".
		fmt.Fprintf(a.stdout, "nothing left to cancel: broadcast %s had gone out (%d sent, %d failed, %d suppressed)\n", pr.BroadcastID, t.sent+t.delivered, t.failed, t.suppressed)
		return nil
	}
	fmt.Fprintf(a.stdout, "cancelled %s: %d sent, %d cancelled\n", pr.BroadcastID, t.sent+t.delivered, t.cancelled)
	return nil
}

func cmdBroadcastDryRun(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("broadcast dry-run", "INCIDENT [--kind KIND] [FLAGS]",
		`Shows what broadcasting the incident's newest update would do, without sending:
recipients per channel, SMS segments and an estimated cost, and a sample message
per channel and language.`)
	pf := addIncidentPageFlags(fs)
	kind := enumFlag(fs, "kind", "the broadcast's `KIND` (default: what the incident's state suggests):", incident.BroadcastKinds)
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	pos, err := parseArgs(fs, args, 1, "INCIDENT (an incident ID)")
	if err != nil {
		return err
	}
	c, p, inc, err := a.openIncident(ctx, pf, pos[0])
	if err != nil {
		return err
	}
	path := pagePath(p.ID) + "/incidents/" + url.PathEscape(inc.ID) + "/dry-run"
	if *kind != "" {
		path += "?kind=" + url.QueryEscape(string(*kind))
	}
	var raw []byte
	var res notify.DryRunResult
	if err := c.do(ctx, http.MethodGet, path, nil, nil, &res, &raw); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.stdout, raw)
	}
	return a.printDryRun(&res, inc.Name, inc.ID)
}

// printDryRun prints what a broadcast would do: recipients per channel,
// the SMS cost, and a sample message per channel and language.
func (a *app) printDryRun(res *notify.DryRunResult, name, incidentID string) error {
	w := a.stdout
	if incidentID == "" {
		fmt.Fprintf(w, "dry run of declaring %q (nothing is declared or sent)\n\n", name)
	} else {
		fmt.Fprintf(w, "dry run of %q (%s) for incident %s\n\n", res.Kind, name, incidentID)
	}
	_ = printTable(w, "CHANNEL\tRECIPIENTS\tSUPPRESSED", channelKinds, func(k channel.Kind) string {
		return fmt.Sprintf("%s\t%d\t%d", k, res.Recipients[k], res.Suppressed[k])
	})
	fmt.Fprintf(w, "\nSMS: %d segments, estimated cost %.2f %s\n", res.SMSSegments, res.EstimatedCost, res.Currency)
	if res.Note != "" {
		fmt.Fprintln(w, res.Note) // a declaration's: its links carry a placeholder ID
	}
	for _, k := range channelKinds {
		langs := make([]string, 0, len(res.Samples[k]))
		for l := range res.Samples[k] {
			langs = append(langs, l)
		}
		sort.Strings(langs)
		for _, l := range langs {
			m := res.Samples[k][l]
			if m == nil {
				continue
			}
			fmt.Fprintf(w, "\n--- %s, %s ---\n", k, l)
			if m.Subject != "" {
				fmt.Fprintf(w, "Subject: %s\n", m.Subject)
			}
			text := m.Text
			if k == channel.Webhook && len(m.Payload) > 0 {
				text = oneLine(string(m.Payload), 300)
			}
			if k == channel.SMS {
				enc, chars, segs := sms.Segments(text)
				fmt.Fprintf(w, "(%d characters, %s, %d %s)\n", chars, enc, segs, map[bool]string{true: "segment", false: "segments"}[segs == 1])
			}
			fmt.Fprintln(w, strings.TrimSpace(text))
		}
	}
	return nil
}

// channelKinds is the display order of the channels.
var channelKinds = []channel.Kind{channel.SMS, channel.Email, channel.Slack, channel.Webhook}
