package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/node"
	"github.com/heraldhq/herald/notify"
	"github.com/heraldhq/herald/queue"
)

// broadcastOptions are the broadcast scenario's flags.
type broadcastOptions struct {
	Customers                                                 int           // part 1 and 5: customers planned (SQLite)
	RedisCustomers                                            int           // part 1 on Redis (0: same as Customers)
	PlanNodes                                                 int           // part 1 on Redis: nodes planning at once in the second run (≤ 1: none)
	Messages                                                  int           // part 2: messages per channel for throughput
	Workers                                                   int           // part 2: herald's workers per channel = the ceiling client's concurrency
	ProviderLatency                                           time.Duration // part 2: the sandbox's answer time in the provider-bound round (0: skip it)
	Rate                                                      float64       // part 3: configured limit R (SMS/s)
	Duration                                                  time.Duration // part 3: how long R is held
	Declarations                                              int           // part 4: declarations timed
	RedisURL                                                  string        // "" skips the Redis runs
	CPUProfile                                                string        // file for a CPU profile of the whole run
	SkipPlan, SkipDispatch, SkipRate, SkipLatency, SkipMemory bool
}

var defaultBroadcast = broadcastOptions{Customers: 1_000_000, RedisCustomers: 100_000, PlanNodes: 3, Messages: 20_000, Workers: 8, ProviderLatency: 20 * time.Millisecond, Rate: 200, Duration: 20 * time.Second,
	Declarations: 100, RedisURL: "redis://127.0.0.1:6379/0"}

// world is a page with components, and the herald node now running over
// its store. A scenario replaces the node (start) to change what it sends
// through; the store, the page and the customers stay.
type world struct {
	name  string
	cfg   node.Config
	log   *slog.Logger
	n     *node.Node
	page  *incident.Page
	comps []string
	dir   string // SQLite: the data directory
	drop  func() // Redis: delete the world's keys
	// beforeRun, when set, is called with each new node before it runs
	// (a scenario's clock, say, which nothing may read concurrently).
	beforeRun func(*node.Node)
}

func openSQLiteWorld(ctx context.Context, dir string, log *slog.Logger) (*world, error) {
	cfg := sqliteConfig(dir)
	cfg.PublicURL = benchURL
	w := &world{name: "SQLite", cfg: cfg, log: log, dir: dir}
	if err := w.setup(ctx); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

// openRedisWorld opens Redis under a random key prefix; close deletes every
// key under it.
func openRedisWorld(ctx context.Context, url string, log *slog.Logger) (*world, error) {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "hbench" + hex.EncodeToString(b)
	cfg := redisConfig(url, prefix)
	cfg.PublicURL = benchURL
	w := &world{name: "Redis", cfg: cfg, log: log, drop: func() { dropRedisPrefix(url, prefix, os.Stderr) }}
	if err := w.setup(ctx); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

// setup starts a node that only plans and creates the page (20 components).
func (w *world) setup(ctx context.Context) error {
	if err := w.idle(ctx); err != nil {
		return err
	}
	name, url, tz := "Acme", benchURL, "Europe/Budapest"
	p, err := w.n.Incidents.CreatePage(ctx, incident.PageInput{Name: &name, URL: &url, TimeZone: &tz, Languages: []string{"en", "hu", "pl", "hr"}})
	if err != nil {
		return err
	}
	w.page = p
	for i := 0; i < 20; i++ {
		n := fmt.Sprintf("Service %d", i+1)
		c, err := w.n.Incidents.CreateComponent(ctx, p.ID, incident.ComponentInput{Name: &n})
		if err != nil {
			return err
		}
		w.comps = append(w.comps, c.ID)
	}
	return nil
}

// start replaces the world's node with one built as herald serve builds
// it, from the world's config changed by tune (nil: none) and with opt,
// and runs it.
func (w *world) start(ctx context.Context, opt node.Options, tune func(*node.Config)) error {
	w.stop()
	cfg := w.cfg
	if tune != nil {
		tune(&cfg)
	}
	opt.Log = w.log
	n, err := node.New(ctx, cfg, opt)
	if err != nil {
		return err
	}
	if w.beforeRun != nil {
		w.beforeRun(n)
	}
	if err := n.Run(ctx); err != nil {
		_ = n.Close()
		return err
	}
	w.n = n
	return nil
}

// idle replaces the world's node with one that only plans.
func (w *world) idle(ctx context.Context) error {
	return w.start(ctx, node.Options{PlanOnly: true}, nil)
}

// stop shuts the world's node down: its sends in flight finish.
func (w *world) stop() {
	if w.n != nil {
		_ = w.n.Close()
		w.n = nil
	}
}

// close stops the node and, on Redis, deletes the world's keys.
func (w *world) close() {
	w.stop()
	if w.drop != nil {
		w.drop()
	}
}

// store is the world's store, as the fan-out sees it.
func (w *world) store() notify.Store { return w.n.Engine.Notify }

var languages = []string{"en", "hu", "pl", "hr"}

// loadCustomers upserts n customers (IDs from first) through notify.Store
// in batches of 5000, each with an SMS number and, when withEmail, an email
// address. Customers name no components, so every incident reaches them.
func (w *world) loadCustomers(ctx context.Context, first, n int, withEmail bool) (time.Duration, error) {
	start := time.Now()
	now := start.UTC()
	const chunk = 5000
	batch := make([]*audience.Customer, 0, chunk)
	for i := first; i < first+n; i++ {
		c := &audience.Customer{ID: fmt.Sprintf("c%08d", i), PageID: w.page.ID, Name: fmt.Sprintf("Customer %d", i),
			Phone: fmt.Sprintf("+3620%07d", i%10_000_000), Language: languages[i%4], TimeZone: "Europe/Budapest",
			Plan: "business", Region: "eu", CreatedAt: now, UpdatedAt: now}
		if withEmail {
			c.Email = fmt.Sprintf("c%08d@example.com", i)
		}
		batch = append(batch, c)
		if len(batch) == chunk || i == first+n-1 {
			if _, err := w.store().UpsertCustomers(ctx, batch); err != nil {
				return 0, err
			}
			batch = batch[:0]
		}
	}
	return time.Since(start), nil
}

// declare creates an incident with a major outage on the first component
// and returns it with its broadcast's ID.
func (w *world) declare(ctx context.Context, name string) (*incident.Incident, string, error) {
	st, body := incident.Investigating, "We are investigating failed payments. Next update within 30 minutes."
	inc, _, err := w.n.Incidents.CreateIncident(ctx, w.page.ID, incident.IncidentInput{Name: &name, Status: &st, Body: &body,
		ComponentIDs: []string{w.comps[0]}, Components: map[string]incident.ComponentStatus{w.comps[0]: incident.MajorOutage}}, "")
	if err != nil {
		return nil, "", err
	}
	bs, err := w.n.Engine.Incidents.FindBroadcasts(ctx, inc.ID)
	if err != nil {
		return nil, "", err
	}
	if len(bs) == 0 {
		return nil, "", fmt.Errorf("incident %s has no broadcast", inc.ID)
	}
	return inc, bs[len(bs)-1].ID, nil
}

// waitPlanned polls until the broadcast's plan is done.
func (w *world) waitPlanned(ctx context.Context, broadcastID string, limit time.Duration) (*queue.Plan, error) {
	deadline := time.Now().Add(limit)
	for {
		p, err := w.store().FindPlan(ctx, broadcastID)
		if err != nil {
			return nil, err
		}
		if p.State != queue.PlanPending {
			return p, nil
		}
		if time.Now().After(deadline) {
			return p, fmt.Errorf("broadcast %s not planned after %s (%d deliveries so far)", broadcastID, limit, p.Planned)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// figure is one line of the final report.
type figure struct {
	name, value, target string
	pass                bool
	info                bool // no target: printed without PASS/MISS
}

type report struct {
	out  io.Writer
	figs []figure
}

// summary prints how many targets passed and missed, and how long it took.
func (r *report) summary(w io.Writer, begin time.Time) {
	pass, miss := 0, 0
	for _, f := range r.figs {
		switch {
		case f.info:
		case f.pass:
			pass++
		default:
			miss++
		}
	}
	fmt.Fprintf(w, "summary: %d PASS, %d MISS (%s)\n", pass, miss, time.Since(begin).Round(time.Second))
}

func (r *report) add(f figure) {
	verdict := "MISS"
	if f.pass {
		verdict = "PASS"
	}
	if f.info {
		verdict = "    "
	}
	fmt.Fprintf(r.out, "  %s  %-58s %s", verdict, f.name, f.value)
	if f.target != "" {
		fmt.Fprintf(r.out, "   (target %s)", f.target)
	}
	fmt.Fprintln(r.out)
	r.figs = append(r.figs, f)
}

func (r *report) info(name, value string) { r.add(figure{name: name, value: value, info: true}) }

func benchBroadcast(ctx context.Context, opt broadcastOptions, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	if opt.RedisCustomers <= 0 {
		opt.RedisCustomers = opt.Customers
	}
	if opt.RedisURL != "" {
		eng, err := node.OpenEngine(ctx, redisConfig(opt.RedisURL, ""), nil)
		if err != nil {
			fmt.Fprintf(stdout, "Redis at %s does not answer (%v): Redis runs skipped\n", opt.RedisURL, err)
			opt.RedisURL = ""
		} else {
			_ = eng.Close()
		}
	}
	fmt.Fprintf(stdout, "herald-bench broadcast: %d CPUs, GOMAXPROCS %d, %s; %d customers, %d messages per channel, %d workers, R=%.0f/s for %s\n\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), opt.Customers, opt.Messages, opt.Workers, opt.Rate, opt.Duration)
	rep := &report{out: stdout}
	begin := time.Now()
	stopProfile, err := cpuProfile(opt.CPUProfile)
	if err != nil {
		return err
	}
	defer stopProfile()

	dir, err := os.MkdirTemp("", "herald-bench-broadcast-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// 1 (and the database 5 reuses): plan on SQLite, then on Redis.
	var bigDB string
	var bigPage string
	if !opt.SkipPlan || !opt.SkipMemory {
		fmt.Fprintln(stdout, "1. planning (planner only, no channel runs)")
		path, pageID, err := benchPlanSQLite(ctx, dir, opt, log, rep, !opt.SkipPlan)
		if err != nil {
			return fmt.Errorf("plan (SQLite): %w", err)
		}
		bigDB, bigPage = path, pageID
		if !opt.SkipPlan && opt.RedisURL != "" {
			if err := benchPlanRedis(ctx, opt, log, rep); err != nil {
				return fmt.Errorf("plan (Redis): %w", err)
			}
			if opt.PlanNodes > 1 {
				if err := benchPlanRedisNodes(ctx, opt, log, rep); err != nil {
					return fmt.Errorf("plan (Redis, %d nodes): %w", opt.PlanNodes, err)
				}
			}
		}
		fmt.Fprintln(stdout)
	}
	if !opt.SkipDispatch || !opt.SkipRate {
		if err := benchDispatch(ctx, dir, opt, log, rep); err != nil {
			return err
		}
	}
	if !opt.SkipLatency {
		fmt.Fprintln(stdout, "4. declaration → first request at the sandbox's Twilio (10 customers, default Poll)")
		if err := benchLatency(ctx, dir, opt, log, rep); err != nil {
			return err
		}
		fmt.Fprintln(stdout)
	}
	if !opt.SkipMemory {
		fmt.Fprintln(stdout, "5. resident memory of a herald process (store, status page, HTTP server, notify with sandbox channels)")
		if err := benchMemory(ctx, bigDB, bigPage, opt, rep); err != nil {
			return fmt.Errorf("memory: %w", err)
		}
		fmt.Fprintln(stdout)
	}

	rep.summary(stdout, begin)
	return nil
}

// benchPlanSQLite loads opt.Customers into a fresh SQLite file and, when
// measure is set, times planning one declaration to all of them. It
// returns the data directory and page for the memory run.
func benchPlanSQLite(ctx context.Context, dir string, opt broadcastOptions, log *slog.Logger, rep *report, measure bool) (string, string, error) {
	sub := filepath.Join(dir, "plan")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		return "", "", err
	}
	w, err := openSQLiteWorld(ctx, sub, log)
	if err != nil {
		return "", "", err
	}
	defer w.close()
	if err := planRun(ctx, w, opt.Customers, opt, rep, measure, 10*time.Second); err != nil {
		return "", "", err
	}
	return w.dir, w.page.ID, nil
}

func benchPlanRedis(ctx context.Context, opt broadcastOptions, log *slog.Logger, rep *report) error {
	w, err := openRedisWorld(ctx, opt.RedisURL, log)
	if err != nil {
		return err
	}
	defer func() {
		start := time.Now()
		w.close()
		rep.info("Redis: deleting the bench's keys", time.Since(start).Round(time.Millisecond).String())
	}()
	// Issue #16's target: a million recipients (two million deliveries)
	// in 15 s on one node; smaller runs are reported without one.
	var target time.Duration
	if opt.RedisCustomers >= 1_000_000 {
		target = 15 * time.Second * time.Duration(opt.RedisCustomers) / 1_000_000
	}
	return planRun(ctx, w, opt.RedisCustomers, opt, rep, true, target)
}

// benchPlanRedisNodes times opt.PlanNodes nodes planning at once on one
// Redis: as many pages, each with its share of opt.RedisCustomers, and a
// declaration on each, so the nodes plan different broadcasts and the
// deliveries add up to the one-node run's. A broadcast is planned by the
// node that claims it; the figure is the time until every plan is done.
func benchPlanRedisNodes(ctx context.Context, opt broadcastOptions, log *slog.Logger, rep *report) error {
	w, err := openRedisWorld(ctx, opt.RedisURL, log)
	if err != nil {
		return err
	}
	defer func() {
		start := time.Now()
		w.close()
		rep.info("Redis: deleting the bench's keys", time.Since(start).Round(time.Millisecond).String())
	}()
	k := opt.PlanNodes
	pages, comps := []*incident.Page{w.page}, []string{w.comps[0]}
	for i := 1; i < k; i++ {
		name, url, tz := fmt.Sprintf("Acme %d", i+1), benchURL, "Europe/Budapest"
		p, err := w.n.Incidents.CreatePage(ctx, incident.PageInput{Name: &name, URL: &url, TimeZone: &tz, Languages: languages})
		if err != nil {
			return err
		}
		cn := "Payments"
		c, err := w.n.Incidents.CreateComponent(ctx, p.ID, incident.ComponentInput{Name: &cn})
		if err != nil {
			return err
		}
		pages, comps = append(pages, p), append(comps, c.ID)
	}
	loadStart := time.Now()
	first := 0
	for i, p := range pages {
		n := opt.RedisCustomers / k
		if i == k-1 {
			n = opt.RedisCustomers - first
		}
		w.page = p
		if _, err := w.loadCustomers(ctx, first, n, true); err != nil {
			return fmt.Errorf("load customers: %w", err)
		}
		first += n
	}
	took := time.Since(loadStart)
	rep.info(fmt.Sprintf("%s: load %d customers over %d pages", w.name, opt.RedisCustomers, k),
		fmt.Sprintf("%s, %.0f customers/s", took.Round(time.Millisecond), float64(opt.RedisCustomers)/took.Seconds()))
	// The world's node plans too: k nodes in all, each built as herald
	// serve builds it, planning only.
	var others []*node.Node
	defer func() {
		for _, n := range others {
			_ = n.Close()
		}
	}()
	for i := 1; i < k; i++ {
		cfg := w.cfg
		n, err := node.New(ctx, cfg, node.Options{PlanOnly: true, Log: log})
		if err != nil {
			return err
		}
		if err := n.Run(ctx); err != nil {
			_ = n.Close()
			return err
		}
		others = append(others, n)
	}
	start := time.Now()
	bids := make([]string, k)
	for i, p := range pages {
		name, st, body := "Payments failing", incident.Investigating, "We are investigating failed payments. Next update within 30 minutes."
		inc, _, err := w.n.Incidents.CreateIncident(ctx, p.ID, incident.IncidentInput{Name: &name, Status: &st, Body: &body,
			ComponentIDs: []string{comps[i]}, Components: map[string]incident.ComponentStatus{comps[i]: incident.MajorOutage}}, "")
		if err != nil {
			return err
		}
		bs, err := w.n.Engine.Incidents.FindBroadcasts(ctx, inc.ID)
		if err != nil || len(bs) == 0 {
			return fmt.Errorf("incident %s: broadcasts %v, %v", inc.ID, bs, err)
		}
		bids[i] = bs[len(bs)-1].ID
	}
	planned := 0
	for _, bid := range bids {
		p, err := w.waitPlanned(ctx, bid, 20*time.Minute)
		if err != nil {
			return err
		}
		planned += p.Planned
	}
	d := time.Since(start)
	rep.info(fmt.Sprintf("%s: %d nodes plan %d broadcasts, %d recipients (%d deliveries)", w.name, k, k, opt.RedisCustomers, planned),
		fmt.Sprintf("%.2f s, %.0f deliveries/s (no target on Redis)", d.Seconds(), float64(planned)/d.Seconds()))
	return nil
}

// planRun loads n customers (phone and email each) into w and, when
// measure is set, declares an incident and times the planner alone.
func planRun(ctx context.Context, w *world, n int, opt broadcastOptions, rep *report, measure bool, target time.Duration) error {
	took, err := w.loadCustomers(ctx, 0, n, true)
	if err != nil {
		return fmt.Errorf("load customers: %w", err)
	}
	rep.info(fmt.Sprintf("%s: load %d customers (UpsertCustomers × 5000)", w.name, n),
		fmt.Sprintf("%s, %.0f customers/s", took.Round(time.Millisecond), float64(n)/took.Seconds()))
	if !measure {
		return nil
	}
	// The node that loaded them only plans: it is the one timed.
	cpu0, redis0 := processCPU(), w.redisCPU(ctx)
	start := time.Now()
	_, bid, err := w.declare(ctx, "Payments failing")
	if err != nil {
		return err
	}
	p, err := w.waitPlanned(ctx, bid, 10*time.Minute)
	if err != nil {
		return err
	}
	d := time.Since(start)
	cpu, redisCPU := processCPU()-cpu0, w.redisCPU(ctx)-redis0
	name := fmt.Sprintf("%s: plan %d recipients (%d deliveries: SMS + email)", w.name, n, p.Planned)
	value := fmt.Sprintf("%.2f s, %.0f deliveries/s", d.Seconds(), float64(p.Planned)/d.Seconds())
	if per := float64(max(p.Planned, 1)); redis0 >= 0 {
		value += fmt.Sprintf("; CPU a delivery: herald %.1f µs, redis-server %.1f µs (all of its clients)",
			float64(cpu.Microseconds())/per, float64(redisCPU.Microseconds())/per)
		rep.info(w.name+": load average when planning ended", loadAverage())
	}
	if target > 0 {
		rep.add(figure{name: name, value: value, target: fmt.Sprintf("≤ %s", target), pass: d <= target})
	} else {
		rep.info(name, value+" (no target below 1 000 000 on Redis)")
	}
	return nil
}

// countingTransport counts the HTTP answers by status, the way the
// sandbox sees them (every request gets exactly one answer).
type countingTransport struct {
	base     http.RoundTripper
	tooMany  atomic.Int64
	answered atomic.Int64
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err == nil {
		t.answered.Add(1)
		if resp.StatusCode == http.StatusTooManyRequests {
			t.tooMany.Add(1)
		}
	}
	return resp, err
}

var errNoMessages = errors.New("no messages")

// parseBroadcast reads the broadcast scenario's flags.
func parseBroadcast(args []string, stderr io.Writer) (broadcastOptions, error) {
	fs := flag.NewFlagSet("broadcast", flag.ContinueOnError)
	fs.SetOutput(stderr)
	d := defaultBroadcast
	opt := broadcastOptions{}
	fs.IntVar(&opt.Customers, "customers", d.Customers, "customers planned (1) and held in memory (5), SQLite")
	fs.IntVar(&opt.RedisCustomers, "redis-customers", d.RedisCustomers, "customers planned on Redis (default 100000 to keep the run short; 0: -customers)")
	fs.IntVar(&opt.PlanNodes, "plan-nodes", d.PlanNodes, "nodes planning at once on Redis in 1's second run, each a broadcast on its own page, the customers split between them (≤ 1 skips it)")
	fs.IntVar(&opt.Messages, "messages", d.Messages, "messages per channel in the throughput run (2)")
	fs.DurationVar(&opt.ProviderLatency, "provider-latency", d.ProviderLatency, "the sandbox's answer time in the provider-bound dispatch round (2; 0 skips it)")
	fs.IntVar(&opt.Workers, "workers", d.Workers, "herald's workers per channel, and the ceiling client's concurrency (2, 3)")
	fs.Float64Var(&opt.Rate, "rate", d.Rate, "configured SMS limit R, and the sandbox's ceiling (3)")
	fs.DurationVar(&opt.Duration, "duration", d.Duration, "how long R is held (3)")
	fs.IntVar(&opt.Declarations, "declarations", d.Declarations, "declarations timed for declaration → first request (4)")
	fs.StringVar(&opt.RedisURL, "redis", d.RedisURL, "Redis for the Redis runs (\"\" or no answer skips them)")
	fs.StringVar(&opt.CPUProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	fs.BoolVar(&opt.SkipPlan, "skip-plan", false, "skip 1 (planning)")
	fs.BoolVar(&opt.SkipDispatch, "skip-dispatch", false, "skip 2 (throughput vs ceiling)")
	fs.BoolVar(&opt.SkipRate, "skip-rate", false, "skip 3 (configured rate)")
	fs.BoolVar(&opt.SkipLatency, "skip-latency", false, "skip 4 (declaration → first request)")
	fs.BoolVar(&opt.SkipMemory, "skip-memory", false, "skip 5 (resident memory)")
	if err := fs.Parse(args); err != nil {
		return opt, err
	}
	if opt.Customers < 1 || opt.Messages < 1 || opt.Workers < 1 || opt.Rate <= 0 || opt.Duration <= 0 || opt.Declarations < 1 {
		return opt, errors.New("broadcast: -customers, -messages, -workers, -rate, -duration and -declarations must be positive")
	}
	return opt, nil
}

// redisCPU returns the CPU time (user and system) redis-server has used
// by INFO cpu, all of its clients and threads together; -1 on SQLite or
// when Redis does not say. On a Redis of its own (-redis) that is the
// bench's share.
func (w *world) redisCPU(ctx context.Context) time.Duration {
	if w.cfg.RedisURL == "" {
		return -1
	}
	o, err := goredis.ParseURL(w.cfg.RedisURL)
	if err != nil {
		return -1
	}
	rdb := goredis.NewClient(o)
	defer rdb.Close()
	info, err := rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return -1
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}
