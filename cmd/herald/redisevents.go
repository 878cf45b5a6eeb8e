package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/store/redis"
)

// redisEvents starts the Redis pub/sub event bus over db's connection.
func redisEvents(ctx context.Context, db *redis.DB, log *slog.Logger) (incident.Events, func(), error) {
	return nil, nil, errors.New("redis events: not yet wired")
}
