// Package channel names the ways herald reaches a person: SMS, email,
// Slack and webhooks. It is a data-only package (standard library only),
// shared by the audience, the queue, the engines and the pipeline, so that
// none of them has to import another to agree on a channel's name.
package channel

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
