package surveys_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/store/enginetest"
	"github.com/heraldhq/herald/store/sqlite"
	"github.com/heraldhq/herald/surveys"
)

// engine is what a surveys test needs of a real engine.
type engine interface {
	incident.Store
	surveys.Store
	surveys.Leaser
	surveys.Secrets
	Suppress(ctx context.Context, s audience.Suppression) error
	FindSuppression(ctx context.Context, pageID string, kind channel.Kind, address string) (*audience.Suppression, error)
}

// sender records the survey deliveries it is asked to queue, as the
// pipeline would: by delivery ID, so a repeat is the same delivery.
type sender struct {
	mu    sync.Mutex
	calls int
	ids   map[string]string // delivery ID → survey ID
	// asks counts the requests for a score; asked holds them by delivery
	// ID (→ the Message-ID the first was threaded under).
	asks  int
	asked map[string]string
	// thanks counts the thanks for a score; thanked holds them by
	// delivery ID (→ the Message-ID the first was threaded under).
	thanks  int
	thanked map[string]string
}

func (s *sender) SendSurvey(_ context.Context, sv *surveys.Survey, url string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	id := queue.DeliveryID("survey:"+sv.ID, sv.Channel, sv.Address)
	if s.ids == nil {
		s.ids = map[string]string{}
	}
	s.ids[id] = sv.ID
	return id, nil
}

// AskForScore records the request for a score as the pipeline would: by
// its delivery ID, derived from the survey alone.
func (s *sender) AskForScore(_ context.Context, sv *surveys.Survey, url, inReplyTo string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asks++
	id := queue.DeliveryID("survey-ask:"+sv.ID, sv.Channel, sv.Address)
	if s.asked == nil {
		s.asked = map[string]string{}
	}
	if _, ok := s.asked[id]; !ok {
		s.asked[id] = inReplyTo
	}
	return id, nil
}

// ThankForAnswer records the thanks for a score as the pipeline would:
// by its delivery ID, derived from the survey alone.
func (s *sender) ThankForAnswer(_ context.Context, sv *surveys.Survey, url, inReplyTo string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.thanks++
	id := queue.DeliveryID("survey-thanks:"+sv.ID, sv.Channel, sv.Address)
	if s.thanked == nil {
		s.thanked = map[string]string{}
	}
	if _, ok := s.thanked[id]; !ok {
		s.thanked[id] = inReplyTo
	}
	return id, nil
}

// onDueEngines runs fn on each engine, holding page p1 (UTC), at now:
// Friday 2026-12-04, noon UTC.
func onDueEngines(t *testing.T, redisPrefix string, fn func(t *testing.T, db engine, now time.Time)) {
	for name, open := range map[string]func(t *testing.T) engine{
		"sqlite": func(t *testing.T) engine { return enginetest.SQLite(t) },
		"redis":  func(t *testing.T) engine { return enginetest.Redis(t, redisPrefix) },
	} {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
			page := &incident.Page{ID: "p1", Name: "Acme", TimeZone: "UTC", CreatedAt: now, UpdatedAt: now}
			if err := db.Commit(context.Background(), &incident.Change{Pages: []*incident.Page{page}}); err != nil {
				t.Fatal(err)
			}
			fn(t, db, now)
		})
	}
}

// newSweeper is a node's surveys service over db, sending through snd, at now.
func newSweeper(db engine, snd *sender, now time.Time) *surveys.Service {
	s := surveys.NewService(db, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.Sender, s.Secrets, s.Leaser, s.PublicURL = snd, db, db, "http://status.example"
	s.Now = func() time.Time { return now }
	return s
}

// TestSweepSendsEachOnce runs two nodes' sweeps at once over one store, as
// after a crash or on Redis: every due survey becomes one delivery, and
// is recorded as sent once.
func TestSweepSendsEachOnce(t *testing.T) {
	onDueEngines(t, "surveys-sweep", func(t *testing.T, db engine, now time.Time) {
		ctx := context.Background()
		const n = 300
		var ss []*surveys.Survey
		for i := range n {
			key := fmt.Sprintf("customer:c%03d", i)
			ss = append(ss, &surveys.Survey{ID: surveys.SurveyID("inc1", key), PageID: "p1", IncidentID: "inc1", RecipientType: queue.FromCustomer,
				RecipientID: fmt.Sprintf("c%03d", i), Key: key, Channel: channel.Email, Address: fmt.Sprintf("c%03d@example.com", i), Language: "en",
				State: surveys.Scheduled, DueAt: now.Add(-time.Minute), CreatedAt: now, UpdatedAt: now, Version: 1})
		}
		if created, err := db.CreateSurveys(ctx, ss); err != nil || created != n {
			t.Fatalf("CreateSurveys = %d, %v", created, err)
		}
		snd := &sender{}
		node := func() *surveys.Service {
			return newSweeper(db, snd, now)
		}
		a, b := node(), node()
		var wg sync.WaitGroup
		var total atomic.Int64
		for _, s := range []*surveys.Service{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					sent, err := s.SendDue(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					total.Add(int64(sent))
					if sent == 0 {
						return
					}
				}
			}()
		}
		wg.Wait()
		// The rest, had both stopped on a batch the other saved first.
		if sent, err := a.SendDue(ctx); err != nil {
			t.Fatal(err)
		} else {
			total.Add(int64(sent))
		}
		if len(snd.ids) != n {
			t.Fatalf("%d distinct deliveries for %d surveys (%d calls)", len(snd.ids), n, snd.calls)
		}
		// What the two nodes say they sent adds up to what was sent.
		if got := total.Load(); got != n {
			t.Errorf("the nodes report %d surveys sent, for %d sent", got, n)
		}
		ts, err := db.Tallies(ctx, "inc1")
		if err != nil {
			t.Fatal(err)
		}
		if all := ts[""]; all == nil || all.Sent != n || all.Scheduled != 0 {
			t.Fatalf("tallies after the sweeps: %+v", all)
		}
		for _, sv := range ss {
			got, err := db.FindSurveyByID(ctx, sv.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != surveys.Sent || snd.ids[got.DeliveryID] != sv.ID {
				t.Fatalf("survey %s: %s, delivery %q", sv.ID, got.State, got.DeliveryID)
			}
		}
	})
}

// TestSendDueSkipsOptedOut: a survey to an address that texted STOP or
// followed the unsubscribe link after the survey was scheduled is skipped,
// saying why, not handed to the pipeline (which would suppress it) and
// counted sent; the others go.
func TestSendDueSkipsOptedOut(t *testing.T) {
	onDueEngines(t, "surveys-optout", func(t *testing.T, db engine, now time.Time) {
		ctx := context.Background()
		survey := func(id string, kind channel.Kind, addr string) *surveys.Survey {
			key := "customer:" + id
			return &surveys.Survey{ID: surveys.SurveyID("inc1", key), PageID: "p1", IncidentID: "inc1", RecipientType: queue.FromCustomer,
				RecipientID: id, Key: key, Channel: kind, Address: addr, Language: "en",
				State: surveys.Scheduled, DueAt: now.Add(-time.Minute), CreatedAt: now.Add(-time.Hour), UpdatedAt: now.Add(-time.Hour), Version: 1}
		}
		stopped, unsubscribed, kept := survey("c1", channel.SMS, "+36201234567"), survey("c2", channel.Email, "c2@example.com"), survey("c3", channel.Email, "c3@example.com")
		if created, err := db.CreateSurveys(ctx, []*surveys.Survey{stopped, unsubscribed, kept}); err != nil || created != 3 {
			t.Fatalf("CreateSurveys = %d, %v", created, err)
		}
		// STOP is per sender number, so every page's; the link, the page's.
		for _, sup := range []audience.Suppression{{Kind: channel.SMS, Address: "+36201234567", Reason: "stop", At: now.Add(-30 * time.Minute)},
			{PageID: "p1", Kind: channel.Email, Address: "c2@example.com", Reason: "unsubscribe", At: now.Add(-20 * time.Minute)}} {
			if err := db.Suppress(ctx, sup); err != nil {
				t.Fatal(err)
			}
		}
		snd := &sender{}
		s := newSweeper(db, snd, now)
		s.Suppressions = db
		sent, err := s.SendDue(ctx)
		if err != nil || sent != 1 || snd.calls != 1 {
			t.Fatalf("SendDue = %d, %v; %d deliveries queued, want 1", sent, err, snd.calls)
		}
		for _, tt := range []struct {
			sv     *surveys.Survey
			state  surveys.State
			reason string
		}{{stopped, surveys.Skipped, "(stop)"}, {unsubscribed, surveys.Skipped, "(unsubscribe)"}, {kept, surveys.Sent, ""}} {
			got, err := db.FindSurveyByID(ctx, tt.sv.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != tt.state || !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("%s: %s (%q), want %s (%q)", tt.sv.Address, got.State, got.Reason, tt.state, tt.reason)
			}
		}
		ts, err := db.Tallies(ctx, "inc1")
		if err != nil {
			t.Fatal(err)
		}
		if all := ts[""]; all == nil || all.Sent != 1 || all.Skipped != 2 {
			t.Fatalf("tallies: %+v, want 1 sent and 2 skipped", all)
		}
	})
}

// openDesk answers List with an open complaint about inc1 for the
// contact keys it holds (key → reference), as complaint.Service would.
type openDesk struct {
	desk
	open map[string]string
}

func (d *openDesk) List(_ context.Context, f complaint.Filter) ([]*complaint.Complaint, int, error) {
	if ref, ok := d.open[f.ContactKey]; ok && f.Open && f.IncidentID == "inc1" {
		return []*complaint.Complaint{{ID: "x", Ref: ref}}, 1, nil
	}
	return nil, 0, nil
}

// TestSendDueWaitsForOpenComplaint: a survey to someone whose complaint
// about the incident is still open is not sent: it waits a day, in their
// daytime, saying why, and is skipped once it has waited a week; the
// others go.
func TestSendDueWaitsForOpenComplaint(t *testing.T) {
	onDueEngines(t, "surveys-complaint", func(t *testing.T, db engine, now time.Time) {
		ctx := context.Background()
		survey := func(id string, rt queue.RecipientType, kind channel.Kind, addr string, created time.Time) *surveys.Survey {
			key := string(rt) + ":" + id
			return &surveys.Survey{ID: surveys.SurveyID("inc1", key), PageID: "p1", IncidentID: "inc1", RecipientType: rt,
				RecipientID: id, Key: key, Channel: kind, Address: addr, Language: "en",
				State: surveys.Scheduled, DueAt: now.Add(-time.Minute), CreatedAt: created, UpdatedAt: created, Version: 1}
		}
		waiting := survey("c1", queue.FromCustomer, channel.Email, "c1@example.com", now.Add(-time.Hour))
		subscriber := survey("s1", queue.FromSubscriber, channel.SMS, "+36201234567", now.Add(-time.Hour))
		stale := survey("c2", queue.FromCustomer, channel.Email, "c2@example.com", now.Add(-8*24*time.Hour))
		free := survey("c3", queue.FromCustomer, channel.Email, "c3@example.com", now.Add(-time.Hour))
		if created, err := db.CreateSurveys(ctx, []*surveys.Survey{waiting, subscriber, stale, free}); err != nil || created != 4 {
			t.Fatalf("CreateSurveys = %d, %v", created, err)
		}
		snd := &sender{}
		s := newSweeper(db, snd, now)
		s.Complaints = &openDesk{open: map[string]string{"customer:c1": "C-AAAA1111", "phone:+36201234567": "C-BBBB2222", "customer:c2": "C-CCCC3333"}}
		sent, err := s.SendDue(ctx)
		if err != nil || sent != 1 || snd.calls != 1 {
			t.Fatalf("SendDue = %d, %v; %d queued, want only the survey without a complaint", sent, err, snd.calls)
		}
		monday := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
		for _, tt := range []struct {
			sv     *surveys.Survey
			state  surveys.State
			reason string
			due    time.Time
		}{
			// A day later is Saturday, outside the survey days: Monday 09:00.
			{waiting, surveys.Scheduled, "C-AAAA1111 to be resolved", monday},
			{subscriber, surveys.Scheduled, "C-BBBB2222 to be resolved", monday},
			{stale, surveys.Skipped, "C-CCCC3333 about the incident stayed open", time.Time{}},
			{free, surveys.Sent, "", time.Time{}},
		} {
			got, err := db.FindSurveyByID(ctx, tt.sv.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != tt.state || !strings.Contains(got.Reason, tt.reason) || !tt.due.IsZero() && !got.DueAt.Equal(tt.due) {
				t.Errorf("%s: %s (%q) due %s; want %s (%q) due %s", tt.sv.RecipientID, got.State, got.Reason, got.DueAt, tt.state, tt.reason, tt.due)
			}
		}
		// Not due again before its new time.
		if sent, err := s.SendDue(ctx); err != nil || sent != 0 || snd.calls != 1 {
			t.Errorf("a second sweep: %d, %v, %d queued; want nothing", sent, err, snd.calls)
		}
	})
}

// desk is the complaint desk as far as win-backs use it: Receive files
// one complaint per ExternalID, as complaint.Service does (a provider's
// retry, or a second click, is the same complaint).
type desk struct {
	mu    sync.Mutex
	byExt map[string]*complaint.Complaint
	in    []complaint.Intake  // what Receive was given
	notes map[string][]string // complaint ID → the notes added to it
}

func (c *desk) List(context.Context, complaint.Filter) ([]*complaint.Complaint, int, error) {
	return nil, 0, nil
}

func (c *desk) Receive(_ context.Context, in complaint.Intake) (*complaint.Complaint, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.in = append(c.in, in)
	if got, ok := c.byExt[in.ExternalID]; ok {
		return got, false, nil
	}
	if c.byExt == nil {
		c.byExt = map[string]*complaint.Complaint{}
	}
	cp := &complaint.Complaint{ID: fmt.Sprintf("c%d", len(c.byExt)+1), PageID: in.PageID}
	c.byExt[in.ExternalID] = cp
	return cp, true, nil
}

func (c *desk) Note(_ context.Context, _, id, text string) (*complaint.Complaint, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.notes == nil {
		c.notes = map[string][]string{}
	}
	c.notes[id] = append(c.notes[id], text)
	return &complaint.Complaint{ID: id}, nil
}

// TestConcurrentUnhappyAnswersOneWinBack: an unhappy score posted eight
// times at once (a double click, a scanner, a script) opens one win-back
// task, recorded once on the survey: a second record of it would use up
// the survey's allowance (WinBackMax) and keep a later, real one from
// opening.
func TestConcurrentUnhappyAnswersOneWinBack(t *testing.T) {
	ctx := context.Background()
	s, d, db, sv, token := sentSurvey(t, "hu", "en")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.AnswerLink(ctx, token, surveys.Answer{Score: 1, Comment: fmt.Sprintf("unhappy %d", i)}); err != nil && incident.ErrorCode(err) != incident.ECONFLICT {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := db.FindSurveyByID(ctx, sv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.WinBacks) != 1 {
		t.Errorf("win-backs recorded %v, want one", got.WinBacks)
	}
	// The task's note is written by the answer that opened it, once.
	opened := 0
	for _, n := range d.notes[got.WinBacks[0]] {
		if strings.HasPrefix(n, "Visszanyerési feladat") {
			opened++
		}
	}
	if opened != 1 {
		t.Errorf("the win-back note was written %d times, want once: %q", opened, d.notes[got.WinBacks[0]])
	}
	// The task is in the page's first language, for its agents.
	if len(d.in) == 0 || !d.in[0].Separate || d.in[0].Subject != "Elégedetlen az incidens után: keresse meg" || !strings.HasPrefix(d.in[0].Text, "Kérdőív: 1/5. Megjegyzése: unhappy") {
		t.Errorf("the win-back task's words: %+v", d.in)
	}
}

// TestChangedAnswerNotedOnItsWinBack: a customer who changes an unhappy
// answer after its win-back task opened has the change noted on the task,
// which would otherwise go on quoting the first score.
func TestChangedAnswerNotedOnItsWinBack(t *testing.T) {
	ctx := context.Background()
	s, d, _, _, token := sentSurvey(t, "en")
	if _, err := s.AnswerLink(ctx, token, surveys.Answer{Score: 2}); err != nil {
		t.Fatal(err)
	}
	if len(d.byExt) != 1 || len(d.in) != 1 || d.in[0].Text != "Survey answer: 2 of 5." {
		t.Fatalf("the win-back task: %+v", d.in)
	}
	if _, err := s.AnswerLink(ctx, token, surveys.Answer{Score: 1}); err != nil {
		t.Fatal(err)
	}
	want := "The customer changed their survey answer: now 1 of 5 (was 2)."
	if notes := d.notes["c1"]; len(notes) == 0 || notes[len(notes)-1] != want {
		t.Errorf("notes on the win-back task %v, want the last to be %q", notes, want)
	}
}

// sentSurvey is a survey sent an hour ago to customer c1 of page p1 (its
// languages langs) on SQLite, the service answering it with the desk as
// its complaints, and the token of its link.
func sentSurvey(t *testing.T, langs ...string) (*surveys.Service, *desk, *sqlite.DB, *surveys.Survey, string) {
	t.Helper()
	return sentSurveyOn(t, channel.Email, langs...)
}

// sentSurveyOn is sentSurvey on kind: to +36201234567 by SMS, to
// c1@example.com by email.
func sentSurveyOn(t *testing.T, kind channel.Kind, langs ...string) (*surveys.Service, *desk, *sqlite.DB, *surveys.Survey, string) {
	t.Helper()
	addr := "c1@example.com"
	if kind == channel.SMS {
		addr = "+36201234567"
	}
	db := enginetest.SQLite(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	page := &incident.Page{ID: "p1", Name: "Acme", TimeZone: "UTC", Languages: langs, CreatedAt: now, UpdatedAt: now}
	if err := db.Commit(ctx, &incident.Change{Pages: []*incident.Page{page}}); err != nil {
		t.Fatal(err)
	}
	sent := now.Add(-time.Hour)
	sv := &surveys.Survey{ID: surveys.SurveyID("inc1", "customer:c1"), PageID: "p1", IncidentID: "inc1", RecipientType: queue.FromCustomer,
		RecipientID: "c1", Key: "customer:c1", Channel: kind, Address: addr, Language: "en",
		State: surveys.Scheduled, DueAt: sent, CreatedAt: sent, UpdatedAt: sent, Version: 1}
	if created, err := db.CreateSurveys(ctx, []*surveys.Survey{sv}); err != nil || created != 1 {
		t.Fatalf("CreateSurveys = %d, %v", created, err)
	}
	sv.State, sv.SentAt, sv.Version = surveys.Sent, &sent, 2
	if err := db.SaveSurvey(ctx, sv); err != nil {
		t.Fatal(err)
	}
	s := surveys.NewService(db, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	d := &desk{}
	s.Secrets, s.Leaser, s.PublicURL, s.Complaints, s.Suppressions = db, db, "http://status.example", d, db
	link, err := s.Link(ctx, sv)
	if err != nil {
		t.Fatal(err)
	}
	return s, d, db, sv, link[strings.LastIndex(link, "/")+1:]
}

// TestWinBackAfterDeclineThenGrant: a customer who declined an offer is
// not pressed with a win-back task, unless they took it after all: a
// grant after the decline supersedes it.
func TestWinBackAfterDeclineThenGrant(t *testing.T) {
	for _, tookIt := range []bool{false, true} {
		t.Run(fmt.Sprintf("took it after all=%v", tookIt), func(t *testing.T) {
			ctx := context.Background()
			s, d, db, sv, token := sentSurvey(t, "en")
			s.Grants = db
			at := time.Now().UTC().Truncate(time.Millisecond)
			gs := []*compensation.Grant{{ID: "g1", PageID: "p1", IncidentID: "inc1", CustomerID: "c1", Group: "sorry", Declined: true, By: "agent", At: at, Key: "k1"}}
			if tookIt {
				gs = append(gs, &compensation.Grant{ID: "g2", PageID: "p1", IncidentID: "inc1", CustomerID: "c1", Group: "sorry", OfferID: "day",
					Kind: compensation.FreePeriod, Days: 1, By: "agent", At: at.Add(time.Minute), Key: "k2"})
			}
			for i, g := range gs {
				if _, _, err := db.SaveGrant(ctx, g, i); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.AnswerLink(ctx, token, surveys.Answer{Score: 1, Comment: "slow answers"}); err != nil {
				t.Fatal(err)
			}
			got, err := db.FindSurveyByID(ctx, sv.ID)
			if err != nil {
				t.Fatal(err)
			}
			if opened := len(got.WinBacks) > 0 || len(d.in) > 0; opened != tookIt {
				t.Errorf("a win-back task opened: %v, want %v (tasks %+v)", opened, tookIt, d.in)
			}
		})
	}
}

// TestWinBackOnlyForTheUnhappy: praise with words (4 or 5 and a thank
// you) opens no task labelled "unhappy"; a low score does, and so does a
// middling 3 with words.
func TestWinBackOnlyForTheUnhappy(t *testing.T) {
	for _, tc := range []struct {
		a    surveys.Answer
		task bool
	}{
		{surveys.Answer{Score: 5, Comment: "Great job, thanks!"}, false},
		{surveys.Answer{Score: 4, Comment: "quick fix"}, false},
		{surveys.Answer{Score: 4}, false},
		{surveys.Answer{Score: 3}, false},
		{surveys.Answer{Score: 3, Comment: "slow to tell us"}, true},
		{surveys.Answer{Score: 2}, true},
		{surveys.Answer{Score: 1, Comment: "nobody called"}, true},
	} {
		t.Run(fmt.Sprintf("%d %s", tc.a.Score, tc.a.Comment), func(t *testing.T) {
			s, d, _, _, token := sentSurvey(t, "en")
			got, err := s.AnswerLink(context.Background(), token, tc.a)
			if err != nil {
				t.Fatal(err)
			}
			if opened := len(d.in) > 0; opened != tc.task || got.FollowsUp() != tc.task {
				t.Errorf("task opened %v (follows up %v), want %v: %+v", opened, got.FollowsUp(), tc.task, d.in)
			}
		})
	}
}

// TestWordsAddedNotedOnWinBack: a score by the one-click link opens the
// task; words added on the page afterwards, with the same score, reach
// the task's timeline, and so do words that come with a changed score.
func TestWordsAddedNotedOnWinBack(t *testing.T) {
	ctx := context.Background()
	s, d, _, _, token := sentSurvey(t, "en")
	if _, err := s.AnswerLink(ctx, token, surveys.Answer{Score: 2}); err != nil {
		t.Fatal(err)
	}
	if len(d.in) != 1 || d.in[0].Text != "Survey answer: 2 of 5." {
		t.Fatalf("the win-back task: %+v", d.in)
	}
	if _, err := s.AnswerLink(ctx, token, surveys.Answer{Score: 2, Comment: "Túl lassan tájékoztattak"}); err != nil {
		t.Fatal(err)
	}
	want := "The customer added words to their survey answer (2 of 5): Túl lassan tájékoztattak"
	if notes := d.notes["c1"]; len(notes) == 0 || notes[len(notes)-1] != want {
		t.Errorf("notes %q, want the last to be %q", notes, want)
	}
	if _, err := s.AnswerLink(ctx, token, surveys.Answer{Score: 1, Comment: "and nobody called"}); err != nil {
		t.Fatal(err)
	}
	want = "The customer changed their survey answer: now 1 of 5 (was 2). Their words: and nobody called"
	if notes := d.notes["c1"]; notes[len(notes)-1] != want {
		t.Errorf("notes %q, want the last to be %q", notes, want)
	}
	if len(d.byExt) != 1 {
		t.Errorf("%d tasks, want the one", len(d.byExt))
	}
}

// TestSMSAnswers: SMS replies to an open survey are read as answers
// (10/10, "5 stars", a thumb), the words go with the score they came
// with, an answer that holds no score is asked again, and after STOP
// nothing is sent back.
func TestSMSAnswers(t *testing.T) {
	ctx := context.Background()
	s, d, db, sv, _ := sentSurveyOn(t, channel.SMS, "en")
	from := sv.Address
	answer := func(text string) *surveys.SMSReply {
		t.Helper()
		r, err := s.AnswerSMS(ctx, "p1", from, text)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tc := range []struct {
		text    string
		score   int
		comment string
	}{
		{"10/10", 5, ""},
		{"5 stars", 5, ""},
		{"3", 3, ""}, // not "stars": the words went with the 5
		{"2 too slow", 2, "too slow"},
		{"2", 2, "too slow"}, // the same score again keeps its words
		{"👍", 5, ""},
		{"👎🏽 nobody told us", 1, "nobody told us"},
	} {
		r := answer(tc.text)
		if r == nil || !r.Recorded || r.Survey.Answer.Score != tc.score || r.Survey.Answer.Comment != tc.comment || r.Text == "" {
			t.Fatalf("%q: %+v, want %d %q recorded and thanked", tc.text, r, tc.score, tc.comment)
		}
	}
	if r := answer("nem"); r == nil || r.Recorded || r.Text != "Please reply with 1 (poor) to 5 (excellent)." || r.Survey.AskedForScore == nil {
		t.Errorf(`"nem": %+v, want asked again`, r)
	}
	// Once per survey: a second reply without a score gets no answer, so
	// that herald and a customer (or their robot) never go back and forth.
	if r := answer("10"); r == nil || r.Recorded || r.Text != "" {
		t.Errorf(`"10" after "nem" was asked about: %+v, want no reply`, r)
	}
	if r := answer("my card was charged twice"); r != nil {
		t.Errorf("words of their own are no survey reply: %+v", r)
	}
	got, err := db.FindSurveyByID(ctx, sv.ID)
	if err != nil || got.Answer.Score != 1 {
		t.Fatalf("after the asking again, the answer is %+v, %v", got.Answer, err)
	}
	// STOP: the answer is still recorded, and nothing goes back.
	if err := db.Suppress(ctx, audience.Suppression{Kind: channel.SMS, Address: from, Reason: "stop", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if r := answer("4"); r == nil || !r.Recorded || r.Survey.Answer.Score != 4 || r.Text != "" {
		t.Errorf("after STOP: %+v, want recorded with no reply", r)
	}
	if r := answer("no"); r == nil || r.Recorded || r.Text != "" {
		t.Errorf("after STOP, an unclear answer: %+v, want no reply", r)
	}
	_ = d
}

// TestAnswerEmail: a reply to the survey email that starts with a score
// is the survey's answer, its words the comment; from another address it
// is nothing to the survey; without a score, its words are kept as the
// survey's comment with no score.
func TestAnswerEmail(t *testing.T) {
	ctx := context.Background()
	s, d, _, sv, _ := sentSurveyOn(t, channel.Email, "en")
	if r, err := s.AnswerEmail(ctx, sv.ID, "someone@example.com", "5 - great", "m0@example.com"); err != nil || r.Kind != surveys.NotAnAnswer || r.Survey != nil {
		t.Errorf("another sender's reply answered the survey: %+v %v", r, err)
	}
	// Words of their own: the caller's complaint, and the survey's words.
	r, err := s.AnswerEmail(ctx, sv.ID, sv.Address, "Why was it down so long?", "m1@example.com")
	if err != nil || r.Kind != surveys.NotAnAnswer || !r.Kept || r.Asked || r.Survey.Answer.Score != 0 || r.Survey.Answer.Comment != "Why was it down so long?" {
		t.Errorf("words of their own: %+v %v", r, err)
	}
	// A number word outside 1–5 is no score, and no complaint either.
	r, err = s.AnswerEmail(ctx, sv.ID, sv.Address, "kilenc", "m2@example.com")
	if err != nil || r.Kind != surveys.Unclear || r.Survey.Answer.Score != 0 || r.Survey.Answer.Comment != "Why was it down so long?\nkilenc" {
		t.Errorf("AnswerEmail(kilenc) = %+v, %v; want Unclear, its words kept", r, err)
	}
	// The score, when it comes, takes the words given without one, but
	// not "kilenc", which only tried to give it.
	r, err = s.AnswerEmail(ctx, sv.ID, "C1@Example.com", "2", "m3@example.com")
	if err != nil || r.Kind != surveys.Scored || r.Survey.Answer.Score != 2 || r.Survey.Answer.Comment != "Why was it down so long?" {
		t.Fatalf("a score after words: %+v, %v", r, err)
	}
	r, err = s.AnswerEmail(ctx, sv.ID, "C1@Example.com", "5 - wszystko w porządku,\ndziękuję", "m4@example.com")
	if err != nil || r.Kind != surveys.Scored || r.Survey.Answer.Score != 5 || r.Survey.Answer.Comment != "wszystko w porządku, dziękuję" || r.Survey.Answer.Via != "email" || r.Survey.State != surveys.Answered {
		t.Fatalf("AnswerEmail = %+v, %v", r, err)
	}
	// Words after a score are the complaint's, not the survey's: the
	// score keeps its own words.
	r, err = s.AnswerEmail(ctx, sv.ID, sv.Address, "and nobody called me back", "m5@example.com")
	if err != nil || r.Kind != surveys.NotAnAnswer || r.Kept || r.Survey.Answer.Comment != "wszystko w porządku, dziękuję" {
		t.Errorf("words after a score: %+v, %v", r, err)
	}
	if len(d.in) != 1 {
		t.Errorf("win-back tasks %+v, want the one of the 2", d.in)
	}
}

// TestReplyWithoutScoreAskedOnce: on both engines, the first reply to a
// survey that holds no score (by email: "no"; by SMS: "nem") is kept as
// its comment and asked, once, for the score; later ones are kept and
// never asked again, whatever their number, so herald and a customer (or
// their autoresponder) cannot write back and forth. Two replies at once
// (two nodes) ask once: the request's delivery is the survey's. A score
// by email is thanked once per survey, and a suppressed address is
// neither asked nor thanked.
func TestReplyWithoutScoreAskedOnce(t *testing.T) {
	onDueEngines(t, "surveys-ask", func(t *testing.T, db engine, now time.Time) {
		ctx := context.Background()
		mk := func(key string, kind channel.Kind, addr string) *surveys.Survey {
			t.Helper()
			sv := &surveys.Survey{ID: surveys.SurveyID("inc1", key), PageID: "p1", IncidentID: "inc1", RecipientType: queue.FromCustomer,
				RecipientID: key, Key: key, Channel: kind, Address: addr, Language: "hu",
				State: surveys.Scheduled, DueAt: now.Add(-time.Hour), CreatedAt: now, UpdatedAt: now, Version: 1}
			if _, err := db.CreateSurveys(ctx, []*surveys.Survey{sv}); err != nil {
				t.Fatal(err)
			}
			sent := now.Add(-time.Hour)
			sv.State, sv.SentAt, sv.Version = surveys.Sent, &sent, 2
			if err := db.SaveSurvey(ctx, sv); err != nil {
				t.Fatal(err)
			}
			return sv
		}
		resolved := now.Add(-2 * time.Hour)
		inc := &incident.Incident{ID: "inc1", PageID: "p1", Name: "Outage", Status: incident.Resolved, Impact: incident.ImpactMajor,
			CreatedAt: resolved.Add(-time.Hour), UpdatedAt: resolved, StartedAt: resolved.Add(-time.Hour), ResolvedAt: &resolved, Version: 1}
		if err := db.Commit(ctx, &incident.Change{Incidents: []*incident.Incident{inc}}); err != nil {
			t.Fatal(err)
		}
		snd := &sender{}
		s := newSweeper(db, snd, now)

		t.Run("email", func(t *testing.T) {
			sv := mk("customer:e1", channel.Email, "e1@example.com")
			r, err := s.AnswerEmail(ctx, sv.ID, sv.Address, "no", "r1@example.com")
			if err != nil || r.Kind != surveys.Unclear || !r.Asked || !r.Kept || snd.asks != 1 {
				t.Fatalf("first reply without a score: %+v, %v (asks %d)", r, err, snd.asks)
			}
			if snd.asked[queue.DeliveryID("survey-ask:"+sv.ID, channel.Email, sv.Address)] != "r1@example.com" {
				t.Errorf("the request is not threaded under the reply: %v", snd.asked)
			}
			got, err := db.FindSurveyByID(ctx, sv.ID)
			if err != nil || got.AskedForScore == nil || !got.AskedForScore.Equal(now) || got.State != surveys.Answered ||
				got.Answer.Score != 0 || got.Answer.Comment != "no" || got.Answer.Unhappy() || got.FollowsUp() {
				t.Fatalf("stored after the first: %+v, %v", got, err)
			}
			for i, text := range []string{"🙂", "10", "no"} {
				r, err := s.AnswerEmail(ctx, sv.ID, sv.Address, text, fmt.Sprintf("r%d@example.com", i+2))
				if err != nil || r.Kind != surveys.Unclear || r.Asked || snd.asks != 1 {
					t.Fatalf("reply %q without a score after the request: %+v, %v (asks %d)", text, r, err, snd.asks)
				}
			}
			if got, _ := db.FindSurveyByID(ctx, sv.ID); got.Answer.Comment != "no\n🙂\n10" {
				t.Errorf("the words kept: %q", got.Answer.Comment)
			}
			ts, err := db.Tallies(ctx, "inc1")
			if err != nil || ts[""].Answered != 1 || ts[""].Comments != 1 || ts[""].Scores != [6]int{} {
				t.Errorf("tallies %+v, %v: want answered 1, comments 1, no score", ts[""], err)
			}
			res, err := s.Results(ctx, "p1", "inc1")
			if err != nil {
				t.Fatal(err)
			}
			if res.Scored != 0 || res.CSAT != nil || res.Average != nil || len(res.Comments) != 1 || res.Comments[0].Score != nil {
				t.Errorf("results: scored %d, csat %v, average %v, comments %+v; want no score anywhere", res.Scored, res.CSAT, res.Average, res.Comments)
			}
		})

		t.Run("email, two replies at once", func(t *testing.T) {
			sv := mk("customer:e2", channel.Email, "e2@example.com")
			other := newSweeper(db, snd, now)
			before := len(snd.asked)
			var wg sync.WaitGroup
			for i, node := range []*surveys.Service{s, other} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := node.AnswerEmail(ctx, sv.ID, sv.Address, "nem", fmt.Sprintf("x%d@example.com", i)); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if len(snd.asked) != before+1 {
				t.Errorf("%d requests for the score, want one", len(snd.asked)-before)
			}
			if got, _ := db.FindSurveyByID(ctx, sv.ID); got.AskedForScore == nil || got.Answer.Comment != "nem" {
				t.Errorf("after two replies at once: %+v", got)
			}
		})

		t.Run("email from a suppressed address", func(t *testing.T) {
			// A bounced or unsubscribed address gets no request: the
			// pipeline would suppress it, so the survey must not read as
			// asked. The reply is kept as it would be otherwise.
			for i, reason := range []string{"bounce", "unsubscribe"} {
				addr := fmt.Sprintf("gone%d@example.com", i)
				sv := mk("customer:gone"+reason, channel.Email, addr)
				if err := db.Suppress(ctx, audience.Suppression{PageID: "p1", Kind: channel.Email, Address: addr, Reason: reason, At: now}); err != nil {
					t.Fatal(err)
				}
				node := newSweeper(db, snd, now)
				node.Suppressions = db
				before := snd.asks
				r, err := node.AnswerEmail(ctx, sv.ID, sv.Address, "nem", "g1@example.com")
				if err != nil || r.Kind != surveys.Unclear || r.Asked || !r.Kept || snd.asks != before {
					t.Fatalf("%s: reply without a score: %+v, %v (requests queued %d)", reason, r, err, snd.asks-before)
				}
				got, err := db.FindSurveyByID(ctx, sv.ID)
				if err != nil || got.AskedForScore != nil || got.State != surveys.Answered || got.Answer.Score != 0 || got.Answer.Comment != "nem" {
					t.Fatalf("%s: stored %+v, %v; want the words kept, not asked", reason, got, err)
				}
			}
		})

		t.Run("email score thanked once", func(t *testing.T) {
			// A score by email is thanked, threaded under the reply; the
			// same score again, a changed one, or one after the request
			// for a score is the same thanks (its delivery is the
			// survey's), so no reply can start a run of them.
			sv := mk("customer:t1", channel.Email, "t1@example.com")
			want := queue.DeliveryID("survey-thanks:"+sv.ID, channel.Email, sv.Address)
			r, err := s.AnswerEmail(ctx, sv.ID, sv.Address, "4", "t1a@example.com")
			if err != nil || r.Kind != surveys.Scored || !r.Thanked {
				t.Fatalf("a score by email: %+v, %v; want thanked", r, err)
			}
			if got, ok := snd.thanked[want]; !ok || got != "t1a@example.com" {
				t.Fatalf("the thanks %v: want %s threaded under the reply", snd.thanked, want)
			}
			before := len(snd.thanked)
			for i, text := range []string{"4", "2 - actually it was slow", "no"} {
				if _, err := s.AnswerEmail(ctx, sv.ID, sv.Address, text, fmt.Sprintf("t1%d@example.com", i)); err != nil {
					t.Fatal(err)
				}
			}
			if len(snd.thanked) != before || snd.thanked[want] != "t1a@example.com" {
				t.Errorf("later answers queued other thanks: %v", snd.thanked)
			}
			// Words of their own, or a reply without a score, are never
			// thanked as a score.
			sv2 := mk("customer:t2", channel.Email, "t2@example.com")
			for _, text := range []string{"no", "Why was it down so long?"} {
				if r, err := s.AnswerEmail(ctx, sv2.ID, sv2.Address, text, "t2a@example.com"); err != nil || r.Thanked {
					t.Errorf("%q thanked as a score: %+v, %v", text, r, err)
				}
			}
			if _, ok := snd.thanked[queue.DeliveryID("survey-thanks:"+sv2.ID, channel.Email, sv2.Address)]; ok {
				t.Errorf("a reply without a score was thanked")
			}
		})

		t.Run("email score from a suppressed address", func(t *testing.T) {
			addr := "gone-thanks@example.com"
			sv := mk("customer:gonethanks", channel.Email, addr)
			if err := db.Suppress(ctx, audience.Suppression{PageID: "p1", Kind: channel.Email, Address: addr, Reason: "bounce", At: now}); err != nil {
				t.Fatal(err)
			}
			node := newSweeper(db, snd, now)
			node.Suppressions = db
			before := snd.thanks
			r, err := node.AnswerEmail(ctx, sv.ID, sv.Address, "5", "g5@example.com")
			if err != nil || r.Kind != surveys.Scored || r.Thanked || snd.thanks != before || r.Survey.Answer.Score != 5 {
				t.Fatalf("a score from a bounced address: %+v, %v (thanks queued %d); want recorded, not thanked", r, err, snd.thanks-before)
			}
		})

		t.Run("sms", func(t *testing.T) {
			sv := mk("customer:s1", channel.SMS, "+36201234999")
			r, err := s.AnswerSMS(ctx, "p1", sv.Address, "nem")
			if err != nil || r == nil || r.Recorded || r.Text != "Kérjük, válaszoljon 1-től (rossz) 5-ig (kiváló)." {
				t.Fatalf("first SMS without a score: %+v, %v", r, err)
			}
			for _, text := range []string{"nem", "kilenc", "👀"} {
				if r, err := s.AnswerSMS(ctx, "p1", sv.Address, text); err != nil || r == nil || r.Recorded || r.Text != "" {
					t.Fatalf("SMS %q after the request: %+v, %v; want kept, no reply", text, r, err)
				}
			}
			got, err := db.FindSurveyByID(ctx, sv.ID)
			if err != nil || got.AskedForScore == nil || got.Answer.Score != 0 || got.Answer.Comment != "nem\nkilenc\n👀" {
				t.Fatalf("stored: %+v %+v, %v", got, got.Answer, err)
			}
			// The score, when it comes, is thanked; what came before only
			// tried to give it, and is not its comment.
			r, err = s.AnswerSMS(ctx, "p1", sv.Address, "2")
			if err != nil || r == nil || !r.Recorded || r.Survey.Answer.Score != 2 || r.Survey.Answer.Comment != "" || r.Text == "" {
				t.Errorf("the score after: %+v, %v", r, err)
			}
		})
	})
}
