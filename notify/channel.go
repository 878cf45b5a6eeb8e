// Package notify is herald's fan-out: recipients × channels → deliveries,
// templates and languages, suppression, quiet hours, frequency caps, rate
// limits, retries, idempotency and delivery status. Providers implement
// Channel in their own packages (notify/twilio, notify/smtp, notify/slack,
// notify/webhook).
package notify

import (
	"context"

	"github.com/heraldhq/herald/channel"
)

// Channel sends messages of one kind through one provider.
type Channel interface {
	Kind() channel.Kind
	// Send delivers m. A returned error is a *channel.SendError when the provider
	// answered; any other error (timeout, connection refused) is transient.
	Send(ctx context.Context, m *channel.Message) (channel.Receipt, error)
}
