package sandbox

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

const smtpDomain = "sandbox.herald.localhost"

// errSMTPTemporary is the answer to an injected SMTP fault.
var errSMTPTemporary = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary server error, try again later"}

func (s *Sandbox) newSMTPServer() *smtp.Server {
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &smtpSession{s: s}, nil
	}))
	srv.Domain = smtpDomain
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = readTimeout
	srv.WriteTimeout = writeTimeout
	srv.MaxMessageBytes = maxMailBytes
	srv.MaxRecipients = 100
	srv.ErrorLog = slogPrinter{s.log}
	return srv
}

// slogPrinter adapts go-smtp's Logger to slog.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) {
	p.log.Debug("smtp", "msg", fmt.Sprintf(format, v...))
}
func (p slogPrinter) Println(v ...any) { p.log.Debug("smtp", "msg", fmt.Sprint(v...)) }

// smtpSession is one SMTP connection's transaction state.
type smtpSession struct {
	s      *Sandbox
	authed bool
	from   string
	rcpts  []string
}

var _ smtp.AuthSession = (*smtpSession)(nil)

func (ss *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, user, pass string) error {
		cfg := ss.s.cfg
		if cfg.SMTPUsername != "" &&
			(subtle.ConstantTimeCompare([]byte(user), []byte(cfg.SMTPUsername)) != 1 ||
				subtle.ConstantTimeCompare([]byte(pass), []byte(cfg.SMTPPassword)) != 1) {
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.cfg.SMTPUsername != "" && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if code, ok := ss.s.faults.failCode(strings.ToLower(to)); ok {
		return smtpFailure(code)
	}
	if code, ok := ss.s.faults.failCode(to); ok {
		return smtpFailure(code)
	}
	ss.rcpts = append(ss.rcpts, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if v := ss.s.faults.check(context.Background(), surfSMTP); v.status >= 500 {
		return errSMTPTemporary
	}
	msg, err := parseMail(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message could not be parsed"}
	}
	if msg.From == "" {
		msg.From = ss.from
	}
	// The envelope sender, as the delivering server records it (RFC 5321
	// §4.4): <> for a bounce or an automatic reply.
	msg.Headers["Return-Path"] = "<" + ss.from + ">"
	now := time.Now().UTC()
	for i, rcpt := range ss.rcpts {
		m := msg
		m.To = rcpt
		m.At = now
		if i > 0 || m.ID == "" {
			m.ID = newSID("EM")
		}
		ss.s.inbox.add(m)
	}
	return nil
}

func (ss *smtpSession) Reset() {
	ss.from = ""
	ss.rcpts = nil
}

func (ss *smtpSession) Logout() error { return nil }

// smtpFailure turns a configured reply such as "550 5.1.1" into an SMTP error.
func smtpFailure(reply string) *smtp.SMTPError {
	fields := strings.Fields(reply)
	code := 550
	if len(fields) > 0 {
		if n, err := strconv.Atoi(fields[0]); err == nil && n >= 400 && n < 600 {
			code = n
		}
	}
	enh := smtp.EnhancedCode{code / 100, 1, 1}
	if len(fields) > 1 {
		parts := strings.Split(fields[1], ".")
		if len(parts) == 3 {
			for i, p := range parts {
				enh[i], _ = strconv.Atoi(p)
			}
		}
	}
	text := "Requested action not taken: mailbox unavailable"
	if len(fields) > 2 {
		text = strings.Join(fields[2:], " ")
	}
	return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: text}
}

// parseMail reads the subject, the text and HTML parts and the headers of
// an RFC 5322 message.
func parseMail(raw []byte) (Message, error) {
	pm, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, err
	}
	dec := new(mime.WordDecoder)
	decode := func(v string) string {
		if d, err := dec.DecodeHeader(v); err == nil {
			return d
		}
		return v
	}
	m := Message{Kind: KindEmail, Status: "delivered", Headers: make(map[string]string, len(pm.Header))}
	for k, v := range pm.Header {
		if len(v) > 0 {
			m.Headers[k] = decode(v[0])
		}
	}
	m.Subject = m.Headers["Subject"]
	m.From = m.Headers["From"]
	m.ID = strings.Trim(pm.Header.Get("Message-Id"), "<> ")
	err = walkPart(pm.Header.Get, pm.Body, &m, 0)
	return m, err
}

// walkPart collects the first text/plain and text/html parts, descending
// into multipart containers (alternative, mixed, related).
func walkPart(header func(string) string, body io.Reader, m *Message, depth int) error {
	if depth > 10 {
		return errors.New("multipart nesting too deep")
	}
	ct := header("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil {
		mediaType = "text/plain"
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := walkPart(p.Header.Get, p, m, depth+1); err != nil {
				return err
			}
		}
	}
	if strings.HasPrefix(strings.ToLower(header("Content-Disposition")), "attachment") {
		return nil
	}
	var r io.Reader = body
	switch strings.ToLower(header("Content-Transfer-Encoding")) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &newlineStripper{r: body})
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	switch {
	case mediaType == "text/plain" && m.Body == "":
		m.Body = string(b)
	case mediaType == "text/html" && m.HTML == "":
		m.HTML = string(b)
	}
	return nil
}

// newlineStripper drops CR and LF so a line-wrapped base64 body decodes.
type newlineStripper struct{ r io.Reader }

func (n *newlineStripper) Read(p []byte) (int, error) {
	for {
		c, err := n.r.Read(p)
		j := 0
		for _, b := range p[:c] {
			if b != '\r' && b != '\n' {
				p[j] = b
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}
