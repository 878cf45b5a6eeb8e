package complaint

import (
	"context"
	"sort"
	"time"
)

// Stats are the figures a complaint evaluation needs, over the complaints
// created in [From, To), plus the open backlog as it stands.
type Stats struct {
	PageID          string           `json:"page_id"`
	From            time.Time        `json:"from"`
	To              time.Time        `json:"to"`
	Total           int              `json:"total"`
	ByChannel       map[Channel]int  `json:"by_channel"`
	ByCategory      map[Category]int `json:"by_category"`
	ByIncident      map[string]int   `json:"by_incident"`  // tagged ones, by incident ID
	ByComponent     map[string]int   `json:"by_component"` // by the component IDs they concern
	ByState         map[State]int    `json:"by_state"`
	Tagged          int              `json:"tagged"`
	Untagged        int              `json:"untagged"`
	Repeats         int              `json:"repeats"`
	RepeatRate      float64          `json:"repeat_rate"` // repeats / total
	Remedies        map[Remedy]int   `json:"remedies"`
	Acknowledgement Percentiles      `json:"acknowledgement"` // created → automatic answer queued
	FirstAnswer     Percentiles      `json:"first_answer"`    // created → first answer by a person or the resolution
	Resolution      Percentiles      `json:"resolution"`      // created → resolved
	// SLAKept is the share of complaints whose promises have come due (or
	// that were resolved) that kept both: first answer and resolution in
	// time. SLAJudged is how many that is.
	SLAKept   float64        `json:"sla_kept"`
	SLAJudged int            `json:"sla_judged"`
	Backlog   map[string]int `json:"backlog"` // open complaints by age: <1d, 1-3d, 3-7d, >7d
	// FollowUps are herald's own win-back tasks (CategoryFollowUp, opened
	// from unhappy survey answers) created in the window: not complaints,
	// so in none of the figures above; FollowUpsByIncident the tagged
	// ones by incident ID.
	FollowUps           int            `json:"follow_ups"`
	FollowUpsByIncident map[string]int `json:"follow_ups_by_incident"`
}

// Percentiles are p50 and p90 of a duration, over N complaints.
type Percentiles struct {
	N   int           `json:"n"`
	P50 time.Duration `json:"p50"`
	P90 time.Duration `json:"p90"`
}

// Backlog age buckets.
var backlogBuckets = []struct {
	name string
	max  time.Duration
}{{"<1d", 24 * time.Hour}, {"1-3d", 72 * time.Hour}, {"3-7d", 7 * 24 * time.Hour}, {">7d", 1<<63 - 1}}

// Stats computes the evaluation of a page's complaints created in
// [from, to). It reads the complaints a page at a time. Survey follow-up
// tasks (CategoryFollowUp) are counted apart (FollowUps), outside every
// complaint figure and the backlog: a customer did not complain, herald
// asked them.
func (s *Service) Stats(ctx context.Context, pageID string, from, to time.Time) (*Stats, error) {
	now := s.now()
	st := &Stats{PageID: pageID, From: from, To: to, ByChannel: map[Channel]int{}, ByCategory: map[Category]int{},
		ByIncident: map[string]int{}, ByComponent: map[string]int{}, ByState: map[State]int{}, Remedies: map[Remedy]int{}, Backlog: map[string]int{},
		FollowUpsByIncident: map[string]int{}}
	for _, b := range backlogBuckets {
		st.Backlog[b.name] = 0
	}
	var ack, first, res []time.Duration
	kept := 0
	err := s.each(ctx, Filter{PageID: pageID, Since: from, Until: to}, func(c *Complaint) {
		if c.Category == CategoryFollowUp {
			st.FollowUps++
			if id := c.IncidentID(); id != "" {
				st.FollowUpsByIncident[id]++
			}
			return
		}
		st.Total++
		st.ByChannel[c.Channel]++
		st.ByCategory[c.Category]++
		st.ByState[c.State]++
		for _, id := range c.Components {
			st.ByComponent[id]++
		}
		if id := c.IncidentID(); id != "" {
			st.Tagged++
			st.ByIncident[id]++
		} else {
			st.Untagged++
		}
		if c.Repeat {
			st.Repeats++
		}
		if c.Remedy != "" {
			st.Remedies[c.Remedy]++
		}
		if c.AckedAt != nil {
			ack = append(ack, c.AckedAt.Sub(c.CreatedAt))
		}
		if c.FirstAnswerAt != nil {
			first = append(first, c.FirstAnswerAt.Sub(c.CreatedAt))
		}
		if c.ResolvedAt != nil {
			res = append(res, c.ResolvedAt.Sub(c.CreatedAt))
		}
		if judged, ok := slaKept(c, now); judged {
			st.SLAJudged++
			if ok {
				kept++
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if st.Total > 0 {
		st.RepeatRate = float64(st.Repeats) / float64(st.Total)
	}
	if st.SLAJudged > 0 {
		st.SLAKept = float64(kept) / float64(st.SLAJudged)
	}
	st.Acknowledgement, st.FirstAnswer, st.Resolution = percentiles(ack), percentiles(first), percentiles(res)
	err = s.each(ctx, Filter{PageID: pageID, Open: true}, func(c *Complaint) {
		if c.Category == CategoryFollowUp {
			return
		}
		age := now.Sub(c.CreatedAt)
		for _, b := range backlogBuckets {
			if age < b.max {
				st.Backlog[b.name]++
				break
			}
		}
	})
	return st, err
}

// each calls fn for every complaint matching f, a page at a time.
func (s *Service) each(ctx context.Context, f Filter, fn func(*Complaint)) error {
	const page = 1000
	f.Limit = page
	for off := 0; ; off += page {
		f.Offset = off
		cs, _, err := s.Store.FindComplaints(ctx, f)
		if err != nil {
			return err
		}
		for _, c := range cs {
			fn(c)
		}
		if len(cs) < page {
			return nil
		}
	}
}

// slaKept says whether c's promises can be judged at now (both came due,
// or it is resolved) and whether it kept them.
func slaKept(c *Complaint, now time.Time) (judged, kept bool) {
	firstOK := c.FirstAnswerAt != nil && !c.FirstAnswerAt.After(c.FirstAnswerDue)
	resolvedOK := c.ResolvedAt != nil && !c.ResolvedAt.After(c.ResolveDue)
	switch {
	case c.ResolvedAt != nil:
		return true, firstOK && resolvedOK
	case now.After(c.ResolveDue) || now.After(c.FirstAnswerDue) && c.FirstAnswerAt == nil:
		return true, false
	}
	return false, false
}

// percentiles returns p50 and p90 (nearest rank) of ds.
func percentiles(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(ds))+0.999999) - 1
		return ds[max(0, min(i, len(ds)-1))]
	}
	return Percentiles{N: len(ds), P50: rank(0.5), P90: rank(0.9)}
}
