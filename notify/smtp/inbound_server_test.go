package smtp

import (
	"context"
	"errors"
	"log/slog"
	netsmtp "net/smtp"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is an InboundHandler that keeps what it is given and answers
// with err.
type recorder struct {
	mu      sync.Mutex
	got     []InboundEmail
	err     error
	results []string
}

func (r *recorder) handle(_ context.Context, in InboundEmail, _ int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	if in.Automatic("status@herald.example") != "" {
		return ErrIgnored
	}
	r.got = append(r.got, in)
	return nil
}

func (r *recorder) observe(result string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results = append(r.results, result)
}

func startInbound(t *testing.T, cfg InboundConfig, r *recorder) *InboundServer {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	cfg.Observe = r.observe
	cfg.Log = slog.New(slog.DiscardHandler)
	s, err := NewInboundServer(cfg, r.handle)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s
}

// sendMail sends msg with net/smtp and returns the server's answer code to
// the last step (0 for success).
func sendMail(t *testing.T, addr, from string, to []string, msg string) int {
	t.Helper()
	err := netsmtp.SendMail(addr, nil, from, to, []byte(strings.ReplaceAll(msg, "\n", "\r\n")))
	if err == nil {
		return 0
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	t.Fatalf("send: %v", err)
	return -1
}

const customerMail = `From: Kiss Anna <anna@example.org>
To: support@herald.example
Subject: No card payments
Message-ID: <m1@example.org>
In-Reply-To: <d0c0ffee@herald.example>
Content-Type: text/plain; charset=utf-8

Card payments fail since 9:00.

On Mon, 1 Dec 2026 at 09:12, Herald Status <status@herald.example> wrote:
> We are investigating.
`

func TestInboundServer(t *testing.T) {
	tests := []struct {
		name       string
		cfg        InboundConfig
		handlerErr error
		from       string
		to         []string
		msg        string
		wantCode   int
		wantFiled  bool
		wantResult string
	}{
		{name: "a customer's mail is filed", from: "anna@example.org", to: []string{"support@herald.example"}, msg: customerMail, wantFiled: true, wantResult: InboundOK},
		{name: "an auto-reply is accepted and ignored", from: "anna@example.org", to: []string{"support@herald.example"},
			msg: "From: anna@example.org\nAuto-Submitted: auto-replied\nSubject: Out of office\nMessage-ID: <ooo@example.org>\n\nI am away.\n", wantResult: InboundIgnored},
		{name: "a bounce (null sender) is ignored", from: "", to: []string{"support@herald.example"},
			msg: "From: MAILER-DAEMON@example.org\nSubject: Undelivered\n\nsorry\n", wantResult: InboundIgnored},
		{name: "a store failure answers 451", handlerErr: errors.New("disk full"), from: "anna@example.org", to: []string{"support@herald.example"}, msg: customerMail,
			wantCode: 451, wantResult: InboundDeferred},
		{name: "mail that can never be filed answers 554", handlerErr: ErrRejected, from: "anna@example.org", to: []string{"support@herald.example"}, msg: customerMail,
			wantCode: 554, wantResult: InboundInvalid},
		{name: "an oversize message answers 552", cfg: InboundConfig{MaxMessageBytes: 1024}, from: "anna@example.org", to: []string{"support@herald.example"},
			msg: customerMail + strings.Repeat(strings.Repeat("x", 70)+"\n", 30), wantCode: 552, wantResult: InboundRefused},
		{name: "a recipient outside the domains answers 550", cfg: InboundConfig{Domains: []string{"herald.example"}}, from: "anna@example.org", to: []string{"someone@elsewhere.example"},
			msg: customerMail, wantCode: 550, wantResult: InboundRefused},
		{name: "a recipient in the domains is taken", cfg: InboundConfig{Domains: []string{"HERALD.example"}}, from: "anna@example.org", to: []string{"support@herald.example"},
			msg: customerMail, wantFiled: true, wantResult: InboundOK},
		{name: "an unreadable message answers 554", from: "anna@example.org", to: []string{"support@herald.example"},
			msg: "From: not an address <<<\nSubject: x\n\nbody\n", wantCode: 554, wantResult: InboundInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &recorder{err: tt.handlerErr}
			s := startInbound(t, tt.cfg, r)
			if code := sendMail(t, s.Addr(), tt.from, tt.to, tt.msg); code != tt.wantCode {
				t.Fatalf("answer %d, want %d", code, tt.wantCode)
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			if filed := len(r.got) == 1; filed != tt.wantFiled {
				t.Fatalf("filed %d messages", len(r.got))
			}
			if len(r.results) != 1 || r.results[0] != tt.wantResult {
				t.Errorf("results %v, want [%s]", r.results, tt.wantResult)
			}
			if !tt.wantFiled {
				return
			}
			in := r.got[0]
			if in.From != "anna@example.org" || in.FromName != "Kiss Anna" || in.MessageID != "m1@example.org" || in.InReplyTo != "d0c0ffee@herald.example" {
				t.Errorf("parsed %+v", in)
			}
			if in.Envelope == nil || in.Envelope.From != "anna@example.org" || len(in.Envelope.To) != 1 {
				t.Errorf("envelope %+v", in.Envelope)
			}
			if got := in.CustomerText(); got != "Card payments fail since 9:00." {
				t.Errorf("customer text %q", got)
			}
		})
	}
}

func TestInboundServerNoAuth(t *testing.T) {
	s := startInbound(t, InboundConfig{}, &recorder{})
	c, err := netsmtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("the inbound server offers AUTH; it relays nothing and needs none")
	}
	if ok, size := c.Extension("SIZE"); !ok || size != "1048576" {
		t.Errorf("SIZE = %v %q, want the 1 MiB default announced", ok, size)
	}
}
