package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// testRecipientDeliveries: FindRecipientDeliveries hands out what
// FindDeliveries finds for the same filter (the deliveries to a
// recipient), each once, in pages of at most the limit, a recipient's
// deliveries adjacent and in FindDeliveries' order, and a cursor resumes
// where its page ended. The plan leaves some deliveries waiting (in
// SQLite's chunks) and the states filter tells them from the sent ones.
func testRecipientDeliveries(t *testing.T, is incident.Store, ns Pipeline) {
	ctx := context.Background()
	const lease = time.Minute
	now := at(time.Hour)
	b := broadcastFixture(t, is, "b1", base)
	p := claimPlan(t, ns, now, lease)
	// 30 customers, SMS then email each; customers c0000–c0005 get a
	// second email (another update of the incident) a second later.
	var planned []*queue.Delivery
	for i := range 30 {
		for _, kind := range []channel.Kind{channel.SMS, channel.Email} {
			addr := fmt.Sprintf("+3620%07d", i)
			if kind == channel.Email {
				addr = fmt.Sprintf("c%04d@example.com", i)
			}
			d := newDelivery(b, kind, addr, fmt.Sprintf("c%04d", i), now)
			planned = append(planned, d)
		}
	}
	for i := range 6 {
		d := newDelivery(b, channel.Email, fmt.Sprintf("c%04d@example.com", i), fmt.Sprintf("c%04d", i), now.Add(time.Second))
		d.UpdateID = b.UpdateID + "-2"
		d.ID = queue.DeliveryID(d.UpdateID, d.Kind, d.Address)
		d.CreatedAt, d.UpdatedAt = now.Add(time.Second), now.Add(time.Second)
		planned = append(planned, d)
	}
	if _, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: planned, Cursor: "x", Done: true}, now, lease); err != nil {
		t.Fatalf("SavePlanBatch: %v", err)
	}
	// Most are sent (some then delivered); the rest wait.
	sentAt := now.Add(2 * time.Second)
	for _, kind := range []channel.Kind{channel.SMS, channel.Email} {
		ds := claim(t, ns, kind, now.Add(time.Second), lease, 22)
		for i, d := range ds {
			d.State, d.SentAt = queue.StateSent, &sentAt
			if i%3 == 0 {
				d.State = queue.StateFailed
				d.SentAt = nil
			}
		}
		if err := ns.FinishDeliveries(ctx, ds); err != nil {
			t.Fatal(err)
		}
		for i, d := range ds {
			if i%5 == 1 {
				if err := ns.SetDeliveryStatus(ctx, d.ID, queue.StateDelivered, "", "", sentAt.Add(time.Second)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// Another incident's, and one with no recipient: never handed out
	// for this incident.
	other := newDelivery(nil, channel.SMS, "+36209999999", "c0001", now)
	other.IncidentID = "inc-other"
	none := newDelivery(nil, channel.SMS, "+36209999998", "", now)
	none.IncidentID = b.IncidentID
	enqueue(t, ns, other, none)

	pages := func(f queue.DeliveryFilter, limit int) [][]*queue.Delivery {
		t.Helper()
		var out [][]*queue.Delivery
		for after, n := "", 0; ; n++ {
			if n > 1000 {
				t.Fatal("no end of pages")
			}
			page, next, err := ns.FindRecipientDeliveries(ctx, f, after, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > limit {
				for _, d := range page {
					if d.RecipientID != page[0].RecipientID {
						t.Fatalf("page of %d after %q with limit %d holds more than one recipient", len(page), after, limit)
					}
				}
			}
			if len(page) == 0 && next != "" {
				t.Fatalf("an empty page after %q with a next cursor %q", after, next)
			}
			out = append(out, page)
			if next == "" {
				return out
			}
			if next == after {
				t.Fatalf("cursor %q does not move", next)
			}
			// The cursor resumes where its page ended, again.
			again, next2, err := ns.FindRecipientDeliveries(ctx, f, next, limit)
			if err != nil {
				t.Fatal(err)
			}
			page2, next3, err := ns.FindRecipientDeliveries(ctx, f, next, limit)
			if err != nil {
				t.Fatal(err)
			}
			equal(t, "the page after "+next+" twice", orderedIDs(page2), orderedIDs(again))
			equal(t, "the next cursor twice", next3, next2)
			after = next
		}
	}
	check := func(name string, f queue.DeliveryFilter, wantAtLeast int) {
		t.Run(name, func(t *testing.T) {
			all, err := ns.FindDeliveries(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			// What FindDeliveries finds with a recipient, each recipient's
			// in its order.
			var want []*queue.Delivery
			byRecipient := map[string][]string{}
			for _, d := range all {
				if d.RecipientID != "" {
					want = append(want, d)
					byRecipient[d.RecipientID] = append(byRecipient[d.RecipientID], d.ID)
				}
			}
			if len(want) < wantAtLeast {
				t.Fatalf("the fixture has %d deliveries for %s, want at least %d", len(want), name, wantAtLeast)
			}
			for _, limit := range []int{1, 7, 1000} {
				var got []*queue.Delivery
				for _, page := range pages(f, limit) {
					got = append(got, page...)
				}
				equal(t, fmt.Sprintf("limit %d: every delivery once", limit), deliveryIDs(got), deliveryIDs(want))
				seen, runs := map[string]bool{}, map[string][]string{}
				for i, d := range got {
					if i > 0 && got[i-1].RecipientID != d.RecipientID && seen[d.RecipientID] {
						t.Fatalf("limit %d: %s's deliveries are not adjacent", limit, d.RecipientID)
					}
					seen[d.RecipientID] = true
					runs[d.RecipientID] = append(runs[d.RecipientID], d.ID)
				}
				equal(t, fmt.Sprintf("limit %d: each recipient's in FindDeliveries' order", limit), runs, byRecipient)
				for _, d := range got {
					if w := findIn(want, d.ID); w.State != d.State || !reflectTimeEqual(w.CreatedAt, d.CreatedAt) || w.Address != d.Address {
						t.Fatalf("limit %d: %s = %+v, FindDeliveries has %+v", limit, d.ID, d, w)
					}
				}
			}
		})
	}
	check("sent and delivered", queue.DeliveryFilter{PageID: "pa", IncidentID: b.IncidentID,
		States: []queue.DeliveryState{queue.StateSent, queue.StateDelivered}}, 25)
	check("any state, waiting ones too", queue.DeliveryFilter{PageID: "pa", IncidentID: b.IncidentID}, len(planned))
	check("pending only", queue.DeliveryFilter{PageID: "pa", IncidentID: b.IncidentID, States: []queue.DeliveryState{queue.StatePending}}, 20)
	check("one kind", queue.DeliveryFilter{PageID: "pa", IncidentID: b.IncidentID, Kind: channel.Email}, 36)
	check("another incident", queue.DeliveryFilter{PageID: "pa", IncidentID: "inc-other"}, 1)

	t.Run("a page is required", func(t *testing.T) {
		if _, _, err := ns.FindRecipientDeliveries(ctx, queue.DeliveryFilter{IncidentID: b.IncidentID}, "", 10); incident.ErrorCode(err) != incident.EINVALID {
			t.Errorf("without a page: %v, want EINVALID", err)
		}
		if ds, next, err := ns.FindRecipientDeliveries(ctx, queue.DeliveryFilter{PageID: "pb", IncidentID: b.IncidentID}, "", 10); err != nil || len(ds) != 0 || next != "" {
			t.Errorf("another page: %d, %q, %v; want none", len(ds), next, err)
		}
	})
}

// testCustomersByIDs: FindCustomersByIDs returns the page's customers of
// the IDs that exist, more than one batch of them.
func testCustomersByIDs(t *testing.T, _ incident.Store, ns Pipeline) {
	ctx := context.Background()
	var ids []string
	var cs []*audience.Customer
	for i := range 1300 {
		id := fmt.Sprintf("c%05d", i)
		if i%2 == 0 {
			c := newCustomer(id, "pa", base)
			c.Plan = fmt.Sprintf("plan-%d", i)
			cs = append(cs, c)
		}
		ids = append(ids, id)
	}
	if _, err := ns.UpsertCustomers(ctx, cs); err != nil {
		t.Fatal(err)
	}
	got, err := ns.FindCustomersByIDs(ctx, "pa", append(ids, "nobody"))
	if err != nil {
		t.Fatal(err)
	}
	plans := map[string]string{}
	for _, c := range got {
		plans[c.ID] = c.Plan
	}
	if len(got) != 650 || len(plans) != 650 {
		t.Fatalf("%d customers (%d distinct), want 650", len(got), len(plans))
	}
	for i := 0; i < 1300; i += 2 {
		if id := fmt.Sprintf("c%05d", i); plans[id] != fmt.Sprintf("plan-%d", i) {
			t.Fatalf("%s: plan %q", id, plans[id])
		}
	}
	if got, err := ns.FindCustomersByIDs(ctx, "pb", ids); err != nil || len(got) != 0 {
		t.Errorf("another page: %d, %v; want none", len(got), err)
	}
	if got, err := ns.FindCustomersByIDs(ctx, "pa", nil); err != nil || len(got) != 0 {
		t.Errorf("no IDs: %d, %v; want none", len(got), err)
	}
	one, err := ns.FindCustomerByID(ctx, "pa", "c00002")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range got {
		if c.ID == "c00002" {
			equal(t, "a customer by IDs and by ID", c, one)
		}
	}
}
