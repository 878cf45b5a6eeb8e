package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/surveys"
)

// RunSurveys runs the surveys.Store suite. open must return a fresh,
// empty engine for the calling (sub)test as both interfaces (the same
// handle); RunSurveys closes it through incident.Store when that test
// ends. Subtests run one after another, never in parallel.
func RunSurveys(t *testing.T, open func(t *testing.T) (incident.Store, surveys.Store)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s surveys.Store)
	}{
		{"Settings", testSurveySettings},
		{"SettingsInvalid", testSurveySettingsInvalid},
		{"SurveyRoundTrip", testSurveyRoundTrip},
		{"CreateIdempotent", testCreateSurveysIdempotent},
		{"CreateInvalid", testCreateSurveysInvalid},
		{"CreatePages", testCreateSurveysPages},
		{"CreateLarge", testCreateSurveysLarge},
		{"CreateConcurrently", testCreateSurveysConcurrently},
		{"SaveVersions", testSaveSurveyVersions},
		{"SaveConcurrently", testSaveSurveyConcurrently},
		{"Tallies", testSurveyTallies},
		{"WordsWithoutScore", testSurveyWordsWithoutScore},
		{"FindDue", testFindDueSurveys},
		{"FindByAddress", testFindSurveysByAddress},
		{"LastSurveyed", testLastSurveyed},
		{"LastSurveyedKeys", testLastSurveyedKeys},
		{"FindSurveys", testFindSurveys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is, s := open(t)
			if is == nil || s == nil {
				t.Fatal("storetest: open returned a nil store")
			}
			t.Cleanup(func() {
				if err := is.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

// ---- survey fixtures ----

// newSurvey returns a version 1 scheduled survey of a customer by SMS,
// due at due, its times in UTC at millisecond precision. The key is the
// recipient's ID.
func newSurvey(id, pageID, incidentID, recipientID string, due time.Time) *surveys.Survey {
	return &surveys.Survey{ID: id, PageID: pageID, IncidentID: incidentID, RecipientType: queue.FromCustomer,
		RecipientID: recipientID, Key: recipientID, Channel: channel.SMS, Address: "+3620" + recipientID, Name: "Éva " + recipientID,
		Language: "hu", TimeZone: "Europe/Budapest", Segment: "gold", State: surveys.Scheduled, DueAt: due,
		CreatedAt: base, UpdatedAt: base, Version: 1}
}

// next returns a copy of s one version on, updated at when.
func next(s *surveys.Survey, when time.Time) *surveys.Survey {
	v := s.WithTimes(func(t time.Time) time.Time { return t })
	v.Version++
	v.UpdatedAt = when
	return v
}

// sent returns s's next version, sent at when.
func sent(s *surveys.Survey, when time.Time) *surveys.Survey {
	v := next(s, when)
	v.State, v.SentAt, v.DeliveryID = surveys.Sent, &when, "d-"+s.ID
	return v
}

// answered returns s's next version, answered at when.
func answered(s *surveys.Survey, when time.Time, a surveys.Answer) *surveys.Survey {
	v := next(s, when)
	a.At, a.Via = when, "sms"
	if v.Answer != nil {
		a.Changes = v.Answer.Changes + 1
	} else {
		v.AnsweredAt = &when
	}
	v.State, v.Answer = surveys.Answered, &a
	return v
}

// skipped returns s's next version, skipped.
func skipped(s *surveys.Survey, when time.Time, reason string) *surveys.Survey {
	v := next(s, when)
	v.State, v.Reason = surveys.Skipped, reason
	return v
}

func createSurveys(t *testing.T, s surveys.Store, want int, ss ...*surveys.Survey) {
	t.Helper()
	n, err := s.CreateSurveys(context.Background(), ss)
	if err != nil {
		t.Fatalf("CreateSurveys(%v): %v", surveyIDs(ss), err)
	}
	if n != want {
		t.Errorf("CreateSurveys(%v) = %d, want %d", surveyIDs(ss), n, want)
	}
}

func saveSurvey(t *testing.T, s surveys.Store, v *surveys.Survey) *surveys.Survey {
	t.Helper()
	if err := s.SaveSurvey(context.Background(), v); err != nil {
		t.Fatalf("SaveSurvey(%s v%d): %v", v.ID, v.Version, err)
	}
	return v
}

func findSurvey(t *testing.T, s surveys.Store, id string) *surveys.Survey {
	t.Helper()
	v, err := s.FindSurveyByID(context.Background(), id)
	if err != nil {
		t.Fatalf("FindSurveyByID(%s): %v", id, err)
	}
	return v
}

// surveyList fails on an error or a nil list (none is an empty list).
func surveyList(t *testing.T, what string, ss []*surveys.Survey, err error) []*surveys.Survey {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if ss == nil {
		t.Errorf("%s = nil, want a list (empty when there are none)", what)
	}
	return ss
}

func surveyIDs(ss []*surveys.Survey) []string {
	out := []string{}
	for _, s := range ss {
		if s == nil {
			out = append(out, "<nil>")
			continue
		}
		out = append(out, s.ID)
	}
	return out
}

func tallies(t *testing.T, s surveys.Store, incidentID string) map[string]*surveys.Tally {
	t.Helper()
	m, err := s.Tallies(context.Background(), incidentID)
	if err != nil {
		t.Fatalf("Tallies(%s): %v", incidentID, err)
	}
	if m == nil {
		t.Errorf("Tallies(%s) = nil, want a map (empty when there are none)", incidentID)
	}
	return m
}

// stored is what the store gives back for v: its times in UTC at
// millisecond precision.
func stored(v *surveys.Survey) *surveys.Survey { return v.WithTimes(surveys.Millis) }

// testSurveyWordsWithoutScore: an answer without a score (words a
// customer replied with, Score 0) and the time herald asked for the
// score are kept like every other field; the tallies count the answer
// and its comment but no score, and a score later moves them; an
// answered survey with neither a score nor words is refused.
func testSurveyWordsWithoutScore(t *testing.T, s surveys.Store) {
	v1 := newSurvey("s1", "pa", "i1", "c1", at(time.Hour))
	createSurveys(t, s, 1, v1)
	v2 := saveSurvey(t, s, sent(v1, at(2*time.Hour)))
	v3 := answered(v2, at(3*time.Hour), surveys.Answer{Comment: "tíz"})
	v3.AskedForScore = ptr(at(3 * time.Hour))
	saveSurvey(t, s, v3)
	equal(t, "words without a score, asked", findSurvey(t, s, "s1"), stored(v3))
	all := tallies(t, s, "i1")[""]
	if all == nil || all.Answered != 1 || all.Comments != 1 || all.Scores != [6]int{} {
		t.Errorf("tally after words without a score: %+v, want answered 1, comments 1, no score", all)
	}
	v4 := answered(v3, at(4*time.Hour), surveys.Answer{Score: 4, Comment: "tíz"})
	saveSurvey(t, s, v4)
	equal(t, "the score after the words", findSurvey(t, s, "s1"), stored(v4))
	if all := tallies(t, s, "i1")[""]; all == nil || all.Answered != 1 || all.Comments != 1 || all.Scores != [6]int{4: 1} {
		t.Errorf("tally after the score: %+v, want answered 1, comments 1, one 4", all)
	}
	t.Run("neither a score nor words", func(t *testing.T) {
		v := answered(v4, at(5*time.Hour), surveys.Answer{})
		wantCode(t, "SaveSurvey(no score, no words)", s.SaveSurvey(context.Background(), v), incident.EINVALID)
		equal(t, "after the refusal", findSurvey(t, s, "s1"), stored(v4))
	})
}

// ---- settings ----

func testSurveySettings(t *testing.T, s surveys.Store) {
	ctx := context.Background()
	local := inBudapest(t)
	t.Run("none saved", func(t *testing.T) {
		_, err := s.FindSettings(ctx, "pa")
		wantErr(t, "FindSettings before any save", err, incident.ErrNotFound)
	})

	in := surveys.DefaultSettings("pa")
	in.Mode, in.SamplePercent, in.Delay, in.Weekends, in.DayStart, in.DayEnd = surveys.ModeSample, 25, 90*time.Minute, true, 8*60+30, 18*60
	in.UpdatedAt = local(base)
	want := in
	want.UpdatedAt = surveys.Millis(in.UpdatedAt)
	if err := s.SaveSettings(ctx, &in); err != nil {
		t.Fatalf("SaveSettings: %v", err)
	}
	find := func(t *testing.T, pageID string) *surveys.Settings {
		t.Helper()
		got, err := s.FindSettings(ctx, pageID)
		if err != nil {
			t.Fatalf("FindSettings(%s): %v", pageID, err)
		}
		return got
	}

	t.Run("round trip in UTC at millisecond precision", func(t *testing.T) {
		equal(t, "FindSettings", find(t, "pa"), &want)
		if in.UpdatedAt.Location() == time.UTC || in.UpdatedAt.Equal(want.UpdatedAt) {
			t.Errorf("SaveSettings changed the caller's UpdatedAt: %v", in.UpdatedAt)
		}
	})
	t.Run("a returned value is the caller's", func(t *testing.T) {
		got := find(t, "pa")
		got.Mode = surveys.ModeOff
		equal(t, "FindSettings after changing a returned one", find(t, "pa"), &want)
	})
	t.Run("per page", func(t *testing.T) {
		_, err := s.FindSettings(ctx, "pb")
		wantErr(t, "FindSettings of another page", err, incident.ErrNotFound)
		other := surveys.DefaultSettings("pb")
		other.Mode, other.UpdatedAt = surveys.ModeComplained, at(time.Hour)
		if err := s.SaveSettings(ctx, &other); err != nil {
			t.Fatalf("SaveSettings(pb): %v", err)
		}
		equal(t, "pb", find(t, "pb"), &other)
		equal(t, "pa", find(t, "pa"), &want)
	})
	t.Run("a save replaces", func(t *testing.T) {
		again := surveys.DefaultSettings("pa")
		again.Mode, again.UpdatedAt = surveys.ModeOff, at(2*time.Hour)
		if err := s.SaveSettings(ctx, &again); err != nil {
			t.Fatalf("SaveSettings: %v", err)
		}
		equal(t, "pa", find(t, "pa"), &again)
	})
}

func testSurveySettingsInvalid(t *testing.T, s surveys.Store) {
	ctx := context.Background()
	good := surveys.DefaultSettings("pa")
	good.UpdatedAt = base
	if err := s.SaveSettings(ctx, &good); err != nil {
		t.Fatalf("SaveSettings: %v", err)
	}
	for _, tt := range []struct {
		name   string
		change func(v *surveys.Settings)
	}{
		{"an unknown mode", func(v *surveys.Settings) { v.Mode = "sometimes" }},
		{"a sample of 0 percent", func(v *surveys.Settings) { v.Mode, v.SamplePercent = surveys.ModeSample, 0 }},
		{"a negative delay", func(v *surveys.Settings) { v.Delay = -time.Minute }},
		{"a daytime of half an hour", func(v *surveys.Settings) { v.DayStart, v.DayEnd = 600, 630 }},
		{"six win-backs", func(v *surveys.Settings) { v.WinBackMax = 6 }},
		{"no page", func(v *surveys.Settings) { v.PageID = "" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, page := range []string{"pa", "pb"} {
				v := surveys.DefaultSettings(page)
				tt.change(&v)
				wantCode(t, "SaveSettings", s.SaveSettings(ctx, &v), incident.EINVALID)
			}
		})
	}
	t.Run("nil", func(t *testing.T) {
		wantCode(t, "SaveSettings(nil)", s.SaveSettings(ctx, nil), incident.EINVALID)
	})
	got, err := s.FindSettings(ctx, "pa")
	if err != nil {
		t.Fatalf("FindSettings: %v", err)
	}
	equal(t, "pa after refused saves", got, &good)
	_, err = s.FindSettings(ctx, "pb")
	wantErr(t, "pb after refused saves", err, incident.ErrNotFound)
}

// ---- surveys ----

func testSurveyRoundTrip(t *testing.T, s surveys.Store) {
	ctx := context.Background()
	local := inBudapest(t)
	t.Run("an unknown ID", func(t *testing.T) {
		_, err := s.FindSurveyByID(ctx, "nope")
		wantErr(t, "FindSurveyByID", err, incident.ErrNotFound)
	})

	in := newSurvey("s1", "pa", "i1", "c1", local(at(24*time.Hour)))
	in.CreatedAt, in.UpdatedAt = local(base), local(base)
	in.Complained, in.Granted = true, true
	v1 := stored(in)
	createSurveys(t, s, 1, in)

	t.Run("times come back in UTC at millisecond precision", func(t *testing.T) {
		got := findSurvey(t, s, "s1")
		equal(t, "FindSurveyByID", got, v1)
		if got.DueAt.Location() != time.UTC || !got.DueAt.Equal(surveys.Millis(in.DueAt)) {
			t.Errorf("DueAt = %v, want %v in UTC", got.DueAt, surveys.Millis(in.DueAt))
		}
		if in.DueAt.Location() == time.UTC || in.DueAt.Equal(v1.DueAt) {
			t.Errorf("CreateSurveys changed the caller's DueAt: %v", in.DueAt)
		}
	})

	// Every field: sent, answered (changed once), won back.
	when := local(at(25 * time.Hour))
	v2 := sent(v1, when)
	v2.SentAt = ptr(local(at(25 * time.Hour)))
	saveSurvey(t, s, v2)
	equal(t, "sent", findSurvey(t, s, "s1"), stored(v2))
	v3 := answered(stored(v2), local(at(26*time.Hour)), surveys.Answer{Score: 2, Informed: surveys.InformedPartly,
		Received: surveys.ReceivedNotYet, Comment: "nem kaptam \"semmit\" <b>&</b>"})
	v4 := answered(v3, local(at(27*time.Hour)), surveys.Answer{Score: 1, Informed: surveys.InformedNo, Received: surveys.ReceivedNo,
		Comment: "még mindig semmi"})
	v4.WinBacks, v4.LastWinBack = []string{"cmp-1", "cmp-2"}, ptr(local(at(28*time.Hour)))
	saveSurvey(t, s, v3)
	saveSurvey(t, s, v4)

	t.Run("every field", func(t *testing.T) {
		got := findSurvey(t, s, "s1")
		equal(t, "FindSurveyByID", got, stored(v4))
		if got.Answer.At.Location() != time.UTC || got.AnsweredAt.Location() != time.UTC || got.LastWinBack.Location() != time.UTC {
			t.Errorf("answer times not in UTC: %v %v %v", got.Answer.At, got.AnsweredAt, got.LastWinBack)
		}
		if v4.Answer.At.Location() == time.UTC || v4.LastWinBack.Location() == time.UTC {
			t.Error("SaveSurvey changed the caller's times")
		}
	})

	t.Run("a returned survey is the caller's to change", func(t *testing.T) {
		got := findSurvey(t, s, "s1")
		got.WinBacks[0] = "changed"
		got.Answer.Score = 5
		*got.SentAt = base
		*got.LastWinBack = base
		equal(t, "FindSurveyByID after changing a returned one", findSurvey(t, s, "s1"), stored(v4))
		list, err := s.FindSurveys(ctx, "i1", "", "", 10)
		list = surveyList(t, "FindSurveys", list, err)
		list[0].WinBacks[1] = "changed"
		list[0].Answer.Comment = "changed"
		equal(t, "FindSurveys after changing a returned one", findSurvey(t, s, "s1"), stored(v4))
	})

	t.Run("the caller's survey is not kept", func(t *testing.T) {
		v4.WinBacks[0] = "changed by the caller"
		v4.Answer.Score = 5
		got := findSurvey(t, s, "s1")
		if got.WinBacks[0] != "cmp-1" || got.Answer.Score != 1 {
			t.Errorf("the store shares the saved survey's parts: %v, score %d", got.WinBacks, got.Answer.Score)
		}
	})

	t.Run("a created skipped survey with a contact's fields", func(t *testing.T) {
		v := newSurvey("s2", "pa", "i1", "", base)
		v.RecipientType, v.Key, v.Channel, v.Address, v.Segment, v.Name, v.TimeZone = queue.FromContact, "email:a@example.com",
			channel.Email, "a@example.com", "", "", ""
		v.State, v.Reason = surveys.Skipped, "recently surveyed"
		createSurveys(t, s, 1, v)
		equal(t, "FindSurveyByID", findSurvey(t, s, "s2"), v)
	})
}

func testCreateSurveysIdempotent(t *testing.T, s surveys.Store) {
	a := newSurvey("s1", "pa", "i1", "c1", at(time.Hour))
	b := newSurvey("s2", "pa", "i1", "c2", at(time.Hour))
	c := newSurvey("s3", "pa", "i1", "c3", at(2*time.Hour))
	createSurveys(t, s, 3, a, b, c)
	wantScheduled := func(t *testing.T, n int) {
		t.Helper()
		if got := tallies(t, s, "i1")[""]; got == nil || got.Scheduled != n {
			t.Errorf("Tallies(i1)[\"\"] = %+v, want %d scheduled", got, n)
		}
	}
	wantScheduled(t, 3)

	t.Run("a second call creates none", func(t *testing.T) {
		changed := newSurvey("s1", "pa", "i1", "c1", at(5*time.Hour)) // a second node's schedule
		changed.Language = "en"
		createSurveys(t, s, 0, changed, b, c)
		wantScheduled(t, 3)
		equal(t, "s1 keeps its first version", findSurvey(t, s, "s1"), a)
		if _, ok := tallies(t, s, "i1")["language:en"]; ok {
			t.Error("a survey not created moved the tally language:en")
		}
	})
	t.Run("only the new ones count", func(t *testing.T) {
		d := newSurvey("s4", "pa", "i1", "c4", at(time.Hour))
		createSurveys(t, s, 1, a, d, c)
		wantScheduled(t, 4)
	})
	t.Run("an ID given twice counts once", func(t *testing.T) {
		e := newSurvey("s5", "pa", "i1", "c5", at(time.Hour))
		createSurveys(t, s, 1, e, e, a)
		wantScheduled(t, 5)
	})
	t.Run("a saved survey is not reset", func(t *testing.T) {
		saveSurvey(t, s, sent(a, at(time.Hour)))
		createSurveys(t, s, 0, a)
		if got := findSurvey(t, s, "s1"); got.State != surveys.Sent || got.Version != 2 {
			t.Errorf("s1 = %s v%d after a repeated create, want sent v2", got.State, got.Version)
		}
		wantScheduled(t, 4)
	})
	t.Run("nothing to create", func(t *testing.T) {
		createSurveys(t, s, 0)
		createSurveys(t, s, 0, []*surveys.Survey{}...)
	})
}

func testCreateSurveysInvalid(t *testing.T, s surveys.Store) {
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		change func(v *surveys.Survey)
	}{
		{"nil", nil},
		{"no ID", func(v *surveys.Survey) { v.ID = "" }},
		{"no page", func(v *surveys.Survey) { v.PageID = "" }},
		{"no incident", func(v *surveys.Survey) { v.IncidentID = "" }},
		{"no key", func(v *surveys.Survey) { v.Key = "" }},
		{"version 2", func(v *surveys.Survey) { v.Version = 2 }},
		{"version 0", func(v *surveys.Survey) { v.Version = 0 }},
		{"sent", func(v *surveys.Survey) { v.State = surveys.Sent }},
		{"an unknown state", func(v *surveys.Survey) { v.State = "lost" }},
		{"another incident in the call", func(v *surveys.Survey) { v.IncidentID = "i2" }},
		{"another page in the call", func(v *surveys.Survey) { v.PageID = "pb" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// A good survey first: a refused call writes nothing.
			good := newSurvey("good", "pa", "i1", "c1", base)
			var bad *surveys.Survey
			if tt.change != nil {
				bad = newSurvey("bad", "pa", "i1", "c2", base)
				tt.change(bad)
			}
			n, err := s.CreateSurveys(ctx, []*surveys.Survey{good, bad})
			wantCode(t, "CreateSurveys", err, incident.EINVALID)
			if n != 0 {
				t.Errorf("CreateSurveys = %d, want 0", n)
			}
			for _, id := range []string{"good", "bad", ""} {
				if _, err := s.FindSurveyByID(ctx, id); !isNotFound(err) {
					t.Errorf("FindSurveyByID(%q) after a refused create: %v, want ENOTFOUND", id, err)
				}
			}
			for _, inc := range []string{"i1", "i2", ""} {
				equal(t, "Tallies("+inc+")", tallies(t, s, inc), map[string]*surveys.Tally{})
			}
			list, err := s.FindDueSurveys(ctx, at(time.Hour), 10)
			equal(t, "due surveys", surveyIDs(surveyList(t, "FindDueSurveys", list, err)), []string{})
			if last, err := s.LastSurveyed(ctx, "pa", "c1"); err != nil || !last.IsZero() {
				t.Errorf("LastSurveyed(pa, c1) = %v, %v; want the zero time", last, err)
			}
		})
	}
}

func testCreateSurveysPages(t *testing.T, s surveys.Store) {
	ctx := context.Background()
	a := newSurvey("s1", "pa", "i1", "c1", base)
	createSurveys(t, s, 1, a)

	t.Run("an incident's surveys are on one page", func(t *testing.T) {
		n, err := s.CreateSurveys(ctx, []*surveys.Survey{newSurvey("s2", "pb", "i1", "c1", base)})
		wantCode(t, "CreateSurveys of pa's incident on pb", err, incident.ECONFLICT)
		if n != 0 {
			t.Errorf("CreateSurveys = %d, want 0", n)
		}
		_, err = s.FindSurveyByID(ctx, "s2")
		wantErr(t, "FindSurveyByID(s2)", err, incident.ErrNotFound)
		list, err := s.FindSurveys(ctx, "i1", "", "", 10)
		equal(t, "i1's surveys", surveyIDs(surveyList(t, "FindSurveys", list, err)), []string{"s1"})
		if got := tallies(t, s, "i1")[""]; got == nil || got.Scheduled != 1 {
			t.Errorf("Tallies(i1) = %+v, want 1 scheduled", got)
		}
	})
	t.Run("an ID another page holds is not created again", func(t *testing.T) {
		createSurveys(t, s, 1, newSurvey("s1", "pb", "i2", "c1", at(time.Minute)), newSurvey("s3", "pb", "i2", "c3", at(time.Minute)))
		equal(t, "s1", findSurvey(t, s, "s1"), a)
		list, err := s.FindSurveys(ctx, "i2", "", "", 10)
		equal(t, "i2's surveys", surveyIDs(surveyList(t, "FindSurveys", list, err)), []string{"s3"})
		if got := tallies(t, s, "i2")[""]; got == nil || got.Scheduled != 1 {
			t.Errorf("Tallies(i2) = %+v, want 1 scheduled", got)
		}
		if got := tallies(t, s, "i1")[""]; got == nil || got.Scheduled != 1 {
			t.Errorf("Tallies(i1) = %+v, want 1 scheduled", got)
		}
		list, err = s.FindDueSurveys(ctx, at(time.Hour), 10)
		equal(t, "due surveys", surveyIDs(surveyList(t, "FindDueSurveys", list, err)), []string{"s1", "s3"})
	})
}

// testCreateSurveysLarge creates more surveys in one call than the
// Redis engine writes in one script, twice.
func testCreateSurveysLarge(t *testing.T, s surveys.Store) {
	const n = 2500
	ss := make([]*surveys.Survey, n)
	for i := range ss {
		ss[i] = newSurvey(fmt.Sprintf("s%05d", i), "pa", "i1", fmt.Sprintf("c%05d", i), at(time.Duration(i)*time.Second))
		if i%5 == 0 {
			ss[i].State, ss[i].Reason = surveys.Skipped, "unsubscribed"
		}
		if i%2 == 0 {
			ss[i].Language = "en"
		}
	}
	createSurveys(t, s, n, ss...)
	createSurveys(t, s, 0, ss...)
	m := tallies(t, s, "i1")
	equal(t, "all", m[""], &surveys.Tally{Scheduled: n - n/5, Skipped: n / 5})
	equal(t, "language:en", m["language:en"], &surveys.Tally{Scheduled: n/2 - n/10, Skipped: n / 10})
	list, err := s.FindSurveys(context.Background(), "i1", surveys.Skipped, "s02490", 100)
	equal(t, "skipped after s02490", surveyIDs(surveyList(t, "FindSurveys", list, err)), []string{"s02495"})
	list, err = s.FindDueSurveys(context.Background(), at(time.Hour), 3)
	equal(t, "the first due", surveyIDs(surveyList(t, "FindDueSurveys", list, err)), []string{"s00001", "s00002", "s00003"})
}

func testCreateSurveysConcurrently(t *testing.T, s surveys.Store) {
	ctx := context.Background()
	const writers, n = 4, 200
	batch := make([]*surveys.Survey, n)
	for i := range batch {
		batch[i] = newSurvey(fmt.Sprintf("s%03d", i), "pa", "i1", fmt.Sprintf("c%03d", i), base)
	}
	created := make([]int, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Two nodes schedule the same incident, in different orders.
			mine := append([]*surveys.Survey{}, batch...)
			if w%2 == 1 {
				for i, j := 0, len(mine)-1; i < j; i, j = i+1, j-1 {
					mine[i], mine[j] = mine[j], mine[i]
				}
			}
			created[w], errs[w] = s.CreateSurveys(ctx, mine)
		}()
	}
	wg.Wait()
	total := 0
	for w := range writers {
		if errs[w] != nil {
			t.Errorf("writer %d: %v", w, errs[w])
		}
		total += created[w]
	}
	if total != n {
		t.Errorf("the writers created %v, %d in all; want %d", created, total, n)
	}
	equal(t, "Tallies(i1)[\"\"]", tallies(t, s, "i1")[""], &surveys.Tally{Scheduled: n})
}

func testSaveSurveyVersions(t *testing.T, s surveys.Store) {
	ctx := context.Background()
	v1 := newSurvey("s1", "pa", "i1", "c1", base)
	createSurveys(t, s, 1, v1)
	want := v1
	wantTallies := tallies(t, s, "i1")
	// unchanged checks that a refused save wrote nothing.
	unchanged := func(t *testing.T) {
		t.Helper()
		equal(t, "survey after a refused save", findSurvey(t, s, "s1"), want)
		equal(t, "tallies after a refused save", tallies(t, s, "i1"), wantTallies)
		list, err := s.FindDueSurveys(ctx, at(time.Hour), 10)
		if want.State == surveys.Scheduled {
			equal(t, "due after a refused save", surveyIDs(surveyList(t, "FindDueSurveys", list, err)), []string{"s1"})
		}
	}
	refuse := func(t *testing.T, v *surveys.Survey, code string) {
		t.Helper()
		wantCode(t, fmt.Sprintf("SaveSurvey(%s v%d)", v.ID, v.Version), s.SaveSurvey(ctx, v), code)
		unchanged(t)
	}

	t.Run("a gap", func(t *testing.T) {
		v := answered(sent(v1, at(time.Minute)), at(time.Hour), surveys.Answer{Score: 5})
		refuse(t, v, incident.ECONFLICT) // version 3
	})
	t.Run("version 1", func(t *testing.T) {
		v := sent(v1, at(time.Minute))
		v.Version = 1
		refuse(t, v, incident.EINVALID)
	})
	t.Run("an unknown survey", func(t *testing.T) {
		refuse(t, sent(newSurvey("s9", "pa", "i1", "c9", base), at(time.Minute)), incident.ECONFLICT)
		_, err := s.FindSurveyByID(ctx, "s9")
		wantErr(t, "FindSurveyByID(s9)", err, incident.ErrNotFound)
	})
	t.Run("the survey on another page", func(t *testing.T) {
		v := sent(v1, at(time.Minute))
		v.PageID = "pb"
		refuse(t, v, incident.ECONFLICT)
	})
	t.Run("another incident", func(t *testing.T) {
		v := sent(v1, at(time.Minute))
		v.IncidentID = "i2"
		refuse(t, v, incident.EINVALID)
		equal(t, "Tallies(i2)", tallies(t, s, "i2"), map[string]*surveys.Tally{})
	})
	t.Run("invalid", func(t *testing.T) {
		v := answered(v1, at(time.Minute), surveys.Answer{Score: 6})
		refuse(t, v, incident.EINVALID)
		wantCode(t, "SaveSurvey(nil)", s.SaveSurvey(ctx, nil), incident.EINVALID)
	})

	v2 := saveSurvey(t, s, sent(v1, at(time.Minute)))
	want, wantTallies = v2, tallies(t, s, "i1")
	equal(t, "v2", findSurvey(t, s, "s1"), v2)
	t.Run("the same version again", func(t *testing.T) {
		v := sent(v1, at(2*time.Minute))
		v.Channel = channel.Email
		refuse(t, v, incident.ECONFLICT)
	})
	t.Run("a stale version", func(t *testing.T) {
		refuse(t, skipped(v1, at(time.Minute), "cancelled"), incident.ECONFLICT)
	})
	t.Run("the next version", func(t *testing.T) {
		v3 := saveSurvey(t, s, answered(v2, at(time.Hour), surveys.Answer{Score: 3}))
		equal(t, "v3", findSurvey(t, s, "s1"), v3)
		if got := tallies(t, s, "i1")[""]; got.Answered != 1 || got.Scores[3] != 1 {
			t.Errorf("Tallies(i1) = %+v, want 1 answered with 3", got)
		}
	})
}

// testSaveSurveyConcurrently races writers who all read the same
// version, over several surveys (released together, so that their reads
// and writes interleave): one writer wins each, and the tallies count
// each survey's answer once.
func testSaveSurveyConcurrently(t *testing.T, s surveys.Store) {
	ctx := context.Background()
	const rounds, writers = 10, 8
	read := make([]*surveys.Survey, rounds) // version 2, sent: what every writer read
	for r := range rounds {
		v1 := newSurvey(fmt.Sprintf("s%d", r), "pa", "i1", fmt.Sprintf("c%d", r), base)
		createSurveys(t, s, 1, v1)
		read[r] = saveSurvey(t, s, sent(v1, at(time.Minute)))
	}
	// answer is writer w's version 3 of survey r: its own score and comment.
	answer := func(r, w int) *surveys.Survey {
		return answered(read[r], at(time.Hour), surveys.Answer{Score: (r+w)%5 + 1, Comment: fmt.Sprintf("writer %d", w)})
	}
	errs := make([][writers]error, rounds)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for r := range rounds {
		for w := range writers {
			v := answer(r, w)
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[r][w] = s.SaveSurvey(ctx, v)
			}()
		}
	}
	close(start)
	wg.Wait()
	want := &surveys.Tally{Sent: rounds, Answered: rounds, Comments: rounds}
	for r := range rounds {
		winner := -1
		for w, err := range errs[r] {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("survey s%d: writers %d and %d both saved version 3", r, winner, w)
			case err == nil:
				winner = w
			default:
				wantCode(t, fmt.Sprintf("survey s%d, writer %d", r, w), err, incident.ECONFLICT)
			}
		}
		if winner < 0 {
			t.Errorf("survey s%d: no writer saved", r)
			continue
		}
		equal(t, fmt.Sprintf("s%d", r), findSurvey(t, s, fmt.Sprintf("s%d", r)), answer(r, winner))
		want.Scores[(r+winner)%5+1]++
	}
	for _, key := range []string{"", "channel:sms", "language:hu", "segment:gold"} {
		equal(t, "Tallies(i1)["+key+"]", tallies(t, s, "i1")[key], want)
	}
}

// testSurveyTallies runs surveys of one incident through their lives and
// compares the tallies with counts made by hand.
//
//	survey channel language segment  life
//	a      sms     hu       gold     scheduled, sent, answered 4 (informed yes, a comment), changed to 2
//	b      email   en       gold     scheduled, sent, answered 5 (informed no, received yes), changed to informed partly
//	c      sms     en       -        scheduled, skipped
//	d      sms     hu       silver   created skipped
//	e      email   hu       -        scheduled
//	f      sms     en       -        scheduled, sent, expired
func testSurveyTallies(t *testing.T, s surveys.Store) {
	mk := func(id string, kind channel.Kind, lang, segment string) *surveys.Survey {
		v := newSurvey(id, "pa", "i1", "c-"+id, at(time.Hour))
		v.Channel, v.Language, v.Segment = kind, lang, segment
		return v
	}
	a, b, c := mk("a", channel.SMS, "hu", "gold"), mk("b", channel.Email, "en", "gold"), mk("c", channel.SMS, "en", "")
	d, e, f := mk("d", channel.SMS, "hu", "silver"), mk("e", channel.Email, "hu", ""), mk("f", channel.SMS, "en", "")
	d.State, d.Reason = surveys.Skipped, "unsubscribed"
	createSurveys(t, s, 6, a, b, c, d, e, f)
	createSurveys(t, s, 1, newSurvey("x", "pa", "i2", "c-x", base)) // another incident

	t.Run("created", func(t *testing.T) {
		equal(t, "Tallies(i1)", tallies(t, s, "i1"), map[string]*surveys.Tally{
			"":               {Scheduled: 5, Skipped: 1},
			"channel:sms":    {Scheduled: 3, Skipped: 1},
			"channel:email":  {Scheduled: 2},
			"language:hu":    {Scheduled: 2, Skipped: 1},
			"language:en":    {Scheduled: 3},
			"segment:gold":   {Scheduled: 2},
			"segment:silver": {Skipped: 1},
		})
	})

	a2 := saveSurvey(t, s, sent(a, at(2*time.Hour)))
	b2 := saveSurvey(t, s, sent(b, at(2*time.Hour)))
	f2 := saveSurvey(t, s, sent(f, at(2*time.Hour)))
	a3 := saveSurvey(t, s, answered(a2, at(3*time.Hour), surveys.Answer{Score: 4, Informed: surveys.InformedYes, Comment: "ok"}))
	b3 := saveSurvey(t, s, answered(b2, at(3*time.Hour), surveys.Answer{Score: 5, Informed: surveys.InformedNo, Received: surveys.ReceivedYes}))
	saveSurvey(t, s, skipped(c, at(2*time.Hour), "cancelled"))

	t.Run("answered", func(t *testing.T) {
		equal(t, "Tallies(i1)", tallies(t, s, "i1"), map[string]*surveys.Tally{
			"": {Scheduled: 1, Sent: 3, Answered: 2, Skipped: 2, Scores: [6]int{4: 1, 5: 1},
				Informed: map[string]int{"yes": 1, "no": 1}, Received: map[string]int{"yes": 1}, Comments: 1},
			"channel:sms":    {Sent: 2, Answered: 1, Skipped: 2, Scores: [6]int{4: 1}, Informed: map[string]int{"yes": 1}, Comments: 1},
			"channel:email":  {Scheduled: 1, Sent: 1, Answered: 1, Scores: [6]int{5: 1}, Informed: map[string]int{"no": 1}, Received: map[string]int{"yes": 1}},
			"language:hu":    {Scheduled: 1, Sent: 1, Answered: 1, Skipped: 1, Scores: [6]int{4: 1}, Informed: map[string]int{"yes": 1}, Comments: 1},
			"language:en":    {Sent: 2, Answered: 1, Skipped: 1, Scores: [6]int{5: 1}, Informed: map[string]int{"no": 1}, Received: map[string]int{"yes": 1}},
			"segment:gold":   {Sent: 2, Answered: 2, Scores: [6]int{4: 1, 5: 1}, Informed: map[string]int{"yes": 1, "no": 1}, Received: map[string]int{"yes": 1}, Comments: 1},
			"segment:silver": {Skipped: 1},
		})
	})

	saveSurvey(t, s, answered(a3, at(4*time.Hour), surveys.Answer{Score: 2, Informed: surveys.InformedYes, Comment: "ok after all"}))
	saveSurvey(t, s, answered(b3, at(4*time.Hour), surveys.Answer{Score: 5, Informed: surveys.InformedPartly, Received: surveys.ReceivedYes}))
	f3 := next(f2, at(20*24*time.Hour))
	f3.State = surveys.Expired
	saveSurvey(t, s, f3)

	t.Run("changed answers, an expired survey", func(t *testing.T) {
		equal(t, "Tallies(i1)", tallies(t, s, "i1"), map[string]*surveys.Tally{
			"": {Scheduled: 1, Sent: 3, Answered: 2, Skipped: 2, Scores: [6]int{2: 1, 5: 1},
				Informed: map[string]int{"yes": 1, "partly": 1}, Received: map[string]int{"yes": 1}, Comments: 1},
			"channel:sms":    {Sent: 2, Answered: 1, Skipped: 2, Scores: [6]int{2: 1}, Informed: map[string]int{"yes": 1}, Comments: 1},
			"channel:email":  {Scheduled: 1, Sent: 1, Answered: 1, Scores: [6]int{5: 1}, Informed: map[string]int{"partly": 1}, Received: map[string]int{"yes": 1}},
			"language:hu":    {Scheduled: 1, Sent: 1, Answered: 1, Skipped: 1, Scores: [6]int{2: 1}, Informed: map[string]int{"yes": 1}, Comments: 1},
			"language:en":    {Sent: 2, Answered: 1, Skipped: 1, Scores: [6]int{5: 1}, Informed: map[string]int{"partly": 1}, Received: map[string]int{"yes": 1}},
			"segment:gold":   {Sent: 2, Answered: 2, Scores: [6]int{2: 1, 5: 1}, Informed: map[string]int{"yes": 1, "partly": 1}, Received: map[string]int{"yes": 1}, Comments: 1},
			"segment:silver": {Skipped: 1},
		})
	})
	t.Run("other incidents", func(t *testing.T) {
		equal(t, "Tallies(i2)", tallies(t, s, "i2"), map[string]*surveys.Tally{
			"": {Scheduled: 1}, "channel:sms": {Scheduled: 1}, "language:hu": {Scheduled: 1}, "segment:gold": {Scheduled: 1}})
		equal(t, "Tallies(i9)", tallies(t, s, "i9"), map[string]*surveys.Tally{})
	})
	t.Run("a returned tally is the caller's", func(t *testing.T) {
		m := tallies(t, s, "i1")
		m[""].Informed["yes"] = 99
		m[""].Sent = 99
		if got := tallies(t, s, "i1")[""]; got.Informed["yes"] != 1 || got.Sent != 3 {
			t.Errorf("Tallies after changing a returned one: %+v", got)
		}
	})
}

func testFindDueSurveys(t *testing.T, s surveys.Store) {
	ctx := context.Background()
	due := func(t *testing.T, now time.Time, limit int) []string {
		t.Helper()
		list, err := s.FindDueSurveys(ctx, now, limit)
		return surveyIDs(surveyList(t, fmt.Sprintf("FindDueSurveys(%v, %d)", now, limit), list, err))
	}
	t.Run("none", func(t *testing.T) { equal(t, "due", due(t, at(time.Hour), 10), []string{}) })

	// Created out of order, on two pages:
	//
	//	id  page due
	//	s1  pa   1m
	//	t1  pb   1m30s
	//	r2  pb   2m
	//	s2  pa   2m
	//	s2b pb   2m
	//	s3  pa   2m
	//	s4  pa   3m
	//	k1  pa   0   (skipped)
	//	k2  pb   0   (sent)
	k1 := newSurvey("k1", "pa", "i1", "ck", base)
	k1.State, k1.Reason = surveys.Skipped, "unsubscribed"
	createSurveys(t, s, 5, newSurvey("s3", "pa", "i1", "c3", at(2*time.Minute)), newSurvey("s4", "pa", "i1", "c4", at(3*time.Minute)),
		newSurvey("s1", "pa", "i1", "c1", at(time.Minute)), k1, newSurvey("s2", "pa", "i1", "c2", at(2*time.Minute)))
	k2 := newSurvey("k2", "pb", "ib", "ck", base)
	createSurveys(t, s, 4, newSurvey("s2b", "pb", "ib", "c2", at(2*time.Minute)), k2,
		newSurvey("t1", "pb", "ib", "c1", at(90*time.Second)), newSurvey("r2", "pb", "ib", "c3", at(2*time.Minute)))
	saveSurvey(t, s, sent(k2, at(time.Minute)))

	for _, tt := range []struct {
		name  string
		now   time.Time
		limit int
		want  []string
	}{
		{"earliest first, ties by ID, across pages", at(time.Hour), 10, []string{"s1", "t1", "r2", "s2", "s2b", "s3", "s4"}},
		{"due at now is due", at(2 * time.Minute), 10, []string{"s1", "t1", "r2", "s2", "s2b", "s3"}},
		{"a millisecond before", at(2*time.Minute - time.Millisecond), 10, []string{"s1", "t1"}},
		{"a limit", at(time.Hour), 3, []string{"s1", "t1", "r2"}},
		{"a limit within a tie", at(time.Hour), 4, []string{"s1", "t1", "r2", "s2"}},
		{"a limit within a tie, across pages", at(time.Hour), 5, []string{"s1", "t1", "r2", "s2", "s2b"}},
		{"a limit of 1", at(time.Hour), 1, []string{"s1"}},
		{"a limit of 0", at(time.Hour), 0, []string{}},
		{"nothing due yet", at(time.Minute - time.Millisecond), 10, []string{}},
		{"now in another zone", at(2 * time.Minute).In(time.FixedZone("X", -5*3600)), 10, []string{"s1", "t1", "r2", "s2", "s2b", "s3"}},
	} {
		t.Run(tt.name, func(t *testing.T) { equal(t, "due", due(t, tt.now, tt.limit), tt.want) })
	}

	t.Run("whole surveys", func(t *testing.T) {
		list, err := s.FindDueSurveys(ctx, at(time.Minute), 1)
		equal(t, "s1", surveyList(t, "FindDueSurveys", list, err), []*surveys.Survey{newSurvey("s1", "pa", "i1", "c1", at(time.Minute))})
	})

	t.Run("saves move surveys in and out", func(t *testing.T) {
		saveSurvey(t, s, sent(newSurvey("s1", "pa", "i1", "c1", at(time.Minute)), at(time.Minute)))
		saveSurvey(t, s, skipped(newSurvey("s2b", "pb", "ib", "c2", at(2*time.Minute)), at(time.Minute), "cancelled"))
		later := next(newSurvey("s2", "pa", "i1", "c2", at(2*time.Minute)), at(time.Minute))
		later.DueAt = at(time.Hour)
		saveSurvey(t, s, later)
		again := next(k1, at(time.Minute))
		again.State, again.Reason, again.DueAt = surveys.Scheduled, "", at(150*time.Second)
		saveSurvey(t, s, again)
		equal(t, "due", due(t, at(time.Hour), 10), []string{"t1", "r2", "s3", "k1", "s4", "s2"})
		equal(t, "due at 2m30s", due(t, at(150*time.Second), 10), []string{"t1", "r2", "s3", "k1"})
	})
}

func testFindSurveysByAddress(t *testing.T, s surveys.Store) {
	ctx := context.Background()
	const addr = "+36201234567"
	// mk creates a survey to addr by kind on a page and, when sentAt is
	// not negative, saves it sent at sentAt.
	var all []*surveys.Survey
	mk := func(id, pageID, incidentID string, kind channel.Kind, sentAt time.Duration) {
		v := newSurvey(id, pageID, incidentID, "c-"+id, base)
		v.Channel, v.Address = kind, addr
		createSurveys(t, s, 1, v)
		if sentAt >= 0 {
			v = saveSurvey(t, s, sent(v, at(sentAt)))
		}
		all = append(all, v)
	}
	mk("u3", "pa", "i3", channel.SMS, 2*time.Minute)
	mk("u1", "pa", "i1", channel.SMS, time.Minute)
	mk("u4", "pa", "i4", channel.SMS, 2*time.Minute)
	mk("u2", "pa", "i2", channel.SMS, 3*time.Minute)
	mk("u5", "pa", "i5", channel.SMS, -1) // not sent
	mk("e1", "pa", "i6", channel.Email, 5*time.Minute)
	mk("w1", "pb", "ib", channel.SMS, 5*time.Minute)

	find := func(t *testing.T, pageID string, kind channel.Kind, address string, limit int) []*surveys.Survey {
		t.Helper()
		list, err := s.FindSurveysByAddress(ctx, pageID, kind, address, limit)
		return surveyList(t, "FindSurveysByAddress", list, err)
	}
	for _, tt := range []struct {
		name    string
		page    string
		kind    channel.Kind
		address string
		limit   int
		want    []string
	}{
		{"newest sent first, ties by ID descending", "pa", channel.SMS, addr, 10, []string{"u2", "u4", "u3", "u1"}},
		{"a limit", "pa", channel.SMS, addr, 2, []string{"u2", "u4"}},
		{"a limit of 0", "pa", channel.SMS, addr, 0, []string{}},
		{"another channel", "pa", channel.Email, addr, 10, []string{"e1"}},
		{"another page", "pb", channel.SMS, addr, 10, []string{"w1"}},
		{"a page without surveys", "pc", channel.SMS, addr, 10, []string{}},
		{"another address", "pa", channel.SMS, "+36201234568", 10, []string{}},
		{"a prefix of the address", "pa", channel.SMS, "+3620123456", 10, []string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			equal(t, "IDs", surveyIDs(find(t, tt.page, tt.kind, tt.address, tt.limit)), tt.want)
		})
	}
	t.Run("whole surveys", func(t *testing.T) {
		equal(t, "u2", find(t, "pa", channel.SMS, addr, 1), []*surveys.Survey{all[3]})
	})
	t.Run("an answer keeps its place; a new address moves it", func(t *testing.T) {
		saveSurvey(t, s, answered(all[1], at(time.Hour), surveys.Answer{Score: 5}))
		moved := next(all[0], at(time.Hour))
		moved.Address = "+36209999999"
		saveSurvey(t, s, moved)
		equal(t, "IDs", surveyIDs(find(t, "pa", channel.SMS, addr, 10)), []string{"u2", "u4", "u1"})
		equal(t, "IDs", surveyIDs(find(t, "pa", channel.SMS, "+36209999999", 10)), []string{"u3"})
	})
}

func testLastSurveyed(t *testing.T, s surveys.Store) {
	ctx := context.Background()
	last := func(t *testing.T, pageID, key string) time.Time {
		t.Helper()
		v, err := s.LastSurveyed(ctx, pageID, key)
		if err != nil {
			t.Fatalf("LastSurveyed(%s, %s): %v", pageID, key, err)
		}
		return v
	}
	wantLast := func(t *testing.T, pageID, key string, want time.Time) {
		t.Helper()
		got := last(t, pageID, key)
		if !got.Equal(want) || (!want.IsZero() && got.Location() != time.UTC) {
			t.Errorf("LastSurveyed(%s, %s) = %v, want %v in UTC", pageID, key, got, want)
		}
		// The batched read says the same.
		m, err := s.LastSurveyedKeys(ctx, pageID, []string{key, "never-" + key})
		if err != nil {
			t.Fatalf("LastSurveyedKeys(%s, %s): %v", pageID, key, err)
		}
		got, ok := m[key]
		if ok == want.IsZero() || !got.Equal(want) || (ok && got.Location() != time.UTC) || len(m) > 1 {
			t.Errorf("LastSurveyedKeys(%s, [%s never-%[2]s]) = %v, want %v in UTC", pageID, key, m, want)
		}
	}
	t.Run("never surveyed", func(t *testing.T) { wantLast(t, "pa", "k1", time.Time{}) })

	local := inBudapest(t)
	a := newSurvey("a", "pa", "i1", "k1", local(at(time.Hour)))
	b := newSurvey("b", "pa", "i1", "k1", at(5*time.Hour)) // skipped
	b.State, b.Reason = surveys.Skipped, "recently surveyed"
	c := newSurvey("c", "pb", "i2", "k1", at(9*time.Hour)) // another page
	d := newSurvey("d", "pa", "i1", "k2", at(7*time.Hour)) // another key
	createSurveys(t, s, 3, a, b, d)
	createSurveys(t, s, 1, c)

	t.Run("the latest not skipped, of the page and key", func(t *testing.T) {
		wantLast(t, "pa", "k1", surveys.Millis(a.DueAt))
		wantLast(t, "pa", "k2", at(7*time.Hour))
		wantLast(t, "pb", "k1", at(9*time.Hour))
		wantLast(t, "pc", "k1", time.Time{})
		wantLast(t, "pa", "k3", time.Time{})
	})
	t.Run("the address counts too", func(t *testing.T) {
		// surveys.Survey.LastKeys: the same phone under another key (a
		// customer who is also a subscriber) is the same person.
		wantLast(t, "pa", surveys.AddressKey(channel.SMS, a.Address), surveys.Millis(a.DueAt))
		wantLast(t, "pa", surveys.AddressKey(channel.SMS, d.Address), at(7*time.Hour))
		wantLast(t, "pb", surveys.AddressKey(channel.SMS, c.Address), at(9*time.Hour))
		wantLast(t, "pc", surveys.AddressKey(channel.SMS, c.Address), time.Time{})
		sub := newSurvey("sub", "pa", "i4", "subscriber:s1", at(10*time.Hour))
		sub.RecipientType, sub.Address = queue.FromSubscriber, d.Address
		createSurveys(t, s, 1, sub)
		wantLast(t, "pa", surveys.AddressKey(channel.SMS, d.Address), at(10*time.Hour))
		wantLast(t, "pa", "k2", at(7*time.Hour))
		wantLast(t, "pa", "subscriber:s1", at(10*time.Hour))
	})
	t.Run("an earlier survey does not move it back", func(t *testing.T) {
		createSurveys(t, s, 1, newSurvey("e", "pa", "i3", "k1", at(30*time.Minute)))
		wantLast(t, "pa", "k1", surveys.Millis(a.DueAt))
	})
	t.Run("saves", func(t *testing.T) {
		a2 := saveSurvey(t, s, skipped(stored(a), at(time.Hour), "cancelled")) // it was scheduled: still counts
		wantLast(t, "pa", "k1", surveys.Millis(a.DueAt))
		later := next(b, at(time.Hour))
		later.State, later.Reason, later.DueAt = surveys.Scheduled, "", at(6*time.Hour)
		saveSurvey(t, s, later)
		wantLast(t, "pa", "k1", at(6*time.Hour))
		a3 := next(a2, at(2*time.Hour))
		a3.State, a3.DueAt = surveys.Scheduled, at(8*time.Hour)
		saveSurvey(t, s, a3)
		wantLast(t, "pa", "k1", at(8*time.Hour))
		wantLast(t, "pa", surveys.AddressKey(channel.SMS, a.Address), at(8*time.Hour))
		earlier := next(later, at(2*time.Hour))
		earlier.DueAt = at(2 * time.Hour)
		saveSurvey(t, s, earlier)
		wantLast(t, "pa", "k1", at(8*time.Hour))
		skippedLater := skipped(a3, at(3*time.Hour), "cancelled")
		skippedLater.DueAt = at(20 * time.Hour)
		saveSurvey(t, s, skippedLater)
		wantLast(t, "pa", "k1", at(8*time.Hour))
		wantLast(t, "pb", "k1", at(9*time.Hour))
	})
	t.Run("sent before it was due: the send time", func(t *testing.T) {
		// surveys send: a survey due tomorrow goes now, and the key was
		// surveyed now, not tomorrow.
		f := newSurvey("f", "pa", "i5", "k5", at(30*time.Hour))
		createSurveys(t, s, 1, f)
		wantLast(t, "pa", "k5", at(30*time.Hour))
		early := sent(stored(f), at(3*time.Hour))
		early.DueAt = at(3 * time.Hour) // as surveys.Service.SendNow moves it
		saveSurvey(t, s, early)
		wantLast(t, "pa", "k5", at(3*time.Hour))
		wantLast(t, "pa", surveys.AddressKey(channel.SMS, f.Address), at(3*time.Hour))
		// Sent after it was due: the send time too.
		g := newSurvey("g", "pa", "i6", "k6", at(2*time.Hour))
		createSurveys(t, s, 1, g)
		saveSurvey(t, s, sent(stored(g), at(4*time.Hour)))
		wantLast(t, "pa", "k6", at(4*time.Hour))
		// Another survey's later time is never moved back.
		h := newSurvey("h", "pa", "i7", "k7", at(40*time.Hour))
		k := newSurvey("k", "pa", "i8", "k7", at(30*time.Hour))
		k.Address = "+3620k7b"
		createSurveys(t, s, 1, h)
		createSurveys(t, s, 1, k)
		saveSurvey(t, s, sent(stored(k), at(3*time.Hour)))
		wantLast(t, "pa", "k7", at(40*time.Hour))
		wantLast(t, "pa", surveys.AddressKey(channel.SMS, k.Address), at(3*time.Hour))
	})
}

// testLastSurveyedKeys: LastSurveyedKeys answers for more keys than one
// batch, leaving out those never surveyed and those of another page.
func testLastSurveyedKeys(t *testing.T, s surveys.Store) {
	ctx := context.Background()
	var ss []*surveys.Survey
	var keys []string
	for i := range 2500 {
		key := fmt.Sprintf("customer:c%05d", i)
		keys = append(keys, key)
		if i%2 == 0 {
			ss = append(ss, newSurvey(fmt.Sprintf("s%05d", i), "pa", "i1", key, at(time.Duration(i)*time.Minute)))
		}
	}
	createSurveys(t, s, len(ss), ss...)
	createSurveys(t, s, 1, newSurvey("other", "pb", "i2", "customer:c00001", at(time.Hour)))
	got, err := s.LastSurveyedKeys(ctx, "pa", keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ss) {
		t.Fatalf("%d keys surveyed, want %d", len(got), len(ss))
	}
	for _, sv := range ss {
		if v := got[sv.Key]; !v.Equal(surveys.Millis(sv.DueAt)) {
			t.Fatalf("%s: %v, want %v", sv.Key, v, sv.DueAt)
		}
	}
	if got, err := s.LastSurveyedKeys(ctx, "pa", nil); err != nil || len(got) != 0 {
		t.Errorf("no keys: %v, %v", got, err)
	}
}

func testFindSurveys(t *testing.T, s surveys.Store) {
	ctx := context.Background()
	find := func(t *testing.T, incidentID string, state surveys.State, after string, limit int) []string {
		t.Helper()
		list, err := s.FindSurveys(ctx, incidentID, state, after, limit)
		return surveyIDs(surveyList(t, fmt.Sprintf("FindSurveys(%s, %q, %q, %d)", incidentID, state, after, limit), list, err))
	}
	t.Run("none", func(t *testing.T) { equal(t, "IDs", find(t, "i1", "", "", 10), []string{}) })

	// Created out of ID order; s2 and s5 skipped, s3 then sent, s6 answered.
	var ss []*surveys.Survey
	for _, id := range []string{"s4", "s2", "s7", "s1", "s6", "s3", "s5"} {
		v := newSurvey(id, "pa", "i1", "c-"+id, base)
		if id == "s2" || id == "s5" {
			v.State = surveys.Skipped
		}
		ss = append(ss, v)
	}
	createSurveys(t, s, 7, ss...)
	createSurveys(t, s, 2, newSurvey("s0", "pa", "i2", "c1", base), newSurvey("s8", "pa", "i2", "c2", base))
	createSurveys(t, s, 1, newSurvey("s9", "pb", "ib", "c1", base))
	saveSurvey(t, s, sent(ss[5], at(time.Minute)))
	s6 := saveSurvey(t, s, sent(ss[4], at(time.Minute)))
	saveSurvey(t, s, answered(s6, at(time.Hour), surveys.Answer{Score: 4}))

	for _, tt := range []struct {
		name  string
		state surveys.State
		after string
		limit int
		want  []string
	}{
		{"every state, by ID", "", "", 10, []string{"s1", "s2", "s3", "s4", "s5", "s6", "s7"}},
		{"the first page", "", "", 3, []string{"s1", "s2", "s3"}},
		{"the second page", "", "s3", 3, []string{"s4", "s5", "s6"}},
		{"the last page", "", "s6", 3, []string{"s7"}},
		{"after the last", "", "s7", 3, []string{}},
		{"a cursor between IDs", "", "s35", 2, []string{"s4", "s5"}},
		{"a cursor before every ID", "", "a", 2, []string{"s1", "s2"}},
		{"scheduled", surveys.Scheduled, "", 10, []string{"s1", "s4", "s7"}},
		{"scheduled, paged", surveys.Scheduled, "s1", 1, []string{"s4"}},
		{"skipped", surveys.Skipped, "", 10, []string{"s2", "s5"}},
		{"sent", surveys.Sent, "", 10, []string{"s3"}},
		{"answered", surveys.Answered, "", 10, []string{"s6"}},
		{"expired", surveys.Expired, "", 10, []string{}},
		{"a limit of 0", "", "", 0, []string{}},
	} {
		t.Run(tt.name, func(t *testing.T) { equal(t, "IDs", find(t, "i1", tt.state, tt.after, tt.limit), tt.want) })
	}
	t.Run("an unknown state", func(t *testing.T) {
		_, err := s.FindSurveys(ctx, "i1", "lost", "", 10)
		wantCode(t, "FindSurveys", err, incident.EINVALID)
	})
	t.Run("other incidents", func(t *testing.T) {
		equal(t, "i2", find(t, "i2", "", "", 10), []string{"s0", "s8"})
		equal(t, "ib", find(t, "ib", "", "", 10), []string{"s9"})
		equal(t, "i9", find(t, "i9", "", "", 10), []string{})
	})
	t.Run("whole surveys", func(t *testing.T) {
		list, err := s.FindSurveys(ctx, "i1", surveys.Scheduled, "", 1)
		equal(t, "s1", surveyList(t, "FindSurveys", list, err), []*surveys.Survey{ss[3]})
	})
	t.Run("a save moves a survey between states", func(t *testing.T) {
		saveSurvey(t, s, sent(ss[3], at(time.Minute)))
		equal(t, "scheduled", find(t, "i1", surveys.Scheduled, "", 10), []string{"s4", "s7"})
		equal(t, "sent", find(t, "i1", surveys.Sent, "", 10), []string{"s1", "s3"})
		equal(t, "answered", find(t, "i1", surveys.Answered, "", 10), []string{"s6"})
		equal(t, "every state", find(t, "i1", "", "", 10), []string{"s1", "s2", "s3", "s4", "s5", "s6", "s7"})
	})
}
