package server

import (
	"testing"
	"time"
)

// TestParseQueryTime: a date as "to" includes its day; as "from" it
// starts it; a time is taken as given; anything else is refused naming
// the field.
func TestParseQueryTime(t *testing.T) {
	day := time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name, v string
		want    time.Time
	}{
		{"to", "2026-12-31", day.AddDate(0, 0, 1)},
		{"from", "2026-12-31", day},
		{"to", "2026-12-31T09:30:00+01:00", time.Date(2026, 12, 31, 8, 30, 0, 0, time.UTC)},
		{"to", " ", time.Time{}},
	} {
		got, err := parseQueryTime(tt.name, tt.v, time.UTC)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("parseQueryTime(%s, %q) = %v, %v; want %v", tt.name, tt.v, got, err, tt.want)
		}
	}
	if _, err := parseQueryTime("to", "31/12/2026", time.UTC); err == nil {
		t.Error("a malformed date was accepted")
	}
	// Go's zero time is no way to say "not given", and a "to" near the
	// year 9999 would end past 9999-12-31, which has no RFC 3339 form.
	for _, v := range []string{"0001-01-01", "0001-01-01T00:00:00Z", "1999-12-31", "9999-12-31", "9999-12-31T23:59:59Z", "2200-01-01"} {
		for _, name := range []string{"from", "to"} {
			if got, err := parseQueryTime(name, v, time.UTC); err == nil {
				t.Errorf("parseQueryTime(%s, %q) = %v; want it refused", name, v, got)
			}
		}
	}
}

// TestQueryDatesArePageDays: a date is the page's day, as `report period`
// reads it: "to 2026-12-31" for a Budapest page ends at Budapest's
// midnight (23:00 UTC), not UTC's.
func TestQueryDatesArePageDays(t *testing.T) {
	bud, err := time.LoadLocation("Europe/Budapest")
	if err != nil {
		t.Skip(err)
	}
	from, _ := parseQueryTime("from", "2026-01-01", bud)
	to, _ := parseQueryTime("to", "2026-12-31", bud)
	if want := time.Date(2025, 12, 31, 23, 0, 0, 0, time.UTC); !from.Equal(want) || from.Location() != time.UTC {
		t.Errorf("from 2026-01-01 in Budapest = %v, want %v", from, want)
	}
	if want := time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC); !to.Equal(want) {
		t.Errorf("to 2026-12-31 in Budapest = %v, want %v", to, want)
	}
}
