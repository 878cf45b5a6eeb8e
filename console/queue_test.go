package console_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
)

var (
	regexpRow   = regexp.MustCompile(`data-complaint="([^"]+)"`)
	regexpOlder = regexp.MustCompile(`<a href="([^"]+)" rel="next">`)
	regexpNewer = regexp.MustCompile(`<a href="([^"]+)" rel="prev">`)
)

// tabCount reads a queue tab's count from the page.
func tabCount(t *testing.T, body, view string) string {
	t.Helper()
	m := regexp.MustCompile(`view=` + view + `[^"]*"[^>]*>[^<]*<span class="count">(\d+)</span>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s tab in the queue", view)
	}
	return m[1]
}

// TestQueuePagesAndCounts: the queue's tabs count from the tallies what
// their lists hold, a list shows one page at a time with older and newer
// links that need no script, and the at-risk rule is the complaint
// package's, on the queue, the complaint and the incident's view.
func TestQueuePagesAndCounts(t *testing.T) {
	e := startEnv(t, customersCSV)
	inc := e.declare(t, "Payments down", false)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	// 120 open complaints tagged to the incident, newest last: every
	// other one Ana's; the first 7 due within 20 minutes (at risk), one
	// due in 40 (not yet), the rest in 5 hours; every tenth a repeat. And
	// one resolved (in no open count) and 3 untagged.
	save := func(i int, tagged bool, state complaint.State, owner string, due time.Duration, repeat bool) *complaint.Complaint {
		created := now.Add(time.Duration(i-200) * time.Second)
		id := fmt.Sprintf("q%04d", i)
		c := &complaint.Complaint{ID: id, PageID: e.page.ID, Ref: complaint.NewRef(id), Channel: complaint.SMS,
			Contact: complaint.Contact{Phone: fmt.Sprintf("+3620555%04d", i)}, Category: complaint.CategoryOutage, Text: "no payments " + id,
			State: state, Owner: owner, Repeat: repeat, AckedAt: &created, FirstAnswerAt: &created, ResolveDue: now.Add(due),
			Messages: 1, LastMessageAt: created, CreatedAt: created, UpdatedAt: created, Version: 1}
		if tagged {
			c.Tag = &complaint.Tag{IncidentID: inc.ID, Confidence: 1, Reason: "agent", By: "agent:x", At: created}
		}
		if state == complaint.StateResolved {
			c.ResolvedAt = &created
		}
		if err := e.n.Engine.Complaints.SaveComplaint(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
		return c
	}
	var risky *complaint.Complaint
	for i := range 120 {
		owner := ""
		if i%2 == 1 {
			owner = "Ana"
		}
		due := 5 * time.Hour
		switch {
		case i < 7:
			due = time.Duration(i+10) * time.Minute
		case i == 7:
			due = 40 * time.Minute
		}
		c := save(i, true, complaint.StateInProgress, owner, due, i%10 == 0)
		if i == 0 {
			risky = c
		}
	}
	save(120, true, complaint.StateResolved, "", 10*time.Minute, true)
	for i := 121; i < 124; i++ {
		save(i, false, complaint.StateInProgress, "", time.Hour, false)
	}

	a := e.client(t)
	a.signIn(incident.RoleAgent, "Ana")
	res, body := a.do("GET", "/console/queue?incident="+inc.ID, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("queue: %d", res.StatusCode)
	}
	for view, want := range map[string]string{"all": "120", "mine": "60", "unassigned": "60", "risk": "7", "repeat": "12"} {
		if got := tabCount(t, body, view); got != want {
			t.Errorf("the %s tab counts %s, want %s", view, got, want)
		}
	}
	if _, all := a.do("GET", "/console/queue", nil); tabCount(t, all, "all") != "123" || tabCount(t, all, "risk") != "7" {
		t.Errorf("without a filter: all %s, risk %s; want 123 and 7", tabCount(t, all, "all"), tabCount(t, all, "risk"))
	}

	// Every view, page by page through the older links: each row once,
	// as many as the tab counts, the newer links leading back.
	for view, want := range map[string]int{"all": 120, "mine": 60, "unassigned": 60, "risk": 7, "repeat": 12} {
		seen := map[string]bool{}
		path, pages := "/console/queue?view="+view+"&incident="+inc.ID, 0
		var last string
		for path != "" {
			res, body := a.do("GET", strings.ReplaceAll(path, "&amp;", "&"), nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d", path, res.StatusCode)
			}
			pages++
			rows := regexpRow.FindAllStringSubmatch(body, -1)
			if len(rows) > 50 {
				t.Errorf("%s shows %d rows, want at most 50", path, len(rows))
			}
			for _, r := range rows {
				if seen[r[1]] {
					t.Errorf("%s: %s shown twice", view, r[1])
				}
				seen[r[1]] = true
			}
			if pages > 1 && regexpNewer.FindStringSubmatch(body) == nil {
				t.Errorf("%s page %d has no newer link", view, pages)
			}
			last, path = body, ""
			if m := regexpOlder.FindStringSubmatch(body); m != nil {
				path = m[1]
			}
		}
		if len(seen) != want {
			t.Errorf("the %s view lists %d complaints over %d pages, want %d", view, len(seen), pages, want)
		}
		if view == "risk" {
			// Soonest due first; every row marked at risk.
			if ids := regexpRow.FindAllStringSubmatch(last, -1); len(ids) != 7 || ids[0][1] != "q0000" || ids[6][1] != "q0006" {
				t.Errorf("the risk view's order: %v", ids)
			}
			if n := strings.Count(last, `class="qrow risk"`); n != 7 {
				t.Errorf("%d rows marked at risk, want 7", n)
			}
		}
	}
	if _, body := a.do("GET", "/console/queue?offset=-5&view=nope", nil); len(regexpRow.FindAllString(body, -1)) != 50 {
		t.Error("a bad offset or view is not the first page of all")
	}

	_, body = a.do("GET", "/console/incidents/"+inc.ID, nil)
	for _, want := range []string{`<dd class="n-tagged">121</dd>`, "<dd>120</dd>", "<dd>7</dd>", "<dd>3</dd>"} {
		if !strings.Contains(body, want) {
			t.Errorf("the incident's view lacks %s (tagged 121, open 120, at risk 7, untagged 3)", want)
		}
	}
	if _, body := a.do("GET", "/console/complaints/"+risky.ID, nil); !strings.Contains(body, `tag bad`) {
		t.Error("the complaint due in 10 minutes is not shown at risk")
	}
}

// TestListsPaged: a customer's complaints on a complaint's page and the
// tokens page show a page at a time, with older links.
func TestListsPaged(t *testing.T) {
	e := startEnv(t, customersCSV)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	for i := range 55 {
		created := now.Add(time.Duration(i-100) * time.Second)
		id := fmt.Sprintf("k%04d", i)
		c := &complaint.Complaint{ID: id, PageID: e.page.ID, Ref: complaint.NewRef(id), Channel: complaint.Phone,
			Contact: complaint.Contact{CustomerID: "c1"}, Category: complaint.CategoryOutage, Text: "again " + id,
			State: complaint.StateResolved, ResolvedAt: &created, Messages: 1, LastMessageAt: created, CreatedAt: created, UpdatedAt: created, Version: 1}
		if err := e.n.Engine.Complaints.SaveComplaint(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
	}
	m := e.client(t)
	m.signIn(incident.RoleAdmin, "Mia")
	_, body := m.do("GET", "/console/complaints/k0000", nil)
	if n := strings.Count(body, `<li><a href="/console/complaints/k`); n != 50 { // k0000, the oldest, is on the next page
		t.Errorf("the complaint's page links %d of the customer's other complaints, want 50", n)
	}
	older := regexpOlder.FindStringSubmatch(body)
	if older == nil || older[1] != "/console/complaints/k0000?offset=50" {
		t.Fatalf("older link %v", older)
	}
	if _, body := m.do("GET", older[1], nil); strings.Count(body, `<li><a href="/console/complaints/k`) != 4 || !strings.Contains(body, "<strong>"+complaint.NewRef("k0000")+"</strong>") {
		t.Error("the older page does not hold the 5 oldest complaints, k0000 among them")
	}

	for i := range 55 {
		e.link(t, incident.RoleAgent, fmt.Sprintf("agent %02d", i))
	}
	_, body = m.do("GET", "/console/tokens", nil)
	if n := strings.Count(body, "/revoke\""); n != 50 {
		t.Errorf("the tokens page lists %d, want 50", n)
	}
	if !strings.Contains(body, "agent 54") || strings.Contains(body, "agent 00<") {
		t.Error("the tokens page does not start with the newest")
	}
	older = regexpOlder.FindStringSubmatch(body)
	if older == nil {
		t.Fatal("no older link on the tokens page")
	}
	if _, body := m.do("GET", older[1], nil); !strings.Contains(body, "agent 00<") || strings.Count(body, "/revoke\"") != 6 {
		t.Errorf("the older tokens page: %d rows", strings.Count(body, "/revoke\""))
	}
}

// TestQueueKeepsResolvedIncidentsWithOpenComplaints: an incident
// resolved while complaints about it are open is still named in the
// queue (not "resolved incident") and can still be filtered by.
func TestQueueKeepsResolvedIncidentsWithOpenComplaints(t *testing.T) {
	e := startEnv(t, customersCSV)
	inc := e.declare(t, "Payments down", false)
	ctx := context.Background()
	st, body := incident.Resolved, "Fixed."
	if _, err := e.n.Incidents.UpdateIncident(e.as(incident.RoleManager), e.page.ID, inc.ID, incident.IncidentInput{Status: &st, Body: &body}); err != nil {
		t.Fatal(err)
	}
	// A customer writes after the fix: the resolution does not answer it.
	now := time.Now().UTC().Truncate(time.Millisecond).Add(time.Second)
	c := &complaint.Complaint{ID: "late1", PageID: e.page.ID, Ref: complaint.NewRef("late1"), Channel: complaint.SMS,
		Contact: complaint.Contact{Phone: "+36205550001"}, Category: complaint.CategoryOutage, Text: "I want the refund",
		State: complaint.StateInProgress, AckedAt: &now, ResolveDue: now.Add(time.Hour), Messages: 1, LastMessageAt: now,
		CreatedAt: now, UpdatedAt: now, Version: 1, Tag: &complaint.Tag{IncidentID: inc.ID, Confidence: 1, By: "auto", At: now, Ended: true}}
	if err := e.n.Engine.Complaints.SaveComplaint(ctx, c, nil); err != nil {
		t.Fatal(err)
	}
	a := e.client(t)
	a.signIn(incident.RoleAgent, "Ana")
	_, page := a.do("GET", "/console/queue", nil)
	if !strings.Contains(page, ": Payments down</span>") {
		t.Errorf("the complaint's incident is not named in the queue")
	}
	if !regexp.MustCompile(`<option value="` + inc.ID + `"[^>]*>Payments down · [^(]+\(1\)</option>`).MatchString(page) {
		t.Errorf("the resolved incident with an open complaint is not in the filter")
	}
}

// TestQueueCardSaysWhatIsUrgent: a card in the queue tells an agent at a
// glance what the complaint is waiting for (its state), what is pressing
// (a high severity, a customer asking for compensation, what someone
// promised) and by when it is due, not only who wrote and when.
func TestQueueCardSaysWhatIsUrgent(t *testing.T) {
	e := startEnv(t, customersCSV)
	inc := e.declare(t, "Payments down", false)
	a := e.client(t)
	a.signIn(incident.RoleAgent, "Ana")
	cp, _, err := e.n.Complaints.Receive(e.as(incident.RoleAgent), complaint.Intake{PageID: e.page.ID, Channel: complaint.Phone,
		Contact: complaint.Contact{Name: "Angry caller", Phone: "+36201111111"}, Text: "Charged three times, will cancel the gold plan",
		IncidentID: inc.ID, Ask: complaint.AskCompensation, Severity: complaint.SeverityHigh, Promise: "call back Friday"})
	if err != nil {
		t.Fatal(err)
	}
	plain, _, err := e.n.Complaints.Receive(context.Background(), complaint.Intake{PageID: e.page.ID, Channel: complaint.SMS,
		Contact: complaint.Contact{Phone: "+36202222222"}, Text: "is it down?"})
	if err != nil {
		t.Fatal(err)
	}
	_, body := a.do("GET", "/console/queue?view=all", nil)
	card := func(id string) string {
		i := strings.Index(body, `data-complaint="`+id+`"`)
		if i < 0 {
			t.Fatalf("no card for %s in the queue", id)
		}
		c := body[i:]
		return c[:strings.Index(c, "</article>")]
	}
	urgent := card(cp.ID)
	for _, want := range []string{">In progress<", `class="tag bad">High<`, "Asks for: Compensation", "Promised:</strong> call back Friday", "Resolve by <time>"} {
		if !strings.Contains(urgent, want) {
			t.Errorf("the urgent card lacks %q:\n%s", want, urgent)
		}
	}
	other := card(plain.ID)
	if strings.Contains(other, "Promised") || strings.Contains(other, `class="tag bad">`) || !strings.Contains(other, "First answer by <time>") ||
		strings.Contains(other, "Kept open") {
		t.Errorf("the plain card:\n%s", other)
	}
	// Held open with nothing promised: the card says so.
	if _, err := e.n.Complaints.Hold(e.as(incident.RoleAgent), e.page.ID, plain.ID, true); err != nil {
		t.Fatal(err)
	}
	_, body = a.do("GET", "/console/queue?view=all", nil)
	if held := card(plain.ID); !strings.Contains(held, `<span class="tag">Kept open</span>`) {
		t.Errorf("the held card:\n%s", held)
	}
}
