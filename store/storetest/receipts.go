package storetest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

func testSetDeliveryStatus(t *testing.T, _ incident.Store, ns Pipeline) {
	ctx := context.Background()
	now := at(time.Hour)
	// sent returns a fresh delivery in state sent.
	n := 0
	sent := func(t *testing.T) *queue.Delivery {
		t.Helper()
		n++
		d := newDelivery(nil, channel.SMS, fmt.Sprintf("+3620100%04d", n), "r", now)
		enqueue(t, ns, d)
		c := claim(t, ns, channel.SMS, now, time.Minute, 1)
		if len(c) != 1 || c[0].ID != d.ID {
			t.Fatalf("claim = %v, want %s", orderedIDs(c), d.ID)
		}
		c[0].State, c[0].ProviderID = queue.StateSent, fmt.Sprintf("SM%d", n)
		if err := ns.FinishDeliveries(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c[0]
	}
	type step struct {
		state queue.DeliveryState
		code  string
	}
	tests := []struct {
		name      string
		steps     []step
		want      queue.DeliveryState
		wantCode  string
		delivered bool
	}{
		{"sent to delivered", []step{{queue.StateDelivered, ""}}, queue.StateDelivered, "", true},
		{"sent to undelivered", []step{{queue.StateUndelivered, "30003"}}, queue.StateUndelivered, "30003", false},
		{"sent to failed", []step{{queue.StateFailed, "30007"}}, queue.StateFailed, "30007", false},
		{"duplicate receipt", []step{{queue.StateDelivered, ""}, {queue.StateDelivered, ""}}, queue.StateDelivered, "", true},
		{"never back from delivered", []step{{queue.StateDelivered, ""}, {queue.StateUndelivered, "30003"}}, queue.StateDelivered, "", true},
		{"a final failure stays", []step{{queue.StateFailed, "30007"}, {queue.StateUndelivered, "30003"}}, queue.StateFailed, "30007", false},
		{"sent again is a no-op", []step{{queue.StateSent, ""}}, queue.StateSent, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := sent(t)
			for i, s := range tt.steps {
				if err := ns.SetDeliveryStatus(ctx, d.ID, s.state, string(s.state), s.code, now.Add(time.Duration(i+1)*time.Second)); err != nil {
					t.Fatalf("SetDeliveryStatus(%s): %v", s.state, err)
				}
			}
			got := findDelivery(t, ns, d.ID)
			if got.State != tt.want || got.ErrorCode != tt.wantCode {
				t.Errorf("state %s, code %q; want %s, %q", got.State, got.ErrorCode, tt.want, tt.wantCode)
			}
			if tt.delivered && (got.DeliveredAt == nil || !got.DeliveredAt.Equal(now.Add(time.Second))) {
				t.Errorf("DeliveredAt = %v, want %v (the first receipt)", got.DeliveredAt, now.Add(time.Second))
			}
			if !tt.delivered && got.DeliveredAt != nil {
				t.Errorf("DeliveredAt = %v, want nil", got.DeliveredAt)
			}
		})
	}

	t.Run("not yet sent: ignored", func(t *testing.T) {
		d := newDelivery(nil, channel.Email, "late@example.com", "r", now.Add(time.Hour))
		enqueue(t, ns, d)
		if err := ns.SetDeliveryStatus(ctx, d.ID, queue.StateDelivered, "delivered", "", now); err != nil {
			t.Fatal(err)
		}
		if got := findDelivery(t, ns, d.ID); got.State != queue.StatePending {
			t.Errorf("state = %s, want pending (a receipt cannot skip the send)", got.State)
		}
	})

	t.Run("errors", func(t *testing.T) {
		wantErr(t, "unknown delivery", ns.SetDeliveryStatus(ctx, "nope", queue.StateDelivered, "delivered", "", now), incident.ErrNotFound)
		d := sent(t)
		wantErr(t, "receipt state pending", ns.SetDeliveryStatus(ctx, d.ID, queue.StatePending, "queued", "", now), incident.ErrInvalid)
	})
}

// ---- receipts kept for provider IDs not yet written ----

func testReceipts(t *testing.T, _ incident.Store, ns Pipeline) {
	ctx := context.Background()
	now := at(time.Hour)
	receipt := func(id string, st queue.DeliveryState, code string, expires time.Time) queue.PendingReceipt {
		return queue.PendingReceipt{ProviderID: id, State: st, Status: string(st), ErrorCode: code, At: now, Expires: expires}
	}
	keep := func(t *testing.T, r queue.PendingReceipt, now time.Time) {
		t.Helper()
		if err := ns.KeepReceipt(ctx, r, now); err != nil {
			t.Fatalf("KeepReceipt(%s): %v", r.ProviderID, err)
		}
	}
	take := func(t *testing.T, now time.Time, ids ...string) []queue.PendingReceipt {
		t.Helper()
		rs, err := ns.TakeReceipts(ctx, ids, now)
		if err != nil {
			t.Fatalf("TakeReceipts: %v", err)
		}
		sort.Slice(rs, func(i, j int) bool { return rs[i].ProviderID < rs[j].ProviderID })
		if rs == nil {
			rs = []queue.PendingReceipt{}
		}
		return rs
	}

	t.Run("invalid", func(t *testing.T) {
		for _, r := range []queue.PendingReceipt{
			receipt("", queue.StateDelivered, "", now.Add(time.Hour)),
			receipt("SMbad", queue.StateSent, "", now.Add(time.Hour)),
			receipt("SMbad", queue.StatePending, "", now.Add(time.Hour)),
			receipt("SMbad", "", "", now.Add(time.Hour)),
		} {
			wantErr(t, fmt.Sprintf("KeepReceipt(%q, %q)", r.ProviderID, r.State), ns.KeepReceipt(ctx, r, now), incident.ErrInvalid)
		}
		equal(t, "taken after refusals", take(t, now, "SMbad", ""), []queue.PendingReceipt{})
	})

	t.Run("kept until taken, once", func(t *testing.T) {
		delivered := receipt("SMa", queue.StateDelivered, "", now.Add(time.Hour))
		failed := receipt("SMb", queue.StateFailed, "30007", now.Add(time.Hour))
		failed.Status = "canceled"
		keep(t, delivered, now)
		keep(t, receipt("SMa", queue.StateUndelivered, "30003", now.Add(2*time.Hour)), now.Add(time.Second)) // the first stays
		keep(t, failed, now)
		keep(t, receipt("SMc", queue.StateDelivered, "", now.Add(time.Hour)), now)
		equal(t, "none for other IDs", take(t, now, "SMx", "SMy"), []queue.PendingReceipt{})
		equal(t, "taken", take(t, now.Add(time.Minute), "SMa", "SMb", "SMx"), []queue.PendingReceipt{delivered, failed})
		equal(t, "taken again", take(t, now.Add(time.Minute), "SMa", "SMb"), []queue.PendingReceipt{})
		equal(t, "the one not asked for stays", take(t, now.Add(time.Minute), "SMc"),
			[]queue.PendingReceipt{receipt("SMc", queue.StateDelivered, "", now.Add(time.Hour))})
		equal(t, "nothing asked", take(t, now), []queue.PendingReceipt{})
	})

	t.Run("expiry", func(t *testing.T) {
		keep(t, receipt("SMd", queue.StateDelivered, "", now), now) // expired already: not kept
		keep(t, receipt("SMe", queue.StateDelivered, "", now.Add(time.Minute)), now)
		keep(t, receipt("SMf", queue.StateDelivered, "", now.Add(time.Minute)), now)
		equal(t, "expired", take(t, now.Add(time.Minute), "SMd", "SMe"), []queue.PendingReceipt{})
		equal(t, "expired, taken later", take(t, now.Add(time.Hour), "SMe"), []queue.PendingReceipt{})
		// An expired receipt does not hold its provider ID: a new one is kept.
		fresh := receipt("SMf", queue.StateUndelivered, "30003", now.Add(time.Hour))
		fresh.At = now.Add(2 * time.Minute)
		keep(t, fresh, now.Add(2*time.Minute))
		equal(t, "kept after expiry", take(t, now.Add(3*time.Minute), "SMf"), []queue.PendingReceipt{fresh})
	})

	t.Run("concurrent takers", func(t *testing.T) {
		const takers = 8
		ids := []string{"SMg1", "SMg2", "SMg3"}
		for _, id := range ids {
			keep(t, receipt(id, queue.StateDelivered, "", now.Add(time.Hour)), now)
		}
		var mu sync.Mutex
		got := map[string]int{}
		var wg sync.WaitGroup
		errs := make(chan error, takers)
		for range takers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rs, err := ns.TakeReceipts(ctx, ids, now)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, r := range rs {
					got[r.ProviderID]++
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		equal(t, "takes per receipt", got, map[string]int{"SMg1": 1, "SMg2": 1, "SMg3": 1})
	})
}
