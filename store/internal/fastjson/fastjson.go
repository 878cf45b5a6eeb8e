// Package fastjson reads the JSON the stores write for a customer, in the
// exact form json.Marshal writes it, without encoding/json's reflection.
// Reading a page of a million customers (a plan, compensation totals, an
// announcement's audience) spent about half its time in encoding/json.
//
// Every function reports false for anything outside that form (an
// escape, whitespace, an unknown or repeated key, a value of another
// type, invalid UTF-8): the caller then hands the text to encoding/json,
// which gives the same answer or the error. The fuzz tests hold them to
// encoding/json's answers.
package fastjson

import (
	"strings"
	"unicode/utf8"

	"github.com/heraldhq/herald/audience"
)

// Strings decodes a JSON array of strings.
func Strings(s string) ([]string, bool) {
	v, rest, ok := cutStrings(s, strings.Count(s, ","))
	if !ok || rest != "" {
		return nil, false
	}
	return v, true
}

// StringMap decodes a JSON object whose values are strings. A repeated
// key keeps its last value, as in encoding/json.
func StringMap(s string) (map[string]string, bool) {
	v, rest, ok := cutStringMap(s, strings.Count(s, ","))
	if !ok || rest != "" {
		return nil, false
	}
	return v, true
}

// Customer decodes the JSON object json.Marshal writes for an
// audience.Customer into c, which must be the zero Customer.
func Customer(s string, c *audience.Customer) bool {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return false
	}
	rest := s[1 : len(s)-1]
	if rest == "" {
		return true
	}
	var seen uint16
	for {
		k, r, ok := cutString(rest)
		if !ok || r == "" || r[0] != ':' {
			return false
		}
		r = r[1:]
		bit, str := customerField(c, k)
		if bit == 0 || seen&bit != 0 {
			return false // unknown (encoding/json matches keys without case) or repeated
		}
		seen |= bit
		switch {
		case str != nil:
			if *str, r, ok = cutString(r); !ok {
				return false
			}
		case k == "components":
			if strings.HasPrefix(r, "null") {
				r = r[4:]
			} else if c.Components, r, ok = cutStrings(r, 3); !ok {
				return false
			}
		case k == "attributes":
			if strings.HasPrefix(r, "null") {
				r = r[4:]
			} else if c.Attributes, r, ok = cutStringMap(r, 1); !ok {
				return false
			}
		default: // created_at, updated_at
			var v string
			if v, r, ok = cutString(r); !ok {
				return false
			}
			t := &c.CreatedAt
			if k == "updated_at" {
				t = &c.UpdatedAt
			}
			if t.UnmarshalText([]byte(v)) != nil { // what time.Time's UnmarshalJSON does inside the quotes
				return false
			}
		}
		if r == "" {
			return true
		}
		if r[0] != ',' {
			return false
		}
		rest = r[1:]
	}
}

// customerField returns the bit of the customer's JSON key k and, for a
// string field, where its value goes; bit 0 for an unknown key.
func customerField(c *audience.Customer, k string) (uint16, *string) {
	switch k {
	case "id":
		return 1 << 0, &c.ID
	case "page_id":
		return 1 << 1, &c.PageID
	case "name":
		return 1 << 2, &c.Name
	case "phone":
		return 1 << 3, &c.Phone
	case "email":
		return 1 << 4, &c.Email
	case "slack":
		return 1 << 5, &c.Slack
	case "language":
		return 1 << 6, &c.Language
	case "time_zone":
		return 1 << 7, &c.TimeZone
	case "plan":
		return 1 << 8, &c.Plan
	case "region":
		return 1 << 9, &c.Region
	case "components":
		return 1 << 10, nil
	case "attributes":
		return 1 << 11, nil
	case "created_at":
		return 1 << 12, nil
	case "updated_at":
		return 1 << 13, nil
	}
	return 0, nil
}

// cutStrings reads the array of strings at the start of s (empty: a
// non-nil empty slice, as encoding/json) and returns what follows it.
func cutStrings(s string, hint int) ([]string, string, bool) {
	if len(s) < 2 || s[0] != '[' {
		return nil, "", false
	}
	if s[1] == ']' {
		return []string{}, s[2:], true
	}
	out := make([]string, 0, hint+1)
	s = s[1:]
	for {
		v, r, ok := cutString(s)
		if !ok || r == "" {
			return nil, "", false
		}
		out = append(out, v)
		switch r[0] {
		case ']':
			return out, r[1:], true
		case ',':
			s = r[1:]
		default:
			return nil, "", false
		}
	}
}

// cutStringMap reads the object of strings at the start of s and returns
// what follows it.
func cutStringMap(s string, hint int) (map[string]string, string, bool) {
	if len(s) < 2 || s[0] != '{' {
		return nil, "", false
	}
	if s[1] == '}' {
		return map[string]string{}, s[2:], true
	}
	m := make(map[string]string, hint+1)
	s = s[1:]
	for {
		k, r, ok := cutString(s)
		if !ok || r == "" || r[0] != ':' {
			return nil, "", false
		}
		v, r, ok := cutString(r[1:])
		if !ok || r == "" {
			return nil, "", false
		}
		m[k] = v
		switch r[0] {
		case '}':
			return m, r[1:], true
		case ',':
			s = r[1:]
		default:
			return nil, "", false
		}
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
