package console

import (
	"regexp"
	"strings"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/queue"
)

// outcome is what became of a message herald sent, beside its state, as
// an agent reads it in a customer's history: Note in the agent's words
// (or the delivery's reason as recorded, when herald has no words for
// it), and Detail, the provider's own answer ("250 2.0.0 Ok: queued as
// 4F3…", "550 5.1.1 …"), which is for whoever has to look into it, not
// what the agent tells the customer. Bad marks a refusal.
type outcome struct {
	Note, Detail string
	Bad          bool
}

var (
	// smtpReply opens an SMTP server's reply: "250 2.0.0 OK: queued".
	smtpReply = regexp.MustCompile(`^[245][0-9][0-9]([ -]|$)`)
	// smtpCode is the code a refused email's delivery keeps: "550 5.1.1".
	smtpCode = regexp.MustCompile(`^([45])[0-9][0-9]( ([245])\.([0-9]{1,3})\.([0-9]{1,3}))?$`)
)

// Outcome says what became of d. Emails are said in words from the mail
// server's reply code; the other channels' reasons are shown as recorded.
func (v *view) Outcome(d *queue.Delivery) outcome {
	raw := outcome{Note: d.Reason}
	if d.Kind != channel.Email || d.Reason == "" && d.ErrorCode == "" {
		return raw
	}
	said := func(key string, bad bool) outcome { return outcome{Note: v.T(key), Detail: d.Reason, Bad: bad} }
	switch {
	case d.State == queue.StateSent || d.State == queue.StateDelivered:
		if smtpReply.MatchString(d.Reason) && d.Reason[0] == '2' {
			return said("ConsoleMailAccepted", false)
		}
		return raw
	case d.ErrorCode == "invalid_address":
		return outcome{Note: v.T("ConsoleMailRefusedWhy", "Why", v.T("ConsoleMailBadAddress")), Detail: d.Reason, Bad: true}
	case d.ErrorCode == "transient" || d.ErrorCode == "timeout" || d.ErrorCode == "smtp":
		// No reply: the connection, TLS or the wait went wrong.
		return said("ConsoleMailUnreachable", d.State == queue.StateFailed)
	}
	m := smtpCode.FindStringSubmatch(d.ErrorCode)
	if m == nil {
		return raw
	}
	if m[1] == "4" {
		return said("ConsoleMailLater", d.State == queue.StateFailed)
	}
	if why := mailWhy(m[4], m[5]); why != "" {
		return outcome{Note: v.T("ConsoleMailRefusedWhy", "Why", v.T(why)), Detail: d.Reason, Bad: true}
	}
	return said("ConsoleMailRefused", true)
}

// mailWhy is the catalogue key that says why a mail server refused a
// message, from its enhanced status code's subject and detail (RFC
// 3463: 5.1.1 is "bad destination mailbox address"); "" when the code
// names nothing an agent can act on.
func mailWhy(subject, detail string) string {
	switch subject + "." + strings.TrimLeft(detail, "0") {
	case "1.1":
		return "ConsoleMailNoMailbox"
	case "1.2", "1.10":
		return "ConsoleMailNoDomain"
	case "1.3":
		return "ConsoleMailBadAddress"
	case "2.2":
		return "ConsoleMailFull"
	case "2.3", "3.4":
		return "ConsoleMailTooBig"
	}
	if subject == "7" {
		return "ConsoleMailBlocked"
	}
	return ""
}
