package surveys_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/surveys"
)

// TestUnreadableScoreNotCarried: a reply that only tried to give a score
// ("10", "no", "🙂", "7/5") is kept while the survey has no score, but the
// score that comes later does not take it as its comment: "3" after "10"
// is a 3 without words, which opens no follow-up task. Words of the
// customer's own, and the words after an unreadable score, do carry over.
func TestUnreadableScoreNotCarried(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		kind    channel.Kind
		replies []string // before the score
		score   string
		want    string // the score's comment
	}{
		{"sms: an out-of-range number", channel.SMS, []string{"10"}, "3", ""},
		{"sms: several attempts", channel.SMS, []string{"nem", "kilenc", "👀", "7/5"}, "3", ""},
		{"sms: words after an out-of-range score", channel.SMS, []string{"7/5 great service"}, "3", "great service"},
		{"sms: the score brings words", channel.SMS, []string{"10", "6 stars lovely agent"}, "3 slow though", "lovely agent\nslow though"},
		{"email: words of their own, then an attempt", channel.Email, []string{"it was awful", "10"}, "3", "it was awful"},
		{"email: an attempt, then words", channel.Email, []string{"no", "nobody called me back"}, "2", "nobody called me back"},
		{"email: only attempts", channel.Email, []string{"🙂", "11/10"}, "4", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, d, _, sv, _ := sentSurveyOn(t, tc.kind, "en")
			s.Sender = &sender{}
			reply := func(text string) *surveys.Survey {
				t.Helper()
				if tc.kind == channel.SMS {
					r, err := s.AnswerSMS(ctx, "p1", sv.Address, text)
					if err != nil || r == nil {
						t.Fatalf("AnswerSMS(%q) = %+v, %v", text, r, err)
					}
					return r.Survey
				}
				r, err := s.AnswerEmail(ctx, sv.ID, sv.Address, text, "m@example.com")
				if err != nil || r.Survey == nil {
					t.Fatalf("AnswerEmail(%q) = %+v, %v", text, r, err)
				}
				return r.Survey
			}
			for _, text := range tc.replies {
				if got := reply(text); got.Answer.Scored() {
					t.Fatalf("%q gave a score: %+v", text, got.Answer)
				}
			}
			got := reply(tc.score)
			if got.Answer.Comment != tc.want {
				t.Errorf("the score %q after %q has the comment %q, want %q", tc.score, tc.replies, got.Answer.Comment, tc.want)
			}
			if tc.want == "" && (got.Answer.Unhappy() || len(d.in) != 0) {
				t.Errorf("a %d without words is followed up: unhappy %v, tasks %+v", got.Answer.Score, got.Answer.Unhappy(), d.in)
			}
		})
	}
}

// TestUnclearReplyAfterScoreKeepsWords: a reply without a readable score
// to a survey that has one leaves the score as it is, and the words after
// the unreadable score ("6 stars, the agent was lovely") are added to the
// score's comment; an attempt alone ("10") adds nothing.
func TestUnclearReplyAfterScoreKeepsWords(t *testing.T) {
	ctx := context.Background()
	for _, kind := range []channel.Kind{channel.SMS, channel.Email} {
		t.Run(string(kind), func(t *testing.T) {
			s, _, db, sv, _ := sentSurveyOn(t, kind, "en")
			s.Sender = &sender{}
			reply := func(text string) {
				t.Helper()
				var err error
				if kind == channel.SMS {
					_, err = s.AnswerSMS(ctx, "p1", sv.Address, text)
				} else {
					_, err = s.AnswerEmail(ctx, sv.ID, sv.Address, text, "m@example.com")
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			for _, step := range []struct{ text, want string }{
				{"4 quick fix", "quick fix"},
				{"10", "quick fix"},
				{"6 stars, the agent was lovely", "quick fix\nthe agent was lovely"},
				{"6 stars, the agent was lovely", "quick fix\nthe agent was lovely"}, // a repeat adds nothing
				{"no", "quick fix\nthe agent was lovely"},
			} {
				reply(step.text)
				got, err := db.FindSurveyByID(ctx, sv.ID)
				if err != nil || got.Answer.Score != 4 || got.Answer.Comment != step.want {
					t.Fatalf("after %q: %+v, %v; want 4 with %q", step.text, got.Answer, err, step.want)
				}
			}
		})
	}
}

// TestUnclearSMSAfterStopNotAsked: a number that sent STOP gets no
// request for a score, so its survey does not say it was asked; its
// words are still kept.
func TestUnclearSMSAfterStopNotAsked(t *testing.T) {
	ctx := context.Background()
	s, _, db, sv, _ := sentSurveyOn(t, channel.SMS, "en")
	if err := db.Suppress(ctx, audience.Suppression{Kind: channel.SMS, Address: sv.Address, Reason: "stop", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	r, err := s.AnswerSMS(ctx, "p1", sv.Address, "no")
	if err != nil || r == nil || r.Recorded || r.Text != "" {
		t.Fatalf("after STOP: %+v, %v; want no reply", r, err)
	}
	got, err := db.FindSurveyByID(ctx, sv.ID)
	if err != nil || got.AskedForScore != nil || got.Answer == nil || got.Answer.Comment != "no" {
		t.Fatalf("after STOP, stored %+v (asked %v), %v; want the words kept and not asked", got.Answer, got.AskedForScore, err)
	}
}
