package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	twilioclient "github.com/twilio/twilio-go/client"

	"github.com/heraldhq/herald/notify/twilio"
	"github.com/heraldhq/herald/sandbox"
)

// rawPost sends one form POST over a fresh connection to addr with the
// request line's target written exactly as given (origin form "/path?q"
// or absolute form "http://host/path?q", as some proxies send it), and
// returns the status and body.
func rawPost(t *testing.T, addr, target string, form url.Values, headers ...string) (int, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	body := form.Encode()
	var req strings.Builder
	req.WriteString("POST " + target + " HTTP/1.1\r\nHost: " + addr + "\r\nConnection: close\r\n")
	req.WriteString("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n")
	for i := 0; i+1 < len(headers); i += 2 {
		req.WriteString(headers[i] + ": " + headers[i+1] + "\r\n")
	}
	req.WriteString("\r\n" + body)
	if _, err := io.WriteString(conn, req.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("POST %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// twilioSigned signs form for fullURL as Twilio does, and checks the
// signature with twilio-go's own RequestValidator, so the test does not
// lean on herald's idea of the scheme alone.
func twilioSigned(t *testing.T, fullURL string, form url.Values) string {
	t.Helper()
	sig := sandbox.TwilioSignature(sandbox.DefaultAuthToken, fullURL, form)
	params := map[string]string{}
	for k := range form {
		params[k] = form.Get(k)
	}
	v := twilioclient.NewRequestValidator(sandbox.DefaultAuthToken)
	if !v.Validate(fullURL, params, sig) {
		t.Fatalf("twilio-go refuses the test's own signature over %s", fullURL)
	}
	return sig
}

// TestTwilioSignatureRequestForms: Twilio signs the public URL it called;
// herald rebuilds it from its public base and the request's path and
// query, whether the request line carries them in origin form or, as
// some proxies send it, in absolute form (which must not add the scheme
// and host a second time).
func TestTwilioSignatureRequestForms(t *testing.T) {
	receipt := func(sid string) url.Values { return url.Values{"MessageSid": {sid}, "MessageStatus": {"sent"}} }

	t.Run("public URL", func(t *testing.T) {
		b := newBroadcastEnv(t, false)
		b.serve(t)
		addr := strings.TrimPrefix(b.base, "http://")
		if b.public != b.base {
			t.Fatalf("public %s, served at %s: the test signs what it calls", b.public, b.base)
		}
		const path = "/webhooks/twilio/status"
		tests := []struct {
			name, target, signed string
			token                string // "" the right one
			want                 int
		}{
			{"origin form", path, b.public + path, "", http.StatusNoContent},
			{"origin form, query", path + "?rc=2&next=http://a.example/x%20y", b.public + path + "?rc=2&next=http://a.example/x%20y", "", http.StatusNoContent},
			{"absolute form", b.public + path, b.public + path, "", http.StatusNoContent},
			{"absolute form, query", b.public + path + "?rc=2&next=http://a.example/x%20y", b.public + path + "?rc=2&next=http://a.example/x%20y", "", http.StatusNoContent},
			{"absolute form, other host in the line", "http://proxy.internal:8080" + path, b.public + path, "", http.StatusNoContent},
			{"absolute form, query only signed without it", b.public + path + "?rc=2", b.public + path, "", http.StatusForbidden},
			{"absolute form, signed with another token", b.public + path, b.public + path, "othertoken", http.StatusForbidden},
			{"absolute form, signed over the doubled URL", b.public + path, b.public + b.public + path, "", http.StatusForbidden},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				form := receipt("SMabs" + strconv.Itoa(i))
				sig := twilioSigned(t, tc.signed, form)
				if tc.token != "" {
					sig = sandbox.TwilioSignature(tc.token, tc.signed, form)
				}
				if got, body := rawPost(t, addr, tc.target, form, twilio.HeaderSignature, sig); got != tc.want {
					t.Errorf("POST %s signed over %s: %d %s, want %d", tc.target, tc.signed, got, body, tc.want)
				}
			})
		}
	})

	t.Run("behind a trusted proxy", func(t *testing.T) {
		noPublicURL := bcOption{server: func(c *Config) { c.PublicURL = "" }, broadcast: func(c *BroadcastConfig) { c.PublicURL = "" }}
		b := newBroadcastEnv(t, false, noPublicURL, trustLoopback(t))
		b.serve(t)
		addr := strings.TrimPrefix(b.base, "http://")
		const signed = "https://status.example.com/webhooks/twilio/status?rc=2"
		forwarded := []string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "status.example.com"}
		for i, target := range []string{"/webhooks/twilio/status?rc=2", "http://herald.internal:8080/webhooks/twilio/status?rc=2"} {
			form := receipt("SMfwd" + strconv.Itoa(i))
			h := append([]string{twilio.HeaderSignature, twilioSigned(t, signed, form)}, forwarded...)
			if got, body := rawPost(t, addr, target, form, h...); got != http.StatusNoContent {
				t.Errorf("POST %s signed over %s: %d %s, want 204", target, signed, got, body)
			}
		}
	})
}

func TestOriginForm(t *testing.T) {
	for _, tc := range []struct{ target, want string }{
		{"/webhooks/twilio/sms", "/webhooks/twilio/sms"},
		{"/webhooks/twilio/sms?next=http://a.example/b", "/webhooks/twilio/sms?next=http://a.example/b"},
		{"/webhooks/twilio/sms?", "/webhooks/twilio/sms?"},
		{"http://host:8080/webhooks/twilio/sms", "/webhooks/twilio/sms"},
		{"https://host/webhooks/twilio/sms?a=1&b=http://c/d", "/webhooks/twilio/sms?a=1&b=http://c/d"},
		{"http://host", "/"},
		{"http://host?a=1/b", "/?a=1/b"},
	} {
		if got := originForm(tc.target); got != tc.want {
			t.Errorf("originForm(%q) = %q, want %q", tc.target, got, tc.want)
		}
	}
}
