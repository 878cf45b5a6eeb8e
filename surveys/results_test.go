package surveys

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald/channel"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestResultsGolden: the results arithmetic on a fixed set of surveys
// (scheduled, skipped, sent, answered, changed answers, comments, split
// by channel, language and segment), through the tallies the engines
// keep (TallyChanges) and Summarize, against testdata/results.json.
func TestResultsGolden(t *testing.T) {
	type step struct {
		ch       channel.Kind
		lang     string
		seg      string
		states   []State
		scores   []int // one per answer, in order (a change replaces)
		informed Informed
		received Received
		comment  string
	}
	steps := []step{
		{channel.SMS, "hu", "gold", []State{Scheduled, Sent, Answered}, []int{5}, InformedYes, "", ""},
		{channel.SMS, "hu", "gold", []State{Scheduled, Sent, Answered, Answered}, []int{4, 2}, InformedPartly, ReceivedNotYet, "still waiting"},
		{channel.Email, "en", "silver", []State{Scheduled, Sent, Answered}, []int{1}, InformedNo, ReceivedNo, "nobody told me"},
		{channel.Email, "en", "silver", []State{Scheduled, Sent}, nil, "", "", ""},
		{channel.Slack, "pl", "gold", []State{Scheduled, Sent, Answered}, []int{4}, InformedYes, ReceivedYes, ""},
		{channel.Slack, "hr", "", []State{Scheduled, Skipped}, nil, "", "", ""},
		{channel.SMS, "hr", "bronze", []State{Scheduled}, nil, "", "", ""},
		{channel.Email, "hu", "gold", []State{Scheduled, Sent, Answered}, []int{3}, InformedYes, "", "ok"},
	}
	tallies := map[string]*Tally{}
	for _, st := range steps {
		var prev *Survey
		answers := 0
		for _, state := range st.states {
			s := &Survey{ID: "s", PageID: "p", IncidentID: "i", Key: "k", Channel: st.ch, Language: st.lang, Segment: st.seg, State: state}
			if state == Answered {
				s.Answer = &Answer{Score: st.scores[answers], Informed: st.informed, Received: st.received, Comment: st.comment}
				answers++
			}
			for _, ch := range TallyChanges(prev, s) {
				if tallies[ch.Key] == nil {
					tallies[ch.Key] = &Tally{}
				}
				tallies[ch.Key].Apply(ch.Field, ch.Delta)
			}
			prev = s
		}
	}
	got := map[string]Summary{}
	for k, t := range tallies {
		got[k] = Summarize(t)
	}
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := filepath.Join("testdata", "results.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("results differ from testdata/results.json (go test ./surveys -run ResultsGolden -update to accept):\n%s", b)
	}
	// The whole: 8 surveys, 1 waiting, 1 skipped, 6 sent, 5 answered;
	// scores 5, 2 (changed from 4), 1, 4, 3: CSAT 2/5, average 3.
	all := got[""]
	if all.Scheduled != 1 || all.Skipped != 1 || all.Sent != 6 || all.Answered != 5 || all.Scored != 5 || !is(all.CSAT, 0.4) || !is(all.Average, 3) || !is(all.ResponseRate, 0.833) {
		t.Errorf("overall %+v", all)
	}
}

// is reports whether the figure p exists and is v.
func is(p *float64, v float64) bool { return p != nil && *p == v }

// TestResultsJSONCountsComments: the count of answers with words and the
// list of the newest comments both reach the JSON (they once shared the
// name "comments", and encoding/json dropped the count).
func TestResultsJSONCountsComments(t *testing.T) {
	r := Results{PageID: "p1", IncidentID: "inc1", Summary: Summary{Answered: 3, Comments: 2},
		Comments: []Comment{{SurveyID: "s1", Text: "slow"}, {SurveyID: "s2", Text: "fine"}}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if n, ok := got["commented"].(float64); !ok || n != 2 {
		t.Errorf("commented = %v in %s, want 2", got["commented"], b)
	}
	if list, ok := got["comments"].([]any); !ok || len(list) != 2 {
		t.Errorf("comments = %v in %s, want the list of 2", got["comments"], b)
	}
}
