package console_test

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
)

// TestAgentPagesOnAPhone: the agent's pages at 390 px wide (a phone, or
// a narrow window beside the call software) and at 1280 px.
func TestAgentPagesOnAPhone(t *testing.T) {
	e := startEnv(t, customersCSV)
	ctx := context.Background()
	inc := e.declare(t, "Card payments fail for some customers at checkout", false)
	eur := func(a int64) *compensation.Money { return &compensation.Money{Amount: a, Currency: "EUR"} }
	if _, _, err := e.n.Compensation.Decide(e.as(incident.RoleManager), e.page.ID, inc.ID, compensation.Proposal{State: compensation.Decided, Version: 0,
		Policy: &compensation.Policy{Currency: "EUR", Offers: []compensation.Offer{{ID: "credit", Kind: compensation.Credit, Amount: eur(500)}},
			Rules: []compensation.Rule{{ID: "all", Give: []string{"credit"}}}}}); err != nil {
		t.Fatal(err)
	}
	// Anna has an open complaint: the call page offers to add the call to
	// it, quoting her words.
	if _, _, err := e.n.Complaints.Receive(ctx, complaint.Intake{PageID: e.page.ID, Channel: complaint.SMS, IncidentID: inc.ID,
		Contact: complaint.Contact{Phone: "+36201111111"}, Text: "My card was declined twice at the shop, what is going on?"}); err != nil {
		t.Fatal(err)
	}
	untagged, _, err := e.n.Complaints.Receive(ctx, complaint.Intake{PageID: e.page.ID, Channel: complaint.SMS,
		Contact: complaint.Contact{Phone: "+36209999999"}, Text: "Where is my parcel?"})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, e.base, 390, 900)
	agent := b.user(e, incident.RoleAgent, "Ana")
	sub := func(name string, fn func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			parent := b.t
			b.t = t
			defer func() { b.t = parent }()
			fn(t)
		})
	}
	// formTop and panelTop are where the call form and the customer's
	// compensation start on the page; panelLeft and formRight place them
	// side by side.
	const where = `(function () {
		var f = document.querySelector('form[action="/console/calls"]').getBoundingClientRect();
		var p = document.querySelector('aside .guidance').getBoundingClientRect();
		return [f.top, p.top, f.right, p.left];
	})()`

	sub("the call page: the form before the compensation panels at 390 px", func(t *testing.T) {
		b.run(agent, "open the call page", chromedp.EmulateViewport(390, 900), chromedp.Navigate(e.base+"/console/calls/new?customer=c1"),
			chromedp.WaitVisible(chromedp.CSS(`#eligibility-`+inc.ID)))
		at := get(b, agent, "place the form", chromedp.Evaluate[[]float64](where))
		if at[0] >= at[1] {
			t.Errorf("at 390 px the call form starts at %.0f px, below the compensation panels at %.0f px: an agent on the phone scrolls past them to log the call", at[0], at[1])
		}
	})

	sub("the call page: form and panels side by side at 1280 px", func(t *testing.T) {
		b.run(agent, "open the call page", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(e.base+"/console/calls/new?customer=c1"),
			chromedp.WaitVisible(chromedp.CSS(`#eligibility-`+inc.ID)))
		at := get(b, agent, "place the form", chromedp.Evaluate[[]float64](where))
		if at[3] < at[2] {
			t.Errorf("at 1280 px the compensation panel (left %.0f px) is not beside the form (right %.0f px)", at[3], at[2])
		}
	})

	sub("the call page: the open complaint to add the call to reads as one text at 390 px", func(t *testing.T) {
		b.run(agent, "open the call page", chromedp.EmulateViewport(390, 900), chromedp.Navigate(e.base+"/console/calls/new?customer=c1"),
			chromedp.WaitVisible(chromedp.CSS(`.warnbox`)))
		// Her words wrap back under "Add to", as a sentence does, not in
		// a narrow column of their own right of the reference.
		flows := get(b, agent, "read the choice", chromedp.Evaluate[bool](`(function () {
			var a = document.querySelector('.warnbox label.check a');
			var words = a.nextSibling, r = document.createRange();
			r.selectNodeContents(words);
			var lines = r.getClientRects();
			return lines.length > 1 && lines[lines.length - 1].left < a.getBoundingClientRect().left;
		})()`))
		if !flows {
			t.Error(`at 390 px "Add to", the reference and the customer's words stand in three columns`)
		}
	})

	// "Bez incydentu (usunięcie powiązania)" was cut off even across the
	// whole width; "odłączenie" is the timeline's "odłączono od incydentu".
	sub("a complaint: the retag list shows its whole Polish option at 390 px", func(t *testing.T) {
		b.run(agent, "open the complaint", chromedp.EmulateViewport(390, 900), chromedp.Navigate(e.base+"/console/queue"))
		if st := get(b, agent, "pick pl", chromedp.Evaluate[int](`fetch('/console/lang', {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'},
			body: 'lang=pl&back=%2Fconsole%2Fqueue&_csrf=' + encodeURIComponent(document.body.dataset.csrf)}).then(function (r) { return r.status })`, chromedp.EvalAwaitPromise)); st != 200 {
			t.Fatalf("pick pl: %d", st)
		}
		b.run(agent, "open the complaint", chromedp.Navigate(e.base+"/console/complaints/"+untagged.ID), chromedp.WaitVisible(chromedp.CSS(`#retag`)))
		// The selected option's text, measured in the list's font, within
		// the list's box less its padding and the arrow (20 px).
		fit := get(b, agent, "measure the list", chromedp.Evaluate[[]any](`(function () {
			var s = document.querySelector('#retag'), cs = getComputedStyle(s);
			var c = document.createElement('canvas').getContext('2d');
			c.font = cs.font;
			var text = s.options[s.selectedIndex].text;
			var need = c.measureText(text).width + parseFloat(cs.paddingLeft) + parseFloat(cs.paddingRight) + 20;
			return [text, need, s.clientWidth];
		})()`))
		if text, need, have := fit[0].(string), fit[1].(float64), fit[2].(float64); text != "Bez incydentu (odłączenie)" || need > have {
			t.Errorf("the retag list shows %q in %.0f px; it needs %.0f px: cut off", text, have, need)
		}
	})
}
