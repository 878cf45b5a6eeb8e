package sandbox

import "github.com/heraldhq/herald/notify"

// Encodings CountSegments reports, the same words notify uses.
const (
	GSM7 = string(notify.GSM7)
	UCS2 = string(notify.UCS2)
)

// CountSegments returns how many SMS parts body takes and its encoding, the
// way Twilio reports num_segments. It is notify.Segments: one counter for
// what herald budgets and what the sandbox bills.
func CountSegments(body string) (segments int, encoding string) {
	enc, _, n := notify.Segments(body)
	return n, string(enc)
}
