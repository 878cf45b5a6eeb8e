package main

import (
	"strings"
	"testing"
)

// Defects a new user met walking through the README, each against a real
// `herald serve` (SQLite in a temporary directory).

// walkNode starts a node and returns an admin's environment for it.
func walkNode(t *testing.T) (*instance, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	n := startServe(t, nil, "--data", dir)
	token := mustCLI(t, nil, "token", "create", "--role", "admin", "--data", dir).lastLine()
	return n, map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": token}
}

// TestPagesSetURLIsNotTheServer: in `pages set`, --url is the page's public
// address, while on every other command it is the server's. Typed from
// habit with HERALD_URL set, it silently pointed every message's links at
// the server; with HERALD_URL unset, the hint told the user to pass the
// --url they had just passed.
func TestPagesSetURLIsNotTheServer(t *testing.T) {
	n, env := walkNode(t)
	mustCLI(t, env, "pages", "set", "--url", "https://status.example.com")

	r := cli(t, env, "pages", "set", "--url", n.url, "--time-zone", "Europe/Budapest")
	if r.code != 2 || !strings.Contains(r.stderr, "--url "+n.url+" is the server this command talks to (from HERALD_URL)") ||
		!strings.Contains(r.stderr, "--server") {
		t.Errorf("pages set --url SERVER: exit %d, want 2 and a refusal naming --server\n%s", r.code, r.stderr)
	}
	if p := mustCLI(t, env, "pages").stdout; !strings.Contains(p, "https://status.example.com") || strings.Contains(p, "Europe/Budapest") {
		t.Errorf("the refused change changed the page:\n%s", p)
	}

	// Named with --server too, the server's address is meant: allowed.
	mustCLI(t, env, "pages", "set", "--server", n.url, "--url", n.url)
	if p := mustCLI(t, env, "pages").stdout; !strings.Contains(p, n.url) {
		t.Errorf("pages set --server URL --url URL did not set it:\n%s", p)
	}
	// The same address again changes nothing, and is not refused.
	mustCLI(t, env, "pages", "set", "--url", n.url, "--time-zone", "Europe/Budapest")

	// No server where HERALD_URL points: the hint names --server.
	r = cli(t, map[string]string{"HERALD_URL": "http://127.0.0.1:1", "HERALD_TOKEN": env["HERALD_TOKEN"]},
		"pages", "set", "--url", n.url, "--time-zone", "Europe/Budapest")
	if r.code != 1 || !strings.Contains(r.stderr, "Point --server or HERALD_URL at it") || strings.Contains(r.stderr, "Point --url") ||
		!strings.Contains(r.stderr, "(from HERALD_URL)") {
		t.Errorf("pages set with no server: exit %d\n%s", r.code, r.stderr)
	}
	// Elsewhere --url stays the server's, and the hint says so.
	r = cli(t, map[string]string{"HERALD_TOKEN": env["HERALD_TOKEN"]}, "status", "--url", "http://127.0.0.1:1")
	if r.code != 1 || !strings.Contains(r.stderr, "(from --url)") || !strings.Contains(r.stderr, "Point --url or HERALD_URL at it") {
		t.Errorf("status with no server: exit %d\n%s", r.code, r.stderr)
	}
}
