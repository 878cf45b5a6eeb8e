package console

import (
	"context"
	"html/template"
	"strconv"
	"time"

	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/reports"
)

// maxCurveColumns bounds the complaint curve's columns: a long incident
// is drawn with wider intervals.
const maxCurveColumns = 48

// minCurveBuckets is the shortest curve, in complaint.TallyBucket.
const minCurveBuckets = 6

// curveRow is one interval of the complaint curve, for the table beside
// the chart.
type curveRow struct {
	From, To         string
	Tagged, Untagged int
}

// curveView is the complaint curve on an incident's live view: the chart
// (server-drawn SVG, reports.BarChart) and its figures as a table.
type curveView struct {
	SVG       template.HTML
	Rows      []curveRow // intervals with complaints
	Minutes   int        // one interval
	Tagged    int
	Untagged  int
	HasPoints bool
}

// complaintCurve counts the complaints per interval since the incident
// began (to its resolution, or now; widened to the first and last
// complaint tagged to it): those tagged to it, and those
// waiting in triage (untagged, on the whole page) at the same time. It
// reads the tallies the engines keep (complaint.Tally), not the complaints.
func (cs *Console) complaintCurve(ctx context.Context, v *view, pageID string, inc *incident.Incident, tz *time.Location) (*curveView, error) {
	st := cs.cfg.Complaints.Store
	tagged, err := st.ComplaintTally(ctx, pageID, complaint.TallyScope(inc.ID))
	if err != nil {
		return nil, err
	}
	untagged, err := st.ComplaintTally(ctx, pageID, complaint.TallyUntagged)
	if err != nil {
		return nil, err
	}
	from := inc.StartedAt.Truncate(complaint.TallyBucket)
	to := cs.now()
	if inc.ResolvedAt != nil {
		to = *inc.ResolvedAt
	}
	// The complaints tagged to it widen the window: customers write
	// before a declaration and after a resolution, and the chart must
	// count what the tile beside it counts.
	if all := tagged.Curve(time.Time{}, time.Time{}); len(all) > 0 {
		if first := all[0].At.Truncate(complaint.TallyBucket); first.Before(from) {
			from = first
		}
		if last := all[len(all)-1].At.Add(complaint.TallyBucket); last.After(to) {
			to = last
		}
	}
	to = to.Add(complaint.TallyBucket - 1).Truncate(complaint.TallyBucket)
	// At least half an hour: a young incident's first bars are bars, and
	// the chart fills from the left as time goes.
	if least := from.Add(minCurveBuckets * complaint.TallyBucket); to.Before(least) {
		to = least
	}
	buckets := int(to.Sub(from) / complaint.TallyBucket)
	per := max(1, (buckets+maxCurveColumns-1)/maxCurveColumns)
	width := time.Duration(per) * complaint.TallyBucket
	n := (buckets + per - 1) / per
	t, u := make([]int, n), make([]int, n)
	add := func(vals []int, ps []complaint.CurvePoint) int {
		sum := 0
		for _, p := range ps {
			if i := int(p.At.Sub(from) / width); i >= 0 && i < n {
				vals[i] += p.N
				sum += p.N
			}
		}
		return sum
	}
	out := &curveView{Minutes: int(width / time.Minute)}
	out.Tagged = add(t, tagged.Curve(from, to))
	out.Untagged = add(u, untagged.Curve(from, to))
	out.HasPoints = out.Tagged+out.Untagged > 0
	labels := make([]string, n)
	every := max(1, n/8) // at most about eight labels on the axis
	for i := range n {
		at := from.Add(time.Duration(i) * width).In(tz)
		if i%every == 0 {
			labels[i] = at.Format("15:04")
		}
		if t[i]+u[i] > 0 {
			out.Rows = append(out.Rows, curveRow{From: at.Format("15:04"), To: at.Add(width).Format("15:04"), Tagged: t[i], Untagged: u[i]})
		}
	}
	chart := reports.BarChart{ID: "curve-" + inc.ID, Title: v.T("ConsoleCurveTitle"),
		Desc:   v.T("ConsoleCurveDesc", "Minutes", strconv.Itoa(out.Minutes), "Tagged", strconv.Itoa(out.Tagged), "Untagged", strconv.Itoa(out.Untagged)),
		Labels: labels,
		Series: []reports.Series{{Name: v.T("ConsoleTagged"), Color: "#D55E00", Values: t}, {Name: v.T("ConsoleCurveUntagged"), Color: "#0072B2", Values: u}}}
	out.SVG = chart.SVG()
	return out, nil
}

// addCurve puts the complaint curve into an incident page's data
// ("Curve"), drawn in the view's words and the page's time zone.
func (cs *Console) addCurve(ctx context.Context, v *view, p *incident.Page, inc *incident.Incident, data map[string]any) error {
	if cs.cfg.Complaints == nil || inc.IsMaintenance() {
		return nil
	}
	cv, err := cs.complaintCurve(ctx, v, p.ID, inc, p.Location())
	if err != nil {
		return err
	}
	data["Curve"] = cv
	return nil
}
