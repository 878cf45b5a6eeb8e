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
