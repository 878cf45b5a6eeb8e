package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

func testEnqueueDeliveries(t *testing.T, _ incident.Store, ns Pipeline) {
	ctx := context.Background()
	now := at(time.Hour)
	d1 := newDelivery(nil, channel.SMS, "+36201000001", "s1", now)
	d2 := newDelivery(nil, channel.Email, "a@example.com", "s2", now)
	d2.Critical, d2.Vars, d2.Language, d2.TimeZone, d2.Name = true, map[string]string{"link": "https://x.test/c?t=1&u=ü"}, "", "", ""
	d3 := newDelivery(nil, channel.Webhook, "https://hooks.example.com/h", "s3", now.Add(time.Minute))
	d3.Vars = nil

	n, err := ns.EnqueueDeliveries(ctx, []*queue.Delivery{d1, d2, d3})
	if err != nil || n != 3 {
		t.Fatalf("EnqueueDeliveries = %d, %v; want 3", n, err)
	}
	for _, want := range []*queue.Delivery{d1, d2, d3} {
		equal(t, "delivery "+string(want.Kind), findDelivery(t, ns, want.ID), want)
	}
	dup := *d1
	dup.Address = "changed"
	d4 := newDelivery(nil, channel.SMS, "+36201000004", "s4", now)
	n, err = ns.EnqueueDeliveries(ctx, []*queue.Delivery{&dup, d2, d4})
	if err != nil || n != 1 {
		t.Fatalf("EnqueueDeliveries again = %d, %v; want 1", n, err)
	}
	equal(t, "d1 after a duplicate", findDelivery(t, ns, d1.ID), d1)
	if n, err := ns.EnqueueDeliveries(ctx, nil); err != nil || n != 0 {
		t.Errorf("EnqueueDeliveries(nil) = %d, %v", n, err)
	}
	_, err = ns.FindDeliveryByID(ctx, "nope")
	wantErr(t, "FindDeliveryByID", err, incident.ErrNotFound)
	if got := claim(t, ns, channel.SMS, now, time.Minute, 10); len(got) != 2 {
		t.Errorf("claimed %d enqueued sms deliveries, want 2", len(got))
	}
}

func testClaimDeliveries(t *testing.T, _ incident.Store, ns Pipeline) {
	const lease = time.Minute
	now := at(time.Hour)
	early := newDelivery(nil, channel.SMS, "+36201000001", "r1", now.Add(-time.Minute))
	onTime := newDelivery(nil, channel.SMS, "+36201000002", "r2", now)
	later := newDelivery(nil, channel.SMS, "+36201000003", "r3", now.Add(30*time.Second))
	mail := newDelivery(nil, channel.Email, "r4@example.com", "r4", now.Add(-time.Hour))
	enqueue(t, ns, later, onTime, mail, early)

	var first []*queue.Delivery
	t.Run("due only, of one kind", func(t *testing.T) {
		first = claim(t, ns, channel.SMS, now, lease, 10)
		equal(t, "claimed", deliveryIDs(first), sortedIDs(early.ID, onTime.ID))
		for _, d := range first {
			if d.State != queue.StateSending || d.Attempts != 1 || d.Lease == "" || d.Kind != channel.SMS {
				t.Errorf("claimed %s: state %s, attempts %d, lease %q; want sending, 1, a lease", d.ID, d.State, d.Attempts, d.Lease)
			}
			stored := findDelivery(t, ns, d.ID)
			if stored.State != queue.StateSending || stored.Attempts != 1 {
				t.Errorf("stored %s: state %s, attempts %d; want sending, 1", d.ID, stored.State, stored.Attempts)
			}
		}
		if d := findIn(first, early.ID); d.Address != early.Address || d.RecipientID != early.RecipientID || d.Name != early.Name || !reflectEqualVars(d.Vars, early.Vars) {
			t.Errorf("claimed delivery lost fields: %+v", d)
		}
	})

	t.Run("a live lease is not claimed again", func(t *testing.T) {
		if got := claim(t, ns, channel.SMS, now.Add(lease/2), lease, 10); len(got) != 1 || got[0].ID != later.ID {
			t.Fatalf("claimed %v; want only the delivery that became due (%s)", orderedIDs(got), later.ID)
		}
		if got := claim(t, ns, channel.SMS, now.Add(lease-time.Millisecond), lease, 10); len(got) != 0 {
			t.Fatalf("claimed %v inside every lease; want none", orderedIDs(got))
		}
	})

	t.Run("an expired lease is claimed again with a new lease", func(t *testing.T) {
		got := claim(t, ns, channel.SMS, now.Add(lease+time.Millisecond), lease, 10)
		equal(t, "re-claimed", deliveryIDs(got), sortedIDs(early.ID, onTime.ID))
		for _, d := range got {
			if d.Attempts != 2 || d.State != queue.StateSending || d.Lease == "" || d.Lease == first[0].Lease {
				t.Errorf("re-claimed %s: attempts %d, state %s, lease %q (old %q); want 2, sending, a new lease", d.ID, d.Attempts, d.State, d.Lease, first[0].Lease)
			}
		}
	})

	t.Run("limit", func(t *testing.T) {
		var ds []*queue.Delivery
		for i := range 5 {
			ds = append(ds, newDelivery(nil, channel.Slack, fmt.Sprintf("https://hooks.slack.test/%d", i), "r", now.Add(time.Duration(i)*time.Millisecond)))
		}
		enqueue(t, ns, ds...)
		var got []string
		for _, want := range []int{2, 2, 1, 0} {
			c := claim(t, ns, channel.Slack, now.Add(time.Second), lease, 2)
			if len(c) != want {
				t.Fatalf("claimed %d, want %d", len(c), want)
			}
			got = append(got, orderedIDs(c)...)
		}
		equal(t, "claim order", got, orderedIDs(ds))
	})

	t.Run("email untouched by sms claims", func(t *testing.T) {
		got := claim(t, ns, channel.Email, now, lease, 10)
		equal(t, "email", orderedIDs(got), []string{mail.ID})
	})
}

func testClaimDeliveriesConcurrently(t *testing.T, is incident.Store, ns Pipeline) {
	ctx := context.Background()
	const total, workers, batch = 2000, 8, 50
	now := at(time.Hour)
	b := broadcastFixture(t, is, "b1", base)
	p := claimPlan(t, ns, now, time.Hour)
	var ds []*queue.Delivery
	for i := range total {
		ds = append(ds, newDelivery(b, channel.SMS, fmt.Sprintf("+3620%07d", i), fmt.Sprintf("c%d", i), now.Add(-time.Duration(i%7)*time.Second)))
	}
	for i := 0; i < total; i += 500 {
		if _, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: ds[i : i+500], Cursor: fmt.Sprint(i)}, now, time.Hour); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := ns.ClaimDeliveries(ctx, channel.SMS, queue.LaneAll, now, time.Hour, batch)
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, d := range got {
					seen[d.ID]++
				}
				mu.Unlock()
				for _, d := range got {
					d.State, d.ProviderID = queue.StateSent, "SM"+d.ID
				}
				if err := ns.FinishDeliveries(ctx, got); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != total {
		t.Errorf("claimed %d distinct deliveries, want %d", len(seen), total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("delivery %s claimed %d times", id, n)
		}
	}
	equal(t, "counts", progress(t, ns, b.ID).Counts, counts{channel.SMS: {queue.StateSent: total}})
}

func testFinishDeliveries(t *testing.T, _ incident.Store, ns Pipeline) {
	ctx := context.Background()
	const lease = time.Minute
	now := at(time.Hour)
	d := newDelivery(nil, channel.SMS, "+36201000001", "r1", now)
	enqueue(t, ns, d)

	t.Run("retry later", func(t *testing.T) {
		c := claim(t, ns, channel.SMS, now, lease, 1)[0]
		c.State, c.NextAt, c.ErrorCode, c.Reason = queue.StatePending, now.Add(10*time.Second), "503", "provider unavailable"
		if err := ns.FinishDeliveries(ctx, []*queue.Delivery{c}); err != nil {
			t.Fatal(err)
		}
		got := findDelivery(t, ns, d.ID)
		if got.State != queue.StatePending || !got.NextAt.Equal(now.Add(10*time.Second)) || got.Attempts != 1 || got.ErrorCode != "503" {
			t.Fatalf("after a retry: %+v; want pending at +10s, 1 attempt, code 503", got)
		}
		if c := claim(t, ns, channel.SMS, now.Add(9*time.Second), lease, 1); len(c) != 0 {
			t.Fatal("claimed before its retry time")
		}
		if c := claim(t, ns, channel.SMS, now.Add(10*time.Second), lease, 1); len(c) != 1 || c[0].Attempts != 2 {
			t.Fatalf("claim at the retry time = %+v; want it with 2 attempts", c)
		}
	})

	t.Run("a lost lease is skipped", func(t *testing.T) {
		// The lease from the retry claim expires; another worker takes it.
		t1 := now.Add(10*time.Second + lease + time.Millisecond)
		mine := findDelivery(t, ns, d.ID)
		theirs := claim(t, ns, channel.SMS, t1, lease, 1)
		if len(theirs) != 1 {
			t.Fatal("expired lease not re-claimed")
		}
		stale := *theirs[0]
		stale.Lease = "stale-" + stale.Lease
		stale.State, stale.Reason = queue.StateFailed, "from the dead worker"
		if mine.State != queue.StateSending {
			t.Fatalf("state before the re-claim = %s, want sending", mine.State)
		}
		if err := ns.FinishDeliveries(ctx, []*queue.Delivery{&stale}); err != nil {
			t.Fatalf("FinishDeliveries with a lost lease = %v, want nil (skipped)", err)
		}
		if got := findDelivery(t, ns, d.ID); got.State != queue.StateSending {
			t.Fatalf("state = %s after a stale finish, want still sending", got.State)
		}
		ok := *theirs[0]
		ok.State, ok.ProviderID, ok.SentAt = queue.StateSent, "SM1", ptr(t1)
		if err := ns.FinishDeliveries(ctx, []*queue.Delivery{&ok}); err != nil {
			t.Fatal(err)
		}
		got := findDelivery(t, ns, d.ID)
		if got.State != queue.StateSent || got.ProviderID != "SM1" || got.SentAt == nil || !got.SentAt.Equal(t1) || got.Attempts != 3 {
			t.Fatalf("after finishing: %+v; want sent, SM1, SentAt %v, 3 attempts", got, t1)
		}
		// Finishing again (the lease is spent) changes nothing.
		again := ok
		again.State = queue.StateFailed
		if err := ns.FinishDeliveries(ctx, []*queue.Delivery{&again}); err != nil {
			t.Fatal(err)
		}
		if got := findDelivery(t, ns, d.ID); got.State != queue.StateSent {
			t.Fatalf("state = %s after a second finish, want sent", got.State)
		}
	})

	t.Run("a lost and the live lease of one delivery in one batch: the live one counts", func(t *testing.T) {
		// One dispatcher can hold both: its first claim waited past the
		// lease, the delivery was claimed again, and both outcomes meet in
		// one batched finish. The live one must be written, or a message
		// already sent stays "sending" and goes out again.
		e := newDelivery(nil, channel.SMS, "+36201000002", "r2", now)
		enqueue(t, ns, e)
		t0 := now.Add(time.Hour)
		first := claim(t, ns, channel.SMS, t0, lease, 1)
		second := claim(t, ns, channel.SMS, t0.Add(lease+time.Millisecond), lease, 1)
		if len(first) != 1 || len(second) != 1 || first[0].ID != e.ID || second[0].ID != e.ID || first[0].Lease == second[0].Lease {
			t.Fatalf("claims = %+v, %+v; want the same delivery under two leases", first, second)
		}
		lost, live := first[0], second[0]
		lost.State, lost.NextAt, lost.Deferred = queue.StatePending, t0, true
		live.State, live.ProviderID, live.SentAt = queue.StateSent, "SM2", ptr(t0)
		if err := ns.FinishDeliveries(ctx, []*queue.Delivery{lost, live}); err != nil {
			t.Fatal(err)
		}
		if got := findDelivery(t, ns, e.ID); got.State != queue.StateSent || got.ProviderID != "SM2" || got.Attempts != 2 {
			t.Fatalf("after both finishes: state %s, provider ID %q, %d attempts; want sent, SM2, 2", got.State, got.ProviderID, got.Attempts)
		}
	})

	t.Run("a deferral is no attempt", func(t *testing.T) {
		// Far more deferrals than any MaxAttempts: quiet hours every night.
		q := newDelivery(nil, channel.SMS, "+36201000099", "r9", now)
		enqueue(t, ns, q)
		when := now
		for i := range 40 {
			c := claim(t, ns, channel.SMS, when, lease, 10)
			if len(c) != 1 || c[0].ID != q.ID {
				t.Fatalf("claim %d = %v, want %s", i, orderedIDs(c), q.ID)
			}
			if c[0].Attempts != 1 {
				t.Fatalf("claim %d: attempts %d, want 1 (every earlier claim was deferred)", i, c[0].Attempts)
			}
			when = when.Add(time.Hour)
			c[0].State, c[0].NextAt, c[0].Reason, c[0].Deferred = queue.StatePending, when, "quiet hours", true
			if err := ns.FinishDeliveries(ctx, c); err != nil {
				t.Fatal(err)
			}
			if got := findDelivery(t, ns, q.ID); got.Attempts != 0 || got.State != queue.StatePending || !got.NextAt.Equal(when) {
				t.Fatalf("after deferral %d: state %s, attempts %d, next %v; want pending, 0, %v", i, got.State, got.Attempts, got.NextAt, when)
			}
		}
		// A retry (not deferred) counts, and the next deferral leaves it be.
		c := claim(t, ns, channel.SMS, when, lease, 10)
		if len(c) != 1 || c[0].Attempts != 1 {
			t.Fatalf("claim after the deferrals = %+v, want it with 1 attempt", c)
		}
		when = when.Add(time.Minute)
		c[0].State, c[0].NextAt, c[0].ErrorCode = queue.StatePending, when, "503"
		if err := ns.FinishDeliveries(ctx, c); err != nil {
			t.Fatal(err)
		}
		if got := findDelivery(t, ns, q.ID); got.Attempts != 1 {
			t.Fatalf("after a retry: attempts %d, want 1", got.Attempts)
		}
		c = claim(t, ns, channel.SMS, when, lease, 10)
		if len(c) != 1 || c[0].Attempts != 2 {
			t.Fatalf("claim after the retry = %+v, want it with 2 attempts", c)
		}
		when = when.Add(time.Hour)
		c[0].State, c[0].NextAt, c[0].Deferred = queue.StatePending, when, true
		if err := ns.FinishDeliveries(ctx, c); err != nil {
			t.Fatal(err)
		}
		if got := findDelivery(t, ns, q.ID); got.Attempts != 1 {
			t.Fatalf("after a deferral following a retry: attempts %d, want 1", got.Attempts)
		}
		// A stale deferral (its lease lost) takes nothing back either.
		c = claim(t, ns, channel.SMS, when, lease, 10)
		stale := *c[0]
		stale.Lease, stale.State, stale.Deferred = "stale-"+stale.Lease, queue.StatePending, true
		if err := ns.FinishDeliveries(ctx, []*queue.Delivery{&stale}); err != nil {
			t.Fatal(err)
		}
		if got := findDelivery(t, ns, q.ID); got.Attempts != 2 || got.State != queue.StateSending {
			t.Fatalf("after a stale deferral: state %s, attempts %d; want sending, 2", got.State, got.Attempts)
		}
	})

	t.Run("provider ID lookup", func(t *testing.T) {
		got, err := ns.FindDeliveryByProviderID(ctx, "SM1")
		if err != nil || got.ID != d.ID {
			t.Fatalf("FindDeliveryByProviderID = %+v, %v; want %s", got, err, d.ID)
		}
		for _, id := range []string{"SM-unknown", ""} {
			_, err := ns.FindDeliveryByProviderID(ctx, id)
			wantErr(t, fmt.Sprintf("FindDeliveryByProviderID(%q)", id), err, incident.ErrNotFound)
		}
	})

	t.Run("empty", func(t *testing.T) {
		if err := ns.FinishDeliveries(ctx, nil); err != nil {
			t.Fatal(err)
		}
	})
}

func testFindDeliveries(t *testing.T, is incident.Store, ns Pipeline) {
	ctx := context.Background()
	now := at(time.Hour)
	b1 := broadcastFixture(t, is, "b1", base)
	b2 := broadcastFixture(t, is, "b2", at(time.Minute))
	mk := func(b *incident.Broadcast, kind channel.Kind, addr, rid string, created time.Duration) *queue.Delivery {
		d := newDelivery(b, kind, addr, rid, now)
		d.CreatedAt, d.UpdatedAt = now.Add(created), now.Add(created)
		return d
	}
	d1 := mk(b1, channel.SMS, "+36201", "c1", 1*time.Second)
	d1.NextAt = now.Add(-time.Second) // due first, so the claim below takes it
	d2 := mk(b1, channel.Email, "c1@example.com", "c1", 2*time.Second)
	d3 := mk(b1, channel.SMS, "+36202", "c2", 3*time.Second)
	d4 := mk(b2, channel.SMS, "+36201", "c1", 4*time.Second)
	d5 := mk(nil, channel.Email, "s9@example.com", "s9", 5*time.Second)
	d5.PageID = "pb"
	for _, b := range []*incident.Broadcast{b1, b2} {
		p := claimPlan(t, ns, now, time.Minute)
		var ds []*queue.Delivery
		for _, d := range []*queue.Delivery{d1, d2, d3, d4} {
			if d.BroadcastID == p.Broadcast.ID {
				ds = append(ds, d)
			}
		}
		if _, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: ds, Done: true}, now, time.Minute); err != nil {
			t.Fatalf("SavePlanBatch(%s): %v", b.ID, err)
		}
	}
	enqueue(t, ns, d5)
	c := claim(t, ns, channel.SMS, now, time.Minute, 1)
	if len(c) != 1 || c[0].ID != d1.ID {
		t.Fatalf("claimed %v, want d1 (due first)", orderedIDs(c))
	}
	c[0].State, c[0].Reason = queue.StateFailed, "invalid"
	if err := ns.FinishDeliveries(ctx, c); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		f    queue.DeliveryFilter
		want []*queue.Delivery
	}{
		{"all, newest first", queue.DeliveryFilter{}, []*queue.Delivery{d5, d4, d3, d2, d1}},
		{"page", queue.DeliveryFilter{PageID: "pa"}, []*queue.Delivery{d4, d3, d2, d1}},
		{"broadcast", queue.DeliveryFilter{BroadcastID: "b1"}, []*queue.Delivery{d3, d2, d1}},
		{"incident", queue.DeliveryFilter{IncidentID: b2.IncidentID}, []*queue.Delivery{d4}},
		{"recipient", queue.DeliveryFilter{RecipientID: "c1"}, []*queue.Delivery{d4, d2, d1}},
		{"kind and address", queue.DeliveryFilter{Kind: channel.SMS, Address: "+36201"}, []*queue.Delivery{d4, d1}},
		{"states", queue.DeliveryFilter{States: []queue.DeliveryState{queue.StateFailed, queue.StateSent}}, []*queue.Delivery{d1}},
		{"pending sms", queue.DeliveryFilter{Kind: channel.SMS, States: []queue.DeliveryState{queue.StatePending}}, []*queue.Delivery{d4, d3}},
		{"since", queue.DeliveryFilter{Since: now.Add(3 * time.Second)}, []*queue.Delivery{d5, d4, d3}},
		{"limit", queue.DeliveryFilter{Limit: 2}, []*queue.Delivery{d5, d4}},
		{"nothing", queue.DeliveryFilter{BroadcastID: "nope"}, []*queue.Delivery{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ns.FindDeliveries(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			equal(t, "IDs", orderedIDs(got), orderedIDs(tt.want))
		})
	}
}
