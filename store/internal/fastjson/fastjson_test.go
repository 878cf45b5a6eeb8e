package fastjson

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/heraldhq/herald/audience"
)

var cases = []string{
	`[]`, `{}`, `["a"]`, `["comp01","comp02","comp03"]`, `[""]`, `["a",""]`, `["ünnep","日本"]`,
	`{"tier":"enterprise","source":"crm"}`, `{"":""}`, `{"a":"1","a":"2"}`, `{"név":"érték"}`,
	// What the fast path leaves to encoding/json:
	`["a\"b"]`, `["\u003c"]`, `[ "a" ]`, `["a", "b"]`, `[1]`, `["a",]`, `[,"a"]`, `["a"`, `["a"]x`, `[a]`, `["a""b"]`,
	`{"a":1}`, `{"a":null}`, `{"a" : "b"}`, `{"a"}`, `{"a":"b",}`, `{"a":"b""c":"d"}`, `{"a\n":"b"}`, "[\"\xff\"]", "[\"a\tb\"]",
	`null`, ``, `[`, `]`, `{`, `"a"`, `[]]`, `{}}`,
}

// customerCases are customer documents: what json.Marshal writes, and
// near misses.
var customerCases = []string{
	`{}`,
	`{"id":"c1","page_id":"p1","name":"Ügyfél","phone":"+36201234567","email":"a@example.com","slack":"","language":"hu","time_zone":"Europe/Budapest","plan":"gold","region":"eu","components":["x","y"],"attributes":{"tier":"smb"},"created_at":"2026-12-04T10:00:00.123Z","updated_at":"2026-12-04T10:00:01Z"}`,
	`{"id":"c2","components":null,"attributes":null}`,
	`{"id":"c3","components":[],"attributes":{}}`,
	`{"created_at":"2026-12-04T10:00:00+02:00"}`,
	// Left to encoding/json:
	`{"ID":"c1"}`, `{"id":"c1","id":"c2"}`, `{"attributes":{"a":"b"},"attributes":{"c":"d"}}`, `{"id":null}`, `{"id":1}`,
	`{"created_at":"yesterday"}`, `{"created_at":null}`, `{"components":"x"}`, `{"id":"c1",}`, `{"id":"c1"} `, `{"other":"x"}`,
	`{"attributes":{"a":1}}`, `{"components":["a",1]}`, `{"id":"a\u0041"}`,
}

func TestStringsMatchJSON(t *testing.T) {
	fast := 0
	for _, s := range cases {
		if checkStrings(t, s) {
			fast++
		}
	}
	if fast < 6 {
		t.Fatalf("the fast path took %d of the cases; want the 6 json.Marshal arrays at least", fast)
	}
}

func TestStringMapMatchJSON(t *testing.T) {
	fast := 0
	for _, s := range cases {
		if checkStringMap(t, s) {
			fast++
		}
	}
	if fast < 5 {
		t.Fatalf("the fast path took %d of the cases; want the 5 json.Marshal objects at least", fast)
	}
}

func TestCustomerMatchJSON(t *testing.T) {
	fast := 0
	for _, s := range customerCases {
		if checkCustomer(t, s) {
			fast++
		}
	}
	if fast != 5 {
		t.Fatalf("the fast path took %d of the cases; want the first 5", fast)
	}
}

// TestMarshalled: whatever json.Marshal writes for plain text takes the
// fast path.
func TestMarshalled(t *testing.T) {
	for _, v := range [][]string{{}, {"a"}, {"comp01", "comp02", "comp03"}, {"", "x, y", "a:b", "{}", "[]"}} {
		b, _ := json.Marshal(v)
		if got, ok := Strings(string(b)); !ok || !reflect.DeepEqual(got, v) {
			t.Errorf("Strings(%s) = %q, %v; want %q", b, got, ok, v)
		}
	}
	for _, v := range []map[string]string{{}, {"tier": "enterprise", "source": "crm"}, {"a,b": "c:d", "": ""}} {
		b, _ := json.Marshal(v)
		if got, ok := StringMap(string(b)); !ok || !reflect.DeepEqual(got, v) {
			t.Errorf("StringMap(%s) = %q, %v; want %q", b, got, ok, v)
		}
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, v := range []audience.Customer{
		{ID: "c1", PageID: "p1", CreatedAt: now, UpdatedAt: now},
		{ID: "c2", PageID: "p1", Name: "Kovács Éva", Phone: "+36201234567", Email: "eva@example.com", Slack: "U123", Language: "hu",
			TimeZone: "Europe/Budapest", Plan: "gold", Region: "eu", Components: []string{"a", "b"},
			Attributes: map[string]string{"tier": "enterprise", "source": "crm"}, CreatedAt: now, UpdatedAt: now.Add(time.Second)},
	} {
		b, _ := json.Marshal(v)
		var got audience.Customer
		if !Customer(string(b), &got) || !reflect.DeepEqual(got, v) {
			t.Errorf("Customer(%s) = %+v; want %+v", b, got, v)
		}
	}
}

func checkStrings(t testing.TB, s string) bool {
	got, ok := Strings(s)
	if !ok {
		return false
	}
	var want []string
	if err := json.Unmarshal([]byte(s), &want); err != nil {
		t.Fatalf("Strings(%q) = %q; encoding/json refuses it: %v", s, got, err)
	}
	if !reflect.DeepEqual(got, want) || (got == nil) != (want == nil) {
		t.Fatalf("Strings(%q) = %#v; encoding/json %#v", s, got, want)
	}
	return true
}

func checkStringMap(t testing.TB, s string) bool {
	got, ok := StringMap(s)
	if !ok {
		return false
	}
	var want map[string]string
	if err := json.Unmarshal([]byte(s), &want); err != nil {
		t.Fatalf("StringMap(%q) = %q; encoding/json refuses it: %v", s, got, err)
	}
	if !reflect.DeepEqual(got, want) || (got == nil) != (want == nil) {
		t.Fatalf("StringMap(%q) = %#v; encoding/json %#v", s, got, want)
	}
	return true
}

func checkCustomer(t testing.TB, s string) bool {
	var got audience.Customer
	if !Customer(s, &got) {
		return false
	}
	var want audience.Customer
	if err := json.Unmarshal([]byte(s), &want); err != nil {
		t.Fatalf("Customer(%q) = %+v; encoding/json refuses it: %v", s, got, err)
	}
	// Times with an offset get a new *Location on each parse: compare
	// them as instants and zones, the rest as values.
	for _, p := range [][2]*time.Time{{&got.CreatedAt, &want.CreatedAt}, {&got.UpdatedAt, &want.UpdatedAt}} {
		gn, gOff := p[0].Zone()
		wn, wOff := p[1].Zone()
		if !p[0].Equal(*p[1]) || gn != wn || gOff != wOff {
			t.Fatalf("Customer(%q): time %s; encoding/json %s", s, p[0], p[1])
		}
		*p[0], *p[1] = time.Time{}, time.Time{}
	}
	if !reflect.DeepEqual(got, want) || (got.Components == nil) != (want.Components == nil) || (got.Attributes == nil) != (want.Attributes == nil) {
		t.Fatalf("Customer(%q) = %#v; encoding/json %#v", s, got, want)
	}
	return true
}

func FuzzStrings(f *testing.F) {
	for _, s := range cases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkStrings(t, s) })
}

func FuzzStringMap(f *testing.F) {
	for _, s := range cases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkStringMap(t, s) })
}

func FuzzCustomer(f *testing.F) {
	for _, s := range customerCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkCustomer(t, s) })
}
