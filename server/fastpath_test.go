package server

import (
	"bytes"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestFastPathAnswersAsFiber: every request the status page's fast path
// answers gets the very answer fiber's handler gives it (status, every
// header but Date, cookies, body), and every request it cannot answer
// reaches fiber untouched. Each request is served twice, once through
// fastPublic and once through fiber's handler alone, and the two answers
// are compared byte for byte.
func TestFastPathAnswersAsFiber(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	fiberOnly := e.srv.App().Handler()
	var fell int
	fast := e.srv.fastPublic(func(rc *fasthttp.RequestCtx) { fell++; fiberOnly(rc) })

	gz := []string{"Accept-Encoding", "gzip, deflate, br"}
	with := func(h ...string) []string { return append(append([]string{}, gz...), h...) }
	cases := []struct {
		name, method, uri string
		headers           []string
		peer              string // the socket's other end; 127.0.0.1 when ""
		fast              bool   // the fast path answers it
	}{
		{"the page", "GET", "/", gz, "", true},
		{"the page, identity", "GET", "/", nil, "", true},
		{"the page, HEAD", "HEAD", "/", gz, "", true},
		{"the page, revalidated", "GET", "/", with("If-None-Match", `"home-en-gzip"`), "", true},
		{"the page, a stale tag", "GET", "/", with("If-None-Match", `"old"`), "", true},
		{"the page, ?lang=hu", "GET", "/?lang=hu", gz, "", true},
		{"the page, ?lang=HU with the cookie set", "GET", "/?lang=HU", with("Cookie", langCookie+"=hu"), "", true},
		{"the page, the cookie", "GET", "/", with("Cookie", langCookie+"=hu"), "", true},
		{"the page, Accept-Language", "GET", "/", with("Accept-Language", "hu-HU,hu;q=0.9,en;q=0.5"), "", true},
		{"the page, an unknown ?lang", "GET", "/?lang=xx", gz, "", true},
		{"the page, Host with a port and upper case", "GET", "/", with("Host", "Status.Example.com:8080"), "", true},
		{"the page, Host with a trailing dot", "GET", "/", with("Host", "status.example.com."), "", true},
		{"the page, another host", "GET", "/", with("Host", "other.example.org"), "", false},
		{"the page, an IPv6 Host", "GET", "/", with("Host", "[::1]:8080"), "", false},
		{"the page behind a trusted proxy", "GET", "/", with("Host", "10.0.0.2", "X-Forwarded-Host", "status.example.com"), "10.1.2.3", true},
		{"a forwarded host from an untrusted peer", "GET", "/", with("Host", "127.0.0.1", "X-Forwarded-Host", "other.example.org"), "", true},
		{"summary.json", "GET", "/api/v2/summary.json", gz, "", true},
		{"summary.json, identity", "GET", "/api/v2/summary.json", nil, "", true},
		{"summary.json, revalidated", "GET", "/api/v2/summary.json", with("If-None-Match", `W/"sum1-gzip"`), "", true},
		{"summary.json, the identity tag for the gzip bytes", "GET", "/api/v2/summary.json", with("If-None-Match", `"sum1"`), "", true},
		{"summary.json, HEAD", "HEAD", "/api/v2/summary.json", gz, "", true},
		{"summary.json with a query", "GET", "/api/v2/summary.json?callback=x&lang=hu", gz, "", true},
		{"status.json", "GET", "/api/v2/status.json", gz, "", true},
		{"a JSON document the site lacks", "GET", "/api/v2/nope.json", gz, "", false},
		{"summary.json, upper case", "GET", "/API/V2/summary.json", gz, "", false},
		{"summary.json, a trailing slash", "GET", "/api/v2/summary.json/", gz, "", false},
		{"summary.json, POST", "POST", "/api/v2/summary.json", gz, "", false},
		{"summary.json, OPTIONS", "OPTIONS", "/api/v2/summary.json", with("Origin", "https://a.example", "Access-Control-Request-Method", "GET"), "", false},
		{"the RSS feed", "GET", "/history.rss", gz, "", true},
		{"the Atom feed", "GET", "/history.atom", nil, "", true},
		{"history, not rendered here", "GET", "/history", gz, "", false},
		{"history, a trailing slash", "GET", "/history/", gz, "", false},
		{"an incident", "GET", "/incidents/abcdef123456", gz, "", true},
		{"an incident the site lacks", "GET", "/incidents/zzzzzzzzzzzz", gz, "", false},
		{"below an incident", "GET", "/incidents/abcdef123456/x", gz, "", false},
		{"a static file", "GET", "/static/live.js", gz, "", true},
		{"a static file the site lacks", "GET", "/static/nope.js", gz, "", false},
		{"a path of dots", "GET", "/static/../api/v2/summary.json", gz, "", false},
		{"summary.json by absolute URI", "GET", "http://status.example.com/api/v2/summary.json", gz, "", false},
		{"summary.json, an empty query", "GET", "/api/v2/summary.json?", gz, "", true},
		{"the page, ?lang=hu after another field", "GET", "/?x=%3F&lang=hu", gz, "", true},
		{"an API route", "GET", "/api/v1/pages", gz, "", false},
		{"health", "GET", "/healthz", nil, "", false},
	}
	// What some answers must hold, so that two equally wrong answers fail.
	want := map[string]string{
		"the page, ?lang=hu":                     "Set-Cookie: herald_lang=hu; max-age=31536000; path=/; SameSite=Lax",
		"the page, ?lang=hu after another field": `Etag: "home-hu-gzip"`,
		"the page, revalidated":                  "HTTP/1.1 304",
		"the page, the cookie":                   `Etag: "home-hu-gzip"`,
		"summary.json":                           "Access-Control-Allow-Origin: *",
		"summary.json, revalidated":              "HTTP/1.1 304",
		"a JSON document the site lacks":         "Access-Control-Allow-Origin: *",
		"the page behind a trusted proxy":        `Etag: "home-en-gzip"`,
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			viaFast, viaFiber := request(t, c.method, c.uri, c.peer, c.headers), request(t, c.method, c.uri, c.peer, c.headers)
			fell = 0
			fast(viaFast)
			if answered := fell == 0; answered != c.fast {
				t.Errorf("the fast path answered: %v, want %v (status %d)", answered, c.fast, viaFast.Response.StatusCode())
			}
			fiberOnly(viaFiber)
			a, b := answer(viaFast), answer(viaFiber)
			if a != b {
				t.Errorf("the answers differ\nfast path:\n%s\nfiber:\n%s", a, b)
			}
			if w := want[c.name]; w != "" && !strings.Contains(a, w) {
				t.Errorf("the answer lacks %q:\n%s", w, a)
			}
			if c.fast && viaFast.Response.StatusCode() != 200 && viaFast.Response.StatusCode() != 304 {
				t.Errorf("the fast path answered %d", viaFast.Response.StatusCode())
			}
		})
	}
}

// TestFastPathCountsAsFiber: the request metrics count what the fast
// path answers under the same route, method and status code as fiber's
// observe middleware would: each request below goes to one server through
// the fast path and to another through fiber alone, and the two servers'
// herald_http_requests_total must agree line for line.
func TestFastPathCountsAsFiber(t *testing.T) {
	viaFast, viaFiber := newEnv(t), newEnv(t)
	fast := viaFast.srv.fastPublic(func(rc *fasthttp.RequestCtx) {
		t.Errorf("%s %s left to fiber", rc.Method(), rc.RequestURI())
	})
	fiberOnly := viaFiber.srv.App().Handler()
	gz := []string{"Accept-Encoding", "gzip"}
	sent := 0
	for _, uri := range []string{"/", "/api/v2/summary.json", "/history.rss", "/history.atom", "/static/live.js", "/incidents/abcdef123456"} {
		// An answer, then its revalidation with the tag it gave.
		for _, method := range []string{"GET", "HEAD", "GET"} {
			first := request(t, method, uri, "", gz)
			fast(first)
			etag := string(first.Response.Header.Peek("ETag"))
			fiberOnly(request(t, method, uri, "", gz))
			sent++
			if etag == "" {
				t.Fatalf("%s %s: no ETag", method, uri)
			}
			again := request(t, method, uri, "", append([]string{"If-None-Match", etag}, gz...))
			fast(again)
			if code := again.Response.StatusCode(); code != http.StatusNotModified {
				t.Fatalf("%s %s revalidated: %d", method, uri, code)
			}
			fiberOnly(request(t, method, uri, "", append([]string{"If-None-Match", etag}, gz...)))
			sent++
		}
	}
	counts := func(e *env) string {
		return grepLines(string(e.mustDo(t, http.StatusOK, "GET", "/metrics", "", "").body), "herald_http_requests_total{")
	}
	got, want := counts(viaFast), counts(viaFiber)
	if got != want {
		t.Errorf("the fast path counts\n%s\nfiber counts\n%s", got, want)
	}
	for _, line := range []string{
		`herald_http_requests_total{code="200",method="GET",route="/api/v2/*"} 2`,
		`herald_http_requests_total{code="304",method="HEAD",route="/api/v2/*"} 1`,
		`herald_http_requests_total{code="304",method="GET",route="/incidents/:id"} 2`,
		`herald_http_requests_total{code="200",method="HEAD",route="/static/*"} 1`,
	} {
		if !strings.Contains(got, line) {
			t.Errorf("the counts lack %s (%d requests sent):\n%s", line, sent, got)
		}
	}
}

// request is a request as fasthttp's server hands it to a handler: from
// peer (127.0.0.1 when ""), to status.example.com unless headers name a
// Host.
func request(t *testing.T, method, uri, peer string, headers []string) *fasthttp.RequestCtx {
	t.Helper()
	if peer == "" {
		peer = "127.0.0.1"
	}
	var req fasthttp.Request
	req.Header.SetMethod(method)
	req.SetRequestURI(uri)
	req.Header.SetHost("status.example.com")
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Header.SetHost(headers[i+1])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	rc := new(fasthttp.RequestCtx)
	rc.Init(&req, &net.TCPAddr{IP: net.ParseIP(peer), Port: 40000}, nil)
	return rc
}

// answer is a response as the client reads it, without its Date.
func answer(rc *fasthttp.RequestCtx) string {
	var lines []string
	rc.Response.Header.VisitAll(func(k, v []byte) {
		if !strings.EqualFold(string(k), "Date") {
			lines = append(lines, string(k)+": "+string(v))
		}
	})
	sort.Strings(lines)
	body := rc.Response.Body()
	if rc.IsHead() || rc.Response.StatusCode() == 304 {
		body = nil // never sent
	}
	var b bytes.Buffer
	b.WriteString(rc.Response.Header.String()[:12] + "\n") // "HTTP/1.1 200"
	b.WriteString(strings.Join(lines, "\n") + "\n\n")
	b.Write(body)
	return b.String()
}

// TestAcceptsGzip: the Accept-Encoding values browsers, proxies and
// libraries send, with and without weights.
func TestAcceptsGzip(t *testing.T) {
	for v, want := range map[string]bool{
		"gzip, deflate, br, zstd": true,
		"deflate, gzip":           true,
		"GZIP":                    true,
		" gzip ":                  true,
		"*":                       true,
		"gzip;q=0.5":              true,
		"gzip; q=0":               false,
		"gzip;q=0, *":             false, // named and refused: * is for the others
		"*;q=0":                   false,
		"br, *;q=0.1":             true,
		"identity, *;q=0":         false,
		"identity":                false,
		"br, deflate":             false,
		"x-gzip":                  false,
		"gzipx":                   false,
		"":                        false,
		",,":                      false,
		"gzip;q=abc":              false,
	} {
		if got := acceptsGzip([]byte(v)); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestPublicErrorsSayTheirRoute: a body refused before routing is counted
// as unmatched, not under the status page's "/"; a method the status page
// does not take is refused with the methods it does, and the JSON API's
// and the feeds' errors are readable cross-origin as their answers are.
func TestPublicErrorsSayTheirRoute(t *testing.T) {
	e := newEnv(t)
	e.mustDo(t, http.StatusRequestEntityTooLarge, "GET", "/api/v2/summary.json", "", strings.Repeat("x", 70<<10), "Content-Type", "text/plain")
	m := string(e.mustDo(t, http.StatusOK, "GET", "/metrics", "", "").body)
	if !strings.Contains(m, `herald_http_requests_total{code="413",method="GET",route="unmatched"} 1`) || strings.Contains(m, `code="413",method="GET",route="/"`) {
		t.Errorf("the refused body is not counted as unmatched:\n%s", grepLines(m, "herald_http_requests_total"))
	}
	for _, tc := range []struct{ path, allow, origin string }{
		{"/api/v2/summary.json", "GET, HEAD, OPTIONS", "*"},
		{"/history.rss", "GET, HEAD, OPTIONS", "*"},
		{"/", "GET, HEAD", ""},
		{"/incidents/abcdef123456", "GET, HEAD", ""},
	} {
		r := e.do(t, "POST", tc.path, "", "{}")
		if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != tc.allow || r.header.Get("Access-Control-Allow-Origin") != tc.origin {
			t.Errorf("POST %s: %d, Allow %q, Access-Control-Allow-Origin %q; want 405, %q, %q", tc.path, r.status,
				r.header.Get("Allow"), r.header.Get("Access-Control-Allow-Origin"), tc.allow, tc.origin)
		}
	}
}

// grepLines is the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestSlackPlain: a Slack message's markup, as Slack sends it in every
// command and message, reads as a person wrote it.
func TestSlackPlain(t *testing.T) {
	for in, want := range map[string]string{
		"Card payment failed for <@U0CUST9|bob> again":                  "Card payment failed for @bob again",
		"Hi <@U0AGENT>, see <#C0SUPPORT|support>":                       "Hi @U0AGENT, see #support",
		"see <https://shop.example.com/order/42|order 42> now":          "see order 42 (https://shop.example.com/order/42) now",
		"<https://acme.example/pay>":                                    "https://acme.example/pay",
		"<mailto:bob@example.com|bob@example.com> wrote":                "bob@example.com wrote",
		"<!here> it is down":                                            "@here it is down",
		"<!subteam^S0123|@support> help":                                "@support help",
		"charged twice &amp; &lt;3 times&gt; &amp;lt;":                  "charged twice & <3 times> &lt;",
		"nothing to change: ok <3 > 2":                                  "nothing to change: ok <3 > 2",
		"<!date^1392734382^{date_num}|2014-02-18 6:39 AM PST> it broke": "2014-02-18 6:39 AM PST it broke",
		"ünïcode <https://x.example/é|lien> ✓":                          "ünïcode lien (https://x.example/é) ✓",
	} {
		if got := slackPlain(in); got != want {
			t.Errorf("slackPlain(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHostFromTheRequestLine: the host a request names is its Host
// header, unless the request line carries an absolute URI, whose host
// takes precedence (RFC 9112 3.2.2). hostBytes reads the header in place
// rather than parse the URI for every request, and must still tell the
// two apart.
func TestHostFromTheRequestLine(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name, uri, host, want string
	}{
		{"the Host header", "/api/v2/summary.json", "status.example.com", "status.example.com"},
		{"upper case and a port", "/", "Status.Example.COM:8080", "status.example.com"},
		{"an absolute URI over another Host", "http://status.example.com/api/v2/summary.json", "other.example.org", "status.example.com"},
		{"an absolute https URI with a port", "https://Status.example.com:8443/", "other.example.org", "status.example.com"},
		{"a query naming a URL", "/api/v2/summary.json?next=http://other.example.org/", "status.example.com", "status.example.com"},
		{"a path naming a URL", "/incidents/http://other.example.org/x", "status.example.com", "status.example.com"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := request(t, "GET", c.uri, "", []string{"Host", c.host})
			if got := e.srv.hostIn(rc); got != c.want {
				t.Errorf("host %q, want %q", got, c.want)
			}
		})
	}
}
