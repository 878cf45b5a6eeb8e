package notify

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify/render"
	"github.com/heraldhq/herald/queue"
)

var _ complaint.Drafter = (*Service)(nil)

// ahead is how much earlier than now an acknowledgement is queued as due,
// so that it goes before a broadcast's bulk (see Answer).
const ahead = 24 * time.Hour

// Answer implements complaint.Acknowledger: it queues a message about a
// complaint to its contact, as a delivery like any other (suppression,
// rate limits, retries, receipts). Its ID is derived from the complaint,
// the answer and key, so a second call (after a crash, on another node)
// queues nothing new. A contact herald cannot write to (a caller who left
// no number, a Slack user without a bot token configured) gets nothing,
// without an error: the complaint is still filed and owned.
//
// The immediate acknowledgement is critical (quiet hours do not hold it:
// the customer has just written and waits for the answer); the rest wait
// for the customer's morning like other messages. A complaint's messages
// carry no incident ID, so the incident's frequency cap and superseding
// never fold them away; the incident goes along in Vars.
//
// An automatic answer (AnswerKnown, AnswerReceived) to an address that
// had Config.AutoReplyLimit of them within AutoReplyWindow is not queued:
// that is a *complaint.LimitedError (autoAnswerAllowed).
func (s *Service) Answer(ctx context.Context, c *complaint.Complaint, a complaint.Answer, key, text string) error {
	d, err := s.answerDelivery(ctx, c, a, key, text)
	if d == nil || err != nil {
		return err
	}
	if err := s.autoAnswerAllowed(ctx, c, a, d); err != nil {
		return err
	}
	if _, err := s.store.EnqueueDeliveries(ctx, []*queue.Delivery{d}); err != nil {
		return err
	}
	s.wakeFor(d.Kind)
	return nil
}

// Draft implements complaint.Drafter: the delivery Answer would queue,
// for the complaint's own save to queue, and the wake-up of its senders.
func (s *Service) Draft(ctx context.Context, c *complaint.Complaint, a complaint.Answer, key, text string) ([]*queue.Delivery, func(), error) {
	d, err := s.answerDelivery(ctx, c, a, key, text)
	if d == nil || err != nil {
		return nil, nil, err
	}
	if err := s.autoAnswerAllowed(ctx, c, a, d); err != nil {
		return nil, nil, err
	}
	return []*queue.Delivery{d}, func() { s.wakeFor(d.Kind) }, nil
}

// autoAnswerAllowed checks d, answer a about c, against the per-address
// limit when it is an automatic answer (the acknowledgement, the receipt
// of a reopened complaint): nil when it may go, a
// *complaint.LimitedError when not.
func (s *Service) autoAnswerAllowed(ctx context.Context, c *complaint.Complaint, a complaint.Answer, d *queue.Delivery) error {
	if a != complaint.AnswerKnown && a != complaint.AnswerReceived {
		return nil
	}
	ok, err := s.autoReplyAllowed(ctx, d)
	if err != nil || ok {
		return err
	}
	s.log.Info("complaint answer: not sent, the address had its automatic answers", "complaint_id", c.ID, "delivery_id", d.ID,
		"channel", d.Kind, "limit", s.cfg.AutoReplyLimit, "window", s.cfg.AutoReplyWindow)
	return &complaint.LimitedError{Max: s.cfg.AutoReplyLimit, Window: s.cfg.AutoReplyWindow}
}

// autoReplyAllowed takes d's turn under the per-address limit of
// automatic answers (Config.AutoReplyLimit), counted by d's channel and
// address in the store, so every node and a restart see the same count;
// false (and counted in herald_notify_auto_replies_limited_total) when
// the address had its answers within the window. d's ID is the answer's,
// so asking again for the same answer (a retry, another node) takes no
// second turn. An email address counts in lower case: "Anna@" and
// "anna@" are one mailbox to a flood.
func (s *Service) autoReplyAllowed(ctx context.Context, d *queue.Delivery) (bool, error) {
	if s.cfg.AutoReplyLimit < 0 {
		return true, nil
	}
	addr := d.Address
	if d.Kind == channel.Email {
		addr = strings.ToLower(addr)
	}
	ok, err := s.store.TakeAutoReply(ctx, string(d.Kind)+":"+addr, d.ID, s.now(), s.cfg.AutoReplyWindow, s.cfg.AutoReplyLimit)
	if err != nil {
		return false, err
	}
	if !ok {
		s.metrics.limited.WithLabelValues(string(d.Kind)).Inc()
	}
	return ok, nil
}

// wakeFor wakes the dispatcher of kind, if this node runs one.
func (s *Service) wakeFor(kind channel.Kind) {
	if ch, ok := s.wakeKind[kind]; ok {
		wake(ch)
	}
}

// AnswerChannel implements complaint.Router: the channel Answer would
// write to c's contact on now, "" when on none. It is the channel the
// complaint came in, unless the contact opted out there or a number given
// on the form may not be texted, when it is the email or Slack address
// the answer goes to instead.
func (s *Service) AnswerChannel(ctx context.Context, c *complaint.Complaint) (channel.Kind, error) {
	d, err := s.answerDelivery(ctx, c, complaint.AnswerReceived, "probe", "")
	if d == nil || err != nil {
		return "", err
	}
	return d.Kind, nil
}

// answerDelivery is Answer's delivery; nil when herald cannot write to
// the contact.
//
// A contact that only typed their details into the public form (not an
// imported customer) is unverified: anyone can enter anyone's number or
// address there. Their number is texted only where a self-service SMS
// sign-up could be (Config.SMSCountries: no SMS pumping to premium
// ranges through the form), else the answer goes by email when they gave
// one. The greeting's name is greetingName's, whatever the door.
func (s *Service) answerDelivery(ctx context.Context, c *complaint.Complaint, a complaint.Answer, key, text string) (*queue.Delivery, error) {
	kind, addr := c.Contact.Address(c.Channel)
	name, err := s.greetingName(ctx, c)
	if err != nil {
		return nil, err
	}
	if c.Channel == complaint.Web && c.Contact.CustomerID == "" {
		if kind == channel.SMS {
			ok, region, err := s.smsSignupAllowed(ctx, c.PageID, addr)
			if err != nil {
				return nil, err
			}
			if !ok {
				s.log.Info("complaint answer: no SMS to a number given on the form in a region SMS sign-ups are closed to", "complaint_id", c.ID, "region", region)
				kind, addr = channel.Email, c.Contact.Email
			}
		}
	}
	if addr == "" {
		return nil, nil
	}
	// A contact who opted out where they wrote (STOP, a bounce) is
	// answered where they did not, if herald has such an address: a
	// message to the opted-out one would only be suppressed, and the
	// complaint would read as acknowledged while nobody was told.
	if out, err := s.optedOut(ctx, c.PageID, kind, addr); err != nil {
		return nil, err
	} else if out {
		from := kind
		kind, addr = "", ""
		for _, alt := range [...]struct {
			kind channel.Kind
			addr string
		}{{channel.Email, c.Contact.Email}, {channel.Slack, c.Contact.Slack}} {
			if alt.kind == from || alt.addr == "" {
				continue
			}
			if _, ok := s.chans[alt.kind]; !ok {
				continue
			}
			if out, err := s.optedOut(ctx, c.PageID, alt.kind, alt.addr); err != nil {
				return nil, err
			} else if !out {
				kind, addr = alt.kind, alt.addr
				break
			}
		}
		if addr == "" {
			s.log.Info("complaint answer: the contact opted out of the channel they wrote on and has no other", "complaint_id", c.ID, "channel", from)
			return nil, nil
		}
	}
	if _, ok := s.chans[kind]; !ok {
		s.log.Info("complaint answer: no channel to write on", "complaint_id", c.ID, "channel", kind)
		return nil, nil
	}
	mk := queue.KindComplaintAnswer
	switch a {
	case complaint.AnswerKnown:
		mk = queue.KindComplaintAck
	case complaint.AnswerReceived:
		mk = queue.KindComplaintReceived
	case complaint.AnswerIncidentResolved:
		mk = queue.KindComplaintResolved
	}
	now := s.now()
	rt, rid := queue.FromContact, c.Contact.Key()
	if c.Contact.CustomerID != "" {
		rt, rid = queue.FromCustomer, c.Contact.CustomerID
	}
	vars := map[string]string{"complaint": c.ID, "ref": c.Ref, "answer": string(a)}
	if c.Channel == complaint.Phone {
		vars["call"] = "1"
	}
	if id := c.IncidentID(); id != "" {
		vars["incident"] = id
	}
	if a == complaint.AnswerReceived {
		vars["due"] = c.FirstAnswerDue.UTC().Format(time.RFC3339)
	}
	if text != "" {
		vars["text"] = text
	}
	idKey := "complaint:" + c.ID + ":" + key
	if a == complaint.AnswerIncidentResolved {
		// One all-clear per address, however many of its complaints the
		// incident answers (a repeat, a second report on the form): the
		// first queued (IncidentResolved goes oldest first) carries its
		// reference, and the rest are the same delivery.
		idKey = "complaint-resolution:" + key
	}
	d := &queue.Delivery{ID: queue.DeliveryID(idKey, kind, addr), PageID: c.PageID,
		MessageKind: mk, Kind: kind, Address: addr, RecipientType: rt, RecipientID: rid, Name: name,
		Language: c.Language, TimeZone: c.Contact.TimeZone, Critical: a == complaint.AnswerKnown || a == complaint.AnswerReceived,
		State: queue.StatePending, NextAt: now, CreatedAt: now, UpdatedAt: now, Vars: vars}
	if d.Critical {
		// Dispatchers claim the oldest NextAt first, and a broadcast of a
		// million is queued due now too: a person who has just written
		// would wait behind all of it (39–47 s p99 in herald-bench
		// complaints). Queued as due a day ago, the acknowledgement is
		// claimed before the bulk. (On a channel with a reply sender it
		// is claimed in the replies' lane, apart from the bulk anyway.)
		d.NextAt = now.Add(-ahead)
	}
	return d, nil
}

// optedOut reports whether the answers to a complaint would be
// suppressed at address on kind: a STOP, a bounce, a spam report; not an
// unsubscribe from the page's notices (answersDespite).
func (s *Service) optedOut(ctx context.Context, pageID string, kind channel.Kind, address string) (bool, error) {
	sup, err := s.store.FindSuppression(ctx, pageID, kind, address)
	switch {
	case err == nil:
		return !answersDespite(&queue.Delivery{MessageKind: queue.KindComplaintAnswer}, sup), nil
	case incident.ErrorCode(err) == incident.ENOTFOUND:
		return false, nil
	}
	return false, err
}

// greetingName is the name herald's answers to c greet its contact by.
// For an imported customer it is the name the page imported for them,
// not the one the message came with: anyone can write as a customer (a
// forged From:, the customer's address typed into the form). For anyone
// else it is the name the contact gave (an email's display name, the
// form's name field, a Slack profile's) when it reads as a person's name
// (formName), else none: an answer is herald's own mail or text under the
// page's name, and must not carry words of a stranger's choosing ("Hello
// Your refund is ready - claim it at http://…,").
func (s *Service) greetingName(ctx context.Context, c *complaint.Complaint) (string, error) {
	if id := c.Contact.CustomerID; id != "" {
		cust, err := s.store.FindCustomerByID(ctx, c.PageID, id)
		switch {
		case err == nil:
			return strings.TrimSpace(cust.Name), nil
		case !errors.Is(err, incident.ErrNotFound) && incident.ErrorCode(err) != incident.ENOTFOUND:
			return "", err
		}
		// Deleted since: a contact like any other.
	}
	return formName(c.Contact.Name), nil
}

// formName is a name a contact gave when it reads as a person's name
// (letters, spaces, hyphens, apostrophes and initials' full stops, at
// most 5 words and 40 characters), else "": a greeting "Hello ⟨name⟩"
// must not carry a number, a link or a sentence someone else wrote.
func formName(name string) string {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 40 || len(strings.Fields(name)) > 5 {
		return ""
	}
	rs := []rune(name)
	for i, r := range rs {
		switch {
		case unicode.IsLetter(r) || unicode.IsMark(r) || r == ' ' || r == '-' || r == '\'' || r == '’':
		case r == '.' && i > 0 && unicode.IsLetter(rs[i-1]) && (i == len(rs)-1 || rs[i+1] == ' '):
			// an initial: "J. Smith"
		default:
			return ""
		}
	}
	return name
}

// complaintMessage renders a complaint's message for its delivery. These
// are few and personal (each names its reference), so they are rendered
// one by one rather than from the broadcast cache.
func (s *Service) complaintMessage(ctx context.Context, d *queue.Delivery) (*channel.Message, error) {
	return s.complaintMessageAt(ctx, d, time.Time{})
}

// complaintMessageAt is complaintMessage written at t, the incident as it
// stood then (ComplaintMessageText); the zero t is now, as sent.
func (s *Service) complaintMessageAt(ctx context.Context, d *queue.Delivery, t time.Time) (*channel.Message, error) {
	page, err := s.cache.page(ctx, d.PageID)
	if err != nil {
		return nil, err
	}
	inc, err := s.complaintIncident(ctx, d)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if !t.IsZero() {
		now, inc = t, asOf(inc, t)
	}
	in := render.Input{Kind: d.MessageKind, Page: page, Incident: inc, Now: now, MaxSMSSegments: s.cfg.MaxSMSSegments,
		Recipient: render.Recipient{Name: d.Name, Language: d.Language, TimeZone: d.TimeZone, Type: d.RecipientType},
		Ref:       d.Vars["ref"], Answer: d.Vars["text"], Call: d.Vars["call"] == "1"}
	if due, err := time.Parse(time.RFC3339, d.Vars["due"]); err == nil {
		in.Due = due
	}
	if d.MessageKind == queue.KindComplaintResolved && d.RecipientType == queue.FromCustomer && inc.ID != "" {
		// What the customer gets for the incident, as its resolution
		// message to them says.
		if comp := s.compensation(); comp != nil {
			if in.Compensation, err = comp.Line(ctx, d.PageID, inc.ID, d.RecipientID, d.Language); err != nil {
				return nil, err
			}
		}
	}
	m, err := s.r.Render(d.Kind, in)
	if err != nil {
		return nil, err
	}
	m.DeliveryID, m.To = d.ID, d.Address
	if d.Kind != channel.Email {
		return m, nil
	}
	if d.MessageKind == queue.KindComplaintAck || d.MessageKind == queue.KindComplaintReceived {
		// RFC 3834: an automatic answer (Auto-Submitted: auto-replied,
		// the null envelope sender MAIL FROM:<>; see smtp.Channel.Send),
		// so that neither the customer's own robots (vacation replies,
		// ticket systems) nor a bounce answer it and start a loop. The
		// intake, for its part, files no automatic mail, none from <> and
		// none from herald's own address.
		m.AutoReply = true
	}
	if t.IsZero() {
		// As sent (not read back for an agent): a reply to the customer's
		// email (RFC 5322 §3.6.4, RFC 3834 §3.1.6), so that it shows in
		// their conversation.
		refs, err := s.answerThread(ctx, d)
		if err != nil {
			return nil, err
		}
		setThread(m, refs)
	}
	return m, nil
}

// setThread makes m a reply in the thread refs (ReplyReferences: the
// email it answers last); nothing for none.
func setThread(m *channel.Message, refs []string) {
	if len(refs) == 0 {
		return
	}
	if m.Headers == nil {
		m.Headers = map[string]string{}
	}
	m.Headers["In-Reply-To"] = "<" + refs[len(refs)-1] + ">"
	m.Headers["References"] = "<" + strings.Join(refs, "> <") + ">"
}

// Bounds of a reply's References (ReplyReferences): Gmail and Outlook
// need the first ID (the conversation's root) and the last (the email
// answered); a long chain is cut between them, as RFC 5322 §3.6.4
// suggests, to at most maxReferences IDs and about maxReferencesLen
// characters.
const (
	maxReferences    = 10
	maxReferencesLen = 2000
)

// messageID is a Message-ID (without its angle brackets) herald will
// put into a header: printable ASCII, one @, no brackets or spaces.
var messageID = regexp.MustCompile(`^[!-;=?A-~]{1,200}@[!-;=?A-~]{1,200}$`)

// ReplyReferences returns the References of a reply to an email (RFC
// 5322 §3.6.4), oldest first, without angle brackets: the email's own
// References (refs; failing those, its In-Reply-To), then its Message-ID
// id, last, which is the reply's In-Reply-To. refs may hold IDs with or
// without their brackets, several to a string ("<a> <b>", "<a><b>").
// What is no Message-ID fit for a header is left out, and so is a
// repeat; a long chain keeps its first ID and its newest ones, within
// maxReferences IDs and maxReferencesLen characters. nil when id is no
// Message-ID: the reply then threads under nothing.
func ReplyReferences(refs []string, inReplyTo, id string) []string {
	id = strings.Trim(strings.TrimSpace(id), "<>")
	if !messageID.MatchString(id) {
		return nil
	}
	split := func(vs []string) []string {
		var out []string
		for _, v := range vs {
			out = append(out, strings.FieldsFunc(v, func(r rune) bool { return r == '<' || r == '>' || unicode.IsSpace(r) || r == ',' })...)
		}
		return out
	}
	ids := split(refs)
	if len(ids) == 0 {
		ids = split([]string{inReplyTo})
	}
	seen := map[string]bool{id: true}
	out := make([]string, 0, min(len(ids)+1, maxReferences))
	for _, r := range ids {
		if messageID.MatchString(r) && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	out = append(out, id)
	size := func() int {
		n := 0
		for _, r := range out {
			n += len(r) + 3 // "<…> "
		}
		return n
	}
	for len(out) > 2 && (len(out) > maxReferences || size() > maxReferencesLen) {
		out = append(out[:1], out[2:]...) // the oldest but the root
	}
	return out
}

// threadOf reads a References list as kept (space-separated IDs) and
// bounds it again: ReplyReferences of its last ID under the others.
func threadOf(kept string) []string {
	ids := strings.Fields(kept)
	if len(ids) == 0 {
		return nil
	}
	return ReplyReferences(ids[:len(ids)-1], "", ids[len(ids)-1])
}

// answerThread returns the References of the answer d as a reply to the
// customer's email on the timeline of the complaint it answers: to the
// newest received before d was written (the acknowledgement's, the
// email that opened the complaint, always). That email's References, as
// the intake kept them (complaint.Intake.Thread), else (kept by an older
// herald) its Message-ID alone. None for a complaint that came by
// another channel, or whose email carries no Message-ID of its own (a
// provider's digest).
func (s *Service) answerThread(ctx context.Context, d *queue.Delivery) ([]string, error) {
	id := d.Vars["complaint"]
	if s.complaints == nil || id == "" {
		return nil, nil
	}
	entries, err := s.complaints.FindEntries(ctx, id)
	if errors.Is(err, incident.ErrNotFound) || incident.ErrorCode(err) == incident.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var parent *complaint.Entry
	for _, e := range entries {
		if e.Kind != complaint.EntryMessageIn || e.Channel != complaint.Email || !messageID.MatchString(e.ExternalID) {
			continue
		}
		if parent != nil && e.At.After(d.CreatedAt) {
			// Came after the answer was written. (The first email is
			// always one: the acknowledgement answers it, whatever
			// another node's clock said.)
			continue
		}
		parent = e
	}
	if parent == nil {
		return nil, nil
	}
	if refs := threadOf(parent.Args[complaint.ArgThread]); len(refs) > 0 && refs[len(refs)-1] == parent.ExternalID {
		return refs, nil
	}
	return ReplyReferences(nil, "", parent.ExternalID), nil
}

// ComplaintMessageText returns the words of a complaint's message (an
// acknowledgement, a receipt, an agent's answer, the resolution's answer)
// as herald wrote them when it was sent: rendered again with the
// incident as it stood then (the updates shown by then, its status then)
// and that moment as the time of writing, so an agent reads what the
// customer read. ok is false for any other message. A message about a
// resolution carries the customer's compensation as it stands now.
func (s *Service) ComplaintMessageText(ctx context.Context, d *queue.Delivery) (text string, ok bool, err error) {
	if !isComplaintMessage(d.MessageKind) {
		return "", false, nil
	}
	at := d.CreatedAt
	if d.SentAt != nil {
		at = *d.SentAt
	}
	m, err := s.complaintMessageAt(ctx, d, at)
	if err != nil {
		return "", false, err
	}
	if d.Kind == channel.Email && m.Subject != "" {
		return m.Subject + "\n\n" + m.Text, true, nil
	}
	return m.Text, true, nil
}

// asOf is inc as it stood at t: the updates displayed by then, newest
// first as stored, its status the newest of those, not yet resolved if
// it was resolved later. inc is not changed.
func asOf(inc *incident.Incident, t time.Time) *incident.Incident {
	if inc == nil || inc.ID == "" {
		return inc
	}
	cp := *inc
	cp.Updates = nil
	for _, u := range inc.Updates {
		if !u.DisplayAt.After(t) {
			cp.Updates = append(cp.Updates, u)
		}
	}
	if len(cp.Updates) > 0 {
		cp.Status = cp.Updates[0].Status
	}
	if cp.ResolvedAt != nil && cp.ResolvedAt.After(t) {
		cp.ResolvedAt = nil
	}
	return &cp
}

// complaintIncident returns the incident a complaint's message is about,
// or an empty one.
func (s *Service) complaintIncident(ctx context.Context, d *queue.Delivery) (*incident.Incident, error) {
	id := d.Vars["incident"]
	if id == "" {
		return &incident.Incident{}, nil
	}
	snap, err := s.cache.snapshot(ctx, id)
	if err == nil && d.MessageKind == queue.KindComplaintResolved && snap.inc.ResolvedAt == nil {
		// The resolution this answers can be newer than the cached
		// incident (its event not yet seen here): read it again.
		s.cache.invalidate(id)
		snap, err = s.cache.snapshot(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	return snap.inc, nil
}

// isComplaintMessage reports whether a delivery answers a complaint.
func isComplaintMessage(k queue.MessageKind) bool {
	return k == queue.KindComplaintAck || k == queue.KindComplaintReceived || k == queue.KindComplaintAnswer || k == queue.KindComplaintResolved
}

// complaintAnswers returns, for the resolution of inc, the channel and
// address ("sms +36…") each complaint about it is answered on with
// complaint_resolved, with the complaint's reference: those this
// resolution answered already, and the open ones it will answer
// (complaint.Service.IncidentResolved). A complaint herald cannot write
// back to on a channel it has is not among them.
func (s *Service) complaintAnswers(ctx context.Context, inc *incident.Incident) (map[string]string, error) {
	out := map[string]string{}
	const page = 500
	for offset := 0; ; offset += page {
		cs, _, err := s.complaints.FindComplaints(ctx, complaint.Filter{PageID: inc.PageID, IncidentID: inc.ID, Limit: page, Offset: offset, SkipCount: true})
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			// Answered by this resolution (not an earlier one, before a
			// reopen), or open and about to be: IncidentResolved skips
			// those kept open (held, or with a promise) and those an
			// earlier resolution answered.
			byThis := c.IncidentAnswered == inc.ID && c.ResolvedAt != nil && inc.ResolvedAt != nil && !c.ResolvedAt.Before(*inc.ResolvedAt)
			toBe := c.Open() && !c.KeptOpen() && c.IncidentAnswered != inc.ID
			if !byThis && !toBe {
				continue
			}
			kind, addr := c.Contact.Address(c.Channel)
			if _, ok := s.chans[kind]; ok && addr != "" {
				out[string(kind)+" "+addr] = c.Ref
			}
		}
		if len(cs) < page {
			return out, nil
		}
	}
}
