package notify

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify/render"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/quietlog"
	"github.com/heraldhq/herald/ratelimit"
	"github.com/prometheus/client_golang/prometheus"
)

// sendTimeout bounds one provider call; providers have their own, shorter
// timeouts, this only guards against one that has none.
const sendTimeout = 45 * time.Second

// claimed is a leased delivery and when (on this node's clock) it was claimed.
type claimed struct {
	d  *queue.Delivery
	at time.Time
	// clear: the claim's batched suppression lookup found none for the
	// address, so the worker need not ask again.
	clear bool
}

// dispatcher sends one channel's deliveries: a claimer keeps Workers
// goroutines fed with leased deliveries, and a finisher writes outcomes
// back in batches.
type dispatcher struct {
	s    *Service
	kind channel.Kind
	ch   Channel
	work chan claimed
	// reply is the channel's reply sender (Deps.Replies), nil when it has
	// none; its own workers take the claimed replies from replies.
	reply   Channel
	replies chan claimed
	done    chan *queue.Delivery
	// inflight counts the claimed deliveries not yet sent on the main
	// lane, replyInflight on the reply lane.
	inflight, replyInflight atomic.Int64
	freed                   chan struct{}
	// unwritten: the finisher holds outcomes the store refused (a full
	// disk, Redis gone). Until it has written them, the workers hand
	// their claims back unsent and the claimer claims nothing: a message
	// sent now could not be recorded either, and would go again once its
	// lease ran out.
	unwritten atomic.Bool
}

func newDispatcher(s *Service, k channel.Kind, ch Channel) *dispatcher {
	w := s.workers(k)
	// A lane holds at most two claims besides what its workers are
	// sending (see run).
	n := 2*s.claimSize(k) + 2*w
	d := &dispatcher{s: s, kind: k, ch: ch, work: make(chan claimed, n), freed: make(chan struct{}, 1)}
	done := 2 * n
	if r := s.reply[k]; r != nil {
		// The reply lane's own two claims, and room for one broadcast
		// claim's worth: a reply stored before the lanes existed (Redis)
		// is claimed with the broadcast and still goes to the reply
		// workers.
		rn := 2*s.replyClaimSize(k) + 2*w + s.claimSize(k)
		d.reply, d.replies = r, make(chan claimed, rn)
		done += 2 * rn
	}
	d.done = make(chan *queue.Delivery, done)
	return d
}

// IsReply reports whether a message kind is a one-to-one reply to a
// person who has just written or signed up (a complaint's answers, a
// sign-up's confirmation or notice) rather than part of a broadcast: on a
// channel with a reply sender (Deps.Replies) these go out through it,
// claimed in a lane of their own (queue.LaneReplies).
func IsReply(k queue.MessageKind) bool { return k.IsReply() }

// replyLane reports whether d goes out through its channel's reply sender.
func (s *Service) replyLane(d *queue.Delivery) bool {
	return s.reply[d.Kind] != nil && d.MessageKind.IsReply()
}

// claimSize is ClaimSize (default 16 × workers, at least 128), but never more
// than a rate-limited channel sends in a quarter of the lease: a claimed
// delivery must be sent well before its lease ends, or another node could
// claim and send it too.
func (s *Service) claimSize(k channel.Kind) int {
	rate := s.cfg.Rates[k].Rate
	if k == channel.Slack && (rate <= 0 || s.cfg.SlackPerChannel.Rate < rate) {
		rate = s.cfg.SlackPerChannel.Rate
	}
	return s.leaseClaim(k, rate)
}

// replyClaimSize is claimSize for the reply lane, which its own rate
// (ReplyRates) paces.
func (s *Service) replyClaimSize(k channel.Kind) int {
	return s.leaseClaim(k, s.cfg.ReplyRates[k].Rate)
}

// leaseClaim is ClaimSize, or its default, capped at what rate (none when
// ≤ 0) sends in an eighth of the lease.
func (s *Service) leaseClaim(k channel.Kind, rate float64) int {
	n := s.cfg.ClaimSize
	if n <= 0 {
		// Large claims amortise the store's per-call cost (one lease
		// transaction, one batched finish); measured on SQLite, 200–500
		// doubled throughput over 32.
		n = max(128, 16*s.workers(k))
	}
	if rate > 0 {
		n = min(n, max(1, int(rate*s.cfg.Lease.Seconds()/8)))
	}
	return n
}

// lane is one of a dispatcher's claim lanes: which deliveries it claims,
// how many at a time, and how many of them it keeps in flight (hand
// routes each claimed delivery to its workers by message kind).
type lane struct {
	lane     queue.Lane
	claim    int
	max      int64 // in flight at most before a claim: two claims and the workers'
	inflight *atomic.Int64
	// idle: the last claim took everything due; the lane is not asked
	// again before new work is announced (wakeKind) or until retry.
	idle  bool
	retry time.Time
	last  time.Time // when the last claim was asked
	// claimLog keeps a failing claim (the store down) to one line in a
	// while.
	claimLog *quietlog.Line
}

// wakeGap is the least time between a drained lane's claims when new work
// is announced. A complaint storm's acknowledgements are queued a few at a
// time (every group of saves announces its own), and each claim is a
// write transaction on SQLite: at 1 500 complaints a second, one claim a
// group was some 300 claims a second, a fifth of the one writer's time.
// Waiting this long after the last claim gathers several groups into one
// claim; a full claim is followed by the next at once, so a broadcast's
// throughput never waits for it.
const wakeGap = 10 * time.Millisecond

func (d *dispatcher) run(ctx context.Context) {
	s := d.s
	var workers, finisher sync.WaitGroup
	work := func(ch Channel, in chan claimed, inflight *atomic.Int64) {
		defer workers.Done()
		for c := range in {
			var out *queue.Delivery
			if d.unwritten.Load() {
				out = s.deferTo(c.d, s.now(), "") // not sent: handed back with the held outcomes
			} else {
				out = s.process(ctx, ch, c.d, c.at, c.clear)
			}
			// A worker is free again: let the claimer top the queue up
			// while the outcome waits for its batched write.
			inflight.Add(-1)
			wake(d.freed)
			d.done <- out
		}
	}
	w := s.workers(d.kind)
	for i := 0; i < w; i++ {
		workers.Add(1)
		go work(d.ch, d.work, &d.inflight)
		if d.reply != nil {
			// Replies have workers of their own: none of them waits for
			// a turn under the broadcast's rate limit.
			workers.Add(1)
			go work(d.reply, d.replies, &d.replyInflight)
		}
	}
	finisher.Add(1)
	go func() {
		defer finisher.Done()
		d.finishLoop()
	}()
	// Two claims' worth in flight per lane: the next claim runs while
	// half the queue is still being sent, so workers never wait for the
	// store. Without a reply sender one claim takes every due delivery,
	// replies first (they are queued due early). With one, the store
	// hands out the broadcast and the replies apart, each lane with its
	// own room: a backlog of replies held by their own rate limit never
	// fills the broadcast's claims or its room, nor the other way round.
	claim := s.claimSize(d.kind)
	lanes := []*lane{{lane: queue.LaneAll, claim: claim, max: int64(2*claim + w), inflight: &d.inflight, claimLog: &quietlog.Line{}}}
	if d.reply != nil {
		rc := s.replyClaimSize(d.kind)
		lanes = []*lane{
			{lane: queue.LaneBroadcast, claim: claim, max: int64(2*claim + w), inflight: &d.inflight, claimLog: &quietlog.Line{}},
			{lane: queue.LaneReplies, claim: rc, max: int64(2*rc + w), inflight: &d.replyInflight, claimLog: &quietlog.Line{}},
		}
	}
	for ctx.Err() == nil {
		if d.unwritten.Load() {
			// The finisher wakes the claimer (freed) once the store has
			// taken the outcomes it holds.
			if !sleep(ctx, s.cfg.Poll, d.freed) {
				break
			}
			continue
		}
		got, failed := false, false
		for _, l := range lanes {
			if l.idle && time.Now().Before(l.retry) || l.inflight.Load() > l.max-int64(l.claim) {
				continue
			}
			l.last = time.Now()
			ds, err := s.store.ClaimDeliveries(ctx, d.kind, l.lane, s.now(), s.cfg.Lease, l.claim)
			if err != nil {
				if ctx.Err() == nil {
					l.claimLog.Log(s.log, slog.LevelError, "claim deliveries", "channel", d.kind, "lane", l.lane, "err", err)
				}
				failed = true
				continue
			}
			// A claim that came back short took everything due: the lane
			// waits for new work (wakeKind) or its next look instead of
			// asking again at once, which found nothing (on SQLite, an
			// empty write transaction).
			l.idle = len(ds) < l.claim
			if l.idle {
				l.retry = time.Now().Add(s.cfg.Poll)
			}
			if len(ds) == 0 {
				continue
			}
			got = true
			d.hand(ctx, ds)
		}
		if failed {
			if !sleep(ctx, s.cfg.Poll, nil) {
				break
			}
			continue
		}
		if got {
			continue
		}
		// Every lane is full or drained: wait for a worker to free room,
		// for new work, or for an idle lane's next look.
		next := s.cfg.Poll
		for _, l := range lanes {
			if l.idle && l.inflight.Load() <= l.max-int64(l.claim) { // a full lane waits for freed
				next = min(next, max(0, time.Until(l.retry)))
			}
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
		case <-d.freed:
		case <-s.wakeKind[d.kind]:
			// New work: each drained lane looks again, wakeGap after its
			// last claim at the earliest.
			for _, l := range lanes {
				if at := l.last.Add(wakeGap); l.idle && at.Before(l.retry) {
					l.retry = at
				}
			}
		case <-t.C:
		}
		t.Stop()
	}
	close(d.work)
	if d.replies != nil {
		close(d.replies)
	}
	workers.Wait()
	close(d.done)
	finisher.Wait()
}

// hand gives a claim's deliveries to the workers of their lane: a reply
// to the reply workers when the channel has a reply sender, whichever
// lane claimed it.
func (d *dispatcher) hand(ctx context.Context, ds []*queue.Delivery) {
	at := time.Now()
	clear := d.s.unsuppressed(ctx, d.kind, ds)
	for _, dl := range ds {
		c := claimed{d: dl, at: at, clear: clear[dl]}
		if d.reply != nil && dl.MessageKind.IsReply() {
			d.replyInflight.Add(1)
			d.replies <- c
		} else {
			d.inflight.Add(1)
			d.work <- c
		}
	}
}

// finishLoop writes outcomes in batches: when a claim's worth (at least 64)
// are waiting, or 20 ms after the first of a batch, whichever comes first.
//
// A batch the store refuses (after a few quick tries) is kept, not
// dropped, and tried again with a growing pause (up to unwrittenMaxWait)
// while unwritten stops the sending: a dropped outcome left its delivery
// "sending", and once the lease ran out it was claimed and sent again (on
// a full disk, every message sent while it was full went twice). The
// outcomes are written under their own leases, which no claim has
// replaced meanwhile on this node; on Redis another node may have
// claimed one whose lease ran out, and its outcome then gives way to
// that node's, as a crash's does. The batch grows only by what was in
// flight when the store failed: nothing is sent, and nothing claimed,
// until it is written.
func (d *dispatcher) finishLoop() {
	maxBatch := max(64, d.s.claimSize(d.kind))
	var (
		batch   []*queue.Delivery
		wait    time.Duration // the pause before the next try while the store refuses
		refused bool          // said so in the log
		line    quietlog.Line
	)
	// write tries the batch tries times; from the first refusal on, the
	// workers send nothing (unwritten) until a try succeeds.
	write := func(ctx context.Context, tries int) (first bool, err error) {
		for attempt := 0; attempt < tries; attempt++ {
			if attempt > 0 {
				time.Sleep(time.Duration(attempt) * 50 * time.Millisecond)
			}
			if err = d.s.store.FinishDeliveries(ctx, batch); err == nil {
				return false, nil
			}
			if !d.unwritten.Swap(true) {
				first = true
			}
		}
		return first, err
	}
	written := func(ctx context.Context) {
		d.s.applyKeptReceipts(ctx, batch)
		for _, dl := range batch {
			if dl.State == queue.StateFailed {
				d.s.surveyFailed(ctx, dl)
			}
			d.s.metrics.count(d.kind, dl.State)
		}
		batch = batch[:0]
		if d.unwritten.Swap(false) {
			wake(d.freed)
		}
		if refused {
			d.s.log.Info("finish deliveries: the store takes outcomes again; sending resumes", "channel", d.kind)
			refused = false
		}
		wait = 0
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	// flush writes the batch, or keeps it and says when to try again.
	flush := func() {
		if len(batch) == 0 {
			return
		}
		// Outcomes are written even while shutting down: a sent message
		// left "sending" would be sent again after its lease expires.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tries := 5
		if d.unwritten.Load() {
			tries = 1 // the pause between tries is the timer's
		}
		if first, err := write(ctx, tries); err != nil {
			if first {
				refused = true
				d.s.log.Error("finish deliveries: the store refuses outcomes; holding them and sending nothing until it takes them",
					"channel", d.kind, "n", len(batch), "err", err)
			} else {
				line.Log(d.s.log, slog.LevelError, "finish deliveries: the store still refuses outcomes", "channel", d.kind, "n", len(batch), "err", err)
			}
			wait = min(max(2*wait, unwrittenFirstWait), unwrittenMaxWait)
			timer.Reset(wait)
			return
		}
		written(ctx)
	}
	for {
		select {
		case dl, ok := <-d.done:
			if !ok {
				// Shutting down: a last try for up to half a minute.
				flush()
				for deadline := time.Now().Add(30 * time.Second); len(batch) > 0 && time.Now().Before(deadline); {
					time.Sleep(wait)
					flush()
				}
				if len(batch) > 0 {
					d.s.log.Error("finish deliveries: outcomes not written at shutdown; their deliveries go again when their leases end",
						"channel", d.kind, "n", len(batch))
				}
				return
			}
			if len(batch) == 0 {
				timer.Reset(20 * time.Millisecond)
			}
			batch = append(batch, dl)
			if len(batch) >= maxBatch && !d.unwritten.Load() {
				timer.Stop()
				flush()
			}
		case <-timer.C:
			flush()
		}
	}
}

// unwrittenFirstWait and unwrittenMaxWait bound the pause between tries
// while the store refuses outcomes (finishLoop).
const (
	unwrittenFirstWait = 100 * time.Millisecond
	unwrittenMaxWait   = 5 * time.Second
)

// settle is the one place a delivery's state changes in the dispatcher.
func (s *Service) settle(d *queue.Delivery, state queue.DeliveryState, code, reason string) *queue.Delivery {
	now := s.now()
	d.State, d.UpdatedAt = state, now
	if code != "" || reason != "" {
		d.ErrorCode, d.Reason = code, truncate(reason, 500)
	}
	if state == queue.StateSent {
		d.SentAt = &now
	}
	return d
}

// deferTo puts a delivery back to wait until at without counting the claim
// as an attempt (quiet hours, frequency cap, shutdown, a lease nearly
// spent): Deferred has the store take back the attempt the claim counted.
func (s *Service) deferTo(d *queue.Delivery, at time.Time, reason string) *queue.Delivery {
	d.Deferred = true
	d.NextAt = at
	return s.settle(d, queue.StatePending, "", reason)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// unsuppressed looks a claim's addresses up in one query per page and
// returns the deliveries no suppression applies to. A worker still asks
// for the others itself (for the reason, and in case the lookup failed):
// the one query per claim replaces one per delivery, and a STOP that lands
// between the claim and the send (seconds at most) is the only one missed.
func (s *Service) unsuppressed(ctx context.Context, kind channel.Kind, ds []*queue.Delivery) map[*queue.Delivery]bool {
	byPage := map[string][]string{}
	for _, d := range ds {
		byPage[d.PageID] = append(byPage[d.PageID], d.Address)
	}
	hit := map[string]map[string]bool{}
	for page, addrs := range byPage {
		sup, err := s.store.FindSuppressed(ctx, page, kind, addrs)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("find suppressed", "channel", kind, "err", err)
			}
			return nil
		}
		hit[page] = make(map[string]bool, len(sup))
		for _, a := range sup {
			hit[page][a] = true
		}
	}
	clear := make(map[*queue.Delivery]bool, len(ds))
	for _, d := range ds {
		if !hit[d.PageID][d.Address] {
			clear[d] = true
		}
	}
	return clear
}

// process decides a claimed delivery's fate and sends it when it may go.
// clear says the claim's batched lookup found no suppression. Each step
// below may settle or defer the delivery; the first that does decides.
func (s *Service) process(ctx context.Context, ch Channel, d *queue.Delivery, claimedAt time.Time, clear bool) *queue.Delivery {
	if ctx.Err() != nil || s.leaseSpent(claimedAt) {
		return s.deferTo(d, s.now(), "")
	}
	if s.broadcastCancelled(ctx, d) {
		return s.settle(d, queue.StateCancelled, "", "broadcast cancelled")
	}
	if out, done := s.suppressedNow(ctx, d, clear); done {
		return out
	}
	now := s.now()
	if end := s.quietHoursEnd(ctx, d, now); !end.IsZero() {
		return s.deferTo(d, end, "quiet hours")
	}
	if out, done := s.supersededOrCapped(ctx, d, now); done {
		return out
	}
	// The rate limiter may hold it a while: the lease is checked again,
	// and a cancel since then wins.
	if err := s.waitTurn(ctx, d); err != nil || s.leaseSpent(claimedAt) {
		return s.deferTo(d, s.now(), "")
	}
	if s.broadcastCancelled(ctx, d) {
		return s.settle(d, queue.StateCancelled, "", "broadcast cancelled")
	}
	msg, err := s.message(ctx, d)
	if err != nil {
		return s.renderFailed(d, err)
	}
	return s.sendNow(ctx, ch, d, msg)
}

// leaseSpent decides whether a claim has waited (in the queue, or for the
// rate limiter) for most of its lease: such a delivery is handed back
// rather than risk a second node sending it too.
func (s *Service) leaseSpent(claimedAt time.Time) bool {
	return time.Since(claimedAt) > s.cfg.Lease*3/4
}

// broadcastCancelled decides whether the delivery's broadcast has been
// cancelled (as far as the plan cache knows; a lookup error reads as not).
func (s *Service) broadcastCancelled(ctx context.Context, d *queue.Delivery) bool {
	if d.BroadcastID == "" {
		return false
	}
	st, err := s.cache.planState(ctx, d.BroadcastID)
	return err == nil && st == queue.PlanCancelled
}

// answersDespite reports whether d goes out although its address is
// suppressed by sup: the answer to a person's own complaint (its
// acknowledgement, receipt, an agent's reply, the resolution) is no bulk
// notice, and an address unsubscribed from the page's notices by their
// link (reason "unsubscribe") still hears back about what it wrote. A
// STOP, a bounce or a spam report stops those as well.
func answersDespite(d *queue.Delivery, sup *audience.Suppression) bool {
	switch d.MessageKind {
	case queue.KindComplaintAck, queue.KindComplaintReceived, queue.KindComplaintAnswer, queue.KindComplaintResolved:
		return sup.Reason == reasonUnsubscribe
	}
	return false
}

// suppressedNow decides whether the recipient no longer takes the
// delivery: its address was suppressed since planning (looked up only
// when the claim's batched lookup was not clear), or its subscriber is
// gone, unsubscribed, or (but for a confirmation) not yet confirmed. It
// returns the settled delivery and true, or a retry when a lookup failed.
// Suppression is checked here, not only at plan time: a STOP may arrive
// between planning and sending.
func (s *Service) suppressedNow(ctx context.Context, d *queue.Delivery, clear bool) (*queue.Delivery, bool) {
	if !clear {
		if sup, err := s.store.FindSuppression(ctx, d.PageID, d.Kind, d.Address); err == nil {
			if !answersDespite(d, sup) {
				return s.settle(d, queue.StateSuppressed, "", sup.Reason), true
			}
		} else if !errors.Is(err, incident.ErrNotFound) {
			return s.retry(d, err), true
		}
	}
	if d.RecipientType == queue.FromSubscriber {
		sub, err := s.store.FindSubscriberByID(ctx, d.RecipientID)
		switch {
		case errors.Is(err, incident.ErrNotFound):
			return s.settle(d, queue.StateSuppressed, "", "unsubscribed"), true
		case err != nil:
			return s.retry(d, err), true
		case sub.State == audience.SubscriberUnsubscribed:
			return s.settle(d, queue.StateSuppressed, "", "unsubscribed"), true
		case sub.State == audience.SubscriberPending && d.MessageKind != queue.KindConfirm:
			return s.settle(d, queue.StateSuppressed, "", "unconfirmed"), true
		}
	}
	return nil, false
}

// quietHoursEnd decides whether quiet hours hold the delivery at now: it
// returns when they end in the customer's time zone (the page's when the
// customer has none), or the zero time when the delivery may go. Critical
// deliveries and subscribers' are never held.
func (s *Service) quietHoursEnd(ctx context.Context, d *queue.Delivery, now time.Time) time.Time {
	if d.Critical || d.RecipientType != queue.FromCustomer || !s.quiet.on {
		return time.Time{}
	}
	zone := d.TimeZone
	if zone == "" {
		if p, err := s.cache.page(ctx, d.PageID); err == nil {
			zone = p.TimeZone
		}
	}
	return s.quiet.until(now, incident.Location(zone))
}

// supersededOrCapped decides whether the incident's other messages to the
// address stop this one: a held-back delivery (retried or deferred) may
// have been overtaken by a newer message, gone or waiting, and the
// frequency cap may hold it. It returns the settled or deferred delivery
// and true when one of them does.
func (s *Service) supersededOrCapped(ctx context.Context, d *queue.Delivery, now time.Time) (*queue.Delivery, bool) {
	// A compensation announcement is its own message, which no update
	// replaces and the cap must not fold into a next message that may
	// never come.
	if d.IncidentID == "" || d.MessageKind == queue.KindCompensation {
		return nil, false
	}
	if d.Attempts > 1 || d.NextAt.After(d.CreatedAt) {
		if out, done := s.superseded(ctx, d); done {
			return out, true
		}
	}
	// The all-clear is never held by the cap: nothing newer will come to
	// carry it, so holding it would only make the customer wait up to the
	// cap's window for "fixed" and the apology. An update the cap held
	// collapses into it when its turn comes (superseded).
	final := d.MessageKind == queue.KindResolved || d.MessageKind == queue.KindMaintenanceCompleted
	if s.cfg.FrequencyCap > 0 && !final {
		if out, capped := s.frequencyCap(ctx, d, now); capped {
			return out, true
		}
	}
	return nil, false
}

// renderFailed decides what a rendering error means: an invalid template
// or message fails the delivery for good, anything else is retried.
func (s *Service) renderFailed(d *queue.Delivery, err error) *queue.Delivery {
	switch {
	case errors.Is(err, errNewerDecision):
		return s.settle(d, queue.StateCollapsed, "", err.Error())
	case errors.Is(err, errNothingToAnnounce):
		return s.settle(d, queue.StateCollapsed, "", err.Error())
	case errors.Is(err, errWaitEarlier):
		return s.retry(d, err)
	}
	s.dlog(d).Error("render", "err", err)
	if incident.ErrorCode(err) == incident.EINVALID {
		return s.settle(d, queue.StateFailed, "render", err.Error())
	}
	return s.retry(d, err)
}

// sendNow sends msg through ch, within sendTimeout even when ctx ends
// meanwhile, and decides the outcome: sent with the provider's ID, failed
// on a permanent error (which may suppress the address), else retried.
func (s *Service) sendNow(ctx context.Context, ch Channel, d *queue.Delivery, msg *channel.Message) *queue.Delivery {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
	rc, err := ch.Send(sctx, msg)
	cancel()
	if err != nil {
		var se *channel.SendError
		if errors.As(err, &se) && se.Permanent {
			s.dlog(d).Warn("permanent send error", "code", se.Code)
			s.suppressAfter(ctx, d, se.Code)
			return s.settle(d, queue.StateFailed, se.Code, se.Reason)
		}
		return s.retry(d, err)
	}
	// An earlier attempt's error no longer describes the delivery.
	d.ProviderID, d.ErrorCode, d.Reason = rc.ProviderID, "", truncate(rc.Reply, 500)
	return s.settle(d, queue.StateSent, "", "")
}

// dlog is the logger for a delivery's events, built only when one is
// logged (a With per delivery cost more than the rest of its bookkeeping).
func (s *Service) dlog(d *queue.Delivery) *slog.Logger {
	return s.log.With("delivery_id", d.ID, "incident_id", d.IncidentID, "channel", d.Kind)
}

// retry schedules a transient failure with backoff, or fails the delivery
// once it has had MaxAttempts.
func (s *Service) retry(d *queue.Delivery, err error) *queue.Delivery {
	code, reason := "transient", err.Error()
	var se *channel.SendError
	if errors.As(err, &se) {
		code, reason = se.Code, se.Reason
	} else if errors.Is(err, context.DeadlineExceeded) {
		code = "timeout"
	}
	if d.Attempts >= s.cfg.MaxAttempts {
		s.dlog(d).Warn("retries exhausted", "attempts", d.Attempts, "code", code)
		return s.settle(d, queue.StateFailed, code, reason)
	}
	d.NextAt = s.now().Add(backoff(d.Attempts, s.cfg.RetryBase, s.cfg.RetryMax, channel.RetryAfter(err)))
	return s.settle(d, queue.StatePending, code, reason)
}

// suppressAfter records what a permanent error says about the address:
// Twilio 21610 means the number replied STOP to our sender; an SMTP 5.1.1
// means the mailbox does not exist; a webhook's 410 Gone is the receiver
// asking to be removed (as Statuspage reads it), so that subscriber is
// unsubscribed with reason "webhook:410" rather than called again.
func (s *Service) suppressAfter(ctx context.Context, d *queue.Delivery, code string) {
	if d.Kind == channel.Webhook && code == "HTTP 410" && d.RecipientType == queue.FromSubscriber {
		sub, err := s.store.FindSubscriberByID(ctx, d.RecipientID)
		if err == nil {
			err = s.unsubscribeFor(ctx, sub, "webhook:410")
		}
		if err != nil && !errors.Is(err, incident.ErrNotFound) {
			s.log.Error("unsubscribe gone webhook", "delivery_id", d.ID, "channel", d.Kind, "err", err)
		}
		return
	}
	var sup *audience.Suppression
	switch {
	case d.Kind == channel.SMS && code == "21610":
		sup = &audience.Suppression{Kind: channel.SMS, Address: d.Address, Reason: "provider:21610"}
	case d.Kind == channel.Email && strings.Contains(code, "5.1.1"):
		sup = &audience.Suppression{Kind: channel.Email, Address: d.Address, Reason: "bounce"}
	}
	if sup == nil {
		return
	}
	sup.At = s.now()
	if err := s.store.Suppress(ctx, *sup); err != nil {
		s.log.Error("suppress", "delivery_id", d.ID, "channel", d.Kind, "err", err)
	}
}

// frequencyCap holds a delivery when its address already had FrequencyCap
// messages about the incident on this channel within the window: it
// collapses into a newer queued message (which shows the incident's latest
// state anyway), or waits until the window frees.
func (s *Service) frequencyCap(ctx context.Context, d *queue.Delivery, now time.Time) (*queue.Delivery, bool) {
	// Cheap exit for the common case: an incident with no more broadcasts
	// than the cap cannot exceed it.
	if n, err := s.cache.planCount(ctx, d.IncidentID); err == nil && n <= s.cfg.FrequencyCap {
		return nil, false
	}
	// The cap is per recipient (a customer, or a subscriber) and address:
	// naming the recipient lets a store find its few deliveries without
	// reading every one the incident's broadcasts planned.
	mine := queue.DeliveryFilter{IncidentID: d.IncidentID, RecipientID: d.RecipientID, Kind: d.Kind, Address: d.Address, Limit: 100}
	f := mine
	f.States = []queue.DeliveryState{queue.StateSent, queue.StateDelivered, queue.StateUndelivered}
	sent, err := s.store.FindDeliveries(ctx, f)
	if err != nil {
		return s.retry(d, err), true
	}
	from := now.Add(-s.cfg.FrequencyWindow)
	var within []time.Time
	for _, x := range sent {
		if x.ID != d.ID && x.SentAt != nil && x.SentAt.After(from) {
			within = append(within, *x.SentAt)
		}
	}
	if len(within) < s.cfg.FrequencyCap {
		return nil, false
	}
	f = mine
	f.States = []queue.DeliveryState{queue.StatePending, queue.StateSending}
	open, err := s.store.FindDeliveries(ctx, f)
	if err != nil {
		return s.retry(d, err), true
	}
	for _, x := range open {
		if x.ID != d.ID && s.laterUpdate(ctx, x, d) {
			return s.settle(d, queue.StateCollapsed, "", "frequency cap: superseded by a newer message"), true
		}
	}
	oldest := within[0]
	for _, t := range within {
		if t.Before(oldest) {
			oldest = t
		}
	}
	return s.deferTo(d, oldest.Add(s.cfg.FrequencyWindow), "frequency cap"), true
}

// superseded collapses a delivery that was held back when its recipient
// already has a newer message about the incident on this channel, sent or
// queued, or told them in the answer to their complaint (the resolution,
// collapsed into it: reasonToldInAnswer): sent now, the older one would
// arrive after the newer (an update after the resolution), and the newer
// one shows the incident's latest state anyway.
func (s *Service) superseded(ctx context.Context, d *queue.Delivery) (*queue.Delivery, bool) {
	if n, err := s.cache.planCount(ctx, d.IncidentID); err == nil && n <= 1 {
		return nil, false
	}
	ds, err := s.store.FindDeliveries(ctx, queue.DeliveryFilter{IncidentID: d.IncidentID, RecipientID: d.RecipientID, Kind: d.Kind, Address: d.Address,
		States: []queue.DeliveryState{queue.StatePending, queue.StateSending, queue.StateSent, queue.StateDelivered, queue.StateUndelivered, queue.StateCollapsed}, Limit: 100})
	if err != nil {
		return s.retry(d, err), true
	}
	for _, x := range ds {
		if x.State == queue.StateCollapsed && !strings.HasPrefix(x.Reason, reasonToldInAnswer) {
			continue // folded into another message, which is here if it counts
		}
		if x.ID != d.ID && s.laterUpdate(ctx, x, d) {
			return s.settle(d, queue.StateCollapsed, "", "superseded by a newer message"), true
		}
	}
	return nil, false
}

// laterUpdate reports whether x is about a later update of the incident
// than d. The incident's updates (newest first) decide, not the
// deliveries' creation times, which two planners or clocks may interleave;
// an update the cached incident does not have yet is the newest.
func (s *Service) laterUpdate(ctx context.Context, x, d *queue.Delivery) bool {
	sn, err := s.cache.snapshot(ctx, d.IncidentID)
	if err != nil {
		return x.CreatedAt.After(d.CreatedAt)
	}
	pos := func(id string) int {
		for i, u := range sn.inc.Updates {
			if u.ID == id {
				return i
			}
		}
		return -1
	}
	return pos(x.UpdateID) < pos(d.UpdateID)
}

// waitTurn takes the delivery's tokens: the Slack channel's own (1/s per
// channel) first, then the provider's, waiting as told.
func (s *Service) waitTurn(ctx context.Context, d *queue.Delivery) error {
	if d.Kind == channel.Slack {
		if err := s.take(ctx, "slack:"+d.Address, s.cfg.SlackPerChannel); err != nil {
			return err
		}
	}
	if s.replyLane(d) {
		// The reply sender's own limit, under a key of its own (shared
		// by every node, like the channel's).
		if l, ok := s.cfg.ReplyRates[d.Kind]; ok && l.Rate > 0 {
			return s.take(ctx, "reply:"+string(d.Kind), l)
		}
		return nil
	}
	if l, ok := s.cfg.Rates[d.Kind]; ok && l.Rate > 0 {
		return s.take(ctx, "channel:"+string(d.Kind), l)
	}
	return nil
}

// reserveAhead is how far ahead a worker reserves its rate-limit turn. A
// worker holding a turn goes at it however late its timer fires, so the
// provider's rate is held exactly (asking again after each wait loses the
// timer's lateness from every interval); a second keeps the reserved but
// unused turns few next to a lease.
const reserveAhead = time.Second

func (s *Service) take(ctx context.Context, key string, l ratelimit.Limit) error {
	if n := turnBatch(l); n > 1 && !s.localLimiter {
		return s.takeBatched(ctx, key, l, n)
	}
	for {
		wait, err := s.lim.Take(ctx, key, l, reserveAhead)
		reserved := err == nil && wait <= reserveAhead
		switch {
		case err != nil:
			s.limiterLog.Log(s.log, slog.LevelWarn, "rate limiter", "err", err)
			wait = time.Second / time.Duration(max(1, int(l.Rate)))
		case reserved && wait == 0:
			return nil
		case !reserved:
			wait -= reserveAhead
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		if reserved {
			return nil
		}
	}
}

// turnBatch is how many turns a node reserves from a shared limiter in one
// call: 10 ms worth (at most 64), so that at a few thousand messages a
// second the workers do not queue for one limiter round trip each (on
// Redis, under a complaint storm, 8 workers each waiting for one fell
// below 1 000 SMS/s against a limit of 3 000). At most 10 ms of turns go
// unused when a node stops sending.
func turnBatch(l ratelimit.Limit) int {
	return min(64, max(1, int(l.Rate/100)))
}

// turns are one key's rate-limit turns a node reserved and hands out to
// its workers one by one.
type turns struct {
	mu   sync.Mutex
	next time.Time // the next turn
	left int       // turns reserved and not yet handed out
}

// takeBatched is take for a shared limiter: a worker takes the next of
// the turns this node reserved, and when none is left reserves n more in
// one call. n turns are one cell of the same bucket at 1/n of the rate
// (and of the burst), so every node's reservations count against one
// limit; the cell's wait is its last turn's, so its first turn is
// (n-1)/rate earlier.
func (s *Service) takeBatched(ctx context.Context, key string, l ratelimit.Limit, n int) error {
	s.turnsMu.Lock()
	b := s.turns[key]
	if b == nil {
		b = &turns{}
		s.turns[key] = b
	}
	s.turnsMu.Unlock()
	step := time.Duration(float64(time.Second) / l.Rate)
	cell := ratelimit.Limit{Rate: l.Rate / float64(n), Burst: max(1, l.BurstSize()/n)}
	for {
		b.mu.Lock()
		if b.left > 0 {
			at := b.next
			b.next, b.left = b.next.Add(step), b.left-1
			b.mu.Unlock()
			return waitUntil(ctx, at)
		}
		wait, err := s.lim.Take(ctx, key, cell, reserveAhead)
		switch {
		case err != nil:
			b.mu.Unlock()
			s.limiterLog.Log(s.log, slog.LevelWarn, "rate limiter", "err", err)
			wait = time.Second / time.Duration(max(1, int(l.Rate)))
		case wait <= reserveAhead:
			b.next, b.left = time.Now().Add(max(0, wait-time.Duration(n-1)*step)), n
			b.mu.Unlock()
			continue
		default:
			b.mu.Unlock()
			wait -= reserveAhead
		}
		if err := waitUntil(ctx, time.Now().Add(wait)); err != nil {
			return err
		}
	}
}

// waitUntil sleeps until at, or until ctx ends.
func waitUntil(ctx context.Context, at time.Time) error {
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// message renders (from cache) and personalises the delivery's message.
func (s *Service) message(ctx context.Context, d *queue.Delivery) (*channel.Message, error) {
	if d.MessageKind == queue.KindConfirm || d.MessageKind == queue.KindSubscribed {
		p, err := s.cache.page(ctx, d.PageID)
		if err != nil {
			return nil, err
		}
		m, err := s.r.RenderNotice(d.MessageKind, d.Kind, p, render.Recipient{Language: d.Language}, d.Vars["url"], d.Vars["code"])
		if err != nil {
			return nil, err
		}
		m.DeliveryID, m.To = d.ID, d.Address
		return m, nil
	}
	if isComplaintMessage(d.MessageKind) {
		return s.complaintMessage(ctx, d)
	}
	if d.MessageKind == queue.KindCompensationAgents {
		return s.agentMessage(ctx, d)
	}
	if d.MessageKind == queue.KindSurvey && d.IncidentID == "" || d.MessageKind == queue.KindSurveyAsk || d.MessageKind == queue.KindSurveyThanks {
		return s.surveyMessage(ctx, d)
	}
	snap, err := s.cache.snapshot(ctx, d.IncidentID)
	if err != nil {
		return nil, err
	}
	comp, err := s.compensationLine(ctx, d)
	if err != nil {
		return nil, err
	}
	if d.MessageKind == queue.KindCompensation && comp == "" {
		// The customer got it meanwhile, or the policy changed: nothing
		// to announce to them.
		return nil, errNothingToAnnounce
	}
	named := d.Name != "" && (d.Kind == channel.Email || d.Kind == channel.Slack)
	key := renderKey{inc: d.IncidentID, version: snap.inc.Version, update: d.UpdateID, kind: d.Kind, mk: d.MessageKind,
		lang: d.Language, zone: d.TimeZone, named: named, rtype: d.RecipientType, comp: comp}
	tmpl, err := s.cache.render(key, func() (*channel.Message, error) {
		in := render.Input{Kind: d.MessageKind, Page: snap.page, Status: snap.status, Incident: snap.inc,
			Components: snap.comps, MaxSMSSegments: s.cfg.MaxSMSSegments, Now: s.now(),
			Recipient:      render.Recipient{Language: d.Language, TimeZone: d.TimeZone, Type: d.RecipientType},
			UnsubscribeURL: s.link(unsubscribePathPrefix, render.UnsubscribePlaceholder), Compensation: comp}
		for _, u := range snap.inc.Updates {
			if u.ID == d.UpdateID {
				in.Update = u
			}
		}
		if named {
			in.Recipient.Name = render.NamePlaceholder
		}
		return s.r.Render(d.Kind, in)
	})
	if err != nil {
		return nil, err
	}
	unsub, err := s.UnsubscribeURL(ctx, d)
	if err != nil {
		return nil, err
	}
	tok := strings.TrimPrefix(unsub, s.link(unsubscribePathPrefix, ""))
	return render.Personalise(tmpl, d, tok), nil
}

// ---- caches ----

type renderKey struct {
	inc     string
	version int
	update  string
	kind    channel.Kind
	mk      queue.MessageKind
	lang    string
	zone    string
	named   bool
	rtype   queue.RecipientType // the email footer differs for customers and subscribers
	comp    string              // the recipient's compensation line
}

type snapshot struct {
	inc     *incident.Incident
	page    *incident.Page
	comps   []*incident.Component
	status  incident.PageStatus
	fetched time.Time
}

type planEntry struct {
	state   queue.PlanState
	fetched time.Time
}

type countEntry struct {
	n       int
	fetched time.Time
}

// snapshotCache holds what rendering and dispatch read per delivery but
// which changes rarely: the incident with its page, components and page
// status (per incident, re-read after a second or an event), plan states
// and counts, and rendered messages (per incident version).
type snapshotCache struct {
	s       *Service
	mu      sync.Mutex
	snaps   map[string]*snapshot
	pages   map[string]*snapshot
	plans   map[string]planEntry
	counts  map[string]countEntry
	renders map[renderKey]*channel.Message
}

const cacheTTL = time.Second

func newSnapshotCache(s *Service) *snapshotCache {
	return &snapshotCache{s: s, snaps: map[string]*snapshot{}, pages: map[string]*snapshot{}, plans: map[string]planEntry{},
		counts: map[string]countEntry{}, renders: map[renderKey]*channel.Message{}}
}

func (c *snapshotCache) invalidate(incidentID string) {
	c.mu.Lock()
	delete(c.snaps, incidentID)
	delete(c.counts, incidentID)
	c.mu.Unlock()
}

func (c *snapshotCache) forgetPlan(id string) {
	c.mu.Lock()
	delete(c.plans, id)
	c.mu.Unlock()
}

func (c *snapshotCache) snapshot(ctx context.Context, incidentID string) (*snapshot, error) {
	c.mu.Lock()
	sn, ok := c.snaps[incidentID]
	c.mu.Unlock()
	if ok && time.Since(sn.fetched) < cacheTTL {
		return sn, nil
	}
	st := c.s.inc.Store
	inc, err := st.FindIncidentByID(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	page, err := st.FindPageByID(ctx, inc.PageID)
	if err != nil {
		return nil, err
	}
	comps, err := st.FindComponents(ctx, inc.PageID)
	if err != nil {
		return nil, err
	}
	open, _, err := st.FindIncidents(ctx, incident.IncidentFilter{PageID: inc.PageID,
		Statuses: []incident.Status{incident.Investigating, incident.Identified, incident.Monitoring, incident.InProgress, incident.Verifying}})
	if err != nil {
		return nil, err
	}
	sn = &snapshot{inc: inc, page: page, comps: comps, status: incident.Overall(comps, open), fetched: time.Now()}
	c.mu.Lock()
	c.snaps[incidentID] = sn
	c.pages[inc.PageID] = sn
	c.mu.Unlock()
	return sn, nil
}

func (c *snapshotCache) page(ctx context.Context, pageID string) (*incident.Page, error) {
	c.mu.Lock()
	sn, ok := c.pages[pageID]
	c.mu.Unlock()
	if ok && time.Since(sn.fetched) < 10*cacheTTL {
		return sn.page, nil
	}
	p, err := c.s.inc.Store.FindPageByID(ctx, pageID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.pages[pageID] = &snapshot{page: p, fetched: time.Now()}
	c.mu.Unlock()
	return p, nil
}

func (c *snapshotCache) planState(ctx context.Context, broadcastID string) (queue.PlanState, error) {
	c.mu.Lock()
	e, ok := c.plans[broadcastID]
	c.mu.Unlock()
	if ok && time.Since(e.fetched) < cacheTTL/2 {
		return e.state, nil
	}
	p, err := c.s.store.FindPlan(ctx, broadcastID)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	c.plans[broadcastID] = planEntry{state: p.State, fetched: time.Now()}
	if len(c.plans) > 10000 {
		c.plans = map[string]planEntry{}
	}
	c.mu.Unlock()
	return p.State, nil
}

func (c *snapshotCache) planCount(ctx context.Context, incidentID string) (int, error) {
	c.mu.Lock()
	e, ok := c.counts[incidentID]
	c.mu.Unlock()
	if ok && time.Since(e.fetched) < cacheTTL {
		return e.n, nil
	}
	plans, err := c.s.store.FindPlans(ctx, incidentID)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	c.counts[incidentID] = countEntry{n: len(plans), fetched: time.Now()}
	c.mu.Unlock()
	return len(plans), nil
}

// render returns the cached message for key, rendering it on a miss.
// Messages for older versions of an incident are dropped as it changes.
func (c *snapshotCache) render(key renderKey, make func() (*channel.Message, error)) (*channel.Message, error) {
	c.mu.Lock()
	m, ok := c.renders[key]
	c.mu.Unlock()
	if ok {
		return m, nil
	}
	m, err := make()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.renders) > 20000 {
		c.renders = map[renderKey]*channel.Message{}
	}
	for k := range c.renders {
		if k.inc == key.inc && k.version < key.version {
			delete(c.renders, k)
		}
	}
	c.renders[key] = m
	c.mu.Unlock()
	return m, nil
}

// ---- metrics ----

type metrics struct {
	planned    prometheus.Counter
	deliveries *prometheus.CounterVec
	limited    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		planned: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "herald", Subsystem: "notify", Name: "planned_total",
			Help: "Deliveries written by the planner."}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "herald", Subsystem: "notify", Name: "deliveries_total",
			Help: "Dispatch outcomes per channel and resulting state (pending means retried or deferred)."}, []string{"channel", "state"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "herald", Subsystem: "notify", Name: "auto_replies_limited_total",
			Help: "Automatic answers (complaint acknowledgements and receipts, replies to survey replies) not sent: the address had its auto_reply_limit within auto_reply_window."}, []string{"channel"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.planned, m.deliveries, m.limited} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *metrics) count(k channel.Kind, st queue.DeliveryState) {
	m.deliveries.WithLabelValues(string(k), string(st)).Inc()
}
