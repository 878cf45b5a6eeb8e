package incident_test

import (
	"testing"

	"github.com/heraldhq/herald/incident"
)

func TestActorName(t *testing.T) {
	for _, a := range []incident.Actor{
		{TokenID: "1f7wz91hdjku", Name: "Tóth Péter"}, {TokenID: "1f7wz91hdjku"}, {Name: "cli"}, {},
	} {
		want := map[string]string{"Tóth Péter": "Tóth Péter", "": "token 1f7wz91hdjku"}[a.Name]
		if a.Name == "cli" {
			want = "cli"
		} else if a.TokenID == "" {
			want = "system"
		}
		if got := incident.ActorName(a.String()); got != want {
			t.Errorf("ActorName(%q) = %q, want %q", a.String(), got, want)
		}
	}
	if got := incident.ActorName("Ana (token x) and (token y)"); got != "Ana (token x) and" {
		t.Errorf("only the last token suffix goes: %q", got)
	}
}
