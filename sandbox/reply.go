package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultFrom is the number the sandbox's messages come from when herald
// names none, and the number a reply goes to.
const DefaultFrom = "+15005550006"

// Reply is what happened to a texted reply: herald's answer to the
// webhook, as Twilio would have seen it.
type Reply struct {
	MessageSid string `json:"message_sid"`
	Status     int    `json:"status"` // herald's HTTP status
	TwiML      string `json:"twiml"`  // herald's answer (TwiML), cut to 2 000 bytes
}

// SendReply posts a customer's text to herald as Twilio posts an inbound
// SMS: a form with MessageSid, AccountSid, From, To and Body, signed with
// the auth token (X-Twilio-Signature) over Config.InboundSMSURL. It is how
// a person tries herald's SMS intake (keywords, complaints) without a
// phone.
func (s *Sandbox) SendReply(ctx context.Context, from, to, body string) (Reply, error) {
	target := s.cfg.InboundSMSURL
	switch {
	case target == "":
		return Reply{}, fmt.Errorf("sandbox: no inbound SMS URL is configured")
	case !strings.HasPrefix(from, "+") || len(from) < 8:
		return Reply{}, fmt.Errorf("sandbox: from must be an E.164 number, got %q", from)
	case strings.TrimSpace(body) == "" || !utf8.ValidString(body) || len(body) > 1600:
		return Reply{}, fmt.Errorf("sandbox: body must be 1 to 1600 bytes of text")
	}
	if to == "" {
		to = DefaultFrom
	}
	sid := make([]byte, 16)
	if _, err := rand.Read(sid); err != nil {
		return Reply{}, err
	}
	r := Reply{MessageSid: "SM" + hex.EncodeToString(sid)}
	form := url.Values{
		"MessageSid": {r.MessageSid}, "SmsSid": {r.MessageSid}, "SmsMessageSid": {r.MessageSid},
		"AccountSid": {s.cfg.AccountSID}, "From": {from}, "To": {to}, "Body": {body},
		"NumMedia": {"0"}, "NumSegments": {"1"}, "SmsStatus": {"received"}, "ApiVersion": {twilioAPIVersion},
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return Reply{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set("X-Twilio-Signature", TwilioSignature(s.cfg.AuthToken, target, form))
	res, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return Reply{}, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 2000))
	r.Status, r.TwiML = res.StatusCode, string(b)
	s.log.Info("sandbox: texted reply posted", "message_sid", r.MessageSid, "status", r.Status)
	if r.Status/100 == 2 {
		// What herald answered in the TwiML (a keyword's answer: HELP,
		// STOP, START) Twilio would text back at once: the inbox shows it
		// as the SMS it would be.
		for _, text := range twimlMessages(b) {
			segments, _ := CountSegments(text)
			s.inbox.add(Message{ID: newSID("SM"), Kind: KindSMS, From: to, To: from, Body: text, Status: "delivered",
				At: time.Now().UTC(), Segments: segments})
		}
	}
	return r, nil
}

// twimlMessages is the texts of a TwiML answer's <Message> verbs, in
// order; none for an empty <Response/> or what is not TwiML.
func twimlMessages(b []byte) []string {
	var doc struct {
		XMLName  xml.Name `xml:"Response"`
		Messages []struct {
			Body string `xml:"Body"`
			Text string `xml:",chardata"`
		} `xml:"Message"`
	}
	if xml.Unmarshal(b, &doc) != nil {
		return nil
	}
	var out []string
	for _, m := range doc.Messages {
		text := m.Text
		if strings.TrimSpace(m.Body) != "" {
			text = m.Body // <Message><Body>…</Body></Message>
		}
		if text = strings.TrimSpace(text); text != "" {
			out = append(out, text)
		}
	}
	return out
}

// EmailReply is a customer's email to herald written in the sandbox: a
// reply to one of herald's emails (InReplyTo its Message-ID, without
// brackets) or a new one.
type EmailReply struct {
	From, Name, Subject, Text, InReplyTo string
}

// SetEmailReceiver gives the sandbox herald's inbound email intake: a
// customer's emailed reply (SendEmailReply) is handed to it as herald's
// SMTP listener hands a received mail, so a person can try the email
// door without a mail client. nil takes it away.
func (s *Sandbox) SetEmailReceiver(fn func(context.Context, EmailReply) error) {
	if fn == nil {
		s.emailReceiver.Store(nil)
		return
	}
	s.emailReceiver.Store(&fn)
}

// ErrNoEmailIntake is SendEmailReply's error when herald gave the sandbox
// no email intake.
var ErrNoEmailIntake = errors.New("sandbox: herald takes no email here")

// SendEmailReply hands a customer's email to herald's intake.
func (s *Sandbox) SendEmailReply(ctx context.Context, e EmailReply) error {
	fn := s.emailReceiver.Load()
	switch {
	case fn == nil:
		return ErrNoEmailIntake
	case !strings.Contains(e.From, "@") || len(e.From) > 254 || strings.ContainsAny(e.From, " <>\r\n"):
		return fmt.Errorf("sandbox: from must be a bare email address, got %q", e.From)
	case strings.TrimSpace(e.Text) == "" || !utf8.ValidString(e.Text) || !utf8.ValidString(e.Subject) || len(e.Text) > 10000 || len(e.Subject) > 500:
		return fmt.Errorf("sandbox: the email needs a text of 1 to 10 000 bytes of UTF-8 (and a subject of at most 500)")
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := (*fn)(ctx, e); err != nil {
		return err
	}
	s.log.Info("sandbox: emailed reply handed to herald", "threaded", e.InReplyTo != "")
	return nil
}

// handleReply is POST /sandbox/reply (form or query: from, to, body; with
// channel=email, from, subject, body and in_reply_to, an email): the
// inbox's "reply as the customer". A browser's form post goes back to
// the inbox; anything else gets the Reply as JSON.
//
// A body that is not a form is refused (415). herald's webhook and Slack
// incoming-webhook posts may reach this listener: subscribers may point
// at its sinks, so its address is exempt from herald's SSRF rules. They
// are JSON, and without this a subscriber's URL of
// /sandbox/reply?from=+36…&body=STOP would have herald text itself a
// signed STOP from any number on every broadcast.
func (s *Sandbox) handleReply(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		if u, err := url.Parse(o); err != nil || u.Host != r.Host {
			http.Error(w, "cross-origin reply refused", http.StatusForbidden)
			return
		}
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/x-www-form-urlencoded" {
			replyProblem(w, http.StatusUnsupportedMediaType, "invalid", "", "the body must be a form (application/x-www-form-urlencoded), or absent with the fields in the query")
			return
		}
	}
	// An email reply's 10 000 bytes of text, percent-encoded, fit.
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			replyProblem(w, http.StatusRequestEntityTooLarge, "too_large", "", "the reply is larger than 64 KiB")
			return
		}
		replyProblem(w, http.StatusBadRequest, "invalid", "", "the body is not a form (application/x-www-form-urlencoded) or query: "+err.Error())
		return
	}
	var answer any
	var err error
	switch r.Form.Get("channel") {
	case "", "sms", "email":
	default:
		replyProblem(w, http.StatusBadRequest, "invalid", "channel", fmt.Sprintf("must be sms (the default) or email, not %q", r.Form.Get("channel")))
		return
	}
	if r.Form.Get("channel") == "email" {
		err = s.SendEmailReply(r.Context(), EmailReply{From: strings.TrimSpace(r.Form.Get("from")), Name: strings.TrimSpace(r.Form.Get("name")),
			Subject: strings.TrimSpace(r.Form.Get("subject")), Text: r.Form.Get("body"), InReplyTo: strings.Trim(strings.TrimSpace(r.Form.Get("in_reply_to")), "<>")})
		answer = map[string]string{"status": "handed to herald"}
	} else {
		answer, err = s.SendReply(r.Context(), strings.TrimSpace(r.Form.Get("from")), strings.TrimSpace(r.Form.Get("to")), r.Form.Get("body"))
	}
	if err != nil {
		replyProblem(w, http.StatusBadRequest, "invalid", "", err.Error())
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		http.Redirect(w, r, "/sandbox", http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusOK, answer)
}

// replyProblem answers a refused reply as herald's API answers errors:
// {"error":{"code","message","field"}}.
func replyProblem(w http.ResponseWriter, status int, code, field, message string) {
	detail := map[string]string{"code": code, "message": message}
	if field != "" {
		detail["field"] = field
	}
	writeJSON(w, status, map[string]any{"error": detail})
}
