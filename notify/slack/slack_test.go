package slack

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	slackgo "github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"

	"github.com/heraldhq/herald/channel"
	"github.com/heraldhq/herald/notify"
)

const blocksJSON = `[{"type":"header","text":{"type":"plain_text","text":"INC-1: Login outage"}},` +
	`{"type":"section","text":{"type":"mrkdwn","text":"*Identified*: database failover in progress"}},` +
	`{"type":"actions","block_id":"inc","elements":[{"type":"button","action_id":"ack","value":"INC-1","text":{"type":"plain_text","text":"Acknowledge"}}]}]`

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"empty is valid (webhook-only)", Config{}, true},
		{"full", Config{Token: "xoxb-1-2", APIURL: "http://127.0.0.1:9/api", SigningSecret: "s", Timeout: time.Second}, true},
		{"token with newline", Config{Token: "xoxb\n"}, false},
		{"relative API URL", Config{APIURL: "api/"}, false},
		{"negative timeout", Config{Timeout: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("%v does not wrap ErrInvalidConfig", err)
			}
		})
	}
}

func TestBuildPayload(t *testing.T) {
	p, err := BuildPayload(&channel.Message{Text: "INC-1: Login outage", Blocks: []byte(blocksJSON)})
	if err != nil {
		t.Fatal(err)
	}
	if p.Text != "INC-1: Login outage" || len(p.Blocks.BlockSet) != 3 {
		t.Fatalf("payload = %+v", p)
	}
	if p.Blocks.BlockSet[0].BlockType() != slackgo.MBTHeader || p.Blocks.BlockSet[2].BlockType() != slackgo.MBTAction {
		t.Fatalf("block types = %v, %v", p.Blocks.BlockSet[0].BlockType(), p.Blocks.BlockSet[2].BlockType())
	}
	// The webhook body carries the same blocks back out as JSON.
	raw, err := json.Marshal(p.WebhookMessage())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"action_id":"ack"`) || !strings.Contains(string(raw), `"text":"INC-1: Login outage"`) {
		t.Fatalf("webhook JSON = %s", raw)
	}
	if p, err := BuildPayload(&channel.Message{Text: "only text"}); err != nil || len(p.Blocks.BlockSet) != 0 || p.WebhookMessage().Blocks != nil {
		t.Fatalf("text only: %+v %v", p, err)
	}

	refusals := []struct {
		name string
		msg  channel.Message
		code string
	}{
		{"nothing to say", channel.Message{Text: "  "}, "no_text"},
		{"blocks not JSON", channel.Message{Text: "x", Blocks: []byte(`[{`)}, "invalid_blocks"},
		{"blocks not an array", channel.Message{Text: "x", Blocks: []byte(`{"type":"section"}`)}, "invalid_blocks"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			_, err := BuildPayload(&tt.msg)
			var se *channel.SendError
			if !errors.As(err, &se) || !se.Permanent || se.Code != tt.code {
				t.Fatalf("BuildPayload = %v, want permanent %s", err, tt.code)
			}
		})
	}
}

// captured is one chat.postMessage the fake Slack saw.
type captured struct {
	auth   string
	values url.Values
}

// fakeSlack is a slacktest server whose chat.postMessage answers by channel:
// C_OK succeeds, C_GONE is channel_not_found, C_ARCHIVED is_archived, C_RATE
// a 429 with Retry-After, C_BUSY a 503, C_SLOW waits for the client to give up.
func fakeSlack(t *testing.T, seen chan<- captured) *slacktest.Server {
	t.Helper()
	s := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			vals, _ := url.ParseQuery(string(body))
			select {
			case seen <- captured{auth: r.Header.Get("Authorization"), values: vals}:
			default:
			}
			w.Header().Set("Content-Type", "application/json")
			switch vals.Get("channel") {
			case "C_OK":
				fmt.Fprintf(w, `{"ok":true,"channel":"C_OK","ts":"1700000000.000100"}`)
			case "C_GONE":
				fmt.Fprint(w, `{"ok":false,"error":"channel_not_found"}`)
			case "C_ARCHIVED":
				fmt.Fprint(w, `{"ok":false,"error":"is_archived"}`)
			case "C_INTERNAL":
				fmt.Fprint(w, `{"ok":false,"error":"internal_error"}`)
			case "C_RATE":
				w.Header().Set("Retry-After", "4")
				w.WriteHeader(http.StatusTooManyRequests)
			case "C_BUSY":
				w.WriteHeader(http.StatusServiceUnavailable)
			case "C_SLOW":
				<-r.Context().Done()
			default:
				t.Errorf("unexpected channel %q", vals.Get("channel"))
			}
		})
	})
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

func TestSendPostMessage(t *testing.T) {
	seen := make(chan captured, 1)
	s := fakeSlack(t, seen)
	ch, err := New(Config{Token: "xoxb-test-token", APIURL: s.GetAPIURL()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		to        string
		ctxWait   time.Duration
		permanent bool
		code      string
		retry     time.Duration
		plain     error
	}{
		{name: "ok", to: "C_OK"},
		{name: "channel_not_found is permanent", to: "C_GONE", permanent: true, code: "channel_not_found"},
		{name: "is_archived is permanent", to: "C_ARCHIVED", permanent: true, code: "is_archived"},
		{name: "internal_error is transient", to: "C_INTERNAL", code: "internal_error"},
		{name: "429 is transient with RetryAfter", to: "C_RATE", code: "ratelimited", retry: 4 * time.Second},
		{name: "503 is transient", to: "C_BUSY", code: "HTTP 503"},
		{name: "slow vs ctx deadline", to: "C_SLOW", ctxWait: 100 * time.Millisecond, plain: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.ctxWait > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxWait)
				defer cancel()
			}
			rc, err := ch.Send(ctx, &channel.Message{Kind: channel.Slack, To: tt.to, Text: "INC-1: Login outage", Blocks: []byte(blocksJSON)})
			got := <-seen
			if got.auth != "Bearer xoxb-test-token" && got.values.Get("token") != "xoxb-test-token" {
				t.Errorf("token not sent: auth=%q", got.auth)
			}
			switch {
			case tt.code == "" && tt.plain == nil:
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				if rc.ProviderID != "1700000000.000100" || rc.Status != "sent" {
					t.Fatalf("receipt = %+v", rc)
				}
				if got.values.Get("text") != "INC-1: Login outage" {
					t.Errorf("text = %q", got.values.Get("text"))
				}
				var blocks []map[string]any
				if err := json.Unmarshal([]byte(got.values.Get("blocks")), &blocks); err != nil || len(blocks) != 3 || blocks[0]["type"] != "header" {
					t.Errorf("blocks = %s (%v)", got.values.Get("blocks"), err)
				}
			case tt.plain != nil:
				var se *channel.SendError
				if errors.As(err, &se) || !errors.Is(err, tt.plain) {
					t.Fatalf("err = %v, want plain error wrapping %v", err, tt.plain)
				}
			default:
				var se *channel.SendError
				if !errors.As(err, &se) {
					t.Fatalf("err = %T %v, want *channel.SendError", err, err)
				}
				if se.Permanent != tt.permanent || se.Code != tt.code || se.RetryAfter != tt.retry {
					t.Fatalf("SendError = %+v, want permanent=%v code=%s retry=%s", se, tt.permanent, tt.code, tt.retry)
				}
			}
		})
	}
}

// TestSendSlacktestDefault uses slacktest's own chat.postMessage handler.
func TestSendSlacktestDefault(t *testing.T) {
	s := slacktest.NewTestServer()
	s.Start()
	defer s.Stop()
	ch, err := New(Config{Token: "xoxb-x", APIURL: strings.TrimSuffix(s.GetAPIURL(), "/")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := ch.Send(context.Background(), &channel.Message{To: "C024BE91L", Text: "hello agents"})
	if err != nil || rc.ProviderID == "" {
		t.Fatalf("Send = %+v, %v", rc, err)
	}
}

func TestSendIncomingWebhook(t *testing.T) {
	type hit struct{ body []byte }
	hits := make(chan hit, 1)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case hits <- hit{b}:
		default:
		}
		switch r.URL.Path {
		case "/services/ok":
			fmt.Fprint(w, "ok")
		case "/services/gone":
			w.WriteHeader(404)
			fmt.Fprint(w, "channel_not_found")
		case "/services/revoked":
			w.WriteHeader(403)
			fmt.Fprint(w, "invalid_token")
		case "/services/archived":
			w.WriteHeader(410)
			fmt.Fprint(w, "channel_is_archived")
		case "/services/rate":
			w.Header().Set("Retry-After", "5")
			w.WriteHeader(429)
		case "/services/broken":
			w.WriteHeader(500)
			fmt.Fprint(w, "<html>oops</html>")
		}
	}))
	defer srv.Close()
	ch, err := New(Config{AllowPrivate: true}, srv.Client()) // no token: webhooks only; the test server is on loopback
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		path      string
		wantErr   bool
		permanent bool
		code      string
		retry     time.Duration
	}{
		{name: "ok", path: "/services/ok"},
		{name: "404 channel_not_found", path: "/services/gone", wantErr: true, permanent: true, code: "channel_not_found"},
		{name: "403 invalid_token", path: "/services/revoked", wantErr: true, permanent: true, code: "invalid_token"},
		{name: "410 channel_is_archived", path: "/services/archived", wantErr: true, permanent: true, code: "channel_is_archived"},
		{name: "429 is transient", path: "/services/rate", wantErr: true, code: "ratelimited", retry: 5 * time.Second},
		{name: "500 is transient", path: "/services/broken", wantErr: true, code: "HTTP 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ch.Send(context.Background(), &channel.Message{To: srv.URL + tt.path, Text: "fallback", Blocks: []byte(blocksJSON)})
			h := <-hits
			var body map[string]any
			if err := json.Unmarshal(h.body, &body); err != nil || body["text"] != "fallback" || len(body["blocks"].([]any)) != 3 {
				t.Fatalf("webhook body = %s (%v)", h.body, err)
			}
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				return
			}
			var se *channel.SendError
			if !errors.As(err, &se) {
				t.Fatalf("err = %T %v, want *channel.SendError", err, err)
			}
			if se.Permanent != tt.permanent || se.Code != tt.code || se.RetryAfter != tt.retry {
				t.Fatalf("SendError = %+v, want permanent=%v code=%s retry=%s", se, tt.permanent, tt.code, tt.retry)
			}
		})
	}

	t.Run("plain http webhook refused", func(t *testing.T) {
		_, err := ch.Send(context.Background(), &channel.Message{To: "http://hooks.slack.com/services/x", Text: "x"})
		if !channel.IsPermanent(err) {
			t.Fatalf("Send = %v, want permanent", err)
		}
	})
	t.Run("channel ID without token refused", func(t *testing.T) {
		_, err := ch.Send(context.Background(), &channel.Message{To: "C123", Text: "x"})
		var se *channel.SendError
		if !errors.As(err, &se) || !se.Permanent || se.Code != "not_authed" {
			t.Fatalf("Send = %v, want permanent not_authed", err)
		}
	})
}

// TestIncomingWebhookSSRF: an incoming-webhook URL comes from whoever
// subscribes, so unless AllowPrivate a post never reaches an internal
// address (checked at dial time: a public name may resolve to one), and a
// redirect is never followed.
func TestIncomingWebhookSSRF(t *testing.T) {
	hits := make(chan string, 4)
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits <- r.URL.Path
		if r.URL.Path == "/services/moved" {
			http.Redirect(w, r, srv.URL+"/services/ok", http.StatusTemporaryRedirect)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	msg := func(path string) *channel.Message {
		return &channel.Message{To: srv.URL + path, Text: "fallback"}
	}

	t.Run("loopback refused at dial time", func(t *testing.T) {
		ch, err := New(Config{}, srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		_, err = ch.Send(context.Background(), msg("/services/T1/B1/s3cr3t"))
		var se *channel.SendError
		if !errors.As(err, &se) || !se.Permanent || se.Code != "forbidden_address" {
			t.Fatalf("Send = %v, want permanent forbidden_address", err)
		}
		// The URL is the webhook's credential; the reason is shown to
		// agents and logged.
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("the refusal quotes the incoming webhook's URL: %v", err)
		}
		select {
		case p := <-hits:
			t.Fatalf("the loopback server got %s", p)
		default:
		}
	})
	t.Run("an exempt address only", func(t *testing.T) {
		other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits <- "other " + r.URL.Path }))
		defer other.Close()
		ch, err := New(Config{Exempt: []netip.AddrPort{netip.MustParseAddrPort(srv.Listener.Addr().String())}}, srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ch.Send(context.Background(), msg("/services/ok")); err != nil {
			t.Fatalf("Send to the exempt listener: %v", err)
		}
		if p := <-hits; p != "/services/ok" {
			t.Fatalf("hit %s", p)
		}
		_, err = ch.Send(context.Background(), &channel.Message{To: other.URL + "/services/ok", Text: "fallback"})
		var se *channel.SendError
		if !errors.As(err, &se) || !se.Permanent || se.Code != "forbidden_address" {
			t.Fatalf("Send to another port = %v, want permanent forbidden_address", err)
		}
		select {
		case p := <-hits:
			t.Fatalf("a server got %s", p)
		default:
		}
	})
	t.Run("redirect not followed", func(t *testing.T) {
		ch, err := New(Config{AllowPrivate: true}, srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		_, err = ch.Send(context.Background(), msg("/services/moved"))
		if !channel.IsPermanent(err) {
			t.Fatalf("Send = %v, want a permanent failure", err)
		}
		if p := <-hits; p != "/services/moved" {
			t.Fatalf("first hit %s", p)
		}
		select {
		case p := <-hits:
			t.Fatalf("the redirect was followed to %s", p)
		default:
		}
	})
}

func slackSign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%d:%s", ts, body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

func TestVerifyRequest(t *testing.T) {
	const secret = "8f742231b10e8888abcd99yyyzzz85a5"
	body := []byte("token=x&team_id=T1&command=%2Fincident&text=declare")
	now := time.Now()
	hdr := func(sig string, ts int64) http.Header {
		h := http.Header{}
		if sig != "" {
			h.Set(HeaderSignature, sig)
		}
		if ts != 0 {
			h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
		}
		return h
	}
	tests := []struct {
		name   string
		h      http.Header
		body   []byte
		secret string
		now    time.Time
		want   error
	}{
		{"valid", hdr(slackSign(secret, now.Unix(), body), now.Unix()), body, secret, now, nil},
		{"tampered body", hdr(slackSign(secret, now.Unix(), body), now.Unix()), append([]byte("x"), body...), secret, now, slackgo.ErrInvalidSignature},
		{"wrong secret", hdr(slackSign("other", now.Unix(), body), now.Unix()), body, secret, now, slackgo.ErrInvalidSignature},
		{"ten minutes old", hdr(slackSign(secret, now.Add(-10*time.Minute).Unix(), body), now.Add(-10*time.Minute).Unix()), body, secret, now, slackgo.ErrExpiredTimestamp},
		{"herald clock far ahead", hdr(slackSign(secret, now.Unix(), body), now.Unix()), body, secret, now.Add(6 * time.Minute), slackgo.ErrExpiredTimestamp},
		{"missing headers", hdr("", 0), body, secret, now, slackgo.ErrMissingHeaders},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyRequest(tt.h, tt.body, tt.secret, tt.now)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("VerifyRequest = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseSlashCommand(t *testing.T) {
	body := []byte(url.Values{
		"command": {"/incident"}, "text": {"declare Login down"}, "user_id": {"U1"}, "channel_id": {"C1"},
		"team_id": {"T1"}, "response_url": {"https://hooks.slack.com/commands/T1/1/x"}, "trigger_id": {"t.1"},
	}.Encode())
	sc, err := ParseSlashCommand(body)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Command != "/incident" || sc.Text != "declare Login down" || sc.UserID != "U1" || sc.ChannelID != "C1" || sc.ResponseURL == "" {
		t.Fatalf("slash command = %+v", sc)
	}
	for name, b := range map[string]string{"no command": "text=hi", "not a form": "%zz"} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseSlashCommand([]byte(b)); !errors.Is(err, ErrInvalidBody) {
				t.Fatalf("err = %v, want ErrInvalidBody", err)
			}
		})
	}
}

func TestParseInteraction(t *testing.T) {
	payload := `{"type":"block_actions","user":{"id":"U1"},"channel":{"id":"C1"},"response_url":"https://hooks.slack.com/actions/x",` +
		`"message":{"ts":"1700000000.000100"},"actions":[{"action_id":"ack","block_id":"inc","value":"INC-1","type":"button"}]}`
	cb, err := ParseInteraction([]byte(url.Values{"payload": {payload}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	if cb.Type != slackgo.InteractionTypeBlockActions || cb.User.ID != "U1" || cb.Channel.ID != "C1" ||
		len(cb.ActionCallback.BlockActions) != 1 || cb.ActionCallback.BlockActions[0].Value != "INC-1" ||
		cb.ActionCallback.BlockActions[0].ActionID != "ack" {
		t.Fatalf("interaction = %+v", cb)
	}
	for name, b := range map[string]string{"empty payload": "payload=", "bad JSON": "payload=%7B"} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseInteraction([]byte(b)); !errors.Is(err, ErrInvalidBody) {
				t.Fatalf("err = %v, want ErrInvalidBody", err)
			}
		})
	}
}

func TestIsWebhookURL(t *testing.T) {
	tests := []struct {
		to   string
		want bool
	}{
		{"https://hooks.slack.com/services/T1/B1/x", true},
		{"http://127.0.0.1:8080/services/x", true},
		{"http://localhost/services/x", true},
		{"http://[::1]:80/services/x", true},
		{"http://hooks.slack.com/services/x", false},
		{"http://10.0.0.1/services/x", false},
		{"C024BE91L", false},
		{"#incidents", false},
		{"ftp://hooks.slack.com/x", false},
	}
	for _, tt := range tests {
		t.Run(tt.to, func(t *testing.T) {
			if got := IsWebhookURL(tt.to); got != tt.want {
				t.Fatalf("IsWebhookURL(%q) = %v, want %v", tt.to, got, tt.want)
			}
		})
	}
}

// Channel implements notify.Channel: the pipeline sends through it.
var _ notify.Channel = (*Channel)(nil)
