package server

import (
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/incident/wire"
	"github.com/heraldhq/herald/notify"
)

// TestIncidentMessagesPerLanguage: the API takes an update's text per
// language beside body and returns it; an unknown language or an
// over-long text is a 400 naming the field, and writes nothing.
func TestIncidentMessagesPerLanguage(t *testing.T) {
	e := newEnv(t)
	path := "/v1/pages/" + e.page.ID + "/incidents"
	var inc wire.V1Incident
	e.mustDo(t, http.StatusCreated, "POST", path, e.manager,
		`{"incident":{"name":"Card payments fail","body":"Investigating.","messages":{"hu":"Vizsgáljuk.","pl":"Sprawdzamy."}}}`).json(t, &inc)
	if m := inc.IncidentUpdates[0].Messages; m["hu"] != "Vizsgáljuk." || m["pl"] != "Sprawdzamy." || inc.IncidentUpdates[0].Body != "Investigating." {
		t.Fatalf("update %+v", inc.IncidentUpdates[0])
	}
	e.mustDo(t, http.StatusOK, "PATCH", path+"/"+inc.ID, e.manager, `{"incident":{"status":"identified","messages":{"hu":"Megvan az ok."}}}`).json(t, &inc)
	if len(inc.IncidentUpdates) != 2 || inc.IncidentUpdates[0].Messages["hu"] != "Megvan az ok." {
		t.Fatalf("update with messages: %+v", inc.IncidentUpdates)
	}
	a1, n1 := e.writes(t)
	for field, body := range map[string]string{
		"incident.messages.de": `{"incident":{"name":"x","body":"y","messages":{"de":"Hallo"}}}`,
		"incident.messages.hu": `{"incident":{"name":"x","body":"y","messages":{"hu":"` + strings.Repeat("á", incident.MaxBodyLen+1) + `"}}}`,
	} {
		d := e.mustDo(t, http.StatusBadRequest, "POST", path, e.manager, body).errorOf(t)
		if d.Field != field {
			t.Errorf("error on %q, want %q: %+v", d.Field, field, d)
		}
	}
	if a2, n2 := e.writes(t); a2 != a1 || n2 != n1 {
		t.Fatalf("bad messages wrote: audit %d→%d, incidents %d→%d", a1, a2, n1, n2)
	}
}

// TestIncidentNamesPerLanguage: the API takes the incident's name per
// language (JSON and the form body Statuspage clients send), keeps the
// others when one changes, removes one given empty, and refuses an
// unknown language, a name with a line break or an over-long one (a 400
// naming the field; nothing written).
func TestIncidentNamesPerLanguage(t *testing.T) {
	e := newEnv(t)
	path := "/v1/pages/" + e.page.ID + "/incidents"
	var inc wire.V1Incident
	e.mustDo(t, http.StatusCreated, "POST", path, e.manager,
		`{"incident":{"name":"Card payments fail","body":"Investigating.","names":{"hu":" Hibás kártyás fizetés ","pl":"Płatności kartą nie działają"}}}`).json(t, &inc)
	if inc.Name != "Card payments fail" || inc.Names["hu"] != "Hibás kártyás fizetés" || inc.Names["pl"] != "Płatności kartą nie działają" || len(inc.Names) != 2 {
		t.Fatalf("created %q %v", inc.Name, inc.Names)
	}
	e.mustDo(t, http.StatusOK, "PATCH", path+"/"+inc.ID, e.manager, "incident%5Bnames%5D%5Bhr%5D=Pla%C4%87anje+karticom",
		"Content-Type", "application/x-www-form-urlencoded").json(t, &inc)
	if inc.Names["hu"] != "Hibás kártyás fizetés" || inc.Names["hr"] != "Plaćanje karticom" || len(inc.Names) != 3 {
		t.Fatalf("after a form PATCH: %v", inc.Names)
	}
	var removed, read wire.V1Incident // fresh: decoding into a map keeps its keys
	e.mustDo(t, http.StatusOK, "PATCH", path+"/"+inc.ID, e.manager, `{"incident":{"names":{"pl":""}}}`).json(t, &removed)
	if _, ok := removed.Names["pl"]; ok || len(removed.Names) != 2 {
		t.Fatalf("an empty name did not remove the language's: %v", removed.Names)
	}
	e.mustDo(t, http.StatusOK, "GET", path+"/"+inc.ID, e.manager, "").json(t, &read)
	if read.Names["hr"] != "Plaćanje karticom" || len(read.Names) != 2 {
		t.Fatalf("read back: %v", read.Names)
	}
	a1, n1 := e.writes(t)
	for field, body := range map[string]string{
		"incident.names.de": `{"incident":{"name":"x","body":"y","names":{"de":"Hallo"}}}`,
		"incident.names.hu": `{"incident":{"name":"x","body":"y","names":{"hu":"két\nsor"}}}`,
		"incident.names.pl": `{"incident":{"name":"x","body":"y","names":{"pl":"` + strings.Repeat("ł", incident.MaxNameLen+1) + `"}}}`,
	} {
		d := e.mustDo(t, http.StatusBadRequest, "POST", path, e.manager, body).errorOf(t)
		if d.Field != field {
			t.Errorf("error on %q, want %q: %+v", d.Field, field, d)
		}
	}
	if a2, n2 := e.writes(t); a2 != a1 || n2 != n1 {
		t.Fatalf("bad names wrote: audit %d→%d, incidents %d→%d", a1, a2, n1, n2)
	}
}

// TestDeclareDryRunWritesNothing: POST …/incidents?dry_run=true answers
// the audience and the rendered first messages and declares nothing.
func TestDeclareDryRunWritesNothing(t *testing.T) {
	e := newBroadcastEnv(t, false)
	path := "/v1/pages/" + e.page.ID + "/incidents?dry_run=true"
	a1, n1 := e.writes(t)
	var res notify.DryRunResult
	e.mustDo(t, http.StatusOK, "POST", path, e.manager,
		`{"incident":{"name":"Card payments fail","body":"Investigating.","components":{"`+e.compA.ID+`":"major_outage"}}}`).json(t, &res)
	if res.Kind != incident.BroadcastDeclared || res.IncidentID != "" {
		t.Errorf("dry run %+v", res)
	}
	if a2, n2 := e.writes(t); a2 != a1 || n2 != n1 {
		t.Fatalf("the dry run wrote: audit %d→%d, incidents %d→%d", a1, a2, n1, n2)
	}
	d := e.mustDo(t, http.StatusBadRequest, "POST", path, e.manager, `{"incident":{"body":"no name"}}`).errorOf(t)
	if d.Field != "incident.name" {
		t.Errorf("a dry run without a name: %+v", d)
	}
	e.mustDo(t, http.StatusBadRequest, "POST", "/v1/pages/"+e.page.ID+"/incidents?dry_run=maybe", e.manager, `{"incident":{"name":"x"}}`)
}

// TestIfMatchResolvesOnce: the incident's version is its entity tag, and
// a PATCH with If-Match changes only that version: of eight managers
// resolving the version they read at once, one resolution is posted and
// the seven others get 412 with nothing written; a stale or foreign tag
// is refused, "*" and no If-Match change the current version.
func TestIfMatchResolvesOnce(t *testing.T) {
	e := newEnv(t)
	path := "/v1/pages/" + e.page.ID + "/incidents"
	var inc wire.V1Incident
	r := e.mustDo(t, http.StatusCreated, "POST", path, e.manager, `{"incident":{"name":"Card payments fail","body":"Investigating."}}`)
	r.json(t, &inc)
	if tag := r.header.Get("ETag"); tag != `"1"` || inc.Version != 1 {
		t.Fatalf("created: ETag %q, version %d", tag, inc.Version)
	}
	one := path + "/" + inc.ID
	if tag := e.mustDo(t, http.StatusOK, "GET", one, e.manager, "").header.Get("ETag"); tag != `"1"` {
		t.Fatalf("GET ETag %q", tag)
	}
	resolve := `{"incident":{"status":"resolved","body":"Fixed."}}`
	codes := make(chan int, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- e.do(t, "PATCH", one, e.manager, resolve, "If-Match", `"1"`).status
		}()
	}
	wg.Wait()
	close(codes)
	got := map[int]int{}
	for c := range codes {
		got[c]++
	}
	if got[http.StatusOK] != 1 || got[http.StatusPreconditionFailed] != 7 {
		t.Fatalf("eight resolves of version 1: %v, want one 200 and seven 412", got)
	}
	var now wire.V1Incident
	e.mustDo(t, http.StatusOK, "GET", one, e.manager, "").json(t, &now)
	resolved := 0
	for _, u := range now.IncidentUpdates {
		if u.Status == "resolved" {
			resolved++
		}
	}
	if resolved != 1 || now.Version != 2 {
		t.Fatalf("after the race: %d resolutions, version %d", resolved, now.Version)
	}
	a1, n1 := e.writes(t)
	if d := e.mustDo(t, http.StatusBadRequest, "PATCH", one, e.manager, `{"incident":{"body":"Late note."}}`, "If-Match", "2").errorOf(t); d.Field != "If-Match" || !strings.Contains(d.Message, `send "2"`) {
		t.Errorf("an unquoted If-Match: %+v", d)
	}
	for _, tag := range []string{`"1"`, `W/"2"`, `"two"`, `"2`, `"1", "3"`, `W/"2", "7"`} {
		d := e.mustDo(t, http.StatusPreconditionFailed, "PATCH", one, e.manager, `{"incident":{"body":"Late note."}}`, "If-Match", tag).errorOf(t)
		if d.Code != incident.EPRECONDITION || !strings.Contains(d.Message, "resolved") {
			t.Errorf("If-Match %s: %+v", tag, d)
		}
	}
	if a2, n2 := e.writes(t); a2 != a1 || n2 != n1 {
		t.Fatalf("refused preconditions wrote: audit %d→%d, incidents %d→%d", a1, a2, n1, n2)
	}
	// A list matches when any of its tags does (RFC 9110 13.1.1).
	e.mustDo(t, http.StatusOK, "PATCH", one, e.manager, `{"incident":{"body":"A note after the all-clear."}}`, "If-Match", `"1", "2"`)
	e.mustDo(t, http.StatusOK, "PATCH", one, e.manager, `{"incident":{"body":"Another note."}}`, "If-Match", "*")
	e.mustDo(t, http.StatusOK, "PATCH", one, e.manager, `{"incident":{"body":"And one more."}}`)
	// DELETE heeds it too.
	e.mustDo(t, http.StatusPreconditionFailed, "DELETE", one, e.manager, "", "If-Match", `"2"`)
	e.mustDo(t, http.StatusOK, "GET", one, e.manager, "")
	e.mustDo(t, http.StatusOK, "DELETE", one, e.manager, "", "If-Match", `"4",  "5"`)
	e.mustDo(t, http.StatusNotFound, "GET", one, e.manager, "")
}

// TestDeclareDryRunLinksToAPlaceholder: a declaration's dry run has no
// incident yet, so its samples' links carry notify.DraftPlaceholderID,
// which no real incident can have, rather than the draft's random ID that
// looked like a working link and never was one (the declaration gets
// another). The placeholder is as long as a real ID: the samples are the
// real declaration's messages but for the ID, segment for segment; and
// the answer says so.
func TestDeclareDryRunLinksToAPlaceholder(t *testing.T) {
	b := newBroadcastEnv(t, false)
	b.mustDo(t, http.StatusOK, "POST", "/api/v1/pages/"+b.page.ID+"/customers/import", b.manager, customersCSV, "Content-Type", "text/csv")
	declare := `{"incident":{"name":"Card payments fail","body":"Investigating.","components":{"` + b.compA.ID + `":"major_outage"}}}`
	var draft notify.DryRunResult
	b.mustDo(t, http.StatusOK, "POST", "/v1/pages/"+b.page.ID+"/incidents?dry_run=true", b.manager, declare).json(t, &draft)
	if draft.PlaceholderID != notify.DraftPlaceholderID || !strings.Contains(draft.Note, notify.DraftPlaceholderID) || draft.IncidentID != "" {
		t.Errorf("the dry run does not say its links carry a placeholder: %+v", draft)
	}
	if len(notify.DraftPlaceholderID) != len(incident.NewID()) || incident.ValidID(notify.DraftPlaceholderID) {
		t.Fatalf("the placeholder %q must be as long as an ID and be none", notify.DraftPlaceholderID)
	}
	anyID := regexp.MustCompile(`/(incidents|i)/[a-z0-9]{12}\b|incident=[a-z0-9]{12}\b`)
	n := 0
	for kind, byLang := range draft.Samples {
		for lang, s := range byLang {
			n++
			all := s.Text + s.HTML + string(s.Blocks) + string(s.Payload)
			if !strings.Contains(all, notify.DraftPlaceholderID) {
				t.Errorf("%s/%s: no placeholder in %s", kind, lang, all)
			}
			if m := anyID.FindString(all); m != "" {
				t.Errorf("%s/%s: links to an incident that does not exist: %s", kind, lang, m)
			}
		}
	}
	if n == 0 || draft.Samples[channel.SMS]["hu"] == nil {
		t.Fatalf("no samples: %+v", draft)
	}
	// The real declaration's first messages are the samples with its ID.
	var real notify.DryRunResult
	id := b.declare(t, "Card payments fail")
	b.mustDo(t, http.StatusOK, "GET", "/api/v1/pages/"+b.page.ID+"/incidents/"+id+"/dry-run?kind=declared", b.agent, "").json(t, &real)
	for lang, s := range real.Samples[channel.SMS] {
		got := strings.ReplaceAll(draft.Samples[channel.SMS][lang].Text, notify.DraftPlaceholderID, id)
		if want := strings.ReplaceAll(s.Text, "We are looking into it.", "Investigating."); got != want {
			t.Errorf("SMS %s: the sample is not the real message but for the ID:\n got %q\nwant %q", lang, got, want)
		}
	}
}

// TestResolvedDryRunIsWhatResolveSends: the dry run of resolving an open
// incident previews what resolving it without a message sends: no "What
// happened and what we did" with the newest update's investigating text
// (a resolve without --message leaves that section out), the resolved
// status and time, the same SMS.
func TestResolvedDryRunIsWhatResolveSends(t *testing.T) {
	b := newBroadcastEnv(t, false)
	b.mustDo(t, http.StatusOK, "POST", "/api/v1/pages/"+b.page.ID+"/customers/import", b.manager, customersCSV, "Content-Type", "text/csv")
	id := b.declare(t, "Card payments fail") // "We are looking into it."
	dryRun := "/api/v1/pages/" + b.page.ID + "/incidents/" + id + "/dry-run?kind=resolved"
	var preview notify.DryRunResult
	b.mustDo(t, http.StatusOK, "GET", dryRun, b.agent, "").json(t, &preview)
	for kind, byLang := range preview.Samples {
		for lang, s := range byLang {
			if all := s.Text + s.HTML + string(s.Payload) + string(s.Blocks); strings.Contains(all, "We are looking into it.") {
				t.Errorf("%s/%s: the preview of the resolution carries the investigating text:\n%s", kind, lang, s.Text)
			}
		}
	}
	en := preview.Samples[channel.Email]["en"]
	if en == nil || strings.Contains(en.Text, "What happened and what we did") || !strings.Contains(en.Text, "Resolved: ") {
		t.Fatalf("the English email's preview: %+v", en)
	}
	// Resolve without a message; the resolution's own dry run is what it
	// sent.
	b.mustDo(t, http.StatusOK, "PATCH", "/v1/pages/"+b.page.ID+"/incidents/"+id, b.manager, `{"incident":{"status":"resolved"}}`)
	var sent notify.DryRunResult
	b.mustDo(t, http.StatusOK, "GET", dryRun, b.agent, "").json(t, &sent)
	for lang, s := range sent.Samples[channel.SMS] {
		if got := preview.Samples[channel.SMS][lang]; got == nil || got.Text != s.Text {
			t.Errorf("SMS %s: previewed\n%+v\nsent\n%q", lang, got, s.Text)
		}
	}
	if preview.SMSSegments != sent.SMSSegments || preview.Recipients[channel.Email] != sent.Recipients[channel.Email] {
		t.Errorf("previewed %d segments to %v, sent %d to %v", preview.SMSSegments, preview.Recipients, sent.SMSSegments, sent.Recipients)
	}
	for _, s := range sent.Samples[channel.Email] {
		if strings.Contains(s.Text, "What happened") {
			t.Errorf("the resolution without a message has a 'what happened' section: %s", s.Text)
		}
	}
}
