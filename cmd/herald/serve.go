package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/node"
)

func cmdServe(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("serve", "[--addr HOST:PORT] [--data DIR | --redis URL] [--config FILE] [FLAGS]",
		`Runs herald: the status page, the API and the broadcasts. With no flags it listens
on 127.0.0.1:8080 and keeps everything in one SQLite file under ./data.`)
	cf := newConfigFlags(fs)
	sandboxFlag := fs.Bool("sandbox", false, "with no provider configured, run the built-in sandbox even when --addr is not loopback (env HERALD_SANDBOX)")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	cfg, err := cf.load(a.getenv)
	if err != nil {
		return err
	}
	if *sandboxFlag {
		cfg.Sandbox = true
	}
	if len(cf.ignored) > 0 {
		// Said before the node starts, on the terminal serve logs to.
		node.NewLogger(a.stderr, cfg).Warn("--data on the command line: this node runs alone on SQLite; the Redis settings from the file or environment are not used",
			"data_dir", cfg.DataDir, "ignored", strings.Join(cf.ignored, ","))
	}
	return a.serve(ctx, cfg)
}

// serve runs the node cfg describes until ctx ends, then shuts it down.
func (a *app) serve(ctx context.Context, cfg node.Config) error {
	log := node.NewLogger(a.stderr, cfg)
	n, err := node.New(ctx, cfg, node.Options{Log: log})
	if err != nil {
		return err
	}
	if err := n.Run(ctx); err != nil {
		_ = n.Close()
		return err
	}
	a.hintTokens(ctx, n.Incidents, cfg, log)
	if a.started != nil {
		a.started(n)
	}
	if a.ready != nil {
		a.ready(n.Addr())
	}
	runErr := n.Wait(ctx)
	if err := n.Close(); runErr == nil {
		runErr = err
	}
	return runErr
}

// hintTokens tells a newcomer how to get a first token, once, when there is none.
func (a *app) hintTokens(ctx context.Context, svc *incident.Service, cfg node.Config, log *slog.Logger) {
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
		args += " --redis " + node.RedactURL(cfg.RedisURL)
		if cfg.RedisPrefix != "" {
			args += " --redis-prefix " + cfg.RedisPrefix
		}
	case filepath.Clean(cfg.DataDir) != filepath.Clean(node.DefaultDataDir):
		args += " --data " + cfg.DataDir
	}
	log.Info("no API tokens yet: run `herald " + args + "` (from a checkout: `go run ./cmd/herald " + args + "`)")
}
