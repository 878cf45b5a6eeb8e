package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/node"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/sandbox"
)

// The crash scenario is issue 3's crash test: a fan-out to N recipients,
// `herald serve` killed with SIGKILL in the middle of it, restarted, and
// then every recipient's messages counted at the sandbox. The sandbox runs
// in this process, so it outlives the kill; herald runs as a real
// subprocess (built from this checkout) in configured-provider mode, pointed
// at the sandbox through HERALD_TWILIO_API_URL and friends.
//
// Guarantee under test (DESIGN.md, delivery guarantees): no recipient is
// lost; a recipient gets two messages only when its send was in flight at
// the kill, so duplicates are at most the deliveries one node holds claimed
// at once: 2 × claim size + workers per channel (notify's dispatcher).

// crashOptions configures the crash scenario.
type crashOptions struct {
	Recipients int
	Engine     string  // sqlite, redis or both
	KillAt     float64 // share of recipients sent when the kill comes
	RedisURL   string
	Herald     string // herald binary; "" builds ./cmd/herald
	Workers    int
	Lease      time.Duration
	Timeout    time.Duration // for the whole run of one engine
	Verbose    bool          // pass herald's log through to stderr
	Surveys    bool          // kill while an incident's surveys fall due, not mid broadcast
	Import     bool          // kill during a customer import of Recipients rows, not mid broadcast
	ImportKill []float64     // with Import: the kill points, shares of the import's time
}

var defaultCrash = crashOptions{Recipients: 100_000, Engine: "both", KillAt: 0.5, RedisURL: "redis://127.0.0.1:6379/0",
	Workers: 8, Lease: 10 * time.Second, Timeout: 30 * time.Minute}

func parseCrash(args []string, stderr io.Writer) (crashOptions, error) {
	opt := defaultCrash
	fs := flag.NewFlagSet("crash", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&opt.Recipients, "recipients", opt.Recipients, "customers the broadcast reaches, one SMS each")
	fs.StringVar(&opt.Engine, "engine", opt.Engine, "sqlite, redis or both")
	fs.Float64Var(&opt.KillAt, "kill-at", opt.KillAt, "kill herald once this share of recipients got their SMS (0..1)")
	fs.StringVar(&opt.RedisURL, "redis", opt.RedisURL, "Redis for the Redis engine")
	fs.StringVar(&opt.Herald, "herald", opt.Herald, "herald binary to run (default: go build ./cmd/herald)")
	fs.IntVar(&opt.Workers, "workers", opt.Workers, "HERALD_WORKERS: concurrent sends per channel")
	fs.DurationVar(&opt.Lease, "lease", opt.Lease, "HERALD_LEASE: how long claimed deliveries wait before the restarted herald takes them back")
	fs.DurationVar(&opt.Timeout, "timeout", opt.Timeout, "give up on one engine's run after this long")
	fs.BoolVar(&opt.Verbose, "v", false, "show herald's log")
	fs.BoolVar(&opt.Surveys, "surveys", false, "kill herald while the surveys of a resolved incident fall due, instead of mid broadcast")
	fs.BoolVar(&opt.Import, "import", false, "kill herald during a customer import of -recipients rows (at each -import-kill share of its time and at its first visible row), instead of mid broadcast")
	importKill := fs.String("import-kill", "0.2,0.5,0.8", "with -import: the kill points, shares of an uninterrupted import's time")
	if err := fs.Parse(args); err != nil {
		return opt, err
	}
	opt.ImportKill = nil
	for _, f := range strings.Split(*importKill, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v <= 0 || v >= 1 {
			return opt, fmt.Errorf("crash: -import-kill %q: want shares between 0 and 1, comma-separated", *importKill)
		}
		opt.ImportKill = append(opt.ImportKill, v)
	}
	if opt.Recipients < 1 || opt.KillAt <= 0 || opt.KillAt >= 1 || opt.Workers < 1 {
		return opt, errors.New("crash: need -recipients ≥ 1, 0 < -kill-at < 1 and -workers ≥ 1")
	}
	switch opt.Engine {
	case "sqlite", "redis", "both":
	default:
		return opt, fmt.Errorf("crash: -engine %q: want sqlite, redis or both", opt.Engine)
	}
	return opt, nil
}

// crashResult is what one engine's run measured.
type crashResult struct {
	Engine         string
	Recipients     int
	SentAtKill     int           // SMS the sandbox had accepted when the kill came
	Missing        int           // recipients with no SMS: must be 0
	Duplicates     int           // SMS beyond the first per recipient
	MaxPerPerson   int           // most SMS one recipient got
	InFlightBound  int           // 2 × claim + workers
	Total          time.Duration // declaration → broadcast done (kill and restart included)
	RestartToDone  time.Duration
	Down           time.Duration // kill → restarted herald ready
	ProgressCounts map[queue.DeliveryState]int
}

func (r crashResult) String() string {
	return fmt.Sprintf("engine=%s recipients=%d sent_at_kill=%d missing=%d duplicates=%d (bound %d in flight) max_per_recipient=%d total=%s down=%s restart_to_done=%s",
		r.Engine, r.Recipients, r.SentAtKill, r.Missing, r.Duplicates, r.InFlightBound, r.MaxPerPerson,
		r.Total.Round(time.Millisecond), r.Down.Round(time.Millisecond), r.RestartToDone.Round(time.Millisecond))
}

// benchCrash runs the crash scenario on the engines asked for and fails
// when any recipient got nothing, or more were repeated than were in flight.
func benchCrash(ctx context.Context, opt crashOptions, stdout, stderr io.Writer) error {
	dir, err := os.MkdirTemp("", "herald-crash-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if opt.Herald == "" {
		opt.Herald = filepath.Join(dir, "herald")
		fmt.Fprintln(stderr, "crash: building ./cmd/herald")
		if err := buildHerald(ctx, opt.Herald); err != nil {
			return err
		}
	}
	engines := []string{opt.Engine}
	if opt.Engine == "both" {
		engines = []string{"sqlite", "redis"}
	}
	var failed []string
	for _, e := range engines {
		fmt.Fprintf(stderr, "crash: %s, %d recipients, kill at %.0f%%\n", e, opt.Recipients, opt.KillAt*100)
		if opt.Import {
			res, err := importCrashRun(ctx, e, filepath.Join(dir, e), opt, opt.ImportKill, stderr)
			if err != nil {
				return fmt.Errorf("import crash on %s: %w", e, err)
			}
			fmt.Fprintln(stdout, res)
			failed = append(failed, res.failures()...)
			continue
		}
		if opt.Surveys {
			res, err := surveyCrashRun(ctx, e, filepath.Join(dir, e), opt, stderr)
			if err != nil {
				return fmt.Errorf("surveys crash on %s: %w", e, err)
			}
			fmt.Fprintln(stdout, res)
			if res.Missing > 0 {
				failed = append(failed, fmt.Sprintf("%s: %d recipients got no survey", e, res.Missing))
			}
			if res.Duplicates > res.InFlightBound {
				failed = append(failed, fmt.Sprintf("%s: %d duplicate surveys, more than the %d sends in flight", e, res.Duplicates, res.InFlightBound))
			}
			continue
		}
		res, err := crashRun(ctx, e, filepath.Join(dir, e), opt, stderr)
		if err != nil {
			return fmt.Errorf("crash on %s: %w", e, err)
		}
		fmt.Fprintln(stdout, res)
		if res.Missing > 0 {
			failed = append(failed, fmt.Sprintf("%s: %d recipients got nothing", e, res.Missing))
		}
		// One kill can repeat only the sends in flight at that moment.
		if res.Duplicates > res.InFlightBound || res.MaxPerPerson > 2 {
			failed = append(failed, fmt.Sprintf("%s: %d duplicates (at most %d per recipient), more than the %d sends one node has in flight",
				e, res.Duplicates, res.MaxPerPerson, res.InFlightBound))
		}
	}
	if len(failed) > 0 {
		return errors.New("crash: " + strings.Join(failed, "; "))
	}
	return nil
}

// buildHerald builds ./cmd/herald of the module this runs in into out.
func buildHerald(ctx context.Context, out string) error {
	modDir, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/herald")
	cmd.Dir = modDir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/herald: %w\n%s", err, b)
	}
	return nil
}

func moduleRoot(ctx context.Context) (string, error) {
	b, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(b))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the herald module: run from the checkout")
	}
	return filepath.Dir(mod), nil
}

// freeLoopbackAddr finds a port for herald that is free now (and so after
// the kill, for the restart, too).
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// crashSetup is what loading wrote for herald to find.
type crashSetup struct {
	pageID, componentID, token string
}

// crashLoad creates the page, a component and a token, and loads n
// customers with an SMS number each, straight into the store cfg names
// (the one herald will serve) before herald starts: the import API would
// only add time to every run.
func crashLoad(ctx context.Context, cfg node.Config, publicURL string, n int) (_ crashSetup, err error) {
	var s crashSetup
	eng, err := node.OpenEngine(ctx, cfg, nil)
	if err != nil {
		return s, err
	}
	defer func() {
		if cerr := eng.Close(); err == nil {
			err = cerr
		}
	}()
	ns := eng.Notify
	svc := incident.NewService(eng.Incidents, nil, nil)
	p, err := svc.EnsureDefaultPage(ctx, publicURL)
	if err != nil {
		return s, err
	}
	name := "Payments"
	c, err := svc.CreateComponent(ctx, p.ID, incident.ComponentInput{Name: &name})
	if err != nil {
		return s, err
	}
	tok, _, err := svc.CreateToken(ctx, "crash", incident.RoleAdmin)
	if err != nil {
		return s, err
	}
	now := time.Now().UTC()
	const chunk = 5000
	batch := make([]*audience.Customer, 0, chunk)
	langs := []string{"en", "hu", "pl", "hr"}
	for i := 0; i < n; i++ {
		batch = append(batch, &audience.Customer{ID: fmt.Sprintf("k%08d", i), PageID: p.ID, Name: fmt.Sprintf("Customer %d", i),
			Phone: crashPhone(i), Language: langs[i%4], TimeZone: "Europe/Budapest", Components: []string{c.ID},
			CreatedAt: now, UpdatedAt: now})
		if len(batch) == chunk || i == n-1 {
			if _, err := ns.UpsertCustomers(ctx, batch); err != nil {
				return s, err
			}
			batch = batch[:0]
		}
	}
	return crashSetup{pageID: p.ID, componentID: c.ID, token: tok}, nil
}

// crashPhone is recipient i's number: Hungarian mobiles, +3620 and 7 digits.
func crashPhone(i int) string { return fmt.Sprintf("+3620%07d", i%10_000_000) }

// heraldProc is one `herald serve` subprocess.
type heraldProc struct {
	cmd  *exec.Cmd
	done chan error
}

func startHerald(ctx context.Context, bin string, env []string, url string, log io.Writer) (*heraldProc, error) {
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &heraldProc{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-p.done:
			return nil, fmt.Errorf("herald exited at start: %v", err)
		default:
		}
		if resp, err := http.Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.kill()
			return nil, fmt.Errorf("herald not ready at %s within 60s", url)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to go.
func (p *heraldProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM (graceful) and waits, killing after 30s.
func (p *heraldProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.kill()
	}
}

// crashAPI calls herald's management API with the run's token.
type crashAPI struct {
	base, token string
	hc          *http.Client
}

func (a *crashAPI) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// crashRun is one engine's run.
func crashRun(ctx context.Context, engine, dir string, opt crashOptions, stderr io.Writer) (crashResult, error) {
	res := crashResult{Engine: engine, Recipients: opt.Recipients}
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return res, err
	}
	w, err := startCrashWorld(ctx, engine, dir, opt, 2*opt.Recipients+1000, nil, stderr)
	if err != nil {
		return res, err
	}
	defer w.close()
	sb, env, base, log, setup := w.sb, w.env, w.base, w.log, w.setup
	h, err := startHerald(ctx, opt.Herald, env, base, log)
	if err != nil {
		return res, err
	}
	defer func() {
		if h != nil {
			h.stop()
		}
	}()
	api := &crashAPI{base: base, token: setup.token, hc: &http.Client{Timeout: 30 * time.Second}}

	// Declare through the API, as a manager would.
	var inc struct {
		ID string `json:"id"`
	}
	start := time.Now()
	body := map[string]any{"incident": map[string]any{"name": "Card payments fail", "body": "We are investigating.",
		"components": map[string]string{setup.componentID: "major_outage"}, "component_ids": []string{setup.componentID}}}
	if err := api.call(ctx, http.MethodPost, "/v1/pages/"+setup.pageID+"/incidents", body, &inc); err != nil {
		return res, err
	}
	var bs []queue.Progress
	if err := api.call(ctx, http.MethodGet, "/api/v1/pages/"+setup.pageID+"/incidents/"+inc.ID+"/broadcasts", nil, &bs); err != nil {
		return res, err
	}
	if len(bs) != 1 {
		return res, fmt.Errorf("incident %s has %d broadcasts, want 1", inc.ID, len(bs))
	}
	broadcastID := bs[0].BroadcastID

	// Kill in the middle.
	killAt := int(float64(opt.Recipients) * opt.KillAt)
	for sb.Count(sandbox.KindSMS) < killAt {
		select {
		case err := <-h.done:
			h = nil
			return res, fmt.Errorf("herald exited before the kill: %v", err)
		case <-ctx.Done():
			return res, fmt.Errorf("only %d of %d SMS before the kill point: %w", sb.Count(sandbox.KindSMS), killAt, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
	h.kill()
	h = nil
	killed := time.Now()
	res.SentAtKill = sb.Count(sandbox.KindSMS)
	fmt.Fprintf(stderr, "crash: SIGKILL after %s with %d SMS sent\n", killed.Sub(start).Round(time.Millisecond), res.SentAtKill)

	h, err = startHerald(ctx, opt.Herald, env, base, log)
	if err != nil {
		return res, fmt.Errorf("restart: %w", err)
	}
	restarted := time.Now()
	res.Down = restarted.Sub(killed)

	// Wait for the broadcast to finish.
	for {
		var p queue.Progress
		if err := api.call(ctx, http.MethodGet, "/api/v1/broadcasts/"+broadcastID, nil, &p); err != nil {
			return res, err
		}
		if p.Finished() {
			res.ProgressCounts = p.Counts[channel.SMS]
			break
		}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("broadcast not done (%v): %w", p.Counts, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	done := time.Now()
	res.Total, res.RestartToDone = done.Sub(start), done.Sub(restarted)

	// Count each recipient's SMS at the sandbox.
	if res.Missing, res.Duplicates, res.MaxPerPerson, err = countRecipients(sb, opt.Recipients); err != nil {
		return res, err
	}
	claim := max(128, 16*opt.Workers) // notify's default claim size with no rate limit
	res.InFlightBound = 2*claim + opt.Workers
	return res, nil
}

// countRecipients counts the SMS the sandbox holds for recipients
// crashPhone(0..n-1): those who got none, the messages beyond each one's
// first, and the most one got. It fails when the sandbox dropped some.
func countRecipients(sb *sandbox.Sandbox, n int) (missing, duplicates, maxPer int, err error) {
	msgs := sb.Messages(sandbox.Filter{Kind: sandbox.KindSMS})
	if kept, counted := len(msgs), sb.Count(sandbox.KindSMS); kept != counted {
		return 0, 0, 0, fmt.Errorf("the sandbox dropped messages (%d kept of %d): raise its capacity", kept, counted)
	}
	per := make(map[string]int, n)
	for _, m := range msgs {
		per[m.To]++
	}
	for i := range n {
		c := per[crashPhone(i)]
		switch {
		case c == 0:
			missing++
		case c > 1:
			duplicates += c - 1
		}
		maxPer = max(maxPer, c)
	}
	return missing, duplicates, maxPer, nil
}

// crashWorld is what a crash run starts before herald: the sandbox (which
// keeps every message, so each recipient's can be counted), herald's
// address and environment, and the store loaded with the recipients.
type crashWorld struct {
	sb    *sandbox.Sandbox
	env   []string
	base  string
	log   io.Writer // herald's output: stderr with -v
	setup crashSetup
	close func()
}

// startCrashWorld starts a crash run's world for engine under dir, the
// sandbox keeping capacity messages, herald's environment extended by
// extraEnv.
func startCrashWorld(ctx context.Context, engine, dir string, opt crashOptions, capacity int, extraEnv []string, stderr io.Writer) (_ *crashWorld, err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	w := &crashWorld{log: io.Discard}
	var cleanup []func()
	w.close = func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}
	defer func() {
		if err != nil {
			w.close()
		}
	}()
	if w.sb, err = sandbox.Start(context.WithoutCancel(ctx), sandbox.Config{Capacity: capacity}); err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { _ = w.sb.Close() })
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	w.base = "http://" + addr
	w.env = append([]string{"HERALD_ADDR=" + addr, "HERALD_LOG_LEVEL=warn",
		fmt.Sprintf("HERALD_WORKERS=%d", opt.Workers), "HERALD_LEASE=" + opt.Lease.String(), "HERALD_SMS_RATE=0",
		"HERALD_TWILIO_API_URL=" + w.sb.TwilioURL(), "HERALD_TWILIO_ACCOUNT_SID=" + w.sb.Config().AccountSID,
		"HERALD_TWILIO_AUTH_TOKEN=" + w.sb.Config().AuthToken, "HERALD_TWILIO_FROM=+15005550006",
		// Not from the caller's environment: this run decides the engine.
		"HERALD_REDIS_URL=", "HERALD_DATA_DIR=" + dir, "HERALD_CONFIG="}, extraEnv...)
	t0 := time.Now()
	switch engine {
	case "sqlite":
		w.setup, err = crashLoad(ctx, sqliteConfig(dir), w.base, opt.Recipients)
	case "redis":
		prefix := "herald-crash-" + incident.NewID()
		cleanup = append(cleanup, func() { dropRedisPrefix(opt.RedisURL, prefix, stderr) })
		w.setup, err = crashLoad(ctx, redisConfig(opt.RedisURL, prefix), w.base, opt.Recipients)
		w.env = append(w.env, "HERALD_REDIS_URL="+opt.RedisURL, "HERALD_REDIS_PREFIX="+prefix)
	}
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "crash: %d customers loaded in %s\n", opt.Recipients, time.Since(t0).Round(time.Millisecond))
	if opt.Verbose {
		w.log = stderr
	}
	return w, nil
}
