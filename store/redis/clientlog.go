package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/quietlog"
)

// WithLogger routes go-redis's own lines (a pool that cannot dial, a
// Sentinel that fails over) through log at warn, each kind of line at most
// once per quietlog.Every with how many were left out: its default logger
// writes "redis: <date> pool.go:…" to standard error, past herald's handler
// and its --log-format json, and repeats while Redis is unreachable.
// go-redis has one logger per process, so the last store opened with this
// option sets it.
func WithLogger(log *slog.Logger) Option {
	return func(db *DB) {
		if log != nil {
			goredis.SetLogger(&clientLog{log: log})
		}
	}
}

// clientLog is go-redis's internal.Logging on slog.
type clientLog struct {
	log *slog.Logger
	// lines throttles each format apart: go-redis's formats are a fixed
	// set of constants, so the map stays small, and one kind of line
	// repeating does not hide another.
	lines sync.Map // format → *quietlog.Line
}

// Printf implements go-redis's internal.Logging.
func (l *clientLog) Printf(_ context.Context, format string, v ...any) {
	q, _ := l.lines.LoadOrStore(format, &quietlog.Line{})
	text := strings.TrimSpace(strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: "))
	q.(*quietlog.Line).Log(l.log, slog.LevelWarn, "redis client", "detail", text)
}
