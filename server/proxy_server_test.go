package server

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/heraldhq/herald/notify/twilio"
	"github.com/heraldhq/herald/sandbox"
)

// trustLoopback makes the test client's address (the server's peer) a
// trusted proxy.
func trustLoopback(t *testing.T) bcOption {
	return bcOption{server: func(c *Config) {
		p, err := ParseTrustedProxies("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		c.TrustedProxies = p
	}}
}

// signUp posts one public sign-up with headers (name, value pairs) and
// returns the status: 200 done, 429 limited.
func (b *bcEnv) signUp(t *testing.T, address string, headers ...string) int {
	t.Helper()
	h := append([]string{"Accept", "text/html"}, headers...)
	csrf := csrfOf(t, b.mustDo(t, http.StatusOK, "GET", "/subscribe", "", "", h...))
	r := b.form(t, "/subscribe", url.Values{"channel": {"email"}, "address": {address}, "csrf": {csrf}}, h...)
	if r.status != http.StatusOK && r.status != http.StatusTooManyRequests {
		t.Fatalf("sign-up %s: %d %s", address, r.status, r.body)
	}
	return r.status
}

// exhaust signs up from one client until the per-IP limit answers 429, and
// fails if it never does (the default limit is 10 per IP per 4 h).
func (b *bcEnv) exhaust(t *testing.T, name string, xff func(i int) string) {
	t.Helper()
	for i := 0; ; i++ {
		var h []string
		if v := xff(i); v != "" {
			h = []string{"X-Forwarded-For", v}
		}
		if b.signUp(t, fmt.Sprintf("%s%d@example.com", name, i), h...) == http.StatusTooManyRequests {
			if i < 10 {
				t.Fatalf("%s: limited after %d sign-ups, want 10", name, i)
			}
			return
		}
		if i > 12 {
			t.Fatalf("%s: %d sign-ups and no 429", name, i)
		}
	}
}

func TestSignUpLimitBehindProxy(t *testing.T) {
	t.Run("no trusted proxies: X-Forwarded-For does not change the key", func(t *testing.T) {
		b := newBroadcastEnv(t, false)
		b.useSocket(t) // the peer address is what is tested
		// A fresh forged address on every sign-up: were it believed, each
		// would get its own limit and none would be refused.
		b.exhaust(t, "forged", func(i int) string { return fmt.Sprintf("203.0.113.%d", i+1) })
		if s := b.signUp(t, "another@example.com", "X-Forwarded-For", "198.51.100.99"); s != http.StatusTooManyRequests {
			t.Errorf("a new forged address: %d, want 429", s)
		}
		if s := b.signUp(t, "plain@example.com"); s != http.StatusTooManyRequests {
			t.Errorf("no header: %d, want 429", s)
		}
	})

	t.Run("trusted proxy: each forwarded client has its own limit", func(t *testing.T) {
		b := newBroadcastEnv(t, false, trustLoopback(t))
		b.useSocket(t) // the peer address is what is tested
		b.exhaust(t, "a", func(int) string { return "203.0.113.1" })
		if s := b.signUp(t, "b@example.com", "X-Forwarded-For", "203.0.113.2"); s != http.StatusOK {
			t.Errorf("a second client: %d, want 200", s)
		}
		if s := b.signUp(t, "proxy@example.com"); s != http.StatusOK {
			t.Errorf("the proxy itself, no header: %d, want 200", s)
		}

		t.Run("a spoofed leftmost entry does not escape it", func(t *testing.T) {
			// The proxy appends the address it saw (203.0.113.1) to what the
			// client sent.
			for _, xff := range []string{"198.51.100.7, 203.0.113.1", "127.0.0.1, 203.0.113.1", "203.0.113.2,203.0.113.1"} {
				if s := b.signUp(t, "spoof@example.com", "X-Forwarded-For", xff); s != http.StatusTooManyRequests {
					t.Errorf("X-Forwarded-For %q: %d, want 429", xff, s)
				}
			}
		})

		t.Run("IPv6 clients count by /64", func(t *testing.T) {
			b.exhaust(t, "v6", func(i int) string { return fmt.Sprintf("2001:db8:1:1::%x", i+1) })
			if s := b.signUp(t, "v6other@example.com", "X-Forwarded-For", "[2001:db8:1:1::ffff]:443"); s != http.StatusTooManyRequests {
				t.Errorf("same /64: %d, want 429", s)
			}
			if s := b.signUp(t, "v6next@example.com", "X-Forwarded-For", "2001:db8:1:2::1"); s != http.StatusOK {
				t.Errorf("another /64: %d, want 200", s)
			}
		})
	})
}

// TestForwardedURLBehindProxy: X-Forwarded-Host and -Proto pick the page
// and the URL Twilio signed only from a trusted proxy, and a configured
// public URL wins over them.
func TestForwardedURLBehindProxy(t *testing.T) {
	noPublicURL := bcOption{server: func(c *Config) { c.PublicURL = "" }, broadcast: func(c *BroadcastConfig) { c.PublicURL = "" }}
	const signed = "https://status.example.com/webhooks/twilio/status"
	status := func(t *testing.T, b *bcEnv, sid string, headers ...string) int {
		t.Helper()
		v := url.Values{"MessageSid": {sid}, "MessageStatus": {"delivered"}}
		h := append([]string{"Content-Type", "application/x-www-form-urlencoded", "Host", "herald.internal:8080",
			twilio.HeaderSignature, sandbox.TwilioSignature(sandbox.DefaultAuthToken, signed, v)}, headers...)
		return b.do(t, "POST", "/webhooks/twilio/status", "", v.Encode(), h...).status
	}
	forwarded := []string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "status.example.com"}

	t.Run("untrusted peer", func(t *testing.T) {
		b := newBroadcastEnv(t, false, noPublicURL)
		b.useSocket(t) // the peer address is what is tested
		if s := status(t, b, "SMa", forwarded...); s != http.StatusForbidden {
			t.Errorf("Twilio signature over a forwarded URL from an untrusted peer: %d, want 403", s)
		}
		b.mustDo(t, http.StatusNotFound, "GET", "/api/v2/status.json", "", "", "Host", "other.example.net", "X-Forwarded-Host", "status.example.com")
	})
	t.Run("trusted proxy", func(t *testing.T) {
		b := newBroadcastEnv(t, false, noPublicURL, trustLoopback(t))
		b.useSocket(t) // the peer address is what is tested
		if s := status(t, b, "SMb", forwarded...); s != http.StatusNoContent {
			t.Errorf("Twilio signature over the forwarded URL: %d, want 204", s)
		}
		if s := status(t, b, "SMc", "X-Forwarded-Host", "status.example.com"); s != http.StatusForbidden {
			t.Errorf("without X-Forwarded-Proto the URL is http: %d, want 403", s)
		}
		b.mustDo(t, http.StatusOK, "GET", "/api/v2/status.json", "", "", "Host", "other.example.net", "X-Forwarded-Host", "status.example.com")
	})
	t.Run("a configured public URL wins", func(t *testing.T) {
		b := newBroadcastEnv(t, false, trustLoopback(t), bcOption{broadcast: func(c *BroadcastConfig) { c.PublicURL = "https://hooks.example.org" }})
		b.useSocket(t) // the peer address is what is tested
		if s := status(t, b, "SMd", forwarded...); s != http.StatusForbidden {
			t.Errorf("signed for the forwarded URL, not the public one: %d, want 403", s)
		}
	})
}
