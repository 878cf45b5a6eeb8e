// Package channel holds what the pipeline and the providers agree on: the
// ways herald reaches a person (SMS, email, Slack, webhooks), the rendered
// Message a provider sends, the Receipt it answers with, and SendError, its
// refusal classified as permanent or transient. It is data only (standard
// library only): the audience, the queue, the engines, the renderer and the
// providers share it without importing the pipeline (notify), which defines
// the Channel interface the providers implement.
package channel

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Kind names a channel.
type Kind string

// Channel kinds.
const (
	SMS     Kind = "sms"
	Email   Kind = "email"
	Slack   Kind = "slack"
	Webhook Kind = "webhook"
)

// Kinds lists every channel, in display order.
var Kinds = []Kind{SMS, Email, Slack, Webhook}

// Message is one rendered message for one recipient on one channel.
type Message struct {
	DeliveryID     string // idempotency key of the delivery; providers may pass it on (webhook header, email Message-ID)
	Kind           Kind
	To             string            // E.164 number, email address, Slack channel/member ID or incoming-webhook URL, webhook URL
	Subject        string            // email
	Text           string            // SMS body, email text part, Slack fallback text
	HTML           string            // email HTML part
	Blocks         []byte            // Slack Block Kit JSON array
	Payload        []byte            // webhook JSON body
	Headers        map[string]string // extra headers (List-Unsubscribe, …)
	UnsubscribeURL string
	Language       string
	// SenderName is who the message is from as the reader sees it: the
	// status page's name. Email puts it in From beside the configured
	// address; "" keeps the configured name.
	SenderName string
	// AutoReply marks an automatic answer to a message a person sent (a
	// complaint's acknowledgement, a survey reply's thanks): RFC 3834.
	// Email says so (Auto-Submitted: auto-replied) and goes with the
	// null envelope sender, MAIL FROM:<>, so that no bounce or
	// auto-responder answers it back.
	AutoReply bool
	// Replace is the provider ID (a Slack ts) of a message this one edits
	// in place (chat.update) rather than posting anew; "" posts. Only
	// Slack channel and member IDs can be edited.
	Replace string
	// ThreadTS is the provider ID (a Slack ts) of a message this one
	// replies to in its thread; "" posts at the top level.
	ThreadTS string
	// Metadata is carried by a Slack message posted or edited with the
	// Web API (message metadata), so that the message can be found again
	// in the channel's history; nil carries none, and an edit without it
	// leaves the message's metadata as it was.
	Metadata *Metadata
}

// Metadata is a Slack message's metadata: an event type (like
// "herald_incident") and its payload.
type Metadata struct {
	Type    string
	Payload map[string]string
}

// Matches reports whether m has want's type and, for every key of want's
// payload, the same value (m may carry more).
func (m Metadata) Matches(want Metadata) bool {
	if m.Type != want.Type {
		return false
	}
	for k, v := range want.Payload {
		if got, ok := m.Payload[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Receipt is what a provider said when it accepted a message.
type Receipt struct {
	ProviderID string // Twilio SID, SMTP queue ID or Message-ID, Slack ts
	Status     string // provider's status word: queued, accepted, sent, ...
	// Reply is the provider's answer when it says more than the ID (an
	// SMTP relay's "250 2.0.0 Ok: queued as 4FxY2"); the delivery keeps it
	// as its reason.
	Reply string
}

// Describer is a provider (a notify.Channel) that can say in words what one of its provider's
// error codes means; a delivery receipt that carries a code (a Twilio
// status callback's 30003) keeps that as its reason.
type Describer interface {
	Describe(code string) string // "" for a code it does not know
}

// StatusFetcher is a provider (a notify.Channel) that can look up what it
// knows of a message it accepted, by its provider ID: how notify
// reconciles a delivery whose receipt never came (a status callback lost
// while the store was down, or never sent). status is the provider's word
// ("delivered", "undelivered", "sent", …), errorCode its code when it has
// one. A message the provider does not know is an error.
type StatusFetcher interface {
	FetchStatus(ctx context.Context, providerID string) (status, errorCode string, err error)
}

// SendError is a provider's refusal, classified.
type SendError struct {
	Permanent  bool          // retrying cannot help (invalid number, unsubscribed, too long, 5xx SMTP)
	Code       string        // provider's code: "21211", "550 5.1.1", "channel_not_found", "HTTP 410"
	Reason     string        // provider's message, for the delivery record
	RetryAfter time.Duration // provider asked to wait this long (429 Retry-After)
}

func (e *SendError) Error() string {
	kind := "transient"
	if e.Permanent {
		kind = "permanent"
	}
	return fmt.Sprintf("%s provider error %s: %s", kind, e.Code, e.Reason)
}

// IsPermanent reports whether err says retrying cannot help.
func IsPermanent(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Permanent
}

// RetryAfter returns how long the provider asked to wait, or 0.
func RetryAfter(err error) time.Duration {
	var se *SendError
	if errors.As(err, &se) {
		return se.RetryAfter
	}
	return 0
}
