package server

import (
	"bytes"
	"fmt"
	"runtime/debug"
	"time"
	"unsafe"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// The status page's fast path.
//
// During an outage nearly every request is a GET of the rendered page or
// of /api/v2/summary.json, from browsers, widgets and monitors polling
// them. fiber spends on each what herald does not need there: a context
// from its pool, the Immutable copies of the method and three forms of
// the path, and a walk of its route stack to the observe middleware and
// on to the route (herald-bench statuspage: about a twentieth of the
// throughput on summary.json). fastPublic answers those requests before
// fiber sees them, with what servePublic uses (hostIn, languageIn,
// Site.Lookup, answerAsset), and counts them in the same request metrics
// under the route fiber would have matched. Anything else, and every
// request it cannot answer from the site (a miss that catchUp might find,
// a 404, a body to read), goes to fiber untouched, so errors, limits and
// the rest of the middleware stay in one place. TestFastPathAnswersAsFiber
// holds the two answers to the same bytes.

// fastPublic wraps next, fiber's handler, with the fast path.
func (s *Server) fastPublic(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(rc *fasthttp.RequestCtx) {
		if s.site == nil || rc.Request.IsBodyStream() {
			next(rc)
			return
		}
		var method string
		switch {
		case rc.IsGet():
			method = fiber.MethodGet
		case rc.IsHead():
			method = fiber.MethodHead
		default:
			next(rc)
			return
		}
		path := requestPath(rc)
		route, cors := publicRoute(path)
		if route == "" {
			next(rc)
			return
		}
		head := readHead(&rc.Request.Header)
		if head.hostProblem(&rc.Request.Header) != "" || !s.answerFast(rc, &head, bytesString(path), cors) {
			next(rc)
			return
		}
		// The clock read when the request's headers were read, as observe.
		s.metrics.http.observe(route, method, rc.Response.StatusCode(), rc.ConnID(), time.Since(rc.Time()))
	}
}

// answerFast answers a public asset the site has at path, and reports
// whether it did. path aliases the request's buffer: nothing here keeps
// it. A panic leaves the answer to fiber (it would panic again there, and
// protect answers 500), after logging it: fasthttp itself recovers none.
func (s *Server) answerFast(rc *fasthttp.RequestCtx, head *requestHead, path string, cors bool) (answered bool) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in the status page's fast path", "path", string(path), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			rc.Response.Reset()
			answered = false
		}
	}()
	host := s.hostIn(rc)
	a, ok := s.site.Lookup(host, path, s.languageFrom(rc, head, host))
	if !ok {
		return false
	}
	s.answerAsset(rc, head, a, path, cors)
	return true
}

// requestPath is the request's path as sent, before any query, read from
// the request line in place: rc.URI() would parse, copy, decode and
// normalise the whole URI first. (A CPU profile under herald-bench
// statuspage put 0.4 s of the fast path's 2.8 s there; but
// BenchmarkServePublicWire measured 750 ns a request before and after,
// so the gain is within noise.) nil when the request line is no plain
// path (an absolute URI, an asterisk), which publicRoute leaves to fiber.
func requestPath(rc *fasthttp.RequestCtx) []byte {
	raw := rc.Request.Header.RequestURI()
	if len(raw) == 0 || raw[0] != '/' {
		return nil
	}
	if i := bytes.IndexByte(raw, '?'); i >= 0 {
		raw = raw[:i]
	}
	return raw
}

// publicRoute is the fiber route (routes.go) that would give path to
// servePublic, as the request metrics name it, and whether that route
// answers CORS; "" for any other path. It matches exactly: a path that
// only fiber's routing would match (another case, a trailing slash) is
// left to fiber, which answers it as before.
func publicRoute(p []byte) (route string, cors bool) {
	switch {
	case len(p) == 0:
		return "", false
	case len(p) == 1:
		if p[0] == '/' {
			return "/", false
		}
		return "", false
	case p[len(p)-1] == '/':
		return "", false
	case bytes.HasPrefix(p, prefixAPIv2):
		return "/api/v2/*", true
	case bytes.HasPrefix(p, prefixStatic):
		return "/static/*", false
	case bytes.HasPrefix(p, prefixIncidents):
		if bytes.IndexByte(p[len(prefixIncidents):], '/') >= 0 {
			return "", false
		}
		return "/incidents/:id", false
	}
	switch string(p) {
	case "/history":
		return "/history", false
	case "/history.rss":
		return "/history.rss", true
	case "/history.atom":
		return "/history.atom", true
	}
	return "", false
}

var (
	prefixAPIv2     = []byte("/api/v2/")
	prefixStatic    = []byte("/static/")
	prefixIncidents = []byte("/incidents/")
)

// bytesString is b as a string without a copy, valid while b is.
func bytesString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
