package reports

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
)

// CSVHeader is the header of every report's CSV: one figure a row, in
// long form, so a spreadsheet can filter and pivot it.
var CSVHeader = []string{"section", "at", "channel", "key", "value", "detail"}

// JSON is the report as indented JSON.
func (r *Report) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

type csvRows struct{ rows [][]string }

func (c *csvRows) add(section string, at time.Time, ch, key, value, detail string) {
	ts := ""
	if !at.IsZero() {
		ts = at.UTC().Format(time.RFC3339)
	}
	c.rows = append(c.rows, []string{section, ts, ch, key, value, cell(detail)})
}

// cell keeps a spreadsheet from reading a value as a formula (CSV
// injection): text starting with = + - @ or a tab gets a leading quote.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func itoa(n int) string     { return strconv.Itoa(n) }
func i64(n int64) string    { return strconv.FormatInt(n, 10) }
func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// addFigure adds a figure that may not exist (nil: nothing to measure it
// by): its value, or an empty value with none, which says why. A
// spreadsheet then shows an empty cell, never a 0 that reads as "all
// complaints late" or "every customer unhappy".
func addFigure[T int64 | float64](c *csvRows, section string, at time.Time, ch, key string, v *T, detail, none string) {
	switch p := any(v).(type) {
	case *float64:
		if p != nil {
			c.add(section, at, ch, key, ftoa(*p), detail)
			return
		}
	case *int64:
		if p != nil {
			c.add(section, at, ch, key, i64(*p), detail)
			return
		}
	}
	c.add(section, at, ch, key, "", none)
}

func (c *csvRows) bytes() ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write(CSVHeader); err != nil {
		return nil, err
	}
	for _, r := range c.rows {
		for i := range r {
			if i != 0 && i != 5 { // the detail is escaped by add; the rest are herald's own words and numbers
				r[i] = cell(r[i])
			}
		}
	}
	if err := w.WriteAll(c.rows); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func sortedKeys[K ~string, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// CSV is the report as CSV (CSVHeader).
func (r *Report) CSV() ([]byte, error) {
	c := &csvRows{}
	in := r.Incident
	c.add("report", r.GeneratedAt, "", "time_zone", r.TimeZone, "times here are UTC; the HTML shows them in this zone")
	c.add("incident", time.Time{}, "", "id", in.ID, "")
	c.add("incident", time.Time{}, "", "name", "", in.Name)
	c.add("incident", time.Time{}, "", "impact", string(in.Impact), "")
	c.add("incident", time.Time{}, "", "status", string(in.Status), "")
	c.add("incident", in.DeclaredAt, "", "declared", "", "")
	if in.ResolvedAt != nil {
		c.add("incident", *in.ResolvedAt, "", "resolved", "", "")
	}
	c.add("incident", time.Time{}, "", "duration_s", i64(in.DurationS), "")
	for _, e := range r.Timeline {
		c.add("timeline", e.At, "", e.Kind, string(e.Status), e.Actor)
	}
	for _, b := range r.Broadcasts {
		for _, ch := range b.Channels {
			key := "broadcast:" + string(b.Kind) + ":" + b.ID
			c.add("deliveries", b.CreatedAt, string(ch.Channel), key+":total", itoa(ch.Total), "")
			for _, st := range sortedKeys(ch.Counts) {
				c.add("deliveries", b.CreatedAt, string(ch.Channel), key+":"+string(st), itoa(ch.Counts[st]), "")
			}
			if ch.FirstOutS != nil {
				c.add("deliveries", b.CreatedAt, string(ch.Channel), key+":first_out_s", i64(*ch.FirstOutS), "")
			}
			if ch.Out90S != nil {
				c.add("deliveries", b.CreatedAt, string(ch.Channel), key+":out_90_s", i64(*ch.Out90S), "")
			}
			for _, rc := range ch.Reasons {
				c.add("delivery_reasons", b.CreatedAt, string(ch.Channel), key, itoa(rc.N), rc.Reason)
			}
		}
	}
	cf := r.Complaints
	c.add("complaints", time.Time{}, "", "tagged", itoa(cf.Tagged), "")
	c.add("complaints", time.Time{}, "", "untagged", itoa(cf.Untagged), "")
	c.add("complaints", time.Time{}, "", "repeats", itoa(cf.Repeats), "")
	addFigure(c, "complaints", time.Time{}, "", "repeat_rate", cf.RepeatRate, "", "none: no tagged complaint")
	c.add("complaints", time.Time{}, "", "answered", itoa(cf.Answered), "")
	addFigure(c, "complaints", time.Time{}, "", "first_answer_p50_s", cf.FirstAnswerP50S, "at most: whole minutes, rounded up", "none: no complaint answered yet")
	addFigure(c, "complaints", time.Time{}, "", "first_answer_p90_s", cf.FirstAnswerP90S, "at most: whole minutes, rounded up", "none: no complaint answered yet")
	c.add("complaints", time.Time{}, "", "sla_judged", itoa(cf.SLAJudged), "")
	addFigure(c, "complaints", time.Time{}, "", "sla_kept", cf.SLAKept, "", "none: no promise has come due yet")
	c.add("complaints", time.Time{}, "", "follow_ups", itoa(cf.FollowUps), "the survey's follow-up calls, in no other complaint figure")
	c.add("complaints", time.Time{}, "", "follow_ups_open", itoa(cf.FollowUpsOpen), "")
	for _, k := range sortedKeys(cf.ByChannel) {
		c.add("complaints", time.Time{}, string(k), "by_channel", itoa(cf.ByChannel[k]), "")
	}
	for _, k := range sortedKeys(cf.ByCategory) {
		c.add("complaints", time.Time{}, "", "by_category:"+string(k), itoa(cf.ByCategory[k]), "")
	}
	for _, b := range cf.Curve {
		if b.Tagged+b.Untagged > 0 {
			c.add("complaint_curve", b.At, "", "tagged", itoa(b.Tagged), "")
			c.add("complaint_curve", b.At, "", "untagged", itoa(b.Untagged), "")
		}
	}
	for _, m := range cf.Marks {
		c.add("complaint_marks", m.At, "", m.Label, "", "")
	}
	if cp := r.Compensation; cp != nil {
		c.add("compensation", time.Time{}, "", "state", string(cp.State), "")
		c.add("compensation", time.Time{}, "", "eligible", itoa(cp.Eligible), "customers")
		c.add("compensation", time.Time{}, "", "customers_granted", itoa(cp.CustomersGranted), "customers given at least one offer")
		c.add("compensation", time.Time{}, "", "customers_declined", itoa(cp.CustomersDeclined), "customers who declined and were given none")
		c.add("compensation", time.Time{}, "", "granted", itoa(cp.Granted), "offers given")
		c.add("compensation", time.Time{}, "", "declined", itoa(cp.Declined), "offers declined")
		for _, k := range sortedKeys(cp.ByOffer) {
			c.add("compensation", time.Time{}, "", "granted:"+k, itoa(cp.ByOffer[k]), "")
		}
		for _, k := range sortedKeys(cp.Cost) {
			c.add("compensation", time.Time{}, "", "cost:"+k, i64(cp.Cost[k]), "minor units")
		}
	}
	if s := r.Surveys; s != nil {
		c.add("surveys", time.Time{}, "", "sent", itoa(s.Sent), "")
		c.add("surveys", time.Time{}, "", "answered", itoa(s.Answered), "")
		c.add("surveys", time.Time{}, "", "scored", itoa(s.Scored), "answers with a score: csat and average are over them")
		addFigure(c, "surveys", time.Time{}, "", "response_rate", s.ResponseRate, "", "none: no survey sent yet")
		addFigure(c, "surveys", time.Time{}, "", "csat", s.CSAT, "", "none: no answers with a score yet")
		addFigure(c, "surveys", time.Time{}, "", "average", s.Average, "", "none: no answers with a score yet")
		for _, k := range sortedKeys(s.Scores) {
			c.add("surveys", time.Time{}, "", "score:"+k, itoa(s.Scores[k]), "")
		}
		for _, k := range sortedKeys(s.Informed) {
			c.add("surveys", time.Time{}, "", "informed:"+k, itoa(s.Informed[k]), "")
		}
		for _, k := range sortedKeys(s.Received) {
			c.add("surveys", time.Time{}, "", "received:"+k, itoa(s.Received[k]), "")
		}
		c.add("surveys", time.Time{}, "", "skipped", itoa(s.Skipped), "")
		// The splits: by channel, language and segment, one figure a row.
		for _, by := range sortedKeys(s.By) {
			for _, v := range sortedKeys(s.By[by]) {
				g := s.By[by][v]
				key := "by_" + by + ":" + v
				ch := ""
				if by == "channel" {
					ch = v
				}
				c.add("survey_split", time.Time{}, ch, key+":sent", itoa(g.Sent), "")
				c.add("survey_split", time.Time{}, ch, key+":answered", itoa(g.Answered), "")
				if g.CSAT != nil {
					c.add("survey_split", time.Time{}, ch, key+":csat", ftoa(*g.CSAT), "")
				}
			}
		}
		for _, cm := range s.Comments {
			at, _ := time.Parse(time.RFC3339, cm.At)
			score := "none" // words without a score
			if cm.Score != nil {
				score = itoa(*cm.Score)
			}
			c.add("survey_comment", at, cm.Channel, "score:"+score, cm.Language, cm.Text)
		}
	}
	if p := r.Postmortem; p != nil {
		at := time.Time{}
		if p.PublishedAt != nil {
			at = *p.PublishedAt
		}
		c.add("postmortem", at, "", "length", itoa(len(p.Body)), "")
	}
	return c.bytes()
}
