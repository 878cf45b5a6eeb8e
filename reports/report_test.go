package reports_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/locale"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/reports"
	"github.com/heraldhq/herald/store/enginetest"
	"github.com/heraldhq/herald/surveys"
)

var (
	update  = flag.Bool("update", false, "rewrite the golden files in testdata")
	htmlDir = flag.String("html", "", "also write the fixture's HTML report and evaluation to this directory (to look at them)")
)

// engine is what the report's fixture is written through: a real engine.
type engine interface {
	incident.Store
	queue.Store
	complaint.Store
	compensation.Store
	compensation.Customers
	surveys.Store
}

var engines = map[string]func(t *testing.T) engine{
	"sqlite": func(t *testing.T) engine { return enginetest.SQLite(t) },
	"redis":  func(t *testing.T) engine { return enginetest.Redis(t, "reports") },
}

// t0 is when the fixture's incident was declared.
var t0 = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func ptr[T any](v T) *T { return &v }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fixture writes one incident's story through db: the page, the
// incident with its updates and audit, two broadcasts whose deliveries
// are claimed, finished and receipted, complaints saved and changed,
// compensation grants and answered surveys. It returns the service.
func fixture(t *testing.T, db engine) *reports.Service {
	ctx := context.Background()
	page := &incident.Page{ID: "p1", Name: "Acme", TimeZone: "UTC", CreatedAt: t0.Add(-time.Hour), UpdatedAt: t0.Add(-time.Hour)}
	comps := []*incident.Component{
		{ID: "c1", PageID: "p1", Name: "Payments", Status: incident.Operational, CreatedAt: page.CreatedAt, UpdatedAt: page.CreatedAt},
		{ID: "c2", PageID: "p1", Name: "Logins", Status: incident.Operational, Position: 1, CreatedAt: page.CreatedAt, UpdatedAt: page.CreatedAt},
	}
	must(t, db.Commit(ctx, &incident.Change{Pages: []*incident.Page{page}, Components: comps}))
	updates := []*incident.Update{
		{ID: "u3", IncidentID: "i1", Status: incident.Resolved, Body: "Payments work again.", Messages: map[string]string{"hu": "A fizetés újra működik."}, CreatedAt: at(90 * time.Minute), UpdatedAt: at(90 * time.Minute), DisplayAt: at(90 * time.Minute), DeliverNotifications: true},
		{ID: "u2", IncidentID: "i1", Status: incident.Identified, Body: "An expired certificate.", CreatedAt: at(30 * time.Minute), UpdatedAt: at(30 * time.Minute), DisplayAt: at(30 * time.Minute)},
		{ID: "u1", IncidentID: "i1", Status: incident.Investigating, Body: "Card payments fail.", CreatedAt: at(0), UpdatedAt: at(0), DisplayAt: at(0), DeliverNotifications: true},
	}
	inc := &incident.Incident{ID: "i1", PageID: "p1", Name: "Card payments fail", Status: incident.Resolved, Impact: incident.ImpactMajor,
		ComponentIDs: []string{"c1"}, CreatedAt: at(0), UpdatedAt: at(100 * time.Minute), StartedAt: at(0), ResolvedAt: ptr(at(90 * time.Minute)),
		PostmortemBody: "# What happened\n\nA certificate expired.", PostmortemPublishedAt: ptr(at(100 * time.Minute)), Updates: updates, Version: 1}
	audit := []*incident.AuditEntry{
		{ID: "a1", PageID: "p1", Actor: "token:ops-anna (tk1)", Action: "incident.create", ObjectType: "incident", ObjectID: "i1", At: at(0)},
		{ID: "a2", PageID: "p1", Actor: "token:ops-bob (tk2)", Action: "incident.update", ObjectType: "incident", ObjectID: "i1", At: at(30 * time.Minute)},
		{ID: "a3", PageID: "p1", Actor: "cli", Action: "incident.update", ObjectType: "incident", ObjectID: "i1", At: at(90 * time.Minute)},
	}
	bs := []*incident.Broadcast{
		{ID: "b1", PageID: "p1", IncidentID: "i1", UpdateID: "u1", Kind: incident.BroadcastDeclared, CreatedAt: at(0)},
		{ID: "b3", PageID: "p1", IncidentID: "i1", UpdateID: "u3", Kind: incident.BroadcastResolved, CreatedAt: at(90 * time.Minute)},
	}
	must(t, db.Commit(ctx, &incident.Change{Incidents: []*incident.Incident{inc}, Audit: audit, Broadcasts: bs}))

	// Deliveries: 20 per broadcast (12 SMS, 6 email, 2 Slack), one SMS
	// suppressed; sent 10 s apart from 5 s after the broadcast, every
	// seventh failed, every third SMS confirmed delivered.
	for _, b := range bs {
		p, err := db.ClaimPlan(ctx, time.Now(), time.Minute)
		if err != nil || p == nil || p.Broadcast.ID != b.ID {
			t.Fatalf("ClaimPlan = %+v, %v; want %s", p, err, b.ID)
		}
		var ds []*queue.Delivery
		for i := range 20 {
			kind, addr := channel.SMS, fmt.Sprintf("+3620100%04d", i)
			switch {
			case i >= 18:
				kind, addr = channel.Slack, fmt.Sprintf("U%04d", i)
			case i >= 12:
				kind, addr = channel.Email, fmt.Sprintf("c%d@example.com", i)
			}
			d := &queue.Delivery{PageID: "p1", IncidentID: "i1", UpdateID: b.UpdateID, BroadcastID: b.ID, MessageKind: queue.KindAck, Kind: kind,
				Address: addr, RecipientType: queue.FromCustomer, RecipientID: fmt.Sprintf("c%d", i), Language: "en", State: queue.StatePending,
				NextAt: b.CreatedAt, CreatedAt: b.CreatedAt, UpdatedAt: b.CreatedAt}
			if i == 11 {
				d.State, d.Reason = queue.StateSuppressed, "unsubscribed"
			}
			d.ID = queue.DeliveryID(d.UpdateID, d.Kind, d.Address)
			ds = append(ds, d)
		}
		if _, err := db.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: ds, Done: true}, time.Now(), time.Minute); err != nil {
			t.Fatal(err)
		}
		for _, kind := range []channel.Kind{channel.SMS, channel.Email, channel.Slack} {
			claimed, err := db.ClaimDeliveries(ctx, kind, queue.LaneAll, b.CreatedAt.Add(time.Hour), time.Minute, 100)
			must(t, err)
			for _, d := range claimed {
				var i int
				fmt.Sscanf(d.RecipientID, "c%d", &i)
				sent := b.CreatedAt.Add(5*time.Second + time.Duration(i)*10*time.Second)
				d.UpdatedAt = sent
				if i%7 == 6 {
					d.State, d.Reason = queue.StateFailed, "invalid number"
					continue
				}
				d.State, d.SentAt, d.ProviderID = queue.StateSent, &sent, "P"+d.ID
			}
			must(t, db.FinishDeliveries(ctx, claimed))
			for _, d := range claimed {
				var i int
				fmt.Sscanf(d.RecipientID, "c%d", &i)
				if kind == channel.SMS && d.State == queue.StateSent && i%3 == 0 {
					must(t, db.SetDeliveryStatus(ctx, d.ID, queue.StateDelivered, "delivered", "", d.UpdatedAt.Add(20*time.Second)))
				}
			}
		}
	}

	// Complaints: 8 tagged (two repeats; answered, resolved in time or
	// late, one still open past its promise), 3 in triage (one of which
	// an agent tags later), one about another incident.
	type spec struct {
		id       string
		created  time.Duration
		ch       complaint.Channel
		cat      complaint.Category
		tag      string
		repeat   bool
		answer   time.Duration // 0: none
		resolved time.Duration // 0: open
	}
	specs := []spec{
		{"k01", 2 * time.Minute, complaint.SMS, complaint.CategoryOutage, "i1", false, 10 * time.Minute, 95 * time.Minute},
		{"k02", 3 * time.Minute, complaint.SMS, complaint.CategoryOutage, "i1", false, 4 * time.Minute, 95 * time.Minute},
		{"k03", 4 * time.Minute, complaint.Email, complaint.CategoryRefund, "i1", false, 50 * time.Minute, 26 * time.Hour},
		{"k04", 6 * time.Minute, complaint.SMS, complaint.CategoryOutage, "i1", true, 2 * time.Hour, 95 * time.Minute},
		{"k05", 12 * time.Minute, complaint.Web, complaint.CategoryOutage, "i1", false, 20 * time.Minute, 0},
		{"k06", 31 * time.Minute, complaint.Phone, complaint.CategoryInformation, "i1", true, 35 * time.Minute, 0},
		{"k07", 40 * time.Minute, complaint.SMS, complaint.CategoryOutage, "i1", false, 0, 0},
		{"k08", 8 * time.Minute, complaint.Email, complaint.CategoryOther, "", false, 0, 0},
		{"k09", 9 * time.Minute, complaint.SMS, complaint.CategoryOther, "", false, 0, 0},
		{"k10", 61 * time.Minute, complaint.Web, complaint.CategoryDefect, "", false, 0, 0},
		{"k11", 15 * time.Minute, complaint.SMS, complaint.CategoryOutage, "other", false, 0, 0},
	}
	for _, s := range specs {
		created := at(s.created)
		c := &complaint.Complaint{ID: s.id, PageID: "p1", Ref: complaint.NewRef(s.id), Contact: complaint.Contact{CustomerID: "cust-" + s.id},
			Channel: s.ch, Category: s.cat, Language: "en", State: complaint.StateNew, Repeat: s.repeat, CreatedAt: created, UpdatedAt: created,
			LastMessageAt: created, Messages: 1, Version: 1, FirstAnswerDue: created.Add(time.Hour), ResolveDue: created.Add(24 * time.Hour)}
		if s.tag != "" {
			c.Tag = &complaint.Tag{IncidentID: s.tag, Confidence: 1, Reason: "test", By: "auto", At: created}
		}
		must(t, db.SaveComplaint(ctx, c, nil))
		if s.answer == 0 && s.resolved == 0 {
			continue
		}
		c2 := *c
		c2.Version = 2
		if s.answer != 0 {
			c2.FirstAnswerAt, c2.State = ptr(created.Add(s.answer)), complaint.StateInProgress
		}
		if s.resolved != 0 {
			c2.ResolvedAt, c2.State, c2.Remedy = ptr(at(s.resolved)), complaint.StateResolved, complaint.RemedyApology
		}
		must(t, db.SaveComplaint(ctx, &c2, nil))
	}
	// An agent tags k10 to the incident.
	k10, err := db.FindComplaintByID(ctx, "k10")
	must(t, err)
	k10.Version++
	k10.Tag = &complaint.Tag{IncidentID: "i1", Confidence: 1, Reason: "agent", By: "agent", At: at(70 * time.Minute)}
	must(t, db.SaveComplaint(ctx, k10, nil))

	// Compensation: a credit granted, one declined.
	for _, g := range []*compensation.Grant{
		{ID: "g1", PageID: "p1", IncidentID: "i1", CustomerID: "c1", Group: "credit", OfferID: "credit", Kind: compensation.Credit,
			Amount: compensation.Money{Amount: 1000, Currency: "EUR"}, PolicyVersion: 1, By: "agent", At: at(3 * time.Hour), Key: "k1"},
		{ID: "g2", PageID: "p1", IncidentID: "i1", CustomerID: "c2", Group: "credit", Declined: true, PolicyVersion: 1, By: "agent", At: at(3 * time.Hour), Key: "k2"},
	} {
		if _, _, err := db.SaveGrant(ctx, g, 0); err != nil { // seen: the customer's grants before
			t.Fatal(err)
		}
	}

	// Surveys: four sent, three answered (5, 4, 2).
	var svs []*surveys.Survey
	for i := range 4 {
		svs = append(svs, &surveys.Survey{ID: fmt.Sprintf("s%d", i), PageID: "p1", IncidentID: "i1", RecipientType: queue.FromCustomer,
			RecipientID: fmt.Sprintf("c%d", i), Key: fmt.Sprintf("c%d", i), Channel: channel.SMS, Address: fmt.Sprintf("+3620100%04d", i),
			Language: "en", Segment: "gold", State: surveys.Scheduled, DueAt: at(26 * time.Hour), Version: 1})
	}
	if _, err := db.CreateSurveys(ctx, svs); err != nil {
		t.Fatal(err)
	}
	for i, sv := range svs {
		sv.Version++
		sv.State, sv.SentAt = surveys.Sent, ptr(at(26*time.Hour))
		must(t, db.SaveSurvey(ctx, sv))
		if i == 3 {
			continue
		}
		sv.Version++
		sv.State = surveys.Answered
		sv.Answer = &surveys.Answer{Score: []int{5, 4, 2}[i], Informed: surveys.InformedYes, Via: "sms", At: at(27 * time.Hour)}
		sv.AnsweredAt = ptr(at(27 * time.Hour))
		must(t, db.SaveSurvey(ctx, sv))
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	comp := compensation.NewService(db, db, db, nil, log)
	comp.Now = func() time.Time { return at(48 * time.Hour) }
	sv := surveys.NewService(db, db, log)
	stats := complaint.NewService(db, db, db, nil, nil, log)
	stats.Now = func() time.Time { return at(48 * time.Hour) }
	return &reports.Service{Incidents: db, Deliveries: db, Complaints: db, Stats: stats, Compensation: comp, Grants: comp, Surveys: sv,
		Now: func() time.Time { return at(48 * time.Hour) }}
}

// golden compares got with testdata/name, or writes it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		must(t, os.MkdirAll("testdata", 0o755))
		must(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	must(t, err)
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./reports -update to accept):\n%s", name, got)
	}
}

// TestReportGolden builds the fixture's report on each engine: both must
// give the same JSON and CSV, byte for byte, the golden files.
func TestReportGolden(t *testing.T) {
	for _, name := range []string{"sqlite", "redis"} {
		t.Run(name, func(t *testing.T) {
			svc := fixture(t, engines[name](t))
			r, err := svc.Incident(context.Background(), "p1", "i1")
			must(t, err)
			j, err := r.JSON()
			must(t, err)
			golden(t, "report.json", j)
			c, err := r.CSV()
			must(t, err)
			golden(t, "report.csv", c)
			h, err := r.HTML("en", map[string]string{"JSON": "report.json"})
			must(t, err)
			checkHTML(t, h, 6) // three charts, each wide and narrow
			if *htmlDir != "" && name == "sqlite" {
				must(t, os.WriteFile(filepath.Join(*htmlDir, "report.html"), h, 0o644))
			}
			if !strings.Contains(string(h), "<h3>What happened</h3>") {
				t.Error("the postmortem is not rendered")
			}
			if !strings.Contains(string(h), "<h3>Message: Declared · ") || strings.Contains(string(h), "Message: declared") {
				t.Error("a message's kind is not in words")
			}
			if hu, err := r.HTML("hu", nil); err != nil || !strings.Contains(string(hu), "A fizetés újra működik.") || strings.Contains(string(hu), "Payments work again.") {
				t.Errorf("the Hungarian report does not show the resolution's Hungarian text (%v)", err)
			}
			if _, err := svc.Incident(context.Background(), "another-page", "i1"); incident.ErrorCode(err) != incident.ENOTFOUND {
				t.Errorf("another page's report: %v, want not found", err)
			}
		})
	}
}

// checkHTML: the page has no script, each chart is well-formed XML with a
// title and a description, and the postmortem's Markdown is rendered.
func checkHTML(t *testing.T, h []byte, want int) {
	t.Helper()
	s := string(h)
	if strings.Contains(s, "<script") {
		t.Error("a script in the report")
	}

	charts := 0
	for rest := s; ; charts++ {
		i := strings.Index(rest, "<svg")
		if i < 0 {
			break
		}
		j := strings.Index(rest[i:], "</svg>")
		if j < 0 {
			t.Fatal("an unclosed <svg>")
		}
		svg := rest[i : i+j+len("</svg>")]
		d := xml.NewDecoder(strings.NewReader(svg))
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("chart %d is not well-formed: %v", charts, err)
			}
		}
		if !strings.Contains(svg, "<title id=") || !strings.Contains(svg, "<desc id=") || !strings.Contains(svg, `role="img"`) {
			t.Errorf("chart %d lacks its title, description or role", charts)
		}
		rest = rest[i+j:]
	}
	if charts != want {
		t.Errorf("%d charts, want %d", charts, want)
	}
}

// TestPeriodGolden evaluates the fixture's year on each engine: the same
// JSON and CSV, the golden files.
func TestPeriodGolden(t *testing.T) {
	for _, name := range []string{"sqlite", "redis"} {
		t.Run(name, func(t *testing.T) {
			svc := fixture(t, engines[name](t))
			from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
			r, err := svc.Period(context.Background(), "p1", from, to)
			must(t, err)
			j, err := r.JSON()
			must(t, err)
			golden(t, "period.json", j)
			c, err := r.CSV()
			must(t, err)
			golden(t, "period.csv", c)
			h, err := r.HTML("hu", nil)
			must(t, err)
			checkHTML(t, h, 6) // three charts, each wide and narrow
			if !strings.Contains(string(h), "Értékelés") {
				t.Error("the evaluation is not in Hungarian")
			}
			if !regexp.MustCompile(`\d,\d\x{00a0}%`).Match(h) || regexp.MustCompile(`\d\.\d\x{00a0}%`).Match(h) {
				t.Error("the Hungarian report's shares are not written with a decimal comma")
			}
			if *htmlDir != "" && name == "sqlite" {
				must(t, os.WriteFile(filepath.Join(*htmlDir, "period.html"), h, 0o644))
			}
			if _, err := svc.Period(context.Background(), "p1", to, from); incident.ErrorCode(err) != incident.EINVALID {
				t.Errorf("a period ending before it starts: %v", err)
			}
			if _, err := svc.Period(context.Background(), "p1", from, from.AddDate(2, 0, 0)); incident.ErrorCode(err) != incident.EINVALID {
				t.Errorf("a two-year period: %v", err)
			}
		})
	}
}

// TestReportWordsInLanguage: a Hungarian report names every enum value
// (impact, status, delivery state, channel, category, decision) in
// Hungarian: no raw value such as "major" or "sms" is shown as a cell or a
// chart label.
func TestReportWordsInLanguage(t *testing.T) {
	svc := fixture(t, engines["sqlite"](t))
	r, err := svc.Incident(context.Background(), "p1", "i1")
	must(t, err)
	p, err := svc.Period(context.Background(), "p1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	must(t, err)
	hu, err := locale.Default()
	must(t, err)
	l := hu.Lang("hu")
	raw := regexp.MustCompile(`>\(?(none|minor|major|critical|investigating|identified|monitoring|resolved|pending|sending|sent|delivered|undelivered|failed|suppressed|cancelled|collapsed|sms|email|slack|webhook|web|phone|api|outage|defect|refund|other|none_yet|coming|decided|apology|fix|credit|free_period|voucher)\)?<`)
	for name, render := range map[string]func() ([]byte, error){
		"incident": func() ([]byte, error) { return r.HTML("hu", nil) },
		"period":   func() ([]byte, error) { return p.HTML("hu", nil) },
	} {
		h, err := render()
		must(t, err)
		if m := raw.FindAllString(string(h), -1); len(m) > 0 {
			t.Errorf("%s report in Hungarian shows raw values: %q", name, m)
		}
		if want := l.Word("Impact", string(r.Incident.Impact)); !strings.Contains(string(h), want) {
			t.Errorf("%s report lacks the impact in Hungarian (%q)", name, want)
		}
	}
	// The timeline says a status once: "Resolved", not "Resolved (Resolved)".
	en, err := r.HTML("en", nil)
	must(t, err)
	if !strings.Contains(string(en), "<strong>Resolved</strong></td>") || strings.Contains(string(en), "<strong>Resolved</strong> (Resolved)") {
		t.Errorf("the timeline doubles a status:\n%s", regexp.MustCompile(`<strong>[^<]*</strong>[^<]*`).FindAll(en, -1))
	}
	if l.Word("ReportVia", "sms") == "sms" || l.Word("ConsoleDelivery", "delivered") == "delivered" {
		t.Error("the catalogue lacks the report's channel or state words")
	}
}

// TestReportInThePageZone: after `pages set --time-zone`, the HTML
// reports show times in the page's zone, named, as the console and the
// messages do; JSON and CSV keep UTC and say the zone; a period's days are
// the page's days.
func TestReportInThePageZone(t *testing.T) {
	db := engines["sqlite"](t)
	svc := fixture(t, db)
	ctx := context.Background()
	page, err := db.FindPageByID(ctx, "p1")
	must(t, err)
	// Honolulu is ten hours behind: the fixture's declaration (2026-03-10
	// 09:00 UTC) is 23:00 the day before there.
	page.TimeZone = "Pacific/Honolulu"
	must(t, db.Commit(ctx, &incident.Change{Pages: []*incident.Page{page}}))

	r, err := svc.Incident(ctx, "p1", "i1")
	must(t, err)
	h, err := r.HTML("en", nil)
	must(t, err)
	if !strings.Contains(string(h), "2026-03-09 23:00 HST") || strings.Contains(string(h), "UTC") {
		t.Errorf("the report's HTML does not show the declaration in the page's zone (2026-03-09 23:00 HST):\n%s", h)
	}
	j, err := r.JSON()
	must(t, err)
	if !strings.Contains(string(j), `"time_zone": "Pacific/Honolulu"`) || !strings.Contains(string(j), `"declared_at": "2026-03-10T09:00:00Z"`) {
		t.Errorf("the report's JSON: want UTC times and the page's zone named:\n%s", j)
	}

	day := func(from, to string) *reports.PeriodReport {
		t.Helper()
		f, u, err := reports.ParsePeriod(from, to)
		must(t, err)
		p, err := svc.Period(ctx, "p1", f, u)
		must(t, err)
		return p
	}
	if p := day("2026-03-10", "2026-03-10"); p.Incidents != 0 {
		t.Errorf("the 10th in Honolulu counts %d incidents; the one declared at 23:00 on the 9th belongs to the 9th", p.Incidents)
	}
	p := day("2026-03-09", "2026-03-09")
	if p.Incidents != 1 {
		t.Errorf("the 9th in Honolulu counts %d incidents, want the one declared that evening", p.Incidents)
	}
	if got := p.From.Format(time.RFC3339); got != "2026-03-09T00:00:00-10:00" {
		t.Errorf("the period starts at %s, want Honolulu's midnight", got)
	}
	c, err := p.CSV()
	must(t, err)
	if !strings.Contains(string(c), "excluded: the last day is 2026-03-09 (Pacific/Honolulu)") {
		t.Errorf("the CSV does not name the period's last day and zone:\n%s", c)
	}
	ph, err := p.HTML("en", nil)
	must(t, err)
	if !strings.Contains(string(ph), "2026-03-09 23:00 HST") {
		t.Errorf("the evaluation's HTML does not list the incident in the page's zone:\n%s", ph)
	}
}
