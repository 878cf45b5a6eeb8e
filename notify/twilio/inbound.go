package twilio

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	twclient "github.com/twilio/twilio-go/client"
	"github.com/twilio/twilio-go/twiml"
)

// HeaderSignature is the header carrying Twilio's webhook signature.
const HeaderSignature = "X-Twilio-Signature"

// InboundSMS is a message a customer sent to one of herald's numbers.
type InboundSMS struct {
	MessageSid          string
	AccountSid          string
	MessagingServiceSid string
	From                string // the customer, E.164
	To                  string // herald's number
	Body                string
	NumMedia            int
	MediaURLs           []string
	// OptOutType is STOP, START or HELP when Twilio matched an opt-out
	// keyword (Advanced Opt-Out); mirror STOP into herald's suppression list.
	OptOutType  string
	FromCountry string
}

// ParseInbound reads an inbound-SMS webhook form. Check VerifySignature
// first: the form is attacker-controlled until then. It wraps ErrInvalidForm
// when the fields every inbound message has are missing.
func ParseInbound(form url.Values) (InboundSMS, error) {
	in := InboundSMS{
		MessageSid:          first(form, "MessageSid", "SmsMessageSid", "SmsSid"),
		AccountSid:          form.Get("AccountSid"),
		MessagingServiceSid: form.Get("MessagingServiceSid"),
		From:                form.Get("From"),
		To:                  form.Get("To"),
		Body:                form.Get("Body"),
		OptOutType:          strings.ToUpper(form.Get("OptOutType")),
		FromCountry:         form.Get("FromCountry"),
	}
	if in.MessageSid == "" || in.From == "" {
		return InboundSMS{}, fmt.Errorf("%w: MessageSid and From are required", ErrInvalidForm)
	}
	if n := form.Get("NumMedia"); n != "" {
		num, err := strconv.Atoi(n)
		if err != nil || num < 0 || num > 10 {
			return InboundSMS{}, fmt.Errorf("%w: NumMedia %q", ErrInvalidForm, n)
		}
		in.NumMedia = num
		for i := 0; i < num; i++ {
			if u := form.Get("MediaUrl" + strconv.Itoa(i)); u != "" {
				in.MediaURLs = append(in.MediaURLs, u)
			}
		}
	}
	return in, nil
}

// StatusCallback is one delivery-status report for a message herald sent.
// Expect duplicates and reordering; apply only forward moves (StatusRank).
type StatusCallback struct {
	MessageSid          string
	AccountSid          string
	MessagingServiceSid string
	From                string
	To                  string
	Status              string // MessageStatus: queued, sent, delivered, undelivered, failed, …
	ErrorCode           string // set on failed/undelivered, e.g. "30003"
	RawDlrDoneDate      string // YYMMDDhhmm from the carrier, no time zone
}

// ParseStatusCallback reads a status-callback form. Check VerifySignature
// first. It wraps ErrInvalidForm when the SID or status is missing.
func ParseStatusCallback(form url.Values) (StatusCallback, error) {
	cb := StatusCallback{
		MessageSid:          first(form, "MessageSid", "SmsSid"),
		AccountSid:          form.Get("AccountSid"),
		MessagingServiceSid: form.Get("MessagingServiceSid"),
		From:                form.Get("From"),
		To:                  form.Get("To"),
		Status:              strings.ToLower(first(form, "MessageStatus", "SmsStatus")),
		ErrorCode:           form.Get("ErrorCode"),
		RawDlrDoneDate:      form.Get("RawDlrDoneDate"),
	}
	if cb.MessageSid == "" || cb.Status == "" {
		return StatusCallback{}, fmt.Errorf("%w: MessageSid and MessageStatus are required", ErrInvalidForm)
	}
	return cb, nil
}

// Permanent reports whether a failed/undelivered callback's ErrorCode is one
// retrying cannot fix (the same table Send uses).
func (cb StatusCallback) Permanent() bool {
	code, err := strconv.Atoi(cb.ErrorCode)
	return err == nil && permanentCodes[code] != ""
}

func first(form url.Values, keys ...string) string {
	for _, k := range keys {
		if v := form.Get(k); v != "" {
			return v
		}
	}
	return ""
}

// VerifySignature reports whether signature (the X-Twilio-Signature header)
// is Twilio's signature of fullURL and form under authToken. fullURL must be
// the exact public URL Twilio called, query string included (behind a proxy:
// the configured public base URL plus the request's original URI). All form
// fields must be passed, unfiltered: Twilio adds fields without notice.
func VerifySignature(authToken, fullURL string, form url.Values, signature string) bool {
	if authToken == "" || signature == "" {
		return false
	}
	params := make(map[string]string, len(form))
	for k, v := range form {
		if len(v) > 0 {
			params[k] = v[0] // Twilio signs only the first value of a repeated key
		}
	}
	rv := twclient.NewRequestValidator(authToken)
	return rv.Validate(fullURL, params, signature)
}

// statusRanks orders message statuses so that callers apply only forward
// transitions: callbacks arrive duplicated and out of order.
var statusRanks = map[string]int{
	"accepted":            1,
	"scheduled":           1,
	"queued":              2,
	"sending":             3,
	"sent":                4,
	"delivered":           5,
	"undelivered":         5,
	"failed":              5,
	"partially_delivered": 5,
	"canceled":            5,
	"read":                6, // after delivered, on channels that report it
}

// StatusRank returns the position of status s in a message's life:
// accepted/scheduled < queued < sending < sent < delivered | undelivered |
// failed (< read). Unknown statuses rank 0, so they never overwrite a known
// one. Apply a callback only when its rank is greater than the stored one;
// the terminal statuses share a rank, so the first terminal report wins.
func StatusRank(s string) int {
	return statusRanks[strings.ToLower(s)]
}

// EmptyReply is the TwiML that acknowledges an inbound SMS without replying.
func EmptyReply() (string, error) {
	return twiml.Messages(nil)
}

// Reply is the TwiML that answers an inbound SMS with body.
func Reply(body string) (string, error) {
	return twiml.Messages([]twiml.Element{&twiml.MessagingMessage{Body: body}})
}
