package server

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestHTTPStats checks the figures a scrape shows: answers counted by
// route, method and code whichever connection's shard they landed in, and
// one histogram per route over all its methods and codes, with each
// duration in its bucket (an upper bound is inclusive).
func TestHTTPStats(t *testing.T) {
	h := newHTTPStats()
	obs := []struct {
		route, method string
		code          int
		conn          uint64
		d             time.Duration
	}{
		{"/", "GET", 200, 1, 300 * time.Microsecond},
		{"/", "GET", 200, 2, time.Millisecond},       // on the bound: the 0.001 bucket
		{"/", "GET", 200, 17, 3 * time.Millisecond},  // the same shard as conn 1
		{"/", "HEAD", 200, 3, 40 * time.Millisecond}, //
		{"/", "GET", 304, 4, 7 * time.Second},        // over the last bound: +Inf only
		{"/api/v2/*", "GET", 200, 5, 2 * time.Millisecond},
	}
	for _, o := range obs {
		h.observe(o.route, o.method, o.code, o.conn, o.d)
	}
	want := `
# HELP herald_http_request_duration_seconds Time to answer an HTTP request, by route pattern (for /events: until the stream starts).
# TYPE herald_http_request_duration_seconds histogram
herald_http_request_duration_seconds_bucket{route="/",le="0.0005"} 1
herald_http_request_duration_seconds_bucket{route="/",le="0.001"} 2
herald_http_request_duration_seconds_bucket{route="/",le="0.0025"} 2
herald_http_request_duration_seconds_bucket{route="/",le="0.005"} 3
herald_http_request_duration_seconds_bucket{route="/",le="0.01"} 3
herald_http_request_duration_seconds_bucket{route="/",le="0.025"} 3
herald_http_request_duration_seconds_bucket{route="/",le="0.05"} 4
herald_http_request_duration_seconds_bucket{route="/",le="0.1"} 4
herald_http_request_duration_seconds_bucket{route="/",le="0.25"} 4
herald_http_request_duration_seconds_bucket{route="/",le="0.5"} 4
herald_http_request_duration_seconds_bucket{route="/",le="1"} 4
herald_http_request_duration_seconds_bucket{route="/",le="2.5"} 4
herald_http_request_duration_seconds_bucket{route="/",le="5"} 4
herald_http_request_duration_seconds_bucket{route="/",le="+Inf"} 5
herald_http_request_duration_seconds_sum{route="/"} 7.0443
herald_http_request_duration_seconds_count{route="/"} 5
herald_http_request_duration_seconds_bucket{route="/api/v2/*",le="0.0005"} 0
herald_http_request_duration_seconds_bucket{route="/api/v2/*",le="0.001"} 0
herald_http_request_duration_seconds_bucket{route="/api/v2/*",le="0.0025"} 1
herald_http_request_duration_seconds_bucket{route="/api/v2/*",le="0.005"} 1
herald_http_request_duration_seconds_bucket{route="/api/v2/*",le="0.01"} 1
herald_http_request_duration_seconds_bucket{route="/api/v2/*",le="0.025"} 1
herald_http_request_duration_seconds_bucket{route="/api/v2/*",le="0.05"} 1
herald_http_request_duration_seconds_bucket{route="/api/v2/*",le="0.1"} 1
herald_http_request_duration_seconds_bucket{route="/api/v2/*",le="0.25"} 1
herald_http_request_duration_seconds_bucket{route="/api/v2/*",le="0.5"} 1
herald_http_request_duration_seconds_bucket{route="/api/v2/*",le="1"} 1
herald_http_request_duration_seconds_bucket{route="/api/v2/*",le="2.5"} 1
herald_http_request_duration_seconds_bucket{route="/api/v2/*",le="5"} 1
herald_http_request_duration_seconds_bucket{route="/api/v2/*",le="+Inf"} 1
herald_http_request_duration_seconds_sum{route="/api/v2/*"} 0.002
herald_http_request_duration_seconds_count{route="/api/v2/*"} 1
# HELP herald_http_requests_total HTTP requests answered, by route pattern, method and status code.
# TYPE herald_http_requests_total counter
herald_http_requests_total{code="200",method="GET",route="/"} 3
herald_http_requests_total{code="200",method="GET",route="/api/v2/*"} 1
herald_http_requests_total{code="200",method="HEAD",route="/"} 1
herald_http_requests_total{code="304",method="GET",route="/"} 1
`
	if err := testutil.CollectAndCompare(h, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

// TestHTTPStatsConcurrent counts answers from many goroutines at once,
// some on the same shard, while scrapes run (go test -race): none is
// lost, and every scrape's histogram adds up (its count is its +Inf
// bucket, which testutil's parser checks).
func TestHTTPStatsConcurrent(t *testing.T) {
	h := newHTTPStats()
	const workers, each = 8, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				h.observe("/", "GET", 200, uint64(w), time.Duration(i)*time.Microsecond)
			}
		}()
	}
	stop := make(chan struct{})
	scraped := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				scraped <- nil
				return
			default:
			}
			if _, err := testutil.CollectAndLint(h); err != nil {
				scraped <- err
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	if err := <-scraped; err != nil {
		t.Fatal(err)
	}
	if got := testutil.CollectAndCount(h, "herald_http_requests_total"); got != 1 {
		t.Fatalf("%d request series, want 1", got)
	}
	want := `
# HELP herald_http_requests_total HTTP requests answered, by route pattern, method and status code.
# TYPE herald_http_requests_total counter
herald_http_requests_total{code="200",method="GET",route="/"} 16000
`
	if err := testutil.CollectAndCompare(h, strings.NewReader(want), "herald_http_requests_total"); err != nil {
		t.Fatal(err)
	}
}
