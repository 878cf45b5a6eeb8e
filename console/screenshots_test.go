package console_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
)

var screenshots = flag.String("screenshots", "", "write a screenshot of every console view at 1280 and 390 px into `DIR`")

// TestScreenshots is how the views are looked at: go test ./console -run
// TestScreenshots -screenshots /tmp/shots. It checks nothing by itself.
func TestScreenshots(t *testing.T) {
	if *screenshots == "" {
		t.Skip("pass -screenshots DIR to take them")
	}
	e := startEnv(t, bigCustomers(10))
	ctx := context.Background()
	inc := e.declare(t, "Card payments fail for some customers", true)
	mctx := e.as(incident.RoleManager)
	if _, _, err := e.n.Compensation.Decide(mctx, e.page.ID, inc.ID, compensation.Proposal{State: compensation.Decided, Version: 0,
		Policy: &compensation.Policy{Currency: "EUR", Offers: []compensation.Offer{{ID: "credit5", Kind: compensation.Credit, Amount: &compensation.Money{Amount: 500, Currency: "EUR"}}},
			Rules: []compensation.Rule{{ID: "all", Give: []string{"credit5"}}}}}); err != nil {
		t.Fatal(err)
	}
	// A second incident whose policy the editor cannot show whole (made
	// with the CLI): the editor shows it instead.
	cli := e.declare(t, "Checkout times out", false)
	if _, _, err := e.n.Compensation.Decide(mctx, e.page.ID, cli.ID, compensation.Proposal{State: compensation.Decided, Version: 0, Reason: "By the book",
		Policy: &compensation.Policy{Currency: "EUR", PlanFees: map[string]compensation.Money{"gold": {Amount: 2000, Currency: "EUR"}},
			Offers:  []compensation.Offer{{ID: "credit10", Kind: compensation.Credit, Percent: 1000}, {ID: "week", Kind: compensation.FreePeriod, Days: 7}},
			Rules:   []compensation.Rule{{ID: "paying", Plans: []string{"gold"}, Give: []string{"credit10"}}, {ID: "long", MinAffectedMinutes: 60, Give: []string{"week"}}},
			Exclude: []compensation.Exclusion{compensation.ExcludeAlreadyGranted}}}); err != nil {
		t.Fatal(err)
	}
	var cpID string
	for i, txt := range []string{"My card was declined twice at the shop, what is going on?", "Nem működik a fizetés!", "<b>Still</b> broken, third time I write"} {
		phone := []string{"+36201111111", "+36202222222", "+36201111111"}[i]
		cp, _, err := e.n.Complaints.Receive(ctx, complaint.Intake{PageID: e.page.ID, Channel: complaint.SMS, Contact: complaint.Contact{Phone: phone}, Text: txt})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			cpID = cp.ID
		}
	}
	for i := range 55 { // the tokens page then shows its older/newer links
		e.link(t, incident.RoleAgent, "Agent "+itoa(i+1))
	}
	if err := os.MkdirAll(*screenshots, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, w := range []int{1280, 390} {
		b := newBrowser(t, e.base, w, 900)
		mgr := b.user(e, incident.RoleAdmin, "Mia")
		for name, path := range map[string]string{
			"overview": "/console/", "declare": "/console/incidents/new", "incident": "/console/incidents/" + inc.ID,
			"update": "/console/incidents/" + inc.ID + "/update?resolve=1", "queue": "/console/queue", "complaint": "/console/complaints/" + cpID,
			"call": "/console/calls/new?customer=c1", "tokens": "/console/tokens", "tokens-older": "/console/tokens?offset=50", "forbidden": "/console/nowhere",
			"maintenance": "/console/maintenance/new", "components": "/console/components", "import": "/console/customers/import", "audience": "/console/incidents/" + inc.ID + "/audience",
			"reports": "/console/reports", "report": "/console/incidents/" + inc.ID + "/report",
			"decision": "/console/incidents/" + inc.ID + "/compensation", "decision-locked": "/console/incidents/" + cli.ID + "/compensation",
		} {
			b.run(mgr, name, chromedp.EmulateViewport(int64(w), 900), chromedp.Navigate(e.base+path))
			png := get(b, mgr, "screenshot "+name, chromedp.FullScreenshot(100))
			if err := os.WriteFile(filepath.Join(*screenshots, name+"-"+itoa(w)+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		anon, cancel := chromedp.NewContext(b.root, chromedp.WithNewBrowserContext())
		defer cancel()
		_ = chromedp.Do(anon)
		b.run(anon, "signin", chromedp.EmulateViewport(int64(w), 900), chromedp.Navigate(e.base+"/console/signin"))
		png := get(b, anon, "screenshot signin", chromedp.FullScreenshot(100))
		_ = os.WriteFile(filepath.Join(*screenshots, "signin-"+itoa(w)+".png"), png, 0o644)
	}
}
