package console_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
)

// shoot saves what user's page shows as name-1280.png and name-390.png
// under -screenshots DIR; without the flag it does nothing.
func shoot(t *testing.T, b *browser, user context.Context, name string) {
	t.Helper()
	if *screenshots == "" {
		return
	}
	if err := os.MkdirAll(*screenshots, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, w := range []int64{1280, 390} {
		b.run(user, "viewport", chromedp.EmulateViewport(w, 900))
		png := get(b, user, "screenshot "+name, chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(*screenshots, name+"-"+strconv.FormatInt(w, 10)+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.run(user, "viewport", chromedp.EmulateViewport(1280, 900))
}

// heldPanel opens path (a page with c's eligibility panel, sel) for a new
// agent, in English, and waits until it listens to the live stream.
func heldPanel(t *testing.T, e *env, b *browser, name, path, sel string) context.Context {
	t.Helper()
	agent := b.user(e, incident.RoleAgent, name)
	get(b, agent, "choose the language", chromedp.Evaluate[int](`fetch('/console/lang', {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'},
		body: 'lang=en&back=/console/&_csrf=' + encodeURIComponent(document.body.dataset.csrf)}).then(function (r) { return r.status })`, chromedp.EvalAwaitPromise))
	b.run(agent, "open "+path, chromedp.Navigate(e.base+path), chromedp.WaitVisible(chromedp.CSS(sel)),
		waitJS(`document.body.dataset.liveOpen === "1"`), noReload)
	return agent
}

// TestOfferHeldUntilItComesBack, in the browser, on the complaint page
// and on the call page: a panel held because the customer's offers
// changed (a manager amended the credit from 5.00 to 6.00 EUR) stays
// held while they differ from what it shows, and when a further
// amendment brings back exactly the offers it shows (5.00 EUR again),
// the notice goes away and the panel is updated as any other: its forms
// carry the version in force, and the credit the agent read out is
// recorded at the amount they read.
func TestOfferHeldUntilItComesBack(t *testing.T) {
	e := startEnv(t, customersCSV)
	ctx := context.Background()
	b := newBrowser(t, e.base, 1280, 900)
	for _, tc := range []struct {
		page, customer, agent string
	}{
		{"complaint", "c1", "Ana"},
		{"call", "c2", "Ben"},
	} {
		t.Run(tc.page, func(t *testing.T) {
			b.t = t
			inc := e.declare(t, "Payments are failing", false)
			version := 0
			decide := func(creditMinor int64) {
				t.Helper()
				p := amountPolicy()
				p.Offers[0].Amount = &compensation.Money{Amount: creditMinor, Currency: "EUR"}
				d, _, err := e.n.Compensation.Decide(e.as(incident.RoleManager), e.page.ID, inc.ID,
					compensation.Proposal{State: compensation.Decided, Version: version, Policy: p, AcceptLower: true})
				if err != nil {
					t.Fatal(err)
				}
				version = d.Version
			}
			decide(500)
			path, sel := "/console/calls/new?customer="+tc.customer, "#eligibility-"+inc.ID
			if tc.page == "complaint" {
				cp, _, err := e.n.Complaints.Receive(ctx, complaint.Intake{PageID: e.page.ID, Channel: complaint.Phone, IncidentID: inc.ID,
					Contact: complaint.Contact{CustomerID: tc.customer}, Text: "I could not pay"})
				if err != nil {
					t.Fatal(err)
				}
				path, sel = "/console/complaints/"+cp.ID, "#eligibility"
			}
			agent := heldPanel(t, e, b, tc.agent, path, sel)
			notice := `document.querySelector('` + sel + ` [data-offer-changed]')`
			if !strings.Contains(text(b, agent, sel), "5.00 EUR") {
				t.Fatalf("the panel does not offer 5.00 EUR:\n%s", text(b, agent, sel))
			}

			decide(600)
			b.run(agent, "see the offer held", waitJS(`document.body.dataset.offerHeld === "1"`), waitJS(`!`+notice+`.hidden`))
			if el := text(b, agent, sel); !strings.Contains(el, "5.00 EUR") || strings.Contains(el, "6.00 EUR") {
				t.Errorf("the held panel reads:\n%s", el)
			}

			decide(500) // back to what the panel shows
			b.run(agent, "see the notice go", waitJS(notice+`.hidden`))
			stillSame(t, b, agent)
			if el := text(b, agent, sel); !strings.Contains(el, "5.00 EUR") || strings.Contains(el, "6.00 EUR") {
				t.Errorf("the panel after the offer came back reads:\n%s", el)
			}
			if tc.page == "call" {
				return // the call page's panel is for reading: no forms
			}
			creditForm := `document.querySelector('#eligibility form.offer-opt input[name="offer"][value="credit"]').form`
			if v := get(b, agent, "the credit's version", chromedp.Evaluate[string](creditForm+`.querySelector('input[name="version"]').value`)); v != strconv.Itoa(version) {
				t.Errorf("the credit's form carries version %s, want the version in force %d: the panel was not updated", v, version)
			}
			// Recorded, the page shows the credit granted (refused, it
			// would show why, and this wait fails with the page's text).
			b.run(agent, "grant what was read out", js(creditForm+`.querySelector('button').click()`),
				chromedp.WaitVisible(chromedp.CSS(`#eligibility .ok`)))
			gs, err := e.n.Compensation.Grants(ctx, e.page.ID, inc.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(gs) != 1 || gs[0].OfferID != "credit" || gs[0].Amount.Amount != 500 || gs[0].PolicyVersion != version {
				t.Errorf("grants %+v, want the credit of 5.00 EUR under version %d", gs, version)
			}
		})
	}
}

// changedSinceCall opens the complaint page's notice that the offers
// changed after the agent read them on the call page.
const changedSinceCall = "This customer's compensation changed after you read it on the call page"

// TestCallOfferChangedSinceRead, without JavaScript: the call page's form
// carries what its panel showed; a complaint the call opens after the
// customer's offers changed (a goodwill credit leaves 4.00 EUR of the
// cap, not the 5.00 EUR the call page showed) says so above the offers in
// force, and one opened from a call page read after the change does not.
func TestCallOfferChangedSinceRead(t *testing.T) {
	e := startEnv(t, customersCSV)
	inc := amountIncident(t, e)
	a := e.client(t)
	a.signIn(incident.RoleAgent, "Ana")
	readRx := regexp.MustCompile(`<input type="hidden" form="call" name="read" value="([^"]+)">`)
	call := func(what string) string {
		t.Helper()
		_, page := a.do("GET", "/console/calls/new?customer=c1", nil)
		m := readRx.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("%s: the call form carries nothing of what its compensation panel showed:\n%s", what, page)
		}
		return m[1]
	}
	record := func(read string) string {
		t.Helper()
		res, body := a.do("POST", "/console/calls", url.Values{"_csrf": {a.csrf("/console/calls/new")}, "customer": {"c1"}, "attach": {"new"},
			"category": {"outage"}, "ask": {"compensation"}, "severity": {"normal"}, "text": {"Wants what they were told"}, "incident": {inc.ID}, "read": {read}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("record the call: %d\n%s", res.StatusCode, body)
		}
		_, page := a.do("GET", res.Header.Get("Location"), nil)
		return html.UnescapeString(page)
	}
	before := call("before the change")
	if _, _, err := e.n.Compensation.Grant(e.as(incident.RoleManager), e.page.ID, inc.ID, "c1",
		compensation.GrantRequest{Offer: "goodwill", OverrideReason: "escalated on the phone"}); err != nil {
		t.Fatal(err)
	}
	if page := record(before); !strings.Contains(page, changedSinceCall) || !strings.Contains(page, "credit of 4.00 EUR") {
		t.Errorf("the complaint of a call read before the change: no notice, or not the 4.00 EUR in force:\n%s", page)
	}
	if page := record(call("after the change")); strings.Contains(page, changedSinceCall) {
		t.Errorf("the complaint of a call read after the change says it changed since:\n%s", page)
	}
}

// TestCallPageOfferHeld, in the browser: Ben has c1 picked on the call
// page and is reading out "a credit of 5.00 EUR" from its panel when a
// manager's goodwill credit leaves 4.00 EUR of the cap. The panel is held
// as on the complaint page: it still reads 5.00 EUR, the notice says the
// offer changed, and its button shows the new offer (4.00 EUR). Recording
// the call while it is held opens the complaint with the offer in force,
// and a grant of the 5.00 EUR read out records nothing: 409, in the
// agent's words. With -screenshots DIR, the held panel is saved at 1280
// and 390 px.
func TestCallPageOfferHeld(t *testing.T) {
	e := startEnv(t, customersCSV)
	ctx := context.Background()
	inc := amountIncident(t, e)
	b := newBrowser(t, e.base, 1280, 900)
	sel := "#eligibility-" + inc.ID
	notice := `document.querySelector('` + sel + ` [data-offer-changed]')`
	goodwill := func(customer string) {
		t.Helper()
		if _, _, err := e.n.Compensation.Grant(e.as(incident.RoleManager), e.page.ID, inc.ID, customer,
			compensation.GrantRequest{Offer: "goodwill", OverrideReason: "escalated on the phone"}); err != nil {
			t.Fatal(err)
		}
	}

	// Show the new offer.
	ben := heldPanel(t, e, b, "Ben", "/console/calls/new?customer=c1", sel)
	if el := text(b, ben, sel); !strings.Contains(el, "5.00 EUR") || strings.Contains(el, "4.00 EUR") {
		t.Fatalf("the call page's panel reads:\n%s", el)
	}
	goodwill("c1")
	b.run(ben, "see the offer held", waitJS(`document.body.dataset.offerHeld === "1"`), chromedp.WaitVisible(chromedp.CSS(sel+` [data-offer-changed]`)))
	stillSame(t, b, ben)
	if el := text(b, ben, sel); !strings.Contains(el, "5.00 EUR") || strings.Contains(el, "4.00 EUR") ||
		!strings.Contains(el, "This customer's compensation changed while the page was open") ||
		!strings.Contains(el, "before you record the call") || strings.Contains(el, "a grant of them") {
		// The call page has no grant buttons: its notice says what to do
		// before recording the call, not what a grant would do.
		t.Errorf("the held panel reads:\n%s", el)
	}
	shoot(t, b, ben, "call-offer-held")
	b.run(ben, "show the new offer", chromedp.Click(chromedp.CSS(sel+` [data-offer-show]`)), waitJS(notice+`.hidden`))
	if el := text(b, ben, sel); !strings.Contains(el, "credit of 4.00 EUR") {
		t.Errorf("the shown offer reads:\n%s", el)
	}
	// Ben read out the new offer: the complaint his call opens offers the
	// same, and says nothing changed.
	b.run(ben, "record the call", chromedp.SetValue(chromedp.CSS(`#text`), "They were told 4.00 EUR"),
		js(`document.querySelector('form[action="/console/calls"] button.primary').click()`),
		chromedp.WaitVisible(chromedp.CSS(`#eligibility form.offer-opt`)))
	if el := text(b, ben, "#eligibility"); strings.Contains(el, changedSinceCall) || !strings.Contains(el, "credit of 4.00 EUR") {
		t.Errorf("the complaint Ben's call opened, after he read the new offer, reads:\n%s", el)
	}

	// Record the call while the panel is held.
	cy := heldPanel(t, e, b, "Cy", "/console/calls/new?customer=c2", sel)
	goodwill("c2")
	b.run(cy, "see the offer held", waitJS(`document.body.dataset.offerHeld === "1"`), waitJS(`!`+notice+`.hidden`))
	b.run(cy, "record the call", chromedp.SetValue(chromedp.CSS(`#text`), "They were told 5.00 EUR"),
		js(`document.querySelector('form[action="/console/calls"] button.primary').click()`),
		chromedp.WaitVisible(chromedp.CSS(`#eligibility form.offer-opt`)))
	creditForm := `document.querySelector('#eligibility form.offer-opt input[name="offer"][value="credit"]').form`
	if got := get(b, cy, "the credit's amount", chromedp.Evaluate[string](creditForm+`.querySelector('input[name="amount"]').value`)); got != "4.00" {
		t.Errorf("the complaint the call opened offers the credit at %q, want the 4.00 in force", got)
	}
	// The complaint page says so: Cy read 5.00 EUR on the call page, and
	// the amount she sees now is not what she read out.
	if el := text(b, cy, "#eligibility"); !strings.Contains(el, changedSinceCall) || !strings.Contains(el, "credit of 4.00 EUR") {
		t.Errorf("the complaint Cy's call opened, after the offer changed under her, reads:\n%s\nwant a notice that it changed since the call page, and the 4.00 EUR in force", el)
	}
	shoot(t, b, cy, "complaint-offer-changed-since-call")
	// A grant of the 5.00 EUR the call page showed, as its form would
	// have sent it: nothing is recorded, and the agent is told why.
	b.run(cy, "grant what was read out", js(creditForm+`.querySelector('input[name="amount"]').value = "5.00"`),
		js(creditForm+`.querySelector('button').click()`), chromedp.WaitVisible(chromedp.CSS(`main .error`)))
	if msg := text(b, cy, "main .error"); !strings.Contains(msg, "a grant now records 4.00 EUR, not the 5.00 EUR the page showed") {
		t.Errorf("the refusal reads %q", msg)
	}
	gs, err := e.n.Compensation.Grants(ctx, e.page.ID, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		if g.OfferID == "credit" {
			t.Errorf("the refused grant recorded %+v", g)
		}
	}
}
