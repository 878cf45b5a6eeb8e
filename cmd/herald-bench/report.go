package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/node"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/reports"
)

// The report scenario is the reporting issue's benchmark: one incident
// with a million deliveries and a hundred thousand complaints, and its
// post-incident report asked for again and again. The incident (declared,
// one update, resolved, written through the incident service under a
// clock set back three hours) gets three broadcasts whose deliveries are
// written, claimed and finished through the engine's queue as a
// dispatcher would (sent over minutes, some failed, some suppressed, a
// share confirmed delivered by receipts), and its complaints are saved
// through the engine's complaint store (most tagged, some repeats, most
// answered, many resolved, some still waiting in triage), so the counters
// the report reads are the ones the engines keep in those writes. Then:
//
//	the report (reports.Service.Incident, then its HTML, JSON and CSV),
//	timed -reports times (or until -duration): p99 ≤ 500 ms on each engine.

type reportOptions struct {
	Deliveries int
	Complaints int
	Engine     string
	RedisURL   string
	Reports    int
	Duration   time.Duration
}

var defaultReport = reportOptions{Deliveries: 1_000_000, Complaints: 100_000, Engine: "both", RedisURL: "redis://127.0.0.1:6379/0",
	Reports: 200, Duration: 60 * time.Second}

func parseReport(args []string, stderr io.Writer) (reportOptions, error) {
	opt := defaultReport
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&opt.Deliveries, "deliveries", opt.Deliveries, "the incident's deliveries, over three broadcasts")
	fs.IntVar(&opt.Complaints, "complaints", opt.Complaints, "the incident's complaints (and a fifth more left untagged)")
	fs.StringVar(&opt.Engine, "engine", opt.Engine, "sqlite, redis or both")
	fs.StringVar(&opt.RedisURL, "redis", opt.RedisURL, "Redis for the Redis engine (keys under a random prefix, deleted after)")
	fs.IntVar(&opt.Reports, "reports", opt.Reports, "reports timed on each engine")
	fs.DurationVar(&opt.Duration, "duration", opt.Duration, "stop timing reports after this long, whatever -reports says")
	if err := fs.Parse(args); err != nil {
		return opt, err
	}
	if opt.Deliveries < 100 || opt.Complaints < 10 || opt.Reports < 1 || opt.Duration <= 0 {
		return opt, errors.New("report: -deliveries ≥ 100, -complaints ≥ 10, -reports ≥ 1 and -duration > 0")
	}
	switch opt.Engine {
	case "sqlite", "redis", "both":
	default:
		return opt, fmt.Errorf("report: -engine %q: want sqlite, redis or both", opt.Engine)
	}
	return opt, nil
}

// targetReportP99 is the target.
const targetReportP99 = 500 * time.Millisecond

// reportAgo is how long before the run the incident was declared.
const reportAgo = 3 * time.Hour

func benchReport(ctx context.Context, opt reportOptions, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	engines := []string{opt.Engine}
	if opt.Engine == "both" {
		engines = []string{"sqlite", "redis"}
	}
	if slices.Contains(engines, "redis") {
		eng, err := node.OpenEngine(ctx, redisConfig(opt.RedisURL, ""), nil)
		if err != nil {
			if opt.Engine == "redis" {
				return fmt.Errorf("redis at %s: %w", opt.RedisURL, err)
			}
			fmt.Fprintf(stdout, "Redis at %s does not answer (%v): Redis run skipped\n", opt.RedisURL, err)
			engines = engines[:1]
		} else {
			_ = eng.Close()
		}
	}
	fmt.Fprintf(stdout, "herald-bench report: %d CPUs, GOMAXPROCS %d, %s; %d deliveries and %d complaints for one incident; %d reports (at most %s); load average %s\n\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), opt.Deliveries, opt.Complaints, opt.Reports, opt.Duration, loadAverage())
	dir, err := os.MkdirTemp("", "herald-bench-report-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	begin := time.Now()
	rep := &report{out: stdout}
	for _, e := range engines {
		var w *world
		if e == "sqlite" {
			sub := filepath.Join(dir, "sqlite")
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return err
			}
			w, err = openSQLiteWorld(ctx, sub, log)
		} else {
			w, err = openRedisWorld(ctx, opt.RedisURL, log)
		}
		if err != nil {
			return err
		}
		err = reportRun(ctx, w, opt, rep)
		w.close()
		if err != nil {
			return fmt.Errorf("report (%s): %w", w.name, err)
		}
		fmt.Fprintln(stdout)
	}
	fmt.Fprintf(stdout, "load average after: %s\n", loadAverage())
	rep.summary(stdout, begin)
	return nil
}

func reportRun(ctx context.Context, w *world, opt reportOptions, rep *report) error {
	clock := &benchClock{offset: reportAgo + time.Hour}
	w.beforeRun = func(n *node.Node) { n.Incidents.Now = clock.now }
	// No surveys: scheduling them for a million recipients is the survey
	// feature's own work (done once, a day before anyone reads a report),
	// and would run in the background of the timing.
	w.cfg.Surveys.Mode = "off"
	if err := w.idle(ctx); err != nil {
		return err
	}
	t0 := time.Now().Add(-reportAgo).Truncate(time.Minute).UTC()
	inc, err := reportIncident(ctx, w, clock, t0)
	if err != nil {
		return fmt.Errorf("incident: %w", err)
	}
	// Seed through the engine itself, with no node planning or sending.
	w.stop()
	eng, err := node.OpenEngine(ctx, w.cfg, nil)
	if err != nil {
		return err
	}
	start := time.Now()
	err = seedDeliveries(ctx, eng, w.page.ID, inc, opt.Deliveries)
	if err != nil {
		_ = eng.Close()
		return fmt.Errorf("deliveries: %w", err)
	}
	rep.info(fmt.Sprintf("%s: write, claim and finish %d deliveries (3 broadcasts)", w.name, opt.Deliveries),
		time.Since(start).Round(time.Millisecond).String())
	start = time.Now()
	if err := seedComplaints(ctx, eng.Complaints, w.page.ID, inc, opt.Complaints); err != nil {
		_ = eng.Close()
		return fmt.Errorf("complaints: %w", err)
	}
	rep.info(fmt.Sprintf("%s: save %d complaints (+%d untagged)", w.name, opt.Complaints, opt.Complaints/5),
		time.Since(start).Round(time.Millisecond).String())
	if err := eng.Close(); err != nil {
		return err
	}
	clock.at(time.Now())
	if err := w.idle(ctx); err != nil {
		return err
	}
	svc := w.n.Reports
	agent := incident.WithActor(ctx, incident.Actor{Name: "bench agent", Role: incident.RoleAgent})
	render := func() (*reports.Report, int, error) {
		r, err := svc.Incident(agent, w.page.ID, inc.ID)
		if err != nil {
			return nil, 0, err
		}
		h, err := r.HTML("en", nil)
		if err != nil {
			return nil, 0, err
		}
		j, err := r.JSON()
		if err != nil {
			return nil, 0, err
		}
		c, err := r.CSV()
		if err != nil {
			return nil, 0, err
		}
		return r, len(h) + len(j) + len(c), nil
	}
	r, size, err := render() // a first one, untimed: connections, templates
	if err != nil {
		return err
	}
	total := 0
	for _, c := range r.Channels {
		total += c.Total
	}
	if total != opt.Deliveries || r.Complaints.Tagged != opt.Complaints {
		return fmt.Errorf("the report counts %d deliveries and %d complaints, want %d and %d", total, r.Complaints.Tagged, opt.Deliveries, opt.Complaints)
	}
	sla := "no promise due yet"
	if k := r.Complaints.SLAKept; k != nil {
		sla = fmt.Sprintf("%.1f %% of %d", *k*100, r.Complaints.SLAJudged)
	}
	rep.info(fmt.Sprintf("%s: the report", w.name), fmt.Sprintf("%d deliveries, %d tagged + %d untagged complaints, SLA kept %s, %d bytes of HTML+JSON+CSV",
		total, r.Complaints.Tagged, r.Complaints.Untagged, sla, size))
	if err := reportBreakdown(agent, w, inc, r, rep); err != nil {
		return err
	}
	var lat latencies
	deadline := time.Now().Add(opt.Duration)
	for i := 0; i < opt.Reports && time.Now().Before(deadline); i++ {
		s := time.Now()
		if _, _, err := render(); err != nil {
			return err
		}
		lat = append(lat, time.Since(s))
	}
	s := lat.sorted()
	p99 := s[min(len(s)-1, len(s)*99/100)]
	rep.add(figure{name: fmt.Sprintf("%s: post-incident report (build + HTML + JSON + CSV)", w.name),
		value:  fmt.Sprintf("p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d reports)", ms(s[len(s)/2]), ms(p99), ms(s[len(s)-1]), len(s)),
		target: fmt.Sprintf("p99 ≤ %s", targetReportP99), pass: p99 <= targetReportP99})
	return nil
}

// reportSteps: the incident's updates, minutes after the declaration.
var reportSteps = []struct {
	minute int
	status incident.Status
	body   string
}{
	{0, incident.Investigating, "Card payments fail for many customers. We are investigating."},
	{35, incident.Identified, "A certificate at our payment gateway expired; we are replacing it."},
	{95, incident.Resolved, "Card payments work again. We are sorry for the trouble."},
}

func reportIncident(ctx context.Context, w *world, clock *benchClock, t0 time.Time) (*incident.Incident, error) {
	manager := incident.WithActor(ctx, incident.Actor{Name: "bench manager", Role: incident.RoleManager})
	quiet := false
	var inc *incident.Incident
	for k, st := range reportSteps {
		clock.at(t0.Add(time.Duration(st.minute) * time.Minute))
		s, body := st.status, st.body
		in := incident.IncidentInput{DeliverNotifications: &quiet, Status: &s, Body: &body, Components: map[string]incident.ComponentStatus{}}
		var err error
		if k == 0 {
			name := "Card payments fail"
			in.Name, in.ComponentIDs = &name, w.comps[:2]
			in.Components[w.comps[0]] = incident.MajorOutage
			inc, _, err = w.n.Incidents.CreateIncident(manager, w.page.ID, in, "")
		} else {
			inc, err = w.n.Incidents.UpdateIncident(manager, w.page.ID, inc.ID, in)
		}
		if err != nil {
			return nil, err
		}
	}
	return inc, nil
}

// seedDeliveries gives the incident's three updates a broadcast each
// (60 %, 20 %, 20 % of n deliveries, on SMS, email and Slack) and runs
// them through the queue as the planner and a dispatcher would.
func seedDeliveries(ctx context.Context, eng *node.Engine, pageID string, inc *incident.Incident, n int) error {
	updates := slices.Clone(inc.Updates)
	slices.Reverse(updates) // oldest first
	kinds := []incident.BroadcastKind{incident.BroadcastDeclared, incident.BroadcastUpdated, incident.BroadcastResolved}
	shares := []int{n * 6 / 10, n * 2 / 10, n - n*6/10 - n*2/10}
	rng := rand.New(rand.NewPCG(7, uint64(n)))
	const batch = 5000
	const lease = 10 * time.Minute
	for k, u := range updates[:3] {
		b := &incident.Broadcast{ID: incident.NewID(), PageID: pageID, IncidentID: inc.ID, UpdateID: u.ID, Kind: kinds[k], CreatedAt: u.CreatedAt}
		if err := eng.Incidents.Commit(ctx, &incident.Change{Broadcasts: []*incident.Broadcast{b}}); err != nil {
			return err
		}
		now := time.Now()
		p, err := eng.Notify.ClaimPlan(ctx, now, lease)
		if err != nil || p == nil || p.Broadcast.ID != b.ID {
			return fmt.Errorf("claim the plan: %v, %v", p, err)
		}
		m := shares[k]
		for i := 0; i < m; i += batch {
			ds := make([]*queue.Delivery, 0, batch)
			for j := i; j < min(i+batch, m); j++ {
				kind, addr := channel.SMS, fmt.Sprintf("+3620%07d", j)
				switch j % 10 {
				case 7, 8:
					kind, addr = channel.Email, fmt.Sprintf("c%07d@example.com", j)
				case 9:
					kind, addr = channel.Slack, fmt.Sprintf("U%07d", j)
				}
				d := &queue.Delivery{PageID: pageID, IncidentID: inc.ID, UpdateID: u.ID, BroadcastID: b.ID, MessageKind: queue.KindAck,
					Kind: kind, Address: addr, RecipientType: queue.FromCustomer, RecipientID: fmt.Sprintf("c%07d", j), Language: "en",
					State: queue.StatePending, NextAt: u.CreatedAt, CreatedAt: u.CreatedAt, UpdatedAt: u.CreatedAt}
				if j%100 == 42 {
					d.State, d.Reason = queue.StateSuppressed, "unsubscribed"
				}
				d.ID = queue.DeliveryID(d.UpdateID, d.Kind, d.Address)
				ds = append(ds, d)
			}
			done := i+batch >= m
			if _, err := eng.Notify.SavePlanBatch(ctx, &queue.PlanBatch{Plan: p, Deliveries: ds, Cursor: fmt.Sprint(i + batch), Done: done}, time.Now(), lease); err != nil {
				return fmt.Errorf("plan batch: %w", err)
			}
		}
		// Claim and finish, oldest first: the provider takes them over
		// eight minutes (SMS), two (email) and one (Slack); one in fifty
		// fails; one SMS in five is confirmed delivered by a receipt.
		span := map[channel.Kind]time.Duration{channel.SMS: 8 * time.Minute, channel.Email: 2 * time.Minute, channel.Slack: time.Minute}
		want := map[channel.Kind]int{channel.SMS: m * 7 / 10, channel.Email: m * 2 / 10, channel.Slack: m / 10}
		for _, kind := range []channel.Kind{channel.SMS, channel.Email, channel.Slack} {
			seen := 0
			for {
				ds, err := eng.Notify.ClaimDeliveries(ctx, kind, queue.LaneAll, time.Now(), lease, batch)
				if err != nil {
					return fmt.Errorf("claim: %w", err)
				}
				if len(ds) == 0 {
					break
				}
				var receipts []*queue.Delivery
				for _, d := range ds {
					at := u.CreatedAt.Add(4*time.Second + time.Duration(float64(span[kind])*float64(seen)/float64(max(want[kind], 1))))
					seen++
					d.UpdatedAt = at
					if rng.IntN(50) == 0 {
						d.State, d.ErrorCode, d.Reason = queue.StateFailed, "21211", []string{"invalid number", "unreachable", "blocked"}[rng.IntN(3)]
						continue
					}
					d.State, d.SentAt, d.ProviderID = queue.StateSent, &at, "P"+d.ID
					if kind == channel.SMS && rng.IntN(5) == 0 {
						receipts = append(receipts, d)
					}
				}
				if err := eng.Notify.FinishDeliveries(ctx, ds); err != nil {
					return fmt.Errorf("finish: %w", err)
				}
				for _, d := range receipts[:min(len(receipts), 40)] { // receipts are one write each: a sample
					if err := eng.Notify.SetDeliveryStatus(ctx, d.ID, queue.StateDelivered, "delivered", "", d.UpdatedAt.Add(3*time.Second)); err != nil {
						return fmt.Errorf("receipt: %w", err)
					}
				}
			}
		}
	}
	return nil
}

// seedComplaints saves n complaints tagged to the incident and n/5 left
// untagged, from 8 goroutines, through the engine's complaint store.
func seedComplaints(ctx context.Context, cs complaint.Store, pageID string, inc *incident.Incident, n int) error {
	t0 := inc.Updates[len(inc.Updates)-1].CreatedAt
	resolved := *inc.ResolvedAt
	total := n + n/5
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	channels := []complaint.Channel{complaint.SMS, complaint.SMS, complaint.SMS, complaint.Email, complaint.Email, complaint.Web, complaint.Phone, complaint.Slack}
	categories := []complaint.Category{complaint.CategoryOutage, complaint.CategoryOutage, complaint.CategoryOutage, complaint.CategoryRefund, complaint.CategoryInformation}
	for g := range 8 {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 99))
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				// Most arrive in the first hour, fewer after.
				created := t0.Add(time.Duration(rng.ExpFloat64() * float64(25*time.Minute)))
				if created.After(resolved.Add(2 * time.Hour)) {
					created = resolved.Add(time.Duration(rng.IntN(7200)) * time.Second)
				}
				c := &complaint.Complaint{ID: fmt.Sprintf("bc%07d", i), PageID: pageID, Ref: complaint.NewRef(fmt.Sprintf("bc%07d", i)),
					Contact: complaint.Contact{CustomerID: fmt.Sprintf("c%07d", i)}, Channel: channels[rng.IntN(len(channels))],
					Category: categories[rng.IntN(len(categories))], Language: "en", Text: "Card payment failed again", State: complaint.StateNew,
					CreatedAt: created, UpdatedAt: created, LastMessageAt: created, Messages: 1, Version: 1,
					FirstAnswerDue: created.Add(time.Hour), ResolveDue: created.Add(24 * time.Hour)}
				if i < n {
					c.Tag = &complaint.Tag{IncidentID: inc.ID, Confidence: 0.9, Reason: "components and time", By: "auto", At: created}
					c.Repeat = rng.IntN(8) == 0
					if rng.IntN(10) < 9 {
						at := created.Add(time.Duration(rng.ExpFloat64() * float64(20*time.Minute)))
						c.FirstAnswerAt = &at
						c.State = complaint.StateInProgress
					}
					if rng.IntN(10) < 6 {
						at := resolved.Add(time.Duration(rng.IntN(600)) * time.Second)
						if c.FirstAnswerAt == nil || c.FirstAnswerAt.After(at) {
							c.FirstAnswerAt = &at
						}
						c.ResolvedAt, c.State, c.Remedy = &at, complaint.StateResolved, complaint.RemedyApology
					} else {
						// Still open after the resolution: an agent holds it
						// (else the node, starting, would answer it then, as
						// the resolution would have, behind the timing).
						c.HoldOpen = true
					}
				}
				if err := cs.SaveComplaint(ctx, c, nil); err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// reportBreakdown times each read the report makes, and its rendering,
// 20 times each, and prints the medians: where a report's time goes.
func reportBreakdown(ctx context.Context, w *world, inc *incident.Incident, r *reports.Report, rep *report) error {
	e, n, pageID := w.n.Engine, w.n, w.page.ID
	parts := []struct {
		name string
		fn   func() error
	}{
		{"incident, components, audit", func() error {
			if _, err := e.Incidents.FindIncidentByID(ctx, inc.ID); err != nil {
				return err
			}
			if _, err := e.Incidents.FindComponents(ctx, pageID); err != nil {
				return err
			}
			_, _, err := e.Incidents.FindAudit(ctx, incident.AuditFilter{PageID: pageID, ObjectID: inc.ID, Limit: 1000})
			return err
		}},
		{"plans, progress, delivery times", func() error {
			ps, err := e.Notify.FindPlans(ctx, inc.ID)
			for _, p := range ps {
				if _, err := e.Notify.Progress(ctx, p.Broadcast.ID); err != nil {
					return err
				}
				if _, err := e.Notify.DeliveryTimes(ctx, p.Broadcast.ID); err != nil {
					return err
				}
			}
			return err
		}},
		{"complaint tallies", func() error {
			if _, err := e.Complaints.ComplaintTally(ctx, pageID, complaint.TallyScope(inc.ID)); err != nil {
				return err
			}
			_, err := e.Complaints.ComplaintTally(ctx, pageID, complaint.TallyUntagged)
			return err
		}},
		{"compensation totals", func() error { _, err := n.Compensation.Totals(ctx, pageID, inc.ID); return err }},
		{"survey results", func() error { _, err := n.Surveys.Results(ctx, pageID, inc.ID); return err }},
		{"HTML, JSON, CSV", func() error {
			if _, err := r.HTML("en", nil); err != nil {
				return err
			}
			if _, err := r.JSON(); err != nil {
				return err
			}
			_, err := r.CSV()
			return err
		}},
	}
	var out []string
	for _, p := range parts {
		var l latencies
		for range 20 {
			s := time.Now()
			if err := p.fn(); err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			l = append(l, time.Since(s))
		}
		out = append(out, fmt.Sprintf("%s %.1f ms", p.name, ms(l.sorted()[10])))
	}
	rep.info(fmt.Sprintf("%s: medians of the report's parts", w.name), strings.Join(out, "; "))
	return nil
}
