package render

import (
	"regexp"
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
