package node

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/sandbox"
)

func TestLoopbackAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.8.9.10:1": true, "[::1]:8080": true, "localhost:8080": true, "[::ffff:127.0.0.1]:80": true,
		"0.0.0.0:8080": false, ":8080": false, "[::]:8080": false, "10.0.0.5:8080": false, "example.com:80": false, "nonsense": false,
	} {
		if got := loopbackAddr(addr); got != want {
			t.Errorf("loopbackAddr(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestSandboxExposure: with no provider configured, a node on an address
// beyond loopback refuses to start its sandbox unless told to, and every
// sandbox start has secrets of its own (a well-known Twilio token would let
// anyone sign a forged STOP).
func TestSandboxExposure(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	cfg := DefaultConfig()
	cfg.Addr = "0.0.0.0:8080"
	if _, err := buildChannels(ctx, cfg, "http://0.0.0.0:8080", nil, log); err == nil || !strings.Contains(err.Error(), "--sandbox") {
		t.Fatalf("sandbox on 0.0.0.0 without --sandbox: %v, want a refusal naming --sandbox", err)
	}
	cfg.Sandbox = true
	var tokens []string
	for range 2 {
		ch, err := buildChannels(ctx, cfg, "http://0.0.0.0:8080", nil, log)
		if err != nil {
			t.Fatalf("with --sandbox: %v", err)
		}
		t.Cleanup(func() { _ = ch.closeSandbox() })
		sc := ch.sandbox.Config()
		if ch.twilioToken == sandbox.DefaultAuthToken || sc.AuthToken != ch.twilioToken || sc.SlackToken == sandbox.DefaultSlackToken ||
			sc.AccountSID == sandbox.DefaultAccountSID || len(ch.twilioToken) < 32 {
			t.Fatalf("sandbox secrets are the well-known ones: %+v", sc)
		}
		tokens = append(tokens, ch.twilioToken)
	}
	if tokens[0] == tokens[1] {
		t.Error("two starts shared one Twilio token")
	}
	// Loopback needs no flag.
	cfg.Sandbox, cfg.Addr = false, "127.0.0.1:0"
	ch, err := buildChannels(ctx, cfg, "http://127.0.0.1:8080", nil, log)
	if err != nil {
		t.Fatalf("on loopback: %v", err)
	}
	_ = ch.closeSandbox()
}

// TestSandboxSSRF: in sandbox mode anyone may sign up on the status page,
// and the sandbox may run on a public address (--sandbox). Webhook and
// Slack subscribers may point at the sandbox's own listener, so that its
// inbox shows their messages, and at no other internal address: not
// another port of the same host (here the sandbox's SMTP server, and a
// listener standing for any local service), not a private or metadata
// address, not an arbitrary plain-http "Slack" URL. Refused at sign-up,
// and at delivery by the channels themselves.
func TestSandboxSSRF(t *testing.T) {
	var hits atomic.Int32
	victim := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer victim.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Addr, cfg.LogLevel = t.TempDir(), "127.0.0.1:0", "warn"
	n, err := New(ctx, cfg, Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Run(ctx); err != nil {
		t.Fatal(err)
	}
	sb := n.Sandbox
	if sb == nil {
		t.Fatal("no sandbox")
	}

	hc := &http.Client{Timeout: 10 * time.Second}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	post := func(kind, address string) (int, string) {
		t.Helper()
		// The status page serves once the site has loaded its pages.
		var m [][]byte
		for deadline := time.Now().Add(10 * time.Second); m == nil; {
			res, err := hc.Get(n.URL + "/subscribe")
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if m = csrf.FindSubmatch(page); m == nil && time.Now().After(deadline) {
				t.Fatalf("no form token on /subscribe (%d): %s", res.StatusCode, page)
			} else if m == nil {
				time.Sleep(20 * time.Millisecond)
			}
		}
		form := url.Values{"channel": {kind}, "address": {address}, "csrf": {string(m[1])}}
		req, _ := http.NewRequest("POST", n.URL+"/subscribe", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var e struct {
			Error struct{ Field string } `json:"error"`
		}
		body, _ := io.ReadAll(res.Body)
		_ = json.Unmarshal(body, &e)
		return res.StatusCode, e.Error.Field
	}

	for _, tc := range []struct{ kind, address string }{
		{"webhook", victim.URL + "/x"},
		{"webhook", "http://" + sb.SMTPAddr() + "/x"},
		{"webhook", "http://10.0.0.1/x"},
		{"webhook", "http://169.254.169.254/latest/meta-data"},
		{"slack", victim.URL + "/services/T0/B0/x"},
		{"slack", "http://hooks.example.com/services/T0/B0/x"},
	} {
		if status, field := post(tc.kind, tc.address); status/100 != 4 || field != "address" {
			t.Errorf("%s %s: %d, field %q; want a 4xx naming address", tc.kind, tc.address, status, field)
		}
	}
	hook, slackHook := sb.WebhookURL("ops"), sb.SlackWebhookURL("T0/B0/ops")
	// The sandbox's listener also serves its inbox's "reply as the
	// customer": a post there must not text herald a STOP from a number
	// the subscriber chose.
	const victimPhone = "+36201111111"
	replyHook := "http://" + sb.HTTPAddr() + "/sandbox/reply?" + url.Values{"from": {victimPhone}, "body": {"STOP"}}.Encode()
	for _, tc := range []struct{ kind, address string }{{"webhook", hook}, {"slack", slackHook}, {"webhook", replyHook}} {
		if status, field := post(tc.kind, tc.address); status != http.StatusOK {
			t.Fatalf("%s %s: %d, field %q; want 200", tc.kind, tc.address, status, field)
		}
	}

	// A broadcast reaches both sinks.
	actx := incident.WithActor(ctx, incident.Actor{Name: "test", Role: incident.RoleManager})
	name, body, st, notifyAll := "Card payments fail", "Investigating.", incident.Investigating, true
	if _, _, err := n.Incidents.CreateIncident(actx, n.Page.ID, incident.IncidentInput{Name: &name, Body: &body, Status: &st, DeliverNotifications: &notifyAll}, ""); err != nil {
		t.Fatal(err)
	}
	for _, f := range []sandbox.Filter{{Kind: sandbox.KindWebhook, To: hook}, {Kind: sandbox.KindSlack, To: slackHook}} {
		for deadline := time.Now().Add(20 * time.Second); len(sb.Messages(f)) == 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s message to %s in the inbox", f.Kind, f.To)
			}
		}
	}
	final := queue.DeliveryFilter{PageID: n.Page.ID, Kind: channel.Webhook, Address: replyHook,
		States: []queue.DeliveryState{queue.StateSent, queue.StateDelivered, queue.StateUndelivered, queue.StateFailed}}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ds, err := n.Notify.Deliveries(actx, final)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) > 0 {
			if ds[0].State != queue.StateFailed {
				t.Errorf("the post to /sandbox/reply: %s, want failed", ds[0].State)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the post to /sandbox/reply never ended")
		}
	}
	if ms := sb.Messages(sandbox.Filter{Kind: sandbox.KindSMS, To: victimPhone}); len(ms) != 0 {
		t.Errorf("herald answered a forged text from %s: %q", victimPhone, ms[0].Body)
	}

	// The channels refuse at delivery too: a subscriber stored before
	// this check, or a name that resolves to loopback, gets no further.
	for kind, to := range map[channel.Kind]string{channel.Webhook: victim.URL + "/x", channel.Slack: victim.URL + "/services/T0/B0/x"} {
		_, err := n.chans.byKind[kind].Send(ctx, &channel.Message{Kind: kind, To: to, Text: "x", Payload: []byte(`{}`)})
		if !channel.IsPermanent(err) {
			t.Errorf("%s send to %s: %v, want a permanent refusal", kind, to, err)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("the local listener got %d requests", hits.Load())
	}
}

// TestSandboxAllowPrivate: webhooks_allow_private keeps its meaning in
// sandbox mode: the rules are off, for every address.
func TestSandboxAllowPrivate(t *testing.T) {
	var hits atomic.Int32
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer local.Close()
	cfg := DefaultConfig()
	cfg.Addr, cfg.Broadcast.AllowPrivate = "127.0.0.1:0", true
	ch, err := buildChannels(context.Background(), cfg, "http://127.0.0.1:8080", nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.closeSandbox()
	if ch.sandbox == nil {
		t.Fatal("no sandbox")
	}
	if _, err := ch.byKind[channel.Webhook].Send(context.Background(), &channel.Message{Kind: channel.Webhook, To: local.URL + "/x", Payload: []byte(`{}`)}); err != nil {
		t.Fatalf("webhook to a local listener with webhooks_allow_private: %v", err)
	}
	if n := cfg.Broadcast.NotifyConfig("http://127.0.0.1:8080"); !n.AllowPrivateWebhooks {
		t.Error("notify's sign-up check is not told webhooks_allow_private")
	}
	if hits.Load() != 1 {
		t.Errorf("hits %d, want 1", hits.Load())
	}
}
