package server

import (
	"bytes"
	"fmt"
	"net/http"
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
		isHead := rc.IsHead()
		if !isHead && !rc.IsGet() {
			next(rc)
			return
		}
		path := requestPath(rc)
		route := fastRouteOf(path)
		if route == noFastRoute {
			next(rc)
			return
		}
		head := readHead(&rc.Request.Header)
		if head.hostProblem(&rc.Request.Header) != "" || !s.answerFast(rc, &head, bytesString(path), route.cors()) {
			next(rc)
			return
		}
		// The clock read when the request's headers were read, as observe.
		s.fastStats(route, isHead, rc.Response.StatusCode()).observe(rc.ConnID(), time.Since(rc.Time()))
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
// answers CORS; "" for any other path.
func publicRoute(p []byte) (route string, cors bool) {
	r := fastRouteOf(p)
	return r.name(), r.cors()
}

// fastRoute is one of servePublic's fiber routes, as fastRouteOf finds
// it from a path; noFastRoute for any other path.
type fastRoute uint8

const (
	noFastRoute fastRoute = iota
	routeRoot
	routeAPIv2
	routeStatic
	routeIncident
	routeHistory
	routeHistoryRSS
	routeHistoryAtom
	fastRoutes // how many there are
)

// fastRouteNames are the fast routes' patterns, as routes.go gives them
// to fiber.
var fastRouteNames = [fastRoutes]string{"", "/", "/api/v2/*", "/static/*", "/incidents/:id", "/history", "/history.rss", "/history.atom"}

func (r fastRoute) name() string { return fastRouteNames[r] }

// cors reports whether r answers CORS: the JSON API and the feeds, which
// browser widgets fetch cross-origin.
func (r fastRoute) cors() bool {
	return r == routeAPIv2 || r == routeHistoryRSS || r == routeHistoryAtom
}

// fastRouteOf matches p exactly: a path that only fiber's routing would
// match (another case, a trailing slash) is left to fiber, which answers
// it as before.
func fastRouteOf(p []byte) fastRoute {
	switch {
	case len(p) == 0:
		return noFastRoute
	case len(p) == 1:
		if p[0] == '/' {
			return routeRoot
		}
		return noFastRoute
	case p[len(p)-1] == '/':
		return noFastRoute
	case bytes.HasPrefix(p, prefixAPIv2):
		return routeAPIv2
	case bytes.HasPrefix(p, prefixStatic):
		return routeStatic
	case bytes.HasPrefix(p, prefixIncidents):
		if bytes.IndexByte(p[len(prefixIncidents):], '/') >= 0 {
			return noFastRoute
		}
		return routeIncident
	}
	switch string(p) {
	case "/history":
		return routeHistory
	case "/history.rss":
		return routeHistoryRSS
	case "/history.atom":
		return routeHistoryAtom
	}
	return noFastRoute
}

// fastStats are the request metrics' figures for an answer on the fast
// path: route r, HEAD or GET, with code. The usual answers (200 and 304)
// have a slot of their own (httpStats.slotted), so that counting them
// hashes no key; any other code is looked up.
func (s *Server) fastStats(r fastRoute, head bool, code int) *keyStats {
	method, slot := fiber.MethodGet, int(r)*4
	if head {
		method, slot = fiber.MethodHead, slot+2
	}
	k := requestKey{fastRouteNames[r], method, code}
	switch code {
	case http.StatusOK:
		return s.metrics.http.slotted(slot, k)
	case http.StatusNotModified:
		return s.metrics.http.slotted(slot+1, k)
	}
	return s.metrics.http.statsFor(k)
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
