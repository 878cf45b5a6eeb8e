package server

import (
	"net/http"
	"strings"
	"testing"

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
