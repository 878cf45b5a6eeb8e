package node

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	netmail "net/mail"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify"
	"github.com/heraldhq/herald/notify/smtp"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/sandbox"
	"github.com/heraldhq/herald/server"
	"github.com/heraldhq/herald/surveys"
)

// InboundEmail holds the settings of inbound email, which becomes
// complaints: herald's own SMTP listener (off unless an address is set)
// and the recipient domains it accepts. The HTTP endpoint's credential is
// a provider secret: HERALD_INBOUND_EMAIL_SECRET (see Providers).
type InboundEmail struct {
	SMTPAddr string // host:port of the inbound SMTP listener; "" is off
	Domains  string // comma-separated recipient domains accepted; "" any
}

func (m *InboundEmail) settings() []Setting {
	return []Setting{
		{"inbound_smtp_addr", "HERALD_INBOUND_SMTP_ADDR", "inbound-smtp-addr", "accept complaints by email on an SMTP listener at `HOST:PORT` (off when empty)", func(v string) error {
			m.SMTPAddr = strings.TrimSpace(v)
			return nil
		}, func() string { return m.SMTPAddr }},
		{"inbound_email_domains", "HERALD_INBOUND_EMAIL_DOMAINS", "inbound-email-domains", "the SMTP listener takes mail only to these recipient `DOMAINS` (comma-separated); empty takes any", func(v string) error {
			m.Domains = strings.Join(m.domains(v), ",")
			return nil
		}, func() string { return m.Domains }},
	}
}

func (m *InboundEmail) domains(v string) []string {
	var out []string
	for _, d := range strings.Split(v, ",") {
		if d = strings.ToLower(strings.TrimSpace(d)); d != "" {
			out = append(out, d)
		}
	}
	return out
}

// validate reports the first inbound email setting that cannot work.
func (m *InboundEmail) validate() error {
	if m.SMTPAddr != "" {
		if _, port, err := net.SplitHostPort(m.SMTPAddr); err != nil || port == "" {
			return fmt.Errorf("inbound_smtp_addr: want HOST:PORT, got %q", m.SMTPAddr)
		} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return fmt.Errorf("inbound_smtp_addr: bad port in %q", m.SMTPAddr)
		}
	}
	for _, d := range m.domains(m.Domains) {
		if strings.ContainsAny(d, "@ \t/:") || !strings.Contains(d, ".") && d != "localhost" {
			return fmt.Errorf("inbound_email_domains: %q is no domain name", d)
		}
	}
	return nil
}

// deliveryFinder finds the delivery a reply's In-Reply-To names.
type deliveryFinder interface {
	FindDeliveryByID(ctx context.Context, id string) (*queue.Delivery, error)
}

// emailIntake turns an inbound email into a complaint: the mapping both
// email doors share (the SMTP listener and POST /webhooks/email/inbound).
// It drops automatic mail, threads a reply to the complaint or incident
// herald wrote about, and files the rest through complaint.Service; the
// email is stored when it returns nil.
type emailIntake struct {
	complaints *complaint.Service
	deliveries deliveryFinder
	// surveys takes a reply to a survey email that starts with a score
	// as the survey's answer (nil: every reply is a complaint).
	surveys *surveys.Service
	pageID  string   // the page a quoted reference is looked up on
	own     []string // herald's own sender addresses: mail from them is a loop
	log     *slog.Logger
}

// maxThreadLookups bounds the store reads one email's References cost.
const maxThreadLookups = 10

// deliveryIDChars is what herald's Message-IDs start with: the delivery's
// ID, hex (queue.DeliveryID). Any other Message-ID is no herald message's,
// and is not looked up.
var deliveryIDChars = regexp.MustCompile(`^[0-9a-f]{16,64}$`)

// quotedRef finds a complaint reference (complaint.NewRef: "C-" and eight
// of [0-9A-Z]) in a subject.
var quotedRef = regexp.MustCompile(`\bC-[0-9A-Z]{8}\b`)

// handle files one email (smtp.InboundHandler).
func (e *emailIntake) handle(ctx context.Context, in smtp.InboundEmail, _ int) error {
	if reason := in.Automatic(e.own...); reason != "" {
		// By Message-ID only: never the body or an address.
		e.log.Info("inbound email ignored: automatic", "message_id", in.MessageID, "reason", reason, "channel", channel.Email)
		return fmt.Errorf("%w: %s", smtp.ErrIgnored, reason)
	}
	// The References herald's answers to this email carry: its own,
	// then its Message-ID (RFC 5322 §3.6.4).
	thread := notify.ReplyReferences(in.References, in.InReplyTo, in.MessageID)
	intake := complaint.Intake{
		Channel: complaint.Email,
		// The service cleans and cuts a customer's words to its limits.
		Contact:    complaint.Contact{Email: in.From, Name: in.FromName},
		Subject:    strings.Join(strings.Fields(in.Subject), " "),
		Text:       in.CustomerText(),
		ExternalID: externalID(in),
		Thread:     thread,
	}
	if strings.TrimSpace(intake.Text) == "" && strings.TrimSpace(intake.Subject) == "" {
		e.log.Info("inbound email rejected: no subject and no text", "message_id", in.MessageID, "channel", channel.Email)
		return fmt.Errorf("%w: no subject and no text", smtp.ErrRejected)
	}
	surveyID, err := e.thread(ctx, in, &intake)
	if err != nil {
		return err
	}
	if surveyID != "" && e.surveys != nil {
		// "5 - all fine, thanks" in reply to the survey answers it: no
		// complaint, no apology. "kilenc", "no" or "9" holds no score of
		// 1 to 5 that can be read: no complaint either; the words are
		// kept with the survey and (once per survey) herald asks for the
		// score. Words of their own are a complaint, below, and the
		// survey's comment too.
		r, err := e.surveys.AnswerEmail(ctx, surveyID, in.From, in.CustomerText(), strings.Join(thread, " "))
		if err != nil {
			return err
		}
		switch r.Kind {
		case surveys.Scored:
			e.log.Info("inbound email: survey answer", "message_id", in.MessageID, "survey_id", r.Survey.ID, "score", r.Survey.Answer.Score, "channel", channel.Email)
			return nil
		case surveys.Unclear:
			e.log.Info("inbound email: survey reply without a score", "message_id", in.MessageID, "survey_id", r.Survey.ID,
				"kept", r.Kept, "asked_for_score", r.Asked, "channel", channel.Email)
			return nil
		}
		if r.Kept {
			e.log.Info("inbound email: survey reply in words, kept as its comment and filed as a complaint", "message_id", in.MessageID, "survey_id", r.Survey.ID, "channel", channel.Email)
		}
	}
	c, created, err := e.complaints.Receive(ctx, intake)
	if err != nil {
		if incident.ErrorCode(err) == incident.EINVALID {
			e.log.Info("inbound email rejected", "message_id", in.MessageID, "err", err, "channel", channel.Email)
			return fmt.Errorf("%w: %v", smtp.ErrRejected, err)
		}
		return err
	}
	e.log.Info("inbound email: complaint", "message_id", in.MessageID, "complaint_id", c.ID, "new", created,
		"threaded", intake.ComplaintID != "" || intake.ReplyTo != "", "channel", channel.Email)
	return nil
}

// thread ties a reply to what it answers: In-Reply-To, then References
// newest first, each a herald Message-ID (<deliveryID@domain>) whose
// delivery names a complaint (then ComplaintID, when the delivery went to
// this sender) or an incident (then ReplyTo); failing that, a complaint
// reference quoted in the subject, looked up among the sender's own
// complaints. It returns the survey a reply answers when the delivery
// was a survey's message to this sender (the survey, or herald's request
// for its score).
func (e *emailIntake) thread(ctx context.Context, in smtp.InboundEmail, intake *complaint.Intake) (string, error) {
	ids := []string{in.InReplyTo}
	for i := len(in.References) - 1; i >= 0; i-- {
		ids = append(ids, in.References[i])
	}
	seen := map[string]bool{}
	lookups := 0
	for _, id := range ids {
		local := id
		if at := strings.LastIndexByte(id, '@'); at >= 0 {
			local = id[:at]
		}
		local = strings.ToLower(strings.TrimSpace(local))
		if !deliveryIDChars.MatchString(local) || seen[local] {
			continue
		}
		seen[local] = true
		if lookups++; lookups > maxThreadLookups {
			break
		}
		d, err := e.deliveries.FindDeliveryByID(ctx, local)
		if errors.Is(err, incident.ErrNotFound) || incident.ErrorCode(err) == incident.ENOTFOUND {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("thread inbound email: %w", err)
		}
		if cid := d.Vars["complaint"]; cid != "" && strings.EqualFold(d.Address, in.From) {
			intake.ComplaintID = cid
			return "", nil
		}
		survey := ""
		if id := d.Vars["survey"]; id != "" && (d.MessageKind == queue.KindSurvey || d.MessageKind == queue.KindSurveyAsk || d.MessageKind == queue.KindSurveyThanks) && strings.EqualFold(d.Address, in.From) {
			survey = id
		}
		if inc := d.Vars["incident"]; inc != "" {
			intake.ReplyTo = inc
			return survey, nil
		}
		if d.IncidentID != "" {
			intake.ReplyTo = d.IncidentID
			return survey, nil
		}
	}
	if ref := quotedRef.FindString(in.Subject); ref != "" {
		id, err := e.byRef(ctx, ref, in.From)
		if err != nil {
			return "", err
		}
		intake.ComplaintID = id
	}
	return "", nil
}

// byRef finds the sender's complaint with reference ref, or "". Only the
// sender's own complaints are searched (by their email, and by the
// customer that email belongs to): a reference someone else quotes never
// attaches to a stranger's complaint, and the lookup is one or two
// indexed reads.
func (e *emailIntake) byRef(ctx context.Context, ref, from string) (string, error) {
	keys := []string{complaint.Contact{Email: from}.Key()}
	if e.complaints.Customers != nil {
		custs, err := e.complaints.Customers.FindCustomersByAddress(ctx, e.pageID, channel.Email, from)
		if err != nil {
			return "", fmt.Errorf("find a quoted complaint: %w", err)
		}
		for _, c := range custs {
			keys = append(keys, complaint.Contact{CustomerID: c.ID}.Key())
		}
	}
	for _, key := range keys {
		cs, _, err := e.complaints.Store.FindComplaints(ctx, complaint.Filter{PageID: e.pageID, ContactKey: key, Limit: 50})
		if err != nil {
			return "", fmt.Errorf("find a quoted complaint: %w", err)
		}
		for _, c := range cs {
			if c.Ref == ref {
				return c.ID, nil
			}
		}
	}
	return "", nil
}

// externalID is the email's ID for complaint.Intake: its Message-ID, so a
// provider's retry is filed once; for mail without one, a digest of its
// sender, date, subject and text does the same.
func externalID(in smtp.InboundEmail) string {
	if in.MessageID != "" {
		return clip(in.MessageID, 250)
	}
	sum := sha256.Sum256([]byte(in.From + "\x00" + in.Header.Get("Date") + "\x00" + in.Subject + "\x00" + in.Text + "\x00" + in.HTML))
	return "email-sha256:" + hex.EncodeToString(sum[:16])
}

// clip cuts s to at most n characters.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// buildInboundEmail opens both email doors on svc: the HTTP endpoint
// always (it refuses every post until HERALD_INBOUND_EMAIL_SECRET is set),
// and the SMTP listener when inbound_smtp_addr is set. Run serves the
// listener; Close stops it with the node.
func (a *Node) buildInboundEmail(svc *complaint.Service) error {
	own := []string{}
	if from := a.chans.from; from != "" {
		own = append(own, from)
	}
	intake := &emailIntake{complaints: svc, deliveries: a.Engine.Notify, surveys: a.Surveys, pageID: a.Page.ID, own: own, log: a.Log}
	if err := a.Server.EnableInboundEmail(server.InboundEmailConfig{Secret: a.Config.Providers.InboundEmailSecret, Handle: intake.handle}); err != nil {
		return err
	}
	if sb := a.chans.sandbox; sb != nil {
		// The sandbox inbox's email reply box: a customer's email, handed
		// to the intake as the SMTP listener hands one.
		sb.SetEmailReceiver(func(ctx context.Context, e sandbox.EmailReply) error {
			return intake.handle(ctx, sandboxEmail(e, a.chans.from), 0)
		})
	}
	cfg := a.Config.Email
	if cfg.SMTPAddr == "" {
		return nil
	}
	host, _ := os.Hostname()
	srv, err := smtp.NewInboundServer(smtp.InboundConfig{Addr: cfg.SMTPAddr, Domain: cmp.Or(host, "herald"), Domains: cfg.domains(cfg.Domains),
		Observe: func(result string) { a.Server.CountInbound(inEmailSMTP, result) }, Log: a.Log}, intake.handle)
	if err != nil {
		return err
	}
	a.inboundSMTP = srv
	return nil
}

// inEmailSMTP is the SMTP listener's kind in herald_inbound_webhooks_total.
const inEmailSMTP = "email_smtp"

// sandboxEmail is a customer's email written in the sandbox as herald's
// intake reads a received one: from them, to herald's address, with a
// Message-ID of its own, answering In-Reply-To when it is a reply.
func sandboxEmail(e sandbox.EmailReply, to string) smtp.InboundEmail {
	id := "sandbox-" + randomHex(12) + "@sandbox.herald.localhost"
	if addr, err := netmail.ParseAddress(to); err == nil {
		to = addr.Address
	}
	h := netmail.Header{"From": {e.From}, "To": {to}, "Subject": {e.Subject}, "Message-Id": {"<" + id + ">"},
		"Date": {time.Now().UTC().Format(time.RFC1123Z)}}
	in := smtp.InboundEmail{From: e.From, FromName: e.Name, To: []string{to}, Subject: e.Subject, Text: e.Text, MessageID: id, Header: h}
	if e.InReplyTo != "" {
		in.InReplyTo, in.References = e.InReplyTo, []string{e.InReplyTo}
		h["In-Reply-To"] = []string{"<" + e.InReplyTo + ">"}
	}
	return in
}
