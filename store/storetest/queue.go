package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/complaint"
)

// The agents' queue: the Unassigned, Repeat and DueBefore selections
// (alone, with Open and with the other selections, a window at a time),
// and the queue's tally counters (complaint.QueueScope), which must count
// exactly what the lists hold, through changes.
//
//	id  created state        incident owner repeat due (DueAt)
//	q1  0m      new          i1       -     yes    10m (first answer)
//	q2  1m      in_progress  i1       ann   -      20m (resolution; answered)
//	q3  2m      new          -        -     -      5m
//	q4  3m      acknowledged i2       -     yes    40m
//	q5  4m      resolved     i1       -     yes    (closed: none)
//	q6  5m      new          i1       -     -      none (no due times)
//	q7  6m      new          i2       bob   -      5m (ties with q3)
func testComplaintQueue(t *testing.T, cs complaint.Store, _ audience.Store) {
	ctx := context.Background()
	mk := func(id string, created time.Duration, state complaint.State, inc, owner string, repeat bool, first, resolve time.Duration, answered bool) *complaint.Complaint {
		c := bareComplaint(id, "pa", at(created))
		c.State, c.Owner, c.Repeat = state, owner, repeat
		if inc != "" {
			c.Tag = &complaint.Tag{IncidentID: inc, Confidence: 1, Reason: "agent", By: "agent:x", At: at(created)}
		}
		if first > 0 {
			c.FirstAnswerDue = at(first)
		}
		if resolve > 0 {
			c.ResolveDue = at(resolve)
		}
		if answered {
			c.FirstAnswerAt = ptr(at(created + time.Second))
		}
		if state == complaint.StateResolved {
			c.ResolvedAt = ptr(at(created + time.Minute))
		}
		saveComplaint(t, cs, c)
		return c
	}
	mk("q1", 0, complaint.StateNew, "i1", "", true, 10*time.Minute, 60*time.Minute, false)
	q2 := mk("q2", time.Minute, complaint.StateInProgress, "i1", "ann", false, 3*time.Minute, 20*time.Minute, true)
	mk("q3", 2*time.Minute, complaint.StateNew, "", "", false, 5*time.Minute, 0, false)
	mk("q4", 3*time.Minute, complaint.StateAcknowledged, "i2", "", true, 0, 40*time.Minute, false)
	mk("q5", 4*time.Minute, complaint.StateResolved, "i1", "", true, 6*time.Minute, 30*time.Minute, true)
	mk("q6", 5*time.Minute, complaint.StateNew, "i1", "", false, 0, 0, false)
	mk("q7", 6*time.Minute, complaint.StateNew, "i2", "bob", false, 5*time.Minute, 50*time.Minute, false)
	// A complaint on another page is in none of pa's selections.
	other := bareComplaint("x1", "pb", at(0))
	other.Repeat, other.FirstAnswerDue = true, at(time.Minute)
	saveComplaint(t, cs, other)

	pa := func(f complaint.Filter) complaint.Filter { f.PageID = "pa"; return f }
	due := at(30 * time.Minute)
	runComplaintQueries(t, cs, []complaintQuery{
		{"unassigned", pa(complaint.Filter{Unassigned: true}), []string{"q6", "q5", "q4", "q3", "q1"}, -1},
		{"unassigned, open", pa(complaint.Filter{Unassigned: true, Open: true}), []string{"q6", "q4", "q3", "q1"}, -1},
		{"unassigned, open, an incident", pa(complaint.Filter{Unassigned: true, Open: true, IncidentID: "i1"}), []string{"q6", "q1"}, -1},
		{"unassigned, open, untagged", pa(complaint.Filter{Unassigned: true, Open: true, Untagged: true}), []string{"q3"}, -1},
		{"unassigned, open, limit and offset", pa(complaint.Filter{Unassigned: true, Open: true, Limit: 2, Offset: 1}), []string{"q4", "q3"}, 4},
		{"repeat", pa(complaint.Filter{Repeat: true}), []string{"q5", "q4", "q1"}, -1},
		{"repeat, open", pa(complaint.Filter{Repeat: true, Open: true}), []string{"q4", "q1"}, -1},
		{"repeat, open, limit", pa(complaint.Filter{Repeat: true, Open: true, Limit: 1}), []string{"q4"}, 2},
		{"repeat, open, an incident", pa(complaint.Filter{Repeat: true, Open: true, IncidentID: "i2"}), []string{"q4"}, -1},
		{"open, an owner", pa(complaint.Filter{Owner: "bob", Open: true}), []string{"q7"}, -1},
		{"open, an owner, an incident", pa(complaint.Filter{Owner: "ann", Open: true, IncidentID: "i1"}), []string{"q2"}, -1},
		{"open, an owner, another incident", pa(complaint.Filter{Owner: "ann", Open: true, IncidentID: "i2"}), []string{}, -1},
		{"open, unassigned, repeat, an incident", pa(complaint.Filter{Unassigned: true, Repeat: true, Open: true, IncidentID: "i1"}), []string{"q1"}, -1},
		{"open, an incident", pa(complaint.Filter{IncidentID: "i1", Open: true}), []string{"q6", "q2", "q1"}, -1},
		{"open, an incident, limit", pa(complaint.Filter{IncidentID: "i1", Open: true, Limit: 2}), []string{"q6", "q2"}, 3},
		{"open, untagged", pa(complaint.Filter{Untagged: true, Open: true}), []string{"q3"}, -1},
		// Due before: soonest first, ties by ID ascending; closed ones and
		// those without due times never.
		{"due before", pa(complaint.Filter{DueBefore: due}), []string{"q3", "q7", "q1", "q2"}, -1},
		{"due before, exclusive", pa(complaint.Filter{DueBefore: at(10 * time.Minute)}), []string{"q3", "q7"}, -1},
		{"due before, open (implied)", pa(complaint.Filter{DueBefore: due, Open: true}), []string{"q3", "q7", "q1", "q2"}, -1},
		{"due before, limit and offset", pa(complaint.Filter{DueBefore: due, Limit: 2, Offset: 1}), []string{"q7", "q1"}, 4},
		{"due before, an incident", pa(complaint.Filter{DueBefore: due, IncidentID: "i1"}), []string{"q1", "q2"}, -1},
		{"due before, untagged", pa(complaint.Filter{DueBefore: due, Untagged: true}), []string{"q3"}, -1},
		{"due before, unassigned", pa(complaint.Filter{DueBefore: due, Unassigned: true}), []string{"q3", "q1"}, -1},
		{"due before, an owner", pa(complaint.Filter{DueBefore: due, Owner: "ann"}), []string{"q2"}, -1},
		{"due before, repeat, open", pa(complaint.Filter{DueBefore: at(time.Hour), Repeat: true, Open: true}), []string{"q1", "q4"}, -1},
		{"due before, since", pa(complaint.Filter{DueBefore: due, Since: at(time.Minute)}), []string{"q3", "q7", "q2"}, -1},
		{"due before, until", pa(complaint.Filter{DueBefore: due, Until: at(2 * time.Minute)}), []string{"q1", "q2"}, -1},
		{"due before on every page", complaint.Filter{DueBefore: at(6 * time.Minute)}, []string{"x1", "q3", "q7"}, -1},
	})

	t.Run("skip count", func(t *testing.T) {
		for _, f := range []complaint.Filter{
			{PageID: "pa", IncidentID: "i1", Open: true, Limit: 2, SkipCount: true},
			{PageID: "pa", DueBefore: due, Limit: 2, Offset: 1, SkipCount: true},
			{PageID: "pa", Open: true, Unassigned: true, IncidentID: "i1", SkipCount: true},
		} {
			got, n, err := cs.FindComplaints(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			f.SkipCount = false
			want, _, err := cs.FindComplaints(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if n != -1 {
				t.Errorf("%+v: total %d, want -1", f, n)
			}
			equal(t, "IDs", complaintIDs(got), complaintIDs(want))
		}
	})

	counts := func(t *testing.T, scope, owner string, now time.Time) complaint.QueueCounts {
		t.Helper()
		tally, err := cs.ComplaintTally(ctx, "pa", scope)
		if err != nil {
			t.Fatal(err)
		}
		return tally.Queue(owner, now)
	}
	// At a whole minute 25 minutes before q3 and q7 are due (base has
	// milliseconds: they are due a little after 12:05), the cut is 12:05,
	// exclusive: none; a second later it rounds up to 12:06: q3 and q7.
	minute := base.Truncate(time.Minute)
	t.Run("tally counts", func(t *testing.T) {
		equal(t, "all, ann", counts(t, complaint.QueueAll, "ann", minute.Add(-25*time.Minute)), complaint.QueueCounts{Open: 6, Mine: 1, Unassigned: 4, Repeat: 2})
		equal(t, "all, bob, a second later", counts(t, complaint.QueueAll, "bob", minute.Add(-25*time.Minute+time.Second)),
			complaint.QueueCounts{Open: 6, Mine: 1, Unassigned: 4, Repeat: 2, AtRisk: 2})
		equal(t, "all, at(0)", counts(t, complaint.QueueAll, "", at(0)), complaint.QueueCounts{Open: 6, Unassigned: 4, Repeat: 2, AtRisk: 4})
		equal(t, "i1", counts(t, complaint.QueueScope("i1"), "ann", at(0)), complaint.QueueCounts{Open: 3, Mine: 1, Unassigned: 2, Repeat: 1, AtRisk: 2})
		equal(t, "untagged", counts(t, complaint.QueueUntagged, "", at(0)), complaint.QueueCounts{Open: 1, Unassigned: 1, AtRisk: 1})
	})
	// The list and the count agree at every minute: the rule is one.
	t.Run("tally and list agree", func(t *testing.T) {
		for m := -30; m <= 30; m++ {
			now := at(time.Duration(m)*time.Minute + 17*time.Second)
			_, n, err := cs.FindComplaints(ctx, complaint.Filter{PageID: "pa", DueBefore: complaint.AtRiskBefore(now), Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			if got := counts(t, complaint.QueueAll, "", now).AtRisk; got != n {
				t.Fatalf("at %v: the tally counts %d at risk, the list %d", now, got, n)
			}
		}
	})

	t.Run("after changes", func(t *testing.T) {
		// q2 resolved: out of every open selection and count; q6 taken by
		// ann and given due times.
		q2 = nextVersion(q2)
		q2.State, q2.ResolvedAt = complaint.StateResolved, ptr(at(10*time.Minute))
		saveComplaint(t, cs, q2)
		q6 := findComplaint(t, cs, "q6")
		q6 = nextVersion(q6)
		q6.Owner, q6.ResolveDue = "ann", at(8*time.Minute)
		saveComplaint(t, cs, q6)
		runComplaintQueries(t, cs, []complaintQuery{
			{"due before", pa(complaint.Filter{DueBefore: due}), []string{"q3", "q7", "q6", "q1"}, -1},
			{"unassigned, open", pa(complaint.Filter{Unassigned: true, Open: true}), []string{"q4", "q3", "q1"}, -1},
			{"open, ann", pa(complaint.Filter{Owner: "ann", Open: true}), []string{"q6"}, -1},
			{"open, an incident", pa(complaint.Filter{IncidentID: "i1", Open: true}), []string{"q6", "q1"}, -1},
		})
		equal(t, "all, ann", counts(t, complaint.QueueAll, "ann", at(0)), complaint.QueueCounts{Open: 5, Mine: 1, Unassigned: 3, Repeat: 2, AtRisk: 4})
		tally, err := cs.ComplaintTally(ctx, "pa", complaint.QueueAll)
		if err != nil {
			t.Fatal(err)
		}
		for f, n := range tally {
			if n == 0 {
				t.Errorf("tally field %q is zero: read back only non-zero counters", f)
			}
		}
	})
}
