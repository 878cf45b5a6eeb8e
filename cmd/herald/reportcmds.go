package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/incident/wire"
)

// The after-the-incident commands: an incident's post-incident report,
// the evaluation of a period (both through /api/v1/pages/{page}/…/report
// and /reports/period, rendered by the server), and writing an incident's
// postmortem (a PATCH of the incident, as the v1 API has it).

func cmdReport(ctx context.Context, a *app, args []string) error {
	if len(args) > 0 && args[0] == "period" {
		return cmdReportPeriod(ctx, a, args[1:])
	}
	fs := a.newFlagSet("report", "INCIDENT [--format html|json|csv] [-o FILE]  |  herald report period --from DATE --to DATE",
		`Prints an incident's post-incident report: the timeline with who did what,
how fast the messages went out per channel and what became of them, the
complaint curve, time to first answer and the SLA kept, repeat complaints,
compensation, survey results and the postmortem. HTML (with charts) for
people, JSON and CSV for machines.`)
	pf := addIncidentPageFlags(fs)
	format := fs.String("format", "html", "`FORMAT`: html, json or csv")
	out := fs.String("o", "", "write it to `FILE` instead of standard output")
	pos, err := parseArgs(fs, args, 1, "INCIDENT (an incident's id)")
	if err != nil {
		return err
	}
	if err := checkFormat(*format); err != nil {
		return err
	}
	c, p, inc, err := a.openIncident(ctx, pf, pos[0])
	if err != nil {
		return err
	}
	path := pagePath(p.ID) + "/incidents/" + url.PathEscape(inc.ID) + "/report." + *format
	return a.fetchReport(ctx, c, path, *out)
}

func checkFormat(f string) error {
	switch f {
	case "html", "json", "csv":
		return nil
	}
	return &usageError{msg: fmt.Sprintf("--format: want html, json or csv, got %q", f)}
}

// fetchReport gets a rendered report and writes it to out ("" : stdout).
func (a *app) fetchReport(ctx context.Context, c *client, path, out string) error {
	var raw []byte
	if err := c.do(ctx, http.MethodGet, path, nil, nil, nil, &raw); err != nil {
		return err
	}
	if out == "" {
		_, err := a.stdout.Write(raw)
		return err
	}
	if err := os.WriteFile(out, raw, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "wrote %s (%d bytes)\n", out, len(raw))
	return nil
}

func cmdReportPeriod(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("report period", "--from DATE --to DATE [--format html|json|csv] [-o FILE]",
		`Prints the evaluation of a period (both days included): incidents by impact
and duration, complaints by channel, category and remedy, SLA kept, repeat
rate, time to first answer, compensation cost, satisfaction by month, and
the components with the most incidents and complaints.`)
	pf := addPageFlags(fs)
	from := fs.String("from", "", "the first `DATE` (2026-01-01)")
	to := fs.String("to", "", "the last `DATE` (2026-12-31)")
	format := fs.String("format", "html", "`FORMAT`: html, json or csv")
	out := fs.String("o", "", "write it to `FILE` instead of standard output")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	if err := checkFormat(*format); err != nil {
		return err
	}
	for name, v := range map[string]string{"--from": *from, "--to": *to} {
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			return &usageError{msg: fmt.Sprintf("%s: want a date like 2026-01-31, got %q", name, v)}
		}
	}
	c, p, err := a.openPage(ctx, pf)
	if err != nil {
		return err
	}
	q := url.Values{"from": {*from}, "to": {*to}}
	return a.fetchReport(ctx, c, pagePath(p.ID)+"/reports/period."+*format+"?"+q.Encode(), *out)
}

func cmdPostmortem(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("postmortem", "INCIDENT --file FILE.md [--publish]",
		`Writes an incident's postmortem from a Markdown file. It shows in the
post-incident report at once; with --publish (a resolved incident) also on
the public incident page.`)
	pf := addIncidentPageFlags(fs)
	file := fs.String("file", "", "the postmortem, a Markdown `FILE` (- reads standard input)")
	publish := fs.Bool("publish", false, "publish it on the status page (the incident's status becomes postmortem)")
	pos, err := parseArgs(fs, args, 1, "INCIDENT (an incident's id)")
	if err != nil {
		return err
	}
	if *file == "" {
		return &usageError{msg: "--file is required"}
	}
	var b []byte
	if *file == "-" {
		b, err = io.ReadAll(io.LimitReader(a.stdin, 1<<20))
	} else {
		b, err = os.ReadFile(*file)
	}
	if err != nil {
		return err
	}
	text := strings.TrimSpace(strings.ReplaceAll(string(b), "\r\n", "\n"))
	if text == "" {
		return &usageError{msg: "the postmortem is empty"}
	}
	c, p, inc, err := a.openIncident(ctx, pf, pos[0])
	if err != nil {
		return err
	}
	body := wire.IncidentFields{PostmortemBody: &text}
	if *publish {
		body.Status = wire.Nullable(string(incident.Postmortem))
		no := false
		body.DeliverNotifications = &no
	}
	var got wire.V1Incident
	if err := c.do(ctx, http.MethodPatch, incidentPath(p.ID, inc.ID), nil, wire.IncidentRequest{Incident: &body}, &got, nil); err != nil {
		return err
	}
	state := "saved (not published)"
	if !got.PostmortemPublishedAt.IsZero() {
		state = "published"
	}
	fmt.Fprintf(a.stdout, "postmortem of %s %s (%d characters)\n", got.Name, state, len([]rune(text)))
	return nil
}
