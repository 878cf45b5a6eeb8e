package webhook

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/notify"
)

const testSecret = "s3cret-for-tests"

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero value uses defaults", Config{}, true},
		{"full", Config{Timeout: 30 * time.Second, Secret: "x", UserAgent: "herald/1"}, true},
		{"negative timeout", Config{Timeout: -1}, false},
		{"timeout above statuspage's 30s", Config{Timeout: 31 * time.Second}, false},
		{"multi-line user agent", Config{UserAgent: "a\r\nX-Evil: 1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("error %v does not wrap ErrInvalidConfig", err)
			}
		})
	}
}

func TestSend(t *testing.T) {
	var redirectTargetHits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirectTargetHits.Add(1)
	}))
	defer target.Close()

	type seen struct {
		header http.Header
		body   []byte
	}
	tests := []struct {
		name      string
		handler   func(w http.ResponseWriter, r *http.Request)
		ctxWait   time.Duration
		wantErr   bool
		permanent bool
		code      string
		retry     time.Duration
		plainErr  error // a non-SendError the result must wrap
	}{
		{name: "200 ok", handler: func(w http.ResponseWriter, r *http.Request) {}},
		{name: "204 no content", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }},
		{name: "410 gone is permanent", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(410) },
			wantErr: true, permanent: true, code: "HTTP 410"},
		{name: "404 is permanent", handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no such hook", 404) },
			wantErr: true, permanent: true, code: "HTTP 404"},
		{name: "302 is a failure and not followed", handler: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL, http.StatusFound)
		}, wantErr: true, permanent: true, code: "HTTP 302"},
		{name: "408 is transient", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(408) },
			wantErr: true, code: "HTTP 408"},
		{name: "429 honours Retry-After", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(429)
		}, wantErr: true, code: "HTTP 429", retry: 7 * time.Second},
		{name: "503 is transient", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(503)
		}, wantErr: true, code: "HTTP 503", retry: 2 * time.Second},
		{name: "slow receiver vs context deadline", handler: func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, ctxWait: 100 * time.Millisecond, wantErr: true, plainErr: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan seen, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				select {
				case got <- seen{r.Header.Clone(), b}:
				default:
				}
				tt.handler(w, r)
			}))
			defer srv.Close()

			ch, err := New(Config{Secret: testSecret, AllowPrivate: true})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tt.ctxWait > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxWait)
				defer cancel()
			}
			payload := []byte(`{"meta":{"unsubscribe":"https://status.example/u/x"},"page":{"id":"p1"}}`)
			rc, err := ch.Send(ctx, &channel.Message{DeliveryID: "dlv-1", Kind: channel.Webhook, To: srv.URL + "/hook", Payload: payload})

			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				if rc.ProviderID != "dlv-1" || rc.Status != "delivered" {
					t.Fatalf("receipt = %+v", rc)
				}
				s := <-got
				if ct := s.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
				if d := s.header.Get(HeaderDelivery); d != "dlv-1" {
					t.Errorf("%s = %q", HeaderDelivery, d)
				}
				if ua := s.header.Get("User-Agent"); ua != DefaultUserAgent {
					t.Errorf("User-Agent = %q", ua)
				}
				if string(s.body) != string(payload) {
					t.Errorf("body = %s", s.body)
				}
				if err := Verify(testSecret, s.header, s.body, time.Now()); err != nil {
					t.Errorf("receiver-side Verify: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Send succeeded, want error")
			}
			if tt.plainErr != nil {
				var se *channel.SendError
				if errors.As(err, &se) {
					t.Fatalf("got SendError %v, want plain transient error", se)
				}
				if !errors.Is(err, tt.plainErr) {
					t.Fatalf("err = %v, want it to wrap %v", err, tt.plainErr)
				}
				return
			}
			var se *channel.SendError
			if !errors.As(err, &se) {
				t.Fatalf("err = %T %v, want *channel.SendError", err, err)
			}
			if se.Permanent != tt.permanent || se.Code != tt.code || se.RetryAfter != tt.retry {
				t.Fatalf("SendError = %+v, want permanent=%v code=%q retry=%s", se, tt.permanent, tt.code, tt.retry)
			}
		})
	}
	if n := redirectTargetHits.Load(); n != 0 {
		t.Errorf("redirect target was hit %d times; redirects must not be followed", n)
	}
}

func TestSendRejectsBadMessages(t *testing.T) {
	ch, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		msg  channel.Message
		code string
	}{
		{"loopback literal", channel.Message{To: "http://127.0.0.1:1/x", Payload: []byte(`{}`)}, "invalid_url"},
		{"localhost name", channel.Message{To: "http://localhost:1/x", Payload: []byte(`{}`)}, "invalid_url"},
		{"metadata address", channel.Message{To: "http://169.254.169.254/latest/meta-data", Payload: []byte(`{}`)}, "invalid_url"},
		{"ftp scheme", channel.Message{To: "ftp://example.com/x", Payload: []byte(`{}`)}, "invalid_url"},
		{"empty payload", channel.Message{To: "https://example.com/x"}, "invalid_payload"},
		{"non-JSON payload", channel.Message{To: "https://example.com/x", Payload: []byte("hello")}, "invalid_payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ch.Send(context.Background(), &tt.msg)
			var se *channel.SendError
			if !errors.As(err, &se) || !se.Permanent || se.Code != tt.code {
				t.Fatalf("Send = %v, want permanent %s", err, tt.code)
			}
		})
	}
}

// TestDialTimeCheck bypasses netguard.CheckURL and drives the channel's HTTP client
// directly: names that resolve to internal addresses must be refused when the
// connection is made, whatever they resolved to at subscribe time.
func TestDialTimeCheck(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	strict, err := New(Config{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	open, err := New(Config{Timeout: 2 * time.Second, AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		ch      *Channel
		url     string
		allowed bool
	}{
		{"localhost resolves to loopback: refused", strict, "http://localhost:" + port + "/", false},
		{"loopback literal: refused", strict, "http://127.0.0.1:" + port + "/", false},
		{"IPv4-mapped IPv6 loopback: refused", strict, "http://[::ffff:127.0.0.1]:" + port + "/", false},
		{"AllowPrivate lets localhost through", open, "http://localhost:" + port + "/", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := hits.Load()
			resp, err := tt.ch.client.Get(tt.url)
			if resp != nil {
				resp.Body.Close()
			}
			if tt.allowed {
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrForbiddenAddress) {
				t.Fatalf("Get error = %v, want ErrForbiddenAddress", err)
			}
			if hits.Load() != before {
				t.Fatal("request reached the server")
			}
		})
	}
}

// TestExempt: Config.Exempt lets deliveries reach exactly that listener
// (the sandbox's), in Send's check and at dial time; another port on the
// same host stays refused.
func TestExempt(t *testing.T) {
	var hits, otherHits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { otherHits.Add(1) }))
	defer other.Close()
	ch, err := New(Config{Timeout: 2 * time.Second, Exempt: []netip.AddrPort{netip.MustParseAddrPort(srv.Listener.Addr().String())}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Send(context.Background(), &channel.Message{To: srv.URL + "/webhooks/ops", Payload: []byte(`{}`)}); err != nil || hits.Load() != 1 {
		t.Fatalf("Send to the exempt listener: %v, %d hits", err, hits.Load())
	}
	_, err = ch.Send(context.Background(), &channel.Message{To: other.URL + "/", Payload: []byte(`{}`)})
	var se *channel.SendError
	if !errors.As(err, &se) || !se.Permanent {
		t.Fatalf("Send to another port: %v, want a permanent refusal", err)
	}
	resp, err := ch.client.Get(other.URL + "/") // past Send's check: the dialer refuses too
	if resp != nil {
		resp.Body.Close()
	}
	if !errors.Is(err, ErrForbiddenAddress) || otherHits.Load() != 0 {
		t.Fatalf("dial to another port: %v, %d hits; want ErrForbiddenAddress and none", err, otherHits.Load())
	}
}

// TestSendForbiddenAtDialIsPermanent goes through Send with a name that
// netguard.CheckURL cannot judge (it does not resolve names) but that resolves to
// loopback: the machine's own hostname usually does. The dial-time refusal
// must come back as a permanent SendError.
func TestSendForbiddenAtDialIsPermanent(t *testing.T) {
	name, err := os.Hostname()
	if err != nil {
		t.Skipf("no hostname: %v", err)
	}
	addrs, err := net.LookupIP(name)
	if err != nil || len(addrs) == 0 || !addrs[0].IsLoopback() {
		t.Skipf("hostname %q does not resolve to loopback here (%v %v); dial-time check is covered by TestDialTimeCheck", name, addrs, err)
	}
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	ch, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ch.Send(context.Background(), &channel.Message{To: "http://" + name + ":" + port + "/", Payload: []byte(`{}`)})
	var se *channel.SendError
	if !errors.As(err, &se) || !se.Permanent || se.Code != "forbidden_address" {
		t.Fatalf("Send = %v, want permanent forbidden_address", err)
	}
	if hits.Load() != 0 {
		t.Fatal("request reached the server")
	}
}

func TestSignVerify(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"a":1}`)
	header := func(secret string, ts int64, b []byte) http.Header {
		h := http.Header{}
		h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
		h.Set(HeaderSignature, Sign(secret, ts, b))
		return h
	}
	tests := []struct {
		name   string
		h      http.Header
		body   []byte
		secret string
		want   error
	}{
		{"round trip", header(testSecret, now.Unix(), body), body, testSecret, nil},
		{"4 minutes old ok", header(testSecret, now.Add(-4*time.Minute).Unix(), body), body, testSecret, nil},
		{"tampered body", header(testSecret, now.Unix(), body), []byte(`{"a":2}`), testSecret, ErrBadSignature},
		{"wrong secret", header("other", now.Unix(), body), body, testSecret, ErrBadSignature},
		{"stale", header(testSecret, now.Add(-6*time.Minute).Unix(), body), body, testSecret, ErrStaleTimestamp},
		{"future", header(testSecret, now.Add(6*time.Minute).Unix(), body), body, testSecret, ErrStaleTimestamp},
		{"missing headers", http.Header{}, body, testSecret, ErrBadSignature},
		{"empty secret never verifies", header("", now.Unix(), body), body, "", ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.h, tt.body, now)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
	// A known vector pins the format: "sha256=" + hex(HMAC-SHA256(secret, "ts.body")),
	// computed independently with Python's hmac module.
	if got, want := Sign("key", 1, []byte("x")), "sha256=fc4913c41a7bf793267e2a384f3261c9436ec2cd097bd745e7b0d99113f510ec"; got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

// Channel implements notify.Channel: the pipeline sends through it.
var _ notify.Channel = (*Channel)(nil)

// TestSendErrorsDoNotQuoteTheURL: a failed POST's reason keeps its cause
// but not the subscriber's URL, whose path or query may be a secret; the
// reason is shown to agents and logged.
func TestSendErrorsDoNotQuoteTheURL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens
	ch, err := New(Config{AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ch.Send(context.Background(), &channel.Message{To: "http://" + addr + "/hook/s3cr3t?token=s3cr3t", Payload: []byte(`{}`)})
	if err == nil || channel.IsPermanent(err) {
		t.Fatalf("Send to a closed port = %v, want a transient failure", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "refused") {
		t.Errorf("Send's error %q: want the cause, without the URL", err)
	}
}
