package console_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
)

// TestScreenshotsOfAgentLanguages takes an agent's views in Polish and
// Croatian (the complaint list, a complaint with its retag list, the call
// page, an incident) and the 409 page of an offer read at an amended
// decision in English, Polish and Croatian, at 1280 and 390 px, as
// TestScreenshots does: go test ./console -run
// TestScreenshotsOfAgentLanguages -screenshots /tmp/shots. It checks
// nothing. The language is the agent's console setting (the menu in the
// header, kept in a cookie), picked as an agent picks it.
func TestScreenshotsOfAgentLanguages(t *testing.T) {
	if *screenshots == "" {
		t.Skip("pass -screenshots DIR to take them")
	}
	e := startEnv(t, bigCustomers(10))
	ctx := context.Background()
	inc := e.declare(t, "Card payments fail for some customers at checkout and in the mobile app", false)
	other := e.declare(t, "Checkout times out", false)
	mctx := e.as(incident.RoleManager)
	eur := func(a int64) *compensation.Money { return &compensation.Money{Amount: a, Currency: "EUR"} }
	policy := func(credit int64) *compensation.Policy {
		return &compensation.Policy{Currency: "EUR",
			Offers:  []compensation.Offer{{ID: "offer1", Kind: compensation.Credit, Amount: eur(credit)}, {ID: "offer2", Kind: compensation.Refund, Amount: eur(550)}},
			Choices: []compensation.Choice{{ID: "choice", Offers: []string{"offer1", "offer2"}}},
			Rules:   []compensation.Rule{{ID: "eligible", Give: []string{"choice"}}}}
	}
	decide := func(credit int64) {
		t.Helper()
		d, err := e.n.Compensation.Decision(ctx, e.page.ID, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.n.Compensation.Decide(mctx, e.page.ID, inc.ID, compensation.Proposal{State: compensation.Decided, Version: d.Version,
			Reason: "Sorry for the trouble", Policy: policy(credit), AcceptLower: true}); err != nil {
			t.Fatal(err)
		}
	}
	decide(1000)
	var cpID string
	for i, txt := range []string{"My card was declined twice at the shop, what is going on?", "Nie działa płatność kartą!", "Plaćanje karticom ne radi"} {
		cp, _, err := e.n.Complaints.Receive(ctx, complaint.Intake{PageID: e.page.ID, Channel: complaint.SMS, IncidentID: inc.ID,
			Contact: complaint.Contact{Phone: []string{"+36201111111", "+36202222222", "+36203333333"}[i]}, Text: txt})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			cpID = cp.ID
		}
	}
	// An untagged one: its retag list shows "No incident (untag)", the
	// longest option in Polish.
	untagged, _, err := e.n.Complaints.Receive(ctx, complaint.Intake{PageID: e.page.ID, Channel: complaint.SMS,
		Contact: complaint.Contact{Phone: "+36209999999"}, Text: "Where is my parcel?"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(*screenshots, 0o755); err != nil {
		t.Fatal(err)
	}
	shoot := func(b *browser, ctx context.Context, name string, w int) {
		t.Helper()
		png := get(b, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(*screenshots, name+"-"+itoa(w)+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	credit := int64(1000)
	for _, w := range []int{1280, 390} {
		b := newBrowser(t, e.base, w, 900)
		for _, lang := range []string{"en", "pl", "hr"} {
			agent := b.user(e, incident.RoleAgent, "Ana "+lang)
			b.run(agent, "open the console", chromedp.EmulateViewport(int64(w), 900), chromedp.Navigate(e.base+"/console/queue"))
			// The header's language menu posts this form.
			if st := get(b, agent, "pick "+lang, chromedp.Evaluate[int](`fetch('/console/lang', {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'},
				body: 'lang=`+lang+`&back=%2Fconsole%2Fqueue&_csrf=' + encodeURIComponent(document.body.dataset.csrf)}).then(function (r) { return r.status })`, chromedp.EvalAwaitPromise)); st != 200 {
				t.Fatalf("pick %s: %d", lang, st)
			}
			b.run(agent, "see "+lang, chromedp.Navigate(e.base+"/console/queue"), waitJS(`document.documentElement.lang === "`+lang+`"`))
			if lang != "en" {
				for name, path := range map[string]string{
					"queue": "/console/queue", "complaint": "/console/complaints/" + cpID, "complaint-untagged": "/console/complaints/" + untagged.ID, "call": "/console/calls/new?customer=c1",
					"incident": "/console/incidents/" + inc.ID, "incident-other": "/console/incidents/" + other.ID,
				} {
					b.run(agent, name, chromedp.Navigate(e.base+path))
					shoot(b, agent, name+"-"+lang, w)
				}
			}
			// The 409: the agent reads the offers, the manager amends the
			// decision, the agent clicks "Customer accepts".
			b.run(agent, "read the offers", chromedp.Navigate(e.base+"/console/complaints/"+cpID), chromedp.WaitVisible(chromedp.CSS(`form.offer-opt`)))
			credit += 250
			decide(credit)
			b.run(agent, "accept at the old version",
				js(`document.querySelector('form.offer-opt button').click()`))
			b.run(agent, "the refusal", chromedp.WaitVisible(chromedp.CSS(`main p.error`)))
			shoot(b, agent, "offer-moved-"+lang, w)
		}
	}
}
