package statuspage

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/markdown"
)

//go:embed templates/*.html
var templateFS embed.FS

// localTimeJS shows the pages' times in the reader's time zone; the pages
// load it from localTimePath (same origin: the CSP's script-src 'self').
//
//go:embed static/local-time.js
var localTimeJS []byte

const localTimePath = "/static/local-time.js"

// args passes the language along with a value to a sub-template.
type args struct {
	L *lang
	X any
}

type updArgs struct {
	L    *lang
	List []updView
}

// pageTemplates are parsed once per process; executing them is safe
// from many goroutines.
var pageTemplates = template.Must(template.New("statuspage").Funcs(template.FuncMap{
	"args": func(l *lang, x any) args { return args{l, x} },
	"upd":  func(l *lang, list []updView) updArgs { return updArgs{l, list} },
	// unbroken keeps a phone number in a hint on one line on a phone
	// ("+48 601 234 567", not "+48 601 234 / 567").
	"unbroken": func(s string) string {
		for range 2 { // twice: a match takes the digit after the space
			s = digitSpace.ReplaceAllString(s, "$1\u00a0$2")
		}
		return s
	},
}).ParseFS(templateFS, "templates/*.html"))

// digitSpace is a space after a digit and before another digit.
var digitSpace = regexp.MustCompile(`(\d) (\d)`)

// langNames are the languages' own names for the language menu.
var langNames = map[string]string{"en": "English", "hu": "Magyar", "pl": "Polski", "hr": "Hrvatski"}

// view is everything the HTML pages show, computed once per render and
// shared by every language.
type view struct {
	Page       *incident.Page
	Status     incident.PageStatus
	Rows       []*row
	Active     []*incView // unresolved incidents
	InProgress []*incView // maintenances in progress or verifying
	Upcoming   []*incView // maintenances still scheduled
	Months     []*month   // history, newest month first
	Past       []*day     // the front page's past incidents, today first
	Incidents  []*incView // every incident with a page of its own
	LogoSrc    string     // the logo's address, versioned by its content; "" without one
}

// logoPath is where the page's logo is served (same origin: the CSP's
// img-src 'self').
const logoPath = "/static/logo"

// logoSrc is the logo's address with a version from its content, so a new
// logo is fetched at once though the old one was cached.
func logoSrc(p *incident.Page) string {
	if p.Logo == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(p.Logo))
	return logoPath + "?v=" + hex.EncodeToString(sum[:6])
}

// row is one line of the component list: a component, or a group with
// its members.
type row struct {
	C        *incident.Component
	Children []*row
	Open     bool // a group with a member not operational starts unfolded
	Up       *uptime
	Bars     map[string]bars // by language
}

type bars struct {
	HTML     template.HTML
	Problems []string
	// Latest is the newest problem day's text, which the legend shows
	// while the component has no uptime figure (see latestProblem).
	Latest string
}

type incView struct {
	Inc         *incident.Incident
	Maintenance bool
	Updates     []updView
	Components  []*incident.Component
	Postmortem  template.HTML
	Start       time.Time // local
	StartStamp  string
	// For and Until are a maintenance's window (local); once it has
	// ended, Until is when it did, which may be well before the planned
	// end: a page that said "Ends: 17:35" at 15:40 for work completed
	// at 15:35 told customers to wait two more hours.
	For, Until time.Time
	ForStamp   string
	UntilStamp string
	// Impact is the impact the page shows for the incident: its own, or
	// while it is open the impact of its components' current statuses
	// when worse, so that its card never says less than the banner that
	// the same components make (an incident declared "major" with a
	// component in major outage reads "critical", as the banner does).
	// Once resolved it is the worst the incident reached
	// (Incident.PeakImpact): a total outage lowered to "minor" while it
	// was being watched is not remembered as minor by the people it hit.
	Impact incident.Impact
	// Lasted is how long the incident lasted (resolved) or has lasted
	// so far (open), whole minutes; Open says which.
	Lasted time.Duration
	Open   bool
	// Ended: resolved or completed (a postmortem too). Its page lists the
	// components as they were during it, in the past tense and without
	// the colour of a status they are no longer in.
	Ended bool
}

// defaultWords are the catalogue IDs of the words the page and the feeds
// show for an update that has no text in any language, by status: a
// maintenance started, verified or completed by hand without a message
// (as Statuspage writes them), and an incident resolved or a maintenance
// scheduled without one before herald wrote words of its own for those
// (incident.ResolvedBody, incident.ScheduledBody).
var defaultWords = map[incident.Status]string{
	incident.Scheduled:  incident.ScheduledWordsID,
	incident.InProgress: "MaintenanceInProgressText",
	incident.Verifying:  "MaintenanceVerifyingText",
	incident.Completed:  "MaintenanceCompletedText",
	incident.Resolved:   incident.ResolvedWordsID,
}

type updView struct {
	U     *incident.Update
	At    time.Time // local
	Stamp string
	Body  template.HTML
	// Bodies holds the operator's text in other languages, rendered;
	// a viewer whose language has none reads Body.
	Bodies map[string]template.HTML
	// Postmortem is set on the update that published the postmortem when
	// it has no text of its own: the page links to the postmortem there
	// rather than showing an empty entry.
	Postmortem bool
	// Default is the catalogue ID of the words an update without text of
	// its own shows (defaultWords), "" otherwise.
	Default string
}

// Text is the update's text for a viewer reading lang.
func (u updView) Text(lang string) template.HTML {
	if b, ok := u.Bodies[lang]; ok {
		return b
	}
	return u.Body
}

type month struct {
	Start time.Time
	Key   string // YYYY-MM, for the heading's id
	Incs  []*incView
	// Through is set on a run of months without incidents, which the
	// history shows as one line: the run's oldest month (Start is its
	// newest). A year of quiet months is one line, not twelve headings.
	Through time.Time
}

// Incidents counts the month's incidents, maintenances left out: the
// heading counts those on their own ("1 incident, 1 maintenance").
func (m *month) Incidents() int { return len(m.Incs) - m.Maintenances() }

// Maintenances counts the month's maintenances.
func (m *month) Maintenances() int {
	n := 0
	for _, v := range m.Incs {
		if v.Maintenance {
			n++
		}
	}
	return n
}

// Run reports whether m stands for more than one month without incidents.
func (m *month) Run() bool { return !m.Through.IsZero() && !m.Through.Equal(m.Start) }

type langLink struct {
	Code, Name string
	Current    bool
}

// pageData is what one template execution sees.
type pageData struct {
	L     *lang
	V     *view
	Title string
	Langs []langLink
	Inc   *incView
	Rows  []template.HTML // the component list, rendered row by row (see rowKey)
	// Form is set on the subscription pages (Forms.Render), which leave
	// out the live-update script: a refresh would wipe what was typed.
	Form *formView
}

// historyMonths is how many months /history shows, the current one included.
const historyMonths = 12

// worstStatusIn is the worst status inc's updates gave a component, ""
// when they gave it none.
func worstStatusIn(inc *incident.Incident, componentID string) incident.ComponentStatus {
	var worst incident.ComponentStatus
	for _, u := range inc.Updates {
		for _, ac := range u.AffectedComponents {
			if ac.Code != componentID {
				continue
			}
			for _, st := range []incident.ComponentStatus{ac.OldStatus, ac.NewStatus} {
				if st != "" && st != incident.Operational && (worst == "" || st.Impact().Rank() > worst.Impact().Rank()) {
					worst = st
				}
			}
		}
	}
	return worst
}

func newIncView(inc *incident.Incident, comps []*incident.Component, loc *time.Location, now time.Time) *incView {
	v := &incView{Inc: inc, Maintenance: inc.IsMaintenance(), Start: inc.StartedAt.In(loc), StartStamp: stamp(inc.StartedAt, loc), Impact: inc.Impact}
	if !inc.Open() {
		v.Impact = inc.PeakImpact()
	}
	v.Ended = !inc.Open() && !inc.Upcoming()
	// The postmortem shows once published (a draft is the team's), as
	// Markdown rendered without raw HTML.
	if pm := publishedPostmortem(inc); pm != "" {
		v.Postmortem = markdown.HTML(pm)
	}
	if inc.StartedAt.IsZero() {
		v.Start, v.StartStamp = inc.CreatedAt.In(loc), stamp(inc.CreatedAt, loc)
	}
	if v.Maintenance {
		v.For, v.ForStamp = inc.ScheduledFor.In(loc), stamp(*inc.ScheduledFor, loc)
		if inc.ScheduledUntil != nil {
			v.Until, v.UntilStamp = inc.ScheduledUntil.In(loc), stamp(*inc.ScheduledUntil, loc)
		}
		if v.Ended && inc.ResolvedAt != nil {
			v.Until, v.UntilStamp = inc.ResolvedAt.In(loc), stamp(*inc.ResolvedAt, loc)
		}
	}
	for _, u := range inc.Updates {
		uv := updView{U: u, At: u.DisplayAt.In(loc), Stamp: stamp(u.DisplayAt, loc), Body: renderText(u.Body)}
		for lang, text := range u.Messages {
			if strings.TrimSpace(text) == "" {
				continue
			}
			if uv.Bodies == nil {
				uv.Bodies = map[string]template.HTML{}
			}
			uv.Bodies[lang] = renderText(text)
		}
		uv.Postmortem = u.Status == incident.Postmortem && v.Postmortem != "" && strings.TrimSpace(u.Body) == "" && len(uv.Bodies) == 0
		if strings.TrimSpace(u.Body) == "" && len(uv.Bodies) == 0 {
			uv.Default = defaultWords[u.Status]
		}
		v.Updates = append(v.Updates, uv)
	}
	for _, c := range comps {
		if !c.Group && inc.Affects(c.ID) {
			if v.Ended {
				// An ended incident's page says what it did to the
				// component (the worst status its updates gave it), not
				// what the component is now: a later incident's outage
				// is not this one's.
				cc := *c
				cc.Status = worstStatusIn(inc, c.ID)
				c = &cc
			}
			v.Components = append(v.Components, c)
			if !v.Maintenance && inc.Open() && c.Status.Impact().Rank() > v.Impact.Rank() {
				v.Impact = c.Status.Impact()
			}
		}
	}
	if !v.Maintenance {
		started := inc.StartedAt
		if started.IsZero() {
			started = inc.CreatedAt
		}
		end := now
		if inc.ResolvedAt != nil && !inc.Open() {
			end = *inc.ResolvedAt
		}
		v.Open = inc.Open()
		if end.After(started) {
			v.Lasted = end.Sub(started).Truncate(time.Minute)
		}
	}
	return v
}

// buildRows arranges components into the list the page shows: top-level
// components and groups in page order, members under their group;
// components that only show when degraded are left out while operational.
func buildRows(comps []*incident.Component) []*row {
	byID := map[string]*row{}
	for _, c := range comps {
		byID[c.ID] = &row{C: c}
	}
	var top []*row
	for _, c := range comps {
		r := byID[c.ID]
		hidden := c.OnlyShowIfDegraded && c.Status == incident.Operational
		if g := byID[c.GroupID]; c.GroupID != "" && g != nil && g.C.Group {
			if !hidden {
				g.Children = append(g.Children, r)
				if c.Status != incident.Operational {
					g.Open = true
				}
			}
			continue
		}
		if !hidden {
			top = append(top, r)
		}
	}
	// A group with no visible member shows nothing.
	out := top[:0]
	for _, r := range top {
		if r.C.Group && len(r.Children) == 0 {
			continue
		}
		out = append(out, r)
	}
	return out
}

// buildMonths groups incidents by the month they started in, for the last
// historyMonths months, newest first.
func buildMonths(incs []*incView, now time.Time, loc *time.Location) []*month {
	l := now.In(loc)
	ms := make([]*month, historyMonths)
	idx := map[string]*month{}
	for i := range ms {
		start := time.Date(l.Year(), l.Month()-time.Month(i), 1, 0, 0, 0, 0, loc)
		ms[i] = &month{Start: start, Key: start.Format("2006-01")}
		idx[ms[i].Key] = ms[i]
	}
	for _, v := range incs {
		if m := idx[v.Start.Format("2006-01")]; m != nil && !v.Start.After(now) {
			m.Incs = append(m.Incs, v)
		}
	}
	out := ms[:0]
	for _, m := range ms {
		sort.SliceStable(m.Incs, func(i, j int) bool { return m.Incs[i].Start.After(m.Incs[j].Start) })
		if len(m.Incs) == 0 {
			if n := len(out); n > 0 && len(out[n-1].Incs) == 0 {
				out[n-1].Through = m.Start // extends the run of quiet months
				continue
			}
			m.Through = m.Start
		}
		out = append(out, m)
	}
	return out
}

// pastDays is how many days the front page's past incidents cover, today
// included: Statuspage's front page shows 15.
const pastDays = 15

// day is one day of the front page's past incidents.
type day struct {
	Start time.Time // local midnight
	Incs  []*incView
}

// buildPastDays lists the last pastDays days, today first, each with the
// incidents and maintenances that started on it, newest first; a day
// without any is listed too ("No incidents reported."), as Statuspage's
// front page does. incs are newest first.
func buildPastDays(incs []*incView, now time.Time, loc *time.Location) []*day {
	starts := dayStarts(now, loc, pastDays)
	out := make([]*day, len(starts))
	idx := map[string]*day{}
	for i, s := range starts {
		d := &day{Start: s}
		out[len(starts)-1-i] = d
		idx[s.Format(time.DateOnly)] = d
	}
	for _, v := range incs {
		if d := idx[v.Start.Format(time.DateOnly)]; d != nil && !v.Start.After(now) {
			d.Incs = append(d.Incs, v)
		}
	}
	for _, d := range out {
		sort.SliceStable(d.Incs, func(i, j int) bool { return d.Incs[i].Start.After(d.Incs[j].Start) })
	}
	return out
}

// rowKey names everything a top-level row of the component list is
// rendered from, its members included, so an unchanged row is not
// rendered again.
func rowKey(code string, r *row) string {
	var b strings.Builder
	b.WriteString(code)
	var walk func(r *row)
	walk = func(r *row) {
		c := r.C
		b.WriteString("\x00" + c.ID + "\x00" + c.Name + "\x00" + c.Description + "\x00" + string(c.Status))
		if r.Open {
			b.WriteString("\x00open")
		}
		if r.Up != nil {
			br := r.Bars[code]
			b.WriteString("\x00" + strconv.FormatBool(r.Up.HasData) + strconv.FormatFloat(r.Up.Percent, 'f', 2, 64))
			b.WriteString("\x00" + string(br.HTML) + "\x00" + strings.Join(br.Problems, "\x01") + "\x00" + br.Latest)
		}
		for _, ch := range r.Children {
			walk(ch)
		}
		b.WriteString("\x00end")
	}
	walk(r)
	return b.String()
}

// renderedRow is a cached row of the component list.
type renderedRow struct {
	key  string
	html template.HTML
}

// execute renders one named template into a fresh buffer.
func execute(name string, data *pageData, sizeHint int) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(sizeHint)
	if err := pageTemplates.ExecuteTemplate(&buf, name, data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
