package sandbox

import "github.com/heraldhq/herald/notify/sms"

// Encodings CountSegments reports, the same words notify uses.
const (
	GSM7 = string(sms.GSM7)
	UCS2 = string(sms.UCS2)
)

// CountSegments returns how many SMS parts body takes and its encoding, the
// way Twilio reports num_segments. It is sms.Segments: one counter for
// what herald budgets and what the sandbox bills.
func CountSegments(body string) (segments int, encoding string) {
	enc, _, n := sms.Segments(body)
	return n, string(enc)
}
