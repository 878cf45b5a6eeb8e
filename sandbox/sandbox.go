package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// Message kinds recorded in the inbox; they match channel.Kind's values.
const (
	KindSMS     = "sms"
	KindEmail   = "email"
	KindSlack   = "slack"
	KindWebhook = "webhook"
)

// Defaults applied by Start to an empty Config field.
const (
	DefaultAddr       = "127.0.0.1:0"
	DefaultCapacity   = 10000
	DefaultAccountSID = "ACsandbox000000000000000000000000"
	DefaultAuthToken  = "sandboxtoken"
	DefaultSlackToken = "xoxb-sandbox"
	// DefaultRetryAfter is what a 429 asks the client to wait when
	// Faults.RetryAfter is zero.
	DefaultRetryAfter = time.Second
)

// Server limits. WriteTimeout leaves room for a Latency fault.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxBodyBytes      = 1 << 20
	maxMailBytes      = 10 << 20
)

// Config says where the sandbox listens and what it accepts.
type Config struct {
	// Addr is the HTTP listen address for the fake Twilio, Slack and webhook
	// APIs and the inbox; default DefaultAddr.
	Addr string
	// SMTPAddr is the SMTP listen address; default DefaultAddr.
	SMTPAddr string
	// AccountSID and AuthToken are the Twilio credentials the fake accepts
	// (HTTP basic auth); AuthToken also signs status callbacks
	// (X-Twilio-Signature). Twilio's client only allows [A-Za-z0-9].
	AccountSID, AuthToken string
	// SlackToken is the token the fake Slack accepts (bearer or form field).
	SlackToken string
	// SlackSigningSecret is what the fake workspace signs the requests it
	// sends herald with (slash commands, interactions); when empty, a
	// random one per start (a well-known one would let anyone sign a slash
	// command to a herald trusting the sandbox). Config() tells it.
	SlackSigningSecret string
	// SlackUsers are the workspace's members users.info describes (name,
	// locale); anyone else reads English.
	SlackUsers map[string]SlackUser
	// SlackUserGroups are the user groups usergroups.users.list answers:
	// group ID (S…) → member IDs.
	SlackUserGroups map[string][]string
	// SMTPUsername and SMTPPassword, when set, make SMTP AUTH PLAIN
	// mandatory with these credentials; when empty any AUTH is accepted and
	// none is required.
	SMTPUsername, SMTPPassword string
	// Faults is the initial fault injection; change it with SetFaults.
	Faults Faults
	// Capacity is how many messages the inbox keeps (default
	// DefaultCapacity); older ones are dropped, counters keep counting.
	Capacity int
	// Log receives the sandbox's own logs; nil discards them.
	Log *slog.Logger
	// InboundSMSURL is where a customer's texted reply goes, as Twilio
	// posts it (signed with AuthToken): herald's /webhooks/twilio/sms.
	// Empty: the inbox offers no reply.
	InboundSMSURL string
}

// Message is one message the sandbox accepted.
type Message struct {
	ID      string            `json:"id"`   // Twilio SID, Slack ts, email Message-ID, webhook ID
	Kind    string            `json:"kind"` // KindSMS, KindEmail, KindSlack, KindWebhook
	From    string            `json:"from,omitempty"`
	To      string            `json:"to"` // number, address, Slack channel, or the webhook URL called
	Subject string            `json:"subject,omitempty"`
	Body    string            `json:"body,omitempty"` // SMS text, email text part, Slack text, webhook JSON
	HTML    string            `json:"html,omitempty"`
	Blocks  json.RawMessage   `json:"blocks,omitempty"`
	Headers map[string]string `json:"headers,omitempty"` // email headers, webhook request headers (credentials redacted)
	Status  string            `json:"status"`            // provider status: queued, sent, delivered, undelivered, failed, accepted
	Error   string            `json:"error,omitempty"`   // provider error code when Status is failed or undelivered
	At      time.Time         `json:"at"`
	// Segments is the SMS part count (CountSegments).
	Segments int `json:"segments,omitempty"`
	// Edits counts the chat.update calls that replaced a Slack message's
	// text and blocks in place.
	Edits int `json:"edits,omitempty"`
	// EditedAt is when the last edit came.
	EditedAt *time.Time `json:"edited_at,omitempty"`
	// Metadata is a Slack message's metadata ({"event_type",
	// "event_payload"}) as posted or last edited; conversations.history
	// returns it only with include_all_metadata.
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// User, BotID and AppID say who posted a Slack message through the
	// Web API: the identity of the token it came with (SlackIdentity).
	User  string `json:"user,omitempty"`
	BotID string `json:"bot_id,omitempty"`
	AppID string `json:"app_id,omitempty"`
}

// Filter selects messages; empty fields match everything.
type Filter struct {
	Kind string
	To   string
	// Limit keeps only the newest Limit matches (0: all).
	Limit int
}

// Sandbox is a running set of fake providers. Its methods are safe for
// concurrent use.
type Sandbox struct {
	cfg    Config
	log    *slog.Logger
	inbox  *inbox
	views  *views
	faults *faultSet

	// slackTokens are the tokens the fake Slack accepts besides
	// Config.SlackToken (AddSlackToken): token → SlackIdentity.
	slackTokens sync.Map

	httpLn  net.Listener
	httpSrv *http.Server
	baseURL string

	smtpLn  net.Listener
	smtpSrv *smtp.Server

	callbacks *callbackPool

	// emailReceiver takes a customer's emailed reply (SetEmailReceiver).
	emailReceiver atomic.Pointer[func(context.Context, EmailReply) error]

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Start listens on the configured addresses and serves until ctx ends or
// Close is called.
func Start(ctx context.Context, cfg Config) (*Sandbox, error) {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.SMTPAddr == "" {
		cfg.SMTPAddr = DefaultAddr
	}
	if cfg.AccountSID == "" {
		cfg.AccountSID = DefaultAccountSID
	}
	if cfg.AuthToken == "" {
		cfg.AuthToken = DefaultAuthToken
	}
	if cfg.SlackToken == "" {
		cfg.SlackToken = DefaultSlackToken
	}
	if cfg.SlackSigningSecret == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
		cfg.SlackSigningSecret = hex.EncodeToString(b)
	}
	if cfg.Capacity <= 0 {
		cfg.Capacity = DefaultCapacity
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Faults.validate(); err != nil {
		return nil, err
	}

	s := &Sandbox{
		cfg:    cfg,
		log:    cfg.Log.With("component", "sandbox"),
		inbox:  newInbox(cfg.Capacity),
		views:  newViews(),
		faults: newFaultSet(cfg.Faults),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())

	var err error
	if s.httpLn, err = net.Listen("tcp", cfg.Addr); err != nil {
		s.cancel()
		return nil, fmt.Errorf("sandbox: listen http %s: %w", cfg.Addr, err)
	}
	if s.smtpLn, err = net.Listen("tcp", cfg.SMTPAddr); err != nil {
		s.httpLn.Close()
		s.cancel()
		return nil, fmt.Errorf("sandbox: listen smtp %s: %w", cfg.SMTPAddr, err)
	}
	s.baseURL = "http://" + s.httpLn.Addr().String()
	s.callbacks = newCallbackPool(s.ctx, s, callbackWorkers, callbackQueue)

	s.httpSrv = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.smtpSrv = s.newSMTPServer()

	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := s.httpSrv.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "err", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		if err := s.smtpSrv.Serve(s.smtpLn); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.log.Error("smtp server stopped", "err", err)
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.ctx.Done():
		}
	}()
	s.log.Info("sandbox started", "http", s.baseURL, "smtp", s.SMTPAddr())
	return s, nil
}

// Close stops the servers and the callback workers. It is safe to call more
// than once.
func (s *Sandbox) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := s.httpSrv.Shutdown(ctx)
		if err != nil {
			err = errors.Join(err, s.httpSrv.Close())
		}
		if serr := s.smtpSrv.Close(); serr != nil && !errors.Is(serr, smtp.ErrServerClosed) && !errors.Is(serr, net.ErrClosed) {
			err = errors.Join(err, serr)
		}
		// go-smtp's Close misses a listener that Serve has not registered
		// yet; closing it here ends that Serve too.
		s.smtpLn.Close()
		s.cancel()
		s.callbacks.wait()
		s.wg.Wait()
		s.closeErr = err
	})
	return s.closeErr
}

// Config returns the configuration in effect, defaults filled in, so a caller
// that left credentials empty can learn what the sandbox accepts.
func (s *Sandbox) Config() Config {
	c := s.cfg
	c.Faults = s.faults.get()
	return c
}

// TwilioURL is the base URL to use in place of https://api.twilio.com.
func (s *Sandbox) TwilioURL() string { return s.baseURL }

// SlackURL is the value for slack-go's OptionAPIURL; it ends with "/api/".
func (s *Sandbox) SlackURL() string { return s.baseURL + "/api/" }

// SlackWebhookURL is a fake Slack incoming-webhook URL served here; name may
// contain slashes like Slack's T…/B…/secret paths.
func (s *Sandbox) SlackWebhookURL(name string) string { return s.baseURL + "/services/" + name }

// WebhookURL is an outgoing-webhook sink URL served here.
func (s *Sandbox) WebhookURL(name string) string { return s.baseURL + "/webhooks/" + name }

// InboxURL is the inbox page, also served on the API address.
func (s *Sandbox) InboxURL() string { return s.baseURL + "/sandbox" }

// HTTPAddr is the host:port of the HTTP server: the fake provider APIs,
// webhook sinks and inbox that TwilioURL, SlackURL, WebhookURL and the
// others point at.
func (s *Sandbox) HTTPAddr() string { return s.httpLn.Addr().String() }

// SMTPAddr is the host:port of the SMTP server.
func (s *Sandbox) SMTPAddr() string { return s.smtpLn.Addr().String() }

// Messages returns the kept messages matching every filter, oldest first.
func (s *Sandbox) Messages(filters ...Filter) []Message { return s.inbox.list(filters) }

// Count returns how many messages of kind were accepted since Start or the
// last Reset, including those the inbox no longer keeps; "" counts all kinds.
func (s *Sandbox) Count(kind string) int { return s.inbox.count(kind) }

// Reset empties the inbox and the recorded views and zeroes the counters.
func (s *Sandbox) Reset() {
	s.inbox.reset()
	s.views.reset()
}

// SetFaults replaces the fault injection; it takes effect on the next request
// and restarts burst and rate counting.
func (s *Sandbox) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.faults.set(f)
	return nil
}

// WaitFor blocks until at least n messages of kind ("" for any) have been
// accepted since Start or the last Reset, or ctx ends.
func (s *Sandbox) WaitFor(ctx context.Context, n int, kind string) error {
	for {
		got, wake := s.inbox.waitState(kind)
		if got >= n {
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return fmt.Errorf("sandbox: waiting for %d %q messages, have %d: %w", n, kind, got, ctx.Err())
		}
	}
}

// inbox is a ring of the newest messages plus counters that never forget.
type inbox struct {
	mu     sync.Mutex
	limit  int // capacity of the ring
	ring   []Message
	next   int // slot the next message goes to once the ring is full
	byID   map[string]int
	counts map[string]int
	total  int
	wake   chan struct{} // closed on the next add; nil while nobody waits
}

func newInbox(capacity int) *inbox {
	return &inbox{
		limit:  capacity,
		ring:   make([]Message, 0, min(capacity, 1024)),
		byID:   make(map[string]int),
		counts: make(map[string]int),
	}
}

func (in *inbox) add(m Message) {
	in.mu.Lock()
	if len(in.ring) < in.limit {
		in.ring = append(in.ring, m)
		in.byID[m.ID] = len(in.ring) - 1
	} else {
		old := in.ring[in.next]
		if i, ok := in.byID[old.ID]; ok && i == in.next {
			delete(in.byID, old.ID)
		}
		in.ring[in.next] = m
		in.byID[m.ID] = in.next
		in.next = (in.next + 1) % in.limit
	}
	in.counts[m.Kind]++
	in.total++
	if in.wake != nil {
		close(in.wake)
		in.wake = nil
	}
	in.mu.Unlock()
}

// replace puts an edited message (Slack's chat.update) in place of the
// kept message with its ID, counting it as an edit, not a new message; it
// reports false when no kept message has the ID or edit refuses it.
func (in *inbox) replace(id string, edit func(*Message) bool) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	i, ok := in.byID[id]
	if !ok || !edit(&in.ring[i]) {
		return false
	}
	in.ring[i].Edits++
	if in.wake != nil {
		close(in.wake)
		in.wake = nil
	}
	return true
}

// setStatus records a later provider status for a kept message.
func (in *inbox) setStatus(id, status, code string) {
	in.mu.Lock()
	if i, ok := in.byID[id]; ok {
		in.ring[i].Status = status
		in.ring[i].Error = code
	}
	in.mu.Unlock()
}

func (in *inbox) get(id string) (Message, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	i, ok := in.byID[id]
	if !ok {
		return Message{}, false
	}
	return in.ring[i], true
}

// ordered returns the kept messages oldest first; the caller holds mu.
func (in *inbox) ordered() []Message {
	if len(in.ring) < in.limit || in.next == 0 {
		return in.ring
	}
	out := make([]Message, 0, len(in.ring))
	out = append(out, in.ring[in.next:]...)
	return append(out, in.ring[:in.next]...)
}

func (in *inbox) list(filters []Filter) []Message {
	in.mu.Lock()
	all := in.ordered()
	var out []Message
	for _, m := range all {
		if matches(m, filters) {
			out = append(out, m)
		}
	}
	in.mu.Unlock()
	for _, f := range filters {
		if f.Limit > 0 && len(out) > f.Limit {
			out = out[len(out)-f.Limit:]
		}
	}
	return out
}

func matches(m Message, filters []Filter) bool {
	for _, f := range filters {
		if f.Kind != "" && f.Kind != m.Kind {
			return false
		}
		if f.To != "" && f.To != m.To {
			return false
		}
	}
	return true
}

func (in *inbox) count(kind string) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	if kind == "" {
		return in.total
	}
	return in.counts[kind]
}

func (in *inbox) counters() map[string]int {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make(map[string]int, len(in.counts))
	for k, v := range in.counts {
		out[k] = v
	}
	return out
}

// waitState returns the count for kind and a channel closed on the next add.
func (in *inbox) waitState(kind string) (int, <-chan struct{}) {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := in.total
	if kind != "" {
		n = in.counts[kind]
	}
	if in.wake == nil {
		in.wake = make(chan struct{})
	}
	return n, in.wake
}

func (in *inbox) reset() {
	in.mu.Lock()
	in.ring = in.ring[:0]
	in.next = 0
	clear(in.byID)
	clear(in.counts)
	in.total = 0
	in.mu.Unlock()
}
