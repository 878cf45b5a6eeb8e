package sandbox

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Faults makes the sandbox misbehave the way real providers do. The zero
// value injects nothing.
type Faults struct {
	// ErrorRate is the share (0..1) of API requests answered with a 5xx
	// (500 or 503, in the provider's error shape), and of SMTP messages
	// answered 451 4.3.0 after DATA.
	ErrorRate float64
	// Burst429Every and Burst429Len inject bursts of 429: after every
	// Burst429Every requests to one API, the next Burst429Len are refused.
	// SMTP has no 429 and is exempt, as it is from RatePerSecond.
	Burst429Every, Burst429Len int
	// RetryAfter is the Retry-After sent with a burst 429 (whole seconds,
	// at least 1); default DefaultRetryAfter.
	RetryAfter time.Duration
	// Latency delays every API answer and every SMTP DATA reply.
	Latency time.Duration
	// FailTo maps an address to the provider code it fails with:
	//   - Twilio numbers: a 21xxx code ("21211", "21610", "21614") is a
	//     synchronous 400; a 30xxx code ("30003", "30005", "30007") is
	//     accepted and then reported undelivered (30001, 30002, 30032…:
	//     failed) through the status callback.
	//   - Email addresses: an SMTP reply "550 5.1.1" (4xx codes are
	//     temporary), returned at RCPT.
	//   - Slack channels: a Web API error ("channel_not_found",
	//     "not_in_channel", "is_archived").
	//   - Slack incoming-webhook names: "no_service" (404),
	//     "channel_not_found" (404), "action_prohibited" (403), anything
	//     else 400.
	//   - Outgoing-webhook names: an HTTP status ("410", "500").
	FailTo map[string]string
	// RatePerSecond, when positive, is a ceiling per API (Twilio, Slack,
	// webhooks) held with a token bucket; requests beyond it get 429 with
	// the time until the next token as Retry-After, like a real provider.
	RatePerSecond float64
	// RateBurst is the bucket size; default a tenth of a second's worth
	// (at least 1), so the ceiling is held closely.
	RateBurst int
	// DropReceipts is the share (0..1) of Twilio's final status callbacks
	// (delivered, undelivered, failed) never posted, as when a callback
	// reaches no one; the message's status at the API moves on all the
	// same, so a lookup by SID tells the truth.
	DropReceipts float64
	// DropSlackPosts is how many of the next chat.postMessage calls are
	// accepted and kept (the message is in the channel) but answered by
	// closing the connection: the caller never learns the message's ts,
	// as when it dies between Slack accepting a post and recording where
	// it went.
	DropSlackPosts int
	// SlackHistory is a Web API error code every conversations.history
	// call fails with, as when the app lacks the scope ("missing_scope")
	// or the bot is not in the channel ("not_in_channel"); "" fails none.
	SlackHistory string
}

func (f Faults) validate() error {
	switch {
	case f.ErrorRate < 0 || f.ErrorRate > 1 || math.IsNaN(f.ErrorRate):
		return fmt.Errorf("sandbox: Faults.ErrorRate %v is not between 0 and 1", f.ErrorRate)
	case f.Burst429Every < 0 || f.Burst429Len < 0:
		return fmt.Errorf("sandbox: Faults.Burst429Every and Burst429Len must not be negative")
	case f.RetryAfter < 0 || f.Latency < 0:
		return fmt.Errorf("sandbox: Faults.RetryAfter and Latency must not be negative")
	case f.RatePerSecond < 0 || math.IsNaN(f.RatePerSecond) || math.IsInf(f.RatePerSecond, 0):
		return fmt.Errorf("sandbox: Faults.RatePerSecond %v is not a positive rate", f.RatePerSecond)
	case f.DropReceipts < 0 || f.DropReceipts > 1 || math.IsNaN(f.DropReceipts):
		return fmt.Errorf("sandbox: Faults.DropReceipts %v is not between 0 and 1", f.DropReceipts)
	case f.RateBurst < 0:
		return fmt.Errorf("sandbox: Faults.RateBurst must not be negative")
	case f.DropSlackPosts < 0:
		return fmt.Errorf("sandbox: Faults.DropSlackPosts must not be negative")
	}
	return nil
}

// surface is one API whose requests are counted and limited on their own,
// as each real provider limits its own API.
type surface int

const (
	surfTwilio surface = iota
	surfSlack
	surfWebhook
	surfSMTP
	numSurfaces
)

// faultSet holds the current Faults and the per-API counters, swapped as one
// so SetFaults restarts counting without a lock on the request path.
type faultSet struct {
	cur atomic.Pointer[faultState]
}

type faultState struct {
	f     Faults
	gates [numSurfaces]*gate
	// droppedPosts counts the chat.postMessage answers dropped.
	droppedPosts atomic.Int64
}

// gate counts requests for bursts and holds the token bucket of one API.
type gate struct {
	requests atomic.Uint64

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newFaultSet(f Faults) *faultSet {
	fs := &faultSet{}
	fs.set(f)
	return fs
}

func (fs *faultSet) set(f Faults) {
	f.FailTo = maps.Clone(f.FailTo)
	st := &faultState{f: f}
	now := time.Now()
	for i := range st.gates {
		st.gates[i] = &gate{tokens: float64(f.burst()), last: now}
	}
	fs.cur.Store(st)
}

func (fs *faultSet) get() Faults {
	f := fs.cur.Load().f
	f.FailTo = maps.Clone(f.FailTo)
	return f
}

// dropSlackPost reports whether to drop the answer to this
// chat.postMessage (Faults.DropSlackPosts).
func (fs *faultSet) dropSlackPost() bool {
	st := fs.cur.Load()
	return st.f.DropSlackPosts > 0 && st.droppedPosts.Add(1) <= int64(st.f.DropSlackPosts)
}

// failCode returns the configured failure for an address, if any.
func (fs *faultSet) failCode(addr string) (string, bool) {
	code, ok := fs.cur.Load().f.FailTo[addr]
	return code, ok
}

func (f Faults) burst() int {
	if f.RateBurst > 0 {
		return f.RateBurst
	}
	return max(1, int(math.Ceil(f.RatePerSecond/10)))
}

func (f Faults) retryAfter() time.Duration {
	if f.RetryAfter > 0 {
		return f.RetryAfter
	}
	return DefaultRetryAfter
}

// verdict is what fault injection decided for one request: status 0 lets it
// through; 429 carries a Retry-After; 500 and 503 are server errors.
type verdict struct {
	status     int
	retryAfter time.Duration
}

// check applies the faults of one API to one request: it waits out the
// latency, then refuses beyond the rate ceiling, inside a 429 burst, or by
// the error rate. It returns status 499 when ctx ended while waiting.
func (fs *faultSet) check(ctx context.Context, s surface) verdict {
	st := fs.cur.Load()
	f := &st.f
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return verdict{status: 499}
		}
	}
	g := st.gates[s]
	if f.RatePerSecond > 0 && s != surfSMTP {
		if wait, ok := g.take(f.RatePerSecond, float64(f.burst()), time.Now()); !ok {
			return verdict{status: http.StatusTooManyRequests, retryAfter: wait}
		}
	}
	if f.Burst429Every > 0 && f.Burst429Len > 0 && s != surfSMTP {
		n := g.requests.Add(1) - 1
		if n%uint64(f.Burst429Every+f.Burst429Len) >= uint64(f.Burst429Every) {
			return verdict{status: http.StatusTooManyRequests, retryAfter: f.retryAfter()}
		}
	}
	if f.ErrorRate > 0 && rand.Float64() < f.ErrorRate {
		if rand.IntN(2) == 0 {
			return verdict{status: http.StatusInternalServerError}
		}
		return verdict{status: http.StatusServiceUnavailable}
	}
	return verdict{}
}

// take spends one token, or says how long until one is available.
func (g *gate) take(rate, burst float64, now time.Time) (time.Duration, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if el := now.Sub(g.last).Seconds(); el > 0 {
		g.tokens = min(burst, g.tokens+el*rate)
		g.last = now
	}
	if g.tokens >= 1 {
		g.tokens--
		return 0, true
	}
	return time.Duration((1 - g.tokens) / rate * float64(time.Second)), false
}

// retryAfterHeader renders a wait as Retry-After seconds, rounded up and at
// least 1, since clients read whole seconds.
func retryAfterHeader(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}
