package server

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/configs"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify"
	"github.com/heraldhq/herald/notify/render"
	"github.com/heraldhq/herald/notify/slack"
	"github.com/heraldhq/herald/notify/smtp"
	"github.com/heraldhq/herald/notify/twilio"
	"github.com/heraldhq/herald/notify/webhook"
	"github.com/heraldhq/herald/sandbox"
	"github.com/heraldhq/herald/store/enginetest"
)

const testSlackSecret = "slacksecret"

// bcEnv is env with the fan-out: a real notify.Service on the same SQLite
// store, the sandbox's Twilio, SMTP, Slack and webhook servers behind the
// real provider clients, and the server's broadcast routes. The notify
// wiring is notify's own test harness (notify/harness_test.go), cut down.
type bcEnv struct {
	*env
	sb     *sandbox.Sandbox
	n      *notify.Service
	compA  *incident.Component
	compB  *incident.Component
	public string // http://127.0.0.1:port: the base Twilio signs
}

// bcOption changes the server's Config or the BroadcastConfig of a bcEnv;
// either func may be nil.
type bcOption struct {
	server    func(*Config)
	broadcast func(*BroadcastConfig)
	// enable adds features to the server after EnableBroadcast, before it
	// serves (fiber's routes cannot change while serving).
	enable func(*bcEnv)
	// redis puts the env on the test Redis (enginetest.Redis) instead of
	// a fresh SQLite file.
	redis bool
}

// newBroadcastEnv builds a bcEnv; run starts notify.Service.Run (without
// it nothing is planned or sent, which the cancel test wants).
func newBroadcastEnv(t *testing.T, run bool, opts ...bcOption) *bcEnv {
	t.Helper()
	var serverOpts []func(*Config)
	onRedis := false
	for _, o := range opts {
		if o.server != nil {
			serverOpts = append(serverOpts, o.server)
		}
		onRedis = onRedis || o.redis
	}
	var e *env
	if onRedis {
		e = newEnvOn(t, enginetest.Redis(t, "heraldtest-server-"), serverOpts...)
	} else {
		e = newEnv(t, serverOpts...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	langs := []string{"en", "hu", "pl", "hr"}
	page, err := e.svc.UpdatePage(ctx, e.page.ID, incident.PageInput{Languages: langs})
	if err != nil {
		t.Fatal(err)
	}
	e.page, e.site.page = page, page
	b := &bcEnv{env: e}
	a, bn := "API", "Billing"
	if b.compA, err = e.svc.CreateComponent(ctx, page.ID, incident.ComponentInput{Name: &a}); err != nil {
		t.Fatal(err)
	}
	if b.compB, err = e.svc.CreateComponent(ctx, page.ID, incident.ComponentInput{Name: &bn}); err != nil {
		t.Fatal(err)
	}

	if b.sb, err = sandbox.Start(ctx, sandbox.Config{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.sb.Close() })
	// The server's address is known before it serves: it goes into the
	// Twilio status callback URL.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.public = "http://" + ln.Addr().String()
	tw, err := twilio.New(twilio.Config{AccountSID: sandbox.DefaultAccountSID, AuthToken: sandbox.DefaultAuthToken, From: "+15005550006",
		APIURL: b.sb.TwilioURL(), StatusCallbackURL: b.public + "/webhooks/twilio/status"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	em, err := smtp.New(smtp.Config{Addr: b.sb.SMTPAddr(), From: "Status <status@example.com>", TLS: smtp.TLSNone, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sl, err := slack.New(slack.Config{Token: sandbox.DefaultSlackToken, APIURL: b.sb.SlackURL(), Timeout: 5 * time.Second, AllowPrivate: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wh, err := webhook.New(webhook.Config{Secret: "s3cret", AllowPrivate: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r, err := render.New(configs.TemplatesFS(), nil)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	b.n, err = notify.New(notify.Config{PublicURL: "https://status.example.com", RetryBase: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		Poll: 20 * time.Millisecond, DefaultRegion: "HU", AllowPrivateWebhooks: true, MaxAttempts: 30},
		notify.Deps{Incidents: e.svc, Store: e.db, Events: e.events, Renderer: r, Log: quiet,
			Channels: map[channel.Kind]notify.Channel{channel.SMS: tw, channel.Email: em, channel.Slack: sl, channel.Webhook: wh}})
	if err != nil {
		t.Fatal(err)
	}
	if run {
		done := make(chan error, 1)
		go func() { done <- b.n.Run(ctx) }()
		var once sync.Once
		stop := func() {
			once.Do(func() {
				cancel()
				if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("notify Run: %v", err)
				}
			})
		}
		t.Cleanup(stop)
		// Nothing sends once Run has stopped, so the sandbox then makes
		// no more status callbacks to the server.
		e.beforeShutdown = append(e.beforeShutdown, stop)
	}
	bc := BroadcastConfig{PublicURL: b.public, TwilioAuthToken: sandbox.DefaultAuthToken,
		SlackSigningSecret: testSlackSecret, Secrets: e.db, Sandbox: b.sb.Handler(), SandboxGuarded: b.sb.GuardedHandler(), ImportLimit: 1 << 20,
		ProgressInterval: 20 * time.Millisecond}
	for _, o := range opts {
		if o.broadcast != nil {
			o.broadcast(&bc)
		}
	}
	err = e.srv.EnableBroadcast(b.n, bc)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		if o.enable != nil {
			o.enable(b)
		}
	}
	// The sandbox posts Twilio status callbacks to the server: closing it
	// closes its client's connections, so the server's Shutdown has none
	// of them to wait for (see serveOn).
	e.beforeShutdown = append(e.beforeShutdown, func() { _ = b.sb.Close() })
	e.serveOn(t, ln)
	return b
}

// form posts an urlencoded form; headers as in do.
func (b *bcEnv) form(t *testing.T, path string, v url.Values, headers ...string) response {
	t.Helper()
	return b.do(t, "POST", path, "", v.Encode(), append([]string{"Content-Type", "application/x-www-form-urlencoded"}, headers...)...)
}

// twilioPost posts a form to a Twilio webhook, signed with token ("" unsigned).
func (b *bcEnv) twilioPost(t *testing.T, path string, v url.Values, token string) response {
	t.Helper()
	sig := "bm90IGEgc2lnbmF0dXJl"
	if token != "" {
		sig = sandbox.TwilioSignature(token, b.public+path, v)
	}
	return b.form(t, path, v, twilio.HeaderSignature, sig)
}

// slackPost posts a form body to a Slack webhook signed with secret at ts.
func (b *bcEnv) slackPost(t *testing.T, path, body, secret string, ts time.Time) response {
	t.Helper()
	stamp := strconv.FormatInt(ts.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("v0:" + stamp + ":" + body))
	return b.do(t, "POST", path, "", body, "Content-Type", "application/x-www-form-urlencoded",
		slack.HeaderTimestamp, stamp, slack.HeaderSignature, "v0="+hex.EncodeToString(m.Sum(nil)))
}

// waitSandbox waits for n messages of kind at the sandbox.
func (b *bcEnv) waitSandbox(t *testing.T, n int, kind string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.sb.WaitFor(ctx, n, kind); err != nil {
		t.Fatal(err)
	}
}

// lastTo returns the newest sandbox message of kind to addr.
func (b *bcEnv) lastTo(t *testing.T, kind, to string) sandbox.Message {
	t.Helper()
	ms := b.sb.Messages(sandbox.Filter{Kind: kind, To: to})
	if len(ms) == 0 {
		t.Fatalf("no %s message to %s", kind, to)
	}
	return ms[len(ms)-1]
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf returns the form token of an HTML page.
func csrfOf(t *testing.T, r response) string {
	t.Helper()
	m := csrfRe.FindSubmatch(r.body)
	if m == nil {
		t.Fatalf("no csrf field in %s", r.body)
	}
	return string(m[1])
}

// sseEvent is one server-sent event.
type sseEvent struct {
	name, data string
}

// readEvents reads a whole SSE stream until the server ends it.
func readEvents(t *testing.T, resp *http.Response) []sseEvent {
	t.Helper()
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.name != "" {
				out = append(out, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data += strings.TrimPrefix(line, "data: ")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read events: %v", err)
	}
	return out
}
