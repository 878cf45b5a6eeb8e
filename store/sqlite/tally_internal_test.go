package sqlite

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/heraldhq/herald/complaint"
)

// TestUpgradeTalliesComplaints opens a file written before the complaint
// tallies (schema 9) holding two complaints, and checks that migration
// 0010 counts them: the report sees the complaints stored before it.
func TestUpgradeTalliesComplaints(t *testing.T) {
	ctx := context.Background()
	path, w := fileBefore(t, tallyMigration)
	created := time.Date(2026, 3, 10, 9, 2, 0, 0, time.UTC)
	answered := created.Add(10 * time.Minute)
	cs := []*complaint.Complaint{
		{ID: "k1", PageID: "p1", Channel: complaint.SMS, Category: complaint.CategoryOutage, State: complaint.StateInProgress,
			Tag: &complaint.Tag{IncidentID: "i1"}, Repeat: true, FirstAnswerAt: &answered, CreatedAt: created, FirstAnswerDue: created.Add(time.Hour),
			ResolveDue: created.Add(24 * time.Hour), Version: 2},
		{ID: "k2", PageID: "p1", Channel: complaint.Email, Category: complaint.CategoryOther, State: complaint.StateNew, CreatedAt: created, Version: 1},
	}
	want := map[string]complaint.Tally{}
	for _, c := range cs {
		doc, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.ExecContext(ctx, `INSERT INTO complaints (id, page_id, state, open, incident_id, owner, contact_key, channel, category,
			created_at, check_at, version, doc) VALUES (?, ?, ?, 1, ?, '', '', ?, ?, ?, NULL, ?, ?)`,
			c.ID, c.PageID, string(c.State), c.IncidentID(), string(c.Channel), string(c.Category), created.UnixMilli(), c.Version, string(doc)); err != nil {
			t.Fatal(err)
		}
		for _, l := range c.TallyLines() {
			scope, field, _ := complaint.SplitTallyLine(l)
			if want[scope] == nil {
				want[scope] = complaint.Tally{}
			}
			want[scope][field]++
		}
	}
	w.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for scope, w := range want {
		got, err := db.ComplaintTally(ctx, "p1", scope)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("ComplaintTally(%s) after the upgrade = %v, want %v", scope, got, w)
		}
	}
	// A later save moves the backfilled counters: k1 is untagged.
	k1, err := db.FindComplaintByID(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	k1.Version++
	k1.Tag = nil
	if err := db.SaveComplaint(ctx, k1, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.ComplaintTally(ctx, "p1", complaint.TallyScope("i1")); len(got) != 0 {
		t.Errorf("i1's tally after untagging its one complaint = %v, want empty", got)
	}
}
