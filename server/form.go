package server

import (
	"encoding/json"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/heraldhq/herald/incident"
)

// Statuspage's management API takes form-encoded bodies as well as JSON,
// and many clients send them (curl -d, Python requests' data=, Ruby's
// Net::HTTP#set_form_data): Rails-style bracketed keys,
//
//	incident[name]=API+errors&incident[component_ids][]=abc&incident[components][abc]=major_outage
//
// formToJSON turns such a body into the JSON object the same request
// would have sent, guided by the Go type it will be decoded into: a form
// has only strings, so "t", "true" and "1" become true where a boolean is
// wanted, "3" becomes 3 where an integer is, and a key sent once becomes a
// list where a list is wanted. What the type does not name is passed on as
// text (a strict decode then refuses it by name, a lenient one ignores it).

// formNode is one level of a form's bracketed keys: values sent for the key
// itself, and the keys below it in the order they first came.
type formNode struct {
	values   []string
	children map[string]*formNode
	order    []string
}

func (n *formNode) child(k string) *formNode {
	if n.children == nil {
		n.children = map[string]*formNode{}
	}
	c, ok := n.children[k]
	if !ok {
		c = &formNode{}
		n.children[k] = c
		n.order = append(n.order, k)
	}
	return c
}

// maxFormDepth bounds nesting (a[b][c]...): deeper keys are refused.
const maxFormDepth = 8

// parseFormKey splits "incident[components][abc]" into incident,
// components, abc; "[]" is the empty key, meaning "append".
func parseFormKey(key string) ([]string, bool) {
	i := strings.IndexByte(key, '[')
	if i < 0 {
		return []string{key}, key != ""
	}
	parts := []string{key[:i]}
	rest := key[i:]
	for rest != "" {
		if rest[0] != '[' {
			return nil, false
		}
		j := strings.IndexByte(rest, ']')
		if j < 0 {
			return nil, false
		}
		parts = append(parts, rest[1:j])
		rest = rest[j+1:]
	}
	return parts, parts[0] != "" && len(parts) <= maxFormDepth
}

// formToJSON converts a form-encoded body to JSON for target (a pointer to
// the request shape).
func formToJSON(body []byte, target any) ([]byte, error) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, incident.Errorf(incident.EINVALID, "malformed form body: send JSON or application/x-www-form-urlencoded")
	}
	if len(vals) == 0 {
		return nil, incident.Errorf(incident.EINVALID, "the request body is empty; send a JSON object or form fields")
	}
	root := &formNode{}
	// url.Values loses the keys' order; sorting keeps the result the same
	// for the same body.
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts, ok := parseFormKey(k)
		if !utf8.ValidString(k) {
			return nil, incident.Errorf(incident.EINVALID, "a form key is not valid UTF-8 text")
		}
		for _, v := range vals[k] {
			if !utf8.ValidString(v) {
				return nil, incident.Invalid(strings.Join(parts, "."), "is not valid UTF-8 text")
			}
		}
		if !ok {
			return nil, incident.Invalid(k, "is not a form key this API reads (like incident[name] or incident[components][ID])")
		}
		n := root
		for _, p := range parts {
			n = n.child(p)
		}
		n.values = append(n.values, vals[k]...)
	}
	v, err := formValue(root, reflect.TypeOf(target), "")
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

var rawMessageType = reflect.TypeOf(json.RawMessage(nil))

// formValue converts node into what JSON for type t holds; path names the
// field for errors ("incident.deliver_notifications").
func formValue(n *formNode, t reflect.Type, path string) (any, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType || t.Kind() == reflect.Interface {
		return formAny(n), nil
	}
	last := func() string {
		if len(n.values) == 0 {
			return ""
		}
		return n.values[len(n.values)-1]
	}
	switch t.Kind() {
	case reflect.Struct:
		if len(n.children) == 0 {
			return nil, incident.Invalid(path, "must be an object: send %s[field]=value", path)
		}
		fields := jsonFields(t)
		out := map[string]any{}
		for _, k := range n.order {
			c := n.children[k]
			sub := joinPath(path, k)
			ft, ok := fields[k]
			if !ok {
				out[k] = formAny(c)
				continue
			}
			v, err := formValue(c, ft, sub)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	case reflect.Map:
		out := map[string]any{}
		for _, k := range n.order {
			if k == "" {
				return nil, incident.Invalid(path, "must map keys to values: send %s[KEY]=value", path)
			}
			v, err := formValue(n.children[k], t.Elem(), joinPath(path, k))
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		if len(n.children) == 0 && last() != "" {
			return nil, incident.Invalid(path, "must map keys to values: send %s[KEY]=value", path)
		}
		return out, nil
	case reflect.Slice:
		// a[]=x&a[]=y, a=x&a=y, a=x (one), a[0]=x&a[1]=y.
		items := append([]*formNode{}, valueNodes(n.values)...)
		idx := []string{}
		for _, k := range n.order {
			if k == "" {
				items = append(items, valueNodes(n.children[k].values)...)
			} else if _, err := strconv.Atoi(k); err == nil {
				idx = append(idx, k)
			} else {
				return nil, incident.Invalid(path, "must be a list: send %s[]=value for each item", path)
			}
		}
		sort.SliceStable(idx, func(i, j int) bool { a, _ := strconv.Atoi(idx[i]); b, _ := strconv.Atoi(idx[j]); return a < b })
		for _, k := range idx {
			items = append(items, n.children[k])
		}
		out := make([]any, 0, len(items))
		for i, it := range items {
			if len(items) == 1 && len(it.values) == 1 && it.values[0] == "" && len(it.children) == 0 {
				break // a[]= sends an empty list
			}
			v, err := formValue(it, t.Elem(), path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case reflect.Bool:
		switch strings.ToLower(last()) {
		case "t", "true", "1", "on", "yes":
			return true, nil
		case "f", "false", "0", "off", "no", "":
			return false, nil
		}
		return nil, incident.Invalid(path, "must be true or false, got %q", truncate(last(), 40))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		i, err := strconv.ParseInt(strings.TrimSpace(last()), 10, 64)
		if err != nil {
			return nil, incident.Invalid(path, "must be an integer, got %q", truncate(last(), 40))
		}
		return i, nil
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(last()), 64)
		if err != nil {
			return nil, incident.Invalid(path, "must be a number, got %q", truncate(last(), 40))
		}
		return f, nil
	case reflect.String:
		if len(n.children) > 0 {
			return nil, incident.Invalid(path, "must be a string, got an object")
		}
		return last(), nil
	}
	// json.RawMessage, any: what the form holds, as text.
	return formAny(n), nil
}

// formAny is a node without a type to guide it: an object of its keys, a
// list of repeated values, or one string.
func formAny(n *formNode) any {
	if len(n.children) > 0 {
		if len(n.children) == 1 && n.order[0] == "" {
			return stringsAny(n.children[""].values)
		}
		out := map[string]any{}
		for _, k := range n.order {
			out[k] = formAny(n.children[k])
		}
		return out
	}
	if len(n.values) == 1 {
		return n.values[0]
	}
	return stringsAny(n.values)
}

func stringsAny(vs []string) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

func valueNodes(vs []string) []*formNode {
	out := make([]*formNode, len(vs))
	for i, v := range vs {
		out[i] = &formNode{values: []string{v}}
	}
	return out
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// jsonFields maps the JSON names of t's fields (embedded structs' too) to
// their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					if _, ok := out[k]; !ok {
						out[k] = v
					}
				}
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
