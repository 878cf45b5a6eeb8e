package reports_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/incident/wire"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/reports"
	"github.com/heraldhq/herald/surveys"
)

// TestCurveStopsAtTheReportsTime: a report written minutes after the
// resolution draws no buckets for times that have not happened yet.
func TestCurveStopsAtTheReportsTime(t *testing.T) {
	svc := fixture(t, engines["sqlite"](t))
	now := at(92 * time.Minute) // two minutes after the resolution
	svc.Now = func() time.Time { return now }
	r, err := svc.Incident(context.Background(), "p1", "i1")
	must(t, err)
	cf := r.Complaints
	if end := now.Add(complaint.TallyBucket - 1).Truncate(complaint.TallyBucket); !cf.CurveTo.Equal(end) {
		t.Errorf("the curve ends at %s, want %s (the report's time, rounded up to a bucket)", cf.CurveTo, end)
	}
	if n := len(cf.Curve); n == 0 || cf.Curve[n-1].At.After(now) {
		t.Errorf("the curve's last bucket starts after the report's time %s: %+v", now, cf.Curve[len(cf.Curve)-1])
	}
	// Long after, it still ends two hours past the resolution.
	svc.Now = func() time.Time { return at(48 * time.Hour) }
	r, err = svc.Incident(context.Background(), "p1", "i1")
	must(t, err)
	if want := at(90*time.Minute + 2*time.Hour); !r.Complaints.CurveTo.Equal(want) {
		t.Errorf("a day later the curve ends at %s, want %s", r.Complaints.CurveTo, want)
	}
}

// TestFollowUpsAreNotComplaints: the win-back tasks herald opens from
// unhappy survey answers (category follow_up, tagged to the incident,
// often of a customer who complained before) change none of the
// complaint figures of the incident's report or the period's evaluation,
// and are counted apart.
func TestFollowUpsAreNotComplaints(t *testing.T) {
	db := engines["sqlite"](t)
	svc := fixture(t, db)
	ctx := context.Background()
	year := func() *reports.PeriodReport {
		p, err := svc.Period(ctx, "p1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
		must(t, err)
		return p
	}
	before, err := svc.Incident(ctx, "p1", "i1")
	must(t, err)
	pBefore := year()

	// Two follow-ups a day after the resolution: one called back and
	// done (late), one still open past its promise.
	for i, done := range []bool{true, false} {
		created := at(26*time.Hour + time.Duration(i)*time.Minute)
		c := &complaint.Complaint{ID: fmt.Sprintf("f%d", i), PageID: "p1", Ref: complaint.NewRef(fmt.Sprintf("f%d", i)),
			Contact: complaint.Contact{CustomerID: fmt.Sprintf("c%d", i)}, Channel: complaint.SMS, Category: complaint.CategoryFollowUp,
			Components: []string{"c1"}, Language: "en", State: complaint.StateNew, Repeat: true, CreatedAt: created, UpdatedAt: created,
			LastMessageAt: created, Messages: 1, Version: 1, FirstAnswerDue: created.Add(time.Hour), ResolveDue: created.Add(4 * time.Hour),
			Tag: &complaint.Tag{IncidentID: "i1", Confidence: 1, Reason: "survey", By: "herald", At: created}}
		if done {
			c.FirstAnswerAt, c.ResolvedAt, c.State = ptr(created.Add(3*time.Hour)), ptr(created.Add(5*time.Hour)), complaint.StateResolved
		}
		must(t, db.SaveComplaint(ctx, c, nil))
	}

	after, err := svc.Incident(ctx, "p1", "i1")
	must(t, err)
	if got := after.Complaints; got.FollowUps != 2 || got.FollowUpsOpen != 1 {
		t.Errorf("follow-ups %d (%d open), want 2 (1 open)", got.FollowUps, got.FollowUpsOpen)
	}
	got, want := after.Complaints, before.Complaints
	got.FollowUps, got.FollowUpsOpen = 0, 0
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the follow-ups changed the complaint figures:\n got %+v\nwant %+v", got, want)
	}
	pAfter := year()
	if pAfter.Complaints.FollowUps != 2 || pAfter.IncidentList[0].FollowUps != 2 {
		t.Errorf("the period counts %d follow-ups (%d for the incident), want 2", pAfter.Complaints.FollowUps, pAfter.IncidentList[0].FollowUps)
	}
	pAfter.Complaints.FollowUps, pAfter.IncidentList[0].FollowUps = 0, 0
	if !reflect.DeepEqual(pAfter.Complaints, pBefore.Complaints) || !reflect.DeepEqual(pAfter.IncidentList, pBefore.IncidentList) ||
		!reflect.DeepEqual(pAfter.Components, pBefore.Components) {
		t.Errorf("the follow-ups changed the period's complaint figures:\n got %+v %+v %+v\nwant %+v %+v %+v",
			pAfter.Complaints, pAfter.IncidentList, pAfter.Components, pBefore.Complaints, pBefore.IncidentList, pBefore.Components)
	}
	h, err := after.HTML("en", nil)
	must(t, err)
	if !strings.Contains(string(h), "<dt>Follow-up calls after the survey (not complaints)</dt><dd>2 <span class=\"muted\">(1 still open)</span>") {
		t.Error("the HTML does not show the follow-up calls apart")
	}
}

// TestFirstAnswerAgrees: the period's time to first answer is the
// seconds `complaints stats` prints (to the nearest second, not cut
// short), and the incident's report, whose tallies keep whole minutes,
// writes its figure as the upper bound it is.
func TestFirstAnswerAgrees(t *testing.T) {
	db := engines["sqlite"](t)
	svc := fixture(t, db)
	ctx := context.Background()
	// Two more complaints of another incident, answered after 9.6 s and
	// 20.6 s, in a day of their own.
	day := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	for i, took := range []time.Duration{9600 * time.Millisecond, 20600 * time.Millisecond} {
		created := day.Add(time.Duration(i) * time.Minute)
		c := &complaint.Complaint{ID: fmt.Sprintf("q%d", i), PageID: "p1", Ref: complaint.NewRef(fmt.Sprintf("q%d", i)),
			Contact: complaint.Contact{CustomerID: "x"}, Channel: complaint.SMS, Category: complaint.CategoryOutage, Language: "en",
			State: complaint.StateInProgress, CreatedAt: created, UpdatedAt: created, LastMessageAt: created, Messages: 1, Version: 1,
			FirstAnswerAt: ptr(created.Add(took)), FirstAnswerDue: created.Add(time.Hour), ResolveDue: created.Add(24 * time.Hour)}
		must(t, db.SaveComplaint(ctx, c, nil))
	}
	p, err := svc.Period(ctx, "p1", time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC), time.Date(2026, 5, 5, 0, 0, 0, 0, time.UTC))
	must(t, err)
	st, err := svc.Stats.Stats(ctx, "p1", p.From, p.To)
	must(t, err)
	w := wire.NewComplaintStats(st)
	cli := func(s float64) int64 {
		return int64((time.Duration(s * float64(time.Second))).Round(time.Second) / time.Second)
	} // printStats
	if p.Complaints.FirstAnswerP50S == nil || p.Complaints.FirstAnswerP90S == nil {
		t.Fatalf("period first answer %v / %v, want figures", p.Complaints.FirstAnswerP50S, p.Complaints.FirstAnswerP90S)
	}
	if *p.Complaints.FirstAnswerP50S != 10 || *p.Complaints.FirstAnswerP90S != 21 ||
		w.FirstAnswer.P50 == nil || w.FirstAnswer.P90 == nil || cli(*w.FirstAnswer.P50) != *p.Complaints.FirstAnswerP50S || cli(*w.FirstAnswer.P90) != *p.Complaints.FirstAnswerP90S {
		t.Errorf("period %d s / %d s, complaints stats %v s / %v s; want both 10 s / 21 s",
			*p.Complaints.FirstAnswerP50S, *p.Complaints.FirstAnswerP90S, w.FirstAnswer.P50, w.FirstAnswer.P90)
	}
	r, err := svc.Incident(ctx, "p1", "i1")
	must(t, err)
	h, err := r.HTML("en", nil)
	must(t, err)
	if want := "<dd>≤ 20\u00a0min / ≤ 2\u00a0h\u00a000\u00a0min <span class=\"muted\">(6)</span></dd>"; !strings.Contains(string(h), want) {
		t.Errorf("the incident's time to first answer is not written as an upper bound (%q):\n%s", want, h)
	}
}

// TestPeriodMonthsAndSLACount: the satisfaction chart names months as
// 2026-01 (not "26-01", which reads as a day), and the SLA card says how
// many complaints it judged, as the incident's report does.
func TestPeriodMonthsAndSLACount(t *testing.T) {
	svc := fixture(t, engines["sqlite"](t))
	p, err := svc.Period(context.Background(), "p1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	must(t, err)
	h, err := p.HTML("en", nil)
	must(t, err)
	s := string(h)
	if !strings.Contains(s, ">2026-03</text>") || strings.Contains(s, ">26-03<") {
		t.Error("the satisfaction chart's months are not written 2026-03")
	}
	if want := fmt.Sprintf("<dt>SLA kept</dt><dd>18.2\u00a0%% <span class=\"muted\">(%d)</span>", p.Complaints.SLAJudged); !strings.Contains(s, want) {
		t.Errorf("the SLA card does not say how many complaints it judged (%q)", want)
	}
}

// TestGrantsSayWhatTheyCount: one customer given two offers and one who
// declined are 2 offers given, 1 declined and 1 customer compensated, in
// the incident's report and the period's evaluation alike (the period
// counted the decline as a grant).
func TestGrantsSayWhatTheyCount(t *testing.T) {
	db := engines["sqlite"](t)
	svc := fixture(t, db)
	ctx := context.Background()
	g := &compensation.Grant{ID: "g3", PageID: "p1", IncidentID: "i1", CustomerID: "c1", Group: "voucher", OfferID: "voucher", Kind: compensation.Voucher,
		Voucher: "V-1", PolicyVersion: 1, By: "agent", At: at(3 * time.Hour), Key: "k3"}
	if _, _, err := db.SaveGrant(ctx, g, 1); err != nil {
		t.Fatal(err)
	}
	r, err := svc.Incident(ctx, "p1", "i1")
	must(t, err)
	if cf := r.Compensation; cf.Granted != 2 || cf.Declined != 1 || cf.CustomersGranted != 1 || cf.CustomersDeclined != 1 {
		t.Errorf("incident: %d offers given, %d declined, %d customers compensated, %d declined; want 2, 1, 1, 1",
			cf.Granted, cf.Declined, cf.CustomersGranted, cf.CustomersDeclined)
	}
	p, err := svc.Period(ctx, "p1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	must(t, err)
	if p.Grants != 2 || p.Declines != 1 || p.CustomersGranted != 1 || p.IncidentList[0].Grants != 2 {
		t.Errorf("period: %d offers given, %d declined, %d customers compensated (incident %d); want 2, 1, 1 (2)",
			p.Grants, p.Declines, p.CustomersGranted, p.IncidentList[0].Grants)
	}
	h, err := r.HTML("en", nil)
	must(t, err)
	for _, want := range []string{"<dt>Eligible customers</dt>", "<dt>Customers compensated</dt><dd>1</dd>", "<dt>Offers given</dt><dd>2</dd>", "<dt>Offers declined</dt><dd>1</dd>"} {
		if !strings.Contains(string(h), want) {
			t.Errorf("the report's compensation lacks %q", want)
		}
	}
}

// TestResolutionToldInTheAnswer: the resolution's deliveries collapsed
// because the customer's complaint answer told them are called that, not
// "merged into a newer one"; the chart over every broadcast names both.
func TestResolutionToldInTheAnswer(t *testing.T) {
	counts := map[queue.DeliveryState]int{queue.StateDelivered: 2, queue.StateCollapsed: 3}
	r := &reports.Report{TimeZone: "UTC", Incident: reports.IncidentSummary{Name: "Card payments fail", DeclaredAt: t0},
		Broadcasts: []reports.BroadcastFigures{
			{ID: "b1", Kind: incident.BroadcastDeclared, CreatedAt: t0, Channels: []reports.ChannelFigures{{Channel: channel.SMS, Total: 5, Counts: counts}}},
			{ID: "b3", Kind: incident.BroadcastResolved, CreatedAt: at(time.Hour), Channels: []reports.ChannelFigures{{Channel: channel.SMS, Total: 5, Counts: counts}}},
		},
		Channels: []reports.ChannelTotals{{Channel: channel.SMS, Total: 10, Counts: map[queue.DeliveryState]int{queue.StateDelivered: 4, queue.StateCollapsed: 6}}}}
	h, err := r.HTML("en", nil)
	must(t, err)
	s := string(h)
	declared, resolved := s[strings.Index(s, "Message: Declared"):strings.Index(s, "Message: Resolved")], s[strings.Index(s, "Message: Resolved"):]
	if !strings.Contains(declared, ">merged into a newer one</th>") {
		t.Error("the declaration's collapsed messages are not called merged into a newer one")
	}
	if !strings.Contains(resolved, ">told in their complaint’s answer</th>") || strings.Contains(resolved, "merged into a newer one</th>") {
		t.Error("the resolution's collapsed messages are not called told in their complaint's answer")
	}
	if !strings.Contains(s, "merged into a newer message, or told in a complaint’s answer") {
		t.Error("the chart over every broadcast does not name both reasons")
	}
}

// TestFormatsCarryTheSameFigures: the HTML's survey section has what the
// JSON has (received what we promised, skipped, the splits by channel,
// language and segment); the CSVs name the time zone and carry the
// survey's splits and comments, and the period's grants and per-incident
// figures.
func TestFormatsCarryTheSameFigures(t *testing.T) {
	svc := fixture(t, engines["sqlite"](t))
	ctx := context.Background()
	r, err := svc.Incident(ctx, "p1", "i1")
	must(t, err)
	h, err := r.HTML("en", nil)
	must(t, err)
	for _, want := range []string{"<dt>Received what we promised (yes / not yet / no)</dt>", "<dt>Not sent (skipped)</dt><dd>0</dd>",
		"<h3>By channel, language and segment</h3>", `<th scope="row">Segment</th><td>gold</td><td class="n">4</td><td class="n">3</td>`} {
		if !strings.Contains(string(h), want) {
			t.Errorf("the report's HTML lacks %q", want)
		}
	}
	c, err := r.CSV()
	must(t, err)
	for _, want := range []string{"report,2026-03-12T09:00:00Z,,time_zone,UTC,", "surveys,,,skipped,0,", "survey_split,,,by_segment:gold:answered,3,",
		"survey_split,,sms,by_channel:sms:csat,0.667,"} {
		if !strings.Contains(string(c), want) {
			t.Errorf("the report's CSV lacks %q", want)
		}
	}
	p, err := svc.Period(ctx, "p1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	must(t, err)
	pc, err := p.CSV()
	must(t, err)
	for _, want := range []string{",time_zone,UTC,", "compensation,,,grants,1,offers given", "incident,2026-03-10T09:00:00Z,,i1:complaints,8,",
		"incident,2026-03-10T09:00:00Z,,i1:csat,0.667,", "incident,2026-03-10T09:00:00Z,,i1:cost:EUR,1000,"} {
		if !strings.Contains(string(pc), want) {
			t.Errorf("the period's CSV lacks %q", want)
		}
	}
}

// TestNothingMeasuredIsNotZero: an incident nobody complained about and
// no survey has answered, on a page whose period has no resolved incident
// and no complaint, has no satisfaction, no average, no response rate, no
// SLA share, no repeat rate and no answer time: JSON says null, the CSV
// leaves the cell empty and says why, the HTML says so in words. A
// satisfaction of 0 % reads as every customer unhappy.
func TestNothingMeasuredIsNotZero(t *testing.T) {
	ctx := context.Background()
	db := engines["sqlite"](t)
	page := &incident.Page{ID: "p1", Name: "Acme", TimeZone: "Europe/Budapest", CreatedAt: t0.Add(-time.Hour), UpdatedAt: t0.Add(-time.Hour)}
	u := &incident.Update{ID: "u1", IncidentID: "i1", Status: incident.Investigating, Body: "Looking.", CreatedAt: at(0), UpdatedAt: at(0), DisplayAt: at(0)}
	inc := &incident.Incident{ID: "i1", PageID: "p1", Name: "Quiet", Status: incident.Investigating, Impact: incident.ImpactMinor,
		CreatedAt: at(0), UpdatedAt: at(0), StartedAt: at(0), Updates: []*incident.Update{u}, Version: 1}
	must(t, db.Commit(ctx, &incident.Change{Pages: []*incident.Page{page}, Incidents: []*incident.Incident{inc}}))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	stats := complaint.NewService(db, db, db, nil, nil, log)
	svc := &reports.Service{Incidents: db, Deliveries: db, Complaints: db, Stats: stats, Surveys: surveys.NewService(db, db, log),
		Now: func() time.Time { return at(time.Hour) }}

	r, err := svc.Incident(ctx, "p1", "i1")
	must(t, err)
	js, err := r.JSON()
	must(t, err)
	for _, want := range []string{`"repeat_rate": null`, `"first_answer_p50_s": null`, `"first_answer_p90_s": null`, `"sla_kept": null`,
		`"response_rate": null`, `"csat": null`, `"average": null`, `"scored": 0`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("report JSON lacks %s", want)
		}
	}
	cv, err := r.CSV()
	must(t, err)
	for _, want := range []string{"complaints,,,sla_kept,,none: no promise has come due yet", "surveys,,,csat,,none: no answers with a score yet",
		"surveys,,,response_rate,,none: no survey sent yet", "complaints,,,repeat_rate,,none: no tagged complaint"} {
		if !strings.Contains(string(cv), want) {
			t.Errorf("report CSV lacks %q:\n%s", want, cv)
		}
	}
	for lang, want := range map[string][]string{
		"en": {"<dd>no scores yet</dd>", "<dd>none answered yet</dd>", "<dd>no deadline has passed yet</dd>", "<dd>0</dd>"},
		"hu": {"<dd>még nincs értékelés</dd>", "<dd>még egyik sem kapott választ</dd>"},
	} {
		h, err := r.HTML(lang, nil)
		must(t, err)
		for _, w := range want {
			if !strings.Contains(string(h), w) {
				t.Errorf("%s report HTML lacks %q", lang, w)
			}
		}
		if strings.Contains(string(h), "<tbody></tbody>") {
			t.Errorf("%s report HTML shows a table with no rows", lang)
		}
		if strings.Contains(string(h), "0.0\u00a0%") || strings.Contains(string(h), "0,0\u00a0%") || strings.Contains(string(h), "0.00") {
			t.Errorf("%s report HTML shows a share or an average of 0 where nothing was measured", lang)
		}
	}

	p, err := svc.Period(ctx, "p1", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	must(t, err)
	pj, err := p.JSON()
	must(t, err)
	for _, want := range []string{`"duration_p50_s": null`, `"repeat_rate": null`, `"sla_kept": null`, `"first_answer_p50_s": null`, `"csat": null`} {
		if !strings.Contains(string(pj), want) {
			t.Errorf("period JSON lacks %s", want)
		}
	}
	ph, err := p.HTML("en", nil)
	must(t, err)
	for _, want := range []string{"<dd>none resolved</dd>", "<dd>no deadline has passed yet</dd>", "<dd>none answered yet</dd>", "2026-03 –"} {
		if !strings.Contains(string(ph), want) {
			t.Errorf("period HTML lacks %q", want)
		}
	}
	if strings.Contains(string(ph), "0.0\u00a0%") || strings.Contains(string(ph), ">0\u00a0s / 0\u00a0s<") {
		t.Errorf("period HTML shows 0 where nothing was measured")
	}
}
