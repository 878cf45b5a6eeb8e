package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/audience"
	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/complaint"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/netguard"
	"github.com/heraldhq/herald/notify/contact"
	"github.com/heraldhq/herald/notify/customerfile"
	"github.com/heraldhq/herald/notify/render"
	"github.com/heraldhq/herald/queue"
	"github.com/heraldhq/herald/quietlog"
	"github.com/heraldhq/herald/ratelimit"
	"github.com/prometheus/client_golang/prometheus"
)

// Config tunes the fan-out. Zero values take the defaults documented on
// each field (see the Default… constants).
type Config struct {
	// PublicURL is the base of the links in messages (unsubscribe, confirm).
	PublicURL string
	// Policy says which broadcasts each channel gets; nil is DefaultPolicy().
	Policy map[channel.Kind][]incident.BroadcastKind
	// QuietStart and QuietEnd ("22:00", "07:00") are a daily window, in the
	// customer's time zone (the page's when the customer has none), in
	// which non-critical messages to customers wait; "" disables it.
	QuietStart, QuietEnd string
	// FrequencyCap is the most messages one address gets about one
	// incident on one channel within FrequencyWindow (default 3 per hour);
	// excess updates collapse into the next message. Negative disables it.
	FrequencyCap    int
	FrequencyWindow time.Duration
	// AutoReplyLimit is the most automatic answers (a complaint's
	// acknowledgement or receipt, the reply to a survey reply) one
	// address gets on one channel within AutoReplyWindow (default 10 per
	// 24 h), counted by the store across nodes and restarts; further ones
	// are not sent (the complaint's timeline says so, and
	// herald_notify_auto_replies_limited_total counts them). Negative
	// disables it.
	AutoReplyLimit  int
	AutoReplyWindow time.Duration
	// MaxAttempts bounds sends of a delivery with transient errors
	// (default 8); RetryBase and RetryMax shape the backoff.
	MaxAttempts         int
	RetryBase, RetryMax time.Duration
	// Rates are the provider limits per channel (e.g. sms 10/s). Slack is
	// also limited per address: SlackPerChannel (default 1/s).
	Rates           map[channel.Kind]ratelimit.Limit
	SlackPerChannel ratelimit.Limit
	// ReplyRates limit the one-to-one replies (IsReply) on a channel that
	// has a reply sender of its own (Deps.Replies): they go out under this
	// limit, not under Rates, as a second number or Messaging Service has
	// its own throughput. No entry, or 0: unlimited. A channel without a
	// reply sender sends its replies under Rates like everything else.
	ReplyRates map[channel.Kind]ratelimit.Limit
	// Workers is the number of concurrent sends per channel (default 8).
	Workers map[channel.Kind]int
	// BatchSize is the planner's batch (default 2000); dispatchers claim
	// up to ClaimSize deliveries at a time (default 16 × workers, ≥ 128,
	// capped so a rate-limited channel sends a claim within lease/8).
	BatchSize int
	ClaimSize int
	// Lease is the plan and delivery lease (default 30s).
	Lease time.Duration
	// Poll is how often idle loops look for due work (default 200ms).
	Poll time.Duration
	// MaxSMSSegments is the SMS budget (default DefaultMaxSMSSegments);
	// SMSSegmentPrice and SMSCurrency price a dry run.
	MaxSMSSegments  int
	SMSSegmentPrice float64
	SMSCurrency     string
	// SMSCountries is the allow-list of region codes (HU, PL, HR, US) for
	// self-service SMS sign-ups, against toll fraud through the public
	// form; "any" allows every country. Empty: DefaultRegion's country,
	// and the numbers of imported customers wherever they are (see
	// SMSSignupPolicy); with neither, no self-service SMS sign-up.
	SMSCountries []string
	// SlackWebhookHosts are the hosts a Slack subscriber's incoming-webhook
	// URL may be on (a Mattermost or Rocket.Chat server speaking Slack's
	// format, say); nil: DefaultSlackWebhookHosts. A look-alike such as
	// hooks.slack.com.127.0.0.1.nip.io is refused at sign-up.
	SlackWebhookHosts []string
	// SubscribeIPLimit is the per-IP sign-up rate (default 10 per 4 h).
	SubscribeIPLimit ratelimit.Limit
	// DefaultRegion reads phone numbers without a country prefix.
	DefaultRegion string
	// AgentSlackChannel is the Slack channel (an ID such as C0123ABCD, or
	// an incoming-webhook URL) that tells support agents each
	// compensation decision; "" tells them through the API and the agents'
	// feed only. With a channel ID and a bot token the message is edited
	// in place as the decision changes; a webhook URL can only post anew.
	AgentSlackChannel string
	// AllowPrivateWebhooks lets webhook and Slack subscribers point at
	// loopback or private addresses (tests, closed networks); off in
	// production.
	AllowPrivateWebhooks bool
	// WebhookExempt are IP:port pairs webhook and Slack subscribers may
	// point at although AllowPrivateWebhooks is off
	// (netguard.Options.Exempt): the sandbox's own listener, so that its
	// inbox shows webhook and Slack messages without opening every other
	// internal address to whoever signs up. A Slack URL on one may be
	// plain http and off SlackWebhookHosts, as the sandbox's are.
	WebhookExempt []netip.AddrPort
	// ReconcileAfter is how long an SMS may wait for its receipt before
	// herald looks it up at the provider (reconcile.go); 0 is
	// DefaultReconcileAfter, negative turns it off.
	ReconcileAfter time.Duration
	// Registerer, when set, receives the fan-out's Prometheus counters.
	Registerer prometheus.Registerer
}

// SMSSignupPolicy describes, for the start-up log, who may sign up by SMS
// on the status page under cfg.
func SMSSignupPolicy(cfg Config) string {
	switch {
	case containsFold(cfg.SMSCountries, "any"):
		return "numbers of any country (sms_countries: any)"
	case len(cfg.SMSCountries) > 0:
		return "numbers in " + strings.Join(cfg.SMSCountries, ", ") + " (sms_countries)"
	case cfg.DefaultRegion != "":
		return "numbers in " + cfg.DefaultRegion + " (default_region) and imported customers' numbers; set sms_countries to change"
	}
	return "imported customers' numbers only (no default_region or sms_countries set)"
}

// DefaultSlackWebhookHosts is where Slack's incoming webhooks live.
var DefaultSlackWebhookHosts = []string{"hooks.slack.com"}

// Deps are what the Service works with.
type Deps struct {
	Incidents *incident.Service
	Store     Store
	Channels  map[channel.Kind]Channel
	// Replies are the reply senders: a channel listed here sends its
	// one-to-one replies (IsReply: complaint answers, sign-up
	// confirmations) through this Channel, by workers of their own and
	// under Config.ReplyRates, so a person who has just written is not
	// queued behind a broadcast's rate limit; the dispatcher claims them
	// apart from the broadcast (queue.LaneReplies), so neither waits for
	// the other's backlog. Its kind must be in Channels.
	Replies  map[channel.Kind]Channel
	Renderer *render.Renderer
	Events   incident.Events
	Limiter  ratelimit.Limiter // nil: ratelimit.NewLocal()
	Log      *slog.Logger
	Now      func() time.Time
	// Complaints, when set, lets a resolution broadcast leave out a
	// customer's message on the channel they complained on about the
	// incident: the complaint's own resolution message (complaint_resolved)
	// tells them, with their reference, so they hear it once.
	Complaints ComplaintFinder
	// ValidateURL checks a webhook or Slack subscriber's URL against SSRF;
	// nil uses netguard's CheckURL with Config.AllowPrivateWebhooks and
	// Config.WebhookExempt. Either way the channels check the address
	// again when they connect.
	ValidateURL func(raw string) error
}

// Service is the fan-out: it plans broadcasts into deliveries, dispatches
// them per channel, and manages customers, subscribers and suppressions.
type Service struct {
	cfg    Config
	inc    *incident.Service
	store  Store
	chans  map[channel.Kind]Channel
	reply  map[channel.Kind]Channel // Deps.Replies
	r      *render.Renderer
	events incident.Events
	lim    ratelimit.Limiter
	// localLimiter: lim is in-process, where a turn costs no round trip
	// and is taken one at a time; a shared one's turns are reserved in
	// batches (takeBatched).
	localLimiter bool
	turnsMu      sync.Mutex
	turns        map[string]*turns
	log          *slog.Logger
	clock        func() time.Time
	quiet        quietHours
	guard        netguard.Options   // the address rules for subscribers' URLs (AllowPrivateWebhooks, WebhookExempt)
	check        func(string) error // Deps.ValidateURL, or guard.CheckURL

	keyMu sync.Mutex
	key   []byte

	wakePlan chan struct{}
	wakeKind map[channel.Kind]chan struct{}

	cache   *snapshotCache
	metrics *metrics

	compMu sync.Mutex
	comp   Compensation // SetCompensation
	// surveyOutcomes (SetSurveys, under compMu) hears of survey
	// deliveries that failed for good.
	surveyOutcomes SurveyOutcomes

	held *receiptHold // status callbacks waiting for the store

	limiterLog quietlog.Line // a failing rate limiter, a line in a while
	planLog    quietlog.Line // a failing plan claim (the store down), likewise

	complaints ComplaintFinder // Deps.Complaints
}

// ComplaintFinder reads complaints; complaint.Store implements it.
type ComplaintFinder interface {
	FindComplaints(ctx context.Context, f complaint.Filter) ([]*complaint.Complaint, int, error)
	// FindEntries is a complaint's timeline: an answer by email names the
	// customer's emails on it in In-Reply-To and References.
	FindEntries(ctx context.Context, complaintID string) ([]*complaint.Entry, error)
}

// New checks cfg, fills in defaults and returns a Service; call Run to
// start planning and sending.
func New(cfg Config, deps Deps) (*Service, error) {
	if deps.Store == nil || deps.Incidents == nil || deps.Renderer == nil {
		return nil, errors.New("notify: New needs Store, Incidents and Renderer")
	}
	if cfg.Policy == nil {
		cfg.Policy = DefaultPolicy()
	}
	if cfg.FrequencyCap == 0 {
		cfg.FrequencyCap = DefaultFrequencyCap
	}
	if cfg.ReconcileAfter == 0 {
		cfg.ReconcileAfter = DefaultReconcileAfter
	}
	if cfg.FrequencyWindow <= 0 {
		cfg.FrequencyWindow = DefaultFrequencyWindow
	}
	if cfg.AutoReplyLimit == 0 {
		cfg.AutoReplyLimit = DefaultAutoReplyLimit
	}
	if cfg.AutoReplyWindow <= 0 {
		cfg.AutoReplyWindow = DefaultAutoReplyWindow
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = DefaultRetryBase
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = DefaultRetryMax
	}
	if cfg.RetryMax < cfg.RetryBase {
		cfg.RetryMax = cfg.RetryBase
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.MaxSMSSegments <= 0 {
		cfg.MaxSMSSegments = render.DefaultMaxSMSSegments
	}
	if cfg.SMSSegmentPrice <= 0 {
		cfg.SMSSegmentPrice = DefaultSMSSegmentPrice
	}
	if cfg.SMSCurrency == "" {
		cfg.SMSCurrency = DefaultSMSCurrency
	}
	if cfg.SubscribeIPLimit.Rate <= 0 {
		cfg.SubscribeIPLimit = DefaultSubscribeIPLimit()
	}
	if cfg.SlackPerChannel.Rate <= 0 {
		cfg.SlackPerChannel = ratelimit.Limit{Rate: DefaultSlackPerChannel, Burst: 1}
	}
	s := &Service{cfg: cfg, inc: deps.Incidents, store: deps.Store, chans: deps.Channels, reply: deps.Replies, r: deps.Renderer,
		events: deps.Events, lim: deps.Limiter, log: deps.Log, clock: deps.Now, check: deps.ValidateURL, complaints: deps.Complaints,
		wakePlan: make(chan struct{}, 1), wakeKind: map[channel.Kind]chan struct{}{}, held: newReceiptHold(DefaultHeldReceipts)}
	if (cfg.QuietStart == "") != (cfg.QuietEnd == "") {
		return nil, errors.New("notify: QuietStart and QuietEnd go together")
	}
	if cfg.QuietStart != "" {
		a, err := clock(cfg.QuietStart)
		if err != nil {
			return nil, fmt.Errorf("notify: QuietStart: %w", err)
		}
		b, err := clock(cfg.QuietEnd)
		if err != nil {
			return nil, fmt.Errorf("notify: QuietEnd: %w", err)
		}
		s.quiet = quietHours{start: a, end: b, on: true}
	}
	if s.lim == nil {
		s.lim = ratelimit.NewLocal()
	}
	_, s.localLimiter = s.lim.(*ratelimit.Local)
	s.turns = map[string]*turns{}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	s.guard = netguard.Options{AllowPrivate: cfg.AllowPrivateWebhooks, Exempt: cfg.WebhookExempt}
	if s.check == nil {
		s.check = s.guard.CheckURL
	}
	if s.chans == nil {
		s.chans = map[channel.Kind]Channel{}
	}
	for k, ch := range s.chans {
		if ch == nil || ch.Kind() != k {
			return nil, fmt.Errorf("notify: channel for %q is missing or of another kind", k)
		}
		s.wakeKind[k] = make(chan struct{}, 1)
	}
	for k, ch := range s.reply {
		if _, ok := s.chans[k]; !ok || ch == nil || ch.Kind() != k {
			return nil, fmt.Errorf("notify: reply sender for %q is missing, of another kind, or without a channel", k)
		}
	}
	s.cache = newSnapshotCache(s)
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	return s, nil
}

func (s *Service) now() time.Time { return s.clock().UTC() }

func (s *Service) workers(k channel.Kind) int {
	if n := s.cfg.Workers[k]; n > 0 {
		return n
	}
	return 8
}

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (s *Service) wakeDispatchers() {
	for _, ch := range s.wakeKind {
		wake(ch)
	}
}

// Run plans and dispatches until ctx ends, then waits for in-flight sends
// to finish and returns ctx's error. It wakes on broadcast events (low
// latency from declaration to first send) and polls every Config.Poll for
// retries, deferrals and work left by other nodes.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if s.events != nil {
		evs, cancel := s.events.Subscribe()
		defer cancel()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case ev, ok := <-evs:
					if !ok {
						return
					}
					if ev.Type == incident.EventBroadcastCreated || ev.Type == incident.EventResync {
						wake(s.wakePlan)
					}
					// Only a change to the incident itself changes what its
					// messages say; a complaint about it (complaint.changed,
					// thousands a second in a storm) does not.
					if ev.IncidentID != "" && (ev.Type == incident.EventIncidentChanged || ev.Type == incident.EventIncidentDeleted || ev.Type == incident.EventBroadcastCreated) {
						s.cache.invalidate(ev.IncidentID)
					}
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.planLoop(ctx)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.applyHeldLoop(ctx)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.reconcileLoop(ctx)
	}()
	for k, ch := range s.chans {
		wg.Add(1)
		go func(k channel.Kind, ch Channel) {
			defer wg.Done()
			newDispatcher(s, k, ch).run(ctx)
			if c, ok := s.reply[k].(io.Closer); ok {
				if err := c.Close(); err != nil {
					s.log.Warn("close reply channel", "channel", k, "err", err)
				}
			}
			// A channel holding connections (SMTP sessions) lets them go
			// once its dispatcher has stopped sending.
			if c, ok := ch.(io.Closer); ok {
				if err := c.Close(); err != nil {
					s.log.Warn("close channel", "channel", k, "err", err)
				}
			}
		}(k, ch)
	}
	wg.Wait()
	return ctx.Err()
}

// sleep waits d or until ctx ends or wakeup fires; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration, wakeup <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wakeup:
	}
	return true
}

// ---- customers ----

// ImportResult says what an import did.
type ImportResult struct {
	Created int `json:"created"`
	Updated int `json:"updated"`
	Invalid int `json:"invalid"` // rows
	// Errors are every problem of every invalid row: one per bad field,
	// so a row may be listed more than once.
	Errors []customerfile.RowError `json:"errors"`
	// Notes are rows imported without something they gave (a landline
	// beside an email: customerfile.Parse).
	Notes []customerfile.RowError `json:"notes"`
}

// ImportCustomers reads customers (format "csv" or "json") into a page,
// upserting by ID. With bad rows and !skipInvalid it imports nothing and
// returns the result (listing every bad row) with an EINVALID error on
// field "file"; with skipInvalid it imports the good rows. The rows it
// imports are written as one unit: all or none, whatever stops it.
func (s *Service) ImportCustomers(ctx context.Context, pageID string, r io.Reader, format string, skipInvalid bool) (*ImportResult, error) {
	comps, err := s.inc.Components(ctx, pageID)
	if err != nil {
		return nil, err
	}
	good, bad, notes, err := customerfile.Parse(r, format, comps, s.cfg.DefaultRegion)
	if err != nil {
		return nil, err
	}
	res := &ImportResult{Invalid: customerfile.Rows(bad), Errors: bad, Notes: notes}
	if res.Errors == nil {
		res.Errors = []customerfile.RowError{}
	}
	if res.Notes == nil {
		res.Notes = []customerfile.RowError{}
	}
	if len(bad) > 0 && !skipInvalid {
		return res, incident.Invalid("file", "%d rows are invalid; nothing was imported", res.Invalid)
	}
	now := s.now()
	for _, c := range good {
		c.PageID = pageID
		c.CreatedAt, c.UpdatedAt = now, now
	}
	// One call: the engines write it as one unit (a SQLite transaction, a
	// staged switch on Redis), so an import that fails or dies half way,
	// even by kill -9, leaves none of its rows; the same file again
	// imports them all.
	if len(good) > 0 {
		created, err := s.store.UpsertCustomers(ctx, good)
		if err != nil {
			return nil, err
		}
		res.Created, res.Updated = created, len(good)-created
	}
	s.log.Info("customers imported", "page_id", pageID, "created", res.Created, "updated", res.Updated, "invalid", res.Invalid)
	return res, nil
}

// Customers pages through a page's customers by ID and returns the total.
func (s *Service) Customers(ctx context.Context, pageID, after string, limit int) ([]*audience.Customer, int, error) {
	if _, err := s.inc.Page(ctx, pageID); err != nil {
		return nil, 0, err
	}
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	cs, err := s.store.FindCustomers(ctx, audience.CustomerFilter{PageID: pageID, After: after, Limit: limit})
	if err != nil {
		return nil, 0, err
	}
	n, err := s.store.CountCustomers(ctx, pageID)
	if err != nil {
		return nil, 0, err
	}
	return cs, n, nil
}

// FindCustomers is a search as a person types it: customers whose
// phone (as typed, read with defaultRegion when it has no country code)
// or email is q, the customer with ID q, and the customers whose name
// matches q (audience.Store.FindCustomersByName), each once, in that
// order, at most limit (1 to audience.MaxNameResults, default 20).
func (s *Service) FindCustomers(ctx context.Context, pageID, q, defaultRegion string, limit int) ([]*audience.Customer, error) {
	if _, err := s.inc.Page(ctx, pageID); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > audience.MaxNameResults {
		limit = 20
	}
	q = strings.TrimSpace(q)
	out := []*audience.Customer{}
	if q == "" {
		return out, nil
	}
	if len(q) > audience.MaxNameQuery {
		return nil, incident.Invalid("q", "at most %d characters", audience.MaxNameQuery)
	}
	seen := map[string]bool{}
	add := func(cs ...*audience.Customer) {
		for _, c := range cs {
			if !seen[c.ID] && len(out) < limit {
				seen[c.ID] = true
				out = append(out, c)
			}
		}
	}
	if strings.Contains(q, "@") {
		if e, err := contact.NormalizeEmail(q); err == nil {
			found, err := s.store.FindCustomersByAddress(ctx, pageID, channel.Email, e)
			if err != nil {
				return nil, err
			}
			add(found...)
		}
	} else if p, err := contact.NormalizePhone(q, defaultRegion); err == nil {
		found, err := s.store.FindCustomersByAddress(ctx, pageID, channel.SMS, p)
		if err != nil {
			return nil, err
		}
		add(found...)
	}
	if one, err := s.store.FindCustomerByID(ctx, pageID, q); err == nil {
		add(one)
	} else if !errors.Is(err, incident.ErrNotFound) {
		return nil, err
	}
	if len(out) < limit {
		found, err := s.store.FindCustomersByName(ctx, pageID, q, limit)
		if err != nil {
			return nil, err
		}
		add(found...)
	}
	return out, nil
}

// Customer returns one customer or ENOTFOUND.
func (s *Service) Customer(ctx context.Context, pageID, id string) (*audience.Customer, error) {
	return s.store.FindCustomerByID(ctx, pageID, id)
}

// DeleteCustomer removes a customer (its past deliveries stay).
func (s *Service) DeleteCustomer(ctx context.Context, pageID, id string) error {
	return s.store.DeleteCustomer(ctx, pageID, id)
}

// Deliveries lists deliveries, newest first (per customer: f.RecipientID).
func (s *Service) Deliveries(ctx context.Context, f queue.DeliveryFilter) ([]*queue.Delivery, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	return s.store.FindDeliveries(ctx, f)
}

// ---- broadcasts ----

// Progress counts a broadcast's deliveries per channel and state.
func (s *Service) Progress(ctx context.Context, broadcastID string) (*queue.Progress, error) {
	if !incident.ValidID(broadcastID) {
		return nil, incident.NotFound("broadcast", broadcastID)
	}
	p, err := s.store.Progress(ctx, broadcastID)
	return p, broadcastNotFound(err, broadcastID)
}

// broadcastNotFound words a store's not-found for a broadcast's plan (the
// engines' name for it) as the broadcast the caller asked for.
func broadcastNotFound(err error, broadcastID string) error {
	if incident.ErrorCode(err) == incident.ENOTFOUND {
		return incident.NotFound("broadcast", broadcastID)
	}
	return err
}

// heldSample is how many pending deliveries Held reads, and heldMargin
// how far ahead a delivery must be due to count as held rather than
// about to go.
const (
	heldSample = 200
	heldMargin = 30 * time.Second
)

// Held reports whether what is left of a broadcast waits on purpose:
// planning has ended, nothing is being sent, and every pending delivery
// it reads (the newest heldSample) is deferred beyond heldMargin. It
// returns nil when something may still go out soon. The broadcast's
// event stream asks only once its progress has stood still.
func (s *Service) Held(ctx context.Context, p *queue.Progress) (*queue.Held, error) {
	if p == nil || p.State == queue.PlanPending {
		return nil, nil
	}
	pending := 0
	for _, by := range p.Counts {
		if by[queue.StateSending] > 0 {
			return nil, nil
		}
		pending += by[queue.StatePending]
	}
	if pending == 0 {
		return nil, nil
	}
	ds, err := s.store.FindDeliveries(ctx, queue.DeliveryFilter{BroadcastID: p.BroadcastID, States: []queue.DeliveryState{queue.StatePending}, Limit: heldSample})
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	soon := s.now().Add(heldMargin)
	h := &queue.Held{Pending: pending}
	why := map[string]bool{}
	for _, d := range ds {
		if !d.NextAt.After(soon) {
			return nil, nil
		}
		if h.Until.IsZero() || d.NextAt.Before(h.Until) {
			h.Until = d.NextAt
		}
		if d.Reason != "" {
			why[d.Reason] = true
		}
	}
	for r := range why {
		h.Reasons = append(h.Reasons, r)
	}
	sort.Strings(h.Reasons)
	return h, nil
}

// Broadcasts returns the progress of each of an incident's broadcasts, oldest first.
func (s *Service) Broadcasts(ctx context.Context, incidentID string) ([]*queue.Progress, error) {
	plans, err := s.store.FindPlans(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	out := make([]*queue.Progress, 0, len(plans))
	for _, p := range plans {
		pr, err := s.store.Progress(ctx, p.Broadcast.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, pr)
	}
	return out, nil
}

// Cancel stops a broadcast: planning stops and deliveries not yet sent are
// cancelled (a send already in flight completes).
func (s *Service) Cancel(ctx context.Context, broadcastID string) error {
	if !incident.ValidID(broadcastID) {
		return incident.NotFound("broadcast", broadcastID)
	}
	if err := s.store.CancelPlan(ctx, broadcastID, s.now()); err != nil {
		return broadcastNotFound(err, broadcastID)
	}
	s.cache.forgetPlan(broadcastID)
	s.log.Info("broadcast cancelled", "broadcast_id", broadcastID)
	return nil
}
