package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/heraldhq/herald/internal/syncbuf"
	"github.com/heraldhq/herald/node"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// These tests drive run in-process, as main does: `serve` on 127.0.0.1:0
// with a temporary data directory, then the CLI verbs against it.

// instance is one running `herald serve`.
type instance struct {
	url string
	log *syncbuf.Buffer
	// twilioToken signs inbound Twilio webhooks: the sandbox's, drawn at
	// random by every start ("" with a configured provider).
	twilioToken string
	// slackSecret signs inbound Slack requests: the sandbox workspace's,
	// random per start too.
	slackSecret string
}

// startServe runs `herald serve --addr 127.0.0.1:0 ARGS...` until the test
// ends, waits until /healthz and /readyz answer, and checks that it shuts down cleanly.
func startServe(t *testing.T, env map[string]string, args ...string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := &syncbuf.Buffer{}
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var twilioToken, slackSecret string
	a := &app{getenv: envMap(env), stdin: strings.NewReader(""), stdout: log, stderr: log,
		ready: func(addr string) { ready <- addr },
		started: func(nd *node.Node) {
			if nd.Sandbox != nil {
				twilioToken, slackSecret = nd.Sandbox.Config().AuthToken, nd.Sandbox.Config().SlackSigningSecret
			}
		}}
	go func() {
		done <- a.run(ctx, append([]string{"herald", "serve", "--addr", "127.0.0.1:0", "--shutdown-timeout", "5s"}, args...))
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve exited early: %v\n%s", err, log)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("serve did not start in 30s\n%s", log)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v\n%s", err, log)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("serve did not stop within 15s of its context ending")
		}
	})
	n := &instance{url: "http://" + addr, log: log, twilioToken: twilioToken, slackSecret: slackSecret}
	// /healthz says the process is up; /readyz also that the store answers
	// and the status page has been rendered.
	for _, path := range []string{"/healthz", "/readyz"} {
		eventually(t, 10*time.Second, func() (bool, string) {
			code, body := get(t, n.url+path)
			return code == http.StatusOK, fmt.Sprintf("%s: %d %s", path, code, body)
		})
	}
	return n
}

// result is what one CLI run printed and its exit status.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) lastLine() string {
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// cli runs `herald ARGS...` in-process with env as its whole environment.
func cli(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := run(ctx, append([]string{"herald"}, args...), envMap(env), strings.NewReader(""), &stdout, &stderr)
	code := exitCode(err, &stderr)
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// mustCLI runs the CLI and fails the test unless it exits 0.
func mustCLI(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	r := cli(t, env, args...)
	if r.code != 0 {
		t.Fatalf("herald %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

var testHTTP = &http.Client{Timeout: 10 * time.Second}

// send sends a request the test built (its headers set) and returns the
// status and the body; a request that gets no answer fails the test.
func send(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := testHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := testHTTP.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// eventually polls cond until it holds or the deadline passes; the page is
// re-rendered asynchronously after each change.
func eventually(t *testing.T, within time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// v2Summary is the part of /api/v2/summary.json the tests read.
type v2Summary struct {
	Page struct {
		ID string `json:"id"`
	} `json:"page"`
	Status struct {
		Indicator   string `json:"indicator"`
		Description string `json:"description"`
	} `json:"status"`
	Components []struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Status string `json:"status"`
	} `json:"components"`
	Incidents []struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Status  string `json:"status"`
		Impact  string `json:"impact"`
		Updates []struct {
			Body string `json:"body"`
		} `json:"incident_updates"`
	} `json:"incidents"`
	Maintenances []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"scheduled_maintenances"`
}

// pageIDOf returns the ID of the page n serves, from its summary.json.
func pageIDOf(t *testing.T, n *instance) string {
	t.Helper()
	s, body := summaryOf(t, n)
	if s.Page.ID == "" {
		t.Fatalf("no page in summary.json: %s", body)
	}
	return s.Page.ID
}

func summaryOf(t *testing.T, n *instance) (v2Summary, string) {
	t.Helper()
	var s v2Summary
	code, body := get(t, n.url+"/api/v2/summary.json")
	if code != http.StatusOK {
		return s, fmt.Sprintf("summary.json: %d %s", code, body)
	}
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("summary.json: %v\n%s", err, body)
	}
	return s, body
}

func (s v2Summary) component(name string) string {
	for _, c := range s.Components {
		if c.Name == name {
			return c.Status
		}
	}
	return ""
}

// incidentStatus returns the status of an open incident, "" when not listed.
func (s v2Summary) incidentStatus(id string) string {
	for _, inc := range s.Incidents {
		if inc.ID == id {
			return inc.Status
		}
	}
	return ""
}

func (s v2Summary) maintenanceStatus(id string) string {
	for _, m := range s.Maintenances {
		if m.ID == id {
			return m.Status
		}
	}
	return ""
}

// declaredID reads the incident ID from declare's first line,
// `declared ID "NAME": STATUS, impact IMPACT`.
func declaredID(t *testing.T, r result) string {
	t.Helper()
	f := strings.Fields(r.stdout)
	if len(f) < 2 || f[0] != "declared" {
		t.Fatalf("declare printed %q", r.stdout)
	}
	return f[1]
}

func TestServeAndCLI(t *testing.T) {
	dir := t.TempDir()
	n := startServe(t, nil, "--data", dir)
	if !strings.Contains(n.log.String(), "no API tokens yet") {
		t.Errorf("serve did not tell the newcomer how to get a token:\n%s", n.log)
	}

	// Bootstrap: a token straight from the store, while serve has it open.
	tok := mustCLI(t, nil, "token", "create", "--role", "admin", "--name", "e2e", "--data", dir)
	token := tok.lastLine()
	if !strings.HasPrefix(token, "hrld_") {
		t.Fatalf("token create's last line is %q, want the token", token)
	}
	if strings.Contains(n.log.String(), token) {
		t.Fatal("the token reached the server log")
	}
	env := map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": token}

	mustCLI(t, env, "components", "create", "--name", "Payments")
	mustCLI(t, env, "components", "create", "--name", "Checkout")
	if r := mustCLI(t, env, "components"); !strings.Contains(r.stdout, "Payments") || !strings.Contains(r.stdout, "Checkout") {
		t.Fatalf("components list: %s", r.stdout)
	}

	r := mustCLI(t, env, "declare", "--name", "Payments are failing", "--impact", "major",
		"--component", "payments=major_outage", "--message", "We are investigating failed card payments.")
	id := declaredID(t, r)
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 2 || lines[1] != n.url+"/incidents/"+id {
		t.Fatalf("declare should print the incident and its public URL, got %q", r.stdout)
	}

	t.Run("declared incident is public", func(t *testing.T) {
		eventually(t, 5*time.Second, func() (bool, string) {
			s, body := summaryOf(t, n)
			return s.incidentStatus(id) == "investigating" && s.component("Payments") == "major_outage" &&
				s.Status.Indicator == "critical", body
		})
		eventually(t, 5*time.Second, func() (bool, string) {
			code, body := get(t, n.url+"/")
			return code == http.StatusOK && strings.Contains(body, "Payments are failing"), fmt.Sprintf("/: %d", code)
		})
		code, body := get(t, n.url+"/incidents/"+id)
		if code != http.StatusOK || !strings.Contains(body, "We are investigating failed card payments.") {
			t.Fatalf("/incidents/%s: %d", id, code)
		}
		st := mustCLI(t, env, "status")
		if !strings.Contains(st.stdout, "Payments are failing") || !strings.Contains(st.stdout, "Payments  major outage") || strings.Contains(st.stdout, "major_outage") {
			t.Fatalf("status: %s", st.stdout)
		}
	})

	t.Run("update", func(t *testing.T) {
		// Flags after the positional argument, as people type them.
		mustCLI(t, env, "update", id, "--status", "identified", "--message", "A bad deploy; rolling back.")
		eventually(t, 5*time.Second, func() (bool, string) {
			s, body := summaryOf(t, n)
			return s.incidentStatus(id) == "identified", body
		})
	})

	t.Run("idempotent declare", func(t *testing.T) {
		args := []string{"declare", "-q", "--name", "Checkout is slow", "--component", "Checkout=degraded_performance", "--idempotency-key", "e2e-1"}
		first, second := mustCLI(t, env, args...), mustCLI(t, env, args...)
		if first.lastLine() == "" || first.lastLine() != second.lastLine() {
			t.Fatalf("same key, different incidents: %q and %q", first.stdout, second.stdout)
		}
		mustCLI(t, env, "resolve", first.lastLine())
		eventually(t, 5*time.Second, func() (bool, string) {
			s, body := summaryOf(t, n)
			return s.incidentStatus(first.lastLine()) == "", body
		})
	})

	t.Run("bad input", func(t *testing.T) {
		tests := []struct {
			name string
			env  map[string]string
			args []string
			code int
			want string // in stderr
		}{
			{"unknown impact", env, []string{"declare", "--name", "x", "--impact", "huge"}, 2, `invalid value "huge" for --impact`},
			{"declared resolved", env, []string{"declare", "--name", "x", "--status", "resolved"}, 2, "want one of investigating, identified, monitoring"},
			{"unknown component", env, []string{"declare", "--name", "x", "--component", "ledger=major_outage"}, 1, `"ledger"`},
			{"unknown component status", env, []string{"declare", "--name", "x", "--component", "payments=exploded"}, 2, "exploded"},
			{"name missing", env, []string{"declare", "--message", "m"}, 2, "--name is required"},
			{"unknown flag", env, []string{"declare", "--nmae", "x"}, 2, "nmae"},
			{"incident missing", env, []string{"update", "--status", "identified"}, 2, "missing INCIDENT"},
			{"no such incident", env, []string{"update", "zzzzzzzzzzzz", "--status", "identified"}, 1, "not_found"},
			{"wrong lifecycle", env, []string{"update", id, "--status", "in_progress"}, 1, "status"},
			{"no token", map[string]string{"HERALD_URL": n.url}, []string{"declare", "--name", "x"}, 1, "unauthorized"},
			{"bad token", map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": "hrld_nope"}, []string{"pages"}, 1, "unauthorized"},
			{"no server", map[string]string{"HERALD_URL": "http://127.0.0.1:1", "HERALD_TOKEN": token}, []string{"pages"}, 1, "cannot reach"},
			{"bad role", nil, []string{"token", "create", "--role", "root", "--data", dir}, 2, "--role"},
			{"unknown command", nil, []string{"explode"}, 2, "unknown command"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := cli(t, tt.env, tt.args...)
				if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
					t.Fatalf("exit %d (want %d), stderr %q (want %q in it)", r.code, tt.code, r.stderr, tt.want)
				}
			})
		}
		// The failed attempts changed nothing: ask the store, through the
		// management API, rather than the page, which renders asynchronously.
		var open []struct {
			ID string `json:"id"`
		}
		s, _ := summaryOf(t, n)
		if code, _ := apiDo(t, n, token, http.MethodGet, "/v1/pages/"+s.Page.ID+"/incidents/unresolved", nil, &open); code != http.StatusOK || len(open) != 1 || open[0].ID != id {
			t.Fatalf("want only incident %s open, got %d %v", id, code, open)
		}
	})

	t.Run("resolve", func(t *testing.T) {
		r := mustCLI(t, env, "resolve", id, "--message", "Payments work again.")
		if !strings.HasPrefix(r.stdout, "resolved "+id) {
			t.Fatalf("resolve printed %q", r.stdout)
		}
		eventually(t, 5*time.Second, func() (bool, string) {
			s, body := summaryOf(t, n)
			return len(s.Incidents) == 0 && s.component("Payments") == "operational" && s.Status.Indicator == "none", body
		})
		if st := mustCLI(t, env, "status"); !strings.Contains(st.stdout, "All Systems Operational") {
			t.Fatalf("status: %s", st.stdout)
		}
	})

	t.Run("maintenance", func(t *testing.T) {
		r := mustCLI(t, env, "maintenance", "schedule", "-q", "--name", "Database upgrade", "--start", "now", "--duration", "1h",
			"--component", "Payments", "--message", "Payments may be slow.", "--message-hu", "A fizetés lassú lehet.")
		mid := r.lastLine()
		// Its announcement in Hungarian for Hungarian readers.
		eventually(t, 5*time.Second, func() (bool, string) {
			code, body := get(t, n.url+"/incidents/"+mid+"?lang=hu")
			return code == http.StatusOK && strings.Contains(body, "A fizetés lassú lehet."), fmt.Sprintf("%d", code)
		})
		// serve's ticker starts it within about a second.
		eventually(t, 10*time.Second, func() (bool, string) {
			s, body := summaryOf(t, n)
			return s.maintenanceStatus(mid) == "in_progress", body
		})
		if l := mustCLI(t, env, "maintenance", "list"); !strings.Contains(l.stdout, mid) || !strings.Contains(l.stdout, "in_progress") {
			t.Fatalf("maintenance list: %s", l.stdout)
		} else if !regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d UTC\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC`).MatchString(l.stdout) || regexp.MustCompile(`\dT\d\d:`).MatchString(l.stdout) {
			// The window as the other lists write times (shortTime).
			t.Errorf("maintenance list times, want 2006-01-02 15:04 UTC:\n%s", l.stdout)
		}
		mustCLI(t, env, "maintenance", "complete", mid, "--message", "Done.")
		eventually(t, 5*time.Second, func() (bool, string) {
			s, body := summaryOf(t, n)
			return s.maintenanceStatus(mid) == "" && s.Status.Indicator == "none", body
		})
	})

	t.Run("tokens", func(t *testing.T) {
		mgr := mustCLI(t, nil, "token", "create", "--role", "manager", "--data", dir).lastLine()
		list := mustCLI(t, nil, "token", "list", "--data", dir)
		if !strings.Contains(list.stdout, "e2e") || !strings.Contains(list.stdout, "manager") || strings.Contains(list.stdout, "hrld_") {
			t.Fatalf("token list: %s", list.stdout)
		}
		var mgrID string
		for _, line := range strings.Split(list.stdout, "\n") {
			if f := strings.Fields(line); len(f) > 2 && f[2] == "manager" {
				mgrID = f[0]
			}
		}
		menv := map[string]string{"HERALD_URL": n.url, "HERALD_TOKEN": mgr}
		mustCLI(t, menv, "pages")
		mustCLI(t, nil, "token", "revoke", mgrID, "--data", dir)
		if r := cli(t, menv, "pages"); r.code != 1 || !strings.Contains(r.stderr, "unauthorized") {
			t.Fatalf("a revoked token still works: exit %d %s", r.code, r.stderr)
		}
		// Pointed at no store (an operator on Redis who forgot --redis):
		// list and revoke say so and make nothing; create says where the
		// token went.
		elsewhere := filepath.Join(t.TempDir(), "nothing-here")
		for _, args := range [][]string{{"token", "list", "--data", elsewhere}, {"token", "revoke", mgrID, "--data", elsewhere}} {
			if r := cli(t, nil, args...); r.code != 1 || !strings.Contains(r.stderr, "no herald store at "+elsewhere) {
				t.Errorf("%v: exit %d %s", args, r.code, r.stderr)
			}
		}
		if _, err := os.Stat(elsewhere); !os.IsNotExist(err) {
			t.Errorf("list or revoke made a store at %s: %v", elsewhere, err)
		}
		if r := mustCLI(t, nil, "token", "create", "--role", "agent", "--data", elsewhere); !strings.Contains(r.stderr, "there was no herald store at") {
			t.Errorf("a token made in a new store says nothing: %s", r.stderr)
		}
		// herald knows people by name: a second token under a name in use
		// (in any case) says so, on stderr, and the secret stays last.
		first := mustCLI(t, nil, "token", "create", "--role", "agent", "--name", "Dana", "--data", dir)
		if first.stderr != "" {
			t.Errorf("the first token named Dana: %s", first.stderr)
		}
		second := mustCLI(t, nil, "token", "create", "--role", "agent", "--name", "dana", "--data", dir)
		if !strings.Contains(second.stderr, `"dana" already has a token`) || !strings.Contains(second.stderr, "act as the same person") ||
			!strings.HasPrefix(second.lastLine(), "hrld_") {
			t.Errorf("a second token named dana:\nstdout: %s\nstderr: %s", second.stdout, second.stderr)
		}
	})
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		out  string // in stdout or stderr
	}{
		{[]string{}, 2, "Usage: herald COMMAND"},
		{[]string{"help"}, 0, "Commands:"},
		{[]string{"help"}, 0, "  compensation  decide compensation"}, // the longest name keeps a gap
		{[]string{"maintenance", "schedule", "-h"}, 0, "a DURATION like 90m or 2h (instead of --end)\n"},
		{[]string{"help", "declare"}, 0, "--component"},
		{[]string{"declare", "-h"}, 0, "Usage: herald declare"},
		{[]string{"serve", "-h"}, 0, "HERALD_DATA_DIR"},
		{[]string{"token"}, 2, "create|list|revoke"},
		{[]string{"maintenance", "postpone"}, 2, "unknown maintenance verb"},
		{[]string{"declre"}, 2, `unknown command "declre": did you mean "declare"?`},
		{[]string{"complaints", "lsit"}, 2, `did you mean "list"?`},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"update", "-h"}, 0, "a maintenance's: scheduled, in_progress, verifying, completed"},
		{[]string{"version"}, 0, "herald"},
		{[]string{"serve", "extra"}, 2, "unexpected argument"},
		{[]string{"serve", "--addr", "nope"}, 1, "addr"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, "_"), func(t *testing.T) {
			r := cli(t, nil, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, tt.out) {
				t.Fatalf("exit %d (want %d); output:\n%s%s", r.code, tt.code, r.stdout, r.stderr)
			}
		})
	}
}

// onEachEngine runs test as a subtest per engine: SQLite in a temporary
// data directory, and Redis under a fresh key prefix (failing under CI
// when Redis is missing). storeArgs are the serve and token flags of the
// engine; dir is a temporary directory for files the test writes.
func onEachEngine(t *testing.T, test func(t *testing.T, dir string, storeArgs []string)) {
	for _, engine := range []string{"sqlite", "redis"} {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			storeArgs := []string{"--data", dir}
			if engine == "redis" {
				prefix := needRedis(t)
				storeArgs = []string{"--redis", testRedisURL, "--redis-prefix", prefix}
			}
			test(t, dir, storeArgs)
		})
	}
}
