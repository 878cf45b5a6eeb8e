package reports

import (
	"context"
	"sort"
	"time"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/surveys"
)

// Grants lists an incident's compensation grants (compensation.Service).
type Grants interface {
	Grants(ctx context.Context, pageID, incidentID string) ([]*compensation.Grant, error)
}

// PeriodReport is the evaluation of a page's incidents and complaints
// over [From, To): what a complaint-handling review needs. Unlike an
// incident's report it reads the period's complaints and surveys (the
// complaint service's Stats); it is asked for rarely.
type PeriodReport struct {
	Page Named `json:"page"`
	// TimeZone is the page's: the period's days are its days, and the
	// HTML shows times in it; JSON and CSV times are UTC but From and To
	// (midnights in the zone, with its offset).
	TimeZone    string    `json:"time_zone"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"` // excluded
	GeneratedAt time.Time `json:"generated_at"`

	Incidents int                     `json:"incidents"`
	ByImpact  map[incident.Impact]int `json:"by_impact"`
	// DurationP50S and P90S: declared → resolved, of the resolved
	// incidents; null when none was resolved.
	DurationP50S     *int64           `json:"duration_p50_s"`
	DurationP90S     *int64           `json:"duration_p90_s"`
	IncidentList     []PeriodIncident `json:"incident_list"`
	Complaints       PeriodComplaints `json:"complaints"`
	CompensationCost map[string]int64 `json:"compensation_cost"` // granted, by currency, minor units
	// Grants are the offers given, Declines the offers declined (grant
	// records, as in an incident's report); CustomersGranted the
	// customers given at least one, per incident, added up.
	Grants           int              `json:"grants"`
	Declines         int              `json:"declines"`
	CustomersGranted int              `json:"customers_granted"`
	CSATByMonth      []MonthCSAT      `json:"csat_by_month"`
	Components       []ComponentCount `json:"components"` // most incidents, then most complaints, first
}

// PeriodIncident is one incident of the period.
type PeriodIncident struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Impact     incident.Impact `json:"impact"`
	DeclaredAt time.Time       `json:"declared_at"`
	DurationS  int64           `json:"duration_s"` // -1 while open
	Complaints int             `json:"complaints"`
	FollowUps  int             `json:"follow_ups"` // the survey's follow-up calls, not complaints
	Answered   int             `json:"survey_answers"`
	// CSAT is the share of its scored survey answers scoring 4 or 5;
	// null with none.
	CSAT *float64 `json:"csat"`
	// Grants: offers given (not declined); CustomersGranted: customers
	// given at least one.
	Grants           int              `json:"grants"`
	CustomersGranted int              `json:"customers_granted"`
	Cost             map[string]int64 `json:"cost"` // by currency, minor units
}

// PeriodComplaints are the period's complaint figures (complaint.Stats).
type PeriodComplaints struct {
	Total      int                        `json:"total"`
	ByChannel  map[complaint.Channel]int  `json:"by_channel"`
	ByCategory map[complaint.Category]int `json:"by_category"`
	ByRemedy   map[complaint.Remedy]int   `json:"by_remedy"`
	Tagged     int                        `json:"tagged"`
	Repeats    int                        `json:"repeats"`
	// RepeatRate: repeats / total, null with no complaint; SLAKept: the
	// share of the SLAJudged complaints whose promises were kept, null
	// while none has come due.
	RepeatRate *float64 `json:"repeat_rate"`
	SLAJudged  int      `json:"sla_judged"`
	SLAKept    *float64 `json:"sla_kept"`
	// FirstAnswerP50S and P90S: created → first answer, to the nearest
	// second, as `complaints stats` has them (an incident's report has
	// them in whole minutes, rounded up); null while FirstAnswerN is 0.
	FirstAnswerN    int    `json:"first_answer_n"`
	FirstAnswerP50S *int64 `json:"first_answer_p50_s"`
	FirstAnswerP90S *int64 `json:"first_answer_p90_s"`
	// FollowUps are the survey's follow-up calls (category follow_up),
	// in none of the figures above.
	FollowUps int `json:"follow_ups"`
}

// MonthCSAT is one month's survey answers (of the incidents declared in
// it) and the share scoring 4 or 5.
type MonthCSAT struct {
	Month    string `json:"month"`    // 2026-01
	Answered int    `json:"answered"` // scored answers
	// CSAT is null in a month without a scored answer.
	CSAT *float64 `json:"csat"`
}

// ComponentCount is a component's incidents and complaints in the period.
type ComponentCount struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Incidents  int    `json:"incidents"`
	Complaints int    `json:"complaints"`
}

// MaxPeriod bounds a period (a little over a year and a leap day).
const MaxPeriod = 367 * 24 * time.Hour

// Period builds the evaluation of the page's days [from, to): from and
// to are calendar days (their dates in UTC, as ParsePeriod reads them),
// and the period runs from from's midnight to to's in the page's time
// zone, so that a Budapest page's November is Budapest's.
func (s *Service) Period(ctx context.Context, pageID string, from, to time.Time) (*PeriodReport, error) {
	from, to = from.UTC(), to.UTC()
	if !to.After(from) {
		return nil, incident.Invalid("to", "the period must end after it starts")
	}
	if to.Sub(from) > MaxPeriod {
		return nil, incident.Invalid("to", "a period is at most a year (366 days)")
	}
	page, err := s.Incidents.FindPageByID(ctx, pageID)
	if err != nil {
		return nil, err
	}
	tz := zoneName(page)
	loc := zone(tz)
	from = time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, loc)
	to = time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, loc)
	now := s.now()
	r := &PeriodReport{Page: Named{ID: page.ID, Name: page.Name}, TimeZone: tz, From: from, To: to, GeneratedAt: now,
		ByImpact: map[incident.Impact]int{}, IncidentList: []PeriodIncident{}, CompensationCost: map[string]int64{},
		CSATByMonth: []MonthCSAT{}, Components: []ComponentCount{}}
	comps, err := s.Incidents.FindComponents(ctx, pageID)
	if err != nil {
		return nil, err
	}
	byComp := map[string]*ComponentCount{}
	comp := func(id string) *ComponentCount {
		c := byComp[id]
		if c == nil {
			c = &ComponentCount{ID: id}
			byComp[id] = c
		}
		return c
	}
	for _, c := range comps {
		if !c.Group {
			comp(c.ID).Name = c.Name
		}
	}
	no := false
	incs, _, err := s.Incidents.FindIncidents(ctx, incident.IncidentFilter{PageID: pageID, Maintenance: &no, Since: from})
	if err != nil {
		return nil, err
	}
	type month struct{ happy, answered int }
	months := map[string]*month{}
	for m := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, loc); m.Before(to); m = m.AddDate(0, 1, 0) {
		months[m.Format("2006-01")] = &month{}
	}
	var durations []int64
	sort.Slice(incs, func(i, j int) bool { return incs[i].CreatedAt.Before(incs[j].CreatedAt) })
	for _, inc := range incs {
		if !inc.CreatedAt.Before(to) {
			continue
		}
		declared := declaredAt(inc)
		pi := PeriodIncident{ID: inc.ID, Name: inc.Name, Impact: inc.PeakImpact(), DeclaredAt: declared, DurationS: -1}
		if inc.ResolvedAt != nil {
			pi.DurationS = int64(inc.ResolvedAt.Sub(declared) / time.Second)
			durations = append(durations, pi.DurationS)
		}
		r.Incidents++
		r.ByImpact[pi.Impact]++
		for _, id := range inc.ComponentIDs {
			comp(id).Incidents++
		}
		if s.Surveys != nil {
			res, err := s.Surveys.Results(ctx, pageID, inc.ID)
			if err != nil {
				return nil, err
			}
			pi.Answered, pi.CSAT = res.Answered, res.CSAT
			if m := months[declared.In(loc).Format("2006-01")]; m != nil {
				m.answered += scoreCount(res.Summary)
				m.happy += res.Scores["4"] + res.Scores["5"]
			}
		}
		if s.Grants != nil {
			gs, err := s.Grants.Grants(ctx, pageID, inc.ID)
			if err != nil {
				return nil, err
			}
			pi.Cost = map[string]int64{}
			for _, g := range gs {
				if g.Declined {
					r.Declines++
					continue
				}
				pi.Grants++
				if g.Amount.Amount != 0 {
					r.CompensationCost[g.Amount.Currency] += g.Amount.Amount
					pi.Cost[g.Amount.Currency] += g.Amount.Amount
				}
			}
			pi.CustomersGranted, _ = grantCustomers(gs)
			r.Grants += pi.Grants
			r.CustomersGranted += pi.CustomersGranted
		}
		r.IncidentList = append(r.IncidentList, pi)
	}
	sort.Slice(durations, func(i, j int) bool { return durations[i] < durations[j] })
	if len(durations) > 0 {
		p50, p90 := rank(durations, 0.5), rank(durations, 0.9)
		r.DurationP50S, r.DurationP90S = &p50, &p90
	}
	for _, k := range sortedKeys(months) {
		m := months[k]
		r.CSATByMonth = append(r.CSATByMonth, MonthCSAT{Month: k, Answered: m.answered, CSAT: surveys.Ratio(m.happy, m.answered)})
	}
	if s.Stats != nil {
		st, err := s.Stats.Stats(ctx, pageID, from, to)
		if err != nil {
			return nil, err
		}
		pc := PeriodComplaints{Total: st.Total, ByChannel: st.ByChannel, ByCategory: st.ByCategory, ByRemedy: st.Remedies,
			Tagged: st.Tagged, Repeats: st.Repeats, SLAJudged: st.SLAJudged, FirstAnswerN: st.FirstAnswer.N, FollowUps: st.FollowUps}
		if st.Total > 0 {
			pc.RepeatRate = ratio3(st.RepeatRate)
		}
		if st.SLAJudged > 0 {
			pc.SLAKept = ratio3(st.SLAKept)
		}
		if st.FirstAnswer.N > 0 {
			p50, p90 := roundSecs(st.FirstAnswer.P50), roundSecs(st.FirstAnswer.P90)
			pc.FirstAnswerP50S, pc.FirstAnswerP90S = &p50, &p90
		}
		r.Complaints = pc
		for id, n := range st.ByComponent {
			comp(id).Complaints += n
		}
		for i := range r.IncidentList {
			r.IncidentList[i].Complaints = st.ByIncident[r.IncidentList[i].ID]
			r.IncidentList[i].FollowUps = st.FollowUpsByIncident[r.IncidentList[i].ID]
		}
	}
	for _, c := range byComp {
		if c.Incidents+c.Complaints > 0 {
			r.Components = append(r.Components, *c)
		}
	}
	sort.Slice(r.Components, func(i, j int) bool {
		a, b := r.Components[i], r.Components[j]
		if a.Incidents != b.Incidents {
			return a.Incidents > b.Incidents
		}
		if a.Complaints != b.Complaints {
			return a.Complaints > b.Complaints
		}
		return a.ID < b.ID
	})
	return r, nil
}

// roundSecs is d in whole seconds, to the nearest (as the CLI prints the
// API's fractional seconds).
func roundSecs(d time.Duration) int64 { return int64(d.Round(time.Second) / time.Second) }

// scoreCount is how many answers gave a score.
func scoreCount(s surveys.Summary) int {
	n := 0
	for _, v := range s.Scores {
		n += v
	}
	return n
}

// rank is the nearest-rank percentile p of sorted xs (0 when empty).
func rank(xs []int64, p float64) int64 {
	if len(xs) == 0 {
		return 0
	}
	i := int(p*float64(len(xs))+0.999999) - 1
	return xs[max(0, min(i, len(xs)-1))]
}
