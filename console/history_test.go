package console_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/sandbox"
)

// historyEnv declares an incident on Payments with messages to its
// customers, Anna's (c1) email refused by her mail server (550 5.1.1) and
// Bob's (c2) accepted, waits until both emails are settled, and returns a
// phone complaint from each.
func historyEnv(t *testing.T) (e *env, anna, bob *complaint.Complaint) {
	t.Helper()
	e = startEnv(t, customersCSV)
	if err := e.n.Sandbox.SetFaults(sandbox.Faults{FailTo: map[string]string{"anna@example.com": "550 5.1.1"}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	inc := e.declare(t, "Card payments fail", true)
	email := func(customer string, want queue.DeliveryState) func() bool {
		return func() bool {
			ds, err := e.n.Notify.Deliveries(ctx, queue.DeliveryFilter{PageID: e.page.ID, RecipientID: customer})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				if d.Kind == channel.Email && d.State == want {
					return true
				}
			}
			return false
		}
	}
	waitFor(t, "Anna's email refused", 20*time.Second, email("c1", queue.StateFailed))
	waitFor(t, "Bob's email sent", 20*time.Second, email("c2", queue.StateSent))
	for i, c := range []string{"c1", "c2"} {
		cp, _, err := e.n.Complaints.Receive(ctx, complaint.Intake{PageID: e.page.ID, Channel: complaint.Phone, IncidentID: inc.ID,
			Contact: complaint.Contact{CustomerID: c}, Text: "Did you write to me?"})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			anna = cp
		} else {
			bob = cp
		}
	}
	return e, anna, bob
}

// TestCustomerHistoryOnAPhone, in the browser: the messages herald sent
// the customer, on the complaint page, say when each went at 390 px
// without scrolling sideways (an agent on the phone reads when the
// customer was told what), and stay a table of one line per message at
// 1280 px. With -screenshots DIR, the page is saved at 1280 and 390 px
// (complaint-history-*.png).
func TestCustomerHistoryOnAPhone(t *testing.T) {
	e, anna, _ := historyEnv(t)
	b := newBrowser(t, e.base, 390, 900)
	agent := b.user(e, incident.RoleAgent, "Ana")
	// For each message: its time's left and right edges, the box's
	// visible left and right edges, its channel cell's top and its time's
	// cell's top; and whether the box scrolls sideways.
	const measure = `(function () {
		var box = document.querySelector('section[aria-labelledby="hist-h"] table').parentElement, r = box.getBoundingClientRect();
		var rows = [];
		box.querySelectorAll('tbody tr').forEach(function (tr) {
			var time = tr.querySelector('time'), tm = time.getBoundingClientRect();
			var ch = tr.querySelector('td').getBoundingClientRect(), cell = time.closest('td').getBoundingClientRect();
			rows.push([tm.left, tm.right, r.left, r.right, ch.top, cell.top, tm.width]);
		});
		return {rows: rows, scrolls: box.scrollWidth > box.clientWidth + 1};
	})()`
	type layout struct {
		Rows    [][]float64 `json:"rows"`
		Scrolls bool        `json:"scrolls"`
	}
	for _, w := range []int64{390, 1280} {
		b.run(agent, "open the complaint", chromedp.EmulateViewport(w, 900), chromedp.Navigate(e.base+"/console/complaints/"+anna.ID),
			chromedp.WaitVisible(chromedp.CSS(`section[aria-labelledby="hist-h"] time`)))
		at := get(b, agent, "measure the history", chromedp.Evaluate[layout](measure))
		if len(at.Rows) < 2 {
			t.Fatalf("at %d px the history lists %d messages, want Anna's SMS and email", w, len(at.Rows))
		}
		if at.Scrolls {
			t.Errorf("at %d px the messages herald sent scroll sideways", w)
		}
		for i, r := range at.Rows {
			if r[6] == 0 || r[0] < r[2]-0.5 || r[1] > r[3]+0.5 {
				t.Errorf("at %d px message %d's time spans %.0f–%.0f px, outside what its box shows (%.0f–%.0f px): hidden behind the scroll", w, i+1, r[0], r[1], r[2], r[3])
			}
			if w == 1280 && r[4] != r[5] {
				t.Errorf("at 1280 px message %d's time (cell top %.0f px) is not on its channel's line (top %.0f px): the table no longer reads across", i+1, r[5], r[4])
			}
		}
		if w == 390 {
			shoot(t, b, agent, "complaint-history")
		}
		if w == 1280 {
			if hw := get(b, agent, "the When heading", chromedp.Evaluate[float64](`document.querySelector('section[aria-labelledby="hist-h"] thead th:last-child').getBoundingClientRect().width`)); hw == 0 {
				t.Error("at 1280 px the history table has no visible headings")
			}
		}
	}
}

// TestMailServerAnswerInWords: on the complaint page, what became of an
// email herald sent the customer is said in the agent's language (the
// mail server accepted it; the mail server refused it, and why), in each
// of the console's languages; the mail server's own reply ("250 2.0.0
// OK: queued", "550 5.1.1 …") is there only inside a closed details, for
// whoever needs it.
func TestMailServerAnswerInWords(t *testing.T) {
	e, anna, bob := historyEnv(t)
	for _, tc := range []struct {
		lang, accepted, refused string
	}{
		{"en", "accepted by the mail server for delivery", "refused by the mail server: the address does not exist"},
		{"hu", "a levelezőszerver kézbesítésre átvette", "a levelezőszerver visszautasította: nincs ilyen e-mail-cím"},
		{"pl", "serwer pocztowy przyjął wiadomość do doręczenia", "serwer pocztowy odrzucił wiadomość: taki adres nie istnieje"},
		{"hr", "poslužitelj e-pošte preuzeo ju je za isporuku", "poslužitelj e-pošte odbio ju je: ta adresa ne postoji"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			c := e.client(t)
			c.signIn(incident.RoleAgent, "Ana")
			c.do("POST", "/console/lang", url.Values{"_csrf": {c.csrf("/console/")}, "lang": {tc.lang}, "back": {"/console/"}})
			for _, x := range []struct {
				cp        *complaint.Complaint
				said, raw string
			}{{bob, tc.accepted, "250 2.0.0"}, {anna, tc.refused, "550"}} {
				_, body := c.do("GET", "/console/complaints/"+x.cp.ID, nil)
				i := strings.Index(body, `<table class="history">`)
				if i < 0 {
					i = strings.Index(body, `aria-labelledby="hist-h"`)
				}
				if i < 0 {
					t.Fatalf("no history on the complaint page:\n%s", body)
				}
				table := body[i:]
				table = table[:strings.Index(table, "</table>")]
				if !strings.Contains(table, x.raw) {
					t.Errorf("%s's history does not keep the mail server's reply %q at all:\n%s", x.cp.Contact.CustomerID, x.raw, table)
				}
				seen := regexp.MustCompile(`(?s)<details[^>]*>.*?</details>`).ReplaceAllString(table, "")
				if strings.Contains(seen, x.raw) || !strings.Contains(seen, x.said) {
					t.Errorf("%s's email, as an agent reads it without opening anything, want %q and not %q:\n%s", x.cp.Contact.CustomerID, x.said, x.raw, seen)
				}
			}
		})
	}
}
