package notify

import (
	"context"
	"time"

	"github.com/heraldhq/herald/channel"
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
	for _, d := range ds {
		if d.ProviderID == "" || ctx.Err() != nil {
			continue
		}
		status, code, err := f.FetchStatus(ctx, d.ProviderID)
		if err != nil {
			s.dlog(d).Warn("look up an SMS without a receipt", "provider_id", d.ProviderID, "err", err)
			continue
		}
		if receiptState(status) == "" {
			continue // still queued or sent there: looked at again later
		}
		if err := s.handleStatusCallback(ctx, d.ProviderID, status, code, now); err != nil {
			s.dlog(d).Warn("apply a looked-up SMS status", "provider_id", d.ProviderID, "status", status, "err", err)
			continue
		}
		s.dlog(d).Info("SMS status reconciled from the provider", "provider_id", d.ProviderID, "status", status)
	}
	return len(ds), nil
}
