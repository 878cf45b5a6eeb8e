package console_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/internal/browsertest"
)

// browser starts one headless chromium for the test; user opens a
// separate browser context (its own cookies) in it.
type browser struct {
	t    *testing.T
	root context.Context
	base string
}

func newBrowser(t *testing.T, base string, width, height int) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browsertest.Require(t)), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.WindowSize(width, height), chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	root, rcancel := chromedp.NewContext(actx)
	t.Cleanup(func() { rcancel(); acancel() })
	if err := chromedp.Do(root); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, root: root, base: base}
}

// user opens a new browser context, signed in through a one-time link.
func (b *browser) user(e *env, role incident.Role, name string) context.Context {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.root, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	// The first run makes the tab and must have no deadline: the tab lives
	// as long as the context of that run.
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("open a browser context: %v", err)
	}
	b.run(ctx, "sign in with a link",
		chromedp.Navigate(b.base+e.link(b.t, role, name)),
		chromedp.Click(chromedp.CSS(`form[action="/console/link"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`nav a[aria-current="page"]`)))
	return ctx
}

// run runs actions with a deadline that ends a hung browser, not a timing
// assertion: every wait inside is for a condition in the page.
func (b *browser) run(ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, actions...); err != nil {
		b.fail(ctx, what, err)
	}
}

func (b *browser) fail(ctx context.Context, what string, err error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	url, _ := chromedp.Run(ctx, chromedp.Location())
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	b.t.Fatalf("%s: %v (at %s)\n%s", what, err, url, body)
}

// get runs one action that returns a value.
func get[T any](b *browser, ctx context.Context, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, a)
	if err != nil {
		b.fail(ctx, what, err)
	}
	return v
}

// text reads an element's text.
func text(b *browser, ctx context.Context, sel string) string {
	return get(b, ctx, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// waitJS waits until a JavaScript expression is true in the page.
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	poll := chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond))
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := poll(ctx, t)
		return chromedp.Void{}, err
	}
}

// js runs a script for its effect.
func js(expr string) chromedp.Action[chromedp.Void] {
	ev := chromedp.Evaluate[any](expr)
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := ev(ctx, t)
		return chromedp.Void{}, err
	}
}

// noReload marks the page; stillSame checks the mark survived, so what
// changed on screen changed without a reload.
var noReload = js(`window.__same = 1`)

func stillSame(t *testing.T, b *browser, ctx context.Context) {
	t.Helper()
	if !get(b, ctx, "check no reload", chromedp.Evaluate[bool](`window.__same === 1`)) {
		t.Error("the page reloaded; live parts must change in place")
	}
}

func TestBrowser(t *testing.T) {
	e := startEnv(t, bigCustomers(40))
	b := newBrowser(t, e.base, 1280, 900)
	mgr := b.user(e, incident.RoleManager, "Mia")
	var incID string

	sub := func(name string, fn func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			parent := b.t
			b.t = t
			defer func() { b.t = parent }()
			fn(t)
		})
	}
	sub("declare from the form, the public page changes, progress moves live", func(t *testing.T) {
		b.run(mgr, "declare",
			chromedp.Navigate(e.base+"/console/incidents/new"),
			chromedp.SendKeys(chromedp.CSS(`#name`), "Card payments fail"),
			chromedp.SetValue(chromedp.CSS(`#c-`+e.payments.ID), "major_outage"),
			chromedp.SendKeys(chromedp.CSS(`#message`), "Some card payments fail. We are investigating."),
			chromedp.Click(chromedp.CSS(`button[value="preview"]`)),
			chromedp.WaitVisible(chromedp.CSS(`button[value="confirm"]`)))
		preview := text(b, mgr, "main")
		if !strings.Contains(preview, "Card payments fail") || !strings.Contains(preview, "Payments") || !strings.Contains(preview, "Major outage") {
			t.Fatalf("preview lacks the incident:\n%s", preview)
		}
		if list, _, _ := e.n.Incidents.Incidents(context.Background(), incident.IncidentFilter{PageID: e.page.ID}); len(list) != 0 {
			t.Fatal("the preview declared the incident")
		}
		b.run(mgr, "confirm",
			chromedp.Click(chromedp.CSS(`button[value="confirm"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#broadcasts`)),
			noReload)
		list, _, _ := e.n.Incidents.Incidents(context.Background(), incident.IncidentFilter{PageID: e.page.ID})
		if len(list) != 1 {
			t.Fatalf("%d incidents after confirm, want 1", len(list))
		}
		incID = list[0].ID
		// Progress moves on screen: every SMS and email ends up sent or
		// delivered, at 8 a second, while the page stays the same page.
		b.run(mgr, "watch the broadcast finish",
			waitJS(`(function(){ var r = document.querySelectorAll('#broadcasts tr[data-channel]'); if (r.length < 2) return false;
				for (var i = 0; i < r.length; i++) { if (r[i].querySelector('.n-pending').textContent !== '0') return false; } return true; })()`))
		refreshed := get(b, mgr, "count refreshes", chromedp.Evaluate[string](`document.body.dataset.refreshed || "0"`))
		if n, _ := strconv.Atoi(refreshed); n < 2 {
			t.Errorf("the progress table changed %s times in place; want it to move while sending", refreshed)
		}
		stillSame(t, b, mgr)

		b.run(mgr, "the public page", chromedp.Navigate(e.base+"/"))
		public := text(b, mgr, "body")
		if !strings.Contains(public, "Card payments fail") {
			t.Errorf("the public page does not show the incident:\n%s", public)
		}
	})

	agent := b.user(e, incident.RoleAgent, "Ana")
	sub("the queue receives a complaint live", func(t *testing.T) {
		b.run(agent, "open the queue", chromedp.Navigate(e.base+"/console/queue"), waitJS(`document.body.dataset.liveOpen === "1"`), noReload)
		if _, _, err := e.n.Complaints.Receive(context.Background(), complaint.Intake{PageID: e.page.ID, Channel: complaint.SMS,
			Contact: complaint.Contact{Phone: "+36201111111"}, Text: "My card was declined twice"}); err != nil {
			t.Fatal(err)
		}
		b.run(agent, "see it arrive", waitJS(`document.querySelector('#queue').textContent.indexOf('declined twice') >= 0`))
		stillSame(t, b, agent)
	})

	sub("record a phone complaint", func(t *testing.T) {
		b.run(agent, "find the customer as they type",
			chromedp.Navigate(e.base+"/console/calls/new"),
			chromedp.SendKeys(chromedp.CSS(`#q`), "+36201111111"),
			waitJS(`document.querySelector('#found').textContent.indexOf('Anna') >= 0`),
			chromedp.Click(chromedp.CSS(`#found a`)),
			chromedp.WaitVisible(chromedp.CSS(`.warnbox`)))
		b.run(agent, "record the call",
			chromedp.Click(chromedp.CSS(`input[name="attach"][value="new"]`)),
			chromedp.SendKeys(chromedp.CSS(`#text`), "Called: the shop says her payment failed"),
			chromedp.SendKeys(chromedp.CSS(`#promise`), "Call back with news"),
			chromedp.Click(chromedp.CSS(`form[action="/console/calls"] button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#story`)))
		story := text(b, agent, "#story")
		if !strings.Contains(story, "Anna") || !strings.Contains(story, "her payment failed") || !strings.Contains(story, "Call back with news") {
			t.Errorf("the recorded call reads:\n%s", story)
		}
		list, _, _ := e.n.Complaints.List(context.Background(), complaint.Filter{PageID: e.page.ID, Channel: complaint.Phone})
		if len(list) != 1 || list[0].Owner != "Ana" {
			t.Errorf("phone complaints %d, want 1 owned by Ana", len(list))
		}
	})

	sub("compensation guidance appears live", func(t *testing.T) {
		b.run(agent, "open the queue", chromedp.Navigate(e.base+"/console/queue"), waitJS(`document.body.dataset.liveOpen === "1"`), noReload)
		before := text(b, agent, "#guidance")
		if !strings.Contains(before, "promise nothing") {
			t.Fatalf("guidance before a decision:\n%s", before)
		}
		b.run(mgr, "decide: coming",
			chromedp.Navigate(e.base+"/console/incidents/"+incID),
			chromedp.SetValue(chromedp.CSS(`#cstate`), string(compensation.Coming)),
			chromedp.SendKeys(chromedp.CSS(`#creason`), "Decision on Friday"),
			chromedp.Click(chromedp.CSS(`form[action$="/compensation"] button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#compensation .g-coming`)))
		b.run(agent, "see it change", waitJS(`document.querySelector('#guidance').textContent.indexOf('Compensation is coming') >= 0`))
		stillSame(t, b, agent)
	})

	sub("a choice decided in the full form, the customer's choice recorded", func(t *testing.T) {
		ctx := context.Background()
		calls, _, _ := e.n.Complaints.List(ctx, complaint.Filter{PageID: e.page.ID, Channel: complaint.Phone})
		if len(calls) != 1 {
			t.Fatalf("%d phone complaints, want the one recorded", len(calls))
		}
		cp := calls[0]
		if cp.Tag == nil || cp.Tag.IncidentID != incID {
			if _, err := e.n.Complaints.SetTag(e.as(incident.RoleAgent), e.page.ID, cp.ID, incID); err != nil {
				t.Fatal(err)
			}
		}
		b.run(mgr, "decide a choice",
			chromedp.Navigate(e.base+"/console/incidents/"+incID+"/compensation"),
			chromedp.SetValue(chromedp.CSS(`#kind0`), "credit"),
			chromedp.SendKeys(chromedp.CSS(`#amount0`), "10.00"),
			chromedp.SetValue(chromedp.CSS(`#kind1`), "refund"),
			chromedp.SendKeys(chromedp.CSS(`#amount1`), "5.00"),
			chromedp.Click(chromedp.CSS(`input[name="how"][value="choice"]`)),
			chromedp.Click(chromedp.CSS(`#decide button.primary`)),
			chromedp.WaitVisible(chromedp.CSS(`#compensation .g-decided`)))
		b.run(agent, "the customer takes the refund",
			chromedp.Navigate(e.base+"/console/complaints/"+cp.ID),
			chromedp.WaitVisible(chromedp.CSS(`form.offer-opt`)),
			js(`document.querySelector('form.offer-opt input[name="choice"][value="offer2"]').form.querySelector('button').click()`))
		b.run(agent, "see it recorded", chromedp.WaitVisible(chromedp.CSS(`#eligibility .ok`)))
		if el := text(b, agent, "#eligibility"); !strings.Contains(el, "Refund 5.00 EUR") || strings.Contains(el, "Customer accepts") {
			t.Errorf("after the click the eligibility reads:\n%s", el)
		}
		grants, err := e.n.Compensation.Grants(ctx, e.page.ID, incID)
		if err != nil || len(grants) != 1 || grants[0].CustomerID != "c1" || grants[0].Group != "choice" || grants[0].OfferID != "offer2" || grants[0].Declined {
			t.Errorf("grants after the agent's click: %v %+v", err, grants)
		}
	})

	sub("CSRF and roles refused in the browser", func(t *testing.T) {
		status := get(b, agent, "post without the token", chromedp.Evaluate[int](`fetch('/console/calls', {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'},
			body: 'text=forged&phone=%2B36209999999'}).then(function (r) { return r.status })`, chromedp.EvalAwaitPromise))
		if status != 403 {
			t.Errorf("a form without its token: %d, want 403", status)
		}
		status = get(b, agent, "declare as an agent", chromedp.Evaluate[int](`fetch('/console/incidents', {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'},
			body: 'step=confirm&name=Hijack&message=x&_csrf=' + encodeURIComponent(document.body.dataset.csrf)}).then(function (r) { return r.status })`, chromedp.EvalAwaitPromise))
		if status != 403 {
			t.Errorf("an agent declaring: %d, want 403", status)
		}
		nav := text(b, agent, "header nav")
		if strings.Contains(nav, "Declare") {
			t.Error("the agent's menu offers Declare")
		}
		list, _, _ := e.n.Incidents.Incidents(context.Background(), incident.IncidentFilter{PageID: e.page.ID})
		if len(list) != 1 {
			t.Errorf("%d incidents, want the one the manager declared", len(list))
		}
		calls, _, _ := e.n.Complaints.List(context.Background(), complaint.Filter{PageID: e.page.ID, Channel: complaint.Phone})
		if len(calls) != 1 {
			t.Errorf("%d phone complaints, want 1: the forged one got in", len(calls))
		}
	})
}

// bigCustomers is customersCSV plus n more customers of Payments, so a
// broadcast takes a few seconds at the test's rates.
func bigCustomers(n int) string {
	var b strings.Builder
	b.WriteString(customersCSV)
	for i := range n {
		num := strconv.Itoa(1000000 + i)
		b.WriteString("x" + num + ",Customer " + num + ",+3630" + num + ",c" + num + "@example.com,,en,,silver,eu,Payments\n")
	}
	return b.String()
}
