package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/heraldhq/herald/sandbox"
)

// DefaultSandboxAddr and DefaultSandboxSMTP are where `herald sandbox`
// listens: fixed ports, so the variables it prints stay valid across runs.
const (
	DefaultSandboxAddr = "127.0.0.1:8025"
	DefaultSandboxSMTP = "127.0.0.1:2525"
	// sandboxFrom is the sender number the sandbox is told to use; its
	// Twilio stand-in accepts any.
	sandboxFrom = "+15005550006"
)

// sandboxEnv is the environment that points a herald at sb, in a stable
// order, as `herald sandbox` prints it.
func sandboxEnv(sb *sandbox.Sandbox) [][2]string {
	c := sb.Config()
	return [][2]string{
		{"HERALD_TWILIO_API_URL", sb.TwilioURL()},
		{"HERALD_TWILIO_ACCOUNT_SID", c.AccountSID},
		{"HERALD_TWILIO_AUTH_TOKEN", c.AuthToken},
		{"HERALD_TWILIO_FROM", sandboxFrom},
		{"HERALD_SMTP_ADDR", sb.SMTPAddr()},
		{"HERALD_SMTP_FROM", "Herald Status <status@herald.localhost>"},
		{"HERALD_SMTP_TLS", "none"},
		{"HERALD_SLACK_API_URL", sb.SlackURL()},
		{"HERALD_SLACK_TOKEN", c.SlackToken},
		{"HERALD_SLACK_SIGNING_SECRET", c.SlackSigningSecret},
		{"HERALD_WEBHOOKS_ALLOW_PRIVATE", "true"},
	}
}

// parseBurst reads --burst429 EVERY/LEN: after every EVERY requests to one
// API, the next LEN are refused with 429.
func parseBurst(s string) (every, n int, err error) {
	if s == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(s, "/")
	every, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || every < 1 || n < 1 {
		return 0, 0, fmt.Errorf("want EVERY/LEN like 100/5, got %q", s)
	}
	return every, n, nil
}

func cmdSandbox(ctx context.Context, a *app, args []string) error {
	fs := a.newFlagSet("sandbox", "[--addr HOST:PORT] [--smtp HOST:PORT] [--fail-rate P] [--burst429 EVERY/LEN] [FLAGS]",
		`Runs the provider sandbox on its own: stand-ins for Twilio's Messages API, Slack's
Web API and incoming webhooks, and an SMTP server, with an inbox at /sandbox. It
prints the environment that points a 'herald serve' at it, then runs until
interrupted. (With no provider settings, 'herald serve' starts one in-process.)`)
	addr := fs.String("addr", DefaultSandboxAddr, "HTTP `HOST:PORT` for the Twilio, Slack and webhook APIs and the inbox (loopback)")
	smtpAddr := fs.String("smtp", DefaultSandboxSMTP, "SMTP `HOST:PORT`")
	failRate := fs.Float64("fail-rate", 0, "share `P` (0..1) of requests answered with a 5xx (and SMTP 451)")
	burst := fs.String("burst429", "", "after every EVERY requests to one API refuse the next LEN with 429 (`EVERY/LEN`, e.g. 100/5)")
	retryAfter := fs.Duration("retry-after", 0, "Retry-After of a burst 429; 0 means 1s")
	latency := fs.Duration("latency", 0, "delay every answer by `D`")
	rate := fs.Float64("rate", 0, "a provider's rate ceiling, requests per second per API (0: none)")
	capacity := fs.Int("capacity", 0, "messages the inbox keeps (default 10000)")
	var failTo []string
	fs.Func("fail-to", "make `ADDRESS=CODE` fail with the provider's code (repeatable), e.g. +36201234567=21610", func(v string) error {
		if k, c, ok := strings.Cut(v, "="); !ok || k == "" || c == "" {
			return fmt.Errorf("want ADDRESS=CODE, got %q", v)
		}
		failTo = append(failTo, v)
		return nil
	})
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	every, n, err := parseBurst(*burst)
	if err != nil {
		return usageErrorf("--burst429: %v", err)
	}
	if *failRate < 0 || *failRate > 1 {
		return usageErrorf("--fail-rate: want 0..1, got %v", *failRate)
	}
	faults := sandbox.Faults{ErrorRate: *failRate, Burst429Every: every, Burst429Len: n, RetryAfter: *retryAfter,
		Latency: *latency, RatePerSecond: *rate}
	if len(failTo) > 0 {
		faults.FailTo = map[string]string{}
		for _, v := range failTo {
			k, c, _ := strings.Cut(v, "=")
			faults.FailTo[k] = c
		}
	}
	log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	sb, err := sandbox.Start(context.WithoutCancel(ctx), sandbox.Config{Addr: *addr, SMTPAddr: *smtpAddr, Faults: faults, Capacity: *capacity, Log: log})
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	defer sb.Close()
	fmt.Fprintf(a.stdout, "# herald sandbox: inbox at %s (JSON at %s/messages)\n", sb.InboxURL(), strings.TrimRight(sb.InboxURL(), "/"))
	fmt.Fprintln(a.stdout, "# point a herald at it with:")
	for _, kv := range sandboxEnv(sb) {
		fmt.Fprintf(a.stdout, "export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
	<-ctx.Done()
	fmt.Fprintln(a.stderr, "sandbox stopping")
	return nil
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n\"'`$\\<>|&;()*?[]#~!{}") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
