package wire

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/incident"
)

// FuzzParseTime reads arbitrary request timestamps. Blank is no time; a
// time that parses is in UTC, reads back the same from its RFC 3339 form
// and can be written as JSON (so a stored time can be served again); any
// other input is an invalid error naming the field, whose message is UTF-8
// and short however long the input.
//
// The seeds in testdata/fuzz/FuzzParseTime run with every go test; fuzz
// with
//
//	go test -run '^$' -fuzz '^FuzzParseTime$' -fuzztime 60s -parallel 1 ./incident/wire/
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{
		"2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123456789+02:00", "2024-05-01T12:00:00", "2024-05-01 12:00:00+01:00",
		"2024-05-01 12:00:00", "2024-05-01", "  ", "yesterday", "2024-02-30", "0000-01-01T00:00:00Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime("incident.started_at", &s)
		if strings.TrimSpace(s) == "" {
			if got != nil || err != nil {
				t.Fatalf("ParseTime(%q) = %v, %v; want no time", s, got, err)
			}
			return
		}
		if err != nil {
			var e *incident.Error
			if got != nil || incident.ErrorCode(err) != incident.EINVALID || !errors.As(err, &e) || e.Field != "incident.started_at" {
				t.Fatalf("ParseTime(%q) = %v, %v; want an invalid error on the field", s, got, err)
			}
			if msg := err.Error(); !utf8.ValidString(msg) || len(msg) > 400 {
				t.Fatalf("error message of %d bytes (UTF-8 %v): %q", len(msg), utf8.ValidString(msg), msg)
			}
			return
		}
		if got == nil || got.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) = %v, want a UTC time", s, got)
		}
		back := got.Format(time.RFC3339Nano)
		again, err := ParseTime("f", &back)
		if err != nil || !again.Equal(*got) {
			t.Fatalf("ParseTime(%q) = %v, whose RFC 3339 form %q reads as %v, %v", s, got, back, again, err)
		}
		if _, err := json.Marshal(got); err != nil {
			t.Fatalf("ParseTime(%q) = %v, which cannot be written as JSON: %v", s, got, err)
		}
	})
}
