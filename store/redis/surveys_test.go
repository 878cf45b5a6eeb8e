package redis

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/surveys"
)

// TestSurveyKeysShareASlot checks that every key a survey script is
// given carries one hash tag, whatever the incident and survey IDs hold:
// the page's for the page scripts, {global} for the claim, and for a
// single Redis's create the page's followed by the global lookups. Each
// script is legal on Redis Cluster.
func TestSurveyKeysShareASlot(t *testing.T) {
	db := &DB{keys: keyspace{prefix: "herald"}}
	check := func(t *testing.T, name, odd string, keys []string, tag string) {
		t.Helper()
		seen := map[string]bool{}
		for _, k := range keys {
			if got := hashTag(k); got != tag {
				t.Errorf("%s (ID %q): key %s hashes %q, not %q", name, odd, k, got, tag)
			}
			if seen[k] {
				t.Errorf("%s (ID %q): key %s passed twice", name, odd, k)
			}
			seen[k] = true
		}
	}
	for _, odd := range []string{"i1", "{i1}", "}{", "a:b", "", "ünï {code}"} {
		check(t, "createSurveysScript", odd, db.createSurveysKeys("p1", odd), "p1")
		check(t, "saveSurveyScript", odd, db.saveSurveyKeys("p1", odd, surveys.Scheduled, surveys.Sent), "p1")
		check(t, "FindSurveys, Tallies, FindDueSurveys, LastSurveyed, FindSettings", odd,
			[]string{db.keys.surveysByIncident("p1", odd), db.keys.surveyTallies("p1", odd), db.keys.surveysDue("p1"),
				db.keys.surveyLast("p1"), db.keys.surveySettings("p1"), db.keys.surveys("p1"), db.keys.surveyAddresses("p1")}, "p1")
		check(t, "claimSurveysScript", odd, []string{db.keys.surveyIncidents(), db.keys.surveyPageIDs(), db.keys.surveyPages(odd)}, "global")
		for _, st := range surveys.States {
			if k := db.keys.surveysByState("p1", string(st), odd); hashTag(k) != "p1" {
				t.Errorf("state %s (ID %q): key %s is not in the page's slot", st, odd, k)
			}
		}
	}
	// Every state's index differs from the others and from the
	// incident's, whatever the incident ID.
	seen := map[string]string{db.keys.surveysByIncident("p1", "scheduled:i1"): "the incident scheduled:i1"}
	for _, st := range surveys.States {
		for _, inc := range []string{"i1", "x:i1", "scheduled:i1"} {
			k := db.keys.surveysByState("p1", string(st), inc)
			if prev, ok := seen[k]; ok {
				t.Errorf("%s of %s shares the key %s with %s", st, inc, k, prev)
			}
			seen[k] = string(st) + " of " + inc
		}
	}
}

// TestSurveyAddressMembers checks the surveys:addresses members: one
// pair's prefix never begins another pair's members, and the members of
// one address sort as their SentAt.
func TestSurveyAddressMembers(t *testing.T) {
	pairs := [][2]string{{"sms", "+3620"}, {"sms", "+36201"}, {"sms1", ":+3620"}, {"sm", "s5:+3620"}, {"sms", ""}, {"email", "a@b"}}
	for i, a := range pairs {
		for j, b := range pairs {
			if i == j {
				continue
			}
			pa := surveyAddressPrefix(channel.Kind(a[0]), a[1])
			pb := surveyAddressPrefix(channel.Kind(b[0]), b[1])
			if strings.HasPrefix(pb, pa) {
				t.Errorf("prefix of %v (%q) begins that of %v (%q)", a, pa, b, pb)
			}
		}
	}
	v := &surveys.Survey{ID: "s1", Channel: channel.SMS, Address: "+3620"}
	var last string
	for _, ms := range []int64{-5000, -1, 0, 1, 999, 1 << 40} {
		at := time.UnixMilli(ms).UTC()
		v.SentAt = &at
		m := surveyAddress(v)
		if last != "" && m <= last {
			t.Errorf("member at %d ms (%q) sorts before the earlier one (%q)", ms, m, last)
		}
		last = m
	}
	v.SentAt = nil
	if m := surveyAddress(v); m != "" {
		t.Errorf("an unsent survey's member = %q, want none", m)
	}
}
