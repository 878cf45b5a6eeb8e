package sqlite

import (
	"encoding/json"
	"reflect"
	"testing"
)

var jsonFastCases = []string{
	`[]`, `{}`, `["a"]`, `["comp01","comp02","comp03"]`, `[""]`, `["a",""]`, `["ünnep","日本"]`,
	`{"tier":"enterprise","source":"crm"}`, `{"":""}`, `{"a":"1","a":"2"}`, `{"név":"érték"}`,
	// What the fast path leaves to encoding/json:
	`["a\"b"]`, `["\u003c"]`, `[ "a" ]`, `["a", "b"]`, `[1]`, `["a",]`, `[,"a"]`, `["a"`, `["a"]x`, `[a]`, `["a""b"]`,
	`{"a":1}`, `{"a":null}`, `{"a" : "b"}`, `{"a"}`, `{"a":"b",}`, `{"a":"b""c":"d"}`, `{"a\n":"b"}`, "[\"\xff\"]", "[\"a\tb\"]",
	`null`, ``, `[`, `]`, `{`, `"a"`,
}

// TestDecodeStringsMatchesJSON: where decodeStrings answers, encoding/json
// gives the same slice (both empty non-nil for []); where it does not,
// scanCustomer asks encoding/json.
func TestDecodeStringsMatchesJSON(t *testing.T) {
	fast := 0
	for _, s := range jsonFastCases {
		if checkDecodeStrings(t, s) {
			fast++
		}
	}
	if fast < 6 {
		t.Fatalf("the fast path took %d of the cases; want the 6 json.Marshal forms at least", fast)
	}
}

func TestDecodeStringMapMatchesJSON(t *testing.T) {
	fast := 0
	for _, s := range jsonFastCases {
		if checkDecodeStringMap(t, s) {
			fast++
		}
	}
	if fast < 5 {
		t.Fatalf("the fast path took %d of the cases; want the 5 json.Marshal forms at least", fast)
	}
}

// TestDecodeMarshalled: every array and object json.Marshal writes for
// plain text takes the fast path.
func TestDecodeMarshalled(t *testing.T) {
	for _, v := range [][]string{{}, {"a"}, {"comp01", "comp02", "comp03"}, {"", "x, y", "a:b", "{}", "[]"}} {
		b, _ := json.Marshal(v)
		got, ok := decodeStrings(string(b))
		if !ok || !reflect.DeepEqual(got, v) {
			t.Errorf("decodeStrings(%s) = %q, %v; want %q", b, got, ok, v)
		}
	}
	for _, v := range []map[string]string{{}, {"tier": "enterprise", "source": "crm"}, {"a,b": "c:d", "": ""}} {
		b, _ := json.Marshal(v)
		got, ok := decodeStringMap(string(b))
		if !ok || !reflect.DeepEqual(got, v) {
			t.Errorf("decodeStringMap(%s) = %q, %v; want %q", b, got, ok, v)
		}
	}
}

func checkDecodeStrings(t testing.TB, s string) bool {
	got, ok := decodeStrings(s)
	if !ok {
		return false
	}
	var want []string
	if err := json.Unmarshal([]byte(s), &want); err != nil {
		t.Fatalf("decodeStrings(%q) = %q, encoding/json refuses it: %v", s, got, err)
	}
	if !reflect.DeepEqual(got, want) || (got == nil) != (want == nil) {
		t.Fatalf("decodeStrings(%q) = %#v, encoding/json %#v", s, got, want)
	}
	return true
}

func checkDecodeStringMap(t testing.TB, s string) bool {
	got, ok := decodeStringMap(s)
	if !ok {
		return false
	}
	var want map[string]string
	if err := json.Unmarshal([]byte(s), &want); err != nil {
		t.Fatalf("decodeStringMap(%q) = %q, encoding/json refuses it: %v", s, got, err)
	}
	if !reflect.DeepEqual(got, want) || (got == nil) != (want == nil) {
		t.Fatalf("decodeStringMap(%q) = %#v, encoding/json %#v", s, got, want)
	}
	return true
}

func FuzzDecodeStrings(f *testing.F) {
	for _, s := range jsonFastCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkDecodeStrings(t, s) })
}

func FuzzDecodeStringMap(f *testing.F) {
	for _, s := range jsonFastCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkDecodeStringMap(t, s) })
}
