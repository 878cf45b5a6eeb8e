package incident

import (
	"errors"
	"fmt"
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
)

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
