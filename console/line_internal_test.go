package console

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/locale"
)

// TestLineAckGiven: the note on a complaint that was not acknowledged
// again (the customer had the same answer about the incident) reads in
// the console's language, naming the earlier complaint and when.
func TestLineAckGiven(t *testing.T) {
	cat, err := locale.Default()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 5, 21, 20, 0, 0, time.UTC)
	e := &complaint.Entry{Kind: complaint.EntryNote, Event: complaint.EventAckGiven, Text: "english fallback",
		Args: map[string]string{"ref": "C-ABCDEF12", "at": at.Format(time.RFC3339)}}
	for lang, want := range map[string]string{"en": "had the same one", "hu": "ugyanezt megkapta", "pl": "otrzymał to samo", "hr": "istu o ovom incidentu"} {
		v := &view{Lang: lang, words: cat.Lang(lang), tz: time.UTC}
		got := v.Line(e, nil)
		if !strings.Contains(got, want) || !strings.Contains(got, "C-ABCDEF12") || !strings.Contains(got, "21:20") {
			t.Errorf("%s: %q, want the words (%q), the reference and the time", lang, got, want)
		}
	}
}
