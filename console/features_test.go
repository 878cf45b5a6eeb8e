package console_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify"
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

// TestGroupsAndSubscribers creates, renames, fills and deletes a
// component group, and lists, finds and unsubscribes a subscriber, as a
// manager without JavaScript, checking the services' state after each.
func TestGroupsAndSubscribers(t *testing.T) {
	e := startEnv(t, "")
	ctx := context.Background()
	m := e.client(t)
	m.signIn(incident.RoleManager, "Mia")
	tok := m.csrf("/console/groups")
	group := func() *incident.Component {
		comps, _ := e.n.Incidents.Components(ctx, e.page.ID)
		for _, c := range comps {
			if c.Group {
				return c
			}
		}
		return nil
	}
	groupOf := func(id string) string {
		c, _ := e.n.Incidents.Component(ctx, e.page.ID, id)
		return c.GroupID
	}
	if res, _ := m.do("POST", "/console/groups", url.Values{"_csrf": {tok}, "name": {"  "}}); res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("a group without a name: %d, want 422", res.StatusCode)
	}
	if res, _ := m.do("POST", "/console/groups", url.Values{"_csrf": {tok}, "name": {"Money"}, "component": {e.payments.ID}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d", res.StatusCode)
	}
	g := group()
	if g == nil || g.Name != "Money" || groupOf(e.payments.ID) != g.ID || groupOf(e.checkout.ID) != "" {
		t.Fatalf("after create: group %+v", g)
	}
	if _, body := m.do("GET", "/console/groups", nil); !strings.Contains(body, `value="Money"`) {
		t.Error("the groups page does not show the group")
	}
	if res, _ := m.do("POST", "/console/groups/"+g.ID, url.Values{"_csrf": {tok}, "name": {"Payments & checkout"},
		"component": {e.payments.ID, e.checkout.ID}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("rename: %d", res.StatusCode)
	}
	if g = group(); g.Name != "Payments & checkout" || groupOf(e.checkout.ID) != g.ID || groupOf(e.payments.ID) != g.ID {
		t.Errorf("after rename: %+v", g)
	}
	if res, _ := m.do("POST", "/console/groups/"+g.ID, url.Values{"_csrf": {tok}, "name": {"x"}, "component": {"nope"}}); res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("an unknown component: %d, want 422", res.StatusCode)
	}
	if res, _ := m.do("POST", "/console/groups/"+e.payments.ID+"/delete", url.Values{"_csrf": {tok}}); res.StatusCode != http.StatusNotFound {
		t.Errorf("deleting a component as a group: %d, want 404", res.StatusCode)
	}
	if res, _ := m.do("POST", "/console/groups/"+g.ID+"/delete", url.Values{"_csrf": {tok}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", res.StatusCode)
	}
	if group() != nil || groupOf(e.payments.ID) != "" {
		t.Error("the group or its membership is still there")
	}
	if comps, _ := e.n.Incidents.Components(ctx, e.page.ID); len(comps) != 2 {
		t.Errorf("%d components after deleting the group, want the 2 kept", len(comps))
	}

	// Subscribers.
	mctx := e.as(incident.RoleManager)
	sub, err := e.n.Notify.Subscribe(mctx, notify.SubscribeRequest{PageID: e.page.ID, Kind: channel.Email, Address: "Zoe@Example.com",
		ComponentIDs: []string{e.checkout.ID}, Source: "api", Confirmed: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.n.Notify.Subscribe(mctx, notify.SubscribeRequest{PageID: e.page.ID, Kind: channel.SMS, Address: "+36205555555",
		Source: "api", Confirmed: true}); err != nil {
		t.Fatal(err)
	}
	_, body := m.do("GET", "/console/subscribers", nil)
	if !strings.Contains(body, "36205555555") || !strings.Contains(body, "Checkout") || !strings.Contains(body, "The whole page") {
		t.Errorf("the list does not show both subscribers and what they follow:\n%s", body)
	}
	_, body = m.do("GET", "/console/subscribers?q=Zoe%40EXAMPLE.com", nil)
	if !strings.Contains(body, sub.ID) || strings.Contains(body, "36205555555") {
		t.Error("finding by email")
	}
	tok = m.csrf("/console/subscribers")
	if res, _ := m.do("POST", "/console/subscribers/"+sub.ID+"/unsubscribe", url.Values{"_csrf": {tok}, "back": {"//evil.example/"}}); res.StatusCode != http.StatusSeeOther ||
		res.Header.Get("Location") != "/console/subscribers" {
		t.Fatalf("unsubscribe: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if got, _ := e.n.Notify.Subscriber(ctx, e.page.ID, sub.ID); got.State != audience.SubscriberUnsubscribed {
		t.Errorf("after unsubscribe: %s", got.State)
	}
	if _, body := m.do("GET", "/console/subscribers?state=unsubscribed", nil); !strings.Contains(body, sub.Address) {
		t.Error("the unsubscribed tab does not list them")
	}
	if res, _ := m.do("POST", "/console/subscribers/nope/unsubscribe", url.Values{"_csrf": {tok}}); res.StatusCode != http.StatusNotFound {
		t.Errorf("unsubscribe an unknown subscriber: %d, want 404", res.StatusCode)
	}
}

// TestComplaintCurve draws the complaint curve on the incident's live
// view: an SVG with a title and description, and the same figures in a
// table.
func TestComplaintCurve(t *testing.T) {
	e := startEnv(t, customersCSV)
	ctx := context.Background()
	inc := e.declare(t, "Payments are failing", false)
	m := e.client(t)
	m.signIn(incident.RoleManager, "Mia")
	if _, body := m.do("GET", "/console/incidents/"+inc.ID, nil); !strings.Contains(body, "No complaints since the incident began.") {
		t.Error("no word for an empty curve")
	}
	for i, text := range []string{"payments fail", "cannot pay", "card refused", "my parcel is late"} {
		in := complaint.Intake{PageID: e.page.ID, Channel: complaint.SMS, Contact: complaint.Contact{Phone: "+3620000000" + strconv.Itoa(i)}, Text: text}
		if i < 3 {
			in.IncidentID = inc.ID
		}
		if _, _, err := e.n.Complaints.Receive(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	// A call recorded as made 40 minutes before the declaration, tagged
	// to the incident: the curve counts it as the tile does.
	if _, _, err := e.n.Complaints.Receive(ctx, complaint.Intake{PageID: e.page.ID, Channel: complaint.Phone, Contact: complaint.Contact{Name: "Early caller"},
		Text: "cannot pay since this morning", IncidentID: inc.ID, At: inc.StartedAt.Add(-40 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	_, body := m.do("GET", "/console/incidents/"+inc.ID, nil)
	for _, want := range []string{`<svg xmlns="http://www.w3.org/2000/svg" class="chart wide"`, `<title id="curve-` + inc.ID + `-t">Complaint curve</title>`,
		"4 tagged to it, 1 untagged on the whole page", "<td>3</td><td>1</td>", "<td>1</td><td>0</td>"} {
		if !strings.Contains(body, want) {
			t.Errorf("the incident page lacks %q", want)
		}
	}
}
