package console_test

import (
	"context"
	"html"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// TestSlackComplainantIsShown: a complaint filed from Slack (the "File as
// complaint" shortcut: the author's Slack ID alone) names its Slack user
// on its page and in the queue, and lists the direct messages herald sent
// them; a linked customer's complaint is headed with the customer's name,
// not the Slack handle they wrote from, and shows their Slack ID too.
func TestSlackComplainantIsShown(t *testing.T) {
	e := startEnv(t, customersCSV+"c9,John Smith,,john@example.com,U0JOHN001,en,,gold,eu,Payments\n")
	ctx := context.Background()
	stranger, _, err := e.n.Complaints.Receive(ctx, complaint.Intake{PageID: e.page.ID, Channel: complaint.Slack,
		Contact: complaint.Contact{Slack: "U0CUST005"}, Text: "Charged twice for order 42."})
	if err != nil {
		t.Fatal(err)
	}
	john, _, err := e.n.Complaints.Receive(ctx, complaint.Intake{PageID: e.page.ID, Channel: complaint.Slack,
		Contact: complaint.Contact{Slack: "U0JOHN001", Name: "john"}, Text: "My card payment failed."})
	if err != nil {
		t.Fatal(err)
	}
	if john.Contact.CustomerID != "c9" {
		t.Fatalf("John's complaint is not linked to his customer record: %+v", john.Contact)
	}
	// The acknowledgement goes out as a direct message.
	waitFor(t, "the acknowledgement DM", 10*time.Second, func() bool {
		ds, err := e.n.Notify.Deliveries(ctx, queue.DeliveryFilter{PageID: e.page.ID, Address: "U0CUST005"})
		return err == nil && len(ds) > 0
	})
	a := e.client(t)
	a.signIn(incident.RoleAgent, "Ada")
	_, page := a.do("GET", "/console/complaints/"+stranger.ID, nil)
	page = html.UnescapeString(page)
	if !strings.Contains(page, `<h2 id="who-h">Slack user U0CUST005</h2>`) {
		t.Errorf("the Slack complainant's page is not headed with their Slack user")
	}
	if strings.Contains(page, "No messages sent to them") || !strings.Contains(page, "<th scope=\"col\">What</th>") {
		t.Errorf("the page does not list the DMs herald sent the Slack complainant")
	}
	_, queue := a.do("GET", "/console/queue?view=all", nil)
	if !strings.Contains(html.UnescapeString(queue), stranger.Ref+" · Slack user U0CUST005</a>") {
		t.Errorf("the queue row names nobody after %s", stranger.Ref)
	}
	_, page = a.do("GET", "/console/complaints/"+john.ID, nil)
	page = html.UnescapeString(page)
	if !strings.Contains(page, `<h2 id="who-h">John Smith</h2>`) || !strings.Contains(page, "Slack user U0JOHN001") {
		i := strings.Index(page, `id="who-h"`)
		t.Errorf("a linked customer's page: %s", page[i:min(len(page), i+300)])
	}
}
