package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/livemsg"
)

// RunLiveMessages runs the livemsg.Store suite. open returns a fresh,
// empty store for the calling test and closes it when the test ends.
func RunLiveMessages(t *testing.T, open func(t *testing.T) livemsg.Store) {
	ctx := context.Background()
	t.Run("round trip", func(t *testing.T) {
		s := open(t)
		if _, err := s.FindLiveMessage(ctx, "inc1"); incident.ErrorCode(err) != incident.ENOTFOUND {
			t.Fatalf("find before any: %v, want ENOTFOUND", err)
		}
		m := &livemsg.Message{IncidentID: "inc1", PageID: "page1", Channel: "C0INCIDENTS", ClaimedAt: at(0), UpdatedAt: at(0)}
		ok, err := s.ClaimLiveMessage(ctx, m, at(-time.Minute))
		if err != nil || !ok {
			t.Fatalf("first claim = %v, %v; want true", ok, err)
		}
		got, err := s.FindLiveMessage(ctx, "inc1")
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "claimed", got, m)
		m.TS, m.Replied, m.UpdatedAt = "1712345678.000100", "upd1", at(1500*time.Millisecond)
		m.Rendered, m.EditedAt = "9f86d081884c7d65", at(1200*time.Millisecond)
		if err := s.SaveLiveMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		got, err = s.FindLiveMessage(ctx, "inc1")
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "saved", got, m)
		if got.ClaimedAt.Location() != time.UTC || got.EditedAt.Location() != time.UTC {
			t.Errorf("ClaimedAt in %v, EditedAt in %v, want UTC", got.ClaimedAt.Location(), got.EditedAt.Location())
		}
	})

	t.Run("leases", func(t *testing.T) {
		s := open(t)
		// No record is needed: the first post is leased too.
		if ok, err := s.LeaseLiveMessage(ctx, "inc5", "node-a", at(0), at(time.Minute)); err != nil || !ok {
			t.Fatalf("first lease = %v, %v; want true", ok, err)
		}
		if ok, err := s.LeaseLiveMessage(ctx, "inc5", "node-b", at(30*time.Second), at(90*time.Second)); err != nil || ok {
			t.Fatalf("lease while node-a's runs = %v, %v; want false", ok, err)
		}
		if ok, err := s.LeaseLiveMessage(ctx, "other", "node-b", at(30*time.Second), at(90*time.Second)); err != nil || !ok {
			t.Fatalf("another incident's lease = %v, %v; want true", ok, err)
		}
		// The holder takes it again (extends it).
		if ok, err := s.LeaseLiveMessage(ctx, "inc5", "node-a", at(30*time.Second), at(2*time.Minute)); err != nil || !ok {
			t.Fatalf("the holder's lease again = %v, %v; want true", ok, err)
		}
		if ok, err := s.LeaseLiveMessage(ctx, "inc5", "node-b", at(90*time.Second), at(3*time.Minute)); err != nil || ok {
			t.Fatalf("lease within the extended one = %v, %v; want false", ok, err)
		}
		// Released by another holder: nothing happens.
		if err := s.ReleaseLiveMessage(ctx, "inc5", "node-b"); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.LeaseLiveMessage(ctx, "inc5", "node-b", at(90*time.Second), at(3*time.Minute)); err != nil || ok {
			t.Fatalf("lease after a release by a non-holder = %v, %v; want false", ok, err)
		}
		// Released by its holder: free at once.
		if err := s.ReleaseLiveMessage(ctx, "inc5", "node-a"); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.LeaseLiveMessage(ctx, "inc5", "node-b", at(90*time.Second), at(3*time.Minute)); err != nil || !ok {
			t.Fatalf("lease after the holder's release = %v, %v; want true", ok, err)
		}
		// Run out (its holder died holding it): taken over.
		if ok, err := s.LeaseLiveMessage(ctx, "inc5", "node-c", at(3*time.Minute), at(4*time.Minute)); err != nil || !ok {
			t.Fatalf("lease over one run out = %v, %v; want true", ok, err)
		}
		// The old holder's late release leaves the new lease alone.
		if err := s.ReleaseLiveMessage(ctx, "inc5", "node-b"); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.LeaseLiveMessage(ctx, "inc5", "node-a", at(3*time.Minute+time.Second), at(5*time.Minute)); err != nil || ok {
			t.Fatalf("lease after a stale holder's release = %v, %v; want false", ok, err)
		}

		// Nodes at once: one holds it.
		const nodes = 8
		var wg sync.WaitGroup
		won := make([]bool, nodes)
		errs := make([]error, nodes)
		for i := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				won[i], errs[i] = s.LeaseLiveMessage(ctx, "inc6", "node-"+string(rune('a'+i)), at(0), at(time.Minute))
			}()
		}
		wg.Wait()
		n := 0
		for i := range nodes {
			if errs[i] != nil {
				t.Fatalf("node %d: %v", i, errs[i])
			}
			if won[i] {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d of %d simultaneous leases won; want exactly 1", n, nodes)
		}
	})

	t.Run("claims", func(t *testing.T) {
		s := open(t)
		first := &livemsg.Message{IncidentID: "inc2", PageID: "page1", Channel: "C0INCIDENTS", ClaimedAt: at(0), UpdatedAt: at(0)}
		if ok, err := s.ClaimLiveMessage(ctx, first, at(-time.Minute)); err != nil || !ok {
			t.Fatalf("first claim = %v, %v", ok, err)
		}
		// Another node, while the first is posting: refused.
		other := *first
		other.Channel, other.ClaimedAt = "C0OTHER", at(10*time.Second)
		if ok, err := s.ClaimLiveMessage(ctx, &other, at(-50*time.Second)); err != nil || ok {
			t.Fatalf("claim while a fresh one holds = %v, %v; want false", ok, err)
		}
		// The first claim is stale (its node died before posting): taken over.
		if ok, err := s.ClaimLiveMessage(ctx, &other, at(time.Second)); err != nil || !ok {
			t.Fatalf("claim over a stale one = %v, %v; want true", ok, err)
		}
		if got, _ := s.FindLiveMessage(ctx, "inc2"); got == nil || got.Channel != "C0OTHER" {
			t.Fatalf("after the takeover: %+v", got)
		}
		// Posted: never claimed again, however old.
		other.TS = "1.2"
		if err := s.SaveLiveMessage(ctx, &other); err != nil {
			t.Fatal(err)
		}
		late := other
		late.TS, late.ClaimedAt = "", at(time.Hour)
		if ok, err := s.ClaimLiveMessage(ctx, &late, at(2*time.Hour)); err != nil || ok {
			t.Fatalf("claim over a posted message = %v, %v; want false", ok, err)
		}
		if got, _ := s.FindLiveMessage(ctx, "inc2"); got == nil || got.TS != "1.2" {
			t.Fatalf("the posted message's record changed: %+v", got)
		}
	})

	t.Run("concurrent claims", func(t *testing.T) {
		s := open(t)
		const nodes = 8
		var wg sync.WaitGroup
		won := make([]bool, nodes)
		errs := make([]error, nodes)
		for i := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := &livemsg.Message{IncidentID: "inc3", PageID: "page1", Channel: "C0INCIDENTS", ClaimedAt: at(0), UpdatedAt: at(0)}
				won[i], errs[i] = s.ClaimLiveMessage(ctx, m, at(-time.Minute))
			}()
		}
		wg.Wait()
		n := 0
		for i := range nodes {
			if errs[i] != nil {
				t.Fatalf("node %d: %v", i, errs[i])
			}
			if won[i] {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d of %d simultaneous claims won; want exactly 1 (one message per incident)", n, nodes)
		}
	})
	t.Run("replies advance once", func(t *testing.T) {
		s := open(t)
		m := &livemsg.Message{IncidentID: "inc4", PageID: "page1", Channel: "C0INCIDENTS", TS: "1712345678.000100", Replied: "upd1", ClaimedAt: at(0), UpdatedAt: at(0)}
		if ok, err := s.AdvanceLiveReply(ctx, m, ""); incident.ErrorCode(err) != incident.ENOTFOUND || ok {
			t.Fatalf("advance without a record = %v, %v; want false, ENOTFOUND", ok, err)
		}
		if err := s.SaveLiveMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		next := *m
		next.Replied, next.UpdatedAt = "upd2", at(time.Second)
		if ok, err := s.AdvanceLiveReply(ctx, &next, "upd1"); err != nil || !ok {
			t.Fatalf("advance from the stored reply = %v, %v; want true", ok, err)
		}
		stale := *m
		stale.Replied = "upd3"
		if ok, err := s.AdvanceLiveReply(ctx, &stale, "upd1"); err != nil || ok {
			t.Fatalf("advance from a reply another node moved on = %v, %v; want false", ok, err)
		}
		got, err := s.FindLiveMessage(ctx, "inc4")
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "advanced", got, &next)

		// Nodes replying at once: one posts each reply.
		const nodes = 8
		var wg sync.WaitGroup
		won := make([]bool, nodes)
		errs := make([]error, nodes)
		for i := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mine := next
				mine.Replied = "upd3"
				won[i], errs[i] = s.AdvanceLiveReply(ctx, &mine, "upd2")
			}()
		}
		wg.Wait()
		n := 0
		for i := range nodes {
			if errs[i] != nil {
				t.Fatalf("node %d: %v", i, errs[i])
			}
			if won[i] {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d of %d nodes may post the same reply; want exactly 1", n, nodes)
		}
	})
}
