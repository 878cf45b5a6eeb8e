package reports_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald/complaint"
)

// TestCurveStopsAtTheReportsTime: a report written minutes after the
// resolution draws no buckets for times that have not happened yet.
func TestCurveStopsAtTheReportsTime(t *testing.T) {
	svc := fixture(t, engines["sqlite"](t))
	now := at(92 * time.Minute) // two minutes after the resolution
	svc.Now = func() time.Time { return now }
	r, err := svc.Incident(context.Background(), "p1", "i1")
	must(t, err)
	cf := r.Complaints
	if end := now.Add(complaint.TallyBucket - 1).Truncate(complaint.TallyBucket); !cf.CurveTo.Equal(end) {
		t.Errorf("the curve ends at %s, want %s (the report's time, rounded up to a bucket)", cf.CurveTo, end)
	}
	if n := len(cf.Curve); n == 0 || cf.Curve[n-1].At.After(now) {
		t.Errorf("the curve's last bucket starts after the report's time %s: %+v", now, cf.Curve[len(cf.Curve)-1])
	}
	// Long after, it still ends two hours past the resolution.
	svc.Now = func() time.Time { return at(48 * time.Hour) }
	r, err = svc.Incident(context.Background(), "p1", "i1")
	must(t, err)
	if want := at(90*time.Minute + 2*time.Hour); !r.Complaints.CurveTo.Equal(want) {
		t.Errorf("a day later the curve ends at %s, want %s", r.Complaints.CurveTo, want)
	}
}
