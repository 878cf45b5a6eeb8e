package complaint

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The report's complaint figures come from tallies the engines keep as
// complaints are saved, never from a scan of the complaints: each saved
// complaint stands in a few counters (its tally lines), and a save moves
// it from the lines it was in to the lines it is in now, in the same write
// as the complaint itself (see Store.SaveComplaint), so the counters stay
// exact through re-tagging, answering and resolving.
//
// A tally line is "scope\tfield". The scope is the incident the complaint
// is tagged to ("i:" and its ID) or TallyUntagged; the fields:
//
//	c|<bucket>|<channel>|<category>  created in the TallyBucket starting at <bucket> (Unix ms, 13 digits)
//	n                                 one complaint (tagged only, like the rest)
//	r                                 a repeat
//	fa|<minutes>                      first answered within <minutes> (rounded up) of its creation
//	sk, sb                            resolved, its promises kept (sk) or broken (sb)
//	so|<ms>                           open, its promise breaks after <ms> (rounded up to the minute) unless kept

// TallyBucket is the width of the complaint curve's buckets.
const TallyBucket = 5 * time.Minute

// TallyUntagged is the scope of complaints waiting in triage.
const TallyUntagged = "u"

// TallyScope is the scope of the complaints tagged to incidentID.
func TallyScope(incidentID string) string { return "i:" + incidentID }

// TallyLines returns the tally lines c stands in, sorted: what an engine
// stores with it and counts. They include the queue's (see QueueScope).
func (c *Complaint) TallyLines() []string {
	scope := TallyUntagged
	if id := c.IncidentID(); id != "" {
		scope = TallyScope(id)
	}
	bucket := c.CreatedAt.UnixMilli() / TallyBucket.Milliseconds() * TallyBucket.Milliseconds()
	lines := append(c.queueLines(), fmt.Sprintf("%s\tc|%013d|%s|%s", scope, bucket, c.Channel, c.Category))
	if scope == TallyUntagged {
		sort.Strings(lines)
		return lines
	}
	lines = append(lines, scope+"\tn")
	if c.Repeat {
		lines = append(lines, scope+"\tr")
	}
	if c.FirstAnswerAt != nil {
		mins := int64((c.FirstAnswerAt.Sub(c.CreatedAt) + time.Minute - 1) / time.Minute)
		lines = append(lines, fmt.Sprintf("%s\tfa|%d", scope, max(mins, 0)))
	}
	if c.ResolvedAt != nil {
		firstOK := c.FirstAnswerAt != nil && !c.FirstAnswerAt.After(c.FirstAnswerDue)
		if firstOK && !c.ResolvedAt.After(c.ResolveDue) {
			lines = append(lines, scope+"\tsk")
		} else {
			lines = append(lines, scope+"\tsb")
		}
	} else if breaks := breaksAt(c); !breaks.IsZero() {
		ms := (breaks.UnixMilli() + 59999) / 60000 * 60000
		lines = append(lines, fmt.Sprintf("%s\tso|%013d", scope, ms))
	}
	sort.Strings(lines)
	return lines
}

// breaksAt is when an open complaint's promise is broken unless kept: its
// resolution due time, or its first answer's when it has none yet and
// that comes first (slaKept's rule); zero when it has no due times.
func breaksAt(c *Complaint) time.Time {
	t := c.ResolveDue
	if c.FirstAnswerAt == nil && !c.FirstAnswerDue.IsZero() && (t.IsZero() || c.FirstAnswerDue.Before(t)) {
		t = c.FirstAnswerDue
	}
	return t
}

// SplitTallyLine splits a tally line into its scope and field.
func SplitTallyLine(line string) (scope, field string, ok bool) {
	return strings.Cut(line, "\t")
}

// Tally is a scope's counters read back: field → count (zero counts may
// be left out).
type Tally map[string]int

// CurvePoint is one TallyBucket of complaints created.
type CurvePoint struct {
	At       time.Time
	Channel  Channel
	Category Category
	N        int
}

// Curve returns the tally's complaints by creation bucket, channel and
// category, oldest first, within [from, to) (zero: unbounded).
func (t Tally) Curve(from, to time.Time) []CurvePoint {
	var out []CurvePoint
	for f, n := range t {
		rest, ok := strings.CutPrefix(f, "c|")
		if !ok || n == 0 {
			continue
		}
		parts := strings.SplitN(rest, "|", 3)
		if len(parts) != 3 {
			continue
		}
		ms, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil {
			continue
		}
		at := time.UnixMilli(ms).UTC()
		if (!from.IsZero() && at.Add(TallyBucket).Before(from)) || (!to.IsZero() && !at.Before(to)) {
			continue
		}
		out = append(out, CurvePoint{At: at, Channel: Channel(parts[1]), Category: Category(parts[2]), N: n})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.At.Equal(b.At) {
			return a.At.Before(b.At)
		}
		if a.Channel != b.Channel {
			return a.Channel < b.Channel
		}
		return a.Category < b.Category
	})
	return out
}

// TallySLA is what a tally says of a scope's promises at now.
type TallySLA struct {
	Judged int
	Kept   int
}

// SLA judges the tally's promises at now, as Stats does: resolved ones
// by whether they kept them, open ones broken once their time passed.
func (t Tally) SLA(now time.Time) TallySLA {
	s := TallySLA{Kept: t["sk"], Judged: t["sk"] + t["sb"]}
	for f, n := range t {
		rest, ok := strings.CutPrefix(f, "so|")
		if !ok || n <= 0 {
			continue
		}
		ms, err := strconv.ParseInt(rest, 10, 64)
		if err == nil && now.UnixMilli() > ms {
			s.Judged += n
		}
	}
	return s
}

// FirstAnswer returns how many complaints of the tally were answered, and
// the p50 and p90 of their time to the first answer (nearest rank, in
// whole minutes rounded up).
func (t Tally) FirstAnswer() (n int, p50, p90 time.Duration) {
	type bucket struct {
		mins int64
		n    int
	}
	var bs []bucket
	for f, c := range t {
		rest, ok := strings.CutPrefix(f, "fa|")
		if !ok || c <= 0 {
			continue
		}
		m, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			continue
		}
		bs = append(bs, bucket{m, c})
		n += c
	}
	if n == 0 {
		return 0, 0, 0
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].mins < bs[j].mins })
	rank := func(p float64) time.Duration {
		want := int(p*float64(n)+0.999999) - 1
		seen := 0
		for _, b := range bs {
			seen += b.n
			if seen > want {
				return time.Duration(b.mins) * time.Minute
			}
		}
		return time.Duration(bs[len(bs)-1].mins) * time.Minute
	}
	return n, rank(0.5), rank(0.9)
}
