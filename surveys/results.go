package surveys

import (
	"context"
	"math"
	"sort"
	"strings"

	"github.com/heraldhq/herald/incident"
)

// Results are an incident's survey results, from the tallies the store
// keeps (never a scan of the surveys) and the newest comments.
type Results struct {
	PageID     string `json:"page_id"`
	IncidentID string `json:"incident_id"`
	Summary
	// By splits the results: "channel", "language", "segment" → value →
	// the summary of that group.
	By       map[string]map[string]Summary `json:"by"`
	Comments []Comment                     `json:"comments"` // newest first, at most MaxComments
}

// Summary is one group's figures.
type Summary struct {
	Scheduled int `json:"scheduled"`
	Sent      int `json:"sent"`
	Answered  int `json:"answered"`
	Skipped   int `json:"skipped"`
	// Scored counts the answers that gave a score (1 to 5): CSAT and
	// Average are over them.
	Scored int `json:"scored"`
	// ResponseRate is answered / sent; CSAT the share of scored answers
	// scoring 4 or 5; Average the mean score. Each is rounded to 3
	// decimals, and null (nil) when there is nothing to divide by: no
	// survey sent, no score yet. Null is "not measured", never 0: a
	// satisfaction of 0 would read as every customer unhappy.
	ResponseRate *float64       `json:"response_rate"`
	CSAT         *float64       `json:"csat"`
	Average      *float64       `json:"average"`
	Scores       map[string]int `json:"scores"` // "1" … "5"
	Informed     map[string]int `json:"informed"`
	Received     map[string]int `json:"received"`
	// Comments counts the answers with words. Its JSON name is not
	// "comments": Results lists the comments under that name, and
	// encoding/json would drop this count, the deeper of the two.
	Comments int `json:"commented"`
}

// Comment is one answer's words, for people to read (escape them where
// they are shown).
type Comment struct {
	SurveyID string `json:"survey_id"`
	// Score is the answer's score, 1 to 5; null (nil) for words the
	// customer wrote without one.
	Score    *int   `json:"score"`
	Channel  string `json:"channel"`
	Language string `json:"language"`
	Text     string `json:"text"`
	At       string `json:"at"`
}

// MaxComments bounds the comments Results lists.
const MaxComments = 50

// Summarize turns a tally into figures.
func Summarize(t *Tally) Summary {
	s := Summary{Scores: map[string]int{}, Informed: map[string]int{}, Received: map[string]int{}}
	if t == nil {
		return s
	}
	s.Scheduled, s.Sent, s.Answered, s.Skipped, s.Comments = t.Scheduled, t.Sent, t.Answered, t.Skipped, t.Comments
	n, sum, happy := 0, 0, 0
	for score := 1; score <= 5; score++ {
		c := t.Scores[score]
		s.Scores[string(rune('0'+score))] = c
		n += c
		sum += c * score
		if score >= 4 {
			happy += c
		}
	}
	for k, v := range t.Informed {
		if v != 0 {
			s.Informed[k] = v
		}
	}
	for k, v := range t.Received {
		if v != 0 {
			s.Received[k] = v
		}
	}
	s.Scored = n
	if s.Sent > 0 {
		s.ResponseRate = Ratio(s.Answered, s.Sent)
	}
	if n > 0 {
		s.CSAT = Ratio(happy, n)
		s.Average = Ratio(sum, n)
	}
	return s
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// Ratio is n / of rounded to 3 decimals, or nil when of is 0: a figure
// with nothing to measure it by is absent, not zero.
func Ratio(n, of int) *float64 {
	if of == 0 {
		return nil
	}
	v := round3(float64(n) / float64(of))
	return &v
}

// Results computes an incident's results.
func (s *Service) Results(ctx context.Context, pageID, incidentID string) (*Results, error) {
	inc, err := s.Incidents.FindIncidentByID(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	if inc.PageID != pageID {
		return nil, incident.NotFound("incident", incidentID)
	}
	ts, err := s.Store.Tallies(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	r := &Results{PageID: pageID, IncidentID: incidentID, Summary: Summarize(ts[""]), By: map[string]map[string]Summary{
		"channel": {}, "language": {}, "segment": {}}, Comments: []Comment{}}
	for key, t := range ts {
		kind, value, ok := strings.Cut(key, ":")
		if !ok || r.By[kind] == nil {
			continue
		}
		r.By[kind][value] = Summarize(t)
	}
	// The newest comments: answered surveys, read in pages.
	after := ""
	for len(r.Comments) < MaxComments*4 {
		ss, err := s.Store.FindSurveys(ctx, incidentID, Answered, after, 1000)
		if err != nil {
			return nil, err
		}
		for _, sv := range ss {
			if sv.Answer != nil && sv.Answer.Comment != "" {
				c := Comment{SurveyID: sv.ID, Channel: string(sv.Channel),
					Language: sv.Language, Text: sv.Answer.Comment, At: sv.Answer.At.UTC().Format("2006-01-02T15:04:05Z")}
				if sv.Answer.Scored() {
					score := sv.Answer.Score
					c.Score = &score
				}
				r.Comments = append(r.Comments, c)
			}
		}
		if len(ss) < 1000 {
			break
		}
		after = ss[len(ss)-1].ID
	}
	sort.SliceStable(r.Comments, func(i, j int) bool { return r.Comments[i].At > r.Comments[j].At })
	if len(r.Comments) > MaxComments {
		r.Comments = r.Comments[:MaxComments]
	}
	return r, nil
}
