package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/surveys"
)

// The survey commands: results, send (now), and settings, through
// /api/v1/pages/{page}/incidents/{incident}/survey and
// /api/v1/pages/{page}/survey-settings.

func cmdSurveys(ctx context.Context, a *app, args []string) error {
	return subcommand(ctx, a, "surveys", args, map[string]func(context.Context, *app, []string) error{
		"results":  cmdSurveysResults,
		"send":     cmdSurveysSend,
		"settings": cmdSurveysSettings,
	})
}

func surveyPath(pageID, incidentID string) string {
	return pagePath(pageID) + "/incidents/" + url.PathEscape(incidentID) + "/survey"
}

func pct(f float64) string { return fmt.Sprintf("%.0f %%", f*100) }

// satisfaction is CSAT and the average with the answers they are over,
// or says there is no score yet: a CSAT of 0 would read as every
// customer unhappy.
func satisfaction(s surveys.Summary) string {
	if s.CSAT == nil || s.Average == nil {
		return "no scores yet"
	}
	return fmt.Sprintf("%s (average %.2f of %d scored)", pct(*s.CSAT), *s.Average, s.Scored)
}

// responseRate is answered of sent, or says nothing was sent yet.
func responseRate(s surveys.Summary) string {
	if s.ResponseRate == nil {
		return "none sent yet"
	}
	return pct(*s.ResponseRate) + " of sent"
}

func cmdSurveysResults(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("surveys results", "INCIDENT [FLAGS]",
		`Shows an incident's survey results: sent, answered, response rate, CSAT (the
share of 4s and 5s), the average, the scores, "kept informed", "received what was
promised", split by channel, language and segment, and the newest comments.`)
	pf := addIncidentPageFlags(fs)
	asJSON := fs.Bool("json", false, "print the results as JSON")
	pos, err := parseArgs(fs, args, 1, "INCIDENT (an incident's id)")
	if err != nil {
		return err
	}
	c, p, inc, err := a.openIncident(ctx, pf, pos[0])
	if err != nil {
		return err
	}
	var raw []byte
	var r surveys.Results
	if err := c.do(ctx, http.MethodGet, surveyPath(p.ID, inc.ID), nil, nil, &r, &raw); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.stdout, raw)
	}
	fmt.Fprintf(a.stdout, "surveys of %s (%s)\n\n", inc.Name, inc.ID)
	w := newTable(a.stdout)
	fmt.Fprintf(w, "surveys:\t%d (waiting %d, skipped %d)\n", r.Scheduled+r.Sent+r.Skipped, r.Scheduled, r.Skipped)
	fmt.Fprintf(w, "sent:\t%d\n", r.Sent)
	fmt.Fprintf(w, "answered:\t%d (%s)\n", r.Answered, responseRate(r.Summary))
	fmt.Fprintf(w, "CSAT:\t%s\n", satisfaction(r.Summary))
	fmt.Fprintf(w, "scores:\t1: %d  2: %d  3: %d  4: %d  5: %d\n", r.Scores["1"], r.Scores["2"], r.Scores["3"], r.Scores["4"], r.Scores["5"])
	fmt.Fprintf(w, "kept informed:\tyes %d  partly %d  no %d\n", r.Informed["yes"], r.Informed["partly"], r.Informed["no"])
	if len(r.Received) > 0 {
		fmt.Fprintf(w, "received the promise:\tyes %d  not yet %d  no %d\n", r.Received["yes"], r.Received["not_yet"], r.Received["no"])
	}
	_ = w.Flush()
	for _, by := range []string{"channel", "language", "segment"} {
		groups := r.By[by]
		if len(groups) == 0 {
			continue
		}
		fmt.Fprintf(a.stdout, "\nby %s:\n", by)
		keys := make([]string, 0, len(groups))
		for k := range groups {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		w := newTable(a.stdout)
		for _, k := range keys {
			s := groups[k]
			fmt.Fprintf(w, "  %s\tsent %d\tanswered %d (%s)\tCSAT %s\n", printable(k), s.Sent, s.Answered, responseRate(s), satisfaction(s))
		}
		_ = w.Flush()
	}
	if len(r.Comments) > 0 {
		fmt.Fprintln(a.stdout, "\ncomments:")
		for _, cm := range r.Comments {
			score := "no score" // words the customer wrote without one
			if cm.Score != nil {
				score = strconv.Itoa(*cm.Score) + "/5"
			}
			fmt.Fprintf(a.stdout, "  %s (%s, %s): %s\n", score, cm.Channel, cm.Language, oneLine(printable(cm.Text), 200))
		}
	}
	return nil
}

func cmdSurveysSend(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("surveys send", "INCIDENT [FLAGS]",
		"Sends a resolved incident's surveys now, without waiting for their time (managers).")
	pf := addIncidentPageFlags(fs)
	pos, err := parseArgs(fs, args, 1, "INCIDENT (an incident's id)")
	if err != nil {
		return err
	}
	c, p, inc, err := a.openIncident(ctx, pf, pos[0])
	if err != nil {
		return err
	}
	var ans struct {
		Sent int `json:"sent"`
	}
	if err := c.do(ctx, http.MethodPost, surveyPath(p.ID, inc.ID)+"/send", nil, struct{}{}, &ans, nil); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%d surveys sent for %s\n", ans.Sent, inc.Name)
	return nil
}

func cmdSurveysSettings(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("surveys settings", "[--mode M] [--delay D] [--sample P] [--gap D] [--daytime HH:MM-HH:MM] [--weekends true|false] [FLAGS]",
		`Shows a page's survey settings, or changes the ones given (managers): whom to
ask (--mode off, notified, complained or sample with --sample PERCENT), how long
after resolution (--delay 24h), at most one survey per customer per --gap
(720h), within the recipient's --daytime, and whether on --weekends (true or
false). A value that is no setting is refused before anything is sent.`)
	pf := addPageFlags(fs)
	mode := enumFlag(fs, "mode", "`MODE`", surveys.Modes)
	delay := fs.String("delay", "", "send `DURATION` after resolution")
	sample := fs.Int("sample", 0, "survey `PERCENT` of the notified (mode sample), 1 to 100")
	gap := fs.String("gap", "", "at most one survey per customer per `DURATION`")
	daytime := fs.String("daytime", "", "the recipient's local `HH:MM-HH:MM` surveys may go in")
	weekends := enumFlag(fs, "weekends", "send on Saturday and Sunday too, `BOOL`:", []string{"true", "false"})
	asJSON := fs.Bool("json", false, "print the settings as JSON")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	bad := func(format string, args ...any) error {
		fs.Usage()
		return &usageError{msg: fmt.Sprintf(format, args...), shown: true}
	}
	body := map[string]any{}
	if *mode != "" {
		body["mode"] = string(*mode)
	}
	for k, v := range map[string]*string{"delay": delay, "gap": gap} {
		if given[k] {
			if *v == "" {
				return bad("--%s is empty: want a duration like 24h or 720h", k)
			}
			// Checked here as the server checks it, so that a typo is a
			// mistake on the command line (exit 2), not a server error.
			if d, err := time.ParseDuration(*v); err != nil || d < 0 {
				return bad("invalid value %q for --%s: want a duration like 24h or 720h, not negative", *v, k)
			}
			body[k] = *v
		}
	}
	// An explicit value is sent as given, 0 too: the flag's default is no
	// value, not a percentage.
	if given["sample"] {
		if *sample < 1 || *sample > 100 {
			return bad("invalid value %d for --sample: want a percentage from 1 to 100", *sample)
		}
		body["sample_percent"] = *sample
	}
	if given["daytime"] {
		from, to, ok := strings.Cut(*daytime, "-")
		clock := func(v string) bool {
			_, err := time.Parse("15:04", v)
			return err == nil || v == "24:00"
		}
		if !ok || !clock(from) || !clock(to) {
			return bad("invalid value %q for --daytime: want HH:MM-HH:MM, like 09:00-20:00", *daytime)
		}
		body["day_start"], body["day_end"] = from, to
	}
	if *weekends != "" {
		body["weekends"] = *weekends == "true"
	}
	c, p, err := a.openPage(ctx, pf)
	if err != nil {
		return err
	}
	path := pagePath(p.ID) + "/survey-settings"
	method := http.MethodGet
	var in any
	if len(body) > 0 {
		method, in = http.MethodPut, body
	}
	var raw []byte
	var st map[string]any
	if err := c.do(ctx, method, path, nil, in, &st, &raw); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.stdout, raw)
	}
	// As the flags that change them name them, in the units people use.
	w := newTable(a.stdout)
	fmt.Fprintf(w, "mode:\t%v\n", st["mode"])
	fmt.Fprintf(w, "sample:\t%v%%\n", st["sample_percent"])
	fmt.Fprintf(w, "delay:\t%s\n", settingDuration(st["delay"]))
	fmt.Fprintf(w, "gap:\t%s\n", settingDuration(st["gap"]))
	fmt.Fprintf(w, "daytime:\t%v–%v\n", st["day_start"], st["day_end"])
	fmt.Fprintf(w, "weekends:\t%v\n", st["weekends"])
	fmt.Fprintf(w, "win-back gap:\t%s\n", settingDuration(st["win_back_gap"]))
	fmt.Fprintf(w, "win-back max:\t%v\n", st["win_back_max"])
	return w.Flush()
}

// settingDuration is a setting's duration as a person writes it: "24h",
// "720h (30 days)", "1h30m", not Go's "720h0m0s". A value that is no
// duration is shown as it came.
func settingDuration(v any) string {
	s := fmt.Sprint(v)
	d, err := time.ParseDuration(s)
	if err != nil {
		return s
	}
	out := strings.TrimSuffix(strings.TrimSuffix(d.String(), "0s"), "0m")
	if out == "" {
		out = "0"
	}
	if d >= 48*time.Hour && d%(24*time.Hour) == 0 {
		out += fmt.Sprintf(" (%d days)", d/(24*time.Hour))
	}
	return out
}
