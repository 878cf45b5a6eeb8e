package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/locale"
)

// view is what every template gets: the page's data and what the layout
// needs (words, session, anti-forgery token).
type view struct {
	Title     string
	Lang      string
	Langs     []string
	Session   *incident.Session
	CSRF      string
	Path      string
	Live      string // the live stream's URL, when the page has live parts
	PublicURL string
	Nav       string
	Data      any
	words     *locale.Lang
	tz        *time.Location
}

// T returns a word in the view's language; kv fills a pattern's fields.
func (v *view) T(id string, kv ...string) string {
	if len(kv) == 0 {
		if s := v.words.Text(id); s != "" {
			return s
		}
	}
	if p := v.words.Pattern(id); p != nil {
		return p.Fill(kv...)
	}
	if s, ok := v.words.Lookup(id); ok {
		return s
	}
	return id
}

// IncName is the incident's name in the console's language when it has
// one there (--name-hu …), else its name: what that language's customers
// were told it is called.
func (v *view) IncName(inc *incident.Incident) string { return inc.NameIn(v.Lang) }

// Contact names a complainant in a list: their name, else their phone,
// email or Slack user, as herald knows them.
func (v *view) Contact(ct complaint.Contact) string {
	switch {
	case ct.Name != "":
		return ct.Name
	case ct.Phone != "":
		return ct.Phone
	case ct.Email != "":
		return ct.Email
	case ct.Slack != "":
		return v.T("ConsoleSlackUser", "ID", ct.Slack)
	}
	return v.T("ConsoleUnknownContact")
}

// Say is an update's text in the console's language when the manager
// wrote one (--message-hu …), else the default text: a Hungarian agent
// reads, and tells the customer, what Hungarian customers were told.
func (v *view) Say(u *incident.Update) string {
	if u == nil {
		return ""
	}
	return u.Text(v.Lang)
}

// Line is a timeline entry in the console's language: an entry herald
// wrote (complaint.Entry.Event) worded from its details, incidents by
// their names; a person's message or note, and an entry from before
// events were recorded, as written.
func (v *view) Line(e *complaint.Entry, incidents map[string]string) string {
	a := e.Args
	state := func(k string) string { return v.E("ConsoleState", a[k]) }
	person := func(k string) string {
		if a[k] == "" {
			return v.T("ConsoleNobody")
		}
		return a[k]
	}
	inc := func(k string) string {
		if n := incidents[a[k]]; n != "" {
			return n
		}
		return a[k]
	}
	sure := func() string {
		f, err := strconv.ParseFloat(a["confidence"], 64)
		if err != nil {
			return a["confidence"]
		}
		return strconv.Itoa(int(f*100+0.5)) + "\u00a0%"
	}
	due := func(k string) string {
		t, err := time.Parse(time.RFC3339, a[k])
		if err != nil {
			return a[k]
		}
		return v.When(t)
	}
	var kv []string
	key := ""
	switch e.Event {
	case complaint.EventState, complaint.EventCustomerWrote:
		key, kv = "ConsoleEvState", []string{"From", state("from"), "To", state("to")}
		if e.Event == complaint.EventCustomerWrote {
			key = "ConsoleEvCustomerWrote"
		}
	case complaint.EventStateRemedy:
		key, kv = "ConsoleEvStateRemedy", []string{"From", state("from"), "To", state("to"), "Remedy", v.E("ConsoleRemedy", a["remedy"])}
	case complaint.EventOwner:
		key, kv = "ConsoleEvOwner", []string{"From", person("from"), "To", person("to")}
	case complaint.EventTagged:
		key, kv = "ConsoleEvTagged", []string{"Incident", inc("incident")}
		if a["from"] != "" {
			key, kv = "ConsoleEvRetagged", append(kv, "From", inc("from"))
		}
	case complaint.EventUntagged:
		key, kv = "ConsoleEvUntagged", []string{"Incident", inc("incident")}
	case complaint.EventAutoTagged, complaint.EventTriage:
		reason := a["reason"]
		var why []complaint.Why
		if json.Unmarshal([]byte(a["why"]), &why) == nil && len(why) > 0 {
			reason = v.whys(why)
		}
		key, kv = "ConsoleEvAutoTagged", []string{"Incident", inc("incident"), "Confidence", sure(), "Reason", reason}
		if e.Event == complaint.EventTriage {
			key = "ConsoleEvTriage"
		}
	case complaint.EventSLAWarning, complaint.EventSLAEscalated:
		key, kv = "ConsoleEvSLAWarning", []string{"Owner", person("owner"), "Promise", v.E("ConsolePromise", a["promise"]), "Due", due("due")}
		if e.Event == complaint.EventSLAEscalated {
			key = "ConsoleEvSLAEscalated"
		}
	case complaint.EventAckQueued:
		key, kv = "ConsoleEvAckQueued", []string{"Answer", v.E("ConsoleAck", a["answer"])}
	case complaint.EventAckNone:
		key = "ConsoleEvAckNone"
	case complaint.EventAckCall:
		key = "ConsoleEvAckCall"
	case complaint.EventAckLimited:
		key, kv = "ConsoleEvAckLimited", []string{"Max", a["max"], "Window", a["window"]}
	case complaint.EventNotTold:
		key, kv = "ConsoleEvNotTold", []string{"Outcome", a["outcome"]}
	case complaint.EventAckGiven:
		key, kv = "ConsoleEvAckGiven", []string{"At", due("at"), "Ref", a["ref"]}
	}
	if key == "" {
		return e.Text
	}
	if p := v.words.Pattern(key); p != nil {
		return p.Fill(kv...)
	}
	if t := v.words.Text(key); t != "" {
		return t
	}
	return e.Text
}

// OfferLabel is a policy's offer as agents read it in a list, in the
// console's language.
func (v *view) OfferLabel(o compensation.Offer) string {
	return compensation.Words(v.Lang).Label(&o, nil)
}

// Pays is what a credit or refund offer comes to for this customer when
// the offer's words do not say it: a share of the fee ("10 % of the
// monthly fee" names no amount), or an amount the cap cut ("refund of
// 5.00 EUR" records 2.50 EUR). "" when the words already say it.
func (v *view) Pays(o compensation.AnswerOffer) string {
	if !o.Kind.Money() || o.Unavailable != "" || o.Amount.Amount == 0 {
		return ""
	}
	if o.Capped {
		return v.T("ConsoleOfferCapped", "Amount", v.Money(o.Amount))
	}
	if strings.Contains(o.Description, v.Money(o.Amount)) {
		return ""
	}
	return v.T("ConsoleOfferComesTo", "Amount", v.Money(o.Amount))
}

// Money is an amount in the console's language's number format.
func (v *view) Money(m compensation.Money) string { return compensation.Words(v.Lang).Money(m) }

// FormAmount is an amount as an offer form carries it back (the amount
// field parseAmount reads, beside the currency): "7.50", no grouping.
func (v *view) FormAmount(m compensation.Money) string {
	return strings.ReplaceAll(strings.TrimSuffix(m.String(), " "+m.Currency), " ", "")
}

// Why says why a complaint is tagged to its incident in the console's
// language, from the tag's codes; a tag from before codes, by its
// English reason.
func (v *view) Why(t *complaint.Tag) string {
	if t == nil {
		return ""
	}
	if len(t.Why) == 0 {
		return t.Reason
	}
	return v.whys(t.Why)
}

func (v *view) whys(why []complaint.Why) string {
	parts := make([]string, 0, len(why))
	for _, w := range why {
		a := w.Args
		var kv []string
		key := ""
		switch w.Code {
		case complaint.WhyReply, complaint.WhyOnlyOpen:
			key, kv = "ConsoleWhyReply", []string{"Incident", a["incident"]}
			if w.Code == complaint.WhyOnlyOpen {
				key = "ConsoleWhyOnlyOpen"
			}
		case complaint.WhyUses:
			what := lowerFirst(v.E("Component", a["what"]))
			switch code := a["what"]; {
			case code == "maintenance":
				what = v.T("ConsoleWhatMaintenance")
			case code == "incident":
				what = v.T("ConsoleWhatIncident")
			case strings.HasPrefix(code, "impact_"):
				what = v.T("ConsoleWhatIncident") + " (" + v.E("Impact", strings.TrimPrefix(code, "impact_")) + ")"
			}
			key, kv = "ConsoleWhyUses", []string{"Component", a["component"], "What", what, "Since", v.clock(a["since_at"], a["since"])}
			if a["named"] != "" {
				key = "ConsoleWhyNamed"
			}
			if a["until"] != "" {
				key, kv = key+"Ended", append(kv, "Until", v.clock(a["until_at"], a["until"]))
			}
		case complaint.WhyMentions:
			key, kv = "ConsoleWhyMentions", []string{"Words", a["words"]}
		case complaint.WhyResolvedBefore:
			key, kv = "ConsoleWhyResolvedBefore", []string{"Incident", a["incident"], "Minutes", a["minutes"]}
		case complaint.WhyBy:
			key, kv = "ConsoleWhyBy", []string{"Actor", a["actor"]}
		}
		if p := v.words.Pattern(key); p != nil {
			parts = append(parts, p.Fill(kv...))
		}
	}
	return strings.Join(parts, "; ")
}

// lowerFirst lower-cases a label's first letter for the middle of a
// sentence ("Major outage" → "major outage").
func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[n:]
}

// Who is an entry's actor for the reader: "customer" and "system" in
// the console's language, a person by name (incident.ActorName).
func (v *view) Who(actor string) string {
	switch actor {
	case "customer":
		return v.T("ConsoleActorCustomer")
	case "system":
		return v.T("ConsoleActorSystem")
	}
	return incident.ActorName(actor)
}

// N returns a plural word for n.
func (v *view) N(id string, n int, kv ...string) string { return v.words.Plural(id, n, kv...) }

// Manager and Admin say what the session's role may do, for what a page shows.
func (v *view) Manager() bool { return v.Session != nil && v.Session.Role.Allows(incident.RoleManager) }
func (v *view) Admin() bool   { return v.Session != nil && v.Session.Role.Allows(incident.RoleAdmin) }

// When formats a time in the page's time zone, which it names ("17:36
// CET"): the console's reports and the CLI speak UTC, a tag's reason the
// page's zone, and an agent comparing them must not be an hour off.
func (v *view) When(t any) string {
	var tm time.Time
	switch x := t.(type) {
	case time.Time:
		tm = x
	case *time.Time:
		if x == nil {
			return ""
		}
		tm = *x
	default:
		return ""
	}
	if tm.IsZero() {
		return ""
	}
	return tm.In(v.tz).Format("2006-01-02 15:04 MST")
}

// clock is an instant of a tag's reason (RFC 3339) as "15:04 CET" in the
// page's zone now; as written (in the zone of its day) when the reason is
// older than the instants it now carries.
func (v *view) clock(at, written string) string {
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return written
	}
	return t.In(v.tz).Format("15:04 MST")
}

// Ago says how long ago t was, in minutes/hours, for a stressed reader.
func (v *view) Ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return v.T("ConsoleJustNow")
	case d < time.Hour:
		return v.N("ConsoleMinutesAgo", int(d/time.Minute))
	default:
		return v.N("ConsoleHoursAgo", int(d/time.Hour))
	}
}

var funcs = template.FuncMap{
	"lower": strings.ToLower,
	"join":  strings.Join,
	"eq2":   func(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) },
	"in": func(s string, list []string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	},
	"add":  func(a, b int) int { return a + b },
	"list": func(s ...string) []string { return s },
	"pct": func(n, of int) int {
		if of <= 0 {
			return 0
		}
		return n * 100 / of
	},
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
}

// parseViews parses layout.html with each other template into its own
// set, so every page may define "content".
func parseViews() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html")
	if err != nil {
		return nil, err
	}
	views := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" || name == "parts" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return nil, fmt.Errorf("console: parse %s: %w", n, err)
		}
		views[name] = t
	}
	return views, nil
}

// newView fills what the layout needs.
func (cs *Console) newView(c *fiber.Ctx, title string, data any) *view {
	lang := cs.lang(c)
	v := &view{Lang: lang, Langs: cs.cfg.Words.Languages(), Session: session(c), CSRF: cs.csrfToken(c),
		Path: string(c.Request().URI().RequestURI()), PublicURL: cs.cfg.PublicURL, Data: data,
		words: cs.cfg.Words.Lang(lang), tz: time.UTC}
	v.Title = v.T(title)
	return v
}

// render writes a page.
func (cs *Console) render(c *fiber.Ctx, status int, name, title string, data any) error {
	return cs.renderView(c, status, name, cs.newView(c, title, data))
}

func (cs *Console) renderView(c *fiber.Ctx, status int, name string, v *view) error {
	t, ok := cs.views[name]
	if !ok {
		return fmt.Errorf("console: no view %q", name)
	}
	if p, err := cs.page(c.UserContext()); err == nil {
		v.tz = p.Location()
		if v.PublicURL == "" {
			v.PublicURL = p.URL
		}
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return fmt.Errorf("console: render %s: %w", name, err)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(buf.Bytes())
}

// statusOf maps the domain's error codes to HTTP statuses, as server does.
var statusOf = map[string]int{
	incident.EINVALID:      http.StatusUnprocessableEntity,
	incident.ENOTFOUND:     http.StatusNotFound,
	incident.ECONFLICT:     http.StatusConflict,
	incident.EFORBIDDEN:    http.StatusForbidden,
	incident.EUNAUTHORIZED: http.StatusUnauthorized,
	incident.ETRANSITION:   http.StatusUnprocessableEntity,
}

// handleErrors turns a handler's error into an HTML page. The message of
// an internal error goes to the log only.
func (cs *Console) handleErrors(c *fiber.Ctx) error {
	err := c.Next()
	if err == nil {
		return nil
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		status := fe.Code
		word := "ConsoleErrorNotFound"
		if status != http.StatusNotFound {
			word = "ConsoleErrorGeneric"
		}
		return cs.render(c, status, "error", "ConsoleErrorTitle", fiber.Map{"Word": word})
	}
	if cs.cfg.Incidents.Unreachable(err) {
		// The store is away (Redis down or failing over): say so, and
		// that trying again soon is the thing to do.
		cs.unreachableLog.Log(cs.log, slog.LevelWarn, "console request refused: the store is unreachable", "method", c.Method(), "path", c.Path(), "err", err)
		c.Set(fiber.HeaderRetryAfter, "5")
		return cs.render(c, http.StatusServiceUnavailable, "error", "ConsoleErrorTitle", fiber.Map{"Word": "ConsoleErrorUnreachable"})
	}
	code := incident.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		cs.log.Error("console request failed", "method", c.Method(), "path", c.Path(), "err", err)
		return cs.render(c, http.StatusInternalServerError, "error", "ConsoleErrorTitle", fiber.Map{"Word": "ConsoleErrorGeneric"})
	}
	var de *incident.Error
	errors.As(err, &de)
	word, detail := "ConsoleErrorGeneric", ""
	switch {
	case code == incident.EFORBIDDEN && de.Message == "csrf":
		word = "ConsoleErrorCSRF"
	case code == incident.EFORBIDDEN:
		word = "ConsoleErrorRole"
	case code == incident.EUNAUTHORIZED:
		word = "ConsoleErrorSignIn"
	case code == incident.ENOTFOUND:
		word = "ConsoleErrorNotFound"
	default:
		detail = de.Message
		if de.Field != "" {
			detail = de.Field + ": " + detail
		}
	}
	return cs.render(c, status, "error", "ConsoleErrorTitle", fiber.Map{"Word": word, "Detail": detail})
}

// formError is a domain validation error to show beside a form, or "".
func formError(err error) string {
	var de *incident.Error
	if errors.As(err, &de) && (de.Code == incident.EINVALID || de.Code == incident.ETRANSITION || de.Code == incident.ECONFLICT) {
		if de.Field != "" {
			return de.Field + ": " + de.Message
		}
		return de.Message
	}
	return ""
}

// E labels an enum value: the word prefix+CamelValue when the catalogue
// has it, else the value with spaces.
func (v *view) E(prefix string, value any) string {
	s := fmt.Sprint(value)
	var b strings.Builder
	b.WriteString(prefix)
	up := true
	for _, r := range s {
		if r == '_' || r == '-' || r == ' ' {
			up = true
			continue
		}
		if up && r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		up = false
		b.WriteRune(r)
	}
	if w, ok := v.words.Lookup(b.String()); ok {
		return w
	}
	return strings.ReplaceAll(s, "_", " ")
}

// HeldWhy says why a broadcast's messages wait (notify's reasons: "quiet
// hours", "frequency cap") in the console's language, joined.
func (v *view) HeldWhy(reasons []string) string {
	var out []string
	for _, r := range reasons {
		if r != "" {
			out = append(out, v.E("ConsoleHeldWhy", r))
		}
	}
	return strings.Join(out, ", ")
}

// overallIDs maps incident.Overall's descriptions to words (as statuspage does).
var overallIDs = map[string]string{
	"All Systems Operational":    "OverallAllOperational",
	"Minor Service Outage":       "OverallMinorOutage",
	"Partial System Outage":      "OverallPartialOutage",
	"Major Service Outage":       "OverallMajorServiceOutage",
	"Major System Outage":        "OverallMajorSystemOutage",
	"Partially Degraded Service": "OverallDegraded",
	"Service Under Maintenance":  "OverallMaintenance",
}

// Overall is the page's overall status in words.
func (v *view) Overall(p incident.PageStatus) string {
	if id, ok := overallIDs[p.Description]; ok {
		return v.T(id)
	}
	return p.Description
}
