package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// The report's counters: DeliveryTimes (queue.Store) and ComplaintTally
// (complaint.Store), kept in the writes that change what they count.

func testDeliveryTimes(t *testing.T, is incident.Store, ns Pipeline) {
	ctx := context.Background()
	const lease = time.Minute
	now := at(time.Hour)
	b := broadcastFixture(t, is, "b1", base)
	p := claimPlan(t, ns, now, lease)
	var ds []*queue.Delivery
	for _, a := range []string{"+36201000001", "+36201000002", "+36201000003", "+36201000004"} {
		ds = append(ds, newDelivery(b, channel.SMS, a, "c"+a[len(a)-1:], now))
	}
	mail := newDelivery(b, channel.Email, "c1@example.com", "c1", now)
	ds = append(ds, mail)
	if _, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: ds, Cursor: "x", Done: true}, now, lease); err != nil {
		t.Fatal(err)
	}
	if got, err := ns.DeliveryTimes(ctx, b.ID); err != nil || len(got) != 0 {
		t.Fatalf("DeliveryTimes before any send = %v, %v; want none", got, err)
	}
	sms := claim(t, ns, channel.SMS, now, lease, 10)
	if len(sms) != 4 {
		t.Fatalf("claimed %d SMS, want 4", len(sms))
	}
	t1, t2 := now.Add(3*time.Second), now.Add(25*time.Second) // buckets now and now+20s (now is 12:00:00.123 + 1h)
	for i, d := range sms {
		d.ProviderID = "SM" + d.Address
		switch i {
		case 0, 1:
			d.State, d.SentAt, d.UpdatedAt = queue.StateSent, ptr(t1), t1
		case 2:
			d.State, d.SentAt, d.UpdatedAt = queue.StateSent, ptr(t2), t2
		case 3:
			d.State, d.Reason, d.UpdatedAt = queue.StateFailed, "invalid number", t2
		}
	}
	if err := ns.FinishDeliveries(ctx, sms); err != nil {
		t.Fatal(err)
	}
	// A retry is no timed state: nothing counted.
	m := claim(t, ns, channel.Email, now, lease, 1)[0]
	m.State, m.NextAt, m.UpdatedAt = queue.StatePending, t2, t1
	if err := ns.FinishDeliveries(ctx, []*queue.Delivery{m}); err != nil {
		t.Fatal(err)
	}
	// A receipt counts at its own time; a repeated one does not.
	t3 := now.Add(61 * time.Second)
	for range 2 {
		if err := ns.SetDeliveryStatus(ctx, sms[0].ID, queue.StateDelivered, "delivered", "", t3); err != nil {
			t.Fatal(err)
		}
	}
	bucket := func(at time.Time) time.Time { return at.Truncate(queue.TimeBucket) }
	want := []queue.TimeCount{
		{Kind: channel.SMS, State: queue.StateSent, At: bucket(t1), N: 2},
		{Kind: channel.SMS, State: queue.StateFailed, At: bucket(t2), N: 1},
		{Kind: channel.SMS, State: queue.StateSent, At: bucket(t2), N: 1},
		{Kind: channel.SMS, State: queue.StateDelivered, At: bucket(t3), N: 1},
	}
	got, err := ns.DeliveryTimes(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		got[i].At = got[i].At.UTC()
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("DeliveryTimes =\n%+v\nwant\n%+v", got, want)
	}
	if got, err := ns.DeliveryTimes(ctx, "no-such-broadcast"); err != nil || len(got) != 0 {
		t.Fatalf("DeliveryTimes(unknown) = %v, %v; want none, no error", got, err)
	}
}

// testComplaintTally saves, re-tags, answers and resolves complaints
// (alone and in concurrent saves) and checks that each scope's tally is
// the sum of the stored complaints' TallyLines.
func testComplaintTally(t *testing.T, cs complaint.Store, _ audience.Store) {
	ctx := context.Background()
	now := at(time.Hour)
	tag := func(c *complaint.Complaint, id string) {
		if id == "" {
			c.Tag = nil
			return
		}
		c.Tag = &complaint.Tag{IncidentID: id, Confidence: 1, Reason: "test", By: "auto", At: c.CreatedAt}
	}
	var all []*complaint.Complaint
	for i, spec := range []struct {
		incident string
		created  time.Duration
		ch       complaint.Channel
	}{
		{"inc1", 0, complaint.SMS}, {"inc1", time.Minute, complaint.SMS}, {"inc1", 7 * time.Minute, complaint.Email},
		{"", 2 * time.Minute, complaint.SMS}, {"inc2", 3 * time.Minute, complaint.SMS},
	} {
		c := bareComplaint("tc"+string(rune('a'+i)), "pa", now.Add(spec.created))
		c.Channel = spec.ch
		c.FirstAnswerDue, c.ResolveDue = c.CreatedAt.Add(time.Hour), c.CreatedAt.Add(24*time.Hour)
		tag(c, spec.incident)
		saveComplaint(t, cs, c)
		all = append(all, c)
	}
	// Answer one in time, resolve it; mark one a repeat; move the
	// untagged one to inc1 and inc2's to triage.
	a := nextVersion(all[0])
	a.FirstAnswerAt, a.ResolvedAt = ptr(a.CreatedAt.Add(90*time.Second)), ptr(a.CreatedAt.Add(time.Hour))
	a.State = complaint.StateResolved
	saveComplaint(t, cs, a)
	all[0] = a
	r := nextVersion(all[1])
	r.Repeat = true
	saveComplaint(t, cs, r)
	all[1] = r
	u := nextVersion(all[3])
	tag(u, "inc1")
	saveComplaint(t, cs, u)
	all[3] = u
	v := nextVersion(all[4])
	tag(v, "")
	saveComplaint(t, cs, v)
	all[4] = v
	// A refused save (stale version) moves nothing.
	stale := nextVersion(all[2])
	stale.Version = 1
	tag(stale, "inc2")
	if err := cs.SaveComplaint(ctx, stale, nil); err == nil {
		t.Fatal("a stale save was accepted")
	}

	want := map[string]complaint.Tally{}
	for _, c := range all {
		for _, l := range c.WithTimes(func(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }).TallyLines() {
			scope, field, _ := complaint.SplitTallyLine(l)
			if want[scope] == nil {
				want[scope] = complaint.Tally{}
			}
			want[scope][field]++
		}
	}
	for _, scope := range []string{complaint.TallyScope("inc1"), complaint.TallyScope("inc2"), complaint.TallyUntagged} {
		got, err := cs.ComplaintTally(ctx, "pa", scope)
		if err != nil {
			t.Fatal(err)
		}
		w := want[scope]
		if w == nil {
			w = complaint.Tally{}
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("ComplaintTally(%s) =\n%v\nwant\n%v", scope, got, w)
		}
	}
	inc1, _ := cs.ComplaintTally(ctx, "pa", complaint.TallyScope("inc1"))
	if inc1["n"] != 4 || inc1["r"] != 1 || inc1["sk"] != 1 || inc1["fa|2"] != 1 {
		t.Errorf("inc1's tally = %v; want 4 complaints, 1 repeat, 1 kept, 1 answered within 2 minutes", inc1)
	}
	if got, err := cs.ComplaintTally(ctx, "other-page", complaint.TallyScope("inc1")); err != nil || len(got) != 0 {
		t.Errorf("another page's tally = %v, %v; want none", got, err)
	}
}
