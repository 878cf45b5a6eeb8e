package server

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// openStream opens /events on its own connection with headers (name,
// value pairs) and reads up to the stream's first line, so the server
// counts it; it returns the connection (close it to leave).
func openStream(t *testing.T, e *env, headers ...string) *rawConn {
	t.Helper()
	c := dialRaw(t, e.base)
	req := "GET /events HTTP/1.1\r\nHost: status.example.com\r\nAccept: text/event-stream\r\n"
	for i := 0; i+1 < len(headers); i += 2 {
		req += headers[i] + ": " + headers[i+1] + "\r\n"
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(req + "\r\n")); err != nil {
		t.Fatal(err)
	}
	status, err := c.r.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 200") {
		t.Fatalf("open stream: %q %v", status, err)
	}
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			t.Fatalf("open stream: %v", err)
		}
		if strings.Contains(l, "retry: 5000") {
			break
		}
	}
	_ = c.SetDeadline(time.Time{})
	return c
}

// refusedStream asks for /events and returns the answer, which must be a
// refusal (a 200 stream would never end).
func refusedStream(t *testing.T, e *env, headers ...string) response {
	t.Helper()
	r := dialRaw(t, e.base).get(t, "/events", headers...)
	if r.status == http.StatusOK {
		t.Fatalf("stream opened, want a refusal")
	}
	return r
}

func trustingLoopback(c *Config) { c.TrustedProxies, _ = ParseTrustedProxies("127.0.0.1") }

// TestEventStreamCaps: a client's streams over MaxEventStreamsPerClient
// are answered 429, every stream over MaxEventStreams 503, both with a JSON
// error; behind a trusted proxy the client is X-Forwarded-For's, an IPv6
// one by its /64.
func TestEventStreamCaps(t *testing.T) {
	t.Run("per client and in all, behind a trusted proxy", func(t *testing.T) {
		e := newEnv(t, trustingLoopback, func(c *Config) { c.MaxEventStreamsPerClient, c.MaxEventStreams = 2, 3 })
		e.serve(t)
		xff := func(a string) []string { return []string{"X-Forwarded-For", a} }
		a1 := openStream(t, e, xff("203.0.113.1")...)
		openStream(t, e, xff("203.0.113.1")...)
		r := refusedStream(t, e, xff("203.0.113.1")...)
		if d := r.errorOf(t); r.status != http.StatusTooManyRequests || d.Code != "rate_limited" || r.header.Get("Retry-After") == "" {
			t.Fatalf("third stream of a client: %d %s %v, want 429 rate_limited with Retry-After", r.status, r.body, r.header)
		}
		openStream(t, e, xff("203.0.113.2")...) // another client: its own cap
		r = refusedStream(t, e, xff("203.0.113.3")...)
		if d := r.errorOf(t); r.status != http.StatusServiceUnavailable || d.Code != codeUnavailable {
			t.Fatalf("fourth stream in all: %d %s, want 503 unavailable", r.status, r.body)
		}
		if n := metricValue(e.srv.streams.open); n != 3 {
			t.Errorf("herald_event_streams = %v, want 3", n)
		}
		a1.Close()
		poll(t, "the closed stream's place freed", func() bool { return e.srv.streams.count() == 2 })
		openStream(t, e, xff("203.0.113.1")...)
	})

	t.Run("IPv6 by /64", func(t *testing.T) {
		e := newEnv(t, trustingLoopback, func(c *Config) { c.MaxEventStreamsPerClient = 1 })
		e.serve(t)
		openStream(t, e, "X-Forwarded-For", "2001:db8:1:1::1")
		if r := refusedStream(t, e, "X-Forwarded-For", "2001:db8:1:1::2"); r.status != http.StatusTooManyRequests {
			t.Fatalf("same /64: %d, want 429", r.status)
		}
		openStream(t, e, "X-Forwarded-For", "2001:db8:1:2::1")
	})

	t.Run("no trusted proxy: X-Forwarded-For does not make a new client", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.MaxEventStreamsPerClient = 1 })
		e.serve(t)
		openStream(t, e, "X-Forwarded-For", "203.0.113.1")
		if r := refusedStream(t, e, "X-Forwarded-For", "203.0.113.2"); r.status != http.StatusTooManyRequests {
			t.Fatalf("a forged address: %d, want 429", r.status)
		}
	})
}

// TestEventStreamClosedNoticed: a client that closes its stream is let go
// at once: its watch and its place in the caps are released long before a
// heartbeat (an hour here) would have found the connection gone.
func TestEventStreamClosedNoticed(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.HeartbeatInterval = time.Hour })
	e.serve(t)
	streams := []*rawConn{openStream(t, e), openStream(t, e)}
	if n, w := e.srv.streams.count(), e.site.watchers(); n != 2 || w != 2 {
		t.Fatalf("%d streams, %d watches open, want 2", n, w)
	}
	streams[0].Close()
	poll(t, "the closed stream released", func() bool { return e.srv.streams.count() == 1 && e.site.watchers() == 1 })
	streams[1].Close()
	poll(t, "both released", func() bool { return e.srv.streams.count() == 0 && e.site.watchers() == 0 })
}
