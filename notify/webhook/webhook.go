// Package webhook delivers herald notifications to subscriber webhooks: a
// signed JSON POST per message, with the destination checked against
// netguard's SSRF rules both when a subscriber registers a URL
// (netguard.CheckURL) and again at connect time, against the address
// actually dialled (DNS rebinding would defeat a check done only at
// subscribe time).
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/netguard"
)

// Defaults and limits.
const (
	// DefaultTimeout bounds one delivery, connection included.
	DefaultTimeout = 10 * time.Second
	// MaxTimeout is Statuspage's contract with subscribers: a 2xx within 30 s.
	// Waiting longer would hold a dispatcher slot for an answer that already
	// counts as a failure.
	MaxTimeout = 30 * time.Second
	// DefaultUserAgent is sent when Config.UserAgent is empty.
	DefaultUserAgent = "herald-webhook/1"
	// DefaultTolerance is how far a signed timestamp may be from the
	// receiver's clock in Verify; it limits replays of a captured request.
	DefaultTolerance = 5 * time.Minute
	// maxReason caps how much of a refusing receiver's body we keep as the
	// delivery's reason.
	maxReason = 512
)

// Header names set on every delivery.
const (
	HeaderSignature = "X-Herald-Signature" // "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body)
	HeaderTimestamp = "X-Herald-Timestamp" // Unix seconds, part of the signed string
	HeaderDelivery  = "X-Herald-Delivery"  // the delivery's idempotency key: receivers dedupe on it
)

// Sentinel errors. Validation and verification errors wrap them, so callers
// test with errors.Is. ErrInvalidURL and ErrForbiddenAddress are netguard's.
var (
	ErrInvalidConfig    = errors.New("webhook: invalid config")
	ErrInvalidURL       = netguard.ErrInvalidURL
	ErrForbiddenAddress = netguard.ErrForbiddenAddress
	ErrBadSignature     = errors.New("webhook: bad signature")
	ErrStaleTimestamp   = errors.New("webhook: timestamp outside tolerance")
)

// Config configures the webhook channel.
type Config struct {
	// Timeout bounds each delivery; 0 means DefaultTimeout, at most MaxTimeout.
	Timeout time.Duration
	// Secret signs each body (HeaderSignature). Empty sends unsigned
	// deliveries, as Statuspage does; subscribers then cannot tell herald's
	// posts from forgeries, so set it in production.
	Secret string
	// AllowPrivate lets deliveries reach loopback, private, link-local and
	// other internal addresses. Only for tests and closed networks.
	AllowPrivate bool
	// Exempt are the IP:port pairs deliveries may reach although the
	// rules forbid their addresses (netguard.Options.Exempt): the
	// sandbox's own listener, whose inbox shows what herald posts.
	Exempt []netip.AddrPort
	// UserAgent is sent as User-Agent; empty means DefaultUserAgent.
	UserAgent string
}

// Validate reports the first problem with c, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	if c.Timeout < 0 || c.Timeout > MaxTimeout {
		return fmt.Errorf("%w: timeout must be between 0 and %s, got %s", ErrInvalidConfig, MaxTimeout, c.Timeout)
	}
	if strings.ContainsAny(c.UserAgent, "\r\n") {
		return fmt.Errorf("%w: user agent must be one line", ErrInvalidConfig)
	}
	return nil
}

// Channel posts JSON payloads to subscriber URLs. It is safe for concurrent use.
type Channel struct {
	cfg    Config
	guard  netguard.Options // the address rules, for the client and Send's check
	client *http.Client
	now    func() time.Time
}

// New returns a Channel whose HTTP client is netguard.NewClient's: it
// refuses forbidden addresses at dial time (unless cfg.AllowPrivate, or
// one of cfg.Exempt), never uses a proxy from the environment (the check
// would then see only the proxy's address), and never follows redirects
// (a 3xx is a failed delivery, as on Statuspage, and following one could
// lead to an internal address).
func New(cfg Config) (*Channel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	guard := netguard.Options{Timeout: cfg.Timeout, AllowPrivate: cfg.AllowPrivate, Exempt: cfg.Exempt}
	return &Channel{
		cfg:    cfg,
		guard:  guard,
		client: netguard.NewClient(guard),
		now:    time.Now,
	}, nil
}

// Kind reports channel.Webhook.
func (c *Channel) Kind() channel.Kind { return channel.Webhook }

// Send POSTs m.Payload to m.To. A 2xx is success. 410 Gone, 3xx and other
// 4xx are permanent (the subscriber's endpoint is gone or refuses us); 408,
// 429 and 5xx are transient, with Retry-After honoured. Connection errors and
// timeouts come back as plain errors (transient, per notify.Channel); a
// destination refused by the SSRF rules is a permanent *channel.SendError with
// code "forbidden_address".
func (c *Channel) Send(ctx context.Context, m *channel.Message) (channel.Receipt, error) {
	if err := c.guard.CheckURL(m.To); err != nil {
		return channel.Receipt{}, &channel.SendError{Permanent: true, Code: "invalid_url", Reason: err.Error()}
	}
	if len(m.Payload) == 0 || !json.Valid(m.Payload) {
		return channel.Receipt{}, &channel.SendError{Permanent: true, Code: "invalid_payload", Reason: "payload is empty or not JSON"}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.To, bytes.NewReader(m.Payload))
	if err != nil {
		return channel.Receipt{}, &channel.SendError{Permanent: true, Code: "invalid_url", Reason: channel.WithoutURL(err).Error()}
	}
	ts := c.now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	if m.DeliveryID != "" {
		req.Header.Set(HeaderDelivery, m.DeliveryID)
	}
	if c.cfg.Secret != "" {
		req.Header.Set(HeaderSignature, Sign(c.cfg.Secret, ts, m.Payload))
	}

	resp, err := c.client.Do(req)
	if err != nil {
		// The reason is shown to agents and logged; the URL may be a secret.
		err = channel.WithoutURL(err)
		if errors.Is(err, ErrForbiddenAddress) {
			return channel.Receipt{}, &channel.SendError{Permanent: true, Code: "forbidden_address", Reason: err.Error()}
		}
		return channel.Receipt{}, fmt.Errorf("webhook: post: %w", err)
	}
	defer resp.Body.Close()
	reason, _ := io.ReadAll(io.LimitReader(resp.Body, maxReason))
	// Drain a little more so the connection can be reused; give up on huge bodies.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))

	if err := classify(resp.StatusCode, resp.Header.Get("Retry-After"), string(reason), c.now()); err != nil {
		return channel.Receipt{}, err
	}
	return channel.Receipt{ProviderID: m.DeliveryID, Status: "delivered"}, nil
}

// classify maps a receiver's HTTP answer to nil (2xx) or a *channel.SendError.
func classify(status int, retryAfter, body string, now time.Time) error {
	if status >= 200 && status < 300 {
		return nil
	}
	se := &channel.SendError{Code: "HTTP " + strconv.Itoa(status), Reason: strings.TrimSpace(body)}
	if se.Reason == "" {
		se.Reason = http.StatusText(status)
	}
	switch {
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500:
		se.RetryAfter = channel.ParseRetryAfter(retryAfter, now)
	case status >= 300 && status < 400:
		// Statuspage counts a redirect as a failure, and following it could
		// reach an address the subscriber's URL was checked not to be.
		se.Permanent = true
		se.Reason = "redirect not followed: " + se.Reason
	default: // 410 Gone (endpoint removed) and every other 4xx, 1xx
		se.Permanent = true
	}
	return se
}

// Sign returns the value of HeaderSignature for body sent at Unix time ts:
// "sha256=" + hex(HMAC-SHA256(secret, "<ts>.<body>")). Binding the timestamp
// into the MAC lets receivers refuse replays of old deliveries.
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a delivery as a receiver would: the signature in h must be
// Sign(secret, ts, body) for the timestamp in h, and that timestamp must be
// within DefaultTolerance of now. It returns nil, or an error wrapping
// ErrBadSignature or ErrStaleTimestamp.
func Verify(secret string, h http.Header, body []byte, now time.Time) error {
	if secret == "" {
		return fmt.Errorf("%w: no secret configured", ErrBadSignature)
	}
	tsRaw := h.Get(HeaderTimestamp)
	ts, err := strconv.ParseInt(tsRaw, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: missing or malformed %s", ErrBadSignature, HeaderTimestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > DefaultTolerance || d < -DefaultTolerance {
		return fmt.Errorf("%w: %s off by %s", ErrStaleTimestamp, HeaderTimestamp, d.Round(time.Second))
	}
	want := Sign(secret, ts, body)
	if !hmac.Equal([]byte(want), []byte(h.Get(HeaderSignature))) {
		return ErrBadSignature
	}
	return nil
}
