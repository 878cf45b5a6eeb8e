package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// usedMemory reads used_memory from INFO memory, in bytes.
func usedMemory(b *testing.B, db *DB) int64 {
	info, err := db.client.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// planAll plans total SMS deliveries for one broadcast in batches of size,
// as the planner does (one SavePlanBatch per batch, under the plan's lease).
func planAll(b *testing.B, db *DB, bid string, total, size int) {
	ctx := context.Background()
	br := &incident.Broadcast{ID: bid, PageID: "p1", IncidentID: "i-" + bid, UpdateID: "u-" + bid, Kind: incident.BroadcastDeclared, CreatedAt: t0}
	if err := db.Commit(ctx, &incident.Change{Pages: []*incident.Page{page("p1", t0)}, Broadcasts: []*incident.Broadcast{br}}); err != nil {
		b.Fatal(err)
	}
	p, err := db.ClaimPlan(ctx, t0, time.Minute)
	if err != nil || p == nil || p.Broadcast.ID != bid {
		b.Fatalf("ClaimPlan = %+v, %v", p, err)
	}
	batch := make([]*queue.Delivery, 0, size)
	for i := 0; i < total; i += size {
		batch = batch[:0]
		for j := i; j < i+size && j < total; j++ {
			addr := fmt.Sprintf("+3620%07d", j)
			batch = append(batch, &queue.Delivery{ID: queue.DeliveryID(br.UpdateID, channel.SMS, addr), PageID: "p1",
				IncidentID: br.IncidentID, UpdateID: br.UpdateID, BroadcastID: bid, MessageKind: queue.KindAck, Kind: channel.SMS,
				Address: addr, RecipientType: queue.FromCustomer, RecipientID: "cust-" + strconv.Itoa(j), Name: "Customer " + strconv.Itoa(j),
				Language: "hu", TimeZone: "Europe/Budapest", State: queue.StatePending, NextAt: t0, CreatedAt: t0, UpdatedAt: t0})
		}
		n, err := db.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: batch, Cursor: strconv.Itoa(i + size), Done: i+size >= total}, t0, time.Minute)
		if err != nil || n != len(batch) {
			b.Fatalf("SavePlanBatch = %d, %v", n, err)
		}
	}
}

// BenchmarkPlanMillion plans 1 000 000 deliveries per iteration in batches
// of 2000 and reports the rate and Redis's memory per delivery. Run with
// -benchtime=1x: go test -run '^$' -bench PlanMillion -benchtime=1x ./store/redis/
func BenchmarkPlanMillion(b *testing.B) {
	needRedis(b)
	total, size := 1_000_000, 2000
	if testing.Short() {
		total = 100_000
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db := openBench(b)
		before := usedMemory(b, db)
		b.StartTimer()
		start := time.Now()
		planAll(b, db, "b"+strconv.Itoa(i), total, size)
		el := time.Since(start)
		b.StopTimer()
		b.Logf("planned %d deliveries in %v", total, el)
		b.ReportMetric(float64(total)/el.Seconds(), "deliveries/s")
		b.ReportMetric(float64(usedMemory(b, db)-before)/float64(total), "redis-bytes/delivery")
		pr, err := db.Progress(context.Background(), "b"+strconv.Itoa(i))
		if err != nil || pr.Counts[channel.SMS][queue.StatePending] != total {
			b.Fatalf("Progress = %+v, %v", pr, err)
		}
	}
}

// BenchmarkClaimFinish claims and finishes a planned queue of 100 000 SMS
// deliveries in batches of 200 with 1 and 4 workers (dispatchers on one or
// several nodes) and reports deliveries per second through both steps.
func BenchmarkClaimFinish(b *testing.B) {
	needRedis(b)
	const total, size = 100_000, 200
	for _, workers := range []int{1, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			ctx := context.Background()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				db := openBench(b)
				planAll(b, db, "b"+strconv.Itoa(i), total, 2000)
				b.StartTimer()
				start := time.Now()
				var done atomic.Int64
				var wg sync.WaitGroup
				for range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							ds, err := db.ClaimDeliveries(ctx, channel.SMS, queue.LaneAll, t0, time.Minute, size)
							if err != nil {
								b.Error(err)
								return
							}
							if len(ds) == 0 {
								return
							}
							for _, d := range ds {
								d.State, d.ProviderID = queue.StateSent, "SM"+d.ID
							}
							if err := db.FinishDeliveries(ctx, ds); err != nil {
								b.Error(err)
								return
							}
							done.Add(int64(len(ds)))
						}
					}()
				}
				wg.Wait()
				el := time.Since(start)
				b.StopTimer()
				if done.Load() != total {
					b.Fatalf("finished %d, want %d", done.Load(), total)
				}
				b.ReportMetric(float64(total)/el.Seconds(), "deliveries/s")
			}
		})
	}
}

// openBench opens a store under a fresh prefix, removed when b ends.
func openBench(b *testing.B) *DB {
	db := openTest(b, testPrefix(b))
	b.Cleanup(func() { db.Close() })
	return db
}
