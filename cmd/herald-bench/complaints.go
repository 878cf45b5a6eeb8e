package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/node"
	"github.com/heraldhq/herald/sandbox"
	"github.com/heraldhq/herald/server"
)

// The complaints scenario is issue 11's benchmark: a complaint storm
// during a fan-out. One herald node (built as `herald serve` builds it,
// sending SMS to the in-process sandbox) holds N customers with phones and
// a component. The fan-out's SMS rate is measured alone first (a
// declaration, a fixed window of sends, the plan cancelled); then a second
// declaration fans out while inbound complaints arrive over HTTP at a
// rising rate, half as Twilio-signed inbound SMS and half through the API
// with an agent token. After a drain period every accepted complaint is
// looked up in the store and its acknowledgement at the sandbox.
//
// Each engine runs it in two rounds, each on a fresh store. In the first
// the fan-out is CPU-bound (no sms_rate: the sandbox answers at once), so
// the fan-out and the storm share the machine's CPUs. In the second
// (-provider-rate) herald's sms_rate holds SMS to a provider's account
// limit, as Twilio's does, and the acknowledgements go out from a reply
// sender of their own (-reply-from, -reply-rate: sms_reply_from,
// sms_reply_rate), as a second number or Messaging Service would; with
// -reply-from "" they are SMS under the same limit, queued ahead of the
// fan-out, so the fan-out during the storm can keep at most the limit less
// the acknowledgements.
//
// The sandbox tells an acknowledgement from a broadcast SMS by the
// complaint's reference, which every acknowledgement names and no
// broadcast does, and the second fan-out from the first by a marker in the
// incident's body (an acknowledgement of a complaint about the incident
// quotes that body too).

// complaintsOptions are the complaints scenario's flags.
type complaintsOptions struct {
	Recipients int
	Engine     string // sqlite, redis or both
	RedisURL   string
	Duration   time.Duration // each step of the storm
	StartRate  float64       // complaints/s of the first step
	StepRate   float64       // added at each step
	MaxRate    float64       // the last step
	Window     time.Duration // the fan-out's rate alone is measured over this
	// Conns is how many keep-alive connections the storm's clients may
	// hold at once. The storm is open-loop (each complaint is offered at
	// its time), but a client holding c connections can keep at most c
	// requests in flight, so it can offer no more than c / latency a
	// second: 64 connections reach 2 000/s only while herald answers
	// within 32 ms. The default is herald's own max_conns_per_client, what
	// one provider address may hold; a step that found all of them busy
	// still counts against herald.
	Conns      int
	Workers    int     // herald's SMS workers
	FanoutRate float64 // herald's configured SMS rate (0: none)
	// ProviderRate is the sms_rate of a second, provider-bound round
	// (0: no second round).
	ProviderRate float64
	// ReplyFrom and ReplyRate are the provider-bound round's reply sender
	// (sms_reply_from) and its limit (sms_reply_rate, 0 unlimited), as a
	// second number or Messaging Service has; ReplyFrom "" sends the
	// acknowledgements under sms_rate with the fan-out.
	ReplyFrom string
	ReplyRate float64
	Drain     time.Duration // longest wait for the acknowledgements after the storm
	// ProviderOnly skips the CPU-bound round: only the provider-bound
	// one runs (for a profile of the case the target is about).
	ProviderOnly bool
	CPUProfile   string
}

var defaultComplaints = complaintsOptions{Recipients: 100_000, Engine: "both", RedisURL: "redis://127.0.0.1:6379/0",
	Duration: 3 * time.Second, StartRate: 250, StepRate: 250, MaxRate: 3000, Window: 5 * time.Second, Conns: server.DefaultMaxConnsPerClient, Workers: 8,
	ProviderRate: 3000, ReplyFrom: "+15005550009", ReplyRate: 3000, Drain: 2 * time.Minute}

func parseComplaints(args []string, stderr io.Writer) (complaintsOptions, error) {
	opt := defaultComplaints
	fs := flag.NewFlagSet("complaints", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&opt.Recipients, "recipients", opt.Recipients, "customers the fan-out reaches, one SMS each")
	fs.StringVar(&opt.Engine, "engine", opt.Engine, "sqlite, redis or both")
	fs.StringVar(&opt.RedisURL, "redis", opt.RedisURL, "Redis for the Redis engine (keys under a random prefix, deleted after)")
	fs.DurationVar(&opt.Duration, "duration", opt.Duration, "length of each step of the storm")
	fs.Float64Var(&opt.StartRate, "start-rate", opt.StartRate, "complaints/s of the first step")
	fs.Float64Var(&opt.StepRate, "step", opt.StepRate, "complaints/s added at each step")
	fs.Float64Var(&opt.MaxRate, "max-rate", opt.MaxRate, "complaints/s of the last step")
	fs.DurationVar(&opt.Window, "window", opt.Window, "how long the fan-out's rate alone is measured")
	fs.IntVar(&opt.Conns, "conns", opt.Conns, "keep-alive connections the complaints are sent over, at most (a step that finds them all busy is not sustained)")
	fs.IntVar(&opt.Workers, "workers", opt.Workers, "herald's concurrent SMS sends")
	fs.Float64Var(&opt.FanoutRate, "fanout-rate", opt.FanoutRate, "herald's sms_rate in the first round (0: unlimited, the fan-out CPU-bound: the sandbox answers at once)")
	fs.Float64Var(&opt.ProviderRate, "provider-rate", opt.ProviderRate, "herald's sms_rate in a second, provider-bound round, as a provider's account limit (0: no second round)")
	fs.StringVar(&opt.ReplyFrom, "reply-from", opt.ReplyFrom, "herald's sms_reply_from in the provider-bound round: the acknowledgements' own sender (\"\": none, they share sms_rate with the fan-out)")
	fs.Float64Var(&opt.ReplyRate, "reply-rate", opt.ReplyRate, "herald's sms_reply_rate in the provider-bound round, the reply sender's own limit (0: unlimited)")
	fs.DurationVar(&opt.Drain, "drain", opt.Drain, "longest wait after the storm for every complaint's acknowledgement")
	fs.BoolVar(&opt.ProviderOnly, "provider-only", false, "run only the provider-bound round (-provider-rate), not the CPU-bound one")
	fs.StringVar(&opt.CPUProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	if err := fs.Parse(args); err != nil {
		return opt, err
	}
	switch {
	case opt.Recipients < 1 || opt.Conns < 1 || opt.Workers < 1:
		return opt, errors.New("complaints: -recipients, -conns and -workers must be positive")
	case opt.StartRate <= 0 || opt.StepRate <= 0 || opt.MaxRate < opt.StartRate:
		return opt, errors.New("complaints: need 0 < -start-rate ≤ -max-rate and -step > 0")
	case opt.Duration < 100*time.Millisecond || opt.Window < 100*time.Millisecond || opt.Drain <= 0:
		return opt, errors.New("complaints: -duration and -window must be at least 100ms, -drain positive")
	case opt.FanoutRate < 0 || opt.ProviderRate < 0 || opt.ReplyRate < 0:
		return opt, errors.New("complaints: -fanout-rate, -provider-rate and -reply-rate must not be negative")
	case opt.ProviderOnly && opt.ProviderRate <= 0:
		return opt, errors.New("complaints: -provider-only needs a -provider-rate")
	}
	switch opt.Engine {
	case "sqlite", "redis", "both":
	default:
		return opt, fmt.Errorf("complaints: -engine %q: want sqlite, redis or both", opt.Engine)
	}
	return opt, nil
}

// Targets of issue 11.
const (
	targetComplaintRate = 2000.0
	targetFanoutRatio   = 0.9
	targetAckP99        = 2 * time.Second
	// A step is sustained when this share of what it offered was accepted,
	// with no errors and nothing left unsent for want of a free client.
	sustainedShare = 0.95
)

// stepResult is one step of the storm.
type stepResult struct {
	Rate             float64
	From, To         time.Time
	Offered, Dropped int
	Accepted, Failed int
	Stored           latencies // intake → stored (the request's time) of accepted ones
	Acked            latencies // intake → acknowledgement at the sandbox of the complaints opened in the step
	Fanout           float64   // broadcast SMS/s at the sandbox during the step
	FanoutRunning    bool      // the fan-out had not finished by the step's end
}

func (s stepResult) acceptedRate() float64 { return float64(s.Accepted) / s.To.Sub(s.From).Seconds() }

func (s stepResult) sustained() bool {
	return s.Failed == 0 && s.Dropped == 0 && float64(s.Accepted) >= sustainedShare*float64(s.Offered)
}

// stormResult is what one engine's run measured.
type stormResult struct {
	Engine    string
	Label     string  // the engine, and the round's sms_rate when it has one
	Rate      float64 // the round's sms_rate (0: unlimited)
	ReplyFrom string  // the round's sms_reply_from ("" none)
	ReplyRate float64 // and its sms_reply_rate
	// AloneCPU is the process's CPU a fan-out SMS took alone (herald,
	// sandbox); StormCPU the process's CPU from the storm's start until
	// every acknowledgement was in, FanoutDuring the fan-out SMS the
	// sandbox took meanwhile, FromReply the acknowledgements that came
	// from the reply sender.
	AloneCPU, StormCPU time.Duration
	// AloneRedisCPU and StormRedisCPU are the same for the Redis server
	// (INFO cpu), which shares the machine's CPUs on a local Redis
	// (-1: no Redis engine, or it did not answer).
	AloneRedisCPU, StormRedisCPU time.Duration
	FanoutDuring                 int
	FromReply                    int
	Load                         string // the load average at the storm's end
	Recipients                   int
	Alone                        float64 // fan-out SMS/s alone
	Steps                        []stepResult
	Requests                     int // accepted requests
	Complaints                   int // complaints in the store
	Acks                         latencies
	// Lost: accepted senders with no complaint stored, accepted messages
	// not counted in their complaint, complaints without an
	// acknowledgement; Duplicates: acknowledgements beyond one a complaint.
	NoComplaint, MissingMessages, MissingAcks, DuplicateAcks int
	Drained                                                  time.Duration
	Errors                                                   []string // a sample of the failed requests' answers
}

func (r *stormResult) lost() int { return r.NoComplaint + r.MissingMessages + r.MissingAcks }

// benchComplaints runs the complaints scenario on the engines asked for
// and prints the figures against issue 11's targets.
func benchComplaints(ctx context.Context, opt complaintsOptions, stdout, stderr io.Writer) ([]*stormResult, error) {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	engines := []string{opt.Engine}
	if opt.Engine == "both" {
		engines = []string{"sqlite", "redis"}
	}
	if slices.Contains(engines, "redis") {
		eng, err := node.OpenEngine(ctx, redisConfig(opt.RedisURL, ""), nil)
		if err != nil {
			if opt.Engine == "redis" {
				return nil, fmt.Errorf("redis at %s: %w", opt.RedisURL, err)
			}
			fmt.Fprintf(stdout, "Redis at %s does not answer (%v): Redis run skipped\n", opt.RedisURL, err)
			engines = engines[:1]
		} else {
			_ = eng.Close()
		}
	}
	rates := []float64{opt.FanoutRate}
	if opt.ProviderRate > 0 {
		rates = append(rates, opt.ProviderRate)
	}
	first := 0
	if opt.ProviderOnly {
		first = 1
	}
	var roundNames []string
	for _, r := range rates[first:] {
		roundNames = append(roundNames, rateString(r))
	}
	replyNote := ""
	if opt.ReplyFrom != "" && len(rates) > 1 {
		replyNote = fmt.Sprintf(" (the second with the acknowledgements from their own sender %s under sms_reply_rate %s)", opt.ReplyFrom, rateString(opt.ReplyRate))
	}
	replyNote += "; load average " + loadAverage()
	fmt.Fprintf(stdout, "herald-bench complaints: %d CPUs, GOMAXPROCS %d, %s; %d recipients; storm %.0f → %.0f complaints/s in steps of %.0f/s × %s over %d connections; herald %d SMS workers; rounds at sms_rate %s%s\n\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), opt.Recipients, opt.StartRate, opt.MaxRate, opt.StepRate, opt.Duration,
		opt.Conns, opt.Workers, strings.Join(roundNames, ", then "), replyNote)
	if opt.CPUProfile != "" {
		f, err := os.Create(opt.CPUProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	dir, err := os.MkdirTemp("", "herald-bench-complaints-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	begin := time.Now()
	rep := &report{out: stdout}
	var out []*stormResult
	for _, e := range engines {
		for i, rate := range rates {
			if i < first {
				continue
			}
			var w *world
			if e == "sqlite" {
				sub := filepath.Join(dir, fmt.Sprintf("sqlite%d", i))
				if err := os.MkdirAll(sub, 0o755); err != nil {
					return out, err
				}
				w, err = openSQLiteWorld(ctx, sub, log)
			} else {
				w, err = openRedisWorld(ctx, opt.RedisURL, log)
			}
			if err != nil {
				return out, err
			}
			round := opt
			round.FanoutRate = rate
			label := w.name
			if rate > 0 {
				label += ", sms_rate " + rateString(rate)
			}
			if i == 0 || rate <= 0 {
				// The CPU-bound round: the acknowledgements as before.
				round.ReplyFrom = ""
			}
			if round.ReplyFrom != "" {
				label += ", sms_reply_rate " + rateString(round.ReplyRate)
			}
			res, err := stormRun(ctx, w, round, label, stdout, stderr)
			w.close()
			if err != nil {
				return out, fmt.Errorf("complaints (%s): %w", label, err)
			}
			out = append(out, res)
			res.report(rep)
			fmt.Fprintln(stdout)
		}
	}
	rep.summary(stdout, begin)
	return out, nil
}

func rateString(r float64) string {
	if r <= 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%.0f/s", r)
}

// fanoutMarker is in the body of the storm's incident n: its broadcast
// SMS carry it, acknowledgements do not.
func fanoutMarker(n int) string { return fmt.Sprintf("FANOUT%d", n) }

// complaintRef matches a complaint's reference (complaint.NewRef).
var complaintRef = regexp.MustCompile(`\bC-[0-9A-Z]{8}\b`)

// isAcknowledgement reports whether an SMS answers a complaint: it names
// the complaint's reference. (The drain counts them every half second
// over every SMS the sandbox holds: the plain test first spares the
// broadcast's hundred thousand the expression.)
func isAcknowledgement(body string) bool {
	return strings.Contains(body, "C-") && complaintRef.MatchString(body)
}

// stormRun is one engine's run on w.
func stormRun(ctx context.Context, w *world, opt complaintsOptions, label string, stdout, stderr io.Writer) (*stormResult, error) {
	res := &stormResult{Engine: w.name, Label: label, Rate: opt.FanoutRate, ReplyFrom: opt.ReplyFrom, ReplyRate: opt.ReplyRate, Recipients: opt.Recipients}
	fmt.Fprintf(stdout, "%s: loading %d customers\n", label, opt.Recipients)
	// Inbound SMS go to the first page: the node's default page, which is
	// the one the customers and the incidents are on.
	page := w.n.Page
	name := "Payments"
	comp, err := w.n.Incidents.CreateComponent(ctx, page.ID, incident.ComponentInput{Name: &name})
	if err != nil {
		return nil, err
	}
	if err := loadPhoneCustomers(ctx, w, page.ID, comp.ID, opt.Recipients); err != nil {
		return nil, fmt.Errorf("load customers: %w", err)
	}
	secret, _, err := w.n.Incidents.CreateToken(ctx, "bench-agent", incident.RoleAgent)
	if err != nil {
		return nil, err
	}
	steps := stormSteps(opt)
	most := 0
	for _, r := range steps {
		most += int(r*opt.Duration.Seconds()) + 1
	}
	sb, err := sandbox.Start(ctx, sandbox.Config{Capacity: opt.Recipients + most + 20_000})
	if err != nil {
		return nil, err
	}
	defer sb.Close()
	tune := func(c *node.Config) {
		*c = withSandbox(*c, sb)
		c.Broadcast.Workers, c.Broadcast.SMSRate = opt.Workers, opt.FanoutRate
		c.Broadcast.SMSReplyFrom, c.Broadcast.SMSReplyRate = opt.ReplyFrom, opt.ReplyRate
		if opt.ReplyFrom == "" {
			c.Broadcast.SMSReplyRate = node.DefaultSMSReplyRate
		}
	}
	if err := w.start(ctx, node.Options{Dispatch: []channel.Kind{channel.SMS}}, tune); err != nil {
		return nil, err
	}
	defer w.stop()

	// 1. The fan-out alone.
	_, bid, err := stormDeclare(ctx, w, page.ID, comp.ID, 1)
	if err != nil {
		return nil, err
	}
	if _, err := w.waitPlanned(ctx, bid, 10*time.Minute); err != nil {
		return nil, err
	}
	if err := waitCount(ctx, sb, 1, sandbox.KindSMS, time.Minute); err != nil {
		return nil, err
	}
	if err := sleepCtx(ctx, time.Second); err != nil {
		return nil, err
	}
	t1, c1, cpu1, rcpu1 := time.Now(), sb.Count(sandbox.KindSMS), processCPU(), w.redisCPU(ctx)
	if err := sleepCtx(ctx, opt.Window); err != nil {
		return nil, err
	}
	t2, c2, cpu2, rcpu2 := time.Now(), sb.Count(sandbox.KindSMS), processCPU(), w.redisCPU(ctx)
	res.Alone = float64(c2-c1) / t2.Sub(t1).Seconds()
	res.AloneRedisCPU, res.StormRedisCPU = -1, -1
	if c2 > c1 {
		res.AloneCPU = (cpu2 - cpu1) / time.Duration(c2-c1)
		if rcpu1 >= 0 && rcpu2 >= 0 {
			res.AloneRedisCPU = (rcpu2 - rcpu1) / time.Duration(c2-c1)
		}
	}
	if c2 >= opt.Recipients {
		fmt.Fprintf(stdout, "%s: the fan-out alone finished within the window; its rate is understated (raise -recipients)\n", label)
	}
	if err := w.store().CancelPlan(ctx, bid, time.Now()); err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "%s: fan-out alone %.0f SMS/s over %s\n", label, res.Alone, t2.Sub(t1).Round(time.Millisecond))
	if err := sleepCtx(ctx, time.Second); err != nil { // sends claimed before the cancel
		return nil, err
	}
	sb.Reset()

	// 2. The storm during the second fan-out.
	_, bid, err = stormDeclare(ctx, w, page.ID, comp.ID, 2)
	if err != nil {
		return nil, err
	}
	if _, err := w.waitPlanned(ctx, bid, 10*time.Minute); err != nil {
		return nil, err
	}
	if err := waitCount(ctx, sb, 1, sandbox.KindSMS, time.Minute); err != nil {
		return nil, err
	}
	if err := sleepCtx(ctx, time.Second); err != nil {
		return nil, err
	}
	st := newStorm(w, page.ID, secret, opt)
	stormStart, cpuStart, redisStart := time.Now(), processCPU(), w.redisCPU(ctx)
	res.Steps, err = st.run(ctx, steps)
	if err != nil {
		return nil, err
	}
	stormEnd := time.Now()
	res.Load = loadAverage()

	// 3. Drain: until every complaint in the store has an acknowledgement,
	// then a moment more for any second one.
	marker := fanoutMarker(2)
	for {
		_, total, err := w.n.Complaints.Store.FindComplaints(ctx, complaint.Filter{PageID: page.ID, Limit: 1})
		if err != nil {
			return nil, err
		}
		acks := 0
		for _, m := range sb.Messages(sandbox.Filter{Kind: sandbox.KindSMS}) {
			if isAcknowledgement(m.Body) {
				acks++
			}
		}
		if acks >= total || time.Since(stormEnd) > opt.Drain {
			res.StormCPU = processCPU() - cpuStart
			if r := w.redisCPU(ctx); r >= 0 && redisStart >= 0 {
				res.StormRedisCPU = r - redisStart
			}
			break
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return nil, err
		}
	}
	if err := sleepCtx(ctx, 2*time.Second); err != nil {
		return nil, err
	}
	res.Drained = time.Since(stormEnd)

	// 4. Everything accepted, in the store and at the sandbox.
	var all []*complaint.Complaint
	for off := 0; ; off += 1000 {
		cs, _, err := w.n.Complaints.Store.FindComplaints(ctx, complaint.Filter{PageID: page.ID, Limit: 1000, Offset: off})
		if err != nil {
			return nil, err
		}
		all = append(all, cs...)
		if len(cs) < 1000 {
			break
		}
	}
	res.Complaints = len(all)
	msgs := sb.Messages(sandbox.Filter{Kind: sandbox.KindSMS})
	var fanout []time.Time
	acks := map[string][]time.Time{}
	for _, m := range msgs {
		switch {
		case isAcknowledgement(m.Body):
			acks[m.To] = append(acks[m.To], m.At)
		case strings.Contains(m.Body, marker):
			fanout = append(fanout, m.At)
		}
		// Anything else is the first fan-out's stragglers.
	}
	slices.SortFunc(fanout, func(a, b time.Time) int { return a.Compare(b) })
	drained := stormEnd.Add(res.Drained - 2*time.Second)
	for _, at := range fanout {
		if !at.Before(stormStart) && at.Before(drained) {
			res.FanoutDuring++
		}
	}
	for _, m := range msgs {
		if res.ReplyFrom != "" && m.From == res.ReplyFrom {
			res.FromReply++
		}
	}
	done := time.Time{} // when the fan-out finished, if it did
	if len(fanout) >= opt.Recipients {
		done = fanout[len(fanout)-1]
	}
	for i := range res.Steps {
		s := &res.Steps[i]
		lo, _ := slices.BinarySearchFunc(fanout, s.From, func(a, b time.Time) int { return a.Compare(b) })
		hi, _ := slices.BinarySearchFunc(fanout, s.To, func(a, b time.Time) int { return a.Compare(b) })
		s.Fanout = float64(hi-lo) / s.To.Sub(s.From).Seconds()
		s.FanoutRunning = done.IsZero() || done.After(s.To)
	}
	byPhone := map[string][]*complaint.Complaint{}
	for _, c := range all {
		byPhone[c.Contact.Phone] = append(byPhone[c.Contact.Phone], c)
	}
	for phone, sent := range st.senders() {
		res.Requests += sent.accepted
		cs := byPhone[phone]
		if sent.accepted > 0 && len(cs) == 0 {
			res.NoComplaint++
			continue
		}
		msgs := 0
		for _, c := range cs {
			msgs += c.Messages
		}
		if sent.accepted > msgs {
			res.MissingMessages += sent.accepted - msgs
		}
	}
	for phone, cs := range byPhone {
		got := acks[phone]
		slices.SortFunc(got, func(a, b time.Time) int { return a.Compare(b) })
		slices.SortFunc(cs, func(a, b *complaint.Complaint) int { return a.CreatedAt.Compare(b.CreatedAt) })
		if len(got) < len(cs) {
			res.MissingAcks += len(cs) - len(got)
		} else {
			res.DuplicateAcks += len(got) - len(cs)
		}
		first := st.firstIntake(phone)
		for i := 0; i < len(cs) && i < len(got); i++ {
			from := cs[i].CreatedAt
			if i == 0 && !first.IsZero() {
				from = first
			}
			took := got[i].Sub(from)
			res.Acks = append(res.Acks, took)
			if k := stepOf(res.Steps, from); k >= 0 {
				res.Steps[k].Acked = append(res.Steps[k].Acked, took)
			}
		}
	}
	res.Errors = st.errorSample()
	return res, nil
}

// stepOf returns the index of the step an intake at belongs to: the last
// one begun by then (a request sent at the end of the last step may be
// stored after it), or -1 before the first.
func stepOf(steps []stepResult, at time.Time) int {
	for i := len(steps) - 1; i >= 0; i-- {
		if !at.Before(steps[i].From) {
			return i
		}
	}
	return -1
}

// stormSteps lists the rates of the storm's steps.
func stormSteps(opt complaintsOptions) []float64 {
	var out []float64
	for r := opt.StartRate; r <= opt.MaxRate+1e-9; r += opt.StepRate {
		out = append(out, r)
	}
	return out
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// loadPhoneCustomers upserts n customers with an SMS number each
// (+3620…, as loadCustomers) who use component comp.
func loadPhoneCustomers(ctx context.Context, w *world, pageID, comp string, n int) error {
	now := time.Now().UTC()
	const chunk = 5000
	batch := make([]*audience.Customer, 0, chunk)
	for i := 0; i < n; i++ {
		batch = append(batch, &audience.Customer{ID: fmt.Sprintf("c%08d", i), PageID: pageID, Name: fmt.Sprintf("Customer %d", i),
			Phone: customerPhone(i), Language: languages[i%4], TimeZone: "Europe/Budapest", Plan: "business", Region: "eu",
			Components: []string{comp}, CreatedAt: now, UpdatedAt: now})
		if len(batch) == chunk || i == n-1 {
			if _, err := w.store().UpsertCustomers(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return nil
}

func customerPhone(i int) string { return fmt.Sprintf("+3620%07d", i%10_000_000) }

// unknownPhone is a number no customer has.
func unknownPhone(i int) string { return fmt.Sprintf("+3630%07d", i%10_000_000) }

// stormDeclare declares incident n: a major outage of comp, the marker in
// its body.
func stormDeclare(ctx context.Context, w *world, pageID, comp string, n int) (*incident.Incident, string, error) {
	name, st := "Card payments failing", incident.Investigating
	// The marker first: a long SMS is cut at the end of the body.
	body := fanoutMarker(n) + " We are investigating failed card payments."
	inc, _, err := w.n.Incidents.CreateIncident(ctx, pageID, incident.IncidentInput{Name: &name, Status: &st, Body: &body,
		ComponentIDs: []string{comp}, Components: map[string]incident.ComponentStatus{comp: incident.MajorOutage}}, "")
	if err != nil {
		return nil, "", err
	}
	bs, err := w.n.Engine.Incidents.FindBroadcasts(ctx, inc.ID)
	if err != nil {
		return nil, "", err
	}
	if len(bs) == 0 {
		return nil, "", fmt.Errorf("incident %s has no broadcast", inc.ID)
	}
	return inc, bs[len(bs)-1].ID, nil
}

// ---- the storm ----

// job is one complaint request.
type job struct {
	seq    int
	step   int
	phone  string
	sms    bool // a Twilio inbound SMS; else the API
	repeat bool // the sender wrote before
}

// outcome is what became of a job.
type outcome struct {
	job
	start  time.Time
	took   time.Duration
	status int
	err    string
}

// storm sends complaints over a bounded pool of keep-alive connections.
type storm struct {
	base, smsURL, apiURL, auth, token string
	client                            *fasthttp.Client
	conns                             int
	recipients                        int
	step                              time.Duration

	mu       sync.Mutex
	outcomes []outcome
	nextCust int
	again    chan string     // senders whose first complaint was accepted
	first    map[string]sent // senders(), once the storm is over
}

func newStorm(w *world, pageID, secret string, opt complaintsOptions) *storm {
	base := "http://" + w.n.Addr()
	return &storm{base: base, smsURL: base + "/webhooks/twilio/sms", apiURL: base + "/api/v1/pages/" + pageID + "/complaints",
		auth: "Bearer " + secret, token: w.n.Config.Providers.TwilioAuthToken, conns: opt.Conns, recipients: opt.Recipients, step: opt.Duration,
		again: make(chan string, 4096),
		client: &fasthttp.Client{MaxConnsPerHost: opt.Conns, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
			MaxIdleConnDuration: time.Minute}}
}

// sender picks a new sender for job seq: a quarter are customers (each
// once, while there are customers left), the rest unknown numbers (each
// once).
func (s *storm) sender(seq int) string {
	if seq%4 == 1 {
		s.nextCust++
		return customerPhone((s.nextCust - 1) % s.recipients)
	}
	return unknownPhone(seq)
}

// run sends the steps' complaints and returns each step's figures.
func (s *storm) run(ctx context.Context, rates []float64) ([]stepResult, error) {
	jobs := make(chan job, s.conns)
	var wg sync.WaitGroup
	for i := 0; i < s.conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.worker(ctx, jobs)
		}()
	}
	steps := make([]stepResult, len(rates))
	seq := 0
	for i, rate := range rates {
		n := int(rate * s.step.Seconds())
		steps[i].Rate = rate
		from := time.Now()
		steps[i].From = from
		for k := 0; k < n; k++ {
			at := from.Add(time.Duration(float64(k) / rate * float64(time.Second)))
			if d := time.Until(at); d > time.Millisecond {
				if err := sleepCtx(ctx, d); err != nil {
					close(jobs)
					wg.Wait()
					return nil, err
				}
			}
			// Every tenth complaint comes again from a sender whose first
			// one was accepted: it attaches to that sender's open complaint.
			j := job{seq: seq, step: i, sms: seq%2 == 0}
			if seq%10 == 7 {
				select {
				case j.phone = <-s.again:
					j.repeat = true
				default:
				}
			}
			if j.phone == "" {
				j.phone = s.sender(seq)
			}
			select {
			case jobs <- j:
				steps[i].Offered++
			default:
				steps[i].Offered++
				steps[i].Dropped++
			}
			seq++
		}
		if err := sleepCtx(ctx, time.Until(from.Add(s.step))); err != nil {
			close(jobs)
			wg.Wait()
			return nil, err
		}
		steps[i].To = time.Now()
	}
	close(jobs)
	wg.Wait()
	for _, o := range s.outcomes {
		st := &steps[o.step]
		if o.err == "" && o.status/100 == 2 {
			st.Accepted++
			st.Stored = append(st.Stored, o.took)
		} else {
			st.Failed++
		}
	}
	return steps, nil
}

// worker sends the jobs it takes, one at a time on its connection.
func (s *storm) worker(ctx context.Context, jobs <-chan job) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	var mine []outcome
	for j := range jobs {
		if ctx.Err() != nil {
			continue
		}
		req.Reset()
		req.Header.SetMethod(fasthttp.MethodPost)
		text := "My card payment fails again, what is going on? (" + strconv.Itoa(j.seq) + ")"
		if j.sms {
			form := url.Values{"MessageSid": {fmt.Sprintf("SMbench%026d", j.seq)}, "AccountSid": {sandbox.DefaultAccountSID},
				"From": {j.phone}, "To": {"+15005550006"}, "Body": {text}, "NumMedia": {"0"}}
			req.SetRequestURI(s.smsURL)
			req.Header.SetContentType("application/x-www-form-urlencoded")
			req.Header.Set("X-Twilio-Signature", sandbox.TwilioSignature(s.token, benchURL+"/webhooks/twilio/sms", form))
			req.SetBodyString(form.Encode())
		} else {
			req.SetRequestURI(s.apiURL)
			req.Header.SetContentType("application/json")
			req.Header.Set("Authorization", s.auth)
			req.SetBodyString(`{"channel":"api","contact":{"phone":"` + j.phone + `"},"text":"` + text + `"}`)
		}
		o := outcome{job: j, start: time.Now()}
		err := s.client.Do(req, resp)
		o.took = time.Since(o.start)
		if err != nil {
			o.err = err.Error()
		} else {
			o.status = resp.StatusCode()
			if o.status/100 != 2 {
				o.err = fmt.Sprintf("%d %s", o.status, truncateBody(resp.Body()))
			} else if !j.repeat {
				select {
				case s.again <- j.phone:
				default:
				}
			}
		}
		mine = append(mine, o)
	}
	s.mu.Lock()
	s.outcomes = append(s.outcomes, mine...)
	s.mu.Unlock()
}

func truncateBody(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}

// sent is what one sender's requests came to.
type sent struct {
	accepted int
	first    time.Time // the earliest accepted request's start
}

func (s *storm) senders() map[string]sent {
	out := map[string]sent{}
	for _, o := range s.outcomes {
		v := out[o.phone]
		if o.err == "" {
			v.accepted++
			if v.first.IsZero() || o.start.Before(v.first) {
				v.first = o.start
			}
		}
		out[o.phone] = v
	}
	return out
}

func (s *storm) firstIntake(phone string) time.Time {
	if s.first == nil {
		s.first = s.senders()
	}
	return s.first[phone].first
}

func (s *storm) errorSample() []string {
	seen := map[string]bool{}
	var out []string
	for _, o := range s.outcomes {
		if o.err != "" && !seen[o.err] && len(out) < 5 {
			seen[o.err] = true
			out = append(out, o.err)
		}
	}
	return out
}

// report prints the run's steps and its figures against the targets.
func (r *stormResult) report(rep *report) {
	out := rep.out
	fmt.Fprintf(out, "%s: storm during the fan-out to %d recipients (fan-out alone: %.0f SMS/s; load average at the storm's end %s)\n", r.Label, r.Recipients, r.Alone, r.Load)
	fmt.Fprintf(out, "  %8s %8s %8s %9s %7s %9s %9s %10s %7s %9s\n", "offered", "sent", "no-conn", "2xx/s", "errors", "p50 ms", "p99 ms", "fan-out/s", "ratio", "ack p99")
	best, bestAlone := 0.0, 0.0
	var stored, ackedToTarget latencies
	for _, s := range r.Steps {
		stored = append(stored, s.Stored...)
		if s.Rate <= targetComplaintRate {
			ackedToTarget = append(ackedToTarget, s.Acked...)
		}
		p50, p99, ack99 := "-", "-", "-"
		if len(s.Stored) > 0 {
			l := s.Stored.sorted()
			p50, p99 = fmt.Sprintf("%.1f", ms(l[len(l)/2])), fmt.Sprintf("%.1f", ms(l[len(l)*99/100]))
		}
		if len(s.Acked) > 0 {
			l := s.Acked.sorted()
			ack99 = fmt.Sprintf("%.0f ms", ms(l[len(l)*99/100]))
		}
		ratio := "(done)"
		ok := false
		if s.FanoutRunning && r.Alone > 0 {
			ratio = fmt.Sprintf("%.2f", s.Fanout/r.Alone)
			ok = s.Fanout >= targetFanoutRatio*r.Alone
		}
		mark := " "
		if s.sustained() {
			mark = "*"
			bestAlone = max(bestAlone, s.Rate)
			if ok {
				best = max(best, s.Rate)
			}
		}
		fmt.Fprintf(out, "  %7.0f%s %8d %8d %9.0f %7d %9s %9s %10.0f %7s %9s\n", s.Rate, mark, s.Offered-s.Dropped, s.Dropped, s.acceptedRate(),
			s.Failed, p50, p99, s.Fanout, ratio, ack99)
	}
	fmt.Fprintf(out, "  (* sustained: ≥ %.0f%% of the offered complaints accepted, no error, none waiting for a free connection; ack p99: intake → acknowledgement at the sandbox of the step's complaints)\n", sustainedShare*100)
	for _, e := range r.Errors {
		fmt.Fprintf(out, "  error: %s\n", e)
	}
	sustained := figure{name: fmt.Sprintf("%s: complaints/s sustained, fan-out ≥ %.1f of alone", r.Label, targetFanoutRatio),
		value:  fmt.Sprintf("%.0f/s (sustained at all: %.0f/s)", best, bestAlone),
		target: fmt.Sprintf("≥ %.0f/s", targetComplaintRate), pass: best >= targetComplaintRate}
	if r.Rate == 0 {
		// With no sms_rate the fan-out alone takes every CPU the machine
		// has, so keeping 0.9 of it leaves a tenth of the machine for the
		// storm: 100 µs of CPU a complaint at 2 000/s on two CPUs, for
		// its two HTTP exchanges (the intake, the acknowledgement to the
		// provider) on both ends, its write and its acknowledgement's
		// claim and finish. No front door can meet that (herald's costs
		// 400–750 µs); the target is judged where a provider's account
		// limit paces the fan-out, as in production.
		sustained.info = true
		sustained.value += "; CPU-bound fan-out: shown, not judged"
	}
	rep.add(sustained)
	if len(stored) > 0 {
		l := stored.sorted()
		rep.info(fmt.Sprintf("%s: intake → stored (the request), every step", r.Label),
			fmt.Sprintf("p50 %.1f ms, p99 %.1f ms (%d accepted)", ms(l[len(l)/2]), ms(l[len(l)*99/100]), len(l)))
	}
	// The acknowledgement target is judged up to the target rate: the
	// steps above it measure how herald degrades past the target, and
	// every step's own p99 is in the table.
	ack := figure{name: fmt.Sprintf("%s: intake → acknowledgement at the sandbox, steps to %.0f/s", r.Label, targetComplaintRate),
		target: fmt.Sprintf("p99 ≤ %s", targetAckP99)}
	if len(ackedToTarget) > 0 {
		l := ackedToTarget.sorted()
		p99 := l[len(l)*99/100]
		ack.value = fmt.Sprintf("p50 %.0f ms, p99 %.0f ms, max %.0f ms (%d acknowledgements)", ms(l[len(l)/2]), ms(p99), ms(l[len(l)-1]), len(l))
		ack.pass = p99 <= targetAckP99
	} else {
		ack.value = "no acknowledgement arrived"
	}
	rep.add(ack)
	if len(r.Acks) > 0 {
		l := r.Acks.sorted()
		rep.info(fmt.Sprintf("%s: intake → acknowledgement at the sandbox, every step", r.Label),
			fmt.Sprintf("p50 %.0f ms, p99 %.0f ms, max %.0f ms (%d acknowledgements)", ms(l[len(l)/2]), ms(l[len(l)*99/100]), ms(l[len(l)-1]), len(l)))
	}
	if r.Requests > 0 && r.StormCPU > 0 {
		net := r.StormCPU - time.Duration(r.FanoutDuring)*r.AloneCPU
		rep.info(fmt.Sprintf("%s: CPU a complaint, request to acknowledgement at the sandbox (this process: herald, sandbox, clients)", r.Label),
			fmt.Sprintf("%.0f µs (%.1f s of CPU from the storm's start until every acknowledgement was in, less %d fan-out SMS at %.0f µs each alone, over %d accepted requests)",
				float64(net.Microseconds())/float64(r.Requests), r.StormCPU.Seconds(), r.FanoutDuring, float64(r.AloneCPU.Microseconds()), r.Requests))
	}
	if r.Requests > 0 && r.StormRedisCPU >= 0 && r.AloneRedisCPU >= 0 {
		net := r.StormRedisCPU - time.Duration(r.FanoutDuring)*r.AloneRedisCPU
		rep.info(fmt.Sprintf("%s: the Redis server's CPU a complaint (beside this process's, on the same CPUs)", r.Label),
			fmt.Sprintf("%.0f µs (%.1f s over the same time, less %d fan-out SMS at %.0f µs each alone)",
				float64(net.Microseconds())/float64(r.Requests), r.StormRedisCPU.Seconds(), r.FanoutDuring, float64(r.AloneRedisCPU.Microseconds())))
	}
	if r.ReplyFrom != "" {
		rep.info(fmt.Sprintf("%s: acknowledgements from the reply sender %s", r.Label, r.ReplyFrom), fmt.Sprintf("%d of %d", r.FromReply, r.Complaints))
	}
	rep.info(fmt.Sprintf("%s: requests accepted / complaints opened", r.Label),
		fmt.Sprintf("%d / %d (%d attached to an open complaint)", r.Requests, r.Complaints, r.Requests-r.Complaints))
	rep.add(figure{name: fmt.Sprintf("%s: lost", r.Label),
		value: fmt.Sprintf("%d (senders without a complaint %d, messages not stored %d, complaints without an acknowledgement %d; duplicate acknowledgements %d; drained %s)",
			r.lost(), r.NoComplaint, r.MissingMessages, r.MissingAcks, r.DuplicateAcks, r.Drained.Round(100*time.Millisecond)),
		target: "0, one acknowledgement each", pass: r.lost() == 0 && r.DuplicateAcks == 0})
}
