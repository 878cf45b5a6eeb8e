// Package slack posts herald's messages to Slack, through the Web API
// (chat.postMessage, for channel and member IDs) or an incoming-webhook URL,
// with slack-go; and it authenticates and parses Slack's slash commands and
// interactions.
package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/netguard"
)

// DefaultTimeout bounds one API call when Config.Timeout is 0.
const DefaultTimeout = 10 * time.Second

// Sentinel errors.
var (
	ErrInvalidConfig = errors.New("slack: invalid config")
	ErrInvalidBody   = errors.New("slack: invalid request body")
)

// Config configures the Slack channel.
type Config struct {
	// Token is a bot token (xoxb-…) for chat.postMessage. It may be empty
	// when only incoming-webhook URLs are used as recipients.
	Token string
	// APIURL is empty for the real Slack; otherwise the Web API base URL of
	// a server speaking it (slacktest, herald's sandbox). A trailing slash is
	// added because slack-go appends method names to it directly.
	APIURL string
	// SigningSecret authenticates inbound slash commands and interactions.
	SigningSecret string
	// Timeout bounds each call; 0 means DefaultTimeout.
	Timeout time.Duration
	// AllowPrivate lets incoming-webhook posts reach loopback, private,
	// link-local and other internal addresses. Only for tests and closed
	// networks: webhook URLs come from subscribers.
	AllowPrivate bool
	// Exempt are the IP:port pairs incoming-webhook posts may reach
	// although the rules forbid their addresses
	// (netguard.Options.Exempt): the sandbox's own listener, with its
	// fake incoming webhooks.
	Exempt []netip.AddrPort
}

// Validate reports the first problem with c, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	if strings.ContainsAny(c.Token, " \t\r\n") {
		return fmt.Errorf("%w: token contains whitespace", ErrInvalidConfig)
	}
	if c.APIURL != "" {
		u, err := url.Parse(c.APIURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: APIURL %q must be an absolute http(s) URL", ErrInvalidConfig, c.APIURL)
		}
	}
	if c.Timeout < 0 {
		return fmt.Errorf("%w: negative timeout", ErrInvalidConfig)
	}
	return nil
}

// Channel posts to Slack. It is safe for concurrent use.
type Channel struct {
	cfg  Config
	http *http.Client
	hook *http.Client // incoming webhooks: see webhookClient
	api  *slackgo.Client

	meMu sync.Mutex
	me   *identity // who the token speaks for, once auth.test said
}

// identity is who a token posts as: an app's bot (botID, and its bot user
// userID), or, for a user token, a person (userID only).
type identity struct{ userID, botID string }

// posted reports whether m was posted with a token of this identity. A bot's
// messages carry its bot_id, which no other app's have; a person's carry
// their user and no bot_id.
func (id identity) posted(m *slackgo.Message) bool {
	switch {
	case id.botID != "":
		return m.BotID == id.botID
	case id.userID != "":
		return m.BotID == "" && m.User == id.userID
	}
	return false
}

// self returns who the token speaks for (auth.test), asked once: it does not
// change while the token lives.
func (c *Channel) self(ctx context.Context) (identity, error) {
	c.meMu.Lock()
	me := c.me
	c.meMu.Unlock()
	if me != nil {
		return *me, nil
	}
	res, err := c.api.AuthTestContext(ctx)
	if err != nil {
		return identity{}, classify(ctx, err, "")
	}
	c.meMu.Lock()
	defer c.meMu.Unlock()
	c.me = &identity{userID: res.UserID, botID: res.BotID}
	return *c.me, nil
}

// New returns a Channel. httpClient, if not nil, is used for every call
// (its Timeout is replaced by cfg's when it has none); nil gets a client
// with cfg.Timeout. slack-go's OptionRetry is deliberately not used: retries
// and their pacing belong to herald's dispatcher, which sees RetryAfter.
func New(cfg Config, httpClient *http.Client) (*Channel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	hc := &http.Client{Timeout: cfg.Timeout}
	if httpClient != nil {
		cp := *httpClient
		if cp.Timeout == 0 {
			cp.Timeout = cfg.Timeout
		}
		hc = &cp
	}
	opts := []slackgo.Option{slackgo.OptionHTTPClient(hc)}
	if cfg.APIURL != "" {
		opts = append(opts, slackgo.OptionAPIURL(strings.TrimSuffix(cfg.APIURL, "/")+"/"))
	}
	return &Channel{cfg: cfg, http: hc, hook: webhookClient(hc, netguard.Options{AllowPrivate: cfg.AllowPrivate, Exempt: cfg.Exempt}), api: slackgo.New(cfg.Token, opts...)}, nil
}

// webhookClient is hc for incoming-webhook posts. Their URLs come from
// subscribers, so, as for webhook subscribers, no redirect is followed and,
// unless guard.AllowPrivate, the dialer refuses internal addresses but
// guard's exempt ones (netguard.NewDialer) and no proxy from the
// environment is used (the check would see only the proxy). hc's
// transport settings (a test server's TLS config) are kept, which is why
// this is not netguard.NewClient. The connect timeout is hc's.
func webhookClient(hc *http.Client, guard netguard.Options) *http.Client {
	wc := *hc
	wc.CheckRedirect = netguard.NoRedirect
	if guard.AllowPrivate {
		return &wc
	}
	base, ok := hc.Transport.(*http.Transport)
	if !ok {
		base = http.DefaultTransport.(*http.Transport)
	}
	guard.Timeout = hc.Timeout
	t := base.Clone()
	t.Proxy, t.DialContext, t.DialTLSContext = nil, netguard.NewDialer(guard).DialContext, nil
	wc.Transport = t
	return &wc
}

// Kind reports channel.Slack.
func (c *Channel) Kind() channel.Kind { return channel.Slack }

// Payload is what one Slack message carries, independent of the route.
type Payload struct {
	Text   string // fallback text: notifications, screen readers, clients without blocks
	Blocks slackgo.Blocks
	// Metadata is the message's metadata (Web API posts and edits only;
	// incoming webhooks carry none); nil sends none.
	Metadata *channel.Metadata
}

// BuildPayload is the pure message builder: it decodes m.Blocks (a Block Kit
// JSON array) into slack-go's typed blocks, so malformed blocks fail here
// with a permanent "invalid_blocks" instead of at Slack, and requires some
// text or blocks ("no_text").
func BuildPayload(m *channel.Message) (Payload, error) {
	p := Payload{Text: m.Text, Metadata: m.Metadata}
	if len(bytes.TrimSpace(m.Blocks)) > 0 {
		if err := json.Unmarshal(m.Blocks, &p.Blocks); err != nil {
			return Payload{}, &channel.SendError{Permanent: true, Code: "invalid_blocks", Reason: err.Error()}
		}
	}
	if strings.TrimSpace(p.Text) == "" && len(p.Blocks.BlockSet) == 0 {
		return Payload{}, &channel.SendError{Permanent: true, Code: "no_text", Reason: "message has neither text nor blocks"}
	}
	return p, nil
}

// MsgOptions returns the chat.postMessage options for p.
func (p Payload) MsgOptions() []slackgo.MsgOption {
	opts := []slackgo.MsgOption{slackgo.MsgOptionText(p.Text, false)}
	if len(p.Blocks.BlockSet) > 0 {
		opts = append(opts, slackgo.MsgOptionBlocks(p.Blocks.BlockSet...))
	}
	if p.Metadata != nil {
		opts = append(opts, slackgo.MsgOptionMetadata(slackMetadata(*p.Metadata)))
	}
	return opts
}

// slackMetadata is md as slack-go's message metadata.
func slackMetadata(md channel.Metadata) slackgo.SlackMetadata {
	payload := make(map[string]any, len(md.Payload))
	for k, v := range md.Payload {
		payload[k] = v
	}
	return slackgo.SlackMetadata{EventType: md.Type, EventPayload: payload}
}

// channelMetadata is the part of a message's metadata herald reads: the
// event type and the payload's string values.
func channelMetadata(md slackgo.SlackMetadata) channel.Metadata {
	out := channel.Metadata{Type: md.EventType, Payload: make(map[string]string, len(md.EventPayload))}
	for k, v := range md.EventPayload {
		if s, ok := v.(string); ok {
			out.Payload[k] = s
		}
	}
	return out
}

// WebhookMessage returns the incoming-webhook body for p.
func (p Payload) WebhookMessage() *slackgo.WebhookMessage {
	wm := &slackgo.WebhookMessage{Text: p.Text}
	if len(p.Blocks.BlockSet) > 0 {
		b := p.Blocks
		wm.Blocks = &b
	}
	return wm
}

// IsWebhookURL reports whether to is an incoming-webhook URL rather than a
// channel or member ID. The URL is itself the credential, so it must be
// https, except towards a loopback host (herald's sandbox, tests), where
// nothing crosses a network.
func IsWebhookURL(to string) bool {
	u, err := url.Parse(to)
	if err != nil || u.Host == "" {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		h := u.Hostname()
		ip := net.ParseIP(h)
		return h == "localhost" || ip != nil && ip.IsLoopback()
	}
	return false
}

// Send posts m. m.To is a channel or member ID (chat.postMessage; the receipt
// holds the message ts; with m.Replace, chat.update edits that message) or an incoming-webhook URL (see IsWebhookURL). Refusals come back
// as *channel.SendError (see classify); timeouts, cancellation and connection
// errors as plain errors (transient).
func (c *Channel) Send(ctx context.Context, m *channel.Message) (channel.Receipt, error) {
	p, err := BuildPayload(m)
	if err != nil {
		return channel.Receipt{}, err
	}
	to := strings.TrimSpace(m.To)
	switch {
	case to == "":
		return channel.Receipt{}, &channel.SendError{Permanent: true, Code: "channel_not_found", Reason: "no channel or webhook URL"}
	case IsWebhookURL(to):
		return c.sendWebhook(ctx, to, p)
	case strings.Contains(to, "://"):
		return channel.Receipt{}, &channel.SendError{Permanent: true, Code: "invalid_url", Reason: "incoming-webhook URLs must be https (http only to loopback)"}
	}
	if c.cfg.Token == "" {
		return channel.Receipt{}, &channel.SendError{Permanent: true, Code: "not_authed", Reason: "no Slack token configured for channel IDs"}
	}
	if m.Replace != "" {
		// Edit in place: the agents' compensation message and the
		// incident's live message stay one message as they change.
		_, ts, _, err := c.api.UpdateMessageContext(ctx, to, m.Replace, p.MsgOptions()...)
		if err == nil {
			return channel.Receipt{ProviderID: ts, Status: "updated"}, nil
		}
		if se := classify(ctx, err, ""); !isGoneMessage(se) {
			return channel.Receipt{}, se
		}
		// Someone deleted the message, or it can no longer be edited:
		// post the current state anew rather than leave agents without it.
	}
	opts := p.MsgOptions()
	if m.ThreadTS != "" {
		opts = append(opts, slackgo.MsgOptionTS(m.ThreadTS))
	}
	_, ts, err := c.api.PostMessageContext(ctx, to, opts...)
	if err != nil {
		return channel.Receipt{}, classify(ctx, err, "")
	}
	return channel.Receipt{ProviderID: ts, Status: "sent"}, nil
}

// The Slack app's own calls, for herald's Slack front door: the same
// client (token, API URL, HTTP client) as the messages. Errors are
// classified as Send's are.

// OpenView opens a modal with a slash command's or a button's trigger ID
// (views.open), which Slack honours once, within 3 seconds.
func (c *Channel) OpenView(ctx context.Context, triggerID string, v slackgo.ModalViewRequest) (*slackgo.View, error) {
	res, err := c.api.OpenViewContext(ctx, triggerID, v)
	if err != nil {
		return nil, classify(ctx, err, "")
	}
	return &res.View, nil
}

// UpdateView replaces an open modal (views.update); hash, when not "",
// makes Slack refuse the update if the view changed since (hash_conflict).
func (c *Channel) UpdateView(ctx context.Context, viewID, hash string, v slackgo.ModalViewRequest) (*slackgo.View, error) {
	res, err := c.api.UpdateViewContext(ctx, v, "", hash, viewID)
	if err != nil {
		return nil, classify(ctx, err, "")
	}
	return &res.View, nil
}

// PostEphemeral shows text to one user in a channel (chat.postEphemeral).
func (c *Channel) PostEphemeral(ctx context.Context, channelID, userID, text string) error {
	if _, err := c.api.PostEphemeralContext(ctx, channelID, userID, slackgo.MsgOptionText(text, false)); err != nil {
		return classify(ctx, err, "")
	}
	return nil
}

// UserLocale returns a user's Slack locale, like "hu-HU" (users.info,
// which needs the users:read scope).
func (c *Channel) UserLocale(ctx context.Context, userID string) (string, error) {
	u, err := c.api.GetUserInfoContext(ctx, userID)
	if err != nil {
		return "", classify(ctx, err, "")
	}
	return u.Locale, nil
}

// GroupMembers returns the IDs of a user group's members
// (usergroups.users.list, which needs the usergroups:read scope).
func (c *Channel) GroupMembers(ctx context.Context, groupID string) ([]string, error) {
	ids, err := c.api.GetUserGroupMembersContext(ctx, groupID)
	if err != nil {
		return nil, classify(ctx, err, "")
	}
	return ids, nil
}

// historyPage is how many messages one conversations.history call asks
// for: Slack suggests no more than 200.
const historyPage = 200

// FindMessage looks in a channel's history for a message herald posted
// with metadata: the ts of the oldest top-level message posted after
// since, by herald (its token's bot, as auth.test names it), whose
// metadata matches want (channel.Metadata.Matches), or "" when there is
// none. Anyone can post metadata: another app's or a person's message
// with the same is not herald's, whatever it carries. It reads the
// history newest first, 200 messages a page, at most pages pages;
// complete says whether that was all of it since since (when not, an
// older match may be among the messages left unread). It reads
// conversations.history with include_all_metadata (Slack sends no
// metadata without it), which needs the channels:history scope
// (groups:history for a private channel) and the bot in the channel;
// Slack's refusals (missing_scope, not_in_channel) come back as
// *channel.SendError, classified as Send's are.
func (c *Channel) FindMessage(ctx context.Context, channelID string, since time.Time, want channel.Metadata, pages int) (ts string, complete bool, err error) {
	me, err := c.self(ctx)
	if err != nil {
		return "", false, err
	}
	params := &slackgo.GetConversationHistoryParameters{ChannelID: channelID, Limit: historyPage, IncludeAllMetadata: true}
	if !since.IsZero() {
		params.Oldest = fmt.Sprintf("%d.%06d", since.Unix(), since.Nanosecond()/1000)
	}
	found := ""
	for range max(pages, 1) {
		res, err := c.api.GetConversationHistoryContext(ctx, params)
		if err != nil {
			return "", false, classify(ctx, err, "")
		}
		for i := range res.Messages { // newest first
			m := &res.Messages[i]
			if m.ThreadTimestamp != "" && m.ThreadTimestamp != m.Timestamp {
				continue // a thread reply also sent to the channel
			}
			if me.posted(m) && channelMetadata(m.Metadata).Matches(want) {
				found = m.Timestamp
			}
		}
		if !res.HasMore || res.ResponseMetaData.NextCursor == "" {
			return found, true, nil
		}
		params.Cursor = res.ResponseMetaData.NextCursor
	}
	return found, false, nil
}

func (c *Channel) sendWebhook(ctx context.Context, hook string, p Payload) (channel.Receipt, error) {
	// slack-go discards a webhook's error body, which is where Slack puts the
	// reason ("channel_not_found", "invalid_token", …); keep its start.
	bc := &bodyCapture{base: c.hook.Transport}
	hc := *c.hook
	hc.Transport = bc
	if err := slackgo.PostWebhookCustomHTTPContext(ctx, hook, &hc, p.WebhookMessage()); err != nil {
		// An incoming webhook's URL is its credential: the reason, shown
		// to agents and logged, must not quote it.
		return channel.Receipt{}, classify(ctx, channel.WithoutURL(err), bc.body)
	}
	return channel.Receipt{Status: "sent"}, nil
}

// bodyCapture keeps the first bytes of a non-2xx response body. One per call.
type bodyCapture struct {
	base http.RoundTripper
	body string
}

func (b *bodyCapture) RoundTrip(req *http.Request) (*http.Response, error) {
	base := b.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil || resp.StatusCode/100 == 2 {
		return resp, err
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	b.body = strings.TrimSpace(string(head))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	return resp, nil
}

// isGoneMessage reports whether chat.update failed because the message to
// edit is gone or can no longer be edited.
func isGoneMessage(err error) bool {
	var se *channel.SendError
	if !errors.As(err, &se) {
		return false
	}
	return se.Code == "message_not_found" || se.Code == "cant_update_message" || se.Code == "edit_window_closed"
}

// permanentErrors are Slack error strings that retrying cannot fix.
var permanentErrors = map[string]bool{
	"channel_not_found": true, "invalid_auth": true, "not_in_channel": true, "is_archived": true,
	"account_inactive": true, "token_revoked": true, "msg_too_long": true, "no_text": true,
	"invalid_blocks": true, "not_authed": true, "missing_scope": true, "restricted_action": true,
	"message_not_found": true, "cant_update_message": true, "edit_window_closed": true,
	"invalid_token": true, "no_service": true, "channel_is_archived": true, "action_prohibited": true,
	"invalid_payload": true, "user_not_found": true, "too_many_attachments": true, "invalid_arguments": true,
}

// transientErrors are Slack error strings that waiting can fix.
var transientErrors = map[string]bool{
	"ratelimited": true, "rate_limited": true, "internal_error": true, "fatal_error": true,
	"service_unavailable": true, "request_timeout": true, "team_added_to_org": true, "rollup_error": true,
}

// permanent reports whether Slack's error word code means retrying cannot
// help. Unknown words count as permanent: Slack processed the request and
// refused it, and would refuse it again.
func permanent(code string) bool {
	if permanentErrors[code] {
		return true
	}
	return !transientErrors[code]
}

// classify maps slack-go's errors:
//
//	*RateLimitedError (429 with Retry-After)        → transient, RetryAfter
//	SlackErrorResponse in transientErrors           → transient
//	SlackErrorResponse otherwise (permanentErrors…) → permanent, Code = Slack's error string
//	StatusCodeError 429 / 5xx                       → transient
//	StatusCodeError other                           → permanent (webhooks: Code = Slack's body)
//	ctx done, network errors                        → plain error (transient)
func classify(ctx context.Context, err error, body string) error {
	var rl *slackgo.RateLimitedError
	if errors.As(err, &rl) {
		return &channel.SendError{Code: "ratelimited", Reason: err.Error(), RetryAfter: rl.RetryAfter}
	}
	var se slackgo.SlackErrorResponse
	if errors.As(err, &se) {
		out := &channel.SendError{Code: se.Err, Reason: se.Err, Permanent: permanent(se.Err)}
		if len(se.ResponseMetadata.Messages) > 0 {
			out.Reason = se.Err + ": " + strings.Join(se.ResponseMetadata.Messages, "; ")
		}
		return out
	}
	if errors.Is(err, netguard.ErrForbiddenAddress) {
		return &channel.SendError{Permanent: true, Code: "forbidden_address", Reason: err.Error()}
	}
	var sc slackgo.StatusCodeError
	if errors.As(err, &sc) {
		out := &channel.SendError{Code: "HTTP " + strconv.Itoa(sc.Code), Reason: sc.Status}
		if body != "" && !strings.ContainsAny(body, " <\n") {
			out.Code = body // Slack's webhook error word, e.g. channel_not_found
		}
		if body != "" {
			out.Reason = body
		}
		out.Permanent = !(sc.Code == http.StatusTooManyRequests || sc.Code >= 500) && permanent(body)
		if sc.Code/100 == 3 { // not followed: it could lead anywhere
			out.Permanent, out.Reason = true, "redirect not followed: "+out.Reason
		}
		return out
	}
	if ctx.Err() != nil {
		return fmt.Errorf("slack: %w", ctx.Err())
	}
	return fmt.Errorf("slack: %w", err)
}
