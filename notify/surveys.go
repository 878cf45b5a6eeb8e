package notify

import (
	"context"
	"strings"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify/render"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/surveys"
)

var _ surveys.Sender = (*Service)(nil)

// SurveyOutcomes is told when a survey's message fails for good
// (surveys.Service implements it), so that the survey does not count as
// sent. SetSurveys connects it.
type SurveyOutcomes interface {
	Undelivered(ctx context.Context, surveyID, reason string) error
}

// SetSurveys connects the surveys service, which is made after this
// Service. nil disconnects it.
func (s *Service) SetSurveys(o SurveyOutcomes) {
	s.compMu.Lock()
	s.surveyOutcomes = o
	s.compMu.Unlock()
}

// surveyFailed tells the surveys service that d, a survey's delivery,
// failed for good ("failed" at send, "undelivered" or "failed" by receipt).
func (s *Service) surveyFailed(ctx context.Context, d *queue.Delivery) {
	if d.MessageKind != queue.KindSurvey || d.Vars["survey"] == "" {
		return
	}
	s.compMu.Lock()
	o := s.surveyOutcomes
	s.compMu.Unlock()
	if o == nil {
		return
	}
	reason := d.Reason
	if reason == "" {
		reason = string(d.State)
	}
	if d.ErrorCode != "" && !strings.Contains(reason, d.ErrorCode) {
		reason += " (" + d.ErrorCode + ")"
	}
	if err := o.Undelivered(ctx, d.Vars["survey"], reason); err != nil {
		s.log.Warn("record a survey's failed delivery", "delivery_id", d.ID, "survey_id", d.Vars["survey"], "err", err)
	}
}

// SendSurvey implements surveys.Sender: it queues a survey's message as a
// delivery like any other (suppression, quiet hours, rate limits,
// retries), whose ID is derived from the survey, so that asking twice
// sends once. Like a complaint's messages it carries no incident ID (the
// incident's frequency cap and superseding never fold it away); the
// incident goes along in Vars.
func (s *Service) SendSurvey(ctx context.Context, sv *surveys.Survey, url string) (string, error) {
	if _, ok := s.chans[sv.Channel]; !ok {
		return "", incident.Invalid("channel", "no %s channel on this node to send the survey on", sv.Channel)
	}
	now := s.now()
	d := &queue.Delivery{ID: queue.DeliveryID("survey:"+sv.ID, sv.Channel, sv.Address), PageID: sv.PageID,
		MessageKind: queue.KindSurvey, Kind: sv.Channel, Address: sv.Address, RecipientType: sv.RecipientType, RecipientID: sv.RecipientID,
		Name: sv.Name, Language: sv.Language, TimeZone: sv.TimeZone, State: queue.StatePending, NextAt: now, CreatedAt: now, UpdatedAt: now,
		Vars: map[string]string{"incident": sv.IncidentID, "survey": sv.ID, "url": url}}
	if _, err := s.store.EnqueueDeliveries(ctx, []*queue.Delivery{d}); err != nil {
		return "", err
	}
	if ch, ok := s.wakeKind[sv.Channel]; ok {
		wake(ch)
	}
	return d.ID, nil
}

// surveyMessage renders a survey's message for its delivery: personal
// (each carries its own link), so rendered one by one.
func (s *Service) surveyMessage(ctx context.Context, d *queue.Delivery) (*channel.Message, error) {
	page, err := s.cache.page(ctx, d.PageID)
	if err != nil {
		return nil, err
	}
	snap, err := s.cache.snapshot(ctx, d.Vars["incident"])
	if err != nil {
		return nil, err
	}
	in := render.Input{Kind: queue.KindSurvey, Page: page, Incident: snap.inc, Components: snap.comps, Now: s.now(),
		MaxSMSSegments: s.cfg.MaxSMSSegments, SurveyURL: d.Vars["url"],
		Recipient: render.Recipient{Name: d.Name, Language: d.Language, TimeZone: d.TimeZone, Type: d.RecipientType}}
	unsub, err := s.UnsubscribeURL(ctx, d)
	if err != nil {
		return nil, err
	}
	in.UnsubscribeURL = unsub
	m, err := s.r.Render(d.Kind, in)
	if err != nil {
		return nil, err
	}
	m.DeliveryID, m.To = d.ID, d.Address
	return m, nil
}
