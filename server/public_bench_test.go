package server

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkServePublic is the status page's hot path inside herald: the
// middleware and the public handler answering `/` and summary.json from
// the rendered site, as a browser asks (gzip), without the network.
//
//	go test -run '^$' -bench ServePublic -benchmem ./server/
func BenchmarkServePublic(b *testing.B) {
	e := newEnv(b)
	h := e.srv.App().Server().Handler // the fast path, as served
	for _, path := range []string{"/", "/api/v2/summary.json"} {
		b.Run(path, func(b *testing.B) {
			var ctx fasthttp.RequestCtx
			ctx.Request.SetRequestURI(path)
			ctx.Request.Header.SetHost("status.example.com")
			ctx.Request.Header.Set("Accept-Encoding", "gzip, deflate, br")
			ctx.Request.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36")
			b.ReportAllocs()
			for b.Loop() {
				ctx.Response.Reset()
				h(&ctx)
				if ctx.Response.StatusCode() != 200 {
					b.Fatalf("status %d", ctx.Response.StatusCode())
				}
			}
		})
	}
}

// TestPublicFastPathAnswersAsTheRouter: every public request answered
// around fiber's router (publicFastPath) gets the same status, headers and
// body as through the router and middleware, and is counted in the
// request metrics under the route's name (TestMetrics); what the fast path does not
// answer (a miss, a query, another method) goes through the router.
func TestPublicFastPathAnswersAsTheRouter(t *testing.T) {
	e := newEnv(t)
	fast := e.srv.App().Server().Handler
	router := e.srv.App().Handler() // fiber's own, no fast path
	type req struct{ method, path, accept, inm string }
	reqs := []req{
		{"GET", "/", "gzip", ""}, {"HEAD", "/", "gzip", ""}, {"GET", "/", "", ""}, {"GET", "/", "gzip", `"home-en-gzip"`},
		{"GET", "/api/v2/summary.json", "gzip", ""}, {"GET", "/api/v2/summary.json", "", `"sum1"`}, {"GET", "/api/v2/status.json/", "", ""},
		{"GET", "/history.rss", "gzip", ""}, {"GET", "/incidents/abcdef123456", "", ""}, {"GET", "/static/live.js", "", ""},
		{"GET", "/incidents/nosuchincident", "", ""}, {"GET", "/api/v2/nothing.json", "", ""}, {"GET", "/?lang=hu", "", ""},
		{"POST", "/", "", ""}, {"GET", "/API/V2/summary.json", "", ""},
	}
	answer := func(h fasthttp.RequestHandler, r req) (int, map[string]string, string) {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(r.method)
		ctx.Request.SetRequestURI(r.path)
		ctx.Request.Header.SetHost("status.example.com")
		if r.accept != "" {
			ctx.Request.Header.Set("Accept-Encoding", r.accept)
		}
		if r.inm != "" {
			ctx.Request.Header.Set("If-None-Match", r.inm)
		}
		h(&ctx)
		hs := map[string]string{}
		ctx.Response.Header.VisitAll(func(k, v []byte) { hs[string(k)] = string(v) })
		return ctx.Response.StatusCode(), hs, string(ctx.Response.Body())
	}
	for _, r := range reqs {
		fs, fh, fb := answer(fast, r)
		rs, rh, rb := answer(router, r)
		if fs != rs || fb != rb || len(fh) != len(rh) {
			t.Errorf("%s %s: fast path %d %v (%d bytes), router %d %v (%d bytes)", r.method, r.path, fs, fh, len(fb), rs, rh, len(rb))
			continue
		}
		for k, v := range rh {
			if fh[k] != v {
				t.Errorf("%s %s: header %s is %q on the fast path, %q through the router", r.method, r.path, k, fh[k], v)
			}
		}
	}
}
