package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/store/sqlite"
)

// BenchmarkComplaintIntake is the store's part of a complaint storm: 64
// goroutines at once each saving a new complaint with its three entries
// and queuing its acknowledgement (SaveComplaintQueued), as Receive does.
// ns/op is wall time per save with all of them running; cpu-µs/op is the
// process's CPU per save; max-ms the longest save, over-100ms how many
// took longer than 100 ms (go test -run '^$' -bench ComplaintIntake
// -benchtime 20000x ./store/sqlite/).
func BenchmarkComplaintIntake(b *testing.B) {
	ctx := context.Background()
	db := open(b, filepath.Join(b.TempDir(), "herald.db"))
	b.Cleanup(func() { db.Close() })
	now := time.Now().UTC().Truncate(time.Millisecond)
	var seq atomic.Int64
	var worst atomic.Int64              // the longest save, ns
	var slow atomic.Int64               // saves over 100 ms
	b.SetParallelism(intakeParallelism) // × GOMAXPROCS goroutines
	cpu0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			id := fmt.Sprintf("c%011d", n)
			phone := fmt.Sprintf("+3630%07d", n)
			c := &complaint.Complaint{ID: id, PageID: "p1", Ref: complaint.NewRef(id), Channel: complaint.SMS,
				Contact: complaint.Contact{Phone: phone}, Category: complaint.CategoryOther, Ask: complaint.AskInformation,
				Severity: complaint.SeverityNormal, Language: "en", Text: "My card payment fails again, what is going on?",
				State: complaint.StateAcknowledged, Messages: 1, LastMessageAt: now, CreatedAt: now, UpdatedAt: now,
				FirstAnswerDue: now.Add(time.Hour), ResolveDue: now.Add(24 * time.Hour), CheckAt: now.Add(50 * time.Minute),
				AckedAt: &now, Version: 1}
			entry := func(k complaint.EntryKind, text string) *complaint.Entry {
				return &complaint.Entry{ID: id + string(k), ComplaintID: id, PageID: "p1", Kind: k, Actor: "customer", Channel: complaint.SMS, Text: text, At: now}
			}
			in := entry(complaint.EntryMessageIn, c.Text)
			in.ExternalID = "SM" + id
			d := &queue.Delivery{ID: queue.DeliveryID("complaint:"+id+":ack", channel.SMS, phone), PageID: "p1",
				MessageKind: queue.KindComplaintReceived, Kind: channel.SMS, Address: phone, RecipientType: queue.FromContact,
				RecipientID: "phone:" + phone, Language: "en", Critical: true, State: queue.StatePending, NextAt: now.Add(-24 * time.Hour),
				CreatedAt: now, UpdatedAt: now, Vars: map[string]string{"complaint": id, "ref": c.Ref, "answer": "received"}}
			start := time.Now()
			if err := db.SaveComplaintQueued(ctx, c, []*complaint.Entry{in, entry(complaint.EntryState, "new → acknowledged"),
				entry(complaint.EntryMessageOut, "automatic acknowledgement (received) queued")}, []*queue.Delivery{d}); err != nil {
				b.Error(err)
				return
			}
			took := int64(time.Since(start))
			if took > int64(100*time.Millisecond) {
				slow.Add(1)
			}
			for w := worst.Load(); took > w && !worst.CompareAndSwap(w, took); w = worst.Load() {
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	b.ReportMetric(float64(b.N)/float64(sqlite.SaveGroups(db)), "saves/group")
	b.ReportMetric(float64(worst.Load())/1e6, "max-ms")
	b.ReportMetric(float64(slow.Load()), "over-100ms")
}

var intakeParallelism = 32
