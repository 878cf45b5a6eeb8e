package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// TestSavesGrouped: saves that arrive while a group is being written are
// committed together, in fewer transactions than saves, each answered.
// (What a group writes and refuses is the conformance suite's
// SavesConcurrently.)
func TestSavesGrouped(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const n = 200
	at := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &complaint.Complaint{ID: fmt.Sprintf("c%03d", i), PageID: "pa", Channel: complaint.SMS, State: complaint.StateAcknowledged,
				Contact: complaint.Contact{Phone: fmt.Sprintf("+362010%05d", i)}, CreatedAt: at, UpdatedAt: at, Version: 1}
			e := &complaint.Entry{ID: "e" + c.ID, ComplaintID: c.ID, PageID: "pa", Kind: complaint.EntryMessageIn, Text: "help", At: at}
			d := &queue.Delivery{ID: queue.DeliveryID("complaint:"+c.ID+":ack", channel.SMS, c.Contact.Phone), PageID: "pa",
				MessageKind: queue.KindComplaintReceived, Kind: channel.SMS, Address: c.Contact.Phone, State: queue.StatePending,
				NextAt: at, CreatedAt: at, UpdatedAt: at}
			errs[i] = db.SaveComplaintQueued(ctx, c, []*complaint.Entry{e}, []*queue.Delivery{d})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("save %d: %v", i, err)
		}
	}
	db.saves.mu.Lock()
	groups := db.saves.groups
	db.saves.mu.Unlock()
	t.Logf("%d saves in %d groups", n, groups)
	if groups >= n {
		t.Errorf("%d saves took %d transactions; want them grouped", n, groups)
	}
	if _, total, err := db.FindComplaints(ctx, complaint.Filter{PageID: "pa"}); err != nil || total != n {
		t.Errorf("FindComplaints: %d, %v; want %d", total, err, n)
	}
}

// TestSavesGroupedSameMessage: one provider message twice in the same
// group (a webhook retried while the first was waiting for the writer):
// the second is refused as a conflict, and the group's other saves are
// written, their timelines in order.
func TestSavesGroupedSameMessage(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	save := func(id, external string) error {
		c := &complaint.Complaint{ID: id, PageID: "pa", Channel: complaint.SMS, State: complaint.StateAcknowledged,
			Contact: complaint.Contact{Phone: "+36201000000"}, CreatedAt: at, UpdatedAt: at, Version: 1}
		var es []*complaint.Entry
		for k := range 3 { // the same time: the save order decides
			e := &complaint.Entry{ID: fmt.Sprintf("e%s-%d", id, k), ComplaintID: id, PageID: "pa", Kind: complaint.EntryNote, Text: fmt.Sprint(k), At: at}
			if k == 0 {
				e.Kind, e.ExternalID = complaint.EntryMessageIn, external
			}
			es = append(es, e)
		}
		return db.SaveComplaintQueued(ctx, c, es, nil)
	}
	// The writer is held, so that everything below waits in one queue.
	if err := db.prepare(ctx); err != nil {
		t.Fatal(err)
	}
	hold, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	queued := func(n int) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			db.saves.mu.Lock()
			q := len(db.saves.queue)
			db.saves.mu.Unlock()
			if q >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d saves queued, want %d", q, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	errs := make([]error, 7)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); errs[0] = save("c0", "") }() // taken as a group of one, waiting for the writer
	deadline := time.Now().Add(10 * time.Second)
	for {
		db.saves.mu.Lock()
		taken := db.saves.groups == 1 && len(db.saves.queue) == 0
		db.saves.mu.Unlock()
		if taken {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first save never reached the writer")
		}
		time.Sleep(time.Millisecond)
	}
	for i, ext := range []string{"SM1", "SM2", "SM1", "", "SM1", "SM3"} {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i+1] = save(fmt.Sprintf("c%d", i+1), ext) }()
	}
	queued(6)
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	// Which of SM1's three goes first depends on the queue's order: one.
	var saved []string
	conflicts := 0
	for i, err := range errs {
		sm1 := i == 1 || i == 3 || i == 5
		switch {
		case err == nil:
			saved = append(saved, fmt.Sprintf("c%d", i))
		case sm1 && incident.ErrorCode(err) == incident.ECONFLICT:
			conflicts++
		default:
			t.Errorf("save c%d: %v", i, err)
		}
	}
	if len(saved) != 5 || conflicts != 2 {
		t.Errorf("saved %v, %d conflicts; want 5 saved and SM1's two others refused", saved, conflicts)
	}
	for _, id := range saved {
		es, err := db.FindEntries(ctx, id)
		if err != nil || len(es) != 3 {
			t.Fatalf("%s: %d entries, %v", id, len(es), err)
		}
		for k, e := range es {
			if e.Text != fmt.Sprint(k) {
				t.Errorf("%s entry %d is %q: the timeline lost its order", id, k, e.Text)
			}
		}
	}
}
