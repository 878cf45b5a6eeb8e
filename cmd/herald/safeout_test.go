package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// TestCLINeverPrintsControlCharacters points the CLI at a server whose
// answers hold terminal escapes, a bidirectional override and bytes that
// are not UTF-8 (an older herald, or a proxy in between, could send them):
// nothing reaches the terminal raw, and --json stays the same JSON.
func TestCLINeverPrintsControlCharacters(t *testing.T) {
	evil := "Pay\x1b]0;pwned\x07ments\x1b[2J \u202efdp.exe\b\x7f\u2028\xff"
	summary, err := json.Marshal(map[string]any{
		"page":       map[string]any{"id": "p1", "name": evil, "url": "https://status.example.com"},
		"status":     map[string]any{"indicator": "major", "description": evil},
		"components": []map[string]any{{"id": "c1", "name": evil, "status": "major_outage", "group": false}},
		"incidents": []map[string]any{{"id": "i1", "name": evil, "status": "investigating", "impact": "major",
			"incident_updates": []map[string]any{{"id": "u1", "status": "investigating", "body": evil, "created_at": "2026-01-01T00:00:00Z"}}}},
		"scheduled_maintenances": []any{},
	})
	if err != nil {
		t.Fatal(err)
	}
	// json.Marshal wrote the invalid byte as U+FFFD and escaped the
	// controls; put a raw invalid byte and a raw DEL and RLO back, as a
	// careless server would (JSON allows those raw).
	summary = bytes.Replace(summary, []byte(`\ufffd`), []byte("\xff"), 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v2/summary.json":
			w.Header().Set("Content-Type", "application/json")
			w.Write(summary)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":{"code":"invalid","message":"bad name ` + "\x1b[31m\u202e" + `","field":"incident.name"}}`))
		}
	}))
	defer srv.Close()
	env := func(string) string { return "" }
	check := func(t *testing.T, what string, out []byte) {
		t.Helper()
		for _, bad := range []string{"\x1b", "\x07", "\b", "\x7f", "\u202e", "\u2028", "\r"} {
			if bytes.Contains(out, []byte(bad)) {
				t.Errorf("%s holds %q raw:\n%q", what, bad, out)
			}
		}
		if !bytes.Equal(bytes.ToValidUTF8(out, nil), out) {
			t.Errorf("%s is not UTF-8: %q", what, out)
		}
	}

	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"herald", "status", "--url", srv.URL}, env, nil, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	check(t, "status", stdout.Bytes())
	if !strings.Contains(stdout.String(), `\u001b`) || !strings.Contains(stdout.String(), `\u202e`) {
		t.Errorf("the escapes should show as \\uXXXX:\n%s", stdout.String())
	}

	stdout.Reset()
	if err := run(context.Background(), []string{"herald", "status", "--json", "--url", srv.URL}, env, nil, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	check(t, "status --json", stdout.Bytes())
	var got, want any
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("--json output is no longer JSON: %v\n%s", err, stdout.String())
	}
	_ = json.Unmarshal(summary, &want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("--json changed the document:\n got %v\nwant %v", got, want)
	}

	stdout.Reset()
	stderr.Reset()
	err = run(context.Background(), []string{"herald", "declare", "--name", "x", "--url", srv.URL, "--token", "t"}, env, nil, &stdout, &stderr)
	if err == nil {
		t.Fatal("declare against a 400 succeeded")
	}
	exitCode(err, &stderr)
	check(t, "the error", stderr.Bytes())
}
