package notify

import (
	"testing"
	"time"
)

func TestQuietHoursUntil(t *testing.T) {
	bud, _ := time.LoadLocation("Europe/Budapest")
	q := quietHours{start: 22 * 60, end: 7 * 60, on: true}
	day := quietHours{start: 12 * 60, end: 13 * 60, on: true}
	ny, _ := time.LoadLocation("America/New_York")
	late := quietHours{start: 22 * 60, end: 90, on: true} // 22:00–01:30
	tests := []struct {
		name string
		q    quietHours
		at   time.Time
		want time.Time
		loc  *time.Location // nil: Budapest
	}{
		{"before the window", q, time.Date(2027, 1, 15, 21, 59, 0, 0, bud), time.Time{}, nil},
		{"evening", q, time.Date(2027, 1, 15, 23, 30, 0, 0, bud), time.Date(2027, 1, 16, 7, 0, 0, 0, bud), nil},
		{"early morning", q, time.Date(2027, 1, 16, 3, 0, 0, 0, bud), time.Date(2027, 1, 16, 7, 0, 0, 0, bud), nil},
		{"end is exclusive", q, time.Date(2027, 1, 16, 7, 0, 0, 0, bud), time.Time{}, nil},
		{"across the spring DST change", q, time.Date(2027, 3, 27, 23, 0, 0, 0, bud), time.Date(2027, 3, 28, 7, 0, 0, 0, bud), nil},
		{"non-wrapping window", day, time.Date(2027, 1, 15, 12, 30, 0, 0, bud), time.Date(2027, 1, 15, 13, 0, 0, 0, bud), nil},
		{"off", quietHours{}, time.Date(2027, 1, 15, 23, 30, 0, 0, bud), time.Time{}, nil},
		// 01:30 comes twice on 7 November 2027 in New York: first EDT, then EST.
		{"repeated hour, first pass", late, time.Date(2027, 11, 7, 5, 15, 0, 0, time.UTC), time.Date(2027, 11, 7, 5, 30, 0, 0, time.UTC), ny},
		{"repeated hour, second pass", late, time.Date(2027, 11, 7, 6, 15, 0, 0, time.UTC), time.Date(2027, 11, 7, 6, 30, 0, 0, time.UTC), ny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := tt.loc
			if loc == nil {
				loc = bud
			}
			if got := tt.q.until(tt.at.UTC(), loc); !got.Equal(tt.want) {
				t.Errorf("until(%s) = %s, want %s", tt.at, got, tt.want)
			}
		})
	}
}

func TestClock(t *testing.T) {
	for _, s := range []string{"22:00", "07:05", "00:00", "23:59"} {
		if _, err := clock(s); err != nil {
			t.Errorf("clock(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "7", "24:00", "07:5", "ab:cd", "07:60"} {
		if _, err := clock(s); err == nil {
			t.Errorf("clock(%q) accepted", s)
		}
	}
}

func TestBackoff(t *testing.T) {
	base, max := 100*time.Millisecond, 2*time.Second
	for attempt := 1; attempt < 12; attempt++ {
		for i := 0; i < 200; i++ {
			d := backoff(attempt, base, max, 0)
			ceil := base << (attempt - 1)
			if ceil > max || ceil <= 0 {
				ceil = max
			}
			if d < base/4 || d > ceil {
				t.Fatalf("backoff(%d) = %s outside [%s, %s]", attempt, d, base/4, ceil)
			}
		}
	}
	if d := backoff(1, base, max, 3*time.Second); d < 3*time.Second {
		t.Errorf("backoff ignored Retry-After: %s", d)
	}
}
