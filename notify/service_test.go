package notify_test

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/ratelimit"
	"github.com/heraldhq/herald/sandbox"
)

// TestBroadcastLifecycle: declare → ack to every audience member once per
// channel; an update only where the policy allows; resolve → apology.
func TestBroadcastLifecycle(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		h.importCSV("id,name,phone,email,slack,language,time_zone,components\n" +
			"c1,Anna,+36201111111,anna@example.com,,hu,Europe/Budapest,API\n" + // uses A
			"c2,Bela,+36202222222,bela@example.com,,hu,,Billing\n" + // uses B only: not told
			"c3,Cili,,cili@example.com,C0OPS1234,en,,\n" + // uses everything
			"c4,Dora,,shared@example.com,,pl,,\n") // also a page subscriber
		svc := h.svcOrNew()
		mustSub := func(req notify.SubscribeRequest) *audience.Subscriber {
			t.Helper()
			req.PageID, req.Confirmed = h.page.ID, true
			s, err := svc.Subscribe(h.ctx, req)
			if err != nil {
				t.Fatalf("Subscribe %+v: %v", req, err)
			}
			return s
		}
		mustSub(notify.SubscribeRequest{Kind: channel.Email, Address: "shared@example.com"})                                    // dedupes with c4
		mustSub(notify.SubscribeRequest{Kind: channel.SMS, Address: "+36203333333", ComponentIDs: []string{h.compB.ID}})        // component B: not told
		mustSub(notify.SubscribeRequest{Kind: channel.Email, Address: "compa@example.com", ComponentIDs: []string{h.compA.ID}}) // component A
		mustSub(notify.SubscribeRequest{Kind: channel.Webhook, Address: h.sb.WebhookURL("hook1")})
		mustSub(notify.SubscribeRequest{Kind: channel.Slack, Address: h.sb.SlackWebhookURL("T1/B1/x")})

		inc := h.declare("API down", []string{h.compA.ID}, incident.MajorOutage)
		mustSub(notify.SubscribeRequest{Kind: channel.Email, Address: "follower@example.com", IncidentID: inc.ID})
		h.start(baseConfig())

		bs := h.broadcasts(inc.ID)
		if len(bs) != 1 || bs[0].Kind != incident.BroadcastDeclared {
			t.Fatalf("broadcasts = %+v", bs)
		}
		p := h.waitDone(bs[0].ID)
		want := map[channel.Kind]int{channel.SMS: 1, channel.Email: 5, channel.Slack: 2, channel.Webhook: 1}
		for k, n := range want {
			if got := sum(p, k, queue.StateSent); got != n {
				t.Errorf("declared: %s sent = %d, want %d (progress %+v)", k, got, n, p.Counts)
			}
		}
		wantEmail := map[string]int{"anna@example.com": 1, "cili@example.com": 1, "shared@example.com": 1, "compa@example.com": 1, "follower@example.com": 1}
		if got := h.inbox(sandbox.KindEmail); fmt.Sprint(got) != fmt.Sprint(wantEmail) {
			t.Errorf("email inbox = %v, want %v", got, wantEmail)
		}
		if got := h.inbox(sandbox.KindSMS); len(got) != 1 || got["+36201111111"] != 1 {
			t.Errorf("sms inbox = %v", got)
		}
		// The shared address got the customer's (Polish) message, not the subscriber's.
		shared := h.sb.Messages(sandbox.Filter{Kind: sandbox.KindEmail, To: "shared@example.com"})
		if len(shared) != 1 || !strings.Contains(shared[0].Body, "Dzień dobry") {
			t.Errorf("shared address got %+v, want the customer's Polish message", shared)
		}
		anna := h.sb.Messages(sandbox.Filter{Kind: sandbox.KindSMS, To: "+36201111111"})
		if len(anna) != 1 || !strings.Contains(anna[0].Body, h.page.ShortURL(inc.ID)) {
			t.Errorf("sms = %+v, want the short link", anna)
		}

		// An update with notifications: not by SMS under the default policy.
		h.update(inc, incident.Identified, "Found it: a bad deploy.", true)
		// An update without: no broadcast at all.
		h.update(inc, incident.Identified, "Still rolling back.", false)
		bs = h.broadcasts(inc.ID)
		if len(bs) != 2 || bs[1].Kind != incident.BroadcastUpdated {
			t.Fatalf("broadcasts after updates = %+v", bs)
		}
		p = h.waitDone(bs[1].ID)
		if got := sum(p, channel.SMS, queue.DeliveryStates...); got != 0 {
			t.Errorf("update: %d SMS deliveries, want none", got)
		}
		if got := sum(p, channel.Email, queue.StateSent); got != 5 {
			t.Errorf("update: %d emails, want 5", got)
		}

		h.update(inc, incident.Resolved, "Fixed. We are sorry.", true)
		bs = h.broadcasts(inc.ID)
		p = h.waitDone(bs[2].ID)
		if bs[2].Kind != incident.BroadcastResolved || sum(p, channel.SMS, queue.StateSent) != 1 || sum(p, channel.Email, queue.StateSent) != 5 {
			t.Errorf("resolved: kind %s, progress %+v", bs[2].Kind, p.Counts)
		}
		if got := h.inbox(sandbox.KindSMS)["+36201111111"]; got != 2 {
			t.Errorf("Anna got %d SMS, want ack and apology", got)
		}
		if got := h.inbox(sandbox.KindWebhook)[h.sb.WebhookURL("hook1")]; got != 3 {
			t.Errorf("webhook got %d posts, want 3", got)
		}
		// Every delivery of a customer shows in the per-customer list.
		ds, err := h.svc.Deliveries(h.ctx, queue.DeliveryFilter{PageID: h.page.ID, RecipientID: "c1"})
		if err != nil || len(ds) != 5 {
			t.Errorf("c1 deliveries = %d, %v; want 5 (sms×2, email×3)", len(ds), err)
		}
	})
}

var linkRE = regexp.MustCompile(`https://status\.acme\.test/(unsubscribe|subscriptions/confirm)/[A-Za-z0-9_-]+`)

// TestSubscriptions: double opt-in by email link, SMS code and YES reply;
// rate limits; the SMS country allow-list; unsubscribe from a message.
func TestSubscriptions(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		cfg := baseConfig()
		cfg.SMSCountries = []string{"HU", "HR"}
		cfg.SubscribeIPLimit = ratelimit.Limit{Rate: 0.001, Burst: 3}
		h.start(cfg)
		svc := h.svc
		sub := func(kind channel.Kind, addr, ip string) (*audience.Subscriber, error) {
			return svc.Subscribe(h.ctx, notify.SubscribeRequest{PageID: h.page.ID, Kind: kind, Address: addr, IP: ip, Source: "page", Language: "hu"})
		}

		t.Run("email link", func(t *testing.T) {
			s, err := sub(channel.Email, "new@example.com", "10.0.0.1")
			if err != nil || s.State != audience.SubscriberPending {
				t.Fatalf("Subscribe = %+v, %v", s, err)
			}
			var body string
			waitFor(t, "confirmation email", func() bool {
				ms := h.sb.Messages(sandbox.Filter{Kind: sandbox.KindEmail, To: "new@example.com"})
				if len(ms) > 0 {
					body = ms[0].Body
				}
				return len(ms) > 0
			})
			link := linkRE.FindString(body)
			if !strings.Contains(link, "/subscriptions/confirm/") {
				t.Fatalf("no confirm link in %q", body)
			}
			tok := link[strings.LastIndex(link, "/")+1:]
			// Change a character in the middle: all of its bits count (the
			// last one's may be padding, and "xx" may be what it was).
			mid, flip := len(tok)/2, byte('A')
			if tok[len(tok)/2] == 'A' {
				flip = 'B'
			}
			if _, err := svc.Confirm(h.ctx, tok[:mid]+string(flip)+tok[mid+1:]); incident.ErrorCode(err) != incident.EINVALID {
				t.Errorf("forged token: %v, want EINVALID", err)
			}
			got, err := svc.Confirm(h.ctx, tok)
			if err != nil || got.State != audience.SubscriberActive {
				t.Fatalf("Confirm = %+v, %v", got, err)
			}
		})

		t.Run("sms code", func(t *testing.T) {
			s, err := sub(channel.SMS, "+36205555555", "10.0.0.2")
			if err != nil || s.State != audience.SubscriberPending {
				t.Fatalf("Subscribe = %+v, %v", s, err)
			}
			var code string
			waitFor(t, "code SMS", func() bool {
				ms := h.sb.Messages(sandbox.Filter{Kind: sandbox.KindSMS, To: "+36205555555"})
				if len(ms) > 0 {
					code = regexp.MustCompile(`\d{6}`).FindString(ms[0].Body)
				}
				return code != ""
			})
			wrong := "000000"
			if code == wrong {
				wrong = "111111"
			}
			if _, err := svc.ConfirmCode(h.ctx, h.page.ID, "+36205555555", wrong); incident.ErrorCode(err) != incident.EINVALID {
				t.Errorf("wrong code: %v", err)
			}
			got, err := svc.ConfirmCode(h.ctx, h.page.ID, "06 20 555 5555", code)
			if err != nil || got.State != audience.SubscriberActive {
				t.Fatalf("ConfirmCode = %+v, %v", got, err)
			}
		})

		t.Run("sms YES reply in Croatian", func(t *testing.T) {
			s, err := sub(channel.SMS, "+385912345678", "10.0.0.3")
			if err != nil {
				t.Fatal(err)
			}
			reply, err := svc.HandleInboundSMS(h.ctx, "+385912345678", "+15005550006", " da ")
			if err != nil || !strings.Contains(reply, "potvrđena") {
				t.Fatalf("reply %q, %v", reply, err)
			}
			got, _ := svc.Subscriber(h.ctx, h.page.ID, s.ID)
			if got.State != audience.SubscriberActive {
				t.Errorf("state %s after DA", got.State)
			}
		})

		t.Run("country allow-list", func(t *testing.T) {
			if _, err := sub(channel.SMS, "+48601234567", "10.0.0.4"); incident.ErrorCode(err) != incident.EINVALID {
				t.Errorf("Polish number: %v, want EINVALID", err)
			}
		})

		t.Run("per-IP limit", func(t *testing.T) {
			var err error
			for i := 0; i < 4 && err == nil; i++ {
				_, err = sub(channel.Email, fmt.Sprintf("ip%d@example.com", i), "10.9.9.9")
			}
			if incident.ErrorCode(err) != notify.ERATELIMITED {
				t.Errorf("4th sign-up from one IP: %v, want rate_limited", err)
			}
		})

		t.Run("per-IP limit counts an IPv6 /64 as one address", func(t *testing.T) {
			// One subscriber line gets a /64: 2^64 addresses to rotate through.
			var err error
			for i := 1; i <= 4 && err == nil; i++ {
				_, err = sub(channel.Email, fmt.Sprintf("v6-%d@example.com", i), fmt.Sprintf("2001:db8:1:2::%x", i))
			}
			if incident.ErrorCode(err) != notify.ERATELIMITED {
				t.Errorf("4th sign-up from one /64: %v, want rate_limited", err)
			}
			if _, err := sub(channel.Email, "v6-other@example.com", "2001:db8:1:3::1"); err != nil {
				t.Errorf("sign-up from the next /64: %v", err)
			}
		})

		t.Run("per-address limit on confirmation emails, from any IP", func(t *testing.T) {
			// The sign-up form must not mail-bomb an address from many IPs.
			const addr = "victim@example.com"
			var s *audience.Subscriber
			var err error
			for i := 1; i <= 3; i++ {
				if s, err = sub(channel.Email, addr, fmt.Sprintf("10.8.0.%d", i)); err != nil {
					t.Fatalf("sign-up %d: %v", i, err)
				}
			}
			_, err = sub(channel.Email, addr, "10.8.0.4")
			if incident.ErrorCode(err) != notify.ERATELIMITED {
				t.Fatalf("4th sign-up of one address: %v, want rate_limited", err)
			}
			if strings.Contains(err.Error(), "subscri") {
				t.Errorf("the refusal %q speaks of the subscription", err)
			}
			ds, err := svc.Deliveries(h.ctx, queue.DeliveryFilter{PageID: h.page.ID, RecipientID: s.ID})
			if err != nil || len(ds) != 3 {
				t.Errorf("confirmations queued = %d, %v; want 3", len(ds), err)
			}
			// Other addresses from a fresh IP are not held back by it.
			if _, err := sub(channel.Email, "bystander@example.com", "10.8.0.5"); err != nil {
				t.Errorf("another address: %v", err)
			}
		})

		t.Run("webhook SSRF", func(t *testing.T) {
			strict := h.service(notify.Config{PublicURL: "https://status.acme.test"}, nil, nil)
			for _, u := range []string{"http://127.0.0.1:8080/x", "http://169.254.169.254/latest", "http://10.0.0.1/", "ftp://example.com/",
				"http://127.1/", "http://2130706433/", "http://0x7f000001/", "http://[fe80::1%25lo]/", "http://metadata.google.internal/computeMetadata/v1/",
				"https://hooks.slack.com.127.0.0.1.nip.io/services/T/B/x", "http://127-0-0-1.sslip.io/", "http://app.localtest.me/"} {
				_, err := strict.Subscribe(h.ctx, notify.SubscribeRequest{PageID: h.page.ID, Kind: channel.Webhook, Address: u, Confirmed: true})
				if incident.ErrorCode(err) != incident.EINVALID {
					t.Errorf("%s: %v, want EINVALID", u, err)
				}
			}
			// Slack mode: only Slack's own host (or the configured ones).
			for _, u := range []string{"https://hooks.slack.com.127.0.0.1.nip.io/services/T/B/x", "https://hooks.slack.com.evil.example/services/T/B/x",
				"https://evil.example/hooks.slack.com/services/T/B/x", "https://127.0.0.1/services/T/B/x", "http://hooks.slack.com/services/T/B/x"} {
				_, err := strict.Subscribe(h.ctx, notify.SubscribeRequest{PageID: h.page.ID, Kind: channel.Slack, Address: u, Confirmed: true})
				if incident.ErrorCode(err) != incident.EINVALID {
					t.Errorf("slack %s: %v, want EINVALID", u, err)
				}
			}
			// Accepted ones are removed again: the later subtests broadcast
			// to this page, and nothing answers on these hosts.
			if sub, err := strict.Subscribe(h.ctx, notify.SubscribeRequest{PageID: h.page.ID, Kind: channel.Slack, Address: "https://hooks.slack.com/services/T0/B0/secret", Confirmed: true}); err != nil {
				t.Errorf("a real Slack webhook URL: %v", err)
			} else if err := strict.DeleteSubscriber(h.ctx, h.page.ID, sub.ID); err != nil {
				t.Fatal(err)
			}
			mm := h.service(notify.Config{PublicURL: "https://status.acme.test", SlackWebhookHosts: []string{"chat.acme.test"}}, nil, nil)
			if sub, err := mm.Subscribe(h.ctx, notify.SubscribeRequest{PageID: h.page.ID, Kind: channel.Slack, Address: "https://chat.acme.test/hooks/abc", Confirmed: true}); err != nil {
				t.Errorf("a configured Slack-compatible host: %v", err)
			} else if err := mm.DeleteSubscriber(h.ctx, h.page.ID, sub.ID); err != nil {
				t.Fatal(err)
			}
			// The words are netguard.CheckURL's; before it, this built-in
			// check said "private, loopback and link-local addresses are not
			// allowed" and production (webhook.ValidateURL) said
			// "webhook: destination address not allowed: 10.0.0.1".
			_, err := strict.Subscribe(h.ctx, notify.SubscribeRequest{PageID: h.page.ID, Kind: channel.Webhook, Address: "http://10.0.0.1/", Confirmed: true})
			var ie *incident.Error
			if !errors.As(err, &ie) || ie.Message != "webhook URL not allowed: destination address not allowed: 10.0.0.1" {
				t.Errorf("refusal %v", err)
			}
		})

		t.Run("an exempt address: the sandbox's listener and nothing else", func(t *testing.T) {
			u, _ := url.Parse(h.sb.TwilioURL())
			exempt := netip.MustParseAddrPort(u.Host)
			other := netip.AddrPortFrom(exempt.Addr(), exempt.Port()^1)
			sbx := h.service(notify.Config{PublicURL: "https://status.acme.test", WebhookExempt: []netip.AddrPort{exempt}}, nil, nil)
			for _, tc := range []struct {
				kind channel.Kind
				url  string
				ok   bool
			}{
				{channel.Webhook, h.sb.WebhookURL("ops"), true},
				{channel.Slack, h.sb.SlackWebhookURL("T0/B0/secret"), true},
				{channel.Webhook, "http://" + other.String() + "/webhooks/ops", false},
				{channel.Webhook, "http://localhost:" + strconv.Itoa(int(exempt.Port())) + "/webhooks/ops", false},
				{channel.Webhook, "http://10.0.0.1:" + strconv.Itoa(int(exempt.Port())) + "/", false},
				{channel.Webhook, "http://169.254.169.254/latest", false},
				{channel.Slack, "http://" + other.String() + "/services/T0/B0/secret", false},
				{channel.Slack, "http://hooks.slack.com/services/T0/B0/secret", false},
				{channel.Slack, "http://chat.example.com/services/T0/B0/secret", false},
			} {
				sub, err := sbx.Subscribe(h.ctx, notify.SubscribeRequest{PageID: h.page.ID, Kind: tc.kind, Address: tc.url, Confirmed: true})
				if !tc.ok {
					var ie *incident.Error
					if !errors.As(err, &ie) || ie.Code != incident.EINVALID || ie.Field != "address" {
						t.Errorf("%s %s: %v, want EINVALID on address", tc.kind, tc.url, err)
					}
					continue
				}
				if err != nil {
					t.Errorf("%s %s: %v", tc.kind, tc.url, err)
				} else if err := sbx.DeleteSubscriber(h.ctx, h.page.ID, sub.ID); err != nil {
					t.Fatal(err)
				}
			}
		})

		t.Run("unsubscribe from a message", func(t *testing.T) {
			inc := h.declare("Billing slow", []string{h.compB.ID}, incident.DegradedPerformance)
			p := h.waitDone(h.broadcasts(inc.ID)[0].ID)
			if sum(p, channel.Email, queue.StateSent) != 1 {
				t.Fatalf("progress %+v", p.Counts)
			}
			ms := h.sb.Messages(sandbox.Filter{Kind: sandbox.KindEmail, To: "new@example.com"})
			link := ""
			for _, m := range ms {
				if l := linkRE.FindString(m.Body); strings.Contains(l, "/unsubscribe/") {
					link = l
				}
			}
			if link == "" {
				t.Fatalf("no unsubscribe link in %+v", ms)
			}
			u, _ := url.Parse(link)
			if err := svc.Unsubscribe(h.ctx, strings.TrimPrefix(u.Path, "/unsubscribe/")); err != nil {
				t.Fatal(err)
			}
			n, _ := svc.CountSubscribers(h.ctx, h.page.ID, audience.SubscriberActive)
			h.update(inc, incident.Resolved, "ok", true)
			p = h.waitDone(h.broadcasts(inc.ID)[1].ID)
			if sum(p, channel.Email, queue.StateSent) != 0 {
				t.Errorf("unsubscribed address still got mail: %+v (active subscribers %d)", p.Counts, n)
			}
		})
	})
}

// TestInboundKeywords: STOP suppresses and START lifts, in four languages.
// The number is a customer's, not a subscriber's: START does not say
// "subscribed again" to it.
func TestInboundKeywords(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		h.importCSV("id,name,phone\nc1,Anna,+36201111111\n")
		h.start(baseConfig())
		tests := []struct {
			body, reply string
			err         error
		}{
			{"Leiratkozás", "Acme: Leiratkozott", nil}, // named as every SMS herald sends
			{"START", "Acme: You can get our messages again", nil},
			{"odjava!", "Acme: Odjavljeni", nil},
			{"Start", "get our messages again", nil},
			{"WYPISZ", "Acme: Wypisaliśmy", nil},
			{"start", "get our messages again", nil},
			{"Segítség", "Acme: állapotértesítések", nil}, // names whose alerts they are
			{"ＳＴＯＰ", "Acme: You are unsubscribed", nil},   // full-width, as some phone keyboards type it
			{"Feliratkozás", "Acme: Újra kaphat", nil},
			{"Leiratkozom", "Leiratkozott", nil},
			{"Indítás", "Újra kaphat", nil},
			{"the app does not work", "", notify.ErrNotAKeyword},
		}
		for _, tt := range tests {
			t.Run(tt.body, func(t *testing.T) {
				reply, err := h.svc.HandleInboundSMS(h.ctx, "+36201111111", "+15005550006", tt.body)
				if !errors.Is(err, tt.err) || !strings.Contains(reply, tt.reply) {
					t.Fatalf("reply %q, %v; want %q, %v", reply, err, tt.reply, tt.err)
				}
			})
		}
		// STOP, START and HELP are everyone's words: answered in the
		// language herald writes to the number in (a Polish customer's;
		// an unknown number's country's), not in English. "Nie" (Polish
		// "no") is no opt-out word.
		h.importCSV("id,name,phone,language\nc2,Piotr,+48601111222,pl\n")
		for _, tt := range []struct{ from, body, reply string }{
			{"+48601111222", "STOP", "Acme: Wypisaliśmy"},
			{"+48601111222", "START", "znów otrzymywać"},
			{"+48609999888", "Stop.", "Wypisaliśmy"},
			{"+36709999888", "HELP", "Acme: állapotértesítések"},
			{"+447911123456", "STOP", "Acme: You are unsubscribed"}, // a stranger: the page herald has
		} {
			if reply, err := h.svc.HandleInboundSMS(h.ctx, tt.from, "+15005550006", tt.body); err != nil || !strings.Contains(reply, tt.reply) {
				t.Errorf("%s from %s: reply %q, %v; want one with %q", tt.body, tt.from, reply, err, tt.reply)
			}
		}
		if reply, err := h.svc.HandleInboundSMS(h.ctx, "+48601111222", "+15005550006", "Nie"); !errors.Is(err, notify.ErrNotAKeyword) {
			t.Errorf("Nie: reply %q, %v; want no keyword (a person reads it)", reply, err)
		}
		if _, err := h.svc.HandleInboundSMS(h.ctx, "+36201111111", "+15005550006", "STOP"); err != nil {
			t.Fatal(err)
		}
		inc := h.declare("Down", nil, incident.MajorOutage)
		p := h.waitDone(h.broadcasts(inc.ID)[0].ID)
		if p.Counts[channel.SMS][queue.StateSuppressed] != 1 || p.Reasons[channel.SMS]["stop"] != 1 {
			t.Errorf("after STOP: %+v reasons %+v", p.Counts, p.Reasons)
		}
		if _, err := h.svc.HandleInboundSMS(h.ctx, "+36201111111", "+15005550006", "START"); err != nil {
			t.Fatal(err)
		}
		h.update(inc, incident.Resolved, "ok", true)
		p = h.waitDone(h.broadcasts(inc.ID)[1].ID)
		if p.Counts[channel.SMS][queue.StateSent] != 2 { // Anna and Piotr
			t.Errorf("after START: %+v", p.Counts)
		}
		_ = time.Second
	})
}

// TestYesWithNothingPending: YES (IGEN, TAK, DA) from a number with no
// sign-up waiting is answered, not routed on to complaints: "confirmed
// already" to a number that follows the page (a second IGEN after the
// first, or after the code was typed on the page), "nothing waits" to
// one that follows none, each in the word's language. From a number
// with an open complaint it is no keyword: it answers the agent.
func TestYesWithNothingPending(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		cfg := baseConfig()
		cfg.SMSCountries = []string{"HU", "PL", "HR"}
		svc, cst := h.withComplaints(cfg)
		h.stop = h.run(svc)
		const igen, web = "+36205550001", "+48601550002"
		for _, num := range []string{igen, web} {
			if _, err := svc.Subscribe(h.ctx, notify.SubscribeRequest{PageID: h.page.ID, Kind: channel.SMS, Address: num, Source: "page", Language: "hu"}); err != nil {
				t.Fatal(err)
			}
		}
		if reply, err := svc.HandleInboundSMS(h.ctx, igen, "+15005550006", "IGEN"); err != nil || !strings.Contains(reply, "Acme: Köszönjük, a feliratkozását megerősítettük") {
			t.Fatalf("the first IGEN: %q, %v", reply, err)
		}
		// The second number confirms on the page, with the texted code.
		var code string
		waitFor(t, "code SMS", func() bool {
			ms := h.sb.Messages(sandbox.Filter{Kind: sandbox.KindSMS, To: web})
			if len(ms) > 0 {
				code = regexp.MustCompile(`\d{6}`).FindString(ms[0].Body)
			}
			return code != ""
		})
		if _, err := svc.ConfirmCode(h.ctx, h.page.ID, web, code); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct{ from, body, reply string }{
			{igen, "igen", "Acme: A feliratkozása már meg van erősítve"},
			{igen, "Igen!", "már meg van erősítve"},
			{web, "TAK", "już potwierdzona"},
			{web, "yes", "már meg van erősítve"}, // English YES: in the number's language, the subscriber's
			{"+385915550003", "Da", "Acme: Za ovaj broj nema prijave koja čeka potvrdu"},
			{"+447911123457", "YES", "no sign-up from this number"},
		} {
			reply, err := svc.HandleInboundSMS(h.ctx, tt.from, "+15005550006", tt.body)
			if err != nil || !strings.Contains(reply, tt.reply) {
				t.Errorf("%s from %s: %q, %v; want an answer with %q, no complaint", tt.body, tt.from, reply, err, tt.reply)
			}
		}
		// An open complaint from the number: its IGEN answers the agent.
		c := &complaint.Complaint{ID: "cmp0000000y1", PageID: h.page.ID, Ref: "C-CMP0000Y", Channel: complaint.SMS, Language: "hu",
			Contact: complaint.Contact{Phone: igen}, State: complaint.StateInProgress, Version: 1, CreatedAt: h.clock.Now(), UpdatedAt: h.clock.Now()}
		if err := cst.SaveComplaint(h.ctx, c, nil); err != nil {
			t.Fatal(err)
		}
		if reply, err := svc.HandleInboundSMS(h.ctx, igen, "+15005550006", "IGEN"); !errors.Is(err, notify.ErrNotAKeyword) {
			t.Errorf("IGEN with an open complaint: %q, %v; want it routed to the complaint", reply, err)
		}
	})
}

// TestStartResumesSubscriber: START from a number whose SMS subscription
// was ended by link or API brings that subscription back, and the reply
// says so in the keyword's language; a number that follows nothing is
// told only that messages may flow again.
func TestStartResumesSubscriber(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		h.start(baseConfig())
		svc := h.svc
		tests := []struct {
			word, subscribed, notFollowing string
		}{
			// START is everyone's word: the subscriber brought back hears
			// it in their subscription's language (the page's first), a
			// +36 number following nothing in Hungarian.
			{"START", "You are subscribed again", "Újra kaphat tőlünk üzeneteket"},
			{"FELIRATKOZ", "Újra feliratkozott", "Újra kaphat tőlünk üzeneteket"},
			{"ZAPISZ", "Zapisaliśmy Państwa ponownie", "Mogą Państwo znów otrzymywać"},
			{"PRIJAVA", "Ponovno ste prijavljeni", "Ponovno možete primati"},
		}
		for i, tt := range tests {
			t.Run(tt.word, func(t *testing.T) {
				num := fmt.Sprintf("+3620444440%d", i)
				sms, err := svc.Subscribe(h.ctx, notify.SubscribeRequest{PageID: h.page.ID, Kind: channel.SMS, Address: num, Confirmed: true})
				if err != nil {
					t.Fatal(err)
				}
				email, err := svc.Subscribe(h.ctx, notify.SubscribeRequest{PageID: h.page.ID, Kind: channel.Email, Address: fmt.Sprintf("start%d@example.com", i), Confirmed: true})
				if err != nil {
					t.Fatal(err)
				}
				for _, id := range []string{sms.ID, email.ID} {
					if err := svc.DeleteSubscriber(h.ctx, h.page.ID, id); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := svc.HandleInboundSMS(h.ctx, num, "+15005550006", "STOP"); err != nil {
					t.Fatal(err)
				}
				reply, err := svc.HandleInboundSMS(h.ctx, num, "+15005550006", tt.word)
				if err != nil || !strings.Contains(reply, tt.subscribed) {
					t.Errorf("reply %q, %v; want %q", reply, err, tt.subscribed)
				}
				if got, _ := svc.Subscriber(h.ctx, h.page.ID, sms.ID); got.State != audience.SubscriberActive || got.UnsubscribedAt != nil {
					t.Errorf("SMS subscriber after %s: %s, unsubscribed at %v", tt.word, got.State, got.UnsubscribedAt)
				}
				if got, _ := svc.Subscriber(h.ctx, h.page.ID, email.ID); got.State != audience.SubscriberUnsubscribed {
					t.Errorf("email subscriber after %s: %s, want unsubscribed", tt.word, got.State)
				}
				// Again: it is active, nothing more to bring back, still true.
				if reply, err := svc.HandleInboundSMS(h.ctx, num, "+15005550006", tt.word); err != nil || !strings.Contains(reply, tt.subscribed) {
					t.Errorf("second %s: %q, %v", tt.word, reply, err)
				}
				stranger := fmt.Sprintf("+3620555550%d", i)
				if reply, err := svc.HandleInboundSMS(h.ctx, stranger, "+15005550006", tt.word); err != nil || !strings.Contains(reply, tt.notFollowing) {
					t.Errorf("%s from a number that follows nothing: %q, %v; want %q", tt.word, reply, err, tt.notFollowing)
				}
			})
		}
		n, err := svc.CountSubscribers(h.ctx, h.page.ID, audience.SubscriberActive)
		if err != nil || n != len(tests) {
			t.Errorf("active subscribers %d, %v; want %d (the SMS ones only)", n, err, len(tests))
		}
	})
}

// TestSMSCodeExpires: a code works for confirmCodeLifetime (15 minutes)
// after it was sent, then fails as expired, changing nothing, whether
// typed on the page or texted back; a resent code works again.
func TestSMSCodeExpires(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		h.start(baseConfig())
		svc := h.svc
		const num = "+36206666666"
		s, err := svc.Subscribe(h.ctx, notify.SubscribeRequest{PageID: h.page.ID, Kind: channel.SMS, Address: num, Source: "page"})
		if err != nil {
			t.Fatal(err)
		}
		// codes waits until n codes were sent and their deliveries settled
		// (moving the clock on while one is still leased would expire the
		// lease and send the same code again), then returns the nth code.
		codes := func(n int) string {
			waitFor(t, "code deliveries settled", func() bool {
				ds, err := svc.Deliveries(h.ctx, queue.DeliveryFilter{PageID: h.page.ID, RecipientID: s.ID,
					States: []queue.DeliveryState{queue.StateSent, queue.StateDelivered}})
				return err == nil && len(ds) == n
			})
			var code string
			waitFor(t, "code SMS", func() bool {
				ms := h.sb.Messages(sandbox.Filter{Kind: sandbox.KindSMS, To: num})
				if len(ms) >= n {
					code = regexp.MustCompile(`\d{6}`).FindString(ms[n-1].Body)
				}
				return code != ""
			})
			return code
		}
		code := codes(1)
		h.clock.Advance(15*time.Minute + time.Second)
		_, err = svc.ConfirmCode(h.ctx, h.page.ID, num, code)
		var ie *incident.Error
		if !errors.As(err, &ie) || ie.Code != incident.EINVALID || ie.Field != "code" || !strings.Contains(ie.Message, "expired") || !strings.Contains(ie.Message, "new one") {
			t.Fatalf("ConfirmCode after 15 min = %v; want EINVALID on code saying it expired and to ask for a new one", err)
		}
		if _, err := svc.HandleInboundSMS(h.ctx, num, "+15005550006", code); !errors.Is(err, notify.ErrNotAKeyword) {
			t.Errorf("texted expired code: %v, want it not taken", err)
		}
		got, err := svc.Subscriber(h.ctx, h.page.ID, s.ID)
		if err != nil || got.State != audience.SubscriberPending {
			t.Fatalf("after expired code: %+v, %v; want still pending", got, err)
		}
		if err := svc.ResendConfirmation(h.ctx, h.page.ID, s.ID); err != nil {
			t.Fatal(err)
		}
		fresh := codes(2)
		h.clock.Advance(14 * time.Minute)
		if got, err := svc.ConfirmCode(h.ctx, h.page.ID, num, fresh); err != nil || got.State != audience.SubscriberActive {
			t.Errorf("resent code within 15 min = %+v, %v", got, err)
		}
	})
}

// TestSMSCountriesDefault: with sms_countries unset, the status page's SMS
// sign-up takes numbers of default_region's country and imported
// customers' numbers, nothing else (SMS toll fraud); "any" opens it.
func TestSMSCountriesDefault(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		h.start(baseConfig()) // DefaultRegion HU, no SMSCountries
		if _, err := h.svc.ImportCustomers(h.ctx, h.page.ID, strings.NewReader("id,name,phone\nk1,Kasia,+48 601 234 567\n"), "csv", false); err != nil {
			t.Fatal(err)
		}
		sub := func(svc *notify.Service, addr string) error {
			_, err := svc.Subscribe(h.ctx, notify.SubscribeRequest{PageID: h.page.ID, Kind: channel.SMS, Address: addr, IP: "10.1.1.1", Source: "page"})
			return err
		}
		if err := sub(h.svc, "+36 30 123 4567"); err != nil {
			t.Errorf("a number in default_region: %v", err)
		}
		if err := sub(h.svc, "+48 601 234 567"); err != nil {
			t.Errorf("an imported customer's Polish number: %v", err)
		}
		for _, n := range []string{"+48 601 999 888", "+44 7911 123456", "+1 650 253 0000"} {
			if err := sub(h.svc, n); incident.ErrorCode(err) != incident.EINVALID || !strings.Contains(err.Error(), "not available") {
				t.Errorf("%s: %v, want SMS subscriptions not available", n, err)
			}
		}
		cfg := baseConfig()
		cfg.SMSCountries = []string{"any"}
		if err := sub(h.service(cfg, nil, nil), "+44 7911 123456"); err != nil {
			t.Errorf("sms_countries any: %v", err)
		}
		if p := notify.SMSSignupPolicy(baseConfig()); !strings.Contains(p, "HU") || !strings.Contains(p, "imported customers") {
			t.Errorf("policy line %q", p)
		}
	})
}

// TestToldAboutHearsTheRest: a customer told about an incident through a
// component the manager then takes off it (declared on the wrong one)
// hears the correction and the all-clear; a customer of a component the
// incident never listed hears nothing.
func TestToldAboutHearsTheRest(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open, sandbox.Faults{})
		search := "Search"
		if _, err := h.inc.CreateComponent(h.ctx, h.page.ID, incident.ComponentInput{Name: &search}); err != nil {
			t.Fatal(err)
		}
		h.importCSV("id,name,phone,email,slack,language,time_zone,components\n" +
			"c1,Anna,,anna@example.com,,en,,API\n" +
			"c2,Bela,,bela@example.com,,en,,Billing\n" +
			"c3,Cili,,cili@example.com,,en,,Search\n")
		inc := h.declare("Logins fail", []string{h.compA.ID, h.compB.ID}, incident.PartialOutage)
		h.start(baseConfig())
		h.waitDone(h.broadcasts(inc.ID)[0].ID)

		// Billing was a mistake: the correction lists API alone.
		body, deliver := "Correction: billing is not affected.", true
		if _, err := h.inc.UpdateIncident(h.ctx, h.page.ID, inc.ID, incident.IncidentInput{Body: &body,
			DeliverNotifications: &deliver, ComponentIDs: []string{h.compA.ID},
			Components: map[string]incident.ComponentStatus{h.compA.ID: incident.PartialOutage}}); err != nil {
			t.Fatal(err)
		}
		h.waitDone(h.broadcasts(inc.ID)[1].ID)
		h.update(inc, incident.Resolved, "Fixed.", true)
		h.waitDone(h.broadcasts(inc.ID)[2].ID)

		want := map[string]int{"anna@example.com": 3, "bela@example.com": 3}
		if got := h.inbox(sandbox.KindEmail); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("email inbox = %v, want %v (Bela was told, so he hears the correction and the all-clear)", got, want)
		}
		if c, err := h.inc.Component(h.ctx, h.page.ID, h.compB.ID); err != nil || c.Status != incident.Operational {
			t.Errorf("Billing after the correction: %v, %v; want operational", c, err)
		}
	})
}
