package notify_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/configs"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify"
	"github.com/heraldhq/herald/notify/render"
	"github.com/heraldhq/herald/notify/slack"
	"github.com/heraldhq/herald/notify/smtp"
	"github.com/heraldhq/herald/notify/twilio"
	"github.com/heraldhq/herald/notify/webhook"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/sandbox"
	"github.com/heraldhq/herald/store/enginetest"
)

// engine is a real store: both of herald's engines implement both stores.
type engine interface {
	incident.Store
	notify.Store
}

// engines opens each engine that is available: SQLite in a temp file, and
// Redis at 127.0.0.1:6379 under a fresh key prefix (skipped with a loud
// message when Redis does not answer, fatal when CI=true).
var engines = []struct {
	name string
	open func(t *testing.T) engine
}{
	{"redis", func(t *testing.T) engine { return enginetest.Redis(t, "ntest") }},
}

// forEngine runs f against every engine as a subtest.
func forEngine(t *testing.T, f func(t *testing.T, open func(t *testing.T) engine)) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) { f(t, e.open) })
	}
}

// testClock is an adjustable clock: real time plus an offset.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
	fixed  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.fixed.IsZero() {
		return c.fixed.Add(c.offset)
	}
	return time.Now().Add(c.offset)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// harness is one page on a real engine, the sandbox with real provider
// clients, and a notify.Service that can be started and stopped.
type harness struct {
	t      *testing.T
	ctx    context.Context
	st     engine
	inc    *incident.Service
	events *incident.LocalEvents
	sb     *sandbox.Sandbox
	chans  map[channel.Kind]notify.Channel
	r      *render.Renderer
	clock  *testClock
	page   *incident.Page
	compA  *incident.Component
	compB  *incident.Component
	svc    *notify.Service
	stop   func()
}

func quietLog() *slog.Logger {
	if os.Getenv("NOTIFY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newHarness(t *testing.T, open func(t *testing.T) engine, faults sandbox.Faults) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx, st: open(t), events: incident.NewLocalEvents(), clock: &testClock{}}
	h.inc = incident.NewService(h.st, h.events, quietLog())
	sb, err := sandbox.Start(ctx, sandbox.Config{Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	h.sb = sb
	tw, err := twilio.New(twilio.Config{AccountSID: sandbox.DefaultAccountSID, AuthToken: sandbox.DefaultAuthToken, From: "+15005550006", APIURL: sb.TwilioURL()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	em, err := smtp.New(smtp.Config{Addr: sb.SMTPAddr(), From: "Status <status@example.com>", TLS: smtp.TLSNone, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sl, err := slack.New(slack.Config{Token: sandbox.DefaultSlackToken, APIURL: sb.SlackURL(), Timeout: 5 * time.Second, AllowPrivate: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wh, err := webhook.New(webhook.Config{Secret: "s3cret", AllowPrivate: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h.chans = map[channel.Kind]notify.Channel{channel.SMS: tw, channel.Email: em, channel.Slack: sl, channel.Webhook: wh}
	if h.r, err = render.New(configs.TemplatesFS(), nil); err != nil {
		t.Fatal(err)
	}
	name, url, tz := "Acme", "https://status.acme.test", "Europe/Budapest"
	if h.page, err = h.inc.CreatePage(ctx, incident.PageInput{Name: &name, URL: &url, TimeZone: &tz, Languages: []string{"en", "hu", "pl", "hr"}}); err != nil {
		t.Fatal(err)
	}
	a, b := "API", "Billing"
	if h.compA, err = h.inc.CreateComponent(ctx, h.page.ID, incident.ComponentInput{Name: &a}); err != nil {
		t.Fatal(err)
	}
	if h.compB, err = h.inc.CreateComponent(ctx, h.page.ID, incident.ComponentInput{Name: &b}); err != nil {
		t.Fatal(err)
	}
	return h
}

// baseConfig is fast for tests: short retries, short polls.
func baseConfig() notify.Config {
	return notify.Config{PublicURL: "https://status.acme.test", RetryBase: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		Poll: 20 * time.Millisecond, DefaultRegion: "HU", AllowPrivateWebhooks: true, MaxAttempts: 30}
}

// service builds a Service on the harness (channels nil: all of them).
func (h *harness) service(cfg notify.Config, chans map[channel.Kind]notify.Channel, st notify.Store) *notify.Service {
	h.t.Helper()
	if chans == nil {
		chans = h.chans
	}
	if st == nil {
		st = h.st
	}
	svc, err := notify.New(cfg, notify.Deps{Incidents: h.inc, Store: st, Channels: chans, Renderer: h.r, Events: h.events, Log: quietLog(), Now: h.clock.Now})
	if err != nil {
		h.t.Fatal(err)
	}
	return svc
}

// run starts svc and returns a stop func that waits for Run to return.
func (h *harness) run(svc *notify.Service) func() {
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil && !errors.Is(err, context.Canceled) {
					h.t.Errorf("Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				h.t.Errorf("Run did not return after cancel")
			}
		})
	}
	h.t.Cleanup(stop)
	return stop
}

// start builds and runs the harness's main Service.
func (h *harness) start(cfg notify.Config) {
	h.svc = h.service(cfg, nil, nil)
	h.stop = h.run(h.svc)
}

// withComplaints builds the harness's main Service (not running) with
// the store as its complaint finder, so that the planner folds the
// resolution of complainants into their complaint's answer.
func (h *harness) withComplaints(cfg notify.Config) (*notify.Service, complaint.Store) {
	h.t.Helper()
	cst, ok := h.st.(complaint.Store)
	if !ok {
		h.t.Fatalf("%T is no complaint.Store", h.st)
	}
	svc, err := notify.New(cfg, notify.Deps{Incidents: h.inc, Store: h.st, Channels: h.chans, Renderer: h.r, Events: h.events,
		Log: quietLog(), Now: h.clock.Now, Complaints: cst})
	if err != nil {
		h.t.Fatal(err)
	}
	h.svc = svc
	return svc, cst
}

func (h *harness) importCSV(csv string) {
	h.t.Helper()
	if _, err := h.svcOrNew().ImportCustomers(h.ctx, h.page.ID, strings.NewReader(csv), "csv", false); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) svcOrNew() *notify.Service {
	if h.svc == nil {
		h.svc = h.service(baseConfig(), nil, nil)
	}
	return h.svc
}

func (h *harness) declare(name string, comps []string, impact incident.ComponentStatus) *incident.Incident {
	h.t.Helper()
	st := incident.Investigating
	body := "We are looking into it."
	in := incident.IncidentInput{Name: &name, Status: &st, Body: &body, ComponentIDs: comps, Components: map[string]incident.ComponentStatus{}}
	for _, c := range comps {
		in.Components[c] = impact
	}
	inc, _, err := h.inc.CreateIncident(h.ctx, h.page.ID, in, "")
	if err != nil {
		h.t.Fatal(err)
	}
	return inc
}

func (h *harness) update(inc *incident.Incident, st incident.Status, body string, deliver bool) {
	h.t.Helper()
	if _, err := h.inc.UpdateIncident(h.ctx, h.page.ID, inc.ID, incident.IncidentInput{Status: &st, Body: &body, DeliverNotifications: &deliver}); err != nil {
		h.t.Fatal(err)
	}
}

// broadcasts returns the incident's broadcasts, oldest first.
func (h *harness) broadcasts(incID string) []*incident.Broadcast {
	h.t.Helper()
	bs, err := h.st.FindBroadcasts(h.ctx, incID)
	if err != nil {
		h.t.Fatal(err)
	}
	return bs
}

// waitDone waits until a broadcast is planned and has no open deliveries.
func (h *harness) waitDone(broadcastID string) *queue.Progress {
	h.t.Helper()
	return h.waitProgress(broadcastID, func(p *queue.Progress) bool {
		if p.State == queue.PlanPending {
			return false
		}
		for _, byState := range p.Counts {
			if byState[queue.StatePending] > 0 || byState[queue.StateSending] > 0 {
				return false
			}
		}
		return true
	})
}

func (h *harness) waitProgress(broadcastID string, ok func(*queue.Progress) bool) *queue.Progress {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var p *queue.Progress
	var err error
	for time.Now().Before(deadline) {
		p, err = h.st.Progress(h.ctx, broadcastID)
		if err == nil && ok(p) {
			return p
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatalf("broadcast %s: condition not reached: progress %+v, err %v", broadcastID, p, err)
	return nil
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// inbox counts sandbox messages per recipient for one kind.
func (h *harness) inbox(kind string) map[string]int {
	out := map[string]int{}
	for _, m := range h.sb.Messages(sandbox.Filter{Kind: kind}) {
		out[m.To]++
	}
	return out
}

func sum(p *queue.Progress, k channel.Kind, states ...queue.DeliveryState) int {
	n := 0
	for _, s := range states {
		n += p.Counts[k][s]
	}
	return n
}
