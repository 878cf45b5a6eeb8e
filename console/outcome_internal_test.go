package console

import (
	"testing"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/locale"
	"github.com/heraldhq/herald/queue"
)

// TestOutcome: what an agent reads of an email's fate, from the mail
// server's reply code, with the reply itself kept as the detail; other
// channels' reasons, and reasons that are no mail server's reply, as
// recorded.
func TestOutcome(t *testing.T) {
	cat, err := locale.Default()
	if err != nil {
		t.Fatal(err)
	}
	v := &view{Lang: "en", words: cat.Lang("en")}
	for _, tc := range []struct {
		name        string
		d           queue.Delivery
		note        string
		detail, bad bool
	}{
		{"accepted", queue.Delivery{Kind: channel.Email, State: queue.StateSent, Reason: "250 2.0.0 Ok: queued as 4F3xY"}, "accepted by the mail server for delivery", true, false},
		{"no such mailbox", queue.Delivery{Kind: channel.Email, State: queue.StateFailed, ErrorCode: "550 5.1.1", Reason: "550 5.1.1 <a@b>: Recipient address rejected"},
			"refused by the mail server: the address does not exist", true, true},
		{"mailbox full", queue.Delivery{Kind: channel.Email, State: queue.StateFailed, ErrorCode: "552 5.2.2", Reason: "552 5.2.2 Mailbox full"}, "refused by the mail server: the mailbox is full", true, true},
		{"spam", queue.Delivery{Kind: channel.Email, State: queue.StateFailed, ErrorCode: "554 5.7.1", Reason: "554 5.7.1 Spam"}, "refused by the mail server: the receiving server's rules blocked it (spam filter or policy)", true, true},
		{"no enhanced code", queue.Delivery{Kind: channel.Email, State: queue.StateFailed, ErrorCode: "554", Reason: "554 Transaction failed"}, "refused by the mail server", true, true},
		{"try later", queue.Delivery{Kind: channel.Email, State: queue.StatePending, ErrorCode: "451 4.3.0", Reason: "451 4.3.0 Try again"}, "the mail server asked herald to try again later", true, false},
		{"bad address", queue.Delivery{Kind: channel.Email, State: queue.StateFailed, ErrorCode: "invalid_address", Reason: `recipient "x": missing @`}, "refused by the mail server: the address is not valid", true, true},
		{"unreachable", queue.Delivery{Kind: channel.Email, State: queue.StatePending, ErrorCode: "transient", Reason: "smtp: dial tcp 10.0.0.1:25: connection refused"}, "herald could not reach the mail server", true, false},
		{"quiet hours", queue.Delivery{Kind: channel.Email, State: queue.StatePending, Reason: "quiet hours"}, "quiet hours", false, false},
		{"sms", queue.Delivery{Kind: channel.SMS, State: queue.StateFailed, ErrorCode: "21211", Reason: "Invalid 'To' Phone Number"}, "Invalid 'To' Phone Number", false, false},
		{"nothing", queue.Delivery{Kind: channel.Email, State: queue.StateSent}, "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := v.Outcome(&tc.d)
			detail := ""
			if tc.detail {
				detail = tc.d.Reason
			}
			if o.Note != tc.note || o.Detail != detail || o.Bad != tc.bad {
				t.Errorf("%+v, want note %q, detail %q, bad %v", o, tc.note, detail, tc.bad)
			}
		})
	}
}
