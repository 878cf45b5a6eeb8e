package incident

import (
	"context"
	"sync"
	"time"
)

// EventType names what happened.
type EventType string

// Event types.
const (
	EventPageChanged      EventType = "page.changed"      // page settings or components
	EventIncidentChanged  EventType = "incident.changed"  // created, updated, resolved
	EventIncidentDeleted  EventType = "incident.deleted"  // removed
	EventBroadcastCreated EventType = "broadcast.created" // an outbox row awaits the planner
	// EventResync says events may have been missed (this node's link to
	// the others broke and is back): a receiver drops what it keeps from
	// earlier events and re-reads the store. It is delivered on this node
	// only, and names no page or incident.
	EventResync EventType = "events.resync"
)

// Event tells other parts (the status page, notify, other nodes) that
// something changed. Events carry IDs, not state: a receiver re-reads the
// store, which stays the source of truth.
type Event struct {
	Type       EventType `json:"type"`
	PageID     string    `json:"page_id"`
	IncidentID string    `json:"incident_id,omitempty"`
	Origin     string    `json:"origin,omitempty"` // node that published it
}

// Events publishes events to every subscriber, on this node and, in the
// Redis engine, on every node.
type Events interface {
	// Publish sends ev to subscribers. Delivery is at most once; it must not
	// block on slow subscribers.
	Publish(ctx context.Context, ev Event) error
	// Subscribe returns a channel of events and a cancel func that closes it.
	Subscribe() (<-chan Event, func())
}

// LinkState is what an Events bus linking nodes says of its link to the
// others (Linked).
type LinkState struct {
	// Up reports whether events from other nodes arrive now.
	Up bool
	// Resyncs counts the times the link came back after it broke; each
	// is followed by an EventResync on this node. A receiver that has
	// re-read the store after the n-th has caught up with it.
	Resyncs uint64
}

// Linked is implemented by an Events bus whose link to the other nodes
// can break (store/redis.Events; the in-process bus has none): readiness
// and live streams watch it.
type Linked interface {
	// Link returns the link's state now; it is cheap (no network).
	Link() LinkState
	// LinkChanged returns a channel that is closed at the next change
	// of Link.
	LinkChanged() <-chan struct{}
}

// LocalEvents is the in-process Events: fan-out to buffered channels;
// a subscriber that falls behind loses events rather than blocking the
// publisher. It is then owed an EventResync, delivered as soon as its
// channel has room (at the next event, or by a retry within
// resyncRetry), so that it re-reads the store instead of keeping what the
// lost events would have changed (an agent's view of a decision, a
// page). EventResync already means exactly that to every receiver.
type LocalEvents struct {
	mu   sync.Mutex
	subs map[chan Event]*localSub
}

// localSub is one subscriber; owed is guarded by LocalEvents.mu.
type localSub struct {
	owed     bool // an event was dropped and no EventResync has gone since
	retrying bool // resyncLater runs for it
}

// resyncRetry is how often a resync owed to a full subscriber is tried
// again when no event comes to carry it.
const resyncRetry = 50 * time.Millisecond

var _ Events = (*LocalEvents)(nil)

// NewLocalEvents returns an empty in-process bus.
func NewLocalEvents() *LocalEvents { return &LocalEvents{subs: map[chan Event]*localSub{}} }

// Publish implements Events.
func (b *LocalEvents) Publish(_ context.Context, ev Event) error {
	b.Deliver(ev)
	return nil
}

// Deliver hands ev to this node's subscribers; a networked bus calls it for
// events that arrive from other nodes.
func (b *LocalEvents) Deliver(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch, sub := range b.subs {
		if sub.owed && !offer(ch, Event{Type: EventResync}) {
			continue // still full: ev is lost too, and the resync covers it
		}
		sub.owed = false
		if !offer(ch, ev) {
			sub.owed = true
			if !sub.retrying {
				sub.retrying = true
				go b.resyncLater(ch)
			}
		}
	}
}

// offer sends ev on ch if it has room.
func offer(ch chan Event, ev Event) bool {
	select {
	case ch <- ev:
		return true
	default:
		return false
	}
}

// resyncLater delivers the EventResync owed to ch once it has room, unless
// an event carried it first or ch was cancelled.
func (b *LocalEvents) resyncLater(ch chan Event) {
	t := time.NewTicker(resyncRetry)
	defer t.Stop()
	for range t.C {
		b.mu.Lock()
		sub, ok := b.subs[ch]
		if ok && sub.owed && offer(ch, Event{Type: EventResync}) {
			sub.owed = false
		}
		if !ok || !sub.owed {
			if ok {
				sub.retrying = false
			}
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
	}
}

// Subscribe implements Events.
func (b *LocalEvents) Subscribe() (<-chan Event, func()) {
	ch := make(chan Event, 256)
	b.mu.Lock()
	b.subs[ch] = &localSub{}
	b.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, ch)
			b.mu.Unlock()
			close(ch)
		})
	}
}
