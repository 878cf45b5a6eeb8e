package console

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/incident"
)

// Cookies. The session cookie holds the session's secret; the store keeps
// its hash. The pre-session cookie carries the anti-forgery token of the
// forms shown before sign-in (double submit); after sign-in the token is
// derived from the session's secret.
const (
	sessionCookie = "herald_console"
	preCookie     = "herald_console_pre"
	langCookie    = "herald_lang"
	csrfField     = "_csrf"
	csrfHeader    = "X-CSRF-Token"
)

const (
	localSession = "console.session"
	localSecret  = "console.secret"
	localCSRF    = "console.csrf"
)

// CreateSignInLink makes a one-time link that signs its holder in as
// name with role, and returns the link's secret (the path is
// Prefix+"/link/"+secret) and the token the sessions will hold. A person
// who already has a live token with that name and role keeps it (the
// newest, when there are several): a link a week for the same agent
// would otherwise leave a token a week to list, and revoking the one
// token still ends every session of theirs. Otherwise a token is made;
// created says which. `herald console link` calls it on the store
// directly, like `herald token create`.
func CreateSignInLink(ctx context.Context, svc *incident.Service, sessions incident.SessionStore, name string, role incident.Role, lifetime time.Duration) (secret string, tok *incident.Token, created bool, err error) {
	if lifetime <= 0 {
		lifetime = DefaultLinkLifetime
	}
	tok, err = liveToken(ctx, svc, name, role)
	if err != nil {
		return "", nil, false, err
	}
	hash := ""
	if tok != nil {
		hash = tok.Hash
	} else {
		var tokSecret string
		if tokSecret, tok, err = svc.CreateToken(ctx, name, role); err != nil {
			return "", nil, false, err
		}
		hash, created = incident.HashToken(tokSecret), true
	}
	linkSecret, linkHash := incident.NewSessionSecret()
	now := svc.Now().UTC().Truncate(time.Millisecond)
	l := &incident.SignInLink{Hash: linkHash, TokenID: tok.ID, TokenHash: hash, CreatedAt: now, ExpiresAt: now.Add(lifetime)}
	if err := sessions.CreateSignInLink(ctx, l); err != nil {
		return "", nil, false, err
	}
	return linkSecret, tok, created, nil
}

// liveToken is the newest unrevoked token with exactly name and role, or
// nil.
func liveToken(ctx context.Context, svc *incident.Service, name string, role incident.Role) (*incident.Token, error) {
	tokens, err := svc.Tokens(ctx)
	if err != nil {
		return nil, err
	}
	var best *incident.Token
	for _, t := range tokens {
		if t.RevokedAt == nil && t.Name == name && t.Role == role && t.Hash != "" && (best == nil || t.CreatedAt.After(best.CreatedAt)) {
			best = t
		}
	}
	return best, nil
}

// csrfFor derives a session's anti-forgery token from its secret: the
// secret never leaves the HttpOnly cookie, the token is in every form, and
// neither the token nor the stored hash gives the other.
func csrfFor(secret string) string {
	sum := sha256.Sum256([]byte("herald console csrf\x00" + secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// securityHeaders sets what every console answer carries: no framing, no
// inline script, no referrer (a sign-in link must not leak), no caching.
func (cs *Console) securityHeaders(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	if !strings.HasPrefix(c.Path(), Prefix+"/assets/") {
		c.Set(fiber.HeaderCacheControl, "no-store")
	}
	return c.Next()
}

// loadSession finds the request's session, if any, checks that its token
// still holds, extends it when used, and sets the actor for the audit log.
// A request without a live session goes on without one; the routes that
// need one refuse it (need).
func (cs *Console) loadSession(c *fiber.Ctx) error {
	secret := c.Cookies(sessionCookie)
	if secret == "" || len(secret) > 100 {
		return c.Next()
	}
	ctx := c.UserContext()
	now := cs.now()
	hash := incident.HashToken(secret)
	s, err := cs.cfg.Sessions.FindSessionByHash(ctx, hash, now)
	if errors.Is(err, incident.ErrNotFound) {
		cs.clearCookie(c, sessionCookie)
		return c.Next()
	} else if err != nil {
		return err
	}
	tok, err := cs.cfg.Incidents.Store.FindTokenByHash(ctx, s.TokenHash)
	if errors.Is(err, incident.ErrNotFound) || (err == nil && tok.RevokedAt != nil) {
		_ = cs.cfg.Sessions.DeleteSession(ctx, hash) // the token was revoked: so is the session
		cs.clearCookie(c, sessionCookie)
		return c.Next()
	} else if err != nil {
		return err
	}
	s.Role, s.Name = tok.Role, tok.Name // a role changed since sign-in counts now
	if now.Sub(s.SeenAt) > time.Minute {
		exp := now.Add(cs.cfg.IdleTimeout)
		if limit := s.CreatedAt.Add(cs.cfg.MaxAge); exp.After(limit) {
			exp = limit
		}
		if err := cs.cfg.Sessions.TouchSession(ctx, hash, now, exp, ""); err != nil && !errors.Is(err, incident.ErrNotFound) {
			cs.log.Warn("console: touch session", "token_id", s.TokenID, "err", err)
		}
		s.SeenAt, s.ExpiresAt = now, exp
	}
	// The token's "last used" counts the console too, so that the token
	// list tells an admin who still works with herald.
	if tok.LastUsedAt == nil || now.Sub(*tok.LastUsedAt) > time.Minute {
		if err := cs.cfg.Incidents.Store.TouchToken(ctx, tok.ID, now); err != nil && !errors.Is(err, incident.ErrNotFound) {
			cs.log.Warn("console: touch token", "token_id", tok.ID, "err", err)
		}
	}
	c.Locals(localSession, s)
	c.Locals(localSecret, secret)
	c.SetUserContext(incident.WithActor(ctx, incident.Actor{TokenID: tok.ID, Name: tok.Name, Role: tok.Role}))
	return c.Next()
}

// session returns the request's session, or nil.
func session(c *fiber.Ctx) *incident.Session {
	s, _ := c.Locals(localSession).(*incident.Session)
	return s
}

// csrfToken is the token the request's forms carry: the session's, or
// before sign-in the pre-session cookie's (set when missing).
func (cs *Console) csrfToken(c *fiber.Ctx) string {
	if t, ok := c.Locals(localCSRF).(string); ok {
		return t
	}
	var t string
	if secret, ok := c.Locals(localSecret).(string); ok {
		t = csrfFor(secret)
	} else if t = c.Cookies(preCookie); len(t) < 20 || len(t) > 100 {
		t, _ = incident.NewSessionSecret()
		cs.setCookie(c, preCookie, t, 0)
	}
	c.Locals(localCSRF, t)
	return t
}

// checkCSRF refuses a state-changing request whose form (or header) does
// not carry the expected anti-forgery token, before any handler runs.
func (cs *Console) checkCSRF(c *fiber.Ctx) error {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return c.Next()
	}
	var want string
	if secret, ok := c.Locals(localSecret).(string); ok {
		want = csrfFor(secret)
	} else {
		want = c.Cookies(preCookie)
	}
	got := c.Get(csrfHeader)
	if got == "" {
		got = c.FormValue(csrfField)
	}
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return incident.Errorf(incident.EFORBIDDEN, "csrf")
	}
	return c.Next()
}

// need admits a signed-in session whose role allows role; without a
// session a page request goes to sign-in, anything else gets 401.
func (cs *Console) need(role incident.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		s := session(c)
		if s == nil {
			if c.Method() == fiber.MethodGet && !strings.HasSuffix(c.Path(), "/live") {
				return c.Redirect(Prefix+"/signin?next="+url.QueryEscape(string(c.Request().URI().RequestURI())), fiber.StatusSeeOther)
			}
			return incident.Errorf(incident.EUNAUTHORIZED, "signin")
		}
		if !s.Role.Allows(role) {
			return incident.Errorf(incident.EFORBIDDEN, "role")
		}
		return c.Next()
	}
}

func (cs *Console) setCookie(c *fiber.Ctx, name, value string, maxAge time.Duration) {
	ck := &fiber.Cookie{Name: name, Value: value, Path: Prefix, HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode, Secure: cs.cfg.Secure(c)}
	if maxAge > 0 {
		ck.MaxAge = int(maxAge / time.Second)
	}
	c.Cookie(ck)
}

func (cs *Console) clearCookie(c *fiber.Ctx, name string) {
	c.Cookie(&fiber.Cookie{Name: name, Value: "", Path: Prefix, HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode,
		Secure: cs.cfg.Secure(c), MaxAge: -1, Expires: time.Unix(1, 0)})
}

// openSession starts a session for tok (rotating: any session the browser
// had is ended), sets its cookie and redirects to next.
func (cs *Console) openSession(c *fiber.Ctx, tok *incident.Token, tokenHash, next string) error {
	ctx := c.UserContext()
	if old := c.Cookies(sessionCookie); old != "" && len(old) <= 100 {
		_ = cs.cfg.Sessions.DeleteSession(ctx, incident.HashToken(old))
	}
	secret, hash := incident.NewSessionSecret()
	now := cs.now()
	exp := now.Add(cs.cfg.IdleTimeout)
	if limit := now.Add(cs.cfg.MaxAge); exp.After(limit) {
		exp = limit
	}
	s := &incident.Session{Hash: hash, TokenID: tok.ID, TokenHash: tokenHash, Name: tok.Name, Role: tok.Role,
		Language: cs.lang(c), CreatedAt: now, SeenAt: now, ExpiresAt: exp}
	if err := cs.cfg.Sessions.CreateSession(ctx, s); err != nil {
		return err
	}
	cs.setCookie(c, sessionCookie, secret, cs.cfg.MaxAge)
	cs.clearCookie(c, preCookie)
	cs.log.Info("console sign-in", "token_id", tok.ID, "role", tok.Role)
	return c.Redirect(safeNext(next, tok.Role), fiber.StatusSeeOther)
}

// safeNext keeps a redirect inside the console.
func safeNext(next string, role incident.Role) string {
	if strings.HasPrefix(next, Prefix+"/") && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") &&
		!strings.HasPrefix(next, Prefix+"/signin") && !strings.HasPrefix(next, Prefix+"/link") {
		return next
	}
	if role == incident.RoleAgent {
		return Prefix + "/queue"
	}
	return Prefix + "/"
}

// signInPage is GET /console/signin.
func (cs *Console) signInPage(c *fiber.Ctx) error {
	if s := session(c); s != nil {
		return c.Redirect(safeNext(c.Query("next"), s.Role), fiber.StatusSeeOther)
	}
	return cs.render(c, fiber.StatusOK, "signin", "ConsoleSignInTitle", fiber.Map{"Next": c.Query("next")})
}

// signIn is POST /console/signin: a token, once.
func (cs *Console) signIn(c *fiber.Ctx) error {
	secret := strings.TrimSpace(c.FormValue("token"))
	tok, err := cs.cfg.Incidents.Authenticate(c.UserContext(), secret)
	if err != nil {
		if incident.ErrorCode(err) != incident.EUNAUTHORIZED {
			return err
		}
		return cs.render(c, fiber.StatusUnauthorized, "signin", "ConsoleSignInTitle", fiber.Map{"Next": c.FormValue("next"), "Error": "ConsoleSignInBad"})
	}
	return cs.openSession(c, tok, incident.HashToken(secret), c.FormValue("next"))
}

// linkPage is GET /console/link/:secret: a button, so that a link
// previewer fetching the URL does not spend it.
func (cs *Console) linkPage(c *fiber.Ctx) error {
	return cs.render(c, fiber.StatusOK, "link", "ConsoleSignInTitle", fiber.Map{"Secret": c.Params("secret")})
}

// takeLink is POST /console/link: spends the link and signs in.
func (cs *Console) takeLink(c *fiber.Ctx) error {
	ctx := c.UserContext()
	secret := c.FormValue("secret")
	bad := func() error {
		return cs.render(c, fiber.StatusUnauthorized, "signin", "ConsoleSignInTitle", fiber.Map{"Error": "ConsoleLinkBad"})
	}
	if secret == "" || len(secret) > 100 {
		return bad()
	}
	l, err := cs.cfg.Sessions.TakeSignInLink(ctx, incident.HashToken(secret), cs.now())
	if errors.Is(err, incident.ErrNotFound) {
		return bad()
	} else if err != nil {
		return err
	}
	tok, err := cs.cfg.Incidents.Store.FindTokenByHash(ctx, l.TokenHash)
	if errors.Is(err, incident.ErrNotFound) || (err == nil && tok.RevokedAt != nil) {
		return bad()
	} else if err != nil {
		return err
	}
	return cs.openSession(c, tok, l.TokenHash, "")
}

// signOut is POST /console/signout.
func (cs *Console) signOut(c *fiber.Ctx) error {
	if secret, ok := c.Locals(localSecret).(string); ok {
		if err := cs.cfg.Sessions.DeleteSession(c.UserContext(), incident.HashToken(secret)); err != nil {
			return err
		}
	}
	cs.clearCookie(c, sessionCookie)
	return c.Redirect(Prefix+"/signin", fiber.StatusSeeOther)
}

// setLanguage is POST /console/lang: the choice is kept in a cookie.
func (cs *Console) setLanguage(c *fiber.Ctx) error {
	lang := c.FormValue("lang")
	if cs.known(lang) {
		cs.setCookie(c, langCookie, lang, 365*24*time.Hour)
	}
	back := c.FormValue("back")
	if !strings.HasPrefix(back, Prefix) || strings.HasPrefix(back, "//") || strings.ContainsAny(back, "\\\r\n") {
		back = Prefix + "/"
	}
	return c.Redirect(back, fiber.StatusSeeOther)
}

func (cs *Console) known(lang string) bool {
	for _, l := range cs.cfg.Words.Languages() {
		if l == lang {
			return true
		}
	}
	return false
}

// lang is the request's language: the cookie, else the browser's first
// known language, else English.
func (cs *Console) lang(c *fiber.Ctx) string {
	if l := c.Cookies(langCookie); cs.known(l) {
		return l
	}
	for _, part := range strings.Split(c.Get(fiber.HeaderAcceptLanguage), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if cs.known(base) {
			return base
		}
	}
	return "en"
}
