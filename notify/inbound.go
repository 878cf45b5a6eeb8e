package notify

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/locale"
	"github.com/heraldhq/herald/notify/contact"
	"github.com/heraldhq/herald/notify/keywords"
	"github.com/heraldhq/herald/queue"
)

// ErrNotAKeyword is returned by HandleInboundSMS for a message that is no
// keyword or code: the caller routes it on (to complaints).
var ErrNotAKeyword = errors.New("notify: inbound SMS is not a keyword")

// HandleInboundSMS answers keywords from a phone: STOP (and its hu, pl, hr
// words) suppresses the number for every page, since opt-out is per
// sender number; START lifts that and brings back the number's page-wide
// SMS subscriptions that were ended by link or API (resumeSMS); HELP
// explains; YES or a 6-digit code confirms the number's pending
// subscriptions. The reply is in the keyword's language, or for the
// words every language uses (STOP, START, HELP) in the number's
// (numberLanguage); START's says
// "subscribed again" only when the number does follow a page. A YES with
// nothing pending is answered too (yesNothingPending), not filed as a
// complaint, unless it answers an agent. Anything else returns ("",
// ErrNotAKeyword).
func (s *Service) HandleInboundSMS(ctx context.Context, from, to, body string) (string, error) {
	num, err := contact.NormalizePhone(from, s.cfg.DefaultRegion)
	if err != nil {
		if e164, _, perr := contact.ParsePhone(from, s.cfg.DefaultRegion); perr == nil {
			num = e164
		} else {
			return "", err
		}
	}
	m, ok := keywords.Parse(body, num)
	if !ok {
		return "", ErrNotAKeyword
	}
	// STOP, START and HELP are everyone's words: they are answered in the
	// language herald's other texts to the number are in, read after the
	// keyword did its work (START may have brought a subscription back).
	lang := func() string {
		if m.Lang == "en" {
			if l := s.numberLanguage(ctx, num); l != "" {
				return l
			}
		}
		return m.Lang
	}
	now := s.now()
	switch {
	case m.Code != "":
		subs, err := s.pendingSMS(ctx, num)
		if err != nil {
			return "", err
		}
		for _, sub := range subs {
			if _, err := s.checkCode(ctx, sub, m.Code); err == nil {
				return keywords.ReplyFrom(sub.Language, keywords.Yes, s.pageName(ctx, sub.PageID, num)), nil
			}
		}
		return "", ErrNotAKeyword
	case m.Keyword == keywords.Stop:
		if err := s.store.Suppress(ctx, audience.Suppression{Kind: channel.SMS, Address: num, Reason: "stop", At: now}); err != nil {
			return "", err
		}
		s.log.Info("sms opt-out", "channel", channel.SMS)
	case m.Keyword == keywords.Start:
		if err := s.store.Unsuppress(ctx, "", channel.SMS, num); err != nil && !errors.Is(err, incident.ErrNotFound) {
			return "", err
		}
		following, err := s.resumeSMS(ctx, num)
		if err != nil {
			return "", err
		}
		s.log.Info("sms opt-in", "channel", channel.SMS, "following", following)
		if following == 0 {
			return keywords.ReplyFrom(lang(), keywords.StartNoSubscription, s.pageName(ctx, "", num)), nil
		}
	case m.Keyword == keywords.Yes:
		subs, err := s.pendingSMS(ctx, num)
		if err != nil {
			return "", err
		}
		if len(subs) == 0 {
			return s.yesNothingPending(ctx, num, lang())
		}
		for _, sub := range subs {
			if _, err := s.activate(ctx, sub); err != nil {
				return "", err
			}
		}
		if m.Lang == "en" && subs[0].Language != "" {
			return keywords.ReplyFrom(subs[0].Language, m.Keyword, s.pageName(ctx, subs[0].PageID, num)), nil
		}
		return keywords.ReplyFrom(lang(), m.Keyword, s.pageName(ctx, subs[0].PageID, num)), nil
	}
	return keywords.ReplyFrom(lang(), m.Keyword, s.pageName(ctx, "", num)), nil
}

// pageName is the sender a keyword reply names, as every other SMS starts
// with it (carriers expect the brand in opt-out and help answers): page
// pageID's name, or without one the page the number is known on
// (numberPage). "" when there is no page.
func (s *Service) pageName(ctx context.Context, pageID, num string) string {
	if pageID != "" {
		if p, err := s.inc.Page(ctx, pageID); err == nil {
			return p.Name
		}
	}
	if p, _ := s.numberPage(ctx, num); p != nil {
		return p.Name
	}
	return ""
}

// yesNothingPending answers a YES (IGEN, TAK, DA) from a number with no
// sign-up waiting for it: a second YES after the code was typed on the
// page, or a YES sent twice. It is no complaint: the answer says the
// subscription is confirmed already (the number follows a page by SMS)
// or that nothing waits for a confirmation, in lang. Only when the number
// has an open complaint is it ErrNotAKeyword: then it most likely answers
// the agent's question, and goes to that complaint for a person to read.
func (s *Service) yesNothingPending(ctx context.Context, num, lang string) (string, error) {
	pages, err := s.inc.Pages(ctx)
	if err != nil {
		return "", err
	}
	if open, err := s.openComplaintFrom(ctx, pages, num); err != nil {
		return "", err
	} else if open {
		return "", ErrNotAKeyword
	}
	for _, p := range pages {
		sub, err := s.store.FindSubscriberByAddress(ctx, p.ID, channel.SMS, num, "")
		if err == nil && sub.State == audience.SubscriberActive {
			return keywords.ReplyFrom(lang, keywords.YesSubscribed, p.Name), nil
		}
		if err != nil && !errors.Is(err, incident.ErrNotFound) && incident.ErrorCode(err) != incident.ENOTFOUND {
			return "", err
		}
	}
	return keywords.ReplyFrom(lang, keywords.YesNothingPending, s.pageName(ctx, "", num)), nil
}

// openComplaintFrom reports whether the number has an open complaint on
// one of pages: as a contact of its own, or as a customer with that
// number. False without a complaint store.
func (s *Service) openComplaintFrom(ctx context.Context, pages []*incident.Page, num string) (bool, error) {
	if s.complaints == nil {
		return false, nil
	}
	for _, p := range pages {
		keys := []string{complaint.Contact{Phone: num}.Key()}
		cs, err := s.store.FindCustomersByAddress(ctx, p.ID, channel.SMS, num)
		if err != nil {
			return false, err
		}
		for _, c := range cs {
			keys = append(keys, complaint.Contact{CustomerID: c.ID}.Key())
		}
		for _, key := range keys {
			open, _, err := s.complaints.FindComplaints(ctx, complaint.Filter{PageID: p.ID, ContactKey: key, Open: true, Limit: 1, SkipCount: true})
			if err != nil {
				return false, err
			}
			if len(open) > 0 {
				return true, nil
			}
		}
	}
	return false, nil
}

// numberLanguage is the language herald writes to the phone number num
// in: that of a customer with that number, else of a subscriber, on the
// first page that has one (the page's first language when theirs is
// unset, as its messages are); else its country calling code's
// (locale.ForPhone); "" when nothing says. A failed read is logged and
// the next source asked: the answer to a keyword must not fail for its
// language.
func (s *Service) numberLanguage(ctx context.Context, num string) string {
	_, lang := s.numberPage(ctx, num)
	return lang
}

// numberPage is the page whose customer or subscriber the number is (the
// first page when none, nil without pages), and numberLanguage's answer.
func (s *Service) numberPage(ctx context.Context, num string) (*incident.Page, string) {
	pages, err := s.inc.Pages(ctx)
	if err != nil {
		s.log.Warn("keyword reply: pages not read; answering in the number's country's language", "err", err)
	}
	for _, p := range pages {
		cs, err := s.store.FindCustomersByAddress(ctx, p.ID, channel.SMS, num)
		if err != nil {
			s.log.Warn("keyword reply: customers not read", "page_id", p.ID, "err", err)
		}
		known, lang := len(cs) > 0, ""
		if known {
			lang = cs[0].Language
		} else if sub, err := s.store.FindSubscriberByAddress(ctx, p.ID, channel.SMS, num, ""); err == nil {
			known, lang = true, sub.Language
		}
		if !known {
			continue
		}
		if lang == "" && len(p.Languages) > 0 {
			lang = p.Languages[0]
		}
		return p, lang
	}
	var first *incident.Page
	if len(pages) > 0 {
		first = pages[0]
	}
	return first, locale.ForPhone(num)
}

// resumeSMS makes START true for subscribers: on each page where the
// number has no live page-wide SMS subscription, the latest one that was
// ended (by an unsubscribe link, the API or an admin) is active again.
// START is the carriers' opt-in word and comes from the number itself,
// which is what the double opt-in would have proved. Only that number's
// SMS subscriptions change (the person's email ones stay ended), and
// incident follow-ups stay ended: their incident is likely over. It
// returns on how many pages the number now follows page-wide by SMS.
func (s *Service) resumeSMS(ctx context.Context, num string) (int, error) {
	pages, err := s.inc.Pages(ctx)
	if err != nil {
		return 0, err
	}
	following := 0
	for _, p := range pages {
		live, err := s.store.FindSubscriberByAddress(ctx, p.ID, channel.SMS, num, "")
		if err == nil {
			if live.State == audience.SubscriberActive {
				following++
			}
			continue // a pending one still needs its code
		} else if !errors.Is(err, incident.ErrNotFound) {
			return 0, err
		}
		var latest *audience.Subscriber
		after := ""
		for {
			subs, err := s.store.FindSubscribers(ctx, audience.SubscriberFilter{PageID: p.ID, State: audience.SubscriberUnsubscribed, Kind: channel.SMS, After: after, Limit: 1000})
			if err != nil {
				return 0, err
			}
			for _, sub := range subs {
				if sub.Address == num && sub.IncidentID == "" && (latest == nil || unsubscribedLater(sub, latest)) {
					latest = sub
				}
			}
			if len(subs) < 1000 {
				break
			}
			after = subs[len(subs)-1].ID
		}
		if latest == nil {
			continue
		}
		now := s.now()
		latest.State, latest.ConfirmedAt, latest.UnsubscribedAt, latest.UnsubscribeReason = audience.SubscriberActive, &now, nil, ""
		if err := s.store.SaveSubscriber(ctx, latest); incident.ErrorCode(err) == incident.ECONFLICT {
			continue // signed up again meanwhile: that one stands
		} else if err != nil {
			return 0, err
		}
		s.log.Info("subscriber resumed by START", "page_id", p.ID, "subscriber_id", latest.ID, "channel", channel.SMS)
		following++
	}
	return following, nil
}

func unsubscribedLater(a, b *audience.Subscriber) bool {
	if a.UnsubscribedAt == nil || b.UnsubscribedAt == nil {
		return a.UnsubscribedAt != nil
	}
	return a.UnsubscribedAt.After(*b.UnsubscribedAt)
}

// pendingSMS finds the number's pending SMS subscriptions on every page.
func (s *Service) pendingSMS(ctx context.Context, num string) ([]*audience.Subscriber, error) {
	pages, err := s.inc.Pages(ctx)
	if err != nil {
		return nil, err
	}
	var out []*audience.Subscriber
	for _, p := range pages {
		after := ""
		for {
			subs, err := s.store.FindSubscribers(ctx, audience.SubscriberFilter{PageID: p.ID, State: audience.SubscriberPending, Kind: channel.SMS, After: after, Limit: 1000})
			if err != nil {
				return nil, err
			}
			for _, sub := range subs {
				if sub.Address == num {
					out = append(out, sub)
				}
			}
			if len(subs) < 1000 {
				break
			}
			after = subs[len(subs)-1].ID
		}
	}
	return out, nil
}

// ErrReceiptKept is returned by HandleStatusCallback for a final receipt
// whose provider ID no delivery carries yet: the store keeps it (for
// receiptTTL) and the dispatcher applies it once it has written the ID.
var ErrReceiptKept = errors.New("notify: receipt kept until its message is recorded")

// ErrReceiptNotFinal is returned by HandleStatusCallback for a status that
// is not final (queued, sending, sent): nothing to do, and nothing read.
var ErrReceiptNotFinal = errors.New("notify: receipt is not final: nothing to do")

// receiptTTL is how long a receipt for an unknown provider ID is kept. A
// provider calls back seconds after a send, and the dispatcher writes the
// ID within milliseconds of the send: an hour covers a store that was
// unavailable for a while, and forgets receipts for messages that are not
// herald's (another system on the same account) soon enough.
const receiptTTL = time.Hour

// receiptState maps a provider status to the state a receipt moves a sent
// delivery to; "" for statuses that say nothing beyond "sent".
func receiptState(status string) queue.DeliveryState {
	switch strings.ToLower(status) {
	case "delivered", "read":
		return queue.StateDelivered
	case "undelivered":
		return queue.StateUndelivered
	case "failed", "canceled":
		return queue.StateFailed
	}
	return "" // queued, sending, sent, accepted…: nothing beyond "sent"
}

// HandleStatusCallback applies a Twilio delivery receipt to the delivery
// with that provider ID: forward only (a late "sent" never undoes
// "delivered"). 21610 (the recipient replied STOP to our sender) also
// suppresses the number. It never waits: a final receipt for a provider
// ID no delivery has yet (the provider called back before the dispatcher
// wrote the ID, possibly on another node) is kept in the store and
// applied by the dispatcher right after it writes the ID; that is
// ErrReceiptKept. A receipt that is not final is ErrReceiptNotFinal, at
// once, reading nothing. A final receipt the store cannot take now (it fails or is
// failing over) is held in memory and applied when it answers again:
// that is ErrReceiptHeld (see heldreceipts.go).
func (s *Service) HandleStatusCallback(ctx context.Context, providerID, status, errorCode string) error {
	if receiptState(status) == "" {
		// Not final (queued, sending, sent): it changes nothing, so it
		// reads nothing either, and a store that is down for a moment
		// does not fail the provider's call.
		return ErrReceiptNotFinal
	}
	at := s.now()
	err := s.handleStatusCallback(ctx, providerID, status, errorCode, at)
	if err == nil || errors.Is(err, ErrReceiptKept) || providerID == "" {
		return err
	}
	switch incident.ErrorCode(err) {
	case incident.ENOTFOUND, incident.EINVALID:
		return err
	}
	return s.holdReceipt(providerID, status, errorCode, at, err)
}

// handleStatusCallback is HandleStatusCallback for a receipt that arrived
// at at, without the hold.
func (s *Service) handleStatusCallback(ctx context.Context, providerID, status, errorCode string, at time.Time) error {
	st := receiptState(status)
	d, err := s.store.FindDeliveryByProviderID(ctx, providerID)
	if err == nil {
		return s.applyReceipt(ctx, d, st, status, errorCode, at)
	}
	if incident.ErrorCode(err) != incident.ENOTFOUND || st == "" || providerID == "" {
		return err
	}
	now := s.now()
	r := queue.PendingReceipt{ProviderID: providerID, State: st, Status: status, ErrorCode: errorCode, At: at, Expires: at.Add(receiptTTL)}
	if err := s.store.KeepReceipt(ctx, r, now); err != nil {
		return err
	}
	// The dispatcher may have written the ID after the lookup above and
	// looked for kept receipts before the one just kept: look again. Both
	// may then apply it, which changes nothing the second time.
	d, err = s.store.FindDeliveryByProviderID(ctx, providerID)
	if incident.ErrorCode(err) == incident.ENOTFOUND {
		return ErrReceiptKept
	} else if err != nil {
		return err
	}
	if _, err := s.store.TakeReceipts(ctx, []string{providerID}, now); err != nil {
		return err
	}
	return s.applyReceipt(ctx, d, st, status, errorCode, at)
}

// applyReceipt moves a sent delivery to st ("" changes nothing) as of at.
func (s *Service) applyReceipt(ctx context.Context, d *queue.Delivery, st queue.DeliveryState, status, errorCode string, at time.Time) error {
	if st == "" {
		return nil
	}
	if errorCode == "21610" {
		if err := s.store.Suppress(ctx, audience.Suppression{Kind: d.Kind, Address: d.Address, Reason: "provider:21610", At: at}); err != nil {
			return err
		}
	}
	reason := s.receiptReason(d.Kind, status, errorCode)
	if err := s.store.SetDeliveryStatus(ctx, d.ID, st, reason, errorCode, at); err != nil {
		return err
	}
	if st == queue.StateFailed || st == queue.StateUndelivered {
		failed := *d
		failed.State, failed.Reason, failed.ErrorCode = st, reason, errorCode
		s.surveyFailed(ctx, &failed)
	}
	return nil
}

// receiptReason is the reason a receipt leaves on its delivery: the
// provider's status, and what its error code means when the channel can
// say ("undelivered: unreachable destination handset"), which is what an
// agent reads and what a broadcast's failures are counted by.
func (s *Service) receiptReason(k channel.Kind, status, errorCode string) string {
	if errorCode == "" {
		return status
	}
	if d, ok := s.chans[k].(channel.Describer); ok {
		if what := d.Describe(errorCode); what != "" {
			return status + ": " + what
		}
	}
	return status
}

// applyKeptReceipts applies the receipts kept for the provider IDs of a
// batch the dispatcher has just written (HandleStatusCallback keeps those
// that came first). Each is applied to the delivery that now carries its
// provider ID: one whose finish was skipped (its lease lost) has none,
// and its receipt is dropped.
func (s *Service) applyKeptReceipts(ctx context.Context, batch []*queue.Delivery) {
	var ids []string
	for _, d := range batch {
		if d.State == queue.StateSent && d.ProviderID != "" {
			ids = append(ids, d.ProviderID)
		}
	}
	if len(ids) == 0 {
		return
	}
	rs, err := s.store.TakeReceipts(ctx, ids, s.now())
	if err != nil {
		s.log.Error("take kept receipts", "n", len(ids), "err", err)
	}
	for _, r := range rs {
		d, err := s.store.FindDeliveryByProviderID(ctx, r.ProviderID)
		if err == nil {
			err = s.applyReceipt(ctx, d, r.State, r.Status, r.ErrorCode, r.At)
		}
		if err != nil {
			s.log.Error("apply kept receipt", "provider_id", r.ProviderID, "err", err)
		}
	}
}
