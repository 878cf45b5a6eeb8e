package server

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/incident"
)

func TestPublicRoutes(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name    string
		method  string
		path    string
		headers []string
		status  int
		check   func(t *testing.T, r response)
	}{
		{"home", "GET", "/", nil, 200, func(t *testing.T, r response) {
			wantHeader(t, r, "Content-Type", "text/html; charset=utf-8")
			wantHeader(t, r, "ETag", `"home-en"`)
			wantHeader(t, r, "Cache-Control", "public, max-age=10")
			wantHeader(t, r, "X-Content-Type-Options", "nosniff")
			wantHeader(t, r, "Referrer-Policy", "strict-origin-when-cross-origin")
			csp := r.header.Get("Content-Security-Policy")
			// sha256 of "var x=1;" and "body{color:red}": the page's inline code, by hash.
			if !strings.Contains(csp, "script-src 'self' 'sha256-") || !strings.Contains(csp, "style-src 'self' 'sha256-") || strings.Contains(csp, "unsafe-inline") {
				t.Errorf("CSP = %q", csp)
			}
			if !strings.Contains(string(r.body), "<main>ok</main>") {
				t.Errorf("body = %s", r.body)
			}
			if r.header.Get("Access-Control-Allow-Origin") != "" {
				t.Error("CORS on HTML")
			}
		}},
		{"HEAD answers headers only", "HEAD", "/api/v2/summary.json", nil, 200, func(t *testing.T, r response) {
			if len(r.body) != 0 {
				t.Errorf("HEAD body %q", r.body)
			}
			wantHeader(t, r, "ETag", `"sum1"`)
			wantHeader(t, r, "Access-Control-Allow-Origin", "*")
		}},
		{"summary with CORS", "GET", "/api/v2/summary.json", nil, 200, func(t *testing.T, r response) {
			wantHeader(t, r, "Access-Control-Allow-Origin", "*")
			wantHeader(t, r, "Content-Type", "application/json; charset=utf-8")
			wantHeader(t, r, "Vary", "Accept-Encoding")
			if r.header.Get("Content-Security-Policy") != "" {
				t.Error("CSP on JSON")
			}
		}},
		{"eight v2 endpoints are routed", "GET", "/api/v2/scheduled-maintenances.json", nil, 200, nil},
		{"ETag match gives 304", "GET", "/api/v2/summary.json", []string{"If-None-Match", `"other", "sum1"`}, 304, func(t *testing.T, r response) {
			if len(r.body) != 0 {
				t.Errorf("304 body %q", r.body)
			}
		}},
		{"weak ETag match gives 304", "GET", "/", []string{"If-None-Match", `W/"home-en"`}, 304, nil},
		{"stale ETag gives 200", "GET", "/api/v2/summary.json", []string{"If-None-Match", `"sum0"`}, 200, nil},
		{"gzip", "GET", "/api/v2/status.json", []string{"Accept-Encoding", "br, gzip;q=0.5"}, 200, func(t *testing.T, r response) {
			wantHeader(t, r, "Content-Encoding", "gzip")
			wantHeader(t, r, "ETag", `"st1-gzip"`)
			zr, err := gzip.NewReader(bytes.NewReader(r.body))
			if err != nil {
				t.Fatal(err)
			}
			plain, _ := io.ReadAll(zr)
			if string(plain) != `{"status":{"indicator":"none"}}` {
				t.Errorf("gunzipped %q", plain)
			}
		}},
		{"gzip refused with q=0", "GET", "/api/v2/status.json", []string{"Accept-Encoding", "gzip;q=0"}, 200, func(t *testing.T, r response) {
			if r.header.Get("Content-Encoding") != "" {
				t.Error("gzip despite q=0")
			}
		}},
		{"gzip ETag revalidates", "GET", "/api/v2/status.json", []string{"Accept-Encoding", "gzip", "If-None-Match", `"st1-gzip"`}, 304, nil},
		// Each representation answers to its own tag only (RFC 9110 13.1.2).
		{"the gzip tag does not revalidate the identity bytes", "GET", "/api/v2/status.json", []string{"If-None-Match", `"st1-gzip"`}, 200, nil},
		{"the identity tag does not revalidate the gzip bytes", "GET", "/api/v2/status.json", []string{"Accept-Encoding", "gzip", "If-None-Match", `W/"st1"`}, 200, nil},
		{"the identity tag revalidates the identity bytes", "GET", "/api/v2/status.json", []string{"If-None-Match", `"x", W/"st1"`}, 304, nil},
		{"rss", "GET", "/history.rss", nil, 200, func(t *testing.T, r response) {
			wantHeader(t, r, "Access-Control-Allow-Origin", "*")
			wantHeader(t, r, "Cache-Control", "public, max-age=60")
		}},
		{"atom HEAD", "HEAD", "/history.atom", nil, 200, nil},
		{"preflight", "OPTIONS", "/api/v2/summary.json", []string{"Origin", "https://widget.example", "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "x-requested-with"}, 204, func(t *testing.T, r response) {
			wantHeader(t, r, "Access-Control-Allow-Origin", "*")
			wantHeader(t, r, "Access-Control-Allow-Headers", "x-requested-with")
			if !strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "GET") {
				t.Error("preflight without GET")
			}
		}},
		{"lang query", "GET", "/?lang=hu", nil, 200, func(t *testing.T, r response) {
			if !strings.Contains(string(r.body), "magyar") {
				t.Errorf("body %s", r.body)
			}
		}},
		{"Accept-Language q-values", "GET", "/", []string{"Accept-Language", "de;q=1, en;q=0.3, hu-HU;q=0.8"}, 200, func(t *testing.T, r response) {
			wantHeader(t, r, "ETag", `"home-hu"`)
			if !strings.Contains(r.header.Get("Vary"), "Accept-Language") {
				t.Error("HTML does not vary on Accept-Language")
			}
		}},
		{"unknown lang query falls back", "GET", "/?lang=xx", []string{"Accept-Language", "en"}, 200, func(t *testing.T, r response) {
			wantHeader(t, r, "ETag", `"home-en"`)
		}},
		{"incident page", "GET", "/incidents/abcdef123456", nil, 200, nil},
		{"unknown incident is an HTML 404", "GET", "/incidents/zzzzzzzzzzzz", []string{"Accept", "text/html"}, 404, func(t *testing.T, r response) {
			if !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.Contains(string(r.body), "Not found") {
				t.Errorf("404 page: %s %s", r.header.Get("Content-Type"), r.body)
			}
		}},
		{"unknown path is an HTML 404", "GET", "/wp-login.php", nil, 404, func(t *testing.T, r response) {
			if !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
				t.Error("not HTML")
			}
		}},
		{"unknown API path is a JSON 404", "GET", "/api/v2/nope.json", nil, 404, func(t *testing.T, r response) {
			if d := r.errorOf(t); d.Code != "not_found" {
				t.Errorf("code %q", d.Code)
			}
		}},
		{"other host has no page", "GET", "/", []string{"Host", "evil.example"}, 404, nil},
		{"short link", "GET", "/i/abcdef123456", nil, 302, func(t *testing.T, r response) {
			wantHeader(t, r, "Location", "/incidents/abcdef123456")
		}},
		{"short link with a bad id", "GET", "/i/%0d%0aX:1", nil, 404, nil},
		{"static script", "GET", "/static/live.js", nil, 200, func(t *testing.T, r response) {
			wantHeader(t, r, "Cache-Control", "public, max-age=300")
		}},
		{"POST on a public path is 405", "POST", "/api/v2/summary.json", nil, 405, func(t *testing.T, r response) {
			if d := r.errorOf(t); d.Code != "method_not_allowed" {
				t.Errorf("code %q", d.Code)
			}
		}},
		{"healthz", "GET", "/healthz", nil, 200, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, tc.method, tc.path, "", "", tc.headers...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func wantHeader(t *testing.T, r response, name, want string) {
	t.Helper()
	if got := r.header.Get(name); got != want {
		t.Errorf("%s = %q, want %q", name, got, want)
	}
}

// TestPublicRoutesQueryNoStore checks a public request costs no store
// query: with the store closed, the page still answers.
func TestPublicRoutesQueryNoStore(t *testing.T) {
	e := newEnv(t)
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/", "/api/v2/summary.json", "/history.rss"} {
		e.mustDo(t, http.StatusOK, "GET", p, "", "")
	}
}

// TestEvents runs /events over a real listener (app.Test buffers the whole
// answer): the current summary at once, an update after a declaration
// through the API, heartbeats, and the watch released when the client goes.
func TestEvents(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.HeartbeatInterval = 50 * time.Millisecond })
	e.serve(t)
	base, client := e.base, e.client

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/events", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitFor := func(what string, ok func(string) bool) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case l, open := <-lines:
				if !open {
					t.Fatalf("stream closed before %s", what)
				}
				if ok(l) {
					return
				}
			case <-deadline:
				t.Fatalf("no %s within 5s", what)
			}
		}
	}
	waitFor("initial summary", func(l string) bool { return strings.HasPrefix(l, "data: {\"page\"") })
	waitFor("heartbeat", func(l string) bool { return l == ": heartbeat" })

	body := `{"incident":{"name":"Checkout down","status":"investigating"}}`
	hreq, _ := http.NewRequest("POST", base+"/v1/pages/"+e.page.ID+"/incidents", strings.NewReader(body))
	hreq.Header.Set("Authorization", "Bearer "+e.manager)
	hreq.Header.Set("Content-Type", "application/json")
	hresp, err := client.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	hresp.Body.Close()
	if hresp.StatusCode != http.StatusCreated {
		t.Fatalf("declare: %d", hresp.StatusCode)
	}
	waitFor("event line", func(l string) bool { return l == "event: update" })
	waitFor("update data", func(l string) bool { return strings.HasPrefix(l, "data: ") && strings.Contains(l, "Checkout down") })

	// HEAD answers at once and holds no watch.
	head, err := client.Head(base + "/events")
	if err != nil {
		t.Fatal(err)
	}
	head.Body.Close()
	if head.StatusCode != 200 || head.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		t.Fatalf("HEAD /events: %d", head.StatusCode)
	}
	if n := e.site.watchers(); n != 1 {
		t.Fatalf("watchers = %d, want 1 (the open stream)", n)
	}

	// The client leaves: the watch is released (TestEventStreamClosedNoticed
	// shows it is at once, not at the next heartbeat).
	cancel()
	poll(t, "the watch released after the client left", func() bool { return e.site.watchers() == 0 })
}

func TestReadyz(t *testing.T) {
	e := newEnv(t)
	e.mustDo(t, http.StatusOK, "GET", "/readyz", "", "")
	e.site.mu.Lock()
	e.site.ready = false
	e.site.mu.Unlock()
	r := e.mustDo(t, http.StatusServiceUnavailable, "GET", "/readyz", "", "")
	if !strings.Contains(string(r.body), `"site":"not rendered yet"`) {
		t.Fatalf("body %s", r.body)
	}
	e.site.mu.Lock()
	e.site.ready = true
	e.site.mu.Unlock()
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	r = e.mustDo(t, http.StatusServiceUnavailable, "GET", "/readyz", "", "")
	if !strings.Contains(string(r.body), `"store":"unavailable"`) {
		t.Fatalf("body %s", r.body)
	}
	e.mustDo(t, http.StatusOK, "GET", "/healthz", "", "")
}

// TestReadyzWrites: /readyz turns 503 when writes fail while reads still
// work (here the SQLite writer made read-only, as a full disk or a
// read-only file would; the Redis case is in store/redis), and green again
// once they land.
func TestReadyzWrites(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.WriteProbeEvery = -1 })
	ctx := context.Background()
	e.mustDo(t, http.StatusOK, "GET", "/readyz", "", "")
	// The writer pool holds one connection: the pragma stays on it.
	if _, err := e.sqlite.SQL().ExecContext(ctx, "PRAGMA query_only = ON"); err != nil {
		t.Fatal(err)
	}
	if err := e.sqlite.Ping(ctx); err != nil {
		t.Fatalf("reads must still work: %v", err)
	}
	r := e.mustDo(t, http.StatusServiceUnavailable, "GET", "/readyz", "", "")
	if !strings.Contains(string(r.body), `"store":"not writable"`) {
		t.Fatalf("body %s", r.body)
	}
	if !strings.Contains(e.logs.String(), "the store refuses writes") {
		t.Errorf("no log line saying why: %s", e.logs.String())
	}
	if _, err := e.sqlite.SQL().ExecContext(ctx, "PRAGMA query_only = OFF"); err != nil {
		t.Fatal(err)
	}
	e.mustDo(t, http.StatusOK, "GET", "/readyz", "", "")
}

// TestReadyzProbeCached: within WriteProbeEvery, /readyz answers from the
// last probe and writes nothing.
func TestReadyzProbeCached(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.WriteProbeEvery = time.Hour })
	ctx := context.Background()
	e.mustDo(t, http.StatusOK, "GET", "/readyz", "", "")
	if _, err := e.sqlite.SQL().ExecContext(ctx, "PRAGMA query_only = ON"); err != nil {
		t.Fatal(err)
	}
	defer e.sqlite.SQL().ExecContext(ctx, "PRAGMA query_only = OFF") //nolint:errcheck
	for range 5 {
		e.mustDo(t, http.StatusOK, "GET", "/readyz", "", "")
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	e.mustDo(t, http.StatusCreated, "POST", "/v1/pages/"+e.page.ID+"/incidents", e.manager, `{"incident":{"name":"x"}}`)
	e.mustDo(t, http.StatusOK, "GET", "/", "", "")
	e.mustDo(t, http.StatusNotFound, "GET", "/no/such/path/42", "", "")
	body := string(e.mustDo(t, http.StatusOK, "GET", "/metrics", "", "").body)
	for _, want := range []string{
		`herald_http_requests_total{code="201",method="POST",route="/v1/pages/:page_id/incidents"} 1`,
		`herald_http_requests_total{code="200",method="GET",route="/"} 1`,
		`herald_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`herald_http_request_duration_seconds_count{route="/"} 1`,
		fmt.Sprintf(`herald_open_incidents{page_id=%q} 1`, e.page.ID),
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "/no/such/path") {
		t.Error("a raw path became a label")
	}
}

// TestFrameworkErrorsAndPanics checks fiber's own errors and a panic
// answer in the one JSON shape, and that Mount adds routes.
func TestFrameworkErrorsAndPanics(t *testing.T) {
	e := newEnv(t)
	e.srv.Mount(func(r Routes) {
		r.API.Get("/boom", r.Require(incident.RoleAgent), func(c *fiber.Ctx) error { panic("kaboom") })
		r.API.Get("/oops", func(c *fiber.Ctx) error { return fmt.Errorf("db password=hunter2 leaked") })
		r.Root.Get("/extra", func(c *fiber.Ctx) error { return c.SendString("extra") })
	})
	tests := []struct {
		name, method, path, token string
		status                    int
		code                      string
	}{
		{"panic", "GET", "/api/v1/boom", e.agent, 500, "internal"},
		{"foreign error", "GET", "/api/v1/oops", "", 500, "internal"},
		{"no route under /api", "GET", "/api/v1/nothing", e.agent, 404, "not_found"},
		{"wrong method", "DELETE", "/v1/pages", e.admin, 405, "method_not_allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, tc.method, tc.path, tc.token, "")
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			d := r.errorOf(t)
			if d.Code != tc.code {
				t.Fatalf("code %q, want %q", d.Code, tc.code)
			}
			if strings.Contains(string(r.body), "hunter2") || strings.Contains(string(r.body), "kaboom") {
				t.Fatal("internal detail sent to the client")
			}
		})
	}
	if !strings.Contains(e.logs.String(), "kaboom") || !strings.Contains(e.logs.String(), "hunter2") {
		t.Error("internal errors not logged in full")
	}
	e.mustDo(t, http.StatusOK, "GET", "/extra", "", "")
}

func TestMatchLanguage(t *testing.T) {
	have := []string{"en", "hu", "pl", "hr"}
	tests := []struct{ header, want string }{
		{"", ""},
		{"hu", "hu"},
		{"pl-PL,pl;q=0.9,en;q=0.8", "pl"},
		{"de, fr;q=0.9", ""},
		{"en;q=0.5, hr;q=0.6", "hr"},
		{"hr;q=0, en;q=0.1", "en"},
		{"HU-hu", "hu"},
		{"*;q=0.5, pl;q=0.4", ""},
		{"en;q=abc, pl", "pl"},
		{"en;q=2, hu;q=0.1", "hu"},
	}
	for _, tc := range tests {
		t.Run(tc.header, func(t *testing.T) {
			if got := matchLanguage(tc.header, have); got != tc.want {
				t.Fatalf("matchLanguage(%q) = %q, want %q", tc.header, got, tc.want)
			}
		})
	}
}

func TestTokenFrom(t *testing.T) {
	tests := []struct {
		header, want string
		ok           bool
	}{
		{"OAuth abc", "abc", true},
		{"Bearer abc", "abc", true},
		{"bearer  abc ", "abc", true},
		{"Basic abc", "", false},
		{"abc", "", false},
		{"Bearer", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.header, func(t *testing.T) {
			got, ok := tokenFrom(tc.header)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("tokenFrom(%q) = %q, %v", tc.header, got, ok)
			}
		})
	}
}

// TestHeadersTooLarge: a request whose headers outgrow the read buffer is
// answered 431 with the code for a request too large, saying what is.
func TestHeadersTooLarge(t *testing.T) {
	e := newEnv(t)
	e.useSocket(t)
	r := e.do(t, "GET", "/api/v1/pages", strings.Repeat("x", 7000), "")
	if r.status != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431: %s", r.status, r.body)
	}
	if d := r.errorOf(t); d.Code != "too_large" || !strings.Contains(d.Message, "headers") {
		t.Errorf("error %+v, want too_large naming the headers", d)
	}
}
