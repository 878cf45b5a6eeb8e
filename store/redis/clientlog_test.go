package redis

import (
	"context"
	"encoding/json"
	"github.com/heraldhq/herald/internal/syncbuf"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/quietlog"
	"github.com/heraldhq/herald/store/redis/redistest"
)

// TestClientLogs: once a store is opened WithLogger, go-redis's own lines
// (here its pool failing to dial a Redis that is gone) reach herald's slog
// handler at warn, as JSON under --log-format json, rather than go-redis's
// "redis: <date> pool.go:…" on standard error; and while they repeat, one
// line a quietlog.Every says how many were left out.
func TestClientLogs(t *testing.T) {
	var out syncbuf.Buffer
	log := slog.New(slog.NewJSONHandler(&out, nil))
	db := openTest(t, testPrefix(t), WithLogger(log))
	defer db.Close()
	defer goredis.SetLogger(&clientLog{log: slog.Default()}) // not this test's buffer for the tests after it

	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	gone := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), MaxRetries: -1, DialTimeout: time.Second, DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	defer gone.Close()
	start := time.Now()
	const tries = 10
	for range tries {
		if err := gone.Ping(context.Background()).Err(); err == nil {
			t.Fatal("a ping to a closed port answered")
		}
	}
	elapsed := time.Since(start)
	var lines int
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var rec struct{ Level, Msg, Detail string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON log line: %q: %v", line, err)
		}
		if rec.Msg != "redis client" {
			continue
		}
		lines++
		if rec.Level != "WARN" || !strings.Contains(rec.Detail, "dial") {
			t.Errorf("go-redis's line came through as %+v, want level WARN and the dial failure", rec)
		}
	}
	if most := 1 + int(elapsed/quietlog.Every); lines < 1 || lines > most {
		t.Errorf("%d go-redis lines through slog for %d failed dials in %v, want 1 to %d:\n%s", lines, tries, elapsed, most, out.String())
	}
}
