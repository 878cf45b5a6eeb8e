package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/complaint"
)

// TestUpgradeToQueueColumns opens a file written before migration 0022
// with complaints in it and checks that 0022 fills repeat and due_at from
// the stored documents, as a save would: the at-risk and repeat lists find
// them, in due order, and the queue's counters count them.
func TestUpgradeToQueueColumns(t *testing.T) {
	ctx := context.Background()
	path, w := fileBefore(t, 22)
	base := time.Date(2026, 12, 4, 12, 0, 0, 250*int(time.Millisecond), time.UTC)
	answered := base.Add(time.Minute)
	mk := func(id string, state complaint.State, repeat bool, first, resolve time.Duration, ans *time.Time) {
		c := &complaint.Complaint{ID: id, PageID: "p1", State: state, Repeat: repeat, FirstAnswerAt: ans, CreatedAt: base, UpdatedAt: base, Version: 1}
		if first > 0 {
			c.FirstAnswerDue = base.Add(first)
		}
		if resolve > 0 {
			c.ResolveDue = base.Add(resolve)
		}
		c.Channel, c.Category = complaint.SMS, complaint.CategoryOutage
		doc, _ := json.Marshal(c)
		// The tally lines and counters a save wrote before 0022: without
		// the queue's.
		var lines []string
		for _, l := range c.TallyLines() {
			if scope, field, _ := complaint.SplitTallyLine(l); scope != complaint.QueueAll && !strings.HasPrefix(scope, complaint.QueueAll+"|") {
				lines = append(lines, l)
				if _, err := w.ExecContext(ctx, complaintTallySQL, "p1", scope, field, 1); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := w.ExecContext(ctx, `INSERT INTO complaints (id, page_id, state, open, incident_id, owner, contact_key, channel, category,
			created_at, check_at, version, doc, tally) VALUES (?, 'p1', ?, ?, '', '', '', 'sms', 'outage', ?, NULL, 1, ?, ?)`,
			id, string(state), boolInt(c.Open()), ms(base), string(doc), strings.Join(lines, "\n")); err != nil {
			t.Fatal(err)
		}
	}
	mk("a", complaint.StateNew, true, 10*time.Minute, time.Hour, nil)                   // due: first answer, +10m
	mk("b", complaint.StateInProgress, false, 5*time.Minute, 20*time.Minute, &answered) // answered: resolution, +20m
	mk("c", complaint.StateNew, false, 0, 15*time.Minute, nil)                          // resolution only, +15m
	mk("d", complaint.StateResolved, true, 5*time.Minute, 10*time.Minute, nil)          // closed: none
	mk("e", complaint.StateNew, false, 0, 0, nil)                                       // no due times
	w.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ids := func(f complaint.Filter) []string {
		cs, _, err := db.FindComplaints(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	if got := ids(complaint.Filter{PageID: "p1", DueBefore: base.Add(time.Hour)}); len(got) != 3 || got[0] != "a" || got[1] != "c" || got[2] != "b" {
		t.Errorf("due before, after the upgrade: %v, want [a c b]", got)
	}
	if got := ids(complaint.Filter{PageID: "p1", DueBefore: base.Add(15 * time.Minute)}); len(got) != 1 || got[0] != "a" {
		t.Errorf("due before +15m (exclusive): %v, want [a]", got)
	}
	if got := ids(complaint.Filter{PageID: "p1", Repeat: true}); len(got) != 2 {
		t.Errorf("repeats after the upgrade: %v, want a and d", got)
	}
	// The queue's counters count the complaints stored before the upgrade,
	// and the report's are not counted twice.
	q, err := db.ComplaintTally(ctx, "p1", complaint.QueueAll)
	if err != nil {
		t.Fatal(err)
	}
	if q["o"] != 4 || q["o|un"] != 4 || q["o|r"] != 1 {
		t.Errorf("queue counters after the upgrade: %v, want 4 open, 4 unassigned, 1 repeat", q)
	}
	u, err := db.ComplaintTally(ctx, "p1", complaint.TallyUntagged)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range u {
		total += n
	}
	if total != 5 {
		t.Errorf("untagged tally after the upgrade: %v (%d), want the 5 complaints once", u, total)
	}
	var due sql.NullInt64
	if err := db.r.QueryRowContext(ctx, "SELECT due_at FROM complaints WHERE id = 'a'").Scan(&due); err != nil || due.Int64 != ms(base.Add(10*time.Minute)) {
		t.Errorf("a's due_at = %v, %v; want %d (to the millisecond)", due, err, ms(base.Add(10*time.Minute)))
	}
}
