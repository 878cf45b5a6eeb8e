package node

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/surveys"
)

// Surveys holds the survey settings every page starts with (a manager
// changes a page's own with `herald surveys settings`).
type Surveys struct {
	Mode          string        // off, notified, complained, sample
	SamplePercent int           // for sample
	Delay         time.Duration // after resolution
	Gap           time.Duration // at most one survey per customer within it
	Daytime       string        // "09:00-20:00", the recipient's local time
	Weekends      bool
	Sweep         string // the cron spec of the sweep
}

// DefaultSurveys returns the survey settings herald runs with when nothing
// is set: surveys.DefaultSettings's.
func DefaultSurveys() Surveys {
	d := surveys.DefaultSettings("")
	return Surveys{Mode: string(d.Mode), SamplePercent: d.SamplePercent, Delay: d.Delay, Gap: d.Gap,
		Daytime: "09:00-20:00", Sweep: "@every 30s"}
}

func (s *Surveys) settings() []Setting {
	dur := func(p *time.Duration) func(string) error {
		return func(v string) error {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil || d < 0 {
				return fmt.Errorf("want a duration (like 24h), got %q", v)
			}
			*p = d
			return nil
		}
	}
	return []Setting{
		{"survey_mode", "HERALD_SURVEY_MODE", "survey-mode", "survey after resolution: `MODE` off, notified, complained or sample", func(v string) error {
			m := surveys.Mode(strings.TrimSpace(v))
			if !m.Valid() {
				return fmt.Errorf("want off, notified, complained or sample, got %q", v)
			}
			s.Mode = string(m)
			return nil
		}, func() string { return s.Mode }},
		{"survey_sample_percent", "HERALD_SURVEY_SAMPLE_PERCENT", "", "", func(v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 1 || n > 100 {
				return fmt.Errorf("want 1 to 100, got %q", v)
			}
			s.SamplePercent = n
			return nil
		}, func() string { return strconv.Itoa(s.SamplePercent) }},
		{"survey_delay", "HERALD_SURVEY_DELAY", "survey-delay", "send surveys `DURATION` after resolution", dur(&s.Delay), func() string { return s.Delay.String() }},
		{"survey_gap", "HERALD_SURVEY_GAP", "", "", dur(&s.Gap), func() string { return s.Gap.String() }},
		{"survey_daytime", "HERALD_SURVEY_DAYTIME", "", "", func(v string) error {
			if _, _, err := parseDaytime(v); err != nil {
				return err
			}
			s.Daytime = strings.TrimSpace(v)
			return nil
		}, func() string { return s.Daytime }},
		{"survey_weekends", "HERALD_SURVEY_WEEKENDS", "", "", func(v string) error {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("want true or false, got %q", v)
			}
			s.Weekends = b
			return nil
		}, func() string { return strconv.FormatBool(s.Weekends) }},
		{"survey_sweep", "HERALD_SURVEY_SWEEP", "", "", func(v string) error {
			v = strings.TrimSpace(v)
			if !strings.HasPrefix(v, "@every ") {
				return fmt.Errorf("want @every DURATION (like @every 30s), got %q", v)
			}
			d, err := time.ParseDuration(strings.TrimPrefix(v, "@every "))
			if err != nil || d < time.Second {
				return fmt.Errorf("want @every DURATION of a second or more, got %q", v)
			}
			s.Sweep = v
			return nil
		}, func() string { return s.Sweep }},
	}
}

// parseDaytime reads "HH:MM-HH:MM" into minutes after midnight.
func parseDaytime(v string) (int, int, error) {
	from, to, ok := strings.Cut(strings.TrimSpace(v), "-")
	bad := fmt.Errorf("want HH:MM-HH:MM (like 09:00-20:00), at least an hour, got %q", v)
	if !ok {
		return 0, 0, bad
	}
	parse := func(s string) (int, bool) {
		s = strings.TrimSpace(s)
		if s == "24:00" {
			return 24 * 60, true
		}
		t, err := time.Parse("15:04", s)
		return t.Hour()*60 + t.Minute(), err == nil
	}
	a, ok1 := parse(from)
	b, ok2 := parse(to)
	if !ok1 || !ok2 || b-a < 60 {
		return 0, 0, bad
	}
	return a, b, nil
}

// Settings are the surveys.Settings these describe.
func (s *Surveys) Settings() surveys.Settings {
	st := surveys.DefaultSettings("")
	st.Mode, st.SamplePercent, st.Delay, st.Gap, st.Weekends = surveys.Mode(s.Mode), s.SamplePercent, s.Delay, s.Gap, s.Weekends
	if a, b, err := parseDaytime(s.Daytime); err == nil {
		st.DayStart, st.DayEnd = a, b
	}
	return st
}

func (s *Surveys) validate() error {
	st := s.Settings()
	if err := st.Validate(); err != nil {
		return fmt.Errorf("survey settings: %w", err)
	}
	return nil
}
