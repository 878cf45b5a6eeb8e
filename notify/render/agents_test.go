package render

import (
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/locale"
	"github.com/heraldhq/herald/queue"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/incident"
)

// TestAgentCompensationInThePagesLanguage: the agents' Slack message is
// in the page's language, its frame, states, changes, offers and rules
// alike; component IDs by their names.
func TestAgentCompensationInThePagesLanguage(t *testing.T) {
	fee := compensation.Money{Amount: 5000, Currency: "EUR"}
	d := &compensation.Decision{State: compensation.Decided, Version: 2, By: "Mia (token 1f7wz91hdjku)", At: time.Date(2026, 12, 5, 16, 0, 0, 0, time.UTC),
		Policy: &compensation.Policy{Currency: "EUR", PlanFees: map[string]compensation.Money{"gold": fee},
			Offers:  []compensation.Offer{{ID: "credit10", Kind: compensation.Credit, Percent: 1000}, {ID: "days", Kind: compensation.FreePeriod, Days: 3}},
			Rules:   []compensation.Rule{{ID: "gold", Plans: []string{"gold"}, Components: []string{"cmp1"}, MinAffectedMinutes: 60, Give: []string{"credit10"}}},
			Exclude: []compensation.Exclusion{compensation.ExcludeNotAffected}}}
	deadline := time.Date(2027, 1, 31, 22, 59, 0, 0, time.UTC)
	d.Policy.ClaimDeadline = &deadline
	changes := compensation.Diff(&compensation.Decision{State: compensation.Coming}, d)
	a := AgentDecision{Page: &incident.Page{ID: "p1", Name: "Acme", TimeZone: "Europe/Budapest"}, Incident: &incident.Incident{ID: "i1", Name: "Kártyás fizetés"},
		Decision: d, Changes: changes, Lang: "hu", Names: map[string]string{"cmp1": "Fizetés"}, CheckURL: "https://x/check/{customer}"}
	m, err := AgentCompensation(a)
	if err != nil {
		t.Fatal(err)
	}
	blocks := string(m.Blocks)
	for _, want := range []string{"Kompenzáció: Kártyás fizetés", "ELDÖNTVE", "2. változat, Mia, 2026-12-05 17:00 CET", "2027-01-31 23:59 CET", "Mi változott",
		"állapot – módosult: VÁRHATÓ: döntés folyamatban → ELDÖNTVE", "a havidíj 10%-ának megfelelő jóváírás", "3 ingyenes nap",
		"Ki mit kap", "ha csomag: gold, érintett szolgáltatás: Fizetés, legalább 60 percig érintett: credit10", "kizárva: akiket nem érintett", "Teendő"} {
		if !strings.Contains(blocks, want) {
			t.Errorf("the Hungarian agents' message lacks %q:\n%s", want, blocks)
		}
	}
	for _, english := range []string{"What changed", "Who gets what", "DECIDED", "token 1f7wz91hdjku", "none_yet", "coming →"} {
		if strings.Contains(blocks, english) {
			t.Errorf("the Hungarian agents' message has %q:\n%s", english, blocks)
		}
	}
	if !strings.HasPrefix(m.Text, "Kompenzáció: Kártyás fizetés – ELDÖNTVE") || !strings.HasSuffix(m.Text, "és még 6 változás") {
		t.Errorf("fallback text %q", m.Text)
	}
}

// TestMaintenanceAffectsIsNoFault: a maintenance's email and Slack
// message say the work affects a service, not that a fault does.
func TestMaintenanceAffectsIsNoFault(t *testing.T) {
	r := newTestRenderer(t)
	for lang, want := range map[string]string{"hu": "A karbantartás 2 szolgáltatást érint", "pl": "Prace obejmują 2 usługi", "hr": "Održavanje zahvaća 2 usluge"} {
		in := sampleInput(queue.KindMaintenanceScheduled, lang)
		in.Page.Languages = []string{"en", "hu", "pl", "hr"}
		for _, ch := range []channel.Kind{channel.Email, channel.Slack} {
			m, err := r.Render(ch, in)
			if err != nil {
				t.Fatal(err)
			}
			if text := m.Text + string(m.Blocks); !strings.Contains(text, want) {
				t.Errorf("%s %s lacks %q:\n%s", lang, ch, want, text)
			}
		}
	}
}

// TestSurveyAsksThePagesQuestion: the survey's message asks what its
// page's score question asks (how we handled it), so that a score
// clicked in the message means what the results count.
func TestSurveyAsksThePagesQuestion(t *testing.T) {
	r := newTestRenderer(t)
	cat, err := locale.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"en", "hu", "pl", "hr"} {
		q := strings.Fields(strings.ToLower(cat.Lang(lang).Text("SurveyQScore")))
		prefix := strings.Join(q[:6], " ")
		in := sampleInput(queue.KindSurvey, lang)
		in.Page.Languages = []string{"en", "hu", "pl", "hr"}
		m, err := r.Render(channel.Email, in)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.ToLower(m.Text), prefix) {
			t.Errorf("%s: the survey email does not ask %q:\n%s", lang, prefix, m.Text)
		}
	}
}
