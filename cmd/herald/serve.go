package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/heraldhq/herald/configs"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify"
	"github.com/heraldhq/herald/notify/render"
	"github.com/heraldhq/herald/notify/webhook"
	"github.com/heraldhq/herald/ratelimit"
	"github.com/heraldhq/herald/server"
	"github.com/heraldhq/herald/statuspage"
	"github.com/heraldhq/herald/store/redis"
	"github.com/heraldhq/herald/store/sqlite"
)

// maintenanceInterval is how often serve starts and completes maintenances
// whose time has come: a window that opens at 02:00 opens within a second.
const maintenanceInterval = time.Second

// newLogger builds the process logger from the config.
func newLogger(w io.Writer, cfg Config) *slog.Logger {
	level, _ := parseLevel(cfg.LogLevel) // Validate checked it
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// engine is the opened system of record and its event bus.
type engine struct {
	name   string // "sqlite" or "redis", for logs
	where  string // the file or the redacted URL
	store  incident.Store
	events incident.Events
	close  func() error
	// notify is the same store seen as the fan-out's; limiter holds the
	// provider rates (across nodes on Redis); secrets keeps shared keys.
	notify  notify.Store
	limiter ratelimit.Limiter
	secrets server.SecretStore
}

// sqlitePath is the database file inside the data directory.
func sqlitePath(dataDir string) string { return filepath.Join(dataDir, "herald.db") }

// openEngine opens the store the config names: Redis when redis_url is
// set, else SQLite under data_dir (created when missing). With events, it
// also starts the event bus: in-process for SQLite, pub/sub for Redis so
// every node hears every change.
func openEngine(ctx context.Context, cfg Config, log *slog.Logger, events bool) (*engine, error) {
	if cfg.RedisURL != "" {
		db, err := redis.Open(ctx, cfg.RedisURL, redisOptions(cfg)...)
		if err != nil {
			return nil, fmt.Errorf("open redis %s: %w", redactURL(cfg.RedisURL), err)
		}
		e := &engine{name: "redis", where: redactURL(cfg.RedisURL), store: db, close: db.Close, notify: db, limiter: db.Limiter(), secrets: db}
		if events {
			ev, stop, err := redisEvents(ctx, db, log)
			if err != nil {
				db.Close()
				return nil, err
			}
			e.events = ev
			e.close = func() error { stop(); return db.Close() }
		}
		return e, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	path := sqlitePath(cfg.DataDir)
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	e := &engine{name: "sqlite", where: path, store: db, close: db.Close, notify: db, limiter: ratelimit.NewLocal(), secrets: db}
	if events {
		e.events = incident.NewLocalEvents()
	}
	return e, nil
}

func cmdServe(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("serve", "[--addr HOST:PORT] [--data DIR | --redis URL] [--config FILE] [FLAGS]",
		`Runs herald: the status page, the API and the broadcasts. With no flags it listens
on 127.0.0.1:8080 and keeps everything in one SQLite file under ./data.`)
	cf := newConfigFlags(fs)
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	cfg, err := cf.load(a.getenv)
	if err != nil {
		return err
	}
	return a.serve(ctx, cfg)
}

func (a *app) serve(ctx context.Context, cfg Config) error {
	log := newLogger(a.stderr, cfg)
	log.Debug("config", "config", cfg)

	// Listen first: a taken port is the most common startup failure, and
	// :0 needs the real port before the public URL is known.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	publicURL := cfg.publicURL(ln.Addr().String())

	eng, err := openEngine(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	defer func() {
		if err := eng.close(); err != nil {
			log.Warn("close store", "err", err)
		}
	}()

	svc := incident.NewService(eng.store, eng.events, log)
	page, err := svc.EnsureDefaultPage(ctx, publicURL)
	if err != nil {
		return fmt.Errorf("default page: %w", err)
	}

	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			log.Warn("register metrics", "err", err)
		}
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	site := statuspage.New(svc, eng.events, statuspage.Options{Registerer: reg, Log: log})
	siteDone := make(chan error, 1)
	go func() { siteDone <- site.Run(runCtx) }()

	srv := server.New(server.Config{PublicURL: publicURL, BodyLimit: cfg.BodyLimit, TrustedProxies: cfg.TrustedProxies}, svc, site, reg, log)
	fan, chans, err := startBroadcast(ctx, cfg, publicURL, eng, svc, srv, reg, log)
	if err != nil {
		return err
	}
	// The sandbox outlives the fan-out: sends in flight at shutdown still
	// reach it (closed after notifyDone below).
	defer func() { _ = chans.closeSandbox() }()
	notifyDone := make(chan error, 1)
	go func() { notifyDone <- fan.Run(runCtx) }()

	serveDone := make(chan error, 1)
	go func() { serveDone <- srv.Serve(ln) }()

	go advanceMaintenances(runCtx, svc, log)

	log.Info("herald listening", "addr", ln.Addr().String(), "url", publicURL, "engine", eng.name, "store", eng.where, "page_id", page.ID,
		"channels", strings.Join(chans.descriptions, " "), "version", version())
	a.hintTokens(ctx, svc, cfg, log)
	if a.ready != nil {
		a.ready(ln.Addr().String())
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	case err := <-serveDone:
		runErr = fmt.Errorf("server stopped: %w", err)
		serveDone <- nil
	case err := <-siteDone:
		runErr = fmt.Errorf("status page stopped: %w", err)
		siteDone <- nil
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	select {
	case err := <-serveDone:
		if err != nil && runErr == nil {
			runErr = err
		}
	case <-sctx.Done():
		log.Warn("shutdown timed out; dropping connections still open")
	}
	select {
	case <-siteDone:
	case <-sctx.Done():
	}
	// notify.Service.Run returns once the sends in flight have finished
	// and their outcomes are written; a send cut short here would be sent
	// again after the lease, so it gets the whole shutdown timeout.
	select {
	case <-notifyDone:
	case <-sctx.Done():
		log.Warn("shutdown timed out with sends in flight; they are sent again after their lease")
	}
	if runErr == nil {
		log.Info("stopped")
	}
	return runErr
}

// hintTokens tells a newcomer how to get a first token, once, when there is none.
func (a *app) hintTokens(ctx context.Context, svc *incident.Service, cfg Config, log *slog.Logger) {
	tokens, err := svc.Tokens(ctx)
	if err != nil {
		log.Warn("list tokens", "err", err)
		return
	}
	for _, t := range tokens {
		if t.RevokedAt == nil {
			return
		}
	}
	args := "token create --role admin"
	switch {
	case cfg.RedisURL != "":
		args += " --redis " + redactURL(cfg.RedisURL)
		if cfg.RedisPrefix != "" {
			args += " --redis-prefix " + cfg.RedisPrefix
		}
	case filepath.Clean(cfg.DataDir) != filepath.Clean(DefaultDataDir):
		args += " --data " + cfg.DataDir
	}
	log.Info("no API tokens yet: run `herald " + args + "` (from a checkout: `go run ./cmd/herald " + args + "`)")
}

// advanceMaintenances starts and completes due maintenances every
// maintenanceInterval until ctx ends. A plain ticker, not cron: this is a
// poll, and every node may run it (the service resolves races).
func advanceMaintenances(ctx context.Context, svc *incident.Service, log *slog.Logger) {
	t := time.NewTicker(maintenanceInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := svc.AdvanceMaintenances(ctx)
			switch {
			case err != nil && !errors.Is(err, context.Canceled):
				log.Warn("advance maintenances", "err", err)
			case n > 0:
				log.Info("maintenances advanced", "count", n)
			}
		}
	}
}

func redisOptions(cfg Config) []redis.Option {
	var opts []redis.Option
	if cfg.RedisPrefix != "" {
		opts = append(opts, redis.WithPrefix(cfg.RedisPrefix))
	}
	return opts
}

// startBroadcast builds the fan-out: the channels (real providers or the
// sandbox), the templates, the notify.Service on the engine's store and
// limiter, and the server's broadcast routes. The caller runs the service.
func startBroadcast(ctx context.Context, cfg Config, publicURL string, eng *engine, svc *incident.Service, srv *server.Server, reg prometheus.Registerer, log *slog.Logger) (*notify.Service, *channels, error) {
	var override fs.FS
	if dir := cfg.Broadcast.TemplatesDir; dir != "" {
		override = os.DirFS(dir)
	}
	r, err := render.New(configs.TemplatesFS(), override)
	if err != nil {
		return nil, nil, fmt.Errorf("templates: %w", err)
	}
	chans, err := buildChannels(context.WithoutCancel(ctx), cfg, publicURL, log)
	if err != nil {
		return nil, nil, err
	}
	ncfg := cfg.Broadcast.notifyConfig(publicURL)
	ncfg.AllowPrivateWebhooks = chans.allowPrivate
	ncfg.Registerer = reg
	allow := chans.allowPrivate
	fan, err := notify.New(ncfg, notify.Deps{Incidents: svc, Store: eng.notify, Channels: chans.byKind, Renderer: r,
		Events: eng.events, Limiter: eng.limiter, Log: log,
		ValidateURL: func(raw string) error { return webhook.ValidateURL(raw, allow) }})
	if err != nil {
		_ = chans.closeSandbox()
		return nil, nil, err
	}
	bc := server.BroadcastConfig{TwilioAuthToken: chans.twilioToken, SlackSigningSecret: chans.slackSecret,
		Secrets: eng.secrets, DefaultRegion: cfg.Broadcast.DefaultRegion}
	if chans.sandbox != nil {
		bc.Sandbox = chans.sandbox.Handler()
	}
	if err := srv.EnableBroadcast(fan, bc); err != nil {
		_ = chans.closeSandbox()
		return nil, nil, err
	}
	return fan, chans, nil
}
