package console_test

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/node"
	"github.com/heraldhq/herald/store/enginetest"
)

// redisURL is the test Redis: HERALD_TEST_REDIS_URL, else DB 0.
var redisURL = enginetest.RedisURL

// needRedis skips loudly without a Redis on 127.0.0.1:6379, and fails
// instead under CI=true, like the engine's own tests.
func needRedis(t *testing.T) *goredis.Client {
	t.Helper()
	o, _ := goredis.ParseURL(redisURL)
	rdb := goredis.NewClient(o)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis at %s does not answer (CI=true, so this fails): %v", redisURL, err)
		}
		t.Skipf("SKIPPING: Redis at %s does not answer: %v", redisURL, err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// redisConfig is node.DefaultConfig on the test Redis, under a prefix of
// its own deleted afterwards.
func redisConfig(t *testing.T) node.Config {
	t.Helper()
	rdb := needRedis(t)
	prefix := "heraldtest-console-" + incident.NewID()
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Unlink(ctx, iter.Val())
		}
	})
	cfg := node.DefaultConfig()
	cfg.RedisURL, cfg.RedisPrefix = redisURL, prefix
	return cfg
}

// TestTwoNodesOnRedis: a session opened on one node works on another and
// ends on both; a complaint stored through one node reaches a console
// live stream on the other.
func TestTwoNodesOnRedis(t *testing.T) {
	cfg := redisConfig(t)
	a := startNode(t, cfg)
	a.seed(t, customersCSV)
	b := startNode(t, cfg)
	b.page = a.page

	c := a.client(t)
	c.signIn(incident.RoleAgent, "Ana")
	onB := &client{t: t, e: b, cookies: c.cookies}
	if res, body := onB.do("GET", "/console/queue", nil); res.StatusCode != http.StatusOK || !strings.Contains(body, "Ana") {
		t.Fatalf("node B with node A's session: %d", res.StatusCode)
	}

	// Node A's live stream hears a complaint node B stores.
	req, _ := http.NewRequest("GET", a.base+"/console/live", nil)
	req.AddCookie(&http.Cookie{Name: "herald_console", Value: c.cookies["herald_console"]})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("live: %d", res.StatusCode)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for l := range lines { // the stream is open once its first comment arrives
		if strings.HasPrefix(l, ": live") {
			break
		}
	}
	if _, _, err := b.n.Complaints.Receive(context.Background(), complaint.Intake{PageID: a.page.ID, Channel: complaint.SMS,
		Contact: complaint.Contact{Phone: "+36201111111"}, Text: "card declined"}); err != nil {
		t.Fatal(err)
	}
	heard := false
	for l := range lines {
		if strings.Contains(l, "complaint.changed") {
			heard = true
			break
		}
	}
	if !heard {
		t.Fatal("node A's console stream never heard the complaint node B stored")
	}
	cancel()

	tok := onB.csrf("/console/queue")
	onB.do("POST", "/console/signout", map[string][]string{"_csrf": {tok}})
	c.cookies["herald_console"] = onB.cookies["herald_console"]
	if c.cookies["herald_console"] == "" {
		c.cookies = map[string]string{"herald_console": req.Cookies()[0].Value}
	}
	if res, _ := c.do("GET", "/console/queue", nil); res.StatusCode != http.StatusSeeOther {
		t.Errorf("node A after signing out on node B: %d, want 303 to sign-in", res.StatusCode)
	}
}
