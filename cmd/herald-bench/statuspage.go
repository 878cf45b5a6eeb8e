package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/node"
)

type statuspageOptions struct {
	Duration, Warmup time.Duration
	Conns            int
	Declarations     int
	RedisURL         string
}

var defaultStatuspage = statuspageOptions{Duration: 10 * time.Second, Warmup: 2 * time.Second, Conns: 64, Declarations: 200, RedisURL: "redis://127.0.0.1:6379/0"}

// startNode builds and runs a herald node, as `herald serve` does, and
// waits until its status page is rendered.
func startNode(ctx context.Context, cfg node.Config, log *slog.Logger) (*node.Node, error) {
	n, err := node.New(ctx, cfg, node.Options{Log: log})
	if err != nil {
		return nil, err
	}
	if err := n.Run(ctx); err != nil {
		_ = n.Close()
		return nil, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for !n.Site.Ready() {
		if time.Now().After(deadline) {
			_ = n.Close()
			return nil, fmt.Errorf("status page not ready after 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return n, nil
}

// seed gives the first page 20 components (in 4 groups), 3 active incidents and 2 maintenances.
func seed(ctx context.Context, svc *incident.Service) (*incident.Page, error) {
	pages, err := svc.Pages(ctx)
	if err != nil {
		return nil, err
	}
	p := pages[0]
	var comps []string
	for g := 0; g < 4; g++ {
		name := fmt.Sprintf("Region %d", g+1)
		var members []string
		for i := 0; i < 5; i++ {
			n := fmt.Sprintf("Service %d.%d", g+1, i+1)
			desc := "Handles " + strings.ToLower(n) + " for every customer in the region."
			c, err := svc.CreateComponent(ctx, p.ID, incident.ComponentInput{Name: &n, Description: &desc})
			if err != nil {
				return nil, err
			}
			members = append(members, c.ID)
			comps = append(comps, c.ID)
		}
		if _, err := svc.CreateGroup(ctx, p.ID, incident.GroupInput{Name: &name, ComponentIDs: members}); err != nil {
			return nil, err
		}
	}
	statuses := []incident.ComponentStatus{incident.MajorOutage, incident.PartialOutage, incident.DegradedPerformance}
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("Elevated error rates on service %d", i+1)
		body := "We are investigating reports of failed requests. Next update within 30 minutes."
		inc, _, err := svc.CreateIncident(ctx, p.ID, incident.IncidentInput{Name: &name, Body: &body,
			Components: map[string]incident.ComponentStatus{comps[i*3]: statuses[i]}}, "")
		if err != nil {
			return nil, err
		}
		st := incident.Identified
		more := "The cause is identified: a failed database node. Failover is in progress."
		if _, err := svc.UpdateIncident(ctx, p.ID, inc.ID, incident.IncidentInput{Status: &st, Body: &more}); err != nil {
			return nil, err
		}
	}
	now := time.Now().UTC()
	for i := 0; i < 2; i++ {
		name := fmt.Sprintf("Database upgrade %d", i+1)
		body := "We will upgrade the primary database. Short interruptions are expected."
		from, until := now.Add(time.Duration(24*(i+1))*time.Hour), now.Add(time.Duration(24*(i+1)+2)*time.Hour)
		if _, _, err := svc.CreateIncident(ctx, p.ID, incident.IncidentInput{Name: &name, Body: &body, ScheduledFor: &from, ScheduledUntil: &until,
			ComponentIDs: []string{comps[10+i]}}, ""); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func benchStatuspage(ctx context.Context, opt statuspageOptions, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dir, err := os.MkdirTemp("", "herald-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	n, err := startNode(ctx, sqliteConfig(dir), log)
	if err != nil {
		return err
	}
	defer n.Close()
	page, err := seed(ctx, n.Incidents)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if err := n.Site.RenderPage(ctx, page.ID); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "herald-bench statuspage: %d CPUs, GOMAXPROCS %d, %s, %d connections, %s per endpoint after %s warm-up\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), opt.Conns, opt.Duration, opt.Warmup)
	fmt.Fprintf(stdout, "scenario: 20 components in 4 groups, 3 active incidents, 2 scheduled maintenances (SQLite engine)\n\n")

	// Clients send Accept-Encoding: gzip as browsers and widgets do; the
	// ceiling server answers with a fixed body of the same size.
	hdr := map[string]string{"Accept-Encoding": "gzip"}
	for _, path := range []string{"/", "/api/v2/summary.json"} {
		h, err := runLoad(ctx, n.URL+path, opt.Conns, opt.Warmup, opt.Duration, hdr)
		if err != nil {
			return err
		}
		ceil, err := ceiling(ctx, h.BodyBytes, opt)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "herald  %s\nceiling %s\nratio   %.2f of the fixed-body fiber ceiling (target ≥ 0.85), p99 %.2f ms (target ≤ 10 ms)\n\n",
			h, ceil, h.ReqPerSec/ceil.ReqPerSec, ms(h.P99))
	}

	lat, err := declareToVisible(ctx, n, n, page.ID, opt.Declarations)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "declaration → visible in summary.json, SQLite engine: %s (target p99 ≤ 50 ms)\n", lat)

	if opt.RedisURL != "" {
		lat, err := redisDeclareToVisible(ctx, opt, log, stderr)
		if err != nil {
			return fmt.Errorf("redis run: %w", err)
		}
		fmt.Fprintf(stdout, "declaration on node A → visible in node B's summary.json, Redis engine: %s (target p99 ≤ 50 ms)\n", lat)
	}
	return nil
}

// ceiling measures a minimal fiber server that returns a fixed body of size bytes.
func ceiling(ctx context.Context, size int, opt statuspageOptions) (loadResult, error) {
	body := bytes.Repeat([]byte("x"), size)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return loadResult{}, err
	}
	go func() { _ = app.Listener(ln) }()
	defer app.Shutdown()
	return runLoad(ctx, "http://"+ln.Addr().String()+"/", opt.Conns, opt.Warmup, opt.Duration, nil)
}

type latencies []time.Duration

func (l latencies) String() string {
	s := append(latencies(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return fmt.Sprintf("p50 %.1f ms, p99 %.1f ms, max %.1f ms over %d declarations",
		ms(s[len(s)/2]), ms(s[len(s)*99/100]), ms(s[len(s)-1]), len(s))
}

// declareToVisible declares n incidents through a's management API and
// measures, for each, the time from sending the request until b's
// summary.json lists it. Each incident is deleted afterwards so the page
// stays the same size.
func declareToVisible(ctx context.Context, a, b *node.Node, pageID string, n int) (latencies, error) {
	secret, _, err := a.Incidents.CreateToken(ctx, "bench", incident.RoleManager)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	var out latencies
	for i := 0; i < n; i++ {
		body := fmt.Sprintf(`{"incident":{"name":"Bench incident %d","status":"investigating","body":"Checking."}}`, i)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.URL+"/v1/pages/"+pageID+"/incidents", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		var created struct {
			ID string `json:"id"`
		}
		err = json.NewDecoder(resp.Body).Decode(&created)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusCreated {
			return nil, fmt.Errorf("declare: status %d, %v", resp.StatusCode, err)
		}
		for {
			if time.Since(start) > 5*time.Second {
				return nil, fmt.Errorf("incident %s not visible after 5 s", created.ID)
			}
			r, err := hc.Get(b.URL + "/api/v2/summary.json")
			if err != nil {
				return nil, err
			}
			raw, err := io.ReadAll(r.Body)
			r.Body.Close()
			if err != nil {
				return nil, err
			}
			if bytes.Contains(raw, []byte(`"id":"`+created.ID+`"`)) {
				out = append(out, time.Since(start))
				break
			}
		}
		if err := a.Incidents.DeleteIncident(ctx, pageID, created.ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func redisDeclareToVisible(ctx context.Context, opt statuspageOptions, log *slog.Logger, stderr io.Writer) (latencies, error) {
	prefix := "herald-bench-" + incident.NewID()
	var nodes []*node.Node
	defer func() {
		for _, n := range nodes {
			_ = n.Close()
		}
		dropRedisPrefix(opt.RedisURL, prefix, stderr)
	}()
	for i := 0; i < 2; i++ {
		n, err := startNode(ctx, redisConfig(opt.RedisURL, prefix), log)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	page, err := seed(ctx, nodes[0].Incidents)
	if err != nil {
		return nil, err
	}
	return declareToVisible(ctx, nodes[0], nodes[1], page.ID, opt.Declarations)
}
