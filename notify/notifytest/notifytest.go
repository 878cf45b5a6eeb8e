// Package notifytest holds a recording fake notify.Channel and fault
// wrappers (5xx, 429 with Retry-After, timeouts, permanent codes) for
// tests of code that sends through channels.
package notifytest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/notify"
)

// Recorder is a Channel that accepts everything and remembers it.
type Recorder struct {
	kind channel.Kind
	mu   sync.Mutex
	sent []*channel.Message
	n    atomic.Int64
	// Changed is signalled (without blocking) after every send.
	Changed chan struct{}
}

var _ notify.Channel = (*Recorder)(nil)

// NewRecorder returns a Recorder for kind.
func NewRecorder(kind channel.Kind) *Recorder {
	return &Recorder{kind: kind, Changed: make(chan struct{}, 1)}
}

// Kind implements notify.Channel.
func (r *Recorder) Kind() channel.Kind { return r.kind }

// Send implements notify.Channel: it records a copy of m.
func (r *Recorder) Send(ctx context.Context, m *channel.Message) (channel.Receipt, error) {
	if err := ctx.Err(); err != nil {
		return channel.Receipt{}, err
	}
	c := *m
	r.mu.Lock()
	r.sent = append(r.sent, &c)
	r.mu.Unlock()
	n := r.n.Add(1)
	select {
	case r.Changed <- struct{}{}:
	default:
	}
	return channel.Receipt{ProviderID: fmt.Sprintf("%s-%d", r.kind, n), Status: "accepted"}, nil
}

// Sent returns the messages sent so far, oldest first.
func (r *Recorder) Sent() []*channel.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*channel.Message(nil), r.sent...)
}

// Count returns how many messages were sent.
func (r *Recorder) Count() int { return int(r.n.Load()) }

// To returns the messages sent to one address.
func (r *Recorder) To(addr string) []*channel.Message {
	var out []*channel.Message
	for _, m := range r.Sent() {
		if m.To == addr {
			out = append(out, m)
		}
	}
	return out
}

// WaitFor waits until at least n messages were sent or ctx ends.
func (r *Recorder) WaitFor(ctx context.Context, n int) error {
	for r.Count() < n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("notifytest: %d of %d messages sent: %w", r.Count(), n, ctx.Err())
		case <-r.Changed:
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// Fault decides, per call, whether a wrapped channel fails and how;
// nil means pass the message on.
type Fault func(call int, m *channel.Message) error

// Faulty wraps a Channel and injects faults before it.
type Faulty struct {
	notify.Channel
	Fault Fault
	calls atomic.Int64
}

// Wrap returns ch behind the faults (applied in order; the first that
// fires wins).
func Wrap(ch notify.Channel, faults ...Fault) *Faulty {
	return &Faulty{Channel: ch, Fault: func(call int, m *channel.Message) error {
		for _, f := range faults {
			if err := f(call, m); err != nil {
				return err
			}
		}
		return nil
	}}
}

// Send implements notify.Channel.
func (f *Faulty) Send(ctx context.Context, m *channel.Message) (channel.Receipt, error) {
	call := int(f.calls.Add(1))
	if f.Fault != nil {
		if err := f.Fault(call, m); err != nil {
			if err == errTimeout {
				<-ctx.Done()
				return channel.Receipt{}, ctx.Err()
			}
			return channel.Receipt{}, err
		}
	}
	return f.Channel.Send(ctx, m)
}

// Calls returns how many sends were attempted through the wrapper.
func (f *Faulty) Calls() int { return int(f.calls.Load()) }

// ServerErrorEvery fails every nth call with a transient 5xx.
func ServerErrorEvery(n int) Fault {
	return func(call int, _ *channel.Message) error {
		if n > 0 && call%n == 0 {
			return &channel.SendError{Code: "HTTP 503", Reason: "service unavailable (injected)"}
		}
		return nil
	}
}

// TooManyRequests fails calls from..to (inclusive, 1-based) with 429 and
// the given Retry-After.
func TooManyRequests(from, to int, retryAfter time.Duration) Fault {
	return func(call int, _ *channel.Message) error {
		if call >= from && call <= to {
			return &channel.SendError{Code: "429", Reason: "too many requests (injected)", RetryAfter: retryAfter}
		}
		return nil
	}
}

var errTimeout = fmt.Errorf("notifytest: timeout")

// TimeoutEvery makes every nth call hang until its context ends, as a
// provider that never answers does.
func TimeoutEvery(n int) Fault {
	return func(call int, _ *channel.Message) error {
		if n > 0 && call%n == 0 {
			return errTimeout
		}
		return nil
	}
}

// PermanentTo fails every send to the given addresses with the code, as a
// permanent provider error (Twilio 21211, SMTP "550 5.1.1", …).
func PermanentTo(codes map[string]string) Fault {
	return func(_ int, m *channel.Message) error {
		if code, ok := codes[m.To]; ok {
			return &channel.SendError{Permanent: true, Code: code, Reason: "permanent failure (injected)"}
		}
		return nil
	}
}
