package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// claimAll claims the SMS due at at, n a claim, until none is left,
// adding each ID to seen; an ID claimed twice fails the test.
func claimAll(t *testing.T, db *DB, at time.Time, n int, seen map[string]bool) {
	t.Helper()
	for {
		got, err := db.ClaimDeliveries(context.Background(), channel.SMS, queue.LaneAll, at, time.Minute, n)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			return
		}
		for _, d := range got {
			if seen[d.ID] {
				t.Fatalf("%s claimed twice", d.ID)
			}
			seen[d.ID] = true
		}
	}
}

// chunkState reads how many chunks wait and how many IDs are in them,
// and checks the set of waiting IDs against them.
func chunkState(t *testing.T, db *DB) (chunks, ids int64) {
	t.Helper()
	ctx := context.Background()
	chunks, err := db.client.ZCard(ctx, db.keys.global("pcs")).Result()
	if err != nil {
		t.Fatal(err)
	}
	ids, err = db.client.Eval(ctx, chunkLua+`
local n = 0
for _, cid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  n = n + #cmsgpack.unpack(redis.call('GET', ARGV[1] .. 'pc:' .. cid)) / chunkStride
end
return n`, []string{db.keys.global("pcs")}, db.globalPrefix()).Int64()
	if err != nil {
		t.Fatal(err)
	}
	// The set of waiting IDs (lookups by ID) holds exactly the chunks' IDs.
	if set, err := db.client.SCard(ctx, db.keys.global("chunked")).Result(); err != nil || set != ids {
		t.Fatalf("%d waiting IDs in the set, %v; the chunks hold %d", set, err, ids)
	}
	return chunks, ids
}

// TestPlanChunks: a plan batch of 600 SMS and 10 email deliveries is
// written as chunks (three SMS, one email), counted at once, and a claim
// expands a chunk and takes from it in due order; the chunk's other
// deliveries stay claimable, each claimed once; a suppressed delivery is
// written as before; IDs in chunks are skipped by a later batch and by
// EnqueueDeliveries.
func TestPlanChunks(t *testing.T) {
	ctx := context.Background()
	inBothModes(t, func(t *testing.T, open func(*testing.T) *DB) {
		db := open(t)
		defer db.Close()
		b, p := declarePlan(t, db)
		var ds []*queue.Delivery
		for i := 0; i < 600; i++ {
			// Later ones first: the claim must still go by NextAt.
			ds = append(ds, delivery(b, channel.SMS, fmt.Sprintf("+36%04d", i), t0.Add(time.Duration(600-i)*time.Millisecond)))
		}
		for i := 0; i < 10; i++ {
			ds = append(ds, delivery(b, channel.Email, fmt.Sprintf("e%d@example.com", i), t0))
		}
		sup := delivery(b, channel.SMS, "+36suppressed", t0)
		sup.State, sup.Reason = queue.StateSuppressed, "unsubscribed"
		ds = append(ds, sup)
		n, err := db.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: ds, Cursor: "c1"}, t0, time.Minute)
		if err != nil || n != 611 {
			t.Fatalf("SavePlanBatch = %d, %v; want 611", n, err)
		}
		if c, ids := chunkState(t, db); c != 4 || ids != 610 {
			t.Fatalf("chunks = %d holding %d IDs; want 4 holding 610", c, ids)
		}
		pr, err := db.Progress(ctx, "b1")
		if err != nil || pr.Counts[channel.SMS][queue.StatePending] != 600 || pr.Counts[channel.Email][queue.StatePending] != 10 ||
			pr.Counts[channel.SMS][queue.StateSuppressed] != 1 || pr.Reasons[channel.SMS]["unsubscribed"] != 1 || pr.Planned != 611 {
			t.Fatalf("Progress = %+v, %v", pr, err)
		}
		// The suppressed one is an ordinary delivery already.
		if got, err := db.client.Exists(ctx, db.keys.delivery(sup.ID)).Result(); err != nil || got != 1 {
			t.Fatalf("suppressed delivery's hash: %d, %v", got, err)
		}

		// The same IDs again (waiting in chunks, and the suppressed
		// one stored), and one new: only the new one counts.
		again := append([]*queue.Delivery{}, ds[:5]...)
		again = append(again, sup, delivery(b, channel.SMS, "+36new", t0))
		if n, err := db.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: again, Cursor: "c2"}, t0, time.Minute); err != nil || n != 1 {
			t.Fatalf("SavePlanBatch again = %d, %v; want 1", n, err)
		}
		if n, err := db.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: again, Cursor: "c3"}, t0, time.Minute); err != nil || n != 0 {
			t.Fatalf("SavePlanBatch of known IDs only = %d, %v; want 0", n, err)
		}
		if pl, err := db.FindPlan(ctx, "b1"); err != nil || pl.Cursor != "c3" || pl.Planned != 612 {
			t.Fatalf("FindPlan after a batch of known IDs = %+v, %v; want cursor c3, 612 planned", pl, err)
		}

		// A claim of 10 takes the ten earliest SMS, out of a chunk.
		got, err := db.ClaimDeliveries(ctx, channel.SMS, queue.LaneAll, t0.Add(time.Second), time.Minute, 10)
		if err != nil || len(got) != 10 {
			t.Fatalf("ClaimDeliveries = %d, %v; want 10", len(got), err)
		}
		for i, d := range got {
			if want := queue.DeliveryID(b.UpdateID, channel.SMS, "+36new"); i == 0 && d.ID != want {
				t.Errorf("first claimed %s (%s), want the new one at t0", d.Address, d.NextAt)
			}
			if d.State != queue.StateSending || d.Attempts != 1 || d.Lease == "" || d.Name != "" || d.Language != "en" {
				t.Errorf("claimed %+v", d)
			}
		}
		if c, _ := chunkState(t, db); c >= 5 {
			t.Errorf("%d chunks wait after a claim; want one expanded", c)
		}
		// Everything else is claimed once, whatever the claim size.
		seen := map[string]bool{}
		for _, d := range got {
			seen[d.ID] = true
		}
		claimAll(t, db, t0.Add(time.Second), 37, seen)
		if len(seen) != 601 {
			t.Errorf("claimed %d SMS, want 601", len(seen))
		}
		pr, _ = db.Progress(ctx, "b1")
		if pr.Counts[channel.SMS][queue.StateSending] != 601 || pr.Counts[channel.SMS][queue.StatePending] != 0 {
			t.Errorf("Progress after claims = %+v", pr.Counts)
		}
		if c, ids := chunkState(t, db); c != 1 || ids != 10 {
			t.Errorf("chunks = %d holding %d; want the email chunk alone", c, ids)
		}
		// Enqueueing a waiting ID skips it, and leaves its chunk.
		if n, err := db.EnqueueDeliveries(ctx, ds[600:602]); err != nil || n != 0 {
			t.Fatalf("EnqueueDeliveries of planned IDs = %d, %v; want 0", n, err)
		}
		if c, ids := chunkState(t, db); c != 1 || ids != 10 {
			t.Errorf("after EnqueueDeliveries chunks = %d holding %d; want the email chunk", c, ids)
		}
	})
}

// TestClaimExpandsAsSent: chunks are expanded about as fast as their
// deliveries are claimed. A plan of 10 240 SMS due at once in forty
// chunks, claimed 16 at a time as a rate-limited channel does: 320
// claimed expand two chunks, not (as when a chunk's member scored among
// the expanded deliveries) thirty-six; and the claims still take every
// delivery once, in the end.
func TestClaimExpandsAsSent(t *testing.T) {
	ctx := context.Background()
	inBothModes(t, func(t *testing.T, open func(*testing.T) *DB) {
		db := open(t)
		defer db.Close()
		b, p := declarePlan(t, db)
		for batch := 0; batch < 10; batch++ {
			var ds []*queue.Delivery
			for i := 0; i < 1024; i++ {
				ds = append(ds, delivery(b, channel.SMS, fmt.Sprintf("+36%02d%05d", batch, i), t0))
			}
			if _, err := db.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: ds, Cursor: strconv.Itoa(batch)}, t0, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		if c, ids := chunkState(t, db); c != 40 || ids != 10240 {
			t.Fatalf("chunks = %d holding %d IDs; want 40 holding 10240", c, ids)
		}
		seen := map[string]bool{}
		for k := 0; k < 20; k++ {
			got, err := db.ClaimDeliveries(ctx, channel.SMS, queue.LaneAll, t0.Add(time.Second), time.Minute, 16)
			if err != nil || len(got) != 16 {
				t.Fatalf("claim %d: %d deliveries, %v; want 16", k, len(got), err)
			}
			for _, d := range got {
				if seen[d.ID] {
					t.Fatalf("%s claimed twice", d.ID)
				}
				seen[d.ID] = true
			}
		}
		if c, ids := chunkState(t, db); c != 38 || ids != 38*chunkSize {
			t.Errorf("after 320 claimed: %d chunks holding %d IDs wait; want 38 holding %d", c, ids, 38*chunkSize)
		}
		claimAll(t, db, t0.Add(time.Second), 100, seen)
		if len(seen) != 10240 {
			t.Errorf("claimed %d, want 10240", len(seen))
		}
		if c, ids := chunkState(t, db); c != 0 || ids != 0 {
			t.Errorf("%d chunks holding %d IDs left after every claim", c, ids)
		}
	})
}

// TestPlanChunksRead: a delivery waiting in a chunk is found by ID, by
// address, by recipient and in its broadcast, as one written without
// chunks would be; a receipt for it changes nothing; cancelling the plan
// cancels it.
func TestPlanChunksRead(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, testPrefix(t))
	defer db.Close()
	var b *incident.Broadcast
	b = plant(t, db, func(br *incident.Broadcast) []*queue.Delivery {
		b = br
		var ds []*queue.Delivery
		for i := 0; i < 300; i++ {
			ds = append(ds, delivery(br, channel.SMS, fmt.Sprintf("+36%04d", i), t0))
		}
		return ds
	})
	id := queue.DeliveryID(b.UpdateID, channel.SMS, "+360007")
	if c, _ := chunkState(t, db); c != 2 {
		t.Fatalf("%d chunks; want 2 before any read", c)
	}
	// An ID never planned, and receipts for a waiting one, expand nothing.
	if _, err := db.FindDeliveryByID(ctx, queue.DeliveryID(b.UpdateID, channel.SMS, "+36nobody")); incident.ErrorCode(err) != incident.ENOTFOUND {
		t.Fatalf("FindDeliveryByID of an ID never planned = %v; want not found", err)
	}
	if err := db.SetDeliveryStatus(ctx, id, queue.StateDelivered, "delivered", "", t0); err != nil {
		t.Fatalf("SetDeliveryStatus on a planned delivery = %v; want nil (nothing changes)", err)
	}
	if c, _ := chunkState(t, db); c != 2 {
		t.Fatalf("%d chunks after a miss and a receipt; want 2", c)
	}
	d, err := db.FindDeliveryByID(ctx, id)
	if err != nil || d.Address != "+360007" || d.State != queue.StatePending || d.RecipientID != "c-+360007" || !d.NextAt.Equal(t0) {
		t.Fatalf("FindDeliveryByID = %+v, %v", d, err)
	}
	if c, ids := chunkState(t, db); c != 0 || ids != 0 {
		t.Fatalf("after a read %d chunks hold %d IDs; want none", c, ids)
	}
	if err := db.SetDeliveryStatus(ctx, id, queue.StateDelivered, "delivered", "", t0); err != nil {
		t.Fatalf("SetDeliveryStatus on a planned delivery = %v; want nil (nothing changes)", err)
	}
	if err := db.SetDeliveryStatus(ctx, id, queue.StateSent, "sent", "", t0); err != nil {
		t.Fatalf("SetDeliveryStatus sent on a planned delivery = %v", err)
	}
	byAddr, err := db.FindDeliveries(ctx, queue.DeliveryFilter{Kind: channel.SMS, Address: "+360299"})
	if err != nil || len(byAddr) != 1 {
		t.Fatalf("FindDeliveries by address = %d, %v", len(byAddr), err)
	}
	byRecipient, err := db.FindDeliveries(ctx, queue.DeliveryFilter{PageID: "p1", RecipientID: "c-+360100"})
	if err != nil || len(byRecipient) != 1 {
		t.Fatalf("FindDeliveries by recipient = %d, %v", len(byRecipient), err)
	}
	pr, _ := db.Progress(ctx, b.ID)
	if pr.Counts[channel.SMS][queue.StatePending] != 300 {
		t.Fatalf("expanding counted again: %+v", pr.Counts)
	}

	// A second plan, cancelled while its deliveries wait in chunks.
	b2 := &incident.Broadcast{ID: "b2", PageID: "p1", IncidentID: "i1", UpdateID: "i1-u2", Kind: incident.BroadcastUpdated, CreatedAt: t0}
	if err := db.Commit(ctx, &incident.Change{Broadcasts: []*incident.Broadcast{b2}}); err != nil {
		t.Fatal(err)
	}
	p, err := db.ClaimPlan(ctx, t0, time.Minute)
	if err != nil || p == nil || p.Broadcast.ID != "b2" {
		t.Fatalf("ClaimPlan = %+v, %v", p, err)
	}
	var ds []*queue.Delivery
	for i := 0; i < 300; i++ {
		ds = append(ds, delivery(b2, channel.SMS, fmt.Sprintf("+36%04d", i), t0))
	}
	if _, err := db.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: ds, Cursor: "x"}, t0, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := db.SetDeliveryStatus(ctx, ds[3].ID, queue.StateDelivered, "delivered", "", t0); err != nil {
		t.Fatalf("SetDeliveryStatus on a waiting delivery = %v; want nil (nothing changes)", err)
	}
	if err := db.CancelPlan(ctx, "b2", t0); err != nil {
		t.Fatal(err)
	}
	all, err := db.FindDeliveries(ctx, queue.DeliveryFilter{BroadcastID: "b2"})
	if err != nil || len(all) != 300 {
		t.Fatalf("FindDeliveries of b2 = %d, %v", len(all), err)
	}
	for _, d := range all {
		if d.State != queue.StateCancelled {
			t.Fatalf("%s is %s after CancelPlan", d.ID, d.State)
		}
	}
	if got, err := db.ClaimDeliveries(ctx, channel.SMS, queue.LaneAll, t0.Add(time.Second), time.Minute, 1000); err != nil || len(got) != 300 {
		t.Fatalf("ClaimDeliveries = %d, %v; want b1's 300 and none of b2's", len(got), err)
	} else {
		for _, d := range got {
			if d.BroadcastID != b.ID {
				t.Fatalf("claimed %s of %s", d.ID, d.BroadcastID)
			}
		}
	}
}

// TestAppendDeliveryDoc: the hand-written encoding is json.Marshal's, byte
// for byte, for plain, empty, escaped and non-ASCII fields.
func TestAppendDeliveryDoc(t *testing.T) {
	docs := []deliveryDoc{
		{ID: "x", Kind: channel.SMS, Address: "+3610", CreatedAt: 1},
		{ID: "d1", PageID: "p", IncidentID: "i", UpdateID: "u", BroadcastID: "b", MessageKind: queue.KindAck, Kind: channel.Email,
			Address: "a@example.com", RecipientType: queue.FromCustomer, RecipientID: "c1", Name: "Kovács Ödön <\"boss\"> & co\n\t\\",
			Language: "hu", TimeZone: "Europe/Budapest", Critical: true, CreatedAt: -5, Vars: map[string]string{"b": "2", "a": "<1>"}},
		{ID: "bad\xffutf8", Kind: channel.Slack, Address: "\u2028", Name: "emoji 🙂"},
	}
	for _, d := range docs {
		want, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendDeliveryDoc([]byte("junk"), &d)
		if err != nil || string(got) != "junk"+string(want) {
			t.Errorf("appendDeliveryDoc(%+v) = %s, %v; want %s", d, got, err, want)
		}
	}
}

// TestMsgpackStrings: Redis's cmsgpack reads the strings the planner packs
// in Go at every length class (fixstr, str 8, str 16, str 32), in an
// array with a 32-bit count, as the chunks' blobs hold them.
func TestMsgpackStrings(t *testing.T) {
	rdb := needRedis(t)
	var want []string
	for _, n := range []int{0, 1, 31, 32, 255, 256, 65535, 65536, 70000} {
		want = append(want, strings.Repeat(string(rune('a'+n%26)), n))
	}
	blob := []byte{0xdd, 0, 0, 0, byte(len(want))}
	for _, s := range want {
		blob = appendMsgpackString(blob, s)
	}
	got, err := rdb.Eval(context.Background(), "return cmsgpack.unpack(ARGV[1])", nil, blob).StringSlice()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("unpacked %d strings; want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("string %d: %d bytes back; want %d", i, len(got[i]), len(want[i]))
		}
	}
}

// TestAppendChunkDelivery: a chunk holds exactly the strings insertLua
// would get for each delivery (insertFields, but for the lane), with or without a
// recipient, with times left zero, and for a recipient met again.
func TestAppendChunkDelivery(t *testing.T) {
	db := &DB{keys: keyspace{prefix: "hx"}}
	now := t0.Add(time.Hour)
	b := &incident.Broadcast{ID: "b1", PageID: "p1", IncidentID: "i1", UpdateID: "u1"}
	sms := delivery(b, channel.SMS, "+36201234567", t0)
	email := delivery(b, channel.Email, "kovács@example.com", t0.Add(time.Second))
	email.RecipientID = sms.RecipientID
	bare := &queue.Delivery{ID: "bare", Kind: channel.Webhook, Address: "https://example.com/h", Attempts: 2, Vars: map[string]string{"x": "y"}}
	other := delivery(b, channel.SMS, "+36209999999", t0)
	// Recipients whose "<page> <recipient>" fields could be confused.
	odd1 := delivery(&incident.Broadcast{ID: "b1", PageID: "abc", IncidentID: "i1", UpdateID: "u1"}, channel.SMS, "+3611", t0)
	odd1.RecipientID = "d"
	odd2 := delivery(&incident.Broadcast{ID: "b1", PageID: "ab", IncidentID: "i1", UpdateID: "u1"}, channel.SMS, "+3612", t0)
	odd2.RecipientID = " d"
	var want, got, buf []byte
	var rk recipientKey
	for _, d := range []*queue.Delivery{sms, email, bare, other, sms, odd1, odd2} {
		var f insertFields
		var err error
		if buf, err = db.insertFields(&f, buf[:0], d, now); err != nil {
			t.Fatal(err)
		}
		// All but the lane, which a chunk leaves out (the broadcast's).
		for _, v := range f[:chunkStride] {
			want = appendMsgpackString(want, v)
		}
		var at int64
		if got, buf, at, err = db.appendChunkDelivery(got, buf, &rk, d, now); err != nil {
			t.Fatal(err)
		}
		if wantAt, _ := strconv.ParseInt(f[4], 10, 64); at != wantAt {
			t.Errorf("%s: at %d; want %d", d.ID, at, wantAt)
		}
		if string(got) != string(want) {
			t.Fatalf("%s: chunk bytes\n%q\nwant\n%q", d.ID, got, want)
		}
	}
}

// TestPlanTakeover: a planner in another process that takes a plan over
// (its own DB, the first planner's lease expired) builds the plan's ID set
// from the waiting chunks, so a batch that repeats IDs planned before
// (customers sharing an address across the crash) writes only new ones;
// and IDs expanded since are caught by the deliveries index.
func TestPlanTakeover(t *testing.T) {
	ctx := context.Background()
	prefix := testPrefix(t)
	one := openTest(t, prefix)
	defer one.Close()
	b, p := declarePlan(t, one)
	var ds []*queue.Delivery
	for i := 0; i < 700; i++ {
		// The first chunk's due now, the rest in an hour.
		next := t0
		if i >= chunkSize {
			next = t0.Add(time.Hour)
		}
		ds = append(ds, delivery(b, channel.SMS, fmt.Sprintf("+36%04d", i), next))
	}
	if n, err := one.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: ds[:600], Cursor: "600"}, t0, time.Minute); err != nil || n != 600 {
		t.Fatalf("SavePlanBatch = %d, %v", n, err)
	}
	// A claim expands the chunk that is due (256) of the three.
	if got, err := one.ClaimDeliveries(ctx, channel.SMS, queue.LaneAll, t0.Add(time.Second), time.Minute, 10); err != nil || len(got) != 10 {
		t.Fatalf("ClaimDeliveries = %d, %v", len(got), err)
	}
	if c, ids := chunkState(t, one); c != 2 || ids != 344 {
		t.Fatalf("after a claim %d chunks hold %d IDs; want 2 holding 344", c, ids)
	}

	two := openTest(t, prefix)
	defer two.Close()
	p2, err := two.ClaimPlan(ctx, t0.Add(2*time.Minute), time.Minute)
	if err != nil || p2 == nil || p2.Cursor != "600" {
		t.Fatalf("ClaimPlan after the lease ended = %+v, %v", p2, err)
	}
	// The first planner's lease is gone: its batch writes nothing.
	if _, err := one.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: ds[600:], Cursor: "700"}, t0, time.Minute); incident.ErrorCode(err) != incident.ECONFLICT {
		t.Fatalf("SavePlanBatch on a lost lease = %v; want a conflict", err)
	}
	if n, err := two.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p2, Deliveries: ds, Cursor: "700", Done: true}, t0.Add(2*time.Minute), time.Minute); err != nil || n != 100 {
		t.Fatalf("SavePlanBatch by the new planner = %d, %v; want only the 100 new", n, err)
	}
	pr, err := two.Progress(ctx, "b1")
	if err != nil || pr.Planned != 700 || pr.Counts[channel.SMS][queue.StatePending] != 690 || pr.Counts[channel.SMS][queue.StateSending] != 10 {
		t.Fatalf("Progress = %+v, %v", pr, err)
	}
	seen := map[string]bool{}
	claimAll(t, two, t0.Add(2*time.Hour), 100, seen)
	// The ten claimed before, whose lease ended, are taken again, once.
	if len(seen) != 700 {
		t.Fatalf("claimed %d distinct; want 700", len(seen))
	}
}
