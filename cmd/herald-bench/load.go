package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// loadResult is what one load run measured.
type loadResult struct {
	URL       string
	Requests  int
	Errors    int
	Duration  time.Duration
	ReqPerSec float64
	P50, P99  time.Duration
	BodyBytes int
	// Headers are the answer's headers but those fasthttp writes itself
	// (Date, Content-Length, Server, Connection), from one request after
	// the run.
	Headers [][2]string
}

func (r loadResult) String() string {
	return fmt.Sprintf("%-45s %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms  (%d requests, %d errors, body %d B)",
		r.URL, r.ReqPerSec, ms(r.P50), ms(r.P99), r.Requests, r.Errors, r.BodyBytes)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// runLoad sends GET requests to url over conns keep-alive connections for
// dur after a warm-up, the way wrk does: each connection sends its next
// request when the previous answer has arrived. Headers are added to every
// request (e.g. Accept-Encoding). It records every request's latency.
func runLoad(ctx context.Context, url string, conns int, warm, dur time.Duration, headers map[string]string) (loadResult, error) {
	client := &fasthttp.Client{
		MaxConnsPerHost:     conns,
		ReadTimeout:         5 * time.Second,
		WriteTimeout:        5 * time.Second,
		MaxIdleConnDuration: time.Minute,
	}
	// Close the connections after the run: the next run opens its own,
	// and herald caps connections per client address.
	defer client.CloseIdleConnections()
	// Warm-up: open the connections and let caches settle.
	if _, _, err := fire(ctx, client, url, conns, warm, headers); err != nil {
		return loadResult{}, err
	}
	lat, errs, err := fire(ctx, client, url, conns, dur, headers)
	if err != nil {
		return loadResult{}, err
	}
	res := loadResult{URL: url, Requests: len(lat), Errors: errs, Duration: dur}
	if len(lat) == 0 {
		return res, fmt.Errorf("no request to %s succeeded", url)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res.ReqPerSec = float64(len(lat)) / dur.Seconds()
	res.P50 = lat[len(lat)*50/100]
	res.P99 = lat[len(lat)*99/100]
	// One request outside the timed window to report the body size.
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if err := client.Do(req, resp); err == nil {
		res.BodyBytes = len(resp.Body())
		resp.Header.VisitAll(func(k, v []byte) {
			switch string(k) {
			case "Date", "Content-Length", "Server", "Connection":
				return
			}
			res.Headers = append(res.Headers, [2]string{string(k), string(v)})
		})
	}
	return res, nil
}

func fire(ctx context.Context, client *fasthttp.Client, url string, conns int, dur time.Duration, headers map[string]string) ([]time.Duration, int, error) {
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		all    []time.Duration
		errs   atomic.Int64
		status atomic.Int64
	)
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI(url)
			for k, v := range headers {
				req.Header.Set(k, v)
			}
			lat := make([]time.Duration, 0, 1<<14)
			for ctx.Err() == nil {
				start := time.Now()
				err := client.Do(req, resp)
				d := time.Since(start)
				if err != nil || resp.StatusCode() != fasthttp.StatusOK {
					errs.Add(1)
					if err == nil {
						status.Store(int64(resp.StatusCode()))
					}
					continue
				}
				lat = append(lat, d)
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if n := errs.Load(); n > 0 && len(all) == 0 {
		return nil, int(n), fmt.Errorf("%s: every request failed (last status %d)", url, status.Load())
	}
	return all, int(errs.Load()), nil
}
