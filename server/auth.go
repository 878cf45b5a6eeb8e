package server

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/incident"
)

// requireRole returns middleware that admits a request whose token has at
// least role need, and records the token as the actor for the audit log.
//
// The token comes from the Authorization header only, as "OAuth <token>"
// (what Statuspage documents and its clients send) or "Bearer <token>".
// Statuspage also takes ?api_key=, but a query string lands in access logs,
// proxy logs and browser history, so herald does not accept it.
func (s *Server) requireRole(need incident.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		secret, ok := tokenFrom(c.Get(fiber.HeaderAuthorization))
		if !ok {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="herald"`)
			return incident.Errorf(incident.EUNAUTHORIZED, "send a token: Authorization: Bearer <token> (or OAuth <token>)")
		}
		tok, err := s.svc.Authenticate(c.UserContext(), secret)
		if err != nil {
			if incident.ErrorCode(err) == incident.EUNAUTHORIZED {
				c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="herald", error="invalid_token"`)
			}
			return err
		}
		if !tok.Role.Allows(need) {
			return incident.Errorf(incident.EFORBIDDEN, "this needs a %s token; this token is %s", need, tok.Role)
		}
		c.SetUserContext(incident.WithActor(c.UserContext(), incident.Actor{TokenID: tok.ID, Name: tok.Name, Role: tok.Role}))
		c.Locals(localTokenHash, tok.Hash)
		return c.Next()
	}
}

// localTokenHash is the Locals key of the request's token hash (requireRole).
const localTokenHash = "auth.token_hash"

// streamAuth returns the check a stream calls before each write
// (incident.StreamCheck): false once the token the stream was opened
// with has been revoked or deleted.
func (s *Server) streamAuth(c *fiber.Ctx) func(beat bool) bool {
	hash, _ := c.Locals(localTokenHash).(string)
	if hash == "" {
		return func(bool) bool { return true }
	}
	return incident.StreamCheck(incident.LiveToken(s.svc.Store, hash), s.log, "event stream")
}

// tokenFrom extracts the secret from an Authorization header value.
func tokenFrom(h string) (string, bool) {
	scheme, secret, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok {
		return "", false
	}
	if !strings.EqualFold(scheme, "Bearer") && !strings.EqualFold(scheme, "OAuth") {
		return "", false
	}
	secret = strings.TrimSpace(secret)
	return secret, secret != ""
}

// tokenFromForm lets a browser form (the sandbox inbox's reply box) carry
// its bearer token as the form field "token": without an Authorization
// header it copies the field into one for requireRole.
func tokenFromForm(c *fiber.Ctx) error {
	if c.Get(fiber.HeaderAuthorization) == "" {
		if tok := strings.TrimSpace(c.FormValue("token")); tok != "" {
			c.Request().Header.Set(fiber.HeaderAuthorization, "Bearer "+tok)
		}
	}
	return c.Next()
}
