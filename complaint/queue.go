package complaint

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// AtRiskWindow is how close to breaking its promise an open complaint is
// "at risk": the agents' queue shows it first, and the incident's view
// counts it.
const AtRiskWindow = 30 * time.Minute

// DueAt is when c's promise breaks unless kept: its resolution due time,
// or its first answer's when none was given yet and that comes first;
// zero when it has no due times.
func (c *Complaint) DueAt() time.Time { return breaksAt(c) }

// AtRiskBefore is the at-risk rule's cut at now: an open complaint due
// before it is at risk. It is now + AtRiskWindow rounded up to the whole
// minute (a complaint due in 30 minutes and a few seconds already
// counts), so that the engines' per-minute counters (QueueLines) count
// exactly what the lists show.
func AtRiskBefore(now time.Time) time.Time {
	t := now.Add(AtRiskWindow)
	if r := t.Truncate(time.Minute); !r.Equal(t) {
		return r.Add(time.Minute)
	}
	return t
}

// AtRisk reports whether c is open and due before AtRiskBefore(now): the
// rule the console, the API and the stores' DueBefore filter share.
func (c *Complaint) AtRisk(now time.Time) bool {
	due := c.DueAt()
	return c.Open() && !due.IsZero() && due.Before(AtRiskBefore(now))
}

// The agents' queue counts come from tally lines too (see TallyLines):
// every open complaint stands in the page's queue scope and in its tag's
// (QueueScope), with these fields:
//
//	o                 open
//	o|own|<owner>     open and owned by <owner>
//	o|un              open and unassigned
//	o|r               open and a repeat
//	o|due|<ms>        open, due (DueAt) in the minute starting at <ms> (Unix ms, 13 digits)
//
// A closed complaint stands in none of them.

// QueueAll is the queue scope of every open complaint of a page.
const QueueAll = "q"

// QueueUntagged is the queue scope of the open complaints in triage.
const QueueUntagged = "q|u"

// QueueScope is the queue scope of the open complaints tagged to
// incidentID ("": QueueAll).
func QueueScope(incidentID string) string {
	if incidentID == "" {
		return QueueAll
	}
	return "q|i:" + incidentID
}

// queueLines returns the queue tally lines c stands in (unsorted).
func (c *Complaint) queueLines() []string {
	if !c.Open() {
		return nil
	}
	tag := QueueUntagged
	if id := c.IncidentID(); id != "" {
		tag = QueueScope(id)
	}
	fields := []string{"o"}
	if c.Owner == "" {
		fields = append(fields, "o|un")
	} else {
		fields = append(fields, "o|own|"+lineSafe(c.Owner))
	}
	if c.Repeat {
		fields = append(fields, "o|r")
	}
	if due := c.DueAt(); !due.IsZero() {
		fields = append(fields, "o|due|"+padMS(due.Truncate(time.Minute).UnixMilli()))
	}
	lines := make([]string, 0, 2*len(fields))
	for _, scope := range []string{QueueAll, tag} {
		for _, f := range fields {
			lines = append(lines, scope+"\t"+f)
		}
	}
	return lines
}

// lineSafe keeps a tally line on one line: tabs and line breaks in a
// name become spaces.
func lineSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

func padMS(ms int64) string {
	s := strconv.FormatInt(ms, 10)
	if len(s) < 13 {
		s = strings.Repeat("0", 13-len(s)) + s
	}
	return s
}

// QueueCounts are a queue scope's counts for one agent at one time.
type QueueCounts struct {
	Open, Mine, Unassigned, Repeat, AtRisk int
}

// Queue reads a queue scope's tally (Store.ComplaintTally of a
// QueueScope) for owner at now.
func (t Tally) Queue(owner string, now time.Time) QueueCounts {
	q := QueueCounts{Open: t["o"], Unassigned: t["o|un"], Repeat: t["o|r"]}
	if owner != "" {
		q.Mine = t["o|own|"+lineSafe(owner)]
	}
	cut := AtRiskBefore(now).UnixMilli()
	for f, n := range t {
		rest, ok := strings.CutPrefix(f, "o|due|")
		if !ok || n <= 0 {
			continue
		}
		if ms, err := strconv.ParseInt(rest, 10, 64); err == nil && ms < cut {
			q.AtRisk += n
		}
	}
	return q
}

// QueueCounts returns the agents' queue counts of scope (QueueAll,
// QueueUntagged or an incident's QueueScope) on a page, for owner, now:
// read from the tallies the store keeps, whatever the number of
// complaints.
func (s *Service) QueueCounts(ctx context.Context, pageID, scope, owner string) (QueueCounts, error) {
	t, err := s.Store.ComplaintTally(ctx, pageID, scope)
	if err != nil {
		return QueueCounts{}, err
	}
	return t.Queue(owner, s.now()), nil
}

// Tally returns a page's tally of scope (TallyScope, TallyUntagged or a
// queue scope): the counters the store keeps as complaints are saved.
func (s *Service) Tally(ctx context.Context, pageID, scope string) (Tally, error) {
	return s.Store.ComplaintTally(ctx, pageID, scope)
}

// AtRiskNow reports whether c is at risk at the service's now (AtRisk).
func (s *Service) AtRiskNow(c *Complaint) bool { return c.AtRisk(s.now()) }

// AtRiskCut is AtRiskBefore at the service's now: the Filter.DueBefore of
// the at-risk list.
func (s *Service) AtRiskCut() time.Time { return AtRiskBefore(s.now()) }
