package notify

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify/render"
	"github.com/heraldhq/herald/queue"
)

// Planning phases, in order. Customers come first so that when a customer
// is also a subscriber on the same channel and address, the one delivery
// (DeliveryID is update × channel × address, and the store skips existing
// IDs) carries the customer's name, language and time zone.
const (
	phaseCustomers   = "c"
	phaseSubscribers = "s"
	phaseFollowers   = "f"
	phaseDone        = "done"
)

var phaseOrder = []string{phaseCustomers, phaseSubscribers, phaseFollowers, phaseDone}

func nextPhase(p string) string {
	for i, x := range phaseOrder {
		if x == p && i+1 < len(phaseOrder) {
			return phaseOrder[i+1]
		}
	}
	return phaseDone
}

// planLoop claims pending plans and expands them until ctx ends.
func (s *Service) planLoop(ctx context.Context) {
	for {
		for ctx.Err() == nil {
			p, err := s.store.ClaimPlan(ctx, s.now(), s.cfg.Lease)
			if err != nil {
				if ctx.Err() == nil {
					// The store down fails every poll: a line in a while.
					s.planLog.Log(s.log, slog.LevelError, "claim plan", "err", err)
				}
				break
			}
			if p == nil {
				break
			}
			if err := s.plan(ctx, p); err != nil && ctx.Err() == nil {
				s.log.Error("plan broadcast", "broadcast_id", p.Broadcast.ID, "incident_id", p.Broadcast.IncidentID, "err", err)
			}
		}
		if !sleep(ctx, s.cfg.Poll, s.wakePlan) {
			return
		}
	}
}

// audience expands one broadcast into deliveries, a phase and a batch at a
// time; the planner saves each batch, the dry run only counts them.
type audienceScan struct {
	s        *Service
	b        *incident.Broadcast
	inc      *incident.Incident
	mk       queue.MessageKind
	kinds    map[channel.Kind]bool // channels the policy allows for this broadcast
	affected map[string]bool
	explicit map[string]bool
	critical bool
	now      time.Time
	// eligible narrows a compensation announcement to the customers the
	// decision gives something; nil for every other broadcast.
	eligible func(*audience.Customer) bool
	// answered holds, for a resolution broadcast, the channel and address
	// ("sms +36…") of every customer whose complaint about the incident
	// the complaint service answers with its own resolution message: the
	// broadcast's message there is collapsed into it.
	answered map[string]string
	// next is the page of customers after the last one read, read while
	// the caller works on that one (nil: none under way). Reading a page
	// is about half the work per customer: the planner and the dry run
	// each keep both CPUs busy this way.
	next *customerRead
}

// customerRead is a page of customers being read.
type customerRead struct {
	after string
	limit int
	done  chan struct{} // closed when cs and err are set
	cs    []*audience.Customer
	err   error
}

// customers returns the page of up to limit customers after the cursor,
// from the read started by the call before when it read that page, and
// starts reading the page after it.
func (a *audienceScan) customers(ctx context.Context, after string, limit int) ([]*audience.Customer, error) {
	r := a.next
	a.next = nil
	if r == nil || r.after != after || r.limit != limit {
		r = a.readCustomers(ctx, after, limit)
	}
	<-r.done
	if r.err == nil && len(r.cs) == limit {
		a.next = a.readCustomers(ctx, r.cs[len(r.cs)-1].ID, limit)
	}
	return r.cs, r.err
}

// readCustomers starts reading a page of customers. A read nobody asks for
// (the scan stopped early) ends on its own, or with ctx.
func (a *audienceScan) readCustomers(ctx context.Context, after string, limit int) *customerRead {
	r := &customerRead{after: after, limit: limit, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.cs, r.err = a.s.store.FindCustomers(ctx, audience.CustomerFilter{PageID: a.inc.PageID, After: after, Limit: limit})
	}()
	return r
}

func (s *Service) newAudience(ctx context.Context, b *incident.Broadcast, inc *incident.Incident) (*audienceScan, error) {
	mk, ok := render.KindForBroadcast(b.Kind)
	if !ok {
		return nil, incident.Invalid("kind", "unknown broadcast kind %q: use one of %s", b.Kind, incident.Join(incident.BroadcastKinds))
	}
	comps, err := s.inc.Store.FindComponents(ctx, inc.PageID)
	if err != nil {
		return nil, err
	}
	a := &audienceScan{s: s, b: b, inc: inc, mk: mk, kinds: map[channel.Kind]bool{}, affected: map[string]bool{}, explicit: map[string]bool{},
		critical: inc.Impact == incident.ImpactCritical, now: s.now()}
	for _, k := range []channel.Kind{channel.SMS, channel.Email, channel.Slack, channel.Webhook} {
		if s.cfg.allows(k, b.Kind) {
			a.kinds[k] = true
		}
	}
	// A subscriber or customer of a group hears about its members' incidents.
	// Whoever heard about the incident hears the rest of it: the
	// components it ever listed count (toldAbout), so a component taken
	// off it by mistake leaves its customers the correction and the
	// all-clear, not silence.
	for _, id := range toldAbout(inc) {
		a.affected[id] = true
		for _, c := range comps {
			if c.ID == id && c.GroupID != "" {
				a.affected[c.GroupID] = true
			}
		}
	}
	if inc.Audience != nil {
		for _, id := range inc.Audience.CustomerIDs {
			a.explicit[id] = true
		}
	}
	if b.Kind == incident.BroadcastResolved && s.complaints != nil {
		if a.answered, err = s.complaintAnswers(ctx, inc); err != nil {
			return nil, err
		}
	}
	if b.Kind == incident.BroadcastCompensation {
		comp := s.compensation()
		if comp == nil {
			return nil, incident.Invalid("kind", "compensation is not connected on this node")
		}
		if a.eligible, err = comp.Eligible(ctx, inc.PageID, inc.ID); err != nil {
			return nil, err
		}
		// The customers to tell are those the policy gives something,
		// wherever they are in the incident's audience.
		a.critical = false
	}
	return a, nil
}

// batch returns the deliveries for up to limit recipients after cursor, and
// the cursor after them ("done" when the audience is exhausted).
func (a *audienceScan) batch(ctx context.Context, cursor string, limit int) ([]*queue.Delivery, string, error) {
	phase, after, _ := strings.Cut(cursor, ":")
	if phase == "" {
		phase = phaseCustomers
	}
	var out []*queue.Delivery
	switch phase {
	case phaseCustomers:
		if a.inc.Audience != nil && a.inc.Audience.NoCustomers {
			return nil, nextPhase(phase) + ":", nil
		}
		cs, err := a.customers(ctx, after, limit)
		if err != nil {
			return nil, "", err
		}
		for _, c := range cs {
			if a.eligible != nil {
				if a.eligible(c) {
					out = append(out, a.customerDeliveries(c)...)
				}
				continue
			}
			if a.customerMatches(c) {
				out = append(out, a.customerDeliveries(c)...)
			}
		}
		if len(cs) < limit {
			return out, nextPhase(phase) + ":", nil
		}
		return out, phase + ":" + cs[len(cs)-1].ID, nil
	case phaseSubscribers, phaseFollowers:
		if a.eligible != nil { // subscribers are no customers: nothing is owed to them
			return nil, phaseDone + ":", nil
		}
		f := audience.SubscriberFilter{PageID: a.inc.PageID, State: audience.SubscriberActive, After: after, Limit: limit}
		if phase == phaseFollowers {
			f.IncidentID, f.Following = a.inc.ID, true
		}
		subs, err := a.s.store.FindSubscribers(ctx, f)
		if err != nil {
			return nil, "", err
		}
		for _, sub := range subs {
			if phase == phaseFollowers || a.subscriberMatches(sub) {
				if d := a.subscriberDelivery(sub); d != nil {
					out = append(out, d)
				}
			}
		}
		if len(subs) < limit {
			return out, nextPhase(phase) + ":", nil
		}
		return out, phase + ":" + subs[len(subs)-1].ID, nil
	}
	return nil, phaseDone + ":", nil
}

// subscriberMatches: page-wide subscribers hear about everything; component
// subscribers only about incidents that list one of their components (so
// nothing about incidents without components, as on Statuspage).
func (a *audienceScan) subscriberMatches(sub *audience.Subscriber) bool {
	if sub.IncidentID != "" {
		return false
	}
	if len(sub.ComponentIDs) == 0 {
		return true
	}
	for _, id := range sub.ComponentIDs {
		if a.affected[id] {
			return true
		}
	}
	return false
}

// toldAbout returns the components inc lists and those any of its updates
// listed: every component whose customers and subscribers its messages
// reached.
func toldAbout(inc *incident.Incident) []string {
	ids := append([]string(nil), inc.ComponentIDs...)
	for _, u := range inc.Updates {
		for _, ac := range u.AffectedComponents {
			if !slices.Contains(ids, ac.Code) {
				ids = append(ids, ac.Code)
			}
		}
	}
	return ids
}

// customerMatches applies incident.Audience (see its doc).
func (a *audienceScan) customerMatches(c *audience.Customer) bool {
	if a.explicit[c.ID] {
		return true
	}
	au := a.inc.Audience
	if au == nil {
		au = &incident.Audience{}
	}
	if !au.AllCustomers && len(a.affected) > 0 && len(c.Components) > 0 {
		hit := false
		for _, id := range c.Components {
			if a.affected[id] {
				hit = true
				break
			}
		}
		if !hit {
			return false
		}
	}
	if len(au.Plans) > 0 && !containsFold(au.Plans, c.Plan) {
		return false
	}
	if len(au.Regions) > 0 && !containsFold(au.Regions, c.Region) {
		return false
	}
	for k, vs := range au.Attributes {
		if len(vs) > 0 && !containsFold(vs, c.Attributes[k]) {
			return false
		}
	}
	// A bare explicit list with no segment means "exactly these customers".
	if len(au.CustomerIDs) > 0 && !au.AllCustomers && len(au.Plans) == 0 && len(au.Regions) == 0 && len(au.Attributes) == 0 {
		return false
	}
	return true
}

func containsFold(list []string, s string) bool {
	if s == "" {
		return false
	}
	for _, x := range list {
		if strings.EqualFold(strings.TrimSpace(x), s) {
			return true
		}
	}
	return false
}

func (a *audienceScan) delivery(kind channel.Kind, addr string) *queue.Delivery {
	return &queue.Delivery{
		ID: queue.DeliveryID(a.b.UpdateID, kind, addr), PageID: a.inc.PageID, IncidentID: a.inc.ID, UpdateID: a.b.UpdateID,
		BroadcastID: a.b.ID, MessageKind: a.mk, Kind: kind, Address: addr, Critical: a.critical,
		State: queue.StatePending, NextAt: a.now, CreatedAt: a.now, UpdatedAt: a.now,
	}
}

func (a *audienceScan) customerDeliveries(c *audience.Customer) []*queue.Delivery {
	var out []*queue.Delivery
	for _, ka := range [...]struct {
		k    channel.Kind
		addr string
	}{{channel.SMS, c.Phone}, {channel.Email, c.Email}, {channel.Slack, c.Slack}} {
		if ka.addr == "" || !a.kinds[ka.k] {
			continue
		}
		d := a.delivery(ka.k, ka.addr)
		d.RecipientType, d.RecipientID, d.Name, d.Language, d.TimeZone = queue.FromCustomer, c.ID, c.Name, c.Language, c.TimeZone
		a.collapseAnswered(d)
		out = append(out, d)
	}
	return out
}

// reasonToldInAnswer begins the reason of a delivery collapsed because
// the answer to a complaint tells its address the same (collapseAnswered):
// that message reached them, so it is newer than any update held back.
const reasonToldInAnswer = "told in the answer to complaint "

// collapseAnswered collapses d when the complaint service tells its
// address the resolution in the answer to a complaint (answered).
func (a *audienceScan) collapseAnswered(d *queue.Delivery) {
	if ref, ok := a.answered[string(d.Kind)+" "+d.Address]; ok {
		d.State, d.Reason = queue.StateCollapsed, reasonToldInAnswer+ref
	}
}

func (a *audienceScan) subscriberDelivery(sub *audience.Subscriber) *queue.Delivery {
	if !a.kinds[sub.Kind] || sub.Address == "" {
		return nil
	}
	d := a.delivery(sub.Kind, sub.Address)
	d.RecipientType, d.RecipientID, d.Language = queue.FromSubscriber, sub.ID, sub.Language
	a.collapseAnswered(d)
	return d
}

// plan expands a claimed plan from its cursor, saving each batch with the
// cursor after it, so a crash resumes where the last batch ended.
func (s *Service) plan(ctx context.Context, p *queue.Plan) error {
	b := p.Broadcast
	inc, err := s.inc.Store.FindIncidentByID(ctx, b.IncidentID)
	if errors.Is(err, incident.ErrNotFound) {
		// Deleted since: nothing to tell anyone.
		_, err = s.store.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Cursor: phaseDone + ":", Done: true}, s.now(), s.cfg.Lease)
		return err
	} else if err != nil {
		return err
	}
	a, err := s.newAudience(ctx, b, inc)
	if err != nil {
		return err
	}
	// The next batch is read while this one is written: on SQLite the
	// reads go to the read pool and the writes to the one writer, so the
	// two overlap (a fifth of planning's time was reading customers).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan planRead, 1)
	go func() {
		defer close(batches)
		next := p.Cursor
		for {
			r := s.readPlanBatch(ctx, a, next)
			select {
			case batches <- r:
			case <-ctx.Done():
				return
			}
			if r.err != nil || r.done {
				return
			}
			next = r.next
		}
	}()
	start := time.Now()
	total := 0
	for r := range batches {
		if r.err != nil {
			return r.err
		}
		n, err := s.store.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: r.ds, Cursor: r.next, Done: r.done}, s.now(), s.cfg.Lease)
		if err != nil {
			return err
		}
		total += n
		p.Cursor = r.next
		s.metrics.planned.Add(float64(n))
		s.wakeDispatchers()
		if r.done {
			s.log.Info("broadcast planned", "broadcast_id", b.ID, "incident_id", b.IncidentID, "kind", b.Kind,
				"deliveries", total, "took", time.Since(start).Round(time.Millisecond))
			return nil
		}
	}
	return ctx.Err()
}

// planRead is one batch the planner read: its deliveries and the cursor
// after them.
type planRead struct {
	ds   []*queue.Delivery
	next string
	done bool
	err  error
}

// readPlanBatch reads a batch of deliveries from cursor, filling it across
// phases so that small phases share one write.
func (s *Service) readPlanBatch(ctx context.Context, a *audienceScan, cursor string) planRead {
	r := planRead{next: cursor}
	for len(r.ds) < s.cfg.BatchSize {
		more, n, err := a.batch(ctx, r.next, s.cfg.BatchSize)
		if err != nil {
			return planRead{err: err}
		}
		r.ds = append(r.ds, more...)
		r.next = n
		if strings.HasPrefix(r.next, phaseDone+":") || !strings.HasSuffix(r.next, ":") {
			break // exhausted, or a phase has more rows: save before reading on
		}
	}
	r.ds = dedupe(r.ds)
	r.done = strings.HasPrefix(r.next, phaseDone+":")
	return r
}

// dedupe keeps the first delivery of each ID (customers come first).
func dedupe(ds []*queue.Delivery) []*queue.Delivery {
	seen := make(map[string]bool, len(ds))
	out := ds[:0]
	for _, d := range ds {
		if !seen[d.ID] {
			seen[d.ID] = true
			out = append(out, d)
		}
	}
	return out
}
