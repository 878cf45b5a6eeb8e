package surveys_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/store/enginetest"
	"github.com/heraldhq/herald/surveys"
)

// scheduleEngine is what the Schedule tests need of a real engine.
type scheduleEngine interface {
	engine
	audience.Store
	queue.Store
	surveys.Deliveries
	surveys.Customers
}

// complaints lists fixed complaints, newest first, a page at a time as
// complaint.Service does (its store is tested in store/storetest).
type complaints struct{ cs []*complaint.Complaint }

func (c complaints) List(_ context.Context, f complaint.Filter) ([]*complaint.Complaint, int, error) {
	var out []*complaint.Complaint
	for _, x := range c.cs {
		if x.PageID == f.PageID && x.Tag != nil && x.Tag.IncidentID == f.IncidentID {
			out = append(out, x)
		}
	}
	n := len(out)
	out = out[min(f.Offset, n):]
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, n, nil
}

func (complaints) Receive(context.Context, complaint.Intake) (*complaint.Complaint, bool, error) {
	return nil, false, nil
}

func (complaints) Note(context.Context, string, string, string) (*complaint.Complaint, error) {
	return nil, nil
}

// grants are an incident's fixed compensation grants.
type grants []*compensation.Grant

func (g grants) FindGrants(context.Context, string, string, string) ([]*compensation.Grant, error) {
	return g, nil
}

var resolved = time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)

// scheduleFixture fills db with page p1, incident inc1 (resolved), its
// customers, the deliveries of its messages and two earlier surveys, and
// returns a Service on it with settings st.
func scheduleFixture(t *testing.T, db scheduleEngine, st surveys.Settings) *surveys.Service {
	t.Helper()
	ctx := context.Background()
	page := &incident.Page{ID: "p1", Name: "Acme", TimeZone: "Europe/Budapest", CreatedAt: resolved.AddDate(0, -1, 0), UpdatedAt: resolved.AddDate(0, -1, 0)}
	inc := &incident.Incident{ID: "inc1", PageID: "p1", Name: "Outage", Status: incident.Resolved, Impact: incident.ImpactMajor,
		CreatedAt: resolved.Add(-2 * time.Hour), UpdatedAt: resolved, StartedAt: resolved.Add(-2 * time.Hour), ResolvedAt: &resolved, Version: 1}
	if err := db.Commit(ctx, &incident.Change{Pages: []*incident.Page{page}, Incidents: []*incident.Incident{inc}}); err != nil {
		t.Fatal(err)
	}
	var cs []*audience.Customer
	for i := range 40 {
		cs = append(cs, &audience.Customer{ID: fmt.Sprintf("c%03d", i), PageID: "p1", Name: fmt.Sprintf("Customer %d", i),
			Email: fmt.Sprintf("c%03d@example.com", i), Language: "en", Plan: []string{"gold", "free", ""}[i%3],
			CreatedAt: page.CreatedAt, UpdatedAt: page.CreatedAt})
	}
	if _, err := db.UpsertCustomers(ctx, cs); err != nil {
		t.Fatal(err)
	}
	sent := resolved.Add(-90 * time.Minute)
	var ds []*queue.Delivery
	add := func(rtype queue.RecipientType, rid string, kind channel.Kind, addr, update string, state queue.DeliveryState, created time.Time, mk queue.MessageKind) {
		d := &queue.Delivery{PageID: "p1", IncidentID: "inc1", UpdateID: update, BroadcastID: "b-" + update, MessageKind: mk, Kind: kind, Address: addr,
			RecipientType: rtype, RecipientID: rid, Name: "Name " + rid + " " + update, Language: []string{"en", "hu"}[len(update)%2],
			TimeZone: map[bool]string{true: "America/New_York", false: ""}[len(rid)%2 == 0], State: state, NextAt: created, CreatedAt: created, UpdatedAt: created}
		if state == queue.StateSent || state == queue.StateDelivered {
			at := created.Add(time.Minute)
			d.SentAt = &at
		}
		d.ID = queue.DeliveryID(update, kind, addr)
		ds = append(ds, d)
	}
	// Customers (50: ten without a record) by SMS, most by email too,
	// some by Slack; some messages failed; every third had a second
	// update, by email.
	for i := range 50 {
		id := fmt.Sprintf("c%03d", i)
		state := []queue.DeliveryState{queue.StateSent, queue.StateDelivered, queue.StateFailed, queue.StateSent}[i%4]
		add(queue.FromCustomer, id, channel.SMS, fmt.Sprintf("+3620%07d", i), "u1", state, sent, queue.KindAck)
		if i%5 != 4 {
			add(queue.FromCustomer, id, channel.Email, id+"@example.com", "u1", []queue.DeliveryState{queue.StateDelivered, queue.StateSent}[i%2], sent, queue.KindAck)
		}
		if i%7 == 0 {
			add(queue.FromCustomer, id, channel.Slack, "U"+id, "u1", queue.StateSent, sent, queue.KindAck)
		}
		if i%3 == 0 {
			add(queue.FromCustomer, id, channel.Email, id+"@new.example.com", "u2", queue.StateSent, sent.Add(time.Duration(i%2)*time.Minute), queue.KindResolved)
		}
	}
	// Subscribers, one with a customer's ID; a survey message and one
	// without a recipient, which are never surveyed.
	for i := range 15 {
		id := fmt.Sprintf("s%03d", i)
		if i == 0 {
			id = "c001"
		}
		add(queue.FromSubscriber, id, channel.Email, fmt.Sprintf("s%03d@example.com", i), "u1", queue.StateSent, sent, queue.KindAck)
	}
	add(queue.FromCustomer, "c002", channel.Email, "c002@example.com", "survey:x", queue.StateSent, sent, queue.KindSurvey)
	add(queue.FromCustomer, "", channel.SMS, "+36209999999", "u1", queue.StateSent, sent, queue.KindAck)
	for start := 0; start < len(ds); start += 100 {
		if _, err := db.EnqueueDeliveries(ctx, ds[start:min(start+100, len(ds))]); err != nil {
			t.Fatal(err)
		}
	}
	// Surveyed lately (within the gap) and long ago.
	for i, due := range []time.Time{resolved.AddDate(0, 0, -3), resolved.AddDate(0, -6, 0)} {
		key := fmt.Sprintf("customer:c%03d", 4+i)
		sv := &surveys.Survey{ID: surveys.SurveyID("inc0", key), PageID: "p1", IncidentID: "inc0", RecipientType: queue.FromCustomer,
			RecipientID: key[9:], Key: key, Channel: channel.Email, Address: key[9:] + "@example.com", Language: "en",
			State: surveys.Scheduled, DueAt: due, CreatedAt: due, UpdatedAt: due, Version: 1}
		if n, err := db.CreateSurveys(ctx, []*surveys.Survey{sv}); err != nil || n != 1 {
			t.Fatalf("CreateSurveys = %d, %v", n, err)
		}
	}
	// Customer c013's email was surveyed lately as a subscriber's (the
	// same person, under another key; the address spelt in capitals).
	{
		due := resolved.AddDate(0, 0, -2)
		sv := &surveys.Survey{ID: surveys.SurveyID("inc0", "subscriber:s-old"), PageID: "p1", IncidentID: "inc0", RecipientType: queue.FromSubscriber,
			RecipientID: "s-old", Key: "subscriber:s-old", Channel: channel.Email, Address: "C013@Example.com", Language: "en",
			State: surveys.Scheduled, DueAt: due, CreatedAt: due, UpdatedAt: due, Version: 1}
		if n, err := db.CreateSurveys(ctx, []*surveys.Survey{sv}); err != nil || n != 1 {
			t.Fatalf("CreateSurveys = %d, %v", n, err)
		}
	}
	st.PageID, st.UpdatedAt = "p1", resolved
	if err := db.SaveSettings(ctx, &st); err != nil {
		t.Fatal(err)
	}
	s := surveys.NewService(db, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.Deliveries, s.Customers = db, db
	tag := &complaint.Tag{IncidentID: "inc1"}
	s.Complaints = complaints{[]*complaint.Complaint{
		{ID: "k2", PageID: "p1", Channel: complaint.Email, Language: "hu", Tag: tag, CreatedAt: resolved.Add(-10 * time.Minute),
			Contact: complaint.Contact{CustomerID: "c007", Name: "Seven", Email: "seven@example.com"}},
		{ID: "k1", PageID: "p1", Channel: complaint.SMS, Language: "en", Tag: tag, CreatedAt: resolved.Add(-20 * time.Minute),
			Contact: complaint.Contact{Name: "Walk-in", Phone: "+36301234567", TimeZone: "Europe/Warsaw"}},
		{ID: "k0", PageID: "p1", Channel: complaint.Email, Language: "en", Tag: tag, CreatedAt: resolved.Add(-30 * time.Minute),
			Contact: complaint.Contact{CustomerID: "c007", Name: "Seven (first)", Email: "c007@example.com"}},
	}}
	s.Grants = grants{{PageID: "p1", IncidentID: "inc1", CustomerID: "c009"}, {PageID: "p1", IncidentID: "inc1", CustomerID: "c010", Declined: true}}
	s.Now = func() time.Time { return resolved.Add(time.Hour) }
	return s
}

// want is the surveys Schedule made before it read in pages: every sent
// or delivered delivery of the incident at once (FindDeliveries), and a
// customer and a last survey read per recipient. It creates nothing.
func want(t *testing.T, db scheduleEngine, s *surveys.Service, st surveys.Settings) map[string]surveys.Survey {
	t.Helper()
	ctx := context.Background()
	rank := map[channel.Kind]int{channel.Email: 0, channel.Slack: 1, channel.SMS: 2}
	type rec struct {
		sv   surveys.Survey
		sent time.Time
	}
	byKey := map[string]*rec{}
	complained := map[string]bool{}
	cs, _, _ := s.Complaints.List(ctx, complaint.Filter{PageID: "p1", IncidentID: "inc1"})
	for _, c := range cs {
		kind, addr := c.Contact.Address(c.Channel)
		key, rtype, id := "contact:"+c.Contact.Key(), queue.FromContact, c.Contact.Key()
		// Only a customer's (their record's) or a caller's (the agent's)
		// name greets: what came with a text or an email anyone can write.
		name := ""
		if c.Contact.CustomerID != "" || c.Channel == complaint.Phone {
			name = c.Contact.Name
		}
		if c.Contact.CustomerID != "" {
			key, rtype, id = "customer:"+c.Contact.CustomerID, queue.FromCustomer, c.Contact.CustomerID
		}
		complained[key] = true
		if st.Mode == surveys.ModeComplained {
			byKey[key] = &rec{surveys.Survey{Key: key, RecipientID: id, Name: name, Language: c.Language, TimeZone: c.Contact.TimeZone,
				Address: addr, RecipientType: rtype, Channel: kind, Complained: true}, c.CreatedAt}
		}
	}
	if st.Mode != surveys.ModeComplained {
		ds, err := db.FindDeliveries(ctx, queue.DeliveryFilter{PageID: "p1", IncidentID: "inc1", States: []queue.DeliveryState{queue.StateSent, queue.StateDelivered}})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if _, ok := rank[d.Kind]; !ok || d.RecipientID == "" || d.MessageKind == queue.KindSurvey {
				continue
			}
			key := string(d.RecipientType) + ":" + d.RecipientID
			if st.Mode == surveys.ModeSample && !surveys.Sampled("inc1", key, st.SamplePercent) {
				continue
			}
			at := d.CreatedAt
			if d.SentAt != nil {
				at = *d.SentAt
			}
			if r := byKey[key]; r != nil && (rank[r.sv.Channel] < rank[d.Kind] || rank[r.sv.Channel] == rank[d.Kind] && !at.After(r.sent)) {
				continue
			}
			byKey[key] = &rec{surveys.Survey{Key: key, RecipientID: d.RecipientID, Name: d.Name, Language: d.Language, TimeZone: d.TimeZone,
				Address: d.Address, RecipientType: d.RecipientType, Channel: d.Kind, Complained: complained[key]}, at}
		}
	}
	out := map[string]surveys.Survey{}
	for key, r := range byKey {
		sv := r.sv
		sv.ID, sv.PageID, sv.IncidentID, sv.State, sv.Version = surveys.SurveyID("inc1", key), "p1", "inc1", surveys.Scheduled, 1
		if sv.RecipientType == queue.FromCustomer {
			sv.Granted = sv.RecipientID == "c009"
			if c, err := db.FindCustomerByID(ctx, "p1", sv.RecipientID); err == nil {
				sv.Segment = c.Plan
			}
		}
		zone := sv.TimeZone
		if zone == "" {
			zone = "Europe/Budapest"
		}
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		sv.DueAt = surveys.DueAt(resolved, loc, st)
		last, err := db.LastSurveyed(ctx, "p1", key)
		if err != nil {
			t.Fatal(err)
		}
		byAddress, err := db.LastSurveyed(ctx, "p1", surveys.AddressKey(sv.Channel, sv.Address))
		if err != nil {
			t.Fatal(err)
		}
		if byAddress.After(last) {
			last = byAddress
		}
		if !last.IsZero() && sv.DueAt.Sub(last) < st.Gap {
			sv.State, sv.Reason = surveys.Skipped, "surveyed on "+last.UTC().Format("2006-01-02")+", within the gap of "+st.Gap.String()
		}
		out[sv.ID] = sv
	}
	return out
}

// TestScheduleInPages: Schedule reading the incident's deliveries a few
// at a time (pages that end inside a recipient's deliveries, and
// recipients with more deliveries than a page) makes exactly the surveys
// it made reading them all at once, in every mode, and a second run
// makes none.
func TestScheduleInPages(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) scheduleEngine{
		"sqlite": func(t *testing.T) scheduleEngine { return enginetest.SQLite(t) },
		"redis":  func(t *testing.T) scheduleEngine { return enginetest.Redis(t, "surveys-schedule") },
	} {
		for _, st := range []surveys.Settings{
			{Mode: surveys.ModeNotified, SamplePercent: 100, Delay: 24 * time.Hour, Gap: 30 * 24 * time.Hour, DayStart: 9 * 60, DayEnd: 20 * 60},
			{Mode: surveys.ModeSample, SamplePercent: 40, Delay: 2 * time.Hour, Gap: 365 * 24 * time.Hour, DayStart: 8 * 60, DayEnd: 21 * 60, Weekends: true},
			{Mode: surveys.ModeComplained, SamplePercent: 100, Delay: time.Hour, Gap: time.Hour, DayStart: 0, DayEnd: 24 * 60, Weekends: true},
		} {
			for _, page := range []int{0, 1, 3} {
				t.Run(fmt.Sprintf("%s/%s/page %d", name, st.Mode, page), func(t *testing.T) {
					ctx := context.Background()
					db := open(t)
					s := scheduleFixture(t, db, st)
					if page > 0 {
						surveys.SetSchedulePage(s, page)
					}
					want := want(t, db, s, st)
					if len(want) < 2 {
						t.Fatalf("the fixture makes %d surveys", len(want))
					}
					n, err := s.Schedule(ctx, "p1", "inc1")
					if err != nil {
						t.Fatal(err)
					}
					if n != len(want) {
						t.Errorf("Schedule created %d, want %d", n, len(want))
					}
					got, err := db.FindSurveys(ctx, "inc1", "", "", 10000)
					if err != nil {
						t.Fatal(err)
					}
					for _, sv := range got {
						w, ok := want[sv.ID]
						if !ok {
							t.Errorf("unexpected survey %+v", sv)
							continue
						}
						w.CreatedAt, w.UpdatedAt, w.DueAt = sv.CreatedAt, sv.UpdatedAt, surveys.Millis(w.DueAt)
						if g := *sv; fmt.Sprint(g) != fmt.Sprint(w) {
							t.Errorf("survey %s:\n got %+v\nwant %+v", sv.ID, g, w)
						}
					}
					if len(got) != len(want) {
						t.Errorf("%d surveys stored, want %d", len(got), len(want))
					}
					if st.Mode == surveys.ModeNotified {
						if w := want[surveys.SurveyID("inc1", "customer:c013")]; w.State != surveys.Skipped || !strings.Contains(w.Reason, "within the gap") {
							t.Errorf("c013, whose email was surveyed two days ago as a subscriber's: %s %q, want skipped within the gap", w.State, w.Reason)
						}
					}
					if again, err := s.Schedule(ctx, "p1", "inc1"); err != nil || again != 0 {
						t.Errorf("a second Schedule created %d, %v", again, err)
					}
				})
			}
		}
	}
}

// TestSendNowCountsTheSendTime: `surveys send` sends surveys due
// tomorrow now, and now is when their recipients were surveyed: not the
// due time they never went at. A gap of 0 never skips, not even a survey
// due before another one still scheduled.
func TestSendNowCountsTheSendTime(t *testing.T) {
	ctx := incident.WithActor(context.Background(), incident.Actor{Name: "m", Role: incident.RoleManager})
	db := enginetest.SQLite(t)
	st := surveys.Settings{Mode: surveys.ModeNotified, SamplePercent: 100, Delay: 24 * time.Hour, Gap: 0, DayStart: 9 * 60, DayEnd: 20 * 60}
	s := scheduleFixture(t, db, st)
	s.Sender, s.Secrets, s.Leaser = &sender{}, db, db
	// c000 has a survey of another incident still scheduled, due in ten
	// days.
	later := resolved.AddDate(0, 0, 10)
	sv := &surveys.Survey{ID: surveys.SurveyID("inc9", "customer:c000"), PageID: "p1", IncidentID: "inc9", RecipientType: queue.FromCustomer,
		RecipientID: "c000", Key: "customer:c000", Channel: channel.Email, Address: "c000@example.com", Language: "en",
		State: surveys.Scheduled, DueAt: later, CreatedAt: resolved, UpdatedAt: resolved, Version: 1}
	if n, err := db.CreateSurveys(ctx, []*surveys.Survey{sv}); err != nil || n != 1 {
		t.Fatalf("CreateSurveys = %d, %v", n, err)
	}
	n, err := s.SendNow(ctx, "p1", "inc1")
	if err != nil || n == 0 {
		t.Fatalf("SendNow = %d, %v", n, err)
	}
	mine, err := db.FindSurveyByID(ctx, surveys.SurveyID("inc1", "customer:c000"))
	if err != nil {
		t.Fatal(err)
	}
	if mine.State != surveys.Sent {
		t.Errorf("with a gap of 0, c000's survey is %s (%s), want sent", mine.State, mine.Reason)
	}
	now := s.Now()
	if last, err := db.LastSurveyed(ctx, "p1", "customer:c001"); err != nil || !last.Equal(now) {
		t.Errorf("c001 last surveyed %v, %v; want the send time %v", last, err, now)
	}
}
