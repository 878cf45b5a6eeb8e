package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/store/sqlite"
)

// queueDB opens a store with one page, incident and broadcast (so one plan).
func queueDB(b *testing.B) (context.Context, *sqlite.DB, *incident.Broadcast) {
	ctx := context.Background()
	db := open(b, filepath.Join(b.TempDir(), "herald.db"))
	b.Cleanup(func() { db.Close() })
	now := time.Now().UTC().Truncate(time.Millisecond)
	page := &incident.Page{ID: "p1", Name: "Acme", URL: "https://status.acme.test", TimeZone: "Etc/UTC", CreatedAt: now, UpdatedAt: now}
	inc := benchIncident("i1", "p1", now)
	bc := &incident.Broadcast{ID: "b1", PageID: "p1", IncidentID: "i1", UpdateID: inc.Updates[0].ID, Kind: incident.BroadcastDeclared, CreatedAt: now}
	if err := db.Commit(ctx, &incident.Change{Pages: []*incident.Page{page}, Incidents: []*incident.Incident{inc}, Broadcasts: []*incident.Broadcast{bc}}); err != nil {
		b.Fatal(err)
	}
	return ctx, db, bc
}

// planDeliveries returns n deliveries of broadcast bc as the planner makes
// them: customer recipients, SMS and email alternating.
func planDeliveries(bc *incident.Broadcast, n int, now time.Time) []*queue.Delivery {
	ds := make([]*queue.Delivery, n)
	for i := range n {
		kind, addr := channel.SMS, fmt.Sprintf("+3620%07d", i)
		if i%2 == 1 {
			kind, addr = channel.Email, fmt.Sprintf("customer%07d@example.com", i)
		}
		ds[i] = &queue.Delivery{ID: queue.DeliveryID(bc.UpdateID, kind, addr), PageID: bc.PageID, IncidentID: bc.IncidentID,
			UpdateID: bc.UpdateID, BroadcastID: bc.ID, MessageKind: queue.KindAck, Kind: kind, Address: addr,
			RecipientType: queue.FromCustomer, RecipientID: fmt.Sprintf("cust-%07d", i), Name: fmt.Sprintf("Customer %d", i),
			Language: "hu", TimeZone: "Europe/Budapest", State: queue.StatePending, NextAt: now, CreatedAt: now, UpdatedAt: now}
	}
	return ds
}

// BenchmarkSavePlanBatch1M plans one broadcast of 1,000,000 deliveries in
// batches of 5,000 (each batch one transaction, as the planner writes
// them): the target is ≤ 10 s in total. Run it with
//
//	go test -run '^$' -bench SavePlanBatch -benchtime 1x ./store/sqlite/
//
// cpu-s is the process's CPU time (user + system) over the timed part,
// which a shared machine's load does not inflate the way it does ns/op.
// BenchmarkSavePlanBatch100k is the same at a tenth of the size: the two
// per-delivery figures should match if planning scales linearly.
func BenchmarkSavePlanBatch1M(b *testing.B) { benchSavePlan(b, 1_000_000) }

// BenchmarkSavePlanBatch100k is BenchmarkSavePlanBatch1M with 100,000.
func BenchmarkSavePlanBatch100k(b *testing.B) { benchSavePlan(b, 100_000) }

func benchSavePlan(b *testing.B, total int) {
	const batch = 5_000
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		ctx, db, bc := queueDB(b)
		if n, err := strconv.ParseInt(os.Getenv("MERGE_EVERY"), 10, 64); err == nil {
			sqlite.SetMergeEvery(db, n) // tuning experiments
		}
		now := bc.CreatedAt
		ds := planDeliveries(bc, total, now)
		p, err := db.ClaimPlan(ctx, now, time.Minute)
		if err != nil || p == nil {
			b.Fatalf("ClaimPlan = %v, %v", p, err)
		}
		runtime.GC()
		cpu0 := cpuTime()
		b.StartTimer()
		for i := 0; i < total; i += batch {
			pb := &queue.PlanBatch{Plan: p, Deliveries: ds[i : i+batch], Cursor: fmt.Sprint(i + batch), Done: i+batch == total}
			if n, err := db.SavePlanBatch(ctx, pb, now, time.Minute); err != nil || n != batch {
				b.Fatalf("SavePlanBatch at %d = %d, %v", i, n, err)
			}
		}
		b.StopTimer()
		cpu += cpuTime() - cpu0
		pr, err := db.Progress(ctx, bc.ID)
		if err != nil || pr.Planned != total || pr.Counts[channel.SMS][queue.StatePending] != total/2 {
			b.Fatalf("Progress = %+v, %v", pr, err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(total*b.N), "cpu-ns/delivery")
}

// cpuTime returns the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkClaimFinish measures the dispatcher's loop: claim a batch of
// SMS deliveries, finish them as sent, out of a queue of 60,000 (run with -benchtime 50x).
func BenchmarkClaimFinish(b *testing.B) {
	for _, size := range []int{100, 500} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			ctx, db, bc := queueDB(b)
			now := bc.CreatedAt
			const total = 60_000
			p, _ := db.ClaimPlan(ctx, now, time.Hour)
			ds := planDeliveries(bc, total, now)
			for _, d := range ds {
				d.Kind = channel.SMS
			}
			for i := 0; i < total; i += 5000 {
				if _, err := db.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: ds[i : i+5000]}, now, time.Hour); err != nil {
					b.Fatal(err)
				}
			}
			done := 0
			runtime.GC()
			cpu0 := cpuTime()
			b.ResetTimer()
			for b.Loop() {
				got, err := db.ClaimDeliveries(ctx, channel.SMS, queue.LaneAll, now, time.Minute, size)
				if err != nil {
					b.Fatal(err)
				}
				if len(got) == 0 {
					b.Fatal("queue ran dry; lower -benchtime")
				}
				for _, d := range got {
					d.State, d.ProviderID, d.SentAt = queue.StateSent, "SM"+d.ID, &now
				}
				if err := db.FinishDeliveries(ctx, got); err != nil {
					b.Fatal(err)
				}
				done += len(got)
			}
			b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "deliveries/s")
			b.ReportMetric(float64(done)/(cpuTime()-cpu0).Seconds(), "deliveries/cpu-s")
		})
	}
}
