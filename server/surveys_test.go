package server

import (
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/locale"
	smstext "github.com/heraldhq/herald/notify/sms"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/sandbox"
	"github.com/heraldhq/herald/surveys"
)

// svEnv is cpEnv with the survey front doors: a real surveys.Service on
// the same SQLite store, its win-back tasks the real complaint service's.
type svEnv struct {
	*cpEnv
	sv *surveys.Service
}

func newSurveyEnv(t *testing.T) *svEnv {
	t.Helper()
	e := &svEnv{cpEnv: &cpEnv{}}
	b := newBroadcastEnv(t, true, bcOption{
		broadcast: func(c *BroadcastConfig) { c.DefaultRegion = "HU" },
		enable: func(b *bcEnv) {
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			e.cs = complaint.NewService(b.db, b.db, b.db, b.n, b.events, quiet)
			if err := b.srv.EnableComplaints(e.cs, ComplaintsConfig{}); err != nil {
				t.Fatal(err)
			}
			e.sv = surveys.NewService(b.db, b.db, quiet)
			e.sv.Complaints, e.sv.Suppressions, e.sv.Secrets, e.sv.Leaser = e.cs, b.db, b.db, b.db
			e.sv.PublicURL = "https://status.example.com"
			if err := b.srv.EnableSurveys(e.sv); err != nil {
				t.Fatal(err)
			}
		}})
	e.bcEnv = b
	b.mustDo(t, http.StatusOK, "POST", "/api/v1/pages/"+b.page.ID+"/customers/import", b.manager, customersCSV, "Content-Type", "text/csv")
	return e
}

// sentSurvey stores a survey of incident inc sent an hour ago to customer
// c1 (Anna, hu) on kind, and returns it with its link's token.
func (e *svEnv) sentSurvey(t *testing.T, inc string, kind channel.Kind) (*surveys.Survey, string) {
	t.Helper()
	ctx := context.Background()
	addr := "+36201111111"
	if kind == channel.Email {
		addr = "anna@example.com"
	}
	sent := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	sv := &surveys.Survey{ID: surveys.SurveyID(inc, "customer:c1"), PageID: e.page.ID, IncidentID: inc, RecipientType: queue.FromCustomer,
		RecipientID: "c1", Key: "customer:c1", Channel: kind, Address: addr, Name: "Anna", Language: "hu",
		State: surveys.Scheduled, DueAt: sent, CreatedAt: sent, UpdatedAt: sent, Version: 1}
	if n, err := e.db.CreateSurveys(ctx, []*surveys.Survey{sv}); err != nil || n != 1 {
		t.Fatalf("CreateSurveys = %d, %v", n, err)
	}
	sv.State, sv.SentAt, sv.Version = surveys.Sent, &sent, 2
	if err := e.db.SaveSurvey(ctx, sv); err != nil {
		t.Fatal(err)
	}
	link, err := e.sv.Link(ctx, sv)
	if err != nil {
		t.Fatal(err)
	}
	return sv, link[strings.LastIndex(link, "/")+1:]
}

// TestSurveySettingsAPI: every range is checked whatever the mode, and a
// JSON body sent as a form is told to say it is JSON; neither changes
// anything.
func TestSurveySettingsAPI(t *testing.T) {
	e := newSurveyEnv(t)
	path := "/api/v1/pages/" + e.page.ID + "/survey-settings"
	before := e.mustDo(t, http.StatusOK, "GET", path, e.manager, "").String()

	r := e.do(t, "PUT", path, e.manager, `{"mode":"off","sample_percent":500}`)
	if d := r.errorOf(t); r.status != http.StatusBadRequest || d.Field != "sample_percent" || !strings.Contains(d.Message, "1 to 100") {
		t.Errorf("sample_percent 500 in mode off: %d %s", r.status, r.body)
	}
	r = e.do(t, "PUT", path, e.manager, `{"mode":"sample"}`, "Content-Type", "application/x-www-form-urlencoded")
	if d := r.errorOf(t); r.status != http.StatusBadRequest || d.Field != "Content-Type" || !strings.Contains(d.Message, "Content-Type: application/json") {
		t.Errorf("JSON sent as a form: %d %s", r.status, r.body)
	}
	if after := e.mustDo(t, http.StatusOK, "GET", path, e.manager, "").String(); after != before {
		t.Errorf("refused PUTs changed the settings:\n%s\n%s", before, after)
	}
	// A body without any Content-Type is JSON, as everywhere in the API.
	e.mustDo(t, http.StatusOK, "PUT", path, e.manager, `{"mode":"sample","sample_percent":40}`, "Content-Type", "")
	var st settingsJSON
	e.mustDo(t, http.StatusOK, "GET", path, e.manager, "").json(t, &st)
	if st.Mode != "sample" || st.SamplePercent != 40 {
		t.Errorf("settings %+v", st)
	}
}

// TestSurveyFormProblems: the survey page says which answer it cannot
// take, in the customer's language, and records nothing.
func TestSurveyFormProblems(t *testing.T) {
	e := newSurveyEnv(t)
	sv, token := e.sentSurvey(t, "inc1", channel.Email)
	for _, tc := range []struct{ form, want string }{
		{"score=3&informed=maybe", "„Folyamatosan tájékoztattuk?” kérdésre az Igen, Részben vagy Nem"},
		{"score=3&received=yes", "nem ígértünk Önnek semmit"}, // nothing was granted: the page never asked
		{"score=9", "válasszon pontszámot 1 és 5 között"},
		{"score=4&comment=" + strings.Repeat("x", surveys.MaxComment+1), "2000 karakternél rövidebb"},
	} {
		r := e.do(t, "POST", surveys.LinkPath+token, "", tc.form, "Content-Type", "application/x-www-form-urlencoded")
		if r.status != http.StatusBadRequest || !strings.Contains(r.String(), tc.want) || !strings.Contains(r.String(), `role="alert"`) {
			t.Errorf("%.40s: %d, want 400 saying %q:\n%s", tc.form, r.status, tc.want, r.body)
		}
	}
	got, err := e.db.FindSurveyByID(context.Background(), sv.ID)
	if err != nil || got.Answer != nil || got.State != surveys.Sent {
		t.Errorf("after refused answers the survey is %+v, %v", got, err)
	}
}

// TestSurveySMSReplies: replies to an open SMS survey are answers, not
// complaints (10/10, a thumb), one meant as an answer without a score is
// asked again, and after STOP an answer is recorded but nothing goes
// back to the number.
func TestSurveySMSReplies(t *testing.T) {
	e := newSurveyEnv(t)
	ctx := context.Background()
	sv, _ := e.sentSurvey(t, "inc1", channel.SMS)
	post := func(i int, body string) string {
		t.Helper()
		r := e.twilioPost(t, "/webhooks/twilio/sms", sms(fmt.Sprintf("SM%032d", i), sv.Address, body), sandbox.DefaultAuthToken)
		if r.status != http.StatusOK {
			t.Fatalf("%q: %d %s", body, r.status, r.body)
		}
		return r.String()
	}
	for i, tc := range []struct{ body, reply string }{
		{"10/10", "<Message>Status: Köszönjük a véleményét.</Message>"},
		{"nem", "<Message>Status: Kérjük, válaszoljon 1-től (rossz) 5-ig (kiváló).</Message>"},
		{"👍", "<Message>Status: Köszönjük a véleményét.</Message>"},
	} {
		if got := post(i, tc.body); !strings.Contains(got, tc.reply) {
			t.Errorf("%q answered %s, want %s", tc.body, got, tc.reply)
		}
	}
	if n := e.count(t); n != 0 {
		t.Errorf("%d complaints from survey replies, want none", n)
	}
	post(10, "STOP")
	if got := post(11, "4"); strings.Contains(got, "<Message>") {
		t.Errorf("after STOP the number was sent %s", got)
	}
	got, err := e.db.FindSurveyByID(ctx, sv.ID)
	if err != nil || got.Answer == nil || got.Answer.Score != 4 || got.Answer.Via != "sms" {
		t.Errorf("after STOP the answer is %+v, %v; want 4 recorded", got.Answer, err)
	}
	if n := e.count(t); n != 0 {
		t.Errorf("%d complaints, want none", n)
	}
}

// TestSurveySMSRepliesFitOneSegment: every SMS herald sends back to a
// survey answer (the thanks, the thanks that says a person will be in
// touch after a low score, the request for a number) takes one segment,
// in every language, named with a long page name. Page names are not
// bounded for SMS (incident.MaxNameLen, 255 characters): the names here
// are realistic long ones of 16 characters, one GSM-7 and one not, which
// makes the whole SMS UCS-2 (70 characters). The Hungarian, Polish and
// Croatian thanks after a low score took two segments, and the
// Hungarian request did with any name longer than "Status".
func TestSurveySMSRepliesFitOneSegment(t *testing.T) {
	e := newSurveyEnv(t)
	ctx := context.Background()
	admin := incident.WithActor(ctx, incident.Actor{Name: "a", Role: incident.RoleAdmin})
	cat, err := locale.Default()
	if err != nil {
		t.Fatal(err)
	}
	// The thanks after a low score says a person will be in touch: the
	// win-back task it opens is about a real incident.
	inc, _, err := e.svc.CreateIncident(ctx, e.page.ID, incident.IncidentInput{Name: ptr("Card payments fail"), Status: ptr(incident.Resolved),
		Body: ptr("Fixed."), Backfilled: ptr(true)}, "")
	if err != nil {
		t.Fatal(err)
	}
	no := map[string]string{"en": "no", "hu": "nem", "pl": "nie", "hr": "ne"}
	n := 0
	for _, page := range []string{"Acme Pénz", "Hrvatski Telekom", "Zagrebačka banka"} {
		if _, err := e.svc.UpdatePage(admin, e.page.ID, incident.PageInput{Name: &page}); err != nil {
			t.Fatal(err)
		}
		for _, lang := range incident.Languages {
			for _, tc := range []struct{ body, key string }{
				{"5", "SMSSurveyThanks"},
				{"1", "SMSSurveyThanksFollowUp"},
				{no[lang], "SMSSurveyAskAgain"},
			} {
				n++
				addr := fmt.Sprintf("+3620%07d", n)
				sent := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
				key := fmt.Sprintf("subscriber:s%d", n)
				sv := &surveys.Survey{ID: surveys.SurveyID(inc.ID, key), PageID: e.page.ID, IncidentID: inc.ID, RecipientType: queue.FromSubscriber,
					RecipientID: fmt.Sprintf("s%d", n), Key: key, Channel: channel.SMS, Address: addr, Language: lang,
					State: surveys.Scheduled, DueAt: sent, CreatedAt: sent, UpdatedAt: sent, Version: 1}
				if c, err := e.db.CreateSurveys(ctx, []*surveys.Survey{sv}); err != nil || c != 1 {
					t.Fatalf("CreateSurveys = %d, %v", c, err)
				}
				sv.State, sv.SentAt, sv.Version = surveys.Sent, &sent, 2
				if err := e.db.SaveSurvey(ctx, sv); err != nil {
					t.Fatal(err)
				}
				r := e.twilioPost(t, "/webhooks/twilio/sms", sms(fmt.Sprintf("SM%032d", n), addr, tc.body), sandbox.DefaultAuthToken)
				_, msg, _ := strings.Cut(r.String(), "<Message>")
				msg, _, ok := strings.Cut(msg, "</Message>")
				want := page + ": " + cat.Lang(lang).Text(tc.key)
				if msg = html.UnescapeString(msg); r.status != http.StatusOK || !ok || msg != want {
					t.Errorf("%s, %s, %q: %d %s, want %q", page, lang, tc.body, r.status, r.body, want)
					continue
				}
				if enc, chars, segs := smstext.Segments(msg); segs != 1 {
					t.Errorf("%s, %s, %s: %d segments (%d %s characters): %q", page, lang, tc.key, segs, chars, enc, msg)
				}
			}
		}
	}
}

// TestBouncedSurveyIsNotSent: a survey whose email bounces for good (550
// 5.1.1 at RCPT) is not counted as sent: it becomes skipped, saying its
// message was not delivered, and the incident's results count it so.
func TestBouncedSurveyIsNotSent(t *testing.T) {
	e := newSurveyEnv(t)
	ctx := context.Background()
	e.sv.Sender = e.n
	e.n.SetSurveys(e.sv)
	if err := e.sb.SetFaults(sandbox.Faults{FailTo: map[string]string{"anna@example.com": "550 5.1.1"}}); err != nil {
		t.Fatal(err)
	}
	inc, _, err := e.svc.CreateIncident(ctx, e.page.ID, incident.IncidentInput{Name: ptr("Card payments fail"), Status: ptr(incident.Resolved),
		Body: ptr("Fixed."), Backfilled: ptr(true)}, "")
	if err != nil {
		t.Fatal(err)
	}
	due := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
	sv := &surveys.Survey{ID: surveys.SurveyID(inc.ID, "customer:c1"), PageID: e.page.ID, IncidentID: inc.ID, RecipientType: queue.FromCustomer,
		RecipientID: "c1", Key: "customer:c1", Channel: channel.Email, Address: "anna@example.com", Name: "Anna", Language: "hu",
		State: surveys.Scheduled, DueAt: due, CreatedAt: due, UpdatedAt: due, Version: 1}
	if n, err := e.db.CreateSurveys(ctx, []*surveys.Survey{sv}); err != nil || n != 1 {
		t.Fatalf("CreateSurveys = %d, %v", n, err)
	}
	if n, err := e.sv.SendDue(ctx); err != nil || n != 1 {
		t.Fatalf("SendDue = %d, %v", n, err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, err := e.db.FindSurveyByID(ctx, sv.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State == surveys.Skipped {
			if !strings.Contains(got.Reason, "not delivered") || !strings.Contains(got.Reason, "5.1.1") {
				t.Errorf("reason %q", got.Reason)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bounced survey stayed %s", got.State)
		}
		time.Sleep(20 * time.Millisecond) // polling the store for the dispatcher's outcome
	}
	res, err := e.sv.Results(ctx, e.page.ID, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 0 || res.Skipped != 1 {
		t.Errorf("results: sent %d, skipped %d; want 0 and 1", res.Sent, res.Skipped)
	}
}
