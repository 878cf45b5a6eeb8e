package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/ratelimit"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// declare commits a page, an incident and one broadcast, as the Service
// does, and returns the broadcast.
func declare(t *testing.T, db *DB, pageID, incID, bid string) *incident.Broadcast {
	t.Helper()
	b := &incident.Broadcast{ID: bid, PageID: pageID, IncidentID: incID, UpdateID: incID + "-u1", Kind: incident.BroadcastDeclared, CreatedAt: t0}
	err := db.Commit(context.Background(), &incident.Change{Pages: []*incident.Page{page(pageID, t0)},
		Incidents: []*incident.Incident{newIncident(incID, pageID, t0)}, Broadcasts: []*incident.Broadcast{b}})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return b
}

// declarePlan declares broadcast b1 of incident i1 on page p1 and claims
// its plan, as a planner does.
func declarePlan(t *testing.T, db *DB) (*incident.Broadcast, *queue.Plan) {
	t.Helper()
	b := declare(t, db, "p1", "i1", "b1")
	p, err := db.ClaimPlan(context.Background(), t0, time.Minute)
	if err != nil || p == nil || p.Broadcast.ID != b.ID {
		t.Fatalf("ClaimPlan = %+v, %v", p, err)
	}
	return b, p
}

func delivery(b *incident.Broadcast, kind channel.Kind, address string, next time.Time) *queue.Delivery {
	return &queue.Delivery{ID: queue.DeliveryID(b.UpdateID, kind, address), PageID: b.PageID, IncidentID: b.IncidentID,
		UpdateID: b.UpdateID, BroadcastID: b.ID, Kind: kind, Address: address, RecipientType: queue.FromCustomer,
		RecipientID: "c-" + address, Language: "en", State: queue.StatePending, NextAt: next, CreatedAt: t0, UpdatedAt: t0}
}

// TestPlanLifecycle: the commit script creates the plan; ClaimPlan leases
// it to one planner; the lease fences SavePlanBatch; Done ends it.
func TestPlanLifecycle(t *testing.T) {
	ctx := context.Background()
	inBothModes(t, func(t *testing.T, open func(*testing.T) *DB) {
		db := open(t)
		defer db.Close()
		b := declare(t, db, "p1", "i1", "b1")

		p, err := db.FindPlan(ctx, "b1")
		if err != nil || p.State != queue.PlanPending || p.Broadcast.IncidentID != "i1" {
			t.Fatalf("FindPlan = %+v, %v; want a pending plan of i1", p, err)
		}
		first, err := db.ClaimPlan(ctx, t0, time.Minute)
		if err != nil || first == nil || first.Broadcast.ID != "b1" || first.Lease == "" {
			t.Fatalf("ClaimPlan = %+v, %v", first, err)
		}
		if again, err := db.ClaimPlan(ctx, t0.Add(30*time.Second), time.Minute); err != nil || again != nil {
			t.Fatalf("ClaimPlan while leased = %+v, %v; want nil", again, err)
		}
		// The lease runs out; a second planner takes over.
		second, err := db.ClaimPlan(ctx, t0.Add(2*time.Minute), time.Minute)
		if err != nil || second == nil || second.Lease == first.Lease {
			t.Fatalf("ClaimPlan after expiry = %+v, %v; want a new lease", second, err)
		}
		batch := &queue.PlanBatch{Plan: first, Deliveries: []*queue.Delivery{delivery(b, channel.SMS, "+3610", t0)}, Cursor: "c1"}
		if _, err := db.SavePlanBatch(ctx, batch, t0.Add(2*time.Minute), time.Minute); !errors.Is(err, incident.ErrConflict) {
			t.Fatalf("SavePlanBatch with the lost lease = %v, want ECONFLICT", err)
		}
		if ds, _ := db.FindDeliveries(ctx, queue.DeliveryFilter{BroadcastID: "b1"}); len(ds) != 0 {
			t.Fatalf("the refused batch wrote %d deliveries", len(ds))
		}
		batch.Plan = second
		n, err := db.SavePlanBatch(ctx, batch, t0.Add(2*time.Minute), time.Minute)
		if err != nil || n != 1 {
			t.Fatalf("SavePlanBatch = %d, %v; want 1", n, err)
		}
		// The same IDs again (a planner that crashed after writing) are skipped.
		batch2 := &queue.PlanBatch{Plan: second, Cursor: "c2", Done: true, Deliveries: []*queue.Delivery{
			delivery(b, channel.SMS, "+3610", t0), delivery(b, channel.Email, "a@example.com", t0)}}
		if n, err := db.SavePlanBatch(ctx, batch2, t0.Add(2*time.Minute), time.Minute); err != nil || n != 1 {
			t.Fatalf("second SavePlanBatch = %d, %v; want 1 new", n, err)
		}
		p, _ = db.FindPlan(ctx, "b1")
		if p.State != queue.PlanDone || p.Cursor != "c2" || p.Planned != 2 {
			t.Errorf("plan = %+v; want done at c2 with 2 planned", p)
		}
		if next, err := db.ClaimPlan(ctx, t0.Add(time.Hour), time.Minute); err != nil || next != nil {
			t.Errorf("ClaimPlan after done = %+v, %v; want nil", next, err)
		}
		plans, err := db.FindPlans(ctx, "i1")
		if err != nil || len(plans) != 1 || plans[0].Broadcast.ID != "b1" {
			t.Errorf("FindPlans = %v, %v", plans, err)
		}
		pr, err := db.Progress(ctx, "b1")
		if err != nil || pr.Counts[channel.SMS][queue.StatePending] != 1 || pr.Counts[channel.Email][queue.StatePending] != 1 || pr.Planned != 2 {
			t.Errorf("Progress = %+v, %v", pr, err)
		}
	})
}

// plant commits a broadcast and plans ds under it.
func plant(t *testing.T, db *DB, ds func(b *incident.Broadcast) []*queue.Delivery) *incident.Broadcast {
	t.Helper()
	ctx := context.Background()
	b, p := declarePlan(t, db)
	if _, err := db.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: ds(b), Done: true}, t0, time.Minute); err != nil {
		t.Fatalf("SavePlanBatch: %v", err)
	}
	return b
}

// TestClaimDeliveries covers due order, leases, fencing and retries.
func TestClaimDeliveries(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, testPrefix(t))
	defer db.Close()
	plant(t, db, func(b *incident.Broadcast) []*queue.Delivery {
		return []*queue.Delivery{
			delivery(b, channel.SMS, "+361", t0.Add(2*time.Second)),
			delivery(b, channel.SMS, "+362", t0.Add(1*time.Second)),
			delivery(b, channel.SMS, "+363", t0.Add(time.Hour)), // deferred (quiet hours)
			delivery(b, channel.Email, "x@example.com", t0),
		}
	})
	now := t0.Add(5 * time.Second)
	got, err := db.ClaimDeliveries(ctx, channel.SMS, queue.LaneAll, now, time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Address != "+362" || got[1].Address != "+361" {
		t.Fatalf("claimed %v; want +362 then +361 (due order), not the deferred one or the email", addresses(got))
	}
	for _, d := range got {
		if d.State != queue.StateSending || d.Attempts != 1 || d.Lease == "" {
			t.Errorf("claimed %+v; want sending, attempt 1, a lease", d)
		}
	}
	if more, _ := db.ClaimDeliveries(ctx, channel.SMS, queue.LaneAll, now, time.Minute, 10); len(more) != 0 {
		t.Fatalf("second claim got %v while leased", addresses(more))
	}
	// +361 is sent; +362's node dies, its lease runs out and another
	// node reclaims it.
	sent := *got[1]
	sent.State, sent.ProviderID, sent.SentAt = queue.StateSent, "SM1", &now
	if err := db.FinishDeliveries(ctx, []*queue.Delivery{&sent}); err != nil {
		t.Fatal(err)
	}
	later := now.Add(2 * time.Minute)
	re, err := db.ClaimDeliveries(ctx, channel.SMS, queue.LaneAll, later, time.Minute, 10)
	if err != nil || len(re) != 1 || re[0].Address != "+362" || re[0].Attempts != 2 || re[0].Lease == got[0].Lease {
		t.Fatalf("reclaim = %+v, %v; want +362 at attempt 2 with a new lease", re, err)
	}
	// The dead node wakes up and reports: its lease is lost, so it is skipped.
	stale := *got[0]
	stale.State = queue.StateSent
	if err := db.FinishDeliveries(ctx, []*queue.Delivery{&stale}); err != nil {
		t.Fatal(err)
	}
	if d, _ := db.FindDeliveryByID(ctx, got[0].ID); d.State != queue.StateSending {
		t.Errorf("stale finish moved the delivery to %s", d.State)
	}
	// A transient error: retry later.
	retry := *re[0]
	retry.State, retry.NextAt, retry.ErrorCode, retry.Reason = queue.StatePending, later.Add(30*time.Second), "503", "busy"
	if err := db.FinishDeliveries(ctx, []*queue.Delivery{&retry}); err != nil {
		t.Fatal(err)
	}
	if early, _ := db.ClaimDeliveries(ctx, channel.SMS, queue.LaneAll, later.Add(10*time.Second), time.Minute, 10); len(early) != 0 {
		t.Errorf("claimed %v before the retry was due", addresses(early))
	}
	third, _ := db.ClaimDeliveries(ctx, channel.SMS, queue.LaneAll, later.Add(31*time.Second), time.Minute, 10)
	if len(third) != 1 || third[0].Attempts != 3 {
		t.Fatalf("retry claim = %+v; want +362 at attempt 3", third)
	}
	// Provider ID lookup and receipts, forward only.
	d, err := db.FindDeliveryByProviderID(ctx, "SM1")
	if err != nil || d.Address != "+361" || d.State != queue.StateSent {
		t.Fatalf("FindDeliveryByProviderID = %+v, %v", d, err)
	}
	steps := []struct {
		state queue.DeliveryState
		want  queue.DeliveryState
	}{
		{queue.StateDelivered, queue.StateDelivered},
		{queue.StateUndelivered, queue.StateDelivered}, // never backwards
		{queue.StateFailed, queue.StateDelivered},
	}
	for _, s := range steps {
		if err := db.SetDeliveryStatus(ctx, d.ID, s.state, "x", "", later); err != nil {
			t.Fatal(err)
		}
		if d, _ := db.FindDeliveryByID(ctx, d.ID); d.State != s.want {
			t.Errorf("after %s: state %s, want %s", s.state, d.State, s.want)
		}
	}
	if err := db.SetDeliveryStatus(ctx, "nope", queue.StateDelivered, "", "", later); !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("SetDeliveryStatus(unknown) = %v, want ENOTFOUND", err)
	}
	pr, _ := db.Progress(ctx, "b1")
	want := map[queue.DeliveryState]int{queue.StateDelivered: 1, queue.StateSending: 1, queue.StatePending: 1}
	for s, n := range want {
		if pr.Counts[channel.SMS][s] != n {
			t.Errorf("progress sms %s = %d, want %d (all: %v)", s, pr.Counts[channel.SMS][s], n, pr.Counts)
		}
	}
}

func addresses(ds []*queue.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Address)
	}
	return out
}

// TestClaimExactlyOnce: many claimers race over one queue; each delivery
// goes to exactly one of them.
func TestClaimExactlyOnce(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, testPrefix(t))
	defer db.Close()
	const total = 2000
	plant(t, db, func(b *incident.Broadcast) []*queue.Delivery {
		var ds []*queue.Delivery
		for i := 0; i < total; i++ {
			ds = append(ds, delivery(b, channel.Email, fmt.Sprintf("u%d@example.com", i), t0))
		}
		return ds
	})
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ds, err := db.ClaimDeliveries(ctx, channel.Email, queue.LaneAll, t0, time.Minute, 37)
				if err != nil {
					t.Error(err)
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					seen[d.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != total {
		t.Fatalf("claimed %d distinct deliveries, want %d", len(seen), total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("delivery %s claimed %d times", id, n)
		}
	}
}

// TestCancelPlan cancels the pending deliveries and leaves sent ones.
func TestCancelPlan(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, testPrefix(t))
	defer db.Close()
	plant(t, db, func(b *incident.Broadcast) []*queue.Delivery {
		var ds []*queue.Delivery
		for i := 0; i < 2500; i++ { // more than one cancel chunk
			ds = append(ds, delivery(b, channel.SMS, fmt.Sprintf("+36%07d", i), t0))
		}
		return ds
	})
	claimed, _ := db.ClaimDeliveries(ctx, channel.SMS, queue.LaneAll, t0, time.Minute, 10)
	if err := db.CancelPlan(ctx, "b1", t0); err != nil {
		t.Fatal(err)
	}
	if more, _ := db.ClaimDeliveries(ctx, channel.SMS, queue.LaneAll, t0, time.Minute, 10); len(more) != 0 {
		t.Errorf("claimed %d deliveries of a cancelled plan", len(more))
	}
	pr, _ := db.Progress(ctx, "b1")
	if pr.State != queue.PlanCancelled || pr.Counts[channel.SMS][queue.StateCancelled] != 2490 || pr.Counts[channel.SMS][queue.StateSending] != 10 {
		t.Errorf("Progress = %+v", pr)
	}
	if err := db.FinishDeliveries(ctx, []*queue.Delivery{{ID: claimed[0].ID, Lease: claimed[0].Lease, State: queue.StateSent}}); err != nil {
		t.Fatal(err)
	}
	if d, _ := db.FindDeliveryByID(ctx, claimed[0].ID); d.State != queue.StateSent {
		t.Errorf("in-flight delivery finished as %s, want sent", d.State)
	}
	if err := db.CancelPlan(ctx, "nope", t0); !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("CancelPlan(unknown) = %v, want ENOTFOUND", err)
	}
}

// TestAudience covers customers, subscribers, suppressions and secrets.
func TestAudience(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, testPrefix(t))
	defer db.Close()
	var cs []*audience.Customer
	for _, id := range []string{"c3", "c1", "c2", "c10"} {
		cs = append(cs, &audience.Customer{ID: id, PageID: "p1", Name: id, Email: id + "@example.com", CreatedAt: t0, UpdatedAt: t0})
	}
	if n, err := db.UpsertCustomers(ctx, cs); err != nil || n != 4 {
		t.Fatalf("UpsertCustomers = %d, %v", n, err)
	}
	if n, err := db.UpsertCustomers(ctx, cs[:2]); err != nil || n != 0 {
		t.Fatalf("re-import = %d, %v; want 0 new", n, err)
	}
	page1, _ := db.FindCustomers(ctx, audience.CustomerFilter{PageID: "p1", Limit: 2})
	page2, _ := db.FindCustomers(ctx, audience.CustomerFilter{PageID: "p1", After: page1[len(page1)-1].ID, Limit: 10})
	var ids []string
	for _, c := range append(page1, page2...) {
		ids = append(ids, c.ID)
	}
	if fmt.Sprint(ids) != "[c1 c10 c2 c3]" {
		t.Errorf("customers by ID = %v", ids)
	}
	if err := db.DeleteCustomer(ctx, "p1", "c2"); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.CountCustomers(ctx, "p1"); n != 3 {
		t.Errorf("CountCustomers = %d, want 3", n)
	}

	s1 := &audience.Subscriber{ID: "s1", PageID: "p1", Kind: channel.Email, Address: "a@example.com", State: audience.SubscriberPending, ConfirmHash: "h", CreatedAt: t0}
	if err := db.SaveSubscriber(ctx, s1); err != nil {
		t.Fatal(err)
	}
	dup := *s1
	dup.ID = "s2"
	if err := db.SaveSubscriber(ctx, &dup); !errors.Is(err, incident.ErrConflict) {
		t.Errorf("second live subscriber = %v, want ECONFLICT", err)
	}
	s1.State = audience.SubscriberUnsubscribed
	if err := db.SaveSubscriber(ctx, s1); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveSubscriber(ctx, &dup); err != nil {
		t.Errorf("re-subscribe after unsubscribe = %v", err)
	}
	got, err := db.FindSubscriberByAddress(ctx, "p1", channel.Email, "a@example.com", "")
	if err != nil || got.ID != "s2" || got.ConfirmHash != "h" {
		t.Errorf("FindSubscriberByAddress = %+v, %v; want s2 with its confirm hash", got, err)
	}
	if n, _ := db.CountSubscribers(ctx, "p1", audience.SubscriberPending); n != 1 {
		t.Errorf("pending subscribers = %d, want 1", n)
	}
	if n, _ := db.CountSubscribers(ctx, "p1", ""); n != 2 {
		t.Errorf("subscribers = %d, want 2", n)
	}
	if all, _ := db.FindSubscribers(ctx, audience.SubscriberFilter{PageID: "p1"}); len(all) != 2 {
		t.Errorf("FindSubscribers = %d, want 2", len(all))
	}
	if err := db.DeleteSubscriber(ctx, "s2"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.FindSubscriberByAddress(ctx, "p1", channel.Email, "a@example.com", ""); !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("after delete: %v, want ENOTFOUND", err)
	}

	if err := db.Suppress(ctx, audience.Suppression{Kind: channel.SMS, Address: "+361", Reason: "stop", At: t0}); err != nil {
		t.Fatal(err)
	}
	if s, err := db.FindSuppression(ctx, "p1", channel.SMS, "+361"); err != nil || s.Reason != "stop" {
		t.Errorf("global suppression seen from p1 = %+v, %v", s, err)
	}
	if err := db.Unsuppress(ctx, "", channel.SMS, "+361"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.FindSuppression(ctx, "p1", channel.SMS, "+361"); !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("after START: %v, want ENOTFOUND", err)
	}

	a, _ := db.Secret(ctx, "links", func() []byte { return []byte("first") })
	b, _ := db.Secret(ctx, "links", func() []byte { return []byte("second") })
	if string(a) != "first" || string(b) != "first" {
		t.Errorf("Secret = %q then %q; want first both times", a, b)
	}
}

// TestLimiterShared: two handles (two nodes) share one bucket of 50/s;
// hammered for a second, together they get about 50 plus the burst.
func TestLimiterShared(t *testing.T) {
	ctx := context.Background()
	prefix := testPrefix(t)
	a, b := openTest(t, prefix), openTest(t, prefix)
	defer a.Close()
	defer b.Close()
	lim := ratelimit.Limit{Rate: 50, Burst: 5}
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	deadline := time.Now().Add(time.Second)
	for _, db := range []*DB{a, b} {
		l := db.Limiter()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				wait, err := l.Take(ctx, "twilio:+15550001", lim, 0)
				if err != nil {
					t.Error(err)
					return
				}
				if wait == 0 {
					mu.Lock()
					allowed++
					mu.Unlock()
				} else if wait > time.Second/50 {
					t.Errorf("wait %v exceeds one emission interval", wait)
					return
				}
			}
		}()
	}
	wg.Wait()
	// One second at 50/s plus a burst of 5: 55; allow for scheduling.
	if allowed < 45 || allowed > 60 {
		t.Errorf("allowed %d in one second at 50/s (burst 5); want about 55", allowed)
	}
}

// TestLimiterRetryAfter: with the bucket empty, Take says how long to wait.
func TestLimiterRetryAfter(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, testPrefix(t))
	defer db.Close()
	l := db.Limiter()
	lim := ratelimit.Limit{Rate: 1, Burst: 1}
	if w, err := l.Take(ctx, "slack:C1{x}", lim, 0); err != nil || w != 0 {
		t.Fatalf("first Take = %v, %v; want 0", w, err)
	}
	w, err := l.Take(ctx, "slack:C1{x}", lim, 0)
	if err != nil || w < 900*time.Millisecond || w > time.Second {
		t.Fatalf("second Take = %v, %v; want about 1s", w, err)
	}
}

// TestDeliveryFind: filters and newest-first order.
func TestDeliveryFind(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, testPrefix(t))
	defer db.Close()
	plant(t, db, func(b *incident.Broadcast) []*queue.Delivery {
		var ds []*queue.Delivery
		for i := 0; i < 5; i++ {
			d := delivery(b, channel.SMS, fmt.Sprintf("+3610%d", i), t0)
			d.CreatedAt = t0.Add(time.Duration(i) * time.Second)
			ds = append(ds, d)
		}
		return ds
	})
	tests := []struct {
		name string
		f    queue.DeliveryFilter
		want []string
	}{
		{"broadcast", queue.DeliveryFilter{BroadcastID: "b1", Limit: 2}, []string{"+36104", "+36103"}},
		{"address", queue.DeliveryFilter{Kind: channel.SMS, Address: "+36102"}, []string{"+36102"}},
		{"since", queue.DeliveryFilter{PageID: "p1", Since: t0.Add(3 * time.Second)}, []string{"+36104", "+36103"}},
		{"state", queue.DeliveryFilter{States: []queue.DeliveryState{queue.StateSent}}, nil},
		{"other page", queue.DeliveryFilter{PageID: "p2"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.FindDeliveries(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(addresses(got)) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", addresses(got), tt.want)
			}
		})
	}
}

// TestLimiterReserve: on Redis too, a turn within maxWait is reserved (the
// next caller's turn is one interval later) and one beyond it is not taken.
func TestLimiterReserve(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, testPrefix(t))
	defer db.Close()
	l := db.Limiter()
	lim := ratelimit.Limit{Rate: 10, Burst: 1} // 100 ms apart
	// Each call's turn (when it was decided, plus its wait) is one
	// interval after the one before. When a call was decided is known only
	// between its start and its end, so the check bounds it with those: no
	// assumption about how fast a loaded machine answers.
	var waits []time.Duration
	var before, after []time.Time
	for i := 0; i < 3; i++ {
		before = append(before, time.Now())
		w, err := l.Take(ctx, "sms", lim, time.Second)
		after = append(after, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, w)
	}
	if waits[0] != 0 {
		t.Fatalf("the first turn waited %v", waits[0])
	}
	const slack = 2 * time.Millisecond // the limiter's clock and ours round differently
	for i := 1; i < 3; i++ {
		want := time.Duration(i) * 100 * time.Millisecond
		lo := before[i].Add(waits[i]).Sub(after[0]) - slack
		hi := after[i].Add(waits[i]).Sub(before[0]) + slack
		if want < lo || want > hi || waits[i] > want {
			t.Fatalf("turn %d: waited %v, due %v–%v after the first; want %v after it", i, waits[i], lo, hi, want)
		}
	}
	w1, err := l.Take(ctx, "sms", lim, 0)
	if err != nil {
		t.Fatal(err)
	}
	w2, _ := l.Take(ctx, "sms", lim, 0)
	if w1 < 250*time.Millisecond || w2 < w1-20*time.Millisecond || w2 > w1 {
		t.Fatalf("checks beyond maxWait: %v then %v; want about 300ms twice (nothing taken)", w1, w2)
	}
}

// hgetallCounter counts the HGETALL commands a client sends, pipelined or
// not.
type hgetallCounter struct{ n atomic.Int64 }

func (h *hgetallCounter) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *hgetallCounter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		h.count(cmd)
		return next(ctx, cmd)
	}
}

func (h *hgetallCounter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		for _, c := range cmds {
			h.count(c)
		}
		return next(ctx, cmds)
	}
}

func (h *hgetallCounter) count(cmd goredis.Cmder) {
	if cmd.Name() == "hgetall" {
		h.n.Add(1)
	}
}

// TestRecipientIndex: a customer's deliveries (the per-customer view) are
// read from the recipient index, not found by loading every delivery of
// every broadcast; a page's recipient is not another page's.
func TestRecipientIndex(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, testPrefix(t))
	defer db.Close()
	b := declare(t, db, "p1", "i1", "b1")
	var ds []*queue.Delivery
	for i := range 2000 {
		ds = append(ds, delivery(b, channel.SMS, fmt.Sprintf("+3620%07d", i), t0))
	}
	mine := []*queue.Delivery{delivery(b, channel.SMS, "+36209999999", t0), delivery(b, channel.Email, "me@example.com", t0)}
	for _, d := range mine {
		d.RecipientID = "c-me"
	}
	other := delivery(b, channel.Email, "else@example.com", t0)
	other.PageID, other.RecipientID = "p2", "c-me" // the same external ID on another page
	ds = append(append(ds, mine...), other)
	if _, err := db.EnqueueDeliveries(ctx, ds); err != nil {
		t.Fatal(err)
	}
	h := &hgetallCounter{}
	db.client.AddHook(h)
	got, err := db.FindDeliveries(ctx, queue.DeliveryFilter{PageID: "p1", RecipientID: "c-me"})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, d := range got {
		ids[d.ID] = true
	}
	if len(got) != 2 || !ids[mine[0].ID] || !ids[mine[1].ID] {
		t.Fatalf("FindDeliveries(p1, c-me) = %d deliveries %v; want the two of p1's c-me", len(got), ids)
	}
	if n := h.n.Load(); n > 3 {
		t.Errorf("FindDeliveries(p1, c-me) loaded %d deliveries; want the recipient's own (3 at most)", n)
	}
}

// TestClaimLegacyReply: a reply stored before the lanes (no y field, in
// the channel's one due queue) is the broadcast lane's: that lane claims
// it, the replies' lane never sees it, and a retry puts it back where it
// was. The dispatcher still sends it through the reply sender, by its
// message kind.
func TestClaimLegacyReply(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, testPrefix(t))
	defer db.Close()
	d := &queue.Delivery{ID: "legacy-ack", PageID: "p1", MessageKind: queue.KindComplaintAck, Kind: channel.SMS, Address: "+36201234567",
		RecipientType: queue.FromContact, State: queue.StatePending, NextAt: t0, CreatedAt: t0, UpdatedAt: t0}
	if _, err := db.EnqueueDeliveries(ctx, []*queue.Delivery{d}); err != nil {
		t.Fatal(err)
	}
	k := db.keys
	if y, err := db.client.HGet(ctx, k.delivery(d.ID), "y").Result(); err != nil || y != "r" {
		t.Fatalf("a new reply's lane = %q, %v; want r", y, err)
	}
	// Make it what a herald before the lanes wrote.
	score, err := db.client.ZScore(ctx, k.replyDueQueue("sms"), d.ID).Result()
	if err != nil {
		t.Fatal(err)
	}
	pipe := db.client.TxPipeline()
	pipe.HDel(ctx, k.delivery(d.ID), "y")
	pipe.ZRem(ctx, k.replyDueQueue("sms"), d.ID)
	pipe.ZAdd(ctx, k.dueQueue("sms"), goredis.Z{Score: score, Member: d.ID})
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Second)
	if got, err := db.ClaimDeliveries(ctx, channel.SMS, queue.LaneReplies, now, time.Minute, 10); err != nil || len(got) != 0 {
		t.Fatalf("replies lane claimed %v, %v; want nothing", addresses(got), err)
	}
	got, err := db.ClaimDeliveries(ctx, channel.SMS, queue.LaneBroadcast, now, time.Minute, 10)
	if err != nil || len(got) != 1 || got[0].ID != d.ID || got[0].MessageKind != queue.KindComplaintAck {
		t.Fatalf("broadcast lane claimed %v, %v; want the legacy reply", addresses(got), err)
	}
	if n, _ := db.client.ZCard(ctx, k.leaseQueue("sms")).Result(); n != 1 {
		t.Errorf("broadcast lease queue holds %d; want the legacy reply", n)
	}
	got[0].State, got[0].NextAt = queue.StatePending, now.Add(time.Second)
	if err := db.FinishDeliveries(ctx, got); err != nil {
		t.Fatal(err)
	}
	if _, err := db.client.ZScore(ctx, k.dueQueue("sms"), d.ID).Result(); err != nil {
		t.Errorf("the retried legacy reply is not back in the broadcast due queue: %v", err)
	}
	for _, key := range []string{k.leaseQueue("sms"), k.replyDueQueue("sms"), k.replyLeaseQueue("sms")} {
		if n, _ := db.client.ZCard(ctx, key).Result(); n != 0 {
			t.Errorf("%s holds %d after the retry; want none", key, n)
		}
	}
}
