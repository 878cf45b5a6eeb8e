package notify_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/sandbox"
)

// barrierSMS is the harness's Twilio channel whose status look-ups wait
// until n are in flight at once (or a fallback passes), and counts the
// most that ever were.
type barrierSMS struct {
	notify.Channel
	f    channel.StatusFetcher
	n    int
	mu   sync.Mutex
	in   int
	most int
	full chan struct{}
	once sync.Once
}

func (b *barrierSMS) FetchStatus(ctx context.Context, providerID string) (string, string, error) {
	b.mu.Lock()
	b.in++
	b.most = max(b.most, b.in)
	if b.in >= b.n {
		b.once.Do(func() { close(b.full) })
	}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.in--
		b.mu.Unlock()
	}()
	// The fallback keeps a one-at-a-time reconciler from hanging here:
	// it then finishes, slowly, and the count shows it.
	select {
	case <-b.full:
	case <-time.After(200 * time.Millisecond):
	case <-ctx.Done():
	}
	return b.f.FetchStatus(ctx, providerID)
}

// TestReconcileLooksUpInParallel: every status callback is lost, so every
// SMS stays "sent" until the reconciler looks it up at the provider; it
// looks several up at once (a store outage can leave thousands), and
// every one ends delivered.
func TestReconcileLooksUpInParallel(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{DropReceipts: 1})
		const customers, parallel = 40, 8
		h.importCSV(customersCSV(customers, false))
		tw := h.chans[channel.SMS]
		sms := &barrierSMS{Channel: tw, f: tw.(channel.StatusFetcher), n: parallel, full: make(chan struct{})}
		chans := map[channel.Kind]notify.Channel{}
		for k, c := range h.chans {
			chans[k] = c
		}
		chans[channel.SMS] = sms
		cfg := baseConfig()
		cfg.ReconcileAfter = time.Second
		h.svc = h.service(cfg, chans, nil)
		h.stop = h.run(h.svc)
		inc := h.declare("Down", []string{h.compA.ID}, incident.MajorOutage)
		bs := h.broadcasts(inc.ID)
		if len(bs) != 1 {
			t.Fatalf("%d broadcasts, want 1", len(bs))
		}
		p := h.waitProgress(bs[0].ID, func(p *queue.Progress) bool {
			return sum(p, channel.SMS, queue.StateDelivered) == customers
		})
		if n := sum(p, channel.SMS, queue.StateSent); n != 0 {
			t.Errorf("%d SMS still sent", n)
		}
		sms.mu.Lock()
		most := sms.most
		sms.mu.Unlock()
		if most < parallel {
			t.Errorf("at most %d look-ups at once, want %d", most, parallel)
		}
	})
}
