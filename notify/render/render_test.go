package render

import (
	"encoding/json"
	"fmt"
	"html"
	"regexp"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/configs"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/locale"
	"github.com/heraldhq/herald/notify/sms"
	"github.com/heraldhq/herald/queue"
)

const hostile = `<script>alert("x")</script> *bold* _it_ & "double" 'single' <!channel> 👍🚨`

var testComponents = []*incident.Component{
	{ID: "c1api", Name: "API"},
	{ID: "c2card", Name: "Card payments"},
	{ID: "c3web", Name: "Web"},
}

func newTestRenderer(t *testing.T) *Renderer {
	t.Helper()
	r, err := New(configs.TemplatesFS(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func sampleInput(kind queue.MessageKind, lang string) Input {
	start := time.Date(2026, 3, 1, 13, 5, 0, 0, time.UTC)
	resolved := start.Add(95 * time.Minute)
	until := start.Add(2 * time.Hour)
	body := hostile + " " + strings.Repeat("Lorem ipsum dolor sit amet, łódź ő ž. ", 52) // > 2000 chars
	inc := &incident.Incident{
		ID: "rclfxz2g21ly", PageID: "p0qjfl24znv5", Name: `Payments <b>&</b> "slow" 🚨`, Status: incident.Identified,
		Impact: incident.ImpactMajor, ComponentIDs: []string{"c1api", "c2card"},
		CreatedAt: start, UpdatedAt: start, StartedAt: start, ResolvedAt: &resolved,
		Updates: []*incident.Update{{
			ID: "dwfsk5ttyvtb", IncidentID: "rclfxz2g21ly", Status: incident.Identified, Body: body,
			CreatedAt: start, UpdatedAt: start, DisplayAt: start, DeliverNotifications: true,
			AffectedComponents: []incident.AffectedComponent{{Code: "c1api", Name: "API", OldStatus: incident.Operational, NewStatus: incident.PartialOutage}},
		}},
	}
	if strings.HasPrefix(string(kind), "maintenance") {
		inc.ScheduledFor, inc.ScheduledUntil, inc.Impact, inc.Status = &start, &until, incident.ImpactMaintenance, incident.Scheduled
	}
	return Input{
		Kind:           kind,
		Page:           &incident.Page{ID: "p0qjfl24znv5", Name: "Acme & Co <Status>", URL: "https://status.example-company.com", TimeZone: "Europe/Budapest", Languages: []string{"en"}},
		Status:         incident.PageStatus{Indicator: "major", Description: "Partial System Outage"},
		Incident:       inc,
		Components:     testComponents,
		Recipient:      Recipient{Name: `Anna <img src=x>`, Language: lang, TimeZone: "Europe/Warsaw"},
		UnsubscribeURL: "https://status.example-company.com/unsubscribe/tok123?a=1&b=2",
		ManageURL:      "https://status.example-company.com/manage/tok123",
		SurveyURL:      "https://status.example-company.com/s/tok123",
		Now:            start.Add(time.Minute),
		Ref:            "C-RCLFXZ2G",
		Due:            start.Add(24 * time.Hour),
		Answer:         "We refunded the payment. " + hostile,
	}
}

// checkComplaintMessage checks a complaint's receipt or answer: the
// reference everywhere, the promised time in the receipt, the agent's words
// (escaped for the channel) in the answer, and the SMS budget.
func checkComplaintMessage(t *testing.T, m *channel.Message, in Input) {
	t.Helper()
	whole := m.Subject + m.Text + m.HTML + string(m.Blocks)
	if !strings.Contains(whole, in.Ref) {
		t.Errorf("message lacks the reference %s: %q", in.Ref, whole)
	}
	if in.Kind == queue.KindComplaintAnswer && !strings.Contains(m.Text, "We refunded the payment.") {
		t.Errorf("answer lacks the agent's words: %q", m.Text)
	}
	if in.Kind == queue.KindComplaintReceived && !strings.Contains(m.Text, "14:05") {
		t.Errorf("receipt lacks the promised time (14:05 in Warsaw): %q", m.Text)
	}
	for _, raw := range []string{"<script>", "<!channel>", "<b>", "<img"} {
		if strings.Contains(m.HTML, raw) || strings.Contains(string(m.Blocks), raw) {
			t.Errorf("HTML or blocks contain unescaped %q", raw)
		}
	}
	switch m.Kind {
	case channel.SMS:
		if _, _, n := sms.Segments(m.Text); n > DefaultMaxSMSSegments {
			t.Errorf("%d segments: %q", n, m.Text)
		}
	case channel.Email:
		if !strings.Contains(m.Subject, in.Ref) || strings.ContainsAny(m.Subject, "\r\n") {
			t.Errorf("subject %q", m.Subject)
		}
		if in.Kind == queue.KindComplaintAnswer && !strings.Contains(m.HTML, "&lt;script&gt;") {
			t.Errorf("HTML lacks the escaped answer")
		}
		// A phone's narrow screen must not break the reference at its
		// hyphen, in the heading or the text.
		whole := `<span style="white-space:nowrap;">` + in.Ref + `</span>`
		_, head, _ := strings.Cut(m.HTML, "<h1")
		head, _, _ = strings.Cut(head, "</h1>")
		if !strings.Contains(head, whole) {
			t.Errorf("the heading does not keep the reference whole: %q", head)
		}
		_, body, _ := strings.Cut(m.HTML, "<body")
		if strings.Count(body, in.Ref) != strings.Count(body, whole) {
			t.Errorf("the reference is not kept whole everywhere (%d of %d): %s", strings.Count(body, whole), strings.Count(body, in.Ref), body)
		}
	case channel.Slack:
		if in.Kind == queue.KindComplaintAnswer && !strings.Contains(m.Text, "&lt;") {
			t.Errorf("fallback text not escaped: %q", m.Text)
		}
	}
}

// TestCatalog renders every kind on every channel in every language with
// hostile incident text, and checks escaping, the SMS budget and the JSON.
func TestCatalog(t *testing.T) {
	r := newTestRenderer(t)
	for _, lang := range incident.Languages {
		for _, kind := range MessageKinds {
			for _, ch := range []channel.Kind{channel.SMS, channel.Email, channel.Slack, channel.Webhook} {
				t.Run(lang+"/"+string(kind)+"/"+string(ch), func(t *testing.T) {
					in := sampleInput(kind, lang)
					m, err := r.Render(ch, in)
					if err != nil {
						t.Fatal(err)
					}
					if m.Language != lang || m.Kind != ch {
						t.Errorf("Language %q Kind %q, want %q %q", m.Language, m.Kind, lang, ch)
					}
					if (kind == queue.KindComplaintReceived || kind == queue.KindComplaintAnswer) && ch != channel.Webhook {
						checkComplaintMessage(t, m, in)
						return
					}
					switch ch {
					case channel.SMS:
						checkSMS(t, m, in)
					case channel.Email:
						checkEmail(t, m, in)
					case channel.Slack:
						checkSlack(t, m)
					case channel.Webhook:
						checkWebhook(t, m, in)
					}
				})
			}
		}
	}
}

func checkSMS(t *testing.T, m *channel.Message, in Input) {
	t.Helper()
	for _, max := range []int{2, 3} {
		in.MaxSMSSegments = max
		r := newTestRendererCached(t)
		mm, err := r.Render(channel.SMS, in)
		if err != nil {
			t.Fatal(err)
		}
		// A UCS-2 message takes one segment more rather than cut the
		// operator's text further (renderSMS).
		limit := max
		if enc, _, _ := sms.Segments(mm.Text); enc == sms.UCS2 {
			limit++
		}
		if _, _, n := sms.Segments(mm.Text); n > limit {
			t.Errorf("%d segments over a budget of %d: %q", n, max, mm.Text)
		}
		if in.Kind != queue.KindSurvey && !strings.Contains(mm.Text, in.Page.ShortURL(in.Incident.ID)) {
			t.Errorf("SMS lost its link: %q", mm.Text)
		}
		if strings.ContainsAny(mm.Text, "\n\x00") {
			t.Errorf("SMS has a newline or a sentinel: %q", mm.Text)
		}
	}
	if m.Subject != "" || m.HTML != "" || m.Blocks != nil {
		t.Errorf("SMS carries other channels' parts")
	}
}

var cachedRenderer *Renderer

func newTestRendererCached(t *testing.T) *Renderer {
	if cachedRenderer == nil {
		cachedRenderer = newTestRenderer(t)
	}
	return cachedRenderer
}

func checkEmail(t *testing.T, m *channel.Message, in Input) {
	t.Helper()
	if m.Subject == "" || strings.ContainsAny(m.Subject, "\r\n") {
		t.Errorf("subject %q", m.Subject)
	}
	if !strings.Contains(m.Subject, in.Incident.Name) && in.Kind != queue.KindComplaintAck && in.Kind != queue.KindSurvey {
		t.Errorf("subject %q lacks the incident name", m.Subject)
	}
	for _, raw := range []string{"<script>", "<b>", "<img", "<!channel>", "<Status>"} {
		if strings.Contains(m.HTML, raw) {
			t.Errorf("HTML contains unescaped %q", raw)
		}
	}
	if !strings.Contains(m.HTML, "&lt;b&gt;&amp;&lt;/b&gt;") {
		t.Errorf("HTML lacks the escaped incident name")
	}
	link := in.Page.IncidentURL(in.Incident.ID)
	if in.Kind == queue.KindSurvey {
		link = in.SurveyURL
	}
	if !strings.Contains(m.HTML, `href="`+link+`"`) {
		t.Errorf("HTML lacks the link %s", link)
	}
	if !strings.Contains(m.HTML, `href="https://status.example-company.com/unsubscribe/tok123?a=1&amp;b=2"`) {
		t.Errorf("HTML lacks the unsubscribe link")
	}
	if !strings.Contains(m.Text, in.Incident.Name) || !strings.Contains(m.Text, in.UnsubscribeURL) {
		t.Errorf("text part lacks the raw name or the unsubscribe link")
	}
	if in.Kind == queue.KindUpdate && !strings.Contains(m.Text, hostile) {
		t.Errorf("text part lacks the raw update body")
	}
	if m.Headers["List-Unsubscribe"] != "<"+in.UnsubscribeURL+">" || m.Headers["List-Unsubscribe-Post"] != "List-Unsubscribe=One-Click" {
		t.Errorf("headers %v", m.Headers)
	}
	if m.UnsubscribeURL != in.UnsubscribeURL {
		t.Errorf("UnsubscribeURL %q", m.UnsubscribeURL)
	}
}

func checkSlack(t *testing.T, m *channel.Message) {
	t.Helper()
	var blocks []struct {
		Type string `json:"type"`
		Text *struct {
			Type, Text string
		} `json:"text"`
		Elements []json.RawMessage `json:"elements"`
	}
	if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
		t.Fatalf("blocks are not JSON: %v", err)
	}
	if len(blocks) < 4 || blocks[0].Type != "header" || blocks[1].Type != "section" {
		t.Fatalf("blocks %s", m.Blocks)
	}
	if n := len([]rune(blocks[0].Text.Text)); n > slackHeaderMax {
		t.Errorf("header %d chars", n)
	}
	if n := len([]rune(blocks[1].Text.Text)); n > slackSectionMax {
		t.Errorf("section %d chars", n)
	}
	// Only our own links may use < >: the manage/unsubscribe/survey links.
	stripped := regexp.MustCompile(`<https://status\.example-company\.com/[^|>]+\|[^>]+>`).ReplaceAllString(string(m.Blocks)+m.Text, "")
	for _, raw := range []string{"<script", "<!channel>", "<b>", `\u003cscript`, `\u003c!channel`} {
		if strings.Contains(stripped, raw) && !strings.Contains(blocks[0].Text.Text, "<b>") {
			t.Errorf("slack mrkdwn contains unescaped %q", raw)
		}
	}
	if !strings.Contains(m.Text, "&lt;") {
		t.Errorf("fallback text not escaped: %q", m.Text)
	}
	for _, b := range blocks[1:] {
		if b.Text != nil && strings.Contains(b.Text.Text, "<b>") {
			t.Errorf("mrkdwn block %s contains raw <b>", b.Type)
		}
	}
}

var isoMillis = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func checkWebhook(t *testing.T, m *channel.Message, in Input) {
	t.Helper()
	var doc map[string]map[string]any
	if err := json.Unmarshal(m.Payload, &doc); err != nil {
		t.Fatalf("payload is not JSON: %v", err)
	}
	if got := keys(doc["meta"]); !equal(got, []string{"documentation", "generated_at", "unsubscribe"}) {
		t.Errorf("meta keys %v", got)
	}
	if doc["meta"]["unsubscribe"] != in.UnsubscribeURL || !isoMillis.MatchString(doc["meta"]["generated_at"].(string)) {
		t.Errorf("meta %v", doc["meta"])
	}
	if doc["page"]["id"] != in.Page.ID || doc["page"]["status_indicator"] != "major" || doc["page"]["status_description"] != "Partial System Outage" {
		t.Errorf("page %v", doc["page"])
	}
	inc := doc["incident"]
	for _, k := range []string{"id", "name", "status", "created_at", "updated_at", "monitoring_at", "resolved_at", "impact", "shortlink",
		"started_at", "page_id", "incident_updates", "components", "scheduled_for", "scheduled_until", "backfilled", "impact_override",
		"postmortem_body", "postmortem_published_at", "postmortem_ignored", "postmortem_notified_subscribers",
		"scheduled_remind_prior", "scheduled_auto_in_progress", "scheduled_auto_completed", "reminder_intervals"} {
		if _, ok := inc[k]; !ok {
			t.Errorf("incident lacks %q", k)
		}
	}
	if inc["name"] != in.Incident.Name || inc["shortlink"] != in.Page.ShortURL(in.Incident.ID) || inc["monitoring_at"] != nil {
		t.Errorf("incident %v", inc)
	}
	if !isoMillis.MatchString(inc["created_at"].(string)) || inc["created_at"] != "2026-03-01T13:05:00.000Z" {
		t.Errorf("created_at %v", inc["created_at"])
	}
	ups := inc["incident_updates"].([]any)
	u := ups[0].(map[string]any)
	for _, k := range []string{"id", "status", "body", "incident_id", "created_at", "updated_at", "display_at", "affected_components", "deliver_notifications", "custom_tweet", "tweet_id"} {
		if _, ok := u[k]; !ok {
			t.Errorf("update lacks %q", k)
		}
	}
	if u["body"] != in.Incident.Updates[0].Body {
		t.Errorf("update body changed")
	}
	ac := u["affected_components"].([]any)[0].(map[string]any)
	if ac["code"] != "c1api" || ac["new_status"] != "partial_outage" {
		t.Errorf("affected component %v", ac)
	}
	comps := inc["components"].([]any)
	if len(comps) != 2 {
		t.Fatalf("components %v", comps)
	}
	c := comps[0].(map[string]any)
	for _, k := range []string{"id", "name", "status", "created_at", "updated_at", "position", "description", "showcase", "start_date", "group_id", "page_id", "group", "only_show_if_degraded"} {
		if _, ok := c[k]; !ok {
			t.Errorf("component lacks %q", k)
		}
	}
	if c["description"] != nil || c["group_id"] != nil {
		t.Errorf("empty description/group_id must be null: %v", c)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func equal(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

// TestWhyFooter: an email says why it came, worded for the recipient:
// customers as customers, status-page subscribers as subscribers, and a
// subscription's confirmation as a request to subscribe, in every language.
func TestWhyFooter(t *testing.T) {
	r := newTestRenderer(t)
	page := sampleInput(queue.KindUpdate, "en").Page
	english := map[string]string{
		"why":            "You are receiving this message as a customer of Acme & Co <Status>.",
		"why.subscriber": "You are receiving this message because you subscribed to updates from Acme & Co <Status>.",
		"why.confirm":    "You are receiving this message because this address was entered to subscribe to updates from Acme & Co <Status>.",
	}
	for _, lang := range incident.Languages {
		t.Run(lang, func(t *testing.T) {
			lt := r.langs[lang]
			footers := map[string]bool{}
			render := func(typ queue.RecipientType) *channel.Message {
				in := sampleInput(queue.KindUpdate, lang)
				in.Recipient.Type = typ
				m, err := r.Render(channel.Email, in)
				if err != nil {
					t.Fatal(err)
				}
				return m
			}
			confirm, err := r.RenderConfirm(channel.Email, page, Recipient{Language: lang, Type: queue.FromSubscriber}, "https://status.example-company.com/c/x", "")
			if err != nil {
				t.Fatal(err)
			}
			for _, tt := range []struct {
				name, key string
				m         *channel.Message
			}{
				{"customer", "why", render(queue.FromCustomer)},
				{"no type: a customer", "why", render("")},
				{"subscriber", "why.subscriber", render(queue.FromSubscriber)},
				{"confirmation", "why.confirm", confirm},
			} {
				want := map[string]*locale.Pattern{"why": lt.whyCustomer, "why.subscriber": lt.whySubscriber, "why.confirm": lt.whyConfirm}[tt.key].Fill("Page", page.Name)
				if lang == "en" && want != english[tt.key] {
					t.Errorf("%s: label %q, want %q", tt.name, want, english[tt.key])
				}
				if !strings.Contains(tt.m.Text, "\n-- \n"+want+"\n") {
					t.Errorf("%s: text footer lacks %q:\n%s", tt.name, want, tt.m.Text[max(0, len(tt.m.Text)-400):])
				}
				if !strings.Contains(tt.m.HTML, html.EscapeString(want)) {
					t.Errorf("%s: HTML lacks %q", tt.name, want)
				}
				footers[want] = true
			}
			if len(footers) != 3 {
				t.Errorf("%d distinct footers, want 3: %v", len(footers), footers)
			}
		})
	}
}

func TestLanguageFallback(t *testing.T) {
	r := newTestRenderer(t)
	tests := []struct {
		name, recipient string
		page            []string
		want            string
	}{
		{"region tag", "hu-HU", []string{"en"}, "hu"},
		{"underscore", "pl_PL", nil, "pl"},
		{"unsupported falls to page", "de", []string{"hr-HR", "en"}, "hr"},
		{"empty falls to page", "", []string{"pl"}, "pl"},
		{"nothing falls to en", "sr", nil, "en"},
		{"garbage", "!!", []string{"xx"}, "en"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := sampleInput(queue.KindAck, tt.recipient)
			in.Page.Languages = tt.page
			m, err := r.Render(channel.Email, in)
			if err != nil {
				t.Fatal(err)
			}
			if m.Language != tt.want {
				t.Errorf("language %q, want %q", m.Language, tt.want)
			}
		})
	}
}

func TestTimesInRecipientZone(t *testing.T) {
	r := newTestRenderer(t)
	tests := []struct{ lang, tz, want string }{
		{"hu", "Europe/Budapest", "Kezdete: 2026. 03. 01. 14:05 (CET)"},
		{"en", "America/New_York", "Started: 1 Mar 2026, 08:05 EST"},
		{"pl", "", "Początek: 01.03.2026, 14:05 CET"}, // page's zone
		{"hr", "Bad/Zone", "Početak: 1. 3. 2026. u 14:05 (CET)"},
	}
	for _, tt := range tests {
		t.Run(tt.lang+" "+tt.tz, func(t *testing.T) {
			in := sampleInput(queue.KindAck, tt.lang)
			in.Recipient.TimeZone = tt.tz
			m, err := r.Render(channel.Email, in)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(m.Text, tt.want) {
				t.Errorf("text lacks %q:\n%s", tt.want, m.Text)
			}
		})
	}
}

func TestPlurals(t *testing.T) {
	r := newTestRenderer(t)
	tests := []struct {
		lang  string
		n     int
		want  string
		forms string
	}{
		{"en", 1, "It affects 1 service", "one,other"},
		{"en", 2, "It affects 2 services", "one,other"},
		{"hu", 5, "A hiba 5 szolgáltatást érint", "one,other"},
		{"pl", 1, "Problem obejmuje 1 usługę", "one,few,many,other"},
		{"pl", 3, "Problem obejmuje 3 usługi", "one,few,many,other"},
		{"pl", 22, "Problem obejmuje 22 usługi", "one,few,many,other"},
		{"pl", 5, "Problem obejmuje 5 usług", "one,few,many,other"},
		{"pl", 12, "Problem obejmuje 12 usług", "one,few,many,other"},
		{"pl", 21, "Problem obejmuje 21 usług", "one,few,many,other"},
		{"hr", 1, "Problem zahvaća 1 uslugu", "one,few,other"},
		{"hr", 21, "Problem zahvaća 21 uslugu", "one,few,other"},
		{"hr", 3, "Problem zahvaća 3 usluge", "one,few,other"},
		{"hr", 11, "Problem zahvaća 11 usluga", "one,few,other"},
		{"hr", 5, "Problem zahvaća 5 usluga", "one,few,other"},
	}
	for _, tt := range tests {
		t.Run(tt.lang+" "+tt.want, func(t *testing.T) {
			if got := strings.Join(locale.PluralForms(tt.lang), ","); got != tt.forms {
				t.Errorf("PluralForms(%s) = %s, want %s", tt.lang, got, tt.forms)
			}
			if got := r.langs[tt.lang].plural("affects", tt.n); got != tt.want {
				t.Errorf("plural = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOverrides(t *testing.T) {
	t.Run("override one file", func(t *testing.T) {
		over := fstest.MapFS{"en/ack.sms.tmpl": {Data: []byte("CUSTOM {{.Name}} {{.ShortLink}}")}, "README.md": {Data: []byte("notes")}}
		r, err := New(configs.TemplatesFS(), over)
		if err != nil {
			t.Fatal(err)
		}
		in := sampleInput(queue.KindAck, "en")
		in.Incident.Name = "Outage"
		m, err := r.Render(channel.SMS, in)
		if err != nil {
			t.Fatal(err)
		}
		if m.Text != "CUSTOM Outage https://status.example-company.com/i/rclfxz2g21ly" {
			t.Errorf("text %q", m.Text)
		}
		if m2, _ := r.Render(channel.SMS, sampleInput(queue.KindAck, "hu")); strings.HasPrefix(m2.Text, "CUSTOM") {
			t.Errorf("override leaked into hu")
		}
	})
	t.Run("reword labels", func(t *testing.T) {
		over := fstest.MapFS{"hu/labels.toml": {Data: []byte("Started = \"Kezdődött\"\nSignoff = \"Üdv,\\n{{.Page}} csapata\"\n")}}
		r, err := New(configs.TemplatesFS(), over)
		if err != nil {
			t.Fatal(err)
		}
		m, err := r.Render(channel.Email, sampleInput(queue.KindAck, "hu"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Kezdődött: ", "Üdv,\nAcme & Co <Status> csapata"} {
			if !strings.Contains(m.Text, want) {
				t.Errorf("text lacks %q:\n%s", want, m.Text)
			}
		}
		if m2, _ := r.Render(channel.Email, sampleInput(queue.KindAck, "en")); !strings.Contains(m2.Text, "Started: ") {
			t.Errorf("override leaked into en:\n%s", m2.Text)
		}
	})
	broken := []struct {
		name  string
		files fstest.MapFS
		want  string
	}{
		{"parse error", fstest.MapFS{"hu/update.email.tmpl": {Data: []byte(`{{define "subject"}}{{.Name}`)}}, "hu/update.email.tmpl"},
		{"missing block", fstest.MapFS{"pl/resolved.slack.tmpl": {Data: []byte(`{{define "text"}}x{{end}}`)}}, `block "header" is missing`},
		{"unknown field", fstest.MapFS{"hr/survey.sms.tmpl": {Data: []byte(`{{.Nmae}}`)}}, "hr/survey.sms"},
		{"missing plural form", fstest.MapFS{"pl/labels.toml": {Data: []byte("[Affects]\none = \"{{.Count}} usługa\"\nfew = \"{{.Count}} usługi\"\nother = \"{{.Count}} usługi\"\n")}}, `pl/labels.toml: Affects lacks the plural form "many"`},
		{"unknown label", fstest.MapFS{"hu/labels.toml": {Data: []byte(`Strated = "Kezdet"`)}}, "hu/labels.toml: Strated is no message"},
		{"labels.tmpl of old", fstest.MapFS{"hr/labels.tmpl": {Data: []byte(`{{define "started"}}Početak{{end}}`)}}, "reword them in hr/labels.toml"},
		{"labels in an unknown language", fstest.MapFS{"de/labels.toml": {Data: []byte(`Started = "Beginn"`)}}, "de/labels.toml is not a template herald reads"},
		{"sms over budget", fstest.MapFS{"en/ack.sms.tmpl": {Data: []byte(strings.Repeat("x", 400) + " {{.ShortLink}}")}}, "does not fit"},
		{"sms just over budget", fstest.MapFS{"hu/update.sms.tmpl": {Data: []byte(strings.Repeat("ő", 100) + " {{.ShortLink}}")}}, "hu/update.sms does not fit"},
		{"misspelt file", fstest.MapFS{"en/ack.sms.tpl.tmpl": {Data: []byte("x {{.ShortLink}}")}}, "en/ack.sms.tpl.tmpl is not a template"},
		{"unknown kind", fstest.MapFS{"en/acknowledgement.sms.tmpl": {Data: []byte("x {{.ShortLink}}")}}, "en/acknowledgement.sms.tmpl is not a template"},
		{"unsupported language", fstest.MapFS{"de/ack.sms.tmpl": {Data: []byte("x {{.ShortLink}}")}}, "de/ack.sms.tmpl is not a template"},
		{"confirm sms over budget", fstest.MapFS{"pl/confirm.sms.tmpl": {Data: []byte(strings.Repeat("ł", 140) + " {{.Code}}")}}, "pl/confirm.sms does not fit"},
	}
	for _, tt := range broken {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(configs.TemplatesFS(), tt.files)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	t.Run("missing built-in", func(t *testing.T) {
		fsys := fstest.MapFS{"layout.email.html": {Data: []byte("x")}}
		if _, err := New(fsys, nil); err == nil || !strings.Contains(err.Error(), "en/ack.sms.tmpl") {
			t.Errorf("err = %v", err)
		}
	})
}

// TestWordsAreTheCatalogues: a status is named in messages as on the
// status page (one catalogue key serves both), and the label names of the
// templates (.L.started, plural "affects") reach the catalogue's words.
func TestWordsAreTheCatalogues(t *testing.T) {
	r := newTestRenderer(t)
	cat, err := locale.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range incident.Languages {
		lt, cl := r.langs[lang], cat.Lang(lang)
		for _, st := range append(append([]incident.Status{}, incident.IncidentStatuses...), incident.MaintenanceStatuses...) {
			id := "Status" // the page's ID: StatusInProgress for in_progress
			for _, w := range strings.Split(string(st), "_") {
				id += strings.ToUpper(w[:1]) + w[1:]
			}
			if lt.statuses[st] == "" || lt.statuses[st] != cl.Text(id) {
				t.Errorf("%s: status %s is %q in messages, %q (%s) on the page", lang, st, lt.statuses[st], cl.Text(id), id)
			}
		}
		for name, id := range labelNames {
			if lt.labels[name] == "" || lt.labels[name] != cl.Text(id) {
				t.Errorf("%s: .L.%s is %q, the catalogue's %s %q", lang, name, lt.labels[name], id, cl.Text(id))
			}
		}
		for name, id := range pluralNames {
			if got, want := lt.plural(name, 5), cl.Plural(id, 5); got != want {
				t.Errorf("%s: plural %q 5 is %q, the catalogue's %s %q", lang, name, got, id, want)
			}
		}
	}
}

func TestRenderErrors(t *testing.T) {
	r := newTestRenderer(t)
	in := sampleInput("nonsense", "en")
	if _, err := r.Render(channel.SMS, in); incident.ErrorCode(err) != incident.EINVALID {
		t.Errorf("unknown kind: %v", err)
	}
	in = sampleInput(queue.KindAck, "en")
	if _, err := r.Render("fax", in); incident.ErrorCode(err) != incident.EINVALID {
		t.Errorf("unknown channel: %v", err)
	}
	in.Incident = nil
	if _, err := r.Render(channel.SMS, in); incident.ErrorCode(err) != incident.EINVALID {
		t.Errorf("no incident: %v", err)
	}
}

func TestKindForBroadcast(t *testing.T) {
	for _, b := range []incident.BroadcastKind{incident.BroadcastDeclared, incident.BroadcastUpdated, incident.BroadcastResolved,
		incident.BroadcastScheduled, incident.BroadcastStarted, incident.BroadcastCompleted} {
		if k, ok := KindForBroadcast(b); !ok || !validKind(k) {
			t.Errorf("%s → %q, %v", b, k, ok)
		}
	}
	if _, ok := KindForBroadcast("bogus"); ok {
		t.Error("bogus broadcast kind mapped")
	}
}

func BenchmarkRenderSMS(b *testing.B) {
	r, err := New(configs.TemplatesFS(), nil)
	if err != nil {
		b.Fatal(err)
	}
	in := sampleInput(queue.KindAck, "hu")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Render(channel.SMS, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRender renders one update on each templated channel in Polish,
// whose labels include a plural ("affects") and a page-name footer.
func BenchmarkRender(b *testing.B) {
	r, err := New(configs.TemplatesFS(), nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, ch := range TemplateChannels {
		b.Run(string(ch), func(b *testing.B) {
			in := sampleInput(queue.KindAck, "pl")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Render(ch, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSMSLongPageAddress renders every SMS for a page whose address is long
// enough that a template's fixed text and short link alone outgrow the
// budget (Hungarian, Polish and Croatian are UCS-2: 134 units in two
// segments). The message must still go out, link and all, in the fewest
// segments that hold it, rather than fail at every send.
func TestSMSLongPageAddress(t *testing.T) {
	r := newTestRenderer(t)
	for _, lang := range incident.Languages {
		for _, kind := range MessageKinds {
			t.Run(lang+"/"+string(kind), func(t *testing.T) {
				in := sampleInput(kind, lang)
				in.Page.URL = "https://status.kereskedelmi-es-hitelbank.example.hu" // 51 characters
				m, err := r.Render(channel.SMS, in)
				if err != nil {
					t.Fatal(err)
				}
				// A survey carries its own link; a complaint's receipt and
				// answers carry its reference instead (their thread is the
				// conversation, not the incident page).
				linkless := kind == queue.KindSurvey || kind == queue.KindComplaintReceived || kind == queue.KindComplaintAnswer
				if !linkless && !strings.Contains(m.Text, in.Page.ShortURL(in.Incident.ID)) {
					t.Errorf("SMS lost its link: %q", m.Text)
				}
				// The fixed text grows the budget by one; a UCS-2 message takes
				// one more for the operator's text.
				limit := DefaultMaxSMSSegments + 1
				if enc, _, _ := sms.Segments(m.Text); enc == sms.UCS2 {
					limit++
				}
				if _, _, n := sms.Segments(m.Text); n > limit {
					t.Errorf("%d segments: %q", n, m.Text)
				}
			})
		}
	}
}

func TestRenderConfirm(t *testing.T) {
	r := newTestRendererCached(t)
	page := &incident.Page{ID: "p", Name: "Acme & Co", URL: "https://status.example.com"}
	link := "https://status.example.com/subscriptions/confirm/tok"
	for _, lang := range incident.Languages {
		t.Run(lang, func(t *testing.T) {
			text, err := r.RenderConfirm(channel.SMS, page, Recipient{Language: lang}, link, "123456")
			if err != nil || !strings.Contains(text.Text, "123456") || !strings.Contains(text.Text, "STOP") {
				t.Fatalf("text %+v, %v", text, err)
			}
			if _, _, n := sms.Segments(text.Text); n > 2 {
				t.Errorf("confirmation SMS takes %d segments", n)
			}
			em, err := r.RenderConfirm(channel.Email, page, Recipient{Language: lang}, link, "")
			if err != nil || !strings.Contains(em.Text, link) || !strings.Contains(em.HTML, `href="`+link+`"`) || em.Subject == "" {
				t.Fatalf("email %+v, %v", em, err)
			}
			if _, err := r.RenderConfirm(channel.Slack, page, Recipient{Language: lang}, link, ""); err == nil {
				t.Errorf("slack confirmation rendered")
			}
		})
	}
}

func TestPersonalise(t *testing.T) {
	tmpl := &channel.Message{Kind: channel.Slack, Text: "Hello " + NamePlaceholder + " " + UnsubscribePlaceholder,
		Blocks: []byte(`[{"text":"Hello ` + NamePlaceholder + `","u":"x/` + UnsubscribePlaceholder + `"}]`)}
	before := tmpl.Text
	m := Personalise(tmpl, &queue.Delivery{ID: "d", Kind: channel.Slack, Address: "C1", Name: `Ann "<@U1>"`}, "TOK")
	var blocks []map[string]string
	if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
		t.Fatalf("blocks are not JSON any more: %v: %s", err, m.Blocks)
	}
	if m.Text != `Hello Ann "&lt;@U1&gt;" TOK` || blocks[0]["text"] != `Hello Ann "&lt;@U1&gt;"` || blocks[0]["u"] != "x/TOK" || m.To != "C1" {
		t.Errorf("personalised %q %s", m.Text, m.Blocks)
	}
	if tmpl.Text != before {
		t.Errorf("the cached template was changed")
	}
	e := Personalise(&channel.Message{Kind: channel.Email, HTML: "<p>" + NamePlaceholder + "</p>"}, &queue.Delivery{Kind: channel.Email, Name: "<b>"}, "T")
	if e.HTML != "<p>&lt;b&gt;</p>" {
		t.Errorf("html %q", e.HTML)
	}
	// A name that contains the token's placeholder stays as written.
	odd := Personalise(&channel.Message{Kind: channel.Email, Text: NamePlaceholder + " " + UnsubscribePlaceholder},
		&queue.Delivery{Kind: channel.Email, Name: UnsubscribePlaceholder}, "T")
	if odd.Text != UnsubscribePlaceholder+" T" {
		t.Errorf("text %q: the name was rewritten", odd.Text)
	}
}

// TestSMSShortLinkLanguage: on a page in several languages an SMS's short
// link carries the recipient's language (/i/ID/hu), unless those three
// characters would cut the operator's text: then the bare link goes and
// the text keeps them. A page in one language links bare.
func TestSMSShortLinkLanguage(t *testing.T) {
	r := newTestRenderer(t)
	base := "https://status.example-company.com/i/rclfxz2g21ly"
	for _, tt := range []struct {
		name, lang, body string
		langs            []string
		link             string
	}{
		{"short text, hu", "hu", "Vizsgáljuk.", []string{"en", "hu", "pl", "hr"}, base + "/hu"},
		{"short text, en", "en", "Investigating.", []string{"en", "hu", "pl", "hr"}, base + "/en"},
		{"one language", "en", "Investigating.", []string{"en"}, base},
		// One long sentence: a cut text ends mid-sentence, where three
		// characters more keep more of it (a cut that ends at a
		// sentence's end gains nothing from them, and keeps the link).
		{"text that must be cut", "pl", "Sprawdzamy płatności" + strings.Repeat(" a", 120) + ".", []string{"en", "hu", "pl", "hr"}, base},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := sampleInput(queue.KindAck, tt.lang)
			in.Page.Languages = tt.langs
			in.Incident.Name = "Payments"
			in.Incident.Updates[0].Body = tt.body
			m, err := r.Render(channel.SMS, in)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(m.Text, " "+tt.link) {
				t.Errorf("SMS %q does not end with %s", m.Text, tt.link)
			}
		})
	}
}

// TestComplaintAnswerFitKept renders complaint answers for one incident
// with a renderer that has fitted the answer before (for another
// reference) and with a fresh one: the kept fit must give the same text
// as fitting anew, with this complaint's reference, in every language,
// whether the incident's text had to be cut or not. A reference that is
// not letters and digits is never fitted from a kept fit.
func TestComplaintAnswerFitKept(t *testing.T) {
	kinds := []queue.MessageKind{queue.KindComplaintAck, queue.KindComplaintResolved}
	for _, lang := range []string{"en", "hu", "pl", "hr"} {
		for _, kind := range kinds {
			for _, short := range []bool{false, true} {
				warm := newTestRenderer(t)
				in := sampleInput(kind, lang)
				if short {
					in.Incident.Updates[0].Body = "Card payments fail."
				}
				in.Ref = "C-AAAAAAAA"
				if _, err := warm.Render(channel.SMS, in); err != nil {
					t.Fatal(err)
				}
				// A longer reference must not reuse a shorter one's fit.
				for _, ref := range []string{"C-RCLFXZ2G", "C-00000001", "C-ŁÓDŹ1234", "C-RCLFXZ2GRCLFXZ2GRCLFXZ2G"} {
					in.Ref = ref
					got, err := warm.Render(channel.SMS, in)
					if err != nil {
						t.Fatal(err)
					}
					want, err := newTestRenderer(t).Render(channel.SMS, in)
					if err != nil {
						t.Fatal(err)
					}
					if got.Text != want.Text {
						t.Fatalf("%s %s (short %v) ref %s: from a kept fit\n%q\nfitted anew\n%q", lang, kind, short, ref, got.Text, want.Text)
					}
					if !strings.Contains(got.Text, sms.Transliterate(ref)) && !strings.Contains(got.Text, ref) {
						t.Fatalf("%s %s: the answer lacks reference %s: %q", lang, kind, ref, got.Text)
					}
					if strings.Contains(got.Text, "C-AAAAAAAA") || strings.Contains(got.Text, refMark) {
						t.Fatalf("%s %s: another complaint's reference or the mark leaked: %q", lang, kind, got.Text)
					}
				}
				if n := len(warm.fits.m); n == 0 {
					t.Fatalf("%s %s: no fit was kept", lang, kind)
				}
			}
		}
	}
}

// BenchmarkRenderComplaintAck renders the acknowledgement of a storm's
// complaints about one incident, each with its own reference.
//
//	go test -run '^$' -bench RenderComplaintAck -benchmem ./notify/render/
func BenchmarkRenderComplaintAck(b *testing.B) {
	r, err := New(configs.TemplatesFS(), nil)
	if err != nil {
		b.Fatal(err)
	}
	in := sampleInput(queue.KindComplaintAck, "hu")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		in.Ref = fmt.Sprintf("C-%08d", i)
		if _, err := r.Render(channel.SMS, in); err != nil {
			b.Fatal(err)
		}
	}
}

// TestComplaintAboutMaintenance: a complaint tagged to a maintenance is
// answered as planned work with its expected end, in every language and
// channel, not as "a known problem we are fixing".
func TestComplaintAboutMaintenance(t *testing.T) {
	r := newTestRenderer(t)
	fault := map[string]string{"en": "problem", "hu": "ismert hib", "pl": "znan", "hr": "poznat"}
	planned := map[string]string{"en": "planned maintenance", "hu": "tervezett karbantart", "pl": "planowan", "hr": "planiran"}
	for _, lang := range incident.Languages {
		for _, ch := range []channel.Kind{channel.SMS, channel.Email, channel.Slack} {
			in := sampleInput(queue.KindComplaintAck, lang)
			until := in.Incident.StartedAt.Add(2 * time.Hour)
			in.Incident.ScheduledFor, in.Incident.ScheduledUntil = &in.Incident.StartedAt, &until
			in.Incident.Impact, in.Incident.Status = incident.ImpactMaintenance, incident.InProgress
			in.Incident.Updates[0].Body, in.Incident.Updates[0].Status = "Short pauses.", incident.InProgress
			m, err := r.Render(ch, in)
			if err != nil {
				t.Fatal(err)
			}
			text := strings.ToLower(m.Text)
			if strings.Contains(text, fault[lang]) || !strings.Contains(text, planned[lang]) {
				t.Errorf("%s %s: want planned maintenance, not a fault: %q", lang, ch, text)
			}
			if ch == channel.SMS {
				if _, _, n := sms.Segments(text); n > DefaultMaxSMSSegments+1 {
					t.Errorf("%s sms: %d segments: %q", lang, n, text)
				}
			}
			// An incident's complaint still reads as a fault being fixed.
			in = sampleInput(queue.KindComplaintAck, lang)
			if m, err = r.Render(ch, in); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.ToLower(m.Text), fault[lang]) {
				t.Errorf("%s %s: an incident's acknowledgement lost its wording: %q", lang, ch, m.Text)
			}
		}
	}
}

// TestReceiptPointsAtTheStatus: a complaint herald could not tie to an
// incident (an unknown number texting during an outage) gets its receipt
// with where to see what is going on: the status page, in the customer's
// language, always in the email; in the SMS when it fits the receipt's
// two segments (English: GSM-7; a Hungarian, Polish or Croatian receipt
// is UCS-2 and has no room for it).
func TestReceiptPointsAtTheStatus(t *testing.T) {
	r := newTestRenderer(t)
	for _, lang := range incident.Languages {
		in := sampleInput(queue.KindComplaintReceived, lang)
		in.Incident = &incident.Incident{PageID: in.Page.ID} // about no incident
		in.Page.Languages = incident.Languages
		in.Ref = "C-RCLFXZ2G"
		want := LangURL(in.Page.URL, in.Page, lang)
		for _, ch := range []channel.Kind{channel.SMS, channel.Email} {
			m, err := r.Render(ch, in)
			if err != nil {
				t.Fatal(err)
			}
			link := want
			if enc, _, _ := sms.Segments(m.Text); ch == channel.SMS && enc == sms.UCS2 {
				link = "" // no room: the reference only
			}
			if !strings.Contains(m.Text, link) || !strings.Contains(m.Text, "C-RCLFXZ2G") {
				t.Errorf("%s %s: no link to the status page (%s) beside the reference: %q", lang, ch, link, m.Text)
			}
			if ch == channel.SMS {
				if _, _, n := sms.Segments(m.Text); n > DefaultMaxSMSSegments {
					t.Errorf("%s: %d segments: %q", lang, n, m.Text)
				}
			}
		}
		// In Slack, no "Status:" with nothing after it.
		m, err := r.Render(channel.Slack, in)
		if err != nil {
			t.Fatal(err)
		}
		if label := "*" + r.langs[lang].labels["StatusLabel"] + ":*"; strings.Contains(string(m.Blocks), label) {
			t.Errorf("%s Slack receipt about no incident shows an empty %s: %s", lang, label, m.Blocks)
		}
	}
}

// TestReceiptKeepsThePageName: the receipt's SMS says who is writing: a
// page name of up to 24 characters is never cut to make the receipt fit
// its two segments, in any language ("Acme…: thank you" says nothing).
func TestReceiptKeepsThePageName(t *testing.T) {
	r := newTestRenderer(t)
	for _, name := range []string{"Acme Payments", "Északi Energia Zrt.", "Przykładowa Firma S.A."} {
		for _, lang := range incident.Languages {
			in := sampleInput(queue.KindComplaintReceived, lang)
			in.Incident = &incident.Incident{PageID: in.Page.ID}
			in.Page.Name, in.Page.Languages = name, incident.Languages
			in.Ref = "C-RCLFXZ2G"
			m, err := r.Render(channel.SMS, in)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(m.Text, sms.Transliterate(name)+":") {
				t.Errorf("%s receipt from %q: %q", lang, name, m.Text)
			}
		}
	}
}

// TestEmailHeadingAndButton: the HTML mail's heading is the subject
// without its "[Page]" tag (the page heads the mail once), and after the
// incident its button offers the details, not to follow along.
func TestEmailHeadingAndButton(t *testing.T) {
	r := newTestRenderer(t)
	h1 := regexp.MustCompile(`(?s)<h1[^>]*>(.*?)</h1>`)
	for kind, button := range map[queue.MessageKind]string{queue.KindAck: "Follow on the status page", queue.KindResolved: "Details on the status page"} {
		in := operatorInput(kind, "en", "Payments work.")
		m, err := r.Render(channel.Email, in)
		if err != nil {
			t.Fatal(err)
		}
		head := h1.FindStringSubmatch(m.HTML)
		if head == nil || strings.Contains(head[1], "[Status]") || !strings.HasPrefix(m.Subject, "[Status]") {
			t.Errorf("%s: heading %q (subject %q): want the subject without its tag", kind, head, m.Subject)
		}
		if !strings.Contains(m.HTML, button) {
			t.Errorf("%s: no %q button", kind, button)
		}
	}
}

// TestResolvedEmailOffersTheForm: the resolution's and the compensation's
// emails tell a customer who needs help where to say so: a reply, or the
// status page's form for the incident, in their language (a reply reaches
// herald only where an inbound email door is set up).
func TestResolvedEmailOffersTheForm(t *testing.T) {
	r := newTestRenderer(t)
	for _, kind := range []queue.MessageKind{queue.KindResolved, queue.KindCompensation} {
		for _, lang := range incident.Languages {
			in := sampleInput(kind, lang)
			in.Page.Languages = incident.Languages
			in.Compensation = "As an apology we credit 5.00 EUR."
			m, err := r.Render(channel.Email, in)
			if err != nil {
				t.Fatal(err)
			}
			want := "https://status.example-company.com/report?incident=rclfxz2g21ly&lang=" + lang
			if !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, strings.ReplaceAll(want, "&", "&amp;")) {
				t.Errorf("%s %s email: no link to the report form %s:\n%s", kind, lang, want, m.Text)
			}
			// In the HTML part it is a link, as the status page's is.
			if href := `href="` + strings.ReplaceAll(want, "&", "&amp;") + `"`; !strings.Contains(m.HTML, href) {
				t.Errorf("%s %s email: the report form's address is no link (%s) in the HTML:\n%s", kind, lang, href, m.HTML)
			}
		}
	}
}

// TestLangURL: the language goes after the page's address as a query,
// after a "/" when the address has no path (a page URL as stored,
// "http://127.0.0.1:8080"), and not at all on a page of one language.
func TestLangURL(t *testing.T) {
	multi := &incident.Page{Languages: []string{"en", "hu"}}
	for _, tt := range []struct{ in, want string }{
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/?lang=hu"},
		{"https://status.acme.com/", "https://status.acme.com/?lang=hu"},
		{"https://status.acme.com/incidents/x", "https://status.acme.com/incidents/x?lang=hu"},
		{"https://status.acme.com/?a=1", "https://status.acme.com/?a=1&lang=hu"},
	} {
		if got := LangURL(tt.in, multi, "hu"); got != tt.want {
			t.Errorf("LangURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := LangURL("http://127.0.0.1:8080", &incident.Page{Languages: []string{"en"}}, "hu"); got != "http://127.0.0.1:8080" {
		t.Errorf("one language: %q", got)
	}
}

// TestCallAcknowledgement: the acknowledgement of a call an agent recorded
// thanks for the call, not for a message the customer never wrote, in
// every language, by SMS and email.
func TestCallAcknowledgement(t *testing.T) {
	r := newTestRenderer(t)
	call := map[string]string{"en": "your call", "hu": "hívását", "pl": "reklamację telefoniczną", "hr": "poziv"}
	// What thanks for a message says (the footers' "this message" aside).
	message := map[string][]string{"en": {"your message"}, "hu": {"üzenetét"}, "pl": {"państwa wiadomość"}, "hr": {"vašu poruku", "poruci"}}
	says := func(text string, phrases []string) bool {
		for _, p := range phrases {
			if strings.Contains(text, p) {
				return true
			}
		}
		return false
	}
	for _, lang := range incident.Languages {
		for _, ch := range []channel.Kind{channel.SMS, channel.Email} {
			if lang == "pl" && ch == channel.SMS {
				continue // "dziękujemy": thanks for neither
			}
			in := sampleInput(queue.KindComplaintAck, lang)
			in.Call = true
			m, err := r.Render(ch, in)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.ToLower(m.Subject + " " + m.Text)
			if !strings.Contains(got, call[lang]) || says(got, message[lang]) {
				t.Errorf("%s %s after a call: %q", lang, ch, got)
			}
			in.Call = false
			if m, err = r.Render(ch, in); err != nil {
				t.Fatal(err)
			}
			if got := strings.ToLower(m.Subject + " " + m.Text); !says(got, message[lang]) {
				t.Errorf("%s %s after a message: %q", lang, ch, got)
			}
		}
	}
}

// TestIncidentNameQuoted: a sentence that names the incident quotes the
// name, so "fixed" and "is behind us" do not read as if they were said of
// the name's own words ("The problem is fixed: Card payments are failing").
func TestIncidentNameQuoted(t *testing.T) {
	r := newTestRenderer(t)
	names := map[string]string{"en": "Card payments are failing", "hu": "Nem működik a kártyás fizetés",
		"pl": "Płatności kartą nie działają", "hr": "Plaćanje karticom ne radi"}
	for _, tt := range []struct {
		kind queue.MessageKind
		ch   channel.Kind
		lang string
		want string // in the subject or the text
	}{
		{queue.KindResolved, channel.Email, "en", `The problem "Card payments are failing" is fixed.`},
		{queue.KindResolved, channel.Email, "hu", "A „Nem működik a kártyás fizetés” hibát elhárítottuk."},
		{queue.KindResolved, channel.Email, "pl", "Problem „Płatności kartą nie działają” został rozwiązany."},
		{queue.KindResolved, channel.Email, "hr", "Problem „Plaćanje karticom ne radi“ je riješen."},
		{queue.KindSurvey, channel.Email, "en", `The problem "Card payments are failing" is behind us, and we would like to learn from it.`},
		{queue.KindSurvey, channel.Email, "hu", "A „Nem működik a kártyás fizetés” hiba már elhárult."},
		{queue.KindSurvey, channel.SMS, "en", `how we handled "Card payments are failing"?`},
		{queue.KindSurvey, channel.Slack, "en", `The problem "Card payments are failing" is resolved.`},
		{queue.KindCompensation, channel.Email, "en", `Compensation for the disruption "Card payments are failing"`},
	} {
		in := sampleInput(tt.kind, tt.lang)
		in.Incident.Name, in.Incident.Names = names["en"], names
		in.Incident.Updates[0].Body = "Payments work again."
		m, err := r.Render(tt.ch, in)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Subject + "\n" + m.Text + string(m.Blocks); !strings.Contains(got, tt.want) {
			t.Errorf("%s %s %s: no %q in\n%s", tt.kind, tt.ch, tt.lang, tt.want, got)
		}
	}
}

// TestConfirmSMSFormal: the sign-up code's SMS addresses the customer as
// every other message does (pl Państwo, not ty; hr Vaš capitalised).
func TestConfirmSMSFormal(t *testing.T) {
	r := newTestRendererCached(t)
	page := &incident.Page{ID: "p", Name: "Acme Pénz", URL: "https://status.example.com"}
	for lang, want := range map[string]string{
		"pl": "Acme Pénz: Kod potwierdzający: 123456. Prosimy odpowiedzieć TAK lub wpisać kod, aby potwierdzić powiadomienia. Rezygnacja: STOP",
		"hr": "Acme Pénz: Vaš kod je 123456. Odgovorite DA ili unesite kod za potvrdu obavijesti. Odjava: STOP",
	} {
		m, err := r.RenderConfirm(channel.SMS, page, Recipient{Language: lang}, "https://status.example.com/c/tok", "123456")
		if err != nil {
			t.Fatal(err)
		}
		if m.Text != want {
			t.Errorf("%s confirmation SMS %q, want %q", lang, m.Text, want)
		}
	}
}

// TestResolvedWithoutTextNotRepeated: the words herald writes itself on a
// resolve without a text ("This incident has been resolved.", each
// language's own on the page) are not what happened: the all-clear says
// the problem is fixed already, so it reads exactly as with no text at
// all, in every language and channel, rather than "What happened and
// what we did: This incident has been resolved." A text the resolver
// wrote still shows.
func TestResolvedWithoutTextNotRepeated(t *testing.T) {
	r := newTestRenderer(t)
	words, err := locale.Default()
	if err != nil {
		t.Fatal(err)
	}
	resolve := func(in Input, body string, messages map[string]string) Input {
		in.Incident.Status = incident.Resolved
		u := *in.Incident.Updates[0]
		u.Status, u.Body, u.Messages = incident.Resolved, body, messages
		in.Incident.Updates = []*incident.Update{&u}
		return in
	}
	automatic := map[string]string{}
	for _, lang := range incident.Languages {
		if text := words.Lang(lang).Text(incident.ResolvedWordsID); text != incident.ResolvedBody {
			automatic[lang] = text
		}
	}
	for _, ch := range []channel.Kind{channel.Email, channel.SMS, channel.Slack} {
		for _, lang := range incident.Languages {
			bare, err := r.Render(ch, resolve(sampleInput(queue.KindResolved, lang), "", nil))
			if err != nil {
				t.Fatal(err)
			}
			auto, err := r.Render(ch, resolve(sampleInput(queue.KindResolved, lang), incident.ResolvedBody, automatic))
			if err != nil {
				t.Fatal(err)
			}
			if auto.Subject != bare.Subject || auto.Text != bare.Text || auto.HTML != bare.HTML || string(auto.Blocks) != string(bare.Blocks) {
				t.Errorf("%s %s: the automatic words change the all-clear:\n%s\nwant as without a text:\n%s", ch, lang, auto.Text, bare.Text)
			}
			wrote, err := r.Render(ch, resolve(sampleInput(queue.KindResolved, lang), "A bad deploy was rolled back.", nil))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(wrote.Text, "A bad deploy was rolled back.") {
				t.Errorf("%s %s: the resolver's text is missing:\n%s", ch, lang, wrote.Text)
			}
		}
	}
}

// TestAutomaticMaintenanceWordsNotRepeated: the words herald writes itself
// when a maintenance is scheduled without a message or is started or
// completed on time ("The scheduled maintenance has been completed.", each
// language's own) say what the message's template says already: the email,
// SMS and Slack message read exactly as with no text at all, in every
// language, rather than "The planned maintenance is complete: X. … The
// scheduled maintenance has been completed.", and the SMS takes no segment
// more for them. No blank paragraph is left where the text would be. A
// text the manager wrote still shows.
func TestAutomaticMaintenanceWordsNotRepeated(t *testing.T) {
	r := newTestRenderer(t)
	words, err := locale.Default()
	if err != nil {
		t.Fatal(err)
	}
	step := func(in Input, st incident.Status, body string, messages map[string]string) Input {
		in.Incident.Name, in.Incident.Status = "Database upgrade", st
		u := *in.Incident.Updates[0]
		u.Status, u.Body, u.Messages = st, body, messages
		in.Incident.Updates = []*incident.Update{&u}
		return in
	}
	for _, k := range []struct {
		kind queue.MessageKind
		st   incident.Status
	}{
		{queue.KindMaintenanceScheduled, incident.Scheduled},
		{queue.KindMaintenanceStarted, incident.InProgress},
		{queue.KindMaintenanceCompleted, incident.Completed},
	} {
		body, id := incident.AutomaticWords(k.st)
		if body == "" {
			t.Fatalf("%s: herald writes no words of its own", k.st)
		}
		automatic := map[string]string{}
		for _, lang := range incident.Languages {
			if text := words.Lang(lang).Text(id); text != body {
				automatic[lang] = text
			}
		}
		for _, ch := range []channel.Kind{channel.Email, channel.SMS, channel.Slack} {
			for _, lang := range incident.Languages {
				name := fmt.Sprintf("%s %s %s", k.kind, ch, lang)
				bare, err := r.Render(ch, step(sampleInput(k.kind, lang), k.st, "", nil))
				if err != nil {
					t.Fatal(err)
				}
				auto, err := r.Render(ch, step(sampleInput(k.kind, lang), k.st, body, automatic))
				if err != nil {
					t.Fatal(err)
				}
				if auto.Subject != bare.Subject || auto.Text != bare.Text || auto.HTML != bare.HTML || string(auto.Blocks) != string(bare.Blocks) {
					t.Errorf("%s: the automatic words change the message:\n%s\nwant as without a text:\n%s", name, auto.Text, bare.Text)
				}
				if strings.Contains(bare.Text, "\n\n\n") || strings.Contains(bare.HTML, "\"></p>") || strings.Contains(bare.HTML, "<p></p>") {
					t.Errorf("%s: a blank paragraph where the text would be:\n%s", name, bare.Text)
				}
				wrote, err := r.Render(ch, step(sampleInput(k.kind, lang), k.st, "Payments may be slow for a few minutes.", nil))
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(wrote.Text+string(wrote.Blocks), "Payments may be slow for a few minutes.") &&
					!(ch == channel.Slack && k.kind == queue.KindMaintenanceCompleted) { // its Slack message has no text slot
					t.Errorf("%s: the manager's text is missing:\n%s", name, wrote.Text)
				}
			}
		}
	}
}

// TestSurveyThanks: the thanks for a score given by email, in each
// language, names the incident and the survey link (to change the score
// or say more), offers no score buttons (it asks for nothing), and goes
// by email only.
func TestSurveyThanks(t *testing.T) {
	r := newTestRenderer(t)
	want := map[string][]string{
		"en": {"Thank you for your rating", "we have recorded your score"},
		"hu": {"Köszönjük az értékelését", "a pontszámát rögzítettük"},
		"pl": {"Dziękujemy za ocenę", "zapisaliśmy Państwa ocenę"},
		"hr": {"Hvala na ocjeni", "zabilježili smo Vašu ocjenu"},
	}
	for _, lang := range incident.Languages {
		t.Run(lang, func(t *testing.T) {
			in := sampleInput(queue.KindSurveyThanks, lang)
			in.SurveyURL = "https://status.example.com/survey/abc.def"
			in.UnsubscribeURL = ""
			m, err := r.Render(channel.Email, in)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(m.Subject, want[lang][0]) || !strings.Contains(m.Text, want[lang][1]) || !strings.Contains(m.Text, in.SurveyURL) ||
				!strings.Contains(m.Text, in.Incident.NameIn(lang)) {
				t.Errorf("subject %q\n%s", m.Subject, m.Text)
			}
			if strings.Contains(m.HTML, html.EscapeString(ScoreURL(in.SurveyURL, 1))) {
				t.Errorf("the thanks offers score buttons:\n%s", m.HTML)
			}
			if _, err := r.Render(channel.SMS, in); incident.ErrorCode(err) != incident.EINVALID {
				t.Errorf("by SMS: %v, want refused", err)
			}
		})
	}
}

// TestSurveyAsk: the request for a score, in each language, thanks the
// customer, names the scale from 1 to 5 and the survey link, carries the
// score buttons in its HTML, and goes by email only.
func TestSurveyAsk(t *testing.T) {
	r := newTestRenderer(t)
	want := map[string][]string{
		"en": {"Thank you for your reply", "a number from 1 (poor) to 5 (excellent)"},
		"hu": {"Köszönjük a válaszát", "egy számmal 1-től (gyenge) 5-ig (kiváló)"},
		"pl": {"Dziękujemy za odpowiedź", "liczbą od 1 (źle) do 5 (doskonale)"},
		"hr": {"Hvala na Vašem odgovoru", "brojem od 1 (loše) do 5 (izvrsno)"},
	}
	for _, lang := range incident.Languages {
		t.Run(lang, func(t *testing.T) {
			in := sampleInput(queue.KindSurveyAsk, lang)
			in.SurveyURL = "https://status.example.com/survey/abc.def"
			m, err := r.Render(channel.Email, in)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(m.Subject, want[lang][0]) || !strings.Contains(m.Text, want[lang][1]) || !strings.Contains(m.Text, in.SurveyURL) ||
				!strings.Contains(m.Text, in.Incident.NameIn(lang)) {
				t.Errorf("subject %q\n%s", m.Subject, m.Text)
			}
			for n := 1; n <= 5; n++ {
				if !strings.Contains(m.HTML, html.EscapeString(ScoreURL(in.SurveyURL, n))) {
					t.Errorf("no button for %d in the HTML", n)
				}
			}
			if _, err := r.Render(channel.SMS, in); incident.ErrorCode(err) != incident.EINVALID {
				t.Errorf("by SMS: %v, want refused", err)
			}
		})
	}
}
