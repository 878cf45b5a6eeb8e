package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/heraldhq/herald/incident/wire"
	"github.com/heraldhq/herald/surveys"
)

// TestNoFigureIsNotZero: where nothing was measured (no survey sent, no
// score, no complaint, no promise due) the CLI says so, with the count a
// figure rests on when there is one, and never prints 0 % (which reads as
// every customer unhappy, every promise broken).
func TestNoFigureIsNotZero(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    surveys.Summary
		rate string
		sat  string
	}{
		{"nothing sent", surveys.Summarize(nil), "none sent yet", "no scores yet"},
		{"sent, unanswered", surveys.Summarize(&surveys.Tally{Sent: 4}), "0 % of sent", "no scores yet"},
		{"one unhappy", surveys.Summarize(&surveys.Tally{Sent: 4, Answered: 1, Scores: [6]int{0, 1}}), "25 % of sent", "0 % (average 1.00 of 1 scored)"},
	} {
		if got := responseRate(tc.s); got != tc.rate {
			t.Errorf("%s: response rate %q, want %q", tc.name, got, tc.rate)
		}
		if got := satisfaction(tc.s); got != tc.sat {
			t.Errorf("%s: satisfaction %q, want %q", tc.name, got, tc.sat)
		}
	}
	var out bytes.Buffer
	a := &app{stdout: &out}
	a.printStats(wire.ComplaintStats{}, func(id string) string { return id })
	for _, want := range []string{"0 (no complaints)", "none judged yet: no promise has come due", "first answer:", "none yet"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("complaints stats lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "0.0%") {
		t.Errorf("complaints stats prints 0.0%% with no complaint:\n%s", out.String())
	}
}
