package console_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
)

// offerFormRx reads the complaint page's offer forms: action and hidden fields.
var offerFormRx = regexp.MustCompile(`(?s)<form method="post" action="(/console/complaints/[^"]+/offer)"[^>]*>(.*?)</form>`)
var hiddenRx = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// offerForms returns each offer form on a complaint page as the values
// its button posts, with the button's words.
func offerForms(body string) []url.Values {
	var out []url.Values
	for _, m := range offerFormRx.FindAllStringSubmatch(body, -1) {
		v := url.Values{}
		for _, h := range hiddenRx.FindAllStringSubmatch(m[2], -1) {
			v.Add(h[1], h[2])
		}
		if i := strings.LastIndex(m[2], `">`); i >= 0 {
			v.Set("_button", strings.TrimSuffix(m[2][i+2:], "</button>"))
		}
		out = append(out, v)
	}
	return out
}

// TestDecisionWithChoice builds a decision with two offers as a choice in
// the manager's editor (adding a row by submit, as without JavaScript),
// then records on complaints, as an agent clicks, one customer's choice
// and another's declining, and checks the grants in the store.
func TestDecisionWithChoice(t *testing.T) {
	e := startEnv(t, customersCSV)
	ctx := context.Background()
	inc := e.declare(t, "Payments are failing", false)

	m := e.client(t)
	m.signIn(incident.RoleManager, "Mia")
	page := "/console/incidents/" + inc.ID + "/compensation"
	res, body := m.do("GET", page, nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `name="kind1"`) || strings.Contains(body, `name="kind2"`) {
		t.Fatalf("the editor starts with two offer rows: %d", res.StatusCode)
	}
	tok := m.csrf(page)
	form := url.Values{"_csrf": {tok}, "form": {"full"}, "version": {"0"}, "currency": {"EUR"}, "how": {"choice"}, "min_minutes": {"0"},
		"kind0": {"credit"}, "amount0": {"10.00"}, "kind1": {"refund"}, "amount1": {"5,50"}, "reason": {"Sorry for the outage"}}
	add := url.Values{"add": {"1"}}
	for k, v := range form {
		add[k] = v
	}
	res, body = m.do("POST", "/console/incidents/"+inc.ID+"/compensation", add)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `name="kind2"`) || !strings.Contains(body, `value="5,50"`) {
		t.Fatalf("add a row: %d; the form must come back with a third row and the values typed", res.StatusCode)
	}
	if d, _ := e.n.Compensation.Decision(ctx, e.page.ID, inc.ID); d.State != compensation.NoneYet {
		t.Fatalf("adding a row decided: %s", d.State)
	}
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("amount1", "lots")
	if res, body := m.do("POST", "/console/incidents/"+inc.ID+"/compensation", bad); res.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(body, "offers[2].amount") || !strings.Contains(body, `value="lots"`) {
		t.Errorf("a bad amount: %d, want 422 naming offers[2].amount with the form kept", res.StatusCode)
	}
	// The third row left empty ("remove") is ignored.
	form.Set("kind2", "")
	if res, body := m.do("POST", "/console/incidents/"+inc.ID+"/compensation", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("decide: %d\n%s", res.StatusCode, body)
	}
	d, _ := e.n.Compensation.Decision(ctx, e.page.ID, inc.ID)
	if d.State != compensation.Decided || d.Policy == nil || len(d.Policy.Offers) != 2 || len(d.Policy.Choices) != 1 ||
		d.Policy.Offers[1].Amount.Amount != 550 || d.Policy.Rules[0].Give[0] != "choice" {
		t.Fatalf("decision: %+v %+v", d, d.Policy)
	}
	// The editor shows the decision back.
	if _, body := m.do("GET", page, nil); !strings.Contains(body, `value="5.50"`) || !strings.Contains(body, `value="choice" checked`) {
		t.Error("the editor does not show the decided policy")
	}

	// Anna (c1) chooses the refund; Bob (c2) declines.
	agent := e.client(t)
	agent.signIn(incident.RoleAgent, "Ana")
	complain := func(who complaint.Contact) *complaint.Complaint {
		cp, _, err := e.n.Complaints.Receive(ctx, complaint.Intake{PageID: e.page.ID, Channel: complaint.Phone, IncidentID: inc.ID,
			Contact: who, Text: "I could not pay"})
		if err != nil {
			t.Fatal(err)
		}
		return cp
	}
	pick := func(cp *complaint.Complaint, want func(url.Values) bool) {
		t.Helper()
		_, body := agent.do("GET", "/console/complaints/"+cp.ID, nil)
		forms := offerForms(body)
		for _, f := range forms {
			if want(f) {
				f.Del("_button")
				res, body := agent.do("POST", "/console/complaints/"+cp.ID+"/offer", f)
				if res.StatusCode != http.StatusSeeOther {
					t.Fatalf("post %v: %d\n%s", f, res.StatusCode, body)
				}
				return
			}
		}
		t.Fatalf("no such offer button among %v", forms)
	}
	// Bob calls from his number, unnamed: the page finds him by it.
	anna, bob := complain(complaint.Contact{CustomerID: "c1"}), complain(complaint.Contact{Phone: "+36202222222"})
	pick(anna, func(f url.Values) bool { return f.Get("choice") == "offer2" })
	pick(bob, func(f url.Values) bool { return f.Get("declined") == "1" })

	grants, err := e.n.Compensation.Grants(ctx, e.page.ID, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*compensation.Grant{}
	for _, g := range grants {
		if got[g.CustomerID] != nil {
			t.Errorf("customer %s has two grants", g.CustomerID)
		}
		got[g.CustomerID] = g
	}
	if g := got["c1"]; g == nil || g.Declined || g.Group != "choice" || g.OfferID != "offer2" || g.Kind != compensation.Refund ||
		g.Amount.Amount != 550 || g.ComplaintID != anna.ID {
		t.Errorf("Anna's grant: %+v", g)
	}
	if g := got["c2"]; g == nil || !g.Declined || g.Group != "choice" || g.OfferID != "" || g.ComplaintID != bob.ID {
		t.Errorf("Bob's decline: %+v", g)
	}
	if len(grants) != 2 {
		t.Errorf("%d grants, want 2", len(grants))
	}
	// The page shows what was recorded, and no longer offers Anna's choice.
	_, body = agent.do("GET", "/console/complaints/"+anna.ID, nil)
	if !strings.Contains(body, "5.50 EUR") {
		t.Error("Anna's complaint does not show the refund recorded")
	}
	if fs := offerForms(body); len(fs) != 0 {
		t.Errorf("Anna's complaint still offers %v after she chose", fs)
	}
	// A caller known by the number only since the complaint (imported
	// after it): the page finds the customer by the number, and so must
	// the buttons.
	late := complain(complaint.Contact{Phone: "+36209999999"})
	if late.Contact.CustomerID != "" {
		t.Fatalf("the late caller has customer %s already", late.Contact.CustomerID)
	}
	if _, err := e.n.Notify.ImportCustomers(e.as(incident.RoleAdmin), e.page.ID,
		strings.NewReader("id,name,phone,components\nc9,Late Caller,+36209999999,Payments\n"), "csv", false); err != nil {
		t.Fatal(err)
	}
	pick(late, func(f url.Values) bool { return f.Get("choice") == "offer1" })
	if grants, _ := e.n.Compensation.Grants(ctx, e.page.ID, inc.ID); len(grants) != 3 || grants[2].CustomerID != "c9" || grants[2].OfferID != "offer1" {
		t.Errorf("the late caller's grant: %d grants", len(grants))
	}
	// One decline button for the choice, not one per option.
	cp := complain(complaint.Contact{CustomerID: "c3"})
	_, body = agent.do("GET", "/console/complaints/"+cp.ID, nil)
	declines, accepts := 0, 0
	for _, f := range offerForms(body) {
		if f.Get("declined") == "1" {
			declines++
		} else if f.Get("offer") == "choice" && f.Get("choice") != "" {
			accepts++
		}
	}
	if declines != 1 || accepts != 2 {
		t.Errorf("a choice of two shows %d accept and %d decline buttons, want 2 and 1", accepts, declines)
	}
}
