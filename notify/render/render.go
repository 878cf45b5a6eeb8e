// Package render turns an incident, its update and a recipient into the
// message each channel sends: SMS text within its segment budget, email
// (subject, text and HTML), Slack Block Kit and the webhook JSON, in the
// recipient's language from the templates in configs/templates (or an
// override folder) and the words of the catalogue in package locale. The
// renderer refuses to start unless every message kind has a template for
// every channel and language.
package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	htmltemplate "html/template"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/incident/wire"
	"github.com/heraldhq/herald/locale"
	"github.com/heraldhq/herald/notify/contact"
	"github.com/heraldhq/herald/notify/sms"
	"github.com/heraldhq/herald/queue"
)

// ConfirmChannels are the channels a subscription confirmation is sent on;
// webhook and Slack subscribers are confirmed at once (as Statuspage does).
var ConfirmChannels = []channel.Kind{channel.SMS, channel.Email}

// NoticeKinds are the messages about a subscription rather than an
// incident, each with a template per ConfirmChannels channel and language:
// the confirmation, and the notice that an address is subscribed already.
var NoticeKinds = []queue.MessageKind{queue.KindConfirm, queue.KindSubscribed}

// MessageKinds lists every kind; the renderer refuses to start unless each has
// a template for every templated channel and language.
var MessageKinds = []queue.MessageKind{queue.KindAck, queue.KindUpdate, queue.KindResolved, queue.KindMaintenanceScheduled,
	queue.KindMaintenanceStarted, queue.KindMaintenanceCompleted, queue.KindComplaintAck, queue.KindComplaintReceived,
	queue.KindComplaintAnswer, queue.KindComplaintResolved, queue.KindSurvey, queue.KindCompensation}

// EmailKinds are the messages that answer an email and go by email
// only, each with an email template per language: the request for the
// score a reply to the survey did not give, and the thanks for one that
// gave it.
var EmailKinds = []queue.MessageKind{queue.KindSurveyAsk, queue.KindSurveyThanks}

// TemplateChannels are the channels rendered from template files; Webhook is
// rendered from the incident as JSON and needs none.
var TemplateChannels = []channel.Kind{channel.SMS, channel.Email, channel.Slack}

// KindForBroadcast maps an outbox entry's kind to the message it sends.
func KindForBroadcast(b incident.BroadcastKind) (queue.MessageKind, bool) {
	switch b {
	case incident.BroadcastDeclared:
		return queue.KindAck, true
	case incident.BroadcastUpdated:
		return queue.KindUpdate, true
	case incident.BroadcastResolved:
		return queue.KindResolved, true
	case incident.BroadcastScheduled:
		return queue.KindMaintenanceScheduled, true
	case incident.BroadcastStarted:
		return queue.KindMaintenanceStarted, true
	case incident.BroadcastCompleted:
		return queue.KindMaintenanceCompleted, true
	case incident.BroadcastCompensation:
		return queue.KindCompensation, true
	}
	return "", false
}

// DefaultMaxSMSSegments is the SMS budget when Input leaves it at 0:
// two segments is 306 GSM-7 or 134 UCS-2 characters, within Twilio's advice.
const DefaultMaxSMSSegments = 2

// DefaultWebhookDocumentation is meta.documentation in webhook payloads.
const DefaultWebhookDocumentation = "https://github.com/heraldhq/herald/blob/main/docs/webhooks.md"

// Slack's limits on a header block's text and a section's text.
const (
	slackHeaderMax  = 150
	slackSectionMax = 3000
)

// Recipient is who a message is for, as far as wording goes.
type Recipient struct {
	Name     string // shown in the greeting when the language's greeting has a place for it
	Language string // any tag ("hu-HU"); falls back to the page's first language, then en
	TimeZone string // IANA name; falls back to the page's time zone
	// Type words the email footer's reason: a customer of the page ("" too)
	// or a subscriber to its updates.
	Type queue.RecipientType
}

// Input is everything one message is made from.
type Input struct {
	Kind     queue.MessageKind
	Page     *incident.Page
	Status   incident.PageStatus // the page's overall status when the message is made (webhook page object)
	Incident *incident.Incident
	// Update is the update the message announces; nil takes the incident's newest.
	Update *incident.Update
	// Components are the page's components; the message names those the
	// incident lists (ComponentIDs), in this order.
	Components     []*incident.Component
	Recipient      Recipient
	UnsubscribeURL string // one-click unsubscribe (List-Unsubscribe, webhook meta.unsubscribe)
	ManageURL      string // preferences page
	SurveyURL      string // KindSurvey only
	// A complaint's messages: its reference, by when a person answers
	// (KindComplaintReceived), and the agent's words or the outcome
	// (KindComplaintAnswer). Incident is the complaint's incident, or an
	// empty one when it has none.
	Ref    string
	Due    time.Time
	Answer string
	// Call: the complaint is a call an agent recorded, so its
	// acknowledgement thanks for the call, not for a message.
	Call bool
	// Compensation is the recipient's compensation line (update and
	// resolution messages to customers): what they will receive, or that
	// it is being decided; "" says nothing.
	Compensation   string
	MaxSMSSegments int // 0 means DefaultMaxSMSSegments
	// Documentation overrides DefaultWebhookDocumentation.
	Documentation string
	// Now stamps meta.generated_at; zero means time.Now.
	Now time.Time
}

// Renderer turns an Input into a Message for one channel. It is the one
// place messages are worded; it is safe for concurrent use.
type Renderer struct {
	langs  map[string]*langTemplates
	layout *htmltemplate.Template
	zones  sync.Map // time zone name → *time.Location
	fits   fitMemo  // complaint answers' SMS fits (fitSMS)
}

type langTemplates struct {
	lang string
	cat  *locale.Lang
	// labels are the words templates see as .L: every catalogue message that
	// takes no data, by ID, and by its labelNames name. Made once at load.
	labels   map[string]string
	statuses map[incident.Status]string
	// Messages with the page's or the recipient's name in them.
	greetingNamed              *locale.Pattern
	greetsByName               bool // greetingNamed shows the name (pl and hr do not)
	signoff                    *locale.Pattern
	whyCustomer, whySubscriber *locale.Pattern
	whyConfirm, whyComplaint   *locale.Pattern
	files                      map[string]*texttemplate.Template // "<kind>.<channel>" → parsed file
}

// labelNames are the names message templates knew the catalogue's words
// by when they were defined in <lang>/labels.tmpl: .L.started, .L.window,
// plural "affects". Templates, built-in or in an override folder, keep
// working with them; the catalogue IDs work too (.L.Started).
var labelNames = map[string]string{
	"status.investigating": "StatusInvestigating", "status.identified": "StatusIdentified",
	"status.monitoring": "StatusMonitoring", "status.resolved": "StatusResolved", "status.postmortem": "StatusPostmortem",
	"status.scheduled": "StatusScheduled", "status.in_progress": "StatusInProgress", "status.verifying": "StatusVerifying",
	"status.completed": "StatusCompleted",
	"status":           "StatusLabel", "started": "Started", "resolved": "StatusResolved", "window": "Window",
	"updated": "Posted", "view": "FollowOnStatusPage", "survey": "AnswerSurvey", "manage": "ManageNotifications",
	"unsubscribe": "UnsubscribeLink", "confirm": "ConfirmSubscription", "greeting": "Greeting",
	"time.long": "TimeLong", "time.short": "TimeShort",
}

// pluralNames are labelNames' plural messages, for the template function
// plural.
var pluralNames = map[string]string{"affects": "Affects", "affects.maintenance": "AffectsMaintenance"}

// labelsOverride is where an override folder rewords a language's
// catalogue messages for messages (the status page keeps the built-in
// words): a go-i18n TOML file with catalogue IDs, as in
// locale/translations/<lang>.toml.
func labelsOverride(lang string) string { return lang + "/labels.toml" }

// New loads the templates from fsys (configs.TemplatesFS()), each file
// replaced by the same path in override when override has it (nil: none).
// Paths are <lang>/<kind>.<channel>.tmpl and layout.email.html; the words
// come from the locale catalogue, which override may reword per language
// in <lang>/labels.toml. It fails unless every kind × templated channel ×
// language is present, parses, defines the blocks its channel needs, and
// renders a sample message (a misspelt field fails here, not at 3 a.m.).
func New(fsys, override fs.FS) (*Renderer, error) {
	read := func(name string) ([]byte, error) {
		if override != nil {
			b, err := fs.ReadFile(override, name)
			if err == nil {
				return b, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("notify: template override %s: %w", name, err)
			}
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("notify: template %s: %w", name, err)
		}
		return b, nil
	}
	if override != nil {
		if err := checkOverrideNames(override); err != nil {
			return nil, err
		}
	}
	cat, err := catalogue(override)
	if err != nil {
		return nil, err
	}
	r := &Renderer{langs: make(map[string]*langTemplates)}
	b, err := read("layout.email.html")
	if err != nil {
		return nil, err
	}
	if r.layout, err = htmltemplate.New("layout.email.html").Parse(string(b)); err != nil {
		return nil, fmt.Errorf("notify: template layout.email.html: %w", err)
	}
	var errs []error
	for _, lang := range incident.Languages {
		lt, err := loadLanguage(cat.Lang(lang), read)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.langs[lang] = lt
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := r.selfTest(); err != nil {
		return nil, err
	}
	for lang := range r.langs {
		for _, ch := range ConfirmChannels {
			page := &incident.Page{ID: "p", Name: "Sample Company", URL: "https://status.example-company.com"}
			m, err := r.RenderConfirm(ch, page, Recipient{Language: lang}, "https://status.example-company.com/subscriptions/confirm/abcdefghijklmnopqrstuvwxyz0123456789", "123456")
			if err != nil {
				return nil, fmt.Errorf("notify: template %s/confirm.%s: %w", lang, ch, err)
			}
			if _, _, n := sms.Segments(m.Text); ch == channel.SMS && n > DefaultMaxSMSSegments {
				return nil, fmt.Errorf("notify: sms template %s/confirm.sms does not fit %d segments even without its variable text", lang, DefaultMaxSMSSegments)
			}
		}
	}
	return r, nil
}

// checkOverrideNames refuses a template file in the override folder that
// herald would never read, such as "en/ack.sms.tpl", "en/acknowledgement.sms.tmpl"
// or a language herald does not ship: it would be ignored without a word,
// and the built-in text sent instead. Files of other types (a README) are
// left alone.
func checkOverrideNames(override fs.FS) error {
	known := map[string]bool{"layout.email.html": true}
	for _, lang := range incident.Languages {
		known[labelsOverride(lang)] = true
		for _, kind := range MessageKinds {
			for _, ch := range TemplateChannels {
				known[lang+"/"+string(kind)+"."+string(ch)+".tmpl"] = true
			}
		}
		for _, kind := range NoticeKinds {
			for _, ch := range ConfirmChannels {
				known[lang+"/"+string(kind)+"."+string(ch)+".tmpl"] = true
			}
		}
		for _, kind := range EmailKinds {
			known[lang+"/"+string(kind)+".email.tmpl"] = true
		}
	}
	var errs []error
	err := fs.WalkDir(override, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || known[name] || !(strings.HasSuffix(name, ".tmpl") || strings.HasSuffix(name, ".html") || strings.HasSuffix(name, ".toml")) {
			return nil
		}
		if path.Base(name) == "labels.tmpl" {
			errs = append(errs, fmt.Errorf("notify: template override %s: labels are no longer templates; reword them in %s with the IDs of locale/translations/%s.toml (status.investigating is StatusInvestigating, started is Started, …)",
				name, path.Join(path.Dir(name), "labels.toml"), path.Dir(name)))
			return nil
		}
		errs = append(errs, fmt.Errorf("notify: template override %s is not a template herald reads (paths are <lang>/<kind>.<channel>.tmpl, <lang>/labels.toml and layout.email.html; languages %s)",
			name, strings.Join(incident.Languages, ", ")))
		return nil
	})
	if err != nil {
		return fmt.Errorf("notify: template override: %w", err)
	}
	return errors.Join(errs...)
}

// RenderConfirm makes a subscription confirmation for channel ch (SMS or
// Email): the email carries confirmURL as its link and button, the SMS the
// code (and the words to reply). The page's name is the only variable text.
func (r *Renderer) RenderConfirm(ch channel.Kind, page *incident.Page, rcpt Recipient, confirmURL, code string) (*channel.Message, error) {
	return r.RenderNotice(queue.KindConfirm, ch, page, rcpt, confirmURL, code)
}

// RenderNotice makes a message of one of NoticeKinds for channel ch (SMS
// or Email): link is the email's link and button (the confirmation link,
// or for KindSubscribed the unsubscribe link), code the SMS confirmation
// code ("" for KindSubscribed).
func (r *Renderer) RenderNotice(kind queue.MessageKind, ch channel.Kind, page *incident.Page, rcpt Recipient, link, code string) (*channel.Message, error) {
	if page == nil {
		return nil, incident.Invalid("page", "a subscription notice needs a page")
	}
	if kind != queue.KindConfirm && kind != queue.KindSubscribed {
		return nil, incident.Invalid("kind", "%q is not a subscription notice", kind)
	}
	confirmURL := link
	in := Input{Kind: kind, Page: page, Incident: &incident.Incident{}, Recipient: rcpt}
	lt := r.langs[r.Language(in)]
	v := &view{Lang: lt.lang, Page: page.Name, Link: confirmURL, Code: code, L: lt.labels, Greeting: lt.labels["Greeting"]}
	v.Signoff = lt.signoff.Fill("Page", v.Page)
	m := &channel.Message{Kind: ch, Language: lt.lang, SenderName: page.Name}
	var err error
	switch ch {
	case channel.SMS:
		m.Text, err = r.renderSMS(lt, in, v)
	case channel.Email:
		err = r.renderEmail(lt, in, v, m)
	default:
		return nil, incident.Invalid("channel", "confirmations go by sms or email, not %q", ch)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// catalogue is the locale catalogue with override's <lang>/labels.toml
// files laid over it, the built-in one when there are none.
func catalogue(override fs.FS) (*locale.Catalogue, error) {
	var over []locale.Override
	if override != nil {
		for _, lang := range incident.Languages {
			name := labelsOverride(lang)
			b, err := fs.ReadFile(override, name)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("notify: template override %s: %w", name, err)
			}
			over = append(over, locale.Override{Lang: lang, Name: "template override " + name, Data: b})
		}
	}
	var cat *locale.Catalogue
	var err error
	if len(over) == 0 {
		cat, err = locale.Default()
	} else {
		cat, err = locale.New(over...)
	}
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	return cat, nil
}

func loadLanguage(cl *locale.Lang, read func(string) ([]byte, error)) (*langTemplates, error) {
	lang := cl.Code()
	lt := &langTemplates{lang: lang, cat: cl, labels: cl.Static(), statuses: map[incident.Status]string{},
		files: make(map[string]*texttemplate.Template)}
	var errs []error
	for name, id := range labelNames {
		s, ok := cl.Lookup(id)
		if !ok {
			errs = append(errs, fmt.Errorf("notify: label %s: the catalogue has no message %s without data", name, id))
		}
		lt.labels[name] = s
	}
	for name, id := range pluralNames {
		if !cl.IsPlural(id) {
			errs = append(errs, fmt.Errorf("notify: plural %s: the catalogue has no plural message %s", name, id))
		}
	}
	for _, st := range append(append([]incident.Status{}, incident.IncidentStatuses...), incident.MaintenanceStatuses...) {
		lt.statuses[st] = lt.labels["status."+string(st)]
	}
	for _, p := range []struct {
		to    **locale.Pattern
		id    string
		field string
	}{
		{&lt.greetingNamed, "GreetingNamed", ""}, {&lt.signoff, "Signoff", "Page"},
		{&lt.whyCustomer, "WhyCustomer", "Page"}, {&lt.whySubscriber, "WhySubscriber", "Page"}, {&lt.whyConfirm, "WhyConfirm", "Page"},
		{&lt.whyComplaint, "WhyComplaint", "Page"},
	} {
		*p.to = cl.Pattern(p.id)
		if *p.to == nil || p.field != "" && !(*p.to).Uses(p.field) {
			errs = append(errs, fmt.Errorf("notify: the catalogue's %s %s lacks {{.%s}}", lang, p.id, p.field))
			*p.to = &locale.Pattern{}
		}
	}
	lt.greetsByName = lt.greetingNamed.Uses("Name")
	funcs := texttemplate.FuncMap{
		"plural": lt.plural,
		"join":   func(list []string) string { return strings.Join(list, ", ") },
	}
	// Every message kind on every channel, the notices on the
	// confirmation channels, and the email-only kinds: one file each.
	type file struct {
		kind queue.MessageKind
		ch   channel.Kind
	}
	var files []file
	for _, kind := range MessageKinds {
		for _, ch := range TemplateChannels {
			files = append(files, file{kind, ch})
		}
	}
	for _, kind := range NoticeKinds {
		for _, ch := range ConfirmChannels {
			files = append(files, file{kind, ch})
		}
	}
	for _, kind := range EmailKinds {
		files = append(files, file{kind, channel.Email})
	}
	for _, f := range files {
		name := string(f.kind) + "." + string(f.ch)
		path := lang + "/" + name + ".tmpl"
		b, err := read(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t, err := texttemplate.New(name).Funcs(funcs).Parse(string(b))
		if err != nil {
			errs = append(errs, fmt.Errorf("notify: template %s: %w", path, err))
			continue
		}
		var need []string
		switch f.ch {
		case channel.Email:
			need = []string{"subject", "text"}
		case channel.Slack:
			need = []string{"header", "text"}
		}
		for _, block := range need {
			if t.Lookup(block) == nil {
				errs = append(errs, fmt.Errorf("notify: template %s: block %q is missing", path, block))
			}
		}
		lt.files[name] = t
	}
	return lt, errors.Join(errs...)
}

// plural renders plural message key (a catalogue ID, or its pluralNames
// name) for the count n.
func (lt *langTemplates) plural(key string, n int) string {
	if id, ok := pluralNames[key]; ok {
		key = id
	}
	return lt.cat.Plural(key, n)
}

// view is what templates see. Every string is plain text; the renderer
// escapes it for the channel (HTML, Slack mrkdwn) or assembles JSON itself.
type view struct {
	Lang           string
	Page           string // page name
	Name           string // incident name
	Body           string // the announced update's text
	Status         string // that update's status, worded in the language
	StatusCode     string // the same, as the API enum (investigating, …)
	Impact         string
	Link           string // incident page
	ReportURL      string // the status page's form to report a problem with the incident, in the language
	ShortLink      string // short link for SMS, with the language (ShortLangURL)
	Started        string // times in the recipient's zone, worded per language
	Resolved       string
	Updated        string
	ScheduledFor   string
	ScheduledUntil string
	Maintenance    bool     // the incident is a maintenance (a complaint about it is no fault being fixed)
	Components     []string // names of the components the incident affects
	ComponentCount int
	Recipient      string
	Greeting       string
	Signoff        string
	SurveyURL      string
	UnsubscribeURL string
	ManageURL      string
	Code           string            // KindConfirm: the SMS confirmation code
	Ref            string            // a complaint's reference
	Call           bool              // the complaint is a call an agent recorded
	Due            string            // when a person answers a complaint, worded in the recipient's zone
	Compensation   string            // the recipient's compensation line, or ""
	L              map[string]string // the language's words: catalogue IDs and labelNames
	// shortLinkBare is ShortLink without the language, which an SMS uses
	// when the language's characters would cut the operator's text or the
	// incident name (renderSMS).
	shortLinkBare string
}

// Render makes the message for channel ch. Errors: incident.Invalid for an
// input it cannot render (no page or incident, unknown kind or channel).
func (r *Renderer) Render(ch channel.Kind, in Input) (*channel.Message, error) {
	if in.Page == nil || in.Incident == nil {
		return nil, incident.Invalid("incident", "a message needs a page and an incident")
	}
	if slices.Contains(EmailKinds, in.Kind) {
		if ch != channel.Email {
			return nil, incident.Invalid("channel", "a %s message goes by email only, not %q", in.Kind, ch)
		}
	} else if !validKind(in.Kind) {
		return nil, incident.Invalid("kind", "unknown message kind %q", in.Kind)
	}
	lt := r.langs[r.Language(in)]
	m := &channel.Message{Kind: ch, Language: lt.lang, UnsubscribeURL: in.UnsubscribeURL, SenderName: in.Page.Name}
	v := r.view(lt, in)
	var err error
	switch ch {
	case channel.SMS:
		m.Text, err = r.renderSMS(lt, in, v)
	case channel.Email:
		err = r.renderEmail(lt, in, v, m)
	case channel.Slack:
		err = r.renderSlack(lt, in, v, m)
	case channel.Webhook:
		m.Payload, err = WebhookPayload(in)
		m.Headers = map[string]string{"Content-Type": "application/json"}
	default:
		return nil, incident.Invalid("channel", "unknown channel %q", ch)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

func validKind(k queue.MessageKind) bool {
	for _, x := range MessageKinds {
		if x == k {
			return true
		}
	}
	return false
}

// language walks the fallback chain: the recipient's language, the page's
// first language, English.
func (r *Renderer) Language(in Input) string {
	var chain []string
	chain = append(chain, in.Recipient.Language)
	if len(in.Page.Languages) > 0 {
		chain = append(chain, in.Page.Languages[0])
	}
	for _, l := range chain {
		if base, ok := contact.LanguageBase(l); ok {
			if _, ok := r.langs[base]; ok {
				return base
			}
		}
	}
	return "en"
}

func (r *Renderer) location(in Input) *time.Location {
	for _, name := range []string{in.Recipient.TimeZone, in.Page.TimeZone} {
		if name == "" || name == "Local" {
			continue
		}
		if loc, ok := r.zones.Load(name); ok {
			return loc.(*time.Location)
		}
		if loc, err := time.LoadLocation(name); err == nil {
			r.zones.Store(name, loc)
			return loc
		}
	}
	return time.UTC
}

func (r *Renderer) view(lt *langTemplates, in Input) *view {
	inc := in.Incident
	upd := in.Update
	if upd == nil && len(inc.Updates) > 0 {
		upd = inc.Updates[0]
	}
	loc := r.location(in)
	long := lt.labels["TimeLong"]
	short := lt.labels["TimeShort"]
	format := func(t *time.Time, layout string) string {
		if t == nil || t.IsZero() {
			return ""
		}
		return localMonth(t.In(loc), layout, lt.labels)
	}
	v := &view{
		Lang:           lt.lang,
		Page:           in.Page.Name,
		Name:           messageName(inc.NameIn(lt.lang)),
		Impact:         string(inc.Impact),
		Link:           LangURL(in.Page.IncidentURL(inc.ID), in.Page, lt.lang),
		ReportURL:      LangURL(strings.TrimRight(in.Page.URL, "/")+"/report?incident="+url.QueryEscape(inc.ID), in.Page, lt.lang),
		ShortLink:      ShortLangURL(in.Page.ShortURL(inc.ID), in.Page, lt.lang),
		shortLinkBare:  in.Page.ShortURL(inc.ID),
		Started:        format(&inc.StartedAt, long),
		Resolved:       format(inc.ResolvedAt, long),
		ScheduledFor:   format(inc.ScheduledFor, long),
		ScheduledUntil: format(inc.ScheduledUntil, long),
		Maintenance:    inc.IsMaintenance(),
		Recipient:      in.Recipient.Name,
		SurveyURL:      in.SurveyURL,
		UnsubscribeURL: in.UnsubscribeURL,
		ManageURL:      in.ManageURL,
		Compensation:   strings.TrimSpace(in.Compensation),
		L:              lt.labels,
	}
	status := inc.Status
	if upd != nil {
		v.Body = strings.TrimSpace(upd.Text(lt.lang)) // the operator's text in the recipient's language, if written
		if body, id := incident.AutomaticWords(upd.Status); body != "" && (v.Body == body || v.Body == lt.cat.Text(id)) {
			// herald's own words for a step taken without a text (a
			// maintenance scheduled, started or completed on time, a
			// resolve): the message's template says so already, and
			// would otherwise repeat them ("The planned maintenance is
			// complete: X. … The scheduled maintenance has been
			// completed.", "What happened and what we did: This
			// incident has been resolved.").
			v.Body = ""
		}
		v.Updated = format(&upd.DisplayAt, long)
		status = upd.Status
	}
	v.StatusCode = string(status)
	v.Status = lt.statuses[status]
	if v.Status == "" {
		v.Status = string(status)
	}
	if in.Kind == queue.KindMaintenanceScheduled || in.Kind == queue.KindMaintenanceStarted || in.Kind == queue.KindComplaintAck && v.Maintenance {
		// In an SMS the window must stay short; the email shows the same
		// strings, which read fine there too.
		v.ScheduledFor = format(inc.ScheduledFor, short)
		v.ScheduledUntil = format(inc.ScheduledUntil, short)
	}
	for _, c := range in.Components {
		if inc.Affects(c.ID) && !c.Group {
			v.Components = append(v.Components, c.Name)
		}
	}
	v.ComponentCount = len(v.Components)
	if isComplaint(in.Kind) {
		v.Ref, v.Due, v.Call = in.Ref, format(&in.Due, short), in.Call
		if inc.ID == "" { // a complaint about no incident: the page itself
			v.Link = LangURL(in.Page.URL, in.Page, lt.lang)
			v.ShortLink, v.shortLinkBare = v.Link, in.Page.URL
		}
		if in.Kind == queue.KindComplaintAnswer {
			v.Body = strings.TrimSpace(in.Answer)
		}
	}
	if v.Recipient != "" && lt.greetsByName {
		v.Greeting = lt.greetingNamed.Fill("Name", v.Recipient)
	} else {
		v.Greeting = lt.labels["Greeting"]
	}
	v.Signoff = lt.signoff.Fill("Page", v.Page)
	return v
}

func execute(t *texttemplate.Template, name string, v *view) (string, error) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, v); err != nil {
		return "", fmt.Errorf("notify: render %s/%s: %w", t.Name(), name, err)
	}
	return buf.String(), nil
}

// Sentinels mark the variable parts of an SMS while its fixed text is laid
// out; control characters never survive smsClean, so they cannot collide.
const (
	slotBody = "\x00B\x00"
	slotName = "\x00N\x00"
	slotPage = "\x00P\x00"
)

// fillSlots replaces the slots' sentinels in layout with their values (as
// strings.NewReplacer(slotBody, …, slotName, …, slotPage, …).Replace,
// without building a replacer for every try while an SMS is fitted).
func fillSlots(layout string, vals map[string]string) string {
	var b strings.Builder
	b.Grow(len(layout) + len(vals[slotBody]) + len(vals[slotName]) + len(vals[slotPage]))
	for {
		i := strings.IndexByte(layout, 0)
		if i < 0 || i+3 > len(layout) {
			b.WriteString(layout)
			return b.String()
		}
		b.WriteString(layout[:i])
		switch sentinel := layout[i : i+3]; sentinel {
		case slotBody, slotName, slotPage:
			b.WriteString(vals[sentinel])
			layout = layout[i+3:]
		default:
			b.WriteByte(0)
			layout = layout[i+1:]
		}
	}
}

// squeezeSpace replaces each run of ASCII white space with one space
// (as the regexp [ \t\r\n\f\v]+ → " ", which it replaced: an SMS is
// laid out several times while it is fitted, and the regexps were most
// of rendering a complaint's acknowledgement).
func squeezeSpace(s string) string {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v' }
	clean := true
	for i := 0; i < len(s); i++ {
		if isSpace(s[i]) && (s[i] != ' ' || i+1 < len(s) && isSpace(s[i+1])) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if !isSpace(s[i]) {
			b = append(b, s[i])
			continue
		}
		b = append(b, ' ')
		for i+1 < len(s) && isSpace(s[i+1]) {
			i++
		}
	}
	return string(b)
}

// dropSpaceBeforePunct removes a space before . , ; : ! ? and ) (as the
// regexp " ([.,;:!?)])" → "$1").
func dropSpaceBeforePunct(s string) string {
	punct := func(c byte) bool { return strings.IndexByte(".,;:!?)", c) >= 0 }
	at := -1
	for i := 0; i+1 < len(s); i++ {
		if s[i] == ' ' && punct(s[i+1]) {
			at = i
			break
		}
	}
	if at < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:at]...)
	for i := at; i < len(s); i++ {
		if s[i] == ' ' && i+1 < len(s) && punct(s[i+1]) {
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

// dropStopAfterEllipsis removes a full stop right after an ellipsis
// ("…." and "...." read as a typo): a slot cut with an ellipsis often
// stands before the template's own full stop.
func dropStopAfterEllipsis(s string) string {
	if !strings.Contains(s, "….") && !strings.Contains(s, "....") {
		return s
	}
	for strings.Contains(s, "….") {
		s = strings.ReplaceAll(s, "….", "…")
	}
	for strings.Contains(s, "....") {
		s = strings.ReplaceAll(s, "....", "...")
	}
	return s
}

// smsClean folds all white space to single spaces and drops other control
// characters: an SMS is one paragraph.
func smsClean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return ' '
		}
		if unicode.IsControl(r) || r == utf8.RuneError || invisible(r) {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(squeezeSpace(s))
}

// invisible reports whether r shows nothing and joins no emoji (a soft
// hyphen, a zero-width space, a word joiner, a byte order mark): it would
// cost a character of the SMS, and make it UCS-2.
func invisible(r rune) bool {
	return r == '\u00ad' || r == '\u200b' || r == '\u2060' || r == '\ufeff'
}

// foldSMS reports whether an SMS laid out as layout (without its optional
// text) with the slots' vals travels as GSM-7 once its typographic
// punctuation is folded (sms.Transliterate): only then is it folded. A
// message with a letter GSM-7 lacks (ő, ł, č) is UCS-2 anyway, and keeps
// „odrzucono”, “declined” and – as written.
func foldSMS(layout string, vals map[string]string) bool {
	variants := optionalText(layout)
	return sms.IsGSM7(sms.Transliterate(fillSlots(variants[len(variants)-1], vals)))
}

// maxSMSBodySegments is the most segments an SMS may take when its fixed
// text alone outgrows the budget: Twilio refuses bodies over 1600
// characters, ten segments of GSM-7.
const maxSMSBodySegments = 10

// renderSMS lays the template out with the page name, incident name and
// update text as slots, then fills them until the message fits the segment
// budget. First it drops the template's optional courtesy text (written
// [[like this]]), then it cuts the update text, then the incident name, then
// the page name. The operator's text is worth more than the budget's last
// segment: a message in UCS-2 (Hungarian, Polish, Croatian: 67 characters a
// segment) takes one segment more rather than cut it, as a compensation line
// does. The fixed text, and so the link, is never cut. When the fixed text
// alone does not fit (a long page address in a UCS-2 language), the budget
// grows to the fewest segments that hold it, so the message still goes out;
// a dry run counts those segments. selfTest holds the built-in sample page
// to the budget, so a template too long for any page fails at start.
// Typographic punctuation is folded to GSM-7 first (sms.Transliterate), so
// one curly apostrophe does not turn an English message into UCS-2.
//
// The short link carries the recipient's language (/i/ID/hu) unless those
// characters cost the operator's text or the incident name some of theirs:
// then the bare link goes, and the page opens in the phone browser's
// language instead.
func (r *Renderer) renderSMS(lt *langTemplates, in Input, v *view) (string, error) {
	msg, cut, err := r.fitSMS(lt, in, v)
	if err != nil || cut == 0 {
		return msg, err
	}
	// One emoji in the incident's or the page's name turns the whole SMS
	// into UCS-2 (67 characters a segment instead of 153): when the
	// message had to cut text, it goes without the names' emoji if that
	// keeps more of the text than the emoji it drops.
	if plain, dropped := withoutEmoji(v); dropped > 0 {
		if msg2, cut2, err := r.fitSMS(lt, in, plain); err == nil && cut2+dropped < cut {
			msg, cut, v = msg2, cut2+dropped, plain
		}
	}
	if cut == 0 || v.shortLinkBare == "" || v.shortLinkBare == v.ShortLink {
		return msg, nil
	}
	bare := *v
	bare.ShortLink = v.shortLinkBare
	if msg2, cut2, err := r.fitSMS(lt, in, &bare); err == nil && cut2 < cut {
		return msg2, nil
	}
	return msg, nil
}

// withoutEmoji returns a copy of v whose incident and page names have no
// emoji (pictographs, their modifiers, joiners and variation selectors:
// nothing GSM-7 can carry), and how many characters that dropped.
func withoutEmoji(v *view) (*view, int) {
	dropped := 0
	strip := func(s string) string {
		if sms.IsGSM7(s) {
			return s
		}
		n := 0
		out := strings.Map(func(r rune) rune {
			if unicode.In(r, unicode.So, unicode.Sk, unicode.Me) && !sms.IsGSM7(string(r)) ||
				r == '\u200d' || r == '\ufe0e' || r == '\ufe0f' {
				n++
				return -1
			}
			return r
		}, s)
		if out = strings.TrimSpace(squeezeSpace(out)); out == "" {
			return s // a name of emoji alone keeps them: no name is worse
		}
		dropped += n
		return out
	}
	c := *v
	c.Name, c.Page = strip(v.Name), strip(v.Page)
	return &c, dropped
}

// fitSMS is renderSMS for one view; cut is how many characters of the
// operator's text, the incident name and the page name it had to drop.
func (r *Renderer) fitSMS(lt *langTemplates, in Input, v *view) (msg string, cut int, err error) {
	max := in.MaxSMSSegments
	if max <= 0 {
		max = DefaultMaxSMSSegments
	}
	if v.Compensation != "" && in.Kind != queue.KindCompensation && max < maxSMSBodySegments {
		// What the customer gets is worth a segment more than the budget,
		// rather than an incident name cut short to make room for it.
		max++
	}
	vals := map[string]string{slotBody: smsClean(v.Body), slotName: smsClean(v.Name), slotPage: smsClean(v.Page)}
	sv := *v
	sv.Body, sv.Name, sv.Page = slotOrEmpty(vals[slotBody], slotBody), slotOrEmpty(vals[slotName], slotName), slotOrEmpty(vals[slotPage], slotPage)
	t := lt.files[string(in.Kind)+".sms"]
	layout, err := execute(t, t.Name(), &sv)
	if err != nil {
		return "", 0, err
	}
	layout = strings.Map(func(r rune) rune {
		if r == 0 {
			return 0 // keep the sentinels
		}
		if unicode.IsSpace(r) {
			return ' '
		}
		if invisible(r) {
			return -1
		}
		return r
	}, layout)
	// Typographic punctuation is folded to GSM-7 when that makes the
	// whole message GSM-7 (one curly apostrophe would make an English
	// message UCS-2, 67 characters a segment instead of 153); a message
	// that is UCS-2 anyway keeps it as written.
	fold := foldSMS(layout, vals)
	if fold {
		layout = sms.Transliterate(layout)
		for slot, val := range vals {
			vals[slot] = sms.Transliterate(val)
		}
	}
	// A complaint's reference is the one thing in its answer that differs
	// from the next complaint's about the same incident; references are
	// all the same length in GSM-7's basic characters, so the fitting
	// comes out the same for every one. The fit is kept with the
	// reference masked and reused for the next complaint (a storm of
	// complaints about one incident fits its answer once).
	ref := in.Ref
	memo := plainRef(ref) && strings.Contains(layout, ref) && !strings.Contains(layout, refMark) &&
		!strings.Contains(vals[slotBody], ref) && !strings.Contains(vals[slotName], ref) && !strings.Contains(vals[slotPage], ref)
	var key string
	if memo {
		key = fitKey(max, len(ref), strings.ReplaceAll(layout, ref, refMark), vals)
		if f, ok := r.fits.get(key); ok {
			return strings.ReplaceAll(f.msg, refMark, ref), f.cut, nil
		}
	}
	msg, cut, err = fitLayout(lt, in, layout, vals, max)
	if err == nil && !fold && sms.IsGSM7(sms.Transliterate(msg)) {
		// The cut took the letters that made it UCS-2.
		msg = sms.Transliterate(msg)
	}
	if err == nil && memo {
		r.fits.put(key, fitted{msg: strings.ReplaceAll(msg, ref, refMark), cut: cut})
	}
	return msg, cut, err
}

// refMark stands for a complaint's reference in a kept fit.
const refMark = "\x01"

// plainRef reports whether ref is made of letters, digits and '-' only:
// one GSM-7 septet and one UCS-2 unit each, so that any two references of
// one length weigh the same in every encoding.
func plainRef(ref string) bool {
	if ref == "" || len(ref) > 32 {
		return false
	}
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '-') {
			return false
		}
	}
	return true
}

// fitKey is a kept fit's key: the budget, the reference's length (the
// layout holds refMark in its place), the layout and the slots' text.
func fitKey(max, refLen int, layout string, vals map[string]string) string {
	var b strings.Builder
	b.Grow(len(layout) + len(vals[slotBody]) + len(vals[slotName]) + len(vals[slotPage]) + 24)
	b.WriteString(strconv.Itoa(max))
	b.WriteByte('/')
	b.WriteString(strconv.Itoa(refLen))
	for _, s := range []string{layout, vals[slotBody], vals[slotName], vals[slotPage]} {
		b.WriteByte(0)
		b.WriteString(s)
	}
	return b.String()
}

// fitted is a kept fit: the message with refMark for the reference.
type fitted struct {
	msg string
	cut int
}

// fitMemo keeps the last fits, a bounded number.
type fitMemo struct {
	mu sync.Mutex
	m  map[string]fitted
}

// maxFits bounds fitMemo: past it, it starts over.
const maxFits = 512

func (f *fitMemo) get(key string) (fitted, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.m[key]
	return v, ok
}

func (f *fitMemo) put(key string, v fitted) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil || len(f.m) >= maxFits {
		f.m = make(map[string]fitted)
	}
	f.m[key] = v
}

// fitLayout fits an executed SMS layout to max segments by cutting the
// slots' text (fitSMS).
func fitLayout(lt *langTemplates, in Input, layout string, vals map[string]string, max int) (msg string, cut int, err error) {
	// The template's optional text ([[…]]) is laid in last: the slots
	// are fitted without it, and it goes in when it costs no segment.
	variants := optionalText(layout)
	layout = variants[len(variants)-1]
	assembleIn := func(layout string, vals map[string]string) string {
		s := fillSlots(layout, vals)
		// An empty slot leaves "  ", " ." or "()" behind; a cut slot's
		// ellipsis before the template's full stop would read "….".
		s = strings.ReplaceAll(s, "()", "")
		return strings.TrimSpace(dropStopAfterEllipsis(dropSpaceBeforePunct(squeezeSpace(s))))
	}
	assemble := func(vals map[string]string) string { return assembleIn(layout, vals) }
	if _, _, n := sms.Segments(assemble(nil)); n > max && n <= maxSMSBodySegments {
		max = n
	}
	paid := max // what the message may take for its optional text
	if in.Kind == queue.KindCompensation {
		if !sms.Fits(assemble(vals), max) && max < maxSMSBodySegments {
			// The compensation announcement is its line, which is never cut:
			// in UCS-2 that alone can fill the budget, and the incident's name
			// would be cut to nothing ("sorry for the disruption ()") and the
			// page's to a stub. The names earn a segment, as a body does.
			max++
		}
	} else {
		if in.Compensation != "" {
			// Beside a compensation line, which is never cut, the incident's
			// name is kept whole within a segment more (fitSMS gave the line
			// one already): the operator's text then earns its own segment
			// past what the line and the names take, not past the line
			// alone (a resolution's second sentence was lost to it).
			named := map[string]string{slotName: vals[slotName], slotPage: vals[slotPage]}
			if _, _, n := sms.Segments(assemble(named)); n > max {
				max = min(n, max+1, maxSMSBodySegments)
			}
		}
		if enc, _, _ := sms.Segments(assemble(vals)); enc == sms.UCS2 && !sms.Fits(assemble(vals), max) {
			max = ucs2Budget(layout, vals, max)
		}
	}
	whole := map[string]string{slotBody: vals[slotBody], slotName: vals[slotName], slotPage: vals[slotPage]}
	fit := func(slot, text string) string {
		wrap := func(shorter string) string {
			with := map[string]string{slotBody: vals[slotBody], slotName: vals[slotName], slotPage: vals[slotPage]}
			with[slot] = shorter
			return assemble(with)
		}
		if slot == slotBody {
			// The operator's text is cut where a sentence or a clause
			// ends, and says it was cut (cutBody).
			return cutBody(text, max, wrap)
		}
		return sms.FitWith(text, max, wrap)
	}
	order := []string{slotBody, slotName, slotPage}
	for i, slot := range order {
		if sms.Fits(assemble(vals), max) {
			break
		}
		vals[slot] = fit(slot, vals[slot])
		if i == 0 || vals[slot] == whole[slot] {
			continue
		}
		// Cutting this slot may have changed the message's encoding (an
		// emoji in the incident's name makes the whole SMS UCS-2, 67
		// characters a segment; without it, GSM-7 holds 153): the slots
		// cut before it were cut for a budget that no longer holds, and
		// are fitted again from their whole text, in their order.
		for _, earlier := range order[:i] {
			if vals[earlier] != whole[earlier] {
				if again := fit(earlier, whole[earlier]); utf8.RuneCountInString(again) > utf8.RuneCountInString(vals[earlier]) {
					vals[earlier] = again
				}
			}
		}
	}
	if vals[slotBody] != whole[slotBody] && bodyStub(vals[slotBody]) {
		// What room is left holds a word or two of the operator's text
		// ("Some…"): that tells the customer nothing and reads like a
		// broken message. It goes whole (the link has it), and the names
		// cut for the stub's room are fitted again.
		vals[slotBody] = ""
		for _, slot := range order[1:] {
			if again := fit(slot, whole[slot]); vals[slot] == "" || utf8.RuneCountInString(again) != utf8.RuneCountInString(vals[slot]) {
				vals[slot] = again
			}
		}
	}
	for _, slot := range order {
		cut += utf8.RuneCountInString(whole[slot]) - utf8.RuneCountInString(vals[slot])
	}
	msg = assemble(vals)
	if !sms.Fits(msg, max) {
		return "", 0, fmt.Errorf("notify: sms template %s/%s.sms does not fit %d segments even without its variable text", lt.lang, in.Kind, max)
	}
	if cut == 0 && len(variants) > 1 {
		// The optional text (the courtesy sentence) goes in, as much of it
		// as fits the budget or the segments the message takes anyway:
		// it is dropped only when it would add a segment, and never for
		// the operator's words.
		_, _, n := sms.Segments(msg)
		if n < paid {
			n = paid
		}
		for _, v := range variants[:len(variants)-1] {
			if with := assembleIn(v, vals); sms.Fits(with, n) {
				msg = with
				break
			}
		}
	}
	return msg, cut, nil
}

// ucs2Budget is the most segments a UCS-2 message (67 characters a
// segment, where GSM-7 has 153) may take when it does not fit budget:
// one segment more, rather than cut what the operator wrote, the update's
// text or the incident's name (a long maintenance name was cut to "A
// pénztár…" with that segment unused). budget is already what the
// template's own text needs (a compensation line, which is never cut,
// included). A message with neither (selfTest's) must fit the budget.
func ucs2Budget(layout string, vals map[string]string, budget int) int {
	for _, slot := range []string{slotBody, slotName} {
		if vals[slot] != "" && strings.Contains(layout, slot) {
			return min(budget+1, maxSMSBodySegments)
		}
	}
	return budget
}

// optionalText returns an SMS layout's versions with its optional text,
// written [[like this]]: all of it first, then without the last part, …,
// and last none of it (a layout without any gives one version).
func optionalText(layout string) []string {
	var fixed, optional []string // fixed[i] precedes optional[i]; fixed has one more
	for {
		i := strings.Index(layout, "[[")
		j := strings.Index(layout, "]]")
		if i < 0 || j < i {
			fixed = append(fixed, layout)
			break
		}
		fixed = append(fixed, layout[:i])
		optional = append(optional, layout[i+2:j])
		layout = layout[j+2:]
	}
	variants := make([]string, 0, len(optional)+1)
	for keep := len(optional); keep >= 0; keep-- {
		var b strings.Builder
		for k, f := range fixed {
			b.WriteString(f)
			if k < keep {
				b.WriteString(optional[k])
			}
		}
		variants = append(variants, b.String())
	}
	return variants
}

func slotOrEmpty(val, slot string) string {
	if val == "" {
		return ""
	}
	return slot
}

var blankLines = regexp.MustCompile(`\n{3,}`)

// tidyText trims trailing spaces and squeezes runs of blank lines that empty
// values leave in a text part.
func tidyText(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRightFunc(l, unicode.IsSpace)
	}
	return strings.TrimSpace(blankLines.ReplaceAllString(strings.Join(lines, "\n"), "\n\n"))
}

// htmlSpan is a piece of a line in the HTML part: text, or a link when Href
// is set. Only the message's own URLs become links.
type htmlSpan struct {
	Text, Href string
	// Whole keeps the text on one line (a complaint's reference, which a
	// narrow screen would otherwise break at its hyphen: "(C-" / "RCLFXZ2G)").
	Whole bool
}

// keepWhole splits the text spans around every occurrence of word and
// marks those pieces Whole; links are left as they are.
func keepWhole(spans []htmlSpan, word string) []htmlSpan {
	if word == "" {
		return spans
	}
	var out []htmlSpan
	for _, sp := range spans {
		if sp.Href != "" || sp.Whole {
			out = append(out, sp)
			continue
		}
		text := sp.Text
		for {
			i := strings.Index(text, word)
			if i < 0 {
				break
			}
			if i > 0 {
				out = append(out, htmlSpan{Text: text[:i]})
			}
			out = append(out, htmlSpan{Text: word, Whole: true})
			text = text[i+len(word):]
		}
		if text != "" {
			out = append(out, htmlSpan{Text: text})
		}
	}
	return out
}

type htmlButton struct{ Text, Href string }

type htmlLayout struct {
	Lang, Subject string
	Heading       []htmlSpan     // the subject, with the reference kept whole
	Paragraphs    [][][]htmlSpan // paragraph → line → spans
	Button        htmlButton
	// Scores are the survey's one-click score links, 1 to 5, between the
	// words for the lowest and the highest.
	Scores                           []htmlButton
	ScoreLow, ScoreHigh              string
	Why, ManageURL, ManageLabel      string
	UnsubscribeURL, UnsubscribeLabel string
}

func (r *Renderer) renderEmail(lt *langTemplates, in Input, v *view, m *channel.Message) error {
	t := lt.files[string(in.Kind)+".email"]
	subject, err := execute(t, "subject", v)
	if err != nil {
		return err
	}
	// A subject is one line: a newline in an incident name must not start a
	// header of its own.
	m.Subject = strings.Join(strings.Fields(subject), " ")
	body, err := execute(t, "text", v)
	if err != nil {
		return err
	}
	body = tidyText(body)
	why := lt.why(in).Fill("Page", v.Page)
	footer := []string{"-- ", why}
	if in.ManageURL != "" {
		footer = append(footer, lt.labels["ManageNotifications"]+": "+in.ManageURL)
	}
	if in.UnsubscribeURL != "" {
		footer = append(footer, lt.labels["UnsubscribeLink"]+": "+in.UnsubscribeURL)
	}
	m.Text = body + "\n\n" + strings.Join(footer, "\n") + "\n"

	links := []string{v.Link, v.ShortLink, v.SurveyURL, v.ReportURL}
	data := htmlLayout{
		// The heading is the subject without its "[Page] " tag: the page's
		// name heads the mail already, and a reader sees it once.
		Lang: lt.lang, Subject: m.Subject, Heading: keepWhole([]htmlSpan{{Text: strings.TrimPrefix(m.Subject, "["+in.Page.Name+"] ")}}, in.Ref), Why: why,
		ManageURL: in.ManageURL, ManageLabel: lt.labels["ManageNotifications"],
		UnsubscribeURL: in.UnsubscribeURL, UnsubscribeLabel: lt.labels["UnsubscribeLink"],
	}
	for _, p := range strings.Split(body, "\n\n") {
		var para [][]htmlSpan
		for _, line := range strings.Split(p, "\n") {
			para = append(para, keepWhole(linkify(line, links), in.Ref))
		}
		data.Paragraphs = append(data.Paragraphs, para)
	}
	if (in.Kind == queue.KindSurvey || in.Kind == queue.KindSurveyAsk) && in.SurveyURL != "" {
		data.Button = htmlButton{Text: lt.labels["AnswerSurvey"], Href: in.SurveyURL}
		for n := 1; n <= 5; n++ {
			data.Scores = append(data.Scores, htmlButton{Text: strconv.Itoa(n), Href: ScoreURL(in.SurveyURL, n)})
		}
		data.ScoreLow, data.ScoreHigh = lt.labels["SurveyScoreLow"], lt.labels["SurveyScoreHigh"]
	} else if in.Kind == queue.KindConfirm {
		data.Button = htmlButton{Text: lt.labels["ConfirmSubscription"], Href: v.Link}
	} else if in.Kind == queue.KindSubscribed {
		data.Button = htmlButton{Text: lt.labels["ManageNotifications"], Href: v.Link}
	} else if over(in.Kind) {
		// Nothing left to follow: the page has the whole story.
		data.Button = htmlButton{Text: lt.labels["DetailsOnStatusPage"], Href: v.Link}
	} else {
		data.Button = htmlButton{Text: lt.labels["FollowOnStatusPage"], Href: v.Link}
	}
	var buf bytes.Buffer
	if err := r.layout.Execute(&buf, data); err != nil {
		return fmt.Errorf("notify: render layout.email.html: %w", err)
	}
	m.HTML = buf.String()
	if strings.HasPrefix(in.UnsubscribeURL, "https://") {
		// RFC 8058 one-click: the Post header counts only beside an https URI.
		m.Headers = map[string]string{
			"List-Unsubscribe":      "<" + in.UnsubscribeURL + ">",
			"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		}
	}
	return nil
}

// why is the footer's reason: a confirmation answers a request to
// subscribe, a complaint's messages answer the customer's own; other
// messages go to customers or subscribers.
func (lt *langTemplates) why(in Input) *locale.Pattern {
	switch {
	case in.Kind == queue.KindConfirm || in.Kind == queue.KindSubscribed:
		return lt.whyConfirm
	case isComplaint(in.Kind) || in.Kind == queue.KindSurveyAsk || in.Kind == queue.KindSurveyThanks:
		// Each answers what the person wrote to the page.
		return lt.whyComplaint
	case in.Recipient.Type == queue.FromSubscriber:
		return lt.whySubscriber
	}
	return lt.whyCustomer
}

// linkify splits line into spans, making links of the known URLs only.
func linkify(line string, urls []string) []htmlSpan {
	var spans []htmlSpan
	for line != "" {
		at, which := -1, ""
		for _, u := range urls {
			if u == "" {
				continue
			}
			if i := strings.Index(line, u); i >= 0 && (at < 0 || i < at || i == at && len(u) > len(which)) {
				at, which = i, u
			}
		}
		if at < 0 {
			spans = append(spans, htmlSpan{Text: line})
			break
		}
		if at > 0 {
			spans = append(spans, htmlSpan{Text: line[:at]})
		}
		spans = append(spans, htmlSpan{Text: which, Href: which})
		line = line[at+len(which):]
	}
	return spans
}

// ScoreURL is a survey link that records score n with one click.
func ScoreURL(surveyURL string, n int) string {
	sep := "?"
	if strings.Contains(surveyURL, "?") {
		sep = "&"
	}
	return surveyURL + sep + "score=" + strconv.Itoa(n)
}

// mrkdwnEscape escapes the three characters Slack's mrkdwn reserves for
// links and mentions, so incident text cannot ping @channel or forge a link.
func mrkdwnEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func (v *view) escapedForSlack() *view {
	e := *v
	e.Page, e.Name, e.Body, e.Recipient = mrkdwnEscape(v.Page), mrkdwnEscape(v.Name), mrkdwnEscape(v.Body), mrkdwnEscape(v.Recipient)
	e.Greeting, e.Signoff = mrkdwnEscape(v.Greeting), mrkdwnEscape(v.Signoff)
	e.Compensation = mrkdwnEscape(v.Compensation)
	e.Link, e.ShortLink, e.SurveyURL = mrkdwnEscape(v.Link), mrkdwnEscape(v.ShortLink), mrkdwnEscape(v.SurveyURL)
	e.UnsubscribeURL, e.ManageURL = mrkdwnEscape(v.UnsubscribeURL), mrkdwnEscape(v.ManageURL)
	e.Components = make([]string, len(v.Components))
	for i, c := range v.Components {
		e.Components[i] = mrkdwnEscape(c)
	}
	return &e
}

type slackText struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

type slackElement struct {
	Type     string     `json:"type"`
	Text     *slackText `json:"text,omitempty"`
	URL      string     `json:"url,omitempty"`
	ActionID string     `json:"action_id,omitempty"`
}

type slackBlock struct {
	Type     string     `json:"type"`
	Text     *slackText `json:"text,omitempty"`
	Elements []any      `json:"elements,omitempty"`
}

func (r *Renderer) renderSlack(lt *langTemplates, in Input, v *view, m *channel.Message) error {
	t := lt.files[string(in.Kind)+".slack"]
	// The header is plain_text: Slack shows it literally, so it gets the
	// unescaped view; everything else is mrkdwn and gets the escaped one.
	header, err := execute(t, "header", v)
	if err != nil {
		return err
	}
	header = truncateRunes(strings.Join(strings.Fields(header), " "), slackHeaderMax)
	ev := v.escapedForSlack()
	text, err := execute(t, "text", ev)
	if err != nil {
		return err
	}
	text = truncateRunes(tidyText(text), slackSectionMax)
	var facts []string
	if v.Status != "" {
		// A complaint's receipt about no incident has no status to give.
		facts = append(facts, "*"+mrkdwnEscape(lt.labels["StatusLabel"])+":* "+mrkdwnEscape(v.Status))
	}
	if v.Started != "" && !in.Incident.IsMaintenance() {
		facts = append(facts, "*"+mrkdwnEscape(lt.labels["Started"])+":* "+mrkdwnEscape(v.Started))
	}
	if v.Resolved != "" {
		facts = append(facts, "*"+mrkdwnEscape(lt.labels["StatusResolved"])+":* "+mrkdwnEscape(v.Resolved))
	}
	if len(v.Components) > 0 {
		affects := "Affects"
		if in.Incident.IsMaintenance() {
			affects = "AffectsMaintenance" // planned work, not a fault
		}
		facts = append(facts, mrkdwnEscape(lt.cat.Plural(affects, len(v.Components)))+": "+strings.Join(ev.Components, ", "))
	}
	blocks := []slackBlock{
		{Type: "header", Text: &slackText{Type: "plain_text", Text: header, Emoji: true}},
		{Type: "section", Text: &slackText{Type: "mrkdwn", Text: text}},
	}
	if len(facts) > 0 { // Slack refuses a context element without text
		blocks = append(blocks, slackBlock{Type: "context", Elements: []any{slackText{Type: "mrkdwn", Text: truncateRunes(strings.Join(facts, "  ·  "), slackSectionMax)}}})
	}
	button := slackElement{Type: "button", Text: &slackText{Type: "plain_text", Text: lt.labels["FollowOnStatusPage"]}, URL: v.Link, ActionID: "view_incident"}
	if in.Kind == queue.KindSurvey && in.SurveyURL != "" {
		// One click answers: a button per score, each a link to the
		// survey page with the score recorded.
		var scores []any
		for n := 1; n <= 5; n++ {
			d := strconv.Itoa(n)
			scores = append(scores, slackElement{Type: "button", Text: &slackText{Type: "plain_text", Text: d}, URL: ScoreURL(in.SurveyURL, n), ActionID: "survey_score_" + d})
		}
		blocks = append(blocks, slackBlock{Type: "actions", Elements: scores})
		button = slackElement{Type: "button", Text: &slackText{Type: "plain_text", Text: lt.labels["AnswerSurvey"]}, URL: in.SurveyURL, ActionID: "open_survey"}
	}
	blocks = append(blocks, slackBlock{Type: "actions", Elements: []any{button}})
	var foot []string
	if in.ManageURL != "" {
		foot = append(foot, "<"+ev.ManageURL+"|"+mrkdwnEscape(lt.labels["ManageNotifications"])+">")
	}
	if in.UnsubscribeURL != "" {
		foot = append(foot, "<"+ev.UnsubscribeURL+"|"+mrkdwnEscape(lt.labels["UnsubscribeLink"])+">")
	}
	if len(foot) > 0 {
		blocks = append(blocks, slackBlock{Type: "context", Elements: []any{slackText{Type: "mrkdwn", Text: strings.Join(foot, " · ")}}})
	}
	if m.Blocks, err = json.Marshal(blocks); err != nil {
		return fmt.Errorf("notify: slack blocks: %w", err)
	}
	// The fallback shows in notifications and where blocks cannot: mrkdwn too.
	m.Text = truncateRunes(mrkdwnEscape(header)+"\n"+text, slackSectionMax)
	return nil
}

// selfTest renders every template once with a sample incident, so that a
// broken override fails at start.
func (r *Renderer) selfTest() error {
	now := time.Date(2026, 3, 1, 13, 5, 0, 0, time.UTC)
	// A long page address and name leave the SMS templates a realistic margin.
	page := &incident.Page{ID: "p", Name: "Sample Company", URL: "https://status.example-company.com", TimeZone: "Europe/Budapest"}
	later := now.Add(time.Hour)
	inc := &incident.Incident{ID: "selftest0000", PageID: "p", Name: "Sample", Status: incident.Investigating,
		StartedAt: now, CreatedAt: now, UpdatedAt: now, ResolvedAt: &later, ScheduledFor: &now, ScheduledUntil: &later,
		Updates: []*incident.Update{{ID: "u", IncidentID: "selftest0000", Status: incident.Investigating, CreatedAt: now, DisplayAt: now}}}
	var errs []error
	for lang := range r.langs {
		for _, kind := range MessageKinds {
			in := Input{Kind: kind, Page: page, Incident: inc, Recipient: Recipient{Language: lang, Name: "Sam"},
				UnsubscribeURL: "https://status.example.com/unsubscribe/abcdefghijklmnopqrstuvwxyz",
				ManageURL:      "https://status.example.com/manage/abcdefghijklmnopqrstuvwxyz",
				SurveyURL:      "https://status.example.com/s/abcdefghijkl",
				Ref:            "C-ABCDEFGH", Due: later}
			for _, ch := range TemplateChannels {
				if _, err := r.Render(ch, in); err != nil {
					errs = append(errs, fmt.Errorf("notify: template %s/%s.%s: %w", lang, kind, ch, err))
					continue
				}
				if ch != channel.SMS {
					continue
				}
				// The budget holds the template's own text: an incident's
				// name may take a UCS-2 SMS a segment past it (ucs2Budget),
				// so the check goes without one.
				nameless := *inc
				nameless.Name = ""
				in.Incident = &nameless
				if m, err := r.Render(ch, in); err != nil {
					errs = append(errs, fmt.Errorf("notify: template %s/%s.%s: %w", lang, kind, ch, err))
				} else if _, _, n := sms.Segments(m.Text); n > DefaultMaxSMSSegments {
					errs = append(errs, fmt.Errorf("notify: sms template %s/%s.sms does not fit %d segments even without its variable text", lang, kind, DefaultMaxSMSSegments))
				}
				in.Incident = inc
			}
		}
		for _, kind := range EmailKinds {
			in := Input{Kind: kind, Page: page, Incident: inc, Recipient: Recipient{Language: lang, Name: "Sam"},
				SurveyURL: "https://status.example.com/s/abcdefghijkl"}
			if _, err := r.Render(channel.Email, in); err != nil {
				errs = append(errs, fmt.Errorf("notify: template %s/%s.email: %w", lang, kind, err))
			}
		}
	}
	return errors.Join(errs...)
}

// WebhookPayload builds the Statuspage subscriber webhook body for an
// incident: meta (unsubscribe, documentation, generated_at), page (id,
// status_indicator, status_description) and the full incident with its
// updates, newest first, and its components. Every message kind sends the
// same shape: a receiver tells them apart by the incident's status.
func WebhookPayload(in Input) ([]byte, error) {
	if in.Page == nil || in.Incident == nil {
		return nil, incident.Invalid("incident", "a webhook needs a page and an incident")
	}
	now := in.Now
	if now.IsZero() {
		now = time.Now()
	}
	docs := in.Documentation
	if docs == "" {
		docs = DefaultWebhookDocumentation
	}
	doc := wire.Webhook{
		Meta:     wire.WebhookMeta{Unsubscribe: in.UnsubscribeURL, Documentation: docs, GeneratedAt: wire.UTC.At(now)},
		Page:     wire.WebhookPage{ID: in.Page.ID, StatusIndicator: in.Status.Indicator, StatusDescription: in.Status.Description},
		Incident: wire.NewWebhookIncident(in.Page, in.Incident, in.Components),
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("notify: webhook payload: %w", err)
	}
	return b, nil
}

// truncateRunes cuts s to at most n characters, ending with "…" when cut.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, k := 0, 0
	for j := range s {
		if k == n-1 {
			i = j
			break
		}
		k++
	}
	return strings.TrimRightFunc(s[:i], unicode.IsSpace) + "…"
}

// Placeholders rendered into cached messages and replaced per recipient:
// only these cheap parts are personal, so a million recipients cost one
// render per update × channel × language × time zone.
const (
	UnsubscribePlaceholder = "HERALDxUNSUBSCRIBExTOKEN"
	NamePlaceholder        = "HERALDxRECIPIENTxNAME"
)

// Personalise copies a cached message and fills in the recipient's parts.
func Personalise(t *channel.Message, d *queue.Delivery, unsubToken string) *channel.Message {
	m := *t
	m.DeliveryID, m.To = d.ID, d.Address
	// The token first, the name after: a name that happens to contain the
	// token's placeholder stays as written. (A strings.Replacer per message
	// cost more than the rest of personalising.)
	tok := func(s string) string { return strings.ReplaceAll(s, UnsubscribePlaceholder, unsubToken) }
	named := func(name string) func(string) string {
		return func(s string) string { return strings.ReplaceAll(tok(s), NamePlaceholder, name) }
	}
	text, htm, blocks := tok, tok, tok
	switch d.Kind {
	case channel.Email:
		text, htm = named(d.Name), named(html.EscapeString(d.Name))
	case channel.Slack:
		esc := mrkdwnEscape(d.Name)
		j, _ := json.Marshal(esc)
		text, blocks = named(esc), named(string(j[1:len(j)-1]))
	}
	m.Text = text(m.Text)
	m.Subject = text(m.Subject)
	if m.HTML != "" {
		m.HTML = htm(m.HTML)
	}
	if m.Blocks != nil {
		m.Blocks = []byte(blocks(string(m.Blocks)))
	}
	if m.Payload != nil {
		m.Payload = []byte(tok(string(m.Payload)))
	}
	m.UnsubscribeURL = tok(m.UnsubscribeURL)
	if m.Headers != nil {
		h := make(map[string]string, len(m.Headers))
		for k, v := range m.Headers {
			h[k] = tok(v)
		}
		m.Headers = h
	}
	return &m
}

// isComplaint reports whether k answers a complaint.
func isComplaint(k queue.MessageKind) bool {
	return k == queue.KindComplaintAck || k == queue.KindComplaintReceived || k == queue.KindComplaintAnswer || k == queue.KindComplaintResolved
}

// LangURL adds ?lang= to a link into the status page, so that a reader
// who follows it sees the page in the message's language, whatever their
// browser asks for. A page with one language needs none. SMS short links
// carry the language as ShortLangURL writes it.
func LangURL(u string, page *incident.Page, lang string) string {
	if lang == "" || u == "" || (page != nil && len(page.Languages) < 2) {
		return u
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	} else if p, err := url.Parse(u); err == nil && p.Host != "" && p.Path == "" {
		sep = "/?" // "https://status.acme.com?lang=hu" has no path: give it its "/"
	}
	return u + sep + "lang=" + url.QueryEscape(lang)
}

// ShortLangURL adds the language to an incident's short link (/i/ID) as
// one more path segment, /i/ID/hu: three characters of an SMS where
// ?lang=hu would take eight. The server's /i/ID/LANG redirects to the
// incident page with ?lang=LANG. A page with one language needs none.
func ShortLangURL(u string, page *incident.Page, lang string) string {
	if lang == "" || u == "" || (page != nil && len(page.Languages) < 2) {
		return u
	}
	return u + "/" + url.PathEscape(lang)
}

// messageName is an incident's name as the messages write it: without the
// full stops it may end with, since the templates end the sentence
// themselves ("Checkout is slow. Orders…", not "Checkout is slow.. Orders…");
// a name of nothing but full stops is kept.
func messageName(name string) string {
	if n := strings.TrimRight(strings.TrimSpace(name), "."); n != "" {
		return n
	}
	return name
}

// over reports whether a message of kind k comes after its incident (or
// maintenance) ended: its button offers the details, not to follow along.
func over(k queue.MessageKind) bool {
	switch k {
	case queue.KindResolved, queue.KindMaintenanceCompleted, queue.KindComplaintResolved, queue.KindCompensation, queue.KindSurveyThanks:
		return true
	}
	return false
}

// localMonth formats t by layout, with the month Go writes for "Jan" in
// English replaced by the language's abbreviation (the catalogue's
// MonthAbbr1 … MonthAbbr12): Hungarian "dec. 6. 12:18", where "12. 06."
// could be read as the 12th of June.
func localMonth(t time.Time, layout string, labels map[string]string) string {
	s := t.Format(layout)
	if !strings.Contains(layout, "Jan") {
		return s
	}
	if abbr := labels["MonthAbbr"+strconv.Itoa(int(t.Month()))]; abbr != "" {
		s = strings.Replace(s, t.Month().String()[:3], abbr, 1)
	}
	return s
}
