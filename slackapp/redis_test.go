package slackapp_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/node"
	"github.com/heraldhq/herald/sandbox"
	"github.com/heraldhq/herald/store/enginetest"
)

// Two nodes on one Redis and one Slack workspace: the sandbox, which both
// point at as at Slack and Twilio.

// redisURL is the test Redis: HERALD_TEST_REDIS_URL, else DB 0.
var redisURL = enginetest.RedisURL

// needRedis returns a fresh key prefix on the test Redis and deletes its
// keys when the test ends. Without Redis it skips loudly, and fails under
// CI=true.
func needRedis(t *testing.T) string {
	t.Helper()
	opts, err := goredis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis at %s does not answer (CI=true, so this fails): %v", redisURL, err)
		}
		t.Skipf("SKIPPING: Redis at %s does not answer: %v. Start redis-server to run the two-node Slack tests.", redisURL, err)
	}
	prefix := "heraldtest-" + incident.NewID()
	t.Cleanup(func() {
		defer rdb.Close()
		ctx := context.Background()
		keys, err := rdb.Keys(ctx, prefix+":*").Result()
		if err == nil && len(keys) > 0 {
			err = rdb.Unlink(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("delete test keys: %v", err)
		}
	})
	return prefix
}

// cluster is two nodes on one Redis, their Slack and Twilio the sandbox.
type cluster struct {
	t      *testing.T
	sb     *sandbox.Sandbox
	nodes  [2]*node.Node
	stops  [2]func()
	pageID string
}

func startCluster(t *testing.T, smsRate float64) *cluster {
	t.Helper()
	prefix := needRedis(t)
	sb, err := sandbox.Start(context.Background(), sandbox.Config{Addr: "127.0.0.1:0", SMTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	c := &cluster{t: t, sb: sb}
	for i := range c.nodes {
		cfg := node.DefaultConfig()
		cfg.Addr, cfg.LogLevel = "127.0.0.1:0", "warn"
		cfg.DataDir, cfg.RedisURL, cfg.RedisPrefix = "", redisURL, prefix
		cfg.Slack.IncidentChannel, cfg.Slack.Managers = node.SandboxIncidentChannel, manager
		cfg.Broadcast.SMSRate, cfg.Broadcast.Lease = smsRate, 2*time.Second
		sc := sb.Config()
		cfg.Providers = node.Providers{TwilioAccountSID: sc.AccountSID, TwilioAuthToken: sc.AuthToken, TwilioFrom: "+15005550006",
			TwilioAPIURL: sb.TwilioURL(), SlackToken: sc.SlackToken, SlackAPIURL: sb.SlackURL(), SlackSigningSecret: sc.SlackSigningSecret}
		ctx, cancel := context.WithCancel(context.Background())
		var w io.Writer = io.Discard
		if os.Getenv("DEBUGLOG") != "" {
			w = os.Stderr
		}
		n, err := node.New(ctx, cfg, node.Options{Log: slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", i)})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		var once sync.Once
		c.stops[i] = func() {
			once.Do(func() {
				cancel()
				if err := n.Close(); err != nil {
					t.Errorf("close node %d: %v", i, err)
				}
			})
		}
		t.Cleanup(c.stops[i])
		if err := n.Run(ctx); err != nil {
			t.Fatal(err)
		}
		c.nodes[i] = n
	}
	c.pageID = c.nodes[0].Page.ID
	return c
}

func (c *cluster) as() context.Context {
	return incident.WithActor(context.Background(), incident.Actor{Name: "cli", Role: incident.RoleAdmin})
}

// message returns the incident channel's one top-level message, waiting
// until it has been posted and until ok accepts its blocks.
func (c *cluster) message(what string, ok func(blocks string) bool) sandbox.Message {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var top []sandbox.Message
		for _, m := range c.sb.Messages(sandbox.Filter{Kind: sandbox.KindSlack, To: node.SandboxIncidentChannel}) {
			if m.Headers["thread_ts"] == "" {
				top = append(top, m)
			}
		}
		if len(top) > 1 {
			c.t.Fatalf("%d top-level messages in the incident channel, want 1", len(top))
		}
		if len(top) == 1 && ok(string(top[0].Blocks)) {
			return top[0]
		}
		if time.Now().After(deadline) {
			got := "none"
			if len(top) == 1 {
				got = string(top[0].Blocks)
			}
			c.t.Fatalf("the incident message never %s; it shows: %s", what, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMessageOutlivesItsNode: node A declares an incident whose SMS go
// out slowly and posts its message; A then stops. Node B, which changed
// nothing, goes on sending A's broadcast and keeps the message's progress
// moving to the end. Before, only the node that made a change refreshed
// the message, so it stayed at the progress A last showed.
func TestMessageOutlivesItsNode(t *testing.T) {
	const customers = 30
	c := startCluster(t, 10)
	var csv strings.Builder
	csv.WriteString("id,name,phone,language\n")
	for i := range customers {
		fmt.Fprintf(&csv, "c%d,Customer %d,+3620555%04d,en\n", i, i, i)
	}
	if _, err := c.nodes[0].Notify.ImportCustomers(c.as(), c.pageID, strings.NewReader(csv.String()), "csv", false); err != nil {
		t.Fatal(err)
	}
	name, body, on := "Card payments failing", "Card payments fail.", true
	inc, _, err := c.nodes[0].Incidents.CreateIncident(c.as(), c.pageID, incident.IncidentInput{Name: &name, Body: &body, DeliverNotifications: &on}, "")
	if err != nil {
		t.Fatal(err)
	}
	c.nodes[0].Slack.Refresh(inc.ID)
	first := c.message("was posted", func(string) bool { return true })
	done := fmt.Sprintf("SMS %d/%d sent", customers, customers)
	if strings.Contains(string(first.Blocks), done) {
		t.Fatalf("the broadcast was over before the message was posted; this test needs it still going: %s", first.Blocks)
	}
	// Stopped once the message is posted and recorded (stopped while
	// posting, it may have posted a message it could not record, which
	// B would then post again).
	for {
		rec, err := c.nodes[1].Engine.LiveMessages.FindLiveMessage(context.Background(), inc.ID)
		if err == nil && rec.TS != "" {
			break
		}
		if err != nil && incident.ErrorCode(err) != incident.ENOTFOUND {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.stops[0]()
	c.message("showed the whole broadcast sent ("+done+") after node A stopped", func(b string) bool { return strings.Contains(b, done) })
	if n := c.sb.Count(sandbox.KindSMS); n != customers {
		t.Errorf("%d SMS sent, want %d", n, customers)
	}
}

// TestConcurrentChangesEndAtTheLatest: updates made through both nodes at
// once leave one message showing the incident's latest update, each
// update replied once in its thread.
func TestConcurrentChangesEndAtTheLatest(t *testing.T) {
	c := startCluster(t, 0)
	name, body, off := "Search is slow", "Looking.", false
	inc, _, err := c.nodes[0].Incidents.CreateIncident(c.as(), c.pageID, incident.IncidentInput{Name: &name, Body: &body, DeliverNotifications: &off}, "")
	if err != nil {
		t.Fatal(err)
	}
	c.nodes[0].Slack.Refresh(inc.ID)
	c.message("was posted", func(string) bool { return true })
	const rounds = 6
	var wg sync.WaitGroup
	errs := make([]error, len(c.nodes))
	for i, n := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				b, off := fmt.Sprintf("Update %d from node %d.", r, i), false
				for {
					_, err := n.Incidents.UpdateIncident(c.as(), c.pageID, inc.ID, incident.IncidentInput{Body: &b, DeliverNotifications: &off})
					if incident.ErrorCode(err) == incident.ECONFLICT {
						continue // the other node's update went in first
					}
					if err != nil {
						errs[i] = err
						return
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	latest, err := c.nodes[1].Incidents.Incident(context.Background(), c.pageID, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := latest.Updates[0].Body
	c.message("showed the latest update ("+want+")", func(b string) bool { return strings.Contains(b, want) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		replies := map[string]int{}
		for _, m := range c.sb.Messages(sandbox.Filter{Kind: sandbox.KindSlack, To: node.SandboxIncidentChannel}) {
			if m.Headers["thread_ts"] != "" {
				replies[m.Body[strings.Index(m.Body, "\n")+1:]]++
			}
		}
		all := len(replies) == 2*rounds
		for b, n := range replies {
			if n != 1 {
				t.Fatalf("reply %q posted %d times", b, n)
			}
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d updates replied in the thread: %v", len(replies), 2*rounds, replies)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
