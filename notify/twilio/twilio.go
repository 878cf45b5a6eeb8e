// Package twilio sends herald's SMS through Twilio's Messages API (or any
// server speaking it, such as herald's sandbox), looks messages up there
// with twilio-go, and parses and authenticates Twilio's inbound SMS and
// status-callback webhooks.
package twilio

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	twclient "github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/heraldhq/herald/channel"
)

// Defaults and limits.
const (
	// DefaultTimeout bounds one API call when Config.Timeout is 0; it is
	// twilio-go's own default.
	DefaultTimeout = 10 * time.Second
	// MaxBodyChars is Twilio's limit on a message body (error 21617).
	MaxBodyChars = 1600
	// MaxValidityPeriod is the longest Twilio will queue a message.
	MaxValidityPeriod = 36000 * time.Second
)

// Sentinel errors.
var (
	ErrInvalidConfig = errors.New("twilio: invalid config")
	ErrInvalidForm   = errors.New("twilio: invalid webhook form")
)

var (
	alnum       = regexp.MustCompile(`^[A-Za-z0-9]+$`)
	e164        = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
	alphaSender = regexp.MustCompile(`^[A-Za-z0-9 ]{1,11}$`)
	hasLetter   = regexp.MustCompile(`[A-Za-z]`)
)

// Config configures the Twilio channel.
type Config struct {
	AccountSID string // "AC…"; letters and digits only (twilio-go refuses others locally, 21222)
	AuthToken  string // letters and digits only (21224)
	// From is the sender: an E.164 number or an alphanumeric sender ID
	// (up to 11 characters, at least one letter; common in hu/pl/hr markets).
	// Exactly one of From and MessagingServiceSID is set.
	From string
	// MessagingServiceSID ("MG…") sends through a Messaging Service, which
	// load-balances senders and applies Advanced Opt-Out.
	MessagingServiceSID string
	// APIURL is empty for the real Twilio; otherwise the base URL (scheme,
	// host and an optional path prefix) of a server speaking Twilio's REST
	// API, such as herald's sandbox or a test server.
	APIURL string
	// StatusCallbackURL, if set, is where Twilio posts delivery status.
	StatusCallbackURL string
	// MaxPrice, if set, is the most (in the account's currency) one message may cost.
	MaxPrice string
	// ValidityPeriod, if set, makes Twilio drop messages still queued after
	// it (whole seconds, 1 s to 10 h). Short values keep stale crisis
	// messages from arriving after the fact.
	ValidityPeriod time.Duration
	// Timeout bounds each API call; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Validate reports the first problem with c, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	if !alnum.MatchString(c.AccountSID) {
		return bad("account SID must be non-empty letters and digits")
	}
	if !alnum.MatchString(c.AuthToken) {
		return bad("auth token must be non-empty letters and digits")
	}
	switch {
	case c.From == "" && c.MessagingServiceSID == "":
		return bad("one of From and MessagingServiceSID is required")
	case c.From != "" && c.MessagingServiceSID != "":
		return bad("set only one of From and MessagingServiceSID")
	case c.From != "" && !e164.MatchString(c.From) && !(alphaSender.MatchString(c.From) && hasLetter.MatchString(c.From)):
		return bad("From %q is neither E.164 (+36201234567) nor an alphanumeric sender ID", c.From)
	case c.MessagingServiceSID != "" && (!alnum.MatchString(c.MessagingServiceSID) || !strings.HasPrefix(c.MessagingServiceSID, "MG")):
		return bad("MessagingServiceSID must look like MG followed by letters and digits")
	}
	if c.APIURL != "" {
		if err := checkBaseURL(c.APIURL); err != nil {
			return bad("APIURL: %v", err)
		}
	}
	if c.StatusCallbackURL != "" {
		if err := checkBaseURL(c.StatusCallbackURL); err != nil {
			return bad("StatusCallbackURL: %v", err)
		}
	}
	if c.MaxPrice != "" {
		if p, err := strconv.ParseFloat(c.MaxPrice, 64); err != nil || p <= 0 {
			return bad("MaxPrice must be a positive number, got %q", c.MaxPrice)
		}
	}
	if c.ValidityPeriod != 0 && (c.ValidityPeriod < time.Second || c.ValidityPeriod > MaxValidityPeriod || c.ValidityPeriod%time.Second != 0) {
		return bad("ValidityPeriod must be whole seconds between 1s and %s", MaxValidityPeriod)
	}
	if c.Timeout < 0 {
		return bad("negative timeout")
	}
	return nil
}

func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q must be an absolute http(s) URL", raw)
	}
	return nil
}

// Channel sends SMS through Twilio. It is safe for concurrent use.
type Channel struct {
	cfg     Config
	base    http.RoundTripper
	apiURL  *url.URL // nil for the real Twilio
	timeout time.Duration
	// messagesURL is the Create Message endpoint, authorization the
	// basic-authentication header of every call.
	messagesURL, authorization string
}

// New returns a Channel. httpClient, if not nil, supplies the transport (and
// its Timeout, if shorter than cfg's); nil uses http.DefaultTransport.
//
// Send makes its one call itself (see Send). twilio-go, which FetchStatus
// uses, takes no context.Context: it builds each request with
// context.Background(). Rather than only bounding calls with a client
// timeout, FetchStatus builds a light per-call API service whose RoundTripper
// re-issues the request under Send's own ctx (limited further by
// cfg.Timeout). So a cancelled ctx aborts the HTTP exchange at once, and the
// same RoundTripper records the HTTP status and Retry-After that twilio-go's
// error type does not carry. A per-call service (openapi.NewApiService rather
// than twilio.NewRestClientWithParams, which builds every Twilio product's
// client) keeps that cheap and free of shared mutable state.
func New(cfg Config, httpClient *http.Client) (*Channel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Channel{cfg: cfg, base: http.DefaultTransport, timeout: cfg.Timeout}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if httpClient != nil {
		if httpClient.Transport != nil {
			c.base = httpClient.Transport
		}
		if httpClient.Timeout > 0 && httpClient.Timeout < c.timeout {
			c.timeout = httpClient.Timeout
		}
	}
	if cfg.APIURL != "" {
		c.apiURL, _ = url.Parse(strings.TrimSuffix(cfg.APIURL, "/")) // checked by Validate
	}
	base := "https://api.twilio.com"
	if c.apiURL != nil {
		base = strings.TrimSuffix(c.apiURL.String(), "/")
	}
	c.messagesURL = base + "/2010-04-01/Accounts/" + url.PathEscape(cfg.AccountSID) + "/Messages.json"
	c.authorization = "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.AccountSID+":"+cfg.AuthToken))
	return c, nil
}

// Kind reports channel.SMS.
func (c *Channel) Kind() channel.Kind { return channel.SMS }

// BuildParams is the pure message builder: the CreateMessage parameters for m
// under cfg. It refuses, as permanent *channel.SendError, what Twilio would
// refuse anyway: an empty recipient (21604) or body (21602), or a body over
// MaxBodyChars (21617).
func BuildParams(cfg Config, m *channel.Message) (*openapi.CreateMessageParams, error) {
	if err := checkMessage(m); err != nil {
		return nil, err
	}
	p := &openapi.CreateMessageParams{}
	p.SetTo(m.To).SetBody(m.Text)
	if cfg.MessagingServiceSID != "" {
		p.SetMessagingServiceSid(cfg.MessagingServiceSID)
	} else {
		p.SetFrom(cfg.From)
	}
	if cfg.StatusCallbackURL != "" {
		p.SetStatusCallback(cfg.StatusCallbackURL)
	}
	if cfg.MaxPrice != "" {
		price, _ := strconv.ParseFloat(cfg.MaxPrice, 32) // checked by Validate
		p.SetMaxPrice(float32(price))
	}
	if cfg.ValidityPeriod > 0 {
		p.SetValidityPeriod(int(cfg.ValidityPeriod / time.Second))
	}
	return p, nil
}

// checkMessage refuses what Twilio would refuse anyway (see BuildParams).
func checkMessage(m *channel.Message) error {
	if m.To == "" {
		return &channel.SendError{Permanent: true, Code: "21604", Reason: "a 'To' phone number is required"}
	}
	if strings.TrimSpace(m.Text) == "" {
		return &channel.SendError{Permanent: true, Code: "21602", Reason: "message body is required"}
	}
	if n := utf8.RuneCountInString(m.Text); n > MaxBodyChars {
		return &channel.SendError{Permanent: true, Code: "21617",
			Reason: fmt.Sprintf("message body has %d characters, more than the %d Twilio accepts", n, MaxBodyChars)}
	}
	return nil
}

// createForm is the Create Message request's form for m under cfg: the
// parameters BuildParams sets, by the names twilio-go sends them under.
func createForm(cfg Config, m *channel.Message) (string, error) {
	if err := checkMessage(m); err != nil {
		return "", err
	}
	f := make(url.Values, 5)
	f["To"], f["Body"] = []string{m.To}, []string{m.Text}
	if cfg.MessagingServiceSID != "" {
		f["MessagingServiceSid"] = []string{cfg.MessagingServiceSID}
	} else {
		f["From"] = []string{cfg.From}
	}
	if cfg.StatusCallbackURL != "" {
		f["StatusCallback"] = []string{cfg.StatusCallbackURL}
	}
	if cfg.MaxPrice != "" {
		f["MaxPrice"] = []string{cfg.MaxPrice}
	}
	if cfg.ValidityPeriod > 0 {
		f["ValidityPeriod"] = []string{strconv.Itoa(int(cfg.ValidityPeriod / time.Second))}
	}
	return f.Encode(), nil
}

// Send creates one message. Twilio's refusals come back as *channel.SendError
// (see classify); a cancelled or expired ctx and connection errors come back
// as plain errors wrapping the cause (transient per notify.Channel). Note that
// after a timeout Twilio may still have accepted the message: twilio has no
// idempotency key, which is why herald claims the delivery before calling.
//
// It makes the Create Message call itself, as twilio-go would (the same
// form, URL and basic authentication; TestSend holds it to twilio-go's
// answers), without twilio-go's per-call client, credential regexps and
// decoding of the whole message resource: in a complaint storm, where every
// complaint's acknowledgement and every broadcast SMS is one call, that was
// most of the call's CPU (herald-bench complaints' profile: 62 µs a call,
// 40 of them twilio-go's, half in decoding the answer).
func (c *Channel) Send(ctx context.Context, m *channel.Message) (channel.Receipt, error) {
	form, err := createForm(c.cfg, m)
	if err != nil {
		return channel.Receipt{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.messagesURL, strings.NewReader(form))
	if err != nil {
		return channel.Receipt{}, fmt.Errorf("twilio: create message: %w", err)
	}
	req.Header = http.Header{
		"Authorization": {c.authorization},
		"Content-Type":  {"application/x-www-form-urlencoded"},
		"Accept":        {"application/json"},
		"User-Agent":    {userAgent},
	}
	resp, err := c.base.RoundTrip(req)
	if err != nil {
		if ctx.Err() != nil {
			return channel.Receipt{}, fmt.Errorf("twilio: create message: %w", ctx.Err())
		}
		return channel.Receipt{}, fmt.Errorf("twilio: create message: %w", err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	if err != nil {
		if ctx.Err() != nil {
			return channel.Receipt{}, fmt.Errorf("twilio: create message: %w", ctx.Err())
		}
		return channel.Receipt{}, fmt.Errorf("twilio: create message: read the answer: %w", err)
	}
	status, retryAfter := resp.StatusCode, channel.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	if status < 200 || status >= 400 {
		// As twilio-go: the answer's JSON is Twilio's error, else the
		// status alone says what happened.
		te := &twclient.TwilioRestError{}
		if json.Unmarshal(body, te) != nil {
			return channel.Receipt{}, classify(fmt.Errorf("HTTP %d: %s", status, truncate(body, 200)), status, retryAfter)
		}
		return channel.Receipt{}, classify(te, status, retryAfter)
	}
	var msg struct {
		Sid    string `json:"sid"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		return channel.Receipt{}, fmt.Errorf("twilio: create message: the answer (HTTP %d) is not a message: %w", status, err)
	}
	return channel.Receipt{ProviderID: msg.Sid, Status: msg.Status}, nil
}

// maxAnswer bounds the answer read: a message resource is about 1 KB.
const maxAnswer = 1 << 20

// userAgent names herald on the Messages API, in twilio-go's form.
const userAgent = "twilio-go/herald"

func truncate(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

// FetchStatus implements channel.StatusFetcher with Twilio's message
// resource (GET …/Messages/{Sid}.json).
func (c *Channel) FetchStatus(ctx context.Context, providerID string) (status, errorCode string, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	api, rt := c.api(ctx)
	msg, err := api.FetchMessage(providerID, &openapi.FetchMessageParams{})
	if err != nil {
		if ctx.Err() != nil {
			return "", "", fmt.Errorf("twilio: fetch message: %w", ctx.Err())
		}
		return "", "", fmt.Errorf("twilio: fetch message %s: %w", providerID, classify(err, rt.status, rt.retryAfter))
	}
	if msg.Status != nil {
		status = *msg.Status
	}
	if msg.ErrorCode != nil && *msg.ErrorCode != 0 {
		errorCode = strconv.Itoa(*msg.ErrorCode)
	}
	return status, errorCode, nil
}

// api returns a twilio-go API client for one call under ctx, and the
// transport that remembers the call's HTTP status.
func (c *Channel) api(ctx context.Context) (*openapi.ApiService, *callTransport) {
	rt := &callTransport{ctx: ctx, base: c.base, apiURL: c.apiURL}
	tc := &twclient.Client{
		Credentials: twclient.NewCredentials(c.cfg.AccountSID, c.cfg.AuthToken),
		HTTPClient: &http.Client{
			Transport: rt,
			// Like twilio-go's default client: a redirect is an answer, not a hop.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	tc.SetAccountSid(c.cfg.AccountSID)
	rh := twclient.NewRequestHandler(tc)
	// NewRequestHandler reads TWILIO_EDGE/TWILIO_REGION from the environment;
	// herald's configuration is the only source of where requests go.
	rh.Edge, rh.Region = "", ""
	return openapi.NewApiService(rh), rt
}

// callTransport carries one Send's context into twilio-go's request, points
// it at APIURL when set, and remembers the response's status and Retry-After.
// It serves exactly one call, so its fields need no locking: twilio-go reads
// the response on the goroutine that called RoundTrip.
type callTransport struct {
	ctx        context.Context
	base       http.RoundTripper
	apiURL     *url.URL
	status     int
	retryAfter time.Duration
}

func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(t.ctx)
	if t.apiURL != nil {
		r.URL.Scheme = t.apiURL.Scheme
		r.URL.Host = t.apiURL.Host
		r.URL.Path = t.apiURL.Path + r.URL.Path
		r.URL.RawPath = ""
		r.Host = ""
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	t.status = resp.StatusCode
	t.retryAfter = channel.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return resp, nil
}

// permanentCodes are Twilio errors retrying cannot fix. Most are synchronous
// 400s; 30003–30008 normally arrive in status callbacks, but the SDK can see
// them too. Twilio's docs call 30003 (unreachable handset) and 30008
// (unknown error) worth a limited retry; herald's issue list makes them
// permanent because a crisis broadcast must not keep paging a dead handset
// while newer updates supersede the message, and the dispatcher has no
// "retry once" class.
var permanentCodes = map[int]string{
	21211: "invalid 'To' number",
	21408: "permission to send to this region not enabled",
	21606: "'From' is not a valid, SMS-capable number for this account",
	21610: "recipient unsubscribed (replied STOP)",
	21612: "cannot route to this number",
	21614: "'To' is not a valid mobile number",
	21617: "body exceeds 1600 characters",
	30003: "unreachable destination handset",
	30004: "message blocked",
	30005: "unknown destination handset",
	30006: "landline or unreachable carrier",
	30007: "message filtered by carrier",
	30008: "unknown error",
}

// Describe implements channel.Describer for the codes herald knows (those
// that decide a retry); "" for others.
func (c *Channel) Describe(code string) string {
	n, err := strconv.Atoi(code)
	if err != nil {
		return ""
	}
	if what := permanentCodes[n]; what != "" {
		return what
	}
	return transientCodes[n]
}

// transientCodes are Twilio errors that waiting can fix.
var transientCodes = map[int]string{
	20429: "too many requests",          // never processed, always safe to retry
	21611: "the sender's queue is full", // over 10 h of messages queued: slow down
	30001: "queue overflow",
}

// classify turns twilio-go's error into a *channel.SendError:
//
//	20429, HTTP 429, 21611, 30001, HTTP 5xx     → transient (RetryAfter from the header)
//	permanentCodes, any other 4xx TwilioRestError → permanent
//	a 5xx/429 whose body was not JSON          → transient, code "HTTP nnn"
//	anything else (no HTTP answer)             → plain error, transient
func classify(err error, status int, retryAfter time.Duration) error {
	var te *twclient.TwilioRestError
	if errors.As(err, &te) {
		if te.Status == 0 {
			te.Status = status
		}
		se := &channel.SendError{Code: strconv.Itoa(te.Code), Reason: te.Message}
		if se.Reason == "" {
			se.Reason = permanentCodes[te.Code]
		}
		switch {
		case transientCodes[te.Code] != "" || te.Status == http.StatusTooManyRequests:
			se.RetryAfter = retryAfter
		case permanentCodes[te.Code] != "":
			se.Permanent = true
		case te.Status >= 500:
			se.RetryAfter = retryAfter
		default:
			// Another refusal of this request (bad parameter, auth, account
			// suspended): sending it again unchanged gets the same answer.
			se.Permanent = true
		}
		if se.Code == "0" {
			se.Code = "HTTP " + strconv.Itoa(te.Status)
		}
		return se
	}
	if status == http.StatusTooManyRequests || status >= 500 {
		return &channel.SendError{Code: "HTTP " + strconv.Itoa(status), Reason: err.Error(), RetryAfter: retryAfter}
	}
	if status >= 400 {
		return &channel.SendError{Permanent: true, Code: "HTTP " + strconv.Itoa(status), Reason: err.Error()}
	}
	return fmt.Errorf("twilio: create message: %w", err)
}
