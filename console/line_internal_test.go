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

// TestWhyInPageZoneNow: a tag's reason shows its instants in the page's
// zone as it is when read (set after the tagging, it moves them), and a
// reason stored before it carried instants reads as written.
func TestWhyInPageZoneNow(t *testing.T) {
	cat, err := locale.Default()
	if err != nil {
		t.Fatal(err)
	}
	budapest, err := time.LoadLocation("Europe/Budapest")
	if err != nil {
		t.Fatal(err)
	}
	since := time.Date(2026, 12, 5, 5, 58, 0, 0, time.UTC)
	tag := &complaint.Tag{Why: []complaint.Why{{Code: complaint.WhyUses, Args: map[string]string{"component": "Payments", "what": "major_outage",
		"since": "05:58 UTC", "since_at": since.Format(time.RFC3339)}}}}
	v := &view{Lang: "en", words: cat.Lang("en"), tz: budapest}
	if got := v.Why(tag); !strings.Contains(got, "since 06:58 CET") {
		t.Errorf("in a page now in CET: %q", got)
	}
	delete(tag.Why[0].Args, "since_at")
	if got := v.Why(tag); !strings.Contains(got, "since 05:58 UTC") {
		t.Errorf("an older reason: %q", got)
	}
}

// TestLineAckLimited: the note on a complaint whose automatic answer the
// per-sender limit held back reads in the console's language, with the
// limit and its window.
func TestLineAckLimited(t *testing.T) {
	cat, err := locale.Default()
	if err != nil {
		t.Fatal(err)
	}
	e := &complaint.Entry{Kind: complaint.EntryNote, Event: complaint.EventAckLimited, Text: "english fallback",
		Args: map[string]string{"max": "10", "window": "24h"}}
	for lang, want := range map[string]string{"en": "limit of automatic answers", "hu": "automatikus válaszok korlátját", "pl": "limit automatycznych odpowiedzi", "hr": "dopušteni broj automatskih odgovora"} {
		v := &view{Lang: lang, words: cat.Lang(lang), tz: time.UTC}
		got := v.Line(e, nil)
		if !strings.Contains(got, want) || !strings.Contains(got, "10") || !strings.Contains(got, "24h") {
			t.Errorf("%s: %q, want the words (%q), the limit and its window", lang, got, want)
		}
	}
}
