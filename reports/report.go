// Package reports builds what herald tells a company after an incident:
// the post-incident report (timeline, how fast the messages went out,
// what became of them, the complaints, the compensation, the surveys and
// the postmortem) and the evaluation of a period. It reads through the
// small interfaces below, which the engines and the domain services
// implement, and renders HTML (with its own SVG charts, no JavaScript),
// JSON and CSV.
//
// Speed: a report reads counters the engines keep as deliveries and
// complaints change (queue.Store.Progress and DeliveryTimes,
// complaint.Store.ComplaintTally) and the surveys' tallies, never the
// deliveries or the complaints themselves (but the survey's follow-up
// tasks, to take them out of the complaint figures), so it costs the same
// for ten deliveries and for a million.
package reports

import (
	"context"
	"sort"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/surveys"
)

// Incidents is what a report reads of the incidents (incident.Store).
type Incidents interface {
	FindPageByID(ctx context.Context, id string) (*incident.Page, error)
	FindIncidentByID(ctx context.Context, id string) (*incident.Incident, error)
	FindIncidents(ctx context.Context, f incident.IncidentFilter) ([]*incident.Incident, int, error)
	FindComponents(ctx context.Context, pageID string) ([]*incident.Component, error)
	FindAudit(ctx context.Context, f incident.AuditFilter) ([]*incident.AuditEntry, int, error)
}

// Deliveries is what a report reads of the fan-out (queue.Store): the
// counters, never the deliveries.
type Deliveries interface {
	FindPlans(ctx context.Context, incidentID string) ([]*queue.Plan, error)
	Progress(ctx context.Context, broadcastID string) (*queue.Progress, error)
	DeliveryTimes(ctx context.Context, broadcastID string) ([]queue.TimeCount, error)
}

// Complaints is what a report reads of the complaints: the tallies
// (complaint.Store), and for a period the complaint service's Stats. It
// reads no complaint but the incident's survey follow-up tasks, to take
// them out of the complaint figures.
type Complaints interface {
	ComplaintTally(ctx context.Context, pageID, scope string) (complaint.Tally, error)
	FindComplaints(ctx context.Context, f complaint.Filter) ([]*complaint.Complaint, int, error)
}

// ComplaintStats computes a period's complaint figures (complaint.Service).
type ComplaintStats interface {
	Stats(ctx context.Context, pageID string, from, to time.Time) (*complaint.Stats, error)
}

// Compensation is the incident's compensation figures (compensation.Service).
type Compensation interface {
	Totals(ctx context.Context, pageID, incidentID string) (*compensation.Totals, error)
}

// Surveys is the incident's survey results (surveys.Service).
type Surveys interface {
	Results(ctx context.Context, pageID, incidentID string) (*surveys.Results, error)
}

// Service builds reports. Stats, Compensation, Grants and Surveys may be nil
// (their sections are then left out).
type Service struct {
	Incidents    Incidents
	Deliveries   Deliveries
	Complaints   Complaints
	Stats        ComplaintStats
	Compensation Compensation
	Grants       Grants
	Surveys      Surveys
	// Now is the clock (tests inject one); nil: time.Now.
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Report is one incident's post-incident report. Durations are whole
// seconds (the JSON's *_s fields).
type Report struct {
	Page Named `json:"page"`
	// TimeZone is the page's (IANA name): the HTML shows times in it,
	// named; JSON and CSV times are UTC.
	TimeZone     string               `json:"time_zone"`
	Incident     IncidentSummary      `json:"incident"`
	GeneratedAt  time.Time            `json:"generated_at"`
	Timeline     []TimelineEntry      `json:"timeline"`
	Broadcasts   []BroadcastFigures   `json:"broadcasts"`
	Channels     []ChannelTotals      `json:"channels"` // every broadcast's deliveries, by channel
	Complaints   ComplaintFigures     `json:"complaints"`
	Compensation *CompensationFigures `json:"compensation"` // nil without the compensation service
	Surveys      *surveys.Results     `json:"surveys"`      // nil without the survey service
	Postmortem   *Postmortem          `json:"postmortem"`   // nil until written
}

// Named is an object's ID and name.
type Named struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// IncidentSummary says what the incident was.
type IncidentSummary struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Impact     incident.Impact `json:"impact"`
	Status     incident.Status `json:"status"`
	Components []Named         `json:"components"`
	DeclaredAt time.Time       `json:"declared_at"`
	ResolvedAt *time.Time      `json:"resolved_at"`
	DurationS  int64           `json:"duration_s"` // declared → resolved (or the report's time while open)
}

// Timeline entry kinds.
const (
	EntryDeclared   = "declared"
	EntryUpdate     = "update"
	EntryResolved   = "resolved"
	EntryPostmortem = "postmortem"
)

// TimelineEntry is one step of the incident: declared, each update,
// resolved, the postmortem; Actor is who did it (the audit's actor).
type TimelineEntry struct {
	At     time.Time       `json:"at"`
	Kind   string          `json:"kind"`
	Status incident.Status `json:"status"`
	Body   string          `json:"body"`
	// Messages are the update's texts in other languages, as the
	// manager wrote them (the HTML report in that language shows its
	// own).
	Messages map[string]string `json:"messages,omitempty"`
	Actor    string            `json:"actor"`
}

// In is the entry's text in lang: its message in that language, else Body.
func (e TimelineEntry) In(lang string) string {
	if m := e.Messages[lang]; m != "" {
		return m
	}
	return e.Body
}

// BroadcastFigures are one broadcast's deliveries.
type BroadcastFigures struct {
	ID        string                 `json:"id"`
	Kind      incident.BroadcastKind `json:"kind"`
	CreatedAt time.Time              `json:"created_at"`
	State     queue.PlanState        `json:"state"`
	Planned   int                    `json:"planned"`
	Channels  []ChannelFigures       `json:"channels"`
}

// ChannelFigures are a broadcast's deliveries on one channel: how many
// in each state, why they failed or were not sent, and how fast they went
// out. FirstOutS is the time from the broadcast (the declaration, the
// update) to its first message the provider took, Out90S to 90 % of the
// messages that were to go (all but suppressed, cancelled and collapsed
// ones) taken by the provider; both are read from 10-second buckets, so
// they are upper bounds, and nil until it happened.
type ChannelFigures struct {
	Channel   channel.Kind                `json:"channel"`
	Total     int                         `json:"total"`
	ToSend    int                         `json:"to_send"`
	Counts    map[queue.DeliveryState]int `json:"counts"`
	Reasons   []ReasonCount               `json:"reasons"`
	FirstOutS *int64                      `json:"first_out_s"`
	Out90S    *int64                      `json:"out_90_s"`
	// Curve is how many messages the provider took by then, per
	// 10-second bucket since the broadcast (cumulative).
	Curve []CurvePoint `json:"-"`
}

// CurvePoint is a cumulative count at a time.
type CurvePoint struct {
	At time.Time
	N  int
}

// ReasonCount is how many deliveries failed or were not sent (suppressed)
// for a reason.
type ReasonCount struct {
	Reason string `json:"reason"`
	N      int    `json:"n"`
}

// ChannelTotals are every broadcast's deliveries on one channel.
type ChannelTotals struct {
	Channel channel.Kind                `json:"channel"`
	Total   int                         `json:"total"`
	Counts  map[queue.DeliveryState]int `json:"counts"`
}

// ComplaintFigures are the incident's complaints: those tagged to it, and
// beside them on the curve those waiting in triage at the time. Herald's
// own win-back tasks after the survey (category follow_up) are not
// complaints: they are in none of these figures but FollowUps.
type ComplaintFigures struct {
	Tagged     int                        `json:"tagged"`
	Untagged   int                        `json:"untagged"` // created in the curve's window, still untagged
	ByChannel  map[complaint.Channel]int  `json:"by_channel"`
	ByCategory map[complaint.Category]int `json:"by_category"`
	Repeats    int                        `json:"repeats"`
	// RepeatRate is Repeats / Tagged; null with no tagged complaint.
	RepeatRate *float64 `json:"repeat_rate"`
	Answered   int      `json:"answered"`
	// FirstAnswerP50S and P90S: created → first answer by a person or
	// the resolution, in whole minutes (rounded up) as seconds: upper
	// bounds, as the tallies keep them (the HTML writes "≤ 1 min"; the
	// period's evaluation and `complaints stats` have exact seconds).
	// Null while no complaint has been answered (Answered 0).
	FirstAnswerP50S *int64 `json:"first_answer_p50_s"`
	FirstAnswerP90S *int64 `json:"first_answer_p90_s"`
	SLAJudged       int    `json:"sla_judged"`
	// SLAKept is the share of the SLAJudged complaints whose promises
	// were kept; null while none has come due.
	SLAKept *float64 `json:"sla_kept"`
	// Curve: complaints in per complaint.TallyBucket (5 minutes) from
	// before the declaration until after the resolution (at most until
	// the report's time, GeneratedAt, rounded up to a bucket); Marks the
	// declaration and the updates on it.
	CurveFrom time.Time     `json:"curve_from"`
	CurveTo   time.Time     `json:"curve_to"`
	Curve     []CurveBucket `json:"curve"`
	Marks     []Mark        `json:"marks"`
	// FollowUps are the follow-up calls herald opened from unhappy survey
	// answers (tagged to the incident), FollowUpsOpen those not done yet.
	FollowUps     int `json:"follow_ups"`
	FollowUpsOpen int `json:"follow_ups_open"`
}

// CurveBucket is one bucket of the complaint curve.
type CurveBucket struct {
	At       time.Time `json:"at"`
	Tagged   int       `json:"tagged"`
	Untagged int       `json:"untagged"`
}

// Mark is a moment shown on a curve.
type Mark struct {
	At    time.Time `json:"at"`
	Label string    `json:"label"`
}

// CompensationFigures are the incident's compensation: the state of its
// decision, eligible customers, grants and what they cost. Eligible and
// the Customers* figures count customers; Granted and Declined count
// grant records (a customer may be given two offers, or decline one).
type CompensationFigures struct {
	State    compensation.State `json:"state"`
	Eligible int                `json:"eligible"` // customers
	Granted  int                `json:"granted"`  // offers given
	Declined int                `json:"declined"` // offers declined
	// CustomersGranted: customers given at least one offer;
	// CustomersDeclined: customers who declined and were given nothing.
	CustomersGranted  int              `json:"customers_granted"`
	CustomersDeclined int              `json:"customers_declined"`
	ByOffer           map[string]int   `json:"by_offer"`
	Cost              map[string]int64 `json:"cost"` // by currency, minor units
}

// Postmortem is the incident's postmortem, as written (Markdown).
type Postmortem struct {
	Body        string     `json:"body"`
	PublishedAt *time.Time `json:"published_at"`
}

// Curve window around the incident.
const (
	curveBefore = 30 * time.Minute
	curveAfter  = 2 * time.Hour
)

// Incident builds the report of the page's incident; ENOTFOUND for an
// incident of another page or none.
func (s *Service) Incident(ctx context.Context, pageID, incidentID string) (*Report, error) {
	inc, err := s.Incidents.FindIncidentByID(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	if inc.PageID != pageID {
		return nil, incident.NotFound("incident", incidentID)
	}
	page, err := s.Incidents.FindPageByID(ctx, pageID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	r := &Report{Page: Named{ID: page.ID, Name: page.Name}, TimeZone: zoneName(page), GeneratedAt: now}
	if err := s.summary(ctx, r, inc, now); err != nil {
		return nil, err
	}
	if err := s.timeline(ctx, r, inc); err != nil {
		return nil, err
	}
	if err := s.deliveries(ctx, r, inc); err != nil {
		return nil, err
	}
	if err := s.complaints(ctx, r, inc, now); err != nil {
		return nil, err
	}
	if s.Compensation != nil {
		t, err := s.Compensation.Totals(ctx, pageID, inc.ID)
		if err != nil {
			return nil, err
		}
		cf := &CompensationFigures{State: t.State, Eligible: t.Eligible, Declined: t.Declined, ByOffer: t.Granted, Cost: t.Cost}
		for _, n := range t.Granted {
			cf.Granted += n
		}
		if s.Grants != nil {
			gs, err := s.Grants.Grants(ctx, pageID, inc.ID)
			if err != nil {
				return nil, err
			}
			cf.CustomersGranted, cf.CustomersDeclined = grantCustomers(gs)
		}
		r.Compensation = cf
	}
	if s.Surveys != nil {
		res, err := s.Surveys.Results(ctx, pageID, inc.ID)
		if err != nil {
			return nil, err
		}
		r.Surveys = res
	}
	if inc.PostmortemBody != "" {
		r.Postmortem = &Postmortem{Body: inc.PostmortemBody, PublishedAt: utcPtr(inc.PostmortemPublishedAt)}
	}
	return r, nil
}

// grantCustomers counts the customers given at least one of gs, and
// those who declined and were given none.
func grantCustomers(gs []*compensation.Grant) (granted, declined int) {
	given, said := map[string]bool{}, map[string]bool{}
	for _, g := range gs {
		if g.Declined {
			said[g.CustomerID] = true
		} else {
			given[g.CustomerID] = true
		}
	}
	for c := range said {
		if !given[c] {
			declined++
		}
	}
	return len(given), declined
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// declaredAt is when the incident started: its first update, or its
// creation.
func declaredAt(inc *incident.Incident) time.Time {
	if n := len(inc.Updates); n > 0 {
		return inc.Updates[n-1].CreatedAt.UTC()
	}
	return inc.CreatedAt.UTC()
}

func (s *Service) summary(ctx context.Context, r *Report, inc *incident.Incident, now time.Time) error {
	comps, err := s.Incidents.FindComponents(ctx, inc.PageID)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, c := range comps {
		names[c.ID] = c.Name
	}
	sum := IncidentSummary{ID: inc.ID, Name: inc.Name, Impact: inc.PeakImpact(), Status: inc.Status, Components: []Named{},
		DeclaredAt: declaredAt(inc), ResolvedAt: utcPtr(inc.ResolvedAt)}
	for _, id := range inc.ComponentIDs {
		sum.Components = append(sum.Components, Named{ID: id, Name: names[id]})
	}
	end := now
	if inc.ResolvedAt != nil {
		end = *inc.ResolvedAt
	}
	sum.DurationS = int64(end.Sub(sum.DeclaredAt) / time.Second)
	r.Incident = sum
	return nil
}

// timeline lists the updates oldest first, each with the actor of the
// audit entry written with it (same incident, same time).
func (s *Service) timeline(ctx context.Context, r *Report, inc *incident.Incident) error {
	audit, _, err := s.Incidents.FindAudit(ctx, incident.AuditFilter{PageID: inc.PageID, ObjectID: inc.ID, Limit: 1000})
	if err != nil {
		return err
	}
	actor := func(at time.Time) string {
		best, bestD := "", time.Duration(-1)
		for _, a := range audit {
			d := a.At.Sub(at)
			if d < 0 {
				d = -d
			}
			if d <= 2*time.Second && (bestD < 0 || d < bestD) {
				best, bestD = a.Actor, d
			}
		}
		return best
	}
	r.Timeline = []TimelineEntry{}
	for i := len(inc.Updates) - 1; i >= 0; i-- {
		u := inc.Updates[i]
		kind := EntryUpdate
		switch {
		case i == len(inc.Updates)-1:
			kind = EntryDeclared
		case u.Status == incident.Resolved || u.Status == incident.Completed:
			kind = EntryResolved
		case u.Status == incident.Postmortem:
			kind = EntryPostmortem
		}
		r.Timeline = append(r.Timeline, TimelineEntry{At: u.CreatedAt.UTC(), Kind: kind, Status: u.Status, Body: u.Body, Messages: u.Messages, Actor: actor(u.CreatedAt)})
	}
	return nil
}

// bucketEnd is the end of the 10-second bucket starting at at.
func bucketEnd(at time.Time) time.Time { return at.Add(queue.TimeBucket) }

func (s *Service) deliveries(ctx context.Context, r *Report, inc *incident.Incident) error {
	plans, err := s.Deliveries.FindPlans(ctx, inc.ID)
	if err != nil {
		return err
	}
	totals := map[channel.Kind]*ChannelTotals{}
	r.Broadcasts = []BroadcastFigures{}
	for _, p := range plans {
		b := p.Broadcast
		pr, err := s.Deliveries.Progress(ctx, b.ID)
		if err != nil {
			return err
		}
		times, err := s.Deliveries.DeliveryTimes(ctx, b.ID)
		if err != nil {
			return err
		}
		bf := BroadcastFigures{ID: b.ID, Kind: b.Kind, CreatedAt: b.CreatedAt.UTC(), State: pr.State, Planned: pr.Planned, Channels: []ChannelFigures{}}
		for _, kind := range sortedKinds(pr.Counts) {
			counts := pr.Counts[kind]
			cf := ChannelFigures{Channel: kind, Counts: map[queue.DeliveryState]int{}, Reasons: []ReasonCount{}}
			t := totals[kind]
			if t == nil {
				t = &ChannelTotals{Channel: kind, Counts: map[queue.DeliveryState]int{}}
				totals[kind] = t
			}
			for st, n := range counts {
				if n == 0 {
					continue
				}
				cf.Counts[st] = n
				cf.Total += n
				t.Counts[st] += n
				t.Total += n
				if st != queue.StateSuppressed && st != queue.StateCancelled && st != queue.StateCollapsed {
					cf.ToSend += n
				}
			}
			for reason, n := range pr.Reasons[kind] {
				cf.Reasons = append(cf.Reasons, ReasonCount{Reason: reason, N: n})
			}
			sort.Slice(cf.Reasons, func(i, j int) bool {
				if cf.Reasons[i].N != cf.Reasons[j].N {
					return cf.Reasons[i].N > cf.Reasons[j].N
				}
				return cf.Reasons[i].Reason < cf.Reasons[j].Reason
			})
			out := 0
			for _, tc := range times {
				if tc.Kind != kind || tc.State != queue.StateSent {
					continue
				}
				out += tc.N
				end := bucketEnd(tc.At)
				secs := max(int64(end.Sub(bf.CreatedAt)/time.Second), 0)
				if cf.FirstOutS == nil {
					cf.FirstOutS = &secs
				}
				if cf.Out90S == nil && cf.ToSend > 0 && out*10 >= cf.ToSend*9 {
					v := secs
					cf.Out90S = &v
				}
				cf.Curve = append(cf.Curve, CurvePoint{At: end, N: out})
			}
			bf.Channels = append(bf.Channels, cf)
		}
		r.Broadcasts = append(r.Broadcasts, bf)
	}
	r.Channels = []ChannelTotals{}
	for _, kind := range sortedKinds(totals) {
		r.Channels = append(r.Channels, *totals[kind])
	}
	return nil
}

func sortedKinds[V any](m map[channel.Kind]V) []channel.Kind {
	out := make([]channel.Kind, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (s *Service) complaints(ctx context.Context, r *Report, inc *incident.Incident, now time.Time) error {
	tagged, err := s.Complaints.ComplaintTally(ctx, inc.PageID, complaint.TallyScope(inc.ID))
	if err != nil {
		return err
	}
	untagged, err := s.Complaints.ComplaintTally(ctx, inc.PageID, complaint.TallyUntagged)
	if err != nil {
		return err
	}
	followUps, open, err := s.followUps(ctx, inc)
	if err != nil {
		return err
	}
	// The tally counts the follow-up tasks with the complaints: take
	// their lines out (never below zero, should one have been saved
	// between the two reads).
	for f, n := range followUps {
		tagged[f] = max(tagged[f]-n, 0)
	}
	from := r.Incident.DeclaredAt.Add(-curveBefore).Truncate(complaint.TallyBucket)
	// It ends curveAfter past the resolution, but never past the report's
	// time: no bars for minutes that have not happened.
	to := now
	if inc.ResolvedAt != nil {
		if after := inc.ResolvedAt.Add(curveAfter); after.Before(now) {
			to = after
		}
	}
	cf := ComplaintFigures{Tagged: tagged["n"], ByChannel: map[complaint.Channel]int{}, ByCategory: map[complaint.Category]int{},
		Repeats: tagged["r"], Curve: []CurveBucket{}, Marks: []Mark{}, FollowUps: followUps["n"], FollowUpsOpen: open}
	tc, uc := tagged.Curve(time.Time{}, time.Time{}), untagged.Curve(from, to)
	// The curve starts before the declaration (or at the first tagged
	// complaint, if earlier) and ends after the resolution or at the
	// report's time, whichever is first (or at the last tagged
	// complaint, if later).
	if len(tc) > 0 {
		if tc[0].At.Before(from) {
			from = tc[0].At
		}
		if last := tc[len(tc)-1].At.Add(complaint.TallyBucket); last.After(to) {
			to = last
		}
	}
	to = to.Add(complaint.TallyBucket - 1).Truncate(complaint.TallyBucket)
	cf.CurveFrom, cf.CurveTo = from, to
	idx := map[int64]int{}
	for at := from; at.Before(to); at = at.Add(complaint.TallyBucket) {
		idx[at.UnixMilli()] = len(cf.Curve)
		cf.Curve = append(cf.Curve, CurveBucket{At: at})
	}
	for _, p := range tc {
		cf.ByChannel[p.Channel] += p.N
		cf.ByCategory[p.Category] += p.N
		if i, ok := idx[p.At.UnixMilli()]; ok {
			cf.Curve[i].Tagged += p.N
		}
	}
	for _, p := range uc {
		if i, ok := idx[p.At.UnixMilli()]; ok {
			cf.Curve[i].Untagged += p.N
			cf.Untagged += p.N
		}
	}
	cf.RepeatRate = surveys.Ratio(cf.Repeats, cf.Tagged)
	n, p50, p90 := tagged.FirstAnswer()
	cf.Answered = n
	if n > 0 {
		cf.FirstAnswerP50S, cf.FirstAnswerP90S = secsPtr(p50), secsPtr(p90)
	}
	sla := tagged.SLA(now)
	cf.SLAJudged = sla.Judged
	cf.SLAKept = surveys.Ratio(sla.Kept, sla.Judged)
	for _, e := range r.Timeline {
		cf.Marks = append(cf.Marks, Mark{At: e.At, Label: e.Kind})
	}
	r.Complaints = cf
	return nil
}

// followUps reads the incident's survey follow-up tasks (a page at a
// time; at most two per answered survey) and returns the tally lines they
// stand in, within the incident's scope, and how many are open.
func (s *Service) followUps(ctx context.Context, inc *incident.Incident) (complaint.Tally, int, error) {
	const page = 1000
	scope, t, open := complaint.TallyScope(inc.ID), complaint.Tally{}, 0
	f := complaint.Filter{PageID: inc.PageID, IncidentID: inc.ID, Category: complaint.CategoryFollowUp, Limit: page, SkipCount: true}
	for ; ; f.Offset += page {
		cs, _, err := s.Complaints.FindComplaints(ctx, f)
		if err != nil {
			return nil, 0, err
		}
		for _, c := range cs {
			if c.Category != complaint.CategoryFollowUp || c.IncidentID() != inc.ID {
				continue
			}
			if c.Open() {
				open++
			}
			for _, l := range c.TallyLines() {
				if sc, field, ok := complaint.SplitTallyLine(l); ok && sc == scope {
					t[field]++
				}
			}
		}
		if len(cs) < page {
			return t, open, nil
		}
	}
}

// secsPtr is d in whole seconds (cut), for a figure that exists.
func secsPtr(d time.Duration) *int64 {
	v := int64(d / time.Second)
	return &v
}

// ratio3 is f rounded to 3 decimals, for a figure that exists.
func ratio3(f float64) *float64 {
	v := float64(int64(f*1000+0.5)) / 1000
	return &v
}
