// Package smtp sends herald's email through an SMTP relay with
// wneessen/go-mail (multipart text+HTML, RFC 8058 one-click unsubscribe
// headers, a Message-ID derived from the delivery), and parses inbound email
// for complaints.
//
// Sessions are reused: a TCP+TLS+AUTH handshake per message would cost more
// than the message. Each concurrent Send holds its own session (one per
// dispatcher worker at most); an idle session that the relay has closed is
// found by go-mail's NOOP check and replaced before anything is sent; after
// any error a session is discarded, never reused in an unknown state.
package smtp

import (
	"context"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/textproto"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	mail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"

	"github.com/heraldhq/herald/channel"
)

// DefaultTimeout bounds each SMTP step when Config.Timeout is 0.
const DefaultTimeout = 15 * time.Second

// Session reuse: a connection carries up to maxPerSession messages (relays
// such as SES and Office 365 cap messages per connection around 50–100),
// idles at most maxIdleTime (RFC 5321 gives servers 5 minutes; many close
// sooner), and at most maxIdleSessions wait for the next message.
const (
	maxPerSession   = 50
	maxIdleTime     = 30 * time.Second
	maxIdleSessions = 32
	// A session used within freshFor is trusted without go-mail's NOOP
	// check (a round trip per message): relays do not hang up that fast,
	// and if one did, the send fails transiently and is retried.
	freshFor = 2 * time.Second
)

// HeaderDelivery carries the delivery's idempotency key, so bounces and
// complaints that quote our headers can be tied back to the delivery.
const HeaderDelivery = "X-Herald-Delivery"

// TLSMode says how the connection to the relay is secured.
type TLSMode string

// TLS modes.
const (
	TLSStartTLS      TLSMode = "starttls"      // STARTTLS required (default; submission port 587)
	TLSImplicit      TLSMode = "tls"           // TLS from the first byte (port 465)
	TLSOpportunistic TLSMode = "opportunistic" // STARTTLS when offered, else plain
	TLSNone          TLSMode = "none"          // plain text: local relays and tests only
)

// Sentinel errors.
var (
	ErrInvalidConfig  = errors.New("smtp: invalid config")
	ErrInvalidMessage = errors.New("smtp: invalid inbound message")
)

// Config configures the SMTP channel.
type Config struct {
	Addr     string // relay "host:port"
	Username string // empty for no AUTH
	Password string
	From     string  // sender, "Herald Status <status@example.com>" or a bare address
	TLS      TLSMode // "" means TLSStartTLS
	HELO     string  // EHLO name; empty means the machine's hostname
	Timeout  time.Duration
	// UnsubscribeMailto, if set, is an address added to List-Unsubscribe as
	// a mailto: alternative to the https link.
	UnsubscribeMailto string
}

// Validate reports the first problem with c, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil || host == "" {
		return bad("Addr %q must be host:port", c.Addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return bad("Addr %q has a bad port", c.Addr)
	}
	if _, err := netmail.ParseAddress(c.From); err != nil {
		return bad("From %q: %v", c.From, err)
	}
	if (c.Username == "") != (c.Password == "") {
		return bad("set both Username and Password, or neither")
	}
	switch c.TLS {
	case "", TLSStartTLS, TLSImplicit, TLSOpportunistic:
	case TLSNone:
		if c.Username != "" && !isLoopback(host) {
			return bad("refusing to send a password in plain text to %s; use TLS %q or %q", host, TLSStartTLS, TLSImplicit)
		}
	default:
		return bad("TLS must be one of none, starttls, tls, opportunistic; got %q", c.TLS)
	}
	if strings.ContainsAny(c.HELO, " \t\r\n") {
		return bad("HELO must be one host name")
	}
	if c.Timeout < 0 {
		return bad("negative timeout")
	}
	if c.UnsubscribeMailto != "" {
		if a, err := netmail.ParseAddress(c.UnsubscribeMailto); err != nil || a.Name != "" {
			return bad("UnsubscribeMailto must be a bare address")
		}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Channel sends email through one relay. It is safe for concurrent use.
type Channel struct {
	cfg    Config
	client *mail.Client // holds the options; sessions are dialled from it
	fresh  *mail.Client // the same without the NOOP check, for fresh sessions

	mu     sync.Mutex
	idle   []*relaySession // most recently used last
	closed bool
}

// relaySession is one open SMTP connection, reused for many messages: a dial,
// EHLO, STARTTLS and AUTH for every message cost more than the message.
type relaySession struct {
	sc       *gosmtp.Client
	sent     int
	lastUsed time.Time
}

// New returns a Channel for cfg.
func New(cfg Config) (*Channel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.TLS == "" {
		cfg.TLS = TLSStartTLS
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	host, portStr, _ := net.SplitHostPort(cfg.Addr)
	port, _ := strconv.Atoi(portStr)
	opts := []mail.Option{mail.WithPort(port), mail.WithTimeout(cfg.Timeout)}
	if cfg.HELO != "" {
		opts = append(opts, mail.WithHELO(cfg.HELO))
	}
	switch cfg.TLS {
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	case TLSOpportunistic:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	case TLSStartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, mail.WithSSL())
	}
	if cfg.Username != "" {
		// Over TLS let go-mail pick the strongest mechanism the relay offers;
		// in plain text (loopback only, see Validate) PLAIN is all that works,
		// and go-mail itself refuses it towards any other host.
		auth := mail.SMTPAuthAutoDiscover
		if cfg.TLS == TLSNone {
			auth = mail.SMTPAuthPlain
		}
		opts = append(opts, mail.WithSMTPAuth(auth), mail.WithUsername(cfg.Username), mail.WithPassword(cfg.Password))
	}
	client, err := mail.NewClient(host, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	fresh, err := mail.NewClient(host, append(opts, mail.WithoutNoop())...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return &Channel{cfg: cfg, client: client, fresh: fresh}, nil
}

// Kind reports channel.Email.
func (c *Channel) Kind() channel.Kind { return channel.Email }

// Send sends m over an open session with the relay, dialling one when
// none is idle. ctx bounds the dial; each later SMTP step is bounded by
// Config.Timeout (go-mail applies ctx only while connecting). The
// receipt's ProviderID is the Message-ID, without brackets, and its Reply
// the relay's answer to the message's end (with the relay's queue ID, where
// it names one). Relay refusals
// are *channel.SendError: 5xx permanent with code like "550 5.1.1", 4xx
// transient; connection failures are plain errors.
//
// An automatic reply (Message.AutoReply) goes with the null envelope
// sender, MAIL FROM:<> (RFC 3834 §3.3, RFC 5321 §4.5.5), so that neither
// its bounce nor an auto-responder's answer comes back; all other mail
// goes from the configured address. Should the relay refuse the null
// sender with a 5xx (some authenticated submission services take only
// the account's own addresses), the reply goes from the configured
// address rather than not at all: its Auto-Submitted header still tells
// robots not to answer it.
func (c *Channel) Send(ctx context.Context, m *channel.Message) (channel.Receipt, error) {
	msg, err := BuildMessage(c.cfg, m)
	if err != nil {
		return channel.Receipt{}, err
	}
	s := c.take()
	reused := s != nil
	if s == nil {
		if s, err = c.dial(ctx); err != nil {
			return channel.Receipt{}, classify(ctx, err)
		}
	}
	sender := c.client
	if reused && time.Since(s.lastUsed) < freshFor {
		sender = c.fresh
	}
	reply, err := c.send(sender, s, m.AutoReply, msg)
	if err != nil && reused && connLost(err) {
		// The idle session had died before the message began, so nothing
		// was sent: once more on a fresh connection.
		c.drop(s)
		if s, err = c.dial(ctx); err != nil {
			return channel.Receipt{}, classify(ctx, err)
		}
		reply, err = c.send(c.client, s, m.AutoReply, msg)
	}
	if err != nil {
		// After a refusal or an I/O error the session's state is unknown:
		// it is not reused.
		c.drop(s)
		return channel.Receipt{}, classify(ctx, err)
	}
	s.sent++
	c.put(s)
	rc := channel.Receipt{ProviderID: strings.Trim(msg.GetMessageID(), "<>"), Status: "sent"}
	if reply != "" {
		rc.Reply = "250 " + reply // go-mail keeps the text after the code, which DATA's end always has as 250
	}
	return rc, nil
}

// send sends msg over s with sender's options (sender is c.client, which
// checks the connection first, or c.fresh), from the null sender when
// autoReply is set, and returns the relay's answer to the message's end
// without its code.
func (c *Channel) send(sender *mail.Client, s *relaySession, autoReply bool, msg *mail.Msg) (string, error) {
	if autoReply {
		return c.sendNullSender(s.sc, msg, sender == c.client)
	}
	if err := sender.SendWithSMTPClient(s.sc, msg); err != nil {
		return "", err
	}
	return msg.ServerResponse(), nil
}

// nullSenderStep is a failed step of a null-sender transaction
// (sendNullSender): "noop" (the connection check), "mail", "rcpt", "data".
type nullSenderStep struct {
	step string
	err  error
}

func (e *nullSenderStep) Error() string { return "smtp: " + e.step + ": " + e.err.Error() }
func (e *nullSenderStep) Unwrap() error { return e.err }

// sendNullSender sends msg over sc with the null reverse-path, MAIL
// FROM:<>, and returns the relay's answer to the message's end without its
// code. go-mail's Client cannot: it takes the envelope sender from
// Msg.GetSender, which formats a net/mail.Address, so an empty one goes
// out as MAIL FROM:<@> (refused: 501), and Msg.EnvelopeFrom("") or
// EnvelopeFrom("<>") fails to parse. So the transaction is driven here, on
// the same session, with go-mail's SMTP client (whose Mail sends the path
// as given), doing what go-mail's own send does: the connection check (a
// NOOP) when check is set, a fresh deadline, MAIL, RCPT for the one
// recipient, DATA, RSET. A 5xx to MAIL FROM:<> is answered by sending from
// the configured address (see Send).
func (c *Channel) sendNullSender(sc *gosmtp.Client, msg *mail.Msg, check bool) (string, error) {
	rcpts, err := msg.GetRecipients()
	if err != nil || len(rcpts) != 1 {
		// BuildMessage addresses one recipient, and an automatic reply
		// goes to one only (RFC 3834 §3.1.3).
		return "", &channel.SendError{Permanent: true, Code: "invalid_address", Reason: fmt.Sprintf("an automatic reply goes to one recipient, not %d", len(rcpts))}
	}
	if check {
		if err := sc.Noop(); err != nil {
			return "", &nullSenderStep{"noop", err}
		}
	}
	if err := sc.UpdateDeadline(c.cfg.Timeout); err != nil {
		return "", &nullSenderStep{"noop", err}
	}
	if err := sc.Mail("<>"); err != nil {
		var te *textproto.Error
		if !errors.As(err, &te) || te.Code < 500 {
			return "", &nullSenderStep{"mail", err}
		}
		from, ferr := msg.GetSender(false)
		if ferr != nil {
			return "", &nullSenderStep{"mail", err}
		}
		if err := sc.Reset(); err != nil {
			return "", &nullSenderStep{"mail", err}
		}
		if err := sc.Mail(from); err != nil {
			return "", &nullSenderStep{"mail", err}
		}
	}
	if err := sc.Rcpt(rcpts[0]); err != nil {
		return "", &nullSenderStep{"rcpt", err}
	}
	w, err := sc.Data()
	if err != nil {
		return "", &nullSenderStep{"data", err}
	}
	if _, err := msg.WriteTo(w); err != nil {
		_ = w.Close()
		return "", &nullSenderStep{"data", err}
	}
	if err := w.Close(); err != nil {
		return "", &nullSenderStep{"data", err}
	}
	reply := ""
	if dc, ok := w.(*gosmtp.DataCloser); ok {
		reply = dc.ServerResponse()
	}
	// The message is sent; a failed RSET leaves only the session in doubt,
	// and the next message's connection check finds that out.
	_ = sc.Reset()
	return reply, nil
}

// connLost reports whether a reused session turned out dead before any of
// the message went out: go-mail's connection check (NOOP) failed, or MAIL
// FROM, the message's first command, got no reply at all (no SMTP code).
func connLost(err error) bool {
	if ns := (*nullSenderStep)(nil); errors.As(err, &ns) {
		var te *textproto.Error
		return ns.step == "noop" || ns.step == "mail" && !errors.As(err, &te)
	}
	var se *mail.SendError
	if !errors.As(err, &se) {
		return false
	}
	return se.Reason == mail.ErrConnCheck || se.Reason == mail.ErrSMTPMailFrom && se.ErrorCode() == 0
}

func (c *Channel) dial(ctx context.Context) (*relaySession, error) {
	sc, err := c.client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return nil, err
	}
	return &relaySession{sc: sc}, nil
}

// take returns the most recently used idle session that is still fresh
// enough, closing stale ones; nil when there is none.
func (c *Channel) take() *relaySession {
	c.mu.Lock()
	var stale []*relaySession
	var s *relaySession
	for len(c.idle) > 0 && s == nil {
		last := c.idle[len(c.idle)-1]
		c.idle = c.idle[:len(c.idle)-1]
		if time.Since(last.lastUsed) > maxIdleTime {
			stale = append(stale, last)
		} else {
			s = last
		}
	}
	// Whatever is below a stale session is older still.
	if len(stale) > 0 {
		stale, c.idle = append(stale, c.idle...), nil
	}
	c.mu.Unlock()
	for _, x := range stale {
		c.quit(x)
	}
	return s
}

// put returns a session for reuse, or closes it when it has carried its
// share, the pool is full or the channel is closed.
func (c *Channel) put(s *relaySession) {
	s.lastUsed = time.Now()
	c.mu.Lock()
	if !c.closed && s.sent < maxPerSession && len(c.idle) < maxIdleSessions {
		c.idle = append(c.idle, s)
		s = nil
	}
	c.mu.Unlock()
	if s != nil {
		c.quit(s)
	}
}

// drop closes a session that must not be reused, without waiting on QUIT.
func (c *Channel) drop(s *relaySession) { _ = s.sc.Close() }

// quit ends a session politely (QUIT), then closes it.
func (c *Channel) quit(s *relaySession) {
	_ = c.client.CloseWithSMTPClient(s.sc)
	_ = s.sc.Close()
}

// Close ends the idle sessions; sessions in use end when their Send does.
// Send still works after Close, without reusing connections.
func (c *Channel) Close() error {
	c.mu.Lock()
	idle := c.idle
	c.idle, c.closed = nil, true
	c.mu.Unlock()
	for _, s := range idle {
		c.quit(s)
	}
	return nil
}

// classify maps go-mail's errors:
//
//	*mail.SendError 5xx                       → permanent, Code "550 5.1.1"
//	*mail.SendError 4xx or IsTemp()           → transient, Code "451 4.3.0"
//	*mail.SendError without code, bad address → permanent "invalid_address"
//	*textproto.Error (EHLO, AUTH, STARTTLS)   → by its code, as above
//	anything else (dial, TLS, timeouts)       → plain error (transient)
func classify(ctx context.Context, err error) error {
	var se *mail.SendError
	if errors.As(err, &se) {
		code := se.ErrorCode()
		if code == 0 {
			if se.Reason == mail.ErrGetSender || se.Reason == mail.ErrGetRcpts {
				return &channel.SendError{Permanent: true, Code: "invalid_address", Reason: se.Error()}
			}
			if se.IsTemp() {
				return &channel.SendError{Code: "smtp", Reason: se.Error()}
			}
			return fmt.Errorf("smtp: %w", err)
		}
		full := strings.TrimSpace(strconv.Itoa(code) + " " + se.EnhancedStatusCode())
		return &channel.SendError{Permanent: code >= 500 && !se.IsTemp(), Code: full, Reason: se.Error()}
	}
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 400 {
		code := strconv.Itoa(te.Code)
		if esc := enhancedCode.FindString(te.Msg); esc != "" {
			code += " " + esc
		}
		return &channel.SendError{Permanent: te.Code >= 500, Code: code, Reason: te.Msg}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("smtp: %w (%w)", ctx.Err(), err)
	}
	return fmt.Errorf("smtp: %w", err)
}

// reservedHeaders are set by BuildMessage itself; Message.Headers must not
// override them (a template could otherwise add recipients or break MIME).
var reservedHeaders = map[string]bool{
	"From": true, "To": true, "Cc": true, "Bcc": true, "Subject": true, "Date": true, "Message-Id": true,
	"Mime-Version": true, "Content-Type": true, "Content-Transfer-Encoding": true, "Sender": true,
	"Return-Path": true, "X-Herald-Delivery": true,
	// Reply-To is allowed: a page may want replies to reach its support desk.
}

var (
	headerName = regexp.MustCompile(`^[!-9;-~]+$`) // RFC 5322 ftext
	idChars    = regexp.MustCompile(`[^A-Za-z0-9._-]`)
	// enhancedCode is an RFC 3463 status code opening a reply's text.
	enhancedCode = regexp.MustCompile(`^[245]\.[0-9]{1,3}\.[0-9]{1,3}\b`)
)

// BuildMessage is the pure message builder: m rendered as a go-mail message
// from cfg.From. Text and HTML become a multipart/alternative (text first, as
// clients prefer the last part they can show). The Message-ID is derived from
// m.DeliveryID, so a resend of the same delivery after a crash carries the
// same ID and mail clients can fold the duplicate. With an http(s)
// UnsubscribeURL it sets List-Unsubscribe (plus the mailto alternative when
// configured) and List-Unsubscribe-Post: List-Unsubscribe=One-Click (RFC
// 8058; receivers honour one-click only for https links, but http is kept
// for local sandboxes). An automatic reply (m.AutoReply) carries
// Auto-Submitted: auto-replied. Errors are permanent *channel.SendError.
func BuildMessage(cfg Config, m *channel.Message) (*mail.Msg, error) {
	invalid := func(code, format string, args ...any) error {
		return &channel.SendError{Permanent: true, Code: code, Reason: fmt.Sprintf(format, args...)}
	}
	to, err := netmail.ParseAddress(strings.TrimSpace(m.To))
	if err != nil {
		return nil, invalid("invalid_address", "recipient %q: %v", m.To, err)
	}
	from, err := netmail.ParseAddress(cfg.From)
	if err != nil {
		return nil, invalid("invalid_address", "sender %q: %v", cfg.From, err)
	}
	if strings.TrimSpace(m.Text) == "" && strings.TrimSpace(m.HTML) == "" {
		return nil, invalid("no_body", "message has neither text nor HTML")
	}
	if name := strings.Join(strings.Fields(m.SenderName), " "); name != "" {
		// The page's name, so a renamed page's mail is from its new name;
		// the address stays the configured (authenticated) one.
		from = &netmail.Address{Name: name, Address: from.Address}
	}

	msg := mail.NewMsg()
	msg.FromMailAddress(from)
	msg.ToMailAddress(to)
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetUserAgent("herald")
	if id := idChars.ReplaceAllString(m.DeliveryID, ""); id != "" {
		domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
		msg.SetMessageIDWithValue(id + "@" + domain)
	} else {
		msg.SetMessageID()
	}
	switch {
	case m.Text != "" && m.HTML != "":
		msg.SetBodyString(mail.TypeTextPlain, m.Text)
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	case m.HTML != "":
		msg.SetBodyString(mail.TypeTextHTML, m.HTML)
	default:
		msg.SetBodyString(mail.TypeTextPlain, m.Text)
	}

	for k, v := range m.Headers {
		name := textproto.CanonicalMIMEHeaderKey(k)
		if !headerName.MatchString(k) || strings.ContainsAny(v, "\r\n") {
			return nil, invalid("invalid_header", "header %q is malformed", k)
		}
		if reservedHeaders[name] {
			return nil, invalid("invalid_header", "header %q is set by herald itself", k)
		}
		msg.SetGenHeader(mail.Header(name), v)
	}
	if m.UnsubscribeURL != "" {
		u, err := url.Parse(m.UnsubscribeURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, invalid("invalid_unsubscribe_url", "unsubscribe URL %q must be http(s)", m.UnsubscribeURL)
		}
		value := "<" + u.String() + ">"
		if cfg.UnsubscribeMailto != "" {
			value += ", <mailto:" + cfg.UnsubscribeMailto + "?subject=unsubscribe>"
		}
		msg.SetGenHeaderPreformatted(mail.HeaderListUnsubscribe, value)
		msg.SetGenHeaderPreformatted(mail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
	}
	if m.AutoReply {
		// RFC 3834 §5: an automatic answer says so, so that the customer's
		// own robots (vacation replies, ticket systems) do not answer it.
		msg.SetGenHeader(mail.Header("Auto-Submitted"), "auto-replied") // replaces one m.Headers gave
	}
	if m.DeliveryID != "" {
		msg.SetGenHeaderPreformatted(mail.Header(HeaderDelivery), m.DeliveryID)
	}
	if m.Language != "" {
		msg.SetGenHeaderPreformatted(mail.Header("Content-Language"), m.Language)
	}
	return msg, nil
}
