package contact

import (
	"fmt"
	"strings"
	"testing"

	"github.com/heraldhq/herald/incident"
)

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		name, raw, region string
		want              string
		kind              PhoneKind
		wantErr           bool // from NormalizePhone
	}{
		{"hu mobile national", "06 20 123 4567", "HU", "+36201234567", PhoneMobile, false},
		{"pl mobile", "601 234 567", "PL", "+48601234567", PhoneMobile, false},
		{"hr mobile", "091 234 5678", "HR", "+385912345678", PhoneMobile, false},
		{"ba mobile", "061 123 456", "BA", "+38761123456", PhoneMobile, false},
		{"international ignores region", "+36 20 123 4567", "PL", "+36201234567", PhoneMobile, false},
		{"lower-case region", "06201234567", "hu", "+36201234567", PhoneMobile, false},
		{"hu landline refused for sms", "+36 1 234 5678", "", "+3612345678", PhoneFixedLine, true},
		{"too short", "12345", "HU", "", "", true},
		{"letters", "call me", "HU", "", "", true},
		{"empty", "  ", "HU", "", "", true},
		{"no region no plus", "201234567", "", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizePhone(tt.raw, tt.region)
			if (err != nil) != tt.wantErr {
				t.Fatalf("NormalizePhone(%q, %q) = %q, %v; want error %v", tt.raw, tt.region, got, err, tt.wantErr)
			}
			if err != nil {
				if incident.ErrorCode(err) != incident.EINVALID {
					t.Errorf("error code %q, want invalid", incident.ErrorCode(err))
				}
			} else if got != tt.want {
				t.Errorf("NormalizePhone = %q, want %q", got, tt.want)
			}
			if tt.kind != "" {
				e164, kind, err := ParsePhone(tt.raw, tt.region)
				if err != nil || kind != tt.kind || e164 != tt.want {
					t.Errorf("ParsePhone = %q, %q, %v; want %q, %q", e164, kind, err, tt.want, tt.kind)
				}
			}
		})
	}
}

// TestPhoneWithoutCountryCode checks that a national number read without
// a default region says what is missing, not libphonenumber's bare
// "invalid country code".
func TestPhoneWithoutCountryCode(t *testing.T) {
	_, err := NormalizePhone("20 123 4567", "")
	if err == nil || !strings.Contains(err.Error(), "no country code") || !strings.Contains(err.Error(), "+") {
		t.Errorf("err = %v, want it to ask for the +country code", err)
	}
	_, err = NormalizePhone("+999 123 4567", "HU")
	if err == nil || strings.Contains(err.Error(), "no country code") {
		t.Errorf("an unknown +code: err = %v, want another reason", err)
	}
}

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"plain", "anna@example.com", "anna@example.com"},
		{"trimmed, domain lowered", "  Anna.Kovacs@Example.HU ", "Anna.Kovacs@example.hu"},
		{"plus tag", "j.nowak+status@firma.pl", "j.nowak+status@firma.pl"},
		{"subdomain", "ivo@mail.tvrtka.co.hr", "ivo@mail.tvrtka.co.hr"},
		{"punycode domain", "a@xn--pld-ula.hu", "a@xn--pld-ula.hu"},
		{"display name", "Alice <a@x.com>", ""},
		{"no dot in domain", "a@b", ""},
		{"quoted local", `"a b"@x.com`, ""},
		{"two ats", "a@b@c.com", ""},
		{"trailing dot", "a@x.com.", ""},
		{"underscore in domain", "a@x_y.com", ""},
		{"hyphen edge", "a@-x.com", ""},
		{"idn refused", "a@példa.hu", ""},
		{"comment", "a@x.com (Alice)", ""},
		{"too long", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + ".com", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeEmail(tt.raw)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("NormalizeEmail(%q) = %q, want an error", tt.raw, got)
				}
				if incident.ErrorCode(err) != incident.EINVALID {
					t.Errorf("code %q", incident.ErrorCode(err))
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", tt.raw, got, err, tt.want)
			}
		})
	}
}

func TestValidSlackTarget(t *testing.T) {
	tests := []struct {
		name, in string
		want     SlackTargetKind
		wantErr  bool
	}{
		{"member", "U0123ABCD", SlackConversation, false},
		{"enterprise member", "W012ABCDEF", SlackConversation, false},
		{"channel", "C0123ABCD", SlackConversation, false},
		{"private group", "G0123ABCD", SlackConversation, false},
		{"dm", "D0123ABCD", SlackConversation, false},
		{"hooks.slack.com", "https://hooks.slack.com/services/T000/B000/XXXX", SlackWebhook, false},
		{"other https host", "https://chat.example.com/hooks/abc", SlackWebhook, false},
		{"http refused", "http://hooks.slack.com/services/T/B/X", "", true},
		{"lower-case id", "u0123abcd", "", true},
		{"short id", "U012", "", true},
		{"channel name", "#general", "", true},
		{"webhook without scheme", "hooks.slack.com/services/T000/B000/XXXX", "", true},
		{"empty", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ValidSlackTarget(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ValidSlackTarget(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "/services/") {
				t.Errorf("error leaks the webhook path: %v", err)
			}
		})
	}
}

func TestNormalizeLanguage(t *testing.T) {
	tests := []struct{ in, want string }{
		{"hu", "hu"}, {"hu-HU", "hu"}, {"HU", "hu"}, {"pl_PL", "pl"}, {"hr-HR", "hr"}, {"en-GB", "en"}, {"hrv", "hr"},
		{"de", ""}, {"sr", ""}, {"", ""}, {"not a tag!", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeLanguage(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("NormalizeLanguage(%q) = %q, want error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("NormalizeLanguage(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestValidTimeZone(t *testing.T) {
	for _, tz := range []string{"Europe/Budapest", "Europe/Warsaw", "Europe/Zagreb", "Europe/Sarajevo", "Etc/UTC", "UTC"} {
		t.Run(tz, func(t *testing.T) {
			if err := ValidTimeZone(tz); err != nil {
				t.Error(err)
			}
		})
	}
	for _, tz := range []string{"", "Local", "Europe/Budapes", "CET+1", "../etc/passwd"} {
		t.Run("bad "+tz, func(t *testing.T) {
			if err := ValidTimeZone(tz); err == nil {
				t.Errorf("ValidTimeZone(%q) accepted", tz)
			}
		})
	}
}

// TestParsePhoneCached: a number read again comes from the cache with the
// same answer, errors included, and the cache stays bounded.
func TestParsePhoneCached(t *testing.T) {
	for _, raw := range []string{"+36 20 123 4567", "06 20 123 4567", "+3612345678", "not a number", "+1 800 555 0100"} {
		e1, k1, err1 := ParsePhone(raw, "HU")
		e2, k2, err2 := ParsePhone(raw, "HU")
		e3, k3, err3 := parsePhone(raw, "HU")
		if e1 != e2 || k1 != k2 || (err1 == nil) != (err2 == nil) || e1 != e3 || k1 != k3 || (err1 == nil) != (err3 == nil) {
			t.Errorf("%q: %q %s %v, again %q %s %v, uncached %q %s %v", raw, e1, k1, err1, e2, k2, err2, e3, k3, err3)
		}
	}
	for i := range 3 * phoneCacheSize {
		ParsePhone(fmt.Sprintf("+36 20 %07d", i), "HU")
	}
	parsed.mu.Lock()
	n := len(parsed.cur) + len(parsed.old)
	parsed.mu.Unlock()
	if n > 2*phoneCacheSize {
		t.Errorf("cache holds %d answers, want at most %d", n, 2*phoneCacheSize)
	}
}
