package sqlite

import (
	"strings"
	"unicode/utf8"
)

// A customer's components and attributes are stored as the JSON that
// json.Marshal writes: ["a","b"] and {"k":"v"}. Reading a page of a
// million customers (a plan, compensation totals, an announcement's
// audience) decoded them through encoding/json at about 3 µs a customer,
// nearly half of the read. decodeStrings and decodeStringMap read that
// form directly; anything else (an escape, whitespace, a value that is not
// a string, invalid UTF-8) makes them return false, and the caller hands
// the text to encoding/json, which gives the same answer or the error.

// decodeStrings decodes a JSON array of strings without escapes.
func decodeStrings(s string) ([]string, bool) {
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil, false
	}
	body := s[1 : len(s)-1]
	if body == "" {
		return []string{}, true
	}
	out := make([]string, 0, 1+strings.Count(body, ","))
	for {
		v, rest, ok := cutString(body)
		if !ok {
			return nil, false
		}
		out = append(out, v)
		if rest == "" {
			return out, true
		}
		if rest[0] != ',' {
			return nil, false
		}
		body = rest[1:]
	}
}

// decodeStringMap decodes a JSON object whose keys and values are strings
// without escapes. A repeated key keeps its last value, as in encoding/json.
func decodeStringMap(s string) (map[string]string, bool) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, false
	}
	body := s[1 : len(s)-1]
	if body == "" {
		return map[string]string{}, true
	}
	m := make(map[string]string, 1+strings.Count(body, ","))
	for {
		k, rest, ok := cutString(body)
		if !ok || rest == "" || rest[0] != ':' {
			return nil, false
		}
		v, rest, ok := cutString(rest[1:])
		if !ok {
			return nil, false
		}
		m[k] = v
		if rest == "" {
			return m, true
		}
		if rest[0] != ',' {
			return nil, false
		}
		body = rest[1:]
	}
}

// cutString reads the JSON string at the start of s, which must hold no
// escape and no control character and be valid UTF-8, and returns its
// value and what follows it.
func cutString(s string) (v, rest string, ok bool) {
	if s == "" || s[0] != '"' {
		return "", "", false
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			v = s[1:i]
			if !utf8.ValidString(v) {
				return "", "", false
			}
			return v, s[i+1:], true
		case c == '\\' || c < 0x20:
			return "", "", false
		}
	}
	return "", "", false
}
