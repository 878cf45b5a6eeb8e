package notify_test

import (
	"context"
	"github.com/heraldhq/herald/internal/syncbuf"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/notify"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/quietlog"
	"github.com/heraldhq/herald/sandbox"
)

// downPlans is a store whose plan claims fail as they do while Redis is
// unreachable; it signals each failed claim on tried.
type downPlans struct {
	notify.Store
	tried chan struct{}
}

func (d *downPlans) ClaimPlan(context.Context, time.Time, time.Duration) (*queue.Plan, error) {
	select {
	case d.tried <- struct{}{}:
	default:
	}
	return nil, errDial
}

// errDial is what go-redis returns while nothing listens on Redis's port.
var errDial = &dialError{}

type dialError struct{}

func (*dialError) Error() string   { return "dial tcp 127.0.0.1:6379: connect: connection refused" }
func (*dialError) Timeout() bool   { return false }
func (*dialError) Temporary() bool { return false }

// TestClaimPlanLogQuiet: while the store is unreachable every poll's plan
// claim fails; the planner says so once per quietlog.Every, with how many
// failures it left out, as the dispatcher does for its claims, instead of
// a line per poll.
func TestClaimPlanLogQuiet(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		var out syncbuf.Buffer
		st := &downPlans{Store: h.st, tried: make(chan struct{})}
		cfg := baseConfig()
		cfg.Poll = time.Millisecond
		svc, err := notify.New(cfg, notify.Deps{Incidents: h.inc, Store: st, Channels: h.chans, Renderer: h.r, Events: h.events,
			Log: slog.New(slog.NewTextHandler(&out, nil)), Now: h.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		stop := h.run(svc)
		const claims = 40
		for range claims {
			select {
			case <-st.tried:
			case <-time.After(20 * time.Second):
				t.Fatal("the planner stopped claiming")
			}
		}
		stop()
		elapsed := time.Since(start)
		lines := strings.Count(out.String(), `msg="claim plan"`)
		// At most one line per quietlog.Every that passed, and the first.
		if most := 1 + int(elapsed/quietlog.Every); lines < 1 || lines > most {
			t.Errorf("%d \"claim plan\" lines for %d failed claims in %v, want 1 to %d:\n%s", lines, claims, elapsed, most, out.String())
		}
	})
}
