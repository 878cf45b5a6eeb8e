package incident

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
)

// Error codes. server maps each to one HTTP status, in one place.
const (
	EINVALID      = "invalid"        // 400/422: the request names a bad value; Field says which
	ENOTFOUND     = "not_found"      // 404
	ECONFLICT     = "conflict"       // 409: a concurrent change or a duplicate
	EFORBIDDEN    = "forbidden"      // 403: authenticated, but the role does not allow it
	EUNAUTHORIZED = "unauthorized"   // 401: no or bad credentials
	ETRANSITION   = "bad_transition" // 422: the lifecycle forbids the move
	// EIDEMPOTENCY: an Idempotency-Key reused with a different request (422),
	// as payment APIs answer it: the client has a bug, and replaying the
	// first request's result would hide it.
	EIDEMPOTENCY = "idempotency_key"
	// EPRECONDITION: the request named the version it read (If-Match) and
	// the incident has changed since (412): two managers resolving at
	// once, the second is told, not posted twice.
	EPRECONDITION = "precondition_failed"
	EINTERNAL     = "internal" // 500: anything else; never shown to a client in detail
	// EUNAVAILABLE: herald cannot serve the request now (503, with
	// Retry-After): its store is unreachable, or it is at a capacity
	// limit. Nothing was changed; the same request may be sent again.
	EUNAVAILABLE = "unavailable"
)

// Error is herald's one domain error type. Message is safe to show to a client.
type Error struct {
	Code    string
	Message string
	Field   string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s (field %s)", e.Code, e.Message, e.Field)
	}
	return e.Code + ": " + e.Message
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, incident.ErrNotFound) works for any not-found error.
func (e *Error) Is(target error) bool {
	var t *Error
	if !errors.As(target, &t) {
		return false
	}
	return t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

// Sentinel errors for errors.Is; their empty Message matches any message of the code.
var (
	ErrNotFound = &Error{Code: ENOTFOUND}
	ErrConflict = &Error{Code: ECONFLICT}
	ErrInvalid  = &Error{Code: EINVALID}
	// ErrLastPage: the deletion would leave herald without a page, and
	// herald always serves one (Change.KeepAPage). Stores return a copy
	// (LastPage), never this value.
	ErrLastPage = &Error{Code: ECONFLICT, Message: lastPageMessage}
)

const lastPageMessage = "the last page cannot be deleted"

// LastPage returns the error for a deletion of the last page; errors.Is
// matches it to ErrLastPage.
func LastPage() *Error { return &Error{Code: ECONFLICT, Message: lastPageMessage} }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a validation error naming the field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFound returns a not-found error for a kind of object and its ID.
func NotFound(kind, id string) *Error {
	return &Error{Code: ENOTFOUND, Message: fmt.Sprintf("%s %q not found", kind, id)}
}

// ErrorCode returns the code of err, EINTERNAL for foreign errors and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// Unreachable reports whether err says the store could not be reached,
// rather than that the request or herald is wrong: a network error on the
// way to it (refused, reset, timed out, no route), a deadline that ran out
// waiting for it, an error the store marks so (Unreachable() true), or an
// *Error with EUNAVAILABLE. An engine's own signs (go-redis's pool
// timeouts, SQLite's busy file) are its Store's Unreachable method, which
// Service.Unreachable adds. Anything else, a bug included, is not.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	var de *Error
	if errors.As(err, &de) {
		return de.Code == EUNAVAILABLE
	}
	var marked interface{ Unreachable() bool }
	if errors.As(err, &marked) && marked.Unreachable() {
		return true
	}
	var nerr net.Error
	return errors.As(err, &nerr) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// StoreUnreachable is what a Store may implement to recognise its own
// signs of being unreachable (Service.Unreachable).
type StoreUnreachable interface {
	// Unreachable reports whether err, from this store, says it could
	// not be reached for now.
	Unreachable(err error) bool
}

// Unreachable reports whether err says the store could not be reached
// (the package's Unreachable, or the Store's own test when it has one):
// front doors answer it 503 with Retry-After instead of 500.
func (s *Service) Unreachable(err error) bool {
	if Unreachable(err) {
		return true
	}
	su, ok := s.Store.(StoreUnreachable)
	return ok && err != nil && su.Unreachable(err)
}
