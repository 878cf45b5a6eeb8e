package complaint

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
)

// eventRecorder is an incident.Events that hands every published event to
// a channel.
type eventRecorder struct{ got chan incident.Event }

func (r *eventRecorder) Publish(_ context.Context, ev incident.Event) error {
	r.got <- ev
	return nil
}

func (r *eventRecorder) Subscribe() (<-chan incident.Event, func()) { return r.got, func() {} }

func gateService(gap time.Duration) (*Service, *eventRecorder) {
	rec := &eventRecorder{got: make(chan incident.Event, 1000)}
	return &Service{Events: rec, EventGap: gap, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, rec
}

func tagged(page, inc string) *Complaint {
	c := &Complaint{PageID: page}
	if inc != "" {
		c.Tag = &Tag{IncidentID: inc}
	}
	return c
}

// drain returns the events published so far, without waiting.
func (r *eventRecorder) drain() []incident.Event {
	var out []incident.Event
	for {
		select {
		case ev := <-r.got:
			out = append(out, ev)
		default:
			return out
		}
	}
}

// TestEventGateBurst: a burst of changes to one page and incident is one
// event at once (and, with a gap longer than the test, nothing more yet);
// another incident, another page and untagged complaints are news of
// their own, each published at once.
func TestEventGateBurst(t *testing.T) {
	s, rec := gateService(time.Hour)
	ctx := context.Background()
	for range 500 {
		s.publish(ctx, tagged("p1", "inc1"))
	}
	s.publish(ctx, tagged("p1", "inc2"))
	s.publish(ctx, tagged("p2", "inc1"))
	s.publish(ctx, tagged("p1", ""))
	got := rec.drain()
	want := []incident.Event{{Type: EventChanged, PageID: "p1", IncidentID: "inc1"}, {Type: EventChanged, PageID: "p1", IncidentID: "inc2"},
		{Type: EventChanged, PageID: "p2", IncidentID: "inc1"}, {Type: EventChanged, PageID: "p1"}}
	if len(got) != len(want) {
		t.Fatalf("published %d events, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestEventGateTrailing: a change within the gap is not lost: it is
// published once when the gap ends, for every change the gap gathered.
func TestEventGateTrailing(t *testing.T) {
	const gap = 20 * time.Millisecond
	s, rec := gateService(gap)
	ctx := context.Background()
	start := time.Now()
	for range 51 {
		s.publish(ctx, tagged("p1", "inc1"))
	}
	// The first change at once, every other one in a single event when
	// the gap ends.
	var got []incident.Event
	for len(got) < 2 {
		select {
		case ev := <-rec.got:
			if ev.PageID != "p1" || ev.IncidentID != "inc1" {
				t.Fatalf("event %+v", ev)
			}
			got = append(got, ev)
		case <-time.After(5 * time.Second):
			t.Fatalf("%d events in 5 s: the changes within the gap were never published", len(got))
		}
	}
	if waited := time.Since(start); waited < gap {
		t.Fatalf("the second event came after %s, before the gap of %s ended", waited, gap)
	}
	// The gate is open again once a gap has passed since the last publish.
	s.events.mu.Lock()
	for s.events.pending[eventKey{"p1", "inc1"}] {
		s.events.mu.Unlock()
		time.Sleep(time.Millisecond)
		s.events.mu.Lock()
	}
	last := s.events.last[eventKey{"p1", "inc1"}]
	s.events.mu.Unlock()
	for time.Since(last) < gap {
		time.Sleep(time.Millisecond)
	}
	s.publish(ctx, tagged("p1", "inc1"))
	if got := rec.drain(); len(got) != 1 {
		t.Fatalf("a change a gap after the last event: %d events at once, want 1", len(got))
	}
}

// TestEventGateOff: with no gap every change is published.
func TestEventGateOff(t *testing.T) {
	s, rec := gateService(0)
	for range 10 {
		s.publish(context.Background(), tagged("p1", "inc1"))
	}
	if got := rec.drain(); len(got) != 10 {
		t.Fatalf("published %d events, want 10", len(got))
	}
}
