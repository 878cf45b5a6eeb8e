package statuspage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/incident"
	"golang.org/x/text/language"
)

// Limits of the JSON lists, as Statuspage has them.
const (
	recentLimit  = 50  // incidents.json and scheduled-maintenances.json
	historyLimit = 500 // incidents read for /history and the incident pages
)

var (
	unresolvedStatuses = []incident.Status{incident.Investigating, incident.Identified, incident.Monitoring,
		incident.Scheduled, incident.InProgress, incident.Verifying}
	yes, no = true, false
)

// pageInput is everything one render reads from the store.
type pageInput struct {
	page        *incident.Page
	comps       []*incident.Component
	recent      []*incident.Incident // 50 newest incidents
	maints      []*incident.Incident // 50 newest maintenances
	open        []*incident.Incident // unresolved incidents and maintenances not completed
	history     []*incident.Incident // everything in the history window
	changes     []incident.StatusChange
	now         time.Time
	loc         *time.Location
	historyFrom time.Time
}

// load reads what a render needs. The page is looked up through the
// Service (which validates the ID); the rest is read from its Store
// directly, read-only, because each Service read would look the page up
// again. Usually one incident query serves every list: the newest
// historyLimit incidents and maintenances hold the 50 newest of each kind,
// the open ones and the history window, unless the page has more than
// that, when the lists that may be short are read on their own.
func (s *Site) load(ctx context.Context, pageID string) (*pageInput, error) {
	in := &pageInput{now: s.now()}
	var err error
	if in.page, err = s.svc.Page(ctx, pageID); err != nil {
		return nil, err
	}
	store := s.svc.Store
	in.loc = in.page.Location()
	if in.comps, err = store.FindComponents(ctx, pageID); err != nil {
		return nil, err
	}
	all, total, err := store.FindIncidents(ctx, incident.IncidentFilter{PageID: pageID, Limit: historyLimit})
	if err != nil {
		return nil, err
	}
	complete := total <= len(all)
	l := in.now.In(in.loc)
	in.historyFrom = time.Date(l.Year(), l.Month()-(historyMonths-1), 1, 0, 0, 0, 0, in.loc)
	for _, inc := range all {
		if inc.IsMaintenance() {
			if len(in.maints) < recentLimit {
				in.maints = append(in.maints, inc)
			}
		} else if len(in.recent) < recentLimit {
			in.recent = append(in.recent, inc)
		}
		if !inc.CreatedAt.Before(in.historyFrom) {
			in.history = append(in.history, inc)
		}
		if complete && (inc.Open() || inc.Upcoming()) {
			in.open = append(in.open, inc)
		}
	}
	if !complete {
		if len(in.recent) < recentLimit {
			if in.recent, _, err = store.FindIncidents(ctx, incident.IncidentFilter{PageID: pageID, Maintenance: &no, Limit: recentLimit}); err != nil {
				return nil, err
			}
		}
		if len(in.maints) < recentLimit {
			if in.maints, _, err = store.FindIncidents(ctx, incident.IncidentFilter{PageID: pageID, Maintenance: &yes, Limit: recentLimit}); err != nil {
				return nil, err
			}
		}
		if in.open, _, err = store.FindIncidents(ctx, incident.IncidentFilter{PageID: pageID, Statuses: unresolvedStatuses}); err != nil {
			return nil, err
		}
	}
	starts := dayStarts(in.now, in.loc, uptimeDays)
	if in.changes, err = store.FindStatusChanges(ctx, pageID, starts[0]); err != nil {
		return nil, err
	}
	return in, nil
}

// RenderPage renders one page now and publishes it: every JSON document,
// both feeds and the HTML in each of the page's languages. A deleted page
// is dropped and its ENOTFOUND returned.
func (s *Site) RenderPage(ctx context.Context, pageID string) error {
	s.renderMu.Lock()
	defer s.renderMu.Unlock()
	return s.renderLocked(ctx, pageID)
}

// RenderIfOlder renders pageID now unless a render of it that began after
// since has succeeded (or is running: it waits for it). A visitor who
// follows a message's link a moment after the incident was declared may
// be ahead of the render that the declaration's event starts (on Redis,
// the event travels through Redis first); the public handler calls this
// on a miss for an incident the store has, with the incident's last
// change as since, so many such visitors cost one render, and a page
// already rendered after the change costs none.
func (s *Site) RenderIfOlder(ctx context.Context, pageID string, since time.Time) error {
	s.renderMu.Lock()
	defer s.renderMu.Unlock()
	if b, ok := s.begun[pageID]; ok && b.After(since) {
		return nil
	}
	return s.renderLocked(ctx, pageID)
}

// renderLocked is RenderPage with renderMu held.
func (s *Site) renderLocked(ctx context.Context, pageID string) error {
	start := time.Now()
	in, err := s.load(ctx, pageID)
	if errors.Is(err, incident.ErrNotFound) {
		s.swap(func(st *siteState) { delete(st.pages, pageID) })
		return err
	} else if err != nil {
		return err
	}
	prev := s.state.Load().pages[pageID]
	snap, changed, err := build(in, prev, func(early *snapshot) {
		s.swap(func(st *siteState) { st.pages[pageID] = early })
	})
	if err != nil {
		return fmt.Errorf("statuspage: render page %s: %w", pageID, err)
	}
	s.swap(func(st *siteState) { st.pages[pageID] = snap })
	if s.begun == nil {
		s.begun = map[string]time.Time{}
	}
	s.begun[pageID] = start
	s.renders.WithLabelValues(pageID).Inc()
	s.duration.Observe(time.Since(start).Seconds())
	if changed {
		s.notify(pageID, snap.summary)
	}
	return nil
}

// build renders a snapshot from what load read. It reuses prev's assets
// whose bytes did not change and reports whether any did.
//
// The JSON documents and feeds are cheap and are what clients poll, while
// the HTML in four languages costs most of a render; so once the former
// are done, build hands publish an early snapshot with them and the
// previous HTML, and a change reaches summary.json without waiting for
// the templates. (A page's first render publishes only when complete.)
func build(in *pageInput, prev *snapshot, publish func(*snapshot)) (*snapshot, bool, error) {
	all, err := loadLangs()
	if err != nil {
		return nil, false, err
	}
	b := &builder{in: in, prev: prev, all: all, snap: newSnapshot(in.page, all), changed: prev == nil}
	ls := sortIncidents(in)
	if err := b.putDocuments(ls); err != nil {
		return nil, false, err
	}
	b.putStatic()
	if publish != nil && prev != nil {
		publish(b.early())
	}
	v := newView(in, ls)
	fillUptime(v.Rows, in, b.snap.langs, all)
	for _, code := range b.snap.langs {
		if err := b.putHTML(code, v); err != nil {
			return nil, false, err
		}
	}
	return b.snap, b.anyChanged(), nil
}

// builder carries one build's state from part to part: what it renders
// from, the snapshot it fills and whether any asset changed since prev.
type builder struct {
	in      *pageInput
	prev    *snapshot // nil on the page's first render
	all     map[string]*lang
	snap    *snapshot
	changed bool // an asset's bytes differ from prev's; true when there is no prev
}

// newSnapshot starts an empty snapshot of p in the languages it will be
// served in: the page's languages that herald has text for, in the page's
// order, or English when none is left, which every page can be shown in.
func newSnapshot(p *incident.Page, all map[string]*lang) *snapshot {
	snap := &snapshot{page: p, created: p.CreatedAt, shared: map[string]*Asset{}, langShared: map[string]map[string]*Asset{},
		html: map[string]map[string]*Asset{}, incKeys: map[string]string{}, rows: map[string]renderedRow{}}
	for _, code := range p.Languages {
		if all[code] != nil {
			snap.langs = append(snap.langs, code)
		}
	}
	if len(snap.langs) == 0 {
		snap.langs = []string{"en"}
	}
	tags := make([]language.Tag, len(snap.langs))
	for i, code := range snap.langs {
		tags[i] = language.Make(code)
	}
	snap.matcher = language.NewMatcher(tags)
	return snap
}

// put stores body under path in m. When old holds the same bytes under
// path it reuses that asset, so its ETag and gzip stay; otherwise it notes
// that the snapshot changed, which is what decides whether watchers hear
// of this render.
func (b *builder) put(m, old map[string]*Asset, path string, body []byte, ctype string) {
	b.putVarying(m, old, path, body, ctype, false)
}

// putVarying is put for a document that may have language variants.
func (b *builder) putVarying(m, old map[string]*Asset, path string, body []byte, ctype string, varies bool) {
	was := old[path] // nil when old is
	a := newAsset(was, body, ctype)
	if a.VariesByLanguage != varies {
		cp := *a // the same bytes, ETag and gzip; only the Vary differs
		cp.VariesByLanguage = varies
		a = &cp
	}
	if a != was {
		b.changed = true
	}
	m[path] = a
}

// putShared stores a document every language shares (the feeds' script,
// the logo), comparing it with prev's.
func (b *builder) putShared(path string, body []byte, ctype string) {
	var old map[string]*Asset
	if b.prev != nil {
		old = b.prev.shared
	}
	b.put(b.snap.shared, old, path, body, ctype)
}

// document is one rendered JSON document or feed.
type document struct {
	path  string
	body  []byte
	ctype string
}

// putDocuments writes the v2 JSON documents and the feeds with the
// default texts (what a client that asks for no language reads, as
// before there were texts per language), and, for each of the page's
// languages that some shown update has its own text in, the documents
// whose bytes differ in that language; for the page's other languages,
// their feeds (their words and links are the language's). Each is rendered here, once per
// change, never per request.
func (b *builder) putDocuments(ls *pageLists) error {
	docs, err := b.documents(ls, "")
	if err != nil {
		return err
	}
	def := make(map[string][]byte, len(docs))
	for _, d := range docs {
		def[d.path] = d.body
	}
	variants := map[string][]document{}
	varies := map[string]bool{}
	translated := translatedLangs(ls.order, b.snap.langs)
	for i, code := range b.snap.langs {
		var lds []document
		switch {
		case slices.Contains(translated, code):
			lds, err = b.documents(ls, code)
		case i > 0:
			// No text of its own: the JSON is the default's, but the
			// feeds' words and links are the language's.
			lds, err = b.feedDocs(ls, code)
		}
		if err != nil {
			return err
		}
		for _, d := range lds {
			if !bytes.Equal(d.body, def[d.path]) {
				variants[code] = append(variants[code], d)
				varies[d.path] = true
			}
		}
	}
	var old map[string]*Asset
	if b.prev != nil {
		old = b.prev.shared
	}
	for _, d := range docs {
		b.putVarying(b.snap.shared, old, d.path, d.body, d.ctype, varies[d.path])
	}
	for code, lds := range variants {
		m := map[string]*Asset{}
		var oldLang map[string]*Asset
		if b.prev != nil {
			oldLang = b.prev.langShared[code]
		}
		for _, d := range lds {
			b.putVarying(m, oldLang, d.path, d.body, d.ctype, true)
		}
		b.snap.langShared[code] = m
	}
	b.snap.summary = b.snap.shared["/api/v2/summary.json"].Body
	return nil
}

// translatedLangs returns the languages of langs that an incident of incs
// has its own name in, or an update its own text.
func translatedLangs(incs []*incident.Incident, langs []string) []string {
	var out []string
	for _, code := range langs {
	search:
		for _, inc := range incs {
			if inc.Names[code] != "" {
				out = append(out, code)
				break search
			}
			for _, u := range inc.Updates {
				if u.Messages[code] != "" {
					out = append(out, code)
					break search
				}
			}
		}
	}
	return out
}

// documents renders the JSON documents and the feeds with the updates'
// texts in lang ("" for the default texts).
func (b *builder) documents(ls *pageLists, lang string) ([]document, error) {
	docs, err := b.jsonDocs(ls, lang)
	if err != nil {
		return nil, err
	}
	feeds, err := b.feedDocs(ls, lang)
	if err != nil {
		return nil, err
	}
	return append(docs, feeds...), nil
}

// pageLists is how one render sorts the page's incidents; the JSON, the
// feeds and the HTML all read it.
type pageLists struct {
	order      []*incident.Incident // every incident with a page, newest first
	updated    time.Time            // when anything on the page last changed
	unresolved []*incident.Incident // open incidents
	upcoming   []*incident.Incident // maintenances not started yet
	active     []*incident.Incident // maintenances in progress or verifying
	status     incident.PageStatus  // the page's overall status
}

// sortIncidents decides which incidents the render shows and where: every
// incident load read, once each and newest first, and the open ones by
// kind. The page's status counts open incidents and active maintenances,
// not upcoming ones.
func sortIncidents(in *pageInput) *pageLists {
	ls := &pageLists{order: uniqueIncidents(in.open, in.recent, in.maints, in.history)}
	ls.updated = lastUpdated(in.page, in.comps, ls.order)
	sortNewestFirst(ls.order)
	var openAll []*incident.Incident
	for _, inc := range in.open {
		switch {
		case !inc.IsMaintenance() && inc.Open():
			ls.unresolved = append(ls.unresolved, inc)
			openAll = append(openAll, inc)
		case inc.Upcoming():
			ls.upcoming = append(ls.upcoming, inc)
		case inc.IsMaintenance() && inc.Open():
			ls.active = append(ls.active, inc)
			openAll = append(openAll, inc)
		}
	}
	ls.status = incident.Overall(in.comps, openAll)
	return ls
}

// uniqueIncidents merges load's lists, which overlap, keeping each
// incident once, in the order first seen.
func uniqueIncidents(lists ...[]*incident.Incident) []*incident.Incident {
	seen := map[string]bool{}
	var out []*incident.Incident
	for _, list := range lists {
		for _, inc := range list {
			if !seen[inc.ID] {
				seen[inc.ID] = true
				out = append(out, inc)
			}
		}
	}
	return out
}

// lastUpdated is when the page last changed: the page changed when
// anything on it did, a component or an incident.
func lastUpdated(p *incident.Page, comps []*incident.Component, incs []*incident.Incident) time.Time {
	updated := p.UpdatedAt
	for _, c := range comps {
		if c.UpdatedAt.After(updated) {
			updated = c.UpdatedAt
		}
	}
	for _, inc := range incs {
		if inc.UpdatedAt.After(updated) {
			updated = inc.UpdatedAt
		}
	}
	return updated
}

// jsonDocs renders the Statuspage v2 documents, the updates' texts in
// lang ("" for the default). An incident in several lists is turned into
// its wire form once.
func (b *builder) jsonDocs(ls *pageLists, lang string) ([]document, error) {
	in, p, loc := b.in, b.in.page, b.in.loc
	wcomps, _ := wireComponents(in.comps, loc)
	wired := map[string]*v2Incident{}
	wlist := func(incs []*incident.Incident) []*v2Incident {
		out := make([]*v2Incident, 0, len(incs))
		for _, inc := range incs {
			w, ok := wired[inc.ID]
			if !ok {
				w = wireIncident(p, inc, wcomps, loc)
				if lang != "" {
					w.Name = inc.NameIn(lang)
					for i, u := range inc.Updates {
						w.IncidentUpdates[i].Body = u.Text(lang)
					}
				}
				wired[inc.ID] = w
			}
			out = append(out, w)
		}
		return out
	}
	wpage := v2Page{ID: p.ID, Name: p.Name, URL: p.URL, TimeZone: p.TimeZone, UpdatedAt: stamp(ls.updated, loc)}
	wstatus := v2Status{Indicator: ls.status.Indicator, Description: ls.status.Description}
	summaryMaints := append(append([]*incident.Incident{}, ls.upcoming...), ls.active...)
	sortNewestFirst(summaryMaints)
	docs := []struct {
		path string
		v    any
	}{
		{"/api/v2/summary.json", v2Summary{Page: wpage, Components: wcomps, Incidents: wlist(ls.unresolved), ScheduledMaintenances: wlist(summaryMaints), Status: wstatus}},
		{"/api/v2/status.json", v2StatusDoc{Page: wpage, Status: wstatus}},
		{"/api/v2/components.json", v2ComponentsDoc{Page: wpage, Components: wcomps}},
		{"/api/v2/incidents.json", v2IncidentsDoc{Page: wpage, Incidents: wlist(in.recent)}},
		{"/api/v2/incidents/unresolved.json", v2IncidentsDoc{Page: wpage, Incidents: wlist(ls.unresolved)}},
		{"/api/v2/scheduled-maintenances.json", v2MaintenancesDoc{Page: wpage, ScheduledMaintenances: wlist(in.maints)}},
		{"/api/v2/scheduled-maintenances/upcoming.json", v2MaintenancesDoc{Page: wpage, ScheduledMaintenances: wlist(ls.upcoming)}},
		{"/api/v2/scheduled-maintenances/active.json", v2MaintenancesDoc{Page: wpage, ScheduledMaintenances: wlist(ls.active)}},
	}
	out := make([]document, 0, len(docs))
	for _, d := range docs {
		body, err := marshal(d.v)
		if err != nil {
			return nil, err
		}
		out = append(out, document{d.path, body, typeJSON})
	}
	return out, nil
}

// feedDocs renders the RSS and Atom feeds, the updates' texts in lang (""
// for the default): the newest incidents and maintenances, announced ones
// too. Their own words (labels, dates, title) are lang's, the page's
// first language's for the default; a language's feed links keep it.
func (b *builder) feedDocs(ls *pageLists, lang string) ([]document, error) {
	p, loc := b.in.page, b.in.loc
	feed := ls.order
	if len(feed) > feedLimit {
		feed = feed[:feedLimit]
	}
	code, texts := lang, lang
	if code == "" {
		code = b.snap.langs[0] // the default feed speaks the page's first language
		if code != "en" {
			// Its texts too: herald's own words (a maintenance started
			// or completed on time, a resolve without a text) have
			// Statuspage's English as their body and the page's language
			// as a message. An English default keeps Statuspage's bodies.
			texts = code
		}
	}
	w := wordsFor(code, b.all[code], lang != "")
	rss, err := renderRSS(p, feed, ls.updated, loc, texts, w)
	if err != nil {
		return nil, err
	}
	atom, err := renderAtom(p, feed, ls.updated, loc, texts, w)
	if err != nil {
		return nil, err
	}
	return []document{{"/history.rss", rss, typeRSS}, {"/history.atom", atom, typeAtom}}, nil
}

// putStatic writes the assets no language changes: the feeds' local-time
// script and the logo.
func (b *builder) putStatic() {
	p := b.in.page
	b.putShared(localTimePath, localTimeJS, typeJS)
	if p.Logo != "" {
		// Checked when set; one that no longer decodes shows no logo
		// rather than a broken image.
		if img, ctype, err := incident.DecodeLogo(p.Logo); err == nil {
			b.putShared(logoPath, img, ctype)
		}
	}
}

// early is the snapshot build publishes before rendering the HTML: the new
// JSON and feeds with prev's HTML. It keeps prev's languages too, because
// those are the languages prev's HTML has.
func (b *builder) early() *snapshot {
	early := *b.snap
	early.html, early.incKeys, early.rows = b.prev.html, b.prev.incKeys, b.prev.rows
	early.langs, early.matcher = b.prev.langs, b.prev.matcher
	return &early
}

// newView decides what the HTML pages list, once for every language:
// every incident's view, which of them each section of the front page
// shows (upcoming maintenances soonest first), and the history by month.
func newView(in *pageInput, ls *pageLists) *view {
	v := &view{Page: in.page, Status: ls.status, Rows: buildRows(in.comps), LogoSrc: logoSrc(in.page)}
	views := map[string]*incView{}
	for _, inc := range ls.order {
		iv := newIncView(inc, in.comps, in.loc, in.now)
		views[inc.ID] = iv
		v.Incidents = append(v.Incidents, iv)
	}
	for _, inc := range ls.unresolved {
		v.Active = append(v.Active, views[inc.ID])
	}
	for _, inc := range ls.active {
		v.InProgress = append(v.InProgress, views[inc.ID])
	}
	for i := len(ls.upcoming) - 1; i >= 0; i-- { // soonest first
		v.Upcoming = append(v.Upcoming, views[ls.upcoming[i].ID])
	}
	var past []*incView
	for _, inc := range ls.order {
		if !inc.Upcoming() && !inc.StartedAt.Before(in.historyFrom) {
			past = append(past, views[inc.ID])
		}
	}
	v.Months = buildMonths(past, in.now, in.loc)
	v.Past = buildPastDays(past, in.now, in.loc)
	return v
}

// fillUptime sets the uptime bars of every showcased component in rows,
// members of groups included; groups themselves have none. The history is
// split per component and each uptime computed once, then written out in
// each language.
func fillUptime(rows []*row, in *pageInput, langs []string, all map[string]*lang) {
	starts := dayStarts(in.now, in.loc, uptimeDays)
	perComp := map[string][]incident.StatusChange{}
	for _, c := range in.changes {
		perComp[c.ComponentID] = append(perComp[c.ComponentID], c)
	}
	titles := map[string]*dayTitles{}
	for _, code := range langs {
		titles[code] = newDayTitles(all[code], starts)
	}
	var fill func(rows []*row)
	fill = func(rows []*row) {
		for _, r := range rows {
			fill(r.Children)
			if r.C.Group || !r.C.Showcase {
				continue
			}
			u := computeUptime(perComp[r.C.ID], r.C.Status, existedSince(r.C, perComp[r.C.ID], in.loc), in.now, starts)
			r.Up = &u
			r.Bars = map[string]bars{}
			for _, code := range langs {
				h, probs := uptimeBars(all[code], titles[code], &u)
				r.Bars[code] = bars{HTML: h, Problems: probs, Latest: latestProblem(all[code], titles[code], &u)}
			}
		}
	}
	fill(rows)
}

// langPages is one language's HTML while build renders it.
type langPages struct {
	code  string
	l     *lang
	links []langLink        // the language menu, this language current
	prev  map[string]*Asset // prev's HTML in this language; nil on a first render
	out   map[string]*Asset
}

// putHTML renders the page's HTML in one language: the front page,
// /history and every incident's page.
func (b *builder) putHTML(code string, v *view) error {
	lp := &langPages{code: code, l: b.all[code], links: make([]langLink, len(b.snap.langs)), out: map[string]*Asset{}}
	if b.prev != nil {
		lp.prev = b.prev.html[code]
	}
	for i, c := range b.snap.langs {
		lp.links[i] = langLink{Code: c, Name: langNames[c], Current: c == code}
	}
	rows, err := b.renderRows(lp, v.Rows)
	if err != nil {
		return err
	}
	d := &pageData{L: lp.l, V: v, Langs: lp.links, Title: v.Page.Name + " – " + lp.l.Overall(v.Status.Description), Rows: rows}
	body, err := execute("index", d, 32<<10)
	if err != nil {
		return err
	}
	b.put(lp.out, lp.prev, "/", body, typeHTML)
	if err := b.putHistory(lp, v); err != nil {
		return err
	}
	if err := b.putIncidentPages(lp, v); err != nil {
		return err
	}
	// The not-found page, in the reader's language (the server answers a
	// mistyped or cut link's 404 with it).
	nf, err := execute("notfound", &pageData{L: lp.l, V: v, Langs: lp.links, Title: lp.l.T["NotFoundTitle"] + " – " + v.Page.Name}, 4<<10)
	if err != nil {
		return err
	}
	b.put(lp.out, lp.prev, "/404", nf, typeHTML)
	b.snap.html[code] = lp.out
	return nil
}

// renderRows renders the front page's component list row by row. A row
// whose key (everything it shows) is what prev rendered it from is taken
// from prev instead: the rows are most of the front page's cost.
func (b *builder) renderRows(lp *langPages, rows []*row) ([]template.HTML, error) {
	out := make([]template.HTML, 0, len(rows))
	for _, r := range rows {
		id, key := lp.code+"/"+r.C.ID, rowKey(lp.code, r)
		if b.prev != nil && b.prev.rows[id].key == key {
			b.snap.rows[id] = b.prev.rows[id]
			out = append(out, b.prev.rows[id].html)
			continue
		}
		var buf bytes.Buffer
		if err := pageTemplates.ExecuteTemplate(&buf, "comp", args{lp.l, r}); err != nil {
			return nil, err
		}
		// The output of html/template, placed back into the same
		// (HTML text) context it was escaped for.
		h := template.HTML(buf.String())
		b.snap.rows[id] = renderedRow{key, h}
		out = append(out, h)
	}
	return out, nil
}

// putHistory renders /history, or keeps prev's when what it is rendered
// from (historyKey) did not change.
func (b *builder) putHistory(lp *langPages, v *view) error {
	p := v.Page
	hkey := historyKey(p, lp.code, v) + "\x00" + v.LogoSrc
	b.snap.incKeys[lp.code+"/history"] = hkey
	if b.prev != nil && b.prev.incKeys[lp.code+"/history"] == hkey && lp.prev["/history"] != nil {
		lp.out["/history"] = lp.prev["/history"]
		return nil
	}
	d := &pageData{L: lp.l, V: v, Langs: lp.links, Title: lp.l.T["IncidentHistory"] + " – " + p.Name}
	body, err := execute("history", d, 16<<10)
	if err != nil {
		return err
	}
	b.put(lp.out, lp.prev, "/history", body, typeHTML)
	return nil
}

// putIncidentPages renders each incident's page, keeping prev's for an
// incident whose page is rendered from the same input (incidentKey): a
// page has many incidents and few change in one render.
func (b *builder) putIncidentPages(lp *langPages, v *view) error {
	p := v.Page
	for _, iv := range v.Incidents {
		path := "/incidents/" + iv.Inc.ID
		key := incidentKey(p, lp.code, iv) + "\x00" + v.LogoSrc
		b.snap.incKeys[lp.code+path] = key
		if b.prev != nil && b.prev.incKeys[lp.code+path] == key && lp.prev[path] != nil {
			lp.out[path] = lp.prev[path] // same input, same bytes: skip the template
			continue
		}
		d := &pageData{L: lp.l, V: v, Langs: lp.links, Title: iv.Inc.NameIn(lp.code) + " – " + p.Name, Inc: iv}
		body, err := execute("incident", d, 8<<10)
		if err != nil {
			return err
		}
		b.put(lp.out, lp.prev, path, body, typeHTML)
	}
	return nil
}

// anyChanged reports whether the snapshot differs from prev: an asset's
// bytes changed, or, with every asset the same, one went away (an incident
// page, say), which the snapshot's watchers must hear of too.
func (b *builder) anyChanged() bool {
	if b.changed {
		return true // always so when there is no prev
	}
	return len(b.prev.shared) != len(b.snap.shared) || !sameKeys(b.prev.html, b.snap.html) || !sameKeys(b.prev.langShared, b.snap.langShared)
}

// incidentKey names everything an incident page is rendered from: the
// page's header, the incident (its version changes with every update or
// edit) and the current state of the components it lists.
func incidentKey(p *incident.Page, code string, iv *incView) string {
	var b strings.Builder
	b.WriteString(code)
	for _, s := range []string{p.Name, p.URL, p.TimeZone, strings.Join(p.Languages, ","),
		iv.Inc.ID, strconv.Itoa(iv.Inc.Version), iv.Inc.UpdatedAt.Format(time.RFC3339Nano), string(iv.Inc.Status),
		string(iv.Impact), iv.Lasted.String()} {
		b.WriteByte(0)
		b.WriteString(s)
	}
	for _, c := range iv.Components {
		b.WriteByte(0)
		b.WriteString(c.ID + "=" + string(c.Status) + "=" + c.Name)
	}
	return b.String()
}

// historyKey names everything /history is rendered from.
func historyKey(p *incident.Page, code string, v *view) string {
	var b strings.Builder
	b.WriteString(code)
	for _, s := range []string{p.Name, p.URL, p.TimeZone, strings.Join(p.Languages, ",")} {
		b.WriteByte(0)
		b.WriteString(s)
	}
	for _, m := range v.Months {
		b.WriteString("\x00" + m.Key + "\x00" + m.Through.Format("2006-01"))
		for _, iv := range m.Incs {
			b.WriteString("\x00" + iv.Inc.ID + "\x00" + iv.Inc.NameIn(code) + "\x00" + string(iv.Inc.Status) + "\x00" + string(iv.Impact) + "\x00" + iv.StartStamp)
		}
	}
	return b.String()
}

func sameKeys(a, b map[string]map[string]*Asset) bool {
	if len(a) != len(b) {
		return false
	}
	for k, am := range a {
		bm, ok := b[k]
		if !ok || len(am) != len(bm) {
			return false
		}
		for p := range am {
			if _, ok := bm[p]; !ok {
				return false
			}
		}
	}
	return true
}

// sortNewestFirst orders incidents as the store does: newest CreatedAt
// first, ties by ID so the order is stable.
func sortNewestFirst(incs []*incident.Incident) {
	sort.Slice(incs, func(i, j int) bool { return newer(incs[i], incs[j]) })
}

func newer(a, b *incident.Incident) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}
