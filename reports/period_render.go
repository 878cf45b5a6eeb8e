package reports

import (
	"bytes"
	"encoding/json"
	"html/template"
	"time"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/locale"
)

// JSON is the evaluation as indented JSON.
func (r *PeriodReport) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// CSV is the evaluation as CSV (CSVHeader).
func (r *PeriodReport) CSV() ([]byte, error) {
	c := &csvRows{}
	z := time.Time{}
	// The period's days are the page's (TimeZone): the details say which
	// days, as people wrote them. To is the day after the last
	// (excluded), as the JSON has it.
	c.add("report", r.GeneratedAt, "", "time_zone", r.TimeZone, "times here are UTC; the period's days are this zone's")
	c.add("period", r.From, "", "from", "", "the first day is "+r.From.Format(time.DateOnly)+" ("+r.TimeZone+")")
	c.add("period", r.To, "", "to", "", "excluded: the last day is "+r.To.AddDate(0, 0, -1).Format(time.DateOnly)+" ("+r.TimeZone+")")
	c.add("incidents", z, "", "total", itoa(r.Incidents), "")
	for _, k := range sortedKeys(r.ByImpact) {
		c.add("incidents", z, "", "impact:"+string(k), itoa(r.ByImpact[k]), "")
	}
	addFigure(c, "incidents", z, "", "duration_p50_s", r.DurationP50S, "", "none: no incident resolved in the period")
	addFigure(c, "incidents", z, "", "duration_p90_s", r.DurationP90S, "", "none: no incident resolved in the period")
	for _, pi := range r.IncidentList {
		c.add("incident", pi.DeclaredAt, "", pi.ID, i64(pi.DurationS), pi.Name)
		// Its figures, a row each, keyed by its ID.
		c.add("incident", pi.DeclaredAt, "", pi.ID+":impact", string(pi.Impact), "")
		c.add("incident", pi.DeclaredAt, "", pi.ID+":complaints", itoa(pi.Complaints), "")
		c.add("incident", pi.DeclaredAt, "", pi.ID+":follow_ups", itoa(pi.FollowUps), "")
		c.add("incident", pi.DeclaredAt, "", pi.ID+":survey_answers", itoa(pi.Answered), "")
		if pi.CSAT != nil {
			c.add("incident", pi.DeclaredAt, "", pi.ID+":csat", ftoa(*pi.CSAT), "")
		}
		c.add("incident", pi.DeclaredAt, "", pi.ID+":grants", itoa(pi.Grants), "offers given")
		c.add("incident", pi.DeclaredAt, "", pi.ID+":customers_granted", itoa(pi.CustomersGranted), "")
		for _, k := range sortedKeys(pi.Cost) {
			c.add("incident", pi.DeclaredAt, "", pi.ID+":cost:"+k, i64(pi.Cost[k]), "minor units")
		}
	}
	pc := r.Complaints
	c.add("complaints", z, "", "total", itoa(pc.Total), "")
	for _, k := range sortedKeys(pc.ByChannel) {
		c.add("complaints", z, string(k), "by_channel", itoa(pc.ByChannel[k]), "")
	}
	for _, k := range sortedKeys(pc.ByCategory) {
		c.add("complaints", z, "", "by_category:"+string(k), itoa(pc.ByCategory[k]), "")
	}
	for _, k := range sortedKeys(pc.ByRemedy) {
		c.add("complaints", z, "", "by_remedy:"+string(k), itoa(pc.ByRemedy[k]), "")
	}
	addFigure(c, "complaints", z, "", "repeat_rate", pc.RepeatRate, "", "none: no complaint in the period")
	c.add("complaints", z, "", "sla_judged", itoa(pc.SLAJudged), "")
	addFigure(c, "complaints", z, "", "sla_kept", pc.SLAKept, "", "none: no promise came due in the period")
	addFigure(c, "complaints", z, "", "first_answer_p50_s", pc.FirstAnswerP50S, "", "none: no complaint answered in the period")
	addFigure(c, "complaints", z, "", "first_answer_p90_s", pc.FirstAnswerP90S, "", "none: no complaint answered in the period")
	c.add("complaints", z, "", "follow_ups", itoa(pc.FollowUps), "the survey's follow-up calls, in no other complaint figure")
	c.add("compensation", z, "", "customers_granted", itoa(r.CustomersGranted), "customers given at least one offer, per incident")
	c.add("compensation", z, "", "grants", itoa(r.Grants), "offers given")
	c.add("compensation", z, "", "declines", itoa(r.Declines), "offers declined")
	for _, k := range sortedKeys(r.CompensationCost) {
		c.add("compensation", z, "", "cost:"+k, i64(r.CompensationCost[k]), "minor units")
	}
	// One figure a row, as every other section: a month's CSAT and how
	// many answers it rests on; a component's incidents and complaints.
	for _, m := range r.CSATByMonth {
		addFigure(c, "csat", z, "", m.Month, m.CSAT, "", "none: no answers with a score")
		c.add("csat", z, "", m.Month+":answers", itoa(m.Answered), "")
	}
	for _, cc := range r.Components {
		c.add("components", z, "", "incidents:"+cc.ID, itoa(cc.Incidents), cc.Name)
		c.add("components", z, "", "complaints:"+cc.ID, itoa(cc.Complaints), cc.Name)
	}
	return c.bytes()
}

type periodView struct {
	Lang     string
	L        *locale.Lang
	Loc      *time.Location // the page's zone, for stamp
	W        words
	R        *PeriodReport
	Links    map[string]string
	Back     string // the page to go back to (BackLink), "" for none
	Impact   template.HTML
	CSAT     template.HTML
	Channels template.HTML
	LastDay  time.Time
}

// HTML renders the evaluation in lang, with links to its JSON and CSV.
func (r *PeriodReport) HTML(lang string, links map[string]string) ([]byte, error) {
	downloads, back := splitLinks(links)
	tmplOnce.Do(load)
	if tmplErr != nil {
		return nil, tmplErr
	}
	w := wordsFor(lang)
	v := periodView{Lang: cat.Lang(lang).Code(), L: cat.Lang(lang), Loc: zone(r.TimeZone), W: w, R: r, Links: downloads, Back: back, LastDay: r.To.AddDate(0, 0, -1)}
	imp := BarChart{ID: "impact", Title: w["ReportIncidentsByImpact"], Desc: w["ReportIncidentsByImpactDesc"], Horizontal: true}
	is := Series{Name: w["ReportIncidents"], Color: "#D55E00"}
	for _, k := range []incident.Impact{incident.ImpactCritical, incident.ImpactMajor, incident.ImpactMinor, incident.ImpactNone} {
		imp.Labels = append(imp.Labels, v.L.Word("Impact", string(k)))
		is.Values = append(is.Values, r.ByImpact[k])
	}
	imp.Series = []Series{is}
	v.Impact = imp.SVG()
	cs := BarChart{ID: "csat", Title: w["ReportCSATTrend"], Desc: w["ReportCSATTrendDesc"]}
	s := Series{Name: w["ReportCSAT"], Color: "#009E73"}
	for _, m := range r.CSATByMonth {
		// 2026-01: "26-01" read as a day. A month without answers has
		// no bar, and its label says so: an empty bar is not 0 %.
		if m.CSAT == nil {
			cs.Labels = append(cs.Labels, m.Month+" –")
			s.Values = append(s.Values, 0)
			continue
		}
		cs.Labels = append(cs.Labels, m.Month)
		s.Values = append(s.Values, int(*m.CSAT*100+0.5))
	}
	cs.Series = []Series{s}
	v.CSAT = cs.SVG()
	ch := BarChart{ID: "channels", Title: w["ReportComplaints"] + " · " + w["ReportByChannel"], Desc: w["ReportByChannel"], Horizontal: true}
	cse := Series{Name: w["ReportComplaints"], Color: "#0072B2"}
	for _, k := range sortedCounts(r.Complaints.ByChannel) {
		ch.Labels = append(ch.Labels, v.L.Word("ReportVia", string(k)))
		cse.Values = append(cse.Values, r.Complaints.ByChannel[k])
	}
	ch.Series = []Series{cse}
	if len(ch.Labels) > 0 {
		v.Channels = ch.SVG()
	}
	var b bytes.Buffer
	if err := tmpl.ExecuteTemplate(&b, "period.html", v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
