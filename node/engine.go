package node

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/livemsg"
	"github.com/heraldhq/herald/notify"
	"github.com/heraldhq/herald/ratelimit"
	"github.com/heraldhq/herald/server"
	"github.com/heraldhq/herald/store/redis"
	"github.com/heraldhq/herald/store/sqlite"
	"github.com/heraldhq/herald/surveys"
)

// Engine is the opened system of record: one store seen through the
// interfaces each part needs, and on a Node its event bus.
type Engine struct {
	Name  string // "sqlite" or "redis", for logs
	Where string // the SQLite file or the redacted Redis URL

	Incidents incident.Store
	Notify    notify.Store      // the same store, as the fan-out's
	Limiter   ratelimit.Limiter // provider rates: in-process on SQLite, across nodes on Redis
	Secrets   server.SecretStore
	// Complaints and Customers are the complaint service's store and the
	// customer lookup it matches senders with.
	Complaints complaint.Store
	Customers  complaint.Customers
	// Compensation keeps compensation decisions, grants and vouchers;
	// Audience is the customer store it evaluates.
	Compensation compensation.Store
	Audience     compensation.Customers
	// Surveys keeps follow-up surveys, their settings and tallies;
	// SurveyDeliveries and SurveyCustomers are the paged and batched reads
	// scheduling them makes.
	Surveys          surveys.Store
	SurveyDeliveries surveys.Deliveries
	SurveyCustomers  surveys.Customers
	// LiveMessages keeps where each incident's Slack message is.
	LiveMessages livemsg.Store
	// Sessions keeps the console's sessions and sign-in links.
	Sessions incident.SessionStore
	// Events is the event bus, started by StartEvents (nil until then):
	// in-process on SQLite, pub/sub on Redis so every node hears every change.
	Events incident.Events

	// SQLite and Redis are the engine's own handle; the other is nil.
	SQLite *sqlite.DB
	Redis  *redis.DB

	stopEvents func()
}

// SQLitePath is the database file inside the data directory.
func SQLitePath(dataDir string) string { return filepath.Join(dataDir, "herald.db") }

// OpenEngine opens the store cfg names: Redis when RedisURL is set (under
// RedisPrefix), else SQLite under DataDir (created when missing). It does
// not start the event bus: a CLI run that only reads or writes the store
// needs none. On Redis, go-redis's own lines go through log (nil: the
// config's logger on standard error, NewLogger), so --log-format json
// holds for them too.
func OpenEngine(ctx context.Context, cfg Config, log *slog.Logger) (*Engine, error) {
	if cfg.RedisURL != "" {
		if log == nil {
			log = NewLogger(os.Stderr, cfg)
		}
		opts := []redis.Option{redis.WithLogger(log)}
		if cfg.RedisPrefix != "" {
			opts = append(opts, redis.WithPrefix(cfg.RedisPrefix))
		}
		addr, err := redis.ParseAddress(cfg.RedisURL)
		if err != nil {
			return nil, err
		}
		if cfg.Providers.RedisPassword != "" {
			addr.SetPassword(cfg.Providers.RedisPassword)
		}
		db, err := redis.OpenAddress(ctx, addr, opts...)
		if err != nil {
			return nil, fmt.Errorf("open redis %s: %w", addr, err)
		}
		return &Engine{Name: "redis", Where: addr.String(), Incidents: db, Notify: db, Limiter: db.Limiter(), Secrets: db,
			Complaints: db, Customers: db, Compensation: db, Audience: db, Surveys: db, SurveyDeliveries: db, SurveyCustomers: db, LiveMessages: db, Sessions: db, Redis: db}, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	path := SQLitePath(cfg.DataDir)
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	return &Engine{Name: "sqlite", Where: path, Incidents: db, Notify: db, Limiter: ratelimit.NewLocal(), Secrets: db,
		Complaints: db, Customers: db, Compensation: db, Audience: db, Surveys: db, SurveyDeliveries: db, SurveyCustomers: db, LiveMessages: db, Sessions: db, SQLite: db}, nil
}

// StartEvents starts the event bus: in-process on SQLite; on Redis,
// pub/sub on the store's connection as a node with a fresh ID (every
// herald process is its own node). Close stops it.
func (e *Engine) StartEvents(ctx context.Context, log *slog.Logger) error {
	if e.Redis == nil {
		e.Events = incident.NewLocalEvents()
		return nil
	}
	ev, err := e.Redis.NewEvents(ctx, incident.NewID(), log)
	if err != nil {
		return err
	}
	e.Events, e.stopEvents = ev, func() { _ = ev.Close() }
	return nil
}

// Close stops the event bus and closes the store.
func (e *Engine) Close() error {
	if e.stopEvents != nil {
		e.stopEvents()
		e.stopEvents = nil
	}
	if e.Redis != nil {
		return e.Redis.Close()
	}
	return e.SQLite.Close()
}
