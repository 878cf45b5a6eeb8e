package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/incident/wire"
	"github.com/heraldhq/herald/notify"
)

// The API commands: each parses its flags, calls the management API of a
// running server and prints a short human answer (or the raw JSON with --json).

func incidentPath(pageID, id string) string {
	p := "/v1/pages/" + url.PathEscape(pageID) + "/incidents"
	if id != "" {
		p += "/" + url.PathEscape(id)
	}
	return p
}

// printJSON indents raw JSON onto w.
func printJSON(w io.Writer, raw []byte) error {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		_, err = w.Write(raw)
		return err
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

// newTable is a writer for the CLI's tables: columns two spaces apart.
func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

// printTable writes header and then row(item) for each item, in columns.
func printTable[T any](w io.Writer, header string, items []T, row func(T) string) error {
	tw := newTable(w)
	fmt.Fprintln(tw, header)
	for _, it := range items {
		fmt.Fprintln(tw, row(it))
	}
	return tw.Flush()
}

// printList GETs the list at path and prints it: with asJSON as the server
// sent it, else as a table (see printTable). It returns the list.
func printList[T any](ctx context.Context, a *app, c *client, path string, asJSON bool, header string, row func(T) string) ([]T, error) {
	return showList(ctx, a, c, path, asJSON, func(items []T) error { return printTable(a.stdout, header, items, row) })
}

// printFittedList is printList for a list fitted to the terminal
// (printFitted): row returns one cell per column.
func printFittedList[T any](ctx context.Context, a *app, c *client, path string, asJSON bool, cols []column, row func(T) []string) ([]T, error) {
	return showList(ctx, a, c, path, asJSON, func(items []T) error {
		rows := make([][]string, len(items))
		for i, it := range items {
			rows[i] = row(it)
		}
		return a.printFitted(cols, rows)
	})
}

// showList GETs the list at path and prints it: with asJSON as the server
// sent it, else with table. It returns the list.
func showList[T any](ctx context.Context, a *app, c *client, path string, asJSON bool, table func([]T) error) ([]T, error) {
	var raw []byte
	var items []T
	if err := c.do(ctx, http.MethodGet, path, nil, nil, &items, &raw); err != nil {
		return nil, err
	}
	if asJSON {
		return items, printJSON(a.stdout, raw)
	}
	return items, table(items)
}

func publicIncidentURL(p wire.Page, inc wire.V1Incident) string {
	if p.URL != "" {
		return strings.TrimRight(p.URL, "/") + "/incidents/" + inc.ID
	}
	return inc.Shortlink
}

// incidentFlags are the flags declare, update and resolve share.
type incidentFlags struct {
	page       string
	message    string
	components componentSpecs
	noNotify   bool
	asJSON     bool
	quiet      bool
	wait       bool
	texts      map[string]*string // --message-LANG
}

func addIncidentFlags(fs *flag.FlagSet) *incidentFlags {
	f := &incidentFlags{}
	fs.StringVar(&f.page, "page", "", "page `ID` or name (default: the first page)")
	fs.StringVar(&f.message, "message", "", "the update's `TEXT`, shown on the page and sent to subscribers")
	f.texts = map[string]*string{}
	for _, lang := range incident.Languages {
		f.texts[lang] = fs.String("message-"+lang, "", "the update's `TEXT` for readers of "+langName(lang)+" (default: --message)")
	}
	fs.Var(&f.components, "component", "set a component's status: `NAME=STATUS` (name or ID; repeatable; statuses: "+componentStatusList()+")")
	fs.BoolVar(&f.noNotify, "no-notify", false, "post without notifying subscribers")
	fs.BoolVar(&f.asJSON, "json", false, "print the incident as JSON")
	fs.BoolVar(&f.quiet, "q", false, "print only the incident ID")
	fs.BoolVar(&f.wait, "wait", false, "then follow the broadcast: a progress bar per channel on stderr until every message is out, and a summary line on stderr (Ctrl-C stops watching, not the broadcast)")
	return f
}

func (f *incidentFlags) body(fs *flag.FlagSet) *string {
	given := false
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "message" {
			given = true
		}
	})
	if !given {
		return nil
	}
	m := f.message
	return &m
}

// messages returns the texts per language given (--message-hu …), nil
// when none was.
func (f *incidentFlags) messages() map[string]string {
	var m map[string]string
	for lang, text := range f.texts {
		if *text == "" {
			continue
		}
		if m == nil {
			m = map[string]string{}
		}
		m[lang] = *text
	}
	return m
}

// addNameFlags adds --name-LANG, the name in each of herald's languages,
// and returns what was given: a name per language, "" for one given
// empty (which removes that language's name), nil when none was.
func addNameFlags(fs *flag.FlagSet, what string) func() map[string]string {
	flags := map[string]*string{}
	for _, lang := range incident.Languages {
		flags[lang] = fs.String("name-"+lang, "", "the "+what+"'s `TITLE` for readers of "+langName(lang)+" (default: --name)")
	}
	return func() map[string]string {
		var m map[string]string
		fs.Visit(func(fl *flag.Flag) {
			if lang, ok := strings.CutPrefix(fl.Name, "name-"); ok && flags[lang] != nil {
				if m == nil {
					m = map[string]string{}
				}
				m[lang] = *flags[lang]
			}
		})
		return m
	}
}

// langName is a language's English name, for help texts.
func langName(lang string) string {
	return map[string]string{"en": "English", "hu": "Hungarian", "pl": "Polish", "hr": "Croatian"}[lang]
}

func (f *incidentFlags) notify() *bool {
	if !f.noNotify {
		return nil
	}
	no := false
	return &no
}

// timeField is t as a request's timestamp field.
func timeField(t time.Time) *string {
	s := t.Format(time.RFC3339Nano)
	return &s
}

// printIncident prints what a write returned.
func (a *app) printIncident(f *incidentFlags, verb string, p wire.Page, raw []byte) error {
	var inc wire.V1Incident
	if err := json.Unmarshal(raw, &inc); err != nil {
		return fmt.Errorf("unexpected answer: %w", err)
	}
	switch {
	case f.asJSON:
		return printJSON(a.stdout, raw)
	case f.quiet:
		fmt.Fprintln(a.stdout, inc.ID)
		return nil
	}
	fmt.Fprintf(a.stdout, "%s %s %q: %s, impact %s\n", verb, inc.ID, inc.Name, inc.Status, inc.Impact)
	fmt.Fprintln(a.stdout, publicIncidentURL(p, inc))
	return nil
}

// The values declare and update take, checked before anything is sent:
// an incident is declared open (a resolved one is history, not news), an
// update may move it or a maintenance anywhere, and an impact override is
// an incident's level (maintenance is set by the status).
var (
	declareStatuses = []incident.Status{incident.Investigating, incident.Identified, incident.Monitoring}
	updateStatuses  = slices.Concat(incident.IncidentStatuses, incident.MaintenanceStatuses)
	impactLevels    = []incident.Impact{incident.ImpactNone, incident.ImpactMinor, incident.ImpactMajor, incident.ImpactCritical}
)

func cmdDeclare(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("declare", "--name TEXT [--component NAME=STATUS]... [--impact LEVEL] [--message TEXT] [FLAGS]",
		"Declares an incident: it shows on the status page at once and its subscribers are told.")
	cf := addClientFlags(fs)
	f := addIncidentFlags(fs)
	name := fs.String("name", "", "the incident's `TITLE` (required)")
	names := addNameFlags(fs, "incident")
	impact := enumFlag(fs, "impact", "override the impact derived from the components: `LEVEL`", impactLevels)
	status := enumFlag(fs, "status", "initial `STATUS` (default investigating):", declareStatuses)
	idem := fs.String("idempotency-key", "", "a `KEY` that makes retrying this command safe: the same key returns the same incident")
	dry := fs.Bool("dry-run", false, "declare nothing: show who would be told on each channel, the first message per channel and language, SMS segments and cost")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	if strings.TrimSpace(*name) == "" {
		fs.Usage()
		return &usageError{msg: "--name is required", shown: true}
	}
	c, err := cf.client(a.getenv)
	if err != nil {
		return err
	}
	p, err := c.page(ctx, f.page)
	if err != nil {
		return err
	}
	comps, ids, err := c.resolveComponents(ctx, p.ID, f.components)
	if err != nil {
		return err
	}
	a.noteUntranslated(p, f, fs)
	body := wire.IncidentFields{Name: name, Names: names(), Status: wire.Nullable(string(*status)), ImpactOverride: wire.Nullable(string(*impact)), Body: f.body(fs), Messages: f.messages(),
		Components: comps, ComponentIDs: ids, DeliverNotifications: f.notify()}
	if *dry {
		var raw []byte
		if err := c.do(ctx, http.MethodPost, incidentPath(p.ID, "")+"?dry_run=true", nil, wire.IncidentRequest{Incident: &body}, nil, &raw); err != nil {
			return err
		}
		if f.asJSON {
			return printJSON(a.stdout, raw)
		}
		var res notify.DryRunResult
		if err := json.Unmarshal(raw, &res); err != nil {
			return fmt.Errorf("unexpected answer: %w", err)
		}
		if err := a.printDryRun(&res, *name, ""); err != nil {
			return err
		}
		fmt.Fprintln(a.stdout, "\nNothing was declared or sent. Run the same command without --dry-run to declare.")
		return nil
	}
	hdr := http.Header{}
	if *idem != "" {
		hdr.Set("Idempotency-Key", *idem)
	}
	var raw []byte
	if err := c.do(ctx, http.MethodPost, incidentPath(p.ID, ""), hdr, wire.IncidentRequest{Incident: &body}, nil, &raw); err != nil {
		return err
	}
	if err := a.printIncident(f, "declared", p, raw); err != nil || !f.wait {
		return err
	}
	return a.waitAfter(ctx, c, p.ID, raw, nil)
}

// noteUntranslated tells the manager, on stderr, which of the page's
// languages get --message as written because no --message-LANG gave
// theirs: a Hungarian customer read the English text with no warning to
// the one who wrote it. The page's first language is the one --message is
// taken to be in. fs, when given, is asked whether --message was; nothing
// is said under -q or --json, or without a message.
func (a *app) noteUntranslated(p wire.Page, f *incidentFlags, fs *flag.FlagSet) {
	if f.quiet || f.asJSON || f.message == "" || len(p.Languages) < 2 || (fs != nil && f.body(fs) == nil) {
		return
	}
	var missing, flags []string
	for _, lang := range p.Languages[1:] {
		if t, ok := f.texts[lang]; ok && *t != "" {
			continue
		}
		missing, flags = append(missing, langName(lang)), append(flags, "--message-"+lang)
	}
	if len(missing) == 0 {
		return
	}
	fmt.Fprintf(a.stderr, "note: readers of %s get --message as written (give %s for their own words)\n",
		strings.Join(missing, ", "), strings.Join(flags, ", "))
}

// waitAfter follows the broadcast that the write answered by raw created.
func (a *app) waitAfter(ctx context.Context, c *client, pageID string, raw []byte, before map[string]bool) error {
	var inc wire.V1Incident
	if err := json.Unmarshal(raw, &inc); err != nil {
		return fmt.Errorf("unexpected answer: %w", err)
	}
	return a.waitFor(ctx, c, pageID, inc.ID, before)
}

// findIncident returns the page that holds incident id: --page when given,
// else the one page, else whichever page knows it.
func (c *client) findIncident(ctx context.Context, pageFlag, id string) (wire.Page, wire.V1Incident, error) {
	var inc wire.V1Incident
	if pageFlag != "" {
		p, err := c.page(ctx, pageFlag)
		if err != nil {
			return p, inc, err
		}
		return p, inc, c.do(ctx, http.MethodGet, incidentPath(p.ID, id), nil, nil, &inc, nil)
	}
	ps, err := c.pages(ctx)
	if err != nil {
		return wire.Page{}, inc, err
	}
	var lastErr error = fmt.Errorf("no incident %q", id)
	for _, p := range ps {
		err := c.do(ctx, http.MethodGet, incidentPath(p.ID, id), nil, nil, &inc, nil)
		if err == nil {
			return p, inc, nil
		}
		var ae *apiError
		if !errors.As(err, &ae) || ae.Code != incident.ENOTFOUND {
			return p, inc, err
		}
		lastErr = err
	}
	return wire.Page{}, inc, lastErr
}

// patchIncident sends body to the incident named by the one positional argument.
func (a *app) patchIncident(ctx context.Context, c *client, f *incidentFlags, id, verb string, body wire.IncidentFields) error {
	p, inc, err := c.findIncident(ctx, f.page, id)
	if err != nil {
		return err
	}
	var hdr http.Header
	if verb == "resolved" {
		switch incident.Status(inc.Status) {
		case incident.Resolved, incident.Postmortem, incident.Completed:
			// Resolving twice would post another resolution and message
			// every customer again.
			return fmt.Errorf("incident %s is already %s: nothing changed and nothing was sent. To add a note to it: herald update %s --message TEXT", id, inc.Status, id)
		}
		// Only the version read: a resolution someone else posted
		// meanwhile (another manager, another door) is not posted again.
		if inc.Version > 0 {
			hdr = http.Header{"If-Match": {`"` + strconv.Itoa(inc.Version) + `"`}}
		}
	}
	comps, ids, err := c.resolveComponents(ctx, p.ID, f.components)
	if err != nil {
		return err
	}
	body.Components, body.ComponentIDs = comps, ids
	if body.Body != nil {
		a.noteUntranslated(p, f, nil)
	}
	// --wait follows the broadcast this change creates: the one that was
	// not there before it.
	var before map[string]bool
	if f.wait {
		ps, err := c.broadcasts(ctx, p.ID, id)
		if err != nil {
			return err
		}
		before = map[string]bool{}
		for _, pr := range ps {
			before[pr.BroadcastID] = true
		}
	}
	var raw []byte
	if err := c.do(ctx, http.MethodPatch, incidentPath(p.ID, id), hdr, wire.IncidentRequest{Incident: &body}, nil, &raw); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Code == incident.EPRECONDITION {
			var now wire.V1Incident
			if c.do(ctx, http.MethodGet, incidentPath(p.ID, id), nil, nil, &now, nil) == nil && incident.Status(now.Status).Closed() {
				return fmt.Errorf("incident %s was %s meanwhile, by someone else: nothing changed and nothing was sent", id, now.Status)
			}
			return fmt.Errorf("incident %s changed while this command ran: nothing changed and nothing was sent; look at it (herald status) and resolve again", id)
		}
		return err
	}
	if err := a.printIncident(f, verb, p, raw); err != nil || !f.wait {
		return err
	}
	return a.waitAfter(ctx, c, p.ID, raw, before)
}

func cmdUpdate(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("update", "INCIDENT [--status STATUS] [--message TEXT] [--component NAME=STATUS]... [FLAGS]",
		"Posts an update to an incident: a new status, a message, component statuses.")
	cf := addClientFlags(fs)
	f := addIncidentFlags(fs)
	status := enumFlagSaying(fs, "status", "new `STATUS`; an incident's: "+incident.Join(incident.IncidentStatuses)+
		"; a maintenance's: "+incident.Join(incident.MaintenanceStatuses), updateStatuses)
	name := fs.String("name", "", "rename the incident to `TITLE`")
	names := addNameFlags(fs, "incident")
	impact := enumFlag(fs, "impact", "override the impact: `LEVEL`", impactLevels)
	pos, err := parseArgs(fs, args, 1, "INCIDENT (an incident ID)")
	if err != nil {
		return err
	}
	c, err := cf.client(a.getenv)
	if err != nil {
		return err
	}
	body := wire.IncidentFields{Name: wire.Nullable(*name), Names: names(), Status: wire.Nullable(string(*status)), ImpactOverride: wire.Nullable(string(*impact)),
		Body: f.body(fs), Messages: f.messages(), DeliverNotifications: f.notify()}
	if body.Status == nil && body.Body == nil && body.Messages == nil && body.Name == nil && body.Names == nil && body.ImpactOverride == nil && len(f.components) == 0 {
		fs.Usage()
		return &usageError{msg: "nothing to update: give --status, --message, --component, --name or --impact", shown: true}
	}
	return a.patchIncident(ctx, c, f, pos[0], "updated", body)
}

func cmdResolve(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("resolve", "INCIDENT [--message TEXT] [FLAGS]",
		"Resolves an incident: its components return to operational (unless --component says otherwise) and subscribers get the all-clear.")
	cf := addClientFlags(fs)
	f := addIncidentFlags(fs)
	pos, err := parseArgs(fs, args, 1, "INCIDENT (an incident ID)")
	if err != nil {
		return err
	}
	c, err := cf.client(a.getenv)
	if err != nil {
		return err
	}
	body := wire.IncidentFields{Status: wire.Nullable(string(incident.Resolved)), Body: f.body(fs), Messages: f.messages(), DeliverNotifications: f.notify()}
	return a.patchIncident(ctx, c, f, pos[0], "resolved", body)
}

// ---- maintenance ----

func cmdMaintenance(ctx context.Context, a *app, args []string) error {
	return subcommand(ctx, a, "maintenance", args, map[string]func(context.Context, *app, []string) error{
		"schedule": cmdMaintenanceSchedule,
		"list":     cmdMaintenanceList,
		"start":    cmdMaintenanceMove(incident.InProgress, "start", "started"),
		"complete": cmdMaintenanceMove(incident.Completed, "complete", "completed"),
	})
}

// parseWhen reads a time: RFC 3339 (2026-03-01T02:00:00Z), "now", or a
// duration from now (30m, 2h).
func parseWhen(s string, now time.Time) (time.Time, error) {
	switch strings.TrimSpace(s) {
	case "", "now":
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(strings.TrimPrefix(s, "+")); err == nil {
		return now.Add(d), nil
	}
	return time.Time{}, fmt.Errorf("want a time like 2026-03-01T02:00:00Z, now, or a duration from now like 30m; got %q", s)
}

func cmdMaintenanceSchedule(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("maintenance schedule", "--name TEXT --start TIME (--end TIME | --duration D) [--component NAME]... [--message TEXT [--message-hu TEXT]...] [FLAGS]",
		"Announces a maintenance window. By default herald starts it at --start and completes it at --end.")
	pf := addPageFlags(fs)
	name := fs.String("name", "", "the maintenance's `TITLE` (required)")
	names := addNameFlags(fs, "maintenance")
	start := fs.String("start", "", "when it starts: RFC 3339 `TIME`, now, or a duration from now such as 2h (required)")
	end := fs.String("end", "", "when it ends: RFC 3339 `TIME` or a duration from now")
	dur := fs.Duration("duration", 0, "how long it lasts, a `DURATION` like 90m or 2h (instead of --end)")
	message := fs.String("message", "", "the announcement `TEXT`")
	texts := &incidentFlags{texts: map[string]*string{}}
	for _, lang := range incident.Languages {
		texts.texts[lang] = fs.String("message-"+lang, "", "the announcement's `TEXT` for readers of "+langName(lang)+" (default: --message)")
	}
	var comps componentSpecs
	fs.Func("component", "a component the work affects, by `NAME` or ID (repeatable)", func(v string) error {
		comps = append(comps, v+"="+string(incident.UnderMaintenance))
		return nil
	})
	manual := fs.Bool("manual", false, "do not start and complete it automatically")
	noNotify := fs.Bool("no-notify", false, "announce without notifying subscribers")
	asJSON := fs.Bool("json", false, "print the maintenance as JSON")
	quiet := fs.Bool("q", false, "print only the maintenance ID")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	if strings.TrimSpace(*name) == "" || *start == "" || (*end == "") == (*dur == 0) {
		fs.Usage()
		return &usageError{msg: "need --name, --start, and one of --end or --duration", shown: true}
	}
	now := time.Now().UTC().Truncate(time.Second)
	from, err := parseWhen(*start, now)
	if err != nil {
		return usageErrorf("--start: %v", err)
	}
	until := from.Add(*dur)
	if *end != "" {
		if until, err = parseWhen(*end, now); err != nil {
			return usageErrorf("--end: %v", err)
		}
	}
	c, p, err := a.openPage(ctx, pf)
	if err != nil {
		return err
	}
	_, ids, err := c.resolveComponents(ctx, p.ID, comps)
	if err != nil {
		return err
	}
	auto := !*manual
	body := wire.IncidentFields{Name: name, Names: names(), Status: wire.Nullable(string(incident.Scheduled)), ComponentIDs: ids,
		ScheduledFor: timeField(from), ScheduledUntil: timeField(until), ScheduledAutoInProgress: &auto, ScheduledAutoCompleted: &auto}
	if *message != "" {
		body.Body = message
	}
	body.Messages = texts.messages()
	if *noNotify {
		no := false
		body.DeliverNotifications = &no
	}
	var raw []byte
	if err := c.do(ctx, http.MethodPost, incidentPath(p.ID, ""), nil, wire.IncidentRequest{Incident: &body}, nil, &raw); err != nil {
		return err
	}
	f := &incidentFlags{asJSON: *asJSON, quiet: *quiet}
	if err := a.printIncident(f, "scheduled", p, raw); err != nil {
		return err
	}
	if !f.asJSON && !f.quiet {
		fmt.Fprintf(a.stdout, "from %s until %s\n", from.Format(time.RFC3339), until.Format(time.RFC3339))
	}
	return nil
}

func cmdMaintenanceMove(to incident.Status, verb, done string) func(context.Context, *app, []string) error {
	return func(ctx context.Context, a *app, args []string) error {
		fs := a.newFlagSet("maintenance "+verb, "MAINTENANCE [--message TEXT] [FLAGS]", "Moves a maintenance to "+string(to)+".")
		cf := addClientFlags(fs)
		f := addIncidentFlags(fs)
		pos, err := parseArgs(fs, args, 1, "MAINTENANCE (a maintenance ID)")
		if err != nil {
			return err
		}
		c, err := cf.client(a.getenv)
		if err != nil {
			return err
		}
		body := wire.IncidentFields{Status: wire.Nullable(string(to)), Body: f.body(fs), Messages: f.messages(), DeliverNotifications: f.notify()}
		return a.patchIncident(ctx, c, f, pos[0], done, body)
	}
}

func cmdMaintenanceList(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("maintenance list", "[FLAGS]", "Lists maintenances underway, then those scheduled.")
	pf := addPageFlags(fs)
	all := fs.Bool("all", false, "list every maintenance among the 100 newest incidents, completed ones too")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	c, p, err := a.openPage(ctx, pf)
	if err != nil {
		return err
	}
	// Upcoming and underway from their own lists (so a long incident history
	// cannot crowd them out); with --all, the 100 newest of everything.
	lists := []string{"/active_maintenance", "/scheduled"}
	if *all {
		lists = []string{"?limit=100"}
	}
	var incs []wire.V1Incident
	for _, l := range lists {
		var part []wire.V1Incident
		if err := c.do(ctx, http.MethodGet, incidentPath(p.ID, "")+l, nil, nil, &part, nil); err != nil {
			return err
		}
		incs = append(incs, part...)
	}
	tw := newTable(a.stdout)
	fmt.Fprintln(tw, "ID\tSTATUS\tFROM\tUNTIL\tNAME")
	for _, inc := range incs {
		if inc.ScheduledFor.IsZero() || (!*all && incident.Status(inc.Status).Closed()) {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", inc.ID, inc.Status, a.shortTime(inc.ScheduledFor), a.shortTime(inc.ScheduledUntil), printable(inc.Name))
	}
	return tw.Flush()
}

// ---- status, pages, components ----

// summary is the part of /api/v2/summary.json that status prints.
type summary struct {
	Page struct {
		Name     string `json:"name"`
		URL      string `json:"url"`
		TimeZone string `json:"time_zone"`
	} `json:"page"`
	Status struct {
		Indicator   string `json:"indicator"`
		Description string `json:"description"`
	} `json:"status"`
	Components            []wire.Component  `json:"components"`
	Incidents             []summaryIncident `json:"incidents"`
	ScheduledMaintenances []summaryIncident `json:"scheduled_maintenances"`
}

// summaryIncident is the part of a v2 incident that status prints.
type summaryIncident struct {
	wire.IncidentHead
	ScheduledFor    wire.Time     `json:"scheduled_for"`
	ScheduledUntil  wire.Time     `json:"scheduled_until"`
	IncidentUpdates []wire.Update `json:"incident_updates"`
}

func cmdStatus(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("status", "[FLAGS]", "Shows the status page's overall status, components, open incidents and maintenances (from the public /api/v2/summary.json: no token needed).")
	cf := addClientFlags(fs)
	asJSON := fs.Bool("json", false, "print summary.json")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	c, err := cf.client(a.getenv)
	if err != nil {
		return err
	}
	var raw []byte
	var s summary
	if err := c.do(ctx, http.MethodGet, "/api/v2/summary.json", nil, nil, &s, &raw); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.stdout, raw)
	}
	a.usePage(wire.Page{TimeZone: s.Page.TimeZone})
	w := a.stdout
	fmt.Fprintf(w, "%s: %s\n%s\n", s.Page.Name, s.Status.Description, s.Page.URL)
	if len(s.Components) > 0 {
		fmt.Fprintln(w, "\nComponents:")
		tw := newTable(w)
		groups := map[string]string{}
		for _, c := range s.Components {
			if c.Group {
				groups[c.ID] = c.Name
			}
		}
		for _, c := range s.Components {
			name := c.Name
			if c.GroupID != nil && groups[*c.GroupID] != "" {
				name = groups[*c.GroupID] + " / " + c.Name
			}
			if !c.Group {
				fmt.Fprintf(tw, "  %s\t%s\n", name, enumWords(c.Status))
			}
		}
		tw.Flush()
	}
	printList := func(title string, incs []summaryIncident) {
		if len(incs) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		for _, inc := range incs {
			fmt.Fprintf(w, "  %s  %s  [%s, impact %s]\n", inc.ID, inc.Name, enumWords(inc.Status), enumWords(inc.Impact))
			if !inc.ScheduledFor.IsZero() && !inc.ScheduledUntil.IsZero() {
				fmt.Fprintf(w, "      %s – %s\n", a.at(inc.ScheduledFor.Time()), a.at(inc.ScheduledUntil.Time()))
			}
			if len(inc.IncidentUpdates) > 0 && strings.TrimSpace(inc.IncidentUpdates[0].Body) != "" {
				u := inc.IncidentUpdates[0]
				fmt.Fprintf(w, "      %s %s: %s\n", a.at(u.CreatedAt.Time()), enumWords(u.Status), oneLine(u.Body, 100))
			}
		}
	}
	printList("Open incidents", s.Incidents)
	printList("Maintenance", s.ScheduledMaintenances)
	if len(s.Incidents) == 0 {
		fmt.Fprintln(w, "\nNo open incidents.")
	}
	return nil
}

func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(printable(s)), " ")
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}

// printable makes text from outside (a customer's words, names, reasons
// quoting them) safe to print on an agent's terminal: control characters
// (an escape sequence could rewrite the screen or the title) and Unicode's
// bidirectional overrides (which reorder what is shown) become U+FFFD;
// line breaks and tabs become spaces.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t' || r == '\r':
			return ' '
		case unicode.IsControl(r), r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069', r == '\u200e', r == '\u200f':
			return '\ufffd'
		}
		return r
	}, s)
}

func cmdPages(ctx context.Context, a *app, args []string) error {
	return subcommandOr(ctx, a, "pages", "list", args, map[string]func(context.Context, *app, []string) error{
		"list":   cmdPagesList,
		"rename": cmdPagesRename,
		"set":    cmdPagesSet,
	})
}

func cmdPagesList(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("pages list", "[FLAGS]", "Lists the status pages.")
	cf := addClientFlags(fs)
	asJSON := fs.Bool("json", false, "print the pages as JSON")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	c, err := cf.client(a.getenv)
	if err != nil {
		return err
	}
	_, err = printList(ctx, a, c, "/v1/pages", *asJSON, "ID\tNAME\tURL\tTIME ZONE\tLANGUAGES", func(p wire.Page) string {
		return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", p.ID, printable(p.Name), printable(p.URL), p.TimeZone, pageLanguages(p))
	})
	return err
}

func cmdPagesRename(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("pages rename", "NAME [FLAGS]",
		"Renames a status page. Its messages follow: email subjects and senders, signatures and SMS prefixes use the page's name.")
	pf := addPageFlags(fs)
	asJSON := fs.Bool("json", false, "print the page as JSON")
	pos, err := parseArgs(fs, args, 1, "NAME")
	if err != nil {
		return err
	}
	return patchPage(ctx, a, pf, wire.PageFields{Name: &pos[0]}, *asJSON, nil)
}

func cmdPagesSet(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("pages set", "[--name NAME] [--url URL] [--time-zone ZONE] [--languages hu,en] [--logo FILE] [FLAGS]",
		"Changes a status page's name, public address, time zone, languages or logo. Only the flags given change.\n"+
			"--url is the page's public address here; the server's is --server or HERALD_URL.")
	pf := &pageFlags{client: addServerFlags(fs), page: fs.String("page", "", "page `ID` or name (default: the first page)")}
	name := fs.String("name", "", "the page's `NAME`, which its messages are signed and sent with")
	pageURL := fs.String("url", "", "the page's public `URL` (links in messages point there)")
	zone := fs.String("time-zone", "", "the page's IANA time `ZONE`, e.g. Europe/Budapest")
	logo := fs.String("logo", "", "a PNG, JPEG, GIF or WebP `FILE` (at most 64 KiB) shown in the page's header; \"none\" removes it")
	langs := fs.String("languages", "", "the page's `LANGUAGES`, comma-separated, the default first (en, hu, pl, hr): what the page offers, "+
		"and the language of its agents' Slack messages")
	asJSON := fs.Bool("json", false, "print the page as JSON")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	var body wire.PageFields
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["name"] {
		body.Name = name
	}
	if set["url"] {
		body.URL = pageURL
	}
	if set["time-zone"] {
		body.TimeZone = zone
	}
	if set["logo"] {
		uri, err := logoURI(*logo)
		if err != nil {
			return err
		}
		body.Logo = &uri
	}
	if set["languages"] {
		for _, l := range strings.Split(*langs, ",") {
			if l = strings.ToLower(strings.TrimSpace(l)); l != "" {
				body.Languages = append(body.Languages, l)
			}
		}
		if len(body.Languages) == 0 {
			return &usageError{msg: "--languages: give at least one, e.g. --languages hu,en"}
		}
	}
	if len(set) == 0 || (!set["name"] && !set["url"] && !set["time-zone"] && !set["logo"] && !set["languages"]) {
		fs.Usage()
		return &usageError{msg: "nothing to change: give --name, --url, --time-zone, --languages or --logo", shown: true}
	}
	return patchPage(ctx, a, pf, body, *asJSON, func(c *client, p wire.Page) error {
		// --url on every other command is the server's address: one typed
		// here from habit, while HERALD_URL (or the default) reaches the
		// server, would silently point every message's links at the API
		// server. Refuse a new public address that is the very server
		// being talked to, unless the server was named with --server too.
		if body.URL == nil || c.baseFrom == "--server" || sameURL(*body.URL, p.URL) || !sameURL(*body.URL, c.base) {
			return nil
		}
		return &usageError{msg: fmt.Sprintf("--url %s is the server this command talks to (from %s), not a new public address for page %q (now %s): "+
			"in `pages set`, --url is the address every message links to.\n"+
			"To reach the server, use --server or HERALD_URL and leave --url out; to make the server's address the page's public one, name it with --server too.",
			printable(*body.URL), c.baseFrom, printable(p.Name), dash(printable(p.URL)))}
	})
}

// sameURL reports whether two addresses are the same, a trailing slash
// and the case of the scheme and host aside.
func sameURL(a, b string) bool {
	norm := func(s string) string {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil {
			return s
		}
		u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
		u.Path = strings.TrimRight(u.Path, "/")
		return u.String()
	}
	return norm(a) == norm(b)
}

// logoURI reads a logo file into the data: URI the API takes; "none" (or
// "") removes the logo.
func logoURI(file string) (string, error) {
	if file == "" || file == "none" {
		return "", nil
	}
	img, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	if len(img) > incident.MaxLogoBytes {
		return "", fmt.Errorf("%s: %d KiB, the logo may have at most %d KiB", file, len(img)>>10, incident.MaxLogoBytes>>10)
	}
	ctype := http.DetectContentType(img)
	switch ctype {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
	default:
		return "", fmt.Errorf("%s: a logo must be a PNG, JPEG, GIF or WebP image, not %s", file, ctype)
	}
	return "data:" + ctype + ";base64," + base64.StdEncoding.EncodeToString(img), nil
}

// patchPage sends a page change and prints the page as it now is; check,
// when not nil, may refuse the change once the page is known.
func patchPage(ctx context.Context, a *app, pf *pageFlags, body wire.PageFields, asJSON bool, check func(*client, wire.Page) error) error {
	c, p, err := a.openPage(ctx, pf)
	if err != nil {
		return err
	}
	if check != nil {
		if err := check(c, p); err != nil {
			return err
		}
	}
	var raw []byte
	var got wire.Page
	if err := c.do(ctx, http.MethodPatch, "/v1/pages/"+url.PathEscape(p.ID), nil, wire.PageRequest{Page: &body}, &got, &raw); err != nil {
		return err
	}
	if asJSON {
		return printJSON(a.stdout, raw)
	}
	logo := "no logo"
	if got.Logo != "" {
		logo = "a logo"
	}
	fmt.Fprintf(a.stdout, "page %s: %q at %s, time zone %s, languages %s, %s\n", got.ID, printable(got.Name), printable(got.URL), got.TimeZone, pageLanguages(got), logo)
	return nil
}

// pageLanguages is a page's languages as `pages set --languages` takes
// them, the default first.
func pageLanguages(p wire.Page) string {
	if len(p.Languages) == 0 {
		return "-"
	}
	return printable(strings.Join(p.Languages, ","))
}

func cmdComponents(ctx context.Context, a *app, args []string) error {
	return subcommandOr(ctx, a, "components", "list", args, map[string]func(context.Context, *app, []string) error{
		"list":   cmdComponentsList,
		"create": cmdComponentsCreate,
	})
}

func cmdComponentsList(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("components list", "[FLAGS]", "Lists a page's components.")
	pf := addPageFlags(fs)
	asJSON := fs.Bool("json", false, "print the components as JSON")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	c, p, err := a.openPage(ctx, pf)
	if err != nil {
		return err
	}
	_, err = printList(ctx, a, c, "/v1/pages/"+url.PathEscape(p.ID)+"/components", *asJSON, "ID\tNAME\tSTATUS", func(c wire.V1Component) string {
		name := c.Name
		if c.Group {
			name += " (group)"
		}
		return fmt.Sprintf("%s\t%s\t%s", c.ID, name, c.Status)
	})
	return err
}

func cmdComponentsCreate(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("components create", "--name NAME [--description TEXT] [--status STATUS] [FLAGS]", "Adds a component to a page.")
	pf := addPageFlags(fs)
	name := fs.String("name", "", "the component's `NAME` (required)")
	desc := fs.String("description", "", "a short `TEXT` shown under the name")
	status := enumFlag(fs, "status", "initial `STATUS` (default operational):", incident.ComponentStatuses)
	asJSON := fs.Bool("json", false, "print the component as JSON")
	quiet := fs.Bool("q", false, "print only the component ID")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 1 && *name == "" {
		*name, pos = pos[0], nil // `herald components create Payments`
	}
	if err := wantArgs(fs, pos, 0, ""); err != nil {
		return err
	}
	if strings.TrimSpace(*name) == "" {
		fs.Usage()
		return &usageError{msg: "--name is required", shown: true}
	}
	c, p, err := a.openPage(ctx, pf)
	if err != nil {
		return err
	}
	body := wire.ComponentRequest{Component: &wire.ComponentFields{Name: name, Description: wire.Nullable(*desc), Status: wire.Nullable(string(*status))}}
	var raw []byte
	var comp wire.V1Component
	if err := c.do(ctx, http.MethodPost, "/v1/pages/"+url.PathEscape(p.ID)+"/components", nil, body, &comp, &raw); err != nil {
		return err
	}
	switch {
	case *asJSON:
		return printJSON(a.stdout, raw)
	case *quiet:
		fmt.Fprintln(a.stdout, comp.ID)
	default:
		fmt.Fprintf(a.stdout, "created component %s %q (%s)\n", comp.ID, comp.Name, comp.Status)
	}
	return nil
}

// enumWords is an API value in words for a person at a terminal:
// "major_outage" is "major outage", "in_progress" "in progress".
func enumWords[S ~string](v S) string { return strings.ReplaceAll(string(v), "_", " ") }
