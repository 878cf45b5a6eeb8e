package statuspage

import (
	"sort"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/heraldhq/herald/incident"
)

var pluralForms = map[string][]string{
	"en": {"one", "other"},
	"hu": {"one", "other"},
	"pl": {"one", "few", "many", "other"},
	"hr": {"one", "few", "other"},
}

// TestLocalesComplete checks that every message exists in every language,
// and that plural messages have each form the language's grammar needs.
func TestLocalesComplete(t *testing.T) {
	files := map[string]map[string]any{}
	for _, code := range incident.Languages {
		raw, err := localeFS.ReadFile("locales/active." + code + ".toml")
		if err != nil {
			t.Fatalf("%s: %v", code, err)
		}
		m := map[string]any{}
		if err := toml.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s: %v", code, err)
		}
		files[code] = m
	}
	ids := func(m map[string]any) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	en := files["en"]
	for _, code := range incident.Languages {
		t.Run(code, func(t *testing.T) {
			m := files[code]
			for _, id := range ids(en) {
				if _, ok := m[id]; !ok {
					t.Errorf("%s lacks %s", code, id)
				}
			}
			for _, id := range ids(m) {
				if _, ok := en[id]; !ok {
					t.Errorf("%s has %s, which en lacks", code, id)
				}
			}
			for _, id := range ids(m) {
				table, plural := m[id].(map[string]any)
				if _, enPlural := en[id].(map[string]any); enPlural != plural {
					t.Errorf("%s: %s is plural in one language and not in the other", code, id)
				}
				if !plural {
					if s, _ := m[id].(string); strings.TrimSpace(s) == "" {
						t.Errorf("%s: %s is empty", code, id)
					}
					continue
				}
				for _, form := range pluralForms[code] {
					if s, _ := table[form].(string); strings.TrimSpace(s) == "" {
						t.Errorf("%s: plural %s lacks the %q form", code, id, form)
					}
				}
			}
		})
	}
	t.Run("static ids are all defined", func(t *testing.T) {
		for _, id := range staticIDs {
			if _, ok := en[id]; !ok {
				t.Errorf("staticIDs names %s, which the locales lack", id)
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
	for _, tc := range tests {
		t.Run(tc.lang+"/"+tc.want, func(t *testing.T) {
			if got := all[tc.lang].Plural("IncidentsCount", tc.n); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
