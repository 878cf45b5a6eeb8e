package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify"
	"github.com/heraldhq/herald/statuspage"
)

// The public subscription pages, on the status page's host: no account,
// no cookie, and they work with JavaScript off. Sign-up and code forms
// carry an HMAC token (host, form, time) and a POST whose Origin names
// another site is refused, so another site cannot post them on a visitor's
// behalf. Confirm and unsubscribe links carry notify's own signed token;
// their GET only shows a button (mail scanners fetch links), the POST
// acts, and the unsubscribe POST is RFC 8058's one-click, which mail
// providers send with no cookie, token or Origin.

// formKey returns the anti-forgery key: the shared secret when there is a
// store, else a random key of this process.
func formKey(secrets SecretStore) ([]byte, error) {
	gen := func() []byte {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return b
	}
	if secrets == nil {
		return gen(), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return secrets.Secret(ctx, formSecretName, gen)
}

// formToken signs (host, form, now): "<unix seconds base 36>.<mac>".
func (b *broadcast) formToken(host, form string, now time.Time) string {
	ts := strconv.FormatInt(now.Unix(), 36)
	return ts + "." + b.formMAC(host, form, ts)
}

func (b *broadcast) formMAC(host, form, ts string) string {
	m := hmac.New(sha256.New, b.formKey)
	m.Write([]byte(host + "\x00" + form + "\x00" + ts))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// checkFormToken reports whether tok is a token of this host and form
// issued within formTokenLifetime.
func (b *broadcast) checkFormToken(host, form, tok string, now time.Time) bool {
	ts, mac, ok := strings.Cut(tok, ".")
	if !ok || len(tok) > 64 {
		return false
	}
	sec, err := strconv.ParseInt(ts, 36, 64)
	if err != nil {
		return false
	}
	age := now.Sub(time.Unix(sec, 0))
	if age < -time.Minute || age > formTokenLifetime {
		return false
	}
	return hmac.Equal([]byte(mac), []byte(b.formMAC(host, form, ts)))
}

// sameOrigin reports whether a POST's Origin, when it has one, is this
// host (or the public URL's). Browsers send Origin with every form POST;
// "null" (sandboxed frames, some redirects) is refused.
func (s *Server) sameOrigin(c *fiber.Ctx) bool {
	o := c.Get(fiber.HeaderOrigin)
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if host == s.hostOf(c) {
		return true
	}
	if p, err := url.Parse(s.bc.cfg.PublicURL); err == nil && p.Host != "" && strings.EqualFold(p.Hostname(), host) {
		return true
	}
	return false
}

// publicPage returns the status page this host serves.
func (s *Server) publicPage(c *fiber.Ctx) (*incident.Page, error) {
	if s.site == nil {
		return nil, incident.Errorf(incident.ENOTFOUND, "no status page on this host")
	}
	p, ok := s.site.PageFor(s.hostOf(c))
	if !ok {
		return nil, incident.Errorf(incident.ENOTFOUND, "no status page on this host")
	}
	return p, nil
}

// acceptsHTML reports whether the client asked for HTML (a browser):
// problems are then shown in the page, else answered as JSON errors.
func acceptsHTML(c *fiber.Ctx) bool {
	return strings.Contains(c.Get(fiber.HeaderAccept), "text/html")
}

// sendForm renders a subscription page. These pages are not cached: they
// carry a fresh token, and the answers to POSTs are one person's.
func (s *Server) sendForm(c *fiber.Ctx, status int, page *incident.Page, name statuspage.FormName, d statuspage.FormData) error {
	body, err := s.bc.forms.Render(page, s.requestLanguage(c), name, d)
	if err != nil {
		return err
	}
	setHTMLSecurityHeaders(&c.Response().Header, inlinePolicy(body))
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderVary, "Accept-Language, Cookie")
	return c.Status(status).Send(body)
}

// withLang keeps the page's language across a POST: ?lang= on the action.
func withLang(c *fiber.Ctx, path string) string {
	if l := pickLanguage(c); l != "" {
		return path + "?lang=" + url.QueryEscape(l)
	}
	return path
}

// problemOf maps a sign-up error to the page's problem and status, or
// reports that err is not the visitor's doing.
func problemOf(err error) (problem string, status int, ok bool) {
	de, internal := asDomainError(err)
	if internal {
		return "", 0, false
	}
	switch {
	case de.Code == notify.ERATELIMITED:
		return statuspage.ProblemRateLimited, http.StatusTooManyRequests, true
	case de.Field == "code" || de.Code == incident.ENOTFOUND:
		return statuspage.ProblemCode, http.StatusBadRequest, true
	case de.Field == "token":
		return statuspage.ProblemLink, http.StatusBadRequest, true
	case de.Field == "address" || de.Field == "phone" || de.Field == "email":
		return statuspage.ProblemAddress, http.StatusBadRequest, true
	case de.Code == incident.EINVALID:
		return statuspage.ProblemInvalid, http.StatusBadRequest, true
	}
	return "", 0, false
}

// subscribeForm is the sign-up form, filled in from what was posted.
func (s *Server) subscribeForm(c *fiber.Ctx, page *incident.Page, kind, address, language string, checked []string, incidentID string) (statuspage.FormData, error) {
	comps, err := s.svc.Components(c.UserContext(), page.ID)
	if err != nil {
		return statuspage.FormData{}, err
	}
	d := statuspage.FormData{Action: withLang(c, "/subscribe"), CSRF: s.bc.formToken(s.hostOf(c), "subscribe", s.svc.Now()),
		Channel: kind, Address: address, Language: language}
	if inc := s.followable(c, page, incidentID); inc != nil {
		d.Incident, d.IncidentName = inc.ID, inc.Name
	}
	for _, cp := range comps {
		if cp.Group {
			continue
		}
		d.Components = append(d.Components, statuspage.FormComponent{ID: cp.ID, Name: cp.Name, Checked: contains(checked, cp.ID)})
	}
	return d, nil
}

// followable returns the incident a sign-up may follow ("subscribe to
// this incident" on its page): one of this page's, not yet over; nil
// otherwise, and the form is the page-wide one.
func (s *Server) followable(c *fiber.Ctx, page *incident.Page, id string) *incident.Incident {
	if id == "" || !incident.ValidID(id) {
		return nil
	}
	inc, err := s.svc.Incident(c.UserContext(), page.ID, id)
	if err != nil || inc.Status.Closed() {
		return nil
	}
	return inc
}

// subscribePage is GET /subscribe: the sign-up form; ?incident=ID follows
// that incident only.
func (s *Server) subscribePage() fiber.Handler {
	return func(c *fiber.Ctx) error {
		page, err := s.publicPage(c)
		if err != nil {
			return err
		}
		d, err := s.subscribeForm(c, page, "", "", s.requestLanguage(c), nil, c.Query("incident"))
		if err != nil {
			return err
		}
		return s.sendForm(c, http.StatusOK, page, statuspage.FormSubscribe, d)
	}
}

// postedValues returns every value of a posted form field.
func postedValues(c *fiber.Ctx, name string) []string {
	var out []string
	for _, v := range c.Request().PostArgs().PeekMulti(name) {
		out = append(out, string(v))
	}
	return out
}

// subscribe is POST /subscribe: sign up, then say what happens next
// (check your email, enter the code, or you are subscribed).
func (s *Server) subscribe() fiber.Handler {
	return func(c *fiber.Ctx) error {
		page, err := s.publicPage(c)
		if err != nil {
			return err
		}
		kind, address := strings.ToLower(c.FormValue("channel")), c.FormValue("address")
		language, comps := c.FormValue("language"), postedValues(c, "components")
		following := ""
		again := func(status int, problem string, cause error) error {
			if !acceptsHTML(c) {
				return cause
			}
			d, err := s.subscribeForm(c, page, kind, address, language, comps, following)
			if err != nil {
				return err
			}
			d.Problem = problem
			return s.sendForm(c, status, page, statuspage.FormSubscribe, d)
		}
		if !s.sameOrigin(c) || !s.bc.checkFormToken(s.hostOf(c), "subscribe", c.FormValue("csrf"), s.svc.Now()) {
			return again(http.StatusForbidden, statuspage.ProblemExpired,
				incident.Errorf(incident.EFORBIDDEN, "the form is stale or was posted from another site; load /subscribe again"))
		}
		if id := c.FormValue("incident"); id != "" {
			inc := s.followable(c, page, id)
			if inc == nil {
				return again(http.StatusBadRequest, statuspage.ProblemInvalid, incident.Invalid("incident", "is not an open incident of this page"))
			}
			following, comps = inc.ID, nil
		}
		switch channel.Kind(kind) {
		case channel.Email, channel.SMS, channel.Webhook, channel.Slack:
		default:
			return again(http.StatusBadRequest, statuspage.ProblemInvalid, incident.Invalid("channel", "must be email, sms, webhook or slack"))
		}
		if strings.TrimSpace(address) == "" {
			return again(http.StatusBadRequest, statuspage.ProblemAddress, incident.Invalid("address", "is required"))
		}
		sub, err := s.bc.notify.Subscribe(c.UserContext(), notify.SubscribeRequest{PageID: page.ID, Kind: channel.Kind(kind),
			Address: address, Language: language, ComponentIDs: comps, IncidentID: following, IP: s.clientIP(c), Source: "page"})
		if err != nil {
			err = fieldFor(err, "", "address") // the form's field, whatever the channel
			if problem, status, ok := problemOf(err); ok {
				return again(status, problem, err)
			}
			return err
		}
		// The answer depends on the channel only, never on whether the
		// address was subscribed already: the form must not tell a stranger
		// who is on the list. (Webhook and Slack sign-ups are active at
		// once whoever sends them, so "subscribed" says nothing either.)
		switch sub.Kind {
		case channel.Webhook, channel.Slack:
			return s.sendForm(c, http.StatusOK, page, statuspage.FormSubscribed, statuspage.FormData{})
		case channel.SMS:
			return s.sendForm(c, http.StatusOK, page, statuspage.FormEnterCode, s.codeForm(c, sub.Address))
		}
		return s.sendForm(c, http.StatusOK, page, statuspage.FormCheckEmail, statuspage.FormData{})
	}
}

func (s *Server) codeForm(c *fiber.Ctx, phone string) statuspage.FormData {
	return statuspage.FormData{Action: withLang(c, "/subscribe/confirm-code"), Phone: phone,
		CSRF: s.bc.formToken(s.hostOf(c), "code", s.svc.Now())}
}

// confirmCode is POST /subscribe/confirm-code: the SMS code.
func (s *Server) confirmCode() fiber.Handler {
	return func(c *fiber.Ctx) error {
		page, err := s.publicPage(c)
		if err != nil {
			return err
		}
		phone, code := c.FormValue("phone"), strings.TrimSpace(c.FormValue("code"))
		again := func(status int, problem string, cause error) error {
			if !acceptsHTML(c) {
				return cause
			}
			d := s.codeForm(c, phone)
			d.Problem = problem
			return s.sendForm(c, status, page, statuspage.FormEnterCode, d)
		}
		if !s.sameOrigin(c) || !s.bc.checkFormToken(s.hostOf(c), "code", c.FormValue("csrf"), s.svc.Now()) {
			return again(http.StatusForbidden, statuspage.ProblemExpired,
				incident.Errorf(incident.EFORBIDDEN, "the form is stale or was posted from another site; sign up again"))
		}
		if phone == "" {
			return again(http.StatusBadRequest, statuspage.ProblemInvalid, incident.Invalid("phone", "is required"))
		}
		if len(code) != 6 {
			return again(http.StatusBadRequest, statuspage.ProblemCode, incident.Invalid("code", "must be the 6 digits we sent"))
		}
		if _, err := s.bc.notify.ConfirmCode(c.UserContext(), page.ID, phone, code); err != nil {
			if problem, status, ok := problemOf(err); ok {
				return again(status, problem, err)
			}
			return err
		}
		return s.sendForm(c, http.StatusOK, page, statuspage.FormSubscribed, statuspage.FormData{})
	}
}

// linkPage is the GET of a confirm or unsubscribe link: a page with one
// button that POSTs back to the same URL. It changes nothing.
func (s *Server) linkPage(name statuspage.FormName) fiber.Handler {
	return func(c *fiber.Ctx) error {
		page, err := s.publicPage(c)
		if err != nil {
			return err
		}
		return s.sendForm(c, http.StatusOK, page, name, statuspage.FormData{Action: withLang(c, c.Path())})
	}
}

// linkFailed answers a confirm or unsubscribe POST that failed.
func (s *Server) linkFailed(c *fiber.Ctx, page *incident.Page, err error) error {
	problem, status, ok := problemOf(err)
	if !ok {
		return err
	}
	if problem == statuspage.ProblemCode { // a delivery that no longer exists
		problem, status = statuspage.ProblemLink, http.StatusNotFound
	}
	if !acceptsHTML(c) {
		return err
	}
	return s.sendForm(c, status, page, statuspage.FormLinkInvalid, statuspage.FormData{Problem: problem})
}

// confirm is POST /subscriptions/confirm/:token.
func (s *Server) confirm() fiber.Handler {
	return func(c *fiber.Ctx) error {
		page, err := s.publicPage(c)
		if err != nil {
			return err
		}
		if !s.sameOrigin(c) {
			return incident.Errorf(incident.EFORBIDDEN, "posted from another site")
		}
		if _, err := s.bc.notify.Confirm(c.UserContext(), c.Params("token")); err != nil {
			return s.linkFailed(c, page, err)
		}
		return s.sendForm(c, http.StatusOK, page, statuspage.FormSubscribed, statuspage.FormData{})
	}
}

// unsubscribe is POST /unsubscribe/:token, RFC 8058 one-click included:
// the body (List-Unsubscribe=One-Click) is not needed, and no cookie,
// form token or Origin is asked for; the signed link is the authority.
func (s *Server) unsubscribe() fiber.Handler {
	return func(c *fiber.Ctx) error {
		page, err := s.publicPage(c)
		if err != nil {
			return err
		}
		if err := s.bc.notify.Unsubscribe(c.UserContext(), c.Params("token")); err != nil {
			return s.linkFailed(c, page, err)
		}
		return s.sendForm(c, http.StatusOK, page, statuspage.FormUnsubscribed, statuspage.FormData{})
	}
}
