package node

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	netmail "net/mail"
	"net/netip"
	"strings"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/notify"
	"github.com/heraldhq/herald/notify/slack"
	"github.com/heraldhq/herald/notify/smtp"
	"github.com/heraldhq/herald/notify/twilio"
	"github.com/heraldhq/herald/notify/webhook"
	"github.com/heraldhq/herald/sandbox"
)

// Which providers herald sends through is decided once, at start:
//
//   - No provider credentials at all (no Twilio, SMTP or Slack setting): the
//     built-in sandbox starts in-process on loopback, every channel points at
//     it, and its inbox is served at /sandbox. A newcomer sees the whole loop
//     on one machine.
//   - Any credentials: each configured provider is used for real. A channel
//     whose provider is not configured (say email with only Twilio set) is
//     not silently sent to a sandbox; its deliveries fail at once, as
//     permanent failures with the code "not_configured" and a reason naming
//     the variables to set, so the broadcast's progress shows why.
//   - Webhooks need no credentials and are always on. Slack's incoming-webhook
//     URLs need no token either, so Slack is always on too; posting to a
//     member or channel ID needs HERALD_SLACK_TOKEN.

// any reports whether any provider setting is given: then herald runs with
// real providers, and no sandbox.
func (p Providers) any() bool {
	return p.twilio() || p.smtp() || p.slack()
}

func (p Providers) twilio() bool {
	return p.TwilioAccountSID != "" || p.TwilioAuthToken != "" || p.TwilioFrom != "" || p.TwilioMessagingServiceSID != "" || p.TwilioAPIURL != "" || p.TwilioMaxPrice != ""
}

func (p Providers) smtp() bool {
	return p.SMTPAddr != "" || p.SMTPUsername != "" || p.SMTPPassword != "" || p.SMTPFrom != "" || p.SMTPTLS != ""
}

func (p Providers) slack() bool {
	return p.SlackToken != "" || p.SlackAPIURL != "" || p.SlackSigningSecret != ""
}

// validate checks that each provider that is partly configured is fully
// configured: a half-set provider is a mistake to report at start, not a
// surprise in the middle of an outage.
func (p *Providers) validate() error {
	if p.twilio() {
		switch {
		case p.TwilioAccountSID == "" || p.TwilioAuthToken == "":
			return errors.New("twilio: set both HERALD_TWILIO_ACCOUNT_SID and HERALD_TWILIO_AUTH_TOKEN")
		case (p.TwilioFrom == "") == (p.TwilioMessagingServiceSID == ""):
			return errors.New("twilio: set one of HERALD_TWILIO_FROM and HERALD_TWILIO_MESSAGING_SERVICE_SID")
		}
		if err := p.twilioConfig("").Validate(); err != nil {
			return fmt.Errorf("twilio: %w", err)
		}
	}
	if p.smtp() {
		if p.SMTPAddr == "" {
			return errors.New("smtp: HERALD_SMTP_ADDR is required with the other HERALD_SMTP_* settings")
		}
		if p.SMTPFrom == "" {
			return errors.New("smtp: HERALD_SMTP_FROM is required (the sender, e.g. \"Example Status <status@example.com>\")")
		}
		if err := p.smtpConfig().Validate(); err != nil {
			return fmt.Errorf("smtp: %w", err)
		}
	}
	if err := p.slackConfig().Validate(); err != nil {
		return fmt.Errorf("slack: %w", err)
	}
	return nil
}

func (p *Providers) twilioConfig(publicURL string) twilio.Config {
	c := twilio.Config{AccountSID: p.TwilioAccountSID, AuthToken: p.TwilioAuthToken, From: p.TwilioFrom,
		MessagingServiceSID: p.TwilioMessagingServiceSID, APIURL: p.TwilioAPIURL, MaxPrice: p.TwilioMaxPrice}
	if publicURL != "" {
		c.StatusCallbackURL = publicURL + "/webhooks/twilio/status"
	}
	return c
}

func (p *Providers) smtpConfig() smtp.Config {
	return smtp.Config{Addr: p.SMTPAddr, Username: p.SMTPUsername, Password: p.SMTPPassword, From: p.SMTPFrom, TLS: smtp.TLSMode(strings.ToLower(p.SMTPTLS))}
}

func (p *Providers) slackConfig() slack.Config {
	return slack.Config{Token: p.SlackToken, APIURL: p.SlackAPIURL, SigningSecret: p.SlackSigningSecret}
}

// ProviderHTTP is the client for the provider APIs: a bounded timeout
// (never http.DefaultClient) and enough idle connections per host that a
// fan-out with many workers reuses them instead of dialling for each send.
func ProviderHTTP() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Timeout: 30 * time.Second, Transport: t}
}

// disabled is the channel of a provider that is not configured: every
// delivery on it fails at once with a reason that says what to set.
type disabled struct {
	kind channel.Kind
	hint string
}

func (d disabled) Kind() channel.Kind { return d.kind }

func (d disabled) Send(context.Context, *channel.Message) (channel.Receipt, error) {
	return channel.Receipt{}, &channel.SendError{Permanent: true, Code: "not_configured", Reason: d.hint}
}

// channels is what the fan-out sends through, and what the server needs to
// check inbound requests and show the sandbox.
type channels struct {
	byKind map[channel.Kind]notify.Channel
	// replies are the reply senders (sms_reply_from), by kind.
	replies map[channel.Kind]notify.Channel
	// sandbox is the in-process sandbox when no provider is configured.
	sandbox *sandbox.Sandbox
	// twilioToken checks X-Twilio-Signature on inbound requests.
	twilioToken string
	slackSecret string
	// slack is the Slack client, for the Slack front door as for messages.
	slack *slack.Channel
	// exempt is the sandbox's own listener, the one internal address
	// webhook and Slack subscribers may point at without
	// webhooks_allow_private (netguard.Options.Exempt); nil without a
	// sandbox.
	exempt       []netip.AddrPort
	from         string // the email sender's bare address: inbound mail from it is herald's own, come back
	descriptions []string
	closeSandbox func() error
}

// loopbackAddr reports whether a listen address (HOST:PORT) is only
// reachable from this machine: a loopback IP or localhost. An empty host
// or 0.0.0.0 listens on every interface.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// randomHex returns n random bytes in hex (Twilio's client takes only
// [A-Za-z0-9] in credentials).
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// buildChannels builds the channel map from the providers' settings, or
// starts the sandbox when none is configured (see the comment at the top).
// hc is the client for the provider APIs.
func buildChannels(ctx context.Context, cfg Config, publicURL string, hc *http.Client, log *slog.Logger) (*channels, error) {
	p := cfg.Providers
	out := &channels{byKind: map[channel.Kind]notify.Channel{}, closeSandbox: func() error { return nil }}
	if !p.any() {
		if !cfg.Sandbox && !loopbackAddr(cfg.Addr) {
			return nil, fmt.Errorf("no messaging provider is configured, so herald would run its sandbox, whose inbox shows every message "+
				"and lets anyone answer as a customer: that is for one machine, and %s is not a loopback address. "+
				"Configure a provider (HERALD_TWILIO_*, HERALD_SMTP_*, HERALD_SLACK_*), listen on 127.0.0.1, "+
				"or pass --sandbox (HERALD_SANDBOX=true) to run the sandbox there on purpose", cfg.Addr)
		}
		// Fresh secrets on every start: with well-known ones, anyone could
		// sign a Twilio webhook (a forged STOP) or call the fake APIs.
		sb, err := sandbox.Start(ctx, sandbox.Config{Addr: "127.0.0.1:0", SMTPAddr: "127.0.0.1:0", Log: log,
			AccountSID: "AC" + randomHex(16), AuthToken: randomHex(16), SlackToken: "xoxb-" + randomHex(16),
			SlackSigningSecret: randomHex(16),
			InboundSMSURL:      strings.TrimRight(publicURL, "/") + "/webhooks/twilio/sms"})
		if err != nil {
			return nil, fmt.Errorf("start the sandbox: %w", err)
		}
		sc := sb.Config()
		p = Providers{
			TwilioAccountSID: sc.AccountSID, TwilioAuthToken: sc.AuthToken, TwilioFrom: sandbox.DefaultFrom, TwilioAPIURL: sb.TwilioURL(),
			SMTPAddr: sb.SMTPAddr(), SMTPFrom: "Herald Status <status@herald.localhost>", SMTPTLS: string(smtp.TLSNone),
			SlackToken: sc.SlackToken, SlackAPIURL: sb.SlackURL(),
			WebhookSecret: cfg.Providers.WebhookSecret,
		}
		p.SlackSigningSecret = sc.SlackSigningSecret // the sandbox workspace signs its commands with it
		out.sandbox, out.closeSandbox = sb, sb.Close
		// Webhook and Slack subscribers may point at the sandbox's sinks,
		// so that its inbox shows their messages; at that one address
		// only. Turning the SSRF rules off instead would let anyone who
		// signs up on the status page have herald post to any internal
		// address (the sandbox also runs on public addresses, --sandbox).
		ap, err := netip.ParseAddrPort(sb.HTTPAddr())
		if err != nil {
			_ = sb.Close()
			return nil, fmt.Errorf("the sandbox's address: %w", err)
		}
		out.exempt = []netip.AddrPort{ap}
		log.Info("sandbox mode: messages go to the inbox at " + publicURL + "/sandbox")
	}
	out.twilioToken, out.slackSecret = p.TwilioAuthToken, p.SlackSigningSecret
	if a, err := netmail.ParseAddress(p.SMTPFrom); err == nil {
		out.from = a.Address
	}
	fail := func(err error) (*channels, error) {
		_ = out.closeSandbox()
		return nil, err
	}

	if p.twilio() {
		ch, err := twilio.New(p.twilioConfig(publicURL), hc)
		if err != nil {
			return fail(fmt.Errorf("twilio: %w", err))
		}
		out.byKind[channel.SMS] = ch
		out.describe("sms", "twilio", cmp.Or(p.TwilioAPIURL, "api.twilio.com"))
		if from, service, _ := cfg.Broadcast.replySender(); from != "" || service != "" {
			// The reply sender: the same account and API, another sender.
			rc := p.twilioConfig(publicURL)
			rc.From, rc.MessagingServiceSID = from, service
			reply, err := twilio.New(rc, hc)
			if err != nil {
				return fail(fmt.Errorf("twilio reply sender: %w", err))
			}
			out.replies = map[channel.Kind]notify.Channel{channel.SMS: reply}
			out.descriptions = append(out.descriptions, "sms-replies=twilio(from "+cfg.Broadcast.SMSReplyFrom+")")
		}
	} else {
		out.byKind[channel.SMS] = disabled{channel.SMS, "no SMS provider configured: set HERALD_TWILIO_ACCOUNT_SID, HERALD_TWILIO_AUTH_TOKEN and HERALD_TWILIO_FROM"}
		out.describe("sms", "disabled", "")
	}
	if p.smtp() {
		ch, err := smtp.New(p.smtpConfig())
		if err != nil {
			return fail(fmt.Errorf("smtp: %w", err))
		}
		out.byKind[channel.Email] = ch
		out.describe("email", "smtp", p.SMTPAddr)
	} else {
		out.byKind[channel.Email] = disabled{channel.Email, "no email provider configured: set HERALD_SMTP_ADDR and HERALD_SMTP_FROM"}
		out.describe("email", "disabled", "")
	}
	scfg := p.slackConfig()
	// Incoming-webhook URLs come from subscribers, as webhook URLs do.
	scfg.AllowPrivate, scfg.Exempt = cfg.Broadcast.AllowPrivate, out.exempt
	sl, err := slack.New(scfg, hc)
	if err != nil {
		return fail(fmt.Errorf("slack: %w", err))
	}
	out.byKind[channel.Slack], out.slack = sl, sl
	if p.SlackToken != "" {
		out.describe("slack", "slack", cmp.Or(p.SlackAPIURL, "slack.com"))
	} else {
		out.describe("slack", "incoming webhooks only", "")
	}
	wh, err := webhook.New(webhook.Config{Secret: p.WebhookSecret, AllowPrivate: cfg.Broadcast.AllowPrivate, Exempt: out.exempt, Timeout: cfg.Broadcast.WebhookTimeout})
	if err != nil {
		return fail(fmt.Errorf("webhook: %w", err))
	}
	out.byKind[channel.Webhook] = wh
	out.describe("webhook", "http", "")
	return out, nil
}

func (c *channels) describe(kind, how, where string) {
	s := kind + "=" + how
	if where != "" {
		s += "(" + hostOf(where) + ")"
	}
	c.descriptions = append(c.descriptions, s)
}

// hostOf shortens a URL or host:port to its host:port for the start line.
func hostOf(s string) string {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	return s
}
