package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/incident"
)

// Events is incident.Events across nodes over Redis pub/sub: Publish sends
// the event as JSON on the "<prefix>:events" channel, and a background
// subscriber hands what other nodes publish to this node's subscribers.
//
// Own events are delivered locally at once and their pub/sub echo is
// skipped by Event.Origin, rather than relying on the echo alone: this
// node's status page and planner then react even while Redis is briefly
// unreachable, and without a network round trip, and still see each event
// exactly once. Pub/sub is at most once: events lost while the subscription
// reconnects are not replayed. Events carry IDs only, so once subscribed
// again the subscriber delivers incident.EventResync locally, and each
// receiver re-reads the store (the status page re-renders every page) rather
// than show what it read before the outage until the next event.
type Events struct {
	client  goredis.UniversalClient
	channel string
	node    string
	local   *incident.LocalEvents
	log     *slog.Logger

	ps     *goredis.PubSub
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	linkMu  sync.Mutex
	link    incident.LinkState
	changed chan struct{} // closed at the next change of link
}

var (
	_ incident.Events = (*Events)(nil)
	_ incident.Linked = (*Events)(nil)
)

// receiveTimeout bounds one wait for a message; on timeout the subscriber
// pings, so a silently dead connection is noticed and replaced.
const receiveTimeout = 30 * time.Second

// NewEvents subscribes to prefix's event channel as node nodeID (unique per
// process, e.g. incident.NewID()) and returns once the subscription is
// active, so nothing published after it returns is missed. log may be nil.
// Close stops the subscriber; it does not close client.
func NewEvents(ctx context.Context, client goredis.UniversalClient, prefix, nodeID string, log *slog.Logger) (*Events, error) {
	if nodeID == "" {
		return nil, errors.New("redis: events need a node ID")
	}
	if log == nil {
		log = slog.Default()
	}
	e := &Events{client: client, channel: keyspace{prefix: prefix}.events(), node: nodeID,
		local: incident.NewLocalEvents(), log: log, done: make(chan struct{}),
		link: incident.LinkState{Up: true}, changed: make(chan struct{})}
	ps := client.Subscribe(ctx, e.channel)
	// The first reply confirms the subscription.
	if _, err := ps.Receive(ctx); err != nil {
		_ = ps.Close()
		return nil, fmt.Errorf("redis: subscribe to events: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	e.cancel, e.ps = cancel, ps
	go e.run(runCtx, ps)
	return e, nil
}

// NewEvents returns Events on the store's client and prefix; see NewEvents.
func (db *DB) NewEvents(ctx context.Context, nodeID string, log *slog.Logger) (*Events, error) {
	return NewEvents(ctx, db.client, db.keys.prefix, nodeID, log)
}

// Node returns the node ID that marks this node's events.
func (e *Events) Node() string { return e.node }

// Publish implements incident.Events. It stamps ev with this node's ID,
// delivers it to local subscribers, then to the other nodes; the error says
// only that the other nodes may have missed it.
func (e *Events) Publish(ctx context.Context, ev incident.Event) error {
	ev.Origin = e.node
	e.local.Deliver(ev)
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("redis: encode event: %w", err)
	}
	if err := e.client.Publish(ctx, e.channel, b).Err(); err != nil {
		return fmt.Errorf("redis: publish event: %w", err)
	}
	return nil
}

// Subscribe implements incident.Events.
func (e *Events) Subscribe() (<-chan incident.Event, func()) { return e.local.Subscribe() }

// Link implements incident.Linked: whether the subscription is up, and
// how many times it has come back.
func (e *Events) Link() incident.LinkState {
	e.linkMu.Lock()
	defer e.linkMu.Unlock()
	return e.link
}

// LinkChanged implements incident.Linked.
func (e *Events) LinkChanged() <-chan struct{} {
	e.linkMu.Lock()
	defer e.linkMu.Unlock()
	return e.changed
}

// setLink records the subscription up or down, counting a return, and
// wakes whoever waits for a change.
func (e *Events) setLink(up bool) {
	e.linkMu.Lock()
	defer e.linkMu.Unlock()
	if e.link.Up == up {
		return
	}
	e.link.Up = up
	if up {
		e.link.Resyncs++
	}
	close(e.changed)
	e.changed = make(chan struct{})
}

// Close stops the subscriber and waits for it to finish.
func (e *Events) Close() error {
	e.once.Do(func() {
		e.cancel()
		// Closing the connection unblocks a receive in progress, which
		// does not watch the context.
		_ = e.ps.Close()
		<-e.done
	})
	return nil
}

// run receives until ctx ends. go-redis's PubSub redials and resubscribes
// by itself after a connection error, on the next receive; run only backs
// off between failures so a Redis outage does not become a busy loop.
func (e *Events) run(ctx context.Context, ps *goredis.PubSub) {
	defer close(e.done)
	backoff := 100 * time.Millisecond
	lost := false // the subscription broke: events may have been missed
	for {
		msg, err := ps.ReceiveTimeout(ctx, receiveTimeout)
		if ctx.Err() != nil {
			return
		}
		var nerr net.Error
		switch {
		case errors.As(err, &nerr) && nerr.Timeout():
			// Quiet channel: check the connection is alive.
			if err := ps.Ping(ctx); err != nil && ctx.Err() == nil {
				e.log.Warn("events: ping subscription", "err", err)
			}
			continue
		case errors.Is(err, goredis.ErrClosed):
			return // the client was closed under us: shutting down
		case err != nil:
			// A closed connection is what a closing client looks like
			// first (the next Receive then says ErrClosed): no warning
			// for it, but the same reconnect as for any loss.
			level := slog.LevelWarn
			if errors.Is(err, net.ErrClosed) {
				level = slog.LevelDebug
			}
			e.log.Log(ctx, level, "events: subscription lost; reconnecting", "err", err, "retry_in", backoff)
			lost = true
			e.setLink(false)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if sub, ok := msg.(*goredis.Subscription); ok && sub.Kind == "subscribe" && lost {
			// Subscribed again: what the other nodes published meanwhile
			// is gone (pub/sub keeps nothing), so this node's receivers
			// re-read the store rather than wait for the next event.
			lost = false
			e.log.Info("events: subscription back; re-reading what may have changed meanwhile")
			// Up (and counted) before the resync is delivered, so a
			// receiver that re-reads on it knows which return it covers.
			e.setLink(true)
			e.local.Deliver(incident.Event{Type: incident.EventResync, Origin: e.node})
			continue
		}
		m, ok := msg.(*goredis.Message)
		if !ok {
			continue // subscription confirmations, pongs
		}
		var ev incident.Event
		if err := json.Unmarshal([]byte(m.Payload), &ev); err != nil {
			e.log.Warn("events: malformed event", "err", err)
			continue
		}
		if ev.Origin == e.node {
			continue // delivered locally when published
		}
		e.local.Deliver(ev)
	}
}
