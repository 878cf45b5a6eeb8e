package incident

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestInvalidEnumsListTheValidOnes: a mistyped status, component status
// or language is refused naming its field and listing what is accepted.
func TestInvalidEnumsListTheValidOnes(t *testing.T) {
	bad := Status("fixed")
	badComp := ComponentStatus("broken")
	tests := []struct {
		name  string
		in    IncidentInput
		field string
		want  []string
	}{
		{"status", IncidentInput{Status: &bad}, "status", []string{"investigating", "identified", "monitoring", "resolved", "in_progress", "completed"}},
		{"component status", IncidentInput{Components: map[string]ComponentStatus{"c1": badComp}}, "components", []string{"operational", "degraded_performance", "major_outage"}},
		{"message language", IncidentInput{Messages: map[string]string{"de": "Hallo"}}, "messages.de", []string{"en, hu, pl, hr"}},
		{"message too long", IncidentInput{Messages: map[string]string{"hu": strings.Repeat("x", MaxBodyLen+1)}}, "messages.hu", []string{"at most"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate(time.Now())
			var e *Error
			if err == nil || !errors.As(err, &e) || e.Field != tt.field {
				t.Fatalf("Validate = %v, want an error on %s", err, tt.field)
			}
			for _, w := range tt.want {
				if !strings.Contains(e.Message, w) {
					t.Errorf("%q does not list %q", e.Message, w)
				}
			}
		})
	}
	if err := CanMove(Investigating, bad); err == nil || !strings.Contains(err.Error(), "monitoring") {
		t.Errorf("CanMove: %v", err)
	}
	in := IncidentInput{Messages: map[string]string{"hu": "Vizsgáljuk.", "pl": "  "}}
	if err := in.Validate(time.Now()); err != nil || len(in.Messages) != 1 {
		t.Errorf("a blank text per language is dropped: %v %v", err, in.Messages)
	}
}
