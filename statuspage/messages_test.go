package statuspage

import (
	"context"
	"strings"
	"testing"

	"github.com/heraldhq/herald/incident"
)

// TestUpdateTextPerLanguage: an update written in several languages shows
// each viewer their language's text on the page and the incident page; a
// language without its own text shows the default.
func TestUpdateTextPerLanguage(t *testing.T) {
	e := newEnv(t, scenarioNow)
	ctx := context.Background()
	p, c := acmePage(t, e, "Card payments")
	texts := map[string]string{"en": "Some card payments are declined.", "hu": "Néhány kártyás fizetés sikertelen.", "pl": "Część płatności kartą jest odrzucana."}
	body, iname := texts["en"], "Card payments fail"
	inc, _, err := e.svc.CreateIncident(ctx, p.ID, incident.IncidentInput{Name: &iname, Body: &body,
		Messages:   map[string]string{"hu": texts["hu"], "pl": texts["pl"]},
		Components: map[string]incident.ComponentStatus{c.ID: incident.MajorOutage}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.site.RenderPage(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/", "/incidents/" + inc.ID} {
		for _, l := range incident.Languages {
			want := texts[l]
			if want == "" {
				want = texts["en"]
			}
			b := string(lookup(t, e.site, path, l).Body)
			if !strings.Contains(b, want) {
				t.Errorf("%s [%s] lacks %q", path, l, want)
			}
			for ol, other := range texts {
				if other != want && strings.Contains(b, other) {
					t.Errorf("%s [%s] shows the %s text too", path, l, ol)
				}
			}
		}
	}
}

// TestIncidentNamePerLanguage: an incident named in several languages
// shows each viewer their language's name on the page, the incident
// page (and its title), the history, the feeds and the JSON API (a widget
// on a Hungarian site reads the Hungarian name over the Hungarian text);
// a language without its own name shows the default.
func TestIncidentNamePerLanguage(t *testing.T) {
	e := newEnv(t, scenarioNow)
	ctx := context.Background()
	p, _ := acmePage(t, e, "Payments", incident.Languages...)
	names := map[string]string{"en": "Card payments fail", "hu": "Hibás kártyás fizetés", "pl": "Płatności kartą nie działają"}
	body, iname := "Some card payments are declined.", names["en"]
	inc, _, err := e.svc.CreateIncident(ctx, p.ID, incident.IncidentInput{Name: &iname, Body: &body,
		Names: map[string]string{"hu": names["hu"], "pl": names["pl"]}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.site.RenderPage(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/", "/incidents/" + inc.ID, "/history", "/history.rss", "/history.atom",
		"/api/v2/summary.json", "/api/v2/incidents.json", "/api/v2/incidents/unresolved.json"} {
		for _, l := range incident.Languages {
			want := names[l]
			if want == "" {
				want = names["en"]
			}
			b := string(lookup(t, e.site, path, l).Body)
			if !strings.Contains(b, want) {
				t.Errorf("%s [%s] lacks %q", path, l, want)
			}
			for ol, other := range names {
				if other != want && strings.Contains(b, other) {
					t.Errorf("%s [%s] shows the %s name too", path, l, ol)
				}
			}
		}
	}
	if b := string(lookup(t, e.site, "/incidents/"+inc.ID, "hu").Body); !strings.Contains(b, "<title>"+names["hu"]+" – Acme") {
		t.Errorf("the Hungarian incident page's title is not its Hungarian name")
	}
}

// TestEndedIncidentShowsItsOwnStatus: an ended incident's page says what
// it did to the component (its major outage), not what a later incident
// does to it now (a partial outage), and says it in the past tense without
// the outage's red, which on a phone read as "Payments is down".
func TestEndedIncidentShowsItsOwnStatus(t *testing.T) {
	e := newEnv(t, scenarioNow)
	ctx := context.Background()
	p, c := acmePage(t, e, "Payments")
	first, body := "Card payments fail", "Declined."
	old, _, err := e.svc.CreateIncident(ctx, p.ID, incident.IncidentInput{Name: &first, Body: &body,
		Components: map[string]incident.ComponentStatus{c.ID: incident.MajorOutage}}, "")
	if err != nil {
		t.Fatal(err)
	}
	resolved, auto := incident.Resolved, true
	if _, err := e.svc.UpdateIncident(ctx, p.ID, old.ID, incident.IncidentInput{Status: &resolved, AutoTransitionToOperational: &auto}); err != nil {
		t.Fatal(err)
	}
	second := "Slow payments"
	if _, _, err := e.svc.CreateIncident(ctx, p.ID, incident.IncidentInput{Name: &second, Body: &body,
		Components: map[string]incident.ComponentStatus{c.ID: incident.PartialOutage}}, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.site.RenderPage(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	b := string(lookup(t, e.site, "/incidents/"+old.ID, "en").Body)
	if !strings.Contains(b, `This incident affected: Payments (Major outage)</p>`) || strings.Contains(b, "Partial outage") {
		t.Errorf("the ended incident's page does not show its own major outage, in the past:\n%s", b)
	}
	if strings.Contains(b, `class="c-major_outage"`) {
		t.Error("the ended incident's page shows the major outage in the colour of a current one")
	}
	for lang, want := range map[string]string{"hu": "Az incidens által érintett összetevők: Payments (Teljes kiesés)", "pl": "Incydent dotyczył: Payments (Poważna awaria)", "hr": "Incident je zahvatio: Payments (Veliki prekid)"} {
		if b := string(lookup(t, e.site, "/incidents/"+old.ID, lang).Body); !strings.Contains(b, want) {
			t.Errorf("%s: no %q", lang, want)
		}
	}
	// The open one still says what its components are now, in colour.
	if b := string(lookup(t, e.site, "/", "en").Body); !strings.Contains(b, `Affected components: Payments`) {
		t.Error("the open incident's card lost its present-tense label")
	}
}

// acmePage makes the page Acme (in langs, or the default languages when
// none) with one component named component.
func acmePage(t *testing.T, e *env, component string, langs ...string) (*incident.Page, *incident.Component) {
	t.Helper()
	ctx := context.Background()
	name, url := "Acme", "https://status.acme.test"
	p, err := e.svc.CreatePage(ctx, incident.PageInput{Name: &name, URL: &url, Languages: langs})
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.svc.CreateComponent(ctx, p.ID, incident.ComponentInput{Name: &component})
	if err != nil {
		t.Fatal(err)
	}
	return p, c
}
