package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

func testPlanPerBroadcast(t *testing.T, is incident.Store, ns Pipeline) {
	ctx := context.Background()
	b1 := broadcastFixture(t, is, "b1", at(time.Minute))
	b2 := broadcastFixture(t, is, "b2", at(2*time.Minute))

	t.Run("a committed broadcast has a pending plan", func(t *testing.T) {
		for _, b := range []*incident.Broadcast{b1, b2} {
			p, err := ns.FindPlan(ctx, b.ID)
			if err != nil {
				t.Fatalf("FindPlan(%s): %v", b.ID, err)
			}
			equal(t, "plan", p, &queue.Plan{Broadcast: b, State: queue.PlanPending})
		}
	})

	t.Run("FindPlans oldest first", func(t *testing.T) {
		b0 := &incident.Broadcast{ID: "b0", PageID: "pa", IncidentID: "inc-b1", UpdateID: "u0", Kind: incident.BroadcastUpdated, CreatedAt: base}
		b3 := &incident.Broadcast{ID: "b3", PageID: "pa", IncidentID: "inc-b1", UpdateID: "u3", Kind: incident.BroadcastResolved, CreatedAt: at(time.Hour)}
		commit(t, is, &incident.Change{Broadcasts: []*incident.Broadcast{b3, b0}})
		ps, err := ns.FindPlans(ctx, "inc-b1")
		if err != nil {
			t.Fatal(err)
		}
		got := []string{}
		for _, p := range ps {
			got = append(got, p.Broadcast.ID)
		}
		equal(t, "plans of inc-b1", got, []string{"b0", "b1", "b3"})
		ps, err = ns.FindPlans(ctx, "no-such-incident")
		if err != nil || len(ps) != 0 {
			t.Errorf("FindPlans(unknown) = %v, %v; want empty, nil", ps, err)
		}
	})

	t.Run("a refused commit leaves no plan", func(t *testing.T) {
		stale := newIncident("inc-b1", "pa", incident.Identified, base) // version 1 again: ECONFLICT
		bx := &incident.Broadcast{ID: "bx", PageID: "pa", IncidentID: "inc-b1", UpdateID: "ux", Kind: incident.BroadcastUpdated, CreatedAt: base}
		err := is.Commit(ctx, &incident.Change{Incidents: []*incident.Incident{stale}, Broadcasts: []*incident.Broadcast{bx}})
		wantErr(t, "Commit", err, incident.ErrConflict)
		_, err = ns.FindPlan(ctx, "bx")
		wantErr(t, "FindPlan after a refused commit", err, incident.ErrNotFound)
	})

	t.Run("missing", func(t *testing.T) {
		_, err := ns.FindPlan(ctx, "nope")
		wantErr(t, "FindPlan", err, incident.ErrNotFound)
		_, err = ns.Progress(ctx, "nope")
		wantErr(t, "Progress", err, incident.ErrNotFound)
		wantErr(t, "CancelPlan", ns.CancelPlan(ctx, "nope", base), incident.ErrNotFound)
	})
}

func testClaimPlan(t *testing.T, is incident.Store, ns Pipeline) {
	ctx := context.Background()
	const lease = time.Minute
	now := at(time.Hour)

	t.Run("nothing to plan", func(t *testing.T) {
		if p, err := ns.ClaimPlan(ctx, now, lease); err != nil || p != nil {
			t.Fatalf("ClaimPlan on an empty store = %+v, %v; want nil, nil", p, err)
		}
	})

	b1 := broadcastFixture(t, is, "b1", at(time.Minute))
	var first *queue.Plan
	t.Run("lease", func(t *testing.T) {
		first = claimPlan(t, ns, now, lease)
		if first.Broadcast == nil || first.Broadcast.ID != b1.ID || first.State != queue.PlanPending || first.Lease == "" {
			t.Fatalf("ClaimPlan = %+v; want b1, pending, with a lease", first)
		}
		equal(t, "claimed plan's broadcast", first.Broadcast, b1)
		for _, d := range []time.Duration{0, lease / 2, lease - time.Millisecond} {
			if p, err := ns.ClaimPlan(ctx, now.Add(d), lease); err != nil || p != nil {
				t.Fatalf("ClaimPlan %v into the lease = %+v, %v; want nil", d, p, err)
			}
		}
		again := claimPlan(t, ns, now.Add(lease+time.Millisecond), lease)
		if again.Broadcast.ID != b1.ID || again.Lease == first.Lease {
			t.Fatalf("ClaimPlan after expiry = %+v; want b1 with a new lease (old %q)", again, first.Lease)
		}
		if p, err := ns.ClaimPlan(ctx, now.Add(lease+time.Second), lease); err != nil || p != nil {
			t.Fatalf("ClaimPlan after the re-claim = %+v, %v; want nil", p, err)
		}
		// The first holder lost its lease: its batch is refused.
		_, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: first, Cursor: "x"}, now.Add(lease+2*time.Second), lease)
		wantErr(t, "SavePlanBatch with a lost lease", err, incident.ErrConflict)
	})

	t.Run("two plans, two claimants", func(t *testing.T) {
		broadcastFixture(t, is, "b2", at(2*time.Minute))
		broadcastFixture(t, is, "b3", at(3*time.Minute))
		later := now.Add(time.Hour) // b1's lease has expired too
		seen := map[string]bool{}
		for range 3 {
			p := claimPlan(t, ns, later, lease)
			if seen[p.Broadcast.ID] {
				t.Fatalf("plan %s claimed twice within its lease", p.Broadcast.ID)
			}
			seen[p.Broadcast.ID] = true
		}
		if p, err := ns.ClaimPlan(ctx, later, lease); err != nil || p != nil {
			t.Fatalf("ClaimPlan with every plan leased = %+v, %v; want nil", p, err)
		}
	})
}

func testSavePlanBatch(t *testing.T, is incident.Store, ns Pipeline) {
	ctx := context.Background()
	const lease = time.Minute
	now := at(time.Hour)
	b := broadcastFixture(t, is, "b1", base)
	p := claimPlan(t, ns, now, lease)
	d1 := newDelivery(b, channel.SMS, "+36201000001", "c1", now)
	d2 := newDelivery(b, channel.SMS, "+36201000002", "c2", now)
	d3 := newDelivery(b, channel.Email, "c3@example.com", "c3", now)
	d4 := newDelivery(b, channel.Email, "c4@example.com", "c4", now)

	t.Run("stale lease writes nothing", func(t *testing.T) {
		stale := *p
		stale.Lease = "not-the-lease"
		_, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: &stale, Deliveries: []*queue.Delivery{d1}, Cursor: "c1"}, now, lease)
		wantErr(t, "SavePlanBatch", err, incident.ErrConflict)
		_, err = ns.FindDeliveryByID(ctx, d1.ID)
		wantErr(t, "FindDeliveryByID after a refused batch", err, incident.ErrNotFound)
		got, err := ns.FindPlan(ctx, b.ID)
		if err != nil || got.Cursor != "" || got.Planned != 0 {
			t.Fatalf("FindPlan = %+v, %v; want cursor \"\" and nothing planned", got, err)
		}
	})

	t.Run("first batch", func(t *testing.T) {
		n, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: []*queue.Delivery{d1, d2, d3}, Cursor: "after-c3"}, now, lease)
		if err != nil || n != 3 {
			t.Fatalf("SavePlanBatch = %d, %v; want 3 new", n, err)
		}
		got, err := ns.FindPlan(ctx, b.ID)
		if err != nil || got.Cursor != "after-c3" || got.Planned != 3 || got.State != queue.PlanPending {
			t.Fatalf("FindPlan = %+v, %v; want cursor after-c3, 3 planned, pending", got, err)
		}
		equal(t, "delivery d1", findDelivery(t, ns, d1.ID), d1)
	})

	t.Run("the lease is renewed", func(t *testing.T) {
		later := now.Add(lease - time.Second)
		if _, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Cursor: "after-c3"}, later, lease); err != nil {
			t.Fatal(err)
		}
		if q, err := ns.ClaimPlan(ctx, now.Add(lease+time.Second), lease); err != nil || q != nil {
			t.Fatalf("ClaimPlan after a renewal = %+v, %v; want nil (renewed until %v)", q, err, later.Add(lease))
		}
	})

	t.Run("known IDs are skipped", func(t *testing.T) {
		dup := *d1
		dup.Name = "changed" // a re-planned duplicate must not overwrite
		n, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: []*queue.Delivery{&dup, d2, d4}, Cursor: "after-c4"}, now.Add(lease), lease)
		if err != nil || n != 1 {
			t.Fatalf("SavePlanBatch = %d, %v; want 1 new", n, err)
		}
		equal(t, "delivery d1 after a duplicate", findDelivery(t, ns, d1.ID), d1)
		got, _ := ns.FindPlan(ctx, b.ID)
		if got.Cursor != "after-c4" || got.Planned != 4 {
			t.Fatalf("FindPlan = %+v; want cursor after-c4, 4 planned", got)
		}
		equal(t, "counts", progress(t, ns, b.ID).Counts, counts{channel.SMS: {queue.StatePending: 2}, channel.Email: {queue.StatePending: 2}})
	})

	t.Run("done", func(t *testing.T) {
		n, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Cursor: "end", Done: true}, now.Add(lease), lease)
		if err != nil || n != 0 {
			t.Fatalf("SavePlanBatch(done) = %d, %v", n, err)
		}
		got, _ := ns.FindPlan(ctx, b.ID)
		if got.State != queue.PlanDone || got.Cursor != "end" || got.Planned != 4 {
			t.Fatalf("FindPlan = %+v; want done at cursor end with 4 planned", got)
		}
		if q, err := ns.ClaimPlan(ctx, now.Add(24*time.Hour), lease); err != nil || q != nil {
			t.Fatalf("ClaimPlan after done = %+v, %v; want nil", q, err)
		}
		_, err = ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: []*queue.Delivery{newDelivery(b, channel.SMS, "+3620999", "c9", now)}}, now.Add(lease), lease)
		wantErr(t, "SavePlanBatch after done", err, incident.ErrConflict)
	})

	t.Run("a delivery of another broadcast is refused", func(t *testing.T) {
		b2 := broadcastFixture(t, is, "b2", at(time.Minute))
		p2 := claimPlan(t, ns, now, lease)
		if p2.Broadcast.ID != b2.ID {
			t.Fatalf("claimed %s, want b2", p2.Broadcast.ID)
		}
		stray := newDelivery(b, channel.SMS, "+36201000077", "c7", now) // of b1
		_, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p2, Deliveries: []*queue.Delivery{stray}}, now, lease)
		wantErr(t, "SavePlanBatch with another broadcast's delivery", err, incident.ErrInvalid)
	})
}

func testCancelPlanAndProgress(t *testing.T, is incident.Store, ns Pipeline) {
	ctx := context.Background()
	const lease = time.Minute
	now := at(time.Hour)
	b := broadcastFixture(t, is, "b1", base)
	p := claimPlan(t, ns, now, lease)
	sms := []*queue.Delivery{
		newDelivery(b, channel.SMS, "+36201000001", "c1", now),
		newDelivery(b, channel.SMS, "+36201000002", "c2", now),
		newDelivery(b, channel.SMS, "+36201000003", "c3", now),
	}
	mails := []*queue.Delivery{
		newDelivery(b, channel.Email, "c1@example.com", "c1", now),
		newDelivery(b, channel.Email, "c2@example.com", "c2", now),
	}
	stopped := newDelivery(b, channel.Email, "c3@example.com", "c3", now)
	stopped.State, stopped.Reason = queue.StateSuppressed, "unsubscribe"
	all := append(append(append([]*queue.Delivery{}, sms...), mails...), stopped)
	if n, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: all, Cursor: "x"}, now, lease); err != nil || n != 6 {
		t.Fatalf("SavePlanBatch = %d, %v; want 6", n, err)
	}

	t.Run("after planning", func(t *testing.T) {
		got := progress(t, ns, b.ID)
		want := &queue.Progress{BroadcastID: b.ID, IncidentID: b.IncidentID, Kind: b.Kind, State: queue.PlanPending, Planned: 6,
			Counts:    counts{channel.SMS: {queue.StatePending: 3}, channel.Email: {queue.StatePending: 2, queue.StateSuppressed: 1}},
			Reasons:   map[channel.Kind]map[string]int{channel.Email: {"unsubscribe": 1}},
			CreatedAt: got.CreatedAt, UpdatedAt: got.UpdatedAt}
		equal(t, "progress", got, want)
		if !got.CreatedAt.Equal(b.CreatedAt) {
			t.Errorf("CreatedAt = %v, want the broadcast's %v", got.CreatedAt, b.CreatedAt)
		}
	})

	t.Run("after claims, finishes and receipts", func(t *testing.T) {
		claimed := claim(t, ns, channel.SMS, now, lease, 2)
		if len(claimed) != 2 {
			t.Fatalf("claimed %d, want 2", len(claimed))
		}
		equal(t, "counts while sending", progress(t, ns, b.ID).Counts,
			counts{channel.SMS: {queue.StatePending: 1, queue.StateSending: 2}, channel.Email: {queue.StatePending: 2, queue.StateSuppressed: 1}})
		ok, bad := *claimed[0], *claimed[1]
		ok.State, ok.ProviderID, ok.SentAt = queue.StateSent, "SM-ok", ptr(now)
		bad.State, bad.ErrorCode, bad.Reason = queue.StateFailed, "21211", "invalid number"
		if err := ns.FinishDeliveries(ctx, []*queue.Delivery{&ok, &bad}); err != nil {
			t.Fatal(err)
		}
		got := progress(t, ns, b.ID)
		equal(t, "counts after finishing", got.Counts,
			counts{channel.SMS: {queue.StatePending: 1, queue.StateSent: 1, queue.StateFailed: 1}, channel.Email: {queue.StatePending: 2, queue.StateSuppressed: 1}})
		equal(t, "reasons after finishing", got.Reasons, map[channel.Kind]map[string]int{channel.Email: {"unsubscribe": 1}, channel.SMS: {"invalid number": 1}})
		if err := ns.SetDeliveryStatus(ctx, ok.ID, queue.StateDelivered, "delivered", "", now.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		equal(t, "counts after a receipt", progress(t, ns, b.ID).Counts,
			counts{channel.SMS: {queue.StatePending: 1, queue.StateDelivered: 1, queue.StateFailed: 1}, channel.Email: {queue.StatePending: 2, queue.StateSuppressed: 1}})
	})

	t.Run("cancel", func(t *testing.T) {
		if err := ns.CancelPlan(ctx, b.ID, now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		got := progress(t, ns, b.ID)
		if got.State != queue.PlanCancelled {
			t.Errorf("plan state = %s, want cancelled", got.State)
		}
		equal(t, "counts after cancel", got.Counts,
			counts{channel.SMS: {queue.StateCancelled: 1, queue.StateDelivered: 1, queue.StateFailed: 1}, channel.Email: {queue.StateCancelled: 2, queue.StateSuppressed: 1}})
		if d := findDelivery(t, ns, mails[0].ID); d.State != queue.StateCancelled {
			t.Errorf("pending email delivery = %s after cancel, want cancelled", d.State)
		}
		if d := findDelivery(t, ns, stopped.ID); d.State != queue.StateSuppressed {
			t.Errorf("suppressed delivery = %s after cancel, want it left suppressed", d.State)
		}
		for _, k := range []channel.Kind{channel.SMS, channel.Email} {
			if ds := claim(t, ns, k, now.Add(time.Hour), lease, 10); len(ds) != 0 {
				t.Errorf("claimed %d %s deliveries of a cancelled plan", len(ds), k)
			}
		}
		_, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Cursor: "y"}, now, lease)
		wantErr(t, "SavePlanBatch after cancel", err, incident.ErrConflict)
		if q, err := ns.ClaimPlan(ctx, now.Add(time.Hour), lease); err != nil || q != nil {
			t.Errorf("ClaimPlan after cancel = %+v, %v; want nil", q, err)
		}
		if err := ns.CancelPlan(ctx, b.ID, now.Add(2*time.Minute)); err != nil {
			t.Errorf("CancelPlan again = %v, want nil", err)
		}
		equal(t, "counts after a second cancel", progress(t, ns, b.ID).Counts, got.Counts)
	})
}

// testLargePlan plans more deliveries than one batch of a few keeps (an
// engine may store a plan's waiting deliveries apart from claimed ones, as
// SQLite packs them in chunks) and checks that every read sees a planned
// delivery the same before and after its claim, that a planner taking over
// a plan skips what is stored, and that cancelling reaches the deliveries
// not yet claimed.
func testLargePlan(t *testing.T, is incident.Store, ns Pipeline) {
	ctx := context.Background()
	const lease = time.Minute
	now := at(time.Hour)
	b := broadcastFixture(t, is, "b1", base)
	p := claimPlan(t, ns, now, lease)
	// Batch A: 300 customers, SMS then email each, due now. Batch B: 50
	// more, created and due a second later.
	mk := func(i int, kind channel.Kind, created, next time.Time) *queue.Delivery {
		addr := fmt.Sprintf("+3620%07d", i)
		if kind == channel.Email {
			addr = fmt.Sprintf("c%04d@example.com", i)
		}
		d := newDelivery(b, kind, addr, fmt.Sprintf("c%04d", i), next)
		d.Name, d.Language = fmt.Sprintf("Customer %d", i), []string{"en", "hu", "pl", "hr"}[i%4]
		d.CreatedAt, d.UpdatedAt = created, created
		return d
	}
	var batchA, batchB, smsA, mailA, smsB []*queue.Delivery
	for i := range 300 {
		s, m := mk(i, channel.SMS, now, now), mk(i, channel.Email, now, now)
		batchA, smsA, mailA = append(batchA, s, m), append(smsA, s), append(mailA, m)
	}
	for i := 300; i < 350; i++ {
		s, m := mk(i, channel.SMS, now.Add(time.Second), now.Add(time.Second)), mk(i, channel.Email, now.Add(time.Second), now.Add(time.Second))
		batchB, smsB = append(batchB, s, m), append(smsB, s)
	}
	save := func(p *queue.Plan, ds []*queue.Delivery, when time.Time) int {
		t.Helper()
		n, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: ds, Cursor: "x"}, when, lease)
		if err != nil {
			t.Fatalf("SavePlanBatch: %v", err)
		}
		return n
	}
	if n := save(p, batchA, now) + save(p, batchB, now); n != 700 {
		t.Fatalf("planned %d, want 700", n)
	}
	recipient := func(when string, want ...*queue.Delivery) {
		t.Helper()
		got, err := ns.FindDeliveries(ctx, queue.DeliveryFilter{PageID: "pa", RecipientID: "c0123"})
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "deliveries of c0123 "+when, deliveryIDs(got), deliveryIDs(want))
	}

	t.Run("reads before any claim", func(t *testing.T) {
		equal(t, "a planned delivery", findDelivery(t, ns, batchA[437].ID), batchA[437])
		got, err := ns.FindDeliveries(ctx, queue.DeliveryFilter{BroadcastID: b.ID, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "the newest 100 (batch B)", deliveryIDs(got), deliveryIDs(batchB))
		recipient("before claims", smsA[123], mailA[123])
		got, err = ns.FindDeliveries(ctx, queue.DeliveryFilter{Kind: channel.Email, Address: mailA[7].Address})
		if err != nil || len(got) != 1 {
			t.Fatalf("by kind and address = %d, %v; want 1", len(got), err)
		}
		equal(t, "by kind and address", got[0], mailA[7])
	})

	var claimed []*queue.Delivery
	t.Run("claims take the due ones, oldest first, each once", func(t *testing.T) {
		for _, want := range []int{200, 100, 0} {
			c := claim(t, ns, channel.SMS, now, lease, 200)
			if len(c) != want {
				t.Fatalf("claimed %d, want %d", len(c), want)
			}
			claimed = append(claimed, c...)
		}
		equal(t, "claimed at now", deliveryIDs(claimed), deliveryIDs(smsA))
		for _, d := range claimed {
			if d.State != queue.StateSending || d.Attempts != 1 || d.Lease == "" {
				t.Fatalf("claimed %s: %s, attempt %d, lease %q", d.ID, d.State, d.Attempts, d.Lease)
			}
		}
		c := findIn(claimed, smsA[42].ID)
		if c.Name != smsA[42].Name || c.Language != smsA[42].Language || c.RecipientID != smsA[42].RecipientID || !c.NextAt.Equal(now) {
			t.Errorf("claimed delivery lost fields: %+v", c)
		}
		later := claim(t, ns, channel.SMS, now.Add(time.Second), lease, 500)
		equal(t, "claimed a second later", deliveryIDs(later), deliveryIDs(smsB))
		claimed = append(claimed, later...)
		equal(t, "counts", progress(t, ns, b.ID).Counts, counts{channel.SMS: {queue.StateSending: 350}, channel.Email: {queue.StatePending: 350}})
		recipient("with the SMS claimed", smsA[123], mailA[123])
		if d := findDelivery(t, ns, smsA[123].ID); d.State != queue.StateSending {
			t.Errorf("claimed delivery reads as %s", d.State)
		}
	})

	t.Run("a repeated batch is skipped, claimed or not", func(t *testing.T) {
		if n := save(p, batchA, now); n != 0 {
			t.Fatalf("saved %d of batch A again, want 0", n)
		}
	})

	t.Run("a planner taking over skips what is stored", func(t *testing.T) {
		p2 := claimPlan(t, ns, now.Add(2*lease), lease)
		extra := mk(999, channel.Email, now, now)
		if n := save(p2, append(append(append([]*queue.Delivery{}, batchB...), batchA...), extra), now.Add(2*lease)); n != 1 {
			t.Fatalf("the new planner saved %d, want only the one new delivery", n)
		}
		p = p2
	})

	t.Run("an enqueued copy of a waiting delivery is skipped", func(t *testing.T) {
		dup := *mailA[5]
		if n, err := ns.EnqueueDeliveries(ctx, []*queue.Delivery{&dup}); err != nil || n != 0 {
			t.Fatalf("EnqueueDeliveries = %d, %v; want 0", n, err)
		}
	})

	t.Run("cancel reaches the waiting ones", func(t *testing.T) {
		done := make([]*queue.Delivery, 0, 10)
		for _, d := range claimed[:10] {
			f := *d
			f.State, f.ProviderID, f.SentAt = queue.StateSent, "SM"+d.ID, ptr(now)
			done = append(done, &f)
		}
		if err := ns.FinishDeliveries(ctx, done); err != nil {
			t.Fatal(err)
		}
		if err := ns.CancelPlan(ctx, b.ID, now.Add(3*lease)); err != nil {
			t.Fatal(err)
		}
		equal(t, "counts", progress(t, ns, b.ID).Counts,
			counts{channel.SMS: {queue.StateSending: 340, queue.StateSent: 10}, channel.Email: {queue.StateCancelled: 351}})
		if got := claim(t, ns, channel.Email, now.Add(time.Hour), lease, 1000); len(got) != 0 {
			t.Errorf("claimed %d email deliveries of a cancelled plan", len(got))
		}
		d := findDelivery(t, ns, mailA[250].ID)
		if d.State != queue.StateCancelled || !d.UpdatedAt.Equal(now.Add(3*lease)) {
			t.Errorf("waiting delivery after cancel: %s at %v; want cancelled at %v", d.State, d.UpdatedAt, now.Add(3*lease))
		}
		got, err := ns.FindDeliveries(ctx, queue.DeliveryFilter{BroadcastID: b.ID, States: []queue.DeliveryState{queue.StateCancelled}})
		if err != nil || len(got) != 351 {
			t.Fatalf("cancelled deliveries = %d, %v; want 351", len(got), err)
		}
		got, err = ns.FindDeliveries(ctx, queue.DeliveryFilter{BroadcastID: b.ID, States: []queue.DeliveryState{queue.StateSent}})
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "sent", deliveryIDs(got), deliveryIDs(done))
	})
}
