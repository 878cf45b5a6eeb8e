package contact

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/heraldhq/herald/incident"
)

var e164Pattern = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// FuzzParsePhone reads arbitrary phone numbers in a few regions. A number
// that parses is E.164, reads back as itself with the same kind in any
// region, and NormalizePhone takes it exactly when its kind can take SMS;
// anything else is an invalid error on the phone field.
//
// The seeds in testdata/fuzz/FuzzParsePhone run with every go test; fuzz
// with
//
//	go test -run '^$' -fuzz '^FuzzParsePhone$' -fuzztime 60s -parallel 1 ./notify/contact/
func FuzzParsePhone(f *testing.F) {
	for _, s := range []struct{ raw, region string }{
		{"06 20 123 4567", "HU"}, {"601 234 567", "PL"}, {"091 234 5678", "HR"}, {"+36 20 123 4567", "PL"},
		{"06201234567", "hu"}, {"+36 1 234 5678", ""}, {"12345", "HU"}, {"call me", "HU"}, {"201234567", ""},
		{"+999 123 4567", "HU"}, {"+1 (202) 555-0143 ext. 12", "US"}, {"tel:+36-20-123-4567", "XX"},
	} {
		f.Add(s.raw, s.region)
	}
	f.Fuzz(func(t *testing.T, raw, region string) {
		e164, kind, err := ParsePhone(raw, region)
		norm, nerr := NormalizePhone(raw, region)
		if err != nil {
			if incident.ErrorCode(err) != incident.EINVALID || nerr == nil || !utf8.ValidString(err.Error()) && utf8.ValidString(raw) {
				t.Fatalf("ParsePhone(%q, %q) = %v; NormalizePhone: %v", raw, region, err, nerr)
			}
			return
		}
		if !e164Pattern.MatchString(e164) {
			t.Fatalf("ParsePhone(%q, %q) = %q, not E.164", raw, region, e164)
		}
		for _, r := range []string{"", "HU", "US"} {
			if again, k, err := ParsePhone(e164, r); err != nil || again != e164 || k != kind {
				t.Fatalf("ParsePhone(%q, %q) = %q %s, which reads in %q as %q %s, %v", raw, region, e164, kind, r, again, k, err)
			}
		}
		if kind.CanSMS() != (nerr == nil) || nerr == nil && norm != e164 {
			t.Fatalf("ParsePhone(%q, %q) = %q %s, but NormalizePhone = %q, %v", raw, region, e164, kind, norm, nerr)
		}
	})
}

// FuzzNormalizeEmail reads arbitrary email addresses. An accepted address
// is normalized (normalizing it again changes nothing), fits in
// MaxEmailLen, is UTF-8 with one unquoted local part and a lower-case
// ASCII LDH domain with a dot.
//
//	go test -run '^$' -fuzz '^FuzzNormalizeEmail$' -fuzztime 60s -parallel 1 ./notify/contact/
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{
		"anna@example.com", "  Anna.Kovacs@Example.HU ", "j.nowak+status@firma.pl", "a@xn--pld-ula.hu", "Alice <a@x.com>",
		"a@b", `"a b"@x.com`, "a@b@c.com", "a@x.com.", "a@x_y.com", "a@-x.com", "a@példa.hu", "a@x.com (Alice)", "",
		"árvíz@example.com", "a@[127.0.0.1]", "a@x.com\r\n", "=?UTF-8?Q?a?=@x.com",
	} {
		f.Add(s)
	}
	domain := regexp.MustCompile(`^[a-z0-9-]+(\.[a-z0-9-]+)+$`)
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := NormalizeEmail(raw)
		if err != nil {
			if incident.ErrorCode(err) != incident.EINVALID {
				t.Fatalf("NormalizeEmail(%q): %v is not an invalid error", raw, err)
			}
			return
		}
		if again, err := NormalizeEmail(got); err != nil || again != got {
			t.Fatalf("NormalizeEmail(%q) = %q, which normalizes to %q, %v", raw, got, again, err)
		}
		at := strings.LastIndexByte(got, '@')
		if len(got) > MaxEmailLen || !utf8.ValidString(got) || at <= 0 || strings.HasPrefix(got, `"`) || !domain.MatchString(got[at+1:]) {
			t.Fatalf("NormalizeEmail(%q) = %q", raw, got)
		}
	})
}
