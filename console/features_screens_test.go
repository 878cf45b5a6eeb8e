package console_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify"
)

// TestScreenshotsOfFeatures takes the views of the decision editor, a
// complaint with a choice, the complaint curve, groups, subscribers and
// the name search, as TestScreenshots does: go test ./console -run
// TestScreenshotsOfFeatures -screenshots /tmp/shots. It checks nothing.
func TestScreenshotsOfFeatures(t *testing.T) {
	if *screenshots == "" {
		t.Skip("pass -screenshots DIR to take them")
	}
	e := startEnv(t, bigCustomers(10)+"c4,Łucja Wójcik-Kovács,+48501111111,lucja@example.com,,pl,,gold,eu,Checkout\n")
	ctx := context.Background()
	inc := e.declare(t, "Card payments fail for some customers", false)
	mctx := e.as(incident.RoleManager)
	eur := func(a int64) *compensation.Money { return &compensation.Money{Amount: a, Currency: "EUR"} }
	if _, _, err := e.n.Compensation.Decide(mctx, e.page.ID, inc.ID, compensation.Proposal{State: compensation.Decided, Version: 0,
		Reason: "Sorry for the trouble", Policy: &compensation.Policy{Currency: "EUR",
			Offers:  []compensation.Offer{{ID: "offer1", Kind: compensation.Credit, Amount: eur(1000)}, {ID: "offer2", Kind: compensation.Refund, Amount: eur(550)}},
			Choices: []compensation.Choice{{ID: "choice", Offers: []string{"offer1", "offer2"}}},
			Rules:   []compensation.Rule{{ID: "eligible", Give: []string{"choice"}}}}}); err != nil {
		t.Fatal(err)
	}
	var cpID string
	for i, txt := range []string{"My card was declined twice at the shop, what is going on?", "Nem működik a fizetés!", "Still broken", "Where is my parcel?"} {
		in := complaint.Intake{PageID: e.page.ID, Channel: complaint.SMS, Contact: complaint.Contact{Phone: []string{"+36201111111", "+36202222222", "+36203333333", "+36209999999"}[i]}, Text: txt}
		if i < 3 {
			in.IncidentID = inc.ID
		}
		cp, _, err := e.n.Complaints.Receive(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			cpID = cp.ID
		}
	}
	name := "Money"
	if _, err := e.n.Incidents.CreateGroup(mctx, e.page.ID, incident.GroupInput{Name: &name, ComponentIDs: []string{e.payments.ID}}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []notify.SubscribeRequest{
		{PageID: e.page.ID, Kind: channel.Email, Address: "zoe.long.address.for.testing@example.com", ComponentIDs: []string{e.checkout.ID}, Source: "api", Confirmed: true},
		{PageID: e.page.ID, Kind: channel.SMS, Address: "+36205555555", Source: "api", Confirmed: true},
		{PageID: e.page.ID, Kind: channel.Email, Address: "follower@example.com", IncidentID: inc.ID, Source: "api", Confirmed: true},
	} {
		if _, err := e.n.Notify.Subscribe(mctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(*screenshots, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, w := range []int{1280, 390} {
		b := newBrowser(t, e.base, w, 900)
		mgr := b.user(e, incident.RoleManager, "Mia")
		for name, path := range map[string]string{
			"decide": "/console/incidents/" + inc.ID + "/compensation", "incident-curve": "/console/incidents/" + inc.ID,
			"complaint-choice": "/console/complaints/" + cpID, "groups": "/console/groups", "subscribers": "/console/subscribers",
			"subscribers-found": "/console/subscribers?q=%2B36205555555", "call-name": "/console/calls/new?q=kovacs",
		} {
			b.run(mgr, name, chromedp.EmulateViewport(int64(w), 900), chromedp.Navigate(e.base+path))
			png := get(b, mgr, "screenshot "+name, chromedp.FullScreenshot(100))
			if err := os.WriteFile(filepath.Join(*screenshots, name+"-"+itoa(w)+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
