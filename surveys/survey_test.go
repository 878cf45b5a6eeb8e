package surveys

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
)

func TestDueAt(t *testing.T) {
	bud, err := time.LoadLocation("Europe/Budapest")
	if err != nil {
		t.Fatal(err)
	}
	st := DefaultSettings("p")
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name     string
		resolved string
		loc      *time.Location
		change   func(*Settings)
		want     string
	}{
		{"a day later, in daytime", "2026-12-01T10:00:00Z", time.UTC, nil, "2026-12-02T10:00:00Z"},
		{"before 09:00 local waits for nine", "2026-12-01T05:30:00Z", bud, nil, "2026-12-02T08:00:00Z"}, // 06:30 CET → 09:00 CET
		{"after 20:00 local goes next morning", "2026-12-01T19:30:00Z", bud, nil, "2026-12-03T08:00:00Z"},
		{"Saturday moves to Monday", "2026-12-04T12:00:00Z", time.UTC, nil, "2026-12-07T09:00:00Z"},
		{"weekends allowed", "2026-12-04T12:00:00Z", time.UTC, func(s *Settings) { s.Weekends = true }, "2026-12-05T12:00:00Z"},
		{"no delay, evening", "2026-12-01T21:00:00Z", time.UTC, func(s *Settings) { s.Delay = 0 }, "2026-12-02T09:00:00Z"},
		{"summer time", "2026-07-01T04:00:00Z", bud, nil, "2026-07-02T07:00:00Z"}, // 06:00 CEST → 09:00 CEST
		{"a wide window", "2026-12-01T02:00:00Z", time.UTC, func(s *Settings) { s.DayStart, s.DayEnd, s.Delay = 0, 24*60, 0 }, "2026-12-01T02:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := st
			if tc.change != nil {
				tc.change(&s)
			}
			if got := DueAt(utc(tc.resolved), tc.loc, s); !got.Equal(utc(tc.want)) {
				t.Errorf("DueAt = %s, want %s", got.Format(time.RFC3339), tc.want)
			}
		})
	}
}

func TestSampled(t *testing.T) {
	in := 0
	for i := range 10000 {
		key := "customer:" + string(rune('a'+i%26)) + strings.Repeat("x", i%7) + string(rune('0'+i%10)) + string(rune(i))
		if Sampled("inc1", key, 20) {
			in++
		}
		first := Sampled("inc1", key, 20)
		if again := Sampled("inc1", key, 20); again != first {
			t.Fatal("the sample is not stable")
		}
	}
	if in < 1700 || in > 2300 {
		t.Errorf("20 %% of 10000 sampled %d", in)
	}
	if !Sampled("i", "k", 100) || Sampled("i", "k", 0) {
		t.Error("the bounds")
	}
}

func TestLinkTokens(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	tok := Sign(key, "s1", now.Add(time.Hour))
	if id, err := Verify(key, tok, now); err != nil || id != "s1" {
		t.Fatalf("Verify = %q %v", id, err)
	}
	bad := []struct{ name, tok string }{
		{"expired", Sign(key, "s1", now)},
		{"other key", Sign([]byte("another key of thirty-two bytes!"), "s1", now.Add(time.Hour))},
		{"cut short", tok[:len(tok)-3]},
		{"no signature", strings.Split(tok, ".")[0]},
		{"another survey's body", Sign(key, "s2", now.Add(time.Hour))[:strings.Index(tok, ".")] + tok[strings.Index(tok, "."):]},
		{"garbage", "%%%.%%%"},
		{"empty", ""},
	}
	for _, b := range bad {
		if id, err := Verify(key, b.tok, now); err != ErrLink || id != "" {
			t.Errorf("%s: Verify = %q %v, want ErrLink", b.name, id, err)
		}
	}
}

func TestParseDigit(t *testing.T) {
	tests := []struct {
		in      string
		score   int
		comment string
		ok      bool
	}{
		{"4", 4, "", true},
		{" 5 ", 5, "", true},
		{"2 too slow to tell us", 2, "too slow to tell us", true},
		{"1. nobody answered", 1, "nobody answered", true},
		{"3, ok", 3, "ok", true},
		{"5!", 5, "", true},
		{"0", 0, "", false},
		{"6", 0, "", false},
		{"45", 0, "", false},
		{"STOP", 0, "", false},
		{"my order 5 is late", 0, "", false},
		{"", 0, "", false},
	}
	for _, tc := range tests {
		score, comment, ok := ParseDigit(tc.in)
		if score != tc.score || comment != tc.comment || ok != tc.ok {
			t.Errorf("ParseDigit(%q) = %d %q %v, want %d %q %v", tc.in, score, comment, ok, tc.score, tc.comment, tc.ok)
		}
	}
}

func TestParseAnswer(t *testing.T) {
	tests := []struct {
		in      string
		score   int
		comment string
		kind    ReplyKind
	}{
		{"4", 4, "", Scored},
		{"5 - wszystko w porządku, dziękuję", 5, "wszystko w porządku, dziękuję", Scored},
		{"3 — meh", 3, "meh", Scored},
		{"10/10", 5, "", Scored},
		{"9/10", 5, "", Scored},
		{"8 / 10 ok", 4, "ok", Scored},
		{"6/10", 3, "", Scored},
		{"5 of 10", 3, "", Scored},
		{"1/10", 1, "", Scored},
		{"0/10", 1, "", Scored},
		{"4/5", 4, "", Scored},
		{"4 z 5", 4, "", Scored},
		{"3 od 5", 3, "", Scored},
		{"5 stars", 5, "", Scored},
		{"1 star. never again", 1, "never again", Scored},
		{"4 csillag", 4, "", Scored},
		{"5 gwiazdek", 5, "", Scored},
		{"3 zvjezdice", 3, "", Scored},
		{"👍", 5, "", Scored},
		{"👍🏻👍", 5, "", Scored},
		{"👎", 1, "", Scored},
		{"👎 slow", 1, "slow", Scored},
		{"⭐⭐⭐⭐", 4, "", Scored},
		{"★★", 2, "", Scored},
		{"nem", 0, "", Unclear},
		{"No.", 0, "", Unclear},
		{"tak", 0, "", Unclear},
		{"Da!", 0, "", Unclear},
		{"10", 0, "", Unclear},
		{"0", 0, "", Unclear},
		{"45", 0, "", Unclear},
		{"7/5", 0, "", Unclear},
		{"11/10", 0, "", Unclear},
		{"6 stars", 0, "", Unclear},
		{"🙂", 0, "", Unclear},
		{"👍👎", 0, "", Unclear},
		{"2 na 3 dni nie działało", 2, "na 3 dni nie działało", Scored},
		// Numbers written out, alone or with a scale (en, hu, pl, hr).
		{"kilenc", 0, "", Unclear},
		{"Tíz!", 0, "", Unclear},
		{"öt", 5, "", Scored},
		{"Négy.", 4, "", Scored},
		{"negy", 4, "", Scored},
		{"Három, lassú volt", 3, "lassú volt", Scored},
		{"kilenc a tízből", 5, "", Scored},
		{"Kilenc a tízből, köszönöm", 5, "köszönöm", Scored},
		{"hét a tízből", 4, "", Scored},
		{"négy az ötből", 4, "", Scored},
		{"9 a 10-ből", 5, "", Scored},
		{"4 az 5-ből jó", 4, "jó", Scored},
		{"öt csillag", 5, "", Scored},
		{"nine out of ten", 5, "", Scored},
		{"Nine out of 10 - good job", 5, "good job", Scored},
		{"two of five", 2, "", Scored},
		{"Four", 4, "", Scored},
		{"ten", 0, "", Unclear},
		{"cztery z pięciu", 4, "", Scored},
		{"dziewięć na dziesięć", 5, "", Scored},
		{"4 z pięciu", 4, "", Scored},
		{"pięć gwiazdek", 5, "", Scored},
		{"jedna", 1, "", Scored},
		{"dziesięć", 0, "", Unclear},
		{"četiri od pet", 4, "", Scored},
		{"osam od deset", 4, "", Scored},
		{"dvije", 2, "", Scored},
		{"devet", 0, "", Unclear},
		{"sedam od pet", 0, "", Unclear},
		{"one of your drivers was rude", 0, "", NotAnAnswer},
		{"egy hete nem működik", 0, "", NotAnAnswer},
		{"jeden z kierowców był niemiły", 0, "", NotAnAnswer},
		{"tri dana ne radi", 0, "", NotAnAnswer},
		{"STOP", 0, "", NotAnAnswer},
		{"my order 5 is late", 0, "", NotAnAnswer},
		{"nem működik a fizetés", 0, "", NotAnAnswer},
		{"", 0, "", NotAnAnswer},
	}
	for _, tc := range tests {
		score, comment, kind := ParseAnswer(tc.in)
		if score != tc.score || comment != tc.comment || kind != tc.kind {
			t.Errorf("ParseAnswer(%q) = %d %q %v, want %d %q %v", tc.in, score, comment, kind, tc.score, tc.comment, tc.kind)
		}
	}
}

func TestTalliesAndSummary(t *testing.T) {
	sv := func(state State, score int, comment string) *Survey {
		s := &Survey{ID: "s", PageID: "p", IncidentID: "i", Key: "k", Channel: channel.SMS, Language: "hu", Segment: "gold", State: state}
		if score > 0 {
			s.Answer = &Answer{Score: score, Comment: comment, Informed: InformedPartly}
		}
		return s
	}
	// A survey's life: scheduled, sent, answered 4 with a comment, changed
	// to 2 without one.
	steps := []*Survey{sv(Scheduled, 0, ""), sv(Sent, 0, ""), sv(Answered, 4, "fine"), sv(Answered, 2, "")}
	got := map[string]*Tally{}
	var prev *Survey
	for _, s := range steps {
		for _, ch := range TallyChanges(prev, s) {
			if got[ch.Key] == nil {
				got[ch.Key] = &Tally{}
			}
			got[ch.Key].Apply(ch.Field, ch.Delta)
		}
		prev = s
	}
	if len(got) != 4 {
		t.Fatalf("tallies %v", got)
	}
	for _, key := range []string{"", "channel:sms", "language:hu", "segment:gold"} {
		sum := Summarize(got[key])
		one, none, two := 1.0, 0.0, 2.0
		want := Summary{Sent: 1, Answered: 1, Scored: 1, ResponseRate: &one, CSAT: &none, Average: &two, Scores: map[string]int{"1": 0, "2": 1, "3": 0, "4": 0, "5": 0},
			Informed: map[string]int{"partly": 1}, Received: map[string]int{}}
		if !reflect.DeepEqual(sum, want) {
			t.Errorf("%q: %+v, want %+v", key, sum, want)
		}
	}
	// A second, happy survey: CSAT 1 of 2.
	t2 := Summarize(&Tally{Sent: 3, Answered: 2, Scores: [6]int{0, 0, 1, 0, 0, 1}})
	if t2.CSAT == nil || *t2.CSAT != 0.5 || t2.Average == nil || *t2.Average != 3.5 || t2.ResponseRate == nil || *t2.ResponseRate != 0.667 {
		t.Errorf("summary %+v", t2)
	}
	// Nothing sent, nothing answered: no rate, no satisfaction, no
	// average (null in JSON), never 0, which reads as everyone unhappy.
	for _, tc := range []struct {
		name string
		t    *Tally
	}{{"no tally", nil}, {"scheduled only", &Tally{Scheduled: 4}}, {"sent, unanswered", &Tally{Sent: 3}}} {
		s := Summarize(tc.t)
		if s.CSAT != nil || s.Average != nil || s.Scored != 0 || (tc.t == nil || tc.t.Sent == 0) != (s.ResponseRate == nil) {
			t.Errorf("%s: %+v, want no CSAT, no average and a response rate only when sent", tc.name, s)
		}
		b, err := json.Marshal(s)
		if err != nil || !strings.Contains(string(b), `"csat":null`) || !strings.Contains(string(b), `"average":null`) {
			t.Errorf("%s: JSON %s, %v; want csat and average null", tc.name, b, err)
		}
	}
	if ch := TallyChanges(sv(Sent, 0, ""), sv(Sent, 0, "")); len(ch) != 0 {
		t.Errorf("no change moved %v", ch)
	}
}

func TestRenderPage(t *testing.T) {
	sv := &Survey{ID: "s1", Granted: true, Answer: &Answer{Score: 2, Informed: InformedNo, Comment: `<script>alert(1)</script>`}}
	for _, tc := range []struct {
		v    PageView
		want []string
		not  []string
	}{
		{PageView{Lang: "hu", PageName: "Acme", Incident: "Card <payments>", Action: "/survey/tok", Survey: &Survey{ID: "s"}, Kind: "form"},
			[]string{`lang="hu"`, "Hogyan kezeltük", "Card &lt;payments&gt;", `name="score" value="5"`, `aria-label="5 – kiváló"`, `action="/survey/tok"`},
			[]string{"Megkapta, amit ígértünk", `" checked`}},
		{PageView{Lang: "en", Action: "/survey/tok", Survey: sv, Kind: "thanks", FollowUp: true},
			[]string{"We have your answer", "A person from our team will contact you", "Did you receive what we promised you?",
				`value="2" checked`, `value="no" checked`, "&lt;script&gt;alert(1)&lt;/script&gt;"},
			[]string{"<script>alert"}},
		{PageView{Lang: "pl", Kind: "link"}, []string{"Ten link nie działa"}, []string{"<form"}},
		{PageView{Lang: "hr", Kind: "closed"}, []string{"Ova anketa je zatvorena"}, []string{"<form"}},
	} {
		b, err := RenderPage(tc.v)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s page lacks %q", tc.v.Kind, w)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(string(b), w) {
				t.Errorf("%s page has %q", tc.v.Kind, w)
			}
		}
	}
}
