package node

import (
	"context"
	"log/slog"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/incident"
)

const examplePath = "../configs/herald.example.yaml"

func TestExampleConfig(t *testing.T) {
	b, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)

	t.Run("parses into the defaults", func(t *testing.T) {
		c := DefaultConfig()
		c.Addr = "changed:1" // proves the file sets it
		if err := c.LoadFile(examplePath); err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		if want := DefaultConfig(); !reflect.DeepEqual(c, want) {
			t.Fatalf("example file does not show the defaults:\n got %+v\nwant %+v", c, want)
		}
	})
	t.Run("documents every setting", func(t *testing.T) {
		var c Config
		for _, s := range c.Settings() {
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(s.Key) + `:`).MatchString(text) {
				t.Errorf("key %s missing from %s", s.Key, examplePath)
			}
			if !strings.Contains(text, s.Env) {
				t.Errorf("variable %s missing from %s", s.Env, examplePath)
			}
			if s.Flag != "" && !strings.Contains(text, "--"+s.Flag) {
				t.Errorf("flag --%s missing from %s", s.Flag, examplePath)
			}
		}
	})
	t.Run("documents every provider variable", func(t *testing.T) {
		var p Providers
		for _, v := range p.vars() {
			if !regexp.MustCompile(`(?m)^#\s+` + regexp.QuoteMeta(v.env) + `\s`).MatchString(text) {
				t.Errorf("provider variable %s missing from %s", v.env, examplePath)
			}
		}
		// Every field of Providers has a variable: a field added without one
		// could never be set.
		if n, m := reflect.TypeOf(p).NumField(), len(p.vars()); n != m {
			t.Errorf("Providers has %d fields but %d variables", n, m)
		}
	})
	t.Run("every Config field is a setting", func(t *testing.T) {
		var c Config
		// All fields but Providers, Broadcast, Complaints, Surveys, Email,
		// Slack and Console are settings, and every field of those but
		// Providers is one.
		n := reflect.TypeOf(c).NumField() - 7 + reflect.TypeOf(c.Broadcast).NumField() + reflect.TypeOf(c.Complaints).NumField() +
			reflect.TypeOf(c.Surveys).NumField() + reflect.TypeOf(c.Email).NumField() + reflect.TypeOf(c.Slack).NumField() +
			reflect.TypeOf(c.Console).NumField()
		if m := len(c.Settings()); n != m {
			t.Errorf("Config has %d setting fields but %d settings", n, m)
		}
	})
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int
		bad  bool
	}{
		{"65536", 65536, false},
		{"64KiB", 64 << 10, false},
		{"1MiB", 1 << 20, false},
		{"1MB", 1000000, false},
		{"512k", 512 << 10, false},
		{"2 MiB", 2 << 20, false},
		{"0", 0, true},
		{"-1", 0, true},
		{"big", 0, true},
		{"99999GiB", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSize(tt.in)
			if (err != nil) != tt.bad || got != tt.want {
				t.Fatalf("parseSize(%q) = %d, %v", tt.in, got, err)
			}
		})
	}
}

func TestPublicURL(t *testing.T) {
	tests := []struct{ configured, listen, want string }{
		{"", "127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"", "0.0.0.0:8080", "http://localhost:8080"},
		{"", "[::]:8080", "http://localhost:8080"},
		{"https://status.example.com/", "0.0.0.0:8080", "https://status.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.listen+tt.configured, func(t *testing.T) {
			c := Config{PublicURL: tt.configured}
			if got := c.PublicURLFor(tt.listen); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestComplaintSettings(t *testing.T) {
	env := map[string]string{"HERALD_COMPLAINT_FIRST_ANSWER": "1h", "HERALD_COMPLAINT_RESOLVE": "8h", "HERALD_COMPLAINT_WARN_BEFORE": "15m",
		"HERALD_COMPLAINT_REPEAT_WINDOW": "168h", "HERALD_COMPLAINT_ATTACH_WINDOW": "5m", "HERALD_COMPLAINT_TAG_THRESHOLD": "0.7",
		"HERALD_COMPLAINT_AGENTS": " dora, ed ,,fay "}
	c := DefaultConfig()
	if err := c.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	p := c.Complaints.Policy()
	if p.Default.FirstAnswer != time.Hour || p.Default.Resolve != 8*time.Hour || p.WarnBefore != 15*time.Minute ||
		p.RepeatWindow != 168*time.Hour || p.AttachWindow != 5*time.Minute || p.Threshold != 0.7 || p.RepeatFactor != 0.5 {
		t.Errorf("policy %+v", p)
	}
	if got := c.Complaints.OnDuty(); !reflect.DeepEqual(got, []string{"dora", "ed", "fay"}) {
		t.Errorf("on duty %q", got)
	}
	for _, tc := range []struct{ key, value string }{
		{"HERALD_COMPLAINT_TAG_THRESHOLD", "1.5"}, {"HERALD_COMPLAINT_RESOLVE", "soon"}, {"HERALD_COMPLAINT_FIRST_ANSWER", "-1h"},
	} {
		c := DefaultConfig()
		if err := c.LoadEnv(func(k string) string { return map[string]string{tc.key: tc.value}[k] }); err == nil {
			t.Errorf("%s=%s accepted", tc.key, tc.value)
		}
	}
	c = DefaultConfig()
	c.Complaints.FirstAnswer = 72 * time.Hour
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "complaint_first_answer") {
		t.Errorf("first answer after the resolution: %v", err)
	}
}

func TestConnectionSettings(t *testing.T) {
	c := DefaultConfig()
	if c.MaxConns != 0 || c.MaxConnsPerClient != 256 || c.MaxEventStreams != 10000 || c.MaxEventStreamsPerClient != 8 {
		t.Fatalf("defaults %d %d %d %d", c.MaxConns, c.MaxConnsPerClient, c.MaxEventStreams, c.MaxEventStreamsPerClient)
	}
	env := map[string]string{"HERALD_MAX_CONNS": "5000", "HERALD_MAX_CONNS_PER_CLIENT": " 64 ",
		"HERALD_MAX_EVENT_STREAMS": "2000", "HERALD_MAX_EVENT_STREAMS_PER_CLIENT": "2"}
	if err := c.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.MaxConns != 5000 || c.MaxConnsPerClient != 64 || c.MaxEventStreams != 2000 || c.MaxEventStreamsPerClient != 2 {
		t.Fatalf("from the environment: %d %d %d %d", c.MaxConns, c.MaxConnsPerClient, c.MaxEventStreams, c.MaxEventStreamsPerClient)
	}
	for _, tc := range []struct{ key, value string }{
		{"HERALD_MAX_CONNS", "-1"}, {"HERALD_MAX_CONNS", "many"}, {"HERALD_MAX_CONNS_PER_CLIENT", "0"},
		{"HERALD_MAX_EVENT_STREAMS", "0"}, {"HERALD_MAX_EVENT_STREAMS_PER_CLIENT", "1.5"},
	} {
		c := DefaultConfig()
		if err := c.LoadEnv(func(k string) string { return map[string]string{tc.key: tc.value}[k] }); err == nil {
			t.Errorf("%s=%s accepted", tc.key, tc.value)
		}
	}
	c = DefaultConfig()
	c.MaxEventStreamsPerClient = 0
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "max_event_streams_per_client") {
		t.Errorf("no streams per client: %v", err)
	}
}

// TestPageURLFollowsPublicURL: a page made by a first start without
// public_url links to the loopback address it listened on; a later start
// with public_url moves it there (every message's incident link follows),
// and a URL a person set is kept.
func TestPageURLFollowsPublicURL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	start := func(public string) *Node {
		t.Helper()
		cfg := DefaultConfig()
		cfg.DataDir, cfg.Addr, cfg.PublicURL = dir, "127.0.0.1:0", public
		n, err := New(ctx, cfg, Options{Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	n := start("")
	if !derivedURL(n.Page.URL) || !strings.HasPrefix(n.Page.URL, "http://127.0.0.1:") {
		t.Fatalf("a first start without public_url: page URL %q", n.Page.URL)
	}
	id := n.Page.ID
	n.Close()

	n = start("https://status.example.com")
	if n.Page.URL != "https://status.example.com" || n.Page.ID != id {
		t.Errorf("with public_url: page %s URL %q, want the same page at https://status.example.com", n.Page.ID, n.Page.URL)
	}
	url := "https://status.acme.test"
	if _, err := n.Incidents.UpdatePage(ctx, id, incident.PageInput{URL: &url}); err != nil {
		t.Fatal(err)
	}
	n.Close()

	n = start("https://elsewhere.example.com")
	if n.Page.URL != url {
		t.Errorf("a URL a person set was replaced: %q", n.Page.URL)
	}
	n.Close()

	// Nodes tried side by side, each with its own loopback public_url:
	// the page keeps the URL it has, whichever starts last.
	other := t.TempDir()
	dir = other
	a := start("http://127.0.0.1:18501")
	first := a.Page.URL
	a.Close()
	b := start("http://127.0.0.2:18502")
	defer b.Close()
	if first != "http://127.0.0.1:18501" || b.Page.URL != first {
		t.Errorf("two loopback public_urls: the page's URL went %q then %q, want it to stay at the first", first, b.Page.URL)
	}
	for u, want := range map[string]bool{"http://localhost:8080": true, "http://[::1]:8080/": true, "http://127.0.0.1:8080/status": false,
		"https://127.0.0.1:8443": false, "http://10.0.0.5:8080": false, "http://status.acme.test:8080": false} {
		if derivedURL(u) != want {
			t.Errorf("derivedURL(%q) = %v, want %v", u, !want, want)
		}
	}
}

// TestWebhookSettings: webhooks have workers and a timeout of their own,
// 32 and 10 s by default, so that a few receivers that hang do not hold
// back every other subscriber's message; the timeout keeps within
// Statuspage's 30 s.
func TestWebhookSettings(t *testing.T) {
	c := DefaultConfig()
	n := c.Broadcast.NotifyConfig("http://127.0.0.1:8080")
	if n.Workers[channel.Webhook] != 32 || n.Workers[channel.SMS] != 8 || c.Broadcast.WebhookTimeout != 10*time.Second {
		t.Errorf("defaults: workers %v, webhook timeout %s; want 32 for webhooks, 8 for the rest, 10s", n.Workers, c.Broadcast.WebhookTimeout)
	}
	env := map[string]string{"HERALD_WEBHOOK_WORKERS": "64", "HERALD_WEBHOOK_TIMEOUT": "5s", "HERALD_WORKERS": "4"}
	if err := c.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if n := c.Broadcast.NotifyConfig("http://127.0.0.1:8080"); n.Workers[channel.Webhook] != 64 || n.Workers[channel.Email] != 4 || c.Broadcast.WebhookTimeout != 5*time.Second {
		t.Errorf("set: workers %v, webhook timeout %s", n.Workers, c.Broadcast.WebhookTimeout)
	}
	for _, v := range []string{"31s", "0s", "soon"} {
		c := DefaultConfig()
		if err := c.LoadEnv(func(k string) string { return map[string]string{"HERALD_WEBHOOK_TIMEOUT": v}[k] }); err == nil {
			t.Errorf("HERALD_WEBHOOK_TIMEOUT=%s accepted", v)
		}
	}
}
