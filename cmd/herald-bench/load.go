package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	neturl "net/url"
	"sort"
	"strconv"
	"strings"
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
	// The connections live from the warm-up to the end of the run.
	pool := make([]rawConn, conns)
	defer func() {
		for i := range pool {
			pool[i].close()
		}
	}()
	// Warm-up: open the connections and let caches settle.
	if _, _, err := fire(ctx, url, pool, warm, headers); err != nil {
		return loadResult{}, err
	}
	lat, errs, err := fire(ctx, url, pool, dur, headers)
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
	client := &fasthttp.Client{ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
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

// fire sends GET requests to url over the pool's keep-alive connections
// (opening those not open) for dur and returns every successful
// request's latency and the failures. It is a wrk-like client: the request is written from prepared bytes
// and the answer is framed by its status line, Content-Length and
// Connection headers, with no header map. A fuller client (fasthttp's
// parses, normalises and stores every header) spends CPU a
// server-side benchmark should not: on a 2-core machine the client
// shares the CPUs with the server, and the more headers an answer has,
// the more of the machine such a client took from the server it measured.
func fire(ctx context.Context, url string, pool []rawConn, dur time.Duration, headers map[string]string) ([]time.Duration, int, error) {
	u, err := neturl.Parse(url)
	if err != nil {
		return nil, 0, err
	}
	if u.Scheme != "http" {
		return nil, 0, fmt.Errorf("%s: the load client speaks plain HTTP only", url)
	}
	var rb strings.Builder
	rb.WriteString("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: herald-bench\r\n")
	for k, v := range headers {
		rb.WriteString(k + ": " + v + "\r\n")
	}
	rb.WriteString("\r\n")
	request := []byte(rb.String())

	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		all     []time.Duration
		errs    atomic.Int64
		status  atomic.Int64
		lastErr atomic.Value
	)
	for i := range pool {
		wg.Add(1)
		go func(c *rawConn) {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1<<14)
			// A request begun before the end is finished (within the
			// read deadline), so that the connection stays usable for
			// the next run.
			for ctx.Err() == nil {
				if c.conn == nil {
					conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
					if err != nil {
						errs.Add(1)
						lastErr.Store(err.Error())
						if sleepCtx(ctx, 10*time.Millisecond) != nil {
							break
						}
						continue
					}
					c.conn, c.br = conn, bufio.NewReaderSize(conn, 16<<10)
				}
				start := time.Now()
				code, keep, err := roundTrip(c.conn, c.br, request)
				d := time.Since(start)
				if err != nil || !keep {
					c.close()
				}
				if err != nil {
					errs.Add(1)
					lastErr.Store(err.Error())
					continue
				}
				if code != 200 {
					errs.Add(1)
					status.Store(int64(code))
					continue
				}
				lat = append(lat, d)
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}(&pool[i])
	}
	wg.Wait()
	if n := errs.Load(); n > 0 && len(all) == 0 {
		last, _ := lastErr.Load().(string)
		return nil, int(n), fmt.Errorf("%s: every request failed (last status %d, last error %q)", url, status.Load(), last)
	}
	return all, int(errs.Load()), nil
}

// rawConn is one of the load client's keep-alive connections.
type rawConn struct {
	conn net.Conn
	br   *bufio.Reader
}

func (c *rawConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.br = nil, nil
	}
}

// roundTrip writes one request and reads its answer: the status code,
// whether the connection stays open, and the body read and dropped. An
// answer without Content-Length (chunked, or to the close) is refused:
// the status page and its ceilings always send one.
func roundTrip(conn net.Conn, br *bufio.Reader, request []byte) (code int, keep bool, err error) {
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return 0, false, err
	}
	if _, err := conn.Write(request); err != nil {
		return 0, false, err
	}
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	code, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	keep, length := true, -1
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		if len(line) <= 2 { // "\r\n": the end of the header
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			return 0, false, fmt.Errorf("bad header line %q", line)
		}
		name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return 0, false, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Connection")):
			keep = !bytes.EqualFold(value, []byte("close"))
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return 0, false, fmt.Errorf("Transfer-Encoding %q: the load client reads Content-Length answers only", value)
		}
	}
	if length < 0 {
		return 0, false, fmt.Errorf("an answer without Content-Length")
	}
	if _, err := br.Discard(length); err != nil {
		return 0, false, err
	}
	return code, keep, nil
}
