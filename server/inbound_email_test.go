package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/heraldhq/herald/notify/smtp"
)

// emailSink is an inbound email handler that records what it files.
type emailSink struct {
	mu  sync.Mutex
	got []smtp.InboundEmail
	err error
}

func (s *emailSink) handle(_ context.Context, in smtp.InboundEmail, _ int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if in.Automatic("status@example.com") != "" {
		return smtp.ErrIgnored
	}
	s.got = append(s.got, in)
	return nil
}

func (s *emailSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// sendGridForm builds a SendGrid Inbound Parse post: fields, plus a file
// field "attachment1" when file is not empty.
func sendGridForm(t *testing.T, fields map[string]string, file string) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if file != "" {
		fw, err := w.CreateFormFile("attachment1", "shot.png")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(fw, file)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), b.Bytes()
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestInboundEmailWebhook(t *testing.T) {
	e := newEnv(t)
	sink := &emailSink{}
	if err := e.srv.EnableInboundEmail(InboundEmailConfig{Secret: "sendgrid:s3cret", Handle: sink.handle}); err != nil {
		t.Fatal(err)
	}
	post := func(t *testing.T, authz, contentType string, body []byte) response {
		t.Helper()
		req, err := http.NewRequest("POST", "http://status.example.com/webhooks/email/inbound", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", contentType)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := e.srv.App().Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return response{status: resp.StatusCode, header: resp.Header, body: b}
	}
	good := basic("sendgrid", "s3cret")
	raw := "From: Kiss Anna <anna@example.org>\r\nTo: support@example.com\r\nSubject: Card payments\r\nMessage-ID: <m1@example.org>\r\n" +
		"In-Reply-To: <abc@example.com>\r\n\r\nCards fail.\r\n\r\nOn Mon, Herald wrote:\r\n> old\r\n"

	t.Run("raw mode", func(t *testing.T) {
		ct, body := sendGridForm(t, map[string]string{"email": raw, "envelope": `{"from":"anna@example.org","to":["support@example.com"]}`,
			"to": "support@example.com", "from": "Kiss Anna <anna@example.org>", "subject": "Card payments"}, "")
		n := sink.count()
		if r := post(t, good, ct, body); r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		sink.mu.Lock()
		defer sink.mu.Unlock()
		if len(sink.got) != n+1 {
			t.Fatal("not filed")
		}
		in := sink.got[n]
		if in.From != "anna@example.org" || in.MessageID != "m1@example.org" || in.InReplyTo != "abc@example.com" || in.CustomerText() != "Cards fail." {
			t.Errorf("filed %+v", in)
		}
	})
	t.Run("parsed mode", func(t *testing.T) {
		ct, body := sendGridForm(t, map[string]string{"from": "Kiss Anna <anna@example.org>", "to": "support@example.com", "subject": "Card payments",
			"text": "Cards fail.", "html": "<p>Cards fail.</p>", "headers": "Message-ID: <m2@example.org>\nReferences: <abc@example.com>\n",
			"charsets": `{"to":"UTF-8","subject":"UTF-8","text":"UTF-8","html":"UTF-8","from":"UTF-8"}`, "envelope": `{"from":"anna@example.org","to":["support@example.com"]}`,
			"attachments": "1", "attachment-info": `{"attachment1":{"filename":"shot.png","type":"image/png"}}`}, "PNGDATA")
		n := sink.count()
		if r := post(t, good, ct, body); r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		sink.mu.Lock()
		defer sink.mu.Unlock()
		if len(sink.got) != n+1 {
			t.Fatal("not filed")
		}
		in := sink.got[n]
		if in.MessageID != "m2@example.org" || len(in.References) != 1 || in.CustomerText() != "Cards fail.\n\n[attachments not kept: shot.png (image/png, 7 B)]" {
			t.Errorf("filed %+v: %q", in, in.CustomerText())
		}
	})
	t.Run("password-only secret accepts any user", func(t *testing.T) {
		e2 := newEnv(t)
		s2 := &emailSink{}
		if err := e2.srv.EnableInboundEmail(InboundEmailConfig{Secret: "s3cret", Handle: s2.handle}); err != nil {
			t.Fatal(err)
		}
		ct, body := sendGridForm(t, map[string]string{"email": raw}, "")
		req, _ := http.NewRequest("POST", "http://status.example.com/webhooks/email/inbound", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", basic("anyone", "s3cret"))
		resp, err := e2.srv.App().Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || s2.count() != 1 {
			t.Fatalf("status %d, filed %d", resp.StatusCode, s2.count())
		}
	})
	t.Run("an auto-reply is answered 200 and not filed", func(t *testing.T) {
		ct, body := sendGridForm(t, map[string]string{"from": "anna@example.org", "text": "I am away", "headers": "Auto-Submitted: auto-replied\nMessage-ID: <ooo@example.org>\n"}, "")
		n := sink.count()
		if r := post(t, good, ct, body); r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		if sink.count() != n {
			t.Error("an auto-reply was filed")
		}
	})

	ct, body := sendGridForm(t, map[string]string{"email": raw}, "")
	for _, tt := range []struct {
		name  string
		authz string
		want  int
	}{
		{"no credentials", "", 401},
		{"a bearer token", "Bearer s3cret", 401},
		{"wrong password", basic("sendgrid", "guess"), 403},
		{"wrong user", basic("other", "s3cret"), 403},
		{"not base64", "Basic !!!", 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := sink.count()
			r := post(t, tt.authz, ct, body)
			if r.status != tt.want {
				t.Fatalf("status %d, want %d: %s", r.status, tt.want, r.body)
			}
			if tt.want == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic ") {
				t.Error("401 without a Basic challenge")
			}
			if sink.count() != n {
				t.Error("a refused post was filed")
			}
		})
	}

	for _, tt := range []struct {
		name   string
		ct     string
		fields map[string]string
		field  string
	}{
		{"not multipart", "application/x-www-form-urlencoded", nil, "content-type"},
		{"no from", "", map[string]string{"text": "hello"}, "from"},
		{"bad envelope", "", map[string]string{"from": "a@example.org", "envelope": "not json"}, "envelope"},
		{"bad charsets", "", map[string]string{"from": "a@example.org", "charsets": "not json"}, "charsets"},
		{"bad raw email", "", map[string]string{"email": "From: <<<\r\n\r\nx"}, "email"},
		{"bad headers", "", map[string]string{"from": "a@example.org", "headers": "no colon\n"}, "headers"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ct, body := sendGridForm(t, tt.fields, "")
			if tt.ct != "" {
				ct = tt.ct
			}
			n := sink.count()
			r := post(t, good, ct, body)
			if r.status != 400 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if got := r.errorOf(t).Field; got != tt.field {
				t.Errorf("field %q, want %q", got, tt.field)
			}
			if sink.count() != n {
				t.Error("a bad post was filed")
			}
		})
	}

	t.Run("a store failure answers 500 so the provider retries", func(t *testing.T) {
		sink.mu.Lock()
		sink.err = errors.New("disk full")
		sink.mu.Unlock()
		defer func() { sink.mu.Lock(); sink.err = nil; sink.mu.Unlock() }()
		r := post(t, good, ct, body)
		if r.status != 500 {
			t.Fatalf("status %d", r.status)
		}
		if strings.Contains(string(r.body), "disk full") {
			t.Error("the internal error reached the provider")
		}
	})
	t.Run("metrics", func(t *testing.T) {
		m := e.mustDo(t, 200, "GET", "/metrics", "", "").body
		for _, want := range []string{
			`herald_inbound_webhooks_total{kind="email",result="ok"} 2`,
			`herald_inbound_webhooks_total{kind="email",result="ignored"} 1`,
			`herald_inbound_webhooks_total{kind="email",result="forged"} 5`,
			`herald_inbound_webhooks_total{kind="email",result="invalid"} 6`,
			`herald_inbound_webhooks_total{kind="email",result="error"} 1`,
		} {
			if !bytes.Contains(m, []byte(want)) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
}
