package console_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/node"
	"github.com/heraldhq/herald/store/redis/redistest"
)

// TestStoreUnreachable: with its Redis gone, a console page answers 503
// with Retry-After and says the store is unreachable, nothing was changed
// and to try again, instead of a generic failure. The Redis is this
// test's own redis-server process, killed as a crash would.
func TestStoreUnreachable(t *testing.T) {
	redistest.NeedBinaries(t)
	proc, err := redistest.NewProc(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proc.Kill)
	cfg := node.DefaultConfig()
	cfg.RedisURL = "redis://" + proc.Addr() + "/0"
	e := startNode(t, cfg)
	c := e.client(t)
	c.signIn(incident.RoleAgent, "Ana")
	if res, _ := c.do("GET", "/console/queue", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("queue with Redis up: %d", res.StatusCode)
	}
	proc.Kill()
	res, body := c.do("GET", "/console/queue", nil)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Errorf("queue with Redis gone: %d, Retry-After %q; want 503 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if !strings.Contains(body, "cannot reach its store") || !strings.Contains(body, "Nothing was changed") {
		t.Errorf("the page does not say the store is unreachable:\n%s", body)
	}
}
