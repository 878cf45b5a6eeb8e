package main

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/compensation"
)

// TestToldText: compensation show's customers line says whether
// customers heard of the decision in force, and what to do: after the
// all-clear, a decision nobody heard of waits for an announcement (the
// all-clear will not tell them any more).
func TestToldText(t *testing.T) {
	at := time.Date(2026, 12, 6, 14, 2, 0, 0, time.UTC)
	for _, tt := range []struct {
		told    *compensation.Told
		version int
		closed  bool
		want    []string
		not     string
	}{
		{nil, 2, false, []string{"not told of this decision yet", "the all-clear message will tell them", "herald compensation announce inc1"}, ""},
		{nil, 2, true, []string{"not told of this decision (it came after the all-clear)", "herald compensation announce inc1"}, "will tell them"},
		{&compensation.Told{Version: 1, At: at, How: compensation.ToldResolution}, 2, true, []string{"told of version 1 (in the all-clear message of 2026-12-06 14:02 UTC)", "not of the change since"}, ""},
		{&compensation.Told{Version: 2, At: at, How: compensation.ToldAnnouncement}, 2, true, []string{"told of this decision (announced 2026-12-06 14:02 UTC)"}, "announce inc1"},
	} {
		got := (&app{}).toldText(tt.told, tt.version, "inc1", tt.closed)
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("toldText(%+v, %d, closed %v) = %q, lacks %q", tt.told, tt.version, tt.closed, got, w)
			}
		}
		if tt.not != "" && strings.Contains(got, tt.not) {
			t.Errorf("toldText(%+v, %d, closed %v) = %q, says %q", tt.told, tt.version, tt.closed, got, tt.not)
		}
	}
}
