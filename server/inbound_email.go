package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify/smtp"
)

// inEmail is the kind of herald_inbound_webhooks_total for inbound email
// posted by a provider (SendGrid Inbound Parse).
const inEmail = "email"

// InboundEmailConfig configures POST /webhooks/email/inbound.
type InboundEmailConfig struct {
	// Secret is the HTTP Basic credential the provider sends, from
	// HERALD_INBOUND_EMAIL_SECRET: "user:password", or a password alone
	// (then any user name). Empty refuses every request with 403.
	Secret string
	// Handle files one email: nil once stored, an error wrapping
	// smtp.ErrIgnored for automatic mail it drops, smtp.ErrRejected for
	// mail it can never file, any other error when it could not store it
	// (the provider then retries). The SMTP listener uses the same one.
	Handle func(ctx context.Context, in smtp.InboundEmail, size int) error
}

// EnableInboundEmail adds POST /webhooks/email/inbound, SendGrid Inbound
// Parse's shape: a multipart/form-data post, in raw mode (the field email
// holds the whole message) or the default parsed mode (from, to, subject,
// text, html, headers, charsets, envelope). Call it once, before Listen or
// Serve.
func (s *Server) EnableInboundEmail(cfg InboundEmailConfig) error {
	if cfg.Handle == nil {
		return errors.New("server: EnableInboundEmail needs a handler")
	}
	s.app.Post("/webhooks/email/inbound", s.inboundEmail(cfg))
	return nil
}

// emailCredentials checks the request's HTTP Basic credentials against
// secret in constant time (both sides hashed first, so neither length
// shows either). ok false with present false: none were sent.
func emailCredentials(authz, secret string) (present, ok bool) {
	raw, found := strings.CutPrefix(authz, "Basic ")
	if !found {
		return false, false
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(raw))
	if err != nil {
		return true, false
	}
	user, pass, _ := strings.Cut(string(dec), ":")
	got, want := user+":"+pass, secret
	if !strings.Contains(secret, ":") {
		got = pass
	}
	if secret == "" {
		return true, false
	}
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return true, subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// inboundEmail is POST /webhooks/email/inbound. The email is filed (or
// found to be automatic and dropped) before the provider gets its 200; a
// failure to store answers 500 and the provider retries. Credentials that
// are missing answer 401, wrong ones 403, and nothing is read.
func (s *Server) inboundEmail(cfg InboundEmailConfig) fiber.Handler {
	return func(c *fiber.Ctx) error {
		present, ok := emailCredentials(c.Get(fiber.HeaderAuthorization), cfg.Secret)
		if !ok {
			if !present {
				s.countInbound(inEmail, resultForged)
				c.Set(fiber.HeaderWWWAuthenticate, `Basic realm="herald inbound email"`)
				return incident.Errorf(incident.EUNAUTHORIZED, "send the inbound email credentials (HTTP Basic)")
			}
			s.countInbound(inEmail, resultForged)
			return incident.Errorf(incident.EFORBIDDEN, "the inbound email credentials do not match")
		}
		fields, sizes, err := readForm(c)
		if err != nil {
			s.countInbound(inEmail, resultInvalid)
			return err
		}
		in, err := smtp.ParseSendGrid(fields, sizes)
		if err != nil {
			s.countInbound(inEmail, resultInvalid)
			if fe, ok := smtp.IsFieldError(err); ok {
				return incident.Invalid(fe.Field, "%s", fe.Reason)
			}
			return incident.Invalid("email", "is no readable message")
		}
		switch err := cfg.Handle(c.UserContext(), in, len(c.Body())); {
		case err == nil:
			s.countInbound(inEmail, resultOK)
		case errors.Is(err, smtp.ErrIgnored):
			s.countInbound(inEmail, resultIgnored)
		case errors.Is(err, smtp.ErrRejected):
			s.countInbound(inEmail, resultInvalid)
			return incident.Invalid("text", "the email has nothing to file: no subject and no text")
		default:
			s.countInbound(inEmail, resultError)
			return err
		}
		return c.SendStatus(http.StatusOK)
	}
}

// maxFormFields bounds the fields of an inbound post: SendGrid sends a
// dozen, plus one per attachment.
const maxFormFields = 200

// readForm reads a multipart/form-data body (already within the body
// limit): the first value of each text field, and each file's size by its
// field name. Files are counted, never kept.
func readForm(c *fiber.Ctx) (map[string]string, map[string]int64, error) {
	mt, params, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, nil, incident.Invalid("content-type", "must be multipart/form-data with a boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(c.Body()), params["boundary"])
	fields, sizes := map[string]string{}, map[string]int64{}
	for n := 0; ; n++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, incident.Invalid("body", "is no readable multipart form")
		}
		if n >= maxFormFields {
			return nil, nil, incident.Invalid("body", "has more than %d fields", maxFormFields)
		}
		name := p.FormName()
		if name == "" {
			continue
		}
		if p.FileName() != "" {
			size, err := io.Copy(io.Discard, p)
			if err != nil {
				return nil, nil, incident.Invalid(name, "cannot be read")
			}
			sizes[name] = size
			continue
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return nil, nil, incident.Invalid(name, "cannot be read")
		}
		if _, dup := fields[name]; !dup {
			fields[name] = string(b)
		}
	}
	return fields, sizes, nil
}
