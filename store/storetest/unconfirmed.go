package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// testUnconfirmed: SMS left "sent" (no final receipt) are found for the
// reconciler, oldest first, until a receipt moves them on or a recheck
// puts them off; other channels' sent deliveries never are.
func testUnconfirmed(t *testing.T, _ incident.Store, ns Pipeline) {
	ctx := context.Background()
	now := at(time.Hour)
	send := func(kind channel.Kind, addr string, when time.Time) *queue.Delivery {
		t.Helper()
		d := newDelivery(nil, kind, addr, "r-"+addr, when)
		enqueue(t, ns, d)
		c := claim(t, ns, kind, when, time.Minute, 1)
		if len(c) != 1 || c[0].ID != d.ID {
			t.Fatalf("claim = %v, want %s", orderedIDs(c), d.ID)
		}
		c[0].State, c[0].ProviderID, c[0].SentAt, c[0].UpdatedAt = queue.StateSent, "SM"+addr, &when, when
		if err := ns.FinishDeliveries(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c[0]
	}
	a := send(channel.SMS, "+36201110001", now)
	b := send(channel.SMS, "+36201110002", now.Add(time.Minute))
	c := send(channel.SMS, "+36201110003", now.Add(2*time.Minute))
	send(channel.Email, "sent@example.com", now)
	find := func(before time.Time, limit int) []string {
		t.Helper()
		ds, err := ns.FindUnconfirmed(ctx, before, limit)
		if err != nil {
			t.Fatalf("FindUnconfirmed: %v", err)
		}
		ids := []string{}
		for _, d := range ds {
			if d.State != queue.StateSent || d.ProviderID == "" {
				t.Errorf("FindUnconfirmed gave %s in state %s with provider ID %q", d.ID, d.State, d.ProviderID)
			}
			ids = append(ids, d.ID)
		}
		return ids
	}
	check := func(name string, got []string, want ...*queue.Delivery) {
		t.Helper()
		w := []string{}
		for _, d := range want {
			w = append(w, d.ID)
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s: %v, want %v", name, got, w)
		}
	}
	check("due by now+90s", find(now.Add(90*time.Second), 10), a, b)
	check("limit 1", find(now.Add(time.Hour), 1), a)
	if err := ns.SetDeliveryStatus(ctx, a.ID, queue.StateDelivered, "delivered", "", now.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	check("after a's receipt", find(now.Add(90*time.Second), 10), b)
	if err := ns.RecheckUnconfirmed(ctx, []string{b.ID}, now.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	check("b put off", find(now.Add(5*time.Minute), 10), c)
	check("b due again, after c", find(now.Add(10*time.Minute), 10), c, b)
	if err := ns.RecheckUnconfirmed(ctx, []string{c.ID}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	// A recheck never brings back what a receipt settled, nor an unknown ID.
	if err := ns.RecheckUnconfirmed(ctx, []string{a.ID, "no-such-delivery"}, now); err != nil {
		t.Fatal(err)
	}
	check("c given up, a settled", find(now.Add(24*time.Hour*365), 10), b)
	if got := findDelivery(t, ns, c.ID); got.State != queue.StateSent {
		t.Errorf("a given-up delivery changed state: %s", got.State)
	}
	for i := range 3 {
		send(channel.SMS, fmt.Sprintf("+3620111100%d", 4+i), now.Add(time.Duration(i)*time.Second))
	}
	if got := find(now.Add(time.Hour), 2); len(got) != 2 {
		t.Errorf("limit 2 gave %d", len(got))
	}
}

// testFindDeliveriesUnlimited: a filter without a limit returns every
// match, however many (the surveys read every recipient of an incident).
func testFindDeliveriesUnlimited(t *testing.T, _ incident.Store, ns Pipeline) {
	ctx := context.Background()
	now := at(time.Hour)
	const n = 1234
	var ds []*queue.Delivery
	for i := range n {
		d := newDelivery(nil, channel.SMS, fmt.Sprintf("+3630%07d", i), fmt.Sprintf("u%d", i), now)
		d.IncidentID = "inc-many"
		ds = append(ds, d)
	}
	for start := 0; start < n; start += 500 {
		enqueue(t, ns, ds[start:min(start+500, n)]...)
	}
	got, err := ns.FindDeliveries(ctx, queue.DeliveryFilter{PageID: "pa", IncidentID: "inc-many"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Errorf("FindDeliveries without a limit: %d, want all %d", len(got), n)
	}
	if got, err := ns.FindDeliveries(ctx, queue.DeliveryFilter{PageID: "pa", IncidentID: "inc-many", Limit: 10}); err != nil || len(got) != 10 {
		t.Errorf("FindDeliveries with limit 10: %d, %v", len(got), err)
	}
}
