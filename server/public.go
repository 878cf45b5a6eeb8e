package server

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/statuspage"
)

// baseCSP is the policy for HTML without inline script or style.
const baseCSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'"

// setHTMLSecurityHeaders sets the headers every HTML answer carries; csp
// is the page's policy (baseCSP when it has no inline code).
func setHTMLSecurityHeaders(h *fasthttp.ResponseHeader, csp ...string) {
	setHeader(h, nameXContentTypeOptions, "nosniff")
	setHeader(h, nameReferrerPolicy, "strict-origin-when-cross-origin")
	policy := baseCSP
	if len(csp) > 0 && csp[0] != "" {
		policy = csp[0]
	}
	setHeader(h, nameCSP, policy)
}

// Header names as fasthttp writes them (canonical form), for setHeader.
var (
	nameXContentTypeOptions = canonicalName(fiber.HeaderXContentTypeOptions)
	nameReferrerPolicy      = canonicalName(fiber.HeaderReferrerPolicy)
	nameCSP                 = canonicalName(fiber.HeaderContentSecurityPolicy)
	nameCacheControl        = canonicalName(fiber.HeaderCacheControl)
	nameVary                = canonicalName(fiber.HeaderVary)
	nameETag                = canonicalName(fiber.HeaderETag)
	nameAllowOrigin         = canonicalName(fiber.HeaderAccessControlAllowOrigin)
)

// canonicalName is name in the form fasthttp's Set gives it ("ETag" is
// "Etag"), so that Peek and a later Set find what setHeader set.
func canonicalName(name string) []byte {
	var h fasthttp.ResponseHeader
	h.Set(name, "x")
	var out []byte
	h.VisitAll(func(k, _ []byte) { out = append([]byte(nil), k...) })
	return out
}

// setHeader sets a response header that is not one of fasthttp's own
// (Content-Type, Content-Encoding, Content-Length, Date, Server,
// Connection, Set-Cookie: those have setters) from a canonical name and
// a value herald made, which holds no line break. fasthttp's Set copies,
// normalises and scans both on every call, a third of the status page's
// header work; SetCanonical copies the value and nothing else. The value
// is passed without a copy: fasthttp only reads it.
func setHeader(h *fasthttp.ResponseHeader, name []byte, value string) {
	h.SetCanonical(name, unsafe.Slice(unsafe.StringData(value), len(value)))
}

// cspCache holds the policy computed for each rendered HTML asset, by
// ETag. Every HTML request reads it, from every connection at once: the
// reads take no lock (a sync.Map), and n only bounds its growth.
type cspCache struct {
	mu sync.Mutex // held to add, never to read
	m  sync.Map   // ETag → policy
	n  int
}

// policyFor returns a Content-Security-Policy that allows exactly the
// page's own inline <script> and <style> blocks by their SHA-256 hashes.
// The status page inlines its stylesheet and its live-update script (whose
// text varies by language), and is rendered in advance, so per-request
// nonces are impossible; hashes keep 'unsafe-inline' out.
func (cc *cspCache) policyFor(a *statuspage.Asset) string {
	if a.ETag == "" {
		return inlinePolicy(a.Body)
	}
	if p, ok := cc.m.Load(a.ETag); ok {
		return p.(string)
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if p, ok := cc.m.Load(a.ETag); ok {
		return p.(string)
	}
	if cc.n > 4096 { // old renders: start over rather than grow
		cc.m.Clear()
		cc.n = 0
	}
	p := inlinePolicy(a.Body)
	cc.m.Store(a.ETag, p)
	cc.n++
	return p
}

func inlinePolicy(body []byte) string {
	scripts, styles := inlineHashes(body, "script"), inlineHashes(body, "style")
	if len(scripts) == 0 && len(styles) == 0 {
		return baseCSP
	}
	return "default-src 'none'; style-src 'self'" + styles + "; script-src 'self'" + scripts +
		"; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'"
}

// inlineHashes returns " 'sha256-…'" for each inline <tag> block (scripts
// with a src attribute are not inline).
func inlineHashes(body []byte, tag string) string {
	var out strings.Builder
	open, closing := []byte("<"+tag), []byte("</"+tag+">")
	for rest := body; ; {
		i := bytes.Index(rest, open)
		if i < 0 {
			break
		}
		rest = rest[i+len(open):]
		if len(rest) == 0 || (rest[0] != '>' && rest[0] != ' ' && rest[0] != '\t' && rest[0] != '\n') {
			continue // e.g. <scripts>
		}
		end := bytes.IndexByte(rest, '>')
		if end < 0 {
			break
		}
		attrs := rest[:end]
		rest = rest[end+1:]
		stop := bytes.Index(rest, closing)
		if stop < 0 {
			break
		}
		if !bytes.Contains(attrs, []byte("src=")) {
			sum := sha256.Sum256(rest[:stop])
			out.WriteString(" 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'")
		}
		rest = rest[stop+len(closing):]
	}
	return out.String()
}

// hostOf returns the request's host name (requestHost), lower-cased and
// without port.
func (s *Server) hostOf(c *fiber.Ctx) string { return s.hostIn(c.Context()) }

// hostIn is hostOf for a request outside fiber (fastpath.go).
func (s *Server) hostIn(rc *fasthttp.RequestCtx) string {
	var h string
	if len(s.proxies) > 0 && s.trustedPeer(rc) {
		h = s.requestHostIn(rc)
	} else {
		// The Host header itself (fiber's c.Hostname would copy it and
		// format the peer's address for its own proxy check).
		b := hostBytes(rc)
		if i := bytes.IndexByte(b, ':'); i < 0 || bytes.LastIndexByte(b, ':') == i && b[0] != '[' {
			if i >= 0 {
				b = b[:i] // name:port
			}
			return s.hostName(b)
		}
		h = string(b) // an IPv6 address
	}
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.ToLower(strings.TrimSuffix(strings.Trim(h, "[]"), "."))
}

// hostName is a Host header's name, lower-cased and without a trailing
// dot. A name that is already so is kept and handed out again while the
// next requests name the same (lastHost): comparing bytes costs less than
// a string for every request.
func (s *Server) hostName(b []byte) string {
	if p := s.lastHost.Load(); p != nil && *p == string(b) {
		return *p
	}
	h := strings.ToLower(strings.TrimSuffix(string(b), "."))
	if h == string(b) {
		s.lastHost.Store(&h)
	}
	return h
}

// servePublic answers a public GET or HEAD from the pre-rendered site: no
// store query. cors adds Access-Control-Allow-Origin: * (the JSON API and
// feeds, which browser widgets fetch cross-origin), to errors too. Most
// such requests never reach it: fastPublic answers them before fiber's
// router (fastpath.go), with the same answerAsset; this handler answers
// what that path leaves to it, such as a miss that catchUp may still
// find, and everything the server's fiber handler is given directly.
func (s *Server) servePublic(cors bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		rc := c.Context()
		if cors {
			setHeader(&rc.Response.Header, nameAllowOrigin, "*")
		}
		path := c.Path()
		if len(path) > 1 {
			path = strings.TrimSuffix(path, "/")
		}
		host, head := s.hostIn(rc), readHead(&rc.Request.Header)
		a, ok := s.site.Lookup(host, path, s.languageFrom(rc, &head, host))
		if !ok {
			if a, ok = s.catchUp(c, host, path); !ok {
				return incident.Errorf(incident.ENOTFOUND, "no such page")
			}
		}
		s.answerAsset(rc, &head, a, path, cors)
		return nil
	}
}

// answerAsset answers a public asset found at path: its headers (security,
// caching, Vary, ETag), 304 to a matching If-None-Match, else 200 with the
// gzip or the identity body. fasthttp sends the headers and
// Content-Length but no body for HEAD.
func (s *Server) answerAsset(rc *fasthttp.RequestCtx, head *requestHead, a *statuspage.Asset, path string, cors bool) {
	rh := &rc.Response.Header
	if cors {
		setHeader(rh, nameAllowOrigin, "*")
	}
	ct := a.ContentType
	if ct == "" {
		ct = fiber.MIMEOctetStream
	}
	isHTML := strings.HasPrefix(ct, "text/html")
	if isHTML {
		setHTMLSecurityHeaders(rh, s.csp.policyFor(a))
	} else {
		setHeader(rh, nameXContentTypeOptions, "nosniff")
	}
	rh.SetContentType(ct)
	setHeader(rh, nameCacheControl, s.cacheControl(ct, path))
	if isHTML || a.VariesByLanguage {
		// A JSON document or feed varies too once an update has texts
		// per language (statuspage.Asset.VariesByLanguage).
		setHeader(rh, nameVary, "Accept-Encoding, Accept-Language, Cookie")
	} else {
		setHeader(rh, nameVary, "Accept-Encoding")
	}

	gz := len(a.Gzip) > 0 && acceptsGzip(head.acceptEncoding)
	if etag := a.ETag; etag != "" {
		if gz {
			if etag = a.GzipETag; etag == "" {
				etag = gzipETag(a.ETag)
			}
		}
		setHeader(rh, nameETag, etag)
		if inm := head.ifNoneMatch; len(inm) > 0 && etagMatches(string(inm), etag) {
			rc.SetStatusCode(http.StatusNotModified)
			return
		}
	}
	body := a.Body
	if gz {
		rh.SetContentEncoding("gzip")
		body = a.Gzip
	}
	rc.SetStatusCode(http.StatusOK)
	rc.Response.SetBodyRaw(body) // the asset's bytes are never changed
}

// catchUp answers a miss for an incident's page that the store has: a
// message's link followed a moment after the declaration can be ahead of
// the render the declaration started, and a link in a message must not
// answer 404. The page is rendered now, unless a render that began after
// the incident's last change has already run (so unknown IDs cost one
// store read, and a known incident at most one render). Only then is the
// asset looked up again.
func (s *Server) catchUp(c *fiber.Ctx, host, path string) (*statuspage.Asset, bool) {
	id, ok := strings.CutPrefix(path, "/incidents/")
	if !ok || !incident.ValidID(id) {
		return nil, false
	}
	page, ok := s.site.PageFor(host)
	if !ok {
		return nil, false
	}
	inc, err := s.svc.Incident(c.UserContext(), page.ID, id)
	if err != nil {
		return nil, false
	}
	if err := s.site.RenderIfOlder(c.UserContext(), page.ID, inc.UpdatedAt); err != nil {
		s.log.Warn("statuspage: render on a miss", "page_id", page.ID, "incident_id", id, "err", err)
		return nil, false
	}
	return s.site.Lookup(host, path, s.languageIn(c.Context(), host))
}

// cacheControl is the Cache-Control of a public asset: one of three
// values, built once (the status page's hot path allocates nothing for it).
func (s *Server) cacheControl(ct, path string) string {
	s.cacheControlOnce.Do(func() {
		for i, d := range []time.Duration{s.cfg.HTMLMaxAge, s.cfg.FeedMaxAge, 5 * time.Minute} {
			s.cacheControls[i] = "public, max-age=" + strconv.Itoa(int(d.Seconds()))
		}
	})
	switch d := s.maxAge(ct, path); d {
	case s.cfg.HTMLMaxAge:
		return s.cacheControls[0]
	case s.cfg.FeedMaxAge:
		return s.cacheControls[1]
	case 5 * time.Minute:
		return s.cacheControls[2]
	default:
		return "public, max-age=" + strconv.Itoa(int(d.Seconds()))
	}
}

func (s *Server) maxAge(ct, path string) time.Duration {
	switch {
	case strings.HasPrefix(ct, "text/html"), strings.HasPrefix(ct, "application/json"):
		return s.cfg.HTMLMaxAge
	case strings.HasSuffix(path, ".rss"), strings.HasSuffix(path, ".atom"), strings.Contains(ct, "xml"):
		return s.cfg.FeedMaxAge
	}
	return 5 * time.Minute // static assets
}

// gzipETag marks the gzip representation's tag apart from the identity
// one's, as a strong ETag must name one exact sequence of bytes.
func gzipETag(tag string) string {
	if strings.HasSuffix(tag, `"`) {
		return tag[:len(tag)-1] + `-gzip"`
	}
	return tag + "-gzip"
}

// etagMatches implements If-None-Match's weak comparison (RFC 9110
// 13.1.2) against tag, the tag of the representation being sent: the
// gzip and the identity bytes have tags of their own, and a cache holding
// one must not be told its copy is current for a client the other suits.
func etagMatches(header, tag string) bool {
	if header == "" {
		return false
	}
	if strings.TrimSpace(header) == "*" {
		return true
	}
	want := strings.TrimPrefix(tag, "W/")
	for _, t := range strings.Split(header, ",") {
		if strings.TrimPrefix(strings.TrimSpace(t), "W/") == want {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding value allows gzip: named
// with a non-zero q, or not named and allowed by * (RFC 9110 12.5.3: an
// explicit "gzip;q=0" refuses it whatever * says). A malformed weight
// counts as 0.
func acceptsGzip(hb []byte) bool {
	gzipQ, starQ := -1.0, -1.0
	for len(hb) > 0 {
		var part []byte
		part, hb, _ = bytes.Cut(hb, []byte(","))
		var name string
		q := 1.0
		if bytes.IndexByte(part, ';') < 0 {
			// No parameters, so no weight: what browsers send. Only a
			// weighted entry needs parseQ.
			part = bytes.TrimSpace(part)
			if bytes.EqualFold(part, []byte("gzip")) {
				return true
			}
			name = string(part) // short: converted on the stack
		} else {
			name, q = parseQ(string(part))
		}
		switch name {
		case "gzip":
			gzipQ = max(q, 0)
		case "*":
			starQ = max(q, 0)
		}
	}
	return gzipQ > 0 || (gzipQ < 0 && starQ > 0)
}

// parseQ splits "name;q=0.5" into the lower-case name and its weight (1
// when absent, -1 when malformed).
func parseQ(part string) (string, float64) {
	name, params, _ := strings.Cut(part, ";")
	name = strings.ToLower(strings.TrimSpace(name)) // allocates only for upper case
	q := 1.0
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 || f > 1 {
			return name, -1
		}
		q = f
	}
	return name, q
}

// requestLanguage is pickLanguage for the page this host serves; a
// language chosen with ?lang= is remembered (rememberLanguage).
func (s *Server) requestLanguage(c *fiber.Ctx) string {
	rc := c.Context()
	return s.languageIn(rc, s.hostIn(rc))
}

// languageIn is requestLanguage for a host already known. It reads the
// request's query, cookie and header bytes in place (no copies, as the
// Immutable app's c.Query and c.Cookies make), so the status page's hot
// path spends nothing on a request that names no language.
func (s *Server) languageIn(rc *fasthttp.RequestCtx, host string) string {
	head := readHead(&rc.Request.Header)
	return s.languageFrom(rc, &head, host)
}

// languageFrom is languageIn with the request's header lines read.
func (s *Server) languageFrom(rc *fasthttp.RequestCtx, head *requestHead, host string) string {
	l, chosen := chooseLanguageFrom(rc, head, pageLanguages{s.site, host})
	if chosen {
		rememberLanguage(rc, l)
	}
	return l
}

// pageLanguages is the language list chooseLanguage picks from: that of
// the page site serves on host, herald's languages when there is none.
// It is asked only when the request names a language: most status page
// requests (widgets, monitors, feeds) name none, and each asking is a
// lookup of the host's page.
type pageLanguages struct {
	site Site // nil: herald's languages
	host string
}

func (p pageLanguages) list() []string {
	var have []string
	if p.site != nil {
		have = p.site.Languages(p.host)
	}
	if len(have) == 0 {
		have = incident.Languages
	}
	return have
}

// chooseLanguage picks the language to serve among langs: ?lang= when
// langs has it (chosen reports that), else the language the visitor chose
// before (langCookie), else the best Accept-Language match, else "" (the
// page's default). It reads the request's query, cookie and header bytes
// in place.
func chooseLanguage(rc *fasthttp.RequestCtx, langs pageLanguages) (lang string, chosen bool) {
	head := readHead(&rc.Request.Header)
	return chooseLanguageFrom(rc, &head, langs)
}

// chooseLanguageFrom is chooseLanguage with the request's header lines
// read; the cookies are parsed only when there is a Cookie line.
func chooseLanguageFrom(rc *fasthttp.RequestCtx, head *requestHead, langs pageLanguages) (lang string, chosen bool) {
	var have []string
	// The query is parsed only when the request has one: QueryArgs parses
	// the whole URI first.
	if bytes.IndexByte(rc.Request.Header.RequestURI(), '?') >= 0 {
		if q := rc.QueryArgs().Peek("lang"); len(q) > 0 {
			have = langs.list()
			if l := oneOf(have, q); l != "" {
				return l, true
			}
		}
	}
	if ck := requestCookie(rc, head); len(ck) > 0 {
		if have == nil {
			have = langs.list()
		}
		if l := oneOf(have, ck); l != "" {
			return l, false
		}
	}
	if al := head.acceptLanguage; len(al) > 0 {
		if have == nil {
			have = langs.list()
		}
		return matchLanguage(string(al), have), false
	}
	return "", false
}

// oneOf returns the entry of have that b names, ignoring case, or "". A
// tag with a region or script ("hu-HU", "pt_BR", as a link built from a
// browser's locale carries it) names its language when have lacks the
// tag itself.
func oneOf(have []string, b []byte) string {
	for _, v := range have {
		if len(v) == len(b) && strings.EqualFold(v, string(b)) {
			return v
		}
	}
	if i := bytes.IndexAny(b, "-_"); i > 0 {
		return oneOf(have, b[:i])
	}
	return ""
}

// requestCookie is the request's langCookie, parsed from its Cookie lines
// only when it has one (fasthttp parses them all when asked for any).
func requestCookie(rc *fasthttp.RequestCtx, head *requestHead) []byte {
	if !head.cookie {
		return nil
	}
	return rc.Request.Header.Cookie(langCookie)
}

// langCookie keeps the language a visitor chose (?lang=) for the pages
// they reach without it: a bookmark, a typed address, a link from outside.
const langCookie = "herald_lang"

// pickLanguage is chooseLanguage among all of herald's languages, for the
// pages that belong to no status page's language list (forms, surveys,
// reports).
func pickLanguage(c *fiber.Ctx) string {
	l, _ := chooseLanguage(c.Context(), pageLanguages{})
	return l
}

// rememberLanguage sets langCookie to l, the language the request chose
// with ?lang=, when it differs from the one remembered. The cookie is a
// preference, not a credential: readable by the page, lax, for a year;
// secure on a TLS connection (fiber's c.Protocol, which believes no
// proxy's X-Forwarded-Proto in herald's configuration).
func rememberLanguage(rc *fasthttp.RequestCtx, l string) {
	if string(rc.Request.Header.Cookie(langCookie)) == l {
		return
	}
	if p := rc.URI().PathOriginal(); bytes.HasPrefix(p, []byte("/api/")) || bytes.HasPrefix(p, []byte("/static/")) || bytes.HasPrefix(p, []byte("/history.")) {
		return // documents for programs: no visitor chose a language there
	}
	ck := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(ck)
	ck.SetKey(langCookie)
	ck.SetValue(l)
	ck.SetPath("/")
	ck.SetMaxAge(365 * 24 * 3600)
	ck.SetSameSite(fasthttp.CookieSameSiteLaxMode)
	ck.SetSecure(rc.IsTLS())
	rc.Response.Header.SetCookie(ck)
}

// matchLanguage returns the supported language with the highest q in an
// Accept-Language value, comparing primary subtags ("hu-HU" is hu); ties go
// to the earlier entry. It returns "" when nothing matches.
func matchLanguage(header string, have []string) string {
	type cand struct {
		lang string
		q    float64
		i    int
	}
	var cands []cand
	for i, part := range strings.Split(header, ",") {
		tag, q := parseQ(part)
		if q <= 0 || tag == "" {
			continue
		}
		primary, _, _ := strings.Cut(tag, "-")
		if primary == "*" && len(have) > 0 {
			cands = append(cands, cand{"", q, i}) // anything: the page's default
			continue
		}
		if contains(have, primary) {
			cands = append(cands, cand{primary, q, i})
		}
	}
	sort.SliceStable(cands, func(a, b int) bool { return cands[a].q > cands[b].q })
	if len(cands) == 0 {
		return ""
	}
	return cands[0].lang
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// preflight answers a CORS preflight for the public JSON and feeds.
func preflight(c *fiber.Ctx) error {
	c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
	c.Set(fiber.HeaderAccessControlAllowMethods, "GET, HEAD, OPTIONS")
	if h := c.Get(fiber.HeaderAccessControlRequestHeaders); h != "" {
		c.Set(fiber.HeaderAccessControlAllowHeaders, h)
	}
	c.Set(fiber.HeaderAccessControlMaxAge, "86400")
	return c.SendStatus(http.StatusNoContent)
}

// shortLink redirects /i/:id, the link SMS messages carry, to the incident
// page; /i/:id/:lang (what an SMS carries, notify/render.ShortLangURL) and
// /i/:id?lang= open it in that language. A language herald does not know
// is left out: the incident opens all the same.
func shortLink(c *fiber.Ctx) error {
	id := c.Params("id")
	if !incident.ValidID(id) {
		return incident.NotFound("incident", id)
	}
	to := "/incidents/" + id
	l := c.Params("lang")
	if l == "" {
		l = c.Query("lang")
	}
	if l != "" && contains(incident.Languages, strings.ToLower(l)) {
		to += "?lang=" + strings.ToLower(l)
	}
	return c.Redirect(to, http.StatusFound)
}

// events streams the host's page as server-sent events: the current summary
// at once, then an "update" event with the new summary.json after every
// render, and a comment every HeartbeatInterval so proxies keep the stream
// open. A client that closes the stream is noticed at once (watchClose); one
// that vanishes without closing, when a heartbeat's write fails. Streams are
// capped per client and in all (streamLimits): over a cap the answer is 429
// or 503 with a JSON error, which an EventSource does not retry.
func (s *Server) events() fiber.Handler {
	return func(c *fiber.Ctx) error {
		host := s.hostOf(c)
		page, ok := s.site.PageFor(host)
		if !ok {
			return incident.Errorf(incident.ENOTFOUND, "no status page on this host")
		}
		if c.Method() != fiber.MethodHead { // HEAD is a probe: headers only, no stream
			release, err := s.streams.acquire(c, s.client(c))
			if err != nil {
				return err
			}
			s.startEvents(c, host, page.ID, release)
		}
		c.Set(fiber.HeaderContentType, "text/event-stream; charset=utf-8")
		c.Set(fiber.HeaderCacheControl, "no-cache")
		c.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
		c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
		c.Status(http.StatusOK)
		return nil
	}
}

// startEvents sets the response's body to the page's event stream, whose
// writer runs from now on and calls release when the stream ends.
func (s *Server) startEvents(c *fiber.Ctx, host, pageID string, release func()) {
	var initial []byte
	if a, ok := s.site.Lookup(host, "/api/v2/summary.json", ""); ok {
		initial = a.Body
	}
	updates, cancel := s.site.Watch(pageID)
	heartbeat, done, log, lost := s.cfg.HeartbeatInterval, s.done, s.log, s.lostLink()
	gone := watchClose(c)
	wrote := s.keepWriting(c, heartbeat)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer release()
		defer cancel()
		_, _ = w.WriteString("retry: 5000\n\n")
		if initial != nil {
			writeEvent(w, "update", initial)
		}
		if w.Flush() != nil {
			return
		}
		wrote()
		t := time.NewTicker(heartbeat)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-gone:
				log.Debug("events client gone", "page_id", pageID)
				return
			case <-lost:
				// The event subscription is down: this node hears no
				// change. The client reconnects after the retry hint,
				// through the load balancer, to a node that does.
				return
			case b, ok := <-updates:
				if !ok {
					return
				}
				writeEvent(w, "update", b)
			case <-t.C:
				_, _ = w.WriteString(": heartbeat\n\n")
			}
			if err := w.Flush(); err != nil {
				log.Debug("events client gone", "page_id", pageID, "err", err)
				return
			}
			wrote()
		}
	})
}

// writeEvent writes one SSE event; a payload line break starts a new data line.
func writeEvent(w *bufio.Writer, name string, data []byte) {
	_, _ = w.WriteString("event: " + name + "\n")
	for _, line := range bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n")) {
		_, _ = w.WriteString("data: ")
		_, _ = w.Write(line)
		_ = w.WriteByte('\n')
	}
	_ = w.WriteByte('\n')
}
