package queue

import (
	"testing"

	"github.com/heraldhq/herald/channel"
)

func TestProgressFinished(t *testing.T) {
	tests := []struct {
		name string
		p    Progress
		want bool
	}{
		{"planning", Progress{State: PlanPending}, false},
		{"planned, one pending", Progress{State: PlanDone, Counts: map[channel.Kind]map[DeliveryState]int{channel.SMS: {StateSent: 3, StatePending: 1}}}, false},
		{"planned, one sending", Progress{State: PlanDone, Counts: map[channel.Kind]map[DeliveryState]int{channel.Email: {StateSending: 1}}}, false},
		{"planned, all final", Progress{State: PlanDone, Counts: map[channel.Kind]map[DeliveryState]int{channel.SMS: {StateDelivered: 2, StateFailed: 1}}}, true},
		{"cancelled, nothing open", Progress{State: PlanCancelled, Counts: map[channel.Kind]map[DeliveryState]int{channel.SMS: {StateCancelled: 5}}}, true},
	}
	for _, tt := range tests {
		if got := tt.p.Finished(); got != tt.want {
			t.Errorf("%s: Finished() = %v, want %v", tt.name, got, tt.want)
		}
	}
}
