package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/store/sqlite"
	"github.com/heraldhq/herald/store/storetest"
)

// TestNotifyStoreMergedIDs runs the conformance suite with delivery IDs
// merged into the big ID level after every insert, so each lookup, skip
// and receipt goes through delivery_ids as well as delivery_ids_new.
func TestNotifyStoreMergedIDs(t *testing.T) {
	storetest.RunNotify(t, func(t *testing.T) (incident.Store, storetest.Pipeline) {
		db := open(t, filepath.Join(t.TempDir(), "herald.db"))
		sqlite.SetMergeEvery(db, 1)
		return db, db
	})
}

// queueFixture opens a store with mergeEvery 3 and one planned broadcast.
func queueFixture(t *testing.T, path string) (*sqlite.DB, *incident.Broadcast, *queue.Plan) {
	t.Helper()
	ctx := context.Background()
	db := open(t, path)
	t.Cleanup(func() { db.Close() })
	sqlite.SetMergeEvery(db, 3)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	page := &incident.Page{ID: "p1", Name: "Acme", URL: "https://status.acme.test", TimeZone: "Etc/UTC", CreatedAt: now, UpdatedAt: now}
	inc := benchIncident("i1", "p1", now)
	bc := &incident.Broadcast{ID: "b1", PageID: "p1", IncidentID: "i1", UpdateID: inc.Updates[0].ID, Kind: incident.BroadcastDeclared, CreatedAt: now}
	if err := db.Commit(ctx, &incident.Change{Pages: []*incident.Page{page}, Incidents: []*incident.Incident{inc}, Broadcasts: []*incident.Broadcast{bc}}); err != nil {
		t.Fatal(err)
	}
	p, err := db.ClaimPlan(ctx, now, time.Hour)
	if err != nil || p == nil {
		t.Fatalf("ClaimPlan = %v, %v", p, err)
	}
	return db, bc, p
}

// TestDeliveryIDLevels checks that IDs are skipped and found wherever they
// are (the big ID level, the new one, or a chunk not yet claimed), whatever
// their form, and that the frequency cap's filter finds deliveries whose
// IDs are not notify.DeliveryIDs.
func TestDeliveryIDLevels(t *testing.T) {
	ctx := context.Background()
	db, bc, p := queueFixture(t, filepath.Join(t.TempDir(), "herald.db"))
	now := bc.CreatedAt
	ds := planDeliveries(bc, 10, now)
	// IDs of other forms: text, and hex that is not lowercase.
	ds[8].ID, ds[9].ID = "confirm-1", "ABCDEF0123456789ABCDEF01"
	save := func(ds []*queue.Delivery) int {
		t.Helper()
		n, err := db.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: ds}, now, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := save(ds[:4]) + save(ds[4:8]) + save(ds[8:]); n != 10 {
		t.Fatalf("saved %d new; want 10", n)
	}
	// Claims write rows and their IDs, a chunk (one per batch and channel)
	// at a time: the SMS chunks of 2, 2 and 1 rows and the first email
	// chunk's 2 reach mergeEvery (3) twice and are merged into the big
	// level; one more email stays in the new level; two wait in chunks.
	for _, c := range []struct {
		kind channel.Kind
		n    int
	}{{channel.SMS, 5}, {channel.Email, 2}, {channel.Email, 1}} {
		if got, err := db.ClaimDeliveries(ctx, c.kind, queue.LaneAll, now, time.Hour, c.n); err != nil || len(got) != c.n {
			t.Fatalf("ClaimDeliveries(%s) = %d, %v; want %d", c.kind, len(got), err, c.n)
		}
	}
	for q, want := range map[string]int{"SELECT count(*) FROM delivery_ids": 7, "SELECT count(*) FROM delivery_ids_new": 1,
		"SELECT coalesce(sum(n - taken), 0) FROM delivery_chunks": 2} {
		var n int
		if err := db.ReadSQL().QueryRowContext(ctx, q).Scan(&n); err != nil || n != want {
			t.Fatalf("%s = %d, %v; want %d", q, n, err, want)
		}
	}
	// Known IDs from every level, and a repeat within the batch.
	extra := planDeliveries(bc, 11, now)[10]
	if n := save([]*queue.Delivery{ds[0], ds[5], ds[8], ds[9], extra, extra}); n != 1 {
		t.Fatalf("saved %d of known IDs and one new twice; want 1", n)
	}
	for _, d := range append(ds, extra) {
		t.Run("find "+d.ID, func(t *testing.T) {
			got, err := db.FindDeliveryByID(ctx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != d.ID || got.Address != d.Address || got.Name != d.Name || got.TimeZone != d.TimeZone || got.RecipientType != d.RecipientType {
				t.Errorf("FindDeliveryByID = %+v; want %+v", got, d)
			}
		})
	}
	if _, err := db.FindDeliveryByID(ctx, "abcdef0123456789abcdef01"); !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("FindDeliveryByID of the lowercase twin = %v; want ENOTFOUND", err)
	}
	for _, tt := range []struct {
		name string
		d    *queue.Delivery
	}{{"derived ID", ds[2]}, {"text ID", ds[8]}, {"uppercase hex ID", ds[9]}} {
		t.Run("cap filter "+tt.name, func(t *testing.T) {
			got, err := db.FindDeliveries(ctx, queue.DeliveryFilter{IncidentID: bc.IncidentID, Kind: tt.d.Kind, Address: tt.d.Address})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].ID != tt.d.ID {
				t.Errorf("FindDeliveries = %d deliveries; want just %s", len(got), tt.d.ID)
			}
		})
	}
}

// TestDeliveryIDFilterSeesOtherConnections writes an ID through a second
// handle on the file and checks that the first, whose in-memory ID filter
// was built before, still skips it.
func TestDeliveryIDFilterSeesOtherConnections(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	db, bc, p := queueFixture(t, path)
	now := bc.CreatedAt
	ds := planDeliveries(bc, 3, now)
	if n, err := db.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: ds[:1]}, now, time.Hour); err != nil || n != 1 {
		t.Fatalf("SavePlanBatch = %d, %v", n, err)
	}
	other := open(t, path)
	if n, err := other.EnqueueDeliveries(ctx, ds[1:2]); err != nil || n != 1 {
		t.Fatalf("EnqueueDeliveries on the other handle = %d, %v", n, err)
	}
	other.Close()
	if n, err := db.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: ds}, now, time.Hour); err != nil || n != 1 {
		t.Fatalf("SavePlanBatch after the other handle wrote = %d, %v; want 1 new", n, err)
	}
}
