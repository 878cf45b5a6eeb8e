package complaint_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// drafter is the recorder that also drafts (complaint.Drafter), as notify
// does: a draft is an SMS delivery to the contact's phone, ID derived from
// the complaint and the key. Drafts are recorded as asks too; draftFail
// fails them.
type drafter struct {
	*recorder
	draftFail atomic.Pointer[error]
	queued    atomic.Int32
}

func (d *drafter) Draft(_ context.Context, c *complaint.Complaint, a complaint.Answer, key, text string) ([]*queue.Delivery, func(), error) {
	var fail error
	if p := d.draftFail.Load(); p != nil {
		fail = *p
	}
	d.mu.Lock()
	d.asks = append(d.asks, ask{ComplaintID: c.ID, Answer: a, Key: key, Text: text, Failed: fail != nil})
	d.mu.Unlock()
	if fail != nil {
		return nil, nil, fail
	}
	if c.Contact.Phone == "" {
		return nil, nil, nil
	}
	d1 := &queue.Delivery{ID: queue.DeliveryID("complaint:"+c.ID+":"+key, channel.SMS, c.Contact.Phone), PageID: c.PageID,
		MessageKind: queue.KindComplaintReceived, Kind: channel.SMS, Address: c.Contact.Phone, RecipientType: queue.FromContact,
		RecipientID: c.Contact.Key(), Language: c.Language, Critical: true, State: queue.StatePending,
		NextAt: t0.Add(-24 * time.Hour), CreatedAt: t0, UpdatedAt: t0, Vars: map[string]string{"complaint": c.ID}}
	return []*queue.Delivery{d1}, func() { d.queued.Add(1) }, nil
}

// withDrafter gives the harness's service a drafter in place of the
// recorder; asks still land in h.ack.
func withDrafter(h *harness) *drafter {
	d := &drafter{recorder: h.ack}
	h.svc.Answers = d
	return d
}

// delivery reads a delivery back from the engine's queue.
func (h *harness) delivery(id string) (*queue.Delivery, error) {
	return h.st.(queue.Store).FindDeliveryByID(h.ctx, id)
}

// TestReceiveQueuesAcknowledgementInItsSave: with a Drafter, a new
// complaint is saved once, already acknowledged, with its acknowledgement
// queued in the same save.
func TestReceiveQueuesAcknowledgementInItsSave(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		d := withDrafter(h)
		c, created := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: "+36209999999"}, Text: "help", ExternalID: "SM1"})
		if !created {
			t.Fatal("created = false")
		}
		if c.Version != 1 || c.State != complaint.StateAcknowledged || c.AckedAt == nil || !c.AckedAt.Equal(t0) {
			t.Errorf("returned: version %d, state %s, acked %v; want 1, acknowledged, at t0", c.Version, c.State, c.AckedAt)
		}
		stored := h.get(c.ID)
		if stored.Version != 1 || stored.State != complaint.StateAcknowledged || stored.AckedAt == nil {
			t.Errorf("stored: version %d, state %s, acked %v; want 1, acknowledged", stored.Version, stored.State, stored.AckedAt)
		}
		if !stored.CheckAt.Equal(c.CheckAt) || stored.CheckAt.IsZero() {
			t.Errorf("check at %s, returned %s", stored.CheckAt, c.CheckAt)
		}
		var kinds []complaint.EntryKind
		for _, e := range h.entries(c.ID, "") {
			kinds = append(kinds, e.Kind)
		}
		want := []complaint.EntryKind{complaint.EntryMessageIn, complaint.EntryState, complaint.EntryMessageOut}
		if len(kinds) != len(want) || kinds[0] != want[0] || kinds[1] != want[1] || kinds[2] != want[2] {
			t.Errorf("entries %v, want %v", kinds, want)
		}
		id := queue.DeliveryID("complaint:"+c.ID+":ack", channel.SMS, "+36209999999")
		got, err := h.delivery(id)
		if err != nil || got.State != queue.StatePending || got.Vars["complaint"] != c.ID {
			t.Fatalf("acknowledgement delivery = %+v, %v; want it pending", got, err)
		}
		wantAsks(t, h.ack.ok(""), ask{ComplaintID: c.ID, Answer: complaint.AnswerReceived, Key: "ack"})
		if n := d.queued.Load(); n != 1 {
			t.Errorf("queued called %d times, want 1", n)
		}

		// The provider's retry changes nothing and drafts nothing.
		again, created := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: "+36209999999"}, Text: "help", ExternalID: "SM1"})
		if created || again.ID != c.ID {
			t.Errorf("retry: created %v, complaint %s; want the first, %s", created, again.ID, c.ID)
		}
		if len(h.ack.all()) != 1 || h.count() != 1 {
			t.Errorf("after the retry: %d asks, %d complaints; want 1, 1", len(h.ack.all()), h.count())
		}
		// The sweep finds nothing to acknowledge.
		h.sweep(time.Hour)
		if len(h.ack.all()) != 1 {
			t.Errorf("asks after the sweep: %+v", h.ack.all())
		}
	})
}

// TestReceiveDraftFails: when the answer cannot be drafted, the complaint
// is filed as without a Drafter: saved, then the answer asked for; when
// that fails too (the pipeline is down) it stays unacknowledged until the
// sweep asks again.
func TestReceiveDraftFails(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		d := withDrafter(h)
		down := errors.New("pipeline down")
		d.draftFail.Store(&down)
		h.ack.setFail(down)
		c, created, err := h.svc.Receive(h.ctx, complaint.Intake{PageID: h.page.ID, Channel: complaint.SMS, Contact: complaint.Contact{Phone: bobPhone}, Text: "help"})
		if err != nil || !created {
			t.Fatalf("Receive = %v, %v; want the complaint filed although its answer failed", created, err)
		}
		stored := h.get(c.ID)
		if stored.State != complaint.StateNew || stored.AckedAt != nil || stored.Version != 1 {
			t.Fatalf("state %s, acked %v, version %d; want new, not acknowledged, 1", stored.State, stored.AckedAt, stored.Version)
		}
		if d.queued.Load() != 0 {
			t.Error("queued called for a failed draft")
		}
		d.draftFail.Store(nil)
		h.ack.setFail(nil)
		h.sweep(11 * time.Second)
		stored = h.get(c.ID)
		if stored.State != complaint.StateAcknowledged || stored.AckedAt == nil {
			t.Errorf("after the sweep: state %s, acked %v; want acknowledged", stored.State, stored.AckedAt)
		}
		// The failed draft, the failed ask, then the sweep's ask.
		wantAsks(t, h.ack.all(), ask{ComplaintID: c.ID, Answer: complaint.AnswerReceived, Key: "ack", Failed: true},
			ask{ComplaintID: c.ID, Answer: complaint.AnswerReceived, Key: "ack", Failed: true},
			ask{ComplaintID: c.ID, Answer: complaint.AnswerReceived, Key: "ack"})
	})
}

// pageReads counts the page reads the service makes.
type pageReads struct {
	incident.Store
	n atomic.Int32
}

func (p *pageReads) FindPages(ctx context.Context) ([]*incident.Page, error) {
	p.n.Add(1)
	return p.Store.FindPages(ctx)
}

func (p *pageReads) FindPageByID(ctx context.Context, id string) (*incident.Page, error) {
	p.n.Add(1)
	return p.Store.FindPageByID(ctx, id)
}

// TestReceiveReusesPage: within CandidatesTTL, Receive reuses the page it
// read (an inbound SMS names none, and each read them all); with no TTL it
// reads it every time.
func TestReceiveReusesPage(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		for _, tt := range []struct {
			ttl   time.Duration
			reads int32
		}{{time.Hour, 2}, {0, 6}} {
			reads := &pageReads{Store: h.st}
			svc := h.service()
			svc.Incidents, svc.CandidatesTTL = reads, tt.ttl
			for i := range 3 {
				for _, page := range []string{"", h.page.ID} {
					c, _, err := svc.Receive(h.ctx, complaint.Intake{PageID: page, Channel: complaint.SMS,
						Contact: complaint.Contact{Phone: fmt.Sprintf("+3620999%04d", i)}, Text: "help"})
					if err != nil || c.PageID != h.page.ID {
						t.Fatalf("Receive on %q: %v, %v", page, c, err)
					}
				}
			}
			if got := reads.n.Load(); got != tt.reads {
				t.Errorf("TTL %s: %d page reads for 6 complaints, want %d", tt.ttl, got, tt.reads)
			}
		}
	})
}

// TestResolveRaceOneAnswer: agents resolving one complaint at once (on
// one node or several) resolve it once; one answer goes to the customer,
// the winner's, and every other agent is told it was resolved meanwhile.
// With a Drafter the answer is queued in the resolving save; without one
// it is asked for only after the save won.
func TestResolveRaceOneAnswer(t *testing.T) {
	for _, drafting := range []bool{false, true} {
		t.Run(fmt.Sprintf("drafter=%v", drafting), func(t *testing.T) {
			forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
				h := newHarness(t, open)
				var d *drafter
				if drafting {
					d = withDrafter(h)
				}
				c, _ := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: bobPhone}, Text: "charged twice"})
				before, outBefore := len(h.ack.ok(c.ID)), len(h.entries(c.ID, complaint.EntryMessageOut))
				var queuedBefore int32
				if d != nil {
					queuedBefore = d.queued.Load()
				}
				const n = 6
				errs := make([]error, n)
				var wg sync.WaitGroup
				for i := range n {
					s := h.service() // another node each
					s.Answers = h.svc.Answers
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, errs[i] = s.Resolve(h.ctx, h.page.ID, c.ID, complaint.RemedyRefund, fmt.Sprintf("Refunded by agent %d.", i))
					}()
				}
				wg.Wait()
				winner := -1
				for i, err := range errs {
					switch {
					case err == nil && winner >= 0:
						t.Errorf("agents %d and %d both resolved it", winner, i)
					case err == nil:
						winner = i
					case incident.ErrorCode(err) != incident.ETRANSITION:
						t.Errorf("agent %d: %v, want %s", i, err, incident.ETRANSITION)
					}
				}
				if winner < 0 {
					t.Fatal("nobody resolved it")
				}
				want := fmt.Sprintf("Refunded by agent %d.", winner)
				if got := h.get(c.ID); got.State != complaint.StateResolved || got.Outcome != want {
					t.Errorf("stored: %s %q, want resolved %q", got.State, got.Outcome, want)
				}
				var answers []string
				for _, a := range h.ack.ok(c.ID)[before:] {
					if a.Answer == complaint.AnswerResolved {
						answers = append(answers, a.Text)
					}
				}
				if drafting {
					// Drafts are asked for by every agent; only the
					// winner's save queued one.
					if q := d.queued.Load() - queuedBefore; q != 1 {
						t.Errorf("%d resolving saves queued an answer, want 1", q)
					}
				} else if len(answers) != 1 || answers[0] != want {
					t.Errorf("answers asked for: %q, want only %q", answers, want)
				}
				if out := h.entries(c.ID, complaint.EntryMessageOut)[outBefore:]; len(out) != 1 || out[0].Text != want {
					t.Errorf("timeline answers: %d, want one: %q", len(out), want)
				}
			})
		})
	}
}
