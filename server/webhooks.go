package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	slackgo "github.com/slack-go/slack"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify"
	"github.com/heraldhq/herald/notify/contact"
	"github.com/heraldhq/herald/notify/slack"
	"github.com/heraldhq/herald/notify/twilio"
	"github.com/heraldhq/herald/slackapp"
)

// Inbound provider webhooks. Every request is checked against the
// provider's signature before anything in it is read: a forged one gets
// 403 and changes nothing.

// Kinds and results of herald_inbound_webhooks_total.
const (
	inTwilioSMS        = "twilio_sms"
	inTwilioStatus     = "twilio_status"
	inSlackCommand     = "slack_command"
	inSlackInteraction = "slack_interaction"

	resultOK      = "ok"
	resultForged  = "forged"
	resultInvalid = "invalid"
	resultIgnored = "ignored" // valid, but nothing for herald to do (yet)
	resultKept    = "kept"    // a receipt that came before its message was recorded, kept for the dispatcher
	resultHeld    = "held"    // a receipt the store could not take now, held in memory until it answers
	resultError   = "error"
)

func (s *Server) countInbound(kind, result string) {
	s.metrics.inbound.WithLabelValues(kind, result).Inc()
}

// CountInbound counts one inbound message that reached herald outside the
// server (the inbound SMTP listener) in herald_inbound_webhooks_total, so
// that every inbound door is one metric.
func (s *Server) CountInbound(kind, result string) { s.countInbound(kind, result) }

// forged is the answer to a request whose signature does not check out.
func forged(provider string) error {
	return incident.Errorf(incident.EFORBIDDEN, "the %s signature does not match this request", provider)
}

// twilioForm verifies X-Twilio-Signature over the public URL Twilio
// called (the configured public base plus the original path and query,
// as sent) and every posted field, and returns the form.
func (s *Server) twilioForm(c *fiber.Ctx) (url.Values, bool) {
	form := url.Values{}
	c.Request().PostArgs().VisitAll(func(k, v []byte) { form.Add(string(k), string(v)) })
	base := strings.TrimRight(s.bc.cfg.PublicURL, "/")
	if base == "" {
		base = s.baseURL(c)
	}
	ok := twilio.VerifySignature(s.bc.cfg.TwilioAuthToken, base+originForm(c.OriginalURL()), form, c.Get(twilio.HeaderSignature))
	return form, ok
}

// originForm is a request target's path and query as sent. A target in
// absolute form ("POST http://host/path?q HTTP/1.1", which some proxies
// send; RFC 9112 3.2.2) loses its scheme and authority, which the public
// base stands for; an origin-form one ("/path?q") is returned as it is.
// The raw target, not the routed path, because a rewrite (the v1 ".json"
// suffix) must not change what was signed.
func originForm(target string) string {
	if strings.HasPrefix(target, "/") {
		return target
	}
	_, rest, ok := strings.Cut(target, "://")
	if !ok {
		return target
	}
	i := strings.IndexAny(rest, "/?")
	switch {
	case i < 0:
		return "/"
	case rest[i] == '?':
		return "/" + rest[i:]
	}
	return rest[i:]
}

// sendTwiML answers Twilio with a TwiML document.
func sendTwiML(c *fiber.Ctx, doc string) error {
	c.Set(fiber.HeaderContentType, "text/xml; charset=utf-8")
	return c.Status(http.StatusOK).SendString(doc)
}

// twilioSMS is POST /webhooks/twilio/sms: an SMS to one of herald's
// numbers. Keywords (STOP, START, HELP, YES, a sign-up code, in the four
// languages) are answered in TwiML; anything else is a complaint (with
// EnableComplaints; without, it is logged by its SID only) and gets an
// empty answer.
func (s *Server) twilioSMS() fiber.Handler {
	return func(c *fiber.Ctx) error {
		form, ok := s.twilioForm(c)
		if !ok {
			s.countInbound(inTwilioSMS, resultForged)
			return forged("Twilio")
		}
		in, err := twilio.ParseInbound(form)
		if err != nil {
			s.countInbound(inTwilioSMS, resultInvalid)
			return incident.Invalid("MessageSid", "an inbound SMS needs MessageSid and From")
		}
		reply, err := s.bc.notify.HandleInboundSMS(c.UserContext(), in.From, in.To, in.Body)
		if errors.Is(err, notify.ErrNotAKeyword) && (in.OptOutType == "STOP" || in.OptOutType == "START") {
			// Twilio's Advanced Opt-Out matched a word of the messaging
			// service's own list (and has answered it): mirror it, or herald
			// would keep sending to a number Twilio now blocks.
			if _, err = s.bc.notify.HandleInboundSMS(c.UserContext(), in.From, in.To, in.OptOutType); err == nil {
				reply = ""
			}
		}
		if errors.Is(err, notify.ErrNotAKeyword) {
			// A digit from a number with an open survey answers it.
			thanks, answered, serr := s.surveySMS(c, in)
			if serr != nil {
				s.countInbound(inTwilioSMS, resultError)
				return serr
			}
			if answered {
				err, reply = nil, thanks
			}
		}
		switch {
		case errors.Is(err, notify.ErrNotAKeyword) && s.cp != nil:
			// A complaint: filed (or attached to the sender's open one)
			// before Twilio gets its 2xx; the acknowledgement is a delivery
			// in the pipeline, so the TwiML answer is empty.
			if err := s.smsComplaint(c, in); err != nil {
				s.countInbound(inTwilioSMS, resultError)
				return err
			}
			s.countInbound(inTwilioSMS, resultOK)
			reply = ""
		case errors.Is(err, notify.ErrNotAKeyword):
			s.countInbound(inTwilioSMS, resultIgnored)
			s.log.Info("inbound sms: not a keyword", "message_sid", in.MessageSid, "channel", channel.SMS)
			reply = ""
		case err != nil && incident.ErrorCode(err) == incident.EINVALID:
			s.countInbound(inTwilioSMS, resultInvalid)
			s.log.Warn("inbound sms: unreadable sender", "message_sid", in.MessageSid, "channel", channel.SMS)
			reply = ""
		case err != nil:
			s.countInbound(inTwilioSMS, resultError)
			return err
		default:
			s.countInbound(inTwilioSMS, resultOK)
		}
		var doc string
		if reply == "" {
			doc, err = twilio.EmptyReply()
		} else {
			doc, err = twilio.Reply(reply)
		}
		if err != nil {
			return err
		}
		return sendTwiML(c, doc)
	}
}

// twilioStatus is POST /webhooks/twilio/status: a delivery receipt,
// answered at once (Twilio wants a fast 2xx and does not retry). A final
// receipt for a message not recorded yet (Twilio called back before the
// dispatcher wrote the SID) is kept in the store, which every node shares,
// and the dispatcher applies it once it has; anything else about an
// unknown message (sent before a restore, or by another system on the same
// account) is answered 204 too: Twilio cannot do anything about it. A
// receipt the store cannot take now (Redis failing over) is held in memory
// and applied when the store answers again; it is answered 204 as well.
func (s *Server) twilioStatus() fiber.Handler {
	return func(c *fiber.Ctx) error {
		form, ok := s.twilioForm(c)
		if !ok {
			s.countInbound(inTwilioStatus, resultForged)
			return forged("Twilio")
		}
		cb, err := twilio.ParseStatusCallback(form)
		if err != nil {
			s.countInbound(inTwilioStatus, resultInvalid)
			return incident.Invalid("MessageStatus", "a status callback needs MessageSid and MessageStatus")
		}
		err = s.bc.notify.HandleStatusCallback(c.UserContext(), cb.MessageSid, cb.Status, cb.ErrorCode)
		switch {
		case errors.Is(err, notify.ErrReceiptHeld):
			// The store failed; the receipt waits in memory and is applied
			// when it answers. Twilio does not retry a 5xx: say 2xx.
			s.countInbound(inTwilioStatus, resultHeld)
		case errors.Is(err, notify.ErrReceiptKept):
			s.countInbound(inTwilioStatus, resultKept)
			s.log.Debug("twilio status kept for a message not recorded yet", "message_sid", cb.MessageSid)
		case errors.Is(err, notify.ErrReceiptNotFinal), errors.Is(err, incident.ErrNotFound) || incident.ErrorCode(err) == incident.ENOTFOUND:
			s.countInbound(inTwilioStatus, resultIgnored)
			s.log.Debug("twilio status for an unknown message", "message_sid", cb.MessageSid)
		case err != nil:
			s.countInbound(inTwilioStatus, resultError)
			return err
		default:
			s.countInbound(inTwilioStatus, resultOK)
		}
		return c.SendStatus(http.StatusNoContent)
	}
}

// slackBody verifies a Slack request's signature over the raw body. A
// refusal says why, so that whoever sets up the app can tell a wrong
// secret from a clock that is off (Slack signs with the time it sends,
// and a request more than MaxSkew from herald's clock is refused as a
// replay) or a proxy that drops headers; the answer names neither the
// secret nor what the signature should have been.
func (s *Server) slackBody(c *fiber.Ctx) ([]byte, error) {
	if s.bc.cfg.SlackSigningSecret == "" {
		return nil, incident.Errorf(incident.EFORBIDDEN, "herald refuses Slack requests: no Slack signing secret is set (HERALD_SLACK_SIGNING_SECRET)")
	}
	h := http.Header{}
	c.Request().Header.VisitAll(func(k, v []byte) { h.Add(string(k), string(v)) })
	body := c.Body()
	err := slack.VerifyRequest(h, body, s.bc.cfg.SlackSigningSecret, s.svc.Now())
	switch {
	case err == nil:
		return body, nil
	case errors.Is(err, slackgo.ErrMissingHeaders):
		return nil, incident.Errorf(incident.EFORBIDDEN, "the Slack request has no %s or %s header (a proxy may drop them)", slack.HeaderSignature, slack.HeaderTimestamp)
	case errors.Is(err, slackgo.ErrExpiredTimestamp):
		skew := "an unreadable time"
		if ts, perr := strconv.ParseInt(c.Get(slack.HeaderTimestamp), 10, 64); perr == nil {
			d := s.svc.Now().Sub(time.Unix(ts, 0)).Round(time.Second)
			skew = d.String() + " before"
			if d < 0 {
				skew = (-d).String() + " after"
			}
		}
		s.warnSlackClock(skew)
		return nil, incident.Errorf(incident.EFORBIDDEN,
			"the Slack request was signed at %s this server's time; herald accepts %s either way, as Slack does: check the server's clock (NTP), or a queue that held the request",
			skew, slack.MaxSkew)
	}
	return nil, forged("Slack")
}

// warnSlackClock logs a stale Slack timestamp at most once a minute: a
// skewed clock refuses every Slack request, and the log is where an
// operator looks; a replay flood must not flood it.
func (s *Server) warnSlackClock(skew string) {
	now := time.Now()
	last := s.slackClockWarned.Load()
	if last != 0 && now.Sub(time.Unix(0, last)) < time.Minute || !s.slackClockWarned.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	s.log.Warn("slack: request refused, its timestamp is too far from this server's clock (check NTP)", "signed", skew+" this server's time", "max_skew", slack.MaxSkew.String())
}

// slackHelp is what /herald answers without the Slack app (EnableSlackApp).
const slackHelp = "herald: `/herald status` shows the status page's overall status; `/complaint TEXT` (or `/herald complaint TEXT`) files a complaint."

// slackCommand is POST /webhooks/slack/commands. /complaint and /herald
// complaint file a complaint; any other /herald goes to the Slack app
// (declare, status, list, help), which answers within Slack's 3 seconds
// and opens modals after. Answers are ephemeral; an empty answer (a modal
// is opening) is an empty 200.
func (s *Server) slackCommand() fiber.Handler {
	return func(c *fiber.Ctx) error {
		body, err := s.slackBody(c)
		if err != nil {
			s.countInbound(inSlackCommand, resultForged)
			return err
		}
		cmd, err := slack.ParseSlashCommand(body)
		if err != nil {
			s.countInbound(inSlackCommand, resultInvalid)
			return incident.Invalid("command", "a slash command needs a command")
		}
		s.countInbound(inSlackCommand, resultOK)
		words := strings.Fields(strings.ToLower(cmd.Text))
		if s.cp != nil && (cmd.Command == "/complaint" || len(words) > 0 && words[0] == "complaint") {
			text := cmd.Text
			if cmd.Command != "/complaint" {
				// The words after the first, which read "complaint" in
				// lower case: not a cut by its byte length, since a letter
				// may lower-case to fewer bytes ("COMPLAİNT").
				text = strings.TrimSpace(text)
				if i := strings.IndexFunc(text, unicode.IsSpace); i >= 0 {
					text = text[i:]
				} else {
					text = ""
				}
			}
			answer, err := s.slackComplaint(c.UserContext(), cmd, text)
			if err != nil {
				if _, internal := asDomainError(err); internal {
					return err
				}
				answer = "herald: " + err.Error()
			}
			return c.JSON(fiber.Map{"response_type": "ephemeral", "text": answer})
		}
		if s.slackApp != nil && slackapp.Handles(cmd) {
			answer, err := s.slackApp.Command(c.UserContext(), cmd)
			if err != nil {
				return err
			}
			if answer == "" {
				return emptyOK(c)
			}
			return c.JSON(fiber.Map{"response_type": "ephemeral", "text": answer})
		}
		text := slackHelp
		if len(words) > 0 && words[0] == "status" {
			pageID := ""
			if len(words) > 1 {
				pageID = words[1]
			}
			if text, err = s.overallStatus(c.UserContext(), pageID); err != nil {
				if _, internal := asDomainError(err); internal {
					return err
				}
				text = "herald: " + err.Error()
			}
		}
		return c.JSON(fiber.Map{"response_type": "ephemeral", "text": text})
	}
}

// emptyOK answers 200 with an empty body: Slack shows a slash command's
// body as a message, and an empty body closes a modal (fiber's
// SendStatus would answer "OK").
func emptyOK(c *fiber.Ctx) error {
	c.Status(http.StatusOK)
	return nil
}

// overallStatus describes a page's status in one line.
func (s *Server) overallStatus(ctx context.Context, pageID string) (string, error) {
	var page *incident.Page
	if pageID != "" {
		p, err := s.svc.Page(ctx, pageID)
		if err != nil {
			return "", err
		}
		page = p
	} else {
		pages, err := s.svc.Pages(ctx)
		if err != nil {
			return "", err
		}
		if len(pages) == 0 {
			return "", incident.Errorf(incident.ENOTFOUND, "there is no status page yet")
		}
		page = pages[0]
	}
	comps, err := s.svc.Components(ctx, page.ID)
	if err != nil {
		return "", err
	}
	open, _, err := s.svc.Incidents(ctx, incident.IncidentFilter{PageID: page.ID, Statuses: openStatuses})
	if err != nil {
		return "", err
	}
	st := incident.Overall(comps, open)
	text := page.Name + ": " + st.Description
	for _, inc := range open {
		text += "\n• " + inc.Name + " (" + string(inc.Status) + ")"
	}
	return text, nil
}

// slackInteraction is POST /webhooks/slack/interactions: the message
// shortcut that files a customer's message as a complaint, and herald's
// modals and buttons (the Slack app); anything else is acknowledged and
// ignored (Slack wants an answer within 3 s). A modal's submission is
// answered with its errors, or an empty 200 that closes it.
func (s *Server) slackInteraction() fiber.Handler {
	return func(c *fiber.Ctx) error {
		body, err := s.slackBody(c)
		if err != nil {
			s.countInbound(inSlackInteraction, resultForged)
			return err
		}
		in, err := slack.ParseInteraction(body)
		if err != nil {
			s.countInbound(inSlackInteraction, resultInvalid)
			return incident.Invalid("payload", "an interaction needs a JSON payload")
		}
		if s.cp != nil {
			filed, err := s.slackShortcut(c.UserContext(), in)
			if err != nil {
				s.countInbound(inSlackInteraction, resultError)
				return err
			}
			if filed {
				s.countInbound(inSlackInteraction, resultOK)
				return c.SendStatus(http.StatusOK)
			}
		}
		if s.slackApp != nil {
			resp, handled := s.slackApp.Interaction(c.UserContext(), in)
			if handled {
				s.countInbound(inSlackInteraction, resultOK)
				if resp != nil {
					return c.JSON(resp)
				}
				return emptyOK(c)
			}
		}
		s.countInbound(inSlackInteraction, resultIgnored)
		return c.SendStatus(http.StatusOK)
	}
}

// smsComplaint files an inbound SMS that is no keyword as a complaint from
// its sender. Twilio's MessageSid is the message's external ID, so a
// retried webhook files it once.
func (s *Server) smsComplaint(c *fiber.Ctx, in twilio.InboundSMS) error {
	phone := strings.TrimPrefix(in.From, "whatsapp:")
	if e164, err := contact.NormalizePhone(phone, s.bc.cfg.DefaultRegion); err == nil {
		phone = e164
	}
	text := in.Body
	if strings.TrimSpace(text) == "" {
		text = "(a message without text"
		if in.NumMedia > 0 {
			text += ", with " + strconv.Itoa(in.NumMedia) + " attachment(s)"
		}
		text += ")"
	}
	if n := complaint.MaxTextLen; utf8.RuneCountInString(text) > n {
		text = string([]rune(text)[:n])
	}
	cp, created, err := s.cp.svc.Receive(c.UserContext(), complaint.Intake{Channel: complaint.SMS,
		Contact: complaint.Contact{Phone: phone}, Text: text, ExternalID: in.MessageSid})
	if err != nil {
		return err
	}
	s.log.Info("inbound sms: complaint", "message_sid", in.MessageSid, "complaint_id", cp.ID, "new", created, "channel", channel.SMS)
	return nil
}
