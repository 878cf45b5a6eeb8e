package node

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/heraldhq/herald/sandbox"
)

func TestLoopbackAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.8.9.10:1": true, "[::1]:8080": true, "localhost:8080": true, "[::ffff:127.0.0.1]:80": true,
		"0.0.0.0:8080": false, ":8080": false, "[::]:8080": false, "10.0.0.5:8080": false, "example.com:80": false, "nonsense": false,
	} {
		if got := loopbackAddr(addr); got != want {
			t.Errorf("loopbackAddr(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestSandboxExposure: with no provider configured, a node on an address
// beyond loopback refuses to start its sandbox unless told to, and every
// sandbox start has secrets of its own (a well-known Twilio token would let
// anyone sign a forged STOP).
func TestSandboxExposure(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	cfg := DefaultConfig()
	cfg.Addr = "0.0.0.0:8080"
	if _, err := buildChannels(ctx, cfg, "http://0.0.0.0:8080", nil, log); err == nil || !strings.Contains(err.Error(), "--sandbox") {
		t.Fatalf("sandbox on 0.0.0.0 without --sandbox: %v, want a refusal naming --sandbox", err)
	}
	cfg.Sandbox = true
	var tokens []string
	for range 2 {
		ch, err := buildChannels(ctx, cfg, "http://0.0.0.0:8080", nil, log)
		if err != nil {
			t.Fatalf("with --sandbox: %v", err)
		}
		t.Cleanup(func() { _ = ch.closeSandbox() })
		sc := ch.sandbox.Config()
		if ch.twilioToken == sandbox.DefaultAuthToken || sc.AuthToken != ch.twilioToken || sc.SlackToken == sandbox.DefaultSlackToken ||
			sc.AccountSID == sandbox.DefaultAccountSID || len(ch.twilioToken) < 32 {
			t.Fatalf("sandbox secrets are the well-known ones: %+v", sc)
		}
		tokens = append(tokens, ch.twilioToken)
	}
	if tokens[0] == tokens[1] {
		t.Error("two starts shared one Twilio token")
	}
	// Loopback needs no flag.
	cfg.Sandbox, cfg.Addr = false, "127.0.0.1:0"
	ch, err := buildChannels(ctx, cfg, "http://127.0.0.1:8080", nil, log)
	if err != nil {
		t.Fatalf("on loopback: %v", err)
	}
	_ = ch.closeSandbox()
}
