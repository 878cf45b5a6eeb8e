package reports

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/locale"
	"github.com/heraldhq/herald/markdown"
	"github.com/heraldhq/herald/queue"
)

//go:embed templates/*.html
var templateFS embed.FS

var (
	tmplOnce sync.Once
	tmpl     *template.Template
	cat      *locale.Catalogue
	tmplErr  error
)

func load() {
	cat, tmplErr = locale.Default()
	if tmplErr != nil {
		return
	}
	tmpl, tmplErr = template.New("").Funcs(template.FuncMap{
		"stamp": stamp,
		"dur":   durText,
		"pct":   pct,
		"avg":   avg,
		"money": money,
		"who":   incident.ActorName,
		"secs":  secsText,
		// atMost writes an upper bound: "≤ 1 min".
		"atMost": func(secs int64) string { return secsText(&secs) },
		// state names a delivery state in a broadcast's table (kind "": the
		// chart's, over every broadcast).
		"state": stateWord,
		// word names an enum value in the view's language: {{word $.L "Impact" .Impact}}.
		"word": func(l *locale.Lang, prefix string, v any) string { return l.Word(prefix, fmt.Sprint(v)) },
	}).ParseFS(templateFS, "templates/*.html")
}

// stamp is a time as the HTML shows it: in loc, to the minute, with the
// zone named ("2026-12-05 14:03 CET").
func stamp(loc *time.Location, t time.Time) string {
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

// zoneName is the page's time zone, Etc/UTC when it names none.
func zoneName(p *incident.Page) string {
	if p.TimeZone == "" {
		return "Etc/UTC"
	}
	return p.TimeZone
}

// zone is the location named (UTC for one this machine does not know).
func zone(name string) *time.Location { return incident.Location(name) }

// durText writes seconds as "1 h 05 min", "4 min 10 s" or "35 s", with
// no-break spaces: a duration does not wrap.
func durText(secs int64) string {
	return strings.ReplaceAll(durWords(secs), " ", "\u00a0")
}

func durWords(secs int64) string {
	d := time.Duration(secs) * time.Second
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%d h %02d min", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute && secs%60 == 0:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d >= time.Minute:
		return fmt.Sprintf("%d min %02d s", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%d s", secs)
}

// secsText writes an optional duration, or "" for nil.
func secsText(p *int64) string {
	if p == nil {
		return ""
	}
	return "≤ " + durText(*p)
}

// decimalComma reports whether l writes a decimal comma (Hungarian,
// Polish, Croatian), as the compensation messages do.
func decimalComma(l *locale.Lang) bool { return l != nil && l.Code() != "en" }

// pct writes a share as a percentage with one decimal in l's format
// ("33.3 %", "33,3 %").
func pct(l *locale.Lang, f float64) string {
	s := strconv.FormatFloat(f*100, 'f', 1, 64)
	if decimalComma(l) {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s + "\u00a0%"
}

// avg writes a mean score with two decimals in l's format ("3.50",
// "3,50").
func avg(l *locale.Lang, f float64) string {
	s := strconv.FormatFloat(f, 'f', 2, 64)
	if decimalComma(l) {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// money writes minor units of a currency in l's format ("EUR 1234.50",
// "1234,50 EUR").
func money(l *locale.Lang, cur string, minor int64) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	if decimalComma(l) {
		return fmt.Sprintf("%s%d,%02d\u00a0%s", sign, minor/100, minor%100, cur)
	}
	return fmt.Sprintf("%s\u00a0%s%d.%02d", cur, sign, minor/100, minor%100)
}

// words is a language's report words, for the templates: .W.ReportTitle.
type words map[string]string

func wordsFor(lang string) words {
	l := cat.Lang(lang)
	w := words{}
	for k, v := range l.Static() {
		w[k] = v
	}
	return w
}

// incidentView is what templates/incident.html shows.
type incidentView struct {
	Lang       string
	L          *locale.Lang
	Loc        *time.Location // the page's zone, for stamp
	W          words
	R          *Report
	Charts     []template.HTML
	Deliveries template.HTML
	Curve      template.HTML
	Scores     template.HTML
	Postmortem template.HTML
	Links      map[string]string     // format → URL, for the download links
	Back       string                // the page to go back to (BackLink), "" for none
	CurveRows  []CurveBucket         // the curve's non-empty buckets, for the table
	States     []queue.DeliveryState // the states any delivery is in, the tables' columns
	KindWord   map[string]string
	// SplitKinds are the survey splits in order, SplitWord their names.
	SplitKinds []string
	SplitWord  map[string]string
	// Splits: some split has a group (else the table would be headers
	// over nothing).
	Splits bool
}

// HTML renders the report in lang (en, hu, pl, hr). links names the
// JSON and CSV downloads ("json", "csv" → URL; may be empty).
func (r *Report) HTML(lang string, links map[string]string) ([]byte, error) {
	downloads, back := splitLinks(links)
	tmplOnce.Do(load)
	if tmplErr != nil {
		return nil, tmplErr
	}
	w := wordsFor(lang)
	v := incidentView{Lang: cat.Lang(lang).Code(), L: cat.Lang(lang), Loc: zone(r.TimeZone), W: w, R: r, Links: downloads, Back: back, KindWord: map[string]string{
		EntryDeclared: w["ReportKindDeclared"], EntryUpdate: w["ReportKindUpdate"], EntryResolved: w["ReportKindResolved"],
		EntryPostmortem: w["ReportKindPostmortem"]},
		SplitKinds: []string{"channel", "language", "segment"},
		SplitWord:  map[string]string{"channel": w["ReportSplitChannel"], "language": w["ReportSplitLanguage"], "segment": w["ReportSplitSegment"]}}
	for _, st := range queue.DeliveryStates {
		for _, ch := range r.Channels {
			if ch.Counts[st] > 0 {
				v.States = append(v.States, st)
				break
			}
		}
	}
	v.Deliveries = deliveriesChart(r, w, v.L).SVG()
	v.Curve = curveChart(r, w, v.KindWord, v.Loc).SVG()
	for _, b := range r.Complaints.Curve {
		if b.Tagged+b.Untagged > 0 {
			v.CurveRows = append(v.CurveRows, b)
		}
	}
	if r.Surveys != nil {
		for _, g := range r.Surveys.By {
			v.Splits = v.Splits || len(g) > 0
		}
	}
	if r.Surveys != nil && r.Surveys.Scored > 0 {
		v.Scores = scoresChart(r, w).SVG()
	}
	if r.Postmortem != nil {
		v.Postmortem = markdown.HTML(r.Postmortem.Body)
	}
	var b bytes.Buffer
	if err := tmpl.ExecuteTemplate(&b, "incident.html", v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// stateWord names a delivery state for a broadcast of kind ("" for
// several). A collapsed delivery of the resolution went to someone whose
// complaint's answer told them (notify's planner collapses those: the
// answer carries the all-clear); elsewhere it was merged into a newer
// message, or, over several broadcasts, either.
func stateWord(l *locale.Lang, kind incident.BroadcastKind, st queue.DeliveryState) string {
	if st == queue.StateCollapsed {
		switch kind {
		case incident.BroadcastResolved:
			return l.Text("ReportCollapsedResolved")
		case "":
			return l.Text("ReportCollapsedAny")
		}
	}
	return l.Word("ConsoleDelivery", string(st))
}

// deliveriesChart: one row per channel, stacked by state.
func deliveriesChart(r *Report, w words, l *locale.Lang) BarChart {
	c := BarChart{ID: "deliveries", Title: w["ReportDeliveriesChart"], Desc: w["ReportDeliveriesDesc"], Horizontal: true}
	for _, ch := range r.Channels {
		c.Labels = append(c.Labels, l.Word("ReportVia", string(ch.Channel)))
	}
	colors := map[queue.DeliveryState]string{queue.StateDelivered: "#009E73", queue.StateSent: "#56B4E9", queue.StatePending: "#BBBBBB",
		queue.StateSending: "#888888", queue.StateUndelivered: "#E69F00", queue.StateFailed: "#D55E00", queue.StateSuppressed: "#CC79A7",
		queue.StateCancelled: "#555555", queue.StateCollapsed: "#8C7A00"}
	for _, st := range queue.DeliveryStates {
		s := Series{Name: stateWord(l, "", st), Color: colors[st]}
		any := false
		for _, ch := range r.Channels {
			n := ch.Counts[st]
			any = any || n > 0
			s.Values = append(s.Values, n)
		}
		if any {
			c.Series = append(c.Series, s)
		}
	}
	return c
}

// curveChart: the complaint curve, a bucket a column, with marks. A long
// curve is drawn with wider buckets (at most maxColumns columns).
func curveChart(r *Report, w words, kind map[string]string, loc *time.Location) BarChart {
	const maxColumns = 96
	cv := r.Complaints.Curve
	step := max(1, (len(cv)+maxColumns-1)/maxColumns)
	c := BarChart{ID: "curve", Title: w["ReportComplaintCurve"], Desc: w["ReportComplaintCurveDesc"]}
	tagged := Series{Name: w["ReportTagged"], Color: "#D55E00"}
	untagged := Series{Name: w["ReportUntagged"], Color: "#0072B2"}
	for i := 0; i < len(cv); i += step {
		t, u := 0, 0
		for j := i; j < min(i+step, len(cv)); j++ {
			t += cv[j].Tagged
			u += cv[j].Untagged
		}
		c.Labels = append(c.Labels, cv[i].At.In(loc).Format("15:04"))
		tagged.Values = append(tagged.Values, t)
		untagged.Values = append(untagged.Values, u)
	}
	c.Series = []Series{tagged, untagged}
	if len(cv) > 0 {
		from := cv[0].At
		width := float64(step) * float64(cv[0].At.Add(5*time.Minute).Sub(from))
		for _, m := range r.Complaints.Marks {
			c.Marks = append(c.Marks, ChartMark{Index: float64(m.At.Sub(from)) / width, Label: kind[m.Label]})
		}
	}
	return c
}

// scoresChart: answers per score.
func scoresChart(r *Report, w words) BarChart {
	c := BarChart{ID: "scores", Title: w["ReportScores"], Desc: w["ReportScoresDesc"], Horizontal: true}
	s := Series{Name: w["ReportAnswered"], Color: "#0072B2"}
	keys := []string{"1", "2", "3", "4", "5"}
	for _, k := range keys {
		c.Labels = append(c.Labels, k)
		s.Values = append(s.Values, r.Surveys.Scores[k])
	}
	c.Series = []Series{s}
	return c
}

// sortedCounts returns m's keys sorted by count, descending, then name.
func sortedCounts[K ~string](m map[K]int) []K {
	out := make([]K, 0, len(m))
	for k, n := range m {
		if n != 0 {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if m[out[i]] != m[out[j]] {
			return m[out[i]] > m[out[j]]
		}
		return out[i] < out[j]
	})
	return out
}
