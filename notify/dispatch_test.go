package notify_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify"
	"github.com/heraldhq/herald/notify/notifytest"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/ratelimit"
	"github.com/heraldhq/herald/sandbox"
	"github.com/heraldhq/herald/surveys"
)

func customersCSV(n int, withEmail bool) string {
	var b strings.Builder
	b.WriteString("id,name,phone,email\n")
	for i := 0; i < n; i++ {
		email := ""
		if withEmail {
			email = fmt.Sprintf("u%03d@example.com", i)
		}
		fmt.Fprintf(&b, "u%03d,User %d,+3620%07d,%s\n", i, i, 1000000+i, email)
	}
	return b.String()
}

// TestFaults: transient faults (5xx, 429 bursts with Retry-After) are all
// eventually delivered exactly once; permanent codes fail at once with
// the code (and 21610 suppresses the number).
func TestFaults(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{ErrorRate: 0.25, Burst429Every: 15, Burst429Len: 3, RetryAfter: time.Second,
			FailTo: map[string]string{"+36201000003": "21211", "+36201000004": "21610", "u005@example.com": "550 5.1.1"}})
		h.importCSV(customersCSV(40, true))
		cfg := baseConfig()
		cfg.Workers = map[channel.Kind]int{channel.SMS: 4, channel.Email: 4}
		h.start(cfg)
		inc := h.declare("Outage", nil, incident.MajorOutage)
		p := h.waitDone(h.broadcasts(inc.ID)[0].ID)
		if got := p.Counts[channel.SMS][queue.StateSent]; got != 38 {
			t.Errorf("sms sent %d, want 38: %+v", got, p.Counts)
		}
		if got := p.Counts[channel.SMS][queue.StateFailed]; got != 2 {
			t.Errorf("sms failed %d, want 2", got)
		}
		if got := p.Counts[channel.Email][queue.StateSent]; got != 39 {
			t.Errorf("email sent %d, want 39: %+v", got, p.Counts)
		}
		for to, n := range h.inbox(sandbox.KindSMS) {
			if n != 1 {
				t.Errorf("%s got %d SMS", to, n)
			}
		}
		if n := len(h.inbox(sandbox.KindSMS)); n != 38 {
			t.Errorf("%d numbers reached, want 38", n)
		}
		if n := len(h.inbox(sandbox.KindEmail)); n != 39 {
			t.Errorf("%d mailboxes reached, want 39", n)
		}
		ds, err := h.st.FindDeliveries(h.ctx, queue.DeliveryFilter{IncidentID: inc.ID, Address: "+36201000003"})
		if err != nil || len(ds) != 1 || ds[0].State != queue.StateFailed || ds[0].ErrorCode != "21211" {
			t.Errorf("21211 delivery = %+v, %v", ds, err)
		}
		if s, err := h.st.FindSuppression(h.ctx, h.page.ID, channel.SMS, "+36201000004"); err != nil || s.Reason != "provider:21610" {
			t.Errorf("21610 suppression = %+v, %v", s, err)
		}
		if s, err := h.st.FindSuppression(h.ctx, h.page.ID, channel.Email, "u005@example.com"); err != nil || s.Reason != "bounce" {
			t.Errorf("bounce suppression = %+v, %v", s, err)
		}
		// A sent email keeps the relay's reply, and no earlier attempt's
		// error (a quarter of the first attempts met one).
		sent, err := h.st.FindDeliveries(h.ctx, queue.DeliveryFilter{IncidentID: inc.ID, Kind: channel.Email, States: []queue.DeliveryState{queue.StateSent}})
		if err != nil || len(sent) != 39 {
			t.Fatalf("sent emails: %d, %v", len(sent), err)
		}
		retried := 0
		for _, d := range sent {
			if !strings.HasPrefix(d.Reason, "250 2.0.0 ") || d.ErrorCode != "" {
				t.Errorf("sent email %s: reason %q, error code %q; want the relay's 250 reply and no code", d.Address, d.Reason, d.ErrorCode)
			}
			if d.Attempts > 1 {
				retried++
			}
		}
		if retried == 0 {
			t.Error("no email was retried: the faults did not reach SMTP")
		}
	})
}

// TestWebhookGone: a webhook that answers 410 Gone asks to be removed: its
// delivery fails for good, its subscriber is unsubscribed with reason
// "webhook:410", and the next broadcast does not call it. Another webhook
// goes on as before.
func TestWebhookGone(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{FailTo: map[string]string{"gone": "410"}})
		h.start(baseConfig())
		subscribe := func(name string) *audience.Subscriber {
			s, err := h.svc.Subscribe(h.ctx, notify.SubscribeRequest{PageID: h.page.ID, Kind: channel.Webhook, Address: h.sb.WebhookURL(name), Confirmed: true})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		gone, kept := subscribe("gone"), subscribe("kept")
		inc := h.declare("Outage", nil, incident.MajorOutage)
		p := h.waitDone(h.broadcasts(inc.ID)[0].ID)
		if p.Counts[channel.Webhook][queue.StateFailed] != 1 || p.Counts[channel.Webhook][queue.StateSent] != 1 {
			t.Fatalf("first broadcast: %+v", p.Counts)
		}
		got, err := h.svc.Subscriber(h.ctx, h.page.ID, gone.ID)
		if err != nil || got.State != audience.SubscriberUnsubscribed || got.UnsubscribeReason != "webhook:410" || got.UnsubscribedAt == nil {
			t.Fatalf("gone webhook = %+v, %v; want unsubscribed for webhook:410", got, err)
		}
		if got, _ := h.svc.Subscriber(h.ctx, h.page.ID, kept.ID); got.State != audience.SubscriberActive {
			t.Errorf("the other webhook is %s", got.State)
		}
		h.update(inc, incident.Resolved, "ok", true)
		p = h.waitDone(h.broadcasts(inc.ID)[1].ID)
		if p.Counts[channel.Webhook][queue.StateSent] != 1 || p.Counts[channel.Webhook][queue.StateFailed] != 0 {
			t.Errorf("second broadcast: %+v", p.Counts)
		}
		ds, err := h.svc.Deliveries(h.ctx, queue.DeliveryFilter{PageID: h.page.ID, RecipientID: gone.ID})
		if err != nil || len(ds) != 1 || ds[0].ErrorCode != "HTTP 410" {
			t.Errorf("deliveries to the gone webhook = %+v, %v; want the one 410", ds, err)
		}
	})
}

// TestFaultWrappers: the notifytest wrappers drive retries the same way
// (timeouts count as transient; a 429's Retry-After is honoured).
func TestFaultWrappers(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		h.importCSV(customersCSV(12, false))
		rec := notifytest.NewRecorder(channel.SMS)
		f := notifytest.Wrap(rec, notifytest.PermanentTo(map[string]string{"+36201000011": "21614"}),
			notifytest.ServerErrorEvery(3), notifytest.TooManyRequests(1, 2, 300*time.Millisecond), notifytest.TimeoutEvery(7))
		chans := map[channel.Kind]notify.Channel{channel.SMS: &timeoutChannel{f}}
		svc := h.service(baseConfig(), chans, nil)
		h.run(svc)
		inc := h.declare("Outage", nil, incident.MajorOutage)
		h.waitDone(h.broadcasts(inc.ID)[0].ID)
		seen := map[string]int{}
		for _, m := range rec.Sent() {
			seen[m.To]++
		}
		if len(seen) != 11 {
			t.Errorf("%d recipients reached, want 11", len(seen))
		}
		ds, err := h.st.FindDeliveries(h.ctx, queue.DeliveryFilter{IncidentID: inc.ID, Address: "+36201000011"})
		if err != nil || len(ds) != 1 || ds[0].State != queue.StateFailed || ds[0].ErrorCode != "21614" || ds[0].Attempts != 1 {
			t.Errorf("permanent failure = %+v, %v; want failed at the first attempt with 21614", ds[0], err)
		}
		for to, n := range seen {
			if n != 1 {
				t.Errorf("%s got %d", to, n)
			}
		}
		if f.Calls() <= 12 {
			t.Errorf("only %d calls: no fault fired", f.Calls())
		}
	})
}

// timeoutChannel gives each send a short deadline, as a provider client does.
type timeoutChannel struct{ notify.Channel }

func (c *timeoutChannel) Send(ctx context.Context, m *channel.Message) (channel.Receipt, error) {
	ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	return c.Channel.Send(ctx, m)
}

// TestQuietHours: non-critical customer messages wait for the end of the
// window in the customer's zone; critical ones go at once.
func TestQuietHours(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		// 23:30 in Budapest (CET, UTC+1 in January).
		h.clock.fixed = time.Date(2027, 1, 15, 22, 30, 0, 0, time.UTC)
		h.importCSV("id,name,phone,time_zone\nq1,Quiet,+36201234567,Europe/Budapest\nq2,Day,+12025550123,America/New_York\n")
		cfg := baseConfig()
		cfg.QuietStart, cfg.QuietEnd = "22:00", "07:00"
		h.start(cfg)
		minor := h.declare("Slow", nil, incident.DegradedPerformance)
		b := h.broadcasts(minor.ID)[0]
		h.waitProgress(b.ID, func(p *queue.Progress) bool { return p.Counts[channel.SMS][queue.StateSent] == 1 })
		ds, _ := h.st.FindDeliveries(h.ctx, queue.DeliveryFilter{BroadcastID: b.ID, Address: "+36201234567"})
		wantAt := time.Date(2027, 1, 16, 6, 0, 0, 0, time.UTC) // 07:00 CET
		if len(ds) != 1 || ds[0].State != queue.StatePending || !ds[0].NextAt.Equal(wantAt) || ds[0].Reason != "quiet hours" {
			t.Fatalf("quiet delivery = %+v, want pending until %s", ds[0], wantAt)
		}
		crit := h.declare("Everything down", []string{h.compA.ID}, incident.MajorOutage)
		h.waitProgress(h.broadcasts(crit.ID)[0].ID, func(p *queue.Progress) bool { return p.Counts[channel.SMS][queue.StateSent] == 2 })
		h.clock.Advance(7*time.Hour + 31*time.Minute)
		h.waitDone(b.ID)
		if got := h.inbox(sandbox.KindSMS)["+36201234567"]; got != 2 {
			t.Errorf("quiet customer got %d SMS after the window, want 2", got)
		}
	})
}

// TestQuietHoursNoAttempts: a delivery deferred by quiet hours night after
// night, more often than MaxAttempts, still has every attempt left: its
// first transient failure after the window is retried, not final.
func TestQuietHoursNoAttempts(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		// 23:30 in Budapest (CET, UTC+1 in January).
		h.clock.fixed = time.Date(2027, 1, 15, 22, 30, 0, 0, time.UTC)
		h.importCSV("id,name,phone,time_zone\nq1,Quiet,+36201234567,Europe/Budapest\n")
		rec := notifytest.NewRecorder(channel.SMS)
		cfg := baseConfig()
		cfg.QuietStart, cfg.QuietEnd, cfg.MaxAttempts = "22:00", "07:00", 2
		// The first send after the window meets a 429.
		h.run(h.service(cfg, map[channel.Kind]notify.Channel{channel.SMS: notifytest.Wrap(rec, notifytest.TooManyRequests(1, 1, time.Second))}, nil))
		b := h.broadcasts(h.declare("Slow", nil, incident.DegradedPerformance).ID)[0]
		// get returns the one delivery (an empty one before it is planned).
		get := func() *queue.Delivery {
			ds, err := h.st.FindDeliveries(h.ctx, queue.DeliveryFilter{BroadcastID: b.ID})
			if err != nil || len(ds) > 1 {
				t.Fatalf("deliveries = %v, %v; want one", ds, err)
			}
			if len(ds) == 0 {
				return &queue.Delivery{}
			}
			return ds[0]
		}
		for night := range 4 {
			wantAt := time.Date(2027, 1, 16+night, 6, 0, 0, 0, time.UTC) // 07:00 CET
			waitFor(t, fmt.Sprintf("deferral %d", night), func() bool {
				d := get()
				return d.State == queue.StatePending && d.NextAt.Equal(wantAt)
			})
			if d := get(); d.Attempts != 0 || d.Reason != "quiet hours" {
				t.Fatalf("night %d: attempts %d, reason %q; want 0, quiet hours", night, d.Attempts, d.Reason)
			}
			if night < 3 {
				h.clock.Advance(24 * time.Hour) // 23:30 the next night: due, and quiet again
			}
		}
		h.clock.Advance(8 * time.Hour) // 07:30 CET: the window is over
		waitFor(t, "the first send", func() bool { d := get(); return d.ErrorCode != "" || !d.State.Open() })
		if d := get(); d.State != queue.StatePending || d.ErrorCode != "429" || d.Attempts != 1 {
			t.Fatalf("after a 429: state %s, code %q, attempts %d; want pending (a retry), 429, 1", d.State, d.ErrorCode, d.Attempts)
		}
		h.clock.Advance(time.Minute)
		h.waitDone(b.ID)
		if d := get(); d.State != queue.StateSent || d.Attempts != 2 || len(rec.To("+36201234567")) != 1 {
			t.Errorf("after the retry: state %s, attempts %d, %d sent; want sent, 2, 1", d.State, d.Attempts, len(rec.To("+36201234567")))
		}
	})
}

// TestFrequencyCap: over the cap, an older update collapses into a newer
// queued one; the newest waits for the window.
func TestFrequencyCap(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		h.importCSV("id,name,email\nf1,Freq,freq@example.com\n")
		cfg := baseConfig()
		cfg.FrequencyCap = 1
		stop := h.run(h.service(cfg, nil, nil))
		inc := h.declare("Flapping", nil, incident.MajorOutage)
		h.waitDone(h.broadcasts(inc.ID)[0].ID)
		stop()
		h.update(inc, incident.Identified, "one", true)
		h.update(inc, incident.Monitoring, "two", true)
		// Plan both with no dispatchers, so the order of sends is fixed.
		stop = h.run(h.service(cfg, map[channel.Kind]notify.Channel{}, nil))
		bs := h.broadcasts(inc.ID)
		for _, b := range bs[1:] {
			h.waitProgress(b.ID, func(p *queue.Progress) bool { return p.State == queue.PlanDone })
		}
		stop()
		h.run(h.service(cfg, nil, nil))
		h.waitDone(bs[1].ID)
		p1, _ := h.st.Progress(h.ctx, bs[1].ID)
		if p1.Counts[channel.Email][queue.StateCollapsed] != 1 {
			t.Errorf("first update: %+v, want collapsed", p1.Counts)
		}
		waitFor(t, "deferral", func() bool {
			ds, _ := h.st.FindDeliveries(h.ctx, queue.DeliveryFilter{BroadcastID: bs[2].ID})
			return len(ds) == 1 && ds[0].State == queue.StatePending && ds[0].Reason == "frequency cap"
		})
		h.clock.Advance(61 * time.Minute)
		p2 := h.waitDone(bs[2].ID)
		if p2.Counts[channel.Email][queue.StateSent] != 1 || h.inbox(sandbox.KindEmail)["freq@example.com"] != 2 {
			t.Errorf("second update: %+v, inbox %v", p2.Counts, h.inbox(sandbox.KindEmail))
		}
	})
}

// TestFrequencyCapNeverHoldsTheResolution: the resolution goes at once
// although the cap holds an update for the window, and the held update
// then collapses into it rather than arrive after "fixed".
func TestFrequencyCapNeverHoldsTheResolution(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		h.importCSV("id,name,email\nf1,Freq,freq@example.com\n")
		cfg := baseConfig()
		cfg.FrequencyCap = 1
		h.run(h.service(cfg, nil, nil))
		inc := h.declare("Flapping", nil, incident.MajorOutage)
		h.waitDone(h.broadcasts(inc.ID)[0].ID)
		h.update(inc, incident.Identified, "one", true)
		held := h.broadcasts(inc.ID)[1]
		waitFor(t, "the update held by the cap", func() bool {
			ds, _ := h.st.FindDeliveries(h.ctx, queue.DeliveryFilter{BroadcastID: held.ID})
			return len(ds) == 1 && ds[0].State == queue.StatePending && ds[0].Reason == "frequency cap"
		})
		h.update(inc, incident.Resolved, "fixed", true)
		bs := h.broadcasts(inc.ID)
		res := bs[len(bs)-1]
		if res.ID == held.ID || res.Kind != incident.BroadcastResolved {
			t.Fatalf("no resolution broadcast: %+v", bs)
		}
		if p := h.waitDone(res.ID); p.Counts[channel.Email][queue.StateSent] != 1 {
			t.Fatalf("the resolution was not sent at once: %+v", p.Counts)
		}
		h.clock.Advance(61 * time.Minute)
		if p := h.waitDone(held.ID); p.Counts[channel.Email][queue.StateCollapsed] != 1 {
			t.Errorf("the held update: %+v, want collapsed into the resolution", p.Counts)
		}
		if n := h.inbox(sandbox.KindEmail)["freq@example.com"]; n != 2 {
			t.Errorf("%d emails, want 2 (the acknowledgement and the resolution)", n)
		}
	})
}

// TestCancel: cancelling stops the rest of a broadcast.
func TestCancel(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		h.importCSV(customersCSV(120, false))
		cfg := baseConfig()
		cfg.Rates = map[channel.Kind]ratelimit.Limit{channel.SMS: {Rate: 20, Burst: 1}}
		h.start(cfg)
		inc := h.declare("Outage", nil, incident.MajorOutage)
		b := h.broadcasts(inc.ID)[0]
		h.waitProgress(b.ID, func(p *queue.Progress) bool { return p.Counts[channel.SMS][queue.StateSent] >= 10 })
		if err := h.svc.Cancel(h.ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		p := h.waitDone(b.ID)
		sent, cancelled := p.Counts[channel.SMS][queue.StateSent], p.Counts[channel.SMS][queue.StateCancelled]
		if sent+cancelled != 120 || cancelled < 40 || p.State != queue.PlanCancelled {
			t.Errorf("after cancel: sent %d cancelled %d state %s", sent, cancelled, p.State)
		}
		if n := h.sb.Count(sandbox.KindSMS); n != sent {
			t.Errorf("sandbox has %d SMS, progress says %d sent", n, sent)
		}
	})
}

// failingSaves is the real store with SavePlanBatch failing after n calls:
// the planner "crashes" mid-plan with its lease held.
type failingSaves struct {
	engine
	left atomic.Int64
}

func (f *failingSaves) SavePlanBatch(ctx context.Context, b *queue.PlanBatch, now time.Time, lease time.Duration) (int, error) {
	if f.left.Add(-1) < 0 {
		return 0, fmt.Errorf("injected crash")
	}
	return f.engine.SavePlanBatch(ctx, b, now, lease)
}

// TestPlanCrashResume: a plan partly saved, its lease expired, is resumed
// by another Service from the cursor without duplicates.
func TestPlanCrashResume(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		h.importCSV(customersCSV(95, true))
		cfg := baseConfig()
		// The lease must outlast a send and its batched write even on a
		// loaded CI machine under -race, or a live delivery is reclaimed.
		cfg.BatchSize, cfg.Lease = 20, 20*time.Second
		crashing := &failingSaves{engine: h.st}
		crashing.left.Store(2)
		stop := h.run(h.service(cfg, map[channel.Kind]notify.Channel{}, crashing))
		inc := h.declare("Outage", nil, incident.MajorOutage)
		b := h.broadcasts(inc.ID)[0]
		h.waitProgress(b.ID, func(p *queue.Progress) bool { return p.Planned == 80 })
		stop()
		plan, err := h.st.FindPlan(h.ctx, b.ID)
		if err != nil || plan.State != queue.PlanPending || plan.Cursor == "" {
			t.Fatalf("plan after crash = %+v, %v", plan, err)
		}
		h.clock.Advance(21 * time.Second) // the plan's lease expires
		h.start(cfg)
		p := h.waitDone(b.ID)
		if p.Planned != 190 || p.Counts[channel.SMS][queue.StateSent] != 95 || p.Counts[channel.Email][queue.StateSent] != 95 {
			t.Errorf("resumed: planned %d, %+v", p.Planned, p.Counts)
		}
		for to, n := range h.inbox(sandbox.KindSMS) {
			if n != 1 {
				t.Errorf("%s got %d", to, n)
			}
		}
	})
}

// TestStatusCallbacks: receipts move deliveries forward only.
func TestStatusCallbacks(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		h.importCSV("id,name,phone\ns1,A,+36201111111\ns2,B,+36202222222\n")
		h.start(baseConfig())
		inc := h.declare("Outage", nil, incident.MajorOutage)
		h.waitDone(h.broadcasts(inc.ID)[0].ID)
		get := func(addr string) *queue.Delivery {
			ds, err := h.st.FindDeliveries(h.ctx, queue.DeliveryFilter{IncidentID: inc.ID, Address: addr})
			if err != nil || len(ds) != 1 {
				t.Fatalf("deliveries to %s: %v %v", addr, ds, err)
			}
			return ds[0]
		}
		a, b := get("+36201111111"), get("+36202222222")
		steps := []struct {
			id, status, code string
			addr             string
			want             queue.DeliveryState
		}{
			{a.ProviderID, "sent", "", "+36201111111", queue.StateSent},
			{a.ProviderID, "delivered", "", "+36201111111", queue.StateDelivered},
			{a.ProviderID, "undelivered", "30003", "+36201111111", queue.StateDelivered}, // late and out of order: ignored
			{b.ProviderID, "undelivered", "21610", "+36202222222", queue.StateUndelivered},
		}
		for _, s := range steps {
			t.Run(s.status, func(t *testing.T) {
				if err := h.svc.HandleStatusCallback(h.ctx, s.id, s.status, s.code); err != nil && !errors.Is(err, notify.ErrReceiptNotFinal) {
					t.Fatal(err)
				}
				if got := get(s.addr).State; got != s.want {
					t.Errorf("state %s, want %s", got, s.want)
				}
			})
		}
		if _, err := h.st.FindSuppression(h.ctx, h.page.ID, channel.SMS, "+36202222222"); err != nil {
			t.Errorf("21610 receipt did not suppress: %v", err)
		}
		// The receipt's code is kept, and what it means is the reason.
		if d := get("+36202222222"); d.ErrorCode != "21610" || d.Reason != "undelivered: recipient unsubscribed (replied STOP)" {
			t.Errorf("undelivered receipt: code %q, reason %q; want 21610 and what it means", d.ErrorCode, d.Reason)
		}
		if err := h.svc.HandleStatusCallback(h.ctx, "SMnope", "delivered", ""); !errors.Is(err, notify.ErrReceiptKept) {
			t.Errorf("unknown sid, delivered: %v, want ErrReceiptKept", err)
		}
		if err := h.svc.HandleStatusCallback(h.ctx, "SMnope2", "queued", ""); !errors.Is(err, notify.ErrReceiptNotFinal) {
			t.Errorf("unknown sid, queued: %v, want ErrReceiptNotFinal (nothing to do, nothing read)", err)
		}
	})
}

// earlyReceipts is a channel whose provider calls back before Send even
// returns, so always before the dispatcher writes the provider ID: the
// callback lands on another node (a Service that does not dispatch) and
// must be kept, not waited for, nor lost.
type earlyReceipts struct {
	notify.Channel
	node   *notify.Service
	status map[string][2]string // address → status, error code
	errs   chan error
}

func (c *earlyReceipts) Send(ctx context.Context, m *channel.Message) (channel.Receipt, error) {
	rc, err := c.Channel.Send(ctx, m)
	if err != nil {
		return rc, err
	}
	st := c.status[m.To]
	if err := c.node.HandleStatusCallback(ctx, rc.ProviderID, st[0], st[1]); !errors.Is(err, notify.ErrReceiptKept) {
		c.errs <- fmt.Errorf("early %s receipt for %s: %v, want ErrReceiptKept", st[0], m.To, err)
	}
	return rc, nil
}

// TestEarlyReceipts: a final receipt that arrives before the dispatcher has
// recorded the provider ID is kept in the store and applied as soon as the
// ID is written; receipts still only move a delivery forward.
func TestEarlyReceipts(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		h.importCSV("id,name,phone\ne1,A,+36201111111\ne2,B,+36202222222\n")
		other := h.service(baseConfig(), map[channel.Kind]notify.Channel{}, nil)
		ch := &earlyReceipts{Channel: notifytest.NewRecorder(channel.SMS), node: other, errs: make(chan error, 10),
			status: map[string][2]string{"+36201111111": {"delivered", ""}, "+36202222222": {"undelivered", "21610"}}}
		h.run(h.service(baseConfig(), map[channel.Kind]notify.Channel{channel.SMS: ch}, nil))
		inc := h.declare("Outage", nil, incident.MajorOutage)
		b := h.broadcasts(inc.ID)[0]
		p := h.waitProgress(b.ID, func(p *queue.Progress) bool {
			return sum(p, channel.SMS, queue.StateDelivered, queue.StateUndelivered) == 2
		})
		close(ch.errs)
		for err := range ch.errs {
			t.Error(err)
		}
		if p.Counts[channel.SMS][queue.StateDelivered] != 1 || p.Counts[channel.SMS][queue.StateUndelivered] != 1 {
			t.Errorf("counts %+v, want one delivered and one undelivered", p.Counts)
		}
		ds, err := h.st.FindDeliveries(h.ctx, queue.DeliveryFilter{BroadcastID: b.ID, Address: "+36202222222"})
		if err != nil || len(ds) != 1 || ds[0].ErrorCode != "21610" || ds[0].Reason != "undelivered" {
			t.Errorf("undelivered = %+v, %v", ds, err)
		}
		if _, err := h.st.FindSuppression(h.ctx, h.page.ID, channel.SMS, "+36202222222"); err != nil {
			t.Errorf("a kept 21610 receipt did not suppress: %v", err)
		}
		// Taken once: nothing is left to apply again.
		for _, d := range []string{"+36201111111", "+36202222222"} {
			ds, _ := h.st.FindDeliveries(h.ctx, queue.DeliveryFilter{BroadcastID: b.ID, Address: d})
			if rs, err := h.st.TakeReceipts(h.ctx, []string{ds[0].ProviderID}, h.clock.Now()); err != nil || len(rs) != 0 {
				t.Errorf("receipts still kept for %s: %+v, %v", d, rs, err)
			}
		}
		// A late, out-of-order receipt never moves a delivery back.
		ds, _ = h.st.FindDeliveries(h.ctx, queue.DeliveryFilter{BroadcastID: b.ID, Address: "+36201111111"})
		if err := other.HandleStatusCallback(h.ctx, ds[0].ProviderID, "failed", "30008"); err != nil {
			t.Fatal(err)
		}
		if d, _ := h.st.FindDeliveryByID(h.ctx, ds[0].ID); d.State != queue.StateDelivered {
			t.Errorf("state %s after a late failed receipt, want delivered", d.State)
		}
		// A receipt that is not final says nothing worth keeping.
		if err := other.HandleStatusCallback(h.ctx, "SMnever", "sent", ""); !errors.Is(err, notify.ErrReceiptNotFinal) {
			t.Errorf("sent for an unknown ID: %v, want ErrReceiptNotFinal (nothing to do, nothing read)", err)
		}
	})
}

// TestFooterPerRecipient: a customer and a subscriber whose messages are
// otherwise alike (same language, no name, no time zone) share no cached
// render: each email says why it came to that recipient.
func TestFooterPerRecipient(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		h.importCSV("id,email,language\nc1,cust@example.com,en\n")
		sub := &audience.Subscriber{ID: "sub1", PageID: h.page.ID, Kind: channel.Email, Address: "sub@example.com", Language: "en",
			State: audience.SubscriberActive, Source: "api", CreatedAt: time.Now()}
		if err := h.st.SaveSubscriber(h.ctx, sub); err != nil {
			t.Fatal(err)
		}
		cfg := baseConfig()
		cfg.Workers = map[channel.Kind]int{channel.Email: 1} // one renders first and fills the cache
		h.start(cfg)
		inc := h.declare("Outage", nil, incident.MajorOutage)
		h.waitDone(h.broadcasts(inc.ID)[0].ID)
		for _, tt := range []struct{ to, want, not string }{
			{"cust@example.com", "as a customer of Acme.", "subscribed"},
			{"sub@example.com", "because you subscribed to updates from Acme.", "customer"},
		} {
			ms := h.sb.Messages(sandbox.Filter{Kind: sandbox.KindEmail, To: tt.to})
			if len(ms) != 1 {
				t.Fatalf("%d emails to %s, want 1", len(ms), tt.to)
			}
			if !strings.Contains(ms[0].Body, tt.want) || strings.Contains(ms[0].Body, tt.not) || !strings.Contains(ms[0].HTML, tt.want) {
				t.Errorf("email to %s says %q, want %q:\n%s", tt.to, ms[0].Body[max(0, len(ms[0].Body)-300):], tt.want, ms[0].Body)
			}
		}
	})
}

// TestDryRun counts recipients, suppressions, segments and cost.
func TestDryRun(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		h.importCSV("id,name,phone,email,language\nd1,A,+36201111111,a@example.com,hu\nd2,B,+36202222222,b@example.com,en\nd3,C,+36203333333,,en\n")
		svc := h.svcOrNew()
		if err := h.st.Suppress(h.ctx, audience.Suppression{Kind: channel.SMS, Address: "+36203333333", Reason: "stop", At: time.Now()}); err != nil {
			t.Fatal(err)
		}
		cfg := baseConfig()
		cfg.SMSSegmentPrice = 0.05
		svc = h.service(cfg, nil, nil)
		inc := h.declare("Outage", nil, incident.MajorOutage)
		tests := []struct {
			kind      incident.BroadcastKind
			sms, mail int
		}{
			{incident.BroadcastDeclared, 2, 2},
			{incident.BroadcastUpdated, 0, 2},
		}
		for _, tt := range tests {
			t.Run(string(tt.kind), func(t *testing.T) {
				r, err := svc.DryRun(h.ctx, h.page.ID, inc.ID, tt.kind)
				if err != nil {
					t.Fatal(err)
				}
				if r.Recipients[channel.SMS] != tt.sms || r.Recipients[channel.Email] != tt.mail {
					t.Errorf("recipients %+v", r.Recipients)
				}
				if tt.sms > 0 {
					if r.Suppressed[channel.SMS] != 1 || r.SMSSegments < 2 || r.EstimatedCost <= 0 || len(r.Samples[channel.SMS]) != 2 {
						t.Errorf("dry run %+v", r)
					}
				}
				if len(r.Samples[channel.Email]) != 2 || r.Samples[channel.Email]["hu"] == nil {
					t.Errorf("email samples %v", r.Samples[channel.Email])
				}
			})
		}
		// The resolution of an open incident shows when it would resolve
		// (now), not an empty "Resolved:" line.
		r, err := svc.DryRun(h.ctx, h.page.ID, inc.ID, incident.BroadcastResolved)
		if err != nil {
			t.Fatal(err)
		}
		if m := r.Samples[channel.Email]["en"]; m == nil || regexp.MustCompile(`(?m)^Resolved:\s*$`).MatchString(m.Text) || !strings.Contains(m.Text, "Resolved: ") {
			t.Errorf("the resolution's sample: %+v", m)
		}
		if got, _ := h.st.FindPlans(h.ctx, inc.ID); len(got) != 1 {
			t.Errorf("dry run wrote plans: %d", len(got))
		}
		if got, _ := h.st.FindIncidentByID(h.ctx, inc.ID); got.ResolvedAt != nil {
			t.Errorf("a dry run resolved the incident")
		}
	})
}

// suppressionReads counts the real store's suppression lookups.
type suppressionReads struct {
	engine
	one, batch atomic.Int64
}

func (c *suppressionReads) FindSuppression(ctx context.Context, pageID string, kind channel.Kind, address string) (*audience.Suppression, error) {
	c.one.Add(1)
	return c.engine.FindSuppression(ctx, pageID, kind, address)
}

func (c *suppressionReads) FindSuppressed(ctx context.Context, pageID string, kind channel.Kind, addresses []string) ([]string, error) {
	c.batch.Add(1)
	return c.engine.FindSuppressed(ctx, pageID, kind, addresses)
}

// TestDryRunSuppressed: suppressions of every scope are counted as the
// dispatcher would apply them (page-scoped and global, not another page's),
// with a store query per batch and channel rather than per recipient.
func TestDryRunSuppressed(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		h.importCSV(customersCSV(50, true)) // u000…u049, +36201000000…, uNNN@example.com
		sub := &audience.Subscriber{ID: "sub1", PageID: h.page.ID, Kind: channel.Email, Address: "sub@example.com", Language: "en",
			State: audience.SubscriberActive, Source: "api", CreatedAt: time.Now()}
		if err := h.st.SaveSubscriber(h.ctx, sub); err != nil {
			t.Fatal(err)
		}
		for _, s := range []audience.Suppression{
			{Kind: channel.SMS, Address: "+36201000001", Reason: "stop"},                              // global
			{Kind: channel.SMS, Address: "+36201000049", Reason: "stop"},                              // global, in the last batch
			{PageID: h.page.ID, Kind: channel.SMS, Address: "+36201000002", Reason: "provider:21610"}, // this page
			{PageID: h.page.ID, Kind: channel.Email, Address: "u003@example.com", Reason: "bounce"},
			{PageID: h.page.ID, Kind: channel.Email, Address: "sub@example.com", Reason: "unsubscribe"}, // a subscriber
			{PageID: "another-page", Kind: channel.Email, Address: "u004@example.com", Reason: "unsubscribe"},
			{Kind: channel.Email, Address: "+36201000005", Reason: "stop"}, // the number, on another channel
		} {
			s.At = time.Now()
			if err := h.st.Suppress(h.ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		counted := &suppressionReads{engine: h.st}
		cfg := baseConfig()
		cfg.BatchSize = 10
		svc := h.service(cfg, nil, counted)
		inc := h.declare("Outage", nil, incident.MajorOutage)
		r, err := svc.DryRun(h.ctx, h.page.ID, inc.ID, incident.BroadcastDeclared)
		if err != nil {
			t.Fatal(err)
		}
		if r.Recipients[channel.SMS] != 47 || r.Suppressed[channel.SMS] != 3 || r.Recipients[channel.Email] != 49 || r.Suppressed[channel.Email] != 2 {
			t.Errorf("recipients %v, suppressed %v; want sms 47 (3 suppressed), email 49 (2 suppressed)", r.Recipients, r.Suppressed)
		}
		// 50 customers in batches of 10, then the subscribers: 6 batches, at
		// most one query per channel each.
		if n := counted.one.Load(); n != 0 {
			t.Errorf("%d single suppression lookups, want none", n)
		}
		if n := counted.batch.Load(); n == 0 || n > 12 {
			t.Errorf("%d batch suppression lookups, want 1 to 12", n)
		}
	})
}

// TestImport: all or nothing, unless skipping invalid rows.
func TestImport(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		svc := h.svcOrNew()
		csv := "id,name,phone\nok1,A,+36201111111\nbad,B,12345\nok2,C,06 20 222 2222\n"
		tests := []struct {
			name          string
			skip          bool
			wantErr       bool
			created, rows int
		}{
			{"all or nothing", false, true, 0, 0},
			{"skip invalid", true, false, 2, 2},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res, err := svc.ImportCustomers(h.ctx, h.page.ID, strings.NewReader(csv), "csv", tt.skip)
				if (err != nil) != tt.wantErr || res == nil || res.Created != tt.created || res.Invalid != 1 || res.Errors[0].Line != 3 {
					t.Fatalf("import = %+v, %v", res, err)
				}
				if tt.wantErr && incident.ErrorCode(err) != incident.EINVALID {
					t.Errorf("error %v, want EINVALID", err)
				}
				_, n, err := svc.Customers(h.ctx, h.page.ID, "", 10)
				if err != nil || n != tt.rows {
					t.Errorf("customers %d, %v; want %d", n, err, tt.rows)
				}
			})
		}
	})
}

// TestNoOlderAfterNewer: an acknowledgement held back by a transient error
// must not reach the customer after the resolution that was sent while it
// waited; it is superseded by the newer message instead.
func TestNoOlderAfterNewer(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		h.clock.fixed = time.Date(2027, 1, 15, 12, 0, 0, 0, time.UTC)
		const addr = "+36201234567"
		h.importCSV("id,name,phone\no1,Order," + addr + "\n")
		rec := notifytest.NewRecorder(channel.SMS)
		// The acknowledgement's first send meets a 429 asking for a minute.
		h.run(h.service(baseConfig(), map[channel.Kind]notify.Channel{channel.SMS: notifytest.Wrap(rec, notifytest.TooManyRequests(1, 1, time.Minute))}, nil))
		inc := h.declare("Outage", nil, incident.MajorOutage)
		ack := h.broadcasts(inc.ID)[0]
		waitFor(t, "the retry", func() bool {
			ds, _ := h.st.FindDeliveries(h.ctx, queue.DeliveryFilter{BroadcastID: ack.ID})
			return len(ds) == 1 && ds[0].State == queue.StatePending && ds[0].ErrorCode == "429"
		})
		h.clock.Advance(time.Second)
		h.update(inc, incident.Resolved, "Fixed.", true)
		res := h.broadcasts(inc.ID)[1]
		h.waitDone(res.ID)
		h.clock.Advance(2 * time.Minute) // the acknowledgement's retry is due
		p := h.waitDone(ack.ID)
		got := rec.To(addr)
		if len(got) == 0 {
			t.Fatal("no SMS sent")
		}
		if last := got[len(got)-1]; last.DeliveryID != queue.DeliveryID(res.UpdateID, channel.SMS, addr) {
			t.Fatalf("the resolution is not the last SMS: %d sent, last %+v", len(got), last)
		}
		if len(got) != 1 || p.Counts[channel.SMS][queue.StateCollapsed] != 1 {
			t.Errorf("%d SMS sent, acknowledgement %+v; want only the resolution, the acknowledgement collapsed", len(got), p.Counts)
		}
	})
}

// TestQuietHoursKeepOrder: updates held by quiet hours all come due at the
// window's end together; the customer gets the newest (the resolution),
// which the older ones collapse into, never an older one after it.
func TestQuietHoursKeepOrder(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		// 23:30 in Budapest (CET, UTC+1 in January).
		h.clock.fixed = time.Date(2027, 1, 15, 22, 30, 0, 0, time.UTC)
		const addr = "night@example.com"
		h.importCSV("id,name,email,time_zone\nn1,Night," + addr + ",Europe/Budapest\n")
		rec := notifytest.NewRecorder(channel.Email)
		cfg := baseConfig()
		cfg.QuietStart, cfg.QuietEnd = "22:00", "07:00"
		h.run(h.service(cfg, map[channel.Kind]notify.Channel{channel.Email: rec}, nil))
		inc := h.declare("Slow", nil, incident.DegradedPerformance)
		h.clock.Advance(time.Hour)
		h.update(inc, incident.Identified, "Found it.", true)
		h.clock.Advance(time.Hour)
		h.update(inc, incident.Resolved, "Fixed.", true)
		bs := h.broadcasts(inc.ID)
		for _, b := range bs {
			waitFor(t, "the deferral", func() bool {
				ds, _ := h.st.FindDeliveries(h.ctx, queue.DeliveryFilter{BroadcastID: b.ID})
				return len(ds) == 1 && ds[0].Reason == "quiet hours"
			})
		}
		h.clock.Advance(6 * time.Hour) // 07:30 CET
		for _, b := range bs {
			h.waitDone(b.ID)
		}
		got := rec.To(addr)
		if len(got) != 1 || got[0].DeliveryID != queue.DeliveryID(bs[2].UpdateID, channel.Email, addr) {
			t.Errorf("after the window: %d emails, want only the resolution", len(got))
		}
	})
}

// surveyRecorder records what notify tells the surveys service.
type surveyRecorder struct {
	mu     sync.Mutex
	failed map[string]string // survey ID → reason
}

func (r *surveyRecorder) Undelivered(_ context.Context, id, reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failed == nil {
		r.failed = map[string]string{}
	}
	r.failed[id] = reason
	return nil
}

// TestSurveyUndeliveredReceipt: a survey's SMS that the carrier reports
// undelivered is reported to the surveys service (SetSurveys), with the
// receipt's reason, so the survey stops counting as sent; a delivered one
// is not.
func TestSurveyUndeliveredReceipt(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		h.start(baseConfig())
		rec := &surveyRecorder{}
		h.svc.SetSurveys(rec)
		inc := h.declare("Outage", nil, incident.MajorOutage)
		send := func(id, phone string) *queue.Delivery {
			t.Helper()
			did, err := h.svc.SendSurvey(h.ctx, &surveys.Survey{ID: id, PageID: h.page.ID, IncidentID: inc.ID, Channel: channel.SMS, Address: phone,
				RecipientType: queue.FromContact, RecipientID: "phone:" + phone, Language: "en"}, "https://status.example.com/s/"+id)
			if err != nil {
				t.Fatal(err)
			}
			var d *queue.Delivery
			waitFor(t, "the survey SMS sent", func() bool {
				d, err = h.st.FindDeliveryByID(h.ctx, did)
				return err == nil && d.State == queue.StateSent && d.ProviderID != ""
			})
			return d
		}
		bad, good := send("svbad", "+36203333333"), send("svgood", "+36204444444")
		if err := h.svc.HandleStatusCallback(h.ctx, bad.ProviderID, "undelivered", "30003"); err != nil {
			t.Fatal(err)
		}
		if err := h.svc.HandleStatusCallback(h.ctx, good.ProviderID, "delivered", ""); err != nil {
			t.Fatal(err)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if reason, ok := rec.failed["svbad"]; !ok || !strings.Contains(reason, "undelivered") {
			t.Errorf("the undelivered survey: reported %v (%q)", ok, reason)
		}
		if _, ok := rec.failed["svgood"]; ok || len(rec.failed) != 1 {
			t.Errorf("reported as failed: %v; want only svbad", rec.failed)
		}
	})
}

// refusingFinish is the real store refusing FinishDeliveries while down
// is set, as a full disk (or a Redis gone) refuses the write; it counts
// the refusals.
type refusingFinish struct {
	engine
	down    atomic.Bool
	refused atomic.Int64
}

func (f *refusingFinish) FinishDeliveries(ctx context.Context, ds []*queue.Delivery) error {
	if f.down.Load() {
		f.refused.Add(1)
		return fmt.Errorf("injected: database or disk is full")
	}
	return f.engine.FinishDeliveries(ctx, ds)
}

// TestRefusedOutcomesAreKeptNotResent: while the store refuses to record
// what was sent, the dispatcher keeps those outcomes and sends nothing
// more; once it takes them again, they are written and the rest goes out,
// each message once. Before, the outcomes were dropped after five tries
// and the sending went on: on a full disk every message sent meanwhile
// went again once its lease ran out.
func TestRefusedOutcomesAreKeptNotResent(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		const n, workers = 300, 4
		h.importCSV(customersCSV(n, false))
		cfg := baseConfig()
		cfg.ClaimSize, cfg.Lease = 20, 20*time.Second
		cfg.Workers = map[channel.Kind]int{channel.SMS: workers}
		st := &refusingFinish{engine: h.st}
		st.down.Store(true)
		h.run(h.service(cfg, nil, st))
		inc := h.declare("Outage", nil, incident.MajorOutage)
		b := h.broadcasts(inc.ID)[0]
		waitFor(t, "the store to refuse outcomes, and be asked again", func() bool { return st.refused.Load() >= 7 })
		sent := h.sb.Count(sandbox.KindSMS)
		waitFor(t, "another refusal", func() bool { return st.refused.Load() >= 8 })
		// What the workers had begun may still finish; nothing else goes.
		if now := h.sb.Count(sandbox.KindSMS); now > sent+workers || now >= n {
			t.Errorf("%d SMS sent while the store refused their outcomes (%d at the first look); want the sending stopped", now, sent)
		}
		st.down.Store(false)
		h.clock.Advance(21 * time.Second) // every lease taken so far has run out
		p := h.waitDone(b.ID)
		if got := p.Counts[channel.SMS][queue.StateSent]; got != n {
			t.Errorf("%d SMS recorded sent, want %d", got, n)
		}
		got := h.inbox(sandbox.KindSMS)
		if len(got) != n {
			t.Errorf("%d recipients got an SMS, want %d", len(got), n)
		}
		twice := 0
		for _, k := range got {
			if k > 1 {
				twice++
			}
		}
		if twice > 0 {
			t.Errorf("%d recipients got the SMS more than once; want each once", twice)
		}
	})
}
