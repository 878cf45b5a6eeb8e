package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald/incident"
)

// metrics holds the HTTP collectors; open incidents are counted on scrape.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// bound caches the collectors of each route, method and status seen
	// (requestKey → *boundMetrics): WithLabelValues hashes its labels and
	// allocates on every call, which the status page's hot path (tens of
	// thousands of requests a second) should not pay. The key set is as
	// bounded as the label set: route patterns, methods, status codes.
	bound   sync.Map
	inbound *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry, svc *incident.Service, log *slog.Logger) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "herald_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern (for /events: until the stream starts).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
	}
	m.inbound = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "herald_inbound_webhooks_total",
		Help: "Inbound provider webhooks, by kind (twilio_sms, twilio_status, slack_command, slack_interaction) and result (ok, forged, invalid, ignored, kept, error).",
	}, []string{"kind", "result"}))
	m.requests = register(reg, m.requests)
	m.duration = register(reg, m.duration)
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

// observe is the outermost middleware: it answers errors through the one
// error handler (so the recorded code is the one sent) and counts the
// request under its route pattern, never the raw path.
func (s *Server) observe(c *fiber.Ctx) error {
	// fasthttp reads the clock when a request's headers have been read;
	// reading it again here would only add a clock read to every request.
	start := c.Context().Time()
	err := c.Next()
	route := c.Route().Path
	if err != nil {
		var fe *fiber.Error
		if errors.As(err, &fe) && (fe.Code == http.StatusNotFound || fe.Code == http.StatusMethodNotAllowed) {
			route = "unmatched" // no route: a raw path would explode the label set
		}
		if herr := s.handleError(c, err); herr != nil {
			s.log.Error("error handler failed", "err", herr)
			c.Status(http.StatusInternalServerError)
		}
	}
	b := s.metrics.forRequest(route, c.Method(), c.Response().StatusCode())
	b.requests.Inc()
	b.duration.Observe(time.Since(start).Seconds())
	return nil
}

// requestKey names one route, method and status code.
type requestKey struct {
	route, method string
	code          int
}

// boundMetrics are a requestKey's collectors.
type boundMetrics struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// forRequest returns the collectors for route, method and code, bound
// once. fiber's route path and method strings are the app's own (the
// route table, its method names), not request buffers, so they can be
// kept as keys.
func (m *metrics) forRequest(route, method string, code int) *boundMetrics {
	k := requestKey{route, method, code}
	if b, ok := m.bound.Load(k); ok {
		return b.(*boundMetrics)
	}
	b := &boundMetrics{requests: m.requests.WithLabelValues(route, method, strconv.Itoa(code)), duration: m.duration.WithLabelValues(route)}
	v, _ := m.bound.LoadOrStore(requestKey{strings.Clone(route), strings.Clone(method), code}, b)
	return v.(*boundMetrics)
}

// healthz answers while the process is alive.
func healthz(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"status": "ok"})
}

// readyz answers 200 when the store answers, a write to it lands and the
// site has rendered every page, 503 otherwise: a load balancer sends no
// visitor to a node that would show an empty page, and no manager to one
// whose declarations would fail (disk full, Redis read-only).
func (s *Server) readyz() fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
		defer cancel()
		store, site := "ok", "ok"
		if err := s.svc.Store.Ping(ctx); err != nil {
			s.log.Warn("readyz: store ping failed", "err", err)
			store = "unavailable"
		} else if err := s.probe.check(ctx, s.svc.Store, s.cfg.WriteProbeEvery, s.log); err != nil {
			store = "not writable"
		}
		if s.site == nil || !s.site.Ready() {
			site = "not rendered yet"
		}
		if store != "ok" || site != "ok" {
			return c.Status(http.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "store": store, "site": site})
		}
		return c.JSON(fiber.Map{"status": "ok", "store": store, "site": site})
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
