package notify_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/sandbox"
)

// TestComplaintAnswers queues each kind of complaint answer through the
// pipeline: the acknowledgement about a known incident by SMS in the
// customer's language, the triage receipt by email with the reference and
// the promised time, an agent's reply; asking twice sends once.
func TestComplaintAnswers(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		h.start(baseConfig())
		inc := h.declare("Kártyás fizetés hibás", []string{h.compA.ID}, incident.MajorOutage)
		c := &complaint.Complaint{ID: "cmp000000001", PageID: h.page.ID, Ref: "C-CMP00000", Channel: complaint.SMS,
			Contact:  complaint.Contact{Phone: "+36201234567", Email: "anna@example.hu", Name: "Anna", TimeZone: "Europe/Budapest"},
			Language: "hu", Tag: &complaint.Tag{IncidentID: inc.ID}, FirstAnswerDue: time.Date(2026, 3, 2, 13, 5, 0, 0, time.UTC)}
		for i := 0; i < 2; i++ {
			if err := h.svc.Answer(h.ctx, c, complaint.AnswerKnown, "ack", ""); err != nil {
				t.Fatal(err)
			}
		}
		var sms []sandbox.Message
		waitFor(t, "the acknowledgement by SMS", func() bool {
			sms = h.sb.Messages(sandbox.Filter{Kind: sandbox.KindSMS, To: "+36201234567"})
			return len(sms) > 0
		})
		// What we know: the incident and its latest update, with the
		// reference to quote.
		for _, want := range []string{"köszönjük", "Kártyás fizetés", "We are looking into it.", "C-CMP00000"} {
			if !strings.Contains(sms[0].Body, want) {
				t.Errorf("acknowledgement %q lacks %q (Hungarian, the incident, its latest update, the reference)", sms[0].Body, want)
			}
		}
		known := *c
		known.Channel, known.Contact.Phone = complaint.Email, ""
		if err := h.svc.Answer(h.ctx, &known, complaint.AnswerKnown, "ack-email", ""); err != nil {
			t.Fatal(err)
		}
		var ackMail []sandbox.Message
		waitFor(t, "the acknowledgement by email", func() bool {
			ackMail = h.sb.Messages(sandbox.Filter{Kind: sandbox.KindEmail, To: "anna@example.hu"})
			return len(ackMail) > 0
		})
		for _, want := range []string{"C-CMP00000", "Kártyás fizetés hibás", "Amit tudunk", "We are looking into it."} {
			if !strings.Contains(ackMail[0].Subject+ackMail[0].Body, want) {
				t.Errorf("acknowledgement by email lacks %q: %s\n%s", want, ackMail[0].Subject, ackMail[0].Body)
			}
		}

		email := *c
		email.Channel, email.Tag = complaint.Email, nil
		if err := h.svc.Answer(h.ctx, &email, complaint.AnswerReceived, "ack", ""); err != nil {
			t.Fatal(err)
		}
		if err := h.svc.Answer(h.ctx, &email, complaint.AnswerReply, "reply-1", "Visszatérítettük a díjat. <b>"); err != nil {
			t.Fatal(err)
		}
		var mails []sandbox.Message
		waitFor(t, "the receipt and the reply by email", func() bool {
			mails = h.sb.Messages(sandbox.Filter{Kind: sandbox.KindEmail, To: "anna@example.hu"})
			return len(mails) >= 3
		})
		var receipt, reply string
		for _, m := range mails {
			switch {
			case strings.Contains(m.Body, "Visszatérítettük"):
				reply = m.Body
			case strings.Contains(m.Body, "Amit tudunk"): // the acknowledgement above
			default:
				receipt = m.Body
			}
		}
		for _, m := range mails {
			auto, rp := m.Headers["Auto-Submitted"], m.Headers["Return-Path"]
			if person := strings.Contains(m.Body, "Visszatérítettük"); person != (auto == "") || person != (rp == "<status@example.com>") || !person && rp != "<>" {
				t.Errorf("Auto-Submitted %q, envelope sender %s on %q: the automatic acknowledgement and receipt say auto-replied and go from <> (RFC 3834), a person's reply neither",
					auto, rp, m.Subject)
			}
		}
		if !strings.Contains(receipt, "C-CMP00000") || !strings.Contains(receipt, "14:05") {
			t.Errorf("receipt lacks the reference or the promised time (14:05 in Budapest): %q", receipt)
		}
		if !strings.Contains(reply, "C-CMP00000") || !strings.Contains(reply, "Visszatérítettük a díjat. <b>") {
			t.Errorf("reply %q", reply)
		}
		if n := len(h.sb.Messages(sandbox.Filter{Kind: sandbox.KindSMS, To: "+36201234567"})); n != 1 {
			t.Errorf("%d acknowledgements by SMS, want 1 (asked twice)", n)
		}
	})
}

// TestComplaintIncidentResolved: the answer to a complaint whose incident
// is resolved says so in the customer's language: the reference, the
// incident, the resolution in their language (the operator's Hungarian
// text, not the default one), and the apology; by email the same, with
// the reference in the subject.
func TestComplaintIncidentResolved(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		h.start(baseConfig())
		inc := h.declare("Kártyás fizetés hibás", []string{h.compA.ID}, incident.MajorOutage)
		st, body, no := incident.Resolved, "Card payments work again.", false
		if _, err := h.inc.UpdateIncident(h.ctx, h.page.ID, inc.ID, incident.IncidentInput{Status: &st, Body: &body,
			Messages: map[string]string{"hu": "A kártyás fizetés ismét működik."}, DeliverNotifications: &no}); err != nil {
			t.Fatal(err)
		}
		c := &complaint.Complaint{ID: "cmp000000002", PageID: h.page.ID, Ref: "C-CMP00002", Channel: complaint.SMS,
			Contact:  complaint.Contact{Phone: "+36201234568", Email: "bela@example.hu", Name: "Béla", TimeZone: "Europe/Budapest"},
			Language: "hu", Tag: &complaint.Tag{IncidentID: inc.ID}}
		if err := h.svc.Answer(h.ctx, c, complaint.AnswerIncidentResolved, "incident-resolved-"+inc.ID, body); err != nil {
			t.Fatal(err)
		}
		mail := *c
		mail.Channel = complaint.Email
		if err := h.svc.Answer(h.ctx, &mail, complaint.AnswerIncidentResolved, "incident-resolved-"+inc.ID, body); err != nil {
			t.Fatal(err)
		}
		var sms, mails []sandbox.Message
		waitFor(t, "the resolution by SMS and email", func() bool {
			sms = h.sb.Messages(sandbox.Filter{Kind: sandbox.KindSMS, To: "+36201234568"})
			mails = h.sb.Messages(sandbox.Filter{Kind: sandbox.KindEmail, To: "bela@example.hu"})
			return len(sms) > 0 && len(mails) > 0
		})
		if !strings.Contains(sms[0].Body, "megoldva") || !strings.Contains(mails[0].Subject+"\n"+mails[0].Body, "elhárult") {
			t.Errorf("the SMS lacks \"megoldva\" or the email \"elhárult\": %q\n%s\n%s", sms[0].Body, mails[0].Subject, mails[0].Body)
		}
		for _, want := range []string{"C-CMP00002", "Kártyás fizetés hibás", "A kártyás fizetés ismét működik.", "Elnézést"} {
			if !strings.Contains(sms[0].Body, want) {
				t.Errorf("SMS %q lacks %q", sms[0].Body, want)
			}
			if !strings.Contains(mails[0].Subject+"\n"+mails[0].Body, want) {
				t.Errorf("email lacks %q: %s\n%s", want, mails[0].Subject, mails[0].Body)
			}
		}
		if strings.Contains(sms[0].Body, body) || !strings.Contains(mails[0].Subject, "C-CMP00002") {
			t.Errorf("SMS %q in the default language, or email subject %q without the reference", sms[0].Body, mails[0].Subject)
		}
	})
}

// TestResolutionOnceForComplainants: the resolution broadcast collapses
// its message to an address whose complaint about the incident the
// complaint service answers with its own resolution message (which tells
// the same, with the reference): an open complaint's SMS; not the same
// customer's email, nor a held-open complaint's SMS, nor a complaint an
// earlier resolution of the incident answered, nor anyone else's.
func TestResolutionOnceForComplainants(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		svc, cst := h.withComplaints(baseConfig())
		h.importCSV("id,name,phone,email,components\n" +
			"open,Ann,+36201000001,ann@example.com," + h.compA.ID + "\n" +
			"held,Bea,+36201000002,," + h.compA.ID + "\n" +
			"earlier,Cid,+36201000003,," + h.compA.ID + "\n" +
			"none,Dan,+36201000004,," + h.compA.ID + "\n")
		h.stop = h.run(svc)
		inc := h.declare("Kártyás fizetés hibás", []string{h.compA.ID}, incident.MajorOutage)
		before := h.clock.Now().Add(-time.Hour)
		for i, c := range []*complaint.Complaint{
			{Contact: complaint.Contact{CustomerID: "open", Phone: "+36201000001", Email: "ann@example.com"}, State: complaint.StateAcknowledged},
			{Contact: complaint.Contact{CustomerID: "held", Phone: "+36201000002"}, State: complaint.StateInProgress, HoldOpen: true},
			// Answered when the incident resolved before, then reopened.
			{Contact: complaint.Contact{CustomerID: "earlier", Phone: "+36201000003"}, State: complaint.StateInProgress, IncidentAnswered: inc.ID, ResolvedAt: &before},
		} {
			c.ID, c.PageID, c.Ref, c.Channel, c.Language = fmt.Sprintf("cmp00000000%d", i), h.page.ID, fmt.Sprintf("C-CMP0000%d", i), complaint.SMS, "hu"
			c.Tag, c.Version, c.CreatedAt, c.UpdatedAt = &complaint.Tag{IncidentID: inc.ID}, 1, before, before
			if err := cst.SaveComplaint(h.ctx, c, nil); err != nil {
				t.Fatal(err)
			}
		}
		h.update(inc, incident.Resolved, "Card payments work again.", true)
		bs := h.broadcasts(inc.ID)
		b := bs[len(bs)-1]
		h.waitDone(b.ID)
		ds, err := h.st.FindDeliveries(h.ctx, queue.DeliveryFilter{BroadcastID: b.ID})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]queue.DeliveryState{}
		for _, d := range ds {
			got[d.Address] = d.State
			if d.State == queue.StateCollapsed && !strings.Contains(d.Reason, "C-CMP00000") {
				t.Errorf("collapsed %s: reason %q does not name the complaint", d.Address, d.Reason)
			}
		}
		want := map[string]queue.DeliveryState{"+36201000001": queue.StateCollapsed, "ann@example.com": queue.StateSent,
			"+36201000002": queue.StateSent, "+36201000003": queue.StateSent, "+36201000004": queue.StateSent}
		for addr, st := range want {
			if got[addr] != st {
				t.Errorf("%s: %s, want %s (all: %v)", addr, got[addr], st, got)
			}
		}
	})
}

// TestComplaintAnswerReachesUnsubscribed: a customer who unsubscribed
// their email from the page's notices, and then complains by email, is
// still answered there (the answer is no notice); a STOP still stops an
// SMS answer.
func TestComplaintAnswerReachesUnsubscribed(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		h.start(baseConfig())
		now := time.Now()
		if err := h.st.Suppress(h.ctx, audience.Suppression{PageID: h.page.ID, Kind: channel.Email, Address: "gone@example.hu", Reason: "unsubscribe", At: now}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.svc.HandleInboundSMS(h.ctx, "+36207654321", "+15005550006", "STOP"); err != nil {
			t.Fatal(err)
		}
		email := &complaint.Complaint{ID: "cmpunsub0001", PageID: h.page.ID, Ref: "C-UNSUB001", Channel: complaint.Email,
			Contact: complaint.Contact{Email: "gone@example.hu"}, Language: "en", FirstAnswerDue: now.Add(24 * time.Hour)}
		sms := &complaint.Complaint{ID: "cmpstop00001", PageID: h.page.ID, Ref: "C-STOP0001", Channel: complaint.SMS,
			Contact: complaint.Contact{Phone: "+36207654321"}, Language: "en", FirstAnswerDue: now.Add(24 * time.Hour)}
		for _, c := range []*complaint.Complaint{email, sms} {
			if err := h.svc.Answer(h.ctx, c, complaint.AnswerReceived, "ack", ""); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "the receipt to the unsubscribed address", func() bool {
			return len(h.sb.Messages(sandbox.Filter{Kind: sandbox.KindEmail, To: "gone@example.hu"})) == 1
		})
		// After STOP the SMS receipt is not even queued (the contact has
		// no other address: TestComplaintAnswerAfterStopGoesByEmail).
		if d, err := h.st.FindDeliveryByID(h.ctx, queue.DeliveryID("complaint:"+sms.ID+":ack", channel.SMS, "+36207654321")); incident.ErrorCode(err) != incident.ENOTFOUND {
			t.Errorf("after STOP an SMS receipt was queued: %+v, %v", d, err)
		}
		if n := len(h.sb.Messages(sandbox.Filter{Kind: sandbox.KindSMS, To: "+36207654321"})); n != 0 {
			t.Errorf("after STOP %d SMS went out", n)
		}
	})
}

// TestComplaintAnswerAfterStopGoesByEmail: a customer who sent STOP and
// then texts a complaint is answered by email when herald has their
// address (the SMS would only be suppressed); with no other address,
// nothing is queued, so the complaint does not read as acknowledged.
func TestComplaintAnswerAfterStopGoesByEmail(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		h.start(baseConfig())
		now := time.Now()
		for _, phone := range []string{"+36207654321", "+36207654322"} {
			if _, err := h.svc.HandleInboundSMS(h.ctx, phone, "+15005550006", "STOP"); err != nil {
				t.Fatal(err)
			}
		}
		withEmail := &complaint.Complaint{ID: "cmpstopmail1", PageID: h.page.ID, Ref: "C-STOPMAIL", Channel: complaint.SMS,
			Contact: complaint.Contact{Phone: "+36207654321", Email: "eve@example.com"}, Language: "en", FirstAnswerDue: now.Add(24 * time.Hour)}
		phoneOnly := &complaint.Complaint{ID: "cmpstoponly1", PageID: h.page.ID, Ref: "C-STOPONLY", Channel: complaint.SMS,
			Contact: complaint.Contact{Phone: "+36207654322"}, Language: "en", FirstAnswerDue: now.Add(24 * time.Hour)}
		for _, c := range []*complaint.Complaint{withEmail, phoneOnly} {
			if err := h.svc.Answer(h.ctx, c, complaint.AnswerReceived, "ack", ""); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "the receipt by email", func() bool {
			return len(h.sb.Messages(sandbox.Filter{Kind: sandbox.KindEmail, To: "eve@example.com"})) == 1
		})
		for _, id := range []string{queue.DeliveryID("complaint:"+withEmail.ID+":ack", channel.SMS, "+36207654321"),
			queue.DeliveryID("complaint:"+phoneOnly.ID+":ack", channel.SMS, "+36207654322")} {
			if d, err := h.st.FindDeliveryByID(h.ctx, id); incident.ErrorCode(err) != incident.ENOTFOUND {
				t.Errorf("an SMS receipt to a number that sent STOP was queued: %+v, %v", d, err)
			}
		}
		if kind, err := h.svc.AnswerChannel(h.ctx, phoneOnly); err != nil || kind != "" {
			t.Errorf("AnswerChannel for a number that sent STOP and nothing else = %q, %v; want none", kind, err)
		}
	})
}

// TestHeldUpdateCollapsesIntoComplaintAnswer: an update the frequency cap
// holds for a customer who complained collapses when the resolution
// reaches them in the answer to their complaint (their resolution
// delivery collapsed into it), rather than arrive an hour after "fixed".
func TestHeldUpdateCollapsesIntoComplaintAnswer(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		cfg := baseConfig()
		cfg.FrequencyCap = 1
		svc, cst := h.withComplaints(cfg)
		h.importCSV("id,name,email,components\nann,Ann,ann@example.com," + h.compA.ID + "\n")
		h.stop = h.run(svc)
		inc := h.declare("Kártyás fizetés hibás", []string{h.compA.ID}, incident.MajorOutage)
		h.waitDone(h.broadcasts(inc.ID)[0].ID)
		c := &complaint.Complaint{ID: "cmpheld00001", PageID: h.page.ID, Ref: "C-HELD0001", Channel: complaint.Email, Language: "hu",
			Contact: complaint.Contact{CustomerID: "ann", Email: "ann@example.com"}, State: complaint.StateAcknowledged,
			Tag: &complaint.Tag{IncidentID: inc.ID}, Version: 1, CreatedAt: h.clock.Now(), UpdatedAt: h.clock.Now()}
		if err := cst.SaveComplaint(h.ctx, c, nil); err != nil {
			t.Fatal(err)
		}
		h.update(inc, incident.Identified, "one", true)
		held := h.broadcasts(inc.ID)[1]
		waitFor(t, "the update held by the cap", func() bool {
			ds, _ := h.st.FindDeliveries(h.ctx, queue.DeliveryFilter{BroadcastID: held.ID})
			return len(ds) == 1 && ds[0].State == queue.StatePending && ds[0].Reason == "frequency cap"
		})
		h.update(inc, incident.Resolved, "Card payments work again.", true)
		bs := h.broadcasts(inc.ID)
		if p := h.waitDone(bs[len(bs)-1].ID); p.Counts[channel.Email][queue.StateCollapsed] != 1 {
			t.Fatalf("the resolution to Ann: %+v, want collapsed into her complaint's answer", p.Counts)
		}
		h.clock.Advance(61 * time.Minute)
		if p := h.waitDone(held.ID); p.Counts[channel.Email][queue.StateCollapsed] != 1 {
			t.Errorf("the held update: %+v, want collapsed, not sent after the resolution", p.Counts)
		}
		if n := h.inbox(sandbox.KindEmail)["ann@example.com"]; n != 1 {
			t.Errorf("%d emails to Ann, want 1 (the first notice; the resolution is her complaint's answer)", n)
		}
	})
}

// TestComplaintAnswerThreads: an answer by email to a complaint that came
// by email is a reply to the customer's newest mail before it
// (In-Reply-To its Message-ID, References its References and then its
// Message-ID, as the intake kept them: RFC 5322 §3.6.4), through the
// sandbox's SMTP server; a Message-ID that is unfit for a header is left
// out, an email kept by an older herald (no thread) is answered under
// its Message-ID alone, and a complaint with no email gets neither header.
func TestComplaintAnswerThreads(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		svc, cst := h.withComplaints(baseConfig())
		h.stop = h.run(svc)
		at := h.clock.Now().Add(-time.Hour)
		type mail struct{ id, thread string }
		save := func(id, email string, ch complaint.Channel, ms ...mail) *complaint.Complaint {
			c := &complaint.Complaint{ID: id, PageID: h.page.ID, Ref: "C-" + strings.ToUpper(id[4:12]), Channel: ch, Language: "en",
				Contact: complaint.Contact{Email: email}, State: complaint.StateInProgress, Version: 1, CreatedAt: at, UpdatedAt: at}
			var es []*complaint.Entry
			for i, m := range ms {
				e := &complaint.Entry{ID: fmt.Sprintf("%s-e%d", id, i), ComplaintID: id, PageID: h.page.ID, Kind: complaint.EntryMessageIn,
					Actor: "customer", Channel: ch, Text: "Payments fail.", ExternalID: m.id, At: at.Add(time.Duration(i) * time.Minute)}
				if m.thread != "" {
					e.Args = map[string]string{complaint.ArgThread: m.thread}
				}
				es = append(es, e)
			}
			if err := cst.SaveComplaint(h.ctx, c, es); err != nil {
				t.Fatal(err)
			}
			return c
		}
		mailed := save("cmp0000000t1", "tom@example.org", complaint.Email,
			mail{"first@example.org", "order-1@shop.example first@example.org"}, mail{"bad id@example.org", ""},
			mail{"second@example.org", "order-1@shop.example first@example.org 0badc0ffee@herald.example second@example.org"})
		legacy := save("cmp0000000t3", "vic@example.org", complaint.Email, mail{"old@example.org", ""})
		formed := save("cmp0000000t2", "uma@example.org", complaint.Web, mail{"", ""})
		for _, c := range []*complaint.Complaint{mailed, legacy, formed} {
			if err := svc.Answer(h.ctx, c, complaint.AnswerReply, "reply-1", "We refunded the charge."); err != nil {
				t.Fatal(err)
			}
		}
		got := map[string]sandbox.Message{}
		waitFor(t, "the answers by email", func() bool {
			for _, to := range []string{"tom@example.org", "vic@example.org", "uma@example.org"} {
				if ms := h.sb.Messages(sandbox.Filter{Kind: sandbox.KindEmail, To: to}); len(ms) > 0 {
					got[to] = ms[0]
				}
			}
			return len(got) == 3
		})
		for to, want := range map[string][2]string{
			"tom@example.org": {"<second@example.org>", "<order-1@shop.example> <first@example.org> <0badc0ffee@herald.example> <second@example.org>"},
			"vic@example.org": {"<old@example.org>", "<old@example.org>"},
			"uma@example.org": {"", ""},
		} {
			if m := got[to]; m.Headers["In-Reply-To"] != want[0] || m.Headers["References"] != want[1] {
				t.Errorf("the answer to %s: In-Reply-To %q, References %q; want %q, %q", to, m.Headers["In-Reply-To"], m.Headers["References"], want[0], want[1])
			}
		}
	})
}

// TestReplyReferences: a reply's References are the email's own (or its
// In-Reply-To), then its Message-ID; unfit IDs and repeats are left out,
// and a long chain keeps its first and newest IDs.
func TestReplyReferences(t *testing.T) {
	long := make([]string, 30)
	for i := range long {
		long[i] = fmt.Sprintf("<r%02d@example.org>", i)
	}
	fat := []string{"root@example.org"}
	for i := range 12 {
		fat = append(fat, fmt.Sprintf("%s-%d@example.org", strings.Repeat("x", 190), i))
	}
	tests := []struct {
		name      string
		refs      []string
		inReplyTo string
		id        string
		want      string
	}{
		{"no References", nil, "", "m@example.org", "m@example.org"},
		{"References then the Message-ID", []string{"a@x.example", "b@x.example"}, "b@x.example", "<m@example.org>", "a@x.example b@x.example m@example.org"},
		{"In-Reply-To failing References", nil, "<b@x.example>", "m@example.org", "b@x.example m@example.org"},
		{"brackets, run together", []string{"<a@x.example><b@x.example>", " <c@x.example>\t"}, "", "m@example.org", "a@x.example b@x.example c@x.example m@example.org"},
		{"unfit and repeated IDs left out", []string{"a@x.example", "no id", "a@x.example", "m@example.org", "<no-at-sign>", "<a@b@c>"}, "", "m@example.org", "a@x.example m@example.org"},
		{"no Message-ID: no thread", []string{"a@x.example"}, "", "", ""},
		{"an unfit Message-ID: no thread", []string{"a@x.example"}, "", "m x@example.org", ""},
		{"a long chain keeps its first and newest", long, "", "m@example.org", "r00@example.org r22@example.org r23@example.org r24@example.org r25@example.org r26@example.org r27@example.org r28@example.org r29@example.org m@example.org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(notify.ReplyReferences(tt.refs, tt.inReplyTo, tt.id), " "); got != tt.want {
				t.Errorf("ReplyReferences = %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("long IDs are cut to the length bound", func(t *testing.T) {
		got := notify.ReplyReferences(fat, "", "m@example.org")
		n := 0
		for _, id := range got {
			n += len(id) + 3
		}
		if n > 2000 || len(got) < 3 || got[0] != "root@example.org" || got[len(got)-1] != "m@example.org" || got[len(got)-2] != fat[len(fat)-1] {
			t.Errorf("ReplyReferences of long IDs: %d IDs, %d characters, first %q, last two %q; want at most 2000, the root and the newest kept",
				len(got), n, got[0], got[len(got)-2:])
		}
	})
}
