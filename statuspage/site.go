package statuspage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/klauspost/compress/gzip"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/incident"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/text/language"
)

// Options configures a Site.
type Options struct {
	// Registerer, when set, gets the render metrics:
	// herald_statuspage_renders_total{page} and
	// herald_statuspage_render_duration_seconds.
	Registerer prometheus.Registerer
	Log        *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Asset is one pre-rendered response: the body, its gzip, a strong ETag
// and the Content-Type. Assets are immutable once published.
type Asset struct {
	Body        []byte
	Gzip        []byte // gzip of Body, computed at render
	ETag        string // strong, quoted, from a hash of Body
	GzipETag    string // the gzip representation's strong tag (ETag with -gzip)
	ContentType string
	// VariesByLanguage marks a JSON document or feed that has variants in
	// other languages (the operator's texts per language): its answers
	// must say Vary: Accept-Language, Cookie. HTML always varies.
	VariesByLanguage bool
}

// Content types of the assets.
const (
	typeJSON = "application/json; charset=utf-8"
	typeHTML = "text/html; charset=utf-8"
	typeRSS  = "application/rss+xml; charset=utf-8"
	typeJS   = "text/javascript; charset=utf-8"
	typeAtom = "application/atom+xml; charset=utf-8"
)

// fullRenderEvery re-renders every page so that uptime bars and the
// "upcoming" state follow the clock without any event.
const fullRenderEvery = time.Minute

// Site is the public status site of every page, rendered in advance.
// Each page's responses live in an immutable snapshot; a render builds a
// new one and swaps it in, so Lookup never touches the store and never
// waits for a render.
type Site struct {
	svc    *incident.Service
	events incident.Events
	log    *slog.Logger
	now    func() time.Time

	state atomic.Pointer[siteState]
	ready atomic.Bool
	// caughtUp is the incident.LinkState.Resyncs the pages were last
	// re-read in full after (Current); link is events as incident.Linked,
	// nil on a bus that cannot lose events from other nodes.
	caughtUp atomic.Uint64
	link     incident.Linked

	renderMu sync.Mutex // one render at a time; readers never take it
	// begun holds when each page's latest render began (under renderMu).
	begun map[string]time.Time

	watchMu  sync.Mutex
	watchers map[string]map[chan []byte]struct{}

	renders  *prometheus.CounterVec
	duration prometheus.Histogram
}

// siteState is every page's snapshot plus how hosts find them; replaced
// whole on every render.
type siteState struct {
	order []string // page IDs, oldest page first: order[0] is the default page
	pages map[string]*snapshot
	hosts map[string]string // lower-case host → page ID
}

// snapshot is one page's rendered site.
type snapshot struct {
	page    *incident.Page
	created time.Time
	langs   []string // the page's languages that herald has text for
	matcher language.Matcher
	shared  map[string]*Asset            // path → JSON and feeds
	html    map[string]map[string]*Asset // language → path → HTML
	summary []byte
	// langShared holds the JSON and feeds in a language whose texts differ
	// from the default's (language → path), only where they differ; a
	// reader of another language, or of none, gets shared.
	langShared map[string]map[string]*Asset
	// incKeys records, per language and incident page (and /history), what the page was
	// rendered from, so an unchanged incident is not rendered again.
	incKeys map[string]string
	// rows caches the component list's rows by language and component ID.
	rows map[string]renderedRow
}

// New returns a Site that renders the pages of svc and listens to events
// (which may be nil: then only the periodic render refreshes it).
func New(svc *incident.Service, events incident.Events, opts Options) *Site {
	s := &Site{svc: svc, events: events, log: opts.Log, now: opts.Now, watchers: map[string]map[chan []byte]struct{}{}}
	s.link, _ = events.(incident.Linked)
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.renders = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "herald", Subsystem: "statuspage", Name: "renders_total",
		Help: "Status page renders, by page."}, []string{"page"})
	s.duration = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "herald", Subsystem: "statuspage", Name: "render_duration_seconds",
		Help:    "Time to render one page: queries, JSON, feeds and HTML in every language.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}})
	if r := opts.Registerer; r != nil {
		s.renders = register(r, s.renders).(*prometheus.CounterVec)
		s.duration = register(r, s.duration).(prometheus.Histogram)
	}
	s.state.Store(&siteState{pages: map[string]*snapshot{}, hosts: map[string]string{}})
	return s
}

// register registers c, or returns the collector already registered under
// its name (a second Site in one process, as in tests).
func register(r prometheus.Registerer, c prometheus.Collector) prometheus.Collector {
	if err := r.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			return are.ExistingCollector
		}
	}
	return c
}

// Ready reports whether every page has been rendered once.
func (s *Site) Ready() bool { return s.ready.Load() }

// Current reports whether every page has been re-read since this node's
// event subscription last came back after an outage: until then the
// pages may miss what other nodes changed meanwhile. Always true on a bus
// that links no nodes. It is cheap (no store, no lock).
func (s *Site) Current() bool {
	return s.link == nil || s.caughtUp.Load() >= s.link.Link().Resyncs
}

// resyncs is how many times the event subscription has come back, read
// before a full re-read so the re-read covers them.
func (s *Site) resyncs() uint64 {
	if s.link == nil {
		return 0
	}
	return s.link.Link().Resyncs
}

// caughtUpWith records a full re-read that began after gen returns.
func (s *Site) caughtUpWith(gen uint64) {
	for {
		old := s.caughtUp.Load()
		if gen <= old || s.caughtUp.CompareAndSwap(old, gen) {
			return
		}
	}
}

// Run renders every page, then re-renders a page on each event about it
// (several queued events for one page cost one render) and every page
// each minute. It returns nil when ctx ends.
func (s *Site) Run(ctx context.Context) error {
	var evs <-chan incident.Event
	if s.events != nil {
		ch, cancel := s.events.Subscribe() // before the first render, so no change is missed
		defer cancel()
		evs = ch
	}
	retry := time.NewTimer(0)
	defer retry.Stop()
	tick := time.NewTicker(fullRenderEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-retry.C:
			gen := s.resyncs()
			if err := s.renderAll(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				s.log.Error("statuspage: render all pages", "err", err)
				if !s.Ready() {
					retry.Reset(2 * time.Second)
				}
				continue
			}
			s.ready.Store(true)
			s.caughtUpWith(gen)
		case <-tick.C:
			gen := s.resyncs()
			if err := s.renderAll(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("statuspage: render all pages", "err", err)
			} else if err == nil {
				s.ready.Store(true)
				s.caughtUpWith(gen)
			}
		case ev, ok := <-evs:
			if !ok {
				evs = nil // the bus is gone; the periodic render carries on
				continue
			}
			dirty, relist := map[string]bool{}, false
			resync := ev.Type == incident.EventResync
			s.note(ev, dirty, &relist)
		drain:
			for {
				select {
				case ev, ok := <-evs:
					if !ok {
						evs = nil
						break drain
					}
					resync = resync || ev.Type == incident.EventResync
					s.note(ev, dirty, &relist)
				default:
					break drain
				}
			}
			// Read after the events, before the render: the link counts
			// a return before it delivers its resync, so gen covers
			// every resync drained above, and the render reads after.
			gen := s.resyncs()
			if err := s.renderDirty(ctx, dirty, relist); err == nil && resync {
				s.caughtUpWith(gen)
			}
		}
	}
}

// note records which page an event makes stale.
func (s *Site) note(ev incident.Event, dirty map[string]bool, relist *bool) {
	switch ev.Type {
	case incident.EventPageChanged, incident.EventIncidentChanged, incident.EventIncidentDeleted:
	case incident.EventResync:
		// Events may have been missed: every page again, and any page
		// added or removed meanwhile.
		*relist = true
		for id := range s.state.Load().pages {
			dirty[id] = true
		}
		return
	default:
		return
	}
	if ev.PageID == "" {
		*relist = true
		return
	}
	dirty[ev.PageID] = true
	if _, known := s.state.Load().pages[ev.PageID]; !known || ev.Type == incident.EventPageChanged {
		// A new or deleted page, or hosts that moved.
		*relist = true
	}
}

// renderDirty renders the pages in dirty (and relists them); the error
// says some failed (each is logged).
func (s *Site) renderDirty(ctx context.Context, dirty map[string]bool, relist bool) error {
	var fresh map[string]bool
	var failed error
	if relist {
		var err error
		if fresh, err = s.relist(ctx); err != nil {
			s.log.Error("statuspage: list pages", "err", err)
			failed = err
		}
	}
	ids := make([]string, 0, len(dirty))
	for id := range dirty {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if _, known := s.state.Load().pages[id]; (relist && !known) || fresh[id] {
			continue // deleted, or just rendered by relist
		}
		if err := s.RenderPage(ctx, id); err != nil && !errors.Is(err, incident.ErrNotFound) && ctx.Err() == nil {
			s.log.Error("statuspage: render", "page_id", id, "err", err)
			failed = err
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return failed
}

// relist drops the snapshots of deleted pages and renders new ones,
// returning the IDs it rendered.
func (s *Site) relist(ctx context.Context) (map[string]bool, error) {
	pages, err := s.svc.Pages(ctx)
	if err != nil {
		return nil, err
	}
	live, fresh := map[string]bool{}, map[string]bool{}
	for _, p := range pages {
		live[p.ID] = true
		if _, known := s.state.Load().pages[p.ID]; !known {
			if err := s.RenderPage(ctx, p.ID); err != nil && !errors.Is(err, incident.ErrNotFound) {
				return fresh, err
			}
			fresh[p.ID] = true
		}
	}
	s.renderMu.Lock()
	defer s.renderMu.Unlock()
	s.swap(func(st *siteState) {
		for id := range st.pages {
			if !live[id] {
				delete(st.pages, id)
			}
		}
	})
	return fresh, nil
}

// renderAll renders every page and forgets deleted ones.
func (s *Site) renderAll(ctx context.Context) error {
	pages, err := s.svc.Pages(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range pages {
		if err := s.RenderPage(ctx, p.ID); err != nil && !errors.Is(err, incident.ErrNotFound) {
			errs = append(errs, fmt.Errorf("page %s: %w", p.ID, err))
		}
	}
	live := map[string]bool{}
	for _, p := range pages {
		live[p.ID] = true
	}
	s.renderMu.Lock()
	s.swap(func(st *siteState) {
		for id := range st.pages {
			if !live[id] {
				delete(st.pages, id)
			}
		}
	})
	s.renderMu.Unlock()
	return errors.Join(errs...)
}

// swap publishes a copy of the state changed by edit; callers hold renderMu.
func (s *Site) swap(edit func(*siteState)) {
	old := s.state.Load()
	st := &siteState{pages: make(map[string]*snapshot, len(old.pages)+1)}
	for id, snap := range old.pages {
		st.pages[id] = snap
	}
	edit(st)
	for id := range st.pages {
		st.order = append(st.order, id)
	}
	sort.Slice(st.order, func(i, j int) bool {
		a, b := st.pages[st.order[i]], st.pages[st.order[j]]
		if !a.created.Equal(b.created) {
			return a.created.Before(b.created)
		}
		return a.page.ID < b.page.ID
	})
	st.hosts = map[string]string{}
	for _, id := range st.order {
		for _, h := range st.pages[id].page.Hosts {
			h = normalizeHost(h)
			if _, taken := st.hosts[h]; !taken && h != "" {
				st.hosts[h] = id
			}
		}
	}
	s.state.Store(st)
}

// normalizeHost lower-cases a Host header and strips its port.
func normalizeHost(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			return h[1:i]
		}
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.Count(h, ":") == 1 {
		h = h[:i]
	}
	return strings.TrimSuffix(h, ".")
}

// snapFor picks the page for a host: the page that lists it, else the
// default (oldest) page.
func (st *siteState) snapFor(host string) *snapshot {
	if id, ok := st.hosts[normalizeHost(host)]; ok {
		return st.pages[id]
	}
	if len(st.order) == 0 {
		return nil
	}
	return st.pages[st.order[0]]
}

// PageFor returns the page that answers on host (see Lookup).
func (s *Site) PageFor(host string) (*incident.Page, bool) {
	snap := s.state.Load().snapFor(host)
	if snap == nil {
		return nil, false
	}
	p := *snap.page
	p.Languages = append([]string(nil), snap.page.Languages...)
	p.Hosts = append([]string(nil), snap.page.Hosts...)
	return &p, true
}

// Languages returns the languages of the page host serves, in the page's
// order. The slice is the site's own: read it, do not change it.
func (s *Site) Languages(host string) []string {
	snap := s.state.Load().snapFor(host)
	if snap == nil {
		return nil
	}
	return snap.page.Languages
}

// Lookup returns the pre-rendered response for a URL path on host. lang
// picks the HTML language: a code ("hu"), a tag ("hu-HU") or an
// Accept-Language value, matched against the page's languages; "" or no
// match gives the page's first language. It reports false for a path
// that has no response (the caller answers 404).
func (s *Site) Lookup(host, path, lang string) (*Asset, bool) {
	snap := s.state.Load().snapFor(host)
	if snap == nil {
		return nil, false
	}
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	if a, ok := snap.shared[path]; ok {
		// The default document costs nothing more: a variant is looked
		// for only when the reader asked for a language and the document
		// has one (VariesByLanguage).
		if lang != "" && a.VariesByLanguage {
			if v, ok := snap.langShared[pickLang(snap.langs, snap.matcher, lang)][path]; ok {
				return v, true
			}
		}
		return a, true
	}
	a, ok := snap.html[pickLang(snap.langs, snap.matcher, lang)][path]
	return a, ok
}

// Watch returns a channel that receives the page's summary.json after
// each render that changed anything on the page, for live updates (SSE).
// A slow reader only misses intermediate payloads: the channel always
// holds the newest. Call the func to stop; it closes the channel.
func (s *Site) Watch(pageID string) (<-chan []byte, func()) {
	ch := make(chan []byte, 1)
	s.watchMu.Lock()
	if s.watchers[pageID] == nil {
		s.watchers[pageID] = map[chan []byte]struct{}{}
	}
	s.watchers[pageID][ch] = struct{}{}
	s.watchMu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			s.watchMu.Lock()
			delete(s.watchers[pageID], ch)
			if len(s.watchers[pageID]) == 0 {
				delete(s.watchers, pageID)
			}
			s.watchMu.Unlock()
			close(ch)
		})
	}
}

func (s *Site) notify(pageID string, payload []byte) {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	for ch := range s.watchers[pageID] {
		select {
		case ch <- payload:
			continue
		default:
		}
		select { // replace the stale payload with the newest
		case <-ch:
		default:
		}
		select {
		case ch <- payload:
		default:
		}
	}
}

// gzipPool reuses compressors: a fresh gzip.Writer allocates about a
// megabyte of state, which would dominate a render. BestSpeed compresses
// these repetitive pages nearly as well as the default level at a third
// of the cost, and the render is on the path from a declaration to the
// page.
var gzipPool = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return w
}}

// newAsset builds an asset, reusing prev (hash and gzip included) when the
// body did not change, so unchanged responses keep their ETag for free.
func newAsset(prev *Asset, body []byte, contentType string) *Asset {
	if prev != nil && prev.ContentType == contentType && bytes.Equal(prev.Body, body) {
		return prev
	}
	sum := sha256.Sum256(body)
	var gz bytes.Buffer
	gz.Grow(len(body)/4 + 64)
	w := gzipPool.Get().(*gzip.Writer)
	w.Reset(&gz)
	_, _ = w.Write(body) // writes to a bytes.Buffer cannot fail
	_ = w.Close()
	gzipPool.Put(w)
	// 96 bits name one version of a URL's bytes among its others (a
	// collision needs ~2^48 versions), in 16 characters: an answer's tag
	// is sent on every request, with the gzip and identity forms apart.
	tag := base64.RawURLEncoding.EncodeToString(sum[:12])
	return &Asset{Body: body, Gzip: gz.Bytes(), ETag: `"` + tag + `"`, GzipETag: `"` + tag + `-gzip"`, ContentType: contentType}
}
