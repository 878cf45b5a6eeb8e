package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/node"
	"github.com/heraldhq/herald/notify"
)

// The compensation scenario is the compensation issue's benchmark. One
// herald node (built as `herald serve` builds it, with the in-process
// sandbox as its providers) holds N customers spread over plans, regions,
// an attribute and 20 components the way compensation/bench_test.go's pool
// spreads them. An incident on 6 of the components flaps for four hours
// (its status history is written under a clock set back, so the timeline
// has real intervals), a manager decides a policy through the service, and
// agents record some grants. Then:
//
//  1. Service.Check for random customers, from one goroutine and from
//     several (agents asking at once): p99 ≤ 5 ms;
//  2. every customer of the page: Service.Totals, and the announcement's
//     audience as its planner reads it (a dry run of the compensation
//     broadcast): ≤ 10 s each on SQLite;
//  3. the memory the process holds after the run.

// compensationOptions are the compensation scenario's flags.
type compensationOptions struct {
	Customers  int
	Engine     string // sqlite, redis or both
	RedisURL   string
	Checks     int // Service.Check calls timed, in each of the two rounds
	Workers    int // goroutines of the concurrent round
	Grants     int // grants recorded before the measurements
	CPUProfile string
}

var defaultCompensation = compensationOptions{Customers: 1_000_000, Engine: "both", RedisURL: "redis://127.0.0.1:6379/0",
	Checks: 20_000, Workers: 4, Grants: 1000}

func parseCompensation(args []string, stderr io.Writer) (compensationOptions, error) {
	opt := defaultCompensation
	fs := flag.NewFlagSet("compensation", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&opt.Customers, "customers", opt.Customers, "customers on the page")
	fs.StringVar(&opt.Engine, "engine", opt.Engine, "sqlite, redis or both")
	fs.StringVar(&opt.RedisURL, "redis", opt.RedisURL, "Redis for the Redis engine (keys under a random prefix, deleted after)")
	fs.IntVar(&opt.Checks, "checks", opt.Checks, "per-customer checks timed from one goroutine, and again from -workers")
	fs.IntVar(&opt.Workers, "workers", opt.Workers, "goroutines checking at once in the concurrent round")
	fs.IntVar(&opt.Grants, "grants", opt.Grants, "grants (one in ten a decline) recorded before the measurements")
	fs.StringVar(&opt.CPUProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	if err := fs.Parse(args); err != nil {
		return opt, err
	}
	switch {
	case opt.Customers < 1 || opt.Checks < 1 || opt.Workers < 1:
		return opt, errors.New("compensation: -customers, -checks and -workers must be positive")
	case opt.Grants < 0:
		return opt, errors.New("compensation: -grants must not be negative")
	}
	switch opt.Engine {
	case "sqlite", "redis", "both":
	default:
		return opt, fmt.Errorf("compensation: -engine %q: want sqlite, redis or both", opt.Engine)
	}
	return opt, nil
}

// Targets of the compensation issue.
const (
	targetCheckP99 = 5 * time.Millisecond
	targetAll      = 10 * time.Second
)

// compResult is what one engine's run measured.
type compResult struct {
	Engine     string
	Customers  int
	Load       time.Duration
	Decide     time.Duration
	Grants     int // recorded (declines included)
	GrantsTook time.Duration
	Single     latencies // Check from one goroutine
	Concurrent latencies // Check from Workers goroutines
	Totals     *compensation.Totals
	TotalsTook time.Duration
	DryRun     *notify.DryRunResult
	DryRunTook time.Duration
	HeapInuse  uint64 // bytes
	RSS, HWM   int    // kB
}

// benchCompensation runs the compensation scenario on the engines asked
// for and prints the figures against the targets.
func benchCompensation(ctx context.Context, opt compensationOptions, stdout, stderr io.Writer) ([]*compResult, error) {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	engines := []string{opt.Engine}
	if opt.Engine == "both" {
		engines = []string{"sqlite", "redis"}
	}
	if slices.Contains(engines, "redis") {
		eng, err := node.OpenEngine(ctx, redisConfig(opt.RedisURL, ""), nil)
		if err != nil {
			if opt.Engine == "redis" {
				return nil, fmt.Errorf("redis at %s: %w", opt.RedisURL, err)
			}
			fmt.Fprintf(stdout, "Redis at %s does not answer (%v): Redis run skipped\n", opt.RedisURL, err)
			engines = engines[:1]
		} else {
			_ = eng.Close()
		}
	}
	fmt.Fprintf(stdout, "herald-bench compensation: %d CPUs, GOMAXPROCS %d, %s; %d customers; %d checks from 1 goroutine, then from %d; %d grants; load average %s\n\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), opt.Customers, opt.Checks, opt.Workers, opt.Grants, loadAverage())
	if opt.CPUProfile != "" {
		f, err := os.Create(opt.CPUProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	dir, err := os.MkdirTemp("", "herald-bench-compensation-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	begin := time.Now()
	rep := &report{out: stdout}
	var out []*compResult
	for _, e := range engines {
		var w *world
		if e == "sqlite" {
			sub := filepath.Join(dir, "sqlite")
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return out, err
			}
			w, err = openSQLiteWorld(ctx, sub, log)
		} else {
			w, err = openRedisWorld(ctx, opt.RedisURL, log)
		}
		if err != nil {
			return out, err
		}
		res, err := compRun(ctx, w, opt, rep)
		w.close()
		if err != nil {
			return out, fmt.Errorf("compensation (%s): %w", w.name, err)
		}
		out = append(out, res)
		fmt.Fprintln(stdout)
	}
	fmt.Fprintf(stdout, "load average after: %s\n", loadAverage())
	rep.summary(stdout, begin)
	return out, nil
}

// loadAverage is /proc/loadavg's first three fields.
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// benchClock is the incident service's clock in this scenario: the real
// clock set back by an offset that only shrinks, so that an incident's
// updates, written seconds apart, are minutes apart in its history.
type benchClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *benchClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(-c.offset)
}

// at sets the clock to t (in the past; never back from where it is).
func (c *benchClock) at(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if off := time.Since(t); off < c.offset {
		c.offset = max(off, 0)
	}
}

// compStep is one update of the scenario's incident, minutes after it
// started: its status ("" unchanged) and the components it moves (by
// index into the incident's six).
type compStep struct {
	minute int
	status incident.Status
	comps  map[int]incident.ComponentStatus
}

const (
	major    = incident.MajorOutage
	degraded = incident.DegradedPerformance
	up       = incident.Operational
)

// compTimeline flaps the incident's six components for four hours: each
// is down once to three times, from 45 to 185 minutes in all, some
// overlapping, so that the minute rules split the customers. The last
// step resolves the incident, which returns every component to
// operational.
var compTimeline = []compStep{
	{0, incident.Investigating, map[int]incident.ComponentStatus{0: major, 1: major, 2: degraded}},
	{25, "", map[int]incident.ComponentStatus{0: up, 3: major, 4: degraded}},
	{40, incident.Identified, map[int]incident.ComponentStatus{0: major, 1: degraded, 2: up, 5: major}},
	{70, "", map[int]incident.ComponentStatus{1: up, 3: up, 4: up}},
	{95, "", map[int]incident.ComponentStatus{0: degraded, 2: major, 5: up}},
	{130, incident.Monitoring, map[int]incident.ComponentStatus{4: major, 1: major}},
	{160, "", map[int]incident.ComponentStatus{0: up, 2: degraded, 4: up, 5: degraded}},
	{200, "", map[int]incident.ComponentStatus{1: up}},
	{240, incident.Resolved, nil},
}

// compIncidentAgo is how long before the run the incident started.
const compIncidentAgo = 8 * time.Hour

// compRun is one engine's run on w.
func compRun(ctx context.Context, w *world, opt compensationOptions, rep *report) (*compResult, error) {
	res := &compResult{Engine: w.name, Customers: opt.Customers}
	clock := &benchClock{offset: compIncidentAgo + time.Hour}
	// A node whose incident service reads the bench's clock: set before
	// the node runs, as nothing else may read it meanwhile.
	w.beforeRun = func(n *node.Node) { n.Incidents.Now = clock.now }
	if err := w.idle(ctx); err != nil {
		return nil, err
	}
	var err error
	if res.Load, err = loadCompCustomers(ctx, w, opt.Customers); err != nil {
		return nil, fmt.Errorf("load customers: %w", err)
	}
	rep.info(fmt.Sprintf("%s: load %d customers (UpsertCustomers × 5000)", w.name, opt.Customers),
		fmt.Sprintf("%s, %.0f customers/s", res.Load.Round(time.Millisecond), float64(opt.Customers)/res.Load.Seconds()))
	inc, err := compIncident(ctx, w, clock)
	if err != nil {
		return nil, fmt.Errorf("incident: %w", err)
	}
	svc, pageID := w.n.Compensation, w.page.ID
	manager := incident.WithActor(ctx, incident.Actor{Name: "bench manager", Role: incident.RoleManager})
	start := time.Now()
	if _, _, err := svc.Decide(manager, pageID, inc.ID, compensation.Proposal{State: compensation.Decided, Policy: compPolicy(w.comps)}); err != nil {
		return nil, fmt.Errorf("decide: %w", err)
	}
	res.Decide = time.Since(start)
	rep.info(fmt.Sprintf("%s: decide the policy (reads the page's segments)", w.name), fmt.Sprintf("%.2f s", res.Decide.Seconds()))

	rng := rand.New(rand.NewPCG(1, uint64(opt.Customers)))
	randomID := func() string { return fmt.Sprintf("c%08d", rng.IntN(opt.Customers)) }
	agent := incident.WithActor(ctx, incident.Actor{Name: "bench agent", Role: incident.RoleAgent})
	start = time.Now()
	if res.Grants, err = compGrants(agent, svc, pageID, inc.ID, opt.Grants, randomID); err != nil {
		return nil, fmt.Errorf("grants: %w", err)
	}
	res.GrantsTook = time.Since(start)
	if res.Grants > 0 {
		rep.info(fmt.Sprintf("%s: record %d grants (Service.Grant)", w.name, res.Grants),
			fmt.Sprintf("%.2f s, %.1f ms a grant", res.GrantsTook.Seconds(), ms(res.GrantsTook)/float64(res.Grants)))
	}

	// 1. Per-customer checks.
	ids := make([]string, opt.Checks)
	for i := range ids {
		ids[i] = randomID()
	}
	if _, err := svc.Check(agent, pageID, inc.ID, ids[0], "en"); err != nil { // Prepare once, outside the timing
		return nil, fmt.Errorf("check: %w", err)
	}
	if res.Single, err = compChecks(agent, svc, pageID, inc.ID, ids, 1); err != nil {
		return nil, err
	}
	if res.Concurrent, err = compChecks(agent, svc, pageID, inc.ID, ids, opt.Workers); err != nil {
		return nil, err
	}
	for _, r := range []struct {
		n int
		l latencies
	}{{1, res.Single}, {opt.Workers, res.Concurrent}} {
		s := r.l.sorted()
		p99 := s[len(s)*99/100]
		rep.add(figure{name: fmt.Sprintf("%s: Service.Check, %d goroutine(s)", w.name, r.n),
			value:  fmt.Sprintf("p50 %.2f ms, p99 %.2f ms, max %.1f ms (%d checks)", ms(s[len(s)/2]), ms(p99), ms(s[len(s)-1]), len(s)),
			target: fmt.Sprintf("p99 ≤ %s", targetCheckP99), pass: p99 <= targetCheckP99})
	}

	// 2. Every customer: the totals, then the announcement's audience.
	start = time.Now()
	if res.Totals, err = svc.Totals(agent, pageID, inc.ID); err != nil {
		return nil, fmt.Errorf("totals: %w", err)
	}
	res.TotalsTook = time.Since(start)
	t := res.Totals
	allFigure(rep, w.name, fmt.Sprintf("Service.Totals over %d customers", t.Customers), res.TotalsTook,
		fmt.Sprintf("%d affected, %d eligible, %d grants", t.Affected, t.Eligible, t.Grants))
	start = time.Now()
	if res.DryRun, err = w.n.Notify.DryRun(manager, pageID, inc.ID, incident.BroadcastCompensation); err != nil {
		return nil, fmt.Errorf("dry run: %w", err)
	}
	res.DryRunTook = time.Since(start)
	allFigure(rep, w.name, "announcement's audience (Notify.DryRun)", res.DryRunTook,
		fmt.Sprintf("%d SMS + %d email recipients", res.DryRun.Recipients[channel.SMS], res.DryRun.Recipients[channel.Email]))

	// 3. Memory.
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	res.HeapInuse, res.RSS, res.HWM = m.HeapInuse, procStatus("VmRSS"), procStatus("VmHWM")
	rep.info(fmt.Sprintf("%s: memory after the run (the bench's whole process)", w.name),
		fmt.Sprintf("Go heap in use %d MB, VmRSS %d MB, VmHWM %d MB", res.HeapInuse>>20, res.RSS>>10, res.HWM>>10))
	return res, nil
}

// allFigure reports a pass over every customer: against the target on
// SQLite, without one on Redis (as the broadcast's planning).
func allFigure(rep *report, engine, what string, took time.Duration, detail string) {
	name, value := fmt.Sprintf("%s: %s", engine, what), fmt.Sprintf("%.2f s (%s)", took.Seconds(), detail)
	if engine != "SQLite" {
		rep.info(name, value+" (no target on Redis)")
		return
	}
	rep.add(figure{name: name, value: value, target: fmt.Sprintf("≤ %s", targetAll), pass: took <= targetAll})
}

// compChecks calls Service.Check for every ID, split over workers
// goroutines, and returns each call's latency.
func compChecks(ctx context.Context, svc *compensation.Service, pageID, incidentID string, ids []string, workers int) (latencies, error) {
	out := make(latencies, len(ids))
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(ids); i += workers {
				start := time.Now()
				a, err := svc.Check(ctx, pageID, incidentID, ids[i], languages[i%len(languages)])
				out[i] = time.Since(start)
				if err == nil && a.Customer.ID != ids[i] {
					err = fmt.Errorf("asked for %s, answered for %s", ids[i], a.Customer.ID)
				}
				if err != nil {
					errs <- fmt.Errorf("check %s: %w", ids[i], err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return out, <-errs
}

// compGrants records n grants for random customers the policy gives
// something, one in ten a decline, through the service as agents do. It
// returns how many it recorded: fewer when the customers it tried (20 per
// grant) ran out.
func compGrants(ctx context.Context, svc *compensation.Service, pageID, incidentID string, n int, randomID func() string) (int, error) {
	done := 0
	for try := 0; done < n && try < 20*n; try++ {
		id := randomID()
		a, err := svc.Check(ctx, pageID, incidentID, id, "en")
		if err != nil {
			return done, err
		}
		if a.Result == nil {
			return done, errors.New("the policy is not decided")
		}
		if !compensation.Owes(a.Result) {
			continue
		}
		for i := range a.Result.Offers {
			o := &a.Result.Offers[i]
			if o.Granted || o.Declined || o.Unavailable != "" || o.Offer() == nil {
				continue
			}
			r := compensation.GrantRequest{Offer: o.Group, Declined: done%10 == 9}
			if o.Choice && !r.Declined {
				r.Choice = o.OfferID
			}
			if _, _, err := svc.Grant(ctx, pageID, incidentID, id, r); err != nil {
				return done, fmt.Errorf("grant %s to %s: %w", o.Group, id, err)
			}
			done++
			break
		}
	}
	return done, nil
}

// Segments of the scenario's customers, as compensation/bench_test.go's pool.
var (
	compPlans   = []string{"gold", "silver", "bronze", "trial"}
	compRegions = []string{"eu", "uk", "us"}
	compAttrs   = []map[string]string{
		{"tier": "enterprise", "source": "crm"}, {"tier": "smb", "source": "crm"}, {"tier": "self", "source": "crm"},
	}
)

// loadCompCustomers upserts n customers (IDs c00000000 on) through
// notify.Store in batches of 5000, as the broadcast scenario loads its
// own, each with a phone and an email, a plan, a region, attributes and
// three of the page's components.
func loadCompCustomers(ctx context.Context, w *world, n int) (time.Duration, error) {
	start := time.Now()
	now := start.UTC()
	comps := w.comps
	const chunk = 5000
	batch := make([]*audience.Customer, 0, chunk)
	for i := 0; i < n; i++ {
		batch = append(batch, &audience.Customer{ID: fmt.Sprintf("c%08d", i), PageID: w.page.ID, Name: fmt.Sprintf("Customer %d", i),
			Phone: customerPhone(i), Email: fmt.Sprintf("c%08d@example.com", i), Language: languages[i%len(languages)],
			TimeZone: "Europe/Budapest", Plan: compPlans[i%len(compPlans)], Region: compRegions[i%len(compRegions)],
			// (i/3): every region meets every tier.
			Attributes: compAttrs[(i/3)%len(compAttrs)],
			Components: []string{comps[i%len(comps)], comps[(i*7+3)%len(comps)], comps[(i*13+5)%len(comps)]},
			// Customers since before the incident (declared
			// compIncidentAgo ago): one first imported after it ended is
			// owed nothing for it (compensation.Timeline.CustomerInto).
			CreatedAt: now.Add(-compIncidentAgo - 24*time.Hour), UpdatedAt: now})
		if len(batch) == chunk || i == n-1 {
			if _, err := w.store().UpsertCustomers(ctx, batch); err != nil {
				return 0, err
			}
			batch = batch[:0]
		}
	}
	return time.Since(start), nil
}

// compIncident declares the scenario's incident on the page's first six
// components compIncidentAgo ago and writes compTimeline's updates at
// their minutes, then puts the clock back to now. Nothing is broadcast.
func compIncident(ctx context.Context, w *world, clock *benchClock) (*incident.Incident, error) {
	if len(w.comps) < 6 {
		return nil, fmt.Errorf("the page has %d components, want 6 or more", len(w.comps))
	}
	six := w.comps[:6]
	t0 := time.Now().Add(-compIncidentAgo).Truncate(time.Minute)
	quiet := false
	var inc *incident.Incident
	for k, st := range compTimeline {
		clock.at(t0.Add(time.Duration(st.minute) * time.Minute))
		in := incident.IncidentInput{DeliverNotifications: &quiet, Components: map[string]incident.ComponentStatus{}}
		if st.status != "" {
			s := st.status
			in.Status = &s
		}
		for i, cs := range st.comps {
			in.Components[six[i]] = cs
		}
		var err error
		if k == 0 {
			name, body := "Payments and logins failing", "We are investigating failed payments and logins."
			in.Name, in.Body, in.ComponentIDs = &name, &body, six
			inc, _, err = w.n.Incidents.CreateIncident(ctx, w.page.ID, in, "")
		} else {
			inc, err = w.n.Incidents.UpdateIncident(ctx, w.page.ID, inc.ID, in)
		}
		if err != nil {
			return nil, fmt.Errorf("update at minute %d: %w", st.minute, err)
		}
	}
	clock.at(time.Now())
	if inc.ResolvedAt == nil {
		return nil, errors.New("the incident is not resolved")
	}
	return inc, nil
}

// compPolicy is compensation/bench_test.go's policy on the page's
// components: segment, attribute, component and minute rules, a choice
// and a cap.
func compPolicy(comps []string) *compensation.Policy {
	eur := func(minor int64) compensation.Money { return compensation.Money{Amount: minor, Currency: "EUR"} }
	capped := eur(1500)
	return &compensation.Policy{
		Currency: "EUR",
		PlanFees: map[string]compensation.Money{"gold": eur(4999), "silver": eur(1999), "bronze": eur(999)},
		Offers: []compensation.Offer{
			{ID: "credit10", Kind: compensation.Credit, Percent: 1000},
			{ID: "day", Kind: compensation.FreePeriod, Days: 1},
			{ID: "refund", Kind: compensation.Refund, Percent: 2500},
			{ID: "week", Kind: compensation.FreePeriod, Days: 7},
		},
		Choices: []compensation.Choice{{ID: "choice", Offers: []string{"refund", "week"}}},
		Rules: []compensation.Rule{
			{ID: "hour", Plans: []string{"gold", "silver"}, MinAffectedMinutes: 60, Give: []string{"credit10"}},
			{ID: "long", MinAffectedMinutes: 120, Give: []string{"day"}},
			{ID: "ent", Regions: []string{"eu", "uk"}, Attributes: map[string][]string{"tier": {"enterprise"}}, Give: []string{"choice"}},
			{ID: "core", Components: []string{comps[0], comps[1]}, MinAffectedMinutes: 45, Give: []string{"day"}},
		},
		Cap:     &capped,
		Exclude: []compensation.Exclusion{compensation.ExcludeAlreadyGranted, compensation.ExcludeNotAffected},
	}
}
