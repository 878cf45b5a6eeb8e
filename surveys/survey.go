// Package surveys is herald's follow-up after an incident: one satisfaction
// survey per recipient, scheduled after resolution into the recipient's
// local daytime, at most one per customer per period; the answers (an SMS
// digit, a signed one-click link to a small page); the results per
// incident and page; and the win-back of the unhappy.
//
// It follows the house pattern (see package audience): the types, the
// rules and the Store interface live here, with the standard library and
// the domain and data packages only; the engines implement Store and pass
// store/storetest's RunSurveys; Service is the one entry point.
package surveys

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/queue"
)

// Mode says whom a page surveys after an incident.
type Mode string

// Modes.
const (
	ModeOff        Mode = "off"        // no surveys
	ModeNotified   Mode = "notified"   // every recipient a message about the incident reached
	ModeComplained Mode = "complained" // only those who complained about it
	ModeSample     Mode = "sample"     // a share (Settings.SamplePercent) of the notified
)

// Modes lists every mode.
var Modes = []Mode{ModeOff, ModeNotified, ModeComplained, ModeSample}

// Valid reports whether m is a mode.
func (m Mode) Valid() bool { return slices.Contains(Modes, m) }

// Settings are a page's survey settings.
type Settings struct {
	PageID        string        `json:"page_id"`
	Mode          Mode          `json:"mode"`
	SamplePercent int           `json:"sample_percent"` // 1..100 in every mode; ModeSample uses it
	Delay         time.Duration `json:"delay"`          // after resolution (default 24 h)
	Gap           time.Duration `json:"gap"`            // at most one survey per customer within it (default 30 days)
	// DayStart and DayEnd bound the recipient's local daytime a survey may
	// go in, as minutes after midnight (default 09:00–20:00).
	DayStart int  `json:"day_start"`
	DayEnd   int  `json:"day_end"`
	Weekends bool `json:"weekends"` // surveys may go on Saturday and Sunday
	// WinBackGap is the least time between two win-back contacts
	// (default 7 days); WinBackMax bounds them per survey (default 2).
	WinBackGap time.Duration `json:"win_back_gap"`
	WinBackMax int           `json:"win_back_max"`
	UpdatedAt  time.Time     `json:"updated_at"`
}

// Defaults.
const (
	DefaultDelay      = 24 * time.Hour
	DefaultGap        = 30 * 24 * time.Hour
	DefaultDayStart   = 9 * 60
	DefaultDayEnd     = 20 * 60
	DefaultWinBackGap = 7 * 24 * time.Hour
	DefaultWinBackMax = 2
	// ChangeWindow is how long after answering a customer may change the
	// answer (a later answer replaces the earlier one).
	ChangeWindow = 7 * 24 * time.Hour
	// OpenFor is how long a sent survey takes answers.
	OpenFor = 14 * 24 * time.Hour
)

// DefaultSettings are a page's settings until a manager changes them.
func DefaultSettings(pageID string) Settings {
	return Settings{PageID: pageID, Mode: ModeNotified, SamplePercent: 100, Delay: DefaultDelay, Gap: DefaultGap,
		DayStart: DefaultDayStart, DayEnd: DefaultDayEnd, WinBackGap: DefaultWinBackGap, WinBackMax: DefaultWinBackMax}
}

// Validate reports the first setting that cannot work, naming its field.
func (s Settings) Validate() error {
	switch {
	case !s.Mode.Valid():
		return incident.Invalid("mode", "want off, notified, complained or sample, not %q", s.Mode)
	case s.SamplePercent < 1 || s.SamplePercent > 100:
		// Checked in every mode: a share kept for later must be one.
		return incident.Invalid("sample_percent", "want 1 to 100, not %d", s.SamplePercent)
	case s.Delay < 0 || s.Delay > 30*24*time.Hour:
		return incident.Invalid("delay", "want 0 to 30 days, not %s", s.Delay)
	case s.Gap < 0 || s.Gap > 366*24*time.Hour:
		return incident.Invalid("gap", "want 0 to 366 days, not %s", s.Gap)
	case s.DayStart < 0 || s.DayStart >= 24*60 || s.DayEnd <= 0 || s.DayEnd > 24*60 || s.DayEnd-s.DayStart < 60:
		return incident.Invalid("day_start", "the daytime window must lie within a day and last at least an hour")
	case s.WinBackGap < 0 || s.WinBackMax < 0 || s.WinBackMax > 5:
		return incident.Invalid("win_back_max", "want 0 to 5 win-back contacts and a gap that is not negative")
	}
	return nil
}

// State is a survey's place in its life.
type State string

// States.
const (
	Scheduled State = "scheduled" // waits for DueAt
	Sent      State = "sent"      // its message is a delivery in the pipeline; it takes answers
	Answered  State = "answered"  // answered (may still change within ChangeWindow)
	Skipped   State = "skipped"   // not sent: Reason says why (recently surveyed, unsubscribed, cancelled)
	Expired   State = "expired"   // sent, never answered within OpenFor
)

// States lists every state.
var States = []State{Scheduled, Sent, Answered, Skipped, Expired}

// Informed answers "did we keep you informed?".
type Informed string

// Informed answers.
const (
	InformedYes    Informed = "yes"
	InformedPartly Informed = "partly"
	InformedNo     Informed = "no"
)

// Received answers "did you receive what was promised?".
type Received string

// Received answers.
const (
	ReceivedYes    Received = "yes"
	ReceivedNotYet Received = "not_yet"
	ReceivedNo     Received = "no"
)

// Answer is what the customer said.
type Answer struct {
	// Score is 1..5, or 0 for none: words the customer wrote in reply
	// to the survey without a score that can be read ("no", "10", "it
	// was awful, nobody called me back"), kept as Comment. An answer
	// without a score counts as answered and as a comment, never in the
	// scores, CSAT or average.
	Score    int       `json:"score"`
	Informed Informed  `json:"informed,omitempty"`
	Received Received  `json:"received,omitempty"`
	Comment  string    `json:"comment,omitempty"`
	Via      string    `json:"via"` // sms, email, web
	At       time.Time `json:"at"`  // the latest answer
	// Changes counts answers after the first (a score changed within
	// ChangeWindow replaces the earlier one).
	Changes int `json:"changes"`
}

// Scored reports whether the answer gives a score (1 to 5), not only
// words.
func (a *Answer) Scored() bool { return a != nil && a.Score >= 1 && a.Score <= 5 }

// Unhappy reports whether the answer calls for a person to follow up (a
// win-back task): a score of 1 or 2, or a middling 3 with words. A 4 or
// 5 is praise, words or not; words without a score are no score at all
// (a reply that is a complaint is a complaint, which a person answers).
func (a *Answer) Unhappy() bool {
	return a.Scored() && (a.Score <= 2 || a.Score == 3 && a.Comment != "")
}

// FollowsUp reports whether a person will contact the customer about the
// survey's current answer: it is unhappy and a win-back task is open for
// the survey.
func (s *Survey) FollowsUp() bool { return len(s.WinBacks) > 0 && s.Answer.Unhappy() }

// MaxComment bounds a survey comment, in characters.
const MaxComment = 2000

// Survey is one survey to one recipient about one incident.
type Survey struct {
	ID         string `json:"id"` // derived from the incident and the recipient: scheduling twice makes one
	PageID     string `json:"page_id"`
	IncidentID string `json:"incident_id"`
	// Who: a customer (RecipientID their ID), a subscriber, or a contact
	// who complained. Key is the recipient the once-per-Gap rule counts
	// by, together with the address (AddressKey): a customer who is also
	// a subscriber with the same phone is one person.
	RecipientType queue.RecipientType `json:"recipient_type"`
	RecipientID   string              `json:"recipient_id"`
	Key           string              `json:"key"`
	Channel       channel.Kind        `json:"channel"`
	Address       string              `json:"address"`
	Name          string              `json:"name,omitempty"`
	Language      string              `json:"language"`
	TimeZone      string              `json:"time_zone,omitempty"`
	// Segment is the customer's plan, for the results split.
	Segment string `json:"segment,omitempty"`
	// Complained: the recipient complained about the incident.
	Complained bool `json:"complained"`
	// Granted: a compensation grant exists for the customer and incident
	// (the survey asks whether they received it).
	Granted bool `json:"granted"`

	State      State      `json:"state"`
	Reason     string     `json:"reason,omitempty"` // why skipped
	DueAt      time.Time  `json:"due_at"`
	SentAt     *time.Time `json:"sent_at,omitempty"`
	DeliveryID string     `json:"delivery_id,omitempty"`
	Answer     *Answer    `json:"answer,omitempty"`
	AnsweredAt *time.Time `json:"answered_at,omitempty"` // the first answer; Answer.At is the latest
	// Win-back: the follow-up complaints opened for this survey's
	// unhappy answers, and when the last was.
	WinBacks    []string   `json:"win_backs,omitempty"`
	LastWinBack *time.Time `json:"last_win_back,omitempty"`
	// AskedForScore is when herald asked the customer for the score a
	// reply of theirs did not give ("no", "10", an emoji): once per
	// survey, never again, so that herald and a customer (or their
	// autoresponder) cannot write back and forth.
	AskedForScore *time.Time `json:"asked_for_score,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Version   int       `json:"version"` // 1 on creation, +1 per save
}

// SurveyedAt is when the survey counts as asked for the once-per-Gap
// rule: when it was sent, else when it is due.
func (s *Survey) SurveyedAt() time.Time {
	if s.SentAt != nil {
		return *s.SentAt
	}
	return s.DueAt
}

// Open reports whether the survey takes an answer at now: sent within
// OpenFor, or first answered within ChangeWindow (a changed answer does
// not extend it). An answer without a score (words only) leaves it open
// for its score as long as an unanswered survey would be, too.
func (s *Survey) Open(now time.Time) bool {
	sent := s.SentAt != nil && now.Sub(*s.SentAt) < OpenFor
	switch s.State {
	case Sent:
		return sent
	case Answered:
		return s.AnsweredAt != nil && now.Sub(*s.AnsweredAt) < ChangeWindow || sent && !s.Answer.Scored()
	}
	return false
}

// Tally is what the results count for one group of surveys (an incident,
// split by channel, language or segment): maintained by the store as
// surveys change, so that results never scan surveys.
type Tally struct {
	Scheduled int            `json:"scheduled"`
	Sent      int            `json:"sent"`
	Answered  int            `json:"answered"`
	Skipped   int            `json:"skipped"`
	Scores    [6]int         `json:"scores"` // Scores[n]: answers with score n (index 0 unused)
	Informed  map[string]int `json:"informed"`
	Received  map[string]int `json:"received"`
	Comments  int            `json:"comments"`
}

// Store keeps surveys, their settings and tallies. Both engines implement
// it; store/storetest's RunSurveys is its conformance suite. Times are
// stored in UTC at millisecond precision (Survey.WithTimes(Millis)); the
// caller's values are not changed, and what the reads return is the
// caller's to change. A limit below 1 returns nothing.
//
// A survey's ID is unique across pages, and an incident's surveys are all
// on one page: the Redis engine keeps them in that page's hash slot.
type Store interface {
	// SaveSettings stores a page's settings (CheckSettings, EINVALID);
	// FindSettings returns them, or ENOTFOUND when the page has none (the
	// caller uses DefaultSettings).
	SaveSettings(ctx context.Context, s *Settings) error
	FindSettings(ctx context.Context, pageID string) (*Settings, error)

	// CreateSurveys stores the surveys whose IDs are not stored yet and
	// returns how many it created: scheduling the same incident twice
	// (after a crash, on two nodes) creates each survey once, and an ID
	// given twice counts once. The tallies count the new ones in the same
	// write. CheckCreate says what it takes: version 1, Scheduled or
	// Skipped, all of one page and incident (EINVALID, writing nothing).
	// Surveys of an incident another page holds surveys of are ECONFLICT,
	// writing nothing.
	CreateSurveys(ctx context.Context, ss []*Survey) (int, error)
	// SaveSurvey stores s, whose stored version on s's page must be
	// s.Version-1 (ECONFLICT otherwise, also when the page holds no
	// survey with s's ID, writing nothing), and moves the tallies of its
	// incident from the stored state and answer to the new ones in the
	// same write (TallyChanges). A survey's incident never changes
	// (EINVALID).
	SaveSurvey(ctx context.Context, s *Survey) error
	// FindSurveyByID returns ENOTFOUND when there is none.
	FindSurveyByID(ctx context.Context, id string) (*Survey, error)
	// FindDueSurveys returns up to limit scheduled surveys of every page
	// whose DueAt ≤ now, earliest first (ties by ID).
	FindDueSurveys(ctx context.Context, now time.Time, limit int) ([]*Survey, error)
	// FindSurveysByAddress returns the page's surveys sent to kind and
	// address (those with a SentAt), newest SentAt first (ties by ID,
	// descending; at most limit): an SMS reply's digit answers the newest
	// open one.
	FindSurveysByAddress(ctx context.Context, pageID string, kind channel.Kind, address string, limit int) ([]*Survey, error)
	// LastSurveyed returns when the page last surveyed key: the latest
	// SurveyedAt (when it was sent, else when it is due) of the page's
	// surveys for key that were created or saved in a state other than
	// Skipped (one skipped after it was scheduled still counts), or the
	// zero time: the once-per-Gap rule. A survey saved with an earlier
	// time than it had (sent before it was due: SendNow) moves the key's
	// time back with it when the key's time was the survey's.
	LastSurveyed(ctx context.Context, pageID, key string) (time.Time, error)
	// LastSurveyedKeys is LastSurveyed for many keys in one read: the
	// keys the page surveyed, each with its time (keys it never
	// surveyed are left out).
	LastSurveyedKeys(ctx context.Context, pageID string, keys []string) (map[string]time.Time, error)
	// FindSurveys returns an incident's surveys in state ("" any; another
	// unknown state is EINVALID), by ID, after the cursor, at most limit.
	FindSurveys(ctx context.Context, incidentID string, state State, after string, limit int) ([]*Survey, error)
	// Tallies returns an incident's tallies: "" for all its surveys, and
	// "channel:sms", "language:hu", "segment:gold" for the splits, built
	// with Tally.Apply from the counters that are not zero (none: an
	// empty map). It reads counters, never surveys.
	Tallies(ctx context.Context, incidentID string) (map[string]*Tally, error)
}

// TallyChange is one counter of an incident's tallies that a survey's
// save moves: Key is the tally ("" all, "channel:sms", …), Field the
// counter ("sent", "score:4", "informed:yes", …).
type TallyChange struct {
	Key   string
	Field string
	Delta int
}

// TallyChanges lists the counters that move when a survey goes from old
// (nil: new) to new, the same in every engine: the state's count, and the
// answer's score, informed, received and comment, in the tally of all
// surveys and in the survey's channel, language and segment tallies.
// Counters that move both ways cancel out and are left out.
func TallyChanges(old, new *Survey) []TallyChange {
	delta := map[[2]string]int{}
	add := func(s *Survey, d int) {
		if s == nil {
			return
		}
		fields := []string{"state:" + string(s.State)}
		if s.State == Answered && s.Answer != nil {
			a := s.Answer
			if a.Scored() {
				fields = append(fields, "score:"+strconv.Itoa(a.Score))
			}
			if a.Informed != "" {
				fields = append(fields, "informed:"+string(a.Informed))
			}
			if a.Received != "" {
				fields = append(fields, "received:"+string(a.Received))
			}
			if a.Comment != "" {
				fields = append(fields, "comments")
			}
		}
		for _, key := range TallyKeys(s) {
			for _, f := range fields {
				delta[[2]string{key, f}] += d
			}
		}
	}
	add(old, -1)
	add(new, +1)
	out := make([]TallyChange, 0, len(delta))
	for k, d := range delta {
		if d != 0 {
			out = append(out, TallyChange{Key: k[0], Field: k[1], Delta: d})
		}
	}
	slices.SortFunc(out, func(a, b TallyChange) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return strings.Compare(a.Field, b.Field)
	})
	return out
}

// TallyKeys are the tallies a survey counts in.
func TallyKeys(s *Survey) []string {
	keys := []string{"", "channel:" + string(s.Channel), "language:" + s.Language}
	if s.Segment != "" {
		keys = append(keys, "segment:"+s.Segment)
	}
	return keys
}

// Apply adds a counter's change to t (the engines read tallies back as
// field → count and build them with it).
func (t *Tally) Apply(field string, n int) {
	kind, value, _ := strings.Cut(field, ":")
	switch kind {
	case "state":
		switch State(value) {
		case Scheduled:
			t.Scheduled += n
		case Sent:
			t.Sent += n
		case Answered:
			t.Answered += n
			t.Sent += n // an answered survey was sent
		case Skipped:
			t.Skipped += n
		case Expired:
			t.Sent += n
		}
	case "score":
		if v, err := strconv.Atoi(value); err == nil && v >= 1 && v <= 5 {
			t.Scores[v] += n
		}
	case "informed":
		if t.Informed == nil {
			t.Informed = map[string]int{}
		}
		t.Informed[value] += n
	case "received":
		if t.Received == nil {
			t.Received = map[string]int{}
		}
		t.Received[value] += n
	case "comments":
		t.Comments += n
	}
}

// CheckSettings checks what SaveSettings is given, the same in every
// engine: settings of a page that Validate accepts.
func CheckSettings(s *Settings) error {
	switch {
	case s == nil:
		return incident.Invalid("settings", "is required")
	case s.PageID == "":
		return incident.Invalid("page_id", "settings belong to a page")
	}
	return s.Validate()
}

// CheckCreate checks what CreateSurveys is given, the same in every
// engine: valid new surveys, all of one page and incident (the Redis
// engine writes a call in that page's slot).
func CheckCreate(ss []*Survey) error {
	for i, s := range ss {
		if err := checkSurvey(s); err != nil {
			return err
		}
		if s.Version != 1 || (s.State != Scheduled && s.State != Skipped) {
			return incident.Invalid("surveys["+strconv.Itoa(i)+"]", "a new survey is version 1, scheduled or skipped")
		}
		if s.PageID != ss[0].PageID || s.IncidentID != ss[0].IncidentID {
			return incident.Invalid("surveys["+strconv.Itoa(i)+"]", "the surveys of one call are of one page and incident")
		}
	}
	return nil
}

// CheckSave checks what SaveSurvey is given, the same in every engine.
func CheckSave(s *Survey) error {
	if err := checkSurvey(s); err != nil {
		return err
	}
	if s.Version < 2 {
		return incident.Invalid("version", "a saved survey is version 2 or more; create it with CreateSurveys")
	}
	return nil
}

func checkSurvey(s *Survey) error {
	switch {
	case s == nil:
		return incident.Invalid("survey", "is required")
	case s.ID == "" || s.PageID == "" || s.IncidentID == "" || s.Key == "":
		return incident.Invalid("survey", "must name an ID, a page, an incident and a key")
	case !slices.Contains(States, s.State):
		return incident.Invalid("state", "unknown state %q", s.State)
	case s.State == Answered && (s.Answer == nil || !s.Answer.Scored() && (s.Answer.Score != 0 || strings.TrimSpace(s.Answer.Comment) == "")):
		return incident.Invalid("answer.score", "an answered survey has a score from 1 to 5, or words without one (score 0)")
	}
	return nil
}

// WithTimes returns a copy of s with its times passed through round (the
// engines keep UTC at millisecond precision); s is not changed.
func (s *Survey) WithTimes(round func(time.Time) time.Time) *Survey {
	v := *s
	v.DueAt, v.CreatedAt, v.UpdatedAt = round(s.DueAt), round(s.CreatedAt), round(s.UpdatedAt)
	opt := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		r := round(*t)
		return &r
	}
	v.SentAt, v.AnsweredAt, v.LastWinBack, v.AskedForScore = opt(s.SentAt), opt(s.AnsweredAt), opt(s.LastWinBack), opt(s.AskedForScore)
	if s.Answer != nil {
		a := *s.Answer
		a.At = round(a.At)
		v.Answer = &a
	}
	v.WinBacks = slices.Clone(s.WinBacks)
	return &v
}

// Millis is the engines' time rounding: UTC, millisecond precision.
func Millis(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// AddressKey is the once-per-Gap key of a channel and address, beside the
// recipient's Key: "address:sms:+36201234567" (an email address in lower
// case). "" when there is no address.
func AddressKey(kind channel.Kind, address string) string {
	if address == "" {
		return ""
	}
	if kind == channel.Email {
		address = strings.ToLower(address)
	}
	return "address:" + string(kind) + ":" + address
}

// LastKeys are the keys whose last time a survey raises: its Key and its
// AddressKey.
func (s *Survey) LastKeys() []string {
	if a := AddressKey(s.Channel, s.Address); a != "" && a != s.Key {
		return []string{s.Key, a}
	}
	return []string{s.Key}
}
