package redis

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/queue"
)

// TestPlanIDs: each ID is new once, across the table's growth, for
// delivery IDs and for others (text, upper-case hex, first 8 bytes zero, a
// first half shared with another ID).
func TestPlanIDs(t *testing.T) {
	s := newPlanIDs("l")
	var ids []string
	for i := 0; i < 20_000; i++ {
		ids = append(ids, queue.DeliveryID("u1", channel.SMS, fmt.Sprintf("+36%07d", i)))
	}
	ids = append(ids, "text-id", "ABCDEF0123456789ABCDEF01", "0000000000000000deadbeef", "0000000000000000deadbeee",
		ids[0][:16]+"00000000", ids[1][:16]+"ffffffff")
	for round := 0; round < 2; round++ {
		for _, id := range ids {
			if got := s.insert(id); got != (round == 0) {
				t.Fatalf("round %d: insert(%q) = %v", round, id, got)
			}
		}
	}
}

// BenchmarkPlanIDs reports the heap a plan's ID set holds for 2 000 000
// deliveries and the time an insert takes (-benchtime 1x).
func BenchmarkPlanIDs(b *testing.B) {
	const n = 2_000_000
	rng := rand.New(rand.NewPCG(3, 4))
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%016x%08x", rng.Uint64(), rng.Uint32())
	}
	var took time.Duration
	for b.Loop() {
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		start := time.Now()
		s := newPlanIDs("lease")
		for _, id := range ids {
			s.insert(id)
		}
		took += time.Since(start)
		runtime.GC()
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/n, "heap-bytes/id")
		runtime.KeepAlive(s)
	}
	b.ReportMetric(float64(took.Nanoseconds())/float64(b.N*n), "ns/id")
}
