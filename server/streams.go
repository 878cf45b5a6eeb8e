package server

import (
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify"
)

// Event streams. An /events stream holds a connection, three goroutines
// and its buffers for as long as the visitor keeps the page open, so the
// streams are capped per client and in all. The client is the address
// clientIP computes (behind trusted proxies, from X-Forwarded-For), an
// IPv6 address by its /64, as the connection cap counts.

// Event stream defaults.
const (
	// DefaultMaxEventStreamsPerClient allows a visitor several tabs.
	DefaultMaxEventStreamsPerClient = 8
	// DefaultMaxEventStreams bounds the streams' memory (some 30 KB each
	// with their connection: 5 000 open took 158 MB in herald-bench conns)
	// to a few hundred megabytes.
	DefaultMaxEventStreams = 10_000
	// streamReadLimit is how much a client may send on an event stream's
	// connection, where nothing is expected, before the stream is ended.
	streamReadLimit = 64 << 10
)

// streamLimits counts the open event streams, in all and per client.
type streamLimits struct {
	perClient, total int
	open             prometheus.Gauge
	refused          *prometheus.CounterVec
	warnings         *throttledLog

	mu       sync.Mutex
	n        int
	byClient map[netip.Addr]int
}

func newStreamLimits(perClient, total int, reg *prometheus.Registry, log *slog.Logger) *streamLimits {
	return &streamLimits{perClient: perClient, total: total, byClient: map[netip.Addr]int{}, warnings: newThrottledLog(log),
		open: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_event_streams",
			Help: "Public /events streams open.",
		})),
		refused: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_event_streams_refused_total",
			Help: "/events streams refused, by reason: per_client (over max_event_streams_per_client, 429) or capacity (over max_event_streams, 503).",
		}, []string{"reason"})),
	}
}

// acquire counts a stream for client in, or returns the error to answer
// with; release gives the place back, once.
func (l *streamLimits) acquire(c *fiber.Ctx, client netip.Addr) (release func(), err error) {
	key := limitKey(client)
	l.mu.Lock()
	switch {
	case l.n >= l.total:
		l.mu.Unlock()
		l.refused.WithLabelValues("capacity").Inc()
		l.warnings.warn("capacity", "at max_event_streams: refusing new live-update streams", "max_event_streams", l.total)
		c.Set(fiber.HeaderRetryAfter, "30")
		return nil, incident.Errorf(codeUnavailable, "too many live-update streams are open; reload the page later for news")
	case l.byClient[key] >= l.perClient:
		l.mu.Unlock()
		l.refused.WithLabelValues("per_client").Inc()
		l.warnings.warn("per_client", "too many live-update streams from one client: refusing more; if every visitor has this address, list the reverse proxy in trusted_proxies",
			"client", key, "max_event_streams_per_client", l.perClient)
		c.Set(fiber.HeaderRetryAfter, "30")
		return nil, incident.Errorf(notify.ERATELIMITED, "too many live-update streams from your address (at most %d); close some tabs", l.perClient)
	}
	l.n++
	l.byClient[key]++
	l.mu.Unlock()
	l.open.Inc()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			l.n--
			if n := l.byClient[key] - 1; n > 0 {
				l.byClient[key] = n
			} else {
				delete(l.byClient, key)
			}
			l.mu.Unlock()
			l.open.Dec()
		})
	}, nil
}

// count is the number of streams open.
func (l *streamLimits) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// watchClose reads a streaming response's connection, on which the client
// sends nothing more, and closes the returned channel when the client
// closes it (or resets it, or sends more than streamReadLimit): a stream's
// writes alone would notice only at the next heartbeat. It takes the
// connection's reads over, so the response must close the connection when
// it ends (SetConnectionClose), and the caller must never close conn
// itself (fasthttp does, after the response). Only a connection from
// Serve's listener is watched; another (app.Test's, in memory) is never
// reported closed.
func watchClose(c *fiber.Ctx) <-chan struct{} {
	gone := make(chan struct{})
	conn := c.Context().Conn()
	if _, ok := conn.(*guardedConn); !ok {
		return gone
	}
	c.Context().SetConnectionClose()
	go func() {
		defer close(gone)
		// fasthttp's read deadline was the request's; a stream has none.
		_ = conn.SetReadDeadline(time.Time{})
		buf := make([]byte, 512)
		for read := 0; read < streamReadLimit; {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			read += n
		}
	}()
	return gone
}

// keepWriting returns what a stream calls after each write it flushed:
// fasthttp sets one write deadline per response, which a stream outlives,
// so each successful write pushes the deadline past the next heartbeat
// (heartbeat and a write timeout), and a client that stops reading is
// still cut off then.
func (s *Server) keepWriting(c *fiber.Ctx, heartbeat time.Duration) func() {
	conn, extend := c.Context().Conn(), heartbeat+s.cfg.WriteTimeout
	return func() { _ = conn.SetWriteDeadline(time.Now().Add(extend)) }
}

// watchLink ends the live streams when this node's event subscription has
// been down for Config.LinkGrace: the node hears no change from the other
// nodes, so its streams would stay open and silent for the whole outage,
// while the load balancer (told by /readyz) would send the clients'
// reconnects to a node that hears them. Streams opened while it is down
// end at once; once it is back they run as before. It returns on Shutdown.
func (s *Server) watchLink(link incident.Linked) {
	for {
		changed := link.LinkChanged() // before Link: no change is missed
		if link.Link().Up {
			s.setLinkLost(false)
			select {
			case <-changed:
				continue
			case <-s.done:
				return
			}
		}
		grace := time.NewTimer(s.cfg.LinkGrace)
		select {
		case <-grace.C:
			s.log.Warn("event subscription down; ending live streams so their clients reconnect to a node that hears changes",
				"after", s.cfg.LinkGrace, "streams", s.streams.count())
			s.setLinkLost(true)
			select {
			case <-changed:
			case <-s.done:
				return
			}
		case <-changed:
			grace.Stop() // a blip: the streams stay
		case <-s.done:
			grace.Stop()
			return
		}
	}
}

// setLinkLost closes the channel lostLink hands out (lost), or replaces a
// closed one with an open one (back).
func (s *Server) setLinkLost(lost bool) {
	s.linkMu.Lock()
	defer s.linkMu.Unlock()
	select {
	case <-s.linkLost:
		if !lost {
			s.linkLost = make(chan struct{})
		}
	default:
		if lost {
			close(s.linkLost)
		}
	}
}

// lostLink returns a channel a live stream ends on: closed once the event
// subscription has been down for Config.LinkGrace (watchLink).
func (s *Server) lostLink() <-chan struct{} {
	s.linkMu.Lock()
	defer s.linkMu.Unlock()
	return s.linkLost
}
