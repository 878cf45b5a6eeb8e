package wire

import (
	"time"

	"github.com/heraldhq/herald/complaint"
)

// The complaint API's shapes (/api/v1/pages/{page}/complaints): the
// complaint, its timeline, the request bodies and the evaluation. The
// server writes and reads them; `herald complaints` reads and writes them.

// ComplaintContact is who complained: a customer by ID, or an unknown
// contact by phone, email, Slack user and name.
type ComplaintContact struct {
	CustomerID string `json:"customer_id,omitempty"`
	Name       string `json:"name,omitempty"`
	Phone      string `json:"phone,omitempty"` // E.164 once recorded
	Email      string `json:"email,omitempty"`
	Slack      string `json:"slack,omitempty"`
}

// ComplaintTag is the incident a complaint is about, and why.
type ComplaintTag struct {
	IncidentID string  `json:"incident_id"`
	Confidence float64 `json:"confidence"`
	Reason     string  `json:"reason"`
	By         string  `json:"by"`
	At         Time    `json:"at"`
}

// Complaint is one ticket.
type Complaint struct {
	ID             string           `json:"id"`
	PageID         string           `json:"page_id"`
	Ref            string           `json:"ref"`
	Channel        string           `json:"channel"`
	Contact        ComplaintContact `json:"contact"`
	Category       string           `json:"category"`
	Ask            string           `json:"ask"`
	Severity       string           `json:"severity"`
	Language       string           `json:"language"`
	Subject        string           `json:"subject,omitempty"`
	Text           string           `json:"text"`
	Promise        string           `json:"promise"`
	State          string           `json:"state"`
	Owner          string           `json:"owner"`
	Tag            *ComplaintTag    `json:"tag"`
	Suggestion     *ComplaintTag    `json:"suggestion"`
	Components     []string         `json:"components"`
	Repeat         bool             `json:"repeat"`
	RepeatOf       []string         `json:"repeat_of"`
	HoldOpen       bool             `json:"hold_open"`
	FirstAnswerDue Time             `json:"first_answer_due"`
	ResolveDue     Time             `json:"resolve_due"`
	// DueAt is when the complaint's promise breaks unless kept (the
	// first answer's due time until one is given, if sooner); AtRisk
	// says it is open and due within 30 minutes (complaint.AtRisk), set
	// in the API's answers.
	DueAt         Time   `json:"due_at"`
	AtRisk        *bool  `json:"at_risk,omitempty"`
	Warned        bool   `json:"warned"`
	Escalated     bool   `json:"escalated"`
	AckedAt       Time   `json:"acked_at"`
	FirstAnswerAt Time   `json:"first_answer_at"`
	ResolvedAt    Time   `json:"resolved_at"`
	ClosedAt      Time   `json:"closed_at"`
	Remedy        string `json:"remedy"`
	Outcome       string `json:"outcome"`
	Messages      int    `json:"messages"`
	LastMessageAt Time   `json:"last_message_at"`
	CreatedAt     Time   `json:"created_at"`
	UpdatedAt     Time   `json:"updated_at"`
	// Timeline is every message, note and change, oldest first: on GET of
	// one complaint only.
	Timeline []ComplaintEntry `json:"timeline,omitempty"`
}

// ComplaintEntry is one line of a complaint's timeline.
type ComplaintEntry struct {
	ID      string `json:"id"`
	Kind    string `json:"kind"`
	Actor   string `json:"actor"`
	Channel string `json:"channel,omitempty"`
	Text    string `json:"text"`
	At      Time   `json:"at"`
}

func complaintTag(t *complaint.Tag) *ComplaintTag {
	if t == nil {
		return nil
	}
	return &ComplaintTag{IncidentID: t.IncidentID, Confidence: t.Confidence, Reason: t.Reason, By: t.By, At: wireUTC(t.At)}
}

func wireUTC(t time.Time) Time { return UTC.At(t) }

// NewComplaint is c on the wire, with its timeline when entries is not nil.
func NewComplaint(c *complaint.Complaint, entries []*complaint.Entry) Complaint {
	out := Complaint{ID: c.ID, PageID: c.PageID, Ref: c.Ref, Channel: string(c.Channel),
		Contact:  ComplaintContact{CustomerID: c.Contact.CustomerID, Name: c.Contact.Name, Phone: c.Contact.Phone, Email: c.Contact.Email, Slack: c.Contact.Slack},
		Category: string(c.Category), Ask: string(c.Ask), Severity: string(c.Severity), Language: c.Language, Subject: c.Subject,
		Text: c.Text, Promise: c.Promise, State: string(c.State), Owner: c.Owner, Tag: complaintTag(c.Tag), Suggestion: complaintTag(c.Suggestion),
		Components: c.Components, Repeat: c.Repeat, RepeatOf: c.RepeatOf, HoldOpen: c.HoldOpen,
		FirstAnswerDue: wireUTC(c.FirstAnswerDue), ResolveDue: wireUTC(c.ResolveDue), DueAt: wireUTC(c.DueAt()), Warned: c.Warned, Escalated: c.Escalated,
		AckedAt: UTC.AtPtr(c.AckedAt), FirstAnswerAt: UTC.AtPtr(c.FirstAnswerAt), ResolvedAt: UTC.AtPtr(c.ResolvedAt),
		ClosedAt: UTC.AtPtr(c.ClosedAt), Remedy: string(c.Remedy), Outcome: c.Outcome, Messages: c.Messages,
		LastMessageAt: wireUTC(c.LastMessageAt), CreatedAt: wireUTC(c.CreatedAt), UpdatedAt: wireUTC(c.UpdatedAt)}
	if out.Components == nil {
		out.Components = []string{}
	}
	if out.RepeatOf == nil {
		out.RepeatOf = []string{}
	}
	for _, e := range entries {
		out.Timeline = append(out.Timeline, ComplaintEntry{ID: e.ID, Kind: string(e.Kind), Actor: e.Actor, Channel: string(e.Channel), Text: e.Text, At: wireUTC(e.At)})
	}
	if entries != nil && out.Timeline == nil {
		out.Timeline = []ComplaintEntry{}
	}
	return out
}

// ComplaintRecord is the body of POST …/complaints: a complaint recorded
// by the standard scheme (an agent's phone call, or an API intake).
type ComplaintRecord struct {
	Channel    string           `json:"channel"` // phone, api, email, sms, web or slack
	Contact    ComplaintContact `json:"contact"`
	Category   string           `json:"category,omitempty"`
	Subject    string           `json:"subject,omitempty"`
	Text       string           `json:"text"` // what the customer says, in their words
	Ask        string           `json:"ask,omitempty"`
	Severity   string           `json:"severity,omitempty"`
	Promise    string           `json:"promise,omitempty"` // what the agent promised
	Language   string           `json:"language,omitempty"`
	Components []string         `json:"components,omitempty"`
	IncidentID string           `json:"incident_id,omitempty"`
	Owner      string           `json:"owner,omitempty"`
	// At is when the customer called or wrote, RFC 3339 (ParseTime);
	// absent, "" or Go's zero time: now.
	At *string `json:"at,omitzero"`
}

// ComplaintEdit is the body of PATCH …/complaints/{id}: the recorded
// fields to correct; absent fields stay.
type ComplaintEdit struct {
	Category   *string   `json:"category,omitempty"`
	Ask        *string   `json:"ask,omitempty"`
	Severity   *string   `json:"severity,omitempty"`
	Promise    *string   `json:"promise,omitempty"`
	Components *[]string `json:"components,omitempty"`
	HoldOpen   *bool     `json:"hold_open,omitempty"`
}

// ComplaintAssign is the body of POST …/complaints/{id}/assign; "" leaves
// it unassigned. From, when given, is the owner the caller saw ("":
// nobody): the complaint changes hands only while it is still theirs, so
// of two agents taking it at once one gets it and the other a 409 that
// names who has it.
type ComplaintAssign struct {
	Owner *string `json:"owner"`
	From  *string `json:"from,omitempty"`
}

// ComplaintTagRequest is the body of POST …/complaints/{id}/tag: an
// incident ID, or null to untag.
type ComplaintTagRequest struct {
	IncidentID *string `json:"incident_id"`
}

// ComplaintText is the body of …/notes and …/reply.
type ComplaintText struct {
	Text string `json:"text"`
}

// ComplaintState is the body of …/state.
type ComplaintState struct {
	State string `json:"state"`
}

// ComplaintResolve is the body of …/resolve.
type ComplaintResolve struct {
	Remedy  string `json:"remedy"`
	Outcome string `json:"outcome"`
}

// Percentiles are p50 and p90 of a duration in seconds, over N
// complaints; null when N is 0 (nothing measured, not zero seconds).
type Percentiles struct {
	N   int      `json:"n"`
	P50 *float64 `json:"p50_seconds"`
	P90 *float64 `json:"p90_seconds"`
}

// ComplaintStats is GET …/complaints/stats: the figures of a complaint
// evaluation over the complaints created in [from, to), and the open
// backlog as it stands.
type ComplaintStats struct {
	PageID          string         `json:"page_id"`
	From            Time           `json:"from"`
	To              Time           `json:"to"`
	Total           int            `json:"total"`
	ByChannel       map[string]int `json:"by_channel"`
	ByCategory      map[string]int `json:"by_category"`
	ByIncident      map[string]int `json:"by_incident"`
	ByState         map[string]int `json:"by_state"`
	Tagged          int            `json:"tagged"`
	Untagged        int            `json:"untagged"`
	Repeats         int            `json:"repeats"`
	RepeatRate      *float64       `json:"repeat_rate"` // repeats / total; null with no complaint
	Remedies        map[string]int `json:"remedies"`
	Acknowledgement Percentiles    `json:"acknowledgement"`
	FirstAnswer     Percentiles    `json:"first_answer"`
	Resolution      Percentiles    `json:"resolution"`
	SLAKept         *float64       `json:"sla_kept"` // of SLAJudged; null while none has come due
	SLAJudged       int            `json:"sla_judged"`
	Backlog         map[string]int `json:"backlog"`
	// FollowUps are the survey's win-back tasks, outside the figures above.
	FollowUps           int            `json:"follow_ups"`
	FollowUpsByIncident map[string]int `json:"follow_ups_by_incident"`
}

func percentiles(p complaint.Percentiles) Percentiles {
	if p.N == 0 {
		return Percentiles{}
	}
	p50, p90 := p.P50.Seconds(), p.P90.Seconds()
	return Percentiles{N: p.N, P50: &p50, P90: &p90}
}

// share is v when there was something to divide by (of > 0), else nil.
func share(v float64, of int) *float64 {
	if of == 0 {
		return nil
	}
	return &v
}

func counts[K ~string](m map[K]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[string(k)] = v
	}
	return out
}

// NewComplaintStats is st on the wire.
func NewComplaintStats(st *complaint.Stats) ComplaintStats {
	return ComplaintStats{PageID: st.PageID, From: wireUTC(st.From), To: wireUTC(st.To), Total: st.Total,
		ByChannel: counts(st.ByChannel), ByCategory: counts(st.ByCategory), ByIncident: st.ByIncident, ByState: counts(st.ByState),
		Tagged: st.Tagged, Untagged: st.Untagged, Repeats: st.Repeats, RepeatRate: share(st.RepeatRate, st.Total), Remedies: counts(st.Remedies),
		Acknowledgement: percentiles(st.Acknowledgement), FirstAnswer: percentiles(st.FirstAnswer), Resolution: percentiles(st.Resolution),
		SLAKept: share(st.SLAKept, st.SLAJudged), SLAJudged: st.SLAJudged, Backlog: st.Backlog, FollowUps: st.FollowUps, FollowUpsByIncident: st.FollowUpsByIncident}
}
