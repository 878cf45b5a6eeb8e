package storetest

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// laneFixture queues, on SMS: a plan's deliveries (which the engines keep
// in chunks), a delivery outside plans that is no reply (a survey), and
// replies due a day early, just due and not yet due, as the complaint and
// sign-up services queue them; and one email reply. It returns them by
// name.
func laneFixture(t *testing.T, is incident.Store, ns Pipeline, now time.Time) map[string]*queue.Delivery {
	t.Helper()
	ctx := context.Background()
	b := broadcastFixture(t, is, "b1", base)
	p := claimPlan(t, ns, now, time.Minute)
	bd1 := newDelivery(b, channel.SMS, "+36201000001", "c1", now)
	bd2 := newDelivery(b, channel.SMS, "+36201000002", "c2", now)
	if n, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: []*queue.Delivery{bd1, bd2}, Cursor: "end", Done: true}, now, time.Minute); err != nil || n != 2 {
		t.Fatalf("SavePlanBatch = %d, %v; want 2 new", n, err)
	}
	reply := func(mk queue.MessageKind, address string, next time.Time) *queue.Delivery {
		d := newDelivery(nil, channel.SMS, address, "", next)
		d.MessageKind, d.UpdateID, d.RecipientType = mk, "reply-"+string(mk), queue.FromContact
		d.ID = queue.DeliveryID(d.UpdateID, d.Kind, d.Address)
		return d
	}
	survey := newDelivery(nil, channel.SMS, "+36201000003", "c3", now.Add(-30*time.Second))
	survey.MessageKind, survey.UpdateID = queue.KindSurvey, "survey-1"
	survey.ID = queue.DeliveryID(survey.UpdateID, survey.Kind, survey.Address)
	ack := reply(queue.KindComplaintAck, "+36201000011", now.Add(-24*time.Hour))
	confirm := reply(queue.KindConfirm, "+36201000012", now.Add(-time.Second))
	notYet := reply(queue.KindSubscribed, "+36201000013", now.Add(10*time.Second))
	mail := reply(queue.KindComplaintAnswer, "r@example.com", now.Add(-time.Hour))
	mail.Kind = channel.Email
	mail.ID = queue.DeliveryID(mail.UpdateID, mail.Kind, mail.Address)
	enqueue(t, ns, survey, ack, confirm, notYet, mail)
	return map[string]*queue.Delivery{"bd1": bd1, "bd2": bd2, "survey": survey, "ack": ack, "confirm": confirm, "notYet": notYet, "mail": mail}
}

func claimLane(t *testing.T, ns Pipeline, kind channel.Kind, lane queue.Lane, now time.Time, lease time.Duration, n int) []*queue.Delivery {
	t.Helper()
	ds, err := ns.ClaimDeliveries(context.Background(), kind, lane, now, lease, n)
	if err != nil {
		t.Fatalf("ClaimDeliveries(%s, %s): %v", kind, lane, err)
	}
	return ds
}

// fixIDs returns the IDs of the named deliveries, in that order.
func fixIDs(ds map[string]*queue.Delivery, names ...string) []string {
	out := []string{}
	for _, n := range names {
		out = append(out, ds[n].ID)
	}
	return out
}

// names maps claimed deliveries back to their fixture names, for readable
// failures.
func names(fix map[string]*queue.Delivery, ds []*queue.Delivery) []string {
	out := []string{}
	for _, d := range ds {
		name := d.ID
		for n, f := range fix {
			if f.ID == d.ID {
				name = n
			}
		}
		out = append(out, name)
	}
	return out
}

// testClaimLanes: each lane claims its own deliveries only, whatever the
// other holds; expired leases, retries and deferrals come back in their
// lane; a plan's chunks are the broadcast's.
func testClaimLanes(t *testing.T, is incident.Store, ns Pipeline) {
	ctx := context.Background()
	const lease = time.Minute
	now := at(time.Hour)
	fix := laneFixture(t, is, ns, now)

	t.Run("an unknown lane is invalid", func(t *testing.T) {
		_, err := ns.ClaimDeliveries(ctx, channel.SMS, queue.Lane(9), now, lease, 10)
		wantErr(t, "ClaimDeliveries(lane 9)", err, incident.ErrInvalid)
	})

	var replies, broadcast []*queue.Delivery
	t.Run("each lane claims only its own", func(t *testing.T) {
		// The replies first: the plan's chunks are due too, and none of
		// their deliveries may come.
		replies = claimLane(t, ns, channel.SMS, queue.LaneReplies, now, lease, 10)
		equal(t, "replies", names(fix, replies), []string{"ack", "confirm"})
		broadcast = claimLane(t, ns, channel.SMS, queue.LaneBroadcast, now, lease, 10)
		equal(t, "broadcast", names(fix, broadcast), []string{"survey", "bd1", "bd2"})
		for _, lane := range []queue.Lane{queue.LaneReplies, queue.LaneBroadcast, queue.LaneAll} {
			if got := claimLane(t, ns, channel.SMS, lane, now, lease, 10); len(got) != 0 {
				t.Errorf("claimed %v in lane %s; want none left", names(fix, got), lane)
			}
		}
		if p := progress(t, ns, "b1"); p.Counts[channel.SMS][queue.StateSending] != 2 {
			t.Errorf("b1's counts = %v; want its 2 sms sending", p.Counts)
		}
	})

	t.Run("a lane's claim stops at n", func(t *testing.T) {
		got := claimLane(t, ns, channel.Email, queue.LaneBroadcast, now, lease, 10)
		if len(got) != 0 {
			t.Errorf("email broadcast lane claimed %v; want none (the email is a reply)", names(fix, got))
		}
		got = claimLane(t, ns, channel.Email, queue.LaneReplies, now, lease, 1)
		equal(t, "email replies", names(fix, got), []string{"mail"})
	})

	expired := now.Add(lease + time.Millisecond)
	t.Run("expired leases come back in their lane", func(t *testing.T) {
		got := claimLane(t, ns, channel.SMS, queue.LaneBroadcast, expired, lease, 10)
		equal(t, "broadcast re-claimed", deliveryIDs(got), sortedIDs(fixIDs(fix, "survey", "bd1", "bd2")...))
		// The reply not yet due then is due now: it comes with the
		// expired replies, and nothing of the broadcast does.
		got = claimLane(t, ns, channel.SMS, queue.LaneReplies, expired, lease, 10)
		equal(t, "replies re-claimed", deliveryIDs(got), sortedIDs(fixIDs(fix, "ack", "confirm", "notYet")...))
		for _, d := range got {
			if d.ID == fix["ack"].ID {
				replies = []*queue.Delivery{d}
				if d.Attempts != 2 {
					t.Errorf("re-claimed ack: attempts %d, want 2", d.Attempts)
				}
			}
		}
		for _, d := range claimLane(t, ns, channel.SMS, queue.LaneAll, expired, lease, 10) {
			t.Errorf("claimed %s again inside its new lease", d.ID)
		}
	})

	t.Run("retries and deferrals go back to their lane", func(t *testing.T) {
		// A retry of the ack and a deferral of a plan delivery, both due
		// again before the other leases end.
		retryAt := expired.Add(10 * time.Second)
		var bd1 *queue.Delivery
		for _, d := range claimLane(t, ns, channel.SMS, queue.LaneBroadcast, expired.Add(lease+time.Millisecond), lease, 10) {
			if d.ID == fix["bd1"].ID {
				bd1 = d
			}
		}
		if bd1 == nil {
			t.Fatal("bd1 not claimed again after its lease")
		}
		ack := replies[0]
		ack.State, ack.NextAt, ack.Reason = queue.StatePending, retryAt, "provider busy"
		bd1.State, bd1.NextAt, bd1.Deferred = queue.StatePending, retryAt, true
		if err := ns.FinishDeliveries(ctx, []*queue.Delivery{ack, bd1}); err != nil {
			t.Fatal(err)
		}
		// The ack still holds the lease of its re-claim; the other
		// replies too, until expired+lease, so only the ack may come.
		later := retryAt.Add(time.Millisecond)
		if later.After(expired.Add(lease)) {
			t.Fatal("fixture: the retry must come due before the replies' leases end")
		}
		got := claimLane(t, ns, channel.SMS, queue.LaneReplies, later, lease, 10)
		equal(t, "replies due again", names(fix, got), []string{"ack"})
		// The replies' leases have ended by then, the broadcast's other
		// two have not: the broadcast lane has bd1 only.
		got = claimLane(t, ns, channel.SMS, queue.LaneBroadcast, later.Add(lease+time.Millisecond), lease, 10)
		equal(t, "broadcast due again", names(fix, got), []string{"bd1"})
		if got[0].Attempts != 3 {
			t.Errorf("bd1 after a deferral: attempts %d, want 3 (three claims; the deferred one was taken back)", got[0].Attempts)
		}
	})
}

// testClaimLaneAll: LaneAll hands out the oldest due across both lanes
// and the plan's chunks, as a claim did before the lanes: replies queued a
// day early first.
func testClaimLaneAll(t *testing.T, is incident.Store, ns Pipeline) {
	const lease = time.Minute
	now := at(time.Hour)
	fix := laneFixture(t, is, ns, now)
	var got [][]string
	for range 4 {
		got = append(got, names(fix, claimLane(t, ns, channel.SMS, queue.LaneAll, now, lease, 2)))
	}
	equal(t, "claims of 2", got, [][]string{{"ack", "survey"}, {"confirm", "bd1"}, {"bd2"}, {}})
	if later := claimLane(t, ns, channel.SMS, queue.LaneAll, now.Add(10*time.Second), lease, 10); len(later) != 1 || later[0].ID != fix["notYet"].ID {
		t.Errorf("claimed %v once due; want notYet", names(fix, later))
	}
	// The expired leases of both lanes, oldest lease first, up to n.
	re := claimLane(t, ns, channel.SMS, queue.LaneAll, now.Add(lease+time.Millisecond), lease, 10)
	equal(t, "expired, both lanes", deliveryIDs(re), sortedIDs(fixIDs(fix, "ack", "survey", "confirm", "bd1", "bd2")...))
}

// testClaimLaneBacklog: a backlog in one lane neither fills nor slows the
// other's claims: with many replies due long before a plan's deliveries,
// the broadcast lane hands out the plan's, full claims from the first,
// and the replies' lane the replies, oldest first, a claim at a time.
func testClaimLaneBacklog(t *testing.T, is incident.Store, ns Pipeline) {
	ctx := context.Background()
	const lease = time.Minute
	now := at(time.Hour)
	b := broadcastFixture(t, is, "b1", base)
	p := claimPlan(t, ns, now, lease)
	var planned, replies []*queue.Delivery
	for i := range 600 {
		planned = append(planned, newDelivery(b, channel.SMS, fmt.Sprintf("+3620%07d", i), fmt.Sprintf("c%04d", i), now))
		r := newDelivery(nil, channel.SMS, fmt.Sprintf("+3630%07d", i), "", now.Add(-24*time.Hour+time.Duration(i)*time.Millisecond))
		r.MessageKind, r.RecipientType = queue.KindComplaintAck, queue.FromContact
		replies = append(replies, r)
	}
	if _, err := ns.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: planned, Cursor: "end", Done: true}, now, lease); err != nil {
		t.Fatal(err)
	}
	enqueue(t, ns, replies...)
	var gotB, gotR []string
	for {
		bs := claimLane(t, ns, channel.SMS, queue.LaneBroadcast, now, lease, 128)
		rs := claimLane(t, ns, channel.SMS, queue.LaneReplies, now, lease, 16)
		if len(bs) == 0 && len(rs) == 0 {
			break
		}
		if len(gotR) < len(replies) && len(rs) != min(16, len(replies)-len(gotR)) {
			t.Fatalf("replies lane claimed %d with %d waiting; want 16", len(rs), len(replies)-len(gotR))
		}
		if len(gotB) < len(planned) && len(bs) != min(128, len(planned)-len(gotB)) {
			t.Fatalf("broadcast lane claimed %d with %d waiting; want 128", len(bs), len(planned)-len(gotB))
		}
		for _, d := range bs {
			if d.MessageKind.IsReply() {
				t.Fatalf("broadcast lane claimed reply %s", d.ID)
			}
		}
		for _, d := range rs {
			if !d.MessageKind.IsReply() {
				t.Fatalf("replies lane claimed %s of the broadcast", d.ID)
			}
		}
		gotB, gotR = append(gotB, orderedIDs(bs)...), append(gotR, orderedIDs(rs)...)
	}
	// A plan's deliveries share one NextAt, and within it the engines
	// keep their order only roughly (Redis's scores wrap every 1024).
	sort.Strings(gotB)
	equal(t, "broadcast", gotB, deliveryIDs(planned))
	equal(t, "replies, oldest first", gotR, orderedIDs(replies))
}
