package node

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify"
	"github.com/heraldhq/herald/notify/render"
	"github.com/heraldhq/herald/notify/slack"
	"github.com/heraldhq/herald/notify/twilio"
	"github.com/heraldhq/herald/notify/webhook"
	"github.com/heraldhq/herald/ratelimit"
)

// Defaults of the broadcast settings; configs/herald.example.yaml repeats them.
const (
	DefaultFrequencyCap    = notify.DefaultFrequencyCap
	DefaultFrequencyWindow = notify.DefaultFrequencyWindow
	DefaultAutoReplyLimit  = notify.DefaultAutoReplyLimit
	DefaultAutoReplyWindow = notify.DefaultAutoReplyWindow
	DefaultWorkers         = 8
	// DefaultWebhookWorkers is higher: a webhook waits on whoever runs
	// the receiver, up to webhook_timeout, and a few slow receivers must
	// not hold back the rest (with 8, ten receivers that hang kept every
	// other subscriber's message 10 to 20 s behind).
	DefaultWebhookWorkers  = 32
	DefaultWebhookTimeout  = webhook.DefaultTimeout
	DefaultLease           = notify.DefaultLease
	DefaultMaxSMSSegments  = render.DefaultMaxSMSSegments
	DefaultSMSSegmentPrice = notify.DefaultSMSSegmentPrice
	DefaultSMSCurrency     = notify.DefaultSMSCurrency
	// DefaultSMSRate is a Twilio Messaging Service's usual throughput for
	// a few long codes; raise it to what the account is provisioned for.
	DefaultSMSRate = 10.0
	// DefaultSMSReplyRate is the reply sender's limit when sms_reply_from
	// is set: a second number's or Messaging Service's own throughput.
	DefaultSMSReplyRate = 10.0
	// DefaultEmailRate keeps a relay's per-connection limits happy.
	DefaultEmailRate = 20.0
)

// Broadcast holds the fan-out's settings (notify.Config): what each channel
// gets, respect for customers (quiet hours, frequency cap), speed (rates,
// workers), SMS budget and price, and templates. Lists and policies are
// kept as the strings written in the file so the config prints as it was
// given; notifyConfig parses them (Validate checks them first).
type Broadcast struct {
	QuietHours      string        // "22:00-07:00" in each customer's time zone; "" none
	FrequencyCap    int           // messages per address per incident per channel per window; 0 disables
	FrequencyWindow time.Duration // the cap's window
	AutoReplyLimit  int           // automatic answers (acknowledgements, receipts, survey replies) per address per channel per window; 0 disables
	AutoReplyWindow time.Duration // the limit's window
	SMSRate         float64       // messages per second across all nodes; 0 unlimited
	// SMSReplyFrom is the reply sender: an E.164 number, an alphanumeric
	// sender ID, or a Messaging Service SID (MG…) on the same Twilio
	// account, that one-to-one replies (complaint answers, sign-up
	// confirmations) go out from under SMSReplyRate, apart from the
	// broadcasts' sender and sms_rate; "" sends them like the broadcasts.
	SMSReplyFrom    string
	SMSReplyRate    float64 // messages per second across all nodes from SMSReplyFrom; 0 unlimited
	EmailRate       float64
	SlackRate       float64
	WebhookRate     float64
	Workers         int           // concurrent sends per channel
	WebhookWorkers  int           // concurrent webhook posts
	WebhookTimeout  time.Duration // one webhook post, connection included
	Lease           time.Duration // how long a claimed delivery or plan batch is held before another node may take it
	ReconcileAfter  time.Duration // how long an SMS waits for its receipt before herald asks the provider; 0 never
	MaxSMSSegments  int
	SMSSegmentPrice float64
	SMSCurrency     string
	SMSCountries    string // comma-separated region codes allowed to sign up by SMS, or "any"; "": default_region's and imported customers' numbers
	DefaultRegion   string // region for phone numbers without a country prefix
	TemplatesDir    string // folder overriding the built-in templates; "" none
	PolicySMS       string // broadcast kinds each channel gets, comma-separated
	PolicyEmail     string
	PolicySlack     string
	PolicyWebhook   string
	AllowPrivate    bool // webhook and Slack subscribers may point at private addresses
	// SlackWebhookHosts are the hosts a Slack subscriber's incoming-webhook
	// URL may be on; nil: hooks.slack.com only.
	SlackWebhookHosts []string
	// AgentSlackChannel is the support agents' Slack channel (an ID such
	// as C0123ABCD, or an incoming-webhook URL): each compensation
	// decision is posted there and kept current; "" none.
	AgentSlackChannel string
}

// validSlackChannelID reports whether v looks like a Slack conversation ID:
// C (channel), G (private) or D (direct message), then upper-case letters
// and digits.
func validSlackChannelID(v string) bool {
	if len(v) < 9 || len(v) > 24 || !strings.ContainsRune("CGD", rune(v[0])) {
		return false
	}
	for _, r := range v[1:] {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// policyString is the comma list of a default policy's kinds for k.
func policyString(k channel.Kind) string {
	var out []string
	for _, b := range notify.DefaultPolicy()[k] {
		out = append(out, string(b))
	}
	return strings.Join(out, ",")
}

// DefaultBroadcast returns the fan-out settings herald runs with when nothing is set.
func DefaultBroadcast() Broadcast {
	return Broadcast{
		FrequencyCap:    DefaultFrequencyCap,
		FrequencyWindow: DefaultFrequencyWindow,
		AutoReplyLimit:  DefaultAutoReplyLimit,
		AutoReplyWindow: DefaultAutoReplyWindow,
		SMSRate:         DefaultSMSRate,
		SMSReplyRate:    DefaultSMSReplyRate,
		EmailRate:       DefaultEmailRate,
		Workers:         DefaultWorkers,
		WebhookWorkers:  DefaultWebhookWorkers,
		WebhookTimeout:  DefaultWebhookTimeout,
		Lease:           DefaultLease,
		ReconcileAfter:  notify.DefaultReconcileAfter,
		MaxSMSSegments:  DefaultMaxSMSSegments,
		SMSSegmentPrice: DefaultSMSSegmentPrice,
		SMSCurrency:     DefaultSMSCurrency,
		PolicySMS:       policyString(channel.SMS),
		PolicyEmail:     policyString(channel.Email),
		PolicySlack:     policyString(channel.Slack),
		PolicyWebhook:   policyString(channel.Webhook),
	}
}

func (b *Broadcast) settings() []Setting {
	str := func(p *string) func(string) error {
		return func(v string) error { *p = strings.TrimSpace(v); return nil }
	}
	num := func(p *float64) func(string) error {
		return func(v string) error {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f < 0 {
				return fmt.Errorf("want a number ≥ 0, got %q", v)
			}
			*p = f
			return nil
		}
	}
	integer := func(p *int, lo int) func(string) error {
		return func(v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < lo {
				return fmt.Errorf("want a whole number ≥ %d, got %q", lo, v)
			}
			*p = n
			return nil
		}
	}
	dur := func(p *time.Duration) func(string) error {
		return func(v string) error {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil || d <= 0 {
				return fmt.Errorf("want a positive duration (like 1h), got %q", v)
			}
			*p = d
			return nil
		}
	}
	fnum := func(f float64) func() string { return func() string { return strconv.FormatFloat(f, 'f', -1, 64) } }
	return []Setting{
		{"quiet_hours", "HERALD_QUIET_HOURS", "", "non-critical customer messages wait out `HH:MM-HH:MM` in the customer's time zone", str(&b.QuietHours), func() string { return b.QuietHours }},
		{"frequency_cap", "HERALD_FREQUENCY_CAP", "", "", integer(&b.FrequencyCap, 0), func() string { return strconv.Itoa(b.FrequencyCap) }},
		{"frequency_window", "HERALD_FREQUENCY_WINDOW", "", "", dur(&b.FrequencyWindow), func() string { return b.FrequencyWindow.String() }},
		{"auto_reply_limit", "HERALD_AUTO_REPLY_LIMIT", "", "", integer(&b.AutoReplyLimit, 0), func() string { return strconv.Itoa(b.AutoReplyLimit) }},
		{"auto_reply_window", "HERALD_AUTO_REPLY_WINDOW", "", "", dur(&b.AutoReplyWindow), func() string { return b.AutoReplyWindow.String() }},
		{"sms_rate", "HERALD_SMS_RATE", "", "", num(&b.SMSRate), func() string { return fnum(b.SMSRate)() }},
		{"sms_reply_from", "HERALD_SMS_REPLY_FROM", "", "", str(&b.SMSReplyFrom), func() string { return b.SMSReplyFrom }},
		{"sms_reply_rate", "HERALD_SMS_REPLY_RATE", "", "", num(&b.SMSReplyRate), func() string { return fnum(b.SMSReplyRate)() }},
		{"email_rate", "HERALD_EMAIL_RATE", "", "", num(&b.EmailRate), func() string { return fnum(b.EmailRate)() }},
		{"slack_rate", "HERALD_SLACK_RATE", "", "", num(&b.SlackRate), func() string { return fnum(b.SlackRate)() }},
		{"webhook_rate", "HERALD_WEBHOOK_RATE", "", "", num(&b.WebhookRate), func() string { return fnum(b.WebhookRate)() }},
		{"workers", "HERALD_WORKERS", "", "", integer(&b.Workers, 1), func() string { return strconv.Itoa(b.Workers) }},
		{"webhook_workers", "HERALD_WEBHOOK_WORKERS", "", "", integer(&b.WebhookWorkers, 1), func() string { return strconv.Itoa(b.WebhookWorkers) }},
		{"webhook_timeout", "HERALD_WEBHOOK_TIMEOUT", "", "", func(v string) error {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil || d <= 0 || d > webhook.MaxTimeout {
				return fmt.Errorf("want a duration up to %s (like 10s), got %q", webhook.MaxTimeout, v)
			}
			b.WebhookTimeout = d
			return nil
		}, func() string { return b.WebhookTimeout.String() }},
		{"lease", "HERALD_LEASE", "", "", dur(&b.Lease), func() string { return b.Lease.String() }},
		{"reconcile_after", "HERALD_RECONCILE_AFTER", "", "", func(v string) error {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil || d < 0 {
				return fmt.Errorf("want a duration (like 10m), or 0 for never, got %q", v)
			}
			b.ReconcileAfter = d
			return nil
		}, func() string { return b.ReconcileAfter.String() }},
		{"max_sms_segments", "HERALD_MAX_SMS_SEGMENTS", "", "", integer(&b.MaxSMSSegments, 1), func() string { return strconv.Itoa(b.MaxSMSSegments) }},
		{"sms_segment_price", "HERALD_SMS_SEGMENT_PRICE", "", "", num(&b.SMSSegmentPrice), func() string { return fnum(b.SMSSegmentPrice)() }},
		{"sms_currency", "HERALD_SMS_CURRENCY", "", "", str(&b.SMSCurrency), func() string { return b.SMSCurrency }},
		{"sms_countries", "HERALD_SMS_COUNTRIES", "", "", str(&b.SMSCountries), func() string { return b.SMSCountries }},
		{"default_region", "HERALD_DEFAULT_REGION", "", "", str(&b.DefaultRegion), func() string { return b.DefaultRegion }},
		{"templates_dir", "HERALD_TEMPLATES_DIR", "", "", str(&b.TemplatesDir), func() string { return b.TemplatesDir }},
		{"agent_slack_channel", "HERALD_AGENT_SLACK_CHANNEL", "agent-slack-channel", "tell support agents each compensation decision in this Slack `CHANNEL` (an ID like C0123ABCD, or an incoming-webhook URL)", func(v string) error {
			v = strings.TrimSpace(v)
			if v != "" && !slack.IsWebhookURL(v) && !validSlackChannelID(v) {
				return fmt.Errorf("want a Slack channel ID (C0123ABCD) or an incoming-webhook URL, got %q", v)
			}
			b.AgentSlackChannel = v
			return nil
		}, func() string { return b.AgentSlackChannel }},
		{"policy_sms", "HERALD_POLICY_SMS", "", "", str(&b.PolicySMS), func() string { return b.PolicySMS }},
		{"policy_email", "HERALD_POLICY_EMAIL", "", "", str(&b.PolicyEmail), func() string { return b.PolicyEmail }},
		{"policy_slack", "HERALD_POLICY_SLACK", "", "", str(&b.PolicySlack), func() string { return b.PolicySlack }},
		{"policy_webhook", "HERALD_POLICY_WEBHOOK", "", "", str(&b.PolicyWebhook), func() string { return b.PolicyWebhook }},
		{"webhooks_allow_private", "HERALD_WEBHOOKS_ALLOW_PRIVATE", "", "", func(v string) error {
			ok, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("want true or false, got %q", v)
			}
			b.AllowPrivate = ok
			return nil
		}, func() string { return strconv.FormatBool(b.AllowPrivate) }},
		{"slack_webhook_hosts", "HERALD_SLACK_WEBHOOK_HOSTS", "", "", func(v string) error {
			b.SlackWebhookHosts = nil
			for _, h := range strings.Split(v, ",") {
				if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
					b.SlackWebhookHosts = append(b.SlackWebhookHosts, h)
				}
			}
			return nil
		}, func() string { return strings.Join(b.SlackWebhookHosts, ",") }},
	}
}

// parsePolicy reads a comma list of broadcast kinds ("none" or "" for none).
func parsePolicy(s string) ([]incident.BroadcastKind, error) {
	var out []incident.BroadcastKind
	for _, f := range strings.Split(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" || f == "none" {
			continue
		}
		k := incident.BroadcastKind(f)
		if _, ok := render.KindForBroadcast(k); !ok {
			return nil, fmt.Errorf("unknown broadcast %q (want declared, updated, resolved, scheduled, started, completed, or none)", f)
		}
		out = append(out, k)
	}
	return out, nil
}

// parseQuietHours splits "22:00-07:00".
func parseQuietHours(s string) (start, end string, err error) {
	if s == "" {
		return "", "", nil
	}
	a, b, ok := strings.Cut(s, "-")
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if !ok || !isClock(a) || !isClock(b) || a == b {
		return "", "", fmt.Errorf("want HH:MM-HH:MM like 22:00-07:00, got %q", s)
	}
	return a, b, nil
}

func isClock(s string) bool {
	t, err := time.Parse("15:04", s)
	return err == nil && t.Format("15:04") == s
}

// validate reports the first broadcast setting that cannot work.
func (b *Broadcast) validate() error {
	if _, _, err := parseQuietHours(b.QuietHours); err != nil {
		return fmt.Errorf("quiet_hours: %w", err)
	}
	for key, v := range map[string]string{"policy_sms": b.PolicySMS, "policy_email": b.PolicyEmail, "policy_slack": b.PolicySlack, "policy_webhook": b.PolicyWebhook} {
		if _, err := parsePolicy(v); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	for _, c := range b.countries() {
		if strings.EqualFold(c, "any") {
			continue
		}
		if len(c) != 2 || strings.ToUpper(c) != c || strings.ContainsFunc(c, func(r rune) bool { return r < 'A' || r > 'Z' }) {
			return fmt.Errorf("sms_countries: want two-letter region codes like HU,PL,HR, got %q", c)
		}
	}
	if b.DefaultRegion != "" && (len(b.DefaultRegion) != 2 || strings.ToUpper(b.DefaultRegion) != b.DefaultRegion) {
		return fmt.Errorf("default_region: want a two-letter region code like HU, got %q", b.DefaultRegion)
	}
	if b.TemplatesDir != "" {
		if st, err := os.Stat(b.TemplatesDir); err != nil || !st.IsDir() {
			return fmt.Errorf("templates_dir: %q is not a directory", b.TemplatesDir)
		}
	}
	if _, _, err := b.replySender(); err != nil {
		return fmt.Errorf("sms_reply_from: %w", err)
	}
	if b.SMSReplyFrom == "" && b.SMSReplyRate != DefaultSMSReplyRate {
		return fmt.Errorf("sms_reply_rate: set sms_reply_from too: without a reply sender, replies go out from the broadcasts' sender under sms_rate")
	}
	if b.Workers < 1 || b.MaxSMSSegments < 1 || b.Lease <= 0 || b.FrequencyWindow <= 0 || b.AutoReplyWindow < time.Millisecond {
		return fmt.Errorf("workers, max_sms_segments, lease, frequency_window and auto_reply_window must be positive")
	}
	return nil
}

// replySender splits sms_reply_from into a sender (a number or an
// alphanumeric ID) or a Messaging Service SID; both "" when unset.
func (b *Broadcast) replySender() (from, service string, err error) {
	v := b.SMSReplyFrom
	switch {
	case v == "":
		return "", "", nil
	case strings.HasPrefix(v, "MG") && len(v) == 34:
		service = v
	default:
		from = v
	}
	// The Twilio channel's own check of a sender, with stand-in credentials.
	if err := (twilio.Config{AccountSID: "AC0", AuthToken: "t", From: from, MessagingServiceSID: service}).Validate(); err != nil {
		return "", "", fmt.Errorf("want an E.164 number (+36201234567), an alphanumeric sender ID or a Messaging Service SID (MG…), got %q", v)
	}
	return from, service, nil
}

func (b *Broadcast) countries() []string {
	var out []string
	for _, c := range strings.Split(b.SMSCountries, ",") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// NotifyConfig is the notify.Config these settings make (after Validate)
// for a site at publicURL.
func (b *Broadcast) NotifyConfig(publicURL string) notify.Config {
	qs, qe, _ := parseQuietHours(b.QuietHours)
	policy := map[channel.Kind][]incident.BroadcastKind{}
	for k, v := range map[channel.Kind]string{channel.SMS: b.PolicySMS, channel.Email: b.PolicyEmail, channel.Slack: b.PolicySlack, channel.Webhook: b.PolicyWebhook} {
		policy[k], _ = parsePolicy(v)
	}
	capN := b.FrequencyCap
	if capN == 0 {
		capN = -1 // notify: negative disables, 0 is its default
	}
	autoN := b.AutoReplyLimit
	if autoN == 0 {
		autoN = -1 // likewise
	}
	rates := map[channel.Kind]ratelimit.Limit{}
	for k, r := range map[channel.Kind]float64{channel.SMS: b.SMSRate, channel.Email: b.EmailRate, channel.Slack: b.SlackRate, channel.Webhook: b.WebhookRate} {
		if r > 0 {
			rates[k] = ratelimit.Limit{Rate: r}
		}
	}
	var replyRates map[channel.Kind]ratelimit.Limit
	if b.SMSReplyFrom != "" && b.SMSReplyRate > 0 {
		replyRates = map[channel.Kind]ratelimit.Limit{channel.SMS: {Rate: b.SMSReplyRate}}
	}
	workers := map[channel.Kind]int{}
	for _, k := range []channel.Kind{channel.SMS, channel.Email, channel.Slack} {
		workers[k] = b.Workers
	}
	workers[channel.Webhook] = b.WebhookWorkers
	return notify.Config{
		PublicURL:            publicURL,
		Policy:               policy,
		QuietStart:           qs,
		QuietEnd:             qe,
		FrequencyCap:         capN,
		FrequencyWindow:      b.FrequencyWindow,
		AutoReplyLimit:       autoN,
		AutoReplyWindow:      b.AutoReplyWindow,
		Rates:                rates,
		ReplyRates:           replyRates,
		Workers:              workers,
		Lease:                b.Lease,
		ReconcileAfter:       reconcileAfter(b.ReconcileAfter),
		MaxSMSSegments:       b.MaxSMSSegments,
		SMSSegmentPrice:      b.SMSSegmentPrice,
		SMSCurrency:          b.SMSCurrency,
		SMSCountries:         b.countries(),
		DefaultRegion:        b.DefaultRegion,
		AllowPrivateWebhooks: b.AllowPrivate,
		SlackWebhookHosts:    b.SlackWebhookHosts,
		AgentSlackChannel:    b.AgentSlackChannel,
	}
}

// LogValue implements slog.LogValuer.
func (b Broadcast) LogValue() slog.Value {
	var attrs []slog.Attr
	for _, s := range b.settings() {
		attrs = append(attrs, slog.String(s.Key, s.Get()))
	}
	return slog.GroupValue(attrs...)
}

// reconcileAfter maps the setting (0: never) to notify's (negative: never).
func reconcileAfter(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}
