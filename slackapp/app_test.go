package slackapp

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/locale"
	"github.com/heraldhq/herald/queue"
)

func testApp(t *testing.T) *App {
	t.Helper()
	a, err := New(Config{IncidentChannel: "C0INCIDENTS", PublicURL: "https://status.example.com/"}, nil, nil, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

func TestLang(t *testing.T) {
	for in, want := range map[string]string{"hu-HU": "hu", "pl_PL": "pl", "hr-HR": "hr", "en-GB": "en", "de-DE": "en", "": "en", "HU": "hu"} {
		if got := lang(in); got != want {
			t.Errorf("lang(%q) = %q, want %q", in, got, want)
		}
	}
}

// Every word the app shows exists in every language: a missing one would
// show its ID.
func TestWordsInEveryLanguage(t *testing.T) {
	a := testApp(t)
	ids := []string{"SlackHelp", "SlackRefused", "SlackListNone", "SlackListTitle", "SlackModalDeclare", "SlackModalUpdate",
		"SlackModalResolve", "SlackSubmitDeclare", "SlackSubmitUpdate", "SlackSubmitResolve", "SlackCancel", "SlackFieldName",
		"SlackFieldNameHint", "SlackFieldComponents", "SlackFieldImpact", "SlackFieldStatus", "SlackFieldNotify", "SlackNotifyYes",
		"SlackFieldOperational", "SlackOperationalYes", "SlackAudienceCounting", "SlackAudienceNone", "SlackLatestUpdate",
		"SlackBroadcast", "SlackBroadcastNone", "SlackBroadcastPlanning", "SlackButtonUpdate", "SlackButtonResolve", "SlackButtonOpen", "SlackStarted",
		"SlackNoComponents", "SlackLanguage", "StatusLabel", "ImpactLabel", "Components", "SlackModalNote", "SlackNoteHint", "SlackBodyBlank",
		"SlackChangedUpdate", "SlackAlreadyClosed"}
	for _, l := range locale.Languages {
		for _, id := range ids {
			if got, ok := a.words.Lang(l).Lookup(id); !ok || got == "" {
				t.Errorf("%s: %s missing", l, id)
			}
		}
		for _, s := range []incident.Status{incident.Investigating, incident.Identified, incident.Monitoring, incident.Resolved} {
			if w := a.statusWord(l, s); strings.HasPrefix(w, "Status") && l != "en" {
				t.Errorf("%s: status %s has no word (%q)", l, s, w)
			}
		}
		for _, s := range incident.ComponentStatuses {
			if w := a.componentWord(l, s); strings.HasPrefix(w, "Component") {
				t.Errorf("%s: component status %s has no word", l, s)
			}
		}
		for _, k := range channel.Kinds {
			if w := a.channelWord(l, k); strings.HasPrefix(w, "SlackChannel") {
				t.Errorf("%s: channel %s has no word", l, k)
			}
		}
		for _, id := range []string{"SlackFailed", "SlackChangedMeanwhile"} {
			if got := a.text(l, id, "Reason", "X", "Changes", "X"); !strings.Contains(got, "X") {
				t.Errorf("%s: %s = %q", l, id, got)
			}
		}
		for _, id := range []string{"SlackChangedStatus", "SlackChangedImpact"} {
			if got := a.text(l, id, "From", "X", "To", "Y"); !strings.Contains(got, "X → Y") {
				t.Errorf("%s: %s = %q", l, id, got)
			}
		}
	}
	// Modal titles and buttons fit Slack's 24 characters after clipping.
	if got := clip("Résoudre l'incident maintenant", 24); len([]rune(got)) != 24 {
		t.Errorf("clip = %q", got)
	}
}

func TestIncidentMessage(t *testing.T) {
	a := testApp(t)
	now := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	page := &incident.Page{ID: "p1", Name: "Example", URL: "https://status.example.com", TimeZone: "Europe/Budapest", Languages: []string{"hu", "en"}}
	comps := []*incident.Component{{ID: "c1", Name: "Fizetés", Status: incident.MajorOutage}, {ID: "c2", Name: "Web", Status: incident.Operational}}
	inc := &incident.Incident{ID: "i1", PageID: "p1", Name: "Kártyás fizetés hiba", Status: incident.Identified, Impact: incident.ImpactCritical,
		ComponentIDs: []string{"c1"}, StartedAt: now, Updates: []*incident.Update{{ID: "u2", Status: incident.Identified, Body: "Visszaállítjuk.", DisplayAt: now}}}
	progress := []*queue.Progress{
		{State: queue.PlanDone, Counts: map[channel.Kind]map[queue.DeliveryState]int{
			channel.SMS:   {queue.StateDelivered: 90, queue.StateFailed: 2, queue.StatePending: 8, queue.StateSuppressed: 5},
			channel.Email: {queue.StateSent: 40}}},
	}
	m, err := a.incidentMessage(page, inc, comps, progress)
	if err != nil {
		t.Fatal(err)
	}
	var blocks slackgo.Blocks
	if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
		t.Fatalf("blocks do not decode as Block Kit: %v\n%s", err, m.Blocks)
	}
	s := string(m.Blocks)
	for _, want := range []string{"Kártyás fizetés hiba", "Fizetés: Teljes kiesés", "Visszaállítjuk.", "19:00 CET",
		"SMS 90/100 elküldve, 2 sikertelen", "e-mail 40/40 elküldve", `"herald_update"`, `"herald_resolve"`,
		"https://status.example.com/incidents/i1"} {
		if !strings.Contains(s, want) {
			t.Errorf("message lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "Web") {
		t.Error("a component the incident does not name is listed")
	}
	inc.Status = incident.Resolved
	m, _ = a.incidentMessage(page, inc, comps, nil)
	if strings.Contains(string(m.Blocks), "herald_resolve") || !strings.Contains(string(m.Blocks), "Megoldva") {
		t.Errorf("a resolved incident's message keeps its Resolve button or lacks its status: %s", m.Blocks)
	}
	if !strings.Contains(string(m.Blocks), `"herald_update"`) {
		t.Errorf("a resolved incident's message has no Post update, for a note: %s", m.Blocks)
	}
	if !strings.Contains(string(m.Blocks), a.text("hu", "SlackBroadcastNone")) {
		t.Error("no broadcast: the message should say so")
	}
	m, _ = a.incidentMessage(page, inc, comps, []*queue.Progress{{State: queue.PlanPending}})
	if !strings.Contains(string(m.Blocks), a.text("hu", "SlackBroadcastPlanning")) {
		t.Errorf("a broadcast still being planned: %s", m.Blocks)
	}
	// An operator's text is shown as typed, never as Slack markup: no
	// mention, no link, no stray entity.
	inc.Updates[0].Body = "Ask <@U0MGR|mia> & see <https://x.example/runbook|the runbook> <b>now</b>"
	m, _ = a.incidentMessage(page, inc, comps, nil)
	var got slackgo.Blocks
	if err := json.Unmarshal(m.Blocks, &got); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(got)
	if !strings.Contains(string(m.Blocks), `Ask \u0026lt;@U0MGR|mia\u0026gt; \u0026amp; see \u0026lt;https://x.example/runbook|the runbook\u0026gt;`) &&
		!strings.Contains(string(raw), "Ask &lt;@U0MGR|mia&gt; &amp; see &lt;https://x.example/runbook|the runbook&gt; &lt;b&gt;now&lt;/b&gt;") {
		t.Errorf("the operator's text is not escaped for mrkdwn:\n%s", raw)
	}
}

func TestSubmissionParsing(t *testing.T) {
	values := map[string]map[string]slackgo.BlockAction{
		blockComponents:         {blockComponents: {SelectedOptions: []slackgo.OptionBlockObject{{Value: "c2"}, {Value: "c1"}}}},
		compStatusPrefix + "c1": {blockStatus: {SelectedOption: slackgo.OptionBlockObject{Value: "major_outage"}}},
		blockNotify:             {blockNotify: {SelectedOptions: []slackgo.OptionBlockObject{{Value: optionYes}}}},
	}
	sel, st := chosenComponents(values)
	if strings.Join(sel, ",") != "c2,c1" || st["c1"] != incident.MajorOutage || len(st) != 1 {
		t.Errorf("chosen = %v %v", sel, st)
	}
	if !checked(values, blockNotify) || checked(values, blockOperational) {
		t.Error("checkboxes misread")
	}
	for _, tc := range []struct {
		callback string
		err      error
		want     string
	}{
		{CallbackDeclare, incident.Invalid("name", "must not be empty"), blockName},
		{CallbackDeclare, incident.Invalid("components", "no component"), blockComponents},
		{CallbackUpdate, incident.Invalid("body", "too long"), blockBody},
		{CallbackUpdate, &incident.Error{Code: incident.ETRANSITION, Field: "status"}, blockStatus},
		{CallbackResolve, errors.New("disk full"), blockBody},
	} {
		if got := fieldBlock(tc.callback, tc.err); got != tc.want {
			t.Errorf("fieldBlock(%s, %v) = %s, want %s", tc.callback, tc.err, got, tc.want)
		}
	}
	if r := reason(errors.New("secret detail")); strings.Contains(r, "secret") {
		t.Errorf("an internal error's detail reaches the user: %q", r)
	}
}

func TestManifest(t *testing.T) {
	m := Manifest("https://status.example.com/")
	b, _ := json.Marshal(m)
	s := string(b)
	for _, want := range []string{`"request_url":"https://status.example.com/webhooks/slack/interactions"`,
		`"url":"https://status.example.com/webhooks/slack/commands"`, `"/herald"`, `"chat:write"`, `"commands"`, `"users:read"`, `"channels:history"`, `"groups:history"`} {
		if !strings.Contains(s, want) {
			t.Errorf("manifest lacks %s: %s", want, s)
		}
	}
}

// A resolved incident's message shows the worst impact it had, as the
// status page does, not the one lowered while the fix was watched; an
// open one shows its impact now.
func TestResolvedMessageKeepsTheWorstImpact(t *testing.T) {
	a := testApp(t)
	now := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	page := &incident.Page{ID: "p1", Name: "Example", URL: "https://status.example.com", Languages: []string{"en"}}
	comps := []*incident.Component{{ID: "c1", Name: "Payments", Status: incident.Operational}}
	inc := &incident.Incident{ID: "i1", PageID: "p1", Name: "Card payments failing", Status: incident.Monitoring, Impact: incident.ImpactMinor,
		ImpactOverride: incident.ImpactMinor, ComponentIDs: []string{"c1"}, StartedAt: now, Updates: []*incident.Update{
			{ID: "u2", Status: incident.Monitoring, DisplayAt: now, AffectedComponents: []incident.AffectedComponent{{Code: "c1", Name: "Payments", OldStatus: incident.MajorOutage, NewStatus: incident.Operational}}},
			{ID: "u1", Status: incident.Investigating, DisplayAt: now, AffectedComponents: []incident.AffectedComponent{{Code: "c1", Name: "Payments", OldStatus: incident.Operational, NewStatus: incident.MajorOutage}}}}}
	impact := func() string {
		t.Helper()
		m, err := a.incidentMessage(page, inc, comps, nil)
		if err != nil {
			t.Fatal(err)
		}
		var blocks slackgo.Blocks
		if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
			t.Fatal(err)
		}
		for _, f := range blocks.BlockSet[1].(*slackgo.SectionBlock).Fields {
			if after, ok := strings.CutPrefix(f.Text, "*Impact*\n"); ok {
				return after
			}
		}
		t.Fatalf("no impact field: %s", m.Blocks)
		return ""
	}
	if got := impact(); got != "Minor" {
		t.Errorf("open, lowered to minor: the message shows %q", got)
	}
	inc.Status = incident.Resolved
	if got := impact(); got != "Critical" {
		t.Errorf("resolved after a major outage: the message shows %q, want Critical (as the status page)", got)
	}
}

// The declare modal's status selects follow the components in the order
// the manager picked them, not by ID.
func TestDeclareSelectsInPickOrder(t *testing.T) {
	a := testApp(t)
	page := &incident.Page{ID: "p1", Name: "Example", Languages: []string{"en"}}
	comps := []*incident.Component{{ID: "a1", Name: "Search"}, {ID: "b2", Name: "API"}, {ID: "z9", Name: "Payments"}}
	values := map[string]map[string]slackgo.BlockAction{
		blockComponents: {blockComponents: {SelectedOptions: []slackgo.OptionBlockObject{{Value: "z9"}, {Value: "a1"}, {Value: "b2"}}}}}
	selected, statuses := chosenComponents(values)
	v := a.declareView("en", page, comps, selected, statuses, "", meta{Page: "p1", Lang: "en"})
	var order []string
	for _, b := range v.Blocks.BlockSet {
		if in, ok := b.(*slackgo.InputBlock); ok && strings.HasPrefix(in.BlockID, compStatusPrefix) {
			order = append(order, in.Label.Text)
		}
	}
	if got := strings.Join(order, ", "); got != "Status of Payments, Status of Search, Status of API" {
		t.Errorf("status selects in the order %s, want the order picked", got)
	}
}

// TestRefusalNamesTheRoleInTheUsersLanguage: an agent refused an action
// that needs a manager is told their role in their language, in the word
// the console uses for it; it said the raw "agent" in every language.
func TestRefusalNamesTheRoleInTheUsersLanguage(t *testing.T) {
	a := testApp(t)
	for _, tt := range []struct{ lang, want string }{
		{"en", "Sorry, only a herald manager may do that: your Slack account has the agent role. Nothing has been changed."},
		{"hu", "Sajnáljuk, ezt csak herald-vezető teheti meg: az Ön Slack-fiókjának szerepköre: ügyintéző. Semmi sem változott."},
		{"pl", "Niestety, może to zrobić tylko kierownik w herald: to konto Slack ma rolę: konsultant. Nic nie zostało zmienione."},
		{"hr", "Nažalost, to smije samo voditelj u heraldu: vaš Slack račun ima ulogu: agent. Ništa nije promijenjeno."},
	} {
		if got := a.refused(tt.lang, incident.RoleAgent); got != tt.want {
			t.Errorf("%s: %q\nwant %q", tt.lang, got, tt.want)
		}
	}
	// Every role has its word in every language.
	for _, l := range locale.Languages {
		for _, r := range []incident.Role{incident.RoleAdmin, incident.RoleManager, incident.RoleAgent} {
			if w := a.roleWord(l, r); w == "" || strings.HasPrefix(w, "ConsoleRole") {
				t.Errorf("%s: role %s has no word (%q)", l, r, w)
			}
		}
	}
}
