package complaint

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/incident"
)

// How the sweep works.
const (
	// SweepSpec is the cron schedule of the sweep (robfig/cron/v3 syntax).
	SweepSpec = "@every 30s"
	// ackGrace is how long a new complaint may wait for its acknowledgement
	// to be queued before the sweep queues it (a crash between filing and
	// asking).
	ackGrace = 10 * time.Second
	// resolvedLookback is how far back the sweep looks for resolved
	// incidents whose complaints were not answered (a lost event).
	resolvedLookback = 24 * time.Hour
	sweepBatch       = 500
)

// Sweep does the periodic work, safe to run on any node at any time:
// acknowledgements not yet queued (a crash between filing a complaint and
// asking for its answer), SLA warnings and escalations that are due, and
// the answers of complaints whose incident was resolved. It returns the
// first error after trying every part.
func (s *Service) Sweep(ctx context.Context) error {
	return errors.Join(s.sweepAcks(ctx), s.sweepSLA(ctx), s.sweepResolved(ctx))
}

// sweepAcks queues the acknowledgement of complaints still new after the
// grace period.
func (s *Service) sweepAcks(ctx context.Context) error {
	stale, _, err := s.Store.FindComplaints(ctx, Filter{States: []State{StateNew}, Until: s.now().Add(-ackGrace), Limit: sweepBatch})
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range stale {
		if c.AckedAt != nil || !autoAck(c) {
			continue
		}
		if _, err := s.acknowledge(ctx, c); err != nil {
			errs = append(errs, fmt.Errorf("acknowledge %s: %w", c.ID, err))
		}
	}
	return errors.Join(errs...)
}

// sweepSLA warns owners before a promise falls due and tells managers when
// one is broken, once each.
func (s *Service) sweepSLA(ctx context.Context) error {
	due, err := s.Store.FindComplaintsToCheck(ctx, s.now(), sweepBatch)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range due {
		if _, err := s.change(ctx, c.ID, s.checkSLA); err != nil {
			errs = append(errs, fmt.Errorf("sla %s: %w", c.ID, err))
		}
	}
	return errors.Join(errs...)
}

// checkSLA records a warning or an escalation on c when one is due.
func (s *Service) checkSLA(c *Complaint, now time.Time) ([]*Entry, error) {
	promise := "resolution"
	if c.FirstAnswerAt == nil && c.FirstAnswerDue.Before(c.ResolveDue) {
		promise = "first answer"
	}
	due := nextDue(c)
	owner := c.Owner
	if owner == "" {
		owner = "no owner"
	}
	switch s.Policy.Check(c, now) {
	case SLAWarn:
		c.Warned = true
		s.Log.Warn("complaint promise falls due soon", "complaint_id", c.ID, "owner", c.Owner, "promise", promise, "due", due)
		return []*Entry{s.event(c, EntrySLA, "system", fmt.Sprintf("warning to %s: the %s is due at %s", owner, promise, due.Format(time.RFC3339)), now,
			EventSLAWarning, "owner", c.Owner, "promise", strings.ReplaceAll(promise, " ", "_"), "due", due.UTC().Format(time.RFC3339))}, nil
	case SLAEscalate:
		c.Escalated = true
		s.Log.Warn("complaint promise broken: escalated to managers", "complaint_id", c.ID, "owner", c.Owner, "promise", promise, "due", due)
		return []*Entry{s.event(c, EntrySLA, "system", fmt.Sprintf("escalated to managers: the %s was due at %s (%s)", promise, due.Format(time.RFC3339), owner), now,
			EventSLAEscalated, "owner", c.Owner, "promise", strings.ReplaceAll(promise, " ", "_"), "due", due.UTC().Format(time.RFC3339))}, nil
	}
	return nil, errUnchanged
}

// sweepResolved answers the complaints of incidents resolved in the last
// day that are still open: the incident's event normally does it at once,
// this catches an event that was lost.
func (s *Service) sweepResolved(ctx context.Context) error {
	since := s.now().Add(-resolvedLookback)
	incs, _, err := s.Incidents.FindIncidents(ctx, incident.IncidentFilter{Statuses: []incident.Status{incident.Resolved, incident.Completed}, Since: since.Add(-30 * 24 * time.Hour), Limit: 500})
	if err != nil {
		return err
	}
	var errs []error
	for _, inc := range incs {
		if inc.ResolvedAt == nil || inc.ResolvedAt.Before(since) {
			continue
		}
		if _, err := s.IncidentResolved(ctx, inc.ID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// IncidentResolved answers every open complaint tagged to a resolved
// incident that was there when it resolved: the customer is told what
// happened, with the apology, and the complaint moves to resolved
// (remedy: apology) unless an agent holds it open or promised something
// (Complaint.KeptOpen). It returns how many it answered; for an incident that is not
// resolved it does nothing. Running it again answers nobody twice.
func (s *Service) IncidentResolved(ctx context.Context, incidentID string) (int, error) {
	inc, err := s.Incidents.FindIncidentByID(ctx, incidentID)
	if err != nil {
		return 0, err
	}
	if inc.Open() || inc.Upcoming() || inc.ResolvedAt == nil {
		return 0, nil
	}
	// What the customer is told, in their language when the operator
	// wrote one (the timeline records what was sent).
	outcomeIn := func(lang string) string {
		if len(inc.Updates) > 0 {
			if text := inc.Updates[0].Text(lang); text != "" {
				return text
			}
		}
		return "The incident \"" + inc.NameIn(lang) + "\" is resolved."
	}
	n := 0
	var errs []error
	for {
		open, _, err := s.Store.FindComplaints(ctx, Filter{PageID: inc.PageID, IncidentID: inc.ID, Open: true, Limit: sweepBatch})
		if err != nil {
			return n, err
		}
		progress := false
		// Oldest first: a contact with several complaints hears the
		// all-clear once (notify keys it by address), with the reference
		// of the one they wrote first.
		slices.SortStableFunc(open, func(a, b *Complaint) int { return a.CreatedAt.Compare(b.CreatedAt) })
		for _, c := range open {
			// A complaint that came after the resolution (the survey's
			// win-back task, a customer writing that it still fails) was
			// not open when the incident resolved: the resolution is no
			// answer to it, a person is.
			if c.KeptOpen() || c.IncidentAnswered == inc.ID || c.CreatedAt.After(*inc.ResolvedAt) {
				continue
			}
			_, changed, err := s.resolve(ctx, c, "system", RemedyApology, outcomeIn(c.Language), "incident-resolved-"+inc.ID, inc.ID)
			if err != nil {
				errs = append(errs, fmt.Errorf("answer %s: %w", c.ID, err))
				continue
			}
			progress = true
			if changed { // not another node's
				n++
			}
		}
		if len(open) < sweepBatch || !progress {
			break
		}
	}
	if n > 0 {
		s.Log.Info("incident resolved: complaints answered", "incident_id", inc.ID, "count", n)
	}
	return n, errors.Join(errs...)
}

// Run answers complaints as their incidents resolve (from the event bus)
// and runs the sweep on its cron schedule, on the one node that holds the
// sweep's lease (holder names this node), until ctx ends.
func (s *Service) Run(ctx context.Context, holder string) error {
	var evs <-chan incident.Event
	if s.Events != nil {
		ch, cancel := s.Events.Subscribe()
		defer cancel()
		evs = ch
	}
	stop := s.schedule(ctx, holder)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-evs:
			if !ok {
				evs = nil
				continue
			}
			switch ev.Type {
			case incident.EventIncidentChanged, incident.EventIncidentDeleted, incident.EventPageChanged:
				s.cands.invalidate()
			case incident.EventResync:
				// Events may have been missed: a resolution among them
				// still answers its complaints now (answering is
				// idempotent), not at the next sweep.
				s.cands.invalidate()
				if err := s.sweepResolved(ctx); err != nil && ctx.Err() == nil {
					s.Log.Warn("answer complaints of incidents resolved while events were lost", "err", err)
				}
				continue
			}
			if ev.Type != incident.EventIncidentChanged || ev.IncidentID == "" {
				continue
			}
			if _, err := s.IncidentResolved(ctx, ev.IncidentID); err != nil && !errors.Is(err, incident.ErrNotFound) && ctx.Err() == nil {
				s.Log.Warn("answer complaints of a resolved incident", "incident_id", ev.IncidentID, "err", err)
			}
		}
	}
}
