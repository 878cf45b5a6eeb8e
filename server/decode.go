package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"

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
		if len(body) > 0 && (body[0] == '{' || body[0] == '[') {
			// JSON sent as a form (curl -d without a Content-Type):
			// read as form fields it would be one nonsense key.
			return incident.Invalid("Content-Type", "the request body is JSON, but its Content-Type says %s: send it with Content-Type: application/json", fiber.MIMEApplicationForm)
		}
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
	if !utf8.Valid(body) {
		return invalidUTF8(body)
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

// invalidUTF8 returns the error for a JSON body that is not UTF-8, naming
// the field whose key or value holds the first bad byte: encoding/json
// would silently turn such bytes into U+FFFD, and a name saved in a legacy
// code page would reach every channel garbled.
func invalidUTF8(body []byte) error {
	bad := len(body)
	for i := 0; i < len(body); {
		r, size := utf8.DecodeRune(body[i:])
		if r == utf8.RuneError && size <= 1 {
			bad = i
			break
		}
		i += size
	}
	field := fieldAt(body, int64(bad))
	if field == "" {
		return incident.Errorf(incident.EINVALID, "the request body is not valid UTF-8 text")
	}
	return incident.Invalid(field, "is not valid UTF-8 text")
}

// fieldAt returns the dotted path of the JSON key or value that spans
// byte offset off of body ("incident.name"), or "".
func fieldAt(body []byte, off int64) string {
	type frame struct {
		obj       bool
		key       string
		expectKey bool
	}
	var stack []frame
	path := func() string {
		var parts []string
		for _, f := range stack {
			if f.obj && f.key != "" {
				parts = append(parts, f.key)
			}
		}
		return strings.Join(parts, ".")
	}
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].obj {
			stack[n-1].expectKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		end := dec.InputOffset()
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				stack = append(stack, frame{obj: t == '{', expectKey: t == '{'})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
		default:
			if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].expectKey {
				s, _ := t.(string)
				stack[n-1].key, stack[n-1].expectKey = s, false
				if end > off {
					return path()
				}
				continue
			}
			if end > off {
				return path()
			}
			valueDone()
		}
	}
}
