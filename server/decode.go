package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/incident"
)

// validator is a request body that checks itself after decoding, reporting
// the first problem as an *incident.Error naming the field.
type validator interface {
	Valid() error
}

// wrapper is a request that wraps one of incident/wire's request shapes
// (embedding it, with what Valid works out beside it). decode decodes the
// body into the shape itself, so that a field of the wrong type is named
// by its JSON path alone ("incident.name", not "IncidentRequest.incident.name").
type wrapper interface {
	shape() any
}

// decode is the one decode-and-validate helper for request bodies.
//
// The body is JSON, or form-encoded with Rails-style keys when the
// Content-Type says so (application/x-www-form-urlencoded, as Statuspage
// accepts it): formToJSON turns it into the JSON the same request would
// have been.
//
// Unknown fields are accepted: Statuspage clients send fields herald does
// not model (metadata, auto_tweet_*, ...), and rejecting them would break
// them. A field of the wrong type is rejected with a 400 naming it by its
// path from the root ("incident.name"). An empty or malformed body is a
// 400; a body over the limit never gets here (fasthttp answers 413).
func decode(c *fiber.Ctx, v validator) error { return decodeBody(c, v, false) }

// decodeStrict is decode for herald's own shapes where a misspelt field
// would silently change the meaning (a compensation policy's rule without
// its "min_affected_minutes" gives to everyone): unknown fields are a 400
// naming them.
func decodeStrict(c *fiber.Ctx, v validator) error { return decodeBody(c, v, true) }

func decodeBody(c *fiber.Ctx, v validator, strict bool) error {
	body := bytes.TrimSpace(c.Body())
	var target any = v
	if w, ok := v.(wrapper); ok {
		target = w.shape()
	}
	if isForm(c) {
		var err error
		if body, err = formToJSON(body, target); err != nil {
			return err
		}
	}
	if len(body) == 0 {
		return incident.Errorf(incident.EINVALID, "the request body is empty; send a JSON object")
	}
	if body[0] != '{' {
		return incident.Errorf(incident.EINVALID, "the request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(target); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return incident.Errorf(incident.EINVALID, "malformed JSON: unexpected data after the object")
	}
	if r, ok := v.(rawReader); ok {
		if err := r.readRaw(body); err != nil {
			return err
		}
	}
	return v.Valid()
}

// rawReader is a request that needs more of the JSON than its shape
// keeps: whether a field was null rather than absent (impact_override).
type rawReader interface {
	readRaw(body []byte) error
}

// isForm reports whether the request body is form-encoded, which
// Statuspage's API accepts besides JSON (see formToJSON).
func isForm(c *fiber.Ctx) bool {
	ct, _, _ := strings.Cut(string(c.Request().Header.ContentType()), ";")
	return strings.EqualFold(strings.TrimSpace(ct), fiber.MIMEApplicationForm)
}

func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return incident.Errorf(incident.EINVALID, "malformed JSON at byte %d", syn.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return incident.Errorf(incident.EINVALID, "malformed JSON: the body ends too early")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no type for it; the message is stable.
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return incident.Invalid(field, "unknown field %q: check its spelling", field)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = typ.Struct
		}
		return incident.Invalid(field, "must be %s, got %s", jsonKind(typ.Type), typ.Value)
	}
	return incident.Errorf(incident.EINVALID, "malformed JSON")
}

// jsonKind names a Go type the way a JSON client thinks of it.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a " + t.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// required returns the error for a missing wrapper object such as "incident".
func required(field string) error {
	return incident.Invalid(field, "is required: send {%q: {...}}", field)
}
