package compensation

import (
	"cmp"
	"slices"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/incident"
)

// Interval is a span of time, From included, To excluded.
type Interval struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// ComponentTime is how long one component was down during the incident.
type ComponentTime struct {
	ComponentID string        `json:"component_id"`
	Duration    time.Duration `json:"duration"`
	Intervals   []Interval    `json:"intervals"` // oldest first, disjoint; shared with the Timeline, do not modify
}

// AffectedTime is how long one customer was affected by an incident.
type AffectedTime struct {
	// Components lists the customer's components that were down, by ID;
	// components that stayed up are left out.
	Components []ComponentTime `json:"components"`
	// Total is the time at least one of them was down (the union), so two
	// components down at once count once.
	Total time.Duration `json:"total"`
	// Longest is the longest any single component was down.
	Longest time.Duration `json:"longest"`
	// Joined is set when the customer became a customer only after the
	// incident ended (CustomerInto): they were not affected, whatever
	// their components.
	Joined time.Time `json:"joined,omitzero"`

	scratch []Interval // reused by ForInto
}

// Minutes is Total in whole minutes, rounded down.
func (a *AffectedTime) Minutes() int { return int(a.Total / time.Minute) }

// On returns how long the component was down, 0 when it was not.
func (a *AffectedTime) On(componentID string) time.Duration {
	for i := range a.Components {
		if a.Components[i].ComponentID == componentID {
			return a.Components[i].Duration
		}
	}
	return 0
}

// Down reports whether s counts as affected: degraded performance and both
// outages do; operational and under_maintenance (planned and announced) do
// not.
func Down(s incident.ComponentStatus) bool {
	return s == incident.DegradedPerformance || s == incident.PartialOutage || s == incident.MajorOutage
}

// Timeline is every component's down time within one incident's window,
// computed once and shared by every customer of the page.
type Timeline struct {
	Start, End time.Time       // the window: StartedAt to ResolvedAt, or to now while open
	Components []ComponentTime // components with down time, by ID
	index      map[string]int
	// backfilled: the incident was recorded after the fact, so when
	// herald first imported a customer says nothing of whether they were
	// one then.
	backfilled bool
	// ended: the incident is resolved (End is its end, not the moment the
	// timeline was computed, which a cached one keeps).
	ended bool
}

// NewTimeline computes each component's down intervals within the incident's
// window [StartedAt, ResolvedAt), or [StartedAt, now) while it is open.
//
// history is the page's component status history as
// incident.Store.FindStatusChanges returns it: it may include, per
// component, the last change before the window (the status the window
// starts in), and may come in any order; it is sorted here by time, and
// changes at the same instant keep their order, the last one winning. A
// component without history was operational. When the incident lists
// components, only theirs count: another incident's outage of another
// component at the same time is that incident's to compensate. Time
// outside this incident's window never counts, so overlapping incidents
// each count their own window. A scheduled maintenance owes nothing: its
// timeline is empty.
func NewTimeline(inc *incident.Incident, history []incident.StatusChange, now time.Time) *Timeline {
	t := &Timeline{index: map[string]int{}}
	if inc == nil || inc.IsMaintenance() {
		return t
	}
	t.backfilled, t.ended = inc.Backfilled, inc.ResolvedAt != nil
	t.Start, t.End = inc.StartedAt.UTC(), now.UTC()
	if inc.ResolvedAt != nil {
		t.End = inc.ResolvedAt.UTC()
	}
	if !t.End.After(t.Start) {
		return t
	}
	byComponent := map[string][]incident.StatusChange{}
	for _, ch := range history {
		if inc.PageID != "" && ch.PageID != "" && ch.PageID != inc.PageID {
			continue
		}
		if len(inc.ComponentIDs) > 0 && !inc.Affects(ch.ComponentID) {
			continue
		}
		byComponent[ch.ComponentID] = append(byComponent[ch.ComponentID], ch)
	}
	for id, changes := range byComponent {
		slices.SortStableFunc(changes, func(a, b incident.StatusChange) int { return a.At.Compare(b.At) })
		ct := ComponentTime{ComponentID: id}
		status, from := incident.Operational, t.Start
		add := func(to time.Time) {
			if !Down(status) || !to.After(from) {
				return
			}
			if n := len(ct.Intervals); n > 0 && ct.Intervals[n-1].To.Equal(from) {
				ct.Intervals[n-1].To = to // degraded then major outage: one interval
			} else {
				ct.Intervals = append(ct.Intervals, Interval{From: from, To: to})
			}
			ct.Duration += to.Sub(from)
		}
		for _, ch := range changes {
			at := ch.At.UTC()
			if !at.After(t.Start) {
				status = ch.Status // the status the window starts in
				continue
			}
			if !at.Before(t.End) {
				break
			}
			add(at)
			status, from = ch.Status, at
		}
		add(t.End)
		if ct.Duration > 0 {
			t.Components = append(t.Components, ct)
		}
	}
	slices.SortFunc(t.Components, func(a, b ComponentTime) int { return cmp.Compare(a.ComponentID, b.ComponentID) })
	for i, c := range t.Components {
		t.index[c.ComponentID] = i
	}
	return t
}

// For returns the affected time of a customer using the given components.
// No components means the customer uses every component, as in
// incident.Audience.
func (t *Timeline) For(componentIDs []string) AffectedTime {
	var a AffectedTime
	t.ForInto(&a, componentIDs)
	return a
}

// ForInto is For writing into a, reusing its memory: a loop over a page's
// customers that reuses one AffectedTime allocates nothing. a is valid
// until the next call with it.
func (t *Timeline) ForInto(a *AffectedTime, componentIDs []string) {
	a.Components, a.Total, a.Longest = a.Components[:0], 0, 0
	if len(componentIDs) == 0 {
		a.Components = append(a.Components, t.Components...)
	} else {
		for _, id := range componentIDs {
			i, ok := t.index[id]
			if ok && a.On(id) == 0 {
				a.Components = append(a.Components, t.Components[i])
			}
		}
	}
	for _, c := range a.Components {
		a.Longest = max(a.Longest, c.Duration)
	}
	a.Total, a.scratch = union(a.Components, nil, a.scratch)
}

// CustomerInto is ForInto for customer c, who was not affected at all if
// they became a customer only after the incident ended: a new customer
// imported after an outage is owed nothing for it and must not be told
// "we are sorry for the disruption". Since when they are a customer is
// their customer_since attribute when the import gave one, else when
// herald first imported them (CreatedAt), which a recurring import makes
// their sign-up; for a backfilled incident (recorded after the fact) only
// customer_since counts. a.Joined is set when that leaves them out.
func (t *Timeline) CustomerInto(a *AffectedTime, c *audience.Customer) {
	t.ForInto(a, c.Components)
	a.Joined = time.Time{}
	since, given := audience.CustomerSince(c)
	if !given {
		if t.backfilled {
			return
		}
		since = c.CreatedAt
	}
	if !t.ended || since.IsZero() || since.Before(t.End) {
		return // an incident still open affects whoever is a customer now
	}
	a.Components, a.Total, a.Longest, a.Joined = a.Components[:0], 0, 0, since.UTC()
}

// union returns how long at least one of the components (those in only,
// when only is not nil) was down, using buf for scratch.
func union(cs []ComponentTime, only []string, buf []Interval) (time.Duration, []Interval) {
	buf = buf[:0]
	n, single := 0, time.Duration(0)
	for _, c := range cs {
		if only != nil && !slices.Contains(only, c.ComponentID) {
			continue
		}
		n++
		single = c.Duration
		buf = append(buf, c.Intervals...)
	}
	if n <= 1 {
		return single, buf // one component's intervals are already disjoint
	}
	slices.SortFunc(buf, func(a, b Interval) int { return a.From.Compare(b.From) })
	var total time.Duration
	cur := buf[0]
	for _, iv := range buf[1:] {
		if iv.From.After(cur.To) {
			total += cur.To.Sub(cur.From)
			cur = iv
		} else if iv.To.After(cur.To) {
			cur.To = iv.To
		}
	}
	total += cur.To.Sub(cur.From)
	return total, buf
}

// Affected returns how long a customer using componentIDs was affected by
// the incident up to now: the one-shot form of NewTimeline(inc, history,
// now).For(componentIDs). Use a Timeline for more than one customer.
func Affected(inc *incident.Incident, history []incident.StatusChange, componentIDs []string, now time.Time) AffectedTime {
	return NewTimeline(inc, history, now).For(componentIDs)
}
