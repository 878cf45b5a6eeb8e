package console

import (
	"testing"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/queue"
)

// TestProgressPhase: a broadcast whose plan is done but whose messages
// are still going out reads "sending", not done, until nothing is open.
func TestProgressPhase(t *testing.T) {
	counts := func(pending, delivered int) map[channel.Kind]map[queue.DeliveryState]int {
		return map[channel.Kind]map[queue.DeliveryState]int{channel.SMS: {queue.StatePending: pending, queue.StateDelivered: delivered}}
	}
	tests := []struct {
		p    queue.Progress
		want string
	}{
		{queue.Progress{State: queue.PlanPending}, "pending"},
		{queue.Progress{State: queue.PlanDone, Counts: counts(3, 1)}, "sending"},
		{queue.Progress{State: queue.PlanDone, Counts: counts(0, 4)}, "done"},
		{queue.Progress{State: queue.PlanCancelled, Counts: counts(0, 1)}, "cancelled"},
	}
	for _, tc := range tests {
		p := tc.p
		rows := progressRows([]*queue.Progress{&p})
		if len(rows) != 1 || rows[0].Phase != tc.want {
			t.Errorf("%s with %v: phase %+v, want %s", p.State, p.Counts, rows, tc.want)
		}
	}
}
