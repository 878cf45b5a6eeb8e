package server

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// durationBuckets are herald_http_request_duration_seconds' upper bounds.
var durationBuckets = [...]time.Duration{
	500 * time.Microsecond, time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
	250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second,
}

// statShards spreads one route's figures over this many shards, chosen by
// connection.
const statShards = 16

// httpStats is herald_http_requests_total (by route pattern, method and
// status code) and herald_http_request_duration_seconds (by route
// pattern), summed when /metrics is scraped.
//
// The status page answers tens of thousands of requests a second from
// every core. With prometheus' CounterVec and HistogramVec each answer
// updates the same cache lines (a counter, and a histogram's count,
// bucket and sum, the sum by compare-and-swap), and under load the cores
// pass those lines back and forth: herald-bench statuspage measured it as
// about a third of the handler's time. Here a route's figures are kept
// in shards, one per group of connections, so two cores seldom write the
// same line; the scrape adds them up.
type httpStats struct {
	requests, duration *prometheus.Desc
	// keys maps each requestKey seen to its figures. The key set is as
	// bounded as the label set (route patterns, methods, status codes),
	// and new keys are rare after the first requests: the map is read
	// without a lock and copied to add one (under mu).
	keys atomic.Pointer[map[requestKey]*keyStats]
	mu   sync.Mutex
	// slots hold the figures of the keys the status page's fast path
	// counts most (slotted): a slot is one key for good, so finding it
	// costs no hash of the key's strings.
	slots [int(fastRoutes) * 4]atomic.Pointer[keyStats]
}

// requestKey names one route, method and status code.
type requestKey struct {
	route, method string
	code          int
}

// keyStats are one requestKey's figures, by shard.
type keyStats struct {
	shards [statShards]statShard
}

// statShard counts answers by duration bucket (the last one is +Inf) and
// sums their durations. Its size is two cache lines, so neighbouring
// shards share none.
type statShard struct {
	buckets [len(durationBuckets) + 1]atomic.Uint64
	sumNs   atomic.Int64
	_       [128 - (len(durationBuckets)+2)*8]byte
}

func newHTTPStats() *httpStats {
	h := &httpStats{
		requests: prometheus.NewDesc("herald_http_requests_total",
			"HTTP requests answered, by route pattern, method and status code.", []string{"route", "method", "code"}, nil),
		duration: prometheus.NewDesc("herald_http_request_duration_seconds",
			"Time to answer an HTTP request, by route pattern (for /events: until the stream starts).", []string{"route"}, nil),
	}
	h.keys.Store(&map[requestKey]*keyStats{})
	return h
}

// statsFor returns k's figures, adding them if k is new.
func (h *httpStats) statsFor(k requestKey) *keyStats {
	if ks, ok := (*h.keys.Load())[k]; ok {
		return ks
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	old := *h.keys.Load()
	if ks, ok := old[k]; ok {
		return ks
	}
	m := make(map[requestKey]*keyStats, len(old)+1)
	for key, v := range old {
		m[key] = v
	}
	ks := new(keyStats)
	m[requestKey{strings.Clone(k.route), strings.Clone(k.method), k.code}] = ks
	h.keys.Store(&m)
	return ks
}

// slotted is statsFor(k), kept in slot for the next time. The caller
// gives each slot one key, always the same (Server.fastStats).
func (h *httpStats) slotted(slot int, k requestKey) *keyStats {
	if ks := h.slots[slot].Load(); ks != nil {
		return ks
	}
	ks := h.statsFor(k)
	h.slots[slot].Store(ks)
	return ks
}

// observe counts one answer to route and method with code, which took d,
// in the shard of connection conn. fiber's route path and method strings
// are the app's own (its route table, its method names), not request
// buffers, so they can be kept as keys.
func (h *httpStats) observe(route, method string, code int, conn uint64, d time.Duration) {
	h.statsFor(requestKey{route, method, code}).observe(conn, d)
}

// observe counts one answer of ks's key, which took d, in the shard of
// connection conn.
func (ks *keyStats) observe(conn uint64, d time.Duration) {
	sh := &ks.shards[conn%statShards]
	b := len(durationBuckets) // +Inf
	for i, ub := range durationBuckets {
		if d <= ub {
			b = i
			break
		}
	}
	sh.buckets[b].Add(1)
	sh.sumNs.Add(int64(d))
}

// Describe implements prometheus.Collector.
func (h *httpStats) Describe(ch chan<- *prometheus.Desc) {
	ch <- h.requests
	ch <- h.duration
}

// Collect implements prometheus.Collector: a counter per requestKey and a
// histogram per route. A count is the sum of its buckets, so a histogram
// scraped while requests are answered still adds up.
func (h *httpStats) Collect(ch chan<- prometheus.Metric) {
	type routeSum struct {
		buckets [len(durationBuckets) + 1]uint64
		sumNs   int64
	}
	routes := map[string]*routeSum{}
	for k, ks := range *h.keys.Load() {
		r := routes[k.route]
		if r == nil {
			r = &routeSum{}
			routes[k.route] = r
		}
		var n uint64
		for i := range ks.shards {
			sh := &ks.shards[i]
			for b := range sh.buckets {
				c := sh.buckets[b].Load()
				r.buckets[b] += c
				n += c
			}
			r.sumNs += sh.sumNs.Load()
		}
		ch <- prometheus.MustNewConstMetric(h.requests, prometheus.CounterValue, float64(n), k.route, k.method, strconv.Itoa(k.code))
	}
	for route, r := range routes {
		cum := make(map[float64]uint64, len(durationBuckets))
		var n uint64
		for i, ub := range durationBuckets {
			n += r.buckets[i]
			cum[ub.Seconds()] = n
		}
		n += r.buckets[len(durationBuckets)]
		ch <- prometheus.MustNewConstHistogram(h.duration, n, time.Duration(r.sumNs).Seconds(), cum, route)
	}
}
