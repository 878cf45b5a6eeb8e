package notify_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/ratelimit"
	"github.com/heraldhq/herald/sandbox"
)

// TestDispatchFigures measures, on SQLite and the sandbox: dispatch
// throughput against the sandbox's own ceiling (the same channel driven
// directly by as many goroutines), the achieved rate under a configured
// limit, and declaration → first provider request latency. It is slow, so
// it runs only with HERALD_BENCH=1.
func TestDispatchFigures(t *testing.T) {
	if os.Getenv("HERALD_BENCH") == "" {
		t.Skip("set HERALD_BENCH=1 to measure dispatch figures")
	}
	n := 3000
	open := engines[0].open // sqlite
	const workers = 16

	t.Run("throughput", func(t *testing.T) {
		h := newHarness(t, open, sandbox.Faults{})
		h.importCSV(customersCSV(n, false))
		// The ceiling: the channel alone, no store.
		start := time.Now()
		var wg sync.WaitGroup
		jobs := make(chan int)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range jobs {
					m := &channel.Message{Kind: channel.SMS, To: fmt.Sprintf("+3620%07d", 1000000+i), Text: "ceiling probe"}
					if _, err := h.chans[channel.SMS].Send(h.ctx, m); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		for i := 0; i < n; i++ {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		ceiling := float64(n) / time.Since(start).Seconds()
		h.sb.Reset()

		cfg := baseConfig()
		cfg.Workers = map[channel.Kind]int{channel.SMS: workers}
		cfg.ClaimSize = 500
		h.start(cfg)
		t0 := time.Now()
		inc := h.declare("Bench", nil, incident.MajorOutage)
		h.waitDone(h.broadcasts(inc.ID)[0].ID)
		all := float64(n) / time.Since(t0).Seconds()
		ms := h.sb.Messages(sandbox.Filter{Kind: sandbox.KindSMS})
		sort.Slice(ms, func(i, j int) bool { return ms[i].At.Before(ms[j].At) })
		got := float64(len(ms)-1) / ms[len(ms)-1].At.Sub(ms[0].At).Seconds()
		t.Logf("throughput: %d SMS, dispatch %.0f/s (with planning %.0f/s); sandbox ceiling %.0f/s; ratio %.2f", n, got, all, ceiling, got/ceiling)
	})

	t.Run("rate limit", func(t *testing.T) {
		const rate = 200.0
		h := newHarness(t, open, sandbox.Faults{RatePerSecond: rate * 1.05})
		h.importCSV(customersCSV(1000, false))
		cfg := baseConfig()
		cfg.Workers = map[channel.Kind]int{channel.SMS: workers}
		cfg.Rates = map[channel.Kind]ratelimit.Limit{channel.SMS: {Rate: rate}} // burst: a twentieth of a second
		h.start(cfg)
		inc := h.declare("Bench", nil, incident.MajorOutage)
		b := h.broadcasts(inc.ID)[0]
		h.waitDone(b.ID)
		ms := h.sb.Messages(sandbox.Filter{Kind: sandbox.KindSMS})
		sort.Slice(ms, func(i, j int) bool { return ms[i].At.Before(ms[j].At) })
		span := ms[len(ms)-1].At.Sub(ms[0].At).Seconds()
		achieved := float64(len(ms)-1) / span
		ds, _ := h.st.FindDeliveries(h.ctx, queue.DeliveryFilter{BroadcastID: b.ID})
		retried := 0
		for _, d := range ds {
			if d.Attempts > 1 {
				retried++
			}
		}
		t.Logf("rate: configured %.0f/s, achieved %.1f/s (%.3f R), %d deliveries retried (429s)", rate, achieved, achieved/rate, retried)
	})

	t.Run("latency", func(t *testing.T) {
		h := newHarness(t, open, sandbox.Faults{})
		h.importCSV(customersCSV(1, false))
		h.start(baseConfig())
		var lat []time.Duration
		for i := 0; i < 30; i++ {
			h.sb.Reset()
			t0 := time.Now()
			h.declare(fmt.Sprintf("Latency %d", i), nil, incident.MajorOutage)
			ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
			if err := h.sb.WaitFor(ctx, 1, sandbox.KindSMS); err != nil {
				t.Fatal(err)
			}
			cancel()
			lat = append(lat, time.Since(t0))
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		t.Logf("declaration → first request: p50 %s, p99 %s (n=%d)", lat[len(lat)/2], lat[len(lat)*99/100], len(lat))
	})
}
