package statuspage

import (
	"html/template"
	"strings"
	"time"

	"github.com/heraldhq/herald/incident"
)

// uptimeDays is how many days of bars the page shows per component.
const uptimeDays = 90

// partialWeight is how much of an hour of partial outage counts as
// downtime (a major outage counts fully; degraded performance and
// maintenance count as up), Statuspage's own weighting.
const partialWeight = 0.3

// dayUsage is how long one component spent in each status on one day of
// the page's time zone.
type dayUsage struct {
	Start time.Time        // local midnight
	In    [5]time.Duration // by index in incident.ComponentStatuses
	Known time.Duration    // time with a known status (before creation: none)
}

// worst is the index of the worst status seen that day, or -1 without data.
func (d *dayUsage) worst() int {
	for i := len(d.In) - 1; i >= 0; i-- {
		if d.In[i] > 0 {
			return i
		}
	}
	return -1
}

// uptime is a component's bars and its uptime over the window.
type uptime struct {
	Days    []dayUsage
	Percent float64 // 0–100, weighted (see partialWeight)
	HasData bool    // Percent is meaningful: the component is at least a day old
}

// minUptimeAge is how long a component must have existed before the page
// shows an uptime figure: over a few minutes, one minute of outage would
// read as a disaster ("42.09 %").
const minUptimeAge = 24 * time.Hour

// existedSince is when a component began to count for uptime, as
// Statuspage counts it: its start date (a day of the page's time zone,
// which the operator may set earlier than the record's creation, e.g.
// after a migration) or else when it was created. With neither, its first
// recorded status.
func existedSince(c *incident.Component, changes []incident.StatusChange, loc *time.Location) time.Time {
	since := c.CreatedAt
	if c.StartDate != "" {
		if d, err := time.ParseInLocation(time.DateOnly, c.StartDate, loc); err == nil && (since.IsZero() || d.Before(since)) {
			since = d
		}
	}
	if since.IsZero() && len(changes) > 0 {
		since = changes[0].At
	}
	return since
}

func statusIndex(s incident.ComponentStatus) int {
	for i, v := range incident.ComponentStatuses {
		if v == s {
			return i
		}
	}
	return -1
}

// dayStarts returns the local midnights of the last n days, oldest first,
// ending with today's; time.Date keeps them right across DST changes.
func dayStarts(now time.Time, loc *time.Location, n int) []time.Time {
	l := now.In(loc)
	out := make([]time.Time, n)
	for i := range out {
		out[i] = time.Date(l.Year(), l.Month(), l.Day()-(n-1-i), 0, 0, 0, 0, loc)
	}
	return out
}

// computeUptime weighs each day by the time the component spent in each
// status, as Statuspage does: a major outage counts fully, a partial
// outage by partialWeight, degraded performance and maintenance not at
// all. changes are the component's status history, oldest first, which
// may start before the window (the state at its start). With no history
// at all, the component is taken to have been in status since since.
//
// Only the days the component existed count: days before since's day
// have no data, and since's day counts from its midnight (the time before
// the component's first status is taken as operational, as Statuspage
// counts whole days from a start date), so a component created at 23:55
// with one minute of outage does not show 80 %. A component younger than
// minUptimeAge has bars but no figure.
func computeUptime(changes []incident.StatusChange, status incident.ComponentStatus, since, now time.Time, starts []time.Time) uptime {
	type seg struct {
		from, to time.Time
		idx      int
	}
	var segs []seg
	var sinceDay time.Time
	if !since.IsZero() && len(starts) > 0 {
		l := since.In(starts[0].Location())
		sinceDay = time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, l.Location())
	}
	op := statusIndex(incident.Operational)
	if len(changes) == 0 {
		from := since
		if from.Before(sinceDay) {
			from = sinceDay
		}
		if from.After(sinceDay) {
			segs = append(segs, seg{sinceDay, from, op})
		}
		segs = append(segs, seg{from, now, statusIndex(status)})
	} else if !sinceDay.IsZero() && sinceDay.Before(changes[0].At) {
		segs = append(segs, seg{sinceDay, changes[0].At, op})
	}
	for i, c := range changes {
		to := now
		if i+1 < len(changes) {
			to = changes[i+1].At
		}
		if to.After(c.At) {
			segs = append(segs, seg{c.At, to, statusIndex(c.Status)})
		}
	}
	u := uptime{Days: make([]dayUsage, len(starts))}
	var known, down time.Duration
	si := 0
	for i, ds := range starts {
		de := now
		if i+1 < len(starts) {
			de = starts[i+1]
		} else if next := time.Date(ds.Year(), ds.Month(), ds.Day()+1, 0, 0, 0, 0, ds.Location()); next.Before(de) {
			de = next
		}
		d := &u.Days[i]
		d.Start = ds
		for si < len(segs) && !segs[si].to.After(ds) {
			si++
		}
		for k := si; k < len(segs) && segs[k].from.Before(de); k++ {
			from, to := segs[k].from, segs[k].to
			if from.Before(ds) {
				from = ds
			}
			if to.After(de) {
				to = de
			}
			if !to.After(from) || segs[k].idx < 0 {
				continue
			}
			d.In[segs[k].idx] += to.Sub(from)
			d.Known += to.Sub(from)
		}
		known += d.Known
		down += d.In[statusIndex(incident.MajorOutage)] + time.Duration(float64(d.In[statusIndex(incident.PartialOutage)])*partialWeight)
	}
	if known > 0 && !since.IsZero() && now.Sub(since) >= minUptimeAge {
		u.HasData = true
		u.Percent = 100 * (1 - float64(down)/float64(known))
	}
	return u
}

// dayTitles are one language's dates for the bars, formatted once per
// render and shared by every component.
type dayTitles struct {
	Dates []string
}

func newDayTitles(l *lang, starts []time.Time) *dayTitles {
	t := &dayTitles{Dates: make([]string, len(starts))}
	for i, s := range starts {
		t.Dates[i] = l.Date(s)
	}
	return t
}

// dayProblems describes a day's non-operational time ("Major outage 1 h").
func dayProblems(l *lang, d *dayUsage) string {
	var parts []string
	for i := len(d.In) - 1; i >= 1; i-- {
		if d.In[i] > 0 {
			parts = append(parts, l.ComponentStatus(incident.ComponentStatuses[i])+" "+l.Duration(d.In[i]))
		}
	}
	return strings.Join(parts, ", ")
}

// latestProblem is what the legend says of a component without an
// uptime figure (younger than minUptimeAge) whose bars show a problem:
// the newest problem day's worst status and how long it lasted, "Today"
// for today ("Today: Major outage 1 min"), rather than "No uptime figure
// yet" under a red bar. Only the worst, to fit the legend on a phone: the
// list of problem days has the rest. "" when no day had a problem.
func latestProblem(l *lang, titles *dayTitles, u *uptime) string {
	for i := len(u.Days) - 1; i >= 0; i-- {
		d := &u.Days[i]
		w := d.worst()
		if w <= 0 {
			continue
		}
		day := titles.Dates[i]
		if i == len(u.Days)-1 {
			day = l.T["Today"]
		}
		return day + ": " + l.ComponentStatus(incident.ComponentStatuses[w]) + " " + l.Duration(d.In[w])
	}
	return ""
}

// uptimeBars renders the bars as list items and returns, for the text
// alternative, the days that had problems. Only those bars carry a title:
// a title on each of 90 bars per component would make up most of the
// page's bytes, and the list of problem days and the uptime figure say
// the same in text. The bars are built by hand (the only input is our
// own escaped text) because a template call per bar would dominate the
// render.
func uptimeBars(l *lang, titles *dayTitles, u *uptime) (template.HTML, []string) {
	var b strings.Builder
	b.Grow(len(u.Days) * 20)
	var problems []string
	for i := range u.Days {
		d := &u.Days[i]
		switch w := d.worst(); {
		case w < 0:
			b.WriteString(`<li class="nd"></li>`)
		case w == 0:
			b.WriteString(`<li class="s0"></li>`)
		default:
			text := titles.Dates[i] + ": " + dayProblems(l, d)
			problems = append(problems, text)
			b.WriteString(`<li class="s`)
			b.WriteByte(byte('0' + w))
			b.WriteString(`" title="`)
			b.WriteString(template.HTMLEscapeString(text))
			b.WriteString(`"></li>`)
		}
	}
	// Newest first reads better in the list of problem days.
	for i, j := 0, len(problems)-1; i < j; i, j = i+1, j-1 {
		problems[i], problems[j] = problems[j], problems[i]
	}
	return template.HTML(b.String()), problems
}
