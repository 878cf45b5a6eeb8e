// Package contact reads the addresses herald writes to, as people type them:
// phone numbers to E.164 (with libphonenumber's metadata: mobile or not),
// email addresses with a real parser, Slack member, channel and
// incoming-webhook targets, languages and IANA time zones. Every function
// returns an incident.Error naming what is wrong, for import rows, sign-up
// forms and the API alike.
package contact

import (
	"errors"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	// Embed the IANA database so time zone checks and conversions work on
	// hosts and containers that ship without /usr/share/zoneinfo.
	_ "time/tzdata"
	"unicode/utf8"

	"github.com/heraldhq/herald/incident"
	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/language"
)

// PhoneKind is what kind of line a phone number is, as libphonenumber's
// metadata tells from its number plan.
type PhoneKind string

// Phone kinds. Only PhoneMobile and PhoneFixedOrMobile can receive SMS (some
// countries, the US among them, do not tell the two apart by number).
const (
	PhoneMobile        PhoneKind = "mobile"
	PhoneFixedOrMobile PhoneKind = "fixed_line_or_mobile"
	PhoneFixedLine     PhoneKind = "fixed_line"
	PhoneTollFree      PhoneKind = "toll_free"
	PhonePremiumRate   PhoneKind = "premium_rate"
	PhoneVoIP          PhoneKind = "voip"
	PhoneOther         PhoneKind = "other" // shared cost, personal, pager, UAN, voicemail
)

// CanSMS reports whether numbers of this kind can receive text messages.
func (k PhoneKind) CanSMS() bool { return k == PhoneMobile || k == PhoneFixedOrMobile }

func phoneKind(t phonenumbers.PhoneNumberType) PhoneKind {
	switch t {
	case phonenumbers.MOBILE:
		return PhoneMobile
	case phonenumbers.FIXED_LINE_OR_MOBILE:
		return PhoneFixedOrMobile
	case phonenumbers.FIXED_LINE:
		return PhoneFixedLine
	case phonenumbers.TOLL_FREE:
		return PhoneTollFree
	case phonenumbers.PREMIUM_RATE:
		return PhonePremiumRate
	case phonenumbers.VOIP:
		return PhoneVoIP
	}
	return PhoneOther
}

// ParsePhone validates raw as a phone number, read in defaultRegion (an ISO
// 3166 code such as "HU") when it has no international prefix, and returns it
// in E.164 with its kind. It does not judge whether the number takes SMS; see
// NormalizePhone. Errors are incident.Invalid on field "phone".
func ParsePhone(raw, defaultRegion string) (e164 string, kind PhoneKind, err error) {
	key := raw + "\x00" + defaultRegion
	if r, ok := parsed.get(key); ok {
		return r.e164, r.kind, r.err
	}
	e164, kind, err = parsePhone(raw, defaultRegion)
	parsed.put(key, phoneResult{e164, kind, err})
	return e164, kind, err
}

func parsePhone(raw, defaultRegion string) (e164 string, kind PhoneKind, err error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", "", incident.Invalid("phone", "phone number is empty")
	}
	num, perr := phonenumbers.Parse(raw, strings.ToUpper(defaultRegion))
	if errors.Is(perr, phonenumbers.ErrInvalidCountryCode) && !strings.HasPrefix(raw, "+") {
		// A national number, and no default region to read it in.
		return "", "", incident.Invalid("phone", "%q has no country code: write it with its +country code, as in +36 20 123 4567", raw)
	}
	if perr != nil {
		return "", "", incident.Invalid("phone", "%q is not a phone number (%v)", raw, perr)
	}
	// A number is valid exactly when its type is known (this is how
	// IsValidNumber decides too); asking once halves the regexp work.
	t := phonenumbers.GetNumberType(num)
	if t == phonenumbers.UNKNOWN {
		return "", "", incident.Invalid("phone", "%q is not a valid phone number", raw)
	}
	return phonenumbers.Format(num, phonenumbers.E164), phoneKind(t), nil
}

// parsed keeps ParsePhone's recent answers. libphonenumber's parse is
// regexp work (tens of µs), and one inbound SMS has its sender read twice
// (as a keyword's sender, then as a complaint's), a busy sender many
// times. Two generations of at most phoneCacheSize entries each: when the
// newer fills, it becomes the older and the oldest is dropped.
var parsed phoneCache

const phoneCacheSize = 4096

type phoneResult struct {
	e164 string
	kind PhoneKind
	err  error
}

type phoneCache struct {
	mu       sync.Mutex
	cur, old map[string]phoneResult
}

func (c *phoneCache) get(key string) (phoneResult, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.cur[key]; ok {
		return r, true
	}
	r, ok := c.old[key]
	return r, ok
}

func (c *phoneCache) put(key string, r phoneResult) {
	if len(key) > 64 {
		return // no phone number is this long: not worth keeping
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cur) >= phoneCacheSize {
		c.old, c.cur = c.cur, nil
	}
	if c.cur == nil {
		c.cur = make(map[string]phoneResult, phoneCacheSize)
	}
	c.cur[key] = r
}

// NormalizePhone returns raw in E.164 when it is a valid number that can
// receive SMS (mobile, or fixed-line-or-mobile where the plan does not tell);
// a landline, toll-free or premium number is refused, because sending it an
// SMS would fail at the provider after costing a request (Twilio 21614/30006).
func NormalizePhone(raw, defaultRegion string) (e164 string, err error) {
	e164, kind, err := ParsePhone(raw, defaultRegion)
	if err != nil {
		return "", err
	}
	if !kind.CanSMS() {
		return "", incident.Invalid("phone", "%s is a %s number and cannot receive SMS", e164, strings.ReplaceAll(string(kind), "_", " "))
	}
	return e164, nil
}

// MaxEmailLen is the longest address SMTP can carry in a path (RFC 5321).
const MaxEmailLen = 254

// NormalizeEmail validates a bare email address and returns it with the
// domain lower-cased (the local part is left alone: it may be case-sensitive).
// net/mail alone accepts "Alice <a@x.com>", "a@b" and comments, so the parsed
// address must equal the trimmed input, the domain must have a dot, and the
// whole must fit in 254 bytes. Internationalised domains are refused with a
// clear message: punycode them (xn--…) until herald supports IDNA.
func NormalizeEmail(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", incident.Invalid("email", "email address is empty")
	}
	if len(s) > MaxEmailLen {
		return "", incident.Invalid("email", "email address is longer than %d bytes", MaxEmailLen)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", incident.Invalid("email", "%q is not a bare email address", s)
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if strings.HasPrefix(local, "\"") {
		return "", incident.Invalid("email", "%q: quoted local parts are not accepted", s)
	}
	for i := 0; i < len(domain); i++ {
		if domain[i] >= utf8.RuneSelf {
			return "", incident.Invalid("email", "%q: internationalised domain names are not supported yet; write the domain in punycode (xn--…)", s)
		}
	}
	domain = strings.ToLower(domain)
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", incident.Invalid("email", "%q: the domain needs a dot, as in example.com", s)
	}
	for _, label := range strings.Split(domain, ".") {
		if !validDomainLabel(label) {
			return "", incident.Invalid("email", "%q: %q is not a valid domain label", s, label)
		}
	}
	return local + "@" + domain, nil
}

// validDomainLabel checks an LDH label: letters, digits and inner hyphens,
// 1 to 63 bytes. net/mail accepts any atom text in the domain ("a_b", "!").
func validDomainLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// SlackTargetKind says how a Slack address is reached.
type SlackTargetKind string

// Slack target kinds: a member or conversation ID posted to through the Web
// API (chat.postMessage), or an incoming-webhook URL posted to directly.
const (
	SlackConversation SlackTargetKind = "conversation"
	SlackWebhook      SlackTargetKind = "webhook"
)

var slackIDPattern = regexp.MustCompile(`^[UCGWD][A-Z0-9]{6,}$`)

// ValidSlackTarget tells a Slack member or conversation ID (U…, W…, C…, G…,
// D…) from an incoming-webhook URL. Any https URL is taken as a webhook,
// because Slack-compatible receivers (Mattermost, Rocket.Chat) use their own
// hosts; plain http is refused since the URL itself is the credential.
// Errors are incident.Invalid on field "slack".
func ValidSlackTarget(s string) (SlackTargetKind, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", incident.Invalid("slack", "slack target is empty")
	case slackIDPattern.MatchString(s):
		return SlackConversation, nil
	case strings.Contains(s, "://"):
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || u.User != nil {
			return "", incident.Invalid("slack", "%q is not a valid webhook URL", redactURL(s))
		}
		if u.Scheme != "https" {
			return "", incident.Invalid("slack", "a Slack incoming-webhook URL must use https")
		}
		return SlackWebhook, nil
	}
	if strings.Contains(s, "/") {
		// Most likely a webhook URL without its scheme, whose path is the
		// secret: do not repeat it.
		return "", incident.Invalid("slack", "an incoming-webhook URL must be a full https:// URL")
	}
	return "", incident.Invalid("slack", "%q is neither a Slack member or channel ID (like U0123ABCD or C0123ABCD) nor an https incoming-webhook URL", s)
}

// redactURL keeps a URL's scheme and host only: the path of an incoming
// webhook is its secret and must not reach an error message or a log.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		return u.Scheme + "://" + u.Host + "/…"
	}
	return "(unparseable URL)"
}

// NormalizeLanguage maps a language tag ("hu-HU", "pl_PL", "HR", "hrv") to
// one of the languages herald ships (incident.Languages), or fails.
func NormalizeLanguage(s string) (string, error) {
	base, ok := LanguageBase(s)
	if !ok {
		return "", incident.Invalid("language", "%q is not a language tag", s)
	}
	for _, l := range incident.Languages {
		if l == base {
			return base, nil
		}
	}
	return "", incident.Invalid("language", "language %q is not supported (supported: %s)", s, strings.Join(incident.Languages, ", "))
}

// LanguageBase returns the ISO 639-1 base of a tag, lower case.
func LanguageBase(s string) (string, bool) {
	s = strings.TrimSpace(strings.ReplaceAll(s, "_", "-"))
	if s == "" {
		return "", false
	}
	tag, err := language.Parse(s)
	if err != nil {
		return "", false
	}
	b, _ := tag.Base()
	return b.String(), true
}

// ValidTimeZone checks an IANA time zone name such as "Europe/Budapest".
// "Local" and "" are refused: they mean the server's zone, not the customer's.
func ValidTimeZone(name string) error {
	if name == "" || name == "Local" {
		return incident.Invalid("time_zone", "time zone %q is not an IANA zone name", name)
	}
	if _, err := time.LoadLocation(name); err != nil {
		return incident.Invalid("time_zone", "unknown time zone %q (use an IANA name such as Europe/Budapest)", name)
	}
	return nil
}
