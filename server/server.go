// Package server is herald's HTTP front door: the fiber app with every
// route (defined in routes.go), token authentication with roles, the one
// mapper from errors to JSON responses, the Statuspage-v1-compatible
// management API, the public status page served from the pre-rendered
// statuspage snapshot, server-sent events, health checks and metrics.
// EnableBroadcast adds the fan-out's front doors (broadcast.go,
// subscribers.go, subscribe.go, webhooks.go): the subscriber API,
// customers, broadcasts, the public subscription pages and the signed
// Twilio and Slack webhooks.
//
// Handlers never touch a store: writes and management reads go through
// incident.Service, public reads through Site, which serves bytes rendered
// in advance so a visitor's request costs no query.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/heraldhq/herald/console"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/quietlog"
	"github.com/heraldhq/herald/reports"
	"github.com/heraldhq/herald/slackapp"
	"github.com/heraldhq/herald/statuspage"
	"github.com/heraldhq/herald/surveys"
)

// Defaults for Config's zero values.
const (
	DefaultBodyLimit         = 1 << 20 // 1 MiB: an incident body is at most 10 000 characters
	DefaultHeartbeatInterval = 15 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	// DefaultHTMLMaxAge keeps pages and JSON fresh: a visitor who reloads
	// during an incident must not see a 10-minute-old page (uptime-kuma#7131).
	DefaultHTMLMaxAge = 10 * time.Second
	// DefaultFeedMaxAge is longer because feed readers poll on their own schedule.
	DefaultFeedMaxAge = 60 * time.Second
)

// WriteBufferSize is each connection's write buffer. fasthttp writes an
// answer's head and body through it and makes one write (one system call,
// one burst of segments) per buffer it fills: with fiber's default of
// 4 KB, the status page of a real incident (20 components, three
// incidents, two maintenances: 4.8 KB gzipped, 5.4 KB with its head) went
// out in two, and that second write cost the page about a seventh of its
// throughput under load (herald-bench statuspage, README Performance).
// 8 KB sends a page of up to about 7.5 KB gzipped in one write, for 4 KB
// more per open keep-alive connection (herald-bench conns).
const WriteBufferSize = 8 << 10

// Site is what server needs from the pre-rendered public site;
// *statuspage.Site implements it.
type Site interface {
	// Lookup returns the rendered asset for a host, a request path and a
	// language ("" for the page's default), or false when there is none.
	Lookup(host, path, lang string) (*statuspage.Asset, bool)
	// PageFor returns the page a host serves.
	PageFor(host string) (*incident.Page, bool)
	// Languages returns the languages of the page a host serves, for
	// reading only (it is the site's own slice, read on every request).
	Languages(host string) []string
	// Watch returns the page's new summary.json after each render, and a
	// cancel func that stops the feed.
	Watch(pageID string) (<-chan []byte, func())
	// Ready reports whether every page has been rendered once.
	Ready() bool
	// Current reports whether every page has been re-read since the
	// event subscription last came back after an outage
	// (statuspage.Site.Current).
	Current() bool
	// RenderIfOlder renders a page now unless a render that began after
	// since has succeeded (statuspage.Site.RenderIfOlder).
	RenderIfOlder(ctx context.Context, pageID string, since time.Time) error
}

// Config configures the HTTP server. Zero values take the defaults above.
type Config struct {
	// PublicURL is herald's public base URL, used for links when a page has
	// no URL of its own.
	PublicURL string
	// BodyLimit caps a request body in bytes; larger requests get 413.
	BodyLimit int
	// TrustedProxies are the reverse proxies (addresses and CIDRs, from
	// ParseTrustedProxies) whose X-Forwarded-For, X-Forwarded-Proto and
	// X-Forwarded-Host herald believes (proxy.go). Empty: none; the client
	// is the socket's peer and those headers are ignored, so a client
	// cannot spoof its address.
	TrustedProxies []netip.Prefix
	// HeartbeatInterval is how often /events sends a comment so proxies keep
	// the stream open and a gone client is noticed.
	HeartbeatInterval time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration // not applied to /events streams
	IdleTimeout       time.Duration
	HTMLMaxAge        time.Duration // Cache-Control max-age for HTML and JSON
	FeedMaxAge        time.Duration // Cache-Control max-age for RSS and Atom
	// MaxConns caps the connections open at once; new ones above it are
	// shed (conns.go). 0: the open-file limit less a reserve, which is
	// also the most it can be.
	MaxConns int
	// MaxConnsPerClient caps one peer's connections (not a trusted
	// proxy's); 0: DefaultMaxConnsPerClient.
	MaxConnsPerClient int
	// MaxEventStreams caps the /events streams open at once, and
	// MaxEventStreamsPerClient one client's (clientIP's); 0: the defaults.
	MaxEventStreams          int
	MaxEventStreamsPerClient int
	// LinkGrace is how long this node's event subscription may be down
	// before its live streams (/events, the agents' feed) are ended, so
	// their clients reconnect, through the load balancer, to a node that
	// hears changes; 0: DefaultLinkGrace. A blip shorter keeps them.
	LinkGrace time.Duration
	// WriteProbeEvery is how long /readyz keeps the result of its write
	// probe (health.go); 0: DefaultWriteProbeEvery, negative: probe on
	// every request.
	WriteProbeEvery time.Duration
}

// DefaultWriteProbeEvery: load balancers ask /readyz every few seconds;
// one tiny write per node per interval costs nothing, while a write per
// request could be driven by anyone.
const DefaultWriteProbeEvery = 2 * time.Second

// DefaultLinkGrace rides out a Redis blip (a reconnect takes a few hundred
// milliseconds) without sending every visitor's stream elsewhere.
const DefaultLinkGrace = 2 * time.Second

func (c *Config) defaults() {
	if c.BodyLimit <= 0 {
		c.BodyLimit = DefaultBodyLimit
	}
	if c.WriteProbeEvery == 0 {
		c.WriteProbeEvery = DefaultWriteProbeEvery
	}
	if c.LinkGrace <= 0 {
		c.LinkGrace = DefaultLinkGrace
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.HTMLMaxAge <= 0 {
		c.HTMLMaxAge = DefaultHTMLMaxAge
	}
	if c.FeedMaxAge <= 0 {
		c.FeedMaxAge = DefaultFeedMaxAge
	}
	if c.MaxConns < 0 {
		c.MaxConns = 0
	}
	if c.MaxConnsPerClient <= 0 {
		c.MaxConnsPerClient = DefaultMaxConnsPerClient
	}
	if c.MaxEventStreams <= 0 {
		c.MaxEventStreams = DefaultMaxEventStreams
	}
	if c.MaxEventStreamsPerClient <= 0 {
		c.MaxEventStreamsPerClient = DefaultMaxEventStreamsPerClient
	}
}

// Server is herald's HTTP server. Build it with New, add feature routes
// with Mount, then Listen or Serve.
type Server struct {
	cfg     Config
	svc     *incident.Service
	site    Site
	log     *slog.Logger
	app     *fiber.App
	api     fiber.Router // /api/v1, for Mount
	metrics *metrics
	conns   *connMetrics
	streams *streamLimits
	csp     cspCache
	// cacheControls are cacheControl's three values, built once.
	cacheControlOnce sync.Once
	cacheControls    [3]string
	// lastHost is the last host name hostOf made from a Host header:
	// nearly every request names the same one (hostName).
	lastHost atomic.Pointer[string]
	// slackClockWarned is when warnSlackClock last logged (Unix ns).
	slackClockWarned atomic.Int64
	proxies          proxies // cfg.TrustedProxies
	probe            writeProbe
	// unreachableLog keeps requests refused while the store is
	// unreachable to a line in a while.
	unreachableLog quietlog.Line

	done     chan struct{} // closed by Shutdown: ends /events streams
	doneOnce sync.Once
	// linkLost is closed when the event subscription has been down for
	// cfg.LinkGrace, and stays closed until it is back (streams.go).
	linkMu   sync.Mutex
	linkLost chan struct{}

	bc   *broadcast       // nil until EnableBroadcast
	cp   *complaints      // nil until EnableComplaints
	comp *compensationAPI // nil until EnableCompensation
	sv   *surveys.Service // nil until EnableSurveys
	rp   *reports.Service // nil until EnableReports
	// slackApp answers /herald and herald's modals and buttons; nil until
	// EnableSlackApp (then /herald answers only status and help).
	slackApp *slackapp.App
	console  *console.Console // nil until EnableConsole
}

// EnableSlackApp hands /herald (but /herald complaint), herald's modals
// and the buttons on incident messages to app, once the Slack signature
// of each request has been checked.
func (s *Server) EnableSlackApp(app *slackapp.App) error {
	switch {
	case app == nil:
		return errors.New("server: EnableSlackApp needs an app")
	case s.bc == nil:
		return errors.New("server: EnableSlackApp needs EnableBroadcast first (its routes and signing secret)")
	case s.slackApp != nil:
		return errors.New("server: EnableSlackApp called twice")
	}
	s.slackApp = app
	return nil
}

// New builds the server and registers every route. reg receives the HTTP
// and incident metrics and is what /metrics exposes; nil makes a fresh one.
func New(cfg Config, svc *incident.Service, site Site, reg *prometheus.Registry, log *slog.Logger) *Server {
	cfg.defaults()
	if log == nil {
		log = slog.Default()
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s := &Server{cfg: cfg, svc: svc, site: site, log: log, proxies: proxies(cfg.TrustedProxies), done: make(chan struct{})}
	fc := fiber.Config{
		// Immutable: strings from the request (params, headers) stay valid
		// after the handler returns; the service keeps some of them.
		Immutable: true,
		BodyLimit: cfg.BodyLimit,
		// Bodies over BodyLimit reach the handlers as a stream rather than
		// a 413 from fasthttp, so that the customer import alone can take a
		// large file without buffering it; limitBody answers 413 for every
		// other route. Multipart forms are not pre-read, since fasthttp
		// would read them whole, without limit, before any handler ran.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		// No ReadTimeout, WriteTimeout or IdleTimeout: the connections
		// keep herald's timeouts themselves (connTimeouts, deadline.go).
		DisableStartupMessage: true,
		// ReduceMemoryUsage must stay off while StreamRequestBody is on.
		// With it, fasthttp (v1.51, server.go serveConn) gives the
		// connection's bufio.Reader back to its pool as soon as nothing is
		// buffered after a request's head and prefetched body, although a
		// streamed body (the customer import, any chunked body) still
		// reads the rest through that reader: the next connection takes
		// it over, and the stream reads another client's bytes, blocks on
		// its socket, or panics in requestStream.Read on the reader's nil
		// connection (streaming.go:80), which answered 500. The cost: an
		// idle keep-alive connection keeps its read and write buffers,
		// about 18 KB instead of 9 (herald-bench conns). fasthttp v1.56
		// fixed it (pull request 1844) by keeping the reader whenever
		// StreamRequestBody is on, so after an upgrade ReduceMemoryUsage
		// would save only the write buffer. Test:
		// TestStreamedBodiesBesideOtherRequests (cmd/herald).
		ReduceMemoryUsage: false,
		WriteBufferSize:   WriteBufferSize,
		ErrorHandler:      s.handleError,
		AppName:           "herald",
		// fiber trusts no proxy, so c.IP(), c.Hostname() and c.Protocol()
		// never read X-Forwarded-* (fiber believes them from anyone unless
		// the check is on, and its c.IP() would take the leftmost
		// X-Forwarded-For entry, which the client writes). proxy.go decides
		// what to believe, from cfg.TrustedProxies.
		EnableTrustedProxyCheck: true,
	}
	s.app = fiber.New(fc)
	s.metrics = newMetrics(reg, svc, log)
	s.conns = newConnMetrics(reg)
	s.streams = newStreamLimits(cfg.MaxEventStreamsPerClient, cfg.MaxEventStreams, reg, log)
	s.linkLost = make(chan struct{})
	if svc != nil {
		if link, ok := svc.Events.(incident.Linked); ok {
			go s.watchLink(link)
		}
	}
	s.routes(reg)
	// The status page's fast path (fastpath.go) before fiber's handler;
	// app.Test and Serve both serve through the fasthttp server's handler.
	fs := s.app.Server()
	fs.Handler = s.fastPublic(fs.Handler)
	fs.ConnState = connPhase
	return s
}

// App returns the fiber app, for tests (app.Test) and embedding. Its
// Handler() is fiber's alone, without the status page's fast path.
func (s *Server) App() *fiber.App { return s.app }

// Handler is what Serve answers requests with: the status page's fast
// path, then fiber's handler.
func (s *Server) Handler() fasthttp.RequestHandler { return s.app.Server().Handler }

// Listen serves on addr (e.g. ":8080") until Shutdown.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve serves on ln until Shutdown. Client load cannot make it return:
// ln is wrapped in the connection guard (conns.go), which retries
// temporary Accept errors and sheds connections above the budget.
func (s *Server) Serve(ln net.Listener) error {
	err := s.app.Listener(s.guard(ln, fileLimit()))
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// ConnectionBudget is how many connections Serve holds open at most:
// Config.MaxConns, or the open-file limit less a reserve (conns.go).
func (s *Server) ConnectionBudget() int { return connBudget(s.cfg.MaxConns, fileLimit()) }

// Shutdown ends the /events streams, stops accepting connections and waits
// for requests in flight until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.doneOnce.Do(func() { close(s.done) })
	return s.app.ShutdownWithContext(ctx)
}
