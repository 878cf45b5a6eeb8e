package main

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident/wire"
)

// rawDo sends a JSON body as text and returns the status and the body.
func rawDo(t *testing.T, n *instance, token, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, n.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "OAuth "+token)
	req.Header.Set("Content-Type", "application/json")
	return send(t, req)
}

// TestEditUpdateMessages: editing an incident update (PATCH
// …/incident_updates/ID) changes its per-language texts as well as its
// body: "messages" sets a language's text, "" drops it (that language
// reads the body). An edit that changes the body of an update with texts
// in other languages must say what becomes of each of them, or it is
// refused (400 on incident_update.messages) and changes nothing: the
// corrected body must not sit beside translations of the old one. The
// public incident page in a language shows that language's edited text.
func TestEditUpdateMessages(t *testing.T) {
	onEachEngine(t, func(t *testing.T, dir string, storeArgs []string) {
		n := startServe(t, nil, storeArgs...)
		token := mustCLI(t, nil, append([]string{"token", "create", "--role", "admin"}, storeArgs...)...).lastLine()
		base := "/api/v1/pages/" + pageIDOf(t, n) + "/incidents"
		var inc wire.V1Incident
		code, body := rawDo(t, n, token, "POST", base,
			`{"incident":{"name":"Card payments fail","body":"Card payments fail since 10:00.","messages":{"hu":"10:00 óta nem működik a kártyás fizetés.","pl":"Od 10:00 płatności kartą nie działają."}}}`)
		if code != http.StatusCreated {
			t.Fatalf("create: %d %s", code, body)
		}
		if err := json.Unmarshal([]byte(body), &inc); err != nil {
			t.Fatal(err)
		}
		uPath := base + "/" + inc.ID + "/incident_updates/" + inc.IncidentUpdates[0].ID
		stored := func() wire.V1Update {
			t.Helper()
			var got wire.V1Incident
			if code, _ := apiDo(t, n, token, "GET", base+"/"+inc.ID, nil, &got); code != http.StatusOK {
				t.Fatalf("GET incident: %d", code)
			}
			return got.IncidentUpdates[0]
		}
		errorField := func(body string) string {
			var e struct {
				Error struct{ Field string } `json:"error"`
			}
			_ = json.Unmarshal([]byte(body), &e)
			return e.Error.Field
		}

		// The body alone: the Hungarian and Polish texts would still say 10:00.
		code, body = rawDo(t, n, token, "PATCH", uPath, `{"incident_update":{"body":"Card payments fail since 09:30."}}`)
		if code != http.StatusBadRequest || errorField(body) != "incident_update.messages" || !strings.Contains(body, "hu") || !strings.Contains(body, "pl") {
			t.Fatalf("a body edit leaving translations: %d %s, want 400 on incident_update.messages naming hu and pl", code, body)
		}
		if u := stored(); u.Body != "Card payments fail since 10:00." || len(u.Messages) != 2 {
			t.Fatalf("the refused edit changed the update: %+v", u)
		}
		// Naming one of them is not enough.
		code, body = rawDo(t, n, token, "PATCH", uPath, `{"incident_update":{"body":"Card payments fail since 09:30.","messages":{"hu":"9:30 óta nem működik a kártyás fizetés."}}}`)
		if code != http.StatusBadRequest || errorField(body) != "incident_update.messages" || !strings.Contains(body, "pl") {
			t.Fatalf("a body edit naming hu only: %d %s", code, body)
		}
		// An unknown language names itself.
		code, body = rawDo(t, n, token, "PATCH", uPath, `{"incident_update":{"messages":{"de":"Seit 9:30."}}}`)
		if code != http.StatusBadRequest || errorField(body) != "incident_update.messages.de" {
			t.Fatalf("messages.de: %d %s", code, body)
		}

		// The body with a new Hungarian text and the Polish one dropped.
		var u wire.V1Update
		code, body = rawDo(t, n, token, "PATCH", uPath,
			`{"incident_update":{"body":"Card payments fail since 09:30.","messages":{"hu":"9:30 óta nem működik a kártyás fizetés.","pl":""}}}`)
		if code != http.StatusOK {
			t.Fatalf("edit with messages: %d %s", code, body)
		}
		if err := json.Unmarshal([]byte(body), &u); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"hu": "9:30 óta nem működik a kártyás fizetés."}
		if u.Body != "Card payments fail since 09:30." || !reflect.DeepEqual(u.Messages, want) {
			t.Fatalf("edited update %+v, want messages %v", u, want)
		}
		if got := stored(); got.Body != u.Body || !reflect.DeepEqual(got.Messages, want) {
			t.Fatalf("stored update %+v", got)
		}
		// Messages alone: a Croatian text added, the body kept.
		code, body = rawDo(t, n, token, "PATCH", uPath, `{"incident_update":{"messages":{"hr":"Plaćanje karticama ne radi od 9:30."}}}`)
		if code != http.StatusOK {
			t.Fatalf("edit of messages alone: %d %s", code, body)
		}
		want["hr"] = "Plaćanje karticama ne radi od 9:30."
		if got := stored(); got.Body != "Card payments fail since 09:30." || !reflect.DeepEqual(got.Messages, want) {
			t.Fatalf("stored update after adding hr %+v", got)
		}
		// The same body again, without messages: nothing to make stale.
		if code, body := rawDo(t, n, token, "PATCH", uPath, `{"incident_update":{"body":"Card payments fail since 09:30."}}`); code != http.StatusOK {
			t.Fatalf("the unchanged body again: %d %s", code, body)
		}

		// The public page in each language.
		for lang, text := range map[string]string{"hu": "9:30 óta nem működik", "hr": "Plaćanje karticama ne radi od 9:30.", "pl": "Card payments fail since 09:30."} {
			eventually(t, 5*time.Second, func() (bool, string) {
				code, page := get(t, n.url+"/incidents/"+inc.ID+"?lang="+lang)
				return code == http.StatusOK && strings.Contains(page, text) && !strings.Contains(page, "10:00"), lang + ": " + page
			})
		}
	})
}
