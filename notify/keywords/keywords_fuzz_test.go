package keywords

import (
	"regexp"
	"testing"
)

var sixDigits = regexp.MustCompile(`^[0-9]{6}$`)

// FuzzParse reads arbitrary SMS bodies. Fold is idempotent, so a folded
// message reads as the message did; a match is a known keyword in a known
// language, or a code of exactly six ASCII digits; and nothing longer
// (after folding) than the longest keyword ever matches, so a sentence
// that merely contains STOP is no opt-out.
//
// The seeds in testdata/fuzz/FuzzParse run with every go test; fuzz with
//
//	go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 60s -parallel 1 ./notify/keywords/
func FuzzParse(f *testing.F) {
	for _, s := range []struct{ body, from string }{
		{" stop! ", "+36201234567"},
		{"Leiratkozás", "+36201234567"},
		{"pomoc", "+48601234567"},
		{"POMOĆ", "+385912345678"},
		{"123456", "+36201234567"},
		{"12345", "+36201234567"},
		{"NIE dziala", "+48601234567"},
		{"", "+48601234567"},
		{"ＳＴＯＰ", "+36201234567"},
		{"١٢٣٤٥٦", "+36201234567"},
		{"Łódź", ""},
	} {
		f.Add(s.body, s.from)
	}
	longest := 6 // a code
	for w := range smsKeywords {
		longest = max(longest, len(w))
	}
	f.Fuzz(func(t *testing.T, body, from string) {
		word := Fold(body)
		if again := Fold(word); again != word {
			t.Fatalf("Fold is not idempotent: Fold(%q) = %q, Fold of that = %q", body, word, again)
		}
		m, ok := Parse(body, from)
		if m2, ok2 := Parse(word, from); m2 != m || ok2 != ok {
			t.Fatalf("Parse(%q) = %+v, %v but Parse of its fold %q = %+v, %v", body, m, ok, word, m2, ok2)
		}
		if !ok {
			if m != (Match{}) {
				t.Fatalf("Parse(%q) = %+v with ok false", body, m)
			}
			return
		}
		if len(word) > longest {
			t.Fatalf("Parse(%q) matched %q, longer than any keyword (%d bytes)", body, word, longest)
		}
		if m.Code != "" {
			if !sixDigits.MatchString(m.Code) || !IsCode(m.Code) || m.Keyword != None || m.Lang != "" {
				t.Fatalf("Parse(%q) = %+v: a code must be six ASCII digits and nothing else", body, m)
			}
			return
		}
		if _, known := smsKeywords[word]; !known {
			t.Fatalf("Parse(%q) = %+v from %q, which is no keyword", body, m, word)
		}
		switch m.Lang {
		case "en", "hu", "pl", "hr":
		default:
			t.Fatalf("Parse(%q) answers in %q", body, m.Lang)
		}
		if m.Keyword < Stop || m.Keyword > Yes || Reply(m.Lang, m.Keyword) == "" {
			t.Fatalf("Parse(%q) = %+v has no reply", body, m)
		}
	})
}

// FuzzIsCode checks IsCode against its definition: six ASCII digits.
//
//	go test -run '^$' -fuzz '^FuzzIsCode$' -fuzztime 20s -parallel 1 ./notify/keywords/
func FuzzIsCode(f *testing.F) {
	for _, s := range []string{"123456", "12345", "1234567", "12345a", "١٢٣٤٥٦", "12 456", "\x0012345"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := IsCode(s), sixDigits.MatchString(s); got != want {
			t.Fatalf("IsCode(%q) = %v, want %v", s, got, want)
		}
	})
}
