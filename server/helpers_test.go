package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"github.com/heraldhq/herald/internal/syncbuf"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify"
	"github.com/heraldhq/herald/statuspage"
	"github.com/heraldhq/herald/store/enginetest"
	"github.com/heraldhq/herald/store/sqlite"
	"github.com/heraldhq/herald/surveys"
)

// env is one server on a real SQLite store with a real Service, and a
// token of each role. Requests go to the fiber app in memory (do); serve
// adds a loopback listener for the tests where the socket matters.
type env struct {
	owner   testing.TB // the test the env lives as long as: cleanups only
	db      testStore
	sqlite  *sqlite.DB // db on SQLite (newEnv), for the tests that reach under the store; nil on Redis
	svc     *incident.Service
	events  *incident.LocalEvents
	site    *fakeSite
	srv     *Server
	reg     *prometheus.Registry
	page    *incident.Page
	admin   string
	manager string
	agent   string
	revoked string
	logs    *syncbuf.Buffer
	base    string       // http://127.0.0.1:port once serving
	client  *http.Client // talks to base, once serving
	// overSocket sends do's requests to base instead of in memory, for the
	// tests of what the socket decides (the peer address).
	overSocket bool
	// beforeShutdown closes what holds connections to the server (see
	// serveOn) before it is shut down.
	beforeShutdown []func()
}

// testStore is what the tests use of a store: every interface both
// engines implement (store/sqlite, store/redis), and closing it.
type testStore interface {
	incident.Store
	notify.Store
	SecretStore
	complaint.Store
	complaint.Customers
	compensation.Store
	compensation.Customers
	surveys.Store
	Close() error
}

// newEnv builds an env on a fresh SQLite store; opts change the server's
// Config.
func newEnv(t testing.TB, opts ...func(*Config)) *env {
	t.Helper()
	db := enginetest.SQLite(t)
	e := newEnvOn(t, db, opts...)
	e.sqlite = db
	return e
}

// newEnvOn builds an env on db (closed by its opener); opts change the
// server's Config.
func newEnvOn(t testing.TB, db testStore, opts ...func(*Config)) *env {
	t.Helper()
	ctx := context.Background()
	logs := &syncbuf.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	events := incident.NewLocalEvents()
	svc := incident.NewService(db, events, log)
	page, err := svc.EnsureDefaultPage(ctx, "https://status.example.com")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{owner: t, db: db, svc: svc, events: events, page: page, logs: logs, reg: prometheus.NewRegistry()}
	token := func(role incident.Role) string {
		secret, _, err := svc.CreateToken(ctx, string(role)+" token", role)
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	e.admin, e.manager, e.agent = token(incident.RoleAdmin), token(incident.RoleManager), token(incident.RoleAgent)
	e.revoked = token(incident.RoleAdmin)
	tok, err := svc.Authenticate(ctx, e.revoked)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	e.site = newFakeSite(t, svc, events, page)
	cfg := Config{PublicURL: "https://status.example.com", BodyLimit: 64 << 10}
	for _, o := range opts {
		o(&cfg)
	}
	e.srv = New(cfg, svc, e.site, e.reg, log)
	return e
}

// response is an answer read in full.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// errorOf decodes an error body and fails unless it has the one shape.
func (r response) errorOf(t *testing.T) errorDetail {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error content type %q, body %s", ct, r.body)
	}
	var eb errorBody
	r.json(t, &eb)
	if eb.Error.Code == "" || eb.Error.Message == "" {
		t.Fatalf("error body without code or message: %s", r.body)
	}
	return eb.Error
}

// do sends a request to the server, in memory through app.Test unless
// e.overSocket; token "" sends no Authorization. headers are name, value
// pairs; "Host" sets the request's host. A failure fails t, the caller's
// (sub)test.
func (e *env) do(t *testing.T, method, path, token, body string, headers ...string) response {
	t.Helper()
	base := "http://status.example.com"
	if e.overSocket {
		base = e.base
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "status.example.com"
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "OAuth "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	var resp *http.Response
	if e.overSocket {
		resp, err = e.client.Do(req)
	} else {
		resp, err = e.srv.App().Test(req, -1)
	}
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// mustDo is do that fails t unless the status is want.
func (e *env) mustDo(t *testing.T, want int, method, path, token, body string, headers ...string) response {
	t.Helper()
	r := e.do(t, method, path, token, body, headers...)
	if r.status != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.body)
	}
	return r
}

// useSocket makes do send over a loopback listener, serving first if need be.
func (e *env) useSocket(t *testing.T) {
	t.Helper()
	e.serve(t)
	e.overSocket = true
}

// serve starts e.srv on a loopback listener, unless it serves already,
// until the env's test ends.
func (e *env) serve(t *testing.T) {
	t.Helper()
	if e.base != "" {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.serveOn(t, ln)
}

// serveOn serves e.srv on ln until the env's test ends, then shuts it down.
//
// Shutdown waits for every connection that is not idle, and fasthttp
// counts a connection on which no request has come yet as active (it
// reads the first request with ReadTimeout, 30 s), not as idle. net/http
// clients leave such connections behind: one dialled for a request that
// then took a connection freed meanwhile goes unused into the idle pool
// (golang/go#21204). So before shutting down, every client of the server
// is closed: beforeShutdown (the sandbox's status callbacks, in a bcEnv)
// and e.client's idle connections, after which a dial still under way is
// closed when it completes. Then Shutdown waits only for requests in
// flight, which end.
func (e *env) serveOn(t *testing.T, ln net.Listener) {
	t.Helper()
	srv := e.srv
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	e.base = "http://" + ln.Addr().String()
	e.client = &http.Client{
		Timeout: 10 * time.Second,
		// The tests look at Content-Encoding and bodies as sent.
		Transport:     &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	// Wait until Serve answers: a Shutdown that came before Serve had
	// taken the listener would find nothing to close, and Serve would then
	// accept forever (seen under -count=10 on a loaded machine, in a test
	// that ended within milliseconds).
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := e.client.Get(e.base + "/healthz")
		if err == nil {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server never answered on %s: %v", e.base, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	client, owner := e.client, e.owner
	owner.Cleanup(func() {
		for _, f := range e.beforeShutdown {
			f()
		}
		client.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			owner.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			owner.Errorf("serve: %v", err)
		}
	})
}

// writes counts what a request could have written: audit entries (every
// Service write adds one) and incidents.
func (e *env) writes(t *testing.T) (audit, incidents int) {
	t.Helper()
	ctx := context.Background()
	_, audit, err := e.svc.Audit(ctx, incident.AuditFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, incidents, err = e.svc.Incidents(ctx, incident.IncidentFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	return audit, incidents
}

// fakeSite stands in for statuspage.Site in the public-route tests only
// (until that package's Site builds): it serves fixed assets and, like the
// real one, re-renders summary.json after every event of its page.
type fakeSite struct {
	mu     sync.Mutex
	assets map[string]*statuspage.Asset // by path; lang "hu" adds "?hu"
	page   *incident.Page
	// others are further pages by host (a server with several status
	// pages); Lookup serves none of their assets.
	others map[string]*incident.Page
	ready  bool
	watch  map[chan []byte]struct{}
	render int
}

func newFakeSite(t testing.TB, svc *incident.Service, events incident.Events, page *incident.Page) *fakeSite {
	f := &fakeSite{page: page, ready: true, watch: map[chan []byte]struct{}{}, assets: map[string]*statuspage.Asset{
		"/":                                   htmlAsset(`<!doctype html><html><head><style>body{color:red}</style></head><body><main>ok</main><script>var x=1;</script></body></html>`, `"home-en"`),
		"/?hu":                                htmlAsset(`<!doctype html><html><body>magyar</body></html>`, `"home-hu"`),
		"/api/v2/summary.json":                gzAsset(`{"page":{"id":"`+page.ID+`"},"incidents":[]}`, `"sum1"`, "application/json; charset=utf-8"),
		"/api/v2/status.json":                 gzAsset(`{"status":{"indicator":"none"}}`, `"st1"`, "application/json; charset=utf-8"),
		"/history.rss":                        gzAsset(`<rss version="2.0"></rss>`, `"rss1"`, "application/rss+xml; charset=utf-8"),
		"/history.atom":                       gzAsset(`<feed xmlns="http://www.w3.org/2005/Atom"></feed>`, `"atom1"`, "application/atom+xml; charset=utf-8"),
		"/incidents/abcdef123456":             htmlAsset(`<!doctype html><p>incident</p>`, `"inc1"`),
		"/static/live.js":                     {Body: []byte("1"), ETag: `"js"`, ContentType: "text/javascript"},
		"/api/v2/incidents.json":              gzAsset(`{"incidents":[]}`, `"incs"`, "application/json; charset=utf-8"),
		"/api/v2/components.json":             gzAsset(`{"components":[]}`, `"comps"`, "application/json; charset=utf-8"),
		"/api/v2/scheduled-maintenances.json": gzAsset(`{"scheduled_maintenances":[]}`, `"sm"`, "application/json; charset=utf-8"),
	}}
	ch, cancel := events.Subscribe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			if ev.PageID != page.ID {
				continue
			}
			incs, _, err := svc.Incidents(context.Background(), incident.IncidentFilter{PageID: page.ID, Statuses: openStatuses})
			if err != nil {
				continue
			}
			names := []string{}
			for _, i := range incs {
				names = append(names, i.Name)
			}
			b, _ := json.Marshal(map[string]any{"page": map[string]string{"id": page.ID}, "incidents": names})
			f.mu.Lock()
			f.render++
			for w := range f.watch {
				select {
				case w <- b:
				default:
				}
			}
			f.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

func htmlAsset(body, etag string) *statuspage.Asset {
	return gzAsset(body, etag, "text/html; charset=utf-8")
}

func gzAsset(body, etag, ct string) *statuspage.Asset {
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, _ = w.Write([]byte(body))
	_ = w.Close()
	// As the renderer makes them: the gzip tag computed once.
	return &statuspage.Asset{Body: []byte(body), Gzip: gz.Bytes(), ETag: etag, GzipETag: gzipETag(etag), ContentType: ct}
}

func (f *fakeSite) Lookup(host, path, lang string) (*statuspage.Asset, bool) {
	if host != "status.example.com" && host != "127.0.0.1" {
		return nil, false
	}
	if lang != "" && lang != "en" {
		if a, ok := f.assets[path+"?"+lang]; ok {
			return a, true
		}
	}
	a, ok := f.assets[path]
	return a, ok
}

func (f *fakeSite) PageFor(host string) (*incident.Page, bool) {
	f.mu.Lock()
	other := f.others[host]
	f.mu.Unlock()
	if other != nil {
		return other, true
	}
	if host != "status.example.com" && host != "127.0.0.1" {
		return nil, false
	}
	return f.page, true
}

func (f *fakeSite) Languages(host string) []string {
	if p, ok := f.PageFor(host); ok {
		return p.Languages
	}
	return nil
}

func (f *fakeSite) Watch(pageID string) (<-chan []byte, func()) {
	ch := make(chan []byte, 4)
	f.mu.Lock()
	f.watch[ch] = struct{}{}
	f.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			f.mu.Lock()
			delete(f.watch, ch)
			f.mu.Unlock()
		})
	}
}

func (f *fakeSite) RenderIfOlder(context.Context, string, time.Time) error { return nil }

func (f *fakeSite) Ready() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ready
}

func (f *fakeSite) Current() bool { return true }

func (f *fakeSite) watchers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.watch)
}

var _ Site = (*fakeSite)(nil)
