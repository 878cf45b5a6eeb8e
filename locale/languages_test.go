package locale_test

import (
	"slices"
	"testing"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/locale"
)

// TestLanguagesAreIncidents is an external test: package incident uses the
// catalogue (the words of its automatic maintenance updates).
func TestLanguagesAreIncidents(t *testing.T) {
	if !slices.Equal(locale.Languages, incident.Languages) {
		t.Errorf("locale.Languages %v, incident.Languages %v", locale.Languages, incident.Languages)
	}
	if locale.Languages[0] != locale.Fallback {
		t.Errorf("Languages[0] = %q, want the fallback %q first", locale.Languages[0], locale.Fallback)
	}
}
