package redis

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald/complaint"
)

// TestUpgradeComplaintQueue stores complaints, then takes away what an
// older herald did not write (the tally counters and lines, the queue's
// tab keys) and the upgrade's mark, as a store written before the queue
// looks, and opens it again: the upgrade puts them in the queue's lists
// and counters, each once, and a second open does nothing more.
func TestUpgradeComplaintQueue(t *testing.T) {
	ctx := context.Background()
	prefix := testPrefix(t)
	db := openTest(t, prefix)
	base := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for i := range 5 {
		c := &complaint.Complaint{ID: fmt.Sprintf("c%d", i), PageID: "p1", State: complaint.StateNew, Channel: complaint.SMS,
			Category: complaint.CategoryOutage, Repeat: i == 0, FirstAnswerDue: base.Add(10 * time.Minute), ResolveDue: base.Add(time.Hour),
			CreatedAt: base, UpdatedAt: base, Version: 1}
		if i == 4 {
			c.State = complaint.StateResolved
		}
		if err := db.SaveComplaint(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
	}
	queue := func(db *DB) (complaint.Tally, int) {
		q, err := db.ComplaintTally(ctx, "p1", complaint.QueueAll)
		if err != nil {
			t.Fatal(err)
		}
		cs, _, err := db.FindComplaints(ctx, complaint.Filter{PageID: "p1", Unassigned: true, Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		return q, len(cs)
	}
	want, wantList := queue(db)
	if want["o"] != 4 || wantList < 4 {
		t.Fatalf("before: %v, %d unassigned; want 4 open", want, wantList)
	}

	// What an older herald's store lacks.
	var gone []string
	for _, pattern := range []string{db.keys.complaintTally("p1", "*"), db.keys.complaintsOpenIn("p1", "*"), db.keys.complaintsDue("p1", "*")} {
		keys, err := db.client.Keys(ctx, pattern).Result()
		if err != nil {
			t.Fatal(err)
		}
		gone = append(gone, keys...)
	}
	gone = append(gone, db.keys.complaintTallies("p1"), db.keys.complaintsUnassigned("p1"), db.keys.complaintsRepeat("p1"))
	if err := db.client.Del(ctx, gone...).Err(); err != nil {
		t.Fatal(err)
	}
	if err := db.client.HDel(ctx, db.keys.upgrades(), complaintQueueUpgrade).Err(); err != nil {
		t.Fatal(err)
	}
	if q, n := queue(db); q["o"] != 0 || n != 0 {
		t.Fatalf("the old store still has the queue: %v, %d", q, n)
	}

	for range 2 { // the second open finds the mark and does nothing
		again := openTest(t, prefix)
		q, n := queue(again)
		if fmt.Sprint(q) != fmt.Sprint(want) || n != wantList {
			t.Errorf("after the upgrade: %v, %d unassigned; want %v, %d", q, n, want, wantList)
		}
		u, err := again.ComplaintTally(ctx, "p1", complaint.TallyUntagged)
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, n := range u {
			total += n
		}
		if total != 5 {
			t.Errorf("untagged tally after the upgrade: %v, want the 5 complaints once", u)
		}
		again.Close()
	}
}
