package main

import (
	"encoding/json"
	"fmt"
	netsmtp "net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident/wire"
)

// Automatic answers to inbound email end to end, through `herald serve`'s
// SMTP listener on loopback and the sandbox's SMTP server: the
// acknowledgement is a reply in the customer's own thread (In-Reply-To
// their Message-ID, References their References and then their
// Message-ID, RFC 5322 §3.6.4), and one sender gets at most
// auto_reply_limit automatic answers: past it the complaint is filed,
// its timeline says why no answer went, and the metric counts it.
func TestInboundEmailAutoAnswers(t *testing.T) {
	n, smtpAddr, env := startInboundServe(t, map[string]string{"HERALD_AUTO_REPLY_LIMIT": "2", "HERALD_AUTO_REPLY_WINDOW": "24h"})
	send := func(t *testing.T, from, msg string) {
		t.Helper()
		if err := netsmtp.SendMail(smtpAddr, nil, from, []string{"support@herald.localhost"}, []byte(strings.ReplaceAll(msg, "\n", "\r\n"))); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	answers := func(to string) []inboxEntry {
		var out []inboxEntry
		for _, msg := range inboxFull(t, n) {
			if msg.Kind == "email" && msg.To == to {
				out = append(out, msg)
			}
		}
		return out
	}

	t.Run("the acknowledgement threads under the customer's References", func(t *testing.T) {
		// Kati answers the shop's order mail (two IDs in its thread) to
		// complain: herald's acknowledgement belongs in that thread.
		send(t, "kati@example.org", `From: Kati <kati@example.org>
To: support@herald.localhost
Subject: Re: Your order 1234
Message-ID: <k3@example.org>
In-Reply-To: <order-2@shop.example>
References: <order-1@shop.example>
 <order-2@shop.example>

The payment for my order failed twice.
`)
		var ack []inboxEntry
		eventually(t, 15*time.Second, func() (bool, string) {
			ack = answers("kati@example.org")
			return len(ack) == 1, "no acknowledgement to kati@example.org\n" + n.log.String()
		})
		if h := ack[0].Headers; h["In-Reply-To"] != "<k3@example.org>" || h["References"] != "<order-1@shop.example> <order-2@shop.example> <k3@example.org>" {
			t.Errorf("the acknowledgement's In-Reply-To %q, References %q; want <k3@example.org>, and the email's References then its Message-ID",
				h["In-Reply-To"], h["References"])
		}
	})

	t.Run("one sender gets at most auto_reply_limit automatic answers", func(t *testing.T) {
		for i := 1; i <= 3; i++ {
			time.Sleep(5 * time.Millisecond) // past the attach window: a complaint each
			send(t, "loop@example.org", fmt.Sprintf(`From: loop@example.org
To: support@herald.localhost
Subject: Ticket %d
Message-ID: <loop-%d@example.org>

Payments fail (%d).
`, i, i, i))
		}
		var cs []wire.Complaint
		if err := json.Unmarshal([]byte(mustCLI(t, env, "complaints", "list", "--json").stdout), &cs); err != nil {
			t.Fatal(err)
		}
		var third *wire.Complaint
		filed := 0
		for i := range cs {
			if cs[i].Contact.Email == "loop@example.org" {
				filed++
				if cs[i].Text == "Payments fail (3)." {
					third = &cs[i]
				}
			}
		}
		if filed != 3 || third == nil {
			t.Fatalf("%d complaints from loop@example.org (third %v), want all 3 filed", filed, third)
		}
		if r := mustCLI(t, env, "complaints", "show", third.ID); !strings.Contains(r.stdout, "limit of automatic answers (2 within 24h)") {
			t.Errorf("the third complaint's timeline does not say its acknowledgement was held back:\n%s", r.stdout)
		}
		eventually(t, 15*time.Second, func() (bool, string) {
			got := len(answers("loop@example.org"))
			return got == 2, fmt.Sprintf("%d answers to loop@example.org, want 2", got)
		})
		for _, a := range answers("loop@example.org") {
			if strings.Contains(a.Headers["In-Reply-To"], "loop-3@") {
				t.Errorf("the third complaint was answered: %+v", a.Headers)
			}
		}
		if code, body := get(t, n.url+"/metrics"); code != 200 || !strings.Contains(body, `herald_notify_auto_replies_limited_total{channel="email"} 1`) {
			t.Errorf("/metrics: %d, want herald_notify_auto_replies_limited_total{channel=\"email\"} 1", code)
		}
	})
}
