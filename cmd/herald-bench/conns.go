package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The conns scenario is issue 10's connection-exhaustion test. herald runs
// as its own process (a node built as `herald serve` builds it, SQLite, the
// statuspage scenario's page), so that its descriptors, its open-file
// limit and its RSS are its own; by default the limit is the one this
// machine gives `herald serve`. This process then
//
//  1. churns connections: opens and closes -churn of them at -churn-rate,
//     each asking once for the page, or every -events-every'th for /events
//     (read up to its first event, then closed);
//  2. holds -idle keep-alive connections open after one request each,
//     for -hold;
//  3. closes them, and measures for -after more.
//
// Throughout, four keep-alive connections ask for the page every 10 ms and
// one for /readyz every 250 ms (their p99 and answers are the targets), and
// a fresh connection asks for the page every 100 ms (a new visitor: while
// herald is at its connection budget it is shed, which is reported). The
// churn and the idle connections come from many loopback addresses
// (127.2.x.y, 127.3.x.y), as many clients would, each under
// max_conns_per_client; the probes from 127.0.0.1.

// connsOptions are the conns scenario's flags.
type connsOptions struct {
	Churn        int           // connections opened and closed
	ChurnRate    float64       // churned connections a second
	ChurnConns   int           // churned connections at once, at most
	EventsEvery  int           // every n'th churned connection opens /events
	Idle         int           // idle keep-alive connections held
	Hold         time.Duration // how long they are held
	After        time.Duration // measured after they are closed
	ServerNofile int           // herald's open-file limit (0: this machine's hard limit)
	MemoryWait   time.Duration // longest wait for herald's RSS to come back
	Timeout      time.Duration // the whole run
}

var defaultConns = connsOptions{Churn: 50_000, ChurnRate: 2500, ChurnConns: 64, EventsEvery: 10, Idle: 20_000,
	Hold: 10 * time.Second, After: 5 * time.Second, MemoryWait: 30 * time.Second, Timeout: 2 * time.Minute}

// connsChildCommand is the hidden subcommand benchConns starts: herald.
const connsChildCommand = "conns-child"

func parseConns(args []string, stderr io.Writer) (connsOptions, error) {
	opt := defaultConns
	fs := flag.NewFlagSet("conns", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&opt.Churn, "churn", opt.Churn, "connections opened and closed")
	fs.Float64Var(&opt.ChurnRate, "churn-rate", opt.ChurnRate, "churned connections a second")
	fs.IntVar(&opt.ChurnConns, "churn-conns", opt.ChurnConns, "churned connections at once, at most")
	fs.IntVar(&opt.EventsEvery, "events-every", opt.EventsEvery, "every n'th churned connection opens /events (0: none)")
	fs.IntVar(&opt.Idle, "idle", opt.Idle, "idle keep-alive connections held (lowered to what this process's hard open-file limit allows)")
	fs.DurationVar(&opt.Hold, "hold", opt.Hold, "how long the idle connections are held")
	fs.DurationVar(&opt.After, "after", opt.After, "measured after the idle connections are closed")
	fs.IntVar(&opt.ServerNofile, "server-nofile", opt.ServerNofile, "herald's open-file limit (0: this machine's hard limit, what herald serve gets)")
	fs.DurationVar(&opt.MemoryWait, "memory-wait", opt.MemoryWait, "longest wait for herald's RSS to come back to its baseline")
	fs.DurationVar(&opt.Timeout, "timeout", opt.Timeout, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return opt, err
	}
	if opt.Churn < 0 || opt.ChurnRate <= 0 || opt.ChurnConns < 1 || opt.Idle < 0 || opt.EventsEvery < 0 || opt.ServerNofile < 0 {
		return opt, errors.New("conns: need -churn ≥ 0, -churn-rate > 0, -churn-conns ≥ 1, -idle ≥ 0, -events-every ≥ 0, -server-nofile ≥ 0")
	}
	return opt, nil
}

// connsRun is what the scenario's clients share: the server's address
// and process, and the probes' records.
type connsRun struct {
	addr string // host:port
	pid  int

	mu      sync.Mutex
	page    []sample // keep-alive probes of the page
	readyz  []sample
	fresh   []sample // the page on a fresh connection
	stopped chan struct{}
}

// sample is one probe: when it ended, how long it took, and the status
// (0: the connection failed).
type sample struct {
	at     time.Time
	d      time.Duration
	status int
}

func (r *connsRun) record(to *[]sample, s sample) {
	r.mu.Lock()
	*to = append(*to, s)
	r.mu.Unlock()
}

// window returns the samples of a probe ended in [from, to).
func (r *connsRun) window(of *[]sample, from, to time.Time) []sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []sample
	for _, s := range *of {
		if !s.at.Before(from) && s.at.Before(to) {
			out = append(out, s)
		}
	}
	return out
}

// summarize gives the samples' p99 over the 200s, and how many were 200.
func summarize(ss []sample) (p50, p99 time.Duration, ok, all int) {
	var lat latencies
	for _, s := range ss {
		if s.status == http.StatusOK {
			lat = append(lat, s.d)
		}
	}
	if len(lat) == 0 {
		return 0, 0, 0, len(ss)
	}
	l := lat.sorted()
	return l[len(l)/2], l[len(l)*99/100], len(l), len(ss)
}

func benchConns(ctx context.Context, opt connsOptions, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	begin := time.Now()

	// This process holds -idle connections and the churn's at once.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	machineHard := int(lim.Max)
	if opt.ServerNofile == 0 {
		opt.ServerNofile = machineHard
	}
	need := opt.Idle + opt.ChurnConns + 512
	if int(lim.Max) < need {
		raised := syscall.Rlimit{Cur: uint64(need), Max: uint64(need)}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
			idle := max(int(lim.Max)-opt.ChurnConns-512, 0)
			fmt.Fprintf(stdout, "note: this machine's hard open-file limit is %d and may not be raised here (%v): -idle lowered from %d to %d\n",
				lim.Max, err, opt.Idle, idle)
			opt.Idle = idle
		}
	}
	if _, _, err := raiseSoft(); err != nil {
		return err
	}
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)

	r, stop, err := startConnsChild(ctx, opt.ServerNofile, stderr)
	if err != nil {
		return err
	}
	defer stop()
	budget := r.metric(ctx, "herald_http_connection_budget")
	fmt.Fprintf(stdout, "herald-bench conns: %d CPUs, GOMAXPROCS %d, %s; herald (pid %d) open-file limit %d, connection budget %.0f; this process %d (machine hard limit %d)\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), r.pid, opt.ServerNofile, budget, uint64(lim.Cur), machineHard)
	fmt.Fprintf(stdout, "churn %d connections at %.0f/s (every %d'th /events), then %d idle keep-alive connections held %s, then %s after\n\n",
		opt.Churn, opt.ChurnRate, opt.EventsEvery, opt.Idle, opt.Hold, opt.After)
	rep := &report{out: stdout}

	probeCtx, stopProbes := context.WithCancel(ctx)
	var probes sync.WaitGroup
	r.startProbes(probeCtx, &probes)
	defer func() { stopProbes(); probes.Wait() }()

	// Baseline: the page rendered, the probes running.
	time.Sleep(2 * time.Second)
	baseRSS, _ := procRSS(r.pid)
	tBase := time.Now()
	rep.info("RSS at rest", fmt.Sprintf("%.1f MB", mb(baseRSS)))

	// 1. Churn.
	t0 := time.Now()
	ch := churn(ctx, r.addr, opt)
	t1 := time.Now()
	streamsLeft, streamsAt := -1.0, time.Duration(0)
	for wait := time.Now(); time.Since(wait) < 2*time.Second; time.Sleep(50 * time.Millisecond) {
		if streamsLeft = r.metric(ctx, "herald_event_streams"); streamsLeft == 0 {
			streamsAt = time.Since(wait)
			break
		}
	}
	churnRSS, _ := procRSS(r.pid)
	_, chP99, chOK, chAll := summarize(ch.samples)
	rep.info("churn", fmt.Sprintf("%d connections in %.1f s (%.0f/s), %d /events; %d answered 200, p99 %.1f ms; %d refused (503/429), %d failed",
		chAll, t1.Sub(t0).Seconds(), float64(chAll)/t1.Sub(t0).Seconds(), ch.events, chOK, ms(chP99), ch.refused, ch.failed))
	r.phase(rep, "during the churn", t0, t1)
	rep.add(figure{name: "event streams open after the churn", value: fmt.Sprintf("%.0f, %d ms after its end (heartbeat 15 s)", streamsLeft, streamsAt.Milliseconds()),
		target: "0 within 1 s", pass: streamsLeft == 0 && streamsAt <= time.Second})

	// 2. Idle connections.
	t2 := time.Now()
	held, shed, failed := openIdle(ctx, r.addr, opt.Idle)
	t3 := time.Now()
	openConns := r.metric(ctx, "herald_http_connections")
	fds := r.metric(ctx, "process_open_fds")
	rep.info("idle connections", fmt.Sprintf("%d held, %d shed (503/429), %d failed, opened in %.1f s; herald: %.0f connections open, %.0f descriptors",
		len(held), shed, failed, t3.Sub(t2).Seconds(), openConns, fds))
	select {
	case <-time.After(opt.Hold):
	case <-ctx.Done():
	}
	t4 := time.Now()
	holdRSS, hwm := procRSS(r.pid)
	r.phase(rep, "holding the idle connections", t3, t4)
	for _, c := range held {
		_ = c.Close()
	}

	// 3. After.
	select {
	case <-time.After(opt.After):
	case <-ctx.Done():
	}
	t5 := time.Now()
	r.phase(rep, "after", t4.Add(500*time.Millisecond), t5)

	// Memory: back to the baseline, within MemoryWait.
	target := baseRSS + max(baseRSS/4, 16<<10)
	var afterRSS int
	var back time.Duration
	var trace []string // RSS every 2 s, for the report
	for wait := time.Now(); ; time.Sleep(500 * time.Millisecond) {
		afterRSS, _ = procRSS(r.pid)
		back = time.Since(wait)
		if n := int(back / (2 * time.Second)); n >= len(trace) {
			trace = append(trace, fmt.Sprintf("%.0f", mb(afterRSS)))
		}
		if afterRSS <= target || back >= opt.MemoryWait || ctx.Err() != nil {
			break
		}
	}
	rep.info("RSS after the churn / holding / peak", fmt.Sprintf("%.1f / %.1f / %.1f MB", mb(churnRSS), mb(holdRSS), mb(hwm)))
	rep.info("RSS every 2 s from the end of -after", strings.Join(trace, " ")+" MB")
	rep.add(figure{name: "RSS after", value: fmt.Sprintf("%.1f MB, %.1f s after the last connection closed (at rest %.1f MB)", mb(afterRSS), (back + t5.Sub(t4)).Seconds(), mb(baseRSS)),
		target: fmt.Sprintf("≤ %.1f MB (rest + 25%%) within %s", mb(target), opt.MemoryWait), pass: afterRSS > 0 && afterRSS <= target})

	_, _, rOK, rAll := summarize(r.window(&r.readyz, tBase, time.Now()))
	select {
	case <-r.stopped:
		rep.add(figure{name: "herald up", value: "exited during the run", target: "up throughout", pass: false})
	default:
		rep.add(figure{name: "herald up", value: fmt.Sprintf("up; /readyz %d of %d answered 200 over the run", rOK, rAll), target: "up throughout", pass: true})
	}
	rep.summary(stdout, begin)
	return nil
}

// raiseSoft raises this process's soft open-file limit to the hard one.
func raiseSoft() (uint64, uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, err
	}
	before := lim.Cur
	lim.Cur = lim.Max
	return before, lim.Cur, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

// phase reports the probes' figures over [from, to): the page's p99 on
// the kept connections and /readyz (the targets), and what a new visitor
// met.
func (r *connsRun) phase(rep *report, name string, from, to time.Time) {
	_, p99, ok, all := summarize(r.window(&r.page, from, to))
	rep.add(figure{name: "page p99, " + name, value: fmt.Sprintf("%.2f ms (%d of %d answered 200)", ms(p99), ok, all),
		target: "≤ 10 ms, all 200", pass: all > 0 && ok == all && p99 <= 10*time.Millisecond})
	_, _, rok, rall := summarize(r.window(&r.readyz, from, to))
	rep.add(figure{name: "/readyz, " + name, value: fmt.Sprintf("%d of %d answered 200", rok, rall),
		target: "all 200", pass: rall > 0 && rok == rall})
	fp50, _, fok, fall := summarize(r.window(&r.fresh, from, to))
	value := fmt.Sprintf("%d of %d fresh connections answered 200 (p50 %.2f ms)", fok, fall, ms(fp50))
	if name == "after" {
		rep.add(figure{name: "new visitors, " + name, value: value, target: "all 200", pass: fall > 0 && fok == fall})
	} else {
		// While herald is at its connection budget a new visitor is shed.
		rep.info("new visitors, "+name, value)
	}
}

// startConnsChild starts herald (this binary's conns-child) with the
// open-file limit nofile and waits for its address. stop ends it.
func startConnsChild(ctx context.Context, nofile int, stderr io.Writer) (*connsRun, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(exe, connsChildCommand, "-nofile", strconv.Itoa(nofile))
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	r := &connsRun{pid: cmd.Process.Pid, stopped: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
				ready <- a
			}
		}
		_ = cmd.Wait()
		close(r.stopped)
	}()
	stop := func() {
		_ = stdin.Close() // the child shuts down when its stdin ends
		select {
		case <-r.stopped:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-r.stopped
		}
	}
	select {
	case r.addr = <-ready:
		return r, stop, nil
	case <-r.stopped:
		return nil, nil, errors.New("herald exited before it was ready")
	case <-ctx.Done():
		stop()
		return nil, nil, ctx.Err()
	case <-time.After(30 * time.Second):
		stop()
		return nil, nil, errors.New("herald not ready after 30 s")
	}
}

// connsChild is the measured process: a herald node with the open-file
// limit -nofile, serving the statuspage scenario's page until its stdin
// ends or, as herald serve would exit, its server stops.
func connsChild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(connsChildCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	nofile := fs.Int("nofile", 0, "open-file limit (soft and hard); 0 leaves it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *nofile > 0 {
		lim := syscall.Rlimit{Cur: uint64(*nofile), Max: uint64(*nofile)}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("set the open-file limit to %d: %w", *nofile, err)
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dir, err := os.MkdirTemp("", "herald-bench-conns-")
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
		return err
	}
	if err := n.Site.RenderPage(ctx, page.ID); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "READY %s\n", n.Addr())
	// As herald serve: run until told to stop (stdin ends), or until the
	// server stops on its own, which ends the process with its error.
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	return n.Wait(ctx)
}

// startProbes starts the probes; they run until ctx ends.
func (r *connsRun) startProbes(ctx context.Context, wg *sync.WaitGroup) {
	page := []byte("GET / HTTP/1.1\r\nHost: " + r.addr + "\r\nAccept-Encoding: gzip\r\n\r\n")
	readyz := []byte("GET /readyz HTTP/1.1\r\nHost: " + r.addr + "\r\n\r\n")
	keep := func(req []byte, every time.Duration, to *[]sample) {
		defer wg.Done()
		var c *httpConn
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				if c != nil {
					c.Close()
				}
				return
			case <-t.C:
			}
			if c == nil {
				var err error
				if c, err = dialHTTP(r.addr, nil); err != nil {
					r.record(to, sample{at: time.Now()})
					continue
				}
			}
			start := time.Now()
			status, err := c.do(req, false)
			r.record(to, sample{at: time.Now(), d: time.Since(start), status: status})
			if err != nil || status != http.StatusOK {
				c.Close()
				c = nil
			}
		}
	}
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go keep(page, 10*time.Millisecond, &r.page)
	}
	wg.Add(2)
	go keep(readyz, 250*time.Millisecond, &r.readyz)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			start := time.Now()
			c, err := dialHTTP(r.addr, nil)
			if err != nil {
				r.record(&r.fresh, sample{at: time.Now()})
				continue
			}
			status, _ := c.do(page, false)
			r.record(&r.fresh, sample{at: time.Now(), d: time.Since(start), status: status})
			c.Close()
		}
	}()
}

// metric reads one value from herald's /metrics (-1 when absent).
func (r *connsRun) metric(ctx context.Context, name string) float64 {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.addr+"/metrics", nil)
	resp, err := metricsClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

var metricsClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}

// httpConn is one client connection speaking HTTP/1.1 by hand: the bench
// holds tens of thousands, so each is a socket and a small reader.
type httpConn struct {
	net.Conn
	br *bufio.Reader
}

// dialHTTP connects to addr from src (nil: any loopback address).
func dialHTTP(addr string, src net.Addr) (*httpConn, error) {
	d := net.Dialer{LocalAddr: src, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &httpConn{Conn: c, br: bufio.NewReaderSize(c, 1024)}, nil
}

// do sends req and reads the answer's status and body; for an event
// stream (stream true) only up to its first event.
func (c *httpConn) do(req []byte, stream bool) (int, error) {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(req); err != nil {
		// A shed connection may have its answer waiting.
		if resp, rerr := http.ReadResponse(c.br, nil); rerr == nil {
			resp.Body.Close()
			return resp.StatusCode, err
		}
		return 0, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, err
	}
	if stream && resp.StatusCode == http.StatusOK {
		// Not resp.Body.Close, which would read the stream to its end:
		// the caller closes the connection.
		buf := make([]byte, 4096)
		var got []byte
		for !bytes.Contains(got, []byte("\ndata: ")) {
			n, err := resp.Body.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				return resp.StatusCode, err
			}
		}
		return resp.StatusCode, nil
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// loopback is the i'th of many loopback client addresses in 127.<net>.0.0/16.
func loopback(netByte, i int) net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, byte(netByte), byte(i/250), byte(i%250+1))}
}

// churnResult is what the churn measured.
type churnResult struct {
	samples         []sample
	events          int
	refused, failed int
}

// churn opens and closes opt.Churn connections at opt.ChurnRate, from 64
// loopback addresses, each asking once for the page or /events.
func churn(ctx context.Context, addr string, opt connsOptions) churnResult {
	page := []byte("GET / HTTP/1.1\r\nHost: " + addr + "\r\nAccept-Encoding: gzip\r\n\r\n")
	events := []byte("GET /events HTTP/1.1\r\nHost: " + addr + "\r\nAccept: text/event-stream\r\n\r\n")
	var (
		next atomic.Int64
		mu   sync.Mutex
		res  churnResult
		wg   sync.WaitGroup
	)
	start := time.Now()
	for w := 0; w < opt.ChurnConns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []sample
			var nEvents, refused, failed int
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= opt.Churn {
					break
				}
				if d := time.Until(start.Add(time.Duration(float64(i) / opt.ChurnRate * float64(time.Second)))); d > 0 {
					time.Sleep(d)
				}
				stream := opt.EventsEvery > 0 && i%opt.EventsEvery == 0
				req := page
				if stream {
					req, nEvents = events, nEvents+1
				}
				t := time.Now()
				c, err := dialHTTP(addr, loopback(2, i%64))
				if err != nil {
					failed++
					local = append(local, sample{at: time.Now()})
					continue
				}
				status, err := c.do(req, stream)
				_ = c.Close()
				switch {
				case status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests:
					refused++
				case err != nil || status != http.StatusOK:
					failed++
				}
				local = append(local, sample{at: time.Now(), d: time.Since(t), status: status})
			}
			mu.Lock()
			res.samples = append(res.samples, local...)
			res.events += nEvents
			res.refused += refused
			res.failed += failed
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Slice(res.samples, func(i, j int) bool { return res.samples[i].at.Before(res.samples[j].at) })
	return res
}

// openIdle opens n connections from loopback addresses 200 at a time
// (under the default max_conns_per_client), each asking for /healthz
// once and then kept open, idle. It returns the ones held, and how many
// were shed or failed.
func openIdle(ctx context.Context, addr string, n int) (held []*httpConn, shed, failed int) {
	req := []byte("GET /healthz HTTP/1.1\r\nHost: " + addr + "\r\n\r\n")
	var (
		next atomic.Int64
		mu   sync.Mutex
		wg   sync.WaitGroup
	)
	for w := 0; w < 128; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				c, err := dialHTTP(addr, loopback(3, i/200))
				if err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
					continue
				}
				status, err := c.do(req, false)
				mu.Lock()
				switch {
				case status == http.StatusOK && err == nil:
					_ = c.SetDeadline(time.Time{})
					held = append(held, c)
				case status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests:
					shed++
					_ = c.Close()
				default:
					failed++
					_ = c.Close()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return held, shed, failed
}

// procRSS returns a process's VmRSS and VmHWM in kB.
func procRSS(pid int) (rss, hwm int) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1, -1
	}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss, _ = strconv.Atoi(f[1])
		case "VmHWM:":
			hwm, _ = strconv.Atoi(f[1])
		}
	}
	return rss, hwm
}

func mb(kb int) float64 { return float64(kb) / 1024 }
