package render

import (
	"regexp"
	"strings"
	"testing"
)

// TestSpaceFunctions: squeezeSpace and dropSpaceBeforePunct do what the
// regexps they replaced did.
func TestSpaceFunctions(t *testing.T) {
	spaceRun := regexp.MustCompile(`[ \t\r\n\f\v]+`)
	spaceBeforePunct := regexp.MustCompile(` ([.,;:!?)])`)
	for _, s := range []string{"", " ", "  ", "a", "a b", "a  b", " a\t\n b ", "a \x00B\x00 .", "x . , ; : ! ? ) (", " .. ",
		"no change here.", "a\r\n\r\nb", "end ?", "  ,  , ", "Ünnep  –  vége !", "a\vb\fc", "x )", " . ."} {
		if got, want := squeezeSpace(s), spaceRun.ReplaceAllString(s, " "); got != want {
			t.Errorf("squeezeSpace(%q) = %q, want %q", s, got, want)
		}
		if got, want := dropSpaceBeforePunct(s), spaceBeforePunct.ReplaceAllString(s, "$1"); got != want {
			t.Errorf("dropSpaceBeforePunct(%q) = %q, want %q", s, got, want)
		}
	}
}

// TestFillSlots: fillSlots does what the strings.Replacer it replaced did.
func TestFillSlots(t *testing.T) {
	for _, vals := range []map[string]string{nil, {slotBody: "the body", slotName: "Name", slotPage: "Acme"}, {slotBody: "", slotName: "N"}} {
		for _, layout := range []string{"", "plain", slotBody, slotName + ": " + slotBody + " — " + slotPage + ".", slotBody + slotBody,
			"\x00", "a\x00b", "\x00B", "x\x00B\x00N\x00y", "end\x00P"} {
			want := strings.NewReplacer(slotBody, vals[slotBody], slotName, vals[slotName], slotPage, vals[slotPage]).Replace(layout)
			if got := fillSlots(layout, vals); got != want {
				t.Errorf("fillSlots(%q, %v) = %q, want %q", layout, vals, got, want)
			}
		}
	}
}
