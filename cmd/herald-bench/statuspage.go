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
	neturl "net/url"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/node"
	"github.com/heraldhq/herald/server"
)

type statuspageOptions struct {
	Duration, Warmup time.Duration
	Rounds           int
	Conns            int
	Declarations     int
	RedisURL         string
	// CPUProfile, when set, is where a CPU profile of the whole run
	// (herald, the ceilings and the load client, all in this process)
	// is written.
	CPUProfile string
}

var defaultStatuspage = statuspageOptions{Duration: 2 * time.Second, Warmup: time.Second, Rounds: 10, Conns: 64, Declarations: 200, RedisURL: "redis://127.0.0.1:6379/0"}

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
	stopProfile, err := cpuProfile(opt.CPUProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	fmt.Fprintf(stdout, "herald-bench statuspage: %d CPUs, GOMAXPROCS %d, %s, %d connections, %d rounds of %s per server and endpoint after %s warm-up\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), opt.Conns, opt.Rounds, opt.Duration, opt.Warmup)
	fmt.Fprintf(stdout, "scenario: 20 components in 4 groups, 3 active incidents, 2 scheduled maintenances (SQLite engine)\n\n")

	// Clients send Accept-Encoding: gzip as browsers and widgets do, to
	// herald and the ceilings alike; the ceiling server answers with a
	// fixed body of the same size. herald and the ceilings take short
	// turns, in an order that turns round by round, so that whatever else
	// the machine does weighs on all alike; the figure is the median of
	// the rounds' ratios, with their spread.
	hdr := map[string]string{"Accept-Encoding": "gzip"}
	for _, path := range []string{"/", "/api/v2/summary.json"} {
		res, err := compareWithCeiling(ctx, n.URL+path, hdr, opt)
		if err != nil {
			return err
		}
		fmt.Fprint(stdout, res)
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

// ceilingServer starts a minimal fiber server that returns a fixed body
// of size bytes at path, and returns the URL of path and a func that
// stops it. It answers the path herald is asked, so that both get the
// same request bytes: a longer request line costs the server (fasthttp
// parses and normalises the path, fiber matches it) and the client
// alike, and none of that is herald's doing. With
// headers, it answers those headers too (herald's, as the probe saw
// them); with heraldConns, it serves connections as herald does: under
// herald's read, write and idle timeouts and with its write buffer
// (server.WriteBufferSize; fiber's default is 4 KB). Both together are
// what herald's answer costs with no herald code behind it; the headers
// alone, what the answer's headers cost fiber itself.
func ceilingServer(path string, size int, headers [][2]string, heraldConns bool) (string, func(), error) {
	body := bytes.Repeat([]byte("x"), size)
	cfg := fiber.Config{DisableStartupMessage: true}
	if heraldConns {
		cfg.ReadTimeout, cfg.WriteTimeout, cfg.IdleTimeout = server.DefaultReadTimeout, server.DefaultWriteTimeout, server.DefaultIdleTimeout
		cfg.WriteBufferSize = server.WriteBufferSize
	}
	app := fiber.New(cfg)
	app.Get(path, func(c *fiber.Ctx) error {
		if headers == nil {
			c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		}
		for _, h := range headers {
			c.Set(h[0], h[1])
		}
		return c.Send(body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	go func() { _ = app.Listener(ln) }()
	return "http://" + ln.Addr().String() + path, func() { _ = app.Shutdown() }, nil
}

// ceilingResult is herald against the ceiling, round by round.
type ceilingResult struct {
	URL                   string
	Herald, Ceiling, Like []loadResult
	Ratios, LikeRatios    []float64
	MedianRatio           float64
	MedianLike            float64
	// HeadersOnly is the ceiling answering herald's headers with fiber's
	// connection settings; HeadersRatios its throughput over the plain
	// ceiling's.
	HeadersOnly         []loadResult
	HeadersRatios       []float64
	MedianHeaders       float64
	MedianP99, WorstP99 time.Duration
	MinRatio, MaxRatio  float64
	HeraldBody, Headers int
}

func (r ceilingResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (body %d B gzip, %d headers)\n", r.URL, r.HeraldBody, r.Headers)
	for i := range r.Ratios {
		fmt.Fprintf(&b, "  round %d: herald %6.0f req/s p99 %5.2f ms | ceiling %6.0f req/s | with herald's headers %6.0f req/s | with herald's headers and connection settings %6.0f req/s | ratio %.3f (%.3f)\n",
			i+1, r.Herald[i].ReqPerSec, ms(r.Herald[i].P99), r.Ceiling[i].ReqPerSec, r.HeadersOnly[i].ReqPerSec, r.Like[i].ReqPerSec, r.Ratios[i], r.LikeRatios[i])
	}
	verdict := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "MISS"
	}
	fmt.Fprintf(&b, "  ratio: median %.3f (rounds %.3f–%.3f) of the fixed-body fiber ceiling, target ≥ 0.95: %s\n",
		r.MedianRatio, r.MinRatio, r.MaxRatio, verdict(r.MedianRatio >= 0.95))
	fmt.Fprintf(&b, "  median %.3f of the same ceiling answering herald's headers under herald's connection settings (timeouts, %d KB write buffer; no target: what herald's own code costs)\n", r.MedianLike, server.WriteBufferSize>>10)
	fmt.Fprintf(&b, "  the ceiling answering herald's headers (fiber's connection settings, no herald code) reaches a median %.3f of the plain ceiling: what the headers alone cost\n", r.MedianHeaders)
	fmt.Fprintf(&b, "  p99: median %.2f ms, worst round %.2f ms, target ≤ 5 ms: %s\n\n",
		ms(r.MedianP99), ms(r.WorstP99), verdict(r.MedianP99 <= 5*time.Millisecond))
	return b.String()
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// compareWithCeiling measures url and three ceiling servers answering a
// body of the same size at url's path (plain; with herald's headers; with
// herald's headers and connection settings) in turns, opt.Rounds times
// each.
func compareWithCeiling(ctx context.Context, url string, hdr map[string]string, opt statuspageOptions) (ceilingResult, error) {
	res := ceilingResult{URL: url}
	u, err := neturl.Parse(url)
	if err != nil {
		return res, err
	}
	// A first short run finds the body size and headers for the ceilings.
	probe, err := runLoad(ctx, url, opt.Conns, opt.Warmup, time.Second, hdr)
	if err != nil {
		return res, err
	}
	res.HeraldBody, res.Headers = probe.BodyBytes, len(probe.Headers)
	ceilURL, stop, err := ceilingServer(u.Path, probe.BodyBytes, nil, false)
	if err != nil {
		return res, err
	}
	defer stop()
	likeURL, stopLike, err := ceilingServer(u.Path, probe.BodyBytes, probe.Headers, true)
	if err != nil {
		return res, err
	}
	defer stopLike()
	hdrURL, stopHdr, err := ceilingServer(u.Path, probe.BodyBytes, probe.Headers, false)
	if err != nil {
		return res, err
	}
	defer stopHdr()
	var p99s []time.Duration
	for i := 0; i < max(opt.Rounds, 1); i++ {
		// Every server gets the same requests (hdr). The order turns
		// round by round (herald first, then last), so that a machine
		// getting faster or slower during a round favours neither.
		urls := []string{url, ceilURL, hdrURL, likeURL}
		if i%2 == 1 {
			urls = []string{likeURL, hdrURL, ceilURL, url}
		}
		got := map[string]loadResult{}
		for _, u := range urls {
			r, err := runLoad(ctx, u, opt.Conns, opt.Warmup/2, opt.Duration, hdr)
			if err != nil {
				return res, err
			}
			got[u] = r
		}
		h, c, l, o := got[url], got[ceilURL], got[likeURL], got[hdrURL]
		res.Herald, res.Ceiling, res.Like = append(res.Herald, h), append(res.Ceiling, c), append(res.Like, l)
		res.HeadersOnly, res.HeadersRatios = append(res.HeadersOnly, o), append(res.HeadersRatios, o.ReqPerSec/c.ReqPerSec)
		res.Ratios = append(res.Ratios, h.ReqPerSec/c.ReqPerSec)
		res.LikeRatios = append(res.LikeRatios, h.ReqPerSec/l.ReqPerSec)
		p99s = append(p99s, h.P99)
	}
	sorted := append([]float64(nil), res.Ratios...)
	sort.Float64s(sorted)
	res.MedianRatio, res.MinRatio, res.MaxRatio = median(res.Ratios), sorted[0], sorted[len(sorted)-1]
	res.MedianLike, res.MedianHeaders = median(res.LikeRatios), median(res.HeadersRatios)
	sort.Slice(p99s, func(i, j int) bool { return p99s[i] < p99s[j] })
	res.MedianP99, res.WorstP99 = p99s[len(p99s)/2], p99s[len(p99s)-1]
	return res, nil
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
