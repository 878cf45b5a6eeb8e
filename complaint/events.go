package complaint

import (
	"context"
	"sync"
	"time"

	"github.com/heraldhq/herald/incident"
)

// DefaultEventGap is NewService's EventGap.
const DefaultEventGap = 100 * time.Millisecond

// eventKey is what a complaint event says: which page and which incident
// (or none) has a changed complaint. Events with the same key are the
// same news.
type eventKey struct{ page, incident string }

// eventGate spaces out the service's events (Service.EventGap): the first
// change of a key is published at once; changes within the gap after it
// are published together once, when the gap has passed. In a complaint
// storm, two thousand saves a second about one incident became as many
// identical events, each a Redis PUBLISH in the request, a message every
// other node decoded and a line on every agent's feed; the console, which
// gathers events for a quarter second anyway, saw no difference.
type eventGate struct {
	mu      sync.Mutex
	last    map[eventKey]time.Time // when the key was last published
	pending map[eventKey]bool      // a publish is due at the end of the gap
}

// publish announces that complaint c changed, within the gate (see eventGate).
func (s *Service) publish(ctx context.Context, c *Complaint) {
	if s.Events == nil {
		return
	}
	ev := incident.Event{Type: EventChanged, PageID: c.PageID, IncidentID: c.IncidentID()}
	if s.EventGap <= 0 {
		s.send(ctx, ev)
		return
	}
	key, now := eventKey{ev.PageID, ev.IncidentID}, time.Now()
	g := &s.events
	g.mu.Lock()
	if g.last == nil {
		g.last, g.pending = map[eventKey]time.Time{}, map[eventKey]bool{}
	}
	if g.pending[key] {
		g.mu.Unlock()
		return // the publish at the end of the gap carries this change too
	}
	if since := now.Sub(g.last[key]); since < s.EventGap {
		g.pending[key] = true
		g.mu.Unlock()
		time.AfterFunc(s.EventGap-since, func() {
			g.mu.Lock()
			delete(g.pending, key)
			g.last[key] = time.Now()
			g.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s.send(ctx, ev)
		})
		return
	}
	if len(g.last) >= 1024 {
		// Forget keys quiet for longer than the gap: they publish at once
		// anyway.
		for k, t := range g.last {
			if now.Sub(t) >= s.EventGap && !g.pending[k] {
				delete(g.last, k)
			}
		}
	}
	g.last[key] = now
	g.mu.Unlock()
	s.send(ctx, ev)
}

func (s *Service) send(ctx context.Context, ev incident.Event) {
	if err := s.Events.Publish(ctx, ev); err != nil {
		s.Log.Warn("publish complaint event", "page_id", ev.PageID, "incident_id", ev.IncidentID, "err", err)
	}
}
