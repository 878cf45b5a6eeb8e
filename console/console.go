// Package console is herald's web console for incident managers and
// support agents: server-rendered html/template views, a sign-in that
// keeps a session in an HttpOnly SameSite=Strict cookie (stored hashed in
// the engine, so every node knows it), CSRF tokens on every form, a strict
// Content-Security-Policy, and one small embedded script that keeps the
// live parts current over server-sent events. Everything else works with
// JavaScript off.
//
// The console has no rules of its own: every read and write goes through
// the services the API calls (incident, notify, complaint, compensation).
// Roles are enforced here, on every route (routes.go), not only by what a
// page shows. server mounts it at /console.
package console

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/locale"
	"github.com/heraldhq/herald/notify"
	"github.com/heraldhq/herald/quietlog"
	"github.com/heraldhq/herald/reports"
)

// Defaults for Config's zero values.
const (
	// DefaultIdleTimeout ends a session nobody used for this long.
	DefaultIdleTimeout = 30 * time.Minute
	// DefaultMaxAge ends a session this long after sign-in, used or not.
	DefaultMaxAge = 12 * time.Hour
	// DefaultLinkLifetime is how long a sign-in link may be used.
	DefaultLinkLifetime = 15 * time.Minute
	// DefaultHeartbeat keeps a live stream open through proxies.
	DefaultHeartbeat = 15 * time.Second
	// DefaultProgressInterval is how often an incident's live view reads
	// its broadcasts' progress.
	DefaultProgressInterval = time.Second
)

// Prefix is where server mounts the console.
const Prefix = "/console"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Config is what the console needs. Incidents, Sessions and Words are
// required; the other services are optional, and the views they feed are
// left out without them.
type Config struct {
	Incidents    *incident.Service
	Sessions     incident.SessionStore
	Events       incident.Events
	Words        *locale.Catalogue
	Notify       *notify.Service
	Complaints   *complaint.Service
	Compensation *compensation.Service
	Reports      *reports.Service

	// DefaultRegion reads phone numbers typed without a country code
	// (ISO 3166 region, e.g. "HU"); "" needs the +country code.
	DefaultRegion string
	// PublicURL is the status page's base URL, for the link to it.
	PublicURL string
	// IdleTimeout and MaxAge bound a session (DefaultIdleTimeout,
	// DefaultMaxAge).
	IdleTimeout time.Duration
	MaxAge      time.Duration
	// Secure reports whether the request came over HTTPS (directly or from
	// a trusted proxy): the session cookie is then Secure.
	Secure func(c *fiber.Ctx) bool
	// AcquireStream counts a live stream against the server's caps and
	// returns its release; nil: uncounted.
	AcquireStream func(c *fiber.Ctx) (release func(), err error)
	// WatchClose returns a channel closed when the client closes a
	// streaming response's connection; nil: noticed at the next write.
	WatchClose func(c *fiber.Ctx) <-chan struct{}
	// KeepWriting returns what the live stream calls after each write it
	// flushed, to push the connection's write deadline past the next
	// heartbeat (a stream outlives the response's); nil: nothing.
	KeepWriting func(c *fiber.Ctx) func()
	// Done ends live streams (server shutdown).
	Done             <-chan struct{}
	Heartbeat        time.Duration
	ProgressInterval time.Duration
	Log              *slog.Logger
	Now              func() time.Time
}

// Console is the mounted console.
type Console struct {
	cfg   Config
	views map[string]*template.Template
	log   *slog.Logger
	// unreachableLog keeps pages refused while the store is unreachable
	// to a line in a while.
	unreachableLog quietlog.Line
}

// New checks cfg and parses the views.
func New(cfg Config) (*Console, error) {
	if cfg.Incidents == nil || cfg.Sessions == nil || cfg.Words == nil {
		return nil, errors.New("console: Incidents, Sessions and Words are required")
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.ProgressInterval <= 0 {
		cfg.ProgressInterval = DefaultProgressInterval
	}
	if cfg.Secure == nil {
		cfg.Secure = func(c *fiber.Ctx) bool { return c.Context().IsTLS() }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	views, err := parseViews()
	if err != nil {
		return nil, err
	}
	return &Console{cfg: cfg, views: views, log: cfg.Log}, nil
}

func (cs *Console) now() time.Time { return cs.cfg.Now().UTC().Truncate(time.Millisecond) }

// page returns the page the console works on: the first (herald serves
// one page per install in practice; the API reaches the others).
func (cs *Console) page(ctx context.Context) (*incident.Page, error) {
	ps, err := cs.cfg.Incidents.Pages(ctx)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, incident.NotFound("page", "")
	}
	return ps[0], nil
}

func assets() fs.FS {
	sub, err := fs.Sub(assetFS, "assets")
	if err != nil {
		panic(err)
	}
	return sub
}
