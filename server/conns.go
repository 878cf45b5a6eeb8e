package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald/notify"
)

// Connections. fasthttp takes any error from Accept but a timeout as the
// end of the listener, so when the process ran out of file descriptors
// ("accept4: too many open files") Serve returned and herald exited. Every
// listener herald serves on is wrapped in a guard that makes client load
// unable to stop the server:
//
//   - An Accept error that says resources are short (EMFILE, ENFILE,
//     ENOBUFS, ENOMEM, a reset before accept) is retried after a pause that
//     doubles from 5 ms to 1 s, as net/http does; the connections already
//     open keep being served meanwhile.
//   - Before the descriptors run out, new connections are shed: above the
//     connection budget (Config.MaxConns, or the open-file limit less a
//     reserve for the store, Redis, outbound HTTP and logs) a new
//     connection is accepted, answered 503 with a JSON error and closed at
//     once, so the descriptor is back before the next Accept.
//   - A peer that is not a trusted proxy may hold at most
//     Config.MaxConnsPerClient connections (an IPv6 peer per /64); more are
//     answered 429 and closed. A trusted proxy carries many clients on its
//     connections, so it is not capped here: behind it the per-client
//     limits are those that can read X-Forwarded-For, on requests (the
//     event-stream cap, streams.go).
//   - After a surge the memory goes back to the system. An open
//     connection costs about 20 KB (its goroutine's stack and fasthttp's
//     state), which the Go runtime keeps after the connection closes until
//     a garbage collection, which nothing starts on a server at rest but
//     the forced one every 2 minutes, and then hands back slowly. When the
//     connections open fall to half a peak at least reclaimSurge above
//     them, the guard collects and returns the freed memory at once
//     (debug.FreeOSMemory), and again once fasthttp has stopped the
//     surge's idle workers, which wait 10 s.

// Connection guard defaults and bounds.
const (
	// DefaultMaxConnsPerClient caps one peer's connections: a browser
	// holds at most 6 to a host, an office behind one NAT address a few
	// hundred at the busiest.
	DefaultMaxConnsPerClient = 256
	// minFDReserve and maxFDReserve bound the descriptors kept back from
	// connections for everything else (a sixteenth of the limit).
	minFDReserve = 64
	maxFDReserve = 1024
	// acceptBackoffMin and acceptBackoffMax bound the pause after a
	// temporary Accept error.
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
	// shedWriteTimeout bounds writing the refusal to a shed connection;
	// the Accept loop waits for it.
	shedWriteTimeout = 50 * time.Millisecond
	// reclaimSurge is the fewest connections a surge must have had above
	// the connections left for its memory to be reclaimed at its end.
	reclaimSurge = 1000
)

// reclaimAt are the pauses before each reclaim after a surge: one for the
// closes under way, and one past fasthttp's idle workers' 10 s.
var reclaimAt = []time.Duration{time.Second, 25 * time.Second}

// connBudget is how many connections a listener may hold open: the
// open-file limit less a reserve, or maxConns when that is set and lower.
// A limit of 0 (unknown: not a Unix system) leaves maxConns, or no cap
// when that is 0 too.
func connBudget(maxConns, fileLimit int) int {
	if fileLimit <= 0 {
		if maxConns > 0 {
			return maxConns
		}
		return int(^uint(0) >> 1)
	}
	reserve := min(max(fileLimit/16, minFDReserve), maxFDReserve)
	n := max(fileLimit-reserve, 1)
	if maxConns > 0 && maxConns < n {
		n = maxConns
	}
	return n
}

// connMetrics are the guard's collectors.
type connMetrics struct {
	open     prometheus.Gauge
	budget   prometheus.Gauge
	refused  *prometheus.CounterVec
	acceptEr prometheus.Counter
}

func newConnMetrics(reg *prometheus.Registry) *connMetrics {
	return &connMetrics{
		open: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_http_connections",
			Help: "HTTP connections open.",
		})),
		budget: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_http_connection_budget",
			Help: "HTTP connections herald holds open at most (max_conns, or the open-file limit less a reserve); above it new ones are shed.",
		})),
		refused: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_http_connections_refused_total",
			Help: "Connections closed at accept, by reason: capacity (over the connection budget, answered 503) or per_client (over max_conns_per_client, answered 429).",
		}, []string{"reason"})),
		acceptEr: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_http_accept_errors_total",
			Help: "Temporary errors from accept (too many open files, no buffers), each retried after a pause.",
		})),
	}
}

// Refusals written to a shed connection before it is closed: the client
// has not been read from, so this is all it gets.
var (
	shedCapacity  = rawError(503, "Service Unavailable", "5", codeUnavailable, "the server is at its connection limit; try again shortly")
	shedPerClient = rawError(429, "Too Many Requests", "30", notify.ERATELIMITED, "too many connections from your address")
)

// rawError is a complete HTTP/1.1 response with herald's JSON error body.
func rawError(status int, text, retryAfter, code, message string) []byte {
	body, _ := json.Marshal(errorBody{Error: errorDetail{Code: code, Message: message}})
	return []byte(fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"+
		"Retry-After: %s\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n%s", status, text, len(body), retryAfter, body))
}

// guardedListener is the guard described above, around the listener
// herald serves on.
type guardedListener struct {
	net.Listener
	timeouts  connTimeouts // every connection's (deadline.go)
	budget    int
	perClient int
	proxies   proxies
	log       *slog.Logger
	m         *connMetrics

	closed    chan struct{}
	closeOnce sync.Once

	warnings  *throttledLog
	surgeOver func(peak, open int) // reclaim; tests replace it

	mu         sync.Mutex
	open       int
	byClient   map[netip.Addr]int
	peak       int // most connections open since the last reclaim
	reclaiming bool
}

func (s *Server) guard(ln net.Listener, fileLimit int) *guardedListener {
	l := &guardedListener{Listener: ln, timeouts: connTimeouts{read: s.cfg.ReadTimeout, write: s.cfg.WriteTimeout, idle: s.cfg.IdleTimeout},
		budget: connBudget(s.cfg.MaxConns, fileLimit), perClient: s.cfg.MaxConnsPerClient,
		proxies: s.proxies, log: s.log, m: s.conns, closed: make(chan struct{}),
		byClient: map[netip.Addr]int{}, warnings: newThrottledLog(s.log)}
	l.surgeOver = l.reclaim
	l.m.budget.Set(float64(l.budget))
	return l
}

// Accept returns the next connection the guard admits. It returns an
// error only when the listener is closed or fails for good.
func (l *guardedListener) Accept() (net.Conn, error) {
	var pause time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if !temporaryAcceptError(err) {
				return nil, err
			}
			pause = min(max(2*pause, acceptBackoffMin), acceptBackoffMax)
			l.m.acceptEr.Inc()
			l.warnings.warn("accept", "accept failed; retrying: the connections open are still served", "err", err, "retry_in", pause, "open", l.openConns())
			t := time.NewTimer(pause)
			select {
			case <-t.C:
			case <-l.closed:
				// Closed while Accept was failing: stop here rather than
				// ask a listener that may go on failing.
				t.Stop()
				return nil, net.ErrClosed
			}
			continue
		}
		pause = 0
		key, capped := l.clientKey(c)
		if refusal, reason := l.admit(key, capped); refusal != nil {
			l.m.refused.WithLabelValues(reason).Inc()
			if reason == "capacity" {
				l.warnings.warn(reason, "at the connection budget: shedding new connections", "budget", l.budget)
			} else {
				l.warnings.warn(reason, "too many connections from one address: refusing more; if it is a reverse proxy, list it in trusted_proxies",
					"addr", key, "max_conns_per_client", l.perClient)
			}
			_ = c.SetWriteDeadline(time.Now().Add(shedWriteTimeout))
			_, _ = c.Write(refusal)
			_ = c.Close()
			continue
		}
		l.m.open.Inc()
		return &guardedConn{deadlineConn: deadlineConn{Conn: c, limits: &l.timeouts}, l: l, key: key, capped: capped}, nil
	}
}

// Close closes the listener and ends a pause after a failed Accept.
func (l *guardedListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// clientKey is the peer's address as the per-client cap counts it (an
// IPv6 address by its /64), and whether the cap applies (not to a
// trusted proxy).
func (l *guardedListener) clientKey(c net.Conn) (netip.Addr, bool) {
	ta, ok := c.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, false // not TCP (a Unix socket, a test's pipe): nothing to count by
	}
	a := ta.AddrPort().Addr().Unmap().WithZone("")
	if l.proxies.trusts(a) {
		return a, false
	}
	return limitKey(a), true
}

// admit counts a new connection in, or returns the refusal to send and
// why.
func (l *guardedListener) admit(key netip.Addr, capped bool) ([]byte, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open >= l.budget {
		return shedCapacity, "capacity"
	}
	if capped && l.perClient > 0 && l.byClient[key] >= l.perClient {
		return shedPerClient, "per_client"
	}
	l.open++
	l.peak = max(l.peak, l.open)
	if capped {
		l.byClient[key]++
	}
	return nil, ""
}

func (l *guardedListener) release(key netip.Addr, capped bool) {
	l.mu.Lock()
	l.open--
	if capped {
		if n := l.byClient[key] - 1; n > 0 {
			l.byClient[key] = n
		} else {
			delete(l.byClient, key)
		}
	}
	surge := !l.reclaiming && l.peak-l.open >= reclaimSurge && l.open <= l.peak/2
	if surge {
		l.reclaiming = true
	}
	peak, open := l.peak, l.open
	l.mu.Unlock()
	l.m.open.Dec()
	if surge {
		go l.surgeOver(peak, open)
	}
}

// reclaim returns a surge's memory to the system (see the top of the file).
func (l *guardedListener) reclaim(peak, open int) {
	l.log.Info("connection surge over: returning its memory to the system", "peak", peak, "open", open)
	for _, d := range reclaimAt {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-l.closed:
			t.Stop()
			return
		}
		// Two collections: fasthttp gives a closed connection's read and
		// write buffers to sync.Pools, which keep what they held through
		// one collection (their victim cache) and drop it at the next.
		runtime.GC()
		debug.FreeOSMemory()
	}
	l.mu.Lock()
	l.peak, l.reclaiming = l.open, false
	l.mu.Unlock()
}

func (l *guardedListener) openConns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// throttledLog logs at most one warning of a kind a minute: under a
// flood every refusal would otherwise be a line.
type throttledLog struct {
	log  *slog.Logger
	mu   sync.Mutex
	last map[string]time.Time
}

func newThrottledLog(log *slog.Logger) *throttledLog {
	return &throttledLog{log: log, last: map[string]time.Time{}}
}

func (t *throttledLog) warn(kind, msg string, args ...any) {
	t.mu.Lock()
	now := time.Now()
	if now.Sub(t.last[kind]) < time.Minute {
		t.mu.Unlock()
		return
	}
	t.last[kind] = now
	t.mu.Unlock()
	t.log.Warn(msg, args...)
}

// temporaryAcceptError reports whether an Accept error is one the listener
// recovers from: resources short for now, or a connection gone before it
// was accepted.
func temporaryAcceptError(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// guardedConn is an admitted connection; closing it gives its place back.
// Its deadlines reach the socket lazily (deadlineConn).
type guardedConn struct {
	deadlineConn
	l      *guardedListener
	key    netip.Addr
	capped bool
	once   sync.Once
}

func (c *guardedConn) Close() error {
	c.once.Do(func() { c.l.release(c.key, c.capped) })
	return c.Conn.Close()
}

// limitKey is the address per-client limits count by: an IPv4 address
// itself, an IPv6 address by its /64, which one subscriber line usually
// has whole.
func limitKey(a netip.Addr) netip.Addr {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}
