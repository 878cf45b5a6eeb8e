// Package complaint is herald's complaint handling: every complaint a
// customer makes, on any channel, becomes one ticket, recorded by one
// standard scheme, tagged to the incident it is about, answered at once,
// owned by one agent and closed within its promise.
//
// It follows the house pattern (see package audience): the types, the
// rules (lifecycle, tagging, SLA, repeat detection) and the Store interface
// the engines implement live here, with the standard library and the other
// domain and data packages only (incident, audience, channel); the Service
// is the one entry point every front door calls (API, CLI, Twilio and
// email inbound, Slack, the status page form, the console). It never sends
// a message itself: the answers are deliveries in the pipeline, asked for
// through the Acknowledger interface that notify implements.
package complaint

import (
	"sort"
	"strings"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
)

// Channel is where a complaint came in.
type Channel string

// Intake channels.
const (
	SMS   Channel = "sms"
	Email Channel = "email"
	Slack Channel = "slack"
	Web   Channel = "web"   // the status page's report-a-problem form
	Phone Channel = "phone" // a call, recorded by an agent
	API   Channel = "api"
)

// Channels lists every intake channel.
var Channels = []Channel{SMS, Email, Slack, Web, Phone, API}

// Category is what a complaint is about, by the standard recording scheme.
type Category string

// Categories.
const (
	CategoryOutage       Category = "outage"
	CategoryDefect       Category = "defect"
	CategoryDelivery     Category = "delivery"
	CategoryRefund       Category = "refund"
	CategoryInformation  Category = "information"
	CategoryResponseTime Category = "response_time"
	CategoryConduct      Category = "conduct"
	CategoryOther        Category = "other"
	// CategoryFollowUp is a win-back task herald opens for an unhappy
	// survey answer: an agent calls the customer back.
	CategoryFollowUp Category = "follow_up"
)

// Categories lists every category.
var Categories = []Category{CategoryOutage, CategoryDefect, CategoryDelivery, CategoryRefund,
	CategoryInformation, CategoryResponseTime, CategoryConduct, CategoryOther, CategoryFollowUp}

// Ask is what the customer asks for.
type Ask string

// Asks.
const (
	AskInformation     Ask = "information"
	AskFix             Ask = "fix"
	AskCompensation    Ask = "compensation"
	AskBehaviourChange Ask = "behaviour_change"
	AskOther           Ask = "other"
)

// Asks lists every ask.
var Asks = []Ask{AskInformation, AskFix, AskCompensation, AskBehaviourChange, AskOther}

// Severity is how badly the customer is hurt, as the agent or the rules
// judge it.
type Severity string

// Severities.
const (
	SeverityLow      Severity = "low"
	SeverityNormal   Severity = "normal"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

// Severities lists every severity.
var Severities = []Severity{SeverityLow, SeverityNormal, SeverityHigh, SeverityCritical}

// Remedy is what the customer was given when the complaint was resolved.
type Remedy string

// Remedies.
const (
	RemedyApology        Remedy = "apology"
	RemedyReplacement    Remedy = "replacement"
	RemedyFix            Remedy = "fix"
	RemedyPriceReduction Remedy = "price_reduction"
	RemedyRefund         Remedy = "refund"
	RemedyFreeRepeat     Remedy = "free_repeat"
	RemedyNone           Remedy = "none"
)

// Remedies lists every remedy.
var Remedies = []Remedy{RemedyApology, RemedyReplacement, RemedyFix, RemedyPriceReduction,
	RemedyRefund, RemedyFreeRepeat, RemedyNone}

// Contact is who complained: an imported customer (CustomerID set) or an
// unknown contact, with whatever addresses herald knows for them. A
// complaint without a customer is still a full complaint.
type Contact struct {
	CustomerID string `json:"customer_id"` // "" for an unknown contact
	Name       string `json:"name"`
	Phone      string `json:"phone"` // E.164
	Email      string `json:"email"`
	Slack      string `json:"slack"`     // Slack user ID
	TimeZone   string `json:"time_zone"` // IANA; "" : the page's
}

// Address returns the address on channel ch that answers reach: the
// phone for SMS and phone calls, the email for email and forms, the Slack
// user for Slack; then whatever the contact has.
func (c Contact) Address(ch Channel) (kind channel.Kind, address string) {
	switch {
	case (ch == SMS || ch == Phone) && c.Phone != "":
		return channel.SMS, c.Phone
	case ch == Slack && c.Slack != "":
		return channel.Slack, c.Slack
	case c.Email != "":
		return channel.Email, c.Email
	case c.Phone != "":
		return channel.SMS, c.Phone
	case c.Slack != "":
		return channel.Slack, c.Slack
	}
	return "", ""
}

// ReplyChannel is the channel herald answers c on (Contact.Address): a
// call is answered by SMS, an SMS by SMS, … ; the complaint's own
// channel when herald has no address to write to.
func (c *Complaint) ReplyChannel() Channel {
	if kind, addr := c.Contact.Address(c.Channel); addr != "" {
		return Channel(kind)
	}
	return c.Channel
}

// Key is the contact's identity for attaching and repeat detection: the
// customer ID when known, else the first address it has.
func (c Contact) Key() string {
	switch {
	case c.CustomerID != "":
		return "customer:" + c.CustomerID
	case c.Phone != "":
		return "phone:" + c.Phone
	case c.Email != "":
		return "email:" + strings.ToLower(c.Email)
	case c.Slack != "":
		return "slack:" + c.Slack
	}
	return ""
}

// Tag links a complaint to the incident it is about.
type Tag struct {
	IncidentID string    `json:"incident_id"`
	Confidence float64   `json:"confidence"` // 0..1; 1 when a person tagged it
	Reason     string    `json:"reason"`     // for people: why this incident
	By         string    `json:"by"`         // "auto", or the actor who tagged it
	At         time.Time `json:"at"`
	// Why is Reason as codes and details (WhyReply, …), so that a reader
	// can say it in its own language; empty on tags from before.
	Why []Why `json:"why,omitempty"`
	// Ended: the incident had been resolved (a maintenance completed)
	// when the complaint came. Its automatic answer is then not "a known
	// problem we are fixing" (ackAnswer).
	Ended bool `json:"ended,omitempty"`
}

// Why is one reason for a tag: a code and its details.
type Why struct {
	Code string            `json:"code"`
	Args map[string]string `json:"args,omitempty"`
}

// Why codes, with the names of their Args.
const (
	WhyReply          = "reply"           // incident: the complaint answers a message about it
	WhyUses           = "uses"            // component, what (a component status, "maintenance", "impact_…" or "incident"), since, [until]: ended
	WhyMentions       = "mentions"        // words: the text names the incident's words
	WhyOnlyOpen       = "only_open"       // incident: the only open incident
	WhyResolvedBefore = "resolved_before" // incident, minutes: resolved that long before the complaint
	WhyBy             = "by"              // actor: a person tagged it
)

// endedBy reports whether inc had ended by at.
func endedBy(inc *incident.Incident, at time.Time) bool {
	return inc.ResolvedAt != nil && !at.Before(*inc.ResolvedAt)
}

// Complaint is one ticket, from first contact to close.
type Complaint struct {
	ID       string   `json:"id"`
	PageID   string   `json:"page_id"`
	Ref      string   `json:"ref"` // the reference number the customer is given
	Contact  Contact  `json:"contact"`
	Channel  Channel  `json:"channel"`
	Category Category `json:"category"`
	Ask      Ask      `json:"ask"`
	Severity Severity `json:"severity"`
	Language string   `json:"language"` // en, hu, pl or hr: the customer's
	Subject  string   `json:"subject"`
	Text     string   `json:"text"`    // the customer's words, as first received
	Promise  string   `json:"promise"` // what the agent promised, if anything
	State    State    `json:"state"`
	Owner    string   `json:"owner"` // the agent who owns it; "" while unassigned
	// Tag is the incident the complaint is about; nil while untagged
	// (waiting in triage). Suggestion keeps the tagger's best guess below
	// the threshold, for the agent who triages it.
	Tag        *Tag     `json:"tag"`
	Suggestion *Tag     `json:"suggestion"`
	Components []string `json:"components"` // component IDs it concerns (the customer's, or the agent's choice)
	// Repeat says the same customer complained about the same incident, or
	// the same category and component, within the repeat window; RepeatOf
	// lists those earlier complaints, newest first.
	Repeat   bool     `json:"repeat"`
	RepeatOf []string `json:"repeat_of"`
	// HoldOpen keeps the complaint open when its incident resolves: an agent
	// still has something to do for this customer.
	HoldOpen bool `json:"hold_open"`
	// IncidentAnswered is the incident whose resolution answered the
	// complaint. A complaint reopened after that (the customer wrote
	// again, or an agent reopened it) is the owner's to resolve: the
	// incident's resolution, asked again by the sweep or by a later event
	// of the incident, does not answer it a second time.
	IncidentAnswered string `json:"incident_answered,omitempty"`
	// Due times from the SLA policy: the first answer from a person (or the
	// incident's resolution) and the resolution. Warned and Escalated record
	// that the owner was warned before, and a manager told after, a breach.
	FirstAnswerDue time.Time `json:"first_answer_due"`
	ResolveDue     time.Time `json:"resolve_due"`
	Warned         bool      `json:"warned"`
	Escalated      bool      `json:"escalated"`
	// CheckAt is when the periodic SLA check next has something to do
	// (Policy.CheckAt); zero when never. The engines index it.
	CheckAt       time.Time  `json:"check_at"`
	AckedAt       *time.Time `json:"acked_at"` // the automatic acknowledgement was queued
	FirstAnswerAt *time.Time `json:"first_answer_at"`
	ResolvedAt    *time.Time `json:"resolved_at"`
	ClosedAt      *time.Time `json:"closed_at"`
	Remedy        Remedy     `json:"remedy"`
	Outcome       string     `json:"outcome"`
	Messages      int        `json:"messages"`        // messages in from the customer, the first included
	LastMessageAt time.Time  `json:"last_message_at"` // the latest one
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	// Version increments on every save; Store.SaveComplaint uses it for
	// optimistic concurrency.
	Version int `json:"version"`
}

// IncidentID is the tagged incident's ID, or "".
func (c *Complaint) IncidentID() string {
	if c.Tag == nil {
		return ""
	}
	return c.Tag.IncidentID
}

// Open reports whether the complaint still needs work.
func (c *Complaint) Open() bool { return c.State.Open() }

// KeptOpen reports whether the resolution of its incident leaves the
// complaint open, with its owner: an agent holds it open, or promised the
// customer something (a call back, an answer about compensation) that the
// all-clear does not keep. The customer still hears the resolution as
// everyone affected does.
func (c *Complaint) KeptOpen() bool { return c.HoldOpen || c.Promise != "" }

// NewRef derives the customer-facing reference from a complaint ID: short,
// upper case, and unambiguous when read out on the phone.
func NewRef(id string) string {
	r := strings.ToUpper(id)
	if len(r) > 8 {
		r = r[:8]
	}
	return "C-" + r
}

// RefPrefix reports whether ref is a complaint reference as NewRef makes
// them ("C-" and eight letters or digits, in any case), and returns the
// ID prefix it stands for (lower case).
func RefPrefix(ref string) (string, bool) {
	if len(ref) != 10 || (ref[0] != 'C' && ref[0] != 'c') || ref[1] != '-' {
		return "", false
	}
	p := strings.ToLower(ref[2:])
	for i := 0; i < len(p); i++ {
		if c := p[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'z') {
			return "", false
		}
	}
	return p, true
}

// SortNewestFirst orders complaints as the store's lists are: CreatedAt,
// newest first, ties by ID descending.
func SortNewestFirst(cs []*Complaint) {
	sort.Slice(cs, func(i, j int) bool {
		if !cs[i].CreatedAt.Equal(cs[j].CreatedAt) {
			return cs[i].CreatedAt.After(cs[j].CreatedAt)
		}
		return cs[i].ID > cs[j].ID
	})
}

// EntryKind names one line of a complaint's timeline.
type EntryKind string

// Entry kinds.
const (
	EntryMessageIn  EntryKind = "message_in"  // the customer wrote or called
	EntryMessageOut EntryKind = "message_out" // herald or an agent answered
	EntryNote       EntryKind = "note"        // an internal note
	EntryState      EntryKind = "state"       // the lifecycle moved
	EntryAssign     EntryKind = "assign"      // the owner changed
	EntryTag        EntryKind = "tag"         // tagged, re-tagged or untagged
	EntrySLA        EntryKind = "sla"         // the owner was warned, or a manager told of a breach
	EntryEdit       EntryKind = "edit"        // recorded fields corrected
)

// Entry events: what an entry herald wrote records (Entry.Event), with
// the names of its Args.
const (
	EventState         = "state"          // from, to: the lifecycle moved
	EventStateRemedy   = "state_remedy"   // from, to, remedy: resolved with a remedy
	EventCustomerWrote = "customer_wrote" // from, to: the customer's message moved it
	EventOwner         = "owner"          // from, to (agents' names; "" for nobody)
	EventTagged        = "tagged"         // incident, [from]: a person tagged or re-tagged it
	EventUntagged      = "untagged"       // incident: a person untagged it
	EventAutoTagged    = "auto_tagged"    // incident, confidence, reason: the tagger did
	EventTriage        = "triage"         // incident, confidence, reason: the tagger's guess, left for a person
	EventSLAWarning    = "sla_warning"    // owner, promise (first_answer, resolution), due (RFC 3339)
	EventSLAEscalated  = "sla_escalated"  // owner, promise, due
	EventAckQueued     = "ack_queued"     // answer: the automatic acknowledgement
	EventAckNone       = "ack_none"       // no acknowledgement: herald cannot write to the contact
	EventAckGiven      = "ack_given"      // ref, at (RFC 3339): not acknowledged again: the contact had the same answer then
	EventAckCall       = "ack_call"       // no "a person will answer" receipt: an agent took the call
	EventAckLimited    = "ack_limited"    // max, window: no automatic answer: the address had max within window (LimitedError)
	EventNotTold       = "not_told"       // outcome: resolved, but herald cannot write to the contact
)

// ArgThread is the Args key under which a customer's email keeps the
// References herald's reply to it carries (Intake.Thread), space-separated.
const ArgThread = "thread"

// Entry is one line of a complaint's timeline: every message in and out,
// every note, every change and who made it.
type Entry struct {
	ID          string    `json:"id"`
	ComplaintID string    `json:"complaint_id"`
	PageID      string    `json:"page_id"`
	Kind        EntryKind `json:"kind"`
	Actor       string    `json:"actor"`   // "customer", "system", or the agent's token name and ID
	Channel     Channel   `json:"channel"` // for messages
	Text        string    `json:"text"`
	// ExternalID is the provider's ID of an inbound message (Twilio's
	// MessageSid, an email's Message-ID): a provider that retries a webhook
	// delivers it again, and the store keeps one entry per page and ID.
	ExternalID string    `json:"external_id,omitempty"`
	At         time.Time `json:"at"`
	// Event names what an entry herald wrote records (EventState, …),
	// and Args its details, so that a reader can word it in its own
	// language; Text is its English wording. Event is empty on people's
	// messages and notes, and on entries written before events were; a
	// customer's email keeps its thread in Args (ArgThread).
	Event string            `json:"event,omitempty"`
	Args  map[string]string `json:"args,omitempty"`
}

// Incidents the tagger considers: open ones, and those resolved at most
// this long ago (a customer often writes after the fix, about the outage).
const recentlyResolved = 72 * time.Hour

// candidate reports whether inc may be what a complaint at now is about.
func candidate(inc *incident.Incident, now time.Time) bool {
	if inc.IsMaintenance() && inc.Upcoming() {
		return false
	}
	if inc.Open() {
		return true
	}
	return inc.ResolvedAt != nil && now.Sub(*inc.ResolvedAt) <= recentlyResolved
}
