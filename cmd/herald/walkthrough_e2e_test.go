package main

import (
	"regexp"
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

// TestFixedValuesExit2: a value outside a flag's or an argument's fixed
// list is a command-line mistake (exit 2, the values there are listed,
// nothing sent), as the README says; these went to the server and came
// back as an HTTP 400, exit 1, and compensation's listed none_yet, which
// no decision may choose.
func TestFixedValuesExit2(t *testing.T) {
	_, env := walkNode(t)
	mustCLI(t, env, "components", "create", "--name", "Payments")
	inc := strings.TrimSpace(mustCLI(t, env, "declare", "-q", "--name", "Logins slow", "--component", "Payments=degraded_performance", "--message", "x").stdout)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"compensation", "decide", inc, "--state", "maybe"}, `invalid value "maybe" for --state: want one of coming, decided, none`},
		{[]string{"complaints", "list", "--state", "opn"}, `"opn" is not one of new, acknowledged, in_progress, waiting_on_customer, resolved, closed`},
		{[]string{"complaints", "list", "--state", "new,opn"}, `"opn" is not one of`},
		{[]string{"complaints", "list", "--channel", "fax"}, `invalid value "fax" for --channel: want one of sms, email, slack, web, phone, api`},
		{[]string{"complaints", "state", "C-ABCD", "done"}, `unknown STATE "done": want one of acknowledged, in_progress, waiting_on_customer, closed`},
		{[]string{"complaints", "state", "C-ABCD", "resolved"}, `herald complaints resolve ID --remedy R --outcome TEXT`},
		{[]string{"complaints", "record", "--phone", "+36301234567", "--text", "x", "--channel", "fax"}, `invalid value "fax" for --channel`},
		{[]string{"subscribers", "--type", "fax"}, `invalid value "fax" for --type`},
		{[]string{"subscribers", "--state", "gone"}, `invalid value "gone" for --state`},
	} {
		r := cli(t, env, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) || strings.Contains(r.stderr, "HTTP") {
			t.Errorf("herald %s: exit %d, want 2 and %q\n%s", strings.Join(c.args, " "), r.code, c.want, r.stderr)
		}
	}
	if h := mustCLI(t, env, "compensation", "decide", "-h").stderr; strings.Contains(h, "none_yet") || !strings.Contains(h, "coming, decided, none") {
		t.Errorf("compensation decide -h:\n%s", h)
	}
	// The values listed are the ones taken.
	mustCLI(t, env, "complaints", "list", "--state", "new,closed", "--channel", "sms")
	mustCLI(t, env, "subscribers", "--state", "all", "--type", "email")
}

// TestTimesInThePagesZone: after `pages set --time-zone`, the CLI's times
// are the page's, named, as the README says; complaints show printed the
// tag's "since 12:16 CET" beside a timeline and due times in UTC, and
// the lists' heads said (UTC).
func TestTimesInThePagesZone(t *testing.T) {
	_, env := walkNode(t)
	mustCLI(t, env, "pages", "set", "--time-zone", "Asia/Tokyo") // JST all year: no summer time to reckon with
	mustCLI(t, env, "components", "create", "--name", "Payments")
	inc := strings.TrimSpace(mustCLI(t, env, "declare", "-q", "--name", "Card payments fail", "--component", "Payments=major_outage", "--message", "x").stdout)
	call := strings.TrimSpace(mustCLI(t, env, "complaints", "record", "-q", "--phone", "+36 30 999 9999", "--name", "Walk-in", "--text", "Payments fail").stdout)
	for _, args := range [][]string{
		{"complaints", "show", call},
		{"complaints"},
		{"broadcast", "list", inc},
		{"status"},
	} {
		out := mustCLI(t, env, args...).stdout
		if !strings.Contains(out, " JST") || strings.Contains(out, "UTC") {
			t.Errorf("herald %s: times not in the page's zone, named:\n%s", strings.Join(args, " "), out)
		}
	}
}

// TestUntranslatedMessageIsNoted: on a page in several languages, a
// declaration or update with --message alone tells the manager which
// readers get it as written (a Hungarian customer read the English text,
// and nobody had been warned); with every language given, or under -q,
// nothing is said.
func TestUntranslatedMessageIsNoted(t *testing.T) {
	_, env := walkNode(t)
	mustCLI(t, env, "components", "create", "--name", "Payments")
	page := struct{ Languages []string }{[]string{"en", "hu", "pl", "hr"}} // a new page's
	r := mustCLI(t, env, "declare", "--name", "Card payments fail", "--component", "Payments=major_outage", "--message", "Investigating.")
	id := regexp.MustCompile(`declared (\S+)`).FindStringSubmatch(r.stdout)
	if !strings.Contains(r.stderr, "note: readers of ") || !strings.Contains(r.stderr, "--message-"+page.Languages[1]) {
		t.Errorf("declare with --message alone: stderr %q; want a note naming the readers and --message-%s", r.stderr, page.Languages[1])
	}
	if id == nil {
		t.Fatalf("declare printed no ID:\n%s", r.stdout)
	}
	all := []string{"update", id[1], "--message", "Identified."}
	for _, lang := range page.Languages[1:] {
		all = append(all, "--message-"+lang, "x")
	}
	if r := mustCLI(t, env, all...); strings.Contains(r.stderr, "note:") {
		t.Errorf("update with every language's text: stderr %q; want no note", r.stderr)
	}
	if r := mustCLI(t, env, "update", "-q", id[1], "--message", "Monitoring."); strings.Contains(r.stderr, "note:") {
		t.Errorf("update -q: stderr %q; want no note", r.stderr)
	}
	if r := mustCLI(t, env, "update", id[1], "--message", "Monitoring again."); !strings.Contains(r.stderr, "note: readers of ") {
		t.Errorf("update with --message alone: stderr %q; want the note", r.stderr)
	}
}
