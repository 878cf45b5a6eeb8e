package complaint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/locale"
	"github.com/heraldhq/herald/queue"
)

// Answer names a message herald sends about a complaint.
type Answer string

// Answers.
const (
	// AnswerReceived acknowledges an untagged complaint: received, its
	// reference, how it will be handled and by when they will hear back.
	AnswerReceived Answer = "received"
	// AnswerKnown acknowledges a complaint tagged to an incident: what we
	// know, that they need do nothing, that we will write when it is fixed.
	AnswerKnown Answer = "known"
	// AnswerResolved tells the customer an agent resolved their complaint:
	// the agent's outcome.
	AnswerResolved Answer = "resolved"
	// AnswerIncidentResolved tells the customer the incident their
	// complaint is about is resolved: what happened (its resolution, in
	// their language), the apology and their compensation, with their
	// reference.
	AnswerIncidentResolved Answer = "incident_resolved"
	// AnswerReply is an agent's own words to the customer.
	AnswerReply Answer = "reply"
)

// Acknowledger queues the messages herald sends about complaints. notify
// implements it: each answer is a delivery in the pipeline (once only,
// suppression, quiet hours, rate limits), never a send from a handler.
type Acknowledger interface {
	// Answer queues answer a about c to its contact, on the channel it
	// came in where herald can write there. The delivery's ID is derived
	// from c, a and key, so asking again (after a crash, on another node)
	// sends it once. text is the agent's words (AnswerReply) or outcome
	// (AnswerResolved, AnswerIncidentResolved: the incident's resolution as
	// recorded); "" otherwise.
	Answer(ctx context.Context, c *Complaint, a Answer, key, text string) error
}

// LimitedError is what an Acknowledger (Answer, Draft) returns for an
// automatic answer (AnswerKnown, AnswerReceived) when the address it
// would go to has had Max automatic answers within Window: the
// per-sender limit (RFC 3834 §2) against a sender that opens complaint
// after complaint, a robot that escapes the loop checks, or a forged
// sender who would make herald mail or text a stranger. The complaint is
// filed all the same; its timeline says that the answer was held back.
type LimitedError struct {
	Max    int
	Window time.Duration
}

func (e *LimitedError) Error() string {
	return fmt.Sprintf("complaint: no automatic answer: the address had %d within %s", e.Max, e.Window)
}

// Drafter is an Acknowledger that can also hand an answer's deliveries
// over unqueued, so that the complaint's own save queues them
// (Store.SaveComplaintQueued): a new complaint is then filed, marked
// acknowledged and its acknowledgement queued in one write, and no crash
// can come between them. notify implements it.
type Drafter interface {
	Acknowledger
	// Draft returns the deliveries Answer(ctx, c, a, key, text) would
	// queue, without queuing them (none for a contact herald cannot write
	// to), and queued, to call once they are saved (it wakes the senders).
	Draft(ctx context.Context, c *Complaint, a Answer, key, text string) (ds []*queue.Delivery, queued func(), err error)
}

// Router is an Acknowledger that says where its answers to a complaint
// go: the channel it came in, or another when the contact opted out
// there (STOP, a bounce). The timeline names that channel; without a
// Router it names the complaint's own (Complaint.ReplyChannel). notify
// implements it.
type Router interface {
	// AnswerChannel is the channel an answer to c would go out on now;
	// "" when herald cannot write to its contact.
	AnswerChannel(ctx context.Context, c *Complaint) (channel.Kind, error)
}

// answerChannel is the channel the answers to c go out on, for the
// timeline: Router's when the Acknowledger is one (ok false when herald
// cannot write to the contact), else c's own.
func (s *Service) answerChannel(ctx context.Context, c *Complaint) (ch Channel, ok bool, err error) {
	r, isRouter := s.Answers.(Router)
	if !isRouter {
		return c.ReplyChannel(), s.Answers != nil, nil
	}
	kind, err := r.AnswerChannel(ctx, c)
	if err != nil {
		return "", false, err
	}
	return Channel(kind), kind != "", nil
}

// Customers finds the imported customer behind a contact.
type Customers interface {
	FindCustomerByID(ctx context.Context, pageID, id string) (*audience.Customer, error)
	// FindCustomersByAddress returns the page's customers with that phone
	// (E.164), email or Slack ID, by ID.
	FindCustomersByAddress(ctx context.Context, pageID string, kind channel.Kind, address string) ([]*audience.Customer, error)
}

// Subscribers finds the status page's subscriber behind a contact who is
// no customer: the components they follow say what they are likely to
// complain about, as a customer's do.
type Subscribers interface {
	FindSubscriberByAddress(ctx context.Context, pageID string, kind channel.Kind, address, incidentID string) (*audience.Subscriber, error)
}

// EventChanged tells the console, the agents' feed and other nodes that a
// complaint changed.
const EventChanged incident.EventType = "complaint.changed"

// Service is the one entry point for complaints: the API, the CLI, the
// inbound SMS, email and Slack routes, the status page form and the
// console all call it. It applies the rules, saves, then asks the
// Acknowledger for the answers; it sends nothing itself.
type Service struct {
	Store     Store
	Incidents incident.Store
	Customers Customers
	// Subscribers, when set, lends a subscriber's components to the
	// complaint of a contact who is no customer (nil: none).
	Subscribers Subscribers
	Answers     Acknowledger
	Events      incident.Events
	Policy      Policy
	// OnDuty lists the agents new complaints are given to in turn; empty:
	// complaints wait unassigned until an agent takes one.
	OnDuty []string
	// CandidatesTTL is how long the tagger may reuse a page's incidents
	// and components read for an earlier complaint, and Receive the page
	// itself (NewService: 1 s; 0 reads them for every complaint). Run
	// drops them on every incident or page event.
	CandidatesTTL time.Duration
	// EventGap spaces out the events of one page and incident: at most
	// one at the start of a gap and one at its end (eventGate; NewService:
	// DefaultEventGap; 0 publishes every change).
	EventGap time.Duration
	Now      func() time.Time
	Log      *slog.Logger

	cands    candidateCache
	events   eventGate
	contacts keyLocks // Receive's lock per contact (claimContact)
}

// DefaultCandidatesTTL is NewService's CandidatesTTL.
const DefaultCandidatesTTL = time.Second

// NewService returns a Service with the default policy and the real clock.
func NewService(store Store, incidents incident.Store, customers Customers, answers Acknowledger, events incident.Events, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{Store: store, Incidents: incidents, Customers: customers, Answers: answers, Events: events,
		Policy: DefaultPolicy(), CandidatesTTL: DefaultCandidatesTTL, EventGap: DefaultEventGap, Now: time.Now, Log: log}
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

// Limits on what is recorded.
const (
	// RecordedSkew and RecordedOldest bound the time of a complaint an
	// agent or a client records (Intake.At with Recorded).
	RecordedSkew   = 5 * time.Minute
	RecordedOldest = 366 * 24 * time.Hour

	MaxTextLen    = 10000 // characters of a customer's message or an agent's note
	MaxSubjectLen = 300
	MaxNameLen    = 200
)

// Intake is one inbound complaint, or a call an agent records.
type Intake struct {
	PageID   string // "" : the page the customer is on, else the first page
	Channel  Channel
	Contact  Contact
	Subject  string
	Text     string
	Category Category // "" : outage when tagged, other when not
	Ask      Ask      // "" : information
	Severity Severity // "" : normal
	Promise  string   // what the agent promised (calls)
	Language string   // "" : the customer's, else the page's first
	// Components are the component IDs it concerns, when the agent or the
	// form says; "" takes the customer's.
	Components []string
	// IncidentID tags it to an incident at once (an agent's choice).
	IncidentID string
	// ReplyTo is the incident of the herald message this answers (email
	// threading); ComplaintID the complaint it continues (a reply to a
	// complaint's own messages, or its reference quoted).
	ReplyTo     string
	ComplaintID string
	// ExternalID is the provider's message ID: a retried webhook is
	// recorded once.
	ExternalID string
	// Thread is, for an email, the References a reply to it carries
	// (notify.ReplyReferences: its own References, then its Message-ID),
	// kept on its timeline entry so that herald's answers to it thread
	// under it in the customer's mail program.
	Thread []string
	// Owner is the agent who takes it (an agent recording a call).
	Owner string
	// Separate opens a complaint of its own even when the contact has an
	// open one it would otherwise continue: a task herald files about the
	// customer (a survey's win-back) must not disappear into a message on
	// another complaint.
	Separate bool
	// Unverified says nothing proves the contact is the sender's: the
	// status page's form, where anyone can type anyone's number or
	// address. Such a message never continues another complaint (nor
	// one it names): it would add a stranger's words to that person's
	// complaint, and answer with their reference. It opens a complaint of
	// its own, which repeat detection may mark a repeat for the agents.
	Unverified bool
	At         time.Time // zero: now
	// Recorded says an agent or an API client chose the fields (a call
	// recorded, a client's POST), whatever the channel: a control
	// character in them is refused by name, never cleaned (fromOutside).
	Recorded bool
}

// fromOutside reports whether the intake's words come straight from a
// customer through a provider or the status page's form (SMS, email,
// Slack, web), where herald keeps every complaint rather than refuse one
// for a stray control character: clean makes those fit. What an agent or
// a client records (Recorded, and the phone and api channels) is refused
// instead, naming the field.
func (in *Intake) fromOutside() bool {
	if in.Recorded {
		return false
	}
	switch in.Channel {
	case SMS, Email, Slack, Web:
		return true
	}
	return false
}

// clean makes a customer's words fit to keep (incident.CleanLine,
// incident.CleanText, and the length limits, cut with an ellipsis): what
// validate would refuse from a person. A customer who writes twelve
// thousand characters in Slack still has a complaint, with the first ten.
func (in *Intake) clean() {
	in.Contact.Name = clip(incident.CleanLine(in.Contact.Name), MaxNameLen)
	in.Subject = clip(incident.CleanLine(in.Subject), MaxSubjectLen)
	in.Text = clip(incident.CleanText(in.Text), MaxTextLen)
	in.Promise = clip(incident.CleanText(in.Promise), MaxTextLen)
}

// clip cuts s to at most n characters, the last an ellipsis when it cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// validate checks the fields a person or a client chose; inbound
// providers' fields are checked by their parsers and made fit by clean.
func (in *Intake) validate() error {
	if !oneOf(in.Channel, Channels) {
		return incident.Invalid("channel", "must be one of %s", joinAll(Channels))
	}
	if in.fromOutside() {
		in.clean()
	}
	in.Text = strings.TrimSpace(in.Text)
	in.Subject = strings.TrimSpace(in.Subject)
	for _, f := range [...]struct{ name, v string }{{"contact.name", in.Contact.Name}, {"contact.slack", in.Contact.Slack},
		{"subject", in.Subject}, {"owner", in.Owner}} {
		if p := incident.LineProblem(f.v); p != "" {
			return incident.Invalid(f.name, "%s", p)
		}
	}
	for _, f := range [...]struct{ name, v string }{{"text", in.Text}, {"promise", in.Promise}} {
		if p := incident.TextProblem(f.v); p != "" {
			return incident.Invalid(f.name, "%s", p)
		}
	}
	switch {
	case in.Text == "" && in.Subject == "":
		return incident.Invalid("text", "is required: what the customer says, in their words")
	case utf8.RuneCountInString(in.Text) > MaxTextLen:
		return incident.Invalid("text", "is longer than %d characters", MaxTextLen)
	case utf8.RuneCountInString(in.Subject) > MaxSubjectLen:
		return incident.Invalid("subject", "is longer than %d characters", MaxSubjectLen)
	case utf8.RuneCountInString(in.Contact.Name) > MaxNameLen:
		return incident.Invalid("contact.name", "is longer than %d characters", MaxNameLen)
	case utf8.RuneCountInString(in.Promise) > MaxTextLen:
		return incident.Invalid("promise", "is longer than %d characters", MaxTextLen)
	case in.Category != "" && !oneOf(in.Category, Categories):
		return incident.Invalid("category", "must be one of %s", joinAll(Categories))
	case in.Ask != "" && !oneOf(in.Ask, Asks):
		return incident.Invalid("ask", "must be one of %s", joinAll(Asks))
	case in.Severity != "" && !oneOf(in.Severity, Severities):
		return incident.Invalid("severity", "must be one of %s", joinAll(Severities))
	case in.Language != "" && !oneOf(in.Language, incident.Languages):
		return incident.Invalid("language", "must be one of %s", strings.Join(incident.Languages, ", "))
	case in.Contact.CustomerID == "" && in.Contact.Phone == "" && in.Contact.Email == "" && in.Contact.Slack == "" && in.Contact.Name == "":
		return incident.Invalid("contact", "needs a customer_id, a phone, an email, a Slack user or at least a name")
	}
	return nil
}

// Receive files an inbound complaint, or a call an agent records: it finds
// the customer behind the contact, attaches the message to the contact's
// open complaint when it continues one (a threaded reply, or a message
// within the attach window), and otherwise opens a complaint, tags it,
// flags a repeat, gives it an owner and its due times, and asks for the
// acknowledgement. It returns the complaint and whether it is new. A
// provider's retry (the same ExternalID) returns the complaint it already
// made, changing nothing.
func (s *Service) Receive(ctx context.Context, in Intake) (*Complaint, bool, error) {
	if err := in.validate(); err != nil {
		return nil, false, err
	}
	if in.Owner != "" {
		owner, err := s.agentNamed(ctx, in.Owner)
		if err != nil {
			return nil, false, err
		}
		in.Owner = owner
	}
	now := s.now()
	if in.Recorded && !in.At.IsZero() {
		// A call recorded after it was taken keeps its time; one ahead of
		// now (a clock a little fast is forgiven) or over a year back is
		// a mistake to point out. A provider's clock is trusted no
		// further than now.
		switch {
		case in.At.After(now.Add(RecordedSkew)):
			return nil, false, incident.Invalid("at", "is in the future (%s): record a call or message once it has come in", in.At.UTC().Format(time.RFC3339))
		case in.At.Before(now.Add(-RecordedOldest)):
			return nil, false, incident.Invalid("at", "is more than a year ago (%s)", in.At.UTC().Format(time.RFC3339))
		}
	}
	if in.At.IsZero() || in.At.After(now) {
		in.At = now
	}
	page, err := s.page(ctx, in.PageID)
	if err != nil {
		return nil, false, err
	}
	if in.ExternalID != "" {
		if c, err := s.byExternalID(ctx, page.ID, in.ExternalID); err == nil || !errors.Is(err, incident.ErrNotFound) {
			return c, false, err
		}
	}
	cust, err := s.customer(ctx, page.ID, &in.Contact, in.Channel)
	if err != nil {
		return nil, false, err
	}
	h := &history{s: s, pageID: page.ID, key: in.Contact.Key()}
	if h.key != "" && mayContinue(in) {
		// Deciding whether it continues the contact's open complaint, and
		// opening one if not, is one step per contact on every node:
		// messages that come together (three texts at once) make one
		// complaint and one acknowledgement.
		release, err := s.claimContact(ctx, page.ID, h.key)
		if err != nil {
			return nil, false, err
		}
		defer release()
		if in.ExternalID != "" {
			// The same message, retried while another took the claim.
			if c, err := s.byExternalID(ctx, page.ID, in.ExternalID); err == nil || !errors.Is(err, incident.ErrNotFound) {
				return c, false, err
			}
		}
	}
	if c, err := s.continued(ctx, page, h, in); err != nil || c != nil {
		if err != nil {
			return nil, false, err
		}
		c, err = s.attach(ctx, c, in)
		return c, false, err
	}
	c, err := s.open(ctx, page, cust, in, h)
	if err != nil {
		return nil, false, err
	}
	return c, true, nil
}

// mayContinue reports whether an intake may continue an open complaint
// it does not name (continued): not a call, a task filed apart, an
// agent's record through the API, or an unverified form.
func mayContinue(in Intake) bool {
	return !in.Unverified && !in.Separate && in.Channel != Phone && !(in.Channel == API && in.Owner != "")
}

// Bounds of a contact's intake claim (claimContact).
const (
	// contactClaimFor is how long a claim lasts unless released: a node
	// that died holding one holds up its contact's messages that long.
	contactClaimFor = 30 * time.Second
	// contactClaimWait is how long Receive waits for a claim another node
	// holds before it goes on without (logged): a message is never lost
	// to a stuck claim, at worst it opens a complaint of its own.
	contactClaimWait = 2 * contactClaimFor
	contactClaimPoll = 5 * time.Millisecond // the first wait; doubled up to 200 ms
)

// claimContact serialises Receive per contact: within this process by a
// lock per contact, across nodes by the store's claim (ClaimContact),
// which another node's Receive for the same contact waits for. release
// ends both.
func (s *Service) claimContact(ctx context.Context, pageID, key string) (release func(), err error) {
	unlock, err := s.contacts.lock(ctx, pageID+"\x00"+key)
	if err != nil {
		return nil, err
	}
	holder := incident.NewID()
	start, wait := time.Now(), contactClaimPoll
	for {
		now := s.now()
		ok, err := s.Store.ClaimContact(ctx, pageID, key, holder, now, now.Add(contactClaimFor))
		if err != nil {
			unlock()
			return nil, err
		}
		if ok {
			break
		}
		if time.Since(start) >= contactClaimWait {
			s.Log.Warn("contact claim held elsewhere too long; going on without it", "page_id", pageID, "waited", time.Since(start).Round(time.Millisecond))
			return unlock, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			unlock()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
	return func() {
		// Released even when the caller's context has ended: the claim
		// would otherwise hold the contact up until it expires.
		if err := s.Store.ReleaseContact(context.WithoutCancel(ctx), pageID, key, holder); err != nil {
			s.Log.Warn("contact claim not released; it ends by itself", "page_id", pageID, "err", err)
		}
		unlock()
	}, nil
}

// keyLocks is a lock per key, held by few at a time: an entry lives while
// someone holds or waits for it.
type keyLocks struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	ch      chan struct{} // a token: holding it is holding the lock
	waiters int
}

// lock takes key's lock, or fails when ctx ends first; unlock gives it
// back.
func (kl *keyLocks) lock(ctx context.Context, key string) (unlock func(), err error) {
	kl.mu.Lock()
	if kl.locks == nil {
		kl.locks = map[string]*keyLock{}
	}
	l := kl.locks[key]
	if l == nil {
		l = &keyLock{ch: make(chan struct{}, 1)}
		kl.locks[key] = l
	}
	l.waiters++
	kl.mu.Unlock()
	done := func() {
		kl.mu.Lock()
		if l.waiters--; l.waiters == 0 {
			delete(kl.locks, key)
		}
		kl.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
	return func() {
		<-l.ch
		done()
	}, nil
}

// byExternalID returns the complaint a provider's message already became.
func (s *Service) byExternalID(ctx context.Context, pageID, externalID string) (*Complaint, error) {
	e, err := s.Store.FindEntryByExternalID(ctx, pageID, externalID)
	if err != nil {
		return nil, err
	}
	return s.Store.FindComplaintByID(ctx, e.ComplaintID)
}

// Page returns the page id names, as Receive will see it: a page read
// within CandidatesTTL is reused, so a front door that checks the page
// before it takes a complaint costs no read of its own.
func (s *Service) Page(ctx context.Context, id string) (*incident.Page, error) {
	if id == "" {
		return nil, incident.Invalid("page_id", "a page is required")
	}
	return s.page(ctx, id)
}

// page returns the page a complaint goes to: the one named, or the first.
// Within CandidatesTTL of a read it reuses it, as candidates does: an
// inbound SMS names no page, and every one read them all.
func (s *Service) page(ctx context.Context, id string) (*incident.Page, error) {
	if p, ok := s.cands.page(id, s.CandidatesTTL); ok {
		return p, nil
	}
	gen := s.cands.generation()
	var p *incident.Page
	if id != "" {
		var err error
		if p, err = s.Incidents.FindPageByID(ctx, id); err != nil {
			return nil, err
		}
	} else {
		pages, err := s.Incidents.FindPages(ctx)
		if err != nil {
			return nil, err
		}
		if len(pages) == 0 {
			return nil, incident.Errorf(incident.ENOTFOUND, "no page exists yet to file complaints on")
		}
		p = pages[0]
	}
	if s.CandidatesTTL > 0 {
		s.cands.putPage(id, gen, p)
	}
	return p, nil
}

// subscriber finds the page-wide subscriber (active) with the contact's
// phone or email, or nil.
func (s *Service) subscriber(ctx context.Context, pageID string, ct Contact) (*audience.Subscriber, error) {
	if s.Subscribers == nil {
		return nil, nil
	}
	for _, a := range []struct {
		kind channel.Kind
		addr string
	}{{channel.SMS, ct.Phone}, {channel.Email, ct.Email}, {channel.Email, strings.ToLower(ct.Email)}} {
		if a.addr == "" {
			continue
		}
		sub, err := s.Subscribers.FindSubscriberByAddress(ctx, pageID, a.kind, a.addr, "")
		if errors.Is(err, incident.ErrNotFound) || incident.ErrorCode(err) == incident.ENOTFOUND {
			continue
		}
		if err != nil {
			return nil, err
		}
		if sub.State == audience.SubscriberActive {
			return sub, nil
		}
	}
	return nil, nil
}

// customer finds the imported customer behind a contact, by ID or by any
// address it gave, and completes the contact from the record (what the
// contact gave wins). nil when the contact is unknown.
func (s *Service) customer(ctx context.Context, pageID string, ct *Contact, door Channel) (*audience.Customer, error) {
	if s.Customers == nil {
		return nil, nil
	}
	var cust *audience.Customer
	if ct.CustomerID != "" {
		c, err := s.Customers.FindCustomerByID(ctx, pageID, ct.CustomerID)
		if err != nil {
			if errors.Is(err, incident.ErrNotFound) {
				return nil, incident.Invalid("contact.customer_id", "no customer %q on this page", ct.CustomerID)
			}
			return nil, err
		}
		cust = c
	}
	for _, a := range []struct {
		kind channel.Kind
		addr string
	}{{channel.SMS, ct.Phone}, {channel.Email, ct.Email}, {channel.Slack, ct.Slack}} {
		if cust != nil || a.addr == "" {
			continue
		}
		found, err := s.Customers.FindCustomersByAddress(ctx, pageID, a.kind, a.addr)
		if err != nil {
			return nil, err
		}
		if len(found) > 0 {
			cust = found[0]
		}
	}
	if cust == nil {
		return nil, nil
	}
	ct.CustomerID = cust.ID
	fill := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	if cust.Name != "" && (ct.Name == "" || door != Phone) {
		// The customer's own record names them: not the display name an
		// email, a form or a Slack handle came with, which anyone can set
		// ("Your refund is ready at …") and agents would read as the name.
		// A call keeps the name the agent wrote: who rang (a spouse, an
		// accountant) need not be the account's holder.
		ct.Name = cust.Name
	}
	fill(&ct.Phone, cust.Phone)
	fill(&ct.Email, cust.Email)
	fill(&ct.TimeZone, cust.TimeZone)
	if !strings.HasPrefix(cust.Slack, "http") {
		fill(&ct.Slack, cust.Slack)
	}
	return cust, nil
}

// continued returns the open complaint an intake continues: the one it
// names, or the contact's open complaint when the message is a threaded
// reply to its incident or comes within the attach window. nil when it
// opens a new one. Calls an agent records always open a new one unless
// they name the complaint; an unverified message (the form) always does.
// A message within the window that the tagger would tag, confidently, to
// another open incident than the complaint's is a new complaint about
// that incident (aboutAnother).
func (s *Service) continued(ctx context.Context, page *incident.Page, h *history, in Intake) (*Complaint, error) {
	if in.Unverified {
		return nil, nil
	}
	if in.ComplaintID != "" {
		c, err := s.Store.FindComplaintByID(ctx, in.ComplaintID)
		if err != nil && !errors.Is(err, incident.ErrNotFound) {
			return nil, err
		}
		if err == nil && c.PageID == h.pageID {
			return c, nil
		}
	}
	if h.key == "" || in.Separate || in.Channel == Phone || in.Channel == API && in.Owner != "" {
		return nil, nil
	}
	c, err := h.newestOpen(ctx)
	if err != nil || c == nil {
		return nil, err
	}
	if in.ReplyTo != "" && in.ReplyTo == c.IncidentID() {
		return c, nil // threaded
	}
	if c.Category == CategoryFollowUp {
		// herald's own task to call back after an unhappy survey answer:
		// the customer did not write it, so their next message (a new
		// outage, minutes after answering the survey) is a complaint of
		// its own, acknowledged and answered, not a line on an old
		// incident's follow-up.
		return nil, nil
	}
	if in.At.Sub(c.LastMessageAt) > s.Policy.AttachWindow {
		return nil, nil
	}
	if other, err := s.aboutAnother(ctx, page, c, in); err != nil || other {
		return nil, err
	}
	return c, nil
}

// aboutAnother reports whether a message within the attach window of the
// open complaint c is about another incident than c's: the tagger, given
// what the message itself says (its words, the incident it answers, the
// components the sender named; not the components the customer's record
// lists, which say nothing about this message), tags it confidently to an
// open incident c is not tagged to ("now the checkout page is blank too",
// minutes after a complaint about payments). Attached, it would be
// answered by the resolution of the wrong incident ("it is fixed") while
// its own lasted. A complaint still in triage (untagged) takes the
// message: the agent who tags it reads both.
//
// Once c's incident is over (resolved, or a maintenance completed), the
// bar is lower: any suggestion for an open incident or maintenance (the
// message's words or named components point to it) makes the message a
// new complaint. c's resolution has been answered already, so attached
// the message would get no answer at all: "the checkout does not work"
// during a live maintenance, two minutes after a text about an old
// outage, gets the maintenance's acknowledgement (planned, expected end)
// instead of silence. A support lead would rather see a second ticket
// (flagged a repeat when it is about the same thing, with the same owner)
// than a customer left unanswered.
func (s *Service) aboutAnother(ctx context.Context, page *incident.Page, c *Complaint, in Intake) (bool, error) {
	switch {
	case c.IncidentID() == "":
		return false, nil
	case in.IncidentID != "": // the sender chose: no guess
		return in.IncidentID != c.IncidentID(), nil
	}
	incs, comps, err := s.candidates(ctx, page.ID, in.At)
	if err != nil {
		return false, err
	}
	t := Suggest(Evidence{At: in.At, Text: messageText(in), Components: in.Components, Named: len(in.Components) > 0,
		ReplyTo: in.ReplyTo, Location: page.Location()}, incs, comps)
	if t == nil || t.Ended || t.IncidentID == c.IncidentID() {
		return false, nil
	}
	if t.Confidence >= s.Policy.Threshold {
		return true, nil
	}
	for _, inc := range incs {
		if inc.ID == c.IncidentID() {
			return !inc.Open(), nil
		}
	}
	return true, nil // older than every candidate: long over
}

// attach adds a message to an open complaint: no second acknowledgement,
// and a complaint waiting on the customer is worked on again. A call an
// agent records onto it (recordedByAgent) also carries what the agent
// learnt and promised: see agentsRecord.
//
// A message that reopens a resolved or closed complaint ("it still does
// not work", a reply to the resolution) is handled as one that opens a
// complaint: it has an owner (the one it had while they are still an
// agent, else the next on duty, else the triage queue) and the customer
// gets the receipt that a person will answer, by when (reopenAnswer):
// the same on every door, a reply by email as a text by SMS.
func (s *Service) attach(ctx context.Context, c *Complaint, in Intake) (*Complaint, error) {
	actor := incident.ActorFrom(ctx).String()
	reopening := !c.Open()
	owner := c.Owner
	if reopening && !recordedByAgent(in) {
		var err error
		if owner, err = s.reopenOwner(ctx, c); err != nil {
			return nil, err
		}
	}
	reopened := false
	c, err := s.change(ctx, c.ID, func(c *Complaint, now time.Time) ([]*Entry, error) {
		reopened = false
		c.Messages++
		c.LastMessageAt = in.At
		var entries []*Entry
		if c.State == StateWaitingOnCustomer {
			c.State = StateInProgress
			entries = append(entries, s.event(c, EntryState, "customer", "waiting_on_customer → in_progress: the customer wrote", now,
				EventCustomerWrote, "from", string(StateWaitingOnCustomer), "to", string(StateInProgress)))
		} else if !c.Open() {
			// A message to a resolved complaint (a threaded reply, or its
			// reference quoted) reopens it with the same owner.
			entries = append(entries, s.event(c, EntryState, "customer", string(c.State)+" → in_progress: the customer wrote again", now,
				EventCustomerWrote, "from", string(c.State), "to", string(StateInProgress)))
			c.State = StateInProgress
			reopen(c, now)
			if reopening && !recordedByAgent(in) {
				reopened = true
				if owner != c.Owner {
					entries = append(entries, s.event(c, EntryAssign, "system", "owner: "+orNobody(c.Owner)+" → "+orNobody(owner)+": reopened by the customer", now,
						EventOwner, "from", c.Owner, "to", owner))
					c.Owner = owner
				}
			}
		}
		msg := s.inbound(c, in)
		if !recordedByAgent(in) {
			return append([]*Entry{msg}, entries...), nil
		}
		msg.Actor = actor // the agent wrote it down, as open records it
		return append(append([]*Entry{msg}, entries...), s.agentsRecord(c, in, actor, now)...), nil
	})
	if err != nil || !reopened {
		return c, err
	}
	return s.reopenAnswer(ctx, c), nil
}

func orNobody(owner string) string {
	if owner == "" {
		return "nobody"
	}
	return owner
}

// reopenOwner is who takes a complaint the customer reopens: its owner
// while they are still an agent (Agents), else whom a new complaint would
// go to (the next on duty in turn, else nobody: the triage queue).
func (s *Service) reopenOwner(ctx context.Context, c *Complaint) (string, error) {
	if c.Owner != "" {
		agents, err := s.Agents(ctx)
		if err != nil {
			return "", err
		}
		if slices.Contains(agents, c.Owner) {
			return c.Owner, nil
		}
	}
	return s.owner(ctx, c.PageID, "")
}

// reopenAnswer asks for the receipt of a complaint the customer reopened
// (AnswerReceived: a person will answer, by the first-answer promise
// counted from now, at the latest the reopened resolution promise) and
// records it on the timeline; the key is the message's number, so that a
// retry asks once. A failure is logged: the customer's message is kept
// and the owner sees it.
func (s *Service) reopenAnswer(ctx context.Context, c *Complaint) *Complaint {
	if s.Answers == nil {
		return c
	}
	promised := *c
	if first := c.FirstAnswerDue.Sub(c.CreatedAt); first > 0 {
		promised.FirstAnswerDue = c.LastMessageAt.Add(first)
		if promised.FirstAnswerDue.After(c.ResolveDue) {
			promised.FirstAnswerDue = c.ResolveDue
		}
	}
	out, canWrite, err := s.answerChannel(ctx, c)
	key := fmt.Sprintf("reopened:%d", c.Messages)
	if err == nil && canWrite {
		err = s.Answers.Answer(ctx, &promised, AnswerReceived, key, "")
	}
	var limited *LimitedError
	if errors.As(err, &limited) {
		err = nil
	}
	if err != nil {
		s.Log.Warn("receipt of a reopened complaint not queued", "complaint_id", c.ID, "err", err)
		return c
	}
	got, err := s.changeFrom(ctx, c, c.ID, func(c *Complaint, now time.Time) ([]*Entry, error) {
		e := s.event(c, EntryMessageOut, "system", "receipt ("+string(AnswerReceived)+") queued: the customer wrote to the "+
			"complaint after its resolution", now, EventAckQueued, "answer", string(AnswerReceived))
		e.Channel = out
		switch {
		case limited != nil:
			limitedNote(e, limited, "receipt")
		case !canWrite:
			e.Kind, e.Channel, e.Text, e.Event, e.Args = EntryNote, "", "no receipt: herald cannot write to this contact", EventAckNone, nil
		}
		return []*Entry{e}, nil
	})
	if err != nil {
		s.Log.Warn("receipt of a reopened complaint not recorded", "complaint_id", c.ID, "err", err)
		return c
	}
	return got
}

// AddPromise is a complaint's promise with another one made since: both,
// "; " between them, unless the new one is already there (or empty).
func AddPromise(had, more string) string {
	more = strings.TrimSpace(more)
	switch {
	case more == "" || strings.Contains(had, more):
		return had
	case had == "":
		return more
	}
	return had + "; " + more
}

// recordedByAgent reports whether an intake is an agent's record (a call
// taken, or a complaint filed through the API by an agent on a customer's
// behalf) rather than the customer's own message.
func recordedByAgent(in Intake) bool {
	return in.Channel == Phone || in.Recorded || in.Owner != ""
}

// agentsRecord applies to c, which an agent's record continues, what the
// agent set on it: what the customer asks for, a higher severity, the
// promise (which keeps the complaint open when its incident resolves:
// Complaint.KeptOpen), and the agent as owner of a complaint nobody owned.
// Without it a call added to an open complaint kept only its words, and
// the incident's resolution closed a complaint someone had promised a
// call back on. A severity is only raised: the form's default does not
// lower what an earlier message set.
func (s *Service) agentsRecord(c *Complaint, in Intake, actor string, now time.Time) []*Entry {
	var changed []string
	if in.Ask != "" && in.Ask != c.Ask {
		changed = append(changed, "ask: "+string(c.Ask)+" → "+string(in.Ask))
		c.Ask = in.Ask
	}
	if in.Severity != "" && slices.Index(Severities, in.Severity) > slices.Index(Severities, c.Severity) {
		changed = append(changed, "severity: "+string(c.Severity)+" → "+string(in.Severity))
		c.Severity = in.Severity
	}
	if p := AddPromise(c.Promise, in.Promise); p != c.Promise {
		c.Promise = p
		changed = append(changed, "promise: "+p)
	}
	var entries []*Entry
	if len(changed) > 0 {
		entries = append(entries, s.entry(c, EntryEdit, actor, "", strings.Join(changed, "; "), now))
	}
	if c.Owner == "" && in.Owner != "" {
		c.Owner = in.Owner
		entries = append(entries, s.event(c, EntryAssign, actor, "owner: nobody → "+in.Owner, now, EventOwner, "from", "", "to", in.Owner))
	}
	return entries
}

// maxThread bounds the IDs of an intake's Thread kept on its entry
// (notify.ReplyReferences keeps no more than ten).
const maxThread = 20

// inbound is the timeline entry of the customer's message in on c: its
// words, its provider ID and, for an email, its thread.
func (s *Service) inbound(c *Complaint, in Intake) *Entry {
	msg := s.entry(c, EntryMessageIn, "customer", in.Channel, messageText(in), in.At)
	msg.ExternalID = in.ExternalID
	if in.Channel == Email && len(in.Thread) > 0 {
		thread := in.Thread
		if len(thread) > maxThread {
			thread = append([]string{thread[0]}, thread[len(thread)-maxThread+1:]...)
		}
		msg.Args = map[string]string{ArgThread: strings.Join(thread, " ")}
	}
	return msg
}

// messageText is what the timeline shows of an inbound message.
func messageText(in Intake) string {
	if in.Subject != "" && in.Text != "" {
		return in.Subject + "\n\n" + in.Text
	}
	return in.Subject + in.Text
}

// contactLanguage guesses an unknown contact's language: from the
// country calling code of their phone number (E.164), else from the
// country domain of their email address; "" when neither says.
func contactLanguage(ct Contact) string {
	if l := locale.ForPhone(ct.Phone); l != "" {
		return l
	}
	if at := strings.LastIndexByte(ct.Email, '.'); at >= 0 && strings.Contains(ct.Email, "@") {
		switch strings.ToLower(ct.Email[at+1:]) {
		case "hu":
			return "hu"
		case "pl":
			return "pl"
		case "hr":
			return "hr"
		case "uk", "ie":
			return "en"
		}
	}
	return ""
}

// open files a new complaint, then asks for its acknowledgement.
func (s *Service) open(ctx context.Context, page *incident.Page, cust *audience.Customer, in Intake, h *history) (*Complaint, error) {
	now := s.now()
	id := incident.NewID()
	c := &Complaint{ID: id, PageID: page.ID, Ref: NewRef(id), Contact: in.Contact, Channel: in.Channel,
		Category: in.Category, Ask: in.Ask, Severity: in.Severity, Language: in.Language, Subject: in.Subject,
		Text: in.Text, Promise: strings.TrimSpace(in.Promise), State: StateNew, Components: in.Components,
		Messages: 1, LastMessageAt: in.At, CreatedAt: in.At, UpdatedAt: now, Version: 1}
	plan := ""
	if cust != nil {
		plan = cust.Plan
		if len(c.Components) == 0 {
			c.Components = cust.Components
		}
		if c.Language == "" {
			c.Language = cust.Language
		}
	} else if len(c.Components) == 0 {
		sub, err := s.subscriber(ctx, page.ID, in.Contact)
		if err != nil {
			return nil, err
		}
		if sub != nil {
			c.Components = append([]string(nil), sub.ComponentIDs...)
			if c.Language == "" && oneOf(sub.Language, page.Languages) {
				c.Language = sub.Language
			}
		}
	}
	if c.Language == "" {
		// Someone herald does not know is answered in the language their
		// number or address suggests, when the page speaks it.
		if l := contactLanguage(in.Contact); l != "" && oneOf(l, page.Languages) {
			c.Language = l
		}
	}
	if c.Language == "" && len(page.Languages) > 0 {
		c.Language = page.Languages[0]
	}
	if c.Language == "" {
		c.Language = "en"
	}
	if c.Ask == "" {
		c.Ask = askIn(in.Subject, in.Text)
	}
	if c.Severity == "" {
		c.Severity = SeverityNormal
	}
	msg := s.inbound(c, in)
	if in.Channel == Phone || in.Owner != "" {
		msg.Actor = incident.ActorFrom(ctx).String()
	}
	entries := []*Entry{msg}
	if in.Channel == Phone {
		// The agent who took the call answered the customer then.
		at := in.At
		c.FirstAnswerAt = &at
	}
	tag, err := s.tagNew(ctx, page, c, in)
	if err != nil {
		return nil, err
	}
	entries = append(entries, tag...)
	if c.Category == "" {
		c.Category = CategoryOther
		if c.Tag != nil {
			c.Category = CategoryOutage
		}
	}
	if err := s.flagRepeat(ctx, h, c); err != nil {
		return nil, err
	}
	s.Policy.setDue(c, plan)
	given := in.Owner
	if given == "" {
		earlier := c.RepeatOf
		if c.Category == CategoryFollowUp {
			// No repeat, but the agent who knows the customer's story
			// about the incident still takes the task.
			if earlier, err = s.earlierAbout(ctx, h, c); err != nil {
				return nil, err
			}
		}
		given = previousOwner(h, earlier)
	}
	owner, err := s.owner(ctx, page.ID, given)
	if err != nil {
		return nil, err
	}
	if owner != "" {
		c.Owner = owner
		entries = append(entries, s.event(c, EntryAssign, incident.ActorFrom(ctx).String(), "owner: "+owner, now, EventOwner, "to", owner))
	}
	if c.Channel == Phone {
		// Answered on the phone: worked on from the start, as a reply
		// makes it.
		c.State = StateInProgress
		entries = append(entries, s.event(c, EntryState, "system", "new → in_progress: an agent took the call", now,
			EventState, "from", string(StateNew), "to", string(StateInProgress)))
		if !autoAck(c) {
			entries = append(entries, s.event(c, EntryNote, "system", "no automatic acknowledgement: an agent took the call", now, EventAckCall))
		}
	}
	c.CheckAt = s.Policy.CheckAt(c)
	var acked *Complaint
	if given, gerr := s.ackGiven(ctx, h, c); gerr != nil {
		err = gerr
	} else if given != nil {
		more, _ := s.markAcked(c, AnswerKnown, "", now)
		ack := more[len(more)-1]
		ack.Kind, ack.Channel, ack.Event = EntryNote, "", EventAckGiven
		ack.Text = "no automatic acknowledgement: the contact had the same one about this incident at " +
			given.AckedAt.UTC().Format(time.RFC3339) + " (" + given.Ref + ")"
		ack.Args = map[string]string{"ref": given.Ref, "at": given.AckedAt.UTC().Format(time.RFC3339)}
		c.CheckAt = s.Policy.CheckAt(c)
		err = s.Store.SaveComplaint(ctx, c, append(entries, more...))
		acked = c
	} else {
		acked, err = s.fileAcknowledged(ctx, c, entries)
		if err == nil && acked == nil {
			err = s.Store.SaveComplaint(ctx, c, entries)
		}
	}
	if err != nil {
		if incident.ErrorCode(err) == incident.ECONFLICT && in.ExternalID != "" {
			// Another node filed the same provider message first.
			prev, perr := s.byExternalID(ctx, page.ID, in.ExternalID)
			if perr == nil {
				return prev, nil
			}
		}
		return nil, err
	}
	s.Log.Info("complaint received", "complaint_id", c.ID, "page_id", c.PageID, "channel", c.Channel,
		"incident_id", c.IncidentID(), "repeat", c.Repeat)
	if acked != nil {
		s.publish(ctx, acked)
		return acked, nil
	}
	// One event per new complaint: the acknowledgement's save publishes
	// it; without that save (no Acknowledger, or it failed) this does.
	acked, err = s.acknowledge(ctx, c)
	switch {
	case err != nil:
		s.Log.Warn("complaint acknowledgement not queued yet; the sweep retries", "complaint_id", c.ID, "err", err)
		s.publish(ctx, c)
	case acked.Version == c.Version:
		s.publish(ctx, c)
	default:
		c = acked
	}
	return c, nil
}

// tagNew tags a new complaint: to the incident the agent chose, or to the
// tagger's best guess when it is confident enough (else the guess is kept
// as a suggestion for triage).
func (s *Service) tagNew(ctx context.Context, page *incident.Page, c *Complaint, in Intake) ([]*Entry, error) {
	now := s.now()
	if in.IncidentID != "" {
		inc, err := s.incident(ctx, page.ID, in.IncidentID, "incident_id")
		if err != nil {
			return nil, err
		}
		actor := incident.ActorFrom(ctx).String()
		c.Tag = &Tag{IncidentID: inc.ID, Confidence: 1, Reason: "tagged by " + actor, By: actor, At: now, Ended: endedBy(inc, in.At),
			Why: []Why{{Code: WhyBy, Args: map[string]string{"actor": incident.ActorName(actor)}}}}
		return []*Entry{s.event(c, EntryTag, actor, "tagged to "+inc.ID+": "+c.Tag.Reason, now, EventTagged, "incident", inc.ID)}, nil
	}
	incs, comps, err := s.candidates(ctx, page.ID, in.At)
	if err != nil {
		return nil, err
	}
	ev := Evidence{At: in.At, Text: messageText(in), Components: c.Components, Named: len(in.Components) > 0, ReplyTo: in.ReplyTo, Location: page.Location()}
	t := Suggest(ev, incs, comps)
	if t == nil {
		return nil, nil
	}
	if t.Confidence >= s.Policy.Threshold {
		c.Tag = t
		return []*Entry{s.event(c, EntryTag, "system", fmt.Sprintf("tagged to %s (confidence %.2f): %s", t.IncidentID, t.Confidence, t.Reason), now,
			EventAutoTagged, "incident", t.IncidentID, "confidence", fmt.Sprintf("%.2f", t.Confidence), "reason", t.Reason, "why", whyJSON(t.Why))}, nil
	}
	c.Suggestion = t
	return []*Entry{s.event(c, EntryTag, "system", fmt.Sprintf("left in triage; best guess %s (confidence %.2f): %s", t.IncidentID, t.Confidence, t.Reason), now,
		EventTriage, "incident", t.IncidentID, "confidence", fmt.Sprintf("%.2f", t.Confidence), "reason", t.Reason, "why", whyJSON(t.Why))}, nil
}

// candidateWindow is how far back the tagger looks for incidents.
const candidateWindow = 30 * 24 * time.Hour

// candidates reads the page's incidents a complaint at at may be about,
// and its components. Within CandidatesTTL of a read for the same page it
// reuses that read, for a complaint at or after the one it was read for:
// during a storm every complaint would read the same incidents (with
// their updates) and components again.
func (s *Service) candidates(ctx context.Context, pageID string, at time.Time) ([]*incident.Incident, []*incident.Component, error) {
	since := at.Add(-candidateWindow)
	if incs, comps, ok := s.cands.get(pageID, at, since, s.CandidatesTTL); ok {
		return incs, comps, nil
	}
	gen := s.cands.generation()
	incs, _, err := s.Incidents.FindIncidents(ctx, incident.IncidentFilter{PageID: pageID, Since: since, Limit: 200})
	if err != nil {
		return nil, nil, err
	}
	comps, err := s.Incidents.FindComponents(ctx, pageID)
	if err != nil {
		return nil, nil, err
	}
	if s.CandidatesTTL > 0 {
		s.cands.put(pageID, gen, at, incs, comps)
	}
	return incs, comps, nil
}

// candidateCache keeps each page's last candidates read. Run empties it on
// every incident or page event, so it is stale only for the moment an
// event takes to arrive (or, were one lost, for CandidatesTTL).
type candidateCache struct {
	mu    sync.Mutex
	gen   uint64 // counts invalidations: a read that began before one is not kept
	pages map[string]*candidateRead
	// byID holds the pages Service.page read, by the ID asked for ("":
	// the first page), with when they were read.
	byID map[string]pageRead
}

type pageRead struct {
	read time.Time
	page *incident.Page
}

// page returns the page read for id less than ttl ago.
func (cc *candidateCache) page(id string, ttl time.Duration) (*incident.Page, bool) {
	if ttl <= 0 {
		return nil, false
	}
	cc.mu.Lock()
	r, ok := cc.byID[id]
	cc.mu.Unlock()
	if !ok || time.Since(r.read) >= ttl {
		return nil, false
	}
	return r.page, true
}

// putPage keeps a page read for id, unless the cache was emptied since
// the read began.
func (cc *candidateCache) putPage(id string, gen uint64, p *incident.Page) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if gen != cc.gen {
		return
	}
	if cc.byID == nil {
		cc.byID = map[string]pageRead{}
	}
	cc.byID[id] = pageRead{read: time.Now(), page: p}
}

type candidateRead struct {
	read  time.Time // wall clock
	at    time.Time // the complaint time it was read for
	incs  []*incident.Incident
	comps []*incident.Component
}

func (cc *candidateCache) generation() uint64 {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.gen
}

// get returns the page's cached candidates for a complaint at at when a
// read for an earlier complaint (by less than ttl) is younger than ttl.
// The incidents are cut at since: the read for the earlier time is the
// newest incidents from an earlier start, so cut they are what a read now
// would return.
func (cc *candidateCache) get(pageID string, at, since time.Time, ttl time.Duration) ([]*incident.Incident, []*incident.Component, bool) {
	if ttl <= 0 {
		return nil, nil, false
	}
	cc.mu.Lock()
	r := cc.pages[pageID]
	cc.mu.Unlock()
	if r == nil || time.Since(r.read) >= ttl || at.Before(r.at) || at.Sub(r.at) >= ttl {
		return nil, nil, false
	}
	old := func(x *incident.Incident) bool { return x.CreatedAt.Before(since) }
	incs := r.incs
	if slices.ContainsFunc(incs, old) {
		incs = slices.DeleteFunc(slices.Clone(incs), old)
	}
	return incs, r.comps, true
}

// put keeps a read, unless the cache was emptied since it began.
func (cc *candidateCache) put(pageID string, gen uint64, at time.Time, incs []*incident.Incident, comps []*incident.Component) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if gen != cc.gen {
		return
	}
	if cc.pages == nil {
		cc.pages = map[string]*candidateRead{}
	}
	cc.pages[pageID] = &candidateRead{read: time.Now(), at: at, incs: incs, comps: comps}
}

// invalidate empties the cache.
func (cc *candidateCache) invalidate() {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.gen++
	cc.pages, cc.byID = nil, nil
}

// incident returns a page's incident, or an invalid-field error naming
// field when there is none.
func (s *Service) incident(ctx context.Context, pageID, id, field string) (*incident.Incident, error) {
	inc, err := s.Incidents.FindIncidentByID(ctx, id)
	if errors.Is(err, incident.ErrNotFound) || err == nil && inc.PageID != pageID {
		return nil, incident.Invalid(field, "no incident %q on this page", id)
	}
	return inc, err
}

// flagRepeat marks c a repeat when the same contact complained, within the
// repeat window, about the same incident or the same category and a
// shared component (earlierAbout). A win-back task (CategoryFollowUp) is
// herald's own, not the customer's words: it is never a repeat (nor gets
// a repeat's halved promises), and a later complaint is no repeat of one.
func (s *Service) flagRepeat(ctx context.Context, h *history, c *Complaint) error {
	if c.Category == CategoryFollowUp {
		return nil
	}
	ids, err := s.earlierAbout(ctx, h, c)
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		c.Repeat, c.RepeatOf = true, append(c.RepeatOf, ids...)
	}
	return nil
}

// earlierAbout is the contact's complaints (newest first) within the
// repeat window about the same incident as c, or the same category and a
// shared component; win-back tasks are never among them.
func (s *Service) earlierAbout(ctx context.Context, h *history, c *Complaint) ([]string, error) {
	if h.key == "" || h.key != c.Contact.Key() || s.Policy.RepeatWindow <= 0 {
		return nil, nil
	}
	prev, err := h.since(ctx, c.CreatedAt.Add(-s.Policy.RepeatWindow))
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, p := range prev {
		if p.ID == c.ID || p.Category == CategoryFollowUp {
			continue
		}
		if c.IncidentID() != "" && p.IncidentID() == c.IncidentID() ||
			p.Category == c.Category && c.Category != "" && shareAny(p.Components, c.Components) {
			ids = append(ids, p.ID)
		}
	}
	return ids, nil
}

// previousOwner is the owner of the newest of earlier, the complaints a
// repeat repeats (flagRepeat) or a win-back task follows up, or "": the
// customer who writes again about the same incident (their choice of
// compensation after the all-clear, a "still broken") reaches the agent
// who knows their story, not the next agent in turn.
func previousOwner(h *history, earlier []string) string {
	for _, id := range earlier { // newest first
		for _, p := range h.recent {
			if p.ID == id && p.Owner != "" {
				return p.Owner
			}
		}
	}
	return ""
}

// historyLimit is how many of a contact's newest complaints Receive reads
// to answer both of its questions about them.
const historyLimit = 50

// history is a contact's newest complaints on a page, read at most once
// for both questions Receive asks of them: does the message continue an
// open complaint, and is a new one a repeat. One read a complaint instead
// of two; under a storm each was about 3 % of the intake's CPU.
type history struct {
	s      *Service
	pageID string
	key    string // Contact.Key(); "" reads nothing
	read   bool
	recent []*Complaint // newest first, at most historyLimit
}

func (h *history) load(ctx context.Context) error {
	if h.read {
		return nil
	}
	cs, _, err := h.s.Store.FindComplaints(ctx, Filter{PageID: h.pageID, ContactKey: h.key, Limit: historyLimit, SkipCount: true})
	if err != nil {
		return err
	}
	h.read, h.recent = true, cs
	return nil
}

// newestOpen is the contact's newest open complaint, nil when none is.
func (h *history) newestOpen(ctx context.Context) (*Complaint, error) {
	if err := h.load(ctx); err != nil {
		return nil, err
	}
	for _, c := range h.recent {
		if c.Open() {
			return c, nil
		}
	}
	if len(h.recent) < historyLimit {
		return nil, nil // the contact's every complaint was read
	}
	// An open one older than the newest historyLimit: ask for it.
	open, _, err := h.s.Store.FindComplaints(ctx, Filter{PageID: h.pageID, ContactKey: h.key, Open: true, Limit: 1, SkipCount: true})
	if err != nil || len(open) == 0 {
		return nil, err
	}
	return open[0], nil
}

// since is the contact's newest complaints (at most historyLimit)
// created at or after t: the newest historyLimit of them are among the
// newest historyLimit overall.
func (h *history) since(ctx context.Context, t time.Time) ([]*Complaint, error) {
	if err := h.load(ctx); err != nil {
		return nil, err
	}
	var out []*Complaint
	for _, c := range h.recent {
		if !c.CreatedAt.Before(t) {
			out = append(out, c)
		}
	}
	return out, nil
}

// owner returns who takes a new complaint: the agent recording it, else
// the next agent on duty in turn, else nobody yet.
func (s *Service) owner(ctx context.Context, pageID, given string) (string, error) {
	if given != "" || len(s.OnDuty) == 0 {
		return given, nil
	}
	n, err := s.Store.NextTurn(ctx, "complaint.owner:"+pageID)
	if err != nil {
		return "", err
	}
	return s.OnDuty[int((n-1)%int64(len(s.OnDuty)))], nil
}

// ackAgainAfter is how long after a contact's automatic acknowledgement
// about an incident a new complaint of theirs about it is acknowledged
// again.
const ackAgainAfter = time.Hour

// ackGiven returns the contact's earlier complaint about c's incident,
// still open, whose automatic acknowledgement went out less than
// ackAgainAfter ago, when c's would say the same ("we know, we are on it,
// we will write when it is fixed": AnswerKnown); nil otherwise. A customer who texted
// and then calls, the call recorded by an agent as a complaint of its
// own, is not texted that twice; the complaint is acknowledged by the
// earlier answer, and its timeline says which. An acknowledgement that
// says something new (a person will answer by a date, about an incident
// that has ended) goes out every time.
func (s *Service) ackGiven(ctx context.Context, h *history, c *Complaint) (*Complaint, error) {
	if s.Answers == nil || !autoAck(c) || ackAnswer(c) != AnswerKnown || h.key == "" || h.key != c.Contact.Key() {
		return nil, nil
	}
	prev, err := h.since(ctx, c.CreatedAt.Add(-ackAgainAfter))
	if err != nil {
		return nil, err
	}
	for _, p := range prev {
		// p's acknowledgement said the same when p was tagged to the
		// incident, while it lasted, by the time it went out.
		if p.ID != c.ID && p.Open() && p.IncidentID() == c.IncidentID() && !p.Tag.Ended && p.AckedAt != nil &&
			!p.Tag.At.After(*p.AckedAt) && c.CreatedAt.Sub(*p.AckedAt) < ackAgainAfter {
			return p, nil
		}
	}
	return nil, nil
}

// autoAck reports whether a new complaint gets the automatic answer. A
// win-back task (CategoryFollowUp, opened by herald from an unhappy
// survey answer) does not: the survey page already thanked the customer,
// and "we are fixing the problem, we will write when it is fixed" about
// a resolved incident would be wrong; a person calls them.
//
// Nor does a call an agent took when all it would say is that a person
// will answer by a time: the agent answered them on the phone, and may
// have promised something else ("call back Friday"). A call about an
// incident that lasts still gets what we know of it, with its reference.
func autoAck(c *Complaint) bool {
	return c.Category != CategoryFollowUp && !(c.Channel == Phone && ackAnswer(c) == AnswerReceived)
}

// ackAnswer is the automatic answer of a new complaint: what we know of
// the incident it is about while that incident lasts. A complaint about
// one that had ended when it came (the customer choosing the
// compensation the resolution offered, or writing that it still fails)
// is not told "we are fixing it, we will write when it is fixed": it
// gets the acknowledgement that a person will answer, and by when.
func ackAnswer(c *Complaint) Answer {
	if c.Tag != nil && !c.Tag.Ended {
		return AnswerKnown
	}
	return AnswerReceived
}

// markAcked records on c that its automatic answer a is queued, at now,
// and returns the timeline's entries for it; errUnchanged when it was.
func (s *Service) markAcked(c *Complaint, a Answer, out Channel, now time.Time) ([]*Entry, error) {
	if c.AckedAt != nil {
		return nil, errUnchanged
	}
	c.AckedAt = &now
	var entries []*Entry
	if c.State == StateNew {
		c.State = StateAcknowledged
		entries = append(entries, s.event(c, EntryState, "system", "new → acknowledged", now, EventState, "from", string(StateNew), "to", string(StateAcknowledged)))
	}
	ack := s.event(c, EntryMessageOut, "system", "automatic acknowledgement ("+string(a)+") queued", now, EventAckQueued, "answer", string(a))
	ack.Channel = out
	return append(entries, ack), nil
}

// fileAcknowledged files the new complaint c with its entries, already
// acknowledged, and queues the acknowledgement in the same save, when the
// Acknowledger drafts it (Drafter) and the store can queue it with the
// complaint: one write where filing and acknowledging took three. It
// returns the complaint as saved; nil, with a nil error, when it wrote
// nothing and the caller files c the other way (no Drafter, the pipeline
// could not draft the answer, or the store says ErrNotAtomic).
func (s *Service) fileAcknowledged(ctx context.Context, c *Complaint, entries []*Entry) (*Complaint, error) {
	d, ok := s.Answers.(Drafter)
	if !ok || !autoAck(c) {
		return nil, nil
	}
	a := ackAnswer(c)
	ds, queued, err := d.Draft(ctx, c, a, "ack", "")
	var limited *LimitedError
	if errors.As(err, &limited) {
		// Nothing to queue: file it with the note at once (no
		// deliveries, so no save that must span the queue's keys).
		acked := *c
		more, merr := s.markAcked(&acked, a, "", s.now())
		if merr != nil {
			return nil, nil
		}
		limitedNote(more[len(more)-1], limited, "acknowledgement")
		acked.UpdatedAt = s.now()
		acked.CheckAt = s.Policy.CheckAt(&acked)
		if err := s.Store.SaveComplaint(ctx, &acked, append(slices.Clip(entries), more...)); err != nil {
			return nil, err
		}
		return &acked, nil
	}
	if err != nil {
		s.Log.Warn("complaint acknowledgement not drafted; filing it unacknowledged, the sweep retries", "complaint_id", c.ID, "err", err)
		return nil, nil
	}
	acked := *c
	now := s.now()
	var out Channel
	if len(ds) > 0 {
		out = Channel(ds[0].Kind)
	}
	more, err := s.markAcked(&acked, a, out, now)
	if err != nil {
		return nil, nil
	}
	if len(ds) == 0 {
		// Nothing to queue: herald cannot write to this contact (no
		// address it has a channel for, a number outside sms_countries
		// given on the form). The timeline says so, not "queued".
		ack := more[len(more)-1]
		ack.Kind, ack.Channel, ack.Text, ack.Event, ack.Args = EntryNote, "", "no automatic acknowledgement: herald cannot write to this contact", EventAckNone, nil
	}
	acked.UpdatedAt = now
	acked.CheckAt = s.Policy.CheckAt(&acked)
	all := append(slices.Clip(entries), more...)
	err = s.Store.SaveComplaintQueued(ctx, &acked, all, ds)
	switch {
	case errors.Is(err, ErrNotAtomic):
		return nil, nil
	case err != nil:
		return nil, err
	}
	if queued != nil {
		queued()
	}
	return &acked, nil
}

// acknowledge asks for the automatic answer of a new complaint and records
// that it is queued. The delivery's ID is the complaint's, so asking again
// sends nothing new.
func (s *Service) acknowledge(ctx context.Context, c *Complaint) (*Complaint, error) {
	if s.Answers == nil || !autoAck(c) {
		return c, nil
	}
	a := ackAnswer(c)
	out, canWrite, err := s.answerChannel(ctx, c)
	if err != nil {
		return nil, err
	}
	var limited *LimitedError
	if err := s.Answers.Answer(ctx, c, a, "ack", ""); errors.As(err, &limited) {
		canWrite = false
	} else if err != nil {
		return nil, err
	}
	// From the complaint in hand, just saved: no second read unless
	// another writer changed it meanwhile.
	return s.changeFrom(ctx, c, c.ID, func(c *Complaint, now time.Time) ([]*Entry, error) {
		more, err := s.markAcked(c, a, out, now)
		switch {
		case err != nil:
		case limited != nil:
			limitedNote(more[len(more)-1], limited, "acknowledgement")
		case !canWrite:
			ack := more[len(more)-1]
			ack.Kind, ack.Channel, ack.Text, ack.Event, ack.Args = EntryNote, "", "no automatic acknowledgement: herald cannot write to this contact", EventAckNone, nil
		}
		return more, err
	})
}

// limitedNote makes e, the timeline's entry for an automatic answer
// (what: "acknowledgement", "receipt"), the note that the per-sender
// limit held it back.
func limitedNote(e *Entry, l *LimitedError, what string) {
	e.Kind, e.Channel, e.Event = EntryNote, "", EventAckLimited
	e.Text = fmt.Sprintf("no automatic %s: this address has had its limit of automatic answers (%d within %s)", what, l.Max, shortDuration(l.Window))
	e.Args = map[string]string{"max": strconv.Itoa(l.Max), "window": shortDuration(l.Window)}
}

// shortDuration writes d without zero units: "24h", "30m", "1h30m".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// errUnchanged tells change that there is nothing to save.
var errUnchanged = errors.New("complaint: unchanged")

// change reads a complaint, applies fn, and saves it with fn's entries,
// retrying on a concurrent change. fn returning errUnchanged saves nothing.
func (s *Service) change(ctx context.Context, id string, fn func(c *Complaint, now time.Time) ([]*Entry, error)) (*Complaint, error) {
	return s.changeFrom(ctx, nil, id, fn)
}

// changeFrom is change starting from have, the complaint as the caller
// last saved or read it, instead of reading it first; a concurrent change
// makes the save fail with ECONFLICT, and the retries read it. have is
// not modified.
func (s *Service) changeFrom(ctx context.Context, have *Complaint, id string, fn func(c *Complaint, now time.Time) ([]*Entry, error)) (*Complaint, error) {
	for attempt := 0; ; attempt++ {
		var c *Complaint
		if attempt == 0 && have != nil {
			cp := *have
			c = &cp
		} else {
			var err error
			if c, err = s.Store.FindComplaintByID(ctx, id); err != nil {
				return nil, err
			}
		}
		now := s.now()
		entries, err := fn(c, now)
		if errors.Is(err, errUnchanged) {
			return c, nil
		}
		if err != nil {
			return nil, err
		}
		c.Version++
		c.UpdatedAt = now
		c.CheckAt = s.Policy.CheckAt(c)
		err = s.Store.SaveComplaint(ctx, c, entries)
		if err == nil {
			s.publish(ctx, c)
			return c, nil
		}
		if incident.ErrorCode(err) != incident.ECONFLICT || attempt >= 4 {
			return nil, err
		}
	}
}

// entry makes a timeline entry for c.
func (s *Service) entry(c *Complaint, kind EntryKind, actor string, ch Channel, text string, at time.Time) *Entry {
	return &Entry{ID: incident.NewID(), ComplaintID: c.ID, PageID: c.PageID, Kind: kind, Actor: actor, Channel: ch, Text: text, At: at}
}

// event is entry for what herald records itself: the English text, and
// the event and its args (name, value pairs) for other languages.
func (s *Service) event(c *Complaint, kind EntryKind, actor, text string, at time.Time, event string, kv ...string) *Entry {
	e := s.entry(c, kind, actor, "", text, at)
	e.Event, e.Args = event, map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Args[kv[i]] = kv[i+1]
	}
	return e
}

func oneOf[T ~string](v T, list []T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func joinAll[T ~string](list []T) string {
	s := make([]string, len(list))
	for i, x := range list {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}

func shareAny(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// whyJSON is a tag's reasons as an entry's arg: JSON, "" for none.
func whyJSON(why []Why) string {
	if len(why) == 0 {
		return ""
	}
	b, _ := json.Marshal(why) // strings only: always encodes
	return string(b)
}
