package notify_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/sandbox"
	"github.com/heraldhq/herald/surveys"
)

// TestAutoAnswerLimit: at most AutoReplyLimit automatic answers go to one
// address within AutoReplyWindow, whichever node files the complaint
// (two nodes here, each its own notify and complaint services on the one
// store), by email and per phone number by SMS, whatever door the
// address came by (the status page's form, where anyone can type it, on
// the same count). The complaint past the limit is filed and owned; its
// timeline says the answer was held back, and the metric counts it. The
// receipt of a complaint the customer reopens is an automatic answer too;
// an agent's own answer is never held back.
func TestAutoAnswerLimit(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		cfg := baseConfig()
		cfg.AutoReplyLimit, cfg.AutoReplyWindow = 2, time.Hour
		regs := []*prometheus.Registry{prometheus.NewRegistry(), prometheus.NewRegistry()}
		cfg.Registerer = regs[0]
		a, cst := h.withComplaints(cfg)
		h.stop = h.run(a)
		cfgB := cfg
		cfgB.Registerer = regs[1]
		b := h.service(cfgB, nil, nil) // files on another node; a sends
		nodes := make([]*complaint.Service, 2)
		for i, ack := range []complaint.Acknowledger{a, b} {
			nodes[i] = complaint.NewService(cst, h.st, h.st, ack, h.events, quietLog())
			nodes[i].Policy.AttachWindow = 0 // every message a second apart is its own complaint
			nodes[i].Now = h.clock.Now
		}
		n := 0
		receive := func(t *testing.T, in complaint.Intake) *complaint.Complaint {
			t.Helper()
			n++
			h.clock.Advance(time.Second)
			in.PageID, in.Text, in.ExternalID = h.page.ID, fmt.Sprintf("Payments fail (%d).", n), fmt.Sprintf("m%d@example.org", n)
			c, created, err := nodes[n%2].Receive(h.ctx, in)
			if err != nil || !created {
				t.Fatalf("Receive %d: %v, new %v", n, err, created)
			}
			return c
		}
		events := func(t *testing.T, c *complaint.Complaint) map[string]*complaint.Entry {
			t.Helper()
			es, err := cst.FindEntries(h.ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]*complaint.Entry{}
			for _, e := range es {
				if e.Event != "" {
					out[e.Event] = e
				}
			}
			return out
		}
		answers := func(kind channel.Kind, addr string) int {
			ds, err := h.st.FindDeliveries(h.ctx, queue.DeliveryFilter{Kind: kind, Address: addr})
			if err != nil {
				t.Fatal(err)
			}
			return len(ds)
		}
		limited := func(t *testing.T, c *complaint.Complaint) {
			t.Helper()
			ev := events(t, c)
			e := ev[complaint.EventAckLimited]
			if e == nil || e.Kind != complaint.EntryNote || e.Args["max"] != "2" || e.Args["window"] != "1h" || ev[complaint.EventAckQueued] != nil {
				t.Errorf("the timeline of the complaint past the limit: %+v; want the note that the limit held its answer back", ev)
			}
		}

		var first *complaint.Complaint
		for i := range 3 {
			c := receive(t, complaint.Intake{Channel: complaint.Email, Contact: complaint.Contact{Email: "anna@example.org"}})
			if i == 0 {
				first = c
			}
			if i < 2 {
				if ev := events(t, c); ev[complaint.EventAckQueued] == nil {
					t.Errorf("complaint %d: no acknowledgement queued: %+v", i+1, ev)
				}
				continue
			}
			limited(t, c)
		}
		// The form: anyone may type Anna's address there.
		limited(t, receive(t, complaint.Intake{Channel: complaint.Web, Unverified: true, Contact: complaint.Contact{Email: "Anna@Example.org", Name: "Anna"}}))
		for i := range 3 {
			c := receive(t, complaint.Intake{Channel: complaint.SMS, Contact: complaint.Contact{Phone: "+36201234567"}})
			if i == 2 {
				limited(t, c)
			}
		}
		if got := answers(channel.Email, "anna@example.org"); got != 2 {
			t.Errorf("%d acknowledgements queued to anna@example.org, want 2", got)
		}
		if got := answers(channel.SMS, "+36201234567"); got != 2 {
			t.Errorf("%d acknowledgements queued to +36201234567, want 2", got)
		}
		waitFor(t, "two emails and two texts", func() bool {
			return h.inbox(sandbox.KindEmail)["anna@example.org"] == 2 && h.inbox(sandbox.KindSMS)["+36201234567"] == 2
		})

		// An agent's answer goes; the receipt of the reopened complaint
		// (an automatic answer) does not.
		if _, err := nodes[0].Resolve(h.ctx, h.page.ID, first.ID, complaint.RemedyFix, "We fixed the card terminal."); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the agent's answer", func() bool { return h.inbox(sandbox.KindEmail)["anna@example.org"] == 3 })
		c, created, err := nodes[1].Receive(h.ctx, complaint.Intake{PageID: h.page.ID, Channel: complaint.Email, Contact: complaint.Contact{Email: "anna@example.org"},
			Text: "It fails again.", ExternalID: "again@example.org", ComplaintID: first.ID})
		if err != nil || created || c.ID != first.ID || !c.Open() {
			t.Fatalf("the reopening message: %+v, new %v, %v", c, created, err)
		}
		if e := events(t, c)[complaint.EventAckLimited]; e == nil || e.Kind != complaint.EntryNote {
			t.Errorf("the reopened complaint's receipt: %+v; want held back by the limit", events(t, c))
		}

		total := 0.0
		for _, reg := range regs {
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			for _, mf := range mfs {
				if mf.GetName() == "herald_notify_auto_replies_limited_total" {
					for _, m := range mf.GetMetric() {
						total += m.GetCounter().GetValue()
					}
				}
			}
		}
		if total != 4 { // Anna's third email, the form, the third text, the reopened receipt
			t.Errorf("herald_notify_auto_replies_limited_total = %v across the nodes, want 4", total)
		}
	})
}

// TestSurveyReplyThreadAndLimit: herald's reply to an email reply to a
// survey threads under it (its References, then its Message-ID, as the
// intake passes them), and counts with the address's other automatic
// answers: past the limit it is not queued.
func TestSurveyReplyThreadAndLimit(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		cfg := baseConfig()
		cfg.AutoReplyLimit = 1
		h.start(cfg)
		inc := h.declare("Outage", nil, incident.MajorOutage)
		survey := func(id string) *surveys.Survey {
			return &surveys.Survey{ID: id, PageID: h.page.ID, IncidentID: inc.ID, Channel: channel.Email, Address: "eva@example.org",
				RecipientType: queue.FromContact, RecipientID: "email:eva@example.org", Language: "en"}
		}
		thread := strings.Join(notify.ReplyReferences([]string{"<sv1@herald.example>"}, "", "<r1@example.org>"), " ")
		id, err := h.svc.AskForScore(h.ctx, survey("sv1"), "https://status.acme.test/s/sv1", thread)
		if err != nil || id == "" {
			t.Fatalf("AskForScore = %q, %v", id, err)
		}
		var got []sandbox.Message
		waitFor(t, "the request for a score", func() bool {
			got = h.sb.Messages(sandbox.Filter{Kind: sandbox.KindEmail, To: "eva@example.org"})
			return len(got) == 1
		})
		if hd := got[0].Headers; hd["In-Reply-To"] != "<r1@example.org>" || hd["References"] != "<sv1@herald.example> <r1@example.org>" || hd["Auto-Submitted"] != "auto-replied" {
			t.Errorf("the request for a score: In-Reply-To %q, References %q, Auto-Submitted %q; want the reply's thread", hd["In-Reply-To"], hd["References"], hd["Auto-Submitted"])
		}
		// Another survey's reply, the same address: past the limit of one.
		id, err = h.svc.ThankForAnswer(h.ctx, survey("sv2"), "https://status.acme.test/s/sv2", "r2@example.org")
		if err != nil || id != "" {
			t.Errorf("ThankForAnswer past the limit = %q, %v; want nothing queued", id, err)
		}
		if ds, err := h.st.FindDeliveries(h.ctx, queue.DeliveryFilter{Kind: channel.Email, Address: "eva@example.org"}); err != nil || len(ds) != 1 {
			t.Errorf("%d deliveries to eva@example.org (%v), want the one request", len(ds), err)
		}
	})
}
