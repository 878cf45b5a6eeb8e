package queue_test

import (
	"encoding/json"
	"testing"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/queue"
)

// TestPhase: a broadcast whose messages are all queued but not all sent is
// "sending", not "done" (what its plan's state says).
func TestPhase(t *testing.T) {
	for _, tt := range []struct {
		state  queue.PlanState
		counts map[queue.DeliveryState]int
		want   string
	}{
		{queue.PlanPending, nil, "pending"},
		{queue.PlanDone, map[queue.DeliveryState]int{queue.StatePending: 720, queue.StateSent: 180}, "sending"},
		{queue.PlanDone, map[queue.DeliveryState]int{queue.StateSending: 1, queue.StateSent: 899}, "sending"},
		{queue.PlanDone, map[queue.DeliveryState]int{queue.StateSent: 899, queue.StateFailed: 1}, "done"},
		{queue.PlanCancelled, map[queue.DeliveryState]int{queue.StateCancelled: 10}, "cancelled"},
	} {
		p := &queue.Progress{State: tt.state, Counts: map[channel.Kind]map[queue.DeliveryState]int{channel.SMS: tt.counts}}
		if got := p.Phase(); got != tt.want {
			t.Errorf("%s with %v: %s, want %s", tt.state, tt.counts, got, tt.want)
		}
	}
}

// TestProgressJSONSaysPhase: the progress as the API answers it carries
// the phase beside the plan's state, and its other fields as before.
func TestProgressJSONSaysPhase(t *testing.T) {
	p := queue.Progress{BroadcastID: "b1", State: queue.PlanDone, Planned: 2,
		Counts: map[channel.Kind]map[queue.DeliveryState]int{channel.Webhook: {queue.StatePending: 1, queue.StateSent: 1}}}
	for _, v := range []any{p, &p} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got["phase"] != "sending" || got["state"] != "done" || got["broadcast_id"] != "b1" || got["planned"] != 2.0 {
			t.Errorf("progress JSON %s: want phase sending beside state done and the other fields", b)
		}
	}
}
