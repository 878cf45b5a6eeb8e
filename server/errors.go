package server

import (
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify"
)

// Error codes server adds for HTTP-level failures that have no domain
// meaning; every other code is one of incident's.
const (
	codeMethodNotAllowed = "method_not_allowed" // 405
	codeTooLarge         = "too_large"          // 413
	// codeUnavailable refuses a request or connection when herald is at a
	// capacity limit or its store is unreachable (503, with Retry-After);
	// one client over its own limit gets notify.ERATELIMITED (429).
	codeUnavailable = incident.EUNAVAILABLE
)

// unreachableRetryAfter is the Retry-After of a request refused because
// the store is unreachable: a Redis restart or failover takes seconds.
const unreachableRetryAfter = "5"

// errUnreachable is what a client is told when the store cannot be reached.
var errUnreachable = &incident.Error{Code: codeUnavailable,
	Message: "herald cannot reach its store right now; nothing was changed, try again shortly"}

// statusOf is the one map from an error code to an HTTP status.
//
// invalid is 400 whether the decoder or the Service found the problem: the
// body names the field either way, and one status per code keeps clients
// simple. bad_transition is 422: the request is well-formed and valid, but
// the incident's current state forbids it (a 409 would invite a retry).
var statusOf = map[string]int{
	incident.EINVALID:      http.StatusBadRequest,
	incident.ENOTFOUND:     http.StatusNotFound,
	incident.ECONFLICT:     http.StatusConflict,
	incident.EUNAUTHORIZED: http.StatusUnauthorized,
	incident.EFORBIDDEN:    http.StatusForbidden,
	incident.ETRANSITION:   http.StatusUnprocessableEntity,
	incident.EIDEMPOTENCY:  http.StatusUnprocessableEntity,
	incident.EPRECONDITION: http.StatusPreconditionFailed,
	incident.EINTERNAL:     http.StatusInternalServerError,
	codeMethodNotAllowed:   http.StatusMethodNotAllowed,
	codeTooLarge:           http.StatusRequestEntityTooLarge,
	codeUnavailable:        http.StatusServiceUnavailable,
	notify.ERATELIMITED:    http.StatusTooManyRequests,
}

// errorBody is the JSON every error answers with.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// asDomainError turns any error into the *incident.Error a client may see.
// fiber's own errors (no route, wrong method, body too large, a request
// fasthttp could not parse) keep their status; anything else is internal
// and its text is replaced by a generic message.
func asDomainError(err error) (e *incident.Error, internal bool) {
	var de *incident.Error
	if errors.As(err, &de) {
		if de.Code == incident.EINTERNAL || statusOf[de.Code] == 0 {
			return &incident.Error{Code: incident.EINTERNAL, Message: "internal error"}, true
		}
		return de, false
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		switch fe.Code {
		case http.StatusNotFound:
			return &incident.Error{Code: incident.ENOTFOUND, Message: "no such resource"}, false
		case http.StatusMethodNotAllowed:
			return &incident.Error{Code: codeMethodNotAllowed, Message: "method not allowed"}, false
		case http.StatusRequestEntityTooLarge:
			return &incident.Error{Code: codeTooLarge, Message: "request body too large"}, false
		case http.StatusRequestHeaderFieldsTooLarge:
			return &incident.Error{Code: codeTooLarge, Message: "request headers or address too large"}, false
		case http.StatusRequestTimeout:
			return &incident.Error{Code: incident.EINVALID, Message: "the request did not arrive in time"}, false
		case http.StatusBadRequest:
			return &incident.Error{Code: incident.EINVALID, Message: "malformed request"}, false
		}
	}
	return &incident.Error{Code: incident.EINTERNAL, Message: "internal error"}, true
}

// handleError answers err: the one place an error becomes a response. It
// is fiber's ErrorHandler and is also called by the outer middleware so
// metrics see the final status.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	de, internal := asDomainError(err)
	if s.svc != nil && s.svc.Unreachable(err) {
		// Not a bug to log in full each time: one line in a while says
		// the store is away, and the client is told to come back.
		de, internal = errUnreachable, false
		s.unreachableLog.Log(s.log, slog.LevelWarn, "request refused: the store is unreachable", "method", c.Method(), "path", c.Path(), "err", err)
		if c.GetRespHeader(fiber.HeaderRetryAfter) == "" {
			c.Set(fiber.HeaderRetryAfter, unreachableRetryAfter)
		}
	}
	status := statusOf[de.Code]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	var fe *fiber.Error
	if errors.As(err, &fe) && de.Code != incident.EINTERNAL && fe.Code != http.StatusNotFound &&
		fe.Code != http.StatusMethodNotAllowed && fe.Code != http.StatusRequestEntityTooLarge {
		status = fe.Code // 408, 431 stay what fasthttp said
	}
	if internal {
		// The full error goes to the log, never to the client. No header is
		// logged, so a token never reaches the log.
		s.log.Error("request failed", "method", c.Method(), "path", c.Path(), "status", status, "err", err)
	}
	// The status page's routes say their own methods, and the JSON API's
	// and feeds' errors are readable cross-origin, as their answers are.
	public, cors := publicRoute([]byte(c.Path()))
	if status == http.StatusMethodNotAllowed {
		switch {
		case cors:
			c.Set(fiber.HeaderAllow, "GET, HEAD, OPTIONS")
		case public != "":
			c.Set(fiber.HeaderAllow, "GET, HEAD")
		default:
			c.Set(fiber.HeaderAllow, "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
		}
	}
	if cors {
		setHeader(&c.Response().Header, nameAllowOrigin, "*")
	}
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	if status == http.StatusNotFound && wantsHTML(c) {
		return s.sendNotFoundHTML(c)
	}
	return c.Status(status).JSON(errorBody{Error: errorDetail{Code: de.Code, Message: de.Message, Field: de.Field}})
}

// withField returns err with its field prefixed ("name" → "incident.name")
// so fields from the Service read like the decoder's, relative to the body's root.
func withField(err error, prefix string) error {
	var de *incident.Error
	if !errors.As(err, &de) || de.Field == "" || prefix == "" || strings.HasPrefix(de.Field, prefix+".") ||
		strings.ContainsAny(de.Field, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") { // a header such as Idempotency-Key
		return err
	}
	cp := *de
	cp.Field = prefix + "." + de.Field
	return &cp
}

// wantsHTML reports whether a not-found answer should be the HTML page:
// a browser's GET or HEAD of a public path. API paths always get JSON.
func wantsHTML(c *fiber.Ctx) bool {
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		return false
	}
	p := c.Path()
	for _, prefix := range []string{"/api/", "/v1/", "/events", "/metrics", "/healthz", "/readyz", "/webhooks/"} {
		if strings.HasPrefix(p, prefix) {
			return false
		}
	}
	accept := c.Get(fiber.HeaderAccept)
	return accept == "" || strings.Contains(accept, "text/html") || strings.Contains(accept, "*/*")
}

// sendNotFoundHTML answers 404 with the site's own not-found page when it
// rendered one, else a minimal page.
func (s *Server) sendNotFoundHTML(c *fiber.Ctx) error {
	if s.site != nil {
		if a, ok := s.site.Lookup(s.hostOf(c), "/404", s.requestLanguage(c)); ok && len(a.Body) > 0 {
			setHTMLSecurityHeaders(&c.Response().Header, s.csp.policyFor(a))
			c.Set(fiber.HeaderContentType, a.ContentType)
			c.Set(fiber.HeaderCacheControl, "no-store")
			return c.Status(http.StatusNotFound).Send(a.Body)
		}
	}
	setHTMLSecurityHeaders(&c.Response().Header)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	body := fmt.Sprintf(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Not found</title></head>`+
		`<body><h1>Not found</h1><p>There is nothing at %s.</p><p><a href="/">Back to the status page</a></p></body></html>`,
		html.EscapeString(c.Path()))
	return c.Status(http.StatusNotFound).SendString(body)
}

// protect runs the request's route with a panic in any handler turned into
// an internal error, logged with its stack, so no input can crash the
// server; the body is held to its limit (limitBody) and Statuspage's
// .json spelling of the management API's paths is understood
// (jsonSuffix) before the route is chosen.
//
// routed reports whether the request reached fiber's router: a body
// refused before it has no route to be counted under.
func (s *Server) protect(c *fiber.Ctx) (routed bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in handler", "method", c.Method(), "path", c.Path(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	if problem := hostProblem(&c.Request().Header); problem != "" {
		return false, &incident.Error{Code: incident.EINVALID, Message: problem, Field: "Host"}
	}
	if err := s.limitBody(c); err != nil {
		return false, err
	}
	jsonSuffix(c)
	return true, c.Next()
}
