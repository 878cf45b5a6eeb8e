package node

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify/smtp"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/store/sqlite"
	"github.com/heraldhq/herald/surveys"
)

// acks records the answers complaint.Service asks for.
type acks struct {
	mu sync.Mutex
	n  int
}

func (a *acks) Answer(context.Context, *complaint.Complaint, complaint.Answer, string, string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	return nil
}

type intakeEnv struct {
	db     *sqlite.DB
	svc    *complaint.Service
	intake *emailIntake
	page   *incident.Page
}

func newIntakeEnv(t *testing.T) *intakeEnv {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	log := slog.New(slog.DiscardHandler)
	events := incident.NewLocalEvents()
	page, err := incident.NewService(db, events, log).EnsureDefaultPage(ctx, "https://status.example.com")
	if err != nil {
		t.Fatal(err)
	}
	svc := complaint.NewService(db, db, db, &acks{}, events, log)
	// Only threading attaches here: a second message without it opens a
	// second complaint, so the tests see what threading does.
	svc.Policy.AttachWindow = 0
	return &intakeEnv{db: db, svc: svc, page: page,
		intake: &emailIntake{complaints: svc, deliveries: db, pageID: page.ID, own: []string{"status@herald.example"}, log: log}}
}

// delivery stores a sent email delivery to addr, as notify would.
func (e *intakeEnv) delivery(t *testing.T, key, addr, incidentID string, vars map[string]string) string {
	t.Helper()
	now := time.Now().UTC()
	d := &queue.Delivery{ID: queue.DeliveryID(key, channel.Email, addr), PageID: e.page.ID, IncidentID: incidentID, MessageKind: queue.KindComplaintReceived,
		Kind: channel.Email, Address: addr, RecipientType: queue.FromContact, RecipientID: "email:" + addr, State: queue.StatePending,
		NextAt: now, CreatedAt: now, UpdatedAt: now, Vars: vars}
	if _, err := e.db.EnqueueDeliveries(context.Background(), []*queue.Delivery{d}); err != nil {
		t.Fatal(err)
	}
	return d.ID
}

func (e *intakeEnv) complaints(t *testing.T) []*complaint.Complaint {
	t.Helper()
	cs, _, err := e.svc.Store.FindComplaints(context.Background(), complaint.Filter{PageID: e.page.ID})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func mail(from, msgID, subject, text string) smtp.InboundEmail {
	return smtp.InboundEmail{From: from, MessageID: msgID, Subject: subject, Text: text, Header: map[string][]string{},
		Envelope: &smtp.Envelope{From: from}}
}

func TestEmailIntake(t *testing.T) {
	ctx := context.Background()
	e := newIntakeEnv(t)

	// A new complaint.
	if err := e.intake.handle(ctx, mail("anna@example.org", "m1@example.org", "Card payments", "They fail.\n\nOn Mon, Herald wrote:\n> x"), 100); err != nil {
		t.Fatal(err)
	}
	cs := e.complaints(t)
	if len(cs) != 1 || cs[0].Channel != complaint.Email || cs[0].Contact.Email != "anna@example.org" || cs[0].Text != "They fail." {
		t.Fatalf("complaints %+v", cs)
	}
	first := cs[0]

	t.Run("a provider's retry is filed once", func(t *testing.T) {
		if err := e.intake.handle(ctx, mail("anna@example.org", "m1@example.org", "Card payments", "They fail."), 100); err != nil {
			t.Fatal(err)
		}
		c, err := e.svc.Store.FindComplaintByID(ctx, first.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(e.complaints(t)) != 1 || c.Messages != 1 {
			t.Fatalf("retry filed again: %d complaints, %d messages", len(e.complaints(t)), c.Messages)
		}
	})
	t.Run("a reply to the acknowledgement attaches", func(t *testing.T) {
		ack := e.delivery(t, "complaint:"+first.ID+":ack", "anna@example.org", "", map[string]string{"complaint": first.ID})
		in := mail("anna@example.org", "m2@example.org", "Re: Card payments", "Still failing.")
		in.InReplyTo = ack + "@herald.example"
		if err := e.intake.handle(ctx, in, 100); err != nil {
			t.Fatal(err)
		}
		c, err := e.svc.Store.FindComplaintByID(ctx, first.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(e.complaints(t)); n != 1 || c.Messages != 2 {
			t.Fatalf("%d complaints, %d messages: the reply did not attach", n, c.Messages)
		}
	})
	t.Run("References newest first", func(t *testing.T) {
		ack := e.delivery(t, "complaint:"+first.ID+":ack2", "anna@example.org", "", map[string]string{"complaint": first.ID})
		in := mail("anna@example.org", "m3@example.org", "Re: Card payments", "Any news?")
		in.References = []string{"0123456789abcdef0123@elsewhere.example", ack + "@herald.example", "foreign-id@mail.example"}
		var intake complaint.Intake
		if _, err := e.intake.thread(ctx, in, &intake); err != nil {
			t.Fatal(err)
		}
		if intake.ComplaintID != first.ID {
			t.Fatalf("ComplaintID %q", intake.ComplaintID)
		}
	})
	t.Run("a reply to an incident message names the incident", func(t *testing.T) {
		d := e.delivery(t, "upd1", "bela@example.org", "inc123", nil)
		in := mail("bela@example.org", "m4@example.org", "Re: Outage", "Is it over?")
		in.InReplyTo = d + "@herald.example"
		var intake complaint.Intake
		if _, err := e.intake.thread(ctx, in, &intake); err != nil {
			t.Fatal(err)
		}
		if intake.ReplyTo != "inc123" || intake.ComplaintID != "" {
			t.Fatalf("intake %+v", intake)
		}
	})
	t.Run("another sender replying to the acknowledgement only names its incident", func(t *testing.T) {
		ack := e.delivery(t, "complaint:"+first.ID+":ack3", "anna@example.org", "", map[string]string{"complaint": first.ID, "incident": "inc9"})
		in := mail("mallory@example.org", "m5@example.org", "Re: Card payments", "Hi")
		in.InReplyTo = ack + "@herald.example"
		var intake complaint.Intake
		if _, err := e.intake.thread(ctx, in, &intake); err != nil {
			t.Fatal(err)
		}
		if intake.ComplaintID != "" || intake.ReplyTo != "inc9" {
			t.Fatalf("intake %+v", intake)
		}
	})
	t.Run("a reference quoted in the subject attaches, for its sender only", func(t *testing.T) {
		in := mail("anna@example.org", "m6@example.org", "About "+first.Ref+" again", "Hello?")
		if err := e.intake.handle(ctx, in, 100); err != nil {
			t.Fatal(err)
		}
		if n := len(e.complaints(t)); n != 1 {
			t.Fatalf("%d complaints: the quoted reference did not attach", n)
		}
		in = mail("mallory@example.org", "m7@example.org", "About "+first.Ref, "Let me in")
		if err := e.intake.handle(ctx, in, 100); err != nil {
			t.Fatal(err)
		}
		cs := e.complaints(t)
		if len(cs) != 2 || cs[0].ID == first.ID {
			t.Fatalf("a stranger's quoted reference attached: %d complaints", len(cs))
		}
	})
	t.Run("automatic mail is neither filed nor answered", func(t *testing.T) {
		before := len(e.complaints(t))
		for _, in := range []smtp.InboundEmail{
			func() smtp.InboundEmail {
				m := mail("anna@example.org", "ooo@example.org", "Out of office", "Away")
				m.Header["Auto-Submitted"] = []string{"auto-replied"}
				return m
			}(),
			mail("MAILER-DAEMON@example.org", "b@example.org", "Undelivered", "bounce"),
			mail("status@herald.example", "loop@herald.example", "Our own", "loop"),
		} {
			if err := e.intake.handle(ctx, in, 100); !errors.Is(err, smtp.ErrIgnored) {
				t.Errorf("%s: err %v, want ErrIgnored", in.MessageID, err)
			}
		}
		if n := len(e.complaints(t)); n != before {
			t.Fatalf("automatic mail filed: %d complaints, were %d", n, before)
		}
	})
	t.Run("mail with no words is rejected", func(t *testing.T) {
		if err := e.intake.handle(ctx, mail("anna@example.org", "empty@example.org", "", "  "), 10); !errors.Is(err, smtp.ErrRejected) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("long text is cut, never refused", func(t *testing.T) {
		in := mail("cecil@example.org", "long@example.org", strings.Repeat("s", 400), strings.Repeat("word ", 5000))
		if err := e.intake.handle(ctx, in, 30000); err != nil {
			t.Fatal(err)
		}
	})
}

// TestEmailReplyAnswersSurvey: a reply to a survey email that starts with
// a score is the survey's answer (no complaint, no apology); a reply with
// words of its own is a complaint about the incident, as before.
func TestEmailReplyAnswersSurvey(t *testing.T) {
	ctx := context.Background()
	e := newIntakeEnv(t)
	svc := surveys.NewService(e.db, e.db, slog.New(slog.DiscardHandler))
	e.intake.surveys = svc
	now := time.Now().UTC().Truncate(time.Millisecond)
	sv := &surveys.Survey{ID: surveys.SurveyID("inc1", "customer:c1"), PageID: e.page.ID, IncidentID: "inc1", RecipientType: queue.FromCustomer,
		RecipientID: "c1", Key: "customer:c1", Channel: channel.Email, Address: "ewa@example.pl", Language: "pl",
		State: surveys.Scheduled, DueAt: now, CreatedAt: now, UpdatedAt: now, Version: 1}
	if n, err := e.db.CreateSurveys(ctx, []*surveys.Survey{sv}); err != nil || n != 1 {
		t.Fatalf("CreateSurveys = %d, %v", n, err)
	}
	sv.State, sv.SentAt, sv.Version = surveys.Sent, &now, 2
	if err := e.db.SaveSurvey(ctx, sv); err != nil {
		t.Fatal(err)
	}
	d := &queue.Delivery{ID: queue.DeliveryID("survey:"+sv.ID, channel.Email, sv.Address), PageID: e.page.ID, MessageKind: queue.KindSurvey,
		Kind: channel.Email, Address: sv.Address, RecipientType: queue.FromCustomer, RecipientID: "c1", State: queue.StatePending,
		NextAt: now, CreatedAt: now, UpdatedAt: now, Vars: map[string]string{"incident": "inc1", "survey": sv.ID}}
	if _, err := e.db.EnqueueDeliveries(ctx, []*queue.Delivery{d}); err != nil {
		t.Fatal(err)
	}
	in := mail(sv.Address, "r1@example.pl", "Re: Jak nam poszło?", "5 - wszystko w porządku, dziękuję\n\nW dniu pon. Herald napisał:\n> Jak oceniają Państwo")
	in.InReplyTo = d.ID + "@herald.example"
	if err := e.intake.handle(ctx, in, 100); err != nil {
		t.Fatal(err)
	}
	if cs := e.complaints(t); len(cs) != 0 {
		t.Errorf("the survey answer became complaints: %+v", cs)
	}
	got, err := e.db.FindSurveyByID(ctx, sv.ID)
	if err != nil || got.State != surveys.Answered || got.Answer.Score != 5 || got.Answer.Comment != "wszystko w porządku, dziękuję" || got.Answer.Via != "email" {
		t.Fatalf("survey after the reply: %+v %+v, %v", got, got.Answer, err)
	}
	// A number written out that is no score of 1 to 5 ("dziewięć", nine)
	// asks for nothing to be filed: no complaint, the answer stays.
	in = mail(sv.Address, "r9@example.pl", "Re: Jak nam poszło?", "Dziewięć")
	in.InReplyTo = d.ID + "@herald.example"
	if err := e.intake.handle(ctx, in, 100); err != nil {
		t.Fatal(err)
	}
	if cs := e.complaints(t); len(cs) != 0 {
		t.Errorf("a number word to the survey became complaints: %+v", cs)
	}
	if got, err := e.db.FindSurveyByID(ctx, sv.ID); err != nil || got.Answer == nil || got.Answer.Score != 5 {
		t.Fatalf("survey after a number word: %+v, %v", got, err)
	}
	in = mail(sv.Address, "r2@example.pl", "Re: Jak nam poszło?", "Dlaczego to trwało tak długo?")
	in.InReplyTo = d.ID + "@herald.example"
	if err := e.intake.handle(ctx, in, 100); err != nil {
		t.Fatal(err)
	}
	if cs := e.complaints(t); len(cs) != 1 || cs[0].Text != "Dlaczego to trwało tak długo?" {
		t.Errorf("words of their own: complaints %+v, want one", cs)
	}
	if got, err := e.db.FindSurveyByID(ctx, sv.ID); err != nil || got.Answer.Score != 5 || got.Answer.Comment != "wszystko w porządku, dziękuję" {
		t.Errorf("words after the score changed its answer: %+v, %v", got.Answer, err)
	}

	// Words of their own to a survey not answered yet: a complaint as
	// before, and the survey's comment without a score (the customer
	// answered the survey, in words), which opens no follow-up task.
	sv2 := &surveys.Survey{ID: surveys.SurveyID("inc1", "customer:c2"), PageID: e.page.ID, IncidentID: "inc1", RecipientType: queue.FromCustomer,
		RecipientID: "c2", Key: "customer:c2", Channel: channel.Email, Address: "jan@example.pl", Language: "pl",
		State: surveys.Scheduled, DueAt: now, CreatedAt: now, UpdatedAt: now, Version: 1}
	if _, err := e.db.CreateSurveys(ctx, []*surveys.Survey{sv2}); err != nil {
		t.Fatal(err)
	}
	sv2.State, sv2.SentAt, sv2.Version = surveys.Sent, &now, 2
	if err := e.db.SaveSurvey(ctx, sv2); err != nil {
		t.Fatal(err)
	}
	d2 := &queue.Delivery{ID: queue.DeliveryID("survey:"+sv2.ID, channel.Email, sv2.Address), PageID: e.page.ID, MessageKind: queue.KindSurvey,
		Kind: channel.Email, Address: sv2.Address, RecipientType: queue.FromCustomer, RecipientID: "c2", State: queue.StatePending,
		NextAt: now, CreatedAt: now, UpdatedAt: now, Vars: map[string]string{"incident": "inc1", "survey": sv2.ID}}
	if _, err := e.db.EnqueueDeliveries(ctx, []*queue.Delivery{d2}); err != nil {
		t.Fatal(err)
	}
	in = mail(sv2.Address, "r3@example.pl", "Re: Jak nam poszło?", "Było fatalnie, nikt do mnie nie oddzwonił.")
	in.InReplyTo = d2.ID + "@herald.example"
	if err := e.intake.handle(ctx, in, 100); err != nil {
		t.Fatal(err)
	}
	if cs := e.complaints(t); len(cs) != 2 {
		t.Errorf("words of their own to an unanswered survey: %d complaints, want 2", len(cs))
	}
	got2, err := e.db.FindSurveyByID(ctx, sv2.ID)
	if err != nil || got2.State != surveys.Answered || got2.Answer.Score != 0 || got2.Answer.Comment != "Było fatalnie, nikt do mnie nie oddzwonił." ||
		got2.AskedForScore != nil || len(got2.WinBacks) != 0 {
		t.Errorf("the survey after words of their own: %+v, %v; want their words, no score, not asked, no task", got2, err)
	}
}
