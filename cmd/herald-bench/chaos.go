package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/sandbox"
	"github.com/heraldhq/herald/store/redis/redistest"
)

// The chaos scenario runs production's shape on one machine: three herald
// nodes (real subprocesses, built from this checkout) behind a small load
// balancer, on a real Redis topology started for the run, sending a
// fan-out to N recipients (one SMS each) through the sandbox, which runs in
// this process and so outlives every fault. During the fan-out, in turn:
//
//  1. one herald node is killed with SIGKILL (it stays dead; the others
//     take its leased deliveries back when the lease runs out);
//  2. the topology's own fault: on Sentinel the Redis master is killed
//     (SIGKILL) and the Sentinel promotes the replica; on Cluster one
//     master is paused (SIGSTOP) for 10 s; on a single Redis the network
//     between one herald node and Redis is cut for 5 s (a TCP proxy in
//     this process, between that node and Redis, drops every connection
//     and refuses new ones); "stopped" stops the only Redis (SIGTERM, as
//     `systemctl stop` does) for 8 s and starts it on its append-only file.
//
// At the end every recipient must have its SMS, duplicates must stay within
// the sends in flight at the faults, and every status callback must be
// applied: each sent SMS ends "delivered" in herald's own counts.

type chaosOptions struct {
	Recipients int
	Topology   string // sentinel, cluster, single, stopped or all
	Herald     string
	Workers    int
	Lease      time.Duration
	SMSRate    int
	Timeout    time.Duration
	Verbose    bool
}

var defaultChaos = chaosOptions{Recipients: 100_000, Topology: "all", Workers: 8, Lease: 5 * time.Second, SMSRate: 2000, Timeout: 10 * time.Minute}

func parseChaos(args []string, stderr io.Writer) (chaosOptions, error) {
	opt := defaultChaos
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&opt.Recipients, "recipients", opt.Recipients, "customers the broadcast reaches, one SMS each")
	fs.StringVar(&opt.Topology, "topology", opt.Topology, "sentinel, cluster, single, stopped or all")
	fs.StringVar(&opt.Herald, "herald", opt.Herald, "herald binary to run (default: go build ./cmd/herald)")
	fs.IntVar(&opt.Workers, "workers", opt.Workers, "HERALD_WORKERS: concurrent sends per channel and node")
	fs.DurationVar(&opt.Lease, "lease", opt.Lease, "HERALD_LEASE: how long a dead node's claimed deliveries wait before another takes them")
	fs.IntVar(&opt.SMSRate, "sms-rate", opt.SMSRate, "HERALD_SMS_RATE for the whole deployment (0: unlimited), so the faults land mid fan-out")
	fs.DurationVar(&opt.Timeout, "timeout", opt.Timeout, "give up on one topology's run after this long")
	fs.BoolVar(&opt.Verbose, "v", false, "show herald's log")
	if err := fs.Parse(args); err != nil {
		return opt, err
	}
	if opt.Recipients < 100 || opt.Workers < 1 || opt.Lease <= 0 {
		return opt, errors.New("chaos: need -recipients ≥ 100, -workers ≥ 1 and -lease > 0")
	}
	switch opt.Topology {
	case "sentinel", "cluster", "single", "stopped", "all":
	default:
		return opt, fmt.Errorf("chaos: -topology %q: want sentinel, cluster, single, stopped or all", opt.Topology)
	}
	return opt, nil
}

// chaosResult is what one topology's run measured.
type chaosResult struct {
	Topology      string
	Recipients    int
	Faults        []string // what happened when, with the SMS sent by then
	Missing       int
	Duplicates    int
	MaxPerPerson  int
	InFlightBound int           // the sends in flight at the faults: per fault, one node's 2 × claim + workers
	Delivered     int           // herald's own count of delivered SMS at the end
	StuckSent     int           // SMS herald still counts as sent (a status callback not applied)
	Total         time.Duration // declaration → every recipient sent
	Receipts      time.Duration // then → every receipt applied (or given up on)
}

func (r chaosResult) String() string {
	return fmt.Sprintf("topology=%s recipients=%d missing=%d duplicates=%d (bound %d) max_per_recipient=%d delivered=%d stuck_sent=%d total=%s receipts_after=%s\n  faults: %s",
		r.Topology, r.Recipients, r.Missing, r.Duplicates, r.InFlightBound, r.MaxPerPerson, r.Delivered, r.StuckSent,
		r.Total.Round(time.Millisecond), r.Receipts.Round(time.Millisecond), strings.Join(r.Faults, "; "))
}

func benchChaos(ctx context.Context, opt chaosOptions, stdout, stderr io.Writer) error {
	if _, _, err := redistest.Binaries(); err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	dir, err := os.MkdirTemp("", "herald-chaos-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if opt.Herald == "" {
		opt.Herald = filepath.Join(dir, "herald")
		fmt.Fprintln(stderr, "chaos: building ./cmd/herald")
		if err := buildHerald(ctx, opt.Herald); err != nil {
			return err
		}
	}
	topologies := []string{opt.Topology}
	if opt.Topology == "all" {
		topologies = []string{"sentinel", "cluster", "single", "stopped"}
	}
	var failed []string
	for _, topo := range topologies {
		fmt.Fprintf(stderr, "chaos: %s, 3 herald nodes, %d recipients\n", topo, opt.Recipients)
		res, err := chaosRun(ctx, topo, filepath.Join(dir, topo), opt, stderr)
		if err != nil {
			return fmt.Errorf("chaos on %s: %w", topo, err)
		}
		fmt.Fprintln(stdout, res)
		if res.Missing > 0 {
			failed = append(failed, fmt.Sprintf("%s: %d recipients got nothing", topo, res.Missing))
		}
		if res.Duplicates > res.InFlightBound {
			failed = append(failed, fmt.Sprintf("%s: %d duplicates, more than the %d sends in flight at the faults", topo, res.Duplicates, res.InFlightBound))
		}
		if res.StuckSent > 0 {
			failed = append(failed, fmt.Sprintf("%s: %d SMS never got their status callback applied", topo, res.StuckSent))
		}
	}
	if len(failed) > 0 {
		return errors.New("chaos: " + strings.Join(failed, "; "))
	}
	return nil
}

// chaosTopology is the Redis a run uses and its fault.
type chaosTopology struct {
	url   string // what the nodes are given
	close func()
	fault func(h *chaosNodes) (string, error) // the topology's fault; says what it did
}

func startTopology(topo, dir string, stderr io.Writer) (*chaosTopology, error) {
	switch topo {
	case "sentinel":
		// Two seconds: the machine this runs on is loaded, and a Sentinel
		// that takes load for a death fails over before the fault.
		g, err := redistest.NewSentinelAfter(dir, 2*time.Second)
		if err != nil {
			return nil, err
		}
		return &chaosTopology{url: g.URL(), close: g.Close, fault: func(*chaosNodes) (string, error) {
			g.Master.Kill()
			return "Redis master killed (SIGKILL)", nil
		}}, nil
	case "cluster":
		c, err := redistest.NewCluster(dir)
		if err != nil {
			return nil, err
		}
		return &chaosTopology{url: c.URL(), close: c.Close, fault: func(*chaosNodes) (string, error) {
			if err := c.Masters[0].Pause(); err != nil {
				return "", err
			}
			time.Sleep(10 * time.Second)
			return "one Cluster master paused 10 s", c.Masters[0].Resume()
		}}, nil
	case "stopped":
		// The only Redis stopped as an operator stops it (SIGTERM, its
		// append-only file written out) and started again 8 s later.
		p, err := redistest.NewProc(dir, false, "--appendonly", "yes", "--appendfsync", "everysec")
		if err != nil {
			return nil, err
		}
		return &chaosTopology{url: "redis://" + p.Addr() + "/0", close: p.Kill, fault: func(*chaosNodes) (string, error) {
			if err := p.Stop(); err != nil {
				return "", err
			}
			time.Sleep(8 * time.Second)
			return "the only Redis stopped 8 s (SIGTERM, then started on its append-only file)", p.Start()
		}}, nil
	default:
		p, err := redistest.NewProc(dir, false)
		if err != nil {
			return nil, err
		}
		return &chaosTopology{url: "redis://" + p.Addr() + "/0", close: p.Kill, fault: func(h *chaosNodes) (string, error) {
			h.proxy.cut(5 * time.Second)
			return "network to Redis cut 5 s for one node", nil
		}}, nil
	}
}

// chaosNodes are the run's herald nodes, their load balancer and the TCP
// proxy the last node reaches Redis through.
type chaosNodes struct {
	procs []*heraldProc
	addrs []string
	alive []atomic.Bool
	proxy *tcpProxy
}

func chaosRun(ctx context.Context, topo, dir string, opt chaosOptions, stderr io.Writer) (chaosResult, error) {
	res := chaosResult{Topology: topo, Recipients: opt.Recipients}
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return res, err
	}
	tp, err := startTopology(topo, dir, stderr)
	if err != nil {
		return res, err
	}
	defer tp.close()
	sb, err := sandbox.Start(context.WithoutCancel(ctx), sandbox.Config{Capacity: 2*opt.Recipients + 1000})
	if err != nil {
		return res, err
	}
	defer sb.Close()

	h := &chaosNodes{alive: make([]atomic.Bool, 3)}
	for range 3 {
		a, err := freeLoopbackAddr()
		if err != nil {
			return res, err
		}
		h.addrs = append(h.addrs, a)
	}
	lb, err := startBalancer(h)
	if err != nil {
		return res, err
	}
	defer lb.Close()
	base := "http://" + lb.Addr().String()

	prefix := "herald-chaos-" + incident.NewID()
	t0 := time.Now()
	setup, err := crashLoad(ctx, redisConfig(tp.url, prefix), base, opt.Recipients)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(stderr, "chaos: %d customers loaded in %s\n", opt.Recipients, time.Since(t0).Round(time.Millisecond))

	var log io.Writer = io.Discard
	if opt.Verbose {
		log = stderr
	}
	for i, addr := range h.addrs {
		redisURL := tp.url
		if topo == "single" && i == 2 {
			u, _ := url.Parse(tp.url)
			if h.proxy, err = startTCPProxy(u.Host); err != nil {
				return res, err
			}
			defer h.proxy.close()
			redisURL = "redis://" + h.proxy.addr() + "/0"
		}
		env := []string{"HERALD_ADDR=" + addr, "HERALD_PUBLIC_URL=" + base, "HERALD_LOG_LEVEL=warn",
			fmt.Sprintf("HERALD_WORKERS=%d", opt.Workers), "HERALD_LEASE=" + opt.Lease.String(), fmt.Sprintf("HERALD_SMS_RATE=%d", opt.SMSRate),
			"HERALD_TWILIO_API_URL=" + sb.TwilioURL(), "HERALD_TWILIO_ACCOUNT_SID=" + sb.Config().AccountSID,
			"HERALD_TWILIO_AUTH_TOKEN=" + sb.Config().AuthToken, "HERALD_TWILIO_FROM=+15005550006",
			"HERALD_REDIS_URL=" + redisURL, "HERALD_REDIS_PREFIX=" + prefix, "HERALD_CONFIG=", "HERALD_DATA_DIR=" + dir,
			"HERALD_REDIS_SENTINEL=", "HERALD_REDIS_CLUSTER=", "HERALD_REDIS_MASTER=", "HERALD_RECONCILE_AFTER=5s"}
		p, err := startHerald(ctx, opt.Herald, env, "http://"+addr, log)
		if err != nil {
			return res, fmt.Errorf("node %d: %w", i+1, err)
		}
		h.procs = append(h.procs, p)
		h.alive[i].Store(true)
		defer func() {
			if h.alive[i].Load() {
				p.stop()
			}
		}()
	}
	api := &crashAPI{base: base, token: setup.token, hc: &http.Client{Timeout: 30 * time.Second}}

	start := time.Now()
	var inc struct {
		ID string `json:"id"`
	}
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

	waitSent := func(share float64) error {
		n := int(float64(opt.Recipients) * share)
		for sb.Count(sandbox.KindSMS) < n {
			select {
			case <-ctx.Done():
				return fmt.Errorf("only %d of %d SMS before the fault: %w", sb.Count(sandbox.KindSMS), n, ctx.Err())
			case <-time.After(5 * time.Millisecond):
			}
		}
		return nil
	}
	fault := func(what string) {
		s := fmt.Sprintf("%s at %s with %d SMS sent", what, time.Since(start).Round(time.Millisecond), sb.Count(sandbox.KindSMS))
		res.Faults = append(res.Faults, s)
		fmt.Fprintln(stderr, "chaos: "+s)
	}
	if err := waitSent(0.2); err != nil {
		return res, err
	}
	h.alive[0].Store(false)
	h.procs[0].kill()
	fault("herald node 1 killed (SIGKILL)")
	if err := waitSent(0.45); err != nil {
		return res, err
	}
	what, err := tp.fault(h)
	if err != nil {
		return res, err
	}
	fault(what + ", over")

	// Wait for the broadcast to finish, then for its receipts.
	var p queue.Progress
	for {
		err := api.call(ctx, http.MethodGet, "/api/v1/broadcasts/"+broadcastID, nil, &p)
		if err == nil && p.Finished() {
			break
		}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("broadcast not done (%v, %v): %w", p.Counts, err, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
	res.Total = time.Since(start)
	// The sandbox posts two callbacks a message through the balancer, and
	// drops those beyond its queue (65 536): at full speed they trail the
	// sends, and the reconciler (reconcile_after 5 s here) looks the rest
	// up at the sandbox's API.
	receiptsBy := time.Now().Add(5 * time.Minute)
	for {
		err := api.call(ctx, http.MethodGet, "/api/v1/broadcasts/"+broadcastID, nil, &p)
		if err == nil && p.Counts[channel.SMS][queue.StateSent] == 0 || time.Now().After(receiptsBy) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	res.Receipts = time.Since(start) - res.Total
	res.Delivered = p.Counts[channel.SMS][queue.StateDelivered]
	res.StuckSent = p.Counts[channel.SMS][queue.StateSent]

	if res.Missing, res.Duplicates, res.MaxPerPerson, err = countRecipients(sb, opt.Recipients); err != nil {
		return res, err
	}
	// Each fault can repeat at most what one node had in flight (the
	// killed node's claims; the writes a failover or a cut lost), on each
	// of the nodes it touched: the master's death and the pause touch
	// every node.
	claim := max(128, 16*opt.Workers)
	perNode := 2*claim + opt.Workers
	res.InFlightBound = perNode + 3*perNode
	return res, nil
}

// startBalancer serves a round-robin reverse proxy over the live nodes:
// what a load balancer in front of herald does, so the API calls and the
// sandbox's status callbacks reach a node that is up.
func startBalancer(h *chaosNodes) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	var next atomic.Uint64
	pick := func() string {
		for range len(h.addrs) {
			i := int(next.Add(1) % uint64(len(h.addrs)))
			if h.alive[i].Load() {
				return h.addrs[i]
			}
		}
		return h.addrs[0]
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = "http", pick()
			r.Out.Host = r.In.Host // herald checks Twilio's signature over the URL it was given
		},
	}
	go func() { _ = http.Serve(ln, rp) }()
	return ln, nil
}

// tcpProxy forwards one node's Redis connections, and can cut them.
type tcpProxy struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	cutTill time.Time
}

func startTCPProxy(target string) (*tcpProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	return p, nil
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := time.Now().Before(p.cutTill)
		p.mu.Unlock()
		if cut {
			c.Close()
			continue
		}
		go p.pipe(c)
	}
}

func (p *tcpProxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// cut drops every connection and refuses new ones for d.
func (p *tcpProxy) cut(d time.Duration) {
	p.mu.Lock()
	p.cutTill = time.Now().Add(d)
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	time.Sleep(d)
}

func (p *tcpProxy) close() { p.ln.Close() }
