package notify

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify/contact"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/ratelimit"
	"github.com/nyaruka/phonenumbers"
)

// ERATELIMITED is the error code of a sign-up refused by a rate limit; the
// server should answer it with 429 (incident's codes have no such status).
const ERATELIMITED = "rate_limited"

// maxConfirmTries is how many wrong SMS codes kill a pending code.
const maxConfirmTries = 5

// confirmCodeLifetime is how long an SMS code works after it was sent.
// An email link lives confirmTokenLifetime (90 days, as on Statuspage),
// but a link carries a MAC nobody can guess, while a code is one of a
// million: with maxConfirmTries per code and a new code per resend, a
// short life keeps the guessing window small, and a person types the
// code within minutes of getting it.
const confirmCodeLifetime = 15 * time.Minute

// SubscribeRequest is a sign-up from the status page or the API.
type SubscribeRequest struct {
	PageID       string
	Kind         channel.Kind
	Address      string // phone number, email, webhook URL or Slack incoming-webhook URL
	Language     string // "" uses the page's first language
	ComponentIDs []string
	IncidentID   string // follow one incident only
	IP           string // the requester, for the per-IP limit ("" from trusted callers)
	Source       string // "page" or "api"
	// Confirmed skips double opt-in: an admin added the subscriber (as on
	// Statuspage, admin-added subscribers get no confirmation).
	Confirmed bool
}

func rateLimited(format string, args ...any) *incident.Error {
	return &incident.Error{Code: ERATELIMITED, Message: fmt.Sprintf(format, args...)}
}

// normalizeAddress validates an address for its channel and returns it in
// canonical form. Webhook and Slack URLs are checked against SSRF.
func (s *Service) normalizeAddress(kind channel.Kind, raw string) (string, error) {
	switch kind {
	case channel.SMS:
		return contact.NormalizePhone(raw, s.cfg.DefaultRegion)
	case channel.Email:
		return contact.NormalizeEmail(raw)
	case channel.Webhook:
		raw = strings.TrimSpace(raw)
		if err := s.check(raw); err != nil {
			return "", incident.Invalid("address", "webhook URL not allowed: %v", err)
		}
		return raw, nil
	case channel.Slack:
		raw = strings.TrimSpace(raw)
		// Slack's URLs are https, on SlackWebhookHosts. A plain http one
		// is for a server herald was told to trust: any, with the address
		// rules off, or an exempt address (the sandbox's fake Slack).
		if strings.HasPrefix(raw, "http://") && (s.guard.AllowPrivate || s.guard.Exempts(raw)) {
			if err := s.check(raw); err != nil {
				return "", incident.Invalid("address", "Slack webhook URL not allowed: %v", err)
			}
			return raw, nil
		}
		k, err := contact.ValidSlackTarget(raw)
		var de *incident.Error
		if errors.As(err, &de) && de.Field == "slack" {
			// contact names the customer file's column; here the
			// sign-up's address is meant, as in every other refusal.
			cp := *de
			cp.Field = "address"
			return "", &cp
		}
		if err != nil {
			return "", err
		}
		if k != contact.SlackWebhook {
			return "", incident.Invalid("address", "a Slack subscription needs an incoming-webhook URL")
		}
		if !s.slackHost(raw) {
			hosts := s.cfg.SlackWebhookHosts
			if len(hosts) == 0 {
				hosts = DefaultSlackWebhookHosts
			}
			return "", incident.Invalid("address", "a Slack incoming-webhook URL must be on %s (slack_webhook_hosts)", strings.Join(hosts, " or "))
		}
		if err := s.check(raw); err != nil {
			return "", incident.Invalid("address", "Slack webhook URL not allowed: %v", err)
		}
		return raw, nil
	}
	return "", incident.Invalid("kind", "unknown channel %q (sms, email, webhook or slack)", kind)
}

// smsSignupAllowed applies Config.SMSCountries to a self-service SMS
// sign-up of addr (E.164) and returns the number's region.
func (s *Service) smsSignupAllowed(ctx context.Context, pageID, addr string) (bool, string, error) {
	region := phoneRegion(addr)
	if open, decided := s.smsRegionOpen(region); decided {
		return open, region, nil
	}
	// By default an imported customer's number may sign up wherever it is:
	// the business already texts it.
	cs, err := s.store.FindCustomersByAddress(ctx, pageID, channel.SMS, addr)
	if err != nil {
		return false, region, err
	}
	return len(cs) > 0, region, nil
}

// phoneRegion is the region code of a number (E.164), "" when unknown.
func phoneRegion(addr string) string {
	num, _ := phonenumbers.Parse(addr, "")
	return phonenumbers.GetRegionCodeForNumber(num)
}

// smsRegionOpen applies the configuration alone to a sign-up from region:
// open when sms_countries names it (or "any") or, without a list, when it
// is default_region's; decided false when only the imported customers can
// say (no list, another region).
func (s *Service) smsRegionOpen(region string) (open, decided bool) {
	list := s.cfg.SMSCountries
	if containsFold(list, "any") || containsFold(list, region) {
		return true, true
	}
	if len(list) > 0 {
		return false, true
	}
	if s.cfg.DefaultRegion != "" && strings.EqualFold(s.cfg.DefaultRegion, region) {
		return true, true
	}
	return false, false
}

// FormCanAnswer reports whether herald writes back to an address of kind
// typed into the status page's report form, judged by the configuration
// alone: a channel of that kind is set up and, for a number, its region
// is open to SMS sign-ups by sms_countries (or default_region). Never by
// who the address is or what they did (an opt-out, being an imported
// customer): anyone can type anyone's address there, and the form's
// answer must tell them nothing about that person. Where AnswerChannel sends
// the complaint's answers may differ; the thank-you is worded to stay true.
func (s *Service) FormCanAnswer(kind channel.Kind, addr string) bool {
	if _, ok := s.chans[kind]; !ok || addr == "" {
		return false
	}
	if kind != channel.SMS {
		return true
	}
	open, _ := s.smsRegionOpen(phoneRegion(addr))
	return open
}

// slackHost reports whether raw's host is one a Slack incoming webhook may
// be on (Config.SlackWebhookHosts), exactly: no look-alike suffixes.
func (s *Service) slackHost(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	hosts := s.cfg.SlackWebhookHosts
	if len(hosts) == 0 {
		hosts = DefaultSlackWebhookHosts
	}
	for _, h := range hosts {
		if host == strings.ToLower(h) {
			return true
		}
	}
	return false
}

// Subscribe signs someone up. Email subscribers confirm by a link and SMS
// subscribers by a 6-digit code or a YES reply; the confirmation is queued
// as a delivery, never sent from the request. Webhook and Slack subscribers
// are active at once, as on Statuspage (whoever can post the URL owns the
// endpoint, and the URL cannot read a confirmation). Admin-added ones
// (Confirmed) too. Signing up an address that is already subscribed
// returns the existing subscriber (re-sending a pending confirmation).
// Errors: EINVALID naming the field, ENOTFOUND for the page, component or
// incident, ERATELIMITED.
func (s *Service) Subscribe(ctx context.Context, req SubscribeRequest) (*audience.Subscriber, error) {
	page, err := s.inc.Page(ctx, req.PageID)
	if err != nil {
		return nil, err
	}
	addr, err := s.normalizeAddress(req.Kind, req.Address)
	if err != nil {
		return nil, err
	}
	lang := ""
	if req.Language != "" {
		if lang, err = contact.NormalizeLanguage(req.Language); err != nil {
			return nil, err
		}
	} else if len(page.Languages) > 0 {
		lang = page.Languages[0]
	}
	comps := []string{}
	if len(req.ComponentIDs) > 0 {
		all, err := s.inc.Store.FindComponents(ctx, page.ID)
		if err != nil {
			return nil, err
		}
		for _, id := range req.ComponentIDs {
			if findComp(all, id) == nil {
				return nil, incident.Invalid("component_ids", "no component %q on this page", id)
			}
			if !containsString(comps, id) {
				comps = append(comps, id)
			}
		}
	}
	if req.IncidentID != "" {
		if _, err := s.inc.Incident(ctx, page.ID, req.IncidentID); err != nil {
			return nil, err
		}
	}
	selfService := !req.Confirmed
	if req.Kind == channel.SMS && selfService {
		if ok, region, err := s.smsSignupAllowed(ctx, page.ID, addr); err != nil {
			return nil, err
		} else if !ok {
			return nil, incident.Invalid("address", "SMS subscriptions are not available for numbers in %s", region)
		}
	}
	// Every self-service attempt counts against the limits, before anyone
	// looks whether the address is known: a sign-up form that limited only
	// new addresses would tell which ones are subscribed (and could be
	// driven without limit against them).
	if selfService {
		if err := s.limitSignup(ctx, req.IP, req.Kind, addr); err != nil {
			return nil, err
		}
	}
	if existing, err := s.store.FindSubscriberByAddress(ctx, page.ID, req.Kind, addr, req.IncidentID); err == nil {
		if existing.State == audience.SubscriberPending && req.Confirmed {
			return s.activate(ctx, existing)
		}
		if existing.State == audience.SubscriberPending {
			return existing, s.sendConfirmation(ctx, existing)
		}
		if selfService {
			// The form answers as for a new address (it must not tell
			// who is subscribed); the message tells the address's owner.
			return existing, s.sendSubscribedNotice(ctx, existing)
		}
		return existing, nil
	} else if !errors.Is(err, incident.ErrNotFound) {
		return nil, err
	}
	source := req.Source
	if source == "" {
		source = "api"
	}
	now := s.now()
	sub := &audience.Subscriber{ID: incident.NewID(), PageID: page.ID, Kind: req.Kind, Address: addr, Language: lang,
		ComponentIDs: comps, IncidentID: req.IncidentID, State: audience.SubscriberPending, Source: source, CreatedAt: now}
	if req.Confirmed || req.Kind == channel.Webhook || req.Kind == channel.Slack {
		sub.State, sub.ConfirmedAt = audience.SubscriberActive, &now
	}
	if err := s.store.SaveSubscriber(ctx, sub); err != nil {
		return nil, err
	}
	if sub.State == audience.SubscriberPending {
		if err := s.sendConfirmation(ctx, sub); err != nil {
			return nil, err
		}
	}
	s.log.Info("subscriber added", "page_id", page.ID, "subscriber_id", sub.ID, "channel", sub.Kind, "state", sub.State)
	return sub, nil
}

func findComp(all []*incident.Component, id string) *incident.Component {
	for _, c := range all {
		if c.ID == id {
			return c
		}
	}
	return nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// limitSignup applies the per-IP limit to every self-service sign-up and
// a per-address limit to the channels that send a confirmation: SMS
// (against toll fraud and texting someone else) and email (against
// mail-bombing an address from many IPs). It runs only where a
// confirmation would go out, and its message names no subscription
// state, so a 429 tells nobody whether the address is subscribed.
func (s *Service) limitSignup(ctx context.Context, ip string, kind channel.Kind, addr string) error {
	if ip != "" {
		wait, err := s.lim.Take(ctx, "subscribe:ip:"+ratelimit.IPKey(ip), s.cfg.SubscribeIPLimit, 0)
		if err != nil {
			return err
		}
		if wait > 0 {
			return rateLimited("too many sign-ups from this address; try again in %s", wait.Round(time.Minute))
		}
	}
	what := map[channel.Kind]string{channel.SMS: "codes sent to this number", channel.Email: "confirmation emails sent to this address"}[kind]
	if what == "" {
		return nil
	}
	wait, err := s.lim.Take(ctx, "subscribe:"+string(kind)+":"+addr, subscribeAddressLimit, 0)
	if err != nil {
		return err
	}
	if wait > 0 {
		return rateLimited("too many %s; try again in %s", what, wait.Round(time.Minute))
	}
	return nil
}

func newCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1000000))
	if err != nil {
		panic("notify: crypto/rand failed: " + err.Error())
	}
	return fmt.Sprintf("%06d", n.Int64())
}

func hashCode(subID, code string) string {
	sum := sha256.Sum256([]byte(subID + "\x00" + code))
	return hex.EncodeToString(sum[:])
}

// sendConfirmation queues a confirmation: email gets the link, SMS a new
// code (replacing any earlier one). The store sends it; the request does not.
func (s *Service) sendConfirmation(ctx context.Context, sub *audience.Subscriber) error {
	if sub.Kind != channel.SMS && sub.Kind != channel.Email {
		return nil
	}
	link, err := s.ConfirmURL(ctx, sub)
	if err != nil {
		return err
	}
	vars := map[string]string{"url": link}
	now := s.now()
	if sub.Kind == channel.SMS {
		code := newCode()
		sub.ConfirmHash, sub.ConfirmTries, sub.ConfirmSentAt = hashCode(sub.ID, code), 0, &now
		if err := s.store.SaveSubscriber(ctx, sub); err != nil {
			return err
		}
		vars["code"] = code
	}
	nonce := incident.NewID()
	d := &queue.Delivery{ID: queue.DeliveryID("confirm:"+sub.ID+":"+nonce, sub.Kind, sub.Address), PageID: sub.PageID,
		MessageKind: queue.KindConfirm, Kind: sub.Kind, Address: sub.Address, RecipientType: queue.FromSubscriber, RecipientID: sub.ID,
		Language: sub.Language, Critical: true, State: queue.StatePending, NextAt: now, CreatedAt: now, UpdatedAt: now, Vars: vars}
	if _, err := s.store.EnqueueDeliveries(ctx, []*queue.Delivery{d}); err != nil {
		return err
	}
	if ch, ok := s.wakeKind[sub.Kind]; ok {
		wake(ch)
	}
	return nil
}

// sendSubscribedNotice queues a KindSubscribed message to an active SMS
// or email subscriber that asked to subscribe again: it is subscribed
// already, and here is how to unsubscribe. The sign-up limits (per IP and
// per address) were taken before, so it cannot be used to flood an
// address more than a confirmation could.
func (s *Service) sendSubscribedNotice(ctx context.Context, sub *audience.Subscriber) error {
	if sub.Kind != channel.SMS && sub.Kind != channel.Email {
		return nil
	}
	link, err := s.SubscriberUnsubscribeURL(ctx, sub)
	if err != nil {
		return err
	}
	now := s.now()
	d := &queue.Delivery{ID: queue.DeliveryID("subscribed:"+sub.ID+":"+incident.NewID(), sub.Kind, sub.Address), PageID: sub.PageID,
		MessageKind: queue.KindSubscribed, Kind: sub.Kind, Address: sub.Address, RecipientType: queue.FromSubscriber, RecipientID: sub.ID,
		Language: sub.Language, Critical: true, State: queue.StatePending, NextAt: now, CreatedAt: now, UpdatedAt: now,
		Vars: map[string]string{"url": link}}
	if _, err := s.store.EnqueueDeliveries(ctx, []*queue.Delivery{d}); err != nil {
		return err
	}
	if ch, ok := s.wakeKind[sub.Kind]; ok {
		wake(ch)
	}
	return nil
}

func (s *Service) activate(ctx context.Context, sub *audience.Subscriber) (*audience.Subscriber, error) {
	if sub.State == audience.SubscriberActive {
		return sub, nil
	}
	now := s.now()
	sub.State, sub.ConfirmedAt, sub.ConfirmHash, sub.ConfirmTries, sub.ConfirmSentAt = audience.SubscriberActive, &now, "", 0, nil
	if err := s.store.SaveSubscriber(ctx, sub); err != nil {
		return nil, err
	}
	s.log.Info("subscriber confirmed", "page_id", sub.PageID, "subscriber_id", sub.ID, "channel", sub.Kind)
	return sub, nil
}

// Confirm activates the subscriber named by an email confirm link. Errors:
// EINVALID (field "token") for a forged, expired or unsubscribed link.
func (s *Service) Confirm(ctx context.Context, token string) (*audience.Subscriber, error) {
	kind, id, issued, err := s.verify(ctx, token)
	if err != nil {
		return nil, err
	}
	if kind != tokenConfirm {
		return nil, incident.Invalid("token", "this is not a confirmation link")
	}
	if s.now().Sub(issued) > confirmTokenLifetime {
		return nil, incident.Invalid("token", "the confirmation link has expired; subscribe again")
	}
	sub, err := s.store.FindSubscriberByID(ctx, id)
	if errors.Is(err, incident.ErrNotFound) {
		return nil, incident.Invalid("token", "this subscription no longer exists; subscribe again")
	} else if err != nil {
		return nil, err
	}
	if sub.State == audience.SubscriberUnsubscribed {
		return nil, incident.Invalid("token", "this subscription was cancelled; subscribe again")
	}
	return s.activate(ctx, sub)
}

// ConfirmCode activates a pending SMS subscriber of the page with the code
// it was sent. After maxConfirmTries wrong codes, or confirmCodeLifetime
// after it was sent, the code dies (resend one): EINVALID, field "code".
func (s *Service) ConfirmCode(ctx context.Context, pageID, phone, code string) (*audience.Subscriber, error) {
	num, err := contact.NormalizePhone(phone, s.cfg.DefaultRegion)
	if err != nil {
		return nil, err
	}
	var pending *audience.Subscriber
	// Page-wide first, then any incident follow-up of the number.
	if sub, err := s.store.FindSubscriberByAddress(ctx, pageID, channel.SMS, num, ""); err == nil && sub.State == audience.SubscriberPending {
		pending = sub
	} else {
		subs, err := s.pendingSMS(ctx, num)
		if err != nil {
			return nil, err
		}
		for _, sub := range subs {
			if sub.PageID == pageID {
				pending = sub
				break
			}
		}
	}
	if pending == nil {
		return nil, incident.NotFound("pending subscription for", "this number")
	}
	return s.checkCode(ctx, pending, strings.TrimSpace(code))
}

func (s *Service) checkCode(ctx context.Context, sub *audience.Subscriber, code string) (*audience.Subscriber, error) {
	// A code without a send time predates its recording: it counts as
	// expired too (a new one is a resend away).
	if sub.ConfirmHash == "" || sub.ConfirmTries >= maxConfirmTries ||
		sub.ConfirmSentAt == nil || s.now().Sub(*sub.ConfirmSentAt) > confirmCodeLifetime {
		return nil, incident.Invalid("code", "this code has expired; ask for a new one")
	}
	if subtle.ConstantTimeCompare([]byte(hashCode(sub.ID, code)), []byte(sub.ConfirmHash)) != 1 {
		sub.ConfirmTries++
		if err := s.store.SaveSubscriber(ctx, sub); err != nil {
			return nil, err
		}
		return nil, incident.Invalid("code", "wrong code")
	}
	return s.activate(ctx, sub)
}

// reasonUnsubscribe is the suppression an unsubscribe link leaves on a
// customer's address: the page's notices stop; answers to their own
// complaints still go (answersDespite).
const reasonUnsubscribe = "unsubscribe"

// Unsubscribe applies a one-click unsubscribe token: a subscriber's ends
// the subscription; a customer's suppresses that channel and address on
// the page. Repeating it is not an error.
func (s *Service) Unsubscribe(ctx context.Context, token string) error {
	kind, id, _, err := s.verify(ctx, token)
	if err != nil {
		return err
	}
	switch kind {
	case tokenUnsubSubscriber:
		sub, err := s.store.FindSubscriberByID(ctx, id)
		if errors.Is(err, incident.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		return s.unsubscribe(ctx, sub)
	case tokenUnsubDelivery:
		d, err := s.store.FindDeliveryByID(ctx, id)
		if err != nil {
			return err
		}
		if d.RecipientType == queue.FromSubscriber {
			sub, err := s.store.FindSubscriberByID(ctx, d.RecipientID)
			if err == nil {
				return s.unsubscribe(ctx, sub)
			}
		}
		s.log.Info("customer unsubscribed", "page_id", d.PageID, "delivery_id", d.ID, "channel", d.Kind)
		return s.store.Suppress(ctx, audience.Suppression{PageID: d.PageID, Kind: d.Kind, Address: d.Address, Reason: reasonUnsubscribe, At: s.now()})
	}
	return incident.Invalid("token", "this is not an unsubscribe link")
}

func (s *Service) unsubscribe(ctx context.Context, sub *audience.Subscriber) error {
	return s.unsubscribeFor(ctx, sub, "")
}

// unsubscribeFor ends a subscription, recording reason (Subscriber's
// UnsubscribeReason; "" when the subscriber or an admin asked).
func (s *Service) unsubscribeFor(ctx context.Context, sub *audience.Subscriber, reason string) error {
	if sub.State == audience.SubscriberUnsubscribed {
		return nil
	}
	now := s.now()
	sub.State, sub.UnsubscribedAt, sub.ConfirmHash, sub.ConfirmSentAt = audience.SubscriberUnsubscribed, &now, "", nil
	sub.UnsubscribeReason = reason
	if err := s.store.SaveSubscriber(ctx, sub); err != nil {
		return err
	}
	s.log.Info("subscriber unsubscribed", "page_id", sub.PageID, "subscriber_id", sub.ID, "channel", sub.Kind, "reason", reason)
	return nil
}

// Subscribers lists subscribers matching f, by ID.
func (s *Service) Subscribers(ctx context.Context, f audience.SubscriberFilter) ([]*audience.Subscriber, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	return s.store.FindSubscribers(ctx, f)
}

// CountSubscribers counts a page's subscribers in a state ("" any).
func (s *Service) CountSubscribers(ctx context.Context, pageID string, state audience.SubscriberState) (int, error) {
	return s.store.CountSubscribers(ctx, pageID, state)
}

// Subscriber returns one of a page's subscribers, or ENOTFOUND.
func (s *Service) Subscriber(ctx context.Context, pageID, id string) (*audience.Subscriber, error) {
	if !incident.ValidID(id) {
		return nil, incident.NotFound("subscriber", id)
	}
	sub, err := s.store.FindSubscriberByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if sub.PageID != pageID {
		return nil, incident.NotFound("subscriber", id)
	}
	return sub, nil
}

// UpdateSubscriber changes a subscriber's components (nil: unchanged;
// empty: the whole page) and language (nil: unchanged).
func (s *Service) UpdateSubscriber(ctx context.Context, pageID, id string, componentIDs []string, language *string) (*audience.Subscriber, error) {
	sub, err := s.Subscriber(ctx, pageID, id)
	if err != nil {
		return nil, err
	}
	if componentIDs != nil {
		all, err := s.inc.Store.FindComponents(ctx, pageID)
		if err != nil {
			return nil, err
		}
		comps := []string{}
		for _, cid := range componentIDs {
			if findComp(all, cid) == nil {
				return nil, incident.Invalid("component_ids", "no component %q on this page", cid)
			}
			if !containsString(comps, cid) {
				comps = append(comps, cid)
			}
		}
		sub.ComponentIDs = comps
	}
	if language != nil {
		l, err := contact.NormalizeLanguage(*language)
		if err != nil {
			return nil, err
		}
		sub.Language = l
	}
	if err := s.store.SaveSubscriber(ctx, sub); err != nil {
		return nil, err
	}
	return sub, nil
}

// DeleteSubscriber unsubscribes a subscriber on an admin's behalf (the row
// stays, so the history of who was told what stays readable).
func (s *Service) DeleteSubscriber(ctx context.Context, pageID, id string) error {
	sub, err := s.Subscriber(ctx, pageID, id)
	if err != nil {
		return err
	}
	return s.unsubscribe(ctx, sub)
}

// ResendConfirmation queues a new confirmation for a pending subscriber.
// Errors: ECONFLICT when it is not pending.
func (s *Service) ResendConfirmation(ctx context.Context, pageID, id string) error {
	sub, err := s.Subscriber(ctx, pageID, id)
	if err != nil {
		return err
	}
	if sub.State != audience.SubscriberPending {
		return incident.Errorf(incident.ECONFLICT, "subscriber %s is %s, not pending", id, sub.State)
	}
	return s.sendConfirmation(ctx, sub)
}

// FindSubscribersByAddress finds a page's subscribers as a person types
// an address: the live (pending or active) page-wide subscriber at q read
// as an email (with "@") or as a phone number (defaultRegion for a number
// without its country code), and the subscriber whose ID is q. A
// subscriber following one incident only, or unsubscribed, is found by
// its ID.
func (s *Service) FindSubscribersByAddress(ctx context.Context, pageID, q, defaultRegion string) ([]*audience.Subscriber, error) {
	out := []*audience.Subscriber{}
	q = strings.TrimSpace(q)
	if q == "" || len(q) > 320 {
		return out, nil
	}
	kind, addr := channel.Kind(""), ""
	if strings.Contains(q, "@") {
		if e, err := contact.NormalizeEmail(q); err == nil {
			kind, addr = channel.Email, e
		}
	} else if p, err := contact.NormalizePhone(q, defaultRegion); err == nil {
		kind, addr = channel.SMS, p
	}
	if addr != "" {
		sub, err := s.store.FindSubscriberByAddress(ctx, pageID, kind, addr, "")
		switch {
		case err == nil:
			out = append(out, sub)
		case !errors.Is(err, incident.ErrNotFound):
			return nil, err
		}
	}
	if sub, err := s.Subscriber(ctx, pageID, q); err == nil && (len(out) == 0 || out[0].ID != sub.ID) {
		out = append(out, sub)
	} else if err != nil && !errors.Is(err, incident.ErrNotFound) {
		return nil, err
	}
	return out, nil
}
