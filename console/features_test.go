package console_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/incident"
)

// TestFindCustomerByName finds customers by name, folded as an agent
// types it, on the phone-call form (with JavaScript off: the search form's
// GET) and through the API's customer list (?q=).
func TestFindCustomerByName(t *testing.T) {
	e := startEnv(t, customersCSV+"c4,Łucja Wójcik-Kovács,+48501111111,lucja@example.com,,pl,,gold,eu,Checkout\n")
	agent := e.client(t)
	agent.signIn(incident.RoleAgent, "Ana")
	for _, tt := range []struct {
		q    string
		want []string // customer IDs linked, in order
	}{
		{"kovacs", []string{"c1", "c4"}},
		{"Anna Kov", []string{"c1"}},
		{"lucja", []string{"c4"}},
		{"WÓJCIK", []string{"c4"}},
		{"+36201111111", []string{"c1"}},
		{"bob@example.com", []string{"c2"}},
		{"c3", []string{"c3"}},
		{"nobody", nil},
	} {
		res, body := agent.do("GET", "/console/calls/new?q="+urlEscape(tt.q), nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("search %q: %d", tt.q, res.StatusCode)
		}
		var got []string
		for _, part := range strings.Split(body, `href="/console/calls/new?customer=`)[1:] {
			got = append(got, part[:strings.IndexByte(part, '"')])
		}
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("search %q found %v, want %v", tt.q, got, tt.want)
		}
		if tt.want == nil && !strings.Contains(body, "No customer") {
			t.Errorf("search %q: no word that nothing was found", tt.q)
		}
	}

	t.Run("api", func(t *testing.T) {
		tok, _, err := e.n.Incidents.CreateToken(e.as(incident.RoleAdmin), "api", incident.RoleAgent)
		if err != nil {
			t.Fatal(err)
		}
		get := func(q string) (int, []byte) {
			req := httptest.NewRequest("GET", "/api/v1/pages/"+e.page.ID+"/customers?q="+q, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := e.n.Server.App().Test(req, 10_000)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, b
		}
		status, body := get("kov%C3%A1cs&limit=1")
		var cs []*audience.Customer
		if err := json.Unmarshal(body, &cs); status != http.StatusOK || err != nil || len(cs) != 1 || cs[0].ID != "c1" {
			t.Errorf("GET customers?q=kovács&limit=1: %d %s", status, body)
		}
		status, body = get(strings.Repeat("a", 201))
		if status != http.StatusBadRequest || !strings.Contains(string(body), `"q"`) {
			t.Errorf("a 201-character query: %d %s, want 400 naming q", status, body)
		}
		status, body = get("anna&limit=0")
		if status != http.StatusBadRequest || !strings.Contains(string(body), "limit") {
			t.Errorf("limit=0: %d %s, want 400 naming limit", status, body)
		}
	})
}

func urlEscape(s string) string {
	r := strings.NewReplacer("+", "%2B", " ", "+", "@", "%40")
	return r.Replace(s)
}
