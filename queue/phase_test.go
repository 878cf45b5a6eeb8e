package queue_test

import (
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
