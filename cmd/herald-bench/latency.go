package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/node"
	"github.com/heraldhq/herald/sandbox"
)

// latencyAudience is the number of customers each timed declaration reaches.
const latencyAudience = 10

// benchLatency times declaration → first request at the sandbox's Twilio
// on SQLite and, when Redis answers, on Redis, with herald's default
// dispatch settings (the planner and dispatchers wake on events).
func benchLatency(ctx context.Context, dir string, opt broadcastOptions, log *slog.Logger, rep *report) error {
	sub := filepath.Join(dir, "latency")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		return err
	}
	w, err := openSQLiteWorld(ctx, sub, log)
	if err != nil {
		return err
	}
	err = latencyRun(ctx, w, opt, rep)
	w.close()
	if err != nil {
		return fmt.Errorf("latency (SQLite): %w", err)
	}
	if opt.RedisURL == "" {
		return nil
	}
	w, err = openRedisWorld(ctx, opt.RedisURL, log)
	if err != nil {
		return err
	}
	defer w.close()
	if err := latencyRun(ctx, w, opt, rep); err != nil {
		return fmt.Errorf("latency (Redis): %w", err)
	}
	return nil
}

func latencyRun(ctx context.Context, w *world, opt broadcastOptions, rep *report) error {
	sb, err := sandbox.Start(ctx, sandbox.Config{Capacity: opt.Declarations*latencyAudience + 100})
	if err != nil {
		return err
	}
	defer sb.Close()
	if _, err := w.loadCustomers(ctx, 0, latencyAudience, false); err != nil {
		return err
	}
	toSandbox := func(c *node.Config) { *c = withSandbox(*c, sb) }
	if err := w.start(ctx, node.Options{Dispatch: []channel.Kind{channel.SMS}}, toSandbox); err != nil {
		return err
	}
	defer w.stop()
	var lat latencies
	for i := 0; i < opt.Declarations; i++ {
		base := sb.Count(sandbox.KindSMS)
		start := time.Now()
		inc, _, err := w.declare(ctx, fmt.Sprintf("Latency %d", i))
		if err != nil {
			return err
		}
		if err := waitCount(ctx, sb, base+latencyAudience, sandbox.KindSMS, 30*time.Second); err != nil {
			return err
		}
		// The inbox stamps each message when the sandbox accepts it; the
		// earliest of this declaration's is its first request.
		msgs := sb.Messages(sandbox.Filter{Kind: sandbox.KindSMS})
		first := time.Time{}
		for _, m := range msgs[base:] {
			if first.IsZero() || m.At.Before(first) {
				first = m.At
			}
		}
		lat = append(lat, first.Sub(start))
		if err := w.n.Incidents.DeleteIncident(ctx, w.page.ID, inc.ID); err != nil {
			return err
		}
	}
	s := lat.sorted()
	p99 := s[len(s)*99/100]
	rep.add(figure{name: fmt.Sprintf("%s: declaration → first Twilio request", w.name),
		value:  fmt.Sprintf("p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d declarations × %d customers)", ms(s[len(s)/2]), ms(p99), ms(s[len(s)-1]), len(s), latencyAudience),
		target: "p99 ≤ 250 ms", pass: p99 <= 250*time.Millisecond})
	return nil
}
