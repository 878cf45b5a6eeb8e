package statuspage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
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
	p, loc := in.page, in.loc
	snap := &snapshot{page: p, created: p.CreatedAt, shared: map[string]*Asset{}, html: map[string]map[string]*Asset{}, incKeys: map[string]string{},
		rows: map[string]renderedRow{}}
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

	changed := prev == nil
	put := func(m map[string]*Asset, old map[string]*Asset, path string, body []byte, ctype string) {
		var was *Asset
		if old != nil {
			was = old[path]
		}
		a := newAsset(was, body, ctype)
		if a != was {
			changed = true
		}
		m[path] = a
	}
	var prevShared map[string]*Asset
	if prev != nil {
		prevShared = prev.shared
	}

	// ---- what every document shares ----
	wcomps, _ := wireComponents(in.comps, loc)
	updated := p.UpdatedAt
	for _, c := range in.comps {
		if c.UpdatedAt.After(updated) {
			updated = c.UpdatedAt
		}
	}
	wired := map[string]*v2Incident{}
	wireOf := func(inc *incident.Incident) *v2Incident {
		if w, ok := wired[inc.ID]; ok {
			return w
		}
		w := wireIncident(p, inc, wcomps, loc)
		wired[inc.ID] = w
		return w
	}
	byID := map[string]*incident.Incident{}
	var order []*incident.Incident // every incident with a page, newest first
	for _, list := range [][]*incident.Incident{in.open, in.recent, in.maints, in.history} {
		for _, inc := range list {
			if _, ok := byID[inc.ID]; !ok {
				byID[inc.ID] = inc
				order = append(order, inc)
				if inc.UpdatedAt.After(updated) {
					updated = inc.UpdatedAt // the page changed when anything on it did
				}
			}
		}
	}
	sortNewestFirst(order)

	var unresolved, upcoming, active, openAll []*incident.Incident
	for _, inc := range in.open {
		switch {
		case !inc.IsMaintenance() && inc.Open():
			unresolved = append(unresolved, inc)
			openAll = append(openAll, inc)
		case inc.Upcoming():
			upcoming = append(upcoming, inc)
		case inc.IsMaintenance() && inc.Open():
			active = append(active, inc)
			openAll = append(openAll, inc)
		}
	}
	status := incident.Overall(in.comps, openAll)
	wpage := v2Page{ID: p.ID, Name: p.Name, URL: p.URL, TimeZone: p.TimeZone, UpdatedAt: stamp(updated, loc)}
	wstatus := v2Status{Indicator: status.Indicator, Description: status.Description}
	wlist := func(incs []*incident.Incident) []*v2Incident {
		out := make([]*v2Incident, 0, len(incs))
		for _, inc := range incs {
			out = append(out, wireOf(inc))
		}
		return out
	}

	// ---- JSON ----
	summaryMaints := append(append([]*incident.Incident{}, upcoming...), active...)
	sortNewestFirst(summaryMaints)
	docs := []struct {
		path string
		v    any
	}{
		{"/api/v2/summary.json", v2Summary{Page: wpage, Components: wcomps, Incidents: wlist(unresolved), ScheduledMaintenances: wlist(summaryMaints), Status: wstatus}},
		{"/api/v2/status.json", v2StatusDoc{Page: wpage, Status: wstatus}},
		{"/api/v2/components.json", v2ComponentsDoc{Page: wpage, Components: wcomps}},
		{"/api/v2/incidents.json", v2IncidentsDoc{Page: wpage, Incidents: wlist(in.recent)}},
		{"/api/v2/incidents/unresolved.json", v2IncidentsDoc{Page: wpage, Incidents: wlist(unresolved)}},
		{"/api/v2/scheduled-maintenances.json", v2MaintenancesDoc{Page: wpage, ScheduledMaintenances: wlist(in.maints)}},
		{"/api/v2/scheduled-maintenances/upcoming.json", v2MaintenancesDoc{Page: wpage, ScheduledMaintenances: wlist(upcoming)}},
		{"/api/v2/scheduled-maintenances/active.json", v2MaintenancesDoc{Page: wpage, ScheduledMaintenances: wlist(active)}},
	}
	for _, d := range docs {
		body, err := marshal(d.v)
		if err != nil {
			return nil, false, err
		}
		put(snap.shared, prevShared, d.path, body, typeJSON)
	}
	snap.summary = snap.shared["/api/v2/summary.json"].Body

	// ---- feeds: the newest incidents and maintenances, announced ones too ----
	feed := order
	if len(feed) > feedLimit {
		feed = feed[:feedLimit]
	}
	rss, err := renderRSS(p, feed, updated, loc)
	if err != nil {
		return nil, false, err
	}
	put(snap.shared, prevShared, "/history.rss", rss, typeRSS)
	atom, err := renderAtom(p, feed, updated, loc)
	if err != nil {
		return nil, false, err
	}
	put(snap.shared, prevShared, "/history.atom", atom, typeAtom)

	if publish != nil && prev != nil {
		early := *snap
		early.html, early.incKeys, early.rows = prev.html, prev.incKeys, prev.rows
		early.langs, early.matcher = prev.langs, prev.matcher // the languages prev.html has
		publish(&early)
	}

	// ---- HTML ----
	v := &view{Page: p, Status: status, Rows: buildRows(in.comps)}
	views := map[string]*incView{}
	for _, inc := range order {
		iv := newIncView(inc, in.comps, loc)
		views[inc.ID] = iv
		v.Incidents = append(v.Incidents, iv)
	}
	for _, inc := range unresolved {
		v.Active = append(v.Active, views[inc.ID])
	}
	for _, inc := range active {
		v.InProgress = append(v.InProgress, views[inc.ID])
	}
	for i := len(upcoming) - 1; i >= 0; i-- { // soonest first
		v.Upcoming = append(v.Upcoming, views[upcoming[i].ID])
	}
	var past []*incView
	for _, inc := range order {
		if !inc.Upcoming() && !inc.StartedAt.Before(in.historyFrom) {
			past = append(past, views[inc.ID])
		}
	}
	v.Months = buildMonths(past, in.now, loc)

	// Uptime bars: history split per component, computed once, then
	// written out per language.
	starts := dayStarts(in.now, loc, uptimeDays)
	perComp := map[string][]incident.StatusChange{}
	for _, c := range in.changes {
		perComp[c.ComponentID] = append(perComp[c.ComponentID], c)
	}
	titles := map[string]*dayTitles{}
	for _, code := range snap.langs {
		titles[code] = newDayTitles(all[code], starts)
	}
	var fill func(rows []*row)
	fill = func(rows []*row) {
		for _, r := range rows {
			fill(r.Children)
			if r.C.Group || !r.C.Showcase {
				continue
			}
			u := computeUptime(perComp[r.C.ID], r.C.Status, r.C.CreatedAt, in.now, starts)
			r.Up = &u
			r.Bars = map[string]bars{}
			for _, code := range snap.langs {
				h, probs := uptimeBars(all[code], titles[code], &u)
				r.Bars[code] = bars{HTML: h, Problems: probs}
			}
		}
	}
	fill(v.Rows)

	for _, code := range snap.langs {
		l := all[code]
		var prevHTML map[string]*Asset
		if prev != nil {
			prevHTML = prev.html[code]
		}
		out := map[string]*Asset{}
		links := make([]langLink, len(snap.langs))
		for i, c := range snap.langs {
			links[i] = langLink{Code: c, Name: langNames[c], Current: c == code}
		}
		rows := make([]template.HTML, 0, len(v.Rows))
		for _, r := range v.Rows {
			id, key := code+"/"+r.C.ID, rowKey(code, r)
			if prev != nil && prev.rows[id].key == key {
				snap.rows[id] = prev.rows[id]
				rows = append(rows, prev.rows[id].html)
				continue
			}
			var buf bytes.Buffer
			if err := pageTemplates.ExecuteTemplate(&buf, "comp", args{l, r}); err != nil {
				return nil, false, err
			}
			// The output of html/template, placed back into the same
			// (HTML text) context it was escaped for.
			h := template.HTML(buf.String())
			snap.rows[id] = renderedRow{key, h}
			rows = append(rows, h)
		}
		d := &pageData{L: l, V: v, Langs: links, Title: p.Name + " – " + l.Overall(status.Description), Rows: rows}
		body, err := execute("index", d, 32<<10)
		if err != nil {
			return nil, false, err
		}
		put(out, prevHTML, "/", body, typeHTML)
		hkey := historyKey(p, code, v)
		snap.incKeys[code+"/history"] = hkey
		if prev != nil && prev.incKeys[code+"/history"] == hkey && prevHTML["/history"] != nil {
			out["/history"] = prevHTML["/history"]
		} else {
			d = &pageData{L: l, V: v, Langs: links, Title: l.T["IncidentHistory"] + " – " + p.Name}
			if body, err = execute("history", d, 16<<10); err != nil {
				return nil, false, err
			}
			put(out, prevHTML, "/history", body, typeHTML)
		}
		for _, iv := range v.Incidents {
			path := "/incidents/" + iv.Inc.ID
			key := incidentKey(p, code, iv)
			snap.incKeys[code+path] = key
			if prev != nil && prev.incKeys[code+path] == key && prevHTML[path] != nil {
				out[path] = prevHTML[path] // same input, same bytes: skip the template
				continue
			}
			d = &pageData{L: l, V: v, Langs: links, Title: iv.Inc.Name + " – " + p.Name, Inc: iv}
			if body, err = execute("incident", d, 8<<10); err != nil {
				return nil, false, err
			}
			put(out, prevHTML, path, body, typeHTML)
		}
		snap.html[code] = out
	}
	if prev != nil && !changed && (len(prev.shared) != len(snap.shared) || !sameKeys(prev.html, snap.html)) {
		changed = true // an incident page went away
	}
	return snap, changed, nil
}

// incidentKey names everything an incident page is rendered from: the
// page's header, the incident (its version changes with every update or
// edit) and the current state of the components it lists.
func incidentKey(p *incident.Page, code string, iv *incView) string {
	var b strings.Builder
	b.WriteString(code)
	for _, s := range []string{p.Name, p.URL, p.TimeZone, strings.Join(p.Languages, ","),
		iv.Inc.ID, strconv.Itoa(iv.Inc.Version), iv.Inc.UpdatedAt.Format(time.RFC3339Nano), string(iv.Inc.Status)} {
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
		b.WriteString("\x00" + m.Key)
		for _, iv := range m.Incs {
			b.WriteString("\x00" + iv.Inc.ID + "\x00" + iv.Inc.Name + "\x00" + string(iv.Inc.Status) + "\x00" + string(iv.Inc.Impact) + "\x00" + iv.StartStamp)
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
