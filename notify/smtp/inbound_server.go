package smtp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// Defaults of InboundConfig's zero values. go-smtp reads a zero as
// "unlimited" for each of these, so every one gets a value.
const (
	DefaultInboundMaxBytes      = 1 << 20 // as the parser's part limit: complaints are short
	DefaultInboundMaxRecipients = 50
	DefaultInboundTimeout       = time.Minute
)

// ErrIgnored is what an InboundHandler returns (wrapped or not) for mail
// it deliberately does not file, such as an auto-reply or a bounce: the
// sender is told 250 all the same, since refusing a bounce makes another.
var ErrIgnored = errors.New("smtp: inbound email ignored")

// ErrRejected is what an InboundHandler returns (wrapped) for mail that can
// never be filed, however often it is sent (a message with no words at
// all): the sender hears 554 and its server bounces it to the person.
var ErrRejected = errors.New("smtp: inbound email rejected")

// InboundHandler files one inbound email. size is the raw message's size
// in bytes. It returns nil once the mail is stored (then the sender hears
// 250), ErrIgnored for mail deliberately dropped, ErrRejected for mail it
// can never file, and any other error when
// it could not be stored: the sender then hears 451 and tries again later.
type InboundHandler func(ctx context.Context, in InboundEmail, size int) error

// Inbound results, for InboundConfig.Observe.
const (
	InboundOK       = "ok"      // filed
	InboundIgnored  = "ignored" // automatic mail: neither filed nor answered
	InboundInvalid  = "invalid" // not a readable message: 554
	InboundRefused  = "refused" // a recipient outside the accepted domains, or too large: 5xx
	InboundDeferred = "error"   // could not be stored: 451, the sender retries
)

// InboundConfig configures the inbound SMTP listener.
type InboundConfig struct {
	Addr string // "host:port" to listen on
	// Domain is the name the server greets with; "" is "localhost".
	Domain string
	// Domains, when set, are the only recipient domains accepted (RCPT TO
	// for any other answers 550 5.7.1); empty accepts any recipient. The
	// listener never relays: every message is filed, whoever it is to.
	Domains         []string
	MaxMessageBytes int64         // 0: DefaultInboundMaxBytes
	MaxRecipients   int           // 0: DefaultInboundMaxRecipients
	ReadTimeout     time.Duration // 0: DefaultInboundTimeout
	WriteTimeout    time.Duration // 0: DefaultInboundTimeout
	// HandleTimeout bounds the handler per message; 0: DefaultInboundTimeout.
	HandleTimeout time.Duration
	// Observe, when set, is told each message's result (Inbound* results).
	Observe func(result string)
	Log     *slog.Logger
}

// InboundServer is herald's MX-like endpoint: an SMTP server (go-smtp) that
// takes mail to herald, parses it with ParseInbound and hands it to the
// handler. It asks for no AUTH (it relays nothing), and a message is
// answered 250 only after the handler stored it.
type InboundServer struct {
	cfg     InboundConfig
	handler InboundHandler
	srv     *gosmtp.Server
	ln      net.Listener
	log     *slog.Logger
	// ctx is given to handlers; cancelled by Close, not by Shutdown, so a
	// message being filed at shutdown is finished.
	ctx    context.Context
	cancel context.CancelFunc
}

// NewInboundServer listens on cfg.Addr; Serve answers there.
func NewInboundServer(cfg InboundConfig, h InboundHandler) (*InboundServer, error) {
	if h == nil {
		return nil, fmt.Errorf("%w: inbound server needs a handler", ErrInvalidConfig)
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultInboundMaxBytes
	}
	if cfg.MaxRecipients <= 0 {
		cfg.MaxRecipients = DefaultInboundMaxRecipients
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultInboundTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultInboundTimeout
	}
	if cfg.HandleTimeout <= 0 {
		cfg.HandleTimeout = DefaultInboundTimeout
	}
	if cfg.Domain == "" {
		cfg.Domain = "localhost"
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	domains := make([]string, 0, len(cfg.Domains))
	for _, d := range cfg.Domains {
		if d = strings.ToLower(strings.Trim(strings.TrimSpace(d), "@")); d != "" {
			domains = append(domains, d)
		}
	}
	cfg.Domains = domains
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("inbound smtp: listen: %w", err)
	}
	s := &InboundServer{cfg: cfg, handler: h, ln: ln, log: cfg.Log}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		return &inboundSession{s: s}, nil
	}))
	srv.Domain = cfg.Domain
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.MaxRecipients = cfg.MaxRecipients
	srv.ReadTimeout = cfg.ReadTimeout
	srv.WriteTimeout = cfg.WriteTimeout
	srv.ErrorLog = slogPrinter{cfg.Log}
	s.srv = srv
	return s, nil
}

// Addr is the address the server listens on (the real port of a :0).
func (s *InboundServer) Addr() string { return s.ln.Addr().String() }

// Serve answers SMTP until Shutdown or Close; it returns nil then.
func (s *InboundServer) Serve() error {
	err := s.srv.Serve(s.ln)
	if errors.Is(err, gosmtp.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Shutdown stops taking connections and waits, until ctx ends, for those
// open to finish (a message being filed is filed); then it closes the rest.
func (s *InboundServer) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, gosmtp.ErrServerClosed) {
		err = nil
	}
	if ctx.Err() != nil {
		// Idle sessions hold Shutdown until their read timeout: cut them.
		_ = s.Close()
		return nil
	}
	s.cancel()
	return err
}

// Close closes the listener and every connection at once.
func (s *InboundServer) Close() error {
	s.cancel()
	err := s.srv.Close()
	if errors.Is(err, gosmtp.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (s *InboundServer) observe(result string) {
	if s.cfg.Observe != nil {
		s.cfg.Observe(result)
	}
}

// acceptDomain reports whether mail to addr is taken.
func (s *InboundServer) acceptDomain(addr string) bool {
	if len(s.cfg.Domains) == 0 {
		return true
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return false
	}
	domain := strings.ToLower(addr[at+1:])
	for _, d := range s.cfg.Domains {
		if domain == d {
			return true
		}
	}
	return false
}

// slogPrinter adapts go-smtp's Logger to slog. go-smtp logs connection
// errors only, never message content.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) {
	p.log.Debug("inbound smtp", "msg", fmt.Sprintf(format, v...))
}
func (p slogPrinter) Println(v ...any) { p.log.Debug("inbound smtp", "msg", fmt.Sprint(v...)) }

// SMTP answers of the inbound server.
var (
	errNoRelay = &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 7, 1}, Message: "Relaying denied: no such recipient domain here"}
	errUnread  = &gosmtp.SMTPError{Code: 554, EnhancedCode: gosmtp.EnhancedCode{5, 6, 0}, Message: "Message could not be read"}
	errDefer   = &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure filing the message, try again later"}
)

// inboundSession is one SMTP transaction's state.
type inboundSession struct {
	s     *InboundServer
	from  string
	rcpts []string
}

func (ss *inboundSession) Mail(from string, _ *gosmtp.MailOptions) error {
	ss.from = from
	return nil
}

func (ss *inboundSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if !ss.s.acceptDomain(to) {
		ss.s.observe(InboundRefused)
		return errNoRelay
	}
	ss.rcpts = append(ss.rcpts, to)
	return nil
}

func (ss *inboundSession) Data(r io.Reader) error {
	s := ss.s
	raw, err := io.ReadAll(r)
	if err != nil {
		var se *gosmtp.SMTPError
		if errors.As(err, &se) && se.Code == gosmtp.ErrDataTooLarge.Code {
			s.observe(InboundRefused)
		}
		return err // go-smtp's own answer: 552 5.3.4 when too large
	}
	in, err := ParseInbound(bytes.NewReader(raw))
	if err != nil {
		s.observe(InboundInvalid)
		s.log.Info("inbound email unreadable", "bytes", len(raw))
		return errUnread
	}
	in.Envelope = &Envelope{From: ss.from, To: append([]string(nil), ss.rcpts...)}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.HandleTimeout)
	defer cancel()
	switch err := s.handler(ctx, in, len(raw)); {
	case err == nil:
		s.observe(InboundOK)
	case errors.Is(err, ErrIgnored):
		s.observe(InboundIgnored)
	case errors.Is(err, ErrRejected):
		s.observe(InboundInvalid)
		s.log.Info("inbound email rejected", "message_id", in.MessageID, "err", err)
		return errUnread
	default:
		s.observe(InboundDeferred)
		s.log.Warn("inbound email not filed; the sender will retry", "message_id", in.MessageID, "err", err)
		return errDefer
	}
	return nil
}

func (ss *inboundSession) Reset() {
	ss.from = ""
	ss.rcpts = nil
}

func (ss *inboundSession) Logout() error { return nil }
