package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/heraldhq/herald/incident/wire"
)

// formDo sends a form-encoded body the way Statuspage clients do and
// decodes a JSON answer into out (when not nil).
func formDo(t *testing.T, n *instance, token, method, path string, v url.Values, out any) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, n.url+path, strings.NewReader(v.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "OAuth "+token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	code, b := send(t, req)
	if out != nil && code < 300 {
		if err := json.Unmarshal([]byte(b), out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, code, b, err)
		}
	}
	return code, b
}

// TestFormMessagesPerLanguage: a Statuspage-style form body carries the
// per-language texts as incident[messages][LANG], on create and on
// update, and incident_update[messages][LANG] when an update is edited,
// as JSON carries "messages": {...}; an unknown language is a 400 naming
// the field, and writes nothing.
func TestFormMessagesPerLanguage(t *testing.T) {
	onEachEngine(t, func(t *testing.T, dir string, storeArgs []string) {
		n := startServe(t, nil, storeArgs...)
		token := mustCLI(t, nil, append([]string{"token", "create", "--role", "admin"}, storeArgs...)...).lastLine()
		pageID := pageIDOf(t, n)
		base := "/v1/pages/" + pageID + "/incidents"

		var inc wire.V1Incident
		code, body := formDo(t, n, token, "POST", base+".json", url.Values{
			"incident[name]":         {"Card payments fail"},
			"incident[body]":         {"Investigating."},
			"incident[messages][hu]": {"Vizsgáljuk a kártyás fizetést."},
			"incident[messages][pl]": {"Sprawdzamy płatności kartą."},
		}, &inc)
		if code != http.StatusCreated {
			t.Fatalf("create: %d %s", code, body)
		}
		if u := inc.IncidentUpdates[0]; u.Body != "Investigating." || u.Messages["hu"] != "Vizsgáljuk a kártyás fizetést." || u.Messages["pl"] != "Sprawdzamy płatności kartą." {
			t.Fatalf("created update %+v", u)
		}
		code, body = formDo(t, n, token, "PATCH", base+"/"+inc.ID+".json", url.Values{
			"incident[status]":       {"identified"},
			"incident[body]":         {"Found it."},
			"incident[messages][hr]": {"Pronašli smo uzrok."},
		}, &inc)
		if code != http.StatusOK {
			t.Fatalf("update: %d %s", code, body)
		}
		if u := inc.IncidentUpdates[0]; len(inc.IncidentUpdates) != 2 || u.Body != "Found it." || u.Messages["hr"] != "Pronašli smo uzrok." {
			t.Fatalf("updates after the form update: %+v", inc.IncidentUpdates)
		}
		// Read back: stored, not only echoed.
		var got wire.V1Incident
		if code, _ := apiDo(t, n, token, "GET", "/api/v1/pages/"+pageID+"/incidents/"+inc.ID, nil, &got); code != http.StatusOK ||
			got.IncidentUpdates[1].Messages["pl"] != "Sprawdzamy płatności kartą." || got.IncidentUpdates[0].Messages["hr"] != "Pronašli smo uzrok." {
			t.Fatalf("stored updates: %d %+v", code, got.IncidentUpdates)
		}

		// Editing an update the same way: its body with every language it
		// has a text in, one of them dropped with an empty value.
		var edited wire.V1Update
		code, body = formDo(t, n, token, "PATCH", base+"/"+inc.ID+"/incident_updates/"+inc.IncidentUpdates[1].ID+".json", url.Values{
			"incident_update[body]":         {"Investigating card payments."},
			"incident_update[messages][hu]": {"Vizsgáljuk a kártyás fizetéseket."},
			"incident_update[messages][pl]": {""},
		}, &edited)
		if code != http.StatusOK || edited.Body != "Investigating card payments." || len(edited.Messages) != 1 ||
			edited.Messages["hu"] != "Vizsgáljuk a kártyás fizetéseket." {
			t.Fatalf("form edit of an update: %d %s", code, body)
		}

		for _, tc := range []struct {
			v     url.Values
			field string
		}{
			{url.Values{"incident[name]": {"x"}, "incident[messages][de]": {"Hallo"}}, "incident.messages.de"},
			{url.Values{"incident[name]": {"x"}, "incident[messages]": {"Szia"}}, "incident.messages"},
		} {
			code, body := formDo(t, n, token, "POST", base, tc.v, nil)
			var e struct {
				Error struct{ Field string } `json:"error"`
			}
			_ = json.Unmarshal([]byte(body), &e)
			if code != http.StatusBadRequest || e.Error.Field != tc.field {
				t.Errorf("form %s: %d %s, want 400 on %s", tc.v.Encode(), code, body, tc.field)
			}
		}
		var all []wire.V1Incident
		if code, _ := apiDo(t, n, token, "GET", base, nil, &all); code != http.StatusOK || len(all) != 1 {
			t.Fatalf("a refused form wrote: %d incidents", len(all))
		}
	})
}
