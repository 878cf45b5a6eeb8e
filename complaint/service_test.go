package complaint_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/store/enginetest"
)

// engine is a real store: both of herald's engines implement all three.
type engine interface {
	incident.Store
	complaint.Store
	audience.Store
}

// engines opens each engine: SQLite in a temp file, and Redis at
// 127.0.0.1:6379 under a fresh key prefix (skipped with a loud message
// when Redis does not answer, fatal when CI=true).
var engines = []struct {
	name string
	open func(t *testing.T) engine
}{
	{"sqlite", func(t *testing.T) engine { return enginetest.SQLite(t) }},
	{"redis", func(t *testing.T) engine { return enginetest.Redis(t, "ctest") }},
}

// forEngine runs f against every engine as a subtest.
func forEngine(t *testing.T, f func(t *testing.T, open func(t *testing.T) engine)) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) { f(t, e.open) })
	}
}

// t0 is the harness's start time, millisecond-aligned.
var t0 = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

// clock is the injected clock: it moves only when told to.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t0 + d.
func (c *clock) Set(d time.Duration) {
	c.mu.Lock()
	c.t = t0.Add(d)
	c.mu.Unlock()
}

// ask is one call to the Acknowledger.
type ask struct {
	ComplaintID string
	Answer      complaint.Answer
	Key, Text   string
	Failed      bool
}

// recorder is the Acknowledger: notify's interface, faked by hand. It
// records every ask and fails while fail is set.
type recorder struct {
	mu   sync.Mutex
	asks []ask
	fail error
}

func (r *recorder) Answer(_ context.Context, c *complaint.Complaint, a complaint.Answer, key, text string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asks = append(r.asks, ask{ComplaintID: c.ID, Answer: a, Key: key, Text: text, Failed: r.fail != nil})
	return r.fail
}

func (r *recorder) setFail(err error) {
	r.mu.Lock()
	r.fail = err
	r.mu.Unlock()
}

// ok returns the asks that succeeded, for complaint id ("" : every one).
func (r *recorder) ok(id string) []ask {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ask
	for _, a := range r.asks {
		if !a.Failed && (id == "" || a.ComplaintID == id) {
			out = append(out, a)
		}
	}
	return out
}

// all returns every ask, failed ones too.
func (r *recorder) all() []ask {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ask(nil), r.asks...)
}

// harness is one page on a real engine with three components and two
// imported customers, an incident.Service and a complaint.Service sharing
// the injected clock, and the recording Acknowledger.
type harness struct {
	t                        *testing.T
	ctx                      context.Context
	st                       engine
	clock                    *clock
	inc                      *incident.Service
	svc                      *complaint.Service
	ack                      *recorder
	page                     *incident.Page
	payments, checkout, auth *incident.Component
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func ptr[T any](v T) *T { return &v }

// Customers on the page: Ann (Hungarian, gold plan, uses Card payments)
// and Bob (Polish, no plan, uses Checkout).
const (
	annPhone = "+36201110001"
	annEmail = "ann@example.com"
	annSlack = "U0ANN"
	bobPhone = "+48601110002"
)

func newHarness(t *testing.T, open func(t *testing.T) engine) *harness {
	t.Helper()
	ctx := context.Background()
	st := open(t)
	h := &harness{t: t, ctx: ctx, st: st, clock: &clock{t: t0}, ack: &recorder{}}
	h.inc = incident.NewService(st, nil, quietLog())
	h.inc.Now = h.clock.Now
	page, err := h.inc.CreatePage(ctx, incident.PageInput{Name: ptr("Acme"), URL: ptr("https://status.acme.test")})
	if err != nil {
		t.Fatal(err)
	}
	h.page = page
	var comps []*incident.Component
	for _, name := range []string{"Card payments", "Checkout", "Login"} {
		c, err := h.inc.CreateComponent(ctx, page.ID, incident.ComponentInput{Name: ptr(name)})
		if err != nil {
			t.Fatal(err)
		}
		comps = append(comps, c)
	}
	h.payments, h.checkout, h.auth = comps[0], comps[1], comps[2]
	_, err = st.UpsertCustomers(ctx, []*audience.Customer{
		{ID: "ann", PageID: page.ID, Name: "Ann Lee", Phone: annPhone, Email: annEmail, Slack: annSlack,
			Language: "hu", TimeZone: "Europe/Budapest", Plan: "gold", Components: []string{h.payments.ID}, CreatedAt: t0, UpdatedAt: t0},
		{ID: "bob", PageID: page.ID, Name: "Bob Nowak", Phone: bobPhone, Email: "bob@example.com",
			Language: "pl", TimeZone: "Europe/Warsaw", Components: []string{h.checkout.ID}, CreatedAt: t0, UpdatedAt: t0},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.svc = h.service()
	return h
}

// service returns a complaint.Service on the harness's store, clock and
// recorder: another node when called again.
func (h *harness) service() *complaint.Service {
	s := complaint.NewService(h.st, h.st, h.st, h.ack, nil, quietLog())
	s.Subscribers = h.st
	s.Now = h.clock.Now
	return s
}

// declare opens an incident with a major outage of comps.
func (h *harness) declare(name string, comps ...*incident.Component) *incident.Incident {
	h.t.Helper()
	st := map[string]incident.ComponentStatus{}
	for _, c := range comps {
		st[c.ID] = incident.MajorOutage
	}
	inc, _, err := h.inc.CreateIncident(h.ctx, h.page.ID, incident.IncidentInput{Name: ptr(name), Body: ptr("We are investigating."), Components: st}, "")
	if err != nil {
		h.t.Fatal(err)
	}
	return inc
}

// resolveIncident resolves inc with body as its last update.
func (h *harness) resolveIncident(inc *incident.Incident, body string) {
	h.t.Helper()
	if _, err := h.inc.UpdateIncident(h.ctx, h.page.ID, inc.ID, incident.IncidentInput{Status: ptr(incident.Resolved), Body: ptr(body)}); err != nil {
		h.t.Fatal(err)
	}
}

// receive files in on the harness's page and fails the test on an error.
func (h *harness) receive(in complaint.Intake) (*complaint.Complaint, bool) {
	h.t.Helper()
	if in.PageID == "" {
		in.PageID = h.page.ID
	}
	if in.Channel == "" {
		in.Channel = complaint.SMS
	}
	c, created, err := h.svc.Receive(h.ctx, in)
	if err != nil {
		h.t.Fatalf("Receive(%+v): %v", in, err)
	}
	return c, created
}

// get reads a complaint back from the store.
func (h *harness) get(id string) *complaint.Complaint {
	h.t.Helper()
	c, err := h.st.FindComplaintByID(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// entries returns a complaint's timeline entries of kind ("" : all).
func (h *harness) entries(id string, kind complaint.EntryKind) []*complaint.Entry {
	h.t.Helper()
	es, err := h.st.FindEntries(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []*complaint.Entry
	for _, e := range es {
		if kind == "" || e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// count returns how many complaints the page has.
func (h *harness) count() int {
	h.t.Helper()
	_, n, err := h.st.FindComplaints(h.ctx, complaint.Filter{PageID: h.page.ID})
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

// sweep runs the service's sweep at t0 + d.
func (h *harness) sweep(d time.Duration) {
	h.t.Helper()
	h.clock.Set(d)
	if err := h.svc.Sweep(h.ctx); err != nil {
		h.t.Fatalf("Sweep at +%s: %v", d, err)
	}
}

// wantField checks that err is EINVALID naming field.
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var e *incident.Error
	if !errors.As(err, &e) || e.Code != incident.EINVALID || e.Field != field {
		t.Errorf("error = %v, want EINVALID naming %q", err, field)
	}
}

// wantCode checks err's code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := incident.ErrorCode(err); got != code {
		t.Errorf("error = %v (code %q), want %s", err, got, code)
	}
}

func wantAsks(t *testing.T, got []ask, want ...ask) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("asks = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("ask %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// ---- Receive ----

func TestReceiveIdentity(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		annFull := complaint.Contact{CustomerID: "ann", Name: "Ann Lee", Phone: annPhone, Email: annEmail, Slack: annSlack, TimeZone: "Europe/Budapest"}
		tests := []struct {
			name     string
			channel  complaint.Channel
			contact  complaint.Contact
			want     complaint.Contact
			wantLang string
		}{
			{"by phone", complaint.SMS, complaint.Contact{Phone: annPhone}, annFull, "hu"},
			{"by email", complaint.Email, complaint.Contact{Email: annEmail}, annFull, "hu"},
			{"by Slack user", complaint.Slack, complaint.Contact{Slack: annSlack}, annFull, "hu"},
			{"by customer ID", complaint.API, complaint.Contact{CustomerID: "ann"}, annFull, "hu"},
			{"the customer's record names them", complaint.Web, complaint.Contact{Email: annEmail, Name: "A. Lee"}, annFull, "hu"},
			{"a call keeps the caller's name", complaint.Phone, complaint.Contact{Phone: annPhone, Name: "Ann's husband"},
				complaint.Contact{CustomerID: "ann", Name: "Ann's husband", Phone: annPhone, Email: annEmail, Slack: annSlack, TimeZone: "Europe/Budapest"}, "hu"},
			{"what the contact gave wins over the record's address", complaint.Web, complaint.Contact{CustomerID: "ann", Email: "ann.lee@work.example"},
				complaint.Contact{CustomerID: "ann", Name: "Ann Lee", Phone: annPhone, Email: "ann.lee@work.example", Slack: annSlack, TimeZone: "Europe/Budapest"}, "hu"},
			{"unknown contact, the number's language", complaint.SMS, complaint.Contact{Phone: "+36209999999"},
				complaint.Contact{Phone: "+36209999999"}, "hu"},
			{"unknown Polish number", complaint.SMS, complaint.Contact{Phone: "+48601999999"},
				complaint.Contact{Phone: "+48601999999"}, "pl"},
			{"unknown Croatian address", complaint.Email, complaint.Contact{Email: "ivo@primjer.hr"},
				complaint.Contact{Email: "ivo@primjer.hr"}, "hr"},
			{"unknown contact, no hint: the page's first language", complaint.Email, complaint.Contact{Email: "someone@example.com"},
				complaint.Contact{Email: "someone@example.com"}, "en"},
			{"unknown number from elsewhere", complaint.SMS, complaint.Contact{Phone: "+4915112345678"},
				complaint.Contact{Phone: "+4915112345678"}, "en"},
			{"unknown caller by name", complaint.Phone, complaint.Contact{Name: "Walk-in"},
				complaint.Contact{Name: "Walk-in"}, "en"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := newHarness(t, open)
				c, created := h.receive(complaint.Intake{Channel: tt.channel, Contact: tt.contact, Text: "I cannot pay"})
				if !created {
					t.Error("created = false, want a new complaint")
				}
				stored := h.get(c.ID)
				if stored.Contact != tt.want {
					t.Errorf("contact = %+v, want %+v", stored.Contact, tt.want)
				}
				if stored.Language != tt.wantLang {
					t.Errorf("language = %q, want %q", stored.Language, tt.wantLang)
				}
				if stored.Channel != tt.channel || stored.Ref != complaint.NewRef(c.ID) || stored.Messages != 1 ||
					stored.Ask != complaint.AskInformation || stored.Severity != complaint.SeverityNormal {
					t.Errorf("stored = %+v", stored)
				}
				if tt.channel == complaint.Phone {
					// The agent answered on the phone: no receipt saying a
					// person will answer, and the call is the first answer.
					if stored.State != complaint.StateInProgress || stored.AckedAt != nil || stored.FirstAnswerAt == nil || len(h.ack.all()) != 0 {
						t.Errorf("a call: state %s, acked %v, first answer %v, asks %+v; want in_progress, answered, no receipt",
							stored.State, stored.AckedAt, stored.FirstAnswerAt, h.ack.all())
					}
					var notes []string
					for _, e := range h.entries(c.ID, complaint.EntryNote) {
						notes = append(notes, e.Event)
					}
					if !slices.Contains(notes, complaint.EventAckCall) {
						t.Errorf("a call's notes %v lack %s", notes, complaint.EventAckCall)
					}
					return
				}
				if stored.State != complaint.StateAcknowledged || stored.AckedAt == nil {
					t.Errorf("state = %s, acked %v; want acknowledged", stored.State, stored.AckedAt)
				}
				wantAsks(t, h.ack.all(), ask{ComplaintID: c.ID, Answer: complaint.AnswerReceived, Key: "ack"})
			})
		}
	})
}

// TestReceiveLanguageOfPage: an unknown contact's guessed language is
// used only when the page speaks it; else the page's first language.
func TestReceiveLanguageOfPage(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		if _, err := h.inc.UpdatePage(context.Background(), h.page.ID, incident.PageInput{Languages: []string{"pl", "en"}}); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct{ phone, want string }{{"+36209999999", "pl"}, {"+48601999999", "pl"}, {"+447911123456", "en"}} {
			c, _ := h.receive(complaint.Intake{Channel: complaint.SMS, Contact: complaint.Contact{Phone: tt.phone}, Text: "I cannot pay"})
			if got := h.get(c.ID).Language; got != tt.want {
				t.Errorf("%s: language %q, want %q", tt.phone, got, tt.want)
			}
		}
	})
}

func TestReceiveTagging(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		inc := h.declare("Card payments are failing", h.payments)
		h.clock.Set(10 * time.Minute)

		// Ann uses Card payments: tagged, an outage, answered with what we know.
		tagged, _ := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: annPhone}, Text: "hello?"})
		tagged = h.get(tagged.ID)
		if tagged.IncidentID() != inc.ID || tagged.Tag.By != "auto" || tagged.Tag.Confidence < complaint.DefaultThreshold ||
			!strings.Contains(tagged.Tag.Reason, "customer uses Card payments") {
			t.Errorf("tag = %+v, want auto to %s with the component as the reason", tagged.Tag, inc.ID)
		}
		if tagged.Suggestion != nil || tagged.Category != complaint.CategoryOutage {
			t.Errorf("suggestion %+v, category %s; want none and outage", tagged.Suggestion, tagged.Category)
		}
		if len(h.entries(tagged.ID, complaint.EntryTag)) != 1 {
			t.Errorf("tag entries = %d, want 1", len(h.entries(tagged.ID, complaint.EntryTag)))
		}

		// Zofia is no customer but subscribed to Card payments on the
		// page (and got its messages): tagged as a customer of it would be.
		if err := h.st.SaveSubscriber(h.ctx, &audience.Subscriber{ID: "sub-zofia", PageID: h.page.ID, Kind: channel.Email, Address: "zofia@example.pl",
			Language: "pl", ComponentIDs: []string{h.payments.ID}, State: audience.SubscriberActive, Source: "page", CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		sub, _ := h.receive(complaint.Intake{Channel: complaint.Email, Contact: complaint.Contact{Email: "Zofia@example.pl"}, Text: "Płatność nie działa."})
		sub = h.get(sub.ID)
		if sub.IncidentID() != inc.ID || !strings.Contains(sub.Tag.Reason, "Card payments") || sub.Language != "pl" {
			t.Errorf("a subscriber's complaint: tag %+v, suggestion %+v, language %q; want tagged by the component they follow, in Polish", sub.Tag, sub.Suggestion, sub.Language)
		}

		// An unknown contact with nothing but timing: a suggestion, in triage.
		triage, _ := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: "+36209999999"}, Text: "hello?"})
		triage = h.get(triage.ID)
		if triage.Tag != nil || triage.Suggestion == nil || triage.Suggestion.IncidentID != inc.ID ||
			triage.Suggestion.Confidence >= complaint.DefaultThreshold || triage.Suggestion.Reason == "" {
			t.Errorf("tag %+v, suggestion %+v; want untagged with a suggestion below the threshold", triage.Tag, triage.Suggestion)
		}
		if triage.Category != complaint.CategoryOther {
			t.Errorf("category = %s, want other", triage.Category)
		}

		// An agent's category and incident win.
		chosen, _ := h.receive(complaint.Intake{Channel: complaint.Phone, Contact: complaint.Contact{Name: "Caller"}, Text: "refund please",
			Category: complaint.CategoryRefund, IncidentID: inc.ID})
		if chosen.IncidentID() != inc.ID || chosen.Tag.Confidence != 1 || chosen.Category != complaint.CategoryRefund {
			t.Errorf("tag %+v, category %s; want the agent's", chosen.Tag, chosen.Category)
		}

		wantAsks(t, h.ack.all(),
			ask{ComplaintID: tagged.ID, Answer: complaint.AnswerKnown, Key: "ack"},
			ask{ComplaintID: sub.ID, Answer: complaint.AnswerKnown, Key: "ack"},
			ask{ComplaintID: triage.ID, Answer: complaint.AnswerReceived, Key: "ack"},
			ask{ComplaintID: chosen.ID, Answer: complaint.AnswerKnown, Key: "ack"})
	})
}

func TestReceiveDueTimes(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		tests := []struct {
			name          string
			in            complaint.Intake
			first, reslve time.Duration
		}{
			{"default", complaint.Intake{Contact: complaint.Contact{Phone: "+36209999999"}}, 24 * time.Hour, 48 * time.Hour},
			{"category", complaint.Intake{Contact: complaint.Contact{Phone: "+36209999999"}, Category: complaint.CategoryRefund}, 8 * time.Hour, 72 * time.Hour},
			{"plan", complaint.Intake{Contact: complaint.Contact{Phone: annPhone}}, 4 * time.Hour, 96 * time.Hour},
			{"category and plan: the stricter", complaint.Intake{Contact: complaint.Contact{Phone: annPhone}, Category: complaint.CategoryRefund}, 4 * time.Hour, 72 * time.Hour},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := newHarness(t, open)
				h.svc.Policy.ByCategory = map[complaint.Category]complaint.Durations{complaint.CategoryRefund: {FirstAnswer: 8 * time.Hour, Resolve: 72 * time.Hour}}
				h.svc.Policy.ByPlan = map[string]complaint.Durations{"gold": {FirstAnswer: 4 * time.Hour, Resolve: 96 * time.Hour}}
				h.clock.Set(time.Hour)
				in := tt.in
				in.Text = "something is wrong"
				c, _ := h.receive(in)
				c = h.get(c.ID)
				at := t0.Add(time.Hour)
				if !c.CreatedAt.Equal(at) || !c.FirstAnswerDue.Equal(at.Add(tt.first)) || !c.ResolveDue.Equal(at.Add(tt.reslve)) {
					t.Errorf("created %s, due %s / %s; want %s, +%s, +%s", c.CreatedAt, c.FirstAnswerDue, c.ResolveDue, at, tt.first, tt.reslve)
				}
				if want := at.Add(tt.first - complaint.DefaultWarnBefore); !c.CheckAt.Equal(want) {
					t.Errorf("check at %s, want %s", c.CheckAt, want)
				}
			})
		}
	})
}

func TestReceiveOwnerRoundRobin(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		h.svc.OnDuty = []string{"alice", "bert", "cleo"}
		other := h.service() // a second node shares the turn
		other.OnDuty = h.svc.OnDuty
		var got []string
		for i, phone := range []string{"+36200000001", "+36200000002", "+36200000003", "+36200000004", "+36200000005"} {
			svc := h.svc
			if i%2 == 1 {
				svc = other
			}
			c, _, err := svc.Receive(h.ctx, complaint.Intake{PageID: h.page.ID, Channel: complaint.SMS, Contact: complaint.Contact{Phone: phone}, Text: "help"})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, h.get(c.ID).Owner)
			if es := h.entries(c.ID, complaint.EntryAssign); len(es) != 1 || es[0].Text != "owner: "+c.Owner {
				t.Errorf("assign entries = %+v", es)
			}
		}
		// An agent who records a call owns it, and takes no turn.
		dora := incident.WithActor(h.ctx, incident.Actor{TokenID: "t1", Name: "dora", Role: incident.RoleAgent})
		c, _, err := h.svc.Receive(dora, complaint.Intake{PageID: h.page.ID, Channel: complaint.Phone, Contact: complaint.Contact{Name: "Caller"}, Text: "call", Owner: "dora"})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c.Owner)
		c, _ = h.receive(complaint.Intake{Contact: complaint.Contact{Phone: "+36200000006"}, Text: "help"})
		got = append(got, c.Owner)
		want := "alice bert cleo alice bert dora cleo"
		if strings.Join(got, " ") != want {
			t.Errorf("owners = %s, want %s", strings.Join(got, " "), want)
		}
	})
}

// TestRepeatGoesToPreviousOwner: a customer who writes again about the
// same incident after their first complaint was answered (their choice of
// compensation after the all-clear) reaches the agent who owned the first,
// not the next agent in turn, whose turn is not used up.
func TestRepeatGoesToPreviousOwner(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		h.svc.OnDuty = []string{"alice", "bert", "cleo"}
		inc := h.declare("Card payments are failing", h.payments)
		first, _ := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: annPhone}, Text: "my card payment failed", IncidentID: inc.ID})
		if first.Owner != "alice" {
			t.Fatalf("first complaint's owner %q, want alice (the first turn)", first.Owner)
		}
		if _, err := h.svc.Resolve(h.ctx, h.page.ID, first.ID, complaint.RemedyApology, "Payments work again."); err != nil {
			t.Fatal(err)
		}
		h.clock.Set(3 * time.Hour)
		again, created := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: annPhone}, Text: "I choose the free day", IncidentID: inc.ID})
		if !created || again.ID == first.ID || !again.Repeat {
			t.Fatalf("the second message: created %v, id %s, repeat %v; want a new repeat complaint", created, again.ID, again.Repeat)
		}
		if again.Owner != "alice" {
			t.Errorf("the repeat's owner %q, want alice, who owned the first", again.Owner)
		}
		other, _ := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: "+36200000009"}, Text: "help"})
		if other.Owner != "bert" {
			t.Errorf("the next new customer's owner %q, want bert (the repeat took no turn)", other.Owner)
		}
	})
}

// TestSeparateOpensItsOwn: a task herald files about a customer who has
// an open complaint (a survey's win-back) opens a complaint of its own,
// with its subject and category, instead of becoming one more message on
// theirs; a retry of it is the same complaint.
func TestSeparateOpensItsOwn(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		theirs, _ := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: annPhone}, Text: "I want the free day"})
		h.clock.Set(time.Minute)
		task := complaint.Intake{Contact: complaint.Contact{Phone: annPhone}, Subject: "Unhappy after the incident: call them",
			Text: "Survey: 2/5", Category: complaint.Category("follow_up"), ExternalID: "survey:s1:1", Separate: true}
		got, created := h.receive(task)
		if !created || got.ID == theirs.ID || got.Subject != task.Subject || got.Category != "follow_up" {
			t.Fatalf("the task: created %v, %s (theirs %s), subject %q, category %s", created, got.ID, theirs.ID, got.Subject, got.Category)
		}
		if again, created := h.receive(task); created || again.ID != got.ID {
			t.Errorf("the task retried: created %v, %s; want %s again", created, again.ID, got.ID)
		}
		if after := h.get(theirs.ID); after.Messages != 1 {
			t.Errorf("the customer's complaint has %d messages, want 1", after.Messages)
		}
	})
}

func TestReceiveExternalIDRetry(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		in := complaint.Intake{Contact: complaint.Contact{Phone: bobPhone}, Text: "nothing works", ExternalID: "SM123"}
		first, created := h.receive(in)
		if !created {
			t.Fatal("first: created = false")
		}
		before := h.entries(first.ID, "")
		// The provider retries, a minute later and again after the attach window.
		for _, d := range []time.Duration{time.Minute, time.Hour} {
			h.clock.Set(d)
			again, created := h.receive(in)
			if created || again.ID != first.ID {
				t.Errorf("+%s: retry = %s (created %v), want %s", d, again.ID, created, first.ID)
			}
		}
		c := h.get(first.ID)
		if c.Messages != 1 || c.Version != first.Version {
			t.Errorf("messages %d, version %d; want 1 and %d", c.Messages, c.Version, first.Version)
		}
		if after := h.entries(first.ID, ""); len(after) != len(before) {
			t.Errorf("entries %d after the retries, want %d", len(after), len(before))
		}
		if h.count() != 1 {
			t.Errorf("%d complaints, want 1", h.count())
		}
		wantAsks(t, h.ack.all(), ask{ComplaintID: first.ID, Answer: complaint.AnswerReceived, Key: "ack"})
	})
}

func TestReceiveInvalid(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		ok := complaint.Intake{PageID: h.page.ID, Channel: complaint.SMS, Contact: complaint.Contact{Phone: "+36209999999"}, Text: "help"}
		long := strings.Repeat("é", complaint.MaxTextLen+1)
		tests := []struct {
			field string
			edit  func(in *complaint.Intake)
		}{
			{"channel", func(in *complaint.Intake) { in.Channel = "" }},
			{"channel", func(in *complaint.Intake) { in.Channel = "fax" }},
			{"text", func(in *complaint.Intake) { in.Text = "  \n " }},
			// Too long from an agent (what a customer sends is cut instead:
			// TestReceiveCleansCustomersWords).
			{"text", func(in *complaint.Intake) { in.Channel, in.Text = complaint.Phone, long }},
			{"subject", func(in *complaint.Intake) {
				in.Channel, in.Subject = complaint.Phone, strings.Repeat("s", complaint.MaxSubjectLen+1)
			}},
			{"contact.name", func(in *complaint.Intake) {
				in.Channel, in.Contact.Name = complaint.Phone, strings.Repeat("n", complaint.MaxNameLen+1)
			}},
			{"promise", func(in *complaint.Intake) { in.Recorded, in.Promise = true, long }},
			{"category", func(in *complaint.Intake) { in.Category = "weather" }},
			{"ask", func(in *complaint.Intake) { in.Ask = "everything" }},
			{"severity", func(in *complaint.Intake) { in.Severity = "apocalyptic" }},
			{"language", func(in *complaint.Intake) { in.Language = "de" }},
			{"contact", func(in *complaint.Intake) { in.Contact = complaint.Contact{} }},
			{"contact.customer_id", func(in *complaint.Intake) { in.Contact = complaint.Contact{CustomerID: "nobody"} }},
			{"incident_id", func(in *complaint.Intake) { in.IncidentID = "nosuchincident" }},
			// An agent's or a client's record is refused for what would
			// rewrite a terminal or hide in a name; a provider's is kept,
			// cleaned (TestReceiveCleansCustomersWords).
			{"contact.name", func(in *complaint.Intake) { in.Channel, in.Contact.Name = complaint.Phone, "\x1b[31mAnna" }},
			{"contact.name", func(in *complaint.Intake) { in.Channel, in.Contact.Name = complaint.API, "Anna\nKovács" }},
			{"contact.slack", func(in *complaint.Intake) { in.Channel, in.Contact.Slack = complaint.API, "U1\u202e" }},
			{"subject", func(in *complaint.Intake) { in.Channel, in.Subject = complaint.Phone, "line\u2028break" }},
			{"owner", func(in *complaint.Intake) { in.Channel, in.Owner = complaint.Phone, "ann\a" }},
			{"text", func(in *complaint.Intake) { in.Channel, in.Text = complaint.API, "nul\x00here" }},
			{"text", func(in *complaint.Intake) { in.Channel, in.Text = complaint.Phone, "bad \xff byte" }},
			{"promise", func(in *complaint.Intake) { in.Channel, in.Promise = complaint.Phone, "call\x00back" }},
			// A client recording an SMS it took elsewhere is a client: refused, not cleaned.
			{"contact.name", func(in *complaint.Intake) { in.Recorded, in.Contact.Name = true, "Anna\x1b[0m" }},
			// A recorded complaint's time: not ahead of now (beyond the
			// skew), not over a year back.
			{"at", func(in *complaint.Intake) {
				in.Recorded, in.At = true, h.clock.Now().Add(complaint.RecordedSkew+time.Second)
			}},
			{"at", func(in *complaint.Intake) {
				in.Recorded, in.At = true, h.clock.Now().Add(-complaint.RecordedOldest-time.Second)
			}},
		}
		for _, tt := range tests {
			in := ok
			tt.edit(&in)
			c, _, err := h.svc.Receive(h.ctx, in)
			if c != nil {
				t.Errorf("%s: got a complaint %s", tt.field, c.ID)
			}
			wantField(t, err, tt.field)
		}
		if n := h.count(); n != 0 {
			t.Errorf("%d complaints written, want 0", n)
		}
		if asks := h.ack.all(); len(asks) != 0 {
			t.Errorf("asks = %+v, want none", asks)
		}
	})
}

// TestReceiveRecordedAt: a complaint recorded after it came in keeps its
// time (within the bounds TestReceiveInvalid checks); a provider's time
// ahead of now is taken as now.
func TestReceiveRecordedAt(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		now := h.clock.Now().UTC().Truncate(time.Millisecond)
		for _, tt := range []struct {
			in   complaint.Intake
			want time.Time
		}{
			{complaint.Intake{Channel: complaint.Phone, Recorded: true, Contact: complaint.Contact{Name: "Caller"}, At: now.Add(-3 * time.Hour)}, now.Add(-3 * time.Hour)},
			{complaint.Intake{Channel: complaint.Phone, Recorded: true, Contact: complaint.Contact{Name: "Early"}, At: now.Add(complaint.RecordedSkew)}, now},
			{complaint.Intake{Channel: complaint.SMS, Contact: complaint.Contact{Phone: "+36209999991"}, At: now.Add(time.Hour)}, now},
		} {
			tt.in.PageID, tt.in.Text = h.page.ID, "x"
			c, _, err := h.svc.Receive(h.ctx, tt.in)
			if err != nil {
				t.Fatalf("%s: %v", tt.in.Contact.Key(), err)
			}
			if !c.CreatedAt.Equal(tt.want) {
				t.Errorf("%s: created %s, want %s", tt.in.Contact.Key(), c.CreatedAt, tt.want)
			}
		}
	})
}

// TestReceiveCleansCustomersWords: what a customer sends through a
// provider or the form is kept, never refused for a stray control
// character; the single-line fields lose them and the text its NULs.
func TestReceiveCleansCustomersWords(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		for i, ch := range []complaint.Channel{complaint.Email, complaint.SMS, complaint.Slack, complaint.Web} {
			in := complaint.Intake{PageID: h.page.ID, Channel: ch, Contact: complaint.Contact{Email: fmt.Sprintf("c%d@example.com", i), Name: "\x1b[2JAnna\nKovács\u202e"},
				Subject: "Re:\r\n fizetés", Text: "nem megy\x00 a kártya \xff\n\x1b[2Jvisszatérítés\u202e001\a\tEUR"}
			c, created, err := h.svc.Receive(h.ctx, in)
			if err != nil || !created {
				t.Fatalf("%s: Receive = %v, %v", ch, created, err)
			}
			if c.Contact.Name != "[2JAnna Kovács" || c.Subject != "Re:  fizetés" || c.Text != "nem megy a kártya \ufffd\n[2Jvisszatérítés001\tEUR" {
				t.Errorf("%s: kept name %q, subject %q, text %q", ch, c.Contact.Name, c.Subject, c.Text)
			}
			// Too long: kept, cut to the limits with an ellipsis.
			long := complaint.Intake{PageID: h.page.ID, Channel: ch, Contact: complaint.Contact{Email: fmt.Sprintf("long%d@example.com", i), Name: strings.Repeat("n", 500)},
				Subject: strings.Repeat("s", 400), Text: strings.Repeat("é", complaint.MaxTextLen+2000)}
			c, created, err = h.svc.Receive(h.ctx, long)
			if err != nil || !created {
				t.Fatalf("%s, too long: Receive = %v, %v", ch, created, err)
			}
			for _, f := range []struct {
				name, v string
				max     int
			}{{"name", c.Contact.Name, complaint.MaxNameLen}, {"subject", c.Subject, complaint.MaxSubjectLen}, {"text", c.Text, complaint.MaxTextLen}} {
				if n := utf8.RuneCountInString(f.v); n != f.max || !strings.HasSuffix(f.v, "…") {
					t.Errorf("%s: %s kept as %d characters ending %q, want %d ending in an ellipsis", ch, f.name, n, f.v[len(f.v)-8:], f.max)
				}
			}
		}
	})
}

// ---- attaching ----

func TestAttach(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		type step struct {
			at   time.Duration
			in   func(first *complaint.Complaint, inc *incident.Incident) complaint.Intake
			same bool // attaches to the first complaint
		}
		bob := complaint.Contact{Phone: bobPhone}
		plain := func(*complaint.Complaint, *incident.Incident) complaint.Intake {
			return complaint.Intake{Contact: bob, Text: "still broken"}
		}
		tests := []struct {
			name      string
			before    func(h *harness, first *complaint.Complaint) // after the first complaint
			second    step
			wantState complaint.State
			// ackGiven: a new complaint about the incident within the
			// hour of the first's acknowledgement, the first still open:
			// not acknowledged again, the timeline says why.
			ackGiven bool
		}{
			{name: "within the attach window", second: step{9 * time.Minute, plain, true}, wantState: complaint.StateAcknowledged},
			{name: "at the end of the window", second: step{10 * time.Minute, plain, true}, wantState: complaint.StateAcknowledged},
			{name: "outside the window", second: step{11 * time.Minute, plain, false}, ackGiven: true},
			{name: "outside the window, an hour after the acknowledgement", second: step{time.Hour, plain, false}},
			{name: "another channel, same customer", second: step{5 * time.Minute, func(*complaint.Complaint, *incident.Incident) complaint.Intake {
				return complaint.Intake{Channel: complaint.Email, Contact: complaint.Contact{Email: "bob@example.com"}, Text: "and by email"}
			}, true}, wantState: complaint.StateAcknowledged},
			{name: "threaded reply to its incident, days later", second: step{72 * time.Hour, func(_ *complaint.Complaint, inc *incident.Incident) complaint.Intake {
				return complaint.Intake{Channel: complaint.Email, Contact: bob, Text: "re: your message", ReplyTo: inc.ID}
			}, true}, wantState: complaint.StateAcknowledged},
			{name: "naming the complaint, days later", second: step{72 * time.Hour, func(first *complaint.Complaint, _ *incident.Incident) complaint.Intake {
				return complaint.Intake{Contact: bob, Text: "about " + first.Ref, ComplaintID: first.ID}
			}, true}, wantState: complaint.StateAcknowledged},
			{name: "waiting on the customer", before: func(h *harness, first *complaint.Complaint) {
				h.clock.Set(time.Hour)
				if _, err := h.svc.Move(h.ctx, h.page.ID, first.ID, complaint.StateWaitingOnCustomer); err != nil {
					h.t.Fatal(err)
				}
			}, second: step{2 * time.Hour, func(first *complaint.Complaint, _ *incident.Incident) complaint.Intake {
				return complaint.Intake{Contact: bob, Text: "here is the receipt", ComplaintID: first.ID}
			}, true}, wantState: complaint.StateInProgress},
			{name: "resolved: reopened", before: func(h *harness, first *complaint.Complaint) {
				h.clock.Set(time.Hour)
				if _, err := h.svc.Resolve(h.ctx, h.page.ID, first.ID, complaint.RemedyFix, "Fixed your card."); err != nil {
					h.t.Fatal(err)
				}
			}, second: step{2 * time.Hour, func(first *complaint.Complaint, _ *incident.Incident) complaint.Intake {
				return complaint.Intake{Contact: bob, Text: "it is not fixed", ComplaintID: first.ID}
			}, true}, wantState: complaint.StateInProgress},
			{name: "resolved, not named: a new complaint", before: func(h *harness, first *complaint.Complaint) {
				h.clock.Set(time.Minute)
				if _, err := h.svc.Resolve(h.ctx, h.page.ID, first.ID, complaint.RemedyFix, "Fixed your card."); err != nil {
					h.t.Fatal(err)
				}
			}, second: step{2 * time.Minute, plain, false}},
			{name: "a call always opens a new one", second: step{time.Minute, func(*complaint.Complaint, *incident.Incident) complaint.Intake {
				return complaint.Intake{Channel: complaint.Phone, Contact: bob, Text: "called"}
			}, false}, ackGiven: true},
			// Anyone can type Bob's number into the status page's form:
			// that report is never added to his complaint (nor answered
			// with his reference), even within the window or naming it.
			{name: "the form within the window opens its own", second: step{time.Minute, func(*complaint.Complaint, *incident.Incident) complaint.Intake {
				return complaint.Intake{Channel: complaint.Web, Contact: bob, Text: "mallory was here", Unverified: true}
			}, false}, ackGiven: true},
			{name: "the form naming the complaint opens its own", second: step{time.Minute, func(first *complaint.Complaint, _ *incident.Incident) complaint.Intake {
				return complaint.Intake{Channel: complaint.Web, Contact: bob, Text: "mallory was here", ComplaintID: first.ID, Unverified: true}
			}, false}, ackGiven: true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := newHarness(t, open)
				inc := h.declare("Checkout is down", h.checkout)
				first, _ := h.receive(complaint.Intake{Contact: bob, Text: "cannot check out", IncidentID: inc.ID})
				if tt.before != nil {
					tt.before(h, first)
				}
				h.clock.Set(tt.second.at)
				in := tt.second.in(first, inc)
				if in.Channel == "" {
					in.Channel = complaint.SMS
				}
				c, created := h.receive(in)
				if !tt.second.same {
					if !created || c.ID == first.ID || c.Ref == first.Ref {
						t.Fatalf("second = %s %s (created %v), want a new complaint", c.ID, c.Ref, created)
					}
					if got := h.get(first.ID); got.Messages != 1 || len(h.entries(first.ID, complaint.EntryMessageIn)) != 1 {
						t.Errorf("the first complaint has %d messages, want its own 1", got.Messages)
					}
					wantAcks := 1
					if tt.ackGiven {
						wantAcks = 0
					}
					if h.count() != 2 || len(h.ack.ok(c.ID)) != wantAcks {
						t.Errorf("%d complaints, %d acks of the second; want 2 and %d", h.count(), len(h.ack.ok(c.ID)), wantAcks)
					}
					stored := h.get(c.ID)
					var given []*complaint.Entry
					for _, e := range h.entries(c.ID, complaint.EntryNote) {
						if e.Event == complaint.EventAckGiven {
							given = append(given, e)
						}
					}
					wantState := complaint.StateAcknowledged
					if stored.Channel == complaint.Phone {
						wantState = complaint.StateInProgress // answered on the phone
					}
					switch {
					case tt.ackGiven && (len(given) != 1 || given[0].Args["ref"] != first.Ref || stored.AckedAt == nil || stored.State != wantState):
						t.Errorf("not acknowledged again: want one note naming %s and the complaint acknowledged; notes %v, acked %v, state %s", first.Ref, given, stored.AckedAt, stored.State)
					case !tt.ackGiven && len(given) != 0:
						t.Errorf("acknowledged again, yet a note says it was not: %v", given[0].Text)
					}
					return
				}
				if created || c.ID != first.ID {
					t.Fatalf("second = %s (created %v), want attached to %s", c.ID, created, first.ID)
				}
				stored := h.get(first.ID)
				if stored.Messages != 2 || !stored.LastMessageAt.Equal(t0.Add(tt.second.at)) || stored.State != tt.wantState {
					t.Errorf("messages %d, last %s, state %s; want 2, %s, %s", stored.Messages, stored.LastMessageAt, stored.State, t0.Add(tt.second.at), tt.wantState)
				}
				if stored.State.Open() && (stored.ResolvedAt != nil || stored.ClosedAt != nil) {
					t.Errorf("open complaint keeps resolved %v closed %v", stored.ResolvedAt, stored.ClosedAt)
				}
				msgs := h.entries(first.ID, complaint.EntryMessageIn)
				if len(msgs) != 2 || msgs[1].Channel != in.Channel || !strings.Contains(msgs[1].Text, in.Text) {
					for _, m := range msgs {
						t.Errorf("message in: %+v", *m)
					}
				}
				if h.count() != 1 {
					t.Errorf("%d complaints, want 1", h.count())
				}
				acks := 0
				for _, a := range h.ack.ok("") {
					if a.Key == "ack" {
						acks++
					}
				}
				if acks != 1 {
					t.Errorf("%d acknowledgements, want 1: %+v", acks, h.ack.all())
				}
			})
		}
	})
}

// TestReceiveTogether: texts from a new number that arrive at the same
// moment, on two nodes, make one complaint with one acknowledgement, the
// others attached to it, as they would ≥ 20 ms apart.
func TestReceiveTogether(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		h.declare("Card payments are failing", h.payments)
		nodes := []*complaint.Service{h.svc, h.service()}
		const texts = 6
		start := make(chan struct{})
		var wg sync.WaitGroup
		ids := make([]string, texts)
		for i := range texts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				c, _, err := nodes[i%len(nodes)].Receive(h.ctx, complaint.Intake{PageID: h.page.ID, Channel: complaint.SMS,
					Contact: complaint.Contact{Phone: "+36208880001"}, Text: fmt.Sprintf("the card payment failed (%d)", i), ExternalID: fmt.Sprintf("SM%d", i)})
				if err != nil {
					t.Error(err)
					return
				}
				ids[i] = c.ID
			}()
		}
		close(start)
		wg.Wait()
		if n := h.count(); n != 1 {
			t.Fatalf("%d complaints from %d texts at once, want 1", n, texts)
		}
		for i, id := range ids {
			if id != ids[0] {
				t.Errorf("text %d answered with %s, want %s", i, id, ids[0])
			}
		}
		if got := h.get(ids[0]); got.Messages != texts {
			t.Errorf("the complaint has %d messages, want %d", got.Messages, texts)
		}
		acks := 0
		for _, a := range h.ack.ok("") {
			if a.Key == "ack" {
				acks++
			}
		}
		if acks != 1 {
			t.Errorf("%d acknowledgements, want 1: %+v", acks, h.ack.all())
		}
	})
}

// TestAttachAboutAnotherIncident: Ann emails about Payments; minutes
// later, Checkout down too, she texts about it. Within the attach window,
// yet about another open incident: a complaint of its own, tagged to
// Checkout and acknowledged with what we know of it, so that the Payments
// resolution does not tell her "it is fixed" about Checkout. A message
// that says nothing new about which incident stays on her complaint.
func TestAttachAboutAnotherIncident(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		pay := h.declare("Card payments are failing", h.payments)
		first, _ := h.receive(complaint.Intake{Channel: complaint.Email, Contact: complaint.Contact{Email: annEmail}, Text: "my card payment failed"})
		if first.IncidentID() != pay.ID {
			t.Fatalf("first complaint tagged %+v, want %s", first.Tag, pay.ID)
		}
		h.clock.Set(3 * time.Minute)
		chk := h.declare("Checkout page blank", h.checkout)
		h.clock.Set(4 * time.Minute)
		second, created := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: annPhone}, Text: "Now the checkout page is completely blank too"})
		if !created || second.ID == first.ID || second.IncidentID() != chk.ID {
			t.Fatalf("the message about Checkout: created %v, %s tagged %+v; want a new complaint tagged to %s", created, second.ID, second.Tag, chk.ID)
		}
		if asks := h.ack.ok(second.ID); len(asks) != 1 || asks[0].Answer != complaint.AnswerKnown {
			t.Errorf("the Checkout complaint's acknowledgement: %+v", asks)
		}
		h.clock.Set(6 * time.Minute)
		if same, created := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: annPhone}, Text: "and it is very slow"}); created || same.ID != second.ID {
			t.Errorf("a message about nothing new: created %v, %s; want attached to %s", created, same.ID, second.ID)
		}
		if got := h.get(first.ID); got.Messages != 1 {
			t.Errorf("the Payments complaint has %d messages, want 1", got.Messages)
		}
		h.clock.Set(time.Hour)
		h.resolveIncident(pay, "Fixed.")
		if n, err := h.svc.IncidentResolved(h.ctx, pay.ID); n != 1 || err != nil {
			t.Fatalf("IncidentResolved(Payments) = %d, %v; want 1", n, err)
		}
		if got := h.get(second.ID); !got.Open() {
			t.Errorf("the Checkout complaint is %s after the Payments resolution, want open", got.State)
		}
	})
}

// TestAttachAfterItsIncidentEnded: Bob's text about a Payments outage
// that has been resolved is still open when, two minutes later, during a
// live maintenance of Checkout, he emails that he cannot buy ("zakupy nie
// przechodzą"; the maintenance's update says "zakupy wstrzymane"). His
// old complaint's answer has gone out; attached, the email would get
// none. The message alone (one shared word) is only a suggestion, below
// the tagging threshold, yet it is a complaint of its own: tagged to the
// maintenance (Bob uses Checkout) and acknowledged.
func TestAttachAfterItsIncidentEnded(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		pay := h.declare("Card payments are failing", h.payments)
		h.clock.Set(time.Hour)
		h.resolveIncident(pay, "Fixed.")
		h.clock.Set(time.Hour + 5*time.Minute)
		first, _ := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: bobPhone}, Text: "Proszę nie wysyłać więcej SMS-ów", IncidentID: pay.ID})
		from, until := t0.Add(time.Hour), t0.Add(3*time.Hour)
		mnt, _, err := h.inc.CreateIncident(h.ctx, h.page.ID, incident.IncidentInput{Name: ptr("Database upgrade"), Body: ptr("Zakupy wstrzymane w czasie prac."),
			ScheduledFor: &from, ScheduledUntil: &until, Status: ptr(incident.InProgress),
			Components: map[string]incident.ComponentStatus{h.checkout.ID: incident.UnderMaintenance}}, "")
		if err != nil {
			t.Fatal(err)
		}
		h.clock.Set(time.Hour + 7*time.Minute)
		c, created := h.receive(complaint.Intake{Channel: complaint.Email, Contact: complaint.Contact{Email: "bob@example.com"},
			Subject: "Sklep", Text: "Nie działa, zakupy nie przechodzą."})
		if !created || c.ID == first.ID {
			t.Fatalf("the email about the maintenance: created %v, %s; want a complaint of its own, not a line on %s", created, c.ID, first.ID)
		}
		if c.IncidentID() != mnt.ID {
			t.Errorf("the email's complaint is tagged %+v, want the maintenance %s (Bob uses Checkout)", c.Tag, mnt.ID)
		}
		if asks := h.ack.ok(c.ID); len(asks) != 1 {
			t.Errorf("the email's acknowledgement: %+v", asks)
		}
	})
}

// TestCustomerIsNamedByTheirRecord: a message from a customer's address
// names the customer as their record does, not by the display name or
// handle it came with.
func TestCustomerIsNamedByTheirRecord(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		for _, in := range []complaint.Intake{
			{Channel: complaint.Email, Contact: complaint.Contact{Email: annEmail, Name: "Your refund is ready at evil.example"}, Text: "my card payment failed"},
			{Channel: complaint.Slack, Contact: complaint.Contact{Slack: annSlack, Name: "annl"}, Text: "checkout is slow", Separate: true},
		} {
			c, _ := h.receive(in)
			if c.Contact.CustomerID != "ann" || c.Contact.Name != "Ann Lee" {
				t.Errorf("%s: contact %+v, want Ann Lee (customer ann)", in.Channel, c.Contact)
			}
		}
	})
}

// TestFollowUpTaskTakesNoMessages: herald's own follow-up task (opened
// from an unhappy survey answer, as surveys' winBack opens it) does not
// swallow the customer's next message: a text minutes later about a new
// outage is a complaint of its own, tagged to that outage and
// acknowledged.
func TestFollowUpTaskTakesNoMessages(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		old := h.declare("Card payments are failing", h.payments)
		h.clock.Set(time.Hour)
		h.resolveIncident(old, "Fixed.")
		h.clock.Set(2 * time.Hour)
		task, created := h.receive(complaint.Intake{Channel: complaint.SMS, Contact: complaint.Contact{Phone: annPhone}, Text: "Survey answer: 1 of 5.",
			Category: complaint.CategoryFollowUp, Ask: complaint.AskOther, IncidentID: old.ID, ExternalID: "survey:s1:1", Separate: true})
		if !created || task.Category != complaint.CategoryFollowUp {
			t.Fatalf("the follow-up task: created %v, %+v", created, task)
		}
		again := h.declare("Payments are down again", h.payments)
		h.clock.Set(2*time.Hour + 3*time.Minute)
		// Words that name no incident: the tagger's guess about the
		// message alone would not set it apart from the task.
		c, created := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: annPhone}, Text: "hello, it does not work again"})
		if !created || c.ID == task.ID {
			t.Fatalf("the text minutes after the survey: created %v, %s; want a new complaint, not a line on the follow-up task", created, c.ID)
		}
		if c.IncidentID() != again.ID {
			t.Errorf("the new complaint is tagged %+v, want the open incident %s (Ann uses Payments)", c.Tag, again.ID)
		}
		if asks := h.ack.ok(c.ID); len(asks) != 1 {
			t.Errorf("the new complaint's acknowledgement: %+v", asks)
		}
		if got := h.get(task.ID); got.Messages != 1 {
			t.Errorf("the follow-up task has %d messages, want 1", got.Messages)
		}
	})
}

// TestAttachBehindManyNewer: the contact's open complaint is older than
// the newest complaints Receive reads at once (all resolved since): a
// threaded reply still finds it and attaches.
func TestAttachBehindManyNewer(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		bob := complaint.Contact{Phone: bobPhone}
		inc := h.declare("Checkout is down", h.checkout)
		first, _ := h.receive(complaint.Intake{Contact: bob, Text: "cannot check out", IncidentID: inc.ID})
		for i := 0; i < 55; i++ {
			h.clock.Set(time.Duration(i+1) * time.Minute)
			c, created := h.receive(complaint.Intake{Channel: complaint.Phone, Contact: bob, Text: fmt.Sprintf("call %d", i)})
			if !created {
				t.Fatalf("call %d attached to %s", i, c.ID)
			}
			if _, err := h.svc.Resolve(h.ctx, h.page.ID, c.ID, complaint.RemedyNone, "Answered on the phone."); err != nil {
				t.Fatal(err)
			}
		}
		h.clock.Set(72 * time.Hour)
		c, created := h.receive(complaint.Intake{Channel: complaint.Email, Contact: bob, Text: "re: your message", ReplyTo: inc.ID})
		if created || c.ID != first.ID {
			t.Fatalf("reply = %s (created %v), want attached to %s", c.ID, created, first.ID)
		}
	})
}

// ---- repeats ----

func TestRepeat(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		bob := complaint.Contact{Phone: bobPhone}
		tests := []struct {
			name   string
			first  complaint.Intake
			after  time.Duration
			second complaint.Intake
			repeat bool
		}{
			{"same incident", complaint.Intake{Contact: bob, Text: "down"}, time.Hour,
				complaint.Intake{Contact: bob, Text: "still down"}, true},
			{"same category and a shared component", complaint.Intake{Contact: bob, Text: "slow", Category: complaint.CategoryDefect, Components: []string{"x"}}, 5 * 24 * time.Hour,
				complaint.Intake{Contact: bob, Text: "slow again", Category: complaint.CategoryDefect, Components: []string{"x"}}, true},
			{"same category, other component", complaint.Intake{Contact: bob, Text: "slow", Category: complaint.CategoryDefect, Components: []string{"x"}}, time.Hour,
				complaint.Intake{Contact: bob, Text: "slow again", Category: complaint.CategoryDefect, Components: []string{"y"}}, false},
			{"other category, same component", complaint.Intake{Contact: bob, Text: "slow", Category: complaint.CategoryDefect, Components: []string{"x"}}, time.Hour,
				complaint.Intake{Contact: bob, Text: "refund", Category: complaint.CategoryRefund, Components: []string{"x"}}, false},
			{"another contact", complaint.Intake{Contact: complaint.Contact{Phone: "+36209999999"}, Text: "down"}, time.Hour,
				complaint.Intake{Contact: bob, Text: "down"}, false},
			{"outside the window", complaint.Intake{Contact: bob, Text: "slow", Category: complaint.CategoryDefect, Components: []string{"x"}}, 31 * 24 * time.Hour,
				complaint.Intake{Contact: bob, Text: "slow again", Category: complaint.CategoryDefect, Components: []string{"x"}}, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := newHarness(t, open)
				inc := h.declare("Checkout is down", h.checkout)
				first, second := tt.first, tt.second
				if tt.name == "same incident" || tt.name == "another contact" {
					first.IncidentID, second.IncidentID = inc.ID, inc.ID
				}
				a, _ := h.receive(first)
				h.clock.Set(tt.after)
				b, created := h.receive(second)
				if !created || b.ID == a.ID {
					t.Fatalf("second attached to the first; the case needs a new complaint")
				}
				b = h.get(b.ID)
				if b.Repeat != tt.repeat {
					t.Errorf("repeat = %v, want %v", b.Repeat, tt.repeat)
				}
				if tt.repeat {
					if len(b.RepeatOf) != 1 || b.RepeatOf[0] != a.ID {
						t.Errorf("repeat of %v, want [%s]", b.RepeatOf, a.ID)
					}
					// A repeat's promises are half the usual.
					d := complaint.DefaultPolicy().Default
					if want := b.CreatedAt.Add(d.FirstAnswer / 2); !b.FirstAnswerDue.Equal(want) {
						t.Errorf("first answer due %s, want %s", b.FirstAnswerDue, want)
					}
					if want := b.CreatedAt.Add(d.Resolve / 2); !b.ResolveDue.Equal(want) {
						t.Errorf("resolve due %s, want %s", b.ResolveDue, want)
					}
				} else if len(b.RepeatOf) != 0 {
					t.Errorf("repeat of %v, want none", b.RepeatOf)
				}
			})
		}
	})
}

// TestFollowUpIsNoRepeat: a survey's win-back task about an incident the
// customer complained about is herald's task, not a repeat complaint: not
// flagged, no halved promises; and the customer's later complaint about
// the same incident repeats their complaint, never the task.
func TestFollowUpIsNoRepeat(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		inc := h.declare("Card payments are failing", h.payments)
		first, _ := h.receive(complaint.Intake{Channel: complaint.SMS, Contact: complaint.Contact{Phone: annPhone}, Text: "cannot pay", IncidentID: inc.ID})
		h.clock.Set(time.Hour)
		h.resolveIncident(inc, "Fixed.")
		if _, err := h.svc.Resolve(h.ctx, h.page.ID, first.ID, complaint.RemedyNone, "Fixed."); err != nil {
			t.Fatal(err)
		}
		h.clock.Set(2 * time.Hour)
		task, created := h.receive(complaint.Intake{Channel: complaint.SMS, Contact: complaint.Contact{Phone: annPhone}, Text: "Survey answer: 1 of 5.",
			Category: complaint.CategoryFollowUp, Ask: complaint.AskOther, IncidentID: inc.ID, ExternalID: "survey:s1:1", Separate: true})
		if !created {
			t.Fatalf("the follow-up task attached to %s", task.ID)
		}
		task = h.get(task.ID)
		if task.Repeat || len(task.RepeatOf) != 0 {
			t.Errorf("the follow-up task is a repeat of %v", task.RepeatOf)
		}
		if got, want := task.FirstAnswerDue.Sub(task.CreatedAt), complaint.DefaultPolicy().Default.FirstAnswer; got != want {
			t.Errorf("the follow-up task's first answer is due in %s, want %s (no repeat halving)", got, want)
		}
		h.clock.Set(3 * time.Hour)
		again, created := h.receive(complaint.Intake{Channel: complaint.Email, Contact: complaint.Contact{Phone: annPhone}, Text: "I was charged twice", IncidentID: inc.ID})
		if !created || again.ID == task.ID {
			t.Fatalf("the later complaint: created %v, %s", created, again.ID)
		}
		again = h.get(again.ID)
		if !again.Repeat || len(again.RepeatOf) != 1 || again.RepeatOf[0] != first.ID {
			t.Errorf("the later complaint: repeat %v of %v, want a repeat of %s only (not of the task %s)", again.Repeat, again.RepeatOf, first.ID, task.ID)
		}
	})
}

// ---- the crash case ----

// TestAcknowledgementAfterCrash: the acknowledgement cannot be queued when
// the complaint is filed (the pipeline fails, or the node dies between
// filing and asking). The complaint is kept, new; after the grace period
// the sweep (here on another node) asks again with the same key, and asks
// nothing more after that.
func TestAcknowledgementAfterCrash(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		h.ack.setFail(errors.New("pipeline down"))
		c, created, err := h.svc.Receive(h.ctx, complaint.Intake{PageID: h.page.ID, Channel: complaint.SMS, Contact: complaint.Contact{Phone: bobPhone}, Text: "help"})
		if err != nil || !created {
			t.Fatalf("Receive = %v, %v; want the complaint filed although its answer failed", created, err)
		}
		stored := h.get(c.ID)
		if stored.State != complaint.StateNew || stored.AckedAt != nil {
			t.Fatalf("state %s, acked %v; want new and not acknowledged", stored.State, stored.AckedAt)
		}
		h.ack.setFail(nil)

		node2 := h.service()
		sweep := func(d time.Duration) {
			h.clock.Set(d)
			if err := node2.Sweep(h.ctx); err != nil {
				t.Fatalf("Sweep at +%s: %v", d, err)
			}
		}
		sweep(5 * time.Second) // within the grace period: Receive may still be asking
		if asks := h.ack.ok(""); len(asks) != 0 {
			t.Fatalf("asks within the grace period: %+v", asks)
		}
		sweep(11 * time.Second)
		want := ask{ComplaintID: c.ID, Answer: complaint.AnswerReceived, Key: "ack"}
		wantAsks(t, h.ack.ok(""), want)
		stored = h.get(c.ID)
		if stored.State != complaint.StateAcknowledged || stored.AckedAt == nil || !stored.AckedAt.Equal(t0.Add(11*time.Second)) {
			t.Errorf("state %s, acked %v; want acknowledged at +11s", stored.State, stored.AckedAt)
		}
		if outs := h.entries(c.ID, complaint.EntryMessageOut); len(outs) != 1 {
			t.Errorf("messages out = %d, want 1", len(outs))
		}
		sweep(time.Minute)
		sweep(time.Hour)
		wantAsks(t, h.ack.ok(""), want)
		// Every ask, the failed one included, used the same key: notify
		// derives one delivery from (complaint, key).
		for _, a := range h.ack.all() {
			if a != want && a != (ask{ComplaintID: c.ID, Answer: complaint.AnswerReceived, Key: "ack", Failed: true}) {
				t.Errorf("ask %+v, want %+v", a, want)
			}
		}
	})
}

// ---- SLA ----

func TestSLASweep(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		h.svc.OnDuty = []string{"alice"}
		c, _ := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: bobPhone}, Text: "help"})
		slas := func() []string {
			var out []string
			for _, e := range h.entries(c.ID, complaint.EntrySLA) {
				out = append(out, e.Text)
			}
			return out
		}
		type check struct {
			at                time.Duration
			do                func()
			warned, escalated bool
			entries           int
			lastHas           string
		}
		reply := func() {
			if _, err := h.svc.Reply(h.ctx, h.page.ID, c.ID, "We are on it."); err != nil {
				t.Fatal(err)
			}
		}
		steps := []check{
			{at: 21 * time.Hour},
			{at: 22*time.Hour - time.Millisecond},
			{at: 22 * time.Hour, warned: true, entries: 1, lastHas: "warning to alice: the first answer is due at 2026-03-11T09:00:00Z"},
			{at: 23 * time.Hour, warned: true, entries: 1},
			{at: 24 * time.Hour, warned: true, escalated: true, entries: 2, lastHas: "escalated to managers: the first answer was due at 2026-03-11T09:00:00Z (alice)"},
			{at: 30 * time.Hour, warned: true, escalated: true, entries: 2},
			// The first answer: the resolution promise gets its own warning.
			{at: 31 * time.Hour, do: reply, entries: 2},
			{at: 45 * time.Hour, entries: 2},
			{at: 46 * time.Hour, warned: true, entries: 3, lastHas: "warning to alice: the resolution is due at 2026-03-12T09:00:00Z"},
			{at: 47 * time.Hour, warned: true, entries: 3},
			{at: 48 * time.Hour, warned: true, escalated: true, entries: 4, lastHas: "escalated to managers: the resolution was due"},
			{at: 100 * time.Hour, warned: true, escalated: true, entries: 4},
		}
		for _, st := range steps {
			h.clock.Set(st.at)
			if st.do != nil {
				st.do()
			}
			h.sweep(st.at)
			h.sweep(st.at) // a second sweep, or another node's, changes nothing
			got := h.get(c.ID)
			es := slas()
			if got.Warned != st.warned || got.Escalated != st.escalated || len(es) != st.entries {
				t.Fatalf("+%s: warned %v escalated %v, sla entries %q; want %v %v %d", st.at, got.Warned, got.Escalated, es, st.warned, st.escalated, st.entries)
			}
			if st.lastHas != "" && !strings.Contains(es[len(es)-1], st.lastHas) {
				t.Errorf("+%s: entry %q, want it to say %q", st.at, es[len(es)-1], st.lastHas)
			}
		}
		got := h.get(c.ID)
		if got.FirstAnswerAt == nil || !got.FirstAnswerAt.Equal(t0.Add(31*time.Hour)) || got.State != complaint.StateInProgress {
			t.Errorf("first answer %v, state %s; want +31h, in_progress", got.FirstAnswerAt, got.State)
		}
		wantAsks(t, h.ack.ok(""),
			ask{ComplaintID: c.ID, Answer: complaint.AnswerReceived, Key: "ack"},
			ask{ComplaintID: c.ID, Answer: complaint.AnswerReply, Key: h.ack.ok("")[1].Key, Text: "We are on it."})
		if !strings.HasPrefix(h.ack.ok("")[1].Key, "reply-") {
			t.Errorf("reply key %q", h.ack.ok("")[1].Key)
		}
	})
}

func TestSLAWaitingOnCustomer(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		c, _ := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: bobPhone}, Text: "help"})
		h.clock.Set(time.Hour)
		if _, err := h.svc.Move(h.ctx, h.page.ID, c.ID, complaint.StateWaitingOnCustomer); err != nil {
			t.Fatal(err)
		}
		if got := h.get(c.ID); !got.CheckAt.IsZero() {
			t.Errorf("check at %s while waiting, want none", got.CheckAt)
		}
		for _, d := range []time.Duration{22 * time.Hour, 24 * time.Hour, 60 * time.Hour} {
			h.sweep(d)
		}
		if es := h.entries(c.ID, complaint.EntrySLA); len(es) != 0 {
			t.Errorf("sla entries while waiting on the customer: %+v", es)
		}
		if got := h.get(c.ID); got.Warned || got.Escalated {
			t.Errorf("warned %v escalated %v while waiting", got.Warned, got.Escalated)
		}
	})
}

// ---- resolving ----

func TestIncidentResolvedAnswersComplaints(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		inc := h.declare("Card payments are failing", h.payments)
		other := h.declare("Login is slow", h.auth)
		h.clock.Set(10 * time.Minute)
		recv := func(phone string, incidentID string) *complaint.Complaint {
			c, _ := h.receive(complaint.Intake{Channel: complaint.Phone, Contact: complaint.Contact{Phone: phone}, Text: "help", IncidentID: incidentID})
			return c
		}
		auto, _ := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: annPhone}, Text: "my card payment failed"})
		if auto.IncidentID() != inc.ID {
			t.Fatalf("auto tag = %+v, want %s", auto.Tag, inc.ID)
		}
		working := recv("+36200000001", inc.ID)
		h.clock.Set(20 * time.Minute)
		if _, err := h.svc.Reply(h.ctx, h.page.ID, working.ID, "Looking into it."); err != nil {
			t.Fatal(err)
		}
		held := recv("+36200000002", inc.ID)
		if _, err := h.svc.Hold(h.ctx, h.page.ID, held.ID, true); err != nil {
			t.Fatal(err)
		}
		// An agent promised this caller a call back: the all-clear does
		// not keep it, so the complaint stays with its owner.
		promised, _ := h.receive(complaint.Intake{Channel: complaint.Phone, Contact: complaint.Contact{Phone: "+36200000006"}, Text: "I want compensation",
			IncidentID: inc.ID, Promise: "Call back tomorrow with the compensation answer"})
		// The customer texted, then called; the agent added the call to
		// the open complaint and promised a call back: the promise, the
		// ask and the owner land on that complaint, which is kept.
		texted, _ := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: "+36200000007"}, Text: "card payment failed", IncidentID: inc.ID})
		dora := incident.WithActor(h.ctx, incident.Actor{TokenID: "t1", Name: "dora", Role: incident.RoleAgent})
		called, created, err := h.svc.Receive(dora, complaint.Intake{PageID: h.page.ID, Channel: complaint.Phone, Contact: complaint.Contact{Phone: "+36200000007"},
			Text: "Called: wants money back for the failed order", ComplaintID: texted.ID, Ask: complaint.AskCompensation, Severity: complaint.SeverityHigh,
			Promise: "Call her back when compensation is decided", Owner: "dora", Recorded: true})
		if err != nil || created || called.ID != texted.ID {
			t.Fatalf("a call added to %s: %v, created %v, %+v", texted.ID, err, created, called)
		}
		if called.Ask != complaint.AskCompensation || called.Severity != complaint.SeverityHigh || called.Owner != "dora" ||
			called.Promise != "Call her back when compensation is decided" || !called.KeptOpen() {
			t.Errorf("the call added to %s kept: ask %s, severity %s, owner %q, promise %q", texted.ID, called.Ask, called.Severity, called.Owner, called.Promise)
		}
		if es := h.entries(texted.ID, complaint.EntryMessageIn); len(es) != 2 || es[1].Actor == "customer" {
			t.Errorf("the call's entry: %+v, want the agent's second message", es)
		}
		untagged := recv("+36200000003", inc.ID)
		if _, err := h.svc.SetTag(h.ctx, h.page.ID, untagged.ID, ""); err != nil {
			t.Fatal(err)
		}
		triage := recv("+36200000004", "")
		elsewhere := recv("+36200000005", other.ID)

		// Not resolved yet: nothing to answer.
		if n, err := h.svc.IncidentResolved(h.ctx, inc.ID); n != 0 || err != nil {
			t.Fatalf("IncidentResolved of an open incident = %d, %v", n, err)
		}
		h.clock.Set(2 * time.Hour)
		h.resolveIncident(inc, "Card payments work again. We are sorry.")
		h.clock.Set(2*time.Hour + time.Second)
		n, err := h.svc.IncidentResolved(h.ctx, inc.ID)
		if err != nil || n != 2 {
			t.Fatalf("IncidentResolved = %d, %v; want 2", n, err)
		}
		for _, c := range []*complaint.Complaint{auto, working} {
			got := h.get(c.ID)
			if got.State != complaint.StateResolved || got.Remedy != complaint.RemedyApology || got.Outcome != "Card payments work again. We are sorry." ||
				got.ResolvedAt == nil || got.FirstAnswerAt == nil {
				t.Errorf("%s: state %s remedy %s outcome %q resolved %v first answer %v", c.ID, got.State, got.Remedy, got.Outcome, got.ResolvedAt, got.FirstAnswerAt)
			}
			resolvedAsks := 0
			for _, a := range h.ack.ok(c.ID) {
				if a.Answer == complaint.AnswerIncidentResolved {
					resolvedAsks++
					if a.Key != "incident-resolved-"+inc.ID || a.Text != "Card payments work again. We are sorry." {
						t.Errorf("%s: ask %+v", c.ID, a)
					}
				}
			}
			if resolvedAsks != 1 {
				t.Errorf("%s: %d resolution asks, want 1", c.ID, resolvedAsks)
			}
		}
		// Its first answer was the call the agent took (recv records
		// calls), before the reply; the resolution moves neither.
		if got := h.get(working.ID); !got.FirstAnswerAt.Equal(t0.Add(10 * time.Minute)) {
			t.Errorf("first answer moved to %s by the resolution", got.FirstAnswerAt)
		}
		for _, c := range []*complaint.Complaint{held, promised, texted, untagged, triage, elsewhere} {
			got := h.get(c.ID)
			if !got.Open() || got.ResolvedAt != nil {
				t.Errorf("%s: state %s, want still open", c.ID, got.State)
			}
			for _, a := range h.ack.all() {
				if a.ComplaintID == c.ID && a.Answer == complaint.AnswerIncidentResolved {
					t.Errorf("%s answered: %+v", c.ID, a)
				}
			}
		}
		asks := len(h.ack.all())
		// Again, by the event and by the sweep: nobody twice.
		if n, err := h.svc.IncidentResolved(h.ctx, inc.ID); n != 0 || err != nil {
			t.Errorf("IncidentResolved again = %d, %v; want 0", n, err)
		}
		h.sweep(3 * time.Hour)
		if got := len(h.ack.all()); got != asks {
			t.Errorf("asks after running again: %+v", h.ack.all()[asks:])
		}
	})
}

// TestReopenedAfterIncidentResolved: a customer writes back after the
// incident's resolution answered their complaint ("it still fails"): the
// complaint reopens for its owner, and the sweep that catches lost
// resolution events must not silently resolve it again.
func TestReopenedAfterIncidentResolved(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		inc := h.declare("Card payments are failing", h.payments)
		c, _ := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: annPhone}, Text: "my card payment failed"})
		b, _ := h.receive(complaint.Intake{Channel: complaint.Phone, Contact: complaint.Contact{Name: "Caller"}, Text: "card", IncidentID: inc.ID})
		h.clock.Set(time.Hour)
		h.resolveIncident(inc, "Fixed.")
		if n, err := h.svc.IncidentResolved(h.ctx, inc.ID); n != 2 || err != nil {
			t.Fatalf("IncidentResolved = %d, %v", n, err)
		}
		h.clock.Set(2 * time.Hour)
		if re, created := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: annPhone}, Text: "it still fails", ComplaintID: c.ID}); created || re.ID != c.ID {
			t.Fatalf("reply opened %s, want %s reopened", re.ID, c.ID)
		}
		h.sweep(2*time.Hour + time.Minute)
		if n, err := h.svc.IncidentResolved(h.ctx, inc.ID); n != 0 || err != nil {
			t.Errorf("IncidentResolved after the reopen = %d, %v; want 0", n, err)
		}
		got := h.get(c.ID)
		if got.State != complaint.StateInProgress {
			t.Errorf("state %s after the sweep, want in_progress: the reopened complaint was closed again", got.State)
		}
		if got.IncidentAnswered != inc.ID {
			t.Errorf("incident answered = %q, want %s", got.IncidentAnswered, inc.ID)
		}

		// A complaint that comes after the resolution (a caller for whom
		// it still fails, tagged to the incident by the agent) is not
		// answered by it: it stays open for a person.
		h.clock.Set(3 * time.Hour)
		late, _ := h.receive(complaint.Intake{Channel: complaint.Phone, Contact: complaint.Contact{Name: "Late caller"}, Text: "still fails", IncidentID: inc.ID})
		if n, err := h.svc.IncidentResolved(h.ctx, inc.ID); n != 0 || err != nil {
			t.Fatalf("IncidentResolved after a late complaint = %d, %v; want 0", n, err)
		}
		h.sweep(3*time.Hour + time.Minute)
		if got := h.get(late.ID); !got.Open() || got.IncidentAnswered != "" {
			t.Errorf("the late complaint: state %s, answered by %q; want open, unanswered", got.State, got.IncidentAnswered)
		}
		// Nor is it, or a customer's reply to the resolution message
		// (choosing the compensation it offered), acknowledged as "a
		// known problem we are fixing": a person will answer.
		choice, _ := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: bobPhone}, Text: "A visszatérítést kérem", ReplyTo: inc.ID})
		if choice.IncidentID() != inc.ID || !choice.Tag.Ended {
			t.Errorf("the reply to the resolution: tag %+v, want %s, ended", choice.Tag, inc.ID)
		}
		if asks := h.ack.ok(choice.ID); len(asks) != 1 || asks[0].Answer != complaint.AnswerReceived {
			t.Errorf("the reply after the resolution acknowledged with %+v, want %s", asks, complaint.AnswerReceived)
		}
		// The late caller spoke to an agent: no receipt at all.
		if asks := h.ack.ok(late.ID); len(asks) != 0 {
			t.Errorf("the late call acknowledged with %+v, want nothing", asks)
		}

		// An agent reopens a complaint the resolution answered: the same.
		if _, err := h.svc.Move(h.ctx, h.page.ID, b.ID, complaint.StateInProgress); err != nil {
			t.Fatal(err)
		}
		h.sweep(3*time.Hour + time.Minute)
		if got := h.get(b.ID); got.State != complaint.StateInProgress {
			t.Errorf("agent-reopened complaint: state %s after the sweep, want in_progress", got.State)
		}
		resolved := 0
		for _, a := range h.ack.all() {
			if a.Answer == complaint.AnswerIncidentResolved {
				resolved++
			}
		}
		if resolved != 2 {
			t.Errorf("%d resolution asks, want 2 (one per complaint)", resolved)
		}
	})
}

// TestReopenedByCustomerAnswered: a customer's reply to the resolution
// ("Nadal nie działa!", threaded to the complaint by email, or its
// reference quoted in a text) reopens the complaint as a new one would
// be handled: a receipt that a person will answer, and an owner (the one
// it had while they are an agent, else the next on duty, else the
// triage queue). Email and SMS behave the same.
func TestReopenedByCustomerAnswered(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		h.svc.OnDuty = []string{"alice", "bert"}
		inc := h.declare("Checkout is down", h.checkout)
		bob := complaint.Contact{Phone: bobPhone, Email: "bob@example.com"}
		kept, _ := h.receive(complaint.Intake{Contact: bob, Text: "cannot check out"})
		gone, _ := h.receive(complaint.Intake{Channel: complaint.Email, Contact: complaint.Contact{Email: annEmail}, Text: "checkout?", IncidentID: inc.ID})
		if kept.Owner != "alice" || gone.Owner != "bert" {
			t.Fatalf("owners %q, %q; want alice, bert", kept.Owner, gone.Owner)
		}
		h.clock.Set(time.Hour)
		h.resolveIncident(inc, "Fixed.")
		if n, err := h.svc.IncidentResolved(h.ctx, inc.ID); n != 2 || err != nil {
			t.Fatalf("IncidentResolved = %d, %v", n, err)
		}
		h.svc.OnDuty = []string{"alice", "cleo"} // bert is no agent any more
		for _, tt := range []struct {
			c     *complaint.Complaint
			in    complaint.Intake
			owner string
		}{
			{kept, complaint.Intake{Channel: complaint.Email, Contact: complaint.Contact{Email: "bob@example.com"}, Text: "Nadal nie działa!", ComplaintID: kept.ID}, "alice"},
			{gone, complaint.Intake{Channel: complaint.SMS, Contact: complaint.Contact{Phone: annPhone}, Text: gone.Ref + " still broken", ComplaintID: gone.ID}, "alice"},
		} {
			h.clock.Set(2 * time.Hour)
			got, created := h.receive(tt.in)
			if created || got.ID != tt.c.ID || got.State != complaint.StateInProgress {
				t.Fatalf("%s: created %v, %s %s; want %s reopened", tt.in.Channel, created, got.ID, got.State, tt.c.ID)
			}
			if got.Owner != tt.owner {
				t.Errorf("%s: owner %q, want %q", tt.in.Channel, got.Owner, tt.owner)
			}
			var receipts []ask
			for _, a := range h.ack.ok(got.ID) {
				if a.Answer == complaint.AnswerReceived {
					receipts = append(receipts, a)
				}
			}
			if len(receipts) != 1 {
				t.Errorf("%s: receipts %+v, want one", tt.in.Channel, receipts)
			}
			out := 0
			for _, e := range h.entries(got.ID, complaint.EntryMessageOut) {
				if e.Event == complaint.EventAckQueued && e.Args["answer"] == string(complaint.AnswerReceived) {
					out++
				}
			}
			if out != 1 {
				t.Errorf("%s: %d receipts on the timeline, want 1", tt.in.Channel, out)
			}
		}
		// Nobody on duty any more, its owner gone: the triage queue.
		if _, err := h.svc.Resolve(h.ctx, h.page.ID, gone.ID, complaint.RemedyFix, "Fixed now."); err != nil {
			t.Fatal(err)
		}
		h.svc.OnDuty = nil
		h.clock.Set(3 * time.Hour)
		got, _ := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: annPhone}, Text: "no, still broken", ComplaintID: gone.ID})
		if got.ID != gone.ID || got.Owner != "" || got.State != complaint.StateInProgress {
			t.Errorf("reopened again: %s owner %q state %s; want %s, nobody, in_progress", got.ID, got.Owner, got.State, gone.ID)
		}
		receipts := 0
		for _, a := range h.ack.ok(gone.ID) {
			if a.Answer == complaint.AnswerReceived {
				receipts++
			}
		}
		if receipts != 2 {
			t.Errorf("%d receipts after reopening twice, want 2", receipts)
		}
	})
}

func TestResolveByAgent(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		c, _ := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: bobPhone}, Text: "charged twice"})
		bad := []struct {
			field   string
			remedy  complaint.Remedy
			outcome string
		}{
			{"remedy", "", "Refunded."},
			{"remedy", "cake", "Refunded."},
			{"outcome", complaint.RemedyRefund, ""},
			{"outcome", complaint.RemedyRefund, "   "},
			{"outcome", complaint.RemedyRefund, strings.Repeat("x", complaint.MaxTextLen+1)},
		}
		for _, tt := range bad {
			_, err := h.svc.Resolve(h.ctx, h.page.ID, c.ID, tt.remedy, tt.outcome)
			wantField(t, err, tt.field)
		}
		if got := h.get(c.ID); got.State != complaint.StateAcknowledged || got.Version != c.Version {
			t.Fatalf("state %s version %d after refused resolves", got.State, got.Version)
		}
		_, err := h.svc.Resolve(h.ctx, "otherpage", c.ID, complaint.RemedyRefund, "Refunded.")
		wantCode(t, err, incident.ENOTFOUND)

		h.clock.Set(3 * time.Hour)
		res, err := h.svc.Resolve(h.ctx, h.page.ID, c.ID, complaint.RemedyRefund, " Refunded the second charge. ")
		if err != nil {
			t.Fatal(err)
		}
		if res.State != complaint.StateResolved || res.Remedy != complaint.RemedyRefund || res.Outcome != "Refunded the second charge." ||
			!res.ResolvedAt.Equal(t0.Add(3*time.Hour)) || !res.FirstAnswerAt.Equal(t0.Add(3*time.Hour)) || !res.CheckAt.IsZero() {
			t.Errorf("resolved = %+v", res)
		}
		asks := h.ack.ok(c.ID)
		if last := asks[len(asks)-1]; last.Answer != complaint.AnswerResolved || last.Text != "Refunded the second charge." || !strings.HasPrefix(last.Key, "resolved-") {
			t.Errorf("ask %+v", last)
		}
		_, err = h.svc.Resolve(h.ctx, h.page.ID, c.ID, complaint.RemedyRefund, "Again.")
		wantCode(t, err, incident.ETRANSITION)
		if _, err := h.svc.Move(h.ctx, h.page.ID, c.ID, complaint.StateClosed); err != nil {
			t.Fatal(err)
		}
		_, err = h.svc.Resolve(h.ctx, h.page.ID, c.ID, complaint.RemedyRefund, "Again.")
		wantCode(t, err, incident.ETRANSITION)
		if n := len(h.ack.ok(c.ID)); n != len(asks) {
			t.Errorf("refused resolves asked for answers: %+v", h.ack.ok(c.ID)[len(asks):])
		}
	})
}

func TestMove(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		c, _ := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: bobPhone}, Text: "help"})
		steps := []struct {
			to    complaint.State
			code  string // "" : moves
			field string
		}{
			{to: "bogus", code: incident.EINVALID, field: "state"},
			{to: complaint.StateResolved, code: incident.EINVALID, field: "state"}, // resolve needs an outcome
			{to: complaint.StateNew, code: incident.ETRANSITION},
			{to: complaint.StateClosed, code: incident.ETRANSITION}, // never a silent close
			{to: complaint.StateInProgress},
			{to: complaint.StateInProgress}, // already there: nothing changes
			{to: complaint.StateAcknowledged, code: incident.ETRANSITION},
			{to: complaint.StateWaitingOnCustomer},
			{to: complaint.StateClosed, code: incident.ETRANSITION},
			{to: complaint.StateInProgress},
		}
		for i, st := range steps {
			h.clock.Set(time.Duration(i+1) * time.Minute)
			before := h.get(c.ID)
			got, err := h.svc.Move(h.ctx, h.page.ID, c.ID, st.to)
			after := h.get(c.ID)
			if st.code != "" {
				wantCode(t, err, st.code)
				if st.field != "" {
					wantField(t, err, st.field)
				}
				if after.Version != before.Version {
					t.Errorf("step %d (%s): refused move wrote version %d", i, st.to, after.Version)
				}
				continue
			}
			if err != nil || got.State != st.to || after.State != st.to {
				t.Fatalf("step %d: Move(%s) = %v, %v", i, st.to, got, err)
			}
		}
		states := 0
		for _, e := range h.entries(c.ID, complaint.EntryState) {
			if strings.Contains(e.Text, "→") {
				states++
			}
		}
		if states != 4 { // new → acknowledged, → in_progress, → waiting, → in_progress
			t.Errorf("%d state entries, want 4", states)
		}

		// Resolved → closed → reopened.
		if _, err := h.svc.Resolve(h.ctx, h.page.ID, c.ID, complaint.RemedyNone, "Nothing to do."); err != nil {
			t.Fatal(err)
		}
		h.clock.Set(time.Hour)
		closed, err := h.svc.Move(h.ctx, h.page.ID, c.ID, complaint.StateClosed)
		if err != nil || closed.ClosedAt == nil || !closed.ClosedAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("close = %+v, %v", closed, err)
		}
		h.clock.Set(2 * time.Hour)
		re, err := h.svc.Move(h.ctx, h.page.ID, c.ID, complaint.StateInProgress)
		if err != nil || re.State != complaint.StateInProgress || re.ClosedAt != nil || re.ResolvedAt != nil || re.Owner != c.Owner {
			t.Errorf("reopen = %+v, %v", re, err)
		}
	})
}

// ---- the sweep's lease ----
//
// Store.Lease is used only by the unexported schedule, which runs on
// robfig/cron's real clock ("@every 30s"); the conformance suite
// (store/storetest testLease) covers the lease on both engines.

// ---- stats ----

func TestStats(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		inc := h.declare("Card payments are failing", h.payments)

		// c1: Ann by SMS, tagged; answered by the incident's resolution at +2h.
		c1, _ := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: annPhone}, Text: "card payment failed"})
		// c2: Bob by email, untagged; a reply at +5h, resolved by an agent at +10h.
		h.clock.Set(time.Hour)
		c2, _ := h.receive(complaint.Intake{Channel: complaint.Email, Contact: complaint.Contact{Email: "bob@example.com"}, Text: "invoice wrong", Category: complaint.CategoryRefund})
		// c3: an unknown contact on the form, never answered.
		h.clock.Set(2 * time.Hour)
		c3, _ := h.receive(complaint.Intake{Channel: complaint.Web, Contact: complaint.Contact{Email: "x@example.net"}, Text: "hello"})
		h.clock.Set(2 * time.Hour)
		h.resolveIncident(inc, "Fixed.")
		if _, err := h.svc.IncidentResolved(h.ctx, inc.ID); err != nil {
			t.Fatal(err)
		}
		h.clock.Set(5 * time.Hour)
		if _, err := h.svc.Reply(h.ctx, h.page.ID, c2.ID, "Checking."); err != nil {
			t.Fatal(err)
		}
		// c4: Ann again about the same incident: a repeat, still open.
		h.clock.Set(6 * time.Hour)
		c4, _ := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: annPhone}, Text: "card payment failed again", IncidentID: inc.ID})
		h.clock.Set(10 * time.Hour)
		if _, err := h.svc.Resolve(h.ctx, h.page.ID, c2.ID, complaint.RemedyRefund, "Refunded."); err != nil {
			t.Fatal(err)
		}
		// c5: outside [from, to), and still in the backlog.
		h.clock.Set(4 * 24 * time.Hour)
		h.receive(complaint.Intake{Channel: complaint.Slack, Contact: complaint.Contact{Slack: "U0OTHER"}, Text: "later"})

		h.clock.Set(4*24*time.Hour + time.Hour)
		st, err := h.svc.Stats(h.ctx, h.page.ID, t0, t0.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if st.Total != 4 || st.Tagged != 2 || st.Untagged != 2 || st.Repeats != 1 || st.RepeatRate != 0.25 {
			t.Errorf("total %d tagged %d untagged %d repeats %d rate %v; want 4 2 2 1 0.25", st.Total, st.Tagged, st.Untagged, st.Repeats, st.RepeatRate)
		}
		wantMap(t, "by channel", st.ByChannel, map[complaint.Channel]int{complaint.SMS: 2, complaint.Email: 1, complaint.Web: 1})
		wantMap(t, "by category", st.ByCategory, map[complaint.Category]int{complaint.CategoryOutage: 2, complaint.CategoryRefund: 1, complaint.CategoryOther: 1})
		wantMap(t, "by incident", st.ByIncident, map[string]int{inc.ID: 2})
		wantMap(t, "by state", st.ByState, map[complaint.State]int{complaint.StateResolved: 2, complaint.StateAcknowledged: 2})
		wantMap(t, "remedies", st.Remedies, map[complaint.Remedy]int{complaint.RemedyApology: 1, complaint.RemedyRefund: 1})
		if want := (complaint.Percentiles{N: 2, P50: 2 * time.Hour, P90: 4 * time.Hour}); st.FirstAnswer != want {
			t.Errorf("first answer %+v, want %+v", st.FirstAnswer, want)
		}
		if want := (complaint.Percentiles{N: 2, P50: 2 * time.Hour, P90: 9 * time.Hour}); st.Resolution != want {
			t.Errorf("resolution %+v, want %+v", st.Resolution, want)
		}
		if want := (complaint.Percentiles{N: 4}); st.Acknowledgement != want {
			t.Errorf("acknowledgement %+v, want %+v", st.Acknowledgement, want)
		}
		// c1 and c2 kept their promises; c3 and c4 broke the first answer.
		if st.SLAJudged != 4 || st.SLAKept != 0.5 {
			t.Errorf("sla judged %d kept %v; want 4 and 0.5", st.SLAJudged, st.SLAKept)
		}
		// Open: c3 and c4 (4 days old), c5 (an hour old).
		wantMap(t, "backlog", st.Backlog, map[string]int{"<1d": 1, "1-3d": 0, "3-7d": 2, ">7d": 0})
		for _, c := range []*complaint.Complaint{c1, c3, c4} {
			if got := h.get(c.ID); got.CreatedAt.Before(t0) || !got.CreatedAt.Before(t0.Add(24*time.Hour)) {
				t.Errorf("%s created %s, outside the window", c.ID, got.CreatedAt)
			}
		}
	})
}

func wantMap[K comparable](t *testing.T, what string, got, want map[K]int) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", what, got, want)
			return
		}
	}
	for k, v := range got {
		if v != 0 && want[k] != v {
			t.Errorf("%s = %v, want %v", what, got, want)
			return
		}
	}
}

// TestReopenRestartsPromise: a complaint resolved in time and reopened
// later (by the customer or by an agent) gets a new resolution promise,
// as long as the first, from the reopening: the sweep does not tell a
// manager at once that a promise which was kept is broken.
func TestReopenRestartsPromise(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		tests := []struct {
			name   string
			reopen func(h *harness, c *complaint.Complaint)
		}{
			{"the customer writes", func(h *harness, c *complaint.Complaint) {
				h.receive(complaint.Intake{Contact: complaint.Contact{Phone: bobPhone}, Text: "not fixed", ComplaintID: c.ID})
			}},
			{"an agent reopens", func(h *harness, c *complaint.Complaint) {
				if _, err := h.svc.Move(h.ctx, h.page.ID, c.ID, complaint.StateInProgress); err != nil {
					h.t.Fatal(err)
				}
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := newHarness(t, open)
				c, _ := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: bobPhone}, Text: "charged twice"})
				h.clock.Set(3 * time.Hour)
				if _, err := h.svc.Resolve(h.ctx, h.page.ID, c.ID, complaint.RemedyRefund, "Refunded."); err != nil {
					t.Fatal(err)
				}
				h.clock.Set(60 * time.Hour)
				tt.reopen(h, c)
				got := h.get(c.ID)
				reopened := t0.Add(60 * time.Hour)
				if got.State != complaint.StateInProgress || !got.ResolveDue.Equal(reopened.Add(complaint.DefaultResolve)) {
					t.Errorf("state %s, resolve due %s; want in_progress, %s", got.State, got.ResolveDue, reopened.Add(complaint.DefaultResolve))
				}
				h.sweep(60*time.Hour + time.Minute)
				if es := h.entries(c.ID, complaint.EntrySLA); len(es) != 0 {
					t.Errorf("sla entries right after the reopen: %q", es[0].Text)
				}
				h.sweep(60*time.Hour + complaint.DefaultResolve - complaint.DefaultWarnBefore)
				if es := h.entries(c.ID, complaint.EntrySLA); len(es) != 1 || !strings.Contains(es[0].Text, "warning") {
					t.Errorf("sla entries before the new promise: %d, want a warning", len(es))
				}
			})
		}
	})
}

// TestReplyChannelOnTimeline: what herald writes back is on the timeline
// under the channel it went by: a call with a phone number is answered by
// SMS (the timeline said "message_out (phone)").
func TestReplyChannelOnTimeline(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		c, _ := h.receive(complaint.Intake{Channel: complaint.Phone, Contact: complaint.Contact{Name: "Caller", Phone: annPhone}, Text: "the app logs me out"})
		if _, err := h.svc.Reply(h.ctx, h.page.ID, c.ID, "We are looking into it."); err != nil {
			t.Fatal(err)
		}
		outs := h.entries(c.ID, complaint.EntryMessageOut)
		if len(outs) == 0 {
			t.Fatal("nothing on the timeline went out")
		}
		for _, e := range outs {
			if e.Channel != complaint.SMS {
				t.Errorf("%q went out by %s on the timeline, want sms", e.Text, e.Channel)
			}
		}
		if got := h.get(c.ID); got.Channel != complaint.Phone {
			t.Errorf("the complaint's own channel became %s", got.Channel)
		}
	})
}

// TestAssignOnlyToAgents: a complaint goes to an agent herald knows (a
// live token's name, or one on duty), whatever the case it is typed in;
// a misspelt or revoked name is refused with the names there are, and
// the complaint keeps its owner.
func TestAssignOnlyToAgents(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		h.svc.OnDuty = []string{"Night Desk"}
		if _, _, err := h.inc.CreateToken(h.ctx, "Kovács Anna", incident.RoleAgent); err != nil {
			t.Fatal(err)
		}
		_, gone, err := h.inc.CreateToken(h.ctx, "Bert", incident.RoleAgent)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.inc.RevokeToken(h.ctx, gone.ID); err != nil {
			t.Fatal(err)
		}
		c, _ := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: bobPhone}, Text: "nothing works"})

		for _, tt := range []struct{ name, want string }{
			{"Kovács Anna", "Kovács Anna"}, {"kovács anna", "Kovács Anna"}, {"night desk", "Night Desk"}, {"", ""},
		} {
			got, err := h.svc.Assign(h.ctx, h.page.ID, c.ID, tt.name)
			if err != nil || got.Owner != tt.want {
				t.Errorf("assign %q: owner %v, %v; want %q", tt.name, got, err, tt.want)
			}
		}
		if _, err := h.svc.Assign(h.ctx, h.page.ID, c.ID, "Night Desk"); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"Kovacs Anna", "Bert", "dora"} {
			_, err := h.svc.Assign(h.ctx, h.page.ID, c.ID, name)
			var e *incident.Error
			if !errors.As(err, &e) || e.Field != "owner" || !strings.Contains(err.Error(), "Kovács Anna, Night Desk") {
				t.Errorf("assign %q: %v; want an owner error naming the agents", name, err)
			}
			if got := h.get(c.ID).Owner; got != "Night Desk" {
				t.Errorf("after assigning %q: owner %q, want it unchanged", name, got)
			}
		}
		// A call recorded for a misspelt agent is refused too, and files nothing.
		count := func() int {
			_, n, err := h.svc.List(h.ctx, complaint.Filter{PageID: h.page.ID})
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		before := count()
		if _, _, err := h.svc.Receive(h.ctx, complaint.Intake{PageID: h.page.ID, Channel: complaint.Phone,
			Contact: complaint.Contact{Name: "Caller"}, Text: "call", Owner: "Anna K"}); err == nil {
			t.Error("a call recorded for an unknown agent was filed")
		}
		if after := count(); after != before {
			t.Errorf("complaints %d → %d after a refused call", before, after)
		}
	})
}

// TestIncidentResolvedAnswersInTheirLanguage: the all-clear's answer to a
// complaint is recorded in the complainant's language when the operator
// wrote the resolution in it, as it is sent: Ann (Hungarian) gets the
// Hungarian text, Bob (Polish, none written) the default.
func TestIncidentResolvedAnswersInTheirLanguage(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		inc := h.declare("Card payments are failing", h.payments, h.checkout)
		h.clock.Set(10 * time.Minute)
		ann, _ := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: annPhone}, Text: "my card payment failed", IncidentID: inc.ID})
		bob, _ := h.receive(complaint.Intake{Contact: complaint.Contact{Phone: bobPhone}, Text: "checkout fails", IncidentID: inc.ID})
		h.clock.Set(time.Hour)
		if _, err := h.inc.UpdateIncident(h.ctx, h.page.ID, inc.ID, incident.IncidentInput{Status: ptr(incident.Resolved),
			Body: ptr("Payments work again."), Messages: map[string]string{"hu": "A fizetés újra működik."}}); err != nil {
			t.Fatal(err)
		}
		h.clock.Set(time.Hour + time.Second)
		if n, err := h.svc.IncidentResolved(h.ctx, inc.ID); err != nil || n != 2 {
			t.Fatalf("IncidentResolved = %d, %v; want 2", n, err)
		}
		for _, tt := range []struct {
			c    *complaint.Complaint
			want string
		}{{ann, "A fizetés újra működik."}, {bob, "Payments work again."}} {
			if got := h.get(tt.c.ID); got.Outcome != tt.want {
				t.Errorf("%s (%s): outcome %q, want %q", tt.c.ID, got.Language, got.Outcome, tt.want)
			}
			for _, a := range h.ack.ok(tt.c.ID) {
				if a.Answer == complaint.AnswerIncidentResolved && a.Text != tt.want {
					t.Errorf("%s: answered %q, want %q", tt.c.ID, a.Text, tt.want)
				}
			}
		}
	})
}

// TestIncidentResolvedOnTwoNodes: two nodes answering one incident's
// complaints at once (each gets the event) resolve each complaint once
// between them, and what they report adds up to the complaints answered.
func TestIncidentResolvedOnTwoNodes(t *testing.T) {
	forEngine(t, func(t *testing.T, open func(t *testing.T) engine) {
		h := newHarness(t, open)
		inc := h.declare("Card payments are failing", h.payments)
		h.clock.Set(10 * time.Minute)
		const n = 12
		for i := range n {
			h.receive(complaint.Intake{Contact: complaint.Contact{Phone: fmt.Sprintf("+3620%07d", i)}, Text: "payment failed", IncidentID: inc.ID})
		}
		h.clock.Set(time.Hour)
		h.resolveIncident(inc, "Payments work again.")
		h.clock.Set(time.Hour + time.Second)
		a, b := h.service(), h.service()
		var wg sync.WaitGroup
		counts := make([]int, 2)
		for i, s := range []*complaint.Service{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := s.IncidentResolved(h.ctx, inc.ID)
				if err != nil {
					t.Error(err)
				}
				counts[i] = got
			}()
		}
		wg.Wait()
		if counts[0]+counts[1] != n {
			t.Errorf("the nodes report %v answered, for %d complaints", counts, n)
		}
		cs, _, err := h.svc.List(h.ctx, complaint.Filter{PageID: h.page.ID, IncidentID: inc.ID})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.State != complaint.StateResolved {
				t.Errorf("%s is %s after both nodes answered", c.ID, c.State)
			}
			answers := 0
			for _, e := range h.entries(c.ID, complaint.EntryMessageOut) {
				if e.Text == "Payments work again." {
					answers++
				}
			}
			if answers != 1 {
				t.Errorf("%s has %d resolution answers in its timeline, want 1", c.ID, answers)
			}
		}
	})
}
