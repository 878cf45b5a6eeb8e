package notify

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/queue"
)

// Reconciling SMS whose receipt never came. Twilio posts a status callback
// once and does not retry; one that reached no node (a node dying, a load
// balancer failing over) or that a node could not keep (heldreceipts.go)
// would leave its delivery "sent" for ever, and a broadcast's progress
// short of delivered. The reconciler asks the provider itself: SMS sent
// more than ReconcileAfter ago and still "sent" are looked up by their
// provider ID (Twilio's message resource), and a final status found there
// is applied like a callback. A message the provider still calls sent is
// looked at again after twice as long, and left alone a day after it was
// sent (some networks never report delivery).

// DefaultReconcileAfter is how long an SMS waits for its receipt before
// herald asks the provider.
const DefaultReconcileAfter = 10 * time.Minute

const (
	reconcileBatch  = 200            // lookups per round
	reconcileGiveUp = 24 * time.Hour // after the send
	// reconcileWorkers look messages up at once. One at a time, a round
	// of 200 took 200 round trips to the provider: after a store outage
	// that left thousands "sent", the backlog outlasted the minutes it
	// should take. Twilio allows an account about a hundred concurrent
	// requests; eight leave the room to the sends.
	reconcileWorkers = 8
)

// reconcileLoop runs rounds until ctx ends; it does nothing when
// reconciling is off or the SMS channel cannot look messages up.
func (s *Service) reconcileLoop(ctx context.Context) {
	f, ok := s.chans[channel.SMS].(channel.StatusFetcher)
	if !ok || s.cfg.ReconcileAfter <= 0 {
		return
	}
	every := min(max(s.cfg.ReconcileAfter/4, time.Second), time.Minute)
	for sleep(ctx, every, nil) {
		for {
			n, err := s.reconcile(ctx, f)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("reconcile unconfirmed SMS", "err", err)
				}
				break
			}
			if n < reconcileBatch {
				break
			}
		}
	}
}

// reconcile runs one round: it returns how many deliveries it looked at.
func (s *Service) reconcile(ctx context.Context, f channel.StatusFetcher) (int, error) {
	after := s.cfg.ReconcileAfter
	now := s.now()
	ds, err := s.store.FindUnconfirmed(ctx, now.Add(-after), reconcileBatch)
	if err != nil || len(ds) == 0 {
		return 0, err
	}
	// Put them off first, each by its age (so the next look comes after
	// twice as long), which also keeps other nodes' rounds off them.
	byAt := map[time.Time][]string{}
	var giveUp []string
	for _, d := range ds {
		sent := d.UpdatedAt
		if d.SentAt != nil {
			sent = *d.SentAt
		}
		age := now.Sub(sent)
		if age > reconcileGiveUp {
			giveUp = append(giveUp, d.ID)
			continue
		}
		next := now.Add(max(age, after) - after).Truncate(time.Second)
		byAt[next] = append(byAt[next], d.ID)
	}
	for at, ids := range byAt {
		if err := s.store.RecheckUnconfirmed(ctx, ids, at); err != nil {
			return 0, err
		}
	}
	if len(giveUp) > 0 {
		if err := s.store.RecheckUnconfirmed(ctx, giveUp, time.Time{}); err != nil {
			return 0, err
		}
		s.log.Info("stopped waiting for SMS receipts a day after sending", "n", len(giveUp))
	}
	s.lookUp(ctx, f, ds, now)
	return len(ds), nil
}

// lookUp asks the provider for each delivery's status, reconcileWorkers
// at a time, and applies the final ones like a callback. It logs one line
// for the round (how many, by status) and one for the look-ups that
// failed (how many, and the first error), not one per message: a backlog
// of thousands would flood the log.
func (s *Service) lookUp(ctx context.Context, f channel.StatusFetcher, ds []*queue.Delivery, now time.Time) {
	work := make(chan *queue.Delivery)
	var (
		mu       sync.Mutex
		byStatus = map[string]int{}
		failed   int
		firstErr error
	)
	note := func(status string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if failed == 0 {
				firstErr = err
			}
			failed++
			return
		}
		byStatus[status]++
	}
	var workers sync.WaitGroup
	for range min(reconcileWorkers, len(ds)) {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for d := range work {
				status, code, err := f.FetchStatus(ctx, d.ProviderID)
				if err != nil {
					s.dlog(d).Debug("look up an SMS without a receipt", "provider_id", d.ProviderID, "err", err)
					note("", err)
					continue
				}
				st := receiptState(status)
				if st == "" {
					continue // still queued or sent there: looked at again later
				}
				// d is sent (FindUnconfirmed): the receipt applies to it
				// as a callback's would, forward only.
				if err := s.applyReceipt(ctx, d, st, status, code, now); err != nil {
					s.dlog(d).Debug("apply a looked-up SMS status", "provider_id", d.ProviderID, "status", status, "err", err)
					note("", err)
					continue
				}
				s.dlog(d).Debug("SMS status reconciled from the provider", "provider_id", d.ProviderID, "status", status)
				note(status, nil)
			}
		}()
	}
	for _, d := range ds {
		if d.ProviderID == "" {
			continue
		}
		select {
		case work <- d:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	workers.Wait()
	if n := sumCounts(byStatus); n > 0 {
		args := []any{"n", n}
		for _, st := range slices.Sorted(maps.Keys(byStatus)) {
			args = append(args, st, byStatus[st])
		}
		s.log.Info("SMS statuses reconciled from the provider", args...)
	}
	if failed > 0 && ctx.Err() == nil {
		s.log.Warn("look up SMS without a receipt", "failed", failed, "of", len(ds), "first_err", firstErr)
	}
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
