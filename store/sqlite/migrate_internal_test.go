package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// TestUpgradeFromRowsPerDelivery opens a file written before chunks
// (schema 4), with a planned delivery as a row and its ID in the new ID
// level, and checks that migration 0005 keeps it claimable and findable,
// hands out rids after it, and counts the IDs waiting to be merged.
func TestUpgradeFromRowsPerDelivery(t *testing.T) {
	ctx := context.Background()
	path, w := fileBefore(t, 4+1)
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	d := &queue.Delivery{PageID: "p1", IncidentID: "i1", UpdateID: "u1", BroadcastID: "b1", MessageKind: queue.KindAck,
		Kind: channel.SMS, Address: "+36201234567", RecipientType: queue.FromCustomer, RecipientID: "c1", Name: "Éva",
		Language: "hu", TimeZone: "Europe/Budapest", State: queue.StatePending, NextAt: now, CreatedAt: now, UpdatedAt: now}
	d.ID = queue.DeliveryID(d.UpdateID, d.Kind, d.Address)
	key := idKey(d.ID)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO delivery_groups (id, broadcast_id, page_id, incident_id, update_id, message_kind) VALUES (7, 'b1', 'p1', 'i1', 'u1', 'ack')`, nil},
		{`INSERT INTO deliveries (rid, id, grp, kind, address, recipient_id, odd, info, state, next_at, wake_at, created_at, updated_at,
			error_code, reason) VALUES (41, ?, 7, 'sms', ?, 'c1', 0, ?, 'pending', ?, ?, ?, ?, '', '')`,
			[]any{key, d.Address, encodeInfo(nil, d), ms(now), ms(now), ms(now), ms(now)}},
		{`INSERT INTO delivery_ids_new (k, rid) VALUES (?, 41)`, []any{idHash(key)}},
		{`UPDATE delivery_ids_merged SET merged_rid = 40`, nil},
	} {
		if _, err := w.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	w.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var next, waiting int64
	if err := db.r.QueryRowContext(ctx, "SELECT (SELECT next FROM delivery_rids), (SELECT waiting FROM delivery_ids_merged)").Scan(&next, &waiting); err != nil {
		t.Fatal(err)
	}
	if next != 42 || waiting != 1 {
		t.Errorf("after migration: next rid %d, IDs waiting %d; want 42 and 1", next, waiting)
	}
	got, err := db.FindDeliveryByID(ctx, d.ID)
	if err != nil || got.Name != d.Name || got.State != queue.StatePending {
		t.Fatalf("FindDeliveryByID = %+v, %v", got, err)
	}
	claimed, err := db.ClaimDeliveries(ctx, channel.SMS, queue.LaneAll, now, time.Minute, 10)
	if err != nil || len(claimed) != 1 || claimed[0].ID != d.ID {
		t.Fatalf("ClaimDeliveries = %v, %v; want the old row", claimed, err)
	}
	conf := &queue.Delivery{ID: "confirm-1", PageID: "p1", UpdateID: "c", MessageKind: queue.KindConfirm, Kind: channel.SMS,
		Address: "+36209999999", State: queue.StatePending, NextAt: now, CreatedAt: now, UpdatedAt: now}
	if n, err := db.EnqueueDeliveries(ctx, []*queue.Delivery{conf}); err != nil || n != 1 {
		t.Fatalf("EnqueueDeliveries = %d, %v", n, err)
	}
	var rid int64
	if err := db.r.QueryRowContext(ctx, "SELECT rid FROM deliveries WHERE id = 'confirm-1'").Scan(&rid); err != nil || rid != 42 {
		t.Errorf("new delivery's rid = %d, %v; want 42, after the old ones", rid, err)
	}
	if _, err := db.FindDeliveryByID(ctx, "nope"); incident.ErrorCode(err) != incident.ENOTFOUND {
		t.Errorf("FindDeliveryByID(nope) = %v; want ENOTFOUND", err)
	}
}

// TestUpgradeToReplyLane opens a file written before the reply lane
// (schema 25) with an open reply, an open broadcast delivery and a sent
// reply as rows, and checks that migration 0026 puts the open reply in
// the replies' lane and the rest in the broadcast's.
func TestUpgradeToReplyLane(t *testing.T) {
	ctx := context.Background()
	path, w := fileBefore(t, 26)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	row := func(rid int, grp int, addr, state string, next time.Time) (string, []any) {
		d := &queue.Delivery{Kind: channel.SMS, Address: addr, RecipientType: queue.FromContact, Language: "hu"}
		return `INSERT INTO deliveries (rid, id, grp, kind, address, recipient_id, odd, info, state, next_at, wake_at, created_at, updated_at,
			error_code, reason) VALUES (?, ?, ?, 'sms', ?, '', 1, ?, ?, ?, ?, ?, ?, '', '')`,
			[]any{rid, fmt.Sprintf("d%d", rid), grp, addr, encodeInfo(nil, d), state, ms(next), ms(next), ms(now), ms(now)}
	}
	if _, err := w.ExecContext(ctx, `INSERT INTO delivery_groups (id, broadcast_id, page_id, incident_id, update_id, message_kind) VALUES
		(1, '', 'p1', '', 'complaint:c1', 'complaint_ack'), (2, 'b1', 'p1', 'i1', 'u1', 'ack')`); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		rid, grp    int
		addr, state string
		next        time.Time
	}{
		{1, 1, "+36201000001", "pending", now.Add(-24 * time.Hour)},
		{2, 2, "+36201000002", "pending", now},
		{3, 1, "+36201000003", "sent", now.Add(-48 * time.Hour)},
	} {
		q, args := row(r.rid, r.grp, r.addr, r.state, r.next)
		if _, err := w.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := w.ExecContext(ctx, "UPDATE delivery_rids SET next = 4"); err != nil {
		t.Fatal(err)
	}
	w.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	claimed := func(lane queue.Lane) []string {
		ds, err := db.ClaimDeliveries(ctx, channel.SMS, lane, now, time.Minute, 10)
		if err != nil {
			t.Fatalf("ClaimDeliveries(%s): %v", lane, err)
		}
		var out []string
		for _, d := range ds {
			out = append(out, d.ID)
		}
		return out
	}
	if got := claimed(queue.LaneBroadcast); len(got) != 1 || got[0] != "d2" {
		t.Errorf("broadcast lane claimed %v; want the old broadcast row d2 only", got)
	}
	if got := claimed(queue.LaneReplies); len(got) != 1 || got[0] != "d1" {
		t.Errorf("replies lane claimed %v; want the old open reply d1 only", got)
	}
}
