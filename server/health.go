package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald/incident"
)

// metrics holds the HTTP collectors; open incidents are counted on scrape.
type metrics struct {
	http    *httpStats
	inbound *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry, svc *incident.Service, log *slog.Logger) *metrics {
	m := &metrics{http: register(reg, newHTTPStats())}
	m.inbound = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "herald_inbound_webhooks_total",
		Help: "Inbound provider webhooks, by kind (twilio_sms, twilio_status, slack_command, slack_interaction) and result (ok, forged, invalid, ignored, kept, error).",
	}, []string{"kind", "result"}))
	if svc != nil {
		register[prometheus.Collector](reg, &openIncidents{svc: svc, log: log, desc: prometheus.NewDesc(
			"herald_open_incidents", "Unresolved incidents and maintenances underway, by page.", []string{"page_id"}, nil)})
	}
	return m
}

// register registers c, or returns the collector already registered under
// its name, so two Servers can share a registry (tests, restarts in process).
func register[C prometheus.Collector](reg *prometheus.Registry, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}

// openIncidents computes herald_open_incidents on scrape through the
// Service: /metrics is scraped every few seconds at most, so a query per
// scrape is cheaper than keeping a gauge in step with every event.
type openIncidents struct {
	svc  *incident.Service
	log  *slog.Logger
	desc *prometheus.Desc
}

var openStatuses = []incident.Status{incident.Investigating, incident.Identified, incident.Monitoring, incident.InProgress, incident.Verifying}

func (o *openIncidents) Describe(ch chan<- *prometheus.Desc) { ch <- o.desc }

func (o *openIncidents) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pages, err := o.svc.Pages(ctx)
	if err != nil {
		o.log.Warn("metrics: list pages", "err", err)
		return
	}
	for _, p := range pages {
		_, n, err := o.svc.Incidents(ctx, incident.IncidentFilter{PageID: p.ID, Statuses: openStatuses, Limit: 1})
		if err != nil {
			o.log.Warn("metrics: count open incidents", "page_id", p.ID, "err", err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(o.desc, prometheus.GaugeValue, float64(n), p.ID)
	}
}

// observe is the one middleware every request passes. It runs the
// request's route through protect, answers errors through the one error
// handler (so the recorded code is the one sent) and counts the request
// under its route pattern, never the raw path. One middleware rather than
// one per concern: fiber walks its route stack on every c.Next, and on
// the status page's small answers that walk shows.
func (s *Server) observe(c *fiber.Ctx) error {
	// fasthttp reads the clock when a request's headers have been read;
	// reading it again here would only add a clock read to every request.
	start := c.Context().Time()
	routed, err := s.protect(c)
	route := c.Route().Path
	if err != nil {
		var fe *fiber.Error
		if !routed || errors.As(err, &fe) && (fe.Code == http.StatusNotFound || fe.Code == http.StatusMethodNotAllowed) {
			// No route, or refused before routing (a body over the
			// limit): a raw path would explode the label set, and the
			// middleware's own "/" would blame the status page.
			route = "unmatched"
		}
		if herr := s.handleError(c, err); herr != nil {
			s.log.Error("error handler failed", "err", herr)
			c.Status(http.StatusInternalServerError)
		}
	}
	s.metrics.http.observe(route, c.Method(), c.Response().StatusCode(), c.Context().ConnID(), time.Since(start))
	return nil
}

// healthz answers while the process is alive.
func healthz(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"status": "ok"})
}

// readyz answers 200 when the store answers, a write to it lands, the
// node hears the other nodes' changes (its event subscription is up) and
// the site has rendered every page, re-read since the subscription last
// came back; 503 otherwise: a load balancer sends no visitor to a node
// that would show an empty or stale page, and no manager to one whose
// declarations would fail (disk full, Redis read-only). The event checks
// are two atomic reads.
func (s *Server) readyz() fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		if link, ok := s.svc.Events.(incident.Linked); ok && !link.Link().Up {
			// No store round trip: the subscription down says enough.
			return c.Status(http.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "events": "reconnecting"})
		}
		ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
		defer cancel()
		store, site := "ok", "ok"
		if err := s.svc.Store.Ping(ctx); err != nil {
			s.log.Warn("readyz: store ping failed", "err", err)
			store = "unavailable"
		} else if err := s.probe.check(ctx, s.svc.Store, s.cfg.WriteProbeEvery, s.log); err != nil {
			store = "not writable"
		}
		switch {
		case s.site == nil || !s.site.Ready():
			site = "not rendered yet"
		case !s.site.Current():
			site = "re-reading after the event subscription came back"
		}
		if store != "ok" || site != "ok" {
			return c.Status(http.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "store": store, "site": site, "events": "ok"})
		}
		return c.JSON(fiber.Map{"status": "ok", "store": store, "site": site, "events": "ok"})
	}
}

// writeProbe runs incident.Store.ProbeWrite at most once per
// Config.WriteProbeEvery and
// remembers the result. A probe that only timed out (the store is busy
// with a long write, such as an import) keeps the result before it:
// slowness is not a failure to write.
type writeProbe struct {
	mu  sync.Mutex
	at  time.Time
	err error
}

func (p *writeProbe) check(ctx context.Context, st incident.Store, every time.Duration, log *slog.Logger) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.at.IsZero() && time.Since(p.at) < every {
		return p.err
	}
	err := st.ProbeWrite(ctx)
	if err != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		log.Warn("readyz: write probe timed out; keeping the last result", "err", err)
		return p.err
	}
	if err != nil && p.err == nil {
		log.Error("readyz: the store refuses writes", "err", err)
	} else if err == nil && p.err != nil {
		log.Info("readyz: the store takes writes again")
	}
	p.at, p.err = time.Now(), err
	return err
}
