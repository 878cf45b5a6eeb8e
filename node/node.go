// Package node builds one running herald, a node, from a Config: the engine (SQLite
// or Redis) and its event bus, the incident service, the status page, the
// fan-out with its channels (the configured providers or the in-process
// sandbox), the complaint service, the metrics registry and the HTTP
// server. `herald serve`, the herald-bench scenarios and end-to-end tests
// all build herald here, so the wiring is written once.
//
// The shape is wtf's Main: New builds everything and listens, Run starts
// the loops and returns, Wait blocks until the context ends or a part
// stops on its own, and Close shuts down within the configured timeout:
//
//	n, err := node.New(ctx, cfg, node.Options{Log: log})
//	if err != nil { … }
//	_ = n.Run(ctx)
//	err = n.Wait(ctx)
//	if cerr := n.Close(); err == nil { err = cerr }
//
// The config layers (defaults, YAML file, environment) live here too, so
// that package main keeps only its flags.
package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/compensation"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/configs"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/locale"
	"github.com/heraldhq/herald/notify"
	"github.com/heraldhq/herald/notify/render"
	"github.com/heraldhq/herald/notify/smtp"
	"github.com/heraldhq/herald/quietlog"
	"github.com/heraldhq/herald/reports"
	"github.com/heraldhq/herald/sandbox"
	"github.com/heraldhq/herald/server"
	"github.com/heraldhq/herald/slackapp"
	"github.com/heraldhq/herald/statuspage"
	"github.com/heraldhq/herald/surveys"
)

// maintenanceInterval is how often a Node starts and completes maintenances
// whose time has come: a window that opens at 02:00 opens within a second.
const maintenanceInterval = time.Second

// Options are a Node's dependencies and the seams benchmarks and tests
// use; the zero value is what `herald serve` runs with.
type Options struct {
	// Log is the node's logger; nil logs to os.Stderr at the config's
	// level and format (NewLogger).
	Log *slog.Logger
	// HTTPClient calls the provider APIs (Twilio, Slack); nil: ProviderHTTP().
	HTTPClient *http.Client
	// PlanOnly makes the fan-out plan deliveries and send none: it gets no
	// channels at all, and the deliveries stay queued.
	PlanOnly bool
	// Dispatch, when set, limits sending to these channels; the other
	// channels' deliveries stay queued.
	Dispatch []channel.Kind
	// AdjustNotify, when set, is called with the fan-out's settings as
	// derived from Config.Broadcast before the fan-out is built, for what
	// the config does not express (a benchmark's exact burst, say).
	AdjustNotify func(*notify.Config)
	// AdjustServer, when set, is called with the HTTP server's settings
	// before it is built, for what the config does not express (a test's
	// short timeouts and heartbeat).
	AdjustServer func(*server.Config)
}

// Node is one running herald: on SQLite the only one, on Redis one of any
// number serving and dispatching together. Its parts are exported for the
// bench and tests; New builds them, and they must not be replaced.
type Node struct {
	Config Config
	Log    *slog.Logger
	// URL is the public base URL: Config.PublicURL, or derived from the
	// address the node listens on.
	URL string

	Engine    *Engine
	Incidents *incident.Service
	Page      *incident.Page // the default page (the first, created when there is none)
	Site      *statuspage.Site
	Notify    *notify.Service
	// Complaints is the complaint service every complaint front door calls;
	// its answers are the fan-out's deliveries.
	Complaints *complaint.Service
	// Compensation is the compensation service: decisions, per-customer
	// answers, grants; its pushes and lines go through the fan-out.
	Compensation *compensation.Service
	// Surveys is the follow-up: surveys after resolution, answers,
	// win-back and results.
	Surveys *surveys.Service
	// Slack is the Slack front door: /herald, its modals and buttons, and
	// each incident's live message in the incident channel.
	Slack *slackapp.App
	// Reports builds the post-incident reports and evaluations.
	Reports  *reports.Service
	Server   *server.Server
	Registry *prometheus.Registry
	// Sandbox is the in-process provider sandbox, started when no provider
	// is configured; nil with configured providers.
	Sandbox *sandbox.Sandbox

	ln    net.Listener
	chans *channels
	// inboundSMTP is the inbound email listener; nil when off.
	inboundSMTP *smtp.InboundServer
	inboundDone chan error

	cancel                                          context.CancelFunc
	serveDone, siteDone, notifyDone, complaintsDone chan error
	surveysDone, slackDone                          chan error
	running, closed                                 bool
	runErr                                          error // why a part stopped on its own (Wait)
}

// SandboxAgentChannel is the agents' Slack channel in sandbox mode, when
// agent_slack_channel is not set.
const SandboxAgentChannel = "C0HERALDAGENTS"

// NewLogger builds the process logger the config asks for, writing to w.
func NewLogger(w io.Writer, cfg Config) *slog.Logger {
	level, _ := parseLevel(cfg.LogLevel) // Validate checked it
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// New builds the node cfg describes (cfg is assumed valid: see Validate):
// it listens on cfg.Addr, opens the engine and its event bus, ensures the
// default page, and builds the status page, the server, the fan-out with
// its channels and the complaint service. Nothing runs until Run; Close releases it all, also
// when Run was never called.
func New(ctx context.Context, cfg Config, opt Options) (_ *Node, err error) {
	log := opt.Log
	if log == nil {
		log = NewLogger(os.Stderr, cfg)
	}
	log.Debug("config", "config", cfg)

	// Each connection is a descriptor: serve with as many as allowed.
	if before, after, err := server.RaiseFileLimit(); err != nil {
		log.Warn("raise the open-file limit", "soft", before, "err", err)
	} else if after != before {
		log.Debug("raised the open-file limit", "from", before, "to", after)
	}

	// Listen first: a taken port is the most common startup failure, and
	// :0 needs the real port before the public URL is known.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	a := &Node{Config: cfg, Log: log, URL: cfg.PublicURLFor(ln.Addr().String()), ln: ln,
		serveDone: make(chan error, 1), siteDone: make(chan error, 1), notifyDone: make(chan error, 1), complaintsDone: make(chan error, 1), surveysDone: make(chan error, 1), slackDone: make(chan error, 1)}
	defer func() {
		if err != nil {
			a.release()
		}
	}()

	if a.Engine, err = OpenEngine(ctx, cfg, log); err != nil {
		return nil, err
	}
	if err := a.Engine.StartEvents(ctx, log); err != nil {
		return nil, err
	}
	a.Incidents = incident.NewService(a.Engine.Incidents, a.Engine.Events, log)
	words, err := locale.Default()
	if err != nil {
		return nil, fmt.Errorf("word catalogue: %w", err)
	}
	a.Incidents.Words = func(lang, id string) string { return words.Lang(lang).Text(id) }
	if a.Page, err = a.Incidents.EnsureDefaultPage(ctx, a.URL); err != nil {
		return nil, fmt.Errorf("default page: %w", err)
	}
	if cfg.PublicURL != "" && a.Page.URL != a.URL && derivedURL(a.Page.URL) && derivedURL(a.URL) {
		// A loopback public_url (nodes tried side by side on one
		// machine, each with its own) does not move a loopback page URL:
		// the page would follow whichever node started last, and every
		// message's links with it.
		log.Warn("public_url is a loopback address: the page keeps its URL; give every node the same public_url, or set the page's with `herald pages set --url`",
			"page_id", a.Page.ID, "page_url", a.Page.URL, "public_url", a.URL)
	} else if cfg.PublicURL != "" && a.Page.URL != a.URL && derivedURL(a.Page.URL) {
		// The page was made by a start without public_url, at the
		// loopback address it listened on; every message's incident link
		// would keep pointing there. A URL a person set stays.
		old, url := a.Page.URL, a.URL
		if a.Page, err = a.Incidents.UpdatePage(ctx, a.Page.ID, incident.PageInput{URL: &url}); err != nil {
			return nil, fmt.Errorf("default page: follow public_url: %w", err)
		}
		log.Info("the page's URL follows public_url", "page_id", a.Page.ID, "was", old, "now", url)
	}

	a.Registry = prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := a.Registry.Register(c); err != nil {
			log.Warn("register metrics", "err", err)
		}
	}
	a.Site = statuspage.New(a.Incidents, a.Engine.Events, statuspage.Options{Registerer: a.Registry, Log: log})
	scfg := server.Config{PublicURL: a.URL, BodyLimit: cfg.BodyLimit, TrustedProxies: cfg.TrustedProxies,
		MaxConns: cfg.MaxConns, MaxConnsPerClient: cfg.MaxConnsPerClient,
		MaxEventStreams: cfg.MaxEventStreams, MaxEventStreamsPerClient: cfg.MaxEventStreamsPerClient}
	if opt.AdjustServer != nil {
		opt.AdjustServer(&scfg)
	}
	a.Server = server.New(scfg, a.Incidents, a.Site, a.Registry, log)
	if err := a.buildBroadcast(ctx, opt); err != nil {
		return nil, err
	}
	return a, nil
}

// buildBroadcast builds the fan-out: the channels (real providers or the
// sandbox), the templates, the notify.Service on the engine's store and
// limiter, and the server's broadcast routes.
func (a *Node) buildBroadcast(ctx context.Context, opt Options) error {
	cfg := a.Config
	var override fs.FS
	if dir := cfg.Broadcast.TemplatesDir; dir != "" {
		override = os.DirFS(dir)
	}
	r, err := render.New(configs.TemplatesFS(), override)
	if err != nil {
		return fmt.Errorf("templates: %w", err)
	}
	hc := opt.HTTPClient
	if hc == nil {
		hc = ProviderHTTP()
	}
	// The sandbox outlives ctx: it is closed by Close, after the sends in
	// flight at shutdown have reached it.
	chans, err := buildChannels(context.WithoutCancel(ctx), cfg, a.URL, hc, a.Log)
	if err != nil {
		return err
	}
	a.chans, a.Sandbox = chans, chans.sandbox
	sendThrough := chans.byKind
	switch {
	case opt.PlanOnly:
		sendThrough = nil
	case opt.Dispatch != nil:
		sendThrough = map[channel.Kind]notify.Channel{}
		for _, k := range opt.Dispatch {
			if ch, ok := chans.byKind[k]; ok {
				sendThrough[k] = ch
			}
		}
	}
	replies := map[channel.Kind]notify.Channel{}
	for k, ch := range chans.replies {
		if _, ok := sendThrough[k]; ok {
			replies[k] = ch
		}
	}
	ncfg := cfg.Broadcast.NotifyConfig(a.URL)
	ncfg.WebhookExempt = chans.exempt // the sandbox's listener: its sinks may be subscribed
	if chans.sandbox != nil && ncfg.AgentSlackChannel == "" {
		// In the sandbox the agents' channel is there to be seen: each
		// compensation decision shows in the inbox, edited in place.
		ncfg.AgentSlackChannel = SandboxAgentChannel
	}
	ncfg.Registerer = a.Registry
	if opt.AdjustNotify != nil {
		opt.AdjustNotify(&ncfg)
	}
	a.Log.Info("SMS sign-ups on the status page: " + notify.SMSSignupPolicy(ncfg))
	a.Notify, err = notify.New(ncfg, notify.Deps{Incidents: a.Incidents, Store: a.Engine.Notify, Complaints: a.Engine.Complaints, Channels: sendThrough, Replies: replies, Renderer: r,
		Events: a.Engine.Events, Limiter: a.Engine.Limiter, Log: a.Log})
	if err != nil {
		return err
	}
	bc := server.BroadcastConfig{TwilioAuthToken: chans.twilioToken, SlackSigningSecret: chans.slackSecret,
		Secrets: a.Engine.Secrets, DefaultRegion: cfg.Broadcast.DefaultRegion}
	if chans.sandbox != nil {
		bc.Sandbox, bc.SandboxGuarded = chans.sandbox.Handler(), chans.sandbox.GuardedHandler()
	}
	if err := a.Server.EnableBroadcast(a.Notify, bc); err != nil {
		return err
	}
	return a.buildComplaints()
}

// buildComplaints builds the complaint service on the engine's store, with
// the customers to match senders against, the fan-out to answer through,
// and the SLA policy from the config, and adds its front doors.
func (a *Node) buildComplaints() error {
	e := a.Engine
	svc := complaint.NewService(e.Complaints, e.Incidents, e.Customers, a.Notify, e.Events, a.Log)
	if subs, ok := e.Customers.(complaint.Subscribers); ok {
		svc.Subscribers = subs
	}
	svc.Policy = a.Config.Complaints.Policy()
	svc.OnDuty = a.Config.Complaints.OnDuty()
	a.Complaints = svc
	if err := a.Server.EnableComplaints(svc, server.ComplaintsConfig{Limiter: e.Limiter}); err != nil {
		return err
	}
	if err := a.buildCompensation(); err != nil {
		return err
	}
	if err := a.buildSurveys(); err != nil {
		return err
	}
	if err := a.buildSlackApp(); err != nil {
		return err
	}
	if err := a.buildInboundEmail(svc); err != nil {
		return err
	}
	return a.buildConsole()
}

// buildCompensation builds the compensation service on the engine's store:
// its agents' pushes and the customers' lines go through the fan-out, its
// grants note complaints, and its API and the agents' feed join the
// server.
func (a *Node) buildCompensation() error {
	e := a.Engine
	svc := compensation.NewService(e.Compensation, e.Incidents, e.Audience, e.Events, a.Log)
	svc.Agents, svc.Notes = a.Notify, a.Complaints
	a.Notify.SetCompensation(svc)
	a.Compensation = svc
	return a.Server.EnableCompensation(svc, e.Events)
}

// buildSurveys builds the survey service: its surveys are deliveries in the
// fan-out, its win-back tasks complaints, its offers the compensation
// policy's; the sweep's lease and the link key are the engine's.
func (a *Node) buildSurveys() error {
	e := a.Engine
	svc := surveys.NewService(e.Surveys, e.Incidents, a.Log)
	svc.Deliveries, svc.Customers, svc.Complaints, svc.Grants, svc.Offers = e.SurveyDeliveries, e.SurveyCustomers, a.Complaints, e.Compensation, a.Compensation
	svc.Sender, svc.Suppressions, svc.Leaser, svc.Secrets, svc.Events = a.Notify, e.Notify, e.Complaints, e.Secrets, e.Events
	svc.Defaults, svc.PublicURL, svc.Sweep = a.Config.Surveys.Settings(), a.URL, a.Config.Surveys.Sweep
	a.Surveys = svc
	a.Notify.SetSurveys(svc)
	if err := a.Server.EnableSurveys(svc); err != nil {
		return err
	}
	return a.buildReports()
}

// buildReports builds the reports service: the engine's counters for the
// deliveries and complaints, the services' figures for the rest.
func (a *Node) buildReports() error {
	e := a.Engine
	a.Reports = &reports.Service{Incidents: e.Incidents, Deliveries: e.Notify, Complaints: e.Complaints, Stats: a.Complaints,
		Compensation: a.Compensation, Grants: a.Compensation, Surveys: a.Surveys, Now: a.Incidents.Now}
	return a.Server.EnableReports(a.Reports)
}

// buildSlackApp builds the Slack front door on the Slack client the
// messages use, and hands it /herald and the interactions.
func (a *Node) buildSlackApp() error {
	cfg := a.Config.Slack
	if a.chans.sandbox != nil && cfg.IncidentChannel == "" {
		// In the sandbox the incident channel is there to be seen.
		cfg.IncidentChannel = SandboxIncidentChannel
	}
	node := ""
	if n, ok := a.Engine.Events.(interface{ Node() string }); ok {
		node = n.Node()
	}
	app, err := slackapp.New(slackapp.Config{IncidentChannel: cfg.IncidentChannel, PublicURL: a.URL, Roles: cfg.Roles(), Node: node},
		a.Incidents, a.Notify, a.chans.slack, a.Engine.LiveMessages, a.Engine.Events, a.Log)
	if err != nil {
		return err
	}
	a.Slack = app
	return a.Server.EnableSlackApp(app)
}

// Addr is the address the node listens on (the real port of a :0).
func (a *Node) Addr() string { return a.ln.Addr().String() }

// Channels describes each channel for the start line, like "sms=twilio(api.twilio.com)".
func (a *Node) Channels() []string { return a.chans.descriptions }

// Run starts the node: the status page, the fan-out, the HTTP server on
// its listener and the maintenance ticker. It logs "herald listening" and
// returns; they run until ctx ends (then call Close) or Close.
func (a *Node) Run(ctx context.Context) error {
	if a.running || a.closed {
		return errors.New("node: Run called twice, or after Close")
	}
	a.running = true
	runCtx, cancel := context.WithCancel(ctx)
	a.cancel = cancel
	go func() { a.siteDone <- a.Site.Run(runCtx) }()
	go func() { a.notifyDone <- a.Notify.Run(runCtx) }()
	// Answers complaints as their incidents resolve, and sweeps (late
	// acknowledgements, SLA warnings) on the node holding the lease.
	holder := holderName(a.Addr())
	go func() { a.complaintsDone <- a.Complaints.Run(runCtx, holder) }()
	go a.Compensation.Run(runCtx) // drops cached answers as incidents and decisions change
	// Schedules surveys after resolution and sends the due ones, on the
	// node holding the lease.
	go func() { a.surveysDone <- a.Surveys.Run(runCtx, holder) }()
	// Keeps every incident's Slack message current, with the other nodes (a lease in the store).
	go func() { a.Slack.Run(runCtx); a.slackDone <- nil }()
	go func() { a.serveDone <- a.Server.Serve(a.ln) }()
	if a.inboundSMTP != nil {
		a.inboundDone = make(chan error, 1)
		go func() { a.inboundDone <- a.inboundSMTP.Serve() }()
		a.Log.Info("inbound email listening", "addr", a.inboundSMTP.Addr())
	}
	go advanceMaintenances(runCtx, a.Incidents, a.Log, maintenanceInterval)
	a.Log.Info("herald listening", "addr", a.Addr(), "url", a.URL, "engine", a.Engine.Name, "store", a.Engine.Where, "page_id", a.Page.ID,
		"channels", strings.Join(a.Channels(), " "), "connection_budget", a.Server.ConnectionBudget(), "version", Version())
	return nil
}

// Wait blocks until ctx ends, and returns nil, or until the server or the
// status page stops on its own, and returns why. Call Close after it (not
// at the same time).
func (a *Node) Wait(ctx context.Context) error {
	if !a.running {
		<-ctx.Done()
		return nil
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-a.serveDone:
		a.runErr = fmt.Errorf("server stopped: %w", err)
		a.serveDone <- nil
	case err := <-a.siteDone:
		a.runErr = fmt.Errorf("status page stopped: %w", err)
		a.siteDone <- nil
	}
	return a.runErr
}

// Close shuts the node down within Config.ShutdownTimeout: the server stops
// taking requests and finishes those in flight, the status page and the
// fan-out stop (the sends in flight finish and are written down), then
// the sandbox, the event bus and the store close. It returns the server's
// error, if any. Close is safe to call more than once.
func (a *Node) Close() error {
	if a.closed {
		return nil
	}
	a.closed = true
	if !a.running {
		a.release()
		return nil
	}
	log := a.Log
	if a.runErr == nil {
		log.Info("shutting down", "timeout", a.Config.ShutdownTimeout)
	}
	a.cancel()
	sctx, scancel := context.WithTimeout(context.Background(), a.Config.ShutdownTimeout)
	defer scancel()
	inboundStopped := make(chan struct{})
	go func() {
		// Beside the HTTP server's: mail being filed is filed (then
		// answered 250), new mail is refused at connect and the sender's
		// server tries again later; an idle SMTP session holds it until
		// the timeout, then is cut.
		defer close(inboundStopped)
		if a.inboundSMTP == nil {
			return
		}
		if err := a.inboundSMTP.Shutdown(sctx); err != nil {
			log.Warn("inbound email shutdown", "err", err)
		}
		if err := <-a.inboundDone; err != nil {
			log.Warn("inbound email", "err", err)
		}
	}()
	if err := a.Server.Shutdown(sctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	var serveErr error
	select {
	case serveErr = <-a.serveDone:
	case <-sctx.Done():
		log.Warn("shutdown timed out; dropping connections still open")
	}
	select {
	case <-a.siteDone:
	case <-sctx.Done():
	}
	// notify.Service.Run returns once the sends in flight have finished
	// and their outcomes are written; a send cut short here would be sent
	// again after the lease, so it gets the whole shutdown timeout.
	select {
	case <-a.notifyDone:
	case <-sctx.Done():
		log.Warn("shutdown timed out with sends in flight; they are sent again after their lease")
	}
	select {
	case <-a.complaintsDone:
	case <-sctx.Done():
	}
	select {
	case <-a.surveysDone:
	case <-sctx.Done():
	}
	select {
	case <-a.slackDone:
	case <-sctx.Done():
	}
	<-inboundStopped // before the store closes under a message being filed
	a.release()
	if a.runErr == nil && serveErr == nil {
		log.Info("stopped")
	}
	return serveErr
}

// release closes what New opened, in reverse: the sandbox (after the
// fan-out, so sends in flight still reach it), the engine, the listener.
func (a *Node) release() {
	if a.Slack != nil && !a.running {
		a.Slack.Close()
	}
	if a.inboundSMTP != nil && a.inboundDone == nil {
		_ = a.inboundSMTP.Close() // built, never served: its listener
	}
	if a.chans != nil {
		_ = a.chans.closeSandbox()
	}
	if a.Engine != nil {
		if err := a.Engine.Close(); err != nil {
			a.Log.Warn("close store", "err", err)
		}
	}
	_ = a.ln.Close()
}

// advanceMaintenances starts and completes due maintenances every interval
// until ctx ends. A plain ticker, not cron: this is a poll, and every node
// may run it (the service resolves races). While the store is unreachable
// every poll fails: that is a line in a while (quietlog), not one a second.
func advanceMaintenances(ctx context.Context, svc *incident.Service, log *slog.Logger, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var failed quietlog.Line
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := svc.AdvanceMaintenances(ctx)
			switch {
			case err != nil && !errors.Is(err, context.Canceled):
				failed.Log(log, slog.LevelWarn, "advance maintenances", "err", err)
			case n > 0:
				log.Info("maintenances advanced", "count", n)
			}
		}
	}
}

// Version is the module version stamped by the Go toolchain, with the VCS
// revision when the binary was built from a checkout.
func Version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += " (" + rev + dirty + ")"
	}
	return v + " " + info.GoVersion
}
