// Package queue holds what herald's fan-out stores while it works: the
// plan that expands a broadcast into deliveries, the deliveries themselves
// (one message to one address on one channel about one update), their
// progress counters, and provider receipts that arrive early. It is data
// only (types and the Store interface the engines implement; standard
// library and the other data packages only); the pipeline that fills and
// drains the queue is notify. See package audience for the pattern.
package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
)

// MessageKind names what a message says, whatever the channel.
type MessageKind string

// Message kinds. Each has a template per channel (sms, email, slack) and
// language; the webhook payload is the same JSON for all of them.
const (
	KindAck                  MessageKind = "ack" // an incident was declared
	KindUpdate               MessageKind = "update"
	KindResolved             MessageKind = "resolved" // the apology
	KindMaintenanceScheduled MessageKind = "maintenance_scheduled"
	KindMaintenanceStarted   MessageKind = "maintenance_started"
	KindMaintenanceCompleted MessageKind = "maintenance_completed"
	KindComplaintAck         MessageKind = "complaint_ack"      // a complaint about a known incident: what we know, nothing to do
	KindComplaintReceived    MessageKind = "complaint_received" // a complaint in triage: received, its reference, by when they hear back
	KindComplaintAnswer      MessageKind = "complaint_answer"   // an agent's reply, or the outcome of a complaint an agent resolved
	KindComplaintResolved    MessageKind = "complaint_resolved" // the incident a complaint is about is resolved: what happened, the apology, its reference
	KindSurvey               MessageKind = "survey"             // the follow-up survey after resolution
	KindCompensation         MessageKind = "compensation"       // a compensation decision announced to the customers it gives something
	// KindSurveyAsk answers an email reply to the survey that held no
	// score: thanks, and the request for one (once per survey). It goes
	// by email only (render.EmailKinds).
	KindSurveyAsk MessageKind = "survey_ask"
	// KindSurveyThanks thanks a customer whose email reply to the survey
	// gave its score, once per survey (the web form thanks on its page,
	// an SMS answer in TwiML). It goes by email only (render.EmailKinds).
	KindSurveyThanks MessageKind = "survey_thanks"
	// KindCompensationAgents tells the agents' Slack channel an incident's
	// compensation decision. It is rendered from the decision, not from a
	// template, so it is not in render.MessageKinds.
	KindCompensationAgents MessageKind = "compensation_agents"
	// KindConfirm asks a new subscriber to confirm (double opt-in). It is
	// not about an incident, so it is not in render.MessageKinds: it has sms and
	// email templates only (render.ConfirmChannels) and renders through render.Renderer.RenderConfirm.
	KindConfirm MessageKind = "confirm"
	// KindSubscribed tells an active subscriber that asked to subscribe
	// again that it already is, with the link to unsubscribe: the sign-up
	// form answers the same for a known address as for a new one, so the
	// message is how the person learns. Like KindConfirm it has sms and
	// email templates only and renders through render.Renderer.RenderConfirm.
	KindSubscribed MessageKind = "subscribed"
)

// IsReply reports whether a message kind is a one-to-one reply to a
// person who has just written or signed up (a complaint's answers, a
// sign-up's confirmation or notice) rather than part of a broadcast. The
// stores keep replies in a lane of their own (Lane), so that a channel
// with a reply sender claims them apart from its broadcasts.
func (k MessageKind) IsReply() bool {
	switch k {
	case KindComplaintAck, KindComplaintReceived, KindComplaintAnswer, KindComplaintResolved, KindConfirm, KindSubscribed, KindSurveyAsk, KindSurveyThanks:
		return true
	}
	return false
}

// Lane selects which of a channel's due deliveries a claim takes: the
// stores keep replies (MessageKind.IsReply) apart from the rest, so a
// backlog of one never stands in the way of the other.
type Lane int

// Lanes.
const (
	// LaneAll takes every due delivery, oldest NextAt first across both
	// lanes.
	LaneAll Lane = iota
	// LaneBroadcast takes the deliveries that are not replies: a plan's,
	// and the other messages outside plans (surveys, compensation
	// notices to the agents).
	LaneBroadcast
	// LaneReplies takes the replies only.
	LaneReplies
)

// String names the lane.
func (l Lane) String() string {
	switch l {
	case LaneAll:
		return "all"
	case LaneBroadcast:
		return "broadcast"
	case LaneReplies:
		return "replies"
	}
	return "lane(" + strconv.Itoa(int(l)) + ")"
}

// Valid reports whether l is one of the lanes.
func (l Lane) Valid() bool { return l == LaneAll || l == LaneBroadcast || l == LaneReplies }

// DeliveryState is a delivery's place in its life.
type DeliveryState string

// Delivery states. pending and sending are open; the rest are final except
// sent, which a provider callback may still move to delivered or undelivered.
const (
	StatePending     DeliveryState = "pending"     // queued; due at NextAt (retry and quiet-hour deferrals too)
	StateSending     DeliveryState = "sending"     // claimed by a dispatcher under a lease
	StateSent        DeliveryState = "sent"        // the provider accepted it
	StateDelivered   DeliveryState = "delivered"   // the provider confirmed delivery
	StateUndelivered DeliveryState = "undelivered" // the provider reported it could not deliver
	StateFailed      DeliveryState = "failed"      // permanent error, or retries exhausted
	StateSuppressed  DeliveryState = "suppressed"  // not sent: opted out, unsubscribed, bounced before
	StateCancelled   DeliveryState = "cancelled"   // the broadcast was cancelled before it went
	StateCollapsed   DeliveryState = "collapsed"   // superseded by a newer message (frequency cap, or held back while a newer one went)
)

// DeliveryStates lists every state, in display order.
var DeliveryStates = []DeliveryState{StatePending, StateSending, StateSent, StateDelivered, StateUndelivered, StateFailed, StateSuppressed, StateCancelled, StateCollapsed}

// Timed reports whether the store counts when deliveries reach the
// state (Store.DeliveryTimes): the provider took it, or said what became
// of it, or it failed.
func (s DeliveryState) Timed() bool {
	return s == StateSent || s == StateDelivered || s == StateUndelivered || s == StateFailed
}

// TimeBucket is the width of Store.DeliveryTimes' buckets.
const TimeBucket = 10 * time.Second

// TimeCount is how many of a broadcast's deliveries on one channel reached
// a timed state within the TimeBucket starting At.
type TimeCount struct {
	Kind  channel.Kind  `json:"channel"`
	State DeliveryState `json:"state"`
	At    time.Time     `json:"at"`
	N     int           `json:"n"`
}

// Open reports whether the delivery may still be sent.
func (s DeliveryState) Open() bool { return s == StatePending || s == StateSending }

// RecipientType says where a delivery's recipient comes from.
type RecipientType string

// Recipient types.
const (
	FromCustomer   RecipientType = "customer"
	FromSubscriber RecipientType = "subscriber"
	FromContact    RecipientType = "contact" // someone who complained and is no imported customer
	ToAgents       RecipientType = "agents"  // herald's own support agents (their Slack channel)
)

// Delivery is one message to one address on one channel about one update.
// Its ID is derived from update × channel × address (DeliveryID), so
// planning the same broadcast twice, on any node, yields the same IDs and
// the store keeps one row: one message per recipient per update per channel.
type Delivery struct {
	ID            string        `json:"id"`
	PageID        string        `json:"page_id"`
	IncidentID    string        `json:"incident_id"`
	UpdateID      string        `json:"update_id"`
	BroadcastID   string        `json:"broadcast_id"`
	MessageKind   MessageKind   `json:"message_kind"`
	Kind          channel.Kind  `json:"channel"`
	Address       string        `json:"address"`
	RecipientType RecipientType `json:"recipient_type"`
	RecipientID   string        `json:"recipient_id"` // customer external id or subscriber id
	Name          string        `json:"name"`
	Language      string        `json:"language"`
	TimeZone      string        `json:"time_zone"`
	Critical      bool          `json:"critical"` // overrides quiet hours
	State         DeliveryState `json:"state"`
	Attempts      int           `json:"attempts"`
	NextAt        time.Time     `json:"next_at"`
	ProviderID    string        `json:"provider_id"`
	ErrorCode     string        `json:"error_code"`
	Reason        string        `json:"reason"` // why it failed, waits or was not sent; once sent, the provider's reply if it gave one
	CreatedAt     time.Time     `json:"created_at"`
	UpdatedAt     time.Time     `json:"updated_at"`
	SentAt        *time.Time    `json:"sent_at"`
	DeliveredAt   *time.Time    `json:"delivered_at"`
	// Vars carries what a message outside an incident needs (a
	// subscription's confirm link or code); nil for incident messages.
	Vars map[string]string `json:"vars,omitempty"`
	// Lease is the engine's opaque claim token (row lease, stream entry ID);
	// FinishDeliveries needs it back unchanged.
	Lease string `json:"-"`
	// Deferred tells FinishDeliveries that the claim was no attempt: the
	// dispatcher put the delivery back without offering it to the provider
	// (quiet hours, frequency cap, shutdown, a lease nearly spent waiting
	// for the rate limiter), so the attempt the claim counted is taken back.
	Deferred bool `json:"-"`
}

// DeliveryID returns the idempotency key of update × channel × address.
func DeliveryID(updateID string, kind channel.Kind, address string) string {
	sum := sha256.Sum256([]byte(updateID + "\x00" + string(kind) + "\x00" + address))
	return hex.EncodeToString(sum[:12])
}

// PendingReceipt is a provider's delivery receipt for a provider ID that no
// delivery carries yet: a fast provider (Twilio) can call back before the
// dispatcher has written the ID its send returned, and it does not call
// again. The store keeps it, on whichever node it arrived, until the
// dispatcher that sent the message takes it (TakeReceipts) after writing
// the ID, or until Expires.
type PendingReceipt struct {
	ProviderID string        `json:"provider_id"`
	State      DeliveryState `json:"state"`      // delivered, undelivered or failed
	Status     string        `json:"status"`     // the provider's own word ("read", "undelivered")
	ErrorCode  string        `json:"error_code"` // the provider's error code, if any
	At         time.Time     `json:"at"`         // when it arrived: applied, it is the delivery's UpdatedAt
	Expires    time.Time     `json:"expires"`
}

// PlanState is where planning a broadcast stands.
type PlanState string

// Plan states.
const (
	PlanPending   PlanState = "pending"   // not yet (fully) expanded
	PlanDone      PlanState = "done"      // every delivery is queued
	PlanCancelled PlanState = "cancelled" // a manager stopped it
)

// Plan is a broadcast (incident's outbox row) with its planning progress.
type Plan struct {
	Broadcast *incident.Broadcast `json:"broadcast"`
	State     PlanState           `json:"state"`
	// Cursor is where expansion stopped, opaque to the store; "" at the start.
	Cursor  string `json:"cursor"`
	Planned int    `json:"planned"` // deliveries written so far
	Lease   string `json:"-"`       // claim token for SavePlanBatch
}

// PlanBatch is one step of expanding a plan: new deliveries (already
// existing IDs are skipped) and the cursor after them, written together.
type PlanBatch struct {
	Plan       *Plan
	Deliveries []*Delivery
	Cursor     string
	Done       bool
}

// Progress counts a broadcast's deliveries per channel and state.
type Progress struct {
	BroadcastID string                                 `json:"broadcast_id"`
	IncidentID  string                                 `json:"incident_id"`
	Kind        incident.BroadcastKind                 `json:"kind"`
	State       PlanState                              `json:"state"`
	Planned     int                                    `json:"planned"`
	Counts      map[channel.Kind]map[DeliveryState]int `json:"counts"`
	Reasons     map[channel.Kind]map[string]int        `json:"reasons"` // suppressed/failed reasons → count
	CreatedAt   time.Time                              `json:"created_at"`
	UpdatedAt   time.Time                              `json:"updated_at"`
	// Held is set on a broadcast event stream's "held" event only
	// (notify.Service.Held); the stores never fill it.
	Held *Held `json:"held,omitempty"`
}

// Held says that a broadcast's remaining messages wait on purpose: every
// pending one is deferred to later (quiet hours in the recipient's time
// zone, the frequency cap, a provider's retry), so nothing more goes out
// before Until. A watcher can stop there and say so.
type Held struct {
	Pending int       `json:"pending"` // the broadcast's pending messages
	Until   time.Time `json:"until"`   // when the first of them is due
	Reasons []string  `json:"reasons"` // why they wait, sorted
}

// Finished reports whether the broadcast has nothing left to do: planning
// ended (done or cancelled) and no delivery is pending or being sent.
func (p *Progress) Finished() bool {
	if p.State == PlanPending {
		return false
	}
	for _, byState := range p.Counts {
		if byState[StatePending] > 0 || byState[StateSending] > 0 {
			return false
		}
	}
	return true
}

// Phase is what the broadcast is doing, as people read it: "pending"
// while its audience is being planned, "sending" while any of its
// messages is open, then "done"; or "cancelled". The plan's State alone
// says "done" once every message is queued, long before they are sent.
func (p *Progress) Phase() string {
	if p.State == PlanDone && !p.Finished() {
		return "sending"
	}
	return string(p.State)
}

// MarshalJSON writes the progress with its Phase beside the plan's State,
// as "phase": an API client reading "state": "done" alone took a broadcast
// whose messages were still going out for finished.
func (p Progress) MarshalJSON() ([]byte, error) {
	type plain Progress // without this method
	return json.Marshal(struct {
		plain
		Phase string `json:"phase"`
	}{plain(p), p.Phase()})
}

// DeliveryFilter selects deliveries, newest first.
type DeliveryFilter struct {
	PageID      string
	BroadcastID string
	IncidentID  string
	RecipientID string // customer or subscriber id
	Kind        channel.Kind
	Address     string
	States      []DeliveryState // any of
	Since       time.Time       // CreatedAt ≥ Since; zero: any time
	Limit       int             // ≤ 0: no limit
}

// Store is the fan-out's queue: plans claimed and expanded under a lease,
// deliveries claimed, finished and updated by receipts, and the receipts
// kept for messages not yet recorded. It is implemented by store/sqlite and
// store/redis and held to one conformance suite (store/storetest). Reads
// return incident.ENOTFOUND errors for missing objects.
type Store interface {
	// ClaimPlan leases one plan in PlanPending whose lease is free or
	// expired (now ≥ its end), for lease; nil when there is none. Plans
	// appear, pending, when incident.Store commits a Broadcast (in the same
	// transaction).
	ClaimPlan(ctx context.Context, now time.Time, lease time.Duration) (*Plan, error)
	// SavePlanBatch writes the batch's new deliveries (skipping IDs that
	// exist), queues them, advances the cursor and renews the lease, in one
	// transaction; ECONFLICT when the lease was lost (b.Plan.Lease is no
	// longer the plan's) or the plan is no longer pending (cancelled, done),
	// and nothing is written then. The lease token stays the same; its end
	// moves to now+lease. Done marks the plan done. A delivery's BroadcastID
	// must be the plan's ("" is filled in), else EINVALID. It returns how
	// many deliveries were new.
	SavePlanBatch(ctx context.Context, b *PlanBatch, now time.Time, lease time.Duration) (int, error)
	// FindPlan returns a broadcast's plan.
	FindPlan(ctx context.Context, broadcastID string) (*Plan, error)
	// CancelPlan stops planning and cancels its pending deliveries (those
	// being sent finish as they will); ENOTFOUND for an unknown broadcast.
	// Cancelling again is no error.
	CancelPlan(ctx context.Context, broadcastID string, now time.Time) error
	// Progress counts a broadcast's deliveries; cheap enough to poll (the
	// engines keep counters, never scan deliveries). Counts and Reasons hold
	// non-zero entries only; Reasons counts suppressed and failed deliveries
	// by Reason. CreatedAt is the broadcast's. ENOTFOUND for an unknown one.
	Progress(ctx context.Context, broadcastID string) (*Progress, error)
	// DeliveryTimes returns how many of a broadcast's deliveries reached
	// each timed state (DeliveryState.Timed) per channel and TimeBucket,
	// by when FinishDeliveries or SetDeliveryStatus moved them there (the
	// delivery's UpdatedAt), sorted by At, channel and state; non-zero
	// counts only. Like Progress it reads counters the engine keeps in
	// the writes that move deliveries, never the deliveries. An unknown
	// broadcast has none (no error).
	DeliveryTimes(ctx context.Context, broadcastID string) ([]TimeCount, error)
	// FindPlans lists an incident's plans, oldest first.
	FindPlans(ctx context.Context, incidentID string) ([]*Plan, error)

	// ClaimDeliveries leases up to n deliveries of kind in lane that are
	// pending and due at now, or sending with an expired lease (a node
	// died), moving them to sending and counting an attempt, oldest NextAt
	// first. Each delivery is claimed by
	// one caller only; its lease ends at now+lease. Each returned delivery
	// carries its Lease. A delivery's lane is fixed when it is stored, by
	// its MessageKind, and a retry, a deferral or an expired lease brings
	// it back in the same lane; a plan's deliveries are never replies. A
	// lane's claim must not cost more for the other lane's backlog. An
	// invalid lane is EINVALID.
	ClaimDeliveries(ctx context.Context, kind channel.Kind, lane Lane, now time.Time, lease time.Duration, n int) ([]*Delivery, error)
	// FinishDeliveries records outcomes of claimed deliveries: a final
	// state, or pending with a later NextAt (retry, deferral). A delivery
	// whose lease was lost (claimed again by someone else) or that is no
	// longer sending is skipped, without an error. It stores State, NextAt,
	// ProviderID, ErrorCode, Reason, SentAt, DeliveredAt and UpdatedAt (zero:
	// the store's clock); Attempts is the store's own count, which the
	// claim raised and which a Deferred delivery gets back down by one (never
	// below zero), so deferrals, however many, never exhaust MaxAttempts.
	FinishDeliveries(ctx context.Context, ds []*Delivery) error
	// EnqueueDeliveries queues deliveries outside any plan (subscription
	// confirmations, complaint answers), skipping IDs that exist; it
	// returns how many were new.
	EnqueueDeliveries(ctx context.Context, ds []*Delivery) (int, error)
	FindDeliveryByID(ctx context.Context, id string) (*Delivery, error)
	// FindDeliveryByProviderID returns the delivery a provider knows by
	// providerID (ENOTFOUND for an unknown or empty one).
	FindDeliveryByProviderID(ctx context.Context, providerID string) (*Delivery, error)
	// SetDeliveryStatus applies a provider receipt (delivered, undelivered,
	// failed) to a sent delivery; it never moves a delivery backwards: a
	// delivery in any state but sent is left as it is (duplicate and late
	// receipts are no-ops, not errors; so is state sent). errorCode becomes
	// ErrorCode, and for undelivered and failed a non-empty providerStatus
	// becomes Reason; at is UpdatedAt (and DeliveredAt). ENOTFOUND for an
	// unknown id, EINVALID for any other state.
	SetDeliveryStatus(ctx context.Context, id string, state DeliveryState, providerStatus, errorCode string, at time.Time) error
	// FindDeliveries returns deliveries matching f, newest first.
	FindDeliveries(ctx context.Context, f DeliveryFilter) ([]*Delivery, error)
	// KeepReceipt keeps a receipt for a provider ID no delivery has yet,
	// until r.Expires (judged by now, the caller's clock; an expired one is
	// not kept). A provider ID keeps its first receipt: a later one is
	// dropped without an error, as a sent delivery takes only its first
	// final receipt. EINVALID for an empty provider ID or a state other than
	// delivered, undelivered or failed.
	KeepReceipt(ctx context.Context, r PendingReceipt, now time.Time) error
	// TakeReceipts removes and returns the receipts kept for any of
	// providerIDs, in no particular order, leaving out (and dropping) those
	// expired at now. A kept receipt is taken once, by one caller. The
	// dispatcher asks after every finished batch, so asking about IDs that
	// have none must be cheap (no write).
	TakeReceipts(ctx context.Context, providerIDs []string, now time.Time) ([]PendingReceipt, error)
	// FindUnconfirmed returns up to limit SMS deliveries still in
	// StateSent (no final receipt) that are due a look at the provider's
	// record: sent, or last rechecked for, at or before before; the
	// longest waiting first. Only SMS: the other channels have no receipts.
	FindUnconfirmed(ctx context.Context, before time.Time, limit int) ([]*Delivery, error)
	// RecheckUnconfirmed makes the given sent SMS deliveries due again at
	// at, or never (zero at); deliveries no longer sent are left alone.
	RecheckUnconfirmed(ctx context.Context, ids []string, at time.Time) error
}

// Secrets keeps the keys every node signs links with.
type Secrets interface {
	// Secret returns the named secret, creating it from gen the first time,
	// atomically, so every node signs links with the same key.
	Secret(ctx context.Context, name string, gen func() []byte) ([]byte, error)
}

// AutoReplies counts the automatic answers herald sends to one address
// (a complaint's acknowledgement or receipt, the reply to a survey reply)
// in a rolling window, so that no sender, forged or a robot that escapes
// the loop checks, gets more than a few: RFC 3834's "rate-limit per
// sender". The count is the store's, shared by every node and kept
// across restarts.
type AutoReplies interface {
	// TakeAutoReply records the automatic answer id to key (a channel and
	// an address) at now, unless key has max or more answers recorded
	// after now-window: then it returns false and records nothing. An id
	// already recorded within the window returns true again and records
	// nothing more (the same answer asked for again: a retry, another
	// node). Answers older than the window are forgotten. EINVALID for
	// an empty key or id, max < 1 or a window under 1ms.
	TakeAutoReply(ctx context.Context, key, id string, now time.Time, window time.Duration, max int) (bool, error)
}

// CheckAutoReply validates TakeAutoReply's arguments, for the engines.
func CheckAutoReply(key, id string, window time.Duration, max int) error {
	switch {
	case key == "":
		return incident.Invalid("key", "an automatic answer is counted by its address")
	case id == "":
		return incident.Invalid("id", "an automatic answer needs its ID")
	case max < 1:
		return incident.Invalid("max", "must be at least 1, got %d", max)
	case window < time.Millisecond:
		return incident.Invalid("window", "must be at least 1ms, got %s", window)
	}
	return nil
}
