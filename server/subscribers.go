package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/nyaruka/phonenumbers"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/incident/wire"
	"github.com/heraldhq/herald/notify"
)

// The Statuspage v1 subscriber endpoints, mirrored on notify's
// subscribers. Field names follow developer.statuspage.io and the
// open-source clients written for it (bsneade/statuspageio-python,
// alissonlinneker/statuspage-php-sdk).

// subscriberRequest is POST .../subscribers:
// {"subscriber":{"email"|"phone_number"+"phone_country"|"endpoint", ...}}.
type subscriberRequest struct {
	wire.SubscriberRequest

	kind  channel.Kind
	addr  string
	field string // the address's field, for errors
}

func (r *subscriberRequest) shape() any { return &r.SubscriberRequest }

func (r *subscriberRequest) Valid() error {
	sub := r.Subscriber
	if sub == nil {
		return required("subscriber")
	}
	given := func(v *string) bool { return v != nil && strings.TrimSpace(*v) != "" }
	var set []string
	for name, v := range map[string]*string{"email": sub.Email, "phone_number": sub.PhoneNumber, "endpoint": sub.Endpoint} {
		// A Statuspage webhook subscriber comes with an email too (the
		// address told when its endpoint fails): the endpoint decides.
		if given(v) && !(name == "email" && given(sub.Endpoint)) {
			set = append(set, name)
		}
	}
	if len(set) != 1 {
		return incident.Invalid("subscriber", "send exactly one of email, phone_number or endpoint")
	}
	mode := ""
	if sub.Mode != nil {
		mode = strings.ToLower(*sub.Mode)
	}
	switch set[0] {
	case "email":
		r.kind, r.addr, r.field = channel.Email, *sub.Email, "email"
	case "endpoint":
		r.kind, r.addr, r.field = channel.Webhook, *sub.Endpoint, "endpoint"
		if mode == "slack" {
			r.kind = channel.Slack
		}
	case "phone_number":
		r.kind, r.addr, r.field = channel.SMS, *sub.PhoneNumber, "phone_number"
		if sub.PhoneCountry != nil && *sub.PhoneCountry != "" {
			region := strings.ToUpper(strings.TrimSpace(*sub.PhoneCountry))
			if len(region) != 2 {
				return incident.Invalid("subscriber.phone_country", "must be a two-letter country code such as HU")
			}
			num, err := phonenumbers.Parse(*sub.PhoneNumber, region)
			if err != nil || !phonenumbers.IsValidNumber(num) {
				return incident.Invalid("subscriber.phone_number", "is not a valid phone number in %s", region)
			}
			r.addr = phonenumbers.Format(num, phonenumbers.E164)
		}
	}
	if mode != "" && string(r.kind) != mode && !(mode == "webhook" && r.kind == channel.Webhook) {
		return incident.Invalid("subscriber.mode", "is %q but the subscriber has a %s", mode, r.field)
	}
	return nil
}

// toSubscriberJSON writes sub as the v1 API does.
func toSubscriberJSON(sub *audience.Subscriber) wire.Subscriber {
	out := wire.Subscriber{ID: sub.ID, Mode: string(sub.Kind), ComponentIDs: sub.ComponentIDs, PageID: sub.PageID,
		IncidentID: wire.Nullable(sub.IncidentID), State: string(sub.State), Language: sub.Language, Source: sub.Source,
		CreatedAt: wire.UTC.At(sub.CreatedAt), ConfirmedAt: wire.UTC.AtPtr(sub.ConfirmedAt), UnsubscribedAt: wire.UTC.AtPtr(sub.UnsubscribedAt),
		UnsubscribeReason: wire.Nullable(sub.UnsubscribeReason),
		// Added through the API and active from the start: no confirmation went out.
		SkipConfirmationNotification: sub.Source == "api" && sub.ConfirmedAt != nil && sub.ConfirmedAt.Equal(sub.CreatedAt)}
	if out.ComponentIDs == nil {
		out.ComponentIDs = []string{}
	}
	out.Components = wire.Nullable(strings.Join(sub.ComponentIDs, ","))
	switch sub.Kind {
	case channel.Email:
		out.Email = wire.Nullable(sub.Address)
	case channel.SMS:
		out.PhoneNumber = wire.Nullable(sub.Address)
		if num, err := phonenumbers.Parse(sub.Address, ""); err == nil {
			out.PhoneCountry = wire.Nullable(phonenumbers.GetRegionCodeForNumber(num))
			out.DisplayPhoneNumber = wire.Nullable(phonenumbers.Format(num, phonenumbers.INTERNATIONAL))
		}
	default:
		out.Endpoint = wire.Nullable(sub.Address)
	}
	return out
}

// subscriberState reads ?state= as Statuspage names it: active (the
// default), unconfirmed, unsubscribed or all.
func subscriberState(c *fiber.Ctx, def audience.SubscriberState) (audience.SubscriberState, error) {
	switch v := strings.ToLower(c.Query("state")); v {
	case "":
		return def, nil
	case "active":
		return audience.SubscriberActive, nil
	case "unconfirmed", "pending":
		return audience.SubscriberPending, nil
	case "unsubscribed":
		return audience.SubscriberUnsubscribed, nil
	case "all":
		return "", nil
	}
	return "", incident.Invalid("state", "must be active, unconfirmed, unsubscribed or all")
}

// subscriberKind reads ?type= (email, sms, webhook, slack; "" any).
func subscriberKind(c *fiber.Ctx) (channel.Kind, error) {
	switch v := channel.Kind(strings.ToLower(c.Query("type"))); v {
	case "", channel.Email, channel.SMS, channel.Webhook, channel.Slack:
		return v, nil
	}
	return "", incident.Invalid("type", "must be email, sms, webhook or slack")
}

// listSubscribers lists a page's subscribers (following: an incident's
// followers), by ID: ?state= (default def), ?type=, ?after= (the last ID
// of the previous page), ?limit= (1..1000, default 100) and Statuspage's
// ?page= (from 0: skips page*limit subscribers).
func (s *Server) listSubscribers(def audience.SubscriberState, following bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, pageID := c.UserContext(), c.Params("page_id")
		state, err := subscriberState(c, def)
		if err != nil {
			return err
		}
		kind, err := subscriberKind(c)
		if err != nil {
			return err
		}
		limit, err := queryInt(c, "limit", 100, 1, 1000)
		if err != nil {
			return err
		}
		pageNo, err := queryInt(c, "page", 0, 0, 1000000)
		if err != nil {
			return err
		}
		if _, err := s.svc.Page(ctx, pageID); err != nil {
			return err
		}
		f := audience.SubscriberFilter{PageID: pageID, State: state, Kind: kind, After: c.Query("after"), Limit: limit}
		if following {
			inc, err := s.svc.Incident(ctx, pageID, c.Params("incident_id"))
			if err != nil {
				return err
			}
			f.IncidentID, f.Following = inc.ID, true
		}
		subs := []*audience.Subscriber{}
		if more, err := s.skipSubscribers(ctx, &f, pageNo*limit); err != nil {
			return err
		} else if more {
			if subs, err = s.bc.notify.Subscribers(ctx, f); err != nil {
				return err
			}
		}
		out := make([]wire.Subscriber, len(subs))
		for i, sub := range subs {
			out[i] = toSubscriberJSON(sub)
		}
		if len(subs) == limit {
			c.Set("X-Next-After", subs[len(subs)-1].ID)
		}
		return c.JSON(out)
	}
}

// skipSubscribers moves f.After past the next n subscribers f selects,
// reading them by the thousand; false when fewer than n were left.
func (s *Server) skipSubscribers(ctx context.Context, f *audience.SubscriberFilter, n int) (bool, error) {
	for n > 0 {
		g := *f
		g.Limit = min(n, 1000)
		subs, err := s.bc.notify.Subscribers(ctx, g)
		if err != nil {
			return false, err
		}
		if len(subs) < g.Limit {
			return false, nil
		}
		f.After, n = subs[len(subs)-1].ID, n-len(subs)
	}
	return true, nil
}

// countSubscribers answers Statuspage's count by type for ?state=
// (default active) and ?type=: {"email", "sms", "webhook", "slack",
// "integration_partner"} (herald has no integration partners), plus
// herald's "count", their total.
func (s *Server) countSubscribers() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, pageID := c.UserContext(), c.Params("page_id")
		state, err := subscriberState(c, audience.SubscriberActive)
		if err != nil {
			return err
		}
		kind, err := subscriberKind(c)
		if err != nil {
			return err
		}
		if _, err := s.svc.Page(ctx, pageID); err != nil {
			return err
		}
		n, err := s.countByKind(ctx, pageID, state, kind)
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"email": n[channel.Email], "sms": n[channel.SMS], "webhook": n[channel.Webhook],
			"slack": n[channel.Slack], "integration_partner": 0, "count": n[channel.Email] + n[channel.SMS] + n[channel.Webhook] + n[channel.Slack]})
	}
}

// countByKind counts a page's subscribers per kind ("" every kind) in one
// pass over the list: the store counts by state only.
func (s *Server) countByKind(ctx context.Context, pageID string, state audience.SubscriberState, kind channel.Kind) (map[channel.Kind]int, error) {
	n, after := map[channel.Kind]int{}, ""
	for {
		subs, err := s.bc.notify.Subscribers(ctx, audience.SubscriberFilter{PageID: pageID, State: state, Kind: kind, After: after, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, sub := range subs {
			n[sub.Kind]++
		}
		if len(subs) < 1000 {
			return n, nil
		}
		after = subs[len(subs)-1].ID
	}
}

// createSubscriber adds a subscriber (following: an incident follower).
// A manager adding one with skip_confirmation_notification makes it active
// at once, as on Statuspage; otherwise email and SMS subscribers get a
// confirmation. An address already subscribed answers with the existing
// subscriber.
func (s *Server) createSubscriber(following bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req subscriberRequest
		if err := decode(c, &req); err != nil {
			return err
		}
		ctx, pageID := c.UserContext(), c.Params("page_id")
		if region := s.bc.cfg.DefaultRegion; req.kind == channel.SMS && req.Subscriber.PhoneCountry == nil && region != "" {
			// A national number without phone_country is read as a number
			// of the configured region, as Statuspage reads it in the page's.
			if num, err := phonenumbers.Parse(req.addr, strings.ToUpper(region)); err == nil && phonenumbers.IsValidNumber(num) {
				req.addr = phonenumbers.Format(num, phonenumbers.E164)
			}
		}
		sr := notify.SubscribeRequest{PageID: pageID, Kind: req.kind, Address: req.addr, ComponentIDs: req.Subscriber.ComponentIDs,
			Source: "api", Confirmed: req.Subscriber.SkipConfirmationNotification}
		if req.Subscriber.Language != nil {
			sr.Language = *req.Subscriber.Language
		}
		if following {
			sr.IncidentID = c.Params("incident_id")
		}
		sub, err := s.bc.notify.Subscribe(ctx, sr)
		if err != nil {
			return fieldFor(err, "subscriber", req.field)
		}
		return c.Status(http.StatusCreated).JSON(toSubscriberJSON(sub))
	}
}

func (s *Server) getSubscriber() fiber.Handler {
	return func(c *fiber.Ctx) error {
		sub, err := s.bc.notify.Subscriber(c.UserContext(), c.Params("page_id"), c.Params("subscriber_id"))
		if err != nil {
			return err
		}
		return c.JSON(toSubscriberJSON(sub))
	}
}

// subscriberUpdate is PATCH .../subscribers/:id: Statuspage sends
// {"component_ids":[...]}; the {"subscriber":{...}} wrapper is taken too.
// component_ids absent leaves them unchanged; null or [] is the whole page.
type subscriberUpdate struct {
	ComponentIDs sentIDs `json:"component_ids"`
	Language     *string `json:"language"`
	Subscriber   *struct {
		ComponentIDs sentIDs `json:"component_ids"`
		Language     *string `json:"language"`
	} `json:"subscriber"`
}

// sentIDs is a list of IDs that knows whether it was sent: a *[]string
// stays nil both when the field is absent and when it is null, and here
// the two mean different things (unchanged, the whole page). encoding/json
// calls UnmarshalJSON for null only on a non-pointer field, hence a value.
type sentIDs struct {
	Sent bool
	IDs  []string // non-nil when Sent
}

// UnmarshalJSON records that the field was sent; null reads as [].
func (l *sentIDs) UnmarshalJSON(b []byte) error {
	var ids []string
	if err := json.Unmarshal(b, &ids); err != nil {
		return err
	}
	if ids == nil {
		ids = []string{}
	}
	l.Sent, l.IDs = true, ids
	return nil
}

func (r *subscriberUpdate) Valid() error {
	if r.Subscriber != nil {
		if !r.ComponentIDs.Sent {
			r.ComponentIDs = r.Subscriber.ComponentIDs
		}
		if r.Language == nil {
			r.Language = r.Subscriber.Language
		}
	}
	if !r.ComponentIDs.Sent && r.Language == nil {
		return incident.Invalid("component_ids", "send component_ids ([] or null for the whole page) or language")
	}
	return nil
}

func (s *Server) updateSubscriber() fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req subscriberUpdate
		if err := decode(c, &req); err != nil {
			return err
		}
		sub, err := s.bc.notify.UpdateSubscriber(c.UserContext(), c.Params("page_id"), c.Params("subscriber_id"), req.ComponentIDs.IDs, req.Language)
		if err != nil {
			return err
		}
		return c.JSON(toSubscriberJSON(sub))
	}
}

// deleteSubscriber unsubscribes and answers with the subscriber, as
// Statuspage does.
func (s *Server) deleteSubscriber() fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, pageID, id := c.UserContext(), c.Params("page_id"), c.Params("subscriber_id")
		if err := s.bc.notify.DeleteSubscriber(ctx, pageID, id); err != nil {
			return err
		}
		sub, err := s.bc.notify.Subscriber(ctx, pageID, id)
		if err != nil {
			return err
		}
		return c.JSON(toSubscriberJSON(sub))
	}
}

// resendConfirmation answers 201 with no body, as Statuspage does; 409
// when the subscriber is not waiting for a confirmation.
func (s *Server) resendConfirmation() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := s.bc.notify.ResendConfirmation(c.UserContext(), c.Params("page_id"), c.Params("subscriber_id")); err != nil {
			return err
		}
		return c.SendStatus(http.StatusCreated)
	}
}
