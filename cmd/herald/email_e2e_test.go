package main

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	netsmtp "net/smtp"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident/wire"
)

// Inbound email end to end: `herald serve` in sandbox mode with its SMTP
// listener on loopback; a customer's mail becomes a complaint and its
// acknowledgement lands in the sandbox inbox; a reply to that
// acknowledgement (In-Reply-To its Message-ID) attaches to the complaint
// instead of opening a second; an auto-reply is neither filed nor
// answered; and the SendGrid-shaped HTTP endpoint files mail too.
func TestInboundEmailEndToEnd(t *testing.T) {
	// A 1 ms attach window: only threading can join the reply to the
	// complaint, not the sender's recent message.
	n, smtpAddr, env := startInboundServe(t, map[string]string{"HERALD_INBOUND_EMAIL_SECRET": "sendgrid:e2e-secret"})
	complaints := func(t *testing.T) []wire.Complaint {
		t.Helper()
		var cs []wire.Complaint
		if err := json.Unmarshal([]byte(mustCLI(t, env, "complaints", "list", "--json").stdout), &cs); err != nil {
			t.Fatal(err)
		}
		return cs
	}
	send := func(t *testing.T, from, msg string) {
		t.Helper()
		if err := netsmtp.SendMail(smtpAddr, nil, from, []string{"support@herald.localhost"}, []byte(strings.ReplaceAll(msg, "\n", "\r\n"))); err != nil {
			t.Fatalf("send: %v", err)
		}
	}

	send(t, "anna@example.org", `From: Kiss Anna <anna@example.org>
To: support@herald.localhost
Subject: Card payments fail
Message-ID: <first@example.org>
Content-Type: text/html; charset=utf-8

<p>Since 9:00 no card payment goes through.</p><script>alert(1)</script>
`)
	// Filed before the 250: the complaint is there as soon as SendMail returns.
	cs := complaints(t)
	if len(cs) != 1 || cs[0].Channel != "email" || cs[0].Contact.Email != "anna@example.org" || cs[0].Text != "Since 9:00 no card payment goes through." {
		t.Fatalf("complaints: %+v", cs)
	}
	first := cs[0]
	var ack inboxMessage
	var ackID string
	eventually(t, 15*time.Second, func() (bool, string) {
		for _, msg := range inboxFull(t, n) {
			if msg.Kind == "email" && msg.To == "anna@example.org" {
				ack, ackID = msg.inboxMessage, msg.ID
				return true, ""
			}
		}
		return false, "no acknowledgement to anna@example.org in the sandbox inbox\n" + n.log.String()
	})
	if !strings.Contains(ack.Subject+ack.Body, first.Ref) {
		t.Errorf("the acknowledgement does not quote the reference %s: %q / %q", first.Ref, ack.Subject, ack.Body)
	}
	// An automatic reply to the customer's email (RFC 3834 §3.1.6,
	// §3.1.7, §3.3): threaded under it, marked automatic, and sent from
	// the null envelope sender.
	if h := ack.Headers; h["In-Reply-To"] != "<first@example.org>" || h["References"] != "<first@example.org>" || h["Auto-Submitted"] != "auto-replied" || h["Return-Path"] != "<>" {
		t.Errorf("the acknowledgement's headers: In-Reply-To %q, References %q, Auto-Submitted %q, Return-Path %q; want the customer's Message-ID, auto-replied, <>",
			h["In-Reply-To"], h["References"], h["Auto-Submitted"], h["Return-Path"])
	}

	t.Run("a reply to the acknowledgement attaches", func(t *testing.T) {
		time.Sleep(5 * time.Millisecond) // past the attach window
		send(t, "anna@example.org", `From: Kiss Anna <anna@example.org>
To: support@herald.localhost
Subject: Re: `+ack.Subject+`
Message-ID: <second@example.org>
In-Reply-To: <`+ackID+`>
References: <first@example.org> <`+ackID+`>

Still failing, now on the web shop too.

On Mon, Herald Status <status@herald.localhost> wrote:
> We received your complaint.
`)
		cs := complaints(t)
		if len(cs) != 1 || cs[0].ID != first.ID || cs[0].Messages != 2 {
			t.Fatalf("complaints after the reply: %+v", cs)
		}
		r := mustCLI(t, env, "complaints", "show", first.ID)
		if !strings.Contains(r.stdout, "Still failing, now on the web shop too.") || strings.Contains(r.stdout, "We received your complaint") {
			t.Errorf("the reply's words (without the quote) are not in the timeline:\n%s", r.stdout)
		}
	})
	t.Run("an auto-reply is neither filed nor answered", func(t *testing.T) {
		before := len(inboxFull(t, n))
		send(t, "anna@example.org", `From: anna@example.org
To: support@herald.localhost
Subject: Out of office
Auto-Submitted: auto-replied
Message-ID: <ooo@example.org>

I am away until Monday.
`)
		cs := complaints(t)
		if len(cs) != 1 || cs[0].Messages != 2 {
			t.Fatalf("an auto-reply was filed: %+v", cs)
		}
		time.Sleep(300 * time.Millisecond)
		if after := len(inboxFull(t, n)); after != before {
			t.Errorf("an auto-reply was answered: %d messages, were %d", after, before)
		}
	})
	t.Run("a display name is no greeting unless it reads as a name", func(t *testing.T) {
		// A forged sender's display name, plain and RFC 2047-encoded:
		// herald's genuine acknowledgement to the victim's address must
		// not open with words of the forger's choosing.
		send(t, "victim1@example.org", `From: "Your refund is ready - claim it at http://evil.example/claim" <victim1@example.org>
To: support@herald.localhost
Subject: Payments
Message-ID: <lure1@example.org>

Payments fail.
`)
		send(t, "victim2@example.org", `From: =?utf-8?q?=C3=9Cgyf=C3=A9lszolg=C3=A1lat=3A_h=C3=ADvja_a_+36_1_999_9999_sz=C3=A1mot?= <victim2@example.org>
To: support@herald.localhost
Subject: Payments
Message-ID: <lure2@example.org>

Payments fail.
`)
		for to, lure := range map[string]string{"victim1@example.org": "evil.example", "victim2@example.org": "999 9999"} {
			var ack inboxMessage
			eventually(t, 15*time.Second, func() (bool, string) {
				for _, msg := range inboxFull(t, n) {
					if msg.Kind == "email" && msg.To == to {
						ack = msg.inboxMessage
						return true, ""
					}
				}
				return false, "no acknowledgement to " + to + "\n" + n.log.String()
			})
			if strings.Contains(ack.Subject+ack.Body, lure) || !strings.Contains(ack.Body, "Hello,") {
				t.Errorf("the acknowledgement to %s greets with the display name (%q): %s", to, lure, ack.Body)
			}
		}
	})
	t.Run("the SendGrid endpoint files mail", func(t *testing.T) {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		_ = w.WriteField("email", "From: Piotr <piotr@example.pl>\r\nTo: support@herald.localhost\r\nSubject: Nie działa\r\nMessage-ID: <sg1@example.pl>\r\n\r\nPłatności nie działają.\r\n")
		_ = w.WriteField("envelope", `{"from":"piotr@example.pl","to":["support@herald.localhost"]}`)
		_ = w.Close()
		post := func(user, pass string) int {
			req, _ := http.NewRequest("POST", n.url+"/webhooks/email/inbound", bytes.NewReader(b.Bytes()))
			req.Header.Set("Content-Type", w.FormDataContentType())
			req.SetBasicAuth(user, pass)
			resp, err := testHTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if code := post("sendgrid", "wrong"); code != http.StatusForbidden {
			t.Fatalf("forged post: %d", code)
		}
		if len(complaints(t)) != 3 {
			t.Fatal("a forged post was filed")
		}
		if code := post("sendgrid", "e2e-secret"); code != http.StatusOK {
			t.Fatalf("post: %d", code)
		}
		cs := complaints(t)
		if len(cs) != 4 || cs[0].Contact.Email != "piotr@example.pl" || cs[0].Text != "Płatności nie działają." {
			t.Fatalf("complaints: %+v", cs)
		}
	})
}

// inboxEntry is an inbox message with its ID (an email's Message-ID).
type inboxEntry struct {
	inboxMessage
	ID string `json:"id"`
}

// inboxFull reads the sandbox's messages with their IDs.
func inboxFull(t *testing.T, n *instance) []inboxEntry {
	t.Helper()
	code, body := get(t, n.url+"/sandbox/messages")
	if code != http.StatusOK {
		t.Fatalf("/sandbox/messages: %d %s", code, body)
	}
	var v struct {
		Messages []inboxEntry `json:"messages"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("/sandbox/messages: %v", err)
	}
	return v.Messages
}

// startInboundServe starts herald serve with env, its inbound SMTP
// listener on a free loopback port and a 1 ms complaint attach window, and
// returns it, the listener's address, and the environment the CLI needs to
// reach it as an admin.
func startInboundServe(t *testing.T, env map[string]string) (n *instance, smtpAddr string, cli map[string]string) {
	t.Helper()
	dir := t.TempDir()
	n = startServe(t, env, "--data", dir, "--inbound-smtp-addr", "127.0.0.1:0", "--complaint-attach-window", "1ms")
	m := regexp.MustCompile(`msg="inbound email listening" addr=(127\.0\.0\.1:\d+)`).FindStringSubmatch(n.log.String())
	if m == nil {
		t.Fatalf("no inbound email address in the log:\n%s", n.log)
	}
	token := mustCLI(t, nil, "token", "create", "--role", "admin", "--data", dir).lastLine()
	return n, m[1], map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": token}
}
