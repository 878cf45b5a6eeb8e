package statuspage

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/incident"
)

// seedBenchmark builds a page through the Service: 20 components (two
// groups of five), three incidents (one open) and two maintenances (one in
// progress, one upcoming), with a few weeks of status history.
func seedBenchmark(b *testing.B) (*env, string) {
	b.Helper()
	ctx := context.Background()
	start := ts("2026-01-01T00:00:00Z")
	e := newEnv(b, start)
	name, url := "Bench", "https://status.bench.test"
	p, err := e.svc.CreatePage(ctx, incident.PageInput{Name: &name, URL: &url})
	if err != nil {
		b.Fatal(err)
	}
	var ids []string
	for g := 0; g < 2; g++ {
		gname := fmt.Sprintf("Group %d", g)
		grp, err := e.svc.CreateGroup(ctx, p.ID, incident.GroupInput{Name: &gname})
		if err != nil {
			b.Fatal(err)
		}
		var members []string
		for i := 0; i < 5; i++ {
			cname := fmt.Sprintf("Service %d-%d", g, i)
			c, err := e.svc.CreateComponent(ctx, p.ID, incident.ComponentInput{Name: &cname})
			if err != nil {
				b.Fatal(err)
			}
			members = append(members, c.ID)
			ids = append(ids, c.ID)
		}
		if _, err := e.svc.UpdateGroup(ctx, p.ID, grp.ID, incident.GroupInput{ComponentIDs: members}); err != nil {
			b.Fatal(err)
		}
	}
	for i := len(ids); i < 20-2; i++ { // 18 components + 2 groups = 20
		cname := fmt.Sprintf("Standalone %d", i)
		c, err := e.svc.CreateComponent(ctx, p.ID, incident.ComponentInput{Name: &cname})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	body := "We are investigating reports of **errors**.\nMore at [the blog](https://bench.test/blog)."
	for i := 0; i < 3; i++ {
		e.clock.Set(start.Add(time.Duration(i*20+10) * 24 * time.Hour))
		iname := fmt.Sprintf("Incident %d", i)
		inc, _, err := e.svc.CreateIncident(ctx, p.ID, incident.IncidentInput{Name: &iname, Body: &body,
			Components: map[string]incident.ComponentStatus{ids[i]: incident.MajorOutage, ids[i+5]: incident.DegradedPerformance}}, "")
		if err != nil {
			b.Fatal(err)
		}
		for _, st := range []incident.Status{incident.Identified, incident.Monitoring, incident.Resolved} {
			if i == 2 && st == incident.Monitoring {
				break // the last one stays open
			}
			e.clock.Set(e.clock.Now().Add(40 * time.Minute))
			st := st
			text := "Progress: " + string(st)
			if _, err := e.svc.UpdateIncident(ctx, p.ID, inc.ID, incident.IncidentInput{Status: &st, Body: &text}); err != nil {
				b.Fatal(err)
			}
		}
	}
	now := e.clock.Now()
	for i, d := range []time.Duration{-time.Hour, 72 * time.Hour} {
		mname := fmt.Sprintf("Maintenance %d", i)
		from, until := now.Add(d), now.Add(d+2*time.Hour)
		if d < 0 {
			e.clock.Set(now.Add(-2 * time.Hour))
		}
		m, _, err := e.svc.CreateIncident(ctx, p.ID, incident.IncidentInput{Name: &mname, Body: &body, ScheduledFor: &from, ScheduledUntil: &until,
			ComponentIDs: []string{ids[10+i]}}, "")
		if err != nil {
			b.Fatal(err)
		}
		e.clock.Set(now)
		if d < 0 {
			st := incident.InProgress
			if _, err := e.svc.UpdateIncident(ctx, p.ID, m.ID, incident.IncidentInput{Status: &st}); err != nil {
				b.Fatal(err)
			}
		}
	}
	return e, p.ID
}

// BenchmarkRenderPage renders a page with 20 components, 3 incidents and
// 2 maintenances: all eight JSON documents, both feeds, and the status,
// history and five incident pages in four languages. "update" is the
// render after an update to the open incident (what stands between a
// change and summary.json); "cold" rebuilds every asset (first render);
// "unchanged" is the periodic re-render.
func BenchmarkRenderPage(b *testing.B) {
	e, pageID := seedBenchmark(b)
	ctx := context.Background()
	if err := e.site.RenderPage(ctx, pageID); err != nil {
		b.Fatal(err)
	}
	if _, ok := e.site.Lookup("status.bench.test", "/api/v2/summary.json", ""); !ok {
		b.Fatal("not rendered")
	}
	open, _, err := e.svc.Incidents(ctx, incident.IncidentFilter{PageID: pageID, Maintenance: &no, Statuses: []incident.Status{incident.Identified}})
	if err != nil || len(open) != 1 {
		b.Fatalf("want one open incident, got %d (%v)", len(open), err)
	}
	b.Run("update", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		var cpu time.Duration
		defer func() { b.ReportMetric(float64(cpu.Microseconds())/float64(max(n, 1))/1000, "cpu-ms/op") }()
		for b.Loop() {
			b.StopTimer()
			n++
			text := fmt.Sprintf("Update %d", n)
			e.clock.Set(e.clock.Now().Add(time.Second))
			if _, err := e.svc.EditUpdate(ctx, pageID, open[0].ID, open[0].Updates[0].ID, incident.UpdateEdit{Body: &text}); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			c0 := cpuTime()
			if err := e.site.RenderPage(ctx, pageID); err != nil {
				b.Fatal(err)
			}
			cpu += cpuTime() - c0
		}
	})
	// Edits of the newest update keep the incident the same size however
	// many iterations run.
	// "summary" is the part of an update's render after which summary.json
	// serves the change: the store reads, JSON and feeds (build publishes
	// them before the HTML). ns/op is the whole render again, for comparison.
	b.Run("summary", func(b *testing.B) {
		n := 0
		var early time.Duration
		for b.Loop() {
			b.StopTimer()
			n++
			text := fmt.Sprintf("Summary %d", n)
			e.clock.Set(e.clock.Now().Add(time.Second))
			if _, err := e.svc.EditUpdate(ctx, pageID, open[0].ID, open[0].Updates[0].ID, incident.UpdateEdit{Body: &text}); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			start := time.Now()
			s := e.site
			s.renderMu.Lock()
			in, err := s.load(ctx, pageID)
			if err != nil {
				b.Fatal(err)
			}
			snap, _, err := build(in, s.state.Load().pages[pageID], func(sn *snapshot) {
				early += time.Since(start)
				s.swap(func(st *siteState) { st.pages[pageID] = sn })
			})
			if err != nil {
				b.Fatal(err)
			}
			s.swap(func(st *siteState) { st.pages[pageID] = snap })
			s.renderMu.Unlock()
		}
		b.ReportMetric(float64(early.Microseconds())/float64(n)/1000, "ms-to-summary/op")
	})
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e.site.renderMu.Lock()
			e.site.swap(func(st *siteState) { delete(st.pages, pageID) })
			e.site.renderMu.Unlock()
			if err := e.site.RenderPage(ctx, pageID); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := e.site.RenderPage(ctx, pageID); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// cpuTime is the process's user and system time: on a shared machine it
// says more about a render's cost than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
