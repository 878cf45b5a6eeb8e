package notify

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/ratelimit"
)

// Defaults for Config fields left at their zero value.
const (
	DefaultFrequencyCap    = 3
	DefaultFrequencyWindow = time.Hour
	// DefaultAutoReplyLimit automatic answers to one address within
	// DefaultAutoReplyWindow: enough for a customer who writes about
	// every incident of a bad day, few enough that a forged sender or a
	// robot cannot make herald mail or text someone all day.
	DefaultAutoReplyLimit  = 10
	DefaultAutoReplyWindow = 24 * time.Hour
	DefaultMaxAttempts     = 8
	DefaultRetryBase       = 2 * time.Second
	DefaultRetryMax        = 10 * time.Minute
	DefaultBatchSize       = 2000
	DefaultLease           = 30 * time.Second
	DefaultPoll            = 200 * time.Millisecond
	DefaultSMSCurrency     = "USD"
	DefaultSMSSegmentPrice = 0.0079 // Twilio's US list price per segment; configure the real one
	// DefaultSlackPerChannel is Slack's chat.postMessage limit: one message
	// per second per channel (short bursts tolerated, not relied on).
	DefaultSlackPerChannel = 1.0
)

// DefaultPolicy is Statuspage's: SMS only when an incident or maintenance
// is created, resolved, and when a maintenance begins (and ends: the
// completion is a maintenance's "resolve"); email, Slack and webhooks on
// every notified update.
func DefaultPolicy() map[channel.Kind][]incident.BroadcastKind {
	all := []incident.BroadcastKind{incident.BroadcastDeclared, incident.BroadcastUpdated, incident.BroadcastResolved,
		incident.BroadcastScheduled, incident.BroadcastStarted, incident.BroadcastCompleted}
	return map[channel.Kind][]incident.BroadcastKind{
		channel.SMS:     {incident.BroadcastDeclared, incident.BroadcastResolved, incident.BroadcastScheduled, incident.BroadcastStarted, incident.BroadcastCompleted},
		channel.Email:   all,
		channel.Slack:   all,
		channel.Webhook: all,
	}
}

// DefaultSubscribeIPLimit is Statuspage's: 10 sign-ups per IP per 4 hours.
func DefaultSubscribeIPLimit() ratelimit.Limit {
	return ratelimit.Limit{Rate: 10.0 / (4 * 3600), Burst: 10}
}

// subscribeAddressLimit bounds confirmation messages to one phone number
// or email address: 3 an hour, so the sign-up form (from however many IPs)
// cannot be used to flood someone's phone or mailbox.
var subscribeAddressLimit = ratelimit.Limit{Rate: 3.0 / 3600, Burst: 3}

// allows reports whether the policy sends broadcasts of kind b on channel k.
func (c *Config) allows(k channel.Kind, b incident.BroadcastKind) bool {
	if b == incident.BroadcastCompensation {
		// An announcement is sent because a manager chose to send it,
		// to customers, on every channel that reaches a customer.
		return k == channel.SMS || k == channel.Email || k == channel.Slack
	}
	for _, x := range c.Policy[k] {
		if x == b {
			return true
		}
	}
	return false
}

// clock parses "HH:MM" into minutes after midnight.
func clock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 || len(m) != 2 {
		return 0, fmt.Errorf("%q is not a time of day like 22:00", s)
	}
	return hh*60 + mm, nil
}

// quietHours is a daily window in local time; start > end wraps midnight.
type quietHours struct {
	start, end int // minutes after midnight
	on         bool
}

// until returns when the quiet window that contains t ends, in loc, or the
// zero time when t is outside it. DST is handled by building the end from
// the calendar date in loc, never by adding durations.
func (q quietHours) until(t time.Time, loc *time.Location) time.Time {
	if !q.on || q.start == q.end {
		return time.Time{}
	}
	lt := t.In(loc)
	m := lt.Hour()*60 + lt.Minute()
	endOn := func(day time.Time) time.Time {
		e := time.Date(day.Year(), day.Month(), day.Day(), q.end/60, q.end%60, 0, 0, loc)
		// time.Date gives a wall time that occurs twice (the hour repeated
		// when DST ends) at its first occurrence; inside the window during
		// the repeat, the end is the second one, not a time already past
		// (which would have the delivery claimed and deferred in a loop).
		if !e.After(t) {
			_, offE := e.Zone()
			_, offT := lt.Zone()
			e = e.Add(time.Duration(offE-offT) * time.Second)
		}
		return e
	}
	if q.start < q.end {
		if m >= q.start && m < q.end {
			return endOn(lt)
		}
		return time.Time{}
	}
	// Wrapping window, e.g. 22:00–07:00.
	switch {
	case m >= q.start:
		return endOn(lt.AddDate(0, 0, 1))
	case m < q.end:
		return endOn(lt)
	}
	return time.Time{}
}

// backoff is exponential with full jitter: a random wait in
// [0, min(max, base·2^(attempt-1))], but never less than the provider's
// Retry-After, nor less than base/4 (so a zero draw does not hammer a
// provider that just failed).
func backoff(attempt int, base, max, retryAfter time.Duration) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	ceil := base
	for i := 1; i < attempt && ceil < max; i++ {
		ceil *= 2
	}
	if ceil > max {
		ceil = max
	}
	d := time.Duration(rand.Int64N(int64(ceil) + 1))
	if d < base/4 {
		d = base / 4
	}
	if d < retryAfter {
		d = retryAfter
	}
	return d
}
