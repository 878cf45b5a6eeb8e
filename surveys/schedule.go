package surveys

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"

	"github.com/heraldhq/herald/channel"
)

// DueAt is when a survey to a recipient in loc goes: Delay after the
// resolution, moved forward into the recipient's daytime (DayStart to
// DayEnd, local), and past Saturday and Sunday unless Weekends. The
// result is UTC.
func DueAt(resolved time.Time, loc *time.Location, s Settings) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	t := resolved.Add(s.Delay).In(loc)
	for range 14 { // at most a week of moves, twice over for safety
		midnight := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		start := midnight.Add(time.Duration(s.DayStart) * time.Minute)
		end := midnight.Add(time.Duration(s.DayEnd) * time.Minute)
		weekend := t.Weekday() == time.Saturday || t.Weekday() == time.Sunday
		switch {
		case weekend && !s.Weekends:
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
		case t.Before(start):
			t = start
		case !t.Before(end):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
		default:
			return t.UTC()
		}
	}
	return t.UTC()
}

// SurveyID is the survey of an incident to one recipient, whatever the
// channel: scheduling twice makes one, even when the second run would
// pick another channel.
func SurveyID(incidentID, key string) string {
	sum := sha256.Sum256([]byte("survey\x00" + incidentID + "\x00" + key))
	return hex.EncodeToString(sum[:10])
}

// channelRank orders the channels a survey prefers when several reached
// the recipient: email first (the whole survey page, and no cost per
// message), then Slack, then SMS (a digit reply).
func channelRank(k channel.Kind) int {
	switch k {
	case channel.Email:
		return 0
	case channel.Slack:
		return 1
	case channel.SMS:
		return 2
	}
	return 3
}

// Sampled reports whether the recipient key falls in the sample of percent
// of an incident's recipients: a stable choice, the same on every node
// and every run.
func Sampled(incidentID, key string, percent int) bool {
	if percent >= 100 {
		return true
	}
	if percent <= 0 {
		return false
	}
	sum := sha256.Sum256([]byte(incidentID + "\x00" + key))
	return binary.BigEndian.Uint64(sum[:8])%100 < uint64(percent)
}
