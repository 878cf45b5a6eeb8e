package notify

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify/render"
	"github.com/heraldhq/herald/queue"
)

// Compensation is what messages need from the compensation service: the
// line a customer's message carries, and the versions of a decision for
// the agents' message. compensation.Service implements it.
type Compensation interface {
	Line(ctx context.Context, pageID, incidentID, customerID, lang string) (string, error)
	History(ctx context.Context, pageID, incidentID string) ([]compensation.Version, error)
	// Eligible returns a test of whether the decision in force gives a
	// customer something not yet granted: the announcement's audience.
	// The test is for one goroutine.
	Eligible(ctx context.Context, pageID, incidentID string) (func(*audience.Customer) bool, error)
}

var _ compensation.Pusher = (*Service)(nil)

// SetCompensation connects the compensation service, which is made after
// this Service (it queues its pushes here). nil disconnects it.
func (s *Service) SetCompensation(c Compensation) {
	s.compMu.Lock()
	s.comp = c
	s.compMu.Unlock()
}

func (s *Service) compensation() Compensation {
	s.compMu.Lock()
	defer s.compMu.Unlock()
	return s.comp
}

// agentDeliveryID is the delivery of version v of an incident's decision
// to the agents' channel addr.
func agentDeliveryID(incidentID string, v int, addr string) string {
	return queue.DeliveryID("compensation:"+incidentID+":v"+strconv.Itoa(v), channel.Slack, addr)
}

// PushDecision implements compensation.Pusher: it queues the agents'
// Slack message about d to Config.AgentSlackChannel, as a delivery like
// any other (rate limits, retries, once per version). The message is
// rendered when it is sent, from the decision in force then; it edits the
// message agents got for an earlier version in place (chat.update) rather
// than posting anew. Queued as due a day ago, it goes before a broadcast's
// bulk: agents need it while the customers' messages are still going out.
func (s *Service) PushDecision(ctx context.Context, d *compensation.Decision) error {
	addr := s.cfg.AgentSlackChannel
	if addr == "" {
		return nil
	}
	if _, ok := s.chans[channel.Slack]; !ok {
		s.log.Warn("compensation: agent_slack_channel is set but Slack is not configured", "incident_id", d.IncidentID)
		return nil
	}
	now := s.now()
	del := &queue.Delivery{ID: agentDeliveryID(d.IncidentID, d.Version, addr), PageID: d.PageID,
		MessageKind: queue.KindCompensationAgents, Kind: channel.Slack, Address: addr, RecipientType: queue.ToAgents,
		RecipientID: "agents", Critical: true, State: queue.StatePending, NextAt: now.Add(-ahead), CreatedAt: now, UpdatedAt: now,
		Vars: map[string]string{"incident": d.IncidentID, "version": strconv.Itoa(d.Version)}}
	if _, err := s.store.EnqueueDeliveries(ctx, []*queue.Delivery{del}); err != nil {
		return err
	}
	if ch, ok := s.wakeKind[channel.Slack]; ok {
		wake(ch)
	}
	return nil
}

// errWaitEarlier holds an agents' message back while the message of an
// earlier version is still on its way: this one must edit that one.
var errWaitEarlier = &channel.SendError{Code: "waiting", Reason: "the agents' message of an earlier version is still being sent", RetryAfter: time.Second}

// errNewerDecision collapses an agents' message whose version is no longer
// the newest: the newer version's message carries the state.
var errNewerDecision = errors.New("a newer decision's message carries the state")

// errNothingToAnnounce collapses an announcement to a customer whom the
// decision in force no longer gives anything (granted meanwhile, policy
// amended).
var errNothingToAnnounce = errors.New("the decision in force gives this customer nothing more to announce")

// agentMessage renders the agents' message for a delivery: the decision in
// force, what changed since the version agents last got, and the Slack ts
// of that message to edit.
func (s *Service) agentMessage(ctx context.Context, d *queue.Delivery) (*channel.Message, error) {
	comp := s.compensation()
	if comp == nil {
		return nil, incident.Invalid("compensation", "compensation is not connected on this node")
	}
	incID := d.Vars["incident"]
	v, err := strconv.Atoi(d.Vars["version"])
	if err != nil || incID == "" {
		return nil, incident.Invalid("vars", "an agents' message names its incident and version")
	}
	hist, err := comp.History(ctx, d.PageID, incID)
	if err != nil {
		return nil, err
	}
	if len(hist) == 0 {
		return nil, incident.Invalid("version", "incident %s has no compensation decision", incID)
	}
	latest := hist[len(hist)-1].Decision
	if latest.Version > v {
		return nil, errNewerDecision
	}
	replace, last := "", 0
	for w := v - 1; w >= 1; w-- {
		prev, err := s.store.FindDeliveryByID(ctx, agentDeliveryID(incID, w, d.Address))
		if incident.ErrorCode(err) == incident.ENOTFOUND {
			continue
		}
		if err != nil {
			return nil, err
		}
		switch prev.State {
		case queue.StatePending, queue.StateSending:
			return nil, errWaitEarlier
		case queue.StateSent, queue.StateDelivered:
			if prev.ProviderID != "" {
				replace, last = prev.ProviderID, w
			}
		}
		if replace != "" {
			break
		}
	}
	before := compensation.Initial(d.PageID, incID)
	if last > 0 && last <= len(hist) {
		before = hist[last-1].Decision
	}
	page, err := s.cache.page(ctx, d.PageID)
	if err != nil {
		return nil, err
	}
	snap, err := s.cache.snapshot(ctx, incID)
	if err != nil {
		return nil, err
	}
	lang := ""
	if len(page.Languages) > 0 {
		lang = page.Languages[0]
	}
	names := make(map[string]string, len(snap.comps))
	for _, c := range snap.comps {
		names[c.ID] = c.Name
	}
	m, err := render.AgentCompensation(render.AgentDecision{Page: page, Incident: snap.inc, Decision: latest,
		Changes: compensation.Diff(before, latest), Lang: lang, Names: names,
		CheckURL: s.link("/api/v1/pages/"+d.PageID+"/incidents/"+incID+"/compensation/customers/", "{customer}")})
	if err != nil {
		return nil, err
	}
	m.DeliveryID, m.To, m.Replace = d.ID, d.Address, replace
	return m, nil
}

// compensationLine is the customer's compensation line for an update or a
// resolution message, or "".
func (s *Service) compensationLine(ctx context.Context, d *queue.Delivery) (string, error) {
	if d.RecipientType != queue.FromCustomer || d.IncidentID == "" {
		return "", nil
	}
	if d.MessageKind != queue.KindUpdate && d.MessageKind != queue.KindResolved && d.MessageKind != queue.KindCompensation {
		return "", nil
	}
	comp := s.compensation()
	if comp == nil {
		return "", nil
	}
	return comp.Line(ctx, d.PageID, d.IncidentID, d.RecipientID, d.Language)
}
