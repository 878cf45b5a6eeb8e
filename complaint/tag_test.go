package complaint

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
)

var t0 = time.Date(2026, 3, 10, 9, 12, 0, 0, time.UTC)

func ptrTime(t time.Time) *time.Time { return &t }

// fixtures: Payments has a major outage since 09:12; Checkout had one that
// was resolved at 08:00; API had one three days before.
func tagFixtures() ([]*incident.Incident, []*incident.Component) {
	comps := []*incident.Component{
		{ID: "cpay", Name: "Card payments"},
		{ID: "cchk", Name: "Checkout"},
		{ID: "capi", Name: "API"},
		{ID: "clog", Name: "Login"},
	}
	pay := &incident.Incident{ID: "ipay", Name: "Card payments are failing", Status: incident.Investigating,
		Impact: incident.ImpactMajor, ComponentIDs: []string{"cpay"}, StartedAt: t0,
		Updates: []*incident.Update{{Body: "Some card payments fail. We are investigating.",
			AffectedComponents: []incident.AffectedComponent{{Code: "cpay", NewStatus: incident.MajorOutage}}}}}
	chk := &incident.Incident{ID: "ichk", Name: "Checkout slow", Status: incident.Resolved, Impact: incident.ImpactMinor,
		ComponentIDs: []string{"cchk"}, StartedAt: t0.Add(-3 * time.Hour), ResolvedAt: ptrTime(t0.Add(-72 * time.Minute))}
	old := &incident.Incident{ID: "iapi", Name: "API errors", Status: incident.Resolved, Impact: incident.ImpactMinor,
		ComponentIDs: []string{"capi"}, StartedAt: t0.Add(-80 * time.Hour), ResolvedAt: ptrTime(t0.Add(-79 * time.Hour))}
	return []*incident.Incident{pay, chk, old}, comps
}

func TestSuggest(t *testing.T) {
	incs, comps := tagFixtures()
	at := t0.Add(30 * time.Minute)
	tests := []struct {
		name       string
		ev         Evidence
		incidents  []*incident.Incident
		want       string  // incident ID; "" for no suggestion
		minConf    float64 // the suggestion's confidence is at least this
		maxConf    float64 // and at most this (0: no upper bound)
		reasonHas  []string
		reasonLack []string
	}{
		{name: "reply to an incident's message", ev: Evidence{At: at, Text: "???", ReplyTo: "ichk"},
			want: "ichk", minConf: 0.95, reasonHas: []string{`reply to a message about "Checkout slow"`}},
		{name: "customer of the affected component", ev: Evidence{At: at, Text: "hello", Components: []string{"cpay"}},
			want: "ipay", minConf: 0.5, reasonHas: []string{"customer uses Card payments, which has had a major outage since 09:12 UTC"}},
		{name: "a component the sender named on the form", ev: Evidence{At: at, Text: "hello", Components: []string{"cpay"}, Named: true},
			want: "ipay", minConf: 0.5, reasonHas: []string{"the sender named Card payments, which has had a major outage since 09:12 UTC"}, reasonLack: []string{"customer uses"}},
		{name: "customer of a component under maintenance started early by hand", ev: Evidence{At: at, Text: "hello", Components: []string{"cpay"}},
			incidents: []*incident.Incident{maintenanceStartedEarly()},
			want:      "imnt", minConf: 0.3, reasonHas: []string{"customer uses Card payments, which has been under maintenance since 09:02 UTC"}},
		{name: "an incident on the customer's component wins over a maintenance completed since",
			ev:        Evidence{At: at, Text: "Karta obciążona, zamówienie nie przeszło.", Components: []string{"cpay"}},
			incidents: []*incident.Incident{resolvedPayments(t0.Add(20 * time.Minute)), completedMaintenance(t0.Add(28 * time.Minute))},
			want:      "ipay", minConf: DefaultThreshold, reasonHas: []string{"customer uses Card payments, which had a major outage"}},
		{name: "a completed maintenance alone is only a suggestion", ev: Evidence{At: at, Text: "hello", Components: []string{"cpay"}},
			incidents: []*incident.Incident{completedMaintenance(t0.Add(28 * time.Minute))},
			want:      "imnt", maxConf: DefaultThreshold - 0.01},
		{name: "english words", ev: Evidence{At: at, Text: "My card payment did not go through!"},
			want: "ipay", minConf: 0.5, reasonHas: []string{"'card'", "'payment'"}},
		{name: "hungarian inflection", ev: Evidence{At: at, Text: "Nem sikerül a kártyás fizetés, a kártyával semmi"},
			incidents: []*incident.Incident{withName(incs[0], "Kártyás fizetések hibája")},
			want:      "ipay", minConf: 0.5, reasonHas: []string{"'fizetés'"}},
		{name: "the update's text in the customer's language", ev: Evidence{At: at, Text: "Nem tudok fizetni kártyával!"},
			incidents: []*incident.Incident{withMessage(incs[0], "hu", "Egyes kártyás fizetések sikertelenek.")},
			want:      "ipay", minConf: 0.5, reasonHas: []string{"'kártyával'"}},
		{name: "function words are no evidence", ev: Evidence{At: at, Text: "some of them were here"},
			incidents: []*incident.Incident{withName(incs[0], "Some of them were here")},
			want:      "ipay", maxConf: DefaultThreshold - 0.01, reasonLack: []string{"mentions"}},
		{name: "polish inflection and diacritics", ev: Evidence{At: at, Text: "Płatności kartą nie działają"},
			incidents: []*incident.Incident{withName(incs[0], "Awaria płatności kartą")},
			want:      "ipay", minConf: 0.5, reasonHas: []string{"'płatności'"}},
		{name: "croatian inflection without diacritics", ev: Evidence{At: at, Text: "placanja karticom ne rade"},
			incidents: []*incident.Incident{withName(incs[0], "Plaćanje karticom ne radi")},
			want:      "ipay", minConf: 0.5, reasonHas: []string{"'placanja'", "'karticom'"}},
		{name: "words that only start alike do not match", ev: Evidence{At: at, Text: "logout broken on the server"},
			incidents: []*incident.Incident{withName(incs[0], "Login service down")},
			want:      "ipay", maxConf: 0.36, reasonLack: []string{"mentions"}},
		{name: "unknown contact, nothing said, only open incident: a guess below the threshold",
			ev: Evidence{At: at, Text: "it does not work"}, want: "ipay", maxConf: DefaultThreshold - 0.01,
			reasonHas: []string{`"Card payments are failing" is the only open incident`}},
		{name: "recently resolved incident by words", ev: Evidence{At: at, Text: "the checkout was so slow this morning"},
			want: "ichk", minConf: 0.5, reasonHas: []string{"'checkout'", "'slow'", `"Checkout slow" was resolved 2 h before`}},
		{name: "incident older than 72 h is not a candidate", ev: Evidence{At: at, Text: "API calls fail", Components: []string{"capi"}},
			incidents: []*incident.Incident{incs[2]}, want: ""},
		{name: "no incident at all", ev: Evidence{At: at, Text: "payments"}, incidents: []*incident.Incident{}, want: ""},
		{name: "customer component beats another incident's words", ev: Evidence{At: at, Text: "checkout", Components: []string{"cpay"}},
			want: "ipay", minConf: 0.5},
		{name: "customer component beats another open incident's component named once", ev: Evidence{At: at, Text: "checkout", Components: []string{"cpay"}},
			incidents: []*incident.Incident{incs[0], openCheckout(t0.Add(10 * time.Minute))}, want: "ipay", minConf: 0.5},
		// Piotr uses Card payments, whose outage ended twenty minutes ago;
		// Checkout is down now and he says so: naming the open incident's
		// component beats merely using a component of one just ended.
		{name: "the open incident's component named beats the customer's component of one just ended",
			ev:        Evidence{At: at, Text: "Strona checkout jest pusta, nie mogę zapłacić za koszyk", Components: []string{"cpay"}},
			incidents: []*incident.Incident{resolvedPayments(t0.Add(10 * time.Minute)), openCheckout(t0.Add(15 * time.Minute))},
			want:      "ichk2", minConf: DefaultThreshold, reasonHas: []string{"'checkout'", "names Checkout"}},
		{name: "likewise when it is not the only open incident",
			ev: Evidence{At: at, Text: "Strona checkout jest pusta", Components: []string{"cpay"}},
			incidents: []*incident.Incident{resolvedPayments(t0.Add(10 * time.Minute)), openCheckout(t0.Add(15 * time.Minute)),
				{ID: "ilog", Name: "Login slow", Status: incident.Investigating, ComponentIDs: []string{"clog"}, StartedAt: t0}},
			want: "ichk2", minConf: DefaultThreshold},
		// A component named in English is named in the page's other
		// languages too: from a short concept list when the incident was
		// declared in English alone, from the incident's own names in
		// other languages when it has them. Another incident is open, so
		// "the only open incident" does not carry it.
		{name: "croatian words for an english component",
			ev:        Evidence{At: at, Text: "Ne radi plaćanje karticom"},
			incidents: []*incident.Incident{paymentsDown(nil), openLogin()},
			want:      "ipays", minConf: DefaultThreshold, reasonHas: []string{"'plaćanje'", "names Payments"}},
		{name: "polish words for an english component",
			ev:        Evidence{At: at, Text: "Płatność nie przechodzi"},
			incidents: []*incident.Incident{paymentsDown(nil), openLogin()},
			want:      "ipays", minConf: DefaultThreshold},
		{name: "hungarian login for an english component",
			ev:        Evidence{At: at, Text: "Nem sikerül a bejelentkezés"},
			incidents: []*incident.Incident{paymentsDown(nil), openLogin()},
			want:      "ilog", minConf: DefaultThreshold, reasonHas: []string{"names Login"}},
		{name: "the incident's croatian name names its component",
			ev:        Evidence{At: at, Text: "Obračun mi opet ne radi"},
			incidents: []*incident.Incident{billingDown(map[string]string{"hr": "Obračun ne radi"}), openLogin()},
			want:      "ibill", minConf: DefaultThreshold, reasonHas: []string{"names Billing"}},
		{name: "the worst the incident was, not its impact lowered before the fix",
			ev: Evidence{At: at, Text: "hello", Components: []string{"cpay"}}, incidents: []*incident.Incident{loweredThenResolved()},
			want: "ipay", reasonHas: []string{"customer uses Card payments, which had a major outage from 09:12 UTC to 09:22 UTC"}, reasonLack: []string{"minor"}},
	}
	comps = append(comps, &incident.Component{ID: "cpays", Name: "Payments"}, &incident.Component{ID: "cbill", Name: "Billing"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := incs
			if tt.incidents != nil {
				in = tt.incidents
			}
			got := Suggest(tt.ev, in, comps)
			if tt.want == "" {
				if got != nil {
					t.Fatalf("Suggest = %+v, want none", got)
				}
				return
			}
			if got == nil {
				t.Fatalf("Suggest = nil, want %s", tt.want)
			}
			if got.IncidentID != tt.want {
				t.Errorf("incident %s, want %s (reason %q)", got.IncidentID, tt.want, got.Reason)
			}
			if got.Confidence < tt.minConf || tt.maxConf > 0 && got.Confidence > tt.maxConf {
				t.Errorf("confidence %.2f, want in [%.2f, %.2f] (reason %q)", got.Confidence, tt.minConf, tt.maxConf, got.Reason)
			}
			if got.Confidence > maxConfidence || got.By != "auto" || !got.At.Equal(tt.ev.At) {
				t.Errorf("tag %+v", got)
			}
			for _, s := range tt.reasonHas {
				if !strings.Contains(got.Reason, s) {
					t.Errorf("reason %q lacks %q", got.Reason, s)
				}
			}
			for _, s := range tt.reasonLack {
				if strings.Contains(got.Reason, s) {
					t.Errorf("reason %q has %q", got.Reason, s)
				}
			}
		})
	}
}

// paymentsDown is an open incident on Payments, declared in English with
// names in other languages (nil: none).
func paymentsDown(names map[string]string) *incident.Incident {
	return &incident.Incident{ID: "ipays", Name: "Payments down", Names: names, Status: incident.Investigating, Impact: incident.ImpactCritical,
		ComponentIDs: []string{"cpays"}, StartedAt: t0,
		Updates: []*incident.Update{{Status: incident.Investigating, Body: "We are looking into it.", CreatedAt: t0,
			AffectedComponents: []incident.AffectedComponent{{Code: "cpays", NewStatus: incident.MajorOutage}}}}}
}

// billingDown is an open incident on Billing, a component no concept
// names, declared with names in other languages.
func billingDown(names map[string]string) *incident.Incident {
	inc := paymentsDown(names)
	inc.ID, inc.Name, inc.ComponentIDs = "ibill", "Billing down", []string{"cbill"}
	inc.Updates[0].AffectedComponents[0].Code = "cbill"
	return inc
}

// openLogin is another open incident, on Login.
func openLogin() *incident.Incident {
	return &incident.Incident{ID: "ilog", Name: "Login slow", Status: incident.Investigating, Impact: incident.ImpactMinor,
		ComponentIDs: []string{"clog"}, StartedAt: t0}
}

// loweredThenResolved is a Card payments incident declared critical
// (major outage), its impact lowered to minor (degraded) before it was
// resolved at 09:22 (operational again). Updates are newest first.
func loweredThenResolved() *incident.Incident {
	end := t0.Add(10 * time.Minute)
	return &incident.Incident{ID: "ipay", Name: "Card payments are failing", Status: incident.Resolved, Impact: incident.ImpactMinor,
		ComponentIDs: []string{"cpay"}, StartedAt: t0, ResolvedAt: ptrTime(end),
		Updates: []*incident.Update{
			{Status: incident.Resolved, Body: "Fixed.", CreatedAt: end,
				AffectedComponents: []incident.AffectedComponent{{Code: "cpay", NewStatus: incident.Operational}}},
			{Status: incident.Monitoring, Body: "Recovering.", CreatedAt: t0.Add(5 * time.Minute),
				AffectedComponents: []incident.AffectedComponent{{Code: "cpay", NewStatus: incident.DegradedPerformance}}},
			{Status: incident.Investigating, Body: "Investigating.", CreatedAt: t0,
				AffectedComponents: []incident.AffectedComponent{{Code: "cpay", NewStatus: incident.MajorOutage}}}}}
}

// withMessage returns a copy of inc whose one update has a text in lang
// beside an English body that shares no word with it.
func withMessage(inc *incident.Incident, lang, text string) *incident.Incident {
	c := *inc
	c.Name = "Outage"
	c.Updates = []*incident.Update{{Body: "We are looking into it.", Messages: map[string]string{lang: text}}}
	return &c
}

// withName returns a copy of inc with another name and no updates, so
// only the name's words count.
func withName(inc *incident.Incident, name string) *incident.Incident {
	c := *inc
	c.Name = name
	c.Updates = nil
	return &c
}

func TestSameStem(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"payment", "payments", true},
		{"card", "cards", true},
		{"fizetes", "fizetessel", true},
		{"platnosc", "platnosci", true},
		{"placanje", "placanja", true},
		{"kartya", "kartyaval", true},
		{"server", "service", false},
		{"login", "logout", false},
		{"card", "care", false},
		{"abc", "abc", false}, // too short to mean anything
	}
	for _, tt := range tests {
		if got := sameStem(tt.a, tt.b); got != tt.want {
			t.Errorf("sameStem(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestReasonInPageTimeZone(t *testing.T) {
	incs, comps := tagFixtures()
	loc, err := time.LoadLocation("Europe/Budapest")
	if err != nil {
		t.Fatal(err)
	}
	got := Suggest(Evidence{At: t0.Add(time.Minute), Components: []string{"cpay"}, Location: loc}, incs, comps)
	if got == nil || !strings.Contains(got.Reason, "since 10:12 CET") {
		t.Fatalf("Suggest = %+v, want the start in CET", got)
	}
}

// resolvedPayments is the Card payments outage, resolved at end.
func resolvedPayments(end time.Time) *incident.Incident {
	return &incident.Incident{ID: "ipay", Name: "Card payments are failing", Status: incident.Resolved,
		Impact: incident.ImpactMajor, ComponentIDs: []string{"cpay"}, StartedAt: t0, ResolvedAt: ptrTime(end),
		Updates: []*incident.Update{{Status: incident.Investigating, Body: "Investigating.", CreatedAt: t0,
			AffectedComponents: []incident.AffectedComponent{{Code: "cpay", NewStatus: incident.MajorOutage}}}}}
}

// completedMaintenance is a one-minute maintenance on Card payments that
// completed at end.
func completedMaintenance(end time.Time) *incident.Incident {
	from, until := end.Add(-time.Minute), end
	return &incident.Incident{ID: "imnt", Name: "Database upgrade", Status: incident.Completed, Impact: incident.ImpactMaintenance,
		ComponentIDs: []string{"cpay"}, StartedAt: from, ResolvedAt: ptrTime(end), ScheduledFor: &from, ScheduledUntil: &until,
		Updates: []*incident.Update{{Status: incident.InProgress, Body: "Started.", CreatedAt: from,
			AffectedComponents: []incident.AffectedComponent{{Code: "cpay", NewStatus: incident.UnderMaintenance}}}}}
}

// maintenanceStartedEarly is a maintenance scheduled for 11:12 that a
// manager started by hand at 09:02.
func maintenanceStartedEarly() *incident.Incident {
	from, until := t0.Add(2*time.Hour), t0.Add(3*time.Hour)
	return &incident.Incident{ID: "imnt", Name: "Database upgrade", Status: incident.InProgress, Impact: incident.ImpactMaintenance,
		ComponentIDs: []string{"cpay"}, StartedAt: from, ScheduledFor: &from, ScheduledUntil: &until,
		Updates: []*incident.Update{
			{Status: incident.InProgress, Body: "Started.", CreatedAt: t0.Add(-10 * time.Minute),
				AffectedComponents: []incident.AffectedComponent{{Code: "cpay", NewStatus: incident.UnderMaintenance}}},
			{Status: incident.Scheduled, Body: "Planned.", CreatedAt: t0.Add(-time.Hour)}}}
}

// openCheckout is an open incident on Checkout, started at start, whose
// name shares no word with the complaints that name the component.
func openCheckout(start time.Time) *incident.Incident {
	return &incident.Incident{ID: "ichk2", Name: "Orders cannot be placed", Status: incident.Investigating, Impact: incident.ImpactMajor,
		ComponentIDs: []string{"cchk"}, StartedAt: start,
		Updates: []*incident.Update{{Status: incident.Investigating, Body: "Investigating.", CreatedAt: start,
			AffectedComponents: []incident.AffectedComponent{{Code: "cchk", NewStatus: incident.MajorOutage}}}}}
}
