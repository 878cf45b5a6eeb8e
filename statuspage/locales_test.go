package statuspage

import (
	"testing"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/locale"
)

// TestLocalesComplete checks that the word catalogue (package locale, whose
// own tests hold every language to every key and plural form) has every
// message the page looks up.
func TestLocalesComplete(t *testing.T) {
	cat, err := locale.Default()
	if err != nil {
		t.Fatal(err)
	}
	en := cat.Lang("en")
	t.Run("static ids are all defined", func(t *testing.T) {
		for _, id := range staticIDs {
			if _, ok := en.Lookup(id); !ok {
				t.Errorf("staticIDs names %s, which the catalogue lacks or which takes data", id)
			}
		}
	})
	t.Run("enums have names", func(t *testing.T) {
		all, err := loadLangs()
		if err != nil {
			t.Fatal(err)
		}
		for code, l := range all {
			for _, s := range incident.ComponentStatuses {
				if l.ComponentStatus(s) == "" {
					t.Errorf("%s: no name for component status %s", code, s)
				}
			}
			for _, s := range append(append([]incident.Status{}, incident.IncidentStatuses...), incident.MaintenanceStatuses...) {
				if l.Status(s) == "" {
					t.Errorf("%s: no name for status %s", code, s)
				}
			}
			for _, i := range []incident.Impact{incident.ImpactNone, incident.ImpactMinor, incident.ImpactMajor, incident.ImpactCritical, incident.ImpactMaintenance} {
				if l.Impact(i) == "" {
					t.Errorf("%s: no name for impact %s", code, i)
				}
			}
		}
	})
}

func TestPlurals(t *testing.T) {
	all, err := loadLangs()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		lang string
		n    int
		want string
	}{
		{"en", 1, "1 incident"}, {"en", 5, "5 incidents"},
		{"pl", 1, "1 incydent"}, {"pl", 3, "3 incydenty"}, {"pl", 5, "5 incydentów"}, {"pl", 22, "22 incydenty"},
		{"hr", 1, "1 incident"}, {"hr", 3, "3 incidenta"}, {"hr", 5, "5 incidenata"}, {"hr", 21, "21 incident"},
		{"hu", 2, "2 incidens"},
	}
	maint := []struct {
		lang string
		n    int
		want string
	}{
		{"en", 1, "1 maintenance"}, {"en", 2, "2 maintenances"}, {"hu", 2, "2 karbantartás"},
		{"pl", 1, "1 przerwa serwisowa"}, {"pl", 3, "3 przerwy serwisowe"}, {"pl", 5, "5 przerw serwisowych"},
		{"hr", 1, "1 održavanje"}, {"hr", 3, "3 održavanja"}, {"hr", 21, "21 održavanje"},
	}
	for _, tc := range maint {
		if got := all[tc.lang].Plural("MaintenancesCount", tc.n); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.lang, got, tc.want)
		}
	}
	for _, tc := range tests {
		t.Run(tc.lang+"/"+tc.want, func(t *testing.T) {
			if got := all[tc.lang].Plural("IncidentsCount", tc.n); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
