package notify

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/heraldhq/herald/incident"
)

// Status callbacks that arrive while the store cannot be written (Redis
// failing over, a network cut) must not be lost: Twilio does not retry a
// callback it got a 5xx for, and a delivery left in "sent" would stay there
// forever. HandleStatusCallback holds such a receipt in this node's memory
// (bounded) and a loop started by Run applies it once the store answers
// again, with the time it arrived. A node that dies with receipts held
// loses them; they are few (seconds of callbacks), and the provider's own
// record still has them.

// ErrReceiptHeld is returned by HandleStatusCallback for a receipt it
// could not store now and holds in memory to apply later: the caller
// should answer the provider 2xx.
var ErrReceiptHeld = errors.New("notify: receipt held until the store answers")

// DefaultHeldReceipts bounds the receipts a node holds while its store is
// unavailable: at Twilio's callback rates, minutes of callbacks, in a few
// megabytes. Beyond it HandleStatusCallback returns the store's error.
const DefaultHeldReceipts = 100_000

// heldReceipt is one receipt waiting for the store.
type heldReceipt struct {
	providerID, status, errorCode string
	at                            time.Time // when the provider called back
	tries                         int
	next                          time.Time // when to try again
}

// receiptHold is the bounded set of held receipts, oldest first.
type receiptHold struct {
	mu    sync.Mutex
	items []heldReceipt
	max   int
	wake  chan struct{}
}

func newReceiptHold(max int) *receiptHold {
	if max <= 0 {
		max = DefaultHeldReceipts
	}
	return &receiptHold{max: max, wake: make(chan struct{}, 1)}
}

// add holds r; it reports false when the hold is full.
func (h *receiptHold) add(r heldReceipt) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.items) >= h.max {
		return false
	}
	h.items = append(h.items, r)
	wake(h.wake)
	return true
}

// due takes the receipts whose time to try has come.
func (h *receiptHold) due(now time.Time) []heldReceipt {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []heldReceipt
	keep := h.items[:0]
	for _, r := range h.items {
		if r.next.After(now) {
			keep = append(keep, r)
		} else {
			out = append(out, r)
		}
	}
	clear(h.items[len(keep):])
	h.items = keep
	return out
}

// Len is the number of receipts held.
func (h *receiptHold) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.items)
}

// HeldReceipts is how many status callbacks this node holds until its
// store answers again.
func (s *Service) HeldReceipts() int { return s.held.Len() }

// holdReceipt holds a receipt the store refused with err; it returns
// ErrReceiptHeld, or err when the hold is full.
func (s *Service) holdReceipt(providerID, status, errorCode string, at time.Time, err error) error {
	r := heldReceipt{providerID: providerID, status: status, errorCode: errorCode, at: at, next: s.now().Add(heldRetryFirst)}
	if !s.held.add(r) {
		s.log.Error("status callback lost: the store fails and the hold is full", "provider_id", providerID, "held", s.held.Len(), "err", err)
		return err
	}
	s.log.Warn("status callback held until the store answers", "provider_id", providerID, "err", err)
	return ErrReceiptHeld
}

// Retry pacing for held receipts: quick at first (a failover takes
// seconds), then every heldRetryMax, until receiptTTL after the callback.
const (
	heldRetryFirst = 250 * time.Millisecond
	heldRetryMax   = 10 * time.Second
)

// applyHeldLoop applies held receipts as the store comes back, until ctx
// ends.
func (s *Service) applyHeldLoop(ctx context.Context) {
	for sleep(ctx, heldRetryFirst, s.held.wake) {
		for _, r := range s.held.due(s.now()) {
			err := s.handleStatusCallback(ctx, r.providerID, r.status, r.errorCode, r.at)
			switch {
			case err == nil || errors.Is(err, ErrReceiptKept):
				s.log.Info("held status callback applied", "provider_id", r.providerID, "held_for", s.now().Sub(r.at).Round(time.Millisecond))
			case incident.ErrorCode(err) == incident.ENOTFOUND:
				// Not a message of ours after all (or no longer kept).
			case ctx.Err() != nil:
				return
			case s.now().Sub(r.at) > receiptTTL:
				s.log.Error("held status callback dropped: the store failed for too long", "provider_id", r.providerID, "err", err)
			default:
				r.tries++
				r.next = s.now().Add(min(heldRetryFirst<<min(r.tries, 10), heldRetryMax))
				// Held before, so it goes back even when the hold has
				// filled meanwhile: nothing already answered is dropped.
				s.held.mu.Lock()
				s.held.items = append(s.held.items, r)
				s.held.mu.Unlock()
			}
		}
	}
}
