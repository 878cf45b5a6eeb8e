package incident_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
)

// TestLocalEventsOweAResync: a subscriber that fell behind (its buffer
// full, events dropped) gets an EventResync once it has room, with or
// without a later event to carry it, so that it re-reads the store rather
// than keep what the lost events changed; one that kept up gets none.
func TestLocalEventsOweAResync(t *testing.T) {
	for _, later := range []bool{false, true} {
		bus := incident.NewLocalEvents()
		slow, cancelSlow := bus.Subscribe()
		defer cancelSlow()
		ctx := context.Background()
		const n = 300 // more than a subscriber's buffer
		for i := range n {
			if err := bus.Publish(ctx, incident.Event{Type: incident.EventIncidentChanged, IncidentID: string(rune('a' + i%26))}); err != nil {
				t.Fatal(err)
			}
		}
		drained := 0
		for len(slow) > 0 {
			if ev := <-slow; ev.Type != incident.EventIncidentChanged {
				t.Fatalf("event %d while draining: %s", drained, ev.Type)
			}
			drained++
		}
		if drained >= n {
			t.Fatalf("nothing was dropped (%d of %d kept): the test proves nothing", drained, n)
		}
		if later {
			if err := bus.Publish(ctx, incident.Event{Type: incident.EventPageChanged}); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case ev := <-slow:
			if ev.Type != incident.EventResync {
				t.Fatalf("later=%v: after the drops came %s, want %s first", later, ev.Type, incident.EventResync)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("later=%v: no %s after %d events were dropped", later, incident.EventResync, n-drained)
		}
		if later {
			if ev := <-slow; ev.Type != incident.EventPageChanged {
				t.Errorf("the event after the resync: %s", ev.Type)
			}
		}
	}

	bus := incident.NewLocalEvents()
	keeping, cancel := bus.Subscribe()
	defer cancel()
	for range 10 {
		if err := bus.Publish(context.Background(), incident.Event{Type: incident.EventIncidentChanged}); err != nil {
			t.Fatal(err)
		}
		if ev := <-keeping; ev.Type != incident.EventIncidentChanged {
			t.Fatalf("a subscriber that keeps up got %s", ev.Type)
		}
	}
	if len(keeping) != 0 {
		t.Errorf("%d unexpected events for a subscriber that kept up", len(keeping))
	}
}
