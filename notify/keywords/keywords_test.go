package keywords

import "testing"

func TestFoldKeyword(t *testing.T) {
	tests := map[string]string{" Leiratkozás! ": "LEIRATKOZAS", "Wypisz,  mnie!": "WYPISZ MNIE", "SMS-t": "SMS T", "pomoć": "POMOC", "Stop.": "STOP", "Łódź": "LODZ", "đ": "D"}
	for in, want := range tests {
		if got := Fold(in); got != want {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestParse reads whole messages only, answers POMOC in Croatian from a
// Croatian number, and takes six digits as a code.
func TestParse(t *testing.T) {
	tests := []struct {
		name, body, from string
		want             Match
		ok               bool
	}{
		{"stop", " stop! ", "+36201234567", Match{Keyword: Stop, Lang: "en"}, true},
		{"hungarian unsubscribe with accents", "Leiratkozás", "+36201234567", Match{Keyword: Stop, Lang: "hu"}, true},
		{"pomoc from poland", "pomoc", "+48601234567", Match{Keyword: Help, Lang: "pl"}, true},
		{"pomoć from croatia", "POMOĆ", "+385912345678", Match{Keyword: Help, Lang: "hr"}, true},
		{"code", "123456", "+36201234567", Match{Code: "123456"}, true},
		{"five digits", "12345", "+36201234567", Match{}, false},
		{"a sentence", "NIE dziala", "+48601234567", Match{}, false},
		{"polish no is no opt-out", "Nie.", "+48601234567", Match{}, false},
		{"polish unsubscribe", "wypisz", "+48601234567", Match{Keyword: Stop, Lang: "pl"}, true},
		{"empty", "", "+48601234567", Match{}, false},
		// Common whole-message opt-out phrases, any case, with or
		// without diacritics and punctuation.
		{"polish unsubscribe me", "Wypisz mnie", "+48601234567", Match{Keyword: Stop, Lang: "pl"}, true},
		{"polish unsubscribe me, punctuated", "wypisz,  mnie!", "+48601234567", Match{Keyword: Stop, Lang: "pl"}, true},
		{"polish stop sms", "Stop SMS", "+48601234567", Match{Keyword: Stop, Lang: "pl"}, true},
		{"polish i resign", "Rezygnuję.", "+48601234567", Match{Keyword: Stop, Lang: "pl"}, true},
		{"hungarian i cancel", "LEMONDOM", "+36201234567", Match{Keyword: Stop, Lang: "hu"}, true},
		{"hungarian i cancel, lower case", "lemondom!", "+36201234567", Match{Keyword: Stop, Lang: "hu"}, true},
		{"hungarian unsubscribing", "LEIRATKOZÁS", "+36201234567", Match{Keyword: Stop, Lang: "hu"}, true},
		{"hungarian i unsubscribe", "Leiratkozom", "+36201234567", Match{Keyword: Stop, Lang: "hu"}, true},
		{"hungarian no more sms", "Nem kérek több SMS-t!", "+36201234567", Match{Keyword: Stop, Lang: "hu"}, true},
		{"hungarian no more sms, no accents", "nem kerek tobb smst", "+36201234567", Match{Keyword: Stop, Lang: "hu"}, true},
		{"croatian unsubscribe me", "Odjavi me", "+385912345678", Match{Keyword: Stop, Lang: "hr"}, true},
		{"croatian unsubscribe", "ODJAVA", "+385912345678", Match{Keyword: Stop, Lang: "hr"}, true},
		{"stop all spaced", "Stop all", "+447700900123", Match{Keyword: Stop, Lang: "en"}, true},
		{"opt-out hyphenated", "Opt-out", "+447700900123", Match{Keyword: Stop, Lang: "en"}, true},
		{"cancel", "cancel", "+447700900123", Match{Keyword: Stop, Lang: "en"}, true},
		{"a sentence with an opt-out phrase", "Wypisz mnie, bo znowu nie działa", "+48601234567", Match{}, false},
		{"a sentence with lemondom", "Lemondom a rendelést, mert nem működik", "+36201234567", Match{}, false},
		{"a polite sentence", "Kérem, ne küldjenek több SMS-t", "+36201234567", Match{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Parse(tt.body, tt.from)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Parse(%q, %q) = %+v, %v; want %+v, %v", tt.body, tt.from, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestReplyEveryLanguage checks that every keyword has an answer in every
// language, and that an unknown language falls back to English.
func TestReplyEveryLanguage(t *testing.T) {
	for _, lang := range []string{"en", "hu", "pl", "hr"} {
		for _, k := range []Keyword{Stop, Start, Help, Yes, StartNoSubscription} {
			if Reply(lang, k) == "" {
				t.Errorf("no %s reply for keyword %d", lang, k)
			}
		}
	}
	if Reply("de", Stop) != Reply("en", Stop) {
		t.Error("an unknown language is not answered in English")
	}
	if Reply("hu-HU", Help) != Reply("hu", Help) || Reply("hu", Help) == Reply("en", Help) {
		t.Error("a tag is not answered in its language")
	}
	if Reply("en", None) != "" {
		t.Error("None has an answer")
	}
	if got, want := Reply("pl", Stop), "Wypisaliśmy Państwa z powiadomień. Aby zapisać się ponownie, prosimy odpowiedzieć START."; got != want {
		t.Errorf("pl STOP: %q, want %q", got, want)
	}
}
