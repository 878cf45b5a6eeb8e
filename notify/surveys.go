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

// AskForScore implements surveys.Sender: it queues the email that
// thanks a customer for their reply to the survey and asks for the score
// it did not give, as a delivery like a complaint's acknowledgement (the
// replies' lane, critical: the customer has just written), threaded
// under their email (thread: the References a reply to it carries,
// ReplyReferences, space-separated, the email's own Message-ID last; ""
// or one that ends in no Message-ID: not threaded) and sent as an
// automatic reply (RFC 3834).
// Its ID is derived from the survey alone, not from the reply: however
// many replies, nodes or restarts ask, one request goes per survey.
func (s *Service) AskForScore(ctx context.Context, sv *surveys.Survey, url, thread string) (string, error) {
	return s.surveyReply(ctx, sv, url, thread, surveyEmail{does: "asks for a survey's score", do: "ask for the survey's score", idPrefix: "survey-ask:",
		kind: queue.KindSurveyAsk, critical: true})
}

// surveyEmail is one of the emails that answer a customer's email reply
// to a survey (AskForScore, ThankForAnswer).
type surveyEmail struct {
	does, do string // "herald <does> by email only", "no email channel to <do> on"
	idPrefix string // of the delivery ID, which is made from the survey alone
	kind     queue.MessageKind
	// critical: quiet hours do not hold it, and it is due at once.
	critical bool
}

// surveyReply queues e for sv, threaded as thread says (threadOf), as
// an automatic reply in the replies' lane; nothing, with
// no error and no ID, when the address had its automatic answers
// (Config.AutoReplyLimit).
func (s *Service) surveyReply(ctx context.Context, sv *surveys.Survey, url, thread string, e surveyEmail) (string, error) {
	if sv.Channel != channel.Email {
		return "", incident.Invalid("channel", "herald %s by email only, not by %s", e.does, sv.Channel)
	}
	if _, ok := s.chans[channel.Email]; !ok {
		return "", incident.Invalid("channel", "no email channel on this node to %s on", e.do)
	}
	now := s.now()
	vars := map[string]string{"incident": sv.IncidentID, "survey": sv.ID, "url": url}
	if refs := threadOf(strings.NewReplacer("<", " ", ">", " ").Replace(thread)); len(refs) > 0 {
		vars["thread"] = strings.Join(refs, " ")
	}
	next := now
	if e.critical {
		next = now.Add(-ahead)
	}
	d := &queue.Delivery{ID: queue.DeliveryID(e.idPrefix+sv.ID, channel.Email, sv.Address), PageID: sv.PageID,
		MessageKind: e.kind, Kind: channel.Email, Address: sv.Address, RecipientType: sv.RecipientType, RecipientID: sv.RecipientID,
		Name: sv.Name, Language: sv.Language, TimeZone: sv.TimeZone, Critical: e.critical, State: queue.StatePending,
		NextAt: next, CreatedAt: now, UpdatedAt: now, Vars: vars}
	if ok, err := s.autoReplyAllowed(ctx, d); err != nil {
		return "", err
	} else if !ok {
		// An automatic reply like a complaint's acknowledgement, under the
		// same per-address limit: the customer's reply is kept, only
		// herald's answer to it is not sent.
		s.log.Info("survey reply: not sent, the address had its automatic answers", "survey_id", sv.ID, "delivery_id", d.ID,
			"channel", d.Kind, "limit", s.cfg.AutoReplyLimit, "window", s.cfg.AutoReplyWindow)
		return "", nil
	}
	if _, err := s.store.EnqueueDeliveries(ctx, []*queue.Delivery{d}); err != nil {
		return "", err
	}
	s.wakeFor(channel.Email)
	return d.ID, nil
}

// ThankForAnswer implements surveys.Sender: it queues the email that
// thanks a customer whose email reply gave the survey's score, as a
// delivery in the replies' lane threaded under their email (thread, as
// AskForScore's) and sent as an automatic reply (RFC 3834), like AskForScore's. Unlike that
// request it is not critical: quiet hours hold it, as they hold the
// survey itself (nothing in it is urgent). Suppression, rate limits and
// retries apply as to any delivery. Its ID is derived from the survey
// alone: a repeated or changed answer, another node or a restart queues
// the same delivery, so one thanks goes per survey, never a thanks per
// reply that an auto-responder could keep going.
func (s *Service) ThankForAnswer(ctx context.Context, sv *surveys.Survey, url, thread string) (string, error) {
	return s.surveyReply(ctx, sv, url, thread, surveyEmail{does: "thanks for a survey's answer", do: "thank for the survey's answer", idPrefix: "survey-thanks:",
		kind: queue.KindSurveyThanks})
}

// surveyMessage renders a survey's message for its delivery: personal
// (each carries its own link), so rendered one by one. The request for a
// score (KindSurveyAsk) and the thanks for one (KindSurveyThanks) answer
// the customer's email: an automatic reply in their thread, with no
// unsubscribe link (as a complaint's answers).
func (s *Service) surveyMessage(ctx context.Context, d *queue.Delivery) (*channel.Message, error) {
	page, err := s.cache.page(ctx, d.PageID)
	if err != nil {
		return nil, err
	}
	snap, err := s.cache.snapshot(ctx, d.Vars["incident"])
	if err != nil {
		return nil, err
	}
	in := render.Input{Kind: d.MessageKind, Page: page, Incident: snap.inc, Components: snap.comps, Now: s.now(),
		MaxSMSSegments: s.cfg.MaxSMSSegments, SurveyURL: d.Vars["url"],
		Recipient: render.Recipient{Name: d.Name, Language: d.Language, TimeZone: d.TimeZone, Type: d.RecipientType}}
	if d.MessageKind == queue.KindSurvey {
		unsub, err := s.UnsubscribeURL(ctx, d)
		if err != nil {
			return nil, err
		}
		in.UnsubscribeURL = unsub
	}
	m, err := s.r.Render(d.Kind, in)
	if err != nil {
		return nil, err
	}
	m.DeliveryID, m.To = d.ID, d.Address
	if d.MessageKind == queue.KindSurveyAsk || d.MessageKind == queue.KindSurveyThanks {
		// RFC 3834, as a complaint's acknowledgement (complaintMessageAt):
		// automatic (Auto-Submitted, the null envelope sender), so that
		// the customer's own robots do not answer it, and in the thread
		// of the email it answers.
		m.AutoReply = true
		refs := threadOf(d.Vars["thread"])
		if len(refs) == 0 {
			refs = threadOf(d.Vars["reply_to"]) // queued by an older herald: the email's Message-ID alone
		}
		setThread(m, refs)
	}
	return m, nil
}
