package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/node"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigLayers(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "herald.yaml")
	if err := os.WriteFile(file, []byte("addr: 127.0.0.1:9001\ndata_dir: /from/file\nlog_level: debug\nbody_limit: 64KiB\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		env   map[string]string
		flags []string
		check func(t *testing.T, c node.Config)
	}{
		{"defaults", nil, nil, func(t *testing.T, c node.Config) {
			if !reflect.DeepEqual(c, node.DefaultConfig()) {
				t.Errorf("got %+v", c)
			}
		}},
		{"file over defaults", map[string]string{"HERALD_CONFIG": file}, nil, func(t *testing.T, c node.Config) {
			if c.Addr != "127.0.0.1:9001" || c.DataDir != "/from/file" || c.LogLevel != "debug" || c.BodyLimit != 64<<10 || c.LogFormat != "text" {
				t.Errorf("got %+v", c)
			}
		}},
		{"env over file", map[string]string{"HERALD_CONFIG": file, "HERALD_ADDR": "127.0.0.1:9002", "HERALD_SHUTDOWN_TIMEOUT": "3s"}, nil, func(t *testing.T, c node.Config) {
			if c.Addr != "127.0.0.1:9002" || c.DataDir != "/from/file" || c.ShutdownTimeout != 3*time.Second {
				t.Errorf("got %+v", c)
			}
		}},
		{"flags over env", map[string]string{"HERALD_ADDR": "127.0.0.1:9002", "HERALD_DATA_DIR": "/from/env"},
			[]string{"--config", file, "--addr", "127.0.0.1:9003", "--log-format", "json"}, func(t *testing.T, c node.Config) {
				if c.Addr != "127.0.0.1:9003" || c.DataDir != "/from/env" || c.LogFormat != "json" || c.LogLevel != "debug" {
					t.Errorf("got %+v", c)
				}
			}},
		{"--redis chooses redis", nil, []string{"--redis", "redis://127.0.0.1:6379/0"}, func(t *testing.T, c node.Config) {
			if c.RedisURL != "redis://127.0.0.1:6379/0" {
				t.Errorf("got %+v", c)
			}
		}},
		{"trusted proxies from the environment", map[string]string{"HERALD_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1 ::1"}, nil, func(t *testing.T, c node.Config) {
			want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}
			if !reflect.DeepEqual(c.TrustedProxies, want) {
				t.Errorf("got %v, want %v", c.TrustedProxies, want)
			}
			if got := c.String(); !strings.Contains(got, "trusted_proxies: 10.0.0.0/8, 127.0.0.1, ::1\n") {
				t.Errorf("printed as %q", got)
			}
		}},
		{"--redis-sentinel with --redis-master", nil, []string{"--redis-sentinel", "10.0.0.1:26379, 10.0.0.2:26379", "--redis-master", "my master"}, func(t *testing.T, c node.Config) {
			if c.RedisURL != "redis-sentinel://10.0.0.1:26379,10.0.0.2:26379/my%20master" || c.RedisSentinel != "" || c.RedisMaster != "" {
				t.Errorf("got %+v", c)
			}
		}},
		{"--redis-cluster", nil, []string{"--redis-cluster", "n1:7000,n2:7001"}, func(t *testing.T, c node.Config) {
			if c.RedisURL != "redis-cluster://n1:7000,n2:7001" {
				t.Errorf("got %+v", c)
			}
		}},
		{"--redis-cluster beats HERALD_REDIS_URL", map[string]string{"HERALD_REDIS_URL": "redis://127.0.0.1:6379"}, []string{"--redis-cluster", "n1:7000"}, func(t *testing.T, c node.Config) {
			if c.RedisURL != "redis-cluster://n1:7000" {
				t.Errorf("got %+v", c)
			}
		}},
		{"sentinel from the environment", map[string]string{"HERALD_REDIS_SENTINEL": "s1:26379", "HERALD_REDIS_MASTER": "m"}, nil, func(t *testing.T, c node.Config) {
			if c.RedisURL != "redis-sentinel://s1:26379/m" {
				t.Errorf("got %+v", c)
			}
		}},
		{"--data beats HERALD_REDIS_URL", map[string]string{"HERALD_REDIS_URL": "redis://127.0.0.1:6379"}, []string{"--data", "/d"}, func(t *testing.T, c node.Config) {
			if c.RedisURL != "" || c.DataDir != "/d" {
				t.Errorf("got %+v", c)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			cf := newConfigFlags(fs)
			if _, err := parseFlags(fs, tt.flags); err != nil {
				t.Fatal(err)
			}
			c, err := cf.load(envMap(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
			// serve says when --data set the environment's Redis aside.
			setAside := tt.name == "--data beats HERALD_REDIS_URL"
			if got := strings.Join(cf.ignored, ","); (got == "redis_url") != setAside || (!setAside && got != "") {
				t.Errorf("settings set aside: %q", got)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name  string
		env   map[string]string
		flags []string
		want  string // in the error
	}{
		{"unknown key", map[string]string{"HERALD_CONFIG": write("typo.yaml", "adr: x\n")}, nil, `unknown setting "adr"`},
		{"secret in file", map[string]string{"HERALD_CONFIG": write("secret.yaml", "smtp_password: hunter2\n")}, nil, "HERALD_SMTP_PASSWORD"},
		{"missing file", nil, []string{"--config", filepath.Join(dir, "nope.yaml")}, "nope.yaml"},
		{"bad yaml", map[string]string{"HERALD_CONFIG": write("bad.yaml", "addr: [\n")}, nil, "bad.yaml"},
		{"not a mapping", map[string]string{"HERALD_CONFIG": write("list.yaml", "- a\n")}, nil, "mapping"},
		{"bad addr", map[string]string{"HERALD_ADDR": "8080"}, nil, "addr"},
		{"bad port", nil, []string{"--addr", "127.0.0.1:99999"}, "port"},
		{"bad level", map[string]string{"HERALD_LOG_LEVEL": "loud"}, nil, "log_level"},
		{"bad format", nil, []string{"--log-format", "xml"}, "log_format"},
		{"bad size", map[string]string{"HERALD_BODY_LIMIT": "lots"}, nil, "HERALD_BODY_LIMIT"},
		{"bad duration", nil, []string{"--shutdown-timeout", "soon"}, "--shutdown-timeout"},
		{"bad connection cap", nil, []string{"--max-conns-per-client", "0"}, "--max-conns-per-client"},
		{"bad stream cap", map[string]string{"HERALD_MAX_EVENT_STREAMS": "lots"}, nil, "HERALD_MAX_EVENT_STREAMS"},
		{"bad redis url", nil, []string{"--redis", "http://x"}, "redis_url"},
		{"redis two ways", map[string]string{"HERALD_REDIS_URL": "redis://127.0.0.1:6379", "HERALD_REDIS_CLUSTER": "n1:7000"}, nil, "set one"},
		{"sentinel without master", nil, []string{"--redis-sentinel", "s1:26379"}, "redis_master"},
		{"master without sentinel", nil, []string{"--redis-master", "m"}, "only with redis_sentinel"},
		{"bad sentinel host", nil, []string{"--redis-sentinel", "s1", "--redis-master", "m"}, "redis_sentinel: want host:port"},
		{"bad cluster host", nil, []string{"--redis-cluster", "n1:7000,n2"}, "redis_cluster: want host:port"},
		{"unknown redis option", nil, []string{"--redis", "redis-cluster://n1:7000?pool=3"}, "pool"},
		{"bad public url", map[string]string{"HERALD_PUBLIC_URL": "status.example.com"}, nil, "public_url"},
		{"bad trusted proxy", map[string]string{"HERALD_TRUSTED_PROXIES": "10.0.0.1, proxy.internal"}, nil, "HERALD_TRUSTED_PROXIES"},
		{"trusting everyone", nil, []string{"--trusted-proxies", "0.0.0.0/0"}, "every address"},
		{"secret twice", map[string]string{"HERALD_SMTP_PASSWORD": "a", "HERALD_SMTP_PASSWORD_FILE": "/x"}, nil, "both set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			cf := newConfigFlags(fs)
			if _, err := parseFlags(fs, tt.flags); err != nil {
				t.Fatal(err)
			}
			_, err := cf.load(envMap(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestSecretsRedacted(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("smtp-secret-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"HERALD_REDIS_URL":            "redis-sentinel://user:redis-secret@127.0.0.1:6379,127.0.0.2:6379/m?sentinel_password=redis-secret-s",
		"HERALD_REDIS_PASSWORD":       "redis-secret-2",
		"HERALD_TWILIO_AUTH_TOKEN":    "twiliosecret",
		"HERALD_TWILIO_ACCOUNT_SID":   "AC123",
		"HERALD_TWILIO_FROM":          "+15005550006",
		"HERALD_SMTP_ADDR":            "smtp.example.com:587",
		"HERALD_SMTP_USERNAME":        "status",
		"HERALD_SMTP_FROM":            "status@example.com",
		"HERALD_SMTP_PASSWORD_FILE":   pwFile,
		"HERALD_SLACK_TOKEN":          "xoxb-slack-secret",
		"HERALD_SLACK_SIGNING_SECRET": "signing-secret",
		"HERALD_WEBHOOK_SECRET":       "webhook-secret",
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	c, err := newConfigFlags(fs).load(envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	if c.Providers.SMTPPassword != "smtp-secret-from-file" || c.Providers.TwilioAuthToken != "twiliosecret" {
		t.Fatalf("secrets not loaded: %+v", c.Providers)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "config", c)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "config", c)
	for name, out := range map[string]string{"String": c.String(), "log": logged.String()} {
		for _, secret := range []string{"redis-secret", "twiliosecret", "smtp-secret", "slack-secret", "signing-secret", "webhook-secret"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s shows %s:\n%s", name, secret, out)
			}
		}
		if !strings.Contains(out, "AC123") || !strings.Contains(out, "127.0.0.1:6379") {
			t.Errorf("%s hides what is not secret:\n%s", name, out)
		}
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		pos     []string
		status  string
		wantErr bool
	}{
		{"flags first", []string{"--status", "identified", "abc"}, []string{"abc"}, "identified", false},
		{"flags after", []string{"abc", "--status", "identified"}, []string{"abc"}, "identified", false},
		{"mixed", []string{"a", "--status=x", "b"}, []string{"a", "b"}, "x", false},
		{"double dash", []string{"a", "--", "--status", "b"}, []string{"a", "--status", "b"}, "", false},
		{"unknown flag", []string{"a", "--nope"}, nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			st := fs.String("status", "", "")
			pos, err := parseFlags(fs, tt.args)
			if tt.wantErr {
				var ue *usageError
				if !errors.As(err, &ue) {
					t.Fatalf("err = %v, want a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(pos, tt.pos) || *st != tt.status {
				t.Fatalf("pos %q status %q", pos, *st)
			}
		})
	}
}

func TestProvidersAndBroadcastSettings(t *testing.T) {
	twilio := map[string]string{"HERALD_TWILIO_ACCOUNT_SID": "AC1", "HERALD_TWILIO_AUTH_TOKEN": "tok", "HERALD_TWILIO_FROM": "+15005550006"}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name string
		env  map[string]string
		want string // in the error; "" for none
	}{
		{"nothing: sandbox mode", nil, ""},
		{"twilio complete", twilio, ""},
		{"twilio messaging service", with(nil, "HERALD_TWILIO_ACCOUNT_SID", "AC1", "HERALD_TWILIO_AUTH_TOKEN", "tok", "HERALD_TWILIO_MESSAGING_SERVICE_SID", "MG1"), ""},
		{"twilio without token", with(nil, "HERALD_TWILIO_ACCOUNT_SID", "AC1", "HERALD_TWILIO_FROM", "+15005550006"), "HERALD_TWILIO_AUTH_TOKEN"},
		{"twilio without sender", with(nil, "HERALD_TWILIO_ACCOUNT_SID", "AC1", "HERALD_TWILIO_AUTH_TOKEN", "tok"), "HERALD_TWILIO_FROM"},
		{"twilio with both senders", with(twilio, "HERALD_TWILIO_MESSAGING_SERVICE_SID", "MG1"), "HERALD_TWILIO_FROM"},
		{"twilio api url alone", with(nil, "HERALD_TWILIO_API_URL", "http://127.0.0.1:1"), "HERALD_TWILIO_ACCOUNT_SID"},
		{"smtp complete", with(nil, "HERALD_SMTP_ADDR", "127.0.0.1:2525", "HERALD_SMTP_FROM", "s@example.com", "HERALD_SMTP_TLS", "none"), ""},
		{"smtp without from", with(nil, "HERALD_SMTP_ADDR", "127.0.0.1:2525"), "HERALD_SMTP_FROM"},
		{"smtp without addr", with(nil, "HERALD_SMTP_FROM", "s@example.com"), "HERALD_SMTP_ADDR"},
		{"smtp bad tls", with(nil, "HERALD_SMTP_ADDR", "127.0.0.1:2525", "HERALD_SMTP_FROM", "s@example.com", "HERALD_SMTP_TLS", "maybe"), "TLS"},
		{"smtp password in plain text", with(nil, "HERALD_SMTP_ADDR", "smtp.example.com:25", "HERALD_SMTP_FROM", "s@example.com", "HERALD_SMTP_TLS", "none",
			"HERALD_SMTP_USERNAME", "u", "HERALD_SMTP_PASSWORD", "p"), "plain text"},
		{"slack bad url", with(nil, "HERALD_SLACK_TOKEN", "xoxb-1", "HERALD_SLACK_API_URL", "slack"), "APIURL"},
		{"quiet hours", with(nil, "HERALD_QUIET_HOURS", "22:00-07:00"), ""},
		{"bad quiet hours", with(nil, "HERALD_QUIET_HOURS", "22-7"), "quiet_hours"},
		{"policy", with(nil, "HERALD_POLICY_SMS", "declared,updated,resolved"), ""},
		{"policy none", with(nil, "HERALD_POLICY_WEBHOOK", "none"), ""},
		{"bad policy", with(nil, "HERALD_POLICY_SMS", "declared,shouted"), "policy_sms"},
		{"bad country", with(nil, "HERALD_SMS_COUNTRIES", "HU,Poland"), "sms_countries"},
		{"bad rate", with(nil, "HERALD_SMS_RATE", "-1"), "HERALD_SMS_RATE"},
		{"zero workers", with(nil, "HERALD_WORKERS", "0"), "HERALD_WORKERS"},
		{"reply number", with(twilio, "HERALD_SMS_REPLY_FROM", "+15005550009", "HERALD_SMS_REPLY_RATE", "100"), ""},
		{"reply messaging service", with(twilio, "HERALD_SMS_REPLY_FROM", "MG"+strings.Repeat("0a", 16)), ""},
		{"reply alphanumeric sender", with(twilio, "HERALD_SMS_REPLY_FROM", "AcmeHelp"), ""},
		{"bad reply sender", with(twilio, "HERALD_SMS_REPLY_FROM", "+1-500-555"), "sms_reply_from"},
		{"reply rate without a reply sender", with(twilio, "HERALD_SMS_REPLY_RATE", "100"), "sms_reply_from"},
		{"missing templates dir", with(nil, "HERALD_TEMPLATES_DIR", "/no/such/dir"), "templates_dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newConfigFlags(flag.NewFlagSet("t", flag.ContinueOnError)).load(envMap(tt.env))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}

	t.Run("notify config", func(t *testing.T) {
		c, err := newConfigFlags(flag.NewFlagSet("t", flag.ContinueOnError)).load(envMap(map[string]string{
			"HERALD_QUIET_HOURS": "22:00-07:00", "HERALD_FREQUENCY_CAP": "0", "HERALD_SMS_RATE": "0", "HERALD_EMAIL_RATE": "5",
			"HERALD_SMS_COUNTRIES": "HU, PL", "HERALD_POLICY_SMS": "resolved"}))
		if err != nil {
			t.Fatal(err)
		}
		n := c.Broadcast.NotifyConfig("http://x")
		if n.QuietStart != "22:00" || n.QuietEnd != "07:00" || n.FrequencyCap >= 0 {
			t.Errorf("quiet hours %s-%s, cap %d", n.QuietStart, n.QuietEnd, n.FrequencyCap)
		}
		if _, ok := n.Rates["sms"]; ok || n.Rates["email"].Rate != 5 {
			t.Errorf("rates %v: sms 0 is unlimited, email 5", n.Rates)
		}
		if len(n.SMSCountries) != 2 || n.SMSCountries[1] != "PL" || len(n.Policy["sms"]) != 1 || len(n.Policy["email"]) != 6 {
			t.Errorf("countries %v, policy %v", n.SMSCountries, n.Policy)
		}
	})
}

// TestPrintable keeps what customers write from driving an agent's
// terminal: escape sequences and bidi overrides are shown as U+FFFD.
func TestPrintable(t *testing.T) {
	tests := map[string]string{
		"plain words, ékezet":         "plain words, ékezet",
		"\x1b]0;pwned\x07red\x1b[31m": "\ufffd]0;pwned\ufffdred\ufffd[31m",
		"abc\u202edcba":               "abc\ufffddcba",
		"line\nbreak\ttab":            "line break tab",
	}
	for in, want := range tests {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
	if got := oneLine("a \x1b[2J  b", 20); got != "a \ufffd[2J b" {
		t.Errorf("oneLine = %q", got)
	}
}
