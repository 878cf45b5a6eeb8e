package main

import (
	"context"
	"log/slog"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/store/redis"
)

// redisEvents starts the pub/sub event bus on db's connection, as a node
// with a fresh ID: every herald process is its own node.
func redisEvents(ctx context.Context, db *redis.DB, log *slog.Logger) (incident.Events, func(), error) {
	ev, err := db.NewEvents(ctx, incident.NewID(), log)
	if err != nil {
		return nil, nil, err
	}
	return ev, func() { _ = ev.Close() }, nil
}
