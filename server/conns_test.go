package server

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// flakyListener fails Accept with EMFILE, as a process out of descriptors
// does: the first failFirst calls, and every call while failing is set.
type flakyListener struct {
	net.Listener
	mu        sync.Mutex
	failFirst int  // the first Accepts fail
	failing   bool // every Accept fails, but for passOne
	passOne   bool // one Accept more takes a connection
	waiting   bool // an Accept is in the real one
	failed    atomic.Int32
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.failFirst > 0 || l.failing && !l.passOne {
		if l.failFirst > 0 {
			l.failFirst--
		}
		l.mu.Unlock()
		l.failed.Add(1)
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	l.passOne, l.waiting = false, true
	l.mu.Unlock()
	c, err := l.Listener.Accept()
	l.mu.Lock()
	l.waiting = false
	l.mu.Unlock()
	return c, err
}

// startFailing makes every Accept fail from now on but one: the Accept
// waiting in the real one, or, when none is (Serve between two Accepts),
// the next. Either way exactly one more connection is taken.
func (l *flakyListener) startFailing() {
	l.mu.Lock()
	l.failing, l.passOne = true, !l.waiting
	l.mu.Unlock()
}

func (l *flakyListener) stopFailing() {
	l.mu.Lock()
	l.failing, l.passOne = false, false
	l.mu.Unlock()
}

// metricValue reads a gauge or counter.
func metricValue(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Counter.GetValue()
}

// rawConn is one client connection, for the tests where which connection
// a request goes on matters.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, base string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{Conn: c, r: bufio.NewReader(c)}
}

// get sends GET path with headers (name, value pairs) on the connection
// and reads the answer whole.
func (c *rawConn) get(t *testing.T, path string, headers ...string) response {
	t.Helper()
	req := "GET " + path + " HTTP/1.1\r\nHost: status.example.com\r\n"
	for i := 0; i+1 < len(headers); i += 2 {
		req += headers[i] + ": " + headers[i+1] + "\r\n"
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(req + "\r\n")); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return c.read(t)
}

// read reads one answer whole.
func (c *rawConn) read(t *testing.T) response {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := bufio.NewReader(resp.Body).WriteTo(&b); err != nil {
		t.Fatalf("read body: %v", err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: []byte(b.String())}
}

// quiet closes the env's own client connections (serveOn's) and waits
// until the server holds none, so a test counts only its own.
func (e *env) quiet(t *testing.T) {
	t.Helper()
	e.client.CloseIdleConnections()
	poll(t, "no connection open", func() bool { return metricValue(e.srv.conns.open) == 0 })
}

// TestServeSurvivesAcceptErrors: Accept failing with "too many open files"
// does not end Serve; the connections open meanwhile are served, and new
// ones are taken once Accept works again. Before the guard, fasthttp took
// EMFILE for the listener's end and Serve returned.
func TestServeSurvivesAcceptErrors(t *testing.T) {
	e := newEnv(t)
	real, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &flakyListener{Listener: real}
	ln.failFirst = 3
	e.serveOn(t, ln) // fails unless /healthz answers, past the three errors
	if n := ln.failed.Load(); n < 3 {
		t.Fatalf("Accept failed %d times, want 3", n)
	}

	kept := dialRaw(t, e.base)
	if r := kept.get(t, "/healthz"); r.status != http.StatusOK {
		t.Fatalf("healthz: %d", r.status)
	}
	ln.startFailing()
	before := ln.failed.Load()
	// One Accept more takes this connection (the one Serve waits in, or
	// its next); the Accepts after it fail.
	if r := dialRaw(t, e.base).get(t, "/healthz"); r.status != http.StatusOK {
		t.Fatalf("healthz: %d", r.status)
	}
	poll(t, "Accept failing again", func() bool { return ln.failed.Load() > before })
	for i := 0; i < 3; i++ {
		if r := kept.get(t, "/healthz"); r.status != http.StatusOK {
			t.Fatalf("healthz on an open connection while Accept fails: %d", r.status)
		}
	}
	ln.stopFailing()
	if r := dialRaw(t, e.base).get(t, "/healthz"); r.status != http.StatusOK {
		t.Fatalf("healthz on a new connection: %d", r.status)
	}
	if n := metricValue(e.srv.conns.acceptEr); n < 4 {
		t.Errorf("herald_http_accept_errors_total = %v, want ≥ 4", n)
	}
}

// TestGuardStopsWhenClosedWhileFailing: a listener closed while its
// Accept keeps failing ends the guard's retries: Accept returns
// net.ErrClosed instead of asking the failing listener again and again.
func TestGuardStopsWhenClosedWhileFailing(t *testing.T) {
	e := newEnv(t)
	real, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &flakyListener{Listener: real}
	ln.startFailing()
	ln.passOne = false // not even one
	g := e.srv.guard(ln, 1024)
	done := make(chan error, 1)
	go func() {
		_, err := g.Accept()
		done <- err
	}()
	poll(t, "Accept failing", func() bool { return ln.failed.Load() >= 2 })
	_ = g.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept went on retrying after the listener was closed")
	}
}

// TestConnectionBudget: above the budget a new connection is answered 503
// with a JSON error and closed, while the ones open keep being served.
func TestConnectionBudget(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxConns = 2 })
	e.serve(t)
	e.quiet(t)
	a, b := dialRaw(t, e.base), dialRaw(t, e.base)
	for _, c := range []*rawConn{a, b} {
		if r := c.get(t, "/healthz"); r.status != http.StatusOK {
			t.Fatalf("healthz: %d", r.status)
		}
	}
	r := dialRaw(t, e.base).read(t) // answered before it asks
	if r.status != http.StatusServiceUnavailable || r.errorOf(t).Code != codeUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("over the budget: %d %v %s, want 503 unavailable with Retry-After", r.status, r.header, r.body)
	}
	if r := a.get(t, "/healthz"); r.status != http.StatusOK {
		t.Fatalf("an open connection over the budget: %d", r.status)
	}
	a.Close()
	poll(t, "the closed connection's place freed", func() bool { return metricValue(e.srv.conns.open) == 1 })
	if r := dialRaw(t, e.base).get(t, "/healthz"); r.status != http.StatusOK {
		t.Fatalf("a new connection under the budget again: %d", r.status)
	}
	if n := metricValue(e.srv.conns.refused.WithLabelValues("capacity")); n != 1 {
		t.Errorf("refused capacity = %v, want 1", n)
	}
}

// TestConnectionsPerClient: a peer over MaxConnsPerClient is answered 429
// with a JSON error; a trusted proxy, which carries many clients, is not
// capped.
func TestConnectionsPerClient(t *testing.T) {
	t.Run("a client", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.MaxConnsPerClient = 2 })
		e.serve(t)
		e.quiet(t)
		for i := 0; i < 2; i++ {
			if r := dialRaw(t, e.base).get(t, "/healthz"); r.status != http.StatusOK {
				t.Fatalf("healthz: %d", r.status)
			}
		}
		r := dialRaw(t, e.base).read(t)
		if r.status != http.StatusTooManyRequests || r.errorOf(t).Code != "rate_limited" {
			t.Fatalf("third connection: %d %s, want 429 rate_limited", r.status, r.body)
		}
		if !strings.Contains(e.logs.String(), "trusted_proxies") {
			t.Errorf("no hint at trusted_proxies in the log:\n%s", e.logs)
		}
	})
	t.Run("a trusted proxy", func(t *testing.T) {
		e := newEnv(t, func(c *Config) {
			c.MaxConnsPerClient = 2
			c.TrustedProxies, _ = ParseTrustedProxies("127.0.0.1")
		})
		e.serve(t)
		e.quiet(t)
		for i := 0; i < 4; i++ {
			if r := dialRaw(t, e.base).get(t, "/healthz"); r.status != http.StatusOK {
				t.Fatalf("connection %d from the proxy: %d", i+1, r.status)
			}
		}
	})
}

func TestConnBudget(t *testing.T) {
	for _, tt := range []struct{ max, limit, want int }{
		{0, 1024, 1024 - 64},         // the reserve is at least 64
		{0, 20000, 20000 - 1024},     // and at most 1024
		{0, 8192, 8192 - 512},        // a sixteenth in between
		{100, 20000, 100},            // max_conns under the limit
		{50000, 20000, 20000 - 1024}, // never over what the descriptors allow
		{0, 10, 1},
		{300, 0, 300}, // no limit known
	} {
		if got := connBudget(tt.max, tt.limit); got != tt.want {
			t.Errorf("connBudget(%d, %d) = %d, want %d", tt.max, tt.limit, got, tt.want)
		}
	}
}

// TestReclaimAfterSurge: when the connections open fall to half a peak at
// least reclaimSurge above them, the guard reclaims the surge's memory,
// once per surge; smaller swings do not.
func TestReclaimAfterSurge(t *testing.T) {
	e := newEnv(t)
	l := e.srv.guard(nil, 0)
	surges := make(chan [2]int, 4)
	l.surgeOver = func(peak, open int) { surges <- [2]int{peak, open} }
	key := netip.MustParseAddr("203.0.113.1")
	open := func(n int) {
		for i := 0; i < n; i++ {
			if refusal, _ := l.admit(key, false); refusal != nil {
				t.Fatal("refused")
			}
		}
	}
	open(900)
	for i := 0; i < 900; i++ {
		l.release(key, false)
	}
	select {
	case s := <-surges:
		t.Fatalf("reclaimed after a swing of 900: %v", s)
	default:
	}
	open(1600)
	for i := 0; i < 1000; i++ {
		l.release(key, false)
	}
	select {
	case s := <-surges:
		if s != [2]int{1600, 600} { // 1 000 under the peak and under its half
			t.Fatalf("reclaimed at %v, want peak 1600, open 600", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reclaim after 1600 → 600 connections")
	}
	select {
	case s := <-surges:
		t.Fatalf("reclaimed twice for one surge: %v", s)
	default:
	}
}
