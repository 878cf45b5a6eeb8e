package surveys_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/store/enginetest"
	"github.com/heraldhq/herald/surveys"
)

// benchEngine is what BenchmarkSchedule100k needs of an engine.
type benchEngine interface {
	incident.Store
	surveys.Store
	audience.Store
	queue.Store
}

// BenchmarkSchedule100k schedules the surveys of an incident that reached
// 100 000 customers by SMS and email (200 000 sent deliveries), on each
// engine, and reports the peak heap Schedule reached above what was live
// before it (sampled every 5 ms) and what it allocated in all. Run it
// alone:
//
//	go test -run '^$' -bench Schedule100k/sqlite -benchtime 1x ./surveys/
func BenchmarkSchedule100k(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchSchedule(b, enginetest.SQLite(b)) })
	b.Run("redis", func(b *testing.B) { benchSchedule(b, enginetest.Redis(b, "surveys-bench")) })
}

func benchSchedule(b *testing.B, db benchEngine) {
	benchResolved := time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)
	const n = 100_000
	ctx := context.Background()
	page := &incident.Page{ID: "p1", Name: "Acme", TimeZone: "Europe/Budapest", CreatedAt: benchResolved.AddDate(0, -1, 0), UpdatedAt: benchResolved.AddDate(0, -1, 0)}
	if err := db.Commit(ctx, &incident.Change{Pages: []*incident.Page{page}}); err != nil {
		b.Fatal(err)
	}
	sent := benchResolved.Add(-time.Hour)
	for start := 0; start < n; start += 2000 {
		var cs []*audience.Customer
		var ds []*queue.Delivery
		for i := start; i < start+2000; i++ {
			id := fmt.Sprintf("c%07d", i)
			cs = append(cs, &audience.Customer{ID: id, PageID: "p1", Name: "Customer " + id, Phone: fmt.Sprintf("+3620%07d", i),
				Email: id + "@example.com", Language: "en", Plan: []string{"gold", "free"}[i%2], CreatedAt: page.CreatedAt, UpdatedAt: page.CreatedAt})
			for _, kind := range []channel.Kind{channel.SMS, channel.Email} {
				addr := cs[len(cs)-1].Phone
				if kind == channel.Email {
					addr = cs[len(cs)-1].Email
				}
				at := sent.Add(time.Duration(i%1000) * time.Millisecond)
				ds = append(ds, &queue.Delivery{ID: queue.DeliveryID("u1", kind, addr), PageID: "p1", IncidentID: "inc1", UpdateID: "u1",
					BroadcastID: "b1", MessageKind: queue.KindAck, Kind: kind, Address: addr, RecipientType: queue.FromCustomer, RecipientID: id,
					Name: "Customer " + id, Language: "en", State: queue.StateSent, NextAt: at, CreatedAt: at, UpdatedAt: at, SentAt: &at,
					Vars: map[string]string{"incident": "Outage", "status": "benchResolved"}})
			}
		}
		if _, err := db.UpsertCustomers(ctx, cs); err != nil {
			b.Fatal(err)
		}
		if _, err := db.EnqueueDeliveries(ctx, ds); err != nil {
			b.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for i := range b.N {
		incID := fmt.Sprintf("inc%d", i+1)
		if i > 0 {
			b.Fatal("run with -benchtime 1x: a second run would schedule an incident with no deliveries")
		}
		inc := &incident.Incident{ID: incID, PageID: "p1", Name: "Outage", Status: incident.Resolved, Impact: incident.ImpactMajor,
			CreatedAt: sent, UpdatedAt: benchResolved, StartedAt: sent, ResolvedAt: &benchResolved, Version: 1}
		if err := db.Commit(ctx, &incident.Change{Incidents: []*incident.Incident{inc}}); err != nil {
			b.Fatal(err)
		}
		s := surveys.NewService(db, db, log)
		// Asserted, so that the benchmark runs on the code before paging too.
		s.Deliveries, s.Customers = any(db).(surveys.Deliveries), any(db).(surveys.Customers)
		s.Now = func() time.Time { return benchResolved.Add(time.Hour) }

		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		peak := before.HeapAlloc
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			var m runtime.MemStats
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					runtime.ReadMemStats(&m)
					peak = max(peak, m.HeapAlloc)
				}
			}
		}()
		b.ResetTimer()
		start := time.Now()
		created, err := s.Schedule(ctx, "p1", incID)
		wall := time.Since(start)
		b.StopTimer()
		close(stop)
		<-done
		if err != nil || created != n {
			b.Fatalf("Schedule = %d, %v; want %d", created, err, n)
		}
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(wall.Seconds(), "s/schedule")
		b.ReportMetric(float64(peak-before.HeapAlloc)/(1<<20), "peak-heap-MB")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/(1<<20), "alloc-MB")
	}
}
